//! Analytics (seed 002): `booking.analytics_events`, partitioned by UTC month with partitions made
//! as needed, written by `booking.track_event` (identity from the JWT, address and user agent
//! from the request headers), read by staff, pruned by whole months (SQL in `analytics.sql`).

use pgrx::prelude::*;

extension_sql_file!(
    "analytics.sql",
    name = "analytics",
    requires = ["templates"]
);

#[cfg(any(test, feature = "pg_test"))]
#[pgrx::pg_schema]
mod tests {
    use pgrx::prelude::*;

    #[pg_test]
    fn analytics_events_tracked_partitioned_read_and_pruned() {
        crate::testing::run_suite(include_str!("../../tests/sql/analytics/analytics.sql"));
    }
}
