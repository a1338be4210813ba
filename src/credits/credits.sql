-- booking_ext, module credits: prepaid credits (seed 003). A person holds an account per
-- organization; every change of its balance is an entry of an append-only ledger
-- (booking.credit_transactions: purchase, appointment_debit, cancellation_refund, adjustment,
-- expiry), written in the same transaction as what caused it, by this module's functions only
-- (the API roles, service_role included, may read these tables but not write them).
--
-- Purchases are lots, spent soonest-expiring first (lots that never expire last); an expired
-- lot is never spent: its remainder leaves the balance as an `expiry` entry when the account
-- is next touched or when booking.expire_credits() runs. A booking made with `uses_credit`
-- costs one credit per seat, debited when it is written (PT409 `insufficient_credit`, and
-- nothing written, when the account cannot pay); cancelling it refunds the debit exactly once
-- (to the lots it came from, with their expiry) when the organization's policy says so
-- (booking.credit_policies: before the refund deadline always; after it per
-- `late_cancellation`); a rejected or deleted booking is always refunded.
--
-- Invariants the tables keep: a balance is never negative (CHECK); a lot's remainder is
-- between 0 and its amount (CHECK); one debit and at most one refund per booking (unique
-- indexes); one purchase per payment reference and organization (unique index). The balance
-- equals the sum of the account's ledger entries and of its lots' remainders: both are written
-- only by post_credit, under the account's row lock.

CREATE TABLE booking.credit_policies (
  organization_id         uuid PRIMARY KEY REFERENCES booking.organizations (id) ON DELETE CASCADE,
  -- a cancellation at least this long before the start is refunded
  refund_deadline_minutes integer NOT NULL DEFAULT 1440 CHECK (refund_deadline_minutes BETWEEN 0 AND 525600),
  -- a later one: the credit is kept by the organization ('forfeit') or refunded all the same
  late_cancellation       text NOT NULL DEFAULT 'forfeit' CHECK (late_cancellation IN ('forfeit', 'refund')),
  created_at              timestamptz NOT NULL DEFAULT now(),
  updated_at              timestamptz NOT NULL DEFAULT now()
);
SELECT booking_internal.register_table('credit_policies', 'credits', true, 'credit_policy', 'organization_id');

CREATE TABLE booking.credit_accounts (
  id                 uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  organization_id    uuid NOT NULL REFERENCES booking.organizations (id) ON DELETE CASCADE,
  user_id            text NOT NULL CHECK (length(user_id) > 0) CONSTRAINT credit_accounts_user_id_size CHECK (length(user_id) <= 200),
  balance            integer NOT NULL DEFAULT 0 CONSTRAINT credit_accounts_balance_not_negative CHECK (balance >= 0),
  lifetime_purchased integer NOT NULL DEFAULT 0 CHECK (lifetime_purchased >= 0),
  lifetime_used      integer NOT NULL DEFAULT 0 CHECK (lifetime_used >= 0),
  created_at         timestamptz NOT NULL DEFAULT now(),
  updated_at         timestamptz NOT NULL DEFAULT now(),
  UNIQUE (id, organization_id),
  CONSTRAINT credit_accounts_one_per_person UNIQUE (organization_id, user_id)
);
CREATE INDEX credit_accounts_user_id_idx ON booking.credit_accounts (user_id);
-- Not audited: the ledger is its record.
SELECT booking_internal.register_table('credit_accounts', 'credits', false);

CREATE TABLE booking.credit_transactions (
  id                uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  organization_id   uuid NOT NULL,
  account_id        uuid NOT NULL,
  user_id           text NOT NULL,
  transaction_type  text NOT NULL
                    CHECK (transaction_type IN ('purchase', 'appointment_debit', 'cancellation_refund', 'adjustment', 'expiry')),
  amount            integer NOT NULL,
  -- the booking a debit paid for or a refund gave back
  booking_id        uuid,
  -- an expiry's lot; a refund's debit
  lot_id            uuid,
  refund_of         uuid,
  -- purchases: when the lot expires (NULL: never)
  expires_at        timestamptz,
  payment_method    text CONSTRAINT credit_transactions_payment_method_size CHECK (length(payment_method) <= 100),
  payment_reference text CONSTRAINT credit_transactions_payment_reference_size CHECK (length(payment_reference) <= 200),
  reason            text CONSTRAINT credit_transactions_reason_size CHECK (length(reason) <= 4000),
  -- a debit's lots: {"lots": [{"lot": id, "amount": n}, ...]}
  metadata          jsonb NOT NULL DEFAULT '{}'::jsonb,
  created_by        text NOT NULL,
  created_at        timestamptz NOT NULL DEFAULT clock_timestamp(),
  CONSTRAINT credit_transactions_sign CHECK (CASE transaction_type
                                               WHEN 'purchase' THEN amount > 0
                                               WHEN 'cancellation_refund' THEN amount > 0
                                               WHEN 'appointment_debit' THEN amount < 0
                                               WHEN 'expiry' THEN amount < 0
                                               ELSE amount <> 0 END)
  -- No foreign keys, like the audit log: the ledger of a deleted account or tenant stays.
);
CREATE INDEX credit_transactions_account_idx ON booking.credit_transactions (account_id, organization_id, created_at);
CREATE INDEX credit_transactions_organization_id_idx ON booking.credit_transactions (organization_id, created_at);
CREATE UNIQUE INDEX credit_transactions_one_purchase_per_payment ON booking.credit_transactions (organization_id, payment_reference)
  WHERE transaction_type = 'purchase';
CREATE UNIQUE INDEX credit_transactions_one_debit_per_booking ON booking.credit_transactions (booking_id)
  WHERE transaction_type = 'appointment_debit';
CREATE UNIQUE INDEX credit_transactions_one_refund_per_debit ON booking.credit_transactions (refund_of)
  WHERE refund_of IS NOT NULL;
SELECT booking_internal.register_table('credit_transactions', 'credits', false);

-- A lot: what is left of a purchase (or of a positive adjustment), and when it expires.
CREATE TABLE booking.credit_lots (
  -- the ledger entry that made it
  id              uuid PRIMARY KEY,
  organization_id uuid NOT NULL,
  account_id      uuid NOT NULL,
  amount          integer NOT NULL CHECK (amount > 0),
  remaining       integer NOT NULL CONSTRAINT credit_lots_remaining_within_amount CHECK (remaining BETWEEN 0 AND amount),
  expires_at      timestamptz,
  created_at      timestamptz NOT NULL DEFAULT clock_timestamp(),
  updated_at      timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT credit_lots_account_same_organization FOREIGN KEY (account_id, organization_id)
    REFERENCES booking.credit_accounts (id, organization_id) ON DELETE CASCADE
);
-- The lots an account spends from, in the order it spends them.
CREATE INDEX credit_lots_spending_idx ON booking.credit_lots (account_id, organization_id, expires_at NULLS LAST, created_at)
  WHERE remaining > 0;
CREATE INDEX credit_lots_expiring_idx ON booking.credit_lots (expires_at) WHERE remaining > 0 AND expires_at IS NOT NULL;
SELECT booking_internal.register_table('credit_lots', 'credits', false);

-- The ledger is appended to, never rewritten.
CREATE TRIGGER credit_transactions_append_only BEFORE UPDATE OR DELETE ON booking.credit_transactions
  FOR EACH ROW EXECUTE FUNCTION booking_internal.append_only();
CREATE TRIGGER credit_transactions_no_truncate BEFORE TRUNCATE ON booking.credit_transactions
  FOR EACH STATEMENT EXECUTE FUNCTION booking_internal.append_only();

-- ---------------------------------------------------------------------------------------------
-- The ledger's one writer: an account's row locked, its expired lots closed, an entry posted.
-- ---------------------------------------------------------------------------------------------

-- The account of a person in an organization, created if missing, locked for the rest of the
-- transaction (its writers take turns), its expired lots closed first (an `expiry` entry each).
CREATE FUNCTION booking_internal.lock_credit_account(p_organization_id uuid, p_user_id text)
RETURNS booking.credit_accounts
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_account booking.credit_accounts;
  v_lot     booking.credit_lots;
BEGIN
  INSERT INTO booking.credit_accounts (organization_id, user_id) VALUES (p_organization_id, p_user_id)
  ON CONFLICT (organization_id, user_id) DO NOTHING;
  SELECT * INTO v_account FROM booking.credit_accounts
  WHERE organization_id = p_organization_id AND user_id = p_user_id
  FOR UPDATE;
  FOR v_lot IN SELECT * FROM booking.credit_lots
               WHERE account_id = v_account.id AND remaining > 0 AND expires_at <= now()
               ORDER BY expires_at, created_at LOOP
    v_account := booking_internal.post_credit(v_account, 'expiry', -v_lot.remaining, NULL, v_lot.id, NULL, NULL,
                                              NULL, NULL, 'the lot expired', '{}'::jsonb);
  END LOOP;
  RETURN v_account;
END $$;

-- Post one entry to a locked account: the ledger row, the balance and lifetime counters, and
-- the lots (a purchase or positive adjustment makes one; a debit spends the soonest-expiring
-- unexpired lots first and records which in its metadata; a refund gives back to the debit's
-- lots; an expiry empties its lot). Returns the account as it now is.
CREATE FUNCTION booking_internal.post_credit(p_account booking.credit_accounts, p_type text, p_amount integer,
                                             p_booking_id uuid, p_lot_id uuid, p_refund_of uuid,
                                             p_expires_at timestamptz, p_payment_method text,
                                             p_payment_reference text, p_reason text, p_metadata jsonb)
RETURNS booking.credit_accounts
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_id       uuid := gen_random_uuid();
  v_metadata jsonb := coalesce(p_metadata, '{}'::jsonb);
  v_left     integer;
  v_take     integer;
  v_lot      booking.credit_lots;
  v_lots     jsonb := '[]'::jsonb;
  v_back     record;
BEGIN
  IF p_type = 'appointment_debit' THEN
    IF p_account.balance < -p_amount THEN
      RAISE EXCEPTION 'Not enough credit: % needed, % available.', -p_amount, p_account.balance
        USING ERRCODE = 'PT409', DETAIL = 'insufficient_credit', HINT = 'Buy credits, or book without them.';
    END IF;
    v_left := -p_amount;
    FOR v_lot IN SELECT * FROM booking.credit_lots
                 WHERE account_id = p_account.id AND organization_id = p_account.organization_id AND remaining > 0
                   AND (expires_at IS NULL OR expires_at > now())
                 ORDER BY expires_at NULLS LAST, created_at LOOP
      EXIT WHEN v_left = 0;
      v_take := least(v_left, v_lot.remaining);
      UPDATE booking.credit_lots SET remaining = remaining - v_take WHERE id = v_lot.id;
      v_lots := v_lots || jsonb_build_object('lot', v_lot.id, 'amount', v_take);
      v_left := v_left - v_take;
    END LOOP;
    IF v_left > 0 THEN
      -- (the balance counts only unexpired lots once the account is locked: not reached)
      RAISE EXCEPTION 'credit lots do not cover the balance of account %', p_account.id USING ERRCODE = 'internal_error';
    END IF;
    v_metadata := v_metadata || jsonb_build_object('lots', v_lots);
  ELSIF p_type = 'cancellation_refund' THEN
    -- back to the lots the debit came from
    FOR v_back IN SELECT (x ->> 'lot')::uuid AS lot, (x ->> 'amount')::integer AS amount
                  FROM booking.credit_transactions d, jsonb_array_elements(d.metadata -> 'lots') x
                  WHERE d.id = p_refund_of LOOP
      UPDATE booking.credit_lots SET remaining = remaining + v_back.amount WHERE id = v_back.lot;
    END LOOP;
  ELSIF p_type = 'expiry' THEN
    UPDATE booking.credit_lots SET remaining = remaining + p_amount WHERE id = p_lot_id;
  ELSIF p_amount > 0 THEN  -- purchase, positive adjustment: a new lot
    INSERT INTO booking.credit_lots (id, organization_id, account_id, amount, remaining, expires_at)
    VALUES (v_id, p_account.organization_id, p_account.id, p_amount, p_amount, p_expires_at);
  ELSE
    RAISE EXCEPTION 'a negative adjustment is not supported' USING ERRCODE = 'invalid_parameter_value';
  END IF;

  INSERT INTO booking.credit_transactions (id, organization_id, account_id, user_id, transaction_type, amount, booking_id,
                                           lot_id, refund_of, expires_at, payment_method, payment_reference, reason,
                                           metadata, created_by)
  VALUES (v_id, p_account.organization_id, p_account.id, p_account.user_id, p_type, p_amount, p_booking_id,
          p_lot_id, p_refund_of, p_expires_at, p_payment_method, p_payment_reference, p_reason, v_metadata,
          booking_internal.actor_id());
  UPDATE booking.credit_accounts
  SET balance = balance + p_amount,
      lifetime_purchased = lifetime_purchased + CASE WHEN p_type = 'purchase' THEN p_amount ELSE 0 END,
      lifetime_used = lifetime_used + CASE p_type WHEN 'appointment_debit' THEN -p_amount
                                                  WHEN 'cancellation_refund' THEN -p_amount ELSE 0 END
  WHERE id = p_account.id
  RETURNING * INTO p_account;
  -- a refund to a lot that expired meanwhile: it expires at once
  IF p_type = 'cancellation_refund' THEN
    p_account := booking_internal.lock_credit_account(p_account.organization_id, p_account.user_id);
  END IF;
  RETURN p_account;
END $$;

-- ---------------------------------------------------------------------------------------------
-- Bookings paid with credit
-- ---------------------------------------------------------------------------------------------

-- A booking made with uses_credit pays one credit per seat when it is written: the booker's
-- account in the booking's organization, in the same transaction (PT409 insufficient_credit,
-- and the booking is not written, when it cannot pay).
CREATE FUNCTION booking_internal.bookings_debit_credit() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_account booking.credit_accounts;
BEGIN
  IF booking_internal.is_bulk_load() THEN
    RETURN NULL;
  END IF;
  v_account := booking_internal.lock_credit_account(NEW.organization_id, NEW.booked_by);
  PERFORM booking_internal.post_credit(v_account, 'appointment_debit', -NEW.seats, NEW.id, NULL, NULL, NULL,
                                       NULL, NULL, NULL, '{}'::jsonb);
  RETURN NULL;
END $$;

-- Paid bookings keep what they were paid for: uses_credit and the seats never change.
-- (The trigger's WHEN clause says when: most updates never enter the function.)
CREATE FUNCTION booking_internal.bookings_credit_fixed() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  RAISE EXCEPTION 'whether a booking is paid with credit, and the seats it paid for, cannot change'
    USING ERRCODE = 'insufficient_privilege', HINT = 'Cancel it (the credit is refunded per the policy) and book again.';
END $$;

-- A cancelled or rejected booking paid with credit: its debit refunded once, per the policy; a
-- paid booking deleted (staff) is refunded as a rejected one is.
CREATE FUNCTION booking_internal.bookings_refund_credit() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_booking booking.bookings := CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END;
  v_debit   booking.credit_transactions;
  v_policy  booking.credit_policies;
  v_account booking.credit_accounts;
BEGIN
  IF booking_internal.is_bulk_load() THEN
    RETURN NULL;
  END IF;
  SELECT * INTO v_debit FROM booking.credit_transactions
  WHERE booking_id = v_booking.id AND transaction_type = 'appointment_debit';
  IF NOT FOUND THEN
    RETURN NULL;
  END IF;
  IF TG_OP = 'DELETE' AND NOT EXISTS (SELECT 1 FROM booking.organizations WHERE id = v_booking.organization_id) THEN
    RETURN NULL;  -- the organization is being deleted, and its accounts with it
  END IF;
  SELECT * INTO v_policy FROM booking.credit_policies WHERE organization_id = v_booking.organization_id;
  IF TG_OP = 'UPDATE' AND v_booking.status = 'cancelled'
     AND now() > v_booking.starts_at - make_interval(mins => coalesce(v_policy.refund_deadline_minutes, 1440))
     AND coalesce(v_policy.late_cancellation, 'forfeit') = 'forfeit' THEN
    RETURN NULL;  -- a late cancellation: the credit is the organization's
  END IF;
  v_account := booking_internal.lock_credit_account(v_debit.organization_id, v_debit.user_id);
  IF NOT EXISTS (SELECT 1 FROM booking.credit_transactions WHERE refund_of = v_debit.id) THEN
    PERFORM booking_internal.post_credit(v_account, 'cancellation_refund', -v_debit.amount, v_booking.id, NULL, v_debit.id,
                                         NULL, NULL, NULL,
                                         CASE WHEN TG_OP = 'DELETE' THEN 'the booking was deleted'
                                              ELSE 'the booking was ' || v_booking.status END, '{}'::jsonb);
  END IF;
  RETURN NULL;
END $$;

CREATE TRIGGER bookings_4_credit_fixed BEFORE UPDATE OF uses_credit, seats ON booking.bookings
  FOR EACH ROW WHEN (NEW.uses_credit IS DISTINCT FROM OLD.uses_credit OR (OLD.uses_credit AND NEW.seats IS DISTINCT FROM OLD.seats))
  EXECUTE FUNCTION booking_internal.bookings_credit_fixed();
CREATE TRIGGER bookings_8_credit_debit AFTER INSERT ON booking.bookings
  FOR EACH ROW WHEN (NEW.uses_credit) EXECUTE FUNCTION booking_internal.bookings_debit_credit();
CREATE TRIGGER bookings_8_credit_refund AFTER UPDATE OF status ON booking.bookings
  FOR EACH ROW WHEN (NEW.uses_credit AND NEW.status IN ('cancelled', 'rejected')
                     AND OLD.status NOT IN ('cancelled', 'rejected'))
  EXECUTE FUNCTION booking_internal.bookings_refund_credit();
CREATE TRIGGER bookings_8_credit_refund_deleted AFTER DELETE ON booking.bookings
  FOR EACH ROW WHEN (OLD.uses_credit) EXECUTE FUNCTION booking_internal.bookings_refund_credit();

-- ---------------------------------------------------------------------------------------------
-- Row-level security: a person reads their own account, lots and ledger; staff read their
-- organization's; owners and admins set the organization's policy, members read it. Nobody
-- but this module's functions writes the account, lot and ledger tables.
-- ---------------------------------------------------------------------------------------------

CREATE POLICY credit_policies_select ON booking.credit_policies FOR SELECT
  USING (organization_id = ANY ((SELECT booking.user_organization_ids())::uuid[]));
CREATE POLICY credit_policies_insert ON booking.credit_policies FOR INSERT
  WITH CHECK (organization_id = ANY ((SELECT booking.user_organization_ids('{owner,admin}'))::uuid[]));
CREATE POLICY credit_policies_update ON booking.credit_policies FOR UPDATE
  USING (organization_id = ANY ((SELECT booking.user_organization_ids('{owner,admin}'))::uuid[]))
  WITH CHECK (organization_id = ANY ((SELECT booking.user_organization_ids('{owner,admin}'))::uuid[]));
CREATE POLICY credit_policies_delete ON booking.credit_policies FOR DELETE
  USING (organization_id = ANY ((SELECT booking.user_organization_ids('{owner,admin}'))::uuid[]));
CREATE POLICY credit_accounts_select ON booking.credit_accounts FOR SELECT
  USING (user_id = (SELECT booking.current_user_id())
         OR organization_id = ANY ((SELECT booking.user_organization_ids('{owner,admin,staff}'))::uuid[]));
CREATE POLICY credit_transactions_select ON booking.credit_transactions FOR SELECT
  USING (user_id = (SELECT booking.current_user_id())
         OR organization_id = ANY ((SELECT booking.user_organization_ids('{owner,admin,staff}'))::uuid[]));
CREATE POLICY credit_lots_select ON booking.credit_lots FOR SELECT
  USING (organization_id = ANY ((SELECT booking.user_organization_ids('{owner,admin,staff}'))::uuid[])
         OR account_id IN (SELECT a.id FROM booking.credit_accounts a WHERE a.user_id = (SELECT booking.current_user_id())));

-- ---------------------------------------------------------------------------------------------
-- RPCs
-- ---------------------------------------------------------------------------------------------

-- The organization a staff caller means: the one given (where they have staff rights), else
-- their only one (22023 when they have several and name none; 42501 without staff rights).
CREATE FUNCTION booking_internal.credit_organization(p_organization_id uuid) RETURNS uuid
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_orgs uuid[];
BEGIN
  IF p_organization_id IS NOT NULL THEN
    IF NOT booking_internal.has_staff_rights(p_organization_id) THEN
      RAISE EXCEPTION 'you may not manage credits in organization %', p_organization_id USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN p_organization_id;
  END IF;
  IF booking_internal.is_privileged() THEN
    RAISE EXCEPTION 'p_organization_id must be given' USING ERRCODE = 'invalid_parameter_value';
  END IF;
  v_orgs := booking.user_organization_ids('{owner,admin,staff}');
  IF cardinality(v_orgs) = 1 THEN
    RETURN v_orgs[1];
  ELSIF cardinality(v_orgs) = 0 THEN
    RAISE EXCEPTION 'managing credits needs staff rights' USING ERRCODE = 'insufficient_privilege';
  END IF;
  RAISE EXCEPTION 'p_organization_id must be given: you are staff of several organizations'
    USING ERRCODE = 'invalid_parameter_value';
END $$;

-- Credits bought by a person (staff, or service_role for a payment provider's webhook):
-- idempotent on the payment reference within the organization (the same purchase again returns
-- the first entry; another with a used reference is PT409 payment_reference_used).
CREATE FUNCTION booking.purchase_credits(p_user_id text, p_amount integer, p_payment_reference text,
                                         p_expires_at timestamptz DEFAULT NULL, p_organization_id uuid DEFAULT NULL,
                                         p_payment_method text DEFAULT NULL)
RETURNS booking.credit_transactions
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_org     uuid;
  v_account booking.credit_accounts;
  v_row     booking.credit_transactions;
BEGIN
  PERFORM booking_internal.check_text_argument('p_user_id', p_user_id, 200),
          booking_internal.check_text_argument('p_payment_reference', p_payment_reference, 200);
  IF p_payment_method IS NOT NULL THEN
    PERFORM booking_internal.check_text_argument('p_payment_method', p_payment_method, 100);
  END IF;
  IF p_amount IS NULL OR p_amount NOT BETWEEN 1 AND 100000 THEN
    RAISE EXCEPTION 'p_amount must be 1 to 100000' USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF p_expires_at IS NOT NULL AND NOT isfinite(p_expires_at) THEN
    RAISE EXCEPTION 'p_expires_at must be a finite time' USING ERRCODE = 'invalid_parameter_value';
  END IF;
  v_org := booking_internal.credit_organization(p_organization_id);
  v_account := booking_internal.lock_credit_account(v_org, p_user_id);
  -- a replay returns the first entry (even once its lot has expired)
  SELECT * INTO v_row FROM booking.credit_transactions
  WHERE organization_id = v_org AND payment_reference = p_payment_reference AND transaction_type = 'purchase';
  IF FOUND THEN
    IF (v_row.user_id, v_row.amount, v_row.expires_at) IS DISTINCT FROM (p_user_id, p_amount, p_expires_at) THEN
      RAISE EXCEPTION 'payment reference % was used for another purchase', p_payment_reference
        USING ERRCODE = 'PT409', DETAIL = 'payment_reference_used';
    END IF;
    RETURN v_row;
  END IF;
  IF p_expires_at <= now() THEN
    RAISE EXCEPTION 'p_expires_at must be to come' USING ERRCODE = 'invalid_parameter_value';
  END IF;
  BEGIN
    PERFORM booking_internal.post_credit(v_account, 'purchase', p_amount, NULL, NULL, NULL, p_expires_at,
                                         p_payment_method, p_payment_reference, NULL, '{}'::jsonb);
  EXCEPTION WHEN unique_violation THEN
    -- another person's purchase with the same reference, committed meanwhile
    RAISE EXCEPTION 'payment reference % was used for another purchase', p_payment_reference
      USING ERRCODE = 'PT409', DETAIL = 'payment_reference_used';
  END;
  SELECT * INTO v_row FROM booking.credit_transactions
  WHERE organization_id = v_org AND payment_reference = p_payment_reference AND transaction_type = 'purchase';
  RETURN v_row;
END $$;

-- A person's credit, per organization: their own (p_user_id NULL), or anyone's in the
-- organizations where the caller has staff rights. `available` leaves out lots that expired
-- but are not yet closed (what can be spent now); `balance` is the ledger's sum.
CREATE FUNCTION booking.get_credit_balance(p_user_id text DEFAULT NULL)
RETURNS TABLE (organization_id uuid, user_id text, balance integer, available integer, lifetime_purchased integer,
               lifetime_used integer, next_expiry_at timestamptz, next_expiry_amount integer)
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_user text := coalesce(p_user_id, booking.current_user_id());
BEGIN
  IF v_user IS NULL THEN
    RAISE EXCEPTION 'get_credit_balance needs a signed-in user or p_user_id' USING ERRCODE = 'insufficient_privilege';
  END IF;
  PERFORM booking_internal.check_text_argument('p_user_id', v_user, 200);
  RETURN QUERY
    SELECT a.organization_id, a.user_id, a.balance,
           a.balance - coalesce((SELECT sum(l.remaining)::integer FROM booking.credit_lots l
                                 WHERE l.account_id = a.id AND l.remaining > 0 AND l.expires_at <= now()), 0),
           a.lifetime_purchased, a.lifetime_used, n.expires_at, n.remaining
    FROM booking.credit_accounts a
    LEFT JOIN LATERAL (SELECT l.expires_at, l.remaining FROM booking.credit_lots l
                       WHERE l.account_id = a.id AND l.remaining > 0 AND l.expires_at > now()
                       ORDER BY l.expires_at LIMIT 1) n ON true
    WHERE a.user_id = v_user
      AND (v_user = booking.current_user_id() OR booking_internal.has_staff_rights(a.organization_id))
    ORDER BY a.organization_id;
END $$;

-- A page of a person's ledger, newest first (own, or anyone's for staff; 22023 for a page
-- beyond the limits: p_limit 1 to 500, p_offset 0 to 100000).
CREATE FUNCTION booking.get_credit_statement(p_user_id text DEFAULT NULL, p_limit integer DEFAULT 50,
                                             p_offset integer DEFAULT 0)
RETURNS SETOF booking.credit_transactions
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_user text := coalesce(p_user_id, booking.current_user_id());
BEGIN
  IF v_user IS NULL THEN
    RAISE EXCEPTION 'get_credit_statement needs a signed-in user or p_user_id' USING ERRCODE = 'insufficient_privilege';
  END IF;
  PERFORM booking_internal.check_text_argument('p_user_id', v_user, 200);
  IF p_limit IS NULL OR p_limit NOT BETWEEN 1 AND 500 OR p_offset IS NULL OR p_offset NOT BETWEEN 0 AND 100000 THEN
    RAISE EXCEPTION 'p_limit must be 1 to 500 and p_offset 0 to 100000' USING ERRCODE = 'invalid_parameter_value';
  END IF;
  RETURN QUERY
    SELECT t.* FROM booking.credit_transactions t
    WHERE t.user_id = v_user
      AND (v_user = booking.current_user_id() OR booking_internal.has_staff_rights(t.organization_id))
    ORDER BY t.created_at DESC, t.id
    LIMIT p_limit OFFSET p_offset;
END $$;

-- Close every expired lot (for pg_cron or a worker, service_role): an `expiry` entry each;
-- returns how many. The accounts are locked one at a time.
CREATE FUNCTION booking.expire_credits() RETURNS integer
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_account record;
  v_started timestamptz := clock_timestamp();
BEGIN
  PERFORM booking_internal.require_privileged('expire_credits');
  FOR v_account IN SELECT DISTINCT a.organization_id, a.user_id, a.id
                   FROM booking.credit_lots l JOIN booking.credit_accounts a ON a.id = l.account_id
                   WHERE l.remaining > 0 AND l.expires_at <= now()
                   ORDER BY a.id LOOP
    PERFORM booking_internal.lock_credit_account(v_account.organization_id, v_account.user_id);
  END LOOP;
  -- what this call closed (a lot a concurrent writer closed first is theirs)
  RETURN (SELECT count(*) FROM booking.credit_transactions
          WHERE transaction_type = 'expiry' AND created_at >= v_started
            AND booking_internal.written_by_this_transaction(xmin));
END $$;

-- Who may call the credits RPCs and read the tables: the ledger's tables are written by this
-- module's functions only, whoever asks (service_role included).
CREATE FUNCTION booking_internal.grant_credits_privileges(p_role text) RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  IF p_role = 'anon' THEN
    RETURN;
  END IF;
  PERFORM booking_internal.grant_execute(p_role, ARRAY['purchase_credits', 'get_credit_balance', 'get_credit_statement']);
  IF p_role = 'authenticated' THEN
    GRANT INSERT, UPDATE, DELETE ON booking.credit_policies TO authenticated;
  END IF;
  IF p_role = 'service_role' THEN
    PERFORM booking_internal.grant_execute(p_role, ARRAY['expire_credits']);
    REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON booking.credit_accounts, booking.credit_transactions, booking.credit_lots
      FROM service_role;
  END IF;
END $$;

COMMENT ON TABLE booking.credit_policies IS 'An organization''s refund policy for bookings paid with credit: the refund deadline before the start, and what a later cancellation gets (forfeit or refund).';
COMMENT ON TABLE booking.credit_accounts IS 'A person''s prepaid credit in an organization: the balance (never negative, the sum of the ledger), lifetime purchased and used. Written by the credits functions only.';
COMMENT ON TABLE booking.credit_transactions IS 'The append-only credit ledger: purchases, appointment debits, cancellation refunds, adjustments and expiries, in integer credits.';
COMMENT ON TABLE booking.credit_lots IS 'What is left of each purchase and when it expires; spent soonest-expiring first, never once expired.';
COMMENT ON FUNCTION booking_internal.lock_credit_account(uuid, text) IS 'Internal: a person''s account in an organization, created if missing, locked, its expired lots closed.';
COMMENT ON FUNCTION booking_internal.post_credit(booking.credit_accounts, text, integer, uuid, uuid, uuid, timestamptz, text, text, text, jsonb) IS 'Internal: the one writer of the ledger: an entry, the balance and counters, and the lots, on a locked account.';
COMMENT ON FUNCTION booking_internal.bookings_debit_credit() IS 'Trigger: a booking made with uses_credit pays one credit per seat (PT409 insufficient_credit otherwise).';
COMMENT ON FUNCTION booking_internal.bookings_credit_fixed() IS 'Trigger: a booking''s uses_credit, and a paid booking''s seats, never change.';
COMMENT ON FUNCTION booking_internal.bookings_refund_credit() IS 'Trigger: a cancelled or rejected booking paid with credit is refunded once, per the organization''s policy; a deleted one always.';
COMMENT ON FUNCTION booking_internal.credit_organization(uuid) IS 'Internal: the organization a staff caller manages credits in (the one given, else their only one).';
COMMENT ON FUNCTION booking.purchase_credits(text, integer, text, timestamptz, uuid, text) IS 'Staff or service_role: credits bought by a person (a lot, expiring or not); idempotent on the payment reference; PT409 payment_reference_used for a reused one.';
COMMENT ON FUNCTION booking.get_credit_balance(text) IS 'A person''s credit per organization (own, or anyone''s for staff): balance, available now, lifetime purchased and used, the next expiry.';
COMMENT ON FUNCTION booking.get_credit_statement(text, integer, integer) IS 'A page of a person''s credit ledger, newest first (own, or anyone''s for staff).';
COMMENT ON FUNCTION booking.expire_credits() IS 'service_role: closes every expired lot with an expiry entry; returns how many.';
COMMENT ON FUNCTION booking_internal.grant_credits_privileges(text) IS 'Internal: the credits module''s grants to an API role (called by grant_api_privileges).';
