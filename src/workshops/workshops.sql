-- booking_ext, module workshops: group activities (seed 000). A workshop has sessions; each
-- session holds one booking of a room (so the room's capacity and overlap rules apply to it)
-- and a number of seats; people register for a session, and when it is full they wait in line.
--
-- The rules live in the tables' triggers, so an RPC and a direct write through PostgREST meet
-- the same ones: a registration's status, queue number and times are derived, never taken from
-- the writer; a seat freed by a cancellation (or a capacity raised, or an offer expired) goes to
-- the people waiting, in the order they joined, in the same transaction. Writers of one session
-- take turns under a lock on its row, taken only after the caller's right to write is
-- established.
--
-- Registration statuses: registered, waitlisted, offered (offer mode: a seat held for the next
-- person until the offer expires), cancelled, attended, no_show. Seats are held by registered,
-- attended and unexpired offered registrations.

CREATE TABLE booking.workshops (
  id                     uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  organization_id        uuid NOT NULL REFERENCES booking.organizations (id) ON DELETE CASCADE,
  title                  text NOT NULL CHECK (length(btrim(title)) > 0) CONSTRAINT workshops_title_size CHECK (length(title) <= 200),
  description            text CONSTRAINT workshops_description_size CHECK (length(description) <= 4000),
  -- the instructor's user id (JWT subject); the seed's instructor profile
  instructor_id          text CONSTRAINT workshops_instructor_id_size CHECK (length(instructor_id) <= 200),
  default_resource_id    uuid,
  -- the seats of a new session when create_session is not told
  capacity               integer CHECK (capacity BETWEEN 1 AND 10000),
  is_public              boolean NOT NULL DEFAULT true,
  status                 text NOT NULL DEFAULT 'draft' CHECK (status IN ('draft', 'published', 'cancelled')),
  registration_open_at   timestamptz,
  registration_close_at  timestamptz,
  -- a registrant may check in from this many minutes before a session starts until it ends
  check_in_minutes       integer NOT NULL DEFAULT 30 CHECK (check_in_minutes BETWEEN 0 AND 1440),
  -- offer mode: a freed seat is offered to the next person for this many minutes instead of
  -- being given at once (NULL: given at once)
  offer_minutes          integer CHECK (offer_minutes BETWEEN 1 AND 10080),
  metadata               jsonb NOT NULL DEFAULT '{}'::jsonb CHECK (jsonb_typeof(metadata) = 'object')
                         CONSTRAINT workshops_metadata_size CHECK (octet_length(metadata::text) <= 16384),
  created_at             timestamptz NOT NULL DEFAULT now(),
  updated_at             timestamptz NOT NULL DEFAULT now(),
  UNIQUE (id, organization_id),
  CONSTRAINT workshops_registration_window CHECK (registration_close_at > registration_open_at),
  CONSTRAINT workshops_default_resource_same_organization FOREIGN KEY (default_resource_id, organization_id)
    REFERENCES booking.resources (id, organization_id)
);
CREATE INDEX workshops_organization_id_idx ON booking.workshops (organization_id, status);
CREATE INDEX workshops_default_resource_id_idx ON booking.workshops (default_resource_id, organization_id)
  WHERE default_resource_id IS NOT NULL;
SELECT booking_internal.register_table('workshops', 'workshops', true, 'workshop');

CREATE TABLE booking.workshop_sessions (
  id               uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  organization_id  uuid NOT NULL,
  workshop_id      uuid NOT NULL,
  -- the booking of the room: the session's time is the booking's (one session per booking)
  booking_id       uuid NOT NULL,
  -- the seats people may register for; never more than the booking holds (NULL on insert: the
  -- booking's seats)
  capacity         integer NOT NULL CHECK (capacity BETWEEN 1 AND 10000),
  -- derived from the booking, for the people who may read the session but not the booking
  resource_id      uuid NOT NULL,
  starts_at        timestamptz NOT NULL,
  ends_at          timestamptz NOT NULL,
  is_cancelled     boolean NOT NULL DEFAULT false,
  created_at       timestamptz NOT NULL DEFAULT now(),
  updated_at       timestamptz NOT NULL DEFAULT now(),
  UNIQUE (id, organization_id),
  CONSTRAINT workshop_sessions_one_per_booking UNIQUE (booking_id, organization_id),
  CONSTRAINT workshop_sessions_workshop_same_organization FOREIGN KEY (workshop_id, organization_id)
    REFERENCES booking.workshops (id, organization_id) ON DELETE CASCADE,
  CONSTRAINT workshop_sessions_booking_same_organization FOREIGN KEY (booking_id, organization_id)
    REFERENCES booking.bookings (id, organization_id) ON DELETE CASCADE
);
CREATE INDEX workshop_sessions_workshop_id_idx ON booking.workshop_sessions (workshop_id, organization_id);
CREATE INDEX workshop_sessions_organization_id_idx ON booking.workshop_sessions (organization_id, starts_at);
SELECT booking_internal.register_table('workshop_sessions', 'workshops', true, 'workshop_session');

-- The order people joined a session's waiting line in (a registration's queue_number).
CREATE SEQUENCE booking_internal.workshop_queue_numbers;
-- pg_dump keeps its value: restored lines must keep their order for the people who join later.
SELECT pg_catalog.pg_extension_config_dump('booking_internal.workshop_queue_numbers', '');

CREATE TABLE booking.workshop_registrations (
  id                  uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  -- derived from the session
  organization_id     uuid NOT NULL,
  workshop_id         uuid NOT NULL,
  session_id          uuid NOT NULL,
  -- the person (JWT subject); the seed's clerk_user_id
  user_id             text NOT NULL DEFAULT booking.current_user_id() CHECK (length(user_id) > 0)
                      CONSTRAINT workshop_registrations_user_id_size CHECK (length(user_id) <= 200),
  seats               integer NOT NULL DEFAULT 1 CHECK (seats BETWEEN 1 AND 100),
  status              text NOT NULL DEFAULT 'registered'
                      CHECK (status IN ('registered', 'waitlisted', 'offered', 'cancelled', 'attended', 'no_show')),
  -- derived: the place in the session's line (ordered, not dense); waitlist_position() ranks it
  queue_number        bigint NOT NULL DEFAULT 0,
  offer_expires_at    timestamptz,
  registered_at       timestamptz NOT NULL DEFAULT now(),
  cancelled_at        timestamptz,
  cancellation_reason text CONSTRAINT workshop_registrations_cancellation_reason_size CHECK (length(cancellation_reason) <= 4000),
  checkin_at          timestamptz,
  metadata            jsonb NOT NULL DEFAULT '{}'::jsonb CHECK (jsonb_typeof(metadata) = 'object')
                      CONSTRAINT workshop_registrations_metadata_size CHECK (octet_length(metadata::text) <= 16384),
  created_at          timestamptz NOT NULL DEFAULT now(),
  updated_at          timestamptz NOT NULL DEFAULT now(),
  -- one registration per person and session (cancelled ones are registered again in place)
  CONSTRAINT workshop_registrations_one_per_person UNIQUE (session_id, user_id),
  CONSTRAINT workshop_registrations_offer_expiry CHECK ((status = 'offered') = (offer_expires_at IS NOT NULL)),
  CONSTRAINT workshop_registrations_session_same_organization FOREIGN KEY (session_id, organization_id)
    REFERENCES booking.workshop_sessions (id, organization_id) ON DELETE CASCADE,
  CONSTRAINT workshop_registrations_workshop_same_organization FOREIGN KEY (workshop_id, organization_id)
    REFERENCES booking.workshops (id, organization_id) ON DELETE CASCADE
);
CREATE INDEX workshop_registrations_organization_id_idx ON booking.workshop_registrations (organization_id);
CREATE INDEX workshop_registrations_session_id_idx ON booking.workshop_registrations (session_id, organization_id);
CREATE INDEX workshop_registrations_user_id_idx ON booking.workshop_registrations (user_id, organization_id);
CREATE INDEX workshop_registrations_workshop_id_idx ON booking.workshop_registrations (workshop_id, organization_id);
-- The waiting line of a session, in order.
CREATE INDEX workshop_registrations_line_idx ON booking.workshop_registrations (session_id, queue_number)
  WHERE status = 'waitlisted';
SELECT booking_internal.register_table('workshop_registrations', 'workshops', true, 'workshop_registration');

-- ---------------------------------------------------------------------------------------------
-- Seats and the waiting line. Owner-only helpers: the triggers below call them once the
-- caller's right is established.
-- ---------------------------------------------------------------------------------------------

-- Does a registration in this state hold seats now?
CREATE FUNCTION booking_internal.registration_holds_seats(p_status text, p_offer_expires_at timestamptz)
RETURNS boolean
LANGUAGE sql STABLE PARALLEL SAFE
RETURN p_status IN ('registered', 'attended') OR (p_status = 'offered' AND p_offer_expires_at > now());

-- Lock a session for the rest of the transaction (as lock_resource does a resource: a no-op
-- update, once per transaction), so that its writers take turns.
CREATE FUNCTION booking_internal.lock_workshop_session(p_session_id uuid) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  IF EXISTS (SELECT 1 FROM booking.workshop_sessions
             WHERE id = p_session_id AND NOT booking_internal.written_by_this_transaction(xmin)) THEN
    PERFORM booking_internal.take_session_lock(p_session_id);
  END IF;
END $$;

-- The lock itself, for a writer that has just seen (its row version not this transaction's)
-- that it does not hold it: the no-op update; returns the capacity read under it.
CREATE FUNCTION booking_internal.take_session_lock(p_session_id uuid) RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_capacity integer;
BEGIN
  UPDATE booking.workshop_sessions SET capacity = capacity WHERE id = p_session_id RETURNING capacity INTO v_capacity;
  RETURN v_capacity;
END $$;

-- The seats a session's registrations hold now.
-- (PL/pgSQL rather than SQL here and in session_facts: a SQL function with a SET clause is
-- planned on every call; PL/pgSQL keeps its plans.)
CREATE FUNCTION booking_internal.session_seats_held(p_session_id uuid) RETURNS integer
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  RETURN (SELECT coalesce(sum(r.seats), 0)::integer FROM booking.workshop_registrations r
          WHERE r.session_id = p_session_id AND booking_internal.registration_holds_seats(r.status, r.offer_expires_at));
END $$;

-- What a registration needs to know about its session (NULL when there is no such session).
-- With p_lock the session is locked first (lock_workshop_session), so that what is read holds
-- until the transaction ends: the writers' one call for both.
CREATE FUNCTION booking_internal.session_facts(p_session_id uuid, p_lock boolean,
  OUT organization_id uuid, OUT workshop_id uuid, OUT capacity integer, OUT starts_at timestamptz,
  OUT ends_at timestamptz, OUT session_holds_time boolean, OUT session_cancelled boolean, OUT workshop_status text,
  OUT workshop_is_public boolean, OUT organization_is_public boolean, OUT registration_open_at timestamptz,
  OUT registration_close_at timestamptz, OUT check_in_minutes integer, OUT offer_minutes integer, OUT title text)
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  IF p_lock THEN
    PERFORM booking_internal.lock_workshop_session(p_session_id);
  END IF;
  SELECT s.organization_id, s.workshop_id, s.capacity, b.starts_at, b.ends_at, booking_internal.holds_time(b.status),
         b.status IN ('cancelled', 'rejected'), w.status, w.is_public, o.is_public, w.registration_open_at, w.registration_close_at,
         w.check_in_minutes, w.offer_minutes, w.title
  INTO organization_id, workshop_id, capacity, starts_at, ends_at, session_holds_time, session_cancelled, workshop_status,
       workshop_is_public, organization_is_public, registration_open_at, registration_close_at, check_in_minutes,
       offer_minutes, title
  FROM booking.workshop_sessions s
  JOIN booking.bookings b ON b.id = s.booking_id
  JOIN booking.workshops w ON w.id = s.workshop_id
  JOIN booking.organizations o ON o.id = s.organization_id
  WHERE s.id = p_session_id;
END $$;

-- Lock the session of a registration the caller may change (theirs, or staff's), before the
-- RPCs change it: the session's lock is always taken before a registration's row lock, as a
-- cancellation that frees a seat takes them (its session, then the next person's row), so two
-- writers of one session never wait on each other crosswise. Nothing happens for anyone
-- else's registration (the update that follows then finds no row). The lock is
-- lock_workshop_session's (a no-op update of the session's row, once per transaction), taken
-- here with the same read that finds the registration.
CREATE FUNCTION booking_internal.lock_session_of_registration(p_registration_id uuid) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_session uuid;
  v_locked  boolean;
BEGIN
  SELECT r.session_id, booking_internal.written_by_this_transaction(s.xmin) INTO v_session, v_locked
  FROM booking.workshop_registrations r
  JOIN booking.workshop_sessions s ON s.id = r.session_id
  WHERE r.id = p_registration_id
    AND (r.user_id = booking.current_user_id() OR booking_internal.has_staff_rights(r.organization_id));
  IF FOUND AND NOT v_locked THEN
    PERFORM booking_internal.take_session_lock(v_session);
  END IF;
END $$;

-- Tell a person about their registration: a notification (its text the organization's
-- template of p_type, else the built-in one, filled with p_data and the registration's status and
-- seats) and an outbox event, in the same transaction as the change.
CREATE FUNCTION booking_internal.notify_registrant(p_registration booking.workshop_registrations, p_type text,
                                                   p_data jsonb) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_metadata jsonb := jsonb_strip_nulls(jsonb_build_object(
                        'registration_id', p_registration.id, 'session_id', p_registration.session_id,
                        'workshop_id', p_registration.workshop_id, 'status', p_registration.status,
                        'offer_expires_at', p_registration.offer_expires_at));
BEGIN
  INSERT INTO booking.notifications (organization_id, recipient_id, notification_type, message, metadata)
  VALUES (p_registration.organization_id, p_registration.user_id, p_type,
          booking_internal.render_notification(p_registration.organization_id, p_type,
            p_data || jsonb_build_object('status', p_registration.status, 'seats', p_registration.seats)),
          v_metadata);
  INSERT INTO booking.outbox (organization_id, topic, payload)
  VALUES (p_registration.organization_id, 'workshop.' || p_type,
          v_metadata || jsonb_build_object('user_id', p_registration.user_id));
END $$;

-- Give a session's free seats to the people waiting, in the order they joined: first expired
-- offers give their seats back, then the first in line gets a seat (or, in offer mode, an
-- offer) while their seats fit; the line stops at the first who does not fit, so nobody is
-- overtaken. Nothing moves once the session has started or no longer holds its room. Called
-- under the session's lock by every write that can free a seat, and by advance_waitlists().
-- Returns how many registrations it changed.
CREATE FUNCTION booking_internal.fill_session(p_session_id uuid) RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_locked  boolean;
  v_work    boolean;
  v_session record;
  v_free    integer;
  v_next    booking.workshop_registrations;
  v_changed integer := 0;
BEGIN
  -- One look first: does this transaction hold the session's lock already (the writes that
  -- free a seat took it), and is anyone waiting or any offer lapsed? Nothing else can move
  -- the line: with nobody waiting and no lapsed offer there is nothing to do.
  SELECT booking_internal.written_by_this_transaction(s.xmin),
         EXISTS (SELECT 1 FROM booking.workshop_registrations r WHERE r.session_id = s.id AND r.status = 'waitlisted')
         OR EXISTS (SELECT 1 FROM booking.workshop_registrations r
                    WHERE r.session_id = s.id AND r.status = 'offered' AND r.offer_expires_at <= now())
  INTO v_locked, v_work
  FROM booking.workshop_sessions s WHERE s.id = p_session_id;
  IF NOT FOUND THEN
    RETURN 0;  -- no such session (deleted, with its registrations)
  ELSIF NOT v_locked THEN
    -- not locked yet (a deleted registration, advance_waitlists): the lock, then what
    -- follows reads under it
    PERFORM booking_internal.take_session_lock(p_session_id);
  ELSIF NOT v_work THEN
    RETURN 0;  -- read under the lock: nobody waits, no offer lapsed
  END IF;
  SELECT * INTO v_session FROM booking_internal.session_facts(p_session_id, false);
  UPDATE booking.workshop_registrations SET status = 'cancelled', cancellation_reason = 'the offer expired'
  WHERE session_id = p_session_id AND status = 'offered' AND offer_expires_at <= now();
  GET DIAGNOSTICS v_changed = ROW_COUNT;
  IF v_session.organization_id IS NULL OR NOT v_session.session_holds_time OR v_session.starts_at <= now() THEN
    RETURN v_changed;
  END IF;
  v_free := v_session.capacity - booking_internal.session_seats_held(p_session_id);
  LOOP
    SELECT * INTO v_next FROM booking.workshop_registrations
    WHERE session_id = p_session_id AND status = 'waitlisted'
    ORDER BY queue_number LIMIT 1;
    EXIT WHEN NOT FOUND OR v_next.seats > v_free;
    UPDATE booking.workshop_registrations
    SET status = CASE WHEN v_session.offer_minutes IS NULL THEN 'registered' ELSE 'offered' END
    WHERE id = v_next.id
    RETURNING * INTO v_next;
    v_free := v_free - v_next.seats;
    v_changed := v_changed + 1;
    IF v_next.status = 'registered' THEN
      PERFORM booking_internal.notify_registrant(v_next, 'registration_promoted',
        jsonb_build_object('title', v_session.title));
    ELSE
      PERFORM booking_internal.notify_registrant(v_next, 'registration_offered',
        jsonb_build_object('title', v_session.title, 'offer_expires_at', v_next.offer_expires_at::text));
    END IF;
  END LOOP;
  RETURN v_changed;
END $$;

-- ---------------------------------------------------------------------------------------------
-- Registrations: the rule book of every write, whoever writes (an RPC or PostgREST).
-- ---------------------------------------------------------------------------------------------

CREATE FUNCTION booking_internal.refuse_registration(p_reason text, p_message text) RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  RAISE EXCEPTION '%', p_message USING ERRCODE = 'PT409', DETAIL = p_reason;
END $$;

CREATE FUNCTION booking_internal.workshop_registrations_guard() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_staff    boolean;
  v_own      boolean;
  v_session  record;
  v_waiting  boolean;
  v_held     integer;
  v_lapsed   boolean;
BEGIN
  IF booking_internal.is_bulk_load() THEN
    RETURN NEW;  -- a restore replays rows that were judged when written
  END IF;
  IF TG_OP = 'UPDATE' AND (NEW.session_id IS DISTINCT FROM OLD.session_id OR NEW.user_id IS DISTINCT FROM OLD.user_id
                           OR (NEW.seats IS DISTINCT FROM OLD.seats AND OLD.status <> 'cancelled')) THEN
    RAISE EXCEPTION 'the session, person and seats of a registration cannot change'
      USING ERRCODE = 'insufficient_privilege', HINT = 'Cancel it and register again.';
  END IF;

  -- The caller's right first. On INSERT the session must be one they may see (as the sessions
  -- policy says), and the registration their own unless they have staff rights; nothing about
  -- the session is read for anyone else, and what is refused looks like row-level security.
  -- An UPDATE reaches this trigger only for a row the update policy let the caller change (own
  -- or staff), or from this module's own functions moving the line on (promotions, expired
  -- offers, a cancelled session): those are judged below by the rules, not by who asks.
  -- One read of the session (what session_facts reads), of the caller's membership of its
  -- organization (has_membership's probe of the members key: at most one row) and of whether
  -- this transaction holds the session's lock already (its row version is this transaction's).
  -- On INSERT it judges the caller's right before the lock is taken.
  SELECT s.organization_id, s.workshop_id, s.capacity, b.starts_at, b.ends_at,
         booking_internal.holds_time(b.status) AS session_holds_time,
         b.status IN ('cancelled', 'rejected') AS session_cancelled, w.status AS workshop_status,
         w.is_public AS workshop_is_public, o.is_public AS organization_is_public, w.registration_open_at,
         w.registration_close_at, w.check_in_minutes, w.offer_minutes,
         booking_internal.written_by_this_transaction(s.xmin) AS locked, c.caller, m.role AS member_role
  INTO v_session
  FROM (SELECT booking.current_user_id() AS caller) c
  JOIN booking.workshop_sessions s ON s.id = NEW.session_id
  JOIN booking.bookings b ON b.id = s.booking_id
  JOIN booking.workshops w ON w.id = s.workshop_id
  JOIN booking.organizations o ON o.id = s.organization_id
  LEFT JOIN booking.members m ON m.organization_id = s.organization_id AND m.user_id = c.caller AND m.is_active;
  -- staff rights as has_staff_rights says: a role that bypasses row-level security, or an
  -- owner, admin or staff member of the organization
  v_staff := v_session.organization_id IS NOT NULL
             AND (booking_internal.is_privileged() OR coalesce(v_session.member_role IN ('owner', 'admin', 'staff'), false));
  v_own := NEW.user_id = CASE WHEN v_session.organization_id IS NOT NULL THEN v_session.caller
                              ELSE booking.current_user_id() END;
  IF TG_OP = 'INSERT'
     AND (v_session.organization_id IS NULL
          OR NOT (v_staff
                  OR (v_own AND booking_internal.resource_is_visible(
                        v_session.member_role IS NOT NULL,
                        v_session.organization_is_public,
                        v_session.workshop_is_public AND v_session.workshop_status = 'published')))
          OR NEW.organization_id <> v_session.organization_id) THEN
    RAISE EXCEPTION 'new row violates row-level security policy for table "workshop_registrations"'
      USING ERRCODE = 'insufficient_privilege';
  END IF;

  -- Writers of the session take turns under its lock (lock_workshop_session's no-op update of
  -- its row, once per transaction; the RPCs took it before the registration's row lock). The
  -- capacity decided on is the one under the lock, and the registrations are read after it.
  IF v_session.organization_id IS NOT NULL AND NOT v_session.locked THEN
    v_session.capacity := booking_internal.take_session_lock(NEW.session_id);
  END IF;
  NEW.organization_id := v_session.organization_id;
  NEW.workshop_id := v_session.workshop_id;

  IF TG_OP = 'INSERT' OR (NEW.status <> 'cancelled'
                          AND (OLD.status = 'cancelled' OR (OLD.status = 'offered' AND OLD.offer_expires_at <= now()))) THEN
    -- A new registration, or a cancelled one (or one whose offer lapsed) registered again: its
    -- status is derived. Registering again needs what registering needs: the session must
    -- still be one the person may see.
    IF TG_OP = 'UPDATE' AND NOT v_staff
       AND NOT booking_internal.resource_is_visible(
                 v_session.member_role IS NOT NULL,
                 v_session.organization_is_public,
                 v_session.workshop_is_public AND v_session.workshop_status = 'published') THEN
      RAISE EXCEPTION 'new row violates row-level security policy for table "workshop_registrations"'
        USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF v_session.workshop_status = 'cancelled' OR v_session.session_cancelled OR NOT v_session.session_holds_time THEN
      PERFORM booking_internal.refuse_registration('session_cancelled', 'This session is cancelled.');
    END IF;
    IF v_session.workshop_status <> 'published' AND NOT v_staff THEN
      PERFORM booking_internal.refuse_registration('not_published', 'This workshop is not open for registration.');
    END IF;
    IF v_session.starts_at <= now() THEN
      PERFORM booking_internal.refuse_registration('session_started', 'This session has already started.');
    END IF;
    IF now() < v_session.registration_open_at OR now() >= v_session.registration_close_at THEN
      PERFORM booking_internal.refuse_registration('registration_closed', 'Registration for this workshop is not open now.');
    END IF;
    IF NEW.seats > v_session.capacity THEN
      RAISE EXCEPTION 'a registration for % seats does not fit a session of %', NEW.seats, v_session.capacity
        USING ERRCODE = 'invalid_parameter_value';
    END IF;
    -- One look at the session's registrations: the seats held, whether anyone waits, and
    -- whether an offer lapsed (its seats go to the line first, then the look is taken again).
    FOR v_pass IN 1..2 LOOP
      SELECT coalesce(sum(r.seats) FILTER (WHERE booking_internal.registration_holds_seats(r.status, r.offer_expires_at)), 0),
             coalesce(bool_or(r.status = 'waitlisted' AND r.id IS DISTINCT FROM NEW.id), false),
             coalesce(bool_or(r.status = 'offered' AND r.offer_expires_at <= now()), false)
      INTO v_held, v_waiting, v_lapsed
      FROM booking.workshop_registrations r WHERE r.session_id = NEW.session_id;
      EXIT WHEN NOT v_lapsed OR v_pass = 2;
      PERFORM booking_internal.fill_session(NEW.session_id);
    END LOOP;
    NEW.status := CASE WHEN NOT v_waiting AND v_held + NEW.seats <= v_session.capacity
                       THEN 'registered' ELSE 'waitlisted' END;
    NEW.queue_number := nextval('booking_internal.workshop_queue_numbers');
    NEW.registered_at := now();
    NEW.offer_expires_at := NULL;
    NEW.cancelled_at := NULL;
    NEW.cancellation_reason := NULL;
    NEW.checkin_at := NULL;
    RETURN NEW;
  END IF;

  NEW.queue_number := OLD.queue_number;
  NEW.registered_at := OLD.registered_at;
  IF NEW.status = OLD.status THEN
    NEW.offer_expires_at := OLD.offer_expires_at;
    NEW.cancelled_at := OLD.cancelled_at;
    NEW.checkin_at := OLD.checkin_at;
    IF NEW.status <> 'cancelled' THEN
      NEW.cancellation_reason := OLD.cancellation_reason;
    END IF;
    RETURN NEW;
  END IF;

  -- A change of status: who may make it, and when. Promotions (waitlisted to registered or
  -- offered) are judged by the rule, not by who asks: the person first in line whose seats fit.
  IF OLD.status = 'waitlisted' AND NEW.status IN ('registered', 'offered') THEN
    IF v_session.starts_at <= now() OR NOT v_session.session_holds_time
       OR EXISTS (SELECT 1 FROM booking.workshop_registrations
                  WHERE session_id = NEW.session_id AND status = 'waitlisted' AND queue_number < OLD.queue_number)
       OR booking_internal.session_seats_held(NEW.session_id) + NEW.seats > v_session.capacity THEN
      PERFORM booking_internal.refuse_registration('waitlist', 'Seats are given to the people waiting in the order they joined.');
    END IF;
    NEW.status := CASE WHEN v_session.offer_minutes IS NULL THEN 'registered' ELSE 'offered' END;
    NEW.offer_expires_at := CASE WHEN NEW.status = 'offered' THEN now() + make_interval(mins => v_session.offer_minutes) END;
  ELSIF OLD.status = 'offered' AND NEW.status = 'registered' THEN
    IF NOT (v_own OR v_staff) THEN
      RAISE EXCEPTION 'only the person offered a seat may accept it' USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF OLD.offer_expires_at <= now() THEN
      PERFORM booking_internal.refuse_registration('offer_expired', 'This offer has expired.');
    END IF;
    NEW.offer_expires_at := NULL;
  ELSIF NEW.status = 'cancelled' AND OLD.status IN ('registered', 'waitlisted', 'offered') THEN
    IF NOT (v_own OR v_staff OR v_session.session_cancelled OR (OLD.status = 'offered' AND OLD.offer_expires_at <= now())) THEN
      RAISE EXCEPTION 'only the registrant or staff may cancel a registration' USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF v_own AND NOT v_staff AND NOT v_session.session_cancelled AND v_session.starts_at <= now() THEN
      PERFORM booking_internal.refuse_registration('session_started', 'This session has already started.');
    END IF;
    NEW.offer_expires_at := NULL;
    NEW.cancelled_at := now();
  ELSIF NEW.status = 'attended' AND OLD.status IN ('registered', 'no_show') THEN
    IF NOT v_staff AND (OLD.status <> 'registered' OR NOT v_own
                        OR now() < v_session.starts_at - make_interval(mins => v_session.check_in_minutes)
                        OR now() >= v_session.ends_at) THEN
      PERFORM booking_internal.refuse_registration('check_in_window',
        'Check-in opens shortly before the session starts and closes when it ends.');
    END IF;
    IF v_session.session_cancelled THEN
      PERFORM booking_internal.refuse_registration('session_cancelled', 'This session is cancelled.');
    END IF;
    NEW.checkin_at := now();
  ELSIF NEW.status = 'no_show' AND OLD.status IN ('registered', 'attended') THEN
    IF NOT v_staff THEN
      RAISE EXCEPTION 'only staff mark no-shows' USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF now() < v_session.ends_at THEN
      PERFORM booking_internal.refuse_registration('not_ended', 'No-shows are marked once the session has ended.');
    END IF;
    NEW.checkin_at := NULL;
  ELSE
    PERFORM booking_internal.refuse_registration('transition',
      format('A registration cannot go from %s to %s.', OLD.status, NEW.status));
  END IF;
  RETURN NEW;
END $$;

-- After a write that freed seats (a cancellation, an expired offer), the people waiting get
-- them in the same transaction. A new or changed registration is also announced on the outbox.
CREATE FUNCTION booking_internal.workshop_registrations_after() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  IF booking_internal.is_bulk_load() THEN
    RETURN NULL;
  END IF;
  INSERT INTO booking.outbox (organization_id, topic, payload)
  VALUES (NEW.organization_id,
          CASE TG_OP WHEN 'INSERT' THEN 'workshop.registration_created' ELSE 'workshop.registration_status_changed' END,
          jsonb_strip_nulls(jsonb_build_object('registration_id', NEW.id, 'session_id', NEW.session_id,
            'workshop_id', NEW.workshop_id, 'user_id', NEW.user_id, 'seats', NEW.seats, 'status', NEW.status,
            'previous_status', CASE WHEN TG_OP = 'UPDATE' THEN OLD.status END)));
  IF TG_OP = 'UPDATE' AND booking_internal.registration_holds_seats(OLD.status, OLD.offer_expires_at)
     AND NOT booking_internal.registration_holds_seats(NEW.status, NEW.offer_expires_at) THEN
    PERFORM booking_internal.fill_session(NEW.session_id);
  END IF;
  RETURN NULL;
END $$;

-- Staff deleting a registration that held seats frees them too.
CREATE FUNCTION booking_internal.workshop_registrations_deleted() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  IF NOT booking_internal.is_bulk_load() THEN
    PERFORM booking_internal.fill_session(OLD.session_id);
  END IF;
  RETURN NULL;
END $$;

CREATE TRIGGER workshop_registrations_1_guard BEFORE INSERT OR UPDATE ON booking.workshop_registrations
  FOR EACH ROW EXECUTE FUNCTION booking_internal.workshop_registrations_guard();
CREATE TRIGGER workshop_registrations_6_after_insert AFTER INSERT ON booking.workshop_registrations
  FOR EACH ROW EXECUTE FUNCTION booking_internal.workshop_registrations_after();
CREATE TRIGGER workshop_registrations_6_after_status AFTER UPDATE OF status ON booking.workshop_registrations
  FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status)
  EXECUTE FUNCTION booking_internal.workshop_registrations_after();
CREATE TRIGGER workshop_registrations_6_after_delete AFTER DELETE ON booking.workshop_registrations
  FOR EACH ROW WHEN (OLD.status IN ('registered', 'offered', 'attended'))
  EXECUTE FUNCTION booking_internal.workshop_registrations_deleted();

-- ---------------------------------------------------------------------------------------------
-- Sessions: their booking and capacity.
-- ---------------------------------------------------------------------------------------------

CREATE FUNCTION booking_internal.workshop_sessions_guard() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_booking booking.bookings;
  v_held    integer;
BEGIN
  IF booking_internal.is_bulk_load() OR (TG_OP = 'UPDATE' AND NEW IS NOT DISTINCT FROM OLD) THEN
    RETURN NEW;  -- a restore, or the session lock's no-op update
  END IF;
  -- Only staff create sessions (the insert policy says so, but it is checked after this
  -- trigger). An UPDATE reaches this trigger only for a row the update policy let the caller
  -- change (staff), or from this module keeping the session's copy of its booking current
  -- (whoever moved or cancelled the booking).
  IF TG_OP = 'INSERT' THEN
    NEW.organization_id := coalesce(NEW.organization_id,
                                    (SELECT w.organization_id FROM booking.workshops w WHERE w.id = NEW.workshop_id));
    IF NOT booking_internal.has_staff_rights(NEW.organization_id) THEN
      RAISE EXCEPTION 'new row violates row-level security policy for table "workshop_sessions"'
        USING ERRCODE = 'insufficient_privilege';
    END IF;
  END IF;
  IF TG_OP = 'UPDATE' AND (NEW.booking_id IS DISTINCT FROM OLD.booking_id OR NEW.workshop_id IS DISTINCT FROM OLD.workshop_id) THEN
    RAISE EXCEPTION 'a session''s booking and workshop cannot change' USING ERRCODE = 'insufficient_privilege',
      HINT = 'Move the booking itself (its times), or create another session.';
  END IF;
  SELECT * INTO v_booking FROM booking.bookings WHERE id = NEW.booking_id AND organization_id = NEW.organization_id;
  IF NOT FOUND THEN
    RETURN NEW;  -- the foreign key reports it
  END IF;
  NEW.resource_id := v_booking.resource_id;
  NEW.starts_at := v_booking.starts_at;
  NEW.ends_at := v_booking.ends_at;
  NEW.is_cancelled := v_booking.status IN ('cancelled', 'rejected');
  IF TG_OP = 'INSERT' THEN
    IF NOT booking_internal.holds_time(v_booking.status) THEN
      RAISE EXCEPTION 'a session needs a booking that holds its room (pending or approved), not a % one', v_booking.status
        USING ERRCODE = 'check_violation', CONSTRAINT = 'workshop_sessions_booking_holds_time';
    END IF;
    NEW.capacity := coalesce(NEW.capacity, v_booking.seats);
  ELSIF NEW.capacity < OLD.capacity THEN
    PERFORM booking_internal.lock_workshop_session(NEW.id);
    v_held := booking_internal.session_seats_held(NEW.id);
    IF NEW.capacity < v_held THEN
      PERFORM booking_internal.refuse_registration('capacity',
        format('%s seats are taken: the session cannot shrink to %s.', v_held, NEW.capacity));
    END IF;
  END IF;
  -- The booking holds the room for every seat: a session larger than its booking first
  -- books the seats (where the room's capacity rules apply).
  IF NEW.capacity > v_booking.seats THEN
    UPDATE booking.bookings SET seats = NEW.capacity WHERE id = v_booking.id;
  END IF;
  RETURN NEW;
END $$;

CREATE FUNCTION booking_internal.workshop_sessions_capacity_raised() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  IF NOT booking_internal.is_bulk_load() THEN
    PERFORM booking_internal.fill_session(NEW.id);
  END IF;
  RETURN NULL;
END $$;

-- (The guard does nothing for an update that changes nothing, as the session lock's no-op
-- update: its WHEN clause spares that update the call.)
CREATE TRIGGER workshop_sessions_1_guard BEFORE INSERT ON booking.workshop_sessions
  FOR EACH ROW EXECUTE FUNCTION booking_internal.workshop_sessions_guard();
CREATE TRIGGER workshop_sessions_1_guard_update BEFORE UPDATE ON booking.workshop_sessions
  FOR EACH ROW WHEN (OLD.* IS DISTINCT FROM NEW.*)
  EXECUTE FUNCTION booking_internal.workshop_sessions_guard();
CREATE TRIGGER workshop_sessions_5_capacity_raised AFTER UPDATE OF capacity ON booking.workshop_sessions
  FOR EACH ROW WHEN (NEW.capacity > OLD.capacity)
  EXECUTE FUNCTION booking_internal.workshop_sessions_capacity_raised();

-- A session's booking: it never holds fewer seats than the session; the session keeps a copy of
-- its time; when it is moved, its registrants hear of it; when it is cancelled or rejected, so
-- is the session: its registrations are cancelled and their people told, in the same
-- transaction.
CREATE FUNCTION booking_internal.bookings_follow_workshop_session() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_session booking.workshop_sessions;
  v_title   text;
  v_row     booking.workshop_registrations;
BEGIN
  SELECT * INTO v_session FROM booking.workshop_sessions WHERE booking_id = NEW.id;
  IF NOT FOUND OR booking_internal.is_bulk_load() THEN
    RETURN NULL;
  END IF;
  IF NEW.seats < v_session.capacity THEN
    RAISE EXCEPTION 'the booking of a session of % seats cannot hold fewer', v_session.capacity
      USING ERRCODE = 'check_violation', CONSTRAINT = 'workshop_sessions_capacity_within_booking',
            HINT = 'Lower the session''s capacity first.';
  END IF;
  SELECT w.title INTO v_title FROM booking.workshops w WHERE w.id = v_session.workshop_id;
  -- the session's copy of the booking's time and state
  UPDATE booking.workshop_sessions
  SET starts_at = NEW.starts_at, ends_at = NEW.ends_at, is_cancelled = NEW.status IN ('cancelled', 'rejected')
  WHERE id = v_session.id;
  IF NEW.status IN ('cancelled', 'rejected') AND OLD.status NOT IN ('cancelled', 'rejected') THEN
    PERFORM booking_internal.lock_workshop_session(v_session.id);
    FOR v_row IN
      UPDATE booking.workshop_registrations
      SET status = 'cancelled', cancellation_reason = 'the session was cancelled'
      WHERE session_id = v_session.id AND status IN ('registered', 'waitlisted', 'offered')
      RETURNING *
    LOOP
      PERFORM booking_internal.notify_registrant(v_row, 'session_cancelled',
        jsonb_build_object('title', v_title, 'starts_at', NEW.starts_at::text));
    END LOOP;
  ELSIF (NEW.starts_at, NEW.ends_at) IS DISTINCT FROM (OLD.starts_at, OLD.ends_at)
        AND booking_internal.holds_time(NEW.status) THEN
    FOR v_row IN
      SELECT * FROM booking.workshop_registrations
      WHERE session_id = v_session.id AND status IN ('registered', 'waitlisted', 'offered')
    LOOP
      PERFORM booking_internal.notify_registrant(v_row, 'session_moved',
        jsonb_build_object('title', v_title, 'starts_at', NEW.starts_at::text));
    END LOOP;
  END IF;
  RETURN NULL;
END $$;

CREATE TRIGGER bookings_7_workshop_session AFTER UPDATE OF status, starts_at, ends_at, seats ON booking.bookings
  FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status OR OLD.starts_at IS DISTINCT FROM NEW.starts_at
                     OR OLD.ends_at IS DISTINCT FROM NEW.ends_at OR NEW.seats < OLD.seats)
  EXECUTE FUNCTION booking_internal.bookings_follow_workshop_session();

-- A cancelled workshop cancels the bookings of its sessions still to come (and so their
-- registrations, above).
CREATE FUNCTION booking_internal.workshops_cancelled() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  IF NOT booking_internal.is_bulk_load() THEN
    UPDATE booking.bookings b SET status = 'cancelled'
    FROM booking.workshop_sessions s
    WHERE s.workshop_id = NEW.id AND b.id = s.booking_id AND booking_internal.holds_time(b.status)
      AND b.starts_at > now();
  END IF;
  RETURN NULL;
END $$;

CREATE TRIGGER workshops_5_cancelled AFTER UPDATE OF status ON booking.workshops
  FOR EACH ROW WHEN (NEW.status = 'cancelled' AND OLD.status <> 'cancelled')
  EXECUTE FUNCTION booking_internal.workshops_cancelled();

-- ---------------------------------------------------------------------------------------------
-- Row-level security: members read a workshop and its sessions, and anyone a published public
-- workshop of a public organization (as a bookable resource); staff manage them. People see
-- and write their own registrations (the guard says which changes); staff see and manage
-- their organization's.
-- ---------------------------------------------------------------------------------------------

CREATE POLICY workshops_select ON booking.workshops FOR SELECT
  USING (booking_internal.resource_is_visible(
           organization_id = ANY ((SELECT booking.user_organization_ids())::uuid[]),
           organization_id = ANY ((SELECT booking.public_organization_ids())::uuid[]),
           is_public AND status = 'published'));
CREATE POLICY workshop_sessions_select ON booking.workshop_sessions FOR SELECT
  USING (EXISTS (SELECT 1 FROM booking.workshops w WHERE w.id = workshop_id));
SELECT booking_internal.create_staff_write_policies(t) FROM unnest(ARRAY['workshops', 'workshop_sessions']) AS t;

CREATE POLICY workshop_registrations_select ON booking.workshop_registrations FOR SELECT
  USING (user_id = (SELECT booking.current_user_id())
         OR organization_id = ANY ((SELECT booking.user_organization_ids('{owner,admin,staff}'))::uuid[]));
CREATE POLICY workshop_registrations_insert ON booking.workshop_registrations FOR INSERT
  WITH CHECK (user_id = (SELECT booking.current_user_id())
              OR organization_id = ANY ((SELECT booking.user_organization_ids('{owner,admin,staff}'))::uuid[]));
CREATE POLICY workshop_registrations_update ON booking.workshop_registrations FOR UPDATE
  USING (user_id = (SELECT booking.current_user_id())
         OR organization_id = ANY ((SELECT booking.user_organization_ids('{owner,admin,staff}'))::uuid[]))
  WITH CHECK (user_id = (SELECT booking.current_user_id())
              OR organization_id = ANY ((SELECT booking.user_organization_ids('{owner,admin,staff}'))::uuid[]));
CREATE POLICY workshop_registrations_delete ON booking.workshop_registrations FOR DELETE
  USING (organization_id = ANY ((SELECT booking.user_organization_ids('{owner,admin,staff}'))::uuid[]));

-- ---------------------------------------------------------------------------------------------
-- RPCs. They run as the caller: row-level security and the triggers above judge them exactly
-- as they judge a direct write.
-- ---------------------------------------------------------------------------------------------

-- Where a waitlisted registration stands in its session's line (1 = next), NULL for any other
-- status. PostgREST shows it as a computed column: .select('*, waitlist_position'). VOLATILE so
-- that it sees the row the same statement wrote (an insert's RETURNING, register_for_session's
-- result).
CREATE FUNCTION booking.waitlist_position(p_registration booking.workshop_registrations) RETURNS integer
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  -- Only for a registration the caller may see (a row value can be made up).
  IF p_registration.status <> 'waitlisted'
     OR NOT EXISTS (SELECT 1 FROM booking.workshop_registrations r
                    WHERE r.id = p_registration.id AND r.session_id = p_registration.session_id
                      AND r.status = 'waitlisted'
                      AND (r.user_id = booking.current_user_id() OR booking_internal.has_staff_rights(r.organization_id))) THEN
    RETURN NULL;
  END IF;
  RETURN 1 + (SELECT count(*) FROM booking.workshop_registrations r
              WHERE r.session_id = p_registration.session_id AND r.status = 'waitlisted'
                AND r.queue_number < p_registration.queue_number);
END $$;

-- Create a session of a workshop: books the room (the workshop's default resource unless
-- named) for [p_start, p_end) with the session's seats, as the caller (staff), so the room's
-- capacity and overlap rules apply, then the session on that booking.
CREATE FUNCTION booking.create_session(p_workshop_id uuid, p_start timestamptz, p_end timestamptz,
                                       p_capacity integer DEFAULT NULL, p_resource_id uuid DEFAULT NULL)
RETURNS booking.workshop_sessions
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_workshop booking.workshops;
  v_booking  uuid;
  v_session  booking.workshop_sessions;
BEGIN
  SELECT * INTO v_workshop FROM booking.workshops WHERE id = p_workshop_id;
  IF NOT FOUND OR NOT booking_internal.has_staff_rights(v_workshop.organization_id) THEN
    RAISE EXCEPTION 'unknown workshop % or you may not manage it', p_workshop_id USING ERRCODE = 'insufficient_privilege';
  END IF;
  IF coalesce(p_resource_id, v_workshop.default_resource_id) IS NULL OR coalesce(p_capacity, v_workshop.capacity) IS NULL THEN
    RAISE EXCEPTION 'a session needs a room and a capacity (the workshop has no default for one of them)'
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  BEGIN
    INSERT INTO booking.bookings (organization_id, resource_id, booked_by, title, starts_at, ends_at, seats, status, source)
    VALUES (v_workshop.organization_id, coalesce(p_resource_id, v_workshop.default_resource_id), coalesce(booking.current_user_id(), booking.current_role()),
            v_workshop.title, p_start, p_end, coalesce(p_capacity, v_workshop.capacity), 'approved', 'api')
    RETURNING id INTO v_booking;
  EXCEPTION WHEN exclusion_violation THEN
    RAISE EXCEPTION 'The room does not have that many seats free then.' USING ERRCODE = 'PT409', DETAIL = 'capacity';
  END;
  INSERT INTO booking.workshop_sessions (organization_id, workshop_id, booking_id, capacity)
  VALUES (v_workshop.organization_id, v_workshop.id, v_booking, coalesce(p_capacity, v_workshop.capacity))
  RETURNING * INTO v_session;
  RETURN v_session;
END $$;

-- Register the caller for a session: registered while seats remain, otherwise waitlisted
-- (waitlist_position() says where). Called again it returns the same registration; a
-- cancelled one is registered again (at the end of the line if people are waiting). PT409
-- outside the registration window, for a session that has started or is cancelled.
CREATE FUNCTION booking.register_for_session(p_session_id uuid, p_seats integer DEFAULT 1)
RETURNS booking.workshop_registrations
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_user text := booking.current_user_id();
  v_row  booking.workshop_registrations;
BEGIN
  IF v_user IS NULL THEN
    RAISE EXCEPTION 'registering needs a signed-in user' USING ERRCODE = 'insufficient_privilege';
  END IF;
  IF p_session_id IS NULL OR p_seats IS NULL OR p_seats NOT BETWEEN 1 AND 100 THEN
    RAISE EXCEPTION 'p_session_id must be given and p_seats be 1 to 100' USING ERRCODE = 'invalid_parameter_value';
  END IF;
  SELECT * INTO v_row FROM booking.workshop_registrations WHERE session_id = p_session_id AND user_id = v_user;
  IF FOUND AND v_row.status <> 'cancelled' AND NOT (v_row.status = 'offered' AND v_row.offer_expires_at <= now()) THEN
    RETURN v_row;
  ELSIF FOUND THEN
    PERFORM booking_internal.lock_session_of_registration(v_row.id);
    UPDATE booking.workshop_registrations SET status = 'registered', seats = p_seats
    WHERE id = v_row.id RETURNING * INTO v_row;
    RETURN v_row;
  END IF;
  INSERT INTO booking.workshop_registrations (session_id, user_id, seats)
  VALUES (p_session_id, v_user, p_seats)
  ON CONFLICT (session_id, user_id) DO NOTHING
  RETURNING * INTO v_row;
  IF NOT FOUND THEN
    -- the same person registering twice at once: the other call's registration stands
    SELECT * INTO v_row FROM booking.workshop_registrations WHERE session_id = p_session_id AND user_id = v_user;
  END IF;
  RETURN v_row;
END $$;

-- Cancel a registration (the registrant, or staff): its seats go to the people waiting in the
-- same transaction. Cancelling a cancelled registration returns it unchanged.
CREATE FUNCTION booking.cancel_registration(p_registration_id uuid, p_reason text DEFAULT NULL)
RETURNS booking.workshop_registrations
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_row booking.workshop_registrations;
BEGIN
  IF p_reason IS NOT NULL THEN
    PERFORM booking_internal.check_text_argument('p_reason', p_reason, 4000);
  END IF;
  PERFORM booking_internal.lock_session_of_registration(p_registration_id);
  UPDATE booking.workshop_registrations
  SET status = 'cancelled', cancellation_reason = coalesce(p_reason, cancellation_reason)
  WHERE id = p_registration_id AND status <> 'cancelled'
  RETURNING * INTO v_row;
  IF NOT FOUND THEN
    SELECT * INTO v_row FROM booking.workshop_registrations WHERE id = p_registration_id;
    IF NOT FOUND THEN
      RAISE EXCEPTION 'unknown registration %', p_registration_id USING ERRCODE = 'invalid_parameter_value';
    END IF;
  END IF;
  RETURN v_row;
END $$;

-- Check a registrant in: staff, or the registrant from the workshop's check_in_minutes before
-- the session starts until it ends. Checking in twice returns the registration unchanged.
CREATE FUNCTION booking.check_in(p_registration_id uuid) RETURNS booking.workshop_registrations
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_row booking.workshop_registrations;
BEGIN
  SELECT * INTO v_row FROM booking.workshop_registrations WHERE id = p_registration_id;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'unknown registration %', p_registration_id USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF v_row.status <> 'attended' THEN
    PERFORM booking_internal.lock_session_of_registration(p_registration_id);
    UPDATE booking.workshop_registrations SET status = 'attended' WHERE id = p_registration_id
    RETURNING * INTO v_row;
  END IF;
  RETURN v_row;
END $$;

-- Staff, once a session has ended: its registrations still registered become no-shows.
-- Returns how many. Runs as the owner (to take the session's lock) once the caller's staff
-- rights are established.
CREATE FUNCTION booking.mark_no_shows(p_session_id uuid) RETURNS integer
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_session booking.workshop_sessions;
  v_count   integer;
BEGIN
  SELECT * INTO v_session FROM booking.workshop_sessions WHERE id = p_session_id;
  IF NOT FOUND OR NOT booking_internal.has_staff_rights(v_session.organization_id) THEN
    RAISE EXCEPTION 'unknown session % or you may not manage it', p_session_id USING ERRCODE = 'insufficient_privilege';
  END IF;
  IF now() < v_session.ends_at THEN
    PERFORM booking_internal.refuse_registration('not_ended', 'No-shows are marked once the session has ended.');
  END IF;
  PERFORM booking_internal.lock_workshop_session(p_session_id);
  UPDATE booking.workshop_registrations SET status = 'no_show'
  WHERE session_id = p_session_id AND status = 'registered';
  GET DIAGNOSTICS v_count = ROW_COUNT;
  RETURN v_count;
END $$;

-- Accept a seat offered (offer mode) before the offer expires.
CREATE FUNCTION booking.accept_offer(p_registration_id uuid) RETURNS booking.workshop_registrations
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_row booking.workshop_registrations;
BEGIN
  SELECT * INTO v_row FROM booking.workshop_registrations WHERE id = p_registration_id;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'unknown registration %', p_registration_id USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF v_row.status = 'registered' THEN
    RETURN v_row;
  END IF;
  IF v_row.status <> 'offered' THEN
    PERFORM booking_internal.refuse_registration('no_offer', 'There is no offer to accept for this registration.');
  END IF;
  IF v_row.offer_expires_at <= now() THEN
    PERFORM booking_internal.refuse_registration('offer_expired', 'This offer has expired.');
  END IF;
  PERFORM booking_internal.lock_session_of_registration(p_registration_id);
  UPDATE booking.workshop_registrations SET status = 'registered' WHERE id = p_registration_id
  RETURNING * INTO v_row;
  RETURN v_row;
END $$;

-- For pg_cron or a worker (service_role): every session's expired offers give their seats to
-- the next in line, and free seats go to the people waiting. Seats are never held by an expired
-- offer whether or not this runs (they stop counting when the offer expires); this moves the
-- line on for sessions nobody writes to. Returns how many registrations changed. Runs as the
-- owner once the caller is known to be service_role.
CREATE FUNCTION booking.advance_waitlists() RETURNS integer
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_session uuid;
  v_count   integer := 0;
BEGIN
  PERFORM booking_internal.require_privileged('advance_waitlists()');
  FOR v_session IN
    SELECT DISTINCT r.session_id FROM booking.workshop_registrations r
    WHERE r.status = 'waitlisted' OR (r.status = 'offered' AND r.offer_expires_at <= now())
  LOOP
    v_count := v_count + booking_internal.fill_session(v_session);
  END LOOP;
  RETURN v_count;
END $$;

-- Who may call the workshop RPCs and write the tables.
CREATE FUNCTION booking_internal.grant_workshops_privileges(p_role text) RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  IF p_role = 'anon' THEN
    -- a public workshop page: the published public workshops and their sessions
    GRANT SELECT (id, organization_id, title, description, instructor_id, default_resource_id, capacity,
                  is_public, status, registration_open_at, registration_close_at, check_in_minutes, offer_minutes)
      ON booking.workshops TO anon;
    GRANT SELECT ON booking.workshop_sessions TO anon;
  ELSE
    PERFORM booking_internal.grant_execute(p_role, ARRAY['register_for_session', 'cancel_registration', 'check_in',
                                                         'mark_no_shows', 'accept_offer', 'create_session',
                                                         'waitlist_position',
                                                         -- booking_internal: what those call as the caller
                                                         'refuse_registration', 'lock_session_of_registration']);
  END IF;
  IF p_role = 'authenticated' THEN
    GRANT INSERT, UPDATE, DELETE ON booking.workshops, booking.workshop_sessions, booking.workshop_registrations
      TO authenticated;
  END IF;
  IF p_role = 'service_role' THEN
    PERFORM booking_internal.grant_execute(p_role, ARRAY['advance_waitlists']);
  END IF;
END $$;

-- Documentation in the catalog (\d+, \df+ and PostgREST's OpenAPI show it).
COMMENT ON TABLE booking.workshops IS 'A group activity (class, workshop) of an organization: draft, published or cancelled; registration window, check-in window, offer mode, default room and seats.';
COMMENT ON TABLE booking.workshop_sessions IS 'A session of a workshop: its time and room are those of its booking, which holds at least its capacity in seats.';
COMMENT ON TABLE booking.workshop_registrations IS 'A person''s registration for a session: registered, waitlisted (in queue_number order), offered, cancelled, attended or no_show; status, queue number and times are derived by the database.';
COMMENT ON FUNCTION booking_internal.registration_holds_seats(text, timestamptz) IS 'Internal: does a registration in this status hold its seats now (registered, attended, an unexpired offer)?';
COMMENT ON FUNCTION booking_internal.lock_workshop_session(uuid) IS 'Internal: locks a session for the rest of the transaction (once), so that its writers take turns.';
COMMENT ON FUNCTION booking_internal.take_session_lock(uuid) IS 'Internal: takes a session''s lock (the no-op update of its row) for a writer that does not hold it yet; returns the capacity read under it.';
COMMENT ON FUNCTION booking_internal.session_seats_held(uuid) IS 'Internal: the seats a session''s registrations hold now.';
COMMENT ON FUNCTION booking_internal.session_facts(uuid, boolean) IS 'Internal: a session''s organization, workshop, capacity, times, status and registration rules; with p_lock true, read under the session''s lock (taken first).';
COMMENT ON FUNCTION booking_internal.lock_session_of_registration(uuid) IS 'Internal: locks the session of a registration the caller may change, before the RPCs change it (session lock before row lock).';
COMMENT ON FUNCTION booking_internal.notify_registrant(booking.workshop_registrations, text, jsonb) IS 'Internal: a notification (the organization''s template of the key, else the built-in text) and an outbox event for a registrant.';
COMMENT ON FUNCTION booking_internal.fill_session(uuid) IS 'Internal: expires a session''s lapsed offers and gives its free seats to the people waiting, in order; returns how many registrations changed.';
COMMENT ON FUNCTION booking_internal.refuse_registration(text, text) IS 'Internal: raises PT409 with the reason in DETAIL.';
COMMENT ON FUNCTION booking_internal.workshop_registrations_guard() IS 'Trigger: the caller''s right, the registration rules and the derived status, queue number and times of every registration write.';
COMMENT ON FUNCTION booking_internal.workshop_registrations_after() IS 'Trigger: an outbox event for each registration and status change; a freed seat goes to the next in line.';
COMMENT ON FUNCTION booking_internal.workshop_registrations_deleted() IS 'Trigger: the seats of a deleted registration go to the next in line.';
COMMENT ON FUNCTION booking_internal.workshop_sessions_guard() IS 'Trigger: sessions are staff''s, keep their booking, hold it for at least their capacity and never shrink below the seats taken.';
COMMENT ON FUNCTION booking_internal.workshop_sessions_capacity_raised() IS 'Trigger: a session''s raised capacity goes to the people waiting.';
COMMENT ON FUNCTION booking_internal.bookings_follow_workshop_session() IS 'Trigger: a session''s booking keeps its seats; moving it tells the registrants; cancelling it cancels the registrations.';
COMMENT ON FUNCTION booking_internal.workshops_cancelled() IS 'Trigger: a cancelled workshop cancels the bookings of its sessions to come.';
COMMENT ON FUNCTION booking_internal.grant_workshops_privileges(text) IS 'Internal: the workshops module''s grants to an API role (called by grant_api_privileges).';
COMMENT ON FUNCTION booking.waitlist_position(booking.workshop_registrations) IS 'Where a waitlisted registration stands in its session''s line (1 = next); NULL otherwise. A computed column for PostgREST.';
COMMENT ON FUNCTION booking.create_session(uuid, timestamptz, timestamptz, integer, uuid) IS 'Staff: books the room (the workshop''s default unless named) for the session''s seats and creates the session; PT409 when the room is full, 42501 without staff rights, 22023 without a room or capacity.';
COMMENT ON FUNCTION booking.register_for_session(uuid, integer) IS 'Registers the caller: registered while seats remain, else waitlisted; idempotent; PT409 outside the registration window or for a session started or cancelled.';
COMMENT ON FUNCTION booking.cancel_registration(uuid, text) IS 'Cancels a registration (registrant or staff); the freed seats go to the people waiting, in order, in the same transaction.';
COMMENT ON FUNCTION booking.check_in(uuid) IS 'Checks a registrant in: staff, or the registrant within the workshop''s check-in window; PT409 outside it.';
COMMENT ON FUNCTION booking.mark_no_shows(uuid) IS 'Staff, after a session ended: its registrations still registered become no-shows; returns how many.';
COMMENT ON FUNCTION booking.accept_offer(uuid) IS 'Accepts a seat offered in offer mode before the offer expires; PT409 once expired.';
COMMENT ON FUNCTION booking.advance_waitlists() IS 'service_role: expires lapsed offers and gives free seats to the people waiting, for every session; returns how many registrations changed.';
