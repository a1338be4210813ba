//! Instants and intervals, shared by every part of the core: an instant is an `i64` count of
//! microseconds, UTC, and an interval is half-open, `[start, end)`.
//!
//! The availability engine counts from the Unix epoch (chrono's). The reporting aggregates only
//! compare and subtract instants, so their SQL bindings pass Postgres's own values (counted from
//! 2000-01-01) unchanged; [`POSTGRES_EPOCH_MICROS`] converts between the two.

/// Microseconds in a minute and in a (24-hour) day.
pub const MICROS_PER_MINUTE: i64 = 60_000_000;
pub const MICROS_PER_DAY: i64 = 86_400_000_000;

/// Postgres's epoch (2000-01-01 00:00 UTC) in microseconds after the Unix epoch.
pub const POSTGRES_EPOCH_MICROS: i64 = 946_684_800_000_000;

/// The instants `[start, end)`. Either end may be `i64::MIN` / `i64::MAX` where an interval
/// stands for a range unbounded on that side (the reporting aggregates).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Interval {
    pub start: i64,
    pub end: i64,
}

impl Interval {
    pub fn new(start: i64, end: i64) -> Interval {
        Interval { start, end }
    }

    pub fn overlaps(&self, other: &Interval) -> bool {
        self.start < other.end && other.start < self.end
    }

    pub fn is_bounded(self) -> bool {
        self.start != i64::MIN && self.end != i64::MAX
    }

    /// Its length in microseconds; `None` when it is unbounded.
    pub fn micros(self) -> Option<i64> {
        self.is_bounded().then(|| self.end - self.start)
    }

    /// The instants in both; `None` when there are none.
    pub fn intersect(self, other: Interval) -> Option<Interval> {
        let (start, end) = (self.start.max(other.start), self.end.min(other.end));
        (start < end).then_some(Interval { start, end })
    }
}
