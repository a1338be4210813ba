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
  END IF;
  IF p_role = 'authenticated' THEN
    GRANT INSERT, UPDATE, DELETE ON booking.members TO authenticated;
    GRANT UPDATE, DELETE ON booking.organizations TO authenticated;
  END IF;
END $$;

-- Documentation in the catalog (\d+, \df+ and PostgREST's OpenAPI show it).
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
