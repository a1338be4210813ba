-- The demo's story, told through the API roles the way PostgREST calls the database:
-- each step sets the role and request.jwt.claims for one transaction.
\pset border 1
SELECT now() AS story_start \gset
SELECT (date_trunc('week', now() AT TIME ZONE 'America/New_York')::date + 8) AS tuesday \gset

-- Runs a statement and tells how the database answered, instead of stopping the story.
CREATE FUNCTION pg_temp.attempt(p_sql text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE v_constraint text;
BEGIN
  EXECUTE p_sql;
  RETURN 'accepted';
EXCEPTION WHEN OTHERS THEN
  GET STACKED DIAGNOSTICS v_constraint = CONSTRAINT_NAME;
  RETURN format('refused, SQLSTATE %s%s: %s', SQLSTATE,
                coalesce(' (' || nullif(v_constraint, '') || ')', ''), SQLERRM);
END $$;

\echo
\echo '1. An anonymous visitor looks up Oolite Digital Lab''s opening hours (New York wall-clock time).'
BEGIN;
SELECT set_config('role', 'anon', true), set_config('request.jwt.claims', '{"role":"anon"}', true) \gset
SELECT to_char(date '2024-01-07' + r.day_of_week, 'Day') AS day,
       string_agg(to_char(r.start_time, 'HH24:MI') || '-' || to_char(r.end_time, 'HH24:MI'), ', ' ORDER BY r.start_time) AS open
FROM booking.availability_rules r JOIN booking.organizations o ON o.id = r.organization_id
WHERE o.slug = 'oolite' AND r.resource_id IS NULL
GROUP BY r.day_of_week ORDER BY r.day_of_week;
SELECT title, kind, capacity FROM booking.resources ORDER BY title;
COMMIT;

\echo
\echo '2. Ana (client u-client) books the 3D Printer next Tuesday, 10:00-12:00 New York time.'
BEGIN;
SELECT set_config('role', 'authenticated', true), set_config('request.jwt.claims', '{"sub":"u-client","role":"authenticated"}', true) \gset
INSERT INTO booking.bookings (organization_id, resource_id, title, starts_at, ends_at)
SELECT o.id, r.id, 'Prototype enclosure',
       (:'tuesday'::date + time '10:00') AT TIME ZONE 'America/New_York',
       (:'tuesday'::date + time '12:00') AT TIME ZONE 'America/New_York'
FROM booking.organizations o JOIN booking.resources r ON r.organization_id = o.id
WHERE o.slug = 'oolite' AND r.title = '3D Printer'
RETURNING title, booked_by, status,
          to_char(starts_at AT TIME ZONE 'America/New_York', 'Dy DD Mon HH24:MI') AS starts_new_york,
          to_char(ends_at AT TIME ZONE 'America/New_York', 'HH24:MI') AS ends;
COMMIT;

\echo
\echo '3. Ben (client u-client2) asks for the same printer 11:00-13:00. The database refuses the overlap:'
BEGIN;
SELECT set_config('role', 'authenticated', true), set_config('request.jwt.claims', '{"sub":"u-client2","role":"authenticated"}', true) \gset
SELECT pg_temp.attempt(format(
  $q$INSERT INTO booking.bookings (organization_id, resource_id, starts_at, ends_at)
     SELECT organization_id, id, %L, %L FROM booking.resources WHERE title = '3D Printer'$q$,
  (:'tuesday'::date + time '11:00') AT TIME ZONE 'America/New_York',
  (:'tuesday'::date + time '13:00') AT TIME ZONE 'America/New_York')) AS "Ben's request";
\echo '   The Digital Lab holds 12 people: Ben books 10 seats for a class, then 3 more do not fit.'
SELECT pg_temp.attempt(format(
  $q$INSERT INTO booking.bookings (organization_id, resource_id, title, starts_at, ends_at, seats)
     SELECT organization_id, id, 'Arduino class', %L, %L, 10 FROM booking.resources WHERE title = 'Digital Lab'$q$,
  (:'tuesday'::date + time '14:00') AT TIME ZONE 'America/New_York',
  (:'tuesday'::date + time '16:00') AT TIME ZONE 'America/New_York')) AS "10 seats";
SELECT pg_temp.attempt(format(
  $q$INSERT INTO booking.bookings (organization_id, resource_id, starts_at, ends_at, seats)
     SELECT organization_id, id, %L, %L, 3 FROM booking.resources WHERE title = 'Digital Lab'$q$,
  (:'tuesday'::date + time '15:00') AT TIME ZONE 'America/New_York',
  (:'tuesday'::date + time '17:00') AT TIME ZONE 'America/New_York')) AS "3 more seats";
COMMIT;

\echo
\echo '4. Ana tries to approve her own booking; then the lab''s staff (u-staff) approve it, with a reason.'
BEGIN;
SELECT set_config('role', 'authenticated', true), set_config('request.jwt.claims', '{"sub":"u-client","role":"authenticated"}', true) \gset
SELECT pg_temp.attempt($q$UPDATE booking.bookings SET status = 'approved' WHERE title = 'Prototype enclosure'$q$) AS "Ana approves herself";
COMMIT;
BEGIN;
SELECT set_config('role', 'authenticated', true), set_config('request.jwt.claims', '{"sub":"u-staff","role":"authenticated"}', true),
       set_config('booking.reason', 'material in stock', true) \gset
UPDATE booking.bookings SET status = 'approved' WHERE title = 'Prototype enclosure';
SELECT t.from_status, t.to_status, t.changed_by, t.reason
FROM booking.booking_transitions t JOIN booking.bookings b ON b.id = t.booking_id
WHERE b.title = 'Prototype enclosure' ORDER BY t.created_at;
COMMIT;

\echo
\echo '5. Dr. Reis (u-outsider), admin of Harbor Clinic, lists every booking she can see: only her clinic''s.'
BEGIN;
SELECT set_config('role', 'authenticated', true), set_config('request.jwt.claims', '{"sub":"u-outsider","role":"authenticated"}', true) \gset
SELECT o.name AS organization, count(b.id) AS bookings_visible
FROM booking.organizations o LEFT JOIN booking.bookings b ON b.organization_id = o.id
GROUP BY o.name ORDER BY o.name;
COMMIT;

\echo
\echo '6. The audit trail of this story, as the lab''s admin (u-admin) reads it:'
BEGIN;
SELECT set_config('role', 'authenticated', true), set_config('request.jwt.claims', '{"sub":"u-admin","role":"authenticated"}', true) \gset
SELECT to_char(a.created_at, 'HH24:MI:SS') AS at, a.actor_id AS actor, a.action, a.entity_type AS entity,
       coalesce(a.new_values ->> 'title', '') AS title,
       CASE a.action WHEN 'insert' THEN a.new_values ->> 'status'
                     ELSE concat_ws(' -> ', a.old_values ->> 'status', a.new_values ->> 'status') END AS status,
       coalesce(a.reason, '') AS reason
FROM booking.audit_log a
WHERE a.created_at >= :'story_start'
ORDER BY a.created_at, a.id;
COMMIT;

\echo
\echo '7. A class in the Digital Lab fills up. Staff open "Soldering basics" next Thursday 18:00-20:00 for 2 people:'
\echo '   the session books the room for its seats, so the room''s capacity rules hold for it too.'
BEGIN;
SELECT set_config('role', 'authenticated', true), set_config('request.jwt.claims', '{"sub":"u-staff","role":"authenticated"}', true) \gset
INSERT INTO booking.workshops (organization_id, title, default_resource_id, capacity, status)
SELECT o.id, 'Soldering basics', r.id, 2, 'published'
FROM booking.organizations o JOIN booking.resources r ON r.organization_id = o.id
WHERE o.slug = 'oolite' AND r.title = 'Digital Lab'
RETURNING id AS workshop \gset
SELECT s.id AS session
FROM booking.create_session(:'workshop', (:'tuesday'::date + 2 + time '18:00') AT TIME ZONE 'America/New_York',
                            (:'tuesday'::date + 2 + time '20:00') AT TIME ZONE 'America/New_York') s \gset
SELECT w.title, to_char(s.starts_at AT TIME ZONE 'America/New_York', 'Dy DD Mon HH24:MI') AS starts_new_york,
       s.capacity AS seats, r.title AS room, b.status AS room_booking
FROM booking.workshop_sessions s JOIN booking.workshops w ON w.id = s.workshop_id
JOIN booking.resources r ON r.id = s.resource_id JOIN booking.bookings b ON b.id = s.booking_id
WHERE s.id = :'session';
COMMIT;

\echo '   Ana, Ben, the member u-member and Dr. Reis register, in that order; the last two wait in line:'
BEGIN;
SELECT set_config('role', 'authenticated', true), set_config('request.jwt.claims', '{"sub":"u-client","role":"authenticated"}', true) \gset
SELECT id AS registration FROM booking.register_for_session(:'session') \gset
SELECT r.user_id AS who, r.status, booking.waitlist_position(r) AS place_in_line
FROM booking.workshop_registrations r WHERE r.id = :'registration';
COMMIT;
BEGIN;
SELECT set_config('role', 'authenticated', true), set_config('request.jwt.claims', '{"sub":"u-client2","role":"authenticated"}', true) \gset
SELECT id AS registration FROM booking.register_for_session(:'session') \gset
SELECT r.user_id AS who, r.status, booking.waitlist_position(r) AS place_in_line
FROM booking.workshop_registrations r WHERE r.id = :'registration';
COMMIT;
BEGIN;
SELECT set_config('role', 'authenticated', true), set_config('request.jwt.claims', '{"sub":"u-member","role":"authenticated"}', true) \gset
SELECT id AS registration FROM booking.register_for_session(:'session') \gset
SELECT r.user_id AS who, r.status, booking.waitlist_position(r) AS place_in_line
FROM booking.workshop_registrations r WHERE r.id = :'registration';
COMMIT;
BEGIN;
SELECT set_config('role', 'authenticated', true), set_config('request.jwt.claims', '{"sub":"u-outsider","role":"authenticated"}', true) \gset
SELECT id AS registration FROM booking.register_for_session(:'session') \gset
SELECT r.user_id AS who, r.status, booking.waitlist_position(r) AS place_in_line
FROM booking.workshop_registrations r WHERE r.id = :'registration';
COMMIT;

\echo '   Ben cancels. In the same transaction the first in line gets his seat and is told:'
BEGIN;
SELECT set_config('role', 'authenticated', true), set_config('request.jwt.claims', '{"sub":"u-client2","role":"authenticated"}', true) \gset
SELECT user_id AS who, status, cancellation_reason
FROM booking.cancel_registration((SELECT id FROM booking.workshop_registrations WHERE session_id = :'session'), 'working late');
COMMIT;
BEGIN;
SELECT set_config('role', 'authenticated', true), set_config('request.jwt.claims', '{"sub":"u-staff","role":"authenticated"}', true) \gset
SELECT r.user_id AS who, r.status, booking.waitlist_position(r) AS place_in_line
FROM booking.workshop_registrations r WHERE r.session_id = :'session' ORDER BY r.queue_number;
COMMIT;
BEGIN;
SELECT set_config('role', 'authenticated', true), set_config('request.jwt.claims', '{"sub":"u-member","role":"authenticated"}', true) \gset
SELECT notification_type, message FROM booking.notifications WHERE notification_type = 'registration_promoted';
COMMIT;

\echo
\echo '8. A weekly class for a semester: Tuesdays 17:00-18:00 New York time from 4 February 2031, 16 weeks,'
\echo '   across the change to summer time on 9 March. The lab closes for spring break on 18 March;'
\echo '   the preview shows that one occurrence refused, every other one at 17:00 local time:'
BEGIN;
SELECT set_config('role', 'authenticated', true), set_config('request.jwt.claims', '{"sub":"u-staff","role":"authenticated"}', true) \gset
INSERT INTO booking.availability_exceptions (organization_id, during, kind, reason)
SELECT id, tstzrange('2031-03-18 00:00 America/New_York', '2031-03-19 00:00 America/New_York'), 'closed', 'Spring break'
FROM booking.organizations WHERE slug = 'oolite';
COMMIT;
BEGIN;
SELECT set_config('role', 'authenticated', true), set_config('request.jwt.claims', '{"sub":"u-client","role":"authenticated"}', true) \gset
SELECT id AS lab FROM booking.resources WHERE title = 'Digital Lab' \gset
SELECT to_char(occurrence_start AT TIME ZONE 'America/New_York', 'Dy DD Mon HH24:MI') AS new_york,
       to_char(occurrence_start AT TIME ZONE 'UTC', 'HH24:MI') AS utc, coalesce(refusal, '') AS refusal
FROM booking.preview_series(:'lab', '2031-02-04 17:00 America/New_York', '2031-02-04 18:00 America/New_York',
                            'FREQ=WEEKLY;COUNT=16')
WHERE occurrence_start < '2031-03-26';
\echo '   Booking it all or nothing is refused (PT409, the refused date in DETAIL); skipping conflicts books the 15 others:'
DO $$
BEGIN
  PERFORM booking.book_series((SELECT id FROM booking.resources WHERE title = 'Digital Lab'),
                              '2031-02-04 17:00 America/New_York', '2031-02-04 18:00 America/New_York',
                              'FREQ=WEEKLY;COUNT=16', 'Printmaking class');
EXCEPTION WHEN SQLSTATE 'PT409' THEN
  RAISE NOTICE 'refused (PT409): %', SQLERRM;
END $$;
SELECT jsonb_array_length(r -> 'bookings') AS booked, r -> 'skipped' -> 0 ->> 'local_date' AS skipped_date,
       r -> 'skipped' -> 0 ->> 'reason' AS why
FROM booking.book_series(:'lab', '2031-02-04 17:00 America/New_York', '2031-02-04 18:00 America/New_York',
                         'FREQ=WEEKLY;COUNT=16', 'Printmaking class', p_skip_conflicts => true) AS r;
COMMIT;
