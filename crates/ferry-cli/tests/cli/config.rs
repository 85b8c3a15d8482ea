//! `ferry config` as a user runs it: every setting read and written in the forms people
//! type, refused with a clear error (and nothing written) when wrong, a folder's own
//! settings, and a running `ferry sync` taking a change within seconds: a folder paused by
//! its schedule, said so by `ferry status`, goes up once the rule is gone.

use std::time::Duration;

use ferry_tests::server::TestServer;

use crate::support::{assert_success, ferry, run_bounded, stdout, wait_until};
use crate::sync::{Synced, stop};

#[test]
fn settings_are_set_read_listed_and_refused_with_what_is_allowed() {
    let work = tempfile::tempdir().unwrap();
    let home = work.path();
    let list = ferry(home, &["config", "list"]);
    assert_success("ferry config list", &list);
    assert!(
        stdout(&list).contains("rateLimit = unlimited\n"),
        "{}",
        stdout(&list)
    );
    assert!(stdout(&list).contains("schedule = none\n"));
    for (key, value, shown) in [
        (
            "schedule",
            "weekdays 09:00-18:00 1M; sat,sun 00:00-24:00 off",
            "mon-fri 09:00-18:00 1MB/s; sat,sun 00:00-24:00 off",
        ),
        ("rateLimit", "2MB/s", "2000000"),
        ("pauseOnMetered", "on", "true"),
        ("pauseOnBatteryBelow", "25", "25"),
        ("concurrency", "8", "8"),
    ] {
        assert_success(key, &ferry(home, &["config", "set", key, value]));
        let got = ferry(home, &["config", "get", key]);
        assert_eq!(stdout(&got).trim(), shown, "{key}");
    }
    let file: serde_json::Value =
        serde_json::from_slice(&std::fs::read(home.join("settings.json")).unwrap()).unwrap();
    assert_eq!(file["pauseOnMetered"], true);
    assert_eq!(file["schedule"][1]["limit"], "off");
    let json = ferry(home, &["--json", "config", "get", "schedule"]);
    let rules: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(rules[0]["days"], "mon-fri");

    let before = std::fs::read(home.join("settings.json")).unwrap();
    for (args, expected) in [
        (
            vec!["config", "set", "speed", "1"],
            "there is no setting \"speed\"",
        ),
        (
            vec!["config", "set", "concurrency", "0"],
            "between 1 and 16",
        ),
        (
            vec![
                "config",
                "set",
                "schedule",
                "mon 09:00-12:00 1M; mon 11:00-13:00 off",
            ],
            "overlap on monday at 11:00",
        ),
        (
            vec!["config", "set", "schedule", "mon 9-5 1M"],
            "not a time of day",
        ),
        (
            vec!["config", "set", "pauseOnMetered", "perhaps"],
            "on or off",
        ),
        (
            vec!["config", "get", "--folder", "/not/synced", "schedule"],
            "is not a synced folder",
        ),
    ] {
        let out = ferry(home, &args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {err}");
        assert!(err.contains(expected), "{args:?}: {err}");
    }
    assert_eq!(
        std::fs::read(home.join("settings.json")).unwrap(),
        before,
        "nothing refused was written"
    );
    assert_success("unset", &ferry(home, &["config", "unset", "schedule"]));
    assert_eq!(
        stdout(&ferry(home, &["config", "get", "schedule"])).trim(),
        "none"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_running_sync_takes_a_folders_schedule_and_its_removal() {
    let server = TestServer::start().await;
    let synced = Synced::new(&server, None);
    let dir = synced.dir.to_str().unwrap().to_owned();
    let set = run_bounded(
        "ferry config set --folder",
        synced.command(&[
            "config",
            "set",
            "--folder",
            &dir,
            "schedule",
            "daily 00:00-24:00 off",
        ]),
        Duration::from_secs(30),
    );
    assert_success("ferry config set --folder", &set);
    synced.write("report.txt", b"the quarterly numbers");
    let mut sync = synced.start(100, &[]);
    let said = wait_until(Duration::from_secs(30), || {
        let status = synced.status();
        status["folders"][0]["hold"]["reason"] == "schedule"
            && status["folders"][0]["hold"]["message"]
                .as_str()
                .is_some_and(|m| m.starts_with("paused by the schedule"))
    });
    assert!(
        said,
        "ferry status says the folder waits: {}",
        synced.status()
    );
    let text = run_bounded(
        "ferry status",
        synced.command(&["status"]),
        Duration::from_secs(30),
    );
    assert!(
        stdout(&text).contains("  paused by the schedule"),
        "{}",
        stdout(&text)
    );
    assert!(
        !server.file("ann", "report.txt").exists(),
        "nothing goes up meanwhile"
    );

    let unset = run_bounded(
        "ferry config unset --folder",
        synced.command(&["config", "unset", "--folder", &dir, "schedule"]),
        Duration::from_secs(30),
    );
    assert_success("ferry config unset --folder", &unset);
    let uploaded = wait_until(Duration::from_secs(30), || {
        std::fs::read(server.file("ann", "report.txt")).is_ok_and(|b| b == b"the quarterly numbers")
    });
    assert!(
        uploaded,
        "the running sync took the change: {}",
        sync.dump()
    );
    stop(sync);
}
