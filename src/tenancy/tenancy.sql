-- booking_ext, module tenancy: tenants (organizations) and who belongs to them (members), and
-- the membership helpers every other module's policies and triggers ask.

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
SELECT booking_internal.register_table('organizations', 'tenancy', true, 'organization');

-- 0.2.0: the settings booking_ext knows (seed 002's calendar, AI, notification and integration
-- settings) have a checked shape; other top-level keys are the app's own. 22023 names the first
-- key that is wrong, on every path (a CHECK constraint: no trigger setting skips it).
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
ALTER TABLE booking.organizations ADD CONSTRAINT organizations_settings_shape
  CHECK (booking_internal.check_organization_settings(settings));

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
SELECT booking_internal.register_table('members', 'tenancy', true);

CREATE TRIGGER organizations_1_time_zone BEFORE INSERT OR UPDATE OF time_zone ON booking.organizations
  FOR EACH ROW EXECUTE FUNCTION booking_internal.check_time_zone();

-- ---------------------------------------------------------------------------------------------
-- Membership helpers. SECURITY DEFINER so that policies on other tables can ask about
-- membership without being filtered by the members table's own policies.
-- ---------------------------------------------------------------------------------------------

-- The organizations the caller is an active member of, optionally only with one of p_roles.
CREATE FUNCTION booking.user_organization_ids(p_roles text[] DEFAULT NULL) RETURNS uuid[]
LANGUAGE plpgsql STABLE SECURITY DEFINER PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  RETURN (SELECT coalesce(array_agg(m.organization_id), '{}'::uuid[])
          FROM booking.members m
          WHERE m.user_id = booking.current_user_id()
            AND m.is_active
            AND (p_roles IS NULL OR m.role = ANY (p_roles)));
END $$;

-- Organizations whose bookable resources and opening hours anyone may see.
CREATE FUNCTION booking.public_organization_ids() RETURNS uuid[]
LANGUAGE sql STABLE SECURITY DEFINER PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$ SELECT coalesce(array_agg(id), '{}') FROM booking.organizations WHERE is_public $$;

-- Is the caller an active member of this organization, with one of p_roles (any role when
-- NULL)? One probe of the members key: the triggers ask it on every write.
CREATE FUNCTION booking_internal.has_membership(p_organization_id uuid, p_roles text[]) RETURNS boolean
LANGUAGE plpgsql STABLE SECURITY DEFINER PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  RETURN EXISTS (SELECT 1 FROM booking.members m
                 WHERE m.organization_id = p_organization_id AND m.user_id = booking.current_user_id()
                   AND m.is_active AND (p_roles IS NULL OR m.role = ANY (p_roles)));
END $$;

CREATE FUNCTION booking.is_member(p_organization_id uuid) RETURNS boolean
LANGUAGE plpgsql STABLE SECURITY DEFINER PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$ BEGIN RETURN booking_internal.has_membership(p_organization_id, NULL); END $$;

CREATE FUNCTION booking.is_staff(p_organization_id uuid) RETURNS boolean
LANGUAGE plpgsql STABLE SECURITY DEFINER PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$ BEGIN RETURN booking_internal.has_membership(p_organization_id, '{owner,admin,staff}'); END $$;

CREATE FUNCTION booking.is_admin(p_organization_id uuid) RETURNS boolean
LANGUAGE plpgsql STABLE SECURITY DEFINER PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$ BEGIN RETURN booking_internal.has_membership(p_organization_id, '{owner,admin}'); END $$;

-- Does the caller have staff rights in this organization: its owners, admins and staff, or a
-- role that bypasses row-level security (service_role)?
CREATE FUNCTION booking_internal.has_staff_rights(p_organization_id uuid) RETURNS boolean
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$ BEGIN RETURN booking_internal.is_privileged() OR booking.is_staff(p_organization_id); END $$;

-- May the caller book in this organization at all: is it public, or are they an active member?
CREATE FUNCTION booking_internal.may_book_in(p_organization_id uuid) RETURNS boolean
LANGUAGE plpgsql STABLE SECURITY DEFINER PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  RETURN booking_internal.has_membership(p_organization_id, NULL)
      OR EXISTS (SELECT 1 FROM booking.organizations o WHERE o.id = p_organization_id AND o.is_public);
END $$;

-- organizations: members see theirs, everyone sees public ones; admins edit, owners delete.
-- Creating a tenant is a back-office act (service_role).
CREATE POLICY organizations_select ON booking.organizations FOR SELECT
  USING (is_public OR id = ANY ((SELECT booking.user_organization_ids())::uuid[]));
CREATE POLICY organizations_update ON booking.organizations FOR UPDATE
  USING (id = ANY ((SELECT booking.user_organization_ids('{owner,admin}'))::uuid[]))
  WITH CHECK (id = ANY ((SELECT booking.user_organization_ids('{owner,admin}'))::uuid[]));
CREATE POLICY organizations_delete ON booking.organizations FOR DELETE
  USING (id = ANY ((SELECT booking.user_organization_ids('{owner}'))::uuid[]));

-- members: you see your own memberships, staff see their organization's; admins manage them,
-- and only owners hand out or take away the owner role.
CREATE POLICY members_select ON booking.members FOR SELECT
  USING (user_id = (SELECT booking.current_user_id())
         OR organization_id = ANY ((SELECT booking.user_organization_ids('{owner,admin,staff}'))::uuid[]));
CREATE POLICY members_insert ON booking.members FOR INSERT
  WITH CHECK (organization_id = ANY ((SELECT booking.user_organization_ids('{owner,admin}'))::uuid[])
              AND (role <> 'owner' OR organization_id = ANY ((SELECT booking.user_organization_ids('{owner}'))::uuid[])));
CREATE POLICY members_update ON booking.members FOR UPDATE
  USING (organization_id = ANY ((SELECT booking.user_organization_ids('{owner,admin}'))::uuid[])
         AND (role <> 'owner' OR organization_id = ANY ((SELECT booking.user_organization_ids('{owner}'))::uuid[])))
  WITH CHECK (organization_id = ANY ((SELECT booking.user_organization_ids('{owner,admin}'))::uuid[])
              AND (role <> 'owner' OR organization_id = ANY ((SELECT booking.user_organization_ids('{owner}'))::uuid[])));
CREATE POLICY members_delete ON booking.members FOR DELETE
  USING (organization_id = ANY ((SELECT booking.user_organization_ids('{owner,admin}'))::uuid[])
         AND (role <> 'owner' OR organization_id = ANY ((SELECT booking.user_organization_ids('{owner}'))::uuid[])));

-- The policies of a table that members read and the organization's owners, admins and staff
-- write (resources, hours, services, conflicts): INSERT, UPDATE and DELETE for staff; the
-- table's module writes its own SELECT policy. One definition for every such table.
CREATE FUNCTION booking_internal.create_staff_write_policies(p_table text) RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  EXECUTE format($f$CREATE POLICY %1$I ON booking.%2$I FOR INSERT
    WITH CHECK (organization_id = ANY ((SELECT booking.user_organization_ids('{owner,admin,staff}'))::uuid[])) $f$,
    p_table || '_insert', p_table);
  EXECUTE format($f$CREATE POLICY %1$I ON booking.%2$I FOR UPDATE
    USING (organization_id = ANY ((SELECT booking.user_organization_ids('{owner,admin,staff}'))::uuid[]))
    WITH CHECK (organization_id = ANY ((SELECT booking.user_organization_ids('{owner,admin,staff}'))::uuid[])) $f$,
    p_table || '_update', p_table);
  EXECUTE format($f$CREATE POLICY %1$I ON booking.%2$I FOR DELETE
    USING (organization_id = ANY ((SELECT booking.user_organization_ids('{owner,admin,staff}'))::uuid[])) $f$,
    p_table || '_delete', p_table);
END $$;

-- Who may call the membership helpers, read organizations and manage members.
CREATE FUNCTION booking_internal.grant_tenancy_privileges(p_role text) RETURNS void
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

-- Documentation in the catalog (\d+, \df+ and PostgREST's OpenAPI show it).
COMMENT ON FUNCTION booking_internal.check_organization_settings(jsonb) IS 'Internal: the shape of the settings booking_ext knows (calendar, ai, notifications, integrations; docs/tenancy.md): 22023 naming the first wrong key, else true. The organizations_settings_shape constraint.';
COMMENT ON TABLE booking.organizations IS 'A tenant: slug, name, IANA time_zone, is_public (anonymous visitors see its bookable resources and hours), settings.';
COMMENT ON TABLE booking.members IS 'Membership of a user (JWT subject) in an organization, with role owner, admin, staff, member or client.';
COMMENT ON FUNCTION booking.user_organization_ids(text[]) IS 'The organizations the caller is an active member of (optionally only with one of the given roles), as uuid[].';
COMMENT ON FUNCTION booking.public_organization_ids() IS 'The organizations marked is_public, as uuid[].';
COMMENT ON FUNCTION booking.is_member(uuid) IS 'True when the caller is an active member of the organization, in any role.';
COMMENT ON FUNCTION booking.is_staff(uuid) IS 'True when the caller is an owner, admin or staff member of the organization.';
COMMENT ON FUNCTION booking.is_admin(uuid) IS 'True when the caller is an owner or admin of the organization.';
COMMENT ON FUNCTION booking_internal.may_book_in(uuid) IS 'Internal: may the caller book in this organization at all (it is public, or they are an active member)?';
COMMENT ON FUNCTION booking_internal.has_membership(uuid, text[]) IS 'Internal: is the caller an active member of the organization, with one of the roles given (any when NULL)? One probe of the members key; is_member, is_staff, is_admin and may_book_in ask it.';
COMMENT ON FUNCTION booking_internal.has_staff_rights(uuid) IS 'Internal: does the caller have staff rights in the organization (its owners, admins and staff, or a role that bypasses row-level security)?';
COMMENT ON FUNCTION booking_internal.create_staff_write_policies(text) IS 'Internal: creates the INSERT, UPDATE and DELETE policies of a table that the organization''s owners, admins and staff write.';
COMMENT ON FUNCTION booking_internal.grant_tenancy_privileges(text) IS 'Internal: the tenancy module''s grants to an API role (called by grant_api_privileges).';
