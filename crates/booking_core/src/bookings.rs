//! The booking status machine (seed 001's booking states plus `no_show`).
//!
//! One table, [`TRANSITIONS`], is the single source of truth: the database trigger asks
//! [`transition`] whether a change is legal and who may make it, and the transition table of
//! `docs/bookings.md` is this table.

use std::fmt;
use std::str::FromStr;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Status {
    Draft,
    Pending,
    ChangesRequested,
    Approved,
    Rejected,
    Cancelled,
    Completed,
    NoShow,
}

/// Who may make a transition: the person who booked, or the organization's staff (owners,
/// admins and staff; also trusted back-office roles such as `service_role`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Actor {
    Booker,
    Staff,
}

impl Status {
    pub const ALL: [Status; 8] = [
        Status::Draft,
        Status::Pending,
        Status::ChangesRequested,
        Status::Approved,
        Status::Rejected,
        Status::Cancelled,
        Status::Completed,
        Status::NoShow,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Status::Draft => "draft",
            Status::Pending => "pending",
            Status::ChangesRequested => "changes_requested",
            Status::Approved => "approved",
            Status::Rejected => "rejected",
            Status::Cancelled => "cancelled",
            Status::Completed => "completed",
            Status::NoShow => "no_show",
        }
    }

    /// Pending and approved bookings hold their time: they count against capacity and the
    /// no-overlap rule. Every other status leaves the time free.
    pub fn holds_time(self) -> bool {
        matches!(self, Status::Pending | Status::Approved)
    }

    /// No transition leaves a terminal status.
    pub fn is_terminal(self) -> bool {
        !TRANSITIONS.iter().any(|t| t.from == self)
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownStatus(pub String);

impl fmt::Display for UnknownStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "unknown booking status \"{}\"", self.0)
    }
}

impl FromStr for Status {
    type Err = UnknownStatus;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Status::ALL
            .into_iter()
            .find(|st| st.as_str() == s)
            .ok_or_else(|| UnknownStatus(s.to_owned()))
    }
}

/// One legal status change and the least privileged actor allowed to make it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Transition {
    pub from: Status,
    pub to: Status,
    /// `Booker` means the person who booked may do it (and so may staff); `Staff` means staff only.
    pub by: Actor,
}

const fn t(from: Status, to: Status, by: Actor) -> Transition {
    Transition { from, to, by }
}

use Actor::{Booker, Staff};
use Status::*;

/// Every legal transition. Anything not listed is refused, for everyone.
pub const TRANSITIONS: &[Transition] = &[
    t(Draft, Pending, Booker),            // submit
    t(Draft, Cancelled, Booker),          // abandon a draft
    t(Pending, Approved, Staff),          // approve
    t(Pending, Rejected, Staff),          // reject
    t(Pending, ChangesRequested, Staff),  // ask the booker for changes
    t(Pending, Cancelled, Booker),        // withdraw a request
    t(ChangesRequested, Pending, Booker), // resubmit
    t(ChangesRequested, Cancelled, Booker),
    t(Approved, Completed, Staff),
    t(Approved, NoShow, Staff),
    t(Approved, Cancelled, Booker),
];

/// The legal transition from `from` to `to`, if there is one.
pub fn transition(from: Status, to: Status) -> Option<Transition> {
    TRANSITIONS
        .iter()
        .copied()
        .find(|t| t.from == from && t.to == to)
}

/// May `actor` move a booking from `from` to `to`?
pub fn may_transition(from: Status, to: Status, actor: Actor) -> bool {
    match transition(from, to) {
        Some(t) => actor == Actor::Staff || t.by == Actor::Booker,
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for st in Status::ALL {
            assert_eq!(st.as_str().parse::<Status>(), Ok(st));
        }
        assert_eq!(
            "confirmed".parse::<Status>(),
            Err(UnknownStatus("confirmed".into()))
        );
        assert!(
            "Approved".parse::<Status>().is_err(),
            "names are case-sensitive"
        );
    }

    #[test]
    fn only_pending_and_approved_hold_time() {
        let holding: Vec<_> = Status::ALL.into_iter().filter(|s| s.holds_time()).collect();
        assert_eq!(holding, vec![Pending, Approved]);
    }

    #[test]
    fn terminal_statuses_have_no_way_out() {
        let terminal: Vec<_> = Status::ALL
            .into_iter()
            .filter(|s| s.is_terminal())
            .collect();
        assert_eq!(terminal, vec![Rejected, Cancelled, Completed, NoShow]);
        for from in terminal {
            for to in Status::ALL {
                assert!(!may_transition(from, to, Staff), "{from} -> {to}");
            }
        }
    }

    #[test]
    fn no_self_transitions_and_no_duplicates() {
        for (i, a) in TRANSITIONS.iter().enumerate() {
            assert_ne!(a.from, a.to);
            for b in &TRANSITIONS[i + 1..] {
                assert!(!(a.from == b.from && a.to == b.to), "{a:?} listed twice");
            }
        }
    }

    #[test]
    fn bookers_can_submit_and_cancel_but_not_approve() {
        assert!(may_transition(Draft, Pending, Booker));
        assert!(may_transition(Approved, Cancelled, Booker));
        assert!(may_transition(ChangesRequested, Pending, Booker));
        assert!(!may_transition(Pending, Approved, Booker));
        assert!(!may_transition(Approved, Completed, Booker));
        assert!(!may_transition(Pending, Rejected, Booker));
        assert!(may_transition(Pending, Approved, Staff));
        assert!(may_transition(Approved, Cancelled, Staff));
    }

    #[test]
    fn every_status_is_reachable_from_draft() {
        let mut seen = vec![Draft];
        let mut i = 0;
        while i < seen.len() {
            let from = seen[i];
            for t in TRANSITIONS.iter().filter(|t| t.from == from) {
                if !seen.contains(&t.to) {
                    seen.push(t.to);
                }
            }
            i += 1;
        }
        for st in Status::ALL {
            assert!(seen.contains(&st), "{st} unreachable");
        }
    }
}

#[cfg(test)]
mod docs {
    use super::*;

    /// The transition table of docs/bookings.md is this module's table, row for row.
    #[test]
    fn documented_transition_table_matches() {
        let page = include_str!("../../../docs/bookings.md");
        let rows: Vec<(Status, Status, Actor)> = page
            .lines()
            .filter_map(|line| {
                let cells: Vec<&str> = line
                    .trim()
                    .trim_matches('|')
                    .split('|')
                    .map(str::trim)
                    .collect();
                let [from, to, who] = cells.as_slice() else {
                    return None;
                };
                let from = from.trim_matches('`').parse().ok()?;
                let to = to.trim_matches('`').parse().ok()?;
                let who = match *who {
                    "booker" => Actor::Booker,
                    "staff" => Actor::Staff,
                    _ => return None,
                };
                Some((from, to, who))
            })
            .collect();
        let code: Vec<_> = TRANSITIONS.iter().map(|t| (t.from, t.to, t.by)).collect();
        assert_eq!(
            rows, code,
            "docs/bookings.md's status transition table is out of date"
        );
    }
}
