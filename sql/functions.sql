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

-- Book a resource for the signed-in caller: the write twin of can_book_resource. Race-free: it
-- takes the resource's lock (lock_resource, as the capacity trigger does) before asking the
-- engine, so concurrent calls on one resource take turns and each sees the bookings committed
-- before it. A refusal raises SQLSTATE PT409 (PostgREST answers HTTP 409) with a message a
-- person understands and the reason in DETAIL: closed, notice, horizon, overlap or capacity.
-- Bad arguments raise 22023; an anonymous caller 42501. Status is approved when the service's
-- rules auto-confirm (or, without service rules, the resource auto-approves), else pending.
-- Service rules: a staff_only service may be booked only by the organization's staff and
-- admins (others get 42501); max_concurrent_bookings caps the time-holding bookings of the
-- service across the organization's resources at any instant (PT409, DETAIL 'capacity'), with
-- the service's lock taken before the resource's so that its bookers take turns.
-- The audit row and the outbox event are written by triggers in the same transaction.
CREATE FUNCTION booking.book(p_resource_id uuid, p_start timestamptz, p_end timestamptz,
                             p_seats integer DEFAULT 1, p_service_id uuid DEFAULT NULL,
                             p_title text DEFAULT NULL, p_notes text DEFAULT NULL)
RETURNS booking.bookings
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_user    text := booking.current_user_id();
  v_org     uuid;
  v_auto    boolean;
  v_staff_only boolean;
  v_limit   integer;
  v_peak    bigint;
  v_refusal text;
  v_row     booking.bookings;
BEGIN
  IF v_user IS NULL THEN
    RAISE EXCEPTION 'book() books for the signed-in user, and there is none'
      USING ERRCODE = 'insufficient_privilege', HINT = 'Call it with a user''s JWT.';
  END IF;
  IF p_resource_id IS NULL OR p_start IS NULL OR p_end IS NULL OR p_seats IS NULL THEN
    RAISE EXCEPTION 'p_resource_id, p_start, p_end and p_seats must not be NULL'
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  -- Who may book here: members of the organization, anyone signed in for a public one (the
  -- bookings insert policy's rule for bookers). Others learn nothing about the resource.
  SELECT r.organization_id,
         coalesce(CASE WHEN p_service_id IS NOT NULL THEN sr.auto_confirm END, r.auto_approve),
         coalesce(sr.staff_only, false), sr.max_concurrent_bookings
    INTO v_org, v_auto, v_staff_only, v_limit
  FROM booking.resources r
  JOIN booking.organizations o ON o.id = r.organization_id
  LEFT JOIN booking.service_rules sr ON sr.service_id = p_service_id AND sr.organization_id = r.organization_id
  WHERE r.id = p_resource_id AND r.is_bookable
    AND (r.organization_id = ANY (booking.user_organization_ids()) OR o.is_public);
  IF NOT FOUND THEN
    RAISE EXCEPTION 'unknown resource %', p_resource_id USING ERRCODE = 'invalid_parameter_value';
  END IF;

  IF v_staff_only AND NOT booking.is_staff(v_org) THEN
    RAISE EXCEPTION 'only the organization''s staff may book this service'
      USING ERRCODE = 'insufficient_privilege';
  END IF;

  IF v_limit IS NOT NULL THEN
    PERFORM booking_internal.lock_service_rules(p_service_id);
  END IF;
  PERFORM booking_internal.lock_resource(p_resource_id);
  v_refusal := booking.booking_refusal(p_resource_id, p_start, p_end, p_seats, p_service_id);
  IF v_refusal IS NULL AND v_limit IS NOT NULL THEN
    -- The most bookings of the service held at one instant of the new one: the peak is at the
    -- start of one of them (or of the new one).
    SELECT coalesce(max(n), 0) INTO v_peak
    FROM (SELECT (SELECT count(*) FROM booking.bookings o
                  WHERE o.service_id = p_service_id AND o.organization_id = v_org
                    AND o.status IN ('pending', 'approved')
                    AND o.during @> greatest(lower(b.during), p_start)) AS n
          FROM booking.bookings b
          WHERE b.service_id = p_service_id AND b.organization_id = v_org
            AND b.status IN ('pending', 'approved') AND b.during && tstzrange(p_start, p_end)) AS at_starts;
    IF v_peak >= v_limit THEN
      RAISE EXCEPTION 'This service is fully booked at that time.'
        USING ERRCODE = 'PT409', DETAIL = 'capacity';
    END IF;
  END IF;
  IF v_refusal IS NOT NULL THEN
    RAISE EXCEPTION '%', CASE v_refusal
        WHEN 'closed'   THEN 'The resource is not open for all of that time.'
        WHEN 'notice'   THEN 'That is too soon: this booking needs more notice.'
        WHEN 'horizon'  THEN 'That is too far ahead to book yet.'
        WHEN 'overlap'  THEN 'That time is already booked.'
        WHEN 'capacity' THEN 'Not enough places are left at that time.'
      END
      USING ERRCODE = 'PT409', DETAIL = v_refusal;
  END IF;

  INSERT INTO booking.bookings (organization_id, resource_id, service_id, booked_by, title, client_notes,
                                starts_at, ends_at, seats, status, source)
  VALUES (v_org, p_resource_id, p_service_id, v_user, p_title, p_notes, p_start, p_end, p_seats,
          CASE WHEN v_auto THEN 'approved' ELSE 'pending' END, 'api')
  RETURNING * INTO v_row;
  RETURN v_row;
END $$;


-- Move a booking along the legal transitions: the one RPC for status changes. It runs as the
-- caller, so row-level security decides which bookings they may touch and the bookings_guard
-- trigger which changes (the status table in the README); this function turns their refusals
-- into the API's errors and records the reason. Who may do what: the person who booked may
-- submit a draft, resubmit after changes were requested, and cancel a draft, pending or approved
-- booking until it starts (after that, ask staff); the organization's owners, admins and staff
-- may make every legal change. Errors: 22023 for a NULL argument, an unknown status, or a
-- booking that does not exist or that the caller may not see; 42501 for an anonymous caller or
-- a change the caller may not make; PT409 (HTTP 409) for a change the status table does not
-- allow from the current status, and for a booking that would no longer fit when it comes back
-- to a status that holds time (DETAIL overlap or capacity). The transition row, audit entry,
-- notifications and outbox event are written by triggers in the same transaction, so a refusal
-- leaves none of them.
CREATE FUNCTION booking.set_booking_status(p_booking_id uuid, p_status text, p_reason text DEFAULT NULL)
RETURNS booking.bookings
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_old   booking.bookings;
  v_row   booking.bookings;
  v_staff boolean;
BEGIN
  IF p_booking_id IS NULL OR p_status IS NULL THEN
    RAISE EXCEPTION 'p_booking_id and p_status must not be NULL' USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF NOT (p_status = ANY (booking.booking_statuses())) THEN
    RAISE EXCEPTION 'unknown booking status "%"', p_status
      USING ERRCODE = 'invalid_parameter_value',
            HINT = 'Known statuses: ' || array_to_string(booking.booking_statuses(), ', ');
  END IF;
  IF booking.current_user_id() IS NULL AND NOT booking_internal.is_privileged() THEN
    RAISE EXCEPTION 'changing a booking''s status needs a signed-in user' USING ERRCODE = 'insufficient_privilege';
  END IF;
  SELECT * INTO v_old FROM booking.bookings WHERE id = p_booking_id;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'unknown booking %', p_booking_id USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF NOT booking.transition_allowed(v_old.status, p_status, true) THEN
    RAISE EXCEPTION 'a % booking cannot become %', v_old.status, p_status
      USING ERRCODE = 'PT409', DETAIL = 'transition',
            HINT = coalesce('From ' || v_old.status || ' it can go to: ' ||
                            (SELECT string_agg(to_status, ', ' ORDER BY to_status)
                             FROM booking.status_transitions() WHERE from_status = v_old.status),
                            v_old.status || ' is final.');
  END IF;
  v_staff := booking_internal.is_privileged() OR booking.is_staff(v_old.organization_id);
  IF NOT v_staff THEN
    IF v_old.booked_by IS DISTINCT FROM booking.current_user_id()
       OR NOT booking.transition_allowed(v_old.status, p_status, false) THEN
      RAISE EXCEPTION 'only the organization''s staff can move this booking from % to %', v_old.status, p_status
        USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF p_status = 'cancelled' AND v_old.starts_at <= now() THEN
      RAISE EXCEPTION 'a booking that has started can only be cancelled by the organization''s staff'
        USING ERRCODE = 'insufficient_privilege';
    END IF;
  END IF;

  PERFORM set_config('booking.reason', coalesce(p_reason, ''), true);
  BEGIN
    UPDATE booking.bookings SET status = p_status WHERE id = p_booking_id RETURNING * INTO v_row;
  EXCEPTION WHEN exclusion_violation THEN
    PERFORM set_config('booking.reason', '', true);
    RAISE EXCEPTION 'the booking no longer fits: its time has been taken meanwhile'
      USING ERRCODE = 'PT409',
            DETAIL = CASE WHEN (SELECT capacity FROM booking.resources WHERE id = v_old.resource_id) = 1
                          THEN 'overlap' ELSE 'capacity' END;
  END;
  PERFORM set_config('booking.reason', '', true);
  IF v_row.id IS NULL THEN
    -- Row-level security let the caller read the booking but not update it.
    RAISE EXCEPTION 'you may not change booking %', p_booking_id USING ERRCODE = 'insufficient_privilege';
  END IF;
  RETURN v_row;
END $$;

