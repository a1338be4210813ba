-- Digests: who may generate and annotate them, local-midnight periods (23- and 25-hour days),
-- idempotency per (organization, type, period), empty sections, the summary, and exact sums:
-- in ten zones, the daily digests of every week and month with a change of daylight saving
-- time add up to the weekly and monthly digests and agree with resource_daily_usage.

-- Rights, arguments, periods.
DO $$
DECLARE
  d  booking.digests;
  d2 booking.digests;
BEGIN
  PERFORM pg_temp.act_as('client');
  PERFORM pg_temp.check(pg_temp.refusal($q$SELECT booking.generate_digest('00000000-0000-4000-a000-000000000001', 'daily', '2030-03-10')$q$)
                        = '42501/', 'a client does not generate digests');
  PERFORM pg_temp.act_as('outsider');
  PERFORM pg_temp.check(pg_temp.refusal($q$SELECT booking.generate_digest('00000000-0000-4000-a000-000000000001', 'daily', '2030-03-10')$q$)
                        = '42501/', 'nor another tenant''s staff');
  PERFORM pg_temp.act_as('staff');
  PERFORM pg_temp.check(pg_temp.refusal($q$SELECT booking.generate_digest('00000000-0000-4000-a000-000000000001', 'hourly', '2030-03-10')$q$)
                        = '22023/', 'an unknown type');
  PERFORM pg_temp.check(pg_temp.refusal($q$SELECT booking.generate_digest('00000000-0000-4000-a000-000000000001', 'weekly', '2030-03-10')$q$)
                        = '22023/', 'a week starts on a Monday');
  PERFORM pg_temp.check(pg_temp.refusal($q$SELECT booking.generate_digest('00000000-0000-4000-a000-000000000001', 'monthly', '2030-03-10')$q$)
                        = '22023/', 'a month on its first day');
  PERFORM pg_temp.check(pg_temp.refusal($q$SELECT booking.generate_digest('00000000-0000-4000-a000-000000000001', 'custom', '2030-03-10')$q$)
                        = '22023/', 'a custom period needs its last day');
  PERFORM pg_temp.check(pg_temp.refusal($q$SELECT booking.generate_digest('00000000-0000-4000-a000-000000000001', 'custom', '2030-03-10', '2030-06-10')$q$)
                        = '22023/', 'of at most 92 days');
  PERFORM pg_temp.check(pg_temp.refusal($q$SELECT booking.generate_digest('00000000-0000-4000-a000-000000000001', 'daily', 'infinity')$q$)
                        = '22023/', 'a finite date');

  -- New York's spring-forward day has 23 hours, its fall-back day 25.
  d := booking.generate_digest('00000000-0000-4000-a000-000000000001', 'daily', '2030-03-10');
  PERFORM pg_temp.check((d.period_start, d.period_end) = ('2030-03-10 05:00+00'::timestamptz, '2030-03-11 04:00+00'::timestamptz)
                        AND (d.content #>> '{period,hours}')::numeric = 23, 'local midnight to local midnight: 23 hours');
  PERFORM pg_temp.check(d.summary LIKE 'Daily digest for Sunday 10 March 2030 (America/New_York, 23 hours). No bookings.%',
                        'the summary says the day, the zone and its length: ' || d.summary);
  PERFORM pg_temp.check((d.content #>> '{bookings,by_status,approved}')::int = 0
                        AND jsonb_array_length(d.content -> 'resources') = 4
                        AND d.content #>> '{requests,new}' = '0' AND d.content #>> '{conflicts,open}' = '1',
                        'an empty day: every section there (the fixtures'' one open conflict)');
  d := booking.generate_digest('00000000-0000-4000-a000-000000000001', 'daily', '2030-11-03');
  PERFORM pg_temp.check((d.content #>> '{period,hours}')::numeric = 25, 'the fall-back day: 25 hours');

  -- Idempotent per organization, type and period.
  d := booking.generate_digest('00000000-0000-4000-a000-000000000001', 'weekly', '2030-06-03');
  d2 := booking.generate_digest('00000000-0000-4000-a000-000000000001', 'weekly', '2030-06-03');
  PERFORM pg_temp.check(d2.id = d.id AND d2.generated_at = d.generated_at, 'generating again with the same figures changes nothing');
  PERFORM pg_temp.act_as('superuser');
  PERFORM pg_temp.check((SELECT count(*) FROM booking.outbox WHERE topic = 'digest.generated' AND payload ->> 'digest_id' = d.id::text) = 1,
                        'one digest.generated event');
  PERFORM pg_temp.act_as('service_role');
  PERFORM pg_temp.check(pg_temp.refusal(format($q$SELECT booking.annotate_digest(%L, '{"a": 1}')$q$, d.id)) = '22023/', 'insights are an array');
  PERFORM pg_temp.check(pg_temp.refusal(format($q$SELECT booking.annotate_digest(%L, (SELECT jsonb_agg(i) FROM generate_series(1, 101) i))$q$, d.id))
                        = '22023/', 'of at most 100 items');
  PERFORM pg_temp.check(pg_temp.refusal($q$SELECT booking.annotate_digest(gen_random_uuid(), '[]')$q$) = '22023/', 'of a digest that exists');
  d2 := booking.annotate_digest(d.id, '["A quiet week."]', 'llm-worker');
  PERFORM pg_temp.check(d2.insights = '["A quiet week."]' AND d2.insights_by = 'llm-worker' AND d2.annotated_at IS NOT NULL, 'annotated');
  PERFORM pg_temp.act_as('staff');
  PERFORM pg_temp.check(pg_temp.refusal(format($q$SELECT booking.annotate_digest(%L, '[]')$q$, d.id)) = '42501/', 'annotating is the worker''s');
  PERFORM pg_temp.check(pg_temp.refusal(format($q$UPDATE booking.digests SET summary = 'All good!' WHERE id = %L$q$, d.id)) = '42501/',
                        'the figures and summary are the database''s');
  PERFORM booking.book('00000000-0000-4000-a000-000000000103', '2030-06-05 10:00 America/New_York', '2030-06-05 12:00 America/New_York', 4);
  d2 := booking.generate_digest('00000000-0000-4000-a000-000000000001', 'weekly', '2030-06-03');
  PERFORM pg_temp.check(d2.id = d.id AND d2.insights = '[]' AND (d2.content #>> '{bookings,total}')::int = 1,
                        'new figures rewrite the digest and clear the insights');
  PERFORM pg_temp.check(d2.summary LIKE '%1 booking (1 approved). Busiest: Digital Lab, % of open time used, peak 4 seats.%',
                        'the summary names the busiest resource: ' || d2.summary);
  PERFORM pg_temp.act_as('client');
  PERFORM pg_temp.check((SELECT count(*) FROM booking.digests) = 0, 'clients see no digests');
  PERFORM pg_temp.act_as('outsider');
  PERFORM pg_temp.check((SELECT count(*) FROM booking.digests) = 0, 'nor other tenants');
END $$;

-- Ten zones, every change of daylight saving time of 2030: the sums are exact.
DO $$
DECLARE
  v_zones text[] := ARRAY['America/New_York', 'Europe/London', 'Australia/Lord_Howe', 'Asia/Kathmandu', 'America/Santiago',
                          'Europe/Paris', 'Australia/Sydney', 'America/St_Johns', 'Pacific/Auckland', 'America/Havana'];
  v_zone   text;
  v_org    uuid;
  v_day    date;
  v_days   date[];
  v_week   date;
  v_month  date;
  v_daily  jsonb;
  v_total  jsonb;
  v_bad    text;
  v_checks integer := 0;
BEGIN
  PERFORM pg_temp.act_as('superuser');
  PERFORM setseed(0.24);
  FOREACH v_zone IN ARRAY v_zones LOOP
    v_org := gen_random_uuid();
    INSERT INTO booking.organizations (id, slug, name, time_zone) VALUES (v_org, 'digest-' || lower(translate(v_zone, '/_', '--')), v_zone, v_zone);
    INSERT INTO booking.availability_rules (organization_id, day_of_week, start_time, end_time)
    SELECT v_org, d, '07:00', '21:00' FROM generate_series(0, 6) d;
    INSERT INTO booking.resources (organization_id, kind, title, capacity, max_booking_minutes)
    VALUES (v_org, 'space', 'Room A', 500, 100000), (v_org, 'equipment', 'Kit B', 500, 100000);
    -- The days of 2030 whose length is not 24 hours (none in Kathmandu: then March).
    SELECT array_agg(g.day::date ORDER BY g.day) INTO v_days
    FROM generate_series(date '2030-01-01', date '2030-12-31', interval '1 day') g(day)
    WHERE ((g.day + interval '1 day')::timestamp AT TIME ZONE v_zone) - (g.day::timestamp AT TIME ZONE v_zone) <> interval '24 hours';
    v_days := coalesce(v_days, ARRAY[date '2030-03-15']);
    -- Bookings of random length (15 minutes to 27 hours), status and seats around each such day.
    INSERT INTO booking.bookings (organization_id, resource_id, booked_by, starts_at, ends_at, seats, status)
    SELECT v_org, r.id, 'u-digest', s.start, s.start + (15 * (1 + floor(random() * 108))::int) * interval '1 minute',
           1 + floor(random() * 3)::int, (ARRAY['approved', 'approved', 'pending', 'cancelled', 'no_show', 'completed'])[1 + floor(random() * 6)::int]
    FROM unnest(v_days) t(day)
    CROSS JOIN generate_series(1, 40) n
    CROSS JOIN LATERAL (SELECT (t.day::timestamp AT TIME ZONE v_zone) + (floor(random() * 4 * 24 * 40) - 4 * 24 * 20) * interval '15 minutes' AS start) s
    CROSS JOIN LATERAL (SELECT id FROM booking.resources WHERE organization_id = v_org ORDER BY title OFFSET floor(random() * 2)::int LIMIT 1) r;

    PERFORM pg_temp.act_as('service_role');
    FOREACH v_day IN ARRAY v_days LOOP
      v_week := v_day - (extract(isodow FROM v_day)::int - 1);
      v_month := date_trunc('month', v_day)::date;
      -- The daily digests of the month (which holds the week but for its ends: add those).
      CREATE TEMP TABLE IF NOT EXISTS daily (org uuid, day date, content jsonb);
      INSERT INTO daily
      SELECT v_org, g.day::date, (booking.generate_digest(v_org, 'daily', g.day::date)).content
      FROM generate_series(least(v_week, v_month), greatest(v_week + 6, (v_month + interval '1 month')::date - 1), interval '1 day') g(day)
      WHERE NOT EXISTS (SELECT 1 FROM daily x WHERE x.org = v_org AND x.day = g.day::date);

      FOR v_total, v_daily IN
        SELECT (booking.generate_digest(v_org, p.kind, p.first)).content,
               (SELECT jsonb_build_object(
                  'total', sum((x.content #>> '{bookings,total}')::int),
                  'approved', sum((x.content #>> '{bookings,by_status,approved}')::int),
                  'no_shows', sum((x.content #>> '{bookings,no_shows}')::int),
                  'seats', sum((x.content #>> '{bookings,seats}')::int),
                  'resources', (SELECT jsonb_agg(jsonb_build_object(
                                  'title', rr.title, 'bookings', rr.bookings, 'booked_minutes', rr.booked, 'peak_seats', rr.peak,
                                  'open_minutes', rr.open, 'utilization', rr.util) ORDER BY rr.title)
                                FROM (SELECT e ->> 'title' AS title, sum((e ->> 'bookings')::int) AS bookings,
                                             sum((e ->> 'booked_minutes')::float8) AS booked, max((e ->> 'peak_seats')::int) AS peak,
                                             sum((e ->> 'open_minutes')::float8) AS open,
                                             sum((e ->> 'open_minutes')::float8 * (e ->> 'utilization')::float8)
                                               / nullif(sum((e ->> 'open_minutes')::float8), 0) AS util
                                      FROM daily x2, jsonb_array_elements(x2.content -> 'resources') e
                                      WHERE x2.org = v_org AND x2.day >= p.first AND x2.day < p.after
                                      GROUP BY e ->> 'title') rr))
                FROM daily x WHERE x.org = v_org AND x.day >= p.first AND x.day < p.after)
        FROM (VALUES ('weekly', v_week, v_week + 7), ('monthly', v_month, (v_month + interval '1 month')::date)) p(kind, first, after)
      LOOP
        v_checks := v_checks + 1;
        IF (v_total #>> '{bookings,total}')::int <> (v_daily ->> 'total')::int
           OR (v_total #>> '{bookings,by_status,approved}')::int <> (v_daily ->> 'approved')::int
           OR (v_total #>> '{bookings,no_shows}')::int <> (v_daily ->> 'no_shows')::int
           OR (v_total #>> '{bookings,seats}')::int <> (v_daily ->> 'seats')::int THEN
          RAISE EXCEPTION '%: bookings of % do not add up: % against %', v_zone, v_total -> 'period', v_total -> 'bookings', v_daily;
        END IF;
        SELECT string_agg(t.e ->> 'title', ', ') INTO v_bad
        FROM jsonb_array_elements(v_total -> 'resources') t(e)
        JOIN jsonb_array_elements(v_daily -> 'resources') s(e) ON s.e ->> 'title' = t.e ->> 'title'
        WHERE (t.e ->> 'bookings')::int <> (s.e ->> 'bookings')::int
           OR (t.e ->> 'booked_minutes')::float8 <> (s.e ->> 'booked_minutes')::float8
           OR (t.e ->> 'peak_seats')::int <> (s.e ->> 'peak_seats')::int
           OR (t.e ->> 'open_minutes')::float8 <> (s.e ->> 'open_minutes')::float8
           OR abs((t.e ->> 'utilization')::float8 - (s.e ->> 'utilization')::float8) > 1e-9;
        IF v_bad IS NOT NULL OR jsonb_array_length(v_total -> 'resources') <> 2 THEN
          RAISE EXCEPTION '%: resources % of % do not add up: % against %', v_zone, v_bad, v_total -> 'period',
                          v_total -> 'resources', v_daily -> 'resources';
        END IF;
      END LOOP;
    END LOOP;

    -- Each daily digest agrees with resource_daily_usage (the resources follow the organization's zone).
    PERFORM pg_temp.act_as('superuser');
    SELECT string_agg(format('%s %s', x.day, e ->> 'title'), ', ') INTO v_bad
    FROM daily x
    CROSS JOIN jsonb_array_elements(x.content -> 'resources') e
    LEFT JOIN booking.resource_daily_usage u ON u.resource_id = (e ->> 'resource_id')::uuid AND u.day = x.day
    WHERE x.org = v_org
      AND ((e ->> 'booked_minutes')::float8 <> coalesce(u.booked_minutes, 0)
           OR (e ->> 'peak_seats')::int <> coalesce(u.peak_seats, 0)
           OR (e ->> 'open_minutes')::float8 <> coalesce(u.open_minutes, (e ->> 'open_minutes')::float8)
           OR abs(coalesce((e ->> 'utilization')::float8, 0) - coalesce(u.utilization, 0)) > 1e-9);
    IF v_bad IS NOT NULL THEN
      RAISE EXCEPTION '%: daily digests differ from resource_daily_usage on %', v_zone, v_bad;
    END IF;
    PERFORM pg_temp.check(EXISTS (SELECT 1 FROM daily x WHERE x.org = v_org AND (x.content #>> '{bookings,total}')::int > 0),
                          v_zone || ': the days have bookings');
  END LOOP;
  PERFORM pg_temp.check(v_checks >= 2 * 19, 'every change of 2030 in ten zones was checked: ' || v_checks);
  PERFORM pg_temp.check((SELECT count(*) FROM daily WHERE (content #>> '{period,hours}')::numeric NOT IN (24)) >= 18,
                        'including the 23- and 25-hour days (and Lord Howe''s half hours)');
END $$;
