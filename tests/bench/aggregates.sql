-- The aggregates benchmark's run, on the data of aggregates_dataset.sql (1 000 000 bookings over
-- 50 resources, 1 000 000 ratings): each native aggregate against the plain-SQL way of
-- answering the same question, grouped by resource, and the floor (the same scan, filter and
-- grouping with count() in place of the aggregate: what any answer costs, so that SQL ÷ floor
-- is the most any aggregate could reach). Each query runs serially and with two parallel
-- workers (the plain SQL for peak seats and busy time cannot use them: window functions run in
-- one process, range_agg has no combine function). Medians of several rounds measured inside
-- the server; every round runs every query once, so that a native aggregate and its plain-SQL
-- twin meet the same load on a shared machine. The run fails if a native answer differs from
-- the plain-SQL one.
\set ON_ERROR_STOP on
\pset footer off
SET bench.rounds = 7;
-- Each booking with the local day it starts on and that day's opening, 08:00-20:00 in Paris:
-- what both sides of utilisation per resource and day group (a view: inlined, so each query
-- computes the day and opening per row as if written in it).
CREATE TEMP VIEW booking_days AS
SELECT b.resource_id, b.during, b.seats, b.status, l.day,
       tstzrange((l.day + time '08:00') AT TIME ZONE 'Europe/Paris', (l.day + time '20:00') AT TIME ZONE 'Europe/Paris') AS open
FROM booking.bookings b CROSS JOIN LATERAL (SELECT (b.starts_at AT TIME ZONE 'Europe/Paris')::date AS day) AS l;
CREATE TEMP TABLE aggregate_cases (n serial, case_name text, variant text, query text);
INSERT INTO aggregate_cases (case_name, variant, query) VALUES
  ('peak seats', 'native', $q$
    SELECT resource_id, booking.peak_seats(during, seats) AS v
    FROM booking.bookings WHERE status IN ('pending', 'approved') GROUP BY resource_id $q$),
  ('peak seats', 'plain SQL', $q$
    -- a running sum over start (+seats) and end (-seats) events; releases first at one instant
    SELECT resource_id, max(held) AS v
    FROM (SELECT b.resource_id,
                 sum(e.change) OVER (PARTITION BY b.resource_id ORDER BY e.at, e.change ROWS UNBOUNDED PRECEDING) AS held
          FROM booking.bookings b CROSS JOIN LATERAL (VALUES (lower(b.during), b.seats), (upper(b.during), -b.seats)) AS e(at, change)
          WHERE b.status IN ('pending', 'approved')) x
    GROUP BY resource_id $q$),
  ('busy union', 'native', $q$
    SELECT resource_id, booking.busy_union(during) AS v
    FROM booking.bookings WHERE status IN ('pending', 'approved') GROUP BY resource_id $q$),
  ('busy union', 'plain SQL', $q$
    SELECT resource_id, range_agg(during) AS v
    FROM booking.bookings WHERE status IN ('pending', 'approved') GROUP BY resource_id $q$),
  ('busy minutes', 'native', $q$
    SELECT resource_id, round(booking.busy_minutes(during)::numeric, 6) AS v
    FROM booking.bookings WHERE status IN ('pending', 'approved') GROUP BY resource_id $q$),
  ('busy minutes', 'plain SQL', $q$
    -- the length of range_agg's multirange
    SELECT resource_id, round((SELECT extract(epoch FROM sum(upper(r) - lower(r))) / 60 FROM unnest(range_agg(during)) r), 6) AS v
    FROM booking.bookings WHERE status IN ('pending', 'approved') GROUP BY resource_id $q$),
  ('utilization of 2031', 'native', $q$
    -- capacity 1 per row, divided by the resource's after grouping (the same number: the
    -- aggregate is linear in 1 / capacity), so that neither side joins a million rows
    SELECT s.resource_id, round((s.seat_share / r.capacity)::numeric, 12) AS v
    FROM (SELECT b.resource_id, booking.utilization(b.during, b.seats, 1, y.open) AS seat_share
          FROM booking.bookings b, (SELECT tstzrange('2031-01-01 00:00 Europe/Paris', '2032-01-01 00:00 Europe/Paris') AS open) y
          WHERE b.status IN ('pending', 'approved') GROUP BY b.resource_id) s
    JOIN booking.resources r ON r.id = s.resource_id $q$),
  ('utilization of 2031', 'plain SQL', $q$
    -- seat-time of the range intersections summed as intervals (faster than numeric epochs),
    -- per resource first, then divided by its capacity x the year (joined after grouping)
    SELECT s.resource_id, round((extract(epoch FROM s.held) / (r.capacity * extract(epoch FROM upper(y.open) - lower(y.open))))::numeric, 12) AS v
    FROM (SELECT b.resource_id, sum((upper(b.during * y.open) - lower(b.during * y.open)) * b.seats) AS held
          FROM booking.bookings b, (SELECT tstzrange('2031-01-01 00:00 Europe/Paris', '2032-01-01 00:00 Europe/Paris') AS open) y
          WHERE b.status IN ('pending', 'approved') GROUP BY b.resource_id) s
    JOIN booking.resources r ON r.id = s.resource_id, (SELECT tstzrange('2031-01-01 00:00 Europe/Paris', '2032-01-01 00:00 Europe/Paris') AS open) y $q$),
  ('utilization per resource and day', 'native', $q$
    -- capacity as above
    SELECT s.resource_id, s.day, round((s.seat_share / r.capacity)::numeric, 12) AS v
    FROM (SELECT resource_id, day, booking.utilization(during, seats, 1, open) AS seat_share
          FROM booking_days WHERE status IN ('pending', 'approved') GROUP BY resource_id, day) s
    JOIN booking.resources r ON r.id = s.resource_id $q$),
  ('utilization per resource and day', 'plain SQL', $q$
    SELECT s.resource_id, s.day, round((coalesce(extract(epoch FROM s.held), 0) / (r.capacity * 12 * 3600))::numeric, 12) AS v
    FROM (SELECT resource_id, day, sum((upper(during * open) - lower(during * open)) * seats) AS held
          FROM booking_days WHERE status IN ('pending', 'approved') GROUP BY resource_id, day) s
    JOIN booking.resources r ON r.id = s.resource_id $q$),
  ('rating summary', 'native', $q$
    SELECT resource_id, booking.rating_summary(rating) AS v FROM bench.reviews GROUP BY resource_id $q$),
  ('rating summary', 'plain SQL', $q$
    -- seed 004's statistics: counts with FILTER
    SELECT resource_id,
           jsonb_build_object('count', count(rating), 'average', round(avg(rating), 2),
                              'histogram', jsonb_build_object('1', count(*) FILTER (WHERE rating = 1), '2', count(*) FILTER (WHERE rating = 2),
                                                              '3', count(*) FILTER (WHERE rating = 3), '4', count(*) FILTER (WHERE rating = 4),
                                                              '5', count(*) FILTER (WHERE rating = 5))) AS v
    FROM bench.reviews GROUP BY resource_id $q$);
-- The floors: the native queries with count(its last argument) in place of the aggregate, so
-- that the rows are read, joined, grouped and their arguments computed as for the aggregate.
INSERT INTO aggregate_cases (case_name, variant, query)
SELECT case_name, 'floor',
       regexp_replace(regexp_replace(query, 'round\((booking\.\w+\([^)]*\))::numeric, \d+\)', '\1'),
                      'booking\.(peak_seats|busy_union|busy_minutes|utilization|rating_summary)\((?:[^),]*,\s*)*([^),]+)\)', 'count(\2)')
FROM aggregate_cases WHERE variant = 'native' ORDER BY n;

-- The answers agree (as sets of rows; floating-point results rounded alike).
CREATE TEMP TABLE agreement AS
SELECT a.case_name, bench.same_rows(a.query, b.query) AS same_answer
FROM aggregate_cases a JOIN aggregate_cases b ON b.case_name = a.case_name AND a.variant = 'native' AND b.variant = 'plain SQL';
SELECT * FROM agreement;
SELECT bool_and(same_answer) AS all_agree FROM agreement \gset
\if :all_agree
\else
  \echo 'the native aggregates and the plain-SQL way disagree on the benchmark data'
  SELECT 1/0;
\endif

-- Timings. count(v) makes every group's value computed (an unused aggregate would be dropped
-- from the plan).
CREATE FUNCTION pg_temp.elapsed_ms(p_sql text) RETURNS float8
LANGUAGE plpgsql AS $$
DECLARE
  t0 timestamptz := clock_timestamp();
  n  bigint;
BEGIN
  EXECUTE p_sql INTO n;
  RETURN extract(epoch FROM clock_timestamp() - t0) * 1000;
END $$;
CREATE TEMP TABLE samples (n int, workers int, ms float8);
DO $$
DECLARE
  c       record;
  workers int;
BEGIN
  FOR round IN 1..current_setting('bench.rounds')::int LOOP
    FOR c IN SELECT * FROM aggregate_cases ORDER BY n LOOP
      FOREACH workers IN ARRAY ARRAY[0, 2] LOOP
        PERFORM set_config('max_parallel_workers_per_gather', workers::text, true);
        INSERT INTO samples VALUES (c.n, workers, pg_temp.elapsed_ms(format('SELECT count(v) FROM (%s) q', c.query)));
      END LOOP;
    END LOOP;
  END LOOP;
END $$;

CREATE TEMP TABLE results AS
SELECT c.case_name, c.variant, s.workers, percentile_cont(0.5) WITHIN GROUP (ORDER BY s.ms) AS median_ms
FROM samples s JOIN aggregate_cases c USING (n) GROUP BY c.case_name, c.variant, s.workers;

SELECT r.case_name AS "case (median ms)",
       round(max(r.median_ms) FILTER (WHERE variant = 'native' AND workers = 0)::numeric) AS "native",
       round(max(r.median_ms) FILTER (WHERE variant = 'plain SQL' AND workers = 0)::numeric) AS "plain SQL",
       round(max(r.median_ms) FILTER (WHERE variant = 'floor' AND workers = 0)::numeric) AS "floor: count()",
       round((max(r.median_ms) FILTER (WHERE variant = 'plain SQL' AND workers = 0)
              / max(r.median_ms) FILTER (WHERE variant = 'native' AND workers = 0))::numeric, 1) AS "SQL ÷ native",
       -- what an aggregate that cost nothing would reach
       round((max(r.median_ms) FILTER (WHERE variant = 'plain SQL' AND workers = 0)
              / max(r.median_ms) FILTER (WHERE variant = 'floor' AND workers = 0))::numeric, 1) AS "SQL ÷ floor",
       round(max(r.median_ms) FILTER (WHERE variant = 'native' AND workers = 2)::numeric) AS "native, 2 workers",
       round(max(r.median_ms) FILTER (WHERE variant = 'plain SQL' AND workers = 2)::numeric) AS "plain SQL, 2 workers",
       round((max(r.median_ms) FILTER (WHERE variant = 'plain SQL' AND workers = 2)
              / max(r.median_ms) FILTER (WHERE variant = 'native' AND workers = 2))::numeric, 1) AS "SQL ÷ native, 2 workers"
FROM results r JOIN (SELECT case_name, min(n) AS first FROM aggregate_cases GROUP BY case_name) o USING (case_name)
GROUP BY r.case_name, o.first ORDER BY o.first;

-- The daily usage view for a month of the 50 resources, as a dashboard reads it.
SELECT round(median_ms::numeric) AS "resource_daily_usage, March 2031, 50 resources: median ms", result AS "days"
FROM bench.time_queries(ARRAY[$q$SELECT count(d.*) FROM (SELECT * FROM booking.resource_daily_usage WHERE day BETWEEN '2031-03-01' AND '2031-03-31') d$q$], 3);

-- Where the floor of utilisation over 2031 goes, serially: reading the rows, taking their
-- columns apart and filtering by status, hashing them into their groups. Every query above
-- pays these; no aggregate can save them.
SET max_parallel_workers_per_gather = 0;
SELECT s.step AS "floor of utilization over 2031, serial", round(t.median_ms::numeric) AS "median ms"
FROM bench.time_queries(ARRAY[
       'SELECT count(*) FROM booking.bookings',
       $q$SELECT count(during) FROM booking.bookings WHERE status IN ('pending', 'approved')$q$,
       (SELECT format('SELECT count(v) FROM (%s) q', query) FROM aggregate_cases
        WHERE case_name = 'utilization of 2031' AND variant = 'floor')], 7) t
JOIN (VALUES (1, 'reading the rows'), (2, '+ their columns and the status filter'),
             (3, '+ grouping by resource: the floor')) AS s(n, step) ON s.n = t.query_index
ORDER BY s.n;
RESET max_parallel_workers_per_gather;
