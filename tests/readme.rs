//! The README's SQL tour runs as written, and does what the README says.

mod common;

use common::{sqlstate, Cluster};

fn tour_sql() -> String {
    let readme = include_str!("../README.md");
    let section = readme
        .split("## A first booking, in SQL")
        .nth(1)
        .expect("the README has its SQL tour");
    let block = section
        .split("```sql\n")
        .nth(1)
        .expect("a sql block")
        .split("\n```")
        .next()
        .unwrap();
    block.to_owned()
}

#[test]
fn readme_sql_tour_runs_as_written() {
    let cluster = Cluster::start("readme");
    let mut c = cluster.create_db("tour", true);
    let file = cluster.dir.join("tour.sql");
    std::fs::write(&file, tour_sql()).unwrap();
    let out = cluster.client_tool(
        "psql",
        &[
            "-X",
            "-q",
            "-v",
            "ON_ERROR_STOP=1",
            "-d",
            "tour",
            "-f",
            file.to_str().unwrap(),
        ],
    );
    assert!(
        out.status.success(),
        "the tour failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );

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
