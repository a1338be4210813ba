-- Analytics: track_event for anon and signed-in users (identity from the JWT, address, user agent
-- and referrer from the request headers, never from arguments; which organization an event may
-- be attached to, and whether it is verified), its limits, who reads events, that nobody writes
-- or changes them directly; partitions by UTC month whatever the session's time zone (the
-- boundaries to the microsecond), made only by their function, closed to the API roles; prune by
-- whole months, service_role only; an organization's events go with it.

DO $$
DECLARE
  e booking.analytics_events;
  v_persona text;
BEGIN
  -- anon, through PostgREST: the headers are request.headers
  PERFORM pg_temp.act_as('anon');
  PERFORM set_config('request.headers', '{"user-agent": "Mozilla/5.0 (Test)", "x-forwarded-for": "203.0.113.7, 10.0.0.1",
                                          "referer": "https://example.org/lab"}', true);
  INSERT INTO ids VALUES ('anon', booking.track_event('page_view', '{"path": "/lab", "user_id": "u-admin"}', 's-1', 'https://example.org/lab'));
  INSERT INTO ids VALUES ('anon_public', booking.track_event('page_view', '{"organization_id": "00000000-0000-4000-a000-000000000001"}'));
  PERFORM pg_temp.check(pg_temp.refusal($q$SELECT booking.track_event('x', '{"organization_id": "00000000-0000-4000-a000-000000000002"}')$q$)
                        = '22023/', 'anon cannot attach events to a private organization');
  PERFORM pg_temp.check(pg_temp.refusal($q$SELECT booking.track_event('x', '{"organization_id": "00000000-0000-4000-a000-0000000000ff"}')$q$)
                        = '22023/', 'nor to an unknown one (the same answer)');
  PERFORM pg_temp.check(pg_temp.refusal($q$SELECT booking.track_event('x', '{"organization_id": "lab"}')$q$) = '22023/', 'an id that is no uuid');
  PERFORM pg_temp.check(pg_temp.refusal($q$SELECT 1 FROM booking.analytics_events$q$) = '42501/', 'anon reads no events');
  -- limits, checked before anything else
  PERFORM pg_temp.check(pg_temp.refusal($q$SELECT booking.track_event(' ')$q$) = '22023/', 'an event type');
  PERFORM pg_temp.check(pg_temp.refusal($q$SELECT booking.track_event(NULL)$q$) = '22023/', 'not NULL');
  PERFORM pg_temp.check(pg_temp.refusal($q$SELECT booking.track_event(repeat('t', 101))$q$) = '22023/', 'of at most 100 characters');
  PERFORM pg_temp.check(pg_temp.refusal($q$SELECT booking.track_event('x', '[]')$q$) = '22023/', 'data is an object');
  PERFORM pg_temp.check(pg_temp.refusal(format('SELECT booking.track_event(''x'', %L)', jsonb_build_object('k', repeat('d', 4100)))) = '22023/',
                        'of at most 4096 bytes');
  PERFORM pg_temp.check(pg_temp.refusal($q$SELECT booking.track_event('x', '{}', repeat('s', 201))$q$) = '22023/', 'a session id of at most 200');
  PERFORM pg_temp.check(pg_temp.refusal($q$SELECT booking.track_event('x', '{}', NULL, repeat('u', 2049))$q$) = '22023/', 'a page URL of at most 2048');
  PERFORM set_config('request.headers', '{"x-forwarded-for": "not-an-address", "user-agent": "' || repeat('a', 600) || '"}', true);
  INSERT INTO ids VALUES ('bad_ip', booking.track_event('click'));
  PERFORM set_config('request.headers', '{"x-forwarded-for": "2001:db8::1"}', true);
  INSERT INTO ids VALUES ('ipv6', booking.track_event('click', NULL));
  PERFORM set_config('request.headers', '', true);
  INSERT INTO ids VALUES ('no_headers', booking.track_event('click'));

  -- signed in: the JWT's subject; verified for the organization's own members
  PERFORM pg_temp.act_as('client');
  INSERT INTO ids VALUES ('client', booking.track_event('booking_started', '{"organization_id": "00000000-0000-4000-a000-000000000001"}'));
  PERFORM pg_temp.act_as('outsider');
  INSERT INTO ids VALUES ('outsider_lab', booking.track_event('page_view', '{"organization_id": "00000000-0000-4000-a000-000000000001"}'));
  INSERT INTO ids VALUES ('outsider_own', booking.track_event('page_view', '{"organization_id": "00000000-0000-4000-a000-000000000002"}'));
  PERFORM pg_temp.act_as('service_role');
  INSERT INTO ids VALUES ('service', booking.track_event('sync', '{"organization_id": "00000000-0000-4000-a000-000000000002"}'));
  PERFORM pg_temp.check(pg_temp.refusal($q$SELECT booking.track_event('x', '{"organization_id": "00000000-0000-4000-a000-0000000000ff"}')$q$)
                        = '22023/', 'service_role names a real organization too');

  PERFORM pg_temp.act_as('superuser');
  SELECT * INTO e FROM booking.analytics_events WHERE id = pg_temp.id('anon');
  PERFORM pg_temp.check((e.user_id, e.organization_id, e.verified, e.ip_address, e.user_agent, e.referrer, e.session_id, e.page_url, e.event_type)
                        IS NOT DISTINCT FROM (NULL::text, NULL::uuid, false, '203.0.113.7'::inet, 'Mozilla/5.0 (Test)'::text,
                                              'https://example.org/lab'::text, 's-1'::text, 'https://example.org/lab'::text, 'page_view'::text),
                        format('anon: no user (whatever the data says), the headers'' address, agent and referrer: %s', e));
  PERFORM pg_temp.check((SELECT (organization_id, verified) FROM booking.analytics_events WHERE id = pg_temp.id('anon_public'))
                        = ('00000000-0000-4000-a000-000000000001'::uuid, false), 'a visitor of a public organization: attached, unverified');
  PERFORM pg_temp.check((SELECT (ip_address IS NULL, length(user_agent)) FROM booking.analytics_events WHERE id = pg_temp.id('bad_ip'))
                        = (true, 512), 'no address from a bad header; the agent cut to 512 characters');
  PERFORM pg_temp.check((SELECT ip_address FROM booking.analytics_events WHERE id = pg_temp.id('ipv6')) = '2001:db8::1'::inet, 'IPv6');
  PERFORM pg_temp.check((SELECT (ip_address, user_agent, referrer, event_data) IS NOT DISTINCT FROM (NULL::inet, NULL::text, NULL::text, '{}'::jsonb)
                         FROM booking.analytics_events WHERE id = pg_temp.id('no_headers')), 'no headers, nothing of them');
  PERFORM pg_temp.check((SELECT (user_id, verified) FROM booking.analytics_events WHERE id = pg_temp.id('client')) = ('u-client'::text, true),
                        'a member: their id, verified');
  PERFORM pg_temp.check((SELECT array_agg(verified ORDER BY verified) FROM booking.analytics_events
                         WHERE id IN (pg_temp.id('outsider_lab'), pg_temp.id('outsider_own'), pg_temp.id('service'))) = '{f,t,t}',
                        'someone else''s public organization: unverified; one''s own and service_role: verified');

  -- who reads: the organization's owners, admins and staff
  PERFORM pg_temp.act_as('staff');
  PERFORM pg_temp.check((SELECT count(*) FROM booking.analytics_events) = 3, 'lab staff read the lab''s three events');
  PERFORM pg_temp.act_as('admin');
  PERFORM pg_temp.check((SELECT count(*) FROM booking.analytics_events WHERE organization_id = '00000000-0000-4000-a000-000000000001') = 3,
                        'so do its admins');
  PERFORM pg_temp.act_as('member');
  PERFORM pg_temp.check(NOT EXISTS (SELECT 1 FROM booking.analytics_events), 'members do not');
  PERFORM pg_temp.act_as('client');
  PERFORM pg_temp.check(NOT EXISTS (SELECT 1 FROM booking.analytics_events), 'clients do not, not even their own');
  PERFORM pg_temp.act_as('outsider');
  PERFORM pg_temp.check((SELECT count(*) FROM booking.analytics_events) = 2, 'the clinic''s admin reads the clinic''s two');
  -- nobody writes or changes events directly
  FOREACH v_persona IN ARRAY ARRAY['staff', 'admin', 'service_role'] LOOP
    PERFORM pg_temp.act_as(v_persona);
    PERFORM pg_temp.check(pg_temp.refusal($q$INSERT INTO booking.analytics_events (event_type) VALUES ('forged')$q$) = '42501/',
                          v_persona || ' inserts no event');
    PERFORM pg_temp.check(pg_temp.refusal($q$UPDATE booking.analytics_events SET event_type = 'x'$q$) IN ('42501/', ''), v_persona || ' updates none');
    PERFORM pg_temp.check(pg_temp.refusal($q$DELETE FROM booking.analytics_events$q$) IN ('42501/', ''), v_persona || ' deletes none');
  END LOOP;
  PERFORM pg_temp.act_as('superuser');
  PERFORM pg_temp.check((SELECT count(*) FROM booking.analytics_events) = 9, 'all nine events are still there');
END $$;

-- Partitions: one per UTC month, whatever the session's time zone.
DO $$
DECLARE
  v_month text := 'analytics_events_p' || to_char(now() AT TIME ZONE 'UTC', 'YYYY_MM');
  v_part  regclass;
BEGIN
  PERFORM pg_temp.check((SELECT array_agg(c.relname::text) FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
                         WHERE i.inhparent = 'booking.analytics_events'::regclass) = ARRAY[v_month],
                        'track_event made this month''s partition, once');
  PERFORM pg_temp.check((SELECT count(*) FROM booking.analytics_events WHERE tableoid = format('booking_internal.%I', v_month)::regclass) = 9,
                        'and all the events are in it');
  -- Auckland is UTC+13 on 1 March 2031 (daylight time), Los Angeles UTC-8
  PERFORM set_config('timezone', 'Pacific/Auckland', true);
  v_part := booking_internal.analytics_partition('2031-03-01 12:00+13');
  PERFORM pg_temp.check(v_part = 'booking_internal.analytics_events_p2031_02'::regclass, format('11:00 UTC on 28 February is February''s: %s', v_part));
  v_part := booking_internal.analytics_partition('2031-03-01 13:00+13');
  PERFORM pg_temp.check(v_part = 'booking_internal.analytics_events_p2031_03'::regclass, 'midnight UTC on 1 March is March''s');
  PERFORM set_config('timezone', 'UTC', true);
  PERFORM pg_temp.check(pg_get_expr(c.relpartbound, c.oid) = 'FOR VALUES FROM (''2031-03-01 00:00:00+00'') TO (''2031-04-01 00:00:00+00'')',
                        format('UTC month bounds, made in Auckland time: %s', pg_get_expr(c.relpartbound, c.oid)))
  FROM pg_class c WHERE c.oid = 'booking_internal.analytics_events_p2031_03'::regclass;
  PERFORM set_config('timezone', 'America/Los_Angeles', true);
  PERFORM pg_temp.check(booking_internal.analytics_partition('2031-02-28 16:00-08') = 'booking_internal.analytics_events_p2031_03'::regclass,
                        'the same partition found from Los Angeles time');
  INSERT INTO booking.analytics_events (event_type, created_at) VALUES
    ('last', '2031-02-28 15:59:59.999999-08'), ('first', '2031-02-28 16:00:00-08');
  PERFORM pg_temp.check((SELECT array_agg(event_type || ':' || tableoid::regclass::text ORDER BY created_at) FROM booking.analytics_events
                         WHERE created_at >= '2031-01-01') = ARRAY['last:booking_internal.analytics_events_p2031_02',
                                                                    'first:booking_internal.analytics_events_p2031_03'],
                        'the last microsecond of February UTC and the first of March, in Los Angeles time');
  PERFORM set_config('timezone', 'UTC', true);
  PERFORM pg_temp.check(pg_temp.refusal($q$INSERT INTO booking.analytics_events (event_type, created_at) VALUES ('x', '2031-06-01')$q$) LIKE '23514/%',
                        'a month without its partition takes no row (partitions are made by their function)');
  PERFORM pg_temp.check(pg_temp.refusal($q$SELECT booking_internal.analytics_partition('1999-12-31 23:00')$q$) = '22023/', 'years 2000 to 9999');
  -- partitions are closed to the API roles: no grant, row-level security forced without a policy
  PERFORM pg_temp.check(NOT EXISTS (SELECT FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid,
                                                unnest(ARRAY['anon', 'authenticated', 'service_role']) AS r(role)
                                    WHERE i.inhparent = 'booking.analytics_events'::regclass
                                      AND (has_table_privilege(r.role, c.oid, 'SELECT, INSERT, UPDATE, DELETE, TRUNCATE')
                                           OR NOT (c.relrowsecurity AND c.relforcerowsecurity)
                                           OR c.relnamespace <> 'booking_internal'::regnamespace
                                           OR EXISTS (SELECT 1 FROM pg_policy p WHERE p.polrelid = c.oid))),
                        'partitions: in booking_internal, no grant, forced row-level security, no policy');
  PERFORM pg_temp.check(NOT has_schema_privilege('anon', 'booking_internal', 'CREATE')
                        AND NOT has_schema_privilege('authenticated', 'booking_internal', 'CREATE')
                        AND NOT has_schema_privilege('anon', 'booking_internal', 'USAGE'), 'no API role may create in booking_internal');
  PERFORM pg_temp.check((SELECT array_agg(indexrelid::regclass::text ORDER BY indexrelid::regclass::text) FROM pg_index
                         WHERE indrelid = 'booking_internal.analytics_events_p2031_03'::regclass)
                        = ARRAY['booking_internal.analytics_events_p2031_03_created_at_idx', 'booking_internal.analytics_events_p2031_03_organization_idx',
                                'booking_internal.analytics_events_p2031_03_pkey', 'booking_internal.analytics_events_p2031_03_type_idx',
                                'booking_internal.analytics_events_p2031_03_user_idx'],
                        'each partition has its key and the seed''s indexes');
END $$;

-- Prune: whole months, service_role only.
DO $$
BEGIN
  PERFORM booking_internal.analytics_partition('2020-01-15');
  PERFORM booking_internal.analytics_partition('2020-02-15');
  INSERT INTO booking.analytics_events (event_type, organization_id, created_at) VALUES
    ('old', '00000000-0000-4000-a000-000000000001', '2020-01-20'), ('old', NULL, '2020-02-29 23:59');
  PERFORM pg_temp.act_as('admin');
  PERFORM pg_temp.check(pg_temp.refusal($q$SELECT booking.prune_analytics('30 days')$q$) = '42501/', 'not for an organization''s admin');
  PERFORM pg_temp.act_as('anon');
  PERFORM pg_temp.check(pg_temp.refusal($q$SELECT booking.prune_analytics('30 days')$q$) = '42501/', 'nor anon');
  PERFORM pg_temp.act_as('service_role');
  PERFORM pg_temp.check(pg_temp.refusal($q$SELECT booking.prune_analytics('23 hours')$q$) = '22023/', 'at least a day');
  PERFORM pg_temp.check(pg_temp.refusal($q$SELECT booking.prune_analytics(NULL)$q$) = '22023/', 'not NULL');
  -- 2020-02 ends on 1 March 2020: older than (now - 1 day) for years to come; this month is not
  PERFORM pg_temp.check(booking.prune_analytics('1 day') = ARRAY['analytics_events_p2020_01', 'analytics_events_p2020_02'],
                        'the two old months are dropped');
  PERFORM pg_temp.act_as('superuser');
  PERFORM pg_temp.check(NOT EXISTS (SELECT 1 FROM booking.analytics_events WHERE event_type = 'old')
                        AND to_regclass('booking_internal.analytics_events_p2020_01') IS NULL, 'with their rows');
  PERFORM pg_temp.check((SELECT count(*) FROM booking.analytics_events WHERE created_at = now()) = 9, 'this month''s stay');
  PERFORM pg_temp.act_as('service_role');
  PERFORM pg_temp.check(booking.prune_analytics('1 day') = '{}', 'a second prune drops nothing');
  PERFORM pg_temp.check(booking.prune_analytics('1000 years') = '{}', 'nor does a long interval');
  -- an organization's events go with it
  PERFORM pg_temp.act_as('superuser');
  DELETE FROM booking.organizations WHERE id = '00000000-0000-4000-a000-000000000002';
  PERFORM pg_temp.check(NOT EXISTS (SELECT 1 FROM booking.analytics_events WHERE organization_id = '00000000-0000-4000-a000-000000000002'),
                        'a deleted organization''s events are deleted');
  PERFORM pg_temp.check((SELECT count(*) FROM booking.analytics_events) = 9, 'the others stay');
END $$;
