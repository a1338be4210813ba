#!/usr/bin/env bash
# The analytics benchmark (run by scripts/bench.sh after its own parts, or alone): track_event
# against a bare INSERT of the same row into an equivalent table without triggers or row-level
# security (tests/bench/analytics*.pgbench, dataset tests/bench/analytics_dataset.sql), 8 pgbench
# clients each, twice in turn, each call a signed-in member's transaction with the JWT claims
# and request headers PostgREST sets; then a check that every event was stored with its caller's
# fields. Target: track_event at 70% of the bare INSERT's throughput or more.
#
# Alone: install a release build first (scripts/install-extension.sh --release PG_CONFIG), then
#   BOOKING_BENCH_PG=17 bash scripts/bench-analytics.sh
# BOOKING_BENCH_PG picks the major version (15 by default, as bench.sh), BOOKING_BENCH_SECONDS
# the pgbench duration.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/env.sh
pg_major=${BOOKING_BENCH_PG:-15}
seconds=${BOOKING_BENCH_SECONDS:-15}
clients=8
bindir=$("$(pg_config_for "$pg_major")" --bindir)
bench_dir=$PWD/build/bench-analytics

# As bench.sh: asynchronous commit (the writers are compared on their work, not on the disk's
# flush time), no autovacuum.
throwaway_pg_start "$bench_dir" "$bindir" -c shared_buffers=256MB -c synchronous_commit=off -c max_connections=40 \
  -c autovacuum=off
trap 'throwaway_pg_stop "$bench_dir" "$bindir" >/dev/null' EXIT
psql_bench() { "$bindir/psql" -X -q -h 127.0.0.1 -p "$port" -U postgres -v ON_ERROR_STOP=1 "$@"; }
psql_bench -d postgres -c "CREATE DATABASE bench"
psql_bench -d bench -c "CREATE EXTENSION booking_ext CASCADE" -c "SELECT booking.create_api_roles()" >/dev/null
psql_bench -d bench -f tests/bench/analytics_dataset.sql >/dev/null

echo "== analytics: track_event against a bare INSERT, $clients clients for ${seconds} s each, Postgres $pg_major"
declare -A tps_sum=([plain]=0 [rpc]=0)
for round in 1 2; do
  for writer in plain rpc; do
    psql_bench -d bench -c "SET row_security = off; TRUNCATE booking.analytics_events, bench.analytics_events_plain" \
               -c "VACUUM ANALYZE booking.analytics_events, bench.analytics_events_plain" >/dev/null
    script=tests/bench/analytics.pgbench
    [ "$writer" = plain ] && script=tests/bench/analytics_plain.pgbench
    out=$("$bindir/pgbench" -n -h 127.0.0.1 -p "$port" -U postgres -c $clients -j $clients -T "$seconds" -f "$script" bench 2>&1) \
      || { echo "$out" >&2; echo "pgbench failed: the benchmark fails" >&2; exit 1; }
    tps=$(sed -n 's/^tps = \([0-9.]*\) .*/\1/p' <<<"$out" | head -1)
    done_tx=$(sed -n 's/^number of transactions actually processed: \([0-9]*\).*/\1/p' <<<"$out")
    table=bench.analytics_events_plain
    [ "$writer" = rpc ] && table=booking.analytics_events
    exact=$(psql_bench -d bench -At -c "SELECT count(*) FROM $table
      WHERE user_id = 'ab-' || split_part(session_id, '-', 2) AND ip_address = ('203.0.113.' || split_part(session_id, '-', 2))::inet
        AND user_agent = 'Mozilla/5.0 (bench)' AND verified AND organization_id = 'b0000000-0000-4000-a00a-000000000001'")
    printf '%-5s round %s: %8.1f calls/s, %s calls, %s rows stored with their caller'"'"'s fields\n' "$writer" "$round" "$tps" "$done_tx" "$exact"
    if [ "$exact" != "$done_tx" ]; then
      echo "rows missing or wrong: the benchmark fails" >&2
      exit 1
    fi
    tps_sum[$writer]=$(python3 -c "print(${tps_sum[$writer]} + $tps)")
  done
done
python3 -c "
r, p = ${tps_sum[rpc]}, ${tps_sum[plain]}
print(f'track_event throughput: {r / p:.0%} of the bare INSERT (mean of 2 rounds: {r / 2:.0f} vs {p / 2:.0f} calls/s); '
      f'target at least 70%: {\"met\" if r >= 0.7 * p else \"NOT met\"}')"
