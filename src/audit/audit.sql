-- booking_ext, module audit: the append-only audit log, the trigger that records every change of
-- a table registered as audited (booking_internal.register_table), and log_action. Comes right
-- after tenancy (its policy asks about membership): the tenancy tables registered before it get
-- their audit triggers when it installs, every later table when it registers.

-- Append-only (append_only below). No foreign key on purpose: the history of a deleted
-- tenant or entity stays readable.
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
-- Not audited itself: its rows are the record.
SELECT booking_internal.register_table('audit_log', 'audit', false);

-- ---------------------------------------------------------------------------------------------
-- Audit: every insert, update and delete of the business tables, append-only.
-- ---------------------------------------------------------------------------------------------

-- The organization and entity an audited row is about: the row's organization (an
-- organization's own id), and the row's id, a line item's booking, a service's rules' service.
-- SQL bodies, inlined where they are used: the row and statement triggers below say it once.
CREATE FUNCTION booking_internal.audited_organization_id(p_table text, p_row jsonb) RETURNS uuid
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN coalesce(p_row ->> 'organization_id', CASE p_table WHEN 'organizations' THEN p_row ->> 'id' END)::uuid;

CREATE FUNCTION booking_internal.audited_entity_id(p_row jsonb) RETURNS uuid
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN coalesce(p_row ->> 'id', p_row ->> 'booking_id', p_row ->> 'service_id')::uuid;

-- An update (its changed columns only) or a delete, one row at a time.
CREATE FUNCTION booking_internal.audit_row_change() RETURNS trigger
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

-- The rows one INSERT statement wrote, in one INSERT of their audit rows (a statement trigger
-- with the inserted rows as its transition table, new_rows): a series of a hundred bookings is
-- audited at the cost of one statement, not a hundred.
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

-- The audited tables registered before this module (tenancy's) get their triggers now.
SELECT booking_internal.register_table(table_name, module, audited, entity_type, coalesce(entity_key, 'id'))
FROM booking_internal.registered_tables WHERE audited ORDER BY position;

-- It and the other logs that are only ever appended to (the ledgers and state histories of
-- the people, events and credits modules) refuse changes with this one trigger function.
CREATE FUNCTION booking_internal.append_only() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  RAISE EXCEPTION 'booking.% is append-only: % is not allowed', TG_TABLE_NAME, TG_OP
    USING ERRCODE = 'insufficient_privilege';
END $$;

CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON booking.audit_log
  FOR EACH ROW EXECUTE FUNCTION booking_internal.append_only();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON booking.audit_log
  FOR EACH STATEMENT EXECUTE FUNCTION booking_internal.append_only();

-- Admins read their organization's; nobody edits the audit log.
CREATE POLICY audit_log_select ON booking.audit_log FOR SELECT
  USING (organization_id = ANY ((SELECT booking.user_organization_ids('{owner,admin}'))::uuid[]));

-- Record an action in the audit log (seed 004). The actor is the JWT subject, never an argument;
-- the organization is the entity's. Entity types are those the modules registered
-- (register_table's p_entity_type; the table's name is accepted too): organizations,
-- resources, availability_rules, availability_exceptions, services, service_rules (by service
-- id), bookings, conflicts. Who may: the organization's
-- owners, admins and staff; the booker, for their own booking; service_role, for any entity.
-- Runs as the extension owner because nobody else may write the append-only audit log.
CREATE FUNCTION booking.log_action(p_entity_type text, p_entity_id uuid, p_action text,
                                   p_old_values jsonb DEFAULT NULL, p_new_values jsonb DEFAULT NULL,
                                   p_reason text DEFAULT NULL)
RETURNS uuid
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_table  text;
  v_key    text;
  v_org    uuid;
  v_booker text;
  v_id     uuid;
BEGIN
  PERFORM booking_internal.check_text_argument('p_entity_type', p_entity_type, 100),
          booking_internal.check_text_argument('p_action', p_action, 100),
          booking_internal.check_json_object('p_old_values', p_old_values),
          booking_internal.check_json_object('p_new_values', p_new_values);
  IF p_reason IS NOT NULL THEN
    PERFORM booking_internal.check_text_argument('p_reason', p_reason, 4000);
  END IF;
  IF p_entity_id IS NULL THEN
    RAISE EXCEPTION 'p_entity_id must not be NULL' USING ERRCODE = 'invalid_parameter_value';
  END IF;
  SELECT t.table_name, t.entity_key INTO v_table, v_key
  FROM booking_internal.registered_tables t
  WHERE t.entity_type IS NOT NULL AND lower(btrim(p_entity_type)) IN (t.entity_type, t.table_name);
  IF v_table IS NULL THEN
    RAISE EXCEPTION 'unknown entity type "%"', p_entity_type
      USING ERRCODE = 'invalid_parameter_value',
            HINT = 'Entity types: ' || (SELECT string_agg(table_name, ', ' ORDER BY position)
                                        FROM booking_internal.registered_tables WHERE entity_type IS NOT NULL) || '.';
  END IF;
  IF booking.current_user_id() IS NULL AND NOT booking_internal.is_privileged() THEN
    RAISE EXCEPTION 'logging an action needs a signed-in user' USING ERRCODE = 'insufficient_privilege';
  END IF;

  -- The organization is the row's organization_id (an organization's own id); the booker, for
  -- a table with one, is booked_by.
  EXECUTE format('SELECT %s, %s FROM booking.%I WHERE %I = $1',
                 CASE v_table WHEN 'organizations' THEN 'id' ELSE 'organization_id' END,
                 CASE WHEN EXISTS (SELECT FROM pg_attribute
                                   WHERE attrelid = format('booking.%I', v_table)::regclass
                                     AND attname = 'booked_by' AND NOT attisdropped)
                      THEN 'booked_by' ELSE 'NULL::text' END,
                 v_table, v_key)
    INTO v_org, v_booker USING p_entity_id;
  -- A booker logs about their own booking only while a member of its organization: a stranger
  -- who booked in a public organization may not write into that tenant's append-only log.
  IF NOT booking_internal.has_staff_rights(v_org)
     AND NOT (v_booker IS NOT DISTINCT FROM booking.current_user_id() AND booking.is_member(v_org)) THEN
    -- An unknown entity and one the caller may not log about look alike.
    RAISE EXCEPTION 'unknown % % or you may not log actions on it', v_table, p_entity_id
      USING ERRCODE = 'insufficient_privilege';
  END IF;
  IF v_org IS NULL THEN
    RAISE EXCEPTION 'unknown % %', v_table, p_entity_id USING ERRCODE = 'invalid_parameter_value';
  END IF;

  INSERT INTO booking.audit_log (organization_id, entity_type, entity_id, action, actor_id, actor_role,
                                 old_values, new_values, reason, source)
  VALUES (v_org, v_table, p_entity_id, p_action, booking.current_user_id(),
          coalesce(nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'role', booking_internal.calling_role()),
          p_old_values, p_new_values, p_reason, 'rpc')
  RETURNING id INTO v_id;
  RETURN v_id;
END $$;

-- Who may call log_action.
CREATE FUNCTION booking_internal.grant_audit_privileges(p_role text) RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  IF p_role <> 'anon' THEN
    PERFORM booking_internal.grant_execute(p_role, ARRAY['log_action']);
  END IF;
  IF p_role = 'service_role' THEN
    -- nobody edits the audit log, service_role included
    REVOKE UPDATE, DELETE ON booking.audit_log FROM service_role;
  END IF;
END $$;

-- Documentation in the catalog (\d+, \df+ and PostgREST's OpenAPI show it).
COMMENT ON TABLE booking.audit_log IS 'Append-only record of inserts, updates (changed columns) and deletes of the business tables, with actor and reason.';
COMMENT ON FUNCTION booking_internal.audit_row_change() IS 'Trigger: writes an audit_log row for an update (changed columns only) or a delete.';
COMMENT ON FUNCTION booking_internal.audit_rows_inserted() IS 'Statement trigger: writes the audit_log rows of the rows one INSERT wrote (transition table new_rows), in one statement.';
COMMENT ON FUNCTION booking_internal.audited_organization_id(text, jsonb) IS 'Internal: the organization an audited row (as JSON) of a table is about.';
COMMENT ON FUNCTION booking_internal.audited_entity_id(jsonb) IS 'Internal: the entity an audited row (as JSON) is about: its id, a line item''s booking, a service''s rules'' service.';
COMMENT ON FUNCTION booking_internal.append_only() IS 'Trigger: refuses (42501) UPDATE, DELETE and TRUNCATE of a log.';
COMMENT ON FUNCTION booking.log_action(text, uuid, text, jsonb, jsonb, text) IS 'Records an action in the audit log (seed 004) and returns its id; the actor is the JWT subject and the organization the entity''s. Staff of the entity''s organization, the booker of a booking, or service_role. 22023 for bad input, 42501 otherwise refused.';
COMMENT ON FUNCTION booking_internal.grant_audit_privileges(text) IS 'Internal: the audit module''s grants to an API role (called by grant_api_privileges).';
