-- Credits: purchases (idempotent), bookings paid with credit (debited with the booking, refused
-- whole when the account cannot pay), refunds exactly once per the policy, lots spent
-- soonest-expiring first and never once expired, the ledger's invariants, and who may do what.
-- Every account: balance = the sum of its ledger = the sum of its lots' remainders, never negative.
CREATE FUNCTION pg_temp.ledger_holds() RETURNS boolean LANGUAGE sql AS $$
  SELECT bool_and(a.balance >= 0
                  AND a.balance = coalesce((SELECT sum(t.amount) FROM booking.credit_transactions t WHERE t.account_id = a.id), 0)
                  AND a.balance = coalesce((SELECT sum(l.remaining) FROM booking.credit_lots l WHERE l.account_id = a.id), 0))
  FROM booking.credit_accounts a
$$;
CREATE FUNCTION pg_temp.balance(p_user text) RETURNS integer LANGUAGE sql AS $$
  SELECT balance FROM booking.credit_accounts WHERE organization_id = '00000000-0000-4000-a000-000000000001' AND user_id = p_user
$$;

-- Purchases: staff or service_role; idempotent on the payment reference.
DO $$
DECLARE
  t1 booking.credit_transactions;
  t2 booking.credit_transactions;
BEGIN
  PERFORM pg_temp.act_as('client');
  PERFORM pg_temp.check(pg_temp.refusal('SELECT booking.purchase_credits(''u-client'', 5, ''pay-0'')') = '42501/', 'a client does not sell credits');
  PERFORM pg_temp.act_as('staff');
  t1 := booking.purchase_credits('u-client', 3, 'pay-1', NULL, NULL, 'card');
  PERFORM pg_temp.check(t1.transaction_type = 'purchase' AND t1.amount = 3 AND t1.created_by = 'u-staff', 'three credits bought');
  t2 := booking.purchase_credits('u-client', 3, 'pay-1', NULL, NULL, 'card');
  PERFORM pg_temp.check(t2.id = t1.id, 'the same purchase again returns the first');
  PERFORM pg_temp.check(pg_temp.refusal('SELECT booking.purchase_credits(''u-client'', 4, ''pay-1'')') = 'PT409/payment_reference_used',
                        'a payment reference used for another purchase: PT409');
  PERFORM pg_temp.check(pg_temp.refusal('SELECT booking.purchase_credits(''u-client'', 0, ''pay-x'')') = '22023/', 'zero credits: 22023');
  PERFORM pg_temp.check(pg_temp.refusal('SELECT booking.purchase_credits(''u-client'', 1, ''pay-x'', now() - interval ''1 day'')') = '22023/',
                        'a lot that expired already: 22023');
  PERFORM pg_temp.check(pg_temp.refusal('SELECT booking.purchase_credits(''u-client'', 1, repeat(''r'', 201))') = '22023/', 'a reference over 200 characters');
  t2 := booking.purchase_credits('u-client', 2, 'pay-2', now() + interval '1 hour');
  INSERT INTO ids VALUES ('lot1', t1.id), ('lot2', t2.id);
  PERFORM pg_temp.act_as('service_role');
  PERFORM pg_temp.check(pg_temp.refusal('SELECT booking.purchase_credits(''u-client'', 1, ''pay-3'')') = '22023/', 'service_role names the organization');
  PERFORM booking.purchase_credits('u-client2', 1, 'pay-3', NULL, '00000000-0000-4000-a000-000000000001');
  PERFORM pg_temp.act_as('client');
  PERFORM pg_temp.check((SELECT (balance, available, lifetime_purchased, next_expiry_amount) = (5, 5, 5, 2)
                         FROM booking.get_credit_balance()), 'the client''s balance: 5, 2 of them expiring in an hour');
  PERFORM pg_temp.check(pg_temp.refusal('SELECT * FROM booking.get_credit_balance(''u-client2'')') = '' AND
                        NOT EXISTS (SELECT 1 FROM booking.get_credit_balance('u-client2')), 'someone else''s balance: nothing');
  PERFORM pg_temp.check((SELECT count(*) FROM booking.credit_accounts) = 1, 'a client sees their own account only');
  PERFORM pg_temp.act_as('superuser');
END $$;

-- Paying with credit: the soonest-expiring lot first; the booking and its debit are one write.
DO $$
DECLARE
  b booking.bookings;
BEGIN
  PERFORM pg_temp.act_as('client');
  b := booking.book('00000000-0000-4000-a000-000000000101', '2031-03-03 11:00 America/New_York', '2031-03-03 12:00 America/New_York',
                    1, NULL, 'Paid VR', NULL, true);
  PERFORM pg_temp.check(b.uses_credit, 'booked with credit');
  INSERT INTO ids VALUES ('vr', b.id);
  PERFORM pg_temp.check(pg_temp.balance('u-client') = 4, 'one credit debited');
  PERFORM pg_temp.check((SELECT remaining FROM booking.credit_lots WHERE id = pg_temp.id('lot2')) = 1, 'from the lot that expires first');
  b := booking.book('00000000-0000-4000-a000-000000000103', '2031-03-03 14:00 America/New_York', '2031-03-03 16:00 America/New_York',
                    2, NULL, 'Paid lab', NULL, true);
  INSERT INTO ids VALUES ('lab', b.id);
  PERFORM pg_temp.check(pg_temp.balance('u-client') = 2, 'two seats, two credits');
  PERFORM pg_temp.check(ROW((SELECT remaining FROM booking.credit_lots WHERE id = pg_temp.id('lot2')),
                            (SELECT remaining FROM booking.credit_lots WHERE id = pg_temp.id('lot1'))) = ROW(0, 2),
                        'the expiring lot emptied first, then the one that never expires');
  PERFORM pg_temp.check((SELECT metadata -> 'lots' FROM booking.credit_transactions WHERE booking_id = b.id)
                        = jsonb_build_array(jsonb_build_object('lot', pg_temp.id('lot2'), 'amount', 1),
                                            jsonb_build_object('lot', pg_temp.id('lot1'), 'amount', 1)), 'the debit says which lots');
  PERFORM pg_temp.check(pg_temp.refusal($q$SELECT booking.book('00000000-0000-4000-a000-000000000103', '2031-03-04 14:00 America/New_York',
                                          '2031-03-04 15:00 America/New_York', 3, NULL, NULL, NULL, true)$q$) = 'PT409/insufficient_credit',
                        'three seats with two credits: PT409 insufficient_credit');
  PERFORM pg_temp.check(NOT EXISTS (SELECT 1 FROM booking.bookings WHERE starts_at = '2031-03-04 14:00 America/New_York')
                        AND pg_temp.balance('u-client') = 2, 'and nothing was written');
  -- a direct insert pays the same way
  INSERT INTO booking.bookings (organization_id, resource_id, starts_at, ends_at, uses_credit)
  VALUES ('00000000-0000-4000-a000-000000000001', '00000000-0000-4000-a000-000000000103',
          '2031-03-05 14:00 America/New_York', '2031-03-05 15:00 America/New_York', true)
  RETURNING * INTO b;
  INSERT INTO ids VALUES ('direct', b.id);
  PERFORM pg_temp.check(pg_temp.balance('u-client') = 1, 'a direct insert with uses_credit pays too');
  PERFORM pg_temp.check(pg_temp.refusal(format('UPDATE booking.bookings SET uses_credit = false WHERE id = %L', b.id)) = '42501/',
                        'uses_credit never changes');
  PERFORM pg_temp.check(pg_temp.refusal(format('UPDATE booking.bookings SET seats = 3 WHERE id = %L', pg_temp.id('lab'))) = '42501/',
                        'nor the seats a booking paid for');
  PERFORM pg_temp.check(pg_temp.refusal('INSERT INTO booking.credit_accounts (organization_id, user_id, balance) VALUES (''00000000-0000-4000-a000-000000000001'', ''u-client'', 99)') = '42501/',
                        'nobody writes an account');
  PERFORM pg_temp.act_as('superuser');
  PERFORM pg_temp.check(pg_temp.ledger_holds(), 'balances = ledgers = lots');
END $$;

-- Refunds: exactly once, to the lots the debit came from; late ones per the policy; a rejected
-- booking always.
DO $$
DECLARE
  b booking.bookings;
BEGIN
  PERFORM pg_temp.act_as('client');
  PERFORM booking.set_booking_status(pg_temp.id('lab'), 'cancelled');
  PERFORM pg_temp.check(pg_temp.balance('u-client') = 3, 'the two credits back');
  PERFORM pg_temp.check(ROW((SELECT remaining FROM booking.credit_lots WHERE id = pg_temp.id('lot2')),
                            (SELECT remaining FROM booking.credit_lots WHERE id = pg_temp.id('lot1'))) = ROW(1, 2),
                        'to the lots they came from');
  PERFORM pg_temp.check(pg_temp.refusal(format('SELECT booking.set_booking_status(%L, ''cancelled'')', pg_temp.id('lab'))) LIKE 'PT409/%'
                        AND (SELECT count(*) FROM booking.credit_transactions WHERE booking_id = pg_temp.id('lab') AND transaction_type = 'cancellation_refund') = 1,
                        'cancelling again refunds nothing more');
  -- a late cancellation: forfeited by default, refunded when the policy says so
  PERFORM pg_temp.act_as('superuser');
  INSERT INTO booking.bookings (organization_id, resource_id, booked_by, starts_at, ends_at, status, uses_credit)
  VALUES ('00000000-0000-4000-a000-000000000001', '00000000-0000-4000-a000-000000000103', 'u-client',
          now() + interval '2 hours', now() + interval '3 hours', 'approved', true) RETURNING * INTO b;
  PERFORM pg_temp.check(pg_temp.balance('u-client') = 2, 'a booking in two hours, paid');
  UPDATE booking.bookings SET status = 'cancelled' WHERE id = b.id;
  PERFORM pg_temp.check(pg_temp.balance('u-client') = 2, 'cancelled within the day: the credit is forfeit');
  PERFORM pg_temp.act_as('admin');
  INSERT INTO booking.credit_policies (organization_id, refund_deadline_minutes, late_cancellation)
  VALUES ('00000000-0000-4000-a000-000000000001', 60, 'refund');
  PERFORM pg_temp.act_as('superuser');
  INSERT INTO booking.bookings (organization_id, resource_id, booked_by, starts_at, ends_at, status, uses_credit)
  VALUES ('00000000-0000-4000-a000-000000000001', '00000000-0000-4000-a000-000000000103', 'u-client',
          now() + interval '30 minutes', now() + interval '90 minutes', 'approved', true) RETURNING * INTO b;
  UPDATE booking.bookings SET status = 'cancelled' WHERE id = b.id;
  PERFORM pg_temp.check(pg_temp.balance('u-client') = 2, 'the policy refunds late cancellations');
  -- a request staff reject: refunded whatever the time
  PERFORM pg_temp.act_as('client');
  b := booking.book('00000000-0000-4000-a000-000000000102', '2031-03-06 11:00 America/New_York', '2031-03-06 12:00 America/New_York',
                    1, NULL, NULL, NULL, true);
  PERFORM pg_temp.check(b.status = 'pending' AND pg_temp.balance('u-client') = 1, 'a request paid');
  PERFORM pg_temp.act_as('staff');
  PERFORM booking.set_booking_status(b.id, 'rejected', 'printer broken');
  PERFORM pg_temp.check(pg_temp.balance('u-client') = 2, 'rejected: refunded');
  PERFORM pg_temp.act_as('superuser');
  PERFORM pg_temp.check(pg_temp.ledger_holds(), 'balances = ledgers = lots');
END $$;

-- Expiry: never spent once expired, closed when touched or by expire_credits, even after a refund.
DO $$
DECLARE
  t booking.credit_transactions;
BEGIN
  PERFORM pg_temp.act_as('staff');
  t := booking.purchase_credits('u-client', 1, 'pay-4', now() + interval '1 hour');
  INSERT INTO ids VALUES ('lot3', t.id);
  PERFORM pg_temp.act_as('superuser');
  -- an hour later, as far as the lots know: lot3 (1 left) and lot2 (empty) have expired
  UPDATE booking.credit_lots SET expires_at = now() - interval '1 minute' WHERE id IN (pg_temp.id('lot2'), pg_temp.id('lot3'));
  PERFORM pg_temp.act_as('client');
  PERFORM pg_temp.check((SELECT (balance, available) = (3, 2) FROM booking.get_credit_balance()), 'the expired credit is not available');
  PERFORM pg_temp.check(pg_temp.refusal($q$SELECT booking.book('00000000-0000-4000-a000-000000000103', '2031-03-07 14:00 America/New_York',
                                          '2031-03-07 15:00 America/New_York', 3, NULL, NULL, NULL, true)$q$) = 'PT409/insufficient_credit',
                        'nor spent: three seats with two credits that have not expired');
  PERFORM pg_temp.check(pg_temp.refusal('SELECT booking.expire_credits()') = '42501/', 'expire_credits is for service_role');
  PERFORM pg_temp.act_as('service_role');
  PERFORM pg_temp.check(booking.expire_credits() = 1, 'one lot closed');
  PERFORM pg_temp.check(booking.expire_credits() = 0, 'and only once');
  PERFORM pg_temp.act_as('superuser');
  PERFORM pg_temp.check(pg_temp.balance('u-client') = 2
                        AND (SELECT amount FROM booking.credit_transactions WHERE lot_id = pg_temp.id('lot3') AND transaction_type = 'expiry') = -1,
                        'an expiry entry takes it off the balance');
  -- cancelling the VR booking refunds to lot2, expired: the credit comes back and expires at once
  PERFORM pg_temp.act_as('client');
  PERFORM booking.set_booking_status(pg_temp.id('vr'), 'cancelled');
  PERFORM pg_temp.act_as('superuser');
  PERFORM pg_temp.check(pg_temp.balance('u-client') = 2 AND (SELECT remaining FROM booking.credit_lots WHERE id = pg_temp.id('lot2')) = 0
                        AND (SELECT count(*) FROM booking.credit_transactions WHERE lot_id = pg_temp.id('lot2') AND transaction_type = 'expiry') = 1,
                        'a refund to an expired lot is refunded and expired');
  PERFORM pg_temp.check(pg_temp.ledger_holds(), 'balances = ledgers = lots');
  PERFORM pg_temp.check(pg_temp.refusal(format('UPDATE booking.credit_transactions SET amount = 100 WHERE id = %L', pg_temp.id('lot1'))) = '42501/',
                        'the ledger is append-only, for everyone');
END $$;

-- The statement, and who sees what.
DO $$
BEGIN
  PERFORM pg_temp.act_as('client');
  PERFORM pg_temp.check((SELECT count(*) FROM booking.get_credit_statement()) >= 8, 'the client''s statement');
  PERFORM pg_temp.check((SELECT transaction_type FROM booking.get_credit_statement(NULL, 1)) = 'cancellation_refund' OR
                        (SELECT transaction_type FROM booking.get_credit_statement(NULL, 1)) = 'expiry', 'newest first');
  PERFORM pg_temp.check(pg_temp.refusal('SELECT * FROM booking.get_credit_statement(NULL, 501)') = '22023/', 'a page of 501: 22023');
  PERFORM pg_temp.check(NOT EXISTS (SELECT 1 FROM booking.get_credit_statement('u-client2')), 'not someone else''s');
  PERFORM pg_temp.act_as('staff');
  PERFORM pg_temp.check((SELECT count(*) FROM booking.get_credit_statement('u-client')) >= 8, 'staff read a client''s statement');
  PERFORM pg_temp.check((SELECT balance FROM booking.get_credit_balance('u-client')) = 2, 'and their balance');
  PERFORM pg_temp.act_as('outsider');
  PERFORM pg_temp.check(NOT EXISTS (SELECT 1 FROM booking.get_credit_balance('u-client')), 'another organization''s staff see nothing');
  PERFORM pg_temp.act_as('anon');
  PERFORM pg_temp.check(pg_temp.refusal('SELECT * FROM booking.get_credit_balance()') = '42501/', 'anonymous: 42501');
  PERFORM pg_temp.act_as('superuser');
END $$;

-- A paid booking deleted by staff is refunded, once.
DO $$
DECLARE
  b booking.bookings;
  v_before integer;
BEGIN
  PERFORM pg_temp.act_as('client');
  b := booking.book('00000000-0000-4000-a000-000000000103', '2031-03-08 14:00 America/New_York', '2031-03-08 15:00 America/New_York',
                    1, NULL, NULL, NULL, true);
  PERFORM pg_temp.act_as('superuser');
  v_before := pg_temp.balance('u-client');
  PERFORM pg_temp.act_as('staff');
  DELETE FROM booking.bookings WHERE id = b.id;
  PERFORM pg_temp.act_as('superuser');
  PERFORM pg_temp.check(pg_temp.balance('u-client') = v_before + 1
                        AND (SELECT reason FROM booking.credit_transactions WHERE booking_id = b.id AND transaction_type = 'cancellation_refund') = 'the booking was deleted',
                        'deleted: refunded');
  PERFORM pg_temp.check(pg_temp.ledger_holds(), 'balances = ledgers = lots');
END $$;

-- Deleting an organization deletes its accounts and lots (its paid bookings are not refunded
-- into an account being deleted); a replayed purchase returns its entry even once its lot expired.
DO $$
DECLARE
  t  booking.credit_transactions;
  t2 booking.credit_transactions;
BEGIN
  PERFORM pg_temp.act_as('staff');
  t := booking.purchase_credits('u-member', 2, 'pay-9', now() + interval '1 hour');
  PERFORM pg_temp.act_as('superuser');
  UPDATE booking.credit_lots SET expires_at = now() - interval '1 minute' WHERE id = t.id;
  PERFORM pg_temp.act_as('staff');
  t2 := booking.purchase_credits('u-member', 2, 'pay-9', t.expires_at);
  PERFORM pg_temp.check(t2.id = t.id, 'a replay after the lot expired returns the first entry');
  PERFORM pg_temp.act_as('superuser');
  DELETE FROM booking.organizations WHERE id = '00000000-0000-4000-a000-000000000001';
  PERFORM pg_temp.check(NOT EXISTS (SELECT 1 FROM booking.credit_accounts) AND NOT EXISTS (SELECT 1 FROM booking.credit_lots),
                        'the organization''s accounts and lots went with it');
  PERFORM pg_temp.check(EXISTS (SELECT 1 FROM booking.credit_transactions WHERE organization_id = '00000000-0000-4000-a000-000000000001'),
                        'its ledger stays, like the audit log');
END $$;
