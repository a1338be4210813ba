//! Which time zone names booking_ext accepts: the one rule shared by the tables' checks and the
//! engine, so a name the database stores is always one the engine can compute with.

use booking_core::chrono_tz::Tz;
use pgrx::prelude::*;
use std::ffi::CString;

/// True when `p_time_zone` is an IANA zone name (exact spelling, such as 'Europe/Paris') that
/// both Postgres and the engine's time-zone database know. Not abbreviations or POSIX offset
/// strings, whose sign conventions surprise people; NULL is not valid.
#[pg_extern(stable, parallel_safe)]
#[search_path(pg_catalog, pg_temp)]
pub fn is_valid_time_zone(p_time_zone: Option<&str>) -> bool {
    let Some(name) = p_time_zone else {
        return false;
    };
    name.parse::<Tz>().is_ok() && postgres_knows(name)
}

/// Can Postgres load this zone? (What `AT TIME ZONE` and the TimeZone setting use.)
fn postgres_knows(name: &str) -> bool {
    let Ok(c_name) = CString::new(name) else {
        return false;
    };
    // pg_tzset looks the name up in Postgres's zone cache or loads it; NULL when unknown.
    !unsafe { pgrx::pg_sys::pg_tzset(c_name.as_ptr()) }.is_null()
}
