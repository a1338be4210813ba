-- Every data rule with its bad input and the SQLSTATE it must raise; the good inputs next to
-- them prove the rule is not simply refusing everything.
DO $$
DECLARE
  lab     constant uuid := '00000000-0000-4000-a000-000000000001';
  clinic  constant uuid := '00000000-0000-4000-a000-000000000002';
  vr      constant uuid := '00000000-0000-4000-a000-000000000101';
  space   constant uuid := '00000000-0000-4000-a000-000000000103';
  scanner constant uuid := '00000000-0000-4000-a000-000000000104';
  room    constant uuid := '00000000-0000-4000-a000-000000000201';
  ins     constant text := 'INSERT INTO booking.bookings (organization_id, resource_id, booked_by, starts_at, ends_at, status, seats) VALUES ';
  v_id    uuid;
BEGIN
  -- time order, seats, status values
  PERFORM pg_temp.expect_error('23514', ins || format('(%L, %L, ''u'', ''2030-05-01 11:00Z'', ''2030-05-01 10:00Z'', ''pending'', 1)', lab, vr));
  PERFORM pg_temp.expect_error('23514', ins || format('(%L, %L, ''u'', ''2030-05-01 10:00Z'', ''2030-05-01 10:00Z'', ''pending'', 1)', lab, vr));
  PERFORM pg_temp.expect_error('23514', ins || format('(%L, %L, ''u'', ''2030-05-01 10:00Z'', ''infinity'', ''pending'', 1)', lab, vr));
  PERFORM pg_temp.expect_error('23514', ins || format('(%L, %L, ''u'', ''2030-05-01 10:00Z'', ''2030-05-01 11:00Z'', ''pending'', 0)', lab, space));
  PERFORM pg_temp.expect_error('23514', ins || format('(%L, %L, ''u'', ''2030-05-01 10:00Z'', ''2030-05-01 11:00Z'', ''confirmed'', 1)', lab, vr));
  PERFORM pg_temp.expect_error('23502', ins || format('(%L, %L, ''u'', NULL, ''2030-05-01 11:00Z'', ''pending'', 1)', lab, vr));
  PERFORM pg_temp.expect_error('23514', format('INSERT INTO booking.bookings (organization_id, resource_id, booked_by, starts_at, ends_at, source) VALUES (%L, %L, ''u'', ''2030-05-01 10:00Z'', ''2030-05-01 11:00Z'', ''fax'')', lab, vr));

  -- cross-tenant references: a lab booking on the clinic's room, a clinic rule on a lab resource
  PERFORM pg_temp.expect_error('23503', ins || format('(%L, %L, ''u'', ''2030-05-01 10:00Z'', ''2030-05-01 11:00Z'', ''pending'', 1)', lab, room));
  PERFORM pg_temp.expect_error('23503', format('INSERT INTO booking.availability_rules (organization_id, resource_id, day_of_week, start_time, end_time) VALUES (%L, %L, 1, ''09:00'', ''10:00'')', clinic, vr));
  PERFORM pg_temp.expect_error('23503', format('INSERT INTO booking.booking_services (booking_id, organization_id, service_id, position, duration_minutes) VALUES (''00000000-0000-4000-a000-000000000403'', %L, ''00000000-0000-4000-a000-000000000301'', 1, 30)', clinic));

  -- no overlap on a capacity-1 resource; touching is fine; cancelled bookings free the time
  EXECUTE ins || format('(%L, %L, ''u'', ''2030-05-01 10:00Z'', ''2030-05-01 11:00Z'', ''approved'', 1) RETURNING id', lab, vr) INTO v_id;
  PERFORM pg_temp.expect_error('23P01', ins || format('(%L, %L, ''u2'', ''2030-05-01 10:30Z'', ''2030-05-01 11:30Z'', ''pending'', 1)', lab, vr));
  PERFORM pg_temp.expect_error('23P01', ins || format('(%L, %L, ''u2'', ''2030-05-01 09:00Z'', ''2030-05-01 12:00Z'', ''approved'', 1)', lab, vr));
  PERFORM pg_temp.expect_error('23P01', ins || format('(%L, %L, ''u2'', ''2030-05-01 10:00Z'', ''2030-05-01 11:00Z'', ''pending'', 2)', lab, vr));
  EXECUTE ins || format('(%L, %L, ''u2'', ''2030-05-01 11:00Z'', ''2030-05-01 12:00Z'', ''pending'', 1)', lab, vr);
  EXECUTE ins || format('(%L, %L, ''u3'', ''2030-05-01 10:00Z'', ''2030-05-01 11:00Z'', ''draft'', 1)', lab, vr);
  EXECUTE ins || format('(%L, %L, ''u3'', ''2030-05-01 10:00Z'', ''2030-05-01 11:00Z'', ''rejected'', 1)', lab, vr);
  PERFORM pg_temp.expect_error('23P01', format('UPDATE booking.bookings SET status = ''pending'' WHERE booked_by = ''u3'' AND status = ''draft'''));
  UPDATE booking.bookings SET status = 'cancelled' WHERE id = v_id;
  UPDATE booking.bookings SET status = 'pending' WHERE booked_by = 'u3' AND status = 'draft';
  -- moving a booking onto another holding one is refused too
  PERFORM pg_temp.expect_error('23P01', 'UPDATE booking.bookings SET starts_at = ''2030-05-01 10:30Z'' WHERE booked_by = ''u2'' AND starts_at = ''2030-05-01 11:00Z''');

  -- capacity N: the Digital Lab holds 12 seats; 4 are taken 14:00-16:00 New York on 2030-03-04
  EXECUTE ins || format('(%L, %L, ''u'', ''2030-03-04 15:00 America/New_York'', ''2030-03-04 17:00 America/New_York'', ''pending'', 8)', lab, space);
  PERFORM pg_temp.expect_error('23P01', ins || format('(%L, %L, ''u'', ''2030-03-04 15:30 America/New_York'', ''2030-03-04 15:45 America/New_York'', ''pending'', 1)', lab, space));
  PERFORM pg_temp.expect_error('23P01', ins || format('(%L, %L, ''u'', ''2030-03-04 12:00 America/New_York'', ''2030-03-04 18:00 America/New_York'', ''pending'', 1)', lab, space));
  PERFORM pg_temp.expect_error('23P01', ins || format('(%L, %L, ''u'', ''2030-05-02 10:00Z'', ''2030-05-02 11:00Z'', ''pending'', 13)', lab, space));
  -- 16:00-17:00 only the 8 are held: 4 more fit exactly, a 5th does not
  EXECUTE ins || format('(%L, %L, ''u'', ''2030-03-04 16:00 America/New_York'', ''2030-03-04 17:00 America/New_York'', ''approved'', 4)', lab, space);
  PERFORM pg_temp.expect_error('23P01', ins || format('(%L, %L, ''u'', ''2030-03-04 16:59 America/New_York'', ''2030-03-04 17:30 America/New_York'', ''pending'', 1)', lab, space));
  EXECUTE ins || format('(%L, %L, ''u'', ''2030-03-04 17:00 America/New_York'', ''2030-03-04 18:00 America/New_York'', ''pending'', 12)', lab, space);
  -- capacity can only shrink to what is held; the space holds 12 at once now
  PERFORM pg_temp.expect_error('23P01', format('UPDATE booking.resources SET capacity = 11 WHERE id = %L', space));
  UPDATE booking.resources SET capacity = 20 WHERE id = space;
  -- a capacity-1 resource that grows takes overlapping bookings, and cannot shrink back
  UPDATE booking.resources SET capacity = 2 WHERE id = vr;
  EXECUTE ins || format('(%L, %L, ''u4'', ''2030-05-01 11:30Z'', ''2030-05-01 12:30Z'', ''pending'', 1)', lab, vr);
  PERFORM pg_temp.expect_error('23P01', format('UPDATE booking.resources SET capacity = 1 WHERE id = %L', vr));

  -- resources that are not bookable take no new bookings
  UPDATE booking.resources SET is_bookable = false WHERE id = scanner;
  PERFORM pg_temp.expect_error('23514', ins || format('(%L, %L, ''u'', ''2030-05-01 10:00Z'', ''2030-05-01 11:00Z'', ''pending'', 1)', lab, scanner));

  -- status transitions: only the legal ones, for everyone (here a superuser)
  PERFORM pg_temp.expect_error('23514', 'UPDATE booking.bookings SET status = ''pending'' WHERE id = ''00000000-0000-4000-a000-000000000402''');
  PERFORM pg_temp.expect_error('23514', 'UPDATE booking.bookings SET status = ''draft'' WHERE id = ''00000000-0000-4000-a000-000000000401''');
  PERFORM pg_temp.expect_error('23514', 'UPDATE booking.bookings SET status = ''shipped'' WHERE id = ''00000000-0000-4000-a000-000000000401''');
  UPDATE booking.bookings SET status = 'completed' WHERE id = '00000000-0000-4000-a000-000000000402';
  PERFORM pg_temp.expect_error('23514', 'UPDATE booking.bookings SET status = ''cancelled'' WHERE id = ''00000000-0000-4000-a000-000000000402''');
  PERFORM pg_temp.expect_error('22023', 'SELECT booking.transition_allowed(''pending'', ''confirmed'', true)');

  -- the other tables' checks
  PERFORM pg_temp.expect_error('23514', format('INSERT INTO booking.resources (organization_id, title, capacity) VALUES (%L, ''x'', 0)', lab));
  PERFORM pg_temp.expect_error('23514', format('INSERT INTO booking.resources (organization_id, title, kind) VALUES (%L, ''x'', ''vehicle'')', lab));
  PERFORM pg_temp.expect_error('22023', format('INSERT INTO booking.resources (organization_id, title, time_zone) VALUES (%L, ''x'', ''Mars/Olympus'')', lab));
  PERFORM pg_temp.expect_error('22023', format('UPDATE booking.organizations SET time_zone = ''EST+5'' WHERE id = %L', lab));
  PERFORM pg_temp.expect_error('23514', format('INSERT INTO booking.members (organization_id, user_id, role) VALUES (%L, ''x'', ''superhero'')', lab));
  PERFORM pg_temp.expect_error('23514', format('INSERT INTO booking.availability_rules (organization_id, day_of_week, start_time, end_time) VALUES (%L, 7, ''09:00'', ''10:00'')', lab));
  PERFORM pg_temp.expect_error('23514', format('INSERT INTO booking.availability_rules (organization_id, day_of_week, start_time, end_time) VALUES (%L, 1, ''10:00'', ''09:00'')', lab));
  INSERT INTO booking.availability_rules (organization_id, day_of_week, start_time, end_time) VALUES (lab, 0, '18:00', '24:00');
  PERFORM pg_temp.expect_error('23514', format('INSERT INTO booking.availability_exceptions (organization_id, during, kind) VALUES (%L, ''[2030-01-01Z,)'', ''closed'')', lab));
  PERFORM pg_temp.expect_error('23514', format('INSERT INTO booking.availability_exceptions (organization_id, during, kind) VALUES (%L, ''[2030-01-01Z,2030-01-02Z)'', ''holiday'')', lab));
  PERFORM pg_temp.expect_error('23514', format('INSERT INTO booking.services (organization_id, name, duration_minutes) VALUES (%L, ''x'', 0)', lab));
  PERFORM pg_temp.expect_error('23514', format('INSERT INTO booking.conflicts (organization_id, resource_id, conflict_type) VALUES (%L, %L, ''gremlins'')', lab, vr));
  PERFORM pg_temp.expect_error('23505', format('INSERT INTO booking.organizations (slug, name) VALUES (''oolite'', ''Copy'')'));
END $$;

-- updated_at follows real changes only
DO $$
DECLARE before timestamptz;
BEGIN
  -- set an old updated_at behind the triggers' back (replica mode fires no ordinary trigger)
  SET LOCAL session_replication_role = replica;
  UPDATE booking.resources SET updated_at = '2000-01-01Z' WHERE id = '00000000-0000-4000-a000-000000000102';
  SET LOCAL session_replication_role = origin;
  UPDATE booking.resources SET title = title WHERE id = '00000000-0000-4000-a000-000000000102';
  SELECT updated_at INTO before FROM booking.resources WHERE id = '00000000-0000-4000-a000-000000000102';
  PERFORM pg_temp.check(before = '2000-01-01Z', 'a no-op update keeps updated_at');
  UPDATE booking.resources SET title = '3D Printer (MK4)' WHERE id = '00000000-0000-4000-a000-000000000102';
  PERFORM pg_temp.check((SELECT updated_at FROM booking.resources WHERE id = '00000000-0000-4000-a000-000000000102') = now(),
                        'a real update sets updated_at');
END $$;

-- the audit log is append-only for every role, superusers included
DO $$
BEGIN
  PERFORM pg_temp.check((SELECT count(*) FROM booking.audit_log) > 0, 'writes were audited');
  PERFORM pg_temp.expect_error('42501', 'UPDATE booking.audit_log SET reason = ''rewritten''');
  PERFORM pg_temp.expect_error('42501', 'DELETE FROM booking.audit_log');
  PERFORM pg_temp.expect_error('42501', 'TRUNCATE booking.audit_log');
  PERFORM pg_temp.act_as('service_role');
  PERFORM pg_temp.expect_error('42501', 'UPDATE booking.audit_log SET reason = ''rewritten''');
  PERFORM pg_temp.expect_error('42501', 'DELETE FROM booking.audit_log');
  PERFORM pg_temp.act_as('admin');
  PERFORM pg_temp.expect_error('42501', 'DELETE FROM booking.audit_log');
  PERFORM pg_temp.act_as('superuser');
END $$;
