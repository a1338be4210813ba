// The scheduling RPCs through PostgREST: read-only ones over GET (a read-only transaction),
// book() over POST; answers equal to the same call in SQL; refusals as PostgREST maps them.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { clientAs, sql, CLINIC_ROOM, DIGITAL_LAB, LAB, PRINT_JOB, PRINTER, SCANNER, VR, VR_ORIENTATION } from '../stack.mjs'

const MONDAY = { p_start: '2030-03-04T05:00:00Z', p_end: '2030-03-05T05:00:00Z' } // 4 March 2030, New York

// The instants of a JSON answer, for comparing with what psql prints.
const instant = (t) => new Date(t).toISOString()

test('get_available_slots: an anonymous visitor sees the free hours of a public lab, as SQL computes them', async () => {
  const booking = await clientAs('anon')
  const { data: slots, error, status } = await booking.rpc('get_available_slots',
    { p_resource_id: VR, ...MONDAY, p_duration_minutes: 60 }, { get: true })
  assert.equal(error, null)
  assert.equal(status, 200)
  const expected = sql(`SELECT string_agg(to_char(slot_start AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'), ' ' ORDER BY slot_start)
                        FROM booking.get_available_slots('${VR}', '${MONDAY.p_start}', '${MONDAY.p_end}', 60)`)
  assert.equal(slots.map((s) => instant(s.slot_start)).join(' '), expected)
  // 10:00 is held by the pending VR request; the 13:00-14:00 break is closed.
  assert.equal(instant(slots[0].slot_start), '2030-03-04T16:00:00.000Z')
  assert.ok(!slots.some((s) => instant(s.slot_start) === '2030-03-04T18:00:00.000Z'))
})

test('get_available_slots: a private organization\'s resource is unknown to outsiders (400, 22023)', async () => {
  const booking = await clientAs('client')
  const { data, error, status } = await booking.rpc('get_available_slots', { p_resource_id: CLINIC_ROOM, ...MONDAY }, { get: true })
  assert.equal(data, null)
  assert.equal(status, 400)
  assert.equal(error.code, '22023')
  assert.match(error.message, /unknown resource/)
})

test('get_available_slots_any and find_next_slot: any free one of a pool, and the first free slot', async () => {
  const booking = await clientAs('member')
  const { data: any, error } = await booking.rpc('get_available_slots_any',
    { p_resource_ids: [VR, PRINTER], ...MONDAY, p_duration_minutes: 60 }, { get: true })
  assert.equal(error, null)
  assert.deepEqual(any[0].resource_ids, [PRINTER], 'at 10:00 only the printer is free')
  assert.equal(instant(any[0].slot_start), '2030-03-04T15:00:00.000Z')
  const { data: next } = await booking.rpc('find_next_slot',
    { p_resource_ids: [VR, PRINTER], p_after: '2030-03-04T15:00:00Z', p_duration_minutes: 60 }, { get: true })
  assert.deepEqual(next.map((n) => [instant(n.slot_start), n.resource_id]), [['2030-03-04T15:00:00.000Z', PRINTER]])

  const { error: tooMany, status } = await booking.rpc('get_available_slots_any',
    { p_resource_ids: Array.from({ length: 101 }, () => crypto.randomUUID()), ...MONDAY }, { get: true })
  assert.equal(status, 400)
  assert.equal(tooMany.code, '22023')
  const { error: longSearch } = await booking.rpc('find_next_slot',
    { p_resource_ids: [VR], p_after: '2030-03-04T15:00:00Z', p_duration_minutes: 60, p_within: '400 days' }, { get: true })
  assert.equal(longSearch.code, '22023')
})

test('can_book_resource and booking_refusal agree with the slots', async () => {
  const booking = await clientAs('client2')
  const free = { p_resource_id: VR, p_start_time: '2030-03-04T16:00:00Z', p_end_time: '2030-03-04T17:00:00Z' }
  assert.equal((await booking.rpc('can_book_resource', free, { get: true })).data, true)
  const taken = { ...free, p_start_time: '2030-03-04T15:00:00Z', p_end_time: '2030-03-04T16:00:00Z' }
  assert.equal((await booking.rpc('can_book_resource', taken, { get: true })).data, false)
  const { data: why } = await booking.rpc('booking_refusal',
    { p_resource_id: VR, p_start: '2030-03-04T15:00:00Z', p_end: '2030-03-04T16:00:00Z' }, { get: true })
  assert.equal(why, 'overlap')
  const { data: closed } = await booking.rpc('booking_refusal',
    { p_resource_id: VR, p_start: '2030-03-04T18:00:00Z', p_end: '2030-03-04T19:00:00Z' }, { get: true })
  assert.equal(closed, 'closed')
  const { error: unknown } = await booking.rpc('booking_refusal',
    { p_resource_id: crypto.randomUUID(), p_start: '2030-03-04T18:00:00Z', p_end: '2030-03-04T19:00:00Z' }, { get: true })
  assert.equal(unknown.code, '22023')
  const { error, status } = await booking.rpc('can_book_resource', { ...free, p_end_time: free.p_start_time }, { get: true })
  assert.equal(status, 400)
  assert.equal(error.code, '22023')
})

test('open_periods, calculate_business_hours and calculate_duration_minutes (seed 004 shapes)', async () => {
  const booking = await clientAs('anon')
  const { data: periods } = await booking.rpc('open_periods', { p_organization_id: LAB, p_date: '2030-03-04' }, { get: true })
  assert.deepEqual(periods.map((p) => [instant(p.period_start), instant(p.period_end), p.time_zone]), [
    ['2030-03-04T15:00:00.000Z', '2030-03-04T18:00:00.000Z', 'America/New_York'],
    ['2030-03-04T19:00:00.000Z', '2030-03-04T23:00:00.000Z', 'America/New_York'],
  ])
  const { error: privateOrg, status: privateStatus } = await booking.rpc('open_periods',
    { p_organization_id: '00000000-0000-4000-a000-000000000002', p_date: '2030-03-04' }, { get: true })
  assert.equal(privateStatus, 400, 'a private organization\'s hours are unknown to anonymous visitors')
  assert.equal(privateOrg.code, '22023')
  const { data: hours } = await booking.rpc('calculate_business_hours', { p_organization_id: LAB, p_date: '2030-03-04' }, { get: true })
  assert.deepEqual(hours, [{ day_name: 'Monday', is_open: true, start_time: '10:00:00', end_time: '18:00:00',
                             break_start: '13:00:00', break_end: '14:00:00', total_working_minutes: 420 }])
  const { error: unknownOrg } = await booking.rpc('calculate_business_hours',
    { p_organization_id: crypto.randomUUID(), p_date: '2030-03-04' }, { get: true })
  assert.equal(unknownOrg.code, '22023')

  const staff = await clientAs('staff')
  const { data: minutes } = await staff.rpc('calculate_duration_minutes', { p_service_ids: [VR_ORIENTATION, PRINT_JOB, VR_ORIENTATION] }, { get: true })
  assert.equal(minutes, 180)
  const { error: unknownService, status } = await staff.rpc('calculate_duration_minutes', { p_service_ids: [crypto.randomUUID()] }, { get: true })
  assert.equal(status, 400)
  assert.equal(unknownService.code, '22023')
})

test('is_valid_time_zone', async () => {
  const booking = await clientAs('anon')
  assert.equal((await booking.rpc('is_valid_time_zone', { p_time_zone: 'Asia/Kathmandu' }, { get: true })).data, true)
  assert.equal((await booking.rpc('is_valid_time_zone', { p_time_zone: 'Mars/Olympus_Mons' }, { get: true })).data, false)
  const { status, error } = await booking.rpc('is_valid_time_zone', { p_zone: 'UTC' }, { get: true })
  assert.equal(status, 404, 'a misspelt argument name finds no function')
  assert.equal(error.code, 'PGRST202')
})

test('book: the signed-in client books; the same time again is 409 PT409 overlap; anonymous is 401', async () => {
  const booking = await clientAs('client')
  const slot = { p_resource_id: SCANNER, p_start: '2030-03-05T16:00:00Z', p_end: '2030-03-05T17:00:00Z', p_title: 'Scanning negatives' }
  const { data: made, error, status } = await booking.rpc('book', slot)
  assert.equal(error, null)
  assert.equal(status, 200)
  assert.equal(made.booked_by, 'u-client')
  assert.equal(made.status, 'pending', 'the scanner needs approval')
  assert.equal(made.source, 'api')

  const other = await clientAs('client2')
  const { error: taken, status: takenStatus } = await other.rpc('book', slot)
  assert.equal(takenStatus, 409)
  assert.equal(taken.code, 'PT409')
  assert.equal(taken.details, 'overlap')
  assert.match(taken.message, /taken|booked/i)

  const { error: seats } = await other.rpc('book', { ...slot, p_resource_id: DIGITAL_LAB, p_start: '2030-03-04T19:00:00Z', p_end: '2030-03-04T20:00:00Z', p_seats: 9 })
  assert.equal(seats.code, 'PT409')
  assert.equal(seats.details, 'capacity', '4 of 12 seats are held by the study group')

  const anon = await clientAs('anon')
  const { error: nobody, status: anonStatus } = await anon.rpc('book', slot)
  assert.equal(anonStatus, 401)
  assert.equal(nobody.code, '42501')

  const { error: reversed, status: badStatus } = await booking.rpc('book', { ...slot, p_end: slot.p_start, p_start: slot.p_end })
  assert.equal(badStatus, 400)
  assert.equal(reversed.code, '22023')
  assert.equal(sql(`SELECT count(*) FROM booking.bookings WHERE resource_id = '${SCANNER}'`), '1', 'one booking, nothing else written')
})
