//! Installing, dropping and reinstalling the extension, with and without the Supabase API roles.

mod common;

use common::{Cluster, TENANTS_SQL};

fn count(c: &mut postgres::Client, sql: &str) -> i64 {
    c.query_one(sql, &[]).unwrap().get(0)
}

#[test]
fn create_drop_create_leaves_nothing_behind() {
    let cluster = Cluster::start("install");
    let mut c = cluster.create_db("db", false);
    c.batch_execute(TENANTS_SQL).unwrap();
    assert_eq!(count(&mut c, "SELECT count(*) FROM booking.bookings"), 3);
    assert_eq!(
        count(&mut c, "SELECT count(*) FROM pg_extension WHERE extname IN ('booking_ext', 'btree_gist')"),
        2,
        "CASCADE installs btree_gist"
    );

    c.batch_execute("DROP EXTENSION booking_ext").unwrap();
    // The schema CREATE EXTENSION made is not an extension member: it stays, empty.
    assert_eq!(count(&mut c, "SELECT count(*) FROM pg_class WHERE relnamespace = 'booking'::regnamespace"), 0, "tables, indexes and sequences dropped");
    assert_eq!(count(&mut c, "SELECT count(*) FROM pg_proc WHERE pronamespace = 'booking'::regnamespace"), 0, "functions dropped");
    // booking_internal is the extension's own: it goes with it.
    assert_eq!(count(&mut c, "SELECT count(*) FROM pg_namespace WHERE nspname = 'booking_internal'"), 0, "booking_internal dropped");
    assert_eq!(
        count(&mut c, "SELECT count(*) FROM pg_proc WHERE proname IN ('current_user_id', 'transition_allowed', 'bookings_guard')"),
        0,
        "functions dropped"
    );

    c.batch_execute("CREATE EXTENSION booking_ext CASCADE").unwrap();
    assert_eq!(count(&mut c, "SELECT count(*) FROM booking.bookings"), 0, "a new install starts empty");
    c.batch_execute(TENANTS_SQL).unwrap();
    assert_eq!(count(&mut c, "SELECT count(*) FROM booking.bookings"), 3);
    assert_eq!(count(&mut c, "SELECT count(*) FROM pg_policies WHERE schemaname = 'booking'"),
               count(&mut c, "SELECT count(*) FROM pg_policy"), "policies come back with the extension");
}

#[test]
fn plain_postgres_without_api_roles_then_create_api_roles() {
    let cluster = Cluster::start("roles");
    let mut c = cluster.create_db("db", false);
    assert_eq!(
        count(&mut c, "SELECT count(*) FROM pg_roles WHERE rolname IN ('anon', 'authenticated', 'service_role')"),
        0,
        "a plain cluster has no API roles"
    );
    let granted: Vec<String> = c.query_one("SELECT booking.create_api_roles()", &[]).unwrap().get(0);
    assert_eq!(granted, ["anon", "authenticated", "service_role"]);
    let privs: Vec<bool> = c
        .query_one(
            "SELECT ARRAY[has_table_privilege('anon', 'booking.resources', 'SELECT'),
                          has_table_privilege('anon', 'booking.bookings', 'SELECT'),
                          has_table_privilege('authenticated', 'booking.bookings', 'INSERT'),
                          has_table_privilege('authenticated', 'booking.audit_log', 'INSERT'),
                          has_table_privilege('service_role', 'booking.audit_log', 'DELETE'),
                          (SELECT rolbypassrls FROM pg_roles WHERE rolname = 'service_role')]",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(privs, [true, false, true, false, false, true]);
    // Idempotent: a second call creates nothing and grants the same.
    let again: Vec<String> = c.query_one("SELECT booking.create_api_roles()", &[]).unwrap().get(0);
    assert_eq!(again, ["anon", "authenticated", "service_role"]);

    // With the roles already there (as on Supabase), a new install grants to them by itself.
    cluster.connect("postgres").batch_execute("CREATE DATABASE db2").unwrap();
    let mut c2 = cluster.connect("db2");
    c2.batch_execute("CREATE EXTENSION booking_ext CASCADE").unwrap();
    let ok: bool = c2
        .query_one("SELECT has_table_privilege('authenticated', 'booking.bookings', 'UPDATE')", &[])
        .unwrap()
        .get(0);
    assert!(ok);
}
