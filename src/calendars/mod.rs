//! External calendars (seed 002): integrations linked to resources, provider events delivered
//! idempotently and materialized as busy time the slot engine reads, sync results, and the
//! outbound `calendar.push` outbox events (SQL in `calendars.sql`).
//!
//! The native functions, on the core's `booking_core::calendars`:
//!
//! - `booking.import_ics(integration, text)`: an iCalendar file (a Google or Outlook export, a
//!   feed's body) read into a delivery of events and applied by the same
//!   `booking_internal.apply_calendar_events` the worker's deliveries go through, so an import is
//!   idempotent in the same way.
//! - `booking_internal.resource_calendar_ics_text(resource)`: a resource's bookings as an
//!   iCalendar feed; `booking.resource_calendar_ics` (calendars.sql) returns it as the domain
//!   `booking."text/calendar"`, which PostgREST serves to `Accept: text/calendar`.

use booking_core::calendars::{
    self, FeedEvent, FeedStatus, FEED_FUTURE_DAYS, FEED_MAX_EVENTS, FEED_PAST_DAYS,
};
use booking_core::chrono_tz::Tz;
use booking_core::time::MICROS_PER_DAY;
use pgrx::prelude::*;
use pgrx::{JsonB, Uuid};

use crate::availability::required;
use crate::postgres::errors::{insufficient_privilege, invalid_parameter};
use crate::postgres::spi::{query, query_mut};
use crate::postgres::{caller_bypasses_rls, timestamptz_from_unix as from_unix, unix_micros};

/// Imports an iCalendar text into an integration: each VEVENT becomes an event of a delivery
/// (`booking_core::calendars::read_ics` says how) applied by
/// `booking_internal.apply_calendar_events`, all or nothing. Returns its counts (inserted,
/// updated, deleted, unchanged) and `events`, the VEVENTs read (and `skipped`, those holding no
/// time, when there are any). Errors: 22023 for a text over the delivery's byte limit (before
/// anything else), an unknown integration, text that is not iCalendar, more VEVENTs than the
/// delivery limit, or a VEVENT refused (named: no UID or DTSTART, a time that does not parse,
/// an unknown time zone); 42501 for anyone but the integration's organization's staff and
/// service_role (checked before anything else of the integration is read).
#[pg_extern(volatile, security_definer)]
#[search_path(pg_catalog, pg_temp)]
pub fn import_ics(p_integration_id: Option<Uuid>, p_ics: Option<String>) -> JsonB {
    let integration_id = required(p_integration_id, "p_integration_id");
    let ics = required(p_ics, "p_ics");
    Spi::connect_mut(|client| {
        let limits = query(
            client,
            "SELECT max_events, max_bytes FROM booking_internal.calendar_delivery_limits()",
            &[],
        )
        .first();
        let max_events = limits.get::<i32>(1).unwrap().expect("max_events") as usize;
        let max_bytes = limits.get::<i32>(2).unwrap().expect("max_bytes") as usize;
        if ics.len() > max_bytes {
            invalid_parameter(format!(
                "an iCalendar import carries at most {max_bytes} bytes; this one has {}",
                ics.len()
            ));
        }
        // Who may: the caller's right on the integration's organization, first.
        let caller = query(
            client,
            "SELECT booking_internal.has_staff_rights(i.organization_id)
             FROM booking.calendar_integrations i WHERE i.id = $1",
            &[integration_id.into()],
        );
        if caller.is_empty() {
            invalid_parameter(format!("unknown calendar integration {integration_id}"));
        }
        if !caller.first().get::<bool>(1).unwrap().unwrap_or(false) {
            insufficient_privilege(
                "importing into a calendar integration is for its organization's staff",
            );
        }
        let zone = query(
            client,
            "SELECT time_zone FROM booking.calendar_integrations WHERE id = $1",
            &[integration_id.into()],
        )
        .first()
        .get::<String>(1)
        .unwrap()
        .expect("an integration's time zone");
        let floating: Tz = zone
            .parse()
            .unwrap_or_else(|_| invalid_parameter(format!("unknown time zone \"{zone}\"")));

        let import = calendars::read_ics(&ics, floating, max_events)
            .unwrap_or_else(|e| invalid_parameter(e.to_string()));
        let events = serde_json::Value::Array(import.events);
        let applied = query_mut(
            client,
            "SELECT booking_internal.apply_calendar_events($1, $2)",
            &[integration_id.into(), JsonB(events).into()],
        )
        .first()
        .get::<JsonB>(1)
        .unwrap()
        .expect("the delivery's counts");
        let mut counts = applied.0;
        if let serde_json::Value::Object(m) = &mut counts {
            m.insert("events".into(), import.vevents.into());
            if import.skipped > 0 {
                m.insert("skipped".into(), import.skipped.into());
            }
        }
        JsonB(counts)
    })
}

/// A resource's bookings as an iCalendar feed (`booking_core::calendars::write_feed`): those
/// holding time (pending: TENTATIVE, approved: CONFIRMED) that overlap the window from 30 days
/// ago to 366 days ahead, the earliest 5000. Each is titled for callers who may see the booking
/// (the bookings policy's rule: its booker, the organization's staff, the resource's
/// professional, the student's guardian; roles that bypass row-level security), and "Busy" for
/// everyone else. Who may read the feed: whoever may see the resource (the resources policy's
/// rule, as the availability functions apply it: its organization's members, anyone for a
/// bookable resource of a public organization); 22023 for an unknown resource or one the caller
/// may not see. Runs as the owner (to read every booking of the window) and checks the caller
/// itself.
#[pg_extern(stable, security_definer, schema = "booking_internal")]
#[search_path(pg_catalog, pg_temp)]
pub fn resource_calendar_ics_text(p_resource_id: Option<Uuid>) -> String {
    let resource_id = required(p_resource_id, "p_resource_id");
    let bypass = caller_bypasses_rls();
    Spi::connect(|client| {
        let resource = query(
            client,
            "SELECT r.title, now()
             FROM booking.resources r JOIN booking.organizations o ON o.id = r.organization_id
             WHERE r.id = $1
               AND ($2 OR booking_internal.resource_is_visible(
                            EXISTS (SELECT 1 FROM booking.members m
                                    WHERE m.user_id = booking.current_user_id() AND m.organization_id = r.organization_id
                                      AND m.is_active),
                            o.is_public, r.is_bookable))",
            &[resource_id.into(), bypass.into()],
        );
        if resource.is_empty() {
            invalid_parameter(format!("unknown resource {resource_id}"));
        }
        let row = resource.first();
        let name = row.get::<String>(1).unwrap();
        let now = unix_micros(row.get::<TimestampWithTimeZone>(2).unwrap().unwrap(), "now");
        let rows = query(
            client,
            "WITH me AS MATERIALIZED (
               SELECT booking.current_user_id() AS user_id,
                      booking.user_organization_ids('{owner,admin,staff}') AS staff_of,
                      booking_internal.my_professional_resource_ids() AS professional_of,
                      booking_internal.my_student_ids() AS students)
             SELECT b.id, b.starts_at, b.ends_at, b.status = 'approved', b.updated_at,
                    CASE WHEN $2 OR b.booked_by = me.user_id OR b.organization_id = ANY (me.staff_of)
                              OR b.resource_id = ANY (me.professional_of) OR b.student_id = ANY (me.students)
                         THEN coalesce(nullif(btrim(b.title), ''), 'Booking') ELSE 'Busy' END
             FROM booking.bookings b CROSS JOIN me
             WHERE b.resource_id = $1 AND booking_internal.holds_time(b.status)
               AND b.during && tstzrange($3, $4)
             ORDER BY b.starts_at, b.id
             LIMIT $5",
            &[
                resource_id.into(),
                bypass.into(),
                from_unix(now - FEED_PAST_DAYS * MICROS_PER_DAY).into(),
                from_unix(now + FEED_FUTURE_DAYS * MICROS_PER_DAY).into(),
                FEED_MAX_EVENTS.into(),
            ],
        );
        let events: Vec<FeedEvent> = rows
            .map(|row| {
                let at = |n: usize| {
                    unix_micros(
                        row.get::<TimestampWithTimeZone>(n).unwrap().unwrap(),
                        "a booking's time",
                    )
                };
                FeedEvent {
                    uid: format!("{}@booking_ext", row.get::<Uuid>(1).unwrap().unwrap()),
                    start: at(2),
                    end: at(3),
                    status: if row.get::<bool>(4).unwrap().unwrap() {
                        FeedStatus::Confirmed
                    } else {
                        FeedStatus::Tentative
                    },
                    stamp: at(5),
                    summary: row.get::<String>(6).unwrap().unwrap(),
                }
            })
            .collect();
        calendars::write_feed(name.as_deref(), &events)
    })
}

extension_sql_file!(
    "calendars.sql",
    name = "calendars",
    requires = ["engagement", import_ics, resource_calendar_ics_text]
);

#[cfg(any(test, feature = "pg_test"))]
#[pgrx::pg_schema]
mod tests {
    use pgrx::prelude::*;

    #[pg_test]
    fn calendars_deliveries_busy_time_sync_and_push() {
        crate::testing::run_suite(include_str!("../../tests/sql/calendars/calendars.sql"));
    }
}
