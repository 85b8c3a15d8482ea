//! One writer per upload, and the newest request wins.
//!
//! A client whose connection dropped mid-PATCH reconnects and resumes while the server may
//! still be reading the dead request's body. [`UploadLocks::acquire`] cancels the holder
//! (its [`UploadGuard::cancelled`] fires, it stops reading, commits what it verified and
//! lets go) and then waits for the lock, so the stale request can neither block the resume
//! nor interleave its bytes with it. Knows nothing of protocols.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::OwnedMutexGuard;
use tokio_util::sync::CancellationToken;

#[derive(Debug, Default)]
struct Slot {
    lock: Arc<tokio::sync::Mutex<()>>,
    /// Fires when a newer request wants the upload.
    current: CancellationToken,
}

/// The per-upload locks of one server.
#[derive(Debug, Default)]
pub struct UploadLocks {
    slots: Mutex<HashMap<String, Slot>>,
}

/// Exclusive access to one upload until dropped.
#[derive(Debug)]
pub struct UploadGuard {
    _guard: OwnedMutexGuard<()>,
    cancel: CancellationToken,
}

impl UploadGuard {
    /// Completes when a newer request for the same upload asks for it: stop soon.
    pub async fn cancelled(&self) {
        self.cancel.cancelled().await;
    }

    /// Whether a newer request asked for the upload.
    pub fn is_cancelled(&self) -> bool {
        self.cancel.is_cancelled()
    }
}

impl UploadLocks {
    /// Takes upload `id` for this request, asking any current holder to stop first.
    pub async fn acquire(&self, id: &str) -> UploadGuard {
        let (lock, cancel) = {
            let mut slots = self
                .slots
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            // Forget slots nobody holds, so the map stays as small as the uploads in flight.
            slots.retain(|key, slot| key == id || Arc::strong_count(&slot.lock) > 1);
            let slot = slots.entry(id.to_owned()).or_default();
            slot.current.cancel();
            slot.current = CancellationToken::new();
            (Arc::clone(&slot.lock), slot.current.clone())
        };
        let guard = lock.lock_owned().await;
        UploadGuard {
            _guard: guard,
            cancel,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[tokio::test]
    async fn a_new_request_cancels_the_holder_and_gets_the_lock_after_it() {
        let locks = Arc::new(UploadLocks::default());
        let stale = locks.acquire("u").await;
        let order = Arc::new(Mutex::new(Vec::new()));
        let stale_task = {
            let order = Arc::clone(&order);
            tokio::spawn(async move {
                stale.cancelled().await;
                order.lock().unwrap().push("stale stopped");
                drop(stale);
            })
        };
        // Whether or not the stale task already waits, the cancel reaches it, and the fresh
        // request gets the lock only once the stale one dropped it.
        let fresh = tokio::time::timeout(Duration::from_secs(5), locks.acquire("u"))
            .await
            .expect("not blocked");
        order.lock().unwrap().push("fresh acquired");
        assert!(!fresh.is_cancelled());
        stale_task.await.unwrap();
        assert_eq!(*order.lock().unwrap(), ["stale stopped", "fresh acquired"]);
        let other = tokio::time::timeout(Duration::from_secs(1), locks.acquire("v")).await;
        assert!(other.is_ok(), "other uploads are independent");
    }
}
