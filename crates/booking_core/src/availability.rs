//! Availability: at which instants can a booking of a given length start on a resource?
//! All instants are `i64` microseconds since the Unix epoch, UTC; all
//! ranges are half-open. Weekly rules are local wall-clock times, turned into UTC instants date
//! by date in the resource's time zone.
//!
//! A local time maps to the first instant whose wall-clock time is at or after it: inside a
//! spring-forward gap that is the end of the gap; in a fall-back overlap, the first occurrence.

use chrono::{Datelike, Duration, LocalResult, NaiveDate, NaiveDateTime, NaiveTime, TimeZone};
use chrono_tz::Tz;

pub use crate::time::{Interval, MICROS_PER_DAY, MICROS_PER_MINUTE};
/// Requests whose window holds more candidate starts than this are refused, not computed.
pub const MAX_CANDIDATES: i64 = 100_000;
/// The longest window (and the longest duration) any request may ask about: a year and a day.
/// Checked before anything is read, so the work a request causes is bounded whatever its
/// interval: a long duration would otherwise keep the candidates under MAX_CANDIDATES while the
/// engine walked every local day of a window of any length.
pub const MAX_WINDOW_DAYS: i64 = 366;
/// Open time is computed from local midnight this many days before the window's first day, so a
/// range that opened earlier anchors its grid the same whatever the window. A range open without
/// a break for longer than that is anchored at that midnight.
pub const LOOKBACK_DAYS: i64 = 2;

/// Weekly opening hours: `day_of_week` 0 = Sunday; `start`/`end` in microseconds after local
/// midnight, `end` up to 24:00.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WeeklyRule {
    pub day_of_week: u32,
    pub start: i64,
    pub end: i64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExceptionKind {
    Open,
    Closed,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Exception {
    pub during: Interval,
    pub kind: ExceptionKind,
}

/// A time-holding booking of the resource.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Booking {
    pub during: Interval,
    pub seats: i32,
}

/// What the engine needs to know about a resource, already resolved (the resource's own rules or
/// its organization's, service rules applied to notice and horizon).
#[derive(Clone, Debug)]
pub struct Resource {
    pub tz: Tz,
    pub rules: Vec<WeeklyRule>,
    pub exceptions: Vec<Exception>,
    pub capacity: i32,
    pub buffer_before: i64,
    pub buffer_after: i64,
    /// Step of the grid; `None`: the requested duration.
    pub slot_interval: Option<i64>,
    /// Busy time from linked external calendars: no booking may overlap it. Unlike a booking it
    /// holds the whole resource and has no buffers around it (a slot's own buffers may reach
    /// into it); unlike a closed exception it does not move the grid. Any order, may overlap.
    pub external_busy: Vec<Interval>,
}

#[derive(Clone, Copy, Debug)]
pub struct Request {
    pub window: Interval,
    pub duration: i64,
    pub seats: i32,
    /// `now + minimum notice`: no start before it.
    pub earliest_start: Option<i64>,
    /// `now + maximum advance`: no start after it.
    pub latest_start: Option<i64>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AvailabilityError {
    EmptyWindow,
    NonPositiveDuration,
    NonPositiveSeats,
    NonPositiveInterval,
    TooManyCandidates { candidates: i64 },
    BadRule(WeeklyRule),
    EmptyPool,
    PoolTooLarge { resources: usize },
    TooManyPoolCandidates { candidates: i64 },
    MixedWindows,
    WindowTooLong,
    DurationTooLong,
}

impl std::fmt::Display for AvailabilityError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AvailabilityError::EmptyWindow => f.write_str("the window must end after it starts"),
            AvailabilityError::NonPositiveDuration => f.write_str("the duration must be positive"),
            AvailabilityError::NonPositiveSeats => f.write_str("the number of seats must be positive"),
            AvailabilityError::NonPositiveInterval => f.write_str("the slot interval must be positive"),
            AvailabilityError::TooManyCandidates { candidates } => write!(
                f,
                "the window holds {candidates} candidate slots, more than the maximum of {MAX_CANDIDATES}: ask for a shorter window or a longer interval"
            ),
            AvailabilityError::BadRule(r) => write!(f, "invalid weekly rule {r:?}"),
            AvailabilityError::EmptyPool => f.write_str("the list of resources is empty"),
            AvailabilityError::PoolTooLarge { resources } => {
                write!(f, "{resources} resources, more than the maximum of {MAX_POOL} in one request")
            }
            AvailabilityError::TooManyPoolCandidates { candidates } => write!(
                f,
                "the resources hold {candidates} candidate slots in all, more than the maximum of {MAX_POOL_CANDIDATES}: ask for fewer resources or a shorter window"
            ),
            AvailabilityError::WindowTooLong => {
                write!(f, "the window may span at most {MAX_WINDOW_DAYS} days: ask for a shorter window")
            }
            AvailabilityError::DurationTooLong => write!(f, "the duration may be at most {MAX_WINDOW_DAYS} days"),
            AvailabilityError::MixedWindows => f.write_str("the resources of a search must share one window"),
        }
    }
}

impl std::error::Error for AvailabilityError {}

fn micros<T: TimeZone>(t: chrono::DateTime<T>) -> i64 {
    t.timestamp_micros()
}

/// The local wall-clock date and time of an instant.
pub fn local_datetime(tz: Tz, t: i64) -> NaiveDateTime {
    tz.timestamp_micros(t)
        .single()
        .expect("an instant has one local time")
        .naive_local()
}

/// The first instant whose local wall-clock time is at or after `local`.
pub fn local_to_utc(tz: Tz, local: NaiveDateTime) -> i64 {
    match tz.from_local_datetime(&local) {
        LocalResult::Single(t) => micros(t),
        LocalResult::Ambiguous(a, b) => micros(a).min(micros(b)),
        LocalResult::None => {
            // In a gap: the answer is the transition instant. It lies between the instant this
            // local time would be with a 24-hour earlier or later offset; local time is
            // increasing across the gap, so bisect on "local time >= target".
            let naive_utc = local.and_utc().timestamp_micros();
            let mut lo = naive_utc - MICROS_PER_DAY;
            let mut hi = naive_utc + MICROS_PER_DAY;
            while local_datetime(tz, lo) >= local {
                lo -= MICROS_PER_DAY;
            }
            // invariant: local(lo) < target <= local(hi)
            while hi - lo > 1 {
                let mid = lo + (hi - lo) / 2;
                if local_datetime(tz, mid) >= local {
                    hi = mid;
                } else {
                    lo = mid;
                }
            }
            hi
        }
    }
}

fn local_date(tz: Tz, t: i64) -> NaiveDate {
    local_datetime(tz, t).date()
}

fn at(date: NaiveDate, micros_of_day: i64) -> NaiveDateTime {
    let day = date + Duration::days(micros_of_day.div_euclid(MICROS_PER_DAY));
    let rest = micros_of_day.rem_euclid(MICROS_PER_DAY);
    let time = NaiveTime::from_num_seconds_from_midnight_opt(
        (rest / 1_000_000) as u32,
        ((rest % 1_000_000) * 1000) as u32,
    )
    .expect("a time of day");
    day.and_time(time)
}

/// Sort and merge overlapping or touching intervals.
pub fn merge(mut v: Vec<Interval>) -> Vec<Interval> {
    v.retain(|i| i.start < i.end);
    v.sort();
    let mut out: Vec<Interval> = Vec::with_capacity(v.len());
    for i in v {
        match out.last_mut() {
            Some(last) if i.start <= last.end => last.end = last.end.max(i.end),
            _ => out.push(i),
        }
    }
    out
}

/// `a` minus `b`, both sorted and disjoint.
fn subtract(a: &[Interval], b: &[Interval]) -> Vec<Interval> {
    let mut out = Vec::new();
    let mut j = 0;
    for &i in a {
        let mut cur = i;
        while j < b.len() && b[j].end <= cur.start {
            j += 1;
        }
        let mut k = j;
        while k < b.len() && b[k].start < cur.end {
            if b[k].start > cur.start {
                out.push(Interval::new(cur.start, b[k].start));
            }
            cur.start = cur.start.max(b[k].end);
            if cur.start >= cur.end {
                break;
            }
            k += 1;
        }
        if cur.start < cur.end {
            out.push(cur);
        }
    }
    out
}

fn validate_rules(rules: &[WeeklyRule]) -> Result<(), AvailabilityError> {
    match rules
        .iter()
        .find(|r| r.day_of_week > 6 || r.start < 0 || r.end > MICROS_PER_DAY || r.start >= r.end)
    {
        Some(r) => Err(AvailabilityError::BadRule(*r)),
        None => Ok(()),
    }
}

/// The resource's open time within `span`, as sorted, disjoint, maximal ranges (clipped to the span).
pub fn open_time(res: &Resource, span: Interval) -> Vec<Interval> {
    let mut open = Vec::new();
    let first = local_date(res.tz, span.start) - Duration::days(1);
    let last = local_date(res.tz, span.end);
    let mut date = first;
    while date <= last {
        crate::interrupts::check();
        let dow = date.weekday().num_days_from_sunday();
        for r in res.rules.iter().filter(|r| r.day_of_week == dow) {
            open.push(Interval::new(
                local_to_utc(res.tz, at(date, r.start)),
                local_to_utc(res.tz, at(date, r.end)),
            ));
        }
        date = date.succ_opt().expect("a next day");
    }
    open.extend(
        res.exceptions
            .iter()
            .filter(|e| e.kind == ExceptionKind::Open)
            .map(|e| e.during),
    );
    let closed = merge(
        res.exceptions
            .iter()
            .filter(|e| e.kind == ExceptionKind::Closed)
            .map(|e| e.during)
            .collect(),
    );
    subtract(&merge(open), &closed)
        .into_iter()
        .filter(|i| i.overlaps(&span))
        .map(|i| Interval::new(i.start.max(span.start), i.end.min(span.end)))
        .collect()
}

/// Seats held over time by the time-holding bookings, each stretched by the buffers: sorted,
/// disjoint segments with the seats held in each.
struct HeldSeats(Vec<(Interval, i32)>);

impl HeldSeats {
    fn new(bookings: &[Booking], buffer_before: i64, buffer_after: i64) -> HeldSeats {
        // Starts and ends sorted apart, then merged: bookings often come ordered by end already,
        // and sorting bare times is cheaper than sorting events.
        let held: Vec<&Booking> = bookings
            .iter()
            .filter(|b| b.during.start < b.during.end && b.seats > 0)
            .collect();
        let mut starts: Vec<(i64, i32)> = held
            .iter()
            .map(|b| (b.during.start - buffer_before, b.seats))
            .collect();
        let mut ends: Vec<(i64, i32)> = held
            .iter()
            .map(|b| (b.during.end + buffer_after, b.seats))
            .collect();
        // A radix sort: linear in the bookings, where a comparison sort was the engine's
        // largest cost on a busy resource.
        radsort::sort_by_key(&mut starts, |e| e.0);
        if !ends.is_sorted_by_key(|e| e.0) {
            radsort::sort_by_key(&mut ends, |e| e.0);
        }
        let next_change = |i: usize, j: usize| match (starts.get(i), ends.get(j)) {
            (Some(s), Some(e)) => Some(s.0.min(e.0)),
            (s, e) => s.or(e).map(|x| x.0),
        };
        let mut segments = Vec::with_capacity(starts.len() * 2);
        let (mut i, mut j, mut seats) = (0, 0, 0);
        let mut change = next_change(0, 0);
        while let Some(t) = change {
            while i < starts.len() && starts[i].0 == t {
                seats += starts[i].1;
                i += 1;
            }
            while j < ends.len() && ends[j].0 == t {
                seats -= ends[j].1;
                j += 1;
            }
            change = next_change(i, j);
            if let (Some(next), true) = (change, seats > 0) {
                segments.push((Interval::new(t, next), seats));
            }
        }
        HeldSeats(segments)
    }

    /// The most seats held at one instant of `range`, for ranges asked in order of their
    /// starts: `cursor` (0 at first) remembers where the last one began, so that a slot list
    /// steps through the segments instead of searching them all for every candidate; a long
    /// jump is a binary search.
    fn peak_from(&self, range: Interval, cursor: &mut usize) -> i32 {
        let before_range = |(seg, _): &(Interval, i32)| seg.end <= range.start;
        let mut from = *cursor;
        for _ in 0..8 {
            if from < self.0.len() && before_range(&self.0[from]) {
                from += 1;
            } else {
                break;
            }
        }
        if from < self.0.len() && before_range(&self.0[from]) {
            from += self.0[from..].partition_point(before_range);
        }
        *cursor = from;
        self.0[from..]
            .iter()
            .take_while(|(seg, _)| seg.start < range.end)
            .map(|&(_, seats)| seats)
            .max()
            .unwrap_or(0)
    }
}

/// The checks shared by the slot list and the single-booking check, so they cannot disagree.
struct Checker<'a> {
    res: &'a Resource,
    req: &'a Request,
    held: HeldSeats,
    /// `res.external_busy`, merged.
    external: Vec<Interval>,
}

impl<'a> Checker<'a> {
    fn new(res: &'a Resource, req: &'a Request, bookings: &[Booking]) -> Checker<'a> {
        Checker {
            res,
            req,
            held: HeldSeats::new(bookings, res.buffer_before, res.buffer_after),
            external: merge(res.external_busy.clone()),
        }
    }

    /// No external busy time overlaps `[start, end)`.
    fn external_free(&self, start: i64, end: i64) -> bool {
        let i = self.external.partition_point(|b| b.end <= start);
        self.external.get(i).is_none_or(|b| b.start >= end)
    }

    /// (The same conditions as the Notice and Horizon refusals.)
    fn notice_and_horizon_allow(&self, start: i64) -> bool {
        self.req.earliest_start.is_none_or(|e| start >= e)
            && self.req.latest_start.is_none_or(|l| start <= l)
    }

    fn seats_free(&self, start: i64, end: i64) -> bool {
        self.seats_free_from(start, end, &mut 0)
    }

    /// `seats_free` for candidates in order of their starts (see `HeldSeats::peak_from`).
    fn seats_free_from(&self, start: i64, end: i64, cursor: &mut usize) -> bool {
        let buffered = Interval::new(start - self.res.buffer_before, end + self.res.buffer_after);
        self.held.peak_from(buffered, cursor) + self.req.seats <= self.res.capacity
    }

    /// The free slots inside the request's window, in order, on the grid of step `interval`
    /// laid from the start of each range of `open` (sorted, disjoint, computed from far enough
    /// back that the ranges' starts are the real ones). Lazy: a search stops at the first.
    fn free_slots<'b>(
        &'b self,
        open: &'b [Interval],
        interval: i64,
    ) -> impl Iterator<Item = Interval> + 'b {
        let req = self.req;
        let first = open.partition_point(|r| r.end <= req.window.start);
        open[first..]
            .iter()
            .take_while(move |r| r.start < req.window.end)
            .flat_map(move |range| {
                // The grid starts at the range's start; the window only filters it.
                let skip = if req.window.start > range.start {
                    (req.window.start - range.start + interval - 1) / interval
                } else {
                    0
                };
                let first_start = range.start + skip * interval;
                let last_end = range.end.min(req.window.end);
                (0..)
                    .map(move |k| first_start + k * interval)
                    .take_while(move |start| start + req.duration <= last_end)
            })
            .scan((0, 0u32), move |(cursor, seen), start| {
                *seen = seen.wrapping_add(1);
                if *seen % 1024 == 0 {
                    crate::interrupts::check();
                }
                Some((
                    start,
                    self.notice_and_horizon_allow(start)
                        && self.external_free(start, start + req.duration)
                        && self.seats_free_from(start, start + req.duration, cursor),
                ))
            })
            .filter_map(|(start, free)| free.then_some(start))
            .map(move |start| Interval::new(start, start + req.duration))
    }
}

fn validate(res: &Resource, req: &Request) -> Result<i64, AvailabilityError> {
    let interval = validate_request(res.slot_interval, req)?;
    validate_rules(&res.rules)?;
    Ok(interval)
}

/// The checks on a request that do not depend on its size; returns the grid step.
fn validate_shape(slot_interval: Option<i64>, req: &Request) -> Result<i64, AvailabilityError> {
    check_bounds(req.window, req.duration)?;
    if req.seats <= 0 {
        return Err(AvailabilityError::NonPositiveSeats);
    }
    let interval = slot_interval.unwrap_or(req.duration);
    if interval <= 0 {
        return Err(AvailabilityError::NonPositiveInterval);
    }
    Ok(interval)
}

/// The checks on a window and duration that bound a request's work; the bindings call it
/// before reading anything.
pub fn check_bounds(window: Interval, duration: i64) -> Result<(), AvailabilityError> {
    if window.end <= window.start {
        return Err(AvailabilityError::EmptyWindow);
    }
    // (Saturating: the two ends of Postgres's timestamp range are further apart than an i64.)
    if window.end.saturating_sub(window.start) > MAX_WINDOW_DAYS * MICROS_PER_DAY {
        return Err(AvailabilityError::WindowTooLong);
    }
    if duration <= 0 {
        return Err(AvailabilityError::NonPositiveDuration);
    }
    if duration > MAX_WINDOW_DAYS * MICROS_PER_DAY {
        return Err(AvailabilityError::DurationTooLong);
    }
    Ok(())
}

/// How many grid starts a window of this length can hold.
fn candidates(window: Interval, interval: i64) -> i64 {
    (window.end - window.start) / interval + 1
}

/// Checks a request before anything is loaded for it; returns the grid step.
pub fn validate_request(
    slot_interval: Option<i64>,
    req: &Request,
) -> Result<i64, AvailabilityError> {
    let interval = validate_shape(slot_interval, req)?;
    let candidates = candidates(req.window, interval);
    if candidates > MAX_CANDIDATES {
        return Err(AvailabilityError::TooManyCandidates { candidates });
    }
    Ok(interval)
}

/// Local midnight `LOOKBACK_DAYS` before the local date of `t`.
fn lookback_start(tz: Tz, t: i64) -> i64 {
    local_to_utc(tz, at(local_date(tz, t) - Duration::days(LOOKBACK_DAYS), 0))
}

/// The open time a request's grid is laid on: from the lookback midnight to the window's end.
fn open_for_grid(res: &Resource, window: Interval) -> Vec<Interval> {
    open_time(
        res,
        Interval::new(lookback_start(res.tz, window.start), window.end),
    )
}

/// The free slots `[start, start + duration)` inside the request's window, ordered by start.
pub fn available_slots(
    res: &Resource,
    bookings: &[Booking],
    req: &Request,
) -> Result<Vec<Interval>, AvailabilityError> {
    let interval = validate(res, req)?;
    let checker = Checker::new(res, req, bookings);
    let open = open_for_grid(res, req.window);
    Ok(checker.free_slots(&open, interval).collect())
}

// ---------------------------------------------------------------------------------------------
// Pools of resources: "any free microscope" and "the next free slot"
// ---------------------------------------------------------------------------------------------

/// At most this many resources in one pool request.
pub const MAX_POOL: usize = 100;
/// At most this many grid starts summed over a pool's resources (the whole search horizon for
/// [`next_slot`], the window for the slot list).
pub const MAX_POOL_CANDIDATES: i64 = 2_000_000;

/// One resource of a pool with its request: the window, duration and seats are the pool's, the
/// notice and horizon the resource's own.
pub struct PoolMember<'a> {
    pub resource: &'a Resource,
    pub request: Request,
}

/// Checks the size of a pool request before anything more is loaded for it.
pub fn validate_pool(members: &[PoolMember]) -> Result<(), AvailabilityError> {
    if members.is_empty() {
        return Err(AvailabilityError::EmptyPool);
    }
    if members.len() > MAX_POOL {
        return Err(AvailabilityError::PoolTooLarge {
            resources: members.len(),
        });
    }
    let mut total = 0;
    for m in members {
        let interval = validate_shape(m.resource.slot_interval, &m.request)?;
        total += candidates(m.request.window, interval);
    }
    if total > MAX_POOL_CANDIDATES {
        return Err(AvailabilityError::TooManyPoolCandidates { candidates: total });
    }
    Ok(())
}

/// The slots in which at least one resource of a pool is free, given each resource's own free
/// slots (`per_resource[i]` ordered by start, as [`available_slots`] returns them): ordered by
/// start, each with the indexes of the free resources in pool order. Resources with different
/// grids give different slots; a slot is listed once per distinct `[start, end)`.
pub fn merge_pool_slots(per_resource: &[Vec<Interval>]) -> Vec<(Interval, Vec<usize>)> {
    let mut all: Vec<(Interval, usize)> = per_resource
        .iter()
        .enumerate()
        .flat_map(|(i, slots)| slots.iter().map(move |s| (*s, i)))
        .collect();
    all.sort();
    let mut out: Vec<(Interval, Vec<usize>)> = Vec::new();
    for (slot, i) in all {
        match out.last_mut() {
            Some((last, free)) if *last == slot => free.push(i),
            _ => out.push((slot, vec![i])),
        }
    }
    out
}

/// The stretches [`next_slot`] searches one after the other: a day, a week, then 30 days at a
/// time, so an early answer reads few bookings.
pub fn search_chunks(horizon: Interval) -> Vec<Interval> {
    let mut chunks = Vec::new();
    let mut start = horizon.start;
    for days in [1, 7].into_iter().chain(std::iter::repeat(30)) {
        if start >= horizon.end {
            break;
        }
        let end = (start + days * MICROS_PER_DAY).min(horizon.end);
        chunks.push(Interval::new(start, end));
        start = end;
    }
    chunks
}

/// The earliest free slot of a pool inside each member's window (the search horizon), and the
/// index of its resource (ties go to the first in pool order); `None` when there is none. The
/// horizon is searched in [`search_chunks`]: `bookings_for(span)` gives each member's
/// time-holding bookings that can touch slots starting in `span` (buffers are the caller's to
/// add), and the search stops after the first chunk with an answer. The answer is the first
/// slot [`available_slots`] would list for the whole horizon, computed without listing them.
pub fn next_slot(
    members: &[PoolMember],
    mut bookings_for: impl FnMut(Interval) -> Vec<Vec<Booking>>,
) -> Result<Option<(Interval, usize)>, AvailabilityError> {
    validate_pool(members)?;
    let horizon = members[0].request.window;
    if members.iter().any(|m| m.request.window != horizon) {
        return Err(AvailabilityError::MixedWindows);
    }
    let mut grids = Vec::with_capacity(members.len());
    for m in members {
        validate_rules(&m.resource.rules)?;
        let interval = validate_shape(m.resource.slot_interval, &m.request)?;
        grids.push((interval, open_for_grid(m.resource, horizon)));
    }
    let longest = members
        .iter()
        .map(|m| m.request.duration)
        .max()
        .unwrap_or(0);
    for chunk in search_chunks(horizon) {
        // Slots starting in the chunk may end after it.
        let bookings = bookings_for(Interval::new(
            chunk.start,
            (chunk.end + longest).min(horizon.end),
        ));
        let mut best: Option<(Interval, usize)> = None;
        for (i, (m, (interval, open))) in members.iter().zip(&grids).enumerate() {
            let window = Interval::new(
                chunk.start,
                (chunk.end + m.request.duration).min(horizon.end),
            );
            let req = Request {
                window,
                ..m.request
            };
            let checker = Checker::new(m.resource, &req, &bookings[i]);
            let first = checker
                .free_slots(open, *interval)
                .next()
                .filter(|s| s.start < chunk.end);
            if let Some(slot) = first {
                if best.is_none_or(|(b, _)| slot.start < b.start) {
                    best = Some((slot, i));
                }
            }
        }
        if best.is_some() {
            return Ok(best);
        }
    }
    Ok(None)
}

/// Why a booking would be refused, in the order the checks are made.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// Not inside open time (weekly rules and exceptions) for the whole interval.
    Closed,
    /// Starts sooner than the minimum notice allows.
    Notice,
    /// Starts later than the maximum advance allows.
    Horizon,
    /// An event of a linked external calendar holds some of the time.
    ExternalEvent,
    /// Another booking holds the time of a capacity-1 resource (buffers included).
    Overlap,
    /// Not enough seats left at some instant (buffers included).
    Capacity,
}

impl Refusal {
    pub fn code(self) -> &'static str {
        match self {
            Refusal::Closed => "closed",
            Refusal::Notice => "notice",
            Refusal::Horizon => "horizon",
            Refusal::ExternalEvent => "external_event",
            Refusal::Overlap => "overlap",
            Refusal::Capacity => "capacity",
        }
    }
}

/// Why a booking of `[start, end)` with the request's seats would be refused, or `None` when it
/// would be accepted: inside open time, within notice and horizon, and with the seats free once
/// buffers are counted. It does not ask for the start to be on the slot grid. The checks are the
/// ones [`available_slots`] makes.
pub fn refusal(
    res: &Resource,
    bookings: &[Booking],
    req: &Request,
    start: i64,
    end: i64,
) -> Result<Option<Refusal>, AvailabilityError> {
    let req = Request {
        window: Interval::new(start, end),
        duration: end - start,
        ..*req
    };
    validate_request(None, &req)?;
    validate_rules(&res.rules)?;
    let checker = Checker::new(res, &req, bookings);
    let span = Interval::new(lookback_start(res.tz, start), end);
    Ok(
        if !open_time(res, span)
            .iter()
            .any(|r| r.start <= start && end <= r.end)
        {
            Some(Refusal::Closed)
        } else if req.earliest_start.is_some_and(|e| start < e) {
            Some(Refusal::Notice)
        } else if req.latest_start.is_some_and(|l| start > l) {
            Some(Refusal::Horizon)
        } else if !checker.external_free(start, end) {
            Some(Refusal::ExternalEvent)
        } else if !checker.seats_free(start, end) {
            Some(if res.capacity == 1 {
                Refusal::Overlap
            } else {
                Refusal::Capacity
            })
        } else {
            None
        },
    )
}

/// Would a booking of `[start, end)` be accepted? See [`refusal`].
pub fn can_book(
    res: &Resource,
    bookings: &[Booking],
    req: &Request,
    start: i64,
    end: i64,
) -> Result<bool, AvailabilityError> {
    Ok(refusal(res, bookings, req, start, end)?.is_none())
}

#[cfg(test)]
#[path = "availability_tests.rs"]
mod tests;
