-- booking_ext: the data model (DESIGN.md section 4).
-- Runs first in the extension script (bootstrap), in schema @extschema@ = booking.
-- Every table is an extension member registered with pg_extension_config_dump, so pg_dump keeps
-- its rows. Integrity triggers are in integrity.sql, identity and row-level security in security.sql.

-- A safe install (the CVE-2022-2625 class). The script runs as a superuser with schema booking
-- first on its search_path, and CREATE EXTENSION accepts a booking schema that exists already:
-- anything planted there, or in a schema another role can create in, could run as the
-- installer. So the checks below run with pg_catalog alone on the path; schema booking must be
-- the installing role's own, hold nothing yet and let no other role create in it, and
-- booking_internal must not exist. Then the path becomes booking (now trusted) and pg_catalog,
-- which leaves out the schemas of the required extensions (btree_gist may live in a writable
-- public): every call below resolves in those two.
SELECT pg_catalog.set_config('search_path', 'pg_catalog, pg_temp', true);
DO $$
DECLARE
  v_owner   name;
  v_objects bigint;
BEGIN
  SELECT r.rolname INTO v_owner
  FROM pg_namespace n JOIN pg_roles r ON r.oid = n.nspowner WHERE n.nspname = 'booking';
  IF v_owner <> CURRENT_USER THEN
    RAISE EXCEPTION 'schema booking already exists and is owned by %, not by the installing role %', v_owner, CURRENT_USER
      USING ERRCODE = 'insufficient_privilege',
            HINT = 'Objects planted in it would run as the installer: drop or rename it, then CREATE EXTENSION again.';
  END IF;
  SELECT (SELECT count(*) FROM pg_class WHERE relnamespace = 'booking'::regnamespace)
       + (SELECT count(*) FROM pg_proc WHERE pronamespace = 'booking'::regnamespace)
       + (SELECT count(*) FROM pg_type WHERE typnamespace = 'booking'::regnamespace)
       + (SELECT count(*) FROM pg_operator WHERE oprnamespace = 'booking'::regnamespace)
    INTO v_objects;
  IF v_objects > 0 THEN
    RAISE EXCEPTION 'schema booking already holds % object(s); the extension installs only into an empty schema', v_objects
      USING ERRCODE = 'insufficient_privilege',
            HINT = 'Move them elsewhere (or drop the schema), then CREATE EXTENSION again.';
  END IF;
  IF EXISTS (SELECT FROM pg_namespace n, aclexplode(n.nspacl) a
             WHERE n.nspname = 'booking' AND a.privilege_type = 'CREATE' AND a.grantee <> n.nspowner) THEN
    RAISE EXCEPTION 'schema booking lets another role CREATE in it'
      USING ERRCODE = 'insufficient_privilege',
            HINT = 'REVOKE CREATE ON SCHEMA booking FROM the other roles (and PUBLIC), then CREATE EXTENSION again.';
  END IF;
  IF EXISTS (SELECT FROM pg_namespace WHERE nspname = 'booking_internal') THEN
    RAISE EXCEPTION 'schema booking_internal already exists; the extension creates it'
      USING ERRCODE = 'insufficient_privilege',
            HINT = 'Drop or rename it, then CREATE EXTENSION again.';
  END IF;
END $$;
SELECT pg_catalog.set_config('search_path', 'booking, pg_catalog, pg_temp', true);

-- Everything that is not part of the API: trigger functions, locks, the aggregates' support
-- functions (owner only), and helpers that the API roles must be able to execute because code
-- running as the caller calls them (triggers of the bookings a user writes, invoker-rights
-- RPCs). PostgREST exposes schema booking only, so none of these is an RPC endpoint. No table
-- lives here. security.sql grants USAGE and EXECUTE to the roles that need them.
CREATE SCHEMA booking_internal;

-- ---------------------------------------------------------------------------------------------
-- Identity read from the JWT claims that PostgREST / Supabase put in request.jwt.claims.
-- Defined here because column defaults use them.
-- ---------------------------------------------------------------------------------------------

-- The caller's id: the JWT `sub` (text: Clerk ids and Supabase UUIDs both fit). NULL when anonymous.
CREATE FUNCTION booking.current_user_id() RETURNS text
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  RETURN coalesce(
      nullif(current_setting('request.jwt.claim.sub', true), ''),
      nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'sub'
    );
END $$;

-- The caller's API role: the JWT `role` claim, else the database role the statement runs as.
CREATE FUNCTION booking.current_role() RETURNS text
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  RETURN coalesce(
      nullif(current_setting('request.jwt.claim.role', true), ''),
      nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'role',
      current_user::text
    );
END $$;

-- ---------------------------------------------------------------------------------------------
-- Core
-- ---------------------------------------------------------------------------------------------

CREATE TABLE booking.organizations (
  id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  slug        text NOT NULL UNIQUE CHECK (slug ~ '^[a-z0-9][a-z0-9-]{0,62}$'),
  name        text NOT NULL CHECK (length(btrim(name)) > 0) CONSTRAINT organizations_name_size CHECK (length(name) <= 200),
  time_zone   text NOT NULL DEFAULT 'UTC',
  is_public   boolean NOT NULL DEFAULT false,
  settings    jsonb NOT NULL DEFAULT '{}'::jsonb CHECK (jsonb_typeof(settings) = 'object') CONSTRAINT organizations_settings_size CHECK (octet_length(settings::text) <= 16384),
  created_at  timestamptz NOT NULL DEFAULT now(),
  updated_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX organizations_is_public_idx ON booking.organizations (is_public) WHERE is_public;

CREATE TABLE booking.members (
  organization_id uuid NOT NULL REFERENCES booking.organizations (id) ON DELETE CASCADE,
  user_id         text NOT NULL CHECK (length(user_id) > 0) CONSTRAINT members_user_id_size CHECK (length(user_id) <= 200),
  role            text NOT NULL DEFAULT 'client'
                  CHECK (role IN ('owner', 'admin', 'staff', 'member', 'client')),
  is_active       boolean NOT NULL DEFAULT true,
  created_at      timestamptz NOT NULL DEFAULT now(),
  updated_at      timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (organization_id, user_id)
);
-- Policies look members up by user first ("which organizations am I in?").
CREATE INDEX members_user_id_idx ON booking.members (user_id, organization_id) WHERE is_active;

CREATE TABLE booking.resources (
  id                    uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  organization_id       uuid NOT NULL REFERENCES booking.organizations (id) ON DELETE CASCADE,
  kind                  text NOT NULL DEFAULT 'other'
                        CHECK (kind IN ('space', 'equipment', 'person', 'other')),
  title                 text NOT NULL CHECK (length(btrim(title)) > 0) CONSTRAINT resources_title_size CHECK (length(title) <= 200),
  description           text CONSTRAINT resources_description_size CHECK (length(description) <= 4000),
  capacity              integer NOT NULL DEFAULT 1 CHECK (capacity >= 1),
  time_zone             text,     -- NULL: the organization's
  is_bookable           boolean NOT NULL DEFAULT true,
  auto_approve          boolean NOT NULL DEFAULT false,
  buffer_before_minutes integer NOT NULL DEFAULT 0 CHECK (buffer_before_minutes BETWEEN 0 AND 1440),
  buffer_after_minutes  integer NOT NULL DEFAULT 0 CHECK (buffer_after_minutes BETWEEN 0 AND 1440),
  slot_interval_minutes integer CHECK (slot_interval_minutes BETWEEN 1 AND 1440),
  min_notice_minutes    integer NOT NULL DEFAULT 0 CHECK (min_notice_minutes >= 0),
  max_advance_days      integer CHECK (max_advance_days >= 1),
  -- The longest booking someone who is not the organization's staff may make (book() and the
  -- table alike): a week unless the organization says otherwise, at most 366 days.
  max_booking_minutes   integer NOT NULL DEFAULT 10080 CHECK (max_booking_minutes BETWEEN 1 AND 527040),
  external_calendar_id  text CONSTRAINT resources_external_calendar_id_size CHECK (length(external_calendar_id) <= 200),
  metadata              jsonb NOT NULL DEFAULT '{}'::jsonb CHECK (jsonb_typeof(metadata) = 'object') CONSTRAINT resources_metadata_size CHECK (octet_length(metadata::text) <= 16384),
  created_at            timestamptz NOT NULL DEFAULT now(),
  updated_at            timestamptz NOT NULL DEFAULT now(),
  -- Target of the (id, organization_id) foreign keys that keep children in their resource's tenant.
  UNIQUE (id, organization_id)
);
CREATE INDEX resources_organization_id_idx ON booking.resources (organization_id, is_bookable);

CREATE TABLE booking.availability_rules (
  id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  organization_id uuid NOT NULL REFERENCES booking.organizations (id) ON DELETE CASCADE,
  resource_id     uuid,    -- NULL: the organization's default hours
  day_of_week     smallint NOT NULL CHECK (day_of_week BETWEEN 0 AND 6),  -- 0 = Sunday, as extract(dow)
  start_time      time NOT NULL,
  end_time        time NOT NULL,  -- may be 24:00
  created_at      timestamptz NOT NULL DEFAULT now(),
  updated_at      timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT availability_rules_time_order CHECK (end_time > start_time),
  FOREIGN KEY (resource_id, organization_id)
    REFERENCES booking.resources (id, organization_id) ON DELETE CASCADE
);
CREATE INDEX availability_rules_organization_id_idx ON booking.availability_rules (organization_id);
CREATE INDEX availability_rules_resource_id_idx ON booking.availability_rules (resource_id, organization_id);

CREATE TABLE booking.availability_exceptions (
  id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  organization_id uuid NOT NULL REFERENCES booking.organizations (id) ON DELETE CASCADE,
  resource_id     uuid,    -- NULL: the whole organization
  during          tstzrange NOT NULL,
  kind            text NOT NULL DEFAULT 'closed' CHECK (kind IN ('closed', 'open')),
  reason          text CONSTRAINT availability_exceptions_reason_size CHECK (length(reason) <= 4000),
  created_at      timestamptz NOT NULL DEFAULT now(),
  updated_at      timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT availability_exceptions_bounded CHECK (
    NOT isempty(during) AND NOT lower_inf(during) AND NOT upper_inf(during)
    AND isfinite(lower(during)) AND isfinite(upper(during))),
  FOREIGN KEY (resource_id, organization_id)
    REFERENCES booking.resources (id, organization_id) ON DELETE CASCADE
);
CREATE INDEX availability_exceptions_organization_id_idx
  ON booking.availability_exceptions USING gist (organization_id, during);
CREATE INDEX availability_exceptions_resource_id_idx
  ON booking.availability_exceptions (resource_id, organization_id);

CREATE TABLE booking.services (
  id               uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  organization_id  uuid NOT NULL REFERENCES booking.organizations (id) ON DELETE CASCADE,
  name             text NOT NULL CHECK (length(btrim(name)) > 0) CONSTRAINT services_name_size CHECK (length(name) <= 200),
  duration_minutes integer NOT NULL CHECK (duration_minutes BETWEEN 1 AND 10080),
  price_cents      integer NOT NULL DEFAULT 0 CHECK (price_cents >= 0),
  currency         text NOT NULL DEFAULT 'USD' CHECK (currency ~ '^[A-Z]{3}$'),
  is_active        boolean NOT NULL DEFAULT true,
  created_at       timestamptz NOT NULL DEFAULT now(),
  updated_at       timestamptz NOT NULL DEFAULT now(),
  UNIQUE (id, organization_id)
);
CREATE INDEX services_organization_id_idx ON booking.services (organization_id);

CREATE TABLE booking.service_rules (
  service_id              uuid PRIMARY KEY,
  organization_id         uuid NOT NULL REFERENCES booking.organizations (id) ON DELETE CASCADE,
  min_notice_minutes      integer CHECK (min_notice_minutes >= 0),
  max_advance_days        integer CHECK (max_advance_days >= 1),
  requires_deposit        boolean NOT NULL DEFAULT false,
  deposit_cents           integer CHECK (deposit_cents > 0),
  max_concurrent_bookings integer CHECK (max_concurrent_bookings >= 1),
  staff_only              boolean NOT NULL DEFAULT false,
  auto_confirm            boolean NOT NULL DEFAULT false,
  created_at              timestamptz NOT NULL DEFAULT now(),
  updated_at              timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT service_rules_deposit CHECK (NOT requires_deposit OR deposit_cents IS NOT NULL),
  FOREIGN KEY (service_id, organization_id)
    REFERENCES booking.services (id, organization_id) ON DELETE CASCADE
);
CREATE INDEX service_rules_organization_id_idx ON booking.service_rules (organization_id);
CREATE INDEX service_rules_service_org_idx ON booking.service_rules (service_id, organization_id);

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
  -- bookings_2_capacity trigger under the resource's lock (integrity.sql): no column a writer
  -- could set decides whether it applies.
);
CREATE INDEX bookings_organization_id_idx ON booking.bookings (organization_id, starts_at);
CREATE INDEX bookings_booked_by_idx ON booking.bookings (booked_by, organization_id);
CREATE INDEX bookings_resource_id_idx ON booking.bookings (resource_id, organization_id);
CREATE INDEX bookings_service_id_idx ON booking.bookings (service_id, organization_id) WHERE service_id IS NOT NULL;
-- Time-holding bookings of a resource by time: capacity checks and availability read this.
CREATE INDEX bookings_holding_during_idx ON booking.bookings USING gist (resource_id, during)
  WHERE status IN ('pending', 'approved');
-- The same bookings by end time: the availability engine reads a resource's bookings that end
-- after a window starts (and start before it ends) from here, in time proportional to that
-- resource's bookings rather than to every resource's bookings of the window, as the GiST
-- index's uuid column makes it.
CREATE INDEX bookings_holding_resource_ends_idx ON booking.bookings (resource_id, ends_at) INCLUDE (starts_at, seats)
  WHERE status IN ('pending', 'approved');

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

-- ---------------------------------------------------------------------------------------------
-- Communication and audit
-- ---------------------------------------------------------------------------------------------

CREATE TABLE booking.notifications (
  id                uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  organization_id   uuid REFERENCES booking.organizations (id) ON DELETE CASCADE,
  recipient_id      text NOT NULL CHECK (length(recipient_id) > 0) CONSTRAINT notifications_recipient_id_size CHECK (length(recipient_id) <= 200),
  notification_type text NOT NULL CHECK (length(btrim(notification_type)) > 0) CONSTRAINT notifications_notification_type_size CHECK (length(notification_type) <= 200),
  message           text NOT NULL CHECK (length(btrim(message)) > 0) CONSTRAINT notifications_message_size CHECK (length(message) <= 4000),
  metadata          jsonb NOT NULL DEFAULT '{}'::jsonb CHECK (jsonb_typeof(metadata) = 'object') CONSTRAINT notifications_metadata_size CHECK (octet_length(metadata::text) <= 16384),
  read_at           timestamptz,
  created_at        timestamptz NOT NULL DEFAULT now(),
  updated_at        timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX notifications_recipient_idx ON booking.notifications (recipient_id, created_at DESC);
CREATE INDEX notifications_unread_idx ON booking.notifications (recipient_id, notification_type) WHERE read_at IS NULL;
CREATE INDEX notifications_organization_id_idx ON booking.notifications (organization_id);

-- Append-only (see integrity.sql). No foreign key on purpose: the history of a deleted tenant
-- or entity stays readable.
CREATE TABLE booking.audit_log (
  id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  organization_id uuid,
  entity_type     text NOT NULL CHECK (length(entity_type) > 0) CONSTRAINT audit_log_entity_type_size CHECK (length(entity_type) <= 200),
  entity_id       uuid,
  action          text NOT NULL CHECK (length(action) > 0) CONSTRAINT audit_log_action_size CHECK (length(action) <= 200),
  actor_id        text CONSTRAINT audit_log_actor_id_size CHECK (length(actor_id) <= 200),  -- JWT subject; NULL for writes outside the API
  actor_role      text NOT NULL CONSTRAINT audit_log_actor_role_size CHECK (length(actor_role) <= 200),  -- JWT role, or the database role
  old_values      jsonb CONSTRAINT audit_log_old_values_size CHECK (octet_length(old_values::text) <= 65536),
  new_values      jsonb CONSTRAINT audit_log_new_values_size CHECK (octet_length(new_values::text) <= 65536),
  reason          text CONSTRAINT audit_log_reason_size CHECK (length(reason) <= 4000),
  source          text NOT NULL DEFAULT 'trigger' CHECK (source IN ('trigger', 'rpc', 'api', 'system')),
  created_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX audit_log_organization_id_idx ON booking.audit_log (organization_id, created_at DESC);
CREATE INDEX audit_log_entity_idx ON booking.audit_log (entity_type, entity_id);
CREATE INDEX audit_log_actor_idx ON booking.audit_log (actor_id);

CREATE TABLE booking.outbox (
  id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  organization_id uuid NOT NULL REFERENCES booking.organizations (id) ON DELETE CASCADE,
  topic           text NOT NULL CHECK (length(topic) > 0) CONSTRAINT outbox_topic_size CHECK (length(topic) <= 200),
  payload         jsonb NOT NULL,
  deliver_after   timestamptz NOT NULL DEFAULT now(),
  delivered_at    timestamptz,
  attempts        integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
  last_error      text CONSTRAINT outbox_last_error_size CHECK (length(last_error) <= 4000),
  created_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX outbox_due_idx ON booking.outbox (deliver_after) WHERE delivered_at IS NULL;
CREATE INDEX outbox_organization_id_idx ON booking.outbox (organization_id);

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

-- ---------------------------------------------------------------------------------------------
-- pg_dump keeps the rows of every table (and the outbox's identity sequence).
-- ---------------------------------------------------------------------------------------------
-- One call per statement: each call rewrites the same pg_extension row.
SELECT pg_catalog.pg_extension_config_dump('booking.organizations', '');
SELECT pg_catalog.pg_extension_config_dump('booking.members', '');
SELECT pg_catalog.pg_extension_config_dump('booking.resources', '');
SELECT pg_catalog.pg_extension_config_dump('booking.availability_rules', '');
SELECT pg_catalog.pg_extension_config_dump('booking.availability_exceptions', '');
SELECT pg_catalog.pg_extension_config_dump('booking.services', '');
SELECT pg_catalog.pg_extension_config_dump('booking.service_rules', '');
SELECT pg_catalog.pg_extension_config_dump('booking.bookings', '');
SELECT pg_catalog.pg_extension_config_dump('booking.booking_services', '');
SELECT pg_catalog.pg_extension_config_dump('booking.booking_notes', '');
SELECT pg_catalog.pg_extension_config_dump('booking.booking_transitions', '');
SELECT pg_catalog.pg_extension_config_dump('booking.notifications', '');
SELECT pg_catalog.pg_extension_config_dump('booking.audit_log', '');
SELECT pg_catalog.pg_extension_config_dump('booking.outbox', '');
SELECT pg_catalog.pg_extension_config_dump('booking.conflicts', '');
SELECT pg_catalog.pg_extension_config_dump('booking.outbox_id_seq', '');
