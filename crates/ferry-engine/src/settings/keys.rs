//! The settings as `KEY VALUE` text, for `ferry config list|get|set|unset`: every setting
//! by its name in `settings.json` (camelCase), read and written in the forms people type
//! (`1M`, `off`, `mon-fri 09:00-18:00 1M`), checked as the desktop app checks them. A
//! folder's own settings are reached with its path.
//!
//! Pure: it changes a [`Settings`] value; loading and saving are the caller's.

use super::{Settings, SettingsError};
use crate::schedule::{Timetable, parse_rate};

/// The settings of all folders, in the order `ferry config list` shows them.
pub const KEYS: [&str; 9] = [
    "concurrency",
    "rateLimit",
    "schedule",
    "quietPeriodMs",
    "pauseOnMetered",
    "pauseOnBatteryBelow",
    "autostart",
    "notifyFailures",
    "notifyFinished",
];

/// The settings a folder can have of its own.
pub const FOLDER_KEYS: [&str; 2] = ["schedule", "pauseOnMetered"];

fn invalid(field: &'static str, message: String) -> SettingsError {
    SettingsError::Invalid { field, message }
}

fn known(key: &str, folder: bool) -> Result<&'static str, SettingsError> {
    let keys: &[&'static str] = if folder { &FOLDER_KEYS } else { &KEYS };
    keys.iter().copied().find(|k| *k == key).ok_or_else(|| {
        invalid(
            "key",
            format!(
                "there is no {}setting {key:?}; the settings are: {}",
                if folder { "folder " } else { "" },
                keys.join(", ")
            ),
        )
    })
}

fn boolean(field: &'static str, value: &str) -> Result<bool, SettingsError> {
    match value.trim().to_ascii_lowercase().as_str() {
        "true" | "on" | "yes" | "1" => Ok(true),
        "false" | "off" | "no" | "0" => Ok(false),
        _ => Err(invalid(
            field,
            format!("{field} is on or off (true or false), not {value:?}"),
        )),
    }
}

fn number<T: std::str::FromStr>(
    field: &'static str,
    value: &str,
    what: &str,
) -> Result<T, SettingsError> {
    value
        .trim()
        .parse()
        .map_err(|_| invalid(field, format!("{field} is {what}, not {value:?}")))
}

/// A setting's value as text (`unlimited`, `off`, the schedule's text form; a folder's
/// setting that follows all folders' is `default`).
pub fn get(settings: &Settings, folder: Option<&str>, key: &str) -> Result<String, SettingsError> {
    if let Some(path) = folder {
        let key = known(key, true)?;
        let own = settings.folders.get(path).cloned().unwrap_or_default();
        return Ok(match key {
            "schedule" => text_of_schedule(&own.schedule),
            _ => own
                .pause_on_metered
                .map_or_else(|| "default".to_owned(), |b| b.to_string()),
        });
    }
    Ok(match known(key, false)? {
        "concurrency" => settings.concurrency.to_string(),
        "rateLimit" => settings
            .rate_limit
            .map_or_else(|| "unlimited".to_owned(), |r| r.to_string()),
        "schedule" => text_of_schedule(&settings.schedule),
        "quietPeriodMs" => settings.quiet_period_ms.to_string(),
        "pauseOnMetered" => settings.pause_on_metered.to_string(),
        "pauseOnBatteryBelow" => settings
            .pause_on_battery_below
            .map_or_else(|| "off".to_owned(), |p| p.to_string()),
        "autostart" => settings.autostart.to_string(),
        "notifyFailures" => settings.notify_failures.to_string(),
        _ => settings.notify_finished.to_string(),
    })
}

fn text_of_schedule(schedule: &Timetable) -> String {
    if schedule.is_empty() {
        "none".to_owned()
    } else {
        schedule.to_string()
    }
}

/// Every setting and its value (a folder's own ones with `folder`).
pub fn list(settings: &Settings, folder: Option<&str>) -> Vec<(&'static str, String)> {
    let keys: &[&'static str] = if folder.is_some() {
        &FOLDER_KEYS
    } else {
        &KEYS
    };
    keys.iter()
        .filter_map(|k| get(settings, folder, k).ok().map(|v| (*k, v)))
        .collect()
}

/// Sets `key` to `value` (read as people write it) and checks the whole result.
pub fn set(
    settings: &mut Settings,
    folder: Option<&str>,
    key: &str,
    value: &str,
) -> Result<(), SettingsError> {
    if let Some(path) = folder {
        let key = known(key, true)?;
        let own = settings.folders.entry(path.to_owned()).or_default();
        match key {
            "schedule" => own.schedule = schedule(value)?,
            _ if value.trim() == "default" => own.pause_on_metered = None,
            _ => own.pause_on_metered = Some(boolean("pauseOnMetered", value)?),
        }
        settings.folders.retain(|_, f| !f.is_empty());
        return settings.validate();
    }
    match known(key, false)? {
        "concurrency" => {
            settings.concurrency = number("concurrency", value, "a number of uploads at once")?;
        }
        "rateLimit" => {
            settings.rate_limit = match value.trim().to_ascii_lowercase().as_str() {
                "unlimited" | "none" | "" => None,
                _ => Some(parse_rate(value).map_err(|m| invalid("rateLimit", m))?),
            };
        }
        "schedule" => settings.schedule = schedule(value)?,
        "quietPeriodMs" => {
            settings.quiet_period_ms = number("quietPeriodMs", value, "a number of milliseconds")?;
        }
        "pauseOnMetered" => settings.pause_on_metered = boolean("pauseOnMetered", value)?,
        "pauseOnBatteryBelow" => {
            settings.pause_on_battery_below = match value.trim().to_ascii_lowercase().as_str() {
                "off" | "never" | "none" | "" => None,
                _ => Some(number(
                    "pauseOnBatteryBelow",
                    value.trim().trim_end_matches('%'),
                    "a percentage from 1 to 100, or off",
                )?),
            };
        }
        "autostart" => settings.autostart = boolean("autostart", value)?,
        "notifyFailures" => settings.notify_failures = boolean("notifyFailures", value)?,
        _ => settings.notify_finished = boolean("notifyFinished", value)?,
    }
    settings.validate()
}

fn schedule(value: &str) -> Result<Timetable, SettingsError> {
    value.parse().map_err(|m| invalid("schedule", m))
}

/// Puts `key` back to its default (a folder's: back to following all folders').
pub fn unset(
    settings: &mut Settings,
    folder: Option<&str>,
    key: &str,
) -> Result<(), SettingsError> {
    if let Some(path) = folder {
        let key = known(key, true)?;
        if let Some(own) = settings.folders.get_mut(path) {
            match key {
                "schedule" => own.schedule = Timetable::default(),
                _ => own.pause_on_metered = None,
            }
        }
        settings.folders.retain(|_, f| !f.is_empty());
        return Ok(());
    }
    let key = known(key, false)?;
    let defaults = Settings::default();
    let value = get(&defaults, None, key)?;
    set(settings, None, key, &value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_setting_reads_back_what_was_set() {
        let mut s = Settings::default();
        let cases = [
            ("concurrency", "8", "8"),
            ("rateLimit", "1.5M", "1500000"),
            ("rateLimit", "unlimited", "unlimited"),
            (
                "schedule",
                "weekdays 09:00-18:00 1M",
                "mon-fri 09:00-18:00 1MB/s",
            ),
            ("schedule", "none", "none"),
            ("quietPeriodMs", "500", "500"),
            ("pauseOnMetered", "on", "true"),
            ("pauseOnBatteryBelow", "20%", "20"),
            ("pauseOnBatteryBelow", "off", "off"),
            ("autostart", "yes", "true"),
            ("notifyFailures", "false", "false"),
            ("notifyFinished", "1", "true"),
        ];
        for (key, value, shown) in cases {
            set(&mut s, None, key, value).unwrap_or_else(|e| panic!("{key} {value}: {e}"));
            assert_eq!(get(&s, None, key).unwrap(), shown, "{key} {value}");
        }
        assert_eq!(list(&s, None).len(), KEYS.len());
        for key in KEYS {
            unset(&mut s, None, key).unwrap();
        }
        assert_eq!(s, Settings::default());
    }

    #[test]
    fn a_folders_own_settings_and_back_to_the_default() {
        let mut s = Settings::default();
        let videos = Some("/home/me/Videos");
        set(&mut s, videos, "schedule", "daily 08:00-23:00 off").unwrap();
        set(&mut s, videos, "pauseOnMetered", "false").unwrap();
        assert_eq!(get(&s, videos, "pauseOnMetered").unwrap(), "false");
        assert_eq!(
            list(&s, videos),
            [
                ("schedule", "daily 08:00-23:00 off".to_owned()),
                ("pauseOnMetered", "false".to_owned())
            ]
        );
        set(&mut s, videos, "pauseOnMetered", "default").unwrap();
        unset(&mut s, videos, "schedule").unwrap();
        assert!(s.folders.is_empty(), "nothing of its own is left: {s:?}");
        assert_eq!(get(&s, videos, "pauseOnMetered").unwrap(), "default");
    }

    #[test]
    fn bad_keys_and_values_are_refused_saying_what_is_allowed() {
        let mut s = Settings::default();
        let cases = [
            (
                None,
                "speed",
                "1M",
                "there is no setting \"speed\"; the settings are: concurrency",
            ),
            (None, "concurrency", "99", "between 1 and 16"),
            (None, "concurrency", "many", "a number of uploads at once"),
            (None, "rateLimit", "fast", "\"fast\" is not a rate"),
            (None, "rateLimit", "0", "not a rate above zero"),
            (
                None,
                "schedule",
                "mon 09:00-18:00 1M; mon 10:00-11:00 off",
                "overlap on monday at 10:00",
            ),
            (None, "pauseOnMetered", "maybe", "on or off"),
            (None, "pauseOnBatteryBelow", "0", "between 1 and 100"),
            (None, "pauseOnBatteryBelow", "half", "a percentage"),
            (None, "quietPeriodMs", "99999999", "at most an hour"),
            (Some("/f"), "concurrency", "2", "there is no folder setting"),
        ];
        for (folder, key, value, expected) in cases {
            let before = s.clone();
            let err = set(&mut s, folder, key, value).unwrap_err().to_string();
            assert!(err.contains(expected), "{key} {value}: {err}");
            s = before;
        }
    }
}
