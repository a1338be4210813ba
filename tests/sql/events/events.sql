-- Events: generation from approved bookings, the state machines and their log, assignments with
-- check-in and check-out, kits that cannot be in two places, issues, read-time no-shows and
-- close_overdue, and that direct writes meet the same rules as the RPCs.
UPDATE booking.resources SET generates_events = true WHERE id = '00000000-0000-4000-a000-000000000103';


-- An approved booking of a resource that generates events gets its event, once.
DO $$
DECLARE
  lab constant uuid := '00000000-0000-4000-a000-000000000103';
  b1  booking.bookings;
  b2  booking.bookings;
  ev  booking.event_instances;
BEGIN
  PERFORM pg_temp.act_as('client');
  b1 := booking.book(lab, '2031-02-03 10:00 America/New_York', '2031-02-03 12:00 America/New_York', 1, NULL, 'Launch party');
  b2 := booking.book(lab, '2031-02-03 11:00 America/New_York', '2031-02-03 13:00 America/New_York', 1, NULL, 'Overlapping party');
  PERFORM pg_temp.check(b1.status = 'approved', 'the Digital Lab auto-approves');
  SELECT * INTO ev FROM booking.event_instances WHERE booking_id = b1.id;
  PERFORM pg_temp.check(FOUND, 'the booker sees the event of their booking');
  PERFORM pg_temp.check(ev.status = 'scheduled' AND ev.starts_at = b1.starts_at AND ev.ends_at = b1.ends_at, 'scheduled, at the booking''s time');
  PERFORM pg_temp.act_as('superuser');
  INSERT INTO ids VALUES ('b1', b1.id), ('b2', b2.id), ('e1', ev.id),
                         ('e2', (SELECT id FROM booking.event_instances WHERE booking_id = b2.id));
  SELECT * INTO b1 FROM booking.bookings WHERE id = b1.id;
  PERFORM pg_temp.check(b1.event_generation_status = 'generated' AND b1.event_count = 1 AND b1.last_event_generated_at = ev.created_at,
                        'the booking''s event columns are derived');
  -- approving again (a no-op) or touching the booking creates nothing more
  UPDATE booking.bookings SET status = 'approved', title = 'Launch party!' WHERE id = b1.id;
  PERFORM pg_temp.check((SELECT count(*) FROM booking.event_instances WHERE booking_id = b1.id) = 1, 'one event per booking');
  -- the derived columns cannot be written
  UPDATE booking.bookings SET event_count = 42, event_generation_status = 'none' WHERE id = b1.id;
  PERFORM pg_temp.check((SELECT (event_count, event_generation_status) = (1, 'generated') FROM booking.bookings WHERE id = b1.id),
                        'event_count and event_generation_status are recomputed, never taken');
  -- a resource that does not generate events: none
  PERFORM pg_temp.check(NOT EXISTS (SELECT 1 FROM booking.event_instances x JOIN booking.bookings b ON b.id = x.booking_id
                                    WHERE b.resource_id <> lab), 'only resources that generate events');
  PERFORM pg_temp.check((SELECT string_agg(coalesce(from_state, '-') || '>' || to_state, ',') FROM booking.event_state_transitions
                         WHERE entity_id = ev.id) = '->scheduled', 'the log starts with the creation');
  -- events come from generation: the API roles cannot insert them; staff generate one for an
  -- approved booking of another resource, never for a pending one
  PERFORM pg_temp.act_as('staff');
  PERFORM pg_temp.check(pg_temp.refusal(format($q$INSERT INTO booking.event_instances (organization_id, booking_id, starts_at, ends_at)
    VALUES ('00000000-0000-4000-a000-000000000001', %L, now(), now())$q$, b1.id)) = '42501/', 'no direct insert of an event');
  PERFORM pg_temp.check(pg_temp.refusal($q$SELECT booking.generate_event(id) FROM booking.bookings WHERE status = 'pending' LIMIT 1$q$) = 'PT409/booking_not_approved',
    'an event needs an approved booking');
  PERFORM pg_temp.check((booking.generate_event(b1.id)).id = ev.id, 'generate_event returns the booking''s event');
  PERFORM pg_temp.act_as('client');
  PERFORM pg_temp.check(pg_temp.refusal(format('SELECT booking.generate_event(%L)', b1.id)) = '42501/', 'only staff generate events');
  PERFORM pg_temp.act_as('superuser');
END $$;

-- The event's state machine: staff move it; illegal moves and other people are refused.
DO $$
DECLARE
  e booking.event_instances;
BEGIN
  PERFORM pg_temp.act_as('client');
  PERFORM pg_temp.check(pg_temp.refusal(format('SELECT booking.set_event_status(%L, ''preparation'')', pg_temp.id('e1'))) = '42501/',
                        'the booker cannot change the event');
  PERFORM pg_temp.act_as('outsider');
  PERFORM pg_temp.check(NOT EXISTS (SELECT 1 FROM booking.event_instances), 'another organization sees no event');
  PERFORM pg_temp.check(pg_temp.refusal(format('SELECT booking.assign_staff(%L, ''u-outsider'', ''host'')', pg_temp.id('e1'))) = '42501/',
                        'nor assigns anyone to it');
  PERFORM pg_temp.act_as('staff');
  PERFORM pg_temp.check(pg_temp.refusal(format('SELECT booking.set_event_status(%L, ''completed'')', pg_temp.id('e1'))) = 'PT409/transition',
                        'scheduled cannot become completed');
  PERFORM pg_temp.check(pg_temp.refusal(format('UPDATE booking.event_instances SET status = ''post_processing'' WHERE id = %L', pg_temp.id('e1'))) = 'PT409/transition',
                        'a direct write meets the same machine');
  PERFORM pg_temp.check(pg_temp.refusal(format('SELECT booking.set_event_status(%L, ''preparation'', repeat(''x'', 4001))', pg_temp.id('e1'))) = '22023/',
                        'a reason over 4000 characters: 22023');
  e := booking.set_event_status(pg_temp.id('e1'), 'preparation', 'logistics start');
  PERFORM pg_temp.check(e.status = 'preparation', 'scheduled -> preparation');
  PERFORM pg_temp.check((SELECT (changed_by, reason) = ('u-staff', 'logistics start') FROM booking.event_state_transitions
                         WHERE entity_id = e.id AND to_state = 'preparation'), 'logged with actor and reason');
  PERFORM pg_temp.check(pg_temp.refusal(format('UPDATE booking.event_instances SET starts_at = now() WHERE id = %L RETURNING 1', pg_temp.id('e1'))) = ''
                        AND (SELECT starts_at FROM booking.event_instances WHERE id = pg_temp.id('e1')) = '2031-02-03 10:00 America/New_York',
                        'an event''s time is its booking''s, whatever is written');
  PERFORM pg_temp.act_as('superuser');
END $$;

-- Assignments: one person, never on two overlapping events; answer, check-in, check-out, once.
DO $$
DECLARE
  a  booking.staff_assignments;
  a2 booking.staff_assignments;
BEGIN
  PERFORM pg_temp.act_as('staff');
  a := booking.assign_staff(pg_temp.id('e1'), 'u-member', 'host');
  PERFORM pg_temp.check(a.status = 'assigned' AND a.starts_at = '2031-02-03 10:00 America/New_York', 'assigned, at the event''s time');
  a2 := booking.assign_staff(pg_temp.id('e1'), 'u-member', 'host');
  PERFORM pg_temp.check(a2.id = a.id, 'assigning again returns the assignment');
  PERFORM pg_temp.check(pg_temp.refusal(format('SELECT booking.assign_staff(%L, ''u-member'', ''host'')', pg_temp.id('e2'))) = 'PT409/person_busy',
                        'the same person on an overlapping event: PT409 person_busy');
  PERFORM pg_temp.check(pg_temp.refusal(format($q$INSERT INTO booking.staff_assignments (organization_id, event_instance_id, user_id, role, starts_at, ends_at)
    VALUES ('00000000-0000-4000-a000-000000000001', %L, 'u-member', 'runner', '2040-01-01', '2040-01-02')$q$, pg_temp.id('e2'))) LIKE '23P01/%',
    'a direct insert meets the exclusion constraint (the times written are the event''s, not the ones given)');
  a2 := booking.assign_staff(pg_temp.id('e2'), 'u-client2', 'runner');
  PERFORM pg_temp.check(pg_temp.refusal(format('SELECT booking.assign_staff(%L, '''', ''host'')', pg_temp.id('e2'))) = '22023/', 'blank person: 22023');
  INSERT INTO ids VALUES ('a1', a.id), ('a2', a2.id);

  -- the person assigned
  PERFORM pg_temp.act_as('member');
  PERFORM pg_temp.check((SELECT count(*) FROM booking.staff_assignments) = 1, 'a person sees their own assignment (not another event''s)');
  PERFORM pg_temp.check((SELECT count(*) FROM booking.event_instances) = 1, 'and their event');
  PERFORM pg_temp.check(pg_temp.refusal(format('UPDATE booking.staff_assignments SET role = ''boss'' WHERE id = %L', a.id)) = '42501/',
                        'the person assigned cannot change their role');
  PERFORM pg_temp.check(pg_temp.refusal(format('UPDATE booking.staff_assignments SET hours_worked = 10 WHERE id = %L', a.id)) LIKE '428C9/%',
                        'hours_worked is never typed in');
  a := booking.respond_to_assignment(a.id, true);
  PERFORM pg_temp.check(a.status = 'accepted', 'accepted');
  PERFORM pg_temp.check((booking.respond_to_assignment(a.id, true)).status = 'accepted', 'accepting again changes nothing');
  a := booking.staff_check_in(a.id, '{"lat": 40.7, "lng": -74.0}');
  PERFORM pg_temp.check(a.status = 'checked_in' AND a.check_in_at = now() AND a.location_at_check_in ->> 'lat' = '40.7', 'checked in with a location');
  a2 := booking.staff_check_in(a.id, '{"lat": 0}');
  PERFORM pg_temp.check(a2.check_in_at = a.check_in_at AND a2.location_at_check_in = a.location_at_check_in, 'a retried check-in writes nothing');
  PERFORM pg_temp.check(pg_temp.refusal(format('SELECT booking.staff_check_in(%L, ''[1]'')', a.id)) = '22023/', 'a location must be an object');
  PERFORM pg_temp.check(pg_temp.refusal(format('SELECT booking.respond_to_assignment(%L, false)', a.id)) = 'PT409/transition',
                        'declining after checking in: PT409');
  a := booking.staff_check_out(a.id, '{"lat": 40.7}', 'all good');
  PERFORM pg_temp.check(a.status = 'checked_out' AND a.check_out_at >= a.check_in_at AND a.hours_worked = 0 AND a.feedback = 'all good',
                        'checked out; hours_worked derived from the instants');
  PERFORM pg_temp.check((booking.staff_check_out(a.id)).check_out_at = a.check_out_at, 'a retried check-out writes nothing');
  PERFORM pg_temp.check(pg_temp.refusal(format('SELECT booking.respond_to_assignment(%L, true)', pg_temp.id('a2'))) = '22023/',
                        'someone else''s assignment is unknown to them');
  PERFORM pg_temp.act_as('superuser');
  PERFORM pg_temp.check((SELECT string_agg(coalesce(from_state, '-') || '>' || to_state, ',' ORDER BY created_at, to_state = 'checked_out')
                         FROM booking.event_state_transitions WHERE entity_id = a.id)
                        = '->assigned,assigned>accepted,accepted>checked_in,checked_in>checked_out', 'one log row per change, none for the retries');
  PERFORM pg_temp.check((SELECT metadata ->> 'location' FROM booking.event_state_transitions WHERE entity_id = a.id AND to_state = 'checked_in')
                        IS NOT NULL, 'the check-in''s location is in the log');
  -- the check-out instant comes before the check-in: refused by the table
  PERFORM pg_temp.check(pg_temp.refusal(format('UPDATE booking.staff_assignments SET check_out_at = check_in_at - interval ''1 hour'' WHERE id = %L', a.id)) = '',
                        'check_out_at written directly is ignored (derived)');
  PERFORM pg_temp.check((SELECT check_out_at >= check_in_at FROM booking.staff_assignments WHERE id = a.id), 'check-out after check-in');
END $$;

-- Kits: planned for one of overlapping events, out with one event at a time, returned once.
DO $$
DECLARE
  org constant uuid := '00000000-0000-4000-a000-000000000001';
  tpl uuid;
  kit uuid;
  b3  booking.bookings;
  k1  booking.activity_kits;
  k3  booking.activity_kits;
BEGIN
  PERFORM pg_temp.act_as('staff');
  INSERT INTO booking.kit_templates (organization_id, name, components) VALUES (org, 'Sound kit', '["speaker", "mixer"]') RETURNING id INTO tpl;
  INSERT INTO booking.kit_instances (organization_id, template_id, serial_number) VALUES (org, tpl, 'SK-001') RETURNING id INTO kit;
  WITH x AS (INSERT INTO booking.activities (organization_id, event_instance_id, title, kit_template_id)
             VALUES (org, pg_temp.id('e1'), 'DJ set', tpl) RETURNING id)
  INSERT INTO ids SELECT 'act1', id FROM x;
  WITH x AS (INSERT INTO booking.activities (organization_id, event_instance_id, title)
             VALUES (org, pg_temp.id('e2'), 'Speeches') RETURNING id)
  INSERT INTO ids SELECT 'act2', id FROM x;
  INSERT INTO booking.activity_kits (organization_id, activity_id, kit_template_id, kit_instance_id, status)
  VALUES (org, pg_temp.id('act1'), tpl, kit, 'assigned') RETURNING * INTO k1;
  PERFORM pg_temp.check(k1.event_instance_id = pg_temp.id('e1') AND k1.starts_at = '2031-02-03 10:00 America/New_York',
                        'a kit takes its activity''s event and time');
  PERFORM pg_temp.check(pg_temp.refusal(format($q$INSERT INTO booking.activity_kits (organization_id, activity_id, kit_instance_id, status)
    VALUES (%L, %L, %L, 'assigned')$q$, org, pg_temp.id('act2'), kit)) LIKE '23P01/%', 'the same kit for an overlapping event: 23P01');
  -- a later event (the next day) may plan the same kit
  PERFORM pg_temp.act_as('client');
  b3 := booking.book('00000000-0000-4000-a000-000000000103', '2031-02-04 10:00 America/New_York', '2031-02-04 12:00 America/New_York');
  PERFORM pg_temp.act_as('staff');
  INSERT INTO ids VALUES ('e3', (SELECT id FROM booking.event_instances WHERE booking_id = b3.id));
  WITH x AS (INSERT INTO booking.activities (organization_id, event_instance_id, title)
             VALUES (org, pg_temp.id('e3'), 'DJ set again') RETURNING id)
  INSERT INTO ids SELECT 'act3', id FROM x;
  INSERT INTO booking.activity_kits (organization_id, activity_id, kit_instance_id, status)
  VALUES (org, pg_temp.id('act3'), kit, 'assigned') RETURNING * INTO k3;
  INSERT INTO ids VALUES ('k1', k1.id), ('k3', k3.id);

  -- the person assigned to e1 checks its kit out; twice is once
  PERFORM pg_temp.act_as('member');
  k1 := booking.checkout_kit(k1.id);
  PERFORM pg_temp.check(k1.status = 'checked_out' AND k1.checked_out_by = 'u-member', 'checked out by the event''s person');
  PERFORM pg_temp.check((booking.checkout_kit(k1.id)).checked_out_at = k1.checked_out_at, 'a retried checkout writes nothing');
  PERFORM pg_temp.check(pg_temp.refusal(format('UPDATE booking.activity_kits SET quantity = 5 WHERE id = %L', k1.id)) = '42501/',
                        'the event''s people do not change the kit itself');
  PERFORM pg_temp.check(pg_temp.refusal(format('SELECT booking.checkout_kit(%L)', k3.id)) = '22023/', 'another event''s kit is unknown to them');
  PERFORM pg_temp.act_as('staff');
  PERFORM pg_temp.check(pg_temp.refusal(format('SELECT booking.checkout_kit(%L)', k3.id)) = 'PT409/kit_checked_out',
                        'the kit is out with e1: e3 cannot have it');
  PERFORM pg_temp.act_as('member');
  k1 := booking.return_kit(k1.id);
  PERFORM pg_temp.check(k1.status = 'returned' AND k1.returned_by = 'u-member' AND k1.returned_at >= k1.checked_out_at, 'returned');
  PERFORM pg_temp.check((booking.return_kit(k1.id)).returned_at = k1.returned_at, 'a retried return writes nothing');
  PERFORM pg_temp.act_as('staff');
  PERFORM pg_temp.check((booking.checkout_kit(k3.id)).status = 'checked_out', 'once returned, e3 checks it out');
  PERFORM pg_temp.check(pg_temp.refusal(format('SELECT booking.checkout_kit(%L)', k1.id)) = 'PT409/transition', 'a returned kit is not checked out again');
  PERFORM pg_temp.act_as('superuser');
END $$;

-- Issues: the event's people report them; an event in progress becomes issue_reported; staff resolve.
DO $$
DECLARE
  i booking.event_issues;
BEGIN
  PERFORM pg_temp.act_as('staff');
  PERFORM booking.set_event_status(pg_temp.id('e1'), 'in_progress');
  PERFORM pg_temp.act_as('member');
  i := booking.report_event_issue(pg_temp.id('e1'), 'equipment', 'The mixer hums', 'medium', ARRAY['https://example.org/p1.jpg']);
  PERFORM pg_temp.check(i.reported_by = 'u-member' AND i.status = 'open', 'reported by the caller, open');
  PERFORM pg_temp.check((SELECT status FROM booking.event_instances WHERE id = pg_temp.id('e1')) = 'issue_reported',
                        'the event in progress becomes issue_reported');
  PERFORM pg_temp.check(pg_temp.refusal(format('SELECT booking.report_event_issue(%L, ''x'', ''y'', ''apocalyptic'')', pg_temp.id('e1'))) LIKE '23514/%',
                        'an unknown severity: 23514');
  PERFORM pg_temp.check(pg_temp.refusal(format('SELECT booking.report_event_issue(%L, ''x'', ''y'', ''low'', array_fill(''u''::text, ARRAY[11]))', pg_temp.id('e1'))) = '22023/',
                        'eleven photos: 22023');
  PERFORM pg_temp.check(pg_temp.refusal(format('SELECT booking.resolve_event_issue(%L, ''fixed'')', i.id)) = '42501/', 'only staff resolve');
  PERFORM pg_temp.act_as('client2');
  PERFORM pg_temp.check(pg_temp.refusal(format('SELECT booking.report_event_issue(%L, ''x'', ''y'', ''low'')', pg_temp.id('e1'))) = '22023/',
                        'someone the event does not involve cannot see it to report on it');
  PERFORM pg_temp.act_as('staff');
  i := booking.resolve_event_issue(i.id, 'Replaced the cable');
  PERFORM pg_temp.check(i.status = 'resolved' AND i.resolved_by = 'u-staff' AND i.resolved_at = now(), 'resolved by staff');
  PERFORM booking.set_event_status(pg_temp.id('e1'), 'in_progress', 'back on track');
  PERFORM booking.set_event_status(pg_temp.id('e1'), 'completed');
  PERFORM pg_temp.check(pg_temp.refusal(format('SELECT booking.assign_staff(%L, ''u-client2'', ''late'')', pg_temp.id('e1'))) = 'PT409/event_closed',
                        'nobody is assigned to a completed event');
  PERFORM pg_temp.act_as('superuser');
END $$;

-- Cancelling a booking cancels its event and what hangs on it; moving one moves it.
DO $$
BEGIN
  PERFORM pg_temp.act_as('staff');
  PERFORM set_config('booking.reason', '', true);  -- (a reason given earlier holds for the transaction)
  UPDATE booking.bookings SET status = 'cancelled' WHERE id = pg_temp.id('b2');
  PERFORM pg_temp.check((SELECT status FROM booking.event_instances WHERE id = pg_temp.id('e2')) = 'cancelled', 'the event is cancelled');
  PERFORM pg_temp.check((SELECT status FROM booking.staff_assignments WHERE id = pg_temp.id('a2')) = 'cancelled', 'its assignments too');
  PERFORM pg_temp.check((SELECT status FROM booking.activities WHERE id = pg_temp.id('act2')) = 'cancelled', 'and its activities');
  PERFORM pg_temp.check((SELECT (event_generation_status, event_count) = ('cancelled', 0) FROM booking.bookings WHERE id = pg_temp.id('b2')),
                        'the booking says so');
  PERFORM pg_temp.check((SELECT reason FROM booking.event_state_transitions WHERE entity_id = pg_temp.id('e2') AND to_state = 'cancelled')
                        = 'the booking was cancelled', 'with the reason');
  -- e3 moves an hour later: its kit follows
  UPDATE booking.bookings SET starts_at = starts_at + interval '1 hour', ends_at = ends_at + interval '1 hour' WHERE id = (
    SELECT booking_id FROM booking.event_instances WHERE id = pg_temp.id('e3'));
  PERFORM pg_temp.check((SELECT starts_at FROM booking.event_instances WHERE id = pg_temp.id('e3')) = '2031-02-04 11:00 America/New_York',
                        'the event moves with its booking');
  PERFORM pg_temp.check((SELECT starts_at FROM booking.activity_kits WHERE id = pg_temp.id('k3')) = '2031-02-04 11:00 America/New_York',
                        'and its kits');
  PERFORM pg_temp.act_as('superuser');
END $$;

-- Read-time states and close_overdue: no cron needed to see them, one call to persist them.
DO $$
DECLARE
  org  constant uuid := '00000000-0000-4000-a000-000000000001';
  bid  uuid;
  ev   uuid;
  late booking.staff_assignments;
  inn  booking.staff_assignments;
BEGIN
  INSERT INTO booking.bookings (organization_id, resource_id, booked_by, starts_at, ends_at, status)
  VALUES (org, '00000000-0000-4000-a000-000000000103', 'u-client', now() - interval '5 hours', now() - interval '3 hours', 'approved')
  RETURNING id INTO bid;
  SELECT id INTO ev FROM booking.event_instances WHERE booking_id = bid;
  PERFORM pg_temp.act_as('staff');
  late := booking.assign_staff(ev, 'u-client2', 'host');
  inn := booking.assign_staff(ev, 'u-member', 'host');
  PERFORM pg_temp.check(booking.assignment_status(late) = 'no_show', 'not checked in 15 minutes after the start: reads no_show');
  PERFORM pg_temp.act_as('member');
  inn := booking.staff_check_in(inn.id);
  PERFORM pg_temp.check(booking.assignment_status(inn) = 'overdue', 'checked in, not out, 2 hours after the end: reads overdue');
  PERFORM pg_temp.check(pg_temp.refusal('SELECT booking.close_overdue()') = '42501/', 'close_overdue is for service_role');
  PERFORM pg_temp.act_as('service_role');
  PERFORM pg_temp.check(booking.close_overdue() = 2, 'close_overdue persists both');
  PERFORM pg_temp.act_as('superuser');
  PERFORM pg_temp.check((SELECT status FROM booking.staff_assignments WHERE id = late.id) = 'no_show', 'no_show persisted');
  SELECT * INTO inn FROM booking.staff_assignments WHERE id = inn.id;
  PERFORM pg_temp.check(inn.status = 'checked_out' AND inn.auto_checked_out AND inn.check_out_at = greatest(inn.ends_at, inn.check_in_at),
                        'checked out automatically at the end');
  PERFORM pg_temp.check(booking.close_overdue() = 0, 'nothing left to close');
END $$;

-- Bounds and the state machines as data.
DO $$
BEGIN
  PERFORM pg_temp.check((SELECT count(DISTINCT machine) FROM booking.event_state_machines()) = 4, 'four machines listed');
  PERFORM pg_temp.check(NOT EXISTS (SELECT 1 FROM booking.event_state_machines() m
                                    WHERE (m.machine, m.from_state) IN (('event_instance', 'cancelled'), ('event_instance', 'post_processing'),
                                                                        ('activity', 'completed'), ('activity', 'cancelled'),
                                                                        ('staff_assignment', 'checked_out'), ('staff_assignment', 'rejected'),
                                                                        ('staff_assignment', 'no_show'), ('staff_assignment', 'cancelled'),
                                                                        ('activity_kit', 'returned'))),
                        'terminal states have no way out');
  PERFORM pg_temp.act_as('staff');
  PERFORM pg_temp.check(pg_temp.refusal(format('SELECT booking.assign_staff(%L, ''u-x'', repeat(''r'', 101))', pg_temp.id('e3'))) = '22023/', 'a role over 100 characters');
  PERFORM pg_temp.check(pg_temp.refusal(format('SELECT booking.staff_check_out(%L, NULL, repeat(''f'', 4001))', gen_random_uuid())) = '22023/', 'feedback over 4000 characters');
  PERFORM pg_temp.act_as('superuser');
END $$;

-- Each occurrence of a series is a booking: each approved one gets its own event; a location
-- deleted leaves its events without one.
DO $$
DECLARE
  v_result jsonb;
  v_loc    uuid;
BEGIN
  PERFORM pg_temp.act_as('client');
  v_result := booking.book_series('00000000-0000-4000-a000-000000000103', '2031-03-10 14:00 America/New_York',
                                  '2031-03-10 15:00 America/New_York', 'FREQ=WEEKLY;COUNT=3');
  PERFORM pg_temp.act_as('superuser');
  PERFORM pg_temp.check((SELECT count(*) FROM booking.event_instances e JOIN booking.bookings b ON b.id = e.booking_id
                         WHERE b.series_id = (v_result -> 'series' ->> 'id')::uuid) = 3, 'three occurrences, three events');
  PERFORM pg_temp.act_as('client');
  PERFORM booking.cancel_occurrence((v_result -> 'bookings' -> 1 ->> 'id')::uuid);
  PERFORM pg_temp.act_as('superuser');
  PERFORM pg_temp.check((SELECT status FROM booking.event_instances WHERE booking_id = (v_result -> 'bookings' -> 1 ->> 'id')::uuid) = 'cancelled',
                        'a cancelled occurrence cancels its event only');
  PERFORM pg_temp.check((SELECT count(*) FROM booking.event_instances e JOIN booking.bookings b ON b.id = e.booking_id
                         WHERE b.series_id = (v_result -> 'series' ->> 'id')::uuid AND e.status = 'scheduled') = 2, 'the others stay');
  INSERT INTO booking.locations (organization_id, name) VALUES ('00000000-0000-4000-a000-000000000001', 'Tent') RETURNING id INTO v_loc;
  UPDATE booking.event_instances SET location_id = v_loc WHERE id = pg_temp.id('e3');
  DELETE FROM booking.locations WHERE id = v_loc;
  PERFORM pg_temp.check((SELECT location_id FROM booking.event_instances WHERE id = pg_temp.id('e3')) IS NULL, 'a deleted location leaves the event without one');
END $$;

-- What follows a cancellation is judged by the rule, not by who cancelled: the booker cancelling
-- their booking, or the field manager cancelling the event, cancels its assignments and frees
-- its kits though neither may change those rows themselves.
DO $$
DECLARE
  org constant uuid := '00000000-0000-4000-a000-000000000001';
  b   booking.bookings;
  ev  uuid;
  a   uuid;
  k   uuid;
  tpl uuid;
  kit uuid;
BEGIN
  SELECT template_id, id INTO tpl, kit FROM booking.kit_instances WHERE serial_number = 'SK-001';
  FOR i IN 1..2 LOOP
    PERFORM pg_temp.act_as('client');
    b := booking.book('00000000-0000-4000-a000-000000000103', format('2031-04-0%s 10:00 America/New_York', i)::timestamptz,
                      format('2031-04-0%s 12:00 America/New_York', i)::timestamptz);
    SELECT id INTO ev FROM booking.event_instances WHERE booking_id = b.id;
    PERFORM pg_temp.act_as('staff');
    a := (booking.assign_staff(ev, 'u-client2', 'host')).id;
    UPDATE booking.event_instances SET field_manager_id = 'u-member' WHERE id = ev;
    INSERT INTO booking.activities (organization_id, event_instance_id, title) VALUES (org, ev, 'Talk')
    RETURNING id INTO k;
    INSERT INTO booking.activity_kits (organization_id, activity_id, kit_instance_id, status)
    VALUES (org, k, kit, 'assigned') RETURNING id INTO k;
    IF i = 1 THEN
      PERFORM pg_temp.act_as('client');
      PERFORM booking.set_booking_status(b.id, 'cancelled');
    ELSE
      PERFORM pg_temp.act_as('member');
      PERFORM booking.set_event_status(ev, 'cancelled', 'storm warning');
    END IF;
    PERFORM pg_temp.act_as('superuser');
    PERFORM pg_temp.check((SELECT status FROM booking.event_instances WHERE id = ev) = 'cancelled', format('case %s: the event is cancelled', i));
    PERFORM pg_temp.check((SELECT status FROM booking.staff_assignments WHERE id = a) = 'cancelled', format('case %s: its assignment too', i));
    PERFORM pg_temp.check((SELECT status = 'needed' AND kit_instance_id IS NULL FROM booking.activity_kits WHERE id = k),
                          format('case %s: its kit is freed', i));
  END LOOP;
  -- the rule does not open anything else: the assignee still cannot cancel a live assignment
  PERFORM pg_temp.act_as('member');
  PERFORM pg_temp.check(pg_temp.refusal(format('UPDATE booking.staff_assignments SET status = ''cancelled'' WHERE id = %L', pg_temp.id('a1'))) IN ('42501/', 'PT409/transition'),
                        'an assignee does not cancel their own assignment');
  PERFORM pg_temp.act_as('superuser');
END $$;

-- Refusals that must not pass for success, and the records that must stay true.
DO $$
DECLARE
  org  constant uuid := '00000000-0000-4000-a000-000000000001';
  b    booking.bookings;
  ev   uuid;
  a    uuid;
  act  uuid;
  tpl2 uuid;
  kit2 uuid;
BEGIN
  PERFORM pg_temp.act_as('client');
  b := booking.book('00000000-0000-4000-a000-000000000103', '2031-05-05 10:00 America/New_York', '2031-05-05 12:00 America/New_York');
  SELECT id INTO ev FROM booking.event_instances WHERE booking_id = b.id;
  PERFORM pg_temp.act_as('staff');
  a := (booking.assign_staff(ev, 'u-client2', 'host')).id;
  INSERT INTO booking.event_team_members (organization_id, event_instance_id, user_id, role) VALUES (org, ev, 'u-member', 'lead');
  INSERT INTO booking.activities (organization_id, event_instance_id, title) VALUES (org, ev, 'Demo') RETURNING id INTO act;
  INSERT INTO booking.kit_templates (organization_id, name) VALUES (org, 'Light kit') RETURNING id INTO tpl2;
  INSERT INTO booking.kit_instances (organization_id, template_id, serial_number, status) VALUES (org, tpl2, 'LK-9', 'retired') RETURNING id INTO kit2;
  PERFORM pg_temp.check(pg_temp.refusal(format($q$INSERT INTO booking.activity_kits (organization_id, activity_id, kit_instance_id, status) VALUES (%L, %L, %L, 'assigned')$q$, org, act, kit2))
                        = 'PT409/kit_unavailable', 'a retired kit is not planned');
  PERFORM pg_temp.check(pg_temp.refusal(format($q$INSERT INTO booking.activity_kits (organization_id, activity_id, kit_template_id, kit_instance_id, status)
                                                  SELECT %L, %L, %L, id, 'assigned' FROM booking.kit_instances WHERE serial_number = 'SK-001'$q$, org, act, tpl2))
                        LIKE '23514/%', 'an instance of another template is refused');
  -- a team member sees the assignment but does not check someone else in
  PERFORM pg_temp.act_as('member');
  PERFORM pg_temp.check(pg_temp.refusal(format('SELECT booking.staff_check_in(%L)', a)) = '42501/', 'a team member does not check someone else in');
  PERFORM pg_temp.check(pg_temp.refusal(format('SELECT booking.staff_check_out(%L)', a)) = '42501/', 'nor out');
  -- a booking's own reason is not replaced by the events' one
  PERFORM pg_temp.act_as('client');
  PERFORM booking.set_booking_status(b.id, 'cancelled', 'moved abroad');
  PERFORM pg_temp.act_as('superuser');
  PERFORM pg_temp.check((SELECT reason FROM booking.event_state_transitions WHERE entity_id = ev AND to_state = 'cancelled') = 'moved abroad',
                        'the event''s log keeps the booking''s reason');
  PERFORM pg_temp.check(current_setting('booking.reason', true) IS DISTINCT FROM 'the booking was cancelled', 'the transaction''s reason is left as it was');
  -- deleting an event keeps its booking's derived columns true
  DELETE FROM booking.event_instances WHERE id = ev;
  PERFORM pg_temp.check((SELECT (event_generation_status, event_count) = ('none', 0) FROM booking.bookings WHERE id = b.id),
                        'a booking whose event was deleted has none');
  PERFORM pg_temp.check(pg_temp.refusal('SELECT booking.set_event_status(gen_random_uuid(), ''preparation'')') = '42501/', 'an unknown event');
  PERFORM pg_temp.check((pg_temp.refusal_text(format('UPDATE booking.event_instances SET status = ''completed'' WHERE id = %L', pg_temp.id('e3')))) LIKE 'PT409/transition/This event instance cannot go from scheduled to completed.',
                        'the refusal reads well');
END $$;
