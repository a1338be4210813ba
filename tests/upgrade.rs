//! Upgrades from every release: on one throwaway cluster, each release older than this crate's
//! version is installed from its frozen script (sql/booking_ext--<release>.sql), filled with the
//! fixtures of that release (tests/fixtures/released/tenants-<release>.sql) and brought to the
//! current version with `ALTER EXTENSION booking_ext UPDATE`. The upgraded database must then
//! equal a fresh install of the current version: the same catalog (a schema-only, binary-upgrade
//! `pg_dump` of both, normalised), the same config-dump registrations, extension members,
//! policies, privileges, initial privileges, triggers and comments; every row kept; and every SQL
//! suite of tests/sql (found at run time, in any folder) passing on it as `#[pg_test]` runs them.
//! First of all, the comparison proves that it sees what an upgrade script can miss.
//!
//! Needs booking_ext installed with its released scripts: scripts/install-extension.sh
//! (scripts/test.sh runs it before the integration tests). See docs/upgrades.md.

mod common;

use common::{Cluster, TENANTS_SQL};
use std::cmp::Ordering;
use std::path::{Path, PathBuf};
use std::process::Command;

const EXTENSION: &str = "booking_ext";
const CURRENT: &str = env!("CARGO_PKG_VERSION");
const ROOT: &str = env!("CARGO_MANIFEST_DIR");
/// How much of a difference a failure prints.
const REPORT_LIMIT: usize = 12_000;

// ---------------------------------------------------------------------------------------------
// Releases and SQL suites, found on disk at run time.
// ---------------------------------------------------------------------------------------------

/// Versions compared part by part, numerically where both parts are numbers ("0.10.0" > "0.9.1").
fn compare_versions(a: &str, b: &str) -> Ordering {
    let parts = |v: &str| -> Vec<String> { v.split('.').map(str::to_owned).collect() };
    let (pa, pb) = (parts(a), parts(b));
    for (x, y) in pa.iter().zip(&pb) {
        let o = match (x.parse::<u64>(), y.parse::<u64>()) {
            (Ok(m), Ok(n)) => m.cmp(&n),
            _ => x.cmp(y),
        };
        if o != Ordering::Equal {
            return o;
        }
    }
    pa.len().cmp(&pb.len())
}

/// The released versions older than the current one, oldest first: every frozen install script
/// sql/booking_ext--<version>.sql (one `--`; upgrade scripts have two).
fn older_releases() -> Vec<String> {
    let sql = Path::new(ROOT).join("sql");
    let prefix = format!("{EXTENSION}--");
    let mut versions: Vec<String> = std::fs::read_dir(&sql)
        .unwrap_or_else(|e| panic!("read {}: {e}", sql.display()))
        .filter_map(|entry| {
            let name = entry.unwrap().file_name().into_string().unwrap();
            let version = name.strip_prefix(&prefix)?.strip_suffix(".sql")?;
            (!version.contains("--")).then(|| version.to_owned())
        })
        .collect();
    versions.sort_by(|a, b| compare_versions(a, b));
    if let Some(newer) = versions
        .iter()
        .find(|v| compare_versions(v, CURRENT) == Ordering::Greater)
    {
        panic!(
            "sql/{EXTENSION}--{newer}.sql is a release newer than Cargo.toml's version {CURRENT}"
        );
    }
    versions.retain(|v| v != CURRENT);
    versions
}

/// Every .sql file under `dir`, at any depth.
fn sql_files_under(dir: &Path, found: &mut Vec<PathBuf>) {
    let entries = std::fs::read_dir(dir).unwrap_or_else(|e| panic!("read {}: {e}", dir.display()));
    for entry in entries {
        let path = entry.unwrap().path();
        if path.is_dir() {
            sql_files_under(&path, found);
        } else if path.extension().is_some_and(|e| e == "sql") {
            found.push(path);
        }
    }
}

/// tests/sql's helpers.sql and its suites (every other .sql file at any depth, sorted by path),
/// each suite named by its path under tests/sql.
fn sql_suites() -> (String, Vec<(String, String)>) {
    let dir = Path::new(ROOT).join("tests/sql");
    let mut files = Vec::new();
    sql_files_under(&dir, &mut files);
    files.sort();
    let (helpers, suites): (Vec<PathBuf>, Vec<PathBuf>) = files
        .into_iter()
        .partition(|p| p.file_name().is_some_and(|n| n == "helpers.sql"));
    assert_eq!(
        helpers.len(),
        1,
        "expected one helpers.sql under tests/sql, found {helpers:?}"
    );
    assert!(!suites.is_empty(), "no SQL suite under tests/sql");
    let read = |p: &Path| {
        std::fs::read_to_string(p).unwrap_or_else(|e| panic!("read {}: {e}", p.display()))
    };
    let suites = suites
        .iter()
        .map(|p| {
            let name = p.strip_prefix(&dir).unwrap().display().to_string();
            (name, read(p))
        })
        .collect();
    (read(&helpers[0]), suites)
}

// ---------------------------------------------------------------------------------------------
// Small helpers.
// ---------------------------------------------------------------------------------------------

/// A database error with everything Postgres said about it.
fn describe(e: &postgres::Error) -> String {
    match e.as_db_error() {
        Some(d) => {
            let mut s = format!("{}: {}", d.code().code(), d.message());
            for (label, part) in [
                ("DETAIL", d.detail()),
                ("HINT", d.hint()),
                ("WHERE", d.where_()),
            ] {
                if let Some(p) = part {
                    s.push_str(&format!("\n  {label}: {p}"));
                }
            }
            s
        }
        None => e.to_string(),
    }
}

fn strings(c: &mut postgres::Client, sql: &str) -> Vec<String> {
    let mut v: Vec<String> = c
        .query(sql, &[])
        .unwrap_or_else(|e| panic!("{}\nin:\n{sql}", describe(&e)))
        .iter()
        .map(|r| {
            r.get::<_, Option<String>>(0)
                .unwrap_or_else(|| "NULL".into())
        })
        .collect();
    v.sort();
    v
}

fn one(c: &mut postgres::Client, sql: &str) -> String {
    c.query_one(sql, &[])
        .unwrap_or_else(|e| panic!("{}\nin:\n{sql}", describe(&e)))
        .get(0)
}

fn extversion(c: &mut postgres::Client) -> String {
    one(
        c,
        "SELECT extversion FROM pg_extension WHERE extname = 'booking_ext'",
    )
}

fn create_database(cluster: &Cluster, db: &str, template: Option<&str>) -> postgres::Client {
    let template = template
        .map(|t| format!(" TEMPLATE {t}"))
        .unwrap_or_default();
    cluster
        .connect("postgres")
        .batch_execute(&format!("CREATE DATABASE {db}{template}"))
        .unwrap_or_else(|e| panic!("CREATE DATABASE {db}: {}", describe(&e)));
    cluster.connect(db)
}

fn cut(text: &str, limit: usize) -> String {
    if text.len() <= limit {
        return text.to_owned();
    }
    let mut end = limit;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!(
        "{}\n[... {} more bytes not shown]",
        &text[..end],
        text.len() - end
    )
}

// ---------------------------------------------------------------------------------------------
// Rows: what an upgrade must keep.
// ---------------------------------------------------------------------------------------------

/// The tables and sequences holding the user's data (those pg_dump keeps: the extension's
/// config tables), with their columns as they are now. The extension's own rows (the table
/// registry) come from its scripts and may grow with an upgrade; the catalog comparison covers
/// them.
fn data_relations(c: &mut postgres::Client) -> Vec<(String, char, String)> {
    c.query(
        "SELECT c.oid::regclass::text, c.relkind::text,
                coalesce((SELECT string_agg(quote_ident(a.attname), ', ' ORDER BY a.attnum)
                          FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped), '')
         FROM pg_extension e CROSS JOIN unnest(e.extconfig) AS x(oid) JOIN pg_class c ON c.oid = x.oid
         WHERE e.extname = 'booking_ext' AND c.relkind IN ('r', 'p', 'S')
         ORDER BY 1",
        &[],
    )
    .unwrap()
    .iter()
    .map(|r| {
        let kind: String = r.get(1);
        (r.get(0), kind.chars().next().unwrap(), r.get(2))
    })
    .collect()
}

/// (relation, rows or sequence state, digest) read as the superuser, with the columns given.
type Snapshot = Vec<(String, i64, String)>;

fn snapshot(c: &mut postgres::Client, relations: &[(String, char, String)]) -> Snapshot {
    relations
        .iter()
        .map(|(rel, kind, columns)| {
            let sql = if *kind == 'S' {
                format!("SELECT 1::bigint, format('%s %s', last_value, is_called) FROM {rel}")
            } else {
                // Ordered by the row's text: independent of where the rows sit on disk.
                format!(
                    "SELECT count(*), coalesce(md5(string_agg(r::text, '|' ORDER BY r::text)), '')
                     FROM (SELECT {columns} FROM {rel}) r"
                )
            };
            let row = c.query_one(&sql, &[]).unwrap_or_else(|e| {
                panic!(
                    "reading {rel} ({columns}) failed: {}\n(an upgrade must keep the tables and columns of the release it starts from)",
                    describe(&e)
                )
            });
            (rel.clone(), row.get(0), row.get(1))
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// The comparison: what `pg_dump` and the catalog say about each database.
// ---------------------------------------------------------------------------------------------

/// Replaces every `'{...}'` array literal of a line (the config-dump OIDs and conditions of
/// binary_upgrade_create_empty_extension) with a placeholder.
fn mask_array_literals(line: &str) -> String {
    let mut out = String::new();
    let mut rest = line;
    while let Some(start) = rest.find("'{") {
        let Some(len) = rest[start..].find("}'") else {
            break;
        };
        out.push_str(&rest[..start]);
        out.push_str("'{...}'");
        rest = &rest[start + len + 2..];
    }
    out.push_str(rest);
    out
}

/// A schema-only `pg_dump --binary-upgrade` (which, unlike a plain dump, writes every extension
/// member, its ACL and its initial privileges) without what differs between two databases
/// holding the same schema:
/// - OIDs, relfilenodes, attribute versions and the other `binary_upgrade_set_*` calls,
///   relfrozenxid and the other `UPDATE pg_catalog.*` statements, `\restrict` keys, the
///   header, sequence values (`setval`), the missing-value records of columns added with a
///   default (`binary_upgrade_set_missing_value`);
/// - dropped columns (an upgrade that drops a column leaves a placeholder behind);
/// - the config-dump OIDs and conditions of the extension (compared by table name instead);
/// - the order of columns within CREATE TABLE (an upgrade appends with ADD COLUMN where a
///   fresh install declares the column in its place; the set of columns must match), the order
///   of GRANTs within one ACL entry (privileges are compared as sets too), and the order of the
///   dump's entries (pg_dump breaks ties between same-named objects by OID).
fn normalise_dump(dump: &str) -> String {
    let mut lines: Vec<String> = Vec::new();
    let mut iter = dump.lines();
    while let Some(line) = iter.next() {
        if line.starts_with("UPDATE pg_catalog.") {
            // a statement for pg_upgrade, over several lines
            let mut l = line;
            while !l.trim_end().ends_with(';') {
                match iter.next() {
                    Some(next) => l = next,
                    None => break,
                }
            }
            continue;
        }
        let dropped = line.starts_with("\\restrict")
            || line.starts_with("\\unrestrict")
            || line.starts_with("-- Dumped from")
            || line.starts_with("-- Dumped by")
            || line.starts_with("-- For binary upgrade")
            || line.starts_with("SELECT pg_catalog.setval(")
            || line.contains("........pg.dropped.")
            || (line.starts_with("SELECT pg_catalog.binary_upgrade_")
                && !line.starts_with("SELECT pg_catalog.binary_upgrade_set_record_init_privs")
                && !line.starts_with("SELECT pg_catalog.binary_upgrade_create_empty_extension"));
        if dropped {
            continue;
        }
        if line.starts_with("SELECT pg_catalog.binary_upgrade_create_empty_extension") {
            lines.push(mask_array_literals(line));
            continue;
        }
        if line.starts_with("CREATE ") && line.contains(" TABLE ") && line.ends_with(" (") {
            lines.push(line.to_owned());
            let mut body: Vec<String> = Vec::new();
            for l in iter.by_ref() {
                if l.starts_with(')') {
                    body.sort();
                    for (i, b) in body.iter().enumerate() {
                        let comma = if i + 1 < body.len() { "," } else { "" };
                        lines.push(format!("{b}{comma}"));
                    }
                    lines.push(l.to_owned());
                    break;
                }
                body.push(l.trim_end_matches(',').to_owned());
            }
            continue;
        }
        if line.trim().is_empty() && lines.last().is_some_and(|l| l.trim().is_empty()) {
            continue;
        }
        lines.push(line.to_owned());
    }

    // Entries: each starts at pg_dump's "--\n-- Name: ..." header.
    let mut entries: Vec<Vec<String>> = vec![Vec::new()];
    for (i, line) in lines.iter().enumerate() {
        let header_next = lines.get(i + 1).is_some_and(|n| n.starts_with("-- Name: "));
        if line == "--" && header_next {
            entries.push(Vec::new());
        }
        entries.last_mut().unwrap().push(line.clone());
    }
    for entry in &mut entries {
        if entry
            .iter()
            .any(|l| l.starts_with("-- Name: ") && l.contains("; Type: ACL;"))
        {
            // sort each run of GRANT lines
            let mut i = 0;
            while i < entry.len() {
                let mut j = i;
                while j < entry.len() && entry[j].starts_with("GRANT ") {
                    j += 1;
                }
                entry[i..j].sort();
                i = j.max(i + 1);
            }
        }
    }
    let (head, rest) = entries.split_at_mut(1);
    rest.sort();
    head.iter()
        .chain(rest.iter())
        .map(|e| e.join("\n"))
        .collect::<Vec<_>>()
        .join("\n")
}

fn schema_dump(cluster: &Cluster, db: &str) -> String {
    let out = cluster.client_tool(
        "pg_dump",
        &["--schema-only", "--binary-upgrade", "--no-sync", "-d", db],
    );
    assert!(
        out.status.success(),
        "pg_dump {db}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    normalise_dump(&String::from_utf8(out.stdout).unwrap())
}

/// A unified diff of two texts (`diff -u`), cut to REPORT_LIMIT.
fn unified_diff(dir: &Path, a_name: &str, a: &str, b_name: &str, b: &str) -> String {
    let (pa, pb) = (dir.join(a_name), dir.join(b_name));
    std::fs::write(&pa, a).unwrap();
    std::fs::write(&pb, b).unwrap();
    let out = Command::new("diff")
        .args(["-u", "--label", a_name, "--label", b_name])
        .arg(&pa)
        .arg(&pb)
        .output();
    let _ = std::fs::remove_file(&pa);
    let _ = std::fs::remove_file(&pb);
    match out {
        Ok(o) => cut(&String::from_utf8_lossy(&o.stdout), REPORT_LIMIT),
        // no diff(1): the lines found on one side only
        Err(_) => {
            let (la, lb): (Vec<&str>, Vec<&str>) = (a.lines().collect(), b.lines().collect());
            let mut s = String::new();
            for l in la.iter().filter(|l| !lb.contains(l)) {
                s.push_str(&format!("-{l}\n"));
            }
            for l in lb.iter().filter(|l| !la.contains(l)) {
                s.push_str(&format!("+{l}\n"));
            }
            cut(&s, REPORT_LIMIT)
        }
    }
}

/// Catalog facts compared one by one (pg_dump covers most of them too, but these name the
/// difference plainly): each a query returning one text per fact, compared as sorted lists.
const FACTS: [(&str, &str); 11] = [
    (
        "the extension",
        "SELECT format('%s %s relocatable=%s schema=%s owner=%s', extname, extversion, extrelocatable,
                       extnamespace::regnamespace, extowner::regrole)
         FROM pg_extension WHERE extname = 'booking_ext'",
    ),
    (
        "config-dump registrations (pg_extension_config_dump)",
        "SELECT format('%s WHERE %L', u.cfg::regclass, u.cond)
         FROM pg_extension e, unnest(e.extconfig, e.extcondition) AS u(cfg, cond)
         WHERE e.extname = 'booking_ext'",
    ),
    (
        "extension members",
        "SELECT pg_describe_object(classid, objid, objsubid) FROM pg_depend
         WHERE refclassid = 'pg_extension'::regclass AND deptype = 'e'
           AND refobjid = (SELECT oid FROM pg_extension WHERE extname = 'booking_ext')",
    ),
    (
        "policies",
        "SELECT format('%I.%I %s %s %s to %s using (%s) check (%s)', schemaname, tablename, policyname,
                       permissive, cmd, roles, qual, with_check)
         FROM pg_policies",
    ),
    (
        "privileges",
        "WITH s AS (SELECT oid FROM pg_namespace
                    WHERE nspname NOT IN ('pg_catalog', 'information_schema') AND nspname NOT LIKE 'pg\\_%'),
         o AS (
           SELECT 'schema' AS kind, n.nspname::text AS obj, coalesce(n.nspacl, acldefault('n', n.nspowner)) AS acl
           FROM pg_namespace n WHERE n.oid IN (SELECT oid FROM s)
           UNION ALL
           SELECT CASE c.relkind WHEN 'S' THEN 'sequence' ELSE 'relation' END, c.oid::regclass::text,
                  coalesce(c.relacl, acldefault((CASE c.relkind WHEN 'S' THEN 's' ELSE 'r' END)::pg_catalog.char, c.relowner))
           FROM pg_class c WHERE c.relnamespace IN (SELECT oid FROM s) AND c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f')
           UNION ALL
           SELECT 'column', format('%s.%I', a.attrelid::regclass, a.attname), a.attacl
           FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
           WHERE c.relnamespace IN (SELECT oid FROM s) AND a.attacl IS NOT NULL AND NOT a.attisdropped
           UNION ALL
           SELECT 'function', p.oid::regprocedure::text, coalesce(p.proacl, acldefault('f', p.proowner))
           FROM pg_proc p WHERE p.pronamespace IN (SELECT oid FROM s)
           UNION ALL
           SELECT 'type', t.oid::regtype::text, coalesce(t.typacl, acldefault('T', t.typowner))
           FROM pg_type t WHERE t.typnamespace IN (SELECT oid FROM s))
         SELECT format('%s %s: %s to %s by %s%s', o.kind, o.obj, a.privilege_type,
                       CASE a.grantee WHEN 0 THEN 'PUBLIC' ELSE pg_get_userbyid(a.grantee)::text END,
                       pg_get_userbyid(a.grantor), CASE WHEN a.is_grantable THEN ' with grant option' ELSE '' END)
         FROM o, aclexplode(o.acl) a",
    ),
    (
        "initial privileges (pg_init_privs, what pg_dump takes as the extension's own)",
        "SELECT format('%s %s: %s to %s%s', i.privtype, pg_describe_object(i.classoid, i.objoid, i.objsubid),
                       a.privilege_type, CASE a.grantee WHEN 0 THEN 'PUBLIC' ELSE pg_get_userbyid(a.grantee)::text END,
                       CASE WHEN a.is_grantable THEN ' with grant option' ELSE '' END)
         FROM pg_init_privs i, aclexplode(i.initprivs) a WHERE i.objoid >= 16384",
    ),
    (
        "triggers",
        "SELECT format('%s [enabled %s]', pg_get_triggerdef(oid), tgenabled) FROM pg_trigger WHERE NOT tgisinternal
         UNION ALL
         SELECT format('event trigger %s on %s %s [enabled %s] tags %s', evtname, evtevent, evtfoid::regproc, evtenabled, evttags)
         FROM pg_event_trigger",
    ),
    (
        "comments",
        "SELECT format('%s: %s', pg_describe_object(classoid, objoid, objsubid), description)
         FROM pg_description WHERE objoid >= 16384",
    ),
    (
        "relations",
        "SELECT format('%s kind=%s rls=%s forced=%s persistence=%s options=%s replica_identity=%s owner=%s',
                       c.oid::regclass, c.relkind, c.relrowsecurity, c.relforcerowsecurity, c.relpersistence,
                       c.reloptions, c.relreplident, c.relowner::regrole)
         FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_%'",
    ),
    (
        "columns (their order aside)",
        "SELECT format('%s.%I %s not_null=%s default=%s identity=%s generated=%s collation=%s storage=%s stattarget=%s options=%s',
                       c.oid::regclass, a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull,
                       pg_get_expr(ad.adbin, ad.adrelid), a.attidentity, a.attgenerated, a.attcollation::regcollation,
                       a.attstorage, a.attstattarget,
                       -- pg_attver: a per-server attribute version some builds keep, not schema
                       array(SELECT o FROM unnest(a.attoptions) o WHERE o NOT LIKE 'pg\\_attver=%' ORDER BY o))
         FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
         LEFT JOIN pg_attrdef ad ON ad.adrelid = a.attrelid AND ad.adnum = a.attnum
         WHERE a.attnum > 0 AND NOT a.attisdropped AND c.relkind IN ('r', 'p', 'v', 'm', 'f')
           AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_%'",
    ),
    (
        "functions",
        "SELECT format('%s returns %s lang=%s kind=%s security_definer=%s leakproof=%s strict=%s volatility=%s parallel=%s cost=%s rows=%s config=%s md5(body)=%s',
                       p.oid::regprocedure, pg_get_function_result(p.oid), l.lanname, p.prokind, p.prosecdef,
                       p.proleakproof, p.proisstrict, p.provolatile, p.proparallel, p.procost, p.prorows, p.proconfig,
                       md5(coalesce(p.prosrc, '') || coalesce(p.probin, '')))
         FROM pg_proc p JOIN pg_language l ON l.oid = p.prolang JOIN pg_namespace n ON n.oid = p.pronamespace
         WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_%'",
    ),
];

/// Every difference between database `upgraded` and database `fresh`, one report per kind of
/// fact that differs (empty when they are the same).
fn differences(cluster: &Cluster, upgraded: &str, fresh: &str) -> Vec<String> {
    let mut reports = Vec::new();
    let (mut cu, mut cf) = (cluster.connect(upgraded), cluster.connect(fresh));
    for (what, sql) in FACTS {
        let (u, f) = (strings(&mut cu, sql), strings(&mut cf, sql));
        if u != f {
            let only_u: Vec<&String> = u.iter().filter(|x| !f.contains(x)).collect();
            let only_f: Vec<&String> = f.iter().filter(|x| !u.contains(x)).collect();
            let mut r = format!("== {what} differ\n");
            for x in &only_u {
                r.push_str(&format!("  only in {upgraded}: {x}\n"));
            }
            for x in &only_f {
                r.push_str(&format!("  only in {fresh}: {x}\n"));
            }
            if only_u.is_empty() && only_f.is_empty() {
                r.push_str("  (the same facts, a different number of times)\n");
            }
            reports.push(cut(&r, REPORT_LIMIT));
        }
    }
    drop((cu, cf));
    let (du, df) = (schema_dump(cluster, upgraded), schema_dump(cluster, fresh));
    if du != df {
        reports.push(format!(
            "== pg_dump --schema-only --binary-upgrade, normalised, differs\n{}",
            unified_diff(&cluster.dir, upgraded, &du, fresh, &df)
        ));
    }
    reports
}

// ---------------------------------------------------------------------------------------------
// The SQL suites on an upgraded database.
// ---------------------------------------------------------------------------------------------

/// Runs every suite as the `#[pg_test]` harness does (helpers, fixtures, suite; one transaction,
/// rolled back; superuser; time zone UTC), on an empty copy of the data: the transaction first
/// empties the tables holding the user's data, which the rollback puts back. Returns the failures.
fn run_suites_on(cluster: &Cluster, db: &str) -> (usize, Vec<String>) {
    let (helpers, suites) = sql_suites();
    let tables = {
        let mut c = cluster.connect(db);
        one(
            &mut c,
            // The user's data: the tables whose rows pg_dump keeps. The extension's own rows (the
            // table registry) came with the install and stay.
            "SELECT string_agg(c.oid::regclass::text, ', ' ORDER BY c.oid::regclass::text)
             FROM pg_extension e CROSS JOIN unnest(e.extconfig) AS x(oid) JOIN pg_class c ON c.oid = x.oid
             WHERE e.extname = 'booking_ext' AND c.relkind IN ('r', 'p')",
        )
    };
    // The triggers that refuse TRUNCATE (audit_log's) are ordinary triggers: they do not fire in
    // replica mode. Back to origin before the suite, which then runs as on a fresh install.
    let empty = format!(
        "SET LOCAL session_replication_role = replica;
         TRUNCATE {tables} RESTART IDENTITY;
         SET LOCAL session_replication_role = origin;"
    );
    let mut failures = Vec::new();
    for (name, suite) in &suites {
        let mut c = cluster.connect(db);
        c.batch_execute("BEGIN").unwrap();
        for (part, script) in [
            ("emptying the tables", empty.as_str()),
            ("tests/sql helpers.sql", helpers.as_str()),
            ("tests/fixtures/tenants.sql", TENANTS_SQL),
            ("the suite", suite.as_str()),
        ] {
            if let Err(e) = c.batch_execute(script) {
                failures.push(format!("{name}: failed in {part}: {}", describe(&e)));
                break;
            }
        }
        let _ = c.batch_execute("ROLLBACK");
    }
    (suites.len(), failures)
}

// ---------------------------------------------------------------------------------------------
// The test.
// ---------------------------------------------------------------------------------------------

/// The API roles as booking.create_api_roles() makes them (it exists only once installed):
/// roles are cluster-wide, so every database below sees them at install time and gets the
/// extension's grants.
fn create_api_roles(cluster: &Cluster) {
    cluster
        .connect("postgres")
        .batch_execute(
            "CREATE ROLE anon NOLOGIN NOINHERIT;
             CREATE ROLE authenticated NOLOGIN NOINHERIT;
             CREATE ROLE service_role NOLOGIN NOINHERIT BYPASSRLS;",
        )
        .unwrap();
}

/// The frozen script of `release` must be the one Postgres has: a stale install would test
/// another script than the release's.
fn check_installed_script(c: &mut postgres::Client, release: &str) {
    let sharedir = one(c, "SELECT setting FROM pg_config WHERE name = 'SHAREDIR'");
    let installed = Path::new(&sharedir).join(format!("extension/{EXTENSION}--{release}.sql"));
    let frozen = Path::new(ROOT).join(format!("sql/{EXTENSION}--{release}.sql"));
    let hint = "install booking_ext with scripts/install-extension.sh PG_CONFIG, which copies the released install scripts (docs/upgrades.md)";
    let installed_text = std::fs::read(&installed)
        .unwrap_or_else(|e| panic!("{}: {e}: {hint}", installed.display()));
    assert!(
        installed_text == std::fs::read(&frozen).unwrap(),
        "{} is not sql/{EXTENSION}--{release}.sql: {hint}",
        installed.display()
    );
}

/// The comparison must see what an upgrade script can miss: each probe is a copy of the fresh
/// database with one thing taken away (or changed), compared with the fresh database.
fn the_comparison_catches_what_an_upgrade_can_miss(cluster: &Cluster, fresh: &str) {
    let policy = {
        let mut c = cluster.connect(fresh);
        one(
            &mut c,
            "SELECT format('%I ON %I.%I', policyname, schemaname, tablename) FROM pg_policies
             WHERE schemaname = 'booking' ORDER BY tablename, policyname LIMIT 1",
        )
    };
    let probes: [(&str, String, &[&str]); 6] = [
        (
            "a function",
            "ALTER EXTENSION booking_ext DROP FUNCTION booking.get_unread_counts(text);
             DROP FUNCTION booking.get_unread_counts(text)"
                .into(),
            &[
                "== extension members differ",
                "get_unread_counts",
                "== pg_dump",
            ],
        ),
        (
            "a policy",
            format!("DROP POLICY {policy}"),
            &["== policies differ", "== pg_dump"],
        ),
        (
            "a privilege",
            "REVOKE SELECT (description) ON booking.resources FROM anon".into(),
            &[
                "== privileges differ",
                "column booking.resources.description: SELECT to anon",
                "== pg_dump",
            ],
        ),
        (
            "a config-dump registration",
            "ALTER EXTENSION booking_ext DROP TABLE booking.audit_log;
             ALTER EXTENSION booking_ext ADD TABLE booking.audit_log"
                .into(),
            &["== config-dump registrations", "booking.audit_log WHERE ''"],
        ),
        (
            "a comment",
            "COMMENT ON COLUMN booking.bookings.seats IS 'changed by an upgrade'".into(),
            &["== comments differ", "== pg_dump"],
        ),
        (
            "a trigger's state",
            "ALTER TABLE booking.audit_log DISABLE TRIGGER audit_log_no_truncate".into(),
            &["== triggers differ", "== pg_dump"],
        ),
    ];
    for (i, (what, sql, expected)) in probes.iter().enumerate() {
        let probe = format!("probe_{i}");
        let mut c = create_database(cluster, &probe, Some(fresh));
        c.batch_execute(sql)
            .unwrap_or_else(|e| panic!("probe {what}: {sql}: {}", describe(&e)));
        drop(c);
        let report = differences(cluster, &probe, fresh).join("\n");
        for text in *expected {
            assert!(
                report.contains(text),
                "the comparison missed {what} ({sql}): its report does not say {text:?}:\n{}",
                cut(&report, REPORT_LIMIT)
            );
        }
        cluster
            .connect("postgres")
            .batch_execute(&format!("DROP DATABASE {probe}"))
            .unwrap();
    }
    println!("the comparison sees a missing function, policy, privilege, config-dump registration, comment and trigger state");
}

#[test]
fn every_release_upgrades_to_what_a_fresh_install_gives() {
    let releases = older_releases();
    assert!(
        !releases.is_empty(),
        "no release older than {CURRENT} in sql/ (sql/{EXTENSION}--<version>.sql): nothing to upgrade from. \
         A release is frozen by scripts/freeze-release.sh; see docs/upgrades.md"
    );
    let cluster = Cluster::start("upgrade");
    create_api_roles(&cluster);

    let fresh = "fresh";
    {
        let mut c = create_database(&cluster, fresh, None);
        c.batch_execute("CREATE EXTENSION booking_ext CASCADE")
            .unwrap_or_else(|e| panic!("CREATE EXTENSION: {}", describe(&e)));
        assert_eq!(
            extversion(&mut c),
            CURRENT,
            "the control file's default_version must be the crate's version"
        );
    }
    the_comparison_catches_what_an_upgrade_can_miss(&cluster, fresh);

    for release in &releases {
        let db = format!(
            "upgraded_from_{}",
            release.replace(|ch: char| !ch.is_ascii_alphanumeric(), "_")
        );
        let mut c = create_database(&cluster, &db, None);
        check_installed_script(&mut c, release);
        c.batch_execute(&format!(
            "CREATE EXTENSION booking_ext VERSION '{release}' CASCADE"
        ))
        .unwrap_or_else(|e| {
            panic!(
                "CREATE EXTENSION booking_ext VERSION '{release}': {}",
                describe(&e)
            )
        });
        assert_eq!(extversion(&mut c), *release);

        let fixtures_path =
            Path::new(ROOT).join(format!("tests/fixtures/released/tenants-{release}.sql"));
        let fixtures = std::fs::read_to_string(&fixtures_path).unwrap_or_else(|e| {
            panic!(
                "{}: {e} (frozen with the release by scripts/freeze-release.sh)",
                fixtures_path.display()
            )
        });
        c.batch_execute(&fixtures)
            .unwrap_or_else(|e| panic!("the fixtures of {release}: {}", describe(&e)));
        let relations = data_relations(&mut c);
        let before = snapshot(&mut c, &relations);
        let empty: Vec<&str> = before
            .iter()
            .filter(|(_, rows, _)| *rows == 0)
            .map(|(rel, _, _)| rel.as_str())
            .collect();
        assert!(
            before.iter().any(|(_, rows, _)| *rows > 0),
            "the fixtures of {release} left every table empty"
        );

        c.batch_execute("ALTER EXTENSION booking_ext UPDATE")
            .unwrap_or_else(|e| {
                panic!(
                    "ALTER EXTENSION booking_ext UPDATE from {release}: {}",
                    describe(&e)
                )
            });
        assert_eq!(
            extversion(&mut c),
            CURRENT,
            "ALTER EXTENSION booking_ext UPDATE from {release}"
        );
        assert_eq!(
            snapshot(&mut c, &relations),
            before,
            "rows differ after the upgrade from {release} (relation, rows, digest of the rows' text over the columns of {release})"
        );
        drop(c);

        let reports = differences(&cluster, &db, fresh);
        assert!(
            reports.is_empty(),
            "{EXTENSION} {release} upgraded to {CURRENT} differs from a fresh install of {CURRENT} \
             (an upgrade script misses or changes something; see docs/upgrades.md):\n{}",
            reports.join("\n")
        );

        let (suites, failures) = run_suites_on(&cluster, &db);
        assert!(
            failures.is_empty(),
            "SQL suites failing on {EXTENSION} upgraded from {release} to {CURRENT}:\n{}",
            cut(&failures.join("\n\n"), REPORT_LIMIT)
        );
        let mut c = cluster.connect(&db);
        assert_eq!(
            snapshot(&mut c, &relations),
            before,
            "the suites' transactions were rolled back, so the upgraded rows must still be there"
        );
        println!(
            "{release} -> {CURRENT}: {} relations, {} rows kept ({}), catalog identical to a fresh install, {suites} SQL suites pass",
            before.len(),
            relations
                .iter()
                .zip(&before)
                .filter(|((_, kind, _), _)| *kind != 'S')
                .map(|(_, (_, rows, _))| rows)
                .sum::<i64>(),
            if empty.is_empty() { "every table had rows".to_owned() } else { format!("empty: {}", empty.join(", ")) }
        );
    }
}
