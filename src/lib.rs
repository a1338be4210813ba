//! booking_ext: a Postgres extension that turns a database into the backend of a booking platform.
//!
//! One folder per module under `src/`, each holding the module's SQL (`<module>.sql`: tables,
//! constraints, triggers, policies, grants and catalog comments) and its Rust (`mod.rs`: the
//! `extension_sql_file!` declaration, whose `requires` list is the module's place in the
//! dependency graph, the native functions, the `#[pg_test]`s running `tests/sql/<module>/`).
//! The pure rules live in `crates/booking_core`, by the same module names; every call into
//! Postgres's C API lives in `postgres/`, the one place with `unsafe`.
//!
//! The modules, in install order: platform, tenancy, audit, resources, services, people, bookings,
//! availability, notifications, outbox, conflicts, reporting, workshops, series, events, credits,
//! engagement, calendars, templates, analytics, intake, digests; then platform's finalize.

// `unsafe` only in `postgres/`, and every block there says why it is sound (`// SAFETY:`).
#![deny(unsafe_code)]
#![deny(clippy::undocumented_unsafe_blocks)]

use pgrx::prelude::*;

mod analytics;
mod audit;
mod availability;
mod bookings;
mod calendars;
mod conflicts;
mod credits;
mod digests;
mod engagement;
mod events;
mod intake;
mod notifications;
mod outbox;
mod people;
mod platform;
#[allow(unsafe_code)] // the one module with unsafe (see the crate attributes above)
mod postgres;
mod reporting;
mod resources;
mod series;
mod services;
mod templates;
mod tenancy;
#[cfg(any(test, feature = "pg_test"))]
mod testing;
mod workshops;

::pgrx::pg_module_magic!(name, version);

/// Schema `booking_internal` (created by platform.sql, which says what belongs there), named
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
