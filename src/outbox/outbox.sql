-- booking_ext, module outbox: integration events (seed 000). Triggers enqueue an event for every
-- booking creation and status change in the same transaction (below); workers running as
-- service_role take them out with claim_outbox, ack_outbox and fail_outbox.
--
-- Delivery is at least once: a worker claims rows for a lease (deliver_after moves to the end of
-- the lease, so no other worker gets them meanwhile), delivers them and acknowledges them. A
-- worker that dies mid-batch loses nothing: when its lease runs out its rows are claimable
-- again. A failed delivery is retried after a backoff that doubles from 30 seconds up to an hour.
-- The functions run as the caller and are granted to service_role only.

CREATE TABLE booking.outbox (
  id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  organization_id uuid NOT NULL REFERENCES booking.organizations (id) ON DELETE CASCADE,
  topic           text NOT NULL CHECK (length(topic) > 0) CONSTRAINT outbox_topic_size CHECK (length(topic) <= 200),
  payload         jsonb NOT NULL,
  deliver_after   timestamptz NOT NULL DEFAULT now(),
  delivered_at    timestamptz,
  attempts        integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
  last_error      text CONSTRAINT outbox_last_error_size CHECK (length(last_error) <= 4000),
  created_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX outbox_due_idx ON booking.outbox (deliver_after) WHERE delivered_at IS NULL;
CREATE INDEX outbox_organization_id_idx ON booking.outbox (organization_id);
-- Not audited: its rows are records themselves. pg_dump keeps its identity sequence too.
SELECT booking_internal.register_table('outbox', 'outbox', false);

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

-- ---------------------------------------------------------------------------------------------
-- Outbox: every booking creation and status change, in the same transaction (seed 000).
-- ---------------------------------------------------------------------------------------------

-- A booking's event payload (its previous status on a change): one definition for both triggers.
CREATE FUNCTION booking_internal.booking_event_payload(p_booking booking.bookings, p_previous_status text) RETURNS jsonb
LANGUAGE sql STABLE PARALLEL SAFE
-- (STABLE as its timestamps' text is, so that it is inlined; a quoted body, as an SQL-standard
-- one would pin the bookings row type against later columns)
AS $$
  SELECT jsonb_build_object('booking_id', p_booking.id, 'resource_id', p_booking.resource_id,
                            'status', p_booking.status, 'previous_status', p_previous_status,
                            'starts_at', p_booking.starts_at, 'ends_at', p_booking.ends_at, 'seats', p_booking.seats,
                            'booked_by', p_booking.booked_by)
$$;

-- A status change.
CREATE FUNCTION booking_internal.bookings_enqueue_outbox() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  IF booking_internal.is_bulk_load() THEN
    RETURN NULL;  -- a restore brings its outbox rows with it
  END IF;
  INSERT INTO booking.outbox (organization_id, topic, payload)
  VALUES (NEW.organization_id, 'booking.status_changed', booking_internal.booking_event_payload(NEW, OLD.status));
  RETURN NULL;
END $$;

-- New bookings: the event of each row one INSERT wrote, in one statement.
CREATE FUNCTION booking_internal.bookings_outbox_inserted() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  IF booking_internal.is_bulk_load() THEN
    RETURN NULL;  -- a restore brings its outbox rows with it
  END IF;
  INSERT INTO booking.outbox (organization_id, topic, payload)
  SELECT n.organization_id, 'booking.created', booking_internal.booking_event_payload(n, NULL)
  FROM new_rows n
  ORDER BY n.starts_at, n.id;
  RETURN NULL;
END $$;

CREATE TRIGGER bookings_6_outbox_insert AFTER INSERT ON booking.bookings REFERENCING NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION booking_internal.bookings_outbox_inserted();
CREATE TRIGGER bookings_6_outbox_status AFTER UPDATE OF status ON booking.bookings
  FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status)
  EXECUTE FUNCTION booking_internal.bookings_enqueue_outbox();

CREATE POLICY outbox_select ON booking.outbox FOR SELECT
  USING (organization_id = ANY ((SELECT booking.user_organization_ids('{owner,admin}'))::uuid[]));

CREATE FUNCTION booking_internal.grant_outbox_privileges(p_role text) RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  IF p_role = 'service_role' THEN
    PERFORM booking_internal.grant_execute(p_role, ARRAY['claim_outbox', 'ack_outbox', 'fail_outbox']);
  END IF;
END $$;

-- Documentation in the catalog (\d+, \df+ and PostgREST's OpenAPI show it).
COMMENT ON TABLE booking.outbox IS 'Integration events to deliver, written in the same transaction as the change they describe.';
COMMENT ON FUNCTION booking_internal.bookings_enqueue_outbox() IS 'Trigger: an outbox event for every status change of a booking.';
COMMENT ON FUNCTION booking_internal.booking_event_payload(booking.bookings, text) IS 'Internal: the payload of a booking''s outbox events (booking.created, booking.status_changed).';
COMMENT ON FUNCTION booking_internal.bookings_outbox_inserted() IS 'Statement trigger: a booking.created outbox event for every booking one INSERT wrote (transition table new_rows).';
COMMENT ON FUNCTION booking.claim_outbox(text, integer, integer) IS 'service_role: claims up to p_limit (1-1000) due outbox events, optionally of one topic, for a lease of p_lease_seconds (1-3600); concurrent callers never get the same row (SKIP LOCKED); unacknowledged rows come back after the lease.';
COMMENT ON FUNCTION booking.ack_outbox(bigint[]) IS 'service_role: marks outbox events delivered (at most 10000 ids); returns how many.';
COMMENT ON FUNCTION booking.fail_outbox(bigint, text) IS 'service_role: records a failed delivery and schedules the retry after 30 s doubling per attempt, at most an hour; 22023 for an unknown or delivered event.';
COMMENT ON FUNCTION booking_internal.grant_outbox_privileges(text) IS 'Internal: the outbox module''s grants to an API role (called by grant_api_privileges).';
