// Reading and writing tables with .from(): row-level security for each persona, and what a
// careless or hostile client sends (someone else's booked_by, another organization, a status
// it may not set) refused with nothing written.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { clientAs, sql, CLINIC, CLINIC_ROOM, LAB, PRINTER } from '../stack.mjs'

const ids = (rows) => rows.map((r) => r.id).sort()
const dbIds = (where) => sql(`SELECT coalesce(string_agg(id::text, ' ' ORDER BY id::text), '') FROM booking.bookings WHERE ${where}`).split(' ').filter(Boolean)

test('.from(bookings): each persona sees exactly the rows RLS gives it', async () => {
  const seen = {}
  for (const persona of ['client', 'client2', 'staff', 'admin', 'outsider', 'service_role']) {
    const { data, error } = await (await clientAs(persona)).from('bookings').select('id, booked_by, organization_id')
    assert.equal(error, null, persona)
    seen[persona] = ids(data)
  }
  assert.deepEqual(seen.client, dbIds(`booked_by = 'u-client'`))
  assert.deepEqual(seen.client2, dbIds(`booked_by = 'u-client2'`))
  assert.deepEqual(seen.staff, dbIds(`organization_id = '${LAB}'`))
  assert.deepEqual(seen.admin, seen.staff)
  assert.deepEqual(seen.outsider, dbIds(`organization_id = '${CLINIC}' OR booked_by = 'u-outsider'`))
  assert.deepEqual(seen.service_role, dbIds('true'))
  const { error, status } = await (await clientAs('anon')).from('bookings').select('id')
  assert.equal(status, 401, 'anonymous visitors have no right on bookings')
  assert.equal(error.code, '42501')
})

test('.from(resources): anonymous visitors see the public lab\'s bookable resources, not the private clinic\'s', async () => {
  const { data } = await (await clientAs('anon')).from('resources').select('id, organization_id')
  assert.ok(data.length > 0)
  assert.ok(data.every((r) => r.organization_id === LAB))
  const { data: outsiders } = await (await clientAs('outsider')).from('resources').select('id').eq('id', CLINIC_ROOM)
  assert.equal(outsiders.length, 1, 'the clinic\'s admin sees its room')
})

test('.from(bookings).insert(): forged booker, organization or status are refused and nothing is written', async () => {
  const booking = await clientAs('client')
  const before = sql('SELECT count(*) FROM booking.bookings')
  const row = { organization_id: LAB, resource_id: PRINTER, starts_at: '2030-04-01T15:00:00Z', ends_at: '2030-04-01T16:00:00Z' }
  for (const [what, forged] of [
    ['someone else as booker', { booked_by: 'u-client2' }],
    ['another organization', { organization_id: CLINIC, resource_id: CLINIC_ROOM }],
    ['a status only staff set', { status: 'approved' }],
  ]) {
    const { error, status } = await booking.from('bookings').insert({ ...row, ...forged })
    assert.ok([401, 403].includes(status), `${what}: ${status}`)
    assert.equal(error.code, '42501', what)
  }
  assert.equal(sql('SELECT count(*) FROM booking.bookings'), before, 'nothing written')
  // The honest request goes through, in the caller's name (the column default is the JWT subject).
  const { data: made, error } = await booking.from('bookings').insert({ ...row, status: 'pending' }).select().single()
  assert.equal(error, null)
  assert.equal(made.booked_by, 'u-client')
})

test('.from(resources).update(): staff edit their organization\'s; a client\'s update touches nothing', async () => {
  const staff = await clientAs('staff')
  const { data: edited, error } = await staff.from('resources').update({ description: 'Prusa, serviced' }).eq('id', PRINTER).select()
  assert.equal(error, null)
  assert.equal(edited.length, 1)
  const client = await clientAs('client')
  const { data: none, status } = await client.from('resources').update({ description: 'mine now' }).eq('id', PRINTER).select()
  assert.ok(status === 403 || (none ?? []).length === 0, `status ${status}`)
  assert.equal(sql(`SELECT description FROM booking.resources WHERE id = '${PRINTER}'`), 'Prusa, serviced')
})

test('.from(notifications) and .from(resource_daily_usage): own notifications only; usage figures by RLS', async () => {
  const client = await clientAs('client')
  const { data: mine } = await client.from('notifications').select('recipient_id')
  assert.ok(mine.length > 0 && mine.every((n) => n.recipient_id === 'u-client'))
  const staff = await clientAs('staff')
  const { data: usage, error } = await staff.from('resource_daily_usage').select('*').eq('organization_id', LAB)
  assert.equal(error, null)
  assert.ok(usage.length > 0)
  const { data: clinicUsage } = await staff.from('resource_daily_usage').select('*').eq('organization_id', CLINIC)
  assert.equal(clinicUsage.length, 0, 'staff see nothing of another organization')
  const { status } = await (await clientAs('anon')).from('resource_daily_usage').select('*')
  assert.equal(status, 401)
})
