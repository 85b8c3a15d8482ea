//! The driver's work on watcher reports: what each reported path means for the files of its
//! folder (looked at on the blocking pool), removed directories resolved against the journal
//! in one call, and starting and stopping the OS watch. The core decides what happens next.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use ferry_store::{FileState, FolderId};

use crate::error::EngineError;
use crate::events::Event;
use crate::sync::core::Key;
use crate::sync::scan;
use crate::sync::status::WatcherState;
use crate::sync::watch::WatchEvent;

use super::Driver;
use super::folders::{FolderInfo, age, relative};

/// What one watcher report means for the files of a folder, found on the blocking pool.
enum Seen {
    /// Nothing (outside the folder, ignored).
    Nothing,
    /// These files changed (a file, or every file under a new directory).
    Files(Vec<String>, Option<Duration>),
    /// Nothing is at `rel` any more: it and every known file under it changed.
    Vanished(String),
    /// The folder itself is not there (moved away, a drive unplugged): nothing in it is
    /// taken for deleted.
    RootGone,
}

/// Looks at the disk for one reported path (blocking).
#[expect(
    clippy::disallowed_methods,
    reason = "blocking by design: the driver runs it on the blocking pool"
)]
fn look(info: &FolderInfo, path: &Path) -> Seen {
    let Some(rel) = relative(&info.root, path) else {
        return Seen::Nothing;
    };
    let meta = std::fs::symlink_metadata(path).ok();
    let is_dir = meta.as_ref().is_some_and(std::fs::Metadata::is_dir);
    if info.rules.is_ignored(Path::new(&rel), is_dir) {
        return Seen::Nothing;
    }
    match meta {
        None => Seen::Vanished(rel),
        Some(meta) if meta.is_dir() => {
            // Files made in a new directory before its OS watch was added are not reported
            // one by one: every file below it is looked at (and only below it).
            let files = scan::scan_under(&info.root, &rel, &info.rules)
                .map(|s| s.files.into_iter().map(|(p, _)| p).collect())
                .unwrap_or_default();
            Seen::Files(files, None)
        }
        Some(meta) => {
            let facts = crate::file::facts_from(&meta);
            Seen::Files(vec![rel], Some(age(&facts)))
        }
    }
}

/// Looks at every reported path (blocking). A report may be of a folder itself moving away
/// (it names the root): each folder's root is looked at first, once per batch.
#[expect(
    clippy::disallowed_methods,
    reason = "blocking by design: the driver runs it on the blocking pool"
)]
fn look_all(infos: Vec<(FolderId, Arc<FolderInfo>, PathBuf)>) -> Vec<(FolderId, Seen)> {
    let mut roots: HashMap<FolderId, bool> = HashMap::new();
    infos
        .into_iter()
        .map(|(id, info, path)| {
            let there = *roots
                .entry(id)
                .or_insert_with(|| std::fs::metadata(&info.root).is_ok_and(|m| m.is_dir()));
            let seen = if there {
                look(&info, &path)
            } else {
                Seen::RootGone
            };
            (id, seen)
        })
        .collect()
}

impl Driver {
    /// Takes in a batch of watcher reports: what changed is looked at on the blocking pool
    /// and handed to the core.
    pub(super) async fn watch_events(&mut self, events: Vec<WatchEvent>) {
        let mut paths: Vec<(FolderId, PathBuf)> = Vec::new();
        for event in events {
            match event {
                WatchEvent::Changed { root, path } => {
                    if let Some(id) = self.folder_at(&root) {
                        paths.push((id, path));
                    }
                }
                WatchEvent::Renamed { root, from, to } => {
                    let Some(id) = self.folder_at(&root) else {
                        continue;
                    };
                    let info = &self.folders[&id].info;
                    if let (Some(from_rel), Some(to_rel)) =
                        (relative(&info.root, &from), relative(&info.root, &to))
                    {
                        self.core.handle_renamed((id, from_rel), to_rel);
                    }
                    paths.push((id, from));
                    paths.push((id, to));
                }
                WatchEvent::Rescan { root, reason } => {
                    if let Some(id) = self.folder_at(&root) {
                        tracing::info!(root = %root.display(), %reason, "rescanning");
                        self.core.handle_rescan_needed(super::now(), id);
                    }
                }
                WatchEvent::Failed { root, message } => self.watch_failed(&root, message),
            }
        }
        if paths.is_empty() {
            return;
        }
        let infos: Vec<(FolderId, Arc<FolderInfo>, PathBuf)> = paths
            .into_iter()
            .filter_map(|(id, path)| Some((id, Arc::clone(&self.folders.get(&id)?.info), path)))
            .collect();
        let Ok(seen) = tokio::task::spawn_blocking(move || look_all(infos)).await else {
            return;
        };
        let mut vanished: Vec<Key> = Vec::new();
        for (id, seen) in seen {
            match seen {
                Seen::Nothing => {}
                Seen::Files(files, age) => {
                    for rel in files {
                        self.core.handle_changed(super::now(), (id, rel), age);
                    }
                }
                Seen::Vanished(rel) => vanished.push((id, rel)),
                Seen::RootGone => self.folder_missing(id),
            }
        }
        // Reports of a folder found missing in this batch change nothing in it.
        vanished.retain(|(id, _)| {
            self.folders
                .get(id)
                .is_some_and(|f| f.watcher != WatcherState::Missing)
        });
        if !vanished.is_empty() {
            for key in self.known_under(vanished).await {
                self.core.handle_changed(super::now(), key, None);
            }
        }
    }

    /// Paths with nothing at them any more, and every file the journal knows below them (a
    /// removed directory), in one journal call.
    async fn known_under(&self, vanished: Vec<Key>) -> Vec<Key> {
        let asked = vanished.clone();
        let below = self
            .door
            .call(move |journal| {
                let mut below = Vec::new();
                let mut folders: Vec<FolderId> = asked.iter().map(|k| k.0).collect();
                folders.sort_unstable();
                folders.dedup();
                for id in folders {
                    let prefixes: Vec<String> = asked
                        .iter()
                        .filter(|k| k.0 == id)
                        .map(|k| format!("{}/", k.1))
                        .collect();
                    below.extend(
                        journal
                            .files_in(id)?
                            .into_iter()
                            .filter(|f| f.state != FileState::Deleted)
                            .filter(|f| prefixes.iter().any(|p| f.local_path.starts_with(p)))
                            .map(|f| (id, f.local_path)),
                    );
                }
                Ok(below)
            })
            .await
            .unwrap_or_default();
        vanished.into_iter().chain(below).collect()
    }

    /// The OS watcher gave up on a folder: say so; the core rescans it periodically.
    fn watch_failed(&mut self, root: &Path, message: String) {
        let Some(id) = self.folder_at(root) else {
            return;
        };
        if let Some(folder) = self.folders.get_mut(&id) {
            folder.watcher = WatcherState::Rescanning;
            folder.warning = Some(message.clone());
        }
        self.core.handle_watch_failed(super::now(), id);
        (self.events)(Event::Warning { message });
    }

    /// Starts watching `root` on the blocking pool (`None`: no watcher in this mode).
    pub(super) async fn watch(&self, root: PathBuf) -> Option<Result<(), EngineError>> {
        let os = self.watcher.clone()?;
        let outcome = tokio::task::spawn_blocking(move || super::locked(&os).watch(&root)).await;
        Some(outcome.unwrap_or_else(|err| {
            Err(EngineError::Watch {
                root: PathBuf::new(),
                message: format!("the watcher stopped: {err}"),
            })
        }))
    }

    pub(super) async fn unwatch(&self, root: PathBuf) {
        if let Some(watcher) = self.watcher.clone() {
            let _ =
                tokio::task::spawn_blocking(move || super::locked(&watcher).unwatch(&root)).await;
        }
    }
}
