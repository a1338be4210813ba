-- booking_ext, module availability: the SQL side of the native slot engine (whose functions are
-- declared in mod.rs beside this file): calculate_business_hours, the functions' documentation,
-- planner settings and grants.

-- A day's business hours as seed 004 shows them, computed by the native engine (exceptions
-- applied, local time of the organization or resource). Minutes are real elapsed minutes: a
-- 00:00-24:00 day is 1380 on a spring-forward date and 1500 on a fall-back date. A day with
-- several breaks gives one row per break (the other columns repeat); a day without a break one
-- row with NULL breaks; a closed day one row with is_open false and 0 minutes.
CREATE FUNCTION booking.calculate_business_hours(p_organization_id uuid, p_date date, p_resource_id uuid DEFAULT NULL)
RETURNS TABLE (day_name text, is_open boolean, start_time time, end_time time,
               break_start time, break_end time, total_working_minutes integer)
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
  WITH p AS (
    SELECT period_start, period_end,
           (period_start AT TIME ZONE time_zone)::time AS local_start,
           CASE WHEN (period_end AT TIME ZONE time_zone)::date > p_date THEN time '24:00'
                ELSE (period_end AT TIME ZONE time_zone)::time END AS local_end,
           row_number() OVER (ORDER BY period_start) AS n
    FROM booking.open_periods(p_organization_id, p_date, p_resource_id)
  ), day AS (
    SELECT count(*) > 0 AS is_open,
           (SELECT local_start FROM p ORDER BY n LIMIT 1) AS first_start,
           (SELECT local_end FROM p ORDER BY n DESC LIMIT 1) AS last_end,
           coalesce(sum(extract(epoch FROM period_end - period_start)) / 60, 0)::integer AS minutes
    FROM p
  ), breaks AS (
    SELECT a.local_end AS break_start, b.local_start AS break_end
    FROM p a JOIN p b ON b.n = a.n + 1
  )
  SELECT btrim(to_char(p_date, 'Day')), day.is_open, day.first_start, day.last_end,
         breaks.break_start, breaks.break_end, day.minutes
  FROM day LEFT JOIN breaks ON true
  ORDER BY breaks.break_start
$$;

-- The native scheduling functions run their few queries through plans kept for the session
-- (SPI_keepplan). A custom plan per call would re-plan them every time, which costs more than
-- the engine's work; their generic plans are as good (index scans keyed by resource and time).
-- Those plans are made once, often while the tables are still small, where a sequential scan
-- looks cheapest; but each query reads a few rows per resource, repeated for every resource of
-- a pool, so index scans are always the right plan: enable_seqscan = off says so. The settings
-- apply inside these functions only, with their search_path.
ALTER FUNCTION booking.get_available_slots(uuid, timestamptz, timestamptz, integer, uuid, integer)
  SET plan_cache_mode = force_generic_plan SET enable_seqscan = off;
ALTER FUNCTION booking.get_available_slots_any(uuid[], timestamptz, timestamptz, integer, uuid, integer)
  SET plan_cache_mode = force_generic_plan SET enable_seqscan = off;
ALTER FUNCTION booking.find_next_slot(uuid[], timestamptz, integer, integer, interval)
  SET plan_cache_mode = force_generic_plan SET enable_seqscan = off;
ALTER FUNCTION booking.can_book_resource(uuid, timestamptz, timestamptz, integer)
  SET plan_cache_mode = force_generic_plan SET enable_seqscan = off;
ALTER FUNCTION booking.booking_refusal(uuid, timestamptz, timestamptz, integer, uuid)
  SET plan_cache_mode = force_generic_plan SET enable_seqscan = off;
ALTER FUNCTION booking.open_periods(uuid, date, uuid)
  SET plan_cache_mode = force_generic_plan SET enable_seqscan = off;

CREATE FUNCTION booking_internal.grant_availability_privileges(p_role text) RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  -- read-only, visibility checked inside: anyone may ask
  PERFORM booking_internal.grant_execute(p_role, ARRAY['get_available_slots', 'get_available_slots_any',
                                                       'find_next_slot', 'can_book_resource', 'booking_refusal',
                                                       'open_periods', 'calculate_business_hours']);
END $$;

-- Documentation in the catalog (\d+, \df+ and PostgREST's OpenAPI show it).
COMMENT ON FUNCTION booking.get_available_slots(uuid, timestamptz, timestamptz, integer, uuid, integer) IS 'The free slots (slot_start, slot_end) of a resource in a window for a booking of p_duration_minutes and p_seats: weekly rules in local time, exceptions, buffers, slot grid, notice and horizon (service rules win), capacity. Reveals no booker.';
COMMENT ON FUNCTION booking.can_book_resource(uuid, timestamptz, timestamptz, integer) IS 'True exactly when a booking of that interval and seats would be accepted now: hours, exceptions, buffers, notice, horizon and capacity (same engine as get_available_slots).';
COMMENT ON FUNCTION booking.get_available_slots_any(uuid[], timestamptz, timestamptz, integer, uuid, integer) IS 'The slots in which at least one of the resources is free, with the free ones (resource_ids, in the order asked): get_available_slots over a pool of at most 100 resources.';
COMMENT ON FUNCTION booking.find_next_slot(uuid[], timestamptz, integer, integer, interval) IS 'The earliest free slot (slot_start, slot_end, resource_id) among the resources within p_within (at most 366 days) after p_after; no row when there is none. Searches a day, a week, then 30 days at a time.';
COMMENT ON FUNCTION booking.open_periods(uuid, date, uuid) IS 'The open periods of one local day of an organization (or one of its resources) as instants, with the time zone used.';
COMMENT ON FUNCTION booking.calculate_business_hours(uuid, date, uuid) IS 'A day''s hours (seed 004 shape) after exceptions; one row per break; real elapsed minutes across DST.';
COMMENT ON FUNCTION booking.booking_refusal(uuid, timestamptz, timestamptz, integer, uuid) IS 'Why book() would refuse this booking now (closed, notice, horizon, overlap, capacity), or NULL when it would accept it.';
COMMENT ON FUNCTION booking_internal.grant_availability_privileges(text) IS 'Internal: the availability module''s grants to an API role (called by grant_api_privileges).';
