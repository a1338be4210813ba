-- The series part of the benchmark (dataset tests/bench/series_dataset.sql): a weekly series of
-- 104 occurrences on Tuesdays 18:00-19:00 Paris on the Lab and its 10 000 bookings,
--   1. preview_series against the plain-SQL way: a generated series of local times, each
--      converted to instants in the resource's zone and judged by booking_refusal();
--   2. book_series against the plain-SQL way: the same generated series and one book() per
--      occurrence, in one transaction; and the floor under any way (bench.series_floor: the
--      rows and their audit rows written into copies of the tables, nothing else);
-- as a signed-in user, each write undone after it is measured (bench.series_undone, around
-- both sides alike). Medians of 30 calls, inside the server, the two sides taking turns; the
-- run fails unless both sides agree (the same occurrences and refusals; the same bookings).
\set ON_ERROR_STOP on
\pset footer off
\set lab '''b0000000-0000-4000-a009-000000000001'''
SELECT format($$SELECT * FROM booking.preview_series(%s, '2031-01-07 18:00 Europe/Paris', '2031-01-07 19:00 Europe/Paris', 'FREQ=WEEKLY;COUNT=104')$$, :'lab') AS native_preview,
       format($$SELECT (l AT TIME ZONE 'Europe/Paris') AS occurrence_start, ((l + interval '1 hour') AT TIME ZONE 'Europe/Paris') AS occurrence_end,
                       booking.booking_refusal(%s, l AT TIME ZONE 'Europe/Paris', (l + interval '1 hour') AT TIME ZONE 'Europe/Paris')::text AS refusal
                FROM generate_series(timestamp '2031-01-07 18:00', timestamp '2031-01-07 18:00' + interval '103 weeks', interval '1 week') l$$, :'lab') AS plain_preview,
       format($$SELECT jsonb_array_length(booking.book_series(%s, '2031-01-07 18:00 Europe/Paris', '2031-01-07 19:00 Europe/Paris', 'FREQ=WEEKLY;COUNT=104') -> 'bookings')$$, :'lab') AS native_book,
       format($$SELECT count(b.id) FROM generate_series(timestamp '2031-01-07 18:00', timestamp '2031-01-07 18:00' + interval '103 weeks', interval '1 week') l,
                LATERAL booking.book(%s, l AT TIME ZONE 'Europe/Paris', (l + interval '1 hour') AT TIME ZONE 'Europe/Paris') b$$, :'lab') AS plain_book
\gset

SELECT count(*) AS occurrences, count(refusal) AS refused FROM (:native_preview) p;
SELECT bench.same_rows(:'native_preview', :'plain_preview') AS same_preview \gset
-- The same bookings: book_series's occurrences are exactly the plain way's (their times, in one
-- undone run of each).
SELECT bench.series_undone(format($$SELECT string_agg((x ->> 'starts_at')::timestamptz || '/' || (x ->> 'ends_at')::timestamptz || '/' || (x ->> 'status'), ',' ORDER BY (x ->> 'starts_at')::timestamptz)
                                    FROM jsonb_array_elements(booking.book_series(%s, '2031-01-07 18:00 Europe/Paris', '2031-01-07 19:00 Europe/Paris', 'FREQ=WEEKLY;COUNT=104') -> 'bookings') x$$, :'lab'))
       = bench.series_undone(format($$SELECT string_agg(b.starts_at || '/' || b.ends_at || '/' || b.status, ',' ORDER BY b.starts_at)
                                    FROM generate_series(timestamp '2031-01-07 18:00', timestamp '2031-01-07 18:00' + interval '103 weeks', interval '1 week') l,
                                         LATERAL booking.book(%s, l AT TIME ZONE 'Europe/Paris', (l + interval '1 hour') AT TIME ZONE 'Europe/Paris') b$$, :'lab'))
       AS same_bookings \gset
\if :same_preview
\else
  \echo 'preview_series and the plain way disagree: the benchmark fails'
  SELECT 1/0;
\endif
\if :same_bookings
\else
  \echo 'book_series and the plain way booked different occurrences: the benchmark fails'
  SELECT 1/0;
\endif

CREATE TEMP TABLE series_results AS
SELECT t.query_index, (ARRAY['preview_series (native, one pass)', 'plain SQL: generate_series + booking_refusal() each',
                             'book_series (native check, then the inserts)', 'plain SQL: generate_series + book() each',
                             'floor: the rows and their audit rows alone (no rules, triggers or keys)'])[t.query_index] AS variant,
       t.median_ms, t.mean_ms, t.result
FROM bench.time_queries(ARRAY[format('SELECT count(coalesce(refusal, '''')) FROM (%s) p', :'native_preview'), format('SELECT count(coalesce(refusal, '''')) FROM (%s) p', :'plain_preview'),
                              format('SELECT bench.series_undone(%L)::bigint', :'native_book'), format('SELECT bench.series_undone(%L)::bigint', :'plain_book'),
                              'SELECT bench.series_floor()::bigint'], 30) t;
SELECT variant, round(median_ms::numeric, 3) AS median_ms, round(mean_ms::numeric, 3) AS mean_ms, result AS occurrences FROM series_results ORDER BY query_index;
SELECT round(((SELECT median_ms FROM series_results WHERE query_index = 2) / (SELECT median_ms FROM series_results WHERE query_index = 1))::numeric, 1) AS preview_speedup,
       round(((SELECT median_ms FROM series_results WHERE query_index = 4) / (SELECT median_ms FROM series_results WHERE query_index = 3))::numeric, 1) AS book_speedup,
       CASE WHEN (SELECT median_ms FROM series_results WHERE query_index = 3) < 10 THEN 'met' ELSE 'NOT met' END AS "book_series under 10 ms",
       CASE WHEN (SELECT median_ms FROM series_results WHERE query_index = 4) >= 5 * (SELECT median_ms FROM series_results WHERE query_index = 3) THEN 'met' ELSE 'NOT met' END AS "at least 5x the plain way";
