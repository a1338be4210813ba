//! Queries through plans prepared once per backend and kept (SPI_keepplan; Postgres re-plans
//! them by itself when the tables change). For the native functions, parsing and planning
//! their queries on every call would cost more than everything else they do.

use pgrx::datum::DatumWithOid;
use pgrx::spi::{OwnedPreparedStatement, SpiClient, SpiTupleTable};
use pgrx::PgOid;
use std::cell::RefCell;
use std::collections::HashMap;

thread_local! {
    /// The kept plans, by their query text (a constant).
    static PLANS: RefCell<HashMap<&'static str, OwnedPreparedStatement>> = RefCell::new(HashMap::new());
}

/// `sql`'s kept plan, prepared by `prepare` the first time, given to `run`.
fn with_kept_plan<R>(
    sql: &'static str,
    prepare: impl FnOnce() -> OwnedPreparedStatement,
    run: impl FnOnce(&OwnedPreparedStatement) -> R,
) -> R {
    PLANS.with(|plans| {
        if !plans.borrow().contains_key(sql) {
            let plan = prepare();
            plans.borrow_mut().insert(sql, plan);
        }
        let plans = plans.borrow();
        run(&plans[sql])
    })
}

fn argument_types(args: &[DatumWithOid]) -> Vec<PgOid> {
    args.iter().map(|a| PgOid::from(a.oid())).collect()
}

/// Runs `sql` (a constant: it keys the cache) with `args` through its kept plan.
pub fn query<'c>(
    client: &SpiClient<'c>,
    sql: &'static str,
    args: &[DatumWithOid],
) -> SpiTupleTable<'c> {
    with_kept_plan(
        sql,
        || {
            client
                .prepare(sql, &argument_types(args))
                .expect("preparing a query")
                .keep()
        },
        |plan| client.select(plan, None, args).expect("running a query"),
    )
}

/// Runs `sql`, a statement that writes (or calls a function that writes), with `args` through
/// its kept plan, read-write: it sees this transaction's earlier writes and later statements see
/// its own. For a statement run once per call; `query` is for reads.
pub fn query_mut<'c>(
    client: &mut SpiClient<'c>,
    sql: &'static str,
    args: &[DatumWithOid],
) -> SpiTupleTable<'c> {
    // (Prepared first, run after: preparing borrows the client, running borrows it mutably.)
    with_kept_plan(
        sql,
        || {
            client
                .prepare_mut(sql, &argument_types(args))
                .expect("preparing a statement")
                .keep()
        },
        |_| (),
    );
    PLANS.with(|plans| {
        let plans = plans.borrow();
        client
            .update(&plans[sql], None, args)
            .expect("running a statement")
    })
}
