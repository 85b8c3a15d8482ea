//! Which folders wait and why, for each condition and setting.

use super::*;

fn utc(text: &str) -> Timestamp {
    text.parse().unwrap()
}

/// Monday 2026-11-30, 10:00 UTC.
const MONDAY_10: &str = "2026-11-30T10:00:00Z";

struct Case {
    schedule: &'static str,
    pause_on_metered: bool,
    battery_below: Option<u8>,
    videos: FolderSettings,
}

impl Case {
    fn decide(&self, conditions: &Conditions, now: &str, once: bool) -> Holds {
        let schedule: Timetable = self.schedule.parse().unwrap();
        let folders = BTreeMap::from([(PathBuf::from("/videos"), self.videos.clone())]);
        let policy = Policy {
            rate_limit: Some(5_000_000),
            schedule: &schedule,
            pause_on_metered: self.pause_on_metered,
            pause_on_battery_below: self.battery_below,
            folders: &folders,
        };
        let roots = [Path::new("/photos"), Path::new("/videos")];
        decide(&policy, conditions, utc(now), &TimeZone::UTC, &roots, once)
    }
}

fn plain() -> Case {
    Case {
        schedule: "",
        pause_on_metered: false,
        battery_below: None,
        videos: FolderSettings::default(),
    }
}

fn reasons(holds: &Holds) -> (Option<HoldReason>, Vec<(String, HoldReason)>) {
    (
        holds.all.as_ref().map(|h| h.reason),
        holds
            .folders
            .iter()
            .map(|(p, h)| (p.display().to_string(), h.reason))
            .collect(),
    )
}

#[test]
fn nothing_is_held_by_default_and_the_rate_limit_holds() {
    let metered = Conditions {
        metered: Some(true),
        on_battery: Some(true),
        battery_percent: Some(3.0),
        ..Conditions::default()
    };
    let holds = plain().decide(&metered, MONDAY_10, false);
    assert_eq!(reasons(&holds), (None, vec![]));
    assert_eq!(holds.rate, Some(5_000_000));
}

#[test]
fn a_metered_connection_pauses_the_folders_that_say_so() {
    let metered = Conditions {
        metered: Some(true),
        ..Conditions::default()
    };
    let all = Case {
        pause_on_metered: true,
        ..plain()
    };
    let holds = all.decide(&metered, MONDAY_10, false);
    assert_eq!(reasons(&holds), (Some(HoldReason::Metered), vec![]));
    assert_eq!(holds.all.unwrap().message, "paused: metered connection");
    // One folder keeps going on metered connections: the other waits alone.
    let photos_wait = Case {
        pause_on_metered: true,
        videos: FolderSettings {
            pause_on_metered: Some(false),
            ..FolderSettings::default()
        },
        ..plain()
    };
    assert_eq!(
        reasons(&photos_wait.decide(&metered, MONDAY_10, false)),
        (None, vec![("/photos".to_owned(), HoldReason::Metered)])
    );
    // Only one folder pauses on metered connections.
    let videos_wait = Case {
        videos: FolderSettings {
            pause_on_metered: Some(true),
            ..FolderSettings::default()
        },
        ..plain()
    };
    assert_eq!(
        reasons(&videos_wait.decide(&metered, MONDAY_10, false)),
        (None, vec![("/videos".to_owned(), HoldReason::Metered)])
    );
    // Not metered, or not known: nothing waits.
    for metered in [Some(false), None] {
        let c = Conditions {
            metered,
            ..Conditions::default()
        };
        assert_eq!(reasons(&all.decide(&c, MONDAY_10, false)), (None, vec![]));
    }
    // A one-shot run is never held.
    assert_eq!(
        reasons(&all.decide(&metered, MONDAY_10, true)),
        (None, vec![])
    );
}

#[test]
fn sleep_and_a_low_battery_pause_everything() {
    let case = Case {
        battery_below: Some(20),
        ..plain()
    };
    let low = |percent, on_battery| Conditions {
        on_battery: Some(on_battery),
        battery_percent: Some(percent),
        ..Conditions::default()
    };
    let holds = case.decide(&low(15.4, true), MONDAY_10, false);
    assert_eq!(
        holds.all.unwrap().message,
        "paused: on battery at 15% (below 20%)"
    );
    assert!(
        case.decide(&low(15.0, false), MONDAY_10, false)
            .all
            .is_none(),
        "charging"
    );
    assert!(
        case.decide(&low(20.0, true), MONDAY_10, false)
            .all
            .is_none(),
        "at the level"
    );
    let sleeping = Conditions {
        sleeping: true,
        ..low(15.0, true)
    };
    assert_eq!(
        case.decide(&sleeping, MONDAY_10, false).all.unwrap().reason,
        HoldReason::Sleep,
        "sleep comes first"
    );
}

#[test]
fn the_schedule_sets_the_rate_or_pauses_until_its_rule_ends() {
    let case = Case {
        schedule: "mon-fri 09:00-18:00 1M; sat,sun 00:00-24:00 off",
        videos: FolderSettings {
            schedule: "mon 08:00-12:00 off; tue 08:00-12:00 200k".parse().unwrap(),
            pause_on_metered: None,
        },
        ..plain()
    };
    let none = Conditions::default();
    let monday = case.decide(&none, MONDAY_10, false);
    assert_eq!(monday.rate, Some(1_000_000));
    assert_eq!(
        monday.scheduled.as_ref().unwrap().message,
        "limited to 1 MB/s by the schedule until 18:00"
    );
    assert_eq!(
        reasons(&monday),
        (None, vec![("/videos".to_owned(), HoldReason::Schedule)])
    );
    assert_eq!(
        monday.folders[Path::new("/videos")].message,
        "paused by the schedule until 12:00"
    );
    assert_eq!(
        monday.folders[Path::new("/videos")].until_ms,
        Some(utc("2026-11-30T12:00:00Z").as_millisecond())
    );
    let tuesday = case.decide(&none, "2026-12-01T10:00:00Z", false);
    assert_eq!(
        tuesday.folder_rates.get(Path::new("/videos")),
        Some(&200_000)
    );
    assert!(tuesday.folders.is_empty());
    // Monday evening: outside the rules the settings' rate limit holds.
    let evening = case.decide(&none, "2026-11-30T19:00:00Z", false);
    assert_eq!((evening.rate, evening.scheduled), (Some(5_000_000), None));
    let saturday = case.decide(&none, "2026-12-05T10:00:00Z", false);
    assert_eq!(
        saturday.all.unwrap().message,
        "paused by the schedule until Mon 00:00"
    );
    // A one-shot run keeps the rates but is not paused.
    let once = case.decide(&none, "2026-12-05T10:00:00Z", true);
    assert_eq!((once.all, once.rate), (None, Some(5_000_000)));
}
