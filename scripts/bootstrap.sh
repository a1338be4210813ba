#!/usr/bin/env bash
# Idempotent toolchain bootstrap for booking_ext: Debian packages, Postgres 15 (Debian binaries),
# Postgres 17 and 18 (built from Debian source packages), cargo-pgrx 0.18.1 and `cargo pgrx init`.
# Every step checks whether it is already done and skips it. Only the package registries are used.
#
# Layout (all outside /root, because the tests run Postgres as the `postgres` user):
#   $BOOKING_TOOLS/pg17, $BOOKING_TOOLS/pg18   built Postgres installs
#   $BOOKING_TOOLS/pgrx                        PGRX_HOME (config.toml)
#   $BOOKING_TOOLS/src                         downloaded source packages
set -euo pipefail

BOOKING_TOOLS=${BOOKING_TOOLS:-/opt/booking_ext}
PGRX_VERSION=0.18.1
PG15_CONFIG=/usr/lib/postgresql/15/bin/pg_config
export PGRX_HOME=$BOOKING_TOOLS/pgrx

say() { printf '[bootstrap] %s\n' "$*" >&2; }
die() { printf '[bootstrap] ERROR: %s\n' "$*" >&2; exit 1; }

[ "$(id -u)" = 0 ] || die "run as root (it installs Debian packages and writes $BOOKING_TOOLS)"
command -v cargo >/dev/null || die "cargo is missing: install a Rust toolchain (rustup) first"
command -v apt-get >/dev/null || die "apt-get is missing: this script targets Debian"

apt_updated=
apt_update() { [ -n "$apt_updated" ] || { apt-get update -qq || die "apt-get update failed: are the Debian package mirrors reachable?"; apt_updated=1; }; }

# --- 1. Debian packages -------------------------------------------------------------------------
packages=(build-essential bison flex libreadline-dev zlib1g-dev libicu-dev pkg-config
          clang libclang-dev sudo postgresql-15 postgresql-server-dev-15 postgresql-client-15
          postgresql-common)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  say "installing Debian packages: ${missing[*]}"
  # No default cluster: the tests and the demo start their own throwaway servers.
  mkdir -p /etc/postgresql-common
  if [ ! -f /etc/postgresql-common/createcluster.conf ] || ! grep -q '^create_main_cluster = false' /etc/postgresql-common/createcluster.conf; then
    echo 'create_main_cluster = false' >> /etc/postgresql-common/createcluster.conf
  fi
  apt_update
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" \
    || die "could not install: ${missing[*]}"
fi
# Node.js runs the end-to-end tests (supabase-js); the machine image brings Node 20, and Debian's
# package is the fallback where there is none.
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  say "installing Node.js and npm"
  apt_update
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends nodejs npm || die "could not install nodejs and npm"
fi
command -v curl >/dev/null || { apt_update; DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends curl || die "could not install curl"; }
[ -x "$PG15_CONFIG" ] || die "Postgres 15 pg_config not found at $PG15_CONFIG"
id postgres >/dev/null 2>&1 || die "the postgres OS user is missing (package postgresql-common creates it)"

# --- 2. Postgres 17 and 18 from Debian source packages --------------------------------------------
# The mirror already configured for bookworm is reused for the deb-src lines, so nothing new is named.
# Only the main archive: the security pool was seen to list sources it does not serve.
debian_mirror() {
  local f
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] || continue
    awk '/^URIs:/{u=$2} /^Suites:/{ if ($0 ~ /bookworm( |$)/ || $0 ~ /bookworm-updates/) print u }' "$f"
  done | head -n1
  grep -hE '^deb .* bookworm main' /etc/apt/sources.list 2>/dev/null | awk '{print $2}' | head -n1
  return 0
}

build_pg() { # major, debian source package suite hint
  local major=$1 prefix=$BOOKING_TOOLS/pg$1
  if [ -x "$prefix/bin/pg_config" ] && [ -x "$prefix/bin/pg_dump" ] \
     && [ -f "$("$prefix/bin/pg_config" --sharedir)/extension/btree_gist.control" ]; then
    return 0
  fi
  local srcdir=$BOOKING_TOOLS/src
  mkdir -p "$srcdir"
  local tarball
  tarball=$(ls "$srcdir"/postgresql-"$major"_*.orig.tar.bz2 2>/dev/null | sort -V | tail -n1 || true)
  if [ -z "$tarball" ]; then
    local list=/etc/apt/sources.list.d/booking-ext-pgsrc.list mirror
    if [ ! -f "$list" ]; then
      mirror=$(debian_mirror | head -n1)
      [ -n "$mirror" ] || die "no Debian mirror found in the apt sources to add deb-src lines to"
      {
        echo "deb-src $mirror trixie main"
        echo "deb-src $mirror sid main"
      } > "$list"
      apt_updated=
    fi
    apt_update
    say "downloading the Debian source of postgresql-$major"
    (cd "$srcdir" && apt-get source --download-only -qq "postgresql-$major") \
      || die "apt-get source postgresql-$major failed: the trixie/sid deb-src suites must be reachable"
    tarball=$(ls "$srcdir"/postgresql-"$major"_*.orig.tar.bz2 2>/dev/null | sort -V | tail -n1 || true)
    [ -n "$tarball" ] || die "no postgresql-${major}_*.orig.tar.bz2 after apt-get source"
  fi
  local version build
  version=$(basename "$tarball" | sed -E 's/^postgresql-[0-9]+_([0-9.]+)\.orig\.tar\.bz2$/\1/')
  build=$srcdir/build-$major
  say "building Postgres $version into $prefix (a few minutes)"
  rm -rf "$build" && mkdir -p "$build"
  tar -xjf "$tarball" -C "$build" --strip-components=1
  (
    cd "$build"
    # Called from `make test`, the outer make's variables would leak in; Postgres generates its
    # headers only in a top-level make (MAKELEVEL 0), so clear them, as cargo pgrx init does.
    unset MAKELEVEL MAKEFLAGS MFLAGS MAKEOVERRIDES
    # Assertions on: the test servers should catch what a release build would let slip.
    CPPFLAGS="-DUSE_ASSERT_CHECKING=1 -DRANDOMIZE_ALLOCATED_MEMORY=1" \
      ./configure --quiet --prefix="$prefix" --enable-debug --enable-cassert >/dev/null
    make -s -j"$(nproc)" >/dev/null
    make -s install >/dev/null
    make -s -C contrib/btree_gist install >/dev/null
  ) || die "building Postgres $major failed (see the output above)"
  rm -rf "$build"
  chmod -R a+rX "$prefix"
}
build_pg 17
build_pg 18
chmod a+rx "$BOOKING_TOOLS"

# --- 3. cargo-pgrx ---------------------------------------------------------------------------------
if ! cargo pgrx --version 2>/dev/null | grep -q " $PGRX_VERSION\$"; then
  say "installing cargo-pgrx $PGRX_VERSION (about 5 minutes on 2 cores)"
  cargo install cargo-pgrx --version "$PGRX_VERSION" --locked --quiet \
    || die "cargo install cargo-pgrx $PGRX_VERSION failed: is the crate registry reachable?"
fi

# --- 4. cargo pgrx init for all three majors in one call (init is not additive) --------------------
want_config() {
  grep -q "pg15 = \"$PG15_CONFIG\"" "$PGRX_HOME/config.toml" 2>/dev/null &&
  grep -q "pg17 = \"$BOOKING_TOOLS/pg17/bin/pg_config\"" "$PGRX_HOME/config.toml" &&
  grep -q "pg18 = \"$BOOKING_TOOLS/pg18/bin/pg_config\"" "$PGRX_HOME/config.toml"
}
if ! want_config; then
  say "cargo pgrx init (PGRX_HOME=$PGRX_HOME)"
  mkdir -p "$PGRX_HOME"
  cargo pgrx init --pg15 "$PG15_CONFIG" \
                  --pg17 "$BOOKING_TOOLS/pg17/bin/pg_config" \
                  --pg18 "$BOOKING_TOOLS/pg18/bin/pg_config" >/dev/null \
    || die "cargo pgrx init failed"
fi
chmod -R a+rX "$PGRX_HOME"
say "toolchain ready: Postgres 15, 17, 18; cargo-pgrx $PGRX_VERSION; PGRX_HOME=$PGRX_HOME"
