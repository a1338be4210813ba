use super::*;
use serde_json::json;

/// An iCalendar text as producers write it: CRLF line ends.
fn crlf(s: &str) -> String {
    s.lines().map(|l| format!("{l}\r\n")).collect()
}

fn lisbon() -> Tz {
    "Europe/Lisbon".parse().unwrap()
}

fn read(text: &str) -> Import {
    read_ics(&crlf(text), lisbon(), 2000).unwrap()
}

fn refusal(text: &str) -> String {
    read_ics(&crlf(text), lisbon(), 2000)
        .unwrap_err()
        .to_string()
}

const GOOGLE: &str = r"BEGIN:VCALENDAR
PRODID:-//Google Inc//Google Calendar 70.9054//EN
VERSION:2.0
CALSCALE:GREGORIAN
METHOD:PUBLISH
X-WR-CALNAME:Studio
X-WR-TIMEZONE:Europe/Lisbon
BEGIN:VTIMEZONE
TZID:Europe/Lisbon
X-LIC-LOCATION:Europe/Lisbon
BEGIN:DAYLIGHT
TZOFFSETFROM:+0000
TZOFFSETTO:+0100
TZNAME:WEST
DTSTART:19700329T010000
RRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU
END:DAYLIGHT
BEGIN:STANDARD
TZOFFSETFROM:+0100
TZOFFSETTO:+0000
TZNAME:WET
DTSTART:19701025T020000
RRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU
END:STANDARD
END:VTIMEZONE
BEGIN:VEVENT
DTSTART;TZID=Europe/Lisbon:20250701T093000
DTEND;TZID=Europe/Lisbon:20250701T103000
DTSTAMP:20250615T120000Z
UID:0a1b2c3d4e5f6g7h8i9j@google.com
CREATED:20250601T080000Z
DESCRIPTION:
LAST-MODIFIED:20250610T080000Z
LOCATION:Rua Augusta 1\, Lisboa
SEQUENCE:0
STATUS:CONFIRMED
SUMMARY:Dentist
TRANSP:OPAQUE
BEGIN:VALARM
ACTION:DISPLAY
DESCRIPTION:This is an event reminder
TRIGGER:-P0DT0H30M0S
END:VALARM
END:VEVENT
BEGIN:VEVENT
DTSTART;VALUE=DATE:20250805
DTEND;VALUE=DATE:20250808
DTSTAMP:20250615T120000Z
UID:holidays-2025@google.com
CREATED:20250601T080000Z
LAST-MODIFIED:20250601T080000Z
SEQUENCE:0
STATUS:CONFIRMED
SUMMARY:Holidays
TRANSP:TRANSPARENT
END:VEVENT
BEGIN:VEVENT
DTSTART;TZID=Europe/Lisbon:20250707T180000
DTEND;TZID=Europe/Lisbon:20250707T190000
RRULE:FREQ=WEEKLY;WKST=MO;UNTIL=20250929T165959Z;BYDAY=MO
EXDATE;TZID=Europe/Lisbon:20250714T180000
EXDATE;TZID=Europe/Lisbon:20250804T180000,20250811T180000
DTSTAMP:20250615T120000Z
UID:yoga-weekly@google.com
CREATED:20250601T080000Z
LAST-MODIFIED:20250605T101010Z
SEQUENCE:1
STATUS:CONFIRMED
SUMMARY:Yoga
TRANSP:OPAQUE
END:VEVENT
BEGIN:VEVENT
DTSTART;TZID=Europe/Lisbon:20250722T190000
DTEND;TZID=Europe/Lisbon:20250722T200000
DTSTAMP:20250615T120000Z
UID:yoga-weekly@google.com
RECURRENCE-ID;TZID=Europe/Lisbon:20250721T180000
CREATED:20250601T080000Z
LAST-MODIFIED:20250606T090000Z
SEQUENCE:2
STATUS:TENTATIVE
SUMMARY:Yoga (moved to Tuesday)
TRANSP:OPAQUE
END:VEVENT
END:VCALENDAR";

#[test]
fn calendars_google_export() {
    let import = read(GOOGLE);
    assert_eq!(import.vevents, 4);
    assert_eq!(import.skipped, 0);
    assert_eq!(
        Value::Array(import.events),
        json!([
            {
                "external_id": "0a1b2c3d4e5f6g7h8i9j@google.com",
                "updated": "2025-06-10T08:00:00Z",
                "title": "Dentist",
                "status": "confirmed",
                "transparency": "opaque",
                "all_day": false,
                // Lisbon is UTC+1 in July
                "start": "2025-07-01T08:30:00Z",
                "end": "2025-07-01T09:30:00Z",
                "time_zone": "Europe/Lisbon"
            },
            {
                "external_id": "holidays-2025@google.com",
                "updated": "2025-06-01T08:00:00Z",
                "title": "Holidays",
                "status": "confirmed",
                "transparency": "transparent",
                "all_day": true,
                "start_date": "2025-08-05",
                "end_date": "2025-08-08"
            },
            {
                "external_id": "yoga-weekly@google.com",
                "updated": "2025-06-05T10:10:10Z",
                "title": "Yoga",
                "status": "confirmed",
                "transparency": "opaque",
                "all_day": false,
                "start": "2025-07-07T17:00:00Z",
                "end": "2025-07-07T18:00:00Z",
                "time_zone": "Europe/Lisbon",
                "recurrence_rule": "FREQ=WEEKLY;WKST=MO;UNTIL=20250929T165959Z;BYDAY=MO",
                "exdates": ["2025-07-14T17:00:00Z", "2025-08-04T17:00:00Z", "2025-08-11T17:00:00Z"]
            },
            {
                "external_id": "yoga-weekly@google.com",
                "recurrence_id": "2025-07-21T17:00:00Z",
                "updated": "2025-06-06T09:00:00Z",
                "title": "Yoga (moved to Tuesday)",
                "status": "tentative",
                "transparency": "opaque",
                "all_day": false,
                "start": "2025-07-22T18:00:00Z",
                "end": "2025-07-22T19:00:00Z",
                "time_zone": "Europe/Lisbon"
            }
        ])
    );
    // The same text gives the same delivery (the keys and versions an idempotent apply needs).
    assert_eq!(read(GOOGLE), read(GOOGLE));
}

const OUTLOOK: &str = "BEGIN:VCALENDAR
PRODID:-//Microsoft Corporation//Outlook 16.0 MIMEDIR//EN
VERSION:2.0
METHOD:PUBLISH
X-CALSTART:20250312T090000Z
X-WR-RELCALID:{0000002E-1A2B-3C4D-5E6F-7A8B9C0D1E2F}
X-WR-CALNAME:Calendar
BEGIN:VTIMEZONE
TZID:W. Europe Standard Time
BEGIN:STANDARD
DTSTART:16011028T030000
RRULE:FREQ=YEARLY;BYDAY=-1SU;BYMONTH=10
TZOFFSETFROM:+0200
TZOFFSETTO:+0100
END:STANDARD
BEGIN:DAYLIGHT
DTSTART:16010325T020000
RRULE:FREQ=YEARLY;BYDAY=-1SU;BYMONTH=3
TZOFFSETFROM:+0100
TZOFFSETTO:+0200
END:DAYLIGHT
END:VTIMEZONE
BEGIN:VTIMEZONE
TZID:Pacific Standard Time
BEGIN:STANDARD
DTSTART:16011104T020000
RRULE:FREQ=YEARLY;BYDAY=1SU;BYMONTH=11
TZOFFSETFROM:-0700
TZOFFSETTO:-0800
END:STANDARD
BEGIN:DAYLIGHT
DTSTART:16010311T020000
RRULE:FREQ=YEARLY;BYDAY=2SU;BYMONTH=3
TZOFFSETFROM:-0800
TZOFFSETTO:-0700
END:DAYLIGHT
END:VTIMEZONE
BEGIN:VEVENT
CLASS:PUBLIC
CREATED:20250301T101500Z
DESCRIPTION:Agenda:\\n1. numbers\\n2. plans\\n
DTEND;TZID=\"W. Europe Standard Time\":20250312T113000
DTSTAMP:20250305T090000Z
DTSTART;TZID=\"W. Europe Standard Time\":20250312T100000
LAST-MODIFIED:20250304T160000Z
LOCATION:Room 4
PRIORITY:5
SEQUENCE:0
SUMMARY;LANGUAGE=en-us:Quarterly review\\, Q1\\; budget \\\\ plans – a long ti
 tle that Outlook folds across li
 nes
TRANSP:OPAQUE
UID:040000008200E00074C5B7101A82E0080000000010ED3B2D7D8BDB010000000000000000
 10000000A1B2C3D4E5F60718293A4B5C6D7E8F90
X-MICROSOFT-CDO-BUSYSTATUS:BUSY
X-MICROSOFT-CDO-IMPORTANCE:1
END:VEVENT
BEGIN:VEVENT
CLASS:PUBLIC
DTSTAMP:20250305T090000Z
DTSTART;TZID=Pacific Standard Time:20250402T090000
DURATION:PT45M
STATUS:TENTATIVE
SUMMARY;LANGUAGE=en-us:Call with Seattle
UID:040000008200E00074C5B7101A82E00800000000AAAA
X-MICROSOFT-CDO-BUSYSTATUS:TENTATIVE
END:VEVENT
BEGIN:VEVENT
DTSTART;TZID=W. Europe Standard Time:20250106T083000
DTEND;TZID=W. Europe Standard Time:20250106T090000
RRULE:FREQ=DAILY;UNTIL=20250131T073000Z;INTERVAL=1;BYDAY=MO,TU,WE,TH,FR;WKST=MO
EXDATE;TZID=W. Europe Standard Time:20250113T083000,20250114T083000
EXDATE;VALUE=DATE:20250120
DTSTAMP:20250305T090000Z
SUMMARY:Stand-up
UID:040000008200E00074C5B7101A82E00800000000BBBB
END:VEVENT
BEGIN:VEVENT
DTSTART;VALUE=DATE:20250418
DTEND;VALUE=DATE:20250419
DTSTAMP:20250305T090000Z
SUMMARY:Good Friday
TRANSP:TRANSPARENT
UID:040000008200E00074C5B7101A82E00800000000CCCC
X-MICROSOFT-CDO-ALLDAYEVENT:TRUE
END:VEVENT
END:VCALENDAR";

#[test]
fn calendars_outlook_export() {
    let import = read(OUTLOOK);
    assert_eq!((import.vevents, import.skipped), (4, 0));
    assert_eq!(
        Value::Array(import.events),
        json!([
            {
                // the folded UID unfolded
                "external_id": "040000008200E00074C5B7101A82E0080000000010ED3B2D7D8BDB01000000000000000010000000A1B2C3D4E5F60718293A4B5C6D7E8F90",
                "updated": "2025-03-04T16:00:00Z",
                // unfolded (the fold may split a word) and unescaped
                "title": "Quarterly review, Q1; budget \\ plans – a long title that Outlook folds across lines",
                "transparency": "opaque",
                "all_day": false,
                // Berlin (W. Europe Standard Time) is UTC+1 in March before the change
                "start": "2025-03-12T09:00:00Z",
                "end": "2025-03-12T10:30:00Z",
                "time_zone": "Europe/Berlin"
            },
            {
                "external_id": "040000008200E00074C5B7101A82E00800000000AAAA",
                "updated": "2025-03-05T09:00:00Z",
                "title": "Call with Seattle",
                "status": "tentative",
                "all_day": false,
                // Los Angeles is UTC-7 in April; DURATION PT45M
                "start": "2025-04-02T16:00:00Z",
                "end": "2025-04-02T16:45:00Z",
                "time_zone": "America/Los_Angeles"
            },
            {
                "external_id": "040000008200E00074C5B7101A82E00800000000BBBB",
                "updated": "2025-03-05T09:00:00Z",
                "title": "Stand-up",
                "all_day": false,
                "start": "2025-01-06T07:30:00Z",
                "end": "2025-01-06T08:00:00Z",
                "time_zone": "Europe/Berlin",
                "recurrence_rule": "FREQ=DAILY;UNTIL=20250131T073000Z;INTERVAL=1;BYDAY=MO,TU,WE,TH,FR;WKST=MO",
                // a date EXDATE of a timed event: its local midnight, read in the event's zone
                "exdates": ["2025-01-13T07:30:00Z", "2025-01-14T07:30:00Z", "2025-01-20T00:00:00"]
            },
            {
                "external_id": "040000008200E00074C5B7101A82E00800000000CCCC",
                "updated": "2025-03-05T09:00:00Z",
                "title": "Good Friday",
                "transparency": "transparent",
                "all_day": true,
                "start_date": "2025-04-18",
                "end_date": "2025-04-19"
            }
        ])
    );
}

#[test]
fn calendars_lf_line_ends_and_bom() {
    let text = format!("\u{feff}{GOOGLE}\n");
    assert_eq!(read_ics(&text, lisbon(), 2000).unwrap(), read(GOOGLE));
}

fn one(lines: &str) -> String {
    format!("BEGIN:VCALENDAR\nVERSION:2.0\nPRODID:-//t//t//EN\n{lines}\nEND:VCALENDAR")
}

fn only(lines: &str) -> Value {
    let mut import = read(&one(lines));
    assert_eq!(import.events.len(), 1, "{import:?}");
    import.events.pop().unwrap()
}

#[test]
fn calendars_escaped_text() {
    let e = only(
        r"BEGIN:VEVENT
UID:esc
DTSTART:20250110T100000Z
DTEND:20250110T110000Z
SUMMARY:a\,b\;c\\d\ne\Nf\:g
END:VEVENT",
    );
    assert_eq!(e["title"], "a,b;c\\d\ne\nf:g");
    // names are case-insensitive, and so is their unescaping
    let e = only("begin:vevent\nuid:lower\ndtstart:20250110T100000Z\nduration:PT1H\nsummary:x\\, y\nend:vevent");
    assert_eq!(
        (&e["external_id"], &e["title"]),
        (&json!("lower"), &json!("x, y"))
    );
}

#[test]
fn calendars_a_full_delivery() {
    // 2000 events and about 2 MB, the delivery limits, in one read.
    let note = "n".repeat(900);
    let events: String = (0..2000)
        .map(|i| {
            format!(
                "BEGIN:VEVENT\nUID:bulk-{i}\nDTSTART;TZID=Europe/Lisbon:20250110T100000\nDURATION:PT1H\nSUMMARY:Event {i}\nDESCRIPTION:{note}\nEND:VEVENT\n"
            )
        })
        .collect();
    let text = crlf(&one(events.trim_end()));
    assert!(
        text.len() > 1_900_000 && text.len() < 2_097_152,
        "{}",
        text.len()
    );
    let started = std::time::Instant::now();
    let import = read_ics(&text, lisbon(), 2000).unwrap();
    assert_eq!(import.events.len(), 2000);
    assert_eq!(import.events[1999]["external_id"], "bulk-1999");
    assert!(started.elapsed().as_secs() < 5, "{:?}", started.elapsed());
}

#[test]
fn calendars_utc_floating_and_all_day_defaults() {
    // UTC: the instant, zone UTC (a recurrence of a UTC start keeps its UTC time).
    let e = only(
        "BEGIN:VEVENT\nUID:u\nDTSTART:20250110T100000Z\nDTEND:20250110T113000Z\nRRULE:FREQ=DAILY;COUNT=3\nEND:VEVENT",
    );
    assert_eq!(e["start"], "2025-01-10T10:00:00Z");
    assert_eq!(e["end"], "2025-01-10T11:30:00Z");
    assert_eq!(e["time_zone"], "UTC");
    assert_eq!(e["recurrence_rule"], "FREQ=DAILY;COUNT=3");
    assert!(e.get("updated").is_none());

    // Floating: local date-times without offset and no zone (the integration's); a floating
    // RECURRENCE-ID and EXDATE: the instant in the integration's zone, the local time as written.
    let e = only(
        "BEGIN:VEVENT\nUID:f\nRECURRENCE-ID:20250710T100000\nDTSTART:20250710T120000\nDTEND:20250710T130000\nEXDATE:20250717T100000\nEND:VEVENT",
    );
    assert_eq!(e["start"], "2025-07-10T12:00:00");
    assert_eq!(e["end"], "2025-07-10T13:00:00");
    assert!(e.get("time_zone").is_none());
    assert_eq!(e["recurrence_id"], "2025-07-10T09:00:00Z");
    assert_eq!(e["exdates"], json!(["2025-07-17T10:00:00"]));

    // An all-day event without DTEND lasts one day; so does one whose DTEND is its start date;
    // DURATION counts whole days; an all-day override's RECURRENCE-ID is its date; EXDATEs of an
    // all-day series are dates.
    let e = only("BEGIN:VEVENT\nUID:d\nDTSTART;VALUE=DATE:20250301\nEND:VEVENT");
    assert_eq!(
        (&e["all_day"], &e["start_date"], &e["end_date"]),
        (&json!(true), &json!("2025-03-01"), &json!("2025-03-02"))
    );
    let e = only(
        "BEGIN:VEVENT\nUID:d\nDTSTART;VALUE=DATE:20250301\nDTEND;VALUE=DATE:20250301\nEND:VEVENT",
    );
    assert_eq!(e["end_date"], "2025-03-02");
    let e = only("BEGIN:VEVENT\nUID:d\nDTSTART;VALUE=DATE:20250301\nDURATION:P1W\nEND:VEVENT");
    assert_eq!(e["end_date"], "2025-03-08");
    let e = only(
        "BEGIN:VEVENT\nUID:d\nDTSTART;VALUE=DATE:20250301\nRRULE:FREQ=YEARLY\nEXDATE;VALUE=DATE:20260301,20270301\nEND:VEVENT",
    );
    assert_eq!(e["exdates"], json!(["2026-03-01", "2027-03-01"]));
    let e = only("BEGIN:VEVENT\nUID:d\nRECURRENCE-ID;VALUE=DATE:20260301\nDTSTART;VALUE=DATE:20260302\nEND:VEVENT");
    assert_eq!(e["recurrence_id"], "20260301");
    // DTSTAMP when there is no LAST-MODIFIED
    let e = only(
        "BEGIN:VEVENT\nUID:d\nDTSTAMP:20250101T000000Z\nDTSTART;VALUE=DATE:20250301\nEND:VEVENT",
    );
    assert_eq!(e["updated"], "2025-01-01T00:00:00Z");
}

#[test]
fn calendars_duration_and_dst() {
    // P1D on the local calendar: the day of the spring change in Lisbon has 23 hours.
    let e = only(
        "BEGIN:VEVENT\nUID:x\nDTSTART;TZID=Europe/Lisbon:20250329T120000\nDURATION:P1DT1H\nEND:VEVENT",
    );
    assert_eq!(e["start"], "2025-03-29T12:00:00Z");
    assert_eq!(e["end"], "2025-03-30T12:00:00Z");
    // A time in the spring-forward gap is the end of the gap (the slot engine's rule).
    let e = only(
        "BEGIN:VEVENT\nUID:x\nDTSTART;TZID=Europe/Lisbon:20250330T013000\nDTEND;TZID=Europe/Lisbon:20250330T030000\nEND:VEVENT",
    );
    assert_eq!(e["start"], "2025-03-30T01:00:00Z");
    assert_eq!(e["end"], "2025-03-30T02:00:00Z");

    assert_eq!(
        parse_duration("PT1H30M"),
        Some(Dur {
            days: 0,
            seconds: 5400
        })
    );
    assert_eq!(
        parse_duration("P1W"),
        Some(Dur {
            days: 7,
            seconds: 0
        })
    );
    assert_eq!(
        parse_duration("P1DT2H3M4S"),
        Some(Dur {
            days: 1,
            seconds: 7384
        })
    );
    assert_eq!(
        parse_duration("-PT15M"),
        Some(Dur {
            days: 0,
            seconds: -900
        })
    );
    assert_eq!(
        parse_duration("P0D"),
        Some(Dur {
            days: 0,
            seconds: 0
        })
    );
    for bad in [
        "", "P", "PT", "P1M", "PT1D", "P1H", "1D", "P1", "P1DT", "PxD",
    ] {
        assert_eq!(parse_duration(bad), None, "{bad}");
    }
}

#[test]
fn calendars_events_holding_no_time_are_skipped() {
    let import = read(&one(
        "BEGIN:VEVENT\nUID:a\nDTSTART:20250110T100000Z\nEND:VEVENT
BEGIN:VEVENT\nUID:b\nDTSTART:20250110T100000Z\nDTEND:20250110T100000Z\nEND:VEVENT
BEGIN:VEVENT\nUID:c\nDTSTART:20250110T100000Z\nDURATION:PT0S\nEND:VEVENT
BEGIN:VEVENT\nUID:d\nDTSTART:20250110T100000Z\nDTEND:20250110T100001Z\nEND:VEVENT",
    ));
    assert_eq!(
        (import.vevents, import.skipped, import.events.len()),
        (4, 3, 1)
    );
    assert_eq!(import.events[0]["external_id"], "d");
}

#[test]
fn calendars_time_zone_names() {
    let name = |tzid: &str| zone_for_tzid(tzid).map(|tz| tz.name().to_owned());
    assert_eq!(name("Europe/Lisbon").as_deref(), Some("Europe/Lisbon"));
    assert_eq!(
        name("W. Europe Standard Time").as_deref(),
        Some("Europe/Berlin")
    );
    assert_eq!(
        name("Eastern Standard Time").as_deref(),
        Some("America/New_York")
    );
    assert_eq!(
        name("Pacific Standard Time").as_deref(),
        Some("America/Los_Angeles")
    );
    assert_eq!(
        name("India Standard Time").as_deref(),
        Some("Asia/Calcutta")
    );
    assert_eq!(name("GMT Standard Time").as_deref(), Some("Europe/London"));
    assert_eq!(
        name("\"Tokyo Standard Time\"").as_deref(),
        Some("Asia/Tokyo")
    );
    assert_eq!(name("UTC").as_deref(), Some("UTC"));
    assert_eq!(
        name("/mozilla.org/20050126_1/Europe/Berlin").as_deref(),
        Some("Europe/Berlin")
    );
    assert_eq!(
        name("/freeassociation.sourceforge.net/Tzfile/America/Argentina/Buenos_Aires").as_deref(),
        Some("America/Argentina/Buenos_Aires")
    );
    assert_eq!(name("Customized Time Zone"), None);
    assert_eq!(name(""), None);

    // A VTIMEZONE's X-LIC-LOCATION names the zone of a TZID nothing else resolves.
    let e = only(
        "BEGIN:VTIMEZONE\nTZID:Office time\nX-LIC-LOCATION:Asia/Kolkata\nEND:VTIMEZONE
BEGIN:VEVENT\nUID:x\nDTSTART;TZID=Office time:20250110T100000\nDTEND;TZID=Office time:20250110T110000\nEND:VEVENT",
    );
    assert_eq!(e["time_zone"], "Asia/Kolkata");
    assert_eq!(e["start"], "2025-01-10T04:30:00Z");
}

#[test]
fn calendars_refusals() {
    assert_eq!(
        refusal(&one("BEGIN:VEVENT\nUID:a\nDTSTART:20250110T100000Z\nEND:VEVENT\nBEGIN:VEVENT\nDTSTART:20250110T100000Z\nEND:VEVENT")),
        "VEVENT 2 has no UID"
    );
    assert_eq!(
        refusal(&one("BEGIN:VEVENT\nUID:no-start\nSUMMARY:x\nEND:VEVENT")),
        "VEVENT 1 (UID \"no-start\") has no DTSTART"
    );
    assert_eq!(
        refusal(&one(
            "BEGIN:VEVENT\nUID:z\nDTSTART;TZID=Mars/Olympus:20250110T100000\nEND:VEVENT"
        )),
        "VEVENT 1 (UID \"z\") has an unknown time zone \"Mars/Olympus\" in DTSTART"
    );
    assert_eq!(
        refusal(&one(
            "BEGIN:VEVENT\nUID:z\nDTSTART:2025-01-10 10:00\nEND:VEVENT"
        )),
        "VEVENT 1 (UID \"z\") has a DTSTART that is not a date or date-time: \"2025-01-10 10:00\""
    );
    assert_eq!(
        refusal(&one(
            "BEGIN:VEVENT\nUID:z\nDTSTART:20250110T100000Z\nDTEND:20250110T090000Z\nEND:VEVENT"
        )),
        "VEVENT 1 (UID \"z\") ends before it starts"
    );
    assert_eq!(
        refusal(&one(
            "BEGIN:VEVENT\nUID:z\nDTSTART:20250110T100000Z\nDURATION:1H\nEND:VEVENT"
        )),
        "VEVENT 1 (UID \"z\") has a DURATION that does not parse: \"1H\""
    );
    assert_eq!(
        refusal(&one("BEGIN:VEVENT\nUID:z\nDTSTART:20250110T100000Z\nDTEND:20250110T110000Z\nEXDATE:20250111T100000Z,tomorrow\nEND:VEVENT")),
        "VEVENT 1 (UID \"z\") has a EXDATE that is not a date or date-time: \"tomorrow\""
    );
    assert_eq!(
        refusal("hello"),
        "the iCalendar text does not parse: it does not begin with BEGIN:VCALENDAR"
    );
    assert_eq!(
        refusal("BEGIN:VEVENT\nUID:a\nDTSTART:20250110T100000Z\nEND:VEVENT"),
        "the iCalendar text does not parse: it does not begin with BEGIN:VCALENDAR"
    );
    assert_eq!(
        refusal("BEGIN:VCALENDAR\nBEGIN:VEVENT\nUID:x\nEND:VCALENDAR"),
        "the iCalendar text does not parse: near line 4 (\"END:VCALENDAR\"): mismatching end"
    );
    assert_eq!(
        refusal("BEGIN:VCALENDAR\nVERSION:2.0\n"),
        "the iCalendar text does not parse: near line 3 (\"\")"
    );

    // The limit is on VEVENTs, checked before any of them is read.
    let many: String = (0..3)
        .map(|i| format!("BEGIN:VEVENT\nUID:{i}\nEND:VEVENT\n"))
        .collect();
    assert_eq!(
        read_ics(&crlf(&one(many.trim_end())), lisbon(), 2).unwrap_err(),
        IcsError::TooManyEvents { found: 3, max: 2 }
    );
    // An empty calendar is an empty delivery.
    let empty = read(&one("X-WR-CALNAME:empty"));
    assert_eq!((empty.vevents, empty.events.len()), (0, 0));
}

#[test]
fn calendars_feed_escaping_and_folding() {
    assert_eq!(
        escape_text("a,b;c\\d\ne\r\nf\rg\u{7}h\ti"),
        "a\\,b\\;c\\\\d\\ne\\nf\\ngh\ti"
    );

    assert_eq!(fold_line("short"), "short");
    let exact = "x".repeat(75);
    assert_eq!(fold_line(&exact), exact);
    let long = format!("SUMMARY:{}", "abcdefghij".repeat(20));
    let folded = fold_line(&long);
    let lines: Vec<&str> = folded.split("\r\n").collect();
    assert_eq!(lines[0].len(), 75);
    assert!(lines[1..]
        .iter()
        .all(|l| l.starts_with(' ') && l.len() <= 75));
    assert_eq!(lines[1].len(), 75);
    assert_eq!(unfold(&folded), long);
    // never inside a UTF-8 sequence: 3-octet characters from the 9th octet on
    let wide = format!("SUMMARY:{}", "€".repeat(60));
    let folded = fold_line(&wide);
    for l in folded.split("\r\n") {
        assert!(l.len() <= 75, "{l:?} has {} octets", l.len());
    }
    assert_eq!(folded.split("\r\n").next().unwrap().len(), 74); // 8 + 22 * 3
    assert_eq!(unfold(&folded), wide);
}

#[test]
fn calendars_feed() {
    let at = |s: &str| DateTime::parse_from_rfc3339(s).unwrap().timestamp_micros();
    let feed = write_feed(
        Some("Room 1, upstairs"),
        &[
            FeedEvent {
                uid: "6f1c1a52-3a5e-4d5b-9d7e-1b1e6b0b3c11@booking_ext".into(),
                stamp: at("2025-06-01T10:00:00.250Z"),
                start: at("2025-07-01T08:30:00Z"),
                end: at("2025-07-01T09:30:00Z"),
                summary: "Lesson; piano, with Ana\nbring the book \\ scores, and a very long line that must be folded".into(),
                status: FeedStatus::Confirmed,
            },
            FeedEvent {
                uid: "0b6c2e0e-0000-4000-8000-000000000002@booking_ext".into(),
                stamp: at("2025-06-02T10:00:00Z"),
                start: at("2025-07-02T08:30:00Z"),
                end: at("2025-07-02T09:00:00Z"),
                summary: "Busy".into(),
                status: FeedStatus::Tentative,
            },
        ],
    );
    assert!(feed.ends_with("END:VCALENDAR\r\n"));
    assert!(
        !feed.replace("\r\n", "").contains('\n'),
        "CRLF line ends only"
    );
    for line in feed.split("\r\n") {
        assert!(line.len() <= 75, "{line:?}");
    }
    let unfolded = unfold(&feed);
    let lines: Vec<&str> = unfolded.split("\r\n").collect();
    assert_eq!(
        lines,
        [
            "BEGIN:VCALENDAR",
            "PRODID:-//booking_ext//resource calendar//EN",
            "VERSION:2.0",
            "CALSCALE:GREGORIAN",
            "METHOD:PUBLISH",
            "X-WR-CALNAME:Room 1\\, upstairs",
            "REFRESH-INTERVAL;VALUE=DURATION:PT1H",
            "X-PUBLISHED-TTL:PT1H",
            "BEGIN:VEVENT",
            "UID:6f1c1a52-3a5e-4d5b-9d7e-1b1e6b0b3c11@booking_ext",
            "DTSTAMP:20250601T100000Z",
            "DTSTART:20250701T083000Z",
            "DTEND:20250701T093000Z",
            "SUMMARY:Lesson\\; piano\\, with Ana\\nbring the book \\\\ scores\\, and a very long line that must be folded",
            "STATUS:CONFIRMED",
            "TRANSP:OPAQUE",
            "END:VEVENT",
            "BEGIN:VEVENT",
            "UID:0b6c2e0e-0000-4000-8000-000000000002@booking_ext",
            "DTSTAMP:20250602T100000Z",
            "DTSTART:20250702T083000Z",
            "DTEND:20250702T090000Z",
            "SUMMARY:Busy",
            "STATUS:TENTATIVE",
            "TRANSP:OPAQUE",
            "END:VEVENT",
            "END:VCALENDAR",
            "",
        ]
    );

    // The feed reads back (through the same parser the import uses) as what was written.
    let back = read_ics(&feed, lisbon(), 10).unwrap();
    assert_eq!(back.events[0]["title"], "Lesson; piano, with Ana\nbring the book \\ scores, and a very long line that must be folded");
    assert_eq!(back.events[0]["start"], "2025-07-01T08:30:00Z");
    assert_eq!(back.events[1]["status"], "tentative");

    let empty = write_feed(None, &[]);
    assert_eq!(
        empty,
        "BEGIN:VCALENDAR\r\nPRODID:-//booking_ext//resource calendar//EN\r\nVERSION:2.0\r\nCALSCALE:GREGORIAN\r\nMETHOD:PUBLISH\r\nREFRESH-INTERVAL;VALUE=DURATION:PT1H\r\nX-PUBLISHED-TTL:PT1H\r\nEND:VCALENDAR\r\n"
    );
}

#[test]
fn calendars_hostile_text() {
    // Deep nesting is refused before the parser descends (it would exhaust the stack); the
    // other shapes are read or refused in time linear in the text.
    let cases = [
        format!("BEGIN:VCALENDAR\r\n{}", "BEGIN:VEVENT\r\n".repeat(100_000)),
        format!("BEGIN:VCALENDAR\r\n{}", "begin:x\r\n".repeat(9)),
        format!(
            "BEGIN:VCALENDAR\r\nX:{}\r\nEND:VCALENDAR\r\n",
            "a".repeat(2_000_000)
        ),
        format!(
            "BEGIN:VCALENDAR\r\nX{}:a\r\nEND:VCALENDAR\r\n",
            ";A=b".repeat(400_000)
        ),
        format!("BEGIN:VCALENDAR\r\n{}", "X:y\r\n".repeat(400_000)),
        format!("BEGIN:VCALENDAR\n{}", "X:y\n".repeat(400_000)),
    ];
    for (i, text) in cases.iter().enumerate() {
        let started = std::time::Instant::now();
        let r = read_ics(text, lisbon(), 2000);
        assert!(
            started.elapsed().as_secs() < 5,
            "case {i}: {:?}",
            started.elapsed()
        );
        if i < 2 {
            assert_eq!(
                r.unwrap_err().to_string(),
                "the iCalendar text does not parse: components nest more than 8 deep"
            );
        }
    }
}
