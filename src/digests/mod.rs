//! Digests (seed 002's ai_digests): an organization's exact figures for a period bounded by
//! local midnights, with a plain-language summary, for an outside writer to annotate (SQL in
//! `digests.sql`).

use pgrx::prelude::*;

extension_sql_file!("digests.sql", name = "digests", requires = ["intake"]);

#[cfg(any(test, feature = "pg_test"))]
#[pgrx::pg_schema]
mod tests {
    use pgrx::prelude::*;

    #[pg_test]
    fn digests_local_periods_and_sums() {
        crate::testing::run_suite(include_str!("../../tests/sql/digests/digests.sql"));
    }
}
