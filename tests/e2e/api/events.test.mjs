// Events (seed 001) through PostgREST: an approved booking of the Digital Lab becomes an event,
// staff move it along its state machine, assign people who answer, check in and out, kits go out
// with one event at a time, issues are reported and resolved, a worker closes what is overdue.
// Each RPC with its success and its refusal; direct table writes meet the same rules. The
// fixtures hold no event: this file makes its own, on 4 and 5 March 2031 (New York time, UTC-5),
// away from the bookings the other files make or count, and the lab stops generating events
// when it is done.
import { test, after } from 'node:test'
import assert from 'node:assert/strict'
import { clientAs, sql, DIGITAL_LAB, LAB, PRINTER } from '../stack.mjs'

// What the tests below share.
const state = {}
const at = (day, hour) => `2031-03-0${day}T${hour}:00:00Z`
const statusOf = (table, id) => sql(`SELECT status FROM booking.${table} WHERE id = '${id}'`)

after(() => sql(`UPDATE booking.resources SET generates_events = false WHERE id = '${DIGITAL_LAB}'`))

test('generation: staff make the Digital Lab generate events; an approved booking gets its event, which its booker sees', async () => {
  const staff = await clientAs('staff')
  const { data: lab, error: patched } = await staff.from('resources').update({ generates_events: true })
    .eq('id', DIGITAL_LAB).select('id, generates_events')
  assert.equal(patched, null)
  assert.deepEqual(lab, [{ id: DIGITAL_LAB, generates_events: true }])

  const client = await clientAs('client')
  const booked = {}
  for (const [name, start, end, title] of [['b1', at(4, 15), at(4, 17), 'Launch party'], ['b2', at(4, 16), at(4, 18), 'Overlapping party'],
                                           ['b3', at(5, 15), at(5, 17), 'Next day']]) {
    const { data, error } = await client.rpc('book', { p_resource_id: DIGITAL_LAB, p_start: start, p_end: end, p_title: title })
    assert.equal(error, null, name)
    assert.equal(data.status, 'approved', 'the Digital Lab approves on its own')
    booked[name] = data
  }
  const { data: events, error } = await client.from('event_instances').select('*')
    .in('booking_id', Object.values(booked).map((b) => b.id)).order('starts_at')
  assert.equal(error, null)
  assert.equal(events.length, 3, 'one event per booking, seen by its booker')
  const [e1, e2, e3] = events
  assert.equal(e1.booking_id, booked.b1.id)
  assert.equal(e1.status, 'scheduled')
  assert.equal(new Date(e1.starts_at).toISOString(), '2031-03-04T15:00:00.000Z', 'at the booking\'s time')
  const { data: b1 } = await client.from('bookings').select('event_generation_status, event_count').eq('id', booked.b1.id).single()
  assert.deepEqual(b1, { event_generation_status: 'generated', event_count: 1 })
  const { data: others } = await (await clientAs('client2')).from('event_instances').select('id').eq('id', e1.id)
  assert.deepEqual(others, [], 'another client sees no event of someone else\'s booking')
  Object.assign(state, { booked, e1, e2, e3 })
})

test('generate_event: staff get a booking\'s event (created once); a client 403; a pending booking 409 booking_not_approved', async () => {
  const staff = await clientAs('staff')
  const { data, error, status } = await staff.rpc('generate_event', { p_booking_id: state.booked.b1.id })
  assert.equal(error, null)
  assert.equal(status, 200)
  assert.equal(data.id, state.e1.id, 'the existing event, not a second one')
  assert.equal(sql(`SELECT count(*) FROM booking.event_instances WHERE booking_id = '${state.booked.b1.id}'`), '1')

  const client = await clientAs('client')
  const { error: denied, status: deniedStatus } = await client.rpc('generate_event', { p_booking_id: state.booked.b1.id })
  assert.equal(deniedStatus, 403)
  assert.equal(denied.code, '42501')
  const { data: pending } = await client.rpc('book', { p_resource_id: PRINTER, p_start: at(4, 15), p_end: at(4, 16) })
  assert.equal(pending.status, 'pending', 'the printer needs approval')
  const { error: notApproved, status: notApprovedStatus } = await staff.rpc('generate_event', { p_booking_id: pending.id })
  assert.equal(notApprovedStatus, 409)
  assert.equal(notApproved.code, 'PT409')
  assert.equal(notApproved.details, 'booking_not_approved')
  assert.equal(sql(`SELECT count(*) FROM booking.event_instances WHERE booking_id = '${pending.id}'`), '0')
})

test('event_state_machines: signed-in users read the four machines; anonymous 401', async () => {
  const member = await clientAs('member')
  const { data, error, status } = await member.rpc('event_state_machines', {}, { get: true })
  assert.equal(error, null)
  assert.equal(status, 200)
  assert.deepEqual([...new Set(data.map((t) => t.machine))].sort(), ['activity', 'activity_kit', 'event_instance', 'staff_assignment'])
  assert.ok(data.some((t) => t.machine === 'event_instance' && t.from_state === 'scheduled' && t.to_state === 'preparation'))
  const { error: nobody, status: anonStatus } = await (await clientAs('anon')).rpc('event_state_machines', {}, { get: true })
  assert.equal(anonStatus, 401)
  assert.equal(nobody.code, '42501')
})

test('set_event_status: staff move the event with a reason; an illegal move 409 (RPC and PATCH alike); the booker 403; a long reason 400', async () => {
  const staff = await clientAs('staff')
  const p_event_id = state.e1.id
  const { error: illegal, status } = await staff.rpc('set_event_status', { p_event_id, p_status: 'completed' })
  assert.equal(status, 409)
  assert.equal(illegal.code, 'PT409')
  assert.equal(illegal.details, 'transition')
  assert.match(illegal.hint, /event_state_machines/)
  const { error: patch, status: patchStatus } = await staff.from('event_instances').update({ status: 'post_processing' }).eq('id', p_event_id)
  assert.equal(patchStatus, 409, 'a direct write meets the same machine')
  assert.equal(patch.code, 'PT409')
  assert.equal(patch.details, 'transition')
  const { error: long, status: longStatus } = await staff.rpc('set_event_status',
    { p_event_id, p_status: 'preparation', p_reason: 'x'.repeat(4001) })
  assert.equal(longStatus, 400)
  assert.equal(long.code, '22023')
  const { error: booker, status: bookerStatus } = await (await clientAs('client')).rpc('set_event_status', { p_event_id, p_status: 'preparation' })
  assert.equal(bookerStatus, 403)
  assert.equal(booker.code, '42501')
  assert.equal(statusOf('event_instances', p_event_id), 'scheduled', 'the refusals changed nothing')

  const { data, error, status: okStatus } = await staff.rpc('set_event_status', { p_event_id, p_status: 'preparation', p_reason: 'logistics start' })
  assert.equal(error, null)
  assert.equal(okStatus, 200)
  assert.equal(data.status, 'preparation')
  const { data: log } = await staff.from('event_state_transitions').select('from_state, to_state, changed_by, reason')
    .eq('entity_id', p_event_id).order('created_at')
  assert.deepEqual(log, [{ from_state: null, to_state: 'scheduled', changed_by: 'u-client', reason: null },
                         { from_state: 'scheduled', to_state: 'preparation', changed_by: 'u-staff', reason: 'logistics start' }])
  const { data: hidden } = await (await clientAs('client')).from('event_state_transitions').select('id').eq('entity_id', p_event_id)
  assert.deepEqual(hidden, [], 'the booker does not read the event\'s log')
})

test('assign_staff: staff assign (idempotent); the same person on an overlapping event 409 person_busy; another organization 403; a blank person 400', async () => {
  const staff = await clientAs('staff')
  const { data: a1, error, status } = await staff.rpc('assign_staff', { p_event_id: state.e1.id, p_user_id: 'u-member', p_role: 'host' })
  assert.equal(error, null)
  assert.equal(status, 200)
  assert.equal(a1.status, 'assigned')
  assert.equal(a1.organization_id, LAB)
  assert.equal(new Date(a1.starts_at).toISOString(), '2031-03-04T15:00:00.000Z', 'the event\'s time')
  const { data: again } = await staff.rpc('assign_staff', { p_event_id: state.e1.id, p_user_id: 'u-member', p_role: 'host' })
  assert.equal(again.id, a1.id, 'assigning again returns the assignment')

  const { error: busy, status: busyStatus } = await staff.rpc('assign_staff', { p_event_id: state.e2.id, p_user_id: 'u-member', p_role: 'host' })
  assert.equal(busyStatus, 409)
  assert.equal(busy.code, 'PT409')
  assert.equal(busy.details, 'person_busy')
  const { error: outsider, status: outsiderStatus } = await (await clientAs('outsider')).rpc('assign_staff',
    { p_event_id: state.e1.id, p_user_id: 'u-outsider', p_role: 'host' })
  assert.equal(outsiderStatus, 403)
  assert.equal(outsider.code, '42501')
  const { error: blank, status: blankStatus } = await staff.rpc('assign_staff', { p_event_id: state.e2.id, p_user_id: ' ', p_role: 'host' })
  assert.equal(blankStatus, 400)
  assert.equal(blank.code, '22023')
  assert.equal(sql(`SELECT count(*) FROM booking.staff_assignments WHERE event_instance_id = '${state.e2.id}'`), '0', 'the refusals wrote nothing')

  const { data: a2 } = await staff.rpc('assign_staff', { p_event_id: state.e2.id, p_user_id: 'u-client2', p_role: 'runner' })
  assert.equal(a2.status, 'assigned')
  Object.assign(state, { a1, a2 })
})

test('who sees what: the person assigned sees their assignment and event; the booker sees the event, not its assignments; the person assigned may not change their role (403)', async () => {
  const member = await clientAs('member')
  const { data: mine } = await member.from('staff_assignments').select('id, role')
  assert.deepEqual(mine, [{ id: state.a1.id, role: 'host' }], 'their own assignment, not another event\'s')
  const { data: theirEvent } = await member.from('event_instances').select('id')
  assert.deepEqual(theirEvent, [{ id: state.e1.id }])

  const client = await clientAs('client')
  const { data: events } = await client.from('event_instances').select('id').in('id', [state.e1.id, state.e2.id]).order('starts_at')
  assert.deepEqual(events.map((e) => e.id), [state.e1.id, state.e2.id])
  const { data: assignments, error } = await client.from('staff_assignments').select('id').in('event_instance_id', [state.e1.id, state.e2.id])
  assert.equal(error, null)
  assert.deepEqual(assignments, [], 'the booker does not see who works on their event')

  const { error: role, status } = await member.from('staff_assignments').update({ role: 'boss' }).eq('id', state.a1.id)
  assert.equal(status, 403)
  assert.equal(role.code, '42501')
  assert.equal(sql(`SELECT role FROM booking.staff_assignments WHERE id = '${state.a1.id}'`), 'host')
})

test('assignment_status: an RPC on a row and a computed column; anonymous 401', async () => {
  const member = await clientAs('member')
  const { data, error, status } = await member.rpc('assignment_status', { p_assignment: state.a1 })
  assert.equal(error, null)
  assert.equal(status, 200)
  assert.equal(data, 'assigned', 'the event is in 2031: nothing is late yet')
  const { data: rows } = await member.from('staff_assignments').select('id, assignment_status').eq('id', state.a1.id)
  assert.deepEqual(rows, [{ id: state.a1.id, assignment_status: 'assigned' }])
  const { error: nobody, status: anonStatus } = await (await clientAs('anon')).rpc('assignment_status', { p_assignment: state.a1 })
  assert.equal(anonStatus, 401)
  assert.equal(nobody.code, '42501')
})

test('respond_to_assignment: the person assigned accepts (idempotent); someone else\'s 400; a missing answer 400', async () => {
  const member = await clientAs('member')
  const { data, error, status } = await member.rpc('respond_to_assignment', { p_assignment_id: state.a1.id, p_accept: true })
  assert.equal(error, null)
  assert.equal(status, 200)
  assert.equal(data.status, 'accepted')
  const { data: again } = await member.rpc('respond_to_assignment', { p_assignment_id: state.a1.id, p_accept: true })
  assert.equal(again.updated_at, data.updated_at, 'accepting again writes nothing')

  const { error: others, status: othersStatus } = await member.rpc('respond_to_assignment', { p_assignment_id: state.a2.id, p_accept: false })
  assert.equal(othersStatus, 400)
  assert.equal(others.code, '22023')
  const { error: none, status: noneStatus } = await member.rpc('respond_to_assignment', { p_assignment_id: state.a1.id, p_accept: null })
  assert.equal(noneStatus, 400)
  assert.equal(none.code, '22023')
  assert.equal(statusOf('staff_assignments', state.a2.id), 'assigned')
})

test('staff_check_in and staff_check_out: with locations, once each; hours derived; a location that is no object 400; declining after checking in 409', async () => {
  const member = await clientAs('member')
  const p_assignment_id = state.a1.id
  const { error: notObject, status: notObjectStatus } = await member.rpc('staff_check_in', { p_assignment_id, p_location: [1] })
  assert.equal(notObjectStatus, 400)
  assert.equal(notObject.code, '22023')
  const { data: inn, error, status } = await member.rpc('staff_check_in', { p_assignment_id, p_location: { lat: 40.7, lng: -74.0 } })
  assert.equal(error, null)
  assert.equal(status, 200)
  assert.equal(inn.status, 'checked_in')
  assert.ok(inn.check_in_at)
  assert.deepEqual(inn.location_at_check_in, { lat: 40.7, lng: -74.0 })
  const { data: retried } = await member.rpc('staff_check_in', { p_assignment_id, p_location: { lat: 0 } })
  assert.equal(retried.check_in_at, inn.check_in_at, 'a retried check-in writes nothing')
  assert.deepEqual(retried.location_at_check_in, inn.location_at_check_in)
  const { error: decline, status: declineStatus } = await member.rpc('respond_to_assignment', { p_assignment_id, p_accept: false })
  assert.equal(declineStatus, 409)
  assert.equal(decline.code, 'PT409')
  assert.equal(decline.details, 'transition')

  const { error: long, status: longStatus } = await member.rpc('staff_check_out', { p_assignment_id, p_feedback: 'f'.repeat(4001) })
  assert.equal(longStatus, 400)
  assert.equal(long.code, '22023')
  const { error: unknown, status: unknownStatus } = await member.rpc('staff_check_out', { p_assignment_id: crypto.randomUUID() })
  assert.equal(unknownStatus, 400)
  assert.equal(unknown.code, '22023')
  const { data: out, error: outError, status: outStatus } = await member.rpc('staff_check_out',
    { p_assignment_id, p_location: { lat: 40.7 }, p_feedback: 'all good' })
  assert.equal(outError, null)
  assert.equal(outStatus, 200)
  assert.equal(out.status, 'checked_out')
  assert.equal(out.feedback, 'all good')
  assert.ok(new Date(out.check_out_at) >= new Date(out.check_in_at))
  assert.equal(Number(out.hours_worked), 0, 'derived from the two instants, seconds apart')
  const { data: twice } = await member.rpc('staff_check_out', { p_assignment_id })
  assert.equal(twice.check_out_at, out.check_out_at, 'a retried check-out writes nothing')
  assert.equal(sql(`SELECT string_agg(coalesce(from_state, '-') || '>' || to_state, ',' ORDER BY created_at, to_state = 'checked_out')
                    FROM booking.event_state_transitions WHERE entity_id = '${p_assignment_id}'`),
  '->assigned,assigned>accepted,accepted>checked_in,checked_in>checked_out', 'one log row per change, none for the retries')
})

test('checkout_kit and return_kit: a kit is out with one event at a time; planning it for an overlapping event is 400 (23P01)', async () => {
  const staff = await clientAs('staff')
  const insert = async (table, row) => {
    const { data, error } = await staff.from(table).insert({ organization_id: LAB, ...row }).select().single()
    assert.equal(error, null, table)
    return data
  }
  const template = await insert('kit_templates', { name: 'Sound kit', components: ['speaker', 'mixer'] })
  const kit = await insert('kit_instances', { template_id: template.id, serial_number: 'SK-E2E-001' })
  const act1 = await insert('activities', { event_instance_id: state.e1.id, title: 'DJ set', kit_template_id: template.id })
  const act2 = await insert('activities', { event_instance_id: state.e2.id, title: 'Speeches' })
  const act3 = await insert('activities', { event_instance_id: state.e3.id, title: 'DJ set again' })
  const k1 = await insert('activity_kits', { activity_id: act1.id, kit_template_id: template.id, kit_instance_id: kit.id, status: 'assigned' })
  assert.equal(k1.event_instance_id, state.e1.id, 'a kit takes its activity\'s event')
  const k3 = await insert('activity_kits', { activity_id: act3.id, kit_instance_id: kit.id, status: 'assigned' })
  const { error: clash, status: clashStatus } = await staff.from('activity_kits')
    .insert({ organization_id: LAB, activity_id: act2.id, kit_instance_id: kit.id, status: 'assigned' })
  // PostgREST maps only 23503 and 23505 to 409: an exclusion violation is 400.
  assert.equal(clashStatus, 400, 'e2 overlaps e1: the same kit cannot be planned for both')
  assert.equal(clash.code, '23P01')

  // u-member worked e1: one of its people, they check its kit out.
  const member = await clientAs('member')
  const { data: out, error, status } = await member.rpc('checkout_kit', { p_activity_kit_id: k1.id })
  assert.equal(error, null)
  assert.equal(status, 200)
  assert.equal(out.status, 'checked_out')
  assert.equal(out.checked_out_by, 'u-member')
  const { error: notTheirs, status: notTheirsStatus } = await member.rpc('checkout_kit', { p_activity_kit_id: k3.id })
  assert.equal(notTheirsStatus, 400, 'another event\'s kit is unknown to them')
  assert.equal(notTheirs.code, '22023')
  const { error: busy, status: busyStatus } = await staff.rpc('checkout_kit', { p_activity_kit_id: k3.id })
  assert.equal(busyStatus, 409)
  assert.equal(busy.code, 'PT409')
  assert.equal(busy.details, 'kit_checked_out')
  assert.equal(statusOf('activity_kits', k3.id), 'assigned')

  const { data: back, error: backError, status: backStatus } = await member.rpc('return_kit', { p_activity_kit_id: k1.id })
  assert.equal(backError, null)
  assert.equal(backStatus, 200)
  assert.equal(back.status, 'returned')
  assert.equal(back.returned_by, 'u-member')
  const { data: twice } = await member.rpc('return_kit', { p_activity_kit_id: k1.id })
  assert.equal(twice.returned_at, back.returned_at, 'a retried return writes nothing')
  const { error: unknown, status: unknownStatus } = await member.rpc('return_kit', { p_activity_kit_id: k3.id })
  assert.equal(unknownStatus, 400)
  assert.equal(unknown.code, '22023')

  const { data: next } = await staff.rpc('checkout_kit', { p_activity_kit_id: k3.id })
  assert.equal(next.status, 'checked_out', 'once returned, e3 has it')
  const { error: again, status: againStatus } = await staff.rpc('checkout_kit', { p_activity_kit_id: k1.id })
  assert.equal(againStatus, 409)
  assert.equal(again.details, 'transition', 'a returned kit is not checked out again')
})

test('report_event_issue and resolve_event_issue: the event\'s people report, an event in progress becomes issue_reported; staff resolve', async () => {
  const staff = await clientAs('staff')
  const p_event_id = state.e1.id
  assert.equal((await staff.rpc('set_event_status', { p_event_id, p_status: 'in_progress' })).error, null)
  const member = await clientAs('member')
  const { data: issue, error, status } = await member.rpc('report_event_issue',
    { p_event_id, p_issue_type: 'equipment', p_description: 'The mixer hums', p_severity: 'medium', p_photo_urls: ['https://example.org/p1.jpg'] })
  assert.equal(error, null)
  assert.equal(status, 200)
  assert.equal(issue.reported_by, 'u-member')
  assert.equal(issue.status, 'open')
  assert.equal(statusOf('event_instances', p_event_id), 'issue_reported')
  assert.equal(sql(`SELECT count(*) FROM booking.outbox WHERE topic = 'event.issue_reported' AND payload ->> 'issue_id' = '${issue.id}'`), '1')

  const { error: severity, status: severityStatus } = await member.rpc('report_event_issue',
    { p_event_id, p_issue_type: 'x', p_description: 'y', p_severity: 'apocalyptic' })
  assert.equal(severityStatus, 400)
  assert.equal(severity.code, '23514')
  const { error: stranger, status: strangerStatus } = await (await clientAs('client2')).rpc('report_event_issue',
    { p_event_id, p_issue_type: 'x', p_description: 'y', p_severity: 'low' })
  assert.equal(strangerStatus, 400, 'an event that does not involve them is unknown')
  assert.equal(stranger.code, '22023')

  const { error: notStaff, status: notStaffStatus } = await member.rpc('resolve_event_issue', { p_issue_id: issue.id, p_resolution: 'fixed' })
  assert.equal(notStaffStatus, 403)
  assert.equal(notStaff.code, '42501')
  const { error: badStatus, status: badStatusStatus } = await staff.rpc('resolve_event_issue',
    { p_issue_id: issue.id, p_resolution: 'fixed', p_status: 'closed' })
  assert.equal(badStatusStatus, 400)
  assert.equal(badStatus.code, '22023')
  const { data: resolved, error: resolveError, status: resolveStatus } = await staff.rpc('resolve_event_issue',
    { p_issue_id: issue.id, p_resolution: 'Replaced the cable' })
  assert.equal(resolveError, null)
  assert.equal(resolveStatus, 200)
  assert.equal(resolved.status, 'resolved')
  assert.equal(resolved.resolved_by, 'u-staff')
  assert.ok(resolved.resolved_at)

  for (const p_status of ['in_progress', 'completed']) {
    assert.equal((await staff.rpc('set_event_status', { p_event_id, p_status })).error, null, p_status)
  }
  const { error: closed, status: closedStatus } = await staff.rpc('assign_staff', { p_event_id, p_user_id: 'u-client2', p_role: 'late' })
  assert.equal(closedStatus, 409)
  assert.equal(closed.details, 'event_closed', 'nobody is assigned to a completed event')
})

// What follows a cancellation is judged by the rule, not by who cancelled (the booker here).
test('a cancelled booking cancels its event and the assignments on it', async () => {
  const { error } = await (await clientAs('client')).rpc('set_booking_status', { p_booking_id: state.booked.b2.id, p_status: 'cancelled' })
  assert.equal(error, null)
  assert.equal(statusOf('event_instances', state.e2.id), 'cancelled')
  assert.equal(statusOf('staff_assignments', state.a2.id), 'cancelled')
  assert.equal(sql(`SELECT event_generation_status || ' ' || event_count FROM booking.bookings WHERE id = '${state.booked.b2.id}'`), 'cancelled 0')
})

test('close_overdue: read-time no_show and overdue; a worker (service_role) persists them; users 403', async () => {
  // An event that ended three hours ago (written by the superuser, as time passing).
  const booking = sql(`INSERT INTO booking.bookings (organization_id, resource_id, booked_by, title, starts_at, ends_at, status)
                       VALUES ('${LAB}', '${DIGITAL_LAB}', 'u-client', 'Past event', now() - interval '5 hours', now() - interval '3 hours', 'approved')
                       RETURNING id`)
  const event = sql(`SELECT id FROM booking.event_instances WHERE booking_id = '${booking}'`)
  assert.ok(event, 'generated')
  const staff = await clientAs('staff')
  const { data: late } = await staff.rpc('assign_staff', { p_event_id: event, p_user_id: 'u-client2', p_role: 'host' })
  const { data: inn } = await staff.rpc('assign_staff', { p_event_id: event, p_user_id: 'u-member', p_role: 'host' })
  assert.equal((await (await clientAs('member')).rpc('staff_check_in', { p_assignment_id: inn.id })).data.status, 'checked_in')
  const { data: read } = await staff.from('staff_assignments').select('user_id, status, assignment_status')
    .eq('event_instance_id', event).order('user_id')
  assert.deepEqual(read, [{ user_id: 'u-client2', status: 'assigned', assignment_status: 'no_show' },
                          { user_id: 'u-member', status: 'checked_in', assignment_status: 'overdue' }])
  assert.equal((await staff.rpc('assignment_status', { p_assignment: late })).data, 'no_show')

  const { error: denied, status } = await staff.rpc('close_overdue', {})
  assert.equal(status, 403)
  assert.equal(denied.code, '42501')
  assert.equal(statusOf('staff_assignments', late.id), 'assigned')
  const worker = await clientAs('service_role')
  const { data: changed, error, status: okStatus } = await worker.rpc('close_overdue', {})
  assert.equal(error, null)
  assert.equal(okStatus, 200)
  assert.equal(changed, 2)
  assert.equal(statusOf('staff_assignments', late.id), 'no_show')
  assert.equal(sql(`SELECT status || ' ' || auto_checked_out || ' ' || (check_out_at = greatest(ends_at, check_in_at))
                    FROM booking.staff_assignments WHERE id = '${inn.id}'`), 'checked_out true true', 'checked out as of the event\'s end')
  assert.equal((await worker.rpc('close_overdue', {})).data, 0, 'nothing left to close')
})
