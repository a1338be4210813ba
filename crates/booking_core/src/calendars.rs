//! External calendars: an iCalendar file read into the events that
//! `booking_internal.apply_calendar_events` applies ([`read_ics`], behind `booking.import_ics`),
//! and a resource's bookings written as an iCalendar feed ([`write_feed`], behind
//! `booking.resource_calendar_ics`).
//!
//! # Reading
//!
//! The text is unfolded and parsed by the `icalendar` crate's parser (RFC 5545 line unfolding,
//! TEXT unescaping, a generic tree of components, properties and parameters); everything else is
//! here. Why `icalendar` (0.17, parser feature only): it is maintained (releases every month or
//! two through 2026, on nom 8), its tree keeps every property with its parameters (each EXDATE
//! line, RECURRENCE-ID, TZID, VTIMEZONE blocks), and it unescapes TEXT values; `ical` (0.11) is
//! released rarely and leaves TEXT values escaped. Windows zone names map to IANA names by `localzone`'s CLDR table
//! (its `win_zones` feature; nothing else of it is used). Before the parser runs, line ends
//! become CRLF (with LF only, the parser would search the rest of the file on every line) and the
//! nesting of components is bounded (the parser recurses once per level). Each VEVENT becomes one event of the delivery, in the file's order (so the delivery's
//! "event N" is the file's Nth VEVENT):
//!
//! - `external_id` is UID; `recurrence_id` the RECURRENCE-ID of an override: `YYYYMMDD` for a
//!   date, else its instant in UTC (`YYYY-MM-DDTHH:MM:SSZ`; a floating one read in the
//!   integration's zone), so the same file gives the same keys every time.
//! - `title` SUMMARY; `status` from STATUS (CONFIRMED, TENTATIVE, CANCELLED; another value is left
//!   out, i.e. confirmed); `transparency` from TRANSP (OPAQUE, TRANSPARENT); `updated`
//!   LAST-MODIFIED, else DTSTAMP, as a UTC instant.
//! - A DTSTART that is a date (`VALUE=DATE`) makes an all-day event: `start_date`, and
//!   `end_date` (exclusive) from DTEND, from DURATION (whole days, rounded up), or the next day
//!   when there is neither, or when DTEND is the start date itself (what some producers write for
//!   a one-day event).
//! - A DTSTART with a time gives `start` and `end` (DTEND, or DTSTART plus DURATION: its days
//!   and weeks on the local calendar of the start's zone, its hours, minutes and seconds as
//!   elapsed time): a UTC instant (`...Z`) for a UTC time or one with a TZID (turned into an
//!   instant by the availability engine's local-to-UTC rule, as the slot engine reads local
//!   times), a local date-time without offset for a floating time, which the delivery reads in
//!   the integration's zone. A timed event without DTEND or DURATION, or ending when it starts,
//!   holds no time: it is left out of the delivery and counted in [`Import::skipped`].
//! - `time_zone` is DTSTART's zone (the IANA name its TZID maps to, `UTC` for a UTC time; none
//!   for a floating time or a date: the integration's), the zone the recurrence is expanded in.
//! - `recurrence_rule` is the first RRULE's text, passed through (the module's SQL expands what
//!   the series engine supports and notes the rest).
//! - `exdates` gathers every EXDATE line and comma-separated value: for an all-day event their
//!   dates (`YYYY-MM-DD`); for a timed one a date as its local midnight without offset (read in
//!   the event's zone, so it names that date there) and a time as its UTC instant (floating: as
//!   written).
//!
//! TZIDs ([`zone_for_tzid`]): an IANA name; a Windows zone name (Outlook's "W. Europe Standard
//! Time") mapped to IANA by the CLDR table of the `localzone` crate; a path ending in an IANA
//! name (`/mozilla.org/20050126_1/Europe/Berlin`); else the `X-LIC-LOCATION` of the file's
//! VTIMEZONE of that TZID. VTIMEZONE rules themselves are not read: the zone database is. A TZID
//! none of these resolve refuses the import, naming the event.
//!
//! Refused, naming the event (nothing is applied): a VEVENT without UID or DTSTART, a date or
//! time that does not parse, an unknown zone, an end before the start. Also refused: text that
//! is not an iCalendar object, and more VEVENTs than the delivery limit.
//!
//! # Writing
//!
//! [`write_feed`]: a VCALENDAR (PRODID, VERSION 2.0, METHOD PUBLISH, the calendar's name) with one
//! VEVENT per booking (UID, DTSTAMP, DTSTART and DTEND in UTC, SUMMARY, STATUS, TRANSP OPAQUE),
//! TEXT values escaped ([`escape_text`]) and every line folded at 75 octets ([`fold_line`]),
//! with CRLF line ends.

use std::collections::HashMap;
use std::fmt;

use chrono::{DateTime, Duration, NaiveDate, NaiveDateTime, NaiveTime};
use chrono_tz::Tz;
use icalendar::parser::{read_components, unfold, Component, Property};
use serde_json::{Map, Value};

use crate::availability::local_to_utc;

/// How far back the feed reaches (days before now).
pub const FEED_PAST_DAYS: i64 = 30;
/// How far ahead the feed reaches (days after now).
pub const FEED_FUTURE_DAYS: i64 = 366;
/// The most bookings one feed carries (the earliest first).
pub const FEED_MAX_EVENTS: i64 = 5000;

/// How deep components may nest in an imported text.
pub const MAX_NESTING: usize = 8;

/// Why an iCalendar text is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IcsError {
    /// The text is not an iCalendar object (the parser's complaint, shortened).
    Syntax(String),
    /// More VEVENTs than one delivery may carry.
    TooManyEvents { found: usize, max: usize },
    /// One VEVENT (1-based, in the file's order) is refused.
    Event {
        index: usize,
        uid: Option<String>,
        problem: String,
    },
}

impl fmt::Display for IcsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            IcsError::Syntax(why) => write!(f, "the iCalendar text does not parse: {why}"),
            IcsError::TooManyEvents { found, max } => write!(
                f,
                "an iCalendar import carries at most {max} events (VEVENTs); this one has {found}"
            ),
            IcsError::Event {
                index,
                uid: Some(uid),
                problem,
            } => write!(
                f,
                "VEVENT {index} (UID \"{}\") {problem}",
                shorten(uid, 100)
            ),
            IcsError::Event {
                index,
                uid: None,
                problem,
            } => write!(f, "VEVENT {index} {problem}"),
        }
    }
}

impl std::error::Error for IcsError {}

/// An iCalendar file read as a delivery.
#[derive(Debug, Clone, PartialEq)]
pub struct Import {
    /// The events in `apply_calendar_events`' format (a JSON array of objects).
    pub events: Vec<Value>,
    /// How many VEVENTs the file has.
    pub vevents: usize,
    /// How many of them hold no time (a timed event without an end, or ending when it starts)
    /// and are left out of `events`.
    pub skipped: usize,
}

fn shorten(s: &str, max_chars: usize) -> String {
    match s.char_indices().nth(max_chars) {
        Some((at, _)) => format!("{}...", &s[..at]),
        None => s.to_owned(),
    }
}

/// Reads an iCalendar text into the events of a delivery. `floating` is the integration's zone
/// (floating times and all-day dates are its local times); at most `max_events` VEVENTs.
pub fn read_ics(text: &str, floating: Tz, max_events: usize) -> Result<Import, IcsError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    // Every line end as CRLF (LF-only files are common; bare CR is old Mac): unfolding then sees
    // every fold, and the parser, which looks for CRLF before LF, finds each line's own end
    // (with LF only it would search the rest of the file for a CRLF on every line).
    let text = text
        .replace("\r\n", "\n")
        .replace('\r', "\n")
        .replace('\n', "\r\n");
    let unfolded = unfold(&text);
    let first = unfolded
        .split("\r\n")
        .map(str::trim)
        .find(|l| !l.is_empty());
    if !first.is_some_and(|l| l.eq_ignore_ascii_case("BEGIN:VCALENDAR")) {
        return Err(IcsError::Syntax(
            "it does not begin with BEGIN:VCALENDAR".to_owned(),
        ));
    }
    // The parser descends one call per nested component: bound the nesting before it runs, so
    // that no text can exhaust the stack (VCALENDAR > VEVENT > VALARM, VTIMEZONE > STANDARD).
    let mut depth = 0usize;
    for line in unfolded.split("\r\n") {
        let line = line.trim_start();
        let head = line.get(..6).unwrap_or(line);
        if head.eq_ignore_ascii_case("BEGIN:") {
            depth += 1;
            if depth > MAX_NESTING {
                return Err(IcsError::Syntax(format!(
                    "components nest more than {MAX_NESTING} deep"
                )));
            }
        } else if line.get(..4).unwrap_or(line).eq_ignore_ascii_case("END:") {
            depth = depth.saturating_sub(1);
        }
    }
    let roots = read_components(&unfolded).map_err(|e| IcsError::Syntax(syntax_message(&e)))?;
    if !roots.iter().any(|c| is(&c.name, "VCALENDAR")) {
        return Err(IcsError::Syntax("no VCALENDAR".to_owned()));
    }
    let mut vevents: Vec<&Component> = Vec::new();
    let mut locations: HashMap<String, String> = HashMap::new();
    for root in &roots {
        let children: Vec<&Component> = if is(&root.name, "VCALENDAR") {
            root.components.iter().collect()
        } else {
            vec![root]
        };
        for c in children {
            if is(&c.name, "VEVENT") {
                vevents.push(c);
            } else if is(&c.name, "VTIMEZONE") {
                if let (Some(id), Some(loc)) = (prop(c, "TZID"), prop(c, "X-LIC-LOCATION")) {
                    locations.insert(
                        id.val.as_str().trim().to_owned(),
                        loc.val.as_str().trim().to_owned(),
                    );
                }
            }
        }
    }
    if vevents.len() > max_events {
        return Err(IcsError::TooManyEvents {
            found: vevents.len(),
            max: max_events,
        });
    }
    let reader = Reader {
        floating,
        locations,
    };
    let mut events = Vec::with_capacity(vevents.len());
    let mut skipped = 0;
    for (i, c) in vevents.iter().enumerate() {
        match reader.event(i + 1, c)? {
            Some(event) => events.push(event),
            None => skipped += 1,
        }
    }
    Ok(Import {
        events,
        vevents: vevents.len(),
        skipped,
    })
}

/// The parser's error text is a report quoting the input, innermost first: "N: at line L, in
/// CONTEXT:", the line, a caret. Its first line number and text, and the first context that
/// says something (not one of nom's own parser names).
fn syntax_message(report: &str) -> String {
    const GENERIC: [&str; 12] = [
        "Tag",
        "Satisfy",
        "Many0",
        "Many1",
        "ManyTill",
        "Alt",
        "Eof",
        "TakeUntil",
        "Verify",
        "property",
        "component",
        "property cannot be END or BEGIN",
    ];
    let mut lines = report.lines();
    let mut place = None;
    let mut reason = None;
    while let Some(line) = lines.next() {
        let Some((_, rest)) = line.split_once(": at line ") else {
            continue;
        };
        let Some((number, context)) = rest.split_once(", in ") else {
            continue;
        };
        let context = context.trim_end_matches(':');
        if place.is_none() {
            let text = lines.next().unwrap_or("");
            place = Some(format!("near line {number} (\"{}\")", shorten(text, 60)));
        }
        if reason.is_none() && !GENERIC.contains(&context) {
            reason = Some(context.to_owned());
        }
    }
    match (place, reason) {
        (Some(place), Some(reason)) => format!("{place}: {reason}"),
        (Some(place), None) => place,
        _ => "not an iCalendar object".to_owned(),
    }
}

fn is(name: &impl AsRef<str>, want: &str) -> bool {
    name.as_ref().eq_ignore_ascii_case(want)
}

fn prop<'c>(c: &'c Component, name: &str) -> Option<&'c Property<'c>> {
    c.properties.iter().find(|p| is(&p.name, name))
}

fn props<'c>(c: &'c Component, name: &'c str) -> impl Iterator<Item = &'c Property<'c>> {
    c.properties.iter().filter(move |p| is(&p.name, name))
}

/// A TEXT value unescaped. The parser unescapes the properties it knows by their upper-case
/// names; a name written in lower case (which RFC 5545 allows) is unescaped here.
fn text_of(p: &Property) -> String {
    if p.name.as_str().chars().any(char::is_lowercase) {
        p.val.clone().unescape_text().as_str().to_owned()
    } else {
        p.val.as_str().to_owned()
    }
}

fn param<'p>(p: &'p Property, key: &str) -> Option<&'p str> {
    p.params
        .iter()
        .find(|x| is(&x.key, key))
        .and_then(|x| x.val.as_ref())
        .map(|v| v.as_str().trim().trim_matches('"'))
}

/// The IANA zone a TZID names: an IANA name, a Windows zone name (CLDR's mapping, its
/// territory-neutral entry first), or a path whose tail is an IANA name
/// (`/mozilla.org/20050126_1/Europe/Berlin`). None when it is none of these.
pub fn zone_for_tzid(tzid: &str) -> Option<Tz> {
    let tzid = tzid.trim().trim_matches('"').trim();
    if tzid.is_empty() {
        return None;
    }
    if let Ok(tz) = tzid.parse::<Tz>() {
        return Some(tz);
    }
    if let Some(iana) = localzone::win_zone_to_iana(tzid, Some("001"))
        .or_else(|| localzone::win_zone_to_iana(tzid, None))
    {
        if let Ok(tz) = iana.parse::<Tz>() {
            return Some(tz);
        }
    }
    tzid.match_indices('/')
        .map(|(at, _)| &tzid[at + 1..])
        .find_map(|tail| tail.parse::<Tz>().ok())
}

/// A DTSTART, DTEND, RECURRENCE-ID or EXDATE value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Moment {
    Date(NaiveDate),
    /// A wall-clock time in UTC (`...Z`).
    Utc(NaiveDateTime),
    Zoned(NaiveDateTime, Tz),
    Floating(NaiveDateTime),
}

fn utc_text(micros: i64) -> String {
    DateTime::from_timestamp_micros(micros)
        .expect("an instant in range")
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

fn local_text(t: NaiveDateTime) -> String {
    t.format("%Y-%m-%dT%H:%M:%S").to_string()
}

impl Moment {
    /// The instant, reading floating times and dates (their midnight) in `floating`.
    fn instant(self, floating: Tz) -> i64 {
        match self {
            Moment::Date(d) => local_to_utc(floating, d.and_time(NaiveTime::MIN)),
            Moment::Utc(t) => t.and_utc().timestamp_micros(),
            Moment::Zoned(t, tz) => local_to_utc(tz, t),
            Moment::Floating(t) => local_to_utc(floating, t),
        }
    }

    /// `start`/`end` as the delivery takes them: a floating time as a local date-time without
    /// offset, anything else as its UTC instant.
    fn text(self, floating: Tz) -> String {
        match self {
            Moment::Floating(t) => local_text(t),
            _ => utc_text(self.instant(floating)),
        }
    }

    /// The calendar date as written.
    fn date(self) -> NaiveDate {
        match self {
            Moment::Date(d) => d,
            Moment::Utc(t) | Moment::Zoned(t, _) | Moment::Floating(t) => t.date(),
        }
    }

    /// The same wall-clock time shifted on its own calendar.
    fn plus(self, d: Duration) -> Moment {
        match self {
            Moment::Date(x) => Moment::Date(x + d),
            Moment::Utc(t) => Moment::Utc(t + d),
            Moment::Zoned(t, tz) => Moment::Zoned(t + d, tz),
            Moment::Floating(t) => Moment::Floating(t + d),
        }
    }
}

fn digits(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

fn parse_date(s: &str) -> Option<NaiveDate> {
    if s.len() != 8 || !digits(s) {
        return None;
    }
    NaiveDate::from_ymd_opt(
        s[0..4].parse().ok()?,
        s[4..6].parse().ok()?,
        s[6..8].parse().ok()?,
    )
}

fn parse_date_time(s: &str) -> Option<NaiveDateTime> {
    let (date, time) = s.split_once(['T', 't'])?;
    if time.len() != 6 || !digits(time) {
        return None;
    }
    let time = NaiveTime::from_hms_opt(
        time[0..2].parse().ok()?,
        time[2..4].parse().ok()?,
        // a leap second (60) as the last second of its minute
        time[4..6].parse::<u32>().ok()?.min(59),
    )?;
    Some(parse_date(date)?.and_time(time))
}

/// One value of a date or date-time property with its VALUE and TZID parameters.
fn parse_moment(value: &str, as_date: bool, zone: Option<Tz>) -> Option<Moment> {
    let value = value.trim();
    if as_date || value.len() == 8 {
        // VALUE=DATE, or a bare date written without it
        return parse_date(value).map(Moment::Date);
    }
    if let Some(utc) = value.strip_suffix(['Z', 'z']) {
        return parse_date_time(utc).map(Moment::Utc);
    }
    let t = parse_date_time(value)?;
    Some(match zone {
        Some(tz) => Moment::Zoned(t, tz),
        None => Moment::Floating(t),
    })
}

/// An RFC 5545 duration: its days (weeks counted as 7) and its exact seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Dur {
    days: i64,
    seconds: i64,
}

fn parse_duration(s: &str) -> Option<Dur> {
    let s = s.trim();
    let (negative, s) = match s.as_bytes().first()? {
        b'-' => (true, &s[1..]),
        b'+' => (false, &s[1..]),
        _ => (false, s),
    };
    let s = s.strip_prefix(['P', 'p'])?;
    let (mut days, mut seconds, mut number) = (0i64, 0i64, None);
    // after T; a unit seen (in the part we are in)
    let (mut in_time, mut any) = (false, false);
    for c in s.chars() {
        match c.to_ascii_uppercase() {
            '0'..='9' => {
                let d = i64::from(c.to_digit(10)?);
                number = Some(number.unwrap_or(0i64).checked_mul(10)?.checked_add(d)?);
                if number? > 100_000_000 {
                    return None;
                }
            }
            'T' if !in_time && number.is_none() => {
                in_time = true;
                any = false;
            }
            unit => {
                let n = number.take()?;
                match (in_time, unit) {
                    (false, 'W') => days += 7 * n,
                    (false, 'D') => days += n,
                    (true, 'H') => seconds += 3600 * n,
                    (true, 'M') => seconds += 60 * n,
                    (true, 'S') => seconds += n,
                    _ => return None,
                }
                any = true;
            }
        }
    }
    if number.is_some() || !any {
        return None;
    }
    Some(if negative {
        Dur {
            days: -days,
            seconds: -seconds,
        }
    } else {
        Dur { days, seconds }
    })
}

struct Reader {
    floating: Tz,
    /// VTIMEZONE TZID -> its X-LIC-LOCATION.
    locations: HashMap<String, String>,
}

impl Reader {
    fn zone(&self, tzid: &str) -> Option<Tz> {
        zone_for_tzid(tzid).or_else(|| {
            self.locations
                .get(tzid.trim().trim_matches('"').trim())
                .and_then(|loc| zone_for_tzid(loc))
        })
    }

    /// Every value of a date or date-time property (EXDATE lines carry comma lists).
    fn moments(&self, p: &Property) -> Result<Vec<Moment>, String> {
        let name = p.name.as_str().to_ascii_uppercase();
        let as_date = param(p, "VALUE").is_some_and(|v| v.eq_ignore_ascii_case("DATE"));
        let zone = match param(p, "TZID") {
            Some(tzid) => Some(self.zone(tzid).ok_or_else(|| {
                format!(
                    "has an unknown time zone \"{}\" in {name}",
                    shorten(tzid, 100)
                )
            })?),
            None => None,
        };
        p.val
            .as_str()
            .split(',')
            .filter(|v| !v.trim().is_empty())
            .map(|v| {
                parse_moment(v, as_date, zone).ok_or_else(|| {
                    format!(
                        "has a {name} that is not a date or date-time: \"{}\"",
                        shorten(v.trim(), 60)
                    )
                })
            })
            .collect()
    }

    fn moment(&self, p: &Property) -> Result<Moment, String> {
        let name = p.name.as_str().to_ascii_uppercase();
        self.moments(p)?
            .first()
            .copied()
            .ok_or_else(|| format!("has an empty {name}"))
    }

    /// One VEVENT as an event of the delivery; None when it holds no time.
    fn event(&self, index: usize, c: &Component) -> Result<Option<Value>, IcsError> {
        let uid = prop(c, "UID")
            .map(|p| text_of(p).trim().to_owned())
            .filter(|u| !u.is_empty());
        let fail = |problem: String| IcsError::Event {
            index,
            uid: uid.clone(),
            problem,
        };
        let Some(uid) = uid.clone() else {
            return Err(fail("has no UID".to_owned()));
        };
        let start_prop = prop(c, "DTSTART").ok_or_else(|| fail("has no DTSTART".to_owned()))?;
        let start = self.moment(start_prop).map_err(fail)?;
        let end = prop(c, "DTEND")
            .map(|p| self.moment(p))
            .transpose()
            .map_err(fail)?;
        let duration = match prop(c, "DURATION") {
            Some(p) if end.is_none() => Some(parse_duration(p.val.as_str()).ok_or_else(|| {
                fail(format!(
                    "has a DURATION that does not parse: \"{}\"",
                    shorten(p.val.as_str().trim(), 60)
                ))
            })?),
            _ => None,
        };

        let mut e = Map::new();
        e.insert("external_id".into(), uid.into());
        if let Some(p) = prop(c, "RECURRENCE-ID") {
            let id = match self.moment(p).map_err(fail)? {
                Moment::Date(d) => d.format("%Y%m%d").to_string(),
                m => utc_text(m.instant(self.floating)),
            };
            e.insert("recurrence_id".into(), id.into());
        }
        if let Some(updated) = prop(c, "LAST-MODIFIED")
            .or_else(|| prop(c, "DTSTAMP"))
            .and_then(|p| parse_moment(p.val.as_str(), false, None))
            .and_then(|m| match m {
                // a version is a UTC time; a floating one is read as UTC
                Moment::Utc(t) | Moment::Floating(t) => {
                    Some(utc_text(t.and_utc().timestamp_micros()))
                }
                _ => None,
            })
        {
            e.insert("updated".into(), updated.into());
        }
        if let Some(title) = prop(c, "SUMMARY")
            .map(|p| text_of(p).trim().to_owned())
            .filter(|t| !t.is_empty())
        {
            e.insert("title".into(), title.into());
        }
        if let Some(status) = prop(c, "STATUS").and_then(|p| {
            match p.val.as_str().trim().to_ascii_uppercase().as_str() {
                "CONFIRMED" => Some("confirmed"),
                "TENTATIVE" => Some("tentative"),
                "CANCELLED" => Some("cancelled"),
                _ => None,
            }
        }) {
            e.insert("status".into(), status.into());
        }
        if let Some(transparency) = prop(c, "TRANSP").and_then(|p| {
            match p.val.as_str().trim().to_ascii_uppercase().as_str() {
                "OPAQUE" => Some("opaque"),
                "TRANSPARENT" => Some("transparent"),
                _ => None,
            }
        }) {
            e.insert("transparency".into(), transparency.into());
        }

        let all_day = matches!(start, Moment::Date(_));
        e.insert("all_day".into(), all_day.into());
        if let Moment::Date(first) = start {
            let last = match (end, duration) {
                (Some(end), _) if end.date() == first => first + Duration::days(1),
                (Some(end), _) => end.date(),
                (None, Some(d)) => {
                    let whole = d.days + (d.seconds + 86_399).div_euclid(86_400);
                    first + Duration::days(whole)
                }
                (None, None) => first + Duration::days(1),
            };
            if last < first {
                return Err(fail("ends before it starts".to_owned()));
            }
            if last == first {
                return Ok(None);
            }
            e.insert(
                "start_date".into(),
                first.format("%Y-%m-%d").to_string().into(),
            );
            e.insert(
                "end_date".into(),
                last.format("%Y-%m-%d").to_string().into(),
            );
        } else {
            let end = match (end, duration) {
                // a date as DTEND of a timed event: its midnight on the start's terms
                (Some(Moment::Date(d)), _) => Some(match start {
                    Moment::Utc(_) => Moment::Utc(d.and_time(NaiveTime::MIN)),
                    Moment::Zoned(_, tz) => Moment::Zoned(d.and_time(NaiveTime::MIN), tz),
                    _ => Moment::Floating(d.and_time(NaiveTime::MIN)),
                }),
                (Some(end), _) => Some(end),
                (None, Some(d)) => {
                    // days on the start's local calendar, then elapsed seconds
                    let day_end = start.plus(Duration::days(d.days));
                    Some(match day_end {
                        Moment::Floating(t) => Moment::Floating(t + Duration::seconds(d.seconds)),
                        m => Moment::Utc(
                            DateTime::from_timestamp_micros(m.instant(self.floating))
                                .expect("an instant in range")
                                .naive_utc()
                                + Duration::seconds(d.seconds),
                        ),
                    })
                }
                (None, None) => None,
            };
            let Some(end) = end else {
                return Ok(None); // RFC 5545: it ends when it starts
            };
            let (s, t) = (start.instant(self.floating), end.instant(self.floating));
            if t < s {
                return Err(fail("ends before it starts".to_owned()));
            }
            if t == s {
                return Ok(None);
            }
            e.insert("start".into(), start.text(self.floating).into());
            e.insert("end".into(), end.text(self.floating).into());
        }
        match start {
            Moment::Zoned(_, tz) => {
                e.insert("time_zone".into(), tz.name().into());
            }
            Moment::Utc(_) => {
                e.insert("time_zone".into(), "UTC".into());
            }
            _ => {}
        }
        if let Some(rule) = prop(c, "RRULE")
            .map(|p| p.val.as_str().trim())
            .filter(|r| !r.is_empty())
        {
            e.insert("recurrence_rule".into(), rule.into());
        }
        let mut exdates = Vec::new();
        for p in props(c, "EXDATE") {
            for m in self.moments(p).map_err(fail)? {
                exdates.push(Value::from(match (all_day, m) {
                    (true, m) => m.date().format("%Y-%m-%d").to_string(),
                    (false, Moment::Date(d)) => local_text(d.and_time(NaiveTime::MIN)),
                    (false, m) => m.text(self.floating),
                }));
            }
        }
        if !exdates.is_empty() {
            e.insert("exdates".into(), exdates.into());
        }
        Ok(Some(Value::Object(e)))
    }
}

/// A booking's status as the feed says it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FeedStatus {
    /// An approved booking.
    Confirmed,
    /// A pending one.
    Tentative,
}

/// One booking of a feed: instants in Unix microseconds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeedEvent {
    pub uid: String,
    /// DTSTAMP: when the booking last changed.
    pub stamp: i64,
    pub start: i64,
    pub end: i64,
    pub summary: String,
    pub status: FeedStatus,
}

/// PRODID of the feeds.
pub const FEED_PRODID: &str = "-//booking_ext//resource calendar//EN";

/// A UTC DATE-TIME value (`YYYYMMDDTHHMMSSZ`), to the second.
pub fn ics_utc(micros: i64) -> String {
    DateTime::from_timestamp_micros(micros.div_euclid(1_000_000) * 1_000_000)
        .expect("an instant in range")
        .format("%Y%m%dT%H%M%SZ")
        .to_string()
}

/// A TEXT value escaped (RFC 5545, 3.3.11): backslash, semicolon and comma behind a backslash,
/// line breaks as `\n`; other control characters (which TEXT may not carry) dropped.
pub fn escape_text(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => out.push_str("\\\\"),
            ';' => out.push_str("\\;"),
            ',' => out.push_str("\\,"),
            '\r' => {
                chars.next_if_eq(&'\n');
                out.push_str("\\n");
            }
            '\n' => out.push_str("\\n"),
            '\t' => out.push('\t'),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out
}

/// A content line folded (RFC 5545, 3.1): at most 75 octets per line, each continuation line
/// starting with one space, never inside a UTF-8 sequence. Without the final CRLF.
pub fn fold_line(line: &str) -> String {
    const LIMIT: usize = 75;
    let mut out = String::with_capacity(line.len() + line.len() / 70 * 3);
    let mut rest = line;
    let mut room = LIMIT;
    while rest.len() > room {
        let mut at = room;
        while !rest.is_char_boundary(at) {
            at -= 1;
        }
        out.push_str(&rest[..at]);
        out.push_str("\r\n ");
        rest = &rest[at..];
        room = LIMIT - 1; // the leading space counts
    }
    out.push_str(rest);
    out
}

fn push_line(out: &mut String, line: &str) {
    out.push_str(&fold_line(line));
    out.push_str("\r\n");
}

/// A feed of bookings: one VCALENDAR named `name` (its X-WR-CALNAME), one VEVENT per booking.
pub fn write_feed(name: Option<&str>, events: &[FeedEvent]) -> String {
    let mut out = String::with_capacity(300 + events.len() * 260);
    push_line(&mut out, "BEGIN:VCALENDAR");
    push_line(&mut out, &format!("PRODID:{FEED_PRODID}"));
    push_line(&mut out, "VERSION:2.0");
    push_line(&mut out, "CALSCALE:GREGORIAN");
    push_line(&mut out, "METHOD:PUBLISH");
    if let Some(name) = name {
        push_line(&mut out, &format!("X-WR-CALNAME:{}", escape_text(name)));
    }
    push_line(&mut out, "REFRESH-INTERVAL;VALUE=DURATION:PT1H");
    push_line(&mut out, "X-PUBLISHED-TTL:PT1H");
    for e in events {
        push_line(&mut out, "BEGIN:VEVENT");
        push_line(&mut out, &format!("UID:{}", escape_text(&e.uid)));
        push_line(&mut out, &format!("DTSTAMP:{}", ics_utc(e.stamp)));
        push_line(&mut out, &format!("DTSTART:{}", ics_utc(e.start)));
        push_line(&mut out, &format!("DTEND:{}", ics_utc(e.end)));
        push_line(&mut out, &format!("SUMMARY:{}", escape_text(&e.summary)));
        push_line(
            &mut out,
            match e.status {
                FeedStatus::Confirmed => "STATUS:CONFIRMED",
                FeedStatus::Tentative => "STATUS:TENTATIVE",
            },
        );
        push_line(&mut out, "TRANSP:OPAQUE");
        push_line(&mut out, "END:VEVENT");
    }
    push_line(&mut out, "END:VCALENDAR");
    out
}

#[cfg(test)]
#[path = "calendars_tests.rs"]
mod tests;
