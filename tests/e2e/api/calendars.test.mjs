// External calendars (seed 002) through PostgREST: staff connect a calendar (.from() on
// calendar_integrations) and link a resource to it; its tokens are service_role's alone; the sync
// worker (service_role) delivers a provider's events (upsert_calendar_events: idempotent, versions
// by `updated`, deletions as tombstones), reports how each sync went (report_sync_result: the
// state machine, one notification when the credentials fail) and expands recurring events again
// (refresh_calendar_busy); staff import an iCalendar file (import_ics: a Google export with TZIDs,
// an RRULE with an EXDATE, an all-day event, free and cancelled events, and an Outlook export with
// Windows zone names); the busy time shows in get_available_slots, find_next_slot,
// booking_refusal and can_book_resource, and book() and a direct insert are refused with PT409
// external_event; a booking of a linked resource is pushed as a calendar.push outbox event whose
// worker writes the provider's id back; and the resource's bookings are read as an iCalendar feed
// (resource_calendar_ics with Accept: text/calendar), titled for those who may see them and "Busy"
// for everyone else. Each RPC with its success and its refusal.
//
// The fixtures hold none of this: this file uses people of its own (u-cal-*, made members of the
// lab here), a resource of its own in the lab (a laser cutter, with the lab's hours) and
// integrations of its own, on the week that starts nine Mondays from now (New York time), so
// that its bookings fall inside the feed's window (30 days back, 366 ahead). It removes the
// resource, its bookings, the integrations and its people when it is done.
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { ANON_KEY, SUPABASE_URL, clientAs, jwt, sql, CLINIC_ROOM, LAB, PRINTER } from '../stack.mjs'

const STAFF = 'u-cal-staff' // staff of the lab: connects calendars, imports files
const ADMIN = 'u-cal-admin' // an admin of the lab: told when a calendar needs connecting again
const CLIENT = 'u-cal-client' // a client of the lab
const CLIENT2 = 'u-cal-client2' // another client of the lab
const as = async (sub) => clientAs(await jwt({ sub, role: 'authenticated' }))
const LASER = '00000000-0000-4000-a000-00000000ca01' // this file's resource in the lab
const ZONE = 'America/New_York'

// The Monday nine weeks ahead (New York), and helpers for its week.
const MONDAY = sql(`SELECT date_trunc('week', now() AT TIME ZONE '${ZONE}')::date + 63`)
const date = (day) => sql(`SELECT DATE '${MONDAY}' + ${day}`) // YYYY-MM-DD, day 0 is the Monday
const compact = (day) => date(day).replaceAll('-', '') // YYYYMMDD, for iCalendar
// The instant of a New York wall-clock time on a day of the week, as ISO UTC (asked once).
const instants = new Map()
const at = (day, hm) => {
  if (!instants.has(`${day} ${hm}`)) {
    instants.set(`${day} ${hm}`, sql(`SELECT to_char(((DATE '${MONDAY}' + ${day}) + time '${hm}') AT TIME ZONE '${ZONE}' AT TIME ZONE 'UTC',
                                                     'YYYY-MM-DD"T"HH24:MI:SS"Z"')`))
  }
  return instants.get(`${day} ${hm}`)
}
const local = (t) => new Intl.DateTimeFormat('en-GB', { timeZone: ZONE, hour: '2-digit', minute: '2-digit', hourCycle: 'h23' })
  .format(new Date(t))
const instant = (t) => new Date(t).toISOString()
const count = (table, where) => sql(`SELECT count(*) FROM booking.${table} WHERE ${where}`)

// A day's free hours of the laser cutter, as New York times.
async function hours(day, api) {
  const { data, error } = await (api ?? await clientAs('anon')).rpc('get_available_slots',
    { p_resource_id: LASER, p_start: at(day, '00:00'), p_end: at(day + 1, '00:00'), p_duration_minutes: 60 }, { get: true })
  assert.equal(error, null)
  return data.map((s) => local(s.slot_start))
}
const OPEN = ['10:00', '11:00', '12:00', '14:00', '15:00', '16:00', '17:00'] // the lab's weekday hours, by the hour

// GET /rpc/resource_calendar_ics through the gateway, as a calendar client (or supabase-js) sends it.
async function feed(resourceId, { token = ANON_KEY, accept = 'text/calendar' } = {}) {
  const answer = await fetch(`${SUPABASE_URL}/rest/v1/rpc/resource_calendar_ics?p_resource_id=${resourceId}`, {
    headers: { apikey: ANON_KEY, Authorization: `Bearer ${token}`, 'Accept-Profile': 'booking', Accept: accept },
  })
  return { status: answer.status, type: answer.headers.get('content-type'), body: await answer.text() }
}
// The VEVENTs of an iCalendar text, each as its properties.
const vevents = (text) => [...text.matchAll(/BEGIN:VEVENT\r\n([\s\S]*?)END:VEVENT\r\n/g)]
  .map((m) => Object.fromEntries(m[1].replace(/\r\n /g, '').split('\r\n').filter(Boolean)
    .map((line) => [line.slice(0, line.indexOf(':')), line.slice(line.indexOf(':') + 1)])))

// What the tests below share.
const state = {}

before(() => {
  sql(`INSERT INTO booking.members (organization_id, user_id, role) VALUES
         ('${LAB}', '${STAFF}', 'staff'), ('${LAB}', '${ADMIN}', 'admin'),
         ('${LAB}', '${CLIENT}', 'client'), ('${LAB}', '${CLIENT2}', 'client')`)
  sql(`INSERT INTO booking.resources (id, organization_id, kind, title, capacity, auto_approve)
       VALUES ('${LASER}', '${LAB}', 'equipment', 'Laser Cutter', 1, false)`)
})

after(() => {
  sql(`DELETE FROM booking.bookings WHERE resource_id = '${LASER}'`)
  sql(`DELETE FROM booking.calendar_integrations WHERE id IN (SELECT integration_id FROM booking.calendar_integration_resources
                                                               WHERE resource_id = '${LASER}')`)
  sql(`DELETE FROM booking.resources WHERE id = '${LASER}'`)
  sql(`DELETE FROM booking.members WHERE organization_id = '${LAB}' AND user_id LIKE 'u-cal-%'`)
})

// ---------------------------------------------------------------------------------------------
// Connecting a calendar: tables
// ---------------------------------------------------------------------------------------------

test('calendar_integrations: staff connect a calendar (the organization\'s time zone, pending) and link a resource; a client 403; the sync fields are the worker\'s (403); members read it', async () => {
  const staff = await as(STAFF)
  const { data: google, error, status } = await staff.from('calendar_integrations')
    .insert({ organization_id: LAB, provider: 'google', calendar_id: 'laser@example.org', name: 'Laser cutter' }).select().single()
  assert.equal(error, null)
  assert.equal(status, 201)
  assert.deepEqual([google.time_zone, google.sync_status, google.needs_reauthorization, google.tentative_is_busy, google.last_sync_at],
    [ZONE, 'pending', false, true, null], 'the lab\'s zone; pending')
  state.google = google
  const { data: link, error: linkError } = await staff.from('calendar_integration_resources')
    .insert({ integration_id: google.id, resource_id: LASER, organization_id: LAB }).select().single()
  assert.equal(linkError, null)
  assert.equal(link.resource_id, LASER)

  const { error: again, status: againStatus } = await staff.from('calendar_integrations')
    .insert({ organization_id: LAB, provider: 'google', calendar_id: 'laser@example.org' })
  assert.equal(againStatus, 409, 'one integration per calendar')
  assert.equal(again.code, '23505')
  const { error: zone, status: zoneStatus } = await staff.from('calendar_integrations')
    .insert({ organization_id: LAB, provider: 'ics', calendar_id: 'mars.ics', time_zone: 'Mars/Olympus' })
  assert.equal(zoneStatus, 400)
  assert.equal(zone.code, '22023')
  const { error: forged, status: forgedStatus } = await staff.from('calendar_integrations')
    .update({ sync_status: 'success' }).eq('id', google.id)
  assert.equal(forgedStatus, 403, 'the sync fields are written by report_sync_result')
  assert.equal(forged.code, '42501')
  const { error: client, status: clientStatus } = await (await as(CLIENT)).from('calendar_integrations')
    .insert({ organization_id: LAB, provider: 'ics', calendar_id: 'mine.ics' })
  assert.equal(clientStatus, 403, 'staff connect calendars')
  assert.equal(client.code, '42501')
  const { data: seen } = await (await as(CLIENT)).from('calendar_integrations').select('id, provider, sync_status').eq('id', google.id)
  assert.deepEqual(seen, [{ id: google.id, provider: 'google', sync_status: 'pending' }], 'members see their organization\'s calendars')
  const { data: outsider } = await (await clientAs('outsider')).from('calendar_integrations').select('id').eq('id', google.id)
  assert.deepEqual(outsider, [], 'another organization\'s admin does not')

  // The tokens: the worker writes and reads them; nobody else may even select from the table.
  const worker = await clientAs('service_role')
  const { error: saved } = await worker.from('calendar_credentials')
    .insert({ integration_id: google.id, organization_id: LAB, access_token: 'ya29.secret', refresh_token: 'refresh-secret' })
  assert.equal(saved, null)
  assert.equal((await worker.from('calendar_credentials').select('access_token').eq('integration_id', google.id)).data[0].access_token,
    'ya29.secret')
  for (const persona of [STAFF, ADMIN, CLIENT]) {
    const { data, error: denied, status: deniedStatus } = await (await as(persona)).from('calendar_credentials').select('*')
    assert.equal(data, null, persona)
    assert.equal(deniedStatus, 403, persona)
    assert.equal(denied.code, '42501', persona)
  }
  const { error: anon, status: anonStatus } = await (await clientAs('anon')).from('calendar_credentials').select('access_token')
  assert.equal(anonStatus, 401)
  assert.equal(anon.code, '42501')
})

// ---------------------------------------------------------------------------------------------
// The worker's deliveries and the busy time they make
// ---------------------------------------------------------------------------------------------

test('upsert_calendar_events: the worker delivers events (instants, floating local times); confirmed and tentative ones are busy, free and cancelled ones not; staff 403, anonymous 401', async () => {
  assert.deepEqual(await hours(0), OPEN, 'the laser cutter\'s Monday, before')
  const worker = await clientAs('service_role')
  const events = [
    { external_id: 'g-1', updated: '2027-01-01T00:00:00Z', title: 'Maintenance', start: at(0, '10:00'), end: at(0, '11:00') },
    { external_id: 'g-2', updated: '2027-01-01T00:00:00Z', status: 'tentative', start: `${date(0)} 14:30`, end: `${date(0)} 15:15` },
    { external_id: 'g-3', transparency: 'transparent', title: 'Reminder', start: at(0, '16:00'), end: at(0, '17:00') },
    { external_id: 'g-4', status: 'cancelled', start: at(0, '17:00'), end: at(0, '18:00') },
  ]
  const { data: counts, error, status } = await worker.rpc('upsert_calendar_events', { p_integration_id: state.google.id, p_events: events })
  assert.equal(error, null)
  assert.equal(status, 200)
  assert.deepEqual(counts, { inserted: 4, updated: 0, deleted: 0, unchanged: 0 })
  assert.deepEqual(await hours(0), ['11:00', '12:00', '16:00', '17:00'],
    'the confirmed hour and the tentative 14:30-15:15 take their slots; the free and the cancelled hours do not')
  assert.equal(sql(`SELECT to_char(starts_at AT TIME ZONE '${ZONE}', 'HH24:MI') FROM booking.calendar_events
                    WHERE integration_id = '${state.google.id}' AND external_id = 'g-2'`), '14:30', 'a floating time is read in the integration\'s zone')
  state.events = events

  for (const [who, persona, expected] of [['staff', STAFF, 403], ['an admin', ADMIN, 403]]) {
    const { data, error: refused, status: refusedStatus } = await (await as(persona)).rpc('upsert_calendar_events',
      { p_integration_id: state.google.id, p_events: [] })
    assert.equal(data, null, who)
    assert.equal(refusedStatus, expected, who)
    assert.equal(refused.code, '42501', who)
  }
  const { error: anon, status: anonStatus } = await (await clientAs('anon')).rpc('upsert_calendar_events',
    { p_integration_id: state.google.id, p_events: [] })
  assert.equal(anonStatus, 401)
  assert.equal(anon.code, '42501')
})

test('upsert_calendar_events: a replay changes nothing, a newer version moves an event, an older one delivered late does not, a deletion is a tombstone; bad deliveries 400 22023 with nothing written', async () => {
  const worker = await clientAs('service_role')
  const deliver = async (events) => worker.rpc('upsert_calendar_events', { p_integration_id: state.google.id, p_events: events })
  assert.deepEqual((await deliver(state.events)).data, { inserted: 0, updated: 0, deleted: 0, unchanged: 4 }, 'the same delivery again')
  const moved = { ...state.events[0], updated: '2027-01-02T00:00:00Z', title: 'Maintenance (moved)', start: at(0, '11:00'), end: at(0, '12:00') }
  assert.deepEqual((await deliver([moved])).data, { inserted: 0, updated: 1, deleted: 0, unchanged: 0 }, 'a newer version')
  assert.deepEqual((await deliver([state.events[0]])).data, { inserted: 0, updated: 0, deleted: 0, unchanged: 1 },
    'the older version, delivered late')
  assert.deepEqual(await hours(0), ['10:00', '12:00', '16:00', '17:00'], 'busy where the newest version says')
  assert.deepEqual((await deliver([{ external_id: 'g-1', updated: '2027-01-03T00:00:00Z', deleted: true }])).data,
    { inserted: 0, updated: 0, deleted: 1, unchanged: 0 }, 'a deletion')
  assert.deepEqual((await deliver([moved])).data, { inserted: 0, updated: 0, deleted: 0, unchanged: 1 },
    'a late copy does not bring the deleted event back')
  assert.deepEqual(await hours(0), ['10:00', '11:00', '12:00', '16:00', '17:00'])
  assert.equal(sql(`SELECT row(status, deleted)::text FROM booking.calendar_events WHERE integration_id = '${state.google.id}' AND external_id = 'g-1'`),
    '(cancelled,t)', 'kept as a cancelled tombstone, one row')
  // Back as it was first, for the tests below (a newer version brings it back).
  assert.deepEqual((await deliver([{ ...state.events[0], updated: '2027-01-04T00:00:00Z' }])).data,
    { inserted: 0, updated: 1, deleted: 0, unchanged: 0 })
  assert.deepEqual(await hours(0), ['11:00', '12:00', '16:00', '17:00'])

  const before = count('calendar_events', `integration_id = '${state.google.id}'`)
  for (const [what, args, message] of [
    ['an unknown integration', { p_integration_id: crypto.randomUUID(), p_events: [] }, /unknown calendar integration/],
    ['a bad event, named', { p_integration_id: state.google.id, p_events: [
      { external_id: 'ok', start: at(1, '10:00'), end: at(1, '11:00') },
      { external_id: 'bad', start: at(1, '10:00'), end: at(1, '09:00') }] }, /^event 2 of the delivery/],
    ['not an array', { p_integration_id: state.google.id, p_events: { external_id: 'x' } }, /JSON array/],
    ['2001 events', { p_integration_id: state.google.id, p_events: Array.from({ length: 2001 }, (_, i) =>
      ({ external_id: `n${i}`, start: at(1, '10:00'), end: at(1, '11:00') })) }, /at most 2000 events/],
  ]) {
    const { data, error, status } = await worker.rpc('upsert_calendar_events', args)
    assert.equal(data, null, what)
    assert.equal(status, 400, what)
    assert.equal(error.code, '22023', what)
    assert.match(error.message, message, what)
  }
  assert.equal(count('calendar_events', `integration_id = '${state.google.id}'`), before, 'nothing of them written')
})

test('busy time: book() and a direct insert on it 409 PT409 external_event; booking_refusal, can_book_resource and find_next_slot agree; tentative events free when the integration says so', async () => {
  const client = await as(CLIENT)
  const { data, error, status } = await client.rpc('book', { p_resource_id: LASER, p_start: at(0, '10:00'), p_end: at(0, '11:00') })
  assert.equal(data, null)
  assert.equal(status, 409)
  assert.equal(error.code, 'PT409')
  assert.equal(error.details, 'external_event')
  assert.equal(error.message, 'That time is taken in a linked calendar.')
  const { error: direct, status: directStatus } = await client.from('bookings')
    .insert({ organization_id: LAB, resource_id: LASER, starts_at: at(0, '14:45'), ends_at: at(0, '15:45') })
  assert.equal(directStatus, 409, 'a direct insert meets the same rule book (the tentative event)')
  assert.equal(direct.details, 'external_event')
  assert.equal(count('bookings', `resource_id = '${LASER}'`), '0', 'nothing written')

  const anon = await clientAs('anon')
  const ask = (fn, args) => anon.rpc(fn, args, { get: true })
  assert.equal((await ask('booking_refusal', { p_resource_id: LASER, p_start: at(0, '10:30'), p_end: at(0, '11:30') })).data, 'external_event')
  assert.equal((await ask('booking_refusal', { p_resource_id: LASER, p_start: at(0, '14:00'), p_end: at(0, '14:30') })).data, null,
    'no buffer around an external event: ending as it starts is fine')
  assert.equal((await ask('can_book_resource', { p_resource_id: LASER, p_start_time: at(0, '10:00'), p_end_time: at(0, '11:00') })).data, false)
  assert.equal((await ask('can_book_resource', { p_resource_id: LASER, p_start_time: at(0, '11:00'), p_end_time: at(0, '12:00') })).data, true)
  const { data: next } = await ask('find_next_slot', { p_resource_ids: [LASER], p_after: at(0, '10:00'), p_duration_minutes: 60 })
  assert.deepEqual(next.map((n) => [local(n.slot_start), n.resource_id]), [['11:00', LASER]], 'the first free hour is after the event')
  const { data: any } = await ask('get_available_slots_any', { p_resource_ids: [LASER], p_start: at(0, '00:00'), p_end: at(1, '00:00'),
    p_duration_minutes: 60 })
  assert.deepEqual(any.map((s) => local(s.slot_start)), ['11:00', '12:00', '16:00', '17:00'])

  // The integration's setting: tentative events free.
  const staff = await as(STAFF)
  assert.equal((await staff.from('calendar_integrations').update({ tentative_is_busy: false }).eq('id', state.google.id)).error, null)
  assert.deepEqual(await hours(0), ['11:00', '12:00', '14:00', '15:00', '16:00', '17:00'])
  await staff.from('calendar_integrations').update({ tentative_is_busy: true }).eq('id', state.google.id)
  assert.deepEqual(await hours(0), ['11:00', '12:00', '16:00', '17:00'])

  // Who reads the events: staff, not clients (who see the busy time only as missing slots).
  const { data: seen } = await staff.from('calendar_events').select('external_id, title, status').eq('integration_id', state.google.id)
    .order('external_id')
  assert.deepEqual(seen.map((e) => e.external_id), ['g-1', 'g-2', 'g-3', 'g-4'])
  assert.deepEqual((await client.from('calendar_events').select('id')).data, [], 'a client reads no external event')
  assert.deepEqual((await client.from('calendar_busy').select('during')).data, [], 'nor their busy time')
})

test('report_sync_result: syncing, then success or error; an end before a start 409 sync_transition; failed credentials notify the admins once; staff 403, anonymous 401, bad input 400', async () => {
  const worker = await clientAs('service_role')
  const report = (args) => worker.rpc('report_sync_result', { p_integration_id: state.google.id, ...args })
  const { data: early, error: earlyError, status: earlyStatus } = await report({ p_status: 'success' })
  assert.equal(early, null)
  assert.equal(earlyStatus, 409)
  assert.equal(earlyError.code, 'PT409')
  assert.equal(earlyError.details, 'sync_transition')
  assert.equal(earlyError.hint, 'Report syncing first.')

  const { data: syncing, error, status } = await report({ p_status: 'syncing' })
  assert.equal(error, null)
  assert.equal(status, 200)
  assert.equal(syncing.sync_status, 'syncing')
  const { error: twice, status: twiceStatus } = await report({ p_status: 'syncing' })
  assert.equal(twiceStatus, 409, 'one sync at a time')
  assert.equal(twice.details, 'sync_transition')
  const { data: failed } = await report({ p_status: 'error', p_error: 'invalid_grant', p_needs_reauthorization: true })
  assert.deepEqual([failed.sync_status, failed.error_message, failed.needs_reauthorization, failed.reauthorization_notified_at !== null],
    ['error', 'invalid_grant', true, true])
  await report({ p_status: 'syncing' })
  await report({ p_status: 'error', p_error: 'invalid_grant', p_needs_reauthorization: true })
  const told = sql(`SELECT string_agg(recipient_id, ' ' ORDER BY recipient_id) FROM booking.notifications
                    WHERE notification_type = 'calendar_reauthorization' AND metadata ->> 'integration_id' = '${state.google.id}'`)
  assert.equal(told, `u-admin ${ADMIN}`, 'the lab\'s admins, once each, however often it fails')
  const { data: notification } = await (await as(ADMIN)).from('notifications').select('message, metadata')
    .eq('notification_type', 'calendar_reauthorization')
  assert.deepEqual(notification, [{ message: 'The calendar Laser cutter needs to be connected again.',
    metadata: { integration_id: state.google.id, provider: 'google', error: 'invalid_grant' } }])

  await report({ p_status: 'syncing' })
  const { data: done } = await report({ p_status: 'success', p_sync_token: 'sync-token-2' })
  assert.deepEqual([done.sync_status, done.error_message, done.needs_reauthorization, done.sync_token, done.last_sync_at !== null],
    ['success', null, false, 'sync-token-2', true], 'a success clears the error and the mark')
  const { data: read } = await (await as(STAFF)).from('calendar_integrations').select('sync_status, last_sync_at').eq('id', state.google.id)
  assert.equal(read[0].sync_status, 'success', 'staff read how the sync went')

  for (const [what, args] of [
    ['an unknown status', { p_status: 'done' }],
    ['an unknown integration', { p_integration_id: crypto.randomUUID(), p_status: 'syncing' }],
    ['an error over 4000 characters', { p_status: 'syncing', p_error: 'e'.repeat(4001) }],
  ]) {
    const { error: refused, status: refusedStatus } = await report(args)
    assert.equal(refusedStatus, 400, what)
    assert.equal(refused.code, '22023', what)
  }
  const { error: staff, status: staffStatus } = await (await as(STAFF)).rpc('report_sync_result',
    { p_integration_id: state.google.id, p_status: 'syncing' })
  assert.equal(staffStatus, 403, 'the worker reports')
  assert.equal(staff.code, '42501')
  const { status: anonStatus } = await (await clientAs('anon')).rpc('report_sync_result', { p_integration_id: state.google.id, p_status: 'syncing' })
  assert.equal(anonStatus, 401)
})

// ---------------------------------------------------------------------------------------------
// iCalendar files in
// ---------------------------------------------------------------------------------------------

// What Google Calendar exports: its VTIMEZONE, TZID on local times, an RRULE with an EXDATE, an
// all-day event, a free event and a cancelled one, folded lines; LF line ends (as a file saved on
// a Unix machine), which the reader accepts as CRLF.
const googleIcs = () => `BEGIN:VCALENDAR
PRODID:-//Google Inc//Google Calendar 70.9054//EN
VERSION:2.0
CALSCALE:GREGORIAN
METHOD:PUBLISH
X-WR-CALNAME:Laser room
X-WR-TIMEZONE:America/New_York
BEGIN:VTIMEZONE
TZID:America/New_York
X-LIC-LOCATION:America/New_York
BEGIN:STANDARD
TZOFFSETFROM:-0400
TZOFFSETTO:-0500
TZNAME:EST
DTSTART:19701101T020000
RRULE:FREQ=YEARLY;BYMONTH=11;BYDAY=1SU
END:STANDARD
BEGIN:DAYLIGHT
TZOFFSETFROM:-0500
TZOFFSETTO:-0400
TZNAME:EDT
DTSTART:19700308T020000
RRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=2SU
END:DAYLIGHT
END:VTIMEZONE
BEGIN:VEVENT
DTSTART;TZID=America/New_York:${compact(1)}T100000
DTEND;TZID=America/New_York:${compact(1)}T110000
RRULE:FREQ=WEEKLY;COUNT=3
EXDATE;TZID=America/New_York:${compact(8)}T100000
DTSTAMP:20270105T120000Z
UID:calibration-7f3a@google.com
CREATED:20270105T115900Z
LAST-MODIFIED:20270105T120000Z
SEQUENCE:0
STATUS:CONFIRMED
SUMMARY:Weekly laser calibration\\, bed and
  mirrors
TRANSP:OPAQUE
END:VEVENT
BEGIN:VEVENT
DTSTART;VALUE=DATE:${compact(3)}
DTEND;VALUE=DATE:${compact(4)}
DTSTAMP:20270105T120000Z
UID:cleaning-91c2@google.com
SUMMARY:Closed for cleaning
TRANSP:OPAQUE
END:VEVENT
BEGIN:VEVENT
DTSTART;TZID=America/New_York:${compact(1)}T140000
DTEND;TZID=America/New_York:${compact(1)}T150000
DTSTAMP:20270105T120000Z
UID:reminder-22b0@google.com
SUMMARY:Order acrylic
TRANSP:TRANSPARENT
END:VEVENT
BEGIN:VEVENT
DTSTART;TZID=America/New_York:${compact(1)}T160000
DTEND;TZID=America/New_York:${compact(1)}T170000
DTSTAMP:20270105T120000Z
UID:cancelled-5d1e@google.com
STATUS:CANCELLED
SUMMARY:Demo (cancelled)
END:VEVENT
END:VCALENDAR
`

// What Outlook exports: Windows zone names (quoted) with their VTIMEZONE, CRLF line ends.
const outlookIcs = () => [
  'BEGIN:VCALENDAR', 'PRODID:-//Microsoft Corporation//Outlook 16.0 MIMEDIR//EN', 'VERSION:2.0', 'METHOD:PUBLISH',
  'X-MS-OLK-FORCEINSPECTOROPEN:TRUE',
  'BEGIN:VTIMEZONE', 'TZID:Eastern Standard Time',
  'BEGIN:STANDARD', 'DTSTART:16011104T020000', 'RRULE:FREQ=YEARLY;BYDAY=1SU;BYMONTH=11', 'TZOFFSETFROM:-0400', 'TZOFFSETTO:-0500', 'END:STANDARD',
  'BEGIN:DAYLIGHT', 'DTSTART:16010311T020000', 'RRULE:FREQ=YEARLY;BYDAY=2SU;BYMONTH=3', 'TZOFFSETFROM:-0500', 'TZOFFSETTO:-0400', 'END:DAYLIGHT',
  'END:VTIMEZONE',
  'BEGIN:VEVENT', 'CLASS:PUBLIC', 'CREATED:20270106T090000Z',
  `DTEND;TZID="Eastern Standard Time":${compact(2)}T120000`, 'DTSTAMP:20270106T090000Z',
  `DTSTART;TZID="Eastern Standard Time":${compact(2)}T110000`, 'LAST-MODIFIED:20270106T090000Z', 'PRIORITY:5', 'SEQUENCE:0',
  'SUMMARY;LANGUAGE=en-us:Laser service visit', 'TRANSP:OPAQUE',
  'UID:040000008200E00074C5B7101A82E00800000000D0E1F2A3B4C5D601000000000000000010000000',
  'X-MICROSOFT-CDO-BUSYSTATUS:BUSY', 'END:VEVENT',
  'BEGIN:VEVENT', 'CLASS:PUBLIC', 'DTSTAMP:20270106T090000Z',
  `DTSTART;TZID="W. Europe Standard Time":${compact(2)}T090000`, `DTEND;TZID="W. Europe Standard Time":${compact(2)}T100000`,
  'SUMMARY;LANGUAGE=en-us:Call with the Berlin supplier', 'TRANSP:OPAQUE',
  'UID:040000008200E00074C5B7101A82E00800000000E1F2A3B4C5D6E701000000000000000010000000', 'END:VEVENT',
  'END:VCALENDAR', ''].join('\r\n')

test('import_ics: staff import a Google export (TZID, RRULE with EXDATE, all-day, free and cancelled events) and an Outlook one (Windows zone names); the busy time follows; importing again changes nothing', async () => {
  const staff = await as(STAFF)
  const { data: feedIntegration, error: made } = await staff.from('calendar_integrations')
    .insert({ organization_id: LAB, provider: 'ics', calendar_id: 'laser-room.ics', name: 'Laser room (file)' }).select().single()
  assert.equal(made, null)
  state.ics = feedIntegration
  await staff.from('calendar_integration_resources').insert({ integration_id: feedIntegration.id, resource_id: LASER, organization_id: LAB })
  assert.deepEqual(await hours(1), OPEN, 'Tuesday, before')

  const { data: google, error, status } = await staff.rpc('import_ics', { p_integration_id: feedIntegration.id, p_ics: googleIcs() })
  assert.equal(error, null)
  assert.equal(status, 200)
  assert.deepEqual(google, { inserted: 4, updated: 0, deleted: 0, unchanged: 0, events: 4 })
  assert.deepEqual(await hours(1), ['11:00', '12:00', '14:00', '15:00', '16:00', '17:00'],
    'the calibration holds 10:00; the free reminder and the cancelled demo hold nothing')
  assert.deepEqual(await hours(8), OPEN, 'the second Tuesday is excluded (EXDATE)')
  assert.deepEqual(await hours(15), OPEN.slice(1), 'the third Tuesday (COUNT=3)')
  assert.deepEqual(await hours(22), OPEN, 'no fourth')
  assert.deepEqual(await hours(3), [], 'the all-day event holds the lab\'s whole Thursday')
  assert.deepEqual(await hours(4), OPEN, 'and not Friday')
  assert.equal(sql(`SELECT title FROM booking.calendar_events WHERE external_id = 'calibration-7f3a@google.com'`),
    'Weekly laser calibration, bed and mirrors', 'unfolded and unescaped')

  const { data: outlook, error: outlookError } = await staff.rpc('import_ics', { p_integration_id: feedIntegration.id, p_ics: outlookIcs() })
  assert.equal(outlookError, null)
  assert.deepEqual(outlook, { inserted: 2, updated: 0, deleted: 0, unchanged: 0, events: 2 })
  assert.deepEqual(await hours(2), ['10:00', '12:00', '14:00', '15:00', '16:00', '17:00'], 'Eastern Standard Time is New York\'s 11:00')
  assert.equal(sql(`SELECT row(time_zone, starts_at = '${date(2)} 09:00 Europe/Berlin'::timestamptz)::text FROM booking.calendar_events
                    WHERE title = 'Call with the Berlin supplier'`), '(Europe/Berlin,t)', 'W. Europe Standard Time is Berlin')

  const { data: again } = await staff.rpc('import_ics', { p_integration_id: feedIntegration.id, p_ics: googleIcs() })
  assert.deepEqual(again, { inserted: 0, updated: 0, deleted: 0, unchanged: 4, events: 4 }, 'the same file again')
  const { error: bookError, status: bookStatus } = await (await as(CLIENT)).rpc('book',
    { p_resource_id: LASER, p_start: at(3, '14:00'), p_end: at(3, '15:00') })
  assert.equal(bookStatus, 409)
  assert.equal(bookError.details, 'external_event', 'the imported all-day event refuses a booking too')
})

test('import_ics: a client 403 and anonymous 401; over 2 MB, an unknown integration, a VEVENT without UID or with an unknown zone, text that is not iCalendar 400 22023; nothing written', async () => {
  const before = count('calendar_events', `integration_id = '${state.ics.id}'`)
  const { data, error, status } = await (await as(CLIENT)).rpc('import_ics', { p_integration_id: state.ics.id, p_ics: googleIcs() })
  assert.equal(data, null)
  assert.equal(status, 403, 'staff import')
  assert.equal(error.code, '42501')
  assert.match(error.message, /organization's staff/)
  const { status: anonStatus, error: anon } = await (await clientAs('anon')).rpc('import_ics', { p_integration_id: state.ics.id, p_ics: googleIcs() })
  assert.equal(anonStatus, 401)
  assert.equal(anon.code, '42501')

  const staff = await as(STAFF)
  const vevent = (lines) => ['BEGIN:VCALENDAR', 'VERSION:2.0', 'BEGIN:VEVENT', ...lines, 'END:VEVENT', 'END:VCALENDAR', ''].join('\r\n')
  for (const [what, args, message] of [
    ['over 2 MB', { p_integration_id: state.ics.id, p_ics: 'X'.repeat(2 * 1024 * 1024 + 1) }, /at most 2097152 bytes/],
    ['an unknown integration', { p_integration_id: crypto.randomUUID(), p_ics: googleIcs() }, /unknown calendar integration/],
    ['a VEVENT without UID', { p_integration_id: state.ics.id, p_ics: vevent([`DTSTART:${compact(4)}T150000Z`, `DTEND:${compact(4)}T160000Z`]) },
      /VEVENT 1 has no UID/],
    ['an unknown zone', { p_integration_id: state.ics.id, p_ics: vevent(['UID:mars', `DTSTART;TZID=Mars Standard Time:${compact(4)}T100000`,
      `DTEND;TZID=Mars Standard Time:${compact(4)}T110000`]) }, /VEVENT 1 \(UID "mars"\) has an unknown time zone "Mars Standard Time"/],
    ['not iCalendar', { p_integration_id: state.ics.id, p_ics: '{"events": []}' }, /does not parse/],
    ['no text', { p_integration_id: state.ics.id, p_ics: null }, /p_ics/],
  ]) {
    const { data: refused, error: refusal, status: refusedStatus } = await staff.rpc('import_ics', args)
    assert.equal(refused, null, what)
    assert.equal(refusedStatus, 400, what)
    assert.equal(refusal.code, '22023', what)
    assert.match(refusal.message, message, what)
  }
  assert.equal(count('calendar_events', `integration_id = '${state.ics.id}'`), before, 'nothing written')
  // The size is checked before who asks: a client's oversized file is refused for its size.
  const { status: bigStatus } = await (await as(CLIENT)).rpc('import_ics', { p_integration_id: state.ics.id, p_ics: 'X'.repeat(2 * 1024 * 1024 + 1) })
  assert.equal(bigStatus, 400)
})

test('refresh_calendar_busy: the worker expands every recurring event again (the moving horizon); staff 403, anonymous 401', async () => {
  const { data, error, status } = await (await clientAs('service_role')).rpc('refresh_calendar_busy')
  assert.equal(error, null)
  assert.equal(status, 200)
  assert.equal(data, Number(count('calendar_events', `recurrence_rule IS NOT NULL AND recurrence_id = '' AND NOT deleted AND status <> 'cancelled'`)))
  assert.ok(data >= 1, 'the weekly calibration at least')
  assert.deepEqual(await hours(15), OPEN.slice(1), 'the same busy time after')
  const { error: staff, status: staffStatus } = await (await as(STAFF)).rpc('refresh_calendar_busy')
  assert.equal(staffStatus, 403)
  assert.equal(staff.code, '42501')
  const { status: anonStatus } = await (await clientAs('anon')).rpc('refresh_calendar_busy')
  assert.equal(anonStatus, 401)
})

// ---------------------------------------------------------------------------------------------
// Outbound: calendar.push, and the feed
// ---------------------------------------------------------------------------------------------

test('calendar.push: a booking of a linked resource is pushed once per linked writable calendar; the worker claims it, writes the provider\'s id back and acknowledges it', async () => {
  const { data: mine, error } = await (await as(CLIENT)).rpc('book',
    { p_resource_id: LASER, p_start: at(0, '12:00'), p_end: at(0, '13:00'), p_title: 'Acrylic sign' })
  assert.equal(error, null)
  assert.equal(mine.status, 'pending')
  state.mine = mine
  const { data: staffs, error: staffError } = await (await as(STAFF)).from('bookings')
    .insert({ organization_id: LAB, resource_id: LASER, title: 'Staff prototype', starts_at: at(4, '10:00'), ends_at: at(4, '12:00'),
      status: 'approved' }).select().single()
  assert.equal(staffError, null)
  state.staffs = staffs
  assert.equal(count('outbox', `topic = 'calendar.push' AND payload ->> 'booking_id' = '${mine.id}'`), '1',
    'one event per linked calendar that can be written (the Google calendar; an iCalendar file is read only)')

  const worker = await clientAs('service_role')
  const { data: claimed, error: claimError } = await worker.rpc('claim_outbox', { p_topic: 'calendar.push', p_limit: 100 })
  assert.equal(claimError, null)
  const push = claimed.find((e) => e.payload.booking_id === mine.id && e.payload.integration_id === state.google.id)
  assert.deepEqual({ ...push.payload, starts_at: instant(push.payload.starts_at), ends_at: instant(push.payload.ends_at) }, {
    booking_id: mine.id, integration_id: state.google.id, provider: 'google', calendar_id: 'laser@example.org', resource_id: LASER,
    action: 'create', status: 'pending', title: 'Acrylic sign', starts_at: instant(at(0, '12:00')), ends_at: instant(at(0, '13:00')),
    external_calendar_event_id: null })
  const { error: written } = await worker.from('bookings').update({ external_calendar_event_id: 'gcal-evt-123' }).eq('id', mine.id)
  assert.equal(written, null)
  const { data: acked } = await worker.rpc('ack_outbox', { p_ids: claimed.map((e) => e.id) })
  assert.equal(acked, claimed.length)
  assert.equal(count('outbox', `topic = 'calendar.push' AND payload ->> 'booking_id' = '${mine.id}'`), '1',
    'writing the id back pushes nothing new')
  const { error: forged, status: forgedStatus } = await (await as(CLIENT)).from('bookings')
    .update({ external_calendar_event_id: 'mine' }).eq('id', mine.id)
  assert.equal(forgedStatus, 403, 'the provider\'s id is not the booker\'s to write')
  assert.equal(forged.code, '42501')

  // Moving the booking pushes an update; cancelling it a delete.
  await (await as(CLIENT)).rpc('set_booking_status', { p_booking_id: mine.id, p_status: 'cancelled' })
  assert.equal(sql(`SELECT string_agg(DISTINCT payload ->> 'action', ' ') FROM booking.outbox
                    WHERE topic = 'calendar.push' AND payload ->> 'booking_id' = '${mine.id}' AND delivered_at IS NULL`), 'delete')
  const { data: rebooked, error: rebookError } = await (await as(CLIENT)).rpc('book',
    { p_resource_id: LASER, p_start: at(0, '12:00'), p_end: at(0, '13:00'), p_title: 'Acrylic sign' })
  assert.equal(rebookError, null)
  state.mine = rebooked
})

test('resource_calendar_ics: GET with Accept: text/calendar serves the resource\'s bookings as iCalendar, titled for who may see them and Busy for others; JSON without it; an unknown resource 400 22023', async () => {
  const staffToken = await jwt({ sub: STAFF, role: 'authenticated' })
  const forStaff = await feed(LASER, { token: staffToken })
  assert.equal(forStaff.status, 200)
  assert.match(forStaff.type, /^text\/calendar/)
  assert.ok(forStaff.body.startsWith('BEGIN:VCALENDAR\r\n'))
  assert.ok(forStaff.body.endsWith('END:VCALENDAR\r\n'))
  assert.match(forStaff.body, /\r\nX-WR-CALNAME:Laser Cutter\r\n/)
  const summaries = (text) => vevents(text).map((e) => [e.DTSTART, e.SUMMARY, e.STATUS])
  const ics = (t) => instant(t).replace(/[-:]/g, '').replace('.000', '')
  assert.deepEqual(summaries(forStaff.body), [
    [ics(at(0, '12:00')), 'Acrylic sign', 'TENTATIVE'],
    [ics(at(4, '10:00')), 'Staff prototype', 'CONFIRMED']], 'staff see every title; pending is TENTATIVE, approved CONFIRMED')
  assert.equal(vevents(forStaff.body)[0].UID, `${state.mine.id}@booking_ext`)
  assert.ok(!forStaff.body.includes(state.google.id) && !forStaff.body.includes('Maintenance'), 'external events are not in it')

  const forClient = await feed(LASER, { token: await jwt({ sub: CLIENT, role: 'authenticated' }) })
  assert.deepEqual(summaries(forClient.body).map((e) => e[1]), ['Acrylic sign', 'Busy'], 'the client\'s own title, others\' Busy')
  const forOther = await feed(LASER, { token: await jwt({ sub: CLIENT2, role: 'authenticated' }) })
  assert.deepEqual(summaries(forOther.body).map((e) => e[1]), ['Busy', 'Busy'])
  const forAnon = await feed(LASER)
  assert.equal(forAnon.status, 200, `anonymous visitors read a public organization's bookable resource: ${forAnon.body}`)
  assert.deepEqual(summaries(forAnon.body), [
    [ics(at(0, '12:00')), 'Busy', 'TENTATIVE'],
    [ics(at(4, '10:00')), 'Busy', 'CONFIRMED']])

  // supabase-js, without the Accept header: the same text as a JSON string.
  const { data: json, error, status } = await (await as(STAFF)).rpc('resource_calendar_ics', { p_resource_id: LASER }, { get: true })
  assert.equal(error, null)
  assert.equal(status, 200)
  assert.equal(json, forStaff.body)

  for (const [what, resource, token] of [
    ['an unknown resource', crypto.randomUUID(), staffToken],
    ['the private clinic\'s room, for an anonymous visitor', CLINIC_ROOM, ANON_KEY],
    ['the private clinic\'s room, for a lab client', CLINIC_ROOM, await jwt({ sub: CLIENT, role: 'authenticated' })],
  ]) {
    const refused = await feed(resource, { token })
    assert.equal(refused.status, 400, `${what}: ${refused.body}`)
    assert.equal(JSON.parse(refused.body).code, '22023', what)
    assert.match(JSON.parse(refused.body).message, /unknown resource/, what)
  }
  const { error: unknown, status: unknownStatus } = await (await clientAs('anon')).rpc('resource_calendar_ics',
    { p_resource_id: crypto.randomUUID() }, { get: true })
  assert.equal(unknownStatus, 400)
  assert.equal(unknown.code, '22023')
  // A resource without a linked calendar has a feed too (the fixtures' printer, whatever it holds).
  const printer = await feed(PRINTER, { token: staffToken })
  assert.equal(printer.status, 200)
  assert.match(printer.body, /X-WR-CALNAME:3D Printer/)
})
