//! The first events of a month, at once: fifty sessions call `booking.track_event` together
//! through the API's path (PostgREST's login role, then `anon` or `authenticated` with JWT claims
//! and request headers), half READ COMMITTED and half REPEATABLE READ, into a month that has no
//! partition yet. Every call succeeds on its first try (no deadlock, no serialization failure,
//! no "relation already exists"), all fifty rows land, in one partition of the month, and each
//! row carries its caller's user and address. Three rounds, the month's partition dropped before
//! each.

#[path = "../common/mod.rs"]
mod common;

use common::{at_once_warm, create_authenticator, sqlstate, Cluster, TENANTS_SQL};

const LAB: &str = "00000000-0000-4000-a000-000000000001";
const SESSIONS: usize = 50;

#[derive(Debug, Clone)]
struct Job {
    round: usize,
    anon: bool,
    repeatable_read: bool,
}

fn persona(i: usize, job: &Job) -> (String, String, String) {
    let role = if job.anon { "anon" } else { "authenticated" };
    let claims = if job.anon {
        r#"{"role":"anon"}"#.to_owned()
    } else {
        format!(r#"{{"sub":"u-{i}","role":"authenticated"}}"#)
    };
    let headers =
        format!(r#"{{"user-agent":"client {i}","x-forwarded-for":"198.51.100.{i}, 10.0.0.1"}}"#);
    (role.to_owned(), claims, headers)
}

/// Before the barrier: compile track_event in this backend without writing anything (a refused
/// call stops at the argument checks).
fn warm_up(conn: &mut postgres::Client, _i: usize, _job: &Job) {
    let err = conn
        .batch_execute("SET ROLE anon; SELECT booking.track_event('')")
        .unwrap_err();
    assert_eq!(sqlstate(&err).as_deref(), Some("22023"));
    conn.batch_execute("RESET ROLE").unwrap();
}

fn track(conn: &mut postgres::Client, i: usize, job: Job) -> Result<String, String> {
    let (role, claims, headers) = persona(i, &job);
    let mut tx = conn
        .build_transaction()
        .isolation_level(if job.repeatable_read {
            postgres::IsolationLevel::RepeatableRead
        } else {
            postgres::IsolationLevel::ReadCommitted
        })
        .start()
        .unwrap();
    tx.execute(
        "SELECT set_config('role', $1, true), set_config('request.jwt.claims', $2, true),
                set_config('request.headers', $3, true)",
        &[&role, &claims, &headers],
    )
    .unwrap();
    let data = format!(r#"{{"organization_id":"{LAB}","n":{i}}}"#);
    let res = tx
        .query_one(
            "SELECT booking.track_event($1, $2::text::jsonb, $3)::text",
            &[&format!("round-{}", job.round), &data, &format!("s-{i}")],
        )
        .and_then(|r| tx.commit().map(|_| r.get::<_, String>(0)));
    res.map_err(|e| format!("{:?}: {e}", sqlstate(&e)))
}

#[test]
fn fifty_first_events_of_a_month_make_one_partition_and_all_land() {
    let cluster = Cluster::start("analytics");
    let mut admin = cluster.create_db("analytics", true);
    admin.batch_execute(TENANTS_SQL).unwrap();
    create_authenticator(&mut admin);
    admin
        .batch_execute("ALTER DATABASE analytics SET deadlock_timeout = '100ms'")
        .unwrap();
    let url = cluster.url("analytics");
    let month: String = admin
        .query_one(
            "SELECT 'analytics_events_p' || to_char(now() AT TIME ZONE 'UTC', 'YYYY_MM')",
            &[],
        )
        .unwrap()
        .get(0);

    for round in 1..=3 {
        admin
            .batch_execute(&format!("DROP TABLE IF EXISTS booking_internal.{month}"))
            .unwrap();
        let partitions: i64 = admin
            .query_one(
                "SELECT count(*) FROM pg_inherits WHERE inhparent = 'booking.analytics_events'::regclass",
                &[],
            )
            .unwrap()
            .get(0);
        assert_eq!(partitions, 0, "round {round}: no partition before");

        let jobs: Vec<Job> = (0..SESSIONS)
            .map(|i| Job {
                round,
                anon: i % 2 == 0,
                repeatable_read: (i / 2) % 2 == 0,
            })
            .collect();
        let results = at_once_warm(&url, jobs, warm_up, track);
        let failed: Vec<_> = results
            .iter()
            .enumerate()
            .filter(|(_, r)| r.is_err())
            .collect();
        assert!(
            failed.is_empty(),
            "round {round}: refused calls: {failed:?}"
        );

        let row = admin
            .query_one(
                &format!(
                    "SELECT count(*), count(DISTINCT id),
                            count(*) FILTER (WHERE tableoid = 'booking_internal.{month}'::regclass),
                            count(*) FILTER (WHERE ip_address = ('198.51.100.' || (event_data ->> 'n'))::inet
                                               AND user_agent = 'client ' || (event_data ->> 'n')
                                               AND session_id = 's-' || (event_data ->> 'n')
                                               AND user_id IS NOT DISTINCT FROM
                                                   CASE WHEN (event_data ->> 'n')::int % 2 = 1 THEN 'u-' || (event_data ->> 'n') END
                                               AND organization_id = '{LAB}' AND NOT verified),
                            (SELECT count(*) FROM pg_inherits WHERE inhparent = 'booking.analytics_events'::regclass)
                     FROM booking.analytics_events WHERE event_type = 'round-{round}'"
                ),
                &[],
            )
            .unwrap();
        let (rows, ids, in_month, exact, partitions): (i64, i64, i64, i64, i64) =
            (row.get(0), row.get(1), row.get(2), row.get(3), row.get(4));
        assert_eq!(
            (rows, ids, in_month, exact, partitions),
            (SESSIONS as i64, SESSIONS as i64, SESSIONS as i64, SESSIONS as i64, 1),
            "round {round}: (rows, distinct ids, rows in the month's partition, rows with their caller's fields, partitions)"
        );
    }
}
