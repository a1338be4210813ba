-- booking_ext, module series: recurring bookings (issue 19). A series holds a pattern (a subset
-- of RFC 5545's RRULE, canonicalised by the core, with the seed's fields beside it), the local
-- time of day and duration of its occurrences, the resource's time zone and the skipped dates;
-- each occurrence is an ordinary booking (bookings.series_id), written through the bookings
-- table so that the rule book and every trigger of a booking apply to it.
--
-- Limits (the core's, refused with 22023 and its message): at most 730 occurrences, all within
-- 1096 local days of the first; INTERVAL 1 to 99; a duration of at most the slot engine's longest
-- booking; COUNT or UNTIL required. See docs/series.md.

CREATE TABLE booking.booking_series (
  id               uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  organization_id  uuid NOT NULL REFERENCES booking.organizations (id) ON DELETE CASCADE,
  resource_id      uuid NOT NULL,
  service_id       uuid,
  booked_by        text NOT NULL DEFAULT booking.current_user_id()
                   CONSTRAINT booking_series_booked_by_size CHECK (length(booked_by) BETWEEN 1 AND 200),
  title            text CONSTRAINT booking_series_title_size CHECK (length(title) <= 200),
  -- the pattern as the core writes it back, and the seed's fields it was read into
  rrule            text NOT NULL CONSTRAINT booking_series_rrule_size CHECK (length(rrule) <= 1000),
  frequency        text NOT NULL CHECK (frequency IN ('daily', 'weekly', 'monthly')),
  "interval"       integer NOT NULL DEFAULT 1 CHECK ("interval" BETWEEN 1 AND 99),
  week_days        integer[] NOT NULL DEFAULT '{}',
  month_days       integer[] NOT NULL DEFAULT '{}',
  end_date         date,
  end_after        integer CHECK (end_after BETWEEN 1 AND 730),
  -- the first occurrence's local date and time of day, in time_zone; each lasts duration
  first_date       date NOT NULL,
  local_start      time NOT NULL,
  duration         interval NOT NULL CHECK (duration > interval '0'),
  time_zone        text NOT NULL,
  seats            integer NOT NULL DEFAULT 1 CHECK (seats >= 1),
  -- skipped local dates (RFC 5545's EXDATE): cancelled or refused occurrences
  exceptions       date[] NOT NULL DEFAULT '{}',
  -- the series this one continues (update_series_from splits a series)
  split_from       uuid,
  is_cancelled     boolean NOT NULL DEFAULT false,
  created_at       timestamptz NOT NULL DEFAULT now(),
  updated_at       timestamptz NOT NULL DEFAULT now(),
  UNIQUE (id, organization_id),
  CONSTRAINT booking_series_resource_same_organization FOREIGN KEY (resource_id, organization_id)
    REFERENCES booking.resources (id, organization_id),
  CONSTRAINT booking_series_service_same_organization FOREIGN KEY (service_id, organization_id)
    REFERENCES booking.services (id, organization_id)
);
CREATE INDEX booking_series_organization_id_idx ON booking.booking_series (organization_id);
CREATE INDEX booking_series_resource_id_idx ON booking.booking_series (resource_id, organization_id);
CREATE INDEX booking_series_service_id_idx ON booking.booking_series (service_id, organization_id) WHERE service_id IS NOT NULL;
CREATE INDEX booking_series_booked_by_idx ON booking.booking_series (booked_by, organization_id);
SELECT booking_internal.register_table('booking_series', 'series', true, 'booking_series');

-- The occurrences of a series are its bookings. Added here, by the series module, so that a
-- fresh install and an upgrade put the column in the same place. Deleting a series keeps its
-- bookings, detached.
ALTER TABLE booking.bookings ADD COLUMN series_id uuid;
-- The occurrence's own date in its series (local), kept when the booking is moved, so that
-- cancelling a moved occurrence skips the series' date and restoring brings that date back.
ALTER TABLE booking.bookings ADD COLUMN series_date date;
ALTER TABLE booking.bookings ADD CONSTRAINT bookings_series_same_organization FOREIGN KEY (series_id, organization_id)
  REFERENCES booking.booking_series (id, organization_id) ON DELETE SET NULL (series_id);
CREATE INDEX bookings_series_id_idx ON booking.bookings (series_id, organization_id);

-- A booking names a series only as one of its occurrences: the series' own person and resource
-- (a writer cannot attach their booking to someone else's series, or to a cancelled one).
-- Judged by the rule, whoever writes.
CREATE FUNCTION booking_internal.bookings_series_guard() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  IF booking_internal.is_bulk_load() THEN
    RETURN NEW;
  END IF;
  IF NOT EXISTS (SELECT 1 FROM booking.booking_series s
                 WHERE s.id = NEW.series_id AND s.organization_id = NEW.organization_id
                   AND s.booked_by = NEW.booked_by AND s.resource_id = NEW.resource_id AND NOT s.is_cancelled) THEN
    RAISE EXCEPTION 'a booking can name only a series of its own person and resource that is not cancelled'
      USING ERRCODE = 'check_violation', CONSTRAINT = 'bookings_series_occurrence';
  END IF;
  RETURN NEW;
END $$;
-- (Not for an occurrence create_series judged and inserts into the series it just made.)
CREATE TRIGGER bookings_1_series BEFORE INSERT OR UPDATE OF series_id, booked_by, resource_id ON booking.bookings
  FOR EACH ROW WHEN (NEW.series_id IS NOT NULL AND NOT booking_internal.is_judged_booking(NEW.id, NEW.resource_id, NEW.seats, NEW.status, NEW.starts_at, NEW.ends_at))
  EXECUTE FUNCTION booking_internal.bookings_series_guard();

-- booking_series: the booker sees their own, staff their organization's. Rows are written by
-- the RPCs below (running as the owner); only service_role writes the table directly.
CREATE POLICY booking_series_select ON booking.booking_series FOR SELECT
  USING (booked_by = (SELECT booking.current_user_id())
         OR organization_id = ANY ((SELECT booking.user_organization_ids('{owner,admin,staff}'))::uuid[]));
CREATE POLICY booking_series_insert ON booking.booking_series FOR INSERT
  WITH CHECK (organization_id = ANY ((SELECT booking.user_organization_ids('{owner,admin,staff}'))::uuid[])
              OR booking_internal.booker_may_insert(organization_id, booked_by));
CREATE POLICY booking_series_update ON booking.booking_series FOR UPDATE
  USING (booked_by = (SELECT booking.current_user_id())
         OR organization_id = ANY ((SELECT booking.user_organization_ids('{owner,admin,staff}'))::uuid[]))
  WITH CHECK (booked_by = (SELECT booking.current_user_id())
              OR organization_id = ANY ((SELECT booking.user_organization_ids('{owner,admin,staff}'))::uuid[]));
CREATE POLICY booking_series_delete ON booking.booking_series FOR DELETE
  USING (organization_id = ANY ((SELECT booking.user_organization_ids('{owner,admin,staff}'))::uuid[]));

-- ---------------------------------------------------------------------------------------------
-- Booking the occurrences
-- ---------------------------------------------------------------------------------------------

-- One occurrence, booked as book() books: staff (and the resource's professional) get the rule
-- book here (the table lets them book freely), everyone else in the bookings trigger; PT409 with
-- the reason in DETAIL. (create_series's way when it cannot judge the series as a whole.)
-- Called by the series RPCs (running as the owner), after they established the caller's right.
CREATE FUNCTION booking_internal.book_occurrence(p_series booking.booking_series, p_local_date date, p_start timestamptz,
                                                 p_end timestamptz)
RETURNS booking.bookings
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_status  text := 'pending';
  v_refusal text;
  v_row     booking.bookings;
BEGIN
  IF booking_internal.manages_bookings(p_series.organization_id, p_series.resource_id)
     AND booking_internal.enforce_booking_rules(p_series.organization_id, p_series.resource_id, p_series.service_id,
                                                p_start, p_end, p_series.seats, NULL) THEN
    v_status := 'approved';
  END IF;
  BEGIN
    INSERT INTO booking.bookings (organization_id, resource_id, service_id, booked_by, title,
                                  starts_at, ends_at, seats, status, source, series_id, series_date)
    VALUES (p_series.organization_id, p_series.resource_id, p_series.service_id, p_series.booked_by, p_series.title,
            p_start, p_end, p_series.seats, v_status, 'api', p_series.id, p_local_date)
    RETURNING * INTO v_row;
  EXCEPTION WHEN exclusion_violation THEN
    GET STACKED DIAGNOSTICS v_refusal = CONSTRAINT_NAME;
    v_refusal := booking_internal.exclusion_refusal(v_refusal);
    RAISE EXCEPTION '%', booking_internal.refusal_message(v_refusal)
      USING ERRCODE = 'PT409', DETAIL = v_refusal;
  END;
  RETURN v_row;
END $$;

-- Judges every occurrence of a new series at once, under the locks create_series took, by the
-- rule book book() applies (the bookings trigger's for a booker, book()'s own for staff): the
-- new-client rule and the terms that do not depend on time once (booking_rule_terms: a PT409
-- there refuses every occurrence alike), the availability engine over the whole series
-- (preview_series: booking_refusal's reasons, each occurrence against the resource's bookings).
-- Then books the accepted occurrences with one INSERT, recorded beforehand as judged
-- (src/bookings/judged.rs) so that the bookings triggers do not judge each row again; audit,
-- outbox, calendars and events follow from the INSERT's triggers as for any booking.
-- Returns {"bookings": [...], "refused": [...], "occurrences": n} (nothing is inserted when an
-- occurrence is refused and p_skip_conflicts is false, or when every one is), or NULL when the
-- series cannot be judged as a whole and create_series books it occurrence by occurrence:
-- a service with a concurrency limit (its count spans resources), occurrences closer to each
-- other than the resource's buffers (each would count against the next), someone booking for
-- another person (the guard's member check), or rules that do not apply (an unknown resource:
-- the triggers report it).
CREATE FUNCTION booking_internal.book_series_at_once(p_series booking.booking_series, p_start timestamptz,
                                                     p_end timestamptz, p_skip_conflicts boolean)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_terms    record;
  v_reason   text;
  v_buffers  interval;
  v_workflow uuid;
  v_unsure   boolean;
  v_refused  jsonb;
  v_ids      uuid[];
  v_starts   timestamptz[];
  v_ends     timestamptz[];
  v_dates    date[];
  v_status   text;
  v_approved_by text;
  v_booked   jsonb;
BEGIN
  IF p_series.booked_by IS DISTINCT FROM booking.current_user_id() THEN
    RETURN NULL;
  END IF;
  SELECT make_interval(mins => r.buffer_before_minutes + r.buffer_after_minutes), r.approval_workflow_id
  INTO v_buffers, v_workflow
  FROM booking.resources r
  WHERE r.id = p_series.resource_id AND r.organization_id = p_series.organization_id AND r.is_bookable;
  IF NOT FOUND THEN
    RETURN NULL;
  END IF;
  BEGIN
    IF NOT booking_internal.manages_bookings(p_series.organization_id, p_series.resource_id) THEN
      PERFORM booking_internal.check_professional_takes_client(p_series.resource_id, p_series.booked_by, NULL, NULL);
    END IF;
    SELECT * INTO v_terms
    FROM booking_internal.booking_rule_terms(p_series.organization_id, p_series.resource_id, p_series.service_id,
                                             p_start, p_end, p_series.seats);
    IF NOT v_terms.applies OR v_terms.service_limit IS NOT NULL THEN
      RETURN NULL;
    END IF;
  EXCEPTION WHEN SQLSTATE 'PT409' THEN
    GET STACKED DIAGNOSTICS v_reason = PG_EXCEPTION_DETAIL;
  END;

  SELECT jsonb_agg(jsonb_build_object('local_date', o.local_date, 'starts_at', o.occurrence_start,
                                      'ends_at', o.occurrence_end, 'reason', o.reason)
                   ORDER BY o.occurrence_start) FILTER (WHERE o.reason IS NOT NULL),
         -- (one aggregation: the four arrays take the rows in the same order, whatever it is)
         array_agg(gen_random_uuid()) FILTER (WHERE o.reason IS NULL),
         array_agg(o.occurrence_start) FILTER (WHERE o.reason IS NULL),
         array_agg(o.occurrence_end) FILTER (WHERE o.reason IS NULL),
         array_agg(o.local_date) FILTER (WHERE o.reason IS NULL),
         bool_or(o.too_close OR NOT o.judged)
  INTO v_refused, v_ids, v_starts, v_ends, v_dates, v_unsure
  FROM (SELECT e.local_date, e.occurrence_start, e.occurrence_end, coalesce(v_reason, p.refusal) AS reason,
               p.occurrence_end IS NOT DISTINCT FROM e.occurrence_end AS judged,
               lag(e.occurrence_end) OVER (ORDER BY e.occurrence_start) + v_buffers > e.occurrence_start AS too_close
        FROM booking_internal.expand_series(p_series.rrule, (p_start AT TIME ZONE p_series.time_zone), p_end - p_start,
                                            p_series.time_zone) e
        LEFT JOIN booking.preview_series(p_series.resource_id, p_start, p_end, p_series.rrule, p_series.seats,
                                         p_series.service_id) p
          ON p.occurrence_start = e.occurrence_start) o;
  -- (an occurrence the engine did not judge, say in another time zone than the series': the
  -- occurrence by occurrence way judges it)
  IF v_unsure THEN
    RETURN NULL;
  END IF;
  v_refused := coalesce(v_refused, '[]'::jsonb);
  IF v_ids IS NULL OR (jsonb_array_length(v_refused) > 0 AND NOT p_skip_conflicts) THEN
    RETURN jsonb_build_object('bookings', '[]'::jsonb, 'refused', v_refused,
                              'occurrences', jsonb_array_length(v_refused) + coalesce(cardinality(v_ids), 0));
  END IF;

  v_status := CASE WHEN v_terms.auto_approve THEN 'approved' ELSE 'pending' END;
  IF v_status = 'approved' THEN
    v_approved_by := booking_internal.actor_id();  -- as the bookings guard approves
  END IF;
  PERFORM booking_internal.remember_judged_bookings(p_series.resource_id, p_series.seats, v_status, v_ids, v_starts, v_ends);
  WITH inserted AS (
    INSERT INTO booking.bookings (id, organization_id, resource_id, service_id, booked_by, title, starts_at, ends_at,
                                  seats, status, source, series_id, series_date, approved_by, approved_at,
                                  approval_workflow_id, auto_approved)
    SELECT o.id, p_series.organization_id, p_series.resource_id, p_series.service_id, p_series.booked_by, p_series.title,
           o.starts_at, o.ends_at, p_series.seats, v_status, 'api', p_series.id, o.local_date,
           v_approved_by, CASE WHEN v_status = 'approved' THEN now() END,
           -- what bookings_approval_fields derives for any other booking (it trusts these rows)
           v_workflow, v_status = 'approved'
    FROM unnest(v_ids, v_starts, v_ends, v_dates) AS o (id, starts_at, ends_at, local_date)
    RETURNING id, starts_at, ends_at, status
  )
  SELECT jsonb_agg(jsonb_build_object('id', id, 'starts_at', starts_at, 'ends_at', ends_at, 'status', status)
                   ORDER BY starts_at)
  INTO v_booked FROM inserted;
  RETURN jsonb_build_object('bookings', v_booked, 'refused', v_refused,
                            'occurrences', jsonb_array_length(v_refused) + cardinality(v_ids));
END $$;

-- Creates a series for p_booked_by and books its occurrences: all at once when it can
-- (book_series_at_once), else each in a subtransaction so that every refusal is known. Without
-- p_skip_conflicts any refusal raises PT409 with all of them in DETAIL (a JSON array of
-- {local_date, starts_at, ends_at, reason}) and nothing stays written; with it the refused dates
-- become the series' exceptions. Returns {"series": ..., "bookings": [...], "skipped": [...]}.
-- The resource's lock is taken first, so concurrent series of one resource take turns.
CREATE FUNCTION booking_internal.create_series(p_booked_by text, p_organization_id uuid, p_resource_id uuid,
                                               p_time_zone text, p_start timestamptz, p_end timestamptz,
                                               p_rrule text, p_title text, p_seats integer, p_service_id uuid,
                                               p_skip_conflicts boolean, p_split_from uuid)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_pattern  record;
  v_series   booking.booking_series;
  v_occ      record;
  v_row      booking.bookings;
  v_detail   text;
  v_at_once  jsonb;
  v_total    integer := 0;
  v_booked   jsonb := '[]'::jsonb;
  v_refused  jsonb := '[]'::jsonb;
  v_skipped  date[];
  v_local    timestamp := p_start AT TIME ZONE p_time_zone;
BEGIN
  SELECT * INTO v_pattern FROM booking_internal.series_pattern(p_rrule);
  -- the rule book's lock order: the service's rules, then the resource
  IF p_service_id IS NOT NULL THEN
    PERFORM booking_internal.lock_service_rules(p_service_id);
  END IF;
  PERFORM booking_internal.lock_resource(p_resource_id);
  INSERT INTO booking.booking_series (organization_id, resource_id, service_id, booked_by, title, rrule, frequency,
                                      "interval", week_days, month_days, end_date, end_after, first_date,
                                      local_start, duration, time_zone, seats, split_from)
  VALUES (p_organization_id, p_resource_id, p_service_id, p_booked_by, p_title, v_pattern.rrule, v_pattern.frequency,
          v_pattern.interval, v_pattern.week_days, v_pattern.month_days, v_pattern.end_date, v_pattern.end_after,
          v_local::date, v_local::time, p_end - p_start, p_time_zone, p_seats, p_split_from)
  RETURNING * INTO v_series;
  v_at_once := booking_internal.book_series_at_once(v_series, p_start, p_end, p_skip_conflicts);
  IF v_at_once IS NOT NULL THEN
    v_booked := v_at_once -> 'bookings';
    v_refused := v_at_once -> 'refused';
    v_total := (v_at_once ->> 'occurrences')::integer;
  ELSE
    FOR v_occ IN SELECT * FROM booking_internal.expand_series(v_series.rrule, v_local, p_end - p_start, p_time_zone)
    LOOP
      v_total := v_total + 1;
      BEGIN
        v_row := booking_internal.book_occurrence(v_series, v_occ.local_date, v_occ.occurrence_start, v_occ.occurrence_end);
        v_booked := v_booked || jsonb_build_object('id', v_row.id, 'starts_at', v_row.starts_at,
                                                   'ends_at', v_row.ends_at, 'status', v_row.status);
      EXCEPTION WHEN SQLSTATE 'PT409' THEN
        GET STACKED DIAGNOSTICS v_detail = PG_EXCEPTION_DETAIL;
        v_refused := v_refused || jsonb_build_object('local_date', v_occ.local_date, 'starts_at', v_occ.occurrence_start,
                                                     'ends_at', v_occ.occurrence_end, 'reason', v_detail);
      END;
    END LOOP;
  END IF;
  IF jsonb_array_length(v_refused) > 0 AND (NOT p_skip_conflicts OR jsonb_array_length(v_booked) = 0) THEN
    RAISE EXCEPTION '% of the series'' % occurrences cannot be booked', jsonb_array_length(v_refused), v_total
      USING ERRCODE = 'PT409', DETAIL = v_refused::text,
            HINT = 'preview_series shows why; book_series with p_skip_conflicts books the others.';
  END IF;
  IF jsonb_array_length(v_refused) > 0 THEN
    SELECT array_agg((r ->> 'local_date')::date ORDER BY (r ->> 'local_date')::date) INTO v_skipped
    FROM jsonb_array_elements(v_refused) r;
    UPDATE booking.booking_series SET exceptions = v_skipped WHERE id = v_series.id RETURNING * INTO v_series;
  END IF;
  RETURN jsonb_build_object('series', to_jsonb(v_series), 'bookings', v_booked, 'skipped', v_refused);
END $$;

-- The series RPCs' check of the caller: a signed-in user.
CREATE FUNCTION booking_internal.series_caller() RETURNS text
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_user text := booking.current_user_id();
BEGIN
  IF v_user IS NULL THEN
    RAISE EXCEPTION 'series are booked for the signed-in user, and there is none'
      USING ERRCODE = 'insufficient_privilege', HINT = 'Call it with a user''s JWT.';
  END IF;
  RETURN v_user;
END $$;

-- Books a recurring series for the signed-in caller (see create_series). Who may: as for book().
CREATE FUNCTION booking.book_series(p_resource_id uuid, p_start timestamptz, p_end timestamptz, p_rrule text,
                                    p_title text DEFAULT NULL, p_seats integer DEFAULT 1,
                                    p_service_id uuid DEFAULT NULL, p_skip_conflicts boolean DEFAULT false)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_user text := booking_internal.series_caller();
  v_org  uuid;
  v_tz   text;
BEGIN
  IF p_resource_id IS NULL OR p_start IS NULL OR p_end IS NULL OR p_rrule IS NULL OR p_seats IS NULL
     OR p_skip_conflicts IS NULL THEN
    RAISE EXCEPTION 'p_resource_id, p_start, p_end, p_rrule, p_seats and p_skip_conflicts must not be NULL'
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF NOT (isfinite(p_start) AND isfinite(p_end) AND p_end > p_start) OR p_seats < 1 OR length(p_title) > 200 THEN
    RAISE EXCEPTION 'each occurrence must end after it starts, at finite times, with at least one seat; p_title at most 200 characters'
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  SELECT r.organization_id, coalesce(r.time_zone, o.time_zone) INTO v_org, v_tz
  FROM booking.resources r
  JOIN booking.organizations o ON o.id = r.organization_id
  WHERE r.id = p_resource_id AND r.is_bookable
    AND (r.organization_id = ANY (booking.user_organization_ids()) OR o.is_public);
  IF NOT FOUND THEN
    RAISE EXCEPTION 'unknown resource %', p_resource_id USING ERRCODE = 'invalid_parameter_value';
  END IF;
  RETURN booking_internal.create_series(v_user, v_org, p_resource_id, v_tz, p_start, p_end, p_rrule, p_title,
                                        p_seats, p_service_id, p_skip_conflicts, NULL);
END $$;

-- An occurrence the caller may change: their own, or any of their organization's for staff.
-- 22023 for a booking that does not exist, is not the caller's to change, or is in no series.
CREATE FUNCTION booking_internal.occurrence_for_caller(p_booking_id uuid) RETURNS booking.bookings
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_row booking.bookings;
BEGIN
  SELECT * INTO v_row FROM booking.bookings b
  WHERE b.id = p_booking_id AND b.series_id IS NOT NULL
    AND (b.booked_by = booking.current_user_id() OR booking_internal.has_staff_rights(b.organization_id));
  IF NOT FOUND THEN
    RAISE EXCEPTION 'unknown occurrence %', p_booking_id USING ERRCODE = 'invalid_parameter_value';
  END IF;
  RETURN v_row;
END $$;

-- Cancels one occurrence (the status machine's rules: a booker until it starts, staff always)
-- and records its date as skipped.
CREATE FUNCTION booking.cancel_occurrence(p_booking_id uuid, p_reason text DEFAULT NULL)
RETURNS booking.bookings
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_row    booking.bookings := booking_internal.occurrence_for_caller(p_booking_id);
  v_series booking.booking_series;
BEGIN
  SELECT * INTO v_series FROM booking.booking_series WHERE id = v_row.series_id;
  v_row := booking.set_booking_status(p_booking_id, 'cancelled', p_reason);
  UPDATE booking.booking_series
  SET exceptions = (SELECT array_agg(DISTINCT d ORDER BY d)
                    FROM unnest(exceptions || coalesce(v_row.series_date, (v_row.starts_at AT TIME ZONE v_series.time_zone)::date)) AS d)
  WHERE id = v_series.id;
  RETURN v_row;
END $$;

-- Moves one occurrence to another time (it stays in its series): the rule book as for any move
-- (for staff too, as book() applies it to staff); PT409 with the reason in DETAIL.
CREATE FUNCTION booking.move_occurrence(p_booking_id uuid, p_start timestamptz, p_end timestamptz)
RETURNS booking.bookings
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_row     booking.bookings := booking_internal.occurrence_for_caller(p_booking_id);
  v_refusal text;
BEGIN
  IF p_start IS NULL OR p_end IS NULL OR NOT (isfinite(p_start) AND isfinite(p_end) AND p_end > p_start) THEN
    RAISE EXCEPTION 'the occurrence must end after it starts, at finite times' USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF NOT booking_internal.holds_time(v_row.status) AND v_row.status <> 'draft' THEN
    RAISE EXCEPTION 'a % occurrence cannot be moved', v_row.status USING ERRCODE = 'PT409', DETAIL = 'transition';
  END IF;
  IF booking.is_staff(v_row.organization_id) AND booking_internal.holds_time(v_row.status) THEN
    PERFORM booking_internal.enforce_booking_rules(v_row.organization_id, v_row.resource_id, v_row.service_id,
                                                   p_start, p_end, v_row.seats, v_row.id);
  END IF;
  BEGIN
    UPDATE booking.bookings SET starts_at = p_start, ends_at = p_end WHERE id = p_booking_id RETURNING * INTO v_row;
  EXCEPTION WHEN exclusion_violation THEN
    GET STACKED DIAGNOSTICS v_refusal = CONSTRAINT_NAME;
    v_refusal := booking_internal.exclusion_refusal(v_refusal);
    RAISE EXCEPTION '%', booking_internal.refusal_message(v_refusal) USING ERRCODE = 'PT409', DETAIL = v_refusal;
  END;
  RETURN v_row;
END $$;

-- Cancels the occurrences of a series still to come (past ones never change) and marks it
-- cancelled; returns how many were cancelled.
CREATE FUNCTION booking.cancel_series(p_series_id uuid, p_reason text DEFAULT NULL)
RETURNS integer
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_id     uuid;
  v_count  integer := 0;
BEGIN
  PERFORM 1 FROM booking.booking_series s
  WHERE s.id = p_series_id
    AND (s.booked_by = booking.current_user_id() OR booking_internal.has_staff_rights(s.organization_id));
  IF NOT FOUND THEN
    RAISE EXCEPTION 'unknown series %', p_series_id USING ERRCODE = 'invalid_parameter_value';
  END IF;
  FOR v_id IN SELECT b.id FROM booking.bookings b
              WHERE b.series_id = p_series_id AND b.starts_at > now()
                AND b.status IN ('draft', 'pending', 'approved', 'changes_requested')
              ORDER BY b.starts_at LOOP
    PERFORM booking.set_booking_status(v_id, 'cancelled', p_reason);
    v_count := v_count + 1;
  END LOOP;
  UPDATE booking.booking_series SET is_cancelled = true WHERE id = p_series_id;
  RETURN v_count;
END $$;

-- "This and all following": ends the series before the given occurrence's local date (past
-- occurrences never change; an occurrence already started cannot be the split point), cancels
-- its occurrences from there on, and books a new series (split_from the old one) with the new
-- pattern from p_start (default: that occurrence's start) to p_end (default: its end), for the
-- same booker, resource, seats and service. Returns what book_series returns; all or nothing
-- unless p_skip_conflicts.
CREATE FUNCTION booking.update_series_from(p_booking_id uuid, p_rrule text, p_start timestamptz DEFAULT NULL,
                                           p_end timestamptz DEFAULT NULL, p_title text DEFAULT NULL,
                                           p_skip_conflicts boolean DEFAULT false)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_row    booking.bookings := booking_internal.occurrence_for_caller(p_booking_id);
  v_series booking.booking_series;
  v_split  date;
  v_id     uuid;
  v_start  timestamptz := coalesce(p_start, v_row.starts_at);
  v_end    timestamptz := coalesce(p_end, v_row.ends_at);
BEGIN
  IF p_rrule IS NULL OR p_skip_conflicts IS NULL OR NOT (isfinite(v_start) AND isfinite(v_end) AND v_end > v_start)
     OR length(p_title) > 200 THEN
    RAISE EXCEPTION 'p_rrule and p_skip_conflicts must not be NULL, the occurrences must end after they start'
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF v_row.starts_at <= now() OR v_start <= now() THEN
    RAISE EXCEPTION 'past occurrences never change: split the series at an occurrence still to come'
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  SELECT * INTO v_series FROM booking.booking_series WHERE id = v_row.series_id;
  IF v_series.service_id IS NOT NULL THEN
    PERFORM booking_internal.lock_service_rules(v_series.service_id);
  END IF;
  PERFORM booking_internal.lock_resource(v_series.resource_id);
  v_split := coalesce(v_row.series_date, (v_row.starts_at AT TIME ZONE v_series.time_zone)::date);
  -- the old series ends the day before
  IF v_split <= v_series.first_date THEN
    UPDATE booking.booking_series SET is_cancelled = true WHERE id = v_series.id;
  ELSE
    UPDATE booking.booking_series s
    SET (rrule, end_date, end_after) = (SELECT p.rrule, p.end_date, p.end_after
                                        FROM booking_internal.series_pattern(
                                          regexp_replace(s.rrule, '(COUNT|UNTIL)=[^;]*',
                                                         'UNTIL=' || to_char(v_split - 1, 'YYYYMMDD'))) p)
    WHERE s.id = v_series.id;
  END IF;
  FOR v_id IN SELECT b.id FROM booking.bookings b
              WHERE b.series_id = v_series.id
                AND coalesce(b.series_date, (b.starts_at AT TIME ZONE v_series.time_zone)::date) >= v_split
                AND b.status IN ('draft', 'pending', 'approved', 'changes_requested')
              ORDER BY b.starts_at LOOP
    PERFORM booking.set_booking_status(v_id, 'cancelled', 'series changed');
  END LOOP;
  RETURN booking_internal.create_series(v_series.booked_by, v_series.organization_id, v_series.resource_id,
                                        v_series.time_zone, v_start, v_end, p_rrule,
                                        coalesce(p_title, v_series.title), v_series.seats, v_series.service_id,
                                        p_skip_conflicts, v_series.id);
END $$;

-- Books a skipped date of a series again (its occurrence at the series' time), and removes it
-- from the exceptions; PT409 with the reason when it no longer fits, 22023 when the date is not
-- a skipped occurrence of the series.
CREATE FUNCTION booking.restore_occurrence(p_series_id uuid, p_date date)
RETURNS booking.bookings
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_series booking.booking_series;
  v_occ    record;
BEGIN
  SELECT * INTO v_series FROM booking.booking_series s
  WHERE s.id = p_series_id AND NOT s.is_cancelled
    AND (s.booked_by = booking.current_user_id() OR booking_internal.has_staff_rights(s.organization_id));
  IF NOT FOUND OR NOT (p_date = ANY (v_series.exceptions)) THEN
    RAISE EXCEPTION 'no skipped date % in series %', p_date, p_series_id USING ERRCODE = 'invalid_parameter_value';
  END IF;
  SELECT * INTO v_occ
  FROM booking_internal.expand_series(v_series.rrule, v_series.first_date + v_series.local_start,
                                      v_series.duration, v_series.time_zone) e
  WHERE e.local_date = p_date;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'no skipped date % in series %', p_date, p_series_id USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF v_series.service_id IS NOT NULL THEN
    PERFORM booking_internal.lock_service_rules(v_series.service_id);
  END IF;
  PERFORM booking_internal.lock_resource(v_series.resource_id);
  UPDATE booking.booking_series SET exceptions = array_remove(exceptions, p_date) WHERE id = p_series_id;
  RETURN booking_internal.book_occurrence(v_series, p_date, v_occ.occurrence_start, v_occ.occurrence_end);
END $$;

-- preview_series reads through the availability engine's kept plans, as booking_refusal does:
-- their generic plans, index scans (see availability.sql), not a custom plan made per call.
ALTER FUNCTION booking.preview_series(uuid, timestamptz, timestamptz, text, integer, uuid)
  SET plan_cache_mode = force_generic_plan SET enable_seqscan = off;

-- Who may call the series functions.
CREATE FUNCTION booking_internal.grant_series_privileges(p_role text) RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  -- preview_series checks itself that the caller may see the resource
  PERFORM booking_internal.grant_execute(p_role, ARRAY['preview_series']);
  IF p_role <> 'anon' THEN
    PERFORM booking_internal.grant_execute(p_role, ARRAY['cancel_occurrence', 'move_occurrence', 'cancel_series',
                                                         'update_series_from', 'restore_occurrence']);
  END IF;
  IF p_role = 'authenticated' THEN
    -- book_series books for the JWT subject, as book()
    PERFORM booking_internal.grant_execute(p_role, ARRAY['book_series']);
  END IF;
END $$;

-- Documentation in the catalog (\d+, \df+ and PostgREST's OpenAPI show it).
COMMENT ON TABLE booking.booking_series IS 'A recurring series of bookings: its RRULE (canonical) and the seed''s fields, the first local date, time of day and duration in the resource''s time zone, the skipped dates; its occurrences are bookings with series_id.';
COMMENT ON COLUMN booking.bookings.series_id IS 'The recurring series this booking is an occurrence of (NULL for a single booking).';
COMMENT ON COLUMN booking.booking_series.exceptions IS 'Skipped local dates (cancelled or refused occurrences); restore_occurrence books one again.';
COMMENT ON FUNCTION booking.preview_series(uuid, timestamptz, timestamptz, text, integer, uuid) IS 'Every occurrence book_series would book, with why it would be refused now (booking_refusal''s reasons) or NULL; read-only; 22023 for a pattern beyond the limits (730 occurrences, 1096 days).';
COMMENT ON FUNCTION booking_internal.series_pattern(text) IS 'Internal: the canonical RRULE text of a pattern and its fields (frequency, interval, week_days 0 = Sunday, month_days, end_date, end_after); 22023 outside the supported subset.';
COMMENT ON FUNCTION booking_internal.expand_series(text, timestamp, interval, text, date[]) IS 'Internal: the occurrences of a pattern from a local first start in a time zone, each lasting the duration, without the skipped dates (the core''s rules); 22023 beyond its limits.';
COMMENT ON COLUMN booking.bookings.series_date IS 'The occurrence''s own local date in its series, kept when the booking is moved.';
COMMENT ON FUNCTION booking_internal.book_occurrence(booking.booking_series, date, timestamptz, timestamptz) IS 'Internal: books one occurrence of a series as book() books (the rule book, the bookings triggers); PT409 with the reason in DETAIL.';
COMMENT ON FUNCTION booking_internal.book_series_at_once(booking.booking_series, timestamptz, timestamptz, boolean) IS 'Internal: judges every occurrence of a new series at once (the rule book''s terms once, the engine over the series) and books the accepted ones with one INSERT the bookings triggers trust; NULL when the series must be booked occurrence by occurrence.';
COMMENT ON FUNCTION booking_internal.create_series(text, uuid, uuid, text, timestamptz, timestamptz, text, text, integer, uuid, boolean, uuid) IS 'Internal: creates a series and books its occurrences under the resource''s lock; all or nothing (PT409, DETAIL the refusals as JSON) unless conflicts are skipped.';
COMMENT ON FUNCTION booking_internal.series_caller() IS 'Internal: the signed-in caller of a series RPC; 42501 when anonymous.';
COMMENT ON FUNCTION booking_internal.occurrence_for_caller(uuid) IS 'Internal: an occurrence of a series the caller may change (theirs, or their organization''s for staff); 22023 otherwise.';
COMMENT ON FUNCTION booking.book_series(uuid, timestamptz, timestamptz, text, text, integer, uuid, boolean) IS 'Books a recurring series for the signed-in caller: every occurrence passes book()''s rule book; all or nothing (PT409, DETAIL a JSON array of the refused occurrences and reasons) unless p_skip_conflicts; returns {series, bookings, skipped}.';
COMMENT ON FUNCTION booking.cancel_occurrence(uuid, text) IS 'Cancels one occurrence of a series (booker until it starts, staff always) and records its date as skipped.';
COMMENT ON FUNCTION booking.move_occurrence(uuid, timestamptz, timestamptz) IS 'Moves one occurrence of a series to another time under the rule book; PT409 with the reason in DETAIL.';
COMMENT ON FUNCTION booking.cancel_series(uuid, text) IS 'Cancels the occurrences of a series still to come (past ones never change) and marks it cancelled; returns how many.';
COMMENT ON FUNCTION booking.update_series_from(uuid, text, timestamptz, timestamptz, text, boolean) IS 'This and all following: ends the series before the occurrence, cancels the occurrences from there and books a new series with the new pattern; past occurrences never change.';
COMMENT ON FUNCTION booking.restore_occurrence(uuid, date) IS 'Books a skipped date of a series again and removes it from the exceptions; PT409 when it no longer fits.';
COMMENT ON FUNCTION booking_internal.grant_series_privileges(text) IS 'Internal: the series module''s grants to an API role (called by grant_api_privileges).';
COMMENT ON FUNCTION booking_internal.bookings_series_guard() IS 'Trigger: a booking names only a series of its own person and resource that is not cancelled.';
