//! The sync driver on tokio's paused clock: the real engine (journal thread, watcher, blocking
//! pool) with time that only moves when every task waits, so quiet periods and retry waits of
//! minutes pass without a real sleep, and the times the core chose can be checked.
//!
//! The paused clock jumps to the next timer whenever every task waits, also while one waits
//! for the journal thread; so the test itself registers no timer (a far deadline would be
//! jumped to), and a watchdog thread ends it after two minutes of real time instead.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use ferry_engine::Event;
use ferry_engine::TransferOptions;
use ferry_engine::auth::Credentials;
use ferry_engine::home::Home;
use ferry_engine::retry::RetryPolicy;
use ferry_engine::sync::{Engine, SyncOptions};
use tokio::time::Instant;

/// Events with the (virtual) time they were seen at.
#[derive(Clone, Default)]
struct Timed(Arc<Mutex<Vec<(Instant, Event)>>>, Arc<tokio::sync::Notify>);

impl Timed {
    fn sink(&self) -> ferry_engine::EventSink {
        let (seen, told) = (Arc::clone(&self.0), Arc::clone(&self.1));
        Arc::new(move |e| {
            seen.lock().unwrap().push((Instant::now(), e));
            told.notify_one();
        })
    }

    /// Waits until `count` events match `f` (the watchdog bounds it).
    async fn wait_for(&self, count: usize, f: impl Fn(&Event) -> bool) -> Vec<(Instant, Event)> {
        loop {
            let found: Vec<_> = self
                .0
                .lock()
                .unwrap()
                .iter()
                .filter(|(_, e)| f(e))
                .cloned()
                .collect();
            if found.len() >= count {
                return found;
            }
            self.1.notified().await;
        }
    }
}

#[test]
fn quiet_periods_and_retry_waits_pass_on_virtual_time_as_the_core_chose() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .start_paused(true)
        .build()
        .unwrap();
    let (stuck, is_stuck) = tokio::sync::oneshot::channel::<()>();
    let (done, is_done) = std::sync::mpsc::channel::<()>();
    std::thread::spawn(move || {
        if is_done.recv_timeout(Duration::from_secs(120)).is_err() {
            let _ = stuck.send(());
        }
    });
    let timed = Timed::default();
    runtime.block_on(async {
        tokio::select! {
            () = quiet_and_retries(&timed) => {}
            Ok(()) = is_stuck => panic!(
                "the engine did not get there in two minutes of real time; it said: {:?}",
                timed.0.lock().unwrap()
            ),
        }
    });
    let _ = done.send(());
}

async fn quiet_and_retries(timed: &Timed) {
    let work = tempfile::tempdir().unwrap();
    let home = Home::locate(Some(&work.path().join("home"))).unwrap();
    let dir = std::fs::canonicalize(work.path()).unwrap().join("synced");
    std::fs::create_dir_all(&dir).unwrap();
    // Nothing listens on port 1: every attempt fails at once, in a way retrying can fix.
    let journal = home.journal().unwrap();
    let account = journal.account("http://127.0.0.1:1", "").unwrap();
    journal
        .add_folder(dir.to_str().unwrap(), account.id, "", None)
        .unwrap();
    drop(journal);
    std::fs::write(dir.join("new.txt"), b"just written").unwrap();
    let quiet = Duration::from_secs(20);
    let options = SyncOptions {
        quiet_period: quiet,
        transfer: TransferOptions {
            retry: RetryPolicy {
                max_attempts: 1,
                ..RetryPolicy::default()
            },
            ..TransferOptions::default()
        },
        file_retry: RetryPolicy {
            base: Duration::from_secs(60),
            max: Duration::from_secs(600),
            max_attempts: 0,
        },
        ..SyncOptions::default()
    };
    let started = Instant::now();
    let engine = Engine::start(
        &home,
        options,
        Credentials::with_env_token(None),
        timed.sink(),
    )
    .await
    .unwrap();

    let queued = timed
        .wait_for(1, |e| matches!(e, Event::Queued { .. }))
        .await;
    let waited = queued[0].0 - started;
    // The file was written just before: it is examined once it has been quiet for the quiet
    // period, counted from its mtime (a little real time passed since).
    assert!(
        waited >= quiet.saturating_sub(Duration::from_secs(2))
            && waited <= quiet + Duration::from_secs(2),
        "queued after {waited:?} of virtual time, the quiet period is {quiet:?}"
    );

    let retries = timed
        .wait_for(3, |e| matches!(e, Event::Retrying { .. }))
        .await;
    let mut last_wait = Duration::ZERO;
    for pair in retries.windows(2) {
        let (
            at,
            Event::Retrying {
                attempt, delay_ms, ..
            },
        ) = &pair[0]
        else {
            unreachable!()
        };
        let (next_at, Event::Retrying { attempt: next, .. }) = &pair[1] else {
            unreachable!()
        };
        assert_eq!(*next, attempt + 1, "attempts counted: {retries:?}");
        let wait = Duration::from_millis(*delay_ms);
        assert!(wait >= last_wait, "waits only grow: {retries:?}");
        last_wait = wait;
        assert!(
            *next_at - *at >= wait,
            "attempt {next} came {:?} after {attempt}, before its wait of {wait:?}",
            *next_at - *at
        );
    }
    engine.shutdown().await;
}
