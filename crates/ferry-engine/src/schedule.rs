//! The bandwidth schedule: a weekly timetable of upload limits ("weekdays 09:00-18:00 at
//! 1 MB/s, nights unlimited, Sunday off"), and the pure function from a wall-clock time to
//! the limit in force.
//!
//! A [`Timetable`] is a list of [`Rule`]s, each some days of the week, a span of the day
//! and a [`Limit`]. Rules may not overlap (a timetable where two rules claim the same
//! minute is refused, naming both), so the answer never depends on their order. A span
//! that ends at or before it starts runs past midnight into the next day (and from Sunday
//! into Monday). Outside every rule the setting without a schedule holds (the rate limit,
//! or none).
//!
//! Time is the local wall clock: a rule "09:00-18:00" means 09:00 as the clock on the wall
//! shows it, whatever the UTC offset that day. Across a DST change that is what a person
//! expects: a span in the hour skipped in spring is shorter (or gone), a span in the hour
//! repeated in autumn applies both times. [`Timetable::at`] takes a civil date-time;
//! [`Timetable::at_instant`] converts an instant in a time zone first.
//!
//! The text form (`ferry config set schedule`, `ferry sync --schedule`) is rules separated
//! by `;` or new lines, each `DAYS FROM-TO LIMIT`:
//! `mon-fri 09:00-18:00 1M; sat,sun 00:00-24:00 off`. See [`Timetable::from_str`].
//!
//! Knows nothing of clocks, settings files or uploads.

use std::fmt;
use std::str::FromStr;

use jiff::civil::{DateTime, Weekday};
use jiff::tz::TimeZone;
use serde::{Deserialize, Serialize};

#[cfg(test)]
mod tests;

/// Minutes in a day and in a week.
const DAY: u32 = 24 * 60;
const WEEK: u32 = 7 * DAY;

/// The days of the week in order, as the text form names them.
const DAY_NAMES: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

/// What a rule allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limit {
    /// Nothing is uploaded (uploads under way pause and go on from the server's offset
    /// when the rule ends).
    Off,
    /// At most this many bytes per second, all uploads together (at least 1).
    Rate(u64),
    /// No limit (not even the rate limit of the settings).
    Unlimited,
}

impl fmt::Display for Limit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Off => f.write_str("off"),
            Self::Unlimited => f.write_str("unlimited"),
            Self::Rate(rate) => f.write_str(&exact_rate(*rate)),
        }
    }
}

impl Serialize for Limit {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::Rate(rate) => s.serialize_u64(*rate),
            other => s.serialize_str(&other.to_string()),
        }
    }
}

impl<'de> Deserialize<'de> for Limit {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Form {
            Number(u64),
            Text(String),
        }
        match Form::deserialize(d)? {
            Form::Number(0) => Err(serde::de::Error::custom(
                "a rate of 0 is not a limit: write \"off\"",
            )),
            Form::Number(rate) => Ok(Self::Rate(rate)),
            Form::Text(text) => text.parse().map_err(serde::de::Error::custom),
        }
    }
}

impl FromStr for Limit {
    type Err = String;

    /// `off`, `unlimited`, or a rate in bytes per second with an optional unit: `k`, `M`,
    /// `G` (powers of 1000, as "1 MB/s" means) or `KiB`, `MiB`, `GiB` (powers of 1024); a
    /// trailing `B/s` or `/s` is allowed (`1.5MB/s`).
    fn from_str(text: &str) -> Result<Self, String> {
        match text.trim().to_ascii_lowercase().as_str() {
            "off" | "paused" | "pause" => Ok(Self::Off),
            "unlimited" | "none" | "max" => Ok(Self::Unlimited),
            _ => parse_rate(text).map(Self::Rate),
        }
    }
}

/// A rate in bytes per second from `1M`, `512k`, `1.5MB/s`, `100000`, `2MiB`.
pub fn parse_rate(text: &str) -> Result<u64, String> {
    let lower = text.trim().to_ascii_lowercase();
    let body = lower
        .strip_suffix("/s")
        .unwrap_or(&lower)
        .trim_end()
        .to_owned();
    let split = body
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(body.len());
    let (number, unit) = body.split_at(split);
    let multiplier: u64 = match unit.trim() {
        "" | "b" => 1,
        "k" | "kb" => 1000,
        "m" | "mb" => 1_000_000,
        "g" | "gb" => 1_000_000_000,
        "ki" | "kib" => 1 << 10,
        "mi" | "mib" => 1 << 20,
        "gi" | "gib" => 1 << 30,
        _ => return Err(rate_error(text)),
    };
    let value: f64 = number.parse().map_err(|_| rate_error(text))?;
    #[expect(
        clippy::cast_precision_loss,
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        reason = "a rate typed by a person: far below 2^52, checked to be positive and finite"
    )]
    let rate = (value * multiplier as f64).round() as u64;
    if !value.is_finite() || rate == 0 {
        return Err(format!(
            "{text:?} is not a rate above zero: write \"off\" to pause uploads"
        ));
    }
    Ok(rate)
}

fn rate_error(text: &str) -> String {
    format!(
        "{text:?} is not a rate: write bytes per second, e.g. 500k, 1M, 2.5MB/s or 1MiB (k, M, G \
         are powers of 1000), or off, or unlimited"
    )
}

/// A rate in the text form, exactly and without spaces: `1MB/s`, `1.5MB/s`, `2097152B/s`.
fn exact_rate(rate: u64) -> String {
    for (size, unit) in [(1_000_000_000, "GB/s"), (1_000_000, "MB/s"), (1000, "kB/s")] {
        if rate >= size && rate.is_multiple_of(size / 1000) {
            let fraction = format!("{:03}", rate % size / (size / 1000));
            let fraction = fraction.trim_end_matches('0');
            let dot = if fraction.is_empty() { "" } else { "." };
            return format!("{}{dot}{fraction}{unit}", rate / size);
        }
    }
    format!("{rate}B/s")
}

/// A rate for people: `1 MB/s`, `512 kB/s`, `1.5 MB/s`, `800 B/s`.
pub fn format_rate(rate: u64) -> String {
    let units = [(1_000_000_000, "GB/s"), (1_000_000, "MB/s"), (1000, "kB/s")];
    for (size, unit) in units {
        if rate >= size {
            #[expect(
                clippy::cast_precision_loss,
                reason = "shown to people, rounded to a tenth"
            )]
            let value = rate as f64 / size as f64;
            let shown = format!("{value:.1}");
            let shown = shown.strip_suffix(".0").unwrap_or(&shown);
            return format!("{shown} {unit}");
        }
    }
    format!("{rate} B/s")
}

/// A time of day, `HH:MM`; `24:00` is allowed as a span's end.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Clock(u32);

impl Clock {
    /// The clock at `hour:minute` (`24:00` at most).
    pub fn new(hour: u32, minute: u32) -> Option<Self> {
        let minutes = hour * 60 + minute;
        (minute < 60 && minutes <= DAY).then_some(Self(minutes))
    }

    /// Minutes since midnight.
    pub fn minutes(self) -> u32 {
        self.0
    }
}

impl fmt::Display for Clock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:02}:{:02}", self.0 / 60, self.0 % 60)
    }
}

impl FromStr for Clock {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let error = || format!("{text:?} is not a time of day: write HH:MM, e.g. 09:00 or 24:00");
        let (hour, minute) = text.trim().split_once(':').ok_or_else(error)?;
        if hour.is_empty() || hour.len() > 2 || minute.len() != 2 {
            return Err(error());
        }
        let hour: u32 = hour.parse().map_err(|_| error())?;
        let minute: u32 = minute.parse().map_err(|_| error())?;
        Self::new(hour, minute).ok_or_else(error)
    }
}

impl Serialize for Clock {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Clock {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d)?
            .parse()
            .map_err(serde::de::Error::custom)
    }
}

/// Some days of the week (bit 0 is Monday).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Days(u8);

impl Days {
    /// Every day.
    pub const ALL: Self = Self(0x7f);

    fn contains(self, day: usize) -> bool {
        self.0 & (1 << day) != 0
    }

    fn iter(self) -> impl Iterator<Item = usize> {
        (0..7).filter(move |&d| self.contains(d))
    }
}

impl fmt::Display for Days {
    /// `daily`, `mon-fri`, `sat,sun`, `mon,wed-fri`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if *self == Self::ALL {
            return f.write_str("daily");
        }
        let mut parts = Vec::new();
        let mut day = 0;
        while day < 7 {
            if !self.contains(day) {
                day += 1;
                continue;
            }
            let start = day;
            while day + 1 < 7 && self.contains(day + 1) {
                day += 1;
            }
            parts.push(match day - start {
                0 => DAY_NAMES[start].to_owned(),
                1 => format!("{},{}", DAY_NAMES[start], DAY_NAMES[day]),
                _ => format!("{}-{}", DAY_NAMES[start], DAY_NAMES[day]),
            });
            day += 1;
        }
        f.write_str(&parts.join(","))
    }
}

impl FromStr for Days {
    type Err = String;

    /// `daily` (or `*`), `weekdays`, `weekends`, day names (`mon`, `Tuesday`), ranges
    /// (`mon-fri`, `fri-mon` wraps) and lists of them (`sat,sun`).
    fn from_str(text: &str) -> Result<Self, String> {
        let day = |name: &str| -> Result<usize, String> {
            let name = name.trim().to_ascii_lowercase();
            DAY_NAMES
                .iter()
                .position(|d| name.len() >= 3 && full_name(d).starts_with(&name))
                .ok_or_else(|| {
                    format!(
                        "{name:?} is not a day: write mon, tue, wed, thu, fri, sat, sun, ranges \
                         like mon-fri, lists like sat,sun, or daily, weekdays, weekends"
                    )
                })
        };
        let mut bits = 0u8;
        for part in text.split(',') {
            let part = part.trim();
            match part.to_ascii_lowercase().as_str() {
                "daily" | "*" | "every day" => bits |= Self::ALL.0,
                "weekdays" => bits |= 0x1f,
                "weekends" | "weekend" => bits |= 0x60,
                _ => {
                    if let Some((from, to)) = part.split_once('-') {
                        let (from, to) = (day(from)?, day(to)?);
                        let mut d = from;
                        loop {
                            bits |= 1 << d;
                            if d == to {
                                break;
                            }
                            d = (d + 1) % 7;
                        }
                    } else {
                        bits |= 1 << day(part)?;
                    }
                }
            }
        }
        if bits == 0 {
            return Err("a rule names no days".to_owned());
        }
        Ok(Self(bits))
    }
}

fn full_name(short: &str) -> &'static str {
    match short {
        "mon" => "monday",
        "tue" => "tuesday",
        "wed" => "wednesday",
        "thu" => "thursday",
        "fri" => "friday",
        "sat" => "saturday",
        _ => "sunday",
    }
}

impl Serialize for Days {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Days {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d)?
            .parse()
            .map_err(serde::de::Error::custom)
    }
}

/// One line of a timetable: on `days`, from `from` to `to` (past midnight when `to` is not
/// after `from`), `limit` holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rule {
    /// The days the span starts on.
    pub days: Days,
    /// When it starts.
    pub from: Clock,
    /// When it ends (the next day when not after `from`).
    pub to: Clock,
    /// What it allows.
    pub limit: Limit,
}

impl Rule {
    /// The span's length in minutes (a whole day for `00:00-24:00`, never zero).
    fn length(&self) -> u32 {
        let (from, to) = (self.from.minutes(), self.to.minutes());
        if to > from {
            to - from
        } else {
            to + DAY - from
        }
    }

    /// The rule's spans as `[start, end)` minutes of the week from Monday 00:00; an end
    /// past the week's end wraps (the caller splits it).
    fn spans(&self) -> impl Iterator<Item = (u32, u32)> + '_ {
        self.days.iter().map(move |day| {
            #[expect(clippy::cast_possible_truncation, reason = "a day of the week, 0..7")]
            let start = day as u32 * DAY + self.from.minutes() % DAY;
            (start, start + self.length())
        })
    }

    /// Whether minute `m` of the week (0..WEEK) is in one of the rule's spans.
    fn covers(&self, m: u32) -> bool {
        self.spans()
            .any(|(start, end)| (start..end).contains(&m) || (start..end).contains(&(m + WEEK)))
    }
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}-{} {}", self.days, self.from, self.to, self.limit)
    }
}

impl FromStr for Rule {
    type Err = String;

    /// `DAYS FROM-TO LIMIT`, e.g. `mon-fri 09:00-18:00 1M`.
    fn from_str(text: &str) -> Result<Self, String> {
        let words: Vec<&str> = text.split_whitespace().collect();
        let [days, span, first, ref rest @ ..] = words[..] else {
            return Err(format!(
                "{:?} is not a rule: write DAYS FROM-TO LIMIT, e.g. \"mon-fri 09:00-18:00 1M\"",
                text.trim()
            ));
        };
        let (from, to) = span.split_once('-').ok_or_else(|| {
            format!("{span:?} is not a span of the day: write FROM-TO, e.g. 09:00-18:00")
        })?;
        let (from, to): (Clock, Clock) = (from.parse()?, to.parse()?);
        if from.minutes() == DAY {
            return Err("a span cannot start at 24:00: write 00:00".to_owned());
        }
        if from == to {
            return Err(format!(
                "{span} is empty: write 00:00-24:00 for a whole day"
            ));
        }
        Ok(Self {
            days: days.parse()?,
            from,
            to,
            limit: format!("{first}{}", rest.concat()).parse()?,
        })
    }
}

/// A weekly timetable of limits; see the module's documentation.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct Timetable(Vec<Rule>);

/// The limit in force and until when (a civil time on the same wall clock).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InForce {
    /// The rule's limit; `None`: no rule (the setting without a schedule holds).
    pub limit: Option<Limit>,
    /// When the next rule starts or this one ends; `None` without rules.
    pub until: Option<DateTime>,
}

impl Timetable {
    /// A timetable of `rules`, refused when two overlap or one is invalid.
    pub fn new(rules: Vec<Rule>) -> Result<Self, String> {
        let table = Self(rules);
        table.check()?;
        Ok(table)
    }

    /// Whether the rules can stand together: none empty, no two overlapping (the JSON form
    /// is read without this check, so that the settings can say which field is wrong).
    pub fn check(&self) -> Result<(), String> {
        let rules = &self.0;
        for rule in rules {
            if rule.from == rule.to || rule.from.minutes() == DAY {
                return Err(format!("the rule \"{rule}\" has an empty span"));
            }
            if let Limit::Rate(0) = rule.limit {
                return Err(format!("the rule \"{rule}\" has a rate of 0: write off"));
            }
        }
        for (i, a) in rules.iter().enumerate() {
            for (j, b) in rules.iter().enumerate().skip(i + 1) {
                if let Some(minute) = (0..WEEK).find(|&m| a.covers(m) && b.covers(m)) {
                    return Err(format!(
                        "rules {} (\"{a}\") and {} (\"{b}\") overlap on {} at {}: each minute of \
                         the week may have one rule only",
                        i + 1,
                        j + 1,
                        full_name(DAY_NAMES[(minute / DAY) as usize]),
                        Clock(minute % DAY)
                    ));
                }
            }
        }
        Ok(())
    }

    /// The rules.
    pub fn rules(&self) -> &[Rule] {
        &self.0
    }

    /// Whether there are no rules.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The limit at the wall-clock time `now`, and until when it holds.
    pub fn at(&self, now: DateTime) -> InForce {
        if self.0.is_empty() {
            return InForce {
                limit: None,
                until: None,
            };
        }
        let minute = week_minute(now);
        let limit = self.limit_at_minute(minute);
        // The next minute of the week where the limit differs (at most a week away).
        let changes =
            (1..=WEEK).find(|&ahead| self.limit_at_minute((minute + ahead) % WEEK) != limit);
        let until = changes.map(|ahead| {
            let start_of_minute = now
                .with()
                .second(0)
                .subsec_nanosecond(0)
                .build()
                .unwrap_or(now);
            start_of_minute
                .checked_add(jiff::Span::new().minutes(i64::from(ahead)))
                .unwrap_or(DateTime::MAX)
        });
        InForce { limit, until }
    }

    /// The limit at `instant` in `zone` (its wall clock there), and the instant it ends: a
    /// wall-clock time that a DST change skips ends at the change, one it repeats ends the
    /// first time the clock shows it.
    pub fn at_instant(
        &self,
        instant: jiff::Timestamp,
        zone: &TimeZone,
    ) -> (Option<Limit>, Option<jiff::Timestamp>) {
        let in_force = self.at(zone.to_datetime(instant));
        let until = in_force.until.and_then(|civil| {
            let ambiguous = zone.to_ambiguous_timestamp(civil);
            match ambiguous.offset() {
                jiff::tz::AmbiguousOffset::Gap { .. } => {
                    let after = ambiguous.later().ok()?;
                    zone.preceding(after).next().map(|t| t.timestamp())
                }
                _ => ambiguous.earlier().ok(),
            }
        });
        (in_force.limit, until)
    }

    fn limit_at_minute(&self, minute: u32) -> Option<Limit> {
        self.0.iter().find(|r| r.covers(minute)).map(|r| r.limit)
    }
}

/// Minutes since Monday 00:00 of `now`'s week.
fn week_minute(now: DateTime) -> u32 {
    let day = u32::from(now.weekday().to_monday_zero_offset().unsigned_abs());
    let time = u32::from(now.hour().unsigned_abs()) * 60 + u32::from(now.minute().unsigned_abs());
    day * DAY + time
}

/// The English name of `day`, for messages.
pub fn weekday_name(day: Weekday) -> &'static str {
    full_name(DAY_NAMES[usize::from(day.to_monday_zero_offset().unsigned_abs())])
}

impl fmt::Display for Timetable {
    /// The text form: rules joined with `; `.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let rules: Vec<String> = self.0.iter().map(ToString::to_string).collect();
        f.write_str(&rules.join("; "))
    }
}

impl FromStr for Timetable {
    type Err = String;

    /// Rules separated by `;` or new lines; empty text (or `none`) is no schedule.
    fn from_str(text: &str) -> Result<Self, String> {
        if matches!(text.trim().to_ascii_lowercase().as_str(), "" | "none") {
            return Ok(Self::default());
        }
        let rules = text
            .split([';', '\n'])
            .filter(|line| !line.trim().is_empty())
            .enumerate()
            .map(|(i, line)| line.parse().map_err(|e| format!("rule {}: {e}", i + 1)))
            .collect::<Result<Vec<Rule>, String>>()?;
        Self::new(rules)
    }
}

impl<'de> Deserialize<'de> for Timetable {
    /// Each rule is read and checked on its own; whether they stand together is
    /// [`Timetable::check`]'s (the settings call it).
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(Self(Vec::<Rule>::deserialize(d)?))
    }
}
