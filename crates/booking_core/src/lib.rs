//! booking_ext's pure core: the rules and algorithms, on plain values, with no Postgres in it.
//! The pgrx crate around it only converts SQL values and calls in here, so everything in this
//! crate is tested with a plain `cargo test -p booking_core`. No `unsafe` here: all of that is
//! the extension's (Postgres plumbing), where each block says why it is sound.

#![forbid(unsafe_code)]

// One module per extension module with rules of its own (src/<module>/ in the extension), plus
// the instants and intervals they share and the interrupt hook.
pub mod availability;
pub mod bookings;
// External calendars: iCalendar files read into event deliveries, bookings written as feeds.
pub mod calendars;
pub mod interrupts;
pub mod reporting;
// Recurring series: a pattern's dates from the `rrule` crate, its instants by the slot engine's
// local-to-UTC rule, so a series and the slots agree on every DST change.
pub mod series;
pub mod time;

// The bindings convert with the same time-zone database the engine uses.
pub use chrono;
pub use chrono_tz;
