-- Pools of resources: get_available_slots_any and find_next_slot through SQL.
CREATE FUNCTION pg_temp.any_slots(p_resources uuid[], p_day date, p_minutes int DEFAULT 60, p_seats int DEFAULT 1) RETURNS text
LANGUAGE sql AS $$
  SELECT coalesce(string_agg(to_char(slot_start AT TIME ZONE 'America/New_York', 'HH24:MI') || '=' ||
                             (SELECT string_agg(right(r::text, 3), '+' ORDER BY n) FROM unnest(resource_ids) WITH ORDINALITY AS u(r, n)),
                             ' ' ORDER BY slot_start), '')
  FROM booking.get_available_slots_any(p_resources,
         (p_day + time '00:00') AT TIME ZONE 'America/New_York',
         (p_day + 1 + time '00:00') AT TIME ZONE 'America/New_York', p_minutes, NULL, p_seats)
$$;

-- The next slot as 'local start=resource' (New York time), or '' when there is none.
CREATE FUNCTION pg_temp.next(p_resources uuid[], p_after text, p_minutes int DEFAULT 60, p_seats int DEFAULT 1,
                             p_within interval DEFAULT '90 days') RETURNS text
LANGUAGE sql AS $$
  SELECT coalesce((SELECT to_char(slot_start AT TIME ZONE 'America/New_York', 'YYYY-MM-DD HH24:MI') || '=' || right(resource_id::text, 3)
                   FROM booking.find_next_slot(p_resources, (p_after || ' America/New_York')::timestamptz, p_minutes, p_seats, p_within)), '')
$$;

DO $$
DECLARE
  vr      constant uuid := '00000000-0000-4000-a000-000000000101';
  printer constant uuid := '00000000-0000-4000-a000-000000000102';
  space   constant uuid := '00000000-0000-4000-a000-000000000103';
  room    constant uuid := '00000000-0000-4000-a000-000000000201';
  monday  constant date := '2030-03-04';
  v_got   text;
BEGIN
  -- Monday 4 March 2030: the VR Headset is booked 10-11, the 3D Printer is free; the lab is
  -- open 10-13 and 14-18. The free resources are listed in the order they were asked for.
  v_got := pg_temp.any_slots(ARRAY[vr, printer], monday);
  PERFORM pg_temp.check(v_got = '10:00=102 11:00=101+102 12:00=101+102 14:00=101+102 15:00=101+102 16:00=101+102 17:00=101+102', 'any: ' || v_got);
  v_got := pg_temp.any_slots(ARRAY[printer, vr, printer], monday);
  PERFORM pg_temp.check(v_got LIKE '10:00=102 11:00=102+101 %', 'pool order, duplicates dropped: ' || v_got);
  -- The pool's slots are exactly the union of each resource's.
  PERFORM pg_temp.check(NOT EXISTS (
    (SELECT a.slot_start, a.slot_end, r FROM booking.get_available_slots_any(ARRAY[vr, printer, space], '2030-03-04 00:00Z', '2030-03-11 00:00Z', 45) a, unnest(a.resource_ids) r
     EXCEPT
     SELECT s.slot_start, s.slot_end, r FROM unnest(ARRAY[vr, printer, space]) r, booking.get_available_slots(r, '2030-03-04 00:00Z', '2030-03-11 00:00Z', 45) s)
    UNION ALL
    (SELECT s.slot_start, s.slot_end, r FROM unnest(ARRAY[vr, printer, space]) r, booking.get_available_slots(r, '2030-03-04 00:00Z', '2030-03-11 00:00Z', 45) s
     EXCEPT
     SELECT a.slot_start, a.slot_end, r FROM booking.get_available_slots_any(ARRAY[vr, printer, space], '2030-03-04 00:00Z', '2030-03-11 00:00Z', 45) a, unnest(a.resource_ids) r)),
    'the pool is the union of its resources');
  -- Seats: 9 of the Digital Lab's 12 are not free 14-16 (4 are taken).
  PERFORM pg_temp.check(pg_temp.any_slots(ARRAY[space], monday, 60, 9) = '10:00=103 11:00=103 12:00=103 16:00=103 17:00=103', 'pool seats');

  -- The next slot: the earliest in the pool, ties to the first listed.
  PERFORM pg_temp.check(pg_temp.next(ARRAY[vr], '2030-03-04 10:00') = '2030-03-04 11:00=101', 'VR is busy at 10');
  PERFORM pg_temp.check(pg_temp.next(ARRAY[vr, printer], '2030-03-04 10:00') = '2030-03-04 10:00=102', 'the printer is free at 10');
  PERFORM pg_temp.check(pg_temp.next(ARRAY[vr, printer], '2030-03-04 11:00') = '2030-03-04 11:00=101', 'tie: the first listed');
  PERFORM pg_temp.check(pg_temp.next(ARRAY[printer, vr], '2030-03-04 11:00') = '2030-03-04 11:00=102', 'tie: the first listed');
  PERFORM pg_temp.check(pg_temp.next(ARRAY[vr], '2030-03-04 10:30') = '2030-03-04 11:00=101', 'on the grid, not at p_after');
  PERFORM pg_temp.check(pg_temp.next(ARRAY[space], '2030-03-04 14:00', 60, 9) = '2030-03-04 16:00=103', 'seats');
  -- Saturday closes at 16:00 and Sunday is closed: the answer is on Monday, past the first
  -- day searched; within one day there is none.
  PERFORM pg_temp.check(pg_temp.next(ARRAY[vr, printer], '2030-03-09 15:30') = '2030-03-11 10:00=101', 'after the weekend');
  PERFORM pg_temp.check(pg_temp.next(ARRAY[vr, printer], '2030-03-09 15:30', 60, 1, '1 day') = '', 'nothing within a day');
  -- Independence Day (Thursday 4 July 2030) is closed.
  PERFORM pg_temp.check(pg_temp.next(ARRAY[vr], '2030-07-04 00:00') = '2030-07-05 10:00=101', 'closed on 4 July');
  -- Months ahead, past the first chunks.
  INSERT INTO booking.availability_exceptions (organization_id, resource_id, during, kind)
  VALUES ('00000000-0000-4000-a000-000000000001', vr, '[2030-03-04 00:00 America/New_York, 2030-05-20 00:00 America/New_York)', 'closed');
  PERFORM pg_temp.check(pg_temp.next(ARRAY[vr], '2030-03-04 00:00') = '2030-05-20 10:00=101', 'eleven weeks ahead: ' || pg_temp.next(ARRAY[vr], '2030-03-04 00:00'));
  PERFORM pg_temp.check(pg_temp.next(ARRAY[vr], '2030-03-04 00:00', 60, 1, '60 days') = '', 'not within 60 days');

  -- Bad input: 22023.
  PERFORM pg_temp.expect_error('22023', 'SELECT * FROM booking.get_available_slots_any(NULL, now(), now() + interval ''1 day'')');
  PERFORM pg_temp.expect_error('22023', 'SELECT * FROM booking.get_available_slots_any(''{}'', now(), now() + interval ''1 day'')');
  PERFORM pg_temp.expect_error('22023', format('SELECT * FROM booking.get_available_slots_any(ARRAY[%L, NULL]::uuid[], now(), now() + interval ''1 day'')', vr));
  PERFORM pg_temp.expect_error('22023', format('SELECT * FROM booking.get_available_slots_any(ARRAY[%L, ''00000000-0000-4000-a000-0000000009ff'']::uuid[], now(), now() + interval ''1 day'')', vr));
  PERFORM pg_temp.expect_error('22023', format('SELECT * FROM booking.get_available_slots_any(ARRAY[%L]::uuid[], now(), now() - interval ''1 day'')', vr));
  PERFORM pg_temp.expect_error('22023', format('SELECT * FROM booking.get_available_slots_any(ARRAY[%L]::uuid[], now(), now() + interval ''1 day'', 0)', vr));
  PERFORM pg_temp.expect_error('22023', format('SELECT * FROM booking.get_available_slots_any(ARRAY[%L]::uuid[], now(), now() + interval ''1 day'', 60, NULL, 0)', vr));
  PERFORM pg_temp.expect_error('22023', format('SELECT * FROM booking.get_available_slots_any(ARRAY[%L]::uuid[], now(), now() + interval ''10 years'', 1)', vr));
  PERFORM pg_temp.expect_error('22023', 'SELECT * FROM booking.get_available_slots_any(ARRAY(SELECT gen_random_uuid() FROM generate_series(1, 101)), now(), now() + interval ''1 day'')');
  PERFORM pg_temp.expect_error('22023', 'SELECT * FROM booking.find_next_slot(NULL, now(), 60)');
  PERFORM pg_temp.expect_error('22023', format('SELECT * FROM booking.find_next_slot(ARRAY[%L]::uuid[], NULL, 60)', vr));
  PERFORM pg_temp.expect_error('22023', format('SELECT * FROM booking.find_next_slot(ARRAY[%L]::uuid[], now(), NULL)', vr));
  PERFORM pg_temp.expect_error('22023', format('SELECT * FROM booking.find_next_slot(ARRAY[%L]::uuid[], now(), 0)', vr));
  PERFORM pg_temp.expect_error('22023', format('SELECT * FROM booking.find_next_slot(ARRAY[%L]::uuid[], now(), 60, 0)', vr));
  PERFORM pg_temp.expect_error('22023', format('SELECT * FROM booking.find_next_slot(ARRAY[%L]::uuid[], now(), 60, 1, ''-1 day'')', vr));
  PERFORM pg_temp.expect_error('22023', format('SELECT * FROM booking.find_next_slot(ARRAY[%L]::uuid[], now(), 60, 1, ''2 years'')', vr));
  PERFORM pg_temp.expect_error('22023', format('SELECT * FROM booking.find_next_slot(ARRAY[%L]::uuid[], ''infinity'', 60)', vr));
  PERFORM pg_temp.expect_error('22023', 'SELECT * FROM booking.find_next_slot(''{00000000-0000-4000-a000-0000000009ff}'', now(), 60)');

  -- Who may ask: the same rule as for one resource. A private organization's room is unknown
  -- to anonymous visitors and to members of other organizations, even inside a pool.
  PERFORM pg_temp.act_as('anon');
  PERFORM pg_temp.check(pg_temp.any_slots(ARRAY[printer], monday) <> '', 'anon sees the public lab''s pool');
  PERFORM pg_temp.check(pg_temp.next(ARRAY[printer], '2030-03-04 10:00') = '2030-03-04 10:00=102', 'anon finds the next slot');
  PERFORM pg_temp.expect_error('22023', format('SELECT * FROM booking.get_available_slots_any(ARRAY[%L, %L]::uuid[], now(), now() + interval ''1 day'')', printer, room));
  PERFORM pg_temp.expect_error('22023', format('SELECT * FROM booking.find_next_slot(ARRAY[%L, %L]::uuid[], now(), 60)', printer, room));
  PERFORM pg_temp.act_as('client');
  PERFORM pg_temp.expect_error('22023', format('SELECT * FROM booking.find_next_slot(ARRAY[%L]::uuid[], now(), 60)', room));
  PERFORM pg_temp.act_as('outsider');
  PERFORM pg_temp.check((SELECT to_char(slot_start AT TIME ZONE 'Europe/Lisbon', 'HH24:MI') FROM booking.find_next_slot(ARRAY[room], '2030-03-04 00:00Z', 60)) = '10:00',
                        'the clinic''s admin finds its room free at 10:00 Lisbon (09:00 is booked)');
  PERFORM pg_temp.act_as('superuser');
END $$;
