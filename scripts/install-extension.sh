#!/usr/bin/env bash
# Installs booking_ext into one Postgres with every released version's install script, so that
# `CREATE EXTENSION booking_ext VERSION '<old>'` and `ALTER EXTENSION booking_ext UPDATE` work.
#
#   scripts/install-extension.sh [--release] PG_CONFIG
#       `cargo pgrx install` (a debug build unless --release) into the Postgres of PG_CONFIG, then
#       the frozen install scripts sql/booking_ext--<v>.sql into its share/extension directory.
#   scripts/install-extension.sh --package [--debug] [--out-dir DIR] PG_CONFIG
#       `cargo pgrx package` (a release build unless --debug) into DIR (pgrx's default:
#       target/release/booking_ext-pgNN), then the same frozen scripts into the package's
#       share/extension directory.
#
# Why: cargo pgrx writes the install script of the current version (booking_ext--<Cargo
# version>.sql, generated) and copies the upgrade scripts sql/booking_ext--A--B.sql, but not the
# frozen install scripts of earlier releases. The current version's generated script is never
# replaced by a frozen one. The Postgres major version (feature pgNN) is read from PG_CONFIG.
# See docs/upgrades.md.
set -euo pipefail
cd "$(dirname "$0")/.."

mode=install
profile=
out_dir=
while [ $# -gt 0 ]; do
  case "$1" in
    --package) mode=package ;;
    --release) profile=--release ;;
    --debug) profile=--debug ;;
    --out-dir) out_dir=${2:?--out-dir needs a directory}; shift ;;
    -h|--help) sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) echo "unknown option: $1 (see --help)" >&2; exit 2 ;;
    *) break ;;
  esac
  shift
done
[ $# = 1 ] || { echo "usage: $0 [--release] PG_CONFIG | --package [--debug] [--out-dir DIR] PG_CONFIG" >&2; exit 2; }
cfg=$1
if [ "$mode" = install ] && [ "$profile" = --debug ]; then profile=; fi
if [ "$mode" = package ] && [ "$profile" = --release ]; then profile=; fi

major=$("$cfg" --version | sed -n 's/^PostgreSQL \([0-9][0-9]*\).*/\1/p')
[ -n "$major" ] || { echo "cannot read the major version from $cfg --version" >&2; exit 1; }
sharedir=$("$cfg" --sharedir)
current=$(awk -F'"' '/^\[/ { section = $0 } section == "[package]" && /^version *=/ { print $2; exit }' Cargo.toml)

if [ "$mode" = install ]; then
  cargo pgrx install $profile --no-default-features --features "pg$major" --pg-config "$cfg"
  extdir=$sharedir/extension
else
  if [ -z "$out_dir" ]; then
    out_dir=target/$([ "$profile" = --debug ] && echo debug || echo release)/booking_ext-pg$major
  fi
  cargo pgrx package $profile --no-default-features --features "pg$major" --pg-config "$cfg" --out-dir "$out_dir"
  extdir=$out_dir/${sharedir#/}/extension
fi

[ -d "$extdir" ] || { echo "no extension directory at $extdir after cargo pgrx $mode" >&2; exit 1; }
copied=0
for script in sql/booking_ext--*.sql; do
  name=${script#sql/booking_ext--}
  version=${name%.sql}
  case "$version" in *--*) continue ;; esac    # an upgrade script: cargo pgrx copied it
  if [ "$version" = "$current" ]; then
    echo "  keeping the generated install script of the current version $current ($script is its frozen copy)"
    continue
  fi
  install -m 644 "$script" "$extdir/"
  copied=$((copied + 1))
  echo "     Copying released install script $script to $extdir/"
done
echo "    Finished booking_ext $current for Postgres $major with $copied released install script(s)"
