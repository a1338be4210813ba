//! Which time zone names booking_ext accepts: the one rule shared by the tables' checks and the
//! engine, so a name the database stores is always one the engine can compute with.

use booking_core::chrono_tz::Tz;
use pgrx::prelude::*;

/// True when `p_time_zone` is an IANA zone name (exact spelling, such as 'Europe/Paris') that
/// both Postgres and the engine's time-zone database know. Not abbreviations or POSIX offset
/// strings, whose sign conventions surprise people; NULL is not valid.
#[pg_extern(stable, parallel_safe)]
#[search_path(pg_catalog, pg_temp)]
pub fn is_valid_time_zone(p_time_zone: Option<&str>) -> bool {
    let Some(name) = p_time_zone else {
        return false;
    };
    name.parse::<Tz>().is_ok() && crate::postgres::postgres_knows_time_zone(name)
}
