-- The calendars part of the benchmark, in the bench dataset's organization (Paris, open
-- Monday-Saturday 08:00-20:00):
--   1. importing 500 events: booking.import_ics of a 500-event iCalendar file, and
--      booking.upsert_calendar_events of the same 500 events as JSON (each run undone, so each
--      imports into an empty integration); target: the import under 50 ms;
--   2. get_available_slots over 100 days of a resource holding 1 000 external events against
--      the same over a resource holding 1 000 bookings at the same times; target: within 1.3x.
-- Medians of 30 calls inside the server; the run fails unless both resources give the same
-- slots.
\set ON_ERROR_STOP on
\pset footer off
SET synchronous_commit = on;

INSERT INTO booking.resources (id, organization_id, title, kind, capacity, auto_approve) VALUES
  ('b0000000-0000-4000-a00c-000000000001', 'b0000000-0000-4000-a000-000000000001', 'Booked studio', 'space', 1, true),
  ('b0000000-0000-4000-a00c-000000000002', 'b0000000-0000-4000-a000-000000000001', 'Calendar studio', 'space', 1, true);
INSERT INTO booking.calendar_integrations (id, organization_id, provider, calendar_id, time_zone) VALUES
  ('b0000000-0000-4000-a00c-000000000011', 'b0000000-0000-4000-a000-000000000001', 'google', 'studio@example.org', 'Europe/Paris'),
  ('b0000000-0000-4000-a00c-000000000012', 'b0000000-0000-4000-a000-000000000001', 'ics', 'import-bench', 'Europe/Paris');
INSERT INTO booking.calendar_integration_resources (integration_id, resource_id, organization_id) VALUES
  ('b0000000-0000-4000-a00c-000000000011', 'b0000000-0000-4000-a00c-000000000002', 'b0000000-0000-4000-a000-000000000001');

-- 1 000 half-hours from Monday 3 March 2031, every fifth open half-hour: as bookings of the one
-- studio, as external events of the other.
CREATE TEMP TABLE bench_busy AS
SELECT n, (d + make_interval(mins => 480 + 30 * h)) AT TIME ZONE 'Europe/Paris' AS s,
       (d + make_interval(mins => 510 + 30 * h)) AT TIME ZONE 'Europe/Paris' AS e
FROM (SELECT d, h, row_number() OVER (ORDER BY d, h) AS n
      FROM generate_series(timestamp '2031-03-03', timestamp '2031-12-31', interval '1 day') d, generate_series(0, 23) h
      WHERE extract(isodow FROM d) <> 7) x
WHERE n % 5 = 0
ORDER BY n
LIMIT 1000;
INSERT INTO booking.bookings (organization_id, resource_id, booked_by, starts_at, ends_at, status)
SELECT 'b0000000-0000-4000-a000-000000000001', 'b0000000-0000-4000-a00c-000000000001', 'bench', s, e, 'approved' FROM bench_busy;
GRANT SELECT ON bench_busy TO service_role;
SET ROLE service_role;
SELECT booking.upsert_calendar_events('b0000000-0000-4000-a00c-000000000011',
         (SELECT jsonb_agg(jsonb_build_object('external_id', 'ev' || n, 'start', s, 'end', e)) FROM bench_busy WHERE n <= 2500)) IS NOT NULL AS loaded;
SELECT booking.upsert_calendar_events('b0000000-0000-4000-a00c-000000000011',
         (SELECT jsonb_agg(jsonb_build_object('external_id', 'ev' || n, 'start', s, 'end', e)) FROM bench_busy WHERE n > 2500)) IS NOT NULL AS loaded;
RESET ROLE;
ANALYZE booking.bookings, booking.calendar_busy, booking.calendar_events;

-- Runs a query of one value as service_role and undoes what it wrote.
CREATE FUNCTION bench.calendar_undone(p_sql text) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
  v_value text;
BEGIN
  BEGIN
    SET LOCAL ROLE service_role;
    EXECUTE p_sql INTO v_value;
    RAISE EXCEPTION 'undo' USING DETAIL = v_value;
  EXCEPTION WHEN raise_exception THEN
    GET STACKED DIAGNOSTICS v_value = PG_EXCEPTION_DETAIL;
  END;
  RETURN v_value::bigint;
END $$;

-- The 500 events to import (the first 500 half-hours: n counts open half-hours, every fifth
-- is taken), as an iCalendar file and as a delivery.
SELECT E'BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//bench//EN\r\n'
       || string_agg(format(E'BEGIN:VEVENT\r\nUID:imp%s@bench\r\nDTSTAMP:20310101T000000Z\r\nDTSTART;TZID=Europe/Paris:%s\r\nDTEND;TZID=Europe/Paris:%s\r\nSUMMARY:Session %s\r\nEND:VEVENT\r\n',
                            n, to_char(s AT TIME ZONE 'Europe/Paris', 'YYYYMMDD"T"HH24MISS'), to_char(e AT TIME ZONE 'Europe/Paris', 'YYYYMMDD"T"HH24MISS'), n), '' ORDER BY n)
       || E'END:VCALENDAR\r\n' AS ics,
       (SELECT jsonb_agg(jsonb_build_object('external_id', 'imp' || n || '@bench', 'title', 'Session ' || n,
                                            'start', to_char(s AT TIME ZONE 'Europe/Paris', 'YYYY-MM-DD"T"HH24:MI:SS'),
                                            'end', to_char(e AT TIME ZONE 'Europe/Paris', 'YYYY-MM-DD"T"HH24:MI:SS'), 'time_zone', 'Europe/Paris'))
        FROM bench_busy WHERE n <= 2500) AS delivery
FROM bench_busy WHERE n <= 2500
\gset
SELECT count(*) AS events_to_import FROM bench_busy WHERE n <= 2500;

SELECT format($$SELECT * FROM booking.get_available_slots(%L, '2031-03-03 00:00 Europe/Paris', '2031-06-11 00:00 Europe/Paris', 30)$$,
              'b0000000-0000-4000-a00c-000000000001') AS booked_slots,
       format($$SELECT * FROM booking.get_available_slots(%L, '2031-03-03 00:00 Europe/Paris', '2031-06-11 00:00 Europe/Paris', 30)$$,
              'b0000000-0000-4000-a00c-000000000002') AS external_slots
\gset
SELECT bench.same_rows(:'booked_slots', :'external_slots') AS same_slots \gset
\if :same_slots
\else
  \echo 'the studio with external events and the studio with bookings give different slots: the benchmark fails'
  SELECT 1/0;
\endif

CREATE TEMP TABLE calendar_results AS
SELECT t.query_index,
       (ARRAY['import_ics: 500 events (one file)', 'upsert_calendar_events: the same 500 events (JSON)',
              'get_available_slots, 100 days, 1 000 bookings', 'get_available_slots, 100 days, 1 000 external events'])[t.query_index] AS variant,
       t.median_ms, t.mean_ms, t.result
FROM bench.time_queries(ARRAY[format('SELECT bench.calendar_undone(%L)',
                                     format($$SELECT (booking.import_ics('b0000000-0000-4000-a00c-000000000012', %L) ->> 'inserted')::bigint$$, :'ics')),
                              format('SELECT bench.calendar_undone(%L)',
                                     format($$SELECT (booking.upsert_calendar_events('b0000000-0000-4000-a00c-000000000012', %L) ->> 'inserted')::bigint$$, :'delivery')),
                              format('SELECT count(*) FROM (%s) s', :'booked_slots'),
                              format('SELECT count(*) FROM (%s) s', :'external_slots')], 30) t;
SELECT variant, round(median_ms::numeric, 3) AS median_ms, round(mean_ms::numeric, 3) AS mean_ms, result FROM calendar_results ORDER BY query_index;
SELECT CASE WHEN (SELECT median_ms FROM calendar_results WHERE query_index = 1) < 50 THEN 'met' ELSE 'NOT met' END AS "import of 500 events under 50 ms",
       round(((SELECT median_ms FROM calendar_results WHERE query_index = 4) / (SELECT median_ms FROM calendar_results WHERE query_index = 3))::numeric, 2)
         AS external_over_bookings,
       CASE WHEN (SELECT median_ms FROM calendar_results WHERE query_index = 4) <= 1.3 * (SELECT median_ms FROM calendar_results WHERE query_index = 3)
            THEN 'met' ELSE 'NOT met' END AS "external events within 1.3x of bookings";
