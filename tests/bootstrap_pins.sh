#!/usr/bin/env bash
# The Postgres source pins of scripts/bootstrap.sh, without the network: copies of the pin table,
# the tarballs the bootstrap keeps in $BOOKING_TOOLS/src, and a local HTTP server standing in for
# the Debian mirror. Checks that a changed checksum is a hard error naming the file, the expected
# and the found checksum (for a kept tarball and for a download), that a missing preferred version
# falls back to the next pinned one and says so, that no fallback is taken after a mismatch, that
# a major with nothing downloadable fails listing every URL and its HTTP answer, and that a
# malformed pin table is refused.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/env.sh
work=$(mktemp -d)
server_pid=
cleanup() { [ -z "$server_pid" ] || kill "$server_pid" 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
checks=0
fail() { printf 'FAIL: %s\n' "$*" >&2; [ ! -f "$work/out" ] || sed 's/^/  | /' "$work/out" >&2; exit 1; }
pass() { checks=$((checks + 1)); }

# fetch TOOLS PINS MIRROR MAJOR: runs the bootstrap's fetch step; output in $work/out, status in $rc.
fetch() {
  rc=0
  BOOKING_TOOLS=$1 BOOKING_PG_PINS=$2 BOOKING_DEBIAN_MIRROR=$3 \
    bash scripts/bootstrap.sh --fetch-sources "$4" >"$work/out" 2>&1 || rc=$?
}
expect_fail_with() { # TEXT...: the last fetch failed and printed every TEXT
  [ "$rc" != 0 ] || fail "expected a failure"
  local t
  for t in "$@"; do grep -qF -- "$t" "$work/out" || fail "the message does not say: $t"; done
  pass
}
flip_first_hex() { if [ "${1:0:1}" = 0 ]; then echo "1${1:1}"; else echo "0${1:1}"; fi; }
dead_mirror=http://127.0.0.1:9   # nothing listens there: any download attempt fails

# --- 1. The real pin table and the tarballs the bootstrap kept ------------------------------------
pins=$work/pins.txt
cp scripts/postgres-sources.txt "$pins"
mkdir -p "$work/kept/src"
found_kept=0
while read -r major version sha; do
  file=postgresql-${major}_$version.orig.tar.bz2
  [ -f "$BOOKING_TOOLS/src/$file" ] || continue
  found_kept=1
  ln -sf "$BOOKING_TOOLS/src/$file" "$work/kept/src/$file"
  # Only this candidate in the table, so the kept tarball is the one verified, without a download.
  grep -vE "^$major " "$pins" >"$work/one.txt"
  echo "$major $version $sha" >>"$work/one.txt"
  fetch "$work/kept" "$work/one.txt" "$dead_mirror" "$major"
  [ "$rc" = 0 ] || fail "the kept $file does not verify against its pin"
  grep -qF "Postgres $major: $version $sha" "$work/out" || fail "fetch did not report $version"
  pass
  # One checksum changed in the copy: a hard error before anything is unpacked.
  bad=$(flip_first_hex "$sha")
  sed -i -E "s/^$major $version $sha\$/$major $version $bad/" "$work/one.txt"
  fetch "$work/kept" "$work/one.txt" "$dead_mirror" "$major"
  expect_fail_with "checksum mismatch for $work/kept/src/$file" "expected SHA-256 $bad" "found    SHA-256 $sha"
  [ ! -e "$work/kept/src/build-$major" ] || fail "something was unpacked after a mismatch"
  pass
done < <(grep -vE '^[[:space:]]*(#|$)' "$pins")
[ "$found_kept" = 1 ] || fail "no pinned tarball in $BOOKING_TOOLS/src: run scripts/bootstrap.sh first"

# --- 2. A local mirror: fallbacks and downloads ----------------------------------------------------
mirror_dir=$work/mirror/pool/main/p/postgresql-17
mkdir -p "$mirror_dir"
printf 'not a real tarball, 17.2\n' >"$mirror_dir/postgresql-17_17.2.orig.tar.bz2"
printf 'not a real tarball, 17.1\n' >"$mirror_dir/postgresql-17_17.1.orig.tar.bz2"
sha_172=$(sha256sum "$mirror_dir/postgresql-17_17.2.orig.tar.bz2" | awk '{print $1}')
sha_171=$(sha256sum "$mirror_dir/postgresql-17_17.1.orig.tar.bz2" | awk '{print $1}')
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
python3 -m http.server --bind 127.0.0.1 --directory "$work/mirror" "$port" >"$work/http.log" 2>&1 &
server_pid=$!
mirror=http://127.0.0.1:$port
for _ in $(seq 50); do curl -s -o /dev/null "$mirror/" && break; sleep 0.1; done
table() { # lines for major 17, then a valid line for 18 (every table must name both majors)
  printf '%s\n' "$@" >"$work/table.txt"
  echo "18 18.6 $(printf '%064d' 0)" >>"$work/table.txt"
}
url() { echo "$mirror/pool/main/p/postgresql-17/postgresql-17_$1.orig.tar.bz2"; }

# The preferred 17.3 is missing (404): the next candidate is taken, said so, verified and kept.
table "17 17.3 $(printf '%064d' 3)" "17 17.2 $sha_172" "17 17.1 $sha_171"
fetch "$work/tools" "$work/table.txt" "$mirror" 17
[ "$rc" = 0 ] || fail "the fallback to 17.2 was not taken"
grep -qF "took Postgres 17.2, a pinned fallback: the preferred 17.3 could not be downloaded" "$work/out" \
  || fail "the fallback was not announced"
[ -f "$work/tools/src/postgresql-17_17.2.orig.tar.bz2" ] || fail "the downloaded tarball was not kept"
pass
# A later run tries the preferred version again, then reuses the kept 17.2 without downloading
# it, even with the mirror gone.
fetch "$work/tools" "$work/table.txt" "$dead_mirror" 17
[ "$rc" = 0 ] && ! grep -q "downloading .*17\.2" "$work/out" || fail "the kept tarball was not reused"
pass

# A download whose checksum differs from its pin: a hard error, and no fallback to 17.1.
table "17 17.2 $(flip_first_hex "$sha_172")" "17 17.1 $sha_171"
fetch "$work/fresh" "$work/table.txt" "$mirror" 17
expect_fail_with "checksum mismatch for $work/fresh/src/postgresql-17_17.2.orig.tar.bz2.part" \
  "expected SHA-256 $(flip_first_hex "$sha_172")" "found    SHA-256 $sha_172"
[ ! -e "$work/fresh/src/postgresql-17_17.2.orig.tar.bz2" ] || fail "a mismatching download was kept"
[ ! -e "$work/fresh/src/postgresql-17_17.1.orig.tar.bz2" ] || fail "a fallback was taken after a mismatch"
pass

# Nothing downloadable: one message with every URL tried and its answer.
table "17 17.5 $(printf '%064d' 5)" "17 17.4 $(printf '%064d' 4)"
fetch "$work/none" "$work/table.txt" "$mirror" 17
expect_fail_with "no pinned source of Postgres 17 could be downloaded; tried:" \
  "$(url 17.5) -> HTTP 404" "$(url 17.4) -> HTTP 404"
# An unreachable mirror is reported too, with curl's reason.
fetch "$work/none" "$work/table.txt" "$dead_mirror" 17
expect_fail_with "$dead_mirror/pool/main/p/postgresql-17/postgresql-17_17.5.orig.tar.bz2 -> HTTP 000 (curl exit 7"

# --- 3. A malformed pin table is refused before anything is fetched ---------------------------------
table "17 17.2 ${sha_172:0:63}"
fetch "$work/tools" "$work/table.txt" "$mirror" 17
expect_fail_with "malformed pin table" "17 17.2 ${sha_172:0:63}"
table "17 18.2 $sha_172"
fetch "$work/tools" "$work/table.txt" "$mirror" 17
expect_fail_with "malformed pin table"
printf '18 18.6 %064d\n' 0 >"$work/table.txt"
fetch "$work/tools" "$work/table.txt" "$mirror" 17
expect_fail_with "names no version of Postgres 17"

echo "bootstrap source pins: $checks checks passed"
