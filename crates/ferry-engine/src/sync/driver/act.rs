//! The driver carrying out the core's actions: examinations and journal writes through the
//! door, jobs stopped, what people are told (events and the live views), and the commands
//! that need the journal first (pausing a folder, retrying files).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use ferry_store::{FileFacts, FileState};

use crate::events::Event;
use crate::sync::core::{Action, Examined, Key, Notice};
use crate::sync::engine::{Retry, guard};
use crate::sync::status::Failure;

use super::examine::{Item, examine_all};
use super::{Driver, now};

impl Driver {
    pub(super) async fn act(&mut self, action: Action) {
        match action {
            Action::Examine(batch) => self.examine(batch).await,
            Action::Scan(id) => self.scan(id).await,
            Action::Start(start) => self.start(vec![start]).await,
            Action::Stop(key) => self.stop_job(&key).await,
            Action::RecordFailure {
                key,
                message,
                retry_in,
            } => {
                let at = retry_in.map(|wait| {
                    crate::sync::now_ms() + i64::try_from(wait.as_millis()).unwrap_or(i64::MAX)
                });
                let written = self
                    .door
                    .call(move |journal| {
                        if let Some(file) = journal.file(Some(key.0), &key.1)? {
                            journal.record_file_failure(file.id, &message, at)?;
                        }
                        Ok(())
                    })
                    .await;
                if let Err(err) = written {
                    self.warn(format!("cannot record a failure in the journal: {err}"));
                }
                self.failures_stale = true;
            }
            Action::ClearFailure(key) => {
                let _ = self
                    .door
                    .call(move |journal| {
                        if let Some(file) = journal.file(Some(key.0), &key.1)? {
                            journal.clear_file_failure(file.id)?;
                        }
                        Ok(())
                    })
                    .await;
            }
            Action::ForgetServer(id) => {
                if let Some(folder) = self.folders.get(&id) {
                    let server = folder.info.server.clone();
                    self.shared.forget(&server).await;
                }
            }
            Action::Notify(notice) => self.notice(notice),
        }
    }

    /// Examines a batch: files whose job runs are looked at first; a job whose file changed
    /// under it is stopped before the planner writes anything for it.
    async fn examine(&mut self, batch: Vec<(Key, Option<String>)>) {
        let running: Vec<(Key, PathBuf, Option<FileFacts>)> = batch
            .iter()
            .filter_map(|(key, _)| {
                let job = self.jobs.get(key)?;
                Some((key.clone(), self.abs(key)?, job.facts))
            })
            .collect();
        let mut results = Vec::new();
        let mut unchanged = std::collections::HashSet::new();
        if !running.is_empty() {
            let looked = tokio::task::spawn_blocking(move || {
                running
                    .into_iter()
                    .map(|(key, path, facts)| {
                        let now = crate::sync::scan::facts_of(&path).ok().flatten();
                        (key, now.is_some() && now == facts)
                    })
                    .collect::<Vec<_>>()
            })
            .await
            .unwrap_or_default();
            for (key, same) in looked {
                if same {
                    unchanged.insert(key.clone());
                    results.push((key, Examined::Unchanged));
                } else {
                    // Changed or gone under its upload: stopped; the planner decides next.
                    self.stop_job(&key).await;
                }
            }
        }
        let mut items = Vec::new();
        for (key, renamed_to) in batch {
            if unchanged.contains(&key) {
                continue;
            }
            match self.folders.get(&key.0) {
                Some(folder) => items.push(Item {
                    folder: Arc::clone(&folder.info),
                    key,
                    renamed_to,
                }),
                None => results.push((key, Examined::Settled)),
            }
        }
        let keys: Vec<Key> = items.iter().map(|i| i.key.clone()).collect();
        match self.door.call(move |j| Ok(examine_all(j, items))).await {
            Ok(examined) => results.extend(examined),
            Err(err) => {
                // Nothing of it was kept: jobs record their own files, scans find the rest.
                self.warn(format!(
                    "could not record what changed in the journal: {err}"
                ));
                results.extend(keys.into_iter().map(|k| (k, Examined::Unchanged)));
            }
        }
        self.core.handle_examined(now(), results);
    }

    /// Tells people: the live queue, events, the parked files.
    fn notice(&mut self, notice: Notice) {
        match notice {
            Notice::Queued(key, size) => {
                let display = self.display(&key);
                let folder = self.folders.get(&key.0).map(|f| &f.info);
                let (path, server) = (
                    folder.map(|f| f.folder.path.clone()),
                    folder.map(|f| f.server.clone()),
                );
                guard(&self.views.tracker).queued(
                    &display,
                    path.as_deref(),
                    server.as_deref(),
                    size,
                );
                (self.events)(Event::Queued {
                    path: display,
                    size,
                });
            }
            Notice::Left(key) => {
                let display = self.display(&key);
                guard(&self.views.tracker).remove(&display);
            }
            Notice::Retrying {
                key,
                attempt,
                delay,
                message,
                unreachable,
                server_full,
            } => {
                let display = self.display(&key);
                let event = Event::Retrying {
                    path: display,
                    attempt,
                    delay_ms: u64::try_from(delay.as_millis()).unwrap_or(u64::MAX),
                    error: message,
                    unreachable,
                    server_full,
                };
                // The event sink feeds the live queue too.
                (self.events)(event);
            }
            Notice::Paused(folder) => {
                let folder = folder.and_then(|id| self.folder_path(id));
                (self.events)(Event::Paused { folder });
            }
            Notice::Resumed(folder) => {
                let folder = folder.and_then(|id| self.folder_path(id));
                (self.events)(Event::Resumed { folder });
            }
            Notice::SignedOut(_) => guard(&self.views.tracker).signed_out = true,
            Notice::FailuresChanged => self.failures_stale = true,
            Notice::Warning(message) => self.warn(message),
        }
    }

    fn folder_path(&self, id: ferry_store::FolderId) -> Option<String> {
        self.folders.get(&id).map(|f| f.info.folder.path.clone())
    }

    /// Re-reads the parked files from the journal for the views.
    pub(super) async fn refresh_failed(&mut self) {
        let failed = self
            .door
            .call(|journal| Ok(journal.synced_files_in_state(FileState::Failed)?))
            .await
            .unwrap_or_default()
            .into_iter()
            .map(|(folder, file)| Failure {
                path: Path::new(&folder)
                    .join(&file.local_path)
                    .display()
                    .to_string(),
                folder: Some(folder),
                at_ms: file.updated_at_ms,
                error: file.last_error.unwrap_or_default(),
                permanent: true,
            })
            .collect();
        *guard(&self.views.failed) = failed;
    }

    /// Pauses or resumes one folder, in the journal and in the core.
    pub(super) async fn pause_folder(&mut self, path: &Path, paused: bool) {
        let Some(id) = self.folder_at(path) else {
            self.warn(format!("{} is not a synced folder", path.display()));
            return;
        };
        let written = self
            .door
            .call(move |journal| Ok(journal.set_folder_paused(id, paused)?))
            .await;
        if let Err(err) = written {
            self.warn(format!("cannot pause {}: {err}", path.display()));
            return;
        }
        if let Some(folder) = self.folders.get_mut(&id) {
            let info = &folder.info;
            let mut row = info.folder.clone();
            row.paused = paused;
            folder.info = Arc::new(super::folders::FolderInfo {
                folder: row,
                root: info.root.clone(),
                rules: info.rules.clone(),
                server: info.server.clone(),
                user: info.user.clone(),
            });
        }
        self.core.handle_folder_paused(now(), id, paused);
    }

    /// The user asks to try again: parked files and files waiting for a retry (one, or all)
    /// become pending with their failures forgotten, and are examined now.
    pub(super) async fn retry(&mut self, retry: Retry) {
        let failed = self
            .door
            .call(|journal| Ok(journal.synced_files_in_state(FileState::Failed)?))
            .await
            .unwrap_or_default();
        let mut keys: Vec<Key> = failed
            .into_iter()
            .filter_map(|(_, file)| file.folder.map(|f| (f, file.local_path)))
            .collect();
        keys.extend(self.core.retrying().cloned());
        keys.sort();
        keys.dedup();
        keys.retain(|key| match &retry {
            Retry::All => true,
            Retry::Paths(paths) => self.abs(key).is_some_and(|p| paths.contains(&p)),
        });
        let reset = keys.clone();
        let written = self
            .door
            .call(move |journal| {
                for key in reset {
                    if let Some(file) = journal.file(Some(key.0), &key.1)? {
                        journal.clear_file_failure(file.id)?;
                        if file.state == FileState::Failed {
                            journal.upsert_file(
                                Some(key.0),
                                &key.1,
                                file.facts,
                                file.sha1.as_deref(),
                                FileState::Pending,
                            )?;
                        }
                    }
                }
                Ok(())
            })
            .await;
        if let Err(err) = written {
            self.warn(format!("cannot retry: {err}"));
        }
        self.core.handle_retry(now(), keys);
        // Uploads waiting out their own backoff (a server that went away mid-upload) are
        // started again now too: "Retry now" means now.
        let stalled: Vec<Key> = {
            let tracker = guard(&self.views.tracker);
            self.jobs
                .keys()
                .filter(|key| tracker.is_retrying(&self.display(key)))
                .filter(|key| match &retry {
                    Retry::All => true,
                    Retry::Paths(paths) => self.abs(key).is_some_and(|p| paths.contains(&p)),
                })
                .cloned()
                .collect()
        };
        if !stalled.is_empty() {
            self.core.handle_restart(now(), stalled);
        }
    }
}
