//! The audit trail: `booking.audit_log` (append-only), the triggers that record every change
//! of a registered table, and `booking.log_action` (SQL in `audit.sql`). It comes right after
//! tenancy (whose policies it uses); tables registered earlier get their triggers when it
//! installs.

use pgrx::prelude::*;

extension_sql_file!("audit.sql", name = "audit", requires = ["tenancy"]);

#[cfg(any(test, feature = "pg_test"))]
#[pgrx::pg_schema]
mod tests {
    use pgrx::prelude::*;

    #[pg_test]
    fn log_action_and_the_automatic_audit_of_every_business_table() {
        crate::testing::run_suite(include_str!("../../tests/sql/audit/audit.sql"));
    }
}
