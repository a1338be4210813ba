-- booking_ext, module conflicts: finding and resolving what is wrong in existing data (seed 002's conflict log).
-- The integrity triggers keep new writes clean; data imported with triggers or constraints off,
-- hours changed after bookings were made, or a resource moved to another time zone can still
-- leave problems behind. Both functions run as the caller (owners, admins and staff of the
-- organization, or service_role), so row-level security scopes what they read and write.

CREATE TABLE booking.conflicts (
  id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  organization_id uuid NOT NULL REFERENCES booking.organizations (id) ON DELETE CASCADE,
  resource_id     uuid NOT NULL,
  conflict_type   text NOT NULL CHECK (conflict_type IN (
                    'double_booking', 'timezone_mismatch', 'resource_unavailable', 'capacity_exceeded')),
  severity        text NOT NULL DEFAULT 'medium' CHECK (severity IN ('low', 'medium', 'high', 'critical')),
  status          text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'investigating', 'resolved', 'ignored')),
  details         jsonb NOT NULL DEFAULT '{}'::jsonb CONSTRAINT conflicts_details_size CHECK (octet_length(details::text) <= 16384),
  -- What detect_conflicts() found, as a stable key (type, then the rows involved), so that
  -- detecting again records nothing twice. NULL for conflicts recorded by hand.
  fingerprint     text CONSTRAINT conflicts_fingerprint_size CHECK (length(fingerprint) <= 200),
  resolution      text CONSTRAINT conflicts_resolution_size CHECK (length(resolution) <= 4000),
  resolved_by     text CONSTRAINT conflicts_resolved_by_size CHECK (length(resolved_by) <= 200),
  resolved_at     timestamptz,
  created_at      timestamptz NOT NULL DEFAULT now(),
  updated_at      timestamptz NOT NULL DEFAULT now(),
  FOREIGN KEY (resource_id, organization_id)
    REFERENCES booking.resources (id, organization_id) ON DELETE CASCADE
);
CREATE INDEX conflicts_organization_id_idx ON booking.conflicts (organization_id, status);
CREATE INDEX conflicts_resource_id_idx ON booking.conflicts (resource_id, organization_id);
CREATE UNIQUE INDEX conflicts_fingerprint_key ON booking.conflicts (organization_id, fingerprint)
  WHERE fingerprint IS NOT NULL;
SELECT booking_internal.register_table('conflicts', 'conflicts', true, 'conflict');

-- Detect the conflicts of an organization's bookings in [p_from, p_to) (at most 366 days) and
-- record each once: a conflict already recorded (same type and rows, whatever its status now)
-- is not added again, so running this twice adds nothing. Returns every conflict found, new or
-- already recorded. Only bookings that hold time (pending, approved) count. Kinds:
-- * double_booking: two bookings of a capacity-1 resource overlap (one row per pair);
-- * capacity_exceeded: more seats held than the capacity (one row per stretch of time);
-- * resource_unavailable: a booking not wholly inside the resource's opening hours after
--   exceptions (details.cause: 'closed' when a closed exception overlaps it, else 'outside_hours');
-- * timezone_mismatch: the rule is a resource with a time zone of its own, different from its
--   organization's, and no weekly rules of its own: it follows the organization's rules, which
--   were written for the organization's zone, but they are read in the resource's zone (10:00 in
--   New York becomes 10:00 in Lisbon). Give the resource its own rules, or resolve the conflict as
--   'ignored' when local hours are meant.
CREATE FUNCTION booking.detect_conflicts(p_organization_id uuid, p_from timestamptz, p_to timestamptz)
RETURNS SETOF booking.conflicts
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_window tstzrange;
  v_found  text[];
BEGIN
  IF p_organization_id IS NULL OR p_from IS NULL OR p_to IS NULL THEN
    RAISE EXCEPTION 'p_organization_id, p_from and p_to must not be NULL' USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF NOT (isfinite(p_from) AND isfinite(p_to)) OR p_to <= p_from THEN
    RAISE EXCEPTION 'the window [%, %) is empty, reversed or infinite', p_from, p_to USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF p_to - p_from > interval '366 days' THEN
    RAISE EXCEPTION 'the window is longer than 366 days' USING ERRCODE = 'invalid_parameter_value',
      HINT = 'Detect a year at a time.';
  END IF;
  IF NOT booking_internal.is_privileged() THEN
    IF booking.current_user_id() IS NULL THEN
      RAISE EXCEPTION 'detecting conflicts needs a signed-in user' USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF NOT booking.is_staff(p_organization_id) THEN
      RAISE EXCEPTION 'only the organization''s owners, admins and staff can detect its conflicts'
        USING ERRCODE = 'insufficient_privilege';
    END IF;
  ELSIF NOT EXISTS (SELECT 1 FROM booking.organizations WHERE id = p_organization_id) THEN
    RAISE EXCEPTION 'unknown organization %', p_organization_id USING ERRCODE = 'invalid_parameter_value';
  END IF;
  v_window := tstzrange(p_from, p_to);

  WITH holding AS (
    SELECT b.id, b.resource_id, b.during, b.seats, r.capacity, coalesce(r.time_zone, o.time_zone) AS time_zone
    FROM booking.bookings b
    JOIN booking.resources r ON r.id = b.resource_id AND r.conflict_detection_enabled
    JOIN booking.organizations o ON o.id = b.organization_id
    WHERE b.organization_id = p_organization_id AND booking_internal.holds_time(b.status) AND b.during && v_window
  ),
  double_booked AS (
    SELECT a.resource_id, 'double_booking'::text AS conflict_type, 'high'::text AS severity,
           jsonb_build_object('booking_ids', jsonb_build_array(a.id, b.id),
                              'from', greatest(lower(a.during), lower(b.during)),
                              'to', least(upper(a.during), upper(b.during))) AS details,
           format('double_booking:%s:%s', a.id, b.id) AS fingerprint
    FROM holding a JOIN holding b ON b.resource_id = a.resource_id AND a.id < b.id AND a.during && b.during
    WHERE a.capacity = 1
  ),
  -- Seats held over time per resource: +seats at each start, -seats at each end.
  seat_changes AS (
    SELECT h.resource_id, h.capacity, e.at, sum(e.delta) AS delta
    FROM holding h, LATERAL (VALUES (lower(h.during), h.seats), (upper(h.during), -h.seats)) e(at, delta)
    WHERE h.capacity > 1
    GROUP BY h.resource_id, h.capacity, e.at
  ),
  seat_levels AS (
    SELECT s.resource_id, s.capacity, s.at, sum(s.delta) OVER w AS held, lead(s.at) OVER w AS until
    FROM seat_changes s WINDOW w AS (PARTITION BY s.resource_id ORDER BY s.at)
  ),
  overfull AS (
    SELECT l.*, l.at IS DISTINCT FROM lag(l.until) OVER (PARTITION BY l.resource_id ORDER BY l.at) AS starts_stretch
    FROM seat_levels l WHERE l.held > l.capacity
  ),
  overfull_stretches AS (
    SELECT o.resource_id, min(o.capacity) AS capacity, min(o.at) AS from_at, max(o.until) AS to_at, max(o.held) AS peak
    FROM (SELECT v.*, count(*) FILTER (WHERE v.starts_stretch) OVER (PARTITION BY v.resource_id ORDER BY v.at) AS stretch
          FROM overfull v) o
    GROUP BY o.resource_id, o.stretch
  ),
  over_capacity AS (
    SELECT s.resource_id, 'capacity_exceeded'::text, 'high'::text,
           jsonb_build_object('from', s.from_at, 'to', s.to_at, 'peak_seats', s.peak, 'capacity', s.capacity,
                              'booking_ids', (SELECT jsonb_agg(h.id ORDER BY h.id) FROM holding h
                                              WHERE h.resource_id = s.resource_id AND h.during && tstzrange(s.from_at, s.to_at))),
           format('capacity_exceeded:%s:%s:%s', s.resource_id, extract(epoch FROM s.from_at), extract(epoch FROM s.to_at))
    FROM overfull_stretches s
  ),
  unavailable AS (
    SELECT h.resource_id, 'resource_unavailable'::text, 'medium'::text,
           jsonb_build_object('booking_id', h.id, 'starts_at', lower(h.during), 'ends_at', upper(h.during),
                              'cause', CASE WHEN EXISTS (
                                         SELECT 1 FROM booking.availability_exceptions x
                                         WHERE x.organization_id = p_organization_id AND x.kind = 'closed'
                                           AND (x.resource_id IS NULL OR x.resource_id = h.resource_id)
                                           AND x.during && h.during)
                                       THEN 'closed' ELSE 'outside_hours' END),
           format('resource_unavailable:%s', h.id)
    FROM holding h
    WHERE NOT coalesce((
      SELECT range_agg(tstzrange(p.period_start, p.period_end)) @> h.during
      FROM (SELECT (lower(h.during) AT TIME ZONE h.time_zone)::date AS first_day,
                   (upper(h.during) AT TIME ZONE h.time_zone)::date AS last_day) days,
           generate_series(-1, days.last_day - days.first_day) AS k,
           booking.open_periods(p_organization_id, days.first_day + k, h.resource_id) p), false)
  ),
  time_zone_mismatch AS (
    SELECT r.id, 'timezone_mismatch'::text, 'low'::text,
           jsonb_build_object('resource_time_zone', r.time_zone, 'organization_time_zone', o.time_zone,
                              'rule', 'the resource has no weekly rules of its own: the organization''s, written for '
                                      || o.time_zone || ', are read in ' || r.time_zone),
           format('timezone_mismatch:%s:%s:%s', r.id, r.time_zone, o.time_zone)
    FROM booking.resources r JOIN booking.organizations o ON o.id = r.organization_id
    WHERE r.organization_id = p_organization_id AND r.conflict_detection_enabled
      AND r.time_zone IS NOT NULL AND r.time_zone <> o.time_zone
      AND NOT EXISTS (SELECT 1 FROM booking.availability_rules ar WHERE ar.resource_id = r.id)
      AND EXISTS (SELECT 1 FROM booking.availability_rules ar
                  WHERE ar.organization_id = o.id AND ar.resource_id IS NULL)
  ),
  found AS (
    SELECT * FROM double_booked
    UNION ALL SELECT * FROM over_capacity
    UNION ALL SELECT * FROM unavailable
    UNION ALL SELECT * FROM time_zone_mismatch
  ),
  recorded AS (
    INSERT INTO booking.conflicts (organization_id, resource_id, conflict_type, severity, details, fingerprint)
    SELECT p_organization_id, f.resource_id, f.conflict_type, f.severity, f.details, f.fingerprint FROM found f
    ON CONFLICT (organization_id, fingerprint) WHERE fingerprint IS NOT NULL DO NOTHING
    RETURNING 1
  )
  SELECT array_agg(f.fingerprint) INTO v_found FROM found f;

  RETURN QUERY
    SELECT c.* FROM booking.conflicts c
    WHERE c.organization_id = p_organization_id AND c.fingerprint = ANY (v_found)
    ORDER BY c.conflict_type, c.fingerprint;
END $$;

-- Set a conflict's status: 'investigating', 'resolved' or 'ignored' (the last two need a
-- resolution text and record who and when), or 'open' again. Owners, admins and staff of the
-- conflict's organization, or service_role.
CREATE FUNCTION booking.resolve_conflict(p_conflict_id uuid, p_resolution text, p_status text DEFAULT 'resolved')
RETURNS booking.conflicts
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_closed boolean := p_status IN ('resolved', 'ignored');
  v_row    booking.conflicts;
BEGIN
  IF p_conflict_id IS NULL OR p_status IS NULL THEN
    RAISE EXCEPTION 'p_conflict_id and p_status must not be NULL' USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF p_status NOT IN ('open', 'investigating', 'resolved', 'ignored') THEN
    RAISE EXCEPTION 'unknown conflict status "%"', p_status
      USING ERRCODE = 'invalid_parameter_value', HINT = 'Statuses: open, investigating, resolved, ignored.';
  END IF;
  IF v_closed OR p_resolution IS NOT NULL THEN
    PERFORM booking_internal.check_text_argument('p_resolution', p_resolution, 4000);
  END IF;
  IF booking.current_user_id() IS NULL AND NOT booking_internal.is_privileged() THEN
    RAISE EXCEPTION 'resolving conflicts needs a signed-in user' USING ERRCODE = 'insufficient_privilege';
  END IF;
  -- Row-level security shows a conflict to its organization's staff only.
  PERFORM FROM booking.conflicts WHERE id = p_conflict_id;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'unknown conflict %', p_conflict_id USING ERRCODE = 'invalid_parameter_value';
  END IF;
  UPDATE booking.conflicts
  SET status = p_status,
      resolution = coalesce(p_resolution, resolution),
      resolved_by = CASE WHEN v_closed THEN booking_internal.actor_id() END,
      resolved_at = CASE WHEN v_closed THEN now() END
  WHERE id = p_conflict_id
  RETURNING * INTO v_row;
  IF v_row.id IS NULL THEN
    RAISE EXCEPTION 'you may not change conflict %', p_conflict_id USING ERRCODE = 'insufficient_privilege';
  END IF;
  RETURN v_row;
END $$;

CREATE POLICY conflicts_select ON booking.conflicts FOR SELECT
  USING (organization_id = ANY ((SELECT booking.user_organization_ids('{owner,admin,staff}'))::uuid[]));

SELECT booking_internal.create_staff_write_policies('conflicts');

CREATE FUNCTION booking_internal.grant_conflicts_privileges(p_role text) RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  IF p_role <> 'anon' THEN
    PERFORM booking_internal.grant_execute(p_role, ARRAY['detect_conflicts', 'resolve_conflict']);
  END IF;
  IF p_role = 'authenticated' THEN
    GRANT INSERT, UPDATE, DELETE ON booking.conflicts TO authenticated;
  END IF;
END $$;

-- Documentation in the catalog (\d+, \df+ and PostgREST's OpenAPI show it).
COMMENT ON TABLE booking.conflicts IS 'Problems detected in existing data: double booking, time-zone mismatch, unavailable resource, capacity exceeded.';
COMMENT ON FUNCTION booking.detect_conflicts(uuid, timestamptz, timestamptz) IS 'Finds double bookings, seats above capacity, bookings outside opening hours and time-zone mismatches of an organization in a window (at most 366 days) and records each once; returns every conflict found. Staff of the organization or service_role.';
COMMENT ON FUNCTION booking.resolve_conflict(uuid, text, text) IS 'Sets a conflict''s status (resolved and ignored need a resolution and record who and when; investigating; open again). Staff of the organization or service_role.';
COMMENT ON FUNCTION booking_internal.grant_conflicts_privileges(text) IS 'Internal: the conflicts module''s grants to an API role (called by grant_api_privileges).';
