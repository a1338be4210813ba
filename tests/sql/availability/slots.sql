-- The native scheduling functions through SQL: answers, errors, and who may ask.
CREATE FUNCTION pg_temp.slot_starts(p_resource uuid, p_day date, p_minutes int DEFAULT 60,
                                    p_service uuid DEFAULT NULL, p_seats int DEFAULT 1) RETURNS text
LANGUAGE sql AS $$
  SELECT coalesce(string_agg(to_char(slot_start AT TIME ZONE 'America/New_York', 'HH24:MI'), ' ' ORDER BY slot_start), '')
  FROM booking.get_available_slots(p_resource,
         (p_day + time '00:00') AT TIME ZONE 'America/New_York',
         (p_day + 1 + time '00:00') AT TIME ZONE 'America/New_York', p_minutes, p_service, p_seats)
$$;

DO $$
DECLARE
  lab     constant uuid := '00000000-0000-4000-a000-000000000001';
  clinic  constant uuid := '00000000-0000-4000-a000-000000000002';
  vr      constant uuid := '00000000-0000-4000-a000-000000000101';
  space   constant uuid := '00000000-0000-4000-a000-000000000103';
  room    constant uuid := '00000000-0000-4000-a000-000000000201';
  monday  constant date := '2030-03-04';
  v_got   text;
  h       record;
BEGIN
  -- The VR Headset on Monday 4 March 2030 (lab hours 10-13 and 14-18 New York; 10-11 booked).
  v_got := pg_temp.slot_starts(vr, monday);
  PERFORM pg_temp.check(v_got = '11:00 12:00 14:00 15:00 16:00 17:00', 'VR slots: ' || v_got);
  PERFORM pg_temp.check(booking.can_book_resource(vr, '2030-03-04 11:00 America/New_York', '2030-03-04 12:00 America/New_York'), 'free hour');
  PERFORM pg_temp.check(NOT booking.can_book_resource(vr, '2030-03-04 10:30 America/New_York', '2030-03-04 11:30 America/New_York'), 'overlaps the 10:00 booking');
  PERFORM pg_temp.check(NOT booking.can_book_resource(vr, '2030-03-04 12:30 America/New_York', '2030-03-04 13:30 America/New_York'), 'crosses the lunch break');
  PERFORM pg_temp.check(NOT booking.can_book_resource(vr, '2030-03-04 09:00 America/New_York', '2030-03-04 10:00 America/New_York'), 'before opening');
  PERFORM pg_temp.check(booking.can_book_resource(vr, '2030-03-04 11:10 America/New_York', '2030-03-04 11:40 America/New_York'), 'off the grid is fine for a single booking');
  -- Every slot can be booked, and every grid start that is not a slot cannot.
  PERFORM pg_temp.check(NOT EXISTS (
    SELECT 1 FROM generate_series(timestamptz '2030-03-04 10:00 America/New_York', '2030-03-04 17:00 America/New_York', interval '1 hour') g
    WHERE booking.can_book_resource(vr, g, g + interval '1 hour')
          <> EXISTS (SELECT 1 FROM booking.get_available_slots(vr, '2030-03-04 00:00 America/New_York', '2030-03-05 00:00 America/New_York', 60) s WHERE s.slot_start = g)),
    'slots and can_book_resource agree');
  -- Closed for Independence Day (an organization-wide exception), and on Sundays.
  PERFORM pg_temp.check(pg_temp.slot_starts(vr, '2030-07-04') = '', 'closed on 4 July');
  PERFORM pg_temp.check(pg_temp.slot_starts(vr, '2030-03-03') = '', 'closed on Sundays');
  -- Capacity and seats: the Digital Lab (12) has 4 seats taken 14:00-16:00.
  v_got := pg_temp.slot_starts(space, monday, 60, NULL, 9);
  PERFORM pg_temp.check(v_got = '10:00 11:00 12:00 16:00 17:00', '9 seats: ' || v_got);
  v_got := pg_temp.slot_starts(space, monday, 60, NULL, 8);
  PERFORM pg_temp.check(v_got = '10:00 11:00 12:00 14:00 15:00 16:00 17:00', '8 seats: ' || v_got);
  -- Service rules win: the print job needs a day's notice and is bookable 60 days ahead only.
  PERFORM pg_temp.check(pg_temp.slot_starts(vr, monday, 120, '00000000-0000-4000-a000-000000000302') = '', 'beyond the service horizon');
  PERFORM pg_temp.check(pg_temp.slot_starts(vr, monday, 30, '00000000-0000-4000-a000-000000000301') <> '', 'a service without rules');
  -- A resource's own notice: nothing before now + 2 hours.
  UPDATE booking.resources SET min_notice_minutes = 120 WHERE id = vr;
  PERFORM pg_temp.check(NOT EXISTS (SELECT 1 FROM booking.get_available_slots(vr, now(), now() + interval '3 days', 30) WHERE slot_start < now() + interval '2 hours'), 'minimum notice');
  UPDATE booking.resources SET min_notice_minutes = 0 WHERE id = vr;

  -- Bad input: 22023 with a message naming the problem.
  PERFORM pg_temp.expect_error('22023', format('SELECT * FROM booking.get_available_slots(%L, NULL, now())', vr));
  PERFORM pg_temp.expect_error('22023', format('SELECT * FROM booking.get_available_slots(%L, now(), now() - interval ''1 hour'')', vr));
  PERFORM pg_temp.expect_error('22023', format('SELECT * FROM booking.get_available_slots(%L, now(), now() + interval ''1 day'', 0)', vr));
  PERFORM pg_temp.expect_error('22023', format('SELECT * FROM booking.get_available_slots(%L, now(), now() + interval ''1 day'', 60, NULL, 0)', vr));
  PERFORM pg_temp.expect_error('22023', format('SELECT * FROM booking.get_available_slots(%L, now(), now() + interval ''10 years'', 1)', vr));
  PERFORM pg_temp.expect_error('22023', format('SELECT * FROM booking.get_available_slots(%L, now(), ''infinity'')', vr));
  PERFORM pg_temp.expect_error('22023', 'SELECT * FROM booking.get_available_slots(''00000000-0000-4000-a000-0000000009ff'', now(), now() + interval ''1 day'')');
  PERFORM pg_temp.expect_error('22023', format('SELECT * FROM booking.get_available_slots(%L, now(), now() + interval ''1 day'', 60, ''00000000-0000-4000-a000-0000000009ff'')', vr));
  PERFORM pg_temp.expect_error('22023', format('SELECT booking.can_book_resource(%L, now(), now())', vr));
  PERFORM pg_temp.expect_error('22023', format('SELECT booking.can_book_resource(%L, now(), now() + interval ''1 hour'', 0)', vr));

  -- Business hours (seed 004's shape), exceptions applied, breaks as rows.
  SELECT * INTO h FROM booking.calculate_business_hours(lab, monday);
  PERFORM pg_temp.check(h.day_name = 'Monday' AND h.is_open AND h.start_time = '10:00' AND h.end_time = '18:00'
                        AND h.break_start = '13:00' AND h.break_end = '14:00' AND h.total_working_minutes = 420, format('Monday: %s', h));
  SELECT * INTO h FROM booking.calculate_business_hours(lab, '2030-07-04');
  PERFORM pg_temp.check(NOT h.is_open AND h.total_working_minutes = 0 AND h.start_time IS NULL, format('4 July: %s', h));
  -- A 24-hour resource across the 2026 DST changes in New York, and a day with two breaks.
  INSERT INTO booking.resources (id, organization_id, title) VALUES ('00000000-0000-4000-a000-000000000105', lab, 'Render farm');
  INSERT INTO booking.availability_rules (organization_id, resource_id, day_of_week, start_time, end_time)
  VALUES (lab, '00000000-0000-4000-a000-000000000105', 0, '00:00', '24:00'),
         (lab, '00000000-0000-4000-a000-000000000105', 3, '09:00', '10:00'),
         (lab, '00000000-0000-4000-a000-000000000105', 3, '11:00', '12:00'),
         (lab, '00000000-0000-4000-a000-000000000105', 3, '13:00', '14:00');
  PERFORM pg_temp.check((SELECT total_working_minutes FROM booking.calculate_business_hours(lab, '2026-03-08', '00000000-0000-4000-a000-000000000105')) = 1380, 'spring forward: 1380 minutes');
  PERFORM pg_temp.check((SELECT total_working_minutes FROM booking.calculate_business_hours(lab, '2026-11-01', '00000000-0000-4000-a000-000000000105')) = 1500, 'fall back: 1500 minutes');
  PERFORM pg_temp.check((SELECT end_time FROM booking.calculate_business_hours(lab, '2026-11-01', '00000000-0000-4000-a000-000000000105')) = '24:00', 'open until midnight');
  PERFORM pg_temp.check((SELECT string_agg(break_start || '-' || break_end, ',' ORDER BY break_start) FROM booking.calculate_business_hours(lab, '2030-03-06', '00000000-0000-4000-a000-000000000105')) = '10:00:00-11:00:00,12:00:00-13:00:00', 'two breaks, two rows');
  -- A resource with rules of its own uses those, not the organization's (the lab is closed on
  -- Sundays; the render farm is open all Sunday, and on Wednesdays only at its own hours).
  PERFORM pg_temp.check(pg_temp.slot_starts('00000000-0000-4000-a000-000000000105', '2030-03-03', 360) = '00:00 06:00 12:00 18:00', 'own rules on Sunday');
  PERFORM pg_temp.check(pg_temp.slot_starts('00000000-0000-4000-a000-000000000105', '2030-03-06') = '09:00 11:00 13:00', 'own rules on Wednesday');
  -- A window longer than the engine reads in one query (bookings checked after the window)
  -- gives the slots of its parts.
  PERFORM pg_temp.check((SELECT count(*) FROM booking.get_available_slots(vr, '2030-03-01 00:00 America/New_York', '2030-06-10 00:00 America/New_York', 60))
                        = (SELECT count(*) FROM booking.get_available_slots(vr, '2030-03-01 00:00 America/New_York', '2030-04-20 00:00 America/New_York', 60))
                          + (SELECT count(*) FROM booking.get_available_slots(vr, '2030-04-20 00:00 America/New_York', '2030-06-10 00:00 America/New_York', 60)),
                        'a 101-day window');
  PERFORM pg_temp.expect_error('22023', format('SELECT * FROM booking.calculate_business_hours(%L, NULL)', lab));
  PERFORM pg_temp.expect_error('22023', format('SELECT * FROM booking.calculate_business_hours(%L, ''2030-03-04'', %L)', lab, room));

  -- Durations: listed twice counts twice, inactive counts 0, unknown is an error.
  PERFORM pg_temp.check(booking.calculate_duration_minutes(ARRAY['00000000-0000-4000-a000-000000000301', '00000000-0000-4000-a000-000000000302']::uuid[]) = 150, '30 + 120');
  PERFORM pg_temp.check(booking.calculate_duration_minutes(ARRAY['00000000-0000-4000-a000-000000000301', '00000000-0000-4000-a000-000000000301']::uuid[]) = 60, 'twice');
  PERFORM pg_temp.check(booking.calculate_duration_minutes('{}') = 0, 'empty list');
  UPDATE booking.services SET is_active = false WHERE id = '00000000-0000-4000-a000-000000000302';
  PERFORM pg_temp.check(booking.calculate_duration_minutes(ARRAY['00000000-0000-4000-a000-000000000301', '00000000-0000-4000-a000-000000000302']::uuid[]) = 30, 'inactive counts 0');
  PERFORM pg_temp.expect_error('22023', 'SELECT booking.calculate_duration_minutes(ARRAY[''00000000-0000-4000-a000-0000000009ff'']::uuid[])');
  PERFORM pg_temp.expect_error('22023', 'SELECT booking.calculate_duration_minutes(NULL)');

  -- book(): the caller books for themselves; refusals are PT409 with the reason in DETAIL.
  UPDATE booking.services SET is_active = true WHERE id = '00000000-0000-4000-a000-000000000302';
  PERFORM pg_temp.act_as('client');
  DECLARE
    b booking.bookings;
    v_detail text;
  BEGIN
    b := booking.book(vr, '2030-03-04 11:00 America/New_York', '2030-03-04 12:00 America/New_York', 1, NULL, 'Demo', 'first time');
    PERFORM pg_temp.check(b.booked_by = 'u-client' AND b.status = 'approved' AND b.source = 'api' AND b.client_notes = 'first time',
                          format('VR auto-approves: %s', b));
    b := booking.book('00000000-0000-4000-a000-000000000102', '2030-03-04 11:00 America/New_York', '2030-03-04 12:00 America/New_York');
    PERFORM pg_temp.check(b.status = 'pending', 'the printer needs approval');
    PERFORM pg_temp.check(EXISTS (SELECT 1 FROM booking.bookings WHERE id = b.id), 'the client sees the booking');
    FOREACH v_detail IN ARRAY ARRAY['overlap', 'closed', 'capacity', 'horizon'] LOOP
      BEGIN
        CASE v_detail
          WHEN 'overlap'  THEN PERFORM booking.book(vr, '2030-03-04 11:30 America/New_York', '2030-03-04 12:30 America/New_York');
          WHEN 'closed'   THEN PERFORM booking.book(vr, '2030-03-04 12:30 America/New_York', '2030-03-04 13:30 America/New_York');
          WHEN 'capacity' THEN PERFORM booking.book(space, '2030-03-04 14:00 America/New_York', '2030-03-04 15:00 America/New_York', 9);
          WHEN 'horizon'  THEN PERFORM booking.book(vr, '2030-03-05 10:00 America/New_York', '2030-03-05 12:00 America/New_York', 1,
                                                    '00000000-0000-4000-a000-000000000302');
        END CASE;
        RAISE EXCEPTION 'book() accepted a booking it should refuse for %', v_detail;
      EXCEPTION WHEN SQLSTATE 'PT409' THEN
        GET STACKED DIAGNOSTICS b.title = PG_EXCEPTION_DETAIL;
        PERFORM pg_temp.check(b.title = v_detail, format('refused for %s, said %s', v_detail, b.title));
      END;
    END LOOP;
  END;
  PERFORM pg_temp.expect_error('22023', format('SELECT booking.book(%L, NULL, now())', vr));
  PERFORM pg_temp.expect_error('22023', format('SELECT booking.book(%L, now() + interval ''1 day'', now())', vr));
  PERFORM pg_temp.expect_error('22023', format('SELECT booking.book(%L, now(), now() + interval ''1 hour'', 0)', vr));
  PERFORM pg_temp.expect_error('22023', format('SELECT booking.book(%L, now(), now() + interval ''1 hour'')', room));
  PERFORM pg_temp.act_as('anon');
  PERFORM pg_temp.expect_error('42501', format('SELECT booking.book(%L, ''2030-03-04 16:00 America/New_York'', ''2030-03-04 17:00 America/New_York'')', vr));
  PERFORM pg_temp.act_as('superuser');
  PERFORM pg_temp.check((SELECT count(*) FROM booking.outbox o JOIN booking.bookings b ON b.id = (o.payload ->> 'booking_id')::uuid
                         WHERE o.topic = 'booking.created' AND b.source = 'api') = 2, 'an outbox event for each booking made');
  PERFORM pg_temp.check((SELECT count(*) FROM booking.audit_log a JOIN booking.bookings b ON b.id = a.entity_id
                         WHERE a.action = 'insert' AND b.source = 'api' AND a.actor_id = 'u-client') = 2, 'an audit row for each');

  -- Who may ask: an anonymous visitor of the public lab gets its slots, nothing of a private
  -- organization; an outsider likewise; a clinic member gets the clinic's room.
  v_got := pg_temp.slot_starts(vr, monday);
  PERFORM pg_temp.act_as('anon');
  PERFORM pg_temp.check(pg_temp.slot_starts(vr, monday) = v_got, 'anon sees the public lab''s slots');
  PERFORM pg_temp.expect_error('22023', format('SELECT * FROM booking.get_available_slots(%L, now(), now() + interval ''1 day'')', room));
  PERFORM pg_temp.expect_error('22023', format('SELECT booking.can_book_resource(%L, now(), now() + interval ''1 hour'')', room));
  PERFORM pg_temp.expect_error('22023', format('SELECT * FROM booking.calculate_business_hours(%L, ''2030-03-04'')', clinic));
  PERFORM pg_temp.check((SELECT is_open FROM booking.calculate_business_hours(lab, monday)), 'anon reads the public lab''s hours');
  PERFORM pg_temp.act_as('client');
  PERFORM pg_temp.expect_error('22023', format('SELECT * FROM booking.get_available_slots(%L, now(), now() + interval ''1 day'')', room));
  PERFORM pg_temp.act_as('outsider');
  PERFORM pg_temp.check((SELECT count(*) FROM booking.get_available_slots(room, '2030-03-04 00:00Z', '2030-03-05 00:00Z', 60)) = 7,
                        'the clinic''s admin sees its room: 09-17 Lisbon minus the 09:00 booking');
  PERFORM pg_temp.act_as('superuser');
  -- A private resource of the lab (not bookable) is hidden from anonymous visitors.
  UPDATE booking.resources SET is_bookable = false WHERE id = vr;
  PERFORM pg_temp.act_as('anon');
  PERFORM pg_temp.expect_error('22023', format('SELECT * FROM booking.get_available_slots(%L, now(), now() + interval ''1 day'')', vr));
  PERFORM pg_temp.act_as('superuser');
END $$;

-- Service rules in book(): staff_only and max_concurrent_bookings.
DO $$
DECLARE
  lab      constant uuid := '00000000-0000-4000-a000-000000000001';
  vr       constant uuid := '00000000-0000-4000-a000-000000000101';
  printer  constant uuid := '00000000-0000-4000-a000-000000000102';
  scanner  constant uuid := '00000000-0000-4000-a000-000000000104';
  session  constant uuid := '00000000-0000-4000-a000-000000000303';
  training constant uuid := '00000000-0000-4000-a000-000000000304';
  b        booking.bookings;
BEGIN
  UPDATE booking.resources SET is_bookable = true WHERE id = vr;  -- hidden by the block above
  INSERT INTO booking.services (id, organization_id, name, duration_minutes) VALUES
    (session, lab, 'Supervised session', 60), (training, lab, 'Staff training', 60);
  INSERT INTO booking.service_rules (service_id, organization_id, max_concurrent_bookings, auto_confirm) VALUES (session, lab, 2, true);
  INSERT INTO booking.service_rules (service_id, organization_id, staff_only) VALUES (training, lab, true);

  -- Two supervised sessions at once across the lab, whatever the resource; not a third.
  PERFORM pg_temp.act_as('client');
  b := booking.book(vr, '2030-03-05 10:00 America/New_York', '2030-03-05 11:00 America/New_York', 1, session);
  PERFORM pg_temp.check(b.status = 'approved', 'the service auto-confirms');
  PERFORM booking.book(printer, '2030-03-05 10:30 America/New_York', '2030-03-05 11:30 America/New_York', 1, session);
  BEGIN
    PERFORM booking.book(scanner, '2030-03-05 10:45 America/New_York', '2030-03-05 11:15 America/New_York', 1, session);
    RAISE EXCEPTION 'a third concurrent session was accepted';
  EXCEPTION WHEN SQLSTATE 'PT409' THEN
    GET STACKED DIAGNOSTICS b.title = PG_EXCEPTION_DETAIL, b.client_notes = MESSAGE_TEXT;
    PERFORM pg_temp.check(b.title = 'capacity' AND b.client_notes = 'This service is fully booked at that time.', 'service limit: ' || b.client_notes);
  END;
  -- Once the first has ended, the scanner is fine; so is the scanner without the service.
  PERFORM booking.book(scanner, '2030-03-05 11:00 America/New_York', '2030-03-05 12:00 America/New_York', 1, session);
  PERFORM booking.book(scanner, '2030-03-05 10:00 America/New_York', '2030-03-05 11:00 America/New_York');
  -- A cancelled session frees its place.
  PERFORM pg_temp.act_as('superuser');
  UPDATE booking.bookings SET status = 'cancelled' WHERE id = b.id;
  PERFORM pg_temp.act_as('client2');
  PERFORM booking.book(vr, '2030-03-05 10:00 America/New_York', '2030-03-05 11:00 America/New_York', 1, session);

  -- Staff-only: the client is refused with 42501, staff may book it.
  PERFORM pg_temp.act_as('client');
  PERFORM pg_temp.expect_error('42501', format('SELECT booking.book(%L, ''2030-03-05 14:00 America/New_York'', ''2030-03-05 15:00 America/New_York'', 1, %L)', vr, training));
  PERFORM pg_temp.act_as('staff');
  b := booking.book(vr, '2030-03-05 14:00 America/New_York', '2030-03-05 15:00 America/New_York', 1, training);
  PERFORM pg_temp.check(b.booked_by = 'u-staff' AND b.service_id = training, 'staff books the staff-only service');
  PERFORM pg_temp.act_as('superuser');
END $$;

-- Time zones: the names the tables accept are the ones the engine can compute with.
DO $$
BEGIN
  PERFORM pg_temp.check(booking.is_valid_time_zone('Europe/Paris') AND booking.is_valid_time_zone('Asia/Kathmandu')
                        AND booking.is_valid_time_zone('Pacific/Chatham') AND booking.is_valid_time_zone('UTC'), 'IANA names');
  PERFORM pg_temp.check(NOT booking.is_valid_time_zone('europe/paris'), 'exact spelling only (the engine reads it exactly)');
  PERFORM pg_temp.check(NOT booking.is_valid_time_zone('Mars/Olympus_Mons') AND NOT booking.is_valid_time_zone(NULL)
                        AND NOT booking.is_valid_time_zone('') AND NOT booking.is_valid_time_zone('<+03>-3'), 'unknown names');
  -- Every zone both sides know is accepted; what Postgres lists but the engine cannot read
  -- ('Factory', a placeholder zone in Postgres's list) is not.
  PERFORM pg_temp.check(NOT booking.is_valid_time_zone('Factory'), 'Factory');
  PERFORM pg_temp.check((SELECT count(*) FROM pg_timezone_names WHERE booking.is_valid_time_zone(name)) > 300, 'hundreds of zones');
  PERFORM pg_temp.expect_error('22023', 'INSERT INTO booking.organizations (slug, name, time_zone) VALUES (''tz-test'', ''TZ'', ''europe/paris'')');
  PERFORM pg_temp.expect_error('22023', 'UPDATE booking.resources SET time_zone = ''Mars/Olympus_Mons'' WHERE id = ''00000000-0000-4000-a000-000000000101''');
END $$;

-- Long bookings: the engine reads a resource's bookings by their ends up to a day past the
-- window, and those still running after that through the GiST index. A booking of three days
-- that covers the window is found either way, by every function that reads bookings; so is
-- the seat a long booking holds on a resource of several seats.
DO $$
DECLARE
  scanner constant uuid := '00000000-0000-4000-a000-000000000104';
  space   constant uuid := '00000000-0000-4000-a000-000000000103';
  v_next  timestamptz;
BEGIN
  INSERT INTO booking.bookings (organization_id, resource_id, booked_by, starts_at, ends_at, seats, status)
  VALUES ('00000000-0000-4000-a000-000000000001', scanner, 'u-staff', '2030-04-01 12:00 America/New_York',
          '2030-04-04 12:00 America/New_York', 1, 'approved'),
         ('00000000-0000-4000-a000-000000000001', space, 'u-staff', '2030-04-01 12:00 America/New_York',
          '2030-04-04 12:00 America/New_York', 11, 'approved');
  PERFORM pg_temp.check(booking.booking_refusal(scanner, '2030-04-02 11:00 America/New_York', '2030-04-02 12:00 America/New_York') = 'overlap',
                        'inside a three-day booking: overlap');
  PERFORM pg_temp.check(pg_temp.slot_starts(scanner, '2030-04-02') = '', 'no slot inside a three-day booking');
  PERFORM pg_temp.check(NOT booking.can_book_resource(scanner, '2030-04-03 16:00 America/New_York', '2030-04-03 17:00 America/New_York'),
                        'the last day but one of a three-day booking');
  PERFORM pg_temp.check(booking.booking_refusal(space, '2030-04-02 11:00 America/New_York', '2030-04-02 12:00 America/New_York', 2) = 'capacity',
                        'a long booking''s seats count: 11 of 12 taken');
  PERFORM pg_temp.check(booking.booking_refusal(space, '2030-04-02 11:00 America/New_York', '2030-04-02 12:00 America/New_York', 1) IS NULL,
                        'the twelfth seat is free');
  PERFORM pg_temp.check((SELECT string_agg(coalesce(refusal, 'free'), ' ' ORDER BY occurrence_start)
                         FROM booking.preview_series(scanner, '2030-04-02 11:00 America/New_York', '2030-04-02 12:00 America/New_York',
                                                     'FREQ=WEEKLY;COUNT=2')) = 'overlap free',
                        'preview_series: the first occurrence falls in the long booking');
  SELECT slot_start INTO v_next FROM booking.find_next_slot(ARRAY[scanner], '2030-04-01 14:00 America/New_York', 60);
  PERFORM pg_temp.check(v_next = '2030-04-04 12:00 America/New_York', 'next slot when the long booking ends: ' || v_next);
  DELETE FROM booking.bookings WHERE resource_id IN (scanner, space) AND starts_at = '2030-04-01 12:00 America/New_York';
END $$;
