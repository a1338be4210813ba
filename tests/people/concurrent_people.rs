//! People under concurrent writers, through the same path as the API (PostgREST's login role,
//! then `authenticated` with the caller's JWT claims). Fifty sessions at once move one student
//! along the admission lifecycle, each to a state of its own: the student's log stays one legal
//! path (each entry leaves the state the previous one entered, along
//! booking.admission_transitions()), one entry per change that succeeded, ending in the
//! student's state; the others are refused with PT409. Twenty sessions at once link a
//! different member, each with their own session length, as the professional of one person
//! resource: one wins, the resource's slot interval and buffer are the winner's.

#[path = "../common/mod.rs"]
mod common;

use common::{at_once, create_authenticator, sqlstate, transaction_as, Cluster, TENANTS_SQL};

const LAB: &str = "00000000-0000-4000-a000-000000000001";
const STUDENT: &str = "00000000-0000-4000-a000-00000000a001";
const CALENDAR: &str = "00000000-0000-4000-a000-00000000a101";

fn start(name: &str) -> (Cluster, postgres::Client, String) {
    let cluster = Cluster::start(name);
    let mut admin = cluster.create_db(name, true);
    admin.batch_execute(TENANTS_SQL).unwrap();
    create_authenticator(&mut admin);
    let url = cluster.url(name);
    (cluster, admin, url)
}

#[test]
fn concurrent_admission_changes_leave_one_legal_logged_path() {
    let (_cluster, mut admin, url) = start("people_admission");
    admin
        .batch_execute(&format!(
            "INSERT INTO booking.students (id, organization_id, first_name, last_name, primary_contact_id)
             VALUES ('{STUDENT}', '{LAB}', 'Sam', 'Client', 'u-client');
             UPDATE booking.students SET admission_state = 'applied' WHERE id = '{STUDENT}';
             UPDATE booking.students SET admission_state = 'under_review' WHERE id = '{STUDENT}';"
        ))
        .unwrap();
    // staff ask for every state reachable in a step or two; half in REPEATABLE READ
    let targets = [
        "admitted",
        "waitlisted",
        "declined",
        "withdrawn",
        "on_leave",
        "discharged",
        "applied",
    ];
    let jobs: Vec<(String, bool)> = (0..50)
        .map(|i| (targets[i % targets.len()].to_owned(), i % 2 == 1))
        .collect();
    let results = at_once(&url, jobs, |conn, _, (state, rr)| {
        let (res, retries) = transaction_as(conn, "u-staff", rr, |tx| {
            tx.query_one(
                "SELECT s.admission_state FROM booking.set_admission_state($1::text::uuid, $2) s",
                &[&STUDENT, &state],
            )
            .map(|r| r.get::<_, String>(0))
        });
        assert_eq!(retries.deadlock, 0, "no deadlock");
        res.map_err(|e| sqlstate(&e).unwrap_or_default())
    });
    let won = results.iter().filter(|r| r.is_ok()).count();
    assert!(won >= 1, "some change succeeded: {results:?}");
    for r in &results {
        if let Err(state) = r {
            assert_eq!(
                state, "PT409",
                "a refused change is an illegal transition: {results:?}"
            );
        }
    }
    let log: Vec<(Option<String>, String)> = admin
        .query(
            "SELECT from_state, to_state FROM booking.student_admission_transitions
             WHERE student_id = $1::text::uuid ORDER BY created_at, id",
            &[&STUDENT],
        )
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    assert_eq!(
        log.len(),
        3 + won,
        "one log entry per change that succeeded: {log:?}"
    );
    for pair in log.windows(2) {
        assert_eq!(
            pair[1].0.as_deref(),
            Some(pair[0].1.as_str()),
            "the log is one path: {log:?}"
        );
    }
    let legal: i64 = admin
        .query_one(
            "SELECT count(*) FROM booking.student_admission_transitions l
             JOIN booking.admission_transitions() t ON (t.from_state, t.to_state) = (l.from_state, l.to_state)
             WHERE l.student_id = $1::text::uuid",
            &[&STUDENT],
        )
        .unwrap()
        .get(0);
    assert_eq!(
        legal as usize,
        log.len() - 1,
        "every change is a legal one: {log:?}"
    );
    let state: String = admin
        .query_one(
            "SELECT admission_state FROM booking.students WHERE id = $1::text::uuid",
            &[&STUDENT],
        )
        .unwrap()
        .get(0);
    assert_eq!(
        Some(&state),
        log.last().map(|l| &l.1),
        "the log ends in the student's state"
    );
}

#[test]
fn concurrent_links_of_one_calendar_leave_one_professional_and_its_settings() {
    let (_cluster, mut admin, url) = start("people_professionals");
    admin
        .batch_execute(&format!(
            "INSERT INTO booking.resources (id, organization_id, kind, title) VALUES ('{CALENDAR}', '{LAB}', 'person', 'Dr. Ana');
             INSERT INTO booking.members (organization_id, user_id, role)
             SELECT '{LAB}', 'u-pro-' || i, 'member' FROM generate_series(0, 19) i;"
        ))
        .unwrap();
    let jobs: Vec<i32> = (0..20).collect();
    let results = at_once(&url, jobs, |conn, _, i| {
        let (res, retries) = transaction_as(conn, "u-admin", i % 2 == 1, |tx| {
            tx.execute(
                "INSERT INTO booking.professionals (organization_id, user_id, resource_id, session_minutes, buffer_minutes)
                 VALUES ($1::text::uuid, 'u-pro-' || $2::int4, $3::text::uuid, 30 + $2::int4, $2::int4)",
                &[&LAB, &i, &CALENDAR],
            )
        });
        assert_eq!(retries.deadlock, 0, "no deadlock");
        res.map_err(|e| sqlstate(&e).unwrap_or_default())
    });
    assert_eq!(
        results.iter().filter(|r| r.is_ok()).count(),
        1,
        "one link wins: {results:?}"
    );
    assert!(
        results
            .iter()
            .all(|r| r.is_ok() || r.as_ref().unwrap_err() == "23505"),
        "the others meet the one-professional-per-resource key: {results:?}"
    );
    let row = admin
        .query_one(
            "SELECT p.session_minutes + p.buffer_minutes = r.slot_interval_minutes AND p.buffer_minutes = r.buffer_after_minutes
             FROM booking.professionals p JOIN booking.resources r ON r.id = p.resource_id
             WHERE p.resource_id = $1::text::uuid",
            &[&CALENDAR],
        )
        .unwrap();
    assert!(
        row.get::<_, bool>(0),
        "the resource has the winner's session length and buffer"
    );
}
