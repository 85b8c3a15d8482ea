//! A synced folder that goes away (moved or renamed, a drive unplugged) while the engine
//! watches it: shown as missing, its files never taken for deleted, and synced again when
//! it is back, without uploading what the server already holds.

use std::time::Duration;

use ferry_engine::auth::Credentials;
use ferry_engine::sync::Engine;
use ferry_engine::sync::status::{OverallState, WatcherState};
use ferry_store::{FileState, HistoryQuery, Outcome};

use crate::support::{TestServer, random_file};
use crate::sync::{same, setup, until};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_folder_moved_away_is_missing_keeps_its_files_and_syncs_again_when_back() {
    let server = TestServer::start().await;
    let (work, home, dir, mut options) = setup(&server.base, None);
    // Looked for again quickly once missing (the OS watch is gone with the folder).
    options.fallback_rescan_every = Duration::from_millis(300);
    let (a, _) = random_file(&dir, "a.bin", 4096, 1);
    std::fs::create_dir(dir.join("sub")).unwrap();
    let (b, _) = random_file(&dir.join("sub"), "b.bin", 4096, 2);
    let engine = Engine::start(
        &home,
        options,
        Credentials::with_env_token(Some(&server.ann)),
        ferry_engine::events::discard(),
    )
    .await
    .unwrap();
    let uploaded = until(&engine, 30, || {
        same(&a, &server.file("ann", "pre/a.bin")) && same(&b, &server.file("ann", "pre/sub/b.bin"))
    })
    .await;
    assert!(uploaded, "{:?}", engine.activity());
    assert!(until(&engine, 10, || engine.activity().queue.is_empty()).await);

    // Away, as an unplugged drive's mount point goes away.
    let away = work.path().join("away");
    std::fs::rename(&dir, &away).unwrap();
    let missing = until(&engine, 20, || {
        engine
            .folders()
            .iter()
            .any(|f| f.watcher == WatcherState::Missing)
    })
    .await;
    assert!(
        missing,
        "the folder shows as missing: {:?}",
        engine.folders()
    );
    let overview = engine.overview();
    assert_eq!(overview.state, OverallState::Problem, "{overview:?}");
    assert!(
        overview.message.contains("is missing"),
        "not \"Everything is uploaded\": {}",
        overview.message
    );
    let journal = home.journal().unwrap();
    let history = journal.history(&HistoryQuery::default()).unwrap();
    assert!(
        history.iter().all(|h| h.outcome != Outcome::Deleted),
        "nothing is taken for deleted while the folder is away: {history:?}"
    );

    // Back: watched again; a new file goes up, the old ones are not sent again.
    std::fs::rename(&away, &dir).unwrap();
    let back = until(&engine, 20, || {
        engine
            .folders()
            .iter()
            .all(|f| f.watcher == WatcherState::Watching)
    })
    .await;
    assert!(back, "watched again once back: {:?}", engine.folders());
    let (c, _) = random_file(&dir, "c.bin", 4096, 3);
    assert!(
        until(&engine, 30, || same(&c, &server.file("ann", "pre/c.bin"))).await,
        "a file made after the return is uploaded: {:?}",
        engine.activity()
    );
    assert!(until(&engine, 10, || engine.activity().queue.is_empty()).await);
    assert_eq!(engine.overview().state, OverallState::UpToDate);
    let history = journal.history(&HistoryQuery::default()).unwrap();
    let uploads = history
        .iter()
        .filter(|h| h.outcome == Outcome::Uploaded)
        .count();
    assert_eq!(uploads, 3, "a, b and c, each once: {history:?}");
    assert!(history.iter().all(|h| h.outcome != Outcome::Deleted));
    let folder = journal.folders().unwrap().remove(0);
    assert!(
        journal
            .files_in(folder.id)
            .unwrap()
            .iter()
            .all(|f| f.state == FileState::Uploaded),
        "every file is uploaded in the journal"
    );
    engine.shutdown().await;
}
