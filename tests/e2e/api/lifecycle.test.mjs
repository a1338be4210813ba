// Status changes, notifications, the audit log, the outbox and conflicts through PostgREST, as
// apps and workers call them; each with its happy path and its main refusal.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { clientAs, sql, CLINIC, LAB, PRINTER, REQUESTED, STUDY_GROUP, VR } from '../stack.mjs'

test('set_booking_status: staff approve with a reason; an illegal change is 409; a client without the right 403', async () => {
  const booking = await clientAs('staff')
  const { data: approved, error } = await booking.rpc('set_booking_status',
    { p_booking_id: REQUESTED, p_status: 'approved', p_reason: 'equipment checked' })
  assert.equal(error, null)
  assert.equal(approved.status, 'approved')
  assert.equal(approved.approved_by, 'u-staff')
  assert.equal(sql(`SELECT reason FROM booking.booking_transitions WHERE booking_id = '${REQUESTED}' AND to_status = 'approved'`), 'equipment checked')

  const { error: again, status } = await booking.rpc('set_booking_status', { p_booking_id: REQUESTED, p_status: 'pending' })
  assert.equal(status, 409)
  assert.equal(again.code, 'PT409')
  assert.equal(again.details, 'transition')
  assert.match(again.hint, /approved it can go to/)

  const client = await clientAs('client')
  const { error: noRight, status: forbidden } = await client.rpc('set_booking_status', { p_booking_id: REQUESTED, p_status: 'completed' })
  assert.equal(forbidden, 403)
  assert.equal(noRight.code, '42501')
  const { error: bad } = await client.rpc('set_booking_status', { p_booking_id: REQUESTED, p_status: 'confirmed' })
  assert.equal(bad.code, '22023')
  assert.equal(sql(`SELECT status FROM booking.bookings WHERE id = '${REQUESTED}'`), 'approved', 'the refusals changed nothing')
})

test('notifications: staff send, the recipient counts, pages and marks them; nobody reads another\'s', async () => {
  const staff = await clientAs('staff')
  const { data: sent, error } = await staff.rpc('send_notification',
    { p_recipient_id: 'u-client2', p_message: 'Your badge is ready', p_notification_type: 'badge', p_metadata: { desk: 3 } })
  assert.equal(error, null)
  assert.equal(sent.recipient_id, 'u-client2')
  assert.equal(sent.organization_id, LAB)
  assert.deepEqual(sent.metadata, { desk: 3 })
  const { error: outsider, status } = await staff.rpc('send_notification',
    { p_recipient_id: 'u-outsider', p_message: 'hi', p_notification_type: 'chat' })
  assert.equal(status, 403)
  assert.equal(outsider.code, '42501')
  const { error: empty, status: badStatus } = await staff.rpc('send_notification',
    { p_recipient_id: 'u-client2', p_message: '', p_notification_type: 'chat' })
  assert.equal(badStatus, 400)
  assert.equal(empty.code, '22023')

  const booking = await clientAs('client2')
  const unread = Number(sql(`SELECT count(*) FROM booking.notifications WHERE recipient_id = 'u-client2' AND read_at IS NULL`))
  assert.ok(unread >= 1)
  assert.equal((await booking.rpc('get_unread_count', {}, { get: true })).data, unread)
  const { data: byType } = await booking.rpc('get_unread_counts', {}, { get: true })
  assert.equal(byType.find((t) => t.notification_type === 'badge').unread_count, 1)
  const { data: page } = await booking.rpc('get_notifications_page', { p_limit: 10, p_offset: 0 }, { get: true })
  assert.equal(page[0].message, 'Your badge is ready', 'newest first')
  const { error: tooBig } = await booking.rpc('get_notifications_page', { p_limit: 1000 }, { get: true })
  assert.equal(tooBig.code, '22023')
  const { data: marked } = await booking.rpc('mark_notifications_read', { p_notification_ids: [page[0].id] })
  assert.equal(marked, 1)
  assert.equal((await booking.rpc('get_unread_count', {}, { get: true })).data, unread - 1)

  for (const [fn, args] of [['get_unread_count', {}], ['get_unread_counts', {}], ['get_notifications_page', {}], ['mark_notifications_read', {}]]) {
    const { error: other, status: otherStatus } = await booking.rpc(fn, { ...args, p_user_id: 'u-client' }, { get: fn !== 'mark_notifications_read' })
    assert.equal(otherStatus, 403, fn)
    assert.equal(other.code, '42501', fn)
  }
  const worker = await clientAs('service_role')
  assert.equal((await worker.rpc('get_unread_count', { p_user_id: 'u-client2' }, { get: true })).data, unread - 1, 'service_role reads for a user')
})

test('log_action: the actor is the JWT subject; others\' entities are refused', async () => {
  const booking = await clientAs('staff')
  const { data: id, error } = await booking.rpc('log_action', { p_entity_type: 'resource', p_entity_id: VR,
    p_action: 'calibrated', p_old_values: { lens: 'old' }, p_new_values: { lens: 'new' }, p_reason: 'monthly check' })
  assert.equal(error, null)
  assert.equal(sql(`SELECT actor_id || ' ' || organization_id || ' ' || source FROM booking.audit_log WHERE id = '${id}'`), `u-staff ${LAB} rpc`)
  const client = await clientAs('client')
  const { error: denied, status } = await client.rpc('log_action', { p_entity_type: 'booking', p_entity_id: STUDY_GROUP, p_action: 'viewed' })
  assert.equal(status, 403)
  assert.equal(denied.code, '42501')
  const { error: bad, status: badStatus } = await booking.rpc('log_action', { p_entity_type: 'invoice', p_entity_id: VR, p_action: 'sent' })
  assert.equal(badStatus, 400)
  assert.equal(bad.code, '22023')
  // Admins read their organization's audit log through the table; staff do not.
  const admin = await clientAs('admin')
  assert.equal((await admin.from('audit_log').select('id').eq('id', id)).data.length, 1)
  assert.equal((await booking.from('audit_log').select('id').eq('id', id)).data.length, 0)
})

test('outbox: a service_role worker claims, acknowledges and fails events; users may not', async () => {
  const worker = await clientAs('service_role')
  const { data: events, error } = await worker.rpc('claim_outbox', { p_limit: 5, p_lease_seconds: 30 })
  assert.equal(error, null)
  assert.ok(events.length >= 1)
  assert.ok(events.every((e) => e.attempts === 1))
  const { data: none } = await worker.rpc('claim_outbox', { p_topic: events[0].topic, p_limit: 1000 })
  assert.ok(!none.some((e) => events.some((c) => c.id === e.id)), 'leased events are not handed out again')
  const { data: acked } = await worker.rpc('ack_outbox', { p_ids: events.slice(1).map((e) => e.id) })
  assert.equal(acked, events.length - 1)
  const { data: failed } = await worker.rpc('fail_outbox', { p_id: events[0].id, p_error: 'webhook answered 503' })
  assert.equal(failed.last_error, 'webhook answered 503')
  const { error: bad, status: badStatus } = await worker.rpc('claim_outbox', { p_limit: 0 })
  assert.equal(badStatus, 400)
  assert.equal(bad.code, '22023')

  const admin = await clientAs('admin')
  for (const [fn, args] of [['claim_outbox', {}], ['ack_outbox', { p_ids: [1] }], ['fail_outbox', { p_id: 1, p_error: 'x' }]]) {
    const { error: denied, status } = await admin.rpc(fn, args)
    assert.equal(status, 403, fn)
    assert.equal(denied.code, '42501', fn)
  }
})

test('conflicts: staff detect once and resolve; clients may not', async () => {
  // An import with triggers off left the study group's room with 13 seats taken.
  sql(`SET session_replication_role = replica;
       INSERT INTO booking.bookings (organization_id, resource_id, booked_by, starts_at, ends_at, status, seats)
       VALUES ('${LAB}', '00000000-0000-4000-a000-000000000103', 'u-member', '2030-03-04 15:00 America/New_York',
               '2030-03-04 17:00 America/New_York', 'approved', 9)`)
  const staff = await clientAs('staff')
  const window = { p_organization_id: LAB, p_from: '2030-03-01T00:00:00Z', p_to: '2030-04-01T00:00:00Z' }
  const { data: found, error } = await staff.rpc('detect_conflicts', window)
  assert.equal(error, null)
  const overfull = found.find((c) => c.conflict_type === 'capacity_exceeded')
  assert.equal(overfull.details.peak_seats, 13)
  const { data: again } = await staff.rpc('detect_conflicts', window)
  assert.deepEqual(again.map((c) => c.id).sort(), found.map((c) => c.id).sort(), 'detecting twice records nothing new')
  const { data: resolved } = await staff.rpc('resolve_conflict', { p_conflict_id: overfull.id, p_resolution: 'moved five people to the annex' })
  assert.equal(resolved.status, 'resolved')
  assert.equal(resolved.resolved_by, 'u-staff')
  const { error: noResolution } = await staff.rpc('resolve_conflict', { p_conflict_id: overfull.id, p_resolution: null, p_status: 'ignored' })
  assert.equal(noResolution.code, '22023')

  const client = await clientAs('client')
  const { error: denied, status } = await client.rpc('detect_conflicts', window)
  assert.equal(status, 403)
  assert.equal(denied.code, '42501')
  const outsider = await clientAs('outsider')
  const { error: unseen } = await outsider.rpc('resolve_conflict', { p_conflict_id: overfull.id, p_resolution: 'mine now' })
  assert.equal(unseen.code, '22023', 'another organization\'s conflict is unknown')
  const { data: clinic } = await outsider.rpc('detect_conflicts', { ...window, p_organization_id: CLINIC })
  assert.ok(Array.isArray(clinic), 'the clinic\'s admin detects the clinic\'s')
})
