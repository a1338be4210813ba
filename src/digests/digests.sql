-- booking_ext, module digests: a period's figures of an organization (seed 002's ai_digests).
-- The database computes the exact figures (bookings by status, each resource's booked and open
-- minutes, utilisation and peak seats, no-shows, requests, open conflicts) for a period that
-- starts and ends at local midnight in the organization's time zone, writes a plain-language
-- summary of them, and tells an outside writer (an LLM worker) through the outbox event
-- digest.generated; that worker adds its insights with annotate_digest. An LLM cannot run
-- inside Postgres; the numbers it writes about come from here.

CREATE TABLE booking.digests (
  id                uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  organization_id   uuid NOT NULL REFERENCES booking.organizations (id) ON DELETE CASCADE,
  digest_type       text NOT NULL CHECK (digest_type IN ('daily', 'weekly', 'monthly', 'custom')),
  -- The local dates of the period: from period_start_date to the day before period_end_date.
  period_start_date date NOT NULL,
  period_end_date   date NOT NULL,
  time_zone         text NOT NULL CONSTRAINT digests_time_zone_size CHECK (length(time_zone) <= 100),
  -- The same period as instants: local midnight at each end, in time_zone.
  period_start      timestamptz NOT NULL,
  period_end        timestamptz NOT NULL,
  content           jsonb NOT NULL CHECK (jsonb_typeof(content) = 'object')
                    CONSTRAINT digests_content_size CHECK (octet_length(content::text) <= 1048576),
  summary           text NOT NULL CONSTRAINT digests_summary_size CHECK (length(summary) <= 4000),
  -- What an outside writer made of the figures (annotate_digest): a JSON array.
  insights          jsonb NOT NULL DEFAULT '[]'::jsonb CHECK (jsonb_typeof(insights) = 'array')
                    CONSTRAINT digests_insights_size CHECK (octet_length(insights::text) <= 65536),
  insights_by       text CONSTRAINT digests_insights_by_size CHECK (length(insights_by) <= 200),
  annotated_at      timestamptz,
  generated_by      text NOT NULL CONSTRAINT digests_generated_by_size CHECK (length(generated_by) <= 200),
  generated_at      timestamptz NOT NULL DEFAULT now(),
  is_archived       boolean NOT NULL DEFAULT false,
  created_at        timestamptz NOT NULL DEFAULT now(),
  updated_at        timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT digests_period_order CHECK (period_end_date > period_start_date AND period_end > period_start),
  CONSTRAINT digests_period_key UNIQUE (organization_id, digest_type, period_start_date, period_end_date)
);
CREATE INDEX digests_period_idx ON booking.digests (organization_id, period_start, period_end);
CREATE INDEX digests_type_idx ON booking.digests (organization_id, digest_type, period_start_date DESC);
SELECT booking_internal.register_table('digests', 'digests', true, 'digest');

-- The longest period a custom digest covers, in days.
CREATE FUNCTION booking_internal.max_digest_days() RETURNS integer
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN 92;

-- '1 thing' / '2 things'.
CREATE FUNCTION booking_internal.count_phrase(p_count bigint, p_noun text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN p_count || ' ' || p_noun || CASE WHEN p_count = 1 THEN '' ELSE 's' END;

-- The figures of an organization for [p_from, p_to) (local midnights in p_time_zone, from the
-- local dates p_first_day to p_end_day, exclusive), as the digest's content. Runs as the owner:
-- generate_digest has established the caller's right to the organization.
CREATE FUNCTION booking_internal.digest_content(p_organization_id uuid, p_first_day date, p_end_day date,
                                                p_time_zone text, p_from timestamptz, p_to timestamptz)
RETURNS jsonb
LANGUAGE plpgsql STABLE SECURITY DEFINER
-- The planner cannot know that open_periods returns a few rows per day: its default estimate
-- (1000 rows a call) makes the query look costly enough to compile, which takes 100 times
-- longer than running it.
SET jit = off
-- A worker generates the digests of every organization in turn: planning the resources' query
-- for each call (custom plans) cost more than running it (tests/bench/digests.sql).
SET plan_cache_mode = force_generic_plan
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_period    tstzrange := tstzrange(p_from, p_to);
  v_org_open  tstzrange[];
  v_bookings  jsonb;
  v_resources jsonb;
  v_requests  jsonb;
  v_conflicts jsonb;
BEGIN
  -- Bookings that start in the period, every status shown (0 when none).
  SELECT jsonb_build_object(
           'total', coalesce(sum(c.n), 0),
           'seats', coalesce(sum(c.seats), 0),
           'no_shows', coalesce(sum(c.n) FILTER (WHERE c.status = 'no_show'), 0),
           'by_status', jsonb_object_agg(c.status, coalesce(c.n, 0) ORDER BY c.position))
  INTO v_bookings
  FROM (SELECT s.status, s.position, b.n, b.seats
        FROM unnest(booking.booking_statuses()) WITH ORDINALITY AS s(status, position)
        LEFT JOIN (SELECT b.status, count(*) AS n, sum(b.seats) AS seats
                   FROM booking.bookings b
                   WHERE b.organization_id = p_organization_id
                     AND b.starts_at >= p_from AND b.starts_at < p_to
                   GROUP BY b.status) b ON b.status = s.status) c;

  -- The organization's open periods in the period (its weekly rules and organization-wide
  -- exceptions, day by day), read once. A resource in the organization's zone with no rules and
  -- no exceptions of its own has exactly these (open_periods gives it the same periods from the
  -- same rows), so only the other resources need calls of their own.
  SELECT coalesce(array_agg(o.span ORDER BY lower(o.span)), '{}') INTO v_org_open
  FROM generate_series(p_first_day, p_end_day - 1, interval '1 day') AS d(day)
  CROSS JOIN LATERAL booking.open_periods(p_organization_id, d.day::date) op
  CROSS JOIN LATERAL (SELECT tstzrange(op.period_start, op.period_end) * v_period AS span) o
  WHERE NOT isempty(o.span);

  -- Each resource: its time held in the period (pending and approved bookings, cut at the
  -- period's ends), peak seats, bookings starting in it, and its open time from its hours.
  SELECT coalesce(jsonb_agg(jsonb_build_object(
           'resource_id', r.id, 'title', r.title, 'capacity', r.capacity,
           'bookings', held.started, 'booked_minutes', held.booked_minutes, 'peak_seats', held.peak_seats,
           'open_minutes', hours.open_minutes, 'utilization', hours.utilization)
           ORDER BY r.title, r.id), '[]'::jsonb)
  INTO v_resources
  FROM booking.resources r
  CROSS JOIN LATERAL (
    -- its pending and approved bookings touching the period, read once (one index scan) for
    -- the figures below
    SELECT coalesce(array_agg(b.during), '{}') AS durings, coalesce(array_agg(b.seats), '{}') AS seats
    FROM booking.bookings b
    WHERE b.resource_id = r.id AND booking_internal.holds_time(b.status) AND b.during && v_period
  ) mine
  CROSS JOIN LATERAL (
    SELECT coalesce(booking.busy_minutes(h.during * v_period), 0) AS booked_minutes,
           coalesce(booking.peak_seats(h.during * v_period, h.seats), 0) AS peak_seats,
           count(*) FILTER (WHERE lower(h.during) >= p_from) AS started
    FROM unnest(mine.durings, mine.seats) AS h(during, seats)
  ) held
  CROSS JOIN LATERAL (
    SELECT coalesce(r.time_zone, p_time_zone) = p_time_zone AS same_zone,
           coalesce(r.time_zone, p_time_zone) = p_time_zone
           AND NOT EXISTS (SELECT 1 FROM booking.availability_rules ar
                           WHERE ar.resource_id = r.id AND ar.organization_id = p_organization_id)
           AND NOT EXISTS (SELECT 1 FROM booking.availability_exceptions e
                           WHERE e.resource_id = r.id AND e.organization_id = p_organization_id
                             AND e.during && tstzrange(p_from - interval '3 days', p_to + interval '3 days'))
             AS organization_hours
  ) own
  CROSS JOIN LATERAL (
    -- Utilisation of the whole period: each open period's, weighted by its length (as
    -- resource_daily_usage does per day). A resource in another zone than its organization has
    -- its own local days read one day beyond each end, so that they cover the period.
    SELECT coalesce(sum(p.minutes), 0) AS open_minutes,
           sum(p.minutes * p.utilization) / nullif(sum(p.minutes), 0) AS utilization
    FROM (
      SELECT extract(epoch FROM upper(o.span) - lower(o.span))::float8 / 60 AS minutes,
             (SELECT booking.utilization(h.during, h.seats, r.capacity, o.span)
              FROM unnest(mine.durings, mine.seats) AS h(during, seats)
              WHERE h.during && o.span) AS utilization
      FROM (
        SELECT s.span FROM unnest(v_org_open) AS s(span) WHERE own.organization_hours
        UNION ALL
        -- no day at all for a resource with the organization's hours: open_periods is not called
        SELECT tstzrange(op.period_start, op.period_end) * v_period
        FROM generate_series(CASE WHEN own.same_zone THEN p_first_day ELSE p_first_day - 1 END,
                             CASE WHEN own.organization_hours THEN p_first_day - 1
                                  WHEN own.same_zone THEN p_end_day - 1 ELSE p_end_day END,
                             interval '1 day') AS d(day)
        CROSS JOIN LATERAL booking.open_periods(p_organization_id, d.day::date, r.id) op
      ) AS o(span)
      WHERE NOT isempty(o.span)
    ) p
  ) hours
  WHERE r.organization_id = p_organization_id;

  -- Requests from outside: new in the period (by type and source), and pending now.
  SELECT jsonb_build_object(
           'new', count(*) FILTER (WHERE q.created_at >= p_from AND q.created_at < p_to),
           'new_by_type', jsonb_build_object(
             'booking', count(*) FILTER (WHERE q.created_at >= p_from AND q.created_at < p_to AND q.request_type = 'booking'),
             'inquiry', count(*) FILTER (WHERE q.created_at >= p_from AND q.created_at < p_to AND q.request_type = 'inquiry'),
             'complaint', count(*) FILTER (WHERE q.created_at >= p_from AND q.created_at < p_to AND q.request_type = 'complaint'),
             'suggestion', count(*) FILTER (WHERE q.created_at >= p_from AND q.created_at < p_to AND q.request_type = 'suggestion')),
           'pending', count(*) FILTER (WHERE q.status IN ('pending', 'processing') AND q.created_at < p_to))
  INTO v_requests
  FROM booking.external_requests q
  WHERE q.organization_id = p_organization_id AND q.created_at < p_to
    AND (q.created_at >= p_from OR q.status IN ('pending', 'processing'));

  -- Conflicts open now that were found before the period ended.
  SELECT jsonb_build_object(
           'open', count(*),
           'by_type', jsonb_build_object(
             'double_booking', count(*) FILTER (WHERE c.conflict_type = 'double_booking'),
             'capacity_exceeded', count(*) FILTER (WHERE c.conflict_type = 'capacity_exceeded'),
             'resource_unavailable', count(*) FILTER (WHERE c.conflict_type = 'resource_unavailable'),
             'timezone_mismatch', count(*) FILTER (WHERE c.conflict_type = 'timezone_mismatch')))
  INTO v_conflicts
  FROM booking.conflicts c
  WHERE c.organization_id = p_organization_id AND c.status IN ('open', 'investigating') AND c.created_at < p_to;

  RETURN jsonb_build_object(
    'period', jsonb_build_object('start_date', p_first_day, 'end_date', p_end_day, 'time_zone', p_time_zone,
                                 'starts_at', p_from, 'ends_at', p_to,
                                 'hours', (extract(epoch FROM p_to - p_from) / 3600)::float8),
    'bookings', v_bookings, 'resources', v_resources, 'requests', v_requests, 'conflicts', v_conflicts);
END $$;

-- The digest's summary: plain sentences made from its content, the same words for the same
-- figures; an empty section says so.
CREATE FUNCTION booking_internal.digest_summary(p_digest_type text, p_content jsonb) RETURNS text
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_first    date := (p_content #>> '{period,start_date}')::date;
  v_last     date := (p_content #>> '{period,end_date}')::date - 1;
  v_hours    numeric := (p_content #>> '{period,hours}')::numeric;
  v_total    bigint := (p_content #>> '{bookings,total}')::bigint;
  v_period   text;
  v_statuses text;
  v_busiest  jsonb;
  v_text     text;
BEGIN
  v_period := CASE p_digest_type
    WHEN 'daily' THEN 'Daily digest for ' || to_char(v_first, 'FMDay FMDD FMMonth YYYY')
    WHEN 'weekly' THEN 'Weekly digest for ' || to_char(v_first, 'FMDD FMMonth YYYY') || ' to ' || to_char(v_last, 'FMDD FMMonth YYYY')
    WHEN 'monthly' THEN 'Monthly digest for ' || to_char(v_first, 'FMMonth YYYY')
    ELSE 'Digest for ' || to_char(v_first, 'FMDD FMMonth YYYY') || ' to ' || to_char(v_last, 'FMDD FMMonth YYYY') END;
  v_text := v_period || ' (' || (p_content #>> '{period,time_zone}') || ', '
            || booking_internal.count_phrase(trunc(v_hours)::bigint, 'hour')
            || CASE WHEN v_hours <> trunc(v_hours) THEN ' and ' || round((v_hours - trunc(v_hours)) * 60) || ' minutes' ELSE '' END
            || '). ';

  IF v_total = 0 THEN
    v_text := v_text || 'No bookings. ';
  ELSE
    SELECT string_agg(s.value || ' ' || replace(s.key, '_', '-'), ', ' ORDER BY o.position)
    INTO v_statuses
    FROM jsonb_each_text(p_content #> '{bookings,by_status}') s(key, value)
    JOIN unnest(ARRAY['approved', 'pending', 'completed', 'no_show', 'cancelled', 'rejected', 'changes_requested', 'draft'])
         WITH ORDINALITY AS o(status, position) ON o.status = s.key
    WHERE s.value <> '0';
    v_text := v_text || booking_internal.count_phrase(v_total, 'booking') || ' (' || v_statuses || '). ';
  END IF;

  SELECT r INTO v_busiest
  FROM jsonb_array_elements(p_content -> 'resources') r
  WHERE (r ->> 'booked_minutes')::float8 > 0
  ORDER BY coalesce((r ->> 'utilization')::float8, -1) DESC, (r ->> 'booked_minutes')::float8 DESC, r ->> 'title', r ->> 'resource_id'
  LIMIT 1;
  IF jsonb_array_length(p_content -> 'resources') = 0 THEN
    v_text := v_text || 'No resources. ';
  ELSIF v_busiest IS NULL THEN
    v_text := v_text || 'No resource was booked. ';
  ELSE
    v_text := v_text || 'Busiest: ' || (v_busiest ->> 'title')
              || coalesce(', ' || round((v_busiest ->> 'utilization')::numeric * 100) || '% of open time used', '')
              || ', peak ' || booking_internal.count_phrase((v_busiest ->> 'peak_seats')::bigint, 'seat') || '. ';
  END IF;

  v_text := v_text || 'Requests: '
            || CASE WHEN (p_content #>> '{requests,new}')::bigint = 0 THEN 'none new'
                    ELSE (p_content #>> '{requests,new}') || ' new' END
            || ', '
            || CASE WHEN (p_content #>> '{requests,pending}')::bigint = 0 THEN 'none pending'
                    ELSE (p_content #>> '{requests,pending}') || ' pending' END
            || '. Conflicts: '
            || CASE WHEN (p_content #>> '{conflicts,open}')::bigint = 0 THEN 'none open'
                    ELSE (p_content #>> '{conflicts,open}') || ' open' END
            || '.';
  RETURN v_text;
END $$;

-- Generate (or regenerate) an organization's digest of a period. See docs/digests.md.
CREATE FUNCTION booking.generate_digest(p_organization_id uuid, p_digest_type text, p_period_start date,
                                        p_last_day date DEFAULT NULL)
RETURNS booking.digests
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_zone    text;
  v_enabled jsonb;
  v_end     date;
  v_from    timestamptz;
  v_to      timestamptz;
  v_content jsonb;
  v_row     booking.digests;
BEGIN
  IF p_organization_id IS NULL OR p_digest_type IS NULL OR p_period_start IS NULL THEN
    RAISE EXCEPTION 'p_organization_id, p_digest_type and p_period_start must not be NULL'
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF NOT isfinite(p_period_start) OR NOT coalesce(isfinite(p_last_day), true)
     OR p_period_start NOT BETWEEN date '1970-01-01' AND date '2200-01-01' THEN
    RAISE EXCEPTION 'p_period_start must be a date between 1970 and 2200' USING ERRCODE = 'invalid_parameter_value';
  END IF;
  -- The caller's right first: staff of the organization, or the worker (service_role).
  IF NOT booking_internal.has_staff_rights(p_organization_id) THEN
    RAISE EXCEPTION 'only the organization''s owners, admins and staff (or service_role) generate its digests'
      USING ERRCODE = 'insufficient_privilege';
  END IF;
  v_end := CASE p_digest_type
    WHEN 'daily' THEN p_period_start + 1
    WHEN 'weekly' THEN p_period_start + 7
    WHEN 'monthly' THEN (p_period_start + interval '1 month')::date
    WHEN 'custom' THEN p_last_day + 1 END;
  IF p_digest_type NOT IN ('daily', 'weekly', 'monthly', 'custom') THEN
    RAISE EXCEPTION 'unknown digest type "%"', left(p_digest_type, 100) USING ERRCODE = 'invalid_parameter_value',
      HINT = 'Digest types: daily, weekly, monthly, custom.';
  END IF;
  IF p_digest_type <> 'custom' AND p_last_day IS NOT NULL THEN
    RAISE EXCEPTION 'p_last_day is for custom digests only' USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF p_digest_type = 'weekly' AND extract(isodow FROM p_period_start) <> 1 THEN
    RAISE EXCEPTION 'a weekly digest starts on a Monday; % is a %', p_period_start, to_char(p_period_start, 'FMDay')
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF p_digest_type = 'monthly' AND extract(day FROM p_period_start) <> 1 THEN
    RAISE EXCEPTION 'a monthly digest starts on the first day of a month, not %', p_period_start
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF p_digest_type = 'custom' AND (p_last_day IS NULL OR p_last_day < p_period_start
                                   OR v_end - p_period_start > booking_internal.max_digest_days()) THEN
    RAISE EXCEPTION 'a custom digest needs p_last_day, on or after p_period_start and at most % days later',
                    booking_internal.max_digest_days() - 1
      USING ERRCODE = 'invalid_parameter_value';
  END IF;

  SELECT o.time_zone, o.settings #> '{ai,digests_enabled}' INTO v_zone, v_enabled
  FROM booking.organizations o WHERE o.id = p_organization_id;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'unknown organization %', p_organization_id USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF v_enabled = 'false'::jsonb THEN
    RAISE EXCEPTION 'This organization has digests switched off.' USING ERRCODE = 'PT409', DETAIL = 'digests_disabled',
      HINT = 'organizations.settings.ai.digests_enabled is false.';
  END IF;
  -- Local midnight at each end (a day of a change of daylight saving time has 23 or 25 hours).
  v_from := p_period_start::timestamp AT TIME ZONE v_zone;
  v_to := v_end::timestamp AT TIME ZONE v_zone;
  v_content := booking_internal.digest_content(p_organization_id, p_period_start, v_end, v_zone, v_from, v_to);

  -- One digest per organization, type and period: generating it again recomputes it, and only
  -- a change of its figures rewrites it (its insights then no longer apply and are cleared).
  INSERT INTO booking.digests AS d (organization_id, digest_type, period_start_date, period_end_date, time_zone,
                                    period_start, period_end, content, summary, generated_by)
  VALUES (p_organization_id, p_digest_type, p_period_start, v_end, v_zone, v_from, v_to, v_content,
          booking_internal.digest_summary(p_digest_type, v_content), booking_internal.actor_id())
  ON CONFLICT ON CONSTRAINT digests_period_key DO UPDATE
    SET time_zone = EXCLUDED.time_zone, period_start = EXCLUDED.period_start, period_end = EXCLUDED.period_end,
        content = EXCLUDED.content, summary = EXCLUDED.summary, generated_by = EXCLUDED.generated_by,
        generated_at = now(), insights = '[]'::jsonb, insights_by = NULL, annotated_at = NULL
    WHERE d.content IS DISTINCT FROM EXCLUDED.content
  RETURNING * INTO v_row;
  IF NOT FOUND THEN
    SELECT * INTO v_row FROM booking.digests d
    WHERE d.organization_id = p_organization_id AND d.digest_type = p_digest_type
      AND d.period_start_date = p_period_start AND d.period_end_date = v_end;
    RETURN v_row;
  END IF;
  INSERT INTO booking.outbox (organization_id, topic, payload)
  VALUES (p_organization_id, 'digest.generated',
          jsonb_build_object('digest_id', v_row.id, 'digest_type', v_row.digest_type,
                             'period_start_date', v_row.period_start_date, 'period_end_date', v_row.period_end_date,
                             'time_zone', v_row.time_zone, 'summary', v_row.summary));
  RETURN v_row;
END $$;

-- The outside writer's insights on a digest (service_role). See docs/digests.md.
CREATE FUNCTION booking.annotate_digest(p_digest_id uuid, p_insights jsonb, p_insights_by text DEFAULT NULL)
RETURNS booking.digests
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_row booking.digests;
BEGIN
  PERFORM booking_internal.require_privileged('annotate_digest');
  IF p_digest_id IS NULL OR p_insights IS NULL THEN
    RAISE EXCEPTION 'p_digest_id and p_insights must not be NULL' USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF jsonb_typeof(p_insights) <> 'array' THEN
    RAISE EXCEPTION 'p_insights must be a JSON array, not %', jsonb_typeof(p_insights) USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF jsonb_array_length(p_insights) > 100 OR octet_length(p_insights::text) > 65536 THEN
    RAISE EXCEPTION 'p_insights may hold at most 100 items and 64 kB' USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF length(p_insights_by) > 200 THEN
    RAISE EXCEPTION 'p_insights_by is longer than 200 characters' USING ERRCODE = 'invalid_parameter_value';
  END IF;
  UPDATE booking.digests
  SET insights = p_insights, insights_by = coalesce(p_insights_by, booking_internal.actor_id()), annotated_at = now()
  WHERE id = p_digest_id
  RETURNING * INTO v_row;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'unknown digest %', p_digest_id USING ERRCODE = 'invalid_parameter_value';
  END IF;
  RETURN v_row;
END $$;

-- digests: the organization's owners, admins and staff read them; owners and admins archive
-- them. They are written by generate_digest and annotate_digest.
CREATE POLICY digests_select ON booking.digests FOR SELECT
  USING (organization_id = ANY ((SELECT booking.user_organization_ids('{owner,admin,staff}'))::uuid[]));
CREATE POLICY digests_update ON booking.digests FOR UPDATE
  USING (organization_id = ANY ((SELECT booking.user_organization_ids('{owner,admin}'))::uuid[]))
  WITH CHECK (organization_id = ANY ((SELECT booking.user_organization_ids('{owner,admin}'))::uuid[]));

CREATE FUNCTION booking_internal.grant_digests_privileges(p_role text) RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  IF p_role = 'anon' THEN
    RETURN;
  END IF;
  PERFORM booking_internal.grant_execute(p_role, ARRAY['generate_digest']);
  IF p_role = 'authenticated' THEN
    GRANT UPDATE (is_archived) ON booking.digests TO authenticated;
  ELSE
    PERFORM booking_internal.grant_execute(p_role, ARRAY['annotate_digest']);
    -- figures are the database's: the worker annotates (annotate_digest), archives and deletes
    REVOKE INSERT, UPDATE ON booking.digests FROM service_role;
    GRANT UPDATE (is_archived) ON booking.digests TO service_role;
  END IF;
END $$;

COMMENT ON TABLE booking.digests IS 'An organization''s figures for a period (seed 002''s ai_digests): daily, weekly (Monday to Sunday), monthly or custom, from local midnight to local midnight in the organization''s time zone; content (bookings by status, resources'' booked and open minutes, utilisation and peak seats, requests, open conflicts), a plain-language summary, and an outside writer''s insights. One per organization, type and period. Staff read, owners and admins archive.';
COMMENT ON COLUMN booking.digests.period_end_date IS 'The day after the period''s last day (the period is [period_start_date, period_end_date) in local dates).';
COMMENT ON COLUMN booking.digests.content IS 'The figures: period (dates, zone, instants, hours), bookings (total, seats, no_shows, by_status: every status), resources (per resource: bookings starting in the period, booked_minutes, peak_seats, open_minutes, utilization), requests (new, new_by_type, pending), conflicts (open, by_type). See docs/digests.md.';
COMMENT ON COLUMN booking.digests.insights IS 'An outside writer''s insights (annotate_digest, service_role): a JSON array of at most 100 items and 64 kB; cleared when the figures change.';
COMMENT ON FUNCTION booking.generate_digest(uuid, text, date, date) IS 'Staff or service_role: computes an organization''s digest of a period (daily: a day; weekly: from a Monday; monthly: from the 1st; custom: to p_last_day, at most 92 days) with boundaries at local midnight in its time zone; one per organization, type and period (again: recomputed, rewritten only when the figures changed, with insights cleared and a new digest.generated outbox event). Returns the digest. 22023 bad arguments, 42501 not staff.';
COMMENT ON FUNCTION booking.annotate_digest(uuid, jsonb, text) IS 'service_role: stores an outside writer''s insights (a JSON array, at most 100 items and 64 kB) on a digest. 22023 bad arguments or unknown digest, 42501 not service_role.';
COMMENT ON FUNCTION booking_internal.digest_content(uuid, date, date, text, timestamptz, timestamptz) IS 'Internal: a digest''s figures for an organization and period (generate_digest has checked the caller''s right).';
COMMENT ON FUNCTION booking_internal.digest_summary(text, jsonb) IS 'Internal: the plain-language summary of a digest''s figures; the same figures give the same words.';
COMMENT ON FUNCTION booking_internal.count_phrase(bigint, text) IS 'Internal: a count and its noun, plural unless the count is 1.';
COMMENT ON FUNCTION booking_internal.max_digest_days() IS 'Internal: the longest custom digest, in days (92).';
COMMENT ON FUNCTION booking_internal.grant_digests_privileges(text) IS 'Internal: the digests module''s grants to an API role (called by grant_api_privileges).';
