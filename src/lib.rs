//! booking_ext: a Postgres extension that turns a database into the backend of a booking platform.
//!
//! The SQL files in `sql/` hold the schema, integrity triggers and row-level security; this crate
//! binds the pure core (`booking_core`, in `crates/booking_core`) to SQL. Each binding module is thin: it
//! converts SQL values, calls the core, and reports errors with a stable SQLSTATE.

use pgrx::prelude::*;

mod aggregates;
mod availability;
mod caller;
mod errors;
mod holding_bookings;
mod status;
mod time_zone;
mod transaction;

::pgrx::pg_module_magic!(name, version);

/// Schema `booking_internal` (created by sql/schema.sql, which says what belongs there), named
/// to pgrx so that functions can declare `schema = "booking_internal"`. pgrx's own `CREATE
/// SCHEMA IF NOT EXISTS` for it then finds the schema made by the script.
#[pg_schema]
mod booking_internal {}

/// Loads with the library: the core's long loops check for interrupts through Postgres, so a
/// cancel request or `statement_timeout` stops them.
#[pg_guard]
pub extern "C-unwind" fn _PG_init() {
    booking_core::interrupts::set_check(check_for_interrupts);
}

/// Postgres's CHECK_FOR_INTERRUPTS: raises the pending cancel or timeout as an ERROR, which
/// unwinds out of the core's loop.
fn check_for_interrupts() {
    pgrx::check_for_interrupts!();
}

// Dependency-free fallback: this crate must unwind so that a Rust panic becomes a Postgres ERROR.
#[cfg(not(panic = "unwind"))]
compile_error!("booking_ext must be compiled with panic = \"unwind\"");

// Tables, indexes and the identity helpers their defaults use: first in the script.
extension_sql_file!("../sql/schema.sql", name = "booking_schema", bootstrap);
// Triggers: after the Rust functions they call.
extension_sql_file!(
    "../sql/integrity.sql",
    name = "integrity",
    requires = [
        "booking_schema",
        status::transition_allowed,
        status::status_transitions,
        status::booking_statuses,
        time_zone::is_valid_time_zone,
        transaction::written_by_this_transaction,
        caller::is_privileged,
        caller::is_bulk_load
    ]
);
// Membership helpers, row-level security and grants.
extension_sql_file!(
    "../sql/security.sql",
    name = "security",
    requires = ["integrity"]
);
// SQL functions presenting the native ones (business hours, durations).
extension_sql_file!(
    "../sql/functions.sql",
    name = "functions",
    requires = [
        "security",
        availability::open_periods,
        availability::booking_refusal
    ]
);
// The notification and audit RPCs (seed 004's names), outbox delivery, conflict detection.
extension_sql_file!(
    "../sql/communication.sql",
    name = "communication",
    requires = ["functions"]
);
extension_sql_file!(
    "../sql/outbox.sql",
    name = "outbox",
    requires = ["communication"]
);
extension_sql_file!(
    "../sql/conflicts.sql",
    name = "conflicts",
    requires = ["outbox"]
);
// The reporting aggregates' support functions documented and closed, and the daily usage view.
extension_sql_file!(
    "../sql/aggregates.sql",
    name = "aggregate_views",
    requires = [
        "functions",
        "peak_seats",
        "busy_union",
        "busy_minutes",
        "utilization",
        "rating_summary"
    ]
);
// Catalog documentation, privileges and settings of every table and function: last.
extension_sql_file!("../sql/finalize.sql", name = "finalize", finalize);

#[cfg(any(test, feature = "pg_test"))]
mod tests;

/// Required by `cargo pgrx test`.
#[cfg(test)]
pub mod pg_test {
    pub fn setup(_options: Vec<&str>) {}

    #[must_use]
    pub fn postgresql_conf_options() -> Vec<&'static str> {
        // Tests must not depend on the machine's zone; time-zone tests name their zones.
        vec!["timezone = 'UTC'"]
    }
}
