//! Long loops of the core call [`check`] now and then, so that the host can stop them: the
//! extension sets Postgres's interrupt check, which turns a cancel request or an expired
//! `statement_timeout` into an error that unwinds out of the loop. Without a host nothing is
//! set and `check` does nothing.

use std::sync::OnceLock;

static CHECK: OnceLock<fn()> = OnceLock::new();

/// Sets the function [`check`] calls; the first call wins.
pub fn set_check(check: fn()) {
    let _ = CHECK.set(check);
}

/// Lets the host stop the current computation (by panicking or raising an error).
#[inline]
pub fn check() {
    if let Some(check) = CHECK.get() {
        check();
    }
}
