//! The user's settings for syncing: how many uploads at once, the rate limit and the
//! bandwidth schedule, the quiet period before a changed file goes up, the pauses on
//! metered connections and low battery (and a folder's own schedule and metered pause),
//! and the desktop app's autostart and notification choices. Kept as `HOME/settings.json`, written atomically (temp file + rename) so a crash
//! never leaves half a file; a missing file or field takes its default, an unknown field is
//! ignored (a newer Ferry may have written it).
//!
//! [`keys`] reads and writes them as `KEY VALUE` text (`ferry config`).
//!
//! Knows nothing of windows or how the settings are edited.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::home::Home;
use crate::schedule::Timetable;

pub mod keys;

/// The name of the settings file in the home directory.
pub const SETTINGS_FILE: &str = "settings.json";

/// The fewest and most uploads at once.
pub const CONCURRENCY_RANGE: std::ops::RangeInclusive<usize> = 1..=16;

/// The longest quiet period accepted: an hour.
pub const MAX_QUIET_PERIOD_MS: u64 = 3_600_000;

/// The user's settings. Field names are camelCase in JSON (the desktop window's and the
/// settings file's form).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
#[expect(
    clippy::struct_excessive_bools,
    reason = "the settings file's form: each switch is a setting of its own"
)]
pub struct Settings {
    /// Uploads at once, 1 to 16.
    pub concurrency: usize,
    /// Bytes per second over all uploads; `None`: unlimited.
    pub rate_limit: Option<u64>,
    /// How long a changed file must stay unchanged before it goes up, in milliseconds.
    pub quiet_period_ms: u64,
    /// Whether the desktop app starts with the session.
    pub autostart: bool,
    /// Whether the desktop app notifies about failed uploads.
    pub notify_failures: bool,
    /// Whether the desktop app notifies when a batch of uploads finished.
    pub notify_finished: bool,
    /// The weekly timetable of limits over all uploads; outside its rules `rate_limit`
    /// holds.
    pub schedule: Timetable,
    /// Whether uploads pause while the connection is metered (a phone's hotspot, a mobile
    /// plan), as the system says.
    pub pause_on_metered: bool,
    /// Uploads pause while on battery below this percentage (1 to 100); `None`: never.
    pub pause_on_battery_below: Option<u8>,
    /// A folder's own settings, by its absolute path (as `ferry folder list` shows it).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub folders: BTreeMap<String, FolderSettings>,
}

/// A synced folder's own settings, on top of the settings of all folders.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct FolderSettings {
    /// The folder's own timetable of limits: its uploads keep to both this and the one of
    /// all folders.
    #[serde(skip_serializing_if = "Timetable::is_empty")]
    pub schedule: Timetable,
    /// Whether this folder pauses on metered connections; `None`: as all folders do.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pause_on_metered: Option<bool>,
}

impl FolderSettings {
    /// Whether nothing differs from all folders' settings.
    pub fn is_empty(&self) -> bool {
        self.schedule.is_empty() && self.pause_on_metered.is_none()
    }
}

impl Settings {
    /// The folder sync options these settings ask for (the rest at their defaults).
    pub fn sync_options(&self) -> crate::sync::SyncOptions {
        crate::sync::SyncOptions {
            concurrency: self.concurrency,
            rate_limit: self.rate_limit.filter(|&r| r > 0),
            quiet_period: std::time::Duration::from_millis(self.quiet_period_ms),
            schedule: self.schedule.clone(),
            pause_on_metered: self.pause_on_metered,
            pause_on_battery_below: self.pause_on_battery_below,
            folders: self
                .folders
                .iter()
                .filter(|(_, f)| !f.is_empty())
                .map(|(path, f)| (PathBuf::from(path), f.clone()))
                .collect(),
            ..crate::sync::SyncOptions::default()
        }
    }
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            concurrency: 4,
            rate_limit: None,
            quiet_period_ms: 2000,
            autostart: false,
            notify_failures: true,
            notify_finished: false,
            schedule: Timetable::default(),
            pause_on_metered: false,
            pause_on_battery_below: None,
            folders: BTreeMap::new(),
        }
    }
}

/// Why settings could not be used, read or saved.
#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    /// A value is out of range; `field` is its camelCase name.
    #[error("{message}")]
    Invalid {
        /// The field (camelCase, as the window names it).
        field: &'static str,
        /// What is wrong and what is allowed, for people.
        message: String,
    },
    /// The settings file is not valid JSON of settings.
    #[error("the settings file {} is damaged ({source}); fix or delete it to start from the defaults", path.display())]
    Damaged {
        /// The file.
        path: PathBuf,
        /// What the parser said.
        source: serde_json::Error,
    },
    /// The settings file could not be read or written.
    #[error("cannot {action} the settings file {}: {source}", path.display())]
    Io {
        /// read or write.
        action: &'static str,
        /// The file.
        path: PathBuf,
        /// What the system said.
        source: std::io::Error,
    },
}

impl Settings {
    /// Checks every value; the first one out of range is the error.
    pub fn validate(&self) -> Result<(), SettingsError> {
        if !CONCURRENCY_RANGE.contains(&self.concurrency) {
            return Err(SettingsError::Invalid {
                field: "concurrency",
                message: format!(
                    "uploads at once must be between {} and {}, not {}",
                    CONCURRENCY_RANGE.start(),
                    CONCURRENCY_RANGE.end(),
                    self.concurrency
                ),
            });
        }
        if self.rate_limit == Some(0) {
            return Err(SettingsError::Invalid {
                field: "rateLimit",
                message:
                    "the rate limit must be at least 1 byte per second; leave it empty for no limit"
                        .into(),
            });
        }
        if let Some(percent) = self.pause_on_battery_below
            && !(1..=100).contains(&percent)
        {
            return Err(SettingsError::Invalid {
                field: "pauseOnBatteryBelow",
                message: format!(
                    "the battery level to pause below must be between 1 and 100 %, not {percent}; \
                     leave it empty never to pause on battery"
                ),
            });
        }
        self.schedule
            .check()
            .map_err(|message| SettingsError::Invalid {
                field: "schedule",
                message: format!("the bandwidth schedule cannot be used: {message}"),
            })?;
        for (path, own) in &self.folders {
            own.schedule
                .check()
                .map_err(|message| SettingsError::Invalid {
                    field: "folders",
                    message: format!("the bandwidth schedule of {path} cannot be used: {message}"),
                })?;
        }
        if let Some(path) = self.folders.keys().find(|p| !Path::new(p).is_absolute()) {
            return Err(SettingsError::Invalid {
                field: "folders",
                message: format!(
                    "a folder's settings must name it by its absolute path, not {path:?}"
                ),
            });
        }
        if self.quiet_period_ms > MAX_QUIET_PERIOD_MS {
            return Err(SettingsError::Invalid {
                field: "quietPeriodMs",
                message: format!(
                    "the quiet period must be at most an hour ({MAX_QUIET_PERIOD_MS} ms), not {} ms",
                    self.quiet_period_ms
                ),
            });
        }
        Ok(())
    }

    /// The settings file of `home`.
    pub fn path(home: &Home) -> PathBuf {
        home.dir().join(SETTINGS_FILE)
    }

    /// When `home`'s settings file last changed, and its size (`None`: there is none): a
    /// program that runs for long looks at it every second or so and reads the settings
    /// again when it differs (`ferry config set` while `ferry sync` or the app runs).
    pub async fn stamp(home: &Home) -> Option<(std::time::SystemTime, u64)> {
        let meta = tokio::fs::metadata(Self::path(home)).await.ok()?;
        Some((meta.modified().ok()?, meta.len()))
    }

    /// Reads `home`'s settings: the defaults when there is no file yet.
    pub fn load(home: &Home) -> Result<Self, SettingsError> {
        Self::load_from(&Self::path(home))
    }

    /// Checks and saves these settings in `home`, atomically.
    pub fn save(&self, home: &Home) -> Result<(), SettingsError> {
        self.save_to(&Self::path(home))
    }

    #[expect(
        clippy::disallowed_methods,
        reason = "blocking by design: async callers go through spawn_blocking"
    )]
    fn load_from(path: &Path) -> Result<Self, SettingsError> {
        let text = match std::fs::read(path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Self::default()),
            Err(source) => {
                return Err(SettingsError::Io {
                    action: "read",
                    path: path.to_path_buf(),
                    source,
                });
            }
        };
        let settings: Self =
            serde_json::from_slice(&text).map_err(|source| SettingsError::Damaged {
                path: path.to_path_buf(),
                source,
            })?;
        settings.validate()?;
        Ok(settings)
    }

    #[expect(
        clippy::disallowed_methods,
        reason = "blocking by design: async callers go through spawn_blocking"
    )]
    fn save_to(&self, path: &Path) -> Result<(), SettingsError> {
        self.validate()?;
        let io = |source| SettingsError::Io {
            action: "write",
            path: path.to_path_buf(),
            source,
        };
        let mut text = serde_json::to_vec_pretty(self).map_err(|e| io(std::io::Error::other(e)))?;
        text.push(b'\n');
        let temp = path.with_extension("json.tmp");
        let mut file = std::fs::File::create(&temp).map_err(io)?;
        file.write_all(&text).map_err(io)?;
        file.sync_all().map_err(io)?;
        drop(file);
        std::fs::rename(&temp, path).map_err(io)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn home() -> (tempfile::TempDir, Home) {
        let dir = tempfile::tempdir().unwrap();
        let home = Home::locate(Some(dir.path())).unwrap();
        (dir, home)
    }

    #[test]
    fn a_home_without_a_settings_file_has_the_defaults() {
        let (_dir, home) = home();
        let settings = Settings::load(&home).unwrap();
        assert_eq!(settings, Settings::default());
        assert_eq!(
            (
                settings.concurrency,
                settings.quiet_period_ms,
                settings.notify_failures
            ),
            (4, 2000, true)
        );
        assert!(!settings.autostart && !settings.notify_finished && settings.rate_limit.is_none());
    }

    #[test]
    fn saved_settings_come_back_and_leave_no_temp_file() {
        let (dir, home) = home();
        let settings = Settings {
            concurrency: 16,
            rate_limit: Some(1_000_000),
            quiet_period_ms: 0,
            autostart: true,
            notify_failures: false,
            notify_finished: true,
            schedule: "mon-fri 09:00-18:00 1M; sun 00:00-24:00 off"
                .parse()
                .unwrap(),
            pause_on_metered: true,
            pause_on_battery_below: Some(20),
            folders: BTreeMap::from([(
                "/home/me/Videos".to_owned(),
                FolderSettings {
                    schedule: "daily 08:00-23:00 off".parse().unwrap(),
                    pause_on_metered: Some(false),
                },
            )]),
        };
        settings.save(&home).unwrap();
        assert_eq!(Settings::load(&home).unwrap(), settings);
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        assert_eq!(names, [SETTINGS_FILE], "no temp file left");
    }

    #[test]
    fn the_file_uses_camel_case_and_missing_or_unknown_fields_are_fine() {
        let text = serde_json::to_value(Settings::default()).unwrap();
        assert_eq!(
            text,
            serde_json::json!({
                "concurrency": 4, "rateLimit": null, "quietPeriodMs": 2000,
                "autostart": false, "notifyFailures": true, "notifyFinished": false,
                "schedule": [], "pauseOnMetered": false, "pauseOnBatteryBelow": null
            })
        );
        let (_dir, home) = home();
        std::fs::write(
            Settings::path(&home),
            r#"{"concurrency": 2, "fromTheFuture": [1, 2]}"#,
        )
        .unwrap();
        let settings = Settings::load(&home).unwrap();
        assert_eq!(settings.concurrency, 2);
        assert_eq!(
            settings.quiet_period_ms, 2000,
            "a missing field takes its default"
        );
    }

    #[test]
    fn out_of_range_values_are_refused_with_the_field_named() {
        let (_dir, home) = home();
        let cases = [
            (
                Settings {
                    concurrency: 0,
                    ..Settings::default()
                },
                "concurrency",
            ),
            (
                Settings {
                    concurrency: 17,
                    ..Settings::default()
                },
                "concurrency",
            ),
            (
                Settings {
                    rate_limit: Some(0),
                    ..Settings::default()
                },
                "rateLimit",
            ),
            (
                Settings {
                    quiet_period_ms: MAX_QUIET_PERIOD_MS + 1,
                    ..Settings::default()
                },
                "quietPeriodMs",
            ),
            (
                Settings {
                    pause_on_battery_below: Some(0),
                    ..Settings::default()
                },
                "pauseOnBatteryBelow",
            ),
            (
                Settings {
                    pause_on_battery_below: Some(101),
                    ..Settings::default()
                },
                "pauseOnBatteryBelow",
            ),
            (
                Settings {
                    folders: BTreeMap::from([("Videos".to_owned(), FolderSettings::default())]),
                    ..Settings::default()
                },
                "folders",
            ),
        ];
        for (settings, expected) in cases {
            match settings.save(&home) {
                Err(SettingsError::Invalid { field, message }) => {
                    assert_eq!(field, expected, "{message}");
                }
                other => panic!("{settings:?} should be refused for {expected}, got {other:?}"),
            }
        }
        assert!(
            !Settings::path(&home).exists(),
            "nothing invalid was written"
        );
    }

    #[test]
    fn an_overlapping_schedule_in_the_file_is_refused_saying_where() {
        let (_dir, home) = home();
        std::fs::write(
            Settings::path(&home),
            r#"{"schedule": [
                {"days": "mon", "from": "09:00", "to": "12:00", "limit": 1000},
                {"days": "mon", "from": "11:00", "to": "13:00", "limit": "off"}]}"#,
        )
        .unwrap();
        let err = Settings::load(&home).unwrap_err().to_string();
        assert!(err.contains("overlap on monday at 11:00"), "{err}");
    }

    #[test]
    fn a_damaged_file_is_an_error_that_names_it() {
        let (_dir, home) = home();
        std::fs::write(Settings::path(&home), "{ not json").unwrap();
        let err = Settings::load(&home).unwrap_err();
        assert!(matches!(err, SettingsError::Damaged { .. }), "{err:?}");
        assert!(err.to_string().contains(SETTINGS_FILE), "{err}");
    }
}
