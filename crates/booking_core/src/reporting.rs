//! Aggregates for free/busy and reporting: the most seats held at one instant, the union of busy
//! time and its length, utilisation of opening hours, and a summary of 1-5 ratings.
//!
//! Each aggregate is a state machine that the SQL aggregate drives: `add` (the transition),
//! `merge` (the combine step of a parallel plan), `to_bytes` / `from_bytes` (how parallel
//! workers hand their states over), a result (the final step) and, where a window frame slides,
//! `remove` (the inverse transition).
//!
//! Instants are `i64` microseconds, UTC. Only their order and differences matter here, so the
//! SQL bindings pass Postgres's own values (microseconds since 2000-01-01) unchanged: no
//! conversion, and none that could overflow near the end of Postgres's range. An unbounded
//! side of a range is [`UNBOUNDED_BELOW`] / [`UNBOUNDED_ABOVE`]; those two values are also
//! Postgres's `-infinity` and `infinity`, which are therefore refused as bound values.

use std::collections::BTreeMap;

pub use crate::time::{Interval, MICROS_PER_MINUTE};

/// The start of a range unbounded below.
pub const UNBOUNDED_BELOW: i64 = i64::MIN;
/// The end of a range unbounded above.
pub const UNBOUNDED_ABOVE: i64 = i64::MAX;

/// A bound of a range as SQL writes it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Bound {
    Unbounded,
    Inclusive(i64),
    Exclusive(i64),
}

/// The instants of a range given by its bounds, as `[start, end)`. Timestamps have microsecond
/// resolution, so an exclusive lower bound `(t` holds the same instants as `[t + 1 µs` and an
/// inclusive upper bound `t]` the same as `t + 1 µs)`. `None` when the range holds no instant (an
/// empty range, or one like `(t, t + 1 µs)`). An unbounded side is [`UNBOUNDED_BELOW`] /
/// [`UNBOUNDED_ABOVE`].
pub fn interval_from_bounds(
    lower: Bound,
    upper: Bound,
) -> Result<Option<Interval>, AggregateError> {
    let finite = |v: i64| {
        if v == UNBOUNDED_BELOW || v == UNBOUNDED_ABOVE {
            Err(AggregateError::InfiniteBound)
        } else {
            Ok(v)
        }
    };
    let start = match lower {
        Bound::Unbounded => UNBOUNDED_BELOW,
        Bound::Inclusive(v) => finite(v)?,
        Bound::Exclusive(v) => finite(v)? + 1,
    };
    let end = match upper {
        Bound::Unbounded => UNBOUNDED_ABOVE,
        Bound::Inclusive(v) => finite(v)? + 1,
        Bound::Exclusive(v) => finite(v)?,
    };
    Ok((start < end).then_some(Interval { start, end }))
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AggregateError {
    InfiniteBound,
    NegativeSeats(i32),
    UnboundedBusyTime,
    NonPositiveCapacity(i32),
    UnboundedOpenTime,
    ParametersDiffer,
    RatingOutOfRange(i32),
    BadState,
}

impl std::fmt::Display for AggregateError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AggregateError::InfiniteBound => f.write_str(
                "a range bound of -infinity or infinity is not supported; use an unbounded range",
            ),
            AggregateError::NegativeSeats(s) => write!(f, "seats must not be negative (got {s})"),
            AggregateError::UnboundedBusyTime => {
                f.write_str("the busy time is unbounded: its length is infinite")
            }
            AggregateError::NonPositiveCapacity(c) => {
                write!(f, "capacity must be positive (got {c})")
            }
            AggregateError::UnboundedOpenTime => f.write_str("open_time must be bounded"),
            AggregateError::ParametersDiffer => f.write_str(
                "capacity and open_time must be the same in every row aggregated together",
            ),
            AggregateError::RatingOutOfRange(r) => {
                write!(f, "a rating must be between 1 and 5 (got {r})")
            }
            AggregateError::BadState => f.write_str("invalid serialized aggregate state"),
        }
    }
}

fn check_seats(seats: i32) -> Result<i64, AggregateError> {
    if seats < 0 {
        return Err(AggregateError::NegativeSeats(seats));
    }
    Ok(seats as i64)
}

// ---------------------------------------------------------------------------------------------
// Serialisation: little-endian fixed-width fields, read back with a cursor.
// ---------------------------------------------------------------------------------------------

struct Reader<'a>(&'a [u8]);

impl Reader<'_> {
    fn bytes<const N: usize>(&mut self) -> Result<[u8; N], AggregateError> {
        let (head, rest) = self
            .0
            .split_first_chunk::<N>()
            .ok_or(AggregateError::BadState)?;
        self.0 = rest;
        Ok(*head)
    }
    fn i64(&mut self) -> Result<i64, AggregateError> {
        Ok(i64::from_le_bytes(self.bytes()?))
    }
    fn u64(&mut self) -> Result<u64, AggregateError> {
        Ok(u64::from_le_bytes(self.bytes()?))
    }
    fn span(&mut self) -> Result<Interval, AggregateError> {
        let (start, end) = (self.i64()?, self.i64()?);
        if start >= end {
            return Err(AggregateError::BadState);
        }
        Ok(Interval { start, end })
    }
    fn end(self) -> Result<(), AggregateError> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(AggregateError::BadState)
        }
    }
}

fn put_span(out: &mut Vec<u8>, s: Interval) {
    out.extend_from_slice(&s.start.to_le_bytes());
    out.extend_from_slice(&s.end.to_le_bytes());
}

// ---------------------------------------------------------------------------------------------
// Peak seats
// ---------------------------------------------------------------------------------------------

/// The most seats held at one instant: every row's seat changes (`+seats` at its start,
/// `-seats` at its end), swept in time order at the end. Ranges are half-open, so a booking
/// ending when another starts never adds to it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PeakSeats {
    changes: Vec<(i64, i64)>,
    /// States were merged in: `changes` holds runs that are already sorted (parallel workers
    /// sort theirs before handing them over), which a stable sort merges in linear time.
    has_sorted_runs: bool,
}

impl PeakSeats {
    /// One row: `seats` held during `during` (`None`: an empty range, which holds nothing).
    pub fn add(&mut self, during: Option<Interval>, seats: i32) -> Result<(), AggregateError> {
        let seats = check_seats(seats)?;
        if let (Some(span), true) = (during, seats > 0) {
            self.changes.push((span.start, seats));
            self.changes.push((span.end, -seats));
        }
        Ok(())
    }

    pub fn merge(&mut self, mut other: PeakSeats) {
        self.changes.append(&mut other.changes);
        self.has_sorted_runs = true;
    }

    /// Sorts the changes in place, which leaves the state meaning the same: the final step may
    /// run again, and rows may still be added. At one instant, releases (negative) come before
    /// takes: half-open ranges.
    fn sort(&mut self) {
        if self.has_sorted_runs {
            self.changes.sort();
        } else {
            // Only the sign of a change matters within an instant (all releases, then all
            // takes: the running sum peaks after the takes whatever their order), so the key
            // is the instant and a bit: a radix sort, linear.
            radsort::sort_by_key(&mut self.changes, |&(at, change)| (at, change > 0));
        }
    }

    /// The peak (0 when nothing is held).
    pub fn peak(&mut self) -> i64 {
        self.sort();
        let (mut held, mut peak) = (0i64, 0i64);
        for &(_, change) in &self.changes {
            held += change;
            peak = peak.max(held);
        }
        peak
    }

    /// The changes sorted, one net change per instant: sorting where the rows were aggregated
    /// (in each parallel worker) leaves the final step a merge; only the net change at an
    /// instant matters to the peak.
    pub fn to_bytes(&mut self) -> Vec<u8> {
        self.sort();
        let mut out = Vec::with_capacity(self.changes.len() * 16);
        for same_instant in self.changes.chunk_by(|a, b| a.0 == b.0) {
            let net: i64 = same_instant.iter().map(|&(_, change)| change).sum();
            if net != 0 {
                out.extend_from_slice(&same_instant[0].0.to_le_bytes());
                out.extend_from_slice(&net.to_le_bytes());
            }
        }
        out
    }

    pub fn from_bytes(bytes: &[u8]) -> Result<PeakSeats, AggregateError> {
        if !bytes.len().is_multiple_of(16) {
            return Err(AggregateError::BadState);
        }
        let mut r = Reader(bytes);
        let changes = (0..bytes.len() / 16)
            .map(|_| Ok((r.i64()?, r.i64()?)))
            .collect::<Result<_, _>>()?;
        Ok(PeakSeats {
            changes,
            has_sorted_runs: false,
        })
    }
}

// ---------------------------------------------------------------------------------------------
// Busy time: the union of ranges, and its length
// ---------------------------------------------------------------------------------------------

/// The union of the rows' ranges. Ranges are collected and, whenever they have doubled since the
/// last time, sorted and merged, so memory follows the size of the union rather than the number
/// of rows. Like `range_agg`, the union of no range at all is `None` (SQL NULL), while the union
/// of empty ranges only is empty.
#[derive(Clone, Debug, Default)]
pub struct BusyTime {
    spans: Vec<Interval>,
    /// `spans[..merged]` is sorted, disjoint and not touching.
    merged: usize,
    /// Non-NULL ranges seen, empty ones included.
    inputs: u64,
}

/// Below this many ranges merging is left to the end.
const MERGE_AT_LEAST: usize = 1024;

impl BusyTime {
    /// One non-NULL range (`None`: empty).
    pub fn add(&mut self, during: Option<Interval>) {
        self.inputs += 1;
        if let Some(span) = during {
            self.spans.push(span);
            if self.spans.len() >= MERGE_AT_LEAST.max(2 * self.merged) {
                self.normalize();
            }
        }
    }

    pub fn merge(&mut self, mut other: BusyTime) {
        self.inputs += other.inputs;
        self.spans.append(&mut other.spans);
        if self.spans.len() >= MERGE_AT_LEAST.max(2 * self.merged) {
            self.normalize();
        }
    }

    /// Sorts and merges the ranges (the union stays the same). The merged prefix is sorted
    /// already, so only the ranges added since are sorted (a radix sort: linear, where a
    /// comparison sort of everything took a tenth of a busy-time query), then both runs are
    /// merged into one union.
    fn normalize(&mut self) {
        if self.merged == self.spans.len() {
            return;
        }
        radsort::sort_by_key(&mut self.spans[self.merged..], |s| s.start);
        let (merged, added) = self.spans.split_at(self.merged);
        let mut union: Vec<Interval> = Vec::with_capacity(self.spans.len());
        let (mut merged, mut added) = (merged.iter().peekable(), added.iter().peekable());
        // By start only: extending the last range takes the furthest end.
        while let Some(&s) = match (merged.peek(), added.peek()) {
            (Some(a), Some(b)) if b.start < a.start => added.next(),
            (Some(_), _) => merged.next(),
            (None, _) => added.next(),
        } {
            match union.last_mut() {
                // Overlapping or touching: one range, as in a multirange.
                Some(last) if s.start <= last.end => last.end = last.end.max(s.end),
                _ => union.push(s),
            }
        }
        self.merged = union.len();
        self.spans = union;
    }

    /// The union as sorted, disjoint, non-touching spans; `None` when no range was aggregated.
    pub fn union(&mut self) -> Option<&[Interval]> {
        self.normalize();
        (self.inputs > 0).then_some(&self.spans[..])
    }

    /// The length of the union in microseconds (0 with no range); an error when unbounded.
    pub fn micros(&mut self) -> Result<i64, AggregateError> {
        self.normalize();
        union_micros(&self.spans)
    }

    pub fn to_bytes(&mut self) -> Vec<u8> {
        self.normalize();
        let mut out = Vec::with_capacity(8 + self.spans.len() * 16);
        out.extend_from_slice(&self.inputs.to_le_bytes());
        for &s in &self.spans {
            put_span(&mut out, s);
        }
        out
    }

    pub fn from_bytes(bytes: &[u8]) -> Result<BusyTime, AggregateError> {
        if bytes.len() % 16 != 8 {
            return Err(AggregateError::BadState);
        }
        let mut r = Reader(bytes);
        let inputs = r.u64()?;
        let spans = (0..bytes.len() / 16)
            .map(|_| r.span())
            .collect::<Result<Vec<_>, _>>()?;
        // What was written was merged; merging again costs one pass and trusts nothing.
        Ok(BusyTime {
            spans,
            merged: 0,
            inputs,
        })
    }
}

fn union_micros(spans: &[Interval]) -> Result<i64, AggregateError> {
    spans
        .iter()
        .map(|s| s.micros().ok_or(AggregateError::UnboundedBusyTime))
        .sum()
}

// ---------------------------------------------------------------------------------------------
// Moving (window) states for peak seats and busy time
// ---------------------------------------------------------------------------------------------

/// A step function of time kept as its changes, so that a row can be taken out again: the state
/// of peak seats and busy time in a sliding window frame. Adding and removing a row cost
/// O(log n); reading the result is one sweep over the frame's distinct instants.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct Timeline {
    changes: BTreeMap<i64, i64>,
}

impl Timeline {
    fn change(&mut self, at: i64, by: i64) {
        let entry = self.changes.entry(at).or_insert(0);
        *entry += by;
        if *entry == 0 {
            self.changes.remove(&at);
        }
    }

    fn add(&mut self, span: Interval, weight: i64) {
        self.change(span.start, weight);
        self.change(span.end, -weight);
    }

    fn remove(&mut self, span: Interval, weight: i64) {
        self.add(span, -weight);
    }

    fn peak(&self) -> i64 {
        let mut held = 0;
        self.changes.values().fold(0, |peak, change| {
            held += change;
            peak.max(held)
        })
    }

    /// Where the function is positive, as sorted, disjoint, non-touching spans.
    fn positive(&self) -> Vec<Interval> {
        let (mut out, mut held, mut since) = (Vec::new(), 0, 0);
        for (&at, &change) in &self.changes {
            if held == 0 {
                since = at;
            }
            held += change;
            if held == 0 {
                out.push(Interval {
                    start: since,
                    end: at,
                });
            }
        }
        out
    }
}

/// Peak seats over a sliding window frame: rows can be removed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MovingPeakSeats(Timeline);

impl MovingPeakSeats {
    pub fn add(&mut self, during: Option<Interval>, seats: i32) -> Result<(), AggregateError> {
        let seats = check_seats(seats)?;
        if let (Some(span), true) = (during, seats > 0) {
            self.0.add(span, seats);
        }
        Ok(())
    }

    /// Takes out a row added before (the inverse transition).
    pub fn remove(&mut self, during: Option<Interval>, seats: i32) -> Result<(), AggregateError> {
        let seats = check_seats(seats)?;
        if let (Some(span), true) = (during, seats > 0) {
            self.0.remove(span, seats);
        }
        Ok(())
    }

    pub fn peak(&self) -> i64 {
        self.0.peak()
    }
}

/// Busy time over a sliding window frame: each range counts one; the union is where the count
/// is positive.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MovingBusyTime {
    coverage: Timeline,
    inputs: u64,
}

impl MovingBusyTime {
    pub fn add(&mut self, during: Option<Interval>) {
        self.inputs += 1;
        if let Some(span) = during {
            self.coverage.add(span, 1);
        }
    }

    pub fn remove(&mut self, during: Option<Interval>) {
        self.inputs -= 1;
        if let Some(span) = during {
            self.coverage.remove(span, 1);
        }
    }

    pub fn union(&self) -> Option<Vec<Interval>> {
        (self.inputs > 0).then(|| self.coverage.positive())
    }

    pub fn micros(&self) -> Result<i64, AggregateError> {
        union_micros(&self.coverage.positive())
    }
}

// ---------------------------------------------------------------------------------------------
// Utilisation
// ---------------------------------------------------------------------------------------------

/// Seat-time held inside an opening period, over the seat-time the period offers
/// (`capacity` × its length). Every row must name the same capacity and period. The sum is
/// exact (an integer of seat-microseconds), so removing a row restores it exactly.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Utilization {
    held: i128,
    /// The capacity and opening period of the rows, from the first one.
    parameters: Option<(i32, Interval)>,
}

impl Utilization {
    fn held_by(
        &mut self,
        during: Option<Interval>,
        seats: i32,
        capacity: i32,
        open: Interval,
    ) -> Result<i128, AggregateError> {
        let seats = check_seats(seats)?;
        if capacity <= 0 {
            return Err(AggregateError::NonPositiveCapacity(capacity));
        }
        if !open.is_bounded() {
            return Err(AggregateError::UnboundedOpenTime);
        }
        self.same_parameters(Some((capacity, open)))?;
        let inside = during
            .and_then(|d| d.intersect(open))
            .map_or(0, |s| s.end - s.start);
        Ok(seats as i128 * inside as i128)
    }

    fn same_parameters(
        &mut self,
        parameters: Option<(i32, Interval)>,
    ) -> Result<(), AggregateError> {
        match (self.parameters, parameters) {
            (Some(mine), Some(theirs)) if mine != theirs => Err(AggregateError::ParametersDiffer),
            (None, _) => {
                self.parameters = parameters;
                Ok(())
            }
            _ => Ok(()),
        }
    }

    /// One row: `seats` held during `during` (`None`: empty) on a resource of `capacity` seats,
    /// counted inside the opening period `open`.
    pub fn add(
        &mut self,
        during: Option<Interval>,
        seats: i32,
        capacity: i32,
        open: Interval,
    ) -> Result<(), AggregateError> {
        self.held += self.held_by(during, seats, capacity, open)?;
        Ok(())
    }

    pub fn remove(
        &mut self,
        during: Option<Interval>,
        seats: i32,
        capacity: i32,
        open: Interval,
    ) -> Result<(), AggregateError> {
        self.held -= self.held_by(during, seats, capacity, open)?;
        Ok(())
    }

    pub fn merge(&mut self, other: &Utilization) -> Result<(), AggregateError> {
        self.same_parameters(other.parameters)?;
        self.held += other.held;
        Ok(())
    }

    /// The share of the period's seat-time held: 0 with no rows.
    pub fn ratio(&self) -> f64 {
        match self.parameters {
            Some((capacity, open)) => {
                self.held as f64 / (capacity as f64 * (open.end - open.start) as f64)
            }
            None => 0.0,
        }
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = self.held.to_le_bytes().to_vec();
        if let Some((capacity, open)) = self.parameters {
            out.extend_from_slice(&capacity.to_le_bytes());
            put_span(&mut out, open);
        }
        out
    }

    pub fn from_bytes(bytes: &[u8]) -> Result<Utilization, AggregateError> {
        let mut r = Reader(bytes);
        let held = i128::from_le_bytes(r.bytes()?);
        let parameters = if r.0.is_empty() {
            None
        } else {
            Some((i32::from_le_bytes(r.bytes()?), r.span()?))
        };
        r.end()?;
        Ok(Utilization { held, parameters })
    }
}

// ---------------------------------------------------------------------------------------------
// Rating summary
// ---------------------------------------------------------------------------------------------

/// How many ratings of each of 1 to 5 stars (seed 004's review statistics).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RatingSummary {
    counts: [i64; 5],
}

impl RatingSummary {
    fn slot(rating: i32) -> Result<usize, AggregateError> {
        if !(1..=5).contains(&rating) {
            return Err(AggregateError::RatingOutOfRange(rating));
        }
        Ok(rating as usize - 1)
    }

    pub fn add(&mut self, rating: i32) -> Result<(), AggregateError> {
        self.counts[Self::slot(rating)?] += 1;
        Ok(())
    }

    pub fn remove(&mut self, rating: i32) -> Result<(), AggregateError> {
        self.counts[Self::slot(rating)?] -= 1;
        Ok(())
    }

    pub fn merge(&mut self, other: &RatingSummary) {
        for (mine, theirs) in self.counts.iter_mut().zip(other.counts) {
            *mine += theirs;
        }
    }

    pub fn count(&self) -> i64 {
        self.counts.iter().sum()
    }

    /// How many ratings of 1, 2, 3, 4 and 5.
    pub fn histogram(&self) -> [i64; 5] {
        self.counts
    }

    /// The mean rating in hundredths, rounded half away from zero as SQL's `round(avg, 2)`
    /// (seed 004 shows it as numeric(3,2)); `None` without ratings.
    pub fn average_hundredths(&self) -> Option<i64> {
        let count = self.count() as i128;
        let stars: i128 = self
            .counts
            .iter()
            .zip(1..)
            .map(|(&n, stars)| n as i128 * stars)
            .sum();
        (count > 0).then(|| ((200 * stars + count) / (2 * count)) as i64)
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        self.counts.iter().flat_map(|c| c.to_le_bytes()).collect()
    }

    pub fn from_bytes(bytes: &[u8]) -> Result<RatingSummary, AggregateError> {
        let mut r = Reader(bytes);
        let mut counts = [0; 5];
        for c in &mut counts {
            *c = r.i64()?;
        }
        r.end()?;
        Ok(RatingSummary { counts })
    }
}

#[cfg(test)]
#[path = "reporting_tests.rs"]
mod tests;
