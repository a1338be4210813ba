//! The reporting aggregates' states behind `internal`: Rust values created in the aggregate's
//! memory context on the first row and dropped when Postgres frees that context.

use booking_core::reporting::AggregateError;
use pgrx::datum::Internal;
use pgrx::prelude::*;
use pgrx::{pg_sys, PgMemoryContexts};

/// The aggregate's memory context. SQL cannot call the support functions (nothing makes an
/// `internal` value); this guards against any other caller.
pub fn aggregate_context(fcinfo: pg_sys::FunctionCallInfo) -> pg_sys::MemoryContext {
    let mut context = std::ptr::null_mut();
    // SAFETY: fcinfo is the current call's; AggCheckCallContext only reads it and writes the
    // context pointer it is given.
    if unsafe { pg_sys::AggCheckCallContext(fcinfo, &mut context) } == 0 {
        error!("booking_ext aggregate support functions can only be called by their aggregates");
    }
    context
}

/// The state behind `internal`, created on first use in the aggregate's memory context.
pub fn state_mut<T: Default>(state: &mut Internal, fcinfo: pg_sys::FunctionCallInfo) -> &mut T {
    if !state.initialized() {
        let context = aggregate_context(fcinfo);
        // SAFETY: a valid context from AggCheckCallContext; the value is dropped with it.
        *state =
            unsafe { PgMemoryContexts::For(context).switch_to(|_| Internal::new(T::default())) };
    }
    // SAFETY: every `internal` these functions receive was made by them for this T (the SQL
    // declarations pair each state with its own functions).
    unsafe { state.get_mut::<T>() }.expect("an initialized state")
}

/// The state behind a final function's `internal`, if any row created one.
pub fn existing<T>(state: &mut Internal) -> Option<&mut T> {
    // SAFETY: as in state_mut.
    unsafe { state.get_mut::<T>() }
}

/// A transition (or inverse transition) step: `step` applies a row to the state, which the first
/// row creates (even a row that is skipped: it still says the aggregate saw rows).
pub fn transition<T: Default, R>(
    mut state: Internal,
    fcinfo: pg_sys::FunctionCallInfo,
    row: Option<R>,
    step: impl FnOnce(&mut T, R),
) -> Internal {
    let aggregate = state_mut::<T>(&mut state, fcinfo);
    if let Some(row) = row {
        step(aggregate, row);
    }
    state
}

/// The combine step of a parallel plan: `b`'s contents move into `a` (made in the aggregate's
/// context if needed: `b` may live in a per-row context).
pub fn combine<T: Default>(
    mut a: Internal,
    mut b: Internal,
    fcinfo: pg_sys::FunctionCallInfo,
    merge: impl FnOnce(&mut T, T),
) -> Internal {
    if let Some(other) = existing::<T>(&mut b) {
        let other = std::mem::take(other);
        merge(state_mut::<T>(&mut a, fcinfo), other);
    }
    a
}

/// A deserialised state, in the current (per-row) context: the combine step moves it out.
pub fn deserialized<T>(state: Result<T, AggregateError>) -> Internal {
    Internal::new(state.unwrap_or_else(|e| error!("{e}")))
}
