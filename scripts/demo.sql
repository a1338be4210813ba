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

\echo
\echo '9. The Digital Lab also hosts events. The admin (u-admin) makes its approved bookings become events;'
\echo '   Ana books it next Wednesday 10:00-12:00 for a robotics open day, the room approves it by itself,'
\echo '   and in the same transaction the booking has its event, scheduled at the booking''s time:'
BEGIN;
SELECT set_config('role', 'authenticated', true), set_config('request.jwt.claims', '{"sub":"u-admin","role":"authenticated"}', true) \gset
UPDATE booking.resources SET generates_events = true WHERE title = 'Digital Lab' RETURNING title, generates_events;
COMMIT;
BEGIN;
SELECT set_config('role', 'authenticated', true), set_config('request.jwt.claims', '{"sub":"u-client","role":"authenticated"}', true) \gset
INSERT INTO booking.bookings (organization_id, resource_id, title, starts_at, ends_at)
SELECT o.id, r.id, 'Robotics open day',
       (:'tuesday'::date + 1 + time '10:00') AT TIME ZONE 'America/New_York',
       (:'tuesday'::date + 1 + time '12:00') AT TIME ZONE 'America/New_York'
FROM booking.organizations o JOIN booking.resources r ON r.organization_id = o.id
WHERE o.slug = 'oolite' AND r.title = 'Digital Lab'
RETURNING id AS open_day \gset
SELECT b.title, b.status AS booking, b.event_generation_status, b.event_count, e.status AS event,
       to_char(e.starts_at AT TIME ZONE 'America/New_York', 'Dy DD Mon HH24:MI') AS event_starts_new_york
FROM booking.bookings b JOIN booking.event_instances e ON e.booking_id = b.id
WHERE b.id = :'open_day';
COMMIT;

\echo '   Staff (u-staff) plan it: the member u-member is assigned as host, and robotics kit RK-001 is'
\echo '   planned for the "Robot race" activity; the preparation starts.'
BEGIN;
SELECT set_config('role', 'authenticated', true), set_config('request.jwt.claims', '{"sub":"u-staff","role":"authenticated"}', true) \gset
SELECT id AS event, organization_id AS lab_org FROM booking.event_instances WHERE booking_id = :'open_day' \gset
SELECT id AS host FROM booking.assign_staff(:'event', 'u-member', 'host') \gset
INSERT INTO booking.kit_templates (organization_id, name, components)
VALUES (:'lab_org', 'Robotics kit', '["4 robots", "charger", "track mat"]') RETURNING id AS kit_template \gset
INSERT INTO booking.kit_instances (organization_id, template_id, serial_number)
VALUES (:'lab_org', :'kit_template', 'RK-001') RETURNING id AS kit \gset
INSERT INTO booking.activities (organization_id, event_instance_id, title, kit_template_id)
VALUES (:'lab_org', :'event', 'Robot race', :'kit_template') RETURNING id AS activity \gset
INSERT INTO booking.activity_kits (organization_id, activity_id, kit_template_id, kit_instance_id, status)
VALUES (:'lab_org', :'activity', :'kit_template', :'kit', 'assigned') RETURNING id AS activity_kit \gset
SELECT status AS event FROM booking.set_event_status(:'event', 'preparation', 'host and kit confirmed');
\echo '   The event''s state machine has no way from preparation to completed:'
SELECT pg_temp.attempt(format($q$SELECT booking.set_event_status(%L, 'completed')$q$, :'event')) AS "staff complete it at once";
COMMIT;

\echo '   The day itself, played now: u-member accepts, staff start the event, u-member checks in where'
\echo '   they are and checks the kit out.'
BEGIN;
SELECT set_config('role', 'authenticated', true), set_config('request.jwt.claims', '{"sub":"u-member","role":"authenticated"}', true) \gset
SELECT user_id AS who, role, status FROM booking.respond_to_assignment(:'host', true);
COMMIT;
BEGIN;
SELECT set_config('role', 'authenticated', true), set_config('request.jwt.claims', '{"sub":"u-staff","role":"authenticated"}', true) \gset
SELECT status AS event FROM booking.set_event_status(:'event', 'in_progress', 'doors open');
COMMIT;
BEGIN;
SELECT set_config('role', 'authenticated', true), set_config('request.jwt.claims', '{"sub":"u-member","role":"authenticated"}', true) \gset
SELECT user_id AS who, status, to_char(check_in_at, 'HH24:MI:SS') AS checked_in_at, location_at_check_in
FROM booking.staff_check_in(:'host', '{"lat": 25.8, "lng": -80.19}');
SELECT k.status AS kit, i.serial_number, k.checked_out_by, to_char(k.checked_out_at, 'HH24:MI:SS') AS checked_out_at
FROM booking.checkout_kit(:'activity_kit') k JOIN booking.kit_instances i ON i.id = k.kit_instance_id;
COMMIT;

\echo '   Afterwards u-member returns the kit and checks out. hours_worked is derived from the two instants'
\echo '   (moments apart in this demo, so 0.00); nobody types it in:'
BEGIN;
SELECT set_config('role', 'authenticated', true), set_config('request.jwt.claims', '{"sub":"u-member","role":"authenticated"}', true) \gset
SELECT k.status AS kit, i.serial_number, k.returned_by, to_char(k.returned_at, 'HH24:MI:SS') AS returned_at
FROM booking.return_kit(:'activity_kit') k JOIN booking.kit_instances i ON i.id = k.kit_instance_id;
SELECT user_id AS who, status, to_char(check_in_at, 'HH24:MI:SS') AS checked_in_at,
       to_char(check_out_at, 'HH24:MI:SS') AS checked_out_at, hours_worked, feedback
FROM booking.staff_check_out(:'host', NULL, 'Robots charged and packed');
SELECT pg_temp.attempt(format($q$UPDATE booking.staff_assignments SET hours_worked = 8 WHERE id = %L$q$, :'host')) AS "u-member writes 8 hours";
COMMIT;
BEGIN;
SELECT set_config('role', 'authenticated', true), set_config('request.jwt.claims', '{"sub":"u-staff","role":"authenticated"}', true) \gset
SELECT status AS event FROM booking.set_event_status(:'event', 'completed', 'all robots back');
COMMIT;

\echo '   The event''s log, as u-member (one of the event''s people) reads it: every change of state of the'
\echo '   event, its activity, the assignment and the kit, with who made it and why:'
BEGIN;
SELECT set_config('role', 'authenticated', true), set_config('request.jwt.claims', '{"sub":"u-member","role":"authenticated"}', true) \gset
SELECT to_char(t.created_at, 'HH24:MI:SS') AS at, t.machine, coalesce(t.from_state, '') AS from_state, t.to_state,
       t.changed_by, coalesce(t.reason, '') AS reason,
       concat_ws(' ', 'for ' || (t.metadata ->> 'user_id'), 'kit ' || i.serial_number, 'hours ' || (t.metadata ->> 'hours_worked'),
                 'at ' || (t.metadata ->> 'location')) AS details
FROM booking.event_state_transitions t LEFT JOIN booking.kit_instances i ON i.id = (t.metadata ->> 'kit_instance_id')::uuid
WHERE t.event_instance_id = :'event'
ORDER BY t.created_at, t.machine;
COMMIT;

\echo
\echo '10. A clinic: a professional, a student, prepaid credits. At Harbor Clinic (Lisbon time) Dr. Reis'
\echo '    (u-outsider, its admin) takes Ana on as a client, and Sofia Mendes (u-therapist), a speech therapist,'
\echo '    as a member. Sofia''s calendar is a person resource with her own hours (Tuesday to Friday mornings);'
\echo '    her 45-minute sessions with 15 minutes after each make its grid: a slot every 60 minutes (a session'
\echo '    and its buffer, one session after another) and 15 minutes kept free after each booking:'
BEGIN;
SELECT set_config('role', 'authenticated', true), set_config('request.jwt.claims', '{"sub":"u-outsider","role":"authenticated"}', true) \gset
SELECT id AS clinic FROM booking.organizations WHERE slug = 'harbor-clinic' \gset
INSERT INTO booking.members (organization_id, user_id, role)
VALUES (:'clinic', 'u-therapist', 'member'), (:'clinic', 'u-client', 'client');
INSERT INTO booking.resources (organization_id, kind, title, capacity)
VALUES (:'clinic', 'person', 'Sofia Mendes', 1) RETURNING id AS sofia \gset
INSERT INTO booking.availability_rules (organization_id, resource_id, day_of_week, start_time, end_time)
SELECT :'clinic', :'sofia', d, '09:00', '13:00' FROM generate_series(2, 5) d;
INSERT INTO booking.professionals (organization_id, user_id, resource_id, title, specialization,
                                   session_minutes, buffer_minutes, session_price_cents, currency)
VALUES (:'clinic', 'u-therapist', :'sofia', 'Speech therapist', 'speech and language', 45, 15, 6000, 'EUR');
SELECT p.user_id AS professional, p.title, r.title AS calendar, r.kind, p.session_minutes, p.buffer_minutes,
       r.slot_interval_minutes, r.buffer_after_minutes, p.accepts_new_clients
FROM booking.professionals p JOIN booking.resources r ON r.id = p.resource_id WHERE r.id = :'sofia';
SELECT pg_temp.attempt(format($q$UPDATE booking.resources SET slot_interval_minutes = 30 WHERE id = %L$q$, :'sofia'))
       AS "the admin sets the calendar's slots to 30 minutes";
COMMIT;

\echo '   Ana fills in her profile and registers her son Leo at the clinic: she is his guardian. He starts'
\echo '   as a prospect and she applies; the admin reviews and admits him (the log keeps who and why):'
BEGIN;
SELECT set_config('role', 'authenticated', true), set_config('request.jwt.claims', '{"sub":"u-client","role":"authenticated"}', true) \gset
INSERT INTO booking.profiles (display_name, first_name, last_name, email)
VALUES ('Ana Silva', 'Ana', 'Silva', 'ana@example.org');
INSERT INTO booking.students (organization_id, first_name, last_name, date_of_birth, medical_notes)
VALUES (:'clinic', 'Leo', 'Silva', '2019-05-02', 'Mild asthma: inhaler in his bag') RETURNING id AS leo \gset
SELECT admission_state FROM booking.set_admission_state(:'leo', 'applied', 'referred by his school');
COMMIT;
BEGIN;
SELECT set_config('role', 'authenticated', true), set_config('request.jwt.claims', '{"sub":"u-outsider","role":"authenticated"}', true) \gset
SELECT admission_state FROM booking.set_admission_state(:'leo', 'under_review') \gset
SELECT admission_state FROM booking.set_admission_state(:'leo', 'admitted', 'first assessment done') \gset
SELECT s.first_name || ' ' || s.last_name AS student, s.primary_contact_id AS guardian, s.admission_state, s.admission_date
FROM booking.students s WHERE s.id = :'leo';
SELECT coalesce(t.from_state, '') AS from_state, t.to_state, t.changed_by, coalesce(t.reason, '') AS reason
FROM booking.student_admission_transitions t WHERE t.student_id = :'leo' ORDER BY t.created_at;
COMMIT;

\echo '   Ana buys a pack of 5 sessions. The payment provider''s webhook (service_role) records the purchase;'
\echo '   its retry returns the same ledger entry and sells nothing more:'
BEGIN;
SELECT set_config('role', 'service_role', true), set_config('request.jwt.claims', '{"role":"service_role"}', true) \gset
SELECT id AS credit_purchase FROM booking.purchase_credits('u-client', 5, 'pi_demo_0001', NULL, :'clinic', 'card') \gset
SELECT transaction_type, amount, user_id AS for_whom, payment_method, payment_reference,
       coalesce(expires_at::text, 'never') AS expires
FROM booking.credit_transactions WHERE id = :'credit_purchase';
SELECT id = :'credit_purchase' AS "the retry returns the first entry", amount
FROM booking.purchase_credits('u-client', 5, 'pi_demo_0001', NULL, :'clinic', 'card');
COMMIT;

\echo '   Ana books two sessions for Leo with Sofia, next Thursday and next Friday 10:00-10:45 Lisbon time,'
\echo '   paid with credit: one credit each, debited with the booking. They wait for Sofia to confirm them:'
BEGIN;
SELECT set_config('role', 'authenticated', true), set_config('request.jwt.claims', '{"sub":"u-client","role":"authenticated"}', true) \gset
SELECT id AS leo_thursday FROM booking.book(:'sofia', (:'tuesday'::date + 2 + time '10:00') AT TIME ZONE 'Europe/Lisbon',
                                           (:'tuesday'::date + 2 + time '10:45') AT TIME ZONE 'Europe/Lisbon',
                                           p_title => 'Speech therapy', p_use_credit => true,
                                           p_student_id => :'leo', p_metadata => '{"goal": "articulation"}') \gset
SELECT id AS leo_friday FROM booking.book(:'sofia', (:'tuesday'::date + 3 + time '10:00') AT TIME ZONE 'Europe/Lisbon',
                                         (:'tuesday'::date + 3 + time '10:45') AT TIME ZONE 'Europe/Lisbon',
                                         p_title => 'Speech therapy', p_use_credit => true,
                                         p_student_id => :'leo', p_metadata => '{"goal": "articulation"}') \gset
SELECT b.title, s.first_name AS student, b.status, b.uses_credit,
       to_char(b.starts_at AT TIME ZONE 'Europe/Lisbon', 'Dy DD Mon HH24:MI') AS starts_lisbon
FROM booking.bookings b JOIN booking.students s ON s.id = b.student_id
WHERE b.id IN (:'leo_thursday', :'leo_friday') ORDER BY b.starts_at;
SELECT balance, available FROM booking.get_credit_balance();
COMMIT;

\echo '   Sofia (a member, not staff) sees the bookings of her own calendar: who booked (Ana''s profile'
\echo '   card) and that they are for a student, whose name and notes stay with staff and guardians. She'
\echo '   confirms both:'
BEGIN;
SELECT set_config('role', 'authenticated', true), set_config('request.jwt.claims', '{"sub":"u-therapist","role":"authenticated"}', true) \gset
SELECT to_char(b.starts_at AT TIME ZONE 'Europe/Lisbon', 'Dy DD Mon HH24:MI') AS starts_lisbon, b.title,
       c.display_name AS booked_by, b.student_id IS NOT NULL AS for_a_student,
       coalesce(s.first_name, '(not shown)') AS student_name, b.metadata, b.status
FROM booking.bookings b LEFT JOIN booking.profile_cards c ON c.user_id = b.booked_by
LEFT JOIN booking.students s ON s.id = b.student_id
ORDER BY b.starts_at;
SELECT title, status, approved_by FROM booking.set_booking_status(:'leo_thursday', 'approved', 'see you Thursday');
SELECT title, status, approved_by FROM booking.set_booking_status(:'leo_friday', 'approved', 'see you Friday');
COMMIT;

\echo '   Ana cancels Thursday''s, days ahead. The clinic has no refund policy of its own, so the default'
\echo '   holds: a cancellation at least a day before the start is refunded. The credit comes back:'
BEGIN;
SELECT set_config('role', 'authenticated', true), set_config('request.jwt.claims', '{"sub":"u-client","role":"authenticated"}', true) \gset
SELECT title, status FROM booking.set_booking_status(:'leo_thursday', 'cancelled', 'Leo has a school trip');
SELECT o.name AS organization, c.balance, c.available, c.lifetime_purchased, c.lifetime_used
FROM booking.get_credit_balance() c JOIN booking.organizations o ON o.id = c.organization_id;
\echo '   Her statement, as she reads it (newest first): every change of her balance is one ledger entry.'
SELECT to_char(t.created_at, 'HH24:MI:SS') AS at, t.transaction_type, t.amount,
       coalesce(b.title || ' ' || to_char(b.starts_at AT TIME ZONE 'Europe/Lisbon', 'Dy DD Mon HH24:MI'), '') AS booking,
       coalesce(t.payment_reference, '') AS payment_reference, coalesce(t.reason, '') AS reason
FROM booking.get_credit_statement() t LEFT JOIN booking.bookings b ON b.id = t.booking_id;
COMMIT;

\echo
\echo '11. Messages, a favourite, a review. Back at the lab, its staff member u-staff signs their messages'
\echo '    "Marco, lab staff" (their profile). Ana writes to them about her print job: the first message makes'
\echo '    their thread (one per pair of people, whoever starts it), one unread for Marco:'
BEGIN;
SELECT set_config('role', 'authenticated', true), set_config('request.jwt.claims', '{"sub":"u-staff","role":"authenticated"}', true) \gset
INSERT INTO booking.profiles (display_name) VALUES ('Marco, lab staff');
COMMIT;
BEGIN;
SELECT set_config('role', 'authenticated', true), set_config('request.jwt.claims', '{"sub":"u-client","role":"authenticated"}', true) \gset
SELECT id AS thread FROM booking.start_thread('u-staff', 'My print job', 'Hello! May I bring my own PETG filament on Tuesday?') \gset
SELECT o.name AS through, t.subject, c.display_name AS to_whom, t.recipient_unread_count AS unread_for_marco
FROM booking.message_threads t JOIN booking.organizations o ON o.id = t.organization_id
LEFT JOIN booking.profile_cards c ON c.user_id = t.recipient_id WHERE t.id = :'thread';
COMMIT;

\echo '   Marco is told (a notification), sees it on his page of threads, and answers. Starting a thread with'
\echo '   Ana himself gives him the same thread. Reading it clears his unread count:'
BEGIN;
SELECT set_config('role', 'authenticated', true), set_config('request.jwt.claims', '{"sub":"u-staff","role":"authenticated"}', true) \gset
SELECT message AS notification FROM booking.notifications WHERE notification_type = 'message';
SELECT other_display_name AS with_whom, subject, last_message, unread_count FROM booking.get_threads_page();
SELECT id = :'thread' AS "start_thread(Ana) is the same thread" FROM booking.start_thread('u-client', 'Filament');
SELECT body AS reply FROM booking.send_message(:'thread', 'Yes, PETG is fine. Bring it dry, please.');
SELECT recipient_unread_count AS marco_unread, creator_unread_count AS ana_unread FROM booking.mark_thread_read(:'thread');
COMMIT;
BEGIN;
SELECT set_config('role', 'authenticated', true), set_config('request.jwt.claims', '{"sub":"u-client","role":"authenticated"}', true) \gset
SELECT other_display_name AS with_whom, last_message, last_sender_id, unread_count FROM booking.get_threads_page();
SELECT creator_unread_count AS ana_unread FROM booking.mark_thread_read(:'thread');
SELECT sender_id, body FROM booking.messages WHERE thread_id = :'thread' ORDER BY created_at;
COMMIT;
\echo '   Each message also left an event for the app''s mailer or push worker, as the lab''s admin sees the outbox:'
BEGIN;
SELECT set_config('role', 'authenticated', true), set_config('request.jwt.claims', '{"sub":"u-admin","role":"authenticated"}', true) \gset
SELECT topic, payload ->> 'sender_id' AS sender, payload ->> 'recipient_id' AS recipient
FROM booking.outbox WHERE topic = 'message.sent' ORDER BY id;
COMMIT;

\echo '   Ana marks the 3D Printer a favourite, with a note; her favourites, with what they are:'
BEGIN;
SELECT set_config('role', 'authenticated', true), set_config('request.jwt.claims', '{"sub":"u-client","role":"authenticated"}', true) \gset
INSERT INTO booking.customer_favorites (organization_id, resource_id, notes)
SELECT organization_id, id, 'the good printer' FROM booking.resources WHERE title = '3D Printer';
SELECT organization_name, resource_title, resource_kind, notes FROM booking.customer_favorites_view;
COMMIT;

\echo '   Reviews are of completed bookings, by whoever booked them. Her print job has not happened yet;'
\echo '   the robotics open day has: Marco marks it completed, and Ana reviews it (once):'
BEGIN;
SELECT set_config('role', 'authenticated', true), set_config('request.jwt.claims', '{"sub":"u-client","role":"authenticated"}', true) \gset
SELECT pg_temp.attempt($q$INSERT INTO booking.reviews (booking_id, rating)
                          SELECT id, 5 FROM booking.bookings WHERE title = 'Prototype enclosure'$q$) AS "Ana reviews her print job";
COMMIT;
BEGIN;
SELECT set_config('role', 'authenticated', true), set_config('request.jwt.claims', '{"sub":"u-staff","role":"authenticated"}', true) \gset
SELECT title, status FROM booking.set_booking_status(:'open_day', 'completed', 'all robots back');
COMMIT;
BEGIN;
SELECT set_config('role', 'authenticated', true), set_config('request.jwt.claims', '{"sub":"u-client","role":"authenticated"}', true) \gset
INSERT INTO booking.reviews (booking_id, rating, content)
VALUES (:'open_day', 5, 'The robot race was a hit with the kids.')
RETURNING rating, content, status, reviewer_id;
SELECT pg_temp.attempt(format($q$INSERT INTO booking.reviews (booking_id, rating) VALUES (%L, 1)$q$, :'open_day')) AS "a second review of it";
COMMIT;

\echo '   Marco answers it. An anonymous visitor reads the lab''s reviews with its figures (counted over'
\echo '   published reviews; who wrote them is not shown to anonymous visitors):'
BEGIN;
SELECT set_config('role', 'authenticated', true), set_config('request.jwt.claims', '{"sub":"u-staff","role":"authenticated"}', true) \gset
UPDATE booking.reviews SET reply = 'Thank you, Ana! The next race is in May.' WHERE booking_id = :'open_day'
RETURNING status, replied_by, replied_at IS NOT NULL AS replied;
COMMIT;
BEGIN;
SELECT set_config('role', 'anon', true), set_config('request.jwt.claims', '{"role":"anon"}', true) \gset
SELECT r.rating, r.content, r.reply, r.total_reviews, r.average_rating, r.five_star_count, r.one_star_count
FROM booking.organization_reviews_with_counts r JOIN booking.organizations o ON o.id = r.organization_id
WHERE o.slug = 'oolite';
SELECT pg_temp.attempt('SELECT reviewer_id FROM booking.reviews') AS "anon asks who wrote it";
COMMIT;

\echo
\echo '12. External calendars. The 3D Printer''s service plan lives in the supplier''s calendar, which sends it as'
\echo '    an iCalendar file. The lab''s staff (u-staff) connect it as an ''ics'' calendar of the printer (in the'
\echo '    lab''s time zone, until a sync or an import says more). Next Wednesday''s free hours, before:'
BEGIN;
SELECT set_config('role', 'authenticated', true), set_config('request.jwt.claims', '{"sub":"u-staff","role":"authenticated"}', true) \gset
INSERT INTO booking.calendar_integrations (organization_id, provider, calendar_id, name)
SELECT id, 'ics', 'prusa-service-plan', 'Printer service plan' FROM booking.organizations WHERE slug = 'oolite'
RETURNING id AS service_plan, provider, time_zone, sync_status \gset
INSERT INTO booking.calendar_integration_resources (integration_id, resource_id, organization_id)
SELECT :'service_plan', id, organization_id FROM booking.resources WHERE title = '3D Printer';
SELECT id AS printer FROM booking.resources WHERE title = '3D Printer' \gset
SELECT string_agg(to_char(slot_start AT TIME ZONE 'America/New_York', 'HH24:MI'), ' ' ORDER BY slot_start) AS "free hours, Wednesday"
FROM booking.get_available_slots(:'printer', (:'tuesday'::date + 1)::timestamp AT TIME ZONE 'America/New_York',
                                 (:'tuesday'::date + 2)::timestamp AT TIME ZONE 'America/New_York', 60);
COMMIT;

\echo '   The file comes from Outlook: its times are in "Eastern Standard Time", a Windows zone name, which'
\echo '   booking.import_ics reads as America/New_York. A nozzle change Wednesday 14:00-15:30, and a weekly'
\echo '   firmware check that was cancelled. Staff import it (importing it again changes nothing):'
SELECT array_to_string(ARRAY[
  'BEGIN:VCALENDAR', 'PRODID:-//Microsoft Corporation//Outlook 16.0 MIMEDIR//EN', 'VERSION:2.0', 'METHOD:PUBLISH',
  'BEGIN:VTIMEZONE', 'TZID:Eastern Standard Time',
  'BEGIN:STANDARD', 'DTSTART:16011104T020000', 'RRULE:FREQ=YEARLY;BYDAY=1SU;BYMONTH=11', 'TZOFFSETFROM:-0400', 'TZOFFSETTO:-0500', 'END:STANDARD',
  'BEGIN:DAYLIGHT', 'DTSTART:16010311T020000', 'RRULE:FREQ=YEARLY;BYDAY=2SU;BYMONTH=3', 'TZOFFSETFROM:-0500', 'TZOFFSETTO:-0400', 'END:DAYLIGHT',
  'END:VTIMEZONE',
  'BEGIN:VEVENT', 'UID:040000008200E00074C5B7101A82E00800000000D1E2F3A4',
  'DTSTART;TZID="Eastern Standard Time":' || to_char(:'tuesday'::date + 1, 'YYYYMMDD') || 'T140000',
  'DTEND;TZID="Eastern Standard Time":' || to_char(:'tuesday'::date + 1, 'YYYYMMDD') || 'T153000',
  'SUMMARY;LANGUAGE=en-us:Nozzle change and calibration', 'DTSTAMP:20260105T090000Z', 'TRANSP:OPAQUE', 'END:VEVENT',
  'BEGIN:VEVENT', 'UID:040000008200E00074C5B7101A82E00800000000D1E2F3A5',
  'DTSTART;TZID="Eastern Standard Time":' || to_char(:'tuesday'::date + 1, 'YYYYMMDD') || 'T100000',
  'DTEND;TZID="Eastern Standard Time":' || to_char(:'tuesday'::date + 1, 'YYYYMMDD') || 'T103000',
  'RRULE:FREQ=WEEKLY;COUNT=8', 'STATUS:CANCELLED',
  'SUMMARY;LANGUAGE=en-us:Firmware check', 'DTSTAMP:20260105T090000Z', 'END:VEVENT',
  'END:VCALENDAR', ''], E'\r\n') AS service_ics \gset
BEGIN;
SELECT set_config('role', 'authenticated', true), set_config('request.jwt.claims', '{"sub":"u-staff","role":"authenticated"}', true) \gset
SELECT booking.import_ics(:'service_plan', :'service_ics') AS "first import";
SELECT booking.import_ics(:'service_plan', :'service_ics') AS "the same file again";
SELECT title, status, time_zone, to_char(starts_at AT TIME ZONE 'America/New_York', 'Dy HH24:MI') AS starts,
       to_char(ends_at AT TIME ZONE 'America/New_York', 'HH24:MI') AS ends, recurrence_rule
FROM booking.calendar_events WHERE integration_id = :'service_plan' ORDER BY starts_at;
COMMIT;

\echo '   Wednesday''s free hours now: the nozzle change takes 14:00 and 15:00 (the cancelled check takes'
\echo '   nothing). Ben tries 14:00-15:00 anyway: refused with the reason external_event. He sees the'
\echo '   missing hours, never the supplier''s events:'
BEGIN;
SELECT set_config('role', 'authenticated', true), set_config('request.jwt.claims', '{"sub":"u-client2","role":"authenticated"}', true) \gset
SELECT string_agg(to_char(slot_start AT TIME ZONE 'America/New_York', 'HH24:MI'), ' ' ORDER BY slot_start) AS "free hours, Wednesday"
FROM booking.get_available_slots(:'printer', (:'tuesday'::date + 1)::timestamp AT TIME ZONE 'America/New_York',
                                 (:'tuesday'::date + 2)::timestamp AT TIME ZONE 'America/New_York', 60);
SELECT booking.booking_refusal(:'printer', (:'tuesday'::date + 1 + time '14:00') AT TIME ZONE 'America/New_York',
                               (:'tuesday'::date + 1 + time '15:00') AT TIME ZONE 'America/New_York') AS "why not 14:00";
SELECT pg_temp.attempt(format($q$SELECT booking.book(%L, %L, %L)$q$, :'printer',
  (:'tuesday'::date + 1 + time '14:00') AT TIME ZONE 'America/New_York',
  (:'tuesday'::date + 1 + time '15:00') AT TIME ZONE 'America/New_York')) AS "Ben books 14:00-15:00";
SELECT count(*) AS "external events Ben can read" FROM booking.calendar_events;
COMMIT;

\echo
\echo '13. Requests from outside. The lab takes requests through a Google Form; the form''s worker (service_role)'
\echo '    turns each response into a request. Ben asks for the VR Headset next Friday 10:00-11:00 for a school'
\echo '    visit: a pending request. The form''s webhook is retried: the same request, still one:'
BEGIN;
SELECT set_config('role', 'service_role', true), set_config('request.jwt.claims', '{"role":"service_role"}', true) \gset
SELECT jsonb_build_object('resource_id', r.id, 'title', 'School visit: VR demo', 'booked_by', 'u-client2', 'revision', 1,
                          'starts_at', (:'tuesday'::date + 3 + time '10:00') AT TIME ZONE 'America/New_York',
                          'ends_at', (:'tuesday'::date + 3 + time '11:00') AT TIME ZONE 'America/New_York') AS form_answer,
       r.organization_id AS lab_org
FROM booking.resources r WHERE r.title = 'VR Headset' \gset
SELECT id AS form_request FROM booking.submit_external_request(:'lab_org', 'google_forms', '2_ABaOnudBenVisit', 'booking', :'form_answer') \gset
SELECT source, external_id, request_type, status, request_data ->> 'title' AS title
FROM booking.external_requests WHERE id = :'form_request';
SELECT id = :'form_request' AS "the replay's answer is the same request", status
FROM booking.submit_external_request(:'lab_org', 'google_forms', '2_ABaOnudBenVisit', 'booking', :'form_answer');
SELECT count(*) AS "requests with that response id" FROM booking.external_requests WHERE external_id = '2_ABaOnudBenVisit';
COMMIT;

\echo '   The lab''s staff (u-staff) approve it: the booking is made through the same rule book as book(), for Ben,'
\echo '   in the same transaction, and the request and the booking name each other:'
BEGIN;
SELECT set_config('role', 'authenticated', true), set_config('request.jwt.claims', '{"sub":"u-staff","role":"authenticated"}', true) \gset
SELECT v ->> 'status' AS request_status, v ->> 'booking_id' AS form_booking
FROM booking.process_external_request(:'form_request', 'approve', 'See you Friday') v \gset
SELECT b.title, b.booked_by, b.status, b.source, to_char(b.starts_at AT TIME ZONE 'America/New_York', 'Dy DD Mon HH24:MI') AS starts_new_york,
       b.external_request_id = r.id AND r.booking_id = b.id AS linked_both_ways, r.status AS request_status
FROM booking.bookings b JOIN booking.external_requests r ON r.id = :'form_request'
WHERE b.id = :'form_booking';
SELECT pg_temp.attempt(format($q$SELECT booking.process_external_request(%L, 'approve')$q$, :'form_request'))
       AS "approving it again";
COMMIT;

\echo '   The lab''s daily digest for that Friday, as staff generate it (a worker would, for every organization):'
BEGIN;
SELECT set_config('role', 'authenticated', true), set_config('request.jwt.claims', '{"sub":"u-staff","role":"authenticated"}', true) \gset
SELECT d.summary AS digest_summary, d.id AS digest
FROM booking.generate_digest(:'lab_org', 'daily', :'tuesday'::date + 3) d \gset
\echo :digest_summary
SELECT d.period_start_date AS day, d.time_zone, d.content #>> '{period,hours}' AS hours,
       d.content #>> '{bookings,total}' AS bookings, d.content #>> '{bookings,by_status,approved}' AS approved,
       d.content #>> '{requests,pending}' AS requests_pending, d.content #>> '{conflicts,open}' AS conflicts_open
FROM booking.digests d WHERE d.id = :'digest';
SELECT r ->> 'title' AS resource, r ->> 'bookings' AS bookings, r ->> 'booked_minutes' AS booked_minutes,
       r ->> 'open_minutes' AS open_minutes, round((r ->> 'utilization')::numeric, 3) AS utilization
FROM booking.digests d, jsonb_array_elements(d.content -> 'resources') r
WHERE d.id = :'digest' ORDER BY r ->> 'title';
COMMIT;
