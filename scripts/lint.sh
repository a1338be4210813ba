#!/usr/bin/env bash
# `make lint`, and the first step of `make test`: the unreleased upgrade script's module copies
# equal their sources (scripts/sync-upgrade-script.py), rustfmt's formatting, and clippy with warnings
# as errors on the pure core and on the extension for each Postgres major version tested (an
# `allow` in the code carries a comment saying why). BOOKING_PG_VERSIONS narrows the versions.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/env.sh
python3 scripts/sync-upgrade-script.py --check
cargo fmt --all -- --check
cargo clippy --locked -p booking_core --all-targets -- -D warnings
for v in ${BOOKING_PG_VERSIONS:-15 17 18}; do
  cargo clippy --locked -p booking_ext --no-default-features --features "pg$v pg_test" --all-targets -- -D warnings
done
