-- booking_ext 0.1.0 -> 0.2.0, run by ALTER EXTENSION booking_ext UPDATE.
--
-- Collects every schema change of 0.2.0, as it is made: a change to the extension's SQL or to a
-- Rust function's signature goes into the generated install script of 0.2.0 (through the code)
-- AND here, written so that it runs on a database installed at 0.1.0 holding data. The
-- upgrade test (tests/upgrade.rs) installs 0.1.0, upgrades it with this script and fails
-- unless the result equals a fresh install of 0.2.0. Frozen (never edited again) when 0.2.0 is
-- released. See docs/upgrades.md.

SELECT pg_catalog.set_config('search_path', 'booking, pg_catalog, pg_temp', true);

-- =============================================================================================
-- Changed module: audit (src/audit/audit.sql): one trigger function, append_only, for the audit
-- log and every other append-only log (it replaces audit_log_append_only).
-- =============================================================================================

-- BEGIN COPY src/audit/audit.sql#booking_internal.append_only
CREATE FUNCTION booking_internal.append_only() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  RAISE EXCEPTION 'booking.% is append-only: % is not allowed', TG_TABLE_NAME, TG_OP
    USING ERRCODE = 'insufficient_privilege';
END $$;
-- END COPY src/audit/audit.sql#booking_internal.append_only
DROP TRIGGER audit_log_append_only ON booking.audit_log;
DROP TRIGGER audit_log_no_truncate ON booking.audit_log;
CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON booking.audit_log
  FOR EACH ROW EXECUTE FUNCTION booking_internal.append_only();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON booking.audit_log
  FOR EACH STATEMENT EXECUTE FUNCTION booking_internal.append_only();
DROP FUNCTION booking_internal.audit_log_append_only();
COMMENT ON FUNCTION booking_internal.append_only() IS 'Trigger: refuses (42501) UPDATE, DELETE and TRUNCATE of a log.';
-- The changed columns of an update found in one statement; inserts audited per statement (the
-- triggers themselves are made again below, once register_table makes the new ones).
-- BEGIN COPY src/audit/audit.sql#booking_internal.audited_organization_id
CREATE FUNCTION booking_internal.audited_organization_id(p_table text, p_row jsonb) RETURNS uuid
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN coalesce(p_row ->> 'organization_id', CASE p_table WHEN 'organizations' THEN p_row ->> 'id' END)::uuid;
-- END COPY src/audit/audit.sql#booking_internal.audited_organization_id
-- BEGIN COPY src/audit/audit.sql#booking_internal.audited_entity_id
CREATE FUNCTION booking_internal.audited_entity_id(p_row jsonb) RETURNS uuid
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN coalesce(p_row ->> 'id', p_row ->> 'booking_id', p_row ->> 'service_id')::uuid;
-- END COPY src/audit/audit.sql#booking_internal.audited_entity_id
-- BEGIN COPY src/audit/audit.sql#booking_internal.audit_rows_inserted
CREATE FUNCTION booking_internal.audit_rows_inserted() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_actor  text;
  v_role   text;
  v_reason text;
BEGIN
  IF booking_internal.is_bulk_load() THEN
    RETURN NULL;  -- a restore brings its audit rows with it
  END IF;
  v_actor := booking.current_user_id();
  v_role := coalesce(nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'role', session_user::text);
  v_reason := nullif(current_setting('booking.reason', true), '');
  INSERT INTO booking.audit_log (organization_id, entity_type, entity_id, action, actor_id, actor_role,
                                 old_values, new_values, reason, source)
  SELECT booking_internal.audited_organization_id(TG_TABLE_NAME, r.v), TG_TABLE_NAME,
         booking_internal.audited_entity_id(r.v), 'insert', v_actor, v_role, NULL, r.v, v_reason, 'trigger'
  FROM (SELECT to_jsonb(n) AS v FROM new_rows n) r;
  RETURN NULL;
END $$;
-- END COPY src/audit/audit.sql#booking_internal.audit_rows_inserted
-- BEGIN COPY src/audit/audit.sql#replace:booking_internal.audit_row_change
CREATE OR REPLACE FUNCTION booking_internal.audit_row_change() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_old jsonb := CASE WHEN TG_OP <> 'INSERT' THEN to_jsonb(OLD) END;
  v_new jsonb := CASE WHEN TG_OP <> 'DELETE' THEN to_jsonb(NEW) END;
  v_row jsonb := coalesce(v_new, v_old);
BEGIN
  IF booking_internal.is_bulk_load() THEN
    RETURN NULL;  -- a restore brings its audit rows with it
  END IF;
  IF TG_OP = 'UPDATE' THEN
    -- Keep only the columns that changed; updated_at is noise. (One statement: a loop over
    -- the keys cost an expression per column.)
    SELECT jsonb_object_agg(n.key, v_old -> n.key), jsonb_object_agg(n.key, n.value)
    INTO v_old, v_new
    FROM jsonb_each(v_new) n
    WHERE n.key <> 'updated_at' AND n.value IS DISTINCT FROM v_old -> n.key;
    IF v_new IS NULL THEN
      RETURN NULL;
    END IF;
  END IF;
  INSERT INTO booking.audit_log (organization_id, entity_type, entity_id, action, actor_id, actor_role,
                                 old_values, new_values, reason, source)
  VALUES (booking_internal.audited_organization_id(TG_TABLE_NAME, v_row), TG_TABLE_NAME,
          booking_internal.audited_entity_id(v_row), lower(TG_OP),
          booking.current_user_id(),
          coalesce(nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'role', session_user::text),
          v_old, v_new,
          nullif(current_setting('booking.reason', true), ''),
          'trigger');
  RETURN NULL;
END $$;
-- END COPY src/audit/audit.sql#replace:booking_internal.audit_row_change
COMMENT ON FUNCTION booking_internal.audit_row_change() IS 'Trigger: writes an audit_log row for an update (changed columns only) or a delete.';
COMMENT ON FUNCTION booking_internal.audit_rows_inserted() IS 'Statement trigger: writes the audit_log rows of the rows one INSERT wrote (transition table new_rows), in one statement.';
COMMENT ON FUNCTION booking_internal.audited_organization_id(text, jsonb) IS 'Internal: the organization an audited row (as JSON) of a table is about.';
COMMENT ON FUNCTION booking_internal.audited_entity_id(jsonb) IS 'Internal: the entity an audited row (as JSON) is about: its id, a line item''s booking, a service''s rules'' service.';

-- =============================================================================================
-- Changed module: platform (src/platform/platform.sql): a text argument of nothing but
-- whitespace (tabs and line breaks too) is blank.
-- =============================================================================================

-- BEGIN COPY src/platform/platform.sql#replace:booking_internal.check_text_argument
CREATE OR REPLACE FUNCTION booking_internal.check_text_argument(p_name text, p_value text, p_max_length integer) RETURNS text
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  -- blank: nothing but spaces, tabs and line breaks
  IF p_value IS NULL OR btrim(p_value, E' \t\r\n\f\x0B') = '' THEN
    RAISE EXCEPTION '% must not be empty', p_name USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF length(p_value) > p_max_length THEN
    RAISE EXCEPTION '% is longer than % characters', p_name, p_max_length USING ERRCODE = 'invalid_parameter_value';
  END IF;
  RETURN p_value;
END $$;
-- END COPY src/platform/platform.sql#replace:booking_internal.check_text_argument

-- Inserts are audited per statement: every audited table of 0.1.0 gets the new triggers (the
-- tables of the new modules below get them when they register).
-- BEGIN COPY src/platform/platform.sql#replace:booking_internal.register_table
CREATE OR REPLACE FUNCTION booking_internal.register_table(p_table text, p_module text, p_audited boolean,
                                                p_entity_type text DEFAULT NULL, p_entity_key text DEFAULT 'id')
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_table regclass := format('booking.%I', p_table)::regclass;
  v_sequence regclass;
BEGIN
  INSERT INTO booking_internal.registered_tables (table_name, module, audited, entity_type, entity_key)
  VALUES (p_table, p_module, p_audited, p_entity_type, CASE WHEN p_entity_type IS NOT NULL THEN p_entity_key END)
  ON CONFLICT (table_name) DO NOTHING;

  PERFORM pg_catalog.pg_extension_config_dump(v_table, '');
  FOR v_sequence IN SELECT d.objid::regclass FROM pg_depend d
                    WHERE d.refobjid = v_table AND d.classid = 'pg_class'::regclass
                      AND d.deptype IN ('a', 'i') AND d.objid IN (SELECT oid FROM pg_class WHERE relkind = 'S') LOOP
    PERFORM pg_catalog.pg_extension_config_dump(v_sequence, '');
  END LOOP;

  EXECUTE format('ALTER TABLE %s ENABLE ROW LEVEL SECURITY', v_table);
  EXECUTE format('ALTER TABLE %s FORCE ROW LEVEL SECURITY', v_table);

  IF EXISTS (SELECT FROM pg_attribute WHERE attrelid = v_table AND attname = 'updated_at' AND NOT attisdropped)
     AND NOT EXISTS (SELECT FROM pg_trigger WHERE tgrelid = v_table AND tgname = p_table || '_9_touch_updated_at') THEN
    EXECUTE format('CREATE TRIGGER %I BEFORE UPDATE ON %s
                    FOR EACH ROW EXECUTE FUNCTION booking_internal.touch_updated_at()',
                   p_table || '_9_touch_updated_at', v_table);
  END IF;
  IF EXISTS (SELECT FROM pg_attribute WHERE attrelid = v_table AND attname = 'organization_id' AND NOT attisdropped)
     AND NOT EXISTS (SELECT FROM pg_trigger WHERE tgrelid = v_table AND tgname = p_table || '_0_organization_fixed') THEN
    EXECUTE format('CREATE TRIGGER %I BEFORE UPDATE OF organization_id ON %s
                    FOR EACH ROW WHEN (OLD.organization_id IS DISTINCT FROM NEW.organization_id)
                    EXECUTE FUNCTION booking_internal.organization_is_fixed()',
                   p_table || '_0_organization_fixed', v_table);
  END IF;
  -- (Tables registered before the audit module exists get their triggers when it installs.)
  -- Inserts are audited per statement (all the rows of one INSERT in one audit statement),
  -- updates and deletes per row.
  IF p_audited AND to_regprocedure('booking_internal.audit_row_change()') IS NOT NULL
     AND NOT EXISTS (SELECT FROM pg_trigger WHERE tgrelid = v_table AND tgname = p_table || '_8_audit') THEN
    EXECUTE format('CREATE TRIGGER %I AFTER INSERT ON %s REFERENCING NEW TABLE AS new_rows
                    FOR EACH STATEMENT EXECUTE FUNCTION booking_internal.audit_rows_inserted()',
                   p_table || '_8_audit', v_table);
    EXECUTE format('CREATE TRIGGER %I AFTER DELETE ON %s
                    FOR EACH ROW EXECUTE FUNCTION booking_internal.audit_row_change()',
                   p_table || '_8_audit_delete', v_table);
    EXECUTE format('CREATE TRIGGER %I AFTER UPDATE ON %s
                    FOR EACH ROW WHEN (OLD.* IS DISTINCT FROM NEW.*)
                    EXECUTE FUNCTION booking_internal.audit_row_change()',
                   p_table || '_8_audit_update', v_table);
  END IF;
END $$;
-- END COPY src/platform/platform.sql#replace:booking_internal.register_table
DO $$
DECLARE
  v_table record;
BEGIN
  FOR v_table IN SELECT table_name, module, audited, entity_type, entity_key
                 FROM booking_internal.registered_tables WHERE audited ORDER BY position LOOP
    EXECUTE format('DROP TRIGGER %I ON booking.%I', v_table.table_name || '_8_audit', v_table.table_name);
    EXECUTE format('DROP TRIGGER %I ON booking.%I', v_table.table_name || '_8_audit_update', v_table.table_name);
    PERFORM booking_internal.register_table(v_table.table_name, v_table.module, v_table.audited, v_table.entity_type,
                                            coalesce(v_table.entity_key, 'id'));
  END LOOP;
END $$;

-- =============================================================================================
-- Changed module: tenancy (src/tenancy/tenancy.sql): the settings booking_ext knows have a
-- checked shape (seed 002). An organization whose settings break it stops the upgrade with the
-- key named (22023); fix the key and update again.
-- =============================================================================================

-- BEGIN COPY src/tenancy/tenancy.sql#booking_internal.check_organization_settings
CREATE FUNCTION booking_internal.check_organization_settings(p_settings jsonb) RETURNS boolean
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_section text;
  v_key     text;
  v_value   jsonb;
  v_kind    text;
  v_expected text;
  v_ok      boolean;
BEGIN
  IF jsonb_typeof(p_settings) IS DISTINCT FROM 'object' THEN
    RETURN true;  -- the settings' own CHECK reports this
  END IF;
  FOR v_section, v_key, v_value IN
    SELECT s.key, k.key, k.value
    FROM jsonb_each(p_settings) s
    CROSS JOIN LATERAL jsonb_each(CASE WHEN jsonb_typeof(s.value) = 'object' THEN s.value ELSE '{"": null}'::jsonb END) k
    WHERE s.key IN ('calendar', 'ai', 'notifications', 'integrations')
  LOOP
    IF v_key = '' THEN
      RAISE EXCEPTION 'settings.% must be a JSON object', v_section USING ERRCODE = 'invalid_parameter_value';
    END IF;
    v_kind := CASE v_section || '.' || v_key
      WHEN 'calendar.sync_enabled' THEN 'boolean'
      WHEN 'calendar.push_bookings' THEN 'boolean'
      WHEN 'calendar.sync_interval_minutes' THEN 'minutes'
      WHEN 'calendar.default_provider' THEN 'provider'
      WHEN 'ai.digests_enabled' THEN 'boolean'
      WHEN 'ai.insights_enabled' THEN 'boolean'
      WHEN 'ai.digest_types' THEN 'digest_types'
      WHEN 'ai.locale' THEN 'locale'
      WHEN 'notifications.email' THEN 'boolean'
      WHEN 'notifications.sms' THEN 'boolean'
      WHEN 'notifications.in_app' THEN 'boolean'
      WHEN 'notifications.digest_recipients' THEN 'user_ids'
      WHEN 'integrations.appsheet' THEN 'integration'
      WHEN 'integrations.google_forms' THEN 'integration'
      WHEN 'integrations.api' THEN 'integration'
      WHEN 'integrations.manual' THEN 'integration'
    END;
    IF v_kind IS NULL THEN
      RAISE EXCEPTION 'settings.%.% is not a setting booking_ext knows', v_section, left(v_key, 100)
        USING ERRCODE = 'invalid_parameter_value', HINT = 'See docs/tenancy.md#organization-settings.';
    END IF;
    v_ok := CASE v_kind
      WHEN 'boolean' THEN jsonb_typeof(v_value) = 'boolean'
      WHEN 'minutes' THEN jsonb_typeof(v_value) = 'number' AND (v_value #>> '{}')::numeric BETWEEN 5 AND 1440
                           AND (v_value #>> '{}')::numeric = trunc((v_value #>> '{}')::numeric)
      WHEN 'provider' THEN v_value #>> '{}' IN ('google', 'outlook', 'apple', 'ics') AND jsonb_typeof(v_value) = 'string'
      WHEN 'digest_types' THEN jsonb_typeof(v_value) = 'array' AND jsonb_array_length(v_value) <= 3
                               AND NOT EXISTS (SELECT 1 FROM jsonb_array_elements(v_value) e
                                               WHERE e NOT IN ('"daily"', '"weekly"', '"monthly"'))
      WHEN 'locale' THEN jsonb_typeof(v_value) = 'string' AND (v_value #>> '{}') ~ '^[a-z]{2,3}(-[A-Za-z0-9]{2,8}){0,3}$'
      WHEN 'user_ids' THEN jsonb_typeof(v_value) = 'array' AND jsonb_array_length(v_value) <= 50
                           AND NOT EXISTS (SELECT 1 FROM jsonb_array_elements(v_value) e
                                           WHERE jsonb_typeof(e) <> 'string' OR length(e #>> '{}') NOT BETWEEN 1 AND 200)
      WHEN 'integration' THEN jsonb_typeof(v_value) = 'object'
                              AND NOT EXISTS (SELECT 1 FROM jsonb_each(v_value) i
                                              WHERE NOT ((i.key = 'enabled' AND jsonb_typeof(i.value) = 'boolean')
                                                         OR (i.key = 'name' AND jsonb_typeof(i.value) = 'string'
                                                             AND length(i.value #>> '{}') <= 200)))
    END;
    IF NOT v_ok THEN
      v_expected := CASE v_kind
        WHEN 'boolean' THEN 'true or false'
        WHEN 'minutes' THEN 'a whole number of minutes from 5 to 1440'
        WHEN 'provider' THEN 'google, outlook, apple or ics'
        WHEN 'digest_types' THEN 'an array of daily, weekly, monthly'
        WHEN 'locale' THEN 'a language tag such as "en" or "fr-CA"'
        WHEN 'user_ids' THEN 'an array of at most 50 user ids (1 to 200 characters)'
        ELSE 'an object with "enabled" (true or false) and "name" (at most 200 characters)' END;
      RAISE EXCEPTION 'settings.%.% must be %', v_section, v_key, v_expected USING ERRCODE = 'invalid_parameter_value';
    END IF;
  END LOOP;
  RETURN true;
END $$;
-- END COPY src/tenancy/tenancy.sql#booking_internal.check_organization_settings
ALTER TABLE booking.organizations ADD CONSTRAINT organizations_settings_shape
  CHECK (booking_internal.check_organization_settings(settings));
COMMENT ON FUNCTION booking_internal.check_organization_settings(jsonb) IS 'Internal: the shape of the settings booking_ext knows (calendar, ai, notifications, integrations; docs/tenancy.md): 22023 naming the first wrong key, else true. The organizations_settings_shape constraint.';
-- BEGIN COPY src/tenancy/tenancy.sql#replace:booking_internal.grant_tenancy_privileges
CREATE OR REPLACE FUNCTION booking_internal.grant_tenancy_privileges(p_role text) RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  -- row-level security policies call them
  PERFORM booking_internal.grant_execute(p_role, ARRAY['user_organization_ids', 'public_organization_ids',
                                                       'is_member', 'is_staff', 'is_admin']);
  IF p_role = 'anon' THEN
    -- What a public booking page needs, and no more: not an organization's settings
    -- (anonymous callers name their columns; `*` is refused).
    REVOKE SELECT ON booking.organizations FROM anon;
    GRANT SELECT (id, slug, name, time_zone, is_public) ON booking.organizations TO anon;
  ELSE
    -- what the triggers and RPCs running as a signed-in caller call
    PERFORM booking_internal.grant_execute(p_role, ARRAY['has_staff_rights', 'may_book_in']);
    -- the settings constraint runs as whoever writes an organization
    PERFORM booking_internal.grant_execute(p_role, ARRAY['check_organization_settings']);
  END IF;
  IF p_role = 'authenticated' THEN
    GRANT INSERT, UPDATE, DELETE ON booking.members TO authenticated;
    GRANT UPDATE, DELETE ON booking.organizations TO authenticated;
  END IF;
END $$;
-- END COPY src/tenancy/tenancy.sql#replace:booking_internal.grant_tenancy_privileges

-- =============================================================================================
-- New module: people (src/people/people.sql, as of 0.2.0). Installed before bookings, which
-- refers to it.
-- =============================================================================================

-- BEGIN COPY src/people/people.sql
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
-- END COPY src/people/people.sql

-- =============================================================================================
-- Changed module: bookings (src/bookings/bookings.sql): bookings.uses_credit (module credits
-- debits and refunds paid bookings), student_id and metadata; book() with p_use_credit,
-- p_student_id and p_metadata; a professional manages the bookings of their own resource (the
-- trigger, set_booking_status and the policies); the new-client rule; booking_services.staff_id
-- (module engagement: who performs each service); the refusal 'external_event' (module calendars).
-- =============================================================================================

ALTER TABLE booking.bookings ADD COLUMN uses_credit boolean NOT NULL DEFAULT false;
ALTER TABLE booking.bookings
  ADD COLUMN student_id uuid,
  ADD COLUMN metadata jsonb NOT NULL DEFAULT '{}'::jsonb
    CONSTRAINT bookings_metadata_object CHECK (jsonb_typeof(metadata) = 'object')
    CONSTRAINT bookings_metadata_size CHECK (octet_length(metadata::text) <= 16384),
  ADD CONSTRAINT bookings_student_same_organization FOREIGN KEY (student_id, organization_id)
    REFERENCES booking.students (id, organization_id);
CREATE INDEX bookings_student_id_idx ON booking.bookings (student_id, organization_id) WHERE student_id IS NOT NULL;
ALTER TABLE booking.booking_services ADD COLUMN staff_id text
  CONSTRAINT booking_services_staff_id_size CHECK (length(staff_id) BETWEEN 1 AND 200);
CREATE INDEX booking_services_staff_id_idx ON booking.booking_services (staff_id) WHERE staff_id IS NOT NULL;
-- BEGIN COPY src/bookings/bookings.sql#booking_internal.performs_services
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
-- END COPY src/bookings/bookings.sql#booking_internal.performs_services
COMMENT ON FUNCTION booking_internal.performs_services(uuid, text) IS 'Internal: is this person an active owner, admin or staff member, or an active professional, of the organization?';
-- BEGIN COPY src/bookings/bookings.sql#replace:booking_internal.booking_services_from_service
CREATE OR REPLACE FUNCTION booking_internal.booking_services_from_service() RETURNS trigger
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
-- END COPY src/bookings/bookings.sql#replace:booking_internal.booking_services_from_service
COMMENT ON FUNCTION booking_internal.booking_services_from_service() IS 'Trigger: a line item written by a booker takes its price and duration from the service; whoever writes it names as staff_id someone who performs services.';
-- BEGIN COPY src/bookings/bookings.sql#booking_internal.student_booked_on
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
-- END COPY src/bookings/bookings.sql#booking_internal.student_booked_on
COMMENT ON FUNCTION booking_internal.student_booked_on(uuid, uuid, uuid) IS 'Internal: did this student have another booking on this resource (its professional may book them again)?';
-- BEGIN COPY src/bookings/bookings.sql#booking_internal.check_professional_takes_client
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
-- END COPY src/bookings/bookings.sql#booking_internal.check_professional_takes_client
COMMENT ON FUNCTION booking_internal.check_professional_takes_client(uuid, text, uuid, uuid) IS 'Internal: PT409 new_client when the resource''s professional takes no new clients and the booker (or the student) had no approved, completed or no-show booking with them.';
-- BEGIN COPY src/bookings/bookings.sql#replace:booking_internal.bookings_guard
CREATE OR REPLACE FUNCTION booking_internal.bookings_guard() RETURNS trigger
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
-- END COPY src/bookings/bookings.sql#replace:booking_internal.bookings_guard
-- BEGIN COPY src/bookings/bookings.sql#replace:booking_internal.refusal_message
CREATE OR REPLACE FUNCTION booking_internal.refusal_message(p_reason text) RETURNS text
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
-- END COPY src/bookings/bookings.sql#replace:booking_internal.refusal_message
-- BEGIN COPY src/bookings/bookings.sql#replace:booking_internal.enforce_booking_rules
CREATE OR REPLACE FUNCTION booking_internal.enforce_booking_rules(p_organization_id uuid, p_resource_id uuid,
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
-- END COPY src/bookings/bookings.sql#replace:booking_internal.enforce_booking_rules
-- A series judged as a whole (module series) is inserted in one statement whose rows the
-- guard and the capacity trigger do not judge again (src/bookings/judged.rs); the rule book's
-- terms that do not depend on time are one function, asked once for a series.
CREATE  FUNCTION booking_internal."remember_judged_bookings"(
	"p_resource_id" uuid, /* pgrx :: Uuid */
	"p_seats" INT, /* i32 */
	"p_status" TEXT, /* & str */
	"p_ids" uuid[], /* Vec < pgrx :: Uuid > */
	"p_starts" timestamp with time zone[], /* Vec < TimestampWithTimeZone > */
	"p_ends" timestamp with time zone[] /* Vec < TimestampWithTimeZone > */
) RETURNS void
STRICT VOLATILE PARALLEL UNSAFE 
SET search_path TO pg_catalog, pg_temp
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'remember_judged_bookings_wrapper';

CREATE  FUNCTION booking_internal."forget_judged_bookings"() RETURNS void
STRICT VOLATILE PARALLEL UNSAFE 
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'forget_judged_bookings_wrapper';

CREATE  FUNCTION booking_internal."has_judged_bookings"() RETURNS bool /* bool */
STRICT VOLATILE PARALLEL UNSAFE 
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'has_judged_bookings_wrapper';

CREATE  FUNCTION booking_internal."is_judged_booking"(
	"p_id" uuid, /* Option < pgrx :: Uuid > */
	"p_resource_id" uuid, /* Option < pgrx :: Uuid > */
	"p_seats" INT, /* Option < i32 > */
	"p_status" TEXT, /* Option < & str > */
	"p_starts_at" timestamp with time zone, /* Option < TimestampWithTimeZone > */
	"p_ends_at" timestamp with time zone /* Option < TimestampWithTimeZone > */
) RETURNS bool /* bool */
VOLATILE PARALLEL UNSAFE 
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'is_judged_booking_wrapper';
DROP TRIGGER bookings_1_guard ON booking.bookings;
DROP TRIGGER bookings_2_capacity ON booking.bookings;
CREATE TRIGGER bookings_1_guard BEFORE INSERT OR UPDATE ON booking.bookings
  FOR EACH ROW WHEN (NOT booking_internal.is_judged_booking(NEW.id, NEW.resource_id, NEW.seats, NEW.status, NEW.starts_at, NEW.ends_at))
  EXECUTE FUNCTION booking_internal.bookings_guard();
CREATE TRIGGER bookings_2_capacity BEFORE INSERT OR UPDATE OF resource_id, starts_at, ends_at, seats, status
  ON booking.bookings FOR EACH ROW WHEN (NOT booking_internal.is_judged_booking(NEW.id, NEW.resource_id, NEW.seats, NEW.status, NEW.starts_at, NEW.ends_at))
  EXECUTE FUNCTION booking_internal.bookings_enforce_capacity();
-- BEGIN COPY src/bookings/bookings.sql#booking_internal.bookings_judged_done
CREATE FUNCTION booking_internal.bookings_judged_done() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  PERFORM booking_internal.forget_judged_bookings();
  RETURN NULL;
END $$;
-- END COPY src/bookings/bookings.sql#booking_internal.bookings_judged_done
CREATE TRIGGER bookings_0_judged_done AFTER INSERT ON booking.bookings
  FOR EACH STATEMENT WHEN (booking_internal.has_judged_bookings())
  EXECUTE FUNCTION booking_internal.bookings_judged_done();
-- BEGIN COPY src/bookings/bookings.sql#booking_internal.exclusion_refusal
CREATE FUNCTION booking_internal.exclusion_refusal(p_constraint text) RETURNS text
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  RETURN CASE p_constraint WHEN 'bookings_no_overlap' THEN 'overlap' ELSE 'capacity' END;
END $$;
-- END COPY src/bookings/bookings.sql#booking_internal.exclusion_refusal
-- BEGIN COPY src/bookings/bookings.sql#booking_internal.booking_rule_terms
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
-- END COPY src/bookings/bookings.sql#booking_internal.booking_rule_terms
COMMENT ON FUNCTION booking_internal.remember_judged_bookings(uuid, integer, text, uuid[], timestamptz[], timestamptz[]) IS 'Internal (owner only): records bookings about to be inserted as judged by the rule book as a whole (a series), for that INSERT''s row triggers; see src/bookings/judged.rs.';
COMMENT ON FUNCTION booking_internal.forget_judged_bookings() IS 'Internal: forgets the judged bookings (bookings_0_judged_done, after the INSERT''s row triggers).';
COMMENT ON FUNCTION booking_internal.has_judged_bookings() IS 'Internal: is anything recorded as judged (bookings_0_judged_done''s WHEN)?';
COMMENT ON FUNCTION booking_internal.is_judged_booking(uuid, uuid, integer, text, timestamptz, timestamptz) IS 'Internal: is this row one of the recorded judged bookings, in id, resource, seats, status and times? The WHEN clause of the bookings triggers that judge a row.';
COMMENT ON FUNCTION booking_internal.bookings_judged_done() IS 'Statement trigger: forgets the judged bookings once the INSERT''s row triggers are done.';
COMMENT ON FUNCTION booking_internal.exclusion_refusal(text) IS 'Internal: the rule book''s reason (overlap, capacity) for the capacity trigger''s refusal, by the constraint it names.';
COMMENT ON FUNCTION booking_internal.booking_rule_terms(uuid, uuid, uuid, timestamptz, timestamptz, integer) IS 'Internal: the rule book''s terms that do not depend on when (may book in the organization, staff-only service, longest and shortest booking, seats a booking); whether the rules apply, whether approved on submission, the service''s concurrency limit.';

-- =============================================================================================
-- Changed module: conflicts (src/conflicts/conflicts.sql): a resource with
-- conflict_detection_enabled = false (added by module intake) is left out.
-- =============================================================================================
-- BEGIN COPY src/conflicts/conflicts.sql#replace:booking.detect_conflicts
CREATE OR REPLACE FUNCTION booking.detect_conflicts(p_organization_id uuid, p_from timestamptz, p_to timestamptz)
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
-- END COPY src/conflicts/conflicts.sql#replace:booking.detect_conflicts
-- BEGIN COPY src/bookings/bookings.sql#replace:booking.set_booking_status
CREATE OR REPLACE FUNCTION booking.set_booking_status(p_booking_id uuid, p_status text, p_reason text DEFAULT NULL)
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
-- END COPY src/bookings/bookings.sql#replace:booking.set_booking_status
-- BEGIN COPY src/bookings/bookings.sql#replace:booking_internal.grant_bookings_privileges
CREATE OR REPLACE FUNCTION booking_internal.grant_bookings_privileges(p_role text) RETURNS void
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
-- END COPY src/bookings/bookings.sql#replace:booking_internal.grant_bookings_privileges
DROP FUNCTION booking.book(uuid, timestamptz, timestamptz, integer, uuid, text, text);
-- BEGIN COPY src/bookings/bookings.sql#booking.book
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
-- END COPY src/bookings/bookings.sql#booking.book
COMMENT ON FUNCTION booking.book(uuid, timestamptz, timestamptz, integer, uuid, text, text, boolean, uuid, jsonb) IS 'Books a resource for the signed-in caller, race-free; refusals raise PT409 (HTTP 409) with the reason in DETAIL; approved when the resource auto-approves, else pending; with p_use_credit, paid with one credit per seat (PT409 insufficient_credit); p_student_id for a student the caller is a guardian of; p_metadata kept on the booking.';
DROP POLICY bookings_select ON booking.bookings;
DROP POLICY bookings_insert ON booking.bookings;
DROP POLICY bookings_update ON booking.bookings;
DROP POLICY booking_transitions_select ON booking.booking_transitions;
DROP POLICY booking_services_select ON booking.booking_services;
-- BEGIN COPY src/bookings/bookings.sql#policy:bookings_select
CREATE POLICY bookings_select ON booking.bookings FOR SELECT
  USING (booked_by = (SELECT booking.current_user_id())
         OR organization_id = ANY ((SELECT booking.user_organization_ids('{owner,admin,staff}'))::uuid[])
         OR resource_id = ANY ((SELECT booking_internal.my_professional_resource_ids())::uuid[])
         OR student_id = ANY ((SELECT booking_internal.my_student_ids())::uuid[]));
-- END COPY src/bookings/bookings.sql#policy:bookings_select
-- BEGIN COPY src/bookings/bookings.sql#policy:bookings_insert
CREATE POLICY bookings_insert ON booking.bookings FOR INSERT
  WITH CHECK (organization_id = ANY ((SELECT booking.user_organization_ids('{owner,admin,staff}'))::uuid[])
              OR resource_id = ANY ((SELECT booking_internal.my_professional_resource_ids())::uuid[])
              OR (status IN ('draft', 'pending', 'approved')
                  AND booking_internal.booker_may_insert(organization_id, booked_by)));
-- END COPY src/bookings/bookings.sql#policy:bookings_insert
-- BEGIN COPY src/bookings/bookings.sql#policy:bookings_update
CREATE POLICY bookings_update ON booking.bookings FOR UPDATE
  USING (booked_by = (SELECT booking.current_user_id())
         OR organization_id = ANY ((SELECT booking.user_organization_ids('{owner,admin,staff}'))::uuid[])
         OR resource_id = ANY ((SELECT booking_internal.my_professional_resource_ids())::uuid[]))
  WITH CHECK (booked_by = (SELECT booking.current_user_id())
              OR organization_id = ANY ((SELECT booking.user_organization_ids('{owner,admin,staff}'))::uuid[])
              OR resource_id = ANY ((SELECT booking_internal.my_professional_resource_ids())::uuid[]));
-- END COPY src/bookings/bookings.sql#policy:bookings_update
-- BEGIN COPY src/bookings/bookings.sql#policy:booking_transitions_select
CREATE POLICY booking_transitions_select ON booking.booking_transitions FOR SELECT
  USING (organization_id = ANY ((SELECT booking.user_organization_ids('{owner,admin,staff}'))::uuid[])
         OR EXISTS (SELECT 1 FROM booking.bookings b
                    WHERE b.id = booking_id
                      AND (b.booked_by = (SELECT booking.current_user_id())
                           OR b.resource_id = ANY ((SELECT booking_internal.my_professional_resource_ids())::uuid[]))));
-- END COPY src/bookings/bookings.sql#policy:booking_transitions_select
-- BEGIN COPY src/bookings/bookings.sql#policy:booking_services_select
CREATE POLICY booking_services_select ON booking.booking_services FOR SELECT
  USING (organization_id = ANY ((SELECT booking.user_organization_ids('{owner,admin,staff}'))::uuid[])
         OR staff_id = (SELECT booking.current_user_id())
         OR EXISTS (SELECT 1 FROM booking.bookings b
                    WHERE b.id = booking_id AND b.booked_by = (SELECT booking.current_user_id())));
-- END COPY src/bookings/bookings.sql#policy:booking_services_select

-- =============================================================================================
-- Changed module: outbox (src/outbox/outbox.sql): the booking.created events of one INSERT are
-- written by one statement (a statement trigger with the inserted rows).
-- =============================================================================================

-- BEGIN COPY src/outbox/outbox.sql#booking_internal.booking_event_payload
CREATE FUNCTION booking_internal.booking_event_payload(p_booking booking.bookings, p_previous_status text) RETURNS jsonb
LANGUAGE sql STABLE PARALLEL SAFE
-- (STABLE as its timestamps' text is, so that it is inlined; a quoted body, as an SQL-standard
-- one would pin the bookings row type against later columns)
AS $$
  SELECT jsonb_build_object('booking_id', p_booking.id, 'resource_id', p_booking.resource_id,
                            'status', p_booking.status, 'previous_status', p_previous_status,
                            'starts_at', p_booking.starts_at, 'ends_at', p_booking.ends_at, 'seats', p_booking.seats,
                            'booked_by', p_booking.booked_by)
$$;
-- END COPY src/outbox/outbox.sql#booking_internal.booking_event_payload
-- BEGIN COPY src/outbox/outbox.sql#replace:booking_internal.bookings_enqueue_outbox
CREATE OR REPLACE FUNCTION booking_internal.bookings_enqueue_outbox() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  IF booking_internal.is_bulk_load() THEN
    RETURN NULL;  -- a restore brings its outbox rows with it
  END IF;
  INSERT INTO booking.outbox (organization_id, topic, payload)
  VALUES (NEW.organization_id, 'booking.status_changed', booking_internal.booking_event_payload(NEW, OLD.status));
  RETURN NULL;
END $$;
-- END COPY src/outbox/outbox.sql#replace:booking_internal.bookings_enqueue_outbox
-- BEGIN COPY src/outbox/outbox.sql#booking_internal.bookings_outbox_inserted
CREATE FUNCTION booking_internal.bookings_outbox_inserted() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  IF booking_internal.is_bulk_load() THEN
    RETURN NULL;  -- a restore brings its outbox rows with it
  END IF;
  INSERT INTO booking.outbox (organization_id, topic, payload)
  SELECT n.organization_id, 'booking.created', booking_internal.booking_event_payload(n, NULL)
  FROM new_rows n
  ORDER BY n.starts_at, n.id;
  RETURN NULL;
END $$;
-- END COPY src/outbox/outbox.sql#booking_internal.bookings_outbox_inserted
DROP TRIGGER bookings_6_outbox_insert ON booking.bookings;
CREATE TRIGGER bookings_6_outbox_insert AFTER INSERT ON booking.bookings REFERENCING NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION booking_internal.bookings_outbox_inserted();
COMMENT ON FUNCTION booking_internal.bookings_enqueue_outbox() IS 'Trigger: an outbox event for every status change of a booking.';
COMMENT ON FUNCTION booking_internal.booking_event_payload(booking.bookings, text) IS 'Internal: the payload of a booking''s outbox events (booking.created, booking.status_changed).';
COMMENT ON FUNCTION booking_internal.bookings_outbox_inserted() IS 'Statement trigger: a booking.created outbox event for every booking one INSERT wrote (transition table new_rows).';

-- =============================================================================================
-- New module: workshops (src/workshops/workshops.sql, as of 0.2.0).
-- =============================================================================================

-- BEGIN COPY src/workshops/workshops.sql
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
-- END COPY src/workshops/workshops.sql
-- =============================================================================================
-- New module: series (src/series/mod.rs's native functions, from the generated install script,
-- then src/series/series.sql, as of 0.2.0).
-- =============================================================================================

CREATE  FUNCTION booking_internal."series_pattern"(
	"p_rrule" TEXT /* Option < String > */
) RETURNS TABLE (
	"rrule" TEXT,  /* String */
	"frequency" TEXT,  /* String */
	"interval" INT,  /* i32 */
	"week_days" INT[],  /* Vec < i32 > */
	"month_days" INT[],  /* Vec < i32 > */
	"end_date" date,  /* Option < pgrx :: datum :: Date > */
	"end_after" INT  /* Option < i32 > */
)
IMMUTABLE PARALLEL SAFE 
SET search_path TO pg_catalog, pg_temp
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'series_pattern_wrapper';

CREATE  FUNCTION booking_internal."expand_series"(
	"p_rrule" TEXT, /* Option < String > */
	"p_first_local" timestamp, /* Option < pgrx :: datum :: Timestamp > */
	"p_duration" interval, /* Option < pgrx :: datum :: Interval > */
	"p_time_zone" TEXT, /* Option < String > */
	"p_skipped" date[] DEFAULT '{}' /* :: std :: option :: Option < Vec < Option < pgrx :: datum :: Date > > > */
) RETURNS TABLE (
	"local_date" date,  /* pgrx :: datum :: Date */
	"occurrence_start" timestamp with time zone,  /* TimestampWithTimeZone */
	"occurrence_end" timestamp with time zone  /* TimestampWithTimeZone */
)
STABLE PARALLEL SAFE 
SET search_path TO pg_catalog, pg_temp
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'expand_series_wrapper';

CREATE  FUNCTION booking."preview_series"(
	"p_resource_id" uuid, /* Option < pgrx :: Uuid > */
	"p_start" timestamp with time zone, /* Option < TimestampWithTimeZone > */
	"p_end" timestamp with time zone, /* Option < TimestampWithTimeZone > */
	"p_rrule" TEXT, /* Option < String > */
	"p_seats" INT DEFAULT 1, /* Option < i32 > */
	"p_service_id" uuid DEFAULT NULL /* Option < pgrx :: Uuid > */
) RETURNS TABLE (
	"occurrence_start" timestamp with time zone,  /* TimestampWithTimeZone */
	"occurrence_end" timestamp with time zone,  /* TimestampWithTimeZone */
	"refusal" TEXT  /* Option < String > */
)
STABLE SECURITY DEFINER
SET search_path TO pg_catalog, pg_temp
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'preview_series_wrapper';

-- ---------------------------------------------------------------------------------------------
-- src/series/series.sql
-- ---------------------------------------------------------------------------------------------

-- BEGIN COPY src/series/series.sql
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
-- END COPY src/series/series.sql
-- =============================================================================================
-- New module: events (src/events/events.sql, as of 0.2.0).
-- =============================================================================================

-- BEGIN COPY src/events/events.sql
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
-- END COPY src/events/events.sql
-- =============================================================================================
-- New module: credits (src/credits/credits.sql, as of 0.2.0).
-- =============================================================================================

-- BEGIN COPY src/credits/credits.sql
-- booking_ext, module credits: prepaid credits (seed 003). A person holds an account per
-- organization; every change of its balance is an entry of an append-only ledger
-- (booking.credit_transactions: purchase, appointment_debit, cancellation_refund, adjustment,
-- expiry), written in the same transaction as what caused it, by this module's functions only
-- (the API roles, service_role included, may read these tables but not write them).
--
-- Purchases are lots, spent soonest-expiring first (lots that never expire last); an expired
-- lot is never spent: its remainder leaves the balance as an `expiry` entry when the account
-- is next touched or when booking.expire_credits() runs. A booking made with `uses_credit`
-- costs one credit per seat, debited when it is written (PT409 `insufficient_credit`, and
-- nothing written, when the account cannot pay); cancelling it refunds the debit exactly once
-- (to the lots it came from, with their expiry) when the organization's policy says so
-- (booking.credit_policies: before the refund deadline always; after it per
-- `late_cancellation`); a rejected or deleted booking is always refunded.
--
-- Invariants the tables keep: a balance is never negative (CHECK); a lot's remainder is
-- between 0 and its amount (CHECK); one debit and at most one refund per booking (unique
-- indexes); one purchase per payment reference and organization (unique index). The balance
-- equals the sum of the account's ledger entries and of its lots' remainders: both are written
-- only by post_credit, under the account's row lock.

CREATE TABLE booking.credit_policies (
  organization_id         uuid PRIMARY KEY REFERENCES booking.organizations (id) ON DELETE CASCADE,
  -- a cancellation at least this long before the start is refunded
  refund_deadline_minutes integer NOT NULL DEFAULT 1440 CHECK (refund_deadline_minutes BETWEEN 0 AND 525600),
  -- a later one: the credit is kept by the organization ('forfeit') or refunded all the same
  late_cancellation       text NOT NULL DEFAULT 'forfeit' CHECK (late_cancellation IN ('forfeit', 'refund')),
  created_at              timestamptz NOT NULL DEFAULT now(),
  updated_at              timestamptz NOT NULL DEFAULT now()
);
SELECT booking_internal.register_table('credit_policies', 'credits', true, 'credit_policy', 'organization_id');

CREATE TABLE booking.credit_accounts (
  id                 uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  organization_id    uuid NOT NULL REFERENCES booking.organizations (id) ON DELETE CASCADE,
  user_id            text NOT NULL CHECK (length(user_id) > 0) CONSTRAINT credit_accounts_user_id_size CHECK (length(user_id) <= 200),
  balance            integer NOT NULL DEFAULT 0 CONSTRAINT credit_accounts_balance_not_negative CHECK (balance >= 0),
  lifetime_purchased integer NOT NULL DEFAULT 0 CHECK (lifetime_purchased >= 0),
  lifetime_used      integer NOT NULL DEFAULT 0 CHECK (lifetime_used >= 0),
  created_at         timestamptz NOT NULL DEFAULT now(),
  updated_at         timestamptz NOT NULL DEFAULT now(),
  UNIQUE (id, organization_id),
  CONSTRAINT credit_accounts_one_per_person UNIQUE (organization_id, user_id)
);
CREATE INDEX credit_accounts_user_id_idx ON booking.credit_accounts (user_id);
-- Not audited: the ledger is its record.
SELECT booking_internal.register_table('credit_accounts', 'credits', false);

CREATE TABLE booking.credit_transactions (
  id                uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  organization_id   uuid NOT NULL,
  account_id        uuid NOT NULL,
  user_id           text NOT NULL,
  transaction_type  text NOT NULL
                    CHECK (transaction_type IN ('purchase', 'appointment_debit', 'cancellation_refund', 'adjustment', 'expiry')),
  amount            integer NOT NULL,
  -- the booking a debit paid for or a refund gave back
  booking_id        uuid,
  -- an expiry's lot; a refund's debit
  lot_id            uuid,
  refund_of         uuid,
  -- purchases: when the lot expires (NULL: never)
  expires_at        timestamptz,
  payment_method    text CONSTRAINT credit_transactions_payment_method_size CHECK (length(payment_method) <= 100),
  payment_reference text CONSTRAINT credit_transactions_payment_reference_size CHECK (length(payment_reference) <= 200),
  reason            text CONSTRAINT credit_transactions_reason_size CHECK (length(reason) <= 4000),
  -- a debit's lots: {"lots": [{"lot": id, "amount": n}, ...]}
  metadata          jsonb NOT NULL DEFAULT '{}'::jsonb,
  created_by        text NOT NULL,
  created_at        timestamptz NOT NULL DEFAULT clock_timestamp(),
  CONSTRAINT credit_transactions_sign CHECK (CASE transaction_type
                                               WHEN 'purchase' THEN amount > 0
                                               WHEN 'cancellation_refund' THEN amount > 0
                                               WHEN 'appointment_debit' THEN amount < 0
                                               WHEN 'expiry' THEN amount < 0
                                               ELSE amount <> 0 END)
  -- No foreign keys, like the audit log: the ledger of a deleted account or tenant stays.
);
CREATE INDEX credit_transactions_account_idx ON booking.credit_transactions (account_id, organization_id, created_at);
CREATE INDEX credit_transactions_organization_id_idx ON booking.credit_transactions (organization_id, created_at);
CREATE UNIQUE INDEX credit_transactions_one_purchase_per_payment ON booking.credit_transactions (organization_id, payment_reference)
  WHERE transaction_type = 'purchase';
CREATE UNIQUE INDEX credit_transactions_one_debit_per_booking ON booking.credit_transactions (booking_id)
  WHERE transaction_type = 'appointment_debit';
CREATE UNIQUE INDEX credit_transactions_one_refund_per_debit ON booking.credit_transactions (refund_of)
  WHERE refund_of IS NOT NULL;
SELECT booking_internal.register_table('credit_transactions', 'credits', false);

-- A lot: what is left of a purchase (or of a positive adjustment), and when it expires.
CREATE TABLE booking.credit_lots (
  -- the ledger entry that made it
  id              uuid PRIMARY KEY,
  organization_id uuid NOT NULL,
  account_id      uuid NOT NULL,
  amount          integer NOT NULL CHECK (amount > 0),
  remaining       integer NOT NULL CONSTRAINT credit_lots_remaining_within_amount CHECK (remaining BETWEEN 0 AND amount),
  expires_at      timestamptz,
  created_at      timestamptz NOT NULL DEFAULT clock_timestamp(),
  updated_at      timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT credit_lots_account_same_organization FOREIGN KEY (account_id, organization_id)
    REFERENCES booking.credit_accounts (id, organization_id) ON DELETE CASCADE
);
-- The lots an account spends from, in the order it spends them.
CREATE INDEX credit_lots_spending_idx ON booking.credit_lots (account_id, organization_id, expires_at NULLS LAST, created_at)
  WHERE remaining > 0;
CREATE INDEX credit_lots_expiring_idx ON booking.credit_lots (expires_at) WHERE remaining > 0 AND expires_at IS NOT NULL;
SELECT booking_internal.register_table('credit_lots', 'credits', false);

-- The ledger is appended to, never rewritten.
CREATE TRIGGER credit_transactions_append_only BEFORE UPDATE OR DELETE ON booking.credit_transactions
  FOR EACH ROW EXECUTE FUNCTION booking_internal.append_only();
CREATE TRIGGER credit_transactions_no_truncate BEFORE TRUNCATE ON booking.credit_transactions
  FOR EACH STATEMENT EXECUTE FUNCTION booking_internal.append_only();

-- ---------------------------------------------------------------------------------------------
-- The ledger's one writer: an account's row locked, its expired lots closed, an entry posted.
-- ---------------------------------------------------------------------------------------------

-- The account of a person in an organization, created if missing, locked for the rest of the
-- transaction (its writers take turns), its expired lots closed first (an `expiry` entry each).
CREATE FUNCTION booking_internal.lock_credit_account(p_organization_id uuid, p_user_id text)
RETURNS booking.credit_accounts
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_account booking.credit_accounts;
  v_lot     booking.credit_lots;
BEGIN
  INSERT INTO booking.credit_accounts (organization_id, user_id) VALUES (p_organization_id, p_user_id)
  ON CONFLICT (organization_id, user_id) DO NOTHING;
  SELECT * INTO v_account FROM booking.credit_accounts
  WHERE organization_id = p_organization_id AND user_id = p_user_id
  FOR UPDATE;
  FOR v_lot IN SELECT * FROM booking.credit_lots
               WHERE account_id = v_account.id AND remaining > 0 AND expires_at <= now()
               ORDER BY expires_at, created_at LOOP
    v_account := booking_internal.post_credit(v_account, 'expiry', -v_lot.remaining, NULL, v_lot.id, NULL, NULL,
                                              NULL, NULL, 'the lot expired', '{}'::jsonb);
  END LOOP;
  RETURN v_account;
END $$;

-- Post one entry to a locked account: the ledger row, the balance and lifetime counters, and
-- the lots (a purchase or positive adjustment makes one; a debit spends the soonest-expiring
-- unexpired lots first and records which in its metadata; a refund gives back to the debit's
-- lots; an expiry empties its lot). Returns the account as it now is.
CREATE FUNCTION booking_internal.post_credit(p_account booking.credit_accounts, p_type text, p_amount integer,
                                             p_booking_id uuid, p_lot_id uuid, p_refund_of uuid,
                                             p_expires_at timestamptz, p_payment_method text,
                                             p_payment_reference text, p_reason text, p_metadata jsonb)
RETURNS booking.credit_accounts
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_id       uuid := gen_random_uuid();
  v_metadata jsonb := coalesce(p_metadata, '{}'::jsonb);
  v_left     integer;
  v_take     integer;
  v_lot      booking.credit_lots;
  v_lots     jsonb := '[]'::jsonb;
  v_back     record;
BEGIN
  IF p_type = 'appointment_debit' THEN
    IF p_account.balance < -p_amount THEN
      RAISE EXCEPTION 'Not enough credit: % needed, % available.', -p_amount, p_account.balance
        USING ERRCODE = 'PT409', DETAIL = 'insufficient_credit', HINT = 'Buy credits, or book without them.';
    END IF;
    v_left := -p_amount;
    FOR v_lot IN SELECT * FROM booking.credit_lots
                 WHERE account_id = p_account.id AND organization_id = p_account.organization_id AND remaining > 0
                   AND (expires_at IS NULL OR expires_at > now())
                 ORDER BY expires_at NULLS LAST, created_at LOOP
      EXIT WHEN v_left = 0;
      v_take := least(v_left, v_lot.remaining);
      UPDATE booking.credit_lots SET remaining = remaining - v_take WHERE id = v_lot.id;
      v_lots := v_lots || jsonb_build_object('lot', v_lot.id, 'amount', v_take);
      v_left := v_left - v_take;
    END LOOP;
    IF v_left > 0 THEN
      -- (the balance counts only unexpired lots once the account is locked: not reached)
      RAISE EXCEPTION 'credit lots do not cover the balance of account %', p_account.id USING ERRCODE = 'internal_error';
    END IF;
    v_metadata := v_metadata || jsonb_build_object('lots', v_lots);
  ELSIF p_type = 'cancellation_refund' THEN
    -- back to the lots the debit came from
    FOR v_back IN SELECT (x ->> 'lot')::uuid AS lot, (x ->> 'amount')::integer AS amount
                  FROM booking.credit_transactions d, jsonb_array_elements(d.metadata -> 'lots') x
                  WHERE d.id = p_refund_of LOOP
      UPDATE booking.credit_lots SET remaining = remaining + v_back.amount WHERE id = v_back.lot;
    END LOOP;
  ELSIF p_type = 'expiry' THEN
    UPDATE booking.credit_lots SET remaining = remaining + p_amount WHERE id = p_lot_id;
  ELSIF p_amount > 0 THEN  -- purchase, positive adjustment: a new lot
    INSERT INTO booking.credit_lots (id, organization_id, account_id, amount, remaining, expires_at)
    VALUES (v_id, p_account.organization_id, p_account.id, p_amount, p_amount, p_expires_at);
  ELSE
    RAISE EXCEPTION 'a negative adjustment is not supported' USING ERRCODE = 'invalid_parameter_value';
  END IF;

  INSERT INTO booking.credit_transactions (id, organization_id, account_id, user_id, transaction_type, amount, booking_id,
                                           lot_id, refund_of, expires_at, payment_method, payment_reference, reason,
                                           metadata, created_by)
  VALUES (v_id, p_account.organization_id, p_account.id, p_account.user_id, p_type, p_amount, p_booking_id,
          p_lot_id, p_refund_of, p_expires_at, p_payment_method, p_payment_reference, p_reason, v_metadata,
          booking_internal.actor_id());
  UPDATE booking.credit_accounts
  SET balance = balance + p_amount,
      lifetime_purchased = lifetime_purchased + CASE WHEN p_type = 'purchase' THEN p_amount ELSE 0 END,
      lifetime_used = lifetime_used + CASE p_type WHEN 'appointment_debit' THEN -p_amount
                                                  WHEN 'cancellation_refund' THEN -p_amount ELSE 0 END
  WHERE id = p_account.id
  RETURNING * INTO p_account;
  -- a refund to a lot that expired meanwhile: it expires at once
  IF p_type = 'cancellation_refund' THEN
    p_account := booking_internal.lock_credit_account(p_account.organization_id, p_account.user_id);
  END IF;
  RETURN p_account;
END $$;

-- ---------------------------------------------------------------------------------------------
-- Bookings paid with credit
-- ---------------------------------------------------------------------------------------------

-- A booking made with uses_credit pays one credit per seat when it is written: the booker's
-- account in the booking's organization, in the same transaction (PT409 insufficient_credit,
-- and the booking is not written, when it cannot pay).
CREATE FUNCTION booking_internal.bookings_debit_credit() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_account booking.credit_accounts;
BEGIN
  IF booking_internal.is_bulk_load() THEN
    RETURN NULL;
  END IF;
  v_account := booking_internal.lock_credit_account(NEW.organization_id, NEW.booked_by);
  PERFORM booking_internal.post_credit(v_account, 'appointment_debit', -NEW.seats, NEW.id, NULL, NULL, NULL,
                                       NULL, NULL, NULL, '{}'::jsonb);
  RETURN NULL;
END $$;

-- Paid bookings keep what they were paid for: uses_credit and the seats never change.
-- (The trigger's WHEN clause says when: most updates never enter the function.)
CREATE FUNCTION booking_internal.bookings_credit_fixed() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  RAISE EXCEPTION 'whether a booking is paid with credit, and the seats it paid for, cannot change'
    USING ERRCODE = 'insufficient_privilege', HINT = 'Cancel it (the credit is refunded per the policy) and book again.';
END $$;

-- A cancelled or rejected booking paid with credit: its debit refunded once, per the policy; a
-- paid booking deleted (staff) is refunded as a rejected one is.
CREATE FUNCTION booking_internal.bookings_refund_credit() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_booking booking.bookings := CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END;
  v_debit   booking.credit_transactions;
  v_policy  booking.credit_policies;
  v_account booking.credit_accounts;
BEGIN
  IF booking_internal.is_bulk_load() THEN
    RETURN NULL;
  END IF;
  SELECT * INTO v_debit FROM booking.credit_transactions
  WHERE booking_id = v_booking.id AND transaction_type = 'appointment_debit';
  IF NOT FOUND THEN
    RETURN NULL;
  END IF;
  IF TG_OP = 'DELETE' AND NOT EXISTS (SELECT 1 FROM booking.organizations WHERE id = v_booking.organization_id) THEN
    RETURN NULL;  -- the organization is being deleted, and its accounts with it
  END IF;
  SELECT * INTO v_policy FROM booking.credit_policies WHERE organization_id = v_booking.organization_id;
  IF TG_OP = 'UPDATE' AND v_booking.status = 'cancelled'
     AND now() > v_booking.starts_at - make_interval(mins => coalesce(v_policy.refund_deadline_minutes, 1440))
     AND coalesce(v_policy.late_cancellation, 'forfeit') = 'forfeit' THEN
    RETURN NULL;  -- a late cancellation: the credit is the organization's
  END IF;
  v_account := booking_internal.lock_credit_account(v_debit.organization_id, v_debit.user_id);
  IF NOT EXISTS (SELECT 1 FROM booking.credit_transactions WHERE refund_of = v_debit.id) THEN
    PERFORM booking_internal.post_credit(v_account, 'cancellation_refund', -v_debit.amount, v_booking.id, NULL, v_debit.id,
                                         NULL, NULL, NULL,
                                         CASE WHEN TG_OP = 'DELETE' THEN 'the booking was deleted'
                                              ELSE 'the booking was ' || v_booking.status END, '{}'::jsonb);
  END IF;
  RETURN NULL;
END $$;

CREATE TRIGGER bookings_4_credit_fixed BEFORE UPDATE OF uses_credit, seats ON booking.bookings
  FOR EACH ROW WHEN (NEW.uses_credit IS DISTINCT FROM OLD.uses_credit OR (OLD.uses_credit AND NEW.seats IS DISTINCT FROM OLD.seats))
  EXECUTE FUNCTION booking_internal.bookings_credit_fixed();
CREATE TRIGGER bookings_8_credit_debit AFTER INSERT ON booking.bookings
  FOR EACH ROW WHEN (NEW.uses_credit) EXECUTE FUNCTION booking_internal.bookings_debit_credit();
CREATE TRIGGER bookings_8_credit_refund AFTER UPDATE OF status ON booking.bookings
  FOR EACH ROW WHEN (NEW.uses_credit AND NEW.status IN ('cancelled', 'rejected')
                     AND OLD.status NOT IN ('cancelled', 'rejected'))
  EXECUTE FUNCTION booking_internal.bookings_refund_credit();
CREATE TRIGGER bookings_8_credit_refund_deleted AFTER DELETE ON booking.bookings
  FOR EACH ROW WHEN (OLD.uses_credit) EXECUTE FUNCTION booking_internal.bookings_refund_credit();

-- ---------------------------------------------------------------------------------------------
-- Row-level security: a person reads their own account, lots and ledger; staff read their
-- organization's; owners and admins set the organization's policy, members read it. Nobody
-- but this module's functions writes the account, lot and ledger tables.
-- ---------------------------------------------------------------------------------------------

CREATE POLICY credit_policies_select ON booking.credit_policies FOR SELECT
  USING (organization_id = ANY ((SELECT booking.user_organization_ids())::uuid[]));
CREATE POLICY credit_policies_insert ON booking.credit_policies FOR INSERT
  WITH CHECK (organization_id = ANY ((SELECT booking.user_organization_ids('{owner,admin}'))::uuid[]));
CREATE POLICY credit_policies_update ON booking.credit_policies FOR UPDATE
  USING (organization_id = ANY ((SELECT booking.user_organization_ids('{owner,admin}'))::uuid[]))
  WITH CHECK (organization_id = ANY ((SELECT booking.user_organization_ids('{owner,admin}'))::uuid[]));
CREATE POLICY credit_policies_delete ON booking.credit_policies FOR DELETE
  USING (organization_id = ANY ((SELECT booking.user_organization_ids('{owner,admin}'))::uuid[]));
CREATE POLICY credit_accounts_select ON booking.credit_accounts FOR SELECT
  USING (user_id = (SELECT booking.current_user_id())
         OR organization_id = ANY ((SELECT booking.user_organization_ids('{owner,admin,staff}'))::uuid[]));
CREATE POLICY credit_transactions_select ON booking.credit_transactions FOR SELECT
  USING (user_id = (SELECT booking.current_user_id())
         OR organization_id = ANY ((SELECT booking.user_organization_ids('{owner,admin,staff}'))::uuid[]));
CREATE POLICY credit_lots_select ON booking.credit_lots FOR SELECT
  USING (organization_id = ANY ((SELECT booking.user_organization_ids('{owner,admin,staff}'))::uuid[])
         OR account_id IN (SELECT a.id FROM booking.credit_accounts a WHERE a.user_id = (SELECT booking.current_user_id())));

-- ---------------------------------------------------------------------------------------------
-- RPCs
-- ---------------------------------------------------------------------------------------------

-- The organization a staff caller means: the one given (where they have staff rights), else
-- their only one (22023 when they have several and name none; 42501 without staff rights).
CREATE FUNCTION booking_internal.credit_organization(p_organization_id uuid) RETURNS uuid
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_orgs uuid[];
BEGIN
  IF p_organization_id IS NOT NULL THEN
    IF NOT booking_internal.has_staff_rights(p_organization_id) THEN
      RAISE EXCEPTION 'you may not manage credits in organization %', p_organization_id USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN p_organization_id;
  END IF;
  IF booking_internal.is_privileged() THEN
    RAISE EXCEPTION 'p_organization_id must be given' USING ERRCODE = 'invalid_parameter_value';
  END IF;
  v_orgs := booking.user_organization_ids('{owner,admin,staff}');
  IF cardinality(v_orgs) = 1 THEN
    RETURN v_orgs[1];
  ELSIF cardinality(v_orgs) = 0 THEN
    RAISE EXCEPTION 'managing credits needs staff rights' USING ERRCODE = 'insufficient_privilege';
  END IF;
  RAISE EXCEPTION 'p_organization_id must be given: you are staff of several organizations'
    USING ERRCODE = 'invalid_parameter_value';
END $$;

-- Credits bought by a person (staff, or service_role for a payment provider's webhook):
-- idempotent on the payment reference within the organization (the same purchase again returns
-- the first entry; another with a used reference is PT409 payment_reference_used).
CREATE FUNCTION booking.purchase_credits(p_user_id text, p_amount integer, p_payment_reference text,
                                         p_expires_at timestamptz DEFAULT NULL, p_organization_id uuid DEFAULT NULL,
                                         p_payment_method text DEFAULT NULL)
RETURNS booking.credit_transactions
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_org     uuid;
  v_account booking.credit_accounts;
  v_row     booking.credit_transactions;
BEGIN
  PERFORM booking_internal.check_text_argument('p_user_id', p_user_id, 200),
          booking_internal.check_text_argument('p_payment_reference', p_payment_reference, 200);
  IF p_payment_method IS NOT NULL THEN
    PERFORM booking_internal.check_text_argument('p_payment_method', p_payment_method, 100);
  END IF;
  IF p_amount IS NULL OR p_amount NOT BETWEEN 1 AND 100000 THEN
    RAISE EXCEPTION 'p_amount must be 1 to 100000' USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF p_expires_at IS NOT NULL AND NOT isfinite(p_expires_at) THEN
    RAISE EXCEPTION 'p_expires_at must be a finite time' USING ERRCODE = 'invalid_parameter_value';
  END IF;
  v_org := booking_internal.credit_organization(p_organization_id);
  v_account := booking_internal.lock_credit_account(v_org, p_user_id);
  -- a replay returns the first entry (even once its lot has expired)
  SELECT * INTO v_row FROM booking.credit_transactions
  WHERE organization_id = v_org AND payment_reference = p_payment_reference AND transaction_type = 'purchase';
  IF FOUND THEN
    IF (v_row.user_id, v_row.amount, v_row.expires_at) IS DISTINCT FROM (p_user_id, p_amount, p_expires_at) THEN
      RAISE EXCEPTION 'payment reference % was used for another purchase', p_payment_reference
        USING ERRCODE = 'PT409', DETAIL = 'payment_reference_used';
    END IF;
    RETURN v_row;
  END IF;
  IF p_expires_at <= now() THEN
    RAISE EXCEPTION 'p_expires_at must be to come' USING ERRCODE = 'invalid_parameter_value';
  END IF;
  BEGIN
    PERFORM booking_internal.post_credit(v_account, 'purchase', p_amount, NULL, NULL, NULL, p_expires_at,
                                         p_payment_method, p_payment_reference, NULL, '{}'::jsonb);
  EXCEPTION WHEN unique_violation THEN
    -- another person's purchase with the same reference, committed meanwhile
    RAISE EXCEPTION 'payment reference % was used for another purchase', p_payment_reference
      USING ERRCODE = 'PT409', DETAIL = 'payment_reference_used';
  END;
  SELECT * INTO v_row FROM booking.credit_transactions
  WHERE organization_id = v_org AND payment_reference = p_payment_reference AND transaction_type = 'purchase';
  RETURN v_row;
END $$;

-- A person's credit, per organization: their own (p_user_id NULL), or anyone's in the
-- organizations where the caller has staff rights. `available` leaves out lots that expired
-- but are not yet closed (what can be spent now); `balance` is the ledger's sum.
CREATE FUNCTION booking.get_credit_balance(p_user_id text DEFAULT NULL)
RETURNS TABLE (organization_id uuid, user_id text, balance integer, available integer, lifetime_purchased integer,
               lifetime_used integer, next_expiry_at timestamptz, next_expiry_amount integer)
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_user text := coalesce(p_user_id, booking.current_user_id());
BEGIN
  IF v_user IS NULL THEN
    RAISE EXCEPTION 'get_credit_balance needs a signed-in user or p_user_id' USING ERRCODE = 'insufficient_privilege';
  END IF;
  PERFORM booking_internal.check_text_argument('p_user_id', v_user, 200);
  RETURN QUERY
    SELECT a.organization_id, a.user_id, a.balance,
           a.balance - coalesce((SELECT sum(l.remaining)::integer FROM booking.credit_lots l
                                 WHERE l.account_id = a.id AND l.remaining > 0 AND l.expires_at <= now()), 0),
           a.lifetime_purchased, a.lifetime_used, n.expires_at, n.remaining
    FROM booking.credit_accounts a
    LEFT JOIN LATERAL (SELECT l.expires_at, l.remaining FROM booking.credit_lots l
                       WHERE l.account_id = a.id AND l.remaining > 0 AND l.expires_at > now()
                       ORDER BY l.expires_at LIMIT 1) n ON true
    WHERE a.user_id = v_user
      AND (v_user = booking.current_user_id() OR booking_internal.has_staff_rights(a.organization_id))
    ORDER BY a.organization_id;
END $$;

-- A page of a person's ledger, newest first (own, or anyone's for staff; 22023 for a page
-- beyond the limits: p_limit 1 to 500, p_offset 0 to 100000).
CREATE FUNCTION booking.get_credit_statement(p_user_id text DEFAULT NULL, p_limit integer DEFAULT 50,
                                             p_offset integer DEFAULT 0)
RETURNS SETOF booking.credit_transactions
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_user text := coalesce(p_user_id, booking.current_user_id());
BEGIN
  IF v_user IS NULL THEN
    RAISE EXCEPTION 'get_credit_statement needs a signed-in user or p_user_id' USING ERRCODE = 'insufficient_privilege';
  END IF;
  PERFORM booking_internal.check_text_argument('p_user_id', v_user, 200);
  IF p_limit IS NULL OR p_limit NOT BETWEEN 1 AND 500 OR p_offset IS NULL OR p_offset NOT BETWEEN 0 AND 100000 THEN
    RAISE EXCEPTION 'p_limit must be 1 to 500 and p_offset 0 to 100000' USING ERRCODE = 'invalid_parameter_value';
  END IF;
  RETURN QUERY
    SELECT t.* FROM booking.credit_transactions t
    WHERE t.user_id = v_user
      AND (v_user = booking.current_user_id() OR booking_internal.has_staff_rights(t.organization_id))
    ORDER BY t.created_at DESC, t.id
    LIMIT p_limit OFFSET p_offset;
END $$;

-- Close every expired lot (for pg_cron or a worker, service_role): an `expiry` entry each;
-- returns how many. The accounts are locked one at a time.
CREATE FUNCTION booking.expire_credits() RETURNS integer
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_account record;
  v_started timestamptz := clock_timestamp();
BEGIN
  PERFORM booking_internal.require_privileged('expire_credits');
  FOR v_account IN SELECT DISTINCT a.organization_id, a.user_id, a.id
                   FROM booking.credit_lots l JOIN booking.credit_accounts a ON a.id = l.account_id
                   WHERE l.remaining > 0 AND l.expires_at <= now()
                   ORDER BY a.id LOOP
    PERFORM booking_internal.lock_credit_account(v_account.organization_id, v_account.user_id);
  END LOOP;
  -- what this call closed (a lot a concurrent writer closed first is theirs)
  RETURN (SELECT count(*) FROM booking.credit_transactions
          WHERE transaction_type = 'expiry' AND created_at >= v_started
            AND booking_internal.written_by_this_transaction(xmin));
END $$;

-- Who may call the credits RPCs and read the tables: the ledger's tables are written by this
-- module's functions only, whoever asks (service_role included).
CREATE FUNCTION booking_internal.grant_credits_privileges(p_role text) RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  IF p_role = 'anon' THEN
    RETURN;
  END IF;
  PERFORM booking_internal.grant_execute(p_role, ARRAY['purchase_credits', 'get_credit_balance', 'get_credit_statement']);
  IF p_role = 'authenticated' THEN
    GRANT INSERT, UPDATE, DELETE ON booking.credit_policies TO authenticated;
  END IF;
  IF p_role = 'service_role' THEN
    PERFORM booking_internal.grant_execute(p_role, ARRAY['expire_credits']);
    REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON booking.credit_accounts, booking.credit_transactions, booking.credit_lots
      FROM service_role;
  END IF;
END $$;

COMMENT ON TABLE booking.credit_policies IS 'An organization''s refund policy for bookings paid with credit: the refund deadline before the start, and what a later cancellation gets (forfeit or refund).';
COMMENT ON TABLE booking.credit_accounts IS 'A person''s prepaid credit in an organization: the balance (never negative, the sum of the ledger), lifetime purchased and used. Written by the credits functions only.';
COMMENT ON TABLE booking.credit_transactions IS 'The append-only credit ledger: purchases, appointment debits, cancellation refunds, adjustments and expiries, in integer credits.';
COMMENT ON TABLE booking.credit_lots IS 'What is left of each purchase and when it expires; spent soonest-expiring first, never once expired.';
COMMENT ON FUNCTION booking_internal.lock_credit_account(uuid, text) IS 'Internal: a person''s account in an organization, created if missing, locked, its expired lots closed.';
COMMENT ON FUNCTION booking_internal.post_credit(booking.credit_accounts, text, integer, uuid, uuid, uuid, timestamptz, text, text, text, jsonb) IS 'Internal: the one writer of the ledger: an entry, the balance and counters, and the lots, on a locked account.';
COMMENT ON FUNCTION booking_internal.bookings_debit_credit() IS 'Trigger: a booking made with uses_credit pays one credit per seat (PT409 insufficient_credit otherwise).';
COMMENT ON FUNCTION booking_internal.bookings_credit_fixed() IS 'Trigger: a booking''s uses_credit, and a paid booking''s seats, never change.';
COMMENT ON FUNCTION booking_internal.bookings_refund_credit() IS 'Trigger: a cancelled or rejected booking paid with credit is refunded once, per the organization''s policy; a deleted one always.';
COMMENT ON FUNCTION booking_internal.credit_organization(uuid) IS 'Internal: the organization a staff caller manages credits in (the one given, else their only one).';
COMMENT ON FUNCTION booking.purchase_credits(text, integer, text, timestamptz, uuid, text) IS 'Staff or service_role: credits bought by a person (a lot, expiring or not); idempotent on the payment reference; PT409 payment_reference_used for a reused one.';
COMMENT ON FUNCTION booking.get_credit_balance(text) IS 'A person''s credit per organization (own, or anyone''s for staff): balance, available now, lifetime purchased and used, the next expiry.';
COMMENT ON FUNCTION booking.get_credit_statement(text, integer, integer) IS 'A page of a person''s credit ledger, newest first (own, or anyone''s for staff).';
COMMENT ON FUNCTION booking.expire_credits() IS 'service_role: closes every expired lot with an expiry entry; returns how many.';
COMMENT ON FUNCTION booking_internal.grant_credits_privileges(text) IS 'Internal: the credits module''s grants to an API role (called by grant_api_privileges).';
-- END COPY src/credits/credits.sql
-- =============================================================================================
-- New module: engagement (src/engagement/engagement.sql, as of 0.2.0).
-- =============================================================================================

-- BEGIN COPY src/engagement/engagement.sql
-- booking_ext, module engagement: what the salon app of seed 004 needs around its bookings.
-- Messaging: one thread per pair of people, ever (a unique key on the pair, so two first
-- messages at once cannot make two), between people who share an organization or a client and
-- the staff of an organization they booked with; unread counts and deletion per participant;
-- each message notifies the recipient (notification and outbox) in the same transaction.
-- Favourites of organizations, resources and services. Reviews: only the booker of a completed
-- booking reviews it, once; the organization's figures count published reviews only (the
-- rating_summary aggregate). And the seed's views, adapted to booking_ext's names, all
-- security_invoker so that row-level security decides what each caller sees.

-- ---------------------------------------------------------------------------------------------
-- Messaging
-- ---------------------------------------------------------------------------------------------

CREATE TABLE booking.message_threads (
  id                     uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  -- the organization through which the two may talk (a shared one, or the one booked with)
  organization_id        uuid NOT NULL REFERENCES booking.organizations (id) ON DELETE CASCADE,
  created_by_id          text NOT NULL CONSTRAINT message_threads_created_by_id_size CHECK (length(created_by_id) BETWEEN 1 AND 200),
  recipient_id           text NOT NULL CONSTRAINT message_threads_recipient_id_size CHECK (length(recipient_id) BETWEEN 1 AND 200),
  -- the pair, in order: the key that makes one thread per pair
  participant_low        text GENERATED ALWAYS AS (least(created_by_id, recipient_id)) STORED,
  participant_high       text GENERATED ALWAYS AS (greatest(created_by_id, recipient_id)) STORED,
  subject                text CONSTRAINT message_threads_subject_size CHECK (length(subject) <= 500),
  description            text CONSTRAINT message_threads_description_size CHECK (length(description) <= 4000),
  -- the appointment it is about (seed: appointment_id)
  booking_id             uuid,
  last_message_at        timestamptz,
  -- per participant: unread messages, last read, deleted (hidden until a newer message)
  creator_unread_count   integer NOT NULL DEFAULT 0 CHECK (creator_unread_count >= 0),
  recipient_unread_count integer NOT NULL DEFAULT 0 CHECK (recipient_unread_count >= 0),
  creator_last_read_at   timestamptz,
  recipient_last_read_at timestamptz,
  creator_deleted_at     timestamptz,
  recipient_deleted_at   timestamptz,
  metadata               jsonb NOT NULL DEFAULT '{}'::jsonb
                         CONSTRAINT message_threads_metadata_object CHECK (jsonb_typeof(metadata) = 'object')
                         CONSTRAINT message_threads_metadata_size CHECK (octet_length(metadata::text) <= 16384),
  created_at             timestamptz NOT NULL DEFAULT now(),
  updated_at             timestamptz NOT NULL DEFAULT now(),
  UNIQUE (id, organization_id),
  CONSTRAINT message_threads_two_people CHECK (created_by_id <> recipient_id),
  CONSTRAINT message_threads_one_per_pair UNIQUE (participant_low, participant_high),
  CONSTRAINT message_threads_booking_same_organization FOREIGN KEY (booking_id, organization_id)
    REFERENCES booking.bookings (id, organization_id) ON DELETE SET NULL (booking_id)
);
CREATE INDEX message_threads_created_by_idx ON booking.message_threads (created_by_id, last_message_at DESC);
CREATE INDEX message_threads_recipient_idx ON booking.message_threads (recipient_id, last_message_at DESC);
CREATE INDEX message_threads_organization_id_idx ON booking.message_threads (organization_id);
CREATE INDEX message_threads_booking_idx ON booking.message_threads (booking_id, organization_id) WHERE booking_id IS NOT NULL;
-- Not audited: private conversations are not the organization's record.
SELECT booking_internal.register_table('message_threads', 'engagement', false);

CREATE TABLE booking.messages (
  id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  thread_id       uuid NOT NULL,
  organization_id uuid NOT NULL,
  sender_id       text NOT NULL CONSTRAINT messages_sender_id_size CHECK (length(sender_id) BETWEEN 1 AND 200),
  body            text NOT NULL CONSTRAINT messages_body_not_blank CHECK (btrim(body, E' \t\r\n\f\x0B') <> '')
                  CONSTRAINT messages_body_size CHECK (length(body) <= 4000),
  created_at      timestamptz NOT NULL DEFAULT clock_timestamp(),
  edited_at       timestamptz,
  CONSTRAINT messages_thread_same_organization FOREIGN KEY (thread_id, organization_id)
    REFERENCES booking.message_threads (id, organization_id) ON DELETE CASCADE
);
CREATE INDEX messages_thread_idx ON booking.messages (thread_id, organization_id, created_at);
CREATE INDEX messages_organization_id_idx ON booking.messages (organization_id);
SELECT booking_internal.register_table('messages', 'engagement', false);

-- Through which organization may these two people talk, if at all? About a booking: both are
-- party to it (its booker, the organization's owners, admins and staff, the resource's
-- professional). Otherwise: an organization both are active members of, else one where one is
-- staff and the other has booked. NULL: strangers. The first such organization by id, so the
-- answer does not depend on the order rows come in.
CREATE FUNCTION booking_internal.thread_organization(p_me text, p_other text, p_booking_id uuid) RETURNS uuid
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_booking booking.bookings;
BEGIN
  IF p_booking_id IS NOT NULL THEN
    SELECT * INTO v_booking FROM booking.bookings WHERE id = p_booking_id;
    IF NOT FOUND THEN
      RETURN NULL;
    END IF;
    IF (SELECT count(*) FROM unnest(ARRAY[p_me, p_other]) AS u(user_id)
        WHERE u.user_id = v_booking.booked_by
           OR EXISTS (SELECT 1 FROM booking.members m
                      WHERE m.organization_id = v_booking.organization_id AND m.user_id = u.user_id AND m.is_active
                        AND m.role IN ('owner', 'admin', 'staff'))
           OR EXISTS (SELECT 1 FROM booking.professionals p
                      WHERE p.resource_id = v_booking.resource_id AND p.user_id = u.user_id AND p.active)) = 2 THEN
      RETURN v_booking.organization_id;
    END IF;
    RETURN NULL;
  END IF;
  RETURN coalesce(
    (SELECT min(a.organization_id::text)::uuid FROM booking.members a
     JOIN booking.members b ON b.organization_id = a.organization_id AND b.user_id = p_other AND b.is_active
     WHERE a.user_id = p_me AND a.is_active),
    (SELECT min(s.organization_id::text)::uuid FROM booking.members s
     WHERE s.user_id IN (p_me, p_other) AND s.is_active AND s.role IN ('owner', 'admin', 'staff')
       AND EXISTS (SELECT 1 FROM booking.bookings bk
                   WHERE bk.organization_id = s.organization_id
                     AND bk.booked_by = CASE s.user_id WHEN p_me THEN p_other ELSE p_me END)));
END $$;

-- The one writer of messages: a message in a thread the caller is in (locked by the caller),
-- the other participant's unread count, the recipient's notification and the outbox event.
CREATE FUNCTION booking_internal.post_message(p_thread booking.message_threads, p_body text) RETURNS booking.messages
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_me        text := booking.current_user_id();
  v_recipient text := CASE WHEN p_thread.created_by_id = v_me THEN p_thread.recipient_id ELSE p_thread.created_by_id END;
  v_message   booking.messages;
  v_name      text;
BEGIN
  INSERT INTO booking.messages (thread_id, organization_id, sender_id, body)
  VALUES (p_thread.id, p_thread.organization_id, v_me, p_body)
  RETURNING * INTO v_message;
  UPDATE booking.message_threads
  SET last_message_at = v_message.created_at,
      creator_unread_count = creator_unread_count + (created_by_id = v_recipient)::integer,
      recipient_unread_count = recipient_unread_count + (recipient_id = v_recipient)::integer
  WHERE id = p_thread.id;
  SELECT nullif(btrim(p.display_name), '') INTO v_name FROM booking.profiles p WHERE p.user_id = v_me;
  INSERT INTO booking.notifications (organization_id, recipient_id, notification_type, message, metadata)
  VALUES (p_thread.organization_id, v_recipient, 'message',
          booking_internal.render_notification(p_thread.organization_id, 'message',
            jsonb_build_object('sender_name', coalesce(v_name, 'someone'),
                               'preview', CASE WHEN length(p_body) > 80 THEN left(p_body, 79) || '…' ELSE p_body END,
                               'thread_id', p_thread.id, 'message_id', v_message.id, 'sender_id', v_me)),
          jsonb_build_object('thread_id', p_thread.id, 'message_id', v_message.id, 'sender_id', v_me));
  INSERT INTO booking.outbox (organization_id, topic, payload)
  VALUES (p_thread.organization_id, 'message.sent',
          jsonb_build_object('thread_id', p_thread.id, 'message_id', v_message.id,
                             'sender_id', v_me, 'recipient_id', v_recipient));
  RETURN v_message;
END $$;

-- The pair's thread, created if it does not exist (one per pair: a concurrent creator's
-- thread is found, not duplicated), with a first message when p_body is given. Who may: people
-- who share an organization, or a client and the staff of an organization they booked with
-- (p_booking_id: the two must be party to that booking). Errors: 42501 anonymous; 22023 for
-- an empty recipient, oneself, a subject over 500 or a body over 4000 characters, or a booking
-- the caller cannot see; PT409 (DETAIL not_connected) for a stranger.
CREATE FUNCTION booking.start_thread(p_recipient_id text, p_subject text DEFAULT NULL, p_body text DEFAULT NULL,
                                     p_booking_id uuid DEFAULT NULL)
RETURNS booking.message_threads
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_me     text := booking.current_user_id();
  v_org    uuid;
  v_thread booking.message_threads;
BEGIN
  IF v_me IS NULL THEN
    RAISE EXCEPTION 'start_thread() needs a signed-in user' USING ERRCODE = 'insufficient_privilege';
  END IF;
  PERFORM booking_internal.check_text_argument('p_recipient_id', p_recipient_id, 200);
  IF p_recipient_id = v_me THEN
    RAISE EXCEPTION 'a thread is between two people; p_recipient_id is the caller' USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF length(p_subject) > 500 THEN
    RAISE EXCEPTION 'p_subject is longer than 500 characters' USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF p_body IS NOT NULL THEN
    PERFORM booking_internal.check_text_argument('p_body', p_body, 4000);
  END IF;
  IF p_booking_id IS NOT NULL
     AND NOT EXISTS (SELECT 1 FROM booking.bookings b
                     WHERE b.id = p_booking_id
                       AND (b.booked_by = v_me OR booking_internal.manages_bookings(b.organization_id, b.resource_id))) THEN
    RAISE EXCEPTION 'unknown booking %', p_booking_id USING ERRCODE = 'invalid_parameter_value';
  END IF;
  v_org := booking_internal.thread_organization(v_me, p_recipient_id, p_booking_id);
  IF v_org IS NULL THEN
    RAISE EXCEPTION 'You can message people of your organizations, and the staff of organizations you booked with.'
      USING ERRCODE = 'PT409', DETAIL = 'not_connected';
  END IF;
  INSERT INTO booking.message_threads (organization_id, created_by_id, recipient_id, subject, booking_id)
  VALUES (v_org, v_me, p_recipient_id, p_subject, p_booking_id)
  ON CONFLICT ON CONSTRAINT message_threads_one_per_pair DO NOTHING;
  SELECT * INTO v_thread FROM booking.message_threads
  WHERE participant_low = least(v_me, p_recipient_id) AND participant_high = greatest(v_me, p_recipient_id)
  FOR UPDATE;
  IF p_body IS NOT NULL THEN
    PERFORM booking_internal.post_message(v_thread, p_body);
    SELECT * INTO v_thread FROM booking.message_threads WHERE id = v_thread.id;
  END IF;
  RETURN v_thread;
END $$;

-- A thread the caller takes part in, locked (NULL when they do not: nothing is read or locked
-- of anyone else's thread).
CREATE FUNCTION booking_internal.lock_my_thread(p_thread_id uuid) RETURNS booking.message_threads
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_thread booking.message_threads;
BEGIN
  SELECT * INTO v_thread FROM booking.message_threads
  WHERE id = p_thread_id AND booking.current_user_id() IN (created_by_id, recipient_id)
  FOR UPDATE;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'unknown thread %', p_thread_id USING ERRCODE = 'invalid_parameter_value';
  END IF;
  RETURN v_thread;
END $$;

-- Send a message in a thread the caller takes part in. 22023 for an unknown thread (or one
-- the caller is not in) and an empty body or one over 4000 characters; 42501 anonymous.
CREATE FUNCTION booking.send_message(p_thread_id uuid, p_body text) RETURNS booking.messages
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  IF booking.current_user_id() IS NULL THEN
    RAISE EXCEPTION 'send_message() needs a signed-in user' USING ERRCODE = 'insufficient_privilege';
  END IF;
  PERFORM booking_internal.check_text_argument('p_body', p_body, 4000);
  RETURN booking_internal.post_message(booking_internal.lock_my_thread(p_thread_id), p_body);
END $$;

-- The caller has read the thread: their unread count drops to zero. Returns the thread.
CREATE FUNCTION booking.mark_thread_read(p_thread_id uuid) RETURNS booking.message_threads
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_me     text := booking.current_user_id();
  v_thread booking.message_threads;
BEGIN
  IF v_me IS NULL THEN
    RAISE EXCEPTION 'mark_thread_read() needs a signed-in user' USING ERRCODE = 'insufficient_privilege';
  END IF;
  v_thread := booking_internal.lock_my_thread(p_thread_id);
  UPDATE booking.message_threads
  SET creator_unread_count = CASE WHEN created_by_id = v_me THEN 0 ELSE creator_unread_count END,
      creator_last_read_at = CASE WHEN created_by_id = v_me THEN clock_timestamp() ELSE creator_last_read_at END,
      recipient_unread_count = CASE WHEN recipient_id = v_me THEN 0 ELSE recipient_unread_count END,
      recipient_last_read_at = CASE WHEN recipient_id = v_me THEN clock_timestamp() ELSE recipient_last_read_at END
  WHERE id = v_thread.id
  RETURNING * INTO v_thread;
  UPDATE booking.notifications SET read_at = now()
  WHERE recipient_id = v_me AND notification_type = 'message' AND read_at IS NULL
    AND metadata ->> 'thread_id' = v_thread.id::text;
  RETURN v_thread;
END $$;

-- The caller deletes the thread for themselves: it and its messages so far disappear from
-- their view (the other participant keeps theirs); a newer message brings the thread back.
CREATE FUNCTION booking.delete_thread(p_thread_id uuid) RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_me     text := booking.current_user_id();
  v_thread booking.message_threads;
BEGIN
  IF v_me IS NULL THEN
    RAISE EXCEPTION 'delete_thread() needs a signed-in user' USING ERRCODE = 'insufficient_privilege';
  END IF;
  v_thread := booking_internal.lock_my_thread(p_thread_id);
  UPDATE booking.message_threads
  SET creator_deleted_at = CASE WHEN created_by_id = v_me THEN clock_timestamp() ELSE creator_deleted_at END,
      creator_unread_count = CASE WHEN created_by_id = v_me THEN 0 ELSE creator_unread_count END,
      recipient_deleted_at = CASE WHEN recipient_id = v_me THEN clock_timestamp() ELSE recipient_deleted_at END,
      recipient_unread_count = CASE WHEN recipient_id = v_me THEN 0 ELSE recipient_unread_count END
  WHERE id = v_thread.id;
END $$;

-- A page of the caller's threads, the latest conversation first: the other participant (and
-- their display name where the caller may see their card), the caller's unread count, the last
-- message. p_limit 1 to 100, p_offset 0 to 100000 (22023 otherwise).
CREATE FUNCTION booking.get_threads_page(p_limit integer DEFAULT 20, p_offset integer DEFAULT 0)
RETURNS TABLE (thread_id uuid, organization_id uuid, other_user_id text, other_display_name text, subject text,
               booking_id uuid, last_message_at timestamptz, last_message text, last_sender_id text,
               unread_count integer, created_at timestamptz)
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_me text := booking.current_user_id();
BEGIN
  IF v_me IS NULL THEN
    RAISE EXCEPTION 'get_threads_page() needs a signed-in user' USING ERRCODE = 'insufficient_privilege';
  END IF;
  IF p_limit IS NULL OR p_limit < 1 OR p_limit > 100 THEN
    RAISE EXCEPTION 'p_limit must be between 1 and 100, not %', coalesce(p_limit::text, 'NULL')
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF p_offset IS NULL OR p_offset < 0 OR p_offset > 100000 THEN
    RAISE EXCEPTION 'p_offset must be between 0 and 100000, not %', coalesce(p_offset::text, 'NULL')
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  -- Row-level security shows the caller their threads (and hides those they deleted).
  RETURN QUERY
    SELECT t.id, t.organization_id, o.other, c.display_name, t.subject, t.booking_id, t.last_message_at,
           m.body, m.sender_id,
           CASE WHEN t.created_by_id = v_me THEN t.creator_unread_count ELSE t.recipient_unread_count END,
           t.created_at
    FROM booking.message_threads t
    CROSS JOIN LATERAL (SELECT CASE WHEN t.created_by_id = v_me THEN t.recipient_id ELSE t.created_by_id END AS other) o
    LEFT JOIN booking.profile_cards c ON c.user_id = o.other
    LEFT JOIN LATERAL (SELECT mm.body, mm.sender_id FROM booking.messages mm
                       WHERE mm.thread_id = t.id ORDER BY mm.created_at DESC, mm.id DESC LIMIT 1) m ON true
    ORDER BY t.last_message_at DESC NULLS LAST, t.id
    LIMIT p_limit OFFSET p_offset;
END $$;

-- A sender edits the body of their message (edited_at follows); nothing else of a message
-- changes.
CREATE FUNCTION booking_internal.messages_edit() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  IF booking_internal.is_bulk_load() THEN
    RETURN NEW;
  END IF;
  IF (NEW.id, NEW.thread_id, NEW.organization_id, NEW.sender_id, NEW.created_at)
     IS DISTINCT FROM (OLD.id, OLD.thread_id, OLD.organization_id, OLD.sender_id, OLD.created_at) THEN
    RAISE EXCEPTION 'only a message''s body can be edited' USING ERRCODE = 'insufficient_privilege';
  END IF;
  NEW.edited_at := CASE WHEN NEW.body IS DISTINCT FROM OLD.body THEN clock_timestamp() ELSE OLD.edited_at END;
  RETURN NEW;
END $$;
CREATE TRIGGER messages_1_edit BEFORE UPDATE ON booking.messages
  FOR EACH ROW EXECUTE FUNCTION booking_internal.messages_edit();

-- Participants see their threads (not one they deleted, until a newer message) and the
-- messages in them (not those from before they deleted it); a sender edits their messages.
-- Threads and messages are written by the functions above only.
CREATE POLICY message_threads_select ON booking.message_threads FOR SELECT
  USING ((SELECT booking.current_user_id()) IN (created_by_id, recipient_id)
         AND CASE WHEN created_by_id = (SELECT booking.current_user_id())
                  THEN creator_deleted_at IS NULL OR last_message_at > creator_deleted_at
                  ELSE recipient_deleted_at IS NULL OR last_message_at > recipient_deleted_at END);
CREATE POLICY messages_select ON booking.messages FOR SELECT
  USING (EXISTS (SELECT 1 FROM booking.message_threads t
                 WHERE t.id = messages.thread_id
                   AND messages.created_at > coalesce(CASE WHEN t.created_by_id = (SELECT booking.current_user_id())
                                                            THEN t.creator_deleted_at ELSE t.recipient_deleted_at END,
                                                       '-infinity')));
CREATE POLICY messages_update ON booking.messages FOR UPDATE
  USING (sender_id = (SELECT booking.current_user_id()))
  WITH CHECK (sender_id = (SELECT booking.current_user_id()));

-- ---------------------------------------------------------------------------------------------
-- Favourites
-- ---------------------------------------------------------------------------------------------

CREATE TABLE booking.customer_favorites (
  id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  user_id         text NOT NULL DEFAULT booking.current_user_id()
                  CONSTRAINT customer_favorites_user_id_size CHECK (length(user_id) BETWEEN 1 AND 200),
  organization_id uuid NOT NULL REFERENCES booking.organizations (id) ON DELETE CASCADE,
  -- at most one of them: the organization itself when both are NULL
  resource_id     uuid,
  service_id      uuid,
  notes           text CONSTRAINT customer_favorites_notes_size CHECK (length(notes) <= 1000),
  created_at      timestamptz NOT NULL DEFAULT now(),
  updated_at      timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT customer_favorites_one_target CHECK (num_nonnulls(resource_id, service_id) <= 1),
  CONSTRAINT customer_favorites_once UNIQUE NULLS NOT DISTINCT (user_id, organization_id, resource_id, service_id),
  CONSTRAINT customer_favorites_resource_same_organization FOREIGN KEY (resource_id, organization_id)
    REFERENCES booking.resources (id, organization_id) ON DELETE CASCADE,
  CONSTRAINT customer_favorites_service_same_organization FOREIGN KEY (service_id, organization_id)
    REFERENCES booking.services (id, organization_id) ON DELETE CASCADE
);
CREATE INDEX customer_favorites_organization_id_idx ON booking.customer_favorites (organization_id);
CREATE INDEX customer_favorites_resource_idx ON booking.customer_favorites (resource_id, organization_id) WHERE resource_id IS NOT NULL;
CREATE INDEX customer_favorites_service_idx ON booking.customer_favorites (service_id, organization_id) WHERE service_id IS NOT NULL;
-- Not audited: a person's own list.
SELECT booking_internal.register_table('customer_favorites', 'engagement', false);

-- A person keeps their own favourites, of organizations they may book in (a public one, or
-- one they belong to).
CREATE POLICY customer_favorites_select ON booking.customer_favorites FOR SELECT
  USING (user_id = (SELECT booking.current_user_id()));
CREATE POLICY customer_favorites_insert ON booking.customer_favorites FOR INSERT
  WITH CHECK (user_id = (SELECT booking.current_user_id()) AND booking_internal.may_book_in(organization_id));
CREATE POLICY customer_favorites_update ON booking.customer_favorites FOR UPDATE
  USING (user_id = (SELECT booking.current_user_id()))
  WITH CHECK (user_id = (SELECT booking.current_user_id()) AND booking_internal.may_book_in(organization_id));
CREATE POLICY customer_favorites_delete ON booking.customer_favorites FOR DELETE
  USING (user_id = (SELECT booking.current_user_id()));

-- The seed's customer_favorites_view: each favourite with what it names.
CREATE VIEW booking.customer_favorites_view WITH (security_invoker = true) AS
SELECT f.id, f.user_id, f.organization_id, o.name AS organization_name, o.slug AS organization_slug,
       f.resource_id, r.title AS resource_title, r.kind AS resource_kind,
       f.service_id, s.name AS service_name, s.price_cents AS service_price_cents, s.currency AS service_currency,
       f.notes, f.created_at, f.updated_at
FROM booking.customer_favorites f
LEFT JOIN booking.organizations o ON o.id = f.organization_id
LEFT JOIN booking.resources r ON r.id = f.resource_id
LEFT JOIN booking.services s ON s.id = f.service_id;

-- ---------------------------------------------------------------------------------------------
-- Reviews
-- ---------------------------------------------------------------------------------------------

CREATE TABLE booking.reviews (
  id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  organization_id uuid NOT NULL REFERENCES booking.organizations (id) ON DELETE CASCADE,
  booking_id      uuid NOT NULL,
  -- derived from the booking: what was booked, and by whom (the reviewer)
  resource_id     uuid NOT NULL,
  reviewer_id     text NOT NULL,
  rating          integer NOT NULL CONSTRAINT reviews_rating_range CHECK (rating BETWEEN 1 AND 5),
  content         text CONSTRAINT reviews_content_size CHECK (length(content) <= 4000),
  -- published: shown and counted; hidden: by the organization's staff; removed: by its reviewer
  status          text NOT NULL DEFAULT 'published' CONSTRAINT reviews_status_check CHECK (status IN ('published', 'hidden', 'removed')),
  reply           text CONSTRAINT reviews_reply_size CHECK (length(reply) <= 4000),
  replied_by      text,
  replied_at      timestamptz,
  created_at      timestamptz NOT NULL DEFAULT now(),
  updated_at      timestamptz NOT NULL DEFAULT now(),
  -- (a booking is in one organization: this is one review per booking)
  CONSTRAINT reviews_once_per_booking UNIQUE (booking_id, organization_id),
  CONSTRAINT reviews_booking_same_organization FOREIGN KEY (booking_id, organization_id)
    REFERENCES booking.bookings (id, organization_id) ON DELETE CASCADE
);
CREATE INDEX reviews_organization_idx ON booking.reviews (organization_id, status, created_at DESC);
CREATE INDEX reviews_reviewer_idx ON booking.reviews (reviewer_id);
SELECT booking_internal.register_table('reviews', 'engagement', true, 'review');

-- Who may write what of a review. A review is of a completed booking, by its booker, once
-- (PT409 booking_not_completed; 42501 for someone else's booking), published when written;
-- what it is about and who wrote it come from the booking. Its reviewer edits rating and
-- content and may remove it; the organization's staff hide and show it and reply (replied_by
-- and replied_at follow). Removed is final. Runs as the owner: it reads the booking, after
-- establishing that the caller booked it.
CREATE FUNCTION booking_internal.reviews_guard() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_me      text := booking.current_user_id();
  v_booking booking.bookings;
  v_staff   boolean;
BEGIN
  IF booking_internal.is_bulk_load() THEN
    RETURN NEW;
  END IF;
  v_staff := booking_internal.has_staff_rights(NEW.organization_id);
  IF TG_OP = 'INSERT' THEN
    SELECT * INTO v_booking FROM booking.bookings
    WHERE id = NEW.booking_id AND (booked_by = v_me OR booking_internal.is_privileged());
    IF NOT FOUND THEN
      RAISE EXCEPTION 'new row violates row-level security policy for table "reviews"'
        USING ERRCODE = 'insufficient_privilege', HINT = 'Only the person who booked reviews a booking.';
    END IF;
    IF v_booking.status <> 'completed' THEN
      RAISE EXCEPTION 'Only a completed booking can be reviewed.' USING ERRCODE = 'PT409', DETAIL = 'booking_not_completed';
    END IF;
    NEW.organization_id := v_booking.organization_id;
    NEW.resource_id := v_booking.resource_id;
    NEW.reviewer_id := v_booking.booked_by;
    IF NEW.status <> 'published' OR NEW.reply IS NOT NULL OR NEW.replied_by IS NOT NULL OR NEW.replied_at IS NOT NULL THEN
      RAISE EXCEPTION 'a review is published when written, without a reply' USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN NEW;
  END IF;

  IF (NEW.booking_id, NEW.resource_id, NEW.reviewer_id, NEW.created_at)
     IS DISTINCT FROM (OLD.booking_id, OLD.resource_id, OLD.reviewer_id, OLD.created_at) THEN
    RAISE EXCEPTION 'a review stays the review of its booking and reviewer' USING ERRCODE = 'insufficient_privilege';
  END IF;
  IF OLD.status = 'removed' AND NEW.status <> 'removed' THEN
    RAISE EXCEPTION 'a removed review stays removed' USING ERRCODE = 'check_violation', CONSTRAINT = 'reviews_removed_is_final';
  END IF;
  IF OLD.reviewer_id = v_me AND NOT v_staff THEN
    IF NEW.status IS DISTINCT FROM OLD.status AND NEW.status <> 'removed' THEN
      RAISE EXCEPTION 'a reviewer may remove their review; hiding and showing it is the organization''s'
        USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF (NEW.reply, NEW.replied_by, NEW.replied_at) IS DISTINCT FROM (OLD.reply, OLD.replied_by, OLD.replied_at) THEN
      RAISE EXCEPTION 'the reply is the organization''s' USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN NEW;
  END IF;
  IF NOT v_staff THEN
    RAISE EXCEPTION 'new row violates row-level security policy for table "reviews"' USING ERRCODE = 'insufficient_privilege';
  END IF;
  IF (NEW.rating, NEW.content) IS DISTINCT FROM (OLD.rating, OLD.content) AND OLD.reviewer_id IS DISTINCT FROM v_me THEN
    RAISE EXCEPTION 'a review''s rating and content are its reviewer''s' USING ERRCODE = 'insufficient_privilege';
  END IF;
  IF NEW.status = 'removed' AND OLD.status <> 'removed' AND OLD.reviewer_id IS DISTINCT FROM v_me THEN
    RAISE EXCEPTION 'staff hide a review; removing it is its reviewer''s' USING ERRCODE = 'insufficient_privilege';
  END IF;
  IF NEW.reply IS DISTINCT FROM OLD.reply THEN
    NEW.replied_by := CASE WHEN NEW.reply IS NULL THEN NULL ELSE booking_internal.actor_id() END;
    NEW.replied_at := CASE WHEN NEW.reply IS NULL THEN NULL ELSE now() END;
  ELSIF (NEW.replied_by, NEW.replied_at) IS DISTINCT FROM (OLD.replied_by, OLD.replied_at) THEN
    RAISE EXCEPTION 'replied_by and replied_at follow the reply' USING ERRCODE = 'insufficient_privilege';
  END IF;
  RETURN NEW;
END $$;
CREATE TRIGGER reviews_1_guard BEFORE INSERT OR UPDATE ON booking.reviews
  FOR EACH ROW EXECUTE FUNCTION booking_internal.reviews_guard();

-- Published reviews are seen by whoever sees the organization (a public one's by anyone); the
-- reviewer sees theirs and the organization's staff all of its reviews. The reviewer writes
-- theirs (the guard says what), staff moderate; nobody deletes one through the API.
CREATE POLICY reviews_select ON booking.reviews FOR SELECT
  USING ((status = 'published'
          AND (organization_id = ANY ((SELECT booking.public_organization_ids())::uuid[])
               OR organization_id = ANY ((SELECT booking.user_organization_ids())::uuid[])))
         OR reviewer_id = (SELECT booking.current_user_id())
         OR organization_id = ANY ((SELECT booking.user_organization_ids('{owner,admin,staff}'))::uuid[]));
CREATE POLICY reviews_insert ON booking.reviews FOR INSERT
  WITH CHECK (reviewer_id = (SELECT booking.current_user_id()));
CREATE POLICY reviews_update ON booking.reviews FOR UPDATE
  USING (reviewer_id = (SELECT booking.current_user_id())
         OR organization_id = ANY ((SELECT booking.user_organization_ids('{owner,admin,staff}'))::uuid[]))
  WITH CHECK (reviewer_id = (SELECT booking.current_user_id())
              OR organization_id = ANY ((SELECT booking.user_organization_ids('{owner,admin,staff}'))::uuid[]));

-- The seed's salon_reviews_with_counts_view: each review the caller may see, with its
-- organization's figures over its published reviews (one rating_summary per organization).
CREATE VIEW booking.organization_reviews_with_counts WITH (security_invoker = true) AS
SELECT r.id, r.organization_id, r.booking_id, r.resource_id, r.rating, r.content, r.status, r.reply, r.replied_at,
       r.created_at, r.updated_at,
       coalesce((r.summary ->> 'count')::bigint, 0) AS total_reviews,
       (r.summary ->> 'average')::numeric(3, 2) AS average_rating,
       coalesce((r.summary -> 'histogram' ->> '5')::bigint, 0) AS five_star_count,
       coalesce((r.summary -> 'histogram' ->> '4')::bigint, 0) AS four_star_count,
       coalesce((r.summary -> 'histogram' ->> '3')::bigint, 0) AS three_star_count,
       coalesce((r.summary -> 'histogram' ->> '2')::bigint, 0) AS two_star_count,
       coalesce((r.summary -> 'histogram' ->> '1')::bigint, 0) AS one_star_count
FROM (SELECT rv.id, rv.organization_id, rv.booking_id, rv.resource_id, rv.rating, rv.content, rv.status, rv.reply,
             rv.replied_at, rv.created_at, rv.updated_at,
             booking.rating_summary(rv.rating) FILTER (WHERE rv.status = 'published')
               OVER (PARTITION BY rv.organization_id) AS summary
      FROM booking.reviews rv) r;

-- ---------------------------------------------------------------------------------------------
-- The seed's other views, on booking_ext's tables, as the caller (security_invoker)
-- ---------------------------------------------------------------------------------------------

-- audit_logs_view: the audit log with the actor's display name (where the caller sees their card).
CREATE VIEW booking.audit_log_view WITH (security_invoker = true) AS
SELECT a.id, a.organization_id, a.entity_type, a.entity_id, a.action, a.actor_id, a.actor_role,
       c.display_name AS actor_display_name, c.avatar_url AS actor_avatar_url,
       a.old_values, a.new_values, a.reason, a.source, a.created_at
FROM booking.audit_log a
LEFT JOIN booking.profile_cards c ON c.user_id = a.actor_id;

-- view_notifications: notifications with the recipient's display fields.
CREATE VIEW booking.notifications_view WITH (security_invoker = true) AS
SELECT n.id, n.organization_id, n.recipient_id, n.notification_type, n.message, n.metadata, n.read_at,
       n.created_at, n.updated_at,
       c.display_name AS recipient_display_name, c.avatar_url AS recipient_avatar_url
FROM booking.notifications n
LEFT JOIN booking.profile_cards c ON c.user_id = n.recipient_id;

-- view_blocked_times_with_relations: closed times (a resource's, or the whole organization's
-- when resource_id is NULL) with their resource and, for a professional's calendar, the person.
CREATE VIEW booking.blocked_times_view WITH (security_invoker = true) AS
SELECT e.id, e.organization_id, e.resource_id, r.title AS resource_title, r.kind AS resource_kind,
       p.id AS professional_id, p.user_id AS professional_user_id, c.display_name AS professional_display_name,
       e.reason, lower(e.during) AS blocked_from, upper(e.during) AS blocked_until, e.created_at, e.updated_at
FROM booking.availability_exceptions e
LEFT JOIN booking.resources r ON r.id = e.resource_id
LEFT JOIN booking.professionals p ON p.resource_id = e.resource_id
LEFT JOIN booking.profile_cards c ON c.user_id = p.user_id
WHERE e.kind = 'closed';

-- view_profile_metadata: the caller's profile with its metadata's well-known keys.
CREATE VIEW booking.profile_metadata_view WITH (security_invoker = true) AS
SELECT p.user_id, p.display_name, p.first_name, p.last_name,
       nullif(concat_ws(' ', p.first_name, p.last_name), '') AS full_name,
       p.email, p.phone, p.avatar_url, p.created_at, p.updated_at,
       p.metadata -> 'preferences' AS preferences,
       p.metadata -> 'tags' AS tags,
       p.metadata -> 'interests' AS interests,
       p.metadata -> 'social_links' AS social_links,
       CASE WHEN jsonb_typeof(p.metadata -> 'status') = 'string' THEN p.metadata ->> 'status' ELSE 'active' END AS account_status
FROM booking.profiles p;

-- A preference of metadata.preferences at a path, or its default when absent or of another
-- JSON type (so that one odd value cannot break the view for its person).
CREATE FUNCTION booking_internal.preference_flag(p_metadata jsonb, p_group text, p_key text, p_default boolean) RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
RETURN CASE WHEN jsonb_typeof(p_metadata -> 'preferences' -> p_group -> p_key) = 'boolean'
            THEN (p_metadata -> 'preferences' -> p_group -> p_key)::boolean ELSE p_default END;

CREATE FUNCTION booking_internal.preference_minutes(p_metadata jsonb, p_group text, p_key text, p_default integer) RETURNS integer
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
RETURN CASE WHEN jsonb_typeof(p_metadata -> 'preferences' -> p_group -> p_key) = 'number'
                 AND (p_metadata -> 'preferences' -> p_group ->> p_key)::numeric BETWEEN 0 AND 525600
            THEN (p_metadata -> 'preferences' -> p_group ->> p_key)::numeric::integer ELSE p_default END;

-- view_user_preferences: the seed's preference keys, with its defaults.
CREATE VIEW booking.user_preferences_view WITH (security_invoker = true) AS
SELECT p.user_id, p.display_name,
       booking_internal.preference_flag(p.metadata, 'notifications', 'email', true) AS email_notifications_enabled,
       booking_internal.preference_flag(p.metadata, 'notifications', 'push', true) AS push_notifications_enabled,
       booking_internal.preference_flag(p.metadata, 'notifications', 'sms', false) AS sms_notifications_enabled,
       booking_internal.preference_flag(p.metadata, 'booking', 'auto_confirm', false) AS booking_auto_confirm,
       booking_internal.preference_minutes(p.metadata, 'booking', 'reminder_minutes', 1440) AS booking_reminder_minutes,
       booking_internal.preference_flag(p.metadata, 'marketing', 'newsletter', false) AS marketing_newsletter_enabled,
       booking_internal.preference_flag(p.metadata, 'marketing', 'promotions', false) AS marketing_promotions_enabled,
       booking_internal.preference_flag(p.metadata, 'privacy', 'profile_public', false) AS profile_public,
       booking_internal.preference_flag(p.metadata, 'privacy', 'show_reviews', true) AS show_reviews,
       p.updated_at AS preferences_updated_at
FROM booking.profiles p;

-- ---------------------------------------------------------------------------------------------
-- Privileges
-- ---------------------------------------------------------------------------------------------

CREATE FUNCTION booking_internal.grant_engagement_privileges(p_role text) RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  IF p_role = 'anon' THEN
    -- a public organization's published reviews and their figures, without who wrote them
    GRANT SELECT (id, organization_id, booking_id, resource_id, rating, content, status, reply, replied_at,
                  created_at, updated_at)
      ON booking.reviews TO anon;
    GRANT SELECT ON booking.organization_reviews_with_counts TO anon;
    RETURN;
  END IF;
  IF p_role = 'authenticated' THEN
    PERFORM booking_internal.grant_execute(p_role, ARRAY['start_thread', 'send_message', 'mark_thread_read',
                                                         'delete_thread', 'get_threads_page']);
    GRANT UPDATE (body) ON booking.messages TO authenticated;
    GRANT INSERT, UPDATE, DELETE ON booking.customer_favorites TO authenticated;
    GRANT INSERT, UPDATE ON booking.reviews TO authenticated;
  END IF;
  -- the views call them as the caller
  PERFORM booking_internal.grant_execute(p_role, ARRAY['preference_flag', 'preference_minutes']);
  IF p_role = 'service_role' THEN
    -- threads and messages are written by their functions only (they keep the counts)
    REVOKE INSERT, UPDATE ON booking.message_threads, booking.messages FROM service_role;
  END IF;
END $$;

COMMENT ON TABLE booking.message_threads IS 'A conversation between two people (one thread per pair), in the context of an organization and optionally a booking; unread counts, last read and deletion per participant. Written by start_thread, send_message, mark_thread_read and delete_thread.';
COMMENT ON TABLE booking.messages IS 'A message of a thread; its sender may edit the body (edited_at follows).';
COMMENT ON TABLE booking.customer_favorites IS 'A person''s favourite organization, or resource or service of one; each once.';
COMMENT ON TABLE booking.reviews IS 'A review of a completed booking by its booker (once): rating 1 to 5, content, status published/hidden/removed, the organization''s reply.';
COMMENT ON VIEW booking.customer_favorites_view IS 'The caller''s favourites with the names of what they are (seed 004''s customer_favorites_view).';
COMMENT ON VIEW booking.organization_reviews_with_counts IS 'Each review the caller may see with its organization''s figures over published reviews: total, average, per-star counts (seed 004''s salon_reviews_with_counts_view; rating_summary).';
COMMENT ON VIEW booking.audit_log_view IS 'The audit log rows the caller may read, with the actor''s display name and avatar where the caller sees their card (seed 004''s audit_logs_view).';
COMMENT ON VIEW booking.notifications_view IS 'The caller''s notifications with their display name and avatar (seed 004''s view_notifications).';
COMMENT ON VIEW booking.blocked_times_view IS 'Closed times the caller may see, with the resource and, for a professional''s calendar, the professional (seed 004''s view_blocked_times_with_relations).';
COMMENT ON VIEW booking.profile_metadata_view IS 'The caller''s profile with metadata''s preferences, tags, interests, social_links and status (seed 004''s view_profile_metadata).';
COMMENT ON VIEW booking.user_preferences_view IS 'The caller''s preferences from profile metadata, with seed 004''s defaults (view_user_preferences).';
COMMENT ON FUNCTION booking.start_thread(text, text, text, uuid) IS 'The caller''s thread with p_recipient_id, created if missing (one per pair, race-free), with a first message when p_body is given; PT409 not_connected for a stranger.';
COMMENT ON FUNCTION booking.send_message(uuid, text) IS 'Sends a message (1 to 4000 characters) in a thread of the caller''s; notifies the recipient and writes an outbox event.';
COMMENT ON FUNCTION booking.mark_thread_read(uuid) IS 'The caller has read the thread: their unread count drops to zero and its message notifications are marked read.';
COMMENT ON FUNCTION booking.delete_thread(uuid) IS 'Deletes the thread for the caller only: hidden with its messages so far until a newer message arrives.';
COMMENT ON FUNCTION booking.get_threads_page(integer, integer) IS 'A page of the caller''s threads, the latest first, with the other participant, the caller''s unread count and the last message; p_limit 1 to 100, p_offset 0 to 100000.';
COMMENT ON FUNCTION booking_internal.thread_organization(text, text, uuid) IS 'Internal: the organization through which two people may message each other (shared membership, staff and client, or both party to the booking), NULL for strangers.';
COMMENT ON FUNCTION booking_internal.post_message(booking.message_threads, text) IS 'Internal: the one writer of messages: the message, the other participant''s unread count, the notification and the outbox event.';
COMMENT ON FUNCTION booking_internal.lock_my_thread(uuid) IS 'Internal: a thread of the caller''s, locked; 22023 for any other.';
COMMENT ON FUNCTION booking_internal.messages_edit() IS 'Trigger: only a message''s body is edited, edited_at follows.';
COMMENT ON FUNCTION booking_internal.reviews_guard() IS 'Trigger: a review is of a completed booking by its booker; what the reviewer and the staff may change.';
COMMENT ON FUNCTION booking_internal.preference_flag(jsonb, text, text, boolean) IS 'Internal: a boolean preference of profile metadata, or its default.';
COMMENT ON FUNCTION booking_internal.preference_minutes(jsonb, text, text, integer) IS 'Internal: a minutes preference of profile metadata (0 to 525600), or its default.';
COMMENT ON FUNCTION booking_internal.grant_engagement_privileges(text) IS 'Internal: the engagement module''s grants to an API role (called by grant_api_privileges).';
-- END COPY src/engagement/engagement.sql
-- =============================================================================================
-- New module: calendars (src/calendars/mod.rs's native functions, from the generated install
-- script, then src/calendars/calendars.sql, as of 0.2.0).
-- =============================================================================================

CREATE  FUNCTION booking."import_ics"(
	"p_integration_id" uuid, /* Option < Uuid > */
	"p_ics" TEXT /* Option < String > */
) RETURNS jsonb /* JsonB */
VOLATILE SECURITY DEFINER
SET search_path TO pg_catalog, pg_temp
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'import_ics_wrapper';

CREATE  FUNCTION booking_internal."resource_calendar_ics_text"(
	"p_resource_id" uuid /* Option < Uuid > */
) RETURNS TEXT /* String */
STABLE SECURITY DEFINER 
SET search_path TO pg_catalog, pg_temp
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'resource_calendar_ics_text_wrapper';

-- BEGIN COPY src/calendars/calendars.sql
-- booking_ext, module calendars: external calendars (seed 002). An integration is one calendar
-- of a provider (Google, Outlook, Apple, or a plain iCalendar feed) linked to the resources
-- whose time it blocks. Its events come in from outside Postgres, by a worker holding the
-- credentials (upsert_calendar_events, report_sync_result) or an iCalendar file (import_ics);
-- each is kept once per (integration, external id, recurrence id), a deletion as a cancelled
-- tombstone, and a delivery older than what is stored (by the provider's `updated`) changes
-- nothing, so replays and reorderings leave the same rows.
--
-- Busy time: every event is materialized as the instants it holds (calendar_busy): a timed
-- event its own, an all-day event the local days in the integration's time zone, a recurring
-- event each occurrence through the series engine (an endless rule up to a horizon of
-- booking_internal.calendar_horizon_days() days from now, refreshed by
-- booking.refresh_calendar_busy()). The availability engine reads them for every linked
-- resource: confirmed events always, tentative ones when the integration says so, cancelled
-- and transparent ("free") ones never; no buffers around them; the refusal is
-- 'external_event'.
--
-- Outbound: a booking created, moved or changing status on a linked resource enqueues a
-- `calendar.push` outbox event for the worker, which writes the provider's event id back into
-- bookings.external_calendar_event_id.

CREATE TABLE booking.calendar_integrations (
  id                          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  organization_id             uuid NOT NULL REFERENCES booking.organizations (id) ON DELETE CASCADE,
  provider                    text NOT NULL CONSTRAINT calendar_integrations_provider_check
                              CHECK (provider IN ('google', 'outlook', 'apple', 'ics')),
  calendar_id                 text NOT NULL CONSTRAINT calendar_integrations_calendar_id_size CHECK (length(calendar_id) BETWEEN 1 AND 500),
  name                        text CONSTRAINT calendar_integrations_name_size CHECK (length(name) <= 200),
  -- all-day events and floating times are read in this zone (NULL on insert: the organization's)
  time_zone                   text NOT NULL,
  tentative_is_busy           boolean NOT NULL DEFAULT true,
  -- written by report_sync_result only
  sync_status                 text NOT NULL DEFAULT 'pending' CONSTRAINT calendar_integrations_sync_status_check
                              CHECK (sync_status IN ('pending', 'syncing', 'success', 'error')),
  needs_reauthorization       boolean NOT NULL DEFAULT false,
  reauthorization_notified_at timestamptz,
  last_sync_at                timestamptz,
  error_message               text CONSTRAINT calendar_integrations_error_message_size CHECK (length(error_message) <= 4000),
  webhook_id                  text CONSTRAINT calendar_integrations_webhook_id_size CHECK (length(webhook_id) <= 500),
  webhook_expires_at          timestamptz,
  sync_token                  text CONSTRAINT calendar_integrations_sync_token_size CHECK (length(sync_token) <= 2000),
  created_at                  timestamptz NOT NULL DEFAULT now(),
  updated_at                  timestamptz NOT NULL DEFAULT now(),
  UNIQUE (id, organization_id),
  CONSTRAINT calendar_integrations_once UNIQUE (organization_id, provider, calendar_id)
);
SELECT booking_internal.register_table('calendar_integrations', 'calendars', true, 'calendar_integration');

-- Tokens, in a table of their own that only service_role (the worker) reads or writes: no
-- policy, no grant to anon or authenticated, no view over it.
CREATE TABLE booking.calendar_credentials (
  integration_id   uuid PRIMARY KEY,
  organization_id  uuid NOT NULL,
  access_token     text CONSTRAINT calendar_credentials_access_token_size CHECK (length(access_token) <= 8000),
  refresh_token    text CONSTRAINT calendar_credentials_refresh_token_size CHECK (length(refresh_token) <= 8000),
  token_expires_at timestamptz,
  scope            text CONSTRAINT calendar_credentials_scope_size CHECK (length(scope) <= 2000),
  created_at       timestamptz NOT NULL DEFAULT now(),
  updated_at       timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT calendar_credentials_integration_same_organization FOREIGN KEY (integration_id, organization_id)
    REFERENCES booking.calendar_integrations (id, organization_id) ON DELETE CASCADE
);
CREATE INDEX calendar_credentials_integration_idx ON booking.calendar_credentials (integration_id, organization_id);
CREATE INDEX calendar_credentials_organization_id_idx ON booking.calendar_credentials (organization_id);
-- Not audited: the audit log would copy the tokens.
SELECT booking_internal.register_table('calendar_credentials', 'calendars', false);

-- Which resources an integration's events make busy.
CREATE TABLE booking.calendar_integration_resources (
  integration_id  uuid NOT NULL,
  resource_id     uuid NOT NULL,
  organization_id uuid NOT NULL,
  created_at      timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (integration_id, resource_id),
  CONSTRAINT calendar_integration_resources_integration_same_organization FOREIGN KEY (integration_id, organization_id)
    REFERENCES booking.calendar_integrations (id, organization_id) ON DELETE CASCADE,
  CONSTRAINT calendar_integration_resources_resource_same_organization FOREIGN KEY (resource_id, organization_id)
    REFERENCES booking.resources (id, organization_id) ON DELETE CASCADE
);
CREATE INDEX calendar_integration_resources_integration_idx ON booking.calendar_integration_resources (integration_id, organization_id);
CREATE INDEX calendar_integration_resources_resource_idx ON booking.calendar_integration_resources (resource_id, organization_id);
CREATE INDEX calendar_integration_resources_organization_id_idx ON booking.calendar_integration_resources (organization_id);
SELECT booking_internal.register_table('calendar_integration_resources', 'calendars', true, 'calendar_link', 'integration_id');

CREATE TABLE booking.calendar_events (
  id                uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  organization_id   uuid NOT NULL,
  integration_id    uuid NOT NULL,
  external_id       text NOT NULL CONSTRAINT calendar_events_external_id_size CHECK (length(external_id) BETWEEN 1 AND 1024),
  -- '' for an event or a series; the original start of the occurrence an override replaces
  recurrence_id     text NOT NULL DEFAULT '' CONSTRAINT calendar_events_recurrence_id_size CHECK (length(recurrence_id) <= 100),
  title             text CONSTRAINT calendar_events_title_size CHECK (length(title) <= 500),
  status            text NOT NULL DEFAULT 'confirmed' CONSTRAINT calendar_events_status_check
                    CHECK (status IN ('confirmed', 'tentative', 'cancelled')),
  transparency      text NOT NULL DEFAULT 'opaque' CONSTRAINT calendar_events_transparency_check
                    CHECK (transparency IN ('opaque', 'transparent')),
  event_type        text NOT NULL DEFAULT 'default' CONSTRAINT calendar_events_event_type_size CHECK (length(event_type) BETWEEN 1 AND 50),
  all_day           boolean NOT NULL DEFAULT false,
  -- a timed event's instants; an all-day event's local days [start_date, end_date) in the
  -- integration's zone, and the instants of their midnights
  starts_at         timestamptz NOT NULL,
  ends_at           timestamptz NOT NULL,
  start_date        date,
  end_date          date,
  -- the zone its local times (and recurrence) are read in; NULL: the integration's
  time_zone         text,
  recurrence_rule   text CONSTRAINT calendar_events_recurrence_rule_size CHECK (length(recurrence_rule) <= 1000),
  exdates           timestamptz[] NOT NULL DEFAULT '{}' CONSTRAINT calendar_events_exdates_size CHECK (cardinality(exdates) <= 1000),
  -- the provider's version: an older delivery changes nothing
  source_updated_at timestamptz,
  -- why a recurring event could not be expanded in full (then only its first occurrence is busy)
  expansion_note    text,
  deleted           boolean NOT NULL DEFAULT false,
  created_at        timestamptz NOT NULL DEFAULT now(),
  updated_at        timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT calendar_events_time_order CHECK (ends_at > starts_at),
  CONSTRAINT calendar_events_all_day_dates CHECK (NOT all_day OR (start_date IS NOT NULL AND end_date > start_date)),
  CONSTRAINT calendar_events_once UNIQUE (integration_id, external_id, recurrence_id),
  CONSTRAINT calendar_events_integration_same_organization FOREIGN KEY (integration_id, organization_id)
    REFERENCES booking.calendar_integrations (id, organization_id) ON DELETE CASCADE
);
CREATE INDEX calendar_events_integration_idx ON booking.calendar_events (integration_id, organization_id);
CREATE INDEX calendar_events_organization_id_idx ON booking.calendar_events (organization_id);
-- Not audited: a provider's copy, rewritten on every sync.
SELECT booking_internal.register_table('calendar_events', 'calendars', false);

-- The instants each event holds (one row per occurrence), written by materialize_calendar_event
-- only; status and transparency copied from the event.
CREATE TABLE booking.calendar_busy (
  event_id        uuid NOT NULL REFERENCES booking.calendar_events (id) ON DELETE CASCADE,
  organization_id uuid NOT NULL,
  integration_id  uuid NOT NULL,
  starts_at       timestamptz NOT NULL,
  ends_at         timestamptz NOT NULL,
  during          tstzrange GENERATED ALWAYS AS (tstzrange(starts_at, ends_at)) STORED,
  status          text NOT NULL,
  transparency    text NOT NULL,
  CONSTRAINT calendar_busy_time_order CHECK (ends_at > starts_at)
);
CREATE INDEX calendar_busy_event_idx ON booking.calendar_busy (event_id);
-- The slot engine reads an integration's busy time that can touch a window through the first
-- index for rows of at most two days (their end is at most two days after the window's) and
-- through the second, partial, for the few longer ones.
CREATE INDEX calendar_busy_ends_idx ON booking.calendar_busy (integration_id, ends_at) INCLUDE (starts_at, status, transparency);
CREATE INDEX calendar_busy_long_idx ON booking.calendar_busy USING gist (integration_id, during)
  WHERE ends_at - starts_at > interval '2 days';
CREATE INDEX calendar_busy_organization_id_idx ON booking.calendar_busy (organization_id);
SELECT booking_internal.register_table('calendar_busy', 'calendars', false);

-- Deliveries to one integration take turns on its row here, and each writes it: a delivery
-- that waited its turn in REPEATABLE READ (or SERIALIZABLE), whose snapshot predates the
-- delivery before it, then fails with 40001 and is retried, instead of materializing busy
-- time from rows it cannot see (a series and its override delivered at once).
CREATE TABLE booking_internal.calendar_delivery_turns (
  integration_id uuid PRIMARY KEY,
  deliveries     bigint NOT NULL DEFAULT 1
);

-- A provider's copy of one of our bookings is found by the id the worker wrote back (seed 002's
-- resources.external_calendar_id and bookings.external_calendar_event_id are in 0.1.0).
CREATE INDEX bookings_external_calendar_event_id_idx ON booking.bookings (external_calendar_event_id)
  WHERE external_calendar_event_id IS NOT NULL;

-- ---------------------------------------------------------------------------------------------
-- Integrations: staff manage them; the sync fields are the worker's (report_sync_result)
-- ---------------------------------------------------------------------------------------------

CREATE FUNCTION booking_internal.calendar_integrations_guard() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  IF booking_internal.is_bulk_load() THEN
    RETURN NEW;
  END IF;
  IF NOT booking_internal.has_staff_rights(NEW.organization_id) THEN
    RAISE EXCEPTION 'new row violates row-level security policy for table "calendar_integrations"'
      USING ERRCODE = 'insufficient_privilege';
  END IF;
  IF NEW.time_zone IS NULL THEN
    SELECT o.time_zone INTO NEW.time_zone FROM booking.organizations o WHERE o.id = NEW.organization_id;
  ELSIF NOT booking.is_valid_time_zone(NEW.time_zone) THEN
    RAISE EXCEPTION 'unknown time zone "%"', NEW.time_zone
      USING ERRCODE = 'invalid_parameter_value', HINT = 'Use an IANA name such as ''Europe/Paris''.';
  END IF;
  -- The sync fields follow report_sync_result (which sets booking.calendar_sync for its own
  -- statement); nobody else writes them.
  IF NOT booking_internal.is_privileged()
     AND (NEW.sync_status, NEW.needs_reauthorization, NEW.reauthorization_notified_at, NEW.last_sync_at,
          NEW.error_message, NEW.webhook_id, NEW.webhook_expires_at, NEW.sync_token)
         IS DISTINCT FROM
         (CASE WHEN TG_OP = 'UPDATE' THEN OLD.sync_status ELSE 'pending' END,
          CASE WHEN TG_OP = 'UPDATE' THEN OLD.needs_reauthorization ELSE false END,
          CASE WHEN TG_OP = 'UPDATE' THEN OLD.reauthorization_notified_at END,
          CASE WHEN TG_OP = 'UPDATE' THEN OLD.last_sync_at END,
          CASE WHEN TG_OP = 'UPDATE' THEN OLD.error_message END,
          CASE WHEN TG_OP = 'UPDATE' THEN OLD.webhook_id END,
          CASE WHEN TG_OP = 'UPDATE' THEN OLD.webhook_expires_at END,
          CASE WHEN TG_OP = 'UPDATE' THEN OLD.sync_token END) THEN
    RAISE EXCEPTION 'the sync fields of an integration are written by booking.report_sync_result'
      USING ERRCODE = 'insufficient_privilege';
  END IF;
  RETURN NEW;
END $$;
CREATE TRIGGER calendar_integrations_1_guard BEFORE INSERT OR UPDATE ON booking.calendar_integrations
  FOR EACH ROW EXECUTE FUNCTION booking_internal.calendar_integrations_guard();

-- A different tentative setting changes which busy rows count, not the rows: nothing to do.
-- A different time zone moves all-day events (their days are the zone's) and the series read
-- in it: materialize them again. A timed event keeps the instants it was delivered with.
CREATE FUNCTION booking_internal.calendar_integrations_rezone() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  IF booking_internal.is_bulk_load() THEN
    RETURN NULL;
  END IF;
  -- all-day events are the new zone's days (timed ones keep their instants)
  UPDATE booking.calendar_events
  SET starts_at = start_date::timestamp AT TIME ZONE NEW.time_zone, ends_at = end_date::timestamp AT TIME ZONE NEW.time_zone
  WHERE integration_id = NEW.id AND all_day AND time_zone IS NULL AND NOT deleted;
  PERFORM booking_internal.materialize_calendar_event(e.id)
  FROM booking.calendar_events e WHERE e.integration_id = NEW.id;
  RETURN NULL;
END $$;
CREATE TRIGGER calendar_integrations_5_rezone AFTER UPDATE OF time_zone ON booking.calendar_integrations
  FOR EACH ROW WHEN (OLD.time_zone IS DISTINCT FROM NEW.time_zone)
  EXECUTE FUNCTION booking_internal.calendar_integrations_rezone();

-- ---------------------------------------------------------------------------------------------
-- Busy time
-- ---------------------------------------------------------------------------------------------

-- The local date of the occurrence an override replaces, from its recurrence id: a date
-- (`YYYYMMDD` as iCalendar writes it, or `YYYY-MM-DD` as Google's API does), or an instant
-- (with `Z` or an offset; without one, a local time of the zone). NULL when it is none of these.
CREATE FUNCTION booking_internal.recurrence_date(p_recurrence_id text, p_time_zone text) RETURNS date
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  IF p_recurrence_id ~ '^[0-9]{8}$' THEN
    RETURN to_date(p_recurrence_id, 'YYYYMMDD');
  ELSIF p_recurrence_id ~ '^[0-9]{4}-[0-9]{2}-[0-9]{2}$' THEN
    RETURN p_recurrence_id::date;
  ELSIF p_recurrence_id ~ '^[0-9]{4}-?[0-9]{2}-?[0-9]{2}[T ][0-9]{2}:?[0-9]{2}(:?[0-9]{2}(\.[0-9]+)?)?(Z|[+-][0-9]{2}(:?[0-9]{2})?)$' THEN
    RETURN (p_recurrence_id::timestamptz AT TIME ZONE p_time_zone)::date;
  ELSIF p_recurrence_id ~ '^[0-9]{4}-?[0-9]{2}-?[0-9]{2}[T ][0-9]{2}:?[0-9]{2}(:?[0-9]{2}(\.[0-9]+)?)?$' THEN
    RETURN p_recurrence_id::timestamp::date;
  END IF;
  RETURN NULL;
EXCEPTION WHEN invalid_datetime_format OR datetime_field_overflow THEN
  RETURN NULL;
END $$;

-- How far ahead an endless recurring external event is expanded (from now).
CREATE FUNCTION booking_internal.calendar_horizon_days() RETURNS integer
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
RETURN 366;

-- Is this provider event the provider's copy of one of our own bookings (pushed by the worker,
-- its id written back to a booking of a resource the integration is linked to)? Such an event
-- holds no busy time: the booking holds that time already and must not be blocked by itself.
-- SQL, so that the set-based delivery inlines it.
CREATE FUNCTION booking_internal.is_own_booking_copy(p_integration_id uuid, p_external_id text) RETURNS boolean
LANGUAGE sql STABLE PARALLEL SAFE
RETURN EXISTS (SELECT 1 FROM booking.bookings b
               JOIN booking.calendar_integration_resources l ON l.resource_id = b.resource_id
                                                            AND l.integration_id = p_integration_id
               WHERE b.external_calendar_event_id = p_external_id);

-- Write the instants an event holds (its calendar_busy rows), from scratch. An override
-- (recurrence_id set) holds its own time; a series each occurrence the series engine gives
-- for its rule in its zone, but the dates excluded (EXDATE) or replaced by an override; an
-- endless rule (or one ending beyond the horizon) from its latest occurrence-aligned start a
-- month back up to the horizon. A rule the engine cannot expand (a part it does not know, more
-- than it allows) holds its first occurrence only, and says why in expansion_note.
CREATE FUNCTION booking_internal.materialize_calendar_event(p_event_id uuid) RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  e          booking.calendar_events;
  v_tz       text;
  v_rule     text;
  v_first    timestamp;
  v_skipped  date[];
  v_note     text;
  v_freq     text;
  v_interval integer;
  v_period   interval;
  v_steps    bigint;
  v_horizon  date;
  v_days     integer;
BEGIN
  SELECT * INTO e FROM booking.calendar_events WHERE id = p_event_id;
  IF NOT FOUND THEN
    RETURN;
  END IF;
  DELETE FROM booking.calendar_busy WHERE event_id = e.id;
  -- A cancelled event holds nothing, and neither does the provider's copy of one of our own
  -- bookings.
  IF e.deleted OR e.status = 'cancelled' OR booking_internal.is_own_booking_copy(e.integration_id, e.external_id) THEN
    UPDATE booking.calendar_events SET expansion_note = NULL WHERE id = e.id AND expansion_note IS NOT NULL;
    RETURN;
  END IF;
  SELECT coalesce(e.time_zone, i.time_zone) INTO v_tz FROM booking.calendar_integrations i WHERE i.id = e.integration_id;
  IF e.recurrence_rule IS NULL OR e.recurrence_id <> '' THEN
    INSERT INTO booking.calendar_busy (event_id, organization_id, integration_id, starts_at, ends_at, status, transparency)
    VALUES (e.id, e.organization_id, e.integration_id, e.starts_at, e.ends_at, e.status, e.transparency);
    RETURN;
  END IF;

  v_rule := upper(e.recurrence_rule);
  -- WKST changes nothing unless a weekly rule skips weeks; Outlook writes it always
  IF v_rule ~ 'WKST=' AND (v_rule ~ 'WKST=MO' OR coalesce(substring(v_rule FROM 'INTERVAL=([0-9]+)')::integer, 1) = 1
                           OR v_rule !~ 'FREQ=WEEKLY') THEN
    v_rule := regexp_replace(v_rule, ';?WKST=[A-Z]{2}', '');
  END IF;
  v_first := CASE WHEN e.all_day THEN e.start_date::timestamp ELSE e.starts_at AT TIME ZONE v_tz END;
  v_horizon := (now() AT TIME ZONE v_tz)::date + booking_internal.calendar_horizon_days();
  v_days := CASE WHEN e.all_day THEN e.end_date - e.start_date END;
  -- The dates not to expand: EXDATEs, and the occurrences overrides replace.
  SELECT array_agg(DISTINCT d) INTO v_skipped FROM (
    SELECT (x AT TIME ZONE v_tz)::date AS d
    FROM unnest(e.exdates) AS x
    UNION
    SELECT booking_internal.recurrence_date(o.recurrence_id, v_tz)
    FROM booking.calendar_events o
    WHERE o.integration_id = e.integration_id AND o.external_id = e.external_id AND o.recurrence_id <> '') s;
  -- Endless, or ending past the horizon: start a month back on the rule's own step, end at the
  -- horizon (without COUNT, an UNTIL rule is the same rule from any of its occurrences).
  IF v_rule !~ 'COUNT=' THEN
    v_freq := substring(v_rule FROM 'FREQ=([A-Z]+)');
    v_interval := coalesce(substring(v_rule FROM 'INTERVAL=([0-9]+)')::integer, 1);
    v_period := CASE v_freq WHEN 'DAILY' THEN make_interval(days => v_interval)
                            WHEN 'WEEKLY' THEN make_interval(days => 7 * v_interval)
                            WHEN 'MONTHLY' THEN make_interval(months => v_interval) END;
    -- (a rule that ended before then is left as it is: nothing of it is ahead)
    IF v_period IS NOT NULL AND v_first < (now() AT TIME ZONE v_tz) - interval '31 days'
       AND coalesce(to_date(substring(v_rule FROM 'UNTIL=([0-9]{8})'), 'YYYYMMDD'), 'infinity')
           >= ((now() AT TIME ZONE v_tz) - interval '31 days')::date THEN
      IF v_freq = 'MONTHLY' THEN
        v_steps := ((extract(year FROM age((now() AT TIME ZONE v_tz) - interval '31 days', v_first)) * 12
                     + extract(month FROM age((now() AT TIME ZONE v_tz) - interval '31 days', v_first)))::bigint) / v_interval;
        v_first := v_first + make_interval(months => (v_steps * v_interval)::integer);
      ELSE
        v_steps := floor(extract(epoch FROM ((now() AT TIME ZONE v_tz) - interval '31 days' - v_first))
                         / extract(epoch FROM v_period))::bigint;
        v_first := v_first + (v_steps * extract(epoch FROM v_period)) * interval '1 second';
      END IF;
    END IF;
    IF v_rule !~ 'UNTIL=' THEN
      v_rule := v_rule || ';UNTIL=' || to_char(v_horizon, 'YYYYMMDD');
    ELSIF to_date(substring(v_rule FROM 'UNTIL=([0-9]{8})'), 'YYYYMMDD') > v_horizon THEN
      v_rule := regexp_replace(v_rule, 'UNTIL=[0-9TZ]+', 'UNTIL=' || to_char(v_horizon, 'YYYYMMDD'));
    END IF;
  END IF;
  BEGIN
    IF e.all_day THEN
      INSERT INTO booking.calendar_busy (event_id, organization_id, integration_id, starts_at, ends_at, status, transparency)
      SELECT e.id, e.organization_id, e.integration_id,
             o.local_date::timestamp AT TIME ZONE v_tz, (o.local_date + v_days)::timestamp AT TIME ZONE v_tz,
             e.status, e.transparency
      FROM booking_internal.expand_series(v_rule, v_first, interval '1 day', v_tz, coalesce(v_skipped, '{}')) o;
    ELSE
      INSERT INTO booking.calendar_busy (event_id, organization_id, integration_id, starts_at, ends_at, status, transparency)
      SELECT e.id, e.organization_id, e.integration_id, o.occurrence_start, o.occurrence_end, e.status, e.transparency
      FROM booking_internal.expand_series(v_rule, v_first, e.ends_at - e.starts_at, v_tz, coalesce(v_skipped, '{}')) o;
    END IF;
  EXCEPTION WHEN invalid_parameter_value THEN
    GET STACKED DIAGNOSTICS v_note = MESSAGE_TEXT;
    INSERT INTO booking.calendar_busy (event_id, organization_id, integration_id, starts_at, ends_at, status, transparency)
    VALUES (e.id, e.organization_id, e.integration_id, e.starts_at, e.ends_at, e.status, e.transparency);
  END;
  UPDATE booking.calendar_events SET expansion_note = left(v_note, 1000)
  WHERE id = e.id AND expansion_note IS DISTINCT FROM left(v_note, 1000);
END $$;

-- Expand again every recurring event (the horizon moves with time): for service_role, daily.
CREATE FUNCTION booking.refresh_calendar_busy() RETURNS integer
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_count integer := 0;
  v_id    uuid;
BEGIN
  PERFORM booking_internal.require_privileged('refresh_calendar_busy');
  FOR v_id IN SELECT id FROM booking.calendar_events
              WHERE recurrence_rule IS NOT NULL AND recurrence_id = '' AND NOT deleted AND status <> 'cancelled' LOOP
    PERFORM booking_internal.materialize_calendar_event(v_id);
    v_count := v_count + 1;
  END LOOP;
  RETURN v_count;
END $$;

-- ---------------------------------------------------------------------------------------------
-- Deliveries: events in, idempotent
-- ---------------------------------------------------------------------------------------------

-- The most events and bytes one delivery (or one iCalendar import) may carry.
CREATE FUNCTION booking_internal.calendar_delivery_limits(OUT max_events integer, OUT max_bytes integer)
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
RETURN ROW(2000, 2097152);

-- Apply a delivery of events to an integration (locked for the rest of the transaction, so
-- deliveries of one integration take turns). Each element: external_id (required),
-- recurrence_id, updated (the provider's version), deleted, title, status, transparency,
-- event_type, all_day with start_date and end_date (dates; end exclusive), or start and end
-- (instants; or local date-times read in time_zone), time_zone, recurrence_rule, exdates.
-- One bad element refuses the whole delivery (22023, naming it). Returns the counts.
CREATE FUNCTION booking_internal.apply_calendar_events(p_integration_id uuid, p_events jsonb) RETURNS jsonb
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_integration booking.calendar_integrations;
  v_limits      record;
  v_item        jsonb;
  v_n           integer := 0;
  v_old         booking.calendar_events;
  v_new         booking.calendar_events;
  v_tz          text;
  v_version     timestamptz;
  v_inserted    integer := 0;
  v_updated     integer := 0;
  v_deleted     integer := 0;
  v_unchanged   integer := 0;
  v_masters     text[] := '{}'::text[];
  -- The delivery's events as they stand, by key (external id, U+001F, recurrence id): read
  -- once from the table, changed in order item by item, written in one statement at the end
  -- (a statement per event costs more than the event).
  v_keys        text[];
  v_rows        booking.calendar_events[];
  v_in_table    boolean[];
  v_dirty       boolean[];
  v_key         text;
  v_i           integer;
BEGIN
  SELECT * INTO v_limits FROM booking_internal.calendar_delivery_limits();
  IF p_events IS NULL OR jsonb_typeof(p_events) <> 'array' THEN
    RAISE EXCEPTION 'p_events must be a JSON array of events' USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF jsonb_array_length(p_events) > v_limits.max_events OR octet_length(p_events::text) > v_limits.max_bytes THEN
    RAISE EXCEPTION 'a delivery carries at most % events and % bytes', v_limits.max_events, v_limits.max_bytes
      USING ERRCODE = 'invalid_parameter_value', HINT = 'Send it in several deliveries.';
  END IF;
  SELECT * INTO v_integration FROM booking.calendar_integrations WHERE id = p_integration_id FOR SHARE;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'unknown calendar integration %', p_integration_id USING ERRCODE = 'invalid_parameter_value';
  END IF;
  INSERT INTO booking_internal.calendar_delivery_turns AS d (integration_id) VALUES (p_integration_id)
  ON CONFLICT (integration_id) DO UPDATE SET deliveries = d.deliveries + 1;
  SELECT coalesce(array_agg(e.external_id || E'\x1f' || e.recurrence_id), '{}'::text[]),
         coalesce(array_agg(e), '{}'::booking.calendar_events[]),
         coalesce(array_agg(true), '{}'::boolean[]), coalesce(array_agg(false), '{}'::boolean[])
  INTO v_keys, v_rows, v_in_table, v_dirty
  FROM booking.calendar_events e
  WHERE e.integration_id = p_integration_id
    AND (e.external_id, e.recurrence_id) IN (SELECT x ->> 'external_id', coalesce(x ->> 'recurrence_id', '')
                                             FROM jsonb_array_elements(p_events) AS x WHERE jsonb_typeof(x) = 'object');
  -- One handler for the whole delivery, naming the event at fault (a handler per event would
  -- cost a subtransaction per event; any bad event refuses the delivery anyway).
  BEGIN
  FOR v_item IN SELECT value FROM jsonb_array_elements(p_events) LOOP
    v_n := v_n + 1;
      IF jsonb_typeof(v_item) <> 'object' OR coalesce(length(v_item ->> 'external_id'), 0) NOT BETWEEN 1 AND 1024 THEN
        RAISE EXCEPTION 'an event is an object with an external_id of 1 to 1024 characters';
      END IF;
      v_version := (v_item ->> 'updated')::timestamptz;
      IF length(v_item ->> 'recurrence_id') > 100 THEN
        RAISE EXCEPTION 'a recurrence_id has at most 100 characters';
      END IF;
      v_key := (v_item ->> 'external_id') || E'\x1f' || coalesce(v_item ->> 'recurrence_id', '');
      v_i := array_position(v_keys, v_key);
      IF v_i IS NULL THEN
        v_old := NULL;
      ELSE
        v_old := v_rows[v_i];
      END IF;
      IF v_old.id IS NOT NULL AND v_old.source_updated_at IS NOT NULL AND v_version IS NOT NULL AND v_version < v_old.source_updated_at THEN
        v_unchanged := v_unchanged + 1;  -- an older version, delivered late
        CONTINUE;
      END IF;
      IF coalesce(v_item ->> 'recurrence_id', '') <> ''
         AND booking_internal.recurrence_date(v_item ->> 'recurrence_id', v_integration.time_zone) IS NULL THEN
        RAISE EXCEPTION 'recurrence_id is a date (YYYYMMDD or YYYY-MM-DD) or a date-time, not "%"', left(v_item ->> 'recurrence_id', 100);
      END IF;
      v_tz := coalesce(v_item ->> 'time_zone', v_integration.time_zone);
      IF v_tz IS DISTINCT FROM v_integration.time_zone AND NOT booking.is_valid_time_zone(v_tz) THEN
        RAISE EXCEPTION 'unknown time zone "%"', left(v_tz, 100);
      END IF;
      v_new := NULL;
      v_new.organization_id := v_integration.organization_id;
      v_new.integration_id := p_integration_id;
      v_new.external_id := v_item ->> 'external_id';
      v_new.recurrence_id := coalesce(v_item ->> 'recurrence_id', '');
      v_new.source_updated_at := coalesce(v_version, v_old.source_updated_at);
      IF coalesce((v_item ->> 'deleted')::boolean, false) THEN
        IF v_old.id IS NULL THEN
          v_new.status := 'cancelled';
          v_new.starts_at := coalesce((v_item ->> 'start')::timestamptz, '-infinity');
          v_new.ends_at := coalesce((v_item ->> 'end')::timestamptz, 'infinity');
        ELSE
          v_new := v_old;
          v_new.source_updated_at := coalesce(v_version, v_old.source_updated_at);
        END IF;
        v_new.deleted := true;
        v_new.status := 'cancelled';
      ELSE
        v_new.deleted := false;
        v_new.title := left(v_item ->> 'title', 500);
        v_new.status := coalesce(v_item ->> 'status', 'confirmed');
        v_new.transparency := coalesce(v_item ->> 'transparency', 'opaque');
        v_new.event_type := coalesce(v_item ->> 'event_type', 'default');
        v_new.all_day := coalesce((v_item ->> 'all_day')::boolean, false);
        v_new.time_zone := v_item ->> 'time_zone';
        v_new.recurrence_rule := v_item ->> 'recurrence_rule';
        -- a date-only exclusion is that local date: its midnight in the event's zone
        v_new.exdates := CASE WHEN v_item ? 'exdates' THEN coalesce((SELECT array_agg(CASE WHEN x ~ '^[0-9]{4}-[0-9]{2}-[0-9]{2}$'
                                                       THEN x::date::timestamp AT TIME ZONE v_tz
                                                       WHEN x ~ '(Z|[+-][0-9:]+)$' THEN x::timestamptz
                                                       ELSE x::timestamp AT TIME ZONE v_tz END)
                                   FROM jsonb_array_elements_text(v_item -> 'exdates') AS x), '{}') ELSE '{}' END;
        IF v_new.status NOT IN ('confirmed', 'tentative', 'cancelled')
           OR v_new.transparency NOT IN ('opaque', 'transparent')
           OR length(v_new.event_type) NOT BETWEEN 1 AND 50 OR length(v_new.recurrence_rule) > 1000
           OR cardinality(v_new.exdates) > 1000 THEN
          RAISE EXCEPTION 'status is confirmed, tentative or cancelled; transparency opaque or transparent; event_type 1 to 50 characters; recurrence_rule at most 1000; at most 1000 exdates';
        END IF;
        IF v_new.all_day THEN
          v_new.start_date := (v_item ->> 'start_date')::date;
          v_new.end_date := coalesce((v_item ->> 'end_date')::date, v_new.start_date + 1);
          IF v_new.start_date IS NULL OR v_new.end_date <= v_new.start_date THEN
            RAISE EXCEPTION 'an all-day event needs start_date and a later end_date';
          END IF;
          v_new.starts_at := v_new.start_date::timestamp AT TIME ZONE v_tz;
          v_new.ends_at := v_new.end_date::timestamp AT TIME ZONE v_tz;
        ELSE
          v_new.starts_at := CASE WHEN (v_item ->> 'start') ~ '(Z|[+-][0-9:]+)$' THEN (v_item ->> 'start')::timestamptz
                                  ELSE (v_item ->> 'start')::timestamp AT TIME ZONE v_tz END;
          v_new.ends_at := CASE WHEN (v_item ->> 'end') ~ '(Z|[+-][0-9:]+)$' THEN (v_item ->> 'end')::timestamptz
                                ELSE (v_item ->> 'end')::timestamp AT TIME ZONE v_tz END;
          IF v_new.starts_at IS NULL OR v_new.ends_at IS NULL OR NOT (v_new.ends_at > v_new.starts_at)
             OR NOT (isfinite(v_new.starts_at) AND isfinite(v_new.ends_at)) THEN
            RAISE EXCEPTION 'an event needs a finite start and a later end';
          END IF;
        END IF;
      END IF;
      IF v_old.id IS NOT NULL AND (v_new.title, v_new.status, v_new.transparency, v_new.event_type, v_new.all_day, v_new.starts_at,
                    v_new.ends_at, v_new.start_date, v_new.end_date, v_new.time_zone, v_new.recurrence_rule,
                    v_new.exdates, v_new.deleted, v_new.source_updated_at)
                   IS NOT DISTINCT FROM
                   (v_old.title, v_old.status, v_old.transparency, v_old.event_type, v_old.all_day, v_old.starts_at,
                    v_old.ends_at, v_old.start_date, v_old.end_date, v_old.time_zone, v_old.recurrence_rule,
                    v_old.exdates, v_old.deleted, v_old.source_updated_at) THEN
        v_unchanged := v_unchanged + 1;  -- a duplicate delivery
        CONTINUE;
      END IF;
      IF v_i IS NULL THEN
        v_new.id := gen_random_uuid();
        v_keys := v_keys || v_key;
        v_rows := v_rows || v_new;
        v_in_table := v_in_table || false;
        v_dirty := v_dirty || true;
      ELSE
        v_new.id := v_old.id;
        v_new.created_at := v_old.created_at;
        v_new.expansion_note := v_old.expansion_note;
        v_rows[v_i] := v_new;
        v_dirty[v_i] := true;
      END IF;
      IF v_new.recurrence_id <> '' THEN
        v_masters := v_masters || v_new.external_id;
      END IF;
      IF v_new.deleted THEN
        v_deleted := v_deleted + 1;
      ELSIF v_old.id IS NULL THEN
        v_inserted := v_inserted + 1;
      ELSE
        v_updated := v_updated + 1;
      END IF;
  END LOOP;
  EXCEPTION
    WHEN invalid_text_representation OR invalid_datetime_format OR datetime_field_overflow
         OR check_violation OR raise_exception OR not_null_violation OR string_data_right_truncation THEN
      RAISE EXCEPTION 'event % of the delivery: %', v_n, SQLERRM USING ERRCODE = 'invalid_parameter_value';
  END;
  -- The changed events, in one statement (new ones with the ids given above). (The checks above
  -- are the table's; should one still fail, the delivery is refused as a bad one.)
  BEGIN
  INSERT INTO booking.calendar_events AS c (id, organization_id, integration_id, external_id, recurrence_id, title, status,
                                            transparency, event_type, all_day, starts_at, ends_at, start_date, end_date,
                                            time_zone, recurrence_rule, exdates, source_updated_at, deleted)
  SELECT r.id, r.organization_id, r.integration_id, r.external_id, r.recurrence_id, r.title, r.status,
         coalesce(r.transparency, 'opaque'), coalesce(r.event_type, 'default'), coalesce(r.all_day, false),
         r.starts_at, r.ends_at, r.start_date, r.end_date, r.time_zone, r.recurrence_rule, coalesce(r.exdates, '{}'),
         r.source_updated_at, r.deleted
  FROM generate_subscripts(v_rows, 1) AS i, LATERAL (SELECT (v_rows[i]).*) AS r
  WHERE v_dirty[i]
  ON CONFLICT ON CONSTRAINT calendar_events_once DO UPDATE
  SET title = EXCLUDED.title, status = EXCLUDED.status, transparency = EXCLUDED.transparency,
      event_type = EXCLUDED.event_type, all_day = EXCLUDED.all_day, starts_at = EXCLUDED.starts_at,
      ends_at = EXCLUDED.ends_at, start_date = EXCLUDED.start_date, end_date = EXCLUDED.end_date,
      time_zone = EXCLUDED.time_zone, recurrence_rule = EXCLUDED.recurrence_rule, exdates = EXCLUDED.exdates,
      source_updated_at = EXCLUDED.source_updated_at, deleted = EXCLUDED.deleted;
  EXCEPTION WHEN check_violation OR not_null_violation THEN
    RAISE EXCEPTION 'an event of the delivery: %', SQLERRM USING ERRCODE = 'invalid_parameter_value';
  END;
  -- Their busy time: a single event's (or an override's) own instants, unless it is cancelled or
  -- the provider's copy of one of our bookings (see materialize_calendar_event); a series'
  -- occurrences through materialize_calendar_event.
  DELETE FROM booking.calendar_busy
  WHERE event_id IN (SELECT (v_rows[i]).id FROM generate_subscripts(v_rows, 1) AS i WHERE v_dirty[i] AND v_in_table[i]);
  UPDATE booking.calendar_events SET expansion_note = NULL
  WHERE id IN (SELECT (v_rows[i]).id FROM generate_subscripts(v_rows, 1) AS i
               WHERE v_dirty[i] AND v_in_table[i] AND (v_rows[i]).expansion_note IS NOT NULL
                 AND ((v_rows[i]).recurrence_rule IS NULL OR (v_rows[i]).recurrence_id <> ''));
  INSERT INTO booking.calendar_busy (event_id, organization_id, integration_id, starts_at, ends_at, status, transparency)
  SELECT r.id, r.organization_id, r.integration_id, r.starts_at, r.ends_at, r.status, r.transparency
  FROM generate_subscripts(v_rows, 1) AS i, LATERAL (SELECT (v_rows[i]).*) AS r
  WHERE v_dirty[i] AND (r.recurrence_rule IS NULL OR r.recurrence_id <> '') AND NOT r.deleted AND r.status <> 'cancelled'
    AND NOT booking_internal.is_own_booking_copy(p_integration_id, r.external_id);
  PERFORM booking_internal.materialize_calendar_event((v_rows[i]).id)
  FROM generate_subscripts(v_rows, 1) AS i
  WHERE v_dirty[i] AND (v_rows[i]).recurrence_rule IS NOT NULL AND (v_rows[i]).recurrence_id = '';
  -- A series whose overrides changed holds different dates now.
  PERFORM booking_internal.materialize_calendar_event(m.id)
  FROM booking.calendar_events m
  WHERE m.integration_id = p_integration_id AND m.recurrence_id = '' AND m.external_id = ANY (v_masters);
  RETURN jsonb_build_object('inserted', v_inserted, 'updated', v_updated, 'deleted', v_deleted, 'unchanged', v_unchanged);
END $$;

-- For the worker (service_role): apply a delivery of a provider's events (see
-- apply_calendar_events for the fields). Idempotent: the same delivery again, or an older
-- version of an event, changes nothing; a deletion is kept as a cancelled tombstone so that a
-- late copy of the event does not bring it back. Errors: 42501 for anyone but service_role;
-- 22023 for an unknown integration, more than 2000 events or 2 MB, or a bad event (named).
CREATE FUNCTION booking.upsert_calendar_events(p_integration_id uuid, p_events jsonb) RETURNS jsonb
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  PERFORM booking_internal.require_privileged('upsert_calendar_events');
  RETURN booking_internal.apply_calendar_events(p_integration_id, p_events);
END $$;

-- For the worker (service_role): how a sync went. p_status along pending -> syncing ->
-- success | error (and back to syncing); last_sync_at is set on success; p_error is kept on
-- error; p_needs_reauthorization marks credentials that failed, and notifies the
-- organization's owners and admins once (until a successful sync clears it).
CREATE FUNCTION booking.report_sync_result(p_integration_id uuid, p_status text, p_error text DEFAULT NULL,
                                           p_needs_reauthorization boolean DEFAULT false, p_sync_token text DEFAULT NULL)
RETURNS booking.calendar_integrations
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_row booking.calendar_integrations;
BEGIN
  PERFORM booking_internal.require_privileged('report_sync_result');
  IF p_status IS NULL OR p_status NOT IN ('syncing', 'success', 'error') THEN
    RAISE EXCEPTION 'p_status is syncing, success or error' USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF length(p_error) > 4000 OR length(p_sync_token) > 2000 THEN
    RAISE EXCEPTION 'p_error may have 4000 characters and p_sync_token 2000' USING ERRCODE = 'invalid_parameter_value';
  END IF;
  SELECT * INTO v_row FROM booking.calendar_integrations WHERE id = p_integration_id FOR UPDATE;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'unknown calendar integration %', p_integration_id USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF p_status = 'syncing' AND v_row.sync_status = 'syncing' THEN
    RAISE EXCEPTION 'the integration is syncing already' USING ERRCODE = 'PT409', DETAIL = 'sync_transition';
  END IF;
  IF p_status IN ('success', 'error') AND v_row.sync_status <> 'syncing' THEN
    RAISE EXCEPTION 'a sync ends after it started: the integration is %', v_row.sync_status
      USING ERRCODE = 'PT409', DETAIL = 'sync_transition', HINT = 'Report syncing first.';
  END IF;
  UPDATE booking.calendar_integrations
  SET sync_status = p_status,
      last_sync_at = CASE WHEN p_status = 'success' THEN now() ELSE last_sync_at END,
      error_message = CASE p_status WHEN 'error' THEN coalesce(p_error, 'the sync failed') WHEN 'success' THEN NULL ELSE error_message END,
      sync_token = coalesce(p_sync_token, sync_token),
      needs_reauthorization = CASE WHEN p_status = 'success' THEN false
                                   WHEN p_needs_reauthorization THEN true ELSE needs_reauthorization END,
      reauthorization_notified_at = CASE WHEN p_status = 'success' THEN NULL ELSE reauthorization_notified_at END
  WHERE id = p_integration_id
  RETURNING * INTO v_row;
  IF v_row.needs_reauthorization AND v_row.reauthorization_notified_at IS NULL THEN
    INSERT INTO booking.notifications (organization_id, recipient_id, notification_type, message, metadata)
    SELECT v_row.organization_id, m.user_id, 'calendar_reauthorization',
           booking_internal.render_notification(v_row.organization_id, 'calendar_reauthorization',
             jsonb_build_object('calendar', coalesce(v_row.name, v_row.calendar_id), 'provider', v_row.provider,
                                'error', v_row.error_message)),
           jsonb_build_object('integration_id', v_row.id, 'provider', v_row.provider, 'error', v_row.error_message)
    FROM booking.members m
    WHERE m.organization_id = v_row.organization_id AND m.is_active AND m.role IN ('owner', 'admin');
    UPDATE booking.calendar_integrations SET reauthorization_notified_at = now() WHERE id = v_row.id
    RETURNING * INTO v_row;
  END IF;
  RETURN v_row;
END $$;

-- ---------------------------------------------------------------------------------------------
-- iCalendar: files in, feeds out
-- ---------------------------------------------------------------------------------------------

-- booking.import_ics(p_integration_id, p_ics) (native, mod.rs beside this file): staff (or
-- service_role) import an iCalendar file into an integration as one delivery of
-- apply_calendar_events; booking_internal.resource_calendar_ics_text(p_resource_id) (native)
-- writes a resource's bookings as an iCalendar feed. Both exist before this script runs (its
-- `requires`).

-- A function returning this domain is served by PostgREST (12+) as text/calendar to a client
-- that asks for it (Accept: text/calendar): its media type handlers go by the domain's name.
CREATE DOMAIN booking."text/calendar" AS text;

-- The feed of a resource's bookings (pending and approved, from 30 days ago to 366 days ahead,
-- at most 5000), as iCalendar: titled for those who may see each booking, "Busy" for others.
-- Anyone who may see the resource may read it (anon too, for a bookable resource of a public
-- organization); 22023 for an unknown resource or one the caller may not see. It runs as the
-- owner only to reach the native function (schema booking_internal, which anon may not use);
-- that function checks the caller itself (the role it acts as and its JWT, never the owner).
CREATE FUNCTION booking.resource_calendar_ics(p_resource_id uuid) RETURNS booking."text/calendar"
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$ SELECT booking_internal.resource_calendar_ics_text(p_resource_id)::booking."text/calendar" $$;

-- ---------------------------------------------------------------------------------------------

-- What a calendar.push event tells the worker: the booking (as it is, or as it was for a
-- delete from the calendars of the resource it left), the integration, and what to do.
CREATE FUNCTION booking_internal.calendar_push_payload(p_booking booking.bookings, p_integration booking.calendar_integrations,
                                                       p_action text, p_status text) RETURNS jsonb
LANGUAGE sql STABLE PARALLEL SAFE
AS $$
  SELECT jsonb_build_object('booking_id', p_booking.id, 'integration_id', p_integration.id, 'provider', p_integration.provider,
                            'calendar_id', p_integration.calendar_id, 'resource_id', p_booking.resource_id, 'action', p_action,
                            'status', p_status, 'title', p_booking.title, 'starts_at', p_booking.starts_at,
                            'ends_at', p_booking.ends_at, 'external_calendar_event_id', p_booking.external_calendar_event_id)
$$;

-- The integrations a resource's bookings are pushed to: its linked calendars but iCalendar
-- feeds (read only). A quoted SQL body, inlined into the pushes below.
CREATE FUNCTION booking_internal.pushing_integrations(p_resource_id uuid) RETURNS SETOF booking.calendar_integrations
LANGUAGE sql STABLE PARALLEL SAFE
AS $$
  SELECT i.* FROM booking.calendar_integration_resources l
  JOIN booking.calendar_integrations i ON i.id = l.integration_id
  WHERE l.resource_id = p_resource_id AND i.provider <> 'ics'
$$;

-- A change of a booking's time, status, title or resource.
CREATE FUNCTION booking_internal.bookings_calendar_push() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  IF booking_internal.is_bulk_load() THEN
    RETURN NULL;
  END IF;
  -- Moved to another resource: the calendars of the one it left drop it.
  IF OLD.resource_id IS DISTINCT FROM NEW.resource_id THEN
    INSERT INTO booking.outbox (organization_id, topic, payload)
    SELECT OLD.organization_id, 'calendar.push', booking_internal.calendar_push_payload(OLD, i, 'delete', NEW.status)
    FROM booking_internal.pushing_integrations(OLD.resource_id) i;
  END IF;
  INSERT INTO booking.outbox (organization_id, topic, payload)
  SELECT NEW.organization_id, 'calendar.push',
         booking_internal.calendar_push_payload(NEW, i, CASE WHEN NOT booking_internal.holds_time(NEW.status) THEN 'delete'
                                                             ELSE 'update' END, NEW.status)
  FROM booking_internal.pushing_integrations(NEW.resource_id) i;
  RETURN NULL;
END $$;

-- New bookings that hold time, all the rows of one INSERT in one statement.
CREATE FUNCTION booking_internal.bookings_calendar_push_inserted() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  IF booking_internal.is_bulk_load() THEN
    RETURN NULL;
  END IF;
  INSERT INTO booking.outbox (organization_id, topic, payload)
  SELECT n.organization_id, 'calendar.push', booking_internal.calendar_push_payload(n, i, 'create', n.status)
  FROM new_rows n, booking_internal.pushing_integrations(n.resource_id) i
  WHERE booking_internal.holds_time(n.status)
  ORDER BY n.starts_at, n.id, i.id;
  RETURN NULL;
END $$;

-- The worker wrote back (or changed) the provider's id of a booking's event: that event is the
-- booking's own copy and holds no busy time of its own (and one that lost the id holds its time
-- again).
CREATE FUNCTION booking_internal.bookings_calendar_event_linked() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  IF booking_internal.is_bulk_load() THEN
    RETURN NULL;
  END IF;
  PERFORM booking_internal.materialize_calendar_event(e.id)
  FROM booking.calendar_events e
  JOIN booking.calendar_integration_resources l ON l.integration_id = e.integration_id
  WHERE l.resource_id IN (OLD.resource_id, NEW.resource_id)
    AND e.external_id IN (OLD.external_calendar_event_id, NEW.external_calendar_event_id);
  RETURN NULL;
END $$;
CREATE TRIGGER bookings_6_calendar_event_linked AFTER UPDATE OF external_calendar_event_id ON booking.bookings
  FOR EACH ROW WHEN (OLD.external_calendar_event_id IS DISTINCT FROM NEW.external_calendar_event_id)
  EXECUTE FUNCTION booking_internal.bookings_calendar_event_linked();
CREATE TRIGGER bookings_6_calendar_push_insert AFTER INSERT ON booking.bookings REFERENCING NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION booking_internal.bookings_calendar_push_inserted();
CREATE TRIGGER bookings_6_calendar_push_update AFTER UPDATE OF status, starts_at, ends_at, resource_id, title ON booking.bookings
  FOR EACH ROW WHEN ((OLD.status, OLD.starts_at, OLD.ends_at, OLD.resource_id, OLD.title)
                     IS DISTINCT FROM (NEW.status, NEW.starts_at, NEW.ends_at, NEW.resource_id, NEW.title))
  EXECUTE FUNCTION booking_internal.bookings_calendar_push();

-- ---------------------------------------------------------------------------------------------
-- Row-level security
-- ---------------------------------------------------------------------------------------------

-- Members see their organization's integrations and links (not the credentials, which have no
-- policy at all); staff manage them; the events and their busy time are staff's to read (the
-- slot engine reads busy time for everyone, as times only).
CREATE POLICY calendar_integrations_select ON booking.calendar_integrations FOR SELECT
  USING (organization_id = ANY ((SELECT booking.user_organization_ids())::uuid[]));
CREATE POLICY calendar_integration_resources_select ON booking.calendar_integration_resources FOR SELECT
  USING (organization_id = ANY ((SELECT booking.user_organization_ids())::uuid[]));
CREATE POLICY calendar_events_select ON booking.calendar_events FOR SELECT
  USING (organization_id = ANY ((SELECT booking.user_organization_ids('{owner,admin,staff}'))::uuid[]));
CREATE POLICY calendar_busy_select ON booking.calendar_busy FOR SELECT
  USING (organization_id = ANY ((SELECT booking.user_organization_ids('{owner,admin,staff}'))::uuid[]));
SELECT booking_internal.create_staff_write_policies(t)
FROM unnest(ARRAY['calendar_integrations', 'calendar_integration_resources']) AS t;
-- The tokens: no caller under row-level security reads a row (service_role bypasses it).
CREATE POLICY calendar_credentials_none ON booking.calendar_credentials FOR SELECT USING (false);

CREATE FUNCTION booking_internal.grant_calendars_privileges(p_role text) RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  -- A resource's feed: whoever may see the resource (the function checks), anon included.
  PERFORM booking_internal.grant_execute(p_role, ARRAY['resource_calendar_ics']);
  IF p_role IN ('authenticated', 'service_role') THEN
    PERFORM booking_internal.grant_execute(p_role, ARRAY['import_ics']);  -- staff only (it checks)
  END IF;
  IF p_role = 'authenticated' THEN
    REVOKE SELECT ON booking.calendar_credentials FROM authenticated;
    GRANT INSERT, UPDATE, DELETE ON booking.calendar_integrations, booking.calendar_integration_resources TO authenticated;
  END IF;
  IF p_role = 'service_role' THEN
    PERFORM booking_internal.grant_execute(p_role, ARRAY['upsert_calendar_events', 'report_sync_result',
                                                         'refresh_calendar_busy']);
    -- events and busy time are written by their functions only
    REVOKE INSERT, UPDATE, TRUNCATE ON booking.calendar_events, booking.calendar_busy FROM service_role;
  END IF;
END $$;

COMMENT ON TABLE booking.calendar_integrations IS 'A calendar of a provider (google, outlook, apple, ics) whose events block the linked resources: its time zone (all-day events, floating times), whether tentative events are busy, and its sync state (written by report_sync_result).';
COMMENT ON TABLE booking.calendar_credentials IS 'An integration''s tokens: service_role only (no policy, no grant, no view).';
COMMENT ON TABLE booking.calendar_integration_resources IS 'Which resources an integration''s events make busy.';
COMMENT ON TABLE booking.calendar_events IS 'A provider''s event (once per integration, external id and recurrence id; deletions kept as cancelled tombstones), written by upsert_calendar_events and import_ics.';
COMMENT ON TABLE booking.calendar_busy IS 'The instants each external event holds, one row per occurrence, for the slot engine.';
COMMENT ON FUNCTION booking.upsert_calendar_events(uuid, jsonb) IS 'service_role: applies a delivery of a provider''s events to an integration, idempotent on (integration, external id, recurrence id) and on the provider''s version; returns counts {inserted, updated, deleted, unchanged}. At most 2000 events and 2 MB (22023).';
COMMENT ON FUNCTION booking.report_sync_result(uuid, text, text, boolean, text) IS 'service_role: records a sync''s progress (syncing, then success or error); credentials that failed mark the integration as needing re-authorisation and notify its organization''s owners and admins once.';
COMMENT ON FUNCTION booking.refresh_calendar_busy() IS 'service_role: expands every recurring external event again up to the moving horizon; returns how many.';
COMMENT ON FUNCTION booking_internal.calendar_integrations_guard() IS 'Trigger: staff write integrations; the time zone defaults to the organization''s; the sync fields are report_sync_result''s.';
COMMENT ON FUNCTION booking_internal.calendar_integrations_rezone() IS 'Trigger: an integration''s new time zone materializes its events again.';
COMMENT ON FUNCTION booking_internal.calendar_horizon_days() IS 'Internal: how many days ahead of now an endless recurring external event is expanded.';
COMMENT ON FUNCTION booking_internal.materialize_calendar_event(uuid) IS 'Internal: writes the busy instants of one external event (occurrences of a series through the series engine, overrides and EXDATEs skipped, all-day events as local days).';
COMMENT ON FUNCTION booking_internal.calendar_delivery_limits() IS 'Internal: the most events and bytes one delivery or import may carry.';
COMMENT ON FUNCTION booking_internal.apply_calendar_events(uuid, jsonb) IS 'Internal: applies a delivery of events to an integration (upsert_calendar_events and import_ics).';
COMMENT ON FUNCTION booking_internal.bookings_calendar_push() IS 'Trigger: a calendar.push outbox event per linked integration when a booking of a linked resource is moved or changes status.';
COMMENT ON FUNCTION booking_internal.bookings_calendar_push_inserted() IS 'Statement trigger: a calendar.push outbox event per linked integration for every new booking holding time on a linked resource (transition table new_rows).';
COMMENT ON FUNCTION booking_internal.pushing_integrations(uuid) IS 'Internal: the integrations a resource''s bookings are pushed to (its linked calendars but iCalendar feeds).';
COMMENT ON FUNCTION booking_internal.calendar_push_payload(booking.bookings, booking.calendar_integrations, text, text) IS 'Internal: the payload of a calendar.push outbox event.';
COMMENT ON DOMAIN booking."text/calendar" IS 'iCalendar text (RFC 5545): PostgREST serves a function returning it as text/calendar to Accept: text/calendar.';
COMMENT ON FUNCTION booking.import_ics(uuid, text) IS 'Staff of the integration''s organization (or service_role): imports an iCalendar file (Google, Outlook, Apple exports; Windows zone names mapped to IANA) into an integration as one idempotent delivery; returns the counts {inserted, updated, deleted, unchanged} and events (the VEVENTs read; skipped: those holding no time). 22023 for more than 2 MB (checked first), an unknown integration, more than 2000 events, or a VEVENT refused (named: no UID or DTSTART, an unknown time zone); 42501 for anyone else.';
COMMENT ON FUNCTION booking.resource_calendar_ics(uuid) IS 'A resource''s bookings (pending as TENTATIVE, approved as CONFIRMED; from 30 days ago to 366 days ahead, at most 5000) as an iCalendar feed, served as text/calendar by PostgREST; titled for those who may see each booking, Busy for everyone else. For whoever may see the resource (anon too, for a bookable resource of a public organization); 22023 otherwise.';
COMMENT ON FUNCTION booking_internal.resource_calendar_ics_text(uuid) IS 'Internal: the text of booking.resource_calendar_ics (native; checks that the caller may see the resource, runs as the owner).';
COMMENT ON FUNCTION booking_internal.is_own_booking_copy(uuid, text) IS 'Internal: is this provider event the copy of one of our own bookings (its id written back to a booking of a linked resource)? Such an event holds no busy time.';
COMMENT ON FUNCTION booking_internal.bookings_calendar_event_linked() IS 'Trigger: a booking''s provider event id written back makes that event the booking''s own copy, holding no busy time (and the reverse).';
COMMENT ON FUNCTION booking_internal.recurrence_date(text, text) IS 'Internal: the local date an override''s recurrence id names (YYYYMMDD, YYYY-MM-DD, or a date-time), NULL when it names none.';
COMMENT ON FUNCTION booking_internal.grant_calendars_privileges(text) IS 'Internal: the calendars module''s grants to an API role (called by grant_api_privileges).';
-- END COPY src/calendars/calendars.sql
-- =============================================================================================
-- New module: templates (src/templates/templates.sql, as of 0.2.0), and the notifications of the
-- older modules written through it: bookings_notify (notifications) renders its texts with
-- render_notification (the workshops, engagement and calendars modules above are new in 0.2.0
-- and already call it).
-- =============================================================================================

-- BEGIN COPY src/templates/templates.sql
-- booking_ext, module templates: the texts of notifications (seed 002's notification_templates).
-- An organization overrides the built-in text of a notification key per channel (in_app, email,
-- sms) and locale; booking_ext's own notifications (booking status changes and requests,
-- messages, calendar re-authorisation, workshop registrations) are written through
-- booking_internal.render_notification, which uses the organization's in_app template of the key
-- (locale NULL) when it has an active one, and the built-in default otherwise. The defaults are
-- exactly the texts booking_ext wrote before templates existed.
--
-- Placeholders are {{name}} (spaces inside the braces allowed): lower-case names from the key's
-- list in booking.notification_template_keys(). A template naming an unknown key, a placeholder
-- the key does not offer, or a malformed {{ is refused when it is saved (22023), by a trigger, so
-- every path (the API, service_role, a superuser) is checked. Rendering is one pass over the
-- text, splitting at {{: a value is never read again for placeholders, and a placeholder without
-- a value renders as the empty string. For the email channel values are HTML-escaped.

-- The notification keys of booking_ext, what each may say, and its built-in text. The one list:
-- the save check, render_template and render_notification all read it.
CREATE FUNCTION booking.notification_template_keys()
RETURNS TABLE (template_key text, placeholders text[], default_subject text, default_body text, description text)
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
  VALUES
    ('booking_status',
     '{title,status,previous_status,starts_at,ends_at,reason,booking_id,resource_id}'::text[],
     'Your {{title}} is now {{status}}', 'Your {{title}} is now {{status}}.',
     'To the booker, when their booking''s status changes (status with spaces: no show, changes requested).'),
    ('booking_request',
     '{title,status,starts_at,ends_at,reason,booking_id,resource_id}'::text[],
     'New request to approve', 'New request to approve: {{title}}.',
     'To the organization''s owners, admins and staff, when a booking waits for approval.'),
    ('message',
     '{sender_name,preview,thread_id,message_id,sender_id}'::text[],
     'New message from {{sender_name}}', 'New message from {{sender_name}}: {{preview}}',
     'To the other participant of a thread, for each message (preview: the first 80 characters).'),
    ('calendar_reauthorization',
     '{calendar,provider,error}'::text[],
     'Reconnect the calendar {{calendar}}', 'The calendar {{calendar}} needs to be connected again.',
     'To the organization''s owners and admins, once, when a calendar''s credentials stop working.'),
    ('registration_promoted',
     '{title,status,seats}'::text[],
     'You are registered for {{title}}', 'A seat came free: you are now registered for {{title}}.',
     'To a person on a waiting list who got a seat.'),
    ('registration_offered',
     '{title,status,seats,offer_expires_at}'::text[],
     'A seat is free for {{title}}', 'A seat came free for {{title}}: accept it before {{offer_expires_at}}.',
     'To a person on a waiting list offered a seat (offer mode).'),
    ('session_cancelled',
     '{title,starts_at,status}'::text[],
     '{{title}} is cancelled', 'The session of {{title}} on {{starts_at}} is cancelled.',
     'To each registrant of a workshop session that was cancelled.'),
    ('request_approved',
     '{request_type,status,notes,external_id,request_id,booking_id}'::text[],
     'Your {{request_type}} request is approved', 'Your {{request_type}} request is approved.',
     'To the signed-in submitter of an external request, when staff approve it (module intake).'),
    ('request_rejected',
     '{request_type,status,notes,external_id,request_id}'::text[],
     'Your {{request_type}} request is rejected', 'Your {{request_type}} request is rejected. {{notes}}',
     'To the signed-in submitter of an external request, when staff reject it, with their reason (module intake).'),
    ('request_cancelled',
     '{request_type,status,notes,external_id,request_id}'::text[],
     'Your {{request_type}} request is cancelled', 'Your {{request_type}} request is cancelled. {{notes}}',
     'To the signed-in submitter of an external request, when staff cancel it (module intake).'),
    ('session_moved',
     '{title,starts_at,status}'::text[],
     '{{title}} moved', 'The session of {{title}} moved to {{starts_at}}.',
     'To each registrant of a workshop session that moved.')
$$;

-- The placeholder names of a text, in order of appearance (repeats kept); 22023 for a {{ that
-- does not open a placeholder ({{name}}, name: a lower-case letter, then letters, digits, _).
CREATE FUNCTION booking_internal.template_placeholders(p_text text) RETURNS text[]
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_parts text[];
  v_names text[] := '{}'::text[];
  v_end   integer;
  v_name  text;
BEGIN
  IF p_text IS NULL OR position('{{' IN p_text) = 0 THEN
    RETURN v_names;
  END IF;
  v_parts := string_to_array(p_text, '{{');
  FOR i IN 2 .. cardinality(v_parts) LOOP
    v_end := position('}}' IN v_parts[i]);
    v_name := CASE WHEN v_end > 0 THEN btrim(substr(v_parts[i], 1, v_end - 1)) END;
    IF v_name IS NULL OR v_name !~ '^[a-z][a-z0-9_]{0,62}$' THEN
      RAISE EXCEPTION 'malformed placeholder near "{{%"', left(v_parts[i], 20)
        USING ERRCODE = 'invalid_parameter_value', HINT = 'A placeholder is {{name}}; a text cannot hold a literal {{.';
    END IF;
    v_names := v_names || v_name;
  END LOOP;
  RETURN v_names;
END $$;

-- A text with its placeholders replaced by the values of p_data (the empty string for a missing
-- or null value; JSON numbers and booleans as their text), HTML-escaped when p_escape_html. One
-- pass: a value is never scanned for placeholders. Texts are checked when saved; anything after
-- an unclosed {{ is kept as it is.
CREATE FUNCTION booking_internal.fill_template(p_text text, p_data jsonb, p_escape_html boolean) RETURNS text
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_parts text[];
  v_out   text;
  v_end   integer;
  v_value text;
BEGIN
  IF p_text IS NULL OR position('{{' IN p_text) = 0 THEN
    RETURN p_text;
  END IF;
  v_parts := string_to_array(p_text, '{{');
  v_out := v_parts[1];
  FOR i IN 2 .. cardinality(v_parts) LOOP
    v_end := position('}}' IN v_parts[i]);
    IF v_end = 0 THEN
      v_out := v_out || '{{' || v_parts[i];
      CONTINUE;
    END IF;
    v_value := coalesce(p_data ->> btrim(substr(v_parts[i], 1, v_end - 1)), '');
    IF p_escape_html THEN
      v_value := replace(replace(replace(replace(replace(v_value, '&', '&amp;'), '<', '&lt;'), '>', '&gt;'),
                                 '"', '&quot;'), '''', '&#39;');
    END IF;
    v_out := v_out || v_value || substr(v_parts[i], v_end + 2);
  END LOOP;
  RETURN v_out;
END $$;

-- ---------------------------------------------------------------------------------------------
-- The organizations' templates
-- ---------------------------------------------------------------------------------------------

CREATE TABLE booking.notification_templates (
  id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  organization_id uuid NOT NULL REFERENCES booking.organizations (id) ON DELETE CASCADE,
  template_key    text NOT NULL CONSTRAINT notification_templates_key_size CHECK (length(template_key) BETWEEN 1 AND 100),
  channel         text NOT NULL DEFAULT 'in_app'
                  CONSTRAINT notification_templates_channel_check CHECK (channel IN ('in_app', 'email', 'sms')),
  -- NULL: any locale; else a language tag such as fr or fr-CA (language in lower case)
  locale          text CONSTRAINT notification_templates_locale_format
                  CHECK (locale ~ '^[a-z]{2,3}(-[A-Za-z0-9]{1,8}){0,3}$' AND length(locale) <= 35),
  subject         text CONSTRAINT notification_templates_subject_size CHECK (length(subject) <= 500),
  body            text NOT NULL CONSTRAINT notification_templates_body_not_blank CHECK (btrim(body, E' \t\r\n\f\x0B') <> '')
                  CONSTRAINT notification_templates_body_size CHECK (length(body) <= 10000),
  is_active       boolean NOT NULL DEFAULT true,
  created_by      text DEFAULT booking.current_user_id(),
  created_at      timestamptz NOT NULL DEFAULT now(),
  updated_at      timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT notification_templates_once UNIQUE NULLS NOT DISTINCT (organization_id, template_key, channel, locale)
);
SELECT booking_internal.register_table('notification_templates', 'templates', true, 'notification_template');

-- A template names a key of booking_ext and only the placeholders that key offers, in its
-- subject and its body: checked on every insert and update (not when a restore replays rows
-- that were checked when written).
CREATE FUNCTION booking_internal.notification_templates_check() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_allowed text[];
  v_unknown text[];
BEGIN
  IF booking_internal.is_bulk_load() THEN
    RETURN NEW;
  END IF;
  SELECT k.placeholders INTO v_allowed FROM booking.notification_template_keys() k WHERE k.template_key = NEW.template_key;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'unknown notification template key "%"', NEW.template_key
      USING ERRCODE = 'invalid_parameter_value',
            HINT = format('The keys are: %s (booking.notification_template_keys()).',
                          (SELECT string_agg(k.template_key, ', ' ORDER BY k.template_key) FROM booking.notification_template_keys() k));
  END IF;
  SELECT array_agg(DISTINCT p ORDER BY p) INTO v_unknown
  FROM unnest(booking_internal.template_placeholders(NEW.subject) || booking_internal.template_placeholders(NEW.body)) p
  WHERE p <> ALL (v_allowed);
  IF v_unknown IS NOT NULL THEN
    RAISE EXCEPTION 'unknown placeholder(s) for template key %: %', NEW.template_key, array_to_string(v_unknown, ', ')
      USING ERRCODE = 'invalid_parameter_value',
            HINT = format('%s may use: %s.', NEW.template_key, array_to_string(v_allowed, ', '));
  END IF;
  RETURN NEW;
END $$;
CREATE TRIGGER notification_templates_1_check BEFORE INSERT OR UPDATE ON booking.notification_templates
  FOR EACH ROW EXECUTE FUNCTION booking_internal.notification_templates_check();

-- Members read their organization's templates; its owners and admins write them.
CREATE POLICY notification_templates_select ON booking.notification_templates FOR SELECT
  USING (organization_id = ANY ((SELECT booking.user_organization_ids())::uuid[]));
CREATE POLICY notification_templates_insert ON booking.notification_templates FOR INSERT
  WITH CHECK (organization_id = ANY ((SELECT booking.user_organization_ids('{owner,admin}'))::uuid[]));
CREATE POLICY notification_templates_update ON booking.notification_templates FOR UPDATE
  USING (organization_id = ANY ((SELECT booking.user_organization_ids('{owner,admin}'))::uuid[]))
  WITH CHECK (organization_id = ANY ((SELECT booking.user_organization_ids('{owner,admin}'))::uuid[]));
CREATE POLICY notification_templates_delete ON booking.notification_templates FOR DELETE
  USING (organization_id = ANY ((SELECT booking.user_organization_ids('{owner,admin}'))::uuid[]));

-- ---------------------------------------------------------------------------------------------
-- Rendering
-- ---------------------------------------------------------------------------------------------

-- The text of one of booking_ext's own notifications: the organization's active in_app
-- template of the key for any locale (locale NULL; the database does not know the recipient's
-- language), else the built-in default. Called by the definer-rights functions that write
-- notifications (bookings_notify, post_message, report_sync_result, notify_registrant), on
-- their write path: one index probe and one pass over the text, no dynamic SQL.
CREATE FUNCTION booking_internal.render_notification(p_organization_id uuid, p_key text, p_data jsonb) RETURNS text
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_body text;
BEGIN
  IF p_organization_id IS NOT NULL THEN
    SELECT t.body INTO v_body FROM booking.notification_templates t
    WHERE t.organization_id = p_organization_id AND t.template_key = p_key AND t.channel = 'in_app'
      AND t.locale IS NULL AND t.is_active;
  END IF;
  IF v_body IS NULL THEN
    SELECT k.default_body INTO v_body FROM booking.notification_template_keys() k WHERE k.template_key = p_key;
    IF NOT FOUND THEN
      RAISE EXCEPTION 'unknown notification template key "%"', p_key USING ERRCODE = 'invalid_parameter_value';
    END IF;
  END IF;
  RETURN booking_internal.fill_template(v_body, p_data, false);
END $$;

-- A notification's subject and body rendered for an app to send (by e-mail, SMS or in the app):
-- the organization's (p_data.organization_id) active template of the key for the channel, the
-- locale falling back from p_locale to its language (fr-CA, fr) to the template for any locale,
-- and to the built-in default; without p_data.organization_id, the built-in default. Returns
-- {template_key, channel, locale, subject, body, template_id, source} (source: organization or
-- default; template_id and locale NULL for the default). Errors: 42501 anonymous, or when the
-- caller is not a member of the organization (service_role may render any); 22023 for an
-- unknown key, a key over 100 characters, a channel other than in_app/email/sms, a malformed
-- locale, p_data not an object or over 16 kB, or an organization_id that is not a uuid.
CREATE FUNCTION booking.render_template(p_key text, p_data jsonb, p_channel text DEFAULT 'in_app', p_locale text DEFAULT NULL)
RETURNS jsonb
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_data     jsonb := coalesce(booking_internal.check_json_object('p_data', p_data), '{}'::jsonb);
  v_org_text text;
  v_org      uuid;
  v_default  record;
  v_template booking.notification_templates;
  v_escape   boolean;
BEGIN
  PERFORM booking_internal.check_text_argument('p_key', p_key, 100);
  IF p_channel IS NULL OR p_channel NOT IN ('in_app', 'email', 'sms') THEN
    RAISE EXCEPTION 'p_channel is in_app, email or sms' USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF p_locale IS NOT NULL AND (length(p_locale) > 35 OR p_locale !~ '^[a-z]{2,3}(-[A-Za-z0-9]{1,8}){0,3}$') THEN
    RAISE EXCEPTION 'p_locale is a language tag such as fr or fr-CA' USING ERRCODE = 'invalid_parameter_value';
  END IF;
  SELECT * INTO v_default FROM booking.notification_template_keys() k WHERE k.template_key = p_key;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'unknown notification template key "%"', p_key USING ERRCODE = 'invalid_parameter_value',
      HINT = 'The keys are listed by booking.notification_template_keys().';
  END IF;
  IF booking.current_user_id() IS NULL AND NOT booking_internal.is_privileged() THEN
    RAISE EXCEPTION 'render_template() needs a signed-in user' USING ERRCODE = 'insufficient_privilege';
  END IF;
  v_org_text := v_data ->> 'organization_id';
  IF v_org_text IS NOT NULL THEN
    IF v_org_text !~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$' THEN
      RAISE EXCEPTION 'p_data.organization_id is not a uuid' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    v_org := v_org_text::uuid;
    IF NOT (booking_internal.is_privileged() OR booking.is_member(v_org)) THEN
      RAISE EXCEPTION 'you render the templates of organizations you are a member of' USING ERRCODE = 'insufficient_privilege';
    END IF;
    -- (row-level security shows members their organization's templates)
    SELECT * INTO v_template FROM booking.notification_templates t
    WHERE t.organization_id = v_org AND t.template_key = p_key AND t.channel = p_channel AND t.is_active
      AND (t.locale IS NULL OR t.locale = p_locale OR t.locale = split_part(p_locale, '-', 1))
    ORDER BY CASE WHEN t.locale = p_locale THEN 0 WHEN t.locale IS NOT NULL THEN 1 ELSE 2 END
    LIMIT 1;
  END IF;
  v_escape := p_channel = 'email';
  IF v_template.id IS NULL THEN
    RETURN jsonb_build_object('template_key', p_key, 'channel', p_channel, 'locale', NULL,
                              'subject', booking_internal.fill_template(v_default.default_subject, v_data, v_escape),
                              'body', booking_internal.fill_template(v_default.default_body, v_data, v_escape),
                              'template_id', NULL, 'source', 'default');
  END IF;
  RETURN jsonb_build_object('template_key', p_key, 'channel', p_channel, 'locale', v_template.locale,
                            'subject', booking_internal.fill_template(coalesce(v_template.subject, v_default.default_subject),
                                                                      v_data, v_escape),
                            'body', booking_internal.fill_template(v_template.body, v_data, v_escape),
                            'template_id', v_template.id, 'source', 'organization');
END $$;

-- ---------------------------------------------------------------------------------------------
-- Privileges
-- ---------------------------------------------------------------------------------------------

CREATE FUNCTION booking_internal.grant_templates_privileges(p_role text) RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  -- the list of keys is documentation: anyone may read it
  PERFORM booking_internal.grant_execute(p_role, ARRAY['notification_template_keys']);
  IF p_role = 'anon' THEN
    RETURN;
  END IF;
  -- render_template and the save check run as the caller
  PERFORM booking_internal.grant_execute(p_role, ARRAY['render_template', 'fill_template', 'template_placeholders']);
  IF p_role = 'authenticated' THEN
    GRANT INSERT, UPDATE, DELETE ON booking.notification_templates TO authenticated;
  END IF;
END $$;

COMMENT ON TABLE booking.notification_templates IS 'An organization''s text for one of booking_ext''s notification keys, per channel (in_app, email, sms) and locale (NULL: any): subject and body with {{placeholders}} of the key (checked when saved, 22023). Members read, owners and admins write.';
COMMENT ON FUNCTION booking.notification_template_keys() IS 'The notification keys of booking_ext: for each, the placeholders a template may use and the built-in default subject and body (the texts used when an organization has no active template).';
COMMENT ON FUNCTION booking.render_template(text, jsonb, text, text) IS 'A notification''s subject and body for the key, channel and locale (fallback: exact, language, any locale, built-in default) of the organization in p_data.organization_id (members only, 42501), with p_data''s values (HTML-escaped for email; missing ones empty): {template_key, channel, locale, subject, body, template_id, source}. 22023 for an unknown key, channel or malformed locale, p_data over 16 kB.';
COMMENT ON FUNCTION booking_internal.template_placeholders(text) IS 'Internal: the {{placeholder}} names of a text in order; 22023 for a malformed {{.';
COMMENT ON FUNCTION booking_internal.fill_template(text, jsonb, boolean) IS 'Internal: a text with its {{placeholders}} replaced by p_data''s values in one pass (missing: empty), HTML-escaped when asked.';
COMMENT ON FUNCTION booking_internal.notification_templates_check() IS 'Trigger: a template names a known key and only that key''s placeholders (22023).';
COMMENT ON FUNCTION booking_internal.render_notification(uuid, text, jsonb) IS 'Internal: the message of one of booking_ext''s own notifications: the organization''s active in_app template of the key for any locale, else the built-in default, filled with p_data.';
COMMENT ON FUNCTION booking_internal.grant_templates_privileges(text) IS 'Internal: the templates module''s grants to an API role (called by grant_api_privileges).';
-- END COPY src/templates/templates.sql
-- BEGIN COPY src/notifications/notifications.sql#replace:booking_internal.bookings_notify
CREATE OR REPLACE FUNCTION booking_internal.bookings_notify() RETURNS trigger
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
  v_data     jsonb;
  v_message  text;
BEGIN
  IF booking_internal.is_bulk_load() THEN
    RETURN NULL;
  END IF;
  -- the texts: the organization's templates, else the built-in ones (templates module)
  v_data := jsonb_build_object('title', v_what, 'status', replace(NEW.status, '_', ' '),
                               'previous_status', CASE WHEN TG_OP = 'UPDATE' THEN replace(OLD.status, '_', ' ') END,
                               'starts_at', NEW.starts_at::text, 'ends_at', NEW.ends_at::text,
                               'reason', v_metadata ->> 'reason', 'booking_id', NEW.id, 'resource_id', NEW.resource_id);
  IF TG_OP = 'UPDATE' THEN
    INSERT INTO booking.notifications (organization_id, recipient_id, notification_type, message, metadata)
    VALUES (NEW.organization_id, NEW.booked_by, 'booking_status',
            booking_internal.render_notification(NEW.organization_id, 'booking_status', v_data), v_metadata);
  END IF;
  IF NEW.status = 'pending' THEN
    v_message := booking_internal.render_notification(NEW.organization_id, 'booking_request', v_data);
    INSERT INTO booking.notifications (organization_id, recipient_id, notification_type, message, metadata)
    SELECT NEW.organization_id, m.user_id, 'booking_request', v_message, v_metadata
    FROM booking.members m
    WHERE m.organization_id = NEW.organization_id AND m.is_active
      AND m.role IN ('owner', 'admin', 'staff') AND m.user_id <> NEW.booked_by;
  END IF;
  RETURN NULL;
END $$;
-- END COPY src/notifications/notifications.sql#replace:booking_internal.bookings_notify
-- =============================================================================================
-- New module: analytics (src/analytics/analytics.sql, as of 0.2.0).
-- =============================================================================================

-- BEGIN COPY src/analytics/analytics.sql
-- booking_ext, module analytics: what visitors and users do in the apps (seed 002's
-- analytics_events), written by booking.track_event for anyone (anon included), read by the
-- staff of the organization an event is attached to, pruned by whole months.
--
-- The table is partitioned by range of created_at, one partition per calendar month in UTC
-- (whatever the session's or the organization's time zone), named
-- booking_internal.analytics_events_pYYYY_MM. Partitions are made when the first event of their
-- month arrives, by booking_internal.analytics_partition (owner rights; the callers get no DDL
-- right), which takes a self-exclusive lock on the parent and looks again before creating, so
-- fifty first events of a month at once make one partition. Partitions live in booking_internal
-- (not exposed by PostgREST, no grant to an API role, row-level security forced with no policy):
-- the rows are read through booking.analytics_events and its policy only.
--
-- Dump and restore: the parent is an extension member; the partitions are not (they are made at
-- run time), so pg_dump writes each as a table of its own attached to the parent, with its
-- rows. For that restore to run cleanly the parent has no index, primary key or foreign key of
-- its own (those would be created again on each partition by CREATE EXTENSION before the dump's
-- own copies arrive): each partition gets its key and indexes when it is made, and the
-- organization's events go with it through a trigger on organizations instead of a foreign key.

CREATE TABLE booking.analytics_events (
  id              uuid NOT NULL DEFAULT gen_random_uuid(),
  -- the organization named by event_data.organization_id, when the writer may attach to it
  organization_id uuid,
  -- true when the writer was an active member of that organization (or service_role): staff
  -- can tell their own people's events from those of visitors of a public organization
  verified        boolean NOT NULL DEFAULT false,
  user_id         text CONSTRAINT analytics_events_user_id_size CHECK (length(user_id) <= 200),
  session_id      text CONSTRAINT analytics_events_session_id_size CHECK (length(session_id) <= 200),
  event_type      text NOT NULL CONSTRAINT analytics_events_event_type_size CHECK (length(event_type) BETWEEN 1 AND 100),
  event_data      jsonb NOT NULL DEFAULT '{}'::jsonb
                  CONSTRAINT analytics_events_event_data_object CHECK (jsonb_typeof(event_data) = 'object')
                  CONSTRAINT analytics_events_event_data_size CHECK (pg_column_size(event_data) <= 4096),
  page_url        text CONSTRAINT analytics_events_page_url_size CHECK (length(page_url) <= 2048),
  -- from the request headers PostgREST passes on (referer, user-agent, x-forwarded-for)
  referrer        text CONSTRAINT analytics_events_referrer_size CHECK (length(referrer) <= 2048),
  user_agent      text CONSTRAINT analytics_events_user_agent_size CHECK (length(user_agent) <= 512),
  ip_address      inet,
  created_at      timestamptz NOT NULL DEFAULT now()
) PARTITION BY RANGE (created_at);
SELECT booking_internal.register_table('analytics_events', 'analytics', false);

-- Staff (owners, admins, staff) read their organization's events. Nobody writes or changes
-- rows directly: track_event writes, prune_analytics drops whole months.
CREATE POLICY analytics_events_select ON booking.analytics_events FOR SELECT
  USING (organization_id = ANY ((SELECT booking.user_organization_ids('{owner,admin,staff}'))::uuid[]));

-- The partition of the UTC month of p_at, made if missing (with its key and indexes, row-level
-- security forced; a new table grants nothing to anyone but its owner): safe when many sessions ask at once (a self-exclusive lock on the
-- parent, then a second look). Returns it.
CREATE FUNCTION booking_internal.analytics_partition(p_at timestamptz) RETURNS regclass
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_from  timestamp := date_trunc('month', p_at AT TIME ZONE 'UTC');
  v_name  text;
  v_rel   regclass;
BEGIN
  IF p_at IS NULL OR v_from < '2000-01-01' OR v_from >= '10000-01-01' THEN
    RAISE EXCEPTION 'analytics partitions are for the years 2000 to 9999, not %', p_at USING ERRCODE = 'invalid_parameter_value';
  END IF;
  v_name := 'analytics_events_p' || to_char(v_from, 'YYYY_MM');
  v_rel := to_regclass('booking_internal.' || v_name);
  IF v_rel IS NOT NULL THEN
    RETURN v_rel;
  END IF;
  -- one maker at a time (inserts into other months go on); taking the lock also reads the
  -- catalog changes committed meanwhile, so the second look sees a partition made by another
  LOCK TABLE booking.analytics_events IN SHARE UPDATE EXCLUSIVE MODE;
  v_rel := to_regclass('booking_internal.' || v_name);
  IF v_rel IS NOT NULL THEN
    RETURN v_rel;
  END IF;
  EXECUTE format('CREATE TABLE booking_internal.%I PARTITION OF booking.analytics_events FOR VALUES FROM (%L) TO (%L)',
                 v_name, to_char(v_from, 'YYYY-MM-DD') || ' 00:00:00+00',
                 to_char(v_from + interval '1 month', 'YYYY-MM-DD') || ' 00:00:00+00');
  EXECUTE format('ALTER TABLE booking_internal.%I ADD CONSTRAINT %I PRIMARY KEY (id)', v_name, v_name || '_pkey');
  EXECUTE format('CREATE INDEX %I ON booking_internal.%I (organization_id, created_at) WHERE organization_id IS NOT NULL',
                 v_name || '_organization_idx', v_name);
  EXECUTE format('CREATE INDEX %I ON booking_internal.%I (user_id, created_at) WHERE user_id IS NOT NULL',
                 v_name || '_user_idx', v_name);
  EXECUTE format('CREATE INDEX %I ON booking_internal.%I (event_type, created_at)', v_name || '_type_idx', v_name);
  EXECUTE format('CREATE INDEX %I ON booking_internal.%I USING brin (created_at)', v_name || '_created_at_idx', v_name);
  EXECUTE format('ALTER TABLE booking_internal.%I ENABLE ROW LEVEL SECURITY', v_name);
  EXECUTE format('ALTER TABLE booking_internal.%I FORCE ROW LEVEL SECURITY', v_name);
  RETURN format('booking_internal.%I', v_name)::regclass;
END $$;

-- The first address of an X-Forwarded-For value as inet, NULL when it is not one. An IPv4
-- address is recognised by its pattern (no subtransaction on the write path); an IPv6 one is
-- tried by the cast, in booking_internal.inet_or_null.
CREATE FUNCTION booking_internal.forwarded_address(p_value text) RETURNS inet
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_first text := btrim(split_part(p_value, ',', 1));
BEGIN
  IF v_first ~ '^((25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])\.){3}(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])$' THEN
    RETURN v_first::inet;
  END IF;
  IF length(v_first) <= 64 AND v_first ~ '^[0-9A-Fa-f:.]*:[0-9A-Fa-f:.]*$' THEN
    RETURN booking_internal.inet_or_null(v_first);
  END IF;
  RETURN NULL;
END $$;

CREATE FUNCTION booking_internal.inet_or_null(p_value text) RETURNS inet
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  RETURN p_value::inet;
EXCEPTION WHEN invalid_text_representation THEN
  RETURN NULL;
END $$;

-- Record an event. Who: anyone (anon included). The user is the JWT's subject, the IP address
-- the first of X-Forwarded-For and the user agent and referrer the headers of the request
-- (PostgREST's request.headers), never arguments. p_event_data.organization_id attaches the
-- event to an organization: verified when the caller is an active member (or service_role);
-- unverified for anyone else when the organization is public (a visitor of its pages); refused
-- (22023 unknown organization, so a private one's existence is not told) otherwise. Limits,
-- checked first (22023): p_event_type 1 to 100 characters, p_event_data an object of at most
-- 4096 bytes, p_session_id 200 and p_page_url 2048 characters. Returns the event's id.
CREATE FUNCTION booking.track_event(p_event_type text, p_event_data jsonb DEFAULT '{}', p_session_id text DEFAULT NULL,
                                    p_page_url text DEFAULT NULL)
RETURNS uuid
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_data     jsonb := coalesce(p_event_data, '{}'::jsonb);
  v_user     text;
  v_org_text text;
  v_org      uuid;
  v_verified boolean := false;
  v_headers  jsonb;
  v_id       uuid;
BEGIN
  IF p_event_type IS NULL OR btrim(p_event_type, E' \t\r\n\f\x0B') = '' OR length(p_event_type) > 100 THEN
    RAISE EXCEPTION 'p_event_type must have 1 to 100 characters' USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF jsonb_typeof(v_data) <> 'object' OR pg_column_size(v_data) > 4096 THEN
    RAISE EXCEPTION 'p_event_data must be a JSON object of at most 4096 bytes' USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF length(p_session_id) > 200 OR length(p_page_url) > 2048 THEN
    RAISE EXCEPTION 'p_session_id may have 200 characters and p_page_url 2048' USING ERRCODE = 'invalid_parameter_value';
  END IF;
  v_user := booking.current_user_id();
  v_org_text := v_data ->> 'organization_id';
  IF v_org_text IS NOT NULL THEN
    IF v_org_text !~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$' THEN
      RAISE EXCEPTION 'p_event_data.organization_id is not a uuid' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    v_org := v_org_text::uuid;
    IF v_user IS NOT NULL AND EXISTS (SELECT 1 FROM booking.members m
                                      WHERE m.organization_id = v_org AND m.user_id = v_user AND m.is_active) THEN
      v_verified := true;
    ELSIF booking_internal.is_privileged() AND EXISTS (SELECT 1 FROM booking.organizations o WHERE o.id = v_org) THEN
      v_verified := true;
    ELSIF NOT EXISTS (SELECT 1 FROM booking.organizations o WHERE o.id = v_org AND o.is_public) THEN
      RAISE EXCEPTION 'unknown organization %', v_org USING ERRCODE = 'invalid_parameter_value',
        HINT = 'Events are attached to a public organization, or to one the caller is a member of.';
    END IF;
  END IF;
  v_headers := nullif(current_setting('request.headers', true), '')::jsonb;
  IF to_regclass('booking_internal.analytics_events_p' || to_char(now() AT TIME ZONE 'UTC', 'YYYY_MM')) IS NULL THEN
    PERFORM booking_internal.analytics_partition(now());
  END IF;
  INSERT INTO booking.analytics_events (organization_id, verified, user_id, session_id, event_type, event_data, page_url,
                                        referrer, user_agent, ip_address)
  VALUES (v_org, v_verified, v_user, p_session_id, p_event_type, v_data, p_page_url,
          left(v_headers ->> 'referer', 2048), left(v_headers ->> 'user-agent', 512),
          booking_internal.forwarded_address(v_headers ->> 'x-forwarded-for'))
  RETURNING id INTO v_id;
  RETURN v_id;
END $$;

-- Drop the months of events older than p_older_than: every partition whose whole month ended
-- before now() - p_older_than. service_role only (42501: it spans every organization); 22023 for
-- an interval under one day. Returns the names of the partitions dropped, oldest first.
CREATE FUNCTION booking.prune_analytics(p_older_than interval) RETURNS text[]
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_cutoff  timestamptz;
  v_name    text;
  v_dropped text[] := '{}'::text[];
BEGIN
  PERFORM booking_internal.require_privileged('prune_analytics');
  IF p_older_than IS NULL OR p_older_than < interval '1 day' THEN
    RAISE EXCEPTION 'p_older_than must be at least 1 day, not %', coalesce(p_older_than::text, 'NULL')
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  v_cutoff := now() - p_older_than;
  FOR v_name IN
    SELECT c.relname::text FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
    WHERE i.inhparent = 'booking.analytics_events'::regclass
      AND c.relnamespace = 'booking_internal'::regnamespace
      AND c.relname ~ '^analytics_events_p[0-9]{4}_[0-9]{2}$'
    ORDER BY c.relname
  LOOP
    -- the month's end, in UTC
    EXIT WHEN (to_date(substr(v_name, 19), 'YYYY_MM') + interval '1 month') AT TIME ZONE 'UTC' > v_cutoff;
    EXECUTE format('DROP TABLE booking_internal.%I', v_name);
    v_dropped := v_dropped || v_name;
  END LOOP;
  RETURN v_dropped;
END $$;

-- An organization's events go with it (there is no foreign key: see the top of this file).
CREATE FUNCTION booking_internal.organizations_delete_analytics() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  DELETE FROM booking.analytics_events WHERE organization_id = OLD.id;
  RETURN NULL;
END $$;
CREATE TRIGGER organizations_9_delete_analytics AFTER DELETE ON booking.organizations
  FOR EACH ROW EXECUTE FUNCTION booking_internal.organizations_delete_analytics();

-- ---------------------------------------------------------------------------------------------
-- Privileges
-- ---------------------------------------------------------------------------------------------

CREATE FUNCTION booking_internal.grant_analytics_privileges(p_role text) RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  PERFORM booking_internal.grant_execute(p_role, ARRAY['track_event']);
  IF p_role = 'service_role' THEN
    PERFORM booking_internal.grant_execute(p_role, ARRAY['prune_analytics']);
    -- events are written by track_event and removed by prune_analytics (and with their organization) only
    REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON booking.analytics_events FROM service_role;
  END IF;
END $$;

COMMENT ON TABLE booking.analytics_events IS 'What visitors and users do in the apps, written by track_event (user from the JWT; IP, user agent and referrer from the request headers), partitioned by UTC month (booking_internal.analytics_events_pYYYY_MM, made as needed), read by the staff of the organization an event is attached to (verified: written by one of its members), dropped by month by prune_analytics.';
COMMENT ON FUNCTION booking.track_event(text, jsonb, text, text) IS 'Anyone: records an event (p_event_type 1-100 characters, p_event_data an object up to 4096 bytes, p_session_id 200 and p_page_url 2048 characters; 22023 otherwise); user from the JWT, IP (first X-Forwarded-For address), user agent and referrer from the request headers; p_event_data.organization_id attaches it to a public organization or one the caller belongs to (verified then). Returns its id.';
COMMENT ON FUNCTION booking.prune_analytics(interval) IS 'service_role: drops the monthly partitions of analytics_events whose whole UTC month ended before now() - p_older_than (at least 1 day, 22023); returns their names.';
COMMENT ON FUNCTION booking_internal.analytics_partition(timestamptz) IS 'Internal: the partition of analytics_events for the UTC month of a time, made if missing (key, indexes, forced row-level security, no grant); safe under concurrent first inserts.';
COMMENT ON FUNCTION booking_internal.forwarded_address(text) IS 'Internal: the first address of an X-Forwarded-For header as inet, NULL when it is none.';
COMMENT ON FUNCTION booking_internal.inet_or_null(text) IS 'Internal: a text as inet, NULL when it is not an address.';
COMMENT ON FUNCTION booking_internal.organizations_delete_analytics() IS 'Trigger: an organization''s analytics events are deleted with it.';
COMMENT ON FUNCTION booking_internal.grant_analytics_privileges(text) IS 'Internal: the analytics module''s grants to an API role (called by grant_api_privileges).';
-- END COPY src/analytics/analytics.sql

-- =============================================================================================
-- New module intake (src/intake/intake.sql): requests from outside.
-- =============================================================================================
-- BEGIN COPY src/intake/intake.sql
-- booking_ext, module intake: requests from outside (seed 002's external_requests and
-- request_attachments). AppSheet and Google Forms workers (service_role), an app's users (api)
-- and staff keying in a phone call (manual) submit requests; staff process them. A request is
-- known by (organization, source, external id): a form resubmitted or a webhook retried finds
-- the request it already made, never a second one. Approving a booking request books through
-- the rule book in the same transaction and links the request and the booking both ways.

CREATE TABLE booking.external_requests (
  id               uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  organization_id  uuid NOT NULL REFERENCES booking.organizations (id) ON DELETE CASCADE,
  source           text NOT NULL CHECK (source IN ('appsheet', 'google_forms', 'api', 'manual')),
  external_id      text NOT NULL CHECK (length(btrim(external_id)) > 0)
                   CONSTRAINT external_requests_external_id_size CHECK (length(external_id) <= 200),
  request_type     text NOT NULL CHECK (request_type IN ('booking', 'inquiry', 'complaint', 'suggestion')),
  request_data     jsonb NOT NULL CHECK (jsonb_typeof(request_data) = 'object')
                   CONSTRAINT external_requests_request_data_size CHECK (octet_length(request_data::text) <= 16384),
  status           text NOT NULL DEFAULT 'pending'
                   CHECK (status IN ('pending', 'processing', 'approved', 'rejected', 'cancelled')),
  priority         text NOT NULL DEFAULT 'normal' CHECK (priority IN ('low', 'normal', 'high', 'urgent')),
  -- The signed-in person who submitted it (sources api and manual); NULL from a worker.
  submitted_by     text CONSTRAINT external_requests_submitted_by_size CHECK (length(submitted_by) <= 200),
  assigned_to      text CONSTRAINT external_requests_assigned_to_size CHECK (length(assigned_to) <= 200),
  -- The booking an approved booking request made (bookings.external_request_id points back,
  -- with the foreign key: one direction only, so that a restore can load the two tables in
  -- turn; a trigger on bookings clears this when the booking is deleted).
  booking_id       uuid,
  -- The rule book's last refusal when approving it (the reason code and the sentence).
  refusal          text CONSTRAINT external_requests_refusal_size CHECK (length(refusal) <= 200),
  refusal_message  text CONSTRAINT external_requests_refusal_message_size CHECK (length(refusal_message) <= 4000),
  refused_at       timestamptz,
  processed_at     timestamptz,
  processed_by     text CONSTRAINT external_requests_processed_by_size CHECK (length(processed_by) <= 200),
  processing_notes text CONSTRAINT external_requests_processing_notes_size CHECK (length(processing_notes) <= 4000),
  created_at       timestamptz NOT NULL DEFAULT now(),
  updated_at       timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT external_requests_source_external_id_key UNIQUE (organization_id, source, external_id),
  UNIQUE (id, organization_id)
);
CREATE INDEX external_requests_organization_status_idx ON booking.external_requests (organization_id, status, created_at);
CREATE INDEX external_requests_organization_created_idx ON booking.external_requests (organization_id, created_at);
CREATE INDEX external_requests_source_idx ON booking.external_requests (organization_id, source);
CREATE INDEX external_requests_submitted_by_idx ON booking.external_requests (submitted_by) WHERE submitted_by IS NOT NULL;
CREATE INDEX external_requests_booking_id_idx ON booking.external_requests (booking_id, organization_id) WHERE booking_id IS NOT NULL;
SELECT booking_internal.register_table('external_requests', 'intake', true, 'external_request');

CREATE TABLE booking.request_attachments (
  id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  organization_id uuid NOT NULL REFERENCES booking.organizations (id) ON DELETE CASCADE,
  request_id      uuid NOT NULL,
  file_name       text NOT NULL CHECK (length(btrim(file_name)) > 0)
                  CONSTRAINT request_attachments_file_name_size CHECK (length(file_name) <= 255),
  file_type       text NOT NULL CONSTRAINT request_attachments_file_type_mime
                  CHECK (file_type ~ '^[a-z]+/[A-Za-z0-9][A-Za-z0-9.+_-]{0,99}$'),
  file_size       integer NOT NULL CONSTRAINT request_attachments_file_size_range
                  CHECK (file_size BETWEEN 0 AND 104857600),
  -- Metadata and a link only: the file itself lives in storage (a bucket), never in a row.
  file_url        text NOT NULL CONSTRAINT request_attachments_file_url_http CHECK (file_url ~ '^https?://[^\s]+$')
                  CONSTRAINT request_attachments_file_url_size CHECK (length(file_url) <= 2000),
  uploaded_by     text NOT NULL CONSTRAINT request_attachments_uploaded_by_size CHECK (length(uploaded_by) <= 200),
  uploaded_at     timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT request_attachments_request_same_organization FOREIGN KEY (request_id, organization_id)
    REFERENCES booking.external_requests (id, organization_id) ON DELETE CASCADE
);
CREATE INDEX request_attachments_request_id_idx ON booking.request_attachments (request_id, organization_id);
CREATE INDEX request_attachments_organization_id_idx ON booking.request_attachments (organization_id);
SELECT booking_internal.register_table('request_attachments', 'intake', true, 'request_attachment');

-- The booking an approved request made names it (the other direction of the link). Added here
-- by the intake module, so a fresh install and an upgrade put the column in the same place.
ALTER TABLE booking.bookings ADD COLUMN external_request_id uuid;
ALTER TABLE booking.bookings ADD CONSTRAINT bookings_external_request_same_organization
  FOREIGN KEY (external_request_id, organization_id)
  REFERENCES booking.external_requests (id, organization_id) ON DELETE SET NULL (external_request_id);
CREATE INDEX bookings_external_request_id_idx ON booking.bookings (external_request_id, organization_id)
  WHERE external_request_id IS NOT NULL;

-- ---------------------------------------------------------------------------------------------
-- Seed 002's smaller columns, each doing something (docs/intake.md#seed-002s-columns):
-- resources.conflict_detection_enabled (detect_conflicts skips a resource that says false),
-- resources.booking_restrictions (the rule book's minimum length and most seats a booking),
-- resources.approval_workflow_id and bookings.approval_workflow_id (the app's workflow for the
-- resource's requests, copied to each booking by the database), bookings.auto_approved (set by
-- the database: approved on creation by a resource or service that approves by itself),
-- bookings.conflict_resolution_notes (staff's). Added here, so that a fresh install and an
-- upgrade put the columns in the same place.
-- ---------------------------------------------------------------------------------------------

-- The keys of resources.booking_restrictions: 22023 naming the first wrong one, else true.
CREATE FUNCTION booking_internal.check_booking_restrictions(p_restrictions jsonb) RETURNS boolean
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_key   text;
  v_value jsonb;
  v_most  integer;
BEGIN
  IF jsonb_typeof(p_restrictions) IS DISTINCT FROM 'object' THEN
    RAISE EXCEPTION 'booking_restrictions must be a JSON object' USING ERRCODE = 'invalid_parameter_value';
  END IF;
  FOR v_key, v_value IN SELECT key, value FROM jsonb_each(p_restrictions) LOOP
    IF v_key NOT IN ('min_booking_minutes', 'max_seats_per_booking') THEN
      RAISE EXCEPTION 'booking_restrictions.% is not a restriction booking_ext knows', left(v_key, 100)
        USING ERRCODE = 'invalid_parameter_value', HINT = 'Restrictions: min_booking_minutes, max_seats_per_booking.';
    END IF;
    v_most := CASE v_key WHEN 'min_booking_minutes' THEN 10080 ELSE 100000 END;
    IF jsonb_typeof(v_value) <> 'number' OR (v_value #>> '{}')::numeric <> trunc((v_value #>> '{}')::numeric)
       OR (v_value #>> '{}')::numeric NOT BETWEEN 1 AND v_most THEN
      RAISE EXCEPTION 'booking_restrictions.% must be a whole number from 1 to %', v_key, v_most
        USING ERRCODE = 'invalid_parameter_value';
    END IF;
  END LOOP;
  RETURN true;
END $$;

ALTER TABLE booking.resources
  ADD COLUMN conflict_detection_enabled boolean NOT NULL DEFAULT true,
  ADD COLUMN approval_workflow_id uuid,
  ADD COLUMN booking_restrictions jsonb NOT NULL DEFAULT '{}'::jsonb
    CONSTRAINT resources_booking_restrictions_shape CHECK (booking_internal.check_booking_restrictions(booking_restrictions));
CREATE INDEX resources_approval_workflow_id_idx ON booking.resources (approval_workflow_id, organization_id)
  WHERE approval_workflow_id IS NOT NULL;
ALTER TABLE booking.bookings
  ADD COLUMN conflict_resolution_notes text
    CONSTRAINT bookings_conflict_resolution_notes_size CHECK (length(conflict_resolution_notes) <= 4000),
  ADD COLUMN auto_approved boolean NOT NULL DEFAULT false,
  ADD COLUMN approval_workflow_id uuid;
CREATE INDEX bookings_auto_approved_idx ON booking.bookings (organization_id, starts_at) WHERE auto_approved;
CREATE INDEX bookings_approval_workflow_id_idx ON booking.bookings (approval_workflow_id, organization_id)
  WHERE approval_workflow_id IS NOT NULL;

-- auto_approved and approval_workflow_id are the database's, whoever writes: set when the
-- booking is made (after the guard applied the rule book, which approves by itself when the
-- service's rules auto-confirm or, without a service, the resource auto-approves, as
-- enforce_booking_rules decides), the workflow taken again when the booking moves to another
-- resource; kept otherwise. Reads within the booking's own organization only.
CREATE FUNCTION booking_internal.bookings_approval_fields() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_auto boolean;
BEGIN
  IF booking_internal.is_bulk_load() THEN
    RETURN NEW;
  END IF;
  IF TG_OP = 'UPDATE' THEN
    NEW.auto_approved := OLD.auto_approved;
    IF NEW.resource_id IS NOT DISTINCT FROM OLD.resource_id THEN
      NEW.approval_workflow_id := OLD.approval_workflow_id;
      RETURN NEW;
    END IF;
  END IF;
  SELECT r.approval_workflow_id,
         CASE WHEN NEW.service_id IS NULL THEN r.auto_approve
              ELSE (SELECT sr.auto_confirm FROM booking.service_rules sr
                    WHERE sr.service_id = NEW.service_id AND sr.organization_id = NEW.organization_id) END
  INTO NEW.approval_workflow_id, v_auto
  FROM booking.resources r WHERE r.id = NEW.resource_id AND r.organization_id = NEW.organization_id;
  IF TG_OP = 'INSERT' THEN
    NEW.auto_approved := NEW.status = 'approved' AND coalesce(v_auto, false);
  END IF;
  RETURN NEW;
END $$;
-- (Not for an occurrence of a series judged as a whole: book_series_at_once writes these two
-- fields as they are derived here, the resource's workflow and approved on creation by the rules.)
CREATE TRIGGER bookings_3_approval_fields BEFORE INSERT OR UPDATE OF resource_id, auto_approved, approval_workflow_id
  ON booking.bookings FOR EACH ROW WHEN (NOT booking_internal.is_judged_booking(NEW.id, NEW.resource_id, NEW.seats, NEW.status, NEW.starts_at, NEW.ends_at))
  EXECUTE FUNCTION booking_internal.bookings_approval_fields();

-- The most attachments one request may have.
CREATE FUNCTION booking_internal.max_request_attachments() RETURNS integer
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN 20;

-- ---------------------------------------------------------------------------------------------
-- Rules on every path
-- ---------------------------------------------------------------------------------------------

-- A booking names a request only while that request is being approved into it, in the same
-- transaction (process_external_request): an approved booking request of the booking's own
-- organization, changed by this transaction, that has no booking yet. Nobody attaches a booking
-- to a request otherwise, or moves the link. The lookup stays inside the booking's organization.
CREATE FUNCTION booking_internal.bookings_external_request_guard() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  IF booking_internal.is_bulk_load() THEN
    RETURN NEW;
  END IF;
  IF NOT EXISTS (SELECT 1 FROM booking.external_requests r
                 WHERE r.id = NEW.external_request_id AND r.organization_id = NEW.organization_id
                   AND r.request_type = 'booking' AND r.status = 'approved' AND r.booking_id IS NULL
                   AND booking_internal.written_by_this_transaction(r.xmin)) THEN
    RAISE EXCEPTION 'a booking names an external request only when the request is approved into it'
      USING ERRCODE = 'check_violation', CONSTRAINT = 'bookings_external_request_link',
            HINT = 'Approve the request with process_external_request.';
  END IF;
  RETURN NEW;
END $$;
CREATE TRIGGER bookings_1_external_request BEFORE INSERT OR UPDATE OF external_request_id ON booking.bookings
  FOR EACH ROW WHEN (NEW.external_request_id IS NOT NULL)
  EXECUTE FUNCTION booking_internal.bookings_external_request_guard();

-- A deleted booking is no longer its request's.
CREATE FUNCTION booking_internal.bookings_external_request_deleted() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  UPDATE booking.external_requests SET booking_id = NULL
  WHERE id = OLD.external_request_id AND organization_id = OLD.organization_id AND booking_id = OLD.id;
  RETURN NULL;
END $$;
CREATE TRIGGER bookings_8_external_request_deleted AFTER DELETE ON booking.bookings
  FOR EACH ROW WHEN (OLD.external_request_id IS NOT NULL)
  EXECUTE FUNCTION booking_internal.bookings_external_request_deleted();

-- Who a request is assigned to: an active owner, admin or staff member of its organization.
-- The uploader of an attachment is whoever writes it, and a request has a bounded number of them
-- (counted under the request's row lock, so concurrent uploads cannot pass the limit together).
CREATE FUNCTION booking_internal.external_requests_check_assignee() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  IF booking_internal.is_bulk_load() THEN
    RETURN NEW;
  END IF;
  IF NOT EXISTS (SELECT 1 FROM booking.members m
                 WHERE m.organization_id = NEW.organization_id AND m.user_id = NEW.assigned_to
                   AND m.is_active AND m.role IN ('owner', 'admin', 'staff')) THEN
    RAISE EXCEPTION 'a request is assigned to an active owner, admin or staff member of its organization'
      USING ERRCODE = 'check_violation', CONSTRAINT = 'external_requests_assignee';
  END IF;
  RETURN NEW;
END $$;
CREATE TRIGGER external_requests_1_assignee BEFORE INSERT OR UPDATE OF assigned_to ON booking.external_requests
  FOR EACH ROW WHEN (NEW.assigned_to IS NOT NULL)
  EXECUTE FUNCTION booking_internal.external_requests_check_assignee();

CREATE FUNCTION booking_internal.request_attachments_guard() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_count integer;
BEGIN
  IF booking_internal.is_bulk_load() THEN
    RETURN NEW;
  END IF;
  IF TG_OP = 'UPDATE' THEN
    IF (NEW.request_id, NEW.uploaded_by, NEW.uploaded_at) IS DISTINCT FROM (OLD.request_id, OLD.uploaded_by, OLD.uploaded_at) THEN
      RAISE EXCEPTION 'an attachment''s request, uploader and upload time are fixed'
        USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN NEW;
  END IF;
  NEW.uploaded_by := booking_internal.actor_id();
  NEW.uploaded_at := now();
  -- Row-level security has let the writer this far only for a request it may attach to (the
  -- policy is checked after BEFORE triggers, so look within the row's own organization only).
  PERFORM 1 FROM booking.external_requests r
  WHERE r.id = NEW.request_id AND r.organization_id = NEW.organization_id FOR UPDATE;
  IF FOUND THEN
    SELECT count(*) INTO v_count FROM booking.request_attachments a
    WHERE a.request_id = NEW.request_id AND a.organization_id = NEW.organization_id;
    IF v_count >= booking_internal.max_request_attachments() THEN
      RAISE EXCEPTION 'a request has at most % attachments', booking_internal.max_request_attachments()
        USING ERRCODE = 'check_violation', CONSTRAINT = 'request_attachments_per_request';
    END IF;
  END IF;
  RETURN NEW;
END $$;
CREATE TRIGGER request_attachments_1_guard BEFORE INSERT OR UPDATE ON booking.request_attachments
  FOR EACH ROW EXECUTE FUNCTION booking_internal.request_attachments_guard();

-- ---------------------------------------------------------------------------------------------
-- RPCs
-- ---------------------------------------------------------------------------------------------

-- A request's own record for the outbox and the functions' answers.
CREATE FUNCTION booking_internal.enqueue_request_event(p_request booking.external_requests, p_topic text,
                                                       p_previous_status text DEFAULT NULL)
RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  INSERT INTO booking.outbox (organization_id, topic, payload)
  VALUES (p_request.organization_id, p_topic,
          jsonb_strip_nulls(jsonb_build_object(
            'request_id', p_request.id, 'source', p_request.source, 'external_id', p_request.external_id,
            'request_type', p_request.request_type, 'status', p_request.status,
            'previous_status', p_previous_status, 'priority', p_request.priority,
            'booking_id', p_request.booking_id, 'submitted_by', p_request.submitted_by)));
END $$;

-- Submit a request, idempotently on (organization, source, external id). See docs/intake.md.
CREATE FUNCTION booking.submit_external_request(p_organization_id uuid, p_source text, p_external_id text,
                                                p_request_type text, p_request_data jsonb,
                                                p_priority text DEFAULT 'normal')
RETURNS booking.external_requests
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_user       text := booking.current_user_id();
  v_privileged boolean := booking_internal.is_privileged();
  v_settings   jsonb;
  v_row        booking.external_requests;
BEGIN
  IF p_organization_id IS NULL OR p_source IS NULL OR p_request_type IS NULL OR p_request_data IS NULL
     OR p_priority IS NULL THEN
    RAISE EXCEPTION 'p_organization_id, p_source, p_request_type, p_request_data and p_priority must not be NULL'
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  PERFORM booking_internal.check_text_argument('p_external_id', p_external_id, 200),
          booking_internal.check_json_object('p_request_data', p_request_data);
  IF p_source NOT IN ('appsheet', 'google_forms', 'api', 'manual') THEN
    RAISE EXCEPTION 'unknown source "%"', left(p_source, 100) USING ERRCODE = 'invalid_parameter_value',
      HINT = 'Sources: appsheet, google_forms, api, manual.';
  END IF;
  IF p_request_type NOT IN ('booking', 'inquiry', 'complaint', 'suggestion') THEN
    RAISE EXCEPTION 'unknown request type "%"', left(p_request_type, 100) USING ERRCODE = 'invalid_parameter_value',
      HINT = 'Request types: booking, inquiry, complaint, suggestion.';
  END IF;
  IF p_priority NOT IN ('low', 'normal', 'high', 'urgent') THEN
    RAISE EXCEPTION 'unknown priority "%"', left(p_priority, 100) USING ERRCODE = 'invalid_parameter_value',
      HINT = 'Priorities: low, normal, high, urgent.';
  END IF;

  -- Who may submit what: the integrations' sources are their worker's (service_role); a
  -- signed-in user submits as api to an organization they may book in; staff key in manual
  -- requests. An organization the caller may not submit to is not told apart from none.
  IF NOT v_privileged THEN
    IF v_user IS NULL THEN
      RAISE EXCEPTION 'submitting a request needs a signed-in user' USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF p_source IN ('appsheet', 'google_forms') THEN
      RAISE EXCEPTION 'source % is for the integration''s worker (service_role)', p_source
        USING ERRCODE = 'insufficient_privilege', HINT = 'Submit as api.';
    END IF;
    IF NOT booking_internal.may_book_in(p_organization_id)
       OR (p_source = 'manual' AND NOT booking.is_staff(p_organization_id)) THEN
      RAISE EXCEPTION 'you may not submit % requests to organization %', p_source, p_organization_id
        USING ERRCODE = 'insufficient_privilege';
    END IF;
  END IF;
  SELECT o.settings INTO v_settings FROM booking.organizations o WHERE o.id = p_organization_id;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'unknown organization %', p_organization_id USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF v_settings #> ARRAY['integrations', p_source, 'enabled'] = 'false'::jsonb THEN
    RAISE EXCEPTION 'This organization does not take % requests.', replace(p_source, '_', ' ')
      USING ERRCODE = 'PT409', DETAIL = 'source_disabled',
            HINT = 'organizations.settings.integrations.' || p_source || '.enabled is false.';
  END IF;

  INSERT INTO booking.external_requests (organization_id, source, external_id, request_type, request_data,
                                         priority, submitted_by)
  VALUES (p_organization_id, p_source, p_external_id, p_request_type, p_request_data, p_priority,
          CASE WHEN p_source IN ('api', 'manual') THEN v_user END)
  ON CONFLICT ON CONSTRAINT external_requests_source_external_id_key DO NOTHING
  RETURNING * INTO v_row;
  IF FOUND THEN
    PERFORM booking_internal.enqueue_request_event(v_row, 'request.submitted');
    RETURN v_row;
  END IF;

  -- A replay. The row exists (the unique key's conflict waited for its writer to commit).
  SELECT * INTO v_row FROM booking.external_requests r
  WHERE r.organization_id = p_organization_id AND r.source = p_source AND r.external_id = p_external_id
  FOR UPDATE;
  -- A signed-in submitter's key is theirs: someone else reusing it learns nothing of the request.
  IF NOT v_privileged AND p_source IN ('api', 'manual') AND v_row.submitted_by IS DISTINCT FROM v_user THEN
    RAISE EXCEPTION 'This external id is already used by another submitter.'
      USING ERRCODE = 'PT409', DETAIL = 'external_id_taken', HINT = 'Use an id of your own.';
  END IF;
  -- While pending, a new delivery replaces what the request says (last delivery wins), except
  -- a delivery older than the stored one by the payload's own numeric "revision", which is a
  -- reordered retry and changes nothing. Once processing started, a replay changes nothing.
  IF v_row.status = 'pending'
     AND (v_row.request_type, v_row.request_data, v_row.priority)
         IS DISTINCT FROM (p_request_type, p_request_data, p_priority)
     AND NOT coalesce(booking_internal.json_number(p_request_data -> 'revision')
                      < booking_internal.json_number(v_row.request_data -> 'revision'), false) THEN
    UPDATE booking.external_requests
    SET request_type = p_request_type, request_data = p_request_data, priority = p_priority
    WHERE id = v_row.id
    RETURNING * INTO v_row;
    PERFORM booking_internal.enqueue_request_event(v_row, 'request.updated');
  END IF;
  RETURN v_row;
END $$;

-- A JSON number's value, NULL for anything else.
CREATE FUNCTION booking_internal.json_number(p_value jsonb) RETURNS numeric
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN CASE WHEN jsonb_typeof(p_value) = 'number' THEN (p_value #>> '{}')::numeric END;

-- A booking request's fields, read from request_data (the keys book() takes); 22023 naming the
-- first one that is missing or malformed.
CREATE FUNCTION booking_internal.booking_request_fields(p_data jsonb,
                                                        OUT resource_id uuid, OUT starts_at timestamptz,
                                                        OUT ends_at timestamptz, OUT seats integer,
                                                        OUT service_id uuid, OUT title text, OUT notes text,
                                                        OUT booked_by text)
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_key text;
BEGIN
  FOREACH v_key IN ARRAY ARRAY['resource_id', 'starts_at', 'ends_at'] LOOP
    IF jsonb_typeof(p_data -> v_key) IS DISTINCT FROM 'string' THEN
      RAISE EXCEPTION 'request_data.% is missing', v_key USING ERRCODE = 'invalid_parameter_value';
    END IF;
  END LOOP;
  BEGIN
    v_key := 'resource_id';  resource_id := (p_data ->> 'resource_id')::uuid;
    v_key := 'starts_at';    starts_at := (p_data ->> 'starts_at')::timestamptz;
    v_key := 'ends_at';      ends_at := (p_data ->> 'ends_at')::timestamptz;
    v_key := 'seats';        seats := coalesce((p_data ->> 'seats')::integer, 1);
    v_key := 'service_id';   service_id := (p_data ->> 'service_id')::uuid;
  EXCEPTION WHEN data_exception THEN
    RAISE EXCEPTION 'request_data.% is not valid: %', v_key, left(p_data ->> v_key, 100)
      USING ERRCODE = 'invalid_parameter_value';
  END;
  title := p_data ->> 'title';
  notes := p_data ->> 'notes';
  booked_by := p_data ->> 'booked_by';
  IF NOT (isfinite(starts_at) AND isfinite(ends_at) AND ends_at > starts_at) OR seats < 1 THEN
    RAISE EXCEPTION 'request_data asks for a booking that does not end after it starts, or for no seat'
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF length(title) > 200 OR length(notes) > 4000 OR length(booked_by) > 200 THEN
    RAISE EXCEPTION 'request_data.title may have at most 200 characters, notes 4000 and booked_by 200'
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
END $$;

-- Process a request (staff): start, approve, reject or cancel. See docs/intake.md.
CREATE FUNCTION booking.process_external_request(p_request_id uuid, p_action text, p_notes text DEFAULT NULL)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_user     text := booking.current_user_id();
  v_actor    text := booking_internal.actor_id();
  v_org      uuid;
  v_mine     boolean;
  v_req      booking.external_requests;
  v_previous text;
  v_status   text;
  v_fields   record;
  v_person   text;
  v_booking  uuid;
  v_reason   text;
  v_message  text;
  v_problem  text;
BEGIN
  IF p_request_id IS NULL OR p_action IS NULL THEN
    RAISE EXCEPTION 'p_request_id and p_action must not be NULL' USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF length(p_notes) > 4000 THEN
    RAISE EXCEPTION 'p_notes is longer than 4000 characters' USING ERRCODE = 'invalid_parameter_value';
  END IF;
  v_status := CASE p_action WHEN 'start' THEN 'processing' WHEN 'approve' THEN 'approved'
                            WHEN 'reject' THEN 'rejected' WHEN 'cancel' THEN 'cancelled' END;
  IF v_status IS NULL THEN
    RAISE EXCEPTION 'unknown action "%"', left(p_action, 100) USING ERRCODE = 'invalid_parameter_value',
      HINT = 'Actions: start, approve, reject, cancel.';
  END IF;
  IF v_user IS NULL AND NOT booking_internal.is_privileged() THEN
    RAISE EXCEPTION 'processing requests needs a signed-in user' USING ERRCODE = 'insufficient_privilege';
  END IF;
  -- The caller's right first: staff of the request's organization. Its submitter is told they
  -- may not; anyone else, that there is no such request.
  SELECT r.organization_id, r.submitted_by = v_user INTO v_org, v_mine
  FROM booking.external_requests r WHERE r.id = p_request_id;
  IF NOT FOUND OR NOT booking_internal.has_staff_rights(v_org) THEN
    IF coalesce(v_mine, false) THEN
      RAISE EXCEPTION 'only the organization''s owners, admins and staff process requests'
        USING ERRCODE = 'insufficient_privilege';
    END IF;
    RAISE EXCEPTION 'unknown request %', p_request_id USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF p_action = 'reject' AND nullif(btrim(p_notes, E' \t\r\n\f\x0B'), '') IS NULL THEN
    RAISE EXCEPTION 'rejecting a request needs p_notes: the submitter is told why'
      USING ERRCODE = 'invalid_parameter_value';
  END IF;

  -- One processor at a time per request: two approvals of one request make one booking.
  SELECT * INTO v_req FROM booking.external_requests WHERE id = p_request_id FOR UPDATE;
  v_previous := v_req.status;
  IF v_req.status NOT IN ('pending', 'processing') OR (v_status = 'processing' AND v_req.status = 'processing') THEN
    RAISE EXCEPTION 'this request is % and cannot be %', v_req.status,
                    CASE p_action WHEN 'start' THEN 'started' ELSE v_status END
      USING ERRCODE = 'PT409', DETAIL = 'request_transition',
            HINT = 'pending requests can be started, approved, rejected or cancelled; processing ones approved, rejected or cancelled; the others are final.';
  END IF;

  IF v_status = 'approved' AND v_req.request_type = 'booking' THEN
    BEGIN
      v_fields := booking_internal.booking_request_fields(v_req.request_data);
    EXCEPTION WHEN invalid_parameter_value THEN
      GET STACKED DIAGNOSTICS v_problem = MESSAGE_TEXT;
      v_reason := 'invalid_request_data';
      v_message := 'The request does not describe a booking: ' || v_problem || '.';
    END;
    IF v_reason IS NULL THEN
      IF NOT EXISTS (SELECT 1 FROM booking.resources r
                     WHERE r.id = v_fields.resource_id AND r.organization_id = v_req.organization_id) THEN
        v_reason := 'invalid_request_data';
        v_message := 'The request names a resource this organization does not have.';
      END IF;
    END IF;
    IF v_reason IS NULL THEN
      -- For whom: request_data.booked_by when that is an active member, else the submitter when
      -- they are one, else the staff member approving (staff book for members only).
      v_person := CASE
        WHEN booking_internal.is_active_member(v_req.organization_id, v_fields.booked_by) THEN v_fields.booked_by
        WHEN booking_internal.is_active_member(v_req.organization_id, v_req.submitted_by) THEN v_req.submitted_by
        ELSE v_actor END;
      BEGIN
        -- The rule book, as book() applies it (the approver's staff rights approve the booking).
        PERFORM booking_internal.enforce_booking_rules(v_req.organization_id, v_fields.resource_id, v_fields.service_id,
                                                       v_fields.starts_at, v_fields.ends_at, v_fields.seats, NULL);
        UPDATE booking.external_requests
        SET status = 'approved', processed_at = now(), processed_by = v_actor,
            processing_notes = coalesce(p_notes, processing_notes), refusal = NULL, refusal_message = NULL, refused_at = NULL
        WHERE id = v_req.id;
        INSERT INTO booking.bookings (organization_id, resource_id, service_id, booked_by, title, client_notes,
                                      starts_at, ends_at, seats, status, source, external_request_id)
        VALUES (v_req.organization_id, v_fields.resource_id, v_fields.service_id, v_person, v_fields.title, v_fields.notes,
                v_fields.starts_at, v_fields.ends_at, v_fields.seats, 'approved',
                CASE v_req.source WHEN 'appsheet' THEN 'appsheet' WHEN 'manual' THEN 'manual' ELSE 'api' END,
                v_req.id)
        RETURNING id INTO v_booking;
        UPDATE booking.external_requests SET booking_id = v_booking WHERE id = v_req.id
        RETURNING * INTO v_req;
      EXCEPTION
        WHEN SQLSTATE 'PT409' THEN
          GET STACKED DIAGNOSTICS v_message = MESSAGE_TEXT, v_reason = PG_EXCEPTION_DETAIL;
        WHEN exclusion_violation THEN
          GET STACKED DIAGNOSTICS v_reason = CONSTRAINT_NAME;
          v_reason := booking_internal.exclusion_refusal(v_reason);
          v_message := booking_internal.refusal_message(v_reason);
      END;
    END IF;
    IF v_reason IS NOT NULL THEN
      -- Refused: the request stays as it was, with the reason, and the answer is a 409 that
      -- commits (an exception would roll the recorded reason back). See docs/intake.md.
      UPDATE booking.external_requests
      SET refusal = left(v_reason, 200), refusal_message = left(v_message, 4000), refused_at = now(),
          processing_notes = coalesce(p_notes, processing_notes)
      WHERE id = v_req.id
      RETURNING * INTO v_req;
      PERFORM set_config('response.status', '409', true);
      RETURN jsonb_build_object('code', 'PT409', 'message', v_message, 'details', v_reason,
                                'hint', 'The request is still ' || v_req.status || '; fix the booking or reject the request.',
                                'request', to_jsonb(v_req));
    END IF;
  ELSE
    UPDATE booking.external_requests
    SET status = v_status,
        assigned_to = CASE WHEN v_status = 'processing' AND assigned_to IS NULL AND v_user IS NOT NULL
                                AND booking.is_staff(organization_id) THEN v_user ELSE assigned_to END,
        processed_at = CASE WHEN v_status <> 'processing' THEN now() END,
        processed_by = CASE WHEN v_status <> 'processing' THEN v_actor END,
        processing_notes = coalesce(p_notes, processing_notes)
    WHERE id = v_req.id
    RETURNING * INTO v_req;
  END IF;

  PERFORM booking_internal.enqueue_request_event(v_req, 'request.' || v_req.status, v_previous);
  -- The submitter hears of every outcome (a worker's sources have no one signed in to tell;
  -- the outbox event is for their worker).
  IF v_req.submitted_by IS NOT NULL AND v_req.status IN ('approved', 'rejected', 'cancelled') THEN
    INSERT INTO booking.notifications (organization_id, recipient_id, notification_type, message, metadata)
    VALUES (v_req.organization_id, v_req.submitted_by, 'request_' || v_req.status,
            btrim(booking_internal.render_notification(v_req.organization_id, 'request_' || v_req.status,
                    jsonb_build_object('request_type', v_req.request_type, 'status', v_req.status,
                                       'notes', coalesce(p_notes, ''), 'external_id', v_req.external_id,
                                       'request_id', v_req.id, 'booking_id', v_req.booking_id))),
            jsonb_strip_nulls(jsonb_build_object('request_id', v_req.id, 'external_id', v_req.external_id,
                                                 'status', v_req.status, 'booking_id', v_req.booking_id,
                                                 'changed_by', v_actor)));
  END IF;
  RETURN to_jsonb(v_req);
END $$;

-- ---------------------------------------------------------------------------------------------
-- Row-level security and grants
-- ---------------------------------------------------------------------------------------------

-- external_requests: staff see and annotate their organization's (priority, assignee, notes);
-- a submitter sees their own. Rows are written by the two functions above (running as the
-- owner); status, booking and processing fields change only through process_external_request.
CREATE POLICY external_requests_select ON booking.external_requests FOR SELECT
  USING (organization_id = ANY ((SELECT booking.user_organization_ids('{owner,admin,staff}'))::uuid[])
         OR submitted_by = (SELECT booking.current_user_id()));
CREATE POLICY external_requests_update ON booking.external_requests FOR UPDATE
  USING (organization_id = ANY ((SELECT booking.user_organization_ids('{owner,admin,staff}'))::uuid[]))
  WITH CHECK (organization_id = ANY ((SELECT booking.user_organization_ids('{owner,admin,staff}'))::uuid[]));

-- request_attachments: staff manage their organization's; a submitter adds to and reads their
-- own request while it is pending.
CREATE POLICY request_attachments_select ON booking.request_attachments FOR SELECT
  USING (organization_id = ANY ((SELECT booking.user_organization_ids('{owner,admin,staff}'))::uuid[])
         OR request_id IN (SELECT r.id FROM booking.external_requests r
                           WHERE r.submitted_by = (SELECT booking.current_user_id())));
CREATE POLICY request_attachments_insert ON booking.request_attachments FOR INSERT
  WITH CHECK (organization_id = ANY ((SELECT booking.user_organization_ids('{owner,admin,staff}'))::uuid[])
              OR request_id IN (SELECT r.id FROM booking.external_requests r
                                WHERE r.submitted_by = (SELECT booking.current_user_id()) AND r.status = 'pending'));
CREATE POLICY request_attachments_update ON booking.request_attachments FOR UPDATE
  USING (organization_id = ANY ((SELECT booking.user_organization_ids('{owner,admin,staff}'))::uuid[]))
  WITH CHECK (organization_id = ANY ((SELECT booking.user_organization_ids('{owner,admin,staff}'))::uuid[]));
CREATE POLICY request_attachments_delete ON booking.request_attachments FOR DELETE
  USING (organization_id = ANY ((SELECT booking.user_organization_ids('{owner,admin,staff}'))::uuid[]));

CREATE FUNCTION booking_internal.grant_intake_privileges(p_role text) RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  IF p_role = 'anon' THEN
    RETURN;
  END IF;
  PERFORM booking_internal.grant_execute(p_role, ARRAY['submit_external_request', 'process_external_request']);
  -- the restrictions constraint runs as whoever writes a resource
  PERFORM booking_internal.grant_execute(p_role, ARRAY['check_booking_restrictions']);
  IF p_role = 'authenticated' THEN
    GRANT UPDATE (priority, assigned_to, processing_notes) ON booking.external_requests TO authenticated;
    GRANT INSERT, DELETE, UPDATE (file_name, file_type, file_size, file_url) ON booking.request_attachments TO authenticated;
  ELSE
    -- the worker too: requests are made and decided by the two functions (idempotency, the
    -- rule book, the link to the booking); it may annotate and delete them
    REVOKE INSERT, UPDATE ON booking.external_requests FROM service_role;
    GRANT UPDATE (priority, assigned_to, processing_notes) ON booking.external_requests TO service_role;
  END IF;
END $$;

COMMENT ON TABLE booking.external_requests IS 'Requests from outside (seed 002): AppSheet and Google Forms (their worker, as service_role), an app''s users (api) and staff (manual); one per (organization, source, external id). Staff read and annotate their organization''s (priority, assigned_to, processing_notes), submitters read their own; made by submit_external_request and decided by process_external_request.';
COMMENT ON COLUMN booking.external_requests.request_data IS 'What the form or app sent (a JSON object of at most 16 kB). For a booking request: resource_id, starts_at, ends_at, and optionally seats, service_id, title, notes, booked_by (a member); a numeric revision orders replays.';
COMMENT ON COLUMN booking.external_requests.submitted_by IS 'The signed-in submitter (sources api and manual); NULL for a worker''s sources.';
COMMENT ON COLUMN booking.external_requests.booking_id IS 'The booking an approved booking request made (bookings.external_request_id names the request).';
COMMENT ON COLUMN booking.external_requests.refusal IS 'Why the last approval was refused: the rule book''s reason (overlap, capacity, closed, notice, horizon, length, external_event, ...) or invalid_request_data.';
COMMENT ON TABLE booking.request_attachments IS 'Files of a request, as metadata and a link (http or https URL, at most 100 MB, at most 20 per request); uploaded_by and uploaded_at are set by the database. Staff manage them; a submitter adds to their own pending request.';
COMMENT ON COLUMN booking.bookings.external_request_id IS 'The external request this booking was approved from (set only by process_external_request).';
COMMENT ON FUNCTION booking.submit_external_request(uuid, text, text, text, jsonb, text) IS 'Submits a request, idempotently on (organization, source, external id): a replay returns the existing request (while pending, updated to the new delivery unless its numeric request_data.revision is older), never a second one. appsheet and google_forms are for service_role; signed-in users submit as api to organizations they may book in; staff as manual. 22023 bad arguments, 42501 not allowed, PT409 source_disabled or external_id_taken.';
COMMENT ON FUNCTION booking.process_external_request(uuid, text, text) IS 'Staff: start, approve, reject (p_notes required) or cancel a pending or processing request. Approving a booking request books it through the rule book in the same transaction and links both ways; a refusal keeps the request as it was with the reason recorded and answers {code: PT409, message, details: reason, request} with HTTP 409, committed. Returns the request as JSON. 22023, 42501; PT409 request_transition.';
COMMENT ON FUNCTION booking_internal.bookings_external_request_guard() IS 'Trigger: a booking names an external request only while that request is being approved into it, in the same transaction.';
COMMENT ON FUNCTION booking_internal.bookings_external_request_deleted() IS 'Trigger: a deleted booking is no longer named by its external request.';
COMMENT ON FUNCTION booking_internal.external_requests_check_assignee() IS 'Trigger: a request is assigned to an active owner, admin or staff member of its organization.';
COMMENT ON FUNCTION booking_internal.request_attachments_guard() IS 'Trigger: sets uploaded_by and uploaded_at, keeps them and the request fixed, and allows at most max_request_attachments() per request.';
COMMENT ON FUNCTION booking_internal.check_booking_restrictions(jsonb) IS 'Internal: the shape of resources.booking_restrictions (min_booking_minutes 1-10080, max_seats_per_booking 1-100000): 22023 naming the first wrong key, else true.';
COMMENT ON FUNCTION booking_internal.bookings_approval_fields() IS 'Trigger: sets bookings.auto_approved (approved on creation by a resource or service that approves by itself) and approval_workflow_id (the resource''s), whoever writes.';
COMMENT ON COLUMN booking.resources.conflict_detection_enabled IS 'false: detect_conflicts leaves this resource out (seed 002).';
COMMENT ON COLUMN booking.resources.approval_workflow_id IS 'The app''s approval workflow for this resource''s bookings (an id of the app''s; copied to each new booking).';
COMMENT ON COLUMN booking.resources.booking_restrictions IS 'Restrictions the rule book applies to every booking of the resource: min_booking_minutes (PT409 length), max_seats_per_booking (PT409 seats).';
COMMENT ON COLUMN booking.bookings.conflict_resolution_notes IS 'Staff''s notes on how a conflict around this booking was resolved (at most 4000 characters; bookers cannot set it).';
COMMENT ON COLUMN booking.bookings.auto_approved IS 'Set by the database: true when the booking was created approved by a resource or service that approves by itself.';
COMMENT ON COLUMN booking.bookings.approval_workflow_id IS 'Set by the database: the resource''s approval_workflow_id when the booking was made (or moved to another resource).';
COMMENT ON FUNCTION booking_internal.max_request_attachments() IS 'Internal: the most attachments one request may have (20).';
COMMENT ON FUNCTION booking_internal.enqueue_request_event(booking.external_requests, text, text) IS 'Internal: writes a request''s outbox event (request.submitted, request.updated, request.<status>).';
COMMENT ON FUNCTION booking_internal.json_number(jsonb) IS 'Internal: a JSON number''s value, NULL for anything else.';
COMMENT ON FUNCTION booking_internal.booking_request_fields(jsonb) IS 'Internal: a booking request''s resource, times, seats, service, title, notes and person from its request_data; 22023 naming the field that is missing or malformed.';
COMMENT ON FUNCTION booking_internal.grant_intake_privileges(text) IS 'Internal: the intake module''s grants to an API role (called by grant_api_privileges).';
-- END COPY src/intake/intake.sql

-- =============================================================================================
-- New module digests (src/digests/digests.sql): an organization's figures for a period.
-- =============================================================================================
-- BEGIN COPY src/digests/digests.sql
-- booking_ext, module digests: a period's figures of an organization (seed 002's ai_digests).
-- The database computes the exact figures (bookings by status, each resource's booked and open
-- minutes, utilisation and peak seats, no-shows, requests, open conflicts) for a period that
-- starts and ends at local midnight in the organization's time zone, writes a plain-language
-- summary of them, and tells an outside writer (an LLM worker) through the outbox event
-- digest.generated; that worker adds its insights with annotate_digest. An LLM cannot run
-- inside Postgres; the numbers it writes about come from here.

CREATE TABLE booking.digests (
  id                uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  organization_id   uuid NOT NULL REFERENCES booking.organizations (id) ON DELETE CASCADE,
  digest_type       text NOT NULL CHECK (digest_type IN ('daily', 'weekly', 'monthly', 'custom')),
  -- The local dates of the period: from period_start_date to the day before period_end_date.
  period_start_date date NOT NULL,
  period_end_date   date NOT NULL,
  time_zone         text NOT NULL CONSTRAINT digests_time_zone_size CHECK (length(time_zone) <= 100),
  -- The same period as instants: local midnight at each end, in time_zone.
  period_start      timestamptz NOT NULL,
  period_end        timestamptz NOT NULL,
  content           jsonb NOT NULL CHECK (jsonb_typeof(content) = 'object')
                    CONSTRAINT digests_content_size CHECK (octet_length(content::text) <= 1048576),
  summary           text NOT NULL CONSTRAINT digests_summary_size CHECK (length(summary) <= 4000),
  -- What an outside writer made of the figures (annotate_digest): a JSON array.
  insights          jsonb NOT NULL DEFAULT '[]'::jsonb CHECK (jsonb_typeof(insights) = 'array')
                    CONSTRAINT digests_insights_size CHECK (octet_length(insights::text) <= 65536),
  insights_by       text CONSTRAINT digests_insights_by_size CHECK (length(insights_by) <= 200),
  annotated_at      timestamptz,
  generated_by      text NOT NULL CONSTRAINT digests_generated_by_size CHECK (length(generated_by) <= 200),
  generated_at      timestamptz NOT NULL DEFAULT now(),
  is_archived       boolean NOT NULL DEFAULT false,
  created_at        timestamptz NOT NULL DEFAULT now(),
  updated_at        timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT digests_period_order CHECK (period_end_date > period_start_date AND period_end > period_start),
  CONSTRAINT digests_period_key UNIQUE (organization_id, digest_type, period_start_date, period_end_date)
);
CREATE INDEX digests_period_idx ON booking.digests (organization_id, period_start, period_end);
CREATE INDEX digests_type_idx ON booking.digests (organization_id, digest_type, period_start_date DESC);
SELECT booking_internal.register_table('digests', 'digests', true, 'digest');

-- The longest period a custom digest covers, in days.
CREATE FUNCTION booking_internal.max_digest_days() RETURNS integer
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN 92;

-- '1 thing' / '2 things'.
CREATE FUNCTION booking_internal.count_phrase(p_count bigint, p_noun text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN p_count || ' ' || p_noun || CASE WHEN p_count = 1 THEN '' ELSE 's' END;

-- The figures of an organization for [p_from, p_to) (local midnights in p_time_zone, from the
-- local dates p_first_day to p_end_day, exclusive), as the digest's content. Runs as the owner:
-- generate_digest has established the caller's right to the organization.
CREATE FUNCTION booking_internal.digest_content(p_organization_id uuid, p_first_day date, p_end_day date,
                                                p_time_zone text, p_from timestamptz, p_to timestamptz)
RETURNS jsonb
LANGUAGE plpgsql STABLE SECURITY DEFINER
-- The planner cannot know that open_periods returns a few rows per day: its default estimate
-- (1000 rows a call) makes the query look costly enough to compile, which takes 100 times
-- longer than running it.
SET jit = off
-- A worker generates the digests of every organization in turn: planning the resources' query
-- for each call (custom plans) cost more than running it (tests/bench/digests.sql).
SET plan_cache_mode = force_generic_plan
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_period    tstzrange := tstzrange(p_from, p_to);
  v_org_open  tstzrange[];
  v_bookings  jsonb;
  v_resources jsonb;
  v_requests  jsonb;
  v_conflicts jsonb;
BEGIN
  -- Bookings that start in the period, every status shown (0 when none).
  SELECT jsonb_build_object(
           'total', coalesce(sum(c.n), 0),
           'seats', coalesce(sum(c.seats), 0),
           'no_shows', coalesce(sum(c.n) FILTER (WHERE c.status = 'no_show'), 0),
           'by_status', jsonb_object_agg(c.status, coalesce(c.n, 0) ORDER BY c.position))
  INTO v_bookings
  FROM (SELECT s.status, s.position, b.n, b.seats
        FROM unnest(booking.booking_statuses()) WITH ORDINALITY AS s(status, position)
        LEFT JOIN (SELECT b.status, count(*) AS n, sum(b.seats) AS seats
                   FROM booking.bookings b
                   WHERE b.organization_id = p_organization_id
                     AND b.starts_at >= p_from AND b.starts_at < p_to
                   GROUP BY b.status) b ON b.status = s.status) c;

  -- The organization's open periods in the period (its weekly rules and organization-wide
  -- exceptions, day by day), read once. A resource in the organization's zone with no rules and
  -- no exceptions of its own has exactly these (open_periods gives it the same periods from the
  -- same rows), so only the other resources need calls of their own.
  SELECT coalesce(array_agg(o.span ORDER BY lower(o.span)), '{}') INTO v_org_open
  FROM generate_series(p_first_day, p_end_day - 1, interval '1 day') AS d(day)
  CROSS JOIN LATERAL booking.open_periods(p_organization_id, d.day::date) op
  CROSS JOIN LATERAL (SELECT tstzrange(op.period_start, op.period_end) * v_period AS span) o
  WHERE NOT isempty(o.span);

  -- Each resource: its time held in the period (pending and approved bookings, cut at the
  -- period's ends), peak seats, bookings starting in it, and its open time from its hours.
  SELECT coalesce(jsonb_agg(jsonb_build_object(
           'resource_id', r.id, 'title', r.title, 'capacity', r.capacity,
           'bookings', held.started, 'booked_minutes', held.booked_minutes, 'peak_seats', held.peak_seats,
           'open_minutes', hours.open_minutes, 'utilization', hours.utilization)
           ORDER BY r.title, r.id), '[]'::jsonb)
  INTO v_resources
  FROM booking.resources r
  CROSS JOIN LATERAL (
    -- its pending and approved bookings touching the period, read once (one index scan) for
    -- the figures below
    SELECT coalesce(array_agg(b.during), '{}') AS durings, coalesce(array_agg(b.seats), '{}') AS seats
    FROM booking.bookings b
    WHERE b.resource_id = r.id AND booking_internal.holds_time(b.status) AND b.during && v_period
  ) mine
  CROSS JOIN LATERAL (
    SELECT coalesce(booking.busy_minutes(h.during * v_period), 0) AS booked_minutes,
           coalesce(booking.peak_seats(h.during * v_period, h.seats), 0) AS peak_seats,
           count(*) FILTER (WHERE lower(h.during) >= p_from) AS started
    FROM unnest(mine.durings, mine.seats) AS h(during, seats)
  ) held
  CROSS JOIN LATERAL (
    SELECT coalesce(r.time_zone, p_time_zone) = p_time_zone AS same_zone,
           coalesce(r.time_zone, p_time_zone) = p_time_zone
           AND NOT EXISTS (SELECT 1 FROM booking.availability_rules ar
                           WHERE ar.resource_id = r.id AND ar.organization_id = p_organization_id)
           AND NOT EXISTS (SELECT 1 FROM booking.availability_exceptions e
                           WHERE e.resource_id = r.id AND e.organization_id = p_organization_id
                             AND e.during && tstzrange(p_from - interval '3 days', p_to + interval '3 days'))
             AS organization_hours
  ) own
  CROSS JOIN LATERAL (
    -- Utilisation of the whole period: each open period's, weighted by its length (as
    -- resource_daily_usage does per day). A resource in another zone than its organization has
    -- its own local days read one day beyond each end, so that they cover the period.
    SELECT coalesce(sum(p.minutes), 0) AS open_minutes,
           sum(p.minutes * p.utilization) / nullif(sum(p.minutes), 0) AS utilization
    FROM (
      SELECT extract(epoch FROM upper(o.span) - lower(o.span))::float8 / 60 AS minutes,
             (SELECT booking.utilization(h.during, h.seats, r.capacity, o.span)
              FROM unnest(mine.durings, mine.seats) AS h(during, seats)
              WHERE h.during && o.span) AS utilization
      FROM (
        SELECT s.span FROM unnest(v_org_open) AS s(span) WHERE own.organization_hours
        UNION ALL
        -- no day at all for a resource with the organization's hours: open_periods is not called
        SELECT tstzrange(op.period_start, op.period_end) * v_period
        FROM generate_series(CASE WHEN own.same_zone THEN p_first_day ELSE p_first_day - 1 END,
                             CASE WHEN own.organization_hours THEN p_first_day - 1
                                  WHEN own.same_zone THEN p_end_day - 1 ELSE p_end_day END,
                             interval '1 day') AS d(day)
        CROSS JOIN LATERAL booking.open_periods(p_organization_id, d.day::date, r.id) op
      ) AS o(span)
      WHERE NOT isempty(o.span)
    ) p
  ) hours
  WHERE r.organization_id = p_organization_id;

  -- Requests from outside: new in the period (by type and source), and pending now.
  SELECT jsonb_build_object(
           'new', count(*) FILTER (WHERE q.created_at >= p_from AND q.created_at < p_to),
           'new_by_type', jsonb_build_object(
             'booking', count(*) FILTER (WHERE q.created_at >= p_from AND q.created_at < p_to AND q.request_type = 'booking'),
             'inquiry', count(*) FILTER (WHERE q.created_at >= p_from AND q.created_at < p_to AND q.request_type = 'inquiry'),
             'complaint', count(*) FILTER (WHERE q.created_at >= p_from AND q.created_at < p_to AND q.request_type = 'complaint'),
             'suggestion', count(*) FILTER (WHERE q.created_at >= p_from AND q.created_at < p_to AND q.request_type = 'suggestion')),
           'pending', count(*) FILTER (WHERE q.status IN ('pending', 'processing') AND q.created_at < p_to))
  INTO v_requests
  FROM booking.external_requests q
  WHERE q.organization_id = p_organization_id AND q.created_at < p_to
    AND (q.created_at >= p_from OR q.status IN ('pending', 'processing'));

  -- Conflicts open now that were found before the period ended.
  SELECT jsonb_build_object(
           'open', count(*),
           'by_type', jsonb_build_object(
             'double_booking', count(*) FILTER (WHERE c.conflict_type = 'double_booking'),
             'capacity_exceeded', count(*) FILTER (WHERE c.conflict_type = 'capacity_exceeded'),
             'resource_unavailable', count(*) FILTER (WHERE c.conflict_type = 'resource_unavailable'),
             'timezone_mismatch', count(*) FILTER (WHERE c.conflict_type = 'timezone_mismatch')))
  INTO v_conflicts
  FROM booking.conflicts c
  WHERE c.organization_id = p_organization_id AND c.status IN ('open', 'investigating') AND c.created_at < p_to;

  RETURN jsonb_build_object(
    'period', jsonb_build_object('start_date', p_first_day, 'end_date', p_end_day, 'time_zone', p_time_zone,
                                 'starts_at', p_from, 'ends_at', p_to,
                                 'hours', (extract(epoch FROM p_to - p_from) / 3600)::float8),
    'bookings', v_bookings, 'resources', v_resources, 'requests', v_requests, 'conflicts', v_conflicts);
END $$;

-- The digest's summary: plain sentences made from its content, the same words for the same
-- figures; an empty section says so.
CREATE FUNCTION booking_internal.digest_summary(p_digest_type text, p_content jsonb) RETURNS text
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_first    date := (p_content #>> '{period,start_date}')::date;
  v_last     date := (p_content #>> '{period,end_date}')::date - 1;
  v_hours    numeric := (p_content #>> '{period,hours}')::numeric;
  v_total    bigint := (p_content #>> '{bookings,total}')::bigint;
  v_period   text;
  v_statuses text;
  v_busiest  jsonb;
  v_text     text;
BEGIN
  v_period := CASE p_digest_type
    WHEN 'daily' THEN 'Daily digest for ' || to_char(v_first, 'FMDay FMDD FMMonth YYYY')
    WHEN 'weekly' THEN 'Weekly digest for ' || to_char(v_first, 'FMDD FMMonth YYYY') || ' to ' || to_char(v_last, 'FMDD FMMonth YYYY')
    WHEN 'monthly' THEN 'Monthly digest for ' || to_char(v_first, 'FMMonth YYYY')
    ELSE 'Digest for ' || to_char(v_first, 'FMDD FMMonth YYYY') || ' to ' || to_char(v_last, 'FMDD FMMonth YYYY') END;
  v_text := v_period || ' (' || (p_content #>> '{period,time_zone}') || ', '
            || booking_internal.count_phrase(trunc(v_hours)::bigint, 'hour')
            || CASE WHEN v_hours <> trunc(v_hours) THEN ' and ' || round((v_hours - trunc(v_hours)) * 60) || ' minutes' ELSE '' END
            || '). ';

  IF v_total = 0 THEN
    v_text := v_text || 'No bookings. ';
  ELSE
    SELECT string_agg(s.value || ' ' || replace(s.key, '_', '-'), ', ' ORDER BY o.position)
    INTO v_statuses
    FROM jsonb_each_text(p_content #> '{bookings,by_status}') s(key, value)
    JOIN unnest(ARRAY['approved', 'pending', 'completed', 'no_show', 'cancelled', 'rejected', 'changes_requested', 'draft'])
         WITH ORDINALITY AS o(status, position) ON o.status = s.key
    WHERE s.value <> '0';
    v_text := v_text || booking_internal.count_phrase(v_total, 'booking') || ' (' || v_statuses || '). ';
  END IF;

  SELECT r INTO v_busiest
  FROM jsonb_array_elements(p_content -> 'resources') r
  WHERE (r ->> 'booked_minutes')::float8 > 0
  ORDER BY coalesce((r ->> 'utilization')::float8, -1) DESC, (r ->> 'booked_minutes')::float8 DESC, r ->> 'title', r ->> 'resource_id'
  LIMIT 1;
  IF jsonb_array_length(p_content -> 'resources') = 0 THEN
    v_text := v_text || 'No resources. ';
  ELSIF v_busiest IS NULL THEN
    v_text := v_text || 'No resource was booked. ';
  ELSE
    v_text := v_text || 'Busiest: ' || (v_busiest ->> 'title')
              || coalesce(', ' || round((v_busiest ->> 'utilization')::numeric * 100) || '% of open time used', '')
              || ', peak ' || booking_internal.count_phrase((v_busiest ->> 'peak_seats')::bigint, 'seat') || '. ';
  END IF;

  v_text := v_text || 'Requests: '
            || CASE WHEN (p_content #>> '{requests,new}')::bigint = 0 THEN 'none new'
                    ELSE (p_content #>> '{requests,new}') || ' new' END
            || ', '
            || CASE WHEN (p_content #>> '{requests,pending}')::bigint = 0 THEN 'none pending'
                    ELSE (p_content #>> '{requests,pending}') || ' pending' END
            || '. Conflicts: '
            || CASE WHEN (p_content #>> '{conflicts,open}')::bigint = 0 THEN 'none open'
                    ELSE (p_content #>> '{conflicts,open}') || ' open' END
            || '.';
  RETURN v_text;
END $$;

-- Generate (or regenerate) an organization's digest of a period. See docs/digests.md.
CREATE FUNCTION booking.generate_digest(p_organization_id uuid, p_digest_type text, p_period_start date,
                                        p_last_day date DEFAULT NULL)
RETURNS booking.digests
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_zone    text;
  v_enabled jsonb;
  v_end     date;
  v_from    timestamptz;
  v_to      timestamptz;
  v_content jsonb;
  v_row     booking.digests;
BEGIN
  IF p_organization_id IS NULL OR p_digest_type IS NULL OR p_period_start IS NULL THEN
    RAISE EXCEPTION 'p_organization_id, p_digest_type and p_period_start must not be NULL'
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF NOT isfinite(p_period_start) OR NOT coalesce(isfinite(p_last_day), true)
     OR p_period_start NOT BETWEEN date '1970-01-01' AND date '2200-01-01' THEN
    RAISE EXCEPTION 'p_period_start must be a date between 1970 and 2200' USING ERRCODE = 'invalid_parameter_value';
  END IF;
  -- The caller's right first: staff of the organization, or the worker (service_role).
  IF NOT booking_internal.has_staff_rights(p_organization_id) THEN
    RAISE EXCEPTION 'only the organization''s owners, admins and staff (or service_role) generate its digests'
      USING ERRCODE = 'insufficient_privilege';
  END IF;
  v_end := CASE p_digest_type
    WHEN 'daily' THEN p_period_start + 1
    WHEN 'weekly' THEN p_period_start + 7
    WHEN 'monthly' THEN (p_period_start + interval '1 month')::date
    WHEN 'custom' THEN p_last_day + 1 END;
  IF p_digest_type NOT IN ('daily', 'weekly', 'monthly', 'custom') THEN
    RAISE EXCEPTION 'unknown digest type "%"', left(p_digest_type, 100) USING ERRCODE = 'invalid_parameter_value',
      HINT = 'Digest types: daily, weekly, monthly, custom.';
  END IF;
  IF p_digest_type <> 'custom' AND p_last_day IS NOT NULL THEN
    RAISE EXCEPTION 'p_last_day is for custom digests only' USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF p_digest_type = 'weekly' AND extract(isodow FROM p_period_start) <> 1 THEN
    RAISE EXCEPTION 'a weekly digest starts on a Monday; % is a %', p_period_start, to_char(p_period_start, 'FMDay')
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF p_digest_type = 'monthly' AND extract(day FROM p_period_start) <> 1 THEN
    RAISE EXCEPTION 'a monthly digest starts on the first day of a month, not %', p_period_start
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF p_digest_type = 'custom' AND (p_last_day IS NULL OR p_last_day < p_period_start
                                   OR v_end - p_period_start > booking_internal.max_digest_days()) THEN
    RAISE EXCEPTION 'a custom digest needs p_last_day, on or after p_period_start and at most % days later',
                    booking_internal.max_digest_days() - 1
      USING ERRCODE = 'invalid_parameter_value';
  END IF;

  SELECT o.time_zone, o.settings #> '{ai,digests_enabled}' INTO v_zone, v_enabled
  FROM booking.organizations o WHERE o.id = p_organization_id;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'unknown organization %', p_organization_id USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF v_enabled = 'false'::jsonb THEN
    RAISE EXCEPTION 'This organization has digests switched off.' USING ERRCODE = 'PT409', DETAIL = 'digests_disabled',
      HINT = 'organizations.settings.ai.digests_enabled is false.';
  END IF;
  -- Local midnight at each end (a day of a change of daylight saving time has 23 or 25 hours).
  v_from := p_period_start::timestamp AT TIME ZONE v_zone;
  v_to := v_end::timestamp AT TIME ZONE v_zone;
  v_content := booking_internal.digest_content(p_organization_id, p_period_start, v_end, v_zone, v_from, v_to);

  -- One digest per organization, type and period: generating it again recomputes it, and only
  -- a change of its figures rewrites it (its insights then no longer apply and are cleared).
  INSERT INTO booking.digests AS d (organization_id, digest_type, period_start_date, period_end_date, time_zone,
                                    period_start, period_end, content, summary, generated_by)
  VALUES (p_organization_id, p_digest_type, p_period_start, v_end, v_zone, v_from, v_to, v_content,
          booking_internal.digest_summary(p_digest_type, v_content), booking_internal.actor_id())
  ON CONFLICT ON CONSTRAINT digests_period_key DO UPDATE
    SET time_zone = EXCLUDED.time_zone, period_start = EXCLUDED.period_start, period_end = EXCLUDED.period_end,
        content = EXCLUDED.content, summary = EXCLUDED.summary, generated_by = EXCLUDED.generated_by,
        generated_at = now(), insights = '[]'::jsonb, insights_by = NULL, annotated_at = NULL
    WHERE d.content IS DISTINCT FROM EXCLUDED.content
  RETURNING * INTO v_row;
  IF NOT FOUND THEN
    SELECT * INTO v_row FROM booking.digests d
    WHERE d.organization_id = p_organization_id AND d.digest_type = p_digest_type
      AND d.period_start_date = p_period_start AND d.period_end_date = v_end;
    RETURN v_row;
  END IF;
  INSERT INTO booking.outbox (organization_id, topic, payload)
  VALUES (p_organization_id, 'digest.generated',
          jsonb_build_object('digest_id', v_row.id, 'digest_type', v_row.digest_type,
                             'period_start_date', v_row.period_start_date, 'period_end_date', v_row.period_end_date,
                             'time_zone', v_row.time_zone, 'summary', v_row.summary));
  RETURN v_row;
END $$;

-- The outside writer's insights on a digest (service_role). See docs/digests.md.
CREATE FUNCTION booking.annotate_digest(p_digest_id uuid, p_insights jsonb, p_insights_by text DEFAULT NULL)
RETURNS booking.digests
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_row booking.digests;
BEGIN
  PERFORM booking_internal.require_privileged('annotate_digest');
  IF p_digest_id IS NULL OR p_insights IS NULL THEN
    RAISE EXCEPTION 'p_digest_id and p_insights must not be NULL' USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF jsonb_typeof(p_insights) <> 'array' THEN
    RAISE EXCEPTION 'p_insights must be a JSON array, not %', jsonb_typeof(p_insights) USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF jsonb_array_length(p_insights) > 100 OR octet_length(p_insights::text) > 65536 THEN
    RAISE EXCEPTION 'p_insights may hold at most 100 items and 64 kB' USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF length(p_insights_by) > 200 THEN
    RAISE EXCEPTION 'p_insights_by is longer than 200 characters' USING ERRCODE = 'invalid_parameter_value';
  END IF;
  UPDATE booking.digests
  SET insights = p_insights, insights_by = coalesce(p_insights_by, booking_internal.actor_id()), annotated_at = now()
  WHERE id = p_digest_id
  RETURNING * INTO v_row;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'unknown digest %', p_digest_id USING ERRCODE = 'invalid_parameter_value';
  END IF;
  RETURN v_row;
END $$;

-- digests: the organization's owners, admins and staff read them; owners and admins archive
-- them. They are written by generate_digest and annotate_digest.
CREATE POLICY digests_select ON booking.digests FOR SELECT
  USING (organization_id = ANY ((SELECT booking.user_organization_ids('{owner,admin,staff}'))::uuid[]));
CREATE POLICY digests_update ON booking.digests FOR UPDATE
  USING (organization_id = ANY ((SELECT booking.user_organization_ids('{owner,admin}'))::uuid[]))
  WITH CHECK (organization_id = ANY ((SELECT booking.user_organization_ids('{owner,admin}'))::uuid[]));

CREATE FUNCTION booking_internal.grant_digests_privileges(p_role text) RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  IF p_role = 'anon' THEN
    RETURN;
  END IF;
  PERFORM booking_internal.grant_execute(p_role, ARRAY['generate_digest']);
  IF p_role = 'authenticated' THEN
    GRANT UPDATE (is_archived) ON booking.digests TO authenticated;
  ELSE
    PERFORM booking_internal.grant_execute(p_role, ARRAY['annotate_digest']);
    -- figures are the database's: the worker annotates (annotate_digest), archives and deletes
    REVOKE INSERT, UPDATE ON booking.digests FROM service_role;
    GRANT UPDATE (is_archived) ON booking.digests TO service_role;
  END IF;
END $$;

COMMENT ON TABLE booking.digests IS 'An organization''s figures for a period (seed 002''s ai_digests): daily, weekly (Monday to Sunday), monthly or custom, from local midnight to local midnight in the organization''s time zone; content (bookings by status, resources'' booked and open minutes, utilisation and peak seats, requests, open conflicts), a plain-language summary, and an outside writer''s insights. One per organization, type and period. Staff read, owners and admins archive.';
COMMENT ON COLUMN booking.digests.period_end_date IS 'The day after the period''s last day (the period is [period_start_date, period_end_date) in local dates).';
COMMENT ON COLUMN booking.digests.content IS 'The figures: period (dates, zone, instants, hours), bookings (total, seats, no_shows, by_status: every status), resources (per resource: bookings starting in the period, booked_minutes, peak_seats, open_minutes, utilization), requests (new, new_by_type, pending), conflicts (open, by_type). See docs/digests.md.';
COMMENT ON COLUMN booking.digests.insights IS 'An outside writer''s insights (annotate_digest, service_role): a JSON array of at most 100 items and 64 kB; cleared when the figures change.';
COMMENT ON FUNCTION booking.generate_digest(uuid, text, date, date) IS 'Staff or service_role: computes an organization''s digest of a period (daily: a day; weekly: from a Monday; monthly: from the 1st; custom: to p_last_day, at most 92 days) with boundaries at local midnight in its time zone; one per organization, type and period (again: recomputed, rewritten only when the figures changed, with insights cleared and a new digest.generated outbox event). Returns the digest. 22023 bad arguments, 42501 not staff.';
COMMENT ON FUNCTION booking.annotate_digest(uuid, jsonb, text) IS 'service_role: stores an outside writer''s insights (a JSON array, at most 100 items and 64 kB) on a digest. 22023 bad arguments or unknown digest, 42501 not service_role.';
COMMENT ON FUNCTION booking_internal.digest_content(uuid, date, date, text, timestamptz, timestamptz) IS 'Internal: a digest''s figures for an organization and period (generate_digest has checked the caller''s right).';
COMMENT ON FUNCTION booking_internal.digest_summary(text, jsonb) IS 'Internal: the plain-language summary of a digest''s figures; the same figures give the same words.';
COMMENT ON FUNCTION booking_internal.count_phrase(bigint, text) IS 'Internal: a count and its noun, plural unless the count is 1.';
COMMENT ON FUNCTION booking_internal.max_digest_days() IS 'Internal: the longest custom digest, in days (92).';
COMMENT ON FUNCTION booking_internal.grant_digests_privileges(text) IS 'Internal: the digests module''s grants to an API role (called by grant_api_privileges).';
-- END COPY src/digests/digests.sql
-- =============================================================================================
-- As the install script's last step (src/platform/finalize.sql): nothing new is executable by
-- PUBLIC, and the API roles get the new module's privileges.
-- =============================================================================================
REVOKE EXECUTE ON ALL FUNCTIONS IN SCHEMA booking, booking_internal FROM PUBLIC;
SELECT booking.grant_api_privileges();
