-- The aggregates benchmark's run: each native aggregate against the plain-SQL way of answering
-- the same question, on the data of aggregates_dataset.sql (1 000 000 bookings, 50 resources,
-- 1 000 000 ratings), grouped by resource. Medians of several runs, measured inside the server,
-- serial plans first (the plain SQL cannot run in parallel: range_agg has no combine function,
-- window functions run in the leader), then the native aggregates with two parallel workers.
-- The run fails if a native answer differs from the plain-SQL one.
\set ON_ERROR_STOP on
\pset footer off
SET bench.rounds = 7;
CREATE TEMP TABLE aggregate_cases (n serial, case_name text, variant text, query text);
INSERT INTO aggregate_cases (case_name, variant, query) VALUES
  ('peak seats', 'native booking.peak_seats', $q$
    SELECT resource_id, booking.peak_seats(during, seats) AS v
    FROM booking.bookings WHERE status IN ('pending', 'approved') GROUP BY resource_id $q$),
  ('peak seats', 'plain SQL: running sum over start and end events (window function)', $q$
    SELECT resource_id, max(held) AS v
    FROM (SELECT b.resource_id,
                 sum(e.change) OVER (PARTITION BY b.resource_id ORDER BY e.at, e.change ROWS UNBOUNDED PRECEDING) AS held
          FROM booking.bookings b CROSS JOIN LATERAL (VALUES (lower(b.during), b.seats), (upper(b.during), -b.seats)) AS e(at, change)
          WHERE b.status IN ('pending', 'approved')) x
    GROUP BY resource_id $q$),
  ('busy union', 'native booking.busy_union', $q$
    SELECT resource_id, booking.busy_union(during) AS v
    FROM booking.bookings WHERE status IN ('pending', 'approved') GROUP BY resource_id $q$),
  ('busy union', 'plain SQL: range_agg', $q$
    SELECT resource_id, range_agg(during) AS v
    FROM booking.bookings WHERE status IN ('pending', 'approved') GROUP BY resource_id $q$),
  ('busy minutes', 'native booking.busy_minutes', $q$
    SELECT resource_id, round(booking.busy_minutes(during)::numeric, 6) AS v
    FROM booking.bookings WHERE status IN ('pending', 'approved') GROUP BY resource_id $q$),
  ('busy minutes', 'plain SQL: length of range_agg', $q$
    SELECT resource_id, round((SELECT extract(epoch FROM sum(upper(r) - lower(r))) / 60 FROM unnest(range_agg(during)) r), 6) AS v
    FROM booking.bookings WHERE status IN ('pending', 'approved') GROUP BY resource_id $q$),
  ('utilization of 2031', 'native booking.utilization', $q$
    SELECT b.resource_id, round(booking.utilization(b.during, b.seats, r.capacity, y.open)::numeric, 12) AS v
    FROM booking.bookings b JOIN booking.resources r ON r.id = b.resource_id,
         (SELECT tstzrange('2031-01-01 00:00 Europe/Paris', '2032-01-01 00:00 Europe/Paris') AS open) y
    WHERE b.status IN ('pending', 'approved') GROUP BY b.resource_id $q$),
  ('utilization of 2031', 'plain SQL: seat-time of range intersections', $q$
    SELECT b.resource_id,
           round((extract(epoch FROM sum((upper(b.during * y.open) - lower(b.during * y.open)) * b.seats))
                  / (max(r.capacity) * extract(epoch FROM upper(y.open) - lower(y.open))))::numeric, 12) AS v
    FROM booking.bookings b JOIN booking.resources r ON r.id = b.resource_id,
         (SELECT tstzrange('2031-01-01 00:00 Europe/Paris', '2032-01-01 00:00 Europe/Paris') AS open) y
    WHERE b.status IN ('pending', 'approved') GROUP BY b.resource_id, y.open $q$),
  ('utilization per resource and day, 08:00-20:00', 'native booking.utilization', $q$
    SELECT b.resource_id, d.day, round(booking.utilization(b.during, b.seats, r.capacity, d.open)::numeric, 12) AS v
    FROM booking.bookings b JOIN booking.resources r ON r.id = b.resource_id
    CROSS JOIN LATERAL (SELECT (b.starts_at AT TIME ZONE 'Europe/Paris')::date AS day) AS l
    CROSS JOIN LATERAL (SELECT l.day, tstzrange((l.day + time '08:00') AT TIME ZONE 'Europe/Paris',
                                                (l.day + time '20:00') AT TIME ZONE 'Europe/Paris') AS open) AS d
    WHERE b.status IN ('pending', 'approved') GROUP BY b.resource_id, d.day $q$),
  ('utilization per resource and day, 08:00-20:00', 'plain SQL: seat-time of range intersections', $q$
    SELECT b.resource_id, d.day,
           round((coalesce(extract(epoch FROM sum((upper(b.during * d.open) - lower(b.during * d.open)) * b.seats)), 0)
                  / (max(r.capacity) * 12 * 3600))::numeric, 12) AS v
    FROM booking.bookings b JOIN booking.resources r ON r.id = b.resource_id
    CROSS JOIN LATERAL (SELECT (b.starts_at AT TIME ZONE 'Europe/Paris')::date AS day) AS l
    CROSS JOIN LATERAL (SELECT l.day, tstzrange((l.day + time '08:00') AT TIME ZONE 'Europe/Paris',
                                                (l.day + time '20:00') AT TIME ZONE 'Europe/Paris') AS open) AS d
    WHERE b.status IN ('pending', 'approved') GROUP BY b.resource_id, d.day $q$),
  ('rating summary', 'native booking.rating_summary', $q$
    SELECT resource_id, booking.rating_summary(rating) AS v FROM bench.reviews GROUP BY resource_id $q$),
  ('rating summary', 'plain SQL: counts with FILTER, jsonb_build_object', $q$
    SELECT resource_id,
           jsonb_build_object('count', count(rating), 'average', round(avg(rating), 2),
                              'histogram', jsonb_build_object('1', count(*) FILTER (WHERE rating = 1), '2', count(*) FILTER (WHERE rating = 2),
                                                              '3', count(*) FILTER (WHERE rating = 3), '4', count(*) FILTER (WHERE rating = 4),
                                                              '5', count(*) FILTER (WHERE rating = 5))) AS v
    FROM bench.reviews GROUP BY resource_id $q$);

-- The answers agree (as sets of rows; floating-point results rounded alike).
CREATE TEMP TABLE agreement AS
SELECT a.case_name, bench.same_rows(a.query, b.query) AS same_answer
FROM aggregate_cases a JOIN aggregate_cases b ON b.case_name = a.case_name AND b.n = a.n + 1;
SELECT * FROM agreement;
SELECT bool_and(same_answer) AS all_agree FROM agreement \gset
\if :all_agree
\else
  \echo 'the native aggregates and the plain-SQL way disagree on the benchmark data'
  SELECT 1/0;
\endif

-- Timings, in rounds: each round runs every case once, so that a native aggregate and its
-- plain-SQL twin meet the same load on a shared machine. count(v) makes every group's value
-- computed (an unused aggregate would be dropped from the plan).
CREATE FUNCTION pg_temp.elapsed_ms(p_sql text) RETURNS float8
LANGUAGE plpgsql AS $$
DECLARE
  t0 timestamptz := clock_timestamp();
  n  bigint;
BEGIN
  EXECUTE p_sql INTO n;
  RETURN extract(epoch FROM clock_timestamp() - t0) * 1000;
END $$;
CREATE TEMP TABLE samples (n int, case_name text, variant text, ms float8);
DO $$
DECLARE
  c record;
BEGIN
  FOR round IN 1..current_setting('bench.rounds')::int LOOP
    FOR c IN SELECT * FROM aggregate_cases ORDER BY n LOOP
      SET LOCAL max_parallel_workers_per_gather = 0;
      INSERT INTO samples VALUES (c.n, c.case_name, c.variant, pg_temp.elapsed_ms(format('SELECT count(v) FROM (%s) q', c.query)));
      IF c.variant LIKE 'native%' THEN
        SET LOCAL max_parallel_workers_per_gather = 2;
        INSERT INTO samples VALUES (c.n + 100, c.case_name, c.variant || ', 2 parallel workers',
                                    pg_temp.elapsed_ms(format('SELECT count(v) FROM (%s) q', c.query)));
      END IF;
    END LOOP;
  END LOOP;
END $$;
CREATE TEMP TABLE results AS
SELECT n, case_name, variant, percentile_cont(0.5) WITHIN GROUP (ORDER BY ms) AS median_ms, avg(ms) AS mean_ms
FROM samples GROUP BY n, case_name, variant;

SELECT case_name AS "case", variant, round(median_ms::numeric) AS "median ms", round(mean_ms::numeric) AS "mean ms",
       round((max(median_ms) FILTER (WHERE variant LIKE 'plain%') OVER (PARTITION BY case_name) / median_ms)::numeric, 1) AS "SQL ÷ this"
FROM results ORDER BY case_name, n;

-- The daily usage view for a month of 50 resources, as a dashboard reads it.
SELECT round(median_ms::numeric) AS "resource_daily_usage, March 2031, median ms", result AS "rows"
FROM bench.time_query($q$SELECT count(utilization) FROM booking.resource_daily_usage WHERE day BETWEEN '2031-03-01' AND '2031-03-31'$q$, 3);
