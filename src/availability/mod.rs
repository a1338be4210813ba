//! SQL bindings of the availability engine (`booking_core::availability`): read a resource's
//! schedule once per call, hand plain values to the engine, return its answer.
//!
//! These functions run as the extension owner so that they can count every booking and
//! exception, and check themselves that the caller may see the resource, with the rule the
//! resources policy uses (`booking_internal.resource_is_visible`: members of its organization,
//! anyone for a bookable resource of a public organization), and for roles that bypass
//! row-level security. They return times only, never who booked.

use booking_core::availability::{
    self, AvailabilityError, Booking, Exception, ExceptionKind, Interval, PoolMember, Request,
    Resource, WeeklyRule, MICROS_PER_DAY, MICROS_PER_MINUTE,
};
use booking_core::chrono_tz::Tz;
use pgrx::datum::UnboxDatum;
use pgrx::prelude::*;
use pgrx::spi::{SpiClient, SpiHeapTupleData};
use pgrx::{Array, Uuid};

use crate::postgres::errors::invalid_parameter;
use crate::postgres::holding_bookings::holding_bookings;
use crate::postgres::results::materialize;
use crate::postgres::spi::query;
use crate::postgres::{
    caller_bypasses_rls, timestamptz_from_unix as from_unix, unix_micros as to_unix,
};

pub(crate) fn required<T>(value: Option<T>, name: &str) -> T {
    value.unwrap_or_else(|| invalid_parameter(format!("{name} must not be NULL")))
}

pub(crate) fn engine_error(e: AvailabilityError) -> ! {
    invalid_parameter(e.to_string())
}

/// A resource's schedule as the engine wants it, plus the rules that depend on "now".
pub(crate) struct Schedule {
    pub(crate) id: Uuid,
    pub(crate) resource: Resource,
    pub(crate) organization_id: Uuid,
    min_notice_minutes: i64,
    max_advance_days: Option<i64>,
    now: i64,
}

fn parse_time_zone(name: &str) -> Tz {
    name.parse()
        .unwrap_or_else(|_| invalid_parameter(format!("unknown time zone \"{name}\"")))
}

/// Reads the resources (in the order given) that the caller may see, with everything the engine
/// needs but its bookings, in one query (each query costs more to start than the engine's
/// work): the resource and the service's rules, the weekly rules and the exceptions touching
/// `hours`. An id the caller may not see is "unknown", like one that does not exist. The
/// bookings come from `holding_bookings`.
pub(crate) fn load_resources(
    client: &SpiClient,
    ids: &[Uuid],
    service_id: Option<Uuid>,
    hours: Interval,
) -> Vec<Schedule> {
    let rows = query(
        client,
        "SELECT ids.id, res.id IS NOT NULL, res.organization_id, res.time_zone, res.capacity,
                res.buffer_before_minutes, res.buffer_after_minutes, res.slot_interval_minutes,
                coalesce(sr.min_notice_minutes, res.min_notice_minutes),
                coalesce(sr.max_advance_days, res.max_advance_days),
                $2::uuid IS NULL OR s.id IS NOT NULL, now(),
                h.days, h.starts, h.ends, h.own, x.lowers, x.uppers, x.opens, xb.lowers, xb.uppers
         FROM unnest($1::uuid[]) WITH ORDINALITY AS ids(id, ord)
         LEFT JOIN LATERAL (
           SELECT r.id, r.organization_id, coalesce(r.time_zone, o.time_zone) AS time_zone, r.capacity,
                  r.buffer_before_minutes, r.buffer_after_minutes, r.slot_interval_minutes,
                  r.min_notice_minutes, r.max_advance_days
           FROM booking.resources r JOIN booking.organizations o ON o.id = r.organization_id
           WHERE r.id = ids.id
             AND ($3 OR booking_internal.resource_is_visible(
                          EXISTS (SELECT 1 FROM booking.members m
                                  WHERE m.user_id = booking.current_user_id() AND m.organization_id = r.organization_id
                                    AND m.is_active),
                          o.is_public, r.is_bookable))
           ) res ON true
         LEFT JOIN booking.services s ON s.id = $2 AND s.organization_id = res.organization_id AND s.is_active
         LEFT JOIN booking.service_rules sr ON sr.service_id = s.id
         LEFT JOIN LATERAL (
           SELECT array_agg(ar.day_of_week::int4) AS days,
                  array_agg((extract(epoch FROM ar.start_time) * 1000000)::int8) AS starts,
                  array_agg((extract(epoch FROM ar.end_time) * 1000000)::int8) AS ends,
                  array_agg(ar.resource_id IS NOT NULL) AS own
           FROM booking.availability_rules ar
           WHERE ar.organization_id = res.organization_id AND (ar.resource_id IS NULL OR ar.resource_id = res.id)) h ON true
         LEFT JOIN LATERAL (
           SELECT array_agg(lower(e.during)) AS lowers, array_agg(upper(e.during)) AS uppers,
                  array_agg(e.kind = 'open') AS opens
           FROM booking.availability_exceptions e
           WHERE e.organization_id = res.organization_id AND (e.resource_id IS NULL OR e.resource_id = res.id)
             AND e.during && tstzrange($4, $5)) x ON true
         LEFT JOIN LATERAL (
           SELECT array_agg(b.starts_at) AS lowers, array_agg(b.ends_at) AS uppers
           FROM booking.calendar_integration_resources l
           JOIN booking.calendar_integrations ci ON ci.id = l.integration_id
           CROSS JOIN LATERAL (
             SELECT s.starts_at, s.ends_at, s.status, s.transparency FROM booking.calendar_busy s
             WHERE s.integration_id = l.integration_id AND s.ends_at > $4 AND s.ends_at <= $5 + interval '2 days'
               AND s.starts_at < $5 AND s.ends_at - s.starts_at <= interval '2 days'
             UNION ALL
             SELECT g.starts_at, g.ends_at, g.status, g.transparency FROM booking.calendar_busy g
             WHERE g.integration_id = l.integration_id AND g.during && tstzrange($4, $5)
               AND g.ends_at - g.starts_at > interval '2 days') b
           WHERE l.resource_id = res.id AND b.transparency = 'opaque'
             AND (b.status = 'confirmed' OR (b.status = 'tentative' AND ci.tentative_is_busy))) xb ON true
         ORDER BY ids.ord",
        &[
            ids.to_vec().into(),
            service_id.into(),
            caller_bypasses_rls().into(),
            from_unix(hours.start).into(),
            from_unix(hours.end).into(),
        ],
    );
    let mut schedules = Vec::with_capacity(ids.len());
    for row in rows {
        let id = row.get::<Uuid>(1).unwrap().unwrap();
        if !row.get::<bool>(2).unwrap().unwrap() {
            invalid_parameter(format!("unknown resource {id}"));
        }
        if !row.get::<bool>(11).unwrap().unwrap_or(false) {
            invalid_parameter(format!(
                "unknown or inactive service {}",
                service_id.unwrap()
            ));
        }
        let get_i64 = |n: usize| row.get::<i32>(n).expect("a column").map(|v| v as i64);
        let (rules, exceptions) = hours_from(&row, 13);
        schedules.push(Schedule {
            id,
            resource: Resource {
                tz: parse_time_zone(&row.get::<String>(4).unwrap().unwrap()),
                rules,
                exceptions,
                capacity: get_i64(5).unwrap() as i32,
                buffer_before: get_i64(6).unwrap() * MICROS_PER_MINUTE,
                buffer_after: get_i64(7).unwrap() * MICROS_PER_MINUTE,
                slot_interval: get_i64(8).map(|m| m * MICROS_PER_MINUTE),
                external_busy: external_busy_from(&row, 20),
            },
            organization_id: row.get::<Uuid>(3).unwrap().unwrap(),
            min_notice_minutes: get_i64(9).unwrap_or(0),
            max_advance_days: get_i64(10),
            now: to_unix(
                row.get::<TimestampWithTimeZone>(12).unwrap().unwrap(),
                "now()",
            ),
        });
    }
    schedules
}

/// The values of an array column (none for NULL, as array_agg gives over no rows).
fn values<T>(row: &SpiHeapTupleData, n: usize) -> Vec<T>
where
    T: FromDatum + IntoDatum + for<'a> UnboxDatum<As<'a> = T> + 'static,
{
    row.get::<Array<T>>(n)
        .expect("an array column")
        .map(|a| a.iter().map(|v| v.expect("no NULL element")).collect())
        .unwrap_or_default()
}

/// The busy intervals of linked external calendars from the two columns (lower and upper
/// bounds) starting at `first`.
fn external_busy_from(row: &SpiHeapTupleData, first: usize) -> Vec<Interval> {
    let lowers = values::<TimestampWithTimeZone>(row, first);
    let uppers = values::<TimestampWithTimeZone>(row, first + 1);
    lowers
        .into_iter()
        .zip(uppers)
        .map(|(s, e)| {
            Interval::new(
                to_unix(s, "an external event"),
                to_unix(e, "an external event"),
            )
        })
        .collect()
}

/// The weekly rules and exceptions from the seven hours columns starting at `first`: rule days,
/// starts and ends in microseconds after midnight, whether each is the resource's own, then
/// exception starts, ends and whether each opens. A resource with rules of its own uses those
/// only; one without uses its organization's.
fn hours_from(row: &SpiHeapTupleData, first: usize) -> (Vec<WeeklyRule>, Vec<Exception>) {
    let days = values::<i32>(row, first);
    let starts = values::<i64>(row, first + 1);
    let ends = values::<i64>(row, first + 2);
    let own = values::<bool>(row, first + 3);
    let has_own = own.contains(&true);
    let rules = (0..days.len())
        .filter(|&i| own[i] == has_own)
        .map(|i| WeeklyRule {
            day_of_week: days[i] as u32,
            start: starts[i],
            end: ends[i],
        })
        .collect();
    let lowers = values::<TimestampWithTimeZone>(row, first + 4);
    let uppers = values::<TimestampWithTimeZone>(row, first + 5);
    let opens = values::<bool>(row, first + 6);
    let exceptions = (0..lowers.len())
        .map(|i| Exception {
            during: Interval::new(
                to_unix(lowers[i], "an exception"),
                to_unix(uppers[i], "an exception"),
            ),
            kind: if opens[i] {
                ExceptionKind::Open
            } else {
                ExceptionKind::Closed
            },
        })
        .collect();
    (rules, exceptions)
}

/// An organization's own hours (its rules, its organization-wide exceptions touching `hours`)
/// and time zone, if the caller may see it.
fn load_organization_hours(
    client: &SpiClient,
    organization_id: Uuid,
    hours: Interval,
) -> (String, Vec<WeeklyRule>, Vec<Exception>) {
    let rows = query(
        client,
        "SELECT o.time_zone, h.days, h.starts, h.ends, h.own, x.lowers, x.uppers, x.opens
         FROM booking.organizations o
         CROSS JOIN LATERAL (
           SELECT array_agg(ar.day_of_week::int4) AS days,
                  array_agg((extract(epoch FROM ar.start_time) * 1000000)::int8) AS starts,
                  array_agg((extract(epoch FROM ar.end_time) * 1000000)::int8) AS ends,
                  array_agg(false) AS own
           FROM booking.availability_rules ar WHERE ar.organization_id = o.id AND ar.resource_id IS NULL) h
         CROSS JOIN LATERAL (
           SELECT array_agg(lower(e.during)) AS lowers, array_agg(upper(e.during)) AS uppers,
                  array_agg(e.kind = 'open') AS opens
           FROM booking.availability_exceptions e
           WHERE e.organization_id = o.id AND e.resource_id IS NULL AND e.during && tstzrange($3, $4)) x
         WHERE o.id = $1
           AND ($2 OR booking_internal.resource_is_visible(
                        EXISTS (SELECT 1 FROM booking.members m
                                WHERE m.user_id = booking.current_user_id() AND m.organization_id = o.id AND m.is_active),
                        o.is_public, true))",
        &[organization_id.into(), caller_bypasses_rls().into(), from_unix(hours.start).into(), from_unix(hours.end).into()],
    );
    let Some(row) = rows.into_iter().next() else {
        invalid_parameter(format!("unknown organization {organization_id}"));
    };
    let (rules, exceptions) = hours_from(&row, 2);
    (row.get::<String>(1).unwrap().unwrap(), rules, exceptions)
}

/// The request with notice and horizon resolved against now.
pub(crate) fn request(schedule: &Schedule, window: Interval, duration: i64, seats: i32) -> Request {
    Request {
        window,
        duration,
        seats,
        earliest_start: Some(schedule.now + schedule.min_notice_minutes * MICROS_PER_MINUTE),
        latest_start: schedule
            .max_advance_days
            .map(|d| schedule.now + d * MICROS_PER_DAY),
    }
}

/// Open time is read from a few days before the window (the grid's anchor may lie there).
pub(crate) fn hours_span(window: Interval) -> Interval {
    Interval::new(
        window.start - (availability::LOOKBACK_DAYS + 2) * MICROS_PER_DAY,
        window.end + MICROS_PER_DAY,
    )
}

/// How a request is checked for size before its hours and bookings are read.
#[derive(Clone, Copy, PartialEq)]
enum Size {
    /// One booking: no grid, no limit on candidates.
    OneBooking,
    /// A slot list: each resource's grid at most MAX_CANDIDATES starts, the pool's at most
    /// MAX_POOL_CANDIDATES.
    SlotList,
    /// A search for the next slot: the engine checks the pool and the horizon.
    Search,
}

/// A pool of resources read for one request: each with its hours and its request (the window,
/// duration and seats are shared; notice and horizon are each resource's).
struct Pool {
    schedules: Vec<Schedule>,
    requests: Vec<Request>,
    /// Each resource's bookings that can touch the window (not for a search, which reads them
    /// chunk by chunk).
    bookings: Option<Vec<Vec<Booking>>>,
}

impl Pool {
    fn load(
        client: &SpiClient,
        ids: &[Uuid],
        service_id: Option<Uuid>,
        window: Interval,
        duration: i64,
        seats: i32,
        size: Size,
    ) -> Pool {
        let schedules = load_resources(client, ids, service_id, hours_span(window));
        let requests: Vec<Request> = schedules
            .iter()
            .map(|s| request(s, window, duration, seats))
            .collect();
        // Checked before any booking is read, so that a window too long is refused at once.
        if size == Size::SlotList {
            for (s, req) in schedules.iter().zip(&requests) {
                availability::validate_request(s.resource.slot_interval, req)
                    .unwrap_or_else(|e| engine_error(e));
            }
            availability::validate_pool(&Pool::members_of(&schedules, &requests))
                .unwrap_or_else(|e| engine_error(e));
        } else if size == Size::OneBooking {
            availability::validate_request(None, &requests[0]).unwrap_or_else(|e| engine_error(e));
        }
        let mut pool = Pool {
            schedules,
            requests,
            bookings: None,
        };
        if size != Size::Search {
            pool.bookings = Some(pool.bookings_for(client, window));
        }
        pool
    }

    fn members_of<'a>(schedules: &'a [Schedule], requests: &[Request]) -> Vec<PoolMember<'a>> {
        schedules
            .iter()
            .zip(requests)
            .map(|(s, r)| PoolMember {
                resource: &s.resource,
                request: *r,
            })
            .collect()
    }

    fn members(&self) -> Vec<PoolMember<'_>> {
        Pool::members_of(&self.schedules, &self.requests)
    }

    /// Each resource's time-holding bookings that can touch `span` once its buffers are
    /// counted.
    fn bookings_for(&self, client: &SpiClient, span: Interval) -> Vec<Vec<Booking>> {
        let requests: Vec<(Uuid, i64, i64)> = self
            .schedules
            .iter()
            .map(|s| {
                let reach = s.resource.buffer_before + s.resource.buffer_after;
                (s.id, span.start - reach, span.end + reach)
            })
            .collect();
        holding_bookings(client, &requests)
    }
}

/// The resource ids of a pool argument: not NULL, no NULL element, duplicates dropped (the
/// first occurrence keeps its place).
fn pool_ids(p_resource_ids: Option<Vec<Option<Uuid>>>) -> Vec<Uuid> {
    let mut ids = Vec::new();
    for id in required(p_resource_ids, "p_resource_ids") {
        let id = id.unwrap_or_else(|| invalid_parameter("p_resource_ids must not contain NULL"));
        if !ids.contains(&id) {
            ids.push(id);
        }
        if ids.len() > availability::MAX_POOL {
            engine_error(AvailabilityError::PoolTooLarge {
                resources: ids.len(),
            });
        }
    }
    if ids.is_empty() {
        engine_error(AvailabilityError::EmptyPool);
    }
    ids
}

/// The window, duration and seats arguments shared by the slot functions, validated.
fn slot_arguments(
    start: Option<TimestampWithTimeZone>,
    end: Option<TimestampWithTimeZone>,
    duration_minutes: Option<i32>,
    seats: Option<i32>,
) -> (Interval, i64, i32) {
    let window = Interval::new(
        to_unix(required(start, "p_start"), "p_start"),
        to_unix(required(end, "p_end"), "p_end"),
    );
    let duration = required(duration_minutes, "p_duration_minutes") as i64 * MICROS_PER_MINUTE;
    availability::check_bounds(window, duration).unwrap_or_else(|e| engine_error(e));
    (window, duration, required(seats, "p_seats"))
}

/// Each resource's free slots in the pool's window.
fn pool_slots(
    ids: &[Uuid],
    service_id: Option<Uuid>,
    args: (Interval, i64, i32),
) -> Vec<Vec<Interval>> {
    let (window, duration, seats) = args;
    Spi::connect(|client| {
        let pool = Pool::load(
            client,
            ids,
            service_id,
            window,
            duration,
            seats,
            Size::SlotList,
        );
        pool.schedules
            .iter()
            .zip(&pool.requests)
            .zip(
                pool.bookings
                    .as_ref()
                    .expect("a slot list reads the bookings"),
            )
            .map(|((s, req), b)| {
                availability::available_slots(&s.resource, b, req)
                    .unwrap_or_else(|e| engine_error(e))
            })
            .collect()
    })
}

fn timestamptz_datum(unix_micros: i64) -> pg_sys::Datum {
    from_unix(unix_micros).into_datum().expect("a timestamptz")
}

/// The free slots of a resource in a window: where a booking of `p_duration_minutes` and
/// `p_seats` could start. See docs/availability.md for the exact semantics.
/// Runs as the owner to count every booking (it returns times only) and checks itself that the
/// caller may see the resource. Its SQL declaration is written out because it returns its rows
/// in materialize mode (see `materialize`).
#[pg_extern(sql = r#"
CREATE FUNCTION booking."get_available_slots"(
  "p_resource_id" uuid, "p_start" timestamptz, "p_end" timestamptz,
  "p_duration_minutes" integer DEFAULT 60, "p_service_id" uuid DEFAULT NULL, "p_seats" integer DEFAULT 1
) RETURNS TABLE ("slot_start" timestamptz, "slot_end" timestamptz)
STABLE SECURITY DEFINER SET search_path TO pg_catalog, pg_temp
LANGUAGE c AS 'MODULE_PATHNAME', '@FUNCTION_NAME@';
"#)]
pub fn get_available_slots(
    p_resource_id: Option<Uuid>,
    p_start: Option<TimestampWithTimeZone>,
    p_end: Option<TimestampWithTimeZone>,
    p_duration_minutes: Option<i32>,
    p_service_id: Option<Uuid>,
    p_seats: Option<i32>,
    fcinfo: pg_sys::FunctionCallInfo,
) {
    let resource_id = required(p_resource_id, "p_resource_id");
    let args = slot_arguments(p_start, p_end, p_duration_minutes, p_seats);
    let slots = pool_slots(&[resource_id], p_service_id, args)
        .pop()
        .unwrap();
    materialize(
        fcinfo,
        slots
            .iter()
            .map(|s| [timestamptz_datum(s.start), timestamptz_datum(s.end)]),
    );
}

/// The slots in which at least one of the resources is free ("any free microscope"), with the
/// free ones in the order they were listed. Same parameters and semantics as
/// get_available_slots, for each resource on its own grid. Rows in materialize mode, like
/// get_available_slots.
#[pg_extern(sql = r#"
CREATE FUNCTION booking."get_available_slots_any"(
  "p_resource_ids" uuid[], "p_start" timestamptz, "p_end" timestamptz,
  "p_duration_minutes" integer DEFAULT 60, "p_service_id" uuid DEFAULT NULL, "p_seats" integer DEFAULT 1
) RETURNS TABLE ("slot_start" timestamptz, "slot_end" timestamptz, "resource_ids" uuid[])
STABLE SECURITY DEFINER SET search_path TO pg_catalog, pg_temp
LANGUAGE c AS 'MODULE_PATHNAME', '@FUNCTION_NAME@';
"#)]
pub fn get_available_slots_any(
    p_resource_ids: Option<Vec<Option<Uuid>>>,
    p_start: Option<TimestampWithTimeZone>,
    p_end: Option<TimestampWithTimeZone>,
    p_duration_minutes: Option<i32>,
    p_service_id: Option<Uuid>,
    p_seats: Option<i32>,
    fcinfo: pg_sys::FunctionCallInfo,
) {
    let ids = pool_ids(p_resource_ids);
    let args = slot_arguments(p_start, p_end, p_duration_minutes, p_seats);
    let merged = availability::merge_pool_slots(&pool_slots(&ids, p_service_id, args));
    materialize(
        fcinfo,
        merged.into_iter().map(|(s, free)| {
            let free: Vec<Uuid> = free.into_iter().map(|i| ids[i]).collect();
            [
                timestamptz_datum(s.start),
                timestamptz_datum(s.end),
                free.into_datum().expect("an array"),
            ]
        }),
    );
}

/// The earliest free slot among the resources within `p_within` of `p_after`, and which
/// resource (the first listed on a tie); no row when there is none. It searches a day, then a
/// week, then 30 days at a time and stops at the first answer.
#[pg_extern(stable, security_definer)]
#[search_path(pg_catalog, pg_temp)]
pub fn find_next_slot(
    p_resource_ids: Option<Vec<Option<Uuid>>>,
    p_after: Option<TimestampWithTimeZone>,
    p_duration_minutes: Option<i32>,
    p_seats: default!(Option<i32>, 1),
    p_within: default!(Option<pgrx::datum::Interval>, "'90 days'"),
) -> TableIterator<
    'static,
    (
        name!(slot_start, TimestampWithTimeZone),
        name!(slot_end, TimestampWithTimeZone),
        name!(resource_id, Uuid),
    ),
> {
    let ids = pool_ids(p_resource_ids);
    let after = required(p_after, "p_after");
    let within = required(p_within, "p_within");
    let found = Spi::connect(|client| {
        // p_after + p_within as Postgres adds them (months and days in the session's time zone).
        let until: TimestampWithTimeZone = client
            .select("SELECT $1 + $2", None, &[after.into(), within.into()])
            .expect("adding p_within")
            .first()
            .get_one()
            .expect("a time")
            .expect("a time");
        let args = slot_arguments(Some(after), Some(until), p_duration_minutes, p_seats);
        let (window, duration, seats) = args;
        if window.end <= window.start {
            invalid_parameter("p_within must be positive");
        }
        let pool = Pool::load(client, &ids, None, window, duration, seats, Size::Search);
        let members = pool.members();
        availability::next_slot(&members, |span| pool.bookings_for(client, span))
            .unwrap_or_else(|e| engine_error(e))
    });
    TableIterator::new(found.map(|(s, i)| (from_unix(s.start), from_unix(s.end), ids[i])))
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
    let window = Interval::new(start, end);
    availability::check_bounds(window, end - start).unwrap_or_else(|e| engine_error(e));
    Spi::connect(|client| {
        let pool = Pool::load(
            client,
            &[resource_id],
            service_id,
            window,
            end - start,
            seats,
            Size::OneBooking,
        );
        let bookings = &pool
            .bookings
            .as_ref()
            .expect("a booking check reads the bookings")[0];
        availability::refusal(
            &pool.schedules[0].resource,
            bookings,
            &pool.requests[0],
            start,
            end,
        )
        .unwrap_or_else(|e| engine_error(e))
    })
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
    refusal_of(
        p_resource_id,
        p_start_time,
        p_end_time,
        p_capacity_needed,
        None,
    )
    .is_none()
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
    (
        name!(period_start, TimestampWithTimeZone),
        name!(period_end, TimestampWithTimeZone),
        name!(time_zone, String),
    ),
> {
    let organization_id = required(p_organization_id, "p_organization_id");
    let date = required(p_date, "p_date");
    if !date.is_finite() {
        invalid_parameter("p_date must be a finite date");
    }
    let day = booking_core::chrono::NaiveDate::from_ymd_opt(
        date.year(),
        date.month() as u32,
        date.day() as u32,
    )
    .expect("a date");
    let midnight_utc = day
        .and_hms_opt(0, 0, 0)
        .unwrap()
        .and_utc()
        .timestamp_micros();
    // Hours are read around the day in any zone (offsets stay within a day of UTC).
    let around = hours_span(Interval::new(
        midnight_utc - MICROS_PER_DAY,
        midnight_utc + 2 * MICROS_PER_DAY,
    ));
    let periods = Spi::connect(|client| {
        let resource = match p_resource_id {
            Some(resource_id) => {
                let mut schedules = load_resources(client, &[resource_id], None, around);
                let schedule = schedules.pop().unwrap();
                if schedule.organization_id != organization_id {
                    invalid_parameter(format!(
                        "resource {resource_id} does not belong to organization {organization_id}"
                    ));
                }
                schedule.resource
            }
            None => {
                let (name, rules, exceptions) =
                    load_organization_hours(client, organization_id, around);
                let tz = parse_time_zone(&name);
                Resource {
                    tz,
                    rules,
                    exceptions,
                    capacity: 1,
                    buffer_before: 0,
                    buffer_after: 0,
                    slot_interval: None,
                    external_busy: vec![],
                }
            }
        };
        let day_span = Interval::new(
            availability::local_to_utc(resource.tz, day.and_hms_opt(0, 0, 0).unwrap()),
            availability::local_to_utc(
                resource.tz,
                day.succ_opt().unwrap().and_hms_opt(0, 0, 0).unwrap(),
            ),
        );
        let tz_name = resource.tz.name().to_owned();
        availability::open_time(&resource, day_span)
            .into_iter()
            .map(move |p| (p, tz_name.clone()))
            .collect::<Vec<_>>()
    });
    TableIterator::new(
        periods
            .into_iter()
            .map(|(p, tz)| (from_unix(p.start), from_unix(p.end), tz)),
    )
}

// calculate_business_hours, the functions' documentation and their planner settings.
extension_sql_file!(
    "availability.sql",
    name = "availability",
    requires = [
        "bookings",
        availability::get_available_slots,
        availability::get_available_slots_any,
        availability::find_next_slot,
        availability::can_book_resource,
        availability::booking_refusal,
        availability::open_periods
    ]
);

#[cfg(any(test, feature = "pg_test"))]
#[pg_schema]
mod tests {
    use pgrx::prelude::*;

    #[pg_test]
    fn scheduling_functions_answer_refuse_and_respect_visibility() {
        crate::testing::run_suite(include_str!("../../tests/sql/availability/slots.sql"));
    }

    #[pg_test]
    fn pools_of_resources_answer_refuse_and_respect_visibility() {
        crate::testing::run_suite(include_str!("../../tests/sql/availability/pools.sql"));
    }
}
