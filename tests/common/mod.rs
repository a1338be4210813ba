//! A throwaway Postgres cluster for integration tests: initdb in a temporary directory, a free
//! loopback port, stopped and removed on drop. The server runs as the `postgres` OS user when the
//! tests run as root (Postgres refuses root).
//!
//! Which Postgres: `BOOKING_PG_CONFIG` names its `pg_config` (the README's test command sets it
//! for each major version after installing booking_ext there).

#![allow(dead_code)] // each test binary uses a different part of this module

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicU32, Ordering};

pub const TENANTS_SQL: &str = include_str!("../fixtures/tenants.sql");

pub struct Cluster {
    pub bindir: PathBuf,
    pub dir: PathBuf,
    pub port: u16,
}

fn pg_config() -> String {
    std::env::var("BOOKING_PG_CONFIG").unwrap_or_else(|_| {
        panic!("BOOKING_PG_CONFIG is not set: run the README's test command (make test), which installs booking_ext and sets it")
    })
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| o.stdout.starts_with(b"0\n"))
        .unwrap_or(false)
}

/// Run a server-side program, as `postgres` when we are root.
fn server_command(program: &Path) -> Command {
    if is_root() {
        let mut c = Command::new("sudo");
        c.args(["-u", "postgres", "--"]).arg(program);
        c
    } else {
        Command::new(program)
    }
}

fn check(what: &str, out: Output) -> Output {
    assert!(
        out.status.success(),
        "{what} failed ({}):\n{}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl Cluster {
    pub fn start(name: &str) -> Cluster {
        static SEQ: AtomicU32 = AtomicU32::new(0);
        let out = check(
            "pg_config --bindir",
            Command::new(pg_config()).arg("--bindir").output().unwrap(),
        );
        let bindir = PathBuf::from(String::from_utf8(out.stdout).unwrap().trim());
        let dir = std::env::temp_dir().join(format!(
            "booking_ext-it-{}-{}-{}",
            name,
            std::process::id(),
            SEQ.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir).unwrap();
        if is_root() {
            check(
                "chown",
                Command::new("chown")
                    .args(["postgres:"])
                    .arg(&dir)
                    .output()
                    .unwrap(),
            );
        }
        let data = dir.join("data");
        check(
            "initdb",
            server_command(&bindir.join("initdb"))
                .args([
                    "--auth=trust",
                    "--username=postgres",
                    "--encoding=UTF8",
                    "--no-locale",
                    "-D",
                ])
                .arg(&data)
                .env("TZ", "UTC")
                .output()
                .unwrap(),
        );
        let port = free_port();
        let cluster = Cluster { bindir, dir, port };
        let opts = format!(
            "-p {port} -k {} -c listen_addresses=127.0.0.1 -c timezone=UTC -c max_connections=120 -c fsync=off",
            cluster.dir.display()
        );
        check(
            "pg_ctl start",
            server_command(&cluster.bindir.join("pg_ctl"))
                .args(["-w", "-t", "60", "-D"])
                .arg(&data)
                .args(["-l"])
                .arg(cluster.dir.join("server.log"))
                .args(["-o", &opts, "start"])
                .output()
                .unwrap(),
        );
        cluster
    }

    pub fn url(&self, db: &str) -> String {
        format!(
            "host=127.0.0.1 port={} user=postgres dbname={db}",
            self.port
        )
    }

    pub fn connect(&self, db: &str) -> postgres::Client {
        postgres::Client::connect(&self.url(db), postgres::NoTls)
            .unwrap_or_else(|e| panic!("connect to {db}: {e}"))
    }

    /// A new database with booking_ext installed (and the API roles when `with_roles`).
    pub fn create_db(&self, db: &str, with_roles: bool) -> postgres::Client {
        self.connect("postgres")
            .batch_execute(&format!("CREATE DATABASE {db}"))
            .unwrap();
        let mut c = self.connect(db);
        c.batch_execute("CREATE EXTENSION booking_ext CASCADE")
            .unwrap();
        if with_roles {
            c.batch_execute("SELECT booking.create_api_roles()")
                .unwrap();
        }
        c
    }

    /// Run a client program of this Postgres (pg_dump, pg_restore, psql) against it.
    pub fn client_tool(&self, tool: &str, args: &[&str]) -> Output {
        Command::new(self.bindir.join(tool))
            .args([
                "-h",
                "127.0.0.1",
                "-p",
                &self.port.to_string(),
                "-U",
                "postgres",
            ])
            .args(args)
            .output()
            .unwrap()
    }

    pub fn major_version(&self) -> u32 {
        let mut c = self.connect("postgres");
        let v: String = c.query_one("SHOW server_version_num", &[]).unwrap().get(0);
        v.parse::<u32>().unwrap() / 10000
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = server_command(&self.bindir.join("pg_ctl"))
            .args(["-w", "-m", "immediate", "-D"])
            .arg(self.dir.join("data"))
            .arg("stop")
            .output();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Set the persona of a connection for one transaction, as PostgREST does.
pub fn as_persona(tx: &mut postgres::Transaction<'_>, role: &str, sub: Option<&str>) {
    let claims = match sub {
        Some(s) => format!(r#"{{"sub":"{s}","role":"{role}"}}"#),
        None => format!(r#"{{"role":"{role}"}}"#),
    };
    tx.execute(
        "SELECT set_config('role', $1, true), set_config('request.jwt.claims', $2, true)",
        &[&role, &claims],
    )
    .unwrap();
}

/// The SQLSTATE of a failed statement, if it failed in the database.
pub fn sqlstate(e: &postgres::Error) -> Option<String> {
    e.code().map(|c| c.code().to_owned())
}

/// A refused call: its SQLSTATE, DETAIL and message (what the concurrency tests compare).
#[derive(Debug)]
pub struct Refusal {
    pub sqlstate: String,
    pub detail: Option<String>,
    pub message: String,
}

impl Refusal {
    /// The refusal of a failed statement; panics when the error did not come from the database.
    pub fn of(e: postgres::Error) -> Refusal {
        let db = e
            .as_db_error()
            .unwrap_or_else(|| panic!("not an error of the database: {e:?}"));
        Refusal {
            sqlstate: sqlstate(&e).unwrap(),
            detail: db.detail().map(str::to_owned),
            message: db.message().to_owned(),
        }
    }

    /// Is this the refusal with this SQLSTATE and DETAIL?
    pub fn is(&self, sqlstate: &str, detail: &str) -> bool {
        self.sqlstate == sqlstate && self.detail.as_deref() == Some(detail)
    }
}

/// Connects as PostgREST's login role, which may only become the API roles.
pub fn connect_as_api(cluster_url: &str) -> postgres::Client {
    postgres::Client::connect(
        &cluster_url.replace("user=postgres", "user=authenticator"),
        postgres::NoTls,
    )
    .unwrap()
}

/// Prepares a database for `connect_as_api`: the login role PostgREST uses.
pub fn create_authenticator(admin: &mut postgres::Client) {
    admin
        .batch_execute(
            "DO $$ BEGIN
               IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'authenticator') THEN
                 CREATE ROLE authenticator LOGIN NOINHERIT;
               END IF;
             END $$;
             GRANT anon, authenticated, service_role TO authenticator;",
        )
        .unwrap();
}

/// How many times `transaction_as` tried a transaction again.
#[derive(Debug, Clone, Copy, Default)]
pub struct Retries {
    pub serialization: usize,
    pub deadlock: usize,
}

impl std::ops::Add for Retries {
    type Output = Retries;
    fn add(self, o: Retries) -> Retries {
        Retries {
            serialization: self.serialization + o.serialization,
            deadlock: self.deadlock + o.deadlock,
        }
    }
}

/// One transaction as `who` (role `authenticated`, as PostgREST runs it), tried again as an app
/// must: on a serialization failure (40001, REPEATABLE READ only) and on a deadlock (40P01,
/// counted so that the caller can assert there were none). Returns what `body` and the commit
/// came to (any other error is the caller's to judge) and the retries.
pub fn transaction_as<T>(
    conn: &mut postgres::Client,
    who: &str,
    repeatable_read: bool,
    mut body: impl FnMut(&mut postgres::Transaction<'_>) -> Result<T, postgres::Error>,
) -> (Result<T, postgres::Error>, Retries) {
    let mut retries = Retries::default();
    loop {
        let mut tx = conn
            .build_transaction()
            .isolation_level(if repeatable_read {
                postgres::IsolationLevel::RepeatableRead
            } else {
                postgres::IsolationLevel::ReadCommitted
            })
            .start()
            .unwrap();
        as_persona(&mut tx, "authenticated", Some(who));
        let res = body(&mut tx).and_then(|v| tx.commit().map(|_| v));
        match res {
            Err(e)
                if repeatable_read
                    && sqlstate(&e).as_deref() == Some("40001")
                    && retries.serialization < 200 =>
            {
                retries.serialization += 1
            }
            Err(e) if sqlstate(&e).as_deref() == Some("40P01") && retries.deadlock < 20 => {
                retries.deadlock += 1
            }
            res => return (res, retries),
        }
    }
}

/// Runs one thread per job, each with its own `connect_as_api` connection, all released at once.
pub fn at_once<J: Send + 'static, T: Send + 'static>(
    url: &str,
    jobs: Vec<J>,
    work: fn(&mut postgres::Client, usize, J) -> T,
) -> Vec<T> {
    at_once_warm(url, jobs, |_, _, _| {}, work)
}

/// `at_once`, each connection first running `warm_up` (before the barrier): a warm backend
/// (functions compiled, caches loaded) starts its work in microseconds, where a cold one takes
/// milliseconds, which staggers the sessions so that they hardly race.
pub fn at_once_warm<J: Send + 'static, T: Send + 'static>(
    url: &str,
    jobs: Vec<J>,
    warm_up: fn(&mut postgres::Client, usize, &J),
    work: fn(&mut postgres::Client, usize, J) -> T,
) -> Vec<T> {
    let barrier = std::sync::Arc::new(std::sync::Barrier::new(jobs.len()));
    let handles: Vec<_> = jobs
        .into_iter()
        .enumerate()
        .map(|(i, job)| {
            let (url, barrier) = (url.to_owned(), barrier.clone());
            std::thread::spawn(move || {
                let mut conn = connect_as_api(&url);
                warm_up(&mut conn, i, &job);
                barrier.wait();
                work(&mut conn, i, job)
            })
        })
        .collect();
    handles
        .into_iter()
        .map(|h| h.join().expect("a client thread panicked"))
        .collect()
}
