-- booking_ext: delivering the outbox (seed 000). Triggers enqueue an event for every booking
-- creation and status change in the same transaction (integrity.sql); workers running as
-- service_role take them out with these three functions.
--
-- Delivery is at least once: a worker claims rows for a lease (deliver_after moves to the end of
-- the lease, so no other worker gets them meanwhile), delivers them and acknowledges them. A
-- worker that dies mid-batch loses nothing: when its lease runs out its rows are claimable
-- again. A failed delivery is retried after a backoff that doubles from 30 seconds up to an hour.
-- The functions run as the caller and are granted to service_role only.

CREATE FUNCTION booking_internal.require_privileged(p_what text) RETURNS void
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  IF NOT booking_internal.is_privileged() THEN
    RAISE EXCEPTION '% is for service_role only', p_what USING ERRCODE = 'insufficient_privilege';
  END IF;
END $$;

-- Claim up to p_limit (1 to 1000) due events, oldest due first, optionally of one topic, for
-- p_lease_seconds (1 to 3600). Each call counts as a delivery attempt. Rows locked by a
-- concurrent claim are skipped, never waited for, so concurrent workers never get the same row.
CREATE FUNCTION booking.claim_outbox(p_topic text DEFAULT NULL, p_limit integer DEFAULT 100,
                                     p_lease_seconds integer DEFAULT 60)
RETURNS SETOF booking.outbox
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  PERFORM booking_internal.require_privileged('claim_outbox');
  IF p_limit IS NULL OR p_limit < 1 OR p_limit > 1000 THEN
    RAISE EXCEPTION 'p_limit must be between 1 and 1000, not %', coalesce(p_limit::text, 'NULL')
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF p_lease_seconds IS NULL OR p_lease_seconds < 1 OR p_lease_seconds > 3600 THEN
    RAISE EXCEPTION 'p_lease_seconds must be between 1 and 3600, not %', coalesce(p_lease_seconds::text, 'NULL')
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  RETURN QUERY
    WITH due AS (
      SELECT o.id FROM booking.outbox o
      WHERE o.delivered_at IS NULL AND o.deliver_after <= now()
        AND (p_topic IS NULL OR o.topic = p_topic)
      ORDER BY o.deliver_after, o.id
      LIMIT p_limit
      FOR UPDATE SKIP LOCKED
    )
    UPDATE booking.outbox o
    SET deliver_after = now() + make_interval(secs => p_lease_seconds), attempts = o.attempts + 1
    FROM due WHERE o.id = due.id
    RETURNING o.*;
END $$;

-- Mark events delivered (at most 10000 ids a call; unknown or already delivered ids are passed
-- over). Returns how many were marked.
CREATE FUNCTION booking.ack_outbox(p_ids bigint[]) RETURNS integer
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_count integer;
BEGIN
  PERFORM booking_internal.require_privileged('ack_outbox');
  IF p_ids IS NULL OR cardinality(p_ids) > 10000 THEN
    RAISE EXCEPTION 'p_ids must be an array of at most 10000 ids' USING ERRCODE = 'invalid_parameter_value';
  END IF;
  UPDATE booking.outbox SET delivered_at = now(), last_error = NULL
  WHERE id = ANY (p_ids) AND delivered_at IS NULL;
  GET DIAGNOSTICS v_count = ROW_COUNT;
  RETURN v_count;
END $$;

-- Record a failed delivery and schedule the retry: 30 s after the first attempt, doubling with
-- each attempt, at most an hour. Returns the row as it now is.
CREATE FUNCTION booking.fail_outbox(p_id bigint, p_error text) RETURNS booking.outbox
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_row booking.outbox;
BEGIN
  PERFORM booking_internal.require_privileged('fail_outbox');
  IF p_id IS NULL THEN
    RAISE EXCEPTION 'p_id must not be NULL' USING ERRCODE = 'invalid_parameter_value';
  END IF;
  UPDATE booking.outbox o
  SET last_error = left(coalesce(nullif(btrim(p_error), ''), 'unknown error'), 4000),
      deliver_after = now() + make_interval(secs => least(3600, 30 * power(2, least(greatest(o.attempts - 1, 0), 20)::float8)))
  WHERE o.id = p_id AND o.delivered_at IS NULL
  RETURNING o.* INTO v_row;
  IF v_row.id IS NULL THEN
    RAISE EXCEPTION 'no undelivered outbox event %', p_id USING ERRCODE = 'invalid_parameter_value';
  END IF;
  RETURN v_row;
END $$;
