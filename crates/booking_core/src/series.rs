//! Recurring series: the occurrences of a booking pattern ("every other Tuesday at 02:30, ten
//! times"), as local dates and UTC instants in the resource's time zone. A series is booked as
//! one booking per occurrence, so every occurrence must be there: none dropped on a DST change,
//! none moved to another date.
//!
//! A [`Pattern`] is a subset of RFC 5545's RRULE, read from its text ([`Pattern::parse_rrule`])
//! or from the seed's columns ([`Pattern::from_fields`]): FREQ DAILY, WEEKLY or MONTHLY;
//! INTERVAL 1 to [`MAX_INTERVAL`]; BYDAY as plain weekdays (no ordinals such as `1MO`);
//! BYMONTHDAY from 1 to 31 and from -31 to -1 (counted from the month's end, -1 = its last day);
//! and an end, COUNT or UNTIL (one of them: a series must end). Anything else is refused by name,
//! never ignored. The rules of [`occurrences`]:
//!
//! - The first occurrence is the first start itself (DTSTART), even where it does not match the
//!   rule (a Tuesday start of a Monday-and-Wednesday series), and it counts towards COUNT: RFC
//!   5545 says "the DTSTART property value always counts as the first occurrence". (The `rrule`
//!   crate, like python-dateutil, leaves such a start out; it is put back here.)
//! - A date that does not exist in a month is skipped, not moved (RFC 5545: "recurrence
//!   instances with an invalid date ... MUST be ignored"): monthly on the 31st has no occurrence
//!   in April; use BYMONTHDAY=-1 for "the last day of every month".
//! - WEEKLY weeks start on Monday (WKST=MO, the RFC's default; other week starts are refused).
//!   Without BYDAY a WEEKLY series repeats on the first start's weekday, and without BYDAY and
//!   BYMONTHDAY a MONTHLY one on the first start's day of the month. BYDAY and BYMONTHDAY with
//!   DAILY, and both together with MONTHLY, narrow the dates down; BYMONTHDAY with WEEKLY is
//!   refused (the RFC forbids it).
//! - UNTIL is inclusive. A date (`UNTIL=20300315`, or the seed's `end_date`) is the last local
//!   date that may have an occurrence; a UTC date-time (`UNTIL=20300315T120000Z`, what the RFC
//!   requires when the start has a time zone) bounds the occurrences' start instants. A floating
//!   date-time (no `Z`) is refused: its meaning would depend on a zone it does not name.
//! - Skipped dates (RFC 5545's EXDATE) are removed after the set is made: they still count
//!   towards COUNT (COUNT=10 with one date skipped books nine). A skipped date that is not an
//!   occurrence changes nothing.
//! - Each occurrence starts at the first start's local time of day on its date, turned into an
//!   instant by the availability engine's rule ([`local_to_utc`]): a time inside a
//!   spring-forward gap maps to the end of the gap, a repeated time to its first occurrence.
//!   (RFC 5545 would drop an instance whose local time does not exist; a series of bookings
//!   keeps it, at the instant the slot engine offers for that time.) It ends `duration` of
//!   elapsed time later: a one-hour lesson lasts one hour on the night the
//!   clocks change, as the slot engine measures durations too (a wall-clock end would make it
//!   two hours, or none).
//!
//! Limits, checked before the work they bound: at most [`MAX_OCCURRENCES`] occurrences (COUNT
//! above it is refused as it is read; an UNTIL series that would exceed it is refused), all
//! within [`MAX_HORIZON_DAYS`] local days of the first start (an UNTIL beyond is refused before
//! anything is generated; a COUNT series that does not end within them is refused).
//!
//! The dates come from the `rrule` crate, run on floating dates only: the first start's date at
//! midnight in UTC, so no time zone and no DST enters the date arithmetic. Its text parser is
//! not used: it reads an UNTIL without `Z` in the server's own time zone, accepts COUNT together
//! with UNTIL and INTERVAL=0 (which then yields nothing), and has no way to refuse the parts this
//! subset leaves out. The property tests compare everything here with a brute-force oracle that
//! walks the calendar day by day.

use std::collections::BTreeSet;
use std::fmt;

use chrono::{Datelike, Duration, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Weekday};
use chrono_tz::Tz;

use crate::availability::{local_to_utc, MAX_WINDOW_DAYS};
use crate::time::MICROS_PER_DAY;

/// The most occurrences one series may have (two years of a daily series): COUNT above it is
/// refused, and so is an UNTIL series that would have more.
pub const MAX_OCCURRENCES: u32 = 730;
/// Every occurrence lies within this many local days from the first start's date (three years):
/// the first start's date plus at most `MAX_HORIZON_DAYS - 1` days.
pub const MAX_HORIZON_DAYS: i64 = 1096;
/// The largest INTERVAL (every 99 days, weeks or months).
pub const MAX_INTERVAL: u32 = 99;
/// The longest duration of one occurrence, in days: the slot engine's longest booking.
pub const MAX_DURATION_DAYS: i64 = MAX_WINDOW_DAYS;
/// The years a first start may lie in (the date generator's range, with the horizon to spare).
pub const START_YEARS: std::ops::RangeInclusive<i32> = 1..=9000;

/// How often a series repeats, before BYDAY and BYMONTHDAY narrow it down.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Freq {
    Daily,
    Weekly,
    Monthly,
}

/// The inclusive end of an UNTIL series.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Until {
    /// The last local date (in the series' zone) that may have an occurrence.
    Date(NaiveDate),
    /// The latest start instant, microseconds since the Unix epoch, UTC. RRULE text gives it to
    /// the second, and [`Pattern`]'s `Display` writes it to the second, rounded down.
    Instant(i64),
}

/// How a series ends. There is no open end: a series without one is refused, not capped, so no
/// occurrence is ever dropped without an error.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum End {
    /// This many occurrences in all, counting the first start and any skipped dates.
    Count(u32),
    Until(Until),
}

/// A recurrence pattern: the RRULE subset described in the module's docs. Build it with
/// [`Pattern::new`], [`Pattern::parse_rrule`] or [`Pattern::from_fields`], which check it and
/// sort `by_day` (Monday first) and `by_month_day`; [`occurrences`] checks it again, so one
/// built field by field is safe too. `Display` writes it back as RRULE text.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Pattern {
    pub freq: Freq,
    pub interval: u32,
    /// Empty: every day (DAILY), the first start's weekday (WEEKLY), or no weekday filter
    /// (MONTHLY).
    pub by_day: Vec<Weekday>,
    /// 1..=31, or -31..=-1 counted from the month's end. Never with WEEKLY.
    pub by_month_day: Vec<i8>,
    pub end: End,
}

/// One occurrence: its local date, and its start and end in microseconds since the Unix epoch,
/// UTC (`end - start` is the series' duration).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Occurrence {
    pub local_date: NaiveDate,
    pub start: i64,
    pub end: i64,
}

/// Why a pattern or a series is refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SeriesError {
    /// The RRULE text is empty.
    Empty,
    /// A rule part is not `NAME=VALUE` (or is empty: `;;`, a trailing `;`).
    MalformedPart(String),
    /// A name RFC 5545 does not define for RRULE (X- names included).
    UnknownPart(String),
    /// An RFC 5545 part outside the subset: BYSECOND, BYMINUTE, BYHOUR, BYMONTH, BYYEARDAY,
    /// BYWEEKNO, BYSETPOS.
    UnsupportedPart(String),
    DuplicatePart(String),
    MissingFreq,
    /// YEARLY, HOURLY, MINUTELY or SECONDLY.
    UnsupportedFreq(String),
    /// A value of the wrong form or out of range; `part` is the RRULE part or the seed's field.
    BadValue {
        part: &'static str,
        value: String,
    },
    /// BYDAY with an ordinal (`1MO`, `-1FR`).
    OrdinalByDay(String),
    /// UNTIL as a date-time without `Z`.
    FloatingUntil(String),
    /// WKST other than MO.
    UnsupportedWeekStart(String),
    CountAndUntil,
    NoEnd,
    MonthDayWithWeekly,
    /// The duration is not positive or longer than [`MAX_DURATION_DAYS`].
    DurationOutOfRange(i64),
    /// The first start's year is outside [`START_YEARS`].
    StartOutOfRange(NaiveDateTime),
    /// UNTIL before the first start.
    UntilBeforeStart,
    /// UNTIL, or the COUNT-th occurrence, after the last day of the horizon.
    BeyondHorizon {
        last_day: NaiveDate,
    },
    /// COUNT above [`MAX_OCCURRENCES`], or an UNTIL series with more occurrences.
    TooManyOccurrences,
}

fn expected(part: &str) -> &'static str {
    match part {
        "FREQ" => "DAILY, WEEKLY or MONTHLY",
        "frequency" => "daily, weekly or monthly",
        "INTERVAL" | "interval" => "a whole number from 1 to 99",
        "BYDAY" => "weekdays MO, TU, WE, TH, FR, SA, SU separated by commas",
        "week_days" => "day numbers from 0 (Sunday) to 6 (Saturday)",
        "BYMONTHDAY" | "month_days" => {
            "day numbers from 1 to 31, or from -31 to -1 counted from the month's end"
        }
        "COUNT" | "end_after" => "a whole number from 1 to 730",
        "UNTIL" => "a date YYYYMMDD or a UTC date-time YYYYMMDDTHHMMSSZ",
        _ => "a valid value",
    }
}

impl fmt::Display for SeriesError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const SUBSET: &str = "a series takes FREQ, INTERVAL, BYDAY, BYMONTHDAY, COUNT and UNTIL";
        match self {
            SeriesError::Empty => f.write_str("the RRULE is empty"),
            SeriesError::MalformedPart(p) => {
                write!(f, "the RRULE part `{p}` is not of the form NAME=VALUE")
            }
            SeriesError::UnknownPart(p) => write!(f, "{p} is not an RRULE part"),
            SeriesError::UnsupportedPart(p) => {
                write!(f, "the RRULE part {p} is not supported: {SUBSET}")
            }
            SeriesError::DuplicatePart(p) => write!(f, "the RRULE part {p} is given twice"),
            SeriesError::MissingFreq => f.write_str("the RRULE has no FREQ"),
            SeriesError::UnsupportedFreq(v) => write!(
                f,
                "FREQ={v} is not supported: a series repeats DAILY, WEEKLY or MONTHLY"
            ),
            SeriesError::BadValue { part, value } => {
                write!(f, "{part} `{value}` is invalid: expected {}", expected(part))
            }
            SeriesError::OrdinalByDay(v) => write!(
                f,
                "BYDAY `{v}` is not supported: weekdays only, without a number (no 1MO or -1FR)"
            ),
            SeriesError::FloatingUntil(v) => write!(
                f,
                "UNTIL `{v}` has no time zone: give a date (YYYYMMDD) or a UTC date-time (YYYYMMDDTHHMMSSZ)"
            ),
            SeriesError::UnsupportedWeekStart(v) => write!(
                f,
                "WKST={v} is not supported: weeks start on Monday (WKST=MO)"
            ),
            SeriesError::CountAndUntil => {
                f.write_str("COUNT and UNTIL may not both be given (RFC 5545)")
            }
            SeriesError::NoEnd => write!(
                f,
                "a series must end: give COUNT (at most {MAX_OCCURRENCES}) or UNTIL"
            ),
            SeriesError::MonthDayWithWeekly => {
                f.write_str("BYMONTHDAY may not be given with FREQ=WEEKLY (RFC 5545)")
            }
            SeriesError::DurationOutOfRange(d) => write!(
                f,
                "the duration ({d} microseconds) must be positive and at most {MAX_DURATION_DAYS} days"
            ),
            SeriesError::StartOutOfRange(t) => write!(
                f,
                "the first start {t} must lie in the years {} to {}",
                START_YEARS.start(),
                START_YEARS.end()
            ),
            SeriesError::UntilBeforeStart => {
                f.write_str("UNTIL is before the series' first start")
            }
            SeriesError::BeyondHorizon { last_day } => write!(
                f,
                "the series goes past {last_day}: every occurrence must lie within {MAX_HORIZON_DAYS} days of the first"
            ),
            SeriesError::TooManyOccurrences => write!(
                f,
                "a series may have at most {MAX_OCCURRENCES} occurrences: end it sooner"
            ),
        }
    }
}

impl std::error::Error for SeriesError {}

fn bad(part: &'static str, value: impl fmt::Display) -> SeriesError {
    SeriesError::BadValue {
        part,
        value: value.to_string(),
    }
}

const WEEKDAYS: [(&str, Weekday); 7] = [
    ("MO", Weekday::Mon),
    ("TU", Weekday::Tue),
    ("WE", Weekday::Wed),
    ("TH", Weekday::Thu),
    ("FR", Weekday::Fri),
    ("SA", Weekday::Sat),
    ("SU", Weekday::Sun),
];

fn weekday_code(d: Weekday) -> &'static str {
    WEEKDAYS[d.num_days_from_monday() as usize].0
}

/// A whole number written with digits only (RFC 5545's `1*DIGIT`), at most nine of them.
fn digits(part: &'static str, value: &str) -> Result<u32, SeriesError> {
    if value.is_empty() || value.len() > 9 || !value.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad(part, value));
    }
    Ok(value.parse().expect("nine digits fit in a u32"))
}

fn parse_weekday(value: &str) -> Result<Weekday, SeriesError> {
    let upper = value.to_ascii_uppercase();
    if let Some((_, d)) = WEEKDAYS.iter().find(|(code, _)| *code == upper) {
        return Ok(*d);
    }
    // An ordinal weekday: a sign or none, digits, then a weekday code.
    if upper.len() > 2 && upper.is_char_boundary(upper.len() - 2) {
        let (number, code) = upper.split_at(upper.len() - 2);
        let number = number.strip_prefix(['+', '-']).unwrap_or(number);
        if WEEKDAYS.iter().any(|(c, _)| *c == code)
            && !number.is_empty()
            && number.bytes().all(|b| b.is_ascii_digit())
        {
            return Err(SeriesError::OrdinalByDay(value.to_string()));
        }
    }
    Err(bad("BYDAY", value))
}

fn parse_month_day(value: &str) -> Result<i8, SeriesError> {
    let (negative, number) = match value.as_bytes().first() {
        Some(b'-') => (true, &value[1..]),
        Some(b'+') => (false, &value[1..]),
        _ => (false, value),
    };
    let n = digits("BYMONTHDAY", number).map_err(|_| bad("BYMONTHDAY", value))?;
    if !(1..=31).contains(&n) {
        return Err(bad("BYMONTHDAY", value));
    }
    let n = n as i8;
    Ok(if negative { -n } else { n })
}

fn parse_until(value: &str) -> Result<Until, SeriesError> {
    let upper = value.to_ascii_uppercase();
    let b = upper.as_bytes();
    let all_digits = |s: &[u8]| s.iter().all(u8::is_ascii_digit);
    let date = |s: &str| {
        NaiveDate::from_ymd_opt(
            s[0..4].parse().ok()?,
            s[4..6].parse().ok()?,
            s[6..8].parse().ok()?,
        )
    };
    match b.len() {
        8 if all_digits(b) => date(&upper)
            .map(Until::Date)
            .ok_or_else(|| bad("UNTIL", value)),
        15 | 16 if all_digits(&b[..8]) && b[8] == b'T' && all_digits(&b[9..15]) => {
            if b.len() == 15 {
                return Err(SeriesError::FloatingUntil(value.to_string()));
            }
            if b[15] != b'Z' {
                return Err(bad("UNTIL", value));
            }
            let time = NaiveTime::from_hms_opt(
                upper[9..11].parse().expect("digits"),
                upper[11..13].parse().expect("digits"),
                upper[13..15].parse().expect("digits"),
            );
            match (date(&upper), time) {
                (Some(d), Some(t)) => {
                    Ok(Until::Instant(d.and_time(t).and_utc().timestamp_micros()))
                }
                _ => Err(bad("UNTIL", value)),
            }
        }
        _ => Err(bad("UNTIL", value)),
    }
}

impl Pattern {
    /// A checked pattern, with `by_day` and `by_month_day` sorted and without repeats.
    pub fn new(
        freq: Freq,
        interval: u32,
        mut by_day: Vec<Weekday>,
        mut by_month_day: Vec<i8>,
        end: End,
    ) -> Result<Pattern, SeriesError> {
        by_day.sort_by_key(|d| d.num_days_from_monday());
        by_day.dedup();
        by_month_day.sort_unstable();
        by_month_day.dedup();
        let pattern = Pattern {
            freq,
            interval,
            by_day,
            by_month_day,
            end,
        };
        pattern.validate()?;
        Ok(pattern)
    }

    /// Checks the values a pattern built field by field could get wrong.
    pub fn validate(&self) -> Result<(), SeriesError> {
        if !(1..=MAX_INTERVAL).contains(&self.interval) {
            return Err(bad("INTERVAL", self.interval));
        }
        if let Some(d) = self
            .by_month_day
            .iter()
            .find(|d| !(1..=31).contains(&d.unsigned_abs()))
        {
            return Err(bad("BYMONTHDAY", d));
        }
        if self.freq == Freq::Weekly && !self.by_month_day.is_empty() {
            return Err(SeriesError::MonthDayWithWeekly);
        }
        match self.end {
            End::Count(0) => Err(bad("COUNT", 0)),
            End::Count(n) if n > MAX_OCCURRENCES => Err(SeriesError::TooManyOccurrences),
            _ => Ok(()),
        }
    }

    /// Reads RRULE text, with or without the `RRULE:` prefix; names and values in any case.
    /// Every part outside the subset, every repeated part and every bad value is refused.
    pub fn parse_rrule(text: &str) -> Result<Pattern, SeriesError> {
        let text = text.trim();
        let body = match text.get(..6) {
            Some(prefix) if prefix.eq_ignore_ascii_case("RRULE:") => text[6..].trim(),
            _ => text,
        };
        if body.is_empty() {
            return Err(SeriesError::Empty);
        }
        let mut seen: Vec<String> = Vec::new();
        let mut freq = None;
        let mut interval = 1;
        let mut by_day = Vec::new();
        let mut by_month_day = Vec::new();
        let mut count = None;
        let mut until = None;
        for part in body.split(';') {
            let (name, value) = part
                .split_once('=')
                .map(|(n, v)| (n.trim().to_ascii_uppercase(), v.trim()))
                .filter(|(n, v)| !n.is_empty() && !v.is_empty())
                .ok_or_else(|| SeriesError::MalformedPart(part.to_string()))?;
            if seen.contains(&name) {
                return Err(SeriesError::DuplicatePart(name));
            }
            seen.push(name.clone());
            match name.as_str() {
                "FREQ" => {
                    freq = Some(match value.to_ascii_uppercase().as_str() {
                        "DAILY" => Freq::Daily,
                        "WEEKLY" => Freq::Weekly,
                        "MONTHLY" => Freq::Monthly,
                        "YEARLY" | "HOURLY" | "MINUTELY" | "SECONDLY" => {
                            return Err(SeriesError::UnsupportedFreq(value.to_ascii_uppercase()))
                        }
                        _ => return Err(bad("FREQ", value)),
                    })
                }
                "INTERVAL" => interval = digits("INTERVAL", value)?,
                "BYDAY" => {
                    by_day = value
                        .split(',')
                        .map(|v| parse_weekday(v.trim()))
                        .collect::<Result<_, _>>()?
                }
                "BYMONTHDAY" => {
                    by_month_day = value
                        .split(',')
                        .map(|v| parse_month_day(v.trim()))
                        .collect::<Result<_, _>>()?
                }
                "COUNT" => count = Some(digits("COUNT", value)?),
                "UNTIL" => until = Some(parse_until(value)?),
                "WKST" => {
                    let upper = value.to_ascii_uppercase();
                    if upper != "MO" {
                        return Err(if WEEKDAYS.iter().any(|(c, _)| *c == upper) {
                            SeriesError::UnsupportedWeekStart(upper)
                        } else {
                            bad("WKST", value)
                        });
                    }
                }
                "BYSECOND" | "BYMINUTE" | "BYHOUR" | "BYMONTH" | "BYYEARDAY" | "BYWEEKNO"
                | "BYSETPOS" => return Err(SeriesError::UnsupportedPart(name)),
                _ => return Err(SeriesError::UnknownPart(name)),
            }
        }
        let freq = freq.ok_or(SeriesError::MissingFreq)?;
        let end = match (count, until) {
            (Some(_), Some(_)) => return Err(SeriesError::CountAndUntil),
            (Some(n), None) => End::Count(n),
            (None, Some(u)) => End::Until(u),
            (None, None) => return Err(SeriesError::NoEnd),
        };
        Pattern::new(freq, interval, by_day, by_month_day, end)
    }

    /// The seed's columns: `frequency` daily, weekly or monthly (any case); `interval` (NULL is
    /// 1); `week_days` 0 (Sunday) to 6 (Saturday), as the weekly rules and Postgres's `dow`
    /// count; `month_days` 1..=31 or -31..=-1; and exactly one of `end_date` (the last date,
    /// inclusive) and `end_after` (the number of occurrences).
    pub fn from_fields(
        frequency: &str,
        interval: Option<i32>,
        week_days: &[i32],
        month_days: &[i32],
        end_date: Option<NaiveDate>,
        end_after: Option<i32>,
    ) -> Result<Pattern, SeriesError> {
        let freq = match frequency.trim().to_ascii_lowercase().as_str() {
            "daily" => Freq::Daily,
            "weekly" => Freq::Weekly,
            "monthly" => Freq::Monthly,
            _ => return Err(bad("frequency", frequency)),
        };
        let interval = match interval {
            None => 1,
            Some(i) => u32::try_from(i)
                .ok()
                .filter(|i| (1..=MAX_INTERVAL).contains(i))
                .ok_or_else(|| bad("interval", i))?,
        };
        let by_day = week_days
            .iter()
            .map(|&d| match d {
                0 => Ok(Weekday::Sun),
                1..=6 => Ok(Weekday::try_from(d as u8 - 1).expect("0..=5 is Monday..=Saturday")),
                _ => Err(bad("week_days", d)),
            })
            .collect::<Result<_, _>>()?;
        let by_month_day = month_days
            .iter()
            .map(|&d| {
                i8::try_from(d)
                    .ok()
                    .filter(|d| (1..=31).contains(&d.unsigned_abs()))
                    .ok_or_else(|| bad("month_days", d))
            })
            .collect::<Result<_, _>>()?;
        let end = match (end_date, end_after) {
            (Some(_), Some(_)) => return Err(SeriesError::CountAndUntil),
            (Some(d), None) => End::Until(Until::Date(d)),
            (None, Some(n)) => match u32::try_from(n) {
                Ok(n) if n > MAX_OCCURRENCES => return Err(SeriesError::TooManyOccurrences),
                Ok(n) if n >= 1 => End::Count(n),
                _ => return Err(bad("end_after", n)),
            },
            (None, None) => return Err(SeriesError::NoEnd),
        };
        Pattern::new(freq, interval, by_day, by_month_day, end)
    }
}

/// The pattern as RRULE text (without the `RRULE:` prefix), which [`Pattern::parse_rrule`]
/// reads back to the same pattern.
impl fmt::Display for Pattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let freq = match self.freq {
            Freq::Daily => "DAILY",
            Freq::Weekly => "WEEKLY",
            Freq::Monthly => "MONTHLY",
        };
        write!(f, "FREQ={freq}")?;
        if self.interval != 1 {
            write!(f, ";INTERVAL={}", self.interval)?;
        }
        if !self.by_day.is_empty() {
            let days: Vec<&str> = self.by_day.iter().map(|d| weekday_code(*d)).collect();
            write!(f, ";BYDAY={}", days.join(","))?;
        }
        if !self.by_month_day.is_empty() {
            let days: Vec<String> = self.by_month_day.iter().map(i8::to_string).collect();
            write!(f, ";BYMONTHDAY={}", days.join(","))?;
        }
        match self.end {
            End::Count(n) => write!(f, ";COUNT={n}"),
            End::Until(Until::Date(d)) => write!(f, ";UNTIL={}", d.format("%Y%m%d")),
            End::Until(Until::Instant(t)) => {
                let t =
                    chrono::DateTime::from_timestamp_micros(t.div_euclid(1_000_000) * 1_000_000)
                        .ok_or(fmt::Error)?;
                write!(f, ";UNTIL={}", t.format("%Y%m%dT%H%M%SZ"))
            }
        }
    }
}

/// The dates of the rule from `first` on, up to `last` (inclusive), from the `rrule` crate run
/// on floating dates: midnight UTC, so no offset ever changes and no date can fall in a gap.
/// Without the first date unless it matches the rule (the crate's reading of DTSTART).
///
/// In its limited mode the crate gives up (ends the iterator, silently) after 100 000 periods
/// without a date; a horizon of [`MAX_HORIZON_DAYS`] is far inside that, so an early end can
/// only mean there is no further date within the horizon. That mode is needed: a rule that
/// never matches again (monthly on the 31st every 12 months from April) would otherwise loop
/// for ever, since the crate compares with its UNTIL only the dates it generates.
fn rule_dates(
    pattern: &Pattern,
    first: NaiveDate,
    last: NaiveDate,
) -> impl Iterator<Item = NaiveDate> {
    let midnight = |d: NaiveDate| rrule::Tz::UTC.from_utc_datetime(&d.and_time(NaiveTime::MIN));
    let freq = match pattern.freq {
        Freq::Daily => rrule::Frequency::Daily,
        Freq::Weekly => rrule::Frequency::Weekly,
        Freq::Monthly => rrule::Frequency::Monthly,
    };
    let mut rule = rrule::RRule::new(freq)
        .interval(u16::try_from(pattern.interval).expect("a checked interval fits in u16"))
        .until(midnight(last));
    if !pattern.by_day.is_empty() {
        rule = rule.by_weekday(
            pattern
                .by_day
                .iter()
                .map(|d| rrule::NWeekday::Every(*d))
                .collect(),
        );
    }
    if !pattern.by_month_day.is_empty() {
        rule = rule.by_month_day(pattern.by_month_day.clone());
    }
    rule.build(midnight(first))
        .expect("a checked pattern is a valid RRULE")
        .limit()
        .into_iter()
        .map(|d| d.date_naive())
}

/// The occurrences of `pattern` from `first_local_start` (DTSTART, a local date and time in
/// `tz`), each lasting `duration_micros`, without the `skipped` local dates; in date order. The
/// rules are the module's. Errors: a bad pattern, a duration out of range, an end out of the
/// limits (nothing is generated then), or a series that turns out to exceed them.
pub fn occurrences(
    pattern: &Pattern,
    first_local_start: NaiveDateTime,
    duration_micros: i64,
    tz: Tz,
    skipped: &[NaiveDate],
) -> Result<Vec<Occurrence>, SeriesError> {
    pattern.validate()?;
    if !(1..=MAX_DURATION_DAYS * MICROS_PER_DAY).contains(&duration_micros) {
        return Err(SeriesError::DurationOutOfRange(duration_micros));
    }
    if !START_YEARS.contains(&first_local_start.year()) {
        return Err(SeriesError::StartOutOfRange(first_local_start));
    }
    let first = first_local_start.date();
    let time = first_local_start.time();
    let last_day = first + Duration::days(MAX_HORIZON_DAYS - 1);
    let start_of = |d: NaiveDate| local_to_utc(tz, d.and_time(time));
    let first_start = start_of(first);
    // The ends' limits, before any date is generated. The generator stops at `last`.
    let last = match pattern.end {
        End::Count(_) => last_day,
        End::Until(Until::Date(u)) => {
            if u < first {
                return Err(SeriesError::UntilBeforeStart);
            }
            if u > last_day {
                return Err(SeriesError::BeyondHorizon { last_day });
            }
            u
        }
        End::Until(Until::Instant(u)) => {
            if u < first_start {
                return Err(SeriesError::UntilBeforeStart);
            }
            // UNTIL must come before the day after the horizon begins. Starts never decrease as
            // dates grow, so every start at or before such an UNTIL has its date in the horizon.
            let after_horizon = (last_day + Duration::days(1)).and_time(NaiveTime::MIN);
            if u >= local_to_utc(tz, after_horizon) {
                return Err(SeriesError::BeyondHorizon { last_day });
            }
            last_day
        }
    };
    let mut set = vec![(first, first_start)];
    let done = |n: usize| matches!(pattern.end, End::Count(c) if n >= c as usize);
    if !done(set.len()) {
        for date in rule_dates(pattern, first, last) {
            crate::interrupts::check();
            if date == first {
                continue;
            }
            let start = start_of(date);
            if matches!(pattern.end, End::Until(Until::Instant(u)) if start > u) {
                break;
            }
            if set.len() >= MAX_OCCURRENCES as usize {
                return Err(SeriesError::TooManyOccurrences);
            }
            set.push((date, start));
            if done(set.len()) {
                break;
            }
        }
    }
    if let End::Count(n) = pattern.end {
        if set.len() < n as usize {
            return Err(SeriesError::BeyondHorizon { last_day });
        }
    }
    let skipped: BTreeSet<NaiveDate> = skipped.iter().copied().collect();
    Ok(set
        .into_iter()
        .filter(|(date, _)| !skipped.contains(date))
        .map(|(local_date, start)| Occurrence {
            local_date,
            start,
            end: start + duration_micros,
        })
        .collect())
}

#[cfg(test)]
#[path = "series_tests.rs"]
mod tests;
