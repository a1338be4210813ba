//! Intake (seed 002): requests from outside — AppSheet, Google Forms, an app's users, staff —
//! submitted idempotently and processed by staff; approving a booking request books it through
//! the rule book (SQL in `intake.sql`).

use pgrx::prelude::*;

extension_sql_file!("intake.sql", name = "intake", requires = ["analytics"]);

#[cfg(any(test, feature = "pg_test"))]
#[pgrx::pg_schema]
mod tests {
    use pgrx::prelude::*;

    #[pg_test]
    fn intake_requests_replays_and_approval() {
        crate::testing::run_suite(include_str!("../../tests/sql/intake/intake.sql"));
    }

    #[pg_test]
    fn intake_seed_settings_and_columns() {
        crate::testing::run_suite(include_str!("../../tests/sql/intake/seed_columns.sql"));
    }
}
