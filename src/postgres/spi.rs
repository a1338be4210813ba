//! Queries through plans prepared once per backend and kept (SPI_keepplan; Postgres re-plans
//! them by itself when the tables change). For the native functions, parsing and planning
//! their queries on every call would cost more than everything else they do.

use pgrx::datum::DatumWithOid;
use pgrx::spi::{OwnedPreparedStatement, SpiClient, SpiTupleTable};
use pgrx::PgOid;
use std::cell::RefCell;
use std::collections::HashMap;

/// Runs `sql` (a constant: it keys the cache) with `args` through its kept plan.
pub fn query<'c>(
    client: &SpiClient<'c>,
    sql: &'static str,
    args: &[DatumWithOid],
) -> SpiTupleTable<'c> {
    thread_local! {
        static PLANS: RefCell<HashMap<&'static str, OwnedPreparedStatement>> = RefCell::new(HashMap::new());
    }
    PLANS.with(|plans| {
        if !plans.borrow().contains_key(sql) {
            let types: Vec<PgOid> = args.iter().map(|a| PgOid::from(a.oid())).collect();
            let plan = client
                .prepare(sql, &types)
                .expect("preparing a query")
                .keep();
            plans.borrow_mut().insert(sql, plan);
        }
        let plans = plans.borrow();
        client
            .select(&plans[sql], None, args)
            .expect("running a query")
    })
}

/// Runs `sql`, a statement that writes (or calls a function that writes), with `args` through
/// its kept plan, read-write: it sees this transaction's earlier writes and later statements see
/// its own. For a statement run once per call; `query` is for reads.
pub fn query_mut<'c>(
    client: &mut SpiClient<'c>,
    sql: &'static str,
    args: &[DatumWithOid],
) -> SpiTupleTable<'c> {
    thread_local! {
        static PLANS: RefCell<HashMap<&'static str, OwnedPreparedStatement>> = RefCell::new(HashMap::new());
    }
    PLANS.with(|plans| {
        if !plans.borrow().contains_key(sql) {
            let types: Vec<PgOid> = args.iter().map(|a| PgOid::from(a.oid())).collect();
            let plan = client
                .prepare_mut(sql, &types)
                .expect("preparing a statement")
                .keep();
            plans.borrow_mut().insert(sql, plan);
        }
        let plans = plans.borrow();
        client
            .update(&plans[sql], None, args)
            .expect("running a statement")
    })
}
