#!/usr/bin/env bash
# Cuts a release: freezes the install script of VERSION (the version in Cargo.toml) as
# sql/booking_ext--VERSION.sql, and records it in sql/released.sha256 together with the upgrade
# scripts into VERSION and a copy of the fixtures the upgrade test loads into VERSION
# (tests/fixtures/released/tenants-VERSION.sql). From then on none of these files is edited:
# tests/released_scripts.sh (run early by `make test`) fails when one changes.
#
#   scripts/freeze-release.sh VERSION [--next NEXT]
#       VERSION must be Cargo.toml's version and not frozen yet. The script is generated with
#       `cargo pgrx schema` on each Postgres of BOOKING_PG_VERSIONS (default 15 17 18), which must
#       all give the same statements (pgrx orders independent items differently from one run to
#       the next, so they are compared as sets of items); the first version's output is kept.
#       --next NEXT then starts the next version: Cargo.toml's version becomes NEXT (and
#       Cargo.lock with it) and sql/booking_ext--VERSION--NEXT.sql is created holding only its
#       header, ready to collect every schema change of NEXT.
#   scripts/freeze-release.sh VERSION --refreeze
#       Regenerates the frozen script of VERSION from the current code, for a change that moves
#       code around without changing behaviour, while VERSION has not been published yet. Allowed
#       only while the upgrade scripts from VERSION to the current version hold no statement (so
#       the current code must install what VERSION installs), and only after the upgrade test
#       passes on Postgres 15 with the script as it is (the script runs it first): the old and new
#       frozen scripts then both install what the current code installs. When the new script
#       holds the same items as the frozen one (only ordered differently), the file is kept.
#
# See docs/upgrades.md.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/env.sh

version=${1:?usage: $0 VERSION [--next NEXT | --refreeze]}
shift
next=
refreeze=false
while [ $# -gt 0 ]; do
  case "$1" in
    --next) next=${2:?--next needs a version}; shift ;;
    --refreeze) refreeze=true ;;
    *) echo "unknown argument: $1" >&2; exit 2 ;;
  esac
  shift
done
versions=${BOOKING_PG_VERSIONS:-15 17 18}
ledger=sql/released.sha256
frozen=sql/booking_ext--$version.sql
fixtures=tests/fixtures/released/tenants-$version.sql
current=$(awk -F'"' '/^\[/ { section = $0 } section == "[package]" && /^version *=/ { print $2; exit }' Cargo.toml)
touch "$ledger"
die() { echo "freeze-release: $*" >&2; exit 1; }
listed() { awk -v f="$1" '$2 == f { found = 1 } END { exit !found }' "$ledger"; }
# The statements of an SQL file without its comments and blank lines (enough for a header-only file).
statements_of() { sed -e 's/--.*$//' "$1" | tr -d '[:space:]'; }

case "$version" in *[!0-9A-Za-z.]*|'') die "not a version: $version" ;; esac
if $refreeze; then
  [ -z "$next" ] || die "--refreeze and --next do not go together"
  [ -f "$frozen" ] && listed "$frozen" || die "$frozen is not a frozen release: nothing to refreeze"
  [ "$version" != "$current" ] || die "refreeze $version after the version moved on, not at the release itself"
  # Every upgrade script on the way from VERSION to the current version must hold no statement.
  from=$version
  while [ "$from" != "$current" ]; do
    step=$(ls sql/booking_ext--"$from"--*.sql 2>/dev/null | head -1)
    [ -n "$step" ] || die "no upgrade script from $from: cannot check that $version equals the current code"
    [ -z "$(statements_of "$step")" ] || die "$step holds statements: the current code no longer installs what $version installs, so $version cannot be regenerated from it"
    from=${step#sql/booking_ext--"$from"--}
    from=${from%.sql}
  done
  echo "== the upgrade test with $frozen as it is (Postgres 15)"
  cfg=$(pg_config_for 15)
  bash scripts/install-extension.sh "$cfg" >/dev/null
  BOOKING_PG_CONFIG=$cfg cargo test --locked -p booking_ext --no-default-features --features pg15 --test upgrade
else
  [ "$version" = "$current" ] || die "Cargo.toml's version is $current: freeze a release at its own version (bump Cargo.toml first)"
  [ ! -e "$frozen" ] || die "$frozen exists already: a released script is never regenerated (see --refreeze)"
fi

work=build/freeze
rm -rf "$work" && mkdir -p "$work"
first=
for v in $versions; do
  cfg=$(pg_config_for "$v")
  echo "== cargo pgrx schema for Postgres $v"
  cargo pgrx schema --no-default-features --features "pg$v" --pg-config "$cfg" --out "$work/pg$v.sql" >/dev/null
  if [ -z "$first" ]; then first=$v; continue; fi
  # pgrx's item order is not stable: compare the items (the text between its
  # "<begin connected objects>" markers) as sorted lists.
  python3 - "$work/pg$first.sql" "$work/pg$v.sql" <<'EOF' || die "the generated script differs between Postgres $first and $v (above): a release must install the same on every supported version"
import difflib, sys
def items(path):
    return sorted(b.strip() for b in open(path).read().split('/* <begin connected objects> */'))
a, b = items(sys.argv[1]), items(sys.argv[2])
if a != b:
    sys.stdout.writelines(difflib.unified_diff('\n\n'.join(a).splitlines(True), '\n\n'.join(b).splitlines(True), sys.argv[1], sys.argv[2]))
    sys.exit(1)
EOF
  echo "   the same items as on Postgres $first"
done
if grep -q '@CARGO_VERSION@\|@GIT_HASH@' "$work/pg$first.sql"; then
  die "the generated script holds @CARGO_VERSION@ or @GIT_HASH@, which would not be substituted in a frozen copy"
fi

if $refreeze && python3 - "$frozen" "$work/pg$first.sql" <<'EOF'
import sys
def items(path):
    return sorted(b.strip() for b in open(path).read().split('/* <begin connected objects> */')[1:])
sys.exit(0 if items(sys.argv[1]) == items(sys.argv[2]) else 1)
EOF
then
  echo "== $frozen already holds these items (pgrx only ordered them differently): kept as it is"
  exit 0
fi
{
  echo "-- booking_ext $version: the install script of this release, frozen by scripts/freeze-release.sh"
  echo "-- from \`cargo pgrx schema\` (Postgres $first build). Never edit it: changes go into the next"
  echo "-- upgrade script sql/booking_ext--A--B.sql. See docs/upgrades.md."
  echo
  cat "$work/pg$first.sql"
} >"$frozen"
if ! $refreeze; then
  mkdir -p "$(dirname "$fixtures")"
  {
    echo "-- The fixtures as of booking_ext $version, frozen by scripts/freeze-release.sh: tests/upgrade.rs"
    echo "-- loads them into a $version install before upgrading it. Never edit."
    cat tests/fixtures/tenants.sql
  } >"$fixtures"
fi

# The ledger: the frozen script, the frozen fixtures and every upgrade script into VERSION.
record=("$frozen")
$refreeze || record+=("$fixtures")
for step in sql/booking_ext--*--"$version".sql; do
  [ -e "$step" ] && record+=("$step")
done
if [ "$(ls sql/booking_ext--*.sql | grep -vc -- '--.*--')" -gt 1 ] && [ ${#record[@]} -lt 3 ] && ! $refreeze; then
  die "no upgrade script into $version from an earlier release (sql/booking_ext--<previous>--$version.sql)"
fi
for f in "${record[@]}"; do
  awk -v f="$f" '$2 != f' "$ledger" >"$ledger.tmp" && mv "$ledger.tmp" "$ledger"
  sha256sum "$f" >>"$ledger"
done
sort -k2 -o "$ledger" "$ledger"
echo "== recorded in $ledger:"
printf '   %s\n' "${record[@]}"

if [ -n "$next" ]; then
  case "$next" in *[!0-9A-Za-z.]*|'') die "not a version: $next" ;; esac
  step=sql/booking_ext--$version--$next.sql
  [ ! -e "$step" ] || die "$step exists already"
  cat >"$step" <<EOT
-- booking_ext $version -> $next, run by ALTER EXTENSION booking_ext UPDATE.
--
-- Collects every schema change of $next, as it is made: a change to the extension's SQL or to a
-- Rust function's signature goes into the generated install script of $next (through the code)
-- AND here, written so that it runs on a database installed at $version holding data. The
-- upgrade test (tests/upgrade.rs) installs $version, upgrades it with this script and fails
-- unless the result equals a fresh install of $next. Frozen (never edited again) when $next is
-- released. See docs/upgrades.md.
EOT
  awk -v v="$next" '/^\[/ { section = $0 } section == "[package]" && /^version *=/ && !done { print "version = \"" v "\""; done = 1; next } { print }' Cargo.toml >Cargo.toml.tmp
  mv Cargo.toml.tmp Cargo.toml
  cargo metadata --offline --format-version 1 >/dev/null   # Cargo.lock follows the new version
  echo "== the next version is $next: Cargo.toml bumped, $step started"
fi
echo "== next: make test (the upgrade test installs every release and upgrades it), then commit"
