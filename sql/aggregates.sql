-- booking_ext: the reporting aggregates' support functions documented and closed, and the daily
-- usage view built on the aggregates. The aggregates are declared in src/aggregates.rs, next
-- to their support functions.

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

-- What a dashboard shows per resource and local day. Days come from the time-holding bookings:
-- a day appears when a pending or approved booking of the resource touches it (in the
-- resource's time zone, else the organization's); days without one have no row. Bookings are
-- cut at local midnight. Runs as the caller (security_invoker), so row-level security decides
-- which bookings count: staff see their organization's figures, a client those of their own
-- bookings.
CREATE VIEW booking.resource_daily_usage WITH (security_invoker = true) AS
WITH resource_days AS (
  SELECT DISTINCT b.organization_id, b.resource_id, r.capacity, z.time_zone,
         d.day::date AS day
  FROM booking.bookings b
  JOIN booking.resources r ON r.id = b.resource_id
  JOIN booking.organizations o ON o.id = r.organization_id
  CROSS JOIN LATERAL (SELECT coalesce(r.time_zone, o.time_zone) AS time_zone) z
  CROSS JOIN LATERAL generate_series((b.starts_at AT TIME ZONE z.time_zone)::date::timestamp,
                                     ((b.ends_at - interval '1 microsecond') AT TIME ZONE z.time_zone)::date::timestamp,
                                     interval '1 day') AS d(day)
  WHERE b.status IN ('pending', 'approved')
)
SELECT rd.organization_id, rd.resource_id, rd.day, rd.time_zone,
       coalesce(hours.open_minutes, 0) AS open_minutes,
       held.booked_minutes,
       hours.utilization,
       held.peak_seats,
       held.bookings
FROM resource_days rd
CROSS JOIN LATERAL (
  SELECT tstzrange(rd.day::timestamp AT TIME ZONE rd.time_zone, (rd.day + 1)::timestamp AT TIME ZONE rd.time_zone) AS span
) local_day
CROSS JOIN LATERAL (
  SELECT booking.busy_minutes(b.during * local_day.span) AS booked_minutes,
         booking.peak_seats(b.during * local_day.span, b.seats) AS peak_seats,
         count(*) AS bookings
  FROM booking.bookings b
  WHERE b.resource_id = rd.resource_id AND b.status IN ('pending', 'approved') AND b.during && local_day.span
) held
CROSS JOIN LATERAL (
  -- utilisation of the whole day: each open period's, weighted by its length
  SELECT sum(p.minutes) AS open_minutes,
         sum(p.minutes * p.utilization) / nullif(sum(p.minutes), 0) AS utilization
  FROM (
    SELECT extract(epoch FROM op.period_end - op.period_start)::float8 / 60 AS minutes,
           (SELECT booking.utilization(b.during, b.seats, rd.capacity, tstzrange(op.period_start, op.period_end))
            FROM booking.bookings b
            WHERE b.resource_id = rd.resource_id AND b.status IN ('pending', 'approved')
              AND b.during && tstzrange(op.period_start, op.period_end)) AS utilization
    FROM booking.open_periods(rd.organization_id, rd.day, rd.resource_id) op
  ) p
) hours;

COMMENT ON VIEW booking.resource_daily_usage IS 'Per resource and local date (its time zone, else the organization''s) with at least one pending or approved booking: open minutes from its rules and exceptions, booked minutes, utilisation, peak seats and number of bookings. Only pending and approved bookings count. security_invoker: figures cover the bookings the caller may see.';
COMMENT ON COLUMN booking.resource_daily_usage.day IS 'The local date in time_zone.';
COMMENT ON COLUMN booking.resource_daily_usage.open_minutes IS 'Minutes open that day from the weekly rules and exceptions (real elapsed minutes across DST); 0 on a closed day.';
COMMENT ON COLUMN booking.resource_daily_usage.booked_minutes IS 'Minutes of the day during which at least one seat is held (overlapping bookings counted once), open or not.';
COMMENT ON COLUMN booking.resource_daily_usage.utilization IS 'Seat-minutes held inside the open periods divided by capacity x open minutes; NULL on a closed day.';
COMMENT ON COLUMN booking.resource_daily_usage.peak_seats IS 'The most seats held at one instant of the day.';
COMMENT ON COLUMN booking.resource_daily_usage.bookings IS 'The pending and approved bookings touching the day.';

-- The API roles' grants cover every table and view that exists when they run; again now that
-- the view exists.
SELECT booking.grant_api_privileges();
