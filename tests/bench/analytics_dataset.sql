-- The analytics benchmark's data (scripts/bench-analytics.sh): a public organization with 100
-- members (ab-1 .. ab-100) who track events, and bench.analytics_events_plain, the reference:
-- the same columns, checks, key and indexes as booking.analytics_events and partitioned the same
-- way (this month's partition made here), without triggers or row-level security, written by a
-- plain INSERT as the role authenticated.
INSERT INTO booking.organizations (id, slug, name, is_public)
VALUES ('b0000000-0000-4000-a00a-000000000001', 'bench-analytics', 'Bench analytics', true)
ON CONFLICT (id) DO NOTHING;
INSERT INTO booking.members (organization_id, user_id, role)
SELECT 'b0000000-0000-4000-a00a-000000000001', 'ab-' || n, 'member' FROM generate_series(1, 100) n
ON CONFLICT DO NOTHING;
SELECT booking_internal.analytics_partition(now());

CREATE SCHEMA IF NOT EXISTS bench;
GRANT USAGE ON SCHEMA bench TO authenticated;
DROP TABLE IF EXISTS bench.analytics_events_plain;
CREATE TABLE bench.analytics_events_plain (LIKE booking.analytics_events INCLUDING DEFAULTS INCLUDING CONSTRAINTS)
  PARTITION BY RANGE (created_at);
DO $$
DECLARE
  v_from timestamp := date_trunc('month', now() AT TIME ZONE 'UTC');
BEGIN
  EXECUTE format('CREATE TABLE bench.analytics_events_plain_current PARTITION OF bench.analytics_events_plain FOR VALUES FROM (%L) TO (%L)',
                 v_from::text || '+00', (v_from + interval '1 month')::text || '+00');
END $$;
ALTER TABLE bench.analytics_events_plain_current ADD PRIMARY KEY (id);
CREATE INDEX ON bench.analytics_events_plain_current (organization_id, created_at) WHERE organization_id IS NOT NULL;
CREATE INDEX ON bench.analytics_events_plain_current (user_id, created_at) WHERE user_id IS NOT NULL;
CREATE INDEX ON bench.analytics_events_plain_current (event_type, created_at);
CREATE INDEX ON bench.analytics_events_plain_current USING brin (created_at);
GRANT SELECT, INSERT ON bench.analytics_events_plain TO authenticated;
