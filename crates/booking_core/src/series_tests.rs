use super::*;
use chrono::{DateTime, LocalResult, Offset};
use proptest::prelude::*;
use std::sync::OnceLock;

const MIN: i64 = crate::time::MICROS_PER_MINUTE;
const HOUR: i64 = 60 * MIN;

fn date(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
}

fn local(s: &str) -> NaiveDateTime {
    NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M").unwrap()
}

fn utc(s: &str) -> i64 {
    DateTime::parse_from_rfc3339(s).unwrap().timestamp_micros()
}

fn rule(text: &str) -> Pattern {
    Pattern::parse_rrule(text).unwrap()
}

fn dates(occ: &[Occurrence]) -> Vec<String> {
    occ.iter().map(|o| o.local_date.to_string()).collect()
}

fn instants(ts: impl IntoIterator<Item = i64>) -> Vec<String> {
    ts.into_iter()
        .map(|t| {
            DateTime::from_timestamp_micros(t)
                .unwrap()
                .format("%Y-%m-%dT%H:%MZ")
                .to_string()
        })
        .collect()
}

fn starts(occ: &[Occurrence]) -> Vec<String> {
    instants(occ.iter().map(|o| o.start))
}

fn series(text: &str, first: &str, minutes: i64, tz: Tz) -> Result<Vec<Occurrence>, SeriesError> {
    occurrences(&rule(text), local(first), minutes * MIN, tz, &[])
}

const NEW_YORK: Tz = chrono_tz::America::New_York;

// ---------------------------------------------------------------------------------------------
// Named cases: DST
// ---------------------------------------------------------------------------------------------

#[test]
fn weekly_0230_across_the_us_spring_forward_starts_at_the_end_of_the_gap() {
    // Sunday 10 March 2030, New York: 02:00 EST jumps to 03:00 EDT, so 02:30 does not exist.
    // That Sunday's lesson is kept and starts at 03:00 EDT (07:00Z), for a full hour.
    let occ = series("FREQ=WEEKLY;COUNT=3", "2030-03-03 02:30", 60, NEW_YORK).unwrap();
    assert_eq!(dates(&occ), ["2030-03-03", "2030-03-10", "2030-03-17"]);
    assert_eq!(
        starts(&occ),
        [
            "2030-03-03T07:30Z",
            "2030-03-10T07:00Z",
            "2030-03-17T06:30Z"
        ]
    );
    assert!(occ.iter().all(|o| o.end - o.start == HOUR));
    // The slot engine's own rule, so a series and the slots agree.
    assert_eq!(
        occ[1].start,
        local_to_utc(NEW_YORK, local("2030-03-10 02:30"))
    );
}

#[test]
fn fall_back_0130_maps_to_the_first_occurrence_and_lasts_its_elapsed_duration() {
    // Sunday 3 November 2030, New York: 01:00-02:00 happens twice. 01:30 is the first one (EDT,
    // 05:30Z); an hour later is 01:30 EST.
    let occ = series("FREQ=WEEKLY;COUNT=3", "2030-10-27 01:30", 60, NEW_YORK).unwrap();
    assert_eq!(dates(&occ), ["2030-10-27", "2030-11-03", "2030-11-10"]);
    assert_eq!(
        starts(&occ),
        [
            "2030-10-27T05:30Z",
            "2030-11-03T05:30Z",
            "2030-11-10T06:30Z"
        ]
    );
    assert_eq!(instants([occ[1].end]), ["2030-11-03T06:30Z"]);
}

#[test]
fn zones_whose_clocks_change_at_midnight_keep_the_midnight_occurrence() {
    // Havana: 00:00 CST jumps to 01:00 CDT on Sunday 10 March 2030 (midnight does not exist),
    // and 01:00 CDT falls back to 00:00 CST on Sunday 3 November 2030 (midnight happens twice).
    let havana = chrono_tz::America::Havana;
    assert_eq!(
        havana.from_local_datetime(&local("2030-03-10 00:00")),
        LocalResult::None
    );
    assert!(matches!(
        havana.from_local_datetime(&local("2030-11-03 00:30")),
        LocalResult::Ambiguous(..)
    ));
    let occ = series("FREQ=WEEKLY;COUNT=3", "2030-03-03 00:00", 30, havana).unwrap();
    assert_eq!(dates(&occ), ["2030-03-03", "2030-03-10", "2030-03-17"]);
    assert_eq!(
        starts(&occ),
        [
            "2030-03-03T05:00Z",
            "2030-03-10T05:00Z",
            "2030-03-17T04:00Z"
        ]
    );
    let occ = series("FREQ=DAILY;COUNT=2", "2030-11-02 00:30", 30, havana).unwrap();
    assert_eq!(starts(&occ), ["2030-11-02T04:30Z", "2030-11-03T04:30Z"]);
}

#[test]
fn lord_howe_half_hour_shift() {
    // Lord Howe moves its clocks by 30 minutes: 02:00 -> 02:30 on Sunday 6 October 2030.
    let tz = chrono_tz::Australia::Lord_Howe;
    let occ = series("FREQ=DAILY;COUNT=3", "2030-10-05 02:15", 45, tz).unwrap();
    assert_eq!(
        starts(&occ),
        [
            "2030-10-04T15:45Z",
            "2030-10-05T15:30Z",
            "2030-10-06T15:15Z"
        ]
    );
}

// ---------------------------------------------------------------------------------------------
// Named cases: the rule
// ---------------------------------------------------------------------------------------------

#[test]
fn monthly_on_the_31st_skips_the_months_without_one() {
    // RFC 5545: an invalid date (30 February, 31 April) is ignored, not moved.
    let occ = series(
        "FREQ=MONTHLY;COUNT=7",
        "2030-01-31 10:00",
        60,
        chrono_tz::UTC,
    )
    .unwrap();
    assert_eq!(
        dates(&occ),
        [
            "2030-01-31",
            "2030-03-31",
            "2030-05-31",
            "2030-07-31",
            "2030-08-31",
            "2030-10-31",
            "2030-12-31"
        ]
    );
    // The same with BYMONTHDAY=31 from a start off the rule: the start, then the 31sts.
    let occ = series(
        "FREQ=MONTHLY;BYMONTHDAY=31;COUNT=3",
        "2030-02-15 10:00",
        60,
        chrono_tz::UTC,
    )
    .unwrap();
    assert_eq!(dates(&occ), ["2030-02-15", "2030-03-31", "2030-05-31"]);
    // "The last day of every month" is BYMONTHDAY=-1.
    let occ = series(
        "FREQ=MONTHLY;BYMONTHDAY=-1;COUNT=4",
        "2032-01-31 10:00",
        60,
        chrono_tz::UTC,
    )
    .unwrap();
    assert_eq!(
        dates(&occ),
        ["2032-01-31", "2032-02-29", "2032-03-31", "2032-04-30"]
    );
    // Every 12 months on the 29th from February 2031: only leap years' Februaries, so the
    // second occurrence (2032-02-29) is found, the third (2036) lies beyond the horizon.
    let occ = series(
        "FREQ=MONTHLY;INTERVAL=12;BYMONTHDAY=29;COUNT=2",
        "2031-02-28 10:00",
        60,
        chrono_tz::UTC,
    )
    .unwrap();
    assert_eq!(dates(&occ), ["2031-02-28", "2032-02-29"]);
    assert_eq!(
        series(
            "FREQ=MONTHLY;INTERVAL=12;BYMONTHDAY=29;COUNT=3",
            "2031-02-28 10:00",
            60,
            chrono_tz::UTC
        ),
        Err(SeriesError::BeyondHorizon {
            last_day: date("2034-02-27")
        })
    );
}

#[test]
fn monthly_with_weekdays_and_days_takes_both() {
    // Every Monday of every other month; and Fridays the 13th (BYDAY and BYMONTHDAY narrow).
    let occ = series(
        "FREQ=MONTHLY;INTERVAL=2;BYDAY=MO;COUNT=6",
        "2030-01-07 09:00",
        60,
        chrono_tz::UTC,
    )
    .unwrap();
    assert_eq!(
        dates(&occ),
        [
            "2030-01-07",
            "2030-01-14",
            "2030-01-21",
            "2030-01-28",
            "2030-03-04",
            "2030-03-11"
        ]
    );
    let occ = series(
        "FREQ=MONTHLY;BYDAY=FR;BYMONTHDAY=13;COUNT=3",
        "2030-09-13 09:00",
        60,
        chrono_tz::UTC,
    )
    .unwrap();
    assert_eq!(dates(&occ), ["2030-09-13", "2030-12-13", "2031-06-13"]);
}

#[test]
fn weekly_with_an_interval_counts_weeks_from_the_first_start() {
    let occ = series(
        "FREQ=WEEKLY;INTERVAL=2;BYDAY=MO,TH;COUNT=5",
        "2030-01-07 18:00",
        90,
        chrono_tz::UTC,
    )
    .unwrap();
    assert_eq!(
        dates(&occ),
        [
            "2030-01-07",
            "2030-01-10",
            "2030-01-21",
            "2030-01-24",
            "2030-02-04"
        ]
    );
}

#[test]
fn a_first_start_off_the_rule_is_the_first_occurrence_and_counts() {
    // Tuesday 1 January 2030, "Mondays and Wednesdays, three times": RFC 5545 counts DTSTART
    // as the first occurrence, so Tuesday, Wednesday, Monday.
    let occ = series(
        "FREQ=WEEKLY;BYDAY=MO,WE;COUNT=3",
        "2030-01-01 09:00",
        60,
        chrono_tz::UTC,
    )
    .unwrap();
    assert_eq!(dates(&occ), ["2030-01-01", "2030-01-02", "2030-01-07"]);
    // With UNTIL too.
    let occ = series(
        "FREQ=WEEKLY;BYDAY=MO;UNTIL=20300107",
        "2030-01-01 09:00",
        60,
        chrono_tz::UTC,
    )
    .unwrap();
    assert_eq!(dates(&occ), ["2030-01-01", "2030-01-07"]);
}

#[test]
fn count_10_ends_after_ten() {
    let occ = series(
        "FREQ=DAILY;INTERVAL=2;COUNT=10",
        "2030-05-01 08:00",
        30,
        NEW_YORK,
    )
    .unwrap();
    assert_eq!(occ.len(), 10);
    assert_eq!(occ[9].local_date, date("2030-05-19"));
    let occ = series("FREQ=DAILY;COUNT=1", "2030-05-01 08:00", 30, NEW_YORK).unwrap();
    assert_eq!(dates(&occ), ["2030-05-01"]);
}

#[test]
fn until_is_inclusive_as_a_date_and_as_an_instant() {
    let weekly = |until: &str| {
        series(
            &format!("FREQ=WEEKLY;UNTIL={until}"),
            "2030-03-03 02:30",
            60,
            NEW_YORK,
        )
        .map(|o| dates(&o))
    };
    let three = ["2030-03-03", "2030-03-10", "2030-03-17"];
    // A date: the last local date that may have an occurrence.
    assert_eq!(weekly("20300317").unwrap(), three);
    assert_eq!(weekly("20300316").unwrap(), &three[..2]);
    // A UTC instant: the latest start. 17 March 02:30 EDT is 06:30Z.
    assert_eq!(weekly("20300317T063000Z").unwrap(), three);
    assert_eq!(weekly("20300317T062959Z").unwrap(), &three[..2]);
    // UNTIL equal to the first start: that one occurrence.
    assert_eq!(weekly("20300303T073000Z").unwrap(), &three[..1]);
    assert_eq!(
        weekly("20300303T072959Z"),
        Err(SeriesError::UntilBeforeStart)
    );
    assert_eq!(weekly("20300302"), Err(SeriesError::UntilBeforeStart));
    // The seed's end_date is the date form.
    let p = Pattern::from_fields("weekly", None, &[], &[], Some(date("2030-03-17")), None).unwrap();
    let occ = occurrences(&p, local("2030-03-03 02:30"), HOUR, NEW_YORK, &[]).unwrap();
    assert_eq!(dates(&occ), three);
}

#[test]
fn skipped_dates_are_removed_and_still_count() {
    let p = rule("FREQ=DAILY;COUNT=5");
    let first = local("2030-06-01 10:00");
    let occ = occurrences(&p, first, HOUR, NEW_YORK, &[date("2030-06-02")]).unwrap();
    // RFC 5545: the set is made (five dates), then the exception removed: four, not five.
    assert_eq!(
        dates(&occ),
        ["2030-06-01", "2030-06-03", "2030-06-04", "2030-06-05"]
    );
    // The first start can be skipped too; a date that is no occurrence changes nothing.
    let skipped = [date("2030-06-01"), date("2030-07-01"), date("2030-06-01")];
    let occ = occurrences(&p, first, HOUR, NEW_YORK, &skipped).unwrap();
    assert_eq!(
        dates(&occ),
        ["2030-06-02", "2030-06-03", "2030-06-04", "2030-06-05"]
    );
    // Everything skipped: no occurrence, no error.
    let all: Vec<NaiveDate> = (1..=5)
        .map(|d| NaiveDate::from_ymd_opt(2030, 6, d).unwrap())
        .collect();
    assert_eq!(occurrences(&p, first, HOUR, NEW_YORK, &all).unwrap(), []);
}

// ---------------------------------------------------------------------------------------------
// Limits
// ---------------------------------------------------------------------------------------------

#[test]
fn limits() {
    let utc = chrono_tz::UTC;
    // COUNT up to the maximum; above it refused as it is read.
    assert_eq!(
        series("FREQ=DAILY;COUNT=730", "2030-01-01 09:00", 60, utc)
            .unwrap()
            .len(),
        730
    );
    assert_eq!(
        Pattern::parse_rrule("FREQ=DAILY;COUNT=731"),
        Err(SeriesError::TooManyOccurrences)
    );
    // An UNTIL series with more than the maximum.
    assert_eq!(
        series("FREQ=DAILY;UNTIL=20320101", "2030-01-01 09:00", 60, utc).map(|o| o.len()),
        Err(SeriesError::TooManyOccurrences)
    );
    assert_eq!(
        series("FREQ=DAILY;UNTIL=20320101", "2030-01-02 09:00", 60, utc).map(|o| o.len()),
        Ok(730)
    );
    // The horizon: the first start's date plus 1095 days (2030-01-01 + 1095 = 2032-12-31).
    let last_day = date("2032-12-31");
    assert_eq!(
        date("2030-01-01") + Duration::days(MAX_HORIZON_DAYS - 1),
        last_day
    );
    assert_eq!(
        series("FREQ=MONTHLY;UNTIL=20321231", "2030-01-01 09:00", 60, utc)
            .unwrap()
            .len(),
        36
    );
    assert_eq!(
        series("FREQ=MONTHLY;UNTIL=20330101", "2030-01-01 09:00", 60, utc),
        Err(SeriesError::BeyondHorizon { last_day })
    );
    assert_eq!(
        series(
            "FREQ=MONTHLY;UNTIL=20321231T235959Z",
            "2030-01-01 09:00",
            60,
            utc
        )
        .unwrap()
        .len(),
        36
    );
    assert_eq!(
        series(
            "FREQ=MONTHLY;UNTIL=20330101T000000Z",
            "2030-01-01 09:00",
            60,
            utc
        ),
        Err(SeriesError::BeyondHorizon { last_day })
    );
    // COUNT that does not fit in the horizon.
    assert_eq!(
        series("FREQ=MONTHLY;COUNT=37", "2030-01-01 09:00", 60, utc),
        Err(SeriesError::BeyondHorizon { last_day })
    );
    // A rule that never matches again (every 7 days on Tuesdays from a Monday): the first
    // start, and an error for anything more.
    let never = "FREQ=DAILY;INTERVAL=7;BYDAY=TU";
    assert_eq!(
        series(&format!("{never};COUNT=1"), "2030-01-07 09:00", 60, utc).map(|o| o.len()),
        Ok(1)
    );
    assert_eq!(
        series(&format!("{never};COUNT=2"), "2030-01-07 09:00", 60, utc),
        Err(SeriesError::BeyondHorizon {
            last_day: date("2033-01-06")
        })
    );
    assert_eq!(
        series(
            &format!("{never};UNTIL=20321231"),
            "2030-01-07 09:00",
            60,
            utc
        )
        .map(|o| o.len()),
        Ok(1)
    );
    // Durations and years.
    let p = rule("FREQ=DAILY;COUNT=2");
    let first = local("2030-01-01 09:00");
    for bad in [0, -1, MAX_DURATION_DAYS * MICROS_PER_DAY + 1] {
        assert_eq!(
            occurrences(&p, first, bad, utc, &[]),
            Err(SeriesError::DurationOutOfRange(bad))
        );
    }
    assert!(occurrences(&p, first, MAX_DURATION_DAYS * MICROS_PER_DAY, utc, &[]).is_ok());
    let far = local("9001-01-01 09:00");
    assert_eq!(
        occurrences(&p, far, HOUR, utc, &[]),
        Err(SeriesError::StartOutOfRange(far))
    );
}

#[test]
fn a_pattern_built_field_by_field_is_checked_too() {
    let first = local("2030-01-01 09:00");
    let base = rule("FREQ=DAILY;COUNT=3");
    let cases = [
        (
            Pattern {
                interval: 0,
                ..base.clone()
            },
            bad("INTERVAL", 0),
        ),
        (
            Pattern {
                interval: 100,
                ..base.clone()
            },
            bad("INTERVAL", 100),
        ),
        (
            Pattern {
                by_month_day: vec![0],
                ..base.clone()
            },
            bad("BYMONTHDAY", 0),
        ),
        (
            Pattern {
                by_month_day: vec![-32],
                ..base.clone()
            },
            bad("BYMONTHDAY", -32),
        ),
        (
            Pattern {
                freq: Freq::Weekly,
                by_month_day: vec![3],
                ..base.clone()
            },
            SeriesError::MonthDayWithWeekly,
        ),
        (
            Pattern {
                end: End::Count(0),
                ..base.clone()
            },
            bad("COUNT", 0),
        ),
        (
            Pattern {
                end: End::Count(731),
                ..base.clone()
            },
            SeriesError::TooManyOccurrences,
        ),
    ];
    for (p, want) in cases {
        assert_eq!(
            occurrences(&p, first, HOUR, chrono_tz::UTC, &[]),
            Err(want),
            "{p:?}"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Reading RRULE text and the seed's fields
// ---------------------------------------------------------------------------------------------

#[test]
fn rrule_text_is_read_with_or_without_its_prefix_in_any_case() {
    let want = Pattern {
        freq: Freq::Weekly,
        interval: 2,
        by_day: vec![Weekday::Mon, Weekday::Fri],
        by_month_day: vec![],
        end: End::Count(10),
    };
    for text in [
        "FREQ=WEEKLY;INTERVAL=2;BYDAY=MO,FR;COUNT=10",
        "RRULE:FREQ=WEEKLY;INTERVAL=2;BYDAY=FR,MO;COUNT=10",
        " rrule:freq=weekly;count=10;byday=fr,mo,fr;interval=2;wkst=mo ",
    ] {
        assert_eq!(Pattern::parse_rrule(text), Ok(want.clone()), "{text}");
    }
    assert_eq!(
        want.to_string(),
        "FREQ=WEEKLY;INTERVAL=2;BYDAY=MO,FR;COUNT=10"
    );
    let p = rule("FREQ=MONTHLY;BYMONTHDAY=+1,-1,15;UNTIL=20300102T030405Z");
    assert_eq!(p.by_month_day, [-1, 1, 15]);
    assert_eq!(
        p.end,
        End::Until(Until::Instant(utc("2030-01-02T03:04:05Z")))
    );
    assert_eq!(
        p.to_string(),
        "FREQ=MONTHLY;BYMONTHDAY=-1,1,15;UNTIL=20300102T030405Z"
    );
    assert_eq!(
        rule("FREQ=DAILY;UNTIL=20300102").end,
        End::Until(Until::Date(date("2030-01-02")))
    );
}

fn bad(part: &'static str, value: impl ToString) -> SeriesError {
    SeriesError::BadValue {
        part,
        value: value.to_string(),
    }
}

#[test]
fn every_part_outside_the_subset_is_refused_by_name() {
    use SeriesError as E;
    let unsupported = |p: &str| E::UnsupportedPart(p.to_string());
    let cases: Vec<(&str, SeriesError)> = vec![
        ("", E::Empty),
        ("RRULE:", E::Empty),
        ("FREQ=YEARLY;COUNT=2", E::UnsupportedFreq("YEARLY".into())),
        ("FREQ=HOURLY;COUNT=2", E::UnsupportedFreq("HOURLY".into())),
        (
            "FREQ=MINUTELY;COUNT=2",
            E::UnsupportedFreq("MINUTELY".into()),
        ),
        (
            "FREQ=SECONDLY;COUNT=2",
            E::UnsupportedFreq("SECONDLY".into()),
        ),
        ("FREQ=FORTNIGHTLY;COUNT=2", bad("FREQ", "FORTNIGHTLY")),
        (
            "FREQ=MONTHLY;BYDAY=MO;BYSETPOS=1;COUNT=2",
            unsupported("BYSETPOS"),
        ),
        ("FREQ=DAILY;BYHOUR=9;COUNT=2", unsupported("BYHOUR")),
        ("FREQ=DAILY;BYMINUTE=9;COUNT=2", unsupported("BYMINUTE")),
        ("FREQ=DAILY;BYSECOND=9;COUNT=2", unsupported("BYSECOND")),
        ("FREQ=DAILY;BYMONTH=9;COUNT=2", unsupported("BYMONTH")),
        ("FREQ=DAILY;BYYEARDAY=9;COUNT=2", unsupported("BYYEARDAY")),
        ("FREQ=DAILY;BYWEEKNO=9;COUNT=2", unsupported("BYWEEKNO")),
        (
            "FREQ=DAILY;X-NAME=1;COUNT=2",
            E::UnknownPart("X-NAME".into()),
        ),
        (
            "FREQ=DAILY;BYEASTER=0;COUNT=2",
            E::UnknownPart("BYEASTER".into()),
        ),
        ("FREQ=DAILY;COUNT=2;UNTIL=20300101", E::CountAndUntil),
        ("FREQ=DAILY", E::NoEnd),
        ("FREQ=DAILY;INTERVAL=3", E::NoEnd),
        ("COUNT=2", E::MissingFreq),
        (
            "FREQ=DAILY;FREQ=WEEKLY;COUNT=2",
            E::DuplicatePart("FREQ".into()),
        ),
        (
            "FREQ=DAILY;COUNT=2;count=3",
            E::DuplicatePart("COUNT".into()),
        ),
        ("FREQ=DAILY;COUNT", E::MalformedPart("COUNT".into())),
        ("FREQ=DAILY;COUNT=", E::MalformedPart("COUNT=".into())),
        ("FREQ=DAILY;;COUNT=2", E::MalformedPart("".into())),
        ("FREQ=DAILY;COUNT=2;", E::MalformedPart("".into())),
        ("FREQ=DAILY;INTERVAL=0;COUNT=2", bad("INTERVAL", 0)),
        ("FREQ=DAILY;INTERVAL=100;COUNT=2", bad("INTERVAL", 100)),
        ("FREQ=DAILY;INTERVAL=-1;COUNT=2", bad("INTERVAL", -1)),
        ("FREQ=DAILY;INTERVAL=1.5;COUNT=2", bad("INTERVAL", "1.5")),
        ("FREQ=DAILY;COUNT=0", bad("COUNT", 0)),
        ("FREQ=DAILY;COUNT=two", bad("COUNT", "two")),
        ("FREQ=DAILY;COUNT=9999999999", bad("COUNT", "9999999999")),
        ("FREQ=WEEKLY;BYDAY=XX;COUNT=2", bad("BYDAY", "XX")),
        ("FREQ=WEEKLY;BYDAY=MO,;COUNT=2", bad("BYDAY", "")),
        (
            "FREQ=MONTHLY;BYDAY=1MO;COUNT=2",
            E::OrdinalByDay("1MO".into()),
        ),
        (
            "FREQ=MONTHLY;BYDAY=MO,-1FR;COUNT=2",
            E::OrdinalByDay("-1FR".into()),
        ),
        (
            "FREQ=MONTHLY;BYDAY=+2TU;COUNT=2",
            E::OrdinalByDay("+2TU".into()),
        ),
        ("FREQ=MONTHLY;BYDAY=+-2TU;COUNT=2", bad("BYDAY", "+-2TU")),
        ("FREQ=MONTHLY;BYMONTHDAY=0;COUNT=2", bad("BYMONTHDAY", 0)),
        ("FREQ=MONTHLY;BYMONTHDAY=32;COUNT=2", bad("BYMONTHDAY", 32)),
        (
            "FREQ=MONTHLY;BYMONTHDAY=-32;COUNT=2",
            bad("BYMONTHDAY", -32),
        ),
        (
            "FREQ=MONTHLY;BYMONTHDAY=--1;COUNT=2",
            bad("BYMONTHDAY", "--1"),
        ),
        ("FREQ=WEEKLY;BYMONTHDAY=1;COUNT=2", E::MonthDayWithWeekly),
        (
            "FREQ=WEEKLY;WKST=SU;COUNT=2",
            E::UnsupportedWeekStart("SU".into()),
        ),
        ("FREQ=WEEKLY;WKST=XX;COUNT=2", bad("WKST", "XX")),
        (
            "FREQ=DAILY;UNTIL=20300101T090000",
            E::FloatingUntil("20300101T090000".into()),
        ),
        ("FREQ=DAILY;UNTIL=2030-01-01", bad("UNTIL", "2030-01-01")),
        ("FREQ=DAILY;UNTIL=20300230", bad("UNTIL", "20300230")),
        (
            "FREQ=DAILY;UNTIL=20300101T250000Z",
            bad("UNTIL", "20300101T250000Z"),
        ),
        (
            "FREQ=DAILY;UNTIL=20300101T090000+0100",
            bad("UNTIL", "20300101T090000+0100"),
        ),
        (
            "FREQ=DAILY;UNTIL=20300101X090000Z",
            bad("UNTIL", "20300101X090000Z"),
        ),
        (
            "DTSTART:20300101T090000Z",
            E::MalformedPart("DTSTART:20300101T090000Z".into()),
        ),
        (
            "FREQ=DAILY;COUNT=2\nDTSTART:20300101T090000Z",
            bad("COUNT", "2\nDTSTART:20300101T090000Z"),
        ),
    ];
    for (text, want) in cases {
        assert_eq!(Pattern::parse_rrule(text), Err(want), "{text}");
    }
}

#[test]
fn error_messages_say_what_to_do() {
    let msg = |text: &str| Pattern::parse_rrule(text).unwrap_err().to_string();
    assert_eq!(
        msg("FREQ=DAILY;BYSETPOS=1;COUNT=2"),
        "the RRULE part BYSETPOS is not supported: a series takes FREQ, INTERVAL, BYDAY, BYMONTHDAY, COUNT and UNTIL"
    );
    assert_eq!(
        msg("FREQ=DAILY;INTERVAL=0;COUNT=2"),
        "INTERVAL `0` is invalid: expected a whole number from 1 to 99"
    );
    assert_eq!(
        msg("FREQ=DAILY"),
        "a series must end: give COUNT (at most 730) or UNTIL"
    );
    assert_eq!(
        msg("FREQ=DAILY;COUNT=731"),
        "a series may have at most 730 occurrences: end it sooner"
    );
    assert_eq!(
        series(
            "FREQ=DAILY;COUNT=730",
            "2030-01-01 09:00",
            0,
            chrono_tz::UTC
        )
        .unwrap_err()
        .to_string(),
        "the duration (0 microseconds) must be positive and at most 366 days"
    );
    assert_eq!(
        SeriesError::BeyondHorizon {
            last_day: date("2032-12-31")
        }
        .to_string(),
        "the series goes past 2032-12-31: every occurrence must lie within 1096 days of the first"
    );
}

#[test]
fn the_seeds_fields() {
    let until = Some(date("2030-12-31"));
    let p = Pattern::from_fields("Weekly", Some(2), &[3, 1, 0], &[], until, None).unwrap();
    assert_eq!(
        p.to_string(),
        "FREQ=WEEKLY;INTERVAL=2;BYDAY=MO,WE,SU;UNTIL=20301231"
    );
    let p = Pattern::from_fields(" monthly ", None, &[], &[-1, 15], None, Some(12)).unwrap();
    assert_eq!(p.to_string(), "FREQ=MONTHLY;BYMONTHDAY=-1,15;COUNT=12");
    let p = Pattern::from_fields("daily", Some(1), &[6], &[], None, Some(730)).unwrap();
    assert_eq!(p.to_string(), "FREQ=DAILY;BYDAY=SA;COUNT=730");
    use SeriesError as E;
    let f = |freq: &str, interval, week: &[i32], month: &[i32], end_date, end_after| {
        Pattern::from_fields(freq, interval, week, month, end_date, end_after).unwrap_err()
    };
    assert_eq!(
        f("yearly", None, &[], &[], until, None),
        bad("frequency", "yearly")
    );
    assert_eq!(
        f("daily", Some(0), &[], &[], until, None),
        bad("interval", 0)
    );
    assert_eq!(
        f("daily", Some(100), &[], &[], until, None),
        bad("interval", 100)
    );
    assert_eq!(
        f("daily", Some(-2), &[], &[], until, None),
        bad("interval", -2)
    );
    assert_eq!(
        f("weekly", None, &[7], &[], until, None),
        bad("week_days", 7)
    );
    assert_eq!(
        f("weekly", None, &[-1], &[], until, None),
        bad("week_days", -1)
    );
    assert_eq!(
        f("monthly", None, &[], &[0], until, None),
        bad("month_days", 0)
    );
    assert_eq!(
        f("monthly", None, &[], &[32], until, None),
        bad("month_days", 32)
    );
    assert_eq!(
        f("monthly", None, &[], &[300], until, None),
        bad("month_days", 300)
    );
    assert_eq!(
        f("weekly", None, &[], &[1], until, None),
        E::MonthDayWithWeekly
    );
    assert_eq!(f("daily", None, &[], &[], until, Some(3)), E::CountAndUntil);
    assert_eq!(f("daily", None, &[], &[], None, None), E::NoEnd);
    assert_eq!(
        f("daily", None, &[], &[], None, Some(0)),
        bad("end_after", 0)
    );
    assert_eq!(
        f("daily", None, &[], &[], None, Some(-5)),
        bad("end_after", -5)
    );
    assert_eq!(
        f("daily", None, &[], &[], None, Some(731)),
        E::TooManyOccurrences
    );
}

// ---------------------------------------------------------------------------------------------
// The rrule crate's own behaviour that this module works around (an upgrade that changes it
// shows up here)
// ---------------------------------------------------------------------------------------------

fn crate_dates(text: &str) -> Vec<String> {
    let set: rrule::RRuleSet = text.parse().unwrap();
    set.all(10).dates.iter().map(|d| d.to_rfc3339()).collect()
}

#[test]
fn the_rrule_crate_leaves_out_a_first_start_off_the_rule() {
    // Tuesday start, Mondays and Wednesdays: the crate starts on Wednesday.
    assert_eq!(
        crate_dates("DTSTART:20300101T090000Z\nRRULE:FREQ=WEEKLY;BYDAY=MO,WE;COUNT=3"),
        [
            "2030-01-02T09:00:00+00:00",
            "2030-01-07T09:00:00+00:00",
            "2030-01-09T09:00:00+00:00"
        ]
    );
}

#[test]
fn the_rrule_crate_in_a_real_zone_moves_gap_times_and_drops_a_missing_midnight() {
    // 02:30 in New York's gap becomes 03:30 (midnight plus 2.5 elapsed hours), not 03:00.
    assert_eq!(
        crate_dates("DTSTART;TZID=America/New_York:20300303T023000\nRRULE:FREQ=WEEKLY;COUNT=3"),
        [
            "2030-03-03T02:30:00-05:00",
            "2030-03-10T03:30:00-04:00",
            "2030-03-17T02:30:00-04:00"
        ]
    );
    // Havana's missing midnight of 10 March: that occurrence is silently dropped.
    assert_eq!(
        crate_dates("DTSTART;TZID=America/Havana:20300303T000000\nRRULE:FREQ=WEEKLY;COUNT=3"),
        [
            "2030-03-03T00:00:00-05:00",
            "2030-03-17T00:00:00-04:00",
            "2030-03-24T00:00:00-04:00"
        ]
    );
}

// ---------------------------------------------------------------------------------------------
// The brute-force oracle
// ---------------------------------------------------------------------------------------------

/// The first instant whose local wall-clock time is at or after `local`, found without the
/// engine's bisection: chrono's answer where the time exists (the earlier one where it exists
/// twice), else the first whole minute after it that exists (transitions are on whole minutes).
fn oracle_instant(tz: Tz, local: NaiveDateTime) -> i64 {
    let first = |r: LocalResult<DateTime<Tz>>| match r {
        LocalResult::Single(t) => Some(t.timestamp_micros()),
        LocalResult::Ambiguous(a, b) => Some(a.timestamp_micros().min(b.timestamp_micros())),
        LocalResult::None => None,
    };
    if let Some(t) = first(tz.from_local_datetime(&local)) {
        return t;
    }
    let since_midnight = local.time().signed_duration_since(NaiveTime::MIN);
    let mut l = local.date().and_time(NaiveTime::MIN)
        + Duration::minutes((since_midnight.num_microseconds().unwrap() + MIN - 1) / MIN);
    for _ in 0..48 * 60 {
        if let Some(t) = first(tz.from_local_datetime(&l)) {
            return t;
        }
        l += Duration::minutes(1);
    }
    panic!("no gap lasts two days");
}

fn month_length(d: NaiveDate) -> u32 {
    (28..=31)
        .rev()
        .find(|&n| NaiveDate::from_ymd_opt(d.year(), d.month(), n).is_some())
        .unwrap()
}

/// Whether BYDAY and BYMONTHDAY (or their defaults from the first start) hold on date `d`.
fn oracle_filters(p: &Pattern, first: NaiveDate, d: NaiveDate) -> bool {
    let weekday_ok = p.by_day.is_empty() || p.by_day.contains(&d.weekday());
    let month_day_ok = p.by_month_day.iter().any(|&m| {
        let day = if m > 0 {
            m as i64
        } else {
            month_length(d) as i64 + 1 + m as i64
        };
        d.day() as i64 == day
    });
    match p.freq {
        Freq::Daily => weekday_ok && (p.by_month_day.is_empty() || month_day_ok),
        Freq::Weekly if p.by_day.is_empty() => d.weekday() == first.weekday(),
        Freq::Weekly => weekday_ok,
        Freq::Monthly if !p.by_month_day.is_empty() => month_day_ok && weekday_ok,
        Freq::Monthly if !p.by_day.is_empty() => weekday_ok,
        Freq::Monthly => d.day() == first.day(),
    }
}

/// Whether the rule (RFC 5545 read directly, the first start included whatever it is) holds
/// on date `d`: every INTERVAL-th day, week (Monday to Sunday) or month from the first start's,
/// and the filters.
fn oracle_member(p: &Pattern, first: NaiveDate, d: NaiveDate) -> bool {
    if d == first {
        return true;
    }
    if d < first {
        return false;
    }
    let periods = match p.freq {
        Freq::Daily => (d - first).num_days(),
        Freq::Weekly => {
            let monday =
                |x: NaiveDate| x - Duration::days(x.weekday().num_days_from_monday() as i64);
            (monday(d) - monday(first)).num_days() / 7
        }
        Freq::Monthly => {
            (d.year() as i64 * 12 + d.month0() as i64)
                - (first.year() as i64 * 12 + first.month0() as i64)
        }
    };
    periods % p.interval as i64 == 0 && oracle_filters(p, first, d)
}

/// The series by walking every local date of the horizon, testing membership, filtering by the
/// end (no assumption that starts grow with dates), then applying the limits.
fn oracle(c: &Case) -> Result<Vec<Occurrence>, SeriesError> {
    let p = &c.pattern;
    let first = c.first.date();
    let time = c.first.time();
    let last_day = first + Duration::days(1095);
    let instant = |d: NaiveDate| oracle_instant(c.tz, d.and_time(time));
    match p.end {
        End::Until(Until::Date(u)) if u < first => return Err(SeriesError::UntilBeforeStart),
        End::Until(Until::Date(u)) if u > last_day => {
            return Err(SeriesError::BeyondHorizon { last_day })
        }
        End::Until(Until::Instant(u)) if u < instant(first) => {
            return Err(SeriesError::UntilBeforeStart)
        }
        End::Until(Until::Instant(u))
            if u >= oracle_instant(
                c.tz,
                (last_day + Duration::days(1)).and_time(NaiveTime::MIN),
            ) =>
        {
            return Err(SeriesError::BeyondHorizon { last_day })
        }
        _ => {}
    }
    let mut set = vec![];
    let mut d = first;
    while d <= last_day {
        let member = oracle_member(p, first, d)
            && match p.end {
                End::Count(n) => set.len() < n as usize,
                End::Until(Until::Date(u)) => d <= u,
                End::Until(Until::Instant(u)) => instant(d) <= u,
            };
        if member {
            set.push(d);
        }
        d += Duration::days(1);
    }
    if matches!(p.end, End::Count(n) if set.len() < n as usize) {
        return Err(SeriesError::BeyondHorizon { last_day });
    }
    if set.len() > 730 {
        return Err(SeriesError::TooManyOccurrences);
    }
    Ok(set
        .into_iter()
        .filter(|d| !c.skipped.contains(d))
        .map(|d| Occurrence {
            local_date: d,
            start: instant(d),
            end: instant(d) + c.duration,
        })
        .collect())
}

// ---------------------------------------------------------------------------------------------
// Random cases
// ---------------------------------------------------------------------------------------------

/// Fifteen zones: US and UK/EU rules, Lord Howe's half-hour shift, 45-minute and half-hour
/// offsets (Kathmandu, Chatham, St John's, Kolkata), clocks that change at midnight (Santiago,
/// Havana, Asuncion, Beirut, Tehran until 2022), Casablanca's Ramadan changes, Apia's DST
/// until 2021.
const ZONES: [Tz; 15] = [
    chrono_tz::America::New_York,
    chrono_tz::Europe::London,
    chrono_tz::Australia::Lord_Howe,
    chrono_tz::Asia::Kathmandu,
    chrono_tz::America::Santiago,
    chrono_tz::America::Havana,
    chrono_tz::America::Asuncion,
    chrono_tz::Asia::Beirut,
    chrono_tz::Asia::Kolkata,
    chrono_tz::Pacific::Chatham,
    chrono_tz::America::St_Johns,
    chrono_tz::Africa::Casablanca,
    chrono_tz::Europe::Paris,
    chrono_tz::Asia::Tehran,
    chrono_tz::Pacific::Apia,
];

/// Local times of day where the clocks change somewhere, and the day's edges.
const TIMES: [(u32, u32); 12] = [
    (0, 0),
    (0, 30),
    (1, 30),
    (2, 30),
    (23, 30),
    (1, 0),
    (2, 0),
    (2, 15),
    (2, 45),
    (3, 0),
    (3, 30),
    (23, 0),
];

const MONTH_DAYS: [i8; 14] = [1, 2, 13, 15, 27, 28, 29, 30, 31, -1, -2, -3, -30, -31];

/// A change of a zone's UTC offset: the local wall-clock times that do not exist (the offset
/// grows) or exist twice (it shrinks), `[from, from + minutes)`.
#[derive(Clone, Copy, Debug)]
struct Change {
    from: NaiveDateTime,
    minutes: i64,
}

/// Each zone's changes from 2020 to 2035, found by comparing the offsets at noon UTC of
/// consecutive days and bisecting to the second.
fn changes(zone: usize) -> &'static [Change] {
    static CHANGES: OnceLock<Vec<Vec<Change>>> = OnceLock::new();
    &CHANGES.get_or_init(|| {
        ZONES
            .iter()
            .map(|tz| {
                let offset = |t: i64| {
                    tz.offset_from_utc_datetime(
                        &DateTime::from_timestamp(t, 0).unwrap().naive_utc(),
                    )
                    .fix()
                    .local_minus_utc() as i64
                };
                let mut t = date("2020-01-01")
                    .and_hms_opt(12, 0, 0)
                    .unwrap()
                    .and_utc()
                    .timestamp();
                let end = date("2036-01-01")
                    .and_hms_opt(12, 0, 0)
                    .unwrap()
                    .and_utc()
                    .timestamp();
                let mut found = vec![];
                while t < end {
                    let (before, after) = (offset(t), offset(t + 86_400));
                    if before != after {
                        // The first second with the new offset.
                        let (mut lo, mut hi) = (t, t + 86_400);
                        while hi - lo > 1 {
                            let mid = (lo + hi) / 2;
                            if offset(mid) == before {
                                lo = mid;
                            } else {
                                hi = mid;
                            }
                        }
                        let wall =
                            |off: i64| DateTime::from_timestamp(hi + off, 0).unwrap().naive_utc();
                        found.push(Change {
                            from: wall(before.min(after)),
                            minutes: (after - before).abs() / 60,
                        });
                    }
                    t += 86_400;
                }
                found
            })
            .collect()
    })[zone]
}

/// splitmix64, as the availability tests draw.
struct Draw(u64);

impl Draw {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: i64) -> i64 {
        (self.next() % n as u64) as i64
    }
    fn chance(&mut self, percent: i64) -> bool {
        self.below(100) < percent
    }
    fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len() as i64) as usize]
    }
}

#[derive(Clone, Debug)]
struct Case {
    tz: Tz,
    pattern: Pattern,
    first: NaiveDateTime,
    duration: i64,
    skipped: Vec<NaiveDate>,
}

/// Days from the first start to UNTIL: mostly within a year, some to the horizon's end and
/// past it, a few before the start.
fn until_days(g: &mut Draw) -> i64 {
    match g.below(20) {
        0..=11 => g.below(400),
        12..=17 => g.below(1096),
        18 => 1090 + g.below(10),
        _ => -g.below(3),
    }
}

fn random_case(seed: u64) -> Case {
    let mut g = Draw(seed);
    let zone = g.below(ZONES.len() as i64) as usize;
    let tz = ZONES[zone];
    let changes = changes(zone);
    let first = if !changes.is_empty() && g.chance(40) {
        // A time the change skips or repeats, on the change's date or some days or weeks before.
        let c = g.pick(changes);
        let at = c.from + Duration::minutes(g.below(c.minutes));
        at - Duration::days(g.pick(&[0, 0, 1, 2, 7, 7, 14, 28, 35]))
    } else {
        let first_date = if !changes.is_empty() && g.chance(40) {
            g.pick(changes).from.date() - Duration::days(g.below(15) - 1)
        } else {
            date("2020-01-01") + Duration::days(g.below(16 * 365 + 4))
        };
        let (h, m) = if g.chance(75) {
            g.pick(&TIMES)
        } else {
            (g.below(24) as u32, g.below(60) as u32)
        };
        first_date.and_time(NaiveTime::from_hms_opt(h, m, 0).unwrap())
    };
    let (first_date, time) = (first.date(), first.time());
    let freq = g.pick(&[Freq::Daily, Freq::Weekly, Freq::Monthly]);
    let interval = if g.chance(50) {
        1
    } else {
        1 + g.below(4) as u32
    };
    let by_day: Vec<Weekday> = if g.chance(50) {
        vec![]
    } else {
        (0..1 + g.below(4))
            .map(|_| Weekday::try_from(g.below(7) as u8).unwrap())
            .collect()
    };
    let by_month_day: Vec<i8> = if freq == Freq::Weekly || g.chance(50) {
        vec![]
    } else {
        (0..1 + g.below(3)).map(|_| g.pick(&MONTH_DAYS)).collect()
    };
    let end = match g.below(10) {
        0..=4 => End::Count(if g.chance(85) {
            1 + g.below(40) as u32
        } else {
            1 + g.below(730) as u32
        }),
        5..=7 => End::Until(Until::Date(first_date + Duration::days(until_days(&mut g)))),
        _ => {
            // A UTC instant: often exactly an occurrence's start (or a microsecond either side).
            let day = first_date + Duration::days(until_days(&mut g));
            let at = if g.chance(60) {
                time
            } else {
                NaiveTime::from_hms_opt(g.pick(&TIMES).0, g.below(60) as u32, 0).unwrap()
            };
            let delta = if g.chance(70) {
                g.below(3) - 1
            } else {
                (g.below(240) - 120) * MIN
            };
            End::Until(Until::Instant(oracle_instant(tz, day.and_time(at)) + delta))
        }
    };
    let pattern = Pattern::new(freq, interval, by_day, by_month_day, end).unwrap();
    let duration = if g.chance(90) {
        (1 + g.below(48)) * 15 * MIN
    } else {
        1 + g.below(3 * MICROS_PER_DAY)
    };
    let skipped = (0..g.below(4))
        .map(|_| first_date + Duration::days(g.below(60)))
        .collect();
    Case {
        tz,
        pattern,
        first,
        duration,
        skipped,
    }
}

fn run(c: &Case) -> Result<Vec<Occurrence>, SeriesError> {
    occurrences(&c.pattern, c.first, c.duration, c.tz, &c.skipped)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 10_000, ..ProptestConfig::default() })]

    /// Random patterns in fifteen zones over 2020-2035 (half of them starting shortly before a
    /// change of offset): the occurrences, or the error, equal the day-by-day oracle's.
    #[test]
    fn series_matches_the_day_by_day_oracle(seed in any::<u64>()) {
        let case = random_case(seed);
        prop_assert_eq!(run(&case), oracle(&case), "case {:#?}", case);
    }

    /// RRULE text written by Display reads back to the same pattern, and the rrule crate's own
    /// parser reads the same rule from it (UNTIL aside: the crate reads a date-only UNTIL in the
    /// server's time zone).
    #[test]
    fn rrule_text_round_trips_and_the_crate_reads_it_alike(seed in any::<u64>()) {
        let case = random_case(seed);
        let p = &case.pattern;
        let text = p.to_string();
        // RRULE text has whole seconds: an UNTIL instant is written rounded down.
        let mut want = p.clone();
        if let End::Until(Until::Instant(t)) = p.end {
            want.end = End::Until(Until::Instant(t.div_euclid(1_000_000) * 1_000_000));
        }
        prop_assert_eq!(&Pattern::parse_rrule(&text).unwrap(), &want);
        prop_assert_eq!(&Pattern::parse_rrule(&format!("RRULE:{}", text.to_lowercase())).unwrap(), &want);
        if let End::Count(n) = p.end {
            let theirs: rrule::RRule<rrule::Unvalidated> = text.parse().unwrap();
            let freq = match p.freq {
                Freq::Daily => rrule::Frequency::Daily,
                Freq::Weekly => rrule::Frequency::Weekly,
                Freq::Monthly => rrule::Frequency::Monthly,
            };
            prop_assert_eq!(theirs.get_freq(), freq);
            prop_assert_eq!(theirs.get_interval() as u32, p.interval);
            prop_assert_eq!(theirs.get_count(), Some(n));
            let days: Vec<rrule::NWeekday> = p.by_day.iter().map(|d| rrule::NWeekday::Every(*d)).collect();
            prop_assert_eq!(theirs.get_by_weekday(), &days[..]);
            prop_assert_eq!(theirs.get_by_month_day(), &p.by_month_day[..]);
        }
    }
}

/// The random cases are not vacuous (the seeds are fixed, so the counts are too): occurrences
/// in DST gaps and repeated hours, first starts off the rule, months skipped for want of a day,
/// skipped dates that hit, and each error.
#[test]
fn random_cases_exercise_the_series() {
    let mut counts = std::collections::BTreeMap::<&str, i32>::new();
    let n = 1000;
    for seed in 0..n {
        let case = random_case(seed);
        let mut count = |what| *counts.entry(what).or_default() += 1;
        match run(&case) {
            Ok(occ) => {
                count("ok");
                let first = case.first.date();
                let time = case.first.time();
                let wall = |t: i64| case.tz.timestamp_micros(t).single().unwrap().naive_local();
                if occ
                    .iter()
                    .any(|o| wall(o.start) != o.local_date.and_time(time))
                {
                    count("an occurrence in a gap");
                }
                if occ.iter().any(|o| {
                    matches!(
                        case.tz.from_local_datetime(&o.local_date.and_time(time)),
                        LocalResult::Ambiguous(..)
                    )
                }) {
                    count("an occurrence in a repeated hour");
                }
                if occ.iter().any(|o| o.end - o.start != case.duration) {
                    count("a wrong duration (never)");
                }
                if !oracle_filters(&case.pattern, first, first) {
                    count("a first start off the rule");
                }
                if case
                    .skipped
                    .iter()
                    .any(|d| oracle_member(&case.pattern, first, *d))
                {
                    count("with skipped dates");
                }
                let p = &case.pattern;
                let lacking = if p.by_month_day.is_empty() && p.by_day.is_empty() {
                    first.day() >= 29
                } else {
                    p.by_month_day.iter().any(|d| d.unsigned_abs() >= 29)
                };
                if p.freq == Freq::Monthly && lacking && occ.len() > 3 {
                    count("monthly on a day some months lack");
                }
                if occ.len() >= 100 {
                    count("100 occurrences or more");
                }
            }
            Err(SeriesError::BeyondHorizon { .. }) => count("beyond the horizon"),
            Err(SeriesError::TooManyOccurrences) => count("too many"),
            Err(SeriesError::UntilBeforeStart) => count("until before start"),
            Err(e) => panic!("unexpected {e}"),
        }
    }
    eprintln!("of {n} cases: {counts:#?}");
    let at_least = |what: &str, min: i32| {
        let got = counts.get(what).copied().unwrap_or(0);
        assert!(got >= min, "only {got} of {n} cases: {what}");
    };
    at_least("ok", 600);
    at_least("an occurrence in a gap", 60);
    at_least("an occurrence in a repeated hour", 60);
    at_least("a first start off the rule", 100);
    at_least("with skipped dates", 100);
    at_least("monthly on a day some months lack", 20);
    at_least("100 occurrences or more", 50);
    at_least("beyond the horizon", 20);
    at_least("too many", 5);
    at_least("until before start", 5);
    assert_eq!(counts.get("a wrong duration (never)"), None);
}
