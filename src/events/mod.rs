//! Event execution (seed 001): an approved booking becomes an event with its team, staff
//! assignments (check-in and check-out), activities, kits and issues; four state machines
//! enforced by the tables' triggers and logged (SQL in `events.sql`).

use pgrx::prelude::*;

extension_sql_file!("events.sql", name = "events", requires = ["series"]);

#[cfg(any(test, feature = "pg_test"))]
#[pgrx::pg_schema]
mod tests {
    use pgrx::prelude::*;

    #[pg_test]
    fn events_generate_assign_check_in_kits_and_issues() {
        crate::testing::run_suite(include_str!("../../tests/sql/events/events.sql"));
    }
}
