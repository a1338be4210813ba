#!/usr/bin/env bash
# Idempotent toolchain bootstrap for booking_ext: Debian packages (by name; the machine's Debian
# release pins their versions), Postgres 15 from Debian's binaries, Postgres 17 and 18 built from
# the pinned, checksummed upstream tarballs of scripts/postgres-sources.txt, cargo-pgrx 0.18.1
# (`cargo install --locked`) and `cargo pgrx init`. Every step checks whether it is done already.
#
#   scripts/bootstrap.sh                       install what is missing
#   scripts/bootstrap.sh --check               say what is installed, what is pinned and what a
#                                              run would still do; changes nothing
#   scripts/bootstrap.sh --versions            the one line naming the toolchain the tests use
#   scripts/bootstrap.sh --fetch-sources M...  only fetch and verify the pinned source of each
#                                              major M (what the source pin test drives)
#
# Layout (all outside /root, because the tests run Postgres as the `postgres` user):
#   $BOOKING_TOOLS/pg17, $BOOKING_TOOLS/pg18   built Postgres installs
#   $BOOKING_TOOLS/pgrx                        PGRX_HOME (config.toml)
#   $BOOKING_TOOLS/src                         verified source tarballs, reused by later runs
# Overrides: BOOKING_PG_PINS (another pin table), BOOKING_DEBIAN_MIRROR (another Debian mirror;
# by default the one the machine's apt sources name).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
BOOKING_TOOLS=${BOOKING_TOOLS:-/opt/booking_ext}
PINS=${BOOKING_PG_PINS:-$here/postgres-sources.txt}
PGRX_VERSION=0.18.1
PG15_CONFIG=/usr/lib/postgresql/15/bin/pg_config
SOURCE_MAJORS=(17 18)
# Written by an earlier bootstrap that took "whatever the suite lists": no longer used.
OLD_DEB_SRC_LIST=/etc/apt/sources.list.d/booking-ext-pgsrc.list
export PGRX_HOME=$BOOKING_TOOLS/pgrx

say() { printf '[bootstrap] %s\n' "$*" >&2; }
die() { printf '[bootstrap] ERROR: %s\n' "$*" >&2; exit 1; }
elapsed() { printf '%d min %02d s' $(( $1 / 60 )) $(( $1 % 60 )); }

# --- the pin table ------------------------------------------------------------------------------
# pinned_candidates MAJOR: "version sha256" lines of that major, preferred first.
pinned_candidates() { awk -v m="$1" '!/^[[:space:]]*(#|$)/ && $1 == m { print $2, $3 }' "$PINS"; }

check_pin_table() {
  [ -r "$PINS" ] || die "pin table $PINS is missing"
  local bad
  bad=$(awk '!/^[[:space:]]*(#|$)/ && !(NF == 3 && $1 ~ /^[0-9]+$/ && index($2, $1 ".") == 1 \
             && $2 ~ /^[0-9]+\.[0-9]+$/ && length($3) == 64 && $3 !~ /[^0-9a-f]/) { printf "  line %d: %s\n", NR, $0 }' "$PINS")
  [ -z "$bad" ] || die "$(printf 'malformed pin table %s (want: major version sha256):\n%s' "$PINS" "$bad")"
  local m
  for m in "${SOURCE_MAJORS[@]}"; do
    [ -n "$(pinned_candidates "$m")" ] || die "pin table $PINS names no version of Postgres $m"
  done
}

# --- where the sources come from ------------------------------------------------------------------
# The Debian mirror the machine's apt sources already use for the main archive (never the security
# pool), so no host is named here.
debian_mirror() {
  if [ -n "${BOOKING_DEBIAN_MIRROR:-}" ]; then echo "${BOOKING_DEBIAN_MIRROR%/}"; return 0; fi
  local f
  {
    for f in /etc/apt/sources.list.d/*.sources; do
      [ -f "$f" ] || continue
      awk '/^URIs:/{u=$2} /^Suites:/{ if ($0 ~ /[[:space:]][a-z]+( |$)/ && $0 !~ /-security/) print u }' "$f"
    done
    grep -hE '^deb (\[[^]]*\] )?[a-z]+://[^ ]+ [a-z]+ main' /etc/apt/sources.list 2>/dev/null \
      | grep -v -- '-security' | sed -E 's/^deb (\[[^]]*\] )?//' | awk '{print $1}'
  } | grep -v -- '-security' | head -n1 | sed 's:/*$::' || true
}

source_file() { echo "postgresql-$1_$2.orig.tar.bz2"; }
source_url() { echo "$3/pool/main/p/postgresql-$1/$(source_file "$1" "$2")"; }
sha256_of() { sha256sum "$1" | awk '{print $1}'; }

# verify_source FILE EXPECTED: a mismatch is a hard error, never a reason to try another candidate.
verify_source() {
  local found
  found=$(sha256_of "$1")
  [ "$found" = "$2" ] && return 0
  die "$(printf 'checksum mismatch for %s\n  expected SHA-256 %s (pinned in %s)\n  found    SHA-256 %s\n%s' \
    "$1" "$2" "$PINS" "$found" \
    "  Nothing was unpacked. If the pin is right, delete the file to download it again; if the file is right, the pin is wrong.")"
}

# fetch_source MAJOR: the first pinned candidate of MAJOR that is cached or can be downloaded,
# verified; sets source_version, source_sha256 and source_tarball.
fetch_source() {
  local major=$1 srcdir=$BOOKING_TOOLS/src mirror="" tried=() version sha file url part code rc preferred=""
  mkdir -p "$srcdir"
  while read -r version sha; do
    [ -n "$preferred" ] || preferred=$version
    file=$srcdir/$(source_file "$major" "$version")
    if [ -f "$file" ]; then
      verify_source "$file" "$sha"   # a kept tarball is checked again before every use
    else
      [ -n "$mirror" ] || mirror=$(debian_mirror)
      [ -n "$mirror" ] || die "no Debian mirror found in the apt sources (set BOOKING_DEBIAN_MIRROR)"
      url=$(source_url "$major" "$version" "$mirror")
      part=$file.part
      say "downloading $url"
      rc=0
      code=$(curl -sS -L --connect-timeout 20 --retry 2 -o "$part" -w '%{http_code}' "$url" 2>"$part.err") || rc=$?
      if [ "$rc" != 0 ] || [ "$code" != 200 ]; then
        tried+=("$url -> HTTP ${code:-000}$( [ "$rc" = 0 ] || printf ' (curl exit %s: %s)' "$rc" "$(tr '\n' ' ' <"$part.err")")")
        rm -f "$part" "$part.err"
        say "Postgres $version could not be downloaded (HTTP ${code:-000}); trying the next pinned candidate"
        continue
      fi
      rm -f "$part.err"
      verify_source "$part" "$sha"   # dies on a mismatch, leaving the .part for inspection
      mv "$part" "$file"
    fi
    source_version=$version source_sha256=$sha source_tarball=$file
    if [ "$version" != "$preferred" ]; then
      say "took Postgres $version, a pinned fallback: the preferred $preferred could not be downloaded"
    fi
    return 0
  done < <(pinned_candidates "$major")
  die "$(printf 'no pinned source of Postgres %s could be downloaded; tried:\n' "$major"; printf '  %s\n' "${tried[@]}")"
}

# installed_version MAJOR: the version of the Postgres built into $BOOKING_TOOLS/pgMAJOR, if whole.
installed_version() {
  local prefix=$BOOKING_TOOLS/pg$1
  [ -x "$prefix/bin/pg_config" ] && [ -x "$prefix/bin/pg_dump" ] \
    && [ -f "$("$prefix/bin/pg_config" --sharedir)/extension/btree_gist.control" ] \
    && "$prefix/bin/pg_config" --version | awk '{print $2}'
  return 0
}
is_pinned() { pinned_candidates "$1" | awk -v v="$2" '$1 == v {found=1} END {exit !found}'; }
preferred_version() { pinned_candidates "$1" | awk 'NR == 1 {print $1}'; }

build_pg() {
  local major=$1 prefix=$BOOKING_TOOLS/pg$1 have started=$SECONDS
  have=$(installed_version "$major")
  # The preferred pin needs no network; an install of a fallback stays only while the preferred
  # version still cannot be fetched.
  [ -n "$have" ] && [ "$have" = "$(preferred_version "$major")" ] && return 0
  fetch_source "$major"
  [ "$have" = "$source_version" ] && return 0
  if [ -n "$have" ]; then say "Postgres $have in $prefix is not the pinned $source_version: rebuilding"; fi
  local build=$BOOKING_TOOLS/src/build-$major
  say "building Postgres $source_version into $prefix (a few minutes)"
  rm -rf "$build" && mkdir -p "$build"
  tar -xjf "$source_tarball" -C "$build" --strip-components=1
  rm -rf "$prefix"
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
  ) || die "building Postgres $source_version failed (see the output above)"
  rm -rf "$build"
  printf '%s sha256 %s\n' "$(basename "$source_tarball")" "$source_sha256" >"$prefix/booking_ext-source.txt"
  chmod -R a+rX "$prefix"
  say "built Postgres $source_version in $(elapsed $((SECONDS - started)))"
}

# --- Debian packages, by name ------------------------------------------------------------------------
packages=(build-essential bison flex libreadline-dev zlib1g-dev libicu-dev pkg-config bzip2 curl
          ca-certificates clang libclang-dev sudo postgresql-15 postgresql-server-dev-15
          postgresql-client-15 postgresql-common
          postgresql-15-plpgsql-check)   # static analysis of the PL/pgSQL (tests/platform/plpgsql_check.rs)
missing_packages() {
  local p
  for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || echo "$p"
  done
}

want_pgrx_config() {
  grep -q "pg15 = \"$PG15_CONFIG\"" "$PGRX_HOME/config.toml" 2>/dev/null &&
  grep -q "pg17 = \"$BOOKING_TOOLS/pg17/bin/pg_config\"" "$PGRX_HOME/config.toml" &&
  grep -q "pg18 = \"$BOOKING_TOOLS/pg18/bin/pg_config\"" "$PGRX_HOME/config.toml"
}
have_cargo_pgrx() { cargo pgrx --version 2>/dev/null | grep -q " $PGRX_VERSION\$"; }

# The one line naming what the tests run on (also printed by the test summary).
toolchain_versions() {
  local line m
  line="Postgres $("$PG15_CONFIG" --version 2>/dev/null | awk '{print $2}') (Debian package)"
  for m in "${SOURCE_MAJORS[@]}"; do
    line+=", $(installed_version "$m") (source sha256 $(awk '{print $3}' "$BOOKING_TOOLS/pg$m/booking_ext-source.txt" 2>/dev/null | cut -c1-12)…)"
  done
  echo "$line; cargo-pgrx $PGRX_VERSION"
}

# --- --check: report, change nothing ----------------------------------------------------------------
check() {
  local todo=() m v sha file have missing mirror
  check_pin_table
  mirror=$(debian_mirror)
  echo "pin table: $PINS"
  echo "Debian mirror for sources: ${mirror:-none found in the apt sources}"
  mapfile -t missing < <(missing_packages)
  if [ ${#missing[@]} -eq 0 ]; then echo "Debian packages: all ${#packages[@]} installed"
  else echo "Debian packages missing: ${missing[*]}"; todo+=("apt-get install ${missing[*]}"); fi
  if [ -x "$PG15_CONFIG" ]; then echo "Postgres 15: $("$PG15_CONFIG" --version) (Debian package postgresql-15)"; fi
  for m in "${SOURCE_MAJORS[@]}"; do
    echo "Postgres $m, pinned (preferred first):"
    while read -r v sha; do
      file=$BOOKING_TOOLS/src/$(source_file "$m" "$v")
      if [ -f "$file" ]; then
        if [ "$(sha256_of "$file")" = "$sha" ]; then state="cached, checksum matches"
        else state="cached, CHECKSUM MISMATCH (a run would stop)"; todo+=("stop: $file does not match its pin"); fi
      else state="not downloaded"; fi
      echo "  $v  sha256 $sha  ($state)"
    done < <(pinned_candidates "$m")
    have=$(installed_version "$m")
    v=$(preferred_version "$m")
    if [ -z "$have" ]; then
      echo "  installed: none in $BOOKING_TOOLS/pg$m"
      todo+=("fetch $(source_url "$m" "$v" "${mirror:-MIRROR}") (or a fallback), verify, build Postgres $v")
    elif [ "$have" = "$v" ]; then echo "  installed: $have in $BOOKING_TOOLS/pg$m (the preferred pin)"
    elif is_pinned "$m" "$have"; then
      echo "  installed: $have in $BOOKING_TOOLS/pg$m (a pinned fallback)"
      todo+=("try the preferred Postgres $v again; rebuild if it can be fetched")
    else
      echo "  installed: $have in $BOOKING_TOOLS/pg$m (NOT pinned)"
      todo+=("rebuild Postgres $m from its pinned source ($v preferred)")
    fi
  done
  if have_cargo_pgrx; then echo "cargo-pgrx: $PGRX_VERSION"
  else echo "cargo-pgrx: $(cargo pgrx --version 2>/dev/null || echo none)"; todo+=("cargo install cargo-pgrx --version $PGRX_VERSION --locked"); fi
  if want_pgrx_config; then echo "pgrx init: $PGRX_HOME/config.toml names Postgres 15, 17 and 18"
  else echo "pgrx init: not done for this toolchain"; todo+=("cargo pgrx init --pg15 --pg17 --pg18"); fi
  if command -v node >/dev/null && command -v npm >/dev/null; then echo "Node.js $(node --version), npm $(npm --version)"
  else echo "Node.js/npm: missing"; todo+=("apt-get install nodejs npm"); fi
  echo "npm packages of tests/e2e: installed by the tests with npm ci from tests/e2e/package-lock.json"
  if [ -f "$OLD_DEB_SRC_LIST" ]; then echo "old deb-src list: $OLD_DEB_SRC_LIST"; todo+=("remove $OLD_DEB_SRC_LIST"); fi
  if [ ${#todo[@]} -eq 0 ]; then echo "a run would do: nothing"
  else echo "a run would do:"; printf '  - %s\n' "${todo[@]}"; fi
}

case "${1:-}" in
  --check) check; exit 0 ;;
  --versions) toolchain_versions; exit 0 ;;
  --fetch-sources)
    shift
    check_pin_table
    for m in "$@"; do
      fetch_source "$m"
      echo "Postgres $m: $source_version $source_sha256 $source_tarball"
    done
    exit 0 ;;
  "") ;;
  *) die "usage: scripts/bootstrap.sh [--check | --versions | --fetch-sources MAJOR...]" ;;
esac

started=$SECONDS
check_pin_table
[ "$(id -u)" = 0 ] || die "run as root (it installs Debian packages and writes $BOOKING_TOOLS)"
command -v cargo >/dev/null || die "cargo is missing: install a Rust toolchain (rustup) first"
command -v apt-get >/dev/null || die "apt-get is missing: this script targets Debian"

apt_updated=
apt_update() { [ -n "$apt_updated" ] || { apt-get update -qq || die "apt-get update failed: are the Debian package mirrors reachable?"; apt_updated=1; }; }

if [ -f "$OLD_DEB_SRC_LIST" ]; then
  say "removing $OLD_DEB_SRC_LIST (sources are fetched by pinned version now)"
  rm -f "$OLD_DEB_SRC_LIST"
fi

# --- 1. Debian packages -------------------------------------------------------------------------
mapfile -t missing < <(missing_packages)
if [ ${#missing[@]} -gt 0 ]; then
  say "installing Debian packages: ${missing[*]}"
  # No default cluster: the tests and the demo start their own throwaway servers.
  mkdir -p /etc/postgresql-common
  if [ ! -f /etc/postgresql-common/createcluster.conf ] || ! grep -q '^create_main_cluster = false' /etc/postgresql-common/createcluster.conf; then
    echo 'create_main_cluster = false' >> /etc/postgresql-common/createcluster.conf
  fi
  step=$SECONDS
  apt_update
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" \
    || die "could not install: ${missing[*]}"
  say "installed the Debian packages in $(elapsed $((SECONDS - step)))"
fi
# Node.js runs the end-to-end tests (supabase-js); the machine image brings Node 20, and Debian's
# package is the fallback where there is none.
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  say "installing Node.js and npm"
  apt_update
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends nodejs npm || die "could not install nodejs and npm"
fi
[ -x "$PG15_CONFIG" ] || die "Postgres 15 pg_config not found at $PG15_CONFIG"
id postgres >/dev/null 2>&1 || die "the postgres OS user is missing (package postgresql-common creates it)"

# --- 2. Postgres 17 and 18 from their pinned sources ----------------------------------------------
mkdir -p "$BOOKING_TOOLS"
for m in "${SOURCE_MAJORS[@]}"; do build_pg "$m"; done
chmod a+rx "$BOOKING_TOOLS"

# --- 3. cargo-pgrx ---------------------------------------------------------------------------------
if ! have_cargo_pgrx; then
  step=$SECONDS
  say "installing cargo-pgrx $PGRX_VERSION (about 5 minutes on 2 cores)"
  cargo install cargo-pgrx --version "$PGRX_VERSION" --locked --quiet \
    || die "cargo install cargo-pgrx $PGRX_VERSION failed: is the crate registry reachable?"
  say "installed cargo-pgrx in $(elapsed $((SECONDS - step)))"
fi

# --- 4. cargo pgrx init for all three majors in one call (init is not additive) --------------------
if ! want_pgrx_config; then
  say "cargo pgrx init (PGRX_HOME=$PGRX_HOME)"
  mkdir -p "$PGRX_HOME"
  cargo pgrx init --pg15 "$PG15_CONFIG" \
                  --pg17 "$BOOKING_TOOLS/pg17/bin/pg_config" \
                  --pg18 "$BOOKING_TOOLS/pg18/bin/pg_config" >/dev/null \
    || die "cargo pgrx init failed"
fi
chmod -R a+rX "$PGRX_HOME"
say "toolchain ready in $(elapsed $((SECONDS - started))): $(toolchain_versions)"
