// Recurring series through PostgREST: preview, book all or nothing (HTTP 409 with every refused
// occurrence as JSON in error.details), skip mode, and changing occurrences (cancel, restore,
// move, this and all following, cancel the series). Each RPC with its success and its refusal.
// The fixtures hold no series: this file makes its own, on Mondays of January and February 2032
// (New York time, UTC-5 then), away from the bookings the other files make or count.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { clientAs, sql, CLINIC_ROOM, DIGITAL_LAB, VR } from '../stack.mjs'

// Monday 5 January 2032, 10:00-11:00 in New York, and the same time n weeks later.
const monday = (weeks, hour = 10) => {
  const d = new Date(Date.UTC(2032, 0, 5 + 7 * weeks, hour + 5))
  return d.toISOString()
}
const iso = (t) => new Date(t).toISOString()
const count = (where) => Number(sql(`SELECT count(*) FROM booking.bookings WHERE ${where}`))
const seriesCount = (where) => Number(sql(`SELECT count(*) FROM booking.booking_series WHERE ${where}`))

// What the tests below share.
const state = {}

test('preview_series: an anonymous visitor previews a public resource, each occurrence with why it would be refused; 400 for a private one or a pattern beyond the limits', async () => {
  // Another client holds the VR Headset on the third Monday (19 January).
  const client2 = await clientAs('client2')
  const { data: taken, error: notBooked } = await client2.rpc('book',
    { p_resource_id: VR, p_start: monday(2), p_end: monday(2, 11), p_title: 'Demo day' })
  assert.equal(notBooked, null)
  state.taken = taken

  const anon = await clientAs('anon')
  const { data: rows, error, status } = await anon.rpc('preview_series',
    { p_resource_id: VR, p_start: monday(0), p_end: monday(0, 11), p_rrule: 'FREQ=WEEKLY;COUNT=4' })
  assert.equal(error, null)
  assert.equal(status, 200)
  assert.deepEqual(rows.map((r) => [iso(r.occurrence_start), iso(r.occurrence_end), r.refusal]), [
    [monday(0), monday(0, 11), null],
    [monday(1), monday(1, 11), null],
    [monday(2), monday(2, 11), 'overlap'],
    [monday(3), monday(3, 11), null],
  ])
  // A Sunday series: the lab is closed on Sundays.
  const { data: sundays } = await anon.rpc('preview_series',
    { p_resource_id: VR, p_start: '2032-01-04T15:00:00Z', p_end: '2032-01-04T16:00:00Z', p_rrule: 'FREQ=WEEKLY;COUNT=2' })
  assert.deepEqual(sundays.map((r) => r.refusal), ['closed', 'closed'])

  for (const [what, args] of [
    ['a private organization\'s resource', { p_resource_id: CLINIC_ROOM, p_rrule: 'FREQ=WEEKLY;COUNT=2' }],
    ['no COUNT or UNTIL', { p_resource_id: VR, p_rrule: 'FREQ=WEEKLY' }],
    ['more than 730 occurrences', { p_resource_id: VR, p_rrule: 'FREQ=DAILY;COUNT=731' }],
    ['a frequency the core does not support', { p_resource_id: VR, p_rrule: 'FREQ=YEARLY;COUNT=2' }],
  ]) {
    const { error: refused, status: refusedStatus } = await anon.rpc('preview_series',
      { p_start: monday(0), p_end: monday(0, 11), ...args })
    assert.equal(refusedStatus, 400, what)
    assert.equal(refused.code, '22023', what)
  }
  // The clinic's admin may preview the clinic's room.
  const { data: clinic, error: own } = await (await clientAs('outsider')).rpc('preview_series',
    { p_resource_id: CLINIC_ROOM, p_start: '2032-01-05T10:00:00Z', p_end: '2032-01-05T11:00:00Z', p_rrule: 'FREQ=WEEKLY;COUNT=2' })
  assert.equal(own, null)
  assert.equal(clinic.length, 2)
})

test('book_series: anonymous 401; a client on a private resource 400; all or nothing: 409 PT409 with the refused occurrences as JSON in details, nothing written', async () => {
  const args = { p_resource_id: VR, p_start: monday(0), p_end: monday(0, 11), p_rrule: 'FREQ=WEEKLY;COUNT=4', p_title: 'VR lessons' }
  const before = { series: seriesCount('true'), bookings: count('true') }

  const anon = await clientAs('anon')
  const { error: nobody, status: anonStatus } = await anon.rpc('book_series', args)
  assert.equal(anonStatus, 401)
  assert.equal(nobody.code, '42501')

  const client = await clientAs('client')
  const { error: hidden, status: hiddenStatus } = await client.rpc('book_series',
    { ...args, p_resource_id: CLINIC_ROOM, p_start: '2032-01-05T10:00:00Z', p_end: '2032-01-05T11:00:00Z' })
  assert.equal(hiddenStatus, 400)
  assert.equal(hidden.code, '22023')
  assert.match(hidden.message, /unknown resource/)

  const { error: bad, status: badStatus } = await client.rpc('book_series', { ...args, p_rrule: 'FREQ=HOURLY;COUNT=3' })
  assert.equal(badStatus, 400)
  assert.equal(bad.code, '22023')

  const { data, error, status } = await client.rpc('book_series', args)
  assert.equal(data, null)
  assert.equal(status, 409)
  assert.equal(error.code, 'PT409')
  assert.match(error.message, /1 of the series' 4 occurrences cannot be booked/)
  assert.match(error.hint, /p_skip_conflicts/)
  const refused = JSON.parse(error.details)
  assert.equal(refused.length, 1)
  assert.equal(refused[0].local_date, '2032-01-19')
  assert.equal(refused[0].reason, 'overlap')
  assert.equal(iso(refused[0].starts_at), monday(2))
  assert.equal(iso(refused[0].ends_at), monday(2, 11))
  assert.deepEqual({ series: seriesCount('true'), bookings: count('true') }, before, 'the refusals wrote nothing')

  // A room for 12: the staff's class holds 8 seats every Monday; a client's group of 6 fits on
  // none of the four, and every refusal is listed, for capacity.
  const staff = await clientAs('staff')
  const { data: lessons, error: staffError } = await staff.rpc('book_series', {
    p_resource_id: DIGITAL_LAB, p_start: monday(0, 14), p_end: monday(0, 16), p_rrule: 'FREQ=WEEKLY;BYDAY=MO;COUNT=4',
    p_title: 'Coding club', p_seats: 8,
  })
  assert.equal(staffError, null)
  assert.equal(lessons.bookings.length, 4)
  assert.ok(lessons.bookings.every((b) => b.status === 'approved'))
  assert.equal(lessons.series.booked_by, 'u-staff')
  assert.equal(lessons.series.seats, 8)
  state.club = lessons
  const { error: full, status: fullStatus } = await client.rpc('book_series', {
    p_resource_id: DIGITAL_LAB, p_start: monday(0, 15), p_end: monday(0, 16), p_rrule: 'FREQ=WEEKLY;COUNT=4', p_seats: 6,
  })
  assert.equal(fullStatus, 409)
  assert.equal(full.code, 'PT409')
  assert.deepEqual(JSON.parse(full.details).map((r) => [r.local_date, r.reason]),
    [['2032-01-05', 'capacity'], ['2032-01-12', 'capacity'], ['2032-01-19', 'capacity'], ['2032-01-26', 'capacity']])
  // Skipping conflicts does not help when every occurrence is refused.
  const { error: none, status: noneStatus } = await client.rpc('book_series', {
    p_resource_id: DIGITAL_LAB, p_start: monday(0, 15), p_end: monday(0, 16), p_rrule: 'FREQ=WEEKLY;COUNT=4', p_seats: 6,
    p_skip_conflicts: true,
  })
  assert.equal(noneStatus, 409)
  assert.equal(JSON.parse(none.details).length, 4)
  assert.equal(seriesCount(`booked_by = 'u-client'`), 0)
})

test('book_series with p_skip_conflicts: the others are booked, the refused date becomes an exception', async () => {
  const client = await clientAs('client')
  const { data, error, status } = await client.rpc('book_series', {
    p_resource_id: VR, p_start: monday(0), p_end: monday(0, 11), p_rrule: 'FREQ=WEEKLY;COUNT=4', p_title: 'VR lessons',
    p_skip_conflicts: true,
  })
  assert.equal(error, null)
  assert.equal(status, 200)
  assert.deepEqual(data.bookings.map((b) => [iso(b.starts_at), b.status]),
    [[monday(0), 'approved'], [monday(1), 'approved'], [monday(3), 'approved']], 'the VR Headset approves on its own')
  assert.deepEqual(data.skipped.map((s) => [s.local_date, s.reason]), [['2032-01-19', 'overlap']])
  assert.equal(data.series.rrule, 'FREQ=WEEKLY;COUNT=4')
  assert.equal(data.series.booked_by, 'u-client')
  assert.equal(data.series.time_zone, 'America/New_York')
  assert.equal(data.series.local_start, '10:00:00')
  assert.deepEqual(data.series.exceptions, ['2032-01-19'])
  const id = data.series.id
  assert.equal(count(`series_id = '${id}' AND status = 'approved' AND booked_by = 'u-client' AND title = 'VR lessons'`), 3)

  // The series is the booker's to read (and staff's), not another client's.
  const { data: mine } = await client.from('booking_series').select('id, exceptions').eq('id', id)
  assert.deepEqual(mine, [{ id, exceptions: ['2032-01-19'] }])
  const { data: others } = await (await clientAs('client2')).from('booking_series').select('id').eq('id', id)
  assert.deepEqual(others, [])
  const { data: staffSees } = await (await clientAs('staff')).from('booking_series').select('id').eq('id', id)
  assert.equal(staffSees.length, 1)
  state.series = data
})

test('cancel_occurrence: the booker cancels one occurrence, its date becomes skipped; someone else\'s 400; anonymous 401', async () => {
  const first = state.series.bookings[0]
  const client2 = await clientAs('client2')
  const { error: others, status: othersStatus } = await client2.rpc('cancel_occurrence', { p_booking_id: first.id })
  assert.equal(othersStatus, 400)
  assert.equal(others.code, '22023')
  const { status: anonStatus } = await (await clientAs('anon')).rpc('cancel_occurrence', { p_booking_id: first.id })
  assert.equal(anonStatus, 401)
  // A booking in no series is no occurrence.
  const { error: single } = await client2.rpc('cancel_occurrence', { p_booking_id: state.taken.id })
  assert.equal(single.code, '22023')
  assert.equal(count(`id = '${first.id}' AND status = 'approved'`), 1, 'the refusals changed nothing')

  const client = await clientAs('client')
  const { data, error, status } = await client.rpc('cancel_occurrence', { p_booking_id: first.id, p_reason: 'ill' })
  assert.equal(error, null)
  assert.equal(status, 200)
  assert.equal(data.status, 'cancelled')
  assert.equal(data.series_id, state.series.series.id)
  assert.equal(sql(`SELECT exceptions FROM booking.booking_series WHERE id = '${state.series.series.id}'`), '{2032-01-05,2032-01-19}')
})

test('restore_occurrence: a skipped date is booked again; one that no longer fits is 409 with the reason; a date not skipped is 400', async () => {
  const client = await clientAs('client')
  const p_series_id = state.series.series.id
  const { data, error, status } = await client.rpc('restore_occurrence', { p_series_id, p_date: '2032-01-05' })
  assert.equal(error, null)
  assert.equal(status, 200)
  assert.equal(data.status, 'approved')
  assert.equal(iso(data.starts_at), monday(0))
  assert.equal(data.series_id, p_series_id)
  state.restored = data

  const { error: taken, status: takenStatus } = await client.rpc('restore_occurrence', { p_series_id, p_date: '2032-01-19' })
  assert.equal(takenStatus, 409)
  assert.equal(taken.code, 'PT409')
  assert.equal(taken.details, 'overlap')
  assert.equal(sql(`SELECT exceptions FROM booking.booking_series WHERE id = '${p_series_id}'`), '{2032-01-19}',
    'the refused date stays skipped')
  const { error: notSkipped, status: notSkippedStatus } = await client.rpc('restore_occurrence', { p_series_id, p_date: '2032-01-12' })
  assert.equal(notSkippedStatus, 400)
  assert.equal(notSkipped.code, '22023')
  const { error: others } = await (await clientAs('client2')).rpc('restore_occurrence', { p_series_id, p_date: '2032-01-19' })
  assert.equal(others.code, '22023', 'another client\'s series is unknown to them')
})

test('move_occurrence: staff move an approved occurrence, it stays in its series; out of opening hours is 409 closed; onto another booking 409 overlap', async () => {
  const staff = await clientAs('staff')
  const id = state.restored.id
  const { data, error, status } = await staff.rpc('move_occurrence',
    { p_booking_id: id, p_start: monday(0, 14), p_end: monday(0, 15) })
  assert.equal(error, null)
  assert.equal(status, 200)
  assert.equal(iso(data.starts_at), monday(0, 14))
  assert.equal(data.series_id, state.series.series.id)
  assert.equal(data.status, 'approved')

  const { error: closed, status: closedStatus } = await staff.rpc('move_occurrence',
    { p_booking_id: id, p_start: monday(0, 20), p_end: monday(0, 21) })
  assert.equal(closedStatus, 409)
  assert.equal(closed.code, 'PT409')
  assert.equal(closed.details, 'closed')
  const { error: overlap, status: overlapStatus } = await staff.rpc('move_occurrence',
    { p_booking_id: id, p_start: monday(2), p_end: monday(2, 11) })
  assert.equal(overlapStatus, 409)
  assert.equal(overlap.details, 'overlap')
  const { error: backwards, status: backwardsStatus } = await staff.rpc('move_occurrence',
    { p_booking_id: id, p_start: monday(0, 15), p_end: monday(0, 14) })
  assert.equal(backwardsStatus, 400)
  assert.equal(backwards.code, '22023')
  assert.equal(sql(`SELECT starts_at = '${monday(0, 14)}' FROM booking.bookings WHERE id = '${id}'`), 't', 'the refusals moved nothing')

  // The booker may not move an approved booking (the status machine's rule for any booking).
  const { error: booker, status: bookerStatus } = await (await clientAs('client')).rpc('move_occurrence',
    { p_booking_id: id, p_start: monday(0, 15), p_end: monday(0, 16) })
  assert.equal(bookerStatus, 403)
  assert.equal(booker.code, '42501')
  assert.equal(sql(`SELECT starts_at = '${monday(0, 14)}' FROM booking.bookings WHERE id = '${id}'`), 't')
})

test('update_series_from: this and all following move to Tuesdays; a new pattern that does not fit is 409 and changes nothing', async () => {
  const client = await clientAs('client')
  const old = state.series.series.id
  const fourth = state.series.bookings.find((b) => iso(b.starts_at) === monday(3))
  const approvedBefore = count(`series_id = '${old}' AND status = 'approved'`)

  // Tuesdays from 27 January, at 10:00: the staff's Tuesday booking on 3 February is in the way.
  const staff = await clientAs('staff')
  const { error: blocked } = await staff.rpc('book',
    { p_resource_id: VR, p_start: '2032-02-03T15:30:00Z', p_end: '2032-02-03T16:30:00Z' })
  assert.equal(blocked, null)
  const { error: refused, status: refusedStatus } = await client.rpc('update_series_from', {
    p_booking_id: fourth.id, p_rrule: 'FREQ=WEEKLY;COUNT=3', p_start: '2032-01-27T15:00:00Z', p_end: '2032-01-27T16:00:00Z',
  })
  assert.equal(refusedStatus, 409)
  assert.equal(refused.code, 'PT409')
  assert.deepEqual(JSON.parse(refused.details).map((r) => [r.local_date, r.reason]), [['2032-02-03', 'overlap']])
  assert.equal(count(`series_id = '${old}' AND status = 'approved'`), approvedBefore, 'nothing cancelled')
  assert.equal(sql(`SELECT rrule FROM booking.booking_series WHERE id = '${old}'`), 'FREQ=WEEKLY;COUNT=4', 'the old series unchanged')
  assert.equal(seriesCount(`split_from = '${old}'`), 0)

  const { error: unknown, status: unknownStatus } = await client.rpc('update_series_from',
    { p_booking_id: state.taken.id, p_rrule: 'FREQ=WEEKLY;COUNT=2' })
  assert.equal(unknownStatus, 400)
  assert.equal(unknown.code, '22023', 'a booking in no series')

  // With p_skip_conflicts the Tuesday that does not fit is skipped.
  const { data, error, status } = await client.rpc('update_series_from', {
    p_booking_id: fourth.id, p_rrule: 'FREQ=WEEKLY;COUNT=3', p_start: '2032-01-27T15:00:00Z', p_end: '2032-01-27T16:00:00Z',
    p_title: 'VR lessons (Tuesdays)', p_skip_conflicts: true,
  })
  assert.equal(error, null)
  assert.equal(status, 200)
  assert.equal(data.series.split_from, old)
  assert.equal(data.series.title, 'VR lessons (Tuesdays)')
  assert.deepEqual(data.bookings.map((b) => iso(b.starts_at)), ['2032-01-27T15:00:00.000Z', '2032-02-10T15:00:00.000Z'])
  assert.deepEqual(data.skipped.map((s) => [s.local_date, s.reason]), [['2032-02-03', 'overlap']])
  assert.deepEqual(data.series.exceptions, ['2032-02-03'])
  assert.equal(sql(`SELECT rrule FROM booking.booking_series WHERE id = '${old}'`), 'FREQ=WEEKLY;UNTIL=20320125',
    'the old series ends the day before the split')
  assert.equal(sql(`SELECT status FROM booking.bookings WHERE id = '${fourth.id}'`), 'cancelled', 'the following occurrences cancelled')
  assert.equal(count(`series_id = '${old}' AND status = 'approved'`), approvedBefore - 1, 'the earlier ones unchanged')
  state.split = data
})

test('cancel_series: the booker cancels what is still to come; another client 400; anonymous 401', async () => {
  const p_series_id = state.split.series.id
  const { error: others, status: othersStatus } = await (await clientAs('client2')).rpc('cancel_series', { p_series_id })
  assert.equal(othersStatus, 400)
  assert.equal(others.code, '22023')
  const { status: anonStatus } = await (await clientAs('anon')).rpc('cancel_series', { p_series_id })
  assert.equal(anonStatus, 401)

  const client = await clientAs('client')
  const { data, error, status } = await client.rpc('cancel_series', { p_series_id, p_reason: 'moving away' })
  assert.equal(error, null)
  assert.equal(status, 200)
  assert.equal(data, state.split.bookings.length)
  assert.equal(count(`series_id = '${p_series_id}' AND status <> 'cancelled'`), 0)
  assert.equal(sql(`SELECT is_cancelled FROM booking.booking_series WHERE id = '${p_series_id}'`), 't')
  // A cancelled series restores nothing.
  const { error: gone, status: goneStatus } = await client.rpc('restore_occurrence',
    { p_series_id, p_date: state.split.bookings[0].starts_at.slice(0, 10) })
  assert.equal(goneStatus, 400)
  assert.equal(gone.code, '22023')

  // Staff cancel their organization's series.
  const { data: club, error: clubError } = await (await clientAs('admin')).rpc('cancel_series', { p_series_id: state.club.series.id })
  assert.equal(clubError, null)
  assert.equal(club, 4)
})
