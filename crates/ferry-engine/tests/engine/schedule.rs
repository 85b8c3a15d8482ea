//! The bandwidth schedule in a running engine, against a real ferry-server: a running
//! upload's rate follows a change of the schedule at once, without being restarted, and a
//! rule that is `off` pauses everything as a state that says so.

use std::sync::{Arc, Mutex};

use ferry_engine::Event;
use ferry_engine::auth::Credentials;
use ferry_engine::sync::Engine;
use ferry_engine::sync::holds::HoldReason;
use ferry_engine::sync::status::OverallState;
use ferry_engine::system::SystemSource;

use crate::support::{TestServer, random_file};
use crate::sync::{same, setup, until};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_running_uploads_rate_follows_a_change_of_the_schedule() {
    let server = TestServer::start().await;
    let (_work, home, dir, mut options) = setup(&server.base, None);
    options.system = SystemSource::Off;
    // 32 KB/s all week: 4 MiB would take two minutes.
    options.schedule = "daily 00:00-24:00 32k".parse().unwrap();
    options.transfer.chunk_size = Some(64 * 1024);
    let (file, _) = random_file(&dir, "big.bin", 4 << 20, 8);
    let events = Arc::new(Mutex::new(Vec::new()));
    let sink = {
        let events = Arc::clone(&events);
        Arc::new(move |e| events.lock().unwrap().push(e))
    };
    let engine = Engine::start(
        &home,
        options.clone(),
        Credentials::with_env_token(Some(&server.ann)),
        sink,
    )
    .await
    .unwrap();
    assert!(
        until(&engine, 20, || engine
            .activity()
            .queue
            .iter()
            .any(|q| q.confirmed > 0))
        .await,
        "under way: {:?}",
        engine.activity()
    );
    let overview = engine.overview();
    assert_eq!(
        overview.scheduled.map(|s| (s.rate, s.message)),
        Some((32_000, "limited to 32 kB/s by the schedule".to_owned())),
        "the schedule's rate is shown, with no end in a week where it never changes"
    );
    assert!(
        !server.file("ann", "pre/big.bin").exists(),
        "at 32 kB/s the file is far from done"
    );

    // The schedule now allows everything: the same upload goes on at full speed.
    options.schedule = "daily 00:00-24:00 unlimited".parse().unwrap();
    engine.set_options(options);
    assert!(
        until(&engine, 20, || same(
            &file,
            &server.file("ann", "pre/big.bin")
        ))
        .await,
        "the upload sped up and finished: {:?}",
        engine.activity()
    );
    let started = events
        .lock()
        .unwrap()
        .iter()
        .filter(|e| matches!(e, Event::Started { .. }))
        .count();
    assert_eq!(started, 1, "the upload was not restarted for the change");
    assert!(engine.overview().scheduled.is_none());
    engine.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rule_that_is_off_pauses_everything_as_a_state() {
    let server = TestServer::start().await;
    let (_work, home, dir, mut options) = setup(&server.base, None);
    options.system = SystemSource::Off;
    options.schedule = "daily 00:00-24:00 off".parse().unwrap();
    let (file, _) = random_file(&dir, "a.bin", 100_000, 3);
    let events = Arc::new(Mutex::new(Vec::new()));
    let sink = {
        let events = Arc::clone(&events);
        Arc::new(move |e| events.lock().unwrap().push(e))
    };
    let engine = Engine::start(
        &home,
        options.clone(),
        Credentials::with_env_token(Some(&server.ann)),
        sink,
    )
    .await
    .unwrap();
    assert!(
        until(&engine, 10, || engine
            .overview()
            .hold
            .is_some_and(|h| h.reason == HoldReason::Schedule))
        .await,
        "{:?}",
        engine.overview()
    );
    let overview = engine.overview();
    assert_eq!(overview.state, OverallState::Paused);
    assert!(
        overview.message.starts_with("Paused by the schedule"),
        "{overview:?}"
    );
    assert!(
        events
            .lock()
            .unwrap()
            .iter()
            .all(|e| !matches!(e, Event::Failed { .. } | Event::Retrying { .. })),
        "a hold is no failure"
    );
    options.schedule = ferry_engine::schedule::Timetable::default();
    engine.set_options(options);
    assert!(
        until(&engine, 20, || same(
            &file,
            &server.file("ann", "pre/a.bin")
        ))
        .await,
        "without the rule it went up: {:?}",
        engine.overview()
    );
    engine.shutdown().await;
}
