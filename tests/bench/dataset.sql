-- The benchmark's data: one public organization in Paris (no DST change in the benchmark's
-- January-February weeks), opening Monday-Saturday 08:00-20:00, with
--   * Studio: one resource, 15-minute grid, about 240 one-hour-ish bookings in the 30 days;
--   * Bench 01-50: a pool of 50 resources with about 6 bookings a day each;
--   * Hall: 24/7, capacity 150, 10 000 bookings of 1-5 seats in the 30 days;
--   * Desk 01-50: 24/7 desks, capacity 1, empty, for book() against a bare INSERT.
-- Deterministic (setseed), so runs are comparable.
-- Loaded with synchronous commits: VACUUM marks a page all-visible only once the commits of its
-- rows are flushed, and the benchmark server commits asynchronously (for the writers'
-- comparison); without this the visibility map stays empty and no index-only scan is possible,
-- unlike on a table autovacuum looks after.
SET synchronous_commit = on;
SELECT setseed(0.42);
SELECT booking.create_api_roles();

INSERT INTO booking.organizations (id, slug, name, time_zone, is_public)
VALUES ('b0000000-0000-4000-a000-000000000001', 'bench', 'Bench', 'Europe/Paris', true);
INSERT INTO booking.availability_rules (organization_id, day_of_week, start_time, end_time)
SELECT 'b0000000-0000-4000-a000-000000000001', d, '08:00', '20:00' FROM generate_series(1, 6) d;

CREATE FUNCTION pg_temp.rid(p_kind int, p_n int) RETURNS uuid LANGUAGE sql IMMUTABLE
AS $$ SELECT format('b0000000-0000-4000-a%s-%s', lpad(p_kind::text, 3, '0'), lpad(p_n::text, 12, '0'))::uuid $$;

INSERT INTO booking.resources (id, organization_id, title, capacity, slot_interval_minutes, auto_approve)
SELECT pg_temp.rid(1, 1), 'b0000000-0000-4000-a000-000000000001'::uuid, 'Studio', 1, 15, true
UNION ALL
SELECT pg_temp.rid(2, n), 'b0000000-0000-4000-a000-000000000001', 'Bench ' || n, 1, 15, true FROM generate_series(1, 50) n
UNION ALL
SELECT pg_temp.rid(3, 1), 'b0000000-0000-4000-a000-000000000001', 'Hall', 150, 15, true
UNION ALL
SELECT pg_temp.rid(4, n), 'b0000000-0000-4000-a000-000000000001', 'Desk ' || n, 1, 30, false FROM generate_series(1, 50) n;

-- The hall and the desks are open around the clock (their own rules).
INSERT INTO booking.availability_rules (organization_id, resource_id, day_of_week, start_time, end_time)
SELECT 'b0000000-0000-4000-a000-000000000001', r, d, '00:00', '24:00'
FROM generate_series(0, 6) d, (SELECT pg_temp.rid(3, 1) UNION ALL SELECT pg_temp.rid(4, n) FROM generate_series(1, 50) n) AS x(r);

-- Studio: 30 days from Monday 6 January 2031; each open hour booked with probability 3/4 for
-- 30, 45 or 60 minutes.
INSERT INTO booking.bookings (organization_id, resource_id, booked_by, starts_at, ends_at, status)
SELECT 'b0000000-0000-4000-a000-000000000001', pg_temp.rid(1, 1), 'bench',
       (d + make_time(h, 0, 0)) AT TIME ZONE 'Europe/Paris',
       (d + make_time(h, 0, 0)) AT TIME ZONE 'Europe/Paris' + make_interval(mins => 15 * (2 + (random() * 2)::int)),
       'approved'
FROM generate_series(date '2031-01-06', date '2031-02-04', interval '1 day') d, generate_series(8, 19) h
WHERE extract(isodow FROM d) < 7 AND random() < 0.75;

-- Bench pool: 7 days from 6 January 2031; half of the open hours booked.
INSERT INTO booking.bookings (organization_id, resource_id, booked_by, starts_at, ends_at, status)
SELECT 'b0000000-0000-4000-a000-000000000001', pg_temp.rid(2, n), 'bench',
       (d + make_time(h, 0, 0)) AT TIME ZONE 'Europe/Paris',
       (d + make_time(h, 0, 0)) AT TIME ZONE 'Europe/Paris' + interval '45 minutes',
       'approved'
FROM generate_series(1, 50) n, generate_series(date '2031-01-06', date '2031-01-12', interval '1 day') d, generate_series(8, 19) h
WHERE extract(isodow FROM d) < 7 AND random() < 0.5;

-- Hall: 10 000 bookings on a 5-minute grid over the 30 days, 15 to 120 minutes, 1 to 5 seats.
INSERT INTO booking.bookings (organization_id, resource_id, booked_by, starts_at, ends_at, seats, status)
SELECT 'b0000000-0000-4000-a000-000000000001', pg_temp.rid(3, 1), 'bench', s, s + make_interval(mins => 15 * (1 + (random() * 7)::int)),
       1 + (random() * 4)::int, 'approved'
FROM (SELECT timestamptz '2031-01-06 00:00 Europe/Paris' + make_interval(mins => 5 * (random() * 8600)::int) AS s
      FROM generate_series(1, 10000)) x;

VACUUM ANALYZE;
