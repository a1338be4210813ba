-- booking_ext: identity helpers, row-level security and grants (DESIGN.md section 3).
-- Runs after the tables and triggers (finalize.sql comes last).
--
-- Policies are written TO PUBLIC, one per table and command, and scope by the JWT identity;
-- which API role may touch a table at all is decided by the grants at the end. That way the
-- policies need no role to exist at install time, and the API roles can be created later.
-- Identity calls sit in sub-selects so Postgres evaluates them once per query (an InitPlan).

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

-- ---------------------------------------------------------------------------------------------
-- Row-level security: enabled and forced on every table.
-- ---------------------------------------------------------------------------------------------
DO $$
DECLARE t text;
BEGIN
  FOR t IN SELECT relname FROM pg_class WHERE relnamespace = 'booking'::regnamespace AND relkind = 'r' LOOP
    EXECUTE format('ALTER TABLE booking.%I ENABLE ROW LEVEL SECURITY', t);
    EXECUTE format('ALTER TABLE booking.%I FORCE ROW LEVEL SECURITY', t);
  END LOOP;
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

-- Catalogue tables: members read, staff manage. Resources and opening hours of public
-- organizations are readable by anyone (only bookable resources).
CREATE POLICY resources_select ON booking.resources FOR SELECT
  USING (organization_id = ANY ((SELECT booking.user_organization_ids())::uuid[])
         OR (is_bookable AND organization_id = ANY ((SELECT booking.public_organization_ids())::uuid[])));
CREATE POLICY availability_rules_select ON booking.availability_rules FOR SELECT
  USING (organization_id = ANY ((SELECT booking.user_organization_ids())::uuid[])
         OR organization_id = ANY ((SELECT booking.public_organization_ids())::uuid[]));
CREATE POLICY availability_exceptions_select ON booking.availability_exceptions FOR SELECT
  USING (organization_id = ANY ((SELECT booking.user_organization_ids())::uuid[]));
CREATE POLICY services_select ON booking.services FOR SELECT
  USING (organization_id = ANY ((SELECT booking.user_organization_ids())::uuid[]));
CREATE POLICY service_rules_select ON booking.service_rules FOR SELECT
  USING (organization_id = ANY ((SELECT booking.user_organization_ids())::uuid[]));

DO $$
DECLARE t text;
BEGIN
  FOREACH t IN ARRAY ARRAY['resources', 'availability_rules', 'availability_exceptions',
                           'services', 'service_rules', 'conflicts'] LOOP
    EXECUTE format($f$CREATE POLICY %1$I ON booking.%2$I FOR INSERT
      WITH CHECK (organization_id = ANY ((SELECT booking.user_organization_ids('{owner,admin,staff}'))::uuid[])) $f$,
      t || '_insert', t);
    EXECUTE format($f$CREATE POLICY %1$I ON booking.%2$I FOR UPDATE
      USING (organization_id = ANY ((SELECT booking.user_organization_ids('{owner,admin,staff}'))::uuid[]))
      WITH CHECK (organization_id = ANY ((SELECT booking.user_organization_ids('{owner,admin,staff}'))::uuid[])) $f$,
      t || '_update', t);
    EXECUTE format($f$CREATE POLICY %1$I ON booking.%2$I FOR DELETE
      USING (organization_id = ANY ((SELECT booking.user_organization_ids('{owner,admin,staff}'))::uuid[])) $f$,
      t || '_delete', t);
  END LOOP;
END $$;

-- bookings: the booker sees and edits their own; staff manage their organization's. A booker
-- may create a draft or pending booking for themselves in an organization they belong to or
-- that is public; which fields and statuses they may change afterwards is bookings_guard's job.
CREATE POLICY bookings_select ON booking.bookings FOR SELECT
  USING (booked_by = (SELECT booking.current_user_id())
         OR organization_id = ANY ((SELECT booking.user_organization_ids('{owner,admin,staff}'))::uuid[]));
CREATE POLICY bookings_insert ON booking.bookings FOR INSERT
  WITH CHECK (organization_id = ANY ((SELECT booking.user_organization_ids('{owner,admin,staff}'))::uuid[])
              OR (status IN ('draft', 'pending', 'approved')
                  AND booking_internal.booker_may_insert(organization_id, booked_by)));
CREATE POLICY bookings_update ON booking.bookings FOR UPDATE
  USING (booked_by = (SELECT booking.current_user_id())
         OR organization_id = ANY ((SELECT booking.user_organization_ids('{owner,admin,staff}'))::uuid[]))
  WITH CHECK (booked_by = (SELECT booking.current_user_id())
              OR organization_id = ANY ((SELECT booking.user_organization_ids('{owner,admin,staff}'))::uuid[]));
CREATE POLICY bookings_delete ON booking.bookings FOR DELETE
  USING (organization_id = ANY ((SELECT booking.user_organization_ids('{owner,admin,staff}'))::uuid[]));

-- booking_services: visible with the booking; the booker edits them while the booking is open.
CREATE POLICY booking_services_select ON booking.booking_services FOR SELECT
  USING (organization_id = ANY ((SELECT booking.user_organization_ids('{owner,admin,staff}'))::uuid[])
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

-- booking_transitions: read with the booking; written only by the status trigger.
CREATE POLICY booking_transitions_select ON booking.booking_transitions FOR SELECT
  USING (organization_id = ANY ((SELECT booking.user_organization_ids('{owner,admin,staff}'))::uuid[])
         OR EXISTS (SELECT 1 FROM booking.bookings b
                    WHERE b.id = booking_id AND b.booked_by = (SELECT booking.current_user_id())));

-- notifications: the recipient reads, marks read and deletes theirs; staff send to members of
-- their organization.
CREATE POLICY notifications_select ON booking.notifications FOR SELECT
  USING (recipient_id = (SELECT booking.current_user_id()));
CREATE POLICY notifications_insert ON booking.notifications FOR INSERT
  WITH CHECK (organization_id = ANY ((SELECT booking.user_organization_ids('{owner,admin,staff}'))::uuid[])
              AND EXISTS (SELECT 1 FROM booking.members m
                          WHERE m.organization_id = notifications.organization_id
                            AND m.user_id = notifications.recipient_id));
CREATE POLICY notifications_update ON booking.notifications FOR UPDATE
  USING (recipient_id = (SELECT booking.current_user_id()))
  WITH CHECK (recipient_id = (SELECT booking.current_user_id()));
CREATE POLICY notifications_delete ON booking.notifications FOR DELETE
  USING (recipient_id = (SELECT booking.current_user_id()));

-- audit_log and outbox: admins read their organization's; nobody edits the audit log.
CREATE POLICY audit_log_select ON booking.audit_log FOR SELECT
  USING (organization_id = ANY ((SELECT booking.user_organization_ids('{owner,admin}'))::uuid[]));
CREATE POLICY outbox_select ON booking.outbox FOR SELECT
  USING (organization_id = ANY ((SELECT booking.user_organization_ids('{owner,admin}'))::uuid[]));

CREATE POLICY conflicts_select ON booking.conflicts FOR SELECT
  USING (organization_id = ANY ((SELECT booking.user_organization_ids('{owner,admin,staff}'))::uuid[]));

-- ---------------------------------------------------------------------------------------------
-- Grants to the Supabase API roles that exist. Roles are cluster-wide and never extension
-- members, so the script only grants; booking.create_api_roles() creates them on a plain
-- Postgres and grants again.
-- ---------------------------------------------------------------------------------------------
CREATE FUNCTION booking.grant_api_privileges() RETURNS text[]
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  -- Who may call which function of schemas booking and booking_internal, by name (no name is
  -- overloaded or in both). finalize.sql revokes EXECUTE on every function of the two schemas
  -- from PUBLIC, so a function in none of these lists runs only for its owner, inside triggers
  -- and SECURITY DEFINER functions: trigger functions, locks, the grant functions themselves.
  -- tests/sql/surface.sql holds the expected matrix.
  v_everyone constant text[] := ARRAY[
    -- identity and membership: row-level security policies and column defaults call them
    'current_user_id', 'current_role', 'user_organization_ids', 'public_organization_ids',
    'is_member', 'is_staff', 'is_admin',
    -- the status machine and time zones
    'booking_statuses', 'status_transitions', 'transition_allowed', 'is_valid_time_zone',
    -- scheduling (read-only, visibility checked inside)
    'get_available_slots', 'get_available_slots_any', 'find_next_slot',
    'can_book_resource', 'booking_refusal', 'open_periods', 'calculate_business_hours',
    'calculate_duration_minutes',
    -- the reporting aggregates (their support functions need no grant: Postgres checks those
    -- against the aggregate's owner)
    'peak_seats', 'busy_union', 'busy_minutes', 'utilization', 'rating_summary'];
  -- signed-in users and service_role: writers (the bookings guard runs as the writer) and the
  -- lifecycle, notification, audit and conflict RPCs, which check the caller themselves
  v_signed_in constant text[] := ARRAY[
    'set_booking_status', 'send_notification', 'mark_notifications_read', 'get_unread_count',
    'get_unread_counts', 'get_notifications_page', 'log_action', 'detect_conflicts', 'resolve_conflict',
    -- booking_internal: what those and the bookings guard call as the caller
    'is_bulk_load', 'is_privileged', 'has_staff_rights', 'may_book_in', 'booker_may_insert', 'enforce_booking_rules', 'actor_id', 'notification_owner', 'check_text_argument',
    'check_json_object'];
  -- book() books for the JWT subject: a user, not service_role
  v_authenticated_only constant text[] := ARRAY['book'];
  v_service_role_only constant text[] := ARRAY['claim_outbox', 'ack_outbox', 'fail_outbox',
    -- booking_internal
    'require_privileged'];
  v_granted text[] := '{}'::text[];
  v_role text;
  v_fn regprocedure;
BEGIN
  IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'anon') THEN
    GRANT USAGE ON SCHEMA booking TO anon;
    -- What a public booking page needs, and no more: not an organization's settings, nor a
    -- resource's metadata or calendar id (anonymous callers name their columns; `*` is refused).
    REVOKE SELECT ON booking.organizations, booking.resources FROM anon;
    GRANT SELECT (id, slug, name, time_zone, is_public) ON booking.organizations TO anon;
    GRANT SELECT (id, organization_id, kind, title, description, capacity, time_zone, is_bookable,
                  auto_approve, buffer_before_minutes, buffer_after_minutes, slot_interval_minutes,
                  min_notice_minutes, max_advance_days, max_booking_minutes)
      ON booking.resources TO anon;
    GRANT SELECT ON booking.availability_rules TO anon;
    v_granted := v_granted || 'anon'::text;
  END IF;
  IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'authenticated') THEN
    GRANT USAGE ON SCHEMA booking, booking_internal TO authenticated;
    GRANT SELECT ON ALL TABLES IN SCHEMA booking TO authenticated;
    GRANT INSERT, UPDATE, DELETE ON booking.members, booking.resources, booking.availability_rules,
      booking.availability_exceptions, booking.services, booking.service_rules, booking.bookings,
      booking.booking_services, booking.booking_notes, booking.conflicts TO authenticated;
    GRANT UPDATE, DELETE ON booking.organizations TO authenticated;
    GRANT INSERT, DELETE ON booking.notifications TO authenticated;
    GRANT UPDATE (read_at) ON booking.notifications TO authenticated;
    v_granted := v_granted || 'authenticated'::text;
  END IF;
  IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'service_role') THEN
    GRANT USAGE ON SCHEMA booking, booking_internal TO service_role;
    GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA booking TO service_role;
    REVOKE UPDATE, DELETE ON booking.audit_log FROM service_role;
    GRANT USAGE ON ALL SEQUENCES IN SCHEMA booking TO service_role;
    v_granted := v_granted || 'service_role'::text;
  END IF;

  FOREACH v_role IN ARRAY v_granted LOOP
    FOR v_fn IN
      SELECT p.oid::regprocedure FROM pg_proc p
      WHERE p.pronamespace IN ('booking'::regnamespace, 'booking_internal'::regnamespace)
        AND (p.proname = ANY (v_everyone)
             OR (v_role <> 'anon' AND p.proname = ANY (v_signed_in))
             OR (v_role = 'authenticated' AND p.proname = ANY (v_authenticated_only))
             OR (v_role = 'service_role' AND p.proname = ANY (v_service_role_only)))
    LOOP
      EXECUTE format('GRANT EXECUTE ON FUNCTION %s TO %I', v_fn, v_role);
    END LOOP;
  END LOOP;
  RETURN v_granted;
END $$;

-- The one call that prepares a plain Postgres for PostgREST / supabase-js: creates the
-- Supabase API roles where they are missing (anon, authenticated: NOLOGIN; service_role:
-- NOLOGIN BYPASSRLS) and grants them booking_ext's privileges. Needs a superuser. On Supabase
-- the roles already exist and the extension grants to them at install.
CREATE FUNCTION booking.create_api_roles() RETURNS text[]
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'anon') THEN
    CREATE ROLE anon NOLOGIN NOINHERIT;
  END IF;
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'authenticated') THEN
    CREATE ROLE authenticated NOLOGIN NOINHERIT;
  END IF;
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'service_role') THEN
    CREATE ROLE service_role NOLOGIN NOINHERIT BYPASSRLS;
  END IF;
  RETURN booking.grant_api_privileges();
END $$;

-- finalize.sql revokes EXECUTE from PUBLIC and calls grant_api_privileges(), once every
-- function exists.
