//! The driver's work on folders: reading the synced folders from the journal (and watching
//! new ones), their ignore rules, and scanning them whole against the journal. Every look at
//! the disk runs on the blocking pool, every journal read through the door; the core decides
//! what happens next.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use ferry_store::{FileFacts, FileState, Folder, FolderId};

use crate::sync::core::ScanFound;
use crate::sync::engine::FolderSync;
use crate::sync::ignore::Rules;
use crate::sync::scan;
use crate::sync::status::WatcherState;

use super::Driver;

/// What the driver knows of a synced folder that does not change while it is synced
/// (replaced whole when its row or its ignore rules change): shared with jobs and the
/// journal thread.
#[derive(Debug)]
pub(crate) struct FolderInfo {
    pub(crate) folder: Folder,
    pub(crate) root: PathBuf,
    pub(crate) rules: Rules,
    pub(crate) server: String,
    pub(crate) user: String,
}

impl FolderInfo {
    /// Where the file at `rel` goes on the server.
    pub(crate) fn remote_path(&self, rel: &str) -> String {
        let prefix = self.folder.remote_prefix.trim_matches('/');
        if prefix.is_empty() {
            rel.to_owned()
        } else {
            format!("{prefix}/{rel}")
        }
    }
}

/// A synced folder as the driver shows it.
pub(crate) struct SyncedFolder {
    pub(crate) info: Arc<FolderInfo>,
    pub(crate) watcher: WatcherState,
    pub(crate) warning: Option<String>,
    /// Why it waits now, if it does (the system's state or its schedule).
    pub(crate) hold: Option<crate::sync::holds::Hold>,
    /// Its own schedule's rate, shared by its jobs.
    pub(crate) limit: crate::rate::RateLimit,
}

impl SyncedFolder {
    pub(crate) fn view(&self) -> FolderSync {
        FolderSync {
            path: self.info.folder.path.clone(),
            watcher: if self.info.folder.paused {
                WatcherState::Paused
            } else {
                self.watcher
            },
            warning: self.warning.clone(),
            hold: self.hold.clone(),
        }
    }
}

/// `path` relative to `root` with `/` separators, if it is inside and valid UTF-8.
pub(super) fn relative(root: &Path, path: &Path) -> Option<String> {
    let rel = path.strip_prefix(root).ok()?;
    let parts: Option<Vec<&str>> = rel.components().map(|c| c.as_os_str().to_str()).collect();
    let joined = parts?.join("/");
    (!joined.is_empty()).then_some(joined)
}

/// How long ago a file last changed (its modification time; zero if in the future).
pub(super) fn age(facts: &FileFacts) -> Duration {
    let now_ns = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX));
    Duration::from_nanos(u64::try_from(now_ns.saturating_sub(facts.mtime_ns)).unwrap_or(0))
}

impl Driver {
    /// Reads the folders from the journal: new ones are watched and scanned, removed ones
    /// forgotten, changed ones (pause, prefix, protocol) updated.
    pub(super) async fn load_folders(&mut self) {
        let rows = self
            .door
            .call(|journal| {
                let mut rows = Vec::new();
                for folder in journal.folders()? {
                    let account = journal.account_by_id(folder.account)?;
                    rows.push((folder, account));
                }
                Ok(rows)
            })
            .await;
        let rows = match rows {
            Ok(rows) => rows,
            Err(err) => {
                self.warn(format!("cannot read the synced folders: {err}"));
                return;
            }
        };
        let gone: Vec<FolderId> = self
            .folders
            .keys()
            .filter(|id| !rows.iter().any(|(f, _)| f.id == **id))
            .copied()
            .collect();
        for id in gone {
            self.core.handle_folder_removed(super::now(), id);
            self.carry_out().await;
            if let Some(old) = self.folders.remove(&id) {
                self.unwatch(old.info.root.clone()).await;
            }
        }
        for (folder, account) in rows {
            let id = folder.id;
            if let Some(known) = self.folders.get_mut(&id) {
                let paused = folder.paused;
                let info = FolderInfo {
                    folder,
                    root: known.info.root.clone(),
                    rules: known.info.rules.clone(),
                    server: known.info.server.clone(),
                    user: known.info.user.clone(),
                };
                known.info = Arc::new(info);
                self.core.handle_folder_paused(super::now(), id, paused);
                continue;
            }
            let (server, user) =
                account.map_or((String::new(), String::new()), |a| (a.server_url, a.user));
            let root = PathBuf::from(&folder.path);
            let rules = self.load_rules(&root).await;
            let paused = folder.paused;
            let info = Arc::new(FolderInfo {
                folder,
                root,
                rules,
                server,
                user,
            });
            let mut synced = SyncedFolder {
                info: Arc::clone(&info),
                watcher: WatcherState::Stopped,
                warning: None,
                hold: None,
                limit: crate::rate::RateLimit::adjustable(None),
            };
            let mut fallback = false;
            if let Some(watched) = self.watch(info.root.clone()).await {
                match watched {
                    Ok(()) => synced.watcher = WatcherState::Watching,
                    Err(err) => {
                        synced.watcher = WatcherState::Rescanning;
                        synced.warning = Some(err.to_string());
                        fallback = true;
                    }
                }
            }
            self.folders.insert(id, synced);
            self.core
                .handle_folder_added(super::now(), id, paused, fallback);
        }
        self.failures_stale = true;
    }

    /// The folder's ignore rules (the defaults, with a warning, if they cannot be read).
    pub(super) async fn load_rules(&self, root: &Path) -> Rules {
        let at = root.to_path_buf();
        let loaded = tokio::task::spawn_blocking(move || Rules::load(&at)).await;
        let rules = match loaded {
            Ok(Ok(rules)) => rules,
            Ok(Err(err)) => {
                self.warn(format!("{}: {err}", root.display()));
                Rules::defaults()
            }
            Err(err) => {
                self.warn(format!("{}: {err}", root.display()));
                Rules::defaults()
            }
        };
        for warning in rules.warnings() {
            self.warn(format!("{}: {warning}", root.display()));
        }
        rules
    }

    /// Scans a folder whole (its rules read again: a .ferryignore may have changed) and
    /// tells the core what differs from the journal and what the journal still has to do.
    pub(super) async fn scan(&mut self, id: FolderId) {
        let found = self.scan_found(id).await;
        self.core.handle_scanned(super::now(), id, found);
    }

    async fn scan_found(&mut self, id: FolderId) -> Option<ScanFound> {
        let root = self.folders.get(&id)?.info.root.clone();
        let at = root.clone();
        if let Ok(Ok(rules)) = tokio::task::spawn_blocking(move || Rules::load(&at)).await {
            let synced = self.folders.get_mut(&id)?;
            let old = &synced.info;
            synced.info = Arc::new(FolderInfo {
                folder: old.folder.clone(),
                root: old.root.clone(),
                rules,
                server: old.server.clone(),
                user: old.user.clone(),
            });
        }
        let rules = self.folders.get(&id)?.info.rules.clone();
        let at = root.clone();
        let scanned = match tokio::task::spawn_blocking(move || scan::scan(&at, &rules)).await {
            Ok(Ok(scanned)) => scanned,
            Ok(Err(err)) => {
                // A missing or unreadable folder: never take its files for deleted.
                if root_present(&root).await {
                    self.warn(format!("cannot scan {}: {err}", root.display()));
                } else {
                    self.folder_missing(id);
                }
                return None;
            }
            Err(err) => {
                self.warn(format!("the scan of {} stopped: {err}", root.display()));
                return None;
            }
        };
        for problem in &scanned.problems {
            self.warn(problem.clone());
        }
        self.folder_back(id).await;
        let records = self
            .door
            .call(move |journal| Ok(journal.files_in(id)?))
            .await
            .unwrap_or_default();
        let known: HashMap<String, FileFacts> = records
            .iter()
            .filter(|r| r.state != FileState::Deleted)
            .map(|r| (r.local_path.clone(), r.facts))
            .collect();
        let diff = scan::diff(&scanned, &known);
        let facts: HashMap<&str, &FileFacts> =
            scanned.files.iter().map(|(p, f)| (p.as_str(), f)).collect();
        let now_ms = crate::sync::now_ms();
        Some(ScanFound {
            changed: diff
                .changed
                .into_iter()
                .map(|rel| {
                    let age = facts.get(rel.as_str()).map(|f| age(f));
                    (rel, age)
                })
                .collect(),
            gone: diff.gone,
            // Unfinished work the journal remembers (a crash, a restart, a retry).
            unfinished: records
                .into_iter()
                .filter(|r| matches!(r.state, FileState::Pending | FileState::Uploading))
                .map(|r| {
                    let wait = r
                        .next_retry_at_ms
                        .map(|at| Duration::from_millis(u64::try_from(at - now_ms).unwrap_or(0)));
                    (r.local_path, wait)
                })
                .collect(),
        })
    }

    /// The synced folder whose root is `root`.
    pub(super) fn folder_at(&self, root: &Path) -> Option<FolderId> {
        self.folders
            .values()
            .find(|f| f.info.root == root)
            .map(|f| f.info.folder.id)
    }
}

impl Driver {
    /// The folder `id` is not there (moved, renamed, a drive unplugged): shown as missing,
    /// said once, and looked for again on the fallback interval. Nothing in it is taken for
    /// deleted (the scan and the examination refuse to while its root is gone).
    pub(super) fn folder_missing(&mut self, id: FolderId) {
        let Some(folder) = self.folders.get_mut(&id) else {
            return;
        };
        if folder.watcher == WatcherState::Missing {
            return;
        }
        folder.watcher = WatcherState::Missing;
        let message = format!(
            "{} is missing (moved, or on a drive that is not plugged in); its files are kept as \
             they are and it syncs again once it is back",
            folder.info.root.display()
        );
        folder.warning = Some(message.clone());
        tracing::warn!(root = %folder.info.root.display(), "a synced folder is missing");
        self.core.handle_watch_failed(super::now(), id);
        self.warn(message);
        self.publish();
    }

    /// A scan of `id` succeeded: a folder that was missing is watched again.
    async fn folder_back(&mut self, id: FolderId) {
        let Some(folder) = self.folders.get(&id) else {
            return;
        };
        if folder.watcher != WatcherState::Missing {
            return;
        }
        let root = folder.info.root.clone();
        // Watched afresh: the OS watch went with the folder (a drive unplugged) or still
        // names where it was moved to.
        self.unwatch(root.clone()).await;
        let watched = self.watch(root.clone()).await;
        let Some(folder) = self.folders.get_mut(&id) else {
            return;
        };
        (folder.watcher, folder.warning) = match watched {
            Some(Ok(())) => {
                self.core.handle_watch_restored(super::now(), id);
                (WatcherState::Watching, None)
            }
            Some(Err(err)) => (WatcherState::Rescanning, Some(err.to_string())),
            None => (WatcherState::Stopped, None),
        };
        tracing::info!(root = %root.display(), "a missing synced folder is back");
        self.publish();
    }
}

/// Whether `root` is a directory now (on the blocking pool).
pub(super) async fn root_present(root: &Path) -> bool {
    tokio::fs::metadata(root).await.is_ok_and(|m| m.is_dir())
}
