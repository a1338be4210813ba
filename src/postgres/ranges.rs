//! Range values read and made in place: `tstzrange` arguments read from their bytes, and
//! `tstzmultirange` results built with Postgres's own constructor (pgrx binds neither).

use booking_core::reporting::{
    interval_from_bounds, AggregateError, Bound, Interval, UNBOUNDED_ABOVE, UNBOUNDED_BELOW,
};
use pgrx::callconv::{Arg, ArgAbi, BoxRet, FcInfo};
use pgrx::datum::Datum;
use pgrx::prelude::*;
use pgrx::{pg_sys, varlena};

use super::errors::invalid_parameter;

fn reported<T>(result: Result<T, AggregateError>) -> T {
    result.unwrap_or_else(|e| invalid_parameter(e.to_string()))
}

/// A `tstzrange` argument, read where it lies.
///
/// Decoding through pgrx's `Range` copies a stored range out of its row (stored values have a
/// short header), looks up the type cache and calls `range_deserialize`: calls into Postgres,
/// each guarded with a `sigsetjmp`, that cost more per row than the aggregate's own work. A range of timestamptz in line is simple (Postgres's on-disk format, which pg_upgrade
/// keeps across major versions): the range type's oid, the finite bounds as 8-byte values with
/// no padding, and a flags byte. Anything else (compressed or out of line, or an unexpected
/// layout) goes through pgrx and Postgres.
pub struct TstzRangeArg(pg_sys::Datum);

pgrx::impl_sql_translatable!(TstzRangeArg, "tstzrange");

impl FromDatum for TstzRangeArg {
    unsafe fn from_polymorphic_datum(
        datum: pg_sys::Datum,
        is_null: bool,
        _: pg_sys::Oid,
    ) -> Option<Self> {
        (!is_null).then_some(TstzRangeArg(datum))
    }
}

impl IntoDatum for TstzRangeArg {
    fn into_datum(self) -> Option<pg_sys::Datum> {
        Some(self.0)
    }
    fn type_oid() -> pg_sys::Oid {
        pg_sys::TSTZRANGEOID
    }
}

// SAFETY: the argument is declared tstzrange (impl_sql_translatable above), and a non-NULL
// datum of that type is all FromDatum needs.
unsafe impl<'fcx> ArgAbi<'fcx> for TstzRangeArg {
    unsafe fn unbox_arg_unchecked(arg: Arg<'_, 'fcx>) -> Self {
        // SAFETY: the caller guarantees a tstzrange argument; NULL is reported, not read.
        unsafe { arg.unbox_arg_using_from_datum() }.expect("a non-NULL tstzrange")
    }
}

impl TstzRangeArg {
    /// Its instants (`None`: it holds none). Bad bounds are 22023.
    pub fn span(&self) -> Option<Interval> {
        let (lower, upper) = self
            .bounds_in_place()
            .unwrap_or_else(|| self.bounds_via_postgres())?;
        reported(interval_from_bounds(lower, upper))
    }

    /// Its bounds (`Some(None)`: empty) read from the bytes in place; `None` when it is not in
    /// line or its bytes do not have the expected layout.
    pub fn bounds_in_place(&self) -> Option<Option<(Bound, Bound)>> {
        // SAFETY: a non-NULL varlena datum, read within its size.
        unsafe {
            let ptr = self.0.cast_mut_ptr::<pg_sys::varlena>();
            if varlena::varatt_is_1b_e(ptr) || varlena::varatt_is_4b_c(ptr) {
                return None;
            }
            let data = varlena::vardata_any(ptr).cast::<u8>();
            inline_bounds(std::slice::from_raw_parts(
                data,
                varlena::varsize_any_exhdr(ptr),
            ))
        }
    }

    /// Its bounds (`None`: empty) as pgrx and Postgres read them.
    pub fn bounds_via_postgres(&self) -> Option<(Bound, Bound)> {
        // SAFETY: a non-NULL tstzrange datum.
        let range = unsafe {
            Range::<TimestampWithTimeZone>::from_polymorphic_datum(
                self.0,
                false,
                pg_sys::TSTZRANGEOID,
            )
        };
        range
            .expect("a tstzrange")
            .as_ref()
            .map(|(lower, upper)| (bound(lower), bound(upper)))
    }
}

fn bound(b: &RangeBound<TimestampWithTimeZone>) -> Bound {
    match b {
        RangeBound::Infinite => Bound::Unbounded,
        RangeBound::Inclusive(t) => Bound::Inclusive(t.into_inner()),
        RangeBound::Exclusive(t) => Bound::Exclusive(t.into_inner()),
    }
}

/// The bounds of an in-line tstzrange from its bytes after the varlena header (`Some(None)`:
/// empty); `None` when the bytes do not have the expected layout.
fn inline_bounds(bytes: &[u8]) -> Option<Option<(Bound, Bound)>> {
    const UNEXPECTED: u32 = pg_sys::RANGE_LB_NULL | pg_sys::RANGE_UB_NULL;
    let (&flags, body) = bytes.split_last()?;
    let flags = flags as u32;
    // after the range type's oid
    let mut values = body.get(4..)?.chunks_exact(8);
    if flags & UNEXPECTED != 0 || !values.remainder().is_empty() {
        return None;
    }
    if flags & pg_sys::RANGE_EMPTY != 0 {
        return (values.len() == 0).then_some(None);
    }
    let mut next = |infinite: u32, inclusive: u32| {
        if flags & infinite != 0 {
            return Some(Bound::Unbounded);
        }
        let value = i64::from_ne_bytes(values.next()?.try_into().ok()?);
        Some(if flags & inclusive != 0 {
            Bound::Inclusive(value)
        } else {
            Bound::Exclusive(value)
        })
    };
    let lower = next(pg_sys::RANGE_LB_INF, pg_sys::RANGE_LB_INC)?;
    let upper = next(pg_sys::RANGE_UB_INF, pg_sys::RANGE_UB_INC)?;
    (values.len() == 0).then_some(Some((lower, upper)))
}

unsafe extern "C-unwind" {
    // utils/multirangetypes.h (Postgres 14+); pgrx does not bind it. Sorts and merges the
    // ranges (a cheap pass when they already are) and allocates in the current context. It can
    // raise an ERROR: called through pg_guard_ffi_boundary.
    fn make_multirange(
        mltrngtypoid: pg_sys::Oid,
        rangetyp: *mut pg_sys::TypeCacheEntry,
        range_count: i32,
        ranges: *mut *mut pg_sys::RangeType,
    ) -> *mut pg_sys::varlena;
}

/// A `tstzmultirange` value made here (pgrx has no multirange type).
pub struct TstzMultirange(pg_sys::Datum);

pgrx::impl_sql_translatable!(TstzMultirange, "tstzmultirange");

// SAFETY: the datum is a tstzmultirange made in the current memory context (TstzMultirange::of),
// the type the function is declared to return.
unsafe impl BoxRet for TstzMultirange {
    unsafe fn box_into<'fcx>(self, fcinfo: &mut FcInfo<'fcx>) -> Datum<'fcx> {
        // SAFETY: see the impl: a valid datum of the declared return type.
        unsafe { fcinfo.return_raw_datum(self.0) }
    }
}

impl TstzMultirange {
    pub fn of(spans: &[Interval]) -> TstzMultirange {
        let bound = |at: i64, infinite: bool, lower: bool| pg_sys::RangeBound {
            val: pg_sys::Datum::from(at),
            infinite,
            inclusive: lower && !infinite,
            lower,
        };
        // SAFETY: the type cache entry of tstzrange is valid for the backend's life; make_range
        // copies the bounds (by-value timestamps) into a new range in the current context;
        // make_multirange, which can raise an ERROR, is called through pg_guard_ffi_boundary
        // and reads exactly `ranges.len()` valid range pointers.
        unsafe {
            let range_type = pg_sys::lookup_type_cache(
                pg_sys::TSTZRANGEOID,
                pg_sys::TYPECACHE_RANGE_INFO as i32,
            );
            let mut ranges: Vec<*mut pg_sys::RangeType> = spans
                .iter()
                .map(|s| {
                    let mut lower = bound(s.start, s.start == UNBOUNDED_BELOW, true);
                    let mut upper = bound(s.end, s.end == UNBOUNDED_ABOVE, false);
                    // Postgres 16 added a soft-error argument; NULL means "raise".
                    #[cfg(feature = "pg15")]
                    let range = pg_sys::make_range(range_type, &mut lower, &mut upper, false);
                    #[cfg(not(feature = "pg15"))]
                    let range = pg_sys::make_range(
                        range_type,
                        &mut lower,
                        &mut upper,
                        false,
                        std::ptr::null_mut(),
                    );
                    range
                })
                .collect();
            let multirange = pg_sys::ffi::pg_guard_ffi_boundary(|| {
                make_multirange(
                    pg_sys::TSTZMULTIRANGEOID,
                    range_type,
                    ranges.len() as i32,
                    ranges.as_mut_ptr(),
                )
            });
            TstzMultirange(pg_sys::Datum::from(multirange))
        }
    }
}
