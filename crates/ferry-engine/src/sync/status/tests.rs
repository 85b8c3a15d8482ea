//! The live queue and the overview, as people see them.

use super::*;

const SERVER: &str = "http://127.0.0.1:9/";

fn folder(path: &str, watcher: WatcherState) -> crate::sync::FolderSync {
    crate::sync::FolderSync {
        path: path.to_owned(),
        watcher,
        warning: None,
        hold: None,
    }
}

/// A folder watched as usual.
fn watched(path: &str) -> crate::sync::FolderSync {
    folder(path, WatcherState::Watching)
}

fn progress(path: &str, confirmed: u64) -> Event {
    Event::Progress {
        path: path.into(),
        confirmed,
        size: 1000,
    }
}

fn started(path: &str, resumed_from: u64) -> Event {
    Event::Started {
        path: path.into(),
        protocol: crate::target::Protocol::Tus,
        size: 1000,
        resumed_from,
    }
}

fn retrying(path: &str, unreachable: bool, delay_ms: u64) -> Event {
    Event::Retrying {
        path: path.into(),
        attempt: 1,
        delay_ms,
        error: "tcp connect error: Connection refused (os error 111)".into(),
        unreachable,
        server_full: false,
    }
}

fn tracker_with(paths: &[&str]) -> Tracker {
    let mut tracker = Tracker::default();
    for path in paths {
        tracker.queued(path, Some("/f"), Some(SERVER), 1000);
    }
    tracker
}

fn now_ms() -> i64 {
    ms_from_now(Duration::ZERO)
}

#[test]
fn the_queue_shows_uploads_first_with_speed_from_bytes_sent_now_and_places_in_line() {
    let mut tracker = tracker_with(&["/f/a", "/f/b", "/f/c"]);
    let t0 = Instant::now();
    let secs = |s: f64| t0 + Duration::from_secs_f64(s);
    tracker.on_event(&started("/f/b", 100), t0);
    // The server held 400 bytes from an earlier run: found at once, not sent at 800 B/s.
    tracker.on_event(&progress("/f/b", 400), secs(0.5));
    tracker.on_event(&progress("/f/b", 600), secs(1.5));
    tracker.on_event(&progress("/f/b", 800), secs(2.5));
    let activity = tracker.activity(false, Vec::new(), &[watched("/f")]);
    let rows: Vec<(&str, QueueState, Option<usize>)> = activity
        .queue
        .iter()
        .map(|q| (q.path.as_str(), q.state, q.position))
        .collect();
    assert_eq!(
        rows,
        [
            ("/f/b", QueueState::Uploading, None),
            ("/f/a", QueueState::Queued, Some(1)),
            ("/f/c", QueueState::Queued, Some(2)),
        ],
        "the upload under way first, then the queue in its order"
    );
    let b = &activity.queue[0];
    assert_eq!((b.confirmed, b.speed), (800, 200), "400 bytes in 2 s");
    assert_eq!(b.eta_secs, Some(1), "200 bytes left at 200 B/s");
    assert_eq!(activity.queue[1].eta_secs, None);
    assert_eq!(
        (activity.total_bytes, activity.confirmed_bytes),
        (3000, 800)
    );
}

#[test]
fn the_overview_says_how_many_of_the_files_are_being_sent() {
    let one = [watched("/f")];
    let mut tracker = Tracker::default();
    assert_eq!(
        tracker.overview(false, 0, &[]).state,
        OverallState::NoFolders
    );
    assert_eq!(
        tracker.overview(false, 0, &one).state,
        OverallState::UpToDate
    );
    assert_eq!(tracker.overview(false, 2, &one).message, "2 files failed");
    tracker = tracker_with(&["/f/a"]);
    let overview = tracker.overview(false, 2, &one);
    assert_eq!(
        (overview.state, overview.message.as_str()),
        (OverallState::Uploading, "1 file waiting"),
        "a file waiting for its turn is not said to be uploading"
    );
    tracker = tracker_with(&["/f/a", "/f/b", "/f/c"]);
    tracker.on_event(&progress("/f/a", 0), Instant::now());
    assert_eq!(
        tracker.overview(false, 0, &one).message,
        "Uploading 1 of 3 files"
    );
    tracker.on_event(&retrying("/f/a", false, 1000), Instant::now());
    tracker.on_event(&retrying("/f/b", false, 1000), Instant::now());
    assert_eq!(
        tracker.overview(false, 0, &one).message,
        "Retrying 2 files, 1 waiting"
    );
    tracker.remove("/f/c");
    assert_eq!(tracker.overview(false, 0, &one).message, "Retrying 2 files");
    tracker.signed_out = true;
    assert_eq!(
        tracker.overview(true, 0, &one).state,
        OverallState::SignedOut
    );
    tracker.signed_out = false;
    tracker.remove("/f/a");
    tracker.remove("/f/b");
    assert_eq!(
        tracker.overview(false, 0, &one).state,
        OverallState::UpToDate
    );
    let gone = [watched("/f"), folder("/usb/photos", WatcherState::Missing)];
    let overview = tracker.overview(false, 0, &gone);
    assert_eq!(
        (overview.state, overview.message.as_str()),
        (
            OverallState::Problem,
            "/usb/photos is missing (moved, or on a drive that is not plugged in)"
        ),
        "a missing folder is not \"Everything is uploaded\""
    );
}

#[test]
fn paused_files_say_paused_with_no_speed_or_eta_everywhere() {
    let mut tracker = tracker_with(&["/f/a", "/f/b"]);
    tracker.queued("/g/c", Some("/g"), Some(SERVER), 1000);
    let t0 = Instant::now();
    tracker.on_event(&started("/f/a", 0), t0);
    tracker.on_event(&progress("/f/a", 100), t0);
    tracker.on_event(&progress("/f/a", 600), t0 + Duration::from_secs(1));
    let both = [watched("/f"), watched("/g")];

    // Pause all: every row paused, none with a speed, the overview says so.
    let activity = tracker.activity(true, Vec::new(), &both);
    assert!(
        activity
            .queue
            .iter()
            .all(|q| q.state == QueueState::Paused && q.speed == 0 && q.eta_secs.is_none()),
        "{:?}",
        activity.queue
    );
    let overview = tracker.overview(true, 0, &both);
    assert_eq!(
        (
            overview.state,
            overview.message.as_str(),
            overview.uploading
        ),
        (OverallState::Paused, "Paused: 3 files waiting", 0)
    );

    // One folder paused: its files paused, the others go on.
    let g_paused = [watched("/f"), folder("/g", WatcherState::Paused)];
    let activity = tracker.activity(false, Vec::new(), &g_paused);
    let c = activity.queue.iter().find(|q| q.path == "/g/c").unwrap();
    assert_eq!((c.state, c.position), (QueueState::Paused, None));
    assert_eq!(activity.queue[0].state, QueueState::Uploading);
    assert_eq!(
        tracker.overview(false, 0, &g_paused).message,
        "Uploading 1 of 2 files, 1 paused"
    );
    let only_g = [folder("/g", WatcherState::Paused)];
    let mut tracker = Tracker::default();
    tracker.queued("/g/c", Some("/g"), Some(SERVER), 1000);
    assert_eq!(
        tracker.overview(false, 0, &only_g).message,
        "Paused: 1 file waiting in paused folders"
    );
}

#[test]
fn an_unreachable_server_is_one_state_with_the_next_retry_until_it_answers() {
    let one = [watched("/f")];
    let mut tracker = tracker_with(&["/f/a", "/f/b", "/f/c"]);
    let t0 = Instant::now();
    tracker.on_event(&started("/f/a", 0), t0);
    tracker.on_event(&progress("/f/a", 100), t0);
    tracker.on_event(&started("/f/b", 0), t0);
    let before = now_ms();
    tracker.on_event(&retrying("/f/a", true, 8000), t0);
    tracker.on_event(&retrying("/f/b", true, 3000), t0);
    let overview = tracker.overview(false, 0, &one);
    assert_eq!(overview.state, OverallState::Offline);
    assert_eq!(
        overview.message, "Can't reach 127.0.0.1:9: 3 files waiting, tried again by themselves",
        "not \"Uploading\""
    );
    let connection = overview.connection.expect("the trouble is said once");
    assert_eq!(
        (
            connection.state,
            connection.files,
            connection.server.as_str()
        ),
        (ConnectionState::Unreachable, 2, SERVER)
    );
    let at = connection.retry_at_ms.unwrap();
    assert!(
        (before + 3000..=now_ms() + 3000).contains(&at),
        "the soonest retry: {at} from {before}"
    );
    assert!(connection.detail.unwrap().contains("Connection refused"));
    let activity = tracker.activity(false, Vec::new(), &one);
    let a = activity.queue.iter().find(|q| q.path == "/f/a").unwrap();
    assert!(a.waiting_for_server && a.retry_at_ms.is_some() && a.speed == 0);

    // The server answers one file: the others no longer wait for it either.
    tracker.on_event(&progress("/f/b", 200), t0 + Duration::from_secs(4));
    let overview = tracker.overview(false, 0, &one);
    assert_eq!(overview.connection, None);
    assert_eq!(overview.message, "Uploading 1 of 3 files");
    let activity = tracker.activity(false, Vec::new(), &one);
    assert!(activity.queue.iter().all(|q| !q.waiting_for_server));

    // Another error's retry is not connection trouble.
    tracker.on_event(&retrying("/f/b", false, 1000), t0);
    assert_eq!(tracker.overview(false, 0, &one).connection, None);
}

#[test]
fn the_views_serialize_as_the_desktop_contract_says() {
    let mut tracker = tracker_with(&["/f/a"]);
    tracker.on_event(&retrying("/f/a", true, 0), Instant::now());
    let json = serde_json::to_value(tracker.activity(false, Vec::new(), &[])).unwrap();
    let row = &json["queue"][0];
    assert_eq!(
        (&row["state"], &row["waitingForServer"], &row["position"]),
        (
            &serde_json::json!("retrying"),
            &serde_json::json!(true),
            &serde_json::Value::Null
        )
    );
    assert!(row["retryAtMs"].is_i64() && row["etaSecs"].is_null());
    assert_eq!(json["totalBytes"], 1000);
    let overview = serde_json::to_value(tracker.overview(false, 0, &[watched("/f")])).unwrap();
    assert_eq!(overview["state"], "offline");
    assert_eq!(overview["connection"]["state"], "unreachable");
    assert!(overview["connection"]["retryAtMs"].is_i64());
    let paused = serde_json::to_value(tracker.activity(true, Vec::new(), &[])).unwrap();
    assert_eq!(paused["queue"][0]["state"], "paused");
}

#[test]
fn a_finished_file_leaves_the_queue_as_its_event_is_seen() {
    let mut tracker = tracker_with(&["/f/a"]);
    tracker.on_event(
        &Event::Finished {
            path: "/f/a".into(),
            location: None,
            size: 5,
            bytes_sent: 5,
        },
        Instant::now(),
    );
    assert_eq!(
        tracker.overview(false, 0, &[watched("/f")]).state,
        OverallState::UpToDate
    );
}

fn sent(path: &str, sent: u64) -> Event {
    Event::Sent {
        path: path.into(),
        sent,
        size: 1000,
    }
}

#[test]
fn bars_move_with_bytes_sent_between_confirmations_and_fall_back_when_they_are_lost() {
    let mut tracker = tracker_with(&["/f/a"]);
    let t0 = Instant::now();
    let secs = |s: f64| t0 + Duration::from_secs_f64(s);
    let row = |tracker: &Tracker| {
        let q = &tracker.activity(false, Vec::new(), &[watched("/f")]).queue[0];
        (q.confirmed, q.sent, q.speed, q.eta_secs)
    };
    tracker.on_event(&started("/f/a", 0), t0);
    tracker.on_event(&sent("/f/a", 0), t0);
    tracker.on_event(&sent("/f/a", 100), secs(0.5));
    tracker.on_event(&sent("/f/a", 200), secs(1.0));
    // Nothing confirmed yet, yet the bar and the speed move: 200 bytes in a second.
    assert_eq!(row(&tracker), (0, 200, 200, Some(4)));
    // The confirmation of what was sent does not take the bar back.
    tracker.on_event(&progress("/f/a", 150), secs(1.1));
    assert_eq!(row(&tracker).1, 200);
    // The request was lost: the bar falls back to what the server holds; no speed yet.
    tracker.on_event(&retrying("/f/a", true, 1000), secs(1.2));
    let (confirmed, at, speed, _) = row(&tracker);
    assert_eq!((confirmed, at, speed), (150, 150, 0));
    // Sent again from there, measured afresh (the fall back is not negative speed).
    tracker.on_event(&sent("/f/a", 150), secs(2.0));
    tracker.on_event(&sent("/f/a", 450), secs(3.0));
    assert_eq!(row(&tracker), (150, 450, 300, Some(2)));
    // Never shown below what the server confirmed.
    tracker.on_event(&progress("/f/a", 600), secs(3.1));
    tracker.on_event(&sent("/f/a", 500), secs(3.2));
    assert_eq!(row(&tracker).1, 600);
}

#[test]
fn queued_files_are_numbered_in_the_order_they_will_go_smallest_first() {
    let mut tracker = Tracker::default();
    tracker.queued("/f/video", Some("/f"), Some(SERVER), 80_000_000);
    tracker.queued("/f/photo", Some("/f"), Some(SERVER), 3_000_000);
    tracker.queued("/f/note", Some("/f"), Some(SERVER), 2_000);
    let activity = tracker.activity(false, Vec::new(), &[watched("/f")]);
    let rows: Vec<(&str, Option<usize>)> = activity
        .queue
        .iter()
        .map(|q| (q.path.as_str(), q.position))
        .collect();
    assert_eq!(
        rows,
        [
            ("/f/note", Some(1)),
            ("/f/photo", Some(2)),
            ("/f/video", Some(3))
        ]
    );
}

#[test]
fn a_server_out_of_space_is_one_state_until_it_takes_bytes_again() {
    let one = [watched("/f")];
    let mut tracker = tracker_with(&["/f/a", "/f/b"]);
    let t0 = Instant::now();
    tracker.on_event(&started("/f/a", 0), t0);
    let full = Event::Retrying {
        path: "/f/a".into(),
        attempt: 1,
        delay_ms: 300_000,
        error: "the server is out of space".into(),
        unreachable: false,
        server_full: true,
    };
    tracker.on_event(&full, t0);
    let overview = tracker.overview(false, 0, &one);
    assert_eq!(overview.state, OverallState::Problem);
    assert_eq!(
        overview.message,
        "127.0.0.1:9 is out of space: 2 files waiting, tried again every few minutes"
    );
    assert_eq!(
        overview.connection.map(|c| c.state),
        Some(ConnectionState::OutOfSpace)
    );
    let activity = tracker.activity(false, Vec::new(), &one);
    let a = activity.queue.iter().find(|q| q.path == "/f/a").unwrap();
    assert!(a.waiting_for_space && !a.waiting_for_server);
    // Not reachable at all is said rather than full.
    tracker.on_event(&retrying("/f/b", true, 1000), t0);
    let connection = tracker.overview(false, 0, &one).connection.unwrap();
    assert_eq!(connection.state, ConnectionState::Unreachable);
    // Bytes taken again: the trouble is over.
    tracker.on_event(&progress("/f/a", 10), t0 + Duration::from_secs(1));
    assert_eq!(tracker.overview(false, 0, &one).connection, None);
}
