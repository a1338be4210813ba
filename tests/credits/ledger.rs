//! Prepaid credits through the same path as the API: clients log in as PostgREST does
//! (`authenticator`, then `authenticated` with the caller's JWT claims) and call the RPCs. Fifty
//! sessions at once book with credit on an account holding ten credits (half READ COMMITTED,
//! half REPEATABLE READ): ten win, forty get PT409 insufficient_credit and write nothing. Twenty
//! sessions at once cancel one paid booking: it is refunded once. And random histories of
//! purchases, paid bookings, cancellations, lots expiring and expire_credits(), compared step by
//! step with a brute-force model of the rules in the header of src/credits/credits.sql. Every
//! account's balance, ledger and lots agree throughout; no deadlock.

#[path = "../common/mod.rs"]
mod common;

use common::{
    as_persona, at_once_warm, connect_as_api, create_authenticator, transaction_as, Cluster,
    Refusal, Retries, TENANTS_SQL,
};
use postgres::types::ToSql;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use std::cell::{Cell, RefCell};

const LAB: &str = "00000000-0000-4000-a000-000000000001";
const STAFF: &str = "u-staff";
const CLIENT: &str = "u-client";
/// One paid booking of `$4` seats on desk `$1` for the hour `$2` hours after `$3`.
const BOOK: &str = "SELECT b.id::text FROM booking.book($1::text::uuid,
                      $3::text::timestamptz + make_interval(hours => $2::int4),
                      $3::text::timestamptz + make_interval(hours => $2::int4 + 1),
                      $4::int4, p_use_credit => true) b";
const CANCEL: &str =
    "SELECT b.status FROM booking.set_booking_status($1::text::uuid, 'cancelled') b";
const PURCHASE: &str = "SELECT t.id::text
                        FROM booking.purchase_credits($1, $2::int4, $3, $4::text::timestamptz) t";

/// A server with the lab's tenants, the login role PostgREST uses, and `desks` desks of the lab
/// (capacity 3, auto-approving) open around the clock.
fn start(name: &str, desks: i32) -> (Cluster, postgres::Client, String, Vec<String>) {
    let cluster = Cluster::start(name);
    let mut admin = cluster.create_db(name, true);
    admin.batch_execute(TENANTS_SQL).unwrap();
    create_authenticator(&mut admin);
    admin
        .batch_execute(&format!(
            "ALTER DATABASE {name} SET deadlock_timeout = '100ms';"
        ))
        .unwrap();
    let desks: Vec<String> = admin
        .query(
            "WITH r AS (INSERT INTO booking.resources (organization_id, kind, title, capacity, auto_approve)
                        SELECT $1::text::uuid, 'space', 'Credit desk ' || i, 3, true FROM generate_series(1, $2::int4) i
                        RETURNING id, organization_id, title),
                  h AS (INSERT INTO booking.availability_rules (organization_id, resource_id, day_of_week, start_time, end_time)
                        SELECT r.organization_id, r.id, d, '00:00', '24:00' FROM r, generate_series(0, 6) d)
             SELECT id::text FROM r ORDER BY length(title), title",
            &[&LAB, &desks],
        )
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    let url = cluster.url(name);
    (cluster, admin, url, desks)
}

/// What one session's call came to: the first column of its answer, or its refusal.
#[derive(Debug)]
struct Call {
    session: usize,
    repeatable_read: bool,
    outcome: Result<String, Refusal>,
    retries: Retries,
}

/// Session `session` runs `sql` once as `who`, in REPEATABLE READ when `session` is odd
/// (serialization failures and deadlocks retried by `transaction_as`, deadlocks counted).
fn call(
    conn: &mut postgres::Client,
    session: usize,
    who: &str,
    sql: &str,
    args: &[&(dyn ToSql + Sync)],
) -> Call {
    let repeatable_read = session % 2 == 1;
    let (res, retries) = transaction_as(conn, who, repeatable_read, |tx| {
        tx.query_one(sql, args).map(|r| r.get::<_, String>(0))
    });
    Call {
        session,
        repeatable_read,
        outcome: res.map_err(Refusal::of),
        retries,
    }
}

/// `call`'s statement once, rolled back whatever it came to: warms the backend up before the
/// race (see `at_once_warm`).
fn rehearse(conn: &mut postgres::Client, who: &str, sql: &str, args: &[&(dyn ToSql + Sync)]) {
    let mut tx = conn.transaction().unwrap();
    as_persona(&mut tx, "authenticated", Some(who));
    let _ = tx.query_one(sql, args);
    tx.rollback().unwrap();
}

fn total_retries(calls: &[Call]) -> Retries {
    calls
        .iter()
        .map(|c| c.retries)
        .fold(Retries::default(), |a, b| a + b)
}

/// Staff buy credits for `user`, as the API does; the purchase's ledger entry (= its lot).
fn purchase(
    api: &mut postgres::Client,
    user: &str,
    amount: i32,
    reference: &str,
    expires_at: Option<&str>,
) -> String {
    let (res, _) = transaction_as(api, STAFF, false, |tx| {
        tx.query_one(PURCHASE, &[&user, &amount, &reference, &expires_at])
    });
    res.unwrap_or_else(|e| panic!("{STAFF} could not sell {amount} credits to {user}: {e:?}"))
        .get(0)
}

/// An account as the tables have it: balance, the sum of its ledger, the sum of its lots'
/// remainders, and the lowest its balance ever was (its ledger summed in the order written).
#[derive(Debug, PartialEq)]
struct Sums {
    balance: i64,
    ledger: i64,
    lots: i64,
    lowest: i64,
}

fn sums(admin: &mut postgres::Client, user: &str) -> Sums {
    let r = admin
        .query_opt(
            "SELECT a.balance::int8,
                    coalesce((SELECT sum(t.amount) FROM booking.credit_transactions t WHERE t.account_id = a.id), 0)::int8,
                    coalesce((SELECT sum(l.remaining) FROM booking.credit_lots l WHERE l.account_id = a.id), 0)::int8,
                    coalesce((SELECT min(s) FROM (SELECT sum(t.amount) OVER (ORDER BY t.created_at, t.amount DESC) s
                                                  FROM booking.credit_transactions t WHERE t.account_id = a.id) x), 0)::int8
             FROM booking.credit_accounts a WHERE a.organization_id = $1::text::uuid AND a.user_id = $2",
            &[&LAB, &user],
        )
        .unwrap();
    match r {
        Some(r) => Sums {
            balance: r.get(0),
            ledger: r.get(1),
            lots: r.get(2),
            lowest: r.get(3),
        },
        None => Sums {
            balance: 0,
            ledger: 0,
            lots: 0,
            lowest: 0,
        },
    }
}

/// balance = sum of the ledger = sum of the lots' remainders, and never below zero.
fn assert_ledger_holds(admin: &mut postgres::Client, user: &str) -> Sums {
    let s = sums(admin, user);
    assert!(
        s.balance == s.ledger && s.balance == s.lots && s.lowest >= 0,
        "{user}'s account: {s:?}"
    );
    s
}

/// The account's ledger entries by type: (type, count, sum).
fn ledger_by_type(admin: &mut postgres::Client, user: &str) -> Vec<(String, i64, i64)> {
    admin
        .query(
            "SELECT transaction_type, count(*), sum(amount)::int8 FROM booking.credit_transactions
             WHERE organization_id = $1::text::uuid AND user_id = $2 GROUP BY 1 ORDER BY 1",
            &[&LAB, &user],
        )
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect()
}

const RACE_START: &str = "2031-01-06 00:00+00";

#[test]
fn fifty_sessions_booking_with_credit_on_ten_credits() {
    const SESSIONS: usize = 50;
    // A desk per session: on one resource its lock would make the bookings take turns before
    // they reach the credit account, whose lock is the one this race is about.
    let (_cluster, mut admin, url, desks) = start("credits_race", SESSIONS as i32);
    let mut api = connect_as_api(&url);
    purchase(&mut api, CLIENT, 10, "ref-1", None);

    let started = std::time::Instant::now();
    let calls = at_once_warm(
        &url,
        desks.clone(),
        |conn, i, desk| rehearse(conn, CLIENT, BOOK, &[desk, &(i as i32), &RACE_START, &1i32]),
        |conn, i, desk| {
            call(
                conn,
                i,
                CLIENT,
                BOOK,
                &[&desk, &(i as i32), &RACE_START, &1i32],
            )
        },
    );
    let elapsed = started.elapsed();
    let retries = total_retries(&calls);
    let won: Vec<&Call> = calls.iter().filter(|c| c.outcome.is_ok()).collect();
    eprintln!(
        "paid bookings ({:.2} s): {} booked, {} refused; {retries:?}",
        elapsed.as_secs_f64(),
        won.len(),
        SESSIONS - won.len(),
    );

    assert_eq!(won.len(), 10, "exactly ten paid bookings: {won:#?}");
    for c in calls.iter().filter(|c| c.outcome.is_err()) {
        let r = c.outcome.as_ref().unwrap_err();
        assert!(
            r.is("PT409", "insufficient_credit"),
            "session {} ({}) was refused otherwise than PT409 insufficient_credit: {r:?}",
            c.session,
            if c.repeatable_read {
                "repeatable read"
            } else {
                "read committed"
            },
        );
    }
    // The winners' bookings, and nothing else of the client's: the refused left no booking.
    let mut winners: Vec<String> = won
        .iter()
        .map(|c| c.outcome.as_ref().unwrap().clone())
        .collect();
    winners.sort();
    let held: Vec<String> = admin
        .query(
            "SELECT id::text FROM booking.bookings
             WHERE booked_by = $1 AND resource_id = ANY ($2::text[]::uuid[]) AND uses_credit AND status = 'approved'
             ORDER BY 1",
            &[&CLIENT, &desks],
        )
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(held, winners, "the client's paid bookings");
    let on_desks: i64 = admin
        .query_one(
            "SELECT count(*) FROM booking.bookings WHERE resource_id = ANY ($1::text[]::uuid[])",
            &[&desks],
        )
        .unwrap()
        .get(0);
    assert_eq!(on_desks, 10, "bookings on the desks, whoever made them");
    let debited: Vec<String> = admin
        .query(
            "SELECT booking_id::text FROM booking.credit_transactions
             WHERE user_id = $1 AND transaction_type = 'appointment_debit' AND amount = -1 ORDER BY 1",
            &[&CLIENT],
        )
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(debited, winners, "one debit of one credit per booking");
    assert_eq!(
        ledger_by_type(&mut admin, CLIENT),
        vec![
            ("appointment_debit".to_owned(), 10, -10),
            ("purchase".to_owned(), 1, 10),
        ],
        "the ledger"
    );
    assert_eq!(assert_ledger_holds(&mut admin, CLIENT).balance, 0);
    assert_eq!(retries.deadlock, 0, "no deadlock");
}

#[test]
fn twenty_concurrent_cancellations_refund_once() {
    const SESSIONS: usize = 20;
    let (_cluster, mut admin, url, desks) = start("credits_cancel", 1);
    let mut api = connect_as_api(&url);
    let forever = purchase(&mut api, CLIENT, 3, "ref-1", None);
    let expiring = purchase(&mut api, CLIENT, 2, "ref-2", Some("2035-01-01 00:00+00"));
    let (booked, _) = transaction_as(&mut api, CLIENT, false, |tx| {
        tx.query_one(BOOK, &[&desks[0], &0i32, &RACE_START, &3i32])
    });
    let booking: String = booked.unwrap().get(0);
    let lots = |admin: &mut postgres::Client| -> Vec<i32> {
        [&forever, &expiring]
            .iter()
            .map(|lot| {
                admin
                    .query_one(
                        "SELECT remaining FROM booking.credit_lots WHERE id = $1::text::uuid",
                        &[lot],
                    )
                    .unwrap()
                    .get(0)
            })
            .collect()
    };
    assert_eq!(
        lots(&mut admin),
        vec![2, 0],
        "three seats paid: the expiring lot first"
    );

    let started = std::time::Instant::now();
    let calls = at_once_warm(
        &url,
        vec![booking.clone(); SESSIONS],
        |conn, _, booking| rehearse(conn, CLIENT, CANCEL, &[booking]),
        |conn, i, booking| call(conn, i, CLIENT, CANCEL, &[&booking]),
    );
    let elapsed = started.elapsed();
    let retries = total_retries(&calls);
    let answered = |rr: bool| {
        calls
            .iter()
            .filter(|c| c.repeatable_read == rr && c.outcome.is_ok())
            .count()
    };
    eprintln!(
        "cancellations ({:.2} s): answered {} in read committed, {} in repeatable read; {} refused; {retries:?}",
        elapsed.as_secs_f64(),
        answered(false),
        answered(true),
        calls.iter().filter(|c| c.outcome.is_err()).count(),
    );

    for c in &calls {
        match &c.outcome {
            Ok(status) => assert_eq!(status, "cancelled", "session {}", c.session),
            // Cancelled already: the status table has no cancelled -> cancelled.
            Err(r) => assert!(
                r.is("PT409", "transition"),
                "session {} was refused otherwise than PT409 transition: {r:?}",
                c.session
            ),
        }
    }
    assert!(calls.iter().any(|c| c.outcome.is_ok()), "one cancelled it");
    // (A READ COMMITTED session that waited for the winner re-checks the row and updates it
    // from cancelled to cancelled: answered, but no transition and no refund.)
    let transitions: i64 = admin
        .query_one(
            "SELECT count(*) FROM booking.booking_transitions WHERE booking_id = $1::text::uuid AND to_status = 'cancelled'",
            &[&booking],
        )
        .unwrap()
        .get(0);
    assert_eq!(transitions, 1, "one cancellation");
    let refunds: Vec<(i32, Option<String>)> = admin
        .query(
            "SELECT amount, booking_id::text FROM booking.credit_transactions
             WHERE user_id = $1 AND transaction_type = 'cancellation_refund'",
            &[&CLIENT],
        )
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    assert_eq!(
        refunds,
        vec![(3, Some(booking))],
        "one refund of the three credits"
    );
    assert_eq!(
        lots(&mut admin),
        vec![3, 2],
        "back to the lots they came from"
    );
    assert_eq!(assert_ledger_holds(&mut admin, CLIENT).balance, 5);
    assert_eq!(retries.deadlock, 0, "no deadlock");
}

// ---------------------------------------------------------------------------------------------
// Random histories against a model
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Clone)]
enum Step {
    /// Staff sell `amount` credits: a lot that never expires, or one that expires on day
    /// `expires` of 2035 (few days, so that lots tie on their expiry).
    Purchase { amount: i32, expires: Option<u32> },
    /// The person books `seats` seats with credit.
    Book { seats: i32 },
    /// The person cancels one of their paid bookings (again, maybe).
    Cancel(prop::sample::Index),
    /// One of the lots that expire reaches its expiry.
    TimePasses(prop::sample::Index),
    /// service_role's expire_credits().
    ExpireCredits,
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        3 => (1..=5i32, prop::option::of(1..=3u32))
            .prop_map(|(amount, expires)| Step::Purchase { amount, expires }),
        4 => (1..=3i32).prop_map(|seats| Step::Book { seats }),
        2 => any::<prop::sample::Index>().prop_map(Step::Cancel),
        2 => any::<prop::sample::Index>().prop_map(Step::TimePasses),
        1 => Just(Step::ExpireCredits),
    ]
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Expiry {
    Never,
    /// Day of January 2035.
    On(u32),
    /// Expired (its remainder not necessarily closed yet).
    Passed,
}

#[derive(Debug)]
struct Lot {
    id: String,
    remaining: i32,
    expiry: Expiry,
}

#[derive(Debug)]
struct PaidBooking {
    id: String,
    seats: i32,
    /// (index of the lot, credits taken from it)
    takes: Vec<(usize, i32)>,
    cancelled: bool,
}

/// The rules of credits.sql's header, by brute force. Lots are kept in the order bought.
#[derive(Debug, Default)]
struct Model {
    lots: Vec<Lot>,
    bookings: Vec<PaidBooking>,
    /// (type, amount, lot or booking)
    ledger: Vec<(String, i32, String)>,
}

impl Model {
    fn balance(&self) -> i32 {
        self.lots.iter().map(|l| l.remaining).sum()
    }

    /// The account is touched: every expired lot's remainder leaves as an expiry entry.
    fn close_expired(&mut self) -> usize {
        let mut closed = 0;
        for l in self
            .lots
            .iter_mut()
            .filter(|l| l.expiry == Expiry::Passed && l.remaining > 0)
        {
            self.ledger
                .push(("expiry".to_owned(), -l.remaining, l.id.clone()));
            l.remaining = 0;
            closed += 1;
        }
        closed
    }

    fn purchase(&mut self, id: String, amount: i32, expires: Option<u32>) {
        self.close_expired();
        self.ledger
            .push(("purchase".to_owned(), amount, id.clone()));
        self.lots.push(Lot {
            id,
            remaining: amount,
            expiry: expires.map_or(Expiry::Never, Expiry::On),
        });
    }

    /// What a debit of `seats` would take, soonest-expiring unexpired lots first, those that
    /// never expire last, the oldest first on ties; None when the unexpired lots cannot pay.
    fn takes(&self, seats: i32) -> Option<Vec<(usize, i32)>> {
        let mut order: Vec<usize> = (0..self.lots.len())
            .filter(|&i| self.lots[i].remaining > 0 && self.lots[i].expiry != Expiry::Passed)
            .collect();
        order.sort_by_key(|&i| match self.lots[i].expiry {
            Expiry::On(day) => (0, day, i),
            _ => (1, 0, i),
        });
        let mut left = seats;
        let mut takes = Vec::new();
        for i in order {
            if left == 0 {
                break;
            }
            let take = left.min(self.lots[i].remaining);
            takes.push((i, take));
            left -= take;
        }
        (left == 0).then_some(takes)
    }

    fn book(&mut self, id: String, seats: i32, takes: Vec<(usize, i32)>) {
        self.close_expired();
        for &(i, n) in &takes {
            self.lots[i].remaining -= n;
        }
        self.ledger
            .push(("appointment_debit".to_owned(), -seats, id.clone()));
        self.bookings.push(PaidBooking {
            id,
            seats,
            takes,
            cancelled: false,
        });
    }

    /// Cancels booking `b`; false when it was cancelled already. Returns too how many of the
    /// refunded credits went back to expired lots (and expired at once).
    fn cancel(&mut self, b: usize) -> (bool, i32) {
        if self.bookings[b].cancelled {
            return (false, 0);
        }
        self.close_expired();
        let booking = &mut self.bookings[b];
        booking.cancelled = true;
        let mut into_expired = 0;
        for &(i, n) in &booking.takes {
            self.lots[i].remaining += n;
            if self.lots[i].expiry == Expiry::Passed {
                into_expired += n;
            }
        }
        self.ledger.push((
            "cancellation_refund".to_owned(),
            booking.seats,
            booking.id.clone(),
        ));
        self.close_expired();
        (true, into_expired)
    }
}

/// The account of `user` as the tables have it: its lots' (id, remaining) in the order bought
/// and its ledger as (type, amount, lot or booking), sorted.
type Observed = (Vec<(String, i32)>, Vec<(String, i32, String)>);

fn observe(admin: &mut postgres::Client, user: &str) -> Observed {
    let lots = admin
        .query(
            "SELECT l.id::text, l.remaining FROM booking.credit_lots l
             JOIN booking.credit_accounts a ON a.id = l.account_id
             WHERE a.organization_id = $1::text::uuid AND a.user_id = $2 ORDER BY l.created_at",
            &[&LAB, &user],
        )
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    let mut ledger: Vec<(String, i32, String)> = admin
        .query(
            "SELECT transaction_type, amount, coalesce(booking_id, lot_id, id)::text FROM booking.credit_transactions
             WHERE organization_id = $1::text::uuid AND user_id = $2",
            &[&LAB, &user],
        )
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect();
    ledger.sort();
    (lots, ledger)
}

/// What the random histories exercised, summed over all cases.
#[derive(Debug, Default)]
struct Coverage {
    cases: usize,
    steps: usize,
    bought: usize,
    booked: usize,
    refused: usize,
    refunded: usize,
    cancelled_again: usize,
    refunds_into_expired_lots: usize,
    lots_expired: usize,
    lots_closed_by_expire_credits: usize,
}

#[test]
fn random_ledger_histories_agree_with_a_model() {
    let (_cluster, admin, url, desks) = start("credits_model", 1);
    let desk = desks[0].clone();
    let admin = RefCell::new(admin);
    let api = RefCell::new(connect_as_api(&url));
    // Cancellations refunded whenever they come (the bookings are years ahead anyway).
    admin
        .borrow_mut()
        .execute(
            "INSERT INTO booking.credit_policies (organization_id, refund_deadline_minutes, late_cancellation)
             VALUES ($1::text::uuid, 0, 'refund')",
            &[&LAB],
        )
        .unwrap();
    // Every run of a case (shrinking included) has its own person, payment references and hours.
    let (run, hour) = (Cell::new(0usize), Cell::new(0i32));
    let coverage = RefCell::new(Coverage::default());

    let mut runner = TestRunner::new(Config {
        cases: 32,
        max_shrink_iters: 300,
        failure_persistence: None,
        ..Config::default()
    });
    let started = std::time::Instant::now();
    let result = runner.run(&prop::collection::vec(step(), 20..=40), |steps| {
        let (mut admin, mut api) = (admin.borrow_mut(), api.borrow_mut());
        let mut cov = coverage.borrow_mut();
        run.set(run.get() + 1);
        let user = format!("u-ledger-{}", run.get());
        cov.cases += 1;
        // Closes what earlier runs left expired, so that expire_credits() counts this account's.
        admin.execute("SELECT booking.expire_credits()", &[]).unwrap();
        let mut model = Model::default();
        for (n, step) in steps.iter().enumerate() {
            cov.steps += 1;
            let at = format!("step {n} ({step:?})");
            match step {
                Step::Purchase { amount, expires } => {
                    let reference = format!("{user}-{n}");
                    let expires_at = expires.map(|d| format!("2035-01-{d:02} 00:00+00"));
                    let lot = purchase(&mut api, &user, *amount, &reference, expires_at.as_deref());
                    model.purchase(lot, *amount, *expires);
                    cov.bought += 1;
                }
                Step::Book { seats } => {
                    hour.set(hour.get() + 1);
                    let (res, _) = transaction_as(&mut api, &user, false, |tx| {
                        tx.query_one(BOOK, &[&desk, &hour.get(), &"2032-01-05 00:00+00", seats])
                    });
                    let expected = model.takes(*seats);
                    match res.map_err(Refusal::of) {
                        Ok(row) => {
                            let Some(takes) = expected else {
                                return Err(TestCaseError::fail(format!(
                                    "{at}: booked, though the model's unexpired lots cannot pay: {model:?}"
                                )));
                            };
                            model.book(row.get(0), *seats, takes);
                            cov.booked += 1;
                        }
                        Err(r) if r.is("PT409", "insufficient_credit") => {
                            prop_assert!(
                                expected.is_none(),
                                "{}: refused for insufficient credit, though the model pays with {:?}: {:?}",
                                at, expected, model
                            );
                            cov.refused += 1;
                        }
                        Err(r) => return Err(TestCaseError::fail(format!("{at}: {r:?}"))),
                    }
                }
                Step::Cancel(pick) => {
                    if model.bookings.is_empty() {
                        continue;
                    }
                    let b = pick.index(model.bookings.len());
                    let id = model.bookings[b].id.clone();
                    let (res, _) = transaction_as(&mut api, &user, false, |tx| {
                        tx.query_one(CANCEL, &[&id])
                    });
                    let (refunded, into_expired) = model.cancel(b);
                    match res.map_err(Refusal::of) {
                        Ok(_) => prop_assert!(refunded, "{}: cancelled twice", at),
                        Err(r) => prop_assert!(
                            !refunded && r.is("PT409", "transition"),
                            "{}: {:?}",
                            at,
                            r
                        ),
                    }
                    if refunded {
                        cov.refunded += 1;
                        cov.refunds_into_expired_lots += usize::from(into_expired > 0);
                    } else {
                        cov.cancelled_again += 1;
                    }
                }
                Step::TimePasses(pick) => {
                    let expiring: Vec<usize> = (0..model.lots.len())
                        .filter(|&i| model.lots[i].expiry != Expiry::Never)
                        .collect();
                    if expiring.is_empty() {
                        continue;
                    }
                    let i = expiring[pick.index(expiring.len())];
                    admin
                        .execute(
                            "UPDATE booking.credit_lots SET expires_at = now() - interval '1 minute' WHERE id = $1::text::uuid",
                            &[&model.lots[i].id],
                        )
                        .unwrap();
                    model.lots[i].expiry = Expiry::Passed;
                    cov.lots_expired += 1;
                }
                Step::ExpireCredits => {
                    let mut tx = api.transaction().unwrap();
                    as_persona(&mut tx, "service_role", None);
                    let closed: i32 = tx
                        .query_one("SELECT booking.expire_credits()", &[])
                        .unwrap()
                        .get(0);
                    tx.commit().unwrap();
                    let expected = model.close_expired();
                    prop_assert_eq!(closed as usize, expected, "{}: lots expire_credits() closed", at);
                    cov.lots_closed_by_expire_credits += expected;
                }
            }
            let (lots, ledger) = observe(&mut admin, &user);
            let model_lots: Vec<(String, i32)> = model
                .lots
                .iter()
                .map(|l| (l.id.clone(), l.remaining))
                .collect();
            prop_assert_eq!(lots, model_lots, "{}: the lots' remainders", &at);
            let mut model_ledger = model.ledger.clone();
            model_ledger.sort();
            prop_assert_eq!(ledger, model_ledger, "{}: the ledger", &at);
            let s = sums(&mut admin, &user);
            let b = i64::from(model.balance());
            prop_assert_eq!(
                &s,
                &Sums { balance: b, ledger: b, lots: b, lowest: s.lowest },
                "{}: balance = ledger = lots = the model's",
                &at
            );
            prop_assert!(s.lowest >= 0, "{}: the balance went negative: {:?}", at, s);
        }
        Ok(())
    });
    eprintln!(
        "random histories ({:.1} s): {:?}",
        started.elapsed().as_secs_f64(),
        coverage.borrow()
    );
    if let Err(e) = result {
        panic!("{e}");
    }
    let cov = coverage.borrow();
    // The histories went where the rules differ.
    assert!(
        cov.refused > 0
            && cov.refunded > 0
            && cov.refunds_into_expired_lots > 0
            && cov.lots_closed_by_expire_credits > 0,
        "{cov:?}"
    );
}
