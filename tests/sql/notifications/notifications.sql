-- The notification RPCs: every persona, every refusal with its SQLSTATE, bounds, and that a
-- refusal writes nothing.

CREATE FUNCTION pg_temp.notification_rows() RETURNS bigint
LANGUAGE sql AS $$ SELECT count(*) FROM booking.notifications $$;

-- send_notification: who may send to whom, what comes back, what is refused.
DO $$
DECLARE
  lab    constant uuid := '00000000-0000-4000-a000-000000000001';
  clinic constant uuid := '00000000-0000-4000-a000-000000000002';
  v_sent    jsonb;
  v_before  bigint;
  v_persona text;
BEGIN
  PERFORM pg_temp.act_as('staff');
  v_sent := booking.send_notification('u-client', 'Your badge is ready', 'badge', '{"desk": 3}');
  PERFORM pg_temp.check(v_sent ->> 'recipient_id' = 'u-client' AND (v_sent ->> 'organization_id')::uuid = lab
                        AND v_sent ->> 'message' = 'Your badge is ready' AND v_sent ->> 'notification_type' = 'badge'
                        AND v_sent -> 'read_at' = 'null'::jsonb AND v_sent ? 'sent_at' AND v_sent -> 'metadata' = '{"desk": 3}',
                        format('the created notification comes back: %s', v_sent));
  PERFORM pg_temp.act_as('client');
  PERFORM pg_temp.check((SELECT message FROM booking.notifications WHERE id = (v_sent ->> 'id')::uuid) = 'Your badge is ready',
                        'the recipient reads it');
  PERFORM pg_temp.act_as('admin');
  PERFORM booking.send_notification('u-member', 'Welcome', 'welcome');

  -- Refusals: the sender is no staff of an organization the recipient belongs to.
  PERFORM pg_temp.act_as('superuser');
  v_before := pg_temp.notification_rows();
  FOREACH v_persona IN ARRAY ARRAY['client', 'member', 'outsider'] LOOP
    PERFORM pg_temp.act_as(v_persona);
    PERFORM pg_temp.expect_error('42501', $q$SELECT booking.send_notification('u-client2', 'hi', 'chat')$q$);
  END LOOP;
  PERFORM pg_temp.act_as('anon');
  PERFORM pg_temp.expect_error('42501', $q$SELECT booking.send_notification('u-client', 'hi', 'chat')$q$);
  PERFORM pg_temp.act_as('staff');
  PERFORM pg_temp.expect_error('42501', $q$SELECT booking.send_notification('u-outsider', 'hi', 'chat')$q$);
  PERFORM pg_temp.expect_error('42501', format($q$SELECT booking.send_notification('u-client', 'hi', 'chat', '{"organization_id": "%s"}')$q$, clinic));
  -- Bad input, whoever sends.
  PERFORM pg_temp.expect_error('22023', $q$SELECT booking.send_notification('u-client', '', 'chat')$q$);
  PERFORM pg_temp.expect_error('22023', $q$SELECT booking.send_notification('u-client', '   ', 'chat')$q$);
  PERFORM pg_temp.expect_error('22023', $q$SELECT booking.send_notification('u-client', NULL, 'chat')$q$);
  PERFORM pg_temp.expect_error('22023', $q$SELECT booking.send_notification('u-client', 'hi', NULL)$q$);
  PERFORM pg_temp.expect_error('22023', $q$SELECT booking.send_notification('u-client', 'hi', '')$q$);
  PERFORM pg_temp.expect_error('22023', $q$SELECT booking.send_notification(NULL, 'hi', 'chat')$q$);
  PERFORM pg_temp.expect_error('22023', $q$SELECT booking.send_notification('u-client', repeat('x', 4001), 'chat')$q$);
  PERFORM pg_temp.expect_error('22023', $q$SELECT booking.send_notification('u-client', 'hi', 'chat', '[1, 2]')$q$);
  PERFORM pg_temp.expect_error('22023', $q$SELECT booking.send_notification('u-client', 'hi', 'chat', '{"organization_id": "lab"}')$q$);
  PERFORM pg_temp.act_as('service_role');
  PERFORM pg_temp.expect_error('22023', $q$SELECT booking.send_notification('u-client', 'hi', 'chat', '{"organization_id": "00000000-0000-4000-a000-0000000009ff"}')$q$);
  PERFORM pg_temp.act_as('superuser');
  PERFORM pg_temp.check(pg_temp.notification_rows() = v_before, 'refused sends wrote nothing');

  -- service_role sends to anyone, with or without an organization.
  PERFORM pg_temp.act_as('service_role');
  v_sent := booking.send_notification('someone-new', 'Welcome aboard', 'signup');
  PERFORM pg_temp.check(v_sent -> 'organization_id' = 'null'::jsonb, 'no organization unless named');
  v_sent := booking.send_notification('u-outsider', 'Invoice ready', 'billing', format('{"organization_id": "%s"}', clinic)::jsonb);
  PERFORM pg_temp.check((v_sent ->> 'organization_id')::uuid = clinic, 'the organization named');

  -- A recipient in two of the sender's organizations: the sender names one.
  PERFORM pg_temp.act_as('superuser');
  INSERT INTO booking.members (organization_id, user_id, role) VALUES (clinic, 'u-staff', 'staff'), (clinic, 'u-client', 'client');
  PERFORM pg_temp.act_as('staff');
  PERFORM pg_temp.expect_error('22023', $q$SELECT booking.send_notification('u-client', 'hi', 'chat')$q$);
  v_sent := booking.send_notification('u-client', 'Your clinic visit', 'visit', format('{"organization_id": "%s"}', clinic)::jsonb);
  PERFORM pg_temp.check((v_sent ->> 'organization_id')::uuid = clinic, 'sent as the clinic');
  PERFORM pg_temp.act_as('superuser');
  DELETE FROM booking.members WHERE organization_id = clinic AND user_id IN ('u-staff', 'u-client');
END $$;

-- Reading and marking: the caller's own only, service_role for anyone named.
DO $$
DECLARE
  v_unread   bigint;
  v_page     uuid[];
  v_all      uuid[];
  v_other    uuid;
  v_one      uuid;
  v_persona  text;
  v_sql      text;
BEGIN
  PERFORM pg_temp.act_as('superuser');
  SELECT count(*) INTO v_unread FROM booking.notifications WHERE recipient_id = 'u-client' AND read_at IS NULL;
  SELECT array_agg(id ORDER BY created_at DESC, id DESC) INTO v_all FROM booking.notifications WHERE recipient_id = 'u-client';
  SELECT id INTO v_other FROM booking.notifications WHERE recipient_id = 'u-client2' OR recipient_id = 'u-staff' LIMIT 1;
  PERFORM pg_temp.check(v_unread >= 3 AND cardinality(v_all) = v_unread AND v_other IS NOT NULL,
                        format('fixture: u-client has unread notifications (%s) and others have theirs', v_unread));

  PERFORM pg_temp.act_as('client');
  PERFORM pg_temp.check(booking.get_unread_count() = v_unread, 'unread count');
  PERFORM pg_temp.check(booking.get_unread_count('u-client') = v_unread, 'naming oneself is the same');
  PERFORM pg_temp.check((SELECT sum(unread_count) FROM booking.get_unread_counts()) = v_unread
                        AND (SELECT array_agg(notification_type) FROM booking.get_unread_counts())
                            = (SELECT array_agg(DISTINCT notification_type ORDER BY notification_type) FROM booking.notifications),
                        'unread counts per type, in type order');
  -- Pages, newest first, cover everything once.
  SELECT array_agg(id) INTO v_page FROM (
    SELECT p.id FROM generate_series(0, cardinality(v_all) - 1) o, booking.get_notifications_page(NULL, 1, o) p) x;
  PERFORM pg_temp.check(v_page = v_all, format('one-row pages walk every notification newest first: %s vs %s', v_page, v_all));
  PERFORM pg_temp.check((SELECT array_agg(id) FROM booking.get_notifications_page()) = v_all, 'the default page');
  PERFORM pg_temp.check((SELECT count(*) FROM booking.get_notifications_page(p_limit => 2, p_offset => 1)) = 2, 'limit and offset');
  PERFORM pg_temp.check(NOT EXISTS (SELECT 1 FROM booking.get_notifications_page(p_limit => 100) WHERE user_id <> 'u-client'), 'own rows only');
  PERFORM pg_temp.expect_error('22023', 'SELECT * FROM booking.get_notifications_page(NULL, 0)');
  PERFORM pg_temp.expect_error('22023', 'SELECT * FROM booking.get_notifications_page(NULL, 101)');
  PERFORM pg_temp.expect_error('22023', 'SELECT * FROM booking.get_notifications_page(NULL, NULL)');
  PERFORM pg_temp.expect_error('22023', 'SELECT * FROM booking.get_notifications_page(NULL, 10, -1)');

  -- Someone else's notifications: 42501 for everyone but service_role, on every function.
  FOREACH v_persona IN ARRAY ARRAY['client2', 'member', 'staff', 'admin', 'outsider'] LOOP
    PERFORM pg_temp.act_as(v_persona);
    FOREACH v_sql IN ARRAY ARRAY['SELECT booking.get_unread_count(''u-client'')',
                                 'SELECT * FROM booking.get_unread_counts(''u-client'')',
                                 'SELECT * FROM booking.get_notifications_page(''u-client'')',
                                 'SELECT booking.mark_notifications_read(''u-client'')'] LOOP
      PERFORM pg_temp.expect_error('42501', v_sql);
    END LOOP;
  END LOOP;
  PERFORM pg_temp.act_as('anon');
  PERFORM pg_temp.expect_error('42501', 'SELECT booking.get_unread_count()');
  PERFORM pg_temp.expect_error('42501', 'SELECT booking.mark_notifications_read()');
  PERFORM pg_temp.act_as('service_role');
  PERFORM pg_temp.expect_error('22023', 'SELECT booking.get_unread_count()');
  PERFORM pg_temp.check(booking.get_unread_count('u-client') = v_unread, 'service_role reads anyone''s count');
  PERFORM pg_temp.check((SELECT count(*) FROM booking.get_notifications_page('u-client', 100)) = v_unread, 'and page');

  -- Marking read: the ids given (others' ignored), then all; nothing twice.
  PERFORM pg_temp.act_as('client');
  v_one := v_all[1];
  PERFORM pg_temp.check(booking.mark_notifications_read(NULL, ARRAY[v_one, v_other]) = 1, 'one of mine marked, the other''s ignored');
  PERFORM pg_temp.check(booking.get_unread_count() = v_unread - 1, 'one fewer unread');
  PERFORM pg_temp.check((SELECT read_at IS NOT NULL FROM booking.get_notifications_page(NULL, 1)), 'the page shows read_at');
  PERFORM pg_temp.check(booking.mark_notifications_read(NULL, '{}') = 0, 'an empty list marks nothing');
  PERFORM pg_temp.expect_error('22023', format('SELECT booking.mark_notifications_read(NULL, array_fill(%L::uuid, ARRAY[1001]))', v_one));
  PERFORM pg_temp.check(booking.mark_notifications_read() = v_unread - 1, 'the rest marked');
  PERFORM pg_temp.check(booking.get_unread_count() = 0, 'none unread');
  PERFORM pg_temp.check(NOT EXISTS (SELECT 1 FROM booking.get_unread_counts()), 'no type unread');
  PERFORM pg_temp.check(booking.mark_notifications_read() = 0, 'marking again changes nothing');
  PERFORM pg_temp.act_as('superuser');
  PERFORM pg_temp.check((SELECT read_at IS NULL FROM booking.notifications WHERE id = v_other), 'the other''s notification is still unread');
  PERFORM pg_temp.act_as('service_role');
  PERFORM pg_temp.check(booking.mark_notifications_read('u-admin') > 0, 'service_role marks for a user');
  PERFORM pg_temp.check(booking.get_unread_count('u-admin') = 0, 'and they are read');
  PERFORM pg_temp.act_as('superuser');
END $$;

