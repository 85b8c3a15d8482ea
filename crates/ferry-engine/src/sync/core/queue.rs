//! The mechanics of the sync core's queue: examining what is due, starting jobs while there
//! is room, marking paths dirty, queueing and unqueueing, stopping jobs, asking for scans.
//! Pure, like the rest of the core.

use std::time::{Duration, Instant};

use ferry_store::FolderId;

use super::{Action, Key, Notice, Running, StartJob, SyncCore};

/// Below this size a file never waits behind large ones: while every running job is a file
/// of this size or more, one such file starts beside them, above the concurrency setting (a
/// photo is not held up by a video of several minutes of sending).
pub(crate) const SMALL_FILE: u64 = 8 * 1024 * 1024;

/// Below this size a file costs round trips and commits rather than bandwidth: such files
/// run beside the others, up to [`TINY_FILES_PER_SLOT`] jobs per slot of the concurrency
/// setting in all (16 at a time with the default 4), so that a folder of small files keeps
/// a long round trip busy; they take no slot from larger files.
pub(crate) const TINY_FILE: u64 = 1024 * 1024;
/// How many tiny files may run per slot of the concurrency setting.
pub(crate) const TINY_FILES_PER_SLOT: usize = 4;

impl SyncCore {
    /// Examines what is due and starts jobs while there is room.
    pub(super) fn step(&mut self, now: Instant) {
        if self.paused || self.held {
            return;
        }
        let mut due: Vec<Key> = self
            .dirty
            .iter()
            .filter(|(key, at)| **at <= now && self.active(key.0))
            .map(|(k, _)| k.clone())
            .filter(|k| !self.examining.contains(k))
            .collect();
        if !due.is_empty() {
            due.sort();
            let batch = due
                .into_iter()
                .map(|key| {
                    self.dirty.remove(&key);
                    self.examining.insert(key.clone());
                    let to = self.renamed.remove(&key);
                    (key, to)
                })
                .collect();
            self.push(Action::Examine(batch));
        }
        self.start_jobs();
    }

    /// Starts jobs, smallest files first, while there is room; when every running job is a
    /// large file, one small file may start beside them ([`SMALL_FILE`]); tiny files have
    /// more room ([`TINY_FILE`]).
    fn start_jobs(&mut self) {
        loop {
            let slots = self.options.concurrency.max(1);
            if self.running.len() >= slots * TINY_FILES_PER_SLOT {
                return;
            }
            let mut larger = self.running.values().filter(|r| r.size >= TINY_FILE);
            let taken = larger.clone().count();
            let room = taken < slots;
            let small_lane = !room && larger.all(|r| r.size >= SMALL_FILE);
            let fits = |size: u64| size < TINY_FILE || room || (small_lane && size < SMALL_FILE);
            let Some(next) = self
                .waiting
                .iter()
                .find(|(size, key)| self.active(key.0) && fits(*size))
                .cloned()
            else {
                return;
            };
            self.waiting.remove(&next);
            let (size, key) = next;
            self.waiting_sizes.remove(&key);
            let id = self.next_job;
            self.next_job += 1;
            self.running.insert(key.clone(), Running { id, size });
            let hash_first = self.hash_first.remove(&key);
            self.push(Action::Start(StartJob {
                key,
                id,
                hash_first,
                parallel: size >= self.options.parallel_from,
            }));
        }
    }

    /// Whether the folder exists and is neither paused nor held back.
    pub(super) fn active(&self, id: FolderId) -> bool {
        self.folders.get(&id).is_some_and(|f| !f.paused && !f.held)
    }

    pub(super) fn scan_interval(&self, fallback: bool) -> Duration {
        if fallback {
            self.options.fallback_rescan_every
        } else {
            self.options.rescan_every
        }
    }

    /// Asks for a scan of `id` (once at a time) and sets its next one.
    pub(super) fn scan(&mut self, now: Instant, id: FolderId) {
        let Some(folder) = self.folders.get(&id) else {
            return;
        };
        let next = now + self.scan_interval(folder.fallback);
        if let Some(folder) = self.folders.get_mut(&id) {
            folder.next_scan = next;
        }
        if self.scanning.insert(id) {
            self.push(Action::Scan(id));
        }
    }

    /// Marks `key` to be examined at `at` (the later of the two, if it is marked already).
    pub(super) fn mark(&mut self, key: Key, at: Instant) {
        let entry = self.dirty.entry(key).or_insert(at);
        *entry = (*entry).max(at);
    }

    pub(super) fn enqueue(&mut self, key: Key, size: u64) {
        if self.is_running(&key) || self.waiting_sizes.contains_key(&key) {
            return;
        }
        self.waiting.insert((size, key.clone()));
        self.waiting_sizes.insert(key.clone(), size);
        self.notify(Notice::Queued(key, size));
    }

    /// Takes `key` out of the queue (and stops its job, if one runs).
    pub(super) fn unqueue(&mut self, key: &Key) {
        if let Some(size) = self.waiting_sizes.remove(key) {
            self.waiting.remove(&(size, key.clone()));
        }
        self.hash_first.remove(key);
        if self.running.contains_key(key) {
            self.stop(key);
        }
        self.notify(Notice::Left(key.clone()));
    }

    pub(super) fn stop(&mut self, key: &Key) {
        self.running.remove(key);
        self.push(Action::Stop(key.clone()));
    }

    /// Stops the jobs (of one folder, or all); their files are examined again when active.
    pub(super) fn requeue_running(&mut self, now: Instant, folder: Option<FolderId>) {
        let keys: Vec<Key> = self
            .running
            .keys()
            .filter(|k| folder.is_none_or(|f| k.0 == f))
            .cloned()
            .collect();
        for key in keys {
            self.stop(&key);
            self.dirty.insert(key, now);
        }
    }

    pub(super) fn keys_of<'a>(keys: impl Iterator<Item = &'a Key>, id: FolderId) -> Vec<Key> {
        keys.filter(|k| k.0 == id).cloned().collect()
    }

    /// A uniform draw in `0.0..1.0` for the retry jitter.
    pub(super) fn jitter(&mut self) -> f64 {
        rand::Rng::random::<f64>(&mut self.rng)
    }
}
