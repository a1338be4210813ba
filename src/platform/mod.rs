//! The platform every module stands on (SQL in `platform.sql`, run first, and `finalize.sql`,
//! run last): the safe-install checks, schemas `booking` and `booking_internal`, the caller's
//! identity, argument limits, the table registry (`booking_internal.register_table`: dump,
//! row-level security, updated_at, fixed organization, audit) and the API roles' privileges,
//! which each module declares in its own `booking_internal.grant_<module>_privileges`.
//!
//! Native helpers the triggers call on every write: who the caller is (`caller`), whether a
//! row version is this transaction's (`transaction`), which time-zone names are valid
//! (`time_zone`).

use pgrx::prelude::*;

pub mod caller;
pub mod time_zone;
pub mod transaction;

extension_sql_file!("platform.sql", name = "platform", bootstrap);
extension_sql_file!("finalize.sql", name = "finalize", finalize);

#[cfg(any(test, feature = "pg_test"))]
#[pg_schema]
mod tests {
    use pgrx::prelude::*;

    #[pg_test]
    fn catalog_properties_hold() {
        crate::testing::run_suite(include_str!("../../tests/sql/platform/catalog.sql"));
    }

    #[pg_test]
    fn function_surface_matches_the_reviewed_matrix() {
        crate::testing::run_suite(include_str!("../../tests/sql/platform/surface.sql"));
    }

    #[pg_test]
    fn rls_matrix_every_table_persona_and_command() {
        crate::testing::run_suite(include_str!("../../tests/sql/platform/rls_matrix.sql"));
    }

    /// The core's long loops answer Postgres's interrupts (the check _PG_init hands the core):
    /// with a cancel request pending, walking the days of a window stops inside the walk, with
    /// Postgres's error (caught here, so that a cancel noticed only after the walk fails).
    #[pg_test]
    fn a_cancel_request_stops_the_engines_loops() {
        use booking_core::availability::{open_time, Interval, Resource, MICROS_PER_DAY};
        crate::postgres::simulate_cancel_request();
        let res = Resource {
            tz: booking_core::chrono_tz::UTC,
            rules: vec![],
            exceptions: vec![],
            capacity: 1,
            buffer_before: 0,
            buffer_after: 0,
            slot_interval: None,
            external_busy: vec![],
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
