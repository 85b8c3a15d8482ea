//! The coordinator: one task that owns the sync state and reacts to what happens — watcher
//! events, finished jobs, timers (quiet periods, retries, rescans) and commands from the
//! handle. Changed paths wait out the quiet period, are examined against the journal by the
//! pure planner, and what must be sent joins a queue served small files first by at most
//! `concurrency` jobs. Knows nothing of terminals or windows.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ferry_store::{FileFacts, FolderId, Journal};
use tokio::sync::{mpsc, oneshot};
use tokio::task::{AbortHandle, JoinSet};

use crate::auth::Credentials;
use crate::error::EngineError;
use crate::events::{Event, EventSink};
use crate::home::Home;
use crate::rate::RateLimit;
use crate::upload::SendOptions;

use super::engine::{Summary, SyncOptions, Views, guard};
use super::folder::SyncedFolder;
use super::job::{self, Done};
use super::lock::HomeLock;
use super::report::Reporter;
use super::watch::{WatchEvent, WatchOptions, Watcher};

/// Files at least this large go up as parallel partial uploads where the server offers
/// concatenation.
const PARALLEL_FROM: u64 = 64 * 1024 * 1024;

/// A synced file: its folder and its path relative to it.
pub(crate) type Key = (FolderId, String);

/// What the handle asks of the coordinator.
pub(crate) enum Command {
    /// Pause (`true`) or resume one folder, or everything (`None`).
    Pause(Option<PathBuf>, bool),
    /// Try failed files again: one (absolute path) or all.
    Retry(Option<PathBuf>),
    /// Read the folders again.
    Reload,
    /// New options.
    Options(Box<SyncOptions>),
    /// Stop, then say so.
    Shutdown(oneshot::Sender<()>),
}

/// Whether the coordinator keeps watching or stops when everything pending is done.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    /// `ferry sync` and the desktop app.
    Watch,
    /// `ferry sync --once`.
    Once,
}

/// A job under way.
struct Running {
    id: u64,
    abort: AbortHandle,
    facts: Option<FileFacts>,
}

pub(crate) struct Coordinator {
    pub(super) options: SyncOptions,
    pub(super) events: EventSink,
    pub(super) views: Arc<Views>,
    pub(super) mode: Mode,
    pub(super) journal: Arc<Mutex<Journal>>,
    pub(super) shared: Arc<job::Shared>,
    pub(super) limit: RateLimit,
    pub(super) folders: HashMap<FolderId, SyncedFolder>,
    /// Changed paths and when they may be examined (the end of their quiet period).
    pub(super) dirty: HashMap<Key, Instant>,
    /// Paths renamed away, with the relative path they went to.
    pub(super) renamed: HashMap<Key, String>,
    /// Files ready to go, small first.
    pub(super) waiting: BTreeSet<(u64, Key)>,
    pub(super) waiting_sizes: HashMap<Key, u64>,
    /// Queued files whose facts changed but whose content may not have: hashed first.
    pub(super) verify: HashSet<Key>,
    /// Files waiting for their retry time.
    pub(super) retry_at: HashMap<Key, Instant>,
    running: HashMap<Key, Running>,
    jobs: JoinSet<(Key, u64, Result<Done, EngineError>)>,
    next_job: u64,
    pub(super) watcher: Option<Watcher>,
    watch_events: Option<mpsc::UnboundedReceiver<WatchEvent>>,
    pub(super) paused: bool,
    pub(super) summary: Summary,
    reporter: Option<Reporter>,
    report_due: Instant,
    _lock: HomeLock,
}

impl Coordinator {
    pub(crate) fn new(
        home: &Home,
        options: SyncOptions,
        credentials: Credentials,
        user_events: EventSink,
        views: Arc<Views>,
        mode: Mode,
    ) -> Result<Self, EngineError> {
        let lock = HomeLock::acquire(home.dir())?;
        let journal = Arc::new(Mutex::new(home.journal()?));
        let tracked = Arc::clone(&views);
        let events: EventSink = Arc::new(move |event: Event| {
            guard(&tracked.tracker).on_event(&event, Instant::now());
            user_events(event);
        });
        let shared = Arc::new(job::Shared {
            http: crate::transport::tus::http_client(options.timeout),
            journal: Arc::clone(&journal),
            credentials,
            targets: tokio::sync::Mutex::default(),
            tokens: tokio::sync::Mutex::default(),
        });
        let (watcher, watch_events) = match mode {
            Mode::Once => (None, None),
            Mode::Watch => {
                let (tx, rx) = mpsc::unbounded_channel();
                let watcher = Watcher::start(
                    WatchOptions {
                        debounce: Duration::from_millis(200),
                        simulate_limit: options.simulate_watch_limit,
                    },
                    tx,
                )?;
                (Some(watcher), Some(rx))
            }
        };
        Ok(Self {
            limit: RateLimit::new(options.rate_limit.unwrap_or(0)),
            options,
            events,
            views,
            mode,
            journal,
            shared,
            folders: HashMap::new(),
            dirty: HashMap::new(),
            renamed: HashMap::new(),
            waiting: BTreeSet::new(),
            waiting_sizes: HashMap::new(),
            verify: HashSet::new(),
            retry_at: HashMap::new(),
            running: HashMap::new(),
            jobs: JoinSet::new(),
            next_job: 0,
            watcher,
            watch_events,
            paused: false,
            summary: Summary::default(),
            reporter: (mode == Mode::Watch).then(|| Reporter::new(home.dir())),
            report_due: Instant::now(),
            _lock: lock,
        })
    }

    pub(super) fn journal(&self) -> std::sync::MutexGuard<'_, Journal> {
        guard(&self.journal)
    }

    pub(super) fn emit(&self, event: Event) {
        (self.events)(event);
    }

    /// Runs until `Shutdown`.
    pub(crate) async fn run(mut self, mut commands: mpsc::UnboundedReceiver<Command>) {
        self.load_folders().await;
        let mut watch_events = self.watch_events.take();
        loop {
            self.examine_due();
            self.start_jobs();
            self.publish();
            let wake = self.next_wake();
            tokio::select! {
                command = commands.recv() => match command {
                    Some(Command::Shutdown(done)) => {
                        self.stop().await;
                        let _ = done.send(());
                        return;
                    }
                    Some(command) => self.command(command).await,
                    None => {
                        self.stop().await;
                        return;
                    }
                },
                Some(event) = recv(&mut watch_events) => self.watch_event(event).await,
                Some(joined) = self.jobs.join_next(), if !self.jobs.is_empty() => {
                    if let Ok((key, id, result)) = joined {
                        self.job_done(key, id, result).await;
                    }
                }
                () = tokio::time::sleep_until(wake.into()) => self.timers().await,
            }
        }
    }

    /// Scans, uploads everything pending, and returns what happened.
    pub(crate) async fn run_once(mut self) -> Summary {
        self.load_folders().await;
        loop {
            self.examine_due();
            self.start_jobs();
            self.publish();
            if self.jobs.is_empty() && self.waiting.is_empty() && self.dirty.is_empty() {
                break;
            }
            let wake = self.next_wake();
            tokio::select! {
                Some(joined) = self.jobs.join_next(), if !self.jobs.is_empty() => {
                    if let Ok((key, id, result)) = joined {
                        self.job_done(key, id, result).await;
                    }
                }
                () = tokio::time::sleep_until(wake.into()) => {}
            }
        }
        std::mem::take(&mut self.summary)
    }

    async fn stop(&mut self) {
        if let Some(reporter) = &self.reporter {
            reporter.remove();
        }
        self.jobs.shutdown().await;
        self.running.clear();
        if let Some(mut watcher) = self.watcher.take() {
            for folder in self.folders.values() {
                watcher.unwatch(&folder.root);
            }
        }
    }

    /// When something is next due: a quiet period's end, a retry, a rescan.
    fn next_wake(&self) -> Instant {
        let far = Instant::now() + Duration::from_secs(3600);
        let mut wake = far;
        if !self.paused {
            wake = wake.min(self.dirty.values().copied().min().unwrap_or(far));
            wake = wake.min(self.retry_at.values().copied().min().unwrap_or(far));
        }
        for folder in self.folders.values() {
            wake = wake.min(folder.next_rescan);
        }
        if self.reporter.is_some() {
            wake = wake.min(self.report_due);
        }
        wake
    }

    async fn timers(&mut self) {
        let now = Instant::now();
        if self.paused {
            return;
        }
        let due: Vec<Key> = self
            .retry_at
            .iter()
            .filter(|(_, at)| **at <= now)
            .map(|(k, _)| k.clone())
            .collect();
        for key in due {
            self.retry_at.remove(&key);
            self.dirty.insert(key, now);
        }
        let rescans: Vec<FolderId> = self
            .folders
            .values()
            .filter(|f| f.next_rescan <= now)
            .map(|f| f.folder.id)
            .collect();
        for id in rescans {
            self.rescan(id).await;
        }
    }

    /// Examines every dirty path whose quiet period is over.
    fn examine_due(&mut self) {
        if self.paused {
            return;
        }
        let now = Instant::now();
        let due: Vec<Key> = self
            .dirty
            .iter()
            .filter(|(_, at)| **at <= now)
            .map(|(k, _)| k.clone())
            .collect();
        if due.is_empty() {
            return;
        }
        // One journal transaction for all of them (one flush instead of one per file); the
        // jobs wait for the lock meanwhile, so none of their writes joins it.
        let journal = Arc::clone(&self.journal);
        let mut journal = guard(&journal);
        let batch = journal.batch(|journal| {
            for key in due {
                self.dirty.remove(&key);
                if let Err(err) = self.examine(journal, &key) {
                    self.emit(Event::Warning {
                        message: format!("could not look at {}: {err}", self.display(&key)),
                    });
                }
            }
        });
        if let Err(err) = batch {
            // Nothing of it was kept: jobs record their own files, rescans find the rest.
            self.emit(Event::Warning {
                message: format!("could not record what changed in the journal: {err}"),
            });
        }
    }

    /// Starts jobs while there is room.
    fn start_jobs(&mut self) {
        while !self.paused && self.running.len() < self.options.concurrency.max(1) {
            let Some(next) = self
                .waiting
                .iter()
                .find(|(_, key)| self.folders.get(&key.0).is_some_and(|f| !f.folder.paused))
                .cloned()
            else {
                return;
            };
            self.waiting.remove(&next);
            let (size, key) = next;
            self.waiting_sizes.remove(&key);
            let Some(spec) = self.spec(&key) else {
                continue;
            };
            let facts = super::scan::facts_of(&spec.path).ok().flatten();
            let mut options = self.send_options();
            if size < PARALLEL_FROM {
                // Partial uploads pay a request each and a join: only large files gain.
                options.parallel = 1;
            }
            let shared = Arc::clone(&self.shared);
            let job_key = key.clone();
            let id = self.next_job;
            self.next_job += 1;
            let abort = self.jobs.spawn(async move {
                let result = job::run(shared, spec, options).await;
                (job_key, id, result)
            });
            self.running.insert(key, Running { id, abort, facts });
        }
    }

    fn send_options(&self) -> SendOptions {
        SendOptions {
            token: None,
            chunk_size: self.options.chunk_size,
            parallel: self.options.parallel,
            chunk_checksums: true,
            limit: self.limit.clone(),
            retry: self.options.retry,
            timeout: self.options.timeout,
            events: Arc::clone(&self.events),
            restarts_for_changes: 0,
            announce_queued: false,
        }
    }

    /// Stops the job of `key`, if one runs; returns whether one did.
    pub(super) fn cancel(&mut self, key: &Key) -> bool {
        match self.running.remove(key) {
            Some(running) => {
                running.abort.abort();
                true
            }
            None => false,
        }
    }

    /// Whether a job for `key` runs.
    pub(super) fn is_running(&self, key: &Key) -> bool {
        self.running.contains_key(key)
    }

    /// The facts the running job of `key` started with, if one runs and they were known.
    pub(super) fn running_facts(&self, key: &Key) -> Option<FileFacts> {
        self.running.get(key).and_then(|r| r.facts)
    }

    /// Stops every job (of one folder, or all) and puts their files back in the queue.
    pub(super) fn requeue_running(&mut self, folder: Option<FolderId>) {
        let keys: Vec<Key> = self
            .running
            .keys()
            .filter(|k| folder.is_none_or(|f| k.0 == f))
            .cloned()
            .collect();
        for key in keys {
            self.cancel(&key);
            self.dirty.insert(key, Instant::now());
        }
    }

    async fn job_done(&mut self, key: Key, id: u64, result: Result<Done, EngineError>) {
        match self.running.get(&key) {
            Some(running) if running.id == id => {
                self.running.remove(&key);
            }
            // A job cancelled just after it ended: what it did is in the journal; the job
            // that replaced it (if any) goes on.
            _ => return,
        }
        let display = self.display(&key);
        // Only a failure, or the end of one, changes the list of failed files.
        let mut failures_changed = true;
        match result {
            Ok(Done::Uploaded(entry)) => {
                guard(&self.views.tracker).remove(&display);
                self.summary.uploaded += 1;
                self.summary.bytes_sent += entry.bytes_sent;
                let file = self.journal().file(Some(key.0), &key.1);
                failures_changed = false;
                if let Ok(Some(file)) = file
                    && (file.attempts > 0
                        || file.last_error.is_some()
                        || file.next_retry_at_ms.is_some())
                {
                    let _ = self.journal().clear_file_failure(file.id);
                    failures_changed = true;
                }
            }
            Ok(Done::Unchanged) => {
                guard(&self.views.tracker).remove(&display);
                self.summary.unchanged += 1;
            }
            Err(EngineError::FileChanged { .. }) => {
                // Abandoned by the transport; it goes again once it has been quiet.
                guard(&self.views.tracker).remove(&display);
                self.dirty
                    .insert(key, Instant::now() + self.options.quiet_period);
            }
            Err(err) => self.failed(key, &display, &err).await,
        }
        if failures_changed {
            self.refresh_failed();
        }
    }

    async fn failed(&mut self, key: Key, display: &str, err: &EngineError) {
        let message = err.to_string();
        let retryable = err.is_retryable() || matches!(err, EngineError::GaveUp { .. });
        if matches!(err, EngineError::Unauthorized { .. }) {
            guard(&self.views.tracker).signed_out = true;
            if let Some(folder) = self.folders.get(&key.0) {
                self.shared.forget(&folder.server).await;
            }
        }
        let Ok(Some(file)) = self.journal().file(Some(key.0), &key.1) else {
            guard(&self.views.tracker).remove(display);
            return;
        };
        if retryable && self.mode == Mode::Watch {
            let attempt = file.attempts + 1;
            let delay = self.options.file_retry.next_delay(attempt);
            let at = crate::sync::now_ms() + i64::try_from(delay.as_millis()).unwrap_or(i64::MAX);
            let _ = self
                .journal()
                .record_file_failure(file.id, &message, Some(at));
            self.retry_at.insert(key, Instant::now() + delay);
            guard(&self.views.tracker).retrying(display, &message);
            self.emit(Event::Retrying {
                path: display.to_owned(),
                attempt,
                delay_ms: u64::try_from(delay.as_millis()).unwrap_or(u64::MAX),
                error: message,
            });
        } else {
            let next = retryable.then(|| crate::sync::now_ms() + 5_000);
            let _ = self.journal().record_file_failure(file.id, &message, next);
            guard(&self.views.tracker).remove(display);
            self.summary.failed.push((display.to_owned(), message));
        }
    }

    /// Re-reads the failed files from the journal for the views.
    pub(super) fn refresh_failed(&self) {
        let failed = self
            .journal()
            .synced_files_in_state(ferry_store::FileState::Failed)
            .unwrap_or_default()
            .into_iter()
            .map(|(folder, file)| super::status::Failure {
                path: Path::new(&folder)
                    .join(&file.local_path)
                    .display()
                    .to_string(),
                folder: Some(folder),
                error: file.last_error.unwrap_or_default(),
                permanent: true,
                at_ms: 0,
            })
            .collect();
        *guard(&self.views.failed) = failed;
    }

    /// Puts the live folder states where the handle reads them, and into the status report.
    fn publish(&mut self) {
        self.views.paused.store(self.paused, Ordering::Relaxed);
        let mut folders: Vec<_> = self.folders.values().map(SyncedFolder::view).collect();
        folders.sort_by(|a, b| a.path.cmp(&b.path));
        guard(&self.views.folders).clone_from(&folders);
        if let Some(reporter) = &mut self.reporter {
            let failed = guard(&self.views.failed).clone();
            let failed_count = failed.len();
            let tracker = guard(&self.views.tracker);
            let overview = tracker.overview(self.paused, failed_count, folders.len());
            let activity = tracker.activity(self.paused, failed);
            drop(tracker);
            self.report_due = reporter.offer(overview, folders, activity);
        }
    }

    async fn command(&mut self, command: Command) {
        match command {
            Command::Pause(None, paused) => {
                self.paused = paused;
                if paused {
                    self.requeue_running(None);
                    self.emit(Event::Paused { folder: None });
                } else {
                    self.emit(Event::Resumed { folder: None });
                }
            }
            Command::Pause(Some(path), paused) => self.pause_folder(&path, paused).await,
            Command::Retry(path) => self.retry(path.as_deref()),
            Command::Reload => {
                // Accounts may have signed in or out: ask for tokens and servers anew.
                self.shared.forget_all().await;
                guard(&self.views.tracker).signed_out = false;
                self.load_folders().await;
            }
            Command::Options(options) => {
                self.limit = RateLimit::new(options.rate_limit.unwrap_or(0));
                self.options = *options;
            }
            Command::Shutdown(_) => {}
        }
    }

    /// The user asks to try again.
    fn retry(&mut self, path: Option<&Path>) {
        let failed = self
            .journal()
            .synced_files_in_state(ferry_store::FileState::Failed)
            .unwrap_or_default();
        let mut keys: Vec<Key> = failed
            .into_iter()
            .filter_map(|(_, file)| file.folder.map(|f| (f, file.local_path)))
            .collect();
        keys.extend(self.retry_at.keys().cloned());
        let now = Instant::now();
        for key in keys {
            let wanted = path.is_none_or(|p| self.abs(&key).as_deref() == Some(p));
            if !wanted {
                continue;
            }
            let file = self.journal().file(Some(key.0), &key.1);
            if let Ok(Some(file)) = file {
                let _ = self.journal().clear_file_failure(file.id);
                if file.state == ferry_store::FileState::Failed {
                    let _ = self.journal().upsert_file(
                        Some(key.0),
                        &key.1,
                        file.facts,
                        file.sha1.as_deref(),
                        ferry_store::FileState::Pending,
                    );
                }
            }
            self.retry_at.remove(&key);
            self.dirty.insert(key, now);
        }
        self.refresh_failed();
    }

    async fn watch_event(&mut self, event: WatchEvent) {
        match event {
            WatchEvent::Changed { root, path } => self.changed(&root, &path),
            WatchEvent::Renamed { root, from, to } => {
                if let (Some(from_key), Some(to_key)) =
                    (self.key_of(&root, &from), self.key_of(&root, &to))
                {
                    self.renamed.insert(from_key, to_key.1);
                }
                self.changed(&root, &from);
                self.changed(&root, &to);
            }
            WatchEvent::Rescan { root, reason } => {
                if let Some(id) = self.folder_at(&root) {
                    tracing::info!(root = %root.display(), %reason, "rescanning");
                    self.rescan(id).await;
                }
            }
            WatchEvent::Failed { root, message } => self.watch_failed(&root, message),
        }
    }
}

/// Receives from an optional channel (forever pending without one).
async fn recv<T>(rx: &mut Option<mpsc::UnboundedReceiver<T>>) -> Option<T> {
    match rx {
        Some(rx) => rx.recv().await,
        None => std::future::pending().await,
    }
}
