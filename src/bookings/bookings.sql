-- booking_ext, module bookings: reservations of a resource (bookings), their line items
-- (booking_services), staff's notes, the status history, the status machine's triggers, the
-- resource lock, the rule book, and the RPCs book() and set_booking_status().

-- Which statuses hold time (count against capacity and overlap, appear in availability): the
-- one definition. Its body is parsed once (SQL-standard body) and inlined by the planner, so
-- the partial indexes declared with it match every query that uses it.
CREATE FUNCTION booking_internal.holds_time(p_status text) RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN p_status IN ('pending', 'approved');

CREATE TABLE booking.bookings (
  id                         uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  organization_id            uuid NOT NULL REFERENCES booking.organizations (id) ON DELETE CASCADE,
  resource_id                uuid NOT NULL,
  service_id                 uuid,
  booked_by                  text NOT NULL DEFAULT booking.current_user_id() CONSTRAINT bookings_booked_by_size CHECK (length(booked_by) <= 200)
                             CHECK (length(booked_by) > 0),
  title                      text CONSTRAINT bookings_title_size CHECK (length(title) <= 200),
  starts_at                  timestamptz NOT NULL,
  ends_at                    timestamptz NOT NULL,
  -- NULL only for a reversed range, which the time-order CHECK then refuses with 23514
  -- (tstzrange() itself would fail first with a less helpful 22000).
  during                     tstzrange GENERATED ALWAYS AS (
                               CASE WHEN ends_at > starts_at THEN tstzrange(starts_at, ends_at, '[)') END
                             ) STORED,
  status                     text NOT NULL DEFAULT 'pending' CHECK (status IN (
                               'draft', 'pending', 'changes_requested', 'approved',
                               'rejected', 'cancelled', 'completed', 'no_show')),
  seats                      integer NOT NULL DEFAULT 1 CHECK (seats >= 1),
  source                     text NOT NULL DEFAULT 'app'
                             CHECK (source IN ('app', 'api', 'appsheet', 'google_calendar', 'manual')),
  external_calendar_event_id text CONSTRAINT bookings_external_calendar_event_id_size CHECK (length(external_calendar_event_id) <= 200),
  client_notes               text CONSTRAINT bookings_client_notes_size CHECK (length(client_notes) <= 4000),
  approved_by                text CONSTRAINT bookings_approved_by_size CHECK (length(approved_by) <= 200),
  approved_at                timestamptz,
  created_at                 timestamptz NOT NULL DEFAULT now(),
  updated_at                 timestamptz NOT NULL DEFAULT now(),
  UNIQUE (id, organization_id),
  CONSTRAINT bookings_time_order CHECK (ends_at > starts_at),
  CONSTRAINT bookings_finite_times CHECK (isfinite(starts_at) AND isfinite(ends_at)),
  CONSTRAINT bookings_resource_same_organization FOREIGN KEY (resource_id, organization_id)
    REFERENCES booking.resources (id, organization_id),
  CONSTRAINT bookings_service_same_organization FOREIGN KEY (service_id, organization_id)
    REFERENCES booking.services (id, organization_id)
  -- No overlap (capacity 1) and capacity (above 1) are one rule, checked by the
  -- bookings_2_capacity trigger under the resource's lock (below): no column a writer
  -- could set decides whether it applies.
);
-- 0.2.0 (added to the table, as the upgrade adds it): paid with prepaid credit, one per seat
-- (module credits debits and refunds it).
ALTER TABLE booking.bookings ADD COLUMN uses_credit boolean NOT NULL DEFAULT false;
-- 0.2.0, likewise: the student the booking is for (module people; a guardian books for their
-- own students only), and what the app keeps about the booking.
ALTER TABLE booking.bookings
  ADD COLUMN student_id uuid,
  ADD COLUMN metadata jsonb NOT NULL DEFAULT '{}'::jsonb
    CONSTRAINT bookings_metadata_object CHECK (jsonb_typeof(metadata) = 'object')
    CONSTRAINT bookings_metadata_size CHECK (octet_length(metadata::text) <= 16384),
  ADD CONSTRAINT bookings_student_same_organization FOREIGN KEY (student_id, organization_id)
    REFERENCES booking.students (id, organization_id);
CREATE INDEX bookings_student_id_idx ON booking.bookings (student_id, organization_id) WHERE student_id IS NOT NULL;
CREATE INDEX bookings_organization_id_idx ON booking.bookings (organization_id, starts_at);
CREATE INDEX bookings_booked_by_idx ON booking.bookings (booked_by, organization_id);
CREATE INDEX bookings_resource_id_idx ON booking.bookings (resource_id, organization_id);
CREATE INDEX bookings_service_id_idx ON booking.bookings (service_id, organization_id) WHERE service_id IS NOT NULL;
-- Time-holding bookings of a resource by time: capacity checks and availability read this.
CREATE INDEX bookings_holding_during_idx ON booking.bookings USING gist (resource_id, during)
  WHERE booking_internal.holds_time(status);
-- The same bookings by end time: the availability engine reads a resource's bookings that end
-- after a window starts (and start before it ends) from here, in time proportional to that
-- resource's bookings rather than to every resource's bookings of the window, as the GiST
-- index's uuid column makes it.
CREATE INDEX bookings_holding_resource_ends_idx ON booking.bookings (resource_id, ends_at) INCLUDE (starts_at, seats)
  WHERE booking_internal.holds_time(status);
SELECT booking_internal.register_table('bookings', 'bookings', true, 'booking');

CREATE TABLE booking.booking_services (
  booking_id       uuid NOT NULL,
  organization_id  uuid NOT NULL REFERENCES booking.organizations (id) ON DELETE CASCADE,
  service_id       uuid NOT NULL,
  position         integer NOT NULL DEFAULT 1 CHECK (position >= 1),
  duration_minutes integer NOT NULL CHECK (duration_minutes >= 1),
  price_cents      integer NOT NULL DEFAULT 0 CHECK (price_cents >= 0),
  created_at       timestamptz NOT NULL DEFAULT now(),
  updated_at       timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (booking_id, position),
  FOREIGN KEY (booking_id, organization_id)
    REFERENCES booking.bookings (id, organization_id) ON DELETE CASCADE,
  FOREIGN KEY (service_id, organization_id)
    REFERENCES booking.services (id, organization_id)
);
CREATE INDEX booking_services_booking_org_idx ON booking.booking_services (booking_id, organization_id);
CREATE INDEX booking_services_organization_id_idx ON booking.booking_services (organization_id);
CREATE INDEX booking_services_service_id_idx ON booking.booking_services (service_id, organization_id);
-- 0.2.0 (added as the upgrade adds it): who performs the service (seed 004's staff_id): one of
-- the organization's owners, admins or staff, or one of its professionals.
ALTER TABLE booking.booking_services ADD COLUMN staff_id text
  CONSTRAINT booking_services_staff_id_size CHECK (length(staff_id) BETWEEN 1 AND 200);
CREATE INDEX booking_services_staff_id_idx ON booking.booking_services (staff_id) WHERE staff_id IS NOT NULL;
SELECT booking_internal.register_table('booking_services', 'bookings', true);

-- Staff's notes on a booking, in a table of their own: row-level security filters rows, not
-- columns, and the person who booked reads their booking row. Only the organization's staff
-- (and service_role) read or write these.
CREATE TABLE booking.booking_notes (
  booking_id      uuid PRIMARY KEY,
  organization_id uuid NOT NULL REFERENCES booking.organizations (id) ON DELETE CASCADE,
  notes           text NOT NULL CONSTRAINT booking_notes_notes_size CHECK (length(notes) <= 4000),
  created_at      timestamptz NOT NULL DEFAULT now(),
  updated_at      timestamptz NOT NULL DEFAULT now(),
  FOREIGN KEY (booking_id, organization_id)
    REFERENCES booking.bookings (id, organization_id) ON DELETE CASCADE
);
CREATE INDEX booking_notes_booking_org_idx ON booking.booking_notes (booking_id, organization_id);
CREATE INDEX booking_notes_organization_id_idx ON booking.booking_notes (organization_id);
SELECT booking_internal.register_table('booking_notes', 'bookings', true);

CREATE TABLE booking.booking_transitions (
  id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  organization_id uuid NOT NULL REFERENCES booking.organizations (id) ON DELETE CASCADE,
  booking_id      uuid NOT NULL,
  from_status     text NOT NULL CHECK (from_status IN (
                    'draft', 'pending', 'changes_requested', 'approved',
                    'rejected', 'cancelled', 'completed', 'no_show')),
  to_status       text NOT NULL CHECK (to_status IN (
                    'draft', 'pending', 'changes_requested', 'approved',
                    'rejected', 'cancelled', 'completed', 'no_show')),
  changed_by      text NOT NULL CONSTRAINT booking_transitions_changed_by_size CHECK (length(changed_by) <= 200),  -- JWT subject, or the database login role outside the API
  reason          text CONSTRAINT booking_transitions_reason_size CHECK (length(reason) <= 4000),
  created_at      timestamptz NOT NULL DEFAULT now(),
  FOREIGN KEY (booking_id, organization_id)
    REFERENCES booking.bookings (id, organization_id) ON DELETE CASCADE
);
CREATE INDEX booking_transitions_booking_id_idx ON booking.booking_transitions (booking_id, organization_id, created_at);
CREATE INDEX booking_transitions_organization_id_idx ON booking.booking_transitions (organization_id);
-- Not audited: its rows are the record.
SELECT booking_internal.register_table('booking_transitions', 'bookings', false);

-- The largest number of seats held at one instant of p_window by the time-holding bookings of a
-- resource (p_exclude left out). A sweep over start (+seats) and end (-seats) events; ends sort
-- before starts at the same instant because ranges are half-open. The zero event at the window's
-- start makes bookings already running at that instant count.
CREATE FUNCTION booking_internal.held_seats_peak(p_resource_id uuid, p_window tstzrange, p_exclude uuid DEFAULT NULL)
RETURNS integer
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
  WITH held AS (
    SELECT b.during, b.seats
    FROM booking.bookings b
    WHERE b.resource_id = p_resource_id
      AND booking_internal.holds_time(b.status)
      AND b.during && p_window
      AND b.id IS DISTINCT FROM p_exclude
  ), events AS (
    SELECT lower(during) AS t, seats AS delta FROM held
    UNION ALL SELECT upper(during), -seats FROM held
    UNION ALL SELECT lower(p_window), 0 WHERE NOT lower_inf(p_window)
  ), running AS (
    SELECT t, sum(delta) OVER (ORDER BY t, delta ROWS UNBOUNDED PRECEDING) AS seats FROM events
  )
  SELECT coalesce(max(seats), 0)::integer FROM running WHERE t <@ p_window
$$;

-- Lock a resource for the rest of the transaction, so that writers of one resource take turns;
-- returns its capacity. The lock is a no-op update of the resource row: in READ COMMITTED the
-- statements after it see every booking committed before the lock was granted; a REPEATABLE
-- READ or SERIALIZABLE snapshot cannot see later commits, but the row version each writer leaves
-- makes a concurrent snapshot writer fail with 40001 (to be retried) instead of counting from a
-- stale snapshot. (A plain SELECT ... FOR UPDATE leaves no new version, and the concurrency test
-- caught it letting 14 seats into a 12-seat room.) A transaction updates the row once: when the
-- version it sees was written by this transaction (or a subtransaction of it still alive), it
-- holds the lock already. Updating the same row again and again is churn, and on
-- assertion-enabled Postgres 18 it tripped an assertion in heap_update once the page filled up.
-- What remembers the lock is the row itself: no setting a caller could preset to skip it.
CREATE FUNCTION booking_internal.lock_resource(p_resource_id uuid) RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_capacity integer;
  v_held     boolean;
BEGIN
  SELECT capacity, booking_internal.written_by_this_transaction(xmin) INTO v_capacity, v_held
  FROM booking.resources WHERE id = p_resource_id;
  IF NOT coalesce(v_held, true) THEN
    UPDATE booking.resources SET capacity = capacity WHERE id = p_resource_id
    RETURNING capacity INTO v_capacity;
  END IF;
  RETURN v_capacity;
END $$;

-- The same lock for a service's rules, so that bookers of a service with a
-- max_concurrent_bookings limit take turns across resources (book() takes it).
CREATE FUNCTION booking_internal.lock_service_rules(p_service_id uuid) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  IF EXISTS (SELECT 1 FROM booking.service_rules
             WHERE service_id = p_service_id AND NOT booking_internal.written_by_this_transaction(xmin)) THEN
    UPDATE booking.service_rules SET max_concurrent_bookings = max_concurrent_bookings WHERE service_id = p_service_id;
  END IF;
END $$;

-- A professional who does not accept new clients (module people) is booked, by someone who is
-- not the organization's staff, only by a client who had a booking with them before: one of
-- the booker's, or for the same student, on their resource that was approved, completed or a
-- no-show. PT409 'new_client' otherwise. Runs as the owner: it reads the booker's own bookings
-- and the professional's flag, after the caller's right to write the booking is established.
CREATE FUNCTION booking_internal.check_professional_takes_client(p_resource_id uuid, p_booked_by text,
                                                                 p_student_id uuid, p_booking_id uuid)
RETURNS void
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  IF EXISTS (SELECT 1 FROM booking.professionals p
             WHERE p.resource_id = p_resource_id AND p.active AND NOT p.accepts_new_clients)
     AND NOT EXISTS (SELECT 1 FROM booking.bookings b
                     WHERE b.resource_id = p_resource_id AND b.id IS DISTINCT FROM p_booking_id
                       AND b.status IN ('approved', 'completed', 'no_show')
                       AND (b.booked_by = p_booked_by OR b.student_id = p_student_id)) THEN
    RAISE EXCEPTION 'This professional is not taking new clients.'
      USING ERRCODE = 'PT409', DETAIL = 'new_client';
  END IF;
END $$;

-- Did this student have another booking on this resource? (The resource's professional may book
-- such a student again; runs as the owner because the professional cannot see students.)
CREATE FUNCTION booking_internal.student_booked_on(p_student_id uuid, p_resource_id uuid, p_booking_id uuid)
RETURNS boolean
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  RETURN EXISTS (SELECT 1 FROM booking.bookings b
                 WHERE b.student_id = p_student_id AND b.resource_id = p_resource_id
                   AND b.id IS DISTINCT FROM p_booking_id);
END $$;

-- ---------------------------------------------------------------------------------------------
-- Bookings: who may change what (runs as the caller, so it sees the caller's role)
-- ---------------------------------------------------------------------------------------------

CREATE FUNCTION booking_internal.bookings_guard() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_staff boolean;
BEGIN
  IF booking_internal.is_bulk_load() OR NOT (NEW.status = ANY (@extschema@.booking_statuses())) THEN
    RETURN NEW;  -- an unknown status is reported by the CHECK constraint
  END IF;

  IF TG_OP = 'UPDATE' AND NEW.status IS DISTINCT FROM OLD.status
     AND NOT @extschema@.transition_allowed(OLD.status, NEW.status, true) THEN
    RAISE EXCEPTION 'a booking cannot go from % to %', OLD.status, NEW.status
      USING ERRCODE = 'check_violation', CONSTRAINT = 'bookings_status_transition',
            DETAIL = format('booking %s is %s', OLD.id, OLD.status),
            HINT = coalesce('From ' || OLD.status || ' it can go to: ' ||
                            (SELECT string_agg(to_status, ', ' ORDER BY to_status)
                             FROM @extschema@.status_transitions() WHERE from_status = OLD.status),
                            OLD.status || ' is final.');
  END IF;

  -- Staff, and a professional for the bookings of their own resource (both the resource it is
  -- on and, when moved, the one it leaves), manage bookings; everyone else is the booker.
  v_staff := booking_internal.manages_bookings(NEW.organization_id, NEW.resource_id)
             AND (TG_OP = 'INSERT' OR OLD.resource_id = NEW.resource_id
                  OR booking_internal.manages_bookings(OLD.organization_id, OLD.resource_id));
  -- The caller's right to write the new row is established before anything else: row-level
  -- security checks it only after the BEFORE triggers, and the capacity trigger after this one
  -- runs as the owner, so without this a cross-tenant INSERT would read, lock and name another
  -- tenant's resource. The refusal is row-level security's own, whatever the resource is.
  IF TG_OP = 'INSERT' AND NOT v_staff
     AND NOT (NEW.status IN ('draft', 'pending')
              AND booking_internal.booker_may_insert(NEW.organization_id, NEW.booked_by)) THEN
    RAISE EXCEPTION 'new row violates row-level security policy for table "bookings"'
      USING ERRCODE = 'insufficient_privilege';
  END IF;
  -- Whom a booking may be for: staff, any of the organization's students (the foreign key
  -- checks the organization); a guardian, their own; the resource's professional, a student
  -- who had a booking on it before (a client of theirs).
  IF NEW.student_id IS NOT NULL AND (TG_OP = 'INSERT' OR NEW.student_id IS DISTINCT FROM OLD.student_id)
     AND NOT booking_internal.has_staff_rights(NEW.organization_id)
     AND NOT booking_internal.is_guardian_of(NEW.student_id)
     AND NOT (v_staff AND booking_internal.student_booked_on(NEW.student_id, NEW.resource_id, NEW.id)) THEN
    RAISE EXCEPTION 'you may book only for students you are a guardian of (or, as the professional, your clients)'
      USING ERRCODE = 'insufficient_privilege';
  END IF;
  IF v_staff THEN
    -- Staff (and professionals) book for the organization's members only (service_role for
    -- anyone), so a status change never sends their words to a stranger.
    IF NOT booking_internal.is_privileged()
       AND (TG_OP = 'INSERT' OR NEW.booked_by IS DISTINCT FROM OLD.booked_by)
       AND NEW.booked_by IS DISTINCT FROM @extschema@.current_user_id()
       AND NOT booking_internal.is_active_member(NEW.organization_id, NEW.booked_by) THEN
      RAISE EXCEPTION 'staff can book only for the organization''s members; % is not one', NEW.booked_by
        USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF NEW.status = 'approved' AND (TG_OP = 'INSERT' OR OLD.status IS DISTINCT FROM 'approved') THEN
      NEW.approved_by := booking_internal.actor_id();
      NEW.approved_at := now();
    END IF;
    RETURN NEW;
  END IF;

  -- From here on the writer is the person who booked (row-level security let them this far).
  IF TG_OP = 'INSERT' THEN
    -- The same fields as on UPDATE below: a booker's own app writes 'app' or 'api' (book()).
    IF NEW.approved_by IS NOT NULL OR NEW.approved_at IS NOT NULL
       OR NEW.source NOT IN ('app', 'api') OR NEW.external_calendar_event_id IS NOT NULL
       OR NEW.conflict_resolution_notes IS NOT NULL THEN
      RAISE EXCEPTION 'only staff can set approval, source, calendar or conflict fields'
        USING ERRCODE = 'insufficient_privilege';
    END IF;
    -- The rule book, as book() applies it; a request for a resource or service that approves
    -- by itself is approved at once, as through book().
    IF NEW.status = 'pending' THEN
      PERFORM booking_internal.check_professional_takes_client(NEW.resource_id, NEW.booked_by, NEW.student_id, NULL);
      IF booking_internal.enforce_booking_rules(NEW.organization_id, NEW.resource_id, NEW.service_id,
                                                NEW.starts_at, NEW.ends_at, NEW.seats, NULL) THEN
        NEW.status := 'approved';
        NEW.approved_by := booking_internal.actor_id();
        NEW.approved_at := now();
      END IF;
    END IF;
    RETURN NEW;
  END IF;

  IF NEW.status IS DISTINCT FROM OLD.status
     AND NOT @extschema@.transition_allowed(OLD.status, NEW.status, false) THEN
    RAISE EXCEPTION 'only staff can move a booking from % to %', OLD.status, NEW.status
      USING ERRCODE = 'insufficient_privilege';
  END IF;
  IF (NEW.booked_by, NEW.approved_by, NEW.approved_at, NEW.source, NEW.external_calendar_event_id, NEW.conflict_resolution_notes)
     IS DISTINCT FROM
     (OLD.booked_by, OLD.approved_by, OLD.approved_at, OLD.source, OLD.external_calendar_event_id, OLD.conflict_resolution_notes) THEN
    RAISE EXCEPTION 'only staff can change booked_by, approval, source, calendar or conflict fields'
      USING ERRCODE = 'insufficient_privilege';
  END IF;
  IF (NEW.resource_id, NEW.starts_at, NEW.ends_at, NEW.seats, NEW.service_id)
     IS DISTINCT FROM (OLD.resource_id, OLD.starts_at, OLD.ends_at, OLD.seats, OLD.service_id)
     AND OLD.status NOT IN ('draft', 'pending', 'changes_requested') THEN
    RAISE EXCEPTION 'a % booking cannot be moved by its booker', OLD.status
      USING ERRCODE = 'insufficient_privilege',
            HINT = 'Cancel it and book again, or ask the organization''s staff.';
  END IF;
  IF NEW.status = 'cancelled' AND OLD.status <> 'cancelled' AND OLD.starts_at <= now() THEN
    RAISE EXCEPTION 'a booking that has started can only be cancelled by the organization''s staff'
      USING ERRCODE = 'insufficient_privilege';
  END IF;
  -- Submitting, resubmitting or moving a request: the rule book again (the booking's own time
  -- is its own, so overlap and capacity are left to the capacity trigger).
  IF NEW.status = 'pending'
     AND (OLD.status IS DISTINCT FROM 'pending'
          OR (NEW.resource_id, NEW.starts_at, NEW.ends_at, NEW.seats, NEW.service_id)
             IS DISTINCT FROM (OLD.resource_id, OLD.starts_at, OLD.ends_at, OLD.seats, OLD.service_id)) THEN
    PERFORM booking_internal.check_professional_takes_client(NEW.resource_id, NEW.booked_by, NEW.student_id, NEW.id);
    PERFORM booking_internal.enforce_booking_rules(NEW.organization_id, NEW.resource_id, NEW.service_id,
                                                   NEW.starts_at, NEW.ends_at, NEW.seats, NEW.id);
  END IF;
  RETURN NEW;
END $$;

-- ---------------------------------------------------------------------------------------------
-- Bookings: capacity, no overlap, bookable resources. Runs as the extension owner so it counts
-- every booking on the resource, not only those the caller may see.
-- ---------------------------------------------------------------------------------------------

CREATE FUNCTION booking_internal.bookings_enforce_capacity() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_capacity integer;
  v_bookable boolean;
  v_title    text;
  v_peak     integer;
  v_window   tstzrange;
BEGIN
  -- Only a resource of the booking's own organization: anything else is for the foreign key to
  -- refuse (23503), without this trigger locking or naming another tenant's resource.
  SELECT capacity, is_bookable, title INTO v_capacity, v_bookable, v_title
  FROM booking.resources WHERE id = NEW.resource_id AND organization_id = NEW.organization_id;
  IF NOT FOUND THEN
    RETURN NEW;
  END IF;

  IF NOT v_bookable AND (TG_OP = 'INSERT' OR NEW.resource_id <> OLD.resource_id)
     AND NOT booking_internal.is_bulk_load() THEN
    RAISE EXCEPTION 'resource "%" is not bookable', v_title
      USING ERRCODE = 'check_violation', CONSTRAINT = 'bookings_resource_bookable',
            DETAIL = format('resource %s has is_bookable = false', NEW.resource_id);
  END IF;

  IF NOT coalesce(NEW.ends_at > NEW.starts_at AND NEW.seats >= 1, false) THEN
    RETURN NEW;  -- the NOT NULL and CHECK constraints report these
  END IF;

  IF booking_internal.holds_time(NEW.status)
     AND (TG_OP = 'INSERT'
          OR NOT booking_internal.holds_time(OLD.status)
          OR (NEW.resource_id, NEW.starts_at, NEW.ends_at, NEW.seats)
             IS DISTINCT FROM (OLD.resource_id, OLD.starts_at, OLD.ends_at, OLD.seats)) THEN
    -- Writers of one resource take turns (see lock_resource).
    v_capacity := booking_internal.lock_resource(NEW.resource_id);

    IF NEW.seats > v_capacity THEN
      RAISE EXCEPTION 'resource "%" has % seat(s); % requested', v_title, v_capacity, NEW.seats
        USING ERRCODE = 'exclusion_violation', CONSTRAINT = 'bookings_capacity',
              DETAIL = format('resource %s', NEW.resource_id);
    END IF;
    v_window := tstzrange(NEW.starts_at, NEW.ends_at, '[)');
    IF v_capacity = 1 THEN
      -- One seat: any overlapping time-holding booking is a double booking.
      IF EXISTS (SELECT 1 FROM booking.bookings b
                 WHERE b.resource_id = NEW.resource_id AND booking_internal.holds_time(b.status)
                   AND b.during && v_window AND b.id IS DISTINCT FROM NEW.id) THEN
        RAISE EXCEPTION 'resource "%" is already booked at some time in %', v_title, v_window
          USING ERRCODE = 'exclusion_violation', CONSTRAINT = 'bookings_no_overlap',
                DETAIL = format('resource %s, window %s', NEW.resource_id, v_window);
      END IF;
    ELSE
      v_peak := booking_internal.held_seats_peak(NEW.resource_id, v_window, NEW.id);
      IF v_peak + NEW.seats > v_capacity THEN
        RAISE EXCEPTION 'resource "%" is full: % of its % seat(s) are already held at some time in %, % more requested',
                        v_title, v_peak, v_capacity, v_window, NEW.seats
          USING ERRCODE = 'exclusion_violation', CONSTRAINT = 'bookings_capacity',
                DETAIL = format('resource %s, window %s', NEW.resource_id, v_window);
      END IF;
    END IF;
  END IF;
  RETURN NEW;
END $$;

-- Every status change, with who made it and why (the reason comes from the `booking.reason`
-- setting, which the lifecycle functions set for the transaction).
CREATE FUNCTION booking_internal.bookings_record_transition() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  INSERT INTO booking.booking_transitions (organization_id, booking_id, from_status, to_status, changed_by, reason)
  VALUES (NEW.organization_id, NEW.id, OLD.status, NEW.status, booking_internal.actor_id(),
          nullif(current_setting('booking.reason', true), ''));
  RETURN NULL;
END $$;

-- Neither fires for a row of a series judged as a whole, under the resource's lock, with the
-- caller's right, the rule book, and the occurrences against the resource's bookings and against
-- each other (src/bookings/judged.rs: only for the INSERT that writes those rows).
CREATE TRIGGER bookings_1_guard BEFORE INSERT OR UPDATE ON booking.bookings
  FOR EACH ROW WHEN (NOT booking_internal.is_judged_booking(NEW.id, NEW.resource_id, NEW.seats, NEW.status, NEW.starts_at, NEW.ends_at))
  EXECUTE FUNCTION booking_internal.bookings_guard();
CREATE TRIGGER bookings_2_capacity BEFORE INSERT OR UPDATE OF resource_id, starts_at, ends_at, seats, status
  ON booking.bookings FOR EACH ROW WHEN (NOT booking_internal.is_judged_booking(NEW.id, NEW.resource_id, NEW.seats, NEW.status, NEW.starts_at, NEW.ends_at))
  EXECUTE FUNCTION booking_internal.bookings_enforce_capacity();

-- The record of judged bookings lasts for the row triggers of the INSERT it was made for: the
-- INSERT's first statement trigger forgets it, before the others (audit, outbox, calendars,
-- events) write anything, to bookings or elsewhere.
CREATE FUNCTION booking_internal.bookings_judged_done() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  PERFORM booking_internal.forget_judged_bookings();
  RETURN NULL;
END $$;
CREATE TRIGGER bookings_0_judged_done AFTER INSERT ON booking.bookings
  FOR EACH STATEMENT WHEN (booking_internal.has_judged_bookings())
  EXECUTE FUNCTION booking_internal.bookings_judged_done();
CREATE TRIGGER bookings_5_transition AFTER UPDATE OF status ON booking.bookings
  FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status)
  EXECUTE FUNCTION booking_internal.bookings_record_transition();

-- Does this person perform the organization's services: an active owner, admin or staff
-- member, or an active professional of it? (About someone else, so it reads past the members
-- policy; the line's own policy has admitted the writer.)
CREATE FUNCTION booking_internal.performs_services(p_organization_id uuid, p_user_id text) RETURNS boolean
LANGUAGE plpgsql STABLE SECURITY DEFINER PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  RETURN EXISTS (SELECT 1 FROM booking.members m
                 WHERE m.organization_id = p_organization_id AND m.user_id = p_user_id AND m.is_active
                   AND (m.role IN ('owner', 'admin', 'staff')
                        OR EXISTS (SELECT 1 FROM booking.professionals p
                                   WHERE p.organization_id = m.organization_id AND p.user_id = m.user_id AND p.active)));
END $$;

-- ---------------------------------------------------------------------------------------------
-- Line items: a booker's line takes its price and duration from the service when it is written,
-- so there is nothing for them to set; the organization's staff may set their own (a discount).
-- Runs as the caller: the service must be one they can see, in the line's organization. The
-- person who performs it (staff_id) is checked for everyone.
-- ---------------------------------------------------------------------------------------------

CREATE FUNCTION booking_internal.booking_services_from_service() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  IF booking_internal.is_bulk_load() THEN
    RETURN NEW;
  END IF;
  IF NEW.staff_id IS NOT NULL AND (TG_OP = 'INSERT' OR NEW.staff_id IS DISTINCT FROM OLD.staff_id)
     AND NOT booking_internal.performs_services(NEW.organization_id, NEW.staff_id) THEN
    RAISE EXCEPTION '% does not perform the organization''s services', NEW.staff_id
      USING ERRCODE = 'check_violation', CONSTRAINT = 'booking_services_staff_performs_services',
            HINT = 'Name one of its owners, admins or staff, or one of its professionals.';
  END IF;
  IF booking_internal.has_staff_rights(NEW.organization_id) THEN
    RETURN NEW;
  END IF;
  SELECT s.price_cents, s.duration_minutes INTO NEW.price_cents, NEW.duration_minutes
  FROM booking.services s WHERE s.id = NEW.service_id AND s.organization_id = NEW.organization_id;
  IF NOT FOUND THEN
    -- Unknown, or not the booker's to see: refused as the foreign key would refuse an unknown
    -- one (never written with the writer's own price and duration, which the SELECT emptied).
    -- Anyone else is refused by row-level security, which checks the row after this trigger.
    IF EXISTS (SELECT 1 FROM booking.bookings b
               WHERE b.id = NEW.booking_id AND b.booked_by = @extschema@.current_user_id()) THEN
      RAISE EXCEPTION 'unknown service % in this organization', NEW.service_id
        USING ERRCODE = 'foreign_key_violation', CONSTRAINT = 'booking_services_service_id_organization_id_fkey';
    END IF;
  END IF;
  RETURN NEW;
END $$;

CREATE TRIGGER booking_services_1_from_service BEFORE INSERT OR UPDATE ON booking.booking_services
  FOR EACH ROW EXECUTE FUNCTION booking_internal.booking_services_from_service();

-- ---------------------------------------------------------------------------------------------
-- Resources: capacity can only shrink to what is already held.
-- ---------------------------------------------------------------------------------------------

CREATE FUNCTION booking_internal.resources_capacity_changed() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_peak integer;
BEGIN
  v_peak := booking_internal.held_seats_peak(NEW.id, '(,)'::tstzrange);
  IF v_peak > NEW.capacity THEN
    RAISE EXCEPTION 'resource % cannot shrink to % seat(s): % are held at once by current bookings',
                    NEW.id, NEW.capacity, v_peak
      USING ERRCODE = 'exclusion_violation', CONSTRAINT = 'bookings_capacity';
  END IF;
  RETURN NULL;
END $$;

CREATE TRIGGER resources_5_capacity AFTER UPDATE OF capacity ON booking.resources
  FOR EACH ROW WHEN (OLD.capacity IS DISTINCT FROM NEW.capacity)
  EXECUTE FUNCTION booking_internal.resources_capacity_changed();

-- May a caller who is not the organization's staff create a booking in this organization for
-- this person? Only for themselves, in an organization they belong to or that is public. The
-- bookings insert policy and bookings_guard both ask this one function (the guard also allows
-- such a caller only a draft or a pending request, and approves it itself where the resource
-- approves by itself, which is why the policy lets 'approved' through).
CREATE FUNCTION booking_internal.booker_may_insert(p_organization_id uuid, p_booked_by text)
RETURNS boolean
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  RETURN p_booked_by = booking.current_user_id() AND booking_internal.may_book_in(p_organization_id);
END $$;

-- bookings: the booker sees and edits their own; staff manage their organization's, a
-- professional (module people) the bookings of their own resource; a guardian sees the
-- bookings for their students (whoever of the guardians booked). A booker
-- may create a draft or pending booking for themselves in an organization they belong to or
-- that is public; which fields and statuses they may change afterwards is bookings_guard's job.
CREATE POLICY bookings_select ON booking.bookings FOR SELECT
  USING (booked_by = (SELECT booking.current_user_id())
         OR organization_id = ANY ((SELECT booking.user_organization_ids('{owner,admin,staff}'))::uuid[])
         OR resource_id = ANY ((SELECT booking_internal.my_professional_resource_ids())::uuid[])
         OR student_id = ANY ((SELECT booking_internal.my_student_ids())::uuid[]));
CREATE POLICY bookings_insert ON booking.bookings FOR INSERT
  WITH CHECK (organization_id = ANY ((SELECT booking.user_organization_ids('{owner,admin,staff}'))::uuid[])
              OR resource_id = ANY ((SELECT booking_internal.my_professional_resource_ids())::uuid[])
              OR (status IN ('draft', 'pending', 'approved')
                  AND booking_internal.booker_may_insert(organization_id, booked_by)));
CREATE POLICY bookings_update ON booking.bookings FOR UPDATE
  USING (booked_by = (SELECT booking.current_user_id())
         OR organization_id = ANY ((SELECT booking.user_organization_ids('{owner,admin,staff}'))::uuid[])
         OR resource_id = ANY ((SELECT booking_internal.my_professional_resource_ids())::uuid[]))
  WITH CHECK (booked_by = (SELECT booking.current_user_id())
              OR organization_id = ANY ((SELECT booking.user_organization_ids('{owner,admin,staff}'))::uuid[])
              OR resource_id = ANY ((SELECT booking_internal.my_professional_resource_ids())::uuid[]));
CREATE POLICY bookings_delete ON booking.bookings FOR DELETE
  USING (organization_id = ANY ((SELECT booking.user_organization_ids('{owner,admin,staff}'))::uuid[]));

-- booking_services: visible with the booking, and to the person who performs the line; the
-- booker edits them while the booking is open.
CREATE POLICY booking_services_select ON booking.booking_services FOR SELECT
  USING (organization_id = ANY ((SELECT booking.user_organization_ids('{owner,admin,staff}'))::uuid[])
         OR staff_id = (SELECT booking.current_user_id())
         OR EXISTS (SELECT 1 FROM booking.bookings b
                    WHERE b.id = booking_id AND b.booked_by = (SELECT booking.current_user_id())));
CREATE POLICY booking_services_insert ON booking.booking_services FOR INSERT
  WITH CHECK (organization_id = ANY ((SELECT booking.user_organization_ids('{owner,admin,staff}'))::uuid[])
              OR EXISTS (SELECT 1 FROM booking.bookings b
                         WHERE b.id = booking_id AND b.booked_by = (SELECT booking.current_user_id())
                           AND b.status IN ('draft', 'pending', 'changes_requested')));
CREATE POLICY booking_services_update ON booking.booking_services FOR UPDATE
  USING (organization_id = ANY ((SELECT booking.user_organization_ids('{owner,admin,staff}'))::uuid[])
         OR EXISTS (SELECT 1 FROM booking.bookings b
                    WHERE b.id = booking_id AND b.booked_by = (SELECT booking.current_user_id())
                      AND b.status IN ('draft', 'pending', 'changes_requested')))
  WITH CHECK (organization_id = ANY ((SELECT booking.user_organization_ids('{owner,admin,staff}'))::uuid[])
              OR EXISTS (SELECT 1 FROM booking.bookings b
                         WHERE b.id = booking_id AND b.booked_by = (SELECT booking.current_user_id())
                           AND b.status IN ('draft', 'pending', 'changes_requested')));
CREATE POLICY booking_services_delete ON booking.booking_services FOR DELETE
  USING (organization_id = ANY ((SELECT booking.user_organization_ids('{owner,admin,staff}'))::uuid[])
         OR EXISTS (SELECT 1 FROM booking.bookings b
                    WHERE b.id = booking_id AND b.booked_by = (SELECT booking.current_user_id())
                      AND b.status IN ('draft', 'pending', 'changes_requested')));

-- booking_notes: the organization's staff only.
CREATE POLICY booking_notes_select ON booking.booking_notes FOR SELECT
  USING (organization_id = ANY ((SELECT booking.user_organization_ids('{owner,admin,staff}'))::uuid[]));
CREATE POLICY booking_notes_insert ON booking.booking_notes FOR INSERT
  WITH CHECK (organization_id = ANY ((SELECT booking.user_organization_ids('{owner,admin,staff}'))::uuid[]));
CREATE POLICY booking_notes_update ON booking.booking_notes FOR UPDATE
  USING (organization_id = ANY ((SELECT booking.user_organization_ids('{owner,admin,staff}'))::uuid[]))
  WITH CHECK (organization_id = ANY ((SELECT booking.user_organization_ids('{owner,admin,staff}'))::uuid[]));
CREATE POLICY booking_notes_delete ON booking.booking_notes FOR DELETE
  USING (organization_id = ANY ((SELECT booking.user_organization_ids('{owner,admin,staff}'))::uuid[]));

-- booking_transitions: read with the booking (by staff, the booker, the resource's
-- professional); written only by the status trigger.
CREATE POLICY booking_transitions_select ON booking.booking_transitions FOR SELECT
  USING (organization_id = ANY ((SELECT booking.user_organization_ids('{owner,admin,staff}'))::uuid[])
         OR EXISTS (SELECT 1 FROM booking.bookings b
                    WHERE b.id = booking_id
                      AND (b.booked_by = (SELECT booking.current_user_id())
                           OR b.resource_id = ANY ((SELECT booking_internal.my_professional_resource_ids())::uuid[]))));

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
-- (book_series judges a whole series with the same two parts: booking_rule_terms once, the
-- engine over every occurrence.)
CREATE FUNCTION booking_internal.enforce_booking_rules(p_organization_id uuid, p_resource_id uuid,
                                                       p_service_id uuid, p_start timestamptz,
                                                       p_end timestamptz, p_seats integer,
                                                       p_booking_id uuid)
RETURNS boolean
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_terms   record;
  v_refusal text;
  v_peak    bigint;
BEGIN
  SELECT * INTO v_terms
  FROM booking_internal.booking_rule_terms(p_organization_id, p_resource_id, p_service_id, p_start, p_end, p_seats);
  IF NOT v_terms.applies THEN
    RETURN false;  -- the foreign keys and CHECK constraints report these
  END IF;
  IF v_terms.service_limit IS NOT NULL THEN
    PERFORM booking_internal.lock_service_rules(p_service_id);
  END IF;
  PERFORM booking_internal.lock_resource(p_resource_id);
  v_refusal := booking.booking_refusal(p_resource_id, p_start, p_end, p_seats, p_service_id);
  IF v_refusal IN ('overlap', 'capacity') AND p_booking_id IS NOT NULL THEN
    v_refusal := NULL;
  END IF;
  IF v_refusal IS NULL AND v_terms.service_limit IS NOT NULL THEN
    -- The most bookings of the service held at one instant of the new one: the peak is at the
    -- start of one of them (or of the new one).
    SELECT coalesce(max(n), 0) INTO v_peak
    FROM (SELECT (SELECT count(*) FROM booking.bookings o
                  WHERE o.service_id = p_service_id AND o.organization_id = p_organization_id
                    AND booking_internal.holds_time(o.status) AND o.id IS DISTINCT FROM p_booking_id
                    AND o.during @> greatest(lower(b.during), p_start)) AS n
          FROM booking.bookings b
          WHERE b.service_id = p_service_id AND b.organization_id = p_organization_id
            AND booking_internal.holds_time(b.status) AND b.id IS DISTINCT FROM p_booking_id
            AND b.during && tstzrange(p_start, p_end)) AS at_starts;
    IF v_peak >= v_terms.service_limit THEN
      RAISE EXCEPTION 'This service is fully booked at that time.'
        USING ERRCODE = 'PT409', DETAIL = 'capacity';
    END IF;
  END IF;
  IF v_refusal IS NOT NULL THEN
    RAISE EXCEPTION '%', booking_internal.refusal_message(v_refusal)
      USING ERRCODE = 'PT409', DETAIL = v_refusal;
  END IF;
  RETURN v_terms.auto_approve;
END $$;

-- The rule book's terms that do not depend on when the booking is (only on how long, and on how
-- many seats): who may book in the organization, a staff-only service (42501), the resource's
-- longest and shortest booking and most seats a booking (PT409 'length', 'seats'). Returns
-- whether the rules apply at all (false for an unknown resource or reversed times, which the
-- foreign keys and CHECK constraints report), whether a booking is approved on submission, and
-- the service's concurrency limit. Runs as the owner, reading nothing of an organization the
-- caller may not book in.
CREATE FUNCTION booking_internal.booking_rule_terms(p_organization_id uuid, p_resource_id uuid,
                                                    p_service_id uuid, p_start timestamptz,
                                                    p_end timestamptz, p_seats integer,
                                                    OUT applies boolean, OUT auto_approve boolean,
                                                    OUT service_limit integer)
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_max_minutes integer;
  v_restricted  jsonb;
  v_auto        boolean;
  v_staff_only  boolean := false;
BEGIN
  IF NOT (booking_internal.may_book_in(p_organization_id) OR booking_internal.is_privileged()) THEN
    RAISE EXCEPTION 'new row violates row-level security policy for table "bookings"'
      USING ERRCODE = 'insufficient_privilege';
  END IF;
  applies := false;
  auto_approve := false;
  SELECT r.max_booking_minutes, r.auto_approve, r.booking_restrictions INTO v_max_minutes, v_auto, v_restricted
  FROM booking.resources r WHERE r.id = p_resource_id AND r.organization_id = p_organization_id;
  IF NOT FOUND OR NOT coalesce(p_end > p_start AND p_seats >= 1, false) THEN
    RETURN;
  END IF;
  IF p_service_id IS NOT NULL THEN
    SELECT sr.staff_only, sr.max_concurrent_bookings, sr.auto_confirm INTO v_staff_only, service_limit, v_auto
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
  -- The resource's own restrictions (module intake adds the column: seed 002).
  IF p_end - p_start < make_interval(mins => (v_restricted ->> 'min_booking_minutes')::integer) THEN
    RAISE EXCEPTION 'That is shorter than this resource can be booked (% minutes at least).', v_restricted ->> 'min_booking_minutes'
      USING ERRCODE = 'PT409', DETAIL = 'length';
  END IF;
  IF p_seats > (v_restricted ->> 'max_seats_per_booking')::integer THEN
    RAISE EXCEPTION '%', booking_internal.refusal_message('seats')
      USING ERRCODE = 'PT409', DETAIL = 'seats',
            HINT = format('At most %s seat(s) a booking.', v_restricted ->> 'max_seats_per_booking');
  END IF;
  applies := true;
  auto_approve := coalesce(v_auto, false);
END $$;

-- What a person reads when a booking is refused for a reason of the rule book.
CREATE FUNCTION booking_internal.refusal_message(p_reason text) RETURNS text
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  RETURN CASE p_reason
    WHEN 'closed'         THEN 'The resource is not open for all of that time.'
    WHEN 'notice'         THEN 'That is too soon: this booking needs more notice.'
    WHEN 'horizon'        THEN 'That is too far ahead to book yet.'
    WHEN 'external_event' THEN 'That time is taken in a linked calendar.'
    WHEN 'overlap'        THEN 'That time is already booked.'
    WHEN 'capacity'       THEN 'Not enough places are left at that time.'
    WHEN 'seats'          THEN 'That is more places than one booking of this resource may take.'
  END;
END $$;

-- The rule book's reason for the capacity trigger's refusal (23P01), by the constraint it names:
-- 'overlap' (capacity 1) or 'capacity'. For the writers that turn it into a PT409.
CREATE FUNCTION booking_internal.exclusion_refusal(p_constraint text) RETURNS text
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  RETURN CASE p_constraint WHEN 'bookings_no_overlap' THEN 'overlap' ELSE 'capacity' END;
END $$;

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
-- p_student_id names the student the booking is for: one the caller is a guardian of, any of
-- the organization's for staff, for the resource's professional one who had a booking on it
-- (42501 otherwise). A professional who takes no new clients
-- refuses a client who never had a booking with them (PT409, DETAIL 'new_client').
-- p_metadata: a JSON object of at most 16 kB (22023 otherwise), kept on the booking.
-- The audit row and the outbox event are written by triggers in the same transaction.
CREATE FUNCTION booking.book(p_resource_id uuid, p_start timestamptz, p_end timestamptz,
                             p_seats integer DEFAULT 1, p_service_id uuid DEFAULT NULL,
                             p_title text DEFAULT NULL, p_notes text DEFAULT NULL,
                             p_use_credit boolean DEFAULT false, p_student_id uuid DEFAULT NULL,
                             p_metadata jsonb DEFAULT NULL)
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
  IF p_resource_id IS NULL OR p_start IS NULL OR p_end IS NULL OR p_seats IS NULL OR p_use_credit IS NULL THEN
    RAISE EXCEPTION 'p_resource_id, p_start, p_end, p_seats and p_use_credit must not be NULL'
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
  PERFORM booking_internal.check_json_object('p_metadata', p_metadata);
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
  IF booking_internal.manages_bookings(v_org, p_resource_id)
     AND booking_internal.enforce_booking_rules(v_org, p_resource_id, p_service_id, p_start, p_end, p_seats, NULL) THEN
    v_status := 'approved';
  END IF;

  BEGIN
    INSERT INTO booking.bookings (organization_id, resource_id, service_id, booked_by, title, client_notes,
                                  starts_at, ends_at, seats, status, source, uses_credit, student_id, metadata)
    VALUES (v_org, p_resource_id, p_service_id, v_user, p_title, p_notes, p_start, p_end, p_seats,
            v_status, 'api', p_use_credit, p_student_id, coalesce(p_metadata, '{}'::jsonb))
    RETURNING * INTO v_row;
  EXCEPTION WHEN exclusion_violation THEN
    -- Only a staff caller's booking gets here: the rule book reports overlap and capacity
    -- of a new booking itself. The capacity trigger names which in its constraint.
    GET STACKED DIAGNOSTICS v_refusal = CONSTRAINT_NAME;
    v_refusal := booking_internal.exclusion_refusal(v_refusal);
    RAISE EXCEPTION '%', booking_internal.refusal_message(v_refusal)
      USING ERRCODE = 'PT409', DETAIL = v_refusal;
  END;
  RETURN v_row;
END $$;


-- Move a booking along the legal transitions: the one RPC for status changes. It runs as the
-- caller, so row-level security decides which bookings they may touch and the bookings_guard
-- trigger which changes (the status table in docs/bookings.md); this function turns their refusals
-- into the API's errors and records the reason. Who may do what: the person who booked may
-- submit a draft, resubmit after changes were requested, and cancel a draft, pending or approved
-- booking until it starts (after that, ask staff); the organization's owners, admins and staff,
-- and a professional for the bookings of their own resource (module people), may make every
-- legal change. Errors: 22023 for a NULL argument, an unknown status, or a
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
  v_staff := booking_internal.manages_bookings(v_old.organization_id, v_old.resource_id);
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
            DETAIL = booking_internal.exclusion_refusal(v_constraint);
  END;
  PERFORM set_config('booking.reason', '', true);
  IF v_row.id IS NULL THEN
    -- Row-level security let the caller read the booking but not update it.
    RAISE EXCEPTION 'you may not change booking %', p_booking_id USING ERRCODE = 'insufficient_privilege';
  END IF;
  RETURN v_row;
END $$;

-- Who may call the status machine, book and change statuses, and write bookings.
CREATE FUNCTION booking_internal.grant_bookings_privileges(p_role text) RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  PERFORM booking_internal.grant_execute(p_role, ARRAY['booking_statuses', 'status_transitions',
                                                       'transition_allowed', 'holds_time']);
  IF p_role <> 'anon' THEN
    -- set_booking_status checks the caller itself; the bookings guard runs as the writer and
    -- calls the rule book
    PERFORM booking_internal.grant_execute(p_role, ARRAY['set_booking_status', 'booker_may_insert',
                                                         'enforce_booking_rules', 'check_professional_takes_client',
                                                         'student_booked_on', 'performs_services', 'is_judged_booking', 'exclusion_refusal',
                                                         'has_judged_bookings', 'forget_judged_bookings']);
  END IF;
  IF p_role = 'authenticated' THEN
    -- book() books for the JWT subject: a user, not service_role
    PERFORM booking_internal.grant_execute(p_role, ARRAY['book']);
    GRANT INSERT, UPDATE, DELETE ON booking.bookings, booking.booking_services, booking.booking_notes
      TO authenticated;
  END IF;
END $$;

-- Documentation in the catalog (\d+, \df+ and PostgREST's OpenAPI show it).
COMMENT ON TABLE booking.bookings IS 'A reservation of a resource for [starts_at, ends_at). pending and approved hold time; no overlap on capacity 1, never above capacity N.';
COMMENT ON TABLE booking.booking_services IS 'The services in a booking, with duration and price at booking time.';
COMMENT ON TABLE booking.booking_transitions IS 'Every status change of a booking, with who made it and why. Written by the database.';
COMMENT ON COLUMN booking.bookings.during IS 'Generated [starts_at, ends_at) range.';
COMMENT ON FUNCTION booking.transition_allowed(text, text, boolean) IS 'May a booking go from one status to another? by_staff false asks whether the booker may do it. Unknown statuses raise 22023.';
COMMENT ON FUNCTION booking.status_transitions() IS 'The legal status changes of a booking, and whether the booker may make each (otherwise staff only).';
COMMENT ON FUNCTION booking.booking_statuses() IS 'The booking statuses in lifecycle order; pending and approved hold time.';
COMMENT ON FUNCTION booking.book(uuid, timestamptz, timestamptz, integer, uuid, text, text, boolean, uuid, jsonb) IS 'Books a resource for the signed-in caller, race-free; refusals raise PT409 (HTTP 409) with the reason in DETAIL; approved when the resource auto-approves, else pending; with p_use_credit, paid with one credit per seat (PT409 insufficient_credit); p_student_id for a student the caller is a guardian of; p_metadata kept on the booking.';
COMMENT ON FUNCTION booking_internal.student_booked_on(uuid, uuid, uuid) IS 'Internal: did this student have another booking on this resource (its professional may book them again)?';
COMMENT ON FUNCTION booking_internal.check_professional_takes_client(uuid, text, uuid, uuid) IS 'Internal: PT409 new_client when the resource''s professional takes no new clients and the booker (or the student) had no approved, completed or no-show booking with them.';
COMMENT ON FUNCTION booking_internal.held_seats_peak(uuid, tstzrange, uuid) IS 'Internal: the most seats held at one instant of a window by the time-holding bookings of a resource.';
COMMENT ON FUNCTION booking_internal.bookings_guard() IS 'Trigger: legal status transitions for everyone; what a booker (not staff) may change.';
COMMENT ON FUNCTION booking_internal.bookings_enforce_capacity() IS 'Trigger: bookable resources, no overlap on a capacity-1 resource and seats within capacity at every instant, under a lock on the resource.';
COMMENT ON FUNCTION booking_internal.bookings_record_transition() IS 'Trigger: records each status change in booking_transitions.';
COMMENT ON FUNCTION booking_internal.resources_capacity_changed() IS 'Trigger: capacity cannot shrink below the seats held.';
COMMENT ON FUNCTION booking.set_booking_status(uuid, text, text) IS 'Moves a booking along the legal transitions for the caller (bookers: submit, resubmit, cancel until the start; staff and admins: every legal change), with a reason; PT409 for an illegal change or a booking that no longer fits, 42501 without the right, 22023 for bad input or an unknown booking.';
COMMENT ON FUNCTION booking_internal.lock_service_rules(uuid) IS 'Internal: locks a service''s rules row for the rest of the transaction (once per transaction, as lock_resource) so that bookers of a service with a concurrency limit take turns.';
COMMENT ON FUNCTION booking_internal.lock_resource(uuid) IS 'Internal: locks a resource row for the rest of the transaction (a no-op update, skipped when the row version seen was written by this transaction) so that its writers take turns; returns its capacity.';
COMMENT ON FUNCTION booking_internal.booker_may_insert(uuid, text) IS 'Internal: may a caller who is not staff create a booking in this organization for this person (themselves, in an organization they belong to or that is public)? Used by the bookings insert policy and bookings_guard.';
COMMENT ON FUNCTION booking_internal.booking_services_from_service() IS 'Trigger: a line item written by a booker takes its price and duration from the service; whoever writes it names as staff_id someone who performs services.';
COMMENT ON FUNCTION booking_internal.performs_services(uuid, text) IS 'Internal: is this person an active owner, admin or staff member, or an active professional, of the organization?';
COMMENT ON FUNCTION booking_internal.remember_judged_bookings(uuid, integer, text, uuid[], timestamptz[], timestamptz[]) IS 'Internal (owner only): records bookings about to be inserted as judged by the rule book as a whole (a series), for that INSERT''s row triggers; see src/bookings/judged.rs.';
COMMENT ON FUNCTION booking_internal.forget_judged_bookings() IS 'Internal: forgets the judged bookings (bookings_0_judged_done, after the INSERT''s row triggers).';
COMMENT ON FUNCTION booking_internal.has_judged_bookings() IS 'Internal: is anything recorded as judged (bookings_0_judged_done''s WHEN)?';
COMMENT ON FUNCTION booking_internal.is_judged_booking(uuid, uuid, integer, text, timestamptz, timestamptz) IS 'Internal: is this row one of the recorded judged bookings, in id, resource, seats, status and times? The WHEN clause of the bookings triggers that judge a row.';
COMMENT ON FUNCTION booking_internal.bookings_judged_done() IS 'Statement trigger: forgets the judged bookings once the INSERT''s row triggers are done.';
COMMENT ON FUNCTION booking_internal.exclusion_refusal(text) IS 'Internal: the rule book''s reason (overlap, capacity) for the capacity trigger''s refusal, by the constraint it names.';
COMMENT ON FUNCTION booking_internal.booking_rule_terms(uuid, uuid, uuid, timestamptz, timestamptz, integer) IS 'Internal: the rule book''s terms that do not depend on when (may book in the organization, staff-only service, longest and shortest booking, seats a booking); whether the rules apply, whether approved on submission, the service''s concurrency limit.';
COMMENT ON FUNCTION booking_internal.enforce_booking_rules(uuid, uuid, uuid, timestamptz, timestamptz, integer, uuid) IS 'Internal: the rule book (staff-only service, length, opening hours, notice, horizon, the service''s concurrency limit, and for a new booking overlap and capacity) that bookings_guard applies to direct writes by non-staff and book() to every caller; 42501 or PT409 with the reason in DETAIL; returns whether the booking is approved on submission.';
COMMENT ON FUNCTION booking_internal.refusal_message(text) IS 'Internal: the sentence a person reads for a refusal reason of the rule book.';
COMMENT ON TABLE booking.booking_notes IS 'Staff''s notes on a booking (one row per booking): readable and writable by the organization''s owners, admins and staff and by service_role only; the person who booked never sees them.';
COMMENT ON FUNCTION booking_internal.holds_time(text) IS 'True for the statuses that hold time (pending, approved): they count against capacity and overlap and show in availability.';
COMMENT ON FUNCTION booking_internal.grant_bookings_privileges(text) IS 'Internal: the bookings module''s grants to an API role (called by grant_api_privileges).';
