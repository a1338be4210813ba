-- booking_ext, module reporting: the reporting aggregates' support functions documented and
-- closed, and the daily usage view built on the aggregates. The aggregates are declared in
-- mod.rs beside this file, next to their support functions.

-- The support functions take `internal` and serve only their aggregates: documented and
-- closed to PUBLIC here, from the catalog, so that none is forgotten. Calling an aggregate
-- needs EXECUTE on the aggregate only (Postgres checks the support functions against the
-- aggregate's owner), which the tests check as a plain role.
DO $$
DECLARE
  f record;
BEGIN
  FOR f IN
    SELECT step.fn::regprocedure AS fn,
           string_agg(format('the %s of %s', step.role, a.aggfnoid::regproc), '; ' ORDER BY a.aggfnoid::regproc::text, step.n) AS uses
    FROM pg_aggregate a
    CROSS JOIN LATERAL (VALUES (1, a.aggtransfn, 'transition'), (2, a.aggfinalfn, 'final step'),
                               (3, a.aggcombinefn, 'combine step (parallel plans)'),
                               (4, a.aggserialfn, 'serialisation (parallel plans)'),
                               (5, a.aggdeserialfn, 'deserialisation (parallel plans)'),
                               (6, a.aggmtransfn, 'moving transition (window frames)'),
                               (7, a.aggminvtransfn, 'inverse transition (window frames)'),
                               (8, a.aggmfinalfn, 'moving final step (window frames)')) AS step(n, fn, role)
    WHERE a.aggfnoid IN ('booking.peak_seats'::regproc, 'booking.busy_union'::regproc, 'booking.busy_minutes'::regproc,
                         'booking.utilization'::regproc, 'booking.rating_summary'::regproc)
      AND step.fn <> 0
    GROUP BY step.fn
  LOOP
    EXECUTE format('COMMENT ON FUNCTION %s IS %L', f.fn, 'Internal: ' || f.uses || '.');
    EXECUTE format('REVOKE EXECUTE ON FUNCTION %s FROM PUBLIC', f.fn);
  END LOOP;
END $$;

-- What a dashboard shows per resource and local day (the resource's time zone, else the
-- organization's). Each resource has a row for every date from its organization's first
-- time-holding (pending or approved) booking to the end of its own last one, so days without
-- bookings show zeros; both ends are found through indexes, and a filter on the day or the
-- resource applies before anything per day is computed. Bookings are cut at local midnight.
-- Runs as the caller (security_invoker), so row-level security decides which bookings count:
-- staff see their organization's figures, a client those of their own bookings.
CREATE VIEW booking.resource_daily_usage WITH (security_invoker = true) AS
SELECT r.organization_id, r.id AS resource_id, d.day::date AS day, z.time_zone,
       coalesce(hours.open_minutes, 0) AS open_minutes,
       held.booked_minutes,
       hours.utilization,
       held.peak_seats,
       held.bookings
FROM booking.resources r
JOIN booking.organizations o ON o.id = r.organization_id
CROSS JOIN LATERAL (SELECT coalesce(r.time_zone, o.time_zone) AS time_zone) z
CROSS JOIN LATERAL (
  SELECT (SELECT min(b.starts_at) FROM booking.bookings b
          WHERE b.organization_id = r.organization_id AND booking_internal.holds_time(b.status)) AS first_start,
         (SELECT max(b.ends_at) FROM booking.bookings b
          WHERE b.resource_id = r.id AND booking_internal.holds_time(b.status)) AS last_end
) span
CROSS JOIN LATERAL generate_series((span.first_start AT TIME ZONE z.time_zone)::date::timestamp,
                                   ((span.last_end - interval '1 microsecond') AT TIME ZONE z.time_zone)::date::timestamp,
                                   interval '1 day') AS d(day)
CROSS JOIN LATERAL (
  SELECT tstzrange(d.day AT TIME ZONE z.time_zone, (d.day + interval '1 day') AT TIME ZONE z.time_zone) AS span
) local_day
CROSS JOIN LATERAL (
  SELECT booking.busy_minutes(b.during * local_day.span) AS booked_minutes,
         booking.peak_seats(b.during * local_day.span, b.seats) AS peak_seats,
         count(*) AS bookings
  FROM booking.bookings b
  WHERE b.resource_id = r.id AND booking_internal.holds_time(b.status) AND b.during && local_day.span
) held
CROSS JOIN LATERAL (
  -- utilisation of the whole day: each open period's, weighted by its length
  SELECT sum(p.minutes) AS open_minutes,
         sum(p.minutes * p.utilization) / nullif(sum(p.minutes), 0) AS utilization
  FROM (
    SELECT extract(epoch FROM op.period_end - op.period_start)::float8 / 60 AS minutes,
           (SELECT booking.utilization(b.during, b.seats, r.capacity, tstzrange(op.period_start, op.period_end))
            FROM booking.bookings b
            WHERE b.resource_id = r.id AND booking_internal.holds_time(b.status)
              AND b.during && tstzrange(op.period_start, op.period_end)) AS utilization
    FROM booking.open_periods(r.organization_id, d.day::date, r.id) op
  ) p
) hours;

COMMENT ON VIEW booking.resource_daily_usage IS 'Per resource and local date (its time zone, else the organization''s), from the organization''s first pending or approved booking to the end of the resource''s last one: open minutes from its rules and exceptions, booked minutes, utilisation, peak seats and number of bookings. Only pending and approved bookings count. security_invoker: figures cover the bookings the caller may see. Filter by day: the filter applies first.';
COMMENT ON COLUMN booking.resource_daily_usage.day IS 'The local date in time_zone.';
COMMENT ON COLUMN booking.resource_daily_usage.open_minutes IS 'Minutes open that day from the weekly rules and exceptions (real elapsed minutes across DST); 0 on a closed day.';
COMMENT ON COLUMN booking.resource_daily_usage.booked_minutes IS 'Minutes of the day during which at least one seat is held (overlapping bookings counted once), open or not.';
COMMENT ON COLUMN booking.resource_daily_usage.utilization IS 'Seat-minutes held inside the open periods divided by capacity x open minutes; NULL on a closed day.';
COMMENT ON COLUMN booking.resource_daily_usage.peak_seats IS 'The most seats held at one instant of the day.';
COMMENT ON COLUMN booking.resource_daily_usage.bookings IS 'The pending and approved bookings touching the day.';

CREATE FUNCTION booking_internal.grant_reporting_privileges(p_role text) RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  -- the aggregates (their support functions need no grant: Postgres checks those against the
  -- aggregate's owner)
  PERFORM booking_internal.grant_execute(p_role, ARRAY['peak_seats', 'busy_union', 'busy_minutes',
                                                       'utilization', 'rating_summary']);
END $$;

COMMENT ON FUNCTION booking_internal.grant_reporting_privileges(text) IS 'Internal: the reporting module''s grants to an API role (called by grant_api_privileges).';
