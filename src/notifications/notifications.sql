-- booking_ext, module notifications: messages to users, the notification RPCs with seed 004's
-- names and shapes, and the notifications of booking status changes.
--
-- The seed's versions take a user id and run as SECURITY DEFINER, so anyone could read anyone's
-- notifications. Here the caller is the JWT subject: p_user_id stays for compatibility, and a
-- value other than the caller's own is honoured only for a role that bypasses row-level security
-- (service_role). The notification functions run as the caller, so row-level security holds
-- even if a check here were wrong.

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
-- Not audited: messages about audited changes; marking one read is noise.
SELECT booking_internal.register_table('notifications', 'notifications', false);

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
-- Bookings: notifications of status changes, in the same transaction. The booker hears of every
-- change of their booking's status; the organization's owners, admins and staff hear of every
-- new request waiting for them (a booking that becomes pending). Runs as the extension owner:
-- a client submitting a request may not write to staff's notifications themselves.
-- ---------------------------------------------------------------------------------------------

CREATE FUNCTION booking_internal.bookings_notify() RETURNS trigger
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

CREATE TRIGGER bookings_7_notify_insert AFTER INSERT ON booking.bookings
  FOR EACH ROW WHEN (NEW.status = 'pending')
  EXECUTE FUNCTION booking_internal.bookings_notify();
CREATE TRIGGER bookings_7_notify_status AFTER UPDATE OF status ON booking.bookings
  FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status)
  EXECUTE FUNCTION booking_internal.bookings_notify();

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

CREATE FUNCTION booking_internal.grant_notifications_privileges(p_role text) RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  IF p_role <> 'anon' THEN
    PERFORM booking_internal.grant_execute(p_role, ARRAY['send_notification', 'mark_notifications_read',
                                                         'get_unread_count', 'get_unread_counts',
                                                         'get_notifications_page', 'notification_owner']);
  END IF;
  IF p_role = 'authenticated' THEN
    GRANT INSERT, DELETE ON booking.notifications TO authenticated;
    GRANT UPDATE (read_at) ON booking.notifications TO authenticated;
  END IF;
END $$;

-- Documentation in the catalog (\d+, \df+ and PostgREST's OpenAPI show it).
COMMENT ON TABLE booking.notifications IS 'A message to a user; the recipient reads it and marks it read.';
COMMENT ON FUNCTION booking_internal.bookings_notify() IS 'Trigger: notifies the booker of each status change, and the organization''s staff of each new pending request, in the same transaction.';
COMMENT ON FUNCTION booking.send_notification(text, text, text, jsonb) IS 'Sends a notification (seed 004) and returns it as JSON (id, recipient_id, organization_id, message, notification_type, metadata, read_at, sent_at). Owners, admins and staff to active members of their organization (p_metadata.organization_id picks one when several are shared), service_role to anyone. 22023 for an empty recipient, message or type; 42501 otherwise refused.';
COMMENT ON FUNCTION booking.mark_notifications_read(text, uuid[]) IS 'Marks the caller''s unread notifications read (all, or the ids given, at most 1000) and returns how many changed. p_user_id other than the caller: service_role only (else 42501).';
COMMENT ON FUNCTION booking.get_unread_count(text) IS 'The caller''s unread notifications. p_user_id other than the caller: service_role only (else 42501).';
COMMENT ON FUNCTION booking.get_unread_counts(text) IS 'The caller''s unread notifications per notification_type. p_user_id other than the caller: service_role only (else 42501).';
COMMENT ON FUNCTION booking.get_notifications_page(text, integer, integer) IS 'A page of the caller''s notifications, newest first; p_limit 1 to 100 (default 20), p_offset from 0. p_user_id other than the caller: service_role only (else 42501).';
COMMENT ON FUNCTION booking_internal.notification_owner(text) IS 'Internal: whose notifications a call is about: the JWT subject, or for service_role the p_user_id given; 42501 for anyone else''s.';
COMMENT ON FUNCTION booking_internal.grant_notifications_privileges(text) IS 'Internal: the notifications module''s grants to an API role (called by grant_api_privileges).';
