#!/usr/bin/env bash
# The workshops write side of `make bench` alone, for iterating on it: register_for_session +
# cancel_registration (tests/bench/workshops.pgbench) against the plain INSERT + UPDATE of the
# same rows (tests/bench/workshops_plain.pgbench) and the floor (tests/bench/workshops_floor.pgbench:
# the rows any way of keeping the rules must write, without the rules), 8 clients, taking turns
# (plain, floor, then the RPCs) ROUNDS times, on a throwaway server with the settings of
# scripts/bench.sh (dataset tests/bench/dataset.sql, then tests/bench/workshops_dataset.sql).
#
#   bash tests/bench/workshops.sh [MAJOR [SECONDS [ROUNDS]]]     (defaults: 15, 12, 2)
#
# It uses the booking_ext installed in that Postgres: install the release build first
# (bash scripts/install-extension.sh --release "$(pg_config_for MAJOR)").
#
# With BOOKING_BENCH_PERF=1 (needs perf, run as root), each run is also sampled with `perf`
# (see tests/bench/workshops_writers.sh, which both scripts run).
set -euo pipefail
cd "$(dirname "$0")/../.."
. scripts/env.sh
major=${1:-15}; seconds=${2:-12}; rounds=${3:-2}; clients=8
cfg=$(pg_config_for "$major"); bindir=$("$cfg" --bindir)
dir=$PWD/build/bench-workshops
throwaway_pg_start "$dir" "$bindir" -c shared_buffers=256MB -c synchronous_commit=off -c max_connections=40 -c autovacuum=off
trap 'throwaway_pg_stop "$dir" "$bindir" >/dev/null' EXIT
psql_bench() { "$bindir/psql" -X -q -h 127.0.0.1 -p "$port" -U postgres -v ON_ERROR_STOP=1 "$@"; }
psql_bench -d postgres -c "CREATE DATABASE bench"
psql_bench -d bench -c "CREATE EXTENSION booking_ext CASCADE" 2>/dev/null
psql_bench -d bench -f tests/bench/dataset.sql -f tests/bench/reference.sql >/dev/null
psql_bench -d bench -f tests/bench/workshops_dataset.sql >/dev/null
. tests/bench/workshops_writers.sh
run_workshop_writers "$rounds" "$seconds" "$dir"
