-- Intake: requests from outside are idempotent on (organization, source, external id), their
-- sources are the worker's or the signed-in user's as documented, staff process them, approving
-- a booking request books it through the rule book and links both ways, and a refusal is
-- recorded on the request and answered with PT409.

-- Submitting: idempotent, replays and reorderings.
DO $$
DECLARE
  r  booking.external_requests;
  r2 booking.external_requests;
  v_outbox bigint;
BEGIN
  PERFORM pg_temp.act_as('service_role');
  r := booking.submit_external_request('00000000-0000-4000-a000-000000000001', 'appsheet', 'row-1', 'booking',
         '{"resource_id": "00000000-0000-4000-a000-000000000102", "starts_at": "2030-06-03 10:00 America/New_York",
           "ends_at": "2030-06-03 11:00 America/New_York", "title": "Print run", "revision": 1}');
  INSERT INTO ids VALUES ('row-1', r.id);
  PERFORM pg_temp.check((r.status, r.priority, r.submitted_by IS NULL) = ('pending', 'normal', true),
                        'a worker''s request: pending, normal, no signed-in submitter');
  SELECT count(*) INTO v_outbox FROM booking.outbox WHERE topic = 'request.submitted' AND payload ->> 'request_id' = r.id::text;
  PERFORM pg_temp.check(v_outbox = 1, 'one request.submitted event');

  r2 := booking.submit_external_request('00000000-0000-4000-a000-000000000001', 'appsheet', 'row-1', 'booking',
          '{"resource_id": "00000000-0000-4000-a000-000000000102", "starts_at": "2030-06-03 10:00 America/New_York",
            "ends_at": "2030-06-03 11:00 America/New_York", "title": "Print run", "revision": 1}');
  PERFORM pg_temp.check(r2.id = r.id AND r2.updated_at = r.updated_at, 'an identical replay returns the request unchanged');
  PERFORM pg_temp.check((SELECT count(*) FROM booking.outbox WHERE payload ->> 'request_id' = r.id::text) = 1,
                        'and writes nothing');

  r2 := booking.submit_external_request('00000000-0000-4000-a000-000000000001', 'appsheet', 'row-1', 'booking',
          '{"resource_id": "00000000-0000-4000-a000-000000000102", "starts_at": "2030-06-03 10:00 America/New_York",
            "ends_at": "2030-06-03 11:30 America/New_York", "title": "Print run", "revision": 3}', 'high');
  PERFORM pg_temp.check(r2.id = r.id AND r2.priority = 'high' AND (r2.request_data ->> 'revision') = '3',
                        'a newer delivery while pending replaces what the request says');
  r2 := booking.submit_external_request('00000000-0000-4000-a000-000000000001', 'appsheet', 'row-1', 'booking',
          '{"resource_id": "00000000-0000-4000-a000-000000000102", "starts_at": "2030-06-03 10:00 America/New_York",
            "ends_at": "2030-06-03 11:00 America/New_York", "revision": 2}', 'low');
  PERFORM pg_temp.check(r2.priority = 'high' AND (r2.request_data ->> 'revision') = '3',
                        'an older revision arriving late changes nothing');
  PERFORM pg_temp.check((SELECT count(*) FROM booking.external_requests WHERE external_id = 'row-1') = 1, 'one row');

  -- The same external id from another source is another request.
  r2 := booking.submit_external_request('00000000-0000-4000-a000-000000000001', 'google_forms', 'row-1', 'inquiry',
          '{"question": "Do you lend cameras?"}');
  PERFORM pg_temp.check(r2.id <> r.id, 'the key is (organization, source, external id)');
  INSERT INTO ids VALUES ('inquiry', r2.id);

  PERFORM pg_temp.check(pg_temp.refusal($q$SELECT booking.submit_external_request('00000000-0000-4000-a000-000000000001',
    'fax', 'x', 'booking', '{}')$q$) = '22023/', 'an unknown source');
  PERFORM pg_temp.check(pg_temp.refusal($q$SELECT booking.submit_external_request('00000000-0000-4000-a000-000000000001',
    'api', 'x', 'praise', '{}')$q$) = '22023/', 'an unknown type');
  PERFORM pg_temp.check(pg_temp.refusal($q$SELECT booking.submit_external_request('00000000-0000-4000-a000-000000000001',
    'api', 'x', 'inquiry', '{}', 'whenever')$q$) = '22023/', 'an unknown priority');
  PERFORM pg_temp.check(pg_temp.refusal($q$SELECT booking.submit_external_request('00000000-0000-4000-a000-000000000001',
    'api', repeat('x', 201), 'inquiry', '{}')$q$) = '22023/', 'an external id of at most 200 characters');
  PERFORM pg_temp.check(pg_temp.refusal($q$SELECT booking.submit_external_request('00000000-0000-4000-a000-000000000001',
    'api', E' \t', 'inquiry', '{}')$q$) = '22023/', 'a blank external id');
  PERFORM pg_temp.check(pg_temp.refusal($q$SELECT booking.submit_external_request('00000000-0000-4000-a000-000000000001',
    'api', 'x', 'inquiry', '[1]')$q$) = '22023/', 'request_data is an object');
  PERFORM pg_temp.check(pg_temp.refusal(format($q$SELECT booking.submit_external_request('00000000-0000-4000-a000-000000000001',
    'api', 'x', 'inquiry', %L)$q$, jsonb_build_object('text', repeat('y', 17000)))) = '22023/', 'of at most 16 kB');
  PERFORM pg_temp.check(pg_temp.refusal($q$SELECT booking.submit_external_request('00000000-0000-4000-a000-0000000000ff',
    'api', 'x', 'inquiry', '{}')$q$) = '22023/', 'an unknown organization (service_role)');
END $$;

-- Who submits what.
DO $$
DECLARE
  r booking.external_requests;
BEGIN
  PERFORM pg_temp.act_as('client');
  r := booking.submit_external_request('00000000-0000-4000-a000-000000000001', 'api', 'client-form-1', 'booking',
         '{"resource_id": "00000000-0000-4000-a000-000000000101", "starts_at": "2030-06-04 10:00 America/New_York",
           "ends_at": "2030-06-04 11:00 America/New_York", "title": "VR demo"}');
  INSERT INTO ids VALUES ('client-1', r.id);
  PERFORM pg_temp.check(r.submitted_by = 'u-client', 'a signed-in user submits as api, as themselves');
  PERFORM pg_temp.check((SELECT count(*) FROM booking.external_requests) = 1, 'and sees their own request only');
  PERFORM pg_temp.check(pg_temp.refusal($q$SELECT booking.submit_external_request('00000000-0000-4000-a000-000000000001',
    'appsheet', 'y', 'inquiry', '{}')$q$) = '42501/', 'the integrations'' sources are their worker''s');
  PERFORM pg_temp.check(pg_temp.refusal($q$SELECT booking.submit_external_request('00000000-0000-4000-a000-000000000001',
    'manual', 'y', 'inquiry', '{}')$q$) = '42501/', 'manual requests are keyed in by staff');
  PERFORM pg_temp.check(pg_temp.refusal($q$SELECT booking.submit_external_request('00000000-0000-4000-a000-000000000002',
    'api', 'y', 'inquiry', '{}')$q$) = '42501/', 'not to an organization one may not book in');
  PERFORM pg_temp.check(pg_temp.refusal($q$SELECT booking.submit_external_request('00000000-0000-4000-a000-0000000000ff',
    'api', 'y', 'inquiry', '{}')$q$) = '42501/', 'which looks the same as one that does not exist');
  PERFORM pg_temp.check(pg_temp.refusal($q$INSERT INTO booking.external_requests (organization_id, source, external_id, request_type, request_data)
    VALUES ('00000000-0000-4000-a000-000000000001', 'api', 'z', 'inquiry', '{}')$q$) = '42501/', 'requests are made by the function only');

  PERFORM pg_temp.act_as('client2');
  PERFORM pg_temp.check(pg_temp.refusal($q$SELECT booking.submit_external_request('00000000-0000-4000-a000-000000000001',
    'api', 'client-form-1', 'inquiry', '{"peek": true}')$q$) = 'PT409/external_id_taken',
    'another user reusing a key learns nothing of the request');
  PERFORM pg_temp.check((SELECT count(*) FROM booking.external_requests) = 0, 'and cannot read it');

  PERFORM pg_temp.act_as('anon');
  PERFORM pg_temp.check(pg_temp.refusal($q$SELECT booking.submit_external_request('00000000-0000-4000-a000-000000000001',
    'api', 'y', 'inquiry', '{}')$q$) = '42501/', 'anonymous callers do not submit');

  -- An organization can switch a source off.
  PERFORM pg_temp.act_as('admin');
  UPDATE booking.organizations SET settings = settings || '{"integrations": {"google_forms": {"enabled": false}}}'
  WHERE id = '00000000-0000-4000-a000-000000000001';
  PERFORM pg_temp.act_as('service_role');
  PERFORM pg_temp.check(pg_temp.refusal($q$SELECT booking.submit_external_request('00000000-0000-4000-a000-000000000001',
    'google_forms', 'off-1', 'inquiry', '{}')$q$) = 'PT409/source_disabled', 'a source switched off is refused');
  PERFORM pg_temp.check((booking.submit_external_request('00000000-0000-4000-a000-000000000001', 'appsheet', 'on-1', 'inquiry', '{}')).id
                        IS NOT NULL, 'the others still work');
  PERFORM pg_temp.act_as('admin');
  UPDATE booking.organizations SET settings = settings - 'integrations' WHERE id = '00000000-0000-4000-a000-000000000001';
END $$;

-- Processing: staff only, the rule book, the link both ways, refusals recorded.
DO $$
DECLARE
  v      jsonb;
  v_book booking.bookings;
BEGIN
  PERFORM pg_temp.act_as('client');
  PERFORM pg_temp.check(pg_temp.refusal(format($q$SELECT booking.process_external_request(%L, 'approve')$q$, pg_temp.id('client-1')))
                        = '42501/', 'a submitter does not process their own request');
  PERFORM pg_temp.act_as('outsider');
  PERFORM pg_temp.check(pg_temp.refusal(format($q$SELECT booking.process_external_request(%L, 'approve')$q$, pg_temp.id('client-1')))
                        = '22023/', 'another tenant''s staff do not learn the request exists');

  PERFORM pg_temp.act_as('staff');
  PERFORM pg_temp.check(pg_temp.refusal(format($q$SELECT booking.process_external_request(%L, 'approve!')$q$, pg_temp.id('client-1')))
                        = '22023/', 'an unknown action');
  PERFORM pg_temp.check(pg_temp.refusal(format($q$SELECT booking.process_external_request(%L, 'reject')$q$, pg_temp.id('client-1')))
                        = '22023/', 'rejecting needs a reason for the submitter');
  PERFORM pg_temp.check(pg_temp.refusal(format($q$UPDATE booking.external_requests SET status = 'approved' WHERE id = %L$q$, pg_temp.id('client-1')))
                        = '42501/', 'status changes only through process_external_request');
  UPDATE booking.external_requests SET priority = 'urgent', assigned_to = 'u-staff', processing_notes = 'on it'
  WHERE id = pg_temp.id('client-1');
  PERFORM pg_temp.check((SELECT (priority, assigned_to) FROM booking.external_requests WHERE id = pg_temp.id('client-1'))
                        = ('urgent'::text, 'u-staff'::text), 'staff annotate: priority, assignee, notes');
  PERFORM pg_temp.check(pg_temp.refusal(format($q$UPDATE booking.external_requests SET assigned_to = 'u-client' WHERE id = %L$q$, pg_temp.id('client-1')))
                        = '23514/', 'a request is assigned to staff only');

  v := booking.process_external_request(pg_temp.id('client-1'), 'start');
  PERFORM pg_temp.check(v ->> 'status' = 'processing', 'started');
  v := booking.process_external_request(pg_temp.id('client-1'), 'approve', 'See you then');
  SELECT * INTO v_book FROM booking.bookings WHERE id = (v ->> 'booking_id')::uuid;
  PERFORM pg_temp.check(v ->> 'status' = 'approved' AND v_book.external_request_id = pg_temp.id('client-1'),
                        'approving books and links both ways');
  PERFORM pg_temp.check((v_book.status, v_book.booked_by, v_book.source, v_book.title, v_book.approved_by)
                        = ('approved', 'u-client', 'api', 'VR demo', 'u-staff'),
                        'for the submitting member, approved by the staff member');
  PERFORM pg_temp.check(pg_temp.refusal(format($q$SELECT booking.process_external_request(%L, 'approve')$q$, pg_temp.id('client-1')))
                        = 'PT409/request_transition', 'approving twice makes no second booking');
  PERFORM pg_temp.check((SELECT count(*) FROM booking.bookings WHERE external_request_id = pg_temp.id('client-1')) = 1, 'one booking');

  -- The AppSheet request asks for the printer 10:00-11:30; someone books 11:00 first.
  PERFORM pg_temp.act_as('client2');
  PERFORM booking.book('00000000-0000-4000-a000-000000000102', '2030-06-03 11:00 America/New_York', '2030-06-03 12:00 America/New_York');
  PERFORM pg_temp.act_as('staff');
  v := booking.process_external_request(pg_temp.id('row-1'), 'approve', 'first try');
  PERFORM pg_temp.check((v ->> 'code', v ->> 'details') = ('PT409', 'overlap'), 'a refusal answers PT409 with the reason');
  PERFORM pg_temp.check(current_setting('response.status', true) = '409', 'and HTTP 409 for PostgREST');
  PERFORM pg_temp.check((SELECT (status, refusal, processing_notes, booking_id IS NULL) FROM booking.external_requests
                         WHERE id = pg_temp.id('row-1')) = ('pending'::text, 'overlap'::text, 'first try'::text, true),
                        'the request stays pending with the reason recorded, no booking');
  PERFORM pg_temp.check((SELECT count(*) FROM booking.bookings WHERE title = 'Print run') = 0, 'nothing booked');

  -- Fixed by the worker (a new revision), approved.
  PERFORM pg_temp.act_as('service_role');
  PERFORM booking.submit_external_request('00000000-0000-4000-a000-000000000001', 'appsheet', 'row-1', 'booking',
    '{"resource_id": "00000000-0000-4000-a000-000000000102", "starts_at": "2030-06-03 14:00 America/New_York",
      "ends_at": "2030-06-03 15:00 America/New_York", "title": "Print run", "revision": 4, "booked_by": "u-member"}');
  PERFORM pg_temp.act_as('staff');
  v := booking.process_external_request(pg_temp.id('row-1'), 'approve');
  PERFORM pg_temp.check(v ->> 'status' = 'approved' AND v ->> 'refusal' IS NULL, 'approved once the time is free');
  PERFORM pg_temp.check((SELECT (booked_by, source) FROM booking.bookings WHERE id = (v ->> 'booking_id')::uuid)
                        = ('u-member'::text, 'appsheet'::text), 'for request_data.booked_by, a member');

  -- Malformed booking requests are refusals of the request, recorded too.
  PERFORM pg_temp.act_as('service_role');
  INSERT INTO ids SELECT 'bad', (booking.submit_external_request('00000000-0000-4000-a000-000000000001', 'appsheet', 'row-bad', 'booking',
    '{"resource_id": "00000000-0000-4000-a000-000000000201", "starts_at": "2030-06-03 14:00 Europe/Lisbon", "ends_at": "2030-06-03 15:00 Europe/Lisbon"}')).id;
  INSERT INTO ids SELECT 'bad2', (booking.submit_external_request('00000000-0000-4000-a000-000000000001', 'appsheet', 'row-bad2', 'booking',
    '{"resource_id": "00000000-0000-4000-a000-000000000102", "starts_at": "soon"}')).id;
  PERFORM pg_temp.act_as('staff');
  v := booking.process_external_request(pg_temp.id('bad'), 'approve');
  PERFORM pg_temp.check(v ->> 'details' = 'invalid_request_data', 'another tenant''s resource is not this request''s');
  v := booking.process_external_request(pg_temp.id('bad2'), 'approve');
  PERFORM pg_temp.check(v ->> 'details' = 'invalid_request_data' AND v ->> 'message' LIKE '%ends_at%', 'a missing field is named');

  -- Non-booking requests, reject and cancel; the submitter is told.
  v := booking.process_external_request(pg_temp.id('inquiry'), 'approve', 'Yes: two cameras.');
  PERFORM pg_temp.check(v ->> 'status' = 'approved' AND v ->> 'booking_id' IS NULL, 'an inquiry is approved without a booking');
  PERFORM pg_temp.act_as('client');
  INSERT INTO ids SELECT 'client-2', (booking.submit_external_request('00000000-0000-4000-a000-000000000001', 'api', 'client-form-2',
    'complaint', '{"text": "too cold"}')).id;
  PERFORM pg_temp.act_as('staff');
  v := booking.process_external_request(pg_temp.id('client-2'), 'reject', 'The heating is fixed.');
  PERFORM pg_temp.check(v ->> 'status' = 'rejected' AND v ->> 'processed_by' = 'u-staff', 'rejected, by whom');
  PERFORM pg_temp.act_as('client');
  PERFORM pg_temp.check((SELECT count(*) FROM booking.notifications WHERE notification_type = 'request_rejected'
                           AND message LIKE '%heating is fixed%') = 1, 'the submitter is told why');
  PERFORM pg_temp.check((SELECT count(*) FROM booking.notifications WHERE notification_type = 'request_approved') = 1,
                        'and of their approved request');

  -- A booking cannot be attached to a request by hand.
  PERFORM pg_temp.act_as('staff');
  PERFORM pg_temp.check(pg_temp.refusal(format($q$UPDATE booking.bookings SET external_request_id = %L
    WHERE title = 'Print run'$q$, pg_temp.id('inquiry'))) = '23514/', 'the link is the approval''s only');
END $$;

-- Attachments: metadata and a link; the submitter adds to their own pending request, at most 20.
DO $$
DECLARE
  v_req uuid;
BEGIN
  PERFORM pg_temp.act_as('client');
  v_req := (booking.submit_external_request('00000000-0000-4000-a000-000000000001', 'api', 'with-files', 'suggestion', '{}')).id;
  INSERT INTO booking.request_attachments (organization_id, request_id, file_name, file_type, file_size, file_url, uploaded_by)
  VALUES ('00000000-0000-4000-a000-000000000001', v_req, 'plan.pdf', 'application/pdf', 1024, 'https://files.example/plan.pdf', 'u-forged');
  PERFORM pg_temp.check((SELECT uploaded_by FROM booking.request_attachments WHERE request_id = v_req) = 'u-client',
                        'the uploader is whoever writes it');
  PERFORM pg_temp.check(pg_temp.refusal(format($q$INSERT INTO booking.request_attachments (organization_id, request_id, file_name, file_type, file_size, file_url)
    VALUES ('00000000-0000-4000-a000-000000000001', %L, 'x', 'application/pdf', 1, 'javascript:alert(1)')$q$, v_req)) = '23514/', 'links are http(s)');
  PERFORM pg_temp.check(pg_temp.refusal(format($q$INSERT INTO booking.request_attachments (organization_id, request_id, file_name, file_type, file_size, file_url)
    VALUES ('00000000-0000-4000-a000-000000000001', %L, 'x', 'application/pdf', 104857601, 'https://f.example/x')$q$, v_req)) = '23514/', 'at most 100 MB');
  PERFORM pg_temp.check(pg_temp.refusal(format($q$INSERT INTO booking.request_attachments (organization_id, request_id, file_name, file_type, file_size, file_url)
    VALUES ('00000000-0000-4000-a000-000000000001', %L, 'x', 'application/pdf', 1, 'https://f.example/x')$q$, pg_temp.id('client-2'))) = '42501/',
    'not to a request that is no longer pending');
  INSERT INTO booking.request_attachments (organization_id, request_id, file_name, file_type, file_size, file_url)
  SELECT '00000000-0000-4000-a000-000000000001', v_req, 'page-' || i || '.png', 'image/png', 10, 'https://files.example/' || i
  FROM generate_series(2, 20) i;
  PERFORM pg_temp.check(pg_temp.refusal(format($q$INSERT INTO booking.request_attachments (organization_id, request_id, file_name, file_type, file_size, file_url)
    VALUES ('00000000-0000-4000-a000-000000000001', %L, 'x', 'image/png', 1, 'https://f.example/x')$q$, v_req)) = '23514/', 'at most 20 per request');
  PERFORM pg_temp.act_as('client2');
  PERFORM pg_temp.check((SELECT count(*) FROM booking.request_attachments) = 0, 'others see none of them');
  PERFORM pg_temp.act_as('staff');
  PERFORM pg_temp.check((SELECT count(*) FROM booking.request_attachments WHERE request_id = v_req) = 20, 'staff see them all');
END $$;

-- The audit trail has every request's changes.
DO $$
BEGIN
  PERFORM pg_temp.act_as('superuser');
  PERFORM pg_temp.check((SELECT count(*) FROM booking.audit_log WHERE entity_type = 'external_requests'
                           AND entity_id = pg_temp.id('row-1')) >= 4, 'requests are audited');
END $$;
