// Prepaid credits (seed 003) through PostgREST: staff sell credits (idempotent on the payment
// reference; service_role, as a payment webhook, names the organization), a client books with
// them (one credit per seat, debited in the same request, refused whole without enough), a direct
// insert pays the same way, a cancellation in time gives the credit back, the balance and the
// statement, the worker that closes expired lots, and the ledger's tables that nobody writes
// through the API. Each RPC with its success and its refusal. The fixtures hold no credit: this
// file uses people of its own (u-credit-ana and u-credit-ben, made clients of the lab here), its
// own payment references, and the Digital Lab on 1 to 3 April 2031 (New York time, UTC-4), away
// from the bookings the other files make or count.
import { test, before } from 'node:test'
import assert from 'node:assert/strict'
import { clientAs, jwt, sql, DIGITAL_LAB, LAB } from '../stack.mjs'

const ANA = 'u-credit-ana'
const BEN = 'u-credit-ben'
const as = async (sub) => clientAs(await jwt({ sub, role: 'authenticated' }))
const at = (day, hour) => `2031-04-0${day}T${hour}:00:00Z`
const balance = (user) => sql(`SELECT coalesce((SELECT balance FROM booking.credit_accounts
                                                WHERE organization_id = '${LAB}' AND user_id = '${user}'), 0)`)
const ledger = (user) => sql(`SELECT coalesce(string_agg(transaction_type || ' ' || amount, ', ' ORDER BY created_at), '')
                              FROM booking.credit_transactions WHERE user_id = '${user}'`)

// What the tests below share.
const state = {}

before(() => sql(`INSERT INTO booking.members (organization_id, user_id, role)
                  VALUES ('${LAB}', '${ANA}', 'client'), ('${LAB}', '${BEN}', 'client')`))

test('purchase_credits: staff sell credits; the same purchase again returns the same entry; a reused reference 409; a client 403', async () => {
  const staff = await clientAs('staff')
  const { data: bought, error, status } = await staff.rpc('purchase_credits',
    { p_user_id: ANA, p_amount: 3, p_payment_reference: 'e2e-credit-1', p_payment_method: 'card' })
  assert.equal(error, null)
  assert.equal(status, 200)
  assert.equal(bought.transaction_type, 'purchase')
  assert.equal(bought.amount, 3)
  assert.equal(bought.user_id, ANA)
  assert.equal(bought.organization_id, LAB, 'the only organization where u-staff has staff rights')
  assert.equal(bought.created_by, 'u-staff')
  assert.equal(bought.expires_at, null, 'a lot that never expires')
  assert.equal(balance(ANA), '3')

  const { data: again, error: replayed } = await staff.rpc('purchase_credits',
    { p_user_id: ANA, p_amount: 3, p_payment_reference: 'e2e-credit-1', p_payment_method: 'card' })
  assert.equal(replayed, null)
  assert.equal(again.id, bought.id, 'a retried purchase returns the first entry')
  assert.equal(balance(ANA), '3', 'and is not paid twice')

  const { error: reused, status: reusedStatus } = await staff.rpc('purchase_credits',
    { p_user_id: ANA, p_amount: 4, p_payment_reference: 'e2e-credit-1' })
  assert.equal(reusedStatus, 409)
  assert.equal(reused.code, 'PT409')
  assert.equal(reused.details, 'payment_reference_used')

  const ana = await as(ANA)
  const { error: denied, status: deniedStatus } = await ana.rpc('purchase_credits',
    { p_user_id: ANA, p_amount: 100, p_payment_reference: 'e2e-credit-self' })
  assert.equal(deniedStatus, 403)
  assert.equal(denied.code, '42501')
  const { error: zero, status: zeroStatus } = await staff.rpc('purchase_credits',
    { p_user_id: ANA, p_amount: 0, p_payment_reference: 'e2e-credit-zero' })
  assert.equal(zeroStatus, 400)
  assert.equal(zero.code, '22023')
  assert.equal(ledger(ANA), 'purchase 3', 'the refusals wrote nothing')
  state.never = bought
})

test('purchase_credits as service_role (a payment webhook): 400 without p_organization_id; with it, a lot that expires', async () => {
  const worker = await clientAs('service_role')
  const p_expires_at = new Date(Date.now() + 30 * 24 * 3600 * 1000).toISOString()
  const args = { p_user_id: ANA, p_amount: 2, p_payment_reference: 'e2e-credit-2', p_expires_at, p_payment_method: 'transfer' }
  const { error: unnamed, status: unnamedStatus } = await worker.rpc('purchase_credits', args)
  assert.equal(unnamedStatus, 400)
  assert.equal(unnamed.code, '22023')
  assert.match(unnamed.message, /p_organization_id must be given/)
  assert.equal(balance(ANA), '3')

  const { data: bought, error, status } = await worker.rpc('purchase_credits', { ...args, p_organization_id: LAB })
  assert.equal(error, null)
  assert.equal(status, 200)
  assert.equal(bought.amount, 2)
  assert.equal(new Date(bought.expires_at).toISOString(), p_expires_at)
  assert.equal(bought.payment_method, 'transfer')
  assert.equal(balance(ANA), '5')
  state.expiring = bought
})

test('book with p_use_credit: one credit per seat, from the lot that expires first; 409 insufficient_credit writes nothing', async () => {
  const ana = await as(ANA)
  const { data: made, error, status } = await ana.rpc('book', { p_resource_id: DIGITAL_LAB, p_start: at(1, 14), p_end: at(1, 15),
    p_seats: 2, p_title: 'Paid with credit', p_use_credit: true })
  assert.equal(error, null)
  assert.equal(status, 200)
  assert.equal(made.uses_credit, true)
  assert.equal(made.status, 'approved', 'the Digital Lab approves on its own')
  assert.equal(balance(ANA), '3', 'two seats, two credits')
  const debit = JSON.parse(sql(`SELECT row_to_json(t) FROM booking.credit_transactions t
                                WHERE booking_id = '${made.id}' AND transaction_type = 'appointment_debit'`))
  assert.equal(debit.amount, -2)
  assert.deepEqual(debit.metadata.lots, [{ lot: state.expiring.id, amount: 2 }], 'the lot that expires, before the one that never does')
  state.paid = made

  const { error: short, status: shortStatus } = await ana.rpc('book', { p_resource_id: DIGITAL_LAB, p_start: at(2, 14), p_end: at(2, 15),
    p_seats: 4, p_use_credit: true })
  assert.equal(shortStatus, 409)
  assert.equal(short.code, 'PT409')
  assert.equal(short.details, 'insufficient_credit')
  assert.match(short.message, /Not enough credit: 4 needed, 3 available/)
  assert.equal(sql(`SELECT count(*) FROM booking.bookings WHERE booked_by = '${ANA}' AND starts_at = '${at(2, 14)}'`), '0',
    'the booking was not written')
  assert.equal(balance(ANA), '3')

  // Without p_use_credit, a booking costs nothing (the default).
  const { data: free } = await ana.rpc('book', { p_resource_id: DIGITAL_LAB, p_start: at(2, 14), p_end: at(2, 15), p_seats: 4 })
  assert.equal(free.uses_credit, false)
  assert.equal(balance(ANA), '3')
})

test('.from(bookings).insert() with uses_credit pays the same way; a paid booking\'s uses_credit and seats do not change (403)', async () => {
  const ana = await as(ANA)
  const { data: row, error, status } = await ana.from('bookings')
    .insert({ organization_id: LAB, resource_id: DIGITAL_LAB, starts_at: at(3, 14), ends_at: at(3, 15), uses_credit: true })
    .select().single()
  assert.equal(error, null)
  assert.equal(status, 201)
  assert.equal(row.booked_by, ANA)
  assert.equal(row.uses_credit, true)
  assert.equal(balance(ANA), '2', 'one seat, one credit, debited with the insert')

  const { error: unpaid, status: unpaidStatus } = await ana.from('bookings').update({ uses_credit: false }).eq('id', row.id)
  assert.equal(unpaidStatus, 403)
  assert.equal(unpaid.code, '42501')
  const { error: seats, status: seatsStatus } = await ana.from('bookings').update({ seats: 3 }).eq('id', row.id)
  assert.equal(seatsStatus, 403)
  assert.equal(seats.code, '42501')
  assert.equal(sql(`SELECT uses_credit || ' ' || seats FROM booking.bookings WHERE id = '${row.id}'`), 'true 1')
  assert.equal(balance(ANA), '2')
})

test('set_booking_status cancelled, in time: the credits come back once, to the lots they came from', async () => {
  const ana = await as(ANA)
  const { data: cancelled, error } = await ana.rpc('set_booking_status', { p_booking_id: state.paid.id, p_status: 'cancelled' })
  assert.equal(error, null)
  assert.equal(cancelled.status, 'cancelled')
  assert.equal(balance(ANA), '4', 'the two credits back')
  assert.equal(sql(`SELECT remaining FROM booking.credit_lots WHERE id = '${state.expiring.id}'`), '2', 'to the lot they came from')
  const { error: twice, status } = await ana.rpc('set_booking_status', { p_booking_id: state.paid.id, p_status: 'cancelled' })
  assert.equal(status, 409)
  assert.equal(twice.details, 'transition')
  assert.equal(ledger(ANA), 'purchase 3, purchase 2, appointment_debit -2, appointment_debit -1, cancellation_refund 2', 'refunded once')
})

test('get_credit_balance: one\'s own; staff for a client of theirs; nothing for another client; anonymous 401', async () => {
  const ana = await as(ANA)
  const { data: mine, error, status } = await ana.rpc('get_credit_balance', {}, { get: true })
  assert.equal(error, null)
  assert.equal(status, 200)
  assert.equal(mine.length, 1)
  const [row] = mine
  assert.deepEqual([row.organization_id, row.user_id, row.balance, row.available, row.lifetime_purchased, row.lifetime_used, row.next_expiry_amount],
    [LAB, ANA, 4, 4, 5, 1, 2])
  assert.equal(new Date(row.next_expiry_at).toISOString(), new Date(state.expiring.expires_at).toISOString(), 'the lot bought by transfer')

  const { data: forStaff } = await (await clientAs('staff')).rpc('get_credit_balance', { p_user_id: ANA }, { get: true })
  assert.deepEqual(forStaff, mine)
  const { data: forBen, error: benError } = await (await as(BEN)).rpc('get_credit_balance', { p_user_id: ANA }, { get: true })
  assert.equal(benError, null)
  assert.deepEqual(forBen, [], 'another client learns nothing')
  const { data: forOutsider } = await (await clientAs('outsider')).rpc('get_credit_balance', { p_user_id: ANA }, { get: true })
  assert.deepEqual(forOutsider, [], 'another organization\'s staff neither')
  const { data: accounts } = await (await as(BEN)).from('credit_accounts').select('user_id')
  assert.deepEqual(accounts, [], 'nor through the table')

  const { error: nobody, status: anonStatus } = await (await clientAs('anon')).rpc('get_credit_balance', {}, { get: true })
  assert.equal(anonStatus, 401)
  assert.equal(nobody.code, '42501')
})

test('get_credit_statement: pages of one\'s ledger, newest first; staff read a client\'s; 400 for p_limit 501', async () => {
  const ana = await as(ANA)
  const { data: page, error, status } = await ana.rpc('get_credit_statement', { p_limit: 2 }, { get: true })
  assert.equal(error, null)
  assert.equal(status, 200)
  assert.deepEqual(page.map((t) => [t.transaction_type, t.amount]), [['cancellation_refund', 2], ['appointment_debit', -1]])
  assert.equal(page[0].booking_id, state.paid.id)
  const { data: next } = await ana.rpc('get_credit_statement', { p_limit: 2, p_offset: 2 }, { get: true })
  assert.deepEqual(next.map((t) => [t.transaction_type, t.amount]), [['appointment_debit', -2], ['purchase', 2]])

  const { data: all } = await (await clientAs('staff')).rpc('get_credit_statement', { p_user_id: ANA }, { get: true })
  assert.equal(all.length, 5)
  assert.equal(all[4].id, state.never.id, 'the oldest last')
  const { data: hidden } = await (await as(BEN)).rpc('get_credit_statement', { p_user_id: ANA }, { get: true })
  assert.deepEqual(hidden, [])

  const { error: big, status: bigStatus } = await ana.rpc('get_credit_statement', { p_limit: 501 }, { get: true })
  assert.equal(bigStatus, 400)
  assert.equal(big.code, '22023')
})

test('expire_credits: an expired lot is never spent; a worker (service_role) closes it with an expiry entry; users 403', async () => {
  const worker = await clientAs('service_role')
  const { data: lot, error: bought } = await worker.rpc('purchase_credits', { p_user_id: BEN, p_amount: 1,
    p_payment_reference: 'e2e-credit-3', p_expires_at: new Date(Date.now() + 3600 * 1000).toISOString(), p_organization_id: LAB })
  assert.equal(bought, null)
  // An hour later, as far as the lot knows (the superuser moves its expiry into the past, as time passing).
  sql(`UPDATE booking.credit_lots SET expires_at = now() - interval '1 minute' WHERE id = '${lot.id}'`)
  const ben = await as(BEN)
  const { data: [read] } = await ben.rpc('get_credit_balance', {}, { get: true })
  assert.deepEqual([read.balance, read.available], [1, 0], 'counted until closed, but not available')
  const { error: expired, status: expiredStatus } = await ben.rpc('book', { p_resource_id: DIGITAL_LAB, p_start: at(1, 15), p_end: at(1, 16),
    p_use_credit: true })
  assert.equal(expiredStatus, 409)
  assert.equal(expired.details, 'insufficient_credit', 'an expired credit is never spent')

  const { error: denied, status } = await (await clientAs('staff')).rpc('expire_credits', {})
  assert.equal(status, 403)
  assert.equal(denied.code, '42501')
  const { data: closed, error, status: okStatus } = await worker.rpc('expire_credits', {})
  assert.equal(error, null)
  assert.equal(okStatus, 200)
  assert.equal(closed, 1)
  assert.equal(balance(BEN), '0')
  assert.equal(sql(`SELECT transaction_type || ' ' || amount FROM booking.credit_transactions
                    WHERE lot_id = '${lot.id}' AND transaction_type = 'expiry'`), 'expiry -1')
  assert.equal((await worker.rpc('expire_credits', {})).data, 0, 'nothing left to close')
})

test('the accounts, lots and ledger are written by the credits functions only: not by staff, not even by service_role', async () => {
  const before = sql(`SELECT count(*) || ' ' || sum(amount) FROM booking.credit_transactions`) + ' ' + balance(ANA)
  const account = sql(`SELECT id FROM booking.credit_accounts WHERE user_id = '${ANA}'`)
  for (const persona of ['staff', 'service_role']) {
    const api = await clientAs(persona)
    for (const [what, request] of [
      ['insert an account', api.from('credit_accounts').insert({ organization_id: LAB, user_id: 'u-credit-forged', balance: 100 })],
      ['raise a balance', api.from('credit_accounts').update({ balance: 100 }).eq('user_id', ANA)],
      ['insert a ledger entry', api.from('credit_transactions').insert({ organization_id: LAB, account_id: account, user_id: ANA,
        transaction_type: 'adjustment', amount: 100, created_by: 'u-staff' })],
      ['rewrite a ledger entry', api.from('credit_transactions').update({ amount: 100 }).eq('id', state.never.id)],
      ['delete a ledger entry', api.from('credit_transactions').delete().eq('id', state.never.id)],
      ['insert a lot', api.from('credit_lots').insert({ id: crypto.randomUUID(), organization_id: LAB, account_id: account,
        amount: 100, remaining: 100 })],
      ['refill a lot', api.from('credit_lots').update({ remaining: 3 }).eq('id', state.never.id)],
    ]) {
      const { error, status } = await request
      assert.equal(status, 403, `${persona}: ${what}`)
      assert.equal(error.code, '42501', `${persona}: ${what}`)
    }
  }
  assert.equal(sql(`SELECT count(*) || ' ' || sum(amount) FROM booking.credit_transactions`) + ' ' + balance(ANA), before, 'nothing written')
  // Reading is allowed: service_role reads every ledger entry.
  const { data: rows, error } = await (await clientAs('service_role')).from('credit_transactions').select('id').eq('user_id', ANA)
  assert.equal(error, null)
  assert.equal(rows.length, 5)
})
