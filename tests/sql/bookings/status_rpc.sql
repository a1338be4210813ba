-- set_booking_status(): every role, every refusal with its SQLSTATE, the side effects of a change
-- (transition, audit, notifications, outbox) and their absence after a refusal.
CREATE FUNCTION pg_temp.side_effects() RETURNS bigint
LANGUAGE sql AS $$
  SELECT (SELECT count(*) FROM booking.booking_transitions) + (SELECT count(*) FROM booking.audit_log)
       + (SELECT count(*) FROM booking.notifications) + (SELECT count(*) FROM booking.outbox)
$$;

DO $$
DECLARE
  requested constant uuid := '00000000-0000-4000-a000-000000000401';  -- u-client's VR request, pending
  study     constant uuid := '00000000-0000-4000-a000-000000000402';  -- u-client2's, approved
  printer   constant uuid := '00000000-0000-4000-a000-000000000102';
  b         booking.bookings;
  v_before  bigint;
  v_got     text;
BEGIN
  -- Refusals, each leaving no side effect behind.
  v_before := pg_temp.side_effects();
  PERFORM pg_temp.act_as('anon');
  v_got := pg_temp.refusal(format('SELECT booking.set_booking_status(%L, ''approved'')', requested));
  PERFORM pg_temp.check(v_got = '42501/', 'anon: ' || v_got);
  PERFORM pg_temp.act_as('outsider');
  v_got := pg_temp.refusal(format('SELECT booking.set_booking_status(%L, ''approved'')', requested));
  PERFORM pg_temp.check(v_got LIKE '22023/%', 'another organization''s admin does not see it: ' || v_got);
  PERFORM pg_temp.act_as('client2');
  v_got := pg_temp.refusal(format('SELECT booking.set_booking_status(%L, ''cancelled'')', requested));
  PERFORM pg_temp.check(v_got LIKE '22023/%', 'another client does not see it: ' || v_got);
  PERFORM pg_temp.act_as('client');
  v_got := pg_temp.refusal(format('SELECT booking.set_booking_status(%L, ''approved'')', requested));
  PERFORM pg_temp.check(v_got = '42501/', 'the booker cannot approve: ' || v_got);
  v_got := pg_temp.refusal(format('SELECT booking.set_booking_status(%L, ''completed'')', requested));
  PERFORM pg_temp.check(v_got = 'PT409/transition', 'pending cannot become completed: ' || v_got);
  v_got := pg_temp.refusal(format('SELECT booking.set_booking_status(%L, ''confirmed'')', requested));
  PERFORM pg_temp.check(v_got LIKE '22023/%', 'unknown status: ' || v_got);
  v_got := pg_temp.refusal(format('SELECT booking.set_booking_status(%L, NULL)', requested));
  PERFORM pg_temp.check(v_got LIKE '22023/%', 'NULL status: ' || v_got);
  v_got := pg_temp.refusal('SELECT booking.set_booking_status(''00000000-0000-4000-a000-0000000009ff'', ''cancelled'')');
  PERFORM pg_temp.check(v_got LIKE '22023/%', 'unknown booking: ' || v_got);
  PERFORM pg_temp.act_as('member');
  v_got := pg_temp.refusal(format('SELECT booking.set_booking_status(%L, ''approved'')', study));
  PERFORM pg_temp.check(v_got LIKE '22023/%', 'a plain member does not see others'' bookings: ' || v_got);
  PERFORM pg_temp.act_as('superuser');
  PERFORM pg_temp.check(pg_temp.side_effects() = v_before, 'refusals leave no transition, audit, notification or outbox row');

  -- Staff approve, with a reason: transition, audit, the booker's notification, the outbox event.
  PERFORM pg_temp.act_as('staff');
  b := booking.set_booking_status(requested, 'approved', 'equipment checked');
  PERFORM pg_temp.check(b.status = 'approved' AND b.approved_by = 'u-staff' AND b.approved_at IS NOT NULL, format('approved: %s', b));
  PERFORM pg_temp.act_as('superuser');
  PERFORM pg_temp.check(EXISTS (SELECT 1 FROM booking.booking_transitions WHERE booking_id = requested AND from_status = 'pending'
                                AND to_status = 'approved' AND changed_by = 'u-staff' AND reason = 'equipment checked'), 'transition with reason');
  PERFORM pg_temp.check(EXISTS (SELECT 1 FROM booking.audit_log WHERE entity_id = requested AND action = 'update' AND actor_id = 'u-staff'
                                AND new_values ->> 'status' = 'approved'), 'audit entry');
  PERFORM pg_temp.check(EXISTS (SELECT 1 FROM booking.notifications WHERE recipient_id = 'u-client' AND notification_type = 'booking_status'
                                AND message = 'Your VR orientation is now approved.' AND metadata ->> 'reason' = 'equipment checked'
                                AND metadata ->> 'previous_status' = 'pending'), 'the booker is notified');
  PERFORM pg_temp.check(EXISTS (SELECT 1 FROM booking.outbox WHERE topic = 'booking.status_changed' AND payload ->> 'booking_id' = requested::text
                                AND payload ->> 'status' = 'approved'), 'outbox event');
  PERFORM pg_temp.check(current_setting('booking.reason', true) = '', 'the reason does not outlive the call');
  -- Approving twice is not a transition.
  PERFORM pg_temp.act_as('admin');
  v_got := pg_temp.refusal(format('SELECT booking.set_booking_status(%L, ''approved'')', requested));
  PERFORM pg_temp.check(v_got = 'PT409/transition', 'approved twice: ' || v_got);

  -- The booker cancels their approved booking before it starts; a cancelled booking is final.
  PERFORM pg_temp.act_as('client');
  b := booking.set_booking_status(requested, 'cancelled', 'plans changed');
  PERFORM pg_temp.check(b.status = 'cancelled', 'cancelled by the booker');
  PERFORM pg_temp.act_as('staff');
  v_got := pg_temp.refusal(format('SELECT booking.set_booking_status(%L, ''approved'')', requested));
  PERFORM pg_temp.check(v_got = 'PT409/transition', 'cancelled is final: ' || v_got);

  -- After the start, only staff may cancel.
  PERFORM pg_temp.act_as('superuser');
  INSERT INTO booking.bookings (id, organization_id, resource_id, booked_by, starts_at, ends_at, status)
  VALUES ('00000000-0000-4000-a000-000000000499', '00000000-0000-4000-a000-000000000001', printer, 'u-client',
          '2020-03-02 10:00 America/New_York', '2020-03-02 11:00 America/New_York', 'approved');
  PERFORM pg_temp.act_as('client');
  v_got := pg_temp.refusal('SELECT booking.set_booking_status(''00000000-0000-4000-a000-000000000499'', ''cancelled'')');
  PERFORM pg_temp.check(v_got = '42501/', 'the booker cannot cancel a started booking: ' || v_got);
  PERFORM pg_temp.act_as('staff');
  PERFORM pg_temp.check((booking.set_booking_status('00000000-0000-4000-a000-000000000499', 'no_show')).status = 'no_show', 'staff mark a no-show');

  -- A new request notifies the organization's staff and admins; changes requested free the
  -- time, and resubmitting after someone else took it is refused with PT409 overlap.
  PERFORM pg_temp.act_as('client');
  b := booking.book(printer, '2030-03-05 11:00 America/New_York', '2030-03-05 12:00 America/New_York', 1, NULL, 'Print run');
  PERFORM pg_temp.act_as('superuser');
  PERFORM pg_temp.check((SELECT array_agg(recipient_id ORDER BY recipient_id) FROM booking.notifications
                         WHERE notification_type = 'booking_request' AND metadata ->> 'booking_id' = b.id::text) = '{u-admin,u-staff}',
                        'staff and admins hear of the request');
  PERFORM pg_temp.act_as('staff');
  PERFORM booking.set_booking_status(b.id, 'changes_requested', 'use the big nozzle');
  PERFORM pg_temp.act_as('client2');
  PERFORM booking.book(printer, '2030-03-05 11:00 America/New_York', '2030-03-05 12:00 America/New_York');
  PERFORM pg_temp.act_as('superuser');
  v_before := pg_temp.side_effects();
  PERFORM pg_temp.act_as('client');
  v_got := pg_temp.refusal(format('SELECT booking.set_booking_status(%L, ''pending'')', b.id));
  PERFORM pg_temp.check(v_got = 'PT409/overlap', 'resubmitting into a taken slot: ' || v_got);
  PERFORM pg_temp.act_as('superuser');
  PERFORM pg_temp.check(pg_temp.side_effects() = v_before, 'the refused resubmission left nothing behind');

  -- service_role may make any legal change; the Digital Lab study group is completed.
  PERFORM pg_temp.act_as('service_role');
  PERFORM pg_temp.check((booking.set_booking_status(study, 'completed')).status = 'completed', 'service_role completes');
  PERFORM pg_temp.act_as('superuser');
END $$;
