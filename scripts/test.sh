#!/usr/bin/env bash
# Every test: the bootstrap's source pins, the linters and the pure core, then on Postgres 15, 17 and 18 the
# #[pg_test] suites (constraints, lifecycle, RLS matrix, catalog), then the integration tests against throwaway servers
# (concurrency, pg_dump/restore, install/drop, upgrade from every release), then the end-to-end tests through
# PostgREST and supabase-js (scripts/e2e.sh). Before Postgres: the released scripts are unchanged
# (tests/released_scripts.sh). BOOKING_PG_VERSIONS="17" narrows the matrix.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
. scripts/env.sh

versions=${BOOKING_PG_VERSIONS:-15 17 18}
started=$SECONDS

echo "== bootstrap: pinned Postgres sources (no network)"
bash tests/bootstrap_pins.sh

bash tests/released_scripts.sh

echo "== lint: rustfmt, clippy (warnings are errors)"
bash scripts/lint.sh

echo "== pure core (no Postgres)"
cargo test --locked -p booking_core

for v in $versions; do
  cfg=$(pg_config_for "$v")
  echo "== Postgres $v: #[pg_test] suites"
  pgdata=/var/tmp/booking_ext-pgrx-test
  install -d -o postgres "$pgdata"
  CARGO_PGRX_TEST_RUNAS=postgres CARGO_PGRX_TEST_PGDATA=$pgdata \
    cargo test --locked -p booking_ext --lib --no-default-features --features "pg$v pg_test"

  echo "== Postgres $v: integration tests (booking_ext and its released install scripts installed into $(dirname "$(dirname "$cfg")"))"
  bash scripts/install-extension.sh "$cfg" >/dev/null
  BOOKING_PG_CONFIG=$cfg cargo test --locked -p booking_ext --no-default-features --features "pg$v" --test '*'

  echo "== Postgres $v: end to end (PostgREST 12 and supabase-js)"
  bash scripts/e2e.sh "$v"
done
echo "== all tests passed on Postgres ${versions// /, } in $((SECONDS - started)) s"
echo "== toolchain: $(bash scripts/bootstrap.sh --versions)"
