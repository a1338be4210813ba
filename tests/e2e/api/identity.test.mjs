// The identity, membership and status-machine functions: what an app asks to draw its screens.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { clientAs, LAB } from '../stack.mjs'

test('who am I, and where: the JWT subject, role and memberships', async () => {
  const booking = await clientAs('staff')
  assert.equal((await booking.rpc('current_user_id', {}, { get: true })).data, 'u-staff')
  assert.equal((await booking.rpc('current_role', {}, { get: true })).data, 'authenticated')
  assert.deepEqual((await booking.rpc('user_organization_ids', {}, { get: true })).data, [LAB])
  assert.deepEqual((await booking.rpc('user_organization_ids', { p_roles: ['owner', 'admin'] }, { get: true })).data, [])
  assert.deepEqual((await booking.rpc('public_organization_ids', {}, { get: true })).data, [LAB])
  assert.equal((await booking.rpc('is_member', { p_organization_id: LAB }, { get: true })).data, true)
  assert.equal((await booking.rpc('is_staff', { p_organization_id: LAB }, { get: true })).data, true)
  assert.equal((await booking.rpc('is_admin', { p_organization_id: LAB }, { get: true })).data, false)

  const anon = await clientAs('anon')
  assert.equal((await anon.rpc('current_user_id', {}, { get: true })).data, null)
  assert.equal((await anon.rpc('current_role', {}, { get: true })).data, 'anon')
  for (const fn of ['is_member', 'is_staff', 'is_admin']) {
    assert.equal((await anon.rpc(fn, { p_organization_id: LAB }, { get: true })).data, false, fn)
    const { error, status } = await anon.rpc(fn, { p_organization_id: 'lab' }, { get: true })
    assert.equal(status, 400, fn)
    assert.equal(error.code, '22P02', fn)
  }
  const { error, status } = await anon.rpc('user_organization_ids', { p_roles: 'admin' }, { get: true })
  assert.equal(status, 400, 'a role list must be an array')
  assert.equal(error.code, '22P02')
})

test('the status machine: statuses, transitions, and whether a change is legal', async () => {
  const booking = await clientAs('anon')
  assert.deepEqual((await booking.rpc('booking_statuses', {}, { get: true })).data,
    ['draft', 'pending', 'changes_requested', 'approved', 'rejected', 'cancelled', 'completed', 'no_show'])
  const { data: transitions } = await booking.rpc('status_transitions', {}, { get: true })
  assert.ok(transitions.some((t) => t.from_status === 'approved' && t.to_status === 'cancelled' && t.booker_may))
  const ask = (from, to, byStaff) => booking.rpc('transition_allowed', { from_status: from, to_status: to, by_staff: byStaff }, { get: true })
  assert.equal((await ask('pending', 'approved', true)).data, true)
  assert.equal((await ask('pending', 'approved', false)).data, false)
  const { error, status } = await ask('pending', 'confirmed', true)
  assert.equal(status, 400)
  assert.equal(error.code, '22023')
  assert.match(error.message, /unknown booking status/)
})
