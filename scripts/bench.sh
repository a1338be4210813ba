#!/usr/bin/env bash
# The benchmark (`make bench`): a release build of booking_ext in Postgres 15 as Debian ships it
# (no assertions: the source builds of 17 and 18 used by the tests have them, which skews
# timings), a throwaway server, the dataset of tests/bench/dataset.sql, then in one run
#   1. each native scheduling function against the plain-SQL way (tests/bench/reference.sql)
#      and, for the slot list, the floor; the run fails if they disagree on any slot;
#   2. preview_series and book_series against the plain-SQL way (tests/bench/series.sql, dataset
#      tests/bench/series_dataset.sql): medians inside the server; the run fails unless both
#      sides give the same occurrences, refusals and bookings;
#   3. importing 500 external events (import_ics, upsert_calendar_events) and the slot list of a
#      resource with 1 000 external events against one with 1 000 bookings at the same times
#      (tests/bench/calendars.sql); the run fails unless both give the same slots;
#   4. book() against a bare INSERT of the same kind of rows, 8 pgbench clients each, twice in
#      turn, then a check that no desk is oversubscribed;
#   5. register_for_session + cancel_registration against a plain INSERT + UPDATE of the same
#      rows into a table without triggers and against the floor (the same rows plus the session
#      lock, audit rows and outbox events, no rules) (tests/bench/workshops*.pgbench, dataset
#      tests/bench/workshops_dataset.sql), 8 clients each, twice in turn, with p50/p95/p99
#      latencies of each call from pgbench's per-transaction logs, then a check that no session holds more
#      seats than its capacity and none has a seat free while people wait;
#   6. the daily digests of 1 000 organizations (tests/bench/digests.sql, dataset
#      tests/bench/digests_dataset.sql): generate_digest for each, as service_role, against the
#      plain-SQL way of computing bookings by status and booked minutes with GROUP BY; medians
#      inside the server; the run fails unless both give the same figures;
#   7. track_event against a bare INSERT of the same rows into an equivalent table without
#      triggers or row-level security (scripts/bench-analytics.sh, on a server of its own).
# BOOKING_BENCH_PG picks another major version, BOOKING_BENCH_SECONDS the pgbench duration.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
bench_dir=$root/build/bench
pg_major=${BOOKING_BENCH_PG:-15}
seconds=${BOOKING_BENCH_SECONDS:-15}
clients=8

bash scripts/bootstrap.sh
. scripts/env.sh
cfg=$(pg_config_for "$pg_major")
bindir=$("$cfg" --bindir)

echo "== release build of booking_ext into Postgres $pg_major"
cargo pgrx install --release --no-default-features --features "pg$pg_major" --pg-config "$cfg" >/dev/null

# Asynchronous commit: the writers are compared on their work, not on the disk's flush time.
# No autovacuum: the dataset is vacuumed and analyzed once loaded, and a worker waking in the
# middle of a measurement on a small machine only adds noise.
throwaway_pg_start "$bench_dir" "$bindir" -c shared_buffers=256MB -c synchronous_commit=off -c max_connections=40 \
  -c autovacuum=off
trap 'throwaway_pg_stop "$bench_dir" "$bindir" >/dev/null' EXIT
psql_bench() { "$bindir/psql" -X -q -h 127.0.0.1 -p "$port" -U postgres -v ON_ERROR_STOP=1 "$@"; }
psql_bench -d postgres -c "CREATE DATABASE bench"
psql_bench -d bench -c "CREATE EXTENSION booking_ext CASCADE"
echo "== loading the dataset"
psql_bench -d bench -f tests/bench/dataset.sql -f tests/bench/reference.sql >/dev/null

echo "== read side: medians inside the server"
psql_bench -d bench -f tests/bench/run.sql

echo "== series: a weekly series of 104 occurrences on a resource with 10 000 bookings, native against the plain way"
psql_bench -d bench -f tests/bench/series_dataset.sql >/dev/null
psql_bench -d bench -f tests/bench/series.sql

echo "== calendars: importing 500 events; slots over 1 000 external events against 1 000 bookings"
psql_bench -d bench -f tests/bench/calendars.sql

echo "== write side: $clients clients for ${seconds} s each, desks of capacity 1, 30- and 60-minute bookings on a 30-minute grid"
desks="resource_id IN (SELECT id FROM booking.resources WHERE title LIKE 'Desk %')"
declare -A tps_sum=([insert]=0 [book]=0)
for round in 1 2; do
  for writer in insert book; do
    psql_bench -d bench -c "SET row_security = off; DELETE FROM booking.bookings WHERE $desks" -c "VACUUM ANALYZE booking.bookings" >/dev/null
    out=$("$bindir/pgbench" -n -h 127.0.0.1 -p "$port" -U postgres -c $clients -j $clients -T "$seconds" \
          -f "tests/bench/$writer.pgbench" bench 2>&1)
    tps=$(sed -n 's/^tps = \([0-9.]*\) .*/\1/p' <<<"$out" | head -1)
    failed=$(sed -n 's/^number of failed transactions: \([0-9]*\).*/\1/p' <<<"$out")
    read -r stored over <<<"$(psql_bench -d bench -At -F ' ' -c "
      SELECT (SELECT count(*) FROM booking.bookings WHERE $desks),
             (SELECT count(*) FROM booking.bookings a JOIN booking.bookings b
                ON a.resource_id = b.resource_id AND a.id < b.id AND a.during && b.during
              WHERE a.$desks AND a.status IN ('pending', 'approved') AND b.status IN ('pending', 'approved'))")"
    printf '%-7s round %s: %8.1f transactions/s, %5s bookings stored, %s overlapping pairs, %s failed transactions\n' \
      "$writer" "$round" "$tps" "$stored" "$over" "${failed:-0}"
    if [ "$over" != 0 ] || [ "${failed:-0}" != 0 ]; then
      echo "oversubscription or errors: the benchmark fails" >&2
      exit 1
    fi
    tps_sum[$writer]=$(python3 -c "print(${tps_sum[$writer]} + $tps)")
  done
done
python3 -c "b, i = ${tps_sum[book]}, ${tps_sum[insert]}; print(f'book() throughput: {b / i:.0%} of the bare INSERT (mean of 2 rounds: {b / 2:.0f} vs {i / 2:.0f} transactions/s)')"

echo "== workshops write side: $clients clients for ${seconds} s each, 200 sessions of 12 seats with 11 taken, 1 000 people"
psql_bench -d bench -f tests/bench/workshops_dataset.sql >/dev/null
. tests/bench/workshops_writers.sh
run_workshop_writers 2 "$seconds" "$bench_dir"

echo "== digests: the daily digest of 1 000 organizations in six zones, native against the plain way"
psql_bench -d bench -f tests/bench/digests_dataset.sql >/dev/null
psql_bench -d bench -f tests/bench/digests.sql

throwaway_pg_stop "$bench_dir" "$bindir" >/dev/null
trap - EXIT
BOOKING_BENCH_PG=$pg_major BOOKING_BENCH_SECONDS=$seconds bash scripts/bench-analytics.sh
