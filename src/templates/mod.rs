//! Notification templates (seed 002): organizations' texts for booking_ext's notification keys
//! per channel and locale, checked when saved, rendered by `booking.render_template` for apps and
//! by `booking_internal.render_notification` for booking_ext's own notifications, whose built-in
//! defaults are the texts those notifications always had (SQL in `templates.sql`).

use pgrx::prelude::*;

extension_sql_file!(
    "templates.sql",
    name = "templates",
    requires = ["calendars"]
);

#[cfg(any(test, feature = "pg_test"))]
#[pgrx::pg_schema]
mod tests {
    use pgrx::prelude::*;

    #[pg_test]
    fn templates_saved_checked_rendered_and_used_by_notifications() {
        crate::testing::run_suite(include_str!("../../tests/sql/templates/templates.sql"));
    }
}
