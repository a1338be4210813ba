-- The aggregates benchmark's data: 1 000 000 random bookings over 50 resources of one public
-- organization in Paris (Monday-Saturday 08:00-20:00), starting anywhere in 2031 on a 5-minute
-- grid, 15 minutes to 4 hours long, 1 to 4 seats, pending or approved; and 1 000 000 ratings
-- (1 to 5, a few NULL) of those resources. Deterministic (setseed), so runs are comparable.
-- Synchronous commits: VACUUM can mark a page all-visible only once its rows' commits are
-- flushed, and the benchmark server commits asynchronously. Without this every scan would check
-- each row's visibility, unlike on a table autovacuum looks after.
SET synchronous_commit = on;
SELECT setseed(0.42);

INSERT INTO booking.organizations (id, slug, name, time_zone, is_public)
VALUES ('c0000000-0000-4000-a000-000000000001', 'aggregates', 'Aggregates', 'Europe/Paris', true);
INSERT INTO booking.availability_rules (organization_id, day_of_week, start_time, end_time)
SELECT 'c0000000-0000-4000-a000-000000000001', d, '08:00', '20:00' FROM generate_series(1, 6) d;
INSERT INTO booking.resources (id, organization_id, title, capacity)
SELECT format('c0000000-0000-4000-a001-%s', lpad(n::text, 12, '0'))::uuid, 'c0000000-0000-4000-a000-000000000001',
       'Room ' || n, 100
FROM generate_series(1, 50) n;

-- Bulk load in replica mode: ordinary triggers (the capacity check under a resource lock, audit,
-- outbox) and foreign-key checks are off, so a million rows load in seconds. The rows are
-- consistent by construction: existing resources of the organization, capacity 100 (never
-- reached).
SET session_replication_role = replica;
INSERT INTO booking.bookings (organization_id, resource_id, booked_by, starts_at, ends_at, status, seats)
SELECT 'c0000000-0000-4000-a000-000000000001',
       format('c0000000-0000-4000-a001-%s', lpad((1 + n % 50)::text, 12, '0'))::uuid, 'bench',
       s, s + make_interval(mins => 15 * (1 + floor(random() * 16)::int)),
       CASE WHEN random() < 0.8 THEN 'approved' ELSE 'pending' END,
       1 + floor(random() * 4)::int
FROM (SELECT n, timestamptz '2031-01-01 00:00 Europe/Paris' + make_interval(mins => 5 * floor(random() * 105120)::int) AS s
      FROM generate_series(1, 1000000) n) x;
RESET session_replication_role;

CREATE TABLE bench.reviews (resource_id uuid NOT NULL, rating integer CHECK (rating BETWEEN 1 AND 5));
INSERT INTO bench.reviews
SELECT format('c0000000-0000-4000-a001-%s', lpad((1 + n % 50)::text, 12, '0'))::uuid,
       CASE WHEN random() < 0.02 THEN NULL ELSE 1 + floor(random() * 5)::int END
FROM generate_series(1, 1000000) n;

VACUUM ANALYZE;
