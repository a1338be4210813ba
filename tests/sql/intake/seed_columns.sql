-- Seed 002's settings and smaller columns, each doing something: the settings booking_ext knows
-- have a checked shape (and integrations.<source>.enabled, ai.digests_enabled are honoured);
-- resources.booking_restrictions is part of the rule book; conflict_detection_enabled is
-- honoured by detect_conflicts; auto_approved and approval_workflow_id are the database's;
-- conflict_resolution_notes are staff's.

-- Settings.
DO $$
BEGIN
  PERFORM pg_temp.act_as('admin');
  UPDATE booking.organizations SET settings = settings || '{"calendar": {"sync_enabled": true, "sync_interval_minutes": 15, "default_provider": "google"},
    "ai": {"digests_enabled": true, "digest_types": ["daily", "weekly"], "locale": "fr-CA"},
    "notifications": {"email": true, "sms": false, "digest_recipients": ["u-admin"]},
    "integrations": {"appsheet": {"enabled": true, "name": "Front desk"}}, "theme": {"color": "teal"}}'
  WHERE id = '00000000-0000-4000-a000-000000000001';
  PERFORM pg_temp.check((SELECT settings #>> '{theme,color}' FROM booking.organizations WHERE id = '00000000-0000-4000-a000-000000000001') = 'teal',
                        'known keys in their shape, and the app''s own keys, are kept');
  PERFORM pg_temp.check(pg_temp.refusal($q$UPDATE booking.organizations SET settings = '{"calendar": {"sync_interval_minutes": 2}}' WHERE slug = 'oolite'$q$)
                        = '22023/', 'a sync interval from 5 to 1440 minutes');
  PERFORM pg_temp.check(pg_temp.refusal($q$UPDATE booking.organizations SET settings = '{"calendar": {"sync_interval_minutes": 15.5}}' WHERE slug = 'oolite'$q$)
                        = '22023/', 'whole minutes');
  PERFORM pg_temp.check(pg_temp.refusal($q$UPDATE booking.organizations SET settings = '{"ai": {"digest_types": ["hourly"]}}' WHERE slug = 'oolite'$q$)
                        = '22023/', 'known digest types');
  PERFORM pg_temp.check(pg_temp.refusal($q$UPDATE booking.organizations SET settings = '{"notifications": {"email": "yes"}}' WHERE slug = 'oolite'$q$)
                        = '22023/', 'switches are booleans');
  PERFORM pg_temp.check(pg_temp.refusal($q$UPDATE booking.organizations SET settings = '{"integrations": {"zapier": {"enabled": true}}}' WHERE slug = 'oolite'$q$)
                        = '22023/', 'an unknown key of a known section');
  PERFORM pg_temp.check(pg_temp.refusal($q$UPDATE booking.organizations SET settings = '{"ai": true}' WHERE slug = 'oolite'$q$)
                        = '22023/', 'a section is an object');
  PERFORM pg_temp.check(pg_temp.refusal_text($q$UPDATE booking.organizations SET settings = '{"ai": {"locale": "French"}}' WHERE slug = 'oolite'$q$)
                        LIKE '%settings.ai.locale must be a language tag%', 'the message names the key');
  PERFORM pg_temp.act_as('service_role');
  PERFORM pg_temp.check(pg_temp.refusal($q$INSERT INTO booking.organizations (slug, name, settings) VALUES ('x-org', 'X', '{"ai": {"digests_enabled": 1}}')$q$)
                        = '22023/', 'on every path');

  -- Digests switched off.
  PERFORM pg_temp.act_as('admin');
  UPDATE booking.organizations SET settings = jsonb_set(settings, '{ai,digests_enabled}', 'false') WHERE slug = 'oolite';
  PERFORM pg_temp.act_as('staff');
  PERFORM pg_temp.check(pg_temp.refusal($q$SELECT booking.generate_digest('00000000-0000-4000-a000-000000000001', 'daily', '2030-03-10')$q$)
                        = 'PT409/digests_disabled', 'ai.digests_enabled = false switches digests off');
END $$;

-- booking_restrictions in the rule book; approval fields derived.
DO $$
DECLARE
  b booking.bookings;
BEGIN
  PERFORM pg_temp.act_as('admin');
  PERFORM pg_temp.check(pg_temp.refusal($q$UPDATE booking.resources SET booking_restrictions = '{"max_people": 3}' WHERE id = '00000000-0000-4000-a000-000000000103'$q$)
                        = '22023/', 'unknown restrictions are refused');
  PERFORM pg_temp.check(pg_temp.refusal($q$UPDATE booking.resources SET booking_restrictions = '{"min_booking_minutes": 0}' WHERE id = '00000000-0000-4000-a000-000000000103'$q$)
                        = '22023/', 'from 1 minute');
  UPDATE booking.resources
  SET booking_restrictions = '{"min_booking_minutes": 60, "max_seats_per_booking": 4}',
      approval_workflow_id = '00000000-0000-4000-a000-00000000aaaa'
  WHERE id = '00000000-0000-4000-a000-000000000103';

  PERFORM pg_temp.act_as('client');
  PERFORM pg_temp.check(pg_temp.refusal($q$SELECT booking.book('00000000-0000-4000-a000-000000000103', '2030-06-05 10:00 America/New_York',
    '2030-06-05 10:30 America/New_York')$q$) = 'PT409/length', 'shorter than the resource''s minimum');
  PERFORM pg_temp.check(pg_temp.refusal($q$SELECT booking.book('00000000-0000-4000-a000-000000000103', '2030-06-05 10:00 America/New_York',
    '2030-06-05 11:00 America/New_York', 5)$q$) = 'PT409/seats', 'more seats than a booking may take');
  PERFORM pg_temp.check(pg_temp.refusal($q$INSERT INTO booking.bookings (organization_id, resource_id, starts_at, ends_at, seats)
    VALUES ('00000000-0000-4000-a000-000000000001', '00000000-0000-4000-a000-000000000103', '2030-06-05 10:00 America/New_York',
            '2030-06-05 11:00 America/New_York', 5)$q$) = 'PT409/seats', 'on the direct path too');
  PERFORM pg_temp.check(booking.booking_refusal('00000000-0000-4000-a000-000000000103', '2030-06-05 10:00 America/New_York',
                        '2030-06-05 11:00 America/New_York', 4) IS NULL, 'within them');

  -- The Digital Lab approves by itself: auto_approved, and the resource's workflow, whatever is sent.
  INSERT INTO booking.bookings (organization_id, resource_id, starts_at, ends_at, seats, auto_approved, approval_workflow_id)
  VALUES ('00000000-0000-4000-a000-000000000001', '00000000-0000-4000-a000-000000000103', '2030-06-05 10:00 America/New_York',
          '2030-06-05 11:00 America/New_York', 2, false, '00000000-0000-4000-a000-00000000bbbb')
  RETURNING * INTO b;
  PERFORM pg_temp.check((b.status, b.auto_approved, b.approval_workflow_id)
                        = ('approved'::text, true, '00000000-0000-4000-a000-00000000aaaa'::uuid),
                        'auto_approved and the workflow are the database''s');
  PERFORM pg_temp.check(pg_temp.refusal(format($q$UPDATE booking.bookings SET conflict_resolution_notes = 'mine' WHERE id = %L$q$, b.id))
                        = '42501/', 'conflict resolution notes are staff''s');
  -- The printer does not approve by itself.
  b := booking.book('00000000-0000-4000-a000-000000000102', '2030-06-05 10:00 America/New_York', '2030-06-05 11:00 America/New_York');
  PERFORM pg_temp.check((b.status, b.auto_approved, b.approval_workflow_id IS NULL) = ('pending'::text, false, true),
                        'a request waiting for staff is not auto-approved');
  PERFORM pg_temp.act_as('staff');
  UPDATE booking.bookings SET status = 'approved', auto_approved = true, conflict_resolution_notes = 'moved the print job'
  WHERE id = b.id RETURNING * INTO b;
  PERFORM pg_temp.check((b.status, b.auto_approved, b.conflict_resolution_notes) = ('approved'::text, false, 'moved the print job'::text),
                        'staff''s approval is not automatic, whatever is sent; staff write resolution notes');
END $$;

-- detect_conflicts leaves out a resource with conflict detection off.
DO $$
DECLARE
  v_with integer;
  v_without integer;
BEGIN
  -- a double booking of the scanner, as an import with triggers off leaves it
  PERFORM pg_temp.act_as('superuser');
  PERFORM set_config('session_replication_role', 'replica', true);
  INSERT INTO booking.bookings (organization_id, resource_id, booked_by, starts_at, ends_at, status)
  SELECT '00000000-0000-4000-a000-000000000001', '00000000-0000-4000-a000-000000000104', 'u-client',
         '2030-06-06 10:00 America/New_York', '2030-06-06 11:00 America/New_York', 'approved'
  FROM generate_series(1, 2);
  PERFORM set_config('session_replication_role', 'origin', true);
  PERFORM pg_temp.act_as('staff');
  SELECT count(*) INTO v_with FROM booking.detect_conflicts('00000000-0000-4000-a000-000000000001', '2030-06-06', '2030-06-07')
  WHERE resource_id = '00000000-0000-4000-a000-000000000104';
  PERFORM pg_temp.act_as('admin');
  UPDATE booking.resources SET conflict_detection_enabled = false WHERE id = '00000000-0000-4000-a000-000000000104';
  PERFORM pg_temp.act_as('staff');
  DELETE FROM booking.conflicts WHERE resource_id = '00000000-0000-4000-a000-000000000104';
  SELECT count(*) INTO v_without FROM booking.detect_conflicts('00000000-0000-4000-a000-000000000001', '2030-06-06', '2030-06-07')
  WHERE resource_id = '00000000-0000-4000-a000-000000000104';
  PERFORM pg_temp.check(v_with >= 1 AND v_without = 0, format('found with detection on (%s), not off (%s)', v_with, v_without));
END $$;
