-- The reporting aggregates through SQL: equal to the plain-SQL way on random data (as group
-- aggregates, as running and sliding window aggregates, in parallel plans), their NULL, empty
-- and unbounded semantics and 22023s, who may call them, and the daily usage view under RLS.

-- Random rows: 7 groups of about 3 000, on a 5-minute grid over a week (so ranges overlap and
-- touch often), with a few NULL ranges, empty ranges, NULL seats and NULL ratings. A regular
-- table: parallel workers cannot read temporary ones.
SELECT setseed(0.31);
CREATE TABLE public.aggregate_sample AS
SELECT n % 7 AS g, n,
       CASE WHEN r1 < 0.02 THEN NULL
            WHEN r1 < 0.04 THEN 'empty'::tstzrange
            ELSE tstzrange(s, s + make_interval(mins => 5 * (1 + (r2 * 36)::int))) END AS during,
       CASE WHEN r3 < 0.02 THEN NULL ELSE 1 + (r3 * 4)::int END AS seats,
       CASE WHEN r4 < 0.05 THEN NULL ELSE 1 + floor(r4 * 5)::int END AS rating
FROM (SELECT n, random() AS r1, random() AS r2, random() AS r3, random() AS r4,
             timestamptz '2030-01-07 00:00Z' + make_interval(mins => 5 * (random() * 2016)::int) AS s
      FROM generate_series(1, 20000) n) x;
CREATE INDEX ON public.aggregate_sample (g, n);
ANALYZE public.aggregate_sample;

-- The plain-SQL answers, per group.
CREATE TEMP TABLE plain_answers AS
WITH changes AS (
  SELECT g, lower(during) AS at, seats AS change FROM public.aggregate_sample
  WHERE NOT isempty(during) AND seats IS NOT NULL
  UNION ALL
  SELECT g, upper(during), -seats FROM public.aggregate_sample
  WHERE NOT isempty(during) AND seats IS NOT NULL
), held AS (
  -- releases before takes at one instant: half-open ranges
  SELECT g, sum(change) OVER (PARTITION BY g ORDER BY at, change ROWS UNBOUNDED PRECEDING) AS seats FROM changes
), unions AS (
  SELECT g, range_agg(during) AS busy FROM public.aggregate_sample GROUP BY g
)
SELECT u.g,
       (SELECT coalesce(max(seats), 0) FROM held WHERE held.g = u.g) AS peak_seats,
       u.busy,
       (SELECT coalesce(sum(extract(epoch FROM upper(r) - lower(r))), 0)::float8 / 60 FROM unnest(u.busy) r) AS busy_minutes,
       (SELECT coalesce(sum(s.seats * extract(epoch FROM upper(s.during * o.open) - lower(s.during * o.open)))::float8
                        / max(10 * extract(epoch FROM upper(o.open) - lower(o.open)))::float8, 0)
        FROM public.aggregate_sample s, (SELECT tstzrange('2030-01-08 00:00Z', '2030-01-09 12:00Z') AS open) o
        WHERE s.g = u.g AND s.seats IS NOT NULL AND NOT isempty(s.during * o.open)) AS utilization,
       (SELECT jsonb_build_object('count', count(rating), 'average', round(avg(rating), 2),
                                  'histogram', jsonb_build_object('1', count(*) FILTER (WHERE rating = 1), '2', count(*) FILTER (WHERE rating = 2),
                                                                  '3', count(*) FILTER (WHERE rating = 3), '4', count(*) FILTER (WHERE rating = 4),
                                                                  '5', count(*) FILTER (WHERE rating = 5)))
        FROM public.aggregate_sample s WHERE s.g = u.g) AS ratings
FROM unions u;

CREATE FUNCTION pg_temp.native_answers_sql() RETURNS text LANGUAGE sql AS $$
  SELECT $q$
    SELECT g, booking.peak_seats(during, seats) AS peak_seats, booking.busy_union(during) AS busy,
           booking.busy_minutes(during) AS busy_minutes,
           booking.utilization(during, seats, 10, tstzrange('2030-01-08 00:00Z', '2030-01-09 12:00Z')) AS utilization,
           booking.rating_summary(rating) AS ratings
    FROM public.aggregate_sample GROUP BY g
  $q$
$$;

-- Do the answers in p_table agree with the plain-SQL ones, group by group?
CREATE FUNCTION pg_temp.agrees_with_plain(p_table regclass) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
  v_bad text;
BEGIN
  EXECUTE format($q$
    SELECT string_agg(format('group %%s: %%s', p.g, concat_ws(', ',
             CASE WHEN n.peak_seats <> p.peak_seats THEN format('peak %%s vs %%s', n.peak_seats, p.peak_seats) END,
             CASE WHEN n.busy IS DISTINCT FROM p.busy THEN 'busy_union differs from range_agg' END,
             CASE WHEN abs(n.busy_minutes - p.busy_minutes) > 1e-9 * p.busy_minutes THEN format('minutes %%s vs %%s', n.busy_minutes, p.busy_minutes) END,
             CASE WHEN abs(n.utilization - p.utilization) > 1e-12 THEN format('utilization %%s vs %%s', n.utilization, p.utilization) END,
             CASE WHEN n.ratings <> p.ratings THEN format('ratings %%s vs %%s', n.ratings, p.ratings) END)), '; ')
    FROM plain_answers p FULL JOIN %s n USING (g)
    WHERE n.g IS NULL OR p.g IS NULL OR n.peak_seats <> p.peak_seats OR n.busy IS DISTINCT FROM p.busy
       OR abs(n.busy_minutes - p.busy_minutes) > 1e-9 * p.busy_minutes OR abs(n.utilization - p.utilization) > 1e-12
       OR n.ratings <> p.ratings$q$, p_table) INTO v_bad;
  RETURN v_bad;
END $$;

-- The plan of a query, as text.
CREATE FUNCTION pg_temp.plan_of(p_sql text) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
  v_line text;
  v_plan text := '';
BEGIN
  FOR v_line IN EXECUTE p_sql LOOP
    v_plan := v_plan || v_line || E'\n';
  END LOOP;
  RETURN v_plan;
END $$;

DO $$
DECLARE
  v_bad  text;
  v_plan text;
BEGIN
  PERFORM pg_temp.check((SELECT count(*) FROM plain_answers) = 7, 'seven groups');
  PERFORM pg_temp.check((SELECT bool_and(peak_seats > 10 AND busy_minutes > 0 AND utilization > 0.5) FROM plain_answers),
                        'the sample overlaps a lot');

  -- 1. Group aggregates equal the plain SQL (serial plan).
  SET LOCAL max_parallel_workers_per_gather = 0;
  EXECUTE 'CREATE TEMP TABLE serial_answers AS ' || pg_temp.native_answers_sql();
  v_bad := pg_temp.agrees_with_plain('serial_answers');
  PERFORM pg_temp.check(v_bad IS NULL, 'serial plan: ' || v_bad);
  -- docs/reporting.md's large-table form: capacity 1 per row, divided by the capacity after grouping.
  PERFORM pg_temp.check((SELECT bool_and(abs(capacity_one.v / 10 - s.utilization) <= 1e-12)
                         FROM serial_answers s JOIN (SELECT g, booking.utilization(during, seats, 1, tstzrange('2030-01-08 00:00Z', '2030-01-09 12:00Z')) AS v
                                                     FROM public.aggregate_sample GROUP BY g) capacity_one USING (g)),
                        'utilization with capacity 1, divided after grouping');

  -- 2. In a parallel plan (partial aggregates in workers, serialised, combined): the plan has
  -- them, workers ran, and the answers are the same.
  SET LOCAL parallel_setup_cost = 0;
  SET LOCAL parallel_tuple_cost = 0;
  SET LOCAL min_parallel_table_scan_size = 0;
  SET LOCAL max_parallel_workers_per_gather = 2;
  SET LOCAL parallel_leader_participation = off;
  v_plan := pg_temp.plan_of('EXPLAIN (COSTS OFF) ' || pg_temp.native_answers_sql());
  PERFORM pg_temp.check(v_plan ~ 'Gather' AND v_plan ~ 'Partial (Group|Hash)?Aggregate' AND v_plan ~ 'Parallel Seq Scan', 'a parallel plan: ' || v_plan);
  v_plan := pg_temp.plan_of('EXPLAIN (COSTS OFF) SELECT booking.peak_seats(during, seats), booking.busy_union(during), booking.busy_minutes(during),
                                     booking.utilization(during, seats, 10, tstzrange(''2030-01-08 00:00Z'', ''2030-01-09 12:00Z'')),
                                     booking.rating_summary(rating) FROM public.aggregate_sample');
  PERFORM pg_temp.check(v_plan ~ 'Finalize Aggregate' AND v_plan ~ 'Partial Aggregate' AND v_plan ~ 'Gather', 'a parallel plan without groups: ' || v_plan);
  v_plan := pg_temp.plan_of('EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) CREATE TABLE public.parallel_answers AS ' || pg_temp.native_answers_sql());
  PERFORM pg_temp.check(v_plan ~ 'Workers Launched: [1-9]', 'workers ran: ' || v_plan);
  v_bad := pg_temp.agrees_with_plain('public.parallel_answers');
  PERFORM pg_temp.check(v_bad IS NULL, 'parallel plan: ' || v_bad);
  RESET parallel_setup_cost;
  RESET parallel_tuple_cost;
  RESET min_parallel_table_scan_size;
  RESET parallel_leader_participation;
  SET LOCAL max_parallel_workers_per_gather = 0;

  -- 3. As window functions. A running frame (start fixed: the plain state, finalised row after
  -- row) and a sliding frame (the moving state and its inverse) both equal the group aggregate
  -- over the same rows.
  CREATE TEMP TABLE framed AS
  SELECT g, n, booking.peak_seats(during, seats) OVER w AS peak_seats, booking.busy_union(during) OVER w AS busy,
         booking.busy_minutes(during) OVER w AS busy_minutes,
         booking.utilization(during, seats, 10, tstzrange('2030-01-08 00:00Z', '2030-01-09 12:00Z')) OVER w AS utilization,
         booking.rating_summary(rating) OVER w AS ratings,
         booking.peak_seats(during, seats) OVER running AS running_peak, booking.busy_minutes(during) OVER running AS running_minutes
  FROM public.aggregate_sample
  WHERE n <= 3000
  WINDOW w AS (PARTITION BY g ORDER BY n ROWS BETWEEN 40 PRECEDING AND CURRENT ROW),
         running AS (PARTITION BY g ORDER BY n ROWS UNBOUNDED PRECEDING);
  SELECT string_agg(format('row %s', f.n), ', ') INTO v_bad
  FROM framed f
  CROSS JOIN LATERAL (
    SELECT booking.peak_seats(s.during, s.seats) AS peak_seats, booking.busy_union(s.during) AS busy,
           booking.busy_minutes(s.during) AS busy_minutes,
           booking.utilization(s.during, s.seats, 10, tstzrange('2030-01-08 00:00Z', '2030-01-09 12:00Z')) AS utilization,
           booking.rating_summary(s.rating) AS ratings
    FROM (SELECT * FROM public.aggregate_sample s WHERE s.g = f.g AND s.n <= f.n ORDER BY s.n DESC LIMIT 41) s) x
  CROSS JOIN LATERAL (
    SELECT booking.peak_seats(s.during, s.seats) AS peak_seats, booking.busy_minutes(s.during) AS busy_minutes
    FROM public.aggregate_sample s WHERE s.g = f.g AND s.n <= f.n) r
  WHERE f.peak_seats <> x.peak_seats OR f.busy IS DISTINCT FROM x.busy OR f.busy_minutes <> x.busy_minutes
     OR abs(f.utilization - x.utilization) > 1e-12 OR f.ratings <> x.ratings
     OR f.running_peak <> r.peak_seats OR f.running_minutes <> r.busy_minutes;
  PERFORM pg_temp.check(v_bad IS NULL, 'window frames differ from the group aggregate at ' || v_bad);
  PERFORM pg_temp.check((SELECT count(DISTINCT peak_seats) > 3 FROM framed), 'the frames vary');
END $$;

-- Planning: the fixed-size states declare their size (SSPACE), so with many groups the planner
-- hashes them as it would a built-in aggregate's, instead of pricing each state at the 8 kB it
-- assumes for an undeclared `internal` one and sorting every row. The growing states (peak seats,
-- busy time) keep that default: theirs grows with the rows.
CREATE TEMP TABLE many_groups AS
SELECT g, tstzrange('2030-01-01'::timestamptz + g * interval '1 minute', '2030-01-01'::timestamptz + (g + 30) * interval '1 minute') AS during
FROM generate_series(1, 100000) g;
ANALYZE many_groups;
DO $$
DECLARE
  v_plan text;
BEGIN
  PERFORM pg_temp.check((SELECT string_agg(format('%s %s %s', aggfnoid, aggtransspace, aggmtransspace), ', ' ORDER BY aggfnoid::text)
                         FROM pg_aggregate WHERE aggfnoid::text LIKE 'booking.%')
                        = 'booking.busy_minutes 0 0, booking.busy_union 0 0, booking.peak_seats 0 0, booking.rating_summary 128 128, booking.utilization 128 128',
                        'declared state sizes');
  SET LOCAL work_mem = '64MB';
  SET LOCAL max_parallel_workers_per_gather = 0;
  v_plan := pg_temp.plan_of($q$EXPLAIN (COSTS OFF) SELECT g, booking.utilization(during, 1, 1, '[2030-01-01,2030-04-01)') FROM many_groups GROUP BY g$q$);
  PERFORM pg_temp.check(v_plan ~ 'HashAggregate' AND v_plan !~ 'Sort', '100 000 utilization groups are hashed: ' || v_plan);
END $$;

-- NULL, empty and unbounded ranges; bound kinds; errors.
DO $$
BEGIN
  -- peak_seats: NULL rows skipped, empty ranges hold nothing, no rows give 0.
  PERFORM pg_temp.check((SELECT booking.peak_seats(d, s) FROM (VALUES (NULL::tstzrange, 3), ('[2030-01-01,2030-01-02)', NULL), ('empty', 4)) v(d, s)) = 0, 'peak: nothing held');
  PERFORM pg_temp.check((SELECT booking.peak_seats(d, s) FROM (VALUES (NULL::tstzrange, 3)) v(d, s) WHERE false) = 0, 'peak: no rows');
  -- touching bookings do not add up; an inclusive upper bound holds its instant
  PERFORM pg_temp.check((SELECT booking.peak_seats(d, s) FROM (VALUES ('[2030-01-01 10:00Z,2030-01-01 11:00Z)'::tstzrange, 2), ('[2030-01-01 11:00Z,2030-01-01 12:00Z)', 3)) v(d, s)) = 3, 'peak: touching');
  PERFORM pg_temp.check((SELECT booking.peak_seats(d, s) FROM (VALUES ('[2030-01-01 10:00Z,2030-01-01 11:00Z]'::tstzrange, 2), ('[2030-01-01 11:00Z,2030-01-01 12:00Z)', 3)) v(d, s)) = 5, 'peak: inclusive upper bound');
  PERFORM pg_temp.check((SELECT booking.peak_seats(d, s) FROM (VALUES ('(,)'::tstzrange, 2), ('[2030-01-01,)', 3), ('(,2029-01-01)', 4)) v(d, s)) = 6, 'peak: unbounded ranges');
  PERFORM pg_temp.expect_error('22023', 'SELECT booking.peak_seats(''[2030-01-01,2030-01-02)'', -1)');
  PERFORM pg_temp.expect_error('22023', 'SELECT booking.peak_seats(''[-infinity,2030-01-02)'', 1)');

  -- busy_union: as range_agg for [) ranges: NULL without a non-NULL range, empty when all are empty.
  PERFORM pg_temp.check((SELECT booking.busy_union(d) FROM (VALUES (NULL::tstzrange)) v(d)) IS NULL, 'union: only NULL');
  PERFORM pg_temp.check((SELECT booking.busy_union(d) FROM (VALUES ('empty'::tstzrange), (NULL)) v(d)) = '{}', 'union: only empty');
  PERFORM pg_temp.check((SELECT booking.busy_union(d) FROM (VALUES ('[2030-01-01,2030-01-02)'::tstzrange), ('[2030-01-02,2030-01-03)'), ('(,2029-01-01)'), ('[2031-01-01,)')) v(d))
                        = '{(,2029-01-01), [2030-01-01,2030-01-03), [2031-01-01,)}', 'union: touching merged, unbounded kept');
  -- other bound kinds are normalised to [) at microsecond resolution
  PERFORM pg_temp.check((SELECT booking.busy_union(d) FROM (VALUES ('[2030-01-01 10:00Z,2030-01-01 11:00Z]'::tstzrange), ('(2030-01-01 11:00Z,2030-01-01 12:00Z)')) v(d))
                        = '{[2030-01-01 10:00Z,2030-01-01 12:00Z)}', 'union: [a,b] and (b,c) make [a,c)');
  PERFORM pg_temp.check((SELECT booking.busy_union(d) FROM (VALUES ('(2030-01-01 10:00Z,2030-01-01 11:00Z]'::tstzrange)) v(d))
                        = '{[2030-01-01 10:00:00.000001Z,2030-01-01 11:00:00.000001Z)}', 'union: (a,b] is [a+1us,b+1us)');
  PERFORM pg_temp.expect_error('22023', 'SELECT booking.busy_union(''[2030-01-01,infinity)'')');

  -- busy_minutes: overlaps once, 0 without rows, unbounded is an error.
  PERFORM pg_temp.check((SELECT booking.busy_minutes(d) FROM (VALUES ('[2030-01-01 10:00Z,2030-01-01 11:00Z)'::tstzrange), ('[2030-01-01 10:30Z,2030-01-01 11:30Z)'), (NULL), ('empty')) v(d)) = 90, 'minutes: overlaps once');
  PERFORM pg_temp.check((SELECT booking.busy_minutes(d) FROM (VALUES (NULL::tstzrange)) v(d) WHERE false) = 0, 'minutes: no rows');
  PERFORM pg_temp.expect_error('22023', 'SELECT booking.busy_minutes(''[2030-01-01,)'')');

  -- utilization: seat-minutes inside open_time over capacity x its length.
  PERFORM pg_temp.check((SELECT booking.utilization(d, s, 4, '[2030-01-01 10:00Z,2030-01-01 20:00Z)') FROM (VALUES
                           ('[2030-01-01 08:00Z,2030-01-01 12:00Z)'::tstzrange, 2),  -- 2 h inside, 2 seats
                           ('[2030-01-01 19:00Z,)', 1),                               -- unbounded: 1 h inside
                           (NULL, 5), ('[2030-01-01 10:00Z,2030-01-01 11:00Z)', NULL), ('empty', 3)) v(d, s)) = 5.0 / 40, 'utilization');
  PERFORM pg_temp.check((SELECT booking.utilization(d, 1, 4, '[2030-01-01,2030-01-02)') FROM (VALUES (NULL::tstzrange)) v(d) WHERE false) = 0, 'utilization: no rows');
  PERFORM pg_temp.expect_error('22023', 'SELECT booking.utilization(''[2030-01-01,2030-01-02)'', 1, NULL, ''[2030-01-01,2030-01-02)'')');
  PERFORM pg_temp.expect_error('22023', 'SELECT booking.utilization(''[2030-01-01,2030-01-02)'', 1, 0, ''[2030-01-01,2030-01-02)'')');
  PERFORM pg_temp.expect_error('22023', 'SELECT booking.utilization(''[2030-01-01,2030-01-02)'', 1, 1, NULL)');
  PERFORM pg_temp.expect_error('22023', 'SELECT booking.utilization(''[2030-01-01,2030-01-02)'', 1, 1, ''empty'')');
  PERFORM pg_temp.expect_error('22023', 'SELECT booking.utilization(''[2030-01-01,2030-01-02)'', 1, 1, ''[2030-01-01,)'')');
  PERFORM pg_temp.expect_error('22023', 'SELECT booking.utilization(''[2030-01-01,2030-01-02)'', -1, 1, ''[2030-01-01,2030-01-02)'')');
  PERFORM pg_temp.expect_error('22023', $q$SELECT booking.utilization(d, 1, 1, o) FROM (VALUES ('[2030-01-01,2030-01-02)'::tstzrange, '[2030-01-01,2030-01-02)'::tstzrange),
                                                                                            ('[2030-01-01,2030-01-02)', '[2030-01-01,2030-01-03)')) v(d, o)$q$);

  -- rating_summary: NULLs skipped, the zero summary without ratings, 1-5 only.
  PERFORM pg_temp.check((SELECT booking.rating_summary(r) FROM (VALUES (5), (4), (NULL), (5)) v(r))
                        = '{"count": 3, "average": 4.67, "histogram": {"1": 0, "2": 0, "3": 0, "4": 1, "5": 2}}', 'ratings');
  PERFORM pg_temp.check((SELECT booking.rating_summary(r) FROM (VALUES (NULL::int)) v(r))
                        = '{"count": 0, "average": null, "histogram": {"1": 0, "2": 0, "3": 0, "4": 0, "5": 0}}', 'ratings: none');
  PERFORM pg_temp.expect_error('22023', 'SELECT booking.rating_summary(6)');
  PERFORM pg_temp.expect_error('22023', 'SELECT booking.rating_summary(0)');
END $$;

-- Calling an aggregate needs EXECUTE on the aggregate only: a plain role may, though the
-- support functions are closed to PUBLIC. (SQL cannot call them anyway: nothing makes an
-- `internal` value.)
DO $$
DECLARE
  v_open text[];
BEGIN
  SELECT array_agg(p.oid::regprocedure::text) INTO v_open
  FROM pg_proc p
  WHERE p.pronamespace = 'booking'::regnamespace AND 'internal'::regtype = ANY (p.proargtypes)
    AND has_function_privilege('authenticated', p.oid, 'EXECUTE');
  PERFORM pg_temp.check(v_open IS NULL, format('support functions open to the API roles: %s', v_open));
  PERFORM pg_temp.act_as('client');
  PERFORM pg_temp.check((SELECT booking.peak_seats(d, 1) FROM (VALUES ('[2030-01-01,2030-01-02)'::tstzrange)) v(d)) = 1, 'a plain role aggregates');
  PERFORM pg_temp.check((SELECT booking.rating_summary(r) ->> 'count' FROM (VALUES (3)) v(r)) = '1', 'a plain role summarises');
  PERFORM pg_temp.check((SELECT booking.busy_minutes(d) OVER () FROM (VALUES ('[2030-01-01,2030-01-02)'::tstzrange)) v(d)) = 1440, 'and as a window function');
  PERFORM pg_temp.expect_error('42846', 'SELECT booking.peak_seats_final(NULL::internal)');
  PERFORM pg_temp.act_as('superuser');
END $$;

-- The daily usage view on the fixtures, and row-level security through it.
DO $$
DECLARE
  vr    constant uuid := '00000000-0000-4000-a000-000000000101';
  space constant uuid := '00000000-0000-4000-a000-000000000103';
  room  constant uuid := '00000000-0000-4000-a000-000000000201';
  u     record;
  v_ids uuid[];
BEGIN
  -- Sunday 3 March (closed) to Monday: 4 seats from 22:00 to 02:00 New York time, cut at midnight.
  INSERT INTO booking.bookings (organization_id, resource_id, booked_by, starts_at, ends_at, status, seats) VALUES
    ('00000000-0000-4000-a000-000000000001', space, 'u-client2', '2030-03-03 22:00 America/New_York', '2030-03-04 02:00 America/New_York', 'approved', 4),
    ('00000000-0000-4000-a000-000000000001', space, 'u-client2', '2030-03-04 15:00 America/New_York', '2030-03-04 17:30 America/New_York', 'pending', 3),
    -- not holding time: no effect
    ('00000000-0000-4000-a000-000000000001', space, 'u-client2', '2030-03-04 10:00 America/New_York', '2030-03-04 12:00 America/New_York', 'cancelled', 5);

  PERFORM pg_temp.act_as('staff');
  SELECT * INTO u FROM booking.resource_daily_usage WHERE resource_id = space AND day = '2030-03-04';
  -- open 10-13 and 14-18 = 420 minutes; held 00:00-02:00 (4 seats, closed), 14:00-16:00 (4),
  -- 15:00-17:30 (3): busy 00:00-02:00 and 14:00-17:30; peak 7 at 15:00-16:00; inside the
  -- open hours 4 x 120 + 3 x 150 = 930 seat-minutes of 12 x 420.
  PERFORM pg_temp.check(u.open_minutes = 420 AND u.booked_minutes = 330 AND u.peak_seats = 7 AND u.bookings = 3
                        AND abs(u.utilization - 930.0 / 5040) < 1e-12 AND u.time_zone = 'America/New_York', format('Digital Lab on Monday: %s', u));
  SELECT * INTO u FROM booking.resource_daily_usage WHERE resource_id = space AND day = '2030-03-03';
  PERFORM pg_temp.check(u.open_minutes = 0 AND u.utilization IS NULL AND u.booked_minutes = 120 AND u.peak_seats = 4 AND u.bookings = 1,
                        format('Digital Lab on the closed Sunday: %s', u));
  SELECT * INTO u FROM booking.resource_daily_usage WHERE resource_id = vr AND day = '2030-03-04';
  PERFORM pg_temp.check(u.booked_minutes = 60 AND abs(u.utilization - 60.0 / 420) < 1e-12 AND u.peak_seats = 1 AND u.bookings = 1,
                        format('VR Headset: %s', u));
  -- Days run from the organization's first booking (Sunday) to the resource's last one: the
  -- VR Headset's Sunday shows zeros.
  PERFORM pg_temp.check((SELECT array_agg(day ORDER BY day) FROM booking.resource_daily_usage WHERE resource_id = vr) = '{2030-03-03,2030-03-04}',
                        'the VR Headset''s days');
  SELECT * INTO u FROM booking.resource_daily_usage WHERE resource_id = vr AND day = '2030-03-03';
  PERFORM pg_temp.check(u.booked_minutes = 0 AND u.peak_seats = 0 AND u.bookings = 0 AND u.open_minutes = 0 AND u.utilization IS NULL,
                        format('VR Headset on Sunday: %s', u));
  SELECT array_agg(DISTINCT resource_id ORDER BY resource_id) INTO v_ids FROM booking.resource_daily_usage;
  PERFORM pg_temp.check(v_ids = ARRAY[vr, space], format('staff see their organization''s resources: %s', v_ids));

  -- A client sees the figures of their own bookings only; an outsider those of their own
  -- organization; anonymous visitors may not read it; service_role sees everything.
  PERFORM pg_temp.act_as('client');
  SELECT array_agg(resource_id) INTO v_ids FROM booking.resource_daily_usage;
  PERFORM pg_temp.check(v_ids = ARRAY[vr], format('a client: %s', v_ids));
  PERFORM pg_temp.check((SELECT bookings FROM booking.resource_daily_usage) = 1, 'a client counts their own booking');
  PERFORM pg_temp.act_as('client2');
  SELECT * INTO u FROM booking.resource_daily_usage WHERE resource_id = space AND day = '2030-03-04';
  PERFORM pg_temp.check(u.bookings = 3 AND u.peak_seats = 7, format('client2 booked all three: %s', u));
  PERFORM pg_temp.act_as('outsider');
  SELECT array_agg(resource_id) INTO v_ids FROM booking.resource_daily_usage;
  PERFORM pg_temp.check(v_ids = ARRAY[room], format('an outsider: %s', v_ids));
  PERFORM pg_temp.act_as('anon');
  PERFORM pg_temp.expect_error('42501', 'SELECT * FROM booking.resource_daily_usage');
  PERFORM pg_temp.act_as('service_role');
  PERFORM pg_temp.check((SELECT count(DISTINCT resource_id) FROM booking.resource_daily_usage) = 3, 'service_role sees all');
  PERFORM pg_temp.act_as('superuser');
END $$;
