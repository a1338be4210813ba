//! Requests from outside under replays, reorderings and concurrent staff, through the API's path
//! (PostgREST's login role, then `service_role` for the form's worker and `authenticated` with
//! JWT claims for staff).
//!
//! 1 000 submissions make 700 booking requests: each request's newest revision once, plus 300
//! replays (chosen with a fixed seed: some identical to the newest revision, some of an older
//! numeric `request_data.revision`, a request replayed up to several times), all shuffled with a
//! fixed seed and sent by 16 sessions at once as `service_role`. Then: exactly 700 requests, each
//! holding its newest revision's data, every delivery of a key answered with the same request,
//! one `request.submitted` outbox event per request. Then every request is approved twice at the
//! same moment by two staff sessions (eight pairs of sessions, a barrier per request): exactly
//! 700 bookings, each linked both ways with its request and at its request's times; every second
//! approval refused with PT409 `request_transition`; no deadlock.
//!
//! And two requests for the same hour of a capacity-1 resource, approved at the same moment by
//! two staff sessions (20 such pairs): one books, the other is answered with the JSON
//! `{code: 'PT409', details: 'overlap', ...}` and HTTP 409, and is left pending with
//! `refusal = 'overlap'` (committed).

#[path = "../common/mod.rs"]
mod common;

use common::{at_once, create_authenticator, sqlstate, transaction_as, Cluster, TENANTS_SQL};
use std::collections::BTreeMap;
use std::sync::{Arc, Barrier};

const LAB: &str = "00000000-0000-4000-a000-000000000001";
/// The lab's four resources (VR Headset, 3D Printer, Digital Lab, Flatbed Scanner).
const RESOURCES: [&str; 4] = [
    "00000000-0000-4000-a000-000000000101",
    "00000000-0000-4000-a000-000000000102",
    "00000000-0000-4000-a000-000000000103",
    "00000000-0000-4000-a000-000000000104",
];
const PRINTER: &str = "00000000-0000-4000-a000-000000000102";
/// The lab's open hours (New York): 10-13 and 14-18 on weekdays, one-hour slots.
const HOURS: [u32; 7] = [10, 11, 12, 14, 15, 16, 17];
const REQUESTS: usize = 700;
const REPLAYS: usize = 300;
const SUBMITTERS: usize = 16;
const APPROVER_PAIRS: usize = 8;
const CLASHES: usize = 20;

const SUBMIT: &str = "SELECT r.id::text FROM booking.submit_external_request($1::text::uuid, 'google_forms', $2, 'booking', $3::text::jsonb) r";
const APPROVE: &str = "SELECT v ->> 'code', v ->> 'details', v ->> 'booking_id', current_setting('response.status', true)
                       FROM booking.process_external_request($1::text::uuid, 'approve') v";

/// A small deterministic generator (splitmix64): the same submissions on every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn shuffle<T>(&mut self, v: &mut [T]) {
        for i in (1..v.len()).rev() {
            let j = self.below(i + 1);
            v.swap(i, j);
        }
    }
}

/// Request `n`'s slot: a distinct open hour of one of the lab's resources, on the 25 weekdays
/// from Monday 1 September 2031 (New York summer time throughout). Returns (resource, local
/// date, hour).
fn slot(n: usize) -> (&'static str, String, u32) {
    let resource = RESOURCES[n % RESOURCES.len()];
    let hour = HOURS[(n / RESOURCES.len()) % HOURS.len()];
    let weekday = n / (RESOURCES.len() * HOURS.len()); // 0..25
    let day = 1 + 7 * (weekday / 5) + weekday % 5; // days from 31 August
    let date = if day <= 30 {
        format!("2031-09-{day:02}")
    } else {
        format!("2031-10-{:02}", day - 30)
    };
    (resource, date, hour)
}

/// Request `n`'s newest revision (2, 3 or 4).
fn newest(n: usize) -> u32 {
    2 + (n % 3) as u32
}

/// What the form sends for request `n` at `revision`: the newest revision asks for the whole
/// hour, older ones for its first half under another title.
fn request_data(n: usize, revision: u32) -> String {
    let (resource, date, hour) = slot(n);
    let end = if revision == newest(n) {
        format!("{:02}:00", hour + 1)
    } else {
        format!("{hour:02}:30")
    };
    format!(
        r#"{{"resource_id": "{resource}", "starts_at": "{date} {hour:02}:00 America/New_York", "ends_at": "{date} {end} America/New_York", "title": "Form {n} revision {revision}", "revision": {revision}}}"#
    )
}

fn external_id(n: usize) -> String {
    format!("form-{n:04}")
}

/// One delivery of the form's worker: (request, revision).
type Delivery = (usize, u32);

/// A session of the worker: `SET ROLE service_role`, then its deliveries in turn, each its own
/// transaction. Returns each delivery with the request id it was answered with.
fn submit_all(
    conn: &mut postgres::Client,
    _i: usize,
    deliveries: Vec<Delivery>,
) -> Vec<(Delivery, Result<String, String>)> {
    conn.batch_execute("SET ROLE service_role").unwrap();
    deliveries
        .into_iter()
        .map(|(n, revision)| {
            let res = conn
                .query_one(SUBMIT, &[&LAB, &external_id(n), &request_data(n, revision)])
                .map(|r| r.get::<_, String>(0))
                .map_err(|e| format!("{:?}: {e}", sqlstate(&e)));
            ((n, revision), res)
        })
        .collect()
}

/// How one approval came out.
#[derive(Debug, Clone, PartialEq)]
enum Outcome {
    /// Approved: the booking's id.
    Booked(String),
    /// Answered (and committed) with the refusal JSON: its code, details and response.status.
    Answered {
        code: String,
        details: String,
        status: Option<String>,
    },
    /// The call failed: SQLSTATE and DETAIL.
    Failed {
        sqlstate: String,
        detail: Option<String>,
    },
}

/// A staff session of a pair: approves each of its requests, meeting its partner at the barrier
/// before each one so that both approve at the same moment.
struct Approver {
    requests: Vec<String>,
    barrier: Arc<Barrier>,
}

fn approve_all(
    conn: &mut postgres::Client,
    _i: usize,
    job: Approver,
) -> Vec<(String, Outcome, usize)> {
    job.requests
        .into_iter()
        .map(|id| {
            job.barrier.wait();
            let (res, retries) = transaction_as(conn, "u-staff", false, |tx| {
                tx.query_one(APPROVE, &[&id]).map(|r| {
                    let code: Option<String> = r.get(0);
                    match code {
                        None => Outcome::Booked(
                            r.get::<_, Option<String>>(2)
                                .expect("an approval names its booking"),
                        ),
                        Some(code) => Outcome::Answered {
                            code,
                            details: r.get::<_, Option<String>>(1).unwrap_or_default(),
                            status: r.get(3),
                        },
                    }
                })
            });
            let outcome = res.unwrap_or_else(|e| Outcome::Failed {
                sqlstate: sqlstate(&e).unwrap_or_else(|| format!("{e}")),
                detail: e.as_db_error().and_then(|d| d.detail()).map(str::to_owned),
            });
            (id, outcome, retries.deadlock)
        })
        .collect()
}

fn start(name: &str) -> (Cluster, postgres::Client, String) {
    let cluster = Cluster::start(name);
    let mut admin = cluster.create_db(name, true);
    admin.batch_execute(TENANTS_SQL).unwrap();
    create_authenticator(&mut admin);
    // a deadlock would be reported (and counted) quickly rather than after a second
    admin
        .batch_execute(&format!(
            "ALTER DATABASE {name} SET deadlock_timeout = '100ms'"
        ))
        .unwrap();
    let url = cluster.url(name);
    (cluster, admin, url)
}

fn count(admin: &mut postgres::Client, sql: &str) -> i64 {
    admin.query_one(sql, &[]).unwrap().get(0)
}

#[test]
fn a_thousand_replayed_and_reordered_submissions_make_one_request_and_one_booking_each() {
    let (_cluster, mut admin, url) = start("intake_replays");

    // 700 newest revisions and 300 replays: half identical to the newest, half older revisions.
    let mut rng = Rng(24);
    let mut deliveries: Vec<Delivery> = (0..REQUESTS).map(|n| (n, newest(n))).collect();
    for _ in 0..REPLAYS {
        let n = rng.below(REQUESTS);
        let revision = if rng.below(2) == 0 {
            newest(n)
        } else {
            1 + rng.below(newest(n) as usize - 1) as u32
        };
        deliveries.push((n, revision));
    }
    rng.shuffle(&mut deliveries);
    let older = deliveries.iter().filter(|(n, r)| *r < newest(*n)).count();
    let replayed_keys = {
        let mut per_key = BTreeMap::<usize, usize>::new();
        for (n, _) in &deliveries {
            *per_key.entry(*n).or_default() += 1;
        }
        per_key.values().filter(|c| **c > 1).count()
    };
    assert_eq!(deliveries.len(), 1_000);
    assert!(
        older > 100 && replayed_keys > 200,
        "the replays are a mix: {older} older revisions, {replayed_keys} keys replayed"
    );
    // How often a request's newest revision arrives before one of its older ones (a reordering
    // the function must not undo).
    let reordered = deliveries
        .iter()
        .enumerate()
        .filter(|(i, (n, r))| {
            *r == newest(*n) && deliveries[i + 1..].iter().any(|(m, s)| m == n && s < r)
        })
        .count();
    assert!(
        reordered > 30,
        "only {reordered} newest revisions arrive before an older one"
    );

    let jobs: Vec<Vec<Delivery>> = (0..SUBMITTERS)
        .map(|s| {
            deliveries
                .iter()
                .skip(s)
                .step_by(SUBMITTERS)
                .copied()
                .collect()
        })
        .collect();
    let answers: Vec<_> = at_once(&url, jobs, submit_all)
        .into_iter()
        .flatten()
        .collect();
    assert_eq!(answers.len(), 1_000);
    let failed: Vec<_> = answers.iter().filter(|(_, r)| r.is_err()).collect();
    assert!(failed.is_empty(), "refused submissions: {failed:?}");
    let mut ids = BTreeMap::<usize, String>::new();
    for ((n, revision), id) in &answers {
        let id = id.as_ref().unwrap();
        let first = ids.entry(*n).or_insert_with(|| id.clone());
        assert_eq!(
            first, id,
            "request {n}: revision {revision} was answered with another request"
        );
    }
    assert_eq!(ids.len(), REQUESTS);

    let requests = count(
        &mut admin,
        &format!("SELECT count(*) FROM booking.external_requests WHERE organization_id = '{LAB}'"),
    );
    assert_eq!(requests, REQUESTS as i64, "one request per key");
    let (keys, xids): (Vec<String>, Vec<String>) = (0..REQUESTS)
        .map(|n| (external_id(n), request_data(n, newest(n))))
        .unzip();
    let newest_held: i64 = admin
        .query_one(
            "SELECT count(*) FROM unnest($1::text[], $2::text[]) e(external_id, data)
             JOIN booking.external_requests r
               ON (r.organization_id, r.source, r.external_id) = ($3::text::uuid, 'google_forms', e.external_id)
             WHERE r.request_data = e.data::jsonb AND r.status = 'pending' AND r.submitted_by IS NULL",
            &[&keys, &xids, &LAB],
        )
        .unwrap()
        .get(0);
    assert_eq!(
        newest_held, REQUESTS as i64,
        "every request holds its newest revision's data, pending"
    );
    let row = admin
        .query_one(
            "SELECT count(*), count(DISTINCT payload ->> 'request_id')
             FROM booking.outbox WHERE organization_id = $1::text::uuid AND topic = 'request.submitted'",
            &[&LAB],
        )
        .unwrap();
    let (events, requests_told): (i64, i64) = (row.get(0), row.get(1));
    assert_eq!(
        (events, requests_told),
        (REQUESTS as i64, REQUESTS as i64),
        "one request.submitted event per request"
    );

    // Every request approved twice at once: eight pairs of staff sessions, one barrier a pair.
    let order: Vec<String> = (0..REQUESTS).map(|n| ids[&n].clone()).collect();
    let jobs: Vec<Approver> = (0..APPROVER_PAIRS)
        .flat_map(|p| {
            let barrier = Arc::new(Barrier::new(2));
            let mine: Vec<String> = order
                .iter()
                .skip(p)
                .step_by(APPROVER_PAIRS)
                .cloned()
                .collect();
            [0, 1].map(|_| Approver {
                requests: mine.clone(),
                barrier: barrier.clone(),
            })
        })
        .collect();
    let approvals: Vec<_> = at_once(&url, jobs, approve_all)
        .into_iter()
        .flatten()
        .collect();
    assert_eq!(approvals.len(), 2 * REQUESTS);
    let deadlocks: usize = approvals.iter().map(|(_, _, d)| d).sum();
    assert_eq!(deadlocks, 0, "no deadlock");
    let mut per_request = BTreeMap::<&str, Vec<&Outcome>>::new();
    for (id, outcome, _) in &approvals {
        per_request.entry(id.as_str()).or_default().push(outcome);
    }
    let second = Outcome::Failed {
        sqlstate: "PT409".into(),
        detail: Some("request_transition".into()),
    };
    let mut booked = Vec::new();
    for (id, outcomes) in &per_request {
        let bookings: Vec<_> = outcomes
            .iter()
            .filter_map(|o| match o {
                Outcome::Booked(b) => Some(b.clone()),
                _ => None,
            })
            .collect();
        let refused = outcomes.iter().filter(|o| ***o == second).count();
        assert_eq!(
            (bookings.len(), refused),
            (1, 1),
            "request {id}: one approval books, the other is refused with PT409 request_transition: {outcomes:?}"
        );
        booked.extend(bookings);
    }
    booked.sort();
    booked.dedup();
    assert_eq!(booked.len(), REQUESTS, "700 distinct bookings answered");

    let row = admin
        .query_one(
            "SELECT (SELECT count(*) FROM booking.bookings WHERE external_request_id IS NOT NULL),
                    (SELECT count(*) FROM booking.bookings WHERE starts_at >= '2031-09-01' AND starts_at < '2031-10-04'),
                    (SELECT count(DISTINCT b.id) FROM booking.external_requests r
                     JOIN booking.bookings b ON b.id = r.booking_id AND b.external_request_id = r.id
                     WHERE r.organization_id = $1::text::uuid AND r.status = 'approved' AND r.refusal IS NULL
                       AND b.status = 'approved' AND b.source = 'api' AND b.booked_by = 'u-staff'
                       AND b.resource_id = (r.request_data ->> 'resource_id')::uuid
                       AND b.starts_at = (r.request_data ->> 'starts_at')::timestamptz
                       AND b.ends_at = (r.request_data ->> 'ends_at')::timestamptz
                       AND b.title = r.request_data ->> 'title'),
                    (SELECT count(*) FROM booking.external_requests WHERE status <> 'approved')",
            &[&LAB],
        )
        .unwrap();
    let (linked, in_period, both_ways, unapproved): (i64, i64, i64, i64) =
        (row.get(0), row.get(1), row.get(2), row.get(3));
    assert_eq!(
        (linked, in_period, both_ways, unapproved),
        (REQUESTS as i64, REQUESTS as i64, REQUESTS as i64, 0),
        "(bookings naming a request, bookings in the period, requests and bookings linked both ways at the request's times, requests not approved)"
    );
}

#[test]
fn two_requests_for_one_hour_approved_at_once_book_it_once_and_record_the_overlap() {
    let (_cluster, mut admin, url) = start("intake_clash");

    // 20 hours of the printer (weekdays from Monday 2 February 2032, 10:00-11:00), each asked
    // for by two form submissions.
    let hours: Vec<(String, String)> = (0..CLASHES)
        .map(|k| {
            let day = 2 + 7 * (k / 5) + k % 5; // February 2032
            (
                format!("2032-02-{day:02} 10:00 America/New_York"),
                format!("2032-02-{day:02} 11:00 America/New_York"),
            )
        })
        .collect();
    admin.batch_execute("SET ROLE service_role").unwrap();
    let mut pairs = Vec::new();
    for (k, (from, to)) in hours.iter().enumerate() {
        let pair = ["a", "b"].map(|side| {
            let data = format!(
                r#"{{"resource_id": "{PRINTER}", "starts_at": "{from}", "ends_at": "{to}", "title": "Clash {k}{side}"}}"#
            );
            admin
                .query_one(SUBMIT, &[&LAB, &format!("clash-{k}-{side}"), &data])
                .unwrap()
                .get::<_, String>(0)
        });
        pairs.push(pair);
    }
    admin.batch_execute("RESET ROLE").unwrap();

    // Session 0 approves each pair's first request while session 1 approves its second.
    let barrier = Arc::new(Barrier::new(2));
    let jobs: Vec<Approver> = (0..2)
        .map(|side| Approver {
            requests: pairs.iter().map(|p| p[side].clone()).collect(),
            barrier: barrier.clone(),
        })
        .collect();
    let results = at_once(&url, jobs, approve_all);
    assert_eq!((results[0].len(), results[1].len()), (CLASHES, CLASHES));
    let deadlocks: usize = results.iter().flatten().map(|(_, _, d)| d).sum();
    assert_eq!(deadlocks, 0, "no deadlock");
    let overlap = Outcome::Answered {
        code: "PT409".into(),
        details: "overlap".into(),
        status: Some("409".into()),
    };
    let mut refused = Vec::new();
    for (k, (a, b)) in results[0].iter().zip(&results[1]).enumerate() {
        let outcomes = [&a.1, &b.1];
        let booked = outcomes
            .iter()
            .filter(|o| matches!(o, Outcome::Booked(_)))
            .count();
        let answered = outcomes.iter().filter(|o| ***o == overlap).count();
        assert_eq!(
            (booked, answered),
            (1, 1),
            "hour {k}: one request books, the other is answered PT409 overlap with HTTP 409: {outcomes:?}"
        );
        refused.push(if a.1 == overlap {
            a.0.clone()
        } else {
            b.0.clone()
        });
    }

    let row = admin
        .query_one(
            "SELECT (SELECT count(*) FROM booking.bookings WHERE resource_id = $2::text::uuid AND starts_at >= '2032-02-01'),
                    (SELECT count(*) FROM booking.external_requests r
                     WHERE r.id = ANY ($1::text[]::uuid[]) AND r.status = 'pending' AND r.refusal = 'overlap'
                       AND r.refused_at IS NOT NULL AND r.booking_id IS NULL
                       AND NOT EXISTS (SELECT 1 FROM booking.bookings b WHERE b.external_request_id = r.id)),
                    (SELECT count(*) FROM booking.external_requests r
                     JOIN booking.bookings b ON b.id = r.booking_id AND b.external_request_id = r.id
                     WHERE r.external_id LIKE 'clash-%' AND r.status = 'approved' AND r.refusal IS NULL)",
            &[&refused, &PRINTER],
        )
        .unwrap();
    let (bookings, pending_with_overlap, linked): (i64, i64, i64) =
        (row.get(0), row.get(1), row.get(2));
    assert_eq!(
        (bookings, pending_with_overlap, linked),
        (CLASHES as i64, CLASHES as i64, CLASHES as i64),
        "(printer bookings, refused requests left pending with refusal overlap, approved requests linked both ways)"
    );
}
