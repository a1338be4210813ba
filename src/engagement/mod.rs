//! Engagement (seed 004): messaging (one thread per pair, unread counts and deletion per
//! participant), favourites, reviews of completed bookings with the organization's figures, and
//! the seed's views (SQL in `engagement.sql`).

use pgrx::prelude::*;

extension_sql_file!(
    "engagement.sql",
    name = "engagement",
    requires = ["credits"]
);

#[cfg(any(test, feature = "pg_test"))]
#[pgrx::pg_schema]
mod tests {
    use pgrx::prelude::*;

    #[pg_test]
    fn engagement_messaging_favourites_reviews_and_views() {
        crate::testing::run_suite(include_str!("../../tests/sql/engagement/engagement.sql"));
    }
}
