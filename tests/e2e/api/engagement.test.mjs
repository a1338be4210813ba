// Engagement (seed 004) through PostgREST: messaging (start_thread between people who share an
// organization or a client and the staff of an organization they booked with, one thread per pair
// from either side; send_message with the other participant's unread count, notification and
// outbox event; mark_thread_read; delete_thread for oneself only, until a newer message;
// get_threads_page; a sender edits a message's body by PATCH; nobody inserts threads or messages
// directly), favourites, reviews of completed bookings by their bookers (once; moderation by
// staff; the organization's figures over published reviews), the seed's views read by each
// persona, and booking_services.staff_id. Each RPC with its success and its refusal. The fixtures
// hold none of this: this file uses people of its own (u-eng-*, made members of the lab here
// where they need to be), bookings of its own on 6 to 8 October 2031 (New York time, UTC-4), and
// a person resource of its own with its professional and a closed morning on 9 October, which it
// removes when it is done (the people file counts the lab's professionals).
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { clientAs, jwt, sql, CLINIC, CLINIC_ROOM, LAB, PRINTER, PRINT_JOB, VR } from '../stack.mjs'

const CLIENT = 'u-eng-client' // a client of the lab: Cleo
const CLIENT2 = 'u-eng-client2' // another client of the lab: Cid
const STAFF = 'u-eng-staff' // staff of the lab: Stan
const PRO = 'u-eng-pro' // a plain member of the lab, professional of the person resource DR
const BOOKER = 'u-eng-booker' // member of nothing: books the lab's printer here
const STRANGER = 'u-eng-stranger' // member of nothing, never booked
const as = async (sub) => clientAs(await jwt({ sub, role: 'authenticated' }))
const at = (day, hour) => `2031-10-0${day}T${hour}:00:00Z`
const id = (n) => `00000000-0000-4000-a000-00000000ee${n}`
const count = (table, where) => sql(`SELECT count(*) FROM booking.${table} WHERE ${where}`)
const row = (query) => JSON.parse(sql(`SELECT row_to_json(q) FROM (${query}) q`) || 'null')

// Bookings made by the superuser: completed ones to review, an open one, and one in the clinic.
const DONE1 = id('01') // CLIENT's, completed
const DONE2 = id('02') // CLIENT2's, completed
const DONE3 = id('03') // CLIENT2's, completed
const OPEN = id('04') // CLIENT's, pending
const CLINIC_DONE = id('05') // u-outsider's in the private clinic, completed
const DR = id('11') // a person resource of the lab, PRO's calendar

// What the tests below share.
const state = {}

before(() => {
  sql(`INSERT INTO booking.members (organization_id, user_id, role) VALUES
         ('${LAB}', '${CLIENT}', 'client'), ('${LAB}', '${CLIENT2}', 'client'), ('${LAB}', '${STAFF}', 'staff'),
         ('${LAB}', '${PRO}', 'member')`)
  sql(`INSERT INTO booking.profiles (user_id, display_name, first_name, last_name, avatar_url) VALUES
         ('${CLIENT}', 'Cleo', 'Cleo', 'Eng', 'https://example.org/cleo.png'), ('${CLIENT2}', 'Cid', NULL, NULL, NULL),
         ('${STAFF}', 'Stan', NULL, NULL, 'https://example.org/stan.png'), ('${PRO}', 'Dana Pro', NULL, NULL, NULL),
         ('${BOOKER}', 'Bea Booker', NULL, NULL, NULL), ('${STRANGER}', 'Sly', NULL, NULL, NULL)`)
  sql(`INSERT INTO booking.bookings (id, organization_id, resource_id, booked_by, title, starts_at, ends_at, status) VALUES
         ('${DONE1}', '${LAB}', '${PRINTER}', '${CLIENT}', 'Print 1', '${at(6, 14)}', '${at(6, 15)}', 'completed'),
         ('${DONE2}', '${LAB}', '${PRINTER}', '${CLIENT2}', 'Print 2', '${at(6, 15)}', '${at(6, 16)}', 'completed'),
         ('${DONE3}', '${LAB}', '${PRINTER}', '${CLIENT2}', 'Print 3', '${at(6, 16)}', '${at(6, 17)}', 'completed'),
         ('${OPEN}', '${LAB}', '${PRINTER}', '${CLIENT}', 'Print 4', '${at(7, 14)}', '${at(7, 15)}', 'pending'),
         ('${CLINIC_DONE}', '${CLINIC}', '${CLINIC_ROOM}', 'u-outsider', 'Check-up', '${at(6, 9)}', '${at(6, 10)}', 'completed')`)
  sql(`INSERT INTO booking.resources (id, organization_id, kind, title) VALUES ('${DR}', '${LAB}', 'person', 'Dr. Eng')`)
  sql(`INSERT INTO booking.professionals (organization_id, user_id, resource_id) VALUES ('${LAB}', '${PRO}', '${DR}')`)
  sql(`INSERT INTO booking.availability_exceptions (organization_id, resource_id, during, kind, reason) VALUES
         ('${LAB}', '${DR}', '[2031-10-09 09:00 America/New_York, 2031-10-09 12:00 America/New_York)', 'closed', 'Eng conference')`)
})

// The person resource and its professional are this file's only: the other files count the
// lab's professionals and list them to anonymous visitors.
after(() => sql(`DELETE FROM booking.resources WHERE id = '${DR}'`))

// ---------------------------------------------------------------------------------------------
// Messaging
// ---------------------------------------------------------------------------------------------

test('start_thread: members of a shared organization talk; the pair has one thread, whoever starts it again; oneself, a long subject or body 400 22023; anonymous 401', async () => {
  const client = await as(CLIENT)
  const { data: thread, error, status } = await client.rpc('start_thread',
    { p_recipient_id: STAFF, p_subject: 'About my print', p_body: 'Hello, is the printer free on Monday?' })
  assert.equal(error, null)
  assert.equal(status, 200)
  assert.deepEqual([thread.created_by_id, thread.recipient_id, thread.organization_id, thread.subject, thread.booking_id],
    [CLIENT, STAFF, LAB, 'About my print', null], 'a thread in the organization they share')
  assert.deepEqual([thread.creator_unread_count, thread.recipient_unread_count], [0, 1], 'one unread, for the recipient')
  assert.ok(thread.last_message_at)
  state.thread = thread

  const { data: again, error: restarted } = await (await as(STAFF)).rpc('start_thread', { p_recipient_id: CLIENT, p_subject: 'Re: print' })
  assert.equal(restarted, null)
  assert.equal(again.id, thread.id, 'the other side starting gets the pair\'s thread')
  assert.equal(again.subject, 'About my print', 'as it was')
  assert.equal(again.created_by_id, CLIENT)
  const { data: third } = await client.rpc('start_thread', { p_recipient_id: STAFF })
  assert.equal(third.id, thread.id, 'and so does the first side')
  assert.equal(third.recipient_unread_count, 1, 'without a body, no message')

  for (const [what, args] of [
    ['oneself', { p_recipient_id: CLIENT, p_body: 'note to self' }],
    ['nobody', { p_recipient_id: '', p_body: 'hi' }],
    ['a subject over 500 characters', { p_recipient_id: STAFF, p_subject: 's'.repeat(501) }],
    ['a body over 4000 characters', { p_recipient_id: STAFF, p_body: 'b'.repeat(4001) }],
    ['a blank body', { p_recipient_id: STAFF, p_body: '   ' }],
  ]) {
    const { data, error: refused, status: refusedStatus } = await client.rpc('start_thread', args)
    assert.equal(data, null, what)
    assert.equal(refusedStatus, 400, what)
    assert.equal(refused.code, '22023', what)
  }
  const { error: nobody, status: anonStatus } = await (await clientAs('anon')).rpc('start_thread', { p_recipient_id: STAFF, p_body: 'hi' })
  assert.equal(anonStatus, 401)
  assert.equal(nobody.code, '42501')
  assert.equal(count('message_threads', `'${CLIENT}' IN (created_by_id, recipient_id)`), '1', 'one thread for the pair')
  assert.equal(count('messages', `thread_id = '${thread.id}'`), '1', 'the refusals wrote nothing')
})

test('start_thread: a stranger 409 not_connected; a client who is no member talks to the staff of the organization they booked with, not to its other people; about a booking, only its parties', async () => {
  const stranger = await as(STRANGER)
  const { data, error, status } = await stranger.rpc('start_thread', { p_recipient_id: STAFF, p_body: 'hi' })
  assert.equal(data, null)
  assert.equal(status, 409)
  assert.equal(error.code, 'PT409')
  assert.equal(error.details, 'not_connected')
  assert.match(error.message, /message people of your organizations/)
  const { error: toStranger, status: toStrangerStatus } = await (await as(CLIENT)).rpc('start_thread', { p_recipient_id: STRANGER })
  assert.equal(toStrangerStatus, 409, 'nor is a stranger messaged')
  assert.equal(toStranger.details, 'not_connected')

  const booker = await as(BOOKER)
  const { error: before, status: beforeStatus } = await booker.rpc('start_thread', { p_recipient_id: STAFF, p_body: 'hi' })
  assert.equal(beforeStatus, 409, 'before booking with the lab, its staff are strangers')
  assert.equal(before.details, 'not_connected')
  const { data: booked, error: booking } = await booker.rpc('book',
    { p_resource_id: PRINTER, p_start: at(8, 14), p_end: at(8, 15), p_title: 'Booker\'s print' })
  assert.equal(booking, null)
  state.booked = booked

  const { data: thread, error: started, status: okStatus } = await booker.rpc('start_thread',
    { p_recipient_id: STAFF, p_subject: 'My print', p_body: 'Is my print request all right?' })
  assert.equal(started, null, 'after booking, they are not')
  assert.equal(okStatus, 200)
  assert.deepEqual([thread.organization_id, thread.created_by_id, thread.recipient_id, thread.recipient_unread_count],
    [LAB, BOOKER, STAFF, 1])
  state.bookerThread = thread
  for (const [who, other] of [['another client', CLIENT], ['a plain member (a professional, not staff)', PRO]]) {
    const { error: refused, status: refusedStatus } = await booker.rpc('start_thread', { p_recipient_id: other, p_body: 'hi' })
    assert.equal(refusedStatus, 409, who)
    assert.equal(refused.details, 'not_connected', who)
  }
  const { error: notParty, status: notPartyStatus } = await booker.rpc('start_thread',
    { p_recipient_id: CLIENT, p_booking_id: booked.id })
  assert.equal(notPartyStatus, 409, 'not even about the booker\'s booking, to which the client is no party')
  assert.equal(notParty.details, 'not_connected')
  const { error: unknown, status: unknownStatus } = await (await as(CLIENT)).rpc('start_thread',
    { p_recipient_id: BOOKER, p_booking_id: booked.id })
  assert.equal(unknownStatus, 400, 'someone else\'s booking is unknown to the client')
  assert.equal(unknown.code, '22023')

  const { data: about, error: aboutError } = await (await clientAs('admin')).rpc('start_thread',
    { p_recipient_id: BOOKER, p_subject: 'Your print', p_booking_id: booked.id })
  assert.equal(aboutError, null, 'the organization\'s admin writes to the booker about their booking')
  assert.deepEqual([about.booking_id, about.organization_id, about.last_message_at], [booked.id, LAB, null])
  state.adminThread = about
  assert.equal(count('message_threads', `'${STRANGER}' IN (created_by_id, recipient_id)`), '0')
  assert.equal(count('message_threads', `'${BOOKER}' IN (created_by_id, recipient_id)`), '2')
})

test('send_message: a participant writes; the other\'s unread count, notification and outbox event follow; a non-participant 400 22023; an empty or 4001-character body 400', async () => {
  const staff = await as(STAFF)
  const { data: message, error, status } = await staff.rpc('send_message', { p_thread_id: state.thread.id, p_body: 'Yes, from 10:00.' })
  assert.equal(error, null)
  assert.equal(status, 200)
  assert.deepEqual([message.thread_id, message.organization_id, message.sender_id, message.body, message.edited_at],
    [state.thread.id, LAB, STAFF, 'Yes, from 10:00.', null])
  state.reply = message
  assert.deepEqual(row(`SELECT creator_unread_count, recipient_unread_count, last_message_at = '${message.created_at}' AS last
                        FROM booking.message_threads WHERE id = '${state.thread.id}'`),
    { creator_unread_count: 1, recipient_unread_count: 1, last: true }, 'one unread each way')

  // The recipient's notification, read through the API.
  const { data: told, error: toldError } = await (await as(CLIENT)).from('notifications')
    .select('organization_id, recipient_id, notification_type, message, metadata, read_at').eq('notification_type', 'message')
  assert.equal(toldError, null)
  assert.deepEqual(told, [{ organization_id: LAB, recipient_id: CLIENT, notification_type: 'message',
    message: 'New message from Stan: Yes, from 10:00.', read_at: null,
    metadata: { thread_id: state.thread.id, message_id: message.id, sender_id: STAFF } }])
  assert.equal(count('notifications', `recipient_id = '${STAFF}' AND notification_type = 'message' AND read_at IS NULL
                                      AND metadata ->> 'thread_id' = '${state.thread.id}'
                                      AND message = 'New message from Cleo: Hello, is the printer free on Monday?'`), '1',
    'the staff member was told of the first message')
  assert.equal(count('outbox', `topic = 'message.sent' AND payload ->> 'thread_id' = '${state.thread.id}'`), '2', 'an event per message')
  assert.deepEqual(row(`SELECT payload FROM booking.outbox WHERE topic = 'message.sent' AND payload ->> 'message_id' = '${message.id}'`).payload,
    { thread_id: state.thread.id, message_id: message.id, sender_id: STAFF, recipient_id: CLIENT })

  // A body of exactly 4000 characters; the notification quotes 79 of them.
  const { data: long, error: longError } = await (await as(BOOKER)).rpc('send_message',
    { p_thread_id: state.bookerThread.id, p_body: 'b'.repeat(4000) })
  assert.equal(longError, null)
  assert.equal(long.body.length, 4000)
  assert.equal(sql(`SELECT message FROM booking.notifications WHERE metadata ->> 'message_id' = '${long.id}'`),
    `New message from Bea Booker: ${'b'.repeat(79)}…`)

  const before = count('messages', `organization_id = '${LAB}'`)
  for (const [who, persona, args] of [
    ['someone not in the thread', BOOKER, { p_thread_id: state.thread.id, p_body: 'me too' }],
    ['a stranger', STRANGER, { p_thread_id: state.thread.id, p_body: 'me too' }],
    ['an unknown thread', STAFF, { p_thread_id: crypto.randomUUID(), p_body: 'hello?' }],
    ['an empty body', STAFF, { p_thread_id: state.thread.id, p_body: '' }],
    ['a blank body', STAFF, { p_thread_id: state.thread.id, p_body: '    ' }],
    ['a body of 4001 characters', STAFF, { p_thread_id: state.thread.id, p_body: 'x'.repeat(4001) }],
  ]) {
    const { data, error: refused, status: refusedStatus } = await (await as(persona)).rpc('send_message', args)
    assert.equal(data, null, who)
    assert.equal(refusedStatus, 400, who)
    assert.equal(refused.code, '22023', who)
  }
  const { error: nobody, status: anonStatus } = await (await clientAs('anon')).rpc('send_message',
    { p_thread_id: state.thread.id, p_body: 'hi' })
  assert.equal(anonStatus, 401)
  assert.equal(nobody.code, '42501')
  assert.equal(count('messages', `organization_id = '${LAB}'`), before, 'the refusals wrote nothing')
  assert.equal(sql(`SELECT creator_unread_count || ' ' || recipient_unread_count FROM booking.message_threads WHERE id = '${state.thread.id}'`),
    '1 1')
})

test('get_threads_page: the latest conversation first, with the other participant (their name where the caller sees their card), the caller\'s unread count and the last message; limits 400 22023', async () => {
  const staff = await as(STAFF)
  const { data: page, error, status } = await staff.rpc('get_threads_page', {}, { get: true })
  assert.equal(error, null)
  assert.equal(status, 200)
  const pick = (t) => [t.thread_id, t.organization_id, t.other_user_id, t.other_display_name, t.subject, t.unread_count, t.last_sender_id]
  assert.deepEqual(page.map(pick), [
    [state.bookerThread.id, LAB, BOOKER, null, 'My print', 2, BOOKER],
    [state.thread.id, LAB, CLIENT, 'Cleo', 'About my print', 1, STAFF],
  ], 'the booker wrote last; the booker is no member, so staff see no card of theirs')
  assert.equal(page[0].last_message, 'b'.repeat(4000))
  assert.equal(page[1].last_message, 'Yes, from 10:00.')

  const { data: clientPage } = await (await as(CLIENT)).rpc('get_threads_page', { p_limit: 10 }, { get: true })
  assert.deepEqual(clientPage.map(pick), [[state.thread.id, LAB, STAFF, 'Stan', 'About my print', 1, STAFF]])
  const { data: bookerPage } = await (await as(BOOKER)).rpc('get_threads_page', {}, { get: true })
  assert.deepEqual(bookerPage.map(pick), [
    [state.bookerThread.id, LAB, STAFF, null, 'My print', 0, BOOKER],
    [state.adminThread.id, LAB, 'u-admin', null, 'Your print', 0, null],
  ], 'a thread without messages comes last')
  assert.equal(bookerPage[1].booking_id, state.booked.id)
  assert.equal(bookerPage[1].last_message_at, null)
  const { data: nothing } = await (await as(STRANGER)).rpc('get_threads_page', {}, { get: true })
  assert.deepEqual(nothing, [])

  const { data: first } = await staff.rpc('get_threads_page', { p_limit: 1 }, { get: true })
  assert.deepEqual(first.map((t) => t.thread_id), [state.bookerThread.id])
  const { data: second } = await staff.rpc('get_threads_page', { p_limit: 1, p_offset: 1 }, { get: true })
  assert.deepEqual(second.map((t) => t.thread_id), [state.thread.id])
  const { data: past } = await staff.rpc('get_threads_page', { p_limit: 100, p_offset: 100000 }, { get: true })
  assert.deepEqual(past, [], 'the largest page and offset allowed')

  for (const args of [{ p_limit: 0 }, { p_limit: 101 }, { p_offset: -1 }, { p_offset: 100001 }]) {
    const { data, error: refused, status: refusedStatus } = await staff.rpc('get_threads_page', args, { get: true })
    assert.equal(data, null, JSON.stringify(args))
    assert.equal(refusedStatus, 400, JSON.stringify(args))
    assert.equal(refused.code, '22023', JSON.stringify(args))
  }
  const { error: nobody, status: anonStatus } = await (await clientAs('anon')).rpc('get_threads_page', {}, { get: true })
  assert.equal(anonStatus, 401)
  assert.equal(nobody.code, '42501')
})

test('mark_thread_read: the caller\'s unread count drops to 0 and their message notifications of the thread are read; the other\'s stay; others 400 22023', async () => {
  const staff = await as(STAFF)
  const { data: read, error, status } = await staff.rpc('mark_thread_read', { p_thread_id: state.thread.id })
  assert.equal(error, null)
  assert.equal(status, 200)
  assert.equal(read.id, state.thread.id)
  assert.equal(read.recipient_unread_count, 0, 'the staff member (the recipient) read it')
  assert.ok(read.recipient_last_read_at)
  assert.equal(read.creator_unread_count, 1, 'the client has not')
  assert.equal(read.creator_last_read_at, null)
  assert.equal(count('notifications', `recipient_id = '${STAFF}' AND notification_type = 'message' AND read_at IS NULL
                                      AND metadata ->> 'thread_id' = '${state.thread.id}'`), '0', 'its notification is read')
  assert.equal(count('notifications', `recipient_id = '${STAFF}' AND notification_type = 'message' AND read_at IS NULL
                                      AND metadata ->> 'thread_id' = '${state.bookerThread.id}'`), '2', 'those of another thread are not')
  assert.equal(count('notifications', `recipient_id = '${CLIENT}' AND notification_type = 'message' AND read_at IS NULL`), '1',
    'nor the client\'s')
  const { data: page } = await staff.rpc('get_threads_page', {}, { get: true })
  assert.deepEqual(page.map((t) => t.unread_count), [2, 0])

  for (const [who, persona, threadId] of [['someone not in the thread', BOOKER, state.thread.id], ['a stranger', STRANGER, state.thread.id],
                                          ['an unknown thread', STAFF, crypto.randomUUID()]]) {
    const { error: refused, status: refusedStatus } = await (await as(persona)).rpc('mark_thread_read', { p_thread_id: threadId })
    assert.equal(refusedStatus, 400, who)
    assert.equal(refused.code, '22023', who)
  }
  const { error: nobody, status: anonStatus } = await (await clientAs('anon')).rpc('mark_thread_read', { p_thread_id: state.thread.id })
  assert.equal(anonStatus, 401)
  assert.equal(nobody.code, '42501')
  assert.equal(sql(`SELECT creator_unread_count || ' ' || recipient_unread_count FROM booking.message_threads WHERE id = '${state.thread.id}'`),
    '1 0', 'the refusals changed nothing')
})

test('delete_thread: the thread and its messages so far leave the deleter\'s view only; a newer message brings it back without the older ones; others 400 22023', async () => {
  const client = await as(CLIENT)
  const { data, error, status } = await client.rpc('delete_thread', { p_thread_id: state.thread.id })
  assert.equal(error, null)
  assert.equal(status, 204)
  assert.equal(data, null)
  assert.deepEqual((await client.rpc('get_threads_page', {}, { get: true })).data, [], 'gone from the client\'s page')
  assert.deepEqual((await client.from('message_threads').select('id')).data, [], 'and from the table')
  assert.deepEqual((await client.from('messages').select('id').eq('thread_id', state.thread.id)).data, [], 'with its messages')
  assert.deepEqual(row(`SELECT creator_deleted_at IS NOT NULL AS deleted, creator_unread_count, recipient_deleted_at
                        FROM booking.message_threads WHERE id = '${state.thread.id}'`),
    { deleted: true, creator_unread_count: 0, recipient_deleted_at: null })

  const staff = await as(STAFF)
  const { data: kept } = await staff.from('messages').select('body').eq('thread_id', state.thread.id).order('created_at')
  assert.deepEqual(kept.map((m) => m.body), ['Hello, is the printer free on Monday?', 'Yes, from 10:00.'], 'the staff member keeps theirs')
  assert.ok((await staff.rpc('get_threads_page', {}, { get: true })).data.some((t) => t.thread_id === state.thread.id))

  for (const [who, persona, threadId] of [['someone not in the thread', BOOKER, state.thread.id], ['a stranger', STRANGER, state.thread.id],
                                          ['an unknown thread', CLIENT, crypto.randomUUID()]]) {
    const { error: refused, status: refusedStatus } = await (await as(persona)).rpc('delete_thread', { p_thread_id: threadId })
    assert.equal(refusedStatus, 400, who)
    assert.equal(refused.code, '22023', who)
  }
  const { error: nobody, status: anonStatus } = await (await clientAs('anon')).rpc('delete_thread', { p_thread_id: state.thread.id })
  assert.equal(anonStatus, 401)
  assert.equal(nobody.code, '42501')
  assert.equal(sql(`SELECT recipient_deleted_at IS NULL FROM booking.message_threads WHERE id = '${state.thread.id}'`), 't',
    'the refusals deleted nothing for the staff member')

  const { error: sent } = await staff.rpc('send_message', { p_thread_id: state.thread.id, p_body: 'See you Monday.' })
  assert.equal(sent, null)
  const { data: back } = await client.rpc('get_threads_page', {}, { get: true })
  assert.deepEqual(back.map((t) => [t.thread_id, t.unread_count, t.last_message]), [[state.thread.id, 1, 'See you Monday.']],
    'a newer message brings the thread back, one unread')
  const { data: since } = await client.from('messages').select('body').eq('thread_id', state.thread.id)
  assert.deepEqual(since, [{ body: 'See you Monday.' }], 'without the messages from before the deletion')
  const { data: same } = await client.rpc('start_thread', { p_recipient_id: STAFF })
  assert.equal(same.id, state.thread.id, 'still the pair\'s one thread')
})

test('messages: the sender edits the body by PATCH (edited_at follows); other columns 403; someone else\'s message no row; threads and messages are never inserted directly (403), not even by service_role', async () => {
  const staff = await as(STAFF)
  const { data: edited, error, status } = await staff.from('messages').update({ body: 'Yes, from 10:30.' }).eq('id', state.reply.id)
    .select('id, body, sender_id, created_at, edited_at')
  assert.equal(error, null)
  assert.equal(status, 200)
  assert.equal(edited.length, 1)
  assert.deepEqual([edited[0].body, edited[0].sender_id, edited[0].created_at], ['Yes, from 10:30.', STAFF, state.reply.created_at])
  assert.ok(edited[0].edited_at, 'the edit is dated')

  for (const persona of [CLIENT, BOOKER]) {
    const { data: none, error: noRow } = await (await as(persona)).from('messages').update({ body: 'rewritten' }).eq('id', state.reply.id).select()
    assert.equal(noRow, null, persona)
    assert.deepEqual(none, [], `${persona}: another\'s message is not theirs to edit`)
  }
  for (const change of [{ sender_id: CLIENT }, { edited_at: null }, { created_at: '2020-01-01T00:00:00Z' }, { thread_id: state.bookerThread.id },
                        { body: 'ok', organization_id: LAB }]) {
    const { error: denied, status: deniedStatus } = await staff.from('messages').update(change).eq('id', state.reply.id)
    assert.equal(deniedStatus, 403, JSON.stringify(change))
    assert.equal(denied.code, '42501', JSON.stringify(change))
  }
  for (const body of ['  ', 'x'.repeat(4001)]) {
    const { error: bad, status: badStatus } = await staff.from('messages').update({ body }).eq('id', state.reply.id)
    assert.equal(badStatus, 400, `a body of ${body.length}`)
    assert.equal(bad.code, '23514')
  }
  assert.equal(sql(`SELECT body || ' ' || sender_id FROM booking.messages WHERE id = '${state.reply.id}'`), `Yes, from 10:30. ${STAFF}`)

  const threads = count('message_threads', 'true')
  const messages = count('messages', 'true')
  for (const persona of [CLIENT, 'service_role']) {
    const api = persona === 'service_role' ? await clientAs('service_role') : await as(persona)
    for (const [what, request] of [
      ['insert a thread', api.from('message_threads').insert({ organization_id: LAB, created_by_id: CLIENT, recipient_id: PRO })],
      ['insert a message', api.from('messages').insert({ thread_id: state.thread.id, organization_id: LAB, sender_id: CLIENT, body: 'forged' })],
      ['reset an unread count', api.from('message_threads').update({ creator_unread_count: 0 }).eq('id', state.thread.id)],
    ]) {
      const { error: denied, status: deniedStatus } = await request
      assert.equal(deniedStatus, 403, `${persona}: ${what}`)
      assert.equal(denied.code, '42501', `${persona}: ${what}`)
    }
  }
  const { error: gone, status: goneStatus } = await staff.from('messages').delete().eq('id', state.reply.id)
  assert.equal(goneStatus, 403, 'a message is not deleted through the API by a user')
  assert.equal(gone.code, '42501')
  assert.equal(count('message_threads', 'true'), threads, 'nothing written')
  assert.equal(count('messages', 'true'), messages)
})

// ---------------------------------------------------------------------------------------------
// Favourites
// ---------------------------------------------------------------------------------------------

test('customer_favorites: one\'s own organization, resource or service, each once (409 23505); of one thing (400 23514); not of a private organization one is not in, nor for someone else (403); others\' invisible', async () => {
  const client = await as(CLIENT)
  for (const [name, fav] of [['lab', { organization_id: LAB }], ['printer', { organization_id: LAB, resource_id: PRINTER, notes: 'the good printer' }],
                             ['job', { organization_id: LAB, service_id: PRINT_JOB }]]) {
    const { data, error, status } = await client.from('customer_favorites').insert(fav).select().single()
    assert.equal(error, null, name)
    assert.equal(status, 201, name)
    assert.equal(data.user_id, CLIENT, 'the caller, by default')
    state[name] = data
  }
  const { error: twice, status: twiceStatus } = await client.from('customer_favorites').insert({ organization_id: LAB })
  assert.equal(twiceStatus, 409)
  assert.equal(twice.code, '23505')
  const { error: again } = await client.from('customer_favorites').insert({ organization_id: LAB, resource_id: PRINTER })
  assert.equal(again.code, '23505', 'the printer once too')
  const { error: both, status: bothStatus } = await client.from('customer_favorites')
    .insert({ organization_id: LAB, resource_id: VR, service_id: PRINT_JOB })
  assert.equal(bothStatus, 400)
  assert.equal(both.code, '23514')
  for (const [what, fav] of [['a private organization', { organization_id: CLINIC }],
                             ['someone else', { user_id: CLIENT2, organization_id: LAB }]]) {
    const { error: denied, status } = await client.from('customer_favorites').insert(fav)
    assert.equal(status, 403, what)
    assert.equal(denied.code, '42501', what)
  }
  const { error: elsewhere, status: elsewhereStatus } = await client.from('customer_favorites')
    .insert({ organization_id: LAB, resource_id: CLINIC_ROOM })
  assert.equal(elsewhereStatus, 409, 'a resource of another organization')
  assert.equal(elsewhere.code, '23503')
  const { status: anonStatus } = await (await clientAs('anon')).from('customer_favorites').insert({ organization_id: LAB })
  assert.equal(anonStatus, 401)

  // The public lab for someone who is no member.
  const { data: theirs, error: publicError } = await (await as(BOOKER)).from('customer_favorites').insert({ organization_id: LAB }).select().single()
  assert.equal(publicError, null)
  assert.equal(theirs.user_id, BOOKER)

  const { data: notes, error: noted } = await client.from('customer_favorites').update({ notes: 'the best printer' }).eq('id', state.printer.id)
    .select('notes')
  assert.equal(noted, null)
  assert.deepEqual(notes, [{ notes: 'the best printer' }])
  const { data: extra } = await client.from('customer_favorites').insert({ organization_id: LAB, resource_id: VR }).select('id').single()
  const { data: removed, error: removing } = await client.from('customer_favorites').delete().eq('id', extra.id).select('id')
  assert.equal(removing, null)
  assert.deepEqual(removed, [{ id: extra.id }])

  const other = await as(CLIENT2)
  assert.deepEqual((await other.from('customer_favorites').select('id')).data, [], 'another person sees none of them')
  assert.deepEqual((await other.from('customer_favorites').update({ notes: 'mine' }).eq('id', state.printer.id).select()).data, [])
  assert.deepEqual((await other.from('customer_favorites').delete().eq('id', state.printer.id).select()).data, [])
  const { data: mine } = await client.from('customer_favorites').select('id, notes').order('created_at')
  assert.equal(mine.length, 3)
  assert.equal(count('customer_favorites', `user_id = '${CLIENT}' AND notes = 'the best printer'`), '1')
})

// ---------------------------------------------------------------------------------------------
// Reviews
// ---------------------------------------------------------------------------------------------

test('reviews: only the booker of a completed booking reviews it (others 403; not completed 409 booking_not_completed), once (409 23505); organization, resource and reviewer come from the booking', async () => {
  const review = { organization_id: LAB, booking_id: DONE1, resource_id: PRINTER, reviewer_id: CLIENT, rating: 5 }
  for (const [who, persona] of [['another client', CLIENT2], ['the staff', STAFF], ['a stranger', STRANGER]]) {
    const { error, status } = await (await as(persona)).from('reviews').insert({ ...review, reviewer_id: persona })
    assert.equal(status, 403, who)
    assert.equal(error.code, '42501', who)
  }
  const client = await as(CLIENT)
  const { error: open, status: openStatus } = await client.from('reviews').insert({ ...review, booking_id: OPEN })
  assert.equal(openStatus, 409)
  assert.equal(open.code, 'PT409')
  assert.equal(open.details, 'booking_not_completed')
  const { error: replied, status: repliedStatus } = await client.from('reviews').insert({ ...review, reply: 'Thanks, me' })
  assert.equal(repliedStatus, 403, 'published when written, without a reply')
  assert.equal(replied.code, '42501')
  const { error: hidden } = await client.from('reviews').insert({ ...review, status: 'hidden' })
  assert.equal(hidden.code, '42501')
  const { error: six, status: sixStatus } = await client.from('reviews').insert({ ...review, rating: 6 })
  assert.equal(sixStatus, 400)
  assert.equal(six.code, '23514')
  const { status: anonStatus } = await (await clientAs('anon')).from('reviews').insert(review)
  assert.equal(anonStatus, 401)
  assert.equal(count('reviews', `booking_id IN ('${DONE1}', '${OPEN}')`), '0', 'the refusals wrote nothing')

  const { data: made, error, status } = await client.from('reviews')
    .insert({ organization_id: CLINIC, booking_id: DONE1, resource_id: VR, reviewer_id: 'u-someone', rating: 5, content: 'Great printer' })
    .select().single()
  assert.equal(error, null)
  assert.equal(status, 201)
  assert.deepEqual([made.organization_id, made.resource_id, made.reviewer_id, made.status, made.reply, made.replied_by],
    [LAB, PRINTER, CLIENT, 'published', null, null], 'what and who come from the booking')
  state.r1 = made
  const { error: once, status: onceStatus } = await client.from('reviews').insert({ ...review, rating: 1 })
  assert.equal(onceStatus, 409)
  assert.equal(once.code, '23505')

  const other = await as(CLIENT2)
  for (const [name, booking_id, rating, content] of [['r2', DONE2, 4, 'Good'], ['r3', DONE3, 2, 'Queue too long']]) {
    const { data, error: writing } = await other.from('reviews').insert({ organization_id: LAB, booking_id, resource_id: PRINTER,
      reviewer_id: CLIENT2, rating, content }).select().single()
    assert.equal(writing, null, name)
    state[name] = data
  }
  // A review in the private clinic, by its admin who booked there.
  const { data: clinic, error: clinicError } = await (await clientAs('outsider')).from('reviews')
    .insert({ organization_id: CLINIC, booking_id: CLINIC_DONE, resource_id: CLINIC_ROOM, reviewer_id: 'u-outsider', rating: 1 })
    .select().single()
  assert.equal(clinicError, null)
  assert.equal(clinic.organization_id, CLINIC)
  state.clinicReview = clinic
})

test('reviews: anonymous visitors read the public lab\'s published reviews by their columns, without who wrote them (401 42501); not the private clinic\'s; with their figures', async () => {
  const anon = await clientAs('anon')
  const { data, error, status } = await anon.from('reviews').select('id, organization_id, booking_id, rating, content, status, reply')
    .in('booking_id', [DONE1, DONE2, DONE3, CLINIC_DONE]).order('rating', { ascending: false })
  assert.equal(error, null)
  assert.equal(status, 200)
  assert.deepEqual(data.map((r) => [r.id, r.organization_id, r.rating, r.status]),
    [[state.r1.id, LAB, 5, 'published'], [state.r2.id, LAB, 4, 'published'], [state.r3.id, LAB, 2, 'published']])
  for (const columns of ['reviewer_id', 'id, replied_by', '*']) {
    const { error: denied, status: deniedStatus } = await anon.from('reviews').select(columns)
    assert.equal(deniedStatus, 401, columns)
    assert.equal(denied.code, '42501', columns)
  }
  const { data: figures, error: figuresError } = await anon.from('organization_reviews_with_counts')
    .select('id, organization_id, total_reviews, average_rating, five_star_count, four_star_count, three_star_count, two_star_count, one_star_count')
    .in('booking_id', [DONE1, DONE2, DONE3, CLINIC_DONE])
  assert.equal(figuresError, null)
  assert.equal(figures.length, 3, 'the lab\'s, not the clinic\'s')
  for (const f of figures) {
    assert.deepEqual([f.organization_id, f.total_reviews, Number(f.average_rating), f.five_star_count, f.four_star_count,
                      f.three_star_count, f.two_star_count, f.one_star_count], [LAB, 3, 3.67, 1, 1, 0, 1, 0])
  }
  const { data: signedIn } = await (await as(STRANGER)).from('reviews').select('id, reviewer_id').in('booking_id', [DONE1, CLINIC_DONE])
  assert.deepEqual(signedIn, [{ id: state.r1.id, reviewer_id: CLIENT }], 'someone signed in sees who wrote a published review')
})

test('reviews: staff hide one (the figures drop) and reply (replied_by, replied_at set), but do not rewrite or remove one (403); the reviewer edits and removes theirs; removed is final (400 23514); nobody deletes one (403)', async () => {
  const client = await as(CLIENT)
  const { data: rewritten, error } = await client.from('reviews').update({ rating: 4, content: 'Good printer, slow queue' }).eq('id', state.r1.id)
    .select('rating, content')
  assert.equal(error, null)
  assert.deepEqual(rewritten, [{ rating: 4, content: 'Good printer, slow queue' }])
  for (const [what, change] of [['reply to oneself', { reply: 'Indeed' }], ['hide', { status: 'hidden' }], ['move it to another booking', { booking_id: DONE2 }]]) {
    const { error: denied, status } = await client.from('reviews').update(change).eq('id', state.r1.id)
    assert.equal(status, 403, what)
    assert.equal(denied.code, '42501', what)
  }
  assert.deepEqual((await (await as(CLIENT2)).from('reviews').update({ rating: 1 }).eq('id', state.r1.id).select()).data, [],
    'another client changes nothing of it')

  const staff = await as(STAFF)
  for (const [what, change] of [['rewrite the rating', { rating: 1 }], ['rewrite the content', { content: 'Bad' }],
                                ['remove it', { status: 'removed' }], ['sign a reply as someone else', { replied_by: 'u-admin' }],
                                ['change the reviewer', { reviewer_id: STAFF }]]) {
    const { error: denied, status } = await staff.from('reviews').update(change).eq('id', state.r1.id)
    assert.equal(status, 403, what)
    assert.equal(denied.code, '42501', what)
  }
  const { data: answered, error: answering, status } = await staff.from('reviews').update({ reply: 'Thank you!' }).eq('id', state.r1.id)
    .select('reply, replied_by, replied_at, rating, status')
  assert.equal(answering, null)
  assert.equal(status, 200)
  assert.equal(answered[0].replied_by, STAFF, 'the reply is signed')
  assert.ok(answered[0].replied_at, 'and dated')
  assert.deepEqual([answered[0].reply, answered[0].rating, answered[0].status], ['Thank you!', 4, 'published'])

  const anon = await clientAs('anon')
  const figures = async () => (await anon.from('organization_reviews_with_counts')
    .select('booking_id, total_reviews, average_rating, four_star_count, two_star_count').in('booking_id', [DONE1, DONE2, DONE3]).order('booking_id')).data
  assert.deepEqual((await figures()).map((f) => [f.total_reviews, Number(f.average_rating), f.four_star_count, f.two_star_count]),
    [[3, 3.33, 2, 1], [3, 3.33, 2, 1], [3, 3.33, 2, 1]])
  const { data: hidden, error: hiding } = await staff.from('reviews').update({ status: 'hidden' }).eq('id', state.r3.id).select('status')
  assert.equal(hiding, null)
  assert.deepEqual(hidden, [{ status: 'hidden' }])
  assert.deepEqual((await figures()).map((f) => [f.booking_id, f.total_reviews, Number(f.average_rating), f.four_star_count, f.two_star_count]),
    [[DONE1, 2, 4, 2, 0], [DONE2, 2, 4, 2, 0]], 'hidden: neither shown nor counted')

  const other = await as(CLIENT2)
  const { error: republish, status: republishStatus } = await other.from('reviews').update({ status: 'published' }).eq('id', state.r3.id)
  assert.equal(republishStatus, 403, 'the reviewer does not show what staff hid')
  assert.equal(republish.code, '42501')
  const { data: removed, error: removing } = await other.from('reviews').update({ status: 'removed' }).eq('id', state.r2.id).select('status')
  assert.equal(removing, null, 'the reviewer removes theirs')
  assert.deepEqual(removed, [{ status: 'removed' }])
  for (const [who, api, change] of [['staff', staff, { status: 'published' }], ['staff', staff, { status: 'hidden' }],
                                    ['the reviewer', other, { status: 'published' }]]) {
    const { error: final, status: finalStatus } = await api.from('reviews').update(change).eq('id', state.r2.id)
    assert.equal(finalStatus, 400, `${who}: ${change.status}`)
    assert.equal(final.code, '23514', `${who}: ${change.status}`)
  }
  for (const [who, api, reviewId] of [['the reviewer', other, state.r2.id], ['staff', staff, state.r1.id], ['an admin', await clientAs('admin'), state.r1.id]]) {
    const { error: deleting, status: deleteStatus } = await api.from('reviews').delete().eq('id', reviewId)
    assert.equal(deleteStatus, 403, who)
    assert.equal(deleting.code, '42501', who)
  }
  assert.deepEqual(row(`SELECT string_agg(status || ' ' || rating, ', ' ORDER BY booking_id) AS s FROM booking.reviews
                        WHERE booking_id IN ('${DONE1}', '${DONE2}', '${DONE3}')`), { s: 'published 4, removed 4, hidden 2' })
  assert.deepEqual((await figures()).map((f) => [f.booking_id, f.total_reviews, Number(f.average_rating)]), [[DONE1, 1, 4]])
})

// ---------------------------------------------------------------------------------------------
// The views, per persona
// ---------------------------------------------------------------------------------------------

test('organization_reviews_with_counts: each persona sees the reviews it may, each with its organization\'s figures over published reviews', async () => {
  const ours = [DONE1, DONE2, DONE3, CLINIC_DONE]
  const read = async (api) => {
    const { data, error, status } = await api.from('organization_reviews_with_counts')
      .select('booking_id, organization_id, status, reply, total_reviews, average_rating, four_star_count, one_star_count')
      .in('booking_id', ours).order('booking_id')
    assert.equal(error, null)
    assert.equal(status, 200)
    return data.map((r) => [r.booking_id, r.status, r.total_reviews, Number(r.average_rating), r.four_star_count, r.one_star_count])
  }
  const lab = [DONE1, 'published', 1, 4, 1, 0]
  const clinic = [CLINIC_DONE, 'published', 1, 1, 0, 1]
  assert.deepEqual(await read(await clientAs('anon')), [lab], 'anonymous: the public lab\'s published reviews')
  assert.deepEqual(await read(await as(STRANGER)), [lab], 'a stranger: the same')
  assert.deepEqual(await read(await as(CLIENT2)), [lab, [DONE2, 'removed', 1, 4, 1, 0], [DONE3, 'hidden', 1, 4, 1, 0]],
    'a reviewer: also their own, whatever their status')
  assert.deepEqual(await read(await as(STAFF)), [lab, [DONE2, 'removed', 1, 4, 1, 0], [DONE3, 'hidden', 1, 4, 1, 0]],
    'staff: all of the lab\'s, counted over the published')
  assert.deepEqual(await read(await clientAs('outsider')), [lab, clinic], 'the clinic\'s admin: the lab\'s published and the clinic\'s')
  assert.deepEqual(await read(await clientAs('service_role')), [lab, [DONE2, 'removed', 1, 4, 1, 0], [DONE3, 'hidden', 1, 4, 1, 0], clinic])
  const { data: [withReply] } = await (await clientAs('anon')).from('organization_reviews_with_counts').select('reply, replied_at').eq('booking_id', DONE1)
  assert.equal(withReply.reply, 'Thank you!')
  assert.ok(withReply.replied_at)
})

test('customer_favorites_view: the caller\'s favourites with what they name; nobody else\'s; anonymous 401', async () => {
  const { data, error, status } = await (await as(CLIENT)).from('customer_favorites_view')
    .select('user_id, organization_name, organization_slug, resource_title, resource_kind, service_name, service_price_cents, service_currency, notes')
    .order('created_at')
  assert.equal(error, null)
  assert.equal(status, 200)
  assert.deepEqual(data, [
    { user_id: CLIENT, organization_name: 'Oolite Digital Lab', organization_slug: 'oolite', resource_title: null, resource_kind: null,
      service_name: null, service_price_cents: null, service_currency: null, notes: null },
    { user_id: CLIENT, organization_name: 'Oolite Digital Lab', organization_slug: 'oolite', resource_title: '3D Printer', resource_kind: 'equipment',
      service_name: null, service_price_cents: null, service_currency: null, notes: 'the best printer' },
    { user_id: CLIENT, organization_name: 'Oolite Digital Lab', organization_slug: 'oolite', resource_title: null, resource_kind: null,
      service_name: '3D print job', service_price_cents: 1500, service_currency: 'USD', notes: null },
  ])
  for (const persona of [STRANGER, STAFF, CLIENT2]) {
    const { data: none, error: noError } = await (await as(persona)).from('customer_favorites_view').select('id').eq('user_id', CLIENT)
    assert.equal(noError, null, persona)
    assert.deepEqual(none, [], persona)
  }
  assert.deepEqual((await (await clientAs('admin')).from('customer_favorites_view').select('id').eq('user_id', CLIENT)).data, [],
    'not even the organization\'s admin')
  const { data: worker } = await (await clientAs('service_role')).from('customer_favorites_view').select('user_id').in('user_id', [CLIENT, BOOKER])
  assert.equal(worker.length, 4, 'service_role reads them all')
  const { error: nobody, status: anonStatus } = await (await clientAs('anon')).from('customer_favorites_view').select('id')
  assert.equal(anonStatus, 401)
  assert.equal(nobody.code, '42501')
})

test('audit_log_view: an admin reads their organization\'s log with the actor\'s display name; staff, a client and a stranger nothing; anonymous 401', async () => {
  const ids = `(${[state.r1.id, state.r3.id].join(',')})`
  const { data, error, status } = await (await clientAs('admin')).from('audit_log_view')
    .select('entity_type, entity_id, action, actor_id, actor_role, actor_display_name, actor_avatar_url, organization_id, source')
    .eq('entity_type', 'reviews').filter('entity_id', 'in', ids).order('created_at')
  assert.equal(error, null)
  assert.equal(status, 200)
  const seen = data.map((a) => [a.entity_id, a.action, a.actor_id, a.actor_display_name, a.actor_avatar_url])
  assert.deepEqual(seen, [
    [state.r1.id, 'insert', CLIENT, 'Cleo', 'https://example.org/cleo.png'],
    [state.r3.id, 'insert', CLIENT2, 'Cid', null],
    [state.r1.id, 'update', CLIENT, 'Cleo', 'https://example.org/cleo.png'],
    [state.r1.id, 'update', STAFF, 'Stan', 'https://example.org/stan.png'],
    [state.r3.id, 'update', STAFF, 'Stan', 'https://example.org/stan.png'],
  ])
  assert.ok(data.every((a) => a.organization_id === LAB && a.actor_role === 'authenticated' && a.source === 'trigger'))

  for (const persona of [STAFF, CLIENT, STRANGER]) {
    const { data: none, error: noError } = await (await as(persona)).from('audit_log_view').select('id').eq('entity_type', 'reviews')
    assert.equal(noError, null, persona)
    assert.deepEqual(none, [], persona)
  }
  const { data: clinic } = await (await clientAs('outsider')).from('audit_log_view').select('entity_id, organization_id').eq('entity_type', 'reviews')
  assert.deepEqual(clinic, [{ entity_id: state.clinicReview.id, organization_id: CLINIC }], 'the clinic\'s admin reads the clinic\'s only')
  // service_role reads every row; it has no JWT subject, so it sees nobody's card (profile_cards).
  const { data: all } = await (await clientAs('service_role')).from('audit_log_view').select('actor_id, actor_display_name')
    .eq('entity_type', 'reviews').filter('entity_id', 'in', ids)
  assert.equal(all.length, 5)
  assert.ok(all.every((a) => a.actor_display_name === null))
  const { error: nobody, status: anonStatus } = await (await clientAs('anon')).from('audit_log_view').select('id')
  assert.equal(anonStatus, 401)
  assert.equal(nobody.code, '42501')
})

test('notifications_view: each person reads their own notifications with their display name; service_role all; anonymous 401', async () => {
  const { data, error, status } = await (await as(CLIENT)).from('notifications_view')
    .select('recipient_id, notification_type, message, read_at, recipient_display_name, recipient_avatar_url').eq('notification_type', 'message')
    .order('created_at')
  assert.equal(error, null)
  assert.equal(status, 200)
  assert.deepEqual(data.map((n) => [n.recipient_id, n.notification_type, n.message, n.recipient_display_name, n.recipient_avatar_url]), [
    [CLIENT, 'message', 'New message from Stan: Yes, from 10:00.', 'Cleo', 'https://example.org/cleo.png'],
    [CLIENT, 'message', 'New message from Stan: See you Monday.', 'Cleo', 'https://example.org/cleo.png'],
  ])
  const { data: staffs } = await (await as(STAFF)).from('notifications_view').select('recipient_id, recipient_display_name, read_at')
    .eq('notification_type', 'message')
  assert.equal(staffs.length, 3, 'the client\'s first message and the booker\'s two')
  assert.ok(staffs.every((n) => n.recipient_id === STAFF && n.recipient_display_name === 'Stan'))
  assert.equal(staffs.filter((n) => n.read_at).length, 1, 'the one of the thread they read')
  assert.deepEqual((await (await as(STRANGER)).from('notifications_view').select('id')).data, [])
  assert.deepEqual((await (await clientAs('admin')).from('notifications_view').select('id').eq('recipient_id', CLIENT)).data, [],
    'not even an admin reads another\'s')
  const { data: all } = await (await clientAs('service_role')).from('notifications_view').select('recipient_id, recipient_display_name')
    .in('recipient_id', [CLIENT, STAFF]).eq('notification_type', 'message')
  assert.equal(all.length, 5)
  assert.ok(all.every((n) => n.recipient_display_name === null), 'service_role has no subject: no card')
  const { error: nobody, status: anonStatus } = await (await clientAs('anon')).from('notifications_view').select('id')
  assert.equal(anonStatus, 401)
  assert.equal(nobody.code, '42501')
})

test('blocked_times_view: the organization\'s members see its closed times, a professional\'s with who they are; people of no organization nothing; anonymous 401', async () => {
  const columns = 'organization_id, resource_id, resource_title, resource_kind, professional_user_id, professional_display_name, reason, blocked_from, blocked_until'
  const hours = (b) => (new Date(b.blocked_until) - new Date(b.blocked_from)) / 3600000
  for (const persona of [CLIENT, STAFF, PRO]) {
    const { data, error, status } = await (await as(persona)).from('blocked_times_view').select(columns).eq('organization_id', LAB)
    assert.equal(error, null, persona)
    assert.equal(status, 200, persona)
    const conference = data.find((b) => b.reason === 'Eng conference')
    assert.deepEqual([conference.resource_id, conference.resource_title, conference.resource_kind, conference.professional_user_id,
                      conference.professional_display_name, hours(conference)], [DR, 'Dr. Eng', 'person', PRO, 'Dana Pro', 3], persona)
    assert.equal(new Date(conference.blocked_from).toISOString(), '2031-10-09T13:00:00.000Z')
    const holiday = data.find((b) => b.reason === 'Independence Day')
    assert.deepEqual([holiday.resource_id, holiday.professional_user_id, hours(holiday)], [null, null, 24], 'the whole lab\'s closed day')
    assert.ok(!data.some((b) => b.reason === 'Printer open morning'), 'closed times only')
  }
  for (const persona of [STRANGER, BOOKER]) {
    const { data, error } = await (await as(persona)).from('blocked_times_view').select('id')
    assert.equal(error, null)
    assert.deepEqual(data, [], `${persona}: nothing of the lab's, public as it is`)
  }
  const { data: clinic } = await (await clientAs('outsider')).from('blocked_times_view').select('id').eq('organization_id', LAB)
  assert.deepEqual(clinic, [])
  const { data: [worker] } = await (await clientAs('service_role')).from('blocked_times_view').select(columns).eq('reason', 'Eng conference')
  assert.deepEqual([worker.professional_user_id, worker.professional_display_name], [PRO, null], 'service_role: the row, no card')
  const { error: nobody, status: anonStatus } = await (await clientAs('anon')).from('blocked_times_view').select('id')
  assert.equal(anonStatus, 401)
  assert.equal(nobody.code, '42501')
})

test('profile_metadata_view and user_preferences_view: one\'s own profile\'s metadata and preferences, with the seed\'s defaults (an odd value falls back to its default); anonymous 401', async () => {
  const client = await as(CLIENT)
  const metadata = {
    preferences: { notifications: { email: 'no', sms: true, push: false }, booking: { reminder_minutes: 60, auto_confirm: 'true' },
                   marketing: { newsletter: true }, privacy: 'public' },
    tags: ['maker'], interests: ['3d printing'], social_links: { site: 'https://cleo.example.org' }, status: 'vip',
  }
  const { error: saved } = await client.from('profiles').update({ metadata }).eq('user_id', CLIENT)
  assert.equal(saved, null)
  const { error: odd } = await (await as(STAFF)).from('profiles')
    .update({ metadata: { status: 42, preferences: { booking: { reminder_minutes: 600000 }, notifications: { sms: 'yes' } } } })
    .eq('user_id', STAFF)
  assert.equal(odd, null)

  const { data: meta, error, status } = await client.from('profile_metadata_view').select('*')
  assert.equal(error, null)
  assert.equal(status, 200)
  assert.equal(meta.length, 1, 'one\'s own only')
  assert.deepEqual([meta[0].user_id, meta[0].full_name, meta[0].preferences, meta[0].tags, meta[0].interests, meta[0].social_links, meta[0].account_status],
    [CLIENT, 'Cleo Eng', metadata.preferences, ['maker'], ['3d printing'], { site: 'https://cleo.example.org' }, 'vip'])
  const { data: [staffMeta] } = await (await as(STAFF)).from('profile_metadata_view').select('full_name, tags, account_status')
  assert.deepEqual(staffMeta, { full_name: null, tags: null, account_status: 'active' }, 'a status that is no string reads active')

  const prefs = 'user_id, display_name, email_notifications_enabled, push_notifications_enabled, sms_notifications_enabled, booking_auto_confirm, booking_reminder_minutes, marketing_newsletter_enabled, marketing_promotions_enabled, profile_public, show_reviews'
  const flags = (p) => [p.email_notifications_enabled, p.push_notifications_enabled, p.sms_notifications_enabled, p.booking_auto_confirm,
                        p.booking_reminder_minutes, p.marketing_newsletter_enabled, p.marketing_promotions_enabled, p.profile_public, p.show_reviews]
  const { data: mine, error: prefsError } = await client.from('user_preferences_view').select(prefs)
  assert.equal(prefsError, null)
  assert.equal(mine.length, 1)
  assert.deepEqual(flags(mine[0]), [true, false, true, false, 60, true, false, false, true],
    'email "no" and auto_confirm "true" are strings: their defaults; privacy is no object: its defaults')
  const { data: [staffPrefs] } = await (await as(STAFF)).from('user_preferences_view').select(prefs)
  assert.deepEqual(flags(staffPrefs), [true, true, false, false, 1440, false, false, false, true],
    'the seed\'s defaults; 600000 minutes is out of range, sms "yes" a string')
  const { data: defaults } = await (await as(PRO)).from('user_preferences_view').select(prefs)
  assert.deepEqual(defaults.map(flags), [[true, true, false, false, 1440, false, false, false, true]], 'no metadata: the defaults')

  for (const view of ['profile_metadata_view', 'user_preferences_view']) {
    assert.deepEqual((await (await as(STAFF)).from(view).select('user_id').eq('user_id', CLIENT)).data, [], `${view}: not another\'s`)
    assert.deepEqual((await (await as('u-eng-nobody')).from(view).select('user_id')).data, [], `${view}: no profile, no row`)
    const { data: all } = await (await clientAs('service_role')).from(view).select('user_id').in('user_id', [CLIENT, STAFF]).order('user_id')
    assert.deepEqual(all.map((p) => p.user_id), [CLIENT, STAFF], `${view}: service_role reads all`)
    const { error: nobody, status: anonStatus } = await (await clientAs('anon')).from(view).select('user_id')
    assert.equal(anonStatus, 401, view)
    assert.equal(nobody.code, '42501', view)
  }
})

test('profile_cards: the cards of the members of one\'s organizations and one\'s own; a stranger and a booker their own only; service_role none; anonymous 401', async () => {
  const ours = [CLIENT, CLIENT2, STAFF, PRO, BOOKER, STRANGER]
  const cards = async (api) => (await api.from('profile_cards').select('user_id, display_name').in('user_id', ours).order('user_id')).data
  const members = [[CLIENT, 'Cleo'], [CLIENT2, 'Cid'], [PRO, 'Dana Pro'], [STAFF, 'Stan']].sort()
  for (const persona of [CLIENT, STAFF]) {
    assert.deepEqual((await cards(await as(persona))).map((c) => [c.user_id, c.display_name]), members, persona)
  }
  assert.deepEqual(await cards(await as(STRANGER)), [{ user_id: STRANGER, display_name: 'Sly' }])
  assert.deepEqual(await cards(await as(BOOKER)), [{ user_id: BOOKER, display_name: 'Bea Booker' }], 'booking with the lab makes no member')
  assert.deepEqual(await cards(await clientAs('service_role')), [], 'service_role has no subject: no card')
  const { error: nobody, status } = await (await clientAs('anon')).from('profile_cards').select('user_id')
  assert.equal(status, 401)
  assert.equal(nobody.code, '42501')
})

// ---------------------------------------------------------------------------------------------
// Who performs a booking's service
// ---------------------------------------------------------------------------------------------

test('booking_services.staff_id: staff name a staff member or a professional (ok), not a client or a stranger (400 23514); the professional then sees the line', async () => {
  const staff = await as(STAFF)
  const line = { booking_id: OPEN, organization_id: LAB, service_id: PRINT_JOB, position: 1, duration_minutes: 120, price_cents: 1500 }
  const { error: named, status: namedStatus } = await staff.from('booking_services').insert({ ...line, staff_id: CLIENT })
  assert.equal(namedStatus, 400, 'a client does not perform services')
  assert.equal(named.code, '23514')
  assert.match(named.message, /does not perform the organization's services/)
  const { data: made, error, status } = await staff.from('booking_services').insert({ ...line, staff_id: STAFF }).select('staff_id').single()
  assert.equal(error, null)
  assert.equal(status, 201)
  assert.equal(made.staff_id, STAFF)

  const pro = await as(PRO)
  assert.deepEqual((await pro.from('booking_services').select('booking_id').eq('booking_id', OPEN)).data, [], 'not the professional\'s line yet')
  for (const [who, staff_id] of [['a client', CLIENT], ['another client', CLIENT2], ['a stranger', STRANGER], ['another organization\'s admin', 'u-outsider']]) {
    const { error: refused, status: refusedStatus } = await staff.from('booking_services').update({ staff_id }).eq('booking_id', OPEN)
    assert.equal(refusedStatus, 400, who)
    assert.equal(refused.code, '23514', who)
  }
  const { error: byBooker, status: byBookerStatus } = await (await as(CLIENT)).from('booking_services').update({ staff_id: CLIENT2 }).eq('booking_id', OPEN)
  assert.equal(byBookerStatus, 400, 'nor when the booker names them')
  assert.equal(byBooker.code, '23514')
  assert.equal(sql(`SELECT staff_id FROM booking.booking_services WHERE booking_id = '${OPEN}'`), STAFF, 'the refusals changed nothing')

  const { data: assigned, error: assigning } = await staff.from('booking_services').update({ staff_id: PRO }).eq('booking_id', OPEN).select('staff_id')
  assert.equal(assigning, null, 'a professional of the lab performs its services')
  assert.deepEqual(assigned, [{ staff_id: PRO }])
  const { data: seen, error: seeing } = await pro.from('booking_services').select('booking_id, service_id, staff_id, duration_minutes')
  assert.equal(seeing, null)
  assert.deepEqual(seen, [{ booking_id: OPEN, service_id: PRINT_JOB, staff_id: PRO, duration_minutes: 120 }], 'the professional sees their line')
  assert.deepEqual((await pro.from('bookings').select('id').eq('id', OPEN)).data, [], 'not the booking itself (another resource\'s)')
  assert.deepEqual((await pro.from('booking_services').update({ price_cents: 0 }).eq('booking_id', OPEN).select()).data, [],
    'nor do they edit the line')
  assert.deepEqual((await (await as(CLIENT2)).from('booking_services').select('booking_id').eq('booking_id', OPEN)).data, [],
    'another client sees nothing of it')
})
