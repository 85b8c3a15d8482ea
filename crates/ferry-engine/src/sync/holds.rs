//! Why uploads are held back now, as a pure function of the settings, what the system says
//! and the wall clock: paused for sleep, on a metered connection, on a low battery, or by
//! the bandwidth schedule (everything, or one folder), and the rates the schedules allow.
//! Holds are states, not errors: they are shown with their reason and, for the schedule,
//! until when; nothing about them is a failure or a notification.
//!
//! Knows nothing of D-Bus, clocks or jobs: the driver feeds it and carries out the answer.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use jiff::Timestamp;
use jiff::tz::TimeZone;
use serde::{Deserialize, Serialize};

use crate::schedule::{Limit, Timetable, format_rate};
use crate::settings::FolderSettings;
use crate::system::Conditions;

#[cfg(test)]
mod tests;

/// Why uploads wait.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HoldReason {
    /// The system is about to sleep.
    Sleep,
    /// The connection is metered and the settings say to pause then.
    Metered,
    /// On battery below the level the settings name.
    Battery,
    /// A rule of the bandwidth schedule is `off`.
    Schedule,
}

/// Uploads held back: why, until when, in words.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Hold {
    /// Why.
    pub reason: HoldReason,
    /// Until when (unix milliseconds), where it is known (the schedule's).
    pub until_ms: Option<i64>,
    /// The state in words, e.g. "paused: metered connection".
    pub message: String,
}

/// A rate the schedule sets now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ScheduledRate {
    /// Bytes per second.
    pub rate: u64,
    /// Until when (unix milliseconds).
    pub until_ms: Option<i64>,
    /// In words, e.g. "limited to 1 MB/s by the schedule until 18:00".
    pub message: String,
}

/// What is held back now and which rates hold.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Holds {
    /// Everything waits.
    pub(crate) all: Option<Hold>,
    /// These folders wait (beside `all`).
    pub(crate) folders: BTreeMap<PathBuf, Hold>,
    /// The rate over all uploads (`None`: unlimited).
    pub(crate) rate: Option<u64>,
    /// The schedule's rate over all uploads, to show.
    pub(crate) scheduled: Option<ScheduledRate>,
    /// Folders' own rates.
    pub(crate) folder_rates: BTreeMap<PathBuf, u64>,
}

/// What the holds depend on (the parts of the sync options they read).
pub(crate) struct Policy<'a> {
    pub(crate) rate_limit: Option<u64>,
    pub(crate) schedule: &'a Timetable,
    pub(crate) pause_on_metered: bool,
    pub(crate) pause_on_battery_below: Option<u8>,
    pub(crate) folders: &'a BTreeMap<PathBuf, FolderSettings>,
}

/// The holds at `now` (its wall clock in `zone`) for the synced folders `roots`; in a
/// one-shot run (`once`) nothing is held but the rates still hold.
pub(crate) fn decide(
    policy: &Policy<'_>,
    conditions: &Conditions,
    now: Timestamp,
    zone: &TimeZone,
    roots: &[&Path],
    once: bool,
) -> Holds {
    let mut holds = Holds::default();
    let metered = conditions.metered == Some(true);
    let (limit, until) = policy.schedule.at_instant(now, zone);
    let until_ms = until.map(Timestamp::as_millisecond);
    let when = until.map(|t| until_text(now, t, zone));
    holds.rate = match limit {
        Some(Limit::Rate(rate)) => {
            holds.scheduled = Some(ScheduledRate {
                rate,
                until_ms,
                message: format!(
                    "limited to {} by the schedule{}",
                    format_rate(rate),
                    when.as_deref()
                        .map(|w| format!(" until {w}"))
                        .unwrap_or_default()
                ),
            });
            Some(rate)
        }
        Some(Limit::Unlimited) => None,
        Some(Limit::Off) | None => policy.rate_limit,
    };
    let battery_low = match (
        conditions.on_battery,
        conditions.battery_percent,
        policy.pause_on_battery_below,
    ) {
        (Some(true), Some(percent), Some(below)) if percent < f64::from(below) => {
            Some((percent, below))
        }
        _ => None,
    };
    let every_folder_metered = policy.pause_on_metered
        && roots.iter().all(|r| {
            policy
                .folders
                .get(*r)
                .and_then(|f| f.pause_on_metered)
                .unwrap_or(true)
        });
    if !once {
        holds.all = if conditions.sleeping {
            Some(hold(HoldReason::Sleep, None, "paused for sleep".to_owned()))
        } else if metered && every_folder_metered && !roots.is_empty() {
            Some(metered_hold())
        } else if let Some((percent, below)) = battery_low {
            Some(hold(
                HoldReason::Battery,
                None,
                format!("paused: on battery at {percent:.0}% (below {below}%)"),
            ))
        } else if limit == Some(Limit::Off) {
            Some(schedule_hold(until_ms, when.as_deref()))
        } else {
            None
        };
    }
    for root in roots {
        let own = policy.folders.get(*root);
        let (limit, until) = own.map_or((None, None), |f| f.schedule.at_instant(now, zone));
        if let Some(Limit::Rate(rate)) = limit {
            holds.folder_rates.insert(root.to_path_buf(), rate);
        }
        if once || holds.all.is_some() {
            continue;
        }
        let pauses_on_metered = own
            .and_then(|f| f.pause_on_metered)
            .unwrap_or(policy.pause_on_metered);
        let folder_hold = if metered && pauses_on_metered {
            Some(metered_hold())
        } else if limit == Some(Limit::Off) {
            let until_ms = until.map(Timestamp::as_millisecond);
            let when = until.map(|t| until_text(now, t, zone));
            Some(schedule_hold(until_ms, when.as_deref()))
        } else {
            None
        };
        if let Some(folder_hold) = folder_hold {
            holds.folders.insert(root.to_path_buf(), folder_hold);
        }
    }
    holds
}

fn hold(reason: HoldReason, until_ms: Option<i64>, message: String) -> Hold {
    Hold {
        reason,
        until_ms,
        message,
    }
}

fn metered_hold() -> Hold {
    hold(
        HoldReason::Metered,
        None,
        "paused: metered connection".to_owned(),
    )
}

fn schedule_hold(until_ms: Option<i64>, when: Option<&str>) -> Hold {
    hold(
        HoldReason::Schedule,
        until_ms,
        match when {
            Some(when) => format!("paused by the schedule until {when}"),
            None => "paused by the schedule".to_owned(),
        },
    )
}

/// `18:00` today, `Tue 09:00` within a week, else the date.
fn until_text(now: Timestamp, until: Timestamp, zone: &TimeZone) -> String {
    let (now, until) = (zone.to_datetime(now), zone.to_datetime(until));
    let clock = format!("{:02}:{:02}", until.hour(), until.minute());
    if until.date() == now.date() {
        clock
    } else if until.date() <= now.date().saturating_add(jiff::Span::new().days(6)) {
        let day = crate::schedule::weekday_name(until.weekday());
        format!("{}{} {clock}", day[..1].to_ascii_uppercase(), &day[1..3])
    } else {
        format!("{} {clock}", until.date())
    }
}
