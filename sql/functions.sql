-- booking_ext: SQL-level functions built on the native ones.

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

-- The total duration of a list of services (seed 004), each id counted as often as it is
-- listed. Inactive services count 0 minutes; an id that is unknown (or not visible to the
-- caller) raises 22023 rather than silently shortening the total. At most 1000 ids.
CREATE FUNCTION booking.calculate_duration_minutes(p_service_ids uuid[]) RETURNS integer
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_unknown uuid;
  v_total   bigint;
BEGIN
  IF p_service_ids IS NULL THEN
    RAISE EXCEPTION 'p_service_ids must not be NULL' USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF cardinality(p_service_ids) > 1000 THEN
    RAISE EXCEPTION 'at most 1000 service ids, got %', cardinality(p_service_ids)
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  SELECT u.id INTO v_unknown FROM unnest(p_service_ids) AS u(id)
  WHERE u.id IS NULL OR NOT EXISTS (SELECT 1 FROM booking.services s WHERE s.id = u.id)
  LIMIT 1;
  IF FOUND THEN
    RAISE EXCEPTION 'unknown service %', coalesce(v_unknown::text, 'NULL') USING ERRCODE = 'invalid_parameter_value';
  END IF;
  SELECT coalesce(sum(s.duration_minutes) FILTER (WHERE s.is_active), 0) INTO v_total
  FROM unnest(p_service_ids) AS u(id) JOIN booking.services s ON s.id = u.id;
  RETURN v_total;
END $$;
