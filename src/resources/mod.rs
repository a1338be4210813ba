//! What can be booked and when it is open: `booking.resources`, weekly
//! `availability_rules` and `availability_exceptions` (SQL in `resources.sql`).

use pgrx::prelude::*;

extension_sql_file!("resources.sql", name = "resources", requires = ["audit"]);
