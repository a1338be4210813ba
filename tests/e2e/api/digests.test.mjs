// Digests (seed 002's ai_digests) through PostgREST: generate_digest by staff and the worker,
// idempotent per period, 23-hour day; annotate_digest by the worker only; who reads them.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { clientAs, sql, LAB } from '../stack.mjs'

test('generate_digest: staff get the day from local midnight to local midnight (23 hours on 9 March 2031 in New York); again is the same digest; a client 403, a Tuesday weekly 400', async () => {
  const staff = await clientAs('staff')
  const { data, error, status } = await staff.rpc('generate_digest', { p_organization_id: LAB, p_digest_type: 'daily', p_period_start: '2031-03-09' })
  assert.equal(error, null)
  assert.equal(status, 200)
  assert.equal(data.content.period.hours, 23)
  assert.equal(data.period_start, '2031-03-09T05:00:00+00:00')
  assert.match(data.summary, /^Daily digest for Sunday 9 March 2031 \(America\/New_York, 23 hours\)\./)
  const { data: again } = await staff.rpc('generate_digest', { p_organization_id: LAB, p_digest_type: 'daily', p_period_start: '2031-03-09' })
  assert.equal(again.id, data.id)
  assert.equal(sql(`SELECT count(*) FROM booking.outbox WHERE topic = 'digest.generated' AND payload ->> 'digest_id' = '${data.id}'`), '1')

  const { status: clientStatus, error: refused } = await (await clientAs('client')).rpc('generate_digest',
    { p_organization_id: LAB, p_digest_type: 'daily', p_period_start: '2031-03-09' })
  assert.equal(clientStatus, 403)
  assert.equal(refused.code, '42501')
  const { status: tuesday, error: bad } = await staff.rpc('generate_digest', { p_organization_id: LAB, p_digest_type: 'weekly', p_period_start: '2031-03-11' })
  assert.equal(tuesday, 400)
  assert.equal(bad.code, '22023')

  const { data: rows } = await (await clientAs('client')).from('digests').select('id')
  assert.deepEqual(rows, [], 'clients read no digests')
})

test('annotate_digest: the worker adds insights; staff 403; not an array 400', async () => {
  const worker = await clientAs('service_role')
  const { data: digest } = await worker.rpc('generate_digest', { p_organization_id: LAB, p_digest_type: 'monthly', p_period_start: '2031-03-01' })
  const { data, error } = await worker.rpc('annotate_digest', { p_digest_id: digest.id, p_insights: ['Quiet month.'], p_insights_by: 'llm' })
  assert.equal(error, null)
  assert.deepEqual(data.insights, ['Quiet month.'])
  const { status: notArray } = await worker.rpc('annotate_digest', { p_digest_id: digest.id, p_insights: { a: 1 } })
  assert.equal(notArray, 400)
  const { status: staffStatus } = await (await clientAs('staff')).rpc('annotate_digest', { p_digest_id: digest.id, p_insights: [] })
  assert.ok([401, 403, 404].includes(staffStatus), `staff may not annotate: ${staffStatus}`)
})
