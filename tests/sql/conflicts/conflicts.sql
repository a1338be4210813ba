-- detect_conflicts and resolve_conflict: each kind of conflict found in imported data, recorded
-- once however often detection runs, resolved by staff; every refusal with its SQLSTATE.

-- Data as an import with triggers off leaves it (session_replication_role = replica): an
-- overlap on the capacity-1 VR Headset, 13 seats in the 12-seat Digital Lab, bookings outside
-- the hours or on a closed day, and a resource moved to another zone that follows the lab's hours.
SET LOCAL session_replication_role = replica;
INSERT INTO booking.bookings (id, organization_id, resource_id, booked_by, starts_at, ends_at, status, seats) VALUES
  ('00000000-0000-4000-a000-0000000004c1', '00000000-0000-4000-a000-000000000001', '00000000-0000-4000-a000-000000000101',
   'u-client2', '2030-03-04 10:30 America/New_York', '2030-03-04 11:30 America/New_York', 'approved', 1),
  ('00000000-0000-4000-a000-0000000004c2', '00000000-0000-4000-a000-000000000001', '00000000-0000-4000-a000-000000000103',
   'u-member', '2030-03-04 15:00 America/New_York', '2030-03-04 17:00 America/New_York', 'approved', 9),
  -- Saturday hours end at 16:00
  ('00000000-0000-4000-a000-0000000004c3', '00000000-0000-4000-a000-000000000001', '00000000-0000-4000-a000-000000000102',
   'u-client', '2030-03-09 17:00 America/New_York', '2030-03-09 18:00 America/New_York', 'pending', 1),
  -- Independence Day is closed
  ('00000000-0000-4000-a000-0000000004c4', '00000000-0000-4000-a000-000000000001', '00000000-0000-4000-a000-000000000102',
   'u-client', '2030-07-04 11:00 America/New_York', '2030-07-04 12:00 America/New_York', 'approved', 1),
  -- across the 13:00-14:00 break
  ('00000000-0000-4000-a000-0000000004c5', '00000000-0000-4000-a000-000000000001', '00000000-0000-4000-a000-000000000102',
   'u-client', '2030-03-05 12:30 America/New_York', '2030-03-05 14:30 America/New_York', 'approved', 1),
  -- exactly a whole open period, and a cancelled one out of hours: neither is a conflict
  ('00000000-0000-4000-a000-0000000004c6', '00000000-0000-4000-a000-000000000001', '00000000-0000-4000-a000-000000000102',
   'u-client', '2030-03-06 10:00 America/New_York', '2030-03-06 13:00 America/New_York', 'approved', 1),
  ('00000000-0000-4000-a000-0000000004c7', '00000000-0000-4000-a000-000000000001', '00000000-0000-4000-a000-000000000102',
   'u-client', '2030-03-06 20:00 America/New_York', '2030-03-06 21:00 America/New_York', 'cancelled', 1);
UPDATE booking.resources SET time_zone = 'Europe/Lisbon' WHERE id = '00000000-0000-4000-a000-000000000104';
SET LOCAL session_replication_role = origin;

DO $$
DECLARE
  lab      constant uuid := '00000000-0000-4000-a000-000000000001';
  v_found  booking.conflicts[];
  v_again  booking.conflicts[];
  v_before bigint;
  v_row    booking.conflicts;
  v_persona text;
BEGIN
  PERFORM pg_temp.act_as('staff');
  SELECT array_agg(c ORDER BY c.conflict_type, c.fingerprint) INTO v_found
  FROM booking.detect_conflicts(lab, '2030-03-01', '2030-08-01') c;
  PERFORM pg_temp.check((SELECT array_agg(c.conflict_type ORDER BY c.conflict_type) FROM unnest(v_found) c)
                        = '{capacity_exceeded,double_booking,resource_unavailable,resource_unavailable,resource_unavailable,timezone_mismatch}',
                        format('one of each, three bookings out of hours: %s', (SELECT array_agg(c.fingerprint) FROM unnest(v_found) c)));
  PERFORM pg_temp.check(EXISTS (SELECT 1 FROM unnest(v_found) c WHERE c.conflict_type = 'double_booking'
                                AND c.resource_id = '00000000-0000-4000-a000-000000000101' AND c.severity = 'high' AND c.status = 'open'
                                AND c.details -> 'booking_ids' = '["00000000-0000-4000-a000-000000000401", "00000000-0000-4000-a000-0000000004c1"]'
                                AND (c.details ->> 'from')::timestamptz = '2030-03-04 10:30 America/New_York'
                                AND (c.details ->> 'to')::timestamptz = '2030-03-04 11:00 America/New_York'), 'the overlapping pair');
  PERFORM pg_temp.check(EXISTS (SELECT 1 FROM unnest(v_found) c WHERE c.conflict_type = 'capacity_exceeded'
                                AND c.details @> '{"peak_seats": 13, "capacity": 12}'
                                AND (c.details ->> 'from')::timestamptz = '2030-03-04 15:00 America/New_York'
                                AND (c.details ->> 'to')::timestamptz = '2030-03-04 16:00 America/New_York'
                                AND c.details -> 'booking_ids' = '["00000000-0000-4000-a000-000000000402", "00000000-0000-4000-a000-0000000004c2"]'),
                        'the stretch above capacity');
  PERFORM pg_temp.check((SELECT array_agg((c.details ->> 'booking_id') || ' ' || (c.details ->> 'cause') ORDER BY c.details ->> 'booking_id')
                         FROM unnest(v_found) c WHERE c.conflict_type = 'resource_unavailable')
                        = '{"00000000-0000-4000-a000-0000000004c3 outside_hours","00000000-0000-4000-a000-0000000004c4 closed","00000000-0000-4000-a000-0000000004c5 outside_hours"}',
                        'out of hours, on a closed day, across a break');
  PERFORM pg_temp.check(EXISTS (SELECT 1 FROM unnest(v_found) c WHERE c.conflict_type = 'timezone_mismatch'
                                AND c.resource_id = '00000000-0000-4000-a000-000000000104'
                                AND c.details @> '{"resource_time_zone": "Europe/Lisbon", "organization_time_zone": "America/New_York"}'),
                        'the scanner reads New York hours in Lisbon');

  -- Detecting again records nothing new and returns the same conflicts.
  v_before := (SELECT count(*) FROM booking.conflicts);
  SELECT array_agg(c ORDER BY c.conflict_type, c.fingerprint) INTO v_again FROM booking.detect_conflicts(lab, '2030-03-01', '2030-08-01') c;
  PERFORM pg_temp.check((SELECT count(*) FROM booking.conflicts) = v_before, 'nothing recorded twice');
  PERFORM pg_temp.check((SELECT array_agg(c.id) FROM unnest(v_again) c) = (SELECT array_agg(c.id) FROM unnest(v_found) c), 'the same rows');
  -- A window without the March bookings; the time-zone rule holds whatever the window.
  PERFORM pg_temp.check((SELECT array_agg(c.conflict_type ORDER BY c.conflict_type) FROM booking.detect_conflicts(lab, '2030-07-01', '2030-07-08') c)
                        = '{resource_unavailable,timezone_mismatch}', 'only July');

  -- Resolving: who and when are recorded; resolved conflicts are still reported, not recreated.
  v_row := booking.resolve_conflict(v_found[2].id, 'moved the second booking to the Quest 3');
  PERFORM pg_temp.check(v_row.status = 'resolved' AND v_row.resolved_by = 'u-staff' AND v_row.resolved_at = now()
                        AND v_row.resolution = 'moved the second booking to the Quest 3', format('resolved: %s', v_row));
  PERFORM pg_temp.check((SELECT c.status FROM booking.detect_conflicts(lab, '2030-03-01', '2030-08-01') c WHERE c.id = v_row.id) = 'resolved'
                        AND (SELECT count(*) FROM booking.conflicts) = v_before, 'still resolved after detecting again');
  PERFORM pg_temp.act_as('admin');
  v_row := booking.resolve_conflict(v_found[6].id, NULL, 'investigating');
  PERFORM pg_temp.check(v_row.status = 'investigating' AND v_row.resolved_by IS NULL AND v_row.resolved_at IS NULL, 'investigating');
  v_row := booking.resolve_conflict(v_found[6].id, 'local hours are meant', 'ignored');
  PERFORM pg_temp.check(v_row.status = 'ignored' AND v_row.resolved_by = 'u-admin', 'ignored by an admin');
  PERFORM pg_temp.act_as('service_role');
  PERFORM pg_temp.check((booking.resolve_conflict(v_found[6].id, 'reopened by the nightly check', 'open')).resolved_at IS NULL, 'open again');
  PERFORM pg_temp.check((SELECT count(*) FROM booking.detect_conflicts(lab, '2030-03-01', '2030-08-01')) = 6, 'service_role detects');

  -- Refusals, leaving no row behind.
  PERFORM pg_temp.act_as('superuser');
  v_before := (SELECT count(*) FROM booking.conflicts WHERE status = 'open');
  FOREACH v_persona IN ARRAY ARRAY['anon', 'client', 'member', 'outsider'] LOOP
    PERFORM pg_temp.act_as(v_persona);
    PERFORM pg_temp.expect_error('42501', format('SELECT * FROM booking.detect_conflicts(%L, ''2030-03-01'', ''2030-08-01'')', lab));
    PERFORM pg_temp.expect_error(CASE v_persona WHEN 'anon' THEN '42501' ELSE '22023' END,
                                 format('SELECT booking.resolve_conflict(%L, ''done'')', v_found[1].id));
  END LOOP;
  PERFORM pg_temp.act_as('staff');
  PERFORM pg_temp.expect_error('22023', 'SELECT * FROM booking.detect_conflicts(NULL, ''2030-03-01'', ''2030-08-01'')');
  PERFORM pg_temp.expect_error('22023', format('SELECT * FROM booking.detect_conflicts(%L, ''2030-08-01'', ''2030-03-01'')', lab));
  PERFORM pg_temp.expect_error('22023', format('SELECT * FROM booking.detect_conflicts(%L, ''2030-03-01'', ''2031-03-03'')', lab));
  PERFORM pg_temp.expect_error('22023', format('SELECT * FROM booking.detect_conflicts(%L, ''-infinity'', ''2030-03-01'')', lab));
  PERFORM pg_temp.expect_error('22023', format('SELECT booking.resolve_conflict(%L, ''done'', ''fixed'')', v_found[1].id));
  PERFORM pg_temp.expect_error('22023', format('SELECT booking.resolve_conflict(%L, ''  '')', v_found[1].id));
  PERFORM pg_temp.expect_error('22023', format('SELECT booking.resolve_conflict(%L, NULL, ''ignored'')', v_found[1].id));
  PERFORM pg_temp.expect_error('22023', 'SELECT booking.resolve_conflict(''00000000-0000-4000-a000-0000000009ff'', ''done'')');
  PERFORM pg_temp.expect_error('22023', 'SELECT booking.resolve_conflict(NULL, ''done'')');
  PERFORM pg_temp.act_as('service_role');
  PERFORM pg_temp.expect_error('22023', 'SELECT * FROM booking.detect_conflicts(''00000000-0000-4000-a000-0000000009ff'', ''2030-03-01'', ''2030-08-01'')');
  PERFORM pg_temp.act_as('superuser');
  PERFORM pg_temp.check((SELECT count(*) FROM booking.conflicts WHERE status = 'open') = v_before, 'refusals changed nothing');
END $$;
