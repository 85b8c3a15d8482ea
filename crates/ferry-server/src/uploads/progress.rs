//! Acknowledged offsets that are not durable yet, and the checkpoints that make them so.
//!
//! A chunk is acknowledged once its bytes are written (in the page cache), not once they are
//! flushed: waiting for the disk on every chunk cost most of the time of a chunked upload.
//! What the server acknowledged but has not flushed is held here, in memory, and is volatile
//! for a bounded window only ([`WINDOW_BYTES`], [`WINDOW_AGE`]): a checkpoint flushes the
//! data file, then records the offset in the database, in that order. A request that would
//! leave more than the window volatile checkpoints before it answers; the background task
//! ([`run`]) checkpoints whatever has been volatile for half the window's age.
//!
//! After a crash, a SIGKILL or a power cut the server starts from the database, that is from
//! its last checkpoint (the data file is cut back to it before the next write), so HEAD
//! never reports a byte it cannot produce; the client re-sends at most the window.
//!
//! Every other writer of an upload's offset (finishing, joining, resetting, resuming a
//! GalileoSend session, termination) settles the upload here first ([`Progress::settle`]),
//! under the upload's lock, so a background checkpoint never writes a stale offset over it.
//! Knows nothing of HTTP or WebSockets.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use crate::db::Db;
use crate::error::ServerError;
use crate::storage::Storage;
use crate::uploads::UploadRecord;

/// At most this many acknowledged bytes of one upload are volatile at any time.
pub const WINDOW_BYTES: u64 = 64 << 20;
/// An acknowledged offset is durable at most this long after it was acknowledged.
pub const WINDOW_AGE: Duration = Duration::from_secs(1);
/// How often the background task looks for offsets due for a checkpoint.
const TICK: Duration = Duration::from_millis(100);

/// Whether an acknowledgement must wait for a checkpoint: it would leave more than the
/// window's bytes volatile, or it declares the upload's length (rare, and a length is not
/// worth re-declaring after a crash).
#[must_use]
pub fn checkpoint_before_answer(durable: u64, acknowledged: u64, declares_length: bool) -> bool {
    declares_length || acknowledged.saturating_sub(durable) > WINDOW_BYTES
}

/// Whether an offset volatile since `since` is due for a background checkpoint at `now`:
/// at half the window's age, so that the flush itself fits in the other half.
#[must_use]
pub fn due(since: Instant, now: Instant) -> bool {
    now.saturating_duration_since(since) >= WINDOW_AGE / 2
}

struct Entry {
    /// The upload as acknowledged (offset, length, expiry).
    record: UploadRecord,
    /// The offset the database holds.
    durable: u64,
    /// When the oldest acknowledgement not yet checkpointed was given.
    since: Instant,
    /// Held while the upload is checkpointed or settled.
    lock: Arc<tokio::sync::Mutex<()>>,
}

/// The uploads whose acknowledged offset is ahead of the database.
#[derive(Default)]
pub struct Progress {
    entries: Mutex<HashMap<String, Entry>>,
}

impl std::fmt::Debug for Progress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Progress")
            .field("volatile", &self.lock().len())
            .finish()
    }
}

impl Progress {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Entry>> {
        self.entries.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// `record` as acknowledged: the database's row with the offset, length and expiry
    /// acknowledged since its last checkpoint.
    #[must_use]
    pub fn overlay(&self, mut record: UploadRecord) -> UploadRecord {
        if let Some(entry) = self.lock().get(&record.id)
            && record.completed_at.is_none()
        {
            record.received = entry.record.received;
            record.length = entry.record.length;
            record.expires_at = entry.record.expires_at;
        }
        record
    }

    /// Acknowledges `record` (its bytes written, not flushed), which held `before` bytes
    /// when the request began (as read through [`Progress::overlay`]). Checkpoints first when
    /// the window would be exceeded; after this returns, the offset may be given to the
    /// client. The caller holds the upload's lock.
    pub async fn acknowledge(
        &self,
        db: &Db,
        storage: &Storage,
        record: &UploadRecord,
        before: u64,
        declares_length: bool,
    ) -> Result<(), ServerError> {
        let durable = {
            let mut entries = self.lock();
            // Not held here: the offset it began with is the database's.
            let entry = entries.entry(record.id.clone()).or_insert_with(|| Entry {
                record: record.clone(),
                durable: before,
                since: Instant::now(),
                lock: Arc::default(),
            });
            entry.record = record.clone();
            entry.durable
        };
        if checkpoint_before_answer(durable, record.received, declares_length) {
            self.settle(db, storage, &record.id).await?;
        }
        Ok(())
    }

    /// Makes upload `id`'s acknowledged offset durable now and forgets it here: the
    /// database is the truth about it again. Nothing to do for an upload not held here.
    pub async fn settle(&self, db: &Db, storage: &Storage, id: &str) -> Result<(), ServerError> {
        self.checkpoint(db, storage, id, true).await
    }

    /// Forgets upload `id` without a checkpoint (it is being removed).
    pub async fn discard(&self, id: &str) {
        let Some(lock) = self.lock().get(id).map(|e| Arc::clone(&e.lock)) else {
            return;
        };
        let _held = lock.lock().await;
        self.lock().remove(id);
    }

    /// Flushes upload `id`'s data file, then records its acknowledged offset. With `forget`
    /// the entry goes in any case; else it stays when a newer acknowledgement came meanwhile.
    async fn checkpoint(
        &self,
        db: &Db,
        storage: &Storage,
        id: &str,
        forget: bool,
    ) -> Result<(), ServerError> {
        let Some(lock) = self.lock().get(id).map(|e| Arc::clone(&e.lock)) else {
            return Ok(());
        };
        let _held = lock.lock().await;
        let (snapshot, taken) = match self.lock().get(id) {
            Some(entry) if Arc::ptr_eq(&entry.lock, &lock) => {
                (entry.record.clone(), Instant::now())
            }
            // Settled or discarded while this waited.
            _ => return Ok(()),
        };
        let path = storage.upload_path(id);
        let flushed = tokio::task::spawn_blocking(move || {
            std::fs::OpenOptions::new()
                .write(true)
                .open(&path)
                .and_then(|file| file.sync_data())
        })
        .await
        .map_err(|e| ServerError::Internal(format!("a checkpoint task failed: {e}")));
        let flushed = match flushed {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(ServerError::io(format!("flushing upload {id}"), e)),
            Err(e) => Err(e),
        };
        let saved = match flushed {
            Ok(()) => {
                let stored = snapshot.clone();
                db.call(move |conn| stored.save_progress(conn)).await
            }
            Err(e) => Err(e),
        };
        let mut entries = self.lock();
        if let Err(e) = saved {
            // The bytes past the last checkpoint cannot be vouched for: the database's
            // offset stands, and the data file is cut back to it before the next write.
            entries.remove(id);
            return Err(e);
        }
        if let Some(entry) = entries.get_mut(id) {
            let newer = entry.record.received != snapshot.received
                || entry.record.length != snapshot.length;
            if forget || !newer {
                entries.remove(id);
            } else {
                entry.durable = snapshot.received;
                entry.since = taken;
            }
        }
        Ok(())
    }

    /// The uploads due for a background checkpoint at `now`.
    fn due_now(&self, now: Instant) -> Vec<String> {
        self.lock()
            .iter()
            .filter(|(_, entry)| due(entry.since, now))
            .map(|(id, _)| id.clone())
            .collect()
    }

    /// Checkpoints every upload held here (a clean stop loses nothing).
    pub async fn settle_all(&self, db: &Db, storage: &Storage) {
        let ids: Vec<String> = self.lock().keys().cloned().collect();
        for id in ids {
            if let Err(err) = self.settle(db, storage, &id).await {
                tracing::warn!(upload = %id, error = %err, "could not checkpoint an upload while stopping");
            }
        }
    }
}

/// Checkpoints, until dropped, every acknowledged offset as it comes due.
pub async fn run(progress: Arc<Progress>, db: Db, storage: Storage) {
    let mut tick = tokio::time::interval(TICK);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        for id in progress.due_now(Instant::now()) {
            if let Err(err) = progress.checkpoint(&db, &storage, &id, false).await {
                tracing::warn!(upload = %id, error = %err, "could not checkpoint an upload; it resumes from its last checkpoint");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_answer_waits_for_a_checkpoint_only_past_the_window_or_for_a_length() {
        let cases = [
            // (durable, acknowledged, declares length, must checkpoint first)
            (0, 8 << 20, false, false),
            (0, WINDOW_BYTES, false, false),
            (0, WINDOW_BYTES + 1, false, true),
            (100 << 20, (100 << 20) + WINDOW_BYTES, false, false),
            (100 << 20, (101 << 20) + WINDOW_BYTES, false, true),
            (5, 5, true, true),
            // An offset behind the database's (a reset) is never volatile.
            (10 << 20, 0, false, false),
        ];
        for (durable, acknowledged, length, expected) in cases {
            assert_eq!(
                checkpoint_before_answer(durable, acknowledged, length),
                expected,
                "durable {durable}, acknowledged {acknowledged}, length {length}"
            );
        }
    }

    #[test]
    fn an_offset_is_due_at_half_the_window_age() {
        let start = Instant::now();
        assert!(!due(start, start));
        assert!(!due(
            start,
            start + (WINDOW_AGE / 2).saturating_sub(Duration::from_millis(1))
        ));
        assert!(due(start, start + WINDOW_AGE / 2));
        assert!(due(start, start + WINDOW_AGE));
        // A clock read before `since` is not due (no underflow).
        assert!(!due(start + WINDOW_AGE, start));
    }
}
