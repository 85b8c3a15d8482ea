//! The sync core's inputs: each `handle_*` takes one fact at `now`, updates the state and
//! queues the actions it leads to; then the core examines what is due and starts jobs while
//! there is room (`step`). Pure: no clock, no I/O.

use std::time::{Duration, Instant};

use ferry_store::FolderId;

use super::{Action, CoreOptions, Examined, FolderState, JobEnd, Key, Mode, Notice, SyncCore};

/// How long a one-shot run asks the next run to wait before a retryable failure is tried
/// again (it is tried by the next `ferry sync --once` after that).
pub(super) const ONCE_RETRY: Duration = Duration::from_secs(5);

/// The shortest wait before a file is tried again on a server that is out of space: space
/// is freed by a person, in minutes, and asking every few seconds only fills the log.
pub(crate) const SERVER_FULL_WAIT: Duration = Duration::from_secs(5 * 60);

/// What a full scan of a folder found, relative to the folder, as facts for the core.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct ScanFound {
    /// Files that differ from the journal, with how long ago each last changed (its
    /// modification time), when known.
    pub(crate) changed: Vec<(String, Option<Duration>)>,
    /// Files the journal knows that are no longer there.
    pub(crate) gone: Vec<String>,
    /// Files the journal has unfinished work for, with the wait until their retry time when
    /// the journal has one.
    pub(crate) unfinished: Vec<(String, Option<Duration>)>,
}

impl SyncCore {
    /// A synced folder is known (at start, or added). `fallback`: its OS watcher could not
    /// watch it, so it is scanned on the fallback interval. An active folder is scanned now.
    pub(crate) fn handle_folder_added(
        &mut self,
        now: Instant,
        id: FolderId,
        paused: bool,
        fallback: bool,
    ) {
        let every = self.scan_interval(fallback);
        self.folders.insert(
            id,
            FolderState {
                paused,
                held: false,
                fallback,
                next_scan: now + every,
            },
        );
        if !paused {
            self.scan(now, id);
        }
        self.step(now);
    }

    /// A folder is no longer synced: its jobs stop and everything queued for it is dropped.
    pub(crate) fn handle_folder_removed(&mut self, now: Instant, id: FolderId) {
        self.folders.remove(&id);
        let running: Vec<Key> = Self::keys_of(self.running.keys(), id);
        for key in running {
            self.stop(&key);
            self.notify(Notice::Left(key));
        }
        let waiting: Vec<Key> = Self::keys_of(self.waiting_sizes.keys(), id);
        for key in waiting {
            self.unqueue(&key);
        }
        self.dirty.retain(|k, _| k.0 != id);
        self.retry_at.retain(|k, _| k.0 != id);
        self.renamed.retain(|k, _| k.0 != id);
        self.attempts.retain(|k, _| k.0 != id);
        self.failures_recorded.retain(|k| k.0 != id);
        self.scanning.remove(&id);
        self.notify(Notice::FailuresChanged);
        self.step(now);
    }

    /// One folder was paused or resumed (the driver recorded it in the journal). Pausing
    /// stops its jobs (they continue from the server's offset later); resuming scans it.
    pub(crate) fn handle_folder_paused(&mut self, now: Instant, id: FolderId, paused: bool) {
        let Some(folder) = self.folders.get_mut(&id) else {
            return;
        };
        if folder.paused == paused {
            return;
        }
        folder.paused = paused;
        if paused {
            self.requeue_running(now, Some(id));
            self.notify(Notice::Paused(Some(id)));
        } else {
            self.notify(Notice::Resumed(Some(id)));
            self.scan(now, id);
        }
        self.step(now);
    }

    /// Pauses (`true`) or resumes everything.
    pub(crate) fn handle_pause_all(&mut self, now: Instant, paused: bool) {
        if self.paused == paused {
            return;
        }
        self.paused = paused;
        if paused {
            self.requeue_running(now, None);
            self.notify(Notice::Paused(None));
        } else {
            self.notify(Notice::Resumed(None));
        }
        self.step(now);
    }

    /// Everything (`None`) or one folder is held back (`true`) by the system's state or
    /// the schedule, or no longer. Like a pause, holding stops the jobs (they continue from
    /// the server's offset once the hold ends); it is the user's pause that is kept in the
    /// journal, not this.
    pub(crate) fn handle_held(&mut self, now: Instant, folder: Option<FolderId>, held: bool) {
        match folder {
            None => {
                if self.held == held {
                    return;
                }
                self.held = held;
            }
            Some(id) => {
                let Some(state) = self.folders.get_mut(&id) else {
                    return;
                };
                if state.held == held {
                    return;
                }
                state.held = held;
            }
        }
        if held {
            self.requeue_running(now, folder);
        }
        self.step(now);
    }

    /// The network is back (or the system woke): files waiting for their retry time are
    /// tried now, keeping their count of failures (so a file that fails again waits as
    /// long as it would have).
    pub(crate) fn handle_network_back(&mut self, now: Instant) {
        for (key, _) in self.retry_at.drain() {
            self.dirty.insert(key, now);
        }
        self.step(now);
    }

    /// The OS watcher gave up on a folder: it is scanned on the fallback interval from now.
    pub(crate) fn handle_watch_failed(&mut self, now: Instant, id: FolderId) {
        let every = self.options.fallback_rescan_every;
        if let Some(folder) = self.folders.get_mut(&id) {
            folder.fallback = true;
            folder.next_scan = folder.next_scan.min(now + every);
        }
        self.step(now);
    }

    /// The OS watcher watches a folder again (a missing folder came back): it is scanned
    /// on the normal interval from now.
    pub(crate) fn handle_watch_restored(&mut self, now: Instant, id: FolderId) {
        let every = self.options.rescan_every;
        if let Some(folder) = self.folders.get_mut(&id) {
            folder.fallback = false;
            folder.next_scan = now + every;
        }
        self.step(now);
    }

    /// Reports of a folder may have been lost (the OS queue or the driver's overflowed): it
    /// is scanned whole now.
    pub(crate) fn handle_rescan_needed(&mut self, now: Instant, id: FolderId) {
        self.scan(now, id);
        self.step(now);
    }

    /// The watcher saw `key` change; `age` is how long ago the file last changed (its
    /// modification time), when known. It is examined once it has been quiet for the quiet
    /// period, counted from that change, never longer than a full period from now.
    pub(crate) fn handle_changed(&mut self, now: Instant, key: Key, age: Option<Duration>) {
        let quiet = self.options.quiet_period;
        let wait = age.map_or(quiet, |age| quiet.saturating_sub(age));
        self.mark(key, now + wait);
        self.step(now);
    }

    /// The watcher saw `from` renamed to `to` (relative paths in the same folder); both
    /// sides are reported with [`SyncCore::handle_changed`] as well.
    pub(crate) fn handle_renamed(&mut self, from: Key, to: String) {
        self.renamed.insert(from, to);
    }

    /// A full scan of `id` ended; `found` is `None` when the folder could not be scanned
    /// (missing or unreadable: its files are never taken for deleted).
    pub(crate) fn handle_scanned(&mut self, now: Instant, id: FolderId, found: Option<ScanFound>) {
        self.scanning.remove(&id);
        if !self.folders.contains_key(&id) {
            return;
        }
        let Some(found) = found else {
            self.step(now);
            return;
        };
        let quiet = self.options.quiet_period;
        for (rel, age) in found.changed {
            let wait = match (self.mode, age) {
                (Mode::Watch, Some(age)) => quiet.saturating_sub(age),
                _ => Duration::ZERO,
            };
            self.mark((id, rel), now + wait);
        }
        for rel in found.gone {
            self.mark((id, rel), now);
        }
        for (rel, retry_in) in found.unfinished {
            let key = (id, rel);
            match retry_in {
                Some(wait) if !wait.is_zero() && self.mode == Mode::Watch => {
                    if !self.dirty.contains_key(&key) && !self.is_running(&key) {
                        self.retry_at.insert(key, now + wait);
                    }
                }
                _ => self.mark(key, now),
            }
        }
        self.step(now);
    }

    /// The driver examined paths it was asked to (see [`Examined`]). The driver examines a
    /// file whose job runs only after stopping that job (its facts changed), so any answer
    /// for it but [`Examined::Unchanged`] is taken as that stop.
    pub(crate) fn handle_examined(&mut self, now: Instant, results: Vec<(Key, Examined)>) {
        for (key, examined) in results {
            self.examining.remove(&key);
            if !self.folders.contains_key(&key.0) {
                continue;
            }
            match examined {
                Examined::Unchanged => continue,
                Examined::Failed(message) => {
                    self.notify(Notice::Warning(message));
                    continue;
                }
                Examined::Settled | Examined::Send { .. } => {}
            }
            // Its job, if one ran, was stopped by the driver before the examination.
            self.running.remove(&key);
            match examined {
                Examined::Settled => self.unqueue(&key),
                Examined::Send {
                    size,
                    hash_first,
                    changed,
                    attempts,
                } => {
                    if changed {
                        self.retry_at.remove(&key);
                        self.attempts.remove(&key);
                    } else if attempts > 0 {
                        self.failures_recorded.insert(key.clone());
                        let last = self.attempts.get(&key).map_or(Duration::ZERO, |a| a.1);
                        self.attempts.insert(key.clone(), (attempts, last));
                    }
                    if self.retry_at.contains_key(&key) {
                        continue;
                    }
                    if hash_first {
                        self.hash_first.insert(key.clone());
                    } else {
                        self.hash_first.remove(&key);
                    }
                    self.enqueue(key, size);
                }
                Examined::Unchanged | Examined::Failed(_) => {}
            }
        }
        self.step(now);
    }

    /// A job ended (ends of jobs that were stopped are ignored).
    pub(crate) fn handle_job_done(&mut self, now: Instant, key: Key, id: u64, end: JobEnd) {
        if self.running.get(&key).is_none_or(|r| r.id != id) {
            return;
        }
        self.running.remove(&key);
        match end {
            JobEnd::Uploaded { bytes } => {
                self.tally.uploaded += 1;
                self.tally.bytes_sent += bytes;
                self.attempts.remove(&key);
                self.notify(Notice::Left(key.clone()));
                if self.failures_recorded.remove(&key) {
                    self.push(Action::ClearFailure(key));
                    self.notify(Notice::FailuresChanged);
                }
            }
            JobEnd::Unchanged => {
                self.tally.unchanged += 1;
                self.notify(Notice::Left(key));
                self.notify(Notice::FailuresChanged);
            }
            JobEnd::FileChanged => {
                // Abandoned by the transport; it goes again once it has been quiet.
                self.notify(Notice::Left(key.clone()));
                let quiet = self.options.quiet_period;
                self.mark(key, now + quiet);
                self.notify(Notice::FailuresChanged);
            }
            JobEnd::Failed {
                message,
                retryable,
                unauthorized,
                server_full,
                unreachable,
            } => {
                let least = server_full.then_some(SERVER_FULL_WAIT);
                let trouble = if unauthorized {
                    Trouble::SignIn
                } else if unreachable {
                    Trouble::Unreachable
                } else if server_full {
                    Trouble::ServerFull
                } else {
                    Trouble::File
                };
                let why = Why { retryable, trouble };
                self.failed(now, key, message, why, least);
            }
        }
        self.step(now);
    }

    /// The user asks to try these files again now (the driver made them pending in the
    /// journal): their retry times and counts are forgotten, and they are examined at once.
    pub(crate) fn handle_retry(&mut self, now: Instant, keys: Vec<Key>) {
        for key in keys {
            self.retry_at.remove(&key);
            self.attempts.remove(&key);
            self.failures_recorded.remove(&key);
            self.dirty.insert(key, now);
        }
        self.notify(Notice::FailuresChanged);
        self.step(now);
    }

    /// The user asks these running jobs, which wait inside their upload for a retry, to
    /// try again now: they are stopped and their files examined at once (the upload goes
    /// on from the server's offset).
    pub(crate) fn handle_restart(&mut self, now: Instant, keys: Vec<Key>) {
        for key in keys {
            if self.is_running(&key) {
                self.stop(&key);
                self.dirty.insert(key, now);
            }
        }
        self.step(now);
    }

    /// New options (concurrency, quiet period, intervals, retry spacing).
    pub(crate) fn handle_options(&mut self, now: Instant, options: CoreOptions) {
        self.options = options;
        self.step(now);
    }

    /// Time passed: what is due is done.
    pub(crate) fn handle_timeout(&mut self, now: Instant) {
        if !self.paused && !self.held {
            let due: Vec<Key> = self
                .retry_at
                .iter()
                .filter(|(_, at)| **at <= now)
                .map(|(k, _)| k.clone())
                .collect();
            for key in due {
                self.retry_at.remove(&key);
                self.dirty.insert(key, now);
            }
        }
        if self.mode == Mode::Watch && !self.paused && !self.held {
            let due: Vec<FolderId> = self
                .folders
                .iter()
                .filter(|(_, f)| f.next_scan <= now)
                .map(|(id, _)| *id)
                .collect();
            for id in due {
                self.scan(now, id);
            }
        }
        self.step(now);
    }

    /// A failed job: tried again later (its wait never shorter than the last one, nor than
    /// `at_least`), or parked.
    fn failed(
        &mut self,
        now: Instant,
        key: Key,
        message: String,
        why: Why,
        at_least: Option<Duration>,
    ) {
        let Why { retryable, trouble } = why;
        if trouble == Trouble::SignIn {
            self.push(Action::ForgetServer(key.0));
            self.notify(Notice::SignedOut(key.0));
        }
        self.failures_recorded.insert(key.clone());
        if retryable && self.mode == Mode::Watch {
            let (before, last) = self.attempts.get(&key).copied().unwrap_or_default();
            let attempt = before + 1;
            let jitter = self.jitter();
            let drawn = self.options.file_retry.delay(attempt, jitter);
            let delay = drawn.max(last).max(at_least.unwrap_or_default());
            self.attempts.insert(key.clone(), (attempt, delay));
            self.retry_at.insert(key.clone(), now + delay);
            self.push(Action::RecordFailure {
                key: key.clone(),
                message: message.clone(),
                retry_in: Some(delay),
            });
            self.notify(Notice::Retrying {
                key,
                attempt,
                delay,
                message,
                unreachable: trouble == Trouble::Unreachable,
                server_full: trouble == Trouble::ServerFull,
            });
        } else {
            self.push(Action::RecordFailure {
                key: key.clone(),
                message: message.clone(),
                retry_in: retryable.then_some(ONCE_RETRY),
            });
            self.notify(Notice::Left(key.clone()));
            self.tally.failed.push((key, message));
        }
        self.notify(Notice::FailuresChanged);
    }
}

/// What kind of failure a job's was, as [`SyncCore::failed`] weighs it.
#[derive(Debug, Clone, Copy)]
struct Why {
    /// Trying again later can help.
    retryable: bool,
    /// Whose trouble it is.
    trouble: Trouble,
}

/// Whose trouble a failure is: the file's own, or its server's (then it is shown once).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Trouble {
    /// This file's (or an error of no kind in particular).
    File,
    /// The server refused the sign-in.
    SignIn,
    /// The server could not be reached.
    Unreachable,
    /// The server is out of space.
    ServerFull,
}
