//! pg_dump of a database with booking_ext and data, restored into a fresh database: zero errors,
//! identical rows in every table, identical policies and grants, and the rules still enforced.

#[path = "../common/mod.rs"]
mod common;

use common::{as_persona, sqlstate, Cluster, TENANTS_SQL};

const TABLES: [&str; 14] = [
    "organizations",
    "members",
    "resources",
    "availability_rules",
    "availability_exceptions",
    "services",
    "service_rules",
    "bookings",
    "booking_services",
    "booking_transitions",
    "notifications",
    "audit_log",
    "outbox",
    "conflicts",
];

/// (table, row count, digest of all rows) for every table, read as a superuser.
fn snapshot(c: &mut postgres::Client) -> Vec<(String, i64, String)> {
    TABLES
        .iter()
        .map(|t| {
            let row = c
                .query_one(
                    &format!("SELECT count(*), coalesce(md5(string_agg(x::text, '|' ORDER BY x::text)), '') FROM booking.{t} x"),
                    &[],
                )
                .unwrap();
            (t.to_string(), row.get(0), row.get(1))
        })
        .collect()
}

fn policies_and_grants(c: &mut postgres::Client) -> (String, String) {
    let policies: String = c
        .query_one(
            "SELECT string_agg(format('%s.%s %s %s USING %s CHECK %s', tablename, policyname, cmd, roles, qual, with_check), E'\\n'
                               ORDER BY tablename, policyname)
             FROM pg_policies WHERE schemaname = 'booking'",
            &[],
        )
        .unwrap()
        .get(0);
    let grants: String = c
        .query_one(
            "SELECT string_agg(grant_line, E'\\n' ORDER BY grant_line) FROM (
               SELECT format('table %s %s', relname, relacl) AS grant_line
               FROM pg_class WHERE relnamespace = 'booking'::regnamespace AND relkind = 'r'
               UNION ALL
               SELECT format('schema %s %s', nspname, nspacl)
               FROM pg_namespace WHERE nspname IN ('booking', 'booking_internal')
               UNION ALL
               SELECT format('function %s %s', oid::regprocedure, proacl)
               FROM pg_proc WHERE pronamespace IN ('booking'::regnamespace, 'booking_internal'::regnamespace)) g",
            &[],
        )
        .unwrap()
        .get(0);
    (policies, grants)
}

fn populated_source(cluster: &Cluster) -> postgres::Client {
    let mut c = cluster.create_db("src", true);
    c.batch_execute(TENANTS_SQL).unwrap();
    // Activity through the API path, so transitions and audit rows carry JWT actors.
    let mut tx = c.transaction().unwrap();
    as_persona(&mut tx, "authenticated", Some("u-staff"));
    tx.batch_execute(
        "SELECT set_config('booking.reason', 'approved at the desk', true);
         UPDATE booking.bookings SET status = 'approved' WHERE id = '00000000-0000-4000-a000-000000000401';
         UPDATE booking.bookings SET status = 'completed' WHERE id = '00000000-0000-4000-a000-000000000402';",
    )
    .unwrap();
    tx.commit().unwrap();
    // A resource made unbookable after it was booked: the restore must still bring its bookings back.
    c.batch_execute(
        "UPDATE booking.resources SET is_bookable = false WHERE id = '00000000-0000-4000-a000-000000000101';
         INSERT INTO booking.outbox (organization_id, topic, payload)
         SELECT '00000000-0000-4000-a000-000000000001', 'booking.updated', jsonb_build_object('n', n)
         FROM generate_series(1, 3) n;",
    )
    .unwrap();
    c
}

fn assert_identical_after(
    format_flag: &str,
    restore: impl Fn(&Cluster, &str) -> std::process::Output,
) {
    let cluster = Cluster::start(&format!("dump{format_flag}"));
    let mut src = populated_source(&cluster);
    let before = snapshot(&mut src);
    for (table, rows, _) in &before {
        assert!(
            *rows > 0,
            "the source must have rows in {table} for the test to mean something"
        );
    }

    let file = cluster.dir.join("dump");
    let file = file.to_str().unwrap();
    let out = cluster.client_tool("pg_dump", &[format_flag, "-f", file, "src"]);
    assert!(
        out.status.success(),
        "pg_dump: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    cluster
        .connect("postgres")
        .batch_execute("CREATE DATABASE dst")
        .unwrap();
    let out = restore(&cluster, file);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && stderr.trim().is_empty(),
        "restore reported errors:\n{stderr}"
    );

    let mut dst = cluster.connect("dst");
    assert_eq!(snapshot(&mut dst), before, "rows differ after restore");
    assert_eq!(
        policies_and_grants(&mut dst),
        policies_and_grants(&mut src),
        "policies or grants differ"
    );

    // The restored database still enforces the rules and continues the outbox sequence.
    let err = dst
        .batch_execute(
            "INSERT INTO booking.bookings (organization_id, resource_id, booked_by, starts_at, ends_at)
             VALUES ('00000000-0000-4000-a000-000000000001', '00000000-0000-4000-a000-000000000103', 'x',
                     '2030-03-04 14:30 America/New_York', '2030-03-04 15:00 America/New_York');
             UPDATE booking.bookings SET status = 'pending' WHERE id = '00000000-0000-4000-a000-000000000402';",
        )
        .unwrap_err();
    assert_eq!(
        sqlstate(&err).as_deref(),
        Some("23514"),
        "completed -> pending refused after restore: {err:?}"
    );
    let max_before: i64 = src
        .query_one("SELECT max(id) FROM booking.outbox", &[])
        .unwrap()
        .get(0);
    let next: i64 = dst
        .query_one("INSERT INTO booking.outbox (organization_id, topic, payload) VALUES ('00000000-0000-4000-a000-000000000001', 't', '{}') RETURNING id", &[])
        .unwrap()
        .get(0);
    assert!(
        next > max_before,
        "outbox ids continue after restore ({next} <= {max_before})"
    );
}

#[test]
fn custom_format_dump_restores_identically() {
    assert_identical_after("-Fc", |cluster, file| {
        cluster.client_tool("pg_restore", &["--exit-on-error", "-d", "dst", file])
    });
}

#[test]
fn plain_sql_dump_restores_identically() {
    assert_identical_after("-Fp", |cluster, file| {
        cluster.client_tool(
            "psql",
            &["-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", "dst", "-f", file],
        )
    });
}
