// What every end-to-end test file shares: the gateway in front of PostgREST, JWTs for each
// persona, supabase-js clients made as an app makes them, and a superuser psql for checking
// what the database holds. scripts/e2e.sh starts the stack and sets the BOOKING_E2E_* variables.
import { createClient } from '@supabase/supabase-js'
import { SignJWT } from 'jose'
import { execFileSync } from 'node:child_process'
import { appendFileSync } from 'node:fs'
import http from 'node:http'
import ws from 'ws'

const env = (name) => {
  const value = process.env[name]
  if (!value) throw new Error(`${name} is not set: run the end-to-end tests with scripts/e2e.sh`)
  return value
}
const postgrest = new URL(env('BOOKING_E2E_API'))
const secret = new TextEncoder().encode(env('BOOKING_E2E_JWT_SECRET'))

// Supabase serves PostgREST under /rest/v1 behind its API gateway, and supabase-js calls that
// path. This gateway does the same on a loopback port, and writes down every RPC call with its
// method and HTTP status, so coverage.test.mjs can check that every function was called.
const gateway = http.createServer((req, res) => {
  if (!req.url.startsWith('/rest/v1/')) {
    res.writeHead(404).end()
    return
  }
  const path = req.url.slice('/rest/v1'.length)
  const upstream = http.request(
    { host: postgrest.hostname, port: postgrest.port, method: req.method, path, headers: { ...req.headers, host: postgrest.host } },
    (answer) => {
      const rpc = path.match(/^\/rpc\/([a-z_0-9]+)/)
      if (rpc && process.env.BOOKING_E2E_CALLS) {
        appendFileSync(process.env.BOOKING_E2E_CALLS, `${rpc[1]} ${req.method} ${answer.statusCode}\n`)
      }
      res.writeHead(answer.statusCode, answer.headers)
      answer.pipe(res)
    },
  )
  upstream.on('error', (e) => res.writeHead(502).end(String(e)))
  req.pipe(upstream)
})
await new Promise((resolve) => gateway.listen(0, '127.0.0.1', resolve))
gateway.unref()
export const SUPABASE_URL = `http://127.0.0.1:${gateway.address().port}`

// The fixtures' people (tests/fixtures/tenants.sql) as the JWT claims an auth server issues.
export const PERSONAS = {
  anon: { role: 'anon' },
  client: { sub: 'u-client', role: 'authenticated' },
  client2: { sub: 'u-client2', role: 'authenticated' },
  member: { sub: 'u-member', role: 'authenticated' },
  staff: { sub: 'u-staff', role: 'authenticated' },
  admin: { sub: 'u-admin', role: 'authenticated' },
  outsider: { sub: 'u-outsider', role: 'authenticated' },
  service_role: { role: 'service_role' },
}

// A JWT signed with the stack's secret (or another key), valid for an hour unless told.
export async function jwt(claims, { expiresAt = '1h', key = secret } = {}) {
  return new SignJWT({ aud: 'authenticated', ...claims })
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setIssuedAt()
    .setExpirationTime(expiresAt)
    .sign(key)
}

// The project's API keys, as Supabase issues them: JWTs with role anon and service_role.
export const ANON_KEY = await jwt(PERSONAS.anon, { expiresAt: '1d' })
export const SERVICE_ROLE_KEY = await jwt(PERSONAS.service_role, { expiresAt: '1d' })

// A supabase-js client for schema booking, made as an app makes it: with the anon key, and for
// a signed-in user their access token in the Authorization header (how server code and apps
// with their own auth pass a user's JWT); a back-office worker uses the service_role key.
// `persona` is a name from PERSONAS or a ready-made token.
export async function clientAs(persona, options = {}) {
  const settings = {
    db: { schema: 'booking' },
    auth: { persistSession: false, autoRefreshToken: false, detectSessionInUrl: false },
    // Node 20 has no WebSocket of its own; supabase-js asks for the ws package there.
    realtime: { transport: ws },
  }
  if (persona === 'anon') return createClient(SUPABASE_URL, ANON_KEY, settings)
  if (persona === 'service_role') return createClient(SUPABASE_URL, SERVICE_ROLE_KEY, settings)
  const token = Object.hasOwn(PERSONAS, persona) ? await jwt(PERSONAS[persona], options) : persona
  return createClient(SUPABASE_URL, ANON_KEY, { ...settings, global: { headers: { Authorization: `Bearer ${token}` } } })
}

// One SQL statement as the superuser, bypassing the API: to check what was (not) written.
export function sql(query) {
  return execFileSync(env('BOOKING_E2E_PSQL'), ['-X', '-A', '-t', '-q', '-v', 'ON_ERROR_STOP=1', '-d', env('BOOKING_E2E_DB'), '-c', query], {
    encoding: 'utf8',
  }).trim()
}

// The functions of a schema that an API role may execute.
function executableFunctions(schema) {
  return sql(`SELECT string_agg(p.proname, ' ' ORDER BY p.proname) FROM pg_proc p
              WHERE p.pronamespace = '${schema}'::regnamespace AND p.prokind = 'f'
                AND (has_function_privilege('anon', p.oid, 'EXECUTE')
                     OR has_function_privilege('authenticated', p.oid, 'EXECUTE')
                     OR has_function_privilege('service_role', p.oid, 'EXECUTE'))`).split(' ')
}

// What PostgREST offers as RPCs: schema booking's executable functions.
export const apiFunctions = () => executableFunctions('booking')

// The helpers of schema booking_internal that API roles execute (triggers and invoker-rights RPCs
// call them as the caller): not RPCs, since PostgREST exposes schema booking only.
export const internalHelpers = () => executableFunctions('booking_internal')

// Fixture ids.
export const LAB = '00000000-0000-4000-a000-000000000001'
export const CLINIC = '00000000-0000-4000-a000-000000000002'
export const VR = '00000000-0000-4000-a000-000000000101'
export const PRINTER = '00000000-0000-4000-a000-000000000102'
export const DIGITAL_LAB = '00000000-0000-4000-a000-000000000103'
export const SCANNER = '00000000-0000-4000-a000-000000000104'
export const CLINIC_ROOM = '00000000-0000-4000-a000-000000000201'
export const VR_ORIENTATION = '00000000-0000-4000-a000-000000000301'
export const PRINT_JOB = '00000000-0000-4000-a000-000000000302'
export const REQUESTED = '00000000-0000-4000-a000-000000000401' // u-client's pending VR booking
export const STUDY_GROUP = '00000000-0000-4000-a000-000000000402' // u-client2's, approved, 4 seats
