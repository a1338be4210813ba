//! External calendars through the sync worker's path (PostgREST's login role, then service_role
//! for the transaction, as the worker calls booking.upsert_calendar_events).
//!
//! Replay: a provider's history of 300 events (timed ones in every spelling of a time, all-day
//! ones, recurring ones with EXDATEs and overrides, in New York and across its DST change),
//! many updated several times with increasing `updated` versions, some deleted (a few brought
//! back later), delivered as 1000 deliveries of 1 to 5 event versions, 30% of them duplicates
//! of earlier deliveries or older versions delivered after newer ones; half the stretches of
//! deliveries applied by 4 workers at once (READ COMMITTED and REPEATABLE READ, serialization
//! failures tried again), the others one by one with their counts checked against a model.
//! After every stretch the busy time is what the events hold (materializing every event again
//! changes nothing); at the end one row per (integration, external id, recurrence id), each in
//! the state of its latest version (a model in Rust), deleted ones as cancelled tombstones
//! without busy time, and the busy time equal to the model's and to what one fresh delivery of
//! the final states gives a second integration. No deadlock.
//!
//! DST: in 10 zones (half-hour DST, +5:45, +12:45, a midnight gap...), all-day events on each
//! DST transition day (and an ordinary day) hold exactly the local midnights (Postgres's own
//! `date::timestamp AT TIME ZONE zone`, and a local time in a gap maps to the end of the gap,
//! computed here from the zone's offsets), a weekly 10:00-11:00 event across each change starts
//! at 10:00 local every week and lasts an hour, and the slots of a resource open around the
//! clock, linked to the integration, are exactly the free ones around them.

#[path = "../common/mod.rs"]
mod common;

use booking_core::chrono::{
    DateTime, Datelike, Duration, FixedOffset, NaiveDate, NaiveDateTime, TimeZone, Weekday,
};
use booking_core::chrono_tz::Tz;
use common::{
    as_persona, at_once, connect_as_api, create_authenticator, sqlstate, Cluster, Retries,
    TENANTS_SQL,
};
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};

const LAB: &str = "00000000-0000-4000-a000-000000000001";
const REPLAY: &str = "00000000-0000-4000-a000-0000000007d1";
const FRESH: &str = "00000000-0000-4000-a000-0000000007d2";
const DST_ORG: &str = "00000000-0000-4000-a000-00000000d500";
const ZONE: &str = "America/New_York";
const MICROS: i64 = 1_000_000;

fn start(name: &str) -> (Cluster, postgres::Client, String) {
    let cluster = Cluster::start(name);
    let mut admin = cluster.create_db(name, true);
    admin.batch_execute(TENANTS_SQL).unwrap();
    create_authenticator(&mut admin);
    // a deadlock would be reported (and counted) quickly rather than after a second
    admin
        .batch_execute(&format!(
            "ALTER DATABASE {name} SET deadlock_timeout = '100ms';"
        ))
        .unwrap();
    let url = cluster.url(name);
    (cluster, admin, url)
}

/// A small deterministic generator (splitmix64): the same history on every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    /// An integer in `lo..=hi`.
    fn int(&mut self, lo: i64, hi: i64) -> i64 {
        lo + (self.next() % (hi - lo + 1) as u64) as i64
    }
    fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }
    fn pick<'a, T>(&mut self, v: &'a [T]) -> &'a T {
        &v[self.below(v.len())]
    }
    fn shuffle<T>(&mut self, v: &mut [T]) {
        for i in (1..v.len()).rev() {
            let j = self.below(i + 1);
            v.swap(i, j);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The worker's calls
// ---------------------------------------------------------------------------------------------

/// What a delivery reports.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Counts {
    inserted: i64,
    updated: i64,
    deleted: i64,
    unchanged: i64,
}

impl Counts {
    fn total(&self) -> i64 {
        self.inserted + self.updated + self.deleted + self.unchanged
    }
}

fn parse_counts(text: &str) -> Counts {
    let v: Value = serde_json::from_str(text).unwrap();
    let n = |k: &str| v[k].as_i64().unwrap_or_else(|| panic!("no {k} in {text}"));
    Counts {
        inserted: n("inserted"),
        updated: n("updated"),
        deleted: n("deleted"),
        unchanged: n("unchanged"),
    }
}

/// One delivery as the sync worker sends it: on a `connect_as_api` connection, service_role for
/// the transaction (PostgREST's SET LOCAL ROLE and claims). A serialization failure (REPEATABLE
/// READ) and a deadlock are tried again, and counted.
fn deliver(
    conn: &mut postgres::Client,
    repeatable_read: bool,
    integration: &str,
    events: &str,
) -> (Result<Counts, postgres::Error>, Retries) {
    let mut retries = Retries::default();
    loop {
        let mut tx = conn
            .build_transaction()
            .isolation_level(if repeatable_read {
                postgres::IsolationLevel::RepeatableRead
            } else {
                postgres::IsolationLevel::ReadCommitted
            })
            .start()
            .unwrap();
        as_persona(&mut tx, "service_role", None);
        let res = tx
            .query_one(
                "SELECT booking.upsert_calendar_events($1::text::uuid, $2::text::jsonb)::text",
                &[&integration, &events],
            )
            .map(|r| parse_counts(&r.get::<_, String>(0)))
            .and_then(|c| tx.commit().map(|_| c));
        match res {
            Err(e)
                if repeatable_read
                    && sqlstate(&e).as_deref() == Some("40001")
                    && retries.serialization < 500 =>
            {
                retries.serialization += 1
            }
            Err(e) if sqlstate(&e).as_deref() == Some("40P01") && retries.deadlock < 20 => {
                retries.deadlock += 1
            }
            res => return (res, retries),
        }
    }
}

fn deliver_ok(conn: &mut postgres::Client, integration: &str, events: &Value) -> Counts {
    let (res, retries) = deliver(conn, false, integration, &events.to_string());
    assert_eq!(retries.deadlock, 0, "no deadlock");
    res.unwrap_or_else(|e| panic!("delivery refused: {e:?}\n{events}"))
}

// ---------------------------------------------------------------------------------------------
// Times
// ---------------------------------------------------------------------------------------------

fn tz(name: &str) -> Tz {
    name.parse().unwrap()
}

fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

fn at(d: NaiveDate, h: u32, m: u32) -> NaiveDateTime {
    d.and_hms_opt(h, m, 0).unwrap()
}

/// The instant (Unix microseconds) of a local time that exists once in the zone (the model
/// keeps its local times away from DST changes).
fn instant(zone: &str, local: NaiveDateTime) -> i64 {
    tz(zone)
        .from_local_datetime(&local)
        .single()
        .unwrap_or_else(|| panic!("{local} is not a single instant in {zone}"))
        .timestamp_micros()
}

fn midnight(zone: &str, d: NaiveDate) -> i64 {
    instant(zone, at(d, 0, 0))
}

fn utc_text(micros: i64) -> String {
    DateTime::from_timestamp_micros(micros)
        .unwrap()
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

/// An instant as text with an offset of its own (the same instant).
fn offset_text(micros: i64, offset_seconds: i32, fraction: bool) -> String {
    let t = DateTime::from_timestamp_micros(micros)
        .unwrap()
        .with_timezone(&FixedOffset::east_opt(offset_seconds).unwrap());
    if fraction {
        t.format("%Y-%m-%dT%H:%M:%S%.6f%:z").to_string()
    } else {
        t.format("%Y-%m-%dT%H:%M:%S%:z").to_string()
    }
}

fn local_text(local: NaiveDateTime) -> String {
    local.format("%Y-%m-%dT%H:%M:%S").to_string()
}

fn date_text(d: NaiveDate) -> String {
    d.format("%Y-%m-%d").to_string()
}

// ---------------------------------------------------------------------------------------------
// The provider's history
// ---------------------------------------------------------------------------------------------

/// An event's row as calendar_events should hold it.
#[derive(Clone, Debug, PartialEq)]
struct Row {
    title: Option<String>,
    status: String,
    transparency: String,
    event_type: String,
    all_day: bool,
    starts_at: Option<i64>,
    ends_at: Option<i64>,
    start_date: Option<String>,
    end_date: Option<String>,
    time_zone: Option<String>,
    recurrence_rule: Option<String>,
    exdates: Vec<i64>,
    source_updated_at: Option<i64>,
    deleted: bool,
}

/// How a series repeats.
#[derive(Clone, Debug)]
enum Step {
    /// every n days (DAILY, WEEKLY, WEEKLY;INTERVAL=2)
    Days(i64),
    /// WEEKLY;BYDAY=MO,WE,FR from a Monday
    MoWeFr,
}

/// A series as one version has it.
#[derive(Clone, Debug)]
struct Series {
    all_day: bool,
    first: NaiveDate,
    /// local start (timed)
    time: (u32, u32),
    duration_minutes: i64,
    /// days each occurrence spans (all-day)
    span_days: i64,
    step: Step,
    count: usize,
    /// the local dates of its EXDATEs
    exdates: Vec<NaiveDate>,
}

impl Series {
    fn rule(&self) -> String {
        match self.step {
            Step::Days(1) => format!("FREQ=DAILY;COUNT={}", self.count),
            Step::Days(7) => format!("FREQ=WEEKLY;COUNT={}", self.count),
            Step::Days(14) => format!("FREQ=WEEKLY;INTERVAL=2;COUNT={}", self.count),
            Step::Days(n) => panic!("no rule for every {n} days"),
            Step::MoWeFr => format!("FREQ=WEEKLY;BYDAY=MO,WE,FR;COUNT={}", self.count),
        }
    }

    /// The dates of its occurrences (the first start counts as the first).
    fn dates(&self, count: usize) -> Vec<NaiveDate> {
        match self.step {
            Step::Days(n) => (0..count as i64)
                .map(|k| self.first + Duration::days(n * k))
                .collect(),
            Step::MoWeFr => {
                let mut v = vec![self.first];
                let mut d = self.first;
                while v.len() < count {
                    d = d.succ_opt().unwrap();
                    if matches!(d.weekday(), Weekday::Mon | Weekday::Wed | Weekday::Fri) {
                        v.push(d);
                    }
                }
                v
            }
        }
    }

    fn start_local(&self, d: NaiveDate) -> NaiveDateTime {
        at(d, self.time.0, self.time.1)
    }
}

/// One version of an event as the provider sends it, and what it should leave.
#[derive(Clone, Debug)]
struct Version {
    body: Value,
    updated: i64,
    deleted: bool,
    /// the row it leaves (not for a deletion, whose row depends on what was there)
    row: Option<Row>,
    series: Option<Series>,
}

/// One (external id, recurrence id) of the calendar and its versions, oldest first.
#[derive(Clone, Debug)]
struct Key {
    external_id: String,
    recurrence_id: String,
    /// an override: the date of the occurrence it replaces
    replaces: Option<NaiveDate>,
    versions: Vec<Version>,
}

struct History {
    keys: Vec<Key>,
    /// every version once, in the provider's order (by `updated`): (key, version)
    stream: Vec<(usize, usize)>,
}

/// The parts every non-deleted version shares: title, status, transparency, event type.
fn common_fields(rng: &mut Rng, name: &str, version: usize, series: bool) -> (Value, Row) {
    let mut body = json!({});
    let title = match rng.below(10) {
        0 => None,
        1 => Some(format!("Réunion ☕ {name} v{version}")),
        _ => Some(format!("{name} v{version}")),
    };
    if let Some(t) = &title {
        body["title"] = json!(t);
    }
    let status = match rng.below(100) {
        0..=54 => None,
        55..=74 => Some("confirmed"),
        75..=89 => Some("tentative"),
        _ if series && rng.chance(50) => Some("confirmed"),
        _ => Some("cancelled"),
    };
    if let Some(s) = status {
        body["status"] = json!(s);
    }
    let transparency = match rng.below(100) {
        0..=79 => None,
        80..=87 => Some("opaque"),
        _ => Some("transparent"),
    };
    if let Some(t) = transparency {
        body["transparency"] = json!(t);
    }
    let event_type = match rng.below(100) {
        0..=89 => None,
        90..=94 => Some("focusTime"),
        _ => Some("outOfOffice"),
    };
    if let Some(t) = event_type {
        body["event_type"] = json!(t);
    }
    let row = Row {
        title,
        status: status.unwrap_or("confirmed").to_owned(),
        transparency: transparency.unwrap_or("opaque").to_owned(),
        event_type: event_type.unwrap_or("default").to_owned(),
        all_day: false,
        starts_at: None,
        ends_at: None,
        start_date: None,
        end_date: None,
        time_zone: None,
        recurrence_rule: None,
        exdates: vec![],
        source_updated_at: None,
        deleted: false,
    };
    (body, row)
}

/// A timed event (or override) on `day`: its start and end in one of the spellings a delivery
/// may use (UTC, an offset of its own, floating local time in the integration's zone or in a
/// zone of its own).
fn timed(rng: &mut Rng, name: &str, version: usize, day: NaiveDate) -> (Value, Row) {
    let (mut body, mut row) = common_fields(rng, name, version, false);
    let start = at(day, rng.int(7, 19) as u32, 15 * rng.int(0, 3) as u32);
    let end = start + Duration::minutes(15 * rng.int(1, 16));
    match rng.below(5) {
        0 => {
            let (s, e) = (instant(ZONE, start), instant(ZONE, end));
            body["start"] = json!(utc_text(s));
            body["end"] = json!(utc_text(e));
            (row.starts_at, row.ends_at) = (Some(s), Some(e));
        }
        1 => {
            let (s, e) = (instant(ZONE, start), instant(ZONE, end));
            let offset = *rng.pick(&[19800, -10800, 0, 35100, -28800]);
            body["start"] = json!(offset_text(s, offset, false));
            body["end"] = json!(offset_text(e, offset, false));
            (row.starts_at, row.ends_at) = (Some(s), Some(e));
        }
        2 | 3 => {
            body["start"] = json!(local_text(start));
            body["end"] = json!(local_text(end));
            (row.starts_at, row.ends_at) = (Some(instant(ZONE, start)), Some(instant(ZONE, end)));
        }
        _ => {
            body["start"] = json!(local_text(start));
            body["end"] = json!(local_text(end));
            body["time_zone"] = json!("Europe/Paris");
            row.time_zone = Some("Europe/Paris".to_owned());
            (row.starts_at, row.ends_at) = (
                Some(instant("Europe/Paris", start)),
                Some(instant("Europe/Paris", end)),
            );
        }
    }
    (body, row)
}

/// An all-day event from `day` for 1 to 3 days, in the integration's zone or (sometimes) a zone
/// of its own.
fn all_day(rng: &mut Rng, name: &str, version: usize, day: NaiveDate, days: i64) -> (Value, Row) {
    let (mut body, mut row) = common_fields(rng, name, version, false);
    let end = day + Duration::days(days);
    body["all_day"] = json!(true);
    body["start_date"] = json!(date_text(day));
    if days > 1 || rng.chance(50) {
        body["end_date"] = json!(date_text(end));
    }
    let zone = if rng.chance(10) {
        body["time_zone"] = json!("Asia/Tokyo");
        row.time_zone = Some("Asia/Tokyo".to_owned());
        "Asia/Tokyo"
    } else {
        ZONE
    };
    row.all_day = true;
    row.start_date = Some(date_text(day));
    row.end_date = Some(date_text(end));
    (row.starts_at, row.ends_at) = (Some(midnight(zone, day)), Some(midnight(zone, end)));
    (body, row)
}

/// A version of a series: its rule with this version's count and EXDATEs.
fn series_version(rng: &mut Rng, name: &str, version: usize, s: &Series) -> (Value, Row) {
    let (mut body, mut row) = common_fields(rng, name, version, true);
    row.recurrence_rule = Some(s.rule());
    body["recurrence_rule"] = json!(s.rule());
    if s.all_day {
        let end = s.first + Duration::days(s.span_days);
        body["all_day"] = json!(true);
        body["start_date"] = json!(date_text(s.first));
        body["end_date"] = json!(date_text(end));
        row.all_day = true;
        row.start_date = Some(date_text(s.first));
        row.end_date = Some(date_text(end));
        (row.starts_at, row.ends_at) = (Some(midnight(ZONE, s.first)), Some(midnight(ZONE, end)));
        body["exdates"] = json!(s.exdates.iter().map(|d| date_text(*d)).collect::<Vec<_>>());
        // a date-only exclusion is stored as that local date's midnight in the event's zone
        row.exdates = s.exdates.iter().map(|d| midnight(ZONE, *d)).collect();
    } else {
        let start = s.start_local(s.first);
        let end = start + Duration::minutes(s.duration_minutes);
        let (si, ei) = (instant(ZONE, start), instant(ZONE, end));
        if rng.chance(70) {
            body["start"] = json!(local_text(start));
            body["end"] = json!(local_text(end));
        } else {
            body["start"] = json!(utc_text(si));
            body["end"] = json!(utc_text(ei));
        }
        (row.starts_at, row.ends_at) = (Some(si), Some(ei));
        let mut texts = vec![];
        for d in &s.exdates {
            let local = s.start_local(*d);
            let i = instant(ZONE, local);
            texts.push(if rng.chance(50) {
                local_text(local)
            } else {
                utc_text(i)
            });
            row.exdates.push(i);
        }
        body["exdates"] = json!(texts);
    }
    (body, row)
}

impl History {
    fn generate(rng: &mut Rng, year: i32) -> History {
        let mut keys: Vec<Key> = vec![];
        // what each key's versions are: a closure per kind, called with the version number
        enum Kind {
            Timed,
            AllDay,
            Series(Series),
            Override { master: Series, day: NaiveDate },
        }
        let mut plans: Vec<(String, String, Option<NaiveDate>, Kind)> = vec![];
        for n in 0..300 {
            let name = format!("ev-{n:03}");
            let kind = match n {
                0..=11 => {
                    let step = match n % 4 {
                        0 => Step::Days(7),
                        1 => Step::Days(1),
                        2 => Step::Days(14),
                        _ => Step::MoWeFr,
                    };
                    let mut first = date(year, 2, 20) + Duration::days(rng.int(0, 40));
                    if matches!(step, Step::MoWeFr) {
                        while first.weekday() != Weekday::Mon {
                            first = first.succ_opt().unwrap();
                        }
                    }
                    Kind::Series(Series {
                        all_day: false,
                        first,
                        time: (rng.int(8, 17) as u32, 15 * rng.int(0, 3) as u32),
                        duration_minutes: 15 * rng.int(2, 8),
                        span_days: 0,
                        step,
                        count: rng.int(4, 10) as usize,
                        exdates: vec![],
                    })
                }
                12..=15 => Kind::Series(Series {
                    all_day: true,
                    first: date(year, 2, 20) + Duration::days(rng.int(0, 40)),
                    time: (0, 0),
                    duration_minutes: 0,
                    span_days: rng.int(1, 2),
                    step: if n % 2 == 0 {
                        Step::Days(1)
                    } else {
                        Step::Days(7)
                    },
                    count: rng.int(3, 8) as usize,
                    exdates: vec![],
                }),
                _ if rng.chance(25) => Kind::AllDay,
                _ => Kind::Timed,
            };
            // a series' overrides, each replacing one of its first occurrences
            if let Kind::Series(s) = &kind {
                let dates = s.dates(s.count);
                let mut chosen = BTreeSet::new();
                for _ in 0..rng.int(0, 3) {
                    chosen.insert(*rng.pick(&dates));
                }
                for d in chosen {
                    let rid = if s.all_day {
                        d.format("%Y%m%d").to_string()
                    } else {
                        utc_text(instant(ZONE, s.start_local(d)))
                    };
                    plans.push((
                        name.clone(),
                        rid,
                        Some(d),
                        Kind::Override {
                            master: s.clone(),
                            day: d,
                        },
                    ));
                }
            }
            plans.push((name, String::new(), None, kind));
        }
        for (name, rid, replaces, kind) in plans {
            let n_versions = match rng.below(100) {
                0..=29 => 1,
                30..=49 => 2,
                50..=74 => rng.int(3, 4) as usize,
                _ => rng.int(5, 8) as usize,
            };
            let final_delete = rng.chance(match kind {
                Kind::Override { .. } => 25,
                _ => 12,
            });
            let middle_delete = if n_versions >= 3 && rng.chance(8) {
                Some(rng.int(1, n_versions as i64 - 2) as usize)
            } else {
                None
            };
            let base = date(year, 2, 1) + Duration::days(rng.int(0, 110));
            let mut versions = vec![];
            for v in 0..n_versions {
                let deleted = (final_delete && v == n_versions - 1) || middle_delete == Some(v);
                let (mut body, row, series) = if deleted {
                    let mut body = json!({"deleted": true});
                    if rng.chance(30) {
                        body["status"] = json!("cancelled");
                    }
                    (body, None, None)
                } else {
                    match &kind {
                        Kind::Timed => {
                            let day = base + Duration::days(rng.int(0, 3));
                            let (b, r) = timed(rng, &name, v, day);
                            (b, Some(r), None)
                        }
                        Kind::AllDay => {
                            let day = base + Duration::days(rng.int(0, 3));
                            let days = *rng.pick(&[1, 1, 1, 2, 3]);
                            let (b, r) = all_day(rng, &name, v, day, days);
                            (b, Some(r), None)
                        }
                        Kind::Series(s) => {
                            let mut s = s.clone();
                            if v > 0 {
                                s.count = (s.count as i64 + rng.int(-2, 2)).clamp(3, 12) as usize;
                            }
                            let dates = s.dates(s.count);
                            let mut ex = BTreeSet::new();
                            for _ in 0..rng.int(0, 2) {
                                ex.insert(*rng.pick(&dates[1..]));
                            }
                            s.exdates = ex.into_iter().collect();
                            let (b, r) = series_version(rng, &name, v, &s);
                            (b, Some(r), Some(s))
                        }
                        Kind::Override { master, day } => {
                            if master.all_day {
                                let moved = *day + Duration::days(rng.int(0, 2));
                                let (b, r) = all_day(rng, &name, v, moved, 1);
                                (b, Some(r), None)
                            } else {
                                let moved = *day + Duration::days(rng.int(0, 1));
                                let (b, r) = timed(rng, &name, v, moved);
                                (b, Some(r), None)
                            }
                        }
                    }
                };
                body["external_id"] = json!(name);
                if !rid.is_empty() {
                    body["recurrence_id"] = json!(rid);
                } else {
                    match rng.below(10) {
                        0 => body["recurrence_id"] = json!(""),
                        1 => body["recurrence_id"] = Value::Null,
                        _ => {}
                    }
                }
                versions.push(Version {
                    body,
                    updated: 0,
                    deleted,
                    row,
                    series,
                });
            }
            keys.push(Key {
                external_id: name,
                recurrence_id: rid,
                replaces,
                versions,
            });
        }
        // the provider's order: each key's versions in turn, interleaved; `updated` increases
        let mut order: Vec<usize> = keys
            .iter()
            .enumerate()
            .flat_map(|(i, k)| std::iter::repeat_n(i, k.versions.len()))
            .collect();
        rng.shuffle(&mut order);
        let mut next = vec![0usize; keys.len()];
        let mut clock = midnight("UTC", date(year - 1, 6, 1)) + rng.int(0, MICROS);
        let mut stream = vec![];
        for k in order {
            clock += rng.int(1, 3600 * MICROS);
            let v = next[k];
            next[k] += 1;
            let version = &mut keys[k].versions[v];
            version.updated = clock;
            version.body["updated"] = json!(match rng.below(3) {
                0 => offset_text(clock, 0, true).replace("+00:00", "Z"),
                1 => offset_text(clock, 19800, true),
                _ => offset_text(clock, -18000, true),
            });
            if let Some(row) = &mut version.row {
                row.source_updated_at = Some(clock);
            }
            stream.push((k, v));
        }
        History { keys, stream }
    }

    fn body(&self, (k, v): (usize, usize)) -> &Value {
        &self.keys[k].versions[v].body
    }

    fn latest(&self, k: usize) -> &Version {
        self.keys[k].versions.last().unwrap()
    }

    /// The busy intervals the final states hold, per (external id, recurrence id): (start, end,
    /// status, transparency), sorted.
    fn busy(&self) -> BTreeMap<(String, String), Vec<Busy>> {
        let mut out = BTreeMap::new();
        for (k, key) in self.keys.iter().enumerate() {
            let v = self.latest(k);
            let Some(row) = &v.row else { continue };
            if row.status == "cancelled" {
                continue;
            }
            let mut busy = vec![];
            match &v.series {
                None => busy.push((
                    row.starts_at.unwrap(),
                    row.ends_at.unwrap(),
                    row.status.clone(),
                    row.transparency.clone(),
                )),
                Some(s) => {
                    // every override of the series replaces its date, deleted or not
                    let replaced: BTreeSet<NaiveDate> = self
                        .keys
                        .iter()
                        .filter(|o| o.external_id == key.external_id)
                        .filter_map(|o| o.replaces)
                        .collect();
                    for d in s.dates(s.count) {
                        if s.exdates.contains(&d) || replaced.contains(&d) {
                            continue;
                        }
                        let (start, end) = if s.all_day {
                            (
                                midnight(ZONE, d),
                                midnight(ZONE, d + Duration::days(s.span_days)),
                            )
                        } else {
                            let start = instant(ZONE, s.start_local(d));
                            (start, start + s.duration_minutes * 60 * MICROS)
                        };
                        busy.push((start, end, row.status.clone(), row.transparency.clone()));
                    }
                }
            }
            busy.sort();
            if !busy.is_empty() {
                out.insert((key.external_id.clone(), key.recurrence_id.clone()), busy);
            }
        }
        out
    }
}

type Busy = (i64, i64, String, String);

// ---------------------------------------------------------------------------------------------
// Deliveries
// ---------------------------------------------------------------------------------------------

#[derive(Clone, Debug, PartialEq)]
enum Origin {
    /// the provider's stream, in order
    Original,
    /// a copy of an earlier delivery
    Duplicate,
    /// older versions, after newer ones of the same events were delivered
    Stale,
}

#[derive(Clone, Debug)]
struct Delivery {
    items: Vec<(usize, usize)>,
    origin: Origin,
    /// the original delivery (its position among the originals) after which it makes sense
    after: usize,
}

/// 700 deliveries carrying the stream in order (1 to 5 versions each), plus 150 duplicates of
/// earlier ones and 150 of older versions, each placed after what it repeats or undercuts.
fn plan_deliveries(rng: &mut Rng, h: &History) -> Vec<Delivery> {
    const ORIGINALS: usize = 700;
    assert!(
        (ORIGINALS..=ORIGINALS * 5).contains(&h.stream.len()),
        "{} versions do not fit {ORIGINALS} deliveries of 1 to 5",
        h.stream.len()
    );
    let mut sizes = vec![1usize; ORIGINALS];
    let mut extra = h.stream.len() - ORIGINALS;
    while extra > 0 {
        let i = rng.below(ORIGINALS);
        if sizes[i] < 5 {
            sizes[i] += 1;
            extra -= 1;
        }
    }
    let mut originals = vec![];
    let mut pos = 0;
    for (j, n) in sizes.iter().enumerate() {
        originals.push(Delivery {
            items: h.stream[pos..pos + n].to_vec(),
            origin: Origin::Original,
            after: j,
        });
        pos += n;
    }
    let mut placed: Vec<((usize, usize, u64), Delivery)> = originals
        .iter()
        .enumerate()
        .map(|(j, d)| ((j, 0, 0), d.clone()))
        .collect();
    for _ in 0..150 {
        let i = rng.below(ORIGINALS);
        let p = rng.int(i as i64, ORIGINALS as i64 - 1) as usize;
        let mut d = originals[i].clone();
        d.origin = Origin::Duplicate;
        d.after = i;
        placed.push(((p, 1, rng.next()), d));
    }
    let mut stale = 0;
    while stale < 150 {
        let p = rng.int(40, ORIGINALS as i64 - 1) as usize;
        let delivered: Vec<(usize, usize)> = originals[..=p]
            .iter()
            .flat_map(|d| d.items.clone())
            .collect();
        let mut newest: BTreeMap<usize, usize> = BTreeMap::new();
        for &(k, v) in &delivered {
            let e = newest.entry(k).or_insert(v);
            *e = (*e).max(v);
        }
        let mut older: Vec<(usize, usize)> = delivered
            .into_iter()
            .filter(|(k, v)| *v < newest[k])
            .collect();
        if older.is_empty() {
            continue;
        }
        rng.shuffle(&mut older);
        older.truncate(rng.int(1, 5) as usize);
        placed.push((
            (p, 1, rng.next()),
            Delivery {
                items: older,
                origin: Origin::Stale,
                after: p,
            },
        ));
        stale += 1;
    }
    placed.sort_by_key(|(k, _)| *k);
    placed.into_iter().map(|(_, d)| d).collect()
}

fn delivery_json(h: &History, d: &Delivery) -> String {
    Value::Array(d.items.iter().map(|&i| h.body(i).clone()).collect()).to_string()
}

/// What a delivery applied one at a time reports, given the version each key holds (updated).
fn expected_counts(h: &History, d: &Delivery, held: &mut [Option<usize>]) -> Counts {
    let mut c = Counts::default();
    for &(k, v) in &d.items {
        match held[k] {
            Some(s) if v <= s => c.unchanged += 1,
            old => {
                if h.keys[k].versions[v].deleted {
                    c.deleted += 1;
                } else if old.is_none() {
                    c.inserted += 1;
                } else {
                    c.updated += 1;
                }
                held[k] = Some(v);
            }
        }
    }
    c
}

// ---------------------------------------------------------------------------------------------
// What the database holds
// ---------------------------------------------------------------------------------------------

fn stored_rows(
    admin: &mut postgres::Client,
    integration: &str,
) -> BTreeMap<(String, String), (Row, Option<String>)> {
    admin
        .query(
            "SELECT external_id, recurrence_id, title, status, transparency, event_type, all_day,
                    CASE WHEN isfinite(starts_at) THEN (extract(epoch FROM starts_at) * 1000000)::int8 END,
                    CASE WHEN isfinite(ends_at) THEN (extract(epoch FROM ends_at) * 1000000)::int8 END,
                    start_date::text, end_date::text, time_zone, recurrence_rule,
                    ARRAY(SELECT (extract(epoch FROM x) * 1000000)::int8
                          FROM unnest(exdates) WITH ORDINALITY AS u(x, n) ORDER BY n),
                    (extract(epoch FROM source_updated_at) * 1000000)::int8, deleted, expansion_note
             FROM booking.calendar_events WHERE integration_id = $1::text::uuid",
            &[&integration],
        )
        .unwrap()
        .iter()
        .map(|r| {
            (
                (r.get(0), r.get(1)),
                (
                    Row {
                        title: r.get(2),
                        status: r.get(3),
                        transparency: r.get(4),
                        event_type: r.get(5),
                        all_day: r.get(6),
                        starts_at: r.get(7),
                        ends_at: r.get(8),
                        start_date: r.get(9),
                        end_date: r.get(10),
                        time_zone: r.get(11),
                        recurrence_rule: r.get(12),
                        exdates: r.get(13),
                        source_updated_at: r.get(14),
                        deleted: r.get(15),
                    },
                    r.get(16),
                ),
            )
        })
        .collect()
}

fn stored_busy(
    admin: &mut postgres::Client,
    integration: &str,
) -> BTreeMap<(String, String), Vec<Busy>> {
    let mut out: BTreeMap<(String, String), Vec<Busy>> = BTreeMap::new();
    for r in admin
        .query(
            "SELECT e.external_id, e.recurrence_id, (extract(epoch FROM lower(b.during)) * 1000000)::int8,
                    (extract(epoch FROM upper(b.during)) * 1000000)::int8, b.status, b.transparency,
                    b.organization_id = e.organization_id AND b.integration_id = e.integration_id
                    AND b.status = e.status AND b.transparency = e.transparency
                    AND lower_inc(b.during) AND NOT upper_inc(b.during)
             FROM booking.calendar_busy b JOIN booking.calendar_events e ON e.id = b.event_id
             WHERE b.integration_id = $1::text::uuid
             ORDER BY 1, 2, 3, 4",
            &[&integration],
        )
        .unwrap()
    {
        assert!(
            r.get::<_, bool>(6),
            "a busy row of {:?} agrees with its event",
            (r.get::<_, String>(0), r.get::<_, String>(1))
        );
        out.entry((r.get(0), r.get(1))).or_default().push((
            r.get(2),
            r.get(3),
            r.get(4),
            r.get(5),
        ));
    }
    for v in out.values_mut() {
        v.sort();
    }
    out
}

/// The (external id, recurrence id) whose busy rows are not what materializing every event of
/// the integration again writes (in a transaction rolled back).
fn stale_busy(admin: &mut postgres::Client, integration: &str) -> Vec<String> {
    let mut tx = admin.transaction().unwrap();
    tx.execute(
        "CREATE TEMP TABLE busy_before ON COMMIT DROP AS
         SELECT event_id, during, status, transparency FROM booking.calendar_busy WHERE integration_id = $1::text::uuid",
        &[&integration],
    )
    .unwrap();
    tx.execute(
        "SELECT count(booking_internal.materialize_calendar_event(id)) FROM booking.calendar_events
         WHERE integration_id = $1::text::uuid",
        &[&integration],
    )
    .unwrap();
    let keys = tx
        .query(
            "WITH now_busy AS (SELECT event_id, during, status, transparency FROM booking.calendar_busy
                               WHERE integration_id = $1::text::uuid),
                  diff AS ((TABLE busy_before EXCEPT ALL TABLE now_busy) UNION ALL (TABLE now_busy EXCEPT ALL TABLE busy_before))
             SELECT DISTINCT e.external_id || '/' || e.recurrence_id FROM diff JOIN booking.calendar_events e ON e.id = diff.event_id
             ORDER BY 1",
            &[&integration],
        )
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    tx.rollback().unwrap();
    keys
}

/// The differences of two busy maps, at most a few, for a failure message.
fn busy_differences(
    a: &BTreeMap<(String, String), Vec<Busy>>,
    b: &BTreeMap<(String, String), Vec<Busy>>,
) -> Vec<String> {
    let keys: BTreeSet<_> = a.keys().chain(b.keys()).collect();
    keys.into_iter()
        .filter(|k| a.get(*k) != b.get(*k))
        .map(|k| {
            format!(
                "{k:?}:\n    {:?}\n    {:?}",
                a.get(k).map(|v| show_busy(v)),
                b.get(k).map(|v| show_busy(v))
            )
        })
        .collect()
}

fn show_busy(v: &[Busy]) -> Vec<String> {
    v.iter()
        .map(|(s, e, st, tr)| format!("[{}, {}) {st} {tr}", utc_text(*s), utc_text(*e)))
        .collect()
}

// ---------------------------------------------------------------------------------------------
// 1. Replays, reorderings, concurrency
// ---------------------------------------------------------------------------------------------

struct Job {
    repeatable_read: bool,
    deliveries: Vec<(usize, String)>,
}

#[test]
fn replayed_reordered_and_concurrent_deliveries_leave_each_event_at_its_latest_version() {
    let (_cluster, mut admin, url) = start("calendar_replay");
    let year: i32 = admin
        .query_one("SELECT extract(year FROM now())::int + 1", &[])
        .unwrap()
        .get(0);
    admin
        .batch_execute(&format!(
            "INSERT INTO booking.calendar_integrations (id, organization_id, provider, calendar_id, name, time_zone) VALUES
               ('{REPLAY}', '{LAB}', 'google', 'replay@example.org', 'Replayed', '{ZONE}'),
               ('{FRESH}', '{LAB}', 'google', 'fresh@example.org', 'Fresh', '{ZONE}');"
        ))
        .unwrap();
    let mut rng = Rng(0x00C0_FFEE_CA1E_0DA5);
    let h = History::generate(&mut rng, year);
    let deliveries = plan_deliveries(&mut rng, &h);
    assert_eq!(deliveries.len(), 1000);
    let repeats = deliveries
        .iter()
        .filter(|d| d.origin != Origin::Original)
        .count();
    assert_eq!(repeats, 300, "30% duplicates or older versions");
    let versions = h.stream.len();
    let series = h
        .keys
        .iter()
        .filter(|k| k.versions.iter().any(|v| v.series.is_some()))
        .count();
    let overrides = h.keys.iter().filter(|k| k.replaces.is_some()).count();
    let deleted = (0..h.keys.len()).filter(|&k| h.latest(k).deleted).count();
    let revived = h
        .keys
        .iter()
        .filter(|k| {
            let n = k.versions.len();
            k.versions[..n - 1].iter().any(|v| v.deleted) && !k.versions[n - 1].deleted
        })
        .count();
    eprintln!(
        "history: {} keys ({series} series, {overrides} overrides), {versions} versions, {deleted} deleted at the end, {revived} deleted then revived",
        h.keys.len()
    );
    assert!(series >= 10 && overrides >= 5 && deleted >= 20 && revived >= 2);

    // The originals' positions: which segment each delivery falls in decides whether its
    // prerequisites were applied before it.
    let original_position: Vec<usize> = deliveries
        .iter()
        .enumerate()
        .filter(|(_, d)| d.origin == Origin::Original)
        .map(|(i, _)| i)
        .collect();
    const SEGMENT: usize = 100;
    let mut held: Vec<Option<usize>> = vec![None; h.keys.len()];
    let mut api = connect_as_api(&url);
    let mut retries = Retries::default();
    let mut concurrent_unchanged_checked = 0;
    for (segment, chunk) in deliveries.chunks(SEGMENT).enumerate() {
        let first = segment * SEGMENT;
        if segment % 2 == 0 {
            // one by one, alternately READ COMMITTED and REPEATABLE READ: the counts are the model's
            for (i, d) in chunk.iter().enumerate() {
                let expected = expected_counts(&h, d, &mut held);
                let (res, r) = deliver(&mut api, i % 2 == 1, REPLAY, &delivery_json(&h, d));
                retries = retries + r;
                let got = res.unwrap_or_else(|e| panic!("delivery {} refused: {e:?}", first + i));
                assert_eq!(
                    got,
                    expected,
                    "delivery {} ({:?}, {:?}): its counts",
                    first + i,
                    d.origin,
                    d.items
                );
            }
        } else {
            // four workers at once, two READ COMMITTED and two REPEATABLE READ
            let jobs: Vec<Job> = (0..4)
                .map(|w| Job {
                    repeatable_read: w >= 2,
                    deliveries: chunk
                        .iter()
                        .enumerate()
                        .filter(|(i, _)| i % 4 == w)
                        .map(|(i, d)| (first + i, delivery_json(&h, d)))
                        .collect(),
                })
                .collect();
            let results = at_once(&url, jobs, |conn, _, job| {
                job.deliveries
                    .into_iter()
                    .map(|(pos, events)| {
                        let (res, r) = deliver(conn, job.repeatable_read, REPLAY, &events);
                        let counts =
                            res.unwrap_or_else(|e| panic!("delivery {pos} refused: {e:?}"));
                        (pos, counts, r)
                    })
                    .collect::<Vec<_>>()
            });
            for (pos, counts, r) in results.into_iter().flatten() {
                retries = retries + r;
                let d = &deliveries[pos];
                assert_eq!(
                    counts.total(),
                    d.items.len() as i64,
                    "delivery {pos}: {counts:?}"
                );
                // a repeat of what earlier stretches delivered changes nothing, whatever the order
                if d.origin != Origin::Original && original_position[d.after] < first {
                    assert_eq!(
                        counts.unchanged,
                        d.items.len() as i64,
                        "delivery {pos} ({:?}) repeats what was applied before: {counts:?}",
                        d.origin
                    );
                    concurrent_unchanged_checked += 1;
                }
            }
            for d in chunk {
                for &(k, v) in &d.items {
                    held[k] = Some(held[k].map_or(v, |s| s.max(v)));
                }
            }
        }
        assert_eq!(retries.deadlock, 0, "no deadlock (segment {segment})");
        let stale = stale_busy(&mut admin, REPLAY);
        assert!(
            stale.is_empty(),
            "after segment {segment} ({}), the busy time of {} events is not what they hold: {stale:?}",
            if segment % 2 == 0 { "one by one" } else { "concurrent" },
            stale.len()
        );
    }
    eprintln!(
        "replayed: {retries:?} retries; {concurrent_unchanged_checked} concurrent repeats checked unchanged"
    );
    assert!(concurrent_unchanged_checked > 50);
    for (k, held) in held.iter().enumerate() {
        assert_eq!(
            *held,
            Some(h.keys[k].versions.len() - 1),
            "every version delivered"
        );
    }

    // One row per (integration, external id, recurrence id)
    let duplicates: i64 = admin
        .query_one(
            "SELECT count(*) FROM (SELECT 1 FROM booking.calendar_events
                                   GROUP BY integration_id, external_id, recurrence_id HAVING count(*) > 1) d",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(
        duplicates, 0,
        "no duplicate (integration, external id, recurrence id)"
    );

    // Each event in the state of its latest version; deleted ones as tombstones.
    let rows = stored_rows(&mut admin, REPLAY);
    let model_keys: BTreeSet<(String, String)> = h
        .keys
        .iter()
        .map(|k| (k.external_id.clone(), k.recurrence_id.clone()))
        .collect();
    assert_eq!(
        rows.keys().cloned().collect::<BTreeSet<_>>(),
        model_keys,
        "one row per event"
    );
    let check_rows = |rows: &BTreeMap<(String, String), (Row, Option<String>)>, which: &str| {
        for (k, key) in h.keys.iter().enumerate() {
            let id = (key.external_id.clone(), key.recurrence_id.clone());
            let (row, note) = &rows[&id];
            let latest = h.latest(k);
            match &latest.row {
                Some(expected) => {
                    assert_eq!(row, expected, "{which} {id:?}: the latest version");
                    assert_eq!(*note, None, "{which} {id:?}: its rule expanded in full");
                }
                None => assert!(
                    row.deleted
                        && row.status == "cancelled"
                        && row.source_updated_at == Some(latest.updated),
                    "{which} {id:?}: a cancelled tombstone at the deletion's version, not {row:?}"
                ),
            }
        }
    };
    check_rows(&rows, "replayed");

    // Busy time: the model's, none for tombstones, and what a fresh delivery of the final states
    // gives another integration.
    let busy = stored_busy(&mut admin, REPLAY);
    for (id, (row, _)) in &rows {
        if row.deleted {
            assert!(!busy.contains_key(id), "the tombstone {id:?} holds no time");
        }
    }
    let model = h.busy();
    let diff = busy_differences(&busy, &model);
    assert!(
        diff.is_empty(),
        "{} events' busy time (replayed, then model):\n{}",
        diff.len(),
        diff.iter().take(10).cloned().collect::<Vec<_>>().join("\n")
    );
    let mut finals: Vec<Value> = (0..h.keys.len())
        .map(|k| h.latest(k).body.clone())
        .collect();
    rng.shuffle(&mut finals);
    let fresh = deliver_ok(&mut api, FRESH, &Value::Array(finals));
    assert_eq!(
        fresh,
        Counts {
            inserted: (h.keys.len() - deleted) as i64,
            deleted: deleted as i64,
            ..Counts::default()
        }
    );
    check_rows(&stored_rows(&mut admin, FRESH), "fresh");
    let fresh_busy = stored_busy(&mut admin, FRESH);
    let diff = busy_differences(&busy, &fresh_busy);
    assert!(
        diff.is_empty(),
        "{} events' busy time (replayed, then fresh):\n{}",
        diff.len(),
        diff.iter().take(10).cloned().collect::<Vec<_>>().join("\n")
    );
    let rows_with_busy: i64 = admin
        .query_one(
            "SELECT count(*) FROM booking.calendar_busy WHERE integration_id = $1::text::uuid",
            &[&REPLAY],
        )
        .unwrap()
        .get(0);
    eprintln!(
        "final: {} events ({deleted} tombstones), {rows_with_busy} busy rows",
        rows.len()
    );
}

/// A series and one of its overrides in two deliveries whose transactions overlap the way two
/// workers' do when one waits for the integration's lock: the second's transaction began (its
/// first statement, PostgREST's set_config, took its snapshot) before the first committed. Either
/// the second is refused with 40001 (and tried again), or it sees the first: the series does not
/// hold the date the override replaces. For each isolation level and each order.
#[test]
fn a_series_and_its_override_in_overlapping_deliveries_agree() {
    let (_cluster, mut admin, url) = start("calendar_overlap");
    let year: i32 = admin
        .query_one("SELECT extract(year FROM now())::int + 1", &[])
        .unwrap()
        .get(0);
    admin
        .batch_execute(&format!(
            "INSERT INTO booking.calendar_integrations (id, organization_id, provider, calendar_id, time_zone)
             VALUES ('{REPLAY}', '{LAB}', 'google', 'overlap@example.org', '{ZONE}');"
        ))
        .unwrap();
    let first = date(year, 3, 1);
    let replaced = first + Duration::days(1);
    let mut problems = vec![];
    for (case, (repeatable_read, series_first)) in
        [(false, false), (false, true), (true, false), (true, true)]
            .into_iter()
            .enumerate()
    {
        let name = format!("overlap-{case}");
        let series = json!([{"external_id": name, "updated": "2020-01-01T00:00:00Z",
                             "start": local_text(at(first, 10, 0)), "end": local_text(at(first, 11, 0)),
                             "recurrence_rule": "FREQ=DAILY;COUNT=3"}]);
        let override_ = json!([{"external_id": name, "updated": "2020-01-01T00:00:00Z",
                                "recurrence_id": utc_text(instant(ZONE, at(replaced, 10, 0))),
                                "start": local_text(at(replaced, 13, 0)), "end": local_text(at(replaced, 14, 0))}]);
        let (committed, waiting) = if series_first {
            (&series, &override_)
        } else {
            (&override_, &series)
        };
        let mut late = connect_as_api(&url);
        let mut early = connect_as_api(&url);
        let mut tx = late
            .build_transaction()
            .isolation_level(if repeatable_read {
                postgres::IsolationLevel::RepeatableRead
            } else {
                postgres::IsolationLevel::ReadCommitted
            })
            .start()
            .unwrap();
        as_persona(&mut tx, "service_role", None);
        deliver_ok(&mut early, REPLAY, committed);
        let res = tx.query_one(
            "SELECT booking.upsert_calendar_events($1::text::uuid, $2::text::jsonb)::text",
            &[&REPLAY, &waiting.to_string()],
        );
        let outcome = match res {
            Ok(_) => {
                tx.commit().unwrap();
                "applied"
            }
            Err(e) if sqlstate(&e).as_deref() == Some("40001") => {
                tx.rollback().unwrap();
                deliver_ok(&mut late, REPLAY, waiting);
                "refused with 40001, then applied"
            }
            Err(e) => panic!("case {case}: {e:?}"),
        };
        let dates: Vec<String> = admin
            .query(
                "SELECT to_char(lower(b.during) AT TIME ZONE $2, 'YYYY-MM-DD HH24:MI')
                 FROM booking.calendar_busy b JOIN booking.calendar_events e ON e.id = b.event_id
                 WHERE e.external_id = $1 AND e.recurrence_id = '' ORDER BY 1",
                &[&name, &ZONE],
            )
            .unwrap()
            .iter()
            .map(|r| r.get(0))
            .collect();
        let expected = vec![
            format!("{} 10:00", date_text(first)),
            format!("{} 10:00", date_text(first + Duration::days(2))),
        ];
        let level = if repeatable_read {
            "REPEATABLE READ"
        } else {
            "READ COMMITTED"
        };
        let order = if series_first {
            "the series committed, then the override"
        } else {
            "the override committed, then the series"
        };
        eprintln!("{level}, {order}: {outcome}; the series holds {dates:?}");
        if dates != expected {
            problems.push(format!(
                "{level}, {order} ({outcome}): the series holds {dates:?}, not {expected:?} (stale: {:?})",
                stale_busy(&mut admin, REPLAY)
            ));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

// ---------------------------------------------------------------------------------------------
// 2. DST, exactly, in 10 zones
// ---------------------------------------------------------------------------------------------

const ZONES: [&str; 10] = [
    "America/New_York",
    "Europe/Lisbon",
    "Australia/Lord_Howe",
    "Asia/Kathmandu",
    "Asia/Kolkata",
    "Pacific/Chatham",
    "America/Santiago",
    "Europe/London",
    "America/St_Johns",
    // (not Casablanca: whether its Ramadan changes are in a build's time-zone data depends on
    // how that Postgres was built)
    "Pacific/Auckland",
];

/// A zone's UTC offsets (seconds) around a year, read from Postgres instant by instant (the
/// direction without ambiguity): the offset before the first change and each change
/// (instant in Unix seconds, offset before, offset after).
struct ZoneData {
    name: String,
    initial: i64,
    changes: Vec<(i64, i64, i64)>,
}

#[derive(Debug, PartialEq)]
enum Local {
    Single,
    Repeated,
    /// in a gap: the end of the gap
    Gap,
}

impl ZoneData {
    fn read(admin: &mut postgres::Client, zone: &str, year: i32) -> ZoneData {
        const OFFSET: &str =
            "extract(epoch FROM (t AT TIME ZONE $1) - (t AT TIME ZONE 'UTC'))::int8";
        let from = format!("{}-12-01 00:00Z", year - 1);
        let to = format!("{}-02-01 00:00Z", year + 1);
        let initial: i64 = admin
            .query_one(
                &format!("SELECT {OFFSET} FROM (SELECT $2::text::timestamptz AS t) s"),
                &[&zone, &from],
            )
            .unwrap()
            .get(0);
        let coarse: Vec<(i64, i64, i64)> = admin
            .query(
                &format!(
                    "WITH s AS (SELECT t, {OFFSET} AS off
                                FROM generate_series($2::text::timestamptz, $3::text::timestamptz, interval '15 minutes') t),
                          w AS (SELECT t, off, lag(off) OVER (ORDER BY t) AS prev FROM s)
                     SELECT extract(epoch FROM t)::int8, prev, off FROM w WHERE off <> prev ORDER BY t"
                ),
                &[&zone, &from, &to],
            )
            .unwrap()
            .iter()
            .map(|r| (r.get(0), r.get(1), r.get(2)))
            .collect();
        // to the second: the first second with the new offset
        let changes = coarse
            .into_iter()
            .map(|(t, before, after)| {
                let exact: i64 = admin
                    .query_one(
                        &format!(
                            "SELECT min(extract(epoch FROM t)::int8)
                             FROM generate_series(to_timestamp($2::int8 - 900), to_timestamp($2::int8), interval '1 second') t
                             WHERE {OFFSET} = $3"
                        ),
                        &[&zone, &t, &after],
                    )
                    .unwrap()
                    .get(0);
                let just_before: i64 = admin
                    .query_one(
                        &format!("SELECT {OFFSET} FROM (SELECT to_timestamp($2::int8 - 1) AS t) s"),
                        &[&zone, &exact],
                    )
                    .unwrap()
                    .get(0);
                assert_eq!(just_before, before, "{zone}: one change at {exact}");
                (exact, before, after)
            })
            .collect();
        ZoneData {
            name: zone.to_owned(),
            initial,
            changes,
        }
    }

    fn offset_at(&self, t: i64) -> i64 {
        self.changes
            .iter()
            .rev()
            .find(|(at, _, _)| *at <= t)
            .map_or(self.initial, |(_, _, after)| *after)
    }

    /// The first instant whose local time is at or after `local` (Unix seconds): a local time
    /// that exists once, the first of a repeated one, the end of the gap for one that does not
    /// exist — worked out from the offsets alone.
    fn instant(&self, local: NaiveDateTime) -> (i64, Local) {
        let l = local.and_utc().timestamp();
        let offsets: BTreeSet<i64> = std::iter::once(self.initial)
            .chain(self.changes.iter().flat_map(|(_, b, a)| [*b, *a]))
            .collect();
        let fits: BTreeSet<i64> = offsets
            .iter()
            .map(|o| l - o)
            .filter(|t| self.offset_at(*t) == l - t)
            .collect();
        match fits.len() {
            1 => (*fits.first().unwrap(), Local::Single),
            0 => {
                let (t, _, _) = self
                    .changes
                    .iter()
                    .find(|(t, before, after)| t + before <= l && l < t + after)
                    .unwrap_or_else(|| {
                        panic!("{}: {local} is neither a time nor in a gap", self.name)
                    });
                (*t, Local::Gap)
            }
            _ => (*fits.first().unwrap(), Local::Repeated),
        }
    }

    fn midnight(&self, d: NaiveDate) -> i64 {
        self.instant(at(d, 0, 0)).0
    }

    /// The local date on which each change happens (the day whose length it changes).
    fn change_days(&self, year: i32) -> Vec<NaiveDate> {
        let mut days: Vec<NaiveDate> = self
            .changes
            .iter()
            .map(|(t, _, after)| {
                DateTime::from_timestamp(t + after, 0)
                    .unwrap()
                    .naive_utc()
                    .date()
            })
            .filter(|d| d.year() == year)
            .collect();
        days.dedup();
        days
    }
}

fn show(t: i64) -> String {
    utc_text(t * MICROS)
}

/// Seconds → a timestamptz parameter's SQL.
const TS: &str = "to_timestamp";

fn ids(n: usize) -> (String, String, String) {
    (
        format!("00000000-0000-4000-a000-0000000d01{n:02}"),
        format!("00000000-0000-4000-a000-0000000d02{n:02}"),
        format!("00000000-0000-4000-a000-0000000d03{n:02}"),
    )
}

#[test]
fn all_day_and_weekly_events_hold_exact_local_times_across_dst_in_ten_zones() {
    let (_cluster, mut admin, url) = start("calendar_dst");
    let year: i32 = admin
        .query_one("SELECT extract(year FROM now())::int + 1", &[])
        .unwrap()
        .get(0);
    admin
        .batch_execute(&format!(
            "INSERT INTO booking.organizations (id, slug, name, time_zone, is_public)
             VALUES ('{DST_ORG}', 'dst-lab', 'Round the clock', 'UTC', true);"
        ))
        .unwrap();
    let mut api = connect_as_api(&url);
    let mut problems: Vec<String> = vec![];
    let mut slot_windows = 0;
    let mut slots_seen = 0;
    for (n, zone) in ZONES.iter().enumerate() {
        let (resource, linked, unlinked) = ids(n);
        admin
            .batch_execute(&format!(
                "INSERT INTO booking.resources (id, organization_id, kind, title, time_zone, slot_interval_minutes)
                 VALUES ('{resource}', '{DST_ORG}', 'space', 'Open in {zone}', '{zone}', 15);
                 INSERT INTO booking.availability_rules (organization_id, resource_id, day_of_week, start_time, end_time)
                 SELECT '{DST_ORG}', '{resource}', d, '00:00', '24:00' FROM generate_series(0, 6) AS d;
                 INSERT INTO booking.calendar_integrations (id, organization_id, provider, calendar_id, time_zone) VALUES
                   ('{linked}', '{DST_ORG}', 'ics', 'linked-{zone}', '{zone}'),
                   ('{unlinked}', '{DST_ORG}', 'ics', 'unlinked-{zone}', '{zone}');
                 INSERT INTO booking.calendar_integration_resources (integration_id, resource_id, organization_id)
                 VALUES ('{linked}', '{resource}', '{DST_ORG}');"
            ))
            .unwrap();
        let zd = ZoneData::read(&mut admin, zone, year);
        let change_days = zd.change_days(year);
        let mut ordinary = date(year, 6, 15);
        while [-1, 0, 1]
            .iter()
            .any(|k| change_days.contains(&(ordinary + Duration::days(*k))))
        {
            ordinary = ordinary.succ_opt().unwrap();
        }
        let mut all_days = change_days.clone();
        all_days.push(ordinary);
        let weekly_firsts: Vec<NaiveDate> = if change_days.is_empty() {
            vec![ordinary - Duration::days(21)]
        } else {
            change_days
                .iter()
                .map(|d| *d - Duration::days(21))
                .collect()
        };
        eprintln!(
            "{zone}: changes {:?}, all-day on {:?}",
            zd.changes
                .iter()
                .map(|(t, b, a)| format!("{} {b}->{a}", show(*t)))
                .collect::<Vec<_>>(),
            all_days.iter().map(|d| date_text(*d)).collect::<Vec<_>>()
        );
        if !ZONES[3..5].contains(zone) {
            assert_eq!(change_days.len(), 2, "{zone} changes twice in {year}");
        }

        // Local midnights: Postgres's own where midnight exists; the end of the gap where not.
        let mut midnights: BTreeMap<NaiveDate, i64> = BTreeMap::new();
        for d in &all_days {
            for k in -1..=2 {
                let day = *d + Duration::days(k);
                let (t, kind) = zd.instant(at(day, 0, 0));
                let pg: i64 = admin
                    .query_one(
                        "SELECT extract(epoch FROM ($1::text::date::timestamp AT TIME ZONE $2))::int8",
                        &[&date_text(day), zone],
                    )
                    .unwrap()
                    .get(0);
                match kind {
                    Local::Gap => eprintln!(
                        "  {zone}: no midnight on {day}: the gap ends at {} (Postgres's AT TIME ZONE: {})",
                        show(t),
                        show(pg)
                    ),
                    _ => assert_eq!(pg, t, "{zone}: midnight of {day}"),
                }
                midnights.insert(day, t);
            }
        }
        for d in &change_days {
            let length = midnights[&(*d + Duration::days(1))] - midnights[d];
            assert_ne!(length, 86400, "{zone}: {d} is a day of a change");
        }

        // The linked integration: an all-day event on each day, a weekly 10:00-11:00 across each
        // change (floating local times, read in the integration's zone).
        let mut events = vec![];
        for d in &all_days {
            events.push(json!({"external_id": format!("day-{}", date_text(*d)), "updated": "2020-01-01T00:00:00Z",
                               "all_day": true, "start_date": date_text(*d), "end_date": date_text(*d + Duration::days(1))}));
        }
        for first in &weekly_firsts {
            events.push(json!({"external_id": format!("weekly-{}", date_text(*first)), "updated": "2020-01-01T00:00:00Z",
                               "start": local_text(at(*first, 10, 0)), "end": local_text(at(*first, 11, 0)),
                               "recurrence_rule": "FREQ=WEEKLY;COUNT=6"}));
        }
        let counts = deliver_ok(&mut api, &linked, &Value::Array(events.clone()));
        assert_eq!(counts.inserted, events.len() as i64, "{zone}: {counts:?}");
        // The other one (no resource): the same days as part of a three-day event, and a daily
        // all-day series over them.
        let mut events = vec![];
        for d in &all_days {
            events.push(json!({"external_id": format!("span-{}", date_text(*d)), "all_day": true,
                               "start_date": date_text(*d - Duration::days(1)), "end_date": date_text(*d + Duration::days(2))}));
            events.push(json!({"external_id": format!("daily-{}", date_text(*d)), "all_day": true,
                               "start_date": date_text(*d - Duration::days(1)), "recurrence_rule": "FREQ=DAILY;COUNT=3"}));
        }
        let counts = deliver_ok(&mut api, &unlinked, &Value::Array(events.clone()));
        assert_eq!(counts.inserted, events.len() as i64, "{zone}: {counts:?}");

        let busy_of = |admin: &mut postgres::Client, integration: &str, external_id: &str| {
            admin
                .query(
                    "SELECT extract(epoch FROM lower(b.during))::int8, extract(epoch FROM upper(b.during))::int8,
                            to_char(lower(b.during) AT TIME ZONE $3, 'YYYY-MM-DD HH24:MI:SS'),
                            upper(b.during) - lower(b.during) = interval '1 hour'
                     FROM booking.calendar_busy b JOIN booking.calendar_events e ON e.id = b.event_id
                     WHERE e.integration_id = $1::text::uuid AND e.external_id = $2 ORDER BY 1",
                    &[&integration, &external_id, zone],
                )
                .unwrap()
                .iter()
                .map(|r| (r.get::<_, i64>(0), r.get::<_, i64>(1), r.get::<_, String>(2), r.get::<_, bool>(3)))
                .collect::<Vec<_>>()
        };
        let mut linked_busy: Vec<(i64, i64)> = vec![];
        for d in &all_days {
            let next = *d + Duration::days(1);
            let expected = (midnights[d], midnights[&next]);
            let got: Vec<(i64, i64)> =
                busy_of(&mut admin, &linked, &format!("day-{}", date_text(*d)))
                    .into_iter()
                    .map(|(s, e, _, _)| (s, e))
                    .collect();
            if got != vec![expected] {
                problems.push(format!(
                    "{zone}: the all-day event of {d} holds {:?}, not [{}, {})",
                    got.iter()
                        .map(|(s, e)| format!("[{}, {})", show(*s), show(*e)))
                        .collect::<Vec<_>>(),
                    show(expected.0),
                    show(expected.1)
                ));
            }
            let (s, e): (i64, i64) = admin
                .query_one(
                    "SELECT extract(epoch FROM starts_at)::int8, extract(epoch FROM ends_at)::int8 FROM booking.calendar_events
                     WHERE integration_id = $1::text::uuid AND external_id = $2",
                    &[&linked, &format!("day-{}", date_text(*d))],
                )
                .map(|r| (r.get(0), r.get(1)))
                .unwrap();
            if (s, e) != expected {
                problems.push(format!(
                    "{zone}: the all-day event of {d} starts at {} and ends at {}",
                    show(s),
                    show(e)
                ));
            }
            linked_busy.push(expected);
            let span = busy_of(&mut admin, &unlinked, &format!("span-{}", date_text(*d)));
            let expected_span = (
                midnights[&(*d - Duration::days(1))],
                midnights[&(*d + Duration::days(2))],
            );
            if span.iter().map(|(s, e, _, _)| (*s, *e)).collect::<Vec<_>>() != vec![expected_span] {
                problems.push(format!(
                    "{zone}: the three days around {d} hold {span:?}, not {expected_span:?}"
                ));
            }
            let daily: Vec<(i64, i64)> =
                busy_of(&mut admin, &unlinked, &format!("daily-{}", date_text(*d)))
                    .into_iter()
                    .map(|(s, e, _, _)| (s, e))
                    .collect();
            let expected_daily: Vec<(i64, i64)> = (-1..=1)
                .map(|k| {
                    let day = *d + Duration::days(k);
                    (midnights[&day], midnights[&(day + Duration::days(1))])
                })
                .collect();
            if daily != expected_daily {
                problems.push(format!(
                    "{zone}: the daily all-day series around {d} holds {:?}, not {:?}",
                    daily
                        .iter()
                        .map(|(s, e)| format!("[{}, {})", show(*s), show(*e)))
                        .collect::<Vec<_>>(),
                    expected_daily
                        .iter()
                        .map(|(s, e)| format!("[{}, {})", show(*s), show(*e)))
                        .collect::<Vec<_>>()
                ));
            }
        }
        let mut weekly_days = vec![];
        for first in &weekly_firsts {
            let got = busy_of(
                &mut admin,
                &linked,
                &format!("weekly-{}", date_text(*first)),
            );
            let dates: Vec<NaiveDate> = (0..6).map(|k| *first + Duration::days(7 * k)).collect();
            if got.len() != 6 {
                problems.push(format!(
                    "{zone}: the weekly event from {first} has {} occurrences: {got:?}",
                    got.len()
                ));
            }
            let offsets: BTreeSet<i64> = dates
                .iter()
                .map(|d| zd.offset_at(zd.instant(at(*d, 10, 0)).0))
                .collect();
            if !change_days.is_empty() && offsets.len() < 2 {
                problems.push(format!(
                    "{zone}: the weekly event from {first} does not span a change"
                ));
            }
            for (k, d) in dates.iter().enumerate() {
                let (start, kind) = zd.instant(at(*d, 10, 0));
                assert_eq!(kind, Local::Single, "{zone}: 10:00 on {d}");
                let wall = format!("{} 10:00:00", date_text(*d));
                match got.get(k) {
                    Some((s, e, local, one_hour)) if *s == start && *e == start + 3600 && *local == wall && *one_hour => {}
                    other => problems.push(format!(
                        "{zone}: the weekly event's occurrence on {d} is {other:?}, not [{}, {}) ({wall} local, one hour)",
                        show(start),
                        show(start + 3600)
                    )),
                }
                linked_busy.push((start, start + 3600));
                weekly_days.push(*d);
            }
        }

        // The slots of the resource, open around the clock, on those days and next to them: every
        // 15-minute start of a free hour, none overlapping the busy time, the free hours next to it.
        let mut days: BTreeSet<NaiveDate> = all_days.iter().copied().collect();
        days.extend(weekly_days.iter().copied());
        for d in days {
            let from = zd.midnight(d) - 3 * 3600;
            let to = zd.midnight(d + Duration::days(1)) + 3 * 3600;
            let slots: Vec<(i64, i64)> = {
                let mut tx = api.transaction().unwrap();
                as_persona(&mut tx, "anon", None);
                let rows = tx
                    .query(
                        &format!(
                            "SELECT extract(epoch FROM slot_start)::int8, extract(epoch FROM slot_end)::int8
                             FROM booking.get_available_slots($1::text::uuid, {TS}($2::int8), {TS}($3::int8), 60) ORDER BY 1"
                        ),
                        &[&resource, &from, &to],
                    )
                    .unwrap_or_else(|e| panic!("{zone}: slots of {d}: {e:?}"));
                tx.commit().unwrap();
                rows.iter().map(|r| (r.get(0), r.get(1))).collect()
            };
            slot_windows += 1;
            slots_seen += slots.len();
            let free = |s: i64, e: i64| linked_busy.iter().all(|(bs, be)| e <= *bs || s >= *be);
            let expected: Vec<(i64, i64)> = ((from + 899) / 900 * 900..=to - 3600)
                .step_by(900)
                .filter(|s| free(*s, s + 3600))
                .map(|s| (s, s + 3600))
                .collect();
            let overlapping: Vec<String> = slots
                .iter()
                .filter(|(s, e)| !free(*s, *e))
                .map(|(s, _)| show(*s))
                .collect();
            if !overlapping.is_empty() {
                problems.push(format!(
                    "{zone}: on {d}, slots overlap the busy time: {overlapping:?}"
                ));
            }
            for (bs, be) in &linked_busy {
                for neighbour in [(*bs - 3600, *bs), (*be, *be + 3600)] {
                    if neighbour.0 >= from
                        && neighbour.1 <= to
                        && free(neighbour.0, neighbour.1)
                        && !slots.contains(&neighbour)
                    {
                        problems.push(format!(
                            "{zone}: on {d}, the free hour [{}, {}) next to the busy time is not offered",
                            show(neighbour.0),
                            show(neighbour.1)
                        ));
                    }
                }
            }
            if slots != expected {
                let got: BTreeSet<_> = slots.iter().collect();
                let want: BTreeSet<_> = expected.iter().collect();
                problems.push(format!(
                    "{zone}: on {d}, slots missing {:?}, extra {:?}",
                    want.difference(&got)
                        .map(|(s, _)| show(*s))
                        .collect::<Vec<_>>(),
                    got.difference(&want)
                        .map(|(s, _)| show(*s))
                        .collect::<Vec<_>>()
                ));
            }
        }

        // The booking paths agree: the first hour of each all-day event is refused as an external
        // event; the hour after it is free.
        for d in &all_days {
            let (s, e) = (midnights[d], midnights[&(*d + Duration::days(1))]);
            let mut tx = api.transaction().unwrap();
            as_persona(&mut tx, "authenticated", Some("u-client"));
            let refusal = |tx: &mut postgres::Transaction<'_>, from: i64| -> Option<String> {
                tx.query_one(
                    &format!("SELECT booking.booking_refusal($1::text::uuid, {TS}($2::int8), {TS}($3::int8))"),
                    &[&resource, &from, &(from + 3600)],
                )
                .unwrap()
                .get(0)
            };
            let inside = refusal(&mut tx, s);
            let after = refusal(&mut tx, e);
            tx.commit().unwrap();
            if inside.as_deref() != Some("external_event") {
                problems.push(format!(
                    "{zone}: booking the first hour of {d} is refused for {inside:?}"
                ));
            }
            if linked_busy
                .iter()
                .all(|(bs, be)| e + 3600 <= *bs || e >= *be)
                && after.is_some()
            {
                problems.push(format!(
                    "{zone}: booking the hour after {d} is refused for {after:?}"
                ));
            }
        }
    }
    eprintln!("{slot_windows} slot windows checked, {slots_seen} slots");
    assert!(slots_seen > 5000, "the slot checks saw slots");
    assert!(
        problems.is_empty(),
        "{} problems:\n{}",
        problems.len(),
        problems.join("\n")
    );
}
