//! Folder sync through the engine's own handle ([`Engine`]), against a real ferry-server
//! (behind the fault proxy where the network must misbehave): pause and resume, retries that
//! outlive the engine, GalileoSend folders, permanent failures parked until the file changes,
//! and the events the desktop shell forwards.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ferry_engine::Event;
use ferry_engine::TransferOptions;
use ferry_engine::auth::Credentials;
use ferry_engine::home::Home;
use ferry_engine::sync::status::OverallState;
use ferry_engine::sync::{Engine, SyncOptions};
use ferry_engine::target::Protocol;
use ferry_store::FileState;
use ferry_tests::proxy::FaultProxy;

use crate::support::{TestServer, random_file};

/// Events seen, for assertions.
#[derive(Clone, Default)]
struct Seen(Arc<Mutex<Vec<Event>>>);

impl Seen {
    fn sink(&self) -> ferry_engine::EventSink {
        let seen = self.0.clone();
        Arc::new(move |e| seen.lock().unwrap().push(e))
    }

    fn any(&self, f: impl Fn(&Event) -> bool) -> bool {
        self.0.lock().unwrap().iter().any(f)
    }
}

/// A home with `dir` synced to `server` (ann's account), and options for quick tests.
pub(crate) fn setup(
    server: &str,
    protocol: Option<Protocol>,
) -> (tempfile::TempDir, Home, PathBuf, SyncOptions) {
    let work = tempfile::tempdir().unwrap();
    let home = Home::locate(Some(&work.path().join("home"))).unwrap();
    let dir = work.path().join("synced");
    std::fs::create_dir_all(&dir).unwrap();
    let dir = std::fs::canonicalize(dir).unwrap();
    let journal = home.journal().unwrap();
    let account = journal.account(server, "").unwrap();
    journal
        .add_folder(dir.to_str().unwrap(), account.id, "pre", protocol)
        .unwrap();
    let options = SyncOptions {
        quiet_period: Duration::from_millis(200),
        file_retry: ferry_engine::retry::RetryPolicy {
            base: Duration::from_millis(200),
            max: Duration::from_millis(500),
            max_attempts: 0,
        },
        transfer: TransferOptions {
            timeout: Duration::from_secs(3),
            retry: ferry_engine::retry::RetryPolicy {
                base: Duration::from_millis(50),
                max: Duration::from_millis(200),
                max_attempts: 3,
            },
            ..TransferOptions::default()
        },
        ..SyncOptions::default()
    };
    (work, home, dir, options)
}

/// Waits (at most `secs`) for `ready`, checking it again whenever the engine's views may
/// have changed (its events and its state), never on a timer.
pub(crate) async fn until(engine: &Engine, secs: u64, mut ready: impl FnMut() -> bool) -> bool {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
    let mut changes = engine.changes();
    loop {
        if ready() {
            return true;
        }
        match tokio::time::timeout_at(deadline, changes.changed()).await {
            Ok(true) => {}
            Ok(false) | Err(_) => return ready(),
        }
    }
}

pub(crate) fn same(a: &Path, b: &Path) -> bool {
    std::fs::read(a)
        .ok()
        .is_some_and(|x| std::fs::read(b).ok().is_some_and(|y| x == y))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pausing_stops_uploads_where_the_server_stands_and_resuming_finishes_them() {
    let server = TestServer::start().await;
    let (_work, home, dir, mut options) = setup(&server.base, None);
    options.rate_limit = Some(256 * 1024);
    options.transfer.chunk_size = Some(64 * 1024);
    let (file, _) = random_file(&dir, "big.bin", 1 << 20, 3);
    let seen = Seen::default();
    let engine = Engine::start(
        &home,
        options,
        Credentials::with_env_token(Some(&server.ann)),
        seen.sink(),
    )
    .await
    .unwrap();

    let mid = until(&engine, 20, || {
        engine
            .activity()
            .queue
            .iter()
            .any(|q| q.confirmed > 0 && q.confirmed < q.size)
    })
    .await;
    assert!(
        mid,
        "the upload never stood mid-way: {:?}",
        engine.activity()
    );
    engine.pause_all();
    assert!(
        until(&engine, 10, || engine.activity().paused).await,
        "pausing shows"
    );
    assert!(seen.any(|e| matches!(e, Event::Paused { folder: None })));
    assert_eq!(engine.overview().state, OverallState::Paused);
    assert!(
        !server.file("ann", "pre/big.bin").exists(),
        "a paused upload does not finish"
    );

    engine.resume_all();
    let done = until(&engine, 30, || {
        same(&file, &server.file("ann", "pre/big.bin"))
    })
    .await;
    assert!(done, "resumed and finished: {:?}", engine.activity());
    assert!(seen.any(|e| matches!(e, Event::Resumed { folder: None })));
    let resumed_from = seen
        .0
        .lock()
        .unwrap()
        .iter()
        .filter_map(|e| match e {
            Event::Started { resumed_from, .. } => Some(*resumed_from),
            _ => None,
        })
        .max();
    assert!(
        resumed_from.is_some_and(|r| r > 0),
        "after the pause it went on from the server's offset, not from zero"
    );
    assert!(
        until(&engine, 10, || engine.overview().state
            == OverallState::UpToDate)
        .await,
        "{:?}",
        engine.overview()
    );
    engine.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retryable_failure_is_retried_later_even_after_the_engine_restarts() {
    let server = TestServer::start().await;
    let proxy = FaultProxy::start(server.addr).await.unwrap();
    let url = format!("http://{}", proxy.addr());
    proxy.refuse_for(Duration::from_secs(3600));
    let (_work, home, dir, options) = setup(&url, None);
    std::fs::write(dir.join("note.txt"), b"waits for the server").unwrap();
    let credentials = Credentials::with_env_token(Some(&server.ann));

    let engine = Engine::start(
        &home,
        options.clone(),
        credentials.clone(),
        ferry_engine::events::discard(),
    )
    .await
    .unwrap();
    let journal = home.journal().unwrap();
    let folder = journal.folders().unwrap().remove(0);
    let waiting = until(&engine, 20, || {
        journal
            .file(Some(folder.id), "note.txt")
            .unwrap()
            .is_some_and(|f| f.next_retry_at_ms.is_some() && f.last_error.is_some())
    })
    .await;
    assert!(waiting, "the journal records the failure and when to retry");
    let file = journal.file(Some(folder.id), "note.txt").unwrap().unwrap();
    assert_eq!(
        file.state,
        FileState::Pending,
        "a retryable failure is not parked"
    );
    engine.shutdown().await;

    proxy.refuse_for(Duration::ZERO);
    let engine = Engine::start(&home, options, credentials, ferry_engine::events::discard())
        .await
        .unwrap();
    let done = until(&engine, 30, || {
        same(&dir.join("note.txt"), &server.file("ann", "pre/note.txt"))
            && journal
                .file(Some(folder.id), "note.txt")
                .unwrap()
                .is_some_and(|f| f.state == FileState::Uploaded)
    })
    .await;
    assert!(
        done,
        "the new engine picked up the pending retry: {:?}",
        engine.activity()
    );
    engine.shutdown().await;
    let file = journal.file(Some(folder.id), "note.txt").unwrap().unwrap();
    assert_eq!(
        (file.state, file.attempts, file.last_error),
        (FileState::Uploaded, 0, None)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_galileo_folder_lands_under_its_prefix_with_subfolders() {
    let server = TestServer::start().await;
    let (_work, home, dir, options) = setup(&server.base, Some(Protocol::Galileo));
    std::fs::create_dir_all(dir.join("a/b")).unwrap();
    let (deep, _) = random_file(&dir.join("a/b"), "deep.bin", 600_000, 8);
    let (top, _) = random_file(&dir, "top.bin", 1000, 9);
    let seen = Seen::default();
    let engine = Engine::start(
        &home,
        options,
        Credentials::with_env_token(Some(&server.ann)),
        seen.sink(),
    )
    .await
    .unwrap();
    let done = until(&engine, 30, || {
        same(&deep, &server.file("ann", "pre/a/b/deep.bin"))
            && same(&top, &server.file("ann", "pre/top.bin"))
    })
    .await;
    assert!(done, "{:?}", engine.activity());
    assert!(
        seen.any(
            |e| matches!(e, Event::Started { protocol, .. } if *protocol == Protocol::Galileo)
        )
    );
    engine.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_permanent_failure_is_parked_with_its_reason_until_the_file_changes() {
    let server = TestServer::start_with(|config| config.max_size = Some(10_000)).await;
    let (_work, home, dir, options) = setup(&server.base, None);
    let (file, _) = random_file(&dir, "huge.bin", 50_000, 4);
    let engine = Engine::start(
        &home,
        options,
        Credentials::with_env_token(Some(&server.ann)),
        ferry_engine::events::discard(),
    )
    .await
    .unwrap();
    let parked = until(&engine, 20, || !engine.activity().failed.is_empty()).await;
    assert!(parked, "{:?}", engine.activity());
    let failure = engine.activity().failed.remove(0);
    assert_eq!(failure.path, file.display().to_string());
    assert!(
        failure.error.contains("10000") || failure.error.to_lowercase().contains("large"),
        "the reason says why: {}",
        failure.error
    );
    assert_eq!(engine.overview().state, OverallState::Problem);

    engine.retry(None);
    let again = until(&engine, 20, || {
        !engine.activity().failed.is_empty() && engine.activity().queue.is_empty()
    })
    .await;
    assert!(again, "retrying without a change fails again, and says so");

    let (file, _) = random_file(&dir, "huge.bin", 5_000, 5);
    let done = until(&engine, 20, || {
        same(&file, &server.file("ann", "pre/huge.bin"))
    })
    .await;
    assert!(done, "a change un-parks it: {:?}", engine.activity());
    assert!(until(&engine, 10, || engine.activity().failed.is_empty()).await);
    engine.shutdown().await;
}

#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_symlink_swapped_in_during_the_quiet_period_is_never_uploaded() {
    let server = TestServer::start().await;
    let (work, home, dir, mut options) = setup(&server.base, None);
    options.quiet_period = Duration::from_millis(800);
    let secret = work.path().join("secret.txt");
    std::fs::write(
        &secret,
        b"the contents of a file outside every synced folder",
    )
    .unwrap();
    let engine = Engine::start(
        &home,
        options,
        Credentials::with_env_token(Some(&server.ann)),
        ferry_engine::events::discard(),
    )
    .await
    .unwrap();
    // A file appears, and before it has been quiet long enough it becomes a link out.
    let note = dir.join("note.txt");
    std::fs::write(&note, b"an ordinary note").unwrap();
    std::fs::remove_file(&note).unwrap();
    std::os::unix::fs::symlink(&secret, &note).unwrap();
    // A later file, uploaded once the engine has dealt with everything before it.
    let (after, _) = random_file(&dir, "after.bin", 4096, 5);
    assert!(
        until(&engine, 30, || same(
            &after,
            &server.file("ann", "pre/after.bin")
        ))
        .await,
        "the later file is uploaded"
    );
    assert!(
        until(&engine, 30, || engine.activity().queue.is_empty()).await,
        "the queue empties: {:?}",
        engine.activity()
    );
    let landed = server.file("ann", "pre/note.txt");
    assert_eq!(
        crate::support::files_containing(&server.data(), "outside every synced folder"),
        Vec::<PathBuf>::new(),
        "the link's target went to the server"
    );
    assert!(
        std::fs::read(&landed).map_or(true, |bytes| bytes == b"an ordinary note"),
        "only the file itself may be on the server"
    );
}
