-- booking_ext, module events: what happens after a booking is approved (seed 001). An approved
-- booking of a resource that generates events gets one event instance (each occurrence of a
-- series is a booking, so each gets its own), in the same transaction; the event has its team,
-- its staff assignments with check-in and check-out, its activities and the kits they need,
-- and the issues reported on site. Four state machines (event instances, activities, staff
-- assignments, activity kits) are written down once (booking.event_state_machines) and
-- enforced by the tables' triggers for every write path; every change of state is logged in
-- booking.event_state_transitions with its actor, reason and metadata.
--
-- What the database makes impossible: a person in two overlapping assignments that hold time
-- (assigned, accepted, checked_in) in one organization; a kit instance planned for two
-- overlapping events, or checked out to two events at once; a check-out before its check-in;
-- hours worked typed in rather than derived from the check-in and check-out instants.
--
-- Instants are timestamptz (the seed's date + start_time + end_time become starts_at and
-- ends_at, copied from the booking and kept equal to it); people are JWT subjects in text.

-- Which resources' approved bookings become events (an agency's venues, a lab's event space).
ALTER TABLE booking.resources ADD COLUMN generates_events boolean NOT NULL DEFAULT false;
COMMENT ON COLUMN booking.resources.generates_events IS 'Approving a booking of this resource creates its event instance (module events).';

-- The seed's columns on bookings, derived from the booking's event instances (never written by
-- anyone: bookings_3_event_columns recomputes them whenever a write names them).
ALTER TABLE booking.bookings
  ADD COLUMN event_generation_status text NOT NULL DEFAULT 'none'
    CONSTRAINT bookings_event_generation_status_check CHECK (event_generation_status IN ('none', 'generated', 'cancelled')),
  ADD COLUMN event_count integer NOT NULL DEFAULT 0,
  ADD COLUMN last_event_generated_at timestamptz;
COMMENT ON COLUMN booking.bookings.event_generation_status IS 'Derived: none, generated (it has an event that is not cancelled) or cancelled (all its events are).';
COMMENT ON COLUMN booking.bookings.event_count IS 'Derived: how many of its event instances are not cancelled.';
COMMENT ON COLUMN booking.bookings.last_event_generated_at IS 'Derived: when its last event instance was created.';

-- ---------------------------------------------------------------------------------------------
-- Places and kits
-- ---------------------------------------------------------------------------------------------

CREATE TABLE booking.locations (
  id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  organization_id uuid NOT NULL REFERENCES booking.organizations (id) ON DELETE CASCADE,
  name            text NOT NULL CHECK (length(btrim(name)) > 0) CONSTRAINT locations_name_size CHECK (length(name) <= 200),
  address         text CONSTRAINT locations_address_size CHECK (length(address) <= 1000),
  city            text CONSTRAINT locations_city_size CHECK (length(city) <= 200),
  state           text CONSTRAINT locations_state_size CHECK (length(state) <= 200),
  postal_code     text CONSTRAINT locations_postal_code_size CHECK (length(postal_code) <= 50),
  country         text CONSTRAINT locations_country_size CHECK (length(country) <= 100),
  contact_info    jsonb NOT NULL DEFAULT '{}'::jsonb CHECK (jsonb_typeof(contact_info) = 'object')
                  CONSTRAINT locations_contact_info_size CHECK (octet_length(contact_info::text) <= 16384),
  created_at      timestamptz NOT NULL DEFAULT now(),
  updated_at      timestamptz NOT NULL DEFAULT now(),
  UNIQUE (id, organization_id)
);
CREATE INDEX locations_organization_id_idx ON booking.locations (organization_id);
SELECT booking_internal.register_table('locations', 'events', true, 'location');

CREATE TABLE booking.kit_templates (
  id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  organization_id uuid NOT NULL REFERENCES booking.organizations (id) ON DELETE CASCADE,
  name            text NOT NULL CHECK (length(btrim(name)) > 0) CONSTRAINT kit_templates_name_size CHECK (length(name) <= 200),
  description     text CONSTRAINT kit_templates_description_size CHECK (length(description) <= 4000),
  components      jsonb NOT NULL DEFAULT '[]'::jsonb CHECK (jsonb_typeof(components) = 'array')
                  CONSTRAINT kit_templates_components_size CHECK (octet_length(components::text) <= 16384),
  brand_id        uuid,
  approval_status text NOT NULL DEFAULT 'approved' CHECK (approval_status IN ('pending', 'approved', 'rejected')),
  created_at      timestamptz NOT NULL DEFAULT now(),
  updated_at      timestamptz NOT NULL DEFAULT now(),
  UNIQUE (id, organization_id)
);
CREATE INDEX kit_templates_organization_id_idx ON booking.kit_templates (organization_id);
SELECT booking_internal.register_table('kit_templates', 'events', true, 'kit_template');

CREATE TABLE booking.kit_instances (
  id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  organization_id uuid NOT NULL,
  template_id     uuid NOT NULL,
  serial_number   text NOT NULL CHECK (length(btrim(serial_number)) > 0) CONSTRAINT kit_instances_serial_number_size CHECK (length(serial_number) <= 200),
  status          text NOT NULL DEFAULT 'available' CHECK (status IN ('available', 'maintenance', 'retired')),
  last_checked    timestamptz,
  created_at      timestamptz NOT NULL DEFAULT now(),
  updated_at      timestamptz NOT NULL DEFAULT now(),
  UNIQUE (id, organization_id),
  CONSTRAINT kit_instances_one_serial UNIQUE (organization_id, serial_number),
  CONSTRAINT kit_instances_template_same_organization FOREIGN KEY (template_id, organization_id)
    REFERENCES booking.kit_templates (id, organization_id) ON DELETE CASCADE
);
CREATE INDEX kit_instances_template_id_idx ON booking.kit_instances (template_id, organization_id);
SELECT booking_internal.register_table('kit_instances', 'events', true, 'kit_instance');

-- ---------------------------------------------------------------------------------------------
-- Events, their team, assignments, activities, kits, issues and the log of their states
-- ---------------------------------------------------------------------------------------------

CREATE TABLE booking.event_instances (
  id                      uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  organization_id         uuid NOT NULL,
  -- one event per booking (an occurrence of a series is a booking of its own)
  booking_id              uuid NOT NULL,
  -- derived: the booking's time, kept equal to it
  starts_at               timestamptz NOT NULL,
  ends_at                 timestamptz NOT NULL,
  location_id             uuid,
  status                  text NOT NULL DEFAULT 'scheduled'
                          CHECK (status IN ('scheduled', 'preparation', 'in_progress', 'completed', 'cancelled',
                                            'issue_reported', 'post_processing')),
  field_manager_id        text CONSTRAINT event_instances_field_manager_id_size CHECK (length(field_manager_id) <= 200),
  preparation_status      text CONSTRAINT event_instances_preparation_status_size CHECK (length(preparation_status) <= 200),
  check_in_required       boolean NOT NULL DEFAULT true,
  -- an assignment not checked in this long after the start reads as no_show; one checked in
  -- but not out this long after the end reads as overdue (booking.assignment_status)
  check_in_grace_minutes  integer NOT NULL DEFAULT 15 CHECK (check_in_grace_minutes BETWEEN 0 AND 1440),
  check_out_limit_minutes integer NOT NULL DEFAULT 120 CHECK (check_out_limit_minutes BETWEEN 0 AND 10080),
  notes                   text CONSTRAINT event_instances_notes_size CHECK (length(notes) <= 4000),
  special_instructions    text CONSTRAINT event_instances_special_instructions_size CHECK (length(special_instructions) <= 4000),
  created_at              timestamptz NOT NULL DEFAULT now(),
  updated_at              timestamptz NOT NULL DEFAULT now(),
  UNIQUE (id, organization_id),
  -- (booking_id alone is unique: a booking has one organization)
  CONSTRAINT event_instances_one_per_booking UNIQUE (booking_id, organization_id),
  CONSTRAINT event_instances_booking_same_organization FOREIGN KEY (booking_id, organization_id)
    REFERENCES booking.bookings (id, organization_id) ON DELETE CASCADE,
  CONSTRAINT event_instances_location_same_organization FOREIGN KEY (location_id, organization_id)
    REFERENCES booking.locations (id, organization_id) ON DELETE SET NULL (location_id)
);
CREATE INDEX event_instances_organization_id_idx ON booking.event_instances (organization_id, starts_at);
CREATE INDEX event_instances_status_idx ON booking.event_instances (organization_id, status);
CREATE INDEX event_instances_field_manager_id_idx ON booking.event_instances (field_manager_id) WHERE field_manager_id IS NOT NULL;
CREATE INDEX event_instances_location_id_idx ON booking.event_instances (location_id, organization_id) WHERE location_id IS NOT NULL;
SELECT booking_internal.register_table('event_instances', 'events', true, 'event_instance');

CREATE TABLE booking.event_team_members (
  id                uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  organization_id   uuid NOT NULL,
  event_instance_id uuid NOT NULL,
  user_id           text NOT NULL CHECK (length(user_id) > 0) CONSTRAINT event_team_members_user_id_size CHECK (length(user_id) <= 200),
  role              text NOT NULL CHECK (length(btrim(role)) > 0) CONSTRAINT event_team_members_role_size CHECK (length(role) <= 100),
  created_at        timestamptz NOT NULL DEFAULT now(),
  updated_at        timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT event_team_members_one_role UNIQUE (event_instance_id, user_id, role),
  CONSTRAINT event_team_members_event_same_organization FOREIGN KEY (event_instance_id, organization_id)
    REFERENCES booking.event_instances (id, organization_id) ON DELETE CASCADE
);
CREATE INDEX event_team_members_user_id_idx ON booking.event_team_members (user_id, event_instance_id);
CREATE INDEX event_team_members_event_instance_id_idx ON booking.event_team_members (event_instance_id, organization_id);
CREATE INDEX event_team_members_organization_id_idx ON booking.event_team_members (organization_id);
SELECT booking_internal.register_table('event_team_members', 'events', true);

CREATE TABLE booking.activities (
  id                uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  organization_id   uuid NOT NULL,
  event_instance_id uuid NOT NULL,
  activity_type     text CONSTRAINT activities_activity_type_size CHECK (length(activity_type) <= 100),
  title             text NOT NULL CHECK (length(btrim(title)) > 0) CONSTRAINT activities_title_size CHECK (length(title) <= 200),
  description       text CONSTRAINT activities_description_size CHECK (length(description) <= 4000),
  instructions      text CONSTRAINT activities_instructions_size CHECK (length(instructions) <= 4000),
  duration_minutes  integer CHECK (duration_minutes BETWEEN 1 AND 10080),
  kit_template_id   uuid,
  status            text NOT NULL DEFAULT 'planned'
                    CHECK (status IN ('planned', 'assigned', 'in_progress', 'completed', 'issue_reported', 'cancelled')),
  preparation_status text CONSTRAINT activities_preparation_status_size CHECK (length(preparation_status) <= 200),
  execution_status  text CONSTRAINT activities_execution_status_size CHECK (length(execution_status) <= 200),
  completion_notes  text CONSTRAINT activities_completion_notes_size CHECK (length(completion_notes) <= 4000),
  target_metrics    jsonb NOT NULL DEFAULT '{}'::jsonb CHECK (jsonb_typeof(target_metrics) = 'object')
                    CONSTRAINT activities_target_metrics_size CHECK (octet_length(target_metrics::text) <= 16384),
  actual_metrics    jsonb NOT NULL DEFAULT '{}'::jsonb CHECK (jsonb_typeof(actual_metrics) = 'object')
                    CONSTRAINT activities_actual_metrics_size CHECK (octet_length(actual_metrics::text) <= 16384),
  created_at        timestamptz NOT NULL DEFAULT now(),
  updated_at        timestamptz NOT NULL DEFAULT now(),
  UNIQUE (id, organization_id),
  CONSTRAINT activities_event_same_organization FOREIGN KEY (event_instance_id, organization_id)
    REFERENCES booking.event_instances (id, organization_id) ON DELETE CASCADE,
  CONSTRAINT activities_kit_template_same_organization FOREIGN KEY (kit_template_id, organization_id)
    REFERENCES booking.kit_templates (id, organization_id)
);
CREATE INDEX activities_event_instance_id_idx ON booking.activities (event_instance_id, organization_id);
CREATE INDEX activities_organization_id_idx ON booking.activities (organization_id, status);
CREATE INDEX activities_kit_template_id_idx ON booking.activities (kit_template_id, organization_id) WHERE kit_template_id IS NOT NULL;
SELECT booking_internal.register_table('activities', 'events', true, 'activity');

-- Staff on an event. `starts_at`/`ends_at` are the event's (derived); the exclusion constraint
-- keeps a person out of two overlapping assignments that hold time, within an organization (an
-- organization never learns from a refusal when another one has someone busy).
CREATE TABLE booking.staff_assignments (
  id                    uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  organization_id       uuid NOT NULL,
  event_instance_id     uuid NOT NULL,
  activity_id           uuid,
  user_id               text NOT NULL CHECK (length(user_id) > 0) CONSTRAINT staff_assignments_user_id_size CHECK (length(user_id) <= 200),
  role                  text NOT NULL CHECK (length(btrim(role)) > 0) CONSTRAINT staff_assignments_role_size CHECK (length(role) <= 100),
  status                text NOT NULL DEFAULT 'assigned'
                        CHECK (status IN ('assigned', 'offered', 'accepted', 'rejected', 'checked_in', 'checked_out',
                                          'no_show', 'cancelled')),
  starts_at             timestamptz NOT NULL,
  ends_at               timestamptz NOT NULL,
  check_in_at           timestamptz,
  check_out_at          timestamptz,
  location_at_check_in  jsonb CHECK (jsonb_typeof(location_at_check_in) = 'object')
                        CONSTRAINT staff_assignments_location_at_check_in_size CHECK (octet_length(location_at_check_in::text) <= 4096),
  location_at_check_out jsonb CHECK (jsonb_typeof(location_at_check_out) = 'object')
                        CONSTRAINT staff_assignments_location_at_check_out_size CHECK (octet_length(location_at_check_out::text) <= 4096),
  -- derived from the instants, never typed in
  hours_worked          numeric(7, 2) GENERATED ALWAYS AS
                          (round((extract(epoch FROM check_out_at - check_in_at) / 3600)::numeric, 2)) STORED,
  -- set by close_overdue when it checked the person out at the event's end
  auto_checked_out      boolean NOT NULL DEFAULT false,
  feedback              text CONSTRAINT staff_assignments_feedback_size CHECK (length(feedback) <= 4000),
  special_instructions  text CONSTRAINT staff_assignments_special_instructions_size CHECK (length(special_instructions) <= 4000),
  created_at            timestamptz NOT NULL DEFAULT now(),
  updated_at            timestamptz NOT NULL DEFAULT now(),
  UNIQUE (id, organization_id),
  CONSTRAINT staff_assignments_check_out_after_check_in CHECK (check_out_at >= check_in_at),
  CONSTRAINT staff_assignments_checked_in_has_time CHECK (status NOT IN ('checked_in', 'checked_out') OR check_in_at IS NOT NULL),
  CONSTRAINT staff_assignments_checked_out_has_time CHECK ((status = 'checked_out') = (check_out_at IS NOT NULL)),
  CONSTRAINT staff_assignments_event_same_organization FOREIGN KEY (event_instance_id, organization_id)
    REFERENCES booking.event_instances (id, organization_id) ON DELETE CASCADE,
  CONSTRAINT staff_assignments_activity_same_organization FOREIGN KEY (activity_id, organization_id)
    REFERENCES booking.activities (id, organization_id) ON DELETE SET NULL (activity_id),
  CONSTRAINT staff_assignments_no_overlap EXCLUDE USING gist
    (organization_id WITH =, user_id WITH =, tstzrange(starts_at, ends_at, '[)') WITH &&)
    WHERE (status IN ('assigned', 'accepted', 'checked_in'))
);
CREATE INDEX staff_assignments_event_instance_id_idx ON booking.staff_assignments (event_instance_id, organization_id);
CREATE INDEX staff_assignments_user_id_idx ON booking.staff_assignments (user_id, starts_at);
CREATE INDEX staff_assignments_activity_id_idx ON booking.staff_assignments (activity_id, organization_id) WHERE activity_id IS NOT NULL;
CREATE INDEX staff_assignments_organization_id_idx ON booking.staff_assignments (organization_id, status);
SELECT booking_internal.register_table('staff_assignments', 'events', true, 'staff_assignment');

-- A kit an activity needs, and the instance that serves it. A kit instance is planned for at
-- most one of overlapping events (assigned, prepared, checked_out hold it over the event's
-- time), and out with at most one event at a time, whenever that event was (checked_out until
-- returned).
CREATE TABLE booking.activity_kits (
  id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  organization_id uuid NOT NULL,
  activity_id     uuid NOT NULL,
  -- derived: the activity's event
  event_instance_id uuid NOT NULL,
  kit_template_id uuid,
  kit_instance_id uuid,
  quantity        integer NOT NULL DEFAULT 1 CHECK (quantity BETWEEN 1 AND 10000),
  status          text NOT NULL DEFAULT 'needed'
                  CHECK (status IN ('needed', 'assigned', 'prepared', 'checked_out', 'returned', 'issue_reported')),
  -- derived: the event's time
  starts_at       timestamptz NOT NULL,
  ends_at         timestamptz NOT NULL,
  checked_out_by  text CONSTRAINT activity_kits_checked_out_by_size CHECK (length(checked_out_by) <= 200),
  checked_out_at  timestamptz,
  returned_by     text CONSTRAINT activity_kits_returned_by_size CHECK (length(returned_by) <= 200),
  returned_at     timestamptz,
  notes           text CONSTRAINT activity_kits_notes_size CHECK (length(notes) <= 4000),
  created_at      timestamptz NOT NULL DEFAULT now(),
  updated_at      timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT activity_kits_instance_when_held CHECK (status NOT IN ('assigned', 'prepared', 'checked_out') OR kit_instance_id IS NOT NULL),
  CONSTRAINT activity_kits_return_after_checkout CHECK (returned_at >= checked_out_at),
  CONSTRAINT activity_kits_activity_same_organization FOREIGN KEY (activity_id, organization_id)
    REFERENCES booking.activities (id, organization_id) ON DELETE CASCADE,
  CONSTRAINT activity_kits_event_same_organization FOREIGN KEY (event_instance_id, organization_id)
    REFERENCES booking.event_instances (id, organization_id) ON DELETE CASCADE,
  CONSTRAINT activity_kits_template_same_organization FOREIGN KEY (kit_template_id, organization_id)
    REFERENCES booking.kit_templates (id, organization_id),
  CONSTRAINT activity_kits_instance_same_organization FOREIGN KEY (kit_instance_id, organization_id)
    REFERENCES booking.kit_instances (id, organization_id),
  CONSTRAINT activity_kits_no_overlap EXCLUDE USING gist
    (kit_instance_id WITH =, tstzrange(starts_at, ends_at, '[)') WITH &&)
    WHERE (status IN ('assigned', 'prepared', 'checked_out'))
);
CREATE UNIQUE INDEX activity_kits_out_once ON booking.activity_kits (kit_instance_id) WHERE status = 'checked_out';
CREATE INDEX activity_kits_activity_id_idx ON booking.activity_kits (activity_id, organization_id);
CREATE INDEX activity_kits_event_instance_id_idx ON booking.activity_kits (event_instance_id, organization_id);
CREATE INDEX activity_kits_kit_template_id_idx ON booking.activity_kits (kit_template_id, organization_id) WHERE kit_template_id IS NOT NULL;
CREATE INDEX activity_kits_kit_instance_id_idx ON booking.activity_kits (kit_instance_id, organization_id) WHERE kit_instance_id IS NOT NULL;
CREATE INDEX activity_kits_organization_id_idx ON booking.activity_kits (organization_id, status);
SELECT booking_internal.register_table('activity_kits', 'events', true, 'activity_kit');

-- Every change of state of the four machines: which machine and row, its event, from and to,
-- who (JWT subject, else the database role), why and anything else worth keeping. Written by
-- the triggers only; append-only like the audit log, and like it without foreign keys, so the
-- history of a deleted event stays readable.
CREATE TABLE booking.event_state_transitions (
  id                uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  organization_id   uuid NOT NULL,
  event_instance_id uuid NOT NULL,
  machine           text NOT NULL CHECK (machine IN ('event_instance', 'activity', 'staff_assignment', 'activity_kit')),
  entity_id         uuid NOT NULL,
  from_state        text,
  to_state          text NOT NULL,
  changed_by        text NOT NULL,
  reason            text CONSTRAINT event_state_transitions_reason_size CHECK (length(reason) <= 4000),
  metadata          jsonb NOT NULL DEFAULT '{}'::jsonb,
  created_at        timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX event_state_transitions_event_idx ON booking.event_state_transitions (event_instance_id, created_at);
CREATE INDEX event_state_transitions_entity_idx ON booking.event_state_transitions (entity_id, created_at);
CREATE INDEX event_state_transitions_organization_id_idx ON booking.event_state_transitions (organization_id, created_at);
SELECT booking_internal.register_table('event_state_transitions', 'events', false);
CREATE TRIGGER event_state_transitions_append_only BEFORE UPDATE OR DELETE ON booking.event_state_transitions
  FOR EACH ROW EXECUTE FUNCTION booking_internal.append_only();
CREATE TRIGGER event_state_transitions_no_truncate BEFORE TRUNCATE ON booking.event_state_transitions
  FOR EACH STATEMENT EXECUTE FUNCTION booking_internal.append_only();

CREATE TABLE booking.event_issues (
  id                uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  organization_id   uuid NOT NULL,
  event_instance_id uuid NOT NULL,
  activity_id       uuid,
  -- derived: the caller who reported it
  reported_by       text NOT NULL,
  issue_type        text NOT NULL CHECK (length(btrim(issue_type)) > 0) CONSTRAINT event_issues_issue_type_size CHECK (length(issue_type) <= 100),
  description       text NOT NULL CHECK (length(btrim(description)) > 0) CONSTRAINT event_issues_description_size CHECK (length(description) <= 4000),
  severity          text NOT NULL CHECK (severity IN ('low', 'medium', 'high', 'critical')),
  status            text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'in_progress', 'resolved', 'dismissed')),
  resolution        text CONSTRAINT event_issues_resolution_size CHECK (length(resolution) <= 4000),
  -- derived when resolved or dismissed
  resolved_by       text,
  resolved_at       timestamptz,
  photo_urls        text[] NOT NULL DEFAULT '{}'
                    CONSTRAINT event_issues_photo_urls_size CHECK (cardinality(photo_urls) <= 10 AND octet_length(array_to_string(photo_urls, '')) <= 20000),
  created_at        timestamptz NOT NULL DEFAULT now(),
  updated_at        timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT event_issues_event_same_organization FOREIGN KEY (event_instance_id, organization_id)
    REFERENCES booking.event_instances (id, organization_id) ON DELETE CASCADE,
  CONSTRAINT event_issues_activity_same_organization FOREIGN KEY (activity_id, organization_id)
    REFERENCES booking.activities (id, organization_id) ON DELETE SET NULL (activity_id)
);
CREATE INDEX event_issues_event_instance_id_idx ON booking.event_issues (event_instance_id, organization_id);
CREATE INDEX event_issues_organization_id_idx ON booking.event_issues (organization_id, status, severity);
CREATE INDEX event_issues_activity_id_idx ON booking.event_issues (activity_id, organization_id) WHERE activity_id IS NOT NULL;
SELECT booking_internal.register_table('event_issues', 'events', true, 'event_issue');

-- ---------------------------------------------------------------------------------------------
-- The state machines: the legal transitions, written once; the triggers ask them.
-- ---------------------------------------------------------------------------------------------

CREATE FUNCTION booking.event_state_machines()
RETURNS TABLE (machine text, from_state text, to_state text)
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
  VALUES
    ('event_instance', 'scheduled', 'preparation'), ('event_instance', 'scheduled', 'in_progress'),
    ('event_instance', 'scheduled', 'cancelled'),
    ('event_instance', 'preparation', 'scheduled'), ('event_instance', 'preparation', 'in_progress'),
    ('event_instance', 'preparation', 'cancelled'),
    ('event_instance', 'in_progress', 'completed'), ('event_instance', 'in_progress', 'issue_reported'),
    ('event_instance', 'in_progress', 'cancelled'),
    ('event_instance', 'issue_reported', 'in_progress'), ('event_instance', 'issue_reported', 'completed'),
    ('event_instance', 'issue_reported', 'cancelled'),
    ('event_instance', 'completed', 'post_processing'),
    ('activity', 'planned', 'assigned'), ('activity', 'planned', 'cancelled'),
    ('activity', 'assigned', 'planned'), ('activity', 'assigned', 'in_progress'), ('activity', 'assigned', 'cancelled'),
    ('activity', 'in_progress', 'completed'), ('activity', 'in_progress', 'issue_reported'),
    ('activity', 'in_progress', 'cancelled'),
    ('activity', 'issue_reported', 'in_progress'), ('activity', 'issue_reported', 'completed'),
    ('activity', 'issue_reported', 'cancelled'),
    ('staff_assignment', 'assigned', 'offered'), ('staff_assignment', 'assigned', 'accepted'),
    ('staff_assignment', 'assigned', 'rejected'), ('staff_assignment', 'assigned', 'checked_in'),
    ('staff_assignment', 'assigned', 'no_show'), ('staff_assignment', 'assigned', 'cancelled'),
    ('staff_assignment', 'offered', 'accepted'), ('staff_assignment', 'offered', 'rejected'),
    ('staff_assignment', 'offered', 'cancelled'),
    ('staff_assignment', 'accepted', 'checked_in'), ('staff_assignment', 'accepted', 'no_show'),
    ('staff_assignment', 'accepted', 'cancelled'),
    ('staff_assignment', 'checked_in', 'checked_out'),
    ('activity_kit', 'needed', 'assigned'), ('activity_kit', 'needed', 'issue_reported'),
    ('activity_kit', 'assigned', 'needed'), ('activity_kit', 'assigned', 'prepared'),
    ('activity_kit', 'assigned', 'checked_out'), ('activity_kit', 'assigned', 'issue_reported'),
    ('activity_kit', 'prepared', 'assigned'), ('activity_kit', 'prepared', 'checked_out'),
    ('activity_kit', 'prepared', 'issue_reported'),
    ('activity_kit', 'checked_out', 'returned'), ('activity_kit', 'checked_out', 'issue_reported'),
    ('activity_kit', 'issue_reported', 'needed'), ('activity_kit', 'issue_reported', 'assigned'),
    ('activity_kit', 'issue_reported', 'returned')
$$;

-- Refuse (PT409, DETAIL 'transition') a change of state the machine does not have.
CREATE FUNCTION booking_internal.check_event_transition(p_machine text, p_from text, p_to text) RETURNS void
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  IF p_from IS DISTINCT FROM p_to
     AND NOT EXISTS (SELECT 1 FROM booking.event_state_machines() m
                     WHERE m.machine = p_machine AND m.from_state = p_from AND m.to_state = p_to) THEN
    RAISE EXCEPTION 'This % cannot go from % to %.', replace(p_machine, '_', ' '), p_from, p_to
      USING ERRCODE = 'PT409', DETAIL = 'transition',
            HINT = 'booking.event_state_machines() lists the legal transitions.';
  END IF;
END $$;

-- Log a change of state (the actor is the JWT subject, else the database role; the reason is
-- the RPC's, or booking.reason for a direct write).
CREATE FUNCTION booking_internal.log_event_transition(p_organization_id uuid, p_event_id uuid, p_machine text,
                                                      p_entity_id uuid, p_from text, p_to text,
                                                      p_metadata jsonb DEFAULT '{}'::jsonb) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  INSERT INTO booking.event_state_transitions (organization_id, event_instance_id, machine, entity_id, from_state,
                                               to_state, changed_by, reason, metadata)
  VALUES (p_organization_id, p_event_id, p_machine, p_entity_id, p_from, p_to, booking_internal.actor_id(),
          left(nullif(current_setting('booking.reason', true), ''), 4000), coalesce(p_metadata, '{}'::jsonb));
END $$;

-- ---------------------------------------------------------------------------------------------
-- Generation: an approved booking of a resource that generates events gets its event, once; a
-- cancelled or rejected one cancels it; a moved one moves it.
-- ---------------------------------------------------------------------------------------------

-- The booking's derived event columns, from its events (whoever writes a booking naming them).
CREATE FUNCTION booking_internal.bookings_event_columns() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_live  integer;
  v_all   integer;
  v_last  timestamptz;
BEGIN
  IF booking_internal.is_bulk_load() THEN
    RETURN NEW;
  END IF;
  IF TG_OP = 'INSERT' THEN
    NEW.event_generation_status := 'none';
    NEW.event_count := 0;
    NEW.last_event_generated_at := NULL;
    RETURN NEW;
  END IF;
  SELECT count(*) FILTER (WHERE e.status <> 'cancelled'), count(*), max(e.created_at) INTO v_live, v_all, v_last
  FROM booking.event_instances e WHERE e.booking_id = NEW.id;
  NEW.event_count := v_live;
  NEW.last_event_generated_at := v_last;
  NEW.event_generation_status := CASE WHEN v_live > 0 THEN 'generated' WHEN v_all > 0 THEN 'cancelled' ELSE 'none' END;
  RETURN NEW;
END $$;

-- (Not for an occurrence of a series judged as a whole: book_series_at_once leaves the three
-- columns to their defaults, what this trigger derives for a new booking.)
CREATE TRIGGER bookings_3_event_columns BEFORE INSERT OR UPDATE OF event_generation_status, event_count, last_event_generated_at
  ON booking.bookings FOR EACH ROW
  WHEN (NOT booking_internal.is_judged_booking(NEW.id, NEW.resource_id, NEW.seats, NEW.status, NEW.starts_at, NEW.ends_at))
  EXECUTE FUNCTION booking_internal.bookings_event_columns();

CREATE FUNCTION booking_internal.bookings_generate_events() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_reason text;
BEGIN
  IF booking_internal.is_bulk_load() THEN
    RETURN NULL;
  END IF;
  IF NEW.status = 'approved' THEN
    PERFORM booking_internal.generate_booking_events(ARRAY[NEW]);
  ELSIF NEW.status IN ('cancelled', 'rejected')
        AND EXISTS (SELECT 1 FROM booking.event_instances WHERE booking_id = NEW.id) THEN
    -- the log's reason for these changes only: the transaction's own reason is put back
    v_reason := current_setting('booking.reason', true);
    PERFORM set_config('booking.reason', coalesce(nullif(v_reason, ''), 'the booking was ' || NEW.status), true);
    UPDATE booking.event_instances SET status = 'cancelled'
    WHERE booking_id = NEW.id AND status IN ('scheduled', 'preparation', 'in_progress', 'issue_reported');
    PERFORM set_config('booking.reason', coalesce(v_reason, ''), true);
  END IF;
  IF TG_OP = 'UPDATE' AND (NEW.starts_at, NEW.ends_at) IS DISTINCT FROM (OLD.starts_at, OLD.ends_at) THEN
    UPDATE booking.event_instances SET starts_at = NEW.starts_at, ends_at = NEW.ends_at WHERE booking_id = NEW.id;
  END IF;
  RETURN NULL;
END $$;

-- The events of approved bookings of resources that generate events, each once.
CREATE FUNCTION booking_internal.generate_booking_events(p_bookings booking.bookings[]) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  INSERT INTO booking.event_instances (organization_id, booking_id, starts_at, ends_at)
  SELECT b.organization_id, b.id, b.starts_at, b.ends_at
  FROM unnest(p_bookings) b
  JOIN booking.resources r ON r.id = b.resource_id AND r.generates_events
  WHERE b.status = 'approved'
  ORDER BY b.starts_at, b.id
  ON CONFLICT (booking_id, organization_id) DO NOTHING;
END $$;

-- New bookings: the events of the approved ones, all the rows of one INSERT at once.
CREATE FUNCTION booking_internal.bookings_events_inserted() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_approved booking.bookings[];
BEGIN
  IF NOT booking_internal.is_bulk_load() THEN
    -- (most resources generate none: the call only when one does)
    v_approved := ARRAY(SELECT n::booking.bookings FROM new_rows n JOIN booking.resources r ON r.id = n.resource_id
                        WHERE n.status = 'approved' AND r.generates_events);
    IF cardinality(v_approved) > 0 THEN
      PERFORM booking_internal.generate_booking_events(v_approved);
    END IF;
  END IF;
  RETURN NULL;
END $$;

CREATE TRIGGER bookings_8_events_insert AFTER INSERT ON booking.bookings REFERENCING NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION booking_internal.bookings_events_inserted();
CREATE TRIGGER bookings_8_events_update AFTER UPDATE OF status, starts_at, ends_at ON booking.bookings
  FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status OR OLD.starts_at IS DISTINCT FROM NEW.starts_at
                     OR OLD.ends_at IS DISTINCT FROM NEW.ends_at)
  EXECUTE FUNCTION booking_internal.bookings_generate_events();

-- ---------------------------------------------------------------------------------------------
-- Event instances
-- ---------------------------------------------------------------------------------------------

CREATE FUNCTION booking_internal.event_instances_guard() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_booking booking.bookings;
BEGIN
  IF booking_internal.is_bulk_load() THEN
    RETURN NEW;
  END IF;
  IF TG_OP = 'UPDATE' AND NEW.booking_id IS DISTINCT FROM OLD.booking_id THEN
    RAISE EXCEPTION 'an event''s booking cannot change' USING ERRCODE = 'insufficient_privilege';
  END IF;
  -- (Events are inserted only by generation and generate_event, running as the owner, and by
  -- service_role: the API roles have no INSERT privilege on the table.)
  SELECT * INTO v_booking FROM booking.bookings WHERE id = NEW.booking_id AND organization_id = NEW.organization_id;
  IF NOT FOUND THEN
    RETURN NEW;  -- the foreign key reports it
  END IF;
  NEW.starts_at := v_booking.starts_at;
  NEW.ends_at := v_booking.ends_at;
  IF TG_OP = 'INSERT' THEN
    IF v_booking.status <> 'approved' THEN
      RAISE EXCEPTION 'an event needs an approved booking, not a % one', v_booking.status
        USING ERRCODE = 'PT409', DETAIL = 'booking_not_approved';
    END IF;
    NEW.status := 'scheduled';
    RETURN NEW;
  END IF;
  -- A field manager who is not staff changes the event's state and notes, nothing else.
  IF NOT booking_internal.has_staff_rights(NEW.organization_id)
     AND (NEW.location_id, NEW.field_manager_id, NEW.check_in_required, NEW.check_in_grace_minutes,
          NEW.check_out_limit_minutes, NEW.special_instructions)
         IS DISTINCT FROM (OLD.location_id, OLD.field_manager_id, OLD.check_in_required, OLD.check_in_grace_minutes,
                           OLD.check_out_limit_minutes, OLD.special_instructions)
     AND booking.current_user_id() IS NOT NULL THEN
    RAISE EXCEPTION 'a field manager changes an event''s status, preparation and notes only'
      USING ERRCODE = 'insufficient_privilege';
  END IF;
  PERFORM booking_internal.check_event_transition('event_instance', OLD.status, NEW.status);
  RETURN NEW;
END $$;

-- After an event's state or time changed: the log, and what follows in the same transaction (a
-- cancelled event cancels its assignments and activities and frees the kits not out; a moved
-- one moves its assignments and kits).
CREATE FUNCTION booking_internal.event_instances_after() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  IF booking_internal.is_bulk_load() THEN
    RETURN NULL;
  END IF;
  IF TG_OP = 'INSERT' OR NEW.status IS DISTINCT FROM OLD.status THEN
    PERFORM booking_internal.log_event_transition(NEW.organization_id, NEW.id, 'event_instance', NEW.id,
                                                  CASE WHEN TG_OP = 'UPDATE' THEN OLD.status END, NEW.status);
    -- the booking's derived columns
    UPDATE booking.bookings SET event_count = NULL WHERE id = NEW.booking_id;
    INSERT INTO booking.outbox (organization_id, topic, payload)
    VALUES (NEW.organization_id, CASE WHEN TG_OP = 'INSERT' THEN 'event.created' ELSE 'event.status_changed' END,
            jsonb_strip_nulls(jsonb_build_object('event_id', NEW.id, 'booking_id', NEW.booking_id, 'status', NEW.status,
                                                 'previous_status', CASE WHEN TG_OP = 'UPDATE' THEN OLD.status END)));
  END IF;
  IF TG_OP = 'UPDATE' AND NEW.status = 'cancelled' AND OLD.status <> 'cancelled' THEN
    UPDATE booking.staff_assignments SET status = 'cancelled'
    WHERE event_instance_id = NEW.id AND status IN ('assigned', 'offered', 'accepted');
    UPDATE booking.activities SET status = 'cancelled'
    WHERE event_instance_id = NEW.id AND status IN ('planned', 'assigned', 'in_progress', 'issue_reported');
    UPDATE booking.activity_kits SET status = 'needed', kit_instance_id = NULL
    WHERE event_instance_id = NEW.id AND status IN ('assigned', 'prepared');
  END IF;
  IF TG_OP = 'UPDATE' AND (NEW.starts_at, NEW.ends_at) IS DISTINCT FROM (OLD.starts_at, OLD.ends_at) THEN
    UPDATE booking.staff_assignments SET starts_at = NEW.starts_at, ends_at = NEW.ends_at
    WHERE event_instance_id = NEW.id;
    UPDATE booking.activity_kits SET starts_at = NEW.starts_at, ends_at = NEW.ends_at WHERE event_instance_id = NEW.id;
  END IF;
  RETURN NULL;
END $$;

-- A deleted event leaves its booking's derived columns true.
CREATE FUNCTION booking_internal.event_instances_deleted() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  IF NOT booking_internal.is_bulk_load() THEN
    UPDATE booking.bookings SET event_count = NULL WHERE id = OLD.booking_id;
  END IF;
  RETURN NULL;
END $$;

CREATE TRIGGER event_instances_1_guard BEFORE INSERT OR UPDATE ON booking.event_instances
  FOR EACH ROW EXECUTE FUNCTION booking_internal.event_instances_guard();
CREATE TRIGGER event_instances_6_after AFTER INSERT OR UPDATE OF status, starts_at, ends_at ON booking.event_instances
  FOR EACH ROW EXECUTE FUNCTION booking_internal.event_instances_after();
CREATE TRIGGER event_instances_6_deleted AFTER DELETE ON booking.event_instances
  FOR EACH ROW EXECUTE FUNCTION booking_internal.event_instances_deleted();

-- ---------------------------------------------------------------------------------------------
-- Team members, activities, staff assignments, kits, issues: each row takes its organization
-- and time from its event; state changes follow the machines and are logged.
-- ---------------------------------------------------------------------------------------------

-- The event a row is about, within the row's own organization (no other tenant's event is
-- read; NULL organization when there is none, for the foreign key to report), and the rule that
-- a row never moves to another event.
CREATE FUNCTION booking_internal.event_of_row(p_op text, p_event_id uuid, p_old_event_id uuid, p_organization_id uuid,
                                              OUT organization_id uuid, OUT starts_at timestamptz,
                                              OUT ends_at timestamptz, OUT status text)
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  IF p_op = 'UPDATE' AND p_event_id IS DISTINCT FROM p_old_event_id THEN
    RAISE EXCEPTION 'a row of an event cannot move to another event' USING ERRCODE = 'insufficient_privilege';
  END IF;
  SELECT e.organization_id, e.starts_at, e.ends_at, e.status INTO organization_id, starts_at, ends_at, status
  FROM booking.event_instances e WHERE e.id = p_event_id AND e.organization_id = p_organization_id;
END $$;

CREATE FUNCTION booking_internal.event_team_members_guard() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  IF NOT booking_internal.is_bulk_load() THEN
    PERFORM booking_internal.event_of_row(TG_OP, NEW.event_instance_id,
                                          CASE WHEN TG_OP = 'UPDATE' THEN OLD.event_instance_id END, NEW.organization_id);
  END IF;
  RETURN NEW;
END $$;

CREATE FUNCTION booking_internal.activities_guard() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  IF booking_internal.is_bulk_load() THEN
    RETURN NEW;
  END IF;
  PERFORM booking_internal.event_of_row(TG_OP, NEW.event_instance_id,
                                        CASE WHEN TG_OP = 'UPDATE' THEN OLD.event_instance_id END, NEW.organization_id);
  IF TG_OP = 'INSERT' THEN
    IF NEW.status <> 'planned' THEN
      RAISE EXCEPTION 'an activity starts planned, not %', NEW.status USING ERRCODE = 'PT409', DETAIL = 'transition';
    END IF;
  ELSE
    PERFORM booking_internal.check_event_transition('activity', OLD.status, NEW.status);
  END IF;
  RETURN NEW;
END $$;

CREATE FUNCTION booking_internal.staff_assignments_guard() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_event record;
BEGIN
  IF booking_internal.is_bulk_load() THEN
    RETURN NEW;
  END IF;
  SELECT * INTO v_event FROM booking_internal.event_of_row(TG_OP, NEW.event_instance_id,
                                                           CASE WHEN TG_OP = 'UPDATE' THEN OLD.event_instance_id END,
                                                           NEW.organization_id);
  IF v_event.organization_id IS NULL THEN
    RETURN NEW;  -- the foreign key reports it
  END IF;
  NEW.starts_at := v_event.starts_at;
  NEW.ends_at := v_event.ends_at;
  -- Writers of one person's time in an organization take turns before the exclusion constraint
  -- judges them: two sessions inserting conflicting rows at once can otherwise each wait for the
  -- other there (Postgres documents the deadlock), instead of one refusing the other.
  IF NEW.status IN ('assigned', 'accepted', 'checked_in')
     AND (TG_OP = 'INSERT' OR OLD.status NOT IN ('assigned', 'accepted', 'checked_in')
          OR (NEW.starts_at, NEW.ends_at) IS DISTINCT FROM (OLD.starts_at, OLD.ends_at)) THEN
    PERFORM pg_advisory_xact_lock(hashtext('booking_ext.staff_assignments'), hashtext(NEW.organization_id::text || '/' || NEW.user_id));
  END IF;
  IF TG_OP = 'INSERT' THEN
    IF NEW.status NOT IN ('assigned', 'offered') THEN
      RAISE EXCEPTION 'an assignment starts assigned or offered, not %', NEW.status USING ERRCODE = 'PT409', DETAIL = 'transition';
    END IF;
    IF v_event.status IN ('completed', 'cancelled', 'post_processing') THEN
      RAISE EXCEPTION 'This event is %: nobody is assigned to it now.', v_event.status USING ERRCODE = 'PT409', DETAIL = 'event_closed';
    END IF;
    NEW.check_in_at := NULL;
    NEW.check_out_at := NULL;
    NEW.location_at_check_in := NULL;
    NEW.location_at_check_out := NULL;
    NEW.auto_checked_out := false;
    RETURN NEW;
  END IF;

  PERFORM booking_internal.check_event_transition('staff_assignment', OLD.status, NEW.status);
  IF NEW.user_id IS DISTINCT FROM OLD.user_id THEN
    RAISE EXCEPTION 'an assignment''s person cannot change' USING ERRCODE = 'insufficient_privilege',
      HINT = 'Cancel it and assign someone else.';
  END IF;
  -- The person assigned answers, checks in and out, and writes their locations and feedback;
  -- the rest is staff's. An assignment of a cancelled event is cancelled by the rule, whoever
  -- cancelled the event (its field manager, or the booker cancelling the booking).
  IF NOT booking_internal.has_staff_rights(NEW.organization_id)
     AND NOT (NEW.status = 'cancelled' AND v_event.status = 'cancelled')
     AND (NEW.role IS DISTINCT FROM OLD.role OR NEW.activity_id IS DISTINCT FROM OLD.activity_id
          OR NEW.special_instructions IS DISTINCT FROM OLD.special_instructions
          OR (NEW.status IS DISTINCT FROM OLD.status AND NEW.status NOT IN ('accepted', 'rejected', 'checked_in', 'checked_out'))) THEN
    RAISE EXCEPTION 'the person assigned answers, checks in and out; the rest is for staff'
      USING ERRCODE = 'insufficient_privilege';
  END IF;
  -- The instants are the database's: now, at the change of state.
  NEW.check_in_at := CASE WHEN NEW.status = 'checked_in' AND OLD.status <> 'checked_in' THEN now() ELSE OLD.check_in_at END;
  IF NEW.status = 'checked_out' AND OLD.status <> 'checked_out' AND NEW.auto_checked_out
     AND booking_internal.is_privileged() THEN
    -- close_overdue checks the person out when the event ended (or when they checked in)
    NEW.check_out_at := greatest(NEW.ends_at, NEW.check_in_at);
  ELSE
    NEW.check_out_at := CASE WHEN NEW.status = 'checked_out' AND OLD.status <> 'checked_out' THEN now() ELSE OLD.check_out_at END;
    NEW.auto_checked_out := OLD.auto_checked_out;
  END IF;
  IF NEW.status = 'checked_in' AND OLD.status <> 'checked_in' THEN
    IF v_event.status IN ('completed', 'cancelled', 'post_processing') THEN
      RAISE EXCEPTION 'This event is %: nobody checks in now.', v_event.status USING ERRCODE = 'PT409', DETAIL = 'event_closed';
    END IF;
  ELSE
    NEW.location_at_check_in := OLD.location_at_check_in;
  END IF;
  IF NOT (NEW.status = 'checked_out' AND OLD.status <> 'checked_out') THEN
    NEW.location_at_check_out := OLD.location_at_check_out;
  END IF;
  RETURN NEW;
END $$;

CREATE FUNCTION booking_internal.activity_kits_guard() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_event record;
  v_kit   record;
BEGIN
  IF booking_internal.is_bulk_load() THEN
    RETURN NEW;
  END IF;
  IF TG_OP = 'UPDATE' AND NEW.activity_id IS DISTINCT FROM OLD.activity_id THEN
    RAISE EXCEPTION 'a kit of an activity cannot move to another activity' USING ERRCODE = 'insufficient_privilege';
  END IF;
  -- the activity's event, within the row's organization
  NEW.event_instance_id := (SELECT a.event_instance_id FROM booking.activities a
                            WHERE a.id = NEW.activity_id AND a.organization_id = NEW.organization_id);
  SELECT * INTO v_event FROM booking_internal.event_of_row(TG_OP, NEW.event_instance_id,
                                                           CASE WHEN TG_OP = 'UPDATE' THEN OLD.event_instance_id END,
                                                           NEW.organization_id);
  IF v_event.organization_id IS NULL THEN
    RETURN NEW;  -- the foreign key reports it
  END IF;
  NEW.starts_at := v_event.starts_at;
  NEW.ends_at := v_event.ends_at;
  -- Writers of one kit instance take turns (its row's lock) before the exclusion constraint and
  -- the one-checkout index judge them (see staff_assignments_guard).
  IF NEW.kit_instance_id IS NOT NULL AND NEW.status IN ('assigned', 'prepared', 'checked_out')
     AND (TG_OP = 'INSERT' OR NEW.kit_instance_id IS DISTINCT FROM OLD.kit_instance_id OR NEW.status <> OLD.status
          OR (NEW.starts_at, NEW.ends_at) IS DISTINCT FROM (OLD.starts_at, OLD.ends_at)) THEN
    PERFORM 1 FROM booking.kit_instances k
    WHERE k.id = NEW.kit_instance_id AND k.organization_id = NEW.organization_id
    FOR NO KEY UPDATE;
  END IF;
  -- The instance serving a kit: of the kit's template, and available (not in maintenance or
  -- retired) whenever it is planned anew or leaves with the event.
  IF NEW.kit_instance_id IS NOT NULL
     AND (TG_OP = 'INSERT' OR NEW.kit_instance_id IS DISTINCT FROM OLD.kit_instance_id
          OR NEW.kit_template_id IS DISTINCT FROM OLD.kit_template_id
          OR (NEW.status = 'checked_out' AND OLD.status <> 'checked_out')) THEN
    SELECT k.template_id, k.status INTO v_kit FROM booking.kit_instances k
    WHERE k.id = NEW.kit_instance_id AND k.organization_id = NEW.organization_id;
    IF FOUND AND NEW.kit_template_id IS NOT NULL AND v_kit.template_id <> NEW.kit_template_id THEN
      RAISE EXCEPTION 'kit instance % is not of the kit''s template', NEW.kit_instance_id
        USING ERRCODE = 'check_violation', CONSTRAINT = 'activity_kits_instance_of_template';
    END IF;
    IF FOUND AND v_kit.status <> 'available' AND NEW.status IN ('assigned', 'prepared', 'checked_out') THEN
      RAISE EXCEPTION 'This kit is %.', v_kit.status USING ERRCODE = 'PT409', DETAIL = 'kit_unavailable';
    END IF;
  END IF;
  IF TG_OP = 'INSERT' THEN
    IF NEW.status NOT IN ('needed', 'assigned') THEN
      RAISE EXCEPTION 'a kit starts needed or assigned, not %', NEW.status USING ERRCODE = 'PT409', DETAIL = 'transition';
    END IF;
    NEW.checked_out_by := NULL;
    NEW.checked_out_at := NULL;
    NEW.returned_by := NULL;
    NEW.returned_at := NULL;
    RETURN NEW;
  END IF;

  PERFORM booking_internal.check_event_transition('activity_kit', OLD.status, NEW.status);
  -- The event's people check kits out and return them; the rest is staff's. A kit of a
  -- cancelled event is freed by the rule, whoever cancelled the event.
  IF NOT booking_internal.has_staff_rights(NEW.organization_id)
     AND NOT (v_event.status = 'cancelled' AND NEW.status = 'needed' AND NEW.kit_instance_id IS NULL
              AND (NEW.kit_template_id, NEW.quantity) IS NOT DISTINCT FROM (OLD.kit_template_id, OLD.quantity))
     AND ((NEW.status IS DISTINCT FROM OLD.status AND NEW.status NOT IN ('checked_out', 'returned'))
          OR (NEW.kit_instance_id, NEW.kit_template_id, NEW.quantity)
             IS DISTINCT FROM (OLD.kit_instance_id, OLD.kit_template_id, OLD.quantity)) THEN
    RAISE EXCEPTION 'the event''s people check kits out and return them; the rest is for staff'
      USING ERRCODE = 'insufficient_privilege';
  END IF;
  IF NEW.status = 'checked_out' AND OLD.status <> 'checked_out' THEN
    NEW.checked_out_by := booking_internal.actor_id();
    NEW.checked_out_at := now();
    NEW.returned_by := NULL;
    NEW.returned_at := NULL;
  ELSE
    NEW.checked_out_by := OLD.checked_out_by;
    NEW.checked_out_at := OLD.checked_out_at;
    IF NEW.status = 'returned' AND OLD.status <> 'returned' THEN
      NEW.returned_by := booking_internal.actor_id();
      NEW.returned_at := now();
    ELSE
      NEW.returned_by := OLD.returned_by;
      NEW.returned_at := OLD.returned_at;
    END IF;
  END IF;
  RETURN NEW;
END $$;

CREATE FUNCTION booking_internal.event_issues_guard() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  IF booking_internal.is_bulk_load() THEN
    RETURN NEW;
  END IF;
  PERFORM booking_internal.event_of_row(TG_OP, NEW.event_instance_id,
                                        CASE WHEN TG_OP = 'UPDATE' THEN OLD.event_instance_id END, NEW.organization_id);
  IF TG_OP = 'INSERT' THEN
    NEW.reported_by := coalesce(booking.current_user_id(), booking_internal.actor_id());
    NEW.status := 'open';
    NEW.resolved_by := NULL;
    NEW.resolved_at := NULL;
    RETURN NEW;
  END IF;
  NEW.reported_by := OLD.reported_by;
  IF NEW.status IN ('resolved', 'dismissed') AND OLD.status NOT IN ('resolved', 'dismissed') THEN
    NEW.resolved_by := booking_internal.actor_id();
    NEW.resolved_at := now();
  ELSIF NEW.status NOT IN ('resolved', 'dismissed') THEN
    NEW.resolved_by := NULL;
    NEW.resolved_at := NULL;
  ELSE
    NEW.resolved_by := OLD.resolved_by;
    NEW.resolved_at := OLD.resolved_at;
  END IF;
  RETURN NEW;
END $$;

-- Who may insert a row about an event, before the row's own policy is asked (and without
-- reading another tenant's event): staff for team members, assignments, activities and kits;
-- anyone the event involves for an issue.
CREATE FUNCTION booking_internal.event_rows_insert_right() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  IF booking_internal.is_bulk_load() THEN
    RETURN NEW;
  END IF;
  IF NOT booking_internal.has_staff_rights(NEW.organization_id)
     AND NOT (TG_TABLE_NAME = 'event_issues'
              AND EXISTS (SELECT 1 FROM booking.event_instances e
                          WHERE e.id = NEW.event_instance_id AND e.organization_id = NEW.organization_id)
              AND NEW.event_instance_id = ANY (booking_internal.my_event_ids())) THEN
    RAISE EXCEPTION 'new row violates row-level security policy for table "%"', TG_TABLE_NAME
      USING ERRCODE = 'insufficient_privilege';
  END IF;
  RETURN NEW;
END $$;

-- After a change of state of an activity, assignment or kit: the log (an assignment's with its
-- person, place and hours; a kit's with its instance).
CREATE FUNCTION booking_internal.activities_log() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  IF NOT booking_internal.is_bulk_load() THEN
    PERFORM booking_internal.log_event_transition(NEW.organization_id, NEW.event_instance_id, 'activity', NEW.id,
                                                  CASE WHEN TG_OP = 'UPDATE' THEN OLD.status END, NEW.status);
  END IF;
  RETURN NULL;
END $$;

CREATE FUNCTION booking_internal.staff_assignments_log() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  IF NOT booking_internal.is_bulk_load() THEN
    PERFORM booking_internal.log_event_transition(
      NEW.organization_id, NEW.event_instance_id, 'staff_assignment', NEW.id,
      CASE WHEN TG_OP = 'UPDATE' THEN OLD.status END, NEW.status,
      jsonb_strip_nulls(jsonb_build_object(
        'user_id', NEW.user_id, 'hours_worked', NEW.hours_worked, 'auto_checked_out', nullif(NEW.auto_checked_out, false),
        'location', CASE NEW.status WHEN 'checked_in' THEN NEW.location_at_check_in
                                    WHEN 'checked_out' THEN NEW.location_at_check_out END)));
  END IF;
  RETURN NULL;
END $$;

CREATE FUNCTION booking_internal.activity_kits_log() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  IF NOT booking_internal.is_bulk_load() THEN
    PERFORM booking_internal.log_event_transition(
      NEW.organization_id, NEW.event_instance_id, 'activity_kit', NEW.id,
      CASE WHEN TG_OP = 'UPDATE' THEN OLD.status END, NEW.status,
      jsonb_strip_nulls(jsonb_build_object('kit_instance_id', NEW.kit_instance_id)));
  END IF;
  RETURN NULL;
END $$;

-- A reported issue goes on the outbox; an event in progress becomes issue_reported.
CREATE FUNCTION booking_internal.event_issues_reported() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_reason text;
BEGIN
  IF booking_internal.is_bulk_load() THEN
    RETURN NULL;
  END IF;
  INSERT INTO booking.outbox (organization_id, topic, payload)
  VALUES (NEW.organization_id, 'event.issue_reported',
          jsonb_build_object('issue_id', NEW.id, 'event_id', NEW.event_instance_id, 'severity', NEW.severity,
                             'issue_type', NEW.issue_type));
  IF EXISTS (SELECT 1 FROM booking.event_instances WHERE id = NEW.event_instance_id AND status = 'in_progress') THEN
    v_reason := current_setting('booking.reason', true);
    PERFORM set_config('booking.reason', 'issue reported: ' || left(NEW.issue_type, 100), true);
    UPDATE booking.event_instances SET status = 'issue_reported' WHERE id = NEW.event_instance_id;
    PERFORM set_config('booking.reason', coalesce(v_reason, ''), true);
  END IF;
  RETURN NULL;
END $$;

-- Each table about an event: the insert right first, then its guard; the stateful ones log
-- each change of state (booking_internal.<table>_guard and <table>_log above).
DO $$
DECLARE
  v_table text;
BEGIN
  FOREACH v_table IN ARRAY ARRAY['event_team_members', 'activities', 'staff_assignments', 'activity_kits', 'event_issues'] LOOP
    EXECUTE format('CREATE TRIGGER %1$I BEFORE INSERT ON booking.%2$I
                    FOR EACH ROW EXECUTE FUNCTION booking_internal.event_rows_insert_right()', v_table || '_0_insert_right', v_table);
    EXECUTE format('CREATE TRIGGER %1$I BEFORE INSERT OR UPDATE ON booking.%2$I
                    FOR EACH ROW EXECUTE FUNCTION booking_internal.%3$I()', v_table || '_1_guard', v_table, v_table || '_guard');
    CONTINUE WHEN v_table NOT IN ('activities', 'staff_assignments', 'activity_kits');
    EXECUTE format('CREATE TRIGGER %1$I AFTER INSERT ON booking.%2$I
                    FOR EACH ROW EXECUTE FUNCTION booking_internal.%3$I()', v_table || '_6_log_insert', v_table, v_table || '_log');
    EXECUTE format('CREATE TRIGGER %1$I AFTER UPDATE OF status ON booking.%2$I
                    FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status) EXECUTE FUNCTION booking_internal.%3$I()',
                   v_table || '_6_log_status', v_table, v_table || '_log');
  END LOOP;
END $$;
CREATE TRIGGER event_issues_6_reported AFTER INSERT ON booking.event_issues
  FOR EACH ROW EXECUTE FUNCTION booking_internal.event_issues_reported();

-- ---------------------------------------------------------------------------------------------
-- Row-level security. Staff manage their organization's events and everything about them; the
-- people an event involves (its field manager, team and assignees) see it, its activities,
-- kits, assignments and log; the booker of its booking sees the event itself; an assignee
-- changes their own assignment (answer, check-in, check-out) and the event's people check kits
-- out and return them: the guards say which columns.
-- ---------------------------------------------------------------------------------------------

-- The events the caller is involved in: as field manager, team member or assignee, and, with
-- p_with_bookers, as the booker of the event's booking. Policies call it once per statement.
CREATE FUNCTION booking_internal.my_event_ids(p_with_bookers boolean DEFAULT false) RETURNS uuid[]
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_user text := booking.current_user_id();
BEGIN
  IF v_user IS NULL THEN
    RETURN '{}'::uuid[];
  END IF;
  RETURN ARRAY(
    SELECT e.id FROM booking.event_instances e WHERE e.field_manager_id = v_user
    UNION SELECT t.event_instance_id FROM booking.event_team_members t WHERE t.user_id = v_user
    UNION SELECT a.event_instance_id FROM booking.staff_assignments a WHERE a.user_id = v_user
    UNION SELECT e.id FROM booking.event_instances e JOIN booking.bookings b ON b.id = e.booking_id
          WHERE p_with_bookers AND b.booked_by = v_user);
END $$;

CREATE POLICY locations_select ON booking.locations FOR SELECT
  USING (organization_id = ANY ((SELECT booking.user_organization_ids())::uuid[]));
CREATE POLICY kit_templates_select ON booking.kit_templates FOR SELECT
  USING (organization_id = ANY ((SELECT booking.user_organization_ids())::uuid[]));
CREATE POLICY kit_instances_select ON booking.kit_instances FOR SELECT
  USING (organization_id = ANY ((SELECT booking.user_organization_ids())::uuid[]));
SELECT booking_internal.create_staff_write_policies(t)
FROM unnest(ARRAY['locations', 'kit_templates', 'kit_instances', 'event_team_members', 'activities']) AS t;

-- The other tables: staff of the organization, or the people the last columns name ('' for
-- staff alone, NULL for nobody: no policy). my_event_ids(true) counts the booker of the event's
-- booking in, my_event_ids() its field manager, team and assignees only.
DO $$
DECLARE
  v_staff constant text := 'organization_id = ANY ((SELECT booking.user_organization_ids(''{owner,admin,staff}''))::uuid[])';
  v_mine  constant text := 'event_instance_id = ANY ((SELECT booking_internal.my_event_ids())::uuid[])';
  v_me    constant text := '(SELECT booking.current_user_id())';
  p       record;
BEGIN
  FOR p IN SELECT * FROM (VALUES
      ('event_instances', 'id = ANY ((SELECT booking_internal.my_event_ids(true))::uuid[])', NULL, 'field_manager_id = ' || v_me, ''),
      ('event_team_members', v_mine, NULL, NULL, NULL),
      ('activities', v_mine, NULL, NULL, NULL),
      ('staff_assignments', 'user_id = ' || v_me || ' OR ' || v_mine, '', 'user_id = ' || v_me, ''),
      ('activity_kits', v_mine, '', v_mine, ''),
      ('event_state_transitions', v_mine, NULL, NULL, NULL),
      ('event_issues', 'reported_by = ' || v_me || ' OR ' || v_mine, v_mine, '', '')
    ) AS x(tbl, reads, inserts, updates, deletes) LOOP
    EXECUTE format('CREATE POLICY %I ON booking.%I FOR SELECT USING (%s OR %s)', p.tbl || '_select', p.tbl, v_staff, p.reads);
    IF p.inserts IS NOT NULL THEN
      EXECUTE format('CREATE POLICY %I ON booking.%I FOR INSERT WITH CHECK (%s%s)', p.tbl || '_insert', p.tbl, v_staff,
                     CASE WHEN p.inserts <> '' THEN ' OR ' || p.inserts ELSE '' END);
    END IF;
    IF p.updates IS NOT NULL THEN
      EXECUTE format('CREATE POLICY %1$I ON booking.%2$I FOR UPDATE USING (%3$s%4$s) WITH CHECK (%3$s%4$s)',
                     p.tbl || '_update', p.tbl, v_staff, CASE WHEN p.updates <> '' THEN ' OR ' || p.updates ELSE '' END);
    END IF;
    IF p.deletes IS NOT NULL THEN
      EXECUTE format('CREATE POLICY %I ON booking.%I FOR DELETE USING (%s)', p.tbl || '_delete', p.tbl, v_staff);
    END IF;
  END LOOP;
END $$;

-- ---------------------------------------------------------------------------------------------
-- Read-time states: no cron needed to know who did not show up or did not check out.
-- ---------------------------------------------------------------------------------------------

-- An assignment's status as of now: 'no_show' once its event's start plus the check-in grace
-- has passed without a check-in (when the event requires one), 'overdue' once its event's end
-- plus the check-out limit has passed without a check-out, else its status. A computed column
-- for PostgREST: .select('*, assignment_status').
CREATE FUNCTION booking.assignment_status(p_assignment booking.staff_assignments) RETURNS text
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
  SELECT CASE
           WHEN p_assignment.status IN ('assigned', 'accepted') AND e.check_in_required
                AND now() > p_assignment.starts_at + make_interval(mins => e.check_in_grace_minutes) THEN 'no_show'
           WHEN p_assignment.status = 'checked_in'
                AND now() > p_assignment.ends_at + make_interval(mins => e.check_out_limit_minutes) THEN 'overdue'
           ELSE p_assignment.status
         END
  FROM (SELECT coalesce(bool_and(x.check_in_required), true) AS check_in_required,
               coalesce(min(x.check_in_grace_minutes), 15) AS check_in_grace_minutes,
               coalesce(min(x.check_out_limit_minutes), 120) AS check_out_limit_minutes
        FROM booking.event_instances x WHERE x.id = p_assignment.event_instance_id) e
$$;

-- Persist what assignment_status computes (for pg_cron or a worker, service_role): missed
-- check-ins become no_show; people still checked in past the limit are checked out as of the
-- event's end (auto_checked_out, so hours_worked counts the scheduled time only). Returns how
-- many assignments changed.
CREATE FUNCTION booking.close_overdue() RETURNS integer
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_no_show integer;
  v_out     integer;
BEGIN
  PERFORM booking_internal.require_privileged('close_overdue');
  PERFORM set_config('booking.reason', 'not checked in by the start plus the grace period', true);
  UPDATE booking.staff_assignments a SET status = 'no_show'
  FROM booking.event_instances e
  WHERE e.id = a.event_instance_id AND a.status IN ('assigned', 'accepted') AND e.check_in_required
    AND now() > a.starts_at + make_interval(mins => e.check_in_grace_minutes);
  GET DIAGNOSTICS v_no_show = ROW_COUNT;
  PERFORM set_config('booking.reason', 'checked out automatically: not checked out by the end plus the limit', true);
  UPDATE booking.staff_assignments a SET status = 'checked_out', auto_checked_out = true
  FROM booking.event_instances e
  WHERE e.id = a.event_instance_id AND a.status = 'checked_in'
    AND now() > a.ends_at + make_interval(mins => e.check_out_limit_minutes);
  GET DIAGNOSTICS v_out = ROW_COUNT;
  RETURN v_no_show + v_out;
END $$;

-- ---------------------------------------------------------------------------------------------
-- RPCs. They run as the caller: row-level security and the triggers above judge them exactly as
-- they judge a direct write. A reason given is the log's (booking.reason, this transaction).
-- ---------------------------------------------------------------------------------------------

CREATE FUNCTION booking_internal.set_reason(p_reason text) RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  PERFORM set_config('booking.reason', coalesce(booking_internal.check_text_argument('p_reason', p_reason, 4000), ''), true);
END $$;

-- An event's status, by staff or its field manager, along the machine (PT409 otherwise).
CREATE FUNCTION booking.set_event_status(p_event_id uuid, p_status text, p_reason text DEFAULT NULL)
RETURNS booking.event_instances
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_row booking.event_instances;
BEGIN
  PERFORM booking_internal.check_text_argument('p_status', p_status, 50);
  IF p_reason IS NOT NULL THEN
    PERFORM booking_internal.set_reason(p_reason);
  END IF;
  UPDATE booking.event_instances SET status = p_status WHERE id = p_event_id RETURNING * INTO v_row;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'unknown event % or you may not change it', p_event_id USING ERRCODE = 'insufficient_privilege';
  END IF;
  RETURN v_row;
END $$;

-- The event of an approved booking of a resource that does not generate events by itself
-- (staff): the same as generation; returns the booking's event, created or not.
CREATE FUNCTION booking.generate_event(p_booking_id uuid) RETURNS booking.event_instances
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_booking booking.bookings;
  v_row     booking.event_instances;
BEGIN
  SELECT * INTO v_booking FROM booking.bookings WHERE id = p_booking_id;
  IF NOT FOUND OR NOT booking_internal.has_staff_rights(v_booking.organization_id) THEN
    RAISE EXCEPTION 'unknown booking % or you may not manage it', p_booking_id USING ERRCODE = 'insufficient_privilege';
  END IF;
  INSERT INTO booking.event_instances (organization_id, booking_id, starts_at, ends_at)
  VALUES (v_booking.organization_id, v_booking.id, v_booking.starts_at, v_booking.ends_at)
  ON CONFLICT (booking_id, organization_id) DO NOTHING;
  SELECT * INTO v_row FROM booking.event_instances WHERE booking_id = p_booking_id;
  RETURN v_row;
END $$;

-- Assign a person to an event (staff). Assigning the same person again in the same role
-- returns their assignment; a person already on an overlapping event is refused (PT409,
-- DETAIL 'person_busy').
CREATE FUNCTION booking.assign_staff(p_event_id uuid, p_user_id text, p_role text)
RETURNS booking.staff_assignments
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_org uuid;
  v_row booking.staff_assignments;
BEGIN
  PERFORM booking_internal.check_text_argument('p_user_id', p_user_id, 200),
          booking_internal.check_text_argument('p_role', p_role, 100);
  SELECT e.organization_id INTO v_org FROM booking.event_instances e WHERE e.id = p_event_id;
  IF NOT FOUND OR NOT booking_internal.has_staff_rights(v_org) THEN
    RAISE EXCEPTION 'unknown event % or you may not manage it', p_event_id USING ERRCODE = 'insufficient_privilege';
  END IF;
  SELECT * INTO v_row FROM booking.staff_assignments
  WHERE event_instance_id = p_event_id AND user_id = p_user_id AND role = p_role
    AND status IN ('assigned', 'offered', 'accepted', 'checked_in');
  IF FOUND THEN
    RETURN v_row;
  END IF;
  BEGIN
    INSERT INTO booking.staff_assignments (organization_id, event_instance_id, user_id, role)
    VALUES (v_org, p_event_id, p_user_id, p_role)
    RETURNING * INTO v_row;
  EXCEPTION WHEN exclusion_violation THEN
    RAISE EXCEPTION 'This person is already on an event at that time.' USING ERRCODE = 'PT409', DETAIL = 'person_busy';
  END;
  RETURN v_row;
END $$;

-- The person assigned accepts or declines (again with the same answer: unchanged).
CREATE FUNCTION booking.respond_to_assignment(p_assignment_id uuid, p_accept boolean)
RETURNS booking.staff_assignments
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_status text := CASE WHEN p_accept THEN 'accepted' ELSE 'rejected' END;
  v_row    booking.staff_assignments;
BEGIN
  IF p_accept IS NULL THEN
    RAISE EXCEPTION 'p_accept must not be NULL' USING ERRCODE = 'invalid_parameter_value';
  END IF;
  UPDATE booking.staff_assignments SET status = v_status
  WHERE id = p_assignment_id AND user_id = booking.current_user_id() AND status <> v_status
  RETURNING * INTO v_row;
  IF NOT FOUND THEN
    SELECT * INTO v_row FROM booking.staff_assignments WHERE id = p_assignment_id AND user_id = booking.current_user_id();
    IF NOT FOUND THEN
      RAISE EXCEPTION 'unknown assignment % or it is not yours', p_assignment_id USING ERRCODE = 'invalid_parameter_value';
    END IF;
  END IF;
  RETURN v_row;
END $$;

-- After a check-in or check-out that changed nothing: the assignment when it is already in one
-- of p_done (a retry), 42501 when the caller sees it but may not change it (a team member),
-- 22023 when they cannot see it.
CREATE FUNCTION booking_internal.assignment_unchanged(p_assignment_id uuid, p_done text[])
RETURNS booking.staff_assignments
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_row booking.staff_assignments;
BEGIN
  SELECT * INTO v_row FROM booking.staff_assignments WHERE id = p_assignment_id;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'unknown assignment % or it is not yours', p_assignment_id USING ERRCODE = 'invalid_parameter_value';
  ELSIF NOT v_row.status = ANY (p_done) THEN
    RAISE EXCEPTION 'only the person assigned or staff check in and out' USING ERRCODE = 'insufficient_privilege';
  END IF;
  RETURN v_row;
END $$;

-- Check in (the person assigned, or staff), with where they are: once; a retry returns the
-- assignment as it is and writes nothing.
CREATE FUNCTION booking.staff_check_in(p_assignment_id uuid, p_location jsonb DEFAULT NULL)
RETURNS booking.staff_assignments
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_row booking.staff_assignments;
BEGIN
  PERFORM booking_internal.check_json_object('p_location', p_location);
  UPDATE booking.staff_assignments SET status = 'checked_in', location_at_check_in = p_location
  WHERE id = p_assignment_id AND status NOT IN ('checked_in', 'checked_out')
  RETURNING * INTO v_row;
  IF NOT FOUND THEN
    v_row := booking_internal.assignment_unchanged(p_assignment_id, ARRAY['checked_in', 'checked_out']);
  END IF;
  RETURN v_row;
END $$;

-- Check out (the person assigned, or staff): once; hours_worked follows from the two instants.
CREATE FUNCTION booking.staff_check_out(p_assignment_id uuid, p_location jsonb DEFAULT NULL, p_feedback text DEFAULT NULL)
RETURNS booking.staff_assignments
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_row booking.staff_assignments;
BEGIN
  PERFORM booking_internal.check_json_object('p_location', p_location);
  IF p_feedback IS NOT NULL THEN
    PERFORM booking_internal.check_text_argument('p_feedback', p_feedback, 4000);
  END IF;
  UPDATE booking.staff_assignments
  SET status = 'checked_out', location_at_check_out = p_location, feedback = coalesce(p_feedback, feedback)
  WHERE id = p_assignment_id AND status <> 'checked_out'
  RETURNING * INTO v_row;
  IF NOT FOUND THEN
    v_row := booking_internal.assignment_unchanged(p_assignment_id, ARRAY['checked_out']);
  END IF;
  RETURN v_row;
END $$;

-- After a checkout or return that changed nothing: the kit when it is already p_done (a
-- retry), 42501 when the caller sees it but may not handle it, 22023 when they cannot see it.
CREATE FUNCTION booking_internal.kit_unchanged(p_activity_kit_id uuid, p_done text)
RETURNS booking.activity_kits
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_row booking.activity_kits;
BEGIN
  SELECT * INTO v_row FROM booking.activity_kits WHERE id = p_activity_kit_id;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'unknown kit % or you may not handle it', p_activity_kit_id USING ERRCODE = 'invalid_parameter_value';
  ELSIF v_row.status <> p_done THEN
    RAISE EXCEPTION 'you may not handle this kit' USING ERRCODE = 'insufficient_privilege';
  END IF;
  RETURN v_row;
END $$;

-- Check a kit out to its event (staff or the event's people): once; a kit instance already out
-- with another event is refused (PT409, DETAIL 'kit_checked_out').
CREATE FUNCTION booking.checkout_kit(p_activity_kit_id uuid)
RETURNS booking.activity_kits
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_row booking.activity_kits;
BEGIN
  BEGIN
    UPDATE booking.activity_kits SET status = 'checked_out'
    WHERE id = p_activity_kit_id AND status <> 'checked_out'
    RETURNING * INTO v_row;
  EXCEPTION WHEN unique_violation THEN
    RAISE EXCEPTION 'This kit is out with another event.' USING ERRCODE = 'PT409', DETAIL = 'kit_checked_out',
      HINT = 'It must be returned first.';
  END;
  IF NOT FOUND THEN
    v_row := booking_internal.kit_unchanged(p_activity_kit_id, 'checked_out');
  END IF;
  RETURN v_row;
END $$;

-- Return a kit (staff or the event's people): once.
CREATE FUNCTION booking.return_kit(p_activity_kit_id uuid)
RETURNS booking.activity_kits
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_row booking.activity_kits;
BEGIN
  UPDATE booking.activity_kits SET status = 'returned'
  WHERE id = p_activity_kit_id AND status <> 'returned'
  RETURNING * INTO v_row;
  IF NOT FOUND THEN
    v_row := booking_internal.kit_unchanged(p_activity_kit_id, 'returned');
  END IF;
  RETURN v_row;
END $$;

-- Report a problem on an event (staff, or its field manager, team or assignees); an event in
-- progress becomes issue_reported in the same transaction.
CREATE FUNCTION booking.report_event_issue(p_event_id uuid, p_issue_type text, p_description text, p_severity text,
                                           p_photo_urls text[] DEFAULT NULL)
RETURNS booking.event_issues
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_org uuid;
  v_row booking.event_issues;
BEGIN
  PERFORM booking_internal.check_text_argument('p_issue_type', p_issue_type, 100),
          booking_internal.check_text_argument('p_description', p_description, 4000),
          booking_internal.check_text_argument('p_severity', p_severity, 20);
  IF cardinality(p_photo_urls) > 10 OR EXISTS (SELECT 1 FROM unnest(p_photo_urls) u WHERE u IS NULL OR length(u) > 2000) THEN
    RAISE EXCEPTION 'p_photo_urls: at most 10 URLs of at most 2000 characters' USING ERRCODE = 'invalid_parameter_value';
  END IF;
  SELECT e.organization_id INTO v_org FROM booking.event_instances e WHERE e.id = p_event_id;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'unknown event %', p_event_id USING ERRCODE = 'invalid_parameter_value';
  END IF;
  INSERT INTO booking.event_issues (organization_id, event_instance_id, issue_type, description, severity, photo_urls)
  VALUES (v_org, p_event_id, p_issue_type, p_description, p_severity, coalesce(p_photo_urls, '{}'))
  RETURNING * INTO v_row;
  RETURN v_row;
END $$;

-- Resolve (or dismiss) an issue (staff), with what was done.
CREATE FUNCTION booking.resolve_event_issue(p_issue_id uuid, p_resolution text, p_status text DEFAULT 'resolved')
RETURNS booking.event_issues
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_row booking.event_issues;
BEGIN
  PERFORM booking_internal.check_text_argument('p_resolution', p_resolution, 4000);
  IF p_status IS NULL OR p_status NOT IN ('resolved', 'dismissed') THEN
    RAISE EXCEPTION 'p_status must be resolved or dismissed' USING ERRCODE = 'invalid_parameter_value';
  END IF;
  UPDATE booking.event_issues SET status = p_status, resolution = p_resolution
  WHERE id = p_issue_id
  RETURNING * INTO v_row;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'unknown issue % or you may not resolve it', p_issue_id USING ERRCODE = 'insufficient_privilege';
  END IF;
  RETURN v_row;
END $$;

-- Who may call the events RPCs and write the tables.
CREATE FUNCTION booking_internal.grant_events_privileges(p_role text) RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  IF p_role = 'anon' THEN
    RETURN;
  END IF;
  PERFORM booking_internal.grant_execute(p_role, ARRAY['event_state_machines', 'assignment_status', 'set_event_status',
                                                       'generate_event',
                                                       'assign_staff', 'respond_to_assignment', 'staff_check_in',
                                                       'staff_check_out', 'checkout_kit', 'return_kit',
                                                       'report_event_issue', 'resolve_event_issue',
                                                       -- booking_internal: what those and the policies call as the caller
                                                       'my_event_ids', 'check_event_transition', 'set_reason',
                                                       'assignment_unchanged', 'kit_unchanged']);
  IF p_role = 'authenticated' THEN
    GRANT INSERT, UPDATE, DELETE ON booking.locations, booking.kit_templates, booking.kit_instances,
                                    booking.event_team_members, booking.activities,
                                    booking.staff_assignments, booking.activity_kits, booking.event_issues
      TO authenticated;
    -- events are created by generation and generate_event only
    GRANT UPDATE, DELETE ON booking.event_instances TO authenticated;
  END IF;
  IF p_role = 'service_role' THEN
    PERFORM booking_internal.grant_execute(p_role, ARRAY['close_overdue']);
  END IF;
END $$;

-- Documentation in the catalog (\d+, \df+ and PostgREST's OpenAPI show it).
COMMENT ON TABLE booking.locations IS 'A place where events happen (address, contact).';
COMMENT ON TABLE booking.kit_templates IS 'A kind of kit (its components); activities need kits of a template.';
COMMENT ON TABLE booking.kit_instances IS 'A physical kit of a template, by serial number.';
COMMENT ON TABLE booking.event_instances IS 'An event: the execution of an approved booking (one per booking; each occurrence of a series is one). Status along booking.event_state_machines(); times follow the booking.';
COMMENT ON TABLE booking.event_team_members IS 'A person on an event''s team, with a role.';
COMMENT ON TABLE booking.activities IS 'Something done during an event, with the kit it needs and its metrics; status along booking.event_state_machines().';
COMMENT ON TABLE booking.staff_assignments IS 'A person assigned to an event: answer, check-in and check-out instants and places, hours_worked derived; never two overlapping assignments holding time for one person in an organization.';
COMMENT ON TABLE booking.activity_kits IS 'A kit an activity needs and the instance serving it; an instance is planned for one of overlapping events and out with one event at a time.';
COMMENT ON TABLE booking.event_state_transitions IS 'Every change of state of events, activities, staff assignments and activity kits: from, to, who, why, metadata. Written by the database only.';
COMMENT ON TABLE booking.event_issues IS 'A problem reported on an event (type, severity, photos), and its resolution.';
COMMENT ON FUNCTION booking.event_state_machines() IS 'The legal transitions of the four state machines of events (event_instance, activity, staff_assignment, activity_kit).';
COMMENT ON FUNCTION booking_internal.check_event_transition(text, text, text) IS 'Internal: raises PT409 (DETAIL transition) for a change of state the machine does not have.';
COMMENT ON FUNCTION booking_internal.log_event_transition(uuid, uuid, text, uuid, text, text, jsonb) IS 'Internal: logs a change of state with the actor and booking.reason.';
COMMENT ON FUNCTION booking_internal.bookings_event_columns() IS 'Trigger: a booking''s event_generation_status, event_count and last_event_generated_at, derived from its events.';
COMMENT ON FUNCTION booking_internal.bookings_generate_events() IS 'Trigger: a booking approved later, of a resource that generates events, gets its event (once); cancelling or rejecting it cancels the event; moving it moves the event.';
COMMENT ON FUNCTION booking_internal.generate_booking_events(booking.bookings[]) IS 'Internal: the event of each approved booking of a resource that generates events (once).';
COMMENT ON FUNCTION booking_internal.bookings_events_inserted() IS 'Statement trigger: every new approved booking of a resource that generates events gets its event (transition table new_rows).';
COMMENT ON FUNCTION booking_internal.event_instances_guard() IS 'Trigger: an event''s booking, time and first status are derived; its status moves along the machine; a field manager changes state and notes only.';
COMMENT ON FUNCTION booking_internal.event_instances_after() IS 'Trigger: logs an event''s changes of state; cancelling it cancels its assignments and activities and frees its kits; moving it moves them.';
COMMENT ON FUNCTION booking_internal.event_of_row(text, uuid, uuid, uuid) IS 'Internal: the organization, time and status of the event a row is about (within the row''s organization); a row never moves to another event.';
COMMENT ON FUNCTION booking_internal.event_team_members_guard() IS 'Trigger: a team member stays on their event.';
COMMENT ON FUNCTION booking_internal.activities_guard() IS 'Trigger: an activity starts planned and moves along its machine.';
COMMENT ON FUNCTION booking_internal.staff_assignments_guard() IS 'Trigger: an assignment takes its event''s time, starts assigned or offered, moves along its machine; check-in and check-out instants are the database''s; the person assigned changes only their answer, check-in, check-out, locations and feedback.';
COMMENT ON FUNCTION booking_internal.activity_kits_guard() IS 'Trigger: a kit takes its activity''s event and time, moves along its machine; who checked it out and returned it, and when, are the database''s; the event''s people only check out and return.';
COMMENT ON FUNCTION booking_internal.event_issues_guard() IS 'Trigger: an issue''s reporter, first status and resolver are derived.';
COMMENT ON FUNCTION booking_internal.event_rows_insert_right() IS 'Trigger: who may add a row about an event (staff; for issues, the event''s people), judged before anything about the event is read.';
COMMENT ON FUNCTION booking_internal.activities_log() IS 'Trigger: logs an activity''s changes of state.';
COMMENT ON FUNCTION booking_internal.staff_assignments_log() IS 'Trigger: logs an assignment''s changes of state with its person, place and hours.';
COMMENT ON FUNCTION booking_internal.activity_kits_log() IS 'Trigger: logs a kit''s changes of state with its instance.';
COMMENT ON FUNCTION booking_internal.event_issues_reported() IS 'Trigger: a reported issue goes on the outbox; an event in progress becomes issue_reported.';
COMMENT ON FUNCTION booking_internal.my_event_ids(boolean) IS 'Internal: the events the caller is field manager, team member or assignee of (and booker, with p_with_bookers).';
COMMENT ON FUNCTION booking.assignment_status(booking.staff_assignments) IS 'An assignment''s status as of now: no_show after the start plus the grace without a check-in, overdue after the end plus the limit without a check-out. A computed column for PostgREST.';
COMMENT ON FUNCTION booking.close_overdue() IS 'service_role: persists no-shows and checks out people overdue as of their event''s end; returns how many assignments changed.';
COMMENT ON FUNCTION booking_internal.assignment_unchanged(uuid, text[]) IS 'Internal: after a check-in or check-out that changed nothing, the assignment (a retry), 42501 (not theirs to change) or 22023 (unknown).';
COMMENT ON FUNCTION booking_internal.kit_unchanged(uuid, text) IS 'Internal: after a checkout or return that changed nothing, the kit (a retry), 42501 (not theirs to handle) or 22023 (unknown).';
COMMENT ON FUNCTION booking_internal.event_instances_deleted() IS 'Trigger: a deleted event leaves its booking''s derived columns true.';
COMMENT ON FUNCTION booking_internal.set_reason(text) IS 'Internal: the reason the event log records for this transaction''s changes (22023 when too long).';
COMMENT ON FUNCTION booking.set_event_status(uuid, text, text) IS 'Staff or the field manager: moves an event along its state machine (PT409 otherwise), logging the reason.';
COMMENT ON FUNCTION booking.generate_event(uuid) IS 'Staff: the event of an approved booking (created once, as generation does for resources that generate events); returns it.';
COMMENT ON FUNCTION booking.assign_staff(uuid, text, text) IS 'Staff: assigns a person to an event in a role; idempotent; PT409 (person_busy) when they are on an overlapping event.';
COMMENT ON FUNCTION booking.respond_to_assignment(uuid, boolean) IS 'The person assigned accepts or declines; idempotent.';
COMMENT ON FUNCTION booking.staff_check_in(uuid, jsonb) IS 'Checks the person in with their location (the person or staff); idempotent.';
COMMENT ON FUNCTION booking.staff_check_out(uuid, jsonb, text) IS 'Checks the person out with their location and feedback; hours_worked is derived; idempotent.';
COMMENT ON FUNCTION booking.checkout_kit(uuid) IS 'Checks a kit out to its event (staff or the event''s people); idempotent; PT409 (kit_checked_out) when the instance is out with another event.';
COMMENT ON FUNCTION booking.return_kit(uuid) IS 'Returns a kit; idempotent.';
COMMENT ON FUNCTION booking.report_event_issue(uuid, text, text, text, text[]) IS 'Reports a problem on an event (staff or its people); an event in progress becomes issue_reported.';
COMMENT ON FUNCTION booking.resolve_event_issue(uuid, text, text) IS 'Staff: resolves or dismisses an issue with what was done.';
COMMENT ON FUNCTION booking_internal.grant_events_privileges(text) IS 'Internal: the events module''s grants to an API role (called by grant_api_privileges).';
