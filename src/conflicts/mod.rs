//! Problems in existing data: `booking.conflicts`, `detect_conflicts` and `resolve_conflict`
//! (SQL in `conflicts.sql`).

use pgrx::prelude::*;

extension_sql_file!(
    "conflicts.sql",
    name = "conflicts",
    requires = ["availability"]
);

#[cfg(any(test, feature = "pg_test"))]
#[pgrx::pg_schema]
mod tests {
    use pgrx::prelude::*;

    #[pg_test]
    fn conflicts_are_detected_once_and_resolved_by_staff() {
        crate::testing::run_suite(include_str!("../../tests/sql/conflicts/conflicts.sql"));
    }
}
