//! The handle of a running folder sync ([`Engine`]) and the one-shot run of `ferry sync
//! --once` ([`sync_once`]). The work happens in the driver's task; the handle leaves it
//! requests in a mailbox and reads the shared views. Knows nothing of terminals or windows: callers give
//! it an event sink.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::auth::Credentials;
use crate::error::EngineError;
use crate::events::EventSink;
use crate::home::Home;
use crate::retry::RetryPolicy;
use crate::schedule::Timetable;
use crate::settings::FolderSettings;
use crate::system::SystemSource;
use crate::transport::TransferOptions;

use super::core::Mode;
use super::driver::Driver;
use super::status::{Activity, Failure, Overview, Tracker, WatcherState};

/// How folder sync behaves.
#[derive(Debug, Clone, PartialEq)]
pub struct SyncOptions {
    /// Files uploaded at once.
    pub concurrency: usize,
    /// The shared rate limit in bytes per second (`None`: unlimited).
    pub rate_limit: Option<u64>,
    /// How long a changed file must stay unchanged before it is uploaded, so files still
    /// being written are not sent half-done.
    pub quiet_period: Duration,
    /// How often every folder is scanned in full even though the watcher reports changes.
    pub rescan_every: Duration,
    /// How often a folder whose OS watcher failed is scanned instead.
    pub fallback_rescan_every: Duration,
    /// How each file is sent (chunk size, parallel parts, the transport's retries within one
    /// attempt, the timeout after which a dead link is noticed).
    pub transfer: TransferOptions,
    /// Spacing of later attempts at a file that failed in a way retrying can fix; kept in
    /// the journal, so it survives restarts.
    pub file_retry: RetryPolicy,
    /// The weekly timetable of limits over all uploads (outside its rules `rate_limit`
    /// holds); a rule that is `off` pauses everything until it ends.
    pub schedule: Timetable,
    /// Pause while the system says the connection is metered.
    pub pause_on_metered: bool,
    /// Pause while on battery below this percentage.
    pub pause_on_battery_below: Option<u8>,
    /// Folders' own settings, by absolute path.
    pub folders: BTreeMap<PathBuf, FolderSettings>,
    /// Where the state of the network, power and sleep comes from (the system's D-Bus
    /// services by default).
    pub system: SystemSource,
    /// For tests: make the OS watcher fail as if its watch limit were reached.
    pub simulate_watch_limit: bool,
}

impl Default for SyncOptions {
    fn default() -> Self {
        Self {
            concurrency: 4,
            rate_limit: None,
            quiet_period: Duration::from_secs(2),
            rescan_every: Duration::from_secs(3600),
            fallback_rescan_every: Duration::from_secs(60),
            transfer: TransferOptions::default(),
            file_retry: RetryPolicy {
                base: Duration::from_secs(5),
                max: Duration::from_secs(600),
                max_attempts: 0,
            },
            schedule: Timetable::default(),
            pause_on_metered: false,
            pause_on_battery_below: None,
            folders: BTreeMap::new(),
            system: SystemSource::default(),
            simulate_watch_limit: false,
        }
    }
}

/// A synced folder's live state.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct FolderSync {
    /// The folder, absolute.
    pub path: String,
    /// How changes in it are noticed.
    pub watcher: WatcherState,
    /// Something about it the user should know (e.g. the watch limit was reached).
    pub warning: Option<String>,
    /// Why its uploads wait now, if they do (a metered connection, its schedule).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hold: Option<crate::sync::holds::Hold>,
}

/// What the driver and the handle share.
pub(crate) struct Views {
    pub(crate) tracker: Mutex<Tracker>,
    pub(crate) paused: AtomicBool,
    pub(crate) folders: Mutex<Vec<FolderSync>>,
    pub(crate) failed: Mutex<Vec<Failure>>,
    /// Counts changes of the views, for [`Engine::changes`].
    pub(crate) generation: tokio::sync::watch::Sender<u64>,
}

impl Default for Views {
    fn default() -> Self {
        Self {
            tracker: Mutex::default(),
            paused: AtomicBool::default(),
            folders: Mutex::default(),
            failed: Mutex::default(),
            generation: tokio::sync::watch::Sender::new(0),
        }
    }
}

impl Views {
    /// Says that the views may have changed.
    pub(crate) fn touch(&self) {
        self.generation.send_modify(|g| *g = g.wrapping_add(1));
    }
}

/// Tells when the engine's live views ([`Engine::activity`], [`Engine::overview`],
/// [`Engine::folders`]) may have changed, so that a window or a test reads them again then
/// instead of polling.
pub struct Changes(tokio::sync::watch::Receiver<u64>);

impl Changes {
    /// Waits until the views may have changed since this was made or last returned (at
    /// once if they did meanwhile); `false` once the engine has stopped.
    pub async fn changed(&mut self) -> bool {
        self.0.changed().await.is_ok()
    }
}

pub(crate) fn guard<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// What the handle asked and the driver has not taken yet. Each kind of request coalesces
/// (the last pause wins, retries merge), so the mailbox stays small however fast a person
/// clicks, and nothing asked is lost.
#[derive(Default)]
pub(crate) struct Asked {
    pub(crate) options: Option<Box<SyncOptions>>,
    pub(crate) reload: bool,
    pub(crate) pause_all: Option<bool>,
    pub(crate) pause_folders: Vec<(PathBuf, bool)>,
    pub(crate) retry: Option<Retry>,
    pub(crate) stop: bool,
}

/// Which failed files to try again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Retry {
    /// Every one.
    All,
    /// These (absolute paths).
    Paths(Vec<PathBuf>),
}

/// The handle's requests to the driver, and the wake-up that goes with them.
#[derive(Default)]
pub(crate) struct Mailbox {
    asked: Mutex<Asked>,
    wake: tokio::sync::Notify,
}

impl Mailbox {
    fn ask(&self, f: impl FnOnce(&mut Asked)) {
        f(&mut guard(&self.asked));
        // A permit is kept when the driver is busy: the wake-up is never lost.
        self.wake.notify_one();
    }

    /// Waits until something was asked.
    pub(crate) async fn wait(&self) {
        self.wake.notified().await;
    }

    /// Takes what was asked.
    pub(crate) fn take(&self) -> Asked {
        std::mem::take(&mut guard(&self.asked))
    }
}

/// A running folder sync: watches every synced folder of a home and keeps it uploaded.
pub struct Engine {
    mailbox: Arc<Mailbox>,
    views: Arc<Views>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl Engine {
    /// Starts syncing every folder of `home` (on the current tokio runtime). Fails if
    /// another engine runs on the same home ([`EngineError::Busy`]), the journal cannot be
    /// opened or the watcher cannot start.
    pub async fn start(
        home: &Home,
        options: SyncOptions,
        credentials: Credentials,
        events: EventSink,
    ) -> Result<Self, EngineError> {
        let views = Arc::new(Views::default());
        let mailbox = Arc::new(Mailbox::default());
        let driver = Driver::new(
            home,
            options,
            credentials,
            events,
            Arc::clone(&views),
            Mode::Watch,
        )
        .await?;
        let task = tokio::spawn(driver.run(Arc::clone(&mailbox)));
        Ok(Self {
            mailbox,
            views,
            task: Some(task),
        })
    }

    /// The queue and the failed files.
    pub fn activity(&self) -> Activity {
        let failed = guard(&self.views.failed).clone();
        let folders = guard(&self.views.folders).clone();
        guard(&self.views.tracker).activity(
            self.views.paused.load(Ordering::Relaxed),
            failed,
            &folders,
        )
    }

    /// The one-line state of everything.
    pub fn overview(&self) -> Overview {
        let failed = guard(&self.views.failed).len();
        let folders = guard(&self.views.folders).clone();
        guard(&self.views.tracker).overview(
            self.views.paused.load(Ordering::Relaxed),
            failed,
            &folders,
        )
    }

    /// Whether everything is paused ([`Engine::pause_all`]), as the engine last published.
    pub fn is_paused(&self) -> bool {
        self.views.paused.load(Ordering::Relaxed)
    }

    /// Each synced folder's live state.
    pub fn folders(&self) -> Vec<FolderSync> {
        guard(&self.views.folders).clone()
    }

    /// Tells when the views may have changed from now on.
    pub fn changes(&self) -> Changes {
        Changes(self.views.generation.subscribe())
    }

    /// Pauses every upload (those under way stop; they continue from the server's offset
    /// on resume).
    pub fn pause_all(&self) {
        self.mailbox.ask(|a| a.pause_all = Some(true));
    }

    /// Resumes after [`Engine::pause_all`].
    pub fn resume_all(&self) {
        self.mailbox.ask(|a| a.pause_all = Some(false));
    }

    /// Pauses or resumes one folder (remembered in the journal).
    pub fn pause_folder(&self, path: PathBuf, paused: bool) {
        self.mailbox.ask(|a| {
            a.pause_folders.retain(|(p, _)| *p != path);
            a.pause_folders.push((path, paused));
        });
    }

    /// Tries failed files again now: the one at `path` (absolute), or every one.
    pub fn retry(&self, path: Option<PathBuf>) {
        self.mailbox.ask(|a| {
            a.retry = match (a.retry.take(), path) {
                (Some(Retry::All), _) | (_, None) => Some(Retry::All),
                (Some(Retry::Paths(mut paths)), Some(path)) => {
                    if !paths.contains(&path) {
                        paths.push(path);
                    }
                    Some(Retry::Paths(paths))
                }
                (None, Some(path)) => Some(Retry::Paths(vec![path])),
            };
        });
    }

    /// Reads the folders again (after one was added, removed or changed).
    pub fn reload(&self) {
        self.mailbox.ask(|a| a.reload = true);
    }

    /// Takes new options (concurrency, rate limit, quiet period…).
    pub fn set_options(&self, options: SyncOptions) {
        self.mailbox.ask(|a| a.options = Some(Box::new(options)));
    }

    /// Stops: uploads under way stop where the server stands (the next start continues
    /// them), the watcher and the home's lock are released.
    pub async fn shutdown(mut self) {
        self.mailbox.ask(|a| a.stop = true);
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for Engine {
    /// A handle dropped without [`Engine::shutdown`] still stops the engine.
    fn drop(&mut self) {
        self.mailbox.ask(|a| a.stop = true);
    }
}

/// What `ferry sync --once` did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Summary {
    /// Files uploaded.
    pub uploaded: usize,
    /// Bytes put on the wire.
    pub bytes_sent: u64,
    /// Files whose facts changed but whose content had not (nothing sent).
    pub unchanged: usize,
    /// Files that failed, with why.
    pub failed: Vec<(String, String)>,
}

/// Scans every folder of `home` once, uploads everything pending and returns what happened.
/// Retryable failures are kept for the next run (in the journal, with their retry time).
pub async fn sync_once(
    home: &Home,
    options: SyncOptions,
    credentials: Credentials,
    events: EventSink,
) -> Result<Summary, EngineError> {
    let views = Arc::new(Views::default());
    let driver = Driver::new(home, options, credentials, events, views, Mode::Once).await?;
    Ok(driver.run_once().await)
}
