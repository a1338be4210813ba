//! Bookings the rule book has already judged as a whole (a series booked in one statement):
//! the backend-local record of them that the bookings triggers trust instead of judging each
//! row again.
//!
//! `book_series` judges every occurrence at once under the resource's lock (the rule book's
//! terms once, the availability engine over the whole series, the occurrences against each
//! other), then writes them with one INSERT. Before that INSERT it records here exactly which
//! rows it judged: their ids (fresh, never shown to anyone before the INSERT succeeds), the
//! resource, seats, status and each one's times. The BEFORE triggers that judge a booking (the
//! guard, the capacity trigger, the series guard, the approval fields) do not fire for a row
//! that matches a record in every one of those fields (their WHEN clauses ask
//! `is_judged_booking`).
//!
//! Only SQL running as the extension's owner can write the record (EXECUTE on the writer is
//! nobody else's), and nothing a caller can set (a GUC, row_security) reaches it. It lasts for
//! the row triggers of that one INSERT: the INSERT's first statement trigger
//! (`bookings_0_judged_done`) forgets it before any other statement trigger can write to the
//! table, and so does the end of the transaction, whichever comes first (a callback at commit
//! and at abort), so a record never outlives its INSERT into another statement, let alone into
//! another caller's transaction on a pooled connection.

use std::cell::RefCell;
use std::collections::HashMap;

use pgrx::prelude::*;
use pgrx::{register_xact_callback, PgXactCallbackEvent};

use crate::postgres::errors::invalid_parameter;

struct Judged {
    resource_id: pgrx::Uuid,
    seats: i32,
    status: String,
    /// Each judged booking's id and its (start, end), in Postgres's microseconds.
    times: HashMap<[u8; 16], (i64, i64)>,
}

thread_local! {
    static JUDGED: RefCell<Option<Judged>> = const { RefCell::new(None) };
}

fn forget() {
    JUDGED.with(|j| j.borrow_mut().take());
}

/// Records the bookings about to be inserted as judged (see the module's documentation).
/// Replaces any earlier record. Owner only.
#[pg_extern(volatile, parallel_unsafe, schema = "booking_internal")]
#[search_path(pg_catalog, pg_temp)]
pub fn remember_judged_bookings(
    p_resource_id: pgrx::Uuid,
    p_seats: i32,
    p_status: &str,
    p_ids: Vec<pgrx::Uuid>,
    p_starts: Vec<TimestampWithTimeZone>,
    p_ends: Vec<TimestampWithTimeZone>,
) {
    if p_ids.len() != p_starts.len() || p_ids.len() != p_ends.len() {
        invalid_parameter("p_ids, p_starts and p_ends must be as long as each other");
    }
    let times = p_ids
        .iter()
        .zip(p_starts.iter().zip(&p_ends))
        .map(|(id, (s, e))| (*id.as_bytes(), (s.into_inner(), e.into_inner())))
        .collect();
    JUDGED.with(|j| {
        *j.borrow_mut() = Some(Judged {
            resource_id: p_resource_id,
            seats: p_seats,
            status: p_status.to_owned(),
            times,
        })
    });
    // Whatever happens after this, the record ends with the transaction.
    register_xact_callback(PgXactCallbackEvent::Commit, forget);
    register_xact_callback(PgXactCallbackEvent::Abort, forget);
}

/// Forgets the judged bookings. Owner only.
#[pg_extern(volatile, parallel_unsafe, schema = "booking_internal")]
pub fn forget_judged_bookings() {
    forget();
}

/// Is anything recorded as judged? (The WHEN clause of `bookings_0_judged_done`.)
#[pg_extern(volatile, parallel_unsafe, schema = "booking_internal")]
pub fn has_judged_bookings() -> bool {
    JUDGED.with(|j| j.borrow().is_some())
}

/// Is this row one of the judged bookings, in every field that was judged?
/// (No pinned search_path: it resolves no names, and the bookings triggers ask it for every
/// row, where a SET clause would cost more than the answer.)
#[pg_extern(volatile, parallel_unsafe, schema = "booking_internal")]
pub fn is_judged_booking(
    p_id: Option<pgrx::Uuid>,
    p_resource_id: Option<pgrx::Uuid>,
    p_seats: Option<i32>,
    p_status: Option<&str>,
    p_starts_at: Option<TimestampWithTimeZone>,
    p_ends_at: Option<TimestampWithTimeZone>,
) -> bool {
    let (Some(id), Some(resource_id), Some(seats), Some(status), Some(starts), Some(ends)) = (
        p_id,
        p_resource_id,
        p_seats,
        p_status,
        p_starts_at,
        p_ends_at,
    ) else {
        return false;
    };
    JUDGED.with(|j| {
        j.borrow().as_ref().is_some_and(|judged| {
            judged.resource_id == resource_id
                && judged.seats == seats
                && judged.status == status
                && judged.times.get(id.as_bytes())
                    == Some(&(starts.into_inner(), ends.into_inner()))
        })
    })
}
