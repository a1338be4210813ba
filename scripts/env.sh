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
