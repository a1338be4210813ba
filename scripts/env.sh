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
