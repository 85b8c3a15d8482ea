//! Revocation reaches open connections: every running PATCH body and GalileoSend session
//! registers the token it signed in with, and revoking that token stops them.
//!
//! A token revoked by this server (`POST /api/v1/logout`) stops its sessions at once; one
//! revoked by another process on the same data directory (`ferry-server token revoke`) is
//! noticed by [`watch`], which asks the database about the tokens in use every
//! [`POLL`]. Knows nothing of protocols: holders only await [`SessionGuard::revoked`].

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::accounts::{Token, token_hash};
use crate::db::Db;

/// How often the tokens of open sessions are checked against the database.
pub const POLL: Duration = Duration::from_millis(250);

#[derive(Debug, Default)]
struct Entry {
    revoked: CancellationToken,
    holders: usize,
}

/// The open sessions of one server, by token hash.
#[derive(Debug, Default)]
pub struct Sessions {
    by_token: Mutex<HashMap<String, Entry>>,
}

/// One open session of a token; unregisters when dropped.
#[derive(Debug)]
pub struct SessionGuard {
    sessions: Arc<Sessions>,
    hash: String,
    revoked: CancellationToken,
}

impl SessionGuard {
    /// Completes once the session's token is revoked.
    pub async fn revoked(&self) {
        self.revoked.cancelled().await;
    }

    /// Whether the session's token was revoked.
    pub fn is_revoked(&self) -> bool {
        self.revoked.is_cancelled()
    }
}

impl Drop for SessionGuard {
    fn drop(&mut self) {
        let mut map = self
            .sessions
            .by_token
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(entry) = map.get_mut(&self.hash) {
            entry.holders = entry.holders.saturating_sub(1);
            if entry.holders == 0 {
                map.remove(&self.hash);
            }
        }
    }
}

impl Sessions {
    /// Registers a session of `token`.
    pub fn register(self: &Arc<Self>, token: &Token) -> SessionGuard {
        let hash = token_hash(token);
        let mut map = self.by_token.lock().unwrap_or_else(PoisonError::into_inner);
        let entry = map.entry(hash.clone()).or_default();
        entry.holders += 1;
        SessionGuard {
            sessions: Arc::clone(self),
            hash,
            revoked: entry.revoked.clone(),
        }
    }

    /// Stops every session of the token whose hash is `hash`.
    pub fn revoke_hash(&self, hash: &str) {
        let map = self.by_token.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(entry) = map.get(hash) {
            entry.revoked.cancel();
        }
    }

    /// Stops every session of `token`.
    pub fn revoke(&self, token: &Token) {
        self.revoke_hash(&token_hash(token));
    }

    fn in_use(&self) -> Vec<String> {
        let map = self.by_token.lock().unwrap_or_else(PoisonError::into_inner);
        map.iter()
            .filter(|(_, e)| !e.revoked.is_cancelled())
            .map(|(hash, _)| hash.clone())
            .collect()
    }
}

/// Every [`POLL`], stops the sessions whose token is no longer valid in the database;
/// runs until aborted.
pub async fn watch(sessions: Arc<Sessions>, db: Db) {
    let mut tick = tokio::time::interval(POLL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let hashes = sessions.in_use();
        if hashes.is_empty() {
            continue;
        }
        let revoked = db
            .read(move |conn| {
                let mut valid = conn.prepare_cached(
                    "SELECT 1 FROM tokens WHERE hash = ?1 AND revoked_at IS NULL",
                )?;
                let mut gone = Vec::new();
                for hash in hashes {
                    if !valid.exists([&hash])? {
                        gone.push(hash);
                    }
                }
                Ok(gone)
            })
            .await;
        match revoked {
            Ok(gone) => {
                for hash in gone {
                    tracing::info!("a token in use was revoked; stopping its sessions");
                    sessions.revoke_hash(&hash);
                }
            }
            Err(err) => tracing::warn!(error = %err, "checking tokens in use failed"),
        }
    }
}
