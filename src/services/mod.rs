//! What an organization offers: `booking.services`, their `service_rules` and
//! `calculate_duration_minutes` (SQL in `services.sql`).

use pgrx::prelude::*;

extension_sql_file!("services.sql", name = "services", requires = ["resources"]);
