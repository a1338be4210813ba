//! `#[pg_test]`s: run inside a real Postgres (15, 17 and 18) by `cargo pgrx test` / the README's
//! test command. The SQL suites live in `tests/sql/`; each runs on a fresh copy of the fixtures
//! in its own transaction, which the harness rolls back.

#[pgrx::pg_schema]
mod tests {
    use pgrx::prelude::*;

    const HELPERS: &str = include_str!("../tests/sql/helpers.sql");
    const FIXTURES: &str = include_str!("../tests/fixtures/tenants.sql");

    fn run_suite(suite: &str) {
        for script in [HELPERS, FIXTURES, suite] {
            Spi::run(script).expect("SQL suite failed");
        }
    }

    #[pg_test]
    fn constraints_refuse_bad_data_with_their_sqlstate() {
        run_suite(include_str!("../tests/sql/constraints.sql"));
    }

    #[pg_test]
    fn bookers_staff_and_outsiders_get_what_they_should() {
        run_suite(include_str!("../tests/sql/lifecycle.sql"));
    }

    #[pg_test]
    fn rls_matrix_every_table_persona_and_command() {
        run_suite(include_str!("../tests/sql/rls_matrix.sql"));
    }

    #[pg_test]
    fn scheduling_functions_answer_refuse_and_respect_visibility() {
        run_suite(include_str!("../tests/sql/engine.sql"));
    }

    #[pg_test]
    fn pools_of_resources_answer_refuse_and_respect_visibility() {
        run_suite(include_str!("../tests/sql/pools.sql"));
    }

    #[pg_test]
    fn set_booking_status_moves_refuses_and_notifies() {
        run_suite(include_str!("../tests/sql/status_rpc.sql"));
    }

    #[pg_test]
    fn notification_rpcs_and_log_action_answer_only_for_the_caller() {
        run_suite(include_str!("../tests/sql/notifications.sql"));
    }

    #[pg_test]
    fn outbox_claims_lease_acknowledge_and_back_off() {
        run_suite(include_str!("../tests/sql/outbox.sql"));
    }

    #[pg_test]
    fn conflicts_are_detected_once_and_resolved_by_staff() {
        run_suite(include_str!("../tests/sql/conflicts.sql"));
    }

    #[pg_test]
    fn hardening_every_write_path_refuses_what_the_rules_refuse() {
        run_suite(include_str!("../tests/sql/hardening.sql"));
    }

    #[pg_test]
    fn function_surface_matches_the_reviewed_matrix() {
        run_suite(include_str!("../tests/sql/surface.sql"));
    }

    #[pg_test]
    fn reporting_aggregates_equal_plain_sql_in_groups_windows_and_parallel_plans() {
        run_suite(include_str!("../tests/sql/aggregates.sql"));
    }

    /// The aggregates read tstzrange arguments from their bytes: as Postgres reads them, for
    /// every kind of bound, stored (short header) and computed (4-byte header).
    #[pg_test]
    fn tstzrange_arguments_are_read_in_place_as_postgres_reads_them() -> Result<(), spi::Error> {
        use crate::aggregates::TstzRangeArg;
        Spi::run(
            "CREATE TEMP TABLE ranges (r tstzrange);
             INSERT INTO ranges VALUES ('[2030-01-01 10:00Z,2030-01-01 11:00Z)'), ('(2030-01-01 10:00Z,2030-01-01 11:00Z]'),
               ('[2030-01-01 10:00Z,2030-01-01 10:00Z]'), ('(2030-01-01 10:00Z,2030-01-01 10:00:00.000001Z)'), ('empty'),
               ('(,)'), ('[2030-01-01,)'), ('(,2030-01-01]'), ('[-infinity,infinity]'), ('(-infinity,2030-01-01)'),
               ('[4713-11-24 00:00Z BC,294276-12-31 23:59:59.999999Z]')",
        )?;
        Spi::connect(|client| {
            let rows = client.select("SELECT r, r * '(,)'::tstzrange FROM ranges", None, &[])?;
            let mut seen = 0;
            for row in rows {
                for column in [1, 2] {
                    let range = row.get::<TstzRangeArg>(column)?.expect("a range");
                    assert_eq!(
                        range.bounds_in_place(),
                        Some(range.bounds_via_postgres()),
                        "row {seen}, column {column}"
                    );
                }
                seen += 1;
            }
            assert_eq!(seen, 11);
            Ok(())
        })
    }

    /// The fixed-size states' SSPACE and MSSPACE in the catalog are the value the Rust side
    /// checks against the states' real size (the SQL can only write it as a literal).
    #[pg_test]
    fn declared_state_space_is_the_checked_one() {
        for aggregate in ["booking.utilization", "booking.rating_summary"] {
            let spaces = Spi::get_two::<i32, i32>(&format!(
                "SELECT aggtransspace, aggmtransspace FROM pg_aggregate WHERE aggfnoid = '{aggregate}'::regproc"
            ))
            .unwrap();
            let expected = Some(crate::aggregates::FIXED_STATE_SPACE as i32);
            assert_eq!(spaces, (expected, expected), "{aggregate}");
        }
    }

    /// The core's long loops answer Postgres's interrupts (the check _PG_init hands the core):
    /// with a cancel request pending, walking the days of a window stops inside the walk, with
    /// Postgres's error (caught here, so that a cancel noticed only after the walk fails).
    #[pg_test]
    fn a_cancel_request_stops_the_engines_loops() {
        use booking_core::availability::{open_time, Interval, Resource, MICROS_PER_DAY};
        // SAFETY: sets the two flags Postgres's SIGINT handler sets for a cancel request; this
        // backend reads them at its next interrupt check, which is the point of the test.
        unsafe {
            pg_sys::QueryCancelPending = 1;
            pg_sys::InterruptPending = 1;
        }
        let res = Resource {
            tz: booking_core::chrono_tz::UTC,
            rules: vec![],
            exceptions: vec![],
            capacity: 1,
            buffer_before: 0,
            buffer_after: 0,
            slot_interval: None,
        };
        let stopped_inside = PgTryBuilder::new(move || {
            open_time(&res, Interval::new(0, 10 * MICROS_PER_DAY));
            false
        })
        .catch_when(PgSqlErrorCode::ERRCODE_QUERY_CANCELED, |_| true)
        .execute();
        assert!(
            stopped_inside,
            "the walk ran to its end with a cancel request pending"
        );
    }

    #[pg_test]
    fn catalog_properties_hold() {
        run_suite(include_str!("../tests/sql/catalog.sql"));
    }

    #[pg_test]
    fn transition_allowed_follows_the_status_machine() {
        let q = |sql: &str| Spi::get_one::<bool>(sql).unwrap().unwrap();
        assert!(q(
            "SELECT booking.transition_allowed('pending', 'approved', true)"
        ));
        assert!(!q(
            "SELECT booking.transition_allowed('pending', 'approved', false)"
        ));
        assert!(q(
            "SELECT booking.transition_allowed('approved', 'cancelled', false)"
        ));
        assert!(!q(
            "SELECT booking.transition_allowed('completed', 'pending', true)"
        ));
        assert_eq!(
            Spi::get_one::<i64>("SELECT count(*) FROM booking.status_transitions()").unwrap(),
            Some(booking_core::status::TRANSITIONS.len() as i64)
        );
        assert_eq!(
            Spi::get_one::<bool>("SELECT booking.transition_allowed(NULL, 'approved', true)")
                .unwrap(),
            None,
            "strict: NULL in, NULL out"
        );
    }

    #[pg_test(
        error = "unknown booking status \"confirmed\"; known statuses: draft, pending, changes_requested, approved, rejected, cancelled, completed, no_show"
    )]
    fn transition_allowed_names_unknown_statuses() {
        Spi::run("SELECT booking.transition_allowed('pending', 'confirmed', true)").unwrap();
    }

    #[pg_test]
    fn identity_comes_from_the_jwt_claims() {
        Spi::run(r#"SELECT set_config('request.jwt.claims', '{"sub":"user_2abc","role":"authenticated"}', true)"#).unwrap();
        assert_eq!(
            Spi::get_one::<String>("SELECT booking.current_user_id()")
                .unwrap()
                .as_deref(),
            Some("user_2abc")
        );
        assert_eq!(
            Spi::get_one::<String>("SELECT booking.current_role()")
                .unwrap()
                .as_deref(),
            Some("authenticated")
        );
        // the legacy per-claim setting wins, as in Supabase's auth.uid()
        Spi::run("SELECT set_config('request.jwt.claim.sub', 'legacy-id', true)").unwrap();
        assert_eq!(
            Spi::get_one::<String>("SELECT booking.current_user_id()")
                .unwrap()
                .as_deref(),
            Some("legacy-id")
        );
        Spi::run("SELECT set_config('request.jwt.claim.sub', '', true), set_config('request.jwt.claims', '{\"role\":\"anon\"}', true)").unwrap();
        assert_eq!(
            Spi::get_one::<String>("SELECT booking.current_user_id()").unwrap(),
            None
        );
        assert_eq!(
            Spi::get_one::<String>("SELECT booking.current_role()")
                .unwrap()
                .as_deref(),
            Some("anon")
        );
    }
}
