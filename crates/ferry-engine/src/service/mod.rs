//! Plain functions behind the desktop app's commands, usable by the CLI too: what a server
//! offers, signing in and out, the synced folders and their ignore rules, the history. Each
//! takes what it works on from outside (the [`Home`](crate::home::Home), the
//! [`Credentials`](crate::auth::Credentials)) and returns serde types whose JSON is exactly
//! the TypeScript of `docs/desktop.md` (camelCase fields).
//!
//! # Layout
//! - [`probe`]: [`probe_server`], a server's kind and protocols, checked live.
//! - [`accounts`]: [`sign_in`], [`sign_out`], [`accounts`](accounts::accounts).
//! - [`folders`]: adding, removing, pausing and listing folders with their file counts;
//!   their `.ferryignore`.
//! - [`history`]: a filtered page of the history and bytes uploaded per day.
//! - [`error`]: [`ServiceError`], the engine's errors plus the ones of user input.
//!
//! Nothing here knows of Tauri, windows or terminals, nor runs uploads: the sync engine
//! does, and reads what these functions wrote in the journal.

pub mod accounts;
pub mod error;
pub mod folders;
pub mod history;
pub mod probe;

pub use self::accounts::{AccountView, Secret, sign_in, sign_out};
pub use self::error::ServiceError;
pub use self::folders::{FolderView, NewFolder, WatcherState};
pub use self::history::{DayTotal, HistoryPage, HistoryQuery, HistoryRow};
pub use self::probe::{ServerKind, ServerProbe, probe_server};

/// This machine's name for the server's list of tokens: `APP on HOST`.
pub fn device_name(app: &str) -> String {
    let host = std::fs::read_to_string("/etc/hostname")
        .ok()
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty());
    format!(
        "{app} on {}",
        host.unwrap_or_else(|| "an unnamed machine".to_owned())
    )
}
