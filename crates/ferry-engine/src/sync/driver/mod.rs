//! The sync driver: the thin async shell around the [`SyncCore`]. It owns what the core
//! must not: the OS watcher, the journal door, the running jobs, the clock and the live
//! views. Its loop waits for the next fact (a command from the handle, watcher reports, a
//! job's end, the core's timeout), hands it to the core, and carries out the actions the
//! core asks for, in order.
//!
//! Knows nothing of terminals or windows: it reports through the event sink it is given.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ferry_store::{FileFacts, FolderId};
use tokio::sync::mpsc;

use crate::auth::Credentials;
use crate::error::EngineError;
use crate::events::{Event, EventSink};
use crate::home::Home;
use crate::journal::JournalDoor;
use crate::rate::RateLimit;
use crate::sync::core::{Action, CoreOptions, JobEnd, Key, Mode, StartJob, SyncCore};
use crate::sync::engine::{Mailbox, Summary, SyncOptions, Views, guard};
use crate::sync::holds::Holds;
use crate::sync::job;
use crate::sync::lock::HomeLock;
use crate::sync::report::Reporter;
use crate::sync::watch::{WatchEvent, WatchOptions, Watcher};
use crate::system::{Conditions, Monitor};

mod act;
mod examine;
pub(crate) mod folders;
mod holding;
mod watching;

use folders::SyncedFolder;

/// Watcher reports waiting for the driver before the watcher counts an overflow (which the
/// driver turns into a rescan of the folder).
const WATCH_QUEUE: usize = 4096;

/// Watcher reports taken in one go (looked at in one trip to the blocking pool).
const WATCH_BATCH: usize = 1024;

/// Job ends waiting for the driver (a job waits to report beyond that).
const END_QUEUE: usize = 64;

/// How a job ended, as its task reports it.
type JobResult = (Key, u64, JobEnd);

/// Now, on tokio's clock (which tests can pause and advance).
pub(super) fn now() -> Instant {
    tokio::time::Instant::now().into_std()
}

pub(super) fn locked<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// A job under way.
struct RunningJob {
    id: u64,
    task: tokio::task::JoinHandle<()>,
    facts: Option<FileFacts>,
}

pub(crate) struct Driver {
    core: SyncCore,
    options: SyncOptions,
    events: EventSink,
    views: Arc<Views>,
    door: JournalDoor,
    shared: Arc<job::Shared>,
    limit: RateLimit,
    folders: HashMap<FolderId, SyncedFolder>,
    jobs: HashMap<Key, RunningJob>,
    ended: mpsc::Sender<JobResult>,
    ends: mpsc::Receiver<JobResult>,
    watcher: Option<Arc<Mutex<Watcher>>>,
    watch_events: Option<mpsc::Receiver<WatchEvent>>,
    /// The parked files shown may be out of date.
    failures_stale: bool,
    reporter: Option<Reporter>,
    report_due: Instant,
    /// The system's network, power and sleep states.
    monitor: Monitor,
    /// What was held back and at which rates, as last applied.
    holds: Holds,
    /// The conditions as last applied (to notice wake-ups and connectivity's return).
    seen: Conditions,
    /// The monitor was told that everything paused for this sleep.
    sleep_told: bool,
    /// When the schedule is evaluated next.
    holds_due: Instant,
    /// A one-shot run (`ferry sync --once`): never held back.
    mode_once: bool,
    _lock: HomeLock,
}

impl Driver {
    /// Takes the home's engine lock, opens the journal and (to watch) starts the watcher.
    pub(crate) async fn new(
        home: &Home,
        options: SyncOptions,
        credentials: Credentials,
        user_events: EventSink,
        views: Arc<Views>,
        mode: Mode,
    ) -> Result<Self, EngineError> {
        let dir = home.dir().to_path_buf();
        let lock = tokio::task::spawn_blocking(move || HomeLock::acquire(&dir))
            .await
            .map_err(|e| {
                EngineError::Keyring(format!("the engine lock could not be taken: {e}"))
            })??;
        let door = home.open_journal().await?;
        let tracked = Arc::clone(&views);
        let events: EventSink = Arc::new(move |event: Event| {
            guard(&tracked.tracker).on_event(&event, now());
            tracked.touch();
            user_events(event);
        });
        let trust = crate::tls::Trust::load(door.pins().await?).await;
        let shared = Arc::new(job::Shared {
            http: crate::transport::tus::http_client(options.transfer.timeout, &trust),
            trust,
            door: door.clone(),
            credentials,
            targets: tokio::sync::Mutex::default(),
            tokens: tokio::sync::Mutex::default(),
        });
        let (watcher, watch_events) = match mode {
            Mode::Once => (None, None),
            Mode::Watch => {
                let (tx, rx) = mpsc::channel(WATCH_QUEUE);
                let watch = WatchOptions {
                    debounce: Duration::from_millis(200),
                    simulate_limit: options.simulate_watch_limit,
                };
                let watcher = Watcher::start(watch, tx)?;
                (Some(Arc::new(Mutex::new(watcher))), Some(rx))
            }
        };
        let (ended, ends) = mpsc::channel(END_QUEUE);
        let monitor = match mode {
            Mode::Once => Monitor::off(),
            Mode::Watch => Monitor::start(&options.system).await,
        };
        Ok(Self {
            core: SyncCore::new(CoreOptions::from(&options), mode, rand::random()),
            limit: RateLimit::adjustable(options.rate_limit),
            options,
            events,
            views,
            door,
            shared,
            folders: HashMap::new(),
            jobs: HashMap::new(),
            ended,
            ends,
            watcher,
            watch_events,
            failures_stale: true,
            reporter: (mode == Mode::Watch).then(|| Reporter::new(home.dir())),
            report_due: now(),
            monitor,
            holds: Holds::default(),
            seen: Conditions::default(),
            sleep_told: false,
            holds_due: now(),
            mode_once: mode == Mode::Once,
            _lock: lock,
        })
    }

    /// Runs until the handle says stop (or is dropped).
    pub(crate) async fn run(mut self, mailbox: Arc<Mailbox>) {
        self.load_folders().await;
        let mut watch_events = self.watch_events.take();
        loop {
            if now() >= self.holds_due {
                self.apply_holds();
                self.holds_due = now() + holding::SCHEDULE_TICK;
            }
            self.carry_out().await;
            self.settle_for_sleep();
            self.publish();
            let wake = self.wake();
            tokio::select! {
                () = self.monitor.changed() => self.holds_due = now(),
                () = mailbox.wait() => {
                    if self.commands(&mailbox).await {
                        self.stop().await;
                        return;
                    }
                }
                Some(first) = recv(&mut watch_events) => {
                    let mut batch = vec![first];
                    if let Some(rx) = watch_events.as_mut() {
                        while batch.len() < WATCH_BATCH {
                            let Ok(event) = rx.try_recv() else { break };
                            batch.push(event);
                        }
                    }
                    self.watch_events(batch).await;
                    self.overflowed();
                }
                Some(end) = self.ends.recv() => self.job_ended(end),
                () = tokio::time::sleep_until(wake.into()) => self.core.handle_timeout(now()),
            }
        }
    }

    /// Scans, uploads everything pending, and returns what happened.
    pub(crate) async fn run_once(mut self) -> Summary {
        self.load_folders().await;
        self.apply_holds();
        loop {
            self.carry_out().await;
            if self.core.is_idle() {
                break;
            }
            let wake = self.wake();
            tokio::select! {
                Some(end) = self.ends.recv() => self.job_ended(end),
                () = tokio::time::sleep_until(wake.into()) => self.core.handle_timeout(now()),
            }
        }
        let tally = self.core.take_tally();
        Summary {
            uploaded: tally.uploaded,
            bytes_sent: tally.bytes_sent,
            unchanged: tally.unchanged,
            failed: tally
                .failed
                .into_iter()
                .map(|(key, message)| (self.display(&key), message))
                .collect(),
        }
    }

    /// When the loop must wake at the latest: the core's timeout, the status report's.
    fn wake(&self) -> Instant {
        let far = now() + Duration::from_secs(3600);
        let mut wake = self.core.poll_timeout().unwrap_or(far).min(far);
        if self.reporter.is_some() {
            wake = wake.min(self.report_due);
        }
        if self.has_schedule() {
            wake = wake.min(self.holds_due);
        }
        wake
    }

    /// Watched folders whose reports overflowed the queue are scanned whole instead.
    fn overflowed(&mut self) {
        let Some(watcher) = &self.watcher else {
            return;
        };
        let roots = locked(watcher).take_overflowed();
        for root in roots {
            if let Some(id) = self.folder_at(&root) {
                tracing::info!(root = %root.display(), "watcher reports overflowed; rescanning");
                self.core.handle_rescan_needed(now(), id);
            }
        }
    }

    async fn stop(&mut self) {
        if let Some(reporter) = &self.reporter {
            reporter.remove().await;
        }
        for (_, job) in self.jobs.drain() {
            job.task.abort();
            let _ = job.task.await;
        }
        let roots: Vec<PathBuf> = self.folders.values().map(|f| f.info.root.clone()).collect();
        for root in roots {
            self.unwatch(root).await;
        }
    }

    /// Takes in what the handle asked; `true` when it asked to stop.
    async fn commands(&mut self, mailbox: &Mailbox) -> bool {
        let asked = mailbox.take();
        if let Some(options) = asked.options {
            self.core
                .handle_options(now(), CoreOptions::from(&*options));
            self.options = *options;
            // The new rate limit, schedule and pauses hold at once, for uploads under way too.
            self.holds_due = now();
        }
        if asked.reload {
            // Accounts may have signed in or out (and a certificate been trusted): ask for
            // tokens, servers and trusted certificates anew.
            self.shared.forget_all().await;
            match self.door.pins().await {
                Ok(pins) => self.shared.trust.set_pins(pins),
                Err(err) => {
                    tracing::warn!(%err, "the trusted certificates could not be read; keeping the ones known");
                }
            }
            guard(&self.views.tracker).signed_out = false;
            self.load_folders().await;
            self.holds_due = now();
        }
        if let Some(paused) = asked.pause_all {
            self.core.handle_pause_all(now(), paused);
        }
        for (path, paused) in asked.pause_folders {
            self.pause_folder(&path, paused).await;
        }
        if let Some(retry) = asked.retry {
            self.retry(retry).await;
        }
        asked.stop
    }

    /// The absolute path of `key`.
    fn abs(&self, key: &Key) -> Option<PathBuf> {
        self.folders.get(&key.0).map(|f| f.info.root.join(&key.1))
    }

    /// `key` as people see it (the absolute path).
    fn display(&self, key: &Key) -> String {
        self.abs(key)
            .map_or_else(|| key.1.clone(), |p| p.display().to_string())
    }

    fn warn(&self, message: String) {
        (self.events)(Event::Warning { message });
    }

    /// Puts the live folder states where the handle reads them, and into the status report.
    fn publish(&mut self) {
        let paused = self.core.is_paused();
        self.views.paused.store(paused, Ordering::Relaxed);
        let mut folders: Vec<_> = self.folders.values().map(SyncedFolder::view).collect();
        folders.sort_by(|a, b| a.path.cmp(&b.path));
        guard(&self.views.folders).clone_from(&folders);
        self.views.touch();
        if let Some(reporter) = &mut self.reporter {
            let failed = guard(&self.views.failed).clone();
            let failed_count = failed.len();
            let tracker = guard(&self.views.tracker);
            let overview = tracker.overview(paused, failed_count, &folders);
            let activity = tracker.activity(paused, failed, &folders);
            drop(tracker);
            self.report_due = reporter.offer(now(), overview, folders, activity);
        }
    }

    fn job_ended(&mut self, (key, id, result): JobResult) {
        if self.jobs.get(&key).is_some_and(|j| j.id == id) {
            self.jobs.remove(&key);
        }
        self.core.handle_job_done(now(), key, id, result);
    }

    /// Starts jobs (their files' facts taken first, on the blocking pool).
    async fn start(&mut self, starts: Vec<StartJob>) {
        let paths: Vec<Option<PathBuf>> = starts.iter().map(|s| self.abs(&s.key)).collect();
        let facts: Vec<Option<FileFacts>> = tokio::task::spawn_blocking(move || {
            paths
                .iter()
                .map(|p| {
                    p.as_deref()
                        .and_then(|p| crate::sync::scan::facts_of(p).ok().flatten())
                })
                .collect()
        })
        .await
        .unwrap_or_default();
        for (i, start) in starts.into_iter().enumerate() {
            let Some(folder) = self.folders.get(&start.key.0) else {
                continue;
            };
            let spec = job::JobSpec::new(&folder.info, &start);
            let limit = self.limit.and(&folder.limit);
            let mut options =
                job::send_options(&self.options, &limit, &self.events, &self.shared.trust);
            if !start.parallel {
                options.transfer.parallel = 1;
            }
            let shared = Arc::clone(&self.shared);
            let ended = self.ended.clone();
            let (key, id) = (start.key.clone(), start.id);
            let task = tokio::spawn(async move {
                let result = job::run(shared, spec, options).await;
                let _ = ended.send((key, id, result)).await;
            });
            let facts = facts.get(i).copied().flatten();
            self.jobs.insert(start.key, RunningJob { id, task, facts });
        }
    }

    /// Stops the job of `key` and waits until it has stopped, so that nothing it would
    /// still write reaches the journal after what the driver writes next.
    async fn stop_job(&mut self, key: &Key) {
        if let Some(job) = self.jobs.remove(key) {
            job.task.abort();
            let _ = job.task.await;
        }
    }

    /// Carries out everything the core asks for, until it asks for nothing more.
    async fn carry_out(&mut self) {
        loop {
            let mut starts = Vec::new();
            let mut any = false;
            while let Some(action) = self.core.poll_action() {
                any = true;
                if let Action::Start(start) = action {
                    starts.push(start);
                    continue;
                }
                if !starts.is_empty() {
                    self.start(std::mem::take(&mut starts)).await;
                }
                self.act(action).await;
            }
            if !starts.is_empty() {
                self.start(starts).await;
            }
            if !any {
                break;
            }
        }
        if std::mem::take(&mut self.failures_stale) {
            self.refresh_failed().await;
        }
    }
}

/// Receives from an optional channel (forever pending without one).
async fn recv<T>(rx: &mut Option<mpsc::Receiver<T>>) -> Option<T> {
    match rx {
        Some(rx) => rx.recv().await,
        None => std::future::pending().await,
    }
}
