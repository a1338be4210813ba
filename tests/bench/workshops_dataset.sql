-- The workshops write side of the benchmark, loaded into the bench dataset's organization once
-- the desks' write side is done:
--   * Room 01-20: rooms of 12 seats, open around the clock;
--   * one published public workshop with 200 sessions of 12 seats (each room on 10 mornings of
--     May 2031), each session holding its room's booking;
--   * 11 people registered in every session, so that the clients of tests/bench/workshops.pgbench
--     compete for the twelfth seat: a registration takes it or joins the line, a cancellation
--     frees it or leaves the line, and a freed seat goes to the first in line;
--   * bench.workshop_registrations_plain: a plain table with the same columns, checks and
--     indexes as booking.workshop_registrations (CREATE TABLE ... LIKE) but no triggers, no
--     row-level security and no foreign keys, holding the same rows, for the plain writes of
--     tests/bench/workshops_plain.pgbench;
--   * the floor's copies of the sessions, the audit log and the outbox, for
--     tests/bench/workshops_floor.pgbench.
SET synchronous_commit = on;

INSERT INTO booking.resources (id, organization_id, title, capacity, slot_interval_minutes, auto_approve)
SELECT format('b0000000-0000-4000-a005-%s', lpad(n::text, 12, '0'))::uuid, 'b0000000-0000-4000-a000-000000000001',
       'Room ' || lpad(n::text, 2, '0'), 12, 30, true
FROM generate_series(1, 20) n;
INSERT INTO booking.availability_rules (organization_id, resource_id, day_of_week, start_time, end_time)
SELECT 'b0000000-0000-4000-a000-000000000001', format('b0000000-0000-4000-a005-%s', lpad(n::text, 12, '0'))::uuid,
       d, '00:00', '24:00'
FROM generate_series(1, 20) n, generate_series(0, 6) d;

INSERT INTO booking.workshops (id, organization_id, title, capacity, status, is_public)
VALUES ('b0000000-0000-4000-a007-000000000001', 'b0000000-0000-4000-a000-000000000001', 'Bench workshop', 12,
        'published', true);

-- Session n: room 1 + (n - 1) % 20, 10:00-12:00 Paris on day (n - 1) / 20 from Monday 5 May 2031.
INSERT INTO booking.bookings (id, organization_id, resource_id, booked_by, title, starts_at, ends_at, seats, status)
SELECT format('b0000000-0000-4000-a008-%s', lpad(n::text, 12, '0'))::uuid, 'b0000000-0000-4000-a000-000000000001',
       format('b0000000-0000-4000-a005-%s', lpad((1 + (n - 1) % 20)::text, 12, '0'))::uuid, 'bench', 'Bench workshop',
       (date '2031-05-05' + (n - 1) / 20 + time '10:00') AT TIME ZONE 'Europe/Paris',
       (date '2031-05-05' + (n - 1) / 20 + time '12:00') AT TIME ZONE 'Europe/Paris', 12, 'approved'
FROM generate_series(1, 200) n;
INSERT INTO booking.workshop_sessions (id, organization_id, workshop_id, booking_id, capacity)
SELECT format('b0000000-0000-4000-a006-%s', lpad(n::text, 12, '0'))::uuid, 'b0000000-0000-4000-a000-000000000001',
       'b0000000-0000-4000-a007-000000000001', format('b0000000-0000-4000-a008-%s', lpad(n::text, 12, '0'))::uuid, 12
FROM generate_series(1, 200) n;

-- Eleven people registered in each session (through the tables' rules, as the superuser).
INSERT INTO booking.workshop_registrations (session_id, user_id)
SELECT format('b0000000-0000-4000-a006-%s', lpad(n::text, 12, '0'))::uuid, 'wb-bg-' || lpad(k::text, 2, '0')
FROM generate_series(1, 200) n, generate_series(1, 11) k;

CREATE TABLE bench.workshop_registrations_plain (LIKE booking.workshop_registrations INCLUDING ALL);
INSERT INTO bench.workshop_registrations_plain SELECT * FROM booking.workshop_registrations;
GRANT SELECT, INSERT, UPDATE ON bench.workshop_registrations_plain TO authenticated;

-- The floor's copies (tests/bench/workshops_floor.pgbench): the sessions (same rows), the audit
-- log and the outbox, with their checks and indexes, without triggers, row-level security or
-- foreign keys.
CREATE TABLE bench.workshop_sessions_floor (LIKE booking.workshop_sessions INCLUDING ALL);
INSERT INTO bench.workshop_sessions_floor SELECT * FROM booking.workshop_sessions;
CREATE TABLE bench.audit_log_floor (LIKE booking.audit_log INCLUDING ALL);
CREATE TABLE bench.outbox_floor (LIKE booking.outbox INCLUDING ALL);
GRANT SELECT, UPDATE ON bench.workshop_sessions_floor TO authenticated;
GRANT INSERT ON bench.audit_log_floor, bench.outbox_floor TO authenticated;

-- Nothing may be wrong before the clients start.
DO $$
BEGIN
  IF (SELECT count(*) FROM booking.workshop_registrations WHERE status = 'registered') <> 2200 THEN
    RAISE EXCEPTION 'the workshops dataset did not load as expected';
  END IF;
END $$;

VACUUM ANALYZE booking.workshops, booking.workshop_sessions, booking.workshop_registrations, booking.bookings,
  bench.workshop_registrations_plain, bench.workshop_sessions_floor;
