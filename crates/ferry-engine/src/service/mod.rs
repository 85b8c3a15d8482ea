//! The one front door to Ferry's state: what a server offers, signing in and out, the
//! synced folders and their ignore rules, the history and the status. The CLI and the
//! desktop app both hold a [`Service`] and reach folders, accounts, history and status only
//! through it, so a rule (which folders may be synced, which account a folder uses) is
//! decided here once and holds the same from either.
//!
//! A [`Service`] is cheap to clone: it holds the [`Home`], the [`Credentials`] and the
//! [`JournalDoor`]. Its methods are `async`; the journal is reached only through the door
//! (its own thread) and blocking work (files, the keyring) runs on tokio's blocking pool, so
//! no tokio worker waits on SQLite or a disk. Results are serde types whose JSON is exactly
//! the TypeScript of `docs/desktop.md` (camelCase fields); the CLI prints the same types.
//!
//! # Layout
//! - [`probe`]: [`probe_server`], a server's kind and protocols, checked live.
//! - `trust`: what TLS trusts ([`Service::trust`]) and a server's certificate shown before
//!   signing in ([`Service::check_certificate`]).
//! - [`accounts`]: signing in and out, the accounts and whether each is signed in.
//! - [`folders`]: the folder rules; adding, removing, pausing and listing folders with
//!   their file counts.
//! - [`ignore`]: a folder's `.ferryignore`.
//! - [`history`]: a filtered page of the history and bytes uploaded per day.
//! - [`status`]: the synced folders, the running sync and unfinished one-shot uploads.
//! - [`error`]: [`ServiceError`], the engine's errors plus the ones of user input.
//!
//! Nothing here knows of Tauri, windows or terminals, nor runs uploads: the sync engine
//! does, and reads what the service wrote in the journal.

pub mod accounts;
pub mod error;
pub mod folders;
pub mod history;
pub mod ignore;
mod places;
pub mod probe;
pub mod status;
mod trust;

use std::path::{Path, PathBuf};

use ferry_store::Journal;

use crate::auth::Credentials;
use crate::home::Home;
use crate::journal::JournalDoor;

pub use self::accounts::{AccountView, Revocation, Secret};
pub use self::error::ServiceError;
pub use self::folders::{FolderView, NewFolder, WatcherState};
pub use self::history::{DayTotal, HistoryPage, HistoryQuery, HistoryRow, Outcome, Verification};
pub use self::probe::{ServerKind, ServerProbe, probe_server};
pub use self::status::{FileProblem, FolderStatus, OpenUpload, Status, SyncRun};

/// The front door: Ferry's home, where tokens are found, and the journal's door.
#[derive(Debug, Clone)]
pub struct Service {
    home: Home,
    credentials: Credentials,
    journal: JournalDoor,
}

impl Service {
    /// The service of `home`, its journal opened (created or migrated) behind its door.
    pub async fn open(home: Home, credentials: Credentials) -> Result<Self, ServiceError> {
        let journal = home.open_journal().await?;
        Ok(Self::with_journal(home, credentials, journal))
    }

    /// The service of `home` with a journal door opened already (shared with the engine,
    /// or in memory for tests).
    pub fn with_journal(home: Home, credentials: Credentials, journal: JournalDoor) -> Self {
        Self {
            home,
            credentials,
            journal,
        }
    }

    /// The home directory.
    pub fn home(&self) -> &Home {
        &self.home
    }

    /// Where tokens are found.
    pub fn credentials(&self) -> &Credentials {
        &self.credentials
    }

    /// Runs `f` on the journal's thread (inside its group's transaction); `f` must not
    /// start a batch of its own.
    async fn journal<T, F>(&self, f: F) -> Result<T, ServiceError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Journal) -> Result<T, ServiceError> + Send + 'static,
    {
        self.journal.call(move |journal| Ok(f(journal))).await?
    }
}

/// Runs blocking file `work` on tokio's blocking pool; `action` and `path` name it should
/// it not finish (the runtime shutting down). A panic in it stays a panic.
async fn blocking_io<T: Send + 'static>(
    action: &'static str,
    path: &Path,
    work: impl FnOnce() -> Result<T, ServiceError> + Send + 'static,
) -> Result<T, ServiceError> {
    match tokio::task::spawn_blocking(work).await {
        Ok(done) => done,
        Err(err) => match err.try_into_panic() {
            Ok(panic) => std::panic::resume_unwind(panic),
            Err(err) => Err(ServiceError::Io {
                action,
                path: PathBuf::from(path),
                source: std::io::Error::other(err.to_string()),
            }),
        },
    }
}

/// This machine's name for the server's list of tokens: `APP on HOST`.
pub async fn device_name(app: &str) -> String {
    let host = tokio::fs::read_to_string("/etc/hostname")
        .await
        .ok()
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty());
    format!(
        "{app} on {}",
        host.unwrap_or_else(|| "an unnamed machine".to_owned())
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_service_over_a_journal_in_memory_lists_the_accounts_of_a_server() {
        let dir = tempfile::tempdir().unwrap();
        let home = Home::locate(Some(dir.path())).unwrap();
        let door = JournalDoor::in_memory().await.unwrap();
        door.call(|j| {
            for (server, user) in [
                ("https://a/", "ann"),
                ("https://b/", "bob"),
                ("https://a/", ""),
            ] {
                j.account(server, user)?;
            }
            Ok(())
        })
        .await
        .unwrap();
        let service = Service::with_journal(home, Credentials::with_env_token(None), door);
        assert_eq!(service.users_at("https://a/").await.unwrap(), ["ann", ""]);
        assert!(service.users_at("https://c/").await.unwrap().is_empty());
        assert!(
            !dir.path().join(crate::home::JOURNAL_FILE).exists(),
            "the journal given is used, not the home's"
        );
    }
}
