//! Messages to users: `booking.notifications`, the notification RPCs (seed 004's names) and the
//! notifications of booking status changes (SQL in `notifications.sql`).

use pgrx::prelude::*;

extension_sql_file!(
    "notifications.sql",
    name = "notifications",
    requires = ["bookings"]
);

#[cfg(any(test, feature = "pg_test"))]
#[pgrx::pg_schema]
mod tests {
    use pgrx::prelude::*;

    #[pg_test]
    fn notification_rpcs_answer_only_for_the_caller() {
        crate::testing::run_suite(include_str!(
            "../../tests/sql/notifications/notifications.sql"
        ));
    }
}
