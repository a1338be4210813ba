//! Workshops and classes (seed 000): workshops, their sessions (each holding one booking of a
//! room) and registrations with a waiting line promoted in the same transaction as the write
//! that freed a seat (SQL in `workshops.sql`).

use pgrx::prelude::*;

extension_sql_file!(
    "workshops.sql",
    name = "workshops",
    requires = ["bookings", "notifications", "outbox", "reporting"]
);

#[cfg(any(test, feature = "pg_test"))]
#[pgrx::pg_schema]
mod tests {
    use pgrx::prelude::*;

    #[pg_test]
    fn workshops_register_wait_promote_check_in_and_refuse() {
        crate::testing::run_suite(include_str!("../../tests/sql/workshops/workshops.sql"));
    }
}
