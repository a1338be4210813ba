-- Workshops: registering, the waiting line promoted in the same transaction as the write that
-- freed a seat, offers, check-in and no-shows, sessions holding their room, every refusal with
-- its SQLSTATE, and that a direct write through the table meets the same rules as the RPCs.
SELECT pg_temp.workshop_fixtures();

-- Visibility: anyone sees the published public workshop and its sessions; the draft only members.
DO $$
BEGIN
  PERFORM pg_temp.act_as('anon');
  PERFORM pg_temp.check((SELECT count(*) FROM booking.workshops WHERE organization_id = '00000000-0000-4000-a000-000000000001') = 1,
                        'anonymous visitors see the published public workshop only');
  PERFORM pg_temp.check((SELECT count(*) FROM booking.workshop_sessions) = 2, 'and its two sessions, not the draft''s');
  PERFORM pg_temp.check((SELECT starts_at FROM booking.workshop_sessions WHERE id = '00000000-0000-4000-a000-000000000911')
                        = '2031-01-14 10:00 America/New_York', 'a session shows its booking''s time');
  PERFORM pg_temp.act_as('member');
  PERFORM pg_temp.check((SELECT count(*) FROM booking.workshops) = 2, 'members see the draft too');
  PERFORM pg_temp.act_as('outsider');
  PERFORM pg_temp.check((SELECT count(*) FROM booking.workshop_sessions) = 2, 'outsiders see the public sessions');
  PERFORM pg_temp.check(pg_temp.refusal($q$SELECT booking.register_for_session('00000000-0000-4000-a000-000000000913')$q$) = '42501/',
                        'the draft''s session is not theirs to register for');
  PERFORM pg_temp.act_as('superuser');
END $$;

-- Registering until the session is full, then the line; idempotent; refusals.
DO $$
DECLARE
  s1 constant uuid := '00000000-0000-4000-a000-000000000911';
  r  booking.workshop_registrations;
  r2 booking.workshop_registrations;
BEGIN
  PERFORM pg_temp.act_as('anon');
  PERFORM pg_temp.check(pg_temp.refusal(format('SELECT booking.register_for_session(%L)', s1)) = '42501/', 'anonymous: 42501');
  PERFORM pg_temp.act_as('client2');
  r := booking.register_for_session(s1);
  PERFORM pg_temp.check(r.status = 'registered' AND r.user_id = 'u-client2' AND r.workshop_id = '00000000-0000-4000-a000-000000000901',
                        'the second seat of three');
  r2 := booking.register_for_session(s1);
  PERFORM pg_temp.check(r2.id = r.id AND r2.status = 'registered', 'registering again returns the same registration');
  PERFORM pg_temp.check(pg_temp.refusal(format('SELECT booking.register_for_session(%L, 0)', s1)) = '22023/', 'zero seats: 22023');
  PERFORM pg_temp.act_as('member');
  PERFORM pg_temp.check(pg_temp.refusal(format('SELECT booking.register_for_session(%L, 4)', s1)) = '22023/',
                        'more seats than the session has: 22023');
  r := booking.register_for_session(s1);
  PERFORM pg_temp.check(r.status = 'registered', 'the third seat');
  PERFORM pg_temp.act_as('admin');
  r := booking.register_for_session(s1);
  PERFORM pg_temp.check(r.status = 'waitlisted' AND booking.waitlist_position(r) = 1, 'full: waitlisted, first in line');
  PERFORM pg_temp.act_as('outsider');
  r := booking.register_for_session(s1);
  PERFORM pg_temp.check(r.status = 'waitlisted' AND booking.waitlist_position(r) = 2, 'second in line');
  -- a made-up row does not reveal another session's line
  PERFORM pg_temp.check(booking.waitlist_position(ROW(gen_random_uuid(), '00000000-0000-4000-a000-000000000001',
      '00000000-0000-4000-a000-000000000901', s1, 'u-x', 1, 'waitlisted', 1000000000, NULL, now(), NULL, NULL, NULL, '{}', now(), now())
      ::booking.workshop_registrations) IS NULL, 'waitlist_position of a row the caller may not see is NULL');
  PERFORM pg_temp.act_as('superuser');
  PERFORM pg_temp.check((SELECT sum(seats) FROM booking.workshop_registrations WHERE session_id = s1 AND status = 'registered') = 3,
                        'three seats held');
END $$;

-- A direct write meets the same rules: the status is derived, the line cannot be jumped, the
-- person and seats cannot change.
DO $$
DECLARE
  s1 constant uuid := '00000000-0000-4000-a000-000000000911';
  v_status text;
BEGIN
  PERFORM pg_temp.act_as('staff');
  INSERT INTO booking.workshop_registrations (session_id, user_id, status) VALUES (s1, 'u-staff', 'registered')
  RETURNING status INTO v_status;
  PERFORM pg_temp.check(v_status = 'waitlisted', 'a direct INSERT asking for registered in a full session is waitlisted');
  PERFORM pg_temp.act_as('outsider');
  PERFORM pg_temp.check(pg_temp.refusal($q$UPDATE booking.workshop_registrations SET status = 'registered' WHERE user_id = 'u-outsider'$q$) = 'PT409/waitlist',
                        'jumping the line by UPDATE: PT409 waitlist');
  PERFORM pg_temp.check(pg_temp.refusal($q$UPDATE booking.workshop_registrations SET seats = 2 WHERE user_id = 'u-outsider'$q$) = '42501/',
                        'changing the seats: 42501');
  PERFORM pg_temp.check(pg_temp.refusal($q$UPDATE booking.workshop_registrations SET queue_number = 1, status = 'waitlisted' WHERE user_id = 'u-outsider'$q$) = '',
                        'a queue number written by the caller is ignored');
  PERFORM pg_temp.act_as('superuser');
  PERFORM pg_temp.check((SELECT queue_number > 1 FROM booking.workshop_registrations WHERE user_id = 'u-outsider' AND session_id = s1),
                        'the queue number stayed');
  PERFORM pg_temp.act_as('client');
  PERFORM pg_temp.check(pg_temp.refusal($q$INSERT INTO booking.workshop_registrations (session_id, user_id) VALUES ('00000000-0000-4000-a000-000000000911', 'u-member2')$q$) = '42501/',
                        'registering someone else: 42501');
  PERFORM pg_temp.check(pg_temp.refusal($q$INSERT INTO booking.workshop_registrations (session_id, user_id) VALUES ('00000000-0000-4000-a000-000000000911', 'u-client')$q$) = '23505/',
                        'a second registration of the same person: 23505');
  PERFORM pg_temp.act_as('superuser');
END $$;

-- Cancelling frees the seat and promotes the first in line in the same transaction, with a
-- notification and an outbox event; the rest move up.
DO $$
DECLARE
  s1 constant uuid := '00000000-0000-4000-a000-000000000911';
  r  booking.workshop_registrations;
BEGIN
  PERFORM pg_temp.act_as('client2');
  r := booking.cancel_registration((SELECT id FROM booking.workshop_registrations WHERE user_id = 'u-client2'), 'cannot make it');
  PERFORM pg_temp.check(r.status = 'cancelled' AND r.cancellation_reason = 'cannot make it' AND r.cancelled_at IS NOT NULL, 'cancelled');
  PERFORM pg_temp.check((booking.cancel_registration(r.id)).status = 'cancelled', 'cancelling twice returns it unchanged');
  PERFORM pg_temp.act_as('superuser');
  PERFORM pg_temp.check((SELECT status FROM booking.workshop_registrations WHERE session_id = s1 AND user_id = 'u-admin') = 'registered',
                        'the first in line was promoted in the same transaction');
  PERFORM pg_temp.check(EXISTS (SELECT 1 FROM booking.notifications WHERE recipient_id = 'u-admin' AND notification_type = 'registration_promoted'),
                        'and notified');
  PERFORM pg_temp.check(EXISTS (SELECT 1 FROM booking.outbox WHERE topic = 'workshop.registration_promoted' AND payload ->> 'user_id' = 'u-admin'),
                        'with an outbox event');
  PERFORM pg_temp.act_as('outsider');
  PERFORM pg_temp.check((SELECT booking.waitlist_position(x) FROM booking.workshop_registrations x WHERE user_id = 'u-outsider') = 1,
                        'the next one moved up');
  PERFORM pg_temp.act_as('client2');
  r := booking.register_for_session(s1);
  PERFORM pg_temp.check(r.status = 'waitlisted' AND booking.waitlist_position(r) = 3,
                        'registering again after cancelling: at the end of the line');
  PERFORM pg_temp.act_as('client');
  PERFORM pg_temp.check(pg_temp.refusal($q$SELECT booking.cancel_registration('00000000-0000-4000-a000-000000000999')$q$) = '22023/',
                        'an unknown registration: 22023');
  PERFORM pg_temp.check(pg_temp.refusal(format('SELECT booking.cancel_registration(%L)',
                          (SELECT id FROM booking.workshop_registrations WHERE user_id = 'u-client' AND session_id = s1)) || '') = '',
                        'the client cancels their own');
  PERFORM pg_temp.act_as('superuser');
  PERFORM pg_temp.check((SELECT status FROM booking.workshop_registrations WHERE session_id = s1 AND user_id = 'u-outsider') = 'registered',
                        'and the next in line got that seat');
END $$;

-- Capacity: raising it promotes (and books the seats in the room); lowering it below the seats
-- taken is refused; the booking cannot hold fewer seats than its session.
DO $$
DECLARE
  s1 constant uuid := '00000000-0000-4000-a000-000000000911';
BEGIN
  PERFORM pg_temp.act_as('staff');
  UPDATE booking.workshop_sessions SET capacity = 4 WHERE id = s1;
  PERFORM pg_temp.act_as('superuser');
  PERFORM pg_temp.check((SELECT seats FROM booking.bookings WHERE id = '00000000-0000-4000-a000-000000000411') = 4,
                        'the booking holds the room for the new capacity');
  PERFORM pg_temp.check((SELECT status FROM booking.workshop_registrations WHERE session_id = s1 AND user_id = 'u-staff') = 'registered',
                        'the raised capacity went to the first in line');
  PERFORM pg_temp.act_as('staff');
  PERFORM pg_temp.check(pg_temp.refusal(format('UPDATE booking.workshop_sessions SET capacity = 2 WHERE id = %L', s1)) = 'PT409/capacity',
                        'shrinking below the seats taken: PT409');
  PERFORM pg_temp.check(pg_temp.refusal($q$UPDATE booking.bookings SET seats = 2 WHERE id = '00000000-0000-4000-a000-000000000411'$q$) = '23514/',
                        'the booking cannot hold fewer seats than the session: 23514');
  PERFORM pg_temp.check(pg_temp.refusal(format('UPDATE booking.workshop_sessions SET capacity = 13 WHERE id = %L', s1)) LIKE '23P01/%',
                        'more seats than the room has: the room''s capacity rule (23P01)');
  PERFORM pg_temp.act_as('client');
  PERFORM pg_temp.check(pg_temp.refusal(format('UPDATE booking.workshop_sessions SET capacity = 5 WHERE id = %L', s1)) = '',
                        'a client''s update of a session touches nothing (row-level security)');
  PERFORM pg_temp.act_as('superuser');
  PERFORM pg_temp.check((SELECT capacity FROM booking.workshop_sessions WHERE id = s1) = 4, 'capacity unchanged by the client');
END $$;

-- Registration window, started sessions, cancelled sessions and workshops.
DO $$
DECLARE
  s2 constant uuid := '00000000-0000-4000-a000-000000000912';
  v_session booking.workshop_sessions;
BEGIN
  UPDATE booking.workshops SET registration_close_at = now() - interval '1 day', registration_open_at = now() - interval '2 days'
  WHERE id = '00000000-0000-4000-a000-000000000901';
  PERFORM pg_temp.act_as('member');
  PERFORM pg_temp.check(pg_temp.refusal(format('SELECT booking.register_for_session(%L)', s2)) = 'PT409/registration_closed',
                        'after the registration window: PT409');
  PERFORM pg_temp.act_as('superuser');
  UPDATE booking.workshops SET registration_close_at = NULL, registration_open_at = NULL WHERE id = '00000000-0000-4000-a000-000000000901';

  -- a session that has started (created for the test in the past)
  PERFORM pg_temp.act_as('staff');
  v_session := booking.create_session('00000000-0000-4000-a000-000000000901', now() - interval '1 hour', now() + interval '1 hour', 5);
  PERFORM pg_temp.check(v_session.capacity = 5 AND v_session.resource_id = '00000000-0000-4000-a000-000000000103',
                        'create_session books the workshop''s room');
  PERFORM pg_temp.act_as('member');
  PERFORM pg_temp.check(pg_temp.refusal(format('SELECT booking.register_for_session(%L)', v_session.id)) = 'PT409/session_started',
                        'a session that has started: PT409');
  PERFORM pg_temp.act_as('client');
  PERFORM pg_temp.check(pg_temp.refusal($q$SELECT booking.create_session('00000000-0000-4000-a000-000000000901', '2031-02-01 10:00Z', '2031-02-01 11:00Z')$q$) = '42501/',
                        'clients do not create sessions');

  -- cancelling the session's booking cancels its registrations and tells the people
  PERFORM pg_temp.act_as('member');
  PERFORM booking.register_for_session(s2);
  PERFORM pg_temp.act_as('staff');
  PERFORM booking.set_booking_status('00000000-0000-4000-a000-000000000412', 'cancelled', 'room flooded');
  PERFORM pg_temp.act_as('superuser');
  PERFORM pg_temp.check((SELECT is_cancelled FROM booking.workshop_sessions WHERE id = s2), 'the session is cancelled with its booking');
  PERFORM pg_temp.check((SELECT status FROM booking.workshop_registrations WHERE session_id = s2 AND user_id = 'u-member') = 'cancelled',
                        'its registrations are cancelled');
  PERFORM pg_temp.check(EXISTS (SELECT 1 FROM booking.notifications WHERE recipient_id = 'u-member' AND notification_type = 'session_cancelled'),
                        'and their people told');
  PERFORM pg_temp.act_as('client2');
  PERFORM pg_temp.check(pg_temp.refusal(format('SELECT booking.register_for_session(%L)', s2)) = 'PT409/session_cancelled',
                        'registering for a cancelled session: PT409');
  PERFORM pg_temp.act_as('superuser');
END $$;

-- Moving a session's booking moves the session and tells its registrants; cancelling the
-- workshop cancels its sessions to come.
DO $$
DECLARE
  s1 constant uuid := '00000000-0000-4000-a000-000000000911';
BEGIN
  PERFORM pg_temp.act_as('staff');
  UPDATE booking.bookings SET starts_at = '2031-01-15 10:00 America/New_York', ends_at = '2031-01-15 12:00 America/New_York'
  WHERE id = '00000000-0000-4000-a000-000000000411';
  PERFORM pg_temp.act_as('superuser');
  PERFORM pg_temp.check((SELECT starts_at FROM booking.workshop_sessions WHERE id = s1) = '2031-01-15 10:00 America/New_York',
                        'the session moved with its booking');
  PERFORM pg_temp.check(EXISTS (SELECT 1 FROM booking.notifications WHERE recipient_id = 'u-admin' AND notification_type = 'session_moved'),
                        'its registrants are told');
  PERFORM pg_temp.act_as('admin');
  UPDATE booking.workshops SET status = 'cancelled' WHERE id = '00000000-0000-4000-a000-000000000901';
  PERFORM pg_temp.act_as('superuser');
  PERFORM pg_temp.check((SELECT status FROM booking.bookings WHERE id = '00000000-0000-4000-a000-000000000411') = 'cancelled',
                        'cancelling the workshop cancels the booking of its session to come');
  PERFORM pg_temp.check(NOT EXISTS (SELECT 1 FROM booking.workshop_registrations
                                    WHERE session_id = s1 AND status IN ('registered', 'waitlisted', 'offered')),
                        'and its registrations');
END $$;

-- Check-in and no-shows.
DO $$
DECLARE
  v_session booking.workshop_sessions;
  v_mine    uuid;
  v_other   uuid;
  r         booking.workshop_registrations;
BEGIN
  PERFORM pg_temp.act_as('staff');
  v_session := booking.create_session('00000000-0000-4000-a000-000000000902', now() + interval '3 hours', now() + interval '5 hours', 4);
  PERFORM pg_temp.act_as('superuser');
  INSERT INTO booking.workshop_registrations (session_id, user_id) VALUES (v_session.id, 'u-client') RETURNING id INTO v_mine;
  INSERT INTO booking.workshop_registrations (session_id, user_id) VALUES (v_session.id, 'u-member') RETURNING id INTO v_other;
  PERFORM pg_temp.act_as('client');
  PERFORM pg_temp.check(pg_temp.refusal(format('SELECT booking.check_in(%L)', v_mine)) = 'PT409/check_in_window',
                        'the registrant cannot check in hours before');
  PERFORM pg_temp.check(pg_temp.refusal(format('SELECT booking.check_in(%L)', v_other)) = '22023/',
                        'nor check someone else in (not theirs to see)');
  PERFORM pg_temp.act_as('staff');
  r := booking.check_in(v_mine);
  PERFORM pg_temp.check(r.status = 'attended' AND r.checkin_at IS NOT NULL, 'staff check in at any time');
  PERFORM pg_temp.check((booking.check_in(v_mine)).checkin_at = r.checkin_at, 'checking in twice changes nothing');
  PERFORM pg_temp.check(pg_temp.refusal(format('SELECT booking.mark_no_shows(%L)', v_session.id)) = 'PT409/not_ended',
                        'no-shows only after the end, not ' || pg_temp.refusal_text(format('SELECT booking.mark_no_shows(%L)', v_session.id)));
  PERFORM pg_temp.act_as('client');
  PERFORM pg_temp.check(pg_temp.refusal(format('SELECT booking.mark_no_shows(%L)', v_session.id)) = '42501/',
                        'clients do not mark no-shows');
  -- the session ends (its booking moved into the past by the superuser, as time passing)
  PERFORM pg_temp.act_as('superuser');
  UPDATE booking.bookings SET starts_at = now() - interval '3 hours', ends_at = now() - interval '1 hour'
  WHERE id = (SELECT booking_id FROM booking.workshop_sessions WHERE id = v_session.id);
  PERFORM pg_temp.act_as('staff');
  PERFORM pg_temp.check(booking.mark_no_shows(v_session.id) = 1, 'one no-show');
  PERFORM pg_temp.act_as('superuser');
  PERFORM pg_temp.check((SELECT status FROM booking.workshop_registrations WHERE id = v_other) = 'no_show', 'the member did not come');
  PERFORM pg_temp.check((SELECT status FROM booking.workshop_registrations WHERE id = v_mine) = 'attended', 'the client did');
END $$;

-- Offer mode: a freed seat is offered to the next in line; accepting takes it; an expired
-- offer holds nothing, and the seat passes on at the next write or advance_waitlists().
DO $$
DECLARE
  v_session booking.workshop_sessions;
  r         booking.workshop_registrations;
BEGIN
  PERFORM pg_temp.act_as('staff');
  UPDATE booking.workshops SET offer_minutes = 30, status = 'published' WHERE id = '00000000-0000-4000-a000-000000000902';
  v_session := booking.create_session('00000000-0000-4000-a000-000000000902', now() + interval '2 days', now() + interval '2 days 2 hours', 1);
  PERFORM pg_temp.act_as('client');
  r := booking.register_for_session(v_session.id);
  PERFORM pg_temp.act_as('member');
  PERFORM booking.register_for_session(v_session.id);
  PERFORM pg_temp.act_as('client2');
  PERFORM booking.register_for_session(v_session.id);
  PERFORM pg_temp.act_as('client');
  PERFORM booking.cancel_registration(r.id);
  PERFORM pg_temp.act_as('member');
  SELECT * INTO r FROM booking.workshop_registrations WHERE session_id = v_session.id AND user_id = 'u-member';
  PERFORM pg_temp.check(r.status = 'offered' AND r.offer_expires_at BETWEEN now() + interval '29 minutes' AND now() + interval '31 minutes',
                        'the next in line is offered the seat for 30 minutes');
  PERFORM pg_temp.act_as('client2');
  PERFORM pg_temp.check(pg_temp.refusal(format('SELECT booking.accept_offer(%L)',
                          (SELECT id FROM booking.workshop_registrations WHERE session_id = v_session.id AND user_id = 'u-client2'))) = 'PT409/no_offer',
                        'no offer to accept for the one behind');
  -- the offer expires (moved into the past as the superuser, triggers off, as time passing)
  PERFORM pg_temp.act_as('superuser');
  SET LOCAL session_replication_role = replica;
  UPDATE booking.workshop_registrations SET offer_expires_at = now() - interval '1 minute' WHERE id = r.id;
  SET LOCAL session_replication_role = origin;
  PERFORM pg_temp.check(booking_internal.session_seats_held(v_session.id) = 0, 'an expired offer holds no seat, with nothing run');
  PERFORM pg_temp.act_as('member');
  PERFORM pg_temp.check(pg_temp.refusal(format('SELECT booking.accept_offer(%L)', r.id)) = 'PT409/offer_expired', 'too late: PT409');
  PERFORM pg_temp.act_as('client');
  PERFORM pg_temp.check(pg_temp.refusal('SELECT booking.advance_waitlists()') = '42501/', 'advance_waitlists is service_role''s');
  PERFORM pg_temp.act_as('service_role');
  PERFORM pg_temp.check(booking.advance_waitlists() >= 2, 'the expired offer lapsed and the seat was offered on');
  PERFORM pg_temp.act_as('superuser');
  PERFORM pg_temp.check((SELECT status FROM booking.workshop_registrations WHERE id = r.id) = 'cancelled', 'the lapsed offer is cancelled');
  PERFORM pg_temp.act_as('client2');
  r := booking.accept_offer((SELECT id FROM booking.workshop_registrations WHERE session_id = v_session.id AND user_id = 'u-client2'));
  PERFORM pg_temp.check(r.status = 'registered' AND r.offer_expires_at IS NULL, 'the next one accepted in time');
  -- the person whose offer lapsed registers again: at the end of the line (the session is full)
  PERFORM pg_temp.act_as('member');
  r := booking.register_for_session(v_session.id);
  PERFORM pg_temp.check(r.status = 'waitlisted' AND booking.waitlist_position(r) = 1,
                        'a lapsed offer registers again, at the end of the line, and its place shows in the same statement');
  PERFORM pg_temp.act_as('superuser');
END $$;

-- A session on a client's own booking: the client may still cancel their booking, and the
-- session's registrations go with it; service_role creates sessions too.
DO $$
DECLARE
  v_session booking.workshop_sessions;
BEGIN
  PERFORM pg_temp.act_as('staff');
  INSERT INTO booking.workshop_sessions (workshop_id, booking_id)
  VALUES ('00000000-0000-4000-a000-000000000901', '00000000-0000-4000-a000-000000000402') RETURNING * INTO v_session;
  PERFORM pg_temp.act_as('superuser');
  UPDATE booking.workshops SET status = 'published' WHERE id = '00000000-0000-4000-a000-000000000901';
  INSERT INTO booking.workshop_registrations (session_id, user_id) VALUES (v_session.id, 'u-member');
  PERFORM pg_temp.act_as('client2');
  PERFORM booking.set_booking_status('00000000-0000-4000-a000-000000000402', 'cancelled', 'plans changed');
  PERFORM pg_temp.act_as('superuser');
  PERFORM pg_temp.check((SELECT status FROM booking.workshop_registrations WHERE session_id = v_session.id) = 'cancelled',
                        'the booker''s cancellation cancelled the session''s registrations');
  PERFORM pg_temp.act_as('service_role');
  v_session := booking.create_session('00000000-0000-4000-a000-000000000902', now() + interval '9 days', now() + interval '9 days 1 hour', 2);
  PERFORM pg_temp.act_as('superuser');
  PERFORM pg_temp.check((SELECT booked_by FROM booking.bookings WHERE id = v_session.booking_id) = 'service_role',
                        'service_role''s session is booked in its name');
END $$;

-- Staff deleting a registration that held a seat frees it for the next in line.
DO $$
DECLARE
  v_session booking.workshop_sessions;
  v_first   uuid;
BEGIN
  PERFORM pg_temp.act_as('staff');
  v_session := booking.create_session('00000000-0000-4000-a000-000000000902', now() + interval '3 days', now() + interval '3 days 1 hour', 1);
  UPDATE booking.workshops SET offer_minutes = NULL WHERE id = '00000000-0000-4000-a000-000000000902';
  PERFORM pg_temp.act_as('superuser');
  INSERT INTO booking.workshop_registrations (session_id, user_id) VALUES (v_session.id, 'u-client') RETURNING id INTO v_first;
  INSERT INTO booking.workshop_registrations (session_id, user_id) VALUES (v_session.id, 'u-member');
  PERFORM pg_temp.act_as('staff');
  PERFORM booking.check_in(v_first);  -- attended holds the seat too
  DELETE FROM booking.workshop_registrations WHERE id = v_first;
  PERFORM pg_temp.act_as('superuser');
  PERFORM pg_temp.check((SELECT status FROM booking.workshop_registrations WHERE session_id = v_session.id AND user_id = 'u-member') = 'registered',
                        'the seat of a deleted registration went to the next in line');
  PERFORM pg_temp.act_as('staff');
  PERFORM pg_temp.check(pg_temp.refusal(format('UPDATE booking.workshop_sessions SET workshop_id = %L WHERE id = %L',
                          '00000000-0000-4000-a000-000000000901', v_session.id)) = '42501/',
                        'a session does not move to another workshop');
  PERFORM pg_temp.act_as('superuser');
END $$;

-- Registering again needs the right to see the session still; it may ask for other seats.
DO $$
DECLARE
  r booking.workshop_registrations;
BEGIN
  PERFORM pg_temp.act_as('outsider');
  r := booking.register_for_session('00000000-0000-4000-a000-000000000913');
  PERFORM booking.cancel_registration(r.id);
  r := booking.register_for_session('00000000-0000-4000-a000-000000000913', 2);
  PERFORM pg_temp.check(r.seats = 2 AND r.status = 'registered', 'registered again, for two seats');
  PERFORM booking.cancel_registration(r.id);
  PERFORM pg_temp.act_as('admin');
  UPDATE booking.workshops SET is_public = false WHERE id = '00000000-0000-4000-a000-000000000902';
  PERFORM pg_temp.act_as('outsider');
  PERFORM pg_temp.check(pg_temp.refusal($q$SELECT booking.register_for_session('00000000-0000-4000-a000-000000000913')$q$) = '42501/',
                        'registering again in a workshop no longer visible: 42501');
  PERFORM pg_temp.act_as('superuser');
  UPDATE booking.workshops SET is_public = true WHERE id = '00000000-0000-4000-a000-000000000902';
END $$;

-- A cross-tenant registration is refused before anything of the other tenant is read.
DO $$
BEGIN
  PERFORM pg_temp.act_as('superuser');
  UPDATE booking.organizations SET is_public = false WHERE id = '00000000-0000-4000-a000-000000000001';
  PERFORM pg_temp.act_as('outsider');
  PERFORM pg_temp.check(pg_temp.refusal($q$INSERT INTO booking.workshop_registrations (session_id) VALUES ('00000000-0000-4000-a000-000000000913')$q$) = '42501/',
                        'an outsider registering in a private organization: 42501');
  PERFORM pg_temp.act_as('superuser');
END $$;
