//! Prepaid credits (seed 003): accounts per organization and person, an append-only ledger,
//! lots spent soonest-expiring first, bookings paid with credit and refunded once per the
//! organization's policy (SQL in `credits.sql`).

use pgrx::prelude::*;

extension_sql_file!("credits.sql", name = "credits", requires = ["events"]);

#[cfg(any(test, feature = "pg_test"))]
#[pgrx::pg_schema]
mod tests {
    use pgrx::prelude::*;

    #[pg_test]
    fn credits_purchase_debit_refund_expire_and_refuse() {
        crate::testing::run_suite(include_str!("../../tests/sql/credits/credits.sql"));
    }
}
