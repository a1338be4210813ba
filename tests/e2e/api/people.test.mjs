// People (seed 003) through PostgREST: profiles each person reads and writes for themselves, and
// the cards the members of an organization see of each other; professionals, whom staff link to
// a `person` resource that is their calendar, who manage the bookings of that resource and may
// stop taking new clients; students, registered by a guardian as prospects and moved along the
// admission lifecycle (guardian and staff steps, a log), and book() for a student with metadata.
// Each RPC with its success and its refusal; direct table writes meet the same rules. The
// fixtures hold no profile, professional or student: this file uses people of its own (u-people-*,
// made members of the lab here where they need to be), person resources it creates, and those
// resources' calendars on 2 to 6 June 2031 (New York time, UTC-4), away from what the other files
// make or count.
import { test, before } from 'node:test'
import assert from 'node:assert/strict'
import { clientAs, jwt, sql, CLINIC, LAB, SCANNER, STUDY_GROUP } from '../stack.mjs'

const PRO = 'u-people-pro' // a plain member of the lab, professional of the first calendar
const PRO2 = 'u-people-pro2' // a plain member of the lab, professional of the second
const CLIENT = 'u-people-client' // a client of the lab, who comes back to the first professional
const NEWCOMER = 'u-people-new' // signed in, member of nothing: the lab is public
const STRANGER = 'u-people-stranger' // signed in, member of nothing, shares no organization
const PARENT = 'u-people-parent' // a guardian, member of nothing
const PARENT2 = 'u-people-parent2' // another guardian, member of nothing
const as = async (sub) => clientAs(await jwt({ sub, role: 'authenticated' }))
const at = (day, hour) => `2031-06-0${day}T${hour}:00:00Z`
const count = (table, where) => sql(`SELECT count(*) FROM booking.${table} WHERE ${where}`)

// What the tests below share.
const state = {}

before(() => sql(`INSERT INTO booking.members (organization_id, user_id, role)
                  VALUES ('${LAB}', '${PRO}', 'member'), ('${LAB}', '${PRO2}', 'member'), ('${LAB}', '${CLIENT}', 'client')`))

// ---------------------------------------------------------------------------------------------
// Profiles
// ---------------------------------------------------------------------------------------------

test('profiles: a person upserts and reads their own profile (user_id is the JWT subject by default)', async () => {
  const pro = await as(PRO)
  const mine = { user_id: PRO, display_name: 'Dr. Pat', first_name: 'Pat', last_name: 'Lee', email: 'pat@example.org',
                 phone: '+1 305 555 0100', avatar_url: 'https://example.org/pat.png', metadata: { locale: 'en' } }
  const { data: made, error, status } = await pro.from('profiles').upsert(mine).select().single()
  assert.equal(error, null)
  assert.equal(status, 201)
  assert.equal(made.user_id, PRO)
  assert.deepEqual(made.metadata, { locale: 'en' })
  const { data: again, error: upserted } = await pro.from('profiles').upsert({ ...mine, display_name: 'Dr. Pat Lee' }).select().single()
  assert.equal(upserted, null)
  assert.equal(again.display_name, 'Dr. Pat Lee', 'the same row, updated')
  assert.equal(count('profiles', `user_id = '${PRO}'`), '1')

  // Without user_id: the column's default is the caller.
  for (const [sub, display_name] of [[PRO2, 'Sam Ortiz'], [CLIENT, 'Casey'], [STRANGER, 'Stranger Danger']]) {
    const { data, error: inserted } = await (await as(sub)).from('profiles')
      .insert({ display_name, email: `${sub}@example.org`, phone: '555', avatar_url: `https://example.org/${sub}.png` })
      .select('user_id').single()
    assert.equal(inserted, null, sub)
    assert.equal(data.user_id, sub)
  }
  const { data: read } = await pro.from('profiles').select('user_id, display_name, email')
  assert.deepEqual(read, [{ user_id: PRO, display_name: 'Dr. Pat Lee', email: 'pat@example.org' }], 'their own profile only')

  const { error: badEmail, status: badStatus } = await pro.from('profiles').update({ email: 'not an address' }).eq('user_id', PRO)
  assert.equal(badStatus, 400)
  assert.equal(badEmail.code, '23514')
})

test('profiles: nobody reads or writes another\'s (no row, or 403 42501); anonymous visitors 401', async () => {
  const pro = await as(PRO)
  const { data: theirs, error } = await pro.from('profiles').select('*').eq('user_id', CLIENT)
  assert.equal(error, null)
  assert.deepEqual(theirs, [], 'row-level security shows no other profile')
  const { data: updated } = await pro.from('profiles').update({ display_name: 'hijacked' }).eq('user_id', CLIENT).select()
  assert.deepEqual(updated, [], 'an update of another\'s profile touches no row')
  const { data: deleted } = await pro.from('profiles').delete().eq('user_id', CLIENT).select()
  assert.deepEqual(deleted, [])
  for (const [what, request] of [
    ['insert a profile for someone else', pro.from('profiles').insert({ user_id: 'u-people-nobody', display_name: 'forged' })],
    ['upsert over someone else\'s profile', pro.from('profiles').upsert({ user_id: CLIENT, display_name: 'forged' })],
    ['hand one\'s profile to someone else', pro.from('profiles').update({ user_id: 'u-people-nobody' }).eq('user_id', PRO)],
  ]) {
    const { error: denied, status } = await request
    assert.equal(status, 403, what)
    assert.equal(denied.code, '42501', what)
  }
  assert.equal(sql(`SELECT display_name FROM booking.profiles WHERE user_id = '${CLIENT}'`), 'Casey', 'nothing changed')
  assert.equal(count('profiles', `user_id IN ('u-people-nobody', '${CLIENT}') AND display_name = 'forged'`), '0')
  assert.equal(sql(`SELECT user_id FROM booking.profiles WHERE display_name = 'Dr. Pat Lee'`), PRO)

  const { error: nobody, status } = await (await clientAs('anon')).from('profiles').select('user_id')
  assert.equal(status, 401)
  assert.equal(nobody.code, '42501')
})

test('profile_cards: the display fields of the members of a shared organization, not of strangers; never email or phone', async () => {
  const ours = [PRO, PRO2, CLIENT, STRANGER, PARENT, PARENT2, NEWCOMER]
  const { data: cards, error, status } = await (await as(PRO)).from('profile_cards').select('*').in('user_id', ours).order('user_id')
  assert.equal(error, null)
  assert.equal(status, 200)
  assert.deepEqual(cards.map((c) => c.user_id), [CLIENT, PRO, PRO2].sort(), 'the lab\'s members, the stranger not')
  assert.deepEqual(Object.keys(cards[0]).sort(), ['avatar_url', 'display_name', 'user_id'])
  assert.deepEqual(cards.find((c) => c.user_id === PRO2), { user_id: PRO2, display_name: 'Sam Ortiz', avatar_url: `https://example.org/${PRO2}.png` })

  const { data: lonely } = await (await as(STRANGER)).from('profile_cards').select('user_id').in('user_id', ours)
  assert.deepEqual(lonely, [{ user_id: STRANGER }], 'a stranger sees their own card only')
  for (const column of ['email', 'phone', 'metadata']) {
    const { error: hidden, status: hiddenStatus } = await (await as(PRO)).from('profile_cards').select(`user_id, ${column}`)
    assert.equal(hiddenStatus, 400, column)
    assert.equal(hidden.code, '42703', `${column} is no column of the view`)
  }
  const { status: anonStatus } = await (await clientAs('anon')).from('profile_cards').select('user_id')
  assert.equal(anonStatus, 401)
})

// ---------------------------------------------------------------------------------------------
// Professionals
// ---------------------------------------------------------------------------------------------

test('professionals: staff link an active member to a person resource (session length written to the resource); other resources 400 23514; members 403', async () => {
  const staff = await clientAs('staff')
  for (const [name, title] of [['r1', 'Dr. Pat Lee'], ['r2', 'Sam Ortiz, OT']]) {
    const { data, error } = await staff.from('resources').insert({ organization_id: LAB, kind: 'person', title, capacity: 1 })
      .select('id, kind, auto_approve').single()
    assert.equal(error, null, name)
    assert.equal(data.auto_approve, false, 'requests wait for approval')
    state[name] = data.id
  }
  const row = { organization_id: LAB, user_id: PRO, resource_id: state.r1, title: 'Dr.', specialization: 'Speech therapy',
                license_number: 'SLP-1234', session_minutes: 45, buffer_minutes: 10, session_price_cents: 9000 }
  const { data: prof, error, status } = await staff.from('professionals').insert(row).select().single()
  assert.equal(error, null)
  assert.equal(status, 201)
  assert.equal(prof.user_id, PRO)
  assert.equal(prof.accepts_new_clients, true)
  assert.equal(prof.active, true)
  assert.equal(sql(`SELECT slot_interval_minutes || ' ' || buffer_after_minutes FROM booking.resources WHERE id = '${state.r1}'`), '55 10',
    'the resource\'s slot interval and buffer are the professional\'s')
  state.prof = prof

  const { error: notPerson, status: notPersonStatus } = await staff.from('professionals')
    .insert({ organization_id: LAB, user_id: PRO2, resource_id: SCANNER })
  assert.equal(notPersonStatus, 400)
  assert.equal(notPerson.code, '23514')
  assert.match(notPerson.message, /resource of kind person/)
  const { error: notMember, status: notMemberStatus } = await staff.from('professionals')
    .insert({ organization_id: LAB, user_id: STRANGER, resource_id: state.r2 })
  assert.equal(notMemberStatus, 400)
  assert.equal(notMember.code, '23514')
  assert.match(notMember.message, /active member/)
  const { error: self, status: selfStatus } = await (await as(PRO2)).from('professionals')
    .insert({ organization_id: LAB, user_id: PRO2, resource_id: state.r2 })
  assert.equal(selfStatus, 403, 'a member does not make themselves a professional')
  assert.equal(self.code, '42501')
  assert.equal(count('professionals', `organization_id = '${LAB}'`), '1', 'the refusals wrote nothing')

  const { data: prof2, error: linked } = await staff.from('professionals')
    .insert({ organization_id: LAB, user_id: PRO2, resource_id: state.r2, title: 'OT', specialization: 'Occupational therapy' })
    .select().single()
  assert.equal(linked, null)
  assert.equal(sql(`SELECT slot_interval_minutes || ' ' || buffer_after_minutes FROM booking.resources WHERE id = '${state.r2}'`), '75 15',
    'the defaults, written to the resource')
  state.prof2 = prof2
})

test('professionals: the professional edits their bio and accepts_new_clients, not session_minutes (403); staff change the session, which the resource follows', async () => {
  const pro = await as(PRO)
  const { data: edited, error } = await pro.from('professionals').update({ bio: 'Twenty years with children.', accepts_new_clients: true })
    .eq('id', state.prof.id).select('bio, accepts_new_clients')
  assert.equal(error, null)
  assert.deepEqual(edited, [{ bio: 'Twenty years with children.', accepts_new_clients: true }])

  for (const change of [{ session_minutes: 30 }, { license_number: 'FORGED' }, { session_price_cents: 1 }]) {
    const { error: denied, status } = await pro.from('professionals').update(change).eq('id', state.prof.id)
    assert.equal(status, 403, JSON.stringify(change))
    assert.equal(denied.code, '42501')
  }
  const { data: notTheirs } = await (await as(PRO2)).from('professionals').update({ bio: 'hijacked' }).eq('id', state.prof.id).select()
  assert.deepEqual(notTheirs, [], 'another professional updates no row of theirs')
  assert.equal(sql(`SELECT session_minutes || ' ' || bio || ' ' || license_number FROM booking.professionals WHERE id = '${state.prof.id}'`),
    '45 Twenty years with children. SLP-1234')

  const staff = await clientAs('staff')
  const { data: longer, error: changed } = await staff.from('professionals').update({ session_minutes: 50 }).eq('id', state.prof.id)
    .select('session_minutes')
  assert.equal(changed, null)
  assert.deepEqual(longer, [{ session_minutes: 50 }])
  const { data: [resource] } = await staff.from('resources').select('slot_interval_minutes, buffer_after_minutes').eq('id', state.r1)
  assert.deepEqual(resource, { slot_interval_minutes: 60, buffer_after_minutes: 10 })
  const { error: direct, status } = await staff.from('resources').update({ slot_interval_minutes: 20 }).eq('id', state.r1)
  assert.equal(status, 400, 'the resource\'s interval is the professional\'s')
  assert.equal(direct.code, '23514')
  assert.equal(sql(`SELECT slot_interval_minutes FROM booking.resources WHERE id = '${state.r1}'`), '60')
})

test('professionals: anonymous visitors read a public organization\'s professionals by the booking-page columns only; not a private one\'s', async () => {
  // A professional of the private clinic, made by its admin.
  const outsider = await clientAs('outsider')
  const { data: room, error: made } = await outsider.from('resources').insert({ organization_id: CLINIC, kind: 'person', title: 'Dr. Harbor' })
    .select('id').single()
  assert.equal(made, null)
  const { error: linked } = await outsider.from('professionals').insert({ organization_id: CLINIC, user_id: 'u-outsider', resource_id: room.id })
  assert.equal(linked, null)

  const anon = await clientAs('anon')
  const columns = 'id, organization_id, resource_id, title, specialization, bio, active, accepts_new_clients, session_minutes, buffer_minutes, session_price_cents, currency'
  const { data: listed, error, status } = await anon.from('professionals').select(columns).order('title')
  assert.equal(error, null)
  assert.equal(status, 200)
  assert.deepEqual(listed.map((p) => [p.id, p.organization_id]), [[state.prof.id, LAB], [state.prof2.id, LAB]],
    'the lab\'s, not the clinic\'s')
  assert.equal(listed[0].bio, 'Twenty years with children.')
  assert.equal(listed[0].session_price_cents, 9000)
  for (const column of ['user_id', 'license_number', '*']) {
    const { error: denied, status: deniedStatus } = await anon.from('professionals').select(column)
    assert.equal(deniedStatus, 401, column)
    assert.equal(denied.code, '42501', `${column}: who they are as users is not for anonymous visitors`)
  }
  const { data: signedIn } = await (await as(STRANGER)).from('professionals').select('id, user_id').eq('organization_id', CLINIC)
  assert.deepEqual(signedIn, [], 'nor for someone signed in who is not the clinic\'s')
})

// ---------------------------------------------------------------------------------------------
// A professional manages the bookings of their resource
// ---------------------------------------------------------------------------------------------

test('a client books the professional\'s calendar; the professional (a plain member) sees and approves it; another professional cannot', async () => {
  const pro = await as(PRO)
  assert.equal((await pro.rpc('is_staff', { p_organization_id: LAB }, { get: true })).data, false, 'not staff')
  const { data: booked, error, status } = await (await as(CLIENT)).rpc('book',
    { p_resource_id: state.r1, p_start: at(2, 14), p_end: at(2, 15), p_title: 'First session' })
  assert.equal(error, null)
  assert.equal(status, 200)
  assert.equal(booked.status, 'pending')
  assert.equal(booked.booked_by, CLIENT)
  assert.equal(booked.student_id, null)
  assert.deepEqual(booked.metadata, {})

  const { data: seen } = await pro.from('bookings').select('id, booked_by, status').eq('resource_id', state.r1)
  assert.deepEqual(seen, [{ id: booked.id, booked_by: CLIENT, status: 'pending' }])
  const { data: notMine } = await pro.from('bookings').select('id').eq('id', STUDY_GROUP)
  assert.deepEqual(notMine, [], 'not the lab\'s other bookings: they are no staff')

  const pro2 = await as(PRO2)
  const { data: hidden } = await pro2.from('bookings').select('id').eq('id', booked.id)
  assert.deepEqual(hidden, [], 'another professional does not see it')
  const { error: unseen, status: unseenStatus } = await pro2.rpc('set_booking_status', { p_booking_id: booked.id, p_status: 'approved' })
  assert.equal(unseenStatus, 400, 'nor learns it exists')
  assert.equal(unseen.code, '22023')
  const { data: patched } = await pro2.from('bookings').update({ status: 'rejected' }).eq('id', booked.id).select()
  assert.deepEqual(patched, [])
  const { error: self, status: selfStatus } = await (await as(CLIENT)).rpc('set_booking_status', { p_booking_id: booked.id, p_status: 'approved' })
  assert.equal(selfStatus, 403, 'the client does not approve their own request')
  assert.equal(self.code, '42501')
  assert.equal(sql(`SELECT status FROM booking.bookings WHERE id = '${booked.id}'`), 'pending', 'the refusals changed nothing')

  const { data: approved, error: approving, status: okStatus } = await pro.rpc('set_booking_status',
    { p_booking_id: booked.id, p_status: 'approved', p_reason: 'see you Monday' })
  assert.equal(approving, null)
  assert.equal(okStatus, 200)
  assert.equal(approved.status, 'approved')
  assert.equal(approved.approved_by, PRO)
  const { data: log } = await pro.from('booking_transitions').select('from_status, to_status, reason').eq('booking_id', booked.id)
    .eq('to_status', 'approved')
  assert.deepEqual(log, [{ from_status: 'pending', to_status: 'approved', reason: 'see you Monday' }], 'the professional reads its history')
  state.first = booked
})

test('accepts_new_clients false: a new client\'s book() is 409 new_client (a direct insert too); a returning client books', async () => {
  const { error: closed } = await (await as(PRO)).from('professionals').update({ accepts_new_clients: false }).eq('id', state.prof.id)
  assert.equal(closed, null)

  const newcomer = await as(NEWCOMER)
  const { data, error, status } = await newcomer.rpc('book', { p_resource_id: state.r1, p_start: at(3, 14), p_end: at(3, 15) })
  assert.equal(data, null)
  assert.equal(status, 409)
  assert.equal(error.code, 'PT409')
  assert.equal(error.details, 'new_client')
  assert.match(error.message, /not taking new clients/)
  const { error: direct, status: directStatus } = await newcomer.from('bookings')
    .insert({ organization_id: LAB, resource_id: state.r1, starts_at: at(3, 14), ends_at: at(3, 15), status: 'pending' })
  assert.equal(directStatus, 409)
  assert.equal(direct.details, 'new_client')
  assert.equal(count('bookings', `booked_by = '${NEWCOMER}'`), '0', 'nothing written')

  const { data: back, error: returning, status: okStatus } = await (await as(CLIENT)).rpc('book',
    { p_resource_id: state.r1, p_start: at(3, 14), p_end: at(3, 15), p_title: 'Follow-up' })
  assert.equal(returning, null, 'a client with an approved booking comes back')
  assert.equal(okStatus, 200)
  assert.equal(back.status, 'pending')
})

// ---------------------------------------------------------------------------------------------
// Students and their admission
// ---------------------------------------------------------------------------------------------

test('students: a guardian registers a child as a prospect in a public organization; not admitted (400 23514), not for someone else (403)', async () => {
  const parent = await as(PARENT)
  const child = { organization_id: LAB, first_name: 'Ada', last_name: 'Byron', date_of_birth: '2021-12-10', grade_level: 'K',
                  medical_notes: 'peanut allergy', emergency_contacts: [{ name: 'Anne', phone: '555-0101' }] }
  const { data: student, error, status } = await parent.from('students').insert(child).select().single()
  assert.equal(error, null)
  assert.equal(status, 201)
  assert.equal(student.primary_contact_id, PARENT, 'the guardian is the primary contact by default')
  assert.equal(student.admission_state, 'prospect')
  assert.equal(student.admission_date, null)
  state.student = student

  for (const [what, row, code, httpStatus] of [
    ['admitted at once', { ...child, first_name: 'Eager', admission_state: 'admitted' }, '23514', 400],
    ['an admission date', { ...child, first_name: 'Early', admission_date: '2031-01-01' }, null, 201],
    ['someone else as primary contact', { ...child, first_name: 'Other', primary_contact_id: CLIENT }, '42501', 403],
    ['a private organization', { ...child, first_name: 'Private', organization_id: CLINIC }, '42501', 403],
  ]) {
    const { data: made, error: refused, status: got } = await parent.from('students').insert(row).select().maybeSingle()
    assert.equal(got, httpStatus, what)
    if (code) assert.equal(refused.code, code, what)
    else {
      assert.equal(made.admission_date, null, `${what}: derived from the state, not taken from the guardian`)
      sql(`DELETE FROM booking.students WHERE id = '${made.id}'`)
    }
  }
  assert.equal(count('students', `primary_contact_id = '${PARENT}'`), '1', 'the refusals wrote nothing')

  // Another guardian's child, for the refusals below.
  const { data: other, error: otherError } = await (await as(PARENT2)).from('students')
    .insert({ organization_id: LAB, first_name: 'Bo', last_name: 'Tull' }).select().single()
  assert.equal(otherError, null)
  state.other = other

  const { data: seenByStaff } = await (await clientAs('staff')).from('students').select('id').eq('id', student.id)
  assert.equal(seenByStaff.length, 1, 'the organization\'s staff see the student')
  for (const sub of [STRANGER, PARENT2, PRO]) {
    const { data: hidden } = await (await as(sub)).from('students').select('id').eq('id', student.id)
    assert.deepEqual(hidden, [], `${sub} does not`)
  }
})

test('admission_transitions: anyone reads the lifecycle, with the steps a guardian may take', async () => {
  const { data: machine, error, status } = await (await clientAs('anon')).rpc('admission_transitions', {}, { get: true })
  assert.equal(error, null)
  assert.equal(status, 200)
  assert.equal(machine.length, Number(sql('SELECT count(*) FROM booking.admission_transitions()')))
  const step = (from, to) => machine.find((t) => t.from_state === from && t.to_state === to)
  assert.deepEqual(step('prospect', 'applied'), { from_state: 'prospect', to_state: 'applied', guardian_may: true })
  assert.equal(step('applied', 'under_review').guardian_may, false)
  assert.equal(step('under_review', 'admitted').guardian_may, false)
  assert.equal(step('prospect', 'admitted'), undefined, 'no jump to admitted')
  const { data: same } = await (await as(PARENT)).rpc('admission_transitions', {}, { get: true })
  assert.deepEqual(same, machine)
})

test('set_admission_state: the guardian applies; under_review is staff\'s (403); staff review and admit (admission_date set); an illegal jump 409', async () => {
  const parent = await as(PARENT)
  const p_student_id = state.student.id
  const { data: applied, error, status } = await parent.rpc('set_admission_state',
    { p_student_id, p_state: 'applied', p_reason: 'application form sent' })
  assert.equal(error, null)
  assert.equal(status, 200)
  assert.equal(applied.admission_state, 'applied')

  const { error: staffOnly, status: staffOnlyStatus } = await parent.rpc('set_admission_state', { p_student_id, p_state: 'under_review' })
  assert.equal(staffOnlyStatus, 403)
  assert.equal(staffOnly.code, '42501')
  const { error: stranger, status: strangerStatus } = await (await as(STRANGER)).rpc('set_admission_state', { p_student_id, p_state: 'withdrawn' })
  assert.equal(strangerStatus, 400, 'a student the caller may not see is unknown to them')
  assert.equal(stranger.code, '22023')
  const { error: unknown, status: unknownStatus } = await parent.rpc('set_admission_state', { p_student_id, p_state: 'graduated' })
  assert.equal(unknownStatus, 400)
  assert.equal(unknown.code, '22023')
  assert.equal(sql(`SELECT admission_state FROM booking.students WHERE id = '${p_student_id}'`), 'applied', 'the refusals changed nothing')

  const staff = await clientAs('staff')
  const { data: review, error: reviewing } = await staff.rpc('set_admission_state', { p_student_id, p_state: 'under_review', p_reason: 'interview booked' })
  assert.equal(reviewing, null)
  assert.equal(review.admission_state, 'under_review')
  assert.equal(review.admission_date, null)
  const { data: admitted, error: admitting, status: admittedStatus } = await staff.rpc('set_admission_state',
    { p_student_id, p_state: 'admitted', p_reason: 'welcome' })
  assert.equal(admitting, null)
  assert.equal(admittedStatus, 200)
  assert.equal(admitted.admission_state, 'admitted')
  assert.equal(admitted.admission_date, sql(`SELECT (now() AT TIME ZONE 'America/New_York')::date`), 'the lab\'s local date of the change')

  // A prospect cannot jump to admitted, not even by staff: 409 through the RPC, 400 23514 by PATCH.
  const { error: jump, status: jumpStatus } = await staff.rpc('set_admission_state', { p_student_id: state.other.id, p_state: 'admitted' })
  assert.equal(jumpStatus, 409)
  assert.equal(jump.code, 'PT409')
  assert.equal(jump.details, 'admission_transition')
  assert.match(jump.message, /cannot go from prospect to admitted/)
  const { error: patch, status: patchStatus } = await staff.from('students').update({ admission_state: 'admitted' }).eq('id', state.other.id)
  assert.equal(patchStatus, 400)
  assert.equal(patch.code, '23514')
  assert.match(patch.hint, /applied, withdrawn/)
  const { error: dates, status: datesStatus } = await parent.from('students').update({ admission_date: '2020-01-01' }).eq('id', p_student_id)
  assert.equal(datesStatus, 400, 'the dates follow the state')
  assert.equal(dates.code, '23514')
  assert.equal(sql(`SELECT admission_state FROM booking.students WHERE id = '${state.other.id}'`), 'prospect')
})

test('student_admission_transitions: the guardian reads their child\'s log; a stranger, another guardian and a plain member do not; nobody writes it', async () => {
  const { data: log, error } = await (await as(PARENT)).from('student_admission_transitions')
    .select('from_state, to_state, changed_by, reason').eq('student_id', state.student.id).order('created_at')
  assert.equal(error, null)
  assert.deepEqual(log, [
    { from_state: null, to_state: 'prospect', changed_by: PARENT, reason: null },
    { from_state: 'prospect', to_state: 'applied', changed_by: PARENT, reason: 'application form sent' },
    { from_state: 'applied', to_state: 'under_review', changed_by: 'u-staff', reason: 'interview booked' },
    { from_state: 'under_review', to_state: 'admitted', changed_by: 'u-staff', reason: 'welcome' },
  ])
  const { data: forStaff } = await (await clientAs('staff')).from('student_admission_transitions').select('id').eq('student_id', state.student.id)
  assert.equal(forStaff.length, 4)
  for (const sub of [STRANGER, PARENT2, PRO]) {
    const { data: hidden, error: hiddenError } = await (await as(sub)).from('student_admission_transitions').select('id').eq('student_id', state.student.id)
    assert.equal(hiddenError, null)
    assert.deepEqual(hidden, [], sub)
  }
  for (const persona of ['staff', 'service_role']) {
    const api = await clientAs(persona)
    const { error: insert, status } = await api.from('student_admission_transitions')
      .insert({ organization_id: LAB, student_id: state.student.id, to_state: 'discharged', changed_by: 'u-staff' })
    assert.equal(status, 403, persona)
    assert.equal(insert.code, '42501')
  }
  assert.equal(count('student_admission_transitions', `student_id = '${state.student.id}'`), '4')
})

// ---------------------------------------------------------------------------------------------
// book() for a student, with metadata
// ---------------------------------------------------------------------------------------------

test('book with p_student_id and p_metadata: for one\'s own student; someone else\'s 403; metadata not an object or over 16 kB 400', async () => {
  const parent = await as(PARENT)
  const p_metadata = { channel: 'web', answers: { first_visit: true, referral: 'school' } }
  const { data: made, error, status } = await parent.rpc('book', { p_resource_id: state.r2, p_start: at(4, 14), p_end: at(4, 15),
    p_student_id: state.student.id, p_metadata })
  assert.equal(error, null)
  assert.equal(status, 200)
  assert.equal(made.student_id, state.student.id)
  assert.deepEqual(made.metadata, p_metadata)
  assert.equal(made.booked_by, PARENT)
  assert.equal(sql(`SELECT student_id || ' ' || (metadata ->> 'channel') FROM booking.bookings WHERE id = '${made.id}'`),
    `${state.student.id} web`)
  state.forStudent = made

  const before = count('bookings', `resource_id = '${state.r2}'`)
  const args = { p_resource_id: state.r2, p_start: at(5, 16), p_end: at(5, 17) }
  const { error: theirs, status: theirsStatus } = await parent.rpc('book', { ...args, p_student_id: state.other.id })
  assert.equal(theirsStatus, 403, 'another guardian\'s child')
  assert.equal(theirs.code, '42501')
  const { error: stranger, status: strangerStatus } = await (await as(STRANGER)).rpc('book', { ...args, p_student_id: state.student.id })
  assert.equal(strangerStatus, 403)
  assert.equal(stranger.code, '42501')
  for (const [what, bad] of [['an array', [1, 2]], ['a string', 'note'], ['over 16 kB', { blob: 'x'.repeat(17000) }]]) {
    const { error: refused, status: refusedStatus } = await parent.rpc('book', { ...args, p_student_id: state.student.id, p_metadata: bad })
    assert.equal(refusedStatus, 400, what)
    assert.equal(refused.code, '22023', what)
    assert.match(refused.message, /p_metadata/, what)
  }
  assert.equal(count('bookings', `resource_id = '${state.r2}'`), before, 'the refusals wrote nothing')
})

test('a returning student: once their booking was approved, a professional who takes no new clients is booked for them by their other guardian', async () => {
  const pro2 = await as(PRO2)
  const { error: approving } = await pro2.rpc('set_booking_status', { p_booking_id: state.forStudent.id, p_status: 'approved' })
  assert.equal(approving, null)
  const { error: closing } = await pro2.from('professionals').update({ accepts_new_clients: false }).eq('id', state.prof2.id)
  assert.equal(closing, null)
  const { error: second } = await (await clientAs('staff')).from('students').update({ secondary_contact_id: PARENT2 }).eq('id', state.student.id)
  assert.equal(second, null)

  const parent2 = await as(PARENT2)
  const slot = { p_resource_id: state.r2, p_start: at(5, 14), p_end: at(5, 15) }
  const { error: forOwnChild, status } = await parent2.rpc('book', { ...slot, p_student_id: state.other.id })
  assert.equal(status, 409, 'their other child is new to the professional')
  assert.equal(forOwnChild.details, 'new_client')
  const { data: made, error } = await parent2.rpc('book', { ...slot, p_student_id: state.student.id })
  assert.equal(error, null, 'the student had an approved booking with them')
  assert.equal(made.student_id, state.student.id)
  assert.equal(made.booked_by, PARENT2)
})
