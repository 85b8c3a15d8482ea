//! The running engine's live state as a file in its home (`status.json`), rewritten at most
//! twice a second and at least every few seconds, so that `ferry status` in another process
//! can show what a `ferry sync` is doing: each folder's watcher state and warnings, the
//! queue with progress, the failures. Written atomically (temp file + rename).

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use super::engine::FolderSync;
use super::status::{Activity, Overview};

/// The name of the file in the home directory.
pub const STATUS_FILE: &str = "status.json";

/// A report older than this says the engine that wrote it is gone.
pub const STALE_AFTER: Duration = Duration::from_secs(15);

/// How often the report is rewritten when nothing changed (the heartbeat).
const HEARTBEAT: Duration = Duration::from_secs(5);

/// How many files of the queue the report lists.
const QUEUE_SHOWN: usize = 50;

/// The least time between two writes.
const MIN_GAP: Duration = Duration::from_millis(500);

/// What a running engine reports.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    /// The engine's process.
    pub pid: u32,
    /// When this was written (unix milliseconds).
    pub updated_at_ms: i64,
    /// The one-line state.
    pub overview: Overview,
    /// Each folder's live state.
    pub folders: Vec<FolderSync>,
    /// The queue and the failures.
    pub activity: Activity,
}

impl Report {
    /// The report of the engine running on the home at `home_dir`, if one runs (a report
    /// that is missing, unreadable or stale says none does).
    #[expect(
        clippy::disallowed_methods,
        reason = "blocking by design: `ferry status` reads the report on the blocking pool"
    )]
    pub fn read(home_dir: &Path) -> Option<Self> {
        let text = std::fs::read_to_string(home_dir.join(STATUS_FILE)).ok()?;
        let report: Self = serde_json::from_str(&text).ok()?;
        let age = super::now_ms().saturating_sub(report.updated_at_ms);
        (u128::from(u64::try_from(age).unwrap_or(u64::MAX)) < STALE_AFTER.as_millis())
            .then_some(report)
    }
}

/// Writes reports, not too often.
pub(crate) struct Reporter {
    path: PathBuf,
    last: Option<(Instant, String)>,
    /// Held while the report is written or removed.
    writing: Arc<Mutex<()>>,
}

impl Reporter {
    pub(crate) fn new(home_dir: &Path) -> Self {
        Self {
            path: home_dir.join(STATUS_FILE),
            last: None,
            writing: Arc::default(),
        }
    }

    /// Writes the state if it changed (and the last write is not too recent) or the
    /// heartbeat is due, at `now` (the driver's clock); returns when to call again at the
    /// latest.
    pub(crate) fn offer(
        &mut self,
        now: Instant,
        overview: Overview,
        folders: Vec<FolderSync>,
        activity: Activity,
    ) -> Instant {
        let mut activity = activity;
        // The head of the queue is what people look at; the totals cover all of it.
        activity.queue.truncate(QUEUE_SHOWN);
        let mut report = Report {
            pid: std::process::id(),
            updated_at_ms: 0,
            overview,
            folders,
            activity,
        };
        let content = serde_json::to_string(&report).unwrap_or_default();
        let (due, changed) = match &self.last {
            None => (true, true),
            Some((at, last)) => {
                let since = now.duration_since(*at);
                let changed = *last != content;
                (since >= HEARTBEAT || (since >= MIN_GAP && changed), changed)
            }
        };
        if due {
            report.updated_at_ms = super::now_ms();
            if let Ok(text) = serde_json::to_string_pretty(&report) {
                let (path, writing) = (self.path.clone(), Arc::clone(&self.writing));
                // On the blocking pool, one write at a time (they share the temporary file).
                tokio::task::spawn_blocking(move || {
                    let _one = writing.lock().unwrap_or_else(PoisonError::into_inner);
                    let temp = path.with_extension("json.tmp");
                    #[expect(clippy::disallowed_methods, reason = "on the blocking pool")]
                    let written =
                        std::fs::write(&temp, text).and_then(|()| std::fs::rename(&temp, &path));
                    if let Err(err) = written {
                        tracing::debug!(%err, "cannot write the status report");
                    }
                });
            }
            self.last = Some((now, content));
            return now + HEARTBEAT;
        }
        let at = self.last.as_ref().map_or(now, |(at, _)| *at);
        if changed {
            at + MIN_GAP
        } else {
            at + HEARTBEAT
        }
    }

    /// Removes the report (the engine stops), after any write still under way.
    pub(crate) async fn remove(&self) {
        let (path, writing) = (self.path.clone(), Arc::clone(&self.writing));
        let _ = tokio::task::spawn_blocking(move || {
            let _one = writing.lock().unwrap_or_else(PoisonError::into_inner);
            #[expect(clippy::disallowed_methods, reason = "on the blocking pool")]
            let _ = std::fs::remove_file(path);
        })
        .await;
    }
}
