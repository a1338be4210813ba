-- booking_ext: notifications and the audit log as RPCs, with seed 004's names and shapes.
--
-- The seed's versions take a user id and run as SECURITY DEFINER, so anyone could read anyone's
-- notifications. Here the caller is the JWT subject: p_user_id stays for compatibility, and a
-- value other than the caller's own is honoured only for a role that bypasses row-level security
-- (service_role). The notification functions run as the caller, so row-level security holds
-- even if a check here were wrong; only log_action, which writes the append-only audit log,
-- runs as the extension owner and checks the caller itself.

-- Longest message, notification type and reason accepted, and the largest metadata / values
-- document: bounded so that a careless client cannot fill the tables with one call.
CREATE FUNCTION booking_internal.check_text_argument(p_name text, p_value text, p_max_length integer) RETURNS text
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  IF p_value IS NULL OR btrim(p_value) = '' THEN
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

-- The user whose notifications a call reads or marks: the caller (p_user_id NULL or the caller's
-- own id), or, for a role that bypasses row-level security (service_role), the user named.
CREATE FUNCTION booking_internal.notification_owner(p_user_id text) RETURNS text
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_caller text := booking.current_user_id();
  v_asked  text := nullif(btrim(p_user_id), '');
BEGIN
  IF v_asked IS NULL OR v_asked = v_caller THEN
    IF v_caller IS NOT NULL THEN
      RETURN v_caller;
    END IF;
    IF booking_internal.is_privileged() THEN
      RAISE EXCEPTION 'p_user_id is required when the call has no user (service_role)'
        USING ERRCODE = 'invalid_parameter_value';
    END IF;
    RAISE EXCEPTION 'notifications need a signed-in user' USING ERRCODE = 'insufficient_privilege';
  END IF;
  IF booking_internal.is_privileged() THEN
    RETURN v_asked;
  END IF;
  RAISE EXCEPTION 'you may only read and mark your own notifications'
    USING ERRCODE = 'insufficient_privilege', HINT = 'Leave p_user_id out: the caller is the JWT subject.';
END $$;

-- Send a notification. Who may send to whom: owners, admins and staff of an organization to its
-- active members (clients included); service_role to anyone. The notification belongs to the
-- organization they share; when the recipient is a member of several of the sender's
-- organizations, p_metadata.organization_id names the one (otherwise 22023). Runs as the
-- caller: the notifications_insert policy enforces the same rule.
CREATE FUNCTION booking.send_notification(p_recipient_id text, p_message text, p_notification_type text,
                                          p_metadata jsonb DEFAULT NULL)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_id       uuid := gen_random_uuid();
  v_now      timestamptz := now();
  v_metadata jsonb := coalesce(booking_internal.check_json_object('p_metadata', p_metadata), '{}'::jsonb);
  v_org      uuid;
  v_orgs     uuid[];
BEGIN
  PERFORM booking_internal.check_text_argument('p_recipient_id', p_recipient_id, 200),
          booking_internal.check_text_argument('p_message', p_message, 4000),
          booking_internal.check_text_argument('p_notification_type', p_notification_type, 100);
  IF v_metadata ? 'organization_id' THEN
    BEGIN
      v_org := (v_metadata ->> 'organization_id')::uuid;
    EXCEPTION WHEN invalid_text_representation THEN
      RAISE EXCEPTION 'p_metadata.organization_id is not a uuid' USING ERRCODE = 'invalid_parameter_value';
    END;
  END IF;

  IF booking_internal.is_privileged() THEN
    IF v_org IS NOT NULL AND NOT EXISTS (SELECT 1 FROM booking.organizations WHERE id = v_org) THEN
      RAISE EXCEPTION 'unknown organization %', v_org USING ERRCODE = 'invalid_parameter_value';
    END IF;
  ELSE
    IF booking.current_user_id() IS NULL THEN
      RAISE EXCEPTION 'sending notifications needs a signed-in user' USING ERRCODE = 'insufficient_privilege';
    END IF;
    SELECT array_agg(m.organization_id ORDER BY m.organization_id) INTO v_orgs
    FROM booking.members m
    WHERE m.user_id = p_recipient_id AND m.is_active
      AND m.organization_id = ANY (booking.user_organization_ids('{owner,admin,staff}'))
      AND (v_org IS NULL OR m.organization_id = v_org);
    IF v_orgs IS NULL THEN
      RAISE EXCEPTION 'you can send notifications only to members of an organization where you are staff'
        USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF cardinality(v_orgs) > 1 THEN
      RAISE EXCEPTION 'the recipient is a member of several of your organizations'
        USING ERRCODE = 'invalid_parameter_value', HINT = 'Name one in p_metadata.organization_id.';
    END IF;
    v_org := v_orgs[1];
  END IF;

  -- No RETURNING: the sender may write the row but, not being its recipient, not read it back.
  INSERT INTO booking.notifications (id, organization_id, recipient_id, notification_type, message,
                                     metadata, created_at, updated_at)
  VALUES (v_id, v_org, p_recipient_id, p_notification_type, p_message, v_metadata, v_now, v_now);
  RETURN jsonb_build_object('id', v_id, 'recipient_id', p_recipient_id, 'organization_id', v_org,
                            'message', p_message, 'notification_type', p_notification_type,
                            'metadata', v_metadata, 'read_at', NULL, 'sent_at', v_now);
END $$;

-- Mark the caller's unread notifications read: all of them, or those listed (at most 1000 ids;
-- ids of others' or already read notifications are passed over). Returns how many changed.
CREATE FUNCTION booking.mark_notifications_read(p_user_id text DEFAULT NULL, p_notification_ids uuid[] DEFAULT NULL)
RETURNS integer
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_user  text := booking_internal.notification_owner(p_user_id);
  v_count integer;
BEGIN
  IF cardinality(p_notification_ids) > 1000 THEN
    RAISE EXCEPTION 'at most 1000 notification ids per call' USING ERRCODE = 'invalid_parameter_value';
  END IF;
  UPDATE booking.notifications n SET read_at = now()
  WHERE n.recipient_id = v_user AND n.read_at IS NULL
    AND (p_notification_ids IS NULL OR n.id = ANY (p_notification_ids));
  GET DIAGNOSTICS v_count = ROW_COUNT;
  RETURN v_count;
END $$;

CREATE FUNCTION booking.get_unread_count(p_user_id text DEFAULT NULL) RETURNS bigint
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_user text := booking_internal.notification_owner(p_user_id);
BEGIN
  RETURN (SELECT count(*) FROM booking.notifications n WHERE n.recipient_id = v_user AND n.read_at IS NULL);
END $$;

CREATE FUNCTION booking.get_unread_counts(p_user_id text DEFAULT NULL)
RETURNS TABLE (notification_type text, unread_count bigint)
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_user text := booking_internal.notification_owner(p_user_id);
BEGIN
  RETURN QUERY
    SELECT n.notification_type, count(*)
    FROM booking.notifications n
    WHERE n.recipient_id = v_user AND n.read_at IS NULL
    GROUP BY n.notification_type
    ORDER BY n.notification_type;
END $$;

-- A page of the caller's notifications, newest first (ties by id, so pages never overlap).
-- p_limit is 1 to 100.
CREATE FUNCTION booking.get_notifications_page(p_user_id text DEFAULT NULL, p_limit integer DEFAULT 20,
                                               p_offset integer DEFAULT 0)
RETURNS TABLE (id uuid, user_id text, organization_id uuid, message text, notification_type text,
               metadata jsonb, read_at timestamptz, created_at timestamptz)
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_user text := booking_internal.notification_owner(p_user_id);
BEGIN
  IF p_limit IS NULL OR p_limit < 1 OR p_limit > 100 THEN
    RAISE EXCEPTION 'p_limit must be between 1 and 100, not %', coalesce(p_limit::text, 'NULL')
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF p_offset IS NULL OR p_offset < 0 THEN
    RAISE EXCEPTION 'p_offset must be 0 or more, not %', coalesce(p_offset::text, 'NULL')
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  RETURN QUERY
    SELECT n.id, n.recipient_id, n.organization_id, n.message, n.notification_type, n.metadata, n.read_at, n.created_at
    FROM booking.notifications n
    WHERE n.recipient_id = v_user
    ORDER BY n.created_at DESC, n.id DESC
    LIMIT p_limit OFFSET p_offset;
END $$;

-- ---------------------------------------------------------------------------------------------
-- Audit
-- ---------------------------------------------------------------------------------------------

-- Record an action in the audit log (seed 004). The actor is the JWT subject, never an argument;
-- the organization is the entity's. Entity types are the audited tables (singular names are
-- accepted too): organizations, resources, availability_rules, availability_exceptions,
-- services, service_rules (by service id), bookings, conflicts. Who may: the organization's
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
  v_table := CASE lower(btrim(p_entity_type))
    WHEN 'organization' THEN 'organizations' WHEN 'resource' THEN 'resources'
    WHEN 'availability_rule' THEN 'availability_rules' WHEN 'availability_exception' THEN 'availability_exceptions'
    WHEN 'service' THEN 'services' WHEN 'service_rule' THEN 'service_rules'
    WHEN 'booking' THEN 'bookings' WHEN 'conflict' THEN 'conflicts'
    ELSE lower(btrim(p_entity_type)) END;
  IF v_table NOT IN ('organizations', 'resources', 'availability_rules', 'availability_exceptions',
                     'services', 'service_rules', 'bookings', 'conflicts') THEN
    RAISE EXCEPTION 'unknown entity type "%"', p_entity_type
      USING ERRCODE = 'invalid_parameter_value',
            HINT = 'Entity types: organizations, resources, availability_rules, availability_exceptions, services, service_rules, bookings, conflicts.';
  END IF;
  IF booking.current_user_id() IS NULL AND NOT booking_internal.is_privileged() THEN
    RAISE EXCEPTION 'logging an action needs a signed-in user' USING ERRCODE = 'insufficient_privilege';
  END IF;

  EXECUTE format('SELECT %s, %s FROM booking.%I WHERE %I = $1',
                 CASE v_table WHEN 'organizations' THEN 'id' ELSE 'organization_id' END,
                 CASE v_table WHEN 'bookings' THEN 'booked_by' ELSE 'NULL::text' END,
                 v_table,
                 CASE v_table WHEN 'service_rules' THEN 'service_id' ELSE 'id' END)
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
