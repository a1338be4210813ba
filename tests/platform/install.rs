//! Installing, dropping and reinstalling the extension, with and without the Supabase API roles.

#[path = "../common/mod.rs"]
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
        count(
            &mut c,
            "SELECT count(*) FROM pg_extension WHERE extname IN ('booking_ext', 'btree_gist')"
        ),
        2,
        "CASCADE installs btree_gist"
    );

    c.batch_execute("DROP EXTENSION booking_ext").unwrap();
    // The schema CREATE EXTENSION made is not an extension member: it stays, empty.
    assert_eq!(
        count(
            &mut c,
            "SELECT count(*) FROM pg_class WHERE relnamespace = 'booking'::regnamespace"
        ),
        0,
        "tables, indexes and sequences dropped"
    );
    assert_eq!(
        count(
            &mut c,
            "SELECT count(*) FROM pg_proc WHERE pronamespace = 'booking'::regnamespace"
        ),
        0,
        "functions dropped"
    );
    // booking_internal is the extension's own: it goes with it.
    assert_eq!(
        count(
            &mut c,
            "SELECT count(*) FROM pg_namespace WHERE nspname = 'booking_internal'"
        ),
        0,
        "booking_internal dropped"
    );
    assert_eq!(
        count(&mut c, "SELECT count(*) FROM pg_proc WHERE proname IN ('current_user_id', 'transition_allowed', 'bookings_guard')"),
        0,
        "functions dropped"
    );

    c.batch_execute("CREATE EXTENSION booking_ext CASCADE")
        .unwrap();
    assert_eq!(
        count(&mut c, "SELECT count(*) FROM booking.bookings"),
        0,
        "a new install starts empty"
    );
    c.batch_execute(TENANTS_SQL).unwrap();
    assert_eq!(count(&mut c, "SELECT count(*) FROM booking.bookings"), 3);
    assert_eq!(
        count(
            &mut c,
            "SELECT count(*) FROM pg_policies WHERE schemaname = 'booking'"
        ),
        count(&mut c, "SELECT count(*) FROM pg_policy"),
        "policies come back with the extension"
    );
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
    let granted: Vec<String> = c
        .query_one("SELECT booking.create_api_roles()", &[])
        .unwrap()
        .get(0);
    assert_eq!(granted, ["anon", "authenticated", "service_role"]);
    let privs: Vec<bool> = c
        .query_one(
            "SELECT ARRAY[has_column_privilege('anon', 'booking.resources', 'title', 'SELECT'),
                          has_table_privilege('anon', 'booking.bookings', 'SELECT'),
                          has_table_privilege('authenticated', 'booking.bookings', 'INSERT'),
                          has_table_privilege('authenticated', 'booking.audit_log', 'INSERT'),
                          has_table_privilege('service_role', 'booking.audit_log', 'DELETE'),
                          (SELECT rolbypassrls FROM pg_roles WHERE rolname = 'service_role'),
                          has_column_privilege('anon', 'booking.resources', 'metadata', 'SELECT'),
                          has_column_privilege('anon', 'booking.organizations', 'settings', 'SELECT')]",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(privs, [true, false, true, false, false, true, false, false]);
    // Idempotent: a second call creates nothing and grants the same.
    let again: Vec<String> = c
        .query_one("SELECT booking.create_api_roles()", &[])
        .unwrap()
        .get(0);
    assert_eq!(again, ["anon", "authenticated", "service_role"]);

    // With the roles already there (as on Supabase), a new install grants to them by itself.
    cluster
        .connect("postgres")
        .batch_execute("CREATE DATABASE db2")
        .unwrap();
    let mut c2 = cluster.connect("db2");
    c2.batch_execute("CREATE EXTENSION booking_ext CASCADE")
        .unwrap();
    let ok: bool = c2
        .query_one(
            "SELECT has_table_privilege('authenticated', 'booking.bookings', 'UPDATE')",
            &[],
        )
        .unwrap()
        .get(0);
    assert!(ok);
}

/// A new cluster with an empty database `db` (returned connected as the superuser) and
/// `mallory`, a login role with no privilege.
fn database_with_mallory(name: &str) -> (Cluster, postgres::Client) {
    let cluster = Cluster::start(name);
    let mut admin = cluster.connect("postgres");
    admin.batch_execute("CREATE DATABASE db").unwrap();
    admin.batch_execute("CREATE ROLE mallory LOGIN").unwrap();
    let c = cluster.connect("db");
    (cluster, c)
}

/// CREATE EXTENSION refuses a `booking` schema it did not make and cannot trust (another
/// role's, or holding objects already), and a `booking_internal` that exists, with a message
/// that says so; nothing is installed.
#[test]
fn create_extension_refuses_a_schema_another_role_prepared() {
    let (_cluster, mut c) = database_with_mallory("hijack-schema");
    let refusal = |c: &mut postgres::Client| {
        let e = c
            .batch_execute("CREATE EXTENSION booking_ext CASCADE")
            .unwrap_err();
        let text = e
            .as_db_error()
            .map(|d| d.message().to_owned())
            .unwrap_or_default();
        let installed = count(
            c,
            "SELECT count(*) FROM pg_extension WHERE extname = 'booking_ext'",
        );
        assert_eq!(installed, 0, "nothing is installed after a refusal");
        text
    };

    c.batch_execute("CREATE SCHEMA booking AUTHORIZATION mallory")
        .unwrap();
    let text = refusal(&mut c);
    assert!(
        text.contains("schema booking already exists") && text.contains("mallory"),
        "{text}"
    );

    c.batch_execute("DROP SCHEMA booking; CREATE SCHEMA booking; CREATE FUNCTION booking.is_staff(uuid) RETURNS boolean LANGUAGE sql AS 'SELECT true'").unwrap();
    let text = refusal(&mut c);
    assert!(text.contains("schema booking already holds"), "{text}");

    c.batch_execute("DROP SCHEMA booking CASCADE; CREATE SCHEMA booking; GRANT CREATE ON SCHEMA booking TO mallory").unwrap();
    let text = refusal(&mut c);
    assert!(text.contains("CREATE"), "{text}");

    c.batch_execute("DROP SCHEMA booking; CREATE SCHEMA booking_internal AUTHORIZATION mallory")
        .unwrap();
    let text = refusal(&mut c);
    assert!(
        text.contains("schema booking_internal already exists"),
        "{text}"
    );

    // An empty schema of the installing role (as DROP EXTENSION leaves it) is fine.
    c.batch_execute(
        "DROP SCHEMA booking_internal; CREATE SCHEMA booking; CREATE EXTENSION booking_ext CASCADE",
    )
    .unwrap();
}

/// Decoys planted by an unprivileged role in a schema it can write (here `public`, made
/// writable as it is on Postgres 14 and earlier, and where CASCADE installs btree_gist) with
/// signatures that match calls better than pg_catalog's are never called: not while the
/// script runs as the superuser, not afterwards when the API uses the extension.
#[test]
fn decoys_in_a_writable_schema_are_never_called() {
    let (cluster, mut c) = database_with_mallory("hijack-decoys");
    c.batch_execute("GRANT CREATE ON SCHEMA public TO PUBLIC")
        .unwrap();
    let mut mallory = postgres::Client::connect(
        &cluster.url("db").replace("user=postgres", "user=mallory"),
        postgres::NoTls,
    )
    .unwrap();
    mallory
        .batch_execute(
            "CREATE TABLE public.decoy_calls (what text, by_role text);
             GRANT INSERT ON public.decoy_calls TO PUBLIC;
             -- Each decoy notes who ran it, then does what the real one would.
             CREATE FUNCTION public.format(text, text, text) RETURNS text LANGUAGE sql AS
               $$ INSERT INTO public.decoy_calls VALUES ('format(text,text,text)', current_user); SELECT pg_catalog.format($1, $2, $3) $$;
             CREATE FUNCTION public.format(text, text) RETURNS text LANGUAGE sql AS
               $$ INSERT INTO public.decoy_calls VALUES ('format(text,text)', current_user); SELECT pg_catalog.format($1, $2) $$;
             CREATE FUNCTION public.length(text) RETURNS integer LANGUAGE sql AS
               $$ INSERT INTO public.decoy_calls VALUES ('length(text)', current_user); SELECT pg_catalog.length($1) $$;
             CREATE FUNCTION public.btrim(text) RETURNS text LANGUAGE sql AS
               $$ INSERT INTO public.decoy_calls VALUES ('btrim(text)', current_user); SELECT pg_catalog.btrim($1) $$;
             CREATE FUNCTION public.jsonb_typeof(jsonb) RETURNS text LANGUAGE sql AS
               $$ INSERT INTO public.decoy_calls VALUES ('jsonb_typeof(jsonb)', current_user); SELECT pg_catalog.jsonb_typeof($1) $$;
             CREATE FUNCTION public.isempty(tstzrange) RETURNS boolean LANGUAGE sql AS
               $$ INSERT INTO public.decoy_calls VALUES ('isempty(tstzrange)', current_user); SELECT pg_catalog.isempty($1) $$;
             CREATE FUNCTION public.gen_random_uuid() RETURNS uuid LANGUAGE sql AS
               $$ INSERT INTO public.decoy_calls VALUES ('gen_random_uuid()', current_user); SELECT pg_catalog.gen_random_uuid() $$;
             CREATE FUNCTION public.now() RETURNS timestamptz LANGUAGE sql AS
               $$ INSERT INTO public.decoy_calls VALUES ('now()', current_user); SELECT pg_catalog.now() $$;",
        )
        .unwrap();

    c.batch_execute("CREATE EXTENSION booking_ext CASCADE")
        .unwrap();
    assert_eq!(
        count(&mut c, "SELECT count(*) FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace WHERE extname = 'btree_gist' AND nspname = 'public'"),
        1,
        "btree_gist went into the writable schema"
    );
    let calls = |c: &mut postgres::Client| -> Vec<String> {
        c.query(
            "SELECT what || ' as ' || by_role FROM public.decoy_calls",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect()
    };
    assert_eq!(
        calls(&mut c),
        Vec::<String>::new(),
        "decoys called while installing"
    );

    // Afterwards: the API at work (fixtures, a booking and its approval, the slot engine).
    c.batch_execute("SELECT booking.create_api_roles()")
        .unwrap();
    c.batch_execute(TENANTS_SQL).unwrap();
    c.batch_execute(
        "BEGIN;
         SELECT set_config('role', 'authenticated', true),
                set_config('request.jwt.claims', '{\"sub\":\"u-client\",\"role\":\"authenticated\"}', true);
         SELECT booking.book('00000000-0000-4000-a000-000000000102', '2030-03-05 15:00Z', '2030-03-05 16:00Z', 1, NULL, 'Print');
         SELECT count(*) FROM booking.get_available_slots('00000000-0000-4000-a000-000000000101', '2030-03-04Z', '2030-03-11Z');
         COMMIT;
         BEGIN;
         SELECT set_config('role', 'authenticated', true),
                set_config('request.jwt.claims', '{\"sub\":\"u-staff\",\"role\":\"authenticated\"}', true);
         SELECT booking.set_booking_status(id, 'approved', 'ok') FROM booking.bookings WHERE title = 'Print';
         COMMIT;",
    )
    .unwrap();
    assert_eq!(
        calls(&mut c),
        Vec::<String>::new(),
        "decoys called by the extension at work"
    );
}
