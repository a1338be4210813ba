//! The slot engine reads bookings straight from their index (src/postgres/holding_bookings.rs), skipping
//! the heap where the visibility map vouches for a page. These tests drive both paths on a real
//! server: before and after VACUUM the slots equal the plain-SQL multirange answer (the
//! benchmark's reference, an independent implementation); a snapshot sees neither bookings
//! added nor bookings cancelled after it was taken, on all-visible pages too; and serializable
//! transactions that read slots and then write what the other read cannot both commit (the
//! predicate locks the heap-skipping path must take).

#[path = "../common/mod.rs"]
mod common;

use common::{sqlstate, Cluster};

const REFERENCE_SQL: &str = include_str!("../bench/reference.sql");
const ORG: &str = "00000000-0000-4000-a0f0-000000000001";
const ROOM: &str = "00000000-0000-4000-a0f0-000000000101"; // capacity 2
const DESK: &str = "00000000-0000-4000-a0f0-000000000102"; // capacity 1

/// A 24/7 organization with two resources, and three days of overlapping bookings on each
/// (never more than the capacity at once), from the day after tomorrow.
const DATA_SQL: &str = "
INSERT INTO booking.organizations (id, slug, name, time_zone, is_public)
VALUES ('00000000-0000-4000-a0f0-000000000001', 'scan', 'Scan', 'UTC', true);
INSERT INTO booking.resources (id, organization_id, title, capacity, slot_interval_minutes, auto_approve) VALUES
  ('00000000-0000-4000-a0f0-000000000101', '00000000-0000-4000-a0f0-000000000001', 'Room', 2, 30, true),
  ('00000000-0000-4000-a0f0-000000000102', '00000000-0000-4000-a0f0-000000000001', 'Desk', 1, 30, true);
INSERT INTO booking.availability_rules (organization_id, day_of_week, start_time, end_time)
SELECT '00000000-0000-4000-a0f0-000000000001', d, '00:00', '24:00' FROM generate_series(0, 6) d;
CREATE TEMP VIEW base AS SELECT date_trunc('day', now()) + interval '2 days' AS t0;
INSERT INTO booking.bookings (organization_id, resource_id, booked_by, starts_at, ends_at, seats, status)
SELECT '00000000-0000-4000-a0f0-000000000001', '00000000-0000-4000-a0f0-000000000101', 'u-scan',
       t0 + make_interval(hours => h) + make_interval(mins => 15 * k), t0 + make_interval(hours => h) + make_interval(mins => 15 * k + 30),
       1, 'approved'
FROM base, generate_series(0, 71) h, generate_series(0, 1) k WHERE (h + k) % 3 <> 0;
INSERT INTO booking.bookings (organization_id, resource_id, booked_by, starts_at, ends_at, status)
SELECT '00000000-0000-4000-a0f0-000000000001', '00000000-0000-4000-a0f0-000000000102', 'u-scan',
       t0 + make_interval(hours => h), t0 + make_interval(hours => h, mins => 45), 'approved'
FROM base, generate_series(0, 71) h WHERE h % 4 <> 1;
";

/// The three booked days.
const WINDOW: &str =
    "date_trunc('day', now()) + interval '2 days', date_trunc('day', now()) + interval '5 days'";

fn slots(c: &mut impl postgres::GenericClient, resource: &str, function: &str) -> Vec<String> {
    let sql =
        format!("SELECT slot_start::text FROM {function}('{resource}', {WINDOW}, 60) ORDER BY 1");
    c.query(&sql, &[])
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect()
}

fn native(c: &mut impl postgres::GenericClient, resource: &str) -> Vec<String> {
    slots(c, resource, "booking.get_available_slots")
}

fn reference(c: &mut impl postgres::GenericClient, resource: &str) -> Vec<String> {
    slots(c, resource, "bench.sql_available_slots")
}

fn all_visible_pages(c: &mut postgres::Client) -> i32 {
    c.query_one(
        "SELECT relallvisible FROM pg_class WHERE oid = 'booking.bookings'::regclass",
        &[],
    )
    .unwrap()
    .get(0)
}

#[test]
fn slots_through_the_index_with_and_without_the_visibility_map() {
    let cluster = Cluster::start("holding_bookings");
    let mut c = cluster.create_db("scan", true);
    c.batch_execute(REFERENCE_SQL).unwrap();
    c.batch_execute(DATA_SQL).unwrap();

    // Fresh rows: nothing is all-visible yet, every booking is checked in the heap.
    assert_eq!(all_visible_pages(&mut c), 0);
    for r in [ROOM, DESK] {
        let n = native(&mut c, r);
        assert!(
            !n.is_empty() && n.len() < 3 * 48,
            "some slots are free, some are not: {}",
            n.len()
        );
        assert_eq!(n, reference(&mut c, r), "fresh rows, resource {r}");
    }

    // Vacuumed: the pages are all-visible and the heap is skipped.
    c.batch_execute("VACUUM booking.bookings").unwrap();
    assert!(
        all_visible_pages(&mut c) > 0,
        "VACUUM filled the visibility map"
    );
    for r in [ROOM, DESK] {
        assert_eq!(
            native(&mut c, r),
            reference(&mut c, r),
            "all-visible pages, resource {r}"
        );
    }

    // A snapshot sees neither a booking added nor one cancelled after it was taken, although
    // the cancelled booking's index entry stays and its page was all-visible when read.
    let mut reader = cluster.connect("scan");
    let mut writer = cluster.connect("scan");
    let mut snapshot = reader
        .build_transaction()
        .isolation_level(postgres::IsolationLevel::RepeatableRead)
        .start()
        .unwrap();
    let before = native(&mut snapshot, DESK);
    writer
        .batch_execute(&format!(
            "UPDATE booking.bookings SET status = 'cancelled'
             WHERE resource_id = '{DESK}' AND starts_at = date_trunc('day', now()) + interval '2 days';
             INSERT INTO booking.bookings (organization_id, resource_id, booked_by, starts_at, ends_at, status)
             VALUES ('{ORG}', '{DESK}', 'u-scan', date_trunc('day', now()) + interval '2 days 1 hour',
                     date_trunc('day', now()) + interval '2 days 1 hour 30 minutes', 'approved');"
        ))
        .unwrap();
    assert_eq!(
        native(&mut snapshot, DESK),
        before,
        "the snapshot's slots do not move"
    );
    snapshot.commit().unwrap();
    let after = native(&mut reader, DESK);
    assert_ne!(after, before, "a new snapshot sees both changes");
    assert_eq!(after, reference(&mut reader, DESK));
}

#[test]
fn serializable_readers_of_slots_cannot_both_write_what_the_other_read() {
    let cluster = Cluster::start("holding_bookings_ssi");
    let mut c = cluster.create_db("scan", true);
    c.batch_execute(DATA_SQL).unwrap();
    c.batch_execute("VACUUM booking.bookings").unwrap();
    assert!(all_visible_pages(&mut c) > 0);

    // Write skew: each transaction reads one resource's slots, then cancels a booking of the
    // other. Serializable isolation must refuse one of them (40001); that needs the predicate
    // locks on the heap pages the scan read through the visibility map, because cancelling a
    // booking adds nothing to the index the other transaction read.
    let first_booking = |c: &mut postgres::Client, resource: &str| -> String {
        c.query_one(
            &format!("SELECT id::text FROM booking.bookings WHERE resource_id = '{resource}' ORDER BY starts_at LIMIT 1"),
            &[],
        )
        .unwrap()
        .get(0)
    };
    let (room_booking, desk_booking) = (first_booking(&mut c, ROOM), first_booking(&mut c, DESK));
    let cancel =
        |id: &str| format!("UPDATE booking.bookings SET status = 'cancelled' WHERE id = '{id}'");
    let mut a = cluster.connect("scan");
    let mut b = cluster.connect("scan");
    // The writes find their row by its key, not by reading the whole table, and fire no
    // trigger (whose own reads and writes of the audit and outbox tables conflict anyway):
    // either would make the two transactions conflict whatever the scan locked.
    for s in [&mut a, &mut b] {
        s.batch_execute("SET enable_seqscan = off; SET session_replication_role = replica")
            .unwrap();
    }
    let mut ta = a
        .build_transaction()
        .isolation_level(postgres::IsolationLevel::Serializable)
        .start()
        .unwrap();
    let mut tb = b
        .build_transaction()
        .isolation_level(postgres::IsolationLevel::Serializable)
        .start()
        .unwrap();
    assert!(!native(&mut ta, ROOM).is_empty());
    assert!(!native(&mut tb, DESK).is_empty());
    ta.batch_execute(&cancel(&desk_booking)).unwrap();
    let second = tb
        .batch_execute(&cancel(&room_booking))
        .and_then(|_| tb.commit());
    let first = ta.commit();
    let failures: Vec<_> = [first, second]
        .into_iter()
        .filter_map(|r| r.err())
        .collect();
    assert_eq!(
        failures.len(),
        1,
        "exactly one of the two transactions is refused"
    );
    assert_eq!(sqlstate(&failures[0]).as_deref(), Some("40001"));
}
