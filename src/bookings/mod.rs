//! The bookings module: bookings, their line items, notes and status history, the status
//! machine, the rule book and `book()` / `set_booking_status()` (SQL in `bookings.sql`), and the
//! SQL bindings of the status machine (`booking_core::bookings`).

use booking_core::bookings::{may_transition, Actor, Status, TRANSITIONS};
use pgrx::prelude::*;

use crate::postgres::errors::invalid_parameter;

mod judged;

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

// The tables, triggers, policies and RPCs of bookings. The rule book asks the availability
// engine (booking_refusal) at run time only, so it needs nothing of availability to install.
extension_sql_file!(
    "bookings.sql",
    name = "bookings",
    requires = [
        "people",
        bookings::transition_allowed,
        bookings::status_transitions,
        bookings::booking_statuses,
        bookings::judged::remember_judged_bookings,
        bookings::judged::forget_judged_bookings,
        bookings::judged::is_judged_booking,
        bookings::judged::has_judged_bookings
    ]
);

#[cfg(any(test, feature = "pg_test"))]
#[pg_schema]
mod tests {
    use pgrx::prelude::*;

    #[pg_test]
    fn transition_allowed_follows_the_status_machine() {
        let q = |sql: &str| Spi::get_one::<bool>(sql).unwrap().unwrap();
        assert!(q(
            "SELECT booking.transition_allowed('pending', 'approved', true)"
        ));
        assert!(!q(
            "SELECT booking.transition_allowed('pending', 'approved', false)"
        ));
        assert!(q(
            "SELECT booking.transition_allowed('approved', 'cancelled', false)"
        ));
        assert!(!q(
            "SELECT booking.transition_allowed('completed', 'pending', true)"
        ));
        assert_eq!(
            Spi::get_one::<i64>("SELECT count(*) FROM booking.status_transitions()").unwrap(),
            Some(booking_core::bookings::TRANSITIONS.len() as i64)
        );
        assert_eq!(
            Spi::get_one::<bool>("SELECT booking.transition_allowed(NULL, 'approved', true)")
                .unwrap(),
            None,
            "strict: NULL in, NULL out"
        );
    }

    #[pg_test(
        error = "unknown booking status \"confirmed\"; known statuses: draft, pending, changes_requested, approved, rejected, cancelled, completed, no_show"
    )]
    fn transition_allowed_names_unknown_statuses() {
        Spi::run("SELECT booking.transition_allowed('pending', 'confirmed', true)").unwrap();
    }

    #[pg_test]
    fn constraints_refuse_bad_data_with_their_sqlstate() {
        crate::testing::run_suite(include_str!("../../tests/sql/bookings/constraints.sql"));
    }

    #[pg_test]
    fn bookers_staff_and_outsiders_get_what_they_should() {
        crate::testing::run_suite(include_str!("../../tests/sql/bookings/lifecycle.sql"));
    }

    #[pg_test]
    fn set_booking_status_moves_refuses_and_notifies() {
        crate::testing::run_suite(include_str!("../../tests/sql/bookings/status_rpc.sql"));
    }

    #[pg_test]
    fn hardening_every_write_path_refuses_what_the_rules_refuse() {
        crate::testing::run_suite(include_str!("../../tests/sql/bookings/hardening.sql"));
    }
}
