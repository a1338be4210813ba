//! Eight people booking overlapping weekly series of one capacity-1 resource at the same moment,
//! through the same path as the API: each logs in as PostgREST does (`authenticator`, then
//! `authenticated` with the caller's JWT claims) and calls `book_series` (all or nothing), half
//! in READ COMMITTED and half in REPEATABLE READ (which retries serialization failures, as apps
//! must). Every series has 20 Mondays at 10:00 New York time on the VR Headset; their first
//! weeks are shifted so that they overlap partially (and the series span the change to summer
//! time). Afterwards, brute force: no two holding bookings of the resource overlap, every series
//! is either entirely booked (its 20 occurrences, each with its series_id) or entirely refused
//! (PT409 with its refusals as JSON, and nothing of it written), and every refused series
//! collides with a booked one. Several rounds, each with fresh dates.

#[path = "../common/mod.rs"]
mod common;

use common::{as_persona, connect_as_api, create_authenticator, sqlstate, Cluster, TENANTS_SQL};
use std::sync::{Arc, Barrier};

const LAB: &str = "00000000-0000-4000-a000-000000000001";
const VR: &str = "00000000-0000-4000-a000-000000000101"; // capacity 1, auto-approves
const SESSIONS: usize = 8;
const OCCURRENCES: i32 = 20;
/// Session i's series starts `SHIFT_WEEKS * i` weeks after the round's first Monday (shuffled
/// per round): two series overlap when their first weeks are less than 20 weeks apart.
const SHIFT_WEEKS: i32 = 3;
const ROUNDS: usize = 10;

fn user(n: usize) -> String {
    format!("u-series{n}")
}

/// What one session's call came to.
#[derive(Debug)]
enum Outcome {
    /// Booked: the series' id and the number of occurrences the answer listed (booked, skipped).
    Booked {
        series_id: String,
        booked: i64,
        skipped: i64,
    },
    /// Refused with PT409: the refused occurrences' local dates and reasons, from DETAIL.
    Refused { refusals: Vec<(String, String)> },
}

#[derive(Debug)]
struct Session {
    user: String,
    first_monday: String,
    repeatable_read: bool,
    outcome: Outcome,
    serialization_retries: usize,
    deadlock_retries: usize,
}

/// One session: books its weekly series once, retrying 40001 (REPEATABLE READ) and 40P01.
fn session(url: String, id: usize, first_monday: String, barrier: Arc<Barrier>) -> Session {
    let mut conn = connect_as_api(&url);
    let who = user(id);
    let repeatable_read = id % 2 == 1;
    let (mut serialization_retries, mut deadlock_retries) = (0, 0);
    barrier.wait();
    let outcome = loop {
        let mut tx = conn
            .build_transaction()
            .isolation_level(if repeatable_read {
                postgres::IsolationLevel::RepeatableRead
            } else {
                postgres::IsolationLevel::ReadCommitted
            })
            .start()
            .unwrap();
        as_persona(&mut tx, "authenticated", Some(&who));
        let res = tx.query_one(
            "SELECT r -> 'series' ->> 'id', jsonb_array_length(r -> 'bookings')::int8, jsonb_array_length(r -> 'skipped')::int8
             FROM booking.book_series($1::text::uuid,
                                      ($2::text::date + time '10:00') AT TIME ZONE 'America/New_York',
                                      ($2::text::date + time '11:00') AT TIME ZONE 'America/New_York',
                                      'FREQ=WEEKLY;COUNT=' || $3::int4, 'Weekly VR practice') AS r",
            &[&VR, &first_monday, &OCCURRENCES],
        );
        match res.and_then(|row| tx.commit().map(|_| row)) {
            Ok(row) => {
                break Outcome::Booked {
                    series_id: row.get(0),
                    booked: row.get(1),
                    skipped: row.get(2),
                }
            }
            Err(e) if sqlstate(&e).as_deref() == Some("PT409") => {
                let detail = e
                    .as_db_error()
                    .and_then(|d| d.detail())
                    .unwrap_or_else(|| panic!("{who}: PT409 without DETAIL: {e:?}"))
                    .to_owned();
                let refusals: serde_json::Value = serde_json::from_str(&detail)
                    .unwrap_or_else(|err| panic!("{who}: DETAIL is not JSON ({err}): {detail}"));
                let refusals = refusals
                    .as_array()
                    .unwrap_or_else(|| panic!("{who}: DETAIL is not a JSON array: {detail}"))
                    .iter()
                    .map(|r| {
                        (
                            r["local_date"].as_str().unwrap().to_owned(),
                            r["reason"].as_str().unwrap().to_owned(),
                        )
                    })
                    .collect();
                break Outcome::Refused { refusals };
            }
            Err(e)
                if repeatable_read
                    && sqlstate(&e).as_deref() == Some("40001")
                    && serialization_retries < 200 =>
            {
                serialization_retries += 1
            }
            Err(e) if sqlstate(&e).as_deref() == Some("40P01") && deadlock_retries < 20 => {
                deadlock_retries += 1
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
    };
    Session {
        user: who,
        first_monday,
        repeatable_read,
        outcome,
        serialization_retries,
        deadlock_retries,
    }
}

/// The weeks (counted from the round's first Monday) a series starting at `shift` covers.
fn weeks(shift: i32) -> std::ops::Range<i32> {
    shift..shift + OCCURRENCES
}

fn overlap(a: &std::ops::Range<i32>, b: &std::ops::Range<i32>) -> bool {
    a.start < b.end && b.start < a.end
}

#[test]
fn eight_concurrent_overlapping_series_are_each_all_or_nothing_and_never_overlap() {
    let cluster = Cluster::start("series");
    let mut admin = cluster.create_db("series", true);
    admin.batch_execute(TENANTS_SQL).unwrap();
    create_authenticator(&mut admin);
    for n in 0..SESSIONS {
        admin
            .execute(
                "INSERT INTO booking.members (organization_id, user_id, role) VALUES ($1::text::uuid, $2, 'member')",
                &[&LAB, &user(n)],
            )
            .unwrap();
    }
    let url = cluster.url("series");
    let (mut total_serialization, mut total_deadlocks, mut total_booked, mut total_refused) =
        (0, 0, 0, 0);

    for round in 0..ROUNDS {
        // Each round in its own stretch of time (a year apart, on Mondays): 2031-01-06, 2032-01-05, ...
        let base: String = admin
            .query_one(
                "SELECT (date '2031-01-06' + 7 * 52 * $1::int4)::text",
                &[&(round as i32)],
            )
            .unwrap()
            .get(0);
        // Who starts when: a different order each round, so different sessions win.
        let shifts: Vec<i32> = (0..SESSIONS)
            .map(|i| SHIFT_WEEKS * ((i * (2 * round + 1) + round) % SESSIONS) as i32)
            .collect();
        let firsts: Vec<String> = shifts
            .iter()
            .map(|&s| {
                admin
                    .query_one("SELECT ($1::text::date + 7 * $2::int4)::text", &[&base, &s])
                    .unwrap()
                    .get(0)
            })
            .collect();
        let barrier = Arc::new(Barrier::new(SESSIONS));
        let handles: Vec<_> = (0..SESSIONS)
            .map(|id| {
                let (url, barrier, first) = (url.clone(), barrier.clone(), firsts[id].clone());
                std::thread::spawn(move || session(url, id, first, barrier))
            })
            .collect();
        let sessions: Vec<Session> = handles
            .into_iter()
            .map(|h| h.join().expect("a session thread panicked"))
            .collect();

        // 1. No two holding bookings of the resource overlap (brute force over all pairs).
        let rows: Vec<(String, String, i64, i64)> = admin
            .query(
                "SELECT id::text, booked_by, (extract(epoch FROM starts_at) * 1e6)::int8, (extract(epoch FROM ends_at) * 1e6)::int8
                 FROM booking.bookings WHERE resource_id = $1::text::uuid AND status IN ('pending', 'approved')",
                &[&VR],
            )
            .unwrap()
            .iter()
            .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3)))
            .collect();
        for (i, a) in rows.iter().enumerate() {
            for b in &rows[i + 1..] {
                assert!(
                    !(a.2 < b.3 && b.2 < a.3),
                    "round {round}: two holding bookings of the VR Headset overlap: {a:?} and {b:?}"
                );
            }
        }

        // 2. Each series entirely booked or entirely refused.
        let mut booked_weeks = Vec::new();
        for (s, &shift) in sessions.iter().zip(&shifts) {
            let expected: Vec<String> = admin
                .query_one(
                    "SELECT array_agg(to_char($1::text::date + 7 * g + time '10:00', 'YYYY-MM-DD HH24:MI') ORDER BY g)
                     FROM generate_series(0, $2::int4 - 1) g",
                    &[&s.first_monday, &OCCURRENCES],
                )
                .unwrap()
                .get(0);
            let series_rows: i64 = admin
                .query_one(
                    "SELECT count(*) FROM booking.booking_series WHERE booked_by = $1 AND first_date = $2::text::date",
                    &[&s.user, &s.first_monday],
                )
                .unwrap()
                .get(0);
            match &s.outcome {
                Outcome::Booked {
                    series_id,
                    booked,
                    skipped,
                } => {
                    assert_eq!(
                        (*booked, *skipped),
                        (OCCURRENCES as i64, 0),
                        "round {round}: {s:?}"
                    );
                    let held: Vec<String> = admin
                        .query_one(
                            "SELECT coalesce(array_agg(to_char(starts_at AT TIME ZONE 'America/New_York', 'YYYY-MM-DD HH24:MI')
                                                       ORDER BY starts_at), '{}')
                             FROM booking.bookings
                             WHERE series_id = $1::text::uuid AND status = 'approved' AND booked_by = $2
                               AND resource_id = $3::text::uuid AND ends_at - starts_at = interval '1 hour'",
                            &[series_id, &s.user, &VR],
                        )
                        .unwrap()
                        .get(0);
                    assert_eq!(
                        held, expected,
                        "round {round}: {}'s series is not entirely booked",
                        s.user
                    );
                    assert_eq!(series_rows, 1, "round {round}: {}'s series row", s.user);
                    booked_weeks.push(weeks(shift));
                    total_booked += 1;
                }
                Outcome::Refused { refusals } => {
                    assert!(
                        !refusals.is_empty()
                            && refusals.iter().all(|(d, r)| {
                                expected.iter().any(|e| e.starts_with(d.as_str()))
                                    && (r == "overlap" || r == "capacity")
                            }),
                        "round {round}: {}'s refusals: {refusals:?}",
                        s.user
                    );
                    assert_eq!(
                        series_rows, 0,
                        "round {round}: {}'s refused series left its row",
                        s.user
                    );
                    let left: i64 = admin
                        .query_one(
                            "SELECT count(*) FROM booking.bookings b
                             WHERE b.booked_by = $1 AND b.starts_at >= ($2::text::date + time '00:00') AT TIME ZONE 'America/New_York'
                               AND b.starts_at < ($2::text::date + 7 * $3::int4) AT TIME ZONE 'America/New_York'",
                            &[&s.user, &s.first_monday, &OCCURRENCES],
                        )
                        .unwrap()
                        .get(0);
                    assert_eq!(
                        left, 0,
                        "round {round}: {}'s refused series left bookings",
                        s.user
                    );
                    total_refused += 1;
                }
            }
        }
        // 3. A refusal is explained: every refused series collides with a booked one, and each
        // date it was refused is one a booked series holds (a series booked after it, once it
        // gave up the lock, may hold more of its weeks).
        let held_dates: Vec<String> = admin
            .query_one(
                "SELECT coalesce(array_agg((starts_at AT TIME ZONE 'America/New_York')::date::text), '{}')
                 FROM booking.bookings WHERE resource_id = $1::text::uuid AND status = 'approved' AND series_id IS NOT NULL",
                &[&VR],
            )
            .unwrap()
            .get(0);
        for (s, &shift) in sessions.iter().zip(&shifts) {
            if let Outcome::Refused { refusals } = &s.outcome {
                let mine = weeks(shift);
                assert!(
                    booked_weeks.iter().any(|b| overlap(b, &mine)),
                    "round {round}: {} was refused though no booked series overlaps it: {refusals:?}",
                    s.user
                );
                for (date, reason) in refusals {
                    assert!(
                        held_dates.contains(date),
                        "round {round}: {} was refused {date} ({reason}), which no booked series holds",
                        s.user
                    );
                }
            }
        }
        let serialization: usize = sessions.iter().map(|s| s.serialization_retries).sum();
        let deadlocks: usize = sessions.iter().map(|s| s.deadlock_retries).sum();
        total_serialization += serialization;
        total_deadlocks += deadlocks;
        eprintln!(
            "round {round}: {} booked, {} refused; {serialization} serialization retries, {deadlocks} deadlock retries",
            sessions
                .iter()
                .filter(|s| matches!(s.outcome, Outcome::Booked { .. }))
                .count(),
            sessions
                .iter()
                .filter(|s| matches!(s.outcome, Outcome::Refused { .. }))
                .count(),
        );
        for s in &sessions {
            eprintln!(
                "  {} ({}) from {}: {}",
                s.user,
                if s.repeatable_read {
                    "repeatable read"
                } else {
                    "read committed"
                },
                s.first_monday,
                match &s.outcome {
                    Outcome::Booked { .. } => "booked".to_owned(),
                    Outcome::Refused { refusals } => format!("refused ({} dates)", refusals.len()),
                }
            );
        }
    }
    eprintln!(
        "{ROUNDS} rounds: {total_booked} series booked, {total_refused} refused; \
         {total_serialization} serialization retries, {total_deadlocks} deadlock retries"
    );
    // Contention happened: the test proved something.
    assert!(total_booked >= ROUNDS && total_refused > 0);
}
