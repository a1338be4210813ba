//! Integration events: `booking.outbox`, written in the same transaction as each booking
//! change, and delivered at least once through `claim_outbox`, `ack_outbox` and `fail_outbox`
//! (SQL in `outbox.sql`).

use pgrx::prelude::*;

extension_sql_file!("outbox.sql", name = "outbox", requires = ["bookings"]);

#[cfg(any(test, feature = "pg_test"))]
#[pgrx::pg_schema]
mod tests {
    use pgrx::prelude::*;

    #[pg_test]
    fn outbox_claims_lease_acknowledge_and_back_off() {
        crate::testing::run_suite(include_str!("../../tests/sql/outbox/outbox.sql"));
    }
}
