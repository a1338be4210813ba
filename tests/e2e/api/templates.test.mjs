// Templates (seed 002) through PostgREST: the list of keys (anyone), an organization's templates
// written by its admins through the table (a placeholder the key does not offer refused with 400
// 22023, another organization's 403), render_template for its members (locale fallback, email
// escaping, the built-in default; 400 for an unknown key, 403 for a non-member, 401 for anon),
// and booking_ext's own notification written in the organization's words while its in_app
// template is active. This file's templates are the lab's, removed when it is done (other files
// read the lab's notifications).
import { test, after } from 'node:test'
import assert from 'node:assert/strict'
import { clientAs, sql, LAB, CLINIC, PRINTER } from '../stack.mjs'

after(() => {
  sql(`DELETE FROM booking.notification_templates WHERE organization_id = '${LAB}'`)
  sql(`DELETE FROM booking.bookings WHERE title = 'Templated print'`)
})

test('notification_template_keys: anyone reads the keys, their placeholders and built-in texts', async () => {
  const anon = await clientAs('anon')
  const { data, error } = await anon.rpc('notification_template_keys')
  assert.equal(error, null)
  const status = data.find((k) => k.template_key === 'booking_status')
  assert.deepEqual([status.default_body, status.placeholders.includes('title')], ['Your {{title}} is now {{status}}.', true])
  assert.equal(data.length, 11)
})

test('notification_templates: admins write them, checked when saved (400 22023); another organization 403', async () => {
  const admin = await clientAs('admin')
  let { error, status } = await admin.from('notification_templates').insert([
    { organization_id: LAB, template_key: 'booking_status', channel: 'email', subject: 'Booking {{title}}', body: 'Any: {{title}} is {{status}}' },
    { organization_id: LAB, template_key: 'booking_status', channel: 'email', locale: 'fr', subject: 'Réservation', body: '<p>{{title}} : {{status}}</p>' },
  ])
  assert.equal(error, null, JSON.stringify(error))
  assert.equal(status, 201)
  ;({ error, status } = await admin.from('notification_templates')
    .insert({ organization_id: LAB, template_key: 'booking_status', body: 'Hello {{colour}}' }))
  assert.deepEqual([status, error.code], [400, '22023'])
  assert.match(error.message, /colour/)
  ;({ error, status } = await admin.from('notification_templates')
    .insert({ organization_id: CLINIC, template_key: 'booking_status', body: 'x' }))
  assert.deepEqual([status, error.code], [403, '42501'])
  const staff = await clientAs('staff')
  ;({ error, status } = await staff.from('notification_templates')
    .insert({ organization_id: LAB, template_key: 'message', body: 'x' }))
  assert.deepEqual([status, error.code], [403, '42501'], 'staff read templates but do not write them')
})

test('render_template: the organization\'s text for the locale, escaped for email, else the built-in one; 400, 403, 401', async () => {
  const client = await clientAs('client')
  let { data, error, status } = await client.rpc('render_template', {
    p_key: 'booking_status', p_data: { organization_id: LAB, title: 'R&D <lab>', status: 'approved' }, p_channel: 'email', p_locale: 'fr-CA',
  })
  assert.equal(error, null, JSON.stringify(error))
  assert.deepEqual([data.subject, data.body, data.locale, data.source], ['Réservation', '<p>R&amp;D &lt;lab&gt; : approved</p>', 'fr', 'organization'])
  ;({ data } = await client.rpc('render_template', { p_key: 'booking_status', p_data: { organization_id: LAB, title: 'VR' }, p_channel: 'sms' }))
  assert.deepEqual([data.body, data.source, data.template_id], ['Your VR is now .', 'default', null], 'a missing value renders empty')
  ;({ error, status } = await client.rpc('render_template', { p_key: 'nope', p_data: {} }))
  assert.deepEqual([status, error.code], [400, '22023'])
  const outsider = await clientAs('outsider')
  ;({ error, status } = await outsider.rpc('render_template', { p_key: 'message', p_data: { organization_id: LAB } }))
  assert.deepEqual([status, error.code], [403, '42501'])
  const anon = await clientAs('anon')
  ;({ error, status } = await anon.rpc('render_template', { p_key: 'message', p_data: {} }))
  assert.deepEqual([status, error.code], [401, '42501'])
})

test('booking_ext\'s own notifications: the lab\'s active in_app template, else the built-in text', async () => {
  const admin = await clientAs('admin')
  const { error } = await admin.from('notification_templates')
    .insert({ organization_id: LAB, template_key: 'booking_request', channel: 'in_app', body: 'Please approve {{title}} ({{starts_at}})' })
  assert.equal(error, null, JSON.stringify(error))
  const client = await clientAs('client')
  const { data: booked, error: e2 } = await client.rpc('book', {
    p_resource_id: PRINTER, p_start: '2031-11-05T15:00:00Z', p_end: '2031-11-05T16:00:00Z', p_title: 'Templated print',
  })
  assert.equal(e2, null, JSON.stringify(e2))
  const staff = await clientAs('staff')
  const { data: mine } = await staff.from('notifications').select('message').eq('notification_type', 'booking_request')
    .eq('metadata->>booking_id', booked.id)
  assert.deepEqual(mine.map((n) => n.message), ['Please approve Templated print (2031-11-05 15:00:00+00)'])
  await admin.from('notification_templates').update({ is_active: false }).eq('template_key', 'booking_request')
  await staff.rpc('set_booking_status', { p_booking_id: booked.id, p_status: 'approved' })
  assert.equal(sql(`SELECT message FROM booking.notifications WHERE notification_type = 'booking_status'
                     AND metadata ->> 'booking_id' = '${booked.id}'`), 'Your Templated print is now approved.')
})
