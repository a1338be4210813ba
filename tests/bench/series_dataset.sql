-- The series part of the benchmark, loaded into the bench dataset's organization (Paris, open
-- Monday-Saturday 08:00-20:00 by its own rules):
--   * Lab: one resource of capacity 1 holding 10 000 approved half-hour bookings over the two
--     years from Monday 6 January 2031, every open half-hour of Mondays and Wednesdays to
--     Saturdays in turn but every fifth, none on Tuesdays;
--   * the series booked is weekly on Tuesdays 18:00-19:00 Paris for 104 occurrences
--     (tests/bench/series.sql): every occurrence is free, and the two years cross four changes
--     of daylight saving time;
--   * bench.series_undone(sql): runs a query of one value as a signed-in user (as PostgREST
--     runs an RPC), returns the value as text and undoes everything it wrote, so each run
--     starts from the same rows;
--   * bench.series_floor(): the least any way of booking the series can write, undone: the
--     104 rows into a copy of the bookings table (its indexes, checks and the Lab's 10 000 rows;
--     no triggers, no foreign keys) and their 104 audit rows into a copy of the audit log.
SET synchronous_commit = on;

INSERT INTO booking.resources (id, organization_id, title, kind, capacity, slot_interval_minutes, auto_approve)
VALUES ('b0000000-0000-4000-a009-000000000001', 'b0000000-0000-4000-a000-000000000001', 'Lab', 'space', 1, 30, true);

INSERT INTO booking.bookings (organization_id, resource_id, booked_by, starts_at, ends_at, status)
SELECT 'b0000000-0000-4000-a000-000000000001', 'b0000000-0000-4000-a009-000000000001', 'bench',
       (d + make_interval(mins => 480 + 30 * h)) AT TIME ZONE 'Europe/Paris',
       (d + make_interval(mins => 510 + 30 * h)) AT TIME ZONE 'Europe/Paris', 'approved'
FROM (SELECT d, h, row_number() OVER (ORDER BY d, h) AS n
      FROM generate_series(timestamp '2031-01-06', timestamp '2033-01-02', interval '1 day') d, generate_series(0, 23) h
      WHERE extract(isodow FROM d) NOT IN (2, 7)) x
WHERE n % 5 <> 0
ORDER BY d, h
LIMIT 10000;

CREATE FUNCTION bench.series_undone(p_sql text) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
  v_value text;
BEGIN
  BEGIN
    PERFORM set_config('request.jwt.claims', '{"sub":"bench-series","role":"authenticated"}', true);
    SET LOCAL ROLE authenticated;
    EXECUTE p_sql INTO v_value;
    RAISE EXCEPTION 'undo' USING DETAIL = v_value;
  EXCEPTION WHEN raise_exception THEN
    GET STACKED DIAGNOSTICS v_value = PG_EXCEPTION_DETAIL;
  END;
  RETURN v_value;
END $$;

CREATE TABLE bench.series_floor_bookings (LIKE booking.bookings INCLUDING ALL);
DO $$
DECLARE
  v_columns text := (SELECT string_agg(quote_ident(attname), ', ' ORDER BY attnum) FROM pg_attribute
                     WHERE attrelid = 'booking.bookings'::regclass AND attnum > 0 AND NOT attisdropped AND attgenerated = '');
BEGIN
  EXECUTE format('INSERT INTO bench.series_floor_bookings (%s) SELECT %s FROM booking.bookings WHERE resource_id = %L',
                 v_columns, v_columns, 'b0000000-0000-4000-a009-000000000001');
END $$;
CREATE TABLE bench.series_floor_audit (LIKE booking.audit_log INCLUDING ALL);

-- (run through series_undone, as the signed-in user the other sides run as)
GRANT INSERT, SELECT ON bench.series_floor_bookings, bench.series_floor_audit TO authenticated;
CREATE FUNCTION bench.series_floor() RETURNS text
LANGUAGE sql AS $f$
  SELECT bench.series_undone($$
    WITH rows AS (
      INSERT INTO bench.series_floor_bookings (organization_id, resource_id, booked_by, starts_at, ends_at, status, source)
      SELECT 'b0000000-0000-4000-a000-000000000001', 'b0000000-0000-4000-a009-000000000001', 'bench-series',
             l AT TIME ZONE 'Europe/Paris', (l + interval '1 hour') AT TIME ZONE 'Europe/Paris', 'approved', 'api'
      FROM generate_series(timestamp '2031-01-07 18:00', timestamp '2031-01-07 18:00' + interval '103 weeks', interval '1 week') l
      RETURNING *
    ), audited AS (
      INSERT INTO bench.series_floor_audit (organization_id, entity_type, entity_id, action, actor_id, actor_role, new_values)
      SELECT r.organization_id, 'bookings', r.id, 'insert', 'bench-series', 'authenticated', to_jsonb(r) FROM rows r
      RETURNING 1
    )
    SELECT count(*) FROM audited$$)
$f$;

VACUUM ANALYZE;
