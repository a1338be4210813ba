#!/usr/bin/env bash
# The demo: a throwaway Postgres 17 with booking_ext, the Oolite Digital Lab of seed 000 and a
# second tenant, and a short story told through the API roles exactly as PostgREST would call it.
# `scripts/demo.sh stop` stops the server it leaves running.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
demo_dir=$root/build/demo
pg_major=17

say() { printf '\n\033[1m%s\033[0m\n' "$*"; }
if [ "${1:-}" = stop ]; then
  . scripts/env.sh
  throwaway_pg_stop "$demo_dir" "$("$(pg_config_for $pg_major)" --bindir)"
  exit 0
fi

bash scripts/bootstrap.sh
. scripts/env.sh
cfg=$(pg_config_for $pg_major)
bindir=$("$cfg" --bindir)

say "Building and installing booking_ext into Postgres $pg_major"
cargo pgrx install --no-default-features --features "pg$pg_major" --pg-config "$cfg" >/dev/null

# A fresh server each run: data under build/ (ignored by git), owned by the postgres user.
throwaway_pg_start "$demo_dir" "$bindir"

psql_demo() { "$bindir/psql" -X -q -h 127.0.0.1 -p "$port" -U postgres -v ON_ERROR_STOP=1 "$@"; }
psql_demo -d postgres -c "CREATE DATABASE booking_demo"
psql_demo -d booking_demo -c "CREATE EXTENSION booking_ext CASCADE" -c "SELECT booking.create_api_roles()" >/dev/null
psql_demo -d booking_demo -f tests/fixtures/tenants.sql >/dev/null
psql_demo -d booking_demo -P footer=off -f scripts/demo.sql

cat <<EOT

The database is still running. Connect with:
    $bindir/psql -h 127.0.0.1 -p $port -U postgres booking_demo
Stop it with:
    make demo-stop
EOT
