-- booking_ext: integrity rules the database enforces whoever writes.
--
-- Two kinds of rule, and why they differ on a restore:
-- * data invariants (time order, seats, capacity, no overlap, same tenant, status values) hold in
--   every valid database, so they are checked on every row, a pg_dump restore included;
-- * rules about the act of writing (who may make which status change, no new booking on a
--   resource that is not bookable) and side effects (audit rows) judge a live write. A restore
--   replays rows that were already judged, with `row_security = off` (pg_dump and pg_restore set
--   it; only roles that bypass RLS can write then), so these are skipped in that mode.
--
-- Trigger functions are schema-qualified and pin search_path: a restore runs with search_path ''.

-- The role the caller acts as, by name (the audit log's actor_role outside the API): its SET
-- ROLE (PostgREST sets one per request), else its login role. Inside a SECURITY DEFINER function
-- current_user is the function's owner, so rights are never judged by current_user.
CREATE FUNCTION booking_internal.calling_role() RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$ SELECT CASE current_setting('role') WHEN 'none' THEN session_user::text ELSE current_setting('role') END $$;

-- booking_internal.is_privileged() and is_bulk_load() are native (src/caller.rs): the triggers
-- ask them on every write.

-- The actor recorded in transitions and the audit log: the JWT subject, else the login role.
CREATE FUNCTION booking_internal.actor_id() RETURNS text
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  RETURN coalesce(@extschema@.current_user_id(), session_user::text);
END $$;

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
      AND b.status IN ('pending', 'approved')
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

-- ---------------------------------------------------------------------------------------------
-- updated_at and time zones
-- ---------------------------------------------------------------------------------------------

CREATE FUNCTION booking_internal.touch_updated_at() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  -- Only real changes: lock_resource's no-op update of a resource leaves it as it was.
  -- (Tested here rather than in a WHEN clause: BEFORE triggers' WHEN cannot see generated columns.)
  IF NEW IS DISTINCT FROM OLD THEN
    NEW.updated_at := now();
  END IF;
  RETURN NEW;
END $$;

CREATE FUNCTION booking_internal.check_time_zone() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  IF NEW.time_zone IS NOT NULL AND NOT @extschema@.is_valid_time_zone(NEW.time_zone) THEN
    RAISE EXCEPTION 'unknown time zone "%"', NEW.time_zone
      USING ERRCODE = 'invalid_parameter_value',
            HINT = 'Use an IANA name such as ''Europe/Paris'' (see pg_timezone_names).';
  END IF;
  RETURN NEW;
END $$;

-- A row never moves to another organization, whoever asks (service_role included): its
-- children, audit trail and notifications belong to the tenant it was made in. Copy it instead.
CREATE FUNCTION booking_internal.organization_is_fixed() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  RAISE EXCEPTION 'a row of booking.% cannot move to another organization', TG_TABLE_NAME
    USING ERRCODE = 'insufficient_privilege',
          HINT = 'Create it in the other organization (and cancel or delete this one) instead.';
END $$;

-- The triggers a table gets for the columns it has, read from the catalog so that a new table
-- gets them without being listed anywhere: updated_at kept current, organization_id fixed.
DO $$
DECLARE r record;
BEGIN
  FOR r IN SELECT c.relname, a.attname
           FROM pg_catalog.pg_class c JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid
           WHERE c.relnamespace = 'booking'::regnamespace AND c.relkind = 'r' AND NOT a.attisdropped
             AND a.attname IN ('updated_at', 'organization_id')
  LOOP
    IF r.attname = 'updated_at' THEN
      EXECUTE format('CREATE TRIGGER %I BEFORE UPDATE ON booking.%I
                      FOR EACH ROW EXECUTE FUNCTION booking_internal.touch_updated_at()',
                     r.relname || '_9_touch_updated_at', r.relname);
    ELSE
      EXECUTE format('CREATE TRIGGER %I BEFORE UPDATE OF organization_id ON booking.%I
                      FOR EACH ROW WHEN (OLD.organization_id IS DISTINCT FROM NEW.organization_id)
                      EXECUTE FUNCTION booking_internal.organization_is_fixed()',
                     r.relname || '_0_organization_fixed', r.relname);
    END IF;
  END LOOP;
END $$;

CREATE TRIGGER organizations_1_time_zone BEFORE INSERT OR UPDATE OF time_zone ON booking.organizations
  FOR EACH ROW EXECUTE FUNCTION booking_internal.check_time_zone();
CREATE TRIGGER resources_1_time_zone BEFORE INSERT OR UPDATE OF time_zone ON booking.resources
  FOR EACH ROW EXECUTE FUNCTION booking_internal.check_time_zone();

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

  v_staff := booking_internal.has_staff_rights(NEW.organization_id);
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
  IF v_staff THEN
    -- Staff book for the organization's members only (service_role for anyone), so a status
    -- change never sends their words to a stranger.
    IF NOT booking_internal.is_privileged()
       AND (TG_OP = 'INSERT' OR NEW.booked_by IS DISTINCT FROM OLD.booked_by)
       AND NEW.booked_by IS DISTINCT FROM @extschema@.current_user_id()
       AND NOT EXISTS (SELECT 1 FROM booking.members m
                       WHERE m.organization_id = NEW.organization_id AND m.user_id = NEW.booked_by AND m.is_active) THEN
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
       OR NEW.source NOT IN ('app', 'api') OR NEW.external_calendar_event_id IS NOT NULL THEN
      RAISE EXCEPTION 'only staff can set approval, source or calendar fields'
        USING ERRCODE = 'insufficient_privilege';
    END IF;
    -- The rule book, as book() applies it; a request for a resource or service that approves
    -- by itself is approved at once, as through book().
    IF NEW.status = 'pending' THEN
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
  IF (NEW.booked_by, NEW.approved_by, NEW.approved_at, NEW.source, NEW.external_calendar_event_id)
     IS DISTINCT FROM
     (OLD.booked_by, OLD.approved_by, OLD.approved_at, OLD.source, OLD.external_calendar_event_id) THEN
    RAISE EXCEPTION 'only staff can change booked_by, approval, source or calendar fields'
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

  IF NEW.status IN ('pending', 'approved')
     AND (TG_OP = 'INSERT'
          OR OLD.status NOT IN ('pending', 'approved')
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
                 WHERE b.resource_id = NEW.resource_id AND b.status IN ('pending', 'approved')
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

CREATE TRIGGER bookings_1_guard BEFORE INSERT OR UPDATE ON booking.bookings
  FOR EACH ROW EXECUTE FUNCTION booking_internal.bookings_guard();
CREATE TRIGGER bookings_2_capacity BEFORE INSERT OR UPDATE OF resource_id, starts_at, ends_at, seats, status
  ON booking.bookings FOR EACH ROW EXECUTE FUNCTION booking_internal.bookings_enforce_capacity();
CREATE TRIGGER bookings_5_transition AFTER UPDATE OF status ON booking.bookings
  FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status)
  EXECUTE FUNCTION booking_internal.bookings_record_transition();

-- ---------------------------------------------------------------------------------------------
-- Line items: a booker's line takes its price and duration from the service when it is written,
-- so there is nothing for them to set; the organization's staff may set their own (a discount).
-- Runs as the caller: the service must be one they can see, in the line's organization.
-- ---------------------------------------------------------------------------------------------

CREATE FUNCTION booking_internal.booking_services_from_service() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  IF booking_internal.is_bulk_load() OR booking_internal.has_staff_rights(NEW.organization_id) THEN
    RETURN NEW;
  END IF;
  SELECT s.price_cents, s.duration_minutes INTO NEW.price_cents, NEW.duration_minutes
  FROM booking.services s WHERE s.id = NEW.service_id AND s.organization_id = NEW.organization_id;
  RETURN NEW;  -- an unknown service leaves the values as given, for the foreign key to refuse
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

-- ---------------------------------------------------------------------------------------------
-- Audit: every insert, update and delete of the business tables, append-only.
-- ---------------------------------------------------------------------------------------------

CREATE FUNCTION booking_internal.audit_row_change() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_old jsonb := CASE WHEN TG_OP <> 'INSERT' THEN to_jsonb(OLD) END;
  v_new jsonb := CASE WHEN TG_OP <> 'DELETE' THEN to_jsonb(NEW) END;
  v_row jsonb := coalesce(v_new, v_old);
  v_key text;
BEGIN
  IF booking_internal.is_bulk_load() THEN
    RETURN NULL;  -- a restore brings its audit rows with it
  END IF;
  IF TG_OP = 'UPDATE' THEN
    -- Keep only the columns that changed; updated_at is noise.
    FOR v_key IN SELECT jsonb_object_keys(v_new) LOOP
      IF v_new -> v_key IS NOT DISTINCT FROM v_old -> v_key OR v_key = 'updated_at' THEN
        v_new := v_new - v_key;
        v_old := v_old - v_key;
      END IF;
    END LOOP;
    IF v_new = '{}'::jsonb THEN
      RETURN NULL;
    END IF;
  END IF;
  INSERT INTO booking.audit_log (organization_id, entity_type, entity_id, action, actor_id, actor_role,
                                 old_values, new_values, reason, source)
  VALUES (coalesce(v_row ->> 'organization_id', CASE TG_TABLE_NAME WHEN 'organizations' THEN v_row ->> 'id' END)::uuid,
          TG_TABLE_NAME,
          -- the row's id; a line item's booking; a service's rules by service
          coalesce(v_row ->> 'id', v_row ->> 'booking_id', v_row ->> 'service_id')::uuid,
          lower(TG_OP),
          booking.current_user_id(),
          coalesce(nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'role', session_user::text),
          v_old, v_new,
          nullif(current_setting('booking.reason', true), ''),
          'trigger');
  RETURN NULL;
END $$;

DO $$
DECLARE t text;
BEGIN
  -- Not audited: notifications (messages about audited changes; marking one read is noise),
  -- booking_transitions, audit_log and outbox (records themselves).
  FOREACH t IN ARRAY ARRAY['organizations', 'bookings', 'booking_services', 'booking_notes', 'resources', 'members',
                           'availability_rules', 'availability_exceptions', 'services',
                           'service_rules', 'conflicts'] LOOP
    EXECUTE format('CREATE TRIGGER %I AFTER INSERT OR DELETE ON booking.%I
                    FOR EACH ROW EXECUTE FUNCTION booking_internal.audit_row_change()',
                   t || '_8_audit', t);
    EXECUTE format('CREATE TRIGGER %I AFTER UPDATE ON booking.%I
                    FOR EACH ROW WHEN (OLD.* IS DISTINCT FROM NEW.*)
                    EXECUTE FUNCTION booking_internal.audit_row_change()',
                   t || '_8_audit_update', t);
  END LOOP;
END $$;

CREATE FUNCTION booking_internal.audit_log_append_only() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  RAISE EXCEPTION 'booking.audit_log is append-only: % is not allowed', TG_OP
    USING ERRCODE = 'insufficient_privilege';
END $$;

CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON booking.audit_log
  FOR EACH ROW EXECUTE FUNCTION booking_internal.audit_log_append_only();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON booking.audit_log
  FOR EACH STATEMENT EXECUTE FUNCTION booking_internal.audit_log_append_only();

-- ---------------------------------------------------------------------------------------------
-- Outbox: every booking creation and status change, in the same transaction (seed 000).
-- ---------------------------------------------------------------------------------------------

CREATE FUNCTION booking_internal.bookings_enqueue_outbox() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  IF booking_internal.is_bulk_load() THEN
    RETURN NULL;  -- a restore brings its outbox rows with it
  END IF;
  INSERT INTO booking.outbox (organization_id, topic, payload)
  VALUES (NEW.organization_id,
          CASE TG_OP WHEN 'INSERT' THEN 'booking.created' ELSE 'booking.status_changed' END,
          jsonb_build_object('booking_id', NEW.id, 'resource_id', NEW.resource_id,
                             'status', NEW.status, 'previous_status', CASE WHEN TG_OP = 'UPDATE' THEN OLD.status END,
                             'starts_at', NEW.starts_at, 'ends_at', NEW.ends_at, 'seats', NEW.seats,
                             'booked_by', NEW.booked_by));
  RETURN NULL;
END $$;

CREATE TRIGGER bookings_6_outbox_insert AFTER INSERT ON booking.bookings
  FOR EACH ROW EXECUTE FUNCTION booking_internal.bookings_enqueue_outbox();
CREATE TRIGGER bookings_6_outbox_status AFTER UPDATE OF status ON booking.bookings
  FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status)
  EXECUTE FUNCTION booking_internal.bookings_enqueue_outbox();

-- ---------------------------------------------------------------------------------------------
-- Bookings: notifications of status changes, in the same transaction. The booker hears of every
-- change of their booking's status; the organization's owners, admins and staff hear of every
-- new request waiting for them (a booking that becomes pending). Runs as the extension owner:
-- a client submitting a request may not write to staff's notifications themselves.
-- ---------------------------------------------------------------------------------------------

CREATE FUNCTION booking_internal.bookings_notify() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_what     text := coalesce(NEW.title, 'booking');
  v_metadata jsonb := jsonb_strip_nulls(jsonb_build_object(
                        'booking_id', NEW.id, 'resource_id', NEW.resource_id,
                        'status', NEW.status, 'previous_status', CASE WHEN TG_OP = 'UPDATE' THEN OLD.status END,
                        'starts_at', NEW.starts_at, 'ends_at', NEW.ends_at,
                        'reason', nullif(current_setting('booking.reason', true), ''),
                        'changed_by', booking_internal.actor_id()));
BEGIN
  IF booking_internal.is_bulk_load() THEN
    RETURN NULL;
  END IF;
  IF TG_OP = 'UPDATE' THEN
    INSERT INTO booking.notifications (organization_id, recipient_id, notification_type, message, metadata)
    VALUES (NEW.organization_id, NEW.booked_by, 'booking_status',
            format('Your %s is now %s.', v_what, replace(NEW.status, '_', ' ')), v_metadata);
  END IF;
  IF NEW.status = 'pending' THEN
    INSERT INTO booking.notifications (organization_id, recipient_id, notification_type, message, metadata)
    SELECT NEW.organization_id, m.user_id, 'booking_request',
           format('New request to approve: %s.', v_what), v_metadata
    FROM booking.members m
    WHERE m.organization_id = NEW.organization_id AND m.is_active
      AND m.role IN ('owner', 'admin', 'staff') AND m.user_id <> NEW.booked_by;
  END IF;
  RETURN NULL;
END $$;

CREATE TRIGGER bookings_7_notify_insert AFTER INSERT ON booking.bookings
  FOR EACH ROW WHEN (NEW.status = 'pending')
  EXECUTE FUNCTION booking_internal.bookings_notify();
CREATE TRIGGER bookings_7_notify_status AFTER UPDATE OF status ON booking.bookings
  FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status)
  EXECUTE FUNCTION booking_internal.bookings_notify();
