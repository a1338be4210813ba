-- The plain-SQL way of answering what the native functions answer, for the benchmark to
-- compare against (and to check it gives the same slots on the benchmark's data). Open time is a
-- multirange (weekly rules per local date, open exceptions added, closed ones removed); where
-- the requested seats do not fit is another, from a running sum of seats over booking starts
-- and ends stretched by the buffers; the grid runs from the start of each open range. Service
-- rules and DST-gap subtleties are left out: the benchmark's weeks have no DST change.
CREATE SCHEMA bench;

CREATE FUNCTION bench.sql_available_slots(p_resource uuid, p_start timestamptz, p_end timestamptz,
                                          p_duration_minutes int, p_seats int DEFAULT 1)
RETURNS TABLE (slot_start timestamptz, slot_end timestamptz)
LANGUAGE sql STABLE AS $$
  WITH res AS (
    SELECT r.id, r.organization_id, coalesce(r.time_zone, o.time_zone) AS tz, r.capacity,
           make_interval(mins => r.buffer_before_minutes) AS bb, make_interval(mins => r.buffer_after_minutes) AS ba,
           make_interval(mins => coalesce(r.slot_interval_minutes, p_duration_minutes)) AS step,
           make_interval(mins => p_duration_minutes) AS dur,
           now() + make_interval(mins => r.min_notice_minutes) AS earliest,
           now() + make_interval(days => r.max_advance_days) AS latest
    FROM booking.resources r JOIN booking.organizations o ON o.id = r.organization_id
    WHERE r.id = p_resource
  ), rules AS (
    SELECT ar.day_of_week, ar.start_time, ar.end_time
    FROM booking.availability_rules ar, res
    WHERE ar.organization_id = res.organization_id
      AND (ar.resource_id = res.id
           OR (ar.resource_id IS NULL
               AND NOT EXISTS (SELECT 1 FROM booking.availability_rules own WHERE own.resource_id = res.id)))
  ), days AS (
    SELECT g::date AS d
    FROM res, generate_series((p_start AT TIME ZONE res.tz)::date - 3, (p_end AT TIME ZONE res.tz)::date + 1, interval '1 day') g
  ), weekly AS (
    SELECT range_agg(tstzrange((days.d + rules.start_time) AT TIME ZONE res.tz, (days.d + rules.end_time) AT TIME ZONE res.tz)) AS m
    FROM res, days JOIN rules ON rules.day_of_week = extract(dow FROM days.d)
  ), exceptions AS (
    SELECT range_agg(e.during) FILTER (WHERE e.kind = 'open') AS opened,
           range_agg(e.during) FILTER (WHERE e.kind = 'closed') AS closed
    FROM booking.availability_exceptions e, res
    WHERE e.organization_id = res.organization_id AND (e.resource_id IS NULL OR e.resource_id = res.id)
      AND e.during && tstzrange(p_start - interval '4 days', p_end + interval '1 day')
  ), open AS (
    SELECT (coalesce(weekly.m, '{}') + coalesce(x.opened, '{}')) - coalesce(x.closed, '{}') AS m
    FROM weekly, exceptions x
  ), events AS (
    SELECT e.t, sum(e.delta) AS delta
    FROM (SELECT b.starts_at - res.bb AS t_start, b.seats, b.ends_at + res.ba AS t_end
          FROM booking.bookings b, res
          WHERE b.resource_id = res.id AND b.status IN ('pending', 'approved')
            AND b.during && tstzrange(p_start - res.bb - res.ba, p_end + res.bb + res.ba)) b,
         LATERAL (VALUES (b.t_start, b.seats), (b.t_end, -b.seats)) AS e(t, delta)
    GROUP BY e.t
  ), held AS (
    SELECT t, lead(t) OVER (ORDER BY t) AS t_next, sum(delta) OVER (ORDER BY t) AS seats FROM events
  ), blocked AS (
    SELECT coalesce(range_agg(tstzrange(t, t_next)), '{}') AS m
    FROM held, res
    WHERE held.seats + p_seats > res.capacity AND t_next > t
  )
  SELECT s, s + res.dur
  FROM res, open, blocked, unnest(open.m) AS o(r),
       generate_series(lower(o.r), upper(o.r) - res.dur, res.step) AS s
  WHERE s >= p_start AND s + res.dur <= p_end
    AND s >= res.earliest AND (res.latest IS NULL OR s <= res.latest)
    AND NOT (tstzrange(s - res.bb, s + res.dur + res.ba) && blocked.m)
  ORDER BY s
$$;

-- get_available_slots_any the plain-SQL way: each resource's slots, grouped.
CREATE FUNCTION bench.sql_available_slots_any(p_resources uuid[], p_start timestamptz, p_end timestamptz,
                                              p_duration_minutes int, p_seats int DEFAULT 1)
RETURNS TABLE (slot_start timestamptz, slot_end timestamptz, resource_ids uuid[])
LANGUAGE sql STABLE AS $$
  SELECT s.slot_start, s.slot_end, array_agg(u.r ORDER BY u.n)
  FROM unnest(p_resources) WITH ORDINALITY AS u(r, n),
       bench.sql_available_slots(u.r, p_start, p_end, p_duration_minutes, p_seats) s
  GROUP BY 1, 2
  ORDER BY 1, 2
$$;

-- find_next_slot the plain-SQL way: every slot of the horizon, the first one kept.
CREATE FUNCTION bench.sql_find_next_slot(p_resources uuid[], p_after timestamptz, p_duration_minutes int,
                                         p_seats int DEFAULT 1, p_within interval DEFAULT '90 days')
RETURNS TABLE (slot_start timestamptz, slot_end timestamptz, resource_id uuid)
LANGUAGE sql STABLE AS $$
  SELECT s.slot_start, s.slot_end, u.r
  FROM unnest(p_resources) WITH ORDINALITY AS u(r, n),
       bench.sql_available_slots(u.r, p_after, p_after + p_within, p_duration_minutes, p_seats) s
  ORDER BY s.slot_start, u.n
  LIMIT 1
$$;

-- Median and mean milliseconds of p_runs executions of each query of p_sqls (after one warm-up
-- run each), and the value each returned (a row count, to check the variants agree). The
-- queries take turns, run after run, so that all of them meet the same load on a shared
-- machine. Where p_index_only[i] is true, query i is planned with sequential and bitmap scans
-- disabled (set outside the timing): the floor is defined as an index scan.
CREATE FUNCTION bench.time_queries(p_sqls text[], p_runs int, p_index_only boolean[] DEFAULT '{}')
RETURNS TABLE (query_index int, median_ms float8, mean_ms float8, result bigint)
LANGUAGE plpgsql AS $$
DECLARE
  t0      timestamptz;
  times   float8[] := array_fill(NULL::float8, ARRAY[cardinality(p_sqls), p_runs]);
  results bigint[] := '{}';
  n       bigint;
BEGIN
  FOR run IN 0..p_runs LOOP
    FOR q IN 1..cardinality(p_sqls) LOOP
      PERFORM set_config('enable_seqscan', CASE WHEN coalesce(p_index_only[q], false) THEN 'off' ELSE 'on' END, true),
              set_config('enable_bitmapscan', CASE WHEN coalesce(p_index_only[q], false) THEN 'off' ELSE 'on' END, true);
      t0 := clock_timestamp();
      EXECUTE p_sqls[q] INTO n;
      IF run = 0 THEN
        results := results || n;
      ELSE
        times[q][run] := extract(epoch FROM clock_timestamp() - t0) * 1000;
      END IF;
    END LOOP;
  END LOOP;
  PERFORM set_config('enable_seqscan', 'on', true), set_config('enable_bitmapscan', 'on', true);
  RETURN QUERY
    SELECT q, percentile_cont(0.5) WITHIN GROUP (ORDER BY times[q][r]), avg(times[q][r]), results[q]
    FROM generate_series(1, cardinality(p_sqls)) q, generate_series(1, p_runs) r
    GROUP BY q ORDER BY q;
END $$;

-- The two writers the concurrent benchmark compares ('book': booking.book(); 'insert': a bare
-- INSERT under the table's own checks), each booking desk p_desk at half-hour p_slot of the
-- first week of March 2031 for p_halves half-hours as the signed-in caller, and returning false
-- when refused (PT409 from book(), 23P01 from the table's checks).
CREATE FUNCTION bench.try_write(p_writer text, p_desk int, p_slot int, p_halves int) RETURNS boolean
LANGUAGE plpgsql AS $$
DECLARE
  v_desk  uuid := format('b0000000-0000-4000-a004-%s', lpad(p_desk::text, 12, '0'))::uuid;
  v_start timestamptz := timestamptz '2031-03-03 00:00Z' + make_interval(mins => 30 * p_slot);
  v_end   timestamptz := v_start + make_interval(mins => 30 * p_halves);
BEGIN
  IF p_writer = 'book' THEN
    PERFORM booking.book(v_desk, v_start, v_end);
  ELSE
    INSERT INTO booking.bookings (organization_id, resource_id, starts_at, ends_at, status, source)
    VALUES ('b0000000-0000-4000-a000-000000000001', v_desk, v_start, v_end, 'pending', 'api');
  END IF;
  RETURN true;
EXCEPTION WHEN SQLSTATE 'PT409' OR SQLSTATE '23P01' THEN
  RETURN false;
END $$;

-- Do two queries return the same rows (as sets)?
CREATE FUNCTION bench.same_rows(p_a text, p_b text) RETURNS boolean
LANGUAGE plpgsql AS $$
DECLARE
  v_same boolean;
BEGIN
  EXECUTE format('SELECT NOT EXISTS ((%s EXCEPT %s) UNION ALL (%s EXCEPT %s))', p_a, p_b, p_b, p_a) INTO v_same;
  RETURN v_same;
END $$;

GRANT USAGE ON SCHEMA bench TO authenticated;
GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA bench TO authenticated;

-- The floor for a slot list: read the same bookings the way the engine does (an index scan by
-- resource and time: run it with p_index_only, which makes it the index-only scan of the index
-- the engine reads) and emit as many rows as the native function returns; nothing computed.
CREATE FUNCTION bench.floor_query(p_resource uuid, p_start timestamptz, p_end timestamptz, p_rows bigint) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
  SELECT format('SELECT count(*) FROM (SELECT count(*) AS n FROM booking.bookings
                   WHERE resource_id = %L AND status IN (''pending'', ''approved'') AND ends_at > %L AND starts_at < %L) b,
                  generate_series(1, %s + 0 * b.n) g', p_resource, p_start, p_end, p_rows)
$$;
