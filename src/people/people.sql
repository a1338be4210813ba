-- booking_ext, module people: who bookings are by, with and for (seed 003; seed 004 reads
-- profiles). A person's profile, keyed by their JWT subject; professionals, each linking a user
-- and an organization to the `person` resource that is their calendar; students (the people
-- appointments are for), with their guardians and an admission lifecycle.
--
-- What the bookings module builds on this (src/bookings/bookings.sql): a professional sees and
-- manages the bookings of their own resource (my_professional_resource_ids, manages_bookings);
-- bookings.student_id names the student, and a guardian books for their own students only
-- (is_guardian_of); a professional who does not accept new clients is booked only by clients
-- who had a booking with them before (professional_takes_client).

-- ---------------------------------------------------------------------------------------------
-- Profiles
-- ---------------------------------------------------------------------------------------------

CREATE TABLE booking.profiles (
  -- the JWT subject (auth.users.id on Supabase, as text)
  user_id      text PRIMARY KEY DEFAULT booking.current_user_id()
               CONSTRAINT profiles_user_id_size CHECK (length(user_id) BETWEEN 1 AND 200),
  display_name text CONSTRAINT profiles_display_name_size CHECK (length(display_name) <= 200),
  first_name   text CONSTRAINT profiles_first_name_size CHECK (length(first_name) <= 100),
  last_name    text CONSTRAINT profiles_last_name_size CHECK (length(last_name) <= 100),
  email        text CONSTRAINT profiles_email_format CHECK (length(email) <= 320 AND email ~ '^[^@[:space:]]+@[^@[:space:]]+$'),
  phone        text CONSTRAINT profiles_phone_size CHECK (length(phone) <= 50),
  avatar_url   text CONSTRAINT profiles_avatar_url_format CHECK (length(avatar_url) <= 2000 AND avatar_url ~ '^https?://'),
  -- preferences and whatever else the app keeps about the person
  metadata     jsonb NOT NULL DEFAULT '{}'::jsonb
               CONSTRAINT profiles_metadata_object CHECK (jsonb_typeof(metadata) = 'object')
               CONSTRAINT profiles_metadata_size CHECK (octet_length(metadata::text) <= 16384),
  created_at   timestamptz NOT NULL DEFAULT now(),
  updated_at   timestamptz NOT NULL DEFAULT now()
);
-- Not audited: a profile belongs to no organization, and its history is the person's own.
SELECT booking_internal.register_table('profiles', 'people', false);

-- A person reads and writes their own profile (service_role any, e.g. from a trigger on
-- auth.users: docs/people.md).
CREATE POLICY profiles_select ON booking.profiles FOR SELECT
  USING (user_id = (SELECT booking.current_user_id()));
CREATE POLICY profiles_insert ON booking.profiles FOR INSERT
  WITH CHECK (user_id = (SELECT booking.current_user_id()));
CREATE POLICY profiles_update ON booking.profiles FOR UPDATE
  USING (user_id = (SELECT booking.current_user_id()))
  WITH CHECK (user_id = (SELECT booking.current_user_id()));
CREATE POLICY profiles_delete ON booking.profiles FOR DELETE
  USING (user_id = (SELECT booking.current_user_id()));

-- What the members of an organization see of each other: display fields only (never email,
-- phone or metadata). The caller's own card, and the cards of the active members of the
-- organizations they are an active member of. Runs as the view's owner (the profiles policy
-- shows only one's own row), so its WHERE clause is the whole rule; security_barrier keeps a
-- caller's own filter functions from seeing rows before it.
CREATE VIEW booking.profile_cards WITH (security_barrier = true) AS
SELECT p.user_id, p.display_name, p.avatar_url
FROM booking.profiles p
WHERE p.user_id = booking.current_user_id()
   OR EXISTS (SELECT 1 FROM booking.members m
              WHERE m.user_id = p.user_id AND m.is_active
                AND m.organization_id = ANY (booking.user_organization_ids()));

-- ---------------------------------------------------------------------------------------------
-- Professionals
-- ---------------------------------------------------------------------------------------------

CREATE TABLE booking.professionals (
  id                  uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  organization_id     uuid NOT NULL REFERENCES booking.organizations (id) ON DELETE CASCADE,
  -- the user who logs in: an active member of the organization
  user_id             text NOT NULL CONSTRAINT professionals_user_id_size CHECK (length(user_id) BETWEEN 1 AND 200),
  -- their calendar: a `person` resource of the organization
  resource_id         uuid NOT NULL,
  title               text CONSTRAINT professionals_title_size CHECK (length(title) <= 200),
  specialization      text CONSTRAINT professionals_specialization_size CHECK (length(specialization) <= 200),
  bio                 text CONSTRAINT professionals_bio_size CHECK (length(bio) <= 4000),
  license_number      text CONSTRAINT professionals_license_number_size CHECK (length(license_number) <= 100),
  active              boolean NOT NULL DEFAULT true,
  -- false: only clients who had a booking with them before may book them
  accepts_new_clients boolean NOT NULL DEFAULT true,
  -- the resource's slot interval is a session and its buffer, its buffer after each booking the
  -- buffer (kept so by the triggers below): the slot engine offers one session after another
  session_minutes     integer NOT NULL DEFAULT 60 CHECK (session_minutes BETWEEN 5 AND 1440),
  buffer_minutes      integer NOT NULL DEFAULT 15 CHECK (buffer_minutes BETWEEN 0 AND 1440),
  session_price_cents integer CHECK (session_price_cents >= 0),
  currency            text NOT NULL DEFAULT 'USD' CHECK (currency ~ '^[A-Z]{3}$'),
  created_at          timestamptz NOT NULL DEFAULT now(),
  updated_at          timestamptz NOT NULL DEFAULT now(),
  UNIQUE (id, organization_id),
  CONSTRAINT professionals_session_and_buffer_in_a_day CHECK (session_minutes + buffer_minutes <= 1440),
  CONSTRAINT professionals_one_per_person UNIQUE (organization_id, user_id),
  -- (a resource is in one organization, so this is one professional per resource)
  CONSTRAINT professionals_one_per_resource UNIQUE (resource_id, organization_id),
  CONSTRAINT professionals_resource_same_organization FOREIGN KEY (resource_id, organization_id)
    REFERENCES booking.resources (id, organization_id) ON DELETE CASCADE
);
CREATE INDEX professionals_user_id_idx ON booking.professionals (user_id, organization_id);
CREATE INDEX professionals_organization_id_idx ON booking.professionals (organization_id, active);
CREATE INDEX professionals_specialization_idx ON booking.professionals (organization_id, specialization);
SELECT booking_internal.register_table('professionals', 'people', true, 'professional');

-- The resources whose bookings the caller manages as their professional: their active
-- professional rows in organizations they are still an active member of.
CREATE FUNCTION booking_internal.my_professional_resource_ids() RETURNS uuid[]
LANGUAGE plpgsql STABLE SECURITY DEFINER PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  RETURN (SELECT coalesce(array_agg(p.resource_id), '{}'::uuid[])
          FROM booking.professionals p
          JOIN booking.members m ON m.organization_id = p.organization_id AND m.user_id = p.user_id AND m.is_active
          WHERE p.user_id = booking.current_user_id() AND p.active);
END $$;

-- Is this person an active member of the organization? (Asked about someone else, so it reads
-- past the members policy: staff and professionals book for members only.)
CREATE FUNCTION booking_internal.is_active_member(p_organization_id uuid, p_user_id text) RETURNS boolean
LANGUAGE plpgsql STABLE SECURITY DEFINER PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  RETURN EXISTS (SELECT 1 FROM booking.members m
                 WHERE m.organization_id = p_organization_id AND m.user_id = p_user_id AND m.is_active);
END $$;

-- May the caller manage the bookings of this resource: the organization's staff (and
-- service_role), or the resource's own professional? The bookings trigger asks it.
-- (One probe of the professional's key, as owner: the bookings trigger asks it on every write.)
CREATE FUNCTION booking_internal.manages_bookings(p_organization_id uuid, p_resource_id uuid) RETURNS boolean
LANGUAGE plpgsql STABLE SECURITY DEFINER PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  RETURN booking_internal.has_staff_rights(p_organization_id)
      OR EXISTS (SELECT 1 FROM booking.professionals p
                 JOIN booking.members m ON m.organization_id = p.organization_id AND m.user_id = p.user_id AND m.is_active
                 WHERE p.organization_id = p_organization_id AND p.user_id = booking.current_user_id()
                   AND p.resource_id = p_resource_id AND p.active);
END $$;

-- Who may write what: staff link an active member of the organization to a `person` resource
-- of it; the professional edits how they present themselves and whether they take new
-- clients. The caller's right is established before anything of the row's resource is read.
CREATE FUNCTION booking_internal.professionals_guard() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  IF booking_internal.is_bulk_load() THEN
    RETURN NEW;
  END IF;
  IF NOT booking_internal.has_staff_rights(NEW.organization_id) THEN
    IF TG_OP = 'INSERT' OR OLD.user_id IS DISTINCT FROM booking.current_user_id() THEN
      RAISE EXCEPTION 'new row violates row-level security policy for table "professionals"'
        USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF (NEW.id, NEW.user_id, NEW.resource_id, NEW.active, NEW.session_minutes, NEW.buffer_minutes,
        NEW.session_price_cents, NEW.currency, NEW.license_number, NEW.created_at)
       IS DISTINCT FROM
       (OLD.id, OLD.user_id, OLD.resource_id, OLD.active, OLD.session_minutes, OLD.buffer_minutes,
        OLD.session_price_cents, OLD.currency, OLD.license_number, OLD.created_at) THEN
      RAISE EXCEPTION 'a professional may change only their title, specialization, bio and whether they accept new clients'
        USING ERRCODE = 'insufficient_privilege',
              HINT = 'The organization''s staff change the rest.';
    END IF;
    RETURN NEW;
  END IF;
  IF TG_OP = 'INSERT' OR (NEW.user_id, NEW.resource_id) IS DISTINCT FROM (OLD.user_id, OLD.resource_id) THEN
    IF NOT booking_internal.is_privileged() AND NOT booking_internal.is_active_member(NEW.organization_id, NEW.user_id) THEN
      RAISE EXCEPTION 'a professional must be an active member of the organization; % is not one', NEW.user_id
        USING ERRCODE = 'check_violation', CONSTRAINT = 'professionals_user_is_member';
    END IF;
    IF EXISTS (SELECT 1 FROM booking.resources r
               WHERE r.id = NEW.resource_id AND r.organization_id = NEW.organization_id AND r.kind <> 'person') THEN
      RAISE EXCEPTION 'a professional''s calendar must be a resource of kind person'
        USING ERRCODE = 'check_violation', CONSTRAINT = 'professionals_resource_is_person';
    END IF;
  END IF;
  RETURN NEW;
END $$;
CREATE TRIGGER professionals_1_guard BEFORE INSERT OR UPDATE ON booking.professionals
  FOR EACH ROW EXECUTE FUNCTION booking_internal.professionals_guard();

-- The professional's session length and buffer make their resource's slot interval (a session
-- and its buffer, so that booked sessions leave the next slot free) and buffer after each
-- booking: written to the resource with the professional row.
CREATE FUNCTION booking_internal.professionals_sync_resource() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  IF booking_internal.is_bulk_load() THEN
    RETURN NULL;  -- a restore brings the resource as it was
  END IF;
  UPDATE booking.resources r
  SET slot_interval_minutes = NEW.session_minutes + NEW.buffer_minutes, buffer_after_minutes = NEW.buffer_minutes
  WHERE r.id = NEW.resource_id
    AND (r.slot_interval_minutes, r.buffer_after_minutes)
        IS DISTINCT FROM (NEW.session_minutes + NEW.buffer_minutes, NEW.buffer_minutes);
  RETURN NULL;
END $$;
CREATE TRIGGER professionals_5_sync_resource AFTER INSERT OR UPDATE OF resource_id, session_minutes, buffer_minutes
  ON booking.professionals
  FOR EACH ROW EXECUTE FUNCTION booking_internal.professionals_sync_resource();

-- ... and nothing else changes them while the resource is a professional's (the rule is the
-- equality, not who writes: the sync above writes equal values, anyone else is refused).
CREATE FUNCTION booking_internal.resources_professional_settings() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_session integer;
  v_buffer  integer;
BEGIN
  IF booking_internal.is_bulk_load() THEN
    RETURN NEW;
  END IF;
  -- The row passed the resources update policy (an UPDATE sees only such rows).
  SELECT p.session_minutes, p.buffer_minutes INTO v_session, v_buffer
  FROM booking.professionals p WHERE p.resource_id = NEW.id;
  IF FOUND AND (NEW.slot_interval_minutes, NEW.buffer_after_minutes) IS DISTINCT FROM (v_session + v_buffer, v_buffer) THEN
    RAISE EXCEPTION 'this resource is a professional''s calendar: its slot interval is the professional''s session_minutes plus buffer_minutes, its buffer after their buffer_minutes'
      USING ERRCODE = 'check_violation', CONSTRAINT = 'resources_professional_settings',
            HINT = 'Change booking.professionals.session_minutes or buffer_minutes instead.';
  END IF;
  RETURN NEW;
END $$;
CREATE TRIGGER resources_6_professional_settings BEFORE UPDATE OF slot_interval_minutes, buffer_after_minutes
  ON booking.resources
  FOR EACH ROW
  WHEN ((OLD.slot_interval_minutes, OLD.buffer_after_minutes) IS DISTINCT FROM (NEW.slot_interval_minutes, NEW.buffer_after_minutes))
  EXECUTE FUNCTION booking_internal.resources_professional_settings();

-- Anyone who may see the resource sees its professional (a public organization's, anyone);
-- staff manage them; the professional updates their own row (the guard says which fields).
CREATE POLICY professionals_select ON booking.professionals FOR SELECT
  USING (organization_id = ANY ((SELECT booking.user_organization_ids())::uuid[])
         OR (active AND organization_id = ANY ((SELECT booking.public_organization_ids())::uuid[])));
CREATE POLICY professionals_insert ON booking.professionals FOR INSERT
  WITH CHECK (organization_id = ANY ((SELECT booking.user_organization_ids('{owner,admin,staff}'))::uuid[]));
CREATE POLICY professionals_update ON booking.professionals FOR UPDATE
  USING (organization_id = ANY ((SELECT booking.user_organization_ids('{owner,admin,staff}'))::uuid[])
         OR user_id = (SELECT booking.current_user_id()))
  WITH CHECK (organization_id = ANY ((SELECT booking.user_organization_ids('{owner,admin,staff}'))::uuid[])
              OR user_id = (SELECT booking.current_user_id()));
CREATE POLICY professionals_delete ON booking.professionals FOR DELETE
  USING (organization_id = ANY ((SELECT booking.user_organization_ids('{owner,admin,staff}'))::uuid[]));

-- ---------------------------------------------------------------------------------------------
-- Students and their admission
-- ---------------------------------------------------------------------------------------------

-- The admission lifecycle, written down once: each legal change, and whether a guardian may
-- make it (staff may make every one). docs/people.md shows it; the students trigger enforces it.
CREATE FUNCTION booking.admission_transitions()
RETURNS TABLE (from_state text, to_state text, guardian_may boolean)
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
  VALUES ('prospect',     'applied',      true),
         ('prospect',     'withdrawn',    true),
         ('applied',      'under_review', false),
         ('applied',      'withdrawn',    true),
         ('under_review', 'admitted',     false),
         ('under_review', 'waitlisted',   false),
         ('under_review', 'declined',     false),
         ('under_review', 'withdrawn',    true),
         ('waitlisted',   'admitted',     false),
         ('waitlisted',   'declined',     false),
         ('waitlisted',   'withdrawn',    true),
         ('admitted',     'on_leave',     false),
         ('admitted',     'discharged',   false),
         ('on_leave',     'admitted',     false),
         ('on_leave',     'discharged',   false),
         ('declined',     'applied',      true),
         ('withdrawn',    'applied',      true),
         ('discharged',   'applied',      true)
$$;

CREATE TABLE booking.students (
  id                   uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  organization_id      uuid NOT NULL REFERENCES booking.organizations (id) ON DELETE CASCADE,
  first_name           text NOT NULL CHECK (length(btrim(first_name)) > 0) CONSTRAINT students_first_name_size CHECK (length(first_name) <= 100),
  last_name            text NOT NULL CHECK (length(btrim(last_name)) > 0) CONSTRAINT students_last_name_size CHECK (length(last_name) <= 100),
  date_of_birth        date CONSTRAINT students_date_of_birth_range CHECK (date_of_birth BETWEEN '1900-01-01' AND '2200-01-01'),
  grade_level          text CONSTRAINT students_grade_level_size CHECK (length(grade_level) <= 50),
  -- guardians: JWT subjects; they see the student and its notes and book for them
  primary_contact_id   text DEFAULT booking.current_user_id()
                       CONSTRAINT students_primary_contact_id_size CHECK (length(primary_contact_id) BETWEEN 1 AND 200),
  secondary_contact_id text CONSTRAINT students_secondary_contact_id_size CHECK (length(secondary_contact_id) BETWEEN 1 AND 200),
  -- seen by staff and the guardians only (the row is)
  medical_notes        text CONSTRAINT students_medical_notes_size CHECK (length(medical_notes) <= 8000),
  educational_notes    text CONSTRAINT students_educational_notes_size CHECK (length(educational_notes) <= 8000),
  emergency_contacts   jsonb NOT NULL DEFAULT '[]'::jsonb
                       CONSTRAINT students_emergency_contacts_array CHECK (jsonb_typeof(emergency_contacts) = 'array')
                       CONSTRAINT students_emergency_contacts_size CHECK (octet_length(emergency_contacts::text) <= 16384),
  -- along booking.admission_transitions(); the dates are derived (local date of the change)
  admission_state      text NOT NULL DEFAULT 'prospect' CONSTRAINT students_admission_state_check CHECK (admission_state IN (
                         'prospect', 'applied', 'under_review', 'waitlisted', 'admitted', 'on_leave',
                         'discharged', 'declined', 'withdrawn')),
  admission_date       date,
  discharge_date       date,
  -- references to documents kept elsewhere (storage paths, URLs)
  documents            jsonb NOT NULL DEFAULT '{}'::jsonb
                       CONSTRAINT students_documents_object CHECK (jsonb_typeof(documents) = 'object')
                       CONSTRAINT students_documents_size CHECK (octet_length(documents::text) <= 16384),
  created_at           timestamptz NOT NULL DEFAULT now(),
  updated_at           timestamptz NOT NULL DEFAULT now(),
  UNIQUE (id, organization_id),
  -- a second guardian is another person than the first, and only with a first
  CONSTRAINT students_two_guardians CHECK (secondary_contact_id IS NULL
                                           OR (primary_contact_id IS NOT NULL AND secondary_contact_id <> primary_contact_id))
);
CREATE INDEX students_name_idx ON booking.students (organization_id, last_name, first_name);
CREATE INDEX students_admission_state_idx ON booking.students (organization_id, admission_state);
CREATE INDEX students_primary_contact_idx ON booking.students (primary_contact_id);
CREATE INDEX students_secondary_contact_idx ON booking.students (secondary_contact_id) WHERE secondary_contact_id IS NOT NULL;
SELECT booking_internal.register_table('students', 'people', true, 'student');

-- Every change of a student's admission state (and its first state), with who made it and why.
CREATE TABLE booking.student_admission_transitions (
  id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  organization_id uuid NOT NULL,
  student_id      uuid NOT NULL,
  from_state      text,
  to_state        text NOT NULL,
  changed_by      text NOT NULL,
  reason          text CONSTRAINT student_admission_transitions_reason_size CHECK (length(reason) <= 4000),
  created_at      timestamptz NOT NULL DEFAULT clock_timestamp()
  -- No foreign keys, like the audit log: the history of a deleted student stays.
);
CREATE INDEX student_admission_transitions_student_idx ON booking.student_admission_transitions (student_id, created_at);
CREATE INDEX student_admission_transitions_organization_id_idx ON booking.student_admission_transitions (organization_id, created_at);
SELECT booking_internal.register_table('student_admission_transitions', 'people', false);
CREATE TRIGGER student_admission_transitions_append_only BEFORE UPDATE OR DELETE ON booking.student_admission_transitions
  FOR EACH ROW EXECUTE FUNCTION booking_internal.append_only();
CREATE TRIGGER student_admission_transitions_no_truncate BEFORE TRUNCATE ON booking.student_admission_transitions
  FOR EACH STATEMENT EXECUTE FUNCTION booking_internal.append_only();

-- The students the caller is a guardian of (the bookings policy shows their bookings).
CREATE FUNCTION booking_internal.my_student_ids() RETURNS uuid[]
LANGUAGE plpgsql STABLE SECURITY DEFINER PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  RETURN (SELECT coalesce(array_agg(s.id), '{}'::uuid[]) FROM booking.students s
          WHERE booking.current_user_id() IN (s.primary_contact_id, s.secondary_contact_id));
END $$;

-- Is the caller a guardian (primary or secondary contact) of this student?
CREATE FUNCTION booking_internal.is_guardian_of(p_student_id uuid) RETURNS boolean
LANGUAGE plpgsql STABLE SECURITY DEFINER PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  RETURN EXISTS (SELECT 1 FROM booking.students s
                 WHERE s.id = p_student_id
                   AND booking.current_user_id() IN (s.primary_contact_id, s.secondary_contact_id));
END $$;

-- Who may write what of a student: staff everything the admission machine allows; a guardian
-- (who registers a child as a prospect, naming themselves the primary contact) the child's
-- details, medical notes, emergency contacts and documents, and the admission changes marked
-- guardian_may. Admission and discharge dates follow the state (service_role may set them,
-- for imports). Runs as the caller: row-level security has let them see the row.
CREATE FUNCTION booking_internal.students_guard() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_staff    boolean;
  v_guardian boolean;
  v_today    date;
BEGIN
  IF booking_internal.is_bulk_load() THEN
    RETURN NEW;
  END IF;
  v_staff := booking_internal.has_staff_rights(NEW.organization_id);
  IF TG_OP = 'INSERT' THEN
    IF NOT v_staff AND NOT (NEW.primary_contact_id = booking.current_user_id()
                            AND booking_internal.may_book_in(NEW.organization_id)) THEN
      RAISE EXCEPTION 'new row violates row-level security policy for table "students"'
        USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF NOT v_staff AND (NEW.secondary_contact_id IS NOT NULL OR NEW.educational_notes IS NOT NULL) THEN
      RAISE EXCEPTION 'only the organization''s staff set a student''s second guardian or educational notes'
        USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF NEW.admission_state <> 'prospect' AND NOT booking_internal.is_privileged() THEN
      RAISE EXCEPTION 'a student starts as a prospect; move them on with booking.set_admission_state'
        USING ERRCODE = 'check_violation', CONSTRAINT = 'students_admission_starts_as_prospect';
    END IF;
    IF NOT booking_internal.is_privileged() THEN
      NEW.admission_date := NULL;
      NEW.discharge_date := NULL;
    END IF;
    RETURN NEW;
  END IF;

  v_guardian := booking.current_user_id() IN (OLD.primary_contact_id, OLD.secondary_contact_id);
  IF NOT v_staff AND NOT v_guardian THEN
    RAISE EXCEPTION 'new row violates row-level security policy for table "students"'
      USING ERRCODE = 'insufficient_privilege';
  END IF;
  IF NOT v_staff
     AND (NEW.primary_contact_id, NEW.secondary_contact_id, NEW.educational_notes)
         IS DISTINCT FROM (OLD.primary_contact_id, OLD.secondary_contact_id, OLD.educational_notes) THEN
    RAISE EXCEPTION 'only the organization''s staff change a student''s guardians or educational notes'
      USING ERRCODE = 'insufficient_privilege';
  END IF;
  IF NOT booking_internal.is_privileged()
     AND (NEW.admission_date, NEW.discharge_date) IS DISTINCT FROM (OLD.admission_date, OLD.discharge_date) THEN
    RAISE EXCEPTION 'admission_date and discharge_date follow the admission state'
      USING ERRCODE = 'check_violation', CONSTRAINT = 'students_admission_dates_derived';
  END IF;
  IF NEW.admission_state IS DISTINCT FROM OLD.admission_state THEN
    IF NOT EXISTS (SELECT 1 FROM booking.admission_transitions() t
                   WHERE t.from_state = OLD.admission_state AND t.to_state = NEW.admission_state) THEN
      RAISE EXCEPTION 'a student cannot go from % to %', OLD.admission_state, NEW.admission_state
        USING ERRCODE = 'check_violation', CONSTRAINT = 'students_admission_transition',
              HINT = coalesce('From ' || OLD.admission_state || ' a student can go to: ' ||
                              (SELECT string_agg(t.to_state, ', ' ORDER BY t.to_state)
                               FROM booking.admission_transitions() t WHERE t.from_state = OLD.admission_state), '');
    END IF;
    IF NOT v_staff AND NOT EXISTS (SELECT 1 FROM booking.admission_transitions() t
                                   WHERE t.from_state = OLD.admission_state AND t.to_state = NEW.admission_state
                                     AND t.guardian_may) THEN
      RAISE EXCEPTION 'only the organization''s staff move a student from % to %', OLD.admission_state, NEW.admission_state
        USING ERRCODE = 'insufficient_privilege';
    END IF;
    SELECT (now() AT TIME ZONE o.time_zone)::date INTO v_today
    FROM booking.organizations o WHERE o.id = NEW.organization_id;
    IF NEW.admission_state = 'admitted' AND OLD.admission_state <> 'on_leave' THEN
      NEW.admission_date := v_today;
      NEW.discharge_date := NULL;
    ELSIF NEW.admission_state = 'discharged' THEN
      NEW.discharge_date := v_today;
    END IF;
  END IF;
  RETURN NEW;
END $$;
CREATE TRIGGER students_1_guard BEFORE INSERT OR UPDATE ON booking.students
  FOR EACH ROW EXECUTE FUNCTION booking_internal.students_guard();

-- The admission log: one row per state a student enters, in the same transaction. The reason
-- is booking.set_admission_state's (booking.reason, this transaction).
CREATE FUNCTION booking_internal.students_log_admission() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  IF booking_internal.is_bulk_load() THEN
    RETURN NULL;  -- a restore brings the log with it
  END IF;
  INSERT INTO booking.student_admission_transitions (organization_id, student_id, from_state, to_state, changed_by, reason)
  VALUES (NEW.organization_id, NEW.id, CASE WHEN TG_OP = 'UPDATE' THEN OLD.admission_state END, NEW.admission_state,
          booking_internal.actor_id(), left(nullif(current_setting('booking.reason', true), ''), 4000));
  RETURN NULL;
END $$;
CREATE TRIGGER students_5_log_admission AFTER INSERT ON booking.students
  FOR EACH ROW EXECUTE FUNCTION booking_internal.students_log_admission();
CREATE TRIGGER students_5_log_admission_change AFTER UPDATE OF admission_state ON booking.students
  FOR EACH ROW WHEN (OLD.admission_state IS DISTINCT FROM NEW.admission_state)
  EXECUTE FUNCTION booking_internal.students_log_admission();

-- Staff manage their organization's students; a guardian sees and edits their own (the guard
-- says which fields) and registers a child as a prospect where they may book.
CREATE POLICY students_select ON booking.students FOR SELECT
  USING (organization_id = ANY ((SELECT booking.user_organization_ids('{owner,admin,staff}'))::uuid[])
         OR (SELECT booking.current_user_id()) IN (primary_contact_id, secondary_contact_id));
CREATE POLICY students_insert ON booking.students FOR INSERT
  WITH CHECK (organization_id = ANY ((SELECT booking.user_organization_ids('{owner,admin,staff}'))::uuid[])
              OR (primary_contact_id = (SELECT booking.current_user_id())
                  AND booking_internal.may_book_in(organization_id)));
CREATE POLICY students_update ON booking.students FOR UPDATE
  USING (organization_id = ANY ((SELECT booking.user_organization_ids('{owner,admin,staff}'))::uuid[])
         OR (SELECT booking.current_user_id()) IN (primary_contact_id, secondary_contact_id))
  WITH CHECK (organization_id = ANY ((SELECT booking.user_organization_ids('{owner,admin,staff}'))::uuid[])
              OR (SELECT booking.current_user_id()) IN (primary_contact_id, secondary_contact_id));
CREATE POLICY students_delete ON booking.students FOR DELETE
  USING (organization_id = ANY ((SELECT booking.user_organization_ids('{owner,admin,staff}'))::uuid[]));
CREATE POLICY student_admission_transitions_select ON booking.student_admission_transitions FOR SELECT
  USING (organization_id = ANY ((SELECT booking.user_organization_ids('{owner,admin,staff}'))::uuid[])
         OR booking_internal.is_guardian_of(student_id));

-- Move a student along the admission lifecycle, with a reason for the log. Runs as the caller:
-- row-level security decides which students they may touch, the students trigger which
-- changes. Errors: 22023 for a NULL or unknown state, a reason over 4000 characters, or a
-- student the caller may not see; PT409 (DETAIL admission_transition) for a change the
-- lifecycle does not allow from the current state, or to the state the student is in; 42501
-- for a change only staff may make.
CREATE FUNCTION booking.set_admission_state(p_student_id uuid, p_state text, p_reason text DEFAULT NULL)
RETURNS booking.students
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_row        booking.students;
  v_constraint text;
  v_hint       text;
  v_reason     text;
BEGIN
  IF p_student_id IS NULL OR p_state IS NULL THEN
    RAISE EXCEPTION 'p_student_id and p_state must not be NULL' USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF NOT EXISTS (SELECT 1 FROM booking.admission_transitions() t WHERE t.to_state = p_state)
     AND p_state <> 'prospect' THEN
    RAISE EXCEPTION 'unknown admission state %', left(p_state, 100) USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF p_reason IS NOT NULL THEN
    v_reason := current_setting('booking.reason', true);
    PERFORM set_config('booking.reason', booking_internal.check_text_argument('p_reason', p_reason, 4000), true);
  END IF;
  BEGIN
    UPDATE booking.students SET admission_state = p_state
    WHERE id = p_student_id AND admission_state IS DISTINCT FROM p_state
    RETURNING * INTO v_row;
  EXCEPTION WHEN check_violation THEN
    GET STACKED DIAGNOSTICS v_constraint = CONSTRAINT_NAME, v_hint = PG_EXCEPTION_HINT;
    IF v_constraint = 'students_admission_transition' THEN
      RAISE EXCEPTION '%', SQLERRM USING ERRCODE = 'PT409', DETAIL = 'admission_transition', HINT = v_hint;
    END IF;
    RAISE;
  END;
  IF p_reason IS NOT NULL THEN
    PERFORM set_config('booking.reason', coalesce(v_reason, ''), true);  -- the transaction's own, back
  END IF;
  IF v_row.id IS NULL THEN
    -- Unchanged: a student in that state already (a change is a change: PT409, as for a
    -- booking), or one the caller may not see.
    IF EXISTS (SELECT 1 FROM booking.students WHERE id = p_student_id AND admission_state = p_state) THEN
      RAISE EXCEPTION 'the student is % already', p_state USING ERRCODE = 'PT409', DETAIL = 'admission_transition';
    END IF;
    RAISE EXCEPTION 'unknown student %', p_student_id USING ERRCODE = 'invalid_parameter_value';
  END IF;
  RETURN v_row;
END $$;

-- ---------------------------------------------------------------------------------------------
-- Privileges
-- ---------------------------------------------------------------------------------------------

CREATE FUNCTION booking_internal.grant_people_privileges(p_role text) RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  IF p_role = 'anon' THEN
    -- a public organization's professionals, as on its booking page (not who they are as users)
    GRANT SELECT (id, organization_id, resource_id, title, specialization, bio, active, accepts_new_clients,
                  session_minutes, buffer_minutes, session_price_cents, currency)
      ON booking.professionals TO anon;
    PERFORM booking_internal.grant_execute(p_role, ARRAY['admission_transitions']);
    RETURN;
  END IF;
  -- the policies and triggers call them as the caller
  PERFORM booking_internal.grant_execute(p_role, ARRAY['admission_transitions', 'set_admission_state',
                                                       'my_professional_resource_ids', 'manages_bookings',
                                                       'is_guardian_of', 'is_active_member', 'my_student_ids']);
  IF p_role = 'authenticated' THEN
    GRANT INSERT, UPDATE, DELETE ON booking.profiles, booking.professionals, booking.students TO authenticated;
  END IF;
  IF p_role = 'service_role' THEN
    REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON booking.student_admission_transitions FROM service_role;
  END IF;
END $$;

COMMENT ON TABLE booking.profiles IS 'A person (the JWT subject): display name, names, email, phone, avatar URL and preferences in metadata. Each person reads and writes their own; others see booking.profile_cards.';
COMMENT ON VIEW booking.profile_cards IS 'Display fields (user_id, display_name, avatar_url) of the caller and of the active members of the organizations the caller is an active member of.';
COMMENT ON TABLE booking.professionals IS 'A professional: a user, an organization and the person resource that is their calendar, with title, specialization, bio, license, session length and buffer (the resource''s), price, and whether they accept new clients.';
COMMENT ON TABLE booking.students IS 'A person appointments are for (seed 003), with guardians (primary and secondary contact), notes seen by staff and guardians only, and the admission state along booking.admission_transitions().';
COMMENT ON TABLE booking.student_admission_transitions IS 'Append-only log of every admission state a student entered: from, to, who and why.';
COMMENT ON FUNCTION booking.admission_transitions() IS 'The admission lifecycle: each legal change of a student''s admission_state and whether a guardian may make it (staff may make all).';
COMMENT ON FUNCTION booking.set_admission_state(uuid, text, text) IS 'Moves a student along the admission lifecycle with a reason for the log; PT409 for an illegal change, 42501 for one only staff may make.';
COMMENT ON FUNCTION booking_internal.my_professional_resource_ids() IS 'Internal: the resources of the caller''s active professional rows in organizations they are an active member of.';
COMMENT ON FUNCTION booking_internal.manages_bookings(uuid, uuid) IS 'Internal: may the caller manage bookings of this resource (the organization''s staff, service_role, or the resource''s professional)?';
COMMENT ON FUNCTION booking_internal.is_active_member(uuid, text) IS 'Internal: is this person an active member of the organization?';
COMMENT ON FUNCTION booking_internal.my_student_ids() IS 'Internal: the students the caller is a guardian of.';
COMMENT ON FUNCTION booking_internal.is_guardian_of(uuid) IS 'Internal: is the caller the primary or secondary contact of this student?';
COMMENT ON FUNCTION booking_internal.professionals_guard() IS 'Trigger: staff link active members to person resources; a professional edits their title, specialization, bio and accepts_new_clients only.';
COMMENT ON FUNCTION booking_internal.professionals_sync_resource() IS 'Trigger: a professional''s resource takes session_minutes + buffer_minutes as its slot interval and buffer_minutes as its buffer after.';
COMMENT ON FUNCTION booking_internal.resources_professional_settings() IS 'Trigger: a professional''s resource keeps the slot interval and buffer after of its professional.';
COMMENT ON FUNCTION booking_internal.students_guard() IS 'Trigger: who may write which fields of a student, the admission lifecycle, derived admission and discharge dates.';
COMMENT ON FUNCTION booking_internal.students_log_admission() IS 'Trigger: logs each admission state a student enters.';
COMMENT ON FUNCTION booking_internal.grant_people_privileges(text) IS 'Internal: the people module''s grants to an API role (called by grant_api_privileges).';
