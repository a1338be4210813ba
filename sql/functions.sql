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

-- The rule book: what a booking must satisfy when someone who is not the organization's staff
-- makes it hold time (a new request, a resubmission, a move), and what book() checks for every
-- caller. One function: bookings_guard calls it for direct writes to the table, book() for its
-- own. Returns whether the booking is approved on submission (the service's rules auto-confirm,
-- or without service rules the resource auto-approves).
-- Refusals: 42501 for a staff-only service; PT409 with the reason in DETAIL: 'length' (longer
-- than the resource's max_booking_minutes), 'closed', 'notice', 'horizon' (the engine's
-- booking_refusal), 'capacity' for the service's max_concurrent_bookings, and for a new booking
-- (p_booking_id NULL) 'overlap' or 'capacity' of the resource. A booking being changed holds
-- its time already, so its overlap and capacity are the capacity trigger's (23P01).
-- It takes the service's lock, then the resource's (the capacity trigger's), so that writers
-- take turns. Runs as the owner: the caller's right to write the booking is established first.
CREATE FUNCTION booking_internal.enforce_booking_rules(p_organization_id uuid, p_resource_id uuid,
                                                       p_service_id uuid, p_start timestamptz,
                                                       p_end timestamptz, p_seats integer,
                                                       p_booking_id uuid)
RETURNS boolean
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_max_minutes integer;
  v_auto        boolean;
  v_staff_only  boolean := false;
  v_limit       integer;
  v_refusal     text;
  v_peak        bigint;
BEGIN
  -- Nothing of an organization the caller may not book in is read (the guard and book() have
  -- established this already; this keeps the function safe on its own).
  IF NOT (booking_internal.may_book_in(p_organization_id) OR booking_internal.is_privileged()) THEN
    RAISE EXCEPTION 'new row violates row-level security policy for table "bookings"'
      USING ERRCODE = 'insufficient_privilege';
  END IF;
  SELECT r.max_booking_minutes, r.auto_approve INTO v_max_minutes, v_auto
  FROM booking.resources r WHERE r.id = p_resource_id AND r.organization_id = p_organization_id;
  IF NOT FOUND OR NOT coalesce(p_end > p_start AND p_seats >= 1, false) THEN
    RETURN false;  -- the foreign keys and CHECK constraints report these
  END IF;
  IF p_service_id IS NOT NULL THEN
    SELECT sr.staff_only, sr.max_concurrent_bookings, sr.auto_confirm INTO v_staff_only, v_limit, v_auto
    FROM booking.service_rules sr
    WHERE sr.service_id = p_service_id AND sr.organization_id = p_organization_id;
    IF v_staff_only AND NOT booking_internal.has_staff_rights(p_organization_id) THEN
      RAISE EXCEPTION 'only the organization''s staff may book this service'
        USING ERRCODE = 'insufficient_privilege';
    END IF;
  END IF;
  IF p_end - p_start > make_interval(mins => v_max_minutes) THEN
    RAISE EXCEPTION 'That is longer than this resource can be booked at once (% minutes at most).', v_max_minutes
      USING ERRCODE = 'PT409', DETAIL = 'length';
  END IF;

  IF v_limit IS NOT NULL THEN
    PERFORM booking_internal.lock_service_rules(p_service_id);
  END IF;
  PERFORM booking_internal.lock_resource(p_resource_id);
  v_refusal := booking.booking_refusal(p_resource_id, p_start, p_end, p_seats, p_service_id);
  IF v_refusal IN ('overlap', 'capacity') AND p_booking_id IS NOT NULL THEN
    v_refusal := NULL;
  END IF;
  IF v_refusal IS NULL AND v_limit IS NOT NULL THEN
    -- The most bookings of the service held at one instant of the new one: the peak is at the
    -- start of one of them (or of the new one).
    SELECT coalesce(max(n), 0) INTO v_peak
    FROM (SELECT (SELECT count(*) FROM booking.bookings o
                  WHERE o.service_id = p_service_id AND o.organization_id = p_organization_id
                    AND o.status IN ('pending', 'approved') AND o.id IS DISTINCT FROM p_booking_id
                    AND o.during @> greatest(lower(b.during), p_start)) AS n
          FROM booking.bookings b
          WHERE b.service_id = p_service_id AND b.organization_id = p_organization_id
            AND b.status IN ('pending', 'approved') AND b.id IS DISTINCT FROM p_booking_id
            AND b.during && tstzrange(p_start, p_end)) AS at_starts;
    IF v_peak >= v_limit THEN
      RAISE EXCEPTION 'This service is fully booked at that time.'
        USING ERRCODE = 'PT409', DETAIL = 'capacity';
    END IF;
  END IF;
  IF v_refusal IS NOT NULL THEN
    RAISE EXCEPTION '%', booking_internal.refusal_message(v_refusal)
      USING ERRCODE = 'PT409', DETAIL = v_refusal;
  END IF;
  RETURN coalesce(v_auto, false);
END $$;

-- What a person reads when a booking is refused for a reason of the rule book.
CREATE FUNCTION booking_internal.refusal_message(p_reason text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
  SELECT CASE p_reason
    WHEN 'closed'   THEN 'The resource is not open for all of that time.'
    WHEN 'notice'   THEN 'That is too soon: this booking needs more notice.'
    WHEN 'horizon'  THEN 'That is too far ahead to book yet.'
    WHEN 'overlap'  THEN 'That time is already booked.'
    WHEN 'capacity' THEN 'Not enough places are left at that time.'
  END
$$;

-- Book a resource for the signed-in caller: the write twin of can_book_resource. Race-free: the
-- rule book (enforce_booking_rules) takes the resource's lock before asking the engine, so
-- concurrent calls on one resource take turns and each sees the bookings committed before it.
-- A refusal raises SQLSTATE PT409 (PostgREST answers HTTP 409) with a message a person
-- understands and the reason in DETAIL: length, closed, notice, horizon, overlap or capacity.
-- Bad arguments raise 22023; an anonymous caller 42501. Status is approved when the service's
-- rules auto-confirm (or, without service rules, the resource auto-approves), else pending.
-- Service rules: a staff_only service may be booked only by the organization's staff and
-- admins (others get 42501); max_concurrent_bookings caps the time-holding bookings of the
-- service across the organization's resources at any instant (PT409, DETAIL 'capacity').
-- For a caller who is not staff the rule book runs in the bookings trigger, exactly as for an
-- INSERT into the table; for staff, book() runs it itself (the table lets staff book freely).
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
  v_status  text := 'pending';
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
  IF NOT (isfinite(p_start) AND isfinite(p_end) AND p_end > p_start) OR p_seats < 1 THEN
    RAISE EXCEPTION 'the booking must end after it starts, at finite times, with at least one seat'
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF length(p_title) > 200 OR length(p_notes) > 4000 THEN
    RAISE EXCEPTION 'p_title may have at most 200 characters and p_notes 4000'
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  -- Who may book here: members of the organization, anyone signed in for a public one (the
  -- bookings insert policy's rule for bookers). Others learn nothing about the resource.
  SELECT r.organization_id INTO v_org
  FROM booking.resources r
  JOIN booking.organizations o ON o.id = r.organization_id
  WHERE r.id = p_resource_id AND r.is_bookable
    AND (r.organization_id = ANY (booking.user_organization_ids()) OR o.is_public);
  IF NOT FOUND THEN
    RAISE EXCEPTION 'unknown resource %', p_resource_id USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF booking.is_staff(v_org)
     AND booking_internal.enforce_booking_rules(v_org, p_resource_id, p_service_id, p_start, p_end, p_seats, NULL) THEN
    v_status := 'approved';
  END IF;

  BEGIN
    INSERT INTO booking.bookings (organization_id, resource_id, service_id, booked_by, title, client_notes,
                                  starts_at, ends_at, seats, status, source)
    VALUES (v_org, p_resource_id, p_service_id, v_user, p_title, p_notes, p_start, p_end, p_seats,
            v_status, 'api')
    RETURNING * INTO v_row;
  EXCEPTION WHEN exclusion_violation THEN
    -- Only a staff caller's booking gets here: the rule book reports overlap and capacity
    -- of a new booking itself. The capacity trigger names which in its constraint.
    GET STACKED DIAGNOSTICS v_refusal = CONSTRAINT_NAME;
    v_refusal := CASE v_refusal WHEN 'bookings_no_overlap' THEN 'overlap' ELSE 'capacity' END;
    RAISE EXCEPTION '%', booking_internal.refusal_message(v_refusal)
      USING ERRCODE = 'PT409', DETAIL = v_refusal;
  END;
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
  v_constraint text;
BEGIN
  IF p_booking_id IS NULL OR p_status IS NULL THEN
    RAISE EXCEPTION 'p_booking_id and p_status must not be NULL' USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF length(p_reason) > 4000 THEN
    RAISE EXCEPTION 'p_reason is longer than 4000 characters' USING ERRCODE = 'invalid_parameter_value';
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
  v_staff := booking_internal.has_staff_rights(v_old.organization_id);
  IF NOT v_staff THEN
    IF v_old.booked_by IS DISTINCT FROM booking.current_user_id()
       OR NOT booking.transition_allowed(v_old.status, p_status, false) THEN
      RAISE EXCEPTION 'only the organization''s staff can move this booking from % to %', v_old.status, p_status
        USING ERRCODE = 'insufficient_privilege';
    END IF;
  END IF;

  PERFORM set_config('booking.reason', coalesce(p_reason, ''), true);
  BEGIN
    UPDATE booking.bookings SET status = p_status WHERE id = p_booking_id RETURNING * INTO v_row;
  EXCEPTION WHEN exclusion_violation THEN
    PERFORM set_config('booking.reason', '', true);
    GET STACKED DIAGNOSTICS v_constraint = CONSTRAINT_NAME;
    RAISE EXCEPTION 'the booking no longer fits: its time has been taken meanwhile'
      USING ERRCODE = 'PT409',
            DETAIL = CASE v_constraint WHEN 'bookings_no_overlap' THEN 'overlap' ELSE 'capacity' END;
  END;
  PERFORM set_config('booking.reason', '', true);
  IF v_row.id IS NULL THEN
    -- Row-level security let the caller read the booking but not update it.
    RAISE EXCEPTION 'you may not change booking %', p_booking_id USING ERRCODE = 'insufficient_privilege';
  END IF;
  RETURN v_row;
END $$;

