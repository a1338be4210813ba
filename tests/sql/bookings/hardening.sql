-- Hardening: each attack found by probing the API as PostgREST offers it, one block
-- per finding, refused. Every block failed on the code before the fix.

-- A direct INSERT of a booking by the current persona, as PostgREST's .from('bookings').insert().
CREATE FUNCTION pg_temp.insert_booking(p_org uuid, p_resource uuid, p_start timestamptz, p_end timestamptz,
                                       p_extra_columns text DEFAULT '', p_extra_values text DEFAULT '') RETURNS text
LANGUAGE sql AS $$
  SELECT format('INSERT INTO booking.bookings (organization_id, resource_id, starts_at, ends_at%s) VALUES (%L, %L, %L, %L%s)',
                p_extra_columns, p_org, p_resource, p_start, p_end, p_extra_values)
$$;

DO $$
DECLARE
  lab      constant uuid := '00000000-0000-4000-a000-000000000001';
  vr       constant uuid := '00000000-0000-4000-a000-000000000101';
  mine     constant uuid := '00000000-0000-4000-a000-000000000401';
  v_got    text;
BEGIN
  -- 1. The no-overlap rule has no switch: there is no is_exclusive column to turn off, and a
  --    second client's overlapping request on the capacity-1 headset is refused.
  PERFORM pg_temp.act_as('client');
  PERFORM pg_temp.expect_error('42703', format('UPDATE booking.bookings SET is_exclusive = false WHERE id = %L', mine));
  PERFORM pg_temp.act_as('client2');
  v_got := pg_temp.refusal(pg_temp.insert_booking(lab, vr, '2030-03-04 10:30 America/New_York', '2030-03-04 11:30 America/New_York'));
  PERFORM pg_temp.check(v_got = 'PT409/overlap', 'an overlapping request on the headset: ' || v_got);
END $$;

DO $$
DECLARE
  lab      constant uuid := '00000000-0000-4000-a000-000000000001';
  vr       constant uuid := '00000000-0000-4000-a000-000000000101';
  printer  constant uuid := '00000000-0000-4000-a000-000000000102';
  space    constant uuid := '00000000-0000-4000-a000-000000000103';
  scanner  constant uuid := '00000000-0000-4000-a000-000000000104';
  orientation constant uuid := '00000000-0000-4000-a000-000000000301';
  print_job   constant uuid := '00000000-0000-4000-a000-000000000302';
  v_got    text;
  v_id     uuid;
  v_row    booking.bookings;
BEGIN
  -- 2. The table applies book()'s rule book to a caller who is not staff, with book()'s answers.
  PERFORM pg_temp.act_as('superuser');
  INSERT INTO booking.service_rules (service_id, organization_id, staff_only)
  VALUES (orientation, lab, true);
  PERFORM pg_temp.act_as('client');
  -- a staff-only service
  PERFORM pg_temp.check(pg_temp.refusal(pg_temp.insert_booking(lab, vr, '2030-03-05 11:00 America/New_York', '2030-03-05 11:30 America/New_York', ', service_id', format(', %L', orientation))) = '42501/',
                        'a staff-only service through the table');
  PERFORM pg_temp.check(pg_temp.refusal(format('SELECT booking.book(%L, ''2030-03-05 11:00 America/New_York'', ''2030-03-05 11:30 America/New_York'', 1, %L)', vr, orientation)) = '42501/',
                        'a staff-only service through book()');
  -- 03:00 on a closed Sunday
  v_got := pg_temp.refusal(pg_temp.insert_booking(lab, vr, '2030-03-03 03:00 America/New_York', '2030-03-03 04:00 America/New_York'));
  PERFORM pg_temp.check(v_got = 'PT409/closed', 'Sunday night through the table: ' || v_got);
  PERFORM pg_temp.check(pg_temp.refusal(format('SELECT booking.book(%L, ''2030-03-03 03:00 America/New_York'', ''2030-03-03 04:00 America/New_York'')', vr)) = v_got,
                        'the same answer from book()');
  -- beyond the service's horizon (60 days)
  v_got := pg_temp.refusal(pg_temp.insert_booking(lab, printer, '2030-03-11 10:00 America/New_York', '2030-03-11 12:00 America/New_York', ', service_id', format(', %L', print_job)));
  PERFORM pg_temp.check(v_got = 'PT409/horizon', 'beyond the horizon through the table: ' || v_got);
  -- more than max_concurrent_bookings of a service at once
  PERFORM pg_temp.act_as('superuser');
  UPDATE booking.service_rules SET staff_only = false, max_concurrent_bookings = 1 WHERE service_id = orientation;
  INSERT INTO booking.bookings (organization_id, resource_id, service_id, booked_by, starts_at, ends_at, status)
  VALUES (lab, scanner, orientation, 'u-member', '2030-03-06 11:00 America/New_York', '2030-03-06 11:30 America/New_York', 'approved');
  PERFORM pg_temp.act_as('client');
  v_got := pg_temp.refusal(pg_temp.insert_booking(lab, vr, '2030-03-06 11:00 America/New_York', '2030-03-06 11:30 America/New_York', ', service_id', format(', %L', orientation)));
  PERFORM pg_temp.check(v_got = 'PT409/capacity', 'a second booking of a one-at-a-time service through the table: ' || v_got);
  -- a hundred years of a public resource, by someone who is not even a member
  PERFORM pg_temp.act_as('outsider');
  v_got := pg_temp.refusal(pg_temp.insert_booking(lab, space, '2030-03-04 10:00 America/New_York', '2130-03-04 10:00 America/New_York'));
  PERFORM pg_temp.check(v_got = 'PT409/length', 'a hundred years through the table: ' || v_got);
  PERFORM pg_temp.check(pg_temp.refusal(format('SELECT booking.book(%L, ''2030-03-04 10:00 America/New_York'', ''2030-03-12 10:00 America/New_York'')', space)) = 'PT409/length',
                        'eight days (the default limit is a week) through book()');
  -- cancelling a booking that has started
  PERFORM pg_temp.act_as('superuser');
  INSERT INTO booking.bookings (organization_id, resource_id, booked_by, starts_at, ends_at, status)
  VALUES (lab, scanner, 'u-client', now() - interval '1 hour', now() + interval '1 hour', 'approved') RETURNING id INTO v_id;
  PERFORM pg_temp.act_as('client');
  PERFORM pg_temp.check(pg_temp.refusal(format('UPDATE booking.bookings SET status = ''cancelled'' WHERE id = %L', v_id)) = '42501/',
                        'a started booking cannot be cancelled through the table');
  PERFORM pg_temp.check(pg_temp.refusal(format('SELECT booking.set_booking_status(%L, ''cancelled'')', v_id)) = '42501/',
                        'nor through set_booking_status');
  -- what passes the rule book is accepted, approved at once where the resource says so (as book())
  INSERT INTO booking.bookings (organization_id, resource_id, starts_at, ends_at)
  VALUES (lab, vr, '2030-03-05 11:00 America/New_York', '2030-03-05 12:00 America/New_York') RETURNING * INTO v_row;
  PERFORM pg_temp.check(v_row.status = 'approved' AND v_row.approved_by = 'u-client', 'the headset approves by itself: ' || v_row.status);
  -- staff keep their powers on the table: a Sunday booking for a member
  PERFORM pg_temp.act_as('staff');
  INSERT INTO booking.bookings (organization_id, resource_id, booked_by, starts_at, ends_at, status)
  VALUES (lab, printer, 'u-member', '2030-03-03 03:00 America/New_York', '2030-03-03 04:00 America/New_York', 'approved');
END $$;

DO $$
DECLARE
  vr       constant uuid := '00000000-0000-4000-a000-000000000101';
BEGIN
  -- 3. Bounded work for anonymous callers: a window or duration past 366 days is refused
  --    (22023) before anything is read.
  PERFORM pg_temp.act_as('anon');
  PERFORM pg_temp.expect_error('22023', format('SELECT booking.can_book_resource(%L, ''2030-01-01'', ''5030-01-01'')', vr));
  PERFORM pg_temp.expect_error('22023', format('SELECT booking.booking_refusal(%L, ''2030-01-01'', ''202030-01-01'')', vr));
  PERFORM pg_temp.expect_error('22023', format('SELECT * FROM booking.get_available_slots(%L, ''2030-01-01'', ''5030-01-01'', 2000000000)', vr));
  PERFORM pg_temp.expect_error('22023', format('SELECT * FROM booking.get_available_slots(%L, ''2030-01-01'', ''2030-02-01'', 2000000000)', vr));
  PERFORM pg_temp.expect_error('22023', format('SELECT * FROM booking.get_available_slots_any(ARRAY[%L]::uuid[], ''2030-01-01'', ''2032-01-01'', 600000)', vr));
  PERFORM pg_temp.check(booking.can_book_resource(vr, '2030-03-04 11:00 America/New_York', '2030-03-04 12:00 America/New_York'),
                        'an ordinary question is still answered');
END $$;

DO $$
DECLARE
  printer  constant uuid := '00000000-0000-4000-a000-000000000102';
  v_row    booking.bookings;
BEGIN
  -- 4a. row_security = off, set by a signed-in API session (logged in as a login role that is
  --     not privileged, as PostgREST's authenticator), skips no audit row, outbox event or
  --     notification of book().
  PERFORM pg_temp.act_as('superuser');
  CREATE ROLE hardening_authenticator NOINHERIT;
  GRANT authenticated TO hardening_authenticator;
  SET LOCAL SESSION AUTHORIZATION hardening_authenticator;
  PERFORM pg_temp.act_as('client');
  SET LOCAL row_security = off;
  SELECT * INTO v_row FROM booking.book(printer, '2030-03-07 10:00 America/New_York', '2030-03-07 11:00 America/New_York');
  RESET row_security;
  RESET SESSION AUTHORIZATION;
  PERFORM pg_temp.act_as('superuser');
  PERFORM pg_temp.check(EXISTS (SELECT 1 FROM booking.audit_log WHERE entity_id = v_row.id AND action = 'insert'), 'the audit row is written');
  PERFORM pg_temp.check(EXISTS (SELECT 1 FROM booking.outbox WHERE payload ->> 'booking_id' = v_row.id::text), 'the outbox event is written');
  PERFORM pg_temp.check(EXISTS (SELECT 1 FROM booking.notifications WHERE metadata ->> 'booking_id' = v_row.id::text AND recipient_id = 'u-staff'),
                        'staff are notified of the request');
END $$;

DO $$
DECLARE
  v_got    text;
BEGIN
  -- 4b. No custom setting decides a lock or a check: the only booking.* setting the
  --     extension reads is booking.reason, the text recorded with a status change. (That a
  --     preset booking.locked_rows, the setting that once remembered the resource lock, skips
  --     nothing under fifty concurrent writers is shown by tests/bookings/concurrency.rs: within this
  --     one transaction every fixture row counts as locked already.)
  PERFORM pg_temp.act_as('superuser');
  SELECT string_agg(DISTINCT p.oid::regprocedure::text, ', ') INTO v_got
  FROM pg_proc p
  WHERE p.pronamespace IN ('booking'::regnamespace, 'booking_internal'::regnamespace)
    AND p.prosrc ~ $re$current_setting\('booking\.(?!reason')$re$;
  PERFORM pg_temp.check(v_got IS NULL, 'functions reading a custom setting other than booking.reason: ' || v_got);
END $$;

DO $$
DECLARE
  clinic   constant uuid := '00000000-0000-4000-a000-000000000002';
  space    constant uuid := '00000000-0000-4000-a000-000000000103';
  room     constant uuid := '00000000-0000-4000-a000-000000000201';
  v_got    text;
BEGIN
  -- 5. A cross-tenant INSERT learns nothing and locks nothing: the answer is row-level
  --    security's, the same as for a resource that does not exist.
  PERFORM pg_temp.act_as('superuser');
  INSERT INTO booking.resources (id, organization_id, kind, title, capacity)
  VALUES ('00000000-0000-4000-a000-000000000202', clinic, 'space', 'Secret Therapy Room', 3);
  INSERT INTO booking.bookings (organization_id, resource_id, booked_by, starts_at, ends_at, status, seats)
  VALUES (clinic, '00000000-0000-4000-a000-000000000202', 'u-outsider', '2030-03-04 09:00 Europe/Lisbon', '2030-03-04 10:00 Europe/Lisbon', 'approved', 3);
  PERFORM pg_temp.act_as('client');
  v_got := pg_temp.refusal_text(pg_temp.insert_booking(clinic, '00000000-0000-4000-a000-000000000202', '2030-03-04 09:00 Europe/Lisbon', '2030-03-04 10:00 Europe/Lisbon'));
  PERFORM pg_temp.check(v_got = '42501//new row violates row-level security policy for table "bookings"', 'a full room of another tenant: ' || v_got);
  PERFORM pg_temp.check(v_got = pg_temp.refusal_text(pg_temp.insert_booking(clinic, '00000000-0000-4000-a000-0000000009ff', '2030-03-04 09:00 Europe/Lisbon', '2030-03-04 10:00 Europe/Lisbon')),
                        'the same answer as for a resource that does not exist');
  PERFORM pg_temp.check(v_got = pg_temp.refusal_text(pg_temp.insert_booking(clinic, room, '2030-03-04 09:00 Europe/Lisbon', '2030-03-04 10:00 Europe/Lisbon')),
                        'and as for a taken capacity-1 room');
END $$;

DO $$
DECLARE
  lab      constant uuid := '00000000-0000-4000-a000-000000000001';
  clinic   constant uuid := '00000000-0000-4000-a000-000000000002';
  printer  constant uuid := '00000000-0000-4000-a000-000000000102';
  room     constant uuid := '00000000-0000-4000-a000-000000000201';
  v_id     uuid;
BEGIN
  -- 6. Nobody moves a row to another organization: not a user who is staff in one and a
  --    booker in the other, not service_role.
  PERFORM pg_temp.act_as('superuser');
  INSERT INTO booking.members (organization_id, user_id, role) VALUES (clinic, 'u-staff', 'client');
  INSERT INTO booking.bookings (organization_id, resource_id, booked_by, starts_at, ends_at, status)
  VALUES (clinic, room, 'u-staff', '2030-03-05 09:00 Europe/Lisbon', '2030-03-05 10:00 Europe/Lisbon', 'pending') RETURNING id INTO v_id;
  PERFORM pg_temp.act_as('staff');
  PERFORM pg_temp.check(pg_temp.refusal(format('UPDATE booking.bookings SET organization_id = %L, resource_id = %L WHERE id = %L', lab, printer, v_id)) = '42501/',
                        'staff of the lab cannot pull their clinic booking into the lab');
  PERFORM pg_temp.act_as('service_role');
  PERFORM pg_temp.check(pg_temp.refusal(format('UPDATE booking.bookings SET organization_id = %L, resource_id = %L WHERE id = %L', lab, printer, v_id)) = '42501/',
                        'nor can service_role');
  PERFORM pg_temp.check(pg_temp.refusal(format('UPDATE booking.resources SET organization_id = %L WHERE id = %L', lab, room)) = '42501/',
                        'a resource stays in its organization');
  PERFORM pg_temp.check(pg_temp.refusal(format('UPDATE booking.members SET organization_id = %L WHERE organization_id = %L AND user_id = ''u-outsider''', lab, clinic)) = '42501/',
                        'a membership stays in its organization');
END $$;

DO $$
DECLARE
  lab      constant uuid := '00000000-0000-4000-a000-000000000001';
  vr       constant uuid := '00000000-0000-4000-a000-000000000101';
  print_job   constant uuid := '00000000-0000-4000-a000-000000000302';
  mine     constant uuid := '00000000-0000-4000-a000-000000000401';
BEGIN
  -- 7. Fields a client does not choose: source and calendar fields are staff's on INSERT as on
  --    UPDATE; a line item's price and duration come from the service.
  PERFORM pg_temp.act_as('client');
  PERFORM pg_temp.check(pg_temp.refusal(pg_temp.insert_booking(lab, vr, '2030-03-05 14:00 America/New_York', '2030-03-05 15:00 America/New_York', ', source', ', ''google_calendar''')) = '42501/',
                        'a client cannot claim a calendar import');
  PERFORM pg_temp.check(pg_temp.refusal(pg_temp.insert_booking(lab, vr, '2030-03-05 14:00 America/New_York', '2030-03-05 15:00 America/New_York', ', external_calendar_event_id', ', ''evt-1''')) = '42501/',
                        'a client cannot set a calendar event id');
  INSERT INTO booking.booking_services (booking_id, organization_id, service_id, position, duration_minutes, price_cents)
  VALUES (mine, lab, print_job, 2, 1, 0);
  PERFORM pg_temp.check((SELECT (price_cents, duration_minutes) = (1500, 120) FROM booking.booking_services WHERE booking_id = mine AND position = 2),
                        'the line item''s price and duration are the service''s');
  UPDATE booking.booking_services SET price_cents = 1 WHERE booking_id = mine AND position = 2;
  PERFORM pg_temp.check((SELECT price_cents = 1500 FROM booking.booking_services WHERE booking_id = mine AND position = 2),
                        'and stay so on UPDATE');
END $$;

DO $$
DECLARE
  lab      constant uuid := '00000000-0000-4000-a000-000000000001';
  vr       constant uuid := '00000000-0000-4000-a000-000000000101';
  printer  constant uuid := '00000000-0000-4000-a000-000000000102';
  space    constant uuid := '00000000-0000-4000-a000-000000000103';
  orientation constant uuid := '00000000-0000-4000-a000-000000000301';
  mine     constant uuid := '00000000-0000-4000-a000-000000000401';
  v_id     uuid;
BEGIN
  -- 8. Notifications and the audit log cannot be abused.
  -- Staff book only for the organization's members, so no stranger gets their messages.
  PERFORM pg_temp.act_as('staff');
  PERFORM pg_temp.check(pg_temp.refusal(pg_temp.insert_booking(lab, printer, '2030-03-05 14:00 America/New_York', '2030-03-05 15:00 America/New_York', ', booked_by, title', ', ''u-stranger'', ''Click evil.example''')) = '42501/',
                        'staff cannot book in a stranger''s name');
  -- A stranger who booked in a public organization may not write into its audit log.
  PERFORM pg_temp.act_as('outsider');
  SELECT id INTO v_id FROM booking.book(space, '2030-03-08 10:00 America/New_York', '2030-03-08 11:00 America/New_York');
  PERFORM pg_temp.check(pg_temp.refusal(format('SELECT booking.log_action(''bookings'', %L, ''note'', NULL, jsonb_build_object(''x'', repeat(''y'', 10000)))', v_id)) = '42501/',
                        'a non-member booker cannot log into the tenant''s audit log');
  PERFORM pg_temp.act_as('client');
  PERFORM pg_temp.check(pg_temp.refusal(format('SELECT booking.log_action(''bookings'', %L, ''note'', NULL, jsonb_build_object(''x'', repeat(''y'', 20000)))', mine)) = '22023/',
                        'values over 16 kB are refused');
  -- A megabyte of text is refused wherever a client can write it.
  PERFORM pg_temp.check(pg_temp.refusal(pg_temp.insert_booking(lab, vr, '2030-03-05 14:00 America/New_York', '2030-03-05 15:00 America/New_York', ', title', ', repeat(''x'', 1000000)')) = '23514/',
                        'a 1 MB title');
  PERFORM pg_temp.check(pg_temp.refusal(format('UPDATE booking.bookings SET client_notes = repeat(''x'', 1000000) WHERE id = %L', mine)) = '23514/',
                        '1 MB of notes');
  PERFORM pg_temp.check(pg_temp.refusal(format('SELECT booking.set_booking_status(%L, ''cancelled'', repeat(''x'', 1000000))', mine)) = '22023/',
                        'a 1 MB reason');
  PERFORM pg_temp.check(pg_temp.refusal(format('SELECT booking.book(%L, ''2030-03-05 14:00 America/New_York'', ''2030-03-05 15:00 America/New_York'', 1, NULL, repeat(''x'', 1000000))', vr)) = '22023/',
                        'a 1 MB title through book()');
  PERFORM pg_temp.act_as('staff');
  PERFORM pg_temp.check(pg_temp.refusal('INSERT INTO booking.notifications (organization_id, recipient_id, notification_type, message) VALUES (''00000000-0000-4000-a000-000000000001'', ''u-client'', ''spam'', repeat(''x'', 1000000))') = '23514/',
                        'a 1 MB notification row');
  PERFORM pg_temp.check(pg_temp.refusal(format('UPDATE booking.resources SET metadata = jsonb_build_object(''x'', repeat(''y'', 1000000)) WHERE id = %L', vr)) = '23514/',
                        '1 MB of resource metadata');
  -- Changes to organizations, line items and conflicts are audited.
  PERFORM pg_temp.act_as('client');
  INSERT INTO booking.booking_services (booking_id, organization_id, service_id, position, duration_minutes)
  VALUES (mine, lab, orientation, 3, 30);
  PERFORM pg_temp.act_as('admin');
  UPDATE booking.organizations SET name = 'Oolite Digital Lab (renamed)' WHERE id = lab;
  UPDATE booking.conflicts SET status = 'investigating' WHERE id = '00000000-0000-4000-a000-000000000801';
  PERFORM pg_temp.act_as('superuser');
  PERFORM pg_temp.check(EXISTS (SELECT 1 FROM booking.audit_log WHERE entity_type = 'organizations' AND entity_id = lab
                                AND organization_id = lab AND new_values ->> 'name' = 'Oolite Digital Lab (renamed)'), 'the rename is audited');
  PERFORM pg_temp.check(EXISTS (SELECT 1 FROM booking.audit_log WHERE entity_type = 'conflicts' AND action = 'update'), 'the conflict change is audited');
  PERFORM pg_temp.check(EXISTS (SELECT 1 FROM booking.audit_log WHERE entity_type = 'booking_services' AND entity_id = mine AND action = 'insert'),
                        'the client''s line item is audited under its booking');
END $$;

DO $$
DECLARE
  lab  constant uuid := '00000000-0000-4000-a000-000000000001';
  mine constant uuid := '00000000-0000-4000-a000-000000000401';
BEGIN
  -- 9. Privacy of columns: a client reads their booking but not staff's notes on it; anonymous
  --    callers read what a public booking page needs, not settings, metadata or calendar ids.
  PERFORM pg_temp.act_as('client');
  PERFORM pg_temp.check(EXISTS (SELECT 1 FROM booking.bookings WHERE id = mine), 'the client reads their booking');
  PERFORM pg_temp.check(NOT EXISTS (SELECT 1 FROM booking.booking_notes WHERE booking_id = mine), 'but not staff''s notes on it');
  PERFORM pg_temp.act_as('staff');
  PERFORM pg_temp.check(EXISTS (SELECT 1 FROM booking.booking_notes WHERE booking_id = mine), 'staff read their notes');
  PERFORM pg_temp.act_as('anon');
  PERFORM pg_temp.check((SELECT name FROM booking.organizations WHERE id = lab) IS NOT NULL, 'anonymous callers read a public organization''s name');
  PERFORM pg_temp.check((SELECT count(*) FROM booking.resources WHERE organization_id = lab) > 0, 'and its resources');
  PERFORM pg_temp.expect_error('42501', 'SELECT settings FROM booking.organizations');
  PERFORM pg_temp.expect_error('42501', 'SELECT * FROM booking.organizations');
  PERFORM pg_temp.expect_error('42501', 'SELECT metadata FROM booking.resources');
  PERFORM pg_temp.expect_error('42501', 'SELECT external_calendar_id FROM booking.resources');
END $$;

-- A booker's line item for a service they cannot see (an outsider who booked the public lab;
-- services are for members): refused as an unknown service, never written with the price and
-- duration the booker gave (it failed with 23502, NULLs, before the fix).
DO $$
DECLARE
  b booking.bookings;
BEGIN
  PERFORM pg_temp.act_as('outsider');
  b := booking.book('00000000-0000-4000-a000-000000000104', '2030-03-05 10:00 America/New_York', '2030-03-05 11:00 America/New_York');
  PERFORM pg_temp.check(pg_temp.refusal(format($q$INSERT INTO booking.booking_services (booking_id, organization_id, service_id, position, duration_minutes, price_cents)
    VALUES (%L, '00000000-0000-4000-a000-000000000001', '00000000-0000-4000-a000-000000000302', 1, 120, 0)$q$, b.id)) = '23503/',
                        'a service the booker cannot see is unknown to them');
  PERFORM pg_temp.act_as('superuser');
  PERFORM pg_temp.check(NOT EXISTS (SELECT 1 FROM booking.booking_services WHERE booking_id = b.id), 'no line written');
END $$;
