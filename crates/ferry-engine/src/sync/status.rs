//! What folder sync is doing, for people: the live queue with progress, speed and ETA, the
//! failed files, each folder's watcher state, and a one-line overview. The tracker is fed the
//! engine's own events (and told of queue changes); the views serialize exactly as
//! `docs/desktop.md` describes them. Knows nothing of how they are shown.

use std::collections::{BTreeMap, VecDeque};
use std::time::{Duration, Instant};

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
    /// Waiting to try again after an error that retrying can fix.
    Retrying,
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
    /// Where it stands.
    pub state: QueueState,
    /// Bytes per second over the last few seconds (0 if unknown).
    pub speed: u64,
    /// Seconds left at that speed, if it is known.
    pub eta_secs: Option<u64>,
    /// The last retryable error, while retrying.
    pub error: Option<String>,
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
}

/// What the tray and the window header show.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Overview {
    /// The state.
    pub state: OverallState,
    /// Files being sent.
    pub uploading: usize,
    /// Files waiting (or waiting for a retry).
    pub queued: usize,
    /// Files failed.
    pub failed: usize,
    /// The state in words.
    pub message: String,
}

#[derive(Debug)]
struct Tracked {
    folder: Option<String>,
    size: u64,
    confirmed: u64,
    state: QueueState,
    samples: VecDeque<(Instant, u64)>,
    error: Option<String>,
    order: u64,
}

/// The live queue, fed by the engine.
#[derive(Debug, Default)]
pub(crate) struct Tracker {
    items: BTreeMap<String, Tracked>,
    next_order: u64,
    /// Sign-in refused by a server (cleared when an upload succeeds).
    pub(crate) signed_out: bool,
}

impl Tracker {
    /// `path` waits for its turn.
    pub(crate) fn queued(&mut self, path: &str, folder: Option<&str>, size: u64) {
        let order = self.next_order;
        self.next_order += 1;
        let item = self.items.entry(path.to_owned()).or_insert(Tracked {
            folder: folder.map(str::to_owned),
            size,
            confirmed: 0,
            state: QueueState::Queued,
            samples: VecDeque::new(),
            error: None,
            order,
        });
        item.size = size;
        if item.state != QueueState::Uploading {
            item.state = QueueState::Queued;
        }
    }

    /// `path` left the queue (finished, failed for good, deleted or no longer wanted).
    pub(crate) fn remove(&mut self, path: &str) {
        self.items.remove(path);
    }

    /// `path` waits for a retry after `error`.
    pub(crate) fn retrying(&mut self, path: &str, error: &str) {
        if let Some(item) = self.items.get_mut(path) {
            item.state = QueueState::Retrying;
            item.error = Some(error.to_owned());
            item.samples.clear();
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
                    item.error = None;
                    item.samples.clear();
                    item.samples.push_back((now, *resumed_from));
                }
            }
            Event::Progress {
                path, confirmed, ..
            } => {
                if let Some(item) = self.items.get_mut(path) {
                    item.state = QueueState::Uploading;
                    item.confirmed = *confirmed;
                    item.samples.push_back((now, *confirmed));
                    while item
                        .samples
                        .front()
                        .is_some_and(|(t, _)| now.duration_since(*t) > SPEED_WINDOW)
                        && item.samples.len() > 2
                    {
                        item.samples.pop_front();
                    }
                }
            }
            // Gone from the queue as soon as it is said, so that whoever reads the overview
            // on this very event sees it gone.
            Event::Finished { path, .. } => {
                self.items.remove(path);
                self.signed_out = false;
            }
            _ => {}
        }
    }

    /// The queue as people see it, with `failed` from the journal.
    pub(crate) fn activity(&self, paused: bool, failed: Vec<Failure>) -> Activity {
        let mut queue: Vec<(&String, &Tracked)> = self.items.iter().collect();
        queue.sort_by_key(|(_, t)| (t.state != QueueState::Uploading, t.order));
        let queue: Vec<QueueItem> = queue
            .into_iter()
            .map(|(path, t)| {
                let speed = speed(&t.samples);
                QueueItem {
                    path: path.clone(),
                    folder: t.folder.clone(),
                    size: t.size,
                    confirmed: t.confirmed,
                    state: t.state,
                    speed,
                    eta_secs: (speed > 0)
                        .then(|| t.size.saturating_sub(t.confirmed).div_ceil(speed)),
                    error: t.error.clone(),
                }
            })
            .collect();
        Activity {
            paused,
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
        let missing: Vec<&str> = folders
            .iter()
            .filter(|f| f.watcher == WatcherState::Missing)
            .map(|f| f.path.as_str())
            .collect();
        let folders = folders.len();
        let uploading = self
            .items
            .values()
            .filter(|t| t.state == QueueState::Uploading)
            .count();
        let queued = self.items.len() - uploading;
        let plural = |n: usize| if n == 1 { "file" } else { "files" };
        let (state, message) = if folders == 0 {
            (
                OverallState::NoFolders,
                "No folders are synced yet".to_owned(),
            )
        } else if self.signed_out {
            (
                OverallState::SignedOut,
                "Signed out: sign in again to go on uploading".to_owned(),
            )
        } else if paused {
            (OverallState::Paused, "Paused".to_owned())
        } else if uploading + queued > 0 {
            // Only what is being sent counts as uploading; the rest waits (its turn, or a
            // retry), and is said so.
            let retrying = self
                .items
                .values()
                .filter(|t| t.state == QueueState::Retrying)
                .count();
            let message = match (uploading, retrying) {
                (0, 0) => format!("{queued} {} waiting", plural(queued)),
                (0, r) if r == queued => format!("Retrying {r} {}", plural(r)),
                (0, r) => format!("Retrying {r} {}, {} waiting", plural(r), queued - r),
                (u, _) if queued == 0 => format!("Uploading {u} {}", plural(u)),
                (u, _) => format!("Uploading {u} {}, {queued} waiting", plural(u)),
            };
            (OverallState::Uploading, message)
        } else if let [one] = missing.as_slice() {
            (
                OverallState::Problem,
                format!("{one} is missing (moved, or on a drive that is not plugged in)"),
            )
        } else if !missing.is_empty() {
            (
                OverallState::Problem,
                format!(
                    "{} synced folders are missing (moved, or on a drive that is not plugged in)",
                    missing.len()
                ),
            )
        } else if failed > 0 {
            (
                OverallState::Problem,
                format!("{failed} {} failed", plural(failed)),
            )
        } else {
            (OverallState::UpToDate, "Everything is uploaded".to_owned())
        };
        Overview {
            state,
            uploading,
            queued,
            failed,
            message,
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    /// A folder watched as usual.
    fn watched(path: &str) -> crate::sync::FolderSync {
        crate::sync::FolderSync {
            path: path.to_owned(),
            watcher: WatcherState::Watching,
            warning: None,
        }
    }

    fn progress(path: &str, confirmed: u64) -> Event {
        Event::Progress {
            path: path.into(),
            confirmed,
            size: 1000,
        }
    }

    #[test]
    fn the_queue_shows_uploads_first_with_speed_and_eta() {
        let mut tracker = Tracker::default();
        let t0 = Instant::now();
        tracker.queued("/f/a", Some("/f"), 1000);
        tracker.queued("/f/b", Some("/f"), 1000);
        tracker.on_event(
            &Event::Started {
                path: "/f/b".into(),
                protocol: crate::target::Protocol::Tus,
                size: 1000,
                resumed_from: 100,
            },
            t0,
        );
        tracker.on_event(&progress("/f/b", 300), t0 + Duration::from_secs(1));
        tracker.on_event(&progress("/f/b", 500), t0 + Duration::from_secs(2));
        let activity = tracker.activity(false, Vec::new());
        let paths: Vec<&str> = activity.queue.iter().map(|q| q.path.as_str()).collect();
        assert_eq!(paths, ["/f/b", "/f/a"], "the upload under way comes first");
        let b = &activity.queue[0];
        assert_eq!(
            (b.state, b.confirmed, b.speed),
            (QueueState::Uploading, 500, 200)
        );
        assert_eq!(b.eta_secs, Some(3), "500 bytes left at 200 B/s");
        assert_eq!(
            activity.queue[1].eta_secs, None,
            "nothing known of a queued file"
        );
        assert_eq!(
            (activity.total_bytes, activity.confirmed_bytes),
            (2000, 500)
        );
    }

    #[test]
    fn the_overview_names_the_most_pressing_state() {
        let mut tracker = Tracker::default();
        let folder = |path: &str, watcher| crate::sync::FolderSync {
            path: path.to_owned(),
            watcher,
            warning: None,
        };
        let one = [folder("/f", WatcherState::Watching)];
        assert_eq!(
            tracker.overview(false, 0, &[]).state,
            OverallState::NoFolders
        );
        assert_eq!(
            tracker.overview(false, 0, &one).state,
            OverallState::UpToDate
        );
        assert_eq!(
            tracker.overview(false, 2, &one).message,
            "2 files failed",
            "failures show when nothing else is going on"
        );
        tracker.queued("/f/a", None, 1);
        let overview = tracker.overview(false, 2, &one);
        assert_eq!(
            (overview.state, overview.message.as_str()),
            (OverallState::Uploading, "1 file waiting"),
            "a file waiting for its turn is not said to be uploading"
        );
        for (path, size) in [("/f/b", 2), ("/f/c", 3)] {
            tracker.queued(path, None, size);
        }
        tracker.on_event(&progress("/f/a", 0), Instant::now());
        assert_eq!(
            tracker.overview(false, 0, &one).message,
            "Uploading 1 file, 2 waiting"
        );
        tracker.retrying("/f/b", "server unreachable");
        tracker.retrying("/f/a", "server unreachable");
        assert_eq!(
            tracker.overview(false, 0, &one).message,
            "Retrying 2 files, 1 waiting"
        );
        tracker.remove("/f/c");
        assert_eq!(tracker.overview(false, 0, &one).message, "Retrying 2 files");
        tracker.remove("/f/b");
        tracker.on_event(&progress("/f/a", 1), Instant::now());
        assert_eq!(tracker.overview(false, 0, &one).message, "Uploading 1 file");
        assert_eq!(tracker.overview(true, 0, &one).state, OverallState::Paused);
        tracker.signed_out = true;
        assert_eq!(
            tracker.overview(true, 0, &one).state,
            OverallState::SignedOut
        );
        tracker.remove("/f/a");
        tracker.signed_out = false;
        assert_eq!(
            tracker.overview(false, 0, &one).state,
            OverallState::UpToDate
        );
        let gone = [
            folder("/f", WatcherState::Watching),
            folder("/usb/photos", WatcherState::Missing),
        ];
        assert_eq!(
            (
                tracker.overview(false, 0, &gone).state,
                tracker.overview(false, 0, &gone).message.as_str()
            ),
            (
                OverallState::Problem,
                "/usb/photos is missing (moved, or on a drive that is not plugged in)"
            ),
            "a missing folder is not \"Everything is uploaded\""
        );
    }

    #[test]
    fn the_views_serialize_as_the_desktop_contract_says() {
        let mut tracker = Tracker::default();
        tracker.queued("/f/a", Some("/f"), 10);
        tracker.retrying("/f/a", "server unreachable");
        let json = serde_json::to_value(tracker.activity(true, Vec::new())).unwrap();
        assert_eq!(
            json["queue"][0],
            serde_json::json!({"path": "/f/a", "folder": "/f", "size": 10, "confirmed": 0,
                "state": "retrying", "speed": 0, "etaSecs": null, "error": "server unreachable"})
        );
        assert_eq!(json["totalBytes"], 10);
        let overview = serde_json::to_value(tracker.overview(false, 0, &[watched("/f")])).unwrap();
        assert_eq!(overview["state"], "uploading");
    }

    #[test]
    fn a_finished_file_leaves_the_queue_as_its_event_is_seen() {
        let mut tracker = Tracker::default();
        tracker.queued("/f/a", None, 5);
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
}
