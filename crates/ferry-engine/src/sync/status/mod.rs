//! What folder sync is doing, for people: the live queue with progress, speed and ETA, the
//! failed files, each folder's watcher state, and a one-line overview. The tracker is fed the
//! engine's own events (and told of queue changes); the views serialize exactly as
//! `docs/desktop.md` describes them. Knows nothing of how they are shown.

mod overview;
#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, VecDeque};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use crate::events::Event;

/// How far back the speed of an upload is measured.
const SPEED_WINDOW: Duration = Duration::from_secs(5);

/// Where a file in the queue stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum QueueState {
    /// Waiting for its turn.
    Queued,
    /// Being sent.
    Uploading,
    /// Waiting to try again after an error that retrying can fix (with
    /// `waiting_for_server` when the server could not be reached).
    Retrying,
    /// Its folder, or everything, is paused.
    Paused,
}

/// A file in the queue.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct QueueItem {
    /// The file, absolute.
    pub path: String,
    /// Its synced folder.
    pub folder: Option<String>,
    /// Its size in bytes.
    pub size: u64,
    /// Bytes the server confirmed.
    pub confirmed: u64,
    /// Bytes on their way or confirmed (at least `confirmed`): what bars show, so that
    /// they move between confirmations.
    #[serde(default)]
    pub sent: u64,
    /// Where it stands.
    pub state: QueueState,
    /// Bytes per second over the last few seconds of bytes handed to the network in this
    /// run (what the server held already is not speed); 0 when not being sent.
    pub speed: u64,
    /// Seconds left at that speed, if it is known.
    pub eta_secs: Option<u64>,
    /// The last retryable error, while retrying.
    pub error: Option<String>,
    /// Its place among the files waiting for their turn (1 for the next), while queued.
    #[serde(default)]
    pub position: Option<usize>,
    /// The server could not be reached: it waits for the server, not for a fix.
    #[serde(default)]
    pub waiting_for_server: bool,
    /// The server is out of space: it waits for space there.
    #[serde(default)]
    pub waiting_for_space: bool,
    /// When it is tried again (unix milliseconds), while retrying.
    #[serde(default)]
    pub retry_at_ms: Option<i64>,
}

/// A file that failed for good (until the user retries or the file changes).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Failure {
    /// The file, absolute.
    pub path: String,
    /// Its synced folder.
    pub folder: Option<String>,
    /// What went wrong and what to do.
    pub error: String,
    /// Whether retrying without a change cannot help.
    pub permanent: bool,
    /// When it failed (unix milliseconds), if known.
    pub at_ms: i64,
}

/// The queue and the failures.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Activity {
    /// Whether all syncing is paused.
    pub paused: bool,
    /// Why everything waits, if it does: a state, not an error.
    #[serde(default)]
    pub hold: Option<crate::sync::holds::Hold>,
    /// The rate the bandwidth schedule sets now.
    #[serde(default)]
    pub scheduled: Option<crate::sync::holds::ScheduledRate>,
    /// Uploading first, then the rest in the order they will go.
    pub queue: Vec<QueueItem>,
    /// Files parked after a permanent failure.
    pub failed: Vec<Failure>,
    /// Bytes over the queue.
    pub total_bytes: u64,
    /// Bytes of the queue the server confirmed.
    pub confirmed_bytes: u64,
}

/// The state of a folder's watching.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WatcherState {
    /// The OS tells Ferry of every change.
    Watching,
    /// The OS watcher failed; Ferry rescans the folder periodically instead.
    Rescanning,
    /// The folder is paused.
    Paused,
    /// The engine does not run for it (e.g. `ferry sync --once`).
    Stopped,
    /// Just added: the running engine has not taken it up yet (it does within moments).
    Starting,
    /// The folder is not there (moved or renamed, or on a drive that is not plugged in):
    /// nothing in it is uploaded or taken for deleted until it is back; Ferry looks for it
    /// again periodically.
    Missing,
}

/// The one-line state of everything.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OverallState {
    /// Every file is uploaded.
    UpToDate,
    /// Files are being uploaded.
    Uploading,
    /// Syncing is paused.
    Paused,
    /// Some files failed.
    Problem,
    /// A server refused the sign-in.
    SignedOut,
    /// No folder is synced.
    NoFolders,
    /// A server cannot be reached: its files wait, and are tried again by themselves.
    Offline,
}

/// What is wrong with the connection to a server, when something is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConnectionState {
    /// Nothing answers (down, no network, refused, timed out).
    Unreachable,
    /// The server refused the sign-in.
    SignedOut,
    /// The server has no room for more (507, or a quota): files are tried again after
    /// minutes, and go on from the server's offset once space is freed.
    OutOfSpace,
}

/// The connection trouble with one server, shown once (header, tray, a banner), not on
/// every file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Connection {
    /// The server, as the folders name it (empty when not known).
    pub server: String,
    /// What is wrong.
    pub state: ConnectionState,
    /// When the next file is tried again (unix milliseconds), if one waits.
    pub retry_at_ms: Option<i64>,
    /// The technical detail (the last error), for a "Details" toggle.
    pub detail: Option<String>,
    /// Files waiting on it.
    pub files: usize,
}

/// What the tray and the window header show.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Overview {
    /// The state.
    pub state: OverallState,
    /// Files being sent.
    pub uploading: usize,
    /// Files waiting (for their turn, a retry, the server, or a resume).
    pub queued: usize,
    /// Files failed.
    pub failed: usize,
    /// The state in words.
    pub message: String,
    /// The trouble with a server's connection, if any.
    #[serde(default)]
    pub connection: Option<Connection>,
    /// Why everything waits, if it does: a state, not an error.
    #[serde(default)]
    pub hold: Option<crate::sync::holds::Hold>,
    /// The rate the bandwidth schedule sets now.
    #[serde(default)]
    pub scheduled: Option<crate::sync::holds::ScheduledRate>,
}

#[derive(Debug)]
struct Tracked {
    folder: Option<String>,
    server: Option<String>,
    size: u64,
    confirmed: u64,
    /// Bytes on their way or confirmed ([`Event::Sent`]).
    sent: u64,
    state: QueueState,
    /// Bytes sent over time, since the first progress of this run: what a resume found on
    /// the server is the baseline, not speed.
    samples: VecDeque<(Instant, u64)>,
    /// Started, and no progress seen yet: the next progress is the baseline.
    baseline_pending: bool,
    error: Option<String>,
    unreachable: bool,
    server_full: bool,
    retry_at_ms: Option<i64>,
    order: u64,
}

impl Tracked {
    /// Its bytes got to `position` at `now` (sent or confirmed): it is being sent, and the
    /// speed window takes the sample.
    fn moved(&mut self, now: Instant, position: u64) {
        let was_waiting = self.state == QueueState::Retrying;
        self.state = QueueState::Uploading;
        self.error = None;
        self.retry_at_ms = None;
        let went_back = self.samples.back().is_some_and(|(_, p)| position < *p);
        if std::mem::take(&mut self.baseline_pending) || was_waiting || went_back {
            // What the server held when this run (or this retry) began is not speed: it is
            // where the measuring starts. Bytes lost in a failed request are not either.
            self.samples.clear();
        }
        self.sent = position;
        self.samples.push_back((now, position));
        while self
            .samples
            .front()
            .is_some_and(|(t, _)| now.duration_since(*t) > SPEED_WINDOW)
            && self.samples.len() > 2
        {
            self.samples.pop_front();
        }
    }
}

/// The live queue, fed by the engine.
#[derive(Debug, Default)]
pub(crate) struct Tracker {
    items: BTreeMap<String, Tracked>,
    next_order: u64,
    /// Sign-in refused by a server (cleared when an upload succeeds).
    pub(crate) signed_out: bool,
    /// Why everything waits, if it does (sleep, a metered connection, the schedule...).
    pub(crate) hold: Option<crate::sync::holds::Hold>,
    /// The rate the schedule sets now.
    pub(crate) scheduled: Option<crate::sync::holds::ScheduledRate>,
}

/// Unix milliseconds `delay` from now.
fn ms_from_now(delay: Duration) -> i64 {
    let at = SystemTime::now() + delay;
    at.duration_since(UNIX_EPOCH)
        .ok()
        .and_then(|d| i64::try_from(d.as_millis()).ok())
        .unwrap_or(i64::MAX)
}

impl Tracker {
    /// `path` of `folder` (whose server is `server`) waits for its turn.
    pub(crate) fn queued(
        &mut self,
        path: &str,
        folder: Option<&str>,
        server: Option<&str>,
        size: u64,
    ) {
        let order = self.next_order;
        self.next_order += 1;
        let item = self.items.entry(path.to_owned()).or_insert(Tracked {
            folder: folder.map(str::to_owned),
            server: server.map(str::to_owned),
            size,
            confirmed: 0,
            sent: 0,
            state: QueueState::Queued,
            samples: VecDeque::new(),
            baseline_pending: false,
            error: None,
            unreachable: false,
            server_full: false,
            retry_at_ms: None,
            order,
        });
        item.size = size;
        if item.state != QueueState::Uploading {
            item.state = QueueState::Queued;
            item.order = order;
            item.retry_at_ms = None;
        }
    }

    /// Whether `path` waits for a retry (inside its upload, or for the core's next try).
    pub(crate) fn is_retrying(&self, path: &str) -> bool {
        self.items
            .get(path)
            .is_some_and(|t| t.state == QueueState::Retrying)
    }

    /// `path` left the queue (finished, failed for good, deleted or no longer wanted).
    pub(crate) fn remove(&mut self, path: &str) {
        self.items.remove(path);
    }

    /// The server of `path` answered: every file of that server stops waiting for it.
    fn reached(&mut self, path: &str) {
        let Some(server) = self.items.get(path).and_then(|t| t.server.clone()) else {
            return;
        };
        for item in self.items.values_mut() {
            if item.server.as_deref() == Some(server.as_str()) {
                item.unreachable = false;
                item.server_full = false;
            }
        }
    }

    /// Takes in an engine event at `now`.
    pub(crate) fn on_event(&mut self, event: &Event, now: Instant) {
        match event {
            Event::Started {
                path,
                size,
                resumed_from,
                ..
            } => {
                if let Some(item) = self.items.get_mut(path) {
                    item.state = QueueState::Uploading;
                    item.size = *size;
                    item.confirmed = *resumed_from;
                    item.sent = *resumed_from;
                    item.error = None;
                    item.retry_at_ms = None;
                    item.samples.clear();
                    item.baseline_pending = true;
                }
            }
            Event::Progress {
                path, confirmed, ..
            } => {
                if let Some(item) = self.items.get_mut(path) {
                    item.confirmed = *confirmed;
                    item.moved(now, item.sent.max(*confirmed));
                }
                self.reached(path);
            }
            Event::Sent { path, sent, .. } => {
                if let Some(item) = self.items.get_mut(path) {
                    item.moved(now, (*sent).max(item.confirmed));
                }
                self.reached(path);
            }
            Event::Retrying {
                path,
                delay_ms,
                error,
                unreachable,
                server_full,
                ..
            } => {
                if let Some(item) = self.items.get_mut(path) {
                    item.state = QueueState::Retrying;
                    item.error = Some(error.clone());
                    item.unreachable = *unreachable;
                    item.server_full = *server_full && !*unreachable;
                    item.retry_at_ms = Some(ms_from_now(Duration::from_millis(*delay_ms)));
                    item.sent = item.confirmed;
                    item.samples.clear();
                }
            }
            // Gone from the queue as soon as it is said, so that whoever reads the overview
            // on this very event sees it gone.
            Event::Finished { path, .. } => {
                self.reached(path);
                self.items.remove(path);
                self.signed_out = false;
            }
            _ => {}
        }
    }

    /// Where each file stands as people see it: paused when everything or its folder is.
    fn shown_state(t: &Tracked, paused: bool, paused_folders: &[&str]) -> QueueState {
        let folder_paused = t
            .folder
            .as_deref()
            .is_some_and(|f| paused_folders.contains(&f));
        if paused || folder_paused {
            QueueState::Paused
        } else {
            t.state
        }
    }

    /// The queue as people see it, with `failed` from the journal and the folders' live
    /// states (a paused folder's files are paused).
    pub(crate) fn activity(
        &self,
        paused: bool,
        failed: Vec<Failure>,
        folders: &[crate::sync::FolderSync],
    ) -> Activity {
        let paused_folders = paused_folders(folders);
        let paused = paused || self.hold.is_some();
        let mut queue: Vec<(&String, &Tracked, QueueState)> = self
            .items
            .iter()
            .map(|(p, t)| (p, t, Self::shown_state(t, paused, &paused_folders)))
            .collect();
        // Queued files go smallest first (the core's order), the others as they came.
        queue.sort_by_key(|(_, t, state)| {
            let size = if *state == QueueState::Queued {
                t.size
            } else {
                0
            };
            (rank(*state), size, t.order)
        });
        let mut waiting = 0;
        let queue: Vec<QueueItem> = queue
            .into_iter()
            .map(|(path, t, state)| {
                let speed = if state == QueueState::Uploading {
                    speed(&t.samples)
                } else {
                    0
                };
                let position = (state == QueueState::Queued).then(|| {
                    waiting += 1;
                    waiting
                });
                QueueItem {
                    path: path.clone(),
                    folder: t.folder.clone(),
                    size: t.size,
                    confirmed: t.confirmed,
                    sent: t.sent.max(t.confirmed),
                    state,
                    speed,
                    eta_secs: (speed > 0).then(|| {
                        t.size
                            .saturating_sub(t.sent.max(t.confirmed))
                            .div_ceil(speed)
                    }),
                    error: t.error.clone().filter(|_| state == QueueState::Retrying),
                    position,
                    waiting_for_server: t.unreachable && state == QueueState::Retrying,
                    waiting_for_space: t.server_full && state == QueueState::Retrying,
                    retry_at_ms: t.retry_at_ms.filter(|_| state == QueueState::Retrying),
                }
            })
            .collect();
        Activity {
            paused,
            hold: self.hold.clone(),
            scheduled: self.scheduled.clone(),
            total_bytes: queue.iter().map(|q| q.size).sum(),
            confirmed_bytes: queue.iter().map(|q| q.confirmed).sum(),
            queue,
            failed,
        }
    }

    /// The overview, given whether anything is paused, how many files failed, and the
    /// synced folders' live states.
    pub(crate) fn overview(
        &self,
        paused: bool,
        failed: usize,
        folders: &[crate::sync::FolderSync],
    ) -> Overview {
        let paused_folders = paused_folders(folders);
        let held = self.hold.as_ref().filter(|_| !paused);
        let paused = paused || held.is_some();
        let states: Vec<QueueState> = self
            .items
            .values()
            .map(|t| Self::shown_state(t, paused, &paused_folders))
            .collect();
        let count = |s: QueueState| states.iter().filter(|&&x| x == s).count();
        let counts = overview::Counts {
            folders: folders.len(),
            total: self.items.len(),
            uploading: count(QueueState::Uploading),
            retrying: count(QueueState::Retrying),
            paused: count(QueueState::Paused),
            failed,
        };
        let connection = self.connection(paused, &paused_folders);
        let mut overview = overview::overview(
            &counts,
            paused,
            self.signed_out,
            connection,
            &missing(folders),
        );
        if let Some(hold) = held.filter(|_| overview.state == OverallState::Paused) {
            // Paused by the system's state or the schedule: said with why (and until when).
            let mut message = capitalized(&hold.message);
            if counts.total > 0 {
                message = format!("{message}: {} waiting", files_word(counts.total));
            }
            overview.message = message;
        }
        overview.hold = held.cloned();
        overview.scheduled.clone_from(&self.scheduled);
        overview
    }

    /// The server whose files wait because it cannot be reached or has no space (the one
    /// with the most waiting files), with when the next of them is tried again. A server
    /// that cannot be reached at all says so rather than being full.
    fn connection(&self, paused: bool, paused_folders: &[&str]) -> Option<Connection> {
        let mut by_server: BTreeMap<&str, Connection> = BTreeMap::new();
        for t in self.items.values() {
            let trouble = if t.unreachable {
                ConnectionState::Unreachable
            } else if t.server_full {
                ConnectionState::OutOfSpace
            } else {
                continue;
            };
            if Self::shown_state(t, paused, paused_folders) != QueueState::Retrying {
                continue;
            }
            let server = t.server.as_deref().unwrap_or("");
            let entry = by_server.entry(server).or_insert_with(|| Connection {
                server: server.to_owned(),
                state: trouble,
                retry_at_ms: None,
                detail: None,
                files: 0,
            });
            if trouble == ConnectionState::Unreachable {
                entry.state = trouble;
            }
            entry.files += 1;
            if let Some(at) = t.retry_at_ms
                && entry.retry_at_ms.is_none_or(|known| at < known)
            {
                entry.retry_at_ms = Some(at);
                entry.detail.clone_from(&t.error);
            }
            if entry.detail.is_none() {
                entry.detail.clone_from(&t.error);
            }
        }
        by_server.into_values().max_by_key(|c| c.files)
    }
}

/// The paths of paused folders.
fn capitalized(text: &str) -> String {
    let mut chars = text.chars();
    chars.next().map_or_else(String::new, |first| {
        first.to_uppercase().chain(chars).collect()
    })
}

fn files_word(n: usize) -> String {
    format!("{n} {}", if n == 1 { "file" } else { "files" })
}

fn paused_folders(folders: &[crate::sync::FolderSync]) -> Vec<&str> {
    folders
        .iter()
        .filter(|f| f.watcher == WatcherState::Paused || f.hold.is_some())
        .map(|f| f.path.as_str())
        .collect()
}

/// The paths of missing folders.
fn missing(folders: &[crate::sync::FolderSync]) -> Vec<&str> {
    folders
        .iter()
        .filter(|f| f.watcher == WatcherState::Missing)
        .map(|f| f.path.as_str())
        .collect()
}

/// The order of the queue: what is being sent, then what goes next, then what waits.
fn rank(state: QueueState) -> u8 {
    match state {
        QueueState::Uploading => 0,
        QueueState::Queued => 1,
        QueueState::Retrying => 2,
        QueueState::Paused => 3,
    }
}

/// Bytes per second between the oldest and newest sample.
fn speed(samples: &VecDeque<(Instant, u64)>) -> u64 {
    let (Some(first), Some(last)) = (samples.front(), samples.back()) else {
        return 0;
    };
    let secs = last.0.duration_since(first.0).as_secs_f64();
    if secs < 0.2 {
        return 0;
    }
    #[expect(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        clippy::cast_precision_loss,
        reason = "a speed in bytes per second fits easily"
    )]
    let speed = (last.1.saturating_sub(first.1) as f64 / secs) as u64;
    speed
}
