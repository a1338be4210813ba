-- booking_ext, module calendars: external calendars (seed 002). An integration is one calendar
-- of a provider (Google, Outlook, Apple, or a plain iCalendar feed) linked to the resources
-- whose time it blocks. Its events come in from outside Postgres, by a worker holding the
-- credentials (upsert_calendar_events, report_sync_result) or an iCalendar file (import_ics);
-- each is kept once per (integration, external id, recurrence id), a deletion as a cancelled
-- tombstone, and a delivery older than what is stored (by the provider's `updated`) changes
-- nothing, so replays and reorderings leave the same rows.
--
-- Busy time: every event is materialized as the instants it holds (calendar_busy): a timed
-- event its own, an all-day event the local days in the integration's time zone, a recurring
-- event each occurrence through the series engine (an endless rule up to a horizon of
-- booking_internal.calendar_horizon_days() days from now, refreshed by
-- booking.refresh_calendar_busy()). The availability engine reads them for every linked
-- resource: confirmed events always, tentative ones when the integration says so, cancelled
-- and transparent ("free") ones never; no buffers around them; the refusal is
-- 'external_event'.
--
-- Outbound: a booking created, moved or changing status on a linked resource enqueues a
-- `calendar.push` outbox event for the worker, which writes the provider's event id back into
-- bookings.external_calendar_event_id.

CREATE TABLE booking.calendar_integrations (
  id                          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  organization_id             uuid NOT NULL REFERENCES booking.organizations (id) ON DELETE CASCADE,
  provider                    text NOT NULL CONSTRAINT calendar_integrations_provider_check
                              CHECK (provider IN ('google', 'outlook', 'apple', 'ics')),
  calendar_id                 text NOT NULL CONSTRAINT calendar_integrations_calendar_id_size CHECK (length(calendar_id) BETWEEN 1 AND 500),
  name                        text CONSTRAINT calendar_integrations_name_size CHECK (length(name) <= 200),
  -- all-day events and floating times are read in this zone (NULL on insert: the organization's)
  time_zone                   text NOT NULL,
  tentative_is_busy           boolean NOT NULL DEFAULT true,
  -- written by report_sync_result only
  sync_status                 text NOT NULL DEFAULT 'pending' CONSTRAINT calendar_integrations_sync_status_check
                              CHECK (sync_status IN ('pending', 'syncing', 'success', 'error')),
  needs_reauthorization       boolean NOT NULL DEFAULT false,
  reauthorization_notified_at timestamptz,
  last_sync_at                timestamptz,
  error_message               text CONSTRAINT calendar_integrations_error_message_size CHECK (length(error_message) <= 4000),
  webhook_id                  text CONSTRAINT calendar_integrations_webhook_id_size CHECK (length(webhook_id) <= 500),
  webhook_expires_at          timestamptz,
  sync_token                  text CONSTRAINT calendar_integrations_sync_token_size CHECK (length(sync_token) <= 2000),
  created_at                  timestamptz NOT NULL DEFAULT now(),
  updated_at                  timestamptz NOT NULL DEFAULT now(),
  UNIQUE (id, organization_id),
  CONSTRAINT calendar_integrations_once UNIQUE (organization_id, provider, calendar_id)
);
SELECT booking_internal.register_table('calendar_integrations', 'calendars', true, 'calendar_integration');

-- Tokens, in a table of their own that only service_role (the worker) reads or writes: no
-- policy, no grant to anon or authenticated, no view over it.
CREATE TABLE booking.calendar_credentials (
  integration_id   uuid PRIMARY KEY,
  organization_id  uuid NOT NULL,
  access_token     text CONSTRAINT calendar_credentials_access_token_size CHECK (length(access_token) <= 8000),
  refresh_token    text CONSTRAINT calendar_credentials_refresh_token_size CHECK (length(refresh_token) <= 8000),
  token_expires_at timestamptz,
  scope            text CONSTRAINT calendar_credentials_scope_size CHECK (length(scope) <= 2000),
  created_at       timestamptz NOT NULL DEFAULT now(),
  updated_at       timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT calendar_credentials_integration_same_organization FOREIGN KEY (integration_id, organization_id)
    REFERENCES booking.calendar_integrations (id, organization_id) ON DELETE CASCADE
);
CREATE INDEX calendar_credentials_integration_idx ON booking.calendar_credentials (integration_id, organization_id);
CREATE INDEX calendar_credentials_organization_id_idx ON booking.calendar_credentials (organization_id);
-- Not audited: the audit log would copy the tokens.
SELECT booking_internal.register_table('calendar_credentials', 'calendars', false);

-- Which resources an integration's events make busy.
CREATE TABLE booking.calendar_integration_resources (
  integration_id  uuid NOT NULL,
  resource_id     uuid NOT NULL,
  organization_id uuid NOT NULL,
  created_at      timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (integration_id, resource_id),
  CONSTRAINT calendar_integration_resources_integration_same_organization FOREIGN KEY (integration_id, organization_id)
    REFERENCES booking.calendar_integrations (id, organization_id) ON DELETE CASCADE,
  CONSTRAINT calendar_integration_resources_resource_same_organization FOREIGN KEY (resource_id, organization_id)
    REFERENCES booking.resources (id, organization_id) ON DELETE CASCADE
);
CREATE INDEX calendar_integration_resources_integration_idx ON booking.calendar_integration_resources (integration_id, organization_id);
CREATE INDEX calendar_integration_resources_resource_idx ON booking.calendar_integration_resources (resource_id, organization_id);
CREATE INDEX calendar_integration_resources_organization_id_idx ON booking.calendar_integration_resources (organization_id);
SELECT booking_internal.register_table('calendar_integration_resources', 'calendars', true, 'calendar_link', 'integration_id');

CREATE TABLE booking.calendar_events (
  id                uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  organization_id   uuid NOT NULL,
  integration_id    uuid NOT NULL,
  external_id       text NOT NULL CONSTRAINT calendar_events_external_id_size CHECK (length(external_id) BETWEEN 1 AND 1024),
  -- '' for an event or a series; the original start of the occurrence an override replaces
  recurrence_id     text NOT NULL DEFAULT '' CONSTRAINT calendar_events_recurrence_id_size CHECK (length(recurrence_id) <= 100),
  title             text CONSTRAINT calendar_events_title_size CHECK (length(title) <= 500),
  status            text NOT NULL DEFAULT 'confirmed' CONSTRAINT calendar_events_status_check
                    CHECK (status IN ('confirmed', 'tentative', 'cancelled')),
  transparency      text NOT NULL DEFAULT 'opaque' CONSTRAINT calendar_events_transparency_check
                    CHECK (transparency IN ('opaque', 'transparent')),
  event_type        text NOT NULL DEFAULT 'default' CONSTRAINT calendar_events_event_type_size CHECK (length(event_type) BETWEEN 1 AND 50),
  all_day           boolean NOT NULL DEFAULT false,
  -- a timed event's instants; an all-day event's local days [start_date, end_date) in the
  -- integration's zone, and the instants of their midnights
  starts_at         timestamptz NOT NULL,
  ends_at           timestamptz NOT NULL,
  start_date        date,
  end_date          date,
  -- the zone its local times (and recurrence) are read in; NULL: the integration's
  time_zone         text,
  recurrence_rule   text CONSTRAINT calendar_events_recurrence_rule_size CHECK (length(recurrence_rule) <= 1000),
  exdates           timestamptz[] NOT NULL DEFAULT '{}' CONSTRAINT calendar_events_exdates_size CHECK (cardinality(exdates) <= 1000),
  -- the provider's version: an older delivery changes nothing
  source_updated_at timestamptz,
  -- why a recurring event could not be expanded in full (then only its first occurrence is busy)
  expansion_note    text,
  deleted           boolean NOT NULL DEFAULT false,
  created_at        timestamptz NOT NULL DEFAULT now(),
  updated_at        timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT calendar_events_time_order CHECK (ends_at > starts_at),
  CONSTRAINT calendar_events_all_day_dates CHECK (NOT all_day OR (start_date IS NOT NULL AND end_date > start_date)),
  CONSTRAINT calendar_events_once UNIQUE (integration_id, external_id, recurrence_id),
  CONSTRAINT calendar_events_integration_same_organization FOREIGN KEY (integration_id, organization_id)
    REFERENCES booking.calendar_integrations (id, organization_id) ON DELETE CASCADE
);
CREATE INDEX calendar_events_integration_idx ON booking.calendar_events (integration_id, organization_id);
CREATE INDEX calendar_events_organization_id_idx ON booking.calendar_events (organization_id);
-- Not audited: a provider's copy, rewritten on every sync.
SELECT booking_internal.register_table('calendar_events', 'calendars', false);

-- The instants each event holds (one row per occurrence), written by materialize_calendar_event
-- only; status and transparency copied from the event.
CREATE TABLE booking.calendar_busy (
  event_id        uuid NOT NULL REFERENCES booking.calendar_events (id) ON DELETE CASCADE,
  organization_id uuid NOT NULL,
  integration_id  uuid NOT NULL,
  starts_at       timestamptz NOT NULL,
  ends_at         timestamptz NOT NULL,
  during          tstzrange GENERATED ALWAYS AS (tstzrange(starts_at, ends_at)) STORED,
  status          text NOT NULL,
  transparency    text NOT NULL,
  CONSTRAINT calendar_busy_time_order CHECK (ends_at > starts_at)
);
CREATE INDEX calendar_busy_event_idx ON booking.calendar_busy (event_id);
-- The slot engine reads an integration's busy time that can touch a window through the first
-- index for rows of at most two days (their end is at most two days after the window's) and
-- through the second, partial, for the few longer ones.
CREATE INDEX calendar_busy_ends_idx ON booking.calendar_busy (integration_id, ends_at) INCLUDE (starts_at, status, transparency);
CREATE INDEX calendar_busy_long_idx ON booking.calendar_busy USING gist (integration_id, during)
  WHERE ends_at - starts_at > interval '2 days';
CREATE INDEX calendar_busy_organization_id_idx ON booking.calendar_busy (organization_id);
SELECT booking_internal.register_table('calendar_busy', 'calendars', false);

-- Deliveries to one integration take turns on its row here, and each writes it: a delivery
-- that waited its turn in REPEATABLE READ (or SERIALIZABLE), whose snapshot predates the
-- delivery before it, then fails with 40001 and is retried, instead of materializing busy
-- time from rows it cannot see (a series and its override delivered at once).
CREATE TABLE booking_internal.calendar_delivery_turns (
  integration_id uuid PRIMARY KEY,
  deliveries     bigint NOT NULL DEFAULT 1
);

-- A provider's copy of one of our bookings is found by the id the worker wrote back (seed 002's
-- resources.external_calendar_id and bookings.external_calendar_event_id are in 0.1.0).
CREATE INDEX bookings_external_calendar_event_id_idx ON booking.bookings (external_calendar_event_id)
  WHERE external_calendar_event_id IS NOT NULL;

-- ---------------------------------------------------------------------------------------------
-- Integrations: staff manage them; the sync fields are the worker's (report_sync_result)
-- ---------------------------------------------------------------------------------------------

CREATE FUNCTION booking_internal.calendar_integrations_guard() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  IF booking_internal.is_bulk_load() THEN
    RETURN NEW;
  END IF;
  IF NOT booking_internal.has_staff_rights(NEW.organization_id) THEN
    RAISE EXCEPTION 'new row violates row-level security policy for table "calendar_integrations"'
      USING ERRCODE = 'insufficient_privilege';
  END IF;
  IF NEW.time_zone IS NULL THEN
    SELECT o.time_zone INTO NEW.time_zone FROM booking.organizations o WHERE o.id = NEW.organization_id;
  ELSIF NOT booking.is_valid_time_zone(NEW.time_zone) THEN
    RAISE EXCEPTION 'unknown time zone "%"', NEW.time_zone
      USING ERRCODE = 'invalid_parameter_value', HINT = 'Use an IANA name such as ''Europe/Paris''.';
  END IF;
  -- The sync fields follow report_sync_result (which sets booking.calendar_sync for its own
  -- statement); nobody else writes them.
  IF NOT booking_internal.is_privileged()
     AND (NEW.sync_status, NEW.needs_reauthorization, NEW.reauthorization_notified_at, NEW.last_sync_at,
          NEW.error_message, NEW.webhook_id, NEW.webhook_expires_at, NEW.sync_token)
         IS DISTINCT FROM
         (CASE WHEN TG_OP = 'UPDATE' THEN OLD.sync_status ELSE 'pending' END,
          CASE WHEN TG_OP = 'UPDATE' THEN OLD.needs_reauthorization ELSE false END,
          CASE WHEN TG_OP = 'UPDATE' THEN OLD.reauthorization_notified_at END,
          CASE WHEN TG_OP = 'UPDATE' THEN OLD.last_sync_at END,
          CASE WHEN TG_OP = 'UPDATE' THEN OLD.error_message END,
          CASE WHEN TG_OP = 'UPDATE' THEN OLD.webhook_id END,
          CASE WHEN TG_OP = 'UPDATE' THEN OLD.webhook_expires_at END,
          CASE WHEN TG_OP = 'UPDATE' THEN OLD.sync_token END) THEN
    RAISE EXCEPTION 'the sync fields of an integration are written by booking.report_sync_result'
      USING ERRCODE = 'insufficient_privilege';
  END IF;
  RETURN NEW;
END $$;
CREATE TRIGGER calendar_integrations_1_guard BEFORE INSERT OR UPDATE ON booking.calendar_integrations
  FOR EACH ROW EXECUTE FUNCTION booking_internal.calendar_integrations_guard();

-- A different tentative setting changes which busy rows count, not the rows: nothing to do.
-- A different time zone moves all-day events (their days are the zone's) and the series read
-- in it: materialize them again. A timed event keeps the instants it was delivered with.
CREATE FUNCTION booking_internal.calendar_integrations_rezone() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  IF booking_internal.is_bulk_load() THEN
    RETURN NULL;
  END IF;
  -- all-day events are the new zone's days (timed ones keep their instants)
  UPDATE booking.calendar_events
  SET starts_at = start_date::timestamp AT TIME ZONE NEW.time_zone, ends_at = end_date::timestamp AT TIME ZONE NEW.time_zone
  WHERE integration_id = NEW.id AND all_day AND time_zone IS NULL AND NOT deleted;
  PERFORM booking_internal.materialize_calendar_event(e.id)
  FROM booking.calendar_events e WHERE e.integration_id = NEW.id;
  RETURN NULL;
END $$;
CREATE TRIGGER calendar_integrations_5_rezone AFTER UPDATE OF time_zone ON booking.calendar_integrations
  FOR EACH ROW WHEN (OLD.time_zone IS DISTINCT FROM NEW.time_zone)
  EXECUTE FUNCTION booking_internal.calendar_integrations_rezone();

-- ---------------------------------------------------------------------------------------------
-- Busy time
-- ---------------------------------------------------------------------------------------------

-- The local date of the occurrence an override replaces, from its recurrence id: a date
-- (`YYYYMMDD` as iCalendar writes it, or `YYYY-MM-DD` as Google's API does), or an instant
-- (with `Z` or an offset; without one, a local time of the zone). NULL when it is none of these.
CREATE FUNCTION booking_internal.recurrence_date(p_recurrence_id text, p_time_zone text) RETURNS date
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  IF p_recurrence_id ~ '^[0-9]{8}$' THEN
    RETURN to_date(p_recurrence_id, 'YYYYMMDD');
  ELSIF p_recurrence_id ~ '^[0-9]{4}-[0-9]{2}-[0-9]{2}$' THEN
    RETURN p_recurrence_id::date;
  ELSIF p_recurrence_id ~ '^[0-9]{4}-?[0-9]{2}-?[0-9]{2}[T ][0-9]{2}:?[0-9]{2}(:?[0-9]{2}(\.[0-9]+)?)?(Z|[+-][0-9]{2}(:?[0-9]{2})?)$' THEN
    RETURN (p_recurrence_id::timestamptz AT TIME ZONE p_time_zone)::date;
  ELSIF p_recurrence_id ~ '^[0-9]{4}-?[0-9]{2}-?[0-9]{2}[T ][0-9]{2}:?[0-9]{2}(:?[0-9]{2}(\.[0-9]+)?)?$' THEN
    RETURN p_recurrence_id::timestamp::date;
  END IF;
  RETURN NULL;
EXCEPTION WHEN invalid_datetime_format OR datetime_field_overflow THEN
  RETURN NULL;
END $$;

-- How far ahead an endless recurring external event is expanded (from now).
CREATE FUNCTION booking_internal.calendar_horizon_days() RETURNS integer
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
RETURN 366;

-- Is this provider event the provider's copy of one of our own bookings (pushed by the worker,
-- its id written back to a booking of a resource the integration is linked to)? Such an event
-- holds no busy time: the booking holds that time already and must not be blocked by itself.
-- SQL, so that the set-based delivery inlines it.
CREATE FUNCTION booking_internal.is_own_booking_copy(p_integration_id uuid, p_external_id text) RETURNS boolean
LANGUAGE sql STABLE PARALLEL SAFE
RETURN EXISTS (SELECT 1 FROM booking.bookings b
               JOIN booking.calendar_integration_resources l ON l.resource_id = b.resource_id
                                                            AND l.integration_id = p_integration_id
               WHERE b.external_calendar_event_id = p_external_id);

-- Write the instants an event holds (its calendar_busy rows), from scratch. An override
-- (recurrence_id set) holds its own time; a series each occurrence the series engine gives
-- for its rule in its zone, but the dates excluded (EXDATE) or replaced by an override; an
-- endless rule (or one ending beyond the horizon) from its latest occurrence-aligned start a
-- month back up to the horizon. A rule the engine cannot expand (a part it does not know, more
-- than it allows) holds its first occurrence only, and says why in expansion_note.
CREATE FUNCTION booking_internal.materialize_calendar_event(p_event_id uuid) RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  e          booking.calendar_events;
  v_tz       text;
  v_rule     text;
  v_first    timestamp;
  v_skipped  date[];
  v_note     text;
  v_freq     text;
  v_interval integer;
  v_period   interval;
  v_steps    bigint;
  v_horizon  date;
  v_days     integer;
BEGIN
  SELECT * INTO e FROM booking.calendar_events WHERE id = p_event_id;
  IF NOT FOUND THEN
    RETURN;
  END IF;
  DELETE FROM booking.calendar_busy WHERE event_id = e.id;
  -- A cancelled event holds nothing, and neither does the provider's copy of one of our own
  -- bookings.
  IF e.deleted OR e.status = 'cancelled' OR booking_internal.is_own_booking_copy(e.integration_id, e.external_id) THEN
    UPDATE booking.calendar_events SET expansion_note = NULL WHERE id = e.id AND expansion_note IS NOT NULL;
    RETURN;
  END IF;
  SELECT coalesce(e.time_zone, i.time_zone) INTO v_tz FROM booking.calendar_integrations i WHERE i.id = e.integration_id;
  IF e.recurrence_rule IS NULL OR e.recurrence_id <> '' THEN
    INSERT INTO booking.calendar_busy (event_id, organization_id, integration_id, starts_at, ends_at, status, transparency)
    VALUES (e.id, e.organization_id, e.integration_id, e.starts_at, e.ends_at, e.status, e.transparency);
    RETURN;
  END IF;

  v_rule := upper(e.recurrence_rule);
  -- WKST changes nothing unless a weekly rule skips weeks; Outlook writes it always
  IF v_rule ~ 'WKST=' AND (v_rule ~ 'WKST=MO' OR coalesce(substring(v_rule FROM 'INTERVAL=([0-9]+)')::integer, 1) = 1
                           OR v_rule !~ 'FREQ=WEEKLY') THEN
    v_rule := regexp_replace(v_rule, ';?WKST=[A-Z]{2}', '');
  END IF;
  v_first := CASE WHEN e.all_day THEN e.start_date::timestamp ELSE e.starts_at AT TIME ZONE v_tz END;
  v_horizon := (now() AT TIME ZONE v_tz)::date + booking_internal.calendar_horizon_days();
  v_days := CASE WHEN e.all_day THEN e.end_date - e.start_date END;
  -- The dates not to expand: EXDATEs, and the occurrences overrides replace.
  SELECT array_agg(DISTINCT d) INTO v_skipped FROM (
    SELECT (x AT TIME ZONE v_tz)::date AS d
    FROM unnest(e.exdates) AS x
    UNION
    SELECT booking_internal.recurrence_date(o.recurrence_id, v_tz)
    FROM booking.calendar_events o
    WHERE o.integration_id = e.integration_id AND o.external_id = e.external_id AND o.recurrence_id <> '') s;
  -- Endless, or ending past the horizon: start a month back on the rule's own step, end at the
  -- horizon (without COUNT, an UNTIL rule is the same rule from any of its occurrences).
  IF v_rule !~ 'COUNT=' THEN
    v_freq := substring(v_rule FROM 'FREQ=([A-Z]+)');
    v_interval := coalesce(substring(v_rule FROM 'INTERVAL=([0-9]+)')::integer, 1);
    v_period := CASE v_freq WHEN 'DAILY' THEN make_interval(days => v_interval)
                            WHEN 'WEEKLY' THEN make_interval(days => 7 * v_interval)
                            WHEN 'MONTHLY' THEN make_interval(months => v_interval) END;
    -- (a rule that ended before then is left as it is: nothing of it is ahead)
    IF v_period IS NOT NULL AND v_first < (now() AT TIME ZONE v_tz) - interval '31 days'
       AND coalesce(to_date(substring(v_rule FROM 'UNTIL=([0-9]{8})'), 'YYYYMMDD'), 'infinity')
           >= ((now() AT TIME ZONE v_tz) - interval '31 days')::date THEN
      IF v_freq = 'MONTHLY' THEN
        v_steps := ((extract(year FROM age((now() AT TIME ZONE v_tz) - interval '31 days', v_first)) * 12
                     + extract(month FROM age((now() AT TIME ZONE v_tz) - interval '31 days', v_first)))::bigint) / v_interval;
        v_first := v_first + make_interval(months => (v_steps * v_interval)::integer);
      ELSE
        v_steps := floor(extract(epoch FROM ((now() AT TIME ZONE v_tz) - interval '31 days' - v_first))
                         / extract(epoch FROM v_period))::bigint;
        v_first := v_first + (v_steps * extract(epoch FROM v_period)) * interval '1 second';
      END IF;
    END IF;
    IF v_rule !~ 'UNTIL=' THEN
      v_rule := v_rule || ';UNTIL=' || to_char(v_horizon, 'YYYYMMDD');
    ELSIF to_date(substring(v_rule FROM 'UNTIL=([0-9]{8})'), 'YYYYMMDD') > v_horizon THEN
      v_rule := regexp_replace(v_rule, 'UNTIL=[0-9TZ]+', 'UNTIL=' || to_char(v_horizon, 'YYYYMMDD'));
    END IF;
  END IF;
  BEGIN
    IF e.all_day THEN
      INSERT INTO booking.calendar_busy (event_id, organization_id, integration_id, starts_at, ends_at, status, transparency)
      SELECT e.id, e.organization_id, e.integration_id,
             o.local_date::timestamp AT TIME ZONE v_tz, (o.local_date + v_days)::timestamp AT TIME ZONE v_tz,
             e.status, e.transparency
      FROM booking_internal.expand_series(v_rule, v_first, interval '1 day', v_tz, coalesce(v_skipped, '{}')) o;
    ELSE
      INSERT INTO booking.calendar_busy (event_id, organization_id, integration_id, starts_at, ends_at, status, transparency)
      SELECT e.id, e.organization_id, e.integration_id, o.occurrence_start, o.occurrence_end, e.status, e.transparency
      FROM booking_internal.expand_series(v_rule, v_first, e.ends_at - e.starts_at, v_tz, coalesce(v_skipped, '{}')) o;
    END IF;
  EXCEPTION WHEN invalid_parameter_value THEN
    GET STACKED DIAGNOSTICS v_note = MESSAGE_TEXT;
    INSERT INTO booking.calendar_busy (event_id, organization_id, integration_id, starts_at, ends_at, status, transparency)
    VALUES (e.id, e.organization_id, e.integration_id, e.starts_at, e.ends_at, e.status, e.transparency);
  END;
  UPDATE booking.calendar_events SET expansion_note = left(v_note, 1000)
  WHERE id = e.id AND expansion_note IS DISTINCT FROM left(v_note, 1000);
END $$;

-- Expand again every recurring event (the horizon moves with time): for service_role, daily.
CREATE FUNCTION booking.refresh_calendar_busy() RETURNS integer
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_count integer := 0;
  v_id    uuid;
BEGIN
  PERFORM booking_internal.require_privileged('refresh_calendar_busy');
  FOR v_id IN SELECT id FROM booking.calendar_events
              WHERE recurrence_rule IS NOT NULL AND recurrence_id = '' AND NOT deleted AND status <> 'cancelled' LOOP
    PERFORM booking_internal.materialize_calendar_event(v_id);
    v_count := v_count + 1;
  END LOOP;
  RETURN v_count;
END $$;

-- ---------------------------------------------------------------------------------------------
-- Deliveries: events in, idempotent
-- ---------------------------------------------------------------------------------------------

-- The most events and bytes one delivery (or one iCalendar import) may carry.
CREATE FUNCTION booking_internal.calendar_delivery_limits(OUT max_events integer, OUT max_bytes integer)
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
RETURN ROW(2000, 2097152);

-- Apply a delivery of events to an integration (locked for the rest of the transaction, so
-- deliveries of one integration take turns). Each element: external_id (required),
-- recurrence_id, updated (the provider's version), deleted, title, status, transparency,
-- event_type, all_day with start_date and end_date (dates; end exclusive), or start and end
-- (instants; or local date-times read in time_zone), time_zone, recurrence_rule, exdates.
-- One bad element refuses the whole delivery (22023, naming it). Returns the counts.
CREATE FUNCTION booking_internal.apply_calendar_events(p_integration_id uuid, p_events jsonb) RETURNS jsonb
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_integration booking.calendar_integrations;
  v_limits      record;
  v_item        jsonb;
  v_n           integer := 0;
  v_old         booking.calendar_events;
  v_new         booking.calendar_events;
  v_tz          text;
  v_version     timestamptz;
  v_inserted    integer := 0;
  v_updated     integer := 0;
  v_deleted     integer := 0;
  v_unchanged   integer := 0;
  v_masters     text[] := '{}'::text[];
  -- The delivery's events as they stand, by key (external id, U+001F, recurrence id): read
  -- once from the table, changed in order item by item, written in one statement at the end
  -- (a statement per event costs more than the event).
  v_keys        text[];
  v_rows        booking.calendar_events[];
  v_in_table    boolean[];
  v_dirty       boolean[];
  v_key         text;
  v_i           integer;
BEGIN
  SELECT * INTO v_limits FROM booking_internal.calendar_delivery_limits();
  IF p_events IS NULL OR jsonb_typeof(p_events) <> 'array' THEN
    RAISE EXCEPTION 'p_events must be a JSON array of events' USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF jsonb_array_length(p_events) > v_limits.max_events OR octet_length(p_events::text) > v_limits.max_bytes THEN
    RAISE EXCEPTION 'a delivery carries at most % events and % bytes', v_limits.max_events, v_limits.max_bytes
      USING ERRCODE = 'invalid_parameter_value', HINT = 'Send it in several deliveries.';
  END IF;
  SELECT * INTO v_integration FROM booking.calendar_integrations WHERE id = p_integration_id FOR SHARE;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'unknown calendar integration %', p_integration_id USING ERRCODE = 'invalid_parameter_value';
  END IF;
  INSERT INTO booking_internal.calendar_delivery_turns AS d (integration_id) VALUES (p_integration_id)
  ON CONFLICT (integration_id) DO UPDATE SET deliveries = d.deliveries + 1;
  SELECT coalesce(array_agg(e.external_id || E'\x1f' || e.recurrence_id), '{}'::text[]),
         coalesce(array_agg(e), '{}'::booking.calendar_events[]),
         coalesce(array_agg(true), '{}'::boolean[]), coalesce(array_agg(false), '{}'::boolean[])
  INTO v_keys, v_rows, v_in_table, v_dirty
  FROM booking.calendar_events e
  WHERE e.integration_id = p_integration_id
    AND (e.external_id, e.recurrence_id) IN (SELECT x ->> 'external_id', coalesce(x ->> 'recurrence_id', '')
                                             FROM jsonb_array_elements(p_events) AS x WHERE jsonb_typeof(x) = 'object');
  -- One handler for the whole delivery, naming the event at fault (a handler per event would
  -- cost a subtransaction per event; any bad event refuses the delivery anyway).
  BEGIN
  FOR v_item IN SELECT value FROM jsonb_array_elements(p_events) LOOP
    v_n := v_n + 1;
      IF jsonb_typeof(v_item) <> 'object' OR coalesce(length(v_item ->> 'external_id'), 0) NOT BETWEEN 1 AND 1024 THEN
        RAISE EXCEPTION 'an event is an object with an external_id of 1 to 1024 characters';
      END IF;
      v_version := (v_item ->> 'updated')::timestamptz;
      IF length(v_item ->> 'recurrence_id') > 100 THEN
        RAISE EXCEPTION 'a recurrence_id has at most 100 characters';
      END IF;
      v_key := (v_item ->> 'external_id') || E'\x1f' || coalesce(v_item ->> 'recurrence_id', '');
      v_i := array_position(v_keys, v_key);
      IF v_i IS NULL THEN
        v_old := NULL;
      ELSE
        v_old := v_rows[v_i];
      END IF;
      IF v_old.id IS NOT NULL AND v_old.source_updated_at IS NOT NULL AND v_version IS NOT NULL AND v_version < v_old.source_updated_at THEN
        v_unchanged := v_unchanged + 1;  -- an older version, delivered late
        CONTINUE;
      END IF;
      IF coalesce(v_item ->> 'recurrence_id', '') <> ''
         AND booking_internal.recurrence_date(v_item ->> 'recurrence_id', v_integration.time_zone) IS NULL THEN
        RAISE EXCEPTION 'recurrence_id is a date (YYYYMMDD or YYYY-MM-DD) or a date-time, not "%"', left(v_item ->> 'recurrence_id', 100);
      END IF;
      v_tz := coalesce(v_item ->> 'time_zone', v_integration.time_zone);
      IF v_tz IS DISTINCT FROM v_integration.time_zone AND NOT booking.is_valid_time_zone(v_tz) THEN
        RAISE EXCEPTION 'unknown time zone "%"', left(v_tz, 100);
      END IF;
      v_new := NULL;
      v_new.organization_id := v_integration.organization_id;
      v_new.integration_id := p_integration_id;
      v_new.external_id := v_item ->> 'external_id';
      v_new.recurrence_id := coalesce(v_item ->> 'recurrence_id', '');
      v_new.source_updated_at := coalesce(v_version, v_old.source_updated_at);
      IF coalesce((v_item ->> 'deleted')::boolean, false) THEN
        IF v_old.id IS NULL THEN
          v_new.status := 'cancelled';
          v_new.starts_at := coalesce((v_item ->> 'start')::timestamptz, '-infinity');
          v_new.ends_at := coalesce((v_item ->> 'end')::timestamptz, 'infinity');
        ELSE
          v_new := v_old;
          v_new.source_updated_at := coalesce(v_version, v_old.source_updated_at);
        END IF;
        v_new.deleted := true;
        v_new.status := 'cancelled';
      ELSE
        v_new.deleted := false;
        v_new.title := left(v_item ->> 'title', 500);
        v_new.status := coalesce(v_item ->> 'status', 'confirmed');
        v_new.transparency := coalesce(v_item ->> 'transparency', 'opaque');
        v_new.event_type := coalesce(v_item ->> 'event_type', 'default');
        v_new.all_day := coalesce((v_item ->> 'all_day')::boolean, false);
        v_new.time_zone := v_item ->> 'time_zone';
        v_new.recurrence_rule := v_item ->> 'recurrence_rule';
        -- a date-only exclusion is that local date: its midnight in the event's zone
        v_new.exdates := CASE WHEN v_item ? 'exdates' THEN coalesce((SELECT array_agg(CASE WHEN x ~ '^[0-9]{4}-[0-9]{2}-[0-9]{2}$'
                                                       THEN x::date::timestamp AT TIME ZONE v_tz
                                                       WHEN x ~ '(Z|[+-][0-9:]+)$' THEN x::timestamptz
                                                       ELSE x::timestamp AT TIME ZONE v_tz END)
                                   FROM jsonb_array_elements_text(v_item -> 'exdates') AS x), '{}') ELSE '{}' END;
        IF v_new.status NOT IN ('confirmed', 'tentative', 'cancelled')
           OR v_new.transparency NOT IN ('opaque', 'transparent')
           OR length(v_new.event_type) NOT BETWEEN 1 AND 50 OR length(v_new.recurrence_rule) > 1000
           OR cardinality(v_new.exdates) > 1000 THEN
          RAISE EXCEPTION 'status is confirmed, tentative or cancelled; transparency opaque or transparent; event_type 1 to 50 characters; recurrence_rule at most 1000; at most 1000 exdates';
        END IF;
        IF v_new.all_day THEN
          v_new.start_date := (v_item ->> 'start_date')::date;
          v_new.end_date := coalesce((v_item ->> 'end_date')::date, v_new.start_date + 1);
          IF v_new.start_date IS NULL OR v_new.end_date <= v_new.start_date THEN
            RAISE EXCEPTION 'an all-day event needs start_date and a later end_date';
          END IF;
          v_new.starts_at := v_new.start_date::timestamp AT TIME ZONE v_tz;
          v_new.ends_at := v_new.end_date::timestamp AT TIME ZONE v_tz;
        ELSE
          v_new.starts_at := CASE WHEN (v_item ->> 'start') ~ '(Z|[+-][0-9:]+)$' THEN (v_item ->> 'start')::timestamptz
                                  ELSE (v_item ->> 'start')::timestamp AT TIME ZONE v_tz END;
          v_new.ends_at := CASE WHEN (v_item ->> 'end') ~ '(Z|[+-][0-9:]+)$' THEN (v_item ->> 'end')::timestamptz
                                ELSE (v_item ->> 'end')::timestamp AT TIME ZONE v_tz END;
          IF v_new.starts_at IS NULL OR v_new.ends_at IS NULL OR NOT (v_new.ends_at > v_new.starts_at)
             OR NOT (isfinite(v_new.starts_at) AND isfinite(v_new.ends_at)) THEN
            RAISE EXCEPTION 'an event needs a finite start and a later end';
          END IF;
        END IF;
      END IF;
      IF v_old.id IS NOT NULL AND (v_new.title, v_new.status, v_new.transparency, v_new.event_type, v_new.all_day, v_new.starts_at,
                    v_new.ends_at, v_new.start_date, v_new.end_date, v_new.time_zone, v_new.recurrence_rule,
                    v_new.exdates, v_new.deleted, v_new.source_updated_at)
                   IS NOT DISTINCT FROM
                   (v_old.title, v_old.status, v_old.transparency, v_old.event_type, v_old.all_day, v_old.starts_at,
                    v_old.ends_at, v_old.start_date, v_old.end_date, v_old.time_zone, v_old.recurrence_rule,
                    v_old.exdates, v_old.deleted, v_old.source_updated_at) THEN
        v_unchanged := v_unchanged + 1;  -- a duplicate delivery
        CONTINUE;
      END IF;
      IF v_i IS NULL THEN
        v_new.id := gen_random_uuid();
        v_keys := v_keys || v_key;
        v_rows := v_rows || v_new;
        v_in_table := v_in_table || false;
        v_dirty := v_dirty || true;
      ELSE
        v_new.id := v_old.id;
        v_new.created_at := v_old.created_at;
        v_new.expansion_note := v_old.expansion_note;
        v_rows[v_i] := v_new;
        v_dirty[v_i] := true;
      END IF;
      IF v_new.recurrence_id <> '' THEN
        v_masters := v_masters || v_new.external_id;
      END IF;
      IF v_new.deleted THEN
        v_deleted := v_deleted + 1;
      ELSIF v_old.id IS NULL THEN
        v_inserted := v_inserted + 1;
      ELSE
        v_updated := v_updated + 1;
      END IF;
  END LOOP;
  EXCEPTION
    WHEN invalid_text_representation OR invalid_datetime_format OR datetime_field_overflow
         OR check_violation OR raise_exception OR not_null_violation OR string_data_right_truncation THEN
      RAISE EXCEPTION 'event % of the delivery: %', v_n, SQLERRM USING ERRCODE = 'invalid_parameter_value';
  END;
  -- The changed events, in one statement (new ones with the ids given above). (The checks above
  -- are the table's; should one still fail, the delivery is refused as a bad one.)
  BEGIN
  INSERT INTO booking.calendar_events AS c (id, organization_id, integration_id, external_id, recurrence_id, title, status,
                                            transparency, event_type, all_day, starts_at, ends_at, start_date, end_date,
                                            time_zone, recurrence_rule, exdates, source_updated_at, deleted)
  SELECT r.id, r.organization_id, r.integration_id, r.external_id, r.recurrence_id, r.title, r.status,
         coalesce(r.transparency, 'opaque'), coalesce(r.event_type, 'default'), coalesce(r.all_day, false),
         r.starts_at, r.ends_at, r.start_date, r.end_date, r.time_zone, r.recurrence_rule, coalesce(r.exdates, '{}'),
         r.source_updated_at, r.deleted
  FROM generate_subscripts(v_rows, 1) AS i, LATERAL (SELECT (v_rows[i]).*) AS r
  WHERE v_dirty[i]
  ON CONFLICT ON CONSTRAINT calendar_events_once DO UPDATE
  SET title = EXCLUDED.title, status = EXCLUDED.status, transparency = EXCLUDED.transparency,
      event_type = EXCLUDED.event_type, all_day = EXCLUDED.all_day, starts_at = EXCLUDED.starts_at,
      ends_at = EXCLUDED.ends_at, start_date = EXCLUDED.start_date, end_date = EXCLUDED.end_date,
      time_zone = EXCLUDED.time_zone, recurrence_rule = EXCLUDED.recurrence_rule, exdates = EXCLUDED.exdates,
      source_updated_at = EXCLUDED.source_updated_at, deleted = EXCLUDED.deleted;
  EXCEPTION WHEN check_violation OR not_null_violation THEN
    RAISE EXCEPTION 'an event of the delivery: %', SQLERRM USING ERRCODE = 'invalid_parameter_value';
  END;
  -- Their busy time: a single event's (or an override's) own instants, unless it is cancelled or
  -- the provider's copy of one of our bookings (see materialize_calendar_event); a series'
  -- occurrences through materialize_calendar_event.
  DELETE FROM booking.calendar_busy
  WHERE event_id IN (SELECT (v_rows[i]).id FROM generate_subscripts(v_rows, 1) AS i WHERE v_dirty[i] AND v_in_table[i]);
  UPDATE booking.calendar_events SET expansion_note = NULL
  WHERE id IN (SELECT (v_rows[i]).id FROM generate_subscripts(v_rows, 1) AS i
               WHERE v_dirty[i] AND v_in_table[i] AND (v_rows[i]).expansion_note IS NOT NULL
                 AND ((v_rows[i]).recurrence_rule IS NULL OR (v_rows[i]).recurrence_id <> ''));
  INSERT INTO booking.calendar_busy (event_id, organization_id, integration_id, starts_at, ends_at, status, transparency)
  SELECT r.id, r.organization_id, r.integration_id, r.starts_at, r.ends_at, r.status, r.transparency
  FROM generate_subscripts(v_rows, 1) AS i, LATERAL (SELECT (v_rows[i]).*) AS r
  WHERE v_dirty[i] AND (r.recurrence_rule IS NULL OR r.recurrence_id <> '') AND NOT r.deleted AND r.status <> 'cancelled'
    AND NOT booking_internal.is_own_booking_copy(p_integration_id, r.external_id);
  PERFORM booking_internal.materialize_calendar_event((v_rows[i]).id)
  FROM generate_subscripts(v_rows, 1) AS i
  WHERE v_dirty[i] AND (v_rows[i]).recurrence_rule IS NOT NULL AND (v_rows[i]).recurrence_id = '';
  -- A series whose overrides changed holds different dates now.
  PERFORM booking_internal.materialize_calendar_event(m.id)
  FROM booking.calendar_events m
  WHERE m.integration_id = p_integration_id AND m.recurrence_id = '' AND m.external_id = ANY (v_masters);
  RETURN jsonb_build_object('inserted', v_inserted, 'updated', v_updated, 'deleted', v_deleted, 'unchanged', v_unchanged);
END $$;

-- For the worker (service_role): apply a delivery of a provider's events (see
-- apply_calendar_events for the fields). Idempotent: the same delivery again, or an older
-- version of an event, changes nothing; a deletion is kept as a cancelled tombstone so that a
-- late copy of the event does not bring it back. Errors: 42501 for anyone but service_role;
-- 22023 for an unknown integration, more than 2000 events or 2 MB, or a bad event (named).
CREATE FUNCTION booking.upsert_calendar_events(p_integration_id uuid, p_events jsonb) RETURNS jsonb
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  PERFORM booking_internal.require_privileged('upsert_calendar_events');
  RETURN booking_internal.apply_calendar_events(p_integration_id, p_events);
END $$;

-- For the worker (service_role): how a sync went. p_status along pending -> syncing ->
-- success | error (and back to syncing); last_sync_at is set on success; p_error is kept on
-- error; p_needs_reauthorization marks credentials that failed, and notifies the
-- organization's owners and admins once (until a successful sync clears it).
CREATE FUNCTION booking.report_sync_result(p_integration_id uuid, p_status text, p_error text DEFAULT NULL,
                                           p_needs_reauthorization boolean DEFAULT false, p_sync_token text DEFAULT NULL)
RETURNS booking.calendar_integrations
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_row booking.calendar_integrations;
BEGIN
  PERFORM booking_internal.require_privileged('report_sync_result');
  IF p_status IS NULL OR p_status NOT IN ('syncing', 'success', 'error') THEN
    RAISE EXCEPTION 'p_status is syncing, success or error' USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF length(p_error) > 4000 OR length(p_sync_token) > 2000 THEN
    RAISE EXCEPTION 'p_error may have 4000 characters and p_sync_token 2000' USING ERRCODE = 'invalid_parameter_value';
  END IF;
  SELECT * INTO v_row FROM booking.calendar_integrations WHERE id = p_integration_id FOR UPDATE;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'unknown calendar integration %', p_integration_id USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF p_status = 'syncing' AND v_row.sync_status = 'syncing' THEN
    RAISE EXCEPTION 'the integration is syncing already' USING ERRCODE = 'PT409', DETAIL = 'sync_transition';
  END IF;
  IF p_status IN ('success', 'error') AND v_row.sync_status <> 'syncing' THEN
    RAISE EXCEPTION 'a sync ends after it started: the integration is %', v_row.sync_status
      USING ERRCODE = 'PT409', DETAIL = 'sync_transition', HINT = 'Report syncing first.';
  END IF;
  UPDATE booking.calendar_integrations
  SET sync_status = p_status,
      last_sync_at = CASE WHEN p_status = 'success' THEN now() ELSE last_sync_at END,
      error_message = CASE p_status WHEN 'error' THEN coalesce(p_error, 'the sync failed') WHEN 'success' THEN NULL ELSE error_message END,
      sync_token = coalesce(p_sync_token, sync_token),
      needs_reauthorization = CASE WHEN p_status = 'success' THEN false
                                   WHEN p_needs_reauthorization THEN true ELSE needs_reauthorization END,
      reauthorization_notified_at = CASE WHEN p_status = 'success' THEN NULL ELSE reauthorization_notified_at END
  WHERE id = p_integration_id
  RETURNING * INTO v_row;
  IF v_row.needs_reauthorization AND v_row.reauthorization_notified_at IS NULL THEN
    INSERT INTO booking.notifications (organization_id, recipient_id, notification_type, message, metadata)
    SELECT v_row.organization_id, m.user_id, 'calendar_reauthorization',
           booking_internal.render_notification(v_row.organization_id, 'calendar_reauthorization',
             jsonb_build_object('calendar', coalesce(v_row.name, v_row.calendar_id), 'provider', v_row.provider,
                                'error', v_row.error_message)),
           jsonb_build_object('integration_id', v_row.id, 'provider', v_row.provider, 'error', v_row.error_message)
    FROM booking.members m
    WHERE m.organization_id = v_row.organization_id AND m.is_active AND m.role IN ('owner', 'admin');
    UPDATE booking.calendar_integrations SET reauthorization_notified_at = now() WHERE id = v_row.id
    RETURNING * INTO v_row;
  END IF;
  RETURN v_row;
END $$;

-- ---------------------------------------------------------------------------------------------
-- iCalendar: files in, feeds out
-- ---------------------------------------------------------------------------------------------

-- booking.import_ics(p_integration_id, p_ics) (native, mod.rs beside this file): staff (or
-- service_role) import an iCalendar file into an integration as one delivery of
-- apply_calendar_events; booking_internal.resource_calendar_ics_text(p_resource_id) (native)
-- writes a resource's bookings as an iCalendar feed. Both exist before this script runs (its
-- `requires`).

-- A function returning this domain is served by PostgREST (12+) as text/calendar to a client
-- that asks for it (Accept: text/calendar): its media type handlers go by the domain's name.
CREATE DOMAIN booking."text/calendar" AS text;

-- The feed of a resource's bookings (pending and approved, from 30 days ago to 366 days ahead,
-- at most 5000), as iCalendar: titled for those who may see each booking, "Busy" for others.
-- Anyone who may see the resource may read it (anon too, for a bookable resource of a public
-- organization); 22023 for an unknown resource or one the caller may not see. It runs as the
-- owner only to reach the native function (schema booking_internal, which anon may not use);
-- that function checks the caller itself (the role it acts as and its JWT, never the owner).
CREATE FUNCTION booking.resource_calendar_ics(p_resource_id uuid) RETURNS booking."text/calendar"
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$ SELECT booking_internal.resource_calendar_ics_text(p_resource_id)::booking."text/calendar" $$;

-- ---------------------------------------------------------------------------------------------

-- What a calendar.push event tells the worker: the booking (as it is, or as it was for a
-- delete from the calendars of the resource it left), the integration, and what to do.
CREATE FUNCTION booking_internal.calendar_push_payload(p_booking booking.bookings, p_integration booking.calendar_integrations,
                                                       p_action text, p_status text) RETURNS jsonb
LANGUAGE sql STABLE PARALLEL SAFE
AS $$
  SELECT jsonb_build_object('booking_id', p_booking.id, 'integration_id', p_integration.id, 'provider', p_integration.provider,
                            'calendar_id', p_integration.calendar_id, 'resource_id', p_booking.resource_id, 'action', p_action,
                            'status', p_status, 'title', p_booking.title, 'starts_at', p_booking.starts_at,
                            'ends_at', p_booking.ends_at, 'external_calendar_event_id', p_booking.external_calendar_event_id)
$$;

-- The integrations a resource's bookings are pushed to: its linked calendars but iCalendar
-- feeds (read only). A quoted SQL body, inlined into the pushes below.
CREATE FUNCTION booking_internal.pushing_integrations(p_resource_id uuid) RETURNS SETOF booking.calendar_integrations
LANGUAGE sql STABLE PARALLEL SAFE
AS $$
  SELECT i.* FROM booking.calendar_integration_resources l
  JOIN booking.calendar_integrations i ON i.id = l.integration_id
  WHERE l.resource_id = p_resource_id AND i.provider <> 'ics'
$$;

-- A change of a booking's time, status, title or resource.
CREATE FUNCTION booking_internal.bookings_calendar_push() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  IF booking_internal.is_bulk_load() THEN
    RETURN NULL;
  END IF;
  -- Moved to another resource: the calendars of the one it left drop it.
  IF OLD.resource_id IS DISTINCT FROM NEW.resource_id THEN
    INSERT INTO booking.outbox (organization_id, topic, payload)
    SELECT OLD.organization_id, 'calendar.push', booking_internal.calendar_push_payload(OLD, i, 'delete', NEW.status)
    FROM booking_internal.pushing_integrations(OLD.resource_id) i;
  END IF;
  INSERT INTO booking.outbox (organization_id, topic, payload)
  SELECT NEW.organization_id, 'calendar.push',
         booking_internal.calendar_push_payload(NEW, i, CASE WHEN NOT booking_internal.holds_time(NEW.status) THEN 'delete'
                                                             ELSE 'update' END, NEW.status)
  FROM booking_internal.pushing_integrations(NEW.resource_id) i;
  RETURN NULL;
END $$;

-- New bookings that hold time, all the rows of one INSERT in one statement.
CREATE FUNCTION booking_internal.bookings_calendar_push_inserted() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  IF booking_internal.is_bulk_load() THEN
    RETURN NULL;
  END IF;
  INSERT INTO booking.outbox (organization_id, topic, payload)
  SELECT n.organization_id, 'calendar.push', booking_internal.calendar_push_payload(n, i, 'create', n.status)
  FROM new_rows n, booking_internal.pushing_integrations(n.resource_id) i
  WHERE booking_internal.holds_time(n.status)
  ORDER BY n.starts_at, n.id, i.id;
  RETURN NULL;
END $$;

-- The worker wrote back (or changed) the provider's id of a booking's event: that event is the
-- booking's own copy and holds no busy time of its own (and one that lost the id holds its time
-- again).
CREATE FUNCTION booking_internal.bookings_calendar_event_linked() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  IF booking_internal.is_bulk_load() THEN
    RETURN NULL;
  END IF;
  PERFORM booking_internal.materialize_calendar_event(e.id)
  FROM booking.calendar_events e
  JOIN booking.calendar_integration_resources l ON l.integration_id = e.integration_id
  WHERE l.resource_id IN (OLD.resource_id, NEW.resource_id)
    AND e.external_id IN (OLD.external_calendar_event_id, NEW.external_calendar_event_id);
  RETURN NULL;
END $$;
CREATE TRIGGER bookings_6_calendar_event_linked AFTER UPDATE OF external_calendar_event_id ON booking.bookings
  FOR EACH ROW WHEN (OLD.external_calendar_event_id IS DISTINCT FROM NEW.external_calendar_event_id)
  EXECUTE FUNCTION booking_internal.bookings_calendar_event_linked();
CREATE TRIGGER bookings_6_calendar_push_insert AFTER INSERT ON booking.bookings REFERENCING NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION booking_internal.bookings_calendar_push_inserted();
CREATE TRIGGER bookings_6_calendar_push_update AFTER UPDATE OF status, starts_at, ends_at, resource_id, title ON booking.bookings
  FOR EACH ROW WHEN ((OLD.status, OLD.starts_at, OLD.ends_at, OLD.resource_id, OLD.title)
                     IS DISTINCT FROM (NEW.status, NEW.starts_at, NEW.ends_at, NEW.resource_id, NEW.title))
  EXECUTE FUNCTION booking_internal.bookings_calendar_push();

-- ---------------------------------------------------------------------------------------------
-- Row-level security
-- ---------------------------------------------------------------------------------------------

-- Members see their organization's integrations and links (not the credentials, which have no
-- policy at all); staff manage them; the events and their busy time are staff's to read (the
-- slot engine reads busy time for everyone, as times only).
CREATE POLICY calendar_integrations_select ON booking.calendar_integrations FOR SELECT
  USING (organization_id = ANY ((SELECT booking.user_organization_ids())::uuid[]));
CREATE POLICY calendar_integration_resources_select ON booking.calendar_integration_resources FOR SELECT
  USING (organization_id = ANY ((SELECT booking.user_organization_ids())::uuid[]));
CREATE POLICY calendar_events_select ON booking.calendar_events FOR SELECT
  USING (organization_id = ANY ((SELECT booking.user_organization_ids('{owner,admin,staff}'))::uuid[]));
CREATE POLICY calendar_busy_select ON booking.calendar_busy FOR SELECT
  USING (organization_id = ANY ((SELECT booking.user_organization_ids('{owner,admin,staff}'))::uuid[]));
SELECT booking_internal.create_staff_write_policies(t)
FROM unnest(ARRAY['calendar_integrations', 'calendar_integration_resources']) AS t;
-- The tokens: no caller under row-level security reads a row (service_role bypasses it).
CREATE POLICY calendar_credentials_none ON booking.calendar_credentials FOR SELECT USING (false);

CREATE FUNCTION booking_internal.grant_calendars_privileges(p_role text) RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  -- A resource's feed: whoever may see the resource (the function checks), anon included.
  PERFORM booking_internal.grant_execute(p_role, ARRAY['resource_calendar_ics']);
  IF p_role IN ('authenticated', 'service_role') THEN
    PERFORM booking_internal.grant_execute(p_role, ARRAY['import_ics']);  -- staff only (it checks)
  END IF;
  IF p_role = 'authenticated' THEN
    REVOKE SELECT ON booking.calendar_credentials FROM authenticated;
    GRANT INSERT, UPDATE, DELETE ON booking.calendar_integrations, booking.calendar_integration_resources TO authenticated;
  END IF;
  IF p_role = 'service_role' THEN
    PERFORM booking_internal.grant_execute(p_role, ARRAY['upsert_calendar_events', 'report_sync_result',
                                                         'refresh_calendar_busy']);
    -- events and busy time are written by their functions only
    REVOKE INSERT, UPDATE, TRUNCATE ON booking.calendar_events, booking.calendar_busy FROM service_role;
  END IF;
END $$;

COMMENT ON TABLE booking.calendar_integrations IS 'A calendar of a provider (google, outlook, apple, ics) whose events block the linked resources: its time zone (all-day events, floating times), whether tentative events are busy, and its sync state (written by report_sync_result).';
COMMENT ON TABLE booking.calendar_credentials IS 'An integration''s tokens: service_role only (no policy, no grant, no view).';
COMMENT ON TABLE booking.calendar_integration_resources IS 'Which resources an integration''s events make busy.';
COMMENT ON TABLE booking.calendar_events IS 'A provider''s event (once per integration, external id and recurrence id; deletions kept as cancelled tombstones), written by upsert_calendar_events and import_ics.';
COMMENT ON TABLE booking.calendar_busy IS 'The instants each external event holds, one row per occurrence, for the slot engine.';
COMMENT ON FUNCTION booking.upsert_calendar_events(uuid, jsonb) IS 'service_role: applies a delivery of a provider''s events to an integration, idempotent on (integration, external id, recurrence id) and on the provider''s version; returns counts {inserted, updated, deleted, unchanged}. At most 2000 events and 2 MB (22023).';
COMMENT ON FUNCTION booking.report_sync_result(uuid, text, text, boolean, text) IS 'service_role: records a sync''s progress (syncing, then success or error); credentials that failed mark the integration as needing re-authorisation and notify its organization''s owners and admins once.';
COMMENT ON FUNCTION booking.refresh_calendar_busy() IS 'service_role: expands every recurring external event again up to the moving horizon; returns how many.';
COMMENT ON FUNCTION booking_internal.calendar_integrations_guard() IS 'Trigger: staff write integrations; the time zone defaults to the organization''s; the sync fields are report_sync_result''s.';
COMMENT ON FUNCTION booking_internal.calendar_integrations_rezone() IS 'Trigger: an integration''s new time zone materializes its events again.';
COMMENT ON FUNCTION booking_internal.calendar_horizon_days() IS 'Internal: how many days ahead of now an endless recurring external event is expanded.';
COMMENT ON FUNCTION booking_internal.materialize_calendar_event(uuid) IS 'Internal: writes the busy instants of one external event (occurrences of a series through the series engine, overrides and EXDATEs skipped, all-day events as local days).';
COMMENT ON FUNCTION booking_internal.calendar_delivery_limits() IS 'Internal: the most events and bytes one delivery or import may carry.';
COMMENT ON FUNCTION booking_internal.apply_calendar_events(uuid, jsonb) IS 'Internal: applies a delivery of events to an integration (upsert_calendar_events and import_ics).';
COMMENT ON FUNCTION booking_internal.bookings_calendar_push() IS 'Trigger: a calendar.push outbox event per linked integration when a booking of a linked resource is moved or changes status.';
COMMENT ON FUNCTION booking_internal.bookings_calendar_push_inserted() IS 'Statement trigger: a calendar.push outbox event per linked integration for every new booking holding time on a linked resource (transition table new_rows).';
COMMENT ON FUNCTION booking_internal.pushing_integrations(uuid) IS 'Internal: the integrations a resource''s bookings are pushed to (its linked calendars but iCalendar feeds).';
COMMENT ON FUNCTION booking_internal.calendar_push_payload(booking.bookings, booking.calendar_integrations, text, text) IS 'Internal: the payload of a calendar.push outbox event.';
COMMENT ON DOMAIN booking."text/calendar" IS 'iCalendar text (RFC 5545): PostgREST serves a function returning it as text/calendar to Accept: text/calendar.';
COMMENT ON FUNCTION booking.import_ics(uuid, text) IS 'Staff of the integration''s organization (or service_role): imports an iCalendar file (Google, Outlook, Apple exports; Windows zone names mapped to IANA) into an integration as one idempotent delivery; returns the counts {inserted, updated, deleted, unchanged} and events (the VEVENTs read; skipped: those holding no time). 22023 for more than 2 MB (checked first), an unknown integration, more than 2000 events, or a VEVENT refused (named: no UID or DTSTART, an unknown time zone); 42501 for anyone else.';
COMMENT ON FUNCTION booking.resource_calendar_ics(uuid) IS 'A resource''s bookings (pending as TENTATIVE, approved as CONFIRMED; from 30 days ago to 366 days ahead, at most 5000) as an iCalendar feed, served as text/calendar by PostgREST; titled for those who may see each booking, Busy for everyone else. For whoever may see the resource (anon too, for a bookable resource of a public organization); 22023 otherwise.';
COMMENT ON FUNCTION booking_internal.resource_calendar_ics_text(uuid) IS 'Internal: the text of booking.resource_calendar_ics (native; checks that the caller may see the resource, runs as the owner).';
COMMENT ON FUNCTION booking_internal.is_own_booking_copy(uuid, text) IS 'Internal: is this provider event the copy of one of our own bookings (its id written back to a booking of a linked resource)? Such an event holds no busy time.';
COMMENT ON FUNCTION booking_internal.bookings_calendar_event_linked() IS 'Trigger: a booking''s provider event id written back makes that event the booking''s own copy, holding no busy time (and the reverse).';
COMMENT ON FUNCTION booking_internal.recurrence_date(text, text) IS 'Internal: the local date an override''s recurrence id names (YYYYMMDD, YYYY-MM-DD, or a date-time), NULL when it names none.';
COMMENT ON FUNCTION booking_internal.grant_calendars_privileges(text) IS 'Internal: the calendars module''s grants to an API role (called by grant_api_privileges).';
