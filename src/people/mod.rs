//! People (seed 003, and seed 004's profiles): profiles keyed by the JWT subject, professionals
//! linking a user and an organization to their `person` resource, students with guardians and
//! an admission lifecycle (SQL in `people.sql`). Installed before bookings, which names a
//! booking's student and lets a professional manage the bookings of their resource.

use pgrx::prelude::*;

extension_sql_file!("people.sql", name = "people", requires = ["services"]);

#[cfg(any(test, feature = "pg_test"))]
#[pgrx::pg_schema]
mod tests {
    use pgrx::prelude::*;

    #[pg_test]
    fn people_profiles_professionals_students_and_admission() {
        crate::testing::run_suite(include_str!("../../tests/sql/people/people.sql"));
    }
}
