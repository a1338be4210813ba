-- The digests benchmark's data (tests/bench/digests.sql): 1 000 organizations in six zones
-- (New York, Los Angeles, London, Paris, Tokyo, Sydney), each with
--   * 2 or 3 resources: a Studio of 4 seats, a Printer, and for every second one a Kiln (1 seat);
--   * weekly hours: Monday to Saturday 09:00-13:00, Monday to Friday 14:00-19:00 (local time);
--   * a week of bookings, Sunday 13 to Saturday 19 April 2031 local time: each day 10 to 20 of
--     them (at most one an hour a resource, 30 or 45 minutes from the hour or a quarter past;
--     1 to 4 seats in the Studio), approved (70 %), pending, cancelled, completed, no-show or
--     rejected; the benchmarked day is Wednesday 16 April;
--   * requests from outside: 0 to 2 new a day (of the four types, a third of them still
--     pending) and one pending from March;
--   * conflicts: one open (recorded in March), and for every fourth one a resolved one.
-- Bookings, requests and conflicts are bulk-loaded in replica mode (no per-row triggers, no
-- foreign-key checks: the rows are consistent by construction, as in aggregates_dataset.sql).
-- Deterministic (setseed), so runs are comparable. Synchronous commits, so that VACUUM fills the
-- visibility map as autovacuum keeps it on a live table.
SET synchronous_commit = on;
SELECT setseed(0.24);

CREATE TEMP TABLE dg_orgs AS
SELECT n, format('d0000000-0000-4000-a000-%s', lpad(n::text, 12, '0'))::uuid AS id,
       (ARRAY['America/New_York', 'America/Los_Angeles', 'Europe/London', 'Europe/Paris', 'Asia/Tokyo',
              'Australia/Sydney'])[1 + n % 6] AS zone,
       2 + n % 2 AS resources
FROM generate_series(1, 1000) n;

INSERT INTO booking.organizations (id, slug, name, time_zone, is_public)
SELECT id, 'digest-bench-' || n, 'Digest bench ' || n, zone, n % 3 = 0 FROM dg_orgs;
INSERT INTO booking.availability_rules (organization_id, day_of_week, start_time, end_time)
SELECT id, d, time '09:00', time '13:00' FROM dg_orgs, generate_series(1, 6) d
UNION ALL
SELECT id, d, time '14:00', time '19:00' FROM dg_orgs, generate_series(1, 5) d;
INSERT INTO booking.resources (id, organization_id, kind, title, capacity)
SELECT format('d0000000-0000-4000-a%s-%s', lpad(k::text, 3, '0'), lpad(n::text, 12, '0'))::uuid, id,
       CASE k WHEN 1 THEN 'space' ELSE 'equipment' END, (ARRAY['Studio', 'Printer', 'Kiln'])[k],
       CASE k WHEN 1 THEN 4 ELSE 1 END
FROM dg_orgs, generate_series(1, resources) k;

SET session_replication_role = replica;

-- Booking j of a day: resource 1 + j % resources, in the (j / resources)-th open hour of the day.
INSERT INTO booking.bookings (organization_id, resource_id, booked_by, title, starts_at, ends_at, status, seats, source)
SELECT o.id, format('d0000000-0000-4000-a%s-%s', lpad((1 + j % o.resources)::text, 3, '0'), lpad(o.n::text, 12, '0'))::uuid,
       'member-' || (1 + floor(random() * 40)::int), 'Session ' || j,
       (day + make_interval(hours => h, mins => m)) AT TIME ZONE o.zone,
       (day + make_interval(hours => h, mins => m + len)) AT TIME ZONE o.zone,
       CASE WHEN r < 0.70 THEN 'approved' WHEN r < 0.80 THEN 'pending' WHEN r < 0.88 THEN 'cancelled'
            WHEN r < 0.93 THEN 'completed' WHEN r < 0.97 THEN 'no_show' ELSE 'rejected' END,
       CASE WHEN j % o.resources = 0 THEN 1 + floor(random() * 4)::int ELSE 1 END,
       CASE WHEN random() < 0.8 THEN 'app' ELSE 'api' END
FROM dg_orgs o
CROSS JOIN generate_series(timestamp '2031-04-13', timestamp '2031-04-19', interval '1 day') AS day
CROSS JOIN LATERAL (SELECT least(9 * o.resources, 10 + floor(random() * 11)::int) AS k) c
CROSS JOIN LATERAL generate_series(0, c.k - 1) AS j
CROSS JOIN LATERAL (SELECT (ARRAY[9, 10, 11, 12, 14, 15, 16, 17, 18])[1 + j / o.resources] AS h,
                           (ARRAY[0, 15])[1 + floor(random() * 2)::int] AS m,
                           (ARRAY[30, 45])[1 + floor(random() * 2)::int] AS len,
                           random() AS r) x
-- Sunday is closed: its day keeps a few bookings (staff may book outside hours), not a full one.
WHERE extract(isodow FROM day) <> 7 OR j < 2;

INSERT INTO booking.external_requests (organization_id, source, external_id, request_type, request_data, status, created_at, updated_at)
SELECT o.id, (ARRAY['appsheet', 'google_forms', 'api'])[1 + i % 3], format('dg-%s-%s-%s', o.n, to_char(day, 'MMDD'), i),
       (ARRAY['booking', 'inquiry', 'complaint', 'suggestion'])[1 + floor(random() * 4)::int], '{"bench": true}'::jsonb,
       CASE WHEN random() < 0.33 THEN 'pending' ELSE 'approved' END, t, t
FROM dg_orgs o
CROSS JOIN generate_series(timestamp '2031-04-13', timestamp '2031-04-19', interval '1 day') AS day
CROSS JOIN LATERAL generate_series(1, floor(random() * 3)::int) AS i
CROSS JOIN LATERAL (SELECT (day + make_interval(mins => floor(random() * 1440)::int)) AT TIME ZONE o.zone AS t) x
UNION ALL
SELECT o.id, 'google_forms', format('dg-%s-march', o.n), 'inquiry', '{"bench": true}'::jsonb, 'pending',
       timestamptz '2031-03-20 12:00Z', timestamptz '2031-03-20 12:00Z'
FROM dg_orgs o;

INSERT INTO booking.conflicts (organization_id, resource_id, conflict_type, severity, status, created_at, updated_at)
SELECT o.id, format('d0000000-0000-4000-a001-%s', lpad(o.n::text, 12, '0'))::uuid,
       (ARRAY['double_booking', 'capacity_exceeded', 'resource_unavailable', 'timezone_mismatch'])[1 + o.n % 4],
       'medium', 'open', timestamptz '2031-03-25 12:00Z', timestamptz '2031-03-25 12:00Z'
FROM dg_orgs o
UNION ALL
SELECT o.id, format('d0000000-0000-4000-a002-%s', lpad(o.n::text, 12, '0'))::uuid, 'double_booking', 'low', 'resolved',
       timestamptz '2031-03-26 12:00Z', timestamptz '2031-03-27 12:00Z'
FROM dg_orgs o WHERE o.n % 4 = 0;

RESET session_replication_role;

GRANT USAGE ON SCHEMA bench TO service_role;
VACUUM ANALYZE;
