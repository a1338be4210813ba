//! Outbox workers at once, as service_role on the API's path: concurrent claims never hand one
//! event to two workers, and a worker that dies mid-batch loses nothing (its lease runs out and
//! the events are delivered by the others).

#[path = "../common/mod.rs"]
mod common;

use common::{as_persona, Cluster, TENANTS_SQL};
use std::collections::HashMap;
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

const EVENTS: i64 = 2000;
const WORKERS: usize = 8;
const DEAD_LEASE_SECONDS: i32 = 3;

fn claim(conn: &mut postgres::Client, limit: i32, lease_seconds: i32) -> Vec<i64> {
    let mut tx = conn.transaction().unwrap();
    as_persona(&mut tx, "service_role", None);
    let ids = tx
        .query(
            "SELECT id FROM booking.claim_outbox(NULL, $1, $2)",
            &[&limit, &lease_seconds],
        )
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    tx.commit().unwrap();
    ids
}

fn ack(conn: &mut postgres::Client, ids: &[i64]) -> i32 {
    let mut tx = conn.transaction().unwrap();
    as_persona(&mut tx, "service_role", None);
    let n = tx
        .query_one("SELECT booking.ack_outbox($1)", &[&ids])
        .unwrap()
        .get(0);
    tx.commit().unwrap();
    n
}

/// A worker: claims batches of 25 and acknowledges each until nothing is due; returns its events.
fn worker(url: String, barrier: Arc<Barrier>) -> Vec<i64> {
    let mut conn = postgres::Client::connect(&url, postgres::NoTls).unwrap();
    let mut delivered = Vec::new();
    barrier.wait();
    loop {
        let ids = claim(&mut conn, 25, 60);
        if ids.is_empty() {
            return delivered;
        }
        assert_eq!(
            ack(&mut conn, &ids),
            ids.len() as i32,
            "a claimed event was already acknowledged"
        );
        delivered.extend(ids);
    }
}

fn run_workers(url: &str) -> Vec<Vec<i64>> {
    let barrier = Arc::new(Barrier::new(WORKERS));
    let handles: Vec<_> = (0..WORKERS)
        .map(|_| {
            let (url, barrier) = (url.to_owned(), barrier.clone());
            std::thread::spawn(move || worker(url, barrier))
        })
        .collect();
    handles
        .into_iter()
        .map(|h| h.join().expect("a worker panicked"))
        .collect()
}

#[test]
fn concurrent_workers_never_share_an_event_and_a_dead_worker_loses_nothing() {
    let cluster = Cluster::start("outbox");
    let mut admin = cluster.create_db("outbox", true);
    admin.batch_execute(TENANTS_SQL).unwrap();
    admin
        .batch_execute(&format!(
            "INSERT INTO booking.outbox (organization_id, topic, payload)
             SELECT '00000000-0000-4000-a000-000000000001', 'test.event', jsonb_build_object('n', n)
             FROM generate_series(1, {EVENTS}) n"
        ))
        .unwrap();
    let waiting: i64 = admin
        .query_one(
            "SELECT count(*) FROM booking.outbox WHERE delivered_at IS NULL",
            &[],
        )
        .unwrap()
        .get(0);

    // A worker claims a batch with a short lease and dies without acknowledging it.
    let died_at = Instant::now();
    let lost = {
        let mut conn = cluster.connect("outbox");
        claim(&mut conn, 100, DEAD_LEASE_SECONDS)
    };
    assert_eq!(lost.len(), 100);

    // Eight workers drain the outbox at once; when they are done and the dead worker's lease
    // has run out, they drain it again.
    let mut batches = run_workers(&cluster.url("outbox"));
    let busy_workers = batches.iter().filter(|b| !b.is_empty()).count();
    let lease = Duration::from_secs(DEAD_LEASE_SECONDS as u64 + 1);
    if let Some(rest) = lease.checked_sub(died_at.elapsed()) {
        std::thread::sleep(rest);
    }
    batches.extend(run_workers(&cluster.url("outbox")));

    let mut times_delivered: HashMap<i64, usize> = HashMap::new();
    for id in batches.iter().flatten() {
        *times_delivered.entry(*id).or_default() += 1;
    }
    let twice: Vec<_> = times_delivered.iter().filter(|(_, &n)| n > 1).collect();
    eprintln!("{waiting} events, {busy_workers} of {WORKERS} workers got some in the first round; handed out twice: {twice:?}");
    assert!(twice.is_empty(), "events handed to two workers: {twice:?}");
    assert_eq!(
        times_delivered.len() as i64,
        waiting,
        "every event delivered, the dead worker's included"
    );
    assert!(
        lost.iter().all(|id| times_delivered.contains_key(id)),
        "the dead worker's events were lost"
    );
    assert!(
        busy_workers >= 2,
        "no contention happened: the test proved nothing"
    );

    let (undelivered, retried): (i64, i64) = admin
        .query_one(
            "SELECT count(*) FILTER (WHERE delivered_at IS NULL), count(*) FILTER (WHERE attempts = 2)
             FROM booking.outbox",
            &[],
        )
        .map(|r| (r.get(0), r.get(1)))
        .unwrap();
    assert_eq!(undelivered, 0);
    assert_eq!(
        retried,
        lost.len() as i64,
        "exactly the dead worker's events took a second attempt"
    );
}
