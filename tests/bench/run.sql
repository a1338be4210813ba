-- The benchmark's read side: each native function against the plain-SQL way (and, for the
-- slot list, against the floor: an index scan of the same bookings plus emitting as many rows),
-- on the dataset of dataset.sql. Medians of many calls, measured inside the server, the
-- variants of a case taking turns (bench.time_queries).
\set ON_ERROR_STOP on
\pset footer off
\set studio '''b0000000-0000-4000-a001-000000000001'''
\set hall '''b0000000-0000-4000-a003-000000000001'''
\set month_start '''2031-01-06 00:00 Europe/Paris'''
\set month_end '''2031-02-05 00:00 Europe/Paris'''
CREATE TEMP TABLE results (n serial, case_name text, variant text, median_ms float8, mean_ms float8, result bigint);
CREATE TEMP TABLE agreement (case_name text, same_answer boolean);
SELECT array_agg(format('b0000000-0000-4000-a002-%s', lpad(n::text, 12, '0'))::uuid ORDER BY n)::text AS pool FROM generate_series(1, 50) n \gset

-- A case on one resource: the native slot list against the plain SQL and the floor, p_runs calls
-- each; the case's name says how many bookings the resource has (%s in p_title).
CREATE FUNCTION pg_temp.one_resource_case(p_agreement text, p_title text, p_resource uuid, p_start timestamptz,
                                          p_end timestamptz, p_seats int, p_runs int) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
  v_native text := format('SELECT * FROM booking.get_available_slots(%L, %L, %L, 60, NULL, %s)', p_resource, p_start, p_end, p_seats);
  v_plain  text := format('SELECT * FROM bench.sql_available_slots(%L, %L, %L, 60, %s)', p_resource, p_start, p_end, p_seats);
  v_rows   bigint;
BEGIN
  EXECUTE format('SELECT count(*) FROM (%s) s', v_native) INTO v_rows;
  INSERT INTO results (case_name, variant, median_ms, mean_ms, result)
  SELECT format(p_title, (SELECT count(*) FROM booking.bookings WHERE resource_id = p_resource)),
         (ARRAY['native get_available_slots', 'plain SQL with multiranges', 'floor: index-only scan + as many rows'])[t.query_index],
         t.median_ms, t.mean_ms, t.result
  FROM bench.time_queries(ARRAY[format('SELECT count(*) FROM (%s) s', v_native), format('SELECT count(*) FROM (%s) s', v_plain),
                                bench.floor_query(p_resource, p_start, p_end, v_rows)],
                          p_runs, ARRAY[false, false, true]) t
  ORDER BY t.query_index;
  INSERT INTO agreement VALUES (p_agreement, bench.same_rows(v_native, v_plain));
END $$;

-- 1. One resource, 30 days, 15-minute grid, about 240 bookings.
SELECT pg_temp.one_resource_case('studio', 'studio: 30 days, 15-min grid, %s bookings', :studio, :month_start, :month_end, 1, 300) AS studio_measured \gset

-- 2. A pool of 50 resources over 7 days.
SELECT count(*) AS pool_bookings FROM booking.bookings b WHERE b.resource_id = ANY (:'pool'::uuid[]) \gset
INSERT INTO results (case_name, variant, median_ms, mean_ms, result)
SELECT format(c, :pool_bookings), v, t.median_ms, t.mean_ms, t.result
FROM (VALUES
  ('pool of 50, 7 days, %s bookings: any free', 'native get_available_slots_any', format('SELECT count(*) FROM booking.get_available_slots_any(%L, ''2031-01-06 00:00 Europe/Paris'', ''2031-01-13 00:00 Europe/Paris'', 60)', :'pool'),
   'plain SQL: each resource''s slots, grouped', format('SELECT count(*) FROM bench.sql_available_slots_any(%L, ''2031-01-06 00:00 Europe/Paris'', ''2031-01-13 00:00 Europe/Paris'', 60)', :'pool')),
  ('pool of 50: next slot from Monday 08:00 (90 days)', 'native find_next_slot', format('SELECT count(*) FROM booking.find_next_slot(%L, ''2031-01-06 08:00 Europe/Paris'', 60)', :'pool'),
   'plain SQL: every slot, the first kept', format('SELECT count(*) FROM bench.sql_find_next_slot(%L, ''2031-01-06 08:00 Europe/Paris'', 60)', :'pool')),
  ('pool of 50: next slot from Saturday 19:30 (90 days)', 'native find_next_slot', format('SELECT count(*) FROM booking.find_next_slot(%L, ''2031-01-11 19:30 Europe/Paris'', 60)', :'pool'),
   'plain SQL: every slot, the first kept', format('SELECT count(*) FROM bench.sql_find_next_slot(%L, ''2031-01-11 19:30 Europe/Paris'', 60)', :'pool'))
) AS q(c, native, native_sql, plain, plain_sql)
CROSS JOIN LATERAL (SELECT ARRAY[q.native, q.plain] AS names) n
CROSS JOIN LATERAL bench.time_queries(ARRAY[q.native_sql, q.plain_sql], 30) t
CROSS JOIN LATERAL (SELECT n.names[t.query_index] AS v) x;
INSERT INTO agreement
SELECT c, bench.same_rows(format('SELECT * FROM booking.%s(%s)', native, args), format('SELECT * FROM bench.%s(%s)', plain, args))
FROM (VALUES
  ('pool: any', 'get_available_slots_any', 'sql_available_slots_any',
   format('%L, ''2031-01-06 00:00 Europe/Paris'', ''2031-01-13 00:00 Europe/Paris'', 60', :'pool')),
  ('pool: next slot', 'find_next_slot', 'sql_find_next_slot', format('%L, ''2031-01-06 08:00 Europe/Paris'', 60', :'pool')),
  ('pool: next slot past Sunday', 'find_next_slot', 'sql_find_next_slot', format('%L, ''2031-01-11 19:30 Europe/Paris'', 60', :'pool'))
) AS q(c, native, plain, args);

-- 3. 30 days on a resource with 10 000 bookings (capacity 150, asking for 100 seats).
SELECT pg_temp.one_resource_case('hall', 'hall: 30 days, 15-min grid, %s bookings, 100 of 150 seats', :hall, :month_start, :month_end, 100, 30) AS hall_measured \gset

SELECT case_name AS "case", variant, round(median_ms::numeric, 3) AS "median ms", round(mean_ms::numeric, 3) AS "mean ms",
       result AS "rows", round((first_value(median_ms) OVER (PARTITION BY case_name ORDER BY n) / median_ms)::numeric, 2) AS "native ÷ this"
FROM results ORDER BY n;
SELECT * FROM agreement;
SELECT bool_and(same_answer) AS all_agree FROM agreement \gset
\if :all_agree
\else
  \echo 'the native functions and the plain-SQL way disagree on the benchmark data'
  SELECT 1/0;
\endif
