//! Sixty people registering at once for a 12-seat workshop session, then forty cancelling while
//! forty others register, through the same path as the API: clients log in as PostgREST does
//! (`authenticator`, then `authenticated` with the caller's JWT claims) and call the RPCs, half
//! of them in READ COMMITTED and half in REPEATABLE READ (which retries on serialization
//! failures, as apps must). Afterwards, brute-force checks over the rows and the outbox: exactly
//! 12 seats held, the waiting line dense and in the order people joined it, every freed seat
//! given exactly once to the first in line, nobody lost; and a watcher polling the seats held
//! while the second phase runs never sees more than 12 at any commit.

#[path = "../common/mod.rs"]
mod common;

use common::{
    as_persona, at_once, connect_as_api, create_authenticator, sqlstate, Cluster, Retries,
    TENANTS_SQL,
};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

const LAB: &str = "00000000-0000-4000-a000-000000000001";
const DIGITAL_LAB: &str = "00000000-0000-4000-a000-000000000103"; // capacity 12
const WORKSHOP: &str = "00000000-0000-4000-a000-000000000951";
const BOOKING: &str = "00000000-0000-4000-a000-000000000451";
const SESSION: &str = "00000000-0000-4000-a000-000000000961";
const CAPACITY: usize = 12;
const FIRST_WAVE: usize = 60;
const SECOND_WAVE: usize = 40;
/// Phase 2: of the first wave, this many registered people cancel (the rest of the 40
/// cancellations are waitlisted people, from all along the line).
const REGISTERED_CANCELLING: usize = 8;

fn user(n: usize) -> String {
    format!("u-w{n:02}")
}

/// One transaction as `who`, as PostgREST runs it, tried again on serialization failures in
/// REPEATABLE READ and on deadlocks in either level; returns what `body` returned and how many
/// times it was tried again. Deadlocks are retried so that a regression shows as a failed
/// assertion (the test asserts there were none), not as a hang: the RPCs take a session's lock
/// before a registration's row lock, as a promotion does (session, then the next person's
/// row); a cancellation that took them the other way round met the promotion crosswise.
fn as_user<T>(
    conn: &mut postgres::Client,
    who: &str,
    repeatable_read: bool,
    mut body: impl FnMut(&mut postgres::Transaction<'_>) -> Result<T, postgres::Error>,
) -> (T, Retries) {
    let mut retries = Retries::default();
    loop {
        let mut tx = conn
            .build_transaction()
            .isolation_level(if repeatable_read {
                postgres::IsolationLevel::RepeatableRead
            } else {
                postgres::IsolationLevel::ReadCommitted
            })
            .start()
            .unwrap();
        as_persona(&mut tx, "authenticated", Some(who));
        match body(&mut tx).and_then(|v| tx.commit().map(|_| v)) {
            Ok(v) => return (v, retries),
            Err(e)
                if repeatable_read
                    && sqlstate(&e).as_deref() == Some("40001")
                    && retries.serialization < 200 =>
            {
                retries.serialization += 1
            }
            Err(e) if sqlstate(&e).as_deref() == Some("40P01") && retries.deadlock < 20 => {
                retries.deadlock += 1
            }
            Err(e) => panic!(
                "{who} ({}) got an unexpected error: {e:?}",
                if repeatable_read {
                    "repeatable read"
                } else {
                    "read committed"
                }
            ),
        }
    }
}

/// What a client saw of its registration, in the transaction that made it.
#[derive(Debug, Clone)]
struct Seen {
    user: String,
    id: String,
    status: String,
    position: Option<i32>,
    queue_number: i64,
    retries: Retries,
}

/// Registers `who` for the session and reads back the registration's status, place in line and
/// queue number.
fn register(conn: &mut postgres::Client, who: &str, repeatable_read: bool) -> Seen {
    let ((id, status, position, queue_number), retries) =
        as_user(conn, who, repeatable_read, |tx| {
            let id: String = tx
                .query_one(
                    "SELECT r.id::text FROM booking.register_for_session($1::text::uuid) r",
                    &[&SESSION],
                )?
                .get(0);
            let row = tx.query_one(
                "SELECT r.status, booking.waitlist_position(r), r.queue_number
             FROM booking.workshop_registrations r WHERE r.id = $1::text::uuid",
                &[&id],
            )?;
            Ok((id, row.get(0), row.get(1), row.get(2)))
        });
    Seen {
        user: who.to_owned(),
        id,
        status,
        position,
        queue_number,
        retries,
    }
}

enum Job {
    Register(String),
    Cancel(Seen),
}

enum Done {
    Registered(Seen),
    Cancelled(Retries),
}

/// Jobs alternate cancel, register, cancel, register...: pairs of jobs alternate isolation
/// levels, so that both kinds run in both.
fn phase2_client(conn: &mut postgres::Client, i: usize, job: Job) -> Done {
    let repeatable_read = (i / 2) % 2 == 1;
    match job {
        Job::Register(who) => Done::Registered(register(conn, &who, repeatable_read)),
        Job::Cancel(seen) => {
            let (status, retries) = as_user(conn, &seen.user, repeatable_read, |tx| {
                Ok(tx
                    .query_one(
                        "SELECT r.status FROM booking.cancel_registration($1::text::uuid) r",
                        &[&seen.id],
                    )?
                    .get::<_, String>(0))
            });
            assert_eq!(status, "cancelled", "{} cancelled {}", seen.user, seen.id);
            Done::Cancelled(retries)
        }
    }
}

fn seats_held(admin: &mut postgres::Client) -> i32 {
    admin
        .query_one(
            "SELECT booking_internal.session_seats_held($1::text::uuid)",
            &[&SESSION],
        )
        .unwrap()
        .get(0)
}

#[test]
fn sixty_registrations_then_forty_cancellations_and_forty_registrations_at_once() {
    let cluster = Cluster::start("workshops");
    let mut admin = cluster.create_db("workshops", true);
    admin.batch_execute(TENANTS_SQL).unwrap();
    create_authenticator(&mut admin);
    admin
        .batch_execute(&format!(
            "-- Deadlocks (see as_user) are found in 0.1 s rather than 1 s: the test stays quick.
             ALTER DATABASE workshops SET deadlock_timeout = '100ms';
             -- A published public workshop of the (public) lab: any signed-in user may register.
             INSERT INTO booking.workshops (id, organization_id, title, default_resource_id, capacity, status)
             VALUES ('{WORKSHOP}', '{LAB}', 'Soldering for beginners', '{DIGITAL_LAB}', {CAPACITY}, 'published');
             -- One session of 12 seats in the Digital Lab (capacity 12), a Tuesday morning in 2031.
             INSERT INTO booking.bookings (id, organization_id, resource_id, booked_by, title, starts_at, ends_at, status, seats)
             VALUES ('{BOOKING}', '{LAB}', '{DIGITAL_LAB}', 'u-staff', 'Soldering for beginners',
                     '2031-03-04 10:00 America/New_York', '2031-03-04 12:00 America/New_York', 'approved', {CAPACITY});
             INSERT INTO booking.workshop_sessions (id, organization_id, workshop_id, booking_id, capacity)
             VALUES ('{SESSION}', '{LAB}', '{WORKSHOP}', '{BOOKING}', {CAPACITY});"
        ))
        .unwrap();
    let url = cluster.url("workshops");

    // Phase 1: sixty people register at once.
    let started = std::time::Instant::now();
    let first: Vec<Seen> = at_once(
        &url,
        (1..=FIRST_WAVE).map(user).collect(),
        |conn, i, who: String| register(conn, &who, i % 2 == 1),
    );
    let phase1_time = started.elapsed();
    let registered: Vec<&Seen> = first.iter().filter(|s| s.status == "registered").collect();
    let mut waitlisted: Vec<&Seen> = first.iter().filter(|s| s.status == "waitlisted").collect();
    waitlisted.sort_by_key(|s| s.queue_number);
    eprintln!(
        "phase 1 ({:.1} s): {} registered, {} waitlisted, {:?}",
        phase1_time.as_secs_f64(),
        registered.len(),
        waitlisted.len(),
        first
            .iter()
            .map(|s| s.retries)
            .fold(Retries::default(), |a, b| a + b)
    );
    assert_eq!(
        (registered.len(), waitlisted.len()),
        (CAPACITY, FIRST_WAVE - CAPACITY),
        "registered and waitlisted after the first wave"
    );
    assert_eq!(
        first.iter().map(|s| s.retries.deadlock).sum::<usize>(),
        0,
        "no deadlock in the first wave"
    );
    assert!(registered.iter().all(|s| s.position.is_none()));
    // The places people were told are 1..48, each once, in the order of their queue numbers;
    // and everyone registered joined before everyone waiting.
    let positions: Vec<Option<i32>> = waitlisted.iter().map(|s| s.position).collect();
    let expected: Vec<Option<i32>> = (1..=(FIRST_WAVE - CAPACITY) as i32).map(Some).collect();
    assert_eq!(positions, expected, "places in line, in queue-number order");
    let last_registered = registered.iter().map(|s| s.queue_number).max().unwrap();
    assert!(last_registered < waitlisted[0].queue_number);
    assert_eq!(seats_held(&mut admin), CAPACITY as i32);

    // Phase 2: 8 registered people and 32 waitlisted ones (two in every three places of the
    // line, from its head: some are given a seat before their cancellation lands) cancel, while
    // 40 newcomers register; a watcher polls the seats held meanwhile.
    let mut cancelling: Vec<Seen> = registered
        .iter()
        .take(REGISTERED_CANCELLING)
        .map(|s| (*s).clone())
        .collect();
    cancelling.extend(
        waitlisted
            .iter()
            .filter(|s| s.position.unwrap() % 3 != 0)
            .map(|s| (*s).clone()),
    );
    assert_eq!(cancelling.len(), 40);
    let cancellers: BTreeSet<String> = cancelling.iter().map(|s| s.user.clone()).collect();
    // Interleaved, so that both kinds run in both isolation levels (see phase2_client).
    let mut jobs = Vec::new();
    for (k, c) in cancelling.into_iter().enumerate() {
        jobs.push(Job::Cancel(c));
        jobs.push(Job::Register(user(FIRST_WAVE + 1 + k)));
    }
    let stop = Arc::new(AtomicBool::new(false));
    let watcher = {
        let (url, stop) = (url.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut c = postgres::Client::connect(&url, postgres::NoTls).unwrap();
            let (mut max, mut samples) = (0, 0);
            while !stop.load(Ordering::Relaxed) {
                max = max.max(seats_held(&mut c));
                samples += 1;
            }
            (max, samples)
        })
    };
    let started = std::time::Instant::now();
    let done = at_once(&url, jobs, phase2_client);
    let phase2_time = started.elapsed();
    stop.store(true, Ordering::Relaxed);
    let (max_held, samples) = watcher.join().unwrap();
    let newcomers: Vec<Seen> = done
        .iter()
        .filter_map(|d| match d {
            Done::Registered(s) => Some(s.clone()),
            Done::Cancelled(_) => None,
        })
        .collect();
    let retries = done
        .iter()
        .map(|d| match d {
            Done::Registered(s) => s.retries,
            Done::Cancelled(retries) => *retries,
        })
        .fold(Retries::default(), |a, b| a + b);
    assert_eq!(
        retries.deadlock, 0,
        "the RPCs take the session's lock before a row's: no deadlock"
    );

    // The rows as they are now, and the outbox's account of how they got there.
    let rows: HashMap<String, (String, i64)> = admin
        .query(
            "SELECT user_id, status, queue_number FROM booking.workshop_registrations WHERE session_id = $1::text::uuid",
            &[&SESSION],
        )
        .unwrap()
        .iter()
        .map(|r| (r.get(0), (r.get(1), r.get(2))))
        .collect();
    let cancelled_from: BTreeMap<String, i64> = admin
        .query(
            "SELECT payload ->> 'previous_status', count(*) FROM booking.outbox
             WHERE topic = 'workshop.registration_status_changed' AND payload ->> 'session_id' = $1
               AND payload ->> 'status' = 'cancelled'
             GROUP BY 1",
            &[&SESSION],
        )
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    let promoted: Vec<String> = admin
        .query(
            "SELECT payload ->> 'user_id' FROM booking.outbox
             WHERE topic = 'workshop.registration_promoted' AND payload ->> 'session_id' = $1",
            &[&SESSION],
        )
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    let promoted_changes: i64 = admin
        .query_one(
            "SELECT count(*) FROM booking.outbox
             WHERE topic = 'workshop.registration_status_changed' AND payload ->> 'session_id' = $1
               AND payload ->> 'previous_status' = 'waitlisted' AND payload ->> 'status' = 'registered'",
            &[&SESSION],
        )
        .unwrap()
        .get(0);
    let count = |status: &str| rows.values().filter(|(s, _)| s == status).count();
    let registered_cancelled = *cancelled_from.get("registered").unwrap_or(&0) as usize;
    eprintln!(
        "phase 2 ({:.1} s): {} cancellations ({cancelled_from:?} before), {} newcomers ({} waitlisted), {} promotions, \
         {retries:?}; watcher: at most {max_held} seats held in {samples} samples; \
         now {} registered, {} waitlisted, {} cancelled",
        phase2_time.as_secs_f64(),
        cancellers.len(),
        newcomers.len(),
        newcomers.iter().filter(|s| s.status == "waitlisted").count(),
        promoted.len(),
        count("registered"),
        count("waitlisted"),
        count("cancelled"),
    );

    // Never more than 12 seats at any commit, and exactly 12 now (the line is long enough).
    assert!(samples > 0);
    assert!(
        max_held <= CAPACITY as i32,
        "the watcher saw {max_held} seats held"
    );
    assert_eq!(seats_held(&mut admin), CAPACITY as i32);
    assert_eq!(count("registered"), CAPACITY);
    // Nobody lost: one row per person; the 40 who cancelled are cancelled, everyone else is
    // registered or waiting; the newcomers joined behind a line that never emptied.
    assert_eq!(rows.len(), FIRST_WAVE + SECOND_WAVE);
    for n in 1..=FIRST_WAVE + SECOND_WAVE {
        let who = user(n);
        let (status, _) = rows
            .get(&who)
            .unwrap_or_else(|| panic!("{who} has no registration"));
        if cancellers.contains(&who) {
            assert_eq!(status, "cancelled", "{who}");
        } else {
            assert!(
                status == "registered" || status == "waitlisted",
                "{who} is {status}"
            );
        }
    }
    assert!(newcomers.iter().all(|s| s.status == "waitlisted"));
    assert_eq!(count("cancelled"), cancellers.len());
    assert_eq!(
        cancelled_from.values().sum::<i64>() as usize,
        cancellers.len()
    );
    // Every freed seat went to someone exactly once: one promotion per registered person who
    // cancelled (the 8, plus any promoted before their own cancellation landed), nobody twice.
    assert!(registered_cancelled >= REGISTERED_CANCELLING);
    assert_eq!(
        promoted.len(),
        registered_cancelled,
        "promotions: {promoted:?}"
    );
    assert_eq!(promoted_changes as usize, promoted.len());
    let distinct: BTreeSet<&String> = promoted.iter().collect();
    assert_eq!(
        distinct.len(),
        promoted.len(),
        "someone promoted twice: {promoted:?}"
    );
    // In the order of the line: everyone promoted joined before everyone still waiting.
    let last_promoted = promoted.iter().map(|u| rows[u].1).max().unwrap();
    let first_waiting = rows
        .values()
        .filter(|(s, _)| s == "waitlisted")
        .map(|r| r.1)
        .min()
        .unwrap();
    assert!(
        last_promoted < first_waiting,
        "promoted out of order: queue number {last_promoted} promoted while {first_waiting} waits"
    );
    // The line is dense and in queue order: each waiting person's place is their rank.
    let mut line: Vec<(i64, String)> = rows
        .iter()
        .filter(|(_, (s, _))| s == "waitlisted")
        .map(|(u, (_, q))| (*q, u.clone()))
        .collect();
    line.sort();
    let mut c = connect_as_api(&url);
    for (rank, (_, who)) in line.iter().enumerate() {
        let (place, _) = as_user(&mut c, who, false, |tx| {
            Ok(tx
                .query_one(
                    "SELECT booking.waitlist_position(r) FROM booking.workshop_registrations r
                     WHERE r.session_id = $1::text::uuid AND r.user_id = $2",
                    &[&SESSION, who],
                )?
                .get::<_, Option<i32>>(0))
        });
        assert_eq!(place, Some(rank as i32 + 1), "{who}'s place in line");
    }
}

/// Every write that frees a seat gives it to the first in line in its own transaction, each
/// run as the API runs it, in a transaction of its own that has not locked the session before
/// (so the session lock is taken by the write itself, or by the RPC before it): a cancellation
/// through the RPC and through a direct update of the row, a registration deleted by staff, a
/// capacity raised, an expired offer found by the next registration in the session. And when
/// nobody waits, a cancellation leaves the seat free for the next person to register; a lapsed
/// offer with nobody behind it is still cancelled by the next write in its session.
#[test]
fn every_write_that_frees_a_seat_promotes_in_its_own_transaction() {
    let cluster = Cluster::start("workshops_free_seats");
    let mut admin = cluster.create_db("free_seats", true);
    admin.batch_execute(TENANTS_SQL).unwrap();
    create_authenticator(&mut admin);
    admin
        .batch_execute(&format!(
            "INSERT INTO booking.workshops (id, organization_id, title, default_resource_id, capacity, status)
             VALUES ('{WORKSHOP}', '{LAB}', 'Soldering for beginners', '{DIGITAL_LAB}', 1, 'published');"
        ))
        .unwrap();
    let url = cluster.url("free_seats");
    let mut api = connect_as_api(&url);
    let mut day = 0;
    // A new session of `seats` (staff, through create_session), in a transaction of its own.
    let mut new_session = |api: &mut postgres::Client, seats: i32| -> String {
        day += 1;
        let (id, _) = as_user(api, "u-staff", false, |tx| {
            Ok(tx
                .query_one(
                    "SELECT s.id::text FROM booking.create_session($1::text::uuid,
                       '2031-04-01 10:00 UTC'::timestamptz + make_interval(days => $2),
                       '2031-04-01 12:00 UTC'::timestamptz + make_interval(days => $2), $3) s",
                    &[&WORKSHOP, &day, &seats],
                )?
                .get::<_, String>(0))
        });
        id
    };
    let register = |api: &mut postgres::Client, session: &str, who: &str| -> (String, String) {
        as_user(api, who, false, |tx| {
            let row = tx.query_one(
                "SELECT r.id::text, r.status FROM booking.register_for_session($1::text::uuid) r",
                &[&session],
            )?;
            Ok((row.get(0), row.get(1)))
        })
        .0
    };
    let status = |admin: &mut postgres::Client, session: &str, who: &str| -> String {
        admin
            .query_one(
                "SELECT status FROM booking.workshop_registrations
                 WHERE session_id = $1::text::uuid AND user_id = $2",
                &[&session, &who],
            )
            .unwrap()
            .get(0)
    };
    let promoted_events = |admin: &mut postgres::Client, who: &str| -> i64 {
        admin
            .query_one(
                "SELECT count(*) FROM booking.outbox
                 WHERE topic = 'workshop.registration_promoted' AND payload ->> 'user_id' = $1",
                &[&who],
            )
            .unwrap()
            .get(0)
    };

    // One seat held and one person waiting; each of these writes, by its writer in a
    // transaction of its own, frees the seat, and the person waiting has it, announced once.
    // The statement's $1 is the holder's registration, or the session where `on_session`.
    let frees_the_seat: [(&str, &str, &str, &str, bool); 4] = [
        ("cancel_registration", "u-w01", "SELECT booking.cancel_registration($1::text::uuid)", "u-w02", false),
        // PostgREST's PATCH: the guard takes the session's lock
        ("a direct cancellation", "u-w03",
         "UPDATE booking.workshop_registrations SET status = 'cancelled' WHERE id = $1::text::uuid", "u-w04", false),
        ("staff deleting the registration", "u-staff",
         "DELETE FROM booking.workshop_registrations WHERE id = $1::text::uuid", "u-w06", false),
        ("staff raising the capacity", "u-staff",
         "UPDATE booking.workshop_sessions SET capacity = 2 WHERE id = $1::text::uuid", "u-w08", true),
    ];
    for (n, (what, writer, sql, next, on_session)) in frees_the_seat.into_iter().enumerate() {
        let s = new_session(&mut api, 1);
        let holder = format!("u-w{:02}", 2 * n + 1);
        let (held, st) = register(&mut api, &s, &holder);
        assert_eq!(st, "registered");
        assert_eq!(register(&mut api, &s, next).1, "waitlisted");
        let target = if on_session { s.clone() } else { held };
        as_user(&mut api, writer, false, |tx| tx.execute(sql, &[&target]));
        assert_eq!(
            status(&mut admin, &s, next),
            "registered",
            "{what} promoted"
        );
        assert_eq!(
            promoted_events(&mut admin, next),
            1,
            "{what} announced the promotion"
        );
    }

    // Nobody waits: the freed seat stays free, and the next person to register takes it.
    let s = new_session(&mut api, 1);
    let (first, _) = register(&mut api, &s, "u-w09");
    as_user(&mut api, "u-w09", false, |tx| {
        tx.execute(
            "SELECT booking.cancel_registration($1::text::uuid)",
            &[&first],
        )
    });
    assert_eq!(status(&mut admin, &s, "u-w09"), "cancelled");
    assert_eq!(
        register(&mut api, &s, "u-w10").1,
        "registered",
        "the free seat is taken at once"
    );

    // Offer mode: the seat is offered; the offer lapses; the next registration in the session
    // (its own transaction) cancels the lapsed offer and offers the seat to the next in line.
    admin
        .batch_execute(&format!(
            "UPDATE booking.workshops SET offer_minutes = 30 WHERE id = '{WORKSHOP}'"
        ))
        .unwrap();
    let s = new_session(&mut api, 1);
    let (first, _) = register(&mut api, &s, "u-w11");
    assert_eq!(register(&mut api, &s, "u-w12").1, "waitlisted");
    assert_eq!(register(&mut api, &s, "u-w13").1, "waitlisted");
    as_user(&mut api, "u-w11", false, |tx| {
        tx.execute(
            "SELECT booking.cancel_registration($1::text::uuid)",
            &[&first],
        )
    });
    assert_eq!(status(&mut admin, &s, "u-w12"), "offered");
    let expire = |admin: &mut postgres::Client, session: &str, who: &str| {
        // time passing: the offer's expiry moved into the past, triggers off
        admin
            .batch_execute(&format!(
                "BEGIN; SET LOCAL session_replication_role = replica;
                 UPDATE booking.workshop_registrations SET offer_expires_at = now() - interval '1 minute'
                 WHERE session_id = '{session}' AND user_id = '{who}'; COMMIT"
            ))
            .unwrap();
    };
    expire(&mut admin, &s, "u-w12");
    assert_eq!(
        register(&mut api, &s, "u-w14").1,
        "waitlisted",
        "behind the line"
    );
    assert_eq!(
        status(&mut admin, &s, "u-w12"),
        "cancelled",
        "the lapsed offer was cancelled"
    );
    assert_eq!(
        status(&mut admin, &s, "u-w13"),
        "offered",
        "and the seat offered to the next in line"
    );

    // A lapsed offer with nobody behind it: a cancellation freeing a seat in its session still
    // cancels it (and gives its seat to nobody), and the seats are free for the next to register.
    let s = new_session(&mut api, 2);
    let (first, _) = register(&mut api, &s, "u-w15");
    let (second, _) = register(&mut api, &s, "u-w16");
    assert_eq!(register(&mut api, &s, "u-w17").1, "waitlisted");
    as_user(&mut api, "u-w15", false, |tx| {
        tx.execute(
            "SELECT booking.cancel_registration($1::text::uuid)",
            &[&first],
        )
    });
    assert_eq!(status(&mut admin, &s, "u-w17"), "offered");
    expire(&mut admin, &s, "u-w17");
    as_user(&mut api, "u-w16", false, |tx| {
        tx.execute(
            "SELECT booking.cancel_registration($1::text::uuid)",
            &[&second],
        )
    });
    assert_eq!(
        status(&mut admin, &s, "u-w17"),
        "cancelled",
        "the lapsed offer was cancelled"
    );
    assert_eq!(
        register(&mut api, &s, "u-w18").1,
        "registered",
        "and the seats are free"
    );
}
