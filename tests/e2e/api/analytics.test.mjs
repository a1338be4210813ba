// Analytics (seed 002) through PostgREST: track_event by anon with the browser's User-Agent and
// the proxy's X-Forwarded-For stored from the request headers (not from arguments), by a member
// (their JWT subject, verified), refused with 400 22023 for an over-long type or a private
// organization; staff read their organization's events, clients do not, and nobody inserts one
// directly; prune_analytics drops whole old months for service_role only (403 otherwise, 400 for
// an interval under a day).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createClient } from '@supabase/supabase-js'
import ws from 'ws'
import { clientAs, sql, ANON_KEY, SUPABASE_URL, LAB, CLINIC } from '../stack.mjs'

const settings = (headers) => ({
  db: { schema: 'booking' },
  auth: { persistSession: false, autoRefreshToken: false, detectSessionInUrl: false },
  realtime: { transport: ws },
  global: { headers },
})
const row = (query) => JSON.parse(sql(`SELECT row_to_json(q) FROM (${query}) q`) || 'null')

test('track_event as anon: the user agent and forwarded address of the request are stored; 400 for bad input', async () => {
  const browser = createClient(SUPABASE_URL, ANON_KEY,
    settings({ 'User-Agent': 'Mozilla/5.0 (e2e)', 'X-Forwarded-For': '203.0.113.42, 10.1.2.3', Referer: 'https://lab.example/' }))
  let { data: id, error } = await browser.rpc('track_event', {
    p_event_type: 'page_view', p_event_data: { organization_id: LAB, user_agent: 'forged', ip_address: '1.1.1.1' },
    p_session_id: 'sess-e2e', p_page_url: 'https://lab.example/printer',
  })
  assert.equal(error, null, JSON.stringify(error))
  const stored = row(`SELECT user_id, organization_id, verified, host(ip_address) AS ip, user_agent, referrer, session_id, page_url
                      FROM booking.analytics_events WHERE id = '${id}'`)
  assert.deepEqual(stored, { user_id: null, organization_id: LAB, verified: false, ip: '203.0.113.42', user_agent: 'Mozilla/5.0 (e2e)',
                             referrer: 'https://lab.example/', session_id: 'sess-e2e', page_url: 'https://lab.example/printer' })
  let status
  ;({ error, status } = await browser.rpc('track_event', { p_event_type: 'x'.repeat(101) }))
  assert.deepEqual([status, error.code], [400, '22023'])
  ;({ error, status } = await browser.rpc('track_event', { p_event_type: 'page_view', p_event_data: { organization_id: CLINIC } }))
  assert.deepEqual([status, error.code], [400, '22023'], 'a private organization is not anon\'s to attach to')
})

test('track_event signed in: the JWT subject, verified for a member; staff read, clients and direct writes do not', async () => {
  const client = await clientAs('client')
  const { data: id, error } = await client.rpc('track_event', { p_event_type: 'booking_started', p_event_data: { organization_id: LAB, user_id: 'u-admin' } })
  assert.equal(error, null, JSON.stringify(error))
  assert.deepEqual(row(`SELECT user_id, verified FROM booking.analytics_events WHERE id = '${id}'`), { user_id: 'u-client', verified: true })
  const staff = await clientAs('staff')
  const { data: seen } = await staff.from('analytics_events').select('id, event_type, verified').eq('id', id)
  assert.deepEqual(seen, [{ id, event_type: 'booking_started', verified: true }])
  const { data: none } = await client.from('analytics_events').select('id').eq('id', id)
  assert.deepEqual(none, [])
  const { error: e2, status } = await staff.from('analytics_events').insert({ organization_id: LAB, event_type: 'forged' })
  assert.deepEqual([status, e2.code], [403, '42501'])
})

test('prune_analytics: service_role drops whole old months; 403 for staff, 400 under a day', async () => {
  sql(`SELECT booking_internal.analytics_partition('2021-01-10')`)
  sql(`INSERT INTO booking.analytics_events (event_type, created_at) VALUES ('old', '2021-01-10')`)
  const service = await clientAs('service_role')
  let { data, error, status } = await service.rpc('prune_analytics', { p_older_than: '90 days' })
  assert.equal(error, null, JSON.stringify(error))
  assert.ok(data.includes('analytics_events_p2021_01'), JSON.stringify(data))
  assert.equal(sql(`SELECT count(*) FROM booking.analytics_events WHERE event_type = 'old'`), '0')
  ;({ error, status } = await service.rpc('prune_analytics', { p_older_than: '1 hour' }))
  assert.deepEqual([status, error.code], [400, '22023'])
  const staff = await clientAs('staff')
  ;({ error, status } = await staff.rpc('prune_analytics', { p_older_than: '90 days' }))
  assert.deepEqual([status, error.code], [403, '42501'])
})
