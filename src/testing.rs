//! What the modules' `#[pg_test]`s share: each SQL suite (`tests/sql/<module>/`) runs on a fresh
//! copy of the fixtures in its own transaction, which the harness rolls back.

use pgrx::prelude::*;

const HELPERS: &str = include_str!("../tests/sql/helpers.sql");
const FIXTURES: &str = include_str!("../tests/fixtures/tenants.sql");

pub fn run_suite(suite: &str) {
    for script in [HELPERS, FIXTURES, suite] {
        Spi::run(script).expect("SQL suite failed");
    }
}
