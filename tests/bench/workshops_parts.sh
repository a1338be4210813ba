#!/usr/bin/env bash
# Where a register + cancel pair's time goes, inside the server (tests/bench/workshops_parts.sql):
# PAIRS register + cancel pairs one after another in one backend, against the plain writes of
# the same rows, then again with each part of the rules switched off in turn (a trial on a
# throwaway server: the rules are broken while a part is off). Each figure is the best of 3 runs,
# in microseconds per pair; the runs alternate with and without the part, so that a drift of the
# machine shows in both.
#
#   bash tests/bench/workshops_parts.sh [MAJOR [PAIRS]]     (defaults: 15, 2000)
#
# It uses the booking_ext installed in that Postgres: install the release build first
# (bash scripts/install-extension.sh --release "$(pg_config_for MAJOR)").
set -euo pipefail
cd "$(dirname "$0")/../.."
. scripts/env.sh
major=${1:-15}; pairs=${2:-2000}
cfg=$(pg_config_for "$major"); bindir=$("$cfg" --bindir)
dir=$PWD/build/bench-workshop-parts
throwaway_pg_start "$dir" "$bindir" -c shared_buffers=256MB -c synchronous_commit=off -c autovacuum=off \
  -c max_wal_size=4GB -c checkpoint_timeout=1h
trap 'throwaway_pg_stop "$dir" "$bindir" >/dev/null' EXIT
psql_bench() { "$bindir/psql" -X -q -h 127.0.0.1 -p "$port" -U postgres -v ON_ERROR_STOP=1 "$@"; }
psql_bench -d postgres -c "CREATE DATABASE bench"
psql_bench -d bench -c "CREATE EXTENSION booking_ext CASCADE" 2>/dev/null
psql_bench -d bench -f tests/bench/dataset.sql -f tests/bench/reference.sql >/dev/null
psql_bench -d bench -f tests/bench/workshops_dataset.sql -f tests/bench/workshops_parts.sql >/dev/null
# One timed run: back to the rows as loaded (and empty logs, so that no run writes into larger
# indexes than another), then the pairs; prints milliseconds.
timed() {
  psql_bench -d bench -c "SET row_security = off" \
    -c "DELETE FROM booking.workshop_registrations WHERE user_id NOT LIKE 'wb-bg-%'" \
    -c "DELETE FROM bench.workshop_registrations_plain WHERE user_id NOT LIKE 'wb-bg-%'" \
    -c "SET session_replication_role = replica" -c "TRUNCATE booking.audit_log, booking.outbox, booking.notifications" \
    -c "VACUUM ANALYZE booking.workshop_sessions, booking.workshop_registrations, bench.workshop_registrations_plain" >/dev/null
  psql_bench -d bench -At -c '\timing on' -c "CALL bench.$1($pairs)" | sed -n 's/^Time: \([0-9.]*\) ms.*/\1/p'
}
best() { python3 -c "import sys; print(min(float(x) for x in sys.argv[1:]) * 1000 / $pairs)" "$@"; }
plain=(); rules=()
for k in 1 2 3; do plain+=("$(timed workshop_plain_pairs)"); rules+=("$(timed workshop_rpc_pairs)"); done
printf 'plain writes: %.0f us per pair; register_for_session + cancel_registration: %.0f us per pair\n' \
  "$(best "${plain[@]}")" "$(best "${rules[@]}")"
for part in audit audit_insert after rls; do
  off_sql=$(psql_bench -d bench -At -c "SELECT off_sql FROM bench.workshop_part_switches WHERE part = '$part'")
  on_sql=$(psql_bench -d bench -At -c "SELECT on_sql FROM bench.workshop_part_switches WHERE part = '$part'")
  with=(); without=()
  for k in 1 2 3; do
    with+=("$(timed workshop_rpc_pairs)")
    psql_bench -d bench -c "$off_sql"; without+=("$(timed workshop_rpc_pairs)"); psql_bench -d bench -c "$on_sql"
  done
  python3 -c "
w, o = $(best "${with[@]}"), $(best "${without[@]}")
print(f'without {\"$part\":<16} {o:6.0f} us per pair (with it {w:.0f}): the part costs {w - o:4.0f} us, {(w - o) / w:.0%}')"
done
