//! Set-returning functions' rows in materialize mode.

use pgrx::prelude::*;

/// Returns a set-returning function's rows in materialize mode: the function fills one
/// tuplestore in a single call. pgrx's TableIterator returns one row per call (ValuePerCall),
/// and Postgres entering a SECURITY DEFINER function with settings saves and restores those
/// settings every time: for a few hundred slots, that cost more than computing them.
///
/// `fcinfo` must be the call's own, for a function declared `RETURNS TABLE` with N columns whose
/// types match the datums (by-value datums, or made in the current memory context).
pub fn materialize<const N: usize>(
    fcinfo: pg_sys::FunctionCallInfo,
    rows: impl IntoIterator<Item = [pg_sys::Datum; N]>,
) {
    // SAFETY: fcinfo is the call's own; InitMaterializedSRF checks that the caller accepts a
    // tuplestore (raising an ERROR otherwise) and sets setResult and setDesc, whose tuple
    // descriptor has the function's N columns (its RETURNS TABLE); the values are by-value
    // datums or were made in the current memory context, and tuplestore_putvalues copies them.
    unsafe {
        pg_sys::InitMaterializedSRF(fcinfo, 0);
        let rsinfo = (*fcinfo).resultinfo.cast::<pg_sys::ReturnSetInfo>();
        let mut nulls = [false; N];
        for mut values in rows {
            pg_sys::tuplestore_putvalues(
                (*rsinfo).setResult,
                (*rsinfo).setDesc,
                values.as_mut_ptr(),
                nulls.as_mut_ptr(),
            );
        }
    }
}
