//! All of booking_ext's raw Postgres plumbing, behind safe functions: the calls into Postgres's
//! C API (who the caller is, the transaction's own row versions, time-zone lookup), the SPI plan
//! cache, set-returning results in materialize mode, the direct index read of holding bookings,
//! datum conversions (instants, ranges, multiranges) and the aggregates' `internal` states.
//!
//! This is the only place with `unsafe`; each block says why it is sound. The feature modules
//! (`src/<module>/`) use these wrappers and stay safe code.

pub mod aggregate_state;
pub mod errors;
pub mod holding_bookings;
pub mod ranges;
pub mod results;
pub mod spi;

use booking_core::time::POSTGRES_EPOCH_MICROS;
use pgrx::prelude::*;
use std::ffi::CString;

/// Does the role the caller acts as (its SET ROLE, else its login role; never the owner of a
/// SECURITY DEFINER function the call passes through) bypass row-level security? Superusers do.
pub fn caller_bypasses_rls() -> bool {
    // SAFETY: GetOuterUserId reads this backend's current-user state, set for any SQL call;
    // has_bypassrls_privilege looks the role up in the syscache (superusers included).
    unsafe { pg_sys::has_bypassrls_privilege(pg_sys::GetOuterUserId()) }
}

/// Is `row_security` off in a session logged in as a role that bypasses row-level security
/// (what pg_dump and pg_restore do)?
pub fn row_security_off_for_bypassing_session() -> bool {
    // SAFETY: row_security is the GUC's C variable, read on this backend's thread;
    // GetSessionUserId reads the session state; has_bypassrls_privilege as above.
    unsafe { !pg_sys::row_security && pg_sys::has_bypassrls_privilege(pg_sys::GetSessionUserId()) }
}

/// Was a row version with this `xmin` written by the current transaction or one of its
/// subtransactions that has not rolled back?
pub fn is_current_transaction(xmin: pg_sys::TransactionId) -> bool {
    // SAFETY: reads this backend's transaction state, which exists for the whole of any SQL
    // function call; the xid is compared, never dereferenced.
    unsafe { pg_sys::TransactionIdIsCurrentTransactionId(xmin) }
}

/// Can Postgres load this time zone (what `AT TIME ZONE` and the TimeZone setting use)?
pub fn postgres_knows_time_zone(name: &str) -> bool {
    let Ok(c_name) = CString::new(name) else {
        return false;
    };
    // SAFETY: pg_tzset looks a NUL-terminated name up in Postgres's zone cache or loads it;
    // NULL when unknown. The pointer is only compared.
    !unsafe { pg_sys::pg_tzset(c_name.as_ptr()) }.is_null()
}

/// A finite timestamptz as microseconds since the Unix epoch (the availability engine's
/// instants); 22023 naming `what` for infinity.
pub fn unix_micros(t: TimestampWithTimeZone, what: &str) -> i64 {
    if !t.is_finite() {
        errors::invalid_parameter(format!("{what} must be a finite time"));
    }
    t.into_inner() + POSTGRES_EPOCH_MICROS
}

/// Microseconds since the Unix epoch as a timestamptz.
pub fn timestamptz_from_unix(micros: i64) -> TimestampWithTimeZone {
    TimestampWithTimeZone::try_from(micros - POSTGRES_EPOCH_MICROS).expect("a timestamp in range")
}

/// For tests: marks a cancel request pending, as Postgres's SIGINT handler does, so that the
/// next interrupt check raises it.
#[cfg(any(test, feature = "pg_test"))]
pub fn simulate_cancel_request() {
    // SAFETY: sets the two flags Postgres's SIGINT handler sets for a cancel request; this
    // backend reads them at its next interrupt check.
    unsafe {
        pg_sys::QueryCancelPending = 1;
        pg_sys::InterruptPending = 1;
    }
}
