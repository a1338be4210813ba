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
