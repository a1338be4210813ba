// The surface cannot drift from its proof: every function an API role may execute in schema
// booking must have been called through the stack by the tests in api/ (scripts/e2e.sh runs
// this after them), with a success and, where the function can refuse, a refusal (4xx). The
// gateway in stack.mjs wrote every call down. A new function without an end-to-end call fails
// here.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { sql } from './stack.mjs'

// Not RPCs: helpers that row-level security policies, triggers and the RPCs themselves call
// as the caller, so the API roles must be able to execute them; PostgREST lists them all the same.
const INTERNAL = ['is_bulk_load', 'is_privileged', 'actor_id', 'check_text_argument', 'check_json_object',
  'notification_owner', 'require_privileged', 'available_slot_starts']
// Functions with no argument that every API role may call: they cannot refuse.
const CANNOT_REFUSE = ['current_user_id', 'current_role', 'public_organization_ids', 'booking_statuses', 'status_transitions']

test('every RPC of schema booking was called end to end, with its success and its refusal', () => {
  const rpcs = sql(`SELECT string_agg(p.proname, ' ' ORDER BY p.proname) FROM pg_proc p
                    WHERE p.pronamespace = 'booking'::regnamespace AND p.prokind = 'f'
                      AND (has_function_privilege('anon', p.oid, 'EXECUTE')
                           OR has_function_privilege('authenticated', p.oid, 'EXECUTE')
                           OR has_function_privilege('service_role', p.oid, 'EXECUTE'))`).split(' ')
  assert.ok(rpcs.length > 30, `the function list looks wrong: ${rpcs}`)
  const calls = readFileSync(process.env.BOOKING_E2E_CALLS, 'utf8').trim().split('\n').map((line) => line.split(' '))
  const statuses = (name) => calls.filter(([fn]) => fn === name).map(([, , status]) => Number(status))
  const missing = rpcs.filter((fn) => !INTERNAL.includes(fn) && !statuses(fn).some((s) => s >= 200 && s < 300))
  assert.deepEqual(missing, [], 'functions never called successfully through PostgREST')
  const neverRefused = rpcs.filter((fn) => !INTERNAL.includes(fn) && !CANNOT_REFUSE.includes(fn)
                                           && !statuses(fn).some((s) => s >= 400 && s < 500))
  assert.deepEqual(neverRefused, [], 'functions whose refusal was never exercised through PostgREST')
  const stale = [...INTERNAL, ...CANNOT_REFUSE].filter((fn) => !rpcs.includes(fn))
  assert.deepEqual(stale, [], 'names listed here that are no longer functions of the API')
})
