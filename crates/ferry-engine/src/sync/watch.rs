//! The OS watcher: notify 8 behind notify-debouncer-full, recursive, with renames paired
//! (inotify's cookies on Linux, the debouncer's file-id cache elsewhere), turned into
//! [`WatchEvent`]s that say which watched folder they belong to.
//!
//! The debounce here is short (a few hundred ms) and only merges bursts; it does not decide
//! when a file is done being written — the engine holds each changed file until it has been
//! quiet for the configured time, and looks at the disk to see what changed. When the OS
//! watcher cannot keep up or cannot watch at all, this module says so ([`WatchEvent::Rescan`],
//! [`WatchEvent::Failed`]) instead of going quiet. Its queue to the engine is bounded: when
//! the engine falls behind, the folders whose reports did not fit are remembered
//! ([`Watcher::take_overflowed`]) and scanned whole, so no change is lost. It knows nothing
//! of the journal, uploads or ignore rules.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use notify::event::{AccessKind, AccessMode, ModifyKind, RenameMode};
use notify::{Error as NotifyError, ErrorKind, EventKind, RecursiveMode};
use notify_debouncer_full::{
    DebounceEventResult, DebouncedEvent, Debouncer, RecommendedCache, new_debouncer_opt,
};
use tokio::sync::mpsc::Sender;
use tokio::sync::mpsc::error::TrySendError;

use crate::error::EngineError;

/// What the watcher saw, for one watched folder (`root`, as given to [`Watcher::watch`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WatchEvent {
    /// Something at `path` (absolute) was created, modified or removed; the engine looks at the disk to see what.
    ///
    /// When `path` is a new directory, the engine scans it: files created in it before the
    /// OS watch on it was added are not reported one by one.
    Changed {
        /// The watched folder.
        root: PathBuf,
        /// The file or directory.
        path: PathBuf,
    },
    /// `from` was renamed to `to` (both absolute, both inside `root`). A rename into the folder from outside is `Changed{to}`; out of it, `Changed{from}`.
    ///
    /// Both may be directories, in which case everything below moved with them.
    Renamed {
        /// The watched folder.
        root: PathBuf,
        /// The old path.
        from: PathBuf,
        /// The new path.
        to: PathBuf,
    },
    /// Events may have been lost (queue overflow, a watch error on a subtree): rescan `root`.
    Rescan {
        /// The watched folder.
        root: PathBuf,
        /// Why, for the log.
        reason: String,
    },
    /// The OS watcher cannot watch `root` (e.g. the inotify watch limit): the engine falls back to periodic rescans and shows `message` (a sentence saying what happened and the fix, e.g. raising fs.inotify.max_user_watches).
    Failed {
        /// The watched folder.
        root: PathBuf,
        /// What happened, what Ferry does instead, and the fix.
        message: String,
    },
}

/// How the watcher behaves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WatchOptions {
    /// How long the debouncer waits to merge a burst of notifications (short: the quiet
    /// period is the engine's).
    pub debounce: Duration,
    /// For tests: make `watch` fail as if the OS watch limit were reached.
    pub simulate_limit: bool,
}

impl Default for WatchOptions {
    fn default() -> Self {
        Self {
            debounce: Duration::from_millis(300),
            simulate_limit: false,
        }
    }
}

/// A watched folder: as given (what events name) and as the OS may spell it (macOS
/// reports `/private/var/...` for `/var/...`).
#[derive(Debug, Clone)]
struct Root {
    given: PathBuf,
    canonical: PathBuf,
}

type Roots = Arc<Mutex<Vec<Root>>>;

/// The queue to the engine, and the folders whose reports did not fit in it.
#[derive(Clone)]
struct Outbox {
    tx: Sender<WatchEvent>,
    overflowed: Arc<Mutex<Vec<PathBuf>>>,
}

impl Outbox {
    /// Sends `event`, or remembers its folder when the queue is full (the receiver being
    /// gone means the engine is stopping: nothing to tell then).
    fn send(&self, event: WatchEvent) {
        if let Err(TrySendError::Full(event)) = self.tx.try_send(event) {
            let root = match event {
                WatchEvent::Changed { root, .. }
                | WatchEvent::Renamed { root, .. }
                | WatchEvent::Rescan { root, .. }
                | WatchEvent::Failed { root, .. } => root,
            };
            let mut overflowed = self
                .overflowed
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            if !overflowed.contains(&root) {
                overflowed.push(root);
            }
        }
    }
}

/// The OS watcher; stops when dropped.
pub struct Watcher {
    debouncer: Debouncer<notify::RecommendedWatcher, RecommendedCache>,
    roots: Roots,
    outbox: Outbox,
    options: WatchOptions,
}

impl std::fmt::Debug for Watcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Watcher")
            .field("roots", &lock(&self.roots))
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

impl Watcher {
    /// Events go to `tx` (a bounded tokio mpsc; see [`Watcher::take_overflowed`]). Never
    /// panics if the receiver is dropped.
    pub fn start(options: WatchOptions, tx: Sender<WatchEvent>) -> Result<Watcher, EngineError> {
        let roots: Roots = Arc::default();
        let handler_roots = Arc::clone(&roots);
        let outbox = Outbox {
            tx,
            overflowed: Arc::default(),
        };
        let handler_outbox = outbox.clone();
        let handler =
            move |result: DebounceEventResult| deliver(&handler_roots, &handler_outbox, result);
        // Symlinks are not followed: a link to `/` or to a parent would watch the world.
        let config = notify::Config::default().with_follow_symlinks(false);
        let debouncer = new_debouncer_opt(
            options.debounce,
            None,
            handler,
            RecommendedCache::new(),
            config,
        )
        .map_err(|e| EngineError::Watch {
            root: PathBuf::new(),
            message: format!(
                "Ferry cannot start watching folders for changes ({e}); it will look for changes by rescanning instead"
            ),
        })?;
        Ok(Watcher {
            debouncer,
            roots,
            outbox,
            options,
        })
    }

    /// The watched folders whose reports were dropped since the last call because the
    /// queue was full: the caller scans them whole.
    pub fn take_overflowed(&self) -> Vec<PathBuf> {
        std::mem::take(
            &mut self
                .outbox
                .overflowed
                .lock()
                .unwrap_or_else(PoisonError::into_inner),
        )
    }

    /// Starts watching `root` recursively. On failure sends `Failed` AND returns the error (EngineError variant with the root and a clear message).
    ///
    /// `root` should be absolute (a relative one is made absolute against the current
    /// directory); events name it exactly as it is then.
    #[expect(
        clippy::disallowed_methods,
        reason = "blocking by design: the driver calls it on the blocking pool"
    )]
    pub fn watch(&mut self, root: &Path) -> Result<(), EngineError> {
        let given = std::path::absolute(root).unwrap_or_else(|_| root.to_path_buf());
        if lock(&self.roots).iter().any(|r| r.given == given) {
            return Ok(());
        }
        let result = if self.options.simulate_limit {
            Err(NotifyError::new(ErrorKind::MaxFilesWatch).add_path(given.clone()))
        } else {
            // Registered before the OS watch so the first events already find their root.
            let canonical = std::fs::canonicalize(&given).unwrap_or_else(|_| given.clone());
            lock(&self.roots).push(Root {
                given: given.clone(),
                canonical,
            });
            self.debouncer.watch(&given, RecursiveMode::Recursive)
        };
        match result {
            Ok(()) => {
                tracing::debug!(root = %given.display(), "watching");
                Ok(())
            }
            Err(error) => {
                // Release whatever part of the tree was watched before the failure.
                self.unwatch(&given);
                let message = failure_message(&given, &error);
                tracing::warn!(root = %given.display(), %error, "cannot watch");
                self.outbox.send(WatchEvent::Failed {
                    root: given.clone(),
                    message: message.clone(),
                });
                Err(EngineError::Watch {
                    root: given,
                    message,
                })
            }
        }
    }

    /// Stops watching `root` (no-op if it was not watched).
    pub fn unwatch(&mut self, root: &Path) {
        let given = std::path::absolute(root).unwrap_or_else(|_| root.to_path_buf());
        let was_watched = {
            let mut roots = lock(&self.roots);
            let before = roots.len();
            roots.retain(|r| r.given != given);
            roots.len() != before
        };
        if was_watched && let Err(error) = self.debouncer.unwatch(&given) {
            // Partly watched roots (a failed `watch`) and deleted ones end up here.
            tracing::debug!(root = %given.display(), %error, "unwatch");
        }
    }
}

/// Sends one batch from the debouncer (on its thread).
fn deliver(roots: &Roots, outbox: &Outbox, result: DebounceEventResult) {
    let roots = lock(roots).clone();
    for event in map_result(&roots, result) {
        outbox.send(event);
    }
}

fn lock(roots: &Roots) -> std::sync::MutexGuard<'_, Vec<Root>> {
    // The list stays consistent even if a holder panicked: each change is one call.
    roots.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The sentence a person sees when `root` cannot be watched.
fn failure_message(root: &Path, error: &NotifyError) -> String {
    let root = root.display();
    let fallback = "Ferry looks for changes there by rescanning it periodically instead, so they are picked up later rather than at once";
    if matches!(error.kind, ErrorKind::MaxFilesWatch) {
        if cfg!(target_os = "linux") {
            format!(
                "Ferry cannot watch {root} for changes: the system's limit on watched folders (fs.inotify.max_user_watches) is reached. {fallback}. To watch it live, raise the limit, e.g. `sudo sysctl fs.inotify.max_user_watches=524288` (add that setting to /etc/sysctl.conf to keep it), then restart Ferry."
            )
        } else {
            format!(
                "Ferry cannot watch {root} for changes: the system's limit on watched files is reached. {fallback}. To watch it live, close programs that watch many files or raise the limit, then restart Ferry."
            )
        }
    } else {
        format!("Ferry cannot watch {root} for changes ({error}). {fallback}.")
    }
}

/// The watched folder `path` belongs to (the longest root it lies in), and `path` spelled
/// under that root as given.
fn locate(roots: &[Root], path: &Path) -> Option<(PathBuf, PathBuf)> {
    roots
        .iter()
        .flat_map(|root| [(&root.given, root), (&root.canonical, root)])
        .filter_map(|(prefix, root)| {
            let rest = path.strip_prefix(prefix).ok()?;
            Some((prefix.components().count(), root, rest))
        })
        .max_by_key(|(depth, _, _)| *depth)
        .map(|(_, root, rest)| {
            let path = if rest.as_os_str().is_empty() {
                root.given.clone()
            } else {
                root.given.join(rest)
            };
            (root.given.clone(), path)
        })
}

/// Turns one batch from the debouncer into events, in order, without repeats in a row.
fn map_result(roots: &[Root], result: DebounceEventResult) -> Vec<WatchEvent> {
    let mut out: Vec<WatchEvent> = Vec::new();
    let mut push = |event: WatchEvent| {
        if out.last() != Some(&event) {
            out.push(event);
        }
    };
    match result {
        Ok(events) => events
            .iter()
            .flat_map(|event| map_event(roots, event))
            .for_each(&mut push),
        Err(errors) => errors
            .iter()
            .flat_map(|error| map_error(roots, error))
            .for_each(&mut push),
    }
    out
}

fn map_event(roots: &[Root], event: &DebouncedEvent) -> Vec<WatchEvent> {
    if event.need_rescan() {
        let reason = "the system dropped file change notifications (its queue overflowed)";
        return rescan(roots, &event.paths, reason);
    }
    let changed =
        |path: &PathBuf| locate(roots, path).map(|(root, path)| WatchEvent::Changed { root, path });
    match &event.kind {
        EventKind::Modify(ModifyKind::Name(RenameMode::Both)) if event.paths.len() == 2 => {
            match (
                locate(roots, &event.paths[0]),
                locate(roots, &event.paths[1]),
            ) {
                (Some((root, from)), Some((to_root, to))) if root == to_root => {
                    vec![WatchEvent::Renamed { root, from, to }]
                }
                // Across two watched folders: gone from one, new in the other.
                (from, to) => [from, to]
                    .into_iter()
                    .flatten()
                    .map(|(root, path)| WatchEvent::Changed { root, path })
                    .collect(),
            }
        }
        // Reads (the engine's own hashing among them) change nothing.
        EventKind::Access(kind) if *kind != AccessKind::Close(AccessMode::Write) => Vec::new(),
        EventKind::Other => Vec::new(),
        _ => event.paths.iter().filter_map(changed).collect(),
    }
}

fn map_error(roots: &[Root], error: &NotifyError) -> Vec<WatchEvent> {
    if matches!(error.kind, ErrorKind::MaxFilesWatch) {
        // A new subfolder could not be watched: the limit is reached for good.
        return affected(roots, &error.paths)
            .into_iter()
            .map(|root| {
                let message = failure_message(&root, error);
                WatchEvent::Failed { root, message }
            })
            .collect();
    }
    rescan(
        roots,
        &error.paths,
        &format!("the watcher reported an error: {error}"),
    )
}

fn rescan(roots: &[Root], paths: &[PathBuf], reason: &str) -> Vec<WatchEvent> {
    affected(roots, paths)
        .into_iter()
        .map(|root| WatchEvent::Rescan {
            root,
            reason: reason.to_owned(),
        })
        .collect()
}

/// The roots `paths` lie in; every root when the notification names no path in one.
fn affected(roots: &[Root], paths: &[PathBuf]) -> Vec<PathBuf> {
    let mut found: Vec<PathBuf> = Vec::new();
    for (root, _) in paths.iter().filter_map(|p| locate(roots, p)) {
        if !found.contains(&root) {
            found.push(root);
        }
    }
    if found.is_empty() {
        found = roots.iter().map(|r| r.given.clone()).collect();
    }
    found
}

#[cfg(test)]
mod tests;
