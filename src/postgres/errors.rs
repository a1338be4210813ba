//! Raising Postgres errors with a stable SQLSTATE.

use pgrx::pg_sys::panic::ErrorReport;
use pgrx::prelude::*;

/// Raise `invalid_parameter_value` (22023): the SQLSTATE of every bad argument.
pub fn invalid_parameter(message: impl Into<String>) -> ! {
    ErrorReport::new(
        PgSqlErrorCode::ERRCODE_INVALID_PARAMETER_VALUE,
        message.into(),
        "booking_ext",
    )
    .report(PgLogLevel::ERROR);
    unreachable!("an ERROR report does not return")
}

/// Raise `insufficient_privilege` (42501): the caller may not do this.
pub fn insufficient_privilege(message: impl Into<String>) -> ! {
    ErrorReport::new(
        PgSqlErrorCode::ERRCODE_INSUFFICIENT_PRIVILEGE,
        message.into(),
        "booking_ext",
    )
    .report(PgLogLevel::ERROR);
    unreachable!("an ERROR report does not return")
}
