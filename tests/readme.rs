//! The documentation's SQL tours run as written, and the README's does what the README says.
//!
//! Which files: `README.md`, then every `docs/*.md` in sorted (byte) order, read at run time from
//! the crate's directory, so a page added to `docs/` is picked up without touching this test.
//!
//! Which blocks: a tour is a section whose heading ends in ", in SQL" (the README's
//! "## A first booking, in SQL"); the section runs to the next heading of the same or a higher
//! level. Every ```` ```sql ```` block inside a tour runs; other SQL blocks are reference examples
//! with placeholder ids and do not. Lines inside fenced blocks are never taken for headings.
//!
//! How: the tour blocks of one file run in file order, concatenated into one `psql` script (so a
//! block may use the rows and `\gset` variables of an earlier one), with ON_ERROR_STOP, in a
//! fresh database per file with booking_ext and the API roles. Files do not share state.

mod common;

use common::{sqlstate, Cluster};
use std::path::{Path, PathBuf};

const TOUR_HEADING_SUFFIX: &str = ", in SQL";

/// README.md first, then docs/*.md sorted by name.
fn documentation_files() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut docs: Vec<PathBuf> = std::fs::read_dir(root.join("docs"))
        .expect("a docs/ directory")
        .map(|entry| entry.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "md"))
        .collect();
    docs.sort();
    let mut files = vec![root.join("README.md")];
    files.extend(docs);
    files
}

/// The SQL blocks of a markdown text's tour sections, in order.
fn tour_blocks(markdown: &str) -> Vec<String> {
    let mut blocks = Vec::new();
    let mut tour_level: Option<usize> = None; // Some(level) while inside a tour section
    let mut fence: Option<String> = None; // the opening fence while inside a fenced block
    let mut current: Option<String> = None; // the tour SQL block being collected
    for line in markdown.lines() {
        let trimmed = line.trim_start();
        if let Some(open) = &fence {
            if trimmed.starts_with(open.as_str())
                && trimmed.trim_start_matches('`').trim().is_empty()
            {
                fence = None;
                if let Some(block) = current.take() {
                    blocks.push(block);
                }
            } else if let Some(block) = current.as_mut() {
                block.push_str(line);
                block.push('\n');
            }
            continue;
        }
        if trimmed.starts_with("```") {
            let ticks = trimmed.len() - trimmed.trim_start_matches('`').len();
            let info = trimmed[ticks..].trim();
            fence = Some("`".repeat(ticks));
            if tour_level.is_some() && info.split_whitespace().next() == Some("sql") {
                current = Some(String::new());
            }
            continue;
        }
        let level = line.len() - line.trim_start_matches('#').len();
        if level > 0 && line[level..].starts_with(' ') {
            let title = line[level..].trim();
            if tour_level.is_some_and(|l| level <= l) {
                tour_level = None;
            }
            if title.ends_with(TOUR_HEADING_SUFFIX) {
                tour_level = Some(level);
            }
        }
    }
    assert!(fence.is_none(), "a fenced block is never closed");
    blocks
}

/// Run one file's tour in a fresh database of `cluster`; returns a client connected to it.
fn run_tour(cluster: &Cluster, n: usize, file: &Path, blocks: &[String]) -> postgres::Client {
    let db = format!("tour{n}");
    let client = cluster.create_db(&db, true);
    let script = cluster.dir.join(format!("{db}.sql"));
    std::fs::write(&script, blocks.join("\n")).unwrap();
    let out = cluster.client_tool(
        "psql",
        &[
            "-X",
            "-q",
            "-v",
            "ON_ERROR_STOP=1",
            "-d",
            &db,
            "-f",
            script.to_str().unwrap(),
        ],
    );
    assert!(
        out.status.success(),
        "the tour of {} failed:\n{}",
        file.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    client
}

/// The selection itself, without a server: the README has its tour, as one block.
#[test]
fn documentation_tours_are_found() {
    let files = documentation_files();
    assert!(files.len() > 1, "no docs/*.md found: {files:?}");
    let readme = std::fs::read_to_string(&files[0]).unwrap();
    let blocks = tour_blocks(&readme);
    assert_eq!(blocks.len(), 1, "the README's SQL tour is one block");
    assert!(blocks[0].starts_with("-- back office"), "{}", blocks[0]);
    for file in &files[1..] {
        // every page parses (its fences close), whether or not it has a tour
        tour_blocks(&std::fs::read_to_string(file).unwrap());
    }
}

#[test]
fn documentation_sql_tours_run_as_written() {
    let cluster = Cluster::start("readme");
    let files = documentation_files();
    let mut readme_db = None;
    for (n, file) in files.iter().enumerate() {
        let blocks = tour_blocks(&std::fs::read_to_string(file).unwrap());
        if blocks.is_empty() {
            continue;
        }
        let client = run_tour(&cluster, n, file, &blocks);
        if n == 0 {
            readme_db = Some(client);
        }
    }
    let mut c = readme_db.expect("the README has its SQL tour");

    // The README: "staff approve it, saying why; the transition and the audit row are written by
    // the database".
    let row = c
        .query_one(
            "SELECT b.status, b.booked_by, b.approved_by, t.changed_by, t.reason
             FROM booking.bookings b JOIN booking.booking_transitions t ON t.booking_id = b.id",
            &[],
        )
        .unwrap();
    let got: (String, String, Option<String>, String, Option<String>) =
        (row.get(0), row.get(1), row.get(2), row.get(3), row.get(4));
    assert_eq!(
        got,
        (
            "approved".into(),
            "u-ana".into(),
            Some("u-staff".into()),
            "u-staff".into(),
            Some("material in stock".into())
        )
    );
    // "An overlapping request for the printer then fails with SQLSTATE 23P01 (bookings_no_overlap)"
    let err = c
        .batch_execute(
            "INSERT INTO booking.bookings (organization_id, resource_id, booked_by, starts_at, ends_at)
             SELECT organization_id, id, 'u-other', '2030-03-05 11:00 America/New_York', '2030-03-05 13:00 America/New_York'
             FROM booking.resources WHERE title = '3D Printer'",
        )
        .unwrap_err();
    assert_eq!(sqlstate(&err).as_deref(), Some("23P01"));
    assert!(
        err.to_string().contains("bookings_no_overlap")
            || format!("{err:?}").contains("bookings_no_overlap")
    );
}

/// The admission lifecycle of docs/people.md (its table `| from | to | guardian may |`) is
/// booking.admission_transitions(), row by row and in order.
#[test]
fn people_doc_admission_table_is_the_function() {
    let doc = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/people.md"))
        .unwrap();
    let mut lines = doc
        .lines()
        .skip_while(|l| l.trim() != "| from | to | guardian may |");
    assert!(
        lines.next().is_some(),
        "docs/people.md has the admission table"
    );
    let documented: Vec<(String, String, bool)> = lines
        .skip(1) // the |---| line
        .take_while(|l| l.starts_with('|'))
        .map(|l| {
            let cells: Vec<&str> = l.trim_matches('|').split('|').map(str::trim).collect();
            assert_eq!(cells.len(), 3, "a row of three cells: {l}");
            assert!(
                matches!(cells[2], "yes" | "no"),
                "guardian may is yes or no: {l}"
            );
            (cells[0].to_owned(), cells[1].to_owned(), cells[2] == "yes")
        })
        .collect();
    let cluster = Cluster::start("admission_doc");
    let mut c = cluster.create_db("admission_doc", false);
    let actual: Vec<(String, String, bool)> = c
        .query(
            "SELECT from_state, to_state, guardian_may FROM booking.admission_transitions()",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect();
    assert_eq!(
        documented, actual,
        "docs/people.md's admission table differs from booking.admission_transitions()"
    );
}
