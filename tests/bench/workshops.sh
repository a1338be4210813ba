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
# With BOOKING_BENCH_PERF=1 (needs perf, run as root), each run is also sampled with
# `perf record -a`, and the CPU samples of the server per 1 000 transactions are printed with
# and without the memory checking of an assertion-enabled build (AllocSetCheck,
# MemoryContextCheck, randomize_mem): the source builds of 17 and 18 used by the tests check
# every memory context after each command, a cost that grows with the backend's caches (the
# RPCs' backends compile many functions and plans, the plain writers' almost none), so their
# throughput ratio understates what a production build does; the ratio of CPU per transaction
# without those checks is the closer estimate.
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
reset="SET row_security = off;
  DELETE FROM booking.workshop_registrations WHERE user_id NOT LIKE 'wb-bg-%';
  DELETE FROM bench.workshop_registrations_plain WHERE user_id NOT LIKE 'wb-bg-%';
  TRUNCATE bench.audit_log_floor, bench.outbox_floor"
declare -A tps_sum=([plain]=0 [floor]=0 [rpc]=0) cpu_sum=([plain]=0 [floor]=0 [rpc]=0)
for round in $(seq "$rounds"); do
  for writer in plain floor rpc; do
    psql_bench -d bench -c "$reset" -c "VACUUM ANALYZE booking.workshop_sessions, booking.workshop_registrations, bench.workshop_registrations_plain, bench.workshop_sessions_floor" >/dev/null
    script=tests/bench/workshops.pgbench
    [ "$writer" = plain ] && script=tests/bench/workshops_plain.pgbench
    [ "$writer" = floor ] && script=tests/bench/workshops_floor.pgbench
    rm -f "$dir"/log.*
    "$bindir/pgbench" -n -h 127.0.0.1 -p "$port" -U postgres -c $clients -j $clients -T "$seconds" \
      -D phase=0 --max-tries=10 -l --log-prefix="$dir/log" -f "$script" bench >"$dir/out" 2>&1 &
    pgbench=$!
    if [ "${BOOKING_BENCH_PERF:-0}" = 1 ]; then
      sleep 1
      perf record -a -F 499 -o "$dir/perf.data" -- sleep $((seconds - 2)) >/dev/null 2>&1
    fi
    wait $pgbench || { cat "$dir/out" >&2; exit 1; }
    tps=$(sed -n 's/^tps = \([0-9.]*\) .*/\1/p' "$dir/out" | head -1)
    failed=$(sed -n 's/^number of failed transactions: \([0-9]*\).*/\1/p' "$dir/out")
    p95() {
      cat "$dir"/log.* | awk -v parity="$1" '$3 ~ /^[0-9]+$/ && $2 % 2 == parity { print $3 }' | sort -n |
        awk '{ v[NR] = $1 } END { printf "%.2f", v[int(NR * 0.95 + 0.999)] / 1000 }'
    }
    line=$(printf '%-5s round %s: %7.1f calls/s, p95 %s ms (register or INSERT) %s ms (cancel or UPDATE), %s failed' \
           "$writer" "$round" "$tps" "$(p95 1)" "$(p95 0)" "${failed:-0}")
    if [ "$writer" = rpc ]; then
      read -r over idle <<<"$(psql_bench -d bench -At -F ' ' -c "
        SELECT count(*) FILTER (WHERE held > capacity), count(*) FILTER (WHERE held < capacity AND waiting)
        FROM (SELECT s.capacity, booking_internal.session_seats_held(s.id) AS held,
                     EXISTS (SELECT 1 FROM booking.workshop_registrations r WHERE r.session_id = s.id AND r.status = 'waitlisted') AS waiting
              FROM booking.workshop_sessions s) x")"
      line="$line, $over sessions over capacity, $idle with a seat free while people wait"
      if [ "$over" != 0 ] || [ "$idle" != 0 ]; then echo "$line" >&2; exit 1; fi
    fi
    if [ "${BOOKING_BENCH_PERF:-0}" = 1 ]; then
      read -r all net <<<"$(perf script -i "$dir/perf.data" -F comm,ip,sym 2>/dev/null |
        awk -v tx="$(python3 -c "print($tps * ($seconds - 2))")" '
          $1 == "postgres" { pg++; if ($3 ~ /^(AllocSetCheck|MemoryContextCheck|randomize_mem|wipe_mem)$/) checks++ }
          END { printf "%.0f %.0f", pg / tx * 1000, (pg - checks) / tx * 1000 }')"
      line="$line; server CPU samples per 1000 calls: $all, $net without memory checks"
      cpu_sum[$writer]=$(python3 -c "print(${cpu_sum[$writer]} + $net)")
    fi
    echo "$line"
    tps_sum[$writer]=$(python3 -c "print(${tps_sum[$writer]} + $tps)")
  done
done
python3 -c "
r, f, p = ${tps_sum[rpc]}, ${tps_sum[floor]}, ${tps_sum[plain]}
print(f'register_for_session + cancel_registration: {r / p:.1%} of the plain writes\' throughput (mean of $rounds rounds: {r / $rounds:.0f} vs {p / $rounds:.0f} calls/s)')
print(f'the floor (the same rows, lock, audit rows and outbox events, no rules): {f / p:.1%} of the plain writes ({f / $rounds:.0f} calls/s); the RPCs: {r / f:.1%} of the floor')
if ${cpu_sum[rpc]}:
    print(f'without the memory checks: the plain writes take {${cpu_sum[plain]} / ${cpu_sum[rpc]}:.1%} of the RPCs\' server CPU per call')"
