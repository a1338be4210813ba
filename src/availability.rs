//! SQL bindings of the availability engine (`booking_core::availability`): read a resource's
//! schedule once per call, hand plain values to the engine, return its answer.
//!
//! These functions run as the extension owner so that they can count every booking and
//! exception, and check themselves that the caller may see the resource, with the same rule as
//! the resources policy: members of its organization, anyone for a bookable resource of a public
//! organization, and roles that bypass row-level security. They return times only, never who
//! booked.

use booking_core::availability::{
    self, AvailabilityError, Booking, Exception, ExceptionKind, Interval, Request, Resource, WeeklyRule,
    MICROS_PER_MINUTE,
};
use booking_core::chrono_tz::Tz;
use pgrx::prelude::*;
use pgrx::spi::SpiClient;
use pgrx::Uuid;

use crate::errors::invalid_parameter;

/// Microseconds from the Unix epoch to Postgres's (2000-01-01).
const PG_EPOCH_MICROS: i64 = 946_684_800_000_000;
const MICROS_PER_DAY: i64 = availability::MICROS_PER_DAY;

fn to_unix(t: TimestampWithTimeZone, what: &str) -> i64 {
    if !t.is_finite() {
        invalid_parameter(format!("{what} must be a finite time"));
    }
    t.into_inner() + PG_EPOCH_MICROS
}

fn from_unix(micros: i64) -> TimestampWithTimeZone {
    TimestampWithTimeZone::try_from(micros - PG_EPOCH_MICROS).expect("a timestamp in range")
}

fn required<T>(value: Option<T>, name: &str) -> T {
    value.unwrap_or_else(|| invalid_parameter(format!("{name} must not be NULL")))
}

fn engine_error(e: AvailabilityError) -> ! {
    invalid_parameter(e.to_string())
}

/// Does the role the caller acts as (outside this SECURITY DEFINER function) bypass RLS?
fn caller_bypasses_rls() -> bool {
    unsafe { pgrx::pg_sys::has_bypassrls_privilege(pgrx::pg_sys::GetOuterUserId()) }
}

/// A resource's schedule as the engine wants it, plus the rules that depend on "now".
struct Schedule {
    resource: Resource,
    organization_id: Uuid,
    min_notice_minutes: i64,
    max_advance_days: Option<i64>,
    now: i64,
}

fn parse_time_zone(name: &str) -> Tz {
    name.parse()
        .unwrap_or_else(|_| invalid_parameter(format!("unknown time zone \"{name}\"")))
}

/// Reads the resource (if the caller may see it) and the service's rules.
fn load_resource(client: &SpiClient, resource_id: Uuid, service_id: Option<Uuid>) -> Schedule {
    let rows = client
        .select(
            "SELECT r.organization_id, coalesce(r.time_zone, o.time_zone), r.capacity,
                    r.buffer_before_minutes, r.buffer_after_minutes, r.slot_interval_minutes,
                    coalesce(sr.min_notice_minutes, r.min_notice_minutes),
                    coalesce(sr.max_advance_days, r.max_advance_days),
                    $2::uuid IS NULL OR s.id IS NOT NULL, now()
             FROM booking.resources r
             JOIN booking.organizations o ON o.id = r.organization_id
             LEFT JOIN booking.services s ON s.id = $2 AND s.organization_id = r.organization_id AND s.is_active
             LEFT JOIN booking.service_rules sr ON sr.service_id = s.id
             WHERE r.id = $1
               AND ($3 OR r.organization_id = ANY (booking.user_organization_ids())
                    OR (r.is_bookable AND o.is_public))",
            None,
            &[resource_id.into(), service_id.into(), caller_bypasses_rls().into()],
        )
        .expect("reading the resource");
    let Some(row) = rows.into_iter().next() else {
        invalid_parameter(format!("unknown resource {resource_id}"));
    };
    let get_i64 = |n: usize| row.get::<i32>(n).expect("a column").map(|v| v as i64);
    if !row.get::<bool>(9).unwrap().unwrap_or(false) {
        invalid_parameter(format!("unknown or inactive service {}", service_id.unwrap()));
    }
    let tz = parse_time_zone(&row.get::<String>(2).unwrap().unwrap());
    let organization_id = row.get::<Uuid>(1).unwrap().unwrap();
    let resource = Resource {
        tz,
        rules: vec![],
        exceptions: vec![],
        capacity: get_i64(3).unwrap() as i32,
        buffer_before: get_i64(4).unwrap() * MICROS_PER_MINUTE,
        buffer_after: get_i64(5).unwrap() * MICROS_PER_MINUTE,
        slot_interval: get_i64(6).map(|m| m * MICROS_PER_MINUTE),
    };
    Schedule {
        resource,
        organization_id,
        min_notice_minutes: get_i64(7).unwrap_or(0),
        max_advance_days: get_i64(8),
        now: to_unix(row.get::<TimestampWithTimeZone>(10).unwrap().unwrap(), "now()"),
    }
}

/// Weekly rules (the resource's own, else its organization's) and the exceptions touching
/// `span`, organization-wide ones included. `resource_id` None: the organization's.
fn load_hours(client: &SpiClient, organization_id: Uuid, resource_id: Option<Uuid>, span: Interval, res: &mut Resource) {
    let rules = client
        .select(
            "WITH own AS (
               SELECT day_of_week, start_time, end_time FROM booking.availability_rules
               WHERE organization_id = $1 AND resource_id = $2)
             SELECT day_of_week::int4, (extract(epoch FROM start_time) * 1000000)::int8,
                    (extract(epoch FROM end_time) * 1000000)::int8 FROM own
             UNION ALL
             SELECT day_of_week::int4, (extract(epoch FROM start_time) * 1000000)::int8,
                    (extract(epoch FROM end_time) * 1000000)::int8
             FROM booking.availability_rules
             WHERE organization_id = $1 AND resource_id IS NULL AND NOT EXISTS (SELECT 1 FROM own)",
            None,
            &[organization_id.into(), resource_id.into()],
        )
        .expect("reading the rules");
    res.rules = rules
        .into_iter()
        .map(|r| WeeklyRule {
            day_of_week: r.get::<i32>(1).unwrap().unwrap() as u32,
            start: r.get::<i64>(2).unwrap().unwrap(),
            end: r.get::<i64>(3).unwrap().unwrap(),
        })
        .collect();
    let exceptions = client
        .select(
            "SELECT lower(during), upper(during), kind = 'open' FROM booking.availability_exceptions
             WHERE organization_id = $1 AND (resource_id IS NULL OR resource_id = $2)
               AND during && tstzrange($3, $4)",
            None,
            &[organization_id.into(), resource_id.into(), from_unix(span.start).into(), from_unix(span.end).into()],
        )
        .expect("reading the exceptions");
    res.exceptions = exceptions
        .into_iter()
        .map(|r| Exception {
            during: Interval::new(
                to_unix(r.get::<TimestampWithTimeZone>(1).unwrap().unwrap(), "an exception"),
                to_unix(r.get::<TimestampWithTimeZone>(2).unwrap().unwrap(), "an exception"),
            ),
            kind: if r.get::<bool>(3).unwrap().unwrap() { ExceptionKind::Open } else { ExceptionKind::Closed },
        })
        .collect();
}

/// Time-holding bookings of the resource that can touch `span` once buffers are counted.
fn load_bookings(client: &SpiClient, resource_id: Uuid, span: Interval, res: &Resource) -> Vec<Booking> {
    let reach = res.buffer_before + res.buffer_after;
    client
        .select(
            "SELECT starts_at, ends_at, seats FROM booking.bookings
             WHERE resource_id = $1 AND status IN ('pending', 'approved') AND during && tstzrange($2, $3)",
            None,
            &[resource_id.into(), from_unix(span.start - reach).into(), from_unix(span.end + reach).into()],
        )
        .expect("reading the bookings")
        .into_iter()
        .map(|r| Booking {
            during: Interval::new(
                to_unix(r.get::<TimestampWithTimeZone>(1).unwrap().unwrap(), "a booking"),
                to_unix(r.get::<TimestampWithTimeZone>(2).unwrap().unwrap(), "a booking"),
            ),
            seats: r.get::<i32>(3).unwrap().unwrap(),
        })
        .collect()
}

/// The request with notice and horizon resolved against now.
fn request(schedule: &Schedule, window: Interval, duration: i64, seats: i32) -> Request {
    Request {
        window,
        duration,
        seats,
        earliest_start: Some(schedule.now + schedule.min_notice_minutes * MICROS_PER_MINUTE),
        latest_start: schedule.max_advance_days.map(|d| schedule.now + d * MICROS_PER_DAY),
    }
}

/// Open time is read from a few days before the window (the grid's anchor may lie there).
fn hours_span(window: Interval) -> Interval {
    Interval::new(window.start - (availability::LOOKBACK_DAYS + 2) * MICROS_PER_DAY, window.end + MICROS_PER_DAY)
}

/// Everything the engine needs for one request on a resource, read once: the resource (if the
/// caller may see it) with its hours, the validated request, and the bookings that can touch
/// the window. `on_grid`: the request asks for slots, so the resource's slot interval counts
/// towards the limit on candidates.
fn load_for(
    resource_id: Uuid,
    service_id: Option<Uuid>,
    window: Interval,
    duration: i64,
    seats: i32,
    on_grid: bool,
) -> (Resource, Vec<Booking>, Request) {
    Spi::connect(|client| {
        let mut schedule = load_resource(client, resource_id, service_id);
        let req = request(&schedule, window, duration, seats);
        let slot_interval = if on_grid { schedule.resource.slot_interval } else { None };
        availability::validate_request(slot_interval, &req).unwrap_or_else(|e| engine_error(e));
        load_hours(client, schedule.organization_id, Some(resource_id), hours_span(window), &mut schedule.resource);
        let bookings = load_bookings(client, resource_id, window, &schedule.resource);
        (schedule.resource, bookings, req)
    })
}

/// The free slots of a resource in a window: where a booking of `p_duration_minutes` and
/// `p_seats` could start. See the README's "Availability" section for the exact semantics.
#[pg_extern(stable, security_definer)]
#[search_path(pg_catalog, pg_temp)]
pub fn get_available_slots(
    p_resource_id: Option<Uuid>,
    p_start: Option<TimestampWithTimeZone>,
    p_end: Option<TimestampWithTimeZone>,
    p_duration_minutes: default!(Option<i32>, 60),
    p_service_id: default!(Option<Uuid>, "NULL"),
    p_seats: default!(Option<i32>, 1),
) -> TableIterator<'static, (name!(slot_start, TimestampWithTimeZone), name!(slot_end, TimestampWithTimeZone))> {
    let resource_id = required(p_resource_id, "p_resource_id");
    let window = Interval::new(
        to_unix(required(p_start, "p_start"), "p_start"),
        to_unix(required(p_end, "p_end"), "p_end"),
    );
    let duration = required(p_duration_minutes, "p_duration_minutes") as i64 * MICROS_PER_MINUTE;
    let seats = required(p_seats, "p_seats");
    let (resource, bookings, req) = load_for(resource_id, p_service_id, window, duration, seats, true);
    let slots = availability::available_slots(&resource, &bookings, &req).unwrap_or_else(|e| engine_error(e));
    TableIterator::new(slots.into_iter().map(|s| (from_unix(s.start), from_unix(s.end))))
}

/// Why a booking would be refused now, or None: the one check behind can_book_resource,
/// booking_refusal and book().
fn refusal_of(
    resource_id: Option<Uuid>,
    start: Option<TimestampWithTimeZone>,
    end: Option<TimestampWithTimeZone>,
    seats: Option<i32>,
    service_id: Option<Uuid>,
) -> Option<availability::Refusal> {
    let resource_id = required(resource_id, "p_resource_id");
    let start = to_unix(required(start, "the start"), "the start");
    let end = to_unix(required(end, "the end"), "the end");
    let seats = required(seats, "the number of seats");
    let (resource, bookings, req) = load_for(resource_id, service_id, Interval::new(start, end), end - start, seats, false);
    availability::refusal(&resource, &bookings, &req, start, end).unwrap_or_else(|e| engine_error(e))
}

/// True exactly when a booking of `[p_start_time, p_end_time)` with `p_capacity_needed` seats
/// would be accepted now: opening hours, exceptions, buffers, notice, horizon and capacity.
/// The same checks as get_available_slots, without asking for a start on the slot grid.
#[pg_extern(stable, security_definer)]
#[search_path(pg_catalog, pg_temp)]
pub fn can_book_resource(
    p_resource_id: Option<Uuid>,
    p_start_time: Option<TimestampWithTimeZone>,
    p_end_time: Option<TimestampWithTimeZone>,
    p_capacity_needed: default!(Option<i32>, 1),
) -> bool {
    refusal_of(p_resource_id, p_start_time, p_end_time, p_capacity_needed, None).is_none()
}

/// Why book() would refuse this booking now: 'closed', 'notice', 'horizon', 'overlap' or
/// 'capacity'; NULL when it would be accepted.
#[pg_extern(stable, security_definer)]
#[search_path(pg_catalog, pg_temp)]
pub fn booking_refusal(
    p_resource_id: Option<Uuid>,
    p_start: Option<TimestampWithTimeZone>,
    p_end: Option<TimestampWithTimeZone>,
    p_seats: default!(Option<i32>, 1),
    p_service_id: default!(Option<Uuid>, "NULL"),
) -> Option<&'static str> {
    refusal_of(p_resource_id, p_start, p_end, p_seats, p_service_id).map(|r| r.code())
}

/// The open periods of one local day of an organization (or one of its resources), as instants,
/// with the time zone they were computed in. calculate_business_hours presents them.
#[pg_extern(stable, security_definer)]
#[search_path(pg_catalog, pg_temp)]
pub fn open_periods(
    p_organization_id: Option<Uuid>,
    p_date: Option<pgrx::datum::Date>,
    p_resource_id: default!(Option<Uuid>, "NULL"),
) -> TableIterator<
    'static,
    (name!(period_start, TimestampWithTimeZone), name!(period_end, TimestampWithTimeZone), name!(time_zone, String)),
> {
    let organization_id = required(p_organization_id, "p_organization_id");
    let date = required(p_date, "p_date");
    if !date.is_finite() {
        invalid_parameter("p_date must be a finite date");
    }
    let periods = Spi::connect(|client| {
        let (tz_name, resource) = match p_resource_id {
            Some(resource_id) => {
                let schedule = load_resource(client, resource_id, None);
                if schedule.organization_id != organization_id {
                    invalid_parameter(format!("resource {resource_id} does not belong to organization {organization_id}"));
                }
                (schedule.resource.tz.name().to_owned(), schedule.resource)
            }
            None => {
                let tz: Option<String> = client
                    .select(
                        "SELECT time_zone FROM booking.organizations
                         WHERE id = $1 AND ($2 OR is_public OR id = ANY (booking.user_organization_ids()))",
                        None,
                        &[organization_id.into(), caller_bypasses_rls().into()],
                    )
                    .expect("reading the organization")
                    .into_iter()
                    .next()
                    .and_then(|r| r.get::<String>(1).unwrap());
                let name = tz.unwrap_or_else(|| invalid_parameter(format!("unknown organization {organization_id}")));
                let tz = parse_time_zone(&name);
                (name, Resource { tz, rules: vec![], exceptions: vec![], capacity: 1, buffer_before: 0, buffer_after: 0, slot_interval: None })
            }
        };
        let mut resource = resource;
        let day = booking_core::chrono::NaiveDate::from_ymd_opt(date.year(), date.month() as u32, date.day() as u32).expect("a date");
        let day_span = Interval::new(
            availability::local_to_utc(resource.tz, day.and_hms_opt(0, 0, 0).unwrap()),
            availability::local_to_utc(resource.tz, day.succ_opt().unwrap().and_hms_opt(0, 0, 0).unwrap()),
        );
        load_hours(client, organization_id, p_resource_id, hours_span(day_span), &mut resource);
        availability::open_time(&resource, day_span).into_iter().map(move |p| (p, tz_name.clone())).collect::<Vec<_>>()
    });
    TableIterator::new(periods.into_iter().map(|(p, tz)| (from_unix(p.start), from_unix(p.end), tz)))
}
