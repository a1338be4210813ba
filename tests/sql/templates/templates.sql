-- Templates: the registry of keys, the save check (unknown key, unknown or malformed
-- placeholder, on insert and update, whoever writes), who reads and writes them, render_template
-- (locale fallback, built-in default, HTML escaping for email, missing values, one pass, limits,
-- membership), and booking_ext's own notifications: the built-in texts are the old ones, an
-- organization's active in_app template replaces them.
DO $$
DECLARE
  r  jsonb;
  k  record;
  v_id uuid;
BEGIN
  -- The registry: eleven keys; each default uses only its own placeholders.
  PERFORM pg_temp.check((SELECT count(*) FROM booking.notification_template_keys()) = 11, 'eleven keys');
  FOR k IN SELECT * FROM booking.notification_template_keys() LOOP
    PERFORM pg_temp.check(booking_internal.template_placeholders(k.default_body) <@ k.placeholders
                          AND booking_internal.template_placeholders(k.default_subject) <@ k.placeholders,
                          format('the defaults of %s use its placeholders only', k.template_key));
  END LOOP;
  PERFORM pg_temp.act_as('anon');
  PERFORM pg_temp.check(EXISTS (SELECT 1 FROM booking.notification_template_keys() WHERE template_key = 'booking_status'),
                        'anyone reads the list of keys');

  -- Saving: owners and admins of the organization; checked on every path.
  PERFORM pg_temp.act_as('admin');
  INSERT INTO booking.notification_templates (organization_id, template_key, channel, locale, subject, body)
  VALUES ('00000000-0000-4000-a000-000000000001', 'booking_status', 'email', NULL, 'Booking: {{ title }}', 'Any: {{title}} is {{status}}.'),
         ('00000000-0000-4000-a000-000000000001', 'booking_status', 'email', 'fr', 'Réservation', 'FR: {{title}} est {{status}}.');
  INSERT INTO booking.notification_templates (organization_id, template_key, channel, locale, subject, body)
  VALUES ('00000000-0000-4000-a000-000000000001', 'booking_status', 'email', 'fr-CA', NULL, 'CA: <b>{{title}}</b> {{reason}}!')
  RETURNING id INTO v_id;
  PERFORM pg_temp.check(pg_temp.refusal($q$INSERT INTO booking.notification_templates (organization_id, template_key, body)
    VALUES ('00000000-0000-4000-a000-000000000001', 'no_such_key', 'x')$q$) = '22023/', 'an unknown key is refused');
  PERFORM pg_temp.check(pg_temp.refusal_text($q$INSERT INTO booking.notification_templates (organization_id, template_key, body)
    VALUES ('00000000-0000-4000-a000-000000000001', 'booking_request', 'Hi {{titel}}')$q$) LIKE '22023//unknown placeholder(s)%titel%',
    'a placeholder the key does not offer is refused, named');
  PERFORM pg_temp.check(pg_temp.refusal($q$INSERT INTO booking.notification_templates (organization_id, template_key, subject, body)
    VALUES ('00000000-0000-4000-a000-000000000001', 'booking_request', '{{offer_expires_at}}', 'ok')$q$) = '22023/',
    'in the subject too');
  PERFORM pg_temp.check(pg_temp.refusal($q$INSERT INTO booking.notification_templates (organization_id, template_key, body)
    VALUES ('00000000-0000-4000-a000-000000000001', 'booking_request', 'Hi {{title')$q$) = '22023/', 'an unclosed {{ is refused');
  PERFORM pg_temp.check(pg_temp.refusal($q$INSERT INTO booking.notification_templates (organization_id, template_key, body)
    VALUES ('00000000-0000-4000-a000-000000000001', 'booking_request', 'Hi {{Title}}')$q$) = '22023/', 'names are lower case');
  PERFORM pg_temp.check(pg_temp.refusal(format($q$UPDATE booking.notification_templates SET body = '{{nope}}' WHERE id = %L$q$, v_id)) = '22023/',
                        'an update is checked as well');
  PERFORM pg_temp.check(pg_temp.refusal(format($q$UPDATE booking.notification_templates SET template_key = 'message' WHERE id = %L$q$, v_id)) = '22023/',
                        'and so is a change of key (the placeholders of the new key)');
  PERFORM pg_temp.check(pg_temp.refusal($q$INSERT INTO booking.notification_templates (organization_id, template_key, channel, locale, body)
    VALUES ('00000000-0000-4000-a000-000000000001', 'booking_status', 'email', 'fr', 'again')$q$) = '23505/', 'once per key, channel and locale');
  PERFORM pg_temp.check(pg_temp.refusal($q$INSERT INTO booking.notification_templates (organization_id, template_key, body)
    VALUES ('00000000-0000-4000-a000-000000000001', 'booking_status', repeat('x', 10001))$q$) = '23514/', 'a body of at most 10000 characters');
  PERFORM pg_temp.check(pg_temp.refusal($q$INSERT INTO booking.notification_templates (organization_id, template_key, locale, body)
    VALUES ('00000000-0000-4000-a000-000000000001', 'booking_status', 'French', 'x')$q$) = '23514/', 'a locale is a language tag');
  PERFORM pg_temp.check(pg_temp.refusal($q$INSERT INTO booking.notification_templates (organization_id, template_key, body)
    VALUES ('00000000-0000-4000-a000-000000000002', 'booking_status', 'x')$q$) = '42501/', 'not in another organization');
  PERFORM pg_temp.act_as('superuser');
  PERFORM pg_temp.check(pg_temp.refusal($q$INSERT INTO booking.notification_templates (organization_id, template_key, body)
    VALUES ('00000000-0000-4000-a000-000000000002', 'booking_status', '{{colour}}')$q$) = '22023/', 'whoever writes');
  PERFORM pg_temp.check(EXISTS (SELECT 1 FROM booking.audit_log WHERE entity_type = 'notification_templates' AND entity_id = v_id
                                  AND action = 'insert' AND actor_id = 'u-admin'), 'templates are audited');
  PERFORM pg_temp.act_as('staff');
  PERFORM pg_temp.check(pg_temp.refusal($q$INSERT INTO booking.notification_templates (organization_id, template_key, body)
    VALUES ('00000000-0000-4000-a000-000000000001', 'booking_request', 'x')$q$) = '42501/', 'staff do not write templates');
  PERFORM pg_temp.act_as('client');
  PERFORM pg_temp.check((SELECT count(*) FROM booking.notification_templates) = 3, 'members read them');
  PERFORM pg_temp.act_as('outsider');
  PERFORM pg_temp.check(NOT EXISTS (SELECT 1 FROM booking.notification_templates), 'others do not');

  -- Rendering: locale fallback exact -> language -> any -> built-in.
  PERFORM pg_temp.act_as('client');
  r := booking.render_template('booking_status', '{"organization_id": "00000000-0000-4000-a000-000000000001",
                                "title": "Tom & Jerry''s <VR>", "status": "approved"}', 'email', 'fr-CA');
  PERFORM pg_temp.check(r ->> 'body' = 'CA: <b>Tom &amp; Jerry&#39;s &lt;VR&gt;</b> !' AND r ->> 'locale' = 'fr-CA'
                        AND r ->> 'source' = 'organization' AND (r ->> 'template_id')::uuid = v_id,
                        format('exact locale, values escaped for email, a missing value empty: %s', r));
  PERFORM pg_temp.check(r ->> 'subject' = 'Your Tom &amp; Jerry&#39;s &lt;VR&gt; is now approved',
                        format('no subject of its own: the built-in one: %s', r));
  r := booking.render_template('booking_status', '{"organization_id": "00000000-0000-4000-a000-000000000001",
                                "title": "VR", "status": "approved"}', 'email', 'fr-BE');
  PERFORM pg_temp.check((r ->> 'body', r ->> 'locale', r ->> 'subject') = ('FR: VR est approved.', 'fr', 'Réservation'), format('the language: %s', r));
  r := booking.render_template('booking_status', '{"organization_id": "00000000-0000-4000-a000-000000000001",
                                "title": "{{status}}", "status": "approved"}', 'email', 'de');
  PERFORM pg_temp.check((r ->> 'body', r ->> 'subject') = ('Any: {{status}} is approved.', 'Booking: {{status}}'),
                        format('any locale; a value is not read for placeholders: %s', r));
  r := booking.render_template('booking_status', '{"organization_id": "00000000-0000-4000-a000-000000000001",
                                "title": "VR", "status": "approved"}', 'sms', 'fr');
  PERFORM pg_temp.check((r ->> 'body', r ->> 'source', r ->> 'template_id') IS NOT DISTINCT FROM ('Your VR is now approved.', 'default', NULL),
                        format('no template for the channel: the built-in text, not escaped: %s', r));
  r := booking.render_template('registration_offered', '{"title": "A < B", "offer_expires_at": 5}');
  PERFORM pg_temp.check(r ->> 'body' = 'A seat came free for A < B: accept it before 5.', format('no organization: the default, in_app unescaped: %s', r));
  PERFORM pg_temp.check(pg_temp.refusal($q$SELECT booking.render_template('nope', '{}')$q$) = '22023/', 'an unknown key');
  PERFORM pg_temp.check(pg_temp.refusal($q$SELECT booking.render_template(repeat('k', 101), '{}')$q$) = '22023/', 'a key over 100 characters');
  PERFORM pg_temp.check(pg_temp.refusal($q$SELECT booking.render_template('message', '{}', 'fax')$q$) = '22023/', 'an unknown channel');
  PERFORM pg_temp.check(pg_temp.refusal($q$SELECT booking.render_template('message', '{}', 'email', 'fr_FR')$q$) = '22023/', 'a malformed locale');
  PERFORM pg_temp.check(pg_temp.refusal($q$SELECT booking.render_template('message', '[1]')$q$) = '22023/', 'p_data an object');
  PERFORM pg_temp.check(pg_temp.refusal(format('SELECT booking.render_template(''message'', %L)', jsonb_build_object('preview', repeat('p', 17000))))
                        = '22023/', 'p_data up to 16 kB');
  PERFORM pg_temp.check(pg_temp.refusal($q$SELECT booking.render_template('message', '{"organization_id": "x"}')$q$) = '22023/', 'an organization id that is no uuid');
  PERFORM pg_temp.check(pg_temp.refusal($q$SELECT booking.render_template('message', '{"organization_id": "00000000-0000-4000-a000-000000000002"}')$q$)
                        = '42501/', 'not for another organization');
  PERFORM pg_temp.act_as('anon');
  PERFORM pg_temp.check(pg_temp.refusal($q$SELECT booking.render_template('message', '{}')$q$) = '42501/', 'not for anon');
  PERFORM pg_temp.act_as('service_role');
  r := booking.render_template('booking_status', '{"organization_id": "00000000-0000-4000-a000-000000000001", "title": "VR"}', 'email');
  PERFORM pg_temp.check(r ->> 'body' = 'Any: VR is .', format('service_role renders any organization''s: %s', r));
  PERFORM pg_temp.act_as('admin');
  UPDATE booking.notification_templates SET is_active = false WHERE locale IS NULL;
  PERFORM pg_temp.act_as('client');
  r := booking.render_template('booking_status', '{"organization_id": "00000000-0000-4000-a000-000000000001", "title": "VR", "status": "x"}', 'email', 'de');
  PERFORM pg_temp.check(r ->> 'source' = 'default', 'an inactive template is passed over');
END $$;

-- booking_ext's own notifications: the built-in texts are exactly the old ones; an
-- organization's active in_app template for any locale replaces them (not one for a locale, not
-- an inactive one, not another organization's).
DO $$
DECLARE
  v_booking uuid;
BEGIN
  PERFORM pg_temp.act_as('staff');
  UPDATE booking.bookings SET status = 'approved' WHERE id = '00000000-0000-4000-a000-000000000401';
  PERFORM pg_temp.act_as('superuser');
  PERFORM pg_temp.check((SELECT message FROM booking.notifications WHERE recipient_id = 'u-client' AND notification_type = 'booking_status'
                         ORDER BY created_at DESC, message LIMIT 1) = 'Your VR orientation is now approved.', 'the built-in text');
  PERFORM pg_temp.act_as('admin');
  INSERT INTO booking.notification_templates (organization_id, template_key, channel, locale, body) VALUES
    ('00000000-0000-4000-a000-000000000001', 'booking_status', 'in_app', NULL, '{{title}}: {{previous_status}} -> {{status}} ({{reason}}) {{starts_at}}'),
    ('00000000-0000-4000-a000-000000000001', 'booking_status', 'in_app', 'fr', 'pas celui-ci'),
    ('00000000-0000-4000-a000-000000000001', 'booking_request', 'in_app', NULL, 'À approuver : {{title}}'),
    ('00000000-0000-4000-a000-000000000001', 'message', 'in_app', NULL, '{{sender_name}} wrote');
  PERFORM pg_temp.act_as('staff');
  PERFORM set_config('booking.reason', 'the room is closed', true);
  PERFORM set_config('timezone', 'America/New_York', true);
  UPDATE booking.bookings SET status = 'cancelled' WHERE id = '00000000-0000-4000-a000-000000000402';
  PERFORM set_config('timezone', 'UTC', true);
  PERFORM set_config('booking.reason', '', true);
  PERFORM pg_temp.act_as('superuser');
  PERFORM pg_temp.check((SELECT message FROM booking.notifications WHERE recipient_id = 'u-client2' AND notification_type = 'booking_status')
                        = 'Study group: approved -> cancelled (the room is closed) 2030-03-04 14:00:00-05', 'the organization''s template, filled');
  -- a new request: the staff hear of it through the organization's text
  PERFORM pg_temp.act_as('client');
  v_booking := (booking.book('00000000-0000-4000-a000-000000000102', '2030-03-05 10:00 America/New_York',
                             '2030-03-05 11:00 America/New_York', 1, NULL, 'Print run')).id;
  PERFORM pg_temp.act_as('superuser');
  PERFORM pg_temp.check((SELECT array_agg(DISTINCT message) FROM booking.notifications WHERE notification_type = 'booking_request'
                           AND metadata ->> 'booking_id' = v_booking::text) = ARRAY['À approuver : Print run'],
                        'the request to staff in the organization''s words');
  -- the other organization keeps the built-in texts
  PERFORM pg_temp.act_as('outsider');
  UPDATE booking.bookings SET status = 'cancelled' WHERE id = '00000000-0000-4000-a000-000000000403';
  PERFORM pg_temp.act_as('superuser');
  PERFORM pg_temp.check((SELECT message FROM booking.notifications WHERE recipient_id = 'u-outsider' AND notification_type = 'booking_status')
                        = 'Your Consultation is now cancelled.', 'another organization: the built-in text');
  -- messages
  INSERT INTO booking.profiles (user_id, display_name) VALUES ('u-client', 'Cleo');
  PERFORM pg_temp.act_as('client');
  PERFORM booking.start_thread('u-staff', 'Hi', 'Is the printer free?');
  PERFORM pg_temp.act_as('superuser');
  PERFORM pg_temp.check((SELECT message FROM booking.notifications WHERE notification_type = 'message') = 'Cleo wrote',
                        'a message notification in the organization''s words');
  -- switched off: the built-in text again
  UPDATE booking.notification_templates SET is_active = false WHERE template_key = 'message';
  PERFORM pg_temp.act_as('staff');
  PERFORM booking.send_message((SELECT id FROM booking.message_threads), 'Yes');
  PERFORM pg_temp.act_as('superuser');
  PERFORM pg_temp.check((SELECT message FROM booking.notifications WHERE notification_type = 'message' AND recipient_id = 'u-client')
                        = 'New message from someone: Yes', 'an inactive template: the built-in text');
END $$;
