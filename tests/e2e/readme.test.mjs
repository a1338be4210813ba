// The documentation's supabase-js snippets cannot rot: every .rpc() call in the js blocks of
// README.md and of every docs/*.md names a function the API has, with argument names that
// function takes, and every RPC of the API has at least one snippet in one of those files.
// (The calls themselves, with their answers, are made by api/*.test.mjs.)
//
// Which files: README.md, then docs/*.md sorted by name (read when the test runs, so a new page
// is checked without touching this file). Which blocks: every ```js block, each on its own;
// the check needs no state, so the order only makes failures read the same from run to run.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync, readdirSync } from 'node:fs'
import { apiFunctions, sql } from './stack.mjs'

const root = new URL('../../', import.meta.url)
const documentationFiles = () => ['README.md', ...readdirSync(new URL('docs/', root))
  .filter((name) => name.endsWith('.md')).sort().map((name) => `docs/${name}`)]
const jsBlocks = (file) =>
  [...readFileSync(new URL(file, root), 'utf8').matchAll(/```js\n([\s\S]*?)```/g)].map((m) => ({ file, code: m[1] }))
const blocks = documentationFiles().flatMap(jsBlocks)

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

test('every .rpc() snippet in the README and docs/ names a real function and its real arguments', () => {
  const params = Object.fromEntries(
    sql(`SELECT string_agg(p.proname || '=' || coalesce(array_to_string(p.proargnames, ','), ''), ' ')
         FROM pg_proc p WHERE p.pronamespace = 'booking'::regnamespace AND p.prokind = 'f'`)
      .split(' ').map((entry) => { const [fn, args] = entry.split('='); return [fn, args ? args.split(',') : []] }))
  const calls = blocks.flatMap(({ file, code }) => rpcCalls(code).map((call) => ({ ...call, file })))
  assert.ok(calls.length > 20, `found only ${calls.length} snippets`)
  const wrong = calls.flatMap(({ file, fn, keys }) =>
    !params[fn] ? [`${file}: ${fn}: no such function`]
      : keys.filter((k) => !params[fn].includes(k)).map((k) => `${file}: ${fn}: no argument ${k}`))
  assert.deepEqual(wrong, [])
  const rpcs = apiFunctions()
  const undocumented = rpcs.filter((fn) => !calls.some((c) => c.fn === fn))
  assert.deepEqual(undocumented, [], 'RPCs without a supabase-js snippet in the README or docs/')
})
