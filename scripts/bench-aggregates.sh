#!/usr/bin/env bash
# The aggregates benchmark (`make bench-aggregates`): a release build of booking_ext in
# Postgres 15 as Debian ships it (no assertions, as for `make bench`; BOOKING_BENCH_PG picks
# another major version), a throwaway server, 1 000 000 random bookings over 50 resources and
# 1 000 000 ratings (tests/bench/aggregates_dataset.sql), then each native aggregate against its
# plain-SQL equivalent in one run (tests/bench/aggregates.sql), which fails if they disagree.
# Not a timed test: figures only.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
bench_dir=$root/build/bench-aggregates
pg_major=${BOOKING_BENCH_PG:-15}

bash scripts/bootstrap.sh
. scripts/env.sh
cfg=$(pg_config_for "$pg_major")
bindir=$("$cfg" --bindir)
if "$cfg" --configure | grep -q -- --enable-cassert; then
  echo "== note: this Postgres $pg_major is built with assertions (--enable-cassert): timings are slower than a production build"
fi

echo "== release build of booking_ext into Postgres $pg_major"
cargo pgrx install --release --no-default-features --features "pg$pg_major" --pg-config "$cfg" >/dev/null

# Enough memory for a million-row sort in the plain SQL and for the states; no autovacuum
# waking in the middle of a measurement.
throwaway_pg_start "$bench_dir" "$bindir" -c shared_buffers=1GB -c work_mem=256MB -c maintenance_work_mem=512MB \
  -c max_wal_size=4GB -c synchronous_commit=off -c autovacuum=off -c max_parallel_workers_per_gather=2
trap 'throwaway_pg_stop "$bench_dir" "$bindir" >/dev/null' EXIT
psql_bench() { "$bindir/psql" -X -q -h 127.0.0.1 -p "$port" -U postgres -v ON_ERROR_STOP=1 "$@"; }
psql_bench -d postgres -c "CREATE DATABASE bench"
psql_bench -d bench -c "CREATE EXTENSION booking_ext CASCADE"
echo "== loading 1 000 000 bookings and 1 000 000 ratings"
start=$(date +%s)
# reference.sql: the bench schema and its timing helpers (shared with `make bench`).
psql_bench -d bench -c "SELECT booking.create_api_roles()" -f tests/bench/reference.sql -f tests/bench/aggregates_dataset.sql >/dev/null
echo "   loaded in $(( $(date +%s) - start )) s"

echo "== native aggregates against plain SQL: medians inside the server"
psql_bench -d bench -f tests/bench/aggregates.sql
