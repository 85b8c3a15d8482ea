//! Case tables of the timetable: parsing and its errors, the limit at a time and until
//! when, midnight, the week's wrap, DST changes, and overlapping rules refused.

use jiff::civil::{DateTime, date};
use jiff::tz::TimeZone;

use super::*;

fn table(text: &str) -> Timetable {
    text.parse()
        .unwrap_or_else(|e| panic!("{text:?} should parse: {e}"))
}

/// 2026-11-30 is a Monday: `day(0)` is Monday, `day(6)` Sunday.
fn day(offset: i8, hour: i8, minute: i8) -> DateTime {
    date(2026, 11, 30)
        .at(hour, minute, 0, 0)
        .checked_add(jiff::Span::new().days(offset))
        .unwrap()
}

#[test]
fn the_text_form_parses_and_prints_back() {
    let cases = [
        ("mon-fri 09:00-18:00 1M", "mon-fri 09:00-18:00 1MB/s"),
        ("weekdays 9:00-18:00 1 MB/s", "mon-fri 09:00-18:00 1MB/s"),
        (
            "sat,sun 10:00-18:00 off; daily 23:00-06:00 unlimited",
            "sat,sun 10:00-18:00 off; daily 23:00-06:00 unlimited",
        ),
        ("Monday 08:00-09:30 512k", "mon 08:00-09:30 512kB/s"),
        (
            "fri-mon 10:00-11:00 1.5M",
            "mon,fri-sun 10:00-11:00 1.5MB/s",
        ),
        (
            "weekends 10:00-11:00 2MiB",
            "sat,sun 10:00-11:00 2097.152kB/s",
        ),
        ("", ""),
        ("none", ""),
        (
            "mon 01:00-02:00 800\n\ntue 01:00-02:00 off\n",
            "mon 01:00-02:00 800B/s; tue 01:00-02:00 off",
        ),
    ];
    for (text, shown) in cases {
        assert_eq!(table(text).to_string(), shown, "{text:?}");
        assert_eq!(
            table(shown),
            table(text),
            "{shown:?} reads back as {text:?}"
        );
    }
    assert_eq!(
        table("weekends 10:00-11:00 2MiB").rules()[0].limit,
        Limit::Rate(2 << 20)
    );
}

#[test]
fn malformed_rules_are_refused_with_what_to_write() {
    let cases = [
        ("mon-fri 09:00-18:00", "not a rule"),
        ("funday 09:00-18:00 1M", "\"funday\" is not a day"),
        ("mo 09:00-18:00 1M", "is not a day"),
        ("mon 9-18 1M", "not a time of day"),
        ("mon 09:00-25:00 1M", "not a time of day"),
        ("mon 09:60-10:00 1M", "not a time of day"),
        ("mon 0900 1M", "not a span of the day"),
        ("mon 09:00-09:00 1M", "empty"),
        ("mon 24:00-01:00 1M", "cannot start at 24:00"),
        ("mon 09:00-10:00 fast", "\"fast\" is not a rate"),
        ("mon 09:00-10:00 0", "not a rate above zero"),
        ("mon 09:00-10:00 1M; tue 09:00", "rule 2:"),
    ];
    for (text, expected) in cases {
        let err = text.parse::<Timetable>().unwrap_err();
        assert!(err.contains(expected), "{text:?}: {err}");
    }
}

#[test]
fn overlapping_rules_are_refused_naming_both_and_where() {
    let cases = [
        (
            "mon-fri 09:00-18:00 1M; wed 17:00-19:00 off",
            "rules 1 (\"mon-fri 09:00-18:00 1MB/s\") and 2 (\"wed 17:00-19:00 off\") overlap on wednesday at 17:00",
        ),
        // Sunday night's span runs into Monday morning (the week's wrap).
        (
            "sun 22:00-06:00 off; mon 05:00-07:00 1M",
            "overlap on monday at 05:00",
        ),
        (
            "daily 23:00-01:00 off; tue 00:30-02:00 1M",
            "overlap on tuesday at 00:30",
        ),
        (
            "mon 00:00-24:00 off; mon 12:00-13:00 1M",
            "overlap on monday at 12:00",
        ),
    ];
    for (text, expected) in cases {
        let err = text.parse::<Timetable>().unwrap_err();
        assert!(err.contains(expected), "{text:?}: {err}");
    }
    // Touching is not overlapping.
    table("mon 09:00-12:00 1M; mon 12:00-13:00 off; sun 22:00-00:00 off; mon 00:00-09:00 2M");
    // The JSON form is checked the same way, by `check`.
    let json = serde_json::json!([
        {"days": "mon", "from": "09:00", "to": "12:00", "limit": 1000},
        {"days": "mon", "from": "11:00", "to": "13:00", "limit": "off"}
    ]);
    let err = serde_json::from_value::<Timetable>(json)
        .unwrap()
        .check()
        .unwrap_err();
    assert!(err.contains("overlap on monday at 11:00"), "{err}");
    let empty =
        serde_json::json!([{"days": "mon", "from": "09:00", "to": "09:00", "limit": "off"}]);
    let err = serde_json::from_value::<Timetable>(empty)
        .unwrap()
        .check()
        .unwrap_err();
    assert!(err.contains("empty span"), "{err}");
}

#[test]
fn the_limit_at_a_time_and_until_when() {
    let office = table("mon-fri 09:00-18:00 1M; sat 10:00-12:00 off");
    let cases = [
        (day(0, 8, 59), None, Some(day(0, 9, 0))),
        (
            day(0, 9, 0),
            Some(Limit::Rate(1_000_000)),
            Some(day(0, 18, 0)),
        ),
        (
            day(2, 17, 59),
            Some(Limit::Rate(1_000_000)),
            Some(day(2, 18, 0)),
        ),
        (day(2, 18, 0), None, Some(day(3, 9, 0))),
        // Friday evening: free until Saturday's rule.
        (day(4, 18, 0), None, Some(day(5, 10, 0))),
        (day(5, 11, 30), Some(Limit::Off), Some(day(5, 12, 0))),
        // Saturday noon: free until Monday 09:00 (over the week's end).
        (day(5, 12, 0), None, Some(day(7, 9, 0))),
    ];
    for (now, limit, until) in cases {
        let in_force = office.at(now);
        assert_eq!((in_force.limit, in_force.until), (limit, until), "at {now}");
    }
    // Seconds into a minute count from its start.
    assert_eq!(
        office.at(date(2026, 11, 30).at(17, 59, 42, 5)).until,
        Some(day(0, 18, 0))
    );
    assert_eq!(
        Timetable::default().at(day(0, 12, 0)),
        InForce {
            limit: None,
            until: None
        }
    );
}

#[test]
fn spans_past_midnight_and_over_the_weeks_end() {
    let nights = table("daily 22:00-06:00 unlimited; mon-fri 06:00-22:00 500k");
    let cases = [
        (day(1, 23, 30), Some(Limit::Unlimited), Some(day(2, 6, 0))),
        (day(2, 5, 59), Some(Limit::Unlimited), Some(day(2, 6, 0))),
        (
            day(2, 6, 0),
            Some(Limit::Rate(500_000)),
            Some(day(2, 22, 0)),
        ),
        // Saturday has no day rule: free between the nights.
        (day(5, 6, 0), None, Some(day(5, 22, 0))),
        // Sunday night runs into Monday morning.
        (day(6, 23, 0), Some(Limit::Unlimited), Some(day(7, 6, 0))),
        (day(7, 0, 0), Some(Limit::Unlimited), Some(day(7, 6, 0))),
    ];
    for (now, limit, until) in cases {
        let in_force = nights.at(now);
        assert_eq!((in_force.limit, in_force.until), (limit, until), "at {now}");
    }
    let weekend = table("sat 00:00-24:00 off");
    assert_eq!(weekend.at(day(5, 0, 0)).limit, Some(Limit::Off));
    assert_eq!(weekend.at(day(5, 23, 59)).limit, Some(Limit::Off));
    assert_eq!(weekend.at(day(6, 0, 0)).limit, None);
    // The same limit all week long never changes.
    assert_eq!(table("daily 00:00-24:00 off").at(day(3, 3, 0)).until, None);
}

/// Central European time with its DST rules, without the system's zone files.
fn berlin() -> TimeZone {
    TimeZone::posix("CET-1CEST,M3.5.0,M10.5.0/3").unwrap()
}

fn utc(text: &str) -> jiff::Timestamp {
    text.parse().unwrap()
}

#[test]
fn in_spring_a_span_in_the_skipped_hour_ends_at_the_change() {
    // 2026-03-29 (a Sunday): at 01:00 UTC the clocks go from 02:00 to 03:00.
    let rule = table("sun 01:00-02:30 off");
    let zone = berlin();
    let (limit, until) = rule.at_instant(utc("2026-03-29T00:59:59Z"), &zone);
    assert_eq!(limit, Some(Limit::Off), "01:59:59 CET");
    assert_eq!(
        until,
        Some(utc("2026-03-29T01:00:00Z")),
        "02:30 never comes"
    );
    let (limit, _) = rule.at_instant(utc("2026-03-29T01:00:00Z"), &zone);
    assert_eq!(limit, None, "03:00 CEST is past the span");
    // A span that ends after the change is an hour shorter that day.
    let (limit, until) =
        table("sun 01:00-04:00 off").at_instant(utc("2026-03-29T00:30:00Z"), &zone);
    assert_eq!(limit, Some(Limit::Off));
    assert_eq!(until, Some(utc("2026-03-29T02:00:00Z")), "04:00 CEST");
}

#[test]
fn in_autumn_a_span_in_the_repeated_hour_holds_both_times() {
    // 2026-10-25 (a Sunday): at 01:00 UTC the clocks go from 03:00 back to 02:00.
    let rule = table("sun 02:00-02:30 off");
    let zone = berlin();
    let (limit, until) = rule.at_instant(utc("2026-10-25T00:15:00Z"), &zone);
    assert_eq!(limit, Some(Limit::Off), "02:15 CEST");
    assert_eq!(
        until,
        Some(utc("2026-10-25T00:30:00Z")),
        "02:30 CEST, the first one"
    );
    assert_eq!(
        rule.at_instant(utc("2026-10-25T00:45:00Z"), &zone).0,
        None,
        "02:45 CEST"
    );
    assert_eq!(
        rule.at_instant(utc("2026-10-25T01:15:00Z"), &zone).0,
        Some(Limit::Off),
        "02:15 CET, the second time"
    );
    assert_eq!(
        rule.at_instant(utc("2026-10-25T01:30:00Z"), &zone).0,
        None,
        "02:30 CET"
    );
}

#[test]
fn rates_read_as_people_write_them() {
    let cases = [
        ("1000", 1000),
        ("1k", 1000),
        ("1kB/s", 1000),
        ("1.5M", 1_500_000),
        ("2 MB/s", 2_000_000),
        ("1MiB", 1 << 20),
        ("1g", 1_000_000_000),
    ];
    for (text, rate) in cases {
        assert_eq!(parse_rate(text), Ok(rate), "{text}");
    }
    for bad in ["", "k", "-1M", "1.2.3M", "1 parsec", "NaN", "inf", "0.0001"] {
        assert!(parse_rate(bad).is_err(), "{bad:?} should be refused");
    }
    assert_eq!(format_rate(1_000_000), "1 MB/s");
    assert_eq!(format_rate(1_250_000), "1.2 MB/s");
    assert_eq!(format_rate(999), "999 B/s");
    assert_eq!(format_rate(512_000), "512 kB/s");
}

#[test]
fn the_json_form_is_a_list_of_rules() {
    let rules = table("mon-fri 09:00-18:00 1M; sun 00:00-24:00 off; sat 10:00-11:00 unlimited");
    let json = serde_json::to_value(&rules).unwrap();
    assert_eq!(
        json,
        serde_json::json!([
            {"days": "mon-fri", "from": "09:00", "to": "18:00", "limit": 1_000_000},
            {"days": "sun", "from": "00:00", "to": "24:00", "limit": "off"},
            {"days": "sat", "from": "10:00", "to": "11:00", "limit": "unlimited"}
        ])
    );
    assert_eq!(serde_json::from_value::<Timetable>(json).unwrap(), rules);
    let zero = serde_json::json!([{"days": "mon", "from": "09:00", "to": "10:00", "limit": 0}]);
    assert!(serde_json::from_value::<Timetable>(zero).is_err());
}
