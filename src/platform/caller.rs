//! Who the caller is, asked of Postgres itself: called by the triggers on every write, so they
//! are plain C-level checks (a few syscache lookups), not SQL functions.

use pgrx::prelude::*;

/// True when the role the caller acts as (its SET ROLE, else its login role; never the owner
/// of a SECURITY DEFINER function the call passes through) is a superuser or bypasses
/// row-level security, as service_role does: such callers act with staff rights everywhere.
#[pg_extern(stable, parallel_safe, schema = "booking_internal")]
fn is_privileged() -> bool {
    crate::postgres::caller_bypasses_rls()
}

/// True while a pg_dump restore loads rows: `row_security` off (pg_dump and pg_restore set
/// it) in a session logged in as a role that bypasses row-level security. Any role may turn
/// `row_security` off, so the setting alone proves nothing: an API session (logged in as
/// PostgREST's authenticator) never counts as a bulk load, whatever it sets.
#[pg_extern(stable, parallel_safe, schema = "booking_internal")]
fn is_bulk_load() -> bool {
    crate::postgres::row_security_off_for_bypassing_session()
}
