// Intake (seed 002) through PostgREST: submit_external_request idempotent on (organization,
// source, external id) for a worker (service_role) and a signed-in user (api), its refusals;
// process_external_request by staff: a refusal of the rule book answered 409 PT409 and recorded
// on the request (committed), then an approval that books and links both ways; attachments by
// the submitter. This file's requests use external ids e2e-intake-*, its bookings 3 to 5
// November 2031 (New York time, UTC-5) on a room of its own, removed when it is done.
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { clientAs, jwt, sql, LAB } from '../stack.mjs'

const as = async (sub) => clientAs(await jwt({ sub, role: 'authenticated' }))
const SUBMITTER = 'u-intake-visitor' // signed in, member of nothing (the lab is public)
const state = {}
const ROOM = '00000000-0000-4000-a000-00000000e101'

before(() => sql(`INSERT INTO booking.resources (id, organization_id, kind, title) VALUES ('${ROOM}', '${LAB}', 'space', 'Intake room')`))
after(() => sql(`DELETE FROM booking.bookings WHERE resource_id = '${ROOM}'; DELETE FROM booking.resources WHERE id = '${ROOM}'`))

test('submit_external_request: a worker\'s replay returns the same request, a newer delivery updates it while pending; a user submits as api; 400 22023, 403 42501, 409 PT409', async () => {
  const worker = await clientAs('service_role')
  const args = {
    p_organization_id: LAB, p_source: 'appsheet', p_external_id: 'e2e-intake-1', p_request_type: 'booking',
    p_request_data: { resource_id: ROOM, starts_at: '2031-11-03T15:00:00Z', ends_at: '2031-11-03T16:00:00Z', title: 'Scan', revision: 1 },
  }
  const { data: first, error, status } = await worker.rpc('submit_external_request', args)
  assert.equal(error, null)
  assert.equal(status, 200)
  assert.equal(first.status, 'pending')
  const { data: replay } = await worker.rpc('submit_external_request', args)
  assert.equal(replay.id, first.id, 'a retried webhook finds its request')
  assert.equal(replay.updated_at, first.updated_at, 'unchanged')
  const { data: newer } = await worker.rpc('submit_external_request',
    { ...args, p_request_data: { ...args.p_request_data, revision: 2 }, p_priority: 'high' })
  assert.equal(newer.id, first.id)
  assert.equal(newer.priority, 'high', 'a newer delivery while pending is taken')
  assert.equal(sql(`SELECT count(*) FROM booking.external_requests WHERE external_id = 'e2e-intake-1'`), '1')
  state.workerRequest = first.id

  const visitor = await as(SUBMITTER)
  const { data: mine, error: ok } = await visitor.rpc('submit_external_request', {
    p_organization_id: LAB, p_source: 'api', p_external_id: 'e2e-intake-2', p_request_type: 'booking',
    p_request_data: { resource_id: ROOM, starts_at: '2031-11-04T15:00:00Z', ends_at: '2031-11-04T16:00:00Z', title: 'My scan' },
  })
  assert.equal(ok, null)
  assert.equal(mine.submitted_by, SUBMITTER)
  state.visitorRequest = mine.id

  for (const [what, client, override, code, httpStatus, details] of [
    ['an unknown source', visitor, { p_source: 'fax' }, '22023', 400],
    ['a blank external id', visitor, { p_external_id: '  ' }, '22023', 400],
    ['a worker\'s source', visitor, { p_source: 'google_forms' }, '42501', 403],
    ['another user\'s key', await as('u-intake-other'), { p_external_id: 'e2e-intake-2' }, 'PT409', 409, 'external_id_taken'],
  ]) {
    const { data, error: refused, status: refusedStatus } = await client.rpc('submit_external_request',
      { p_organization_id: LAB, p_source: 'api', p_external_id: 'e2e-intake-x', p_request_type: 'inquiry', p_request_data: {}, ...override })
    assert.equal(data, null, what)
    assert.equal(refusedStatus, httpStatus, what)
    assert.equal(refused.code, code, what)
    if (details) assert.equal(refused.details, details, what)
  }
  const { status: anonStatus } = await (await clientAs('anon')).rpc('submit_external_request',
    { p_organization_id: LAB, p_source: 'api', p_external_id: 'e2e-intake-x', p_request_type: 'inquiry', p_request_data: {} })
  assert.equal(anonStatus, 401, 'anonymous visitors do not submit')
})

test('process_external_request: a rule-book refusal is 409 PT409 and stays recorded; approval books and links both ways; a submitter may not process; reject tells the submitter', async () => {
  const staff = await clientAs('staff')
  // The room is taken at the time the worker's request asks for.
  sql(`INSERT INTO booking.bookings (organization_id, resource_id, booked_by, starts_at, ends_at, status)
       VALUES ('${LAB}', '${ROOM}', 'u-member', '2031-11-03T15:30:00Z', '2031-11-03T16:30:00Z', 'approved')`)
  const { data, error, status } = await staff.rpc('process_external_request', { p_request_id: state.workerRequest, p_action: 'approve', p_notes: 'tried' })
  assert.equal(data, null)
  assert.equal(status, 409)
  assert.equal(error.code, 'PT409')
  assert.equal(error.details, 'overlap')
  assert.deepEqual(sql(`SELECT status || ' ' || refusal || ' ' || processing_notes FROM booking.external_requests WHERE id = '${state.workerRequest}'`),
    'pending overlap tried', 'the 409 committed the recorded reason')

  const { error: notStaff, status: notStaffStatus } = await (await as(SUBMITTER)).rpc('process_external_request',
    { p_request_id: state.visitorRequest, p_action: 'approve' })
  assert.equal(notStaffStatus, 403)
  assert.equal(notStaff.code, '42501')

  const { data: approved, error: fine } = await staff.rpc('process_external_request', { p_request_id: state.visitorRequest, p_action: 'approve' })
  assert.equal(fine, null)
  assert.equal(approved.status, 'approved')
  assert.ok(approved.booking_id)
  assert.equal(sql(`SELECT external_request_id || ' ' || status || ' ' || booked_by FROM booking.bookings WHERE id = '${approved.booking_id}'`),
    `${state.visitorRequest} approved u-staff`, 'booked, linked back, for the approver (the submitter is no member)')
  const { status: twice, error: again } = await staff.rpc('process_external_request', { p_request_id: state.visitorRequest, p_action: 'approve' })
  assert.equal(twice, 409)
  assert.equal(again.details, 'request_transition')

  const { data: rejected } = await staff.rpc('process_external_request', { p_request_id: state.workerRequest, p_action: 'reject', p_notes: 'The room is taken.' })
  assert.equal(rejected.status, 'rejected')
  const { status: bad } = await staff.rpc('process_external_request', { p_request_id: state.workerRequest, p_action: 'shred' })
  assert.equal(bad, 400)
})

test('request_attachments: the submitter attaches to their own pending request; uploaded_by is theirs whatever they send', async () => {
  const visitor = await as(SUBMITTER)
  const { data: req } = await visitor.rpc('submit_external_request',
    { p_organization_id: LAB, p_source: 'api', p_external_id: 'e2e-intake-3', p_request_type: 'suggestion', p_request_data: { text: 'more rooms' } })
  const { error, status } = await visitor.from('request_attachments').insert({
    organization_id: LAB, request_id: req.id, file_name: 'idea.pdf', file_type: 'application/pdf', file_size: 10,
    file_url: 'https://files.example/idea.pdf', uploaded_by: 'someone-else',
  })
  assert.equal(error, null)
  assert.equal(status, 201)
  assert.equal(sql(`SELECT uploaded_by FROM booking.request_attachments WHERE request_id = '${req.id}'`), SUBMITTER)
  const { error: closed } = await visitor.from('request_attachments').insert({
    organization_id: LAB, request_id: state.visitorRequest, file_name: 'late.pdf', file_type: 'application/pdf', file_size: 10,
    file_url: 'https://files.example/late.pdf',
  })
  assert.equal(closed.code, '42501', 'not once the request is decided')
})
