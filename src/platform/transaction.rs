//! What the current transaction has written: lets the row locks of `bookings.sql` remember
//! that they are held without any state a caller could preset (a setting, a temporary table).

use pgrx::prelude::*;

/// True when `xmin` (a row version's creator) is this transaction or one of its
/// subtransactions that has not rolled back: the row version was written by us, so we hold
/// the row's lock until the transaction ends.
#[pg_extern(volatile, parallel_restricted, schema = "booking_internal")]
fn written_by_this_transaction(xmin: pg_sys::TransactionId) -> bool {
    crate::postgres::is_current_transaction(xmin)
}
