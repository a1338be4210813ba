//! SQL bindings of the reporting aggregates (`booking_core::reporting`): the transition,
//! combine, serialisation, final and inverse functions, and the `CREATE AGGREGATE` statements
//! that make them `booking.peak_seats`, `busy_union`, `busy_minutes`, `utilization` and
//! `rating_summary` (their documentation and privileges: `reporting.sql` beside this file).
//!
//! States are `internal`: a Rust value created in the aggregate's memory context on the first
//! row and dropped when Postgres frees that context. A row whose data is NULL (the range, the
//! seats, the rating) is skipped, as SQL aggregates skip NULLs; other bad input is 22023.
//!
//! The final functions of peak seats and busy time sort their state in place. That keeps its
//! meaning (the same seat changes, the same union), so Postgres may still call the final
//! function again or add rows afterwards, as it does for window frames: the aggregates keep the
//! default FINALFUNC_MODIFY = READ_ONLY.

use booking_core::reporting::{
    AggregateError, BusyTime, Interval, MovingBusyTime, MovingPeakSeats, PeakSeats, RatingSummary,
    Utilization, MICROS_PER_MINUTE,
};
use pgrx::datum::Internal;
use pgrx::prelude::*;
use pgrx::{pg_sys, JsonB};

use crate::postgres::aggregate_state::{combine, deserialized, existing, transition};
use crate::postgres::errors::invalid_parameter;
use crate::postgres::ranges::TstzMultirange;
pub use crate::postgres::ranges::TstzRangeArg;

fn reported<T>(result: Result<T, AggregateError>) -> T {
    result.unwrap_or_else(|e| invalid_parameter(e.to_string()))
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

// ---------------------------------------------------------------------------------------------
// peak_seats(during tstzrange, seats int) returns int
// ---------------------------------------------------------------------------------------------

fn seats_row(during: Option<TstzRangeArg>, seats: Option<i32>) -> Option<(Option<Interval>, i32)> {
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
) -> Option<(Option<Interval>, i32, i32, Interval)> {
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

// The aggregates' support functions documented and closed, and the daily usage view.
extension_sql_file!(
    "reporting.sql",
    name = "reporting",
    requires = [
        "availability",
        "peak_seats",
        "busy_union",
        "busy_minutes",
        "utilization",
        "rating_summary"
    ]
);

#[cfg(any(test, feature = "pg_test"))]
#[pg_schema]
mod tests {
    use pgrx::prelude::*;

    #[pg_test]
    fn reporting_aggregates_equal_plain_sql_in_groups_windows_and_parallel_plans() {
        crate::testing::run_suite(include_str!("../../tests/sql/reporting/aggregates.sql"));
    }
    /// The aggregates read tstzrange arguments from their bytes: as Postgres reads them, for
    /// every kind of bound, stored (short header) and computed (4-byte header).
    #[pg_test]
    fn tstzrange_arguments_are_read_in_place_as_postgres_reads_them() -> Result<(), spi::Error> {
        use crate::reporting::TstzRangeArg;
        Spi::run(
            "CREATE TEMP TABLE ranges (r tstzrange);
             INSERT INTO ranges VALUES ('[2030-01-01 10:00Z,2030-01-01 11:00Z)'), ('(2030-01-01 10:00Z,2030-01-01 11:00Z]'),
               ('[2030-01-01 10:00Z,2030-01-01 10:00Z]'), ('(2030-01-01 10:00Z,2030-01-01 10:00:00.000001Z)'), ('empty'),
               ('(,)'), ('[2030-01-01,)'), ('(,2030-01-01]'), ('[-infinity,infinity]'), ('(-infinity,2030-01-01)'),
               ('[4713-11-24 00:00Z BC,294276-12-31 23:59:59.999999Z]')",
        )?;
        Spi::connect(|client| {
            let rows = client.select("SELECT r, r * '(,)'::tstzrange FROM ranges", None, &[])?;
            let mut seen = 0;
            for row in rows {
                for column in [1, 2] {
                    let range = row.get::<TstzRangeArg>(column)?.expect("a range");
                    assert_eq!(
                        range.bounds_in_place(),
                        Some(range.bounds_via_postgres()),
                        "row {seen}, column {column}"
                    );
                }
                seen += 1;
            }
            assert_eq!(seen, 11);
            Ok(())
        })
    }

    /// The fixed-size states' SSPACE and MSSPACE in the catalog are the value the Rust side
    /// checks against the states' real size (the SQL can only write it as a literal).
    #[pg_test]
    fn declared_state_space_is_the_checked_one() {
        for aggregate in ["booking.utilization", "booking.rating_summary"] {
            let spaces = Spi::get_two::<i32, i32>(&format!(
                "SELECT aggtransspace, aggmtransspace FROM pg_aggregate WHERE aggfnoid = '{aggregate}'::regproc"
            ))
            .unwrap();
            let expected = Some(crate::reporting::FIXED_STATE_SPACE as i32);
            assert_eq!(spaces, (expected, expected), "{aggregate}");
        }
    }
}
