#!/usr/bin/env bash
# Released files are never edited (docs/upgrades.md). sql/released.sha256 (sha256sum format,
# paths from the repository root; written by scripts/freeze-release.sh) lists each frozen install
# script sql/booking_ext--<version>.sql, each released upgrade script and the frozen fixtures of
# each release. Fails when:
#   - a listed file changed or is missing;
#   - a frozen install script, or an upgrade script into a released version, is not listed;
#   - a released script holds @CARGO_VERSION@ or @GIT_HASH@ (cargo pgrx substitutes them when it
#     copies upgrade scripts, so the installed text would change with the version);
#   - the control file's default_version is not '@CARGO_VERSION@' (the current version);
#   - the current version is not released and no upgrade script leads to it from the newest
#     release (sql/booking_ext--<newest release>--<current>.sql).
# Then proves that these checks fail on copies of the files with each fault planted.
set -euo pipefail
cd "$(dirname "$0")/.."

# check ROOT: prints every problem found in the release files under ROOT; fails if any.
check() (
  cd "$1"
  ledger=sql/released.sha256
  problems=0
  problem() { echo "  - $*"; problems=$((problems + 1)); }
  listed() { awk -v f="$1" '$2 == f { found = 1 } END { exit !found }' "$ledger"; }
  current=$(awk -F'"' '/^\[/ { section = $0 } section == "[package]" && /^version *=/ { print $2; exit }' Cargo.toml)

  if [ ! -s "$ledger" ]; then
    problem "$ledger is missing or empty"
  elif ! out=$(sha256sum --check --strict --quiet "$ledger" 2>&1); then
    while IFS= read -r line; do
      case "$line" in "sha256sum: WARNING:"*) ;; *) problem "changed or missing: $line" ;; esac
    done <<<"$out"
  fi
  released=()
  for f in sql/booking_ext--*.sql; do
    [ -e "$f" ] || continue
    v=${f#sql/booking_ext--}
    v=${v%.sql}
    case "$v" in *--*) continue ;; esac
    released+=("$v")
    listed "$f" || problem "$f is a frozen install script but not recorded in $ledger (use scripts/freeze-release.sh)"
  done
  for v in "${released[@]}"; do
    for f in sql/booking_ext--*--"$v".sql; do
      [ -e "$f" ] || continue
      listed "$f" || problem "$f leads to the released $v but is not recorded in $ledger"
    done
  done
  if [ -s "$ledger" ]; then
    while read -r _ f; do
      [ -f "$f" ] || continue
      if grep -q '@CARGO_VERSION@\|@GIT_HASH@' "$f"; then
        problem "$f holds @CARGO_VERSION@ or @GIT_HASH@, which cargo pgrx rewrites when it installs a script"
      fi
    done <"$ledger"
  fi
  grep -qx "default_version = '@CARGO_VERSION@'" booking_ext.control ||
    problem "booking_ext.control: default_version must be '@CARGO_VERSION@' (the version in Cargo.toml)"
  if [ ${#released[@]} = 0 ]; then
    problem "no frozen install script sql/booking_ext--<version>.sql: nothing to upgrade from"
  elif ! printf '%s\n' "${released[@]}" | grep -qxF "$current"; then
    newest=$(printf '%s\n' "${released[@]}" "$current" | sort -V | grep -vxF "$current" | tail -1)
    [ -n "$newest" ] && [ -f "sql/booking_ext--$newest--$current.sql" ] ||
      problem "no upgrade script sql/booking_ext--$newest--$current.sql from the newest release $newest to the current version $current"
  fi
  [ "$problems" = 0 ]
)

echo "== released scripts: recorded hashes, no edits"
if ! check .; then
  echo "FAIL: released files are never edited; each version's changes go into the next upgrade script (docs/upgrades.md)" >&2
  exit 1
fi
echo "   $(wc -l <sql/released.sha256) released files unchanged"

# The checks themselves: on copies, with one fault planted each time.
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
copy() {
  rm -rf "$work/repo" && mkdir -p "$work/repo/tests/fixtures"
  cp -r sql Cargo.toml booking_ext.control "$work/repo/"
  [ ! -d tests/fixtures/released ] || cp -r tests/fixtures/released "$work/repo/tests/fixtures/"
}
expect_fault() { # WHAT TEXT: the check fails on the copy and says TEXT
  local out
  if out=$(check "$work/repo"); then
    echo "FAIL: the check missed $1" >&2
    exit 1
  fi
  grep -qF -- "$2" <<<"$out" || { echo "FAIL: the check of $1 does not say '$2':" >&2; echo "$out" >&2; exit 1; }
}
first=$(awk 'NR == 1 { print $2 }' sql/released.sha256)
copy; echo '-- an edit' >>"$work/repo/$first"; expect_fault "an edited released file" "$first: FAILED"
copy; rm "$work/repo/$first"; expect_fault "a missing released file" "$first"
copy; echo 'SELECT 1;' >"$work/repo/sql/booking_ext--0.0.0.sql"; expect_fault "an unrecorded frozen script" "booking_ext--0.0.0.sql is a frozen install script but not recorded"
copy; sed -i "s/^default_version = .*/default_version = '0.0.0'/" "$work/repo/booking_ext.control"; expect_fault "a pinned default_version" "default_version must be"
copy; sed -i 's/^version = ".*"/version = "99.0.0"/' "$work/repo/Cargo.toml"; expect_fault "a version without an upgrade script" "no upgrade script"
echo "   and the check fails on an edited, missing or unrecorded release file, a pinned default_version and a version without an upgrade script"
