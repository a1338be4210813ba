//! Tenants and who belongs to them: `booking.organizations`, `booking.members` and the
//! membership helpers every policy asks (SQL in `tenancy.sql`).

use pgrx::prelude::*;

extension_sql_file!("tenancy.sql", name = "tenancy", requires = ["platform"]);
