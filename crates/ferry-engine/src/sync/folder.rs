//! The coordinator's work on folders and paths: loading the synced folders, full scans
//! compared with the journal, turning watcher reports into dirty paths, and examining one
//! path with the pure planner to decide what to do with it.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use ferry_store::{FileFacts, FileState, Folder, FolderId, Journal, Outcome};

use crate::error::EngineError;
use crate::events::Event;

use super::coordinator::{Coordinator, Key, Mode};
use super::engine::FolderSync;
use super::ignore::Rules;
use super::job::JobSpec;
use super::plan::{Known, Op, Seen, plan};
use super::status::WatcherState;

/// A synced folder as the coordinator keeps it.
pub(crate) struct SyncedFolder {
    pub(crate) folder: Folder,
    pub(crate) root: PathBuf,
    pub(crate) rules: Rules,
    pub(crate) server: String,
    pub(crate) user: String,
    pub(crate) watcher: WatcherState,
    pub(crate) warning: Option<String>,
    pub(crate) next_rescan: Instant,
}

impl SyncedFolder {
    pub(crate) fn view(&self) -> FolderSync {
        FolderSync {
            path: self.folder.path.clone(),
            watcher: if self.folder.paused {
                WatcherState::Paused
            } else {
                self.watcher
            },
            warning: self.warning.clone(),
        }
    }

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

/// `path` relative to `root` with `/` separators, if it is inside and valid UTF-8.
fn relative(root: &Path, path: &Path) -> Option<String> {
    let rel = path.strip_prefix(root).ok()?;
    let parts: Option<Vec<&str>> = rel.components().map(|c| c.as_os_str().to_str()).collect();
    let joined = parts?.join("/");
    (!joined.is_empty()).then_some(joined)
}

/// When a file last changed, as an instant (for the quiet period of files found by a scan).
fn changed_at(facts: &FileFacts) -> Instant {
    let now_ns = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX));
    let ago = u64::try_from(now_ns.saturating_sub(facts.mtime_ns)).unwrap_or(0);
    Instant::now()
        .checked_sub(Duration::from_nanos(ago))
        .unwrap_or_else(Instant::now)
}

impl Coordinator {
    /// Reads the folders from the journal: new ones are watched and scanned, removed ones
    /// forgotten, changed ones (pause, prefix, protocol) updated.
    pub(crate) async fn load_folders(&mut self) {
        let folders = match self.journal().folders() {
            Ok(folders) => folders,
            Err(err) => {
                self.emit(Event::Warning {
                    message: format!("cannot read the synced folders: {err}"),
                });
                return;
            }
        };
        let gone: Vec<FolderId> = self
            .folders
            .keys()
            .filter(|id| !folders.iter().any(|f| f.id == **id))
            .copied()
            .collect();
        for id in gone {
            if let Some(old) = self.folders.remove(&id) {
                if let Some(watcher) = &mut self.watcher {
                    watcher.unwatch(&old.root);
                }
                self.forget_folder(id);
            }
        }
        for folder in folders {
            let id = folder.id;
            if let Some(known) = self.folders.get_mut(&id) {
                let resumed = known.folder.paused && !folder.paused;
                known.folder = folder;
                if resumed {
                    self.rescan(id).await;
                }
                continue;
            }
            let account = self.journal().account_by_id(folder.account).ok().flatten();
            let (server, user) =
                account.map_or((String::new(), String::new()), |a| (a.server_url, a.user));
            let root = PathBuf::from(&folder.path);
            let rules = Rules::load(&root).unwrap_or_else(|err| {
                self.emit(Event::Warning {
                    message: format!("{}: {err}", folder.path),
                });
                Rules::defaults()
            });
            for warning in rules.warnings() {
                self.emit(Event::Warning {
                    message: format!("{}: {warning}", folder.path),
                });
            }
            let mut synced = SyncedFolder {
                folder,
                root,
                rules,
                server,
                user,
                watcher: WatcherState::Stopped,
                warning: None,
                next_rescan: Instant::now() + self.options.rescan_every,
            };
            if let Some(watcher) = &mut self.watcher {
                match watcher.watch(&synced.root) {
                    Ok(()) => synced.watcher = WatcherState::Watching,
                    Err(err) => {
                        synced.watcher = WatcherState::Rescanning;
                        synced.warning = Some(err.to_string());
                        synced.next_rescan = Instant::now() + self.options.fallback_rescan_every;
                    }
                }
            }
            let paused = synced.folder.paused;
            self.folders.insert(id, synced);
            if !paused {
                self.rescan(id).await;
            }
        }
        self.refresh_failed();
    }

    /// Drops everything queued for a folder that is no longer synced.
    fn forget_folder(&mut self, id: FolderId) {
        self.requeue_running(Some(id));
        self.dirty.retain(|k, _| k.0 != id);
        self.retry_at.retain(|k, _| k.0 != id);
        self.waiting.retain(|(_, k)| k.0 != id);
        self.waiting_sizes.retain(|k, _| k.0 != id);
    }

    /// The OS watcher gave up on a folder: say so and rescan it periodically.
    pub(crate) fn watch_failed(&mut self, root: &Path, message: String) {
        let Some(id) = self.folder_at(root) else {
            return;
        };
        let every = self.options.fallback_rescan_every;
        if let Some(folder) = self.folders.get_mut(&id) {
            folder.watcher = WatcherState::Rescanning;
            folder.warning = Some(message.clone());
            folder.next_rescan = folder.next_rescan.min(Instant::now() + every);
        }
        self.emit(Event::Warning { message });
    }

    /// Scans a folder whole and marks what differs from the journal, plus what the journal
    /// still has to do, as dirty.
    pub(crate) async fn rescan(&mut self, id: FolderId) {
        let Some(folder) = self.folders.get_mut(&id) else {
            return;
        };
        folder.next_rescan = Instant::now()
            + match folder.watcher {
                WatcherState::Rescanning => self.options.fallback_rescan_every,
                _ => self.options.rescan_every,
            };
        if folder.folder.paused {
            return;
        }
        let root = folder.root.clone();
        // Rules may have changed (a .ferryignore edited).
        if let Ok(rules) = Rules::load(&root) {
            folder.rules = rules;
        }
        let rules = folder.rules.clone();
        let scanned = {
            let root = root.clone();
            tokio::task::spawn_blocking(move || super::scan::scan(&root, &rules)).await
        };
        let scanned = match scanned {
            Ok(Ok(scanned)) => scanned,
            Ok(Err(err)) => {
                // A missing or unreadable folder: never take its files for deleted.
                self.emit(Event::Warning {
                    message: format!("cannot scan {}: {err}", root.display()),
                });
                return;
            }
            Err(err) => {
                self.emit(Event::Warning {
                    message: format!("the scan of {} stopped: {err}", root.display()),
                });
                return;
            }
        };
        for problem in &scanned.problems {
            self.emit(Event::Warning {
                message: problem.clone(),
            });
        }
        let records = self.journal().files_in(id).unwrap_or_default();
        let known: std::collections::HashMap<String, FileFacts> = records
            .iter()
            .filter(|r| r.state != FileState::Deleted)
            .map(|r| (r.local_path.clone(), r.facts))
            .collect();
        let diff = super::scan::diff(&scanned, &known);
        let facts: std::collections::HashMap<&str, &FileFacts> =
            scanned.files.iter().map(|(p, f)| (p.as_str(), f)).collect();
        let now = Instant::now();
        let quiet = self.options.quiet_period;
        for rel in diff.changed {
            let at = match (self.mode, facts.get(rel.as_str())) {
                (Mode::Watch, Some(f)) => (changed_at(f) + quiet).max(now),
                _ => now,
            };
            self.mark((id, rel), at);
        }
        for rel in diff.gone {
            self.mark((id, rel), now);
        }
        // Unfinished work the journal remembers (a crash, a restart, a retry).
        for record in records {
            if !matches!(record.state, FileState::Pending | FileState::Uploading) {
                continue;
            }
            let key = (id, record.local_path.clone());
            match record.next_retry_at_ms {
                Some(at) if at > super::now_ms() && self.mode == Mode::Watch => {
                    let wait =
                        Duration::from_millis(u64::try_from(at - super::now_ms()).unwrap_or(0));
                    self.retry_at.insert(key, now + wait);
                }
                _ => self.mark(key, now),
            }
        }
    }

    /// Marks `key` to be examined at `at` (later of the two, if it is marked already).
    pub(crate) fn mark(&mut self, key: Key, at: Instant) {
        let entry = self.dirty.entry(key).or_insert(at);
        *entry = (*entry).max(at);
    }

    /// The watcher saw something at `path`: the file (or every file under a directory, or
    /// every known file under a vanished directory) becomes dirty until it is quiet.
    pub(crate) fn changed(&mut self, root: &Path, path: &Path) {
        let Some(key) = self.key_of(root, path) else {
            return;
        };
        let now = Instant::now();
        let quiet = self.options.quiet_period;
        // The quiet period runs from the file's last change (its mtime), not from when the
        // watcher got round to reporting it (its debounce comes after the write); never
        // longer than a full period from now.
        let at = match super::scan::facts_of(path) {
            Ok(Some(facts)) => (changed_at(&facts) + quiet).clamp(now, now + quiet),
            _ => now + quiet,
        };
        if path.is_dir() {
            let Some(folder) = self.folders.get(&key.0) else {
                return;
            };
            if let Ok(scanned) = super::scan::scan(&folder.root, &folder.rules) {
                let prefix = format!("{}/", key.1);
                for (rel, _) in scanned.files {
                    if rel.starts_with(&prefix) {
                        self.mark((key.0, rel), at);
                    }
                }
            }
            return;
        }
        if !path.exists() {
            let prefix = format!("{}/", key.1);
            let under: Vec<String> = self
                .journal()
                .files_in(key.0)
                .unwrap_or_default()
                .into_iter()
                .filter(|f| f.local_path.starts_with(&prefix) && f.state != FileState::Deleted)
                .map(|f| f.local_path)
                .collect();
            for rel in under {
                self.mark((key.0, rel), at);
            }
        }
        self.mark(key, at);
    }

    /// The synced folder whose root is `root`.
    pub(crate) fn folder_at(&self, root: &Path) -> Option<FolderId> {
        self.folders
            .values()
            .find(|f| f.root == root)
            .map(|f| f.folder.id)
    }

    /// The key of `path` in the folder at `root`, if it is in one and not ignored.
    pub(crate) fn key_of(&self, root: &Path, path: &Path) -> Option<Key> {
        let id = self.folder_at(root)?;
        let folder = &self.folders[&id];
        let rel = relative(root, path)?;
        if folder.rules.is_ignored(Path::new(&rel), path.is_dir()) {
            return None;
        }
        Some((id, rel))
    }

    /// The absolute path of `key`.
    pub(crate) fn abs(&self, key: &Key) -> Option<PathBuf> {
        self.folders.get(&key.0).map(|f| f.root.join(&key.1))
    }

    /// `key` as people see it (the absolute path).
    pub(crate) fn display(&self, key: &Key) -> String {
        self.abs(key)
            .map_or_else(|| key.1.clone(), |p| p.display().to_string())
    }

    /// What a job for `key` needs.
    pub(crate) fn spec(&self, key: &Key) -> Option<JobSpec> {
        let folder = self.folders.get(&key.0)?;
        let record = self.journal().file(Some(key.0), &key.1).ok().flatten();
        let verify_against = record
            .filter(|r| r.state == FileState::Uploaded || r.uploaded_sha1.is_some())
            .and_then(|r| r.uploaded_sha1)
            .filter(|_| self.verify.contains(key));
        Some(JobSpec {
            folder: key.0,
            account: folder.folder.account,
            server: folder.server.clone(),
            user: folder.user.clone(),
            protocol: folder.folder.protocol,
            rel: key.1.clone(),
            path: folder.root.join(&key.1),
            remote: folder.remote_path(&key.1),
            verify_against,
        })
    }

    /// Pauses or resumes one folder, in the journal and here.
    pub(crate) async fn pause_folder(&mut self, path: &Path, paused: bool) {
        let Some(id) = self.folder_at(path) else {
            self.emit(Event::Warning {
                message: format!("{} is not a synced folder", path.display()),
            });
            return;
        };
        if let Err(err) = self.journal().set_folder_paused(id, paused) {
            self.emit(Event::Warning {
                message: format!("cannot pause {}: {err}", path.display()),
            });
            return;
        }
        let folder_name = Some(path.display().to_string());
        if let Some(folder) = self.folders.get_mut(&id) {
            folder.folder.paused = paused;
        }
        if paused {
            self.requeue_running(Some(id));
            self.emit(Event::Paused {
                folder: folder_name,
            });
        } else {
            self.emit(Event::Resumed {
                folder: folder_name,
            });
            self.rescan(id).await;
        }
    }

    /// Looks at one path now and does what the planner says, writing to `journal` (the
    /// coordinator's, locked by the caller: several paths are examined in one batch).
    pub(crate) fn examine(&mut self, journal: &mut Journal, key: &Key) -> Result<(), EngineError> {
        let Some(folder) = self.folders.get(&key.0) else {
            return Ok(());
        };
        if folder.folder.paused {
            return Ok(());
        }
        let path = folder.root.join(&key.1);
        if folder.rules.is_ignored(Path::new(&key.1), false) {
            // Ignored now: left alone here and on the server.
            self.unqueue(key);
            return Ok(());
        }
        let seen_facts = super::scan::facts_of(&path).map_err(|source| EngineError::File {
            path: path.clone(),
            source,
        })?;
        if self.is_running(key) {
            if seen_facts.is_some() && self.running_facts(key) == seen_facts {
                return Ok(());
            }
            // Changed or gone under its upload: stop it; the planner decides what next.
            self.cancel(key);
        }
        let record = journal.file(Some(key.0), &key.1)?;
        let open = match &record {
            Some(r) => journal.upload_for_file(r.id)?,
            None => None,
        };
        let known = record.as_ref().map(|r| Known {
            facts: r.facts,
            state: r.state,
            sha1: r.sha1.as_deref(),
            uploaded_sha1: r.uploaded_sha1.as_deref(),
            upload_open: open.is_some(),
        });
        let seen = match seen_facts {
            Some(facts) => Seen::Present { facts, sha1: None },
            None => Seen::Gone,
        };
        let op = plan(known.as_ref(), &seen);
        match (op, seen_facts) {
            (Op::Nothing, _) => self.unqueue(key),
            (Op::Record, Some(facts)) => {
                let sha1 = record.as_ref().and_then(|r| r.sha1.clone());
                journal.upsert_file(
                    Some(key.0),
                    &key.1,
                    facts,
                    sha1.as_deref(),
                    FileState::Uploaded,
                )?;
            }
            (Op::Hash, Some(facts)) => {
                self.verify.insert(key.clone());
                self.enqueue(key, facts.size);
            }
            (Op::Upload | Op::Restart, Some(facts)) => {
                if let Some(open) = open.filter(|_| op == Op::Restart) {
                    journal.end_upload(
                        open.id,
                        Outcome::Abandoned,
                        0,
                        "the file changed before its upload finished; its new content is uploaded instead",
                    )?;
                }
                self.queue_upload(journal, key, record.as_ref(), facts)?;
            }
            (Op::Abandon | Op::Delete, _) => {
                self.unqueue(key);
                if let (Some(open), Op::Abandon) = (open, op) {
                    journal.end_upload(
                        open.id,
                        Outcome::Abandoned,
                        0,
                        "the file was deleted or moved before its upload finished",
                    )?;
                }
                if let Some(record) = record {
                    self.record_removal(journal, key, &record)?;
                }
            }
            // The planner wants the file but it is gone meanwhile: the watcher reports that.
            (Op::Record | Op::Hash | Op::Upload | Op::Restart, None) => {}
        }
        Ok(())
    }

    /// Notes the new facts of a file to upload and queues it (unless it waits for a retry
    /// and has not changed).
    fn queue_upload(
        &mut self,
        journal: &mut Journal,
        key: &Key,
        record: Option<&ferry_store::FileRecord>,
        facts: FileFacts,
    ) -> Result<(), EngineError> {
        let changed = record.is_none_or(|r| r.facts != facts);
        let sha1 = record.filter(|_| !changed).and_then(|r| r.sha1.as_deref());
        let failures = record.is_some_and(|r| {
            r.attempts > 0 || r.last_error.is_some() || r.next_retry_at_ms.is_some()
        });
        let file = journal.upsert_file(Some(key.0), &key.1, facts, sha1, FileState::Pending)?;
        if changed {
            // A new row has no failures to forget: one write less per new file.
            if failures {
                journal.clear_file_failure(file.id)?;
            }
            self.retry_at.remove(key);
        }
        if self.retry_at.contains_key(key) {
            return Ok(());
        }
        self.verify.remove(key);
        self.enqueue(key, facts.size);
        Ok(())
    }

    /// Records in the journal that a synced file was deleted, or renamed if the watcher said
    /// so (nothing changes on the server).
    fn record_removal(
        &mut self,
        journal: &mut Journal,
        key: &Key,
        record: &ferry_store::FileRecord,
    ) -> Result<(), EngineError> {
        let remote = self
            .folders
            .get(&key.0)
            .map_or_else(|| key.1.clone(), |f| f.remote_path(&key.1));
        let (outcome, note) = match self.renamed.remove(key) {
            Some(to) => (Outcome::Renamed, Some(format!("renamed to {to}"))),
            None => (Outcome::Deleted, None),
        };
        if record.state != FileState::Deleted {
            journal.record_removal(record.id, outcome, &remote, note.as_deref())?;
        }
        Ok(())
    }

    /// Puts `key` in the queue (once).
    fn enqueue(&mut self, key: &Key, size: u64) {
        if self.is_running(key) || self.waiting_sizes.contains_key(key) {
            return;
        }
        self.waiting.insert((size, key.clone()));
        self.waiting_sizes.insert(key.clone(), size);
        let display = self.display(key);
        let folder = self.folders.get(&key.0).map(|f| f.folder.path.clone());
        super::engine::guard(&self.views.tracker).queued(&display, folder.as_deref(), size);
        self.emit(Event::Queued {
            path: display,
            size,
        });
    }

    /// Takes `key` out of the queue, if it is there.
    fn unqueue(&mut self, key: &Key) {
        if let Some(size) = self.waiting_sizes.remove(key) {
            self.waiting.remove(&(size, key.clone()));
        }
        self.cancel(key);
        self.verify.remove(key);
        let display = self.display(key);
        super::engine::guard(&self.views.tracker).remove(&display);
    }
}
