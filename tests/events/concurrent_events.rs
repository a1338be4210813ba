//! Events under contention, through the same path as the API: clients log in as PostgREST does
//! (`authenticator`, then `authenticated` with the caller's JWT claims) and call the RPCs, twenty
//! sessions at once, half in READ COMMITTED and half in REPEATABLE READ. Three races, each on its
//! own server: twenty staff checking out the one kit instance planned for twenty events (one
//! wins, the others get PT409 kit_checked_out, one check-out logged); twenty staff assigning one
//! person to twenty overlapping events (one wins, the others get PT409 person_busy); the person
//! checking in twenty times at once, then out twenty times at once (all answered with the same
//! instants, each change logged and audited once). No deadlock anywhere.

#[path = "../common/mod.rs"]
mod common;

use common::{
    as_persona, at_once_warm, connect_as_api, create_authenticator, sqlstate, transaction_as,
    Cluster, Refusal, Retries, TENANTS_SQL,
};

const LAB: &str = "00000000-0000-4000-a000-000000000001";
const DIGITAL_LAB: &str = "00000000-0000-4000-a000-000000000103"; // capacity 12
/// A second space that generates events, for the overlapping events the lab has no seats for.
const EVENT_HALL: &str = "00000000-0000-4000-a000-000000000105";
const STAFF: &str = "u-staff";
const MEMBER: &str = "u-member";
const SESSIONS: usize = 20;
const CHECKOUT_KIT: &str =
    "SELECT k.id::text, k.status, k.checked_out_by FROM booking.checkout_kit($1::text::uuid) k";
const ASSIGN: &str = "SELECT a.id::text, a.event_instance_id::text, a.status
                      FROM booking.assign_staff($1::text::uuid, $2, 'host') a";
const CHECK_IN: &str = "SELECT a.status, a.check_in_at::text, a.check_out_at::text
                        FROM booking.staff_check_in($1::text::uuid) a";
const CHECK_OUT: &str = "SELECT a.status, a.check_in_at::text, a.check_out_at::text
                         FROM booking.staff_check_out($1::text::uuid) a";

/// A server with the lab's tenants, the login role PostgREST uses, and a Digital Lab whose
/// approved bookings become events.
fn start(name: &str) -> (Cluster, postgres::Client, String) {
    let cluster = Cluster::start(name);
    let mut admin = cluster.create_db(name, true);
    admin.batch_execute(TENANTS_SQL).unwrap();
    create_authenticator(&mut admin);
    admin
        .batch_execute(&format!(
            "-- Deadlocks are found in 0.1 s rather than 1 s: the test stays quick.
             ALTER DATABASE {name} SET deadlock_timeout = '100ms';
             UPDATE booking.resources SET generates_events = true WHERE id = '{DIGITAL_LAB}';"
        ))
        .unwrap();
    let url = cluster.url(name);
    (cluster, admin, url)
}

/// An approved booking of `resource` from `local_start` (New York time), inserted as superuser,
/// and the event generation gave it.
fn approved_booking_event(
    admin: &mut postgres::Client,
    resource: &str,
    local_start: &str,
    minutes: i32,
) -> String {
    let booking: String = admin
        .query_one(
            "INSERT INTO booking.bookings (organization_id, resource_id, booked_by, title, starts_at, ends_at, status)
             VALUES ($1::text::uuid, $2::text::uuid, 'u-client', 'Event at ' || $3::text,
                     $3::text::timestamp AT TIME ZONE 'America/New_York',
                     ($3::text::timestamp + make_interval(mins => $4)) AT TIME ZONE 'America/New_York', 'approved')
             RETURNING id::text",
            &[&LAB, &resource, &local_start, &minutes],
        )
        .unwrap()
        .get(0);
    admin
        .query_one(
            "SELECT id::text FROM booking.event_instances WHERE booking_id = $1::text::uuid AND status = 'scheduled'",
            &[&booking],
        )
        .unwrap_or_else(|e| panic!("the approved booking at {local_start} has no event: {e}"))
        .get(0)
}

/// What one session's call came to.
#[derive(Debug)]
struct Call {
    session: usize,
    repeatable_read: bool,
    outcome: Result<postgres::Row, Refusal>,
    retries: Retries,
    elapsed: std::time::Duration,
}

fn params<'a>(args: &'a [&'a str]) -> Vec<&'a (dyn postgres::types::ToSql + Sync)> {
    args.iter()
        .map(|a| a as &(dyn postgres::types::ToSql + Sync))
        .collect()
}

/// Session `session` runs `sql` (with `args`) once as `who`, in REPEATABLE READ when `session`
/// is odd. A serialization failure there is retried, as an app must (the statement
/// read a snapshot older than a concurrent commit); so is a deadlock, counted and asserted away
/// by the caller, so that one shows as a failed assertion with the rest of the picture.
fn call(conn: &mut postgres::Client, session: usize, who: &str, sql: &str, args: &[&str]) -> Call {
    let repeatable_read = session % 2 == 1;
    let started = std::time::Instant::now();
    let (res, retries) = transaction_as(conn, who, repeatable_read, |tx| {
        tx.query_one(sql, &params(args))
    });
    let elapsed = started.elapsed();
    let outcome = res.map_err(Refusal::of);
    Call {
        session,
        repeatable_read,
        outcome,
        retries,
        elapsed,
    }
}

/// `call`'s statement once, in a transaction rolled back whatever it came to: warms the backend
/// up before the race (see `at_once_warm`).
fn rehearse(conn: &mut postgres::Client, who: &str, sql: &str, args: &[&str]) {
    let mut tx = conn.transaction().unwrap();
    as_persona(&mut tx, "authenticated", Some(who));
    let _ = tx.query_one(sql, &params(args));
    tx.rollback().unwrap();
}

/// The retries of all the calls, and how long the slowest call took (its retries included).
fn summary(calls: &[Call]) -> (Retries, f64) {
    (
        calls
            .iter()
            .map(|c| c.retries)
            .fold(Retries::default(), |a, b| a + b),
        calls
            .iter()
            .map(|c| c.elapsed.as_secs_f64())
            .fold(0.0, f64::max),
    )
}

/// Exactly one call succeeded and every other one was refused with PT409 and `detail`: the
/// winner.
fn one_winner<'a>(calls: &'a [Call], detail: &str) -> &'a Call {
    let winners: Vec<&Call> = calls.iter().filter(|c| c.outcome.is_ok()).collect();
    assert_eq!(winners.len(), 1, "exactly one call succeeds: {winners:#?}");
    for c in calls.iter().filter(|c| c.outcome.is_err()) {
        let r = c.outcome.as_ref().unwrap_err();
        assert!(
            r.sqlstate == "PT409" && r.detail.as_deref() == Some(detail),
            "session {} ({}) was refused otherwise than PT409 {detail}: {r:?}",
            c.session,
            if c.repeatable_read {
                "repeatable read"
            } else {
                "read committed"
            },
        );
    }
    winners[0]
}

#[test]
fn twenty_sessions_checking_out_one_kit_instance_at_once() {
    let (_cluster, mut admin, url) = start("events_kits");
    // One kit template, one instance of it; twenty events on consecutive days, each with an
    // activity that has that very instance assigned (the days do not overlap, so it may be).
    let template: String = admin
        .query_one(
            "INSERT INTO booking.kit_templates (organization_id, name, components)
             VALUES ($1::text::uuid, 'Sound kit', '[\"speaker\", \"mixer\"]') RETURNING id::text",
            &[&LAB],
        )
        .unwrap()
        .get(0);
    let kit: String = admin
        .query_one(
            "INSERT INTO booking.kit_instances (organization_id, template_id, serial_number)
             VALUES ($1::text::uuid, $2::text::uuid, 'SK-001') RETURNING id::text",
            &[&LAB, &template],
        )
        .unwrap()
        .get(0);
    let mut activity_kits = Vec::new();
    for d in 0..SESSIONS {
        let event = approved_booking_event(
            &mut admin,
            DIGITAL_LAB,
            &format!("2031-03-{:02} 10:00", 3 + d),
            120,
        );
        let activity: String = admin
            .query_one(
                "INSERT INTO booking.activities (organization_id, event_instance_id, title, kit_template_id)
                 VALUES ($1::text::uuid, $2::text::uuid, 'DJ set', $3::text::uuid) RETURNING id::text",
                &[&LAB, &event, &template],
            )
            .unwrap()
            .get(0);
        let activity_kit: String = admin
            .query_one(
                "INSERT INTO booking.activity_kits (organization_id, activity_id, kit_template_id, kit_instance_id, status)
                 VALUES ($1::text::uuid, $2::text::uuid, $3::text::uuid, $4::text::uuid, 'assigned') RETURNING id::text",
                &[&LAB, &activity, &template, &kit],
            )
            .unwrap()
            .get(0);
        activity_kits.push(activity_kit);
    }
    let setup = admin
        .query_one(
            "SELECT (SELECT count(*) FROM booking.event_instances),
                    (SELECT count(*) FROM booking.kit_templates), (SELECT count(*) FROM booking.kit_instances),
                    (SELECT count(DISTINCT event_instance_id) FROM booking.activity_kits
                     WHERE kit_instance_id = $1::text::uuid AND status = 'assigned')",
            &[&kit],
        )
        .unwrap();
    assert_eq!(
        (
            setup.get::<_, i64>(0),
            setup.get::<_, i64>(1),
            setup.get::<_, i64>(2),
            setup.get::<_, i64>(3)
        ),
        (SESSIONS as i64, 1, 1, SESSIONS as i64),
        "events generated, one template, one instance assigned to every event"
    );

    let calls = at_once_warm(
        &url,
        activity_kits.clone(),
        |conn, _, activity_kit| rehearse(conn, STAFF, CHECKOUT_KIT, &[activity_kit]),
        |conn, i, activity_kit| call(conn, i, STAFF, CHECKOUT_KIT, &[&activity_kit]),
    );
    let (retries, slowest) = summary(&calls);
    eprintln!(
        "kits (slowest call {:.2} s): {} checked out, {} refused; {retries:?}",
        slowest,
        calls.iter().filter(|c| c.outcome.is_ok()).count(),
        calls.iter().filter(|c| c.outcome.is_err()).count(),
    );

    let winner = one_winner(&calls, "kit_checked_out");
    let row = winner.outcome.as_ref().unwrap();
    assert_eq!(
        (
            row.get::<_, String>(0),
            row.get::<_, String>(1),
            row.get::<_, Option<String>>(2)
        ),
        (
            activity_kits[winner.session].clone(),
            "checked_out".to_owned(),
            Some(STAFF.to_owned())
        ),
        "the winner's answer"
    );
    // The table and the log agree: the instance is out with one event, checked out once.
    let out: Vec<String> = admin
        .query(
            "SELECT id::text FROM booking.activity_kits WHERE kit_instance_id = $1::text::uuid AND status = 'checked_out'",
            &[&kit],
        )
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(
        out,
        vec![activity_kits[winner.session].clone()],
        "checked-out rows of the instance"
    );
    let logged: Vec<String> = admin
        .query(
            "SELECT entity_id::text FROM booking.event_state_transitions
             WHERE machine = 'activity_kit' AND to_state = 'checked_out' AND metadata ->> 'kit_instance_id' = $1",
            &[&kit],
        )
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(logged, out, "check-outs of the instance in the log");
    assert_eq!(retries.deadlock, 0, "no deadlock");
}

#[test]
fn twenty_sessions_assigning_one_person_to_overlapping_events_at_once() {
    let (_cluster, mut admin, url) = start("events_staff");
    // Twenty events that all overlap (each starts a minute after the last and lasts two hours):
    // twelve fill the Digital Lab's seats, eight are in a hall that generates events too.
    admin
        .execute(
            "INSERT INTO booking.resources (id, organization_id, kind, title, capacity, auto_approve, generates_events)
             VALUES ($1::text::uuid, $2::text::uuid, 'space', 'Event Hall', 8, true, true)",
            &[&EVENT_HALL, &LAB],
        )
        .unwrap();
    let events: Vec<String> = (0..SESSIONS)
        .map(|i| {
            let resource = if i < 12 { DIGITAL_LAB } else { EVENT_HALL };
            approved_booking_event(&mut admin, resource, &format!("2031-06-03 10:{i:02}"), 120)
        })
        .collect();
    let all_overlap: bool = admin
        .query_one(
            "SELECT bool_and(a.starts_at < b.ends_at AND b.starts_at < a.ends_at) AND count(DISTINCT a.id) = $2
             FROM booking.event_instances a, booking.event_instances b
             WHERE a.id = ANY ($1::text[]::uuid[]) AND b.id = ANY ($1::text[]::uuid[])",
            &[&events, &(SESSIONS as i64)],
        )
        .unwrap()
        .get(0);
    assert!(
        all_overlap,
        "twenty events, each overlapping all the others"
    );

    let calls = at_once_warm(
        &url,
        events.clone(),
        // (rehearsed with someone else, so that the rehearsals do not race already)
        |conn, i, event| rehearse(conn, STAFF, ASSIGN, &[event, &format!("u-warm-up{i}")]),
        |conn, i, event| call(conn, i, STAFF, ASSIGN, &[&event, MEMBER]),
    );
    let (retries, slowest) = summary(&calls);
    eprintln!(
        "assignments (slowest call {:.2} s): {} assigned, {} refused; {retries:?}",
        slowest,
        calls.iter().filter(|c| c.outcome.is_ok()).count(),
        calls.iter().filter(|c| c.outcome.is_err()).count(),
    );

    let winner = one_winner(&calls, "person_busy");
    let row = winner.outcome.as_ref().unwrap();
    let assignment: String = row.get(0);
    assert_eq!(
        (row.get::<_, String>(1), row.get::<_, String>(2)),
        (events[winner.session].clone(), "assigned".to_owned()),
        "the winner's answer"
    );
    // One assignment of the person holds time; the refused ones left nothing.
    let held: Vec<(String, String)> = admin
        .query(
            "SELECT id::text, status FROM booking.staff_assignments WHERE user_id = $1",
            &[&MEMBER],
        )
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    assert_eq!(
        held,
        vec![(assignment, "assigned".to_owned())],
        "{MEMBER}'s assignments"
    );
    assert_eq!(retries.deadlock, 0, "no deadlock");
}

#[test]
fn twenty_check_ins_then_twenty_check_outs_of_one_assignment_at_once() {
    let (_cluster, mut admin, url) = start("events_checkin");
    let event = approved_booking_event(&mut admin, DIGITAL_LAB, "2031-09-02 10:00", 120);
    let mut staff = connect_as_api(&url);
    let (assigned, _) = transaction_as(&mut staff, STAFF, false, |tx| {
        tx.query_one(
            "SELECT a.id::text FROM booking.assign_staff($1::text::uuid, 'u-member', 'host') a",
            &[&event],
        )
    });
    let assignment: String = assigned.unwrap().get(0);

    // Each call answers the assignment as it is: status, check-in and check-out instants.
    let mut seen = Vec::new();
    for (what, sql) in [("checked_in", CHECK_IN), ("checked_out", CHECK_OUT)] {
        let jobs = vec![(sql, assignment.clone()); SESSIONS];
        let calls = at_once_warm(
            &url,
            jobs,
            |conn, _, (sql, assignment)| rehearse(conn, MEMBER, sql, &[assignment]),
            |conn, i, (sql, assignment)| call(conn, i, MEMBER, sql, &[&assignment]),
        );
        let (retries, slowest) = summary(&calls);
        eprintln!(
            "{what} (slowest call {:.2} s): {} answered; {retries:?}",
            slowest,
            calls.iter().filter(|c| c.outcome.is_ok()).count(),
        );
        let answers: Vec<(String, Option<String>, Option<String>)> = calls
            .iter()
            .map(|c| match &c.outcome {
                Ok(r) => (r.get(0), r.get(1), r.get(2)),
                Err(r) => panic!("session {} ({what}) was refused: {r:?}", c.session),
            })
            .collect();
        assert!(
            answers.iter().all(|a| a == &answers[0] && a.0 == what),
            "every {what} call answers the same: {answers:?}"
        );
        assert_eq!(retries.deadlock, 0, "no deadlock ({what})");
        seen.push(answers[0].clone());
    }
    let (checked_in, checked_out) = (&seen[0], &seen[1]);
    assert!(
        checked_in.1.is_some() && checked_in.2.is_none(),
        "{checked_in:?}"
    );
    assert!(
        checked_out.1 == checked_in.1 && checked_out.2.is_some(),
        "the check-out keeps the check-in: {checked_out:?}"
    );

    // One log row per change of state, by the person; one audit row per update.
    let log: Vec<(Option<String>, String, String)> = admin
        .query(
            "SELECT from_state, to_state, changed_by FROM booking.event_state_transitions
             WHERE machine = 'staff_assignment' AND entity_id = $1::text::uuid ORDER BY created_at",
            &[&assignment],
        )
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect();
    assert_eq!(
        log,
        vec![
            (None, "assigned".to_owned(), STAFF.to_owned()),
            (
                Some("assigned".to_owned()),
                "checked_in".to_owned(),
                MEMBER.to_owned()
            ),
            (
                Some("checked_in".to_owned()),
                "checked_out".to_owned(),
                MEMBER.to_owned()
            ),
        ],
        "the assignment's log"
    );
    let audited: Vec<(Option<String>, Option<String>)> = admin
        .query(
            "SELECT new_values ->> 'status', actor_id FROM booking.audit_log
             WHERE entity_id = $1::text::uuid AND action = 'update' ORDER BY created_at",
            &[&assignment],
        )
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    assert_eq!(
        audited,
        vec![
            (Some("checked_in".to_owned()), Some(MEMBER.to_owned())),
            (Some("checked_out".to_owned()), Some(MEMBER.to_owned())),
        ],
        "the assignment's updates in the audit log"
    );
}

/// The race that deadlocked before writers of one person's time took turns (an advisory lock in
/// the assignments' guard): session 0 assigns the person to one event and holds its transaction
/// open; sessions 1 and 2 assign them to an overlapping event (two roles) and wait on it; session
/// 0 rolls back. Without the lock both waiters met in the exclusion constraint's check and one
/// got 40P01; with it, one is assigned and the other refused with PT409 person_busy.
#[test]
fn two_waiting_assignments_of_one_person_after_a_rollback_do_not_deadlock() {
    let (_cluster, mut admin, url) = start("events_waiters");
    let first = approved_booking_event(&mut admin, DIGITAL_LAB, "2031-06-10 10:00", 120);
    let second = approved_booking_event(&mut admin, DIGITAL_LAB, "2031-06-10 11:00", 120);
    const ASSIGN_AS: &str = "SELECT a.status FROM booking.assign_staff($1::text::uuid, $2, $3) a";

    let mut holder = connect_as_api(&url);
    let mut tx = holder.transaction().unwrap();
    as_persona(&mut tx, "authenticated", Some(STAFF));
    tx.query_one(ASSIGN_AS, &[&first, &MEMBER, &"host"])
        .unwrap();

    let waiters: Vec<_> = ["host", "runner"]
        .into_iter()
        .map(|role| {
            let (url, event) = (url.clone(), second.clone());
            std::thread::spawn(move || {
                let mut conn = connect_as_api(&url);
                let mut tx = conn.transaction().unwrap();
                as_persona(&mut tx, "authenticated", Some(STAFF));
                let res = tx.query_one(ASSIGN_AS, &[&event, &MEMBER, &role]);
                let res = res.and_then(|row| tx.commit().map(|_| row.get::<_, String>(0)));
                res.map_err(|e| {
                    let db = e.as_db_error().expect("an error of the database");
                    (sqlstate(&e).unwrap(), db.detail().map(str::to_owned))
                })
            })
        })
        .collect();
    // Both wait on the holder before it rolls back.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let waiting: i64 = admin
            .query_one(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'",
                &[],
            )
            .unwrap()
            .get(0);
        if waiting == 2 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the two waiters never waited ({waiting})"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    tx.rollback().unwrap();

    let mut outcomes: Vec<_> = waiters.into_iter().map(|w| w.join().unwrap()).collect();
    outcomes.sort_by_key(|o| o.is_err());
    assert_eq!(
        outcomes,
        vec![
            Ok("assigned".to_owned()),
            Err(("PT409".to_owned(), Some("person_busy".to_owned())))
        ],
        "one assigned, the other refused, no deadlock"
    );
}
