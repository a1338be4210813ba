-- The digests part of the benchmark (dataset tests/bench/digests_dataset.sql; bench.same_rows
-- from tests/bench/reference.sql): the daily digest of Wednesday 16 April 2031 for all 1 000
-- organizations, each in its own zone, generated as the worker does it
--   SELECT booking.generate_digest(o.id, 'daily', day) FROM booking.organizations o
-- as service_role (every figure of docs/digests.md, the summary, the row and its outbox event),
-- against the plain-SQL way of computing some of the same figures for all of them at once:
-- bookings by status (count and seats) and each resource's booked minutes (the union of its
-- pending and approved bookings cut at local midnight, range_agg), with GROUP BY. The day's
-- digests are deleted before each round (outside the timing), so every round generates all
-- 1 000 afresh; the two sides take turns; medians of 5 rounds after a warm-up one, inside the
-- server. The run fails unless both sides give the same figures, organization by organization.
-- Target: all 1 000 digests in under 2 s.
\set ON_ERROR_STOP on
\pset footer off
\set day '''2031-04-16'''

-- The plain-SQL figures of a day: (organization, what, key, value) for each status with
-- bookings (count and seats) and each resource (booked minutes).
CREATE FUNCTION bench.digest_figures_plain(p_day date)
RETURNS TABLE (organization_id uuid, figure text, key text, value numeric)
LANGUAGE sql STABLE AS $$
  WITH period AS (
    SELECT o.id, tstzrange(p_day::timestamp AT TIME ZONE o.time_zone, (p_day + 1)::timestamp AT TIME ZONE o.time_zone) AS span
    FROM booking.organizations o WHERE o.slug LIKE 'digest-bench-%'
  ), by_status AS (
    SELECT p.id, b.status, count(*) AS n, sum(b.seats) AS seats
    FROM period p JOIN booking.bookings b
      ON b.organization_id = p.id AND b.starts_at >= lower(p.span) AND b.starts_at < upper(p.span)
    GROUP BY p.id, b.status
  ), busy AS (
    SELECT p.id, r.id AS resource_id, range_agg(b.during * p.span) AS held
    FROM period p JOIN booking.resources r ON r.organization_id = p.id
    LEFT JOIN booking.bookings b
      ON b.resource_id = r.id AND b.status IN ('pending', 'approved') AND b.during && p.span
    GROUP BY p.id, r.id
  )
  SELECT id, 'bookings', status, n FROM by_status
  UNION ALL
  SELECT id, 'seats', status, seats FROM by_status
  UNION ALL
  SELECT busy.id, 'booked_minutes', busy.resource_id::text,
         coalesce((SELECT sum(extract(epoch FROM upper(u) - lower(u))) / 60 FROM unnest(busy.held) u), 0)
  FROM busy
$$;

-- The same figures read from the day's digests. A digest's content has the count of every
-- status; its seats by status are not in it, so they are counted from the bookings it names
-- the same way (the total seats of each digest is checked against them below).
CREATE FUNCTION bench.digest_figures_native(p_day date)
RETURNS TABLE (organization_id uuid, figure text, key text, value numeric)
LANGUAGE sql STABLE AS $$
  SELECT d.organization_id, 'bookings', s.key, s.value::numeric
  FROM booking.digests d, jsonb_each_text(d.content #> '{bookings,by_status}') s
  WHERE d.digest_type = 'daily' AND d.period_start_date = p_day AND s.value <> '0'
  UNION ALL
  SELECT d.organization_id, 'booked_minutes', r ->> 'resource_id', (r ->> 'booked_minutes')::numeric
  FROM booking.digests d, jsonb_array_elements(d.content -> 'resources') r
  WHERE d.digest_type = 'daily' AND d.period_start_date = p_day
$$;

-- Medians of p_runs rounds (after a warm-up round) of the two sides, taking turns; the day's
-- digests are deleted before each native round, outside its timing.
CREATE FUNCTION bench.time_digests(p_day date, p_runs int)
RETURNS TABLE (variant text, median_ms float8, mean_ms float8, min_ms float8, max_ms float8, result bigint)
LANGUAGE plpgsql AS $$
DECLARE
  t0     timestamptz;
  native float8[] := '{}';
  plain  float8[] := '{}';
  n      bigint;
  m      bigint;
BEGIN
  FOR run IN 0..p_runs LOOP
    DELETE FROM booking.digests WHERE digest_type = 'daily' AND period_start_date = p_day;
    -- as the worker: service_role (the row and its outbox event are written as in production)
    SET LOCAL ROLE service_role;
    t0 := clock_timestamp();
    SELECT count(booking.generate_digest(o.id, 'daily', p_day)) INTO n
    FROM booking.organizations o WHERE o.slug LIKE 'digest-bench-%';
    IF run > 0 THEN
      native := native || extract(epoch FROM clock_timestamp() - t0)::float8 * 1000;
    END IF;
    t0 := clock_timestamp();
    SELECT count(*) INTO m FROM bench.digest_figures_plain(p_day);
    IF run > 0 THEN
      plain := plain || extract(epoch FROM clock_timestamp() - t0)::float8 * 1000;
    END IF;
    RESET ROLE;
  END LOOP;
  RETURN QUERY
    SELECT 'generate_digest, daily, for each organization (native)', percentile_cont(0.5) WITHIN GROUP (ORDER BY t),
           avg(t), min(t), max(t), n
    FROM unnest(native) t
    UNION ALL
    SELECT 'plain SQL: by status and booked minutes, GROUP BY', percentile_cont(0.5) WITHIN GROUP (ORDER BY t),
           avg(t), min(t), max(t), m
    FROM unnest(plain) t;
END $$;
GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA bench TO service_role;

SELECT count(*) AS organizations,
       (SELECT count(*) FROM booking.bookings b JOIN booking.organizations o ON o.id = b.organization_id
        WHERE o.slug LIKE 'digest-bench-%' AND b.starts_at >= (:day::date)::timestamp AT TIME ZONE o.time_zone
          AND b.starts_at < (:day::date + 1)::timestamp AT TIME ZONE o.time_zone) AS bookings_that_day,
       (SELECT count(*) FROM booking.bookings b JOIN booking.organizations o ON o.id = b.organization_id
        WHERE o.slug LIKE 'digest-bench-%') AS bookings_in_all,
       (SELECT count(*) FROM booking.resources r JOIN booking.organizations o ON o.id = r.organization_id
        WHERE o.slug LIKE 'digest-bench-%') AS resources,
       count(DISTINCT time_zone) AS zones
FROM booking.organizations WHERE slug LIKE 'digest-bench-%';

CREATE TEMP TABLE digest_results AS SELECT * FROM bench.time_digests(:day, 5);

-- The last round's digests against the plain way: the same figures, organization by
-- organization, and the same totals.
SELECT bench.same_rows(format('SELECT organization_id, figure, key, round(value, 6) FROM bench.digest_figures_native(%L)', :day),
                       format('SELECT organization_id, figure, key, round(value, 6) FROM bench.digest_figures_plain(%L) WHERE figure <> ''seats''', :day))
       AND (SELECT count(*) FROM booking.digests d
            WHERE d.digest_type = 'daily' AND d.period_start_date = :day
              AND (d.content #>> '{bookings,seats}')::numeric
                  = (SELECT coalesce(sum(value), 0) FROM bench.digest_figures_plain(:day) p
                     WHERE p.organization_id = d.organization_id AND p.figure = 'seats')) = 1000
       AS same_figures \gset
SELECT (SELECT sum((content #>> '{bookings,total}')::bigint) FROM booking.digests
        WHERE digest_type = 'daily' AND period_start_date = :day) AS native_bookings,
       (SELECT sum(value) FROM bench.digest_figures_plain(:day) WHERE figure = 'bookings') AS plain_bookings,
       (SELECT round(sum((r ->> 'booked_minutes')::numeric)) FROM booking.digests, jsonb_array_elements(content -> 'resources') r
        WHERE digest_type = 'daily' AND period_start_date = :day) AS native_booked_minutes,
       (SELECT round(sum(value)) FROM bench.digest_figures_plain(:day) WHERE figure = 'booked_minutes') AS plain_booked_minutes,
       (SELECT count(*) FROM booking.digests WHERE digest_type = 'daily' AND period_start_date = :day) AS digests;
\if :same_figures
\else
  \echo 'the digests and the plain way disagree: the benchmark fails'
  SELECT 1/0;
\endif

SELECT variant, round(median_ms::numeric, 1) AS median_ms, round(mean_ms::numeric, 1) AS mean_ms,
       round(min_ms::numeric, 1) AS min_ms, round(max_ms::numeric, 1) AS max_ms, result AS rows
FROM digest_results;
SELECT round((SELECT median_ms FROM digest_results WHERE variant LIKE 'generate_digest%')::numeric / 1000, 2) AS native_s,
       round(((SELECT median_ms FROM digest_results WHERE variant LIKE 'generate_digest%')
              / (SELECT median_ms FROM digest_results WHERE variant LIKE 'plain%'))::numeric, 1) AS native_over_plain,
       CASE WHEN (SELECT median_ms FROM digest_results WHERE variant LIKE 'generate_digest%') < 2000 THEN 'met' ELSE 'NOT met' END
         AS "1 000 digests under 2 s";
