//! Fifty clients booking and moving bookings at once, through the same row-level security path as the API: capacity
//! is never exceeded at any instant, on a capacity-1 and a capacity-12 resource, in READ
//! COMMITTED and in REPEATABLE READ (which retries on serialization failures, as apps must).
//! Clients log in as PostgREST does (`authenticator`, then the API role), and half of them set
//! what a caller can set (`row_security = off`, the custom setting that once remembered the
//! resource lock) to try to skip the lock: the invariant holds all the same.

#[path = "../common/mod.rs"]
mod common;

use common::{as_persona, connect_as_api, create_authenticator, sqlstate, Cluster, TENANTS_SQL};
use std::sync::{Arc, Barrier};

const VR: &str = "00000000-0000-4000-a000-000000000101"; // capacity 1
const SPACE: &str = "00000000-0000-4000-a000-000000000103"; // capacity 12
const LAB: &str = "00000000-0000-4000-a000-000000000001";
const CLIENTS: usize = 50;
const ATTEMPTS: usize = 12;
const PERSONAS: [&str; 4] = ["u-client", "u-client2", "u-member", "u-outsider"];

/// A small deterministic generator, so a failing run can be replayed.
struct XorShift(u64);
impl XorShift {
    fn next(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

#[derive(Default)]
struct Tally {
    accepted: usize,
    refused: usize,
    moved: usize,
    move_refused: usize,
    retried: usize,
}

/// What a hostile caller sets to try to skip the resource lock, the audit and the checks: every
/// odd client does. `row_security = off` only for the RPCs: Postgres itself refuses any query
/// of a table with row-level security by a role that does not bypass it while it is off.
fn set_what_a_caller_can(tx: &mut postgres::Transaction<'_>, id: usize, row_security_off: bool) {
    if id % 2 == 1 {
        if row_security_off {
            tx.batch_execute("SET LOCAL row_security = off").unwrap();
        }
        tx.batch_execute(&format!(
            "SELECT set_config('booking.locked_rows', 'resource:{VR},resource:{SPACE},service:{SERVICE_LIMITED},', true)"
        ))
        .unwrap();
    }
}

/// A refusal of a request that does not fit: 23P01 from the table's capacity trigger, or the
/// rule book's PT409 overlap or capacity.
fn is_capacity_refusal(e: &postgres::Error) -> bool {
    match sqlstate(e).as_deref() {
        Some("23P01") => true,
        Some("PT409") => matches!(
            e.as_db_error().and_then(|d| d.detail()),
            Some("overlap" | "capacity")
        ),
        _ => false,
    }
}

/// One client: inserts bookings and, every third attempt, moves one of its own pending
/// bookings to another time, so the capacity rule is exercised by inserts and updates at once.
fn client(cluster_url: String, id: usize, barrier: Arc<Barrier>) -> [Tally; 2] {
    let mut conn = connect_as_api(&cluster_url);
    let mut rng = XorShift(0x9E37_79B9_7F4A_7C15 ^ ((id as u64 + 1) * 0x1000_0001));
    let repeatable_read = id % 2 == 1;
    let persona = PERSONAS[id % PERSONAS.len()];
    let mut tallies = [Tally::default(), Tally::default()];
    let mut mine: [Vec<String>; 2] = [Vec::new(), Vec::new()];
    barrier.wait();
    for attempt in 0..ATTEMPTS {
        let (which, resource) = if attempt % 2 == 0 {
            (0, VR)
        } else {
            (1, SPACE)
        };
        // 15-minute grid over three hours, 30 to 90 minutes long, 1 to 4 seats on the space.
        let start_min = (15 * rng.next(12)) as i32;
        let end_min = start_min + 30 + 15 * rng.next(5) as i32;
        let seats = if which == 0 {
            1
        } else {
            1 + rng.next(4) as i32
        };
        let moving = attempt % 3 == 2 && !mine[which].is_empty();
        let target = if moving {
            Some(mine[which][rng.next(mine[which].len() as u64) as usize].clone())
        } else {
            None
        };
        let mut tries = 0;
        loop {
            tries += 1;
            let mut tx = conn
                .build_transaction()
                .isolation_level(if repeatable_read {
                    postgres::IsolationLevel::RepeatableRead
                } else {
                    postgres::IsolationLevel::ReadCommitted
                })
                .start()
                .unwrap();
            as_persona(&mut tx, "authenticated", Some(persona));
            set_what_a_caller_can(&mut tx, id, false);
            let res = match &target {
                Some(booking_id) => tx
                    .execute(
                        "UPDATE booking.bookings
                         SET starts_at = '2030-06-03 14:00Z'::timestamptz + make_interval(mins => $2),
                             ends_at   = '2030-06-03 14:00Z'::timestamptz + make_interval(mins => $3)
                         WHERE id = $1::text::uuid",
                        &[booking_id, &start_min, &end_min],
                    )
                    .map(|n| (n, None)),
                None => tx
                    .query_one(
                        "INSERT INTO booking.bookings (organization_id, resource_id, starts_at, ends_at, seats)
                         VALUES ($1::text::uuid, $2::text::uuid,
                                 '2030-06-03 14:00Z'::timestamptz + make_interval(mins => $3),
                                 '2030-06-03 14:00Z'::timestamptz + make_interval(mins => $4), $5)
                         RETURNING id::text",
                        &[&LAB, &resource, &start_min, &end_min, &seats],
                    )
                    .map(|row| (1, Some(row.get::<_, String>(0)))),
            };
            let outcome = match res {
                Ok((1, new_id)) => tx.commit().map(|_| new_id),
                Ok((n, _)) => panic!("client {id} touched {n} rows"),
                Err(e) => Err(e),
            };
            let t = &mut tallies[which];
            match outcome {
                Ok(new_id) => {
                    match new_id {
                        Some(new_id) => {
                            t.accepted += 1;
                            mine[which].push(new_id);
                        }
                        None => t.moved += 1,
                    }
                    break;
                }
                Err(e) => match sqlstate(&e).as_deref() {
                    _ if is_capacity_refusal(&e) => {
                        if moving {
                            t.move_refused += 1
                        } else {
                            t.refused += 1
                        }
                        break;
                    }
                    Some("40001") if tries < 50 => {
                        t.retried += 1;
                        continue;
                    }
                    _ => panic!("client {id} ({persona}) got an unexpected error: {e:?}"),
                },
            }
        }
    }
    tallies
}

/// Runs `CLIENTS` client threads that start together; returns what each reports.
fn run_clients<T: Send + 'static>(
    url: String,
    client: fn(String, usize, Arc<Barrier>) -> T,
) -> Vec<T> {
    let barrier = Arc::new(Barrier::new(CLIENTS));
    let handles: Vec<_> = (0..CLIENTS)
        .map(|id| {
            let (url, barrier) = (url.clone(), barrier.clone());
            std::thread::spawn(move || client(url, id, barrier))
        })
        .collect();
    handles
        .into_iter()
        .map(|h| h.join().expect("a client thread panicked"))
        .collect()
}

/// Brute force: the seats held at every booking start (where the count can rise).
fn peak_seats(rows: &[(i64, i64, i32)]) -> i32 {
    rows.iter()
        .map(|&(t, _, _)| {
            rows.iter()
                .filter(|&&(s, e, _)| s <= t && t < e)
                .map(|r| r.2)
                .sum()
        })
        .max()
        .unwrap_or(0)
}

#[test]
fn fifty_concurrent_clients_never_exceed_capacity() {
    let cluster = Cluster::start("concurrency");
    let mut admin = cluster.create_db("conc", true);
    admin.batch_execute(TENANTS_SQL).unwrap();
    create_authenticator(&mut admin);
    // Requests stay pending (so their bookers may move them) and the lab is open all that day,
    // so every refusal is about capacity.
    admin
        .batch_execute(&format!(
            "UPDATE booking.resources SET auto_approve = false WHERE id IN ('{VR}', '{SPACE}');
             INSERT INTO booking.availability_exceptions (organization_id, during, kind)
             VALUES ('{LAB}', '[2030-06-03 00:00Z, 2030-06-04 12:00Z)', 'open');"
        ))
        .unwrap();

    let mut totals = [Tally::default(), Tally::default()];
    for tallies in run_clients(cluster.url("conc"), client) {
        for (total, t) in totals.iter_mut().zip(tallies) {
            total.accepted += t.accepted;
            total.refused += t.refused;
            total.moved += t.moved;
            total.move_refused += t.move_refused;
            total.retried += t.retried;
        }
    }

    for (i, (resource, capacity)) in [(VR, 1), (SPACE, 12)].into_iter().enumerate() {
        let rows: Vec<(i64, i64, i32)> = admin
            .query(
                "SELECT (extract(epoch FROM starts_at) * 1e6)::int8, (extract(epoch FROM ends_at) * 1e6)::int8, seats
                 FROM booking.bookings
                 WHERE resource_id = $1::text::uuid AND status IN ('pending', 'approved')
                   AND starts_at >= '2030-06-03 14:00Z' AND starts_at < '2030-06-04Z'",
                &[&resource],
            )
            .unwrap()
            .iter()
            .map(|r| (r.get(0), r.get(1), r.get(2)))
            .collect();
        let t = &totals[i];
        eprintln!(
            "resource {resource} (capacity {capacity}): {} accepted, {} refused, {} moved, {} moves refused, \
             {} serialization retries, peak {}",
            t.accepted, t.refused, t.moved, t.move_refused, t.retried, peak_seats(&rows)
        );
        assert_eq!(
            rows.len(),
            t.accepted,
            "every accepted booking is stored, nothing else"
        );
        assert!(peak_seats(&rows) <= capacity, "capacity exceeded: {rows:?}");
        assert!(
            t.refused > 0,
            "no contention happened: the test proved nothing"
        );
        assert!(
            t.moved + t.move_refused > 0,
            "no booking was moved: updates went untested"
        );
        // Enough bookings got through for the check to mean something.
        assert!(
            t.accepted >= if capacity == 1 { 2 } else { 12 },
            "too few accepted: {}",
            t.accepted
        );
        assert!(
            peak_seats(&rows) >= capacity - 1,
            "the resource never filled up"
        );
    }
}

/// One client calling book() as the API does; returns (accepted, refused with PT409) per resource.
fn book_client(url: String, id: usize, barrier: Arc<Barrier>) -> [(usize, usize); 2] {
    let mut conn = connect_as_api(&url);
    let mut rng = XorShift(0xB00C ^ ((id as u64 + 7) * 0x2545_F491));
    let persona = PERSONAS[id % PERSONAS.len()];
    let mut tally = [(0, 0), (0, 0)];
    barrier.wait();
    for attempt in 0..ATTEMPTS {
        let (which, resource) = if attempt % 2 == 0 {
            (0, VR)
        } else {
            (1, SPACE)
        };
        // 10:00-13:00 New York on Tuesday 4 June 2030 (the lab's morning hours).
        let start_min = (15 * rng.next(8)) as i32;
        let end_min = start_min + 30 + 15 * rng.next(4) as i32;
        let seats = if which == 0 {
            1
        } else {
            1 + rng.next(4) as i32
        };
        let mut tx = conn.transaction().unwrap();
        as_persona(&mut tx, "authenticated", Some(persona));
        set_what_a_caller_can(&mut tx, id, true);
        let res = tx.query_one(
            "SELECT (booking.book($1::text::uuid,
                                  '2030-06-04 14:00Z'::timestamptz + make_interval(mins => $2),
                                  '2030-06-04 14:00Z'::timestamptz + make_interval(mins => $3), $4)).id",
            &[&resource, &start_min, &end_min, &seats],
        );
        match res.and_then(|_| tx.commit()) {
            Ok(()) => tally[which].0 += 1,
            Err(e) if sqlstate(&e).as_deref() == Some("PT409") => tally[which].1 += 1,
            Err(e) => panic!("client {id} ({persona}) got an error other than PT409: {e:?}"),
        }
    }
    tally
}

#[test]
fn fifty_concurrent_book_calls_never_exceed_capacity_and_refuse_with_pt409() {
    let cluster = Cluster::start("book");
    let mut admin = cluster.create_db("book", true);
    admin.batch_execute(TENANTS_SQL).unwrap();
    create_authenticator(&mut admin);
    let mut totals = [(0, 0), (0, 0)];
    for tallies in run_clients(cluster.url("book"), book_client) {
        for (total, t) in totals.iter_mut().zip(tallies) {
            total.0 += t.0;
            total.1 += t.1;
        }
    }
    for (i, (resource, capacity)) in [(VR, 1), (SPACE, 12)].into_iter().enumerate() {
        let rows: Vec<(i64, i64, i32)> = admin
            .query(
                "SELECT (extract(epoch FROM starts_at) * 1e6)::int8, (extract(epoch FROM ends_at) * 1e6)::int8, seats
                 FROM booking.bookings WHERE resource_id = $1::text::uuid AND source = 'api'",
                &[&resource],
            )
            .unwrap()
            .iter()
            .map(|r| (r.get(0), r.get(1), r.get(2)))
            .collect();
        let (accepted, refused) = totals[i];
        eprintln!("book() on {resource} (capacity {capacity}): {accepted} accepted, {refused} refused with PT409, peak {}", peak_seats(&rows));
        assert_eq!(rows.len(), accepted);
        assert!(peak_seats(&rows) <= capacity, "capacity exceeded: {rows:?}");
        // Contention happened and the resource filled up (bookings take 1 to 4 seats, so a full
        // 12-seat room may hold fewer than 12 of them).
        assert!(
            refused > 0
                && accepted >= if capacity == 1 { 1 } else { 3 }
                && peak_seats(&rows) >= capacity - 1,
            "the test proved nothing"
        );
        // Setting row_security skipped no side effect: each booking has its audit row and event.
        let missing: i64 = admin
            .query_one(
                "SELECT count(*) FROM booking.bookings b
                 WHERE b.resource_id = $1::text::uuid AND b.source = 'api'
                   AND (NOT EXISTS (SELECT 1 FROM booking.audit_log a WHERE a.entity_id = b.id AND a.action = 'insert')
                        OR NOT EXISTS (SELECT 1 FROM booking.outbox o WHERE o.payload ->> 'booking_id' = b.id::text))",
                &[&resource],
            )
            .unwrap()
            .get(0);
        assert_eq!(
            missing, 0,
            "bookings without their audit row or outbox event"
        );
    }
}

const SERVICE_LIMITED: &str = "00000000-0000-4000-a000-000000000303";
const SERVICE_LIMIT: i32 = 2;
const POOL: [&str; 4] = [
    VR,
    "00000000-0000-4000-a000-000000000102",
    SPACE,
    "00000000-0000-4000-a000-000000000104",
];

/// One client booking a service limited to SERVICE_LIMIT at once, on any of four resources;
/// returns (accepted, refused with PT409).
fn service_client(url: String, id: usize, barrier: Arc<Barrier>) -> (usize, usize) {
    let mut conn = connect_as_api(&url);
    let mut rng = XorShift(0x5EED ^ ((id as u64 + 3) * 0x9E37_79B9));
    let persona = PERSONAS[id % PERSONAS.len()];
    let mut tally = (0, 0);
    barrier.wait();
    for _ in 0..ATTEMPTS {
        let resource = POOL[rng.next(POOL.len() as u64) as usize];
        // 10:00-13:00 New York on Wednesday 5 June 2030.
        let start_min = (15 * rng.next(8)) as i32;
        let end_min = start_min + 30 + 15 * rng.next(4) as i32;
        let mut tx = conn.transaction().unwrap();
        as_persona(&mut tx, "authenticated", Some(persona));
        set_what_a_caller_can(&mut tx, id, true);
        let res = tx.query_one(
            "SELECT (booking.book($1::text::uuid,
                                  '2030-06-05 14:00Z'::timestamptz + make_interval(mins => $2),
                                  '2030-06-05 14:00Z'::timestamptz + make_interval(mins => $3), 1, $4::text::uuid)).id",
            &[&resource, &start_min, &end_min, &SERVICE_LIMITED],
        );
        match res.and_then(|_| tx.commit()) {
            Ok(()) => tally.0 += 1,
            Err(e) if sqlstate(&e).as_deref() == Some("PT409") => tally.1 += 1,
            Err(e) => panic!("client {id} ({persona}) got an error other than PT409: {e:?}"),
        }
    }
    tally
}

#[test]
fn fifty_concurrent_book_calls_never_exceed_a_services_concurrency_limit() {
    let cluster = Cluster::start("service");
    let mut admin = cluster.create_db("service", true);
    admin.batch_execute(TENANTS_SQL).unwrap();
    create_authenticator(&mut admin);
    admin
        .batch_execute(&format!(
            "INSERT INTO booking.services (id, organization_id, name, duration_minutes)
             VALUES ('{SERVICE_LIMITED}', '{LAB}', 'Supervised session', 60);
             INSERT INTO booking.service_rules (service_id, organization_id, max_concurrent_bookings, auto_confirm)
             VALUES ('{SERVICE_LIMITED}', '{LAB}', {SERVICE_LIMIT}, true);"
        ))
        .unwrap();
    let (mut accepted, mut refused) = (0, 0);
    for (a, r) in run_clients(cluster.url("service"), service_client) {
        accepted += a;
        refused += r;
    }
    // Each booking holds one "seat" of the service, whatever its resource.
    let rows: Vec<(i64, i64, i32)> = admin
        .query(
            "SELECT (extract(epoch FROM starts_at) * 1e6)::int8, (extract(epoch FROM ends_at) * 1e6)::int8, 1
             FROM booking.bookings WHERE service_id = $1::text::uuid AND status IN ('pending', 'approved')",
            &[&SERVICE_LIMITED],
        )
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect();
    eprintln!("book() of a service limited to {SERVICE_LIMIT}: {accepted} accepted, {refused} refused with PT409, peak {}", peak_seats(&rows));
    assert_eq!(rows.len(), accepted);
    assert!(
        peak_seats(&rows) <= SERVICE_LIMIT,
        "service limit exceeded: {rows:?}"
    );
    assert_eq!(
        peak_seats(&rows),
        SERVICE_LIMIT,
        "the limit was never reached: the test proved nothing"
    );
    assert!(refused > 0);
}
