//! Engagement under concurrent writers, through the same path as the API (PostgREST's login
//! role, then `authenticated` with the caller's JWT claims). A hundred sessions at once send the
//! first message between a client and a staff member of the lab, half from each side, half READ
//! COMMITTED and half REPEATABLE READ: one thread for the pair, every call answered with it, a
//! hundred messages, each side's unread count the other side's messages, a notification and an
//! outbox event per message. Fifty sends into one thread while its recipient marks it read:
//! the recipient's unread count is always the messages after their last read (and their unread
//! notifications those messages'), zero after a last read; without reads, exactly the messages
//! sent, per side. And random histories of reviews (written by their bookers, hidden and shown
//! by staff, removed and re-rated by their reviewers) over a few organizations, after each batch
//! booking.organization_reviews_with_counts compared with a model in Rust and with a plain SQL
//! recomputation over booking.reviews, as the superuser, the organization's staff, a reviewer
//! and anon. No deadlock.

#[path = "../common/mod.rs"]
mod common;

use common::{
    as_persona, at_once_warm, connect_as_api, create_authenticator, transaction_as, Cluster,
    Refusal, Retries, TENANTS_SQL,
};
use postgres::types::ToSql;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use std::cell::RefCell;
use std::collections::BTreeMap;

const LAB: &str = "00000000-0000-4000-a000-000000000001";
const CLIENT: &str = "u-client";
const STAFF: &str = "u-staff";
const START_THREAD: &str = "SELECT t.id::text FROM booking.start_thread($1, NULL, $2) t";
const SEND: &str = "SELECT m.id::text FROM booking.send_message($1::text::uuid, $2) m";
const MARK_READ: &str = "SELECT t.id::text FROM booking.mark_thread_read($1::text::uuid) t";

fn start(name: &str) -> (Cluster, postgres::Client, String) {
    let cluster = Cluster::start(name);
    let mut admin = cluster.create_db(name, true);
    admin.batch_execute(TENANTS_SQL).unwrap();
    create_authenticator(&mut admin);
    // a deadlock would be reported (and counted) quickly rather than after a second
    admin
        .batch_execute(&format!(
            "ALTER DATABASE {name} SET deadlock_timeout = '100ms';"
        ))
        .unwrap();
    let url = cluster.url(name);
    (cluster, admin, url)
}

/// What one session's call came to: the first column of its answer, or its refusal.
#[derive(Debug)]
struct Call {
    #[allow(dead_code)] // shown by Debug in failure messages
    session: usize,
    who: &'static str,
    outcome: Result<String, Refusal>,
    retries: Retries,
}

/// Runs `sql` once as `who` in a transaction (REPEATABLE READ when `repeatable_read`), tried
/// again by `transaction_as` on serialization failures and deadlocks.
fn call(
    conn: &mut postgres::Client,
    session: usize,
    who: &'static str,
    repeatable_read: bool,
    sql: &str,
    args: &[&(dyn ToSql + Sync)],
) -> Call {
    let (res, retries) = transaction_as(conn, who, repeatable_read, |tx| {
        tx.query_one(sql, args).map(|r| r.get::<_, String>(0))
    });
    Call {
        session,
        who,
        outcome: res.map_err(Refusal::of),
        retries,
    }
}

/// `sql` once as `who`, rolled back whatever it came to: warms the backend up before the race
/// (see `at_once_warm`).
fn rehearse(conn: &mut postgres::Client, who: &str, sql: &str, args: &[&(dyn ToSql + Sync)]) {
    let mut tx = conn.transaction().unwrap();
    as_persona(&mut tx, "authenticated", Some(who));
    let _ = tx.query_one(sql, args);
    tx.rollback().unwrap();
}

fn total_retries(calls: &[Call]) -> Retries {
    calls
        .iter()
        .map(|c| c.retries)
        .fold(Retries::default(), |a, b| a + b)
}

fn count(admin: &mut postgres::Client, sql: &str, args: &[&(dyn ToSql + Sync)]) -> i64 {
    admin.query_one(sql, args).unwrap().get(0)
}

/// A thread as the table has it.
#[derive(Debug)]
struct Thread {
    created_by: String,
    recipient: String,
    creator_unread: i32,
    recipient_unread: i32,
    /// last_message_at = the newest message's created_at
    last_message_is_newest: bool,
}

fn thread(admin: &mut postgres::Client, id: &str) -> Thread {
    let r = admin
        .query_one(
            "SELECT t.created_by_id, t.recipient_id, t.creator_unread_count, t.recipient_unread_count,
                    t.last_message_at IS NOT DISTINCT FROM (SELECT max(m.created_at) FROM booking.messages m WHERE m.thread_id = t.id)
             FROM booking.message_threads t WHERE t.id = $1::text::uuid",
            &[&id],
        )
        .unwrap();
    Thread {
        created_by: r.get(0),
        recipient: r.get(1),
        creator_unread: r.get(2),
        recipient_unread: r.get(3),
        last_message_is_newest: r.get(4),
    }
}

/// Each message of the thread has one 'message' notification, to the participant who did not
/// send it, and one 'message.sent' outbox event naming sender and recipient; nothing else of the
/// thread is in either. Returns the number of messages.
fn assert_one_notification_and_event_per_message(admin: &mut postgres::Client, id: &str) -> i64 {
    let messages = count(
        admin,
        "SELECT count(*) FROM booking.messages WHERE thread_id = $1::text::uuid",
        &[&id],
    );
    let notified = count(
        admin,
        "SELECT count(*) FROM booking.messages m
         JOIN booking.message_threads t ON t.id = m.thread_id
         JOIN booking.notifications n ON n.notification_type = 'message'
                                     AND n.metadata ->> 'message_id' = m.id::text
                                     AND n.metadata ->> 'thread_id' = t.id::text
                                     AND n.metadata ->> 'sender_id' = m.sender_id
                                     AND n.organization_id = t.organization_id
                                     AND n.recipient_id = CASE WHEN m.sender_id = t.created_by_id
                                                               THEN t.recipient_id ELSE t.created_by_id END
         WHERE t.id = $1::text::uuid",
        &[&id],
    );
    let notifications = count(
        admin,
        "SELECT count(*) FROM booking.notifications
         WHERE notification_type = 'message' AND metadata ->> 'thread_id' = $1",
        &[&id],
    );
    assert_eq!(
        (notified, notifications),
        (messages, messages),
        "one notification per message, to its recipient"
    );
    let announced = count(
        admin,
        "SELECT count(*) FROM booking.messages m
         JOIN booking.message_threads t ON t.id = m.thread_id
         JOIN booking.outbox o ON o.topic = 'message.sent'
                              AND o.organization_id = t.organization_id
                              AND o.payload = jsonb_build_object('thread_id', t.id, 'message_id', m.id, 'sender_id', m.sender_id,
                                                                 'recipient_id', CASE WHEN m.sender_id = t.created_by_id
                                                                                      THEN t.recipient_id ELSE t.created_by_id END)
         WHERE t.id = $1::text::uuid",
        &[&id],
    );
    let events = count(
        admin,
        "SELECT count(*) FROM booking.outbox WHERE topic = 'message.sent' AND payload ->> 'thread_id' = $1",
        &[&id],
    );
    assert_eq!(
        (announced, events),
        (messages, messages),
        "one outbox event per message"
    );
    messages
}

/// The messages of the thread sent by `who`.
fn sent_by(admin: &mut postgres::Client, id: &str, who: &str) -> i64 {
    count(
        admin,
        "SELECT count(*) FROM booking.messages WHERE thread_id = $1::text::uuid AND sender_id = $2",
        &[&id, &who],
    )
}

/// `who`'s unread count on their page of threads (get_threads_page, as the app reads it).
fn unread_on_page(api: &mut postgres::Client, who: &str, id: &str) -> i32 {
    let (res, _) = transaction_as(api, who, false, |tx| {
        tx.query_one(
            "SELECT unread_count FROM booking.get_threads_page() WHERE thread_id = $1::text::uuid",
            &[&id],
        )
    });
    res.unwrap().get(0)
}

// ---------------------------------------------------------------------------------------------
// A hundred first messages at once
// ---------------------------------------------------------------------------------------------

#[test]
fn hundred_concurrent_first_messages_make_one_thread() {
    const SESSIONS: usize = 100;
    let (_cluster, mut admin, url) = start("engagement_first");
    // Session n: the client when n is even, the staff member when odd; REPEATABLE READ for
    // n = 2, 3 (mod 4), so that each side has both isolation levels.
    fn who(n: usize) -> (&'static str, &'static str) {
        if n.is_multiple_of(2) {
            (CLIENT, STAFF)
        } else {
            (STAFF, CLIENT)
        }
    }
    let calls = at_once_warm(
        &url,
        (0..SESSIONS).collect(),
        |conn, _, &n| {
            let (me, other) = who(n);
            rehearse(conn, me, START_THREAD, &[&other, &"warming up"]);
        },
        |conn, _, n| {
            let (me, other) = who(n);
            let body = format!("hello {n}");
            call(conn, n, me, n % 4 >= 2, START_THREAD, &[&other, &body])
        },
    );
    let retries = total_retries(&calls);
    eprintln!("first messages: {retries:?}");
    assert_eq!(retries.deadlock, 0, "no deadlock");
    let ids: Vec<&str> = calls
        .iter()
        .map(|c| {
            c.outcome
                .as_deref()
                .unwrap_or_else(|r| panic!("every first message is sent: {c:?} ({r:?})"))
        })
        .collect();
    let id = ids[0].to_owned();
    assert!(
        ids.iter().all(|&i| i == id),
        "every call returned the one thread: {ids:?}"
    );
    assert_eq!(
        count(
            &mut admin,
            "SELECT count(*) FROM booking.message_threads",
            &[]
        ),
        1,
        "one thread"
    );
    assert_eq!(
        count(
            &mut admin,
            "SELECT count(*) FROM booking.message_threads
             WHERE participant_low = least($1, $2) AND participant_high = greatest($1, $2)
               AND organization_id = $3::text::uuid",
            &[&CLIENT, &STAFF, &LAB]
        ),
        1,
        "it is the pair's, in the lab"
    );

    // the hundred messages, each from the session that sent it
    let mut bodies: Vec<(String, String)> = admin
        .query(
            "SELECT body, sender_id FROM booking.messages WHERE thread_id = $1::text::uuid",
            &[&id],
        )
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    bodies.sort();
    let mut expected: Vec<(String, String)> = (0..SESSIONS)
        .map(|n| (format!("hello {n}"), who(n).0.to_owned()))
        .collect();
    expected.sort();
    assert_eq!(bodies, expected, "one message per call, from its caller");
    assert_eq!(
        assert_one_notification_and_event_per_message(&mut admin, &id),
        SESSIONS as i64
    );

    let t = thread(&mut admin, &id);
    let by_recipient = sent_by(&mut admin, &id, &t.recipient);
    let by_creator = sent_by(&mut admin, &id, &t.created_by);
    assert_eq!(
        (i64::from(t.creator_unread), i64::from(t.recipient_unread)),
        (by_recipient, by_creator),
        "each side's unread count is the other side's messages: {t:?}"
    );
    assert_eq!((by_recipient, by_creator), (50, 50));
    assert!(
        t.last_message_is_newest,
        "last_message_at is the newest message's: {t:?}"
    );
    let mut api = connect_as_api(&url);
    assert_eq!(
        (
            unread_on_page(&mut api, CLIENT, &id),
            unread_on_page(&mut api, STAFF, &id)
        ),
        (50, 50),
        "each side's page shows its unread count"
    );
    assert!(
        calls.iter().any(|c| c.who == CLIENT) && calls.iter().any(|c| c.who == STAFF),
        "both sides started the thread"
    );
}

// ---------------------------------------------------------------------------------------------
// Sends and reads at once in one thread
// ---------------------------------------------------------------------------------------------

/// A thread from the client to the staff member of the lab, without messages.
fn empty_thread(url: &str) -> String {
    let mut api = connect_as_api(url);
    let (res, _) = transaction_as(&mut api, CLIENT, false, |tx| {
        tx.query_one(
            "SELECT t.id::text FROM booking.start_thread($1, 'Printer') t",
            &[&STAFF],
        )
    });
    res.unwrap().get(0)
}

#[derive(Debug, Clone)]
enum Job {
    /// `who` sends message `n` into the thread
    Send {
        thread: String,
        who: &'static str,
        n: usize,
    },
    /// `who` marks the thread read
    Read { thread: String, who: &'static str },
}

fn warm_job(conn: &mut postgres::Client, _: usize, job: &Job) {
    match job {
        Job::Send { thread, who, .. } => rehearse(conn, who, SEND, &[thread, &"warming up"]),
        Job::Read { thread, who } => rehearse(conn, who, MARK_READ, &[thread]),
    }
}

fn run_job(conn: &mut postgres::Client, session: usize, job: Job) -> Call {
    let repeatable_read = session % 2 == 1;
    match job {
        Job::Send { thread, who, n } => {
            let body = format!("message {n} from {who}");
            call(conn, session, who, repeatable_read, SEND, &[&thread, &body])
        }
        Job::Read { thread, who } => {
            call(conn, session, who, repeatable_read, MARK_READ, &[&thread])
        }
    }
}

/// The recipient's (staff's) side of the thread: their unread count, the messages to them
/// after their last read, and their unread 'message' notifications of the thread.
fn recipient_side(admin: &mut postgres::Client, id: &str) -> (i64, i64, i64) {
    let r = admin
        .query_one(
            "SELECT t.recipient_unread_count::int8,
                    (SELECT count(*) FROM booking.messages m
                     WHERE m.thread_id = t.id AND m.sender_id = t.created_by_id
                       AND m.created_at > coalesce(t.recipient_last_read_at, '-infinity')),
                    (SELECT count(*) FROM booking.notifications n
                     WHERE n.notification_type = 'message' AND n.recipient_id = t.recipient_id
                       AND n.metadata ->> 'thread_id' = t.id::text AND n.read_at IS NULL)
             FROM booking.message_threads t WHERE t.id = $1::text::uuid",
            &[&id],
        )
        .unwrap();
    (r.get(0), r.get(1), r.get(2))
}

#[test]
fn concurrent_sends_and_reads_keep_the_unread_count() {
    const SENDS: usize = 50;
    const READS: usize = 25;
    let (_cluster, mut admin, url) = start("engagement_reads");
    let id = empty_thread(&url);
    // the client sends, the staff member (the thread's recipient) reads, interleaved
    let mut jobs = Vec::new();
    for n in 0..SENDS {
        jobs.push(Job::Send {
            thread: id.clone(),
            who: CLIENT,
            n,
        });
        if n.is_multiple_of(2) && jobs.len() < SENDS + READS {
            jobs.push(Job::Read {
                thread: id.clone(),
                who: STAFF,
            });
        }
    }
    assert_eq!(jobs.len(), SENDS + READS);
    let calls = at_once_warm(&url, jobs, warm_job, run_job);
    let retries = total_retries(&calls);
    eprintln!("sends and reads: {retries:?}");
    assert_eq!(retries.deadlock, 0, "no deadlock");
    for c in &calls {
        assert!(c.outcome.is_ok(), "every send and read succeeds: {c:?}");
    }
    assert_eq!(sent_by(&mut admin, &id, CLIENT), SENDS as i64);
    assert_eq!(
        assert_one_notification_and_event_per_message(&mut admin, &id),
        SENDS as i64
    );
    let t = thread(&mut admin, &id);
    assert_eq!(
        (
            t.created_by.as_str(),
            t.recipient.as_str(),
            t.creator_unread
        ),
        (CLIENT, STAFF, 0),
        "the staff member sent nothing: {t:?}"
    );
    assert!(t.last_message_is_newest, "{t:?}");
    let (unread, after_last_read, unread_notifications) = recipient_side(&mut admin, &id);
    eprintln!("after the race: {unread} unread of {SENDS}");
    assert_eq!(
        (unread, unread_notifications),
        (after_last_read, after_last_read),
        "the recipient's unread count and unread notifications are the messages after their last read"
    );

    let mut api = connect_as_api(&url);
    let (res, _) = transaction_as(&mut api, STAFF, false, |tx| tx.query_one(MARK_READ, &[&id]));
    res.unwrap();
    assert_eq!(
        recipient_side(&mut admin, &id),
        (0, 0, 0),
        "read: nothing unread"
    );
    assert_eq!(thread(&mut admin, &id).creator_unread, 0);
    assert_eq!(unread_on_page(&mut api, STAFF, &id), 0);
}

#[test]
fn concurrent_sends_without_reads_count_every_message() {
    const FROM_CLIENT: usize = 30;
    const FROM_STAFF: usize = 20;
    let (_cluster, mut admin, url) = start("engagement_sends");
    let id = empty_thread(&url);
    let jobs: Vec<Job> = (0..FROM_CLIENT + FROM_STAFF)
        .map(|n| Job::Send {
            thread: id.clone(),
            // interleaved while both last
            who: if n.is_multiple_of(2) && n / 2 < FROM_STAFF || n >= 2 * FROM_STAFF {
                CLIENT
            } else {
                STAFF
            },
            n,
        })
        .collect();
    let calls = at_once_warm(&url, jobs, warm_job, run_job);
    let retries = total_retries(&calls);
    eprintln!("sends: {retries:?}");
    assert_eq!(retries.deadlock, 0, "no deadlock");
    for c in &calls {
        assert!(c.outcome.is_ok(), "every send succeeds: {c:?}");
    }
    assert_eq!(
        (
            calls.iter().filter(|c| c.who == CLIENT).count(),
            calls.iter().filter(|c| c.who == STAFF).count()
        ),
        (FROM_CLIENT, FROM_STAFF)
    );
    assert_eq!(
        (
            sent_by(&mut admin, &id, CLIENT),
            sent_by(&mut admin, &id, STAFF)
        ),
        (FROM_CLIENT as i64, FROM_STAFF as i64),
        "every message is in"
    );
    assert_eq!(
        assert_one_notification_and_event_per_message(&mut admin, &id),
        (FROM_CLIENT + FROM_STAFF) as i64
    );
    let t = thread(&mut admin, &id);
    assert_eq!(
        (
            t.created_by.as_str(),
            t.recipient_unread as usize,
            t.creator_unread as usize
        ),
        (CLIENT, FROM_CLIENT, FROM_STAFF),
        "each side's unread count is exactly what the other sent: {t:?}"
    );
    assert!(t.last_message_is_newest, "{t:?}");
    assert_eq!(
        count(
            &mut admin,
            "SELECT count(*) FROM booking.notifications
             WHERE notification_type = 'message' AND metadata ->> 'thread_id' = $1 AND read_at IS NULL",
            &[&id]
        ),
        (FROM_CLIENT + FROM_STAFF) as i64,
        "no notification read"
    );
}

// ---------------------------------------------------------------------------------------------
// Review figures against a model
// ---------------------------------------------------------------------------------------------

/// Organizations of the reviews: two public, one private (its reviewers are its clients).
const ORGS: [&str; 3] = [
    "00000000-0000-4000-b000-000000000001",
    "00000000-0000-4000-b000-000000000002",
    "00000000-0000-4000-b000-000000000003",
];
/// An organization without reviews: never in the view.
const QUIET_ORG: &str = "00000000-0000-4000-b000-000000000004";
/// Completed bookings per organization (one per review: more than a case can write).
const BOOKINGS_PER_ORG: usize = 50;
/// Bookers per organization (their bookings in turn).
const REVIEWERS: usize = 3;
const BATCHES: std::ops::RangeInclusive<usize> = 2..=8;
const OPS_PER_BATCH: std::ops::RangeInclusive<usize> = 1..=6;

fn org_staff(org: usize) -> String {
    format!("u-rstaff-{org}")
}

fn reviewer(org: usize, k: usize) -> String {
    format!("u-rev-{org}-{k}")
}

fn is_public(org: usize) -> bool {
    org != 2
}

/// The organizations, their staff, and their completed bookings (per organization: id and
/// booker), written by the superuser.
fn review_setup(admin: &mut postgres::Client) -> Vec<Vec<(String, String)>> {
    let mut bookings = Vec::new();
    for (o, org) in ORGS.iter().enumerate() {
        admin
            .execute(
                "INSERT INTO booking.organizations (id, slug, name, time_zone, is_public)
                 VALUES ($1::text::uuid, 'reviewed-' || $2::int4, 'Reviewed ' || $2::int4, 'UTC', $3)",
                &[org, &(o as i32), &is_public(o)],
            )
            .unwrap();
        admin
            .execute(
                "INSERT INTO booking.members (organization_id, user_id, role) VALUES ($1::text::uuid, $2, 'staff')",
                &[org, &org_staff(o)],
            )
            .unwrap();
        if !is_public(o) {
            for k in 0..REVIEWERS {
                admin
                    .execute(
                        "INSERT INTO booking.members (organization_id, user_id, role) VALUES ($1::text::uuid, $2, 'client')",
                        &[org, &reviewer(o, k)],
                    )
                    .unwrap();
            }
        }
        let reviewers: Vec<String> = (0..REVIEWERS).map(|k| reviewer(o, k)).collect();
        let ids: Vec<(String, String)> = admin
            .query(
                "WITH r AS (INSERT INTO booking.resources (organization_id, kind, title)
                            VALUES ($1::text::uuid, 'space', 'Room') RETURNING id, organization_id)
                 INSERT INTO booking.bookings (organization_id, resource_id, booked_by, starts_at, ends_at, status)
                 SELECT r.organization_id, r.id, ($3::text[])[1 + i % $4::int4],
                        timestamptz '2030-01-07 10:00+00' + make_interval(hours => i),
                        timestamptz '2030-01-07 11:00+00' + make_interval(hours => i), 'completed'
                 FROM r, generate_series(0, $2::int4 - 1) i
                 RETURNING id::text, booked_by",
                &[
                    org,
                    &(BOOKINGS_PER_ORG as i32),
                    &reviewers,
                    &(REVIEWERS as i32),
                ],
            )
            .unwrap()
            .iter()
            .map(|r| (r.get(0), r.get(1)))
            .collect();
        assert_eq!(ids.len(), BOOKINGS_PER_ORG);
        bookings.push(ids);
    }
    admin
        .execute(
            "INSERT INTO booking.organizations (id, slug, name, time_zone, is_public)
             VALUES ($1::text::uuid, 'quiet', 'Quiet', 'UTC', true)",
            &[&QUIET_ORG],
        )
        .unwrap();
    bookings
}

#[derive(Debug, Clone)]
enum Op {
    /// The booker of the organization's next unreviewed booking reviews it.
    Write { org: usize, rating: i32 },
    /// Its reviewer changes a review's rating.
    Rerate(usize, i32),
    /// The organization's staff hide a review.
    Hide(usize),
    /// The organization's staff show a review again.
    Show(usize),
    /// Its reviewer removes a review.
    Remove(usize),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        5 => (0..ORGS.len(), 1..=5i32).prop_map(|(org, rating)| Op::Write { org, rating }),
        1 => (any::<usize>(), 1..=5i32).prop_map(|(i, rating)| Op::Rerate(i, rating)),
        3 => any::<usize>().prop_map(Op::Hide),
        2 => any::<usize>().prop_map(Op::Show),
        1 => any::<usize>().prop_map(Op::Remove),
    ]
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Status {
    Published,
    Hidden,
    Removed,
}

#[derive(Debug)]
struct ModelReview {
    id: String,
    org: usize,
    reviewer: String,
    rating: i32,
    status: Status,
}

/// An organization's figures: total, average as numeric(3,2) prints it (None: NULL), and the
/// counts of five, four, three, two and one stars.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Figures {
    total: i64,
    average: Option<String>,
    stars: [i64; 5],
}

impl Figures {
    fn of_row(r: &postgres::Row, from: usize) -> Figures {
        Figures {
            total: r.get(from),
            average: r.get(from + 1),
            stars: [
                r.get(from + 2),
                r.get(from + 3),
                r.get(from + 4),
                r.get(from + 5),
                r.get(from + 6),
            ],
        }
    }
}

/// The figures over the published ratings: the average rounded to hundredths, half away from
/// zero (as numeric rounds), by exact integer arithmetic.
fn figures(published: &[i32]) -> Figures {
    let total = published.len() as i64;
    let sum: i64 = published.iter().map(|&r| i64::from(r)).sum();
    let average = (total > 0).then(|| {
        let (q, rem) = (100 * sum / total, 100 * sum % total);
        let hundredths = q + i64::from(2 * rem >= total);
        format!("{}.{:02}", hundredths / 100, hundredths % 100)
    });
    let mut stars = [0; 5];
    for &r in published {
        stars[(5 - r) as usize] += 1;
    }
    Figures {
        total,
        average,
        stars,
    }
}

/// Is the average an exact half-hundredth (a rounding tie)?
fn is_tie(published: &[i32]) -> bool {
    let total = published.len() as i64;
    let sum: i64 = published.iter().map(|&r| i64::from(r)).sum();
    total > 0 && 2 * (100 * sum % total) == total
}

#[derive(Debug, Default)]
struct Model {
    reviews: Vec<ModelReview>,
    /// per organization, how many of its bookings were reviewed
    used: [usize; 3],
}

impl Model {
    fn published(&self, org: usize) -> Vec<i32> {
        self.reviews
            .iter()
            .filter(|r| r.org == org && r.status == Status::Published)
            .map(|r| r.rating)
            .collect()
    }

    /// Per organization with reviews: its figures.
    fn figures(&self) -> BTreeMap<String, Figures> {
        (0..ORGS.len())
            .filter(|&o| self.reviews.iter().any(|r| r.org == o))
            .map(|o| (ORGS[o].to_owned(), figures(&self.published(o))))
            .collect()
    }
}

const VIEW_FIGURES: &str = "total_reviews, average_rating::text, five_star_count, four_star_count,
                            three_star_count, two_star_count, one_star_count";

/// Per organization, the view's figures as `client` shows them: one set of figures per
/// organization (each of its rows has the same), and how many rows.
fn view_figures(
    client: &mut postgres::Client,
    persona: Option<(&str, Option<&str>)>,
) -> Result<BTreeMap<String, (Figures, i64)>, String> {
    let mut tx = client.transaction().unwrap();
    if let Some((role, sub)) = persona {
        as_persona(&mut tx, role, sub);
    }
    let rows = tx
        .query(
            &format!(
                "SELECT organization_id::text, count(*) OVER (PARTITION BY organization_id), {VIEW_FIGURES}
                 FROM booking.organization_reviews_with_counts"
            ),
            &[],
        )
        .unwrap();
    tx.rollback().unwrap();
    let mut out: BTreeMap<String, (Figures, i64)> = BTreeMap::new();
    for r in &rows {
        let (org, n): (String, i64) = (r.get(0), r.get(1));
        let f = Figures::of_row(r, 2);
        match out.get(&org) {
            Some((g, _)) if *g != f => {
                return Err(format!(
                    "the rows of {org} disagree on its figures: {g:?} and {f:?}"
                ))
            }
            _ => {
                out.insert(org, (f, n));
            }
        }
    }
    Ok(out)
}

/// The figures recomputed in plain SQL over the published reviews, per organization with reviews.
fn sql_figures(admin: &mut postgres::Client) -> BTreeMap<String, Figures> {
    admin
        .query(
            "SELECT organization_id::text,
                    count(*) FILTER (WHERE status = 'published'),
                    round(avg(rating) FILTER (WHERE status = 'published'), 2)::text,
                    count(*) FILTER (WHERE status = 'published' AND rating = 5),
                    count(*) FILTER (WHERE status = 'published' AND rating = 4),
                    count(*) FILTER (WHERE status = 'published' AND rating = 3),
                    count(*) FILTER (WHERE status = 'published' AND rating = 2),
                    count(*) FILTER (WHERE status = 'published' AND rating = 1)
             FROM booking.reviews GROUP BY organization_id",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| (r.get(0), Figures::of_row(r, 1)))
        .collect()
}

/// What the random histories exercised, summed over all cases.
#[derive(Debug, Default)]
struct Coverage {
    cases: usize,
    batches: usize,
    ops: usize,
    written: usize,
    rerated: usize,
    hidden: usize,
    shown: usize,
    removed: usize,
    refused_removed_is_final: usize,
    /// organizations seen with reviews but none published
    orgs_without_published: usize,
    /// organizations seen with an average that is an exact half-hundredth
    rounding_ties: usize,
    averages_not_whole: usize,
}

/// One transaction as `who` (`authenticated`): the rows `sql` changed, or its refusal.
fn write_as(
    api: &mut postgres::Client,
    who: &str,
    sql: &str,
    args: &[&(dyn ToSql + Sync)],
) -> Result<Vec<postgres::Row>, Refusal> {
    let (res, _) = transaction_as(api, who, false, |tx| tx.query(sql, args));
    res.map_err(Refusal::of)
}

/// Runs one history of review operations from no reviews, checking the figures after each
/// batch.
fn run_history(
    admin: &mut postgres::Client,
    api: &mut postgres::Client,
    bookings: &[Vec<(String, String)>],
    cov: &mut Coverage,
    batches: &[Vec<Op>],
) -> Result<(), TestCaseError> {
    cov.cases += 1;
    // every run (shrinking included) starts without reviews; the bookings stay
    admin.batch_execute("DELETE FROM booking.reviews").unwrap();
    let mut model = Model::default();
    for (b, batch) in batches.iter().enumerate() {
        cov.batches += 1;
        for (n, op) in batch.iter().enumerate() {
            cov.ops += 1;
            let at = format!("batch {b}, op {n} ({op:?})");
            // the review an operation is about, and who may do it
            let pick = |i: &usize| -> Option<usize> {
                (!model.reviews.is_empty()).then(|| i % model.reviews.len())
            };
            match op {
                Op::Write { org, rating } => {
                    let k = model.used[*org];
                    if k == BOOKINGS_PER_ORG {
                        continue;
                    }
                    let (booking, booker) = bookings[*org][k].clone();
                    let rows = write_as(
                        api,
                        &booker,
                        "INSERT INTO booking.reviews (organization_id, booking_id, resource_id, reviewer_id, rating, content)
                         SELECT b.organization_id, b.id, b.resource_id, b.booked_by, $2::int4, 'review ' || $2::int4
                         FROM booking.bookings b WHERE b.id = $1::text::uuid
                         RETURNING id::text, status, organization_id::text, reviewer_id",
                        &[&booking, rating],
                    )
                    .map_err(|r| TestCaseError::fail(format!("{at}: {r:?}")))?;
                    prop_assert_eq!(rows.len(), 1, "{}: one review written", &at);
                    let r = &rows[0];
                    prop_assert_eq!(
                        (
                            r.get::<_, String>(1),
                            r.get::<_, String>(2),
                            r.get::<_, String>(3)
                        ),
                        (
                            "published".to_owned(),
                            ORGS[*org].to_owned(),
                            booker.clone()
                        ),
                        "{}: a published review of the organization by the booker",
                        &at
                    );
                    model.used[*org] += 1;
                    model.reviews.push(ModelReview {
                        id: r.get(0),
                        org: *org,
                        reviewer: booker,
                        rating: *rating,
                        status: Status::Published,
                    });
                    cov.written += 1;
                }
                Op::Rerate(i, rating) => {
                    let Some(i) = pick(i) else { continue };
                    let review = &mut model.reviews[i];
                    let rows = write_as(
                        api,
                        &review.reviewer,
                        "UPDATE booking.reviews SET rating = $2::int4 WHERE id = $1::text::uuid RETURNING rating",
                        &[&review.id, rating],
                    )
                    .map_err(|r| TestCaseError::fail(format!("{at}: {r:?}")))?;
                    prop_assert_eq!(rows.len(), 1, "{}: the reviewer re-rates their review", &at);
                    review.rating = *rating;
                    cov.rerated += 1;
                }
                Op::Hide(i) | Op::Show(i) => {
                    let Some(i) = pick(i) else { continue };
                    let review = &mut model.reviews[i];
                    let (to, status) = match op {
                        Op::Hide(_) => ("hidden", Status::Hidden),
                        _ => ("published", Status::Published),
                    };
                    let res = write_as(
                        api,
                        &org_staff(review.org),
                        "UPDATE booking.reviews SET status = $2 WHERE id = $1::text::uuid RETURNING status",
                        &[&review.id, &to],
                    );
                    if review.status == Status::Removed {
                        let r = res.err();
                        prop_assert!(
                            r.as_ref().is_some_and(|r| r.sqlstate == "23514"),
                            "{}: removed is final: {:?}",
                            &at,
                            r
                        );
                        cov.refused_removed_is_final += 1;
                    } else {
                        let rows = res.map_err(|r| TestCaseError::fail(format!("{at}: {r:?}")))?;
                        prop_assert_eq!(
                            rows.len(),
                            1,
                            "{}: staff moderate their organization's review",
                            &at
                        );
                        review.status = status;
                        if status == Status::Hidden {
                            cov.hidden += 1;
                        } else {
                            cov.shown += 1;
                        }
                    }
                }
                Op::Remove(i) => {
                    let Some(i) = pick(i) else { continue };
                    let review = &mut model.reviews[i];
                    let rows = write_as(
                        api,
                        &review.reviewer,
                        "UPDATE booking.reviews SET status = 'removed' WHERE id = $1::text::uuid RETURNING status",
                        &[&review.id],
                    )
                    .map_err(|r| TestCaseError::fail(format!("{at}: {r:?}")))?;
                    prop_assert_eq!(rows.len(), 1, "{}: the reviewer removes their review", &at);
                    review.status = Status::Removed;
                    cov.removed += 1;
                }
            }
        }

        // After the batch: the model, plain SQL and the view agree, for everyone.
        let at = format!("after batch {b}");
        let expected = model.figures();
        for (o, org) in ORGS.iter().enumerate() {
            let published = model.published(o);
            if expected.contains_key(*org) {
                cov.orgs_without_published += usize::from(published.is_empty());
                cov.rounding_ties += usize::from(is_tie(&published));
                cov.averages_not_whole += usize::from(
                    !published.is_empty()
                        && published.iter().sum::<i32>() % published.len() as i32 != 0,
                );
            }
        }
        prop_assert_eq!(
            &sql_figures(admin),
            &expected,
            "{}: plain SQL and the model",
            &at
        );
        let all =
            view_figures(admin, None).map_err(|e| TestCaseError::fail(format!("{at}: {e}")))?;
        let rows_per_org: BTreeMap<String, i64> = (0..ORGS.len())
            .map(|o| {
                (
                    ORGS[o].to_owned(),
                    model.reviews.iter().filter(|r| r.org == o).count() as i64,
                )
            })
            .filter(|(_, n)| *n > 0)
            .collect();
        prop_assert_eq!(
            all.iter()
                .map(|(o, (f, _))| (o.clone(), f.clone()))
                .collect::<BTreeMap<_, _>>(),
            expected.clone(),
            "{}: the view (as the superuser) and the model",
            &at
        );
        prop_assert_eq!(
            all.iter()
                .map(|(o, (_, n))| (o.clone(), *n))
                .collect::<BTreeMap<_, _>>(),
            rows_per_org.clone(),
            "{}: the superuser sees every review",
            &at
        );
        for (org, f) in &expected {
            // no published review: total 0, NULL average, no stars (on every row)
            if f.total == 0 {
                prop_assert_eq!(
                    f,
                    &Figures {
                        total: 0,
                        average: None,
                        stars: [0; 5]
                    },
                    "{}: {} has no published review",
                    &at,
                    org
                );
            }
        }
        // As the API's callers: each review they may see (staff: all of their
        // organization's; a reviewer: the published ones of organizations they may see and
        // their own; anon: a public organization's published ones), with its organization's
        // figures over all of its published reviews.
        let mut personas: Vec<(String, Option<String>)> = vec![("anon".to_owned(), None)];
        for o in 0..ORGS.len() {
            personas.push(("authenticated".to_owned(), Some(org_staff(o))));
            personas.push(("authenticated".to_owned(), Some(reviewer(o, 0))));
        }
        for (role, sub) in &personas {
            let sees = |r: &ModelReview| -> bool {
                let Some(sub) = sub else {
                    return is_public(r.org) && r.status == Status::Published;
                };
                let staff_of = (0..ORGS.len()).find(|&o| org_staff(o) == *sub);
                let member_of = (0..ORGS.len())
                    .find(|&o| !is_public(o) && (0..REVIEWERS).any(|k| reviewer(o, k) == *sub));
                staff_of == Some(r.org)
                    || r.reviewer == *sub
                    || (r.status == Status::Published
                        && (is_public(r.org)
                            || member_of == Some(r.org)
                            || staff_of == Some(r.org)))
            };
            let mut want: BTreeMap<String, (Figures, i64)> = BTreeMap::new();
            for r in model.reviews.iter().filter(|r| sees(r)) {
                want.entry(ORGS[r.org].to_owned())
                    .or_insert_with(|| (expected[ORGS[r.org]].clone(), 0))
                    .1 += 1;
            }
            let seen = view_figures(api, Some((role, sub.as_deref())))
                .map_err(|e| TestCaseError::fail(format!("{at}: {e}")))?;
            prop_assert_eq!(seen, want, "{}: as {} {:?}", &at, role, sub);
        }
    }
    Ok(())
}

#[test]
fn random_review_histories_keep_the_figures() {
    let (_cluster, mut admin, url) = start("engagement_reviews");
    let bookings = review_setup(&mut admin);
    let admin = RefCell::new(admin);
    let api = RefCell::new(connect_as_api(&url));
    let coverage = RefCell::new(Coverage::default());
    let mut runner = TestRunner::new(Config {
        cases: 300,
        max_shrink_iters: 200,
        failure_persistence: None,
        ..Config::default()
    });
    let started = std::time::Instant::now();
    // First a history through the corners: rounding ties of the average (4.875 is 4.88 and
    // 1.125 is 1.13, half away from zero), an organization whose reviews are all hidden, a
    // removed review that staff cannot show again.
    let write = |org: usize, ratings: &[i32]| -> Vec<Op> {
        ratings
            .iter()
            .map(|&rating| Op::Write { org, rating })
            .collect()
    };
    let corners = vec![
        [
            write(0, &[5, 5, 5, 5, 5, 5, 5, 4]),
            write(1, &[1, 1, 1, 1, 1, 1, 1, 2]),
            write(2, &[3, 4]),
        ]
        .concat(),
        vec![Op::Hide(16), Op::Hide(17)],
        vec![Op::Hide(8), Op::Remove(0), Op::Show(16), Op::Rerate(1, 1)],
        vec![Op::Remove(17), Op::Show(17), Op::Hide(17)],
    ];
    run_history(
        &mut admin.borrow_mut(),
        &mut api.borrow_mut(),
        &bookings,
        &mut coverage.borrow_mut(),
        &corners,
    )
    .unwrap_or_else(|e| panic!("the corners: {e}"));
    let strategy = prop::collection::vec(prop::collection::vec(op(), OPS_PER_BATCH), BATCHES);
    let result = runner.run(&strategy, |batches| {
        let (mut admin, mut api) = (admin.borrow_mut(), api.borrow_mut());
        run_history(
            &mut admin,
            &mut api,
            &bookings,
            &mut coverage.borrow_mut(),
            &batches,
        )
    });
    let elapsed = started.elapsed().as_secs_f64();
    eprintln!(
        "random review histories ({elapsed:.1} s): {:?}",
        coverage.borrow()
    );
    if let Err(e) = result {
        panic!("{e}");
    }
    let cov = coverage.borrow();
    assert!(
        cov.written > 0
            && cov.rerated > 0
            && cov.hidden > 0
            && cov.shown > 0
            && cov.removed > 0
            && cov.refused_removed_is_final > 0
            && cov.orgs_without_published > 0
            && cov.rounding_ties > 0
            && cov.averages_not_whole > 0,
        "the histories went everywhere: {cov:?}"
    );
    // the organization without reviews is never in the view
    assert_eq!(
        count(
            &mut admin.borrow_mut(),
            "SELECT count(*) FROM booking.organization_reviews_with_counts WHERE organization_id = $1::text::uuid",
            &[&QUIET_ORG]
        ),
        0
    );
}
