//! Static analysis of every PL/pgSQL function of the extension with `plpgsql_check` (Debian's
//! `postgresql-15-plpgsql-check`, which the bootstrap installs): no error and no warning (the
//! extra and security warnings included), other than those listed in `ACCEPTED` with the reason
//! each is right (none today). Trigger functions are checked
//! against each table they are attached to. Debian packages the checker for Postgres 15 only, so
//! on 17 and 18 this test says so and checks nothing.

#[path = "../common/mod.rs"]
mod common;

use common::Cluster;

/// Findings that are right as they are: (function, message fragment, why).
const ACCEPTED: &[(&str, &str, &str)] = &[];

#[test]
fn plpgsql_check_finds_nothing_in_the_extensions_functions() {
    let cluster = Cluster::start("plpgsql-check");
    if cluster.major_version() != 15 {
        eprintln!(
            "plpgsql_check: Debian packages it for Postgres 15 only; nothing checked on {}",
            cluster.major_version()
        );
        return;
    }
    let mut c = cluster.create_db("lint", true);
    c.batch_execute("CREATE EXTENSION plpgsql_check").unwrap();
    // Each PL/pgSQL function of the two schemas once, and each trigger function once per table
    // it fires on (plpgsql_check needs the table to know NEW and OLD, and a statement trigger's
    // transition tables by name).
    let rows = c
        .query(
            "WITH fns AS (
               SELECT p.oid, p.oid::regprocedure::text AS name, p.prorettype = 'trigger'::regtype AS is_trigger
               FROM pg_proc p JOIN pg_language l ON l.oid = p.prolang
               WHERE l.lanname = 'plpgsql'
                 AND p.pronamespace IN ('booking'::regnamespace, 'booking_internal'::regnamespace)
             ), targets AS (
               SELECT f.oid, f.name, 0::oid AS relid, NULL::name AS oldtable, NULL::name AS newtable FROM fns f WHERE NOT f.is_trigger
               UNION
               SELECT f.oid, f.name, t.tgrelid, t.tgoldtable, t.tgnewtable FROM fns f JOIN pg_trigger t ON t.tgfoid = f.oid WHERE f.is_trigger
             )
             SELECT t.name || coalesce(' on ' || nullif(t.relid, 0)::regclass::text, ''),
                    r.level, r.message, coalesce(r.lineno::text, ''),
                    concat_ws(': ', r.statement, r.query, r.detail)
             FROM targets t,
                  LATERAL plpgsql_check_function_tb(t.oid, t.relid, fatal_errors => false, other_warnings => true,
                                                    performance_warnings => false, extra_warnings => true,
                                                    security_warnings => true, oldtable => t.oldtable,
                                                    newtable => t.newtable) r
             ORDER BY 1, 4",
            &[],
        )
        .unwrap();
    let checked: i64 = c
        .query_one(
            "SELECT count(*) FROM pg_proc p JOIN pg_language l ON l.oid = p.prolang
             WHERE l.lanname = 'plpgsql' AND p.pronamespace IN ('booking'::regnamespace, 'booking_internal'::regnamespace)",
            &[],
        )
        .unwrap()
        .get(0);
    assert!(
        checked >= 20,
        "only {checked} PL/pgSQL functions found: the query misses some"
    );
    let findings: Vec<String> = rows
        .iter()
        .map(|r| {
            format!(
                "{} line {}: {} {} [{}]",
                r.get::<_, String>(0),
                r.get::<_, String>(3),
                r.get::<_, String>(1),
                r.get::<_, String>(2),
                r.get::<_, String>(4)
            )
        })
        .filter(|f| {
            !ACCEPTED
                .iter()
                .any(|(function, fragment, _)| f.starts_with(function) && f.contains(fragment))
        })
        .collect();
    eprintln!(
        "plpgsql_check: {checked} PL/pgSQL functions checked, {} finding(s) not accepted",
        findings.len()
    );
    assert!(
        findings.is_empty(),
        "plpgsql_check findings:\n{}",
        findings.join("\n")
    );
}
