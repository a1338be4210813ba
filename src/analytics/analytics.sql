-- booking_ext, module analytics: what visitors and users do in the apps (seed 002's
-- analytics_events), written by booking.track_event for anyone (anon included), read by the
-- staff of the organization an event is attached to, pruned by whole months.
--
-- The table is partitioned by range of created_at, one partition per calendar month in UTC
-- (whatever the session's or the organization's time zone), named
-- booking_internal.analytics_events_pYYYY_MM. Partitions are made when the first event of their
-- month arrives, by booking_internal.analytics_partition (owner rights; the callers get no DDL
-- right), which takes a self-exclusive lock on the parent and looks again before creating, so
-- fifty first events of a month at once make one partition. Partitions live in booking_internal
-- (not exposed by PostgREST, no grant to an API role, row-level security forced with no policy):
-- the rows are read through booking.analytics_events and its policy only.
--
-- Dump and restore: the parent is an extension member; the partitions are not (they are made at
-- run time), so pg_dump writes each as a table of its own attached to the parent, with its
-- rows. For that restore to run cleanly the parent has no index, primary key or foreign key of
-- its own (those would be created again on each partition by CREATE EXTENSION before the dump's
-- own copies arrive): each partition gets its key and indexes when it is made, and the
-- organization's events go with it through a trigger on organizations instead of a foreign key.

CREATE TABLE booking.analytics_events (
  id              uuid NOT NULL DEFAULT gen_random_uuid(),
  -- the organization named by event_data.organization_id, when the writer may attach to it
  organization_id uuid,
  -- true when the writer was an active member of that organization (or service_role): staff
  -- can tell their own people's events from those of visitors of a public organization
  verified        boolean NOT NULL DEFAULT false,
  user_id         text CONSTRAINT analytics_events_user_id_size CHECK (length(user_id) <= 200),
  session_id      text CONSTRAINT analytics_events_session_id_size CHECK (length(session_id) <= 200),
  event_type      text NOT NULL CONSTRAINT analytics_events_event_type_size CHECK (length(event_type) BETWEEN 1 AND 100),
  event_data      jsonb NOT NULL DEFAULT '{}'::jsonb
                  CONSTRAINT analytics_events_event_data_object CHECK (jsonb_typeof(event_data) = 'object')
                  CONSTRAINT analytics_events_event_data_size CHECK (pg_column_size(event_data) <= 4096),
  page_url        text CONSTRAINT analytics_events_page_url_size CHECK (length(page_url) <= 2048),
  -- from the request headers PostgREST passes on (referer, user-agent, x-forwarded-for)
  referrer        text CONSTRAINT analytics_events_referrer_size CHECK (length(referrer) <= 2048),
  user_agent      text CONSTRAINT analytics_events_user_agent_size CHECK (length(user_agent) <= 512),
  ip_address      inet,
  created_at      timestamptz NOT NULL DEFAULT now()
) PARTITION BY RANGE (created_at);
SELECT booking_internal.register_table('analytics_events', 'analytics', false);

-- Staff (owners, admins, staff) read their organization's events. Nobody writes or changes
-- rows directly: track_event writes, prune_analytics drops whole months.
CREATE POLICY analytics_events_select ON booking.analytics_events FOR SELECT
  USING (organization_id = ANY ((SELECT booking.user_organization_ids('{owner,admin,staff}'))::uuid[]));

-- The partition of the UTC month of p_at, made if missing (with its key and indexes, row-level
-- security forced; a new table grants nothing to anyone but its owner): safe when many sessions ask at once (a self-exclusive lock on the
-- parent, then a second look). Returns it.
CREATE FUNCTION booking_internal.analytics_partition(p_at timestamptz) RETURNS regclass
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_from  timestamp := date_trunc('month', p_at AT TIME ZONE 'UTC');
  v_name  text;
  v_rel   regclass;
BEGIN
  IF p_at IS NULL OR v_from < '2000-01-01' OR v_from >= '10000-01-01' THEN
    RAISE EXCEPTION 'analytics partitions are for the years 2000 to 9999, not %', p_at USING ERRCODE = 'invalid_parameter_value';
  END IF;
  v_name := 'analytics_events_p' || to_char(v_from, 'YYYY_MM');
  v_rel := to_regclass('booking_internal.' || v_name);
  IF v_rel IS NOT NULL THEN
    RETURN v_rel;
  END IF;
  -- one maker at a time (inserts into other months go on); taking the lock also reads the
  -- catalog changes committed meanwhile, so the second look sees a partition made by another
  LOCK TABLE booking.analytics_events IN SHARE UPDATE EXCLUSIVE MODE;
  v_rel := to_regclass('booking_internal.' || v_name);
  IF v_rel IS NOT NULL THEN
    RETURN v_rel;
  END IF;
  EXECUTE format('CREATE TABLE booking_internal.%I PARTITION OF booking.analytics_events FOR VALUES FROM (%L) TO (%L)',
                 v_name, to_char(v_from, 'YYYY-MM-DD') || ' 00:00:00+00',
                 to_char(v_from + interval '1 month', 'YYYY-MM-DD') || ' 00:00:00+00');
  EXECUTE format('ALTER TABLE booking_internal.%I ADD CONSTRAINT %I PRIMARY KEY (id)', v_name, v_name || '_pkey');
  EXECUTE format('CREATE INDEX %I ON booking_internal.%I (organization_id, created_at) WHERE organization_id IS NOT NULL',
                 v_name || '_organization_idx', v_name);
  EXECUTE format('CREATE INDEX %I ON booking_internal.%I (user_id, created_at) WHERE user_id IS NOT NULL',
                 v_name || '_user_idx', v_name);
  EXECUTE format('CREATE INDEX %I ON booking_internal.%I (event_type, created_at)', v_name || '_type_idx', v_name);
  EXECUTE format('CREATE INDEX %I ON booking_internal.%I USING brin (created_at)', v_name || '_created_at_idx', v_name);
  EXECUTE format('ALTER TABLE booking_internal.%I ENABLE ROW LEVEL SECURITY', v_name);
  EXECUTE format('ALTER TABLE booking_internal.%I FORCE ROW LEVEL SECURITY', v_name);
  RETURN format('booking_internal.%I', v_name)::regclass;
END $$;

-- The first address of an X-Forwarded-For value as inet, NULL when it is not one. An IPv4
-- address is recognised by its pattern (no subtransaction on the write path); an IPv6 one is
-- tried by the cast, in booking_internal.inet_or_null.
CREATE FUNCTION booking_internal.forwarded_address(p_value text) RETURNS inet
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_first text := btrim(split_part(p_value, ',', 1));
BEGIN
  IF v_first ~ '^((25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])\.){3}(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])$' THEN
    RETURN v_first::inet;
  END IF;
  IF length(v_first) <= 64 AND v_first ~ '^[0-9A-Fa-f:.]*:[0-9A-Fa-f:.]*$' THEN
    RETURN booking_internal.inet_or_null(v_first);
  END IF;
  RETURN NULL;
END $$;

CREATE FUNCTION booking_internal.inet_or_null(p_value text) RETURNS inet
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  RETURN p_value::inet;
EXCEPTION WHEN invalid_text_representation THEN
  RETURN NULL;
END $$;

-- Record an event. Who: anyone (anon included). The user is the JWT's subject, the IP address
-- the first of X-Forwarded-For and the user agent and referrer the headers of the request
-- (PostgREST's request.headers), never arguments. p_event_data.organization_id attaches the
-- event to an organization: verified when the caller is an active member (or service_role);
-- unverified for anyone else when the organization is public (a visitor of its pages); refused
-- (22023 unknown organization, so a private one's existence is not told) otherwise. Limits,
-- checked first (22023): p_event_type 1 to 100 characters, p_event_data an object of at most
-- 4096 bytes, p_session_id 200 and p_page_url 2048 characters. Returns the event's id.
CREATE FUNCTION booking.track_event(p_event_type text, p_event_data jsonb DEFAULT '{}', p_session_id text DEFAULT NULL,
                                    p_page_url text DEFAULT NULL)
RETURNS uuid
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_data     jsonb := coalesce(p_event_data, '{}'::jsonb);
  v_user     text;
  v_org_text text;
  v_org      uuid;
  v_verified boolean := false;
  v_headers  jsonb;
  v_id       uuid;
BEGIN
  IF p_event_type IS NULL OR btrim(p_event_type, E' \t\r\n\f\x0B') = '' OR length(p_event_type) > 100 THEN
    RAISE EXCEPTION 'p_event_type must have 1 to 100 characters' USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF jsonb_typeof(v_data) <> 'object' OR pg_column_size(v_data) > 4096 THEN
    RAISE EXCEPTION 'p_event_data must be a JSON object of at most 4096 bytes' USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF length(p_session_id) > 200 OR length(p_page_url) > 2048 THEN
    RAISE EXCEPTION 'p_session_id may have 200 characters and p_page_url 2048' USING ERRCODE = 'invalid_parameter_value';
  END IF;
  v_user := booking.current_user_id();
  v_org_text := v_data ->> 'organization_id';
  IF v_org_text IS NOT NULL THEN
    IF v_org_text !~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$' THEN
      RAISE EXCEPTION 'p_event_data.organization_id is not a uuid' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    v_org := v_org_text::uuid;
    IF v_user IS NOT NULL AND EXISTS (SELECT 1 FROM booking.members m
                                      WHERE m.organization_id = v_org AND m.user_id = v_user AND m.is_active) THEN
      v_verified := true;
    ELSIF booking_internal.is_privileged() AND EXISTS (SELECT 1 FROM booking.organizations o WHERE o.id = v_org) THEN
      v_verified := true;
    ELSIF NOT EXISTS (SELECT 1 FROM booking.organizations o WHERE o.id = v_org AND o.is_public) THEN
      RAISE EXCEPTION 'unknown organization %', v_org USING ERRCODE = 'invalid_parameter_value',
        HINT = 'Events are attached to a public organization, or to one the caller is a member of.';
    END IF;
  END IF;
  v_headers := nullif(current_setting('request.headers', true), '')::jsonb;
  IF to_regclass('booking_internal.analytics_events_p' || to_char(now() AT TIME ZONE 'UTC', 'YYYY_MM')) IS NULL THEN
    PERFORM booking_internal.analytics_partition(now());
  END IF;
  INSERT INTO booking.analytics_events (organization_id, verified, user_id, session_id, event_type, event_data, page_url,
                                        referrer, user_agent, ip_address)
  VALUES (v_org, v_verified, v_user, p_session_id, p_event_type, v_data, p_page_url,
          left(v_headers ->> 'referer', 2048), left(v_headers ->> 'user-agent', 512),
          booking_internal.forwarded_address(v_headers ->> 'x-forwarded-for'))
  RETURNING id INTO v_id;
  RETURN v_id;
END $$;

-- Drop the months of events older than p_older_than: every partition whose whole month ended
-- before now() - p_older_than. service_role only (42501: it spans every organization); 22023 for
-- an interval under one day. Returns the names of the partitions dropped, oldest first.
CREATE FUNCTION booking.prune_analytics(p_older_than interval) RETURNS text[]
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_cutoff  timestamptz;
  v_name    text;
  v_dropped text[] := '{}'::text[];
BEGIN
  PERFORM booking_internal.require_privileged('prune_analytics');
  IF p_older_than IS NULL OR p_older_than < interval '1 day' THEN
    RAISE EXCEPTION 'p_older_than must be at least 1 day, not %', coalesce(p_older_than::text, 'NULL')
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  v_cutoff := now() - p_older_than;
  FOR v_name IN
    SELECT c.relname::text FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
    WHERE i.inhparent = 'booking.analytics_events'::regclass
      AND c.relnamespace = 'booking_internal'::regnamespace
      AND c.relname ~ '^analytics_events_p[0-9]{4}_[0-9]{2}$'
    ORDER BY c.relname
  LOOP
    -- the month's end, in UTC
    EXIT WHEN (to_date(substr(v_name, 19), 'YYYY_MM') + interval '1 month') AT TIME ZONE 'UTC' > v_cutoff;
    EXECUTE format('DROP TABLE booking_internal.%I', v_name);
    v_dropped := v_dropped || v_name;
  END LOOP;
  RETURN v_dropped;
END $$;

-- An organization's events go with it (there is no foreign key: see the top of this file).
CREATE FUNCTION booking_internal.organizations_delete_analytics() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  DELETE FROM booking.analytics_events WHERE organization_id = OLD.id;
  RETURN NULL;
END $$;
CREATE TRIGGER organizations_9_delete_analytics AFTER DELETE ON booking.organizations
  FOR EACH ROW EXECUTE FUNCTION booking_internal.organizations_delete_analytics();

-- ---------------------------------------------------------------------------------------------
-- Privileges
-- ---------------------------------------------------------------------------------------------

CREATE FUNCTION booking_internal.grant_analytics_privileges(p_role text) RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  PERFORM booking_internal.grant_execute(p_role, ARRAY['track_event']);
  IF p_role = 'service_role' THEN
    PERFORM booking_internal.grant_execute(p_role, ARRAY['prune_analytics']);
    -- events are written by track_event and removed by prune_analytics (and with their organization) only
    REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON booking.analytics_events FROM service_role;
  END IF;
END $$;

COMMENT ON TABLE booking.analytics_events IS 'What visitors and users do in the apps, written by track_event (user from the JWT; IP, user agent and referrer from the request headers), partitioned by UTC month (booking_internal.analytics_events_pYYYY_MM, made as needed), read by the staff of the organization an event is attached to (verified: written by one of its members), dropped by month by prune_analytics.';
COMMENT ON FUNCTION booking.track_event(text, jsonb, text, text) IS 'Anyone: records an event (p_event_type 1-100 characters, p_event_data an object up to 4096 bytes, p_session_id 200 and p_page_url 2048 characters; 22023 otherwise); user from the JWT, IP (first X-Forwarded-For address), user agent and referrer from the request headers; p_event_data.organization_id attaches it to a public organization or one the caller belongs to (verified then). Returns its id.';
COMMENT ON FUNCTION booking.prune_analytics(interval) IS 'service_role: drops the monthly partitions of analytics_events whose whole UTC month ended before now() - p_older_than (at least 1 day, 22023); returns their names.';
COMMENT ON FUNCTION booking_internal.analytics_partition(timestamptz) IS 'Internal: the partition of analytics_events for the UTC month of a time, made if missing (key, indexes, forced row-level security, no grant); safe under concurrent first inserts.';
COMMENT ON FUNCTION booking_internal.forwarded_address(text) IS 'Internal: the first address of an X-Forwarded-For header as inet, NULL when it is none.';
COMMENT ON FUNCTION booking_internal.inet_or_null(text) IS 'Internal: a text as inet, NULL when it is not an address.';
COMMENT ON FUNCTION booking_internal.organizations_delete_analytics() IS 'Trigger: an organization''s analytics events are deleted with it.';
COMMENT ON FUNCTION booking_internal.grant_analytics_privileges(text) IS 'Internal: the analytics module''s grants to an API role (called by grant_api_privileges).';
