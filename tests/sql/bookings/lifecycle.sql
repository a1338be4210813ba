-- Bookings as the people who use them: what a client, staff and an outsider may do, and the
-- trail each status change leaves.
DO $$
DECLARE
  lab    constant uuid := '00000000-0000-4000-a000-000000000001';
  vr     constant uuid := '00000000-0000-4000-a000-000000000101';
  printer constant uuid := '00000000-0000-4000-a000-000000000102';
  mine   constant uuid := '00000000-0000-4000-a000-000000000401';
  theirs constant uuid := '00000000-0000-4000-a000-000000000402';
  v_id   uuid;
  v_n    integer;
  t      record;
BEGIN
  PERFORM pg_temp.act_as('client');
  -- a client books for themselves: booked_by comes from the JWT
  INSERT INTO booking.bookings (organization_id, resource_id, starts_at, ends_at)
  VALUES (lab, printer, '2030-03-05 15:00 America/New_York', '2030-03-05 16:00 America/New_York')
  RETURNING id INTO v_id;
  PERFORM pg_temp.check((SELECT booked_by = 'u-client' AND status = 'pending' FROM booking.bookings WHERE id = v_id),
                        'booked_by defaults to the JWT subject, status to pending');
  -- ... and cannot book in someone else's name, approve themselves, or write staff fields
  PERFORM pg_temp.expect_error('42501', format('INSERT INTO booking.bookings (organization_id, resource_id, booked_by, starts_at, ends_at) VALUES (%L, %L, ''u-client2'', ''2030-03-06 15:00Z'', ''2030-03-06 16:00Z'')', lab, printer));
  PERFORM pg_temp.expect_error('42501', format('INSERT INTO booking.bookings (organization_id, resource_id, starts_at, ends_at, status) VALUES (%L, %L, ''2030-03-06 15:00Z'', ''2030-03-06 16:00Z'', ''approved'')', lab, printer));
  PERFORM pg_temp.expect_error('42501', format('INSERT INTO booking.booking_notes (booking_id, organization_id, notes) VALUES (%L, %L, ''VIP'')', mine, lab));
  PERFORM pg_temp.expect_error('42501', format('UPDATE booking.bookings SET status = ''approved'' WHERE id = %L', mine));
  PERFORM pg_temp.expect_error('42501', format('UPDATE booking.bookings SET approved_by = ''u-client'' WHERE id = %L', mine));
  PERFORM pg_temp.expect_error('42501', format('UPDATE booking.bookings SET booked_by = ''u-client2'' WHERE id = %L', mine));
  -- the booker edits their open booking
  UPDATE booking.bookings SET title = 'VR orientation (with a friend)' WHERE id = mine;
  GET DIAGNOSTICS v_n = ROW_COUNT;
  PERFORM pg_temp.check(v_n = 1, 'client edits own pending booking');
  -- other people's bookings are invisible and untouchable
  PERFORM pg_temp.check(NOT EXISTS (SELECT 1 FROM booking.bookings WHERE id = theirs), 'client cannot see another client''s booking');
  UPDATE booking.bookings SET title = 'mine now' WHERE id = theirs;
  GET DIAGNOSTICS v_n = ROW_COUNT;
  PERFORM pg_temp.check(v_n = 0, 'client cannot update another client''s booking');
  -- the booker withdraws a request, with a reason
  PERFORM set_config('booking.reason', 'plans changed', true);
  UPDATE booking.bookings SET status = 'cancelled' WHERE id = v_id;
  PERFORM set_config('booking.reason', '', true);
  SELECT * INTO t FROM booking.booking_transitions WHERE booking_id = v_id;
  PERFORM pg_temp.check(t.from_status = 'pending' AND t.to_status = 'cancelled' AND t.changed_by = 'u-client'
                        AND t.reason = 'plans changed', 'the cancellation is recorded with actor and reason');
  PERFORM pg_temp.expect_error('23514', format('UPDATE booking.bookings SET status = ''pending'' WHERE id = %L', v_id));

  -- staff approve; approval fields and the transition come from the database
  PERFORM pg_temp.act_as('staff');
  PERFORM pg_temp.check((SELECT count(*) FROM booking.bookings WHERE organization_id = lab) >= 3, 'staff see the organization''s bookings');
  PERFORM set_config('booking.reason', 'looks good', true);
  UPDATE booking.bookings SET status = 'approved' WHERE id = mine;
  UPDATE booking.booking_notes SET notes = 'first-time user' WHERE booking_id = mine;
  PERFORM pg_temp.check(FOUND, 'staff edit their note on the booking');
  PERFORM set_config('booking.reason', '', true);
  PERFORM pg_temp.check((SELECT approved_by = 'u-staff' AND approved_at = now() FROM booking.bookings WHERE id = mine),
                        'approved_by and approved_at are set by the database');
  PERFORM pg_temp.check((SELECT count(*) FROM booking.booking_transitions WHERE booking_id = mine) = 2,
                        'draft->pending and pending->approved are both recorded');
  PERFORM pg_temp.expect_error('42501', 'INSERT INTO booking.booking_transitions (organization_id, booking_id, from_status, to_status, changed_by) VALUES (''00000000-0000-4000-a000-000000000001'', ''00000000-0000-4000-a000-000000000401'', ''approved'', ''completed'', ''forged'')');

  -- an approved booking cannot be moved by its booker, only cancelled
  PERFORM pg_temp.act_as('client');
  PERFORM pg_temp.expect_error('42501', format('UPDATE booking.bookings SET starts_at = starts_at + interval ''1 hour'', ends_at = ends_at + interval ''1 hour'' WHERE id = %L', mine));
  PERFORM pg_temp.expect_error('42501', format('UPDATE booking.bookings SET status = ''completed'' WHERE id = %L', mine));
  UPDATE booking.bookings SET status = 'cancelled' WHERE id = mine;

  -- a member of the other tenant sees none of the lab's bookings, but their own tenant's
  PERFORM pg_temp.act_as('outsider');
  PERFORM pg_temp.check(NOT EXISTS (SELECT 1 FROM booking.bookings WHERE organization_id = lab), 'outsider sees no lab booking');
  PERFORM pg_temp.check(EXISTS (SELECT 1 FROM booking.bookings WHERE id = '00000000-0000-4000-a000-000000000403'), 'outsider sees their clinic''s booking');
  PERFORM pg_temp.check(NOT EXISTS (SELECT 1 FROM booking.audit_log WHERE organization_id = lab), 'outsider reads no lab audit');

  -- anonymous visitors see the public lab's bookable resources and hours, nothing else
  PERFORM pg_temp.act_as('anon');
  PERFORM pg_temp.check((SELECT count(*) FROM booking.resources) = 4, 'anon sees the 4 bookable lab resources, not the clinic''s');
  PERFORM pg_temp.check((SELECT count(*) FROM booking.availability_rules) = 11, 'anon sees the lab''s 11 opening-hour rules');
  PERFORM pg_temp.check((SELECT count(*) FROM booking.organizations) = 1, 'anon sees only the public organization');
  PERFORM pg_temp.expect_error('42501', 'SELECT 1 FROM booking.bookings');
  PERFORM pg_temp.expect_error('42501', 'SELECT 1 FROM booking.members');

  -- the audit trail: changed columns only, with the actor
  PERFORM pg_temp.act_as('admin');
  SELECT * INTO t FROM booking.audit_log
  WHERE entity_id = mine AND action = 'update' AND actor_id = 'u-staff';
  PERFORM pg_temp.check(t.old_values = jsonb_build_object('status', 'pending', 'approved_at', NULL, 'approved_by', NULL)
                        AND t.new_values ->> 'status' = 'approved' AND t.reason = 'looks good'
                        AND t.actor_role = 'authenticated',
                        format('approval audited with changed columns only, got %s -> %s', t.old_values, t.new_values));
  PERFORM pg_temp.act_as('superuser');
END $$;
