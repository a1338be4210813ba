-- booking_ext, module platform: what every other module stands on. Runs first in the extension
-- script (bootstrap), in schema @extschema@ = booking: the safe-install checks, the schemas, the
-- caller's identity, argument limits, the table registry and the API roles' privileges.
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

-- Row-level security policies are written TO PUBLIC, one per table and command, and scope by
-- the JWT identity; which API role may touch a table at all is decided by the grants (each
-- module's grant_<module>_privileges below). That way the policies need no role to exist at
-- install time, and the API roles can be created later. Identity calls sit in sub-selects so
-- Postgres evaluates them once per query (an InitPlan).

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
-- functions (owner only), the table registry, and helpers that the API roles must be able to
-- execute because code running as the caller calls them (triggers of the bookings a user
-- writes, invoker-rights RPCs). PostgREST exposes schema booking only, so none of these is an
-- RPC endpoint. Each module's grant_<module>_privileges grants USAGE and EXECUTE to the roles
-- that need them.
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

-- The role the caller acts as, by name (the audit log's actor_role outside the API): its SET
-- ROLE (PostgREST sets one per request), else its login role. Inside a SECURITY DEFINER function
-- current_user is the function's owner, so rights are never judged by current_user.
CREATE FUNCTION booking_internal.calling_role() RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$ SELECT CASE current_setting('role') WHEN 'none' THEN session_user::text ELSE current_setting('role') END $$;

-- booking_internal.is_privileged() and is_bulk_load() are native (caller.rs beside this file):
-- the triggers ask them on every write.

-- The actor recorded in transitions and the audit log: the JWT subject, else the login role.
CREATE FUNCTION booking_internal.actor_id() RETURNS text
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  RETURN coalesce(@extschema@.current_user_id(), session_user::text);
END $$;

-- ---------------------------------------------------------------------------------------------
-- updated_at, time zones, fixed organizations
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

-- ---------------------------------------------------------------------------------------------
-- The table registry. Each module registers each table it creates, right after creating it,
-- with one call; the call does what every table needs, so no list elsewhere has to grow:
-- * pg_dump keeps its rows (and those of its identity or serial sequences): an extension
--   member registered with pg_extension_config_dump;
-- * row-level security enabled and forced (the module writes the policies);
-- * updated_at kept current and organization_id fixed, when it has those columns;
-- * when audited, its inserts, updates (changed columns) and deletes written to audit_log by the
--   audit module's trigger; and when it names an entity type, log_action accepts that type.
-- Upgrade scripts register their new tables the same way. Registering again changes nothing.
-- ---------------------------------------------------------------------------------------------

CREATE TABLE booking_internal.registered_tables (
  table_name   text PRIMARY KEY,
  position     integer GENERATED ALWAYS AS IDENTITY,
  module       text NOT NULL,
  audited      boolean NOT NULL,
  -- the entity type log_action accepts for it (its singular name), and the column naming an
  -- entity; NULL when log_action does not log about it
  entity_type  text UNIQUE,
  entity_key   text
);

CREATE FUNCTION booking_internal.register_table(p_table text, p_module text, p_audited boolean,
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

-- Longest message, notification type and reason accepted, and the largest metadata / values
-- document: bounded so that a careless client cannot fill the tables with one call.
CREATE FUNCTION booking_internal.check_text_argument(p_name text, p_value text, p_max_length integer) RETURNS text
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

CREATE FUNCTION booking_internal.check_json_object(p_name text, p_value jsonb) RETURNS jsonb
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  IF p_value IS NULL THEN
    RETURN NULL;
  END IF;
  IF jsonb_typeof(p_value) <> 'object' THEN
    RAISE EXCEPTION '% must be a JSON object, not %', p_name, jsonb_typeof(p_value) USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF octet_length(p_value::text) > 16384 THEN
    RAISE EXCEPTION '% is larger than 16 kB', p_name USING ERRCODE = 'invalid_parameter_value';
  END IF;
  RETURN p_value;
END $$;

CREATE FUNCTION booking_internal.require_privileged(p_what text) RETURNS void
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  IF NOT booking_internal.is_privileged() THEN
    RAISE EXCEPTION '% is for service_role only', p_what USING ERRCODE = 'insufficient_privilege';
  END IF;
END $$;


-- ---------------------------------------------------------------------------------------------
-- Privileges of the Supabase API roles (anon, authenticated, service_role) that exist. Roles are
-- cluster-wide and never extension members, so the script only grants; create_api_roles()
-- creates them on a plain Postgres and grants again. No function of the two schemas is
-- executable by PUBLIC (finalize.sql); each module says who may call its functions and write
-- its tables in its own booking_internal.grant_<module>_privileges(p_role), which
-- grant_api_privileges() finds in the catalog and calls for each role. The expected matrix is
-- tests/sql/platform/surface.sql.
-- ---------------------------------------------------------------------------------------------

-- Grant EXECUTE on the functions of schemas booking and booking_internal with these names (no
-- name is overloaded or in both schemas) to one role.
CREATE FUNCTION booking_internal.grant_execute(p_role text, p_functions text[]) RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_fn regprocedure;
BEGIN
  FOR v_fn IN SELECT p.oid::regprocedure FROM pg_proc p
              WHERE p.pronamespace IN ('booking'::regnamespace, 'booking_internal'::regnamespace)
                AND p.proname = ANY (p_functions) LOOP
    EXECUTE format('GRANT EXECUTE ON FUNCTION %s TO %I', v_fn, p_role);
  END LOOP;
END $$;

CREATE FUNCTION booking.grant_api_privileges() RETURNS text[]
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_granted text[] := '{}'::text[];
  v_role text;
  v_module regprocedure;
BEGIN
  FOREACH v_role IN ARRAY ARRAY['anon', 'authenticated', 'service_role'] LOOP
    CONTINUE WHEN NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = v_role);
    v_granted := v_granted || v_role;
    -- What holds for every module: anon reads schema booking only (each module grants it
    -- the columns it may read); signed-in users read every table (row-level security filters
    -- the rows; each module grants the writes); service_role reads and writes every table.
    IF v_role = 'anon' THEN
      GRANT USAGE ON SCHEMA booking TO anon;
    ELSIF v_role = 'authenticated' THEN
      GRANT USAGE ON SCHEMA booking, booking_internal TO authenticated;
      GRANT SELECT ON ALL TABLES IN SCHEMA booking TO authenticated;
    ELSE
      GRANT USAGE ON SCHEMA booking, booking_internal TO service_role;
      GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA booking TO service_role;
      GRANT USAGE ON ALL SEQUENCES IN SCHEMA booking TO service_role;
    END IF;
    FOR v_module IN SELECT p.oid::regprocedure FROM pg_proc p
                    WHERE p.pronamespace = 'booking_internal'::regnamespace
                      AND p.proname LIKE 'grant\_%\_privileges'
                    ORDER BY p.proname LOOP
      EXECUTE format('SELECT %s(%L)', v_module::regproc, v_role);
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

-- Who may call the platform's functions.
CREATE FUNCTION booking_internal.grant_platform_privileges(p_role text) RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  -- identity and time zones: policies and column defaults call them
  PERFORM booking_internal.grant_execute(p_role, ARRAY['current_user_id', 'current_role', 'is_valid_time_zone']);
  IF p_role <> 'anon' THEN
    -- what the triggers and RPCs running as a signed-in caller call
    PERFORM booking_internal.grant_execute(p_role, ARRAY['is_bulk_load', 'is_privileged', 'actor_id',
                                                         'check_text_argument', 'check_json_object']);
  END IF;
  IF p_role = 'service_role' THEN
    PERFORM booking_internal.grant_execute(p_role, ARRAY['require_privileged']);
  END IF;
END $$;


-- Documentation in the catalog (\d+, \df+ and PostgREST's OpenAPI show it).
COMMENT ON FUNCTION booking.current_user_id() IS 'The caller''s id: the JWT sub claim (request.jwt.claim.sub or request.jwt.claims ->> ''sub''); NULL when anonymous.';
COMMENT ON FUNCTION booking.current_role() IS 'The caller''s API role: the JWT role claim, else the database role running the statement.';
COMMENT ON FUNCTION booking.create_api_roles() IS 'Creates the Supabase API roles anon, authenticated and service_role where missing, and grants booking_ext''s privileges to them. Superuser only.';
COMMENT ON FUNCTION booking.grant_api_privileges() IS 'Grants booking_ext''s privileges to the API roles that exist; returns their names. Called at install and by create_api_roles().';
COMMENT ON FUNCTION booking_internal.actor_id() IS 'Internal: the actor recorded in transitions and approvals: the JWT subject, else the login role.';
COMMENT ON SCHEMA booking_internal IS 'booking_ext''s internals, not part of the API and not exposed by PostgREST: trigger functions, locks, the aggregates'' support functions, and the helpers that code running as the caller needs.';
COMMENT ON FUNCTION booking_internal.touch_updated_at() IS 'Trigger: keeps updated_at current on real changes.';
COMMENT ON FUNCTION booking_internal.check_time_zone() IS 'Trigger: refuses unknown time zones with 22023.';
COMMENT ON FUNCTION booking_internal.check_text_argument(text, text, integer) IS 'Internal: raises 22023 when a text argument is NULL, blank or longer than the limit; returns it otherwise.';
COMMENT ON FUNCTION booking_internal.check_json_object(text, jsonb) IS 'Internal: raises 22023 when a jsonb argument is not an object or is larger than 16 kB; NULL passes.';
COMMENT ON FUNCTION booking_internal.calling_role() IS 'Internal: the role that called a SECURITY DEFINER function (the SET ROLE in force, else the login role).';
COMMENT ON FUNCTION booking_internal.require_privileged(text) IS 'Internal: raises 42501 unless the role running the statement bypasses row-level security (service_role).';
COMMENT ON FUNCTION booking_internal.organization_is_fixed() IS 'Trigger: refuses (42501) an UPDATE that moves a row to another organization, for every caller.';
COMMENT ON TABLE booking_internal.registered_tables IS 'Internal: the tables the modules registered (register_table): whether they are audited and the entity type log_action accepts for them.';
COMMENT ON FUNCTION booking_internal.register_table(text, text, boolean, text, text) IS 'Internal: what every table of booking_ext gets, called by its module right after creating it: pg_dump keeps its rows, row-level security enabled and forced, updated_at and organization_id triggers, audit triggers when audited; idempotent.';
COMMENT ON FUNCTION booking_internal.grant_execute(text, text[]) IS 'Internal: grants EXECUTE on the functions of booking and booking_internal with the given names to a role.';
COMMENT ON FUNCTION booking_internal.grant_platform_privileges(text) IS 'Internal: the platform module''s grants to an API role (called by grant_api_privileges).';
