// The surface cannot drift from its proof: every function an API role may execute in schema
// booking must have been called through the stack by the tests in api/ (scripts/e2e.sh runs
// this after them), with a success and, where the function can refuse, a refusal (4xx). The
// gateway in stack.mjs wrote every call down. A new function without an end-to-end call fails
// here.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { apiFunctions } from './stack.mjs'

// Functions with no argument that every API role may call: they cannot refuse.
const CANNOT_REFUSE = ['current_user_id', 'current_role', 'public_organization_ids', 'booking_statuses', 'status_transitions',
                       'admission_transitions', 'notification_template_keys']

test('every RPC of schema booking was called end to end, with its success and its refusal', () => {
  const rpcs = apiFunctions()
  assert.ok(rpcs.length > 30, `the function list looks wrong: ${rpcs}`)
  const calls = readFileSync(process.env.BOOKING_E2E_CALLS, 'utf8').trim().split('\n').map((line) => line.split(' '))
  const statuses = (name) => calls.filter(([fn]) => fn === name).map(([, , status]) => Number(status))
  const missing = rpcs.filter((fn) => !statuses(fn).some((s) => s >= 200 && s < 300))
  assert.deepEqual(missing, [], 'functions never called successfully through PostgREST')
  const neverRefused = rpcs.filter((fn) => !CANNOT_REFUSE.includes(fn)
                                           && !statuses(fn).some((s) => s >= 400 && s < 500))
  assert.deepEqual(neverRefused, [], 'functions whose refusal was never exercised through PostgREST')
  const stale = CANNOT_REFUSE.filter((fn) => !rpcs.includes(fn))
  assert.deepEqual(stale, [], 'names listed here that are no longer functions of the API')
})
