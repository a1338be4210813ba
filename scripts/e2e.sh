#!/usr/bin/env bash
# End to end: a throwaway Postgres (major version $1, booking_ext already installed into it)
# set up as a self-hosted Supabase database is (roles anon, authenticated, service_role and the
# authenticator that PostgREST logs in as), PostgREST 12 in front of it on a loopback port with a
# JWT secret and schema booking exposed, and the tests in tests/e2e/ calling it with the real
# supabase-js client. Everything it starts is stopped on exit, success or not.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/env.sh
v=${1:?usage: scripts/e2e.sh POSTGRES_MAJOR_VERSION}
bindir=$("$(pg_config_for "$v")" --bindir)
dir=$PWD/build/e2e-pg$v

cleanup() {
  postgrest_stop "$dir" || true
  throwaway_pg_stop "$dir" "$bindir" >/dev/null 2>&1 || true
}
trap cleanup EXIT

throwaway_pg_start "$dir" "$bindir"
db_port=$port
psql_e2e() { "$bindir/psql" -X -q -h 127.0.0.1 -p "$db_port" -U postgres -v ON_ERROR_STOP=1 "$@"; }
psql_e2e -d postgres -c "CREATE DATABASE booking_e2e"
psql_e2e -d booking_e2e -c "CREATE EXTENSION booking_ext CASCADE" >/dev/null
psql_e2e -d booking_e2e -f tests/fixtures/tenants.sql >/dev/null
secret=$(head -c 48 /dev/urandom | base64 | tr -dc 'A-Za-z0-9' | head -c 48)
postgrest_start "$dir" "$db_port" booking_e2e "$secret" "$bindir"

# The API tests, one file at a time against the same data; then the coverage check, which reads
# the calls the gateway wrote down.
export BOOKING_E2E_API=http://127.0.0.1:$api_port BOOKING_E2E_JWT_SECRET=$secret \
       BOOKING_E2E_DB="postgres://postgres@127.0.0.1:$db_port/booking_e2e" BOOKING_E2E_PSQL=$bindir/psql \
       BOOKING_E2E_CALLS=$dir/rpc-calls.txt
: >"$BOOKING_E2E_CALLS"
node --test --test-concurrency=1 tests/e2e/api/
node --test tests/e2e/coverage.test.mjs tests/e2e/readme.test.mjs
