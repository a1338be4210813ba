// Workshops and classes (seed 000) through PostgREST: staff create a session (a booking of the
// Digital Lab), people register until it is full and then wait in line, a cancellation promotes
// the first in line in the same request, a direct insert meets the same rules, check-in,
// no-shows, offer mode and the waiting line moved on by a worker. The fixtures hold no workshop:
// this file makes its own, in 2031, away from the bookings the other files count.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { clientAs, sql, DIGITAL_LAB, LAB } from '../stack.mjs'

// What the tests below share: the class, its session and who holds which registration.
const state = {}

// A published class of the lab, written by staff straight into the table (as a back-office app does).
async function newWorkshop(title, extra = {}) {
  const staff = await clientAs('staff')
  const { data, error } = await staff.from('workshops')
    .insert({ organization_id: LAB, title, default_resource_id: DIGITAL_LAB, capacity: 2, status: 'published', ...extra })
    .select().single()
  assert.equal(error, null)
  return data
}

const registration = (session, user) =>
  sql(`SELECT status FROM booking.workshop_registrations WHERE session_id = '${session}' AND user_id = '${user}'`)

test('create_session: staff book the room for the session; a client is refused (403, 42501); more seats than the room has is 409', async () => {
  const workshop = await newWorkshop('Arduino basics')
  const staff = await clientAs('staff')
  const { data: session, error, status } = await staff.rpc('create_session',
    { p_workshop_id: workshop.id, p_start: '2031-02-04T15:00:00Z', p_end: '2031-02-04T17:00:00Z' })
  assert.equal(error, null)
  assert.equal(status, 200)
  assert.equal(session.capacity, 2, 'the workshop\'s default capacity')
  assert.equal(session.resource_id, DIGITAL_LAB, 'the workshop\'s default room')
  assert.equal(new Date(session.starts_at).toISOString(), '2031-02-04T15:00:00.000Z')
  assert.equal(sql(`SELECT status || ' ' || seats || ' ' || booked_by FROM booking.bookings WHERE id = '${session.booking_id}'`),
    'approved 2 u-staff', 'the session holds a booking of the room for its seats')
  state.workshop = workshop
  state.session = session

  const client = await clientAs('client')
  const before = sql('SELECT count(*) FROM booking.workshop_sessions')
  const { error: denied, status: deniedStatus } = await client.rpc('create_session',
    { p_workshop_id: workshop.id, p_start: '2031-02-05T15:00:00Z', p_end: '2031-02-05T17:00:00Z' })
  assert.equal(deniedStatus, 403)
  assert.equal(denied.code, '42501')

  const { error: full, status: fullStatus } = await staff.rpc('create_session',
    { p_workshop_id: workshop.id, p_start: '2031-02-05T15:00:00Z', p_end: '2031-02-05T17:00:00Z', p_capacity: 13 })
  assert.equal(fullStatus, 409)
  assert.equal(full.code, 'PT409')
  assert.equal(full.details, 'capacity', 'the Digital Lab holds 12')
  assert.equal(sql('SELECT count(*) FROM booking.workshop_sessions'), before, 'the refusals wrote nothing')

  // Anyone may read a published public class and its sessions (named columns for anonymous visitors).
  const anon = await clientAs('anon')
  const { data: visible } = await anon.from('workshop_sessions').select('id, starts_at, capacity').eq('workshop_id', workshop.id)
  assert.deepEqual(visible.map((s) => s.id), [session.id])
  const { data: classes } = await anon.from('workshops').select('id, title, status').eq('id', workshop.id)
  assert.deepEqual(classes, [{ id: workshop.id, title: 'Arduino basics', status: 'published' }])
})

test('register_for_session: registered while seats remain, then waitlisted; idempotent; anonymous 401', async () => {
  const p_session_id = state.session.id
  state.registrations = {}
  for (const [persona, expected] of [['client', 'registered'], ['client2', 'registered'], ['member', 'waitlisted'], ['admin', 'waitlisted']]) {
    const booking = await clientAs(persona)
    const { data, error, status } = await booking.rpc('register_for_session', { p_session_id })
    assert.equal(error, null, persona)
    assert.equal(status, 200, persona)
    assert.equal(data.status, expected, persona)
    assert.equal(data.user_id, `u-${persona}`, 'the person is the JWT subject')
    state.registrations[persona] = data
  }
  const client = await clientAs('client')
  const { data: again } = await client.rpc('register_for_session', { p_session_id })
  assert.equal(again.id, state.registrations.client.id, 'registering again returns the same registration')
  assert.equal(again.status, 'registered')

  const anon = await clientAs('anon')
  const { error: nobody, status } = await anon.rpc('register_for_session', { p_session_id })
  assert.equal(status, 401)
  assert.equal(nobody.code, '42501')
  const { error: zero, status: zeroStatus } = await client.rpc('register_for_session', { p_session_id, p_seats: 0 })
  assert.equal(zeroStatus, 400)
  assert.equal(zero.code, '22023')
  assert.equal(sql(`SELECT count(*) FROM booking.workshop_registrations WHERE session_id = '${p_session_id}'`), '4')
})

test('waitlist_position: a computed column of the registrations, and an RPC; people see their own rows only', async () => {
  const member = await clientAs('member')
  const { data: mine, error } = await member.from('workshop_registrations')
    .select('*, waitlist_position').eq('session_id', state.session.id)
  assert.equal(error, null)
  assert.deepEqual(mine.map((r) => [r.user_id, r.status, r.waitlist_position]), [['u-member', 'waitlisted', 1]])

  // The lab's admin (staff rights) sees the whole line.
  const admin = await clientAs('admin')
  const { data: all } = await admin.from('workshop_registrations')
    .select('user_id, status, waitlist_position').eq('session_id', state.session.id).order('queue_number')
  assert.deepEqual(all.map((r) => [r.user_id, r.waitlist_position]),
    [['u-client', null], ['u-client2', null], ['u-member', 1], ['u-admin', 2]])

  const { data: position, status } = await admin.rpc('waitlist_position', { p_registration: state.registrations.admin })
  assert.equal(status, 200)
  assert.equal(position, 2)
  const anon = await clientAs('anon')
  const { error: denied, status: deniedStatus } = await anon.rpc('waitlist_position', { p_registration: state.registrations.admin })
  assert.equal(deniedStatus, 401)
  assert.equal(denied.code, '42501')
})

test('cancel_registration: the freed seat goes to the first in line in the same request, who is told', async () => {
  const client2 = await clientAs('client2')
  const { data: cancelled, error } = await client2.rpc('cancel_registration',
    { p_registration_id: state.registrations.client2.id, p_reason: 'cannot make it' })
  assert.equal(error, null)
  assert.equal(cancelled.status, 'cancelled')
  assert.equal(cancelled.cancellation_reason, 'cannot make it')
  assert.ok(cancelled.cancelled_at)

  // Promoted by the same request, with a notification and an outbox event.
  assert.equal(registration(state.session.id, 'u-member'), 'registered')
  const member = await clientAs('member')
  const { data: told } = await member.from('notifications').select('notification_type, message, metadata')
    .eq('notification_type', 'registration_promoted')
  assert.equal(told.length, 1)
  assert.match(told[0].message, /Arduino basics/)
  assert.equal(told[0].metadata.registration_id, state.registrations.member.id)
  assert.equal(sql(`SELECT count(*) FROM booking.outbox WHERE topic = 'workshop.registration_promoted'
                    AND payload ->> 'registration_id' = '${state.registrations.member.id}'`), '1')
  const { data: line } = await (await clientAs('admin')).from('workshop_registrations')
    .select('waitlist_position').eq('id', state.registrations.admin.id).single()
  assert.equal(line.waitlist_position, 1, 'the next one moved up')

  const { data: twice } = await client2.rpc('cancel_registration', { p_registration_id: cancelled.id })
  assert.equal(twice.status, 'cancelled', 'cancelling twice returns it unchanged')
  const { error: unknown, status } = await client2.rpc('cancel_registration', { p_registration_id: crypto.randomUUID() })
  assert.equal(status, 400)
  assert.equal(unknown.code, '22023')
  const { error: others } = await client2.rpc('cancel_registration', { p_registration_id: state.registrations.admin.id })
  assert.equal(others.code, '22023', 'someone else\'s registration is not the client\'s to see')
  assert.equal(registration(state.session.id, 'u-admin'), 'waitlisted')
})

test('.from(workshop_registrations).insert(): status and queue number are derived; nobody registers another person or jumps the line', async () => {
  const outsider = await clientAs('outsider')
  const { data: row, error } = await outsider.from('workshop_registrations')
    .insert({ session_id: state.session.id, status: 'registered', queue_number: 1 })
    .select().single()
  assert.equal(error, null)
  assert.equal(row.status, 'waitlisted', 'the session is full: asking for registered is not enough')
  assert.equal(row.user_id, 'u-outsider', 'the column default is the JWT subject')
  assert.equal(row.organization_id, LAB, 'derived from the session')
  assert.ok(Number(row.queue_number) > Number(state.registrations.admin.queue_number), 'the queue number sent was ignored')
  const { data: line } = await outsider.from('workshop_registrations').select('waitlist_position').eq('id', row.id).single()
  assert.equal(line.waitlist_position, 2, 'behind the admin')
  state.registrations.outsider = row

  const { error: jump, status } = await outsider.from('workshop_registrations').update({ status: 'registered' }).eq('id', row.id)
  assert.equal(status, 409)
  assert.equal(jump.code, 'PT409')
  assert.equal(jump.details, 'waitlist')

  const client = await clientAs('client')
  const { error: forged, status: forgedStatus } = await client.from('workshop_registrations')
    .insert({ session_id: state.session.id, user_id: 'u-client2' })
  assert.equal(forgedStatus, 403)
  assert.equal(forged.code, '42501')
  const { error: twice, status: twiceStatus } = await client.from('workshop_registrations').insert({ session_id: state.session.id })
  assert.equal(twiceStatus, 409)
  assert.equal(twice.code, '23505', 'one registration per person and session')
})

test('check_in: refused outside the window for a registrant (409 check_in_window); staff at any time; the registrant once it opens', async () => {
  const client = await clientAs('client')
  const { error: early, status } = await client.rpc('check_in', { p_registration_id: state.registrations.client.id })
  assert.equal(status, 409)
  assert.equal(early.code, 'PT409')
  assert.equal(early.details, 'check_in_window')
  assert.match(early.message, /Check-in opens/)
  assert.equal(registration(state.session.id, 'u-client'), 'registered')

  const staff = await clientAs('staff')
  const { data: attended, error } = await staff.rpc('check_in', { p_registration_id: state.registrations.client.id })
  assert.equal(error, null)
  assert.equal(attended.status, 'attended')
  assert.ok(attended.checkin_at)

  // A session starting in ten minutes: its check-in (30 minutes before) is open.
  const start = new Date(Date.now() + 10 * 60 * 1000)
  const end = new Date(start.getTime() + 60 * 60 * 1000)
  const { data: soon, error: made } = await staff.rpc('create_session',
    { p_workshop_id: state.workshop.id, p_start: start.toISOString(), p_end: end.toISOString(), p_capacity: 4 })
  assert.equal(made, null)
  state.soon = soon
  const { data: mine } = await client.rpc('register_for_session', { p_session_id: soon.id })
  const { data: checkedIn, error: inTime } = await client.rpc('check_in', { p_registration_id: mine.id })
  assert.equal(inTime, null)
  assert.equal(checkedIn.status, 'attended')
  const { data: registered } = await (await clientAs('client2')).rpc('register_for_session', { p_session_id: soon.id })
  assert.equal(registered.status, 'registered')
})

test('mark_no_shows: 409 not_ended before the end; once it ended the registered become no-shows; clients 403', async () => {
  const staff = await clientAs('staff')
  const { error: early, status } = await staff.rpc('mark_no_shows', { p_session_id: state.soon.id })
  assert.equal(status, 409)
  assert.equal(early.code, 'PT409')
  assert.equal(early.details, 'not_ended')
  const client = await clientAs('client')
  const { error: denied, status: deniedStatus } = await client.rpc('mark_no_shows', { p_session_id: state.soon.id })
  assert.equal(deniedStatus, 403)
  assert.equal(denied.code, '42501')

  // The session ends: its booking moved into the past by the superuser, as time passing.
  sql(`UPDATE booking.bookings SET starts_at = now() - interval '3 hours', ends_at = now() - interval '1 hour'
       WHERE id = '${state.soon.booking_id}'`)
  const { data: count, error } = await staff.rpc('mark_no_shows', { p_session_id: state.soon.id })
  assert.equal(error, null)
  assert.equal(count, 1)
  assert.equal(registration(state.soon.id, 'u-client2'), 'no_show')
  assert.equal(registration(state.soon.id, 'u-client'), 'attended')
})

test('accept_offer (offer mode): the freed seat is offered to the next in line, who accepts; the one behind has no offer (409)', async () => {
  const workshop = await newWorkshop('Soldering clinic', { capacity: 1, offer_minutes: 30 })
  const staff = await clientAs('staff')
  const { data: session } = await staff.rpc('create_session',
    { p_workshop_id: workshop.id, p_start: '2031-02-11T15:00:00Z', p_end: '2031-02-11T17:00:00Z' })
  const mine = {}
  for (const persona of ['client', 'member', 'client2', 'outsider']) {
    mine[persona] = (await (await clientAs(persona)).rpc('register_for_session', { p_session_id: session.id })).data
  }
  assert.deepEqual(Object.values(mine).map((r) => r.status), ['registered', 'waitlisted', 'waitlisted', 'waitlisted'])
  await (await clientAs('client')).rpc('cancel_registration', { p_registration_id: mine.client.id })

  const member = await clientAs('member')
  const { data: offered } = await member.from('workshop_registrations').select('status, offer_expires_at').eq('id', mine.member.id).single()
  assert.equal(offered.status, 'offered')
  const minutes = (new Date(offered.offer_expires_at) - Date.now()) / 60000
  assert.ok(minutes > 29 && minutes <= 30, `the offer runs 30 minutes: ${minutes}`)
  const { data: told } = await member.from('notifications').select('notification_type').eq('notification_type', 'registration_offered')
  assert.equal(told.length, 1)

  const client2 = await clientAs('client2')
  const { error: noOffer, status } = await client2.rpc('accept_offer', { p_registration_id: mine.client2.id })
  assert.equal(status, 409)
  assert.equal(noOffer.code, 'PT409')
  assert.equal(noOffer.details, 'no_offer')
  const { data: accepted, error } = await member.rpc('accept_offer', { p_registration_id: mine.member.id })
  assert.equal(error, null)
  assert.equal(accepted.status, 'registered')
  assert.equal(accepted.offer_expires_at, null)
  state.offers = { session, mine }
})

test('advance_waitlists: a worker (service_role) lapses expired offers and offers the seat on; users 403', async () => {
  const { session, mine } = state.offers
  // The member gives the seat back: client2 is offered it, and lets the offer expire (moved into
  // the past by the superuser with triggers off, as time passing).
  await (await clientAs('member')).rpc('cancel_registration', { p_registration_id: mine.member.id })
  assert.equal(registration(session.id, 'u-client2'), 'offered')
  sql(`SET session_replication_role = replica;
       UPDATE booking.workshop_registrations SET offer_expires_at = now() - interval '1 minute' WHERE id = '${mine.client2.id}'`)
  const { error: late } = await (await clientAs('client2')).rpc('accept_offer', { p_registration_id: mine.client2.id })
  assert.equal(late.code, 'PT409')
  assert.equal(late.details, 'offer_expired')

  const staff = await clientAs('staff')
  const { error: denied, status } = await staff.rpc('advance_waitlists', {})
  assert.equal(status, 403)
  assert.equal(denied.code, '42501')
  const worker = await clientAs('service_role')
  const { data: changed, error } = await worker.rpc('advance_waitlists', {})
  assert.equal(error, null)
  assert.ok(changed >= 2, `the lapsed offer and the next one: ${changed}`)
  assert.equal(registration(session.id, 'u-client2'), 'cancelled')
  assert.equal(registration(session.id, 'u-outsider'), 'offered')
  assert.equal(sql(`SELECT cancellation_reason FROM booking.workshop_registrations WHERE id = '${mine.client2.id}'`), 'the offer expired')
})
