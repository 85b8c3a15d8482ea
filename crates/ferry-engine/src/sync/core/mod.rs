//! The sync core: every decision folder sync takes, as a sans-IO machine on virtual time,
//! in the style of `ferry-proto`'s protocol machines.
//!
//! It is fed facts with `handle_*` (a folder was added or paused, the watcher saw a path
//! change, a scan found these files, examining a path led to this, a job ended, the user
//! asked to pause or retry, time passed) and asked what to do with [`SyncCore::poll_action`]
//! (examine these paths, scan that folder, start this job, stop that one, record a failure,
//! tell people) and [`SyncCore::poll_timeout`] (wake me at T). Time is always a parameter:
//! nothing here reads a clock, touches a file, the journal or the network, or spawns.
//!
//! It decides: which changed paths have been quiet long enough to examine, the queue's order
//! (small files first), how many jobs run at once, which jobs stop for a pause, when a
//! failed file is tried again, when folders are scanned, and when a one-shot run is done.
//! What a path needs (upload, hash first, nothing) is the planner's ([`super::plan`]),
//! applied by the driver, which reports it back as an [`Examined`].
//!
//! # Call order (part of the API)
//! After any `handle_*` call, drain [`SyncCore::poll_action`] until it returns `None`,
//! carry the actions out in that order, then sleep until [`SyncCore::poll_timeout`] (or the
//! next fact) and call [`SyncCore::handle_timeout`]. Actions never need an answer before the
//! next `poll_action`; their results come back as facts (`handle_examined`,
//! `handle_scanned`, `handle_job_done`).

use std::collections::{BTreeSet, HashMap, HashSet, VecDeque};
use std::time::{Duration, Instant};

use ferry_store::FolderId;

use crate::retry::RetryPolicy;

pub(crate) use handle::ScanFound;

/// Files at least this large go up as parallel partial uploads where the server offers
/// concatenation (partial uploads pay a request each and a join: only large files gain).
pub(crate) const PARALLEL_FROM: u64 = 64 * 1024 * 1024;

#[cfg(test)]
mod failure_tests;
mod handle;
#[cfg(test)]
mod hold_tests;
#[cfg(test)]
mod props;
mod queue;
#[cfg(test)]
mod tests;

/// A synced file: its folder and its path relative to it (`/` separators).
pub(crate) type Key = (FolderId, String);

/// Whether the run keeps watching or ends once everything pending is done.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    /// `ferry sync` and the desktop app.
    Watch,
    /// `ferry sync --once`.
    Once,
}

/// What the core's decisions depend on.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct CoreOptions {
    /// Jobs at once (at least one).
    pub(crate) concurrency: usize,
    /// How long a changed file must stay unchanged before it is examined.
    pub(crate) quiet_period: Duration,
    /// Full scans of a watched folder.
    pub(crate) rescan_every: Duration,
    /// Full scans of a folder whose OS watcher failed.
    pub(crate) fallback_rescan_every: Duration,
    /// Spacing of later attempts at a file that failed in a way retrying can fix.
    pub(crate) file_retry: RetryPolicy,
    /// Files at least this large are sent as parallel partial uploads.
    pub(crate) parallel_from: u64,
}

/// What examining a path led to (the planner's operation, carried out by the driver).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Examined {
    /// Its job runs and its facts are the ones that job started with: left alone.
    Unchanged,
    /// Nothing to send now: ignored, gone (recorded as deleted), or on the server already.
    Settled,
    /// To be sent.
    Send {
        /// Its size now (the queue's order).
        size: u64,
        /// Only its facts changed: the job hashes it and asks the planner again first.
        hash_first: bool,
        /// Its content (facts) differs from what the journal knew: an earlier failure's
        /// retry time no longer holds.
        changed: bool,
        /// Failed attempts the journal counts for it.
        attempts: u32,
    },
    /// The path could not be looked at (said to people; a later scan tries again).
    Failed(String),
}

/// How a job ended, as the core needs to know it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum JobEnd {
    /// On the server (`bytes` put on the wire).
    Uploaded {
        /// Bytes sent.
        bytes: u64,
    },
    /// Its content had not changed (a touch): nothing sent.
    Unchanged,
    /// The file changed under the upload: it goes again once it is quiet.
    FileChanged,
    /// It failed; `retryable` says whether trying again later can help.
    Failed {
        /// What went wrong, for people.
        message: String,
        /// Trying again later can help.
        retryable: bool,
        /// The server refused the sign-in.
        unauthorized: bool,
        /// The server is out of space: tried again after minutes, not seconds.
        server_full: bool,
        /// The server could not be reached (the connection, not this file).
        unreachable: bool,
    },
}

/// A file to send, as the core hands it to the driver.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct StartJob {
    /// The file.
    pub(crate) key: Key,
    /// The job's id (a job's end names it; ends of stopped jobs are ignored).
    pub(crate) id: u64,
    /// Hash it and ask the planner again before sending.
    pub(crate) hash_first: bool,
    /// Send it as parallel partial uploads where the server offers them.
    pub(crate) parallel: bool,
}

/// What the core tells people (the driver turns it into events and live views).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Notice {
    /// Joined the queue.
    Queued(Key, u64),
    /// Left the queue (done, settled, parked, or no longer wanted).
    Left(Key),
    /// Waits to be tried again after `message`.
    Retrying {
        /// The file.
        key: Key,
        /// Its failed attempts so far.
        attempt: u32,
        /// The wait.
        delay: Duration,
        /// The error.
        message: String,
        /// The server could not be reached (the connection, not this file).
        unreachable: bool,
        /// The server is out of space (the server, not this file).
        server_full: bool,
    },
    /// Everything (`None`) or one folder was paused.
    Paused(Option<FolderId>),
    /// Everything (`None`) or one folder was resumed.
    Resumed(Option<FolderId>),
    /// A server refused the sign-in of a folder's account.
    SignedOut(FolderId),
    /// The list of parked files may have changed.
    FailuresChanged,
    /// Something people should know (a path that could not be examined).
    Warning(String),
}

/// What the core asks the driver to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Action {
    /// Examine these paths with the planner and report each with `handle_examined`.
    /// `renamed_to` names where a path went when the watcher saw a rename.
    Examine(Vec<(Key, Option<String>)>),
    /// Scan this folder whole and report with `handle_scanned`.
    Scan(FolderId),
    /// Start this job.
    Start(StartJob),
    /// Stop the job of this file (its end, if it still comes, is ignored).
    Stop(Key),
    /// Record a failed attempt in the journal; `retry_in` is when to try again (`None`:
    /// parked until the user retries or the file changes).
    RecordFailure {
        /// The file.
        key: Key,
        /// What went wrong.
        message: String,
        /// When to try again.
        retry_in: Option<Duration>,
    },
    /// Forget the journal's count of failures of this file (it was uploaded).
    ClearFailure(Key),
    /// Forget the server's discovery and tokens of this folder's account.
    ForgetServer(FolderId),
    /// Tell people.
    Notify(Notice),
}

/// A synced folder as the core knows it.
#[derive(Debug, Clone)]
struct FolderState {
    paused: bool,
    /// Held back by the system's state or the schedule (not the user's pause).
    held: bool,
    /// Its OS watcher failed: scanned on the fallback interval.
    fallback: bool,
    next_scan: Instant,
}

/// A job under way.
#[derive(Debug, Clone, Copy)]
struct Running {
    id: u64,
    /// The file's size when it started.
    size: u64,
}

/// What a run did, for `ferry sync --once`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Tally {
    /// Files uploaded.
    pub(crate) uploaded: usize,
    /// Bytes put on the wire.
    pub(crate) bytes_sent: u64,
    /// Touched files whose content had not changed.
    pub(crate) unchanged: usize,
    /// Files that failed, with why.
    pub(crate) failed: Vec<(Key, String)>,
}

/// The machine; see the module's documentation.
#[derive(Debug)]
pub(crate) struct SyncCore {
    options: CoreOptions,
    mode: Mode,
    paused: bool,
    /// Everything is held back by the system's state or the schedule.
    held: bool,
    folders: HashMap<FolderId, FolderState>,
    /// Changed paths and when they may be examined (the end of their quiet period).
    dirty: HashMap<Key, Instant>,
    /// Paths renamed away, with the relative path they went to.
    renamed: HashMap<Key, String>,
    /// Files ready to go, small first.
    waiting: BTreeSet<(u64, Key)>,
    waiting_sizes: HashMap<Key, u64>,
    /// Queued files that are hashed and planned again before anything is sent.
    hash_first: HashSet<Key>,
    /// Files waiting for their retry time.
    retry_at: HashMap<Key, Instant>,
    /// Failed attempts in a row, and the last wait, of files that failed.
    attempts: HashMap<Key, (u32, Duration)>,
    /// Files the journal counts failures of (cleared once they are uploaded).
    failures_recorded: HashSet<Key>,
    running: HashMap<Key, Running>,
    next_job: u64,
    /// Scans asked for and not yet reported.
    scanning: HashSet<FolderId>,
    /// Examinations asked for and not yet reported.
    examining: HashSet<Key>,
    actions: VecDeque<Action>,
    tally: Tally,
    /// The retry jitter's draws (seeded by the driver: tests replay them).
    rng: rand::rngs::StdRng,
}

impl SyncCore {
    /// A core with no folders yet; `seed` seeds the retry jitter.
    pub(crate) fn new(options: CoreOptions, mode: Mode, seed: u64) -> Self {
        Self {
            options,
            mode,
            paused: false,
            held: false,
            folders: HashMap::new(),
            dirty: HashMap::new(),
            renamed: HashMap::new(),
            waiting: BTreeSet::new(),
            waiting_sizes: HashMap::new(),
            hash_first: HashSet::new(),
            retry_at: HashMap::new(),
            attempts: HashMap::new(),
            failures_recorded: HashSet::new(),
            running: HashMap::new(),
            next_job: 0,
            scanning: HashSet::new(),
            examining: HashSet::new(),
            actions: VecDeque::new(),
            tally: Tally::default(),
            rng: rand::SeedableRng::seed_from_u64(seed),
        }
    }

    /// The next thing to do, in order; `None` when there is nothing until the next fact.
    pub(crate) fn poll_action(&mut self) -> Option<Action> {
        self.actions.pop_front()
    }

    /// When the core wants [`SyncCore::handle_timeout`] at the latest: the end of a quiet
    /// period, a retry time, a folder's next scan. `None`: only new facts matter.
    pub(crate) fn poll_timeout(&self) -> Option<Instant> {
        if self.paused || self.held {
            return None;
        }
        let scans = self
            .folders
            .values()
            .filter(|_| self.mode == Mode::Watch)
            .map(|f| f.next_scan);
        let dirty = self
            .dirty
            .iter()
            .filter(|(key, _)| self.active(key.0) && !self.examining.contains(*key))
            .map(|(_, at)| *at);
        scans
            .chain(dirty)
            .chain(self.retry_at.values().copied())
            .min()
    }

    /// Whether all syncing is paused.
    pub(crate) fn is_paused(&self) -> bool {
        self.paused
    }

    /// Whether a one-shot run is done: nothing dirty, queued, examined, scanned or running.
    pub(crate) fn is_idle(&self) -> bool {
        self.dirty.is_empty()
            && self.waiting.is_empty()
            && self.running.is_empty()
            && self.scanning.is_empty()
            && self.examining.is_empty()
    }

    /// Whether a job for `key` runs.
    pub(crate) fn is_running(&self, key: &Key) -> bool {
        self.running.contains_key(key)
    }

    /// The files waiting for a retry time (what "retry now" also covers).
    pub(crate) fn retrying(&self) -> impl Iterator<Item = &Key> {
        self.retry_at.keys()
    }

    /// What the run did so far (taken).
    pub(crate) fn take_tally(&mut self) -> Tally {
        std::mem::take(&mut self.tally)
    }

    fn push(&mut self, action: Action) {
        self.actions.push_back(action);
    }

    fn notify(&mut self, notice: Notice) {
        self.push(Action::Notify(notice));
    }
}

impl From<&crate::sync::SyncOptions> for CoreOptions {
    fn from(options: &crate::sync::SyncOptions) -> Self {
        Self {
            concurrency: options.concurrency,
            quiet_period: options.quiet_period,
            rescan_every: options.rescan_every,
            fallback_rescan_every: options.fallback_rescan_every,
            file_retry: options.file_retry,
            parallel_from: PARALLEL_FROM,
        }
    }
}
