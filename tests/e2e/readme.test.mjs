// The README's supabase-js snippets cannot rot: every .rpc() call in its js blocks names a
// function the API has, with argument names that function takes, and every RPC of the API has
// at least one snippet. (The calls themselves, with their answers, are made by api/*.test.mjs.)
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { apiFunctions, sql } from './stack.mjs'

const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8')
const blocks = [...readme.matchAll(/```js\n([\s\S]*?)```/g)].map((m) => m[1])

// Each call: the function name and the top-level keys of its argument object.
function rpcCalls(code) {
  const calls = []
  for (const m of code.matchAll(/\.rpc\('([a-z_0-9]+)'(?:,\s*\{)?/g)) {
    const open = m.index + m[0].length
    const keys = []
    if (m[0].endsWith('{')) {
      let depth = 1
      let i = open
      let token = ''
      for (; i < code.length && depth > 0; i++) {
        const c = code[i]
        if (c === '{' || c === '[' || c === '(') depth++
        else if (c === '}' || c === ']' || c === ')') depth--
        if (depth === 1 && c === ':' && /^[a-z_][a-z_0-9]*$/.test(token.trim())) keys.push(token.trim())
        token = depth === 1 && /[a-z_0-9\s]/.test(c) ? (c === ' ' || c === '\n' ? token : token + c) : ''
        if (depth === 1 && (c === ',' || c === '{')) token = ''
      }
      // shorthand properties ({ p_resource_id, p_start })
      const body = code.slice(open, i - 1)
      for (const s of body.split(',')) if (/^\s*[a-z_][a-z_0-9]*\s*$/.test(s)) keys.push(s.trim())
    }
    calls.push({ fn: m[1], keys })
  }
  return calls
}

test('every .rpc() snippet in the README names a real function and its real arguments', () => {
  const params = Object.fromEntries(
    sql(`SELECT string_agg(p.proname || '=' || coalesce(array_to_string(p.proargnames, ','), ''), ' ')
         FROM pg_proc p WHERE p.pronamespace = 'booking'::regnamespace AND p.prokind = 'f'`)
      .split(' ').map((entry) => { const [fn, args] = entry.split('='); return [fn, args ? args.split(',') : []] }))
  const calls = blocks.flatMap(rpcCalls)
  assert.ok(calls.length > 20, `found only ${calls.length} snippets`)
  const wrong = calls.flatMap(({ fn, keys }) =>
    !params[fn] ? [`${fn}: no such function`] : keys.filter((k) => !params[fn].includes(k)).map((k) => `${fn}: no argument ${k}`))
  assert.deepEqual(wrong, [])
  const rpcs = apiFunctions()
  const undocumented = rpcs.filter((fn) => !calls.some((c) => c.fn === fn))
  assert.deepEqual(undocumented, [], 'RPCs without a supabase-js snippet in the README')
})
