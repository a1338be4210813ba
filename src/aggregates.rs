//! SQL bindings of the reporting aggregates (`booking_core::aggregates`): the transition,
//! combine, serialisation, final and inverse functions, and the `CREATE AGGREGATE` statements
//! that make them `booking.peak_seats`, `busy_union`, `busy_minutes`, `utilization` and
//! `rating_summary` (their documentation and privileges: `sql/aggregates.sql`).
//!
//! States are `internal`: a Rust value created in the aggregate's memory context on the first
//! row and dropped when Postgres frees that context. A row whose data is NULL (the range, the
//! seats, the rating) is skipped, as SQL aggregates skip NULLs; other bad input is 22023.
//!
//! The final functions of peak seats and busy time sort their state in place. That keeps its
//! meaning (the same seat changes, the same union), so Postgres may still call the final
//! function again or add rows afterwards, as it does for window frames: the aggregates keep the
//! default FINALFUNC_MODIFY = READ_ONLY.

use booking_core::aggregates::{
    AggregateError, Bound, BusyTime, MovingBusyTime, MovingPeakSeats, PeakSeats, RatingSummary,
    Span, Utilization, MICROS_PER_MINUTE, UNBOUNDED_ABOVE, UNBOUNDED_BELOW,
};
use pgrx::callconv::{Arg, ArgAbi, BoxRet, FcInfo};
use pgrx::datum::{Datum, Internal};
use pgrx::prelude::*;
use pgrx::{pg_sys, varlena, JsonB, PgMemoryContexts};

use crate::errors::invalid_parameter;

fn reported<T>(result: Result<T, AggregateError>) -> T {
    result.unwrap_or_else(|e| invalid_parameter(e.to_string()))
}

/// A `tstzrange` argument, read where it lies.
///
/// Decoding through pgrx's `Range` copies a stored range out of its row (stored values have a
/// short header), looks up the type cache and calls `range_deserialize`: calls into Postgres,
/// each guarded with a `sigsetjmp`, that cost more per row than the aggregate's own work. A range of timestamptz in line is simple (Postgres's on-disk format, which pg_upgrade
/// keeps across major versions): the range type's oid, the finite bounds as 8-byte values with
/// no padding, and a flags byte. Anything else (compressed or out of line, or an unexpected
/// layout) goes through pgrx and Postgres.
pub struct TstzRangeArg(pg_sys::Datum);

pgrx::impl_sql_translatable!(TstzRangeArg, "tstzrange");

impl FromDatum for TstzRangeArg {
    unsafe fn from_polymorphic_datum(
        datum: pg_sys::Datum,
        is_null: bool,
        _: pg_sys::Oid,
    ) -> Option<Self> {
        (!is_null).then_some(TstzRangeArg(datum))
    }
}

impl IntoDatum for TstzRangeArg {
    fn into_datum(self) -> Option<pg_sys::Datum> {
        Some(self.0)
    }
    fn type_oid() -> pg_sys::Oid {
        pg_sys::TSTZRANGEOID
    }
}

unsafe impl<'fcx> ArgAbi<'fcx> for TstzRangeArg {
    unsafe fn unbox_arg_unchecked(arg: Arg<'_, 'fcx>) -> Self {
        unsafe { arg.unbox_arg_using_from_datum() }.expect("a non-NULL tstzrange")
    }
}

impl TstzRangeArg {
    /// Its instants (`None`: it holds none). Bad bounds are 22023.
    fn span(&self) -> Option<Span> {
        let (lower, upper) = self
            .bounds_in_place()
            .unwrap_or_else(|| self.bounds_via_postgres())?;
        reported(Span::from_bounds(lower, upper))
    }

    /// Its bounds (`Some(None)`: empty) read from the bytes in place; `None` when it is not in
    /// line or its bytes do not have the expected layout.
    pub(crate) fn bounds_in_place(&self) -> Option<Option<(Bound, Bound)>> {
        // SAFETY: a non-NULL varlena datum, read within its size.
        unsafe {
            let ptr = self.0.cast_mut_ptr::<pg_sys::varlena>();
            if varlena::varatt_is_1b_e(ptr) || varlena::varatt_is_4b_c(ptr) {
                return None;
            }
            let data = varlena::vardata_any(ptr).cast::<u8>();
            inline_bounds(std::slice::from_raw_parts(
                data,
                varlena::varsize_any_exhdr(ptr),
            ))
        }
    }

    /// Its bounds (`None`: empty) as pgrx and Postgres read them.
    pub(crate) fn bounds_via_postgres(&self) -> Option<(Bound, Bound)> {
        // SAFETY: a non-NULL tstzrange datum.
        let range = unsafe {
            Range::<TimestampWithTimeZone>::from_polymorphic_datum(
                self.0,
                false,
                pg_sys::TSTZRANGEOID,
            )
        };
        range
            .expect("a tstzrange")
            .as_ref()
            .map(|(lower, upper)| (bound(lower), bound(upper)))
    }
}

fn bound(b: &RangeBound<TimestampWithTimeZone>) -> Bound {
    match b {
        RangeBound::Infinite => Bound::Unbounded,
        RangeBound::Inclusive(t) => Bound::Inclusive(t.into_inner()),
        RangeBound::Exclusive(t) => Bound::Exclusive(t.into_inner()),
    }
}

/// The bounds of an in-line tstzrange from its bytes after the varlena header (`Some(None)`:
/// empty); `None` when the bytes do not have the expected layout.
fn inline_bounds(bytes: &[u8]) -> Option<Option<(Bound, Bound)>> {
    const UNEXPECTED: u32 = pg_sys::RANGE_LB_NULL | pg_sys::RANGE_UB_NULL;
    let (&flags, body) = bytes.split_last()?;
    let flags = flags as u32;
    // after the range type's oid
    let mut values = body.get(4..)?.chunks_exact(8);
    if flags & UNEXPECTED != 0 || !values.remainder().is_empty() {
        return None;
    }
    if flags & pg_sys::RANGE_EMPTY != 0 {
        return (values.len() == 0).then_some(None);
    }
    let mut next = |infinite: u32, inclusive: u32| {
        if flags & infinite != 0 {
            return Some(Bound::Unbounded);
        }
        let value = i64::from_ne_bytes(values.next()?.try_into().ok()?);
        Some(if flags & inclusive != 0 {
            Bound::Inclusive(value)
        } else {
            Bound::Exclusive(value)
        })
    };
    let lower = next(pg_sys::RANGE_LB_INF, pg_sys::RANGE_LB_INC)?;
    let upper = next(pg_sys::RANGE_UB_INF, pg_sys::RANGE_UB_INC)?;
    (values.len() == 0).then_some(Some((lower, upper)))
}

/// The aggregate's memory context. SQL cannot call the support functions (nothing makes an
/// `internal` value); this guards against any other caller.
fn aggregate_context(fcinfo: pg_sys::FunctionCallInfo) -> pg_sys::MemoryContext {
    let mut context = std::ptr::null_mut();
    if unsafe { pg_sys::AggCheckCallContext(fcinfo, &mut context) } == 0 {
        error!("booking_ext aggregate support functions can only be called by their aggregates");
    }
    context
}

/// The state behind `internal`, created on first use in the aggregate's memory context.
fn state_mut<T: Default>(state: &mut Internal, fcinfo: pg_sys::FunctionCallInfo) -> &mut T {
    if !state.initialized() {
        let context = aggregate_context(fcinfo);
        // SAFETY: a valid context from AggCheckCallContext; the value is dropped with it.
        *state =
            unsafe { PgMemoryContexts::For(context).switch_to(|_| Internal::new(T::default())) };
    }
    // SAFETY: every `internal` these functions receive was made by them for this T (the SQL
    // declarations pair each state with its own functions).
    unsafe { state.get_mut::<T>() }.expect("an initialized state")
}

/// The state behind a final function's `internal`, if any row created one.
fn existing<T>(state: &mut Internal) -> Option<&mut T> {
    // SAFETY: as in state_mut.
    unsafe { state.get_mut::<T>() }
}

/// A transition (or inverse transition) step: `step` applies a row to the state, which the first
/// row creates (even a row that is skipped: it still says the aggregate saw rows).
fn transition<T: Default, R>(
    mut state: Internal,
    fcinfo: pg_sys::FunctionCallInfo,
    row: Option<R>,
    step: impl FnOnce(&mut T, R),
) -> Internal {
    let aggregate = state_mut::<T>(&mut state, fcinfo);
    if let Some(row) = row {
        step(aggregate, row);
    }
    state
}

/// The combine step of a parallel plan: `b`'s contents move into `a` (made in the aggregate's
/// context if needed: `b` may live in a per-row context).
fn combine<T: Default>(
    mut a: Internal,
    mut b: Internal,
    fcinfo: pg_sys::FunctionCallInfo,
    merge: impl FnOnce(&mut T, T),
) -> Internal {
    if let Some(other) = existing::<T>(&mut b) {
        let other = std::mem::take(other);
        merge(state_mut::<T>(&mut a, fcinfo), other);
    }
    a
}

/// The bytes a fixed-size state costs per group, declared as the SSPACE of `utilization` and
/// `rating_summary`: the Rust value with its allocator's header, and the reset callback that
/// drops it (in the aggregate's context). Without it the planner prices every `internal` state
/// at 8 kB and, with many groups (per resource and day), sorts a million rows instead of
/// hashing them. The growing states (peak seats, busy time) keep that default.
/// The SQL below writes it as a literal (`extension_sql!` takes one); a `#[pg_test]` checks
/// that the catalog holds this value.
pub(crate) const FIXED_STATE_SPACE: usize = 128;
const _: () = {
    // what malloc and palloc add to each allocation, at most
    const HEADER: usize = 16;
    let callback = std::mem::size_of::<pg_sys::MemoryContextCallback>() + HEADER;
    assert!(std::mem::size_of::<Utilization>() + HEADER + callback <= FIXED_STATE_SPACE);
    assert!(std::mem::size_of::<RatingSummary>() + HEADER + callback <= FIXED_STATE_SPACE);
};

/// A deserialised state, in the current (per-row) context: the combine step moves it out.
fn deserialized<T>(state: Result<T, AggregateError>) -> Internal {
    Internal::new(state.unwrap_or_else(|e| error!("{e}")))
}

// ---------------------------------------------------------------------------------------------
// peak_seats(during tstzrange, seats int) returns int
// ---------------------------------------------------------------------------------------------

fn seats_row(during: Option<TstzRangeArg>, seats: Option<i32>) -> Option<(Option<Span>, i32)> {
    Some((during?.span(), seats?))
}

#[pg_extern(immutable, parallel_safe, schema = "booking_internal")]
fn peak_seats_trans(
    state: Internal,
    during: Option<TstzRangeArg>,
    seats: Option<i32>,
    fcinfo: pg_sys::FunctionCallInfo,
) -> Internal {
    transition(
        state,
        fcinfo,
        seats_row(during, seats),
        |peak: &mut PeakSeats, (span, seats)| reported(peak.add(span, seats)),
    )
}

#[pg_extern(immutable, parallel_safe, schema = "booking_internal")]
fn peak_seats_combine(a: Internal, b: Internal, fcinfo: pg_sys::FunctionCallInfo) -> Internal {
    combine(a, b, fcinfo, PeakSeats::merge)
}

#[pg_extern(immutable, strict, parallel_safe, schema = "booking_internal")]
fn peak_seats_serialize(mut state: Internal) -> Vec<u8> {
    existing::<PeakSeats>(&mut state)
        .expect("a state: the function is strict")
        .to_bytes()
}

#[pg_extern(immutable, strict, parallel_safe, schema = "booking_internal")]
fn peak_seats_deserialize(bytes: &[u8], _unused: Internal) -> Internal {
    deserialized(PeakSeats::from_bytes(bytes))
}

fn seats_in_int(peak: i64) -> i32 {
    i32::try_from(peak).unwrap_or_else(|_| {
        invalid_parameter(format!("{peak} seats at once do not fit in an integer"))
    })
}

#[pg_extern(immutable, parallel_safe, schema = "booking_internal")]
fn peak_seats_final(mut state: Internal) -> i32 {
    seats_in_int(existing::<PeakSeats>(&mut state).map_or(0, PeakSeats::peak))
}

#[pg_extern(immutable, parallel_safe, schema = "booking_internal")]
fn peak_seats_moving_trans(
    state: Internal,
    during: Option<TstzRangeArg>,
    seats: Option<i32>,
    fcinfo: pg_sys::FunctionCallInfo,
) -> Internal {
    transition(
        state,
        fcinfo,
        seats_row(during, seats),
        |peak: &mut MovingPeakSeats, (span, seats)| reported(peak.add(span, seats)),
    )
}

#[pg_extern(immutable, parallel_safe, schema = "booking_internal")]
fn peak_seats_moving_inverse(
    state: Internal,
    during: Option<TstzRangeArg>,
    seats: Option<i32>,
    fcinfo: pg_sys::FunctionCallInfo,
) -> Internal {
    transition(
        state,
        fcinfo,
        seats_row(during, seats),
        |peak: &mut MovingPeakSeats, (span, seats)| reported(peak.remove(span, seats)),
    )
}

#[pg_extern(immutable, parallel_safe, schema = "booking_internal")]
fn peak_seats_moving_final(mut state: Internal) -> i32 {
    seats_in_int(existing::<MovingPeakSeats>(&mut state).map_or(0, |s| s.peak()))
}

extension_sql!(
    r#"
CREATE AGGREGATE booking.peak_seats(during tstzrange, seats integer) (
  SFUNC = booking_internal.peak_seats_trans, STYPE = internal, FINALFUNC = booking_internal.peak_seats_final,
  COMBINEFUNC = booking_internal.peak_seats_combine,
  SERIALFUNC = booking_internal.peak_seats_serialize, DESERIALFUNC = booking_internal.peak_seats_deserialize,
  MSFUNC = booking_internal.peak_seats_moving_trans, MINVFUNC = booking_internal.peak_seats_moving_inverse,
  MSTYPE = internal, MFINALFUNC = booking_internal.peak_seats_moving_final,
  PARALLEL = SAFE
);
COMMENT ON AGGREGATE booking.peak_seats(tstzrange, integer) IS 'The most seats held at one instant by the rows (half-open ranges: touching bookings do not add up); 0 without rows. Skips rows with a NULL range or seats; empty ranges hold nothing; unbounded ranges count; negative seats and -infinity/infinity bounds are 22023. Parallel; moving form for sliding window frames.';
"#,
    name = "peak_seats",
    requires = [
        peak_seats_trans,
        peak_seats_final,
        peak_seats_combine,
        peak_seats_serialize,
        peak_seats_deserialize,
        peak_seats_moving_trans,
        peak_seats_moving_inverse,
        peak_seats_moving_final
    ]
);

// ---------------------------------------------------------------------------------------------
// busy_union(during tstzrange) returns tstzmultirange, busy_minutes(during tstzrange) returns
// double precision: one state
// ---------------------------------------------------------------------------------------------

#[pg_extern(immutable, parallel_safe, schema = "booking_internal")]
fn busy_time_trans(
    state: Internal,
    during: Option<TstzRangeArg>,
    fcinfo: pg_sys::FunctionCallInfo,
) -> Internal {
    transition(state, fcinfo, during, |busy: &mut BusyTime, during| {
        busy.add(during.span())
    })
}

#[pg_extern(immutable, parallel_safe, schema = "booking_internal")]
fn busy_time_combine(a: Internal, b: Internal, fcinfo: pg_sys::FunctionCallInfo) -> Internal {
    combine(a, b, fcinfo, BusyTime::merge)
}

#[pg_extern(immutable, strict, parallel_safe, schema = "booking_internal")]
fn busy_time_serialize(mut state: Internal) -> Vec<u8> {
    existing::<BusyTime>(&mut state)
        .expect("a state: the function is strict")
        .to_bytes()
}

#[pg_extern(immutable, strict, parallel_safe, schema = "booking_internal")]
fn busy_time_deserialize(bytes: &[u8], _unused: Internal) -> Internal {
    deserialized(BusyTime::from_bytes(bytes))
}

unsafe extern "C-unwind" {
    // utils/multirangetypes.h (Postgres 14+); pgrx does not bind it. Sorts and merges the
    // ranges (a cheap pass when they already are) and allocates in the current context. It can
    // raise an ERROR: called through pg_guard_ffi_boundary.
    fn make_multirange(
        mltrngtypoid: pg_sys::Oid,
        rangetyp: *mut pg_sys::TypeCacheEntry,
        range_count: i32,
        ranges: *mut *mut pg_sys::RangeType,
    ) -> *mut pg_sys::varlena;
}

/// A `tstzmultirange` value made here (pgrx has no multirange type).
struct TstzMultirange(pg_sys::Datum);

pgrx::impl_sql_translatable!(TstzMultirange, "tstzmultirange");

unsafe impl BoxRet for TstzMultirange {
    unsafe fn box_into<'fcx>(self, fcinfo: &mut FcInfo<'fcx>) -> Datum<'fcx> {
        unsafe { fcinfo.return_raw_datum(self.0) }
    }
}

impl TstzMultirange {
    fn of(spans: &[Span]) -> TstzMultirange {
        let bound = |at: i64, infinite: bool, lower: bool| pg_sys::RangeBound {
            val: pg_sys::Datum::from(at),
            infinite,
            inclusive: lower && !infinite,
            lower,
        };
        unsafe {
            let range_type = pg_sys::lookup_type_cache(
                pg_sys::TSTZRANGEOID,
                pg_sys::TYPECACHE_RANGE_INFO as i32,
            );
            let mut ranges: Vec<*mut pg_sys::RangeType> = spans
                .iter()
                .map(|s| {
                    let mut lower = bound(s.start, s.start == UNBOUNDED_BELOW, true);
                    let mut upper = bound(s.end, s.end == UNBOUNDED_ABOVE, false);
                    // Postgres 16 added a soft-error argument; NULL means "raise".
                    #[cfg(feature = "pg15")]
                    let range = pg_sys::make_range(range_type, &mut lower, &mut upper, false);
                    #[cfg(not(feature = "pg15"))]
                    let range = pg_sys::make_range(
                        range_type,
                        &mut lower,
                        &mut upper,
                        false,
                        std::ptr::null_mut(),
                    );
                    range
                })
                .collect();
            let multirange = pg_sys::ffi::pg_guard_ffi_boundary(|| {
                make_multirange(
                    pg_sys::TSTZMULTIRANGEOID,
                    range_type,
                    ranges.len() as i32,
                    ranges.as_mut_ptr(),
                )
            });
            TstzMultirange(pg_sys::Datum::from(multirange))
        }
    }
}

fn minutes(micros: Result<i64, AggregateError>) -> f64 {
    reported(micros) as f64 / MICROS_PER_MINUTE as f64
}

/// NULL without a non-NULL range, as range_agg.
#[pg_extern(immutable, parallel_safe, schema = "booking_internal")]
fn busy_union_final(mut state: Internal) -> Option<TstzMultirange> {
    existing::<BusyTime>(&mut state)?
        .union()
        .map(TstzMultirange::of)
}

#[pg_extern(immutable, parallel_safe, schema = "booking_internal")]
fn busy_minutes_final(mut state: Internal) -> f64 {
    existing::<BusyTime>(&mut state).map_or(0.0, |s| minutes(s.micros()))
}

#[pg_extern(immutable, parallel_safe, schema = "booking_internal")]
fn busy_time_moving_trans(
    state: Internal,
    during: Option<TstzRangeArg>,
    fcinfo: pg_sys::FunctionCallInfo,
) -> Internal {
    transition(
        state,
        fcinfo,
        during,
        |busy: &mut MovingBusyTime, during| busy.add(during.span()),
    )
}

#[pg_extern(immutable, parallel_safe, schema = "booking_internal")]
fn busy_time_moving_inverse(
    state: Internal,
    during: Option<TstzRangeArg>,
    fcinfo: pg_sys::FunctionCallInfo,
) -> Internal {
    transition(
        state,
        fcinfo,
        during,
        |busy: &mut MovingBusyTime, during| busy.remove(during.span()),
    )
}

#[pg_extern(immutable, parallel_safe, schema = "booking_internal")]
fn busy_union_moving_final(mut state: Internal) -> Option<TstzMultirange> {
    existing::<MovingBusyTime>(&mut state)?
        .union()
        .map(|u| TstzMultirange::of(&u))
}

#[pg_extern(immutable, parallel_safe, schema = "booking_internal")]
fn busy_minutes_moving_final(mut state: Internal) -> f64 {
    existing::<MovingBusyTime>(&mut state).map_or(0.0, |s| minutes(s.micros()))
}

extension_sql!(
    r#"
CREATE AGGREGATE booking.busy_union(during tstzrange) (
  SFUNC = booking_internal.busy_time_trans, STYPE = internal, FINALFUNC = booking_internal.busy_union_final,
  COMBINEFUNC = booking_internal.busy_time_combine,
  SERIALFUNC = booking_internal.busy_time_serialize, DESERIALFUNC = booking_internal.busy_time_deserialize,
  MSFUNC = booking_internal.busy_time_moving_trans, MINVFUNC = booking_internal.busy_time_moving_inverse,
  MSTYPE = internal, MFINALFUNC = booking_internal.busy_union_moving_final,
  PARALLEL = SAFE
);
COMMENT ON AGGREGATE booking.busy_union(tstzrange) IS 'The union of the ranges as a tstzmultirange in [) form, as range_agg gives for [) ranges (faster, and parallel); NULL without a non-NULL range, empty when all are empty; unbounded ranges count; -infinity/infinity bounds are 22023. Moving form for sliding window frames.';
"#,
    name = "busy_union",
    requires = [
        busy_time_trans,
        busy_union_final,
        busy_time_combine,
        busy_time_serialize,
        busy_time_deserialize,
        busy_time_moving_trans,
        busy_time_moving_inverse,
        busy_union_moving_final
    ]
);

extension_sql!(
    r#"
CREATE AGGREGATE booking.busy_minutes(during tstzrange) (
  SFUNC = booking_internal.busy_time_trans, STYPE = internal, FINALFUNC = booking_internal.busy_minutes_final,
  COMBINEFUNC = booking_internal.busy_time_combine,
  SERIALFUNC = booking_internal.busy_time_serialize, DESERIALFUNC = booking_internal.busy_time_deserialize,
  MSFUNC = booking_internal.busy_time_moving_trans, MINVFUNC = booking_internal.busy_time_moving_inverse,
  MSTYPE = internal, MFINALFUNC = booking_internal.busy_minutes_moving_final,
  PARALLEL = SAFE
);
COMMENT ON AGGREGATE booking.busy_minutes(tstzrange) IS 'The length in minutes of the union of the ranges (overlaps counted once); 0 without rows. Skips NULL ranges, empty ones hold nothing; an unbounded range and -infinity/infinity bounds are 22023. Parallel; moving form for sliding window frames.';
"#,
    name = "busy_minutes",
    requires = [
        busy_time_trans,
        busy_minutes_final,
        busy_time_combine,
        busy_time_serialize,
        busy_time_deserialize,
        busy_time_moving_trans,
        busy_time_moving_inverse,
        busy_minutes_moving_final
    ]
);

// ---------------------------------------------------------------------------------------------
// utilization(during tstzrange, seats int, capacity int, open_time tstzrange) returns double
// precision: one state for plain and moving use (its inverse is exact)
// ---------------------------------------------------------------------------------------------

/// A row's values for Utilization, or None when its range or seats are NULL (skipped). The
/// capacity and opening period are parameters, not data: NULL or empty is an error.
fn utilization_row(
    during: Option<TstzRangeArg>,
    seats: Option<i32>,
    capacity: Option<i32>,
    open_time: Option<TstzRangeArg>,
) -> Option<(Option<Span>, i32, i32, Span)> {
    let (during, seats) = (during?, seats?);
    let capacity = capacity.unwrap_or_else(|| invalid_parameter("capacity must not be NULL"));
    let open = open_time.unwrap_or_else(|| invalid_parameter("open_time must not be NULL"));
    let open = open
        .span()
        .unwrap_or_else(|| invalid_parameter("open_time must not be empty"));
    Some((during.span(), seats, capacity, open))
}

#[pg_extern(immutable, parallel_safe, schema = "booking_internal")]
fn utilization_trans(
    state: Internal,
    during: Option<TstzRangeArg>,
    seats: Option<i32>,
    capacity: Option<i32>,
    open_time: Option<TstzRangeArg>,
    fcinfo: pg_sys::FunctionCallInfo,
) -> Internal {
    transition(
        state,
        fcinfo,
        utilization_row(during, seats, capacity, open_time),
        |u: &mut Utilization, (span, seats, capacity, open)| {
            reported(u.add(span, seats, capacity, open))
        },
    )
}

#[pg_extern(immutable, parallel_safe, schema = "booking_internal")]
fn utilization_inverse(
    state: Internal,
    during: Option<TstzRangeArg>,
    seats: Option<i32>,
    capacity: Option<i32>,
    open_time: Option<TstzRangeArg>,
    fcinfo: pg_sys::FunctionCallInfo,
) -> Internal {
    transition(
        state,
        fcinfo,
        utilization_row(during, seats, capacity, open_time),
        |u: &mut Utilization, (span, seats, capacity, open)| {
            reported(u.remove(span, seats, capacity, open))
        },
    )
}

#[pg_extern(immutable, parallel_safe, schema = "booking_internal")]
fn utilization_combine(a: Internal, b: Internal, fcinfo: pg_sys::FunctionCallInfo) -> Internal {
    combine(a, b, fcinfo, |a: &mut Utilization, b| reported(a.merge(&b)))
}

#[pg_extern(immutable, strict, parallel_safe, schema = "booking_internal")]
fn utilization_serialize(mut state: Internal) -> Vec<u8> {
    existing::<Utilization>(&mut state)
        .expect("a state: the function is strict")
        .to_bytes()
}

#[pg_extern(immutable, strict, parallel_safe, schema = "booking_internal")]
fn utilization_deserialize(bytes: &[u8], _unused: Internal) -> Internal {
    deserialized(Utilization::from_bytes(bytes))
}

#[pg_extern(immutable, parallel_safe, schema = "booking_internal")]
fn utilization_final(mut state: Internal) -> f64 {
    existing::<Utilization>(&mut state).map_or(0.0, |s| s.ratio())
}

extension_sql!(
    r#"
-- Seat-time is summed exactly (integer seat-microseconds), so the same state and an exact
-- inverse serve window frames. SSPACE: see FIXED_STATE_SPACE.
CREATE AGGREGATE booking.utilization(during tstzrange, seats integer, capacity integer, open_time tstzrange) (
  SFUNC = booking_internal.utilization_trans, STYPE = internal, SSPACE = 128, FINALFUNC = booking_internal.utilization_final,
  COMBINEFUNC = booking_internal.utilization_combine,
  SERIALFUNC = booking_internal.utilization_serialize, DESERIALFUNC = booking_internal.utilization_deserialize,
  MSFUNC = booking_internal.utilization_trans, MINVFUNC = booking_internal.utilization_inverse,
  MSTYPE = internal, MSSPACE = 128, MFINALFUNC = booking_internal.utilization_final,
  PARALLEL = SAFE
);
COMMENT ON AGGREGATE booking.utilization(tstzrange, integer, integer, tstzrange) IS 'Seat-minutes held inside open_time divided by capacity x the length of open_time; 0 without rows. Skips rows with a NULL range or seats; capacity must be positive and open_time bounded, non-empty and the same in every row (22023 otherwise); bookings may be unbounded. Parallel; moving form for sliding window frames.';
"#,
    name = "utilization",
    requires = [
        utilization_trans,
        utilization_final,
        utilization_combine,
        utilization_serialize,
        utilization_deserialize,
        utilization_inverse
    ]
);

// ---------------------------------------------------------------------------------------------
// rating_summary(rating int) returns jsonb: one state for plain and moving use
// ---------------------------------------------------------------------------------------------

#[pg_extern(immutable, parallel_safe, schema = "booking_internal")]
fn rating_summary_trans(
    state: Internal,
    rating: Option<i32>,
    fcinfo: pg_sys::FunctionCallInfo,
) -> Internal {
    transition(
        state,
        fcinfo,
        rating,
        |summary: &mut RatingSummary, rating| reported(summary.add(rating)),
    )
}

#[pg_extern(immutable, parallel_safe, schema = "booking_internal")]
fn rating_summary_inverse(
    state: Internal,
    rating: Option<i32>,
    fcinfo: pg_sys::FunctionCallInfo,
) -> Internal {
    transition(
        state,
        fcinfo,
        rating,
        |summary: &mut RatingSummary, rating| reported(summary.remove(rating)),
    )
}

#[pg_extern(immutable, parallel_safe, schema = "booking_internal")]
fn rating_summary_combine(a: Internal, b: Internal, fcinfo: pg_sys::FunctionCallInfo) -> Internal {
    combine(a, b, fcinfo, |a: &mut RatingSummary, b| a.merge(&b))
}

#[pg_extern(immutable, strict, parallel_safe, schema = "booking_internal")]
fn rating_summary_serialize(mut state: Internal) -> Vec<u8> {
    existing::<RatingSummary>(&mut state)
        .expect("a state: the function is strict")
        .to_bytes()
}

#[pg_extern(immutable, strict, parallel_safe, schema = "booking_internal")]
fn rating_summary_deserialize(bytes: &[u8], _unused: Internal) -> Internal {
    deserialized(RatingSummary::from_bytes(bytes))
}

/// `{"count": n, "average": 4.33 or null, "histogram": {"1": n1, …, "5": n5}}`; the zero
/// summary without ratings.
#[pg_extern(immutable, parallel_safe, schema = "booking_internal")]
fn rating_summary_final(mut state: Internal) -> JsonB {
    let summary = existing::<RatingSummary>(&mut state)
        .copied()
        .unwrap_or_default();
    let histogram: serde_json::Map<String, serde_json::Value> = (1..=5)
        .map(|stars| (stars.to_string(), summary.histogram()[stars - 1].into()))
        .collect();
    JsonB(serde_json::json!({
        "count": summary.count(),
        "average": summary.average_hundredths().map(|h| h as f64 / 100.0),
        "histogram": histogram,
    }))
}

extension_sql!(
    r#"
-- SSPACE: see FIXED_STATE_SPACE.
CREATE AGGREGATE booking.rating_summary(rating integer) (
  SFUNC = booking_internal.rating_summary_trans, STYPE = internal, SSPACE = 128, FINALFUNC = booking_internal.rating_summary_final,
  COMBINEFUNC = booking_internal.rating_summary_combine,
  SERIALFUNC = booking_internal.rating_summary_serialize, DESERIALFUNC = booking_internal.rating_summary_deserialize,
  MSFUNC = booking_internal.rating_summary_trans, MINVFUNC = booking_internal.rating_summary_inverse,
  MSTYPE = internal, MSSPACE = 128, MFINALFUNC = booking_internal.rating_summary_final,
  PARALLEL = SAFE
);
COMMENT ON AGGREGATE booking.rating_summary(integer) IS 'Ratings 1 to 5 summarised as jsonb {"count", "average" (rounded to hundredths, null without ratings), "histogram": {"1".."5"}}, as seed 004''s review statistics; skips NULL ratings, others outside 1-5 are 22023. Parallel; moving form for sliding window frames.';
"#,
    name = "rating_summary",
    requires = [
        rating_summary_trans,
        rating_summary_final,
        rating_summary_combine,
        rating_summary_serialize,
        rating_summary_deserialize,
        rating_summary_inverse
    ]
);
