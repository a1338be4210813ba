//! Recurring series (issue 19): the SQL bindings of the core's series expansion
//! (`booking_core::series`) and the series module's SQL (`series.sql`: the `booking_series`
//! table, `bookings.series_id`, and the RPCs that book, preview and change a series).
//!
//! `preview_series` reads the resource's schedule and its bookings once for the whole series,
//! expands the pattern in the resource's time zone and asks the slot engine, occurrence by
//! occurrence, why each would be refused (the reason `booking_refusal` gives). The two internal
//! functions let the module's PL/pgSQL canonicalise a pattern and expand it without repeating the
//! core's rules.

use booking_core::availability::{self, Interval, MICROS_PER_DAY};
use booking_core::chrono::{DateTime, NaiveDate, NaiveDateTime};
use booking_core::chrono_tz::Tz;
use booking_core::series::{self, End, Freq, Pattern, SeriesError, Until, MAX_HORIZON_DAYS};
use pgrx::prelude::*;

use crate::availability::{hours_span, load_resources, request, required};
use crate::postgres::errors::invalid_parameter;
use crate::postgres::holding_bookings::holding_bookings;
use crate::postgres::{timestamptz_from_unix as from_unix, unix_micros as to_unix};

/// The core's refusal of a pattern or series, as 22023 with its message.
fn series_error(e: SeriesError) -> ! {
    invalid_parameter(e.to_string())
}

fn parse(rrule: Option<String>) -> Pattern {
    Pattern::parse_rrule(&required(rrule, "p_rrule")).unwrap_or_else(|e| series_error(e))
}

fn time_zone(name: &str) -> Tz {
    name.parse()
        .unwrap_or_else(|_| invalid_parameter(format!("unknown time zone \"{name}\"")))
}

/// The local wall-clock time of an instant (Unix microseconds) in a zone.
fn local_of(micros: i64, tz: Tz) -> NaiveDateTime {
    DateTime::from_timestamp_micros(micros)
        .unwrap_or_else(|| invalid_parameter("the start is out of range"))
        .with_timezone(&tz)
        .naive_local()
}

const UNIX_EPOCH_DAYS_FROM_CE: i32 = 719_163;

fn naive_date(d: pgrx::datum::Date, what: &str) -> NaiveDate {
    if !d.is_finite() {
        invalid_parameter(format!("{what} must be a finite date"));
    }
    NaiveDate::from_num_days_from_ce_opt(d.to_unix_epoch_days() + UNIX_EPOCH_DAYS_FROM_CE)
        .unwrap_or_else(|| invalid_parameter(format!("{what} is out of range")))
}

fn pg_date(d: NaiveDate) -> pgrx::datum::Date {
    use booking_core::chrono::Datelike;
    pgrx::datum::Date::new(d.year(), d.month() as u8, d.day() as u8).expect("a date in range")
}

/// The canonical RRULE text of a pattern and the seed's fields: frequency, interval, week days
/// (0 = Sunday), month days, end_date (an UNTIL date; NULL for an UNTIL instant) and end_after
/// (COUNT). 22023 with the core's message for a pattern outside the supported subset.
#[pg_extern(immutable, parallel_safe, schema = "booking_internal")]
#[search_path(pg_catalog, pg_temp)]
// pgrx spells a RETURNS TABLE as a tuple of name! columns; a type alias cannot carry the names.
#[allow(clippy::type_complexity)]
pub fn series_pattern(
    p_rrule: Option<String>,
) -> TableIterator<
    'static,
    (
        name!(rrule, String),
        name!(frequency, String),
        name!(interval, i32),
        name!(week_days, Vec<i32>),
        name!(month_days, Vec<i32>),
        name!(end_date, Option<pgrx::datum::Date>),
        name!(end_after, Option<i32>),
    ),
> {
    let pattern = parse(p_rrule);
    let frequency = match pattern.freq {
        Freq::Daily => "daily",
        Freq::Weekly => "weekly",
        Freq::Monthly => "monthly",
    };
    let (end_date, end_after) = match pattern.end {
        End::Count(n) => (None, Some(n as i32)),
        End::Until(Until::Date(d)) => (Some(pg_date(d)), None),
        End::Until(Until::Instant(_)) => (None, None),
    };
    let row = (
        pattern.to_string(),
        frequency.to_owned(),
        pattern.interval as i32,
        pattern
            .by_day
            .iter()
            .map(|d| d.num_days_from_sunday() as i32)
            .collect(),
        pattern.by_month_day.iter().map(|&d| d as i32).collect(),
        end_date,
        end_after,
    );
    TableIterator::once(row)
}

/// The occurrences of a series: its pattern, the first occurrence's local start (wall-clock
/// time in `p_time_zone`), the duration of each (elapsed time) and the skipped local dates.
/// The core's rules (docs/series.md); 22023 with its message for a series it refuses.
#[pg_extern(stable, parallel_safe, schema = "booking_internal")]
#[search_path(pg_catalog, pg_temp)]
pub fn expand_series(
    p_rrule: Option<String>,
    p_first_local: Option<pgrx::datum::Timestamp>,
    p_duration: Option<pgrx::datum::Interval>,
    p_time_zone: Option<String>,
    p_skipped: default!(Option<Vec<Option<pgrx::datum::Date>>>, "'{}'"),
) -> TableIterator<
    'static,
    (
        name!(local_date, pgrx::datum::Date),
        name!(occurrence_start, TimestampWithTimeZone),
        name!(occurrence_end, TimestampWithTimeZone),
    ),
> {
    let pattern = parse(p_rrule);
    let first = required(p_first_local, "p_first_local");
    if !first.is_finite() {
        invalid_parameter("p_first_local must be a finite time");
    }
    let first_micros = pg_sys::Timestamp::from(first) + 946_684_800_000_000;
    let first = DateTime::from_timestamp_micros(first_micros)
        .expect("a timestamp in range")
        .naive_utc();
    let duration = required(p_duration, "p_duration");
    if duration.months() != 0 {
        invalid_parameter("p_duration must not count months");
    }
    let duration = duration.days() as i64 * MICROS_PER_DAY + duration.micros();
    let tz = time_zone(&required(p_time_zone, "p_time_zone"));
    let skipped: Vec<NaiveDate> = p_skipped
        .unwrap_or_default()
        .into_iter()
        .flatten()
        .map(|d| naive_date(d, "a skipped date"))
        .collect();
    let found = series::occurrences(&pattern, first, duration, tz, &skipped)
        .unwrap_or_else(|e| series_error(e));
    TableIterator::new(
        found
            .into_iter()
            .map(|o| (pg_date(o.local_date), from_unix(o.start), from_unix(o.end))),
    )
}

/// One row per occurrence of the series `book_series` would book with the same arguments:
/// its start, end, and why it would be refused now (NULL when bookable; else the reason
/// booking_refusal gives: closed, notice, horizon, overlap or capacity). The resource's
/// schedule and bookings are read once for the whole series; its time zone is the series'
/// (p_start's local time there is the time of every occurrence; p_end - p_start the duration).
/// Read-only; runs as the owner to count every booking and checks itself that the caller may
/// see the resource.
#[pg_extern(stable, security_definer)]
#[search_path(pg_catalog, pg_temp)]
pub fn preview_series(
    p_resource_id: Option<pgrx::Uuid>,
    p_start: Option<TimestampWithTimeZone>,
    p_end: Option<TimestampWithTimeZone>,
    p_rrule: Option<String>,
    p_seats: default!(Option<i32>, 1),
    p_service_id: default!(Option<pgrx::Uuid>, "NULL"),
) -> TableIterator<
    'static,
    (
        name!(occurrence_start, TimestampWithTimeZone),
        name!(occurrence_end, TimestampWithTimeZone),
        name!(refusal, Option<String>),
    ),
> {
    let resource_id = required(p_resource_id, "p_resource_id");
    let start = to_unix(required(p_start, "p_start"), "p_start");
    let end = to_unix(required(p_end, "p_end"), "p_end");
    let seats = required(p_seats, "p_seats");
    let pattern = parse(p_rrule);
    let rows: Vec<(i64, i64, Option<String>)> = Spi::connect(|client| {
        // The hours of every day a series may reach (the core's horizon), read once.
        let reach = Interval::new(start, start + (MAX_HORIZON_DAYS + 2) * MICROS_PER_DAY);
        let schedule = load_resources(client, &[resource_id], p_service_id, hours_span(reach))
            .pop()
            .expect("one schedule");
        let tz = schedule.resource.tz;
        let found = series::occurrences(&pattern, local_of(start, tz), end - start, tz, &[])
            .unwrap_or_else(|e| series_error(e));
        let buffers = schedule.resource.buffer_before + schedule.resource.buffer_after;
        // Each occurrence's own bookings (those its buffers can touch), read in one pass over
        // the index for the whole series.
        let reaches: Vec<(pgrx::Uuid, i64, i64)> = found
            .iter()
            .map(|o| (schedule.id, o.start - buffers, o.end + buffers))
            .collect();
        let bookings = holding_bookings(client, &reaches);
        found
            .iter()
            .zip(&bookings)
            .map(|(o, bookings)| {
                let window = Interval::new(o.start, o.end);
                let req = request(&schedule, window, o.end - o.start, seats);
                let refusal =
                    availability::refusal(&schedule.resource, bookings, &req, o.start, o.end)
                        .unwrap_or_else(|e| crate::availability::engine_error(e));
                (o.start, o.end, refusal.map(|r| r.code().to_owned()))
            })
            .collect()
    });
    TableIterator::new(
        rows.into_iter()
            .map(|(s, e, r)| (from_unix(s), from_unix(e), r)),
    )
}

extension_sql_file!(
    "series.sql",
    name = "series",
    requires = ["workshops", series_pattern, expand_series, preview_series]
);

#[cfg(any(test, feature = "pg_test"))]
#[pgrx::pg_schema]
mod tests {
    use pgrx::prelude::*;

    #[pg_test]
    fn series_preview_book_skip_and_change_occurrences() {
        crate::testing::run_suite(include_str!("../../tests/sql/series/series.sql"));
    }
}
