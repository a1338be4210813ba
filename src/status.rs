//! SQL bindings of the booking status machine (`booking_core::status`).

use booking_core::status::{may_transition, Actor, Status, TRANSITIONS};
use pgrx::prelude::*;

use crate::errors::invalid_parameter;

fn parse(name: &str) -> Status {
    name.parse()
        .unwrap_or_else(|e| invalid_parameter(format!("{e}; known statuses: {}", known())))
}

fn known() -> String {
    Status::ALL.map(Status::as_str).join(", ")
}

/// May a booking go from `from_status` to `to_status`? `by_staff` false asks whether the person
/// who booked may do it themselves. Unknown status names raise 22023.
#[pg_extern(immutable, strict, parallel_safe)]
pub fn transition_allowed(from_status: &str, to_status: &str, by_staff: bool) -> bool {
    let actor = if by_staff {
        Actor::Staff
    } else {
        Actor::Booker
    };
    may_transition(parse(from_status), parse(to_status), actor)
}

/// Every legal status change and whether the booker may make it (otherwise staff only).
#[pg_extern(immutable, parallel_safe)]
pub fn status_transitions() -> TableIterator<
    'static,
    (
        name!(from_status, String),
        name!(to_status, String),
        name!(booker_may, bool),
    ),
> {
    TableIterator::new(TRANSITIONS.iter().map(|t| {
        (
            t.from.as_str().to_owned(),
            t.to.as_str().to_owned(),
            t.by == Actor::Booker,
        )
    }))
}

/// The booking statuses, in lifecycle order; `pending` and `approved` hold time.
#[pg_extern(immutable, parallel_safe)]
pub fn booking_statuses() -> Vec<String> {
    Status::ALL.iter().map(|s| s.as_str().to_owned()).collect()
}
