// What a careless or hostile client sends: missing arguments, wrong types, a huge window, an
// expired JWT, a JWT signed with another secret, a role it may not take. Each is refused clearly
// and writes nothing.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { clientAs, internalHelpers, jwt, sql, PERSONAS, PRINTER, VR } from '../stack.mjs'

const slot = { p_resource_id: PRINTER, p_start: '2030-04-02T15:00:00Z', p_end: '2030-04-02T16:00:00Z' }
const bookings = () => sql('SELECT count(*) FROM booking.bookings')

test('missing and misspelt arguments find no function (404 PGRST202); optional ones may be left out', async () => {
  const booking = await clientAs('client')
  const { error, status } = await booking.rpc('book', { p_resource_id: PRINTER, p_start: slot.p_start })
  assert.equal(status, 404)
  assert.equal(error.code, 'PGRST202')
  const { error: none } = await booking.rpc('get_available_slots',
    { p_resource_id: VR, p_start: '2030-03-04T05:00:00Z', p_end: '2030-03-05T05:00:00Z' }, { get: true })
  assert.equal(none, null, 'duration, service and seats have defaults')
})

test('the helpers in booking_internal are no RPCs: 404 PGRST202 even for the roles that execute them', async () => {
  const helpers = internalHelpers()
  assert.ok(helpers.includes('is_privileged') && helpers.includes('notification_owner'), `helpers: ${helpers}`)
  for (const persona of ['client', 'service_role']) {
    const api = await clientAs(persona)
    for (const fn of helpers) {
      const { error, status } = await api.rpc(fn, {})
      assert.equal(status, 404, `${persona} ${fn}`)
      assert.equal(error.code, 'PGRST202', `${persona} ${fn}`)
    }
  }
})

test('wrong types are 400 with Postgres\'s SQLSTATE', async () => {
  const booking = await clientAs('client')
  const before = bookings()
  const { error: time, status } = await booking.rpc('book', { ...slot, p_start: 'next tuesday-ish' })
  assert.equal(status, 400)
  assert.equal(time.code, '22007')
  const { error: uuid } = await booking.rpc('book', { ...slot, p_resource_id: 'printer' })
  assert.equal(uuid.code, '22P02')
  const { error: seats } = await booking.rpc('book', { ...slot, p_seats: 'two' })
  assert.equal(seats.code, '22P02')
  const { error: zero } = await booking.rpc('book', { ...slot, p_seats: 0 })
  assert.equal(zero.code, '22023')
  assert.equal(bookings(), before)
})

test('a huge window is refused at once (400, 22023), not computed', async () => {
  const booking = await clientAs('anon')
  const started = Date.now()
  const { error, status } = await booking.rpc('get_available_slots',
    { p_resource_id: VR, p_start: '2030-01-01T00:00:00Z', p_end: '2040-01-01T00:00:00Z', p_duration_minutes: 1 }, { get: true })
  assert.equal(status, 400)
  assert.equal(error.code, '22023')
  assert.match(error.message, /366 days/)
  // A month, but slots of a thousand years: the duration cannot slip past the limit either.
  const { error: long } = await booking.rpc('get_available_slots',
    { p_resource_id: VR, p_start: '2030-01-01T00:00:00Z', p_end: '2030-02-01T00:00:00Z', p_duration_minutes: 525600000 }, { get: true })
  assert.equal(long.code, '22023')
  // A window of 300 days on a 1-minute grid: too many candidates.
  const { error: fine } = await booking.rpc('get_available_slots',
    { p_resource_id: VR, p_start: '2030-01-01T00:00:00Z', p_end: '2030-10-28T00:00:00Z', p_duration_minutes: 1 }, { get: true })
  assert.equal(fine.code, '22023')
  assert.match(fine.message, /candidate/)
  const { error: check } = await booking.rpc('can_book_resource',
    { p_resource_id: VR, p_start_time: '2030-01-01T00:00:00Z', p_end_time: '5030-01-01T00:00:00Z' }, { get: true })
  assert.equal(check.code, '22023')
  assert.ok(Date.now() - started < 5000)
})

test('an expired JWT, one signed with another secret, and a role the API may not take are 401 and write nothing', async () => {
  const before = bookings()
  const expired = await clientAs(await jwt(PERSONAS.client, { expiresAt: Math.floor(Date.now() / 1000) - 60 }))
  const { error: late, status: lateStatus } = await expired.rpc('book', slot)
  assert.equal(lateStatus, 401)
  assert.equal(late.code, 'PGRST301')
  assert.match(late.message, /expired/i)

  const forged = await clientAs(await jwt(PERSONAS.staff, { key: new TextEncoder().encode('x'.repeat(48)) }))
  const { error: badSignature, status: forgedStatus } = await forged.rpc('book', slot)
  assert.equal(forgedStatus, 401)
  assert.equal(badSignature.code, 'PGRST301')
  const { status: readStatus } = await forged.from('bookings').select('id')
  assert.equal(readStatus, 401)

  const superuser = await clientAs(await jwt({ sub: 'u-client', role: 'postgres' }))
  const { error: role, status: roleStatus } = await superuser.from('bookings').select('id')
  assert.ok([401, 403].includes(roleStatus), `role postgres: ${roleStatus}`)
  assert.ok(role)
  assert.equal(bookings(), before)
})
