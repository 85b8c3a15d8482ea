//! The folders Ferry keeps uploaded, as the journal holds them: adding (a real directory,
//! an account that is signed in, a clean remote prefix), removing, pausing, listing with
//! how many files stand where, and each folder's ignore rules (its `.ferryignore`).
//!
//! The running sync engine watches the journal's folders; after a change here the caller
//! tells it to reload. What the watcher is doing right now is the engine's to say: a listing
//! from the journal alone says `paused` or `stopped`.

use std::io::Write;
use std::path::{Path, PathBuf};

use ferry_store::{Folder, Journal};
use serde::Serialize;

use crate::home::Home;
use crate::target::Protocol;

use super::ServiceError;

/// The name of a folder's ignore-rules file, in the folder itself.
pub const IGNORE_FILE: &str = ".ferryignore";

pub use crate::sync::status::WatcherState;

/// A synced folder as the window shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FolderView {
    /// The local folder, absolute.
    pub path: String,
    /// The server its files go to.
    pub server: String,
    /// The user there (empty: none).
    pub user: String,
    /// Prepended to each file's path on the server.
    pub remote_prefix: String,
    /// The protocol chosen; `None`: tus when the server offers it.
    pub protocol: Option<Protocol>,
    /// Whether syncing it is paused.
    pub paused: bool,
    /// Files known in it (not ignored, not deleted).
    pub files: u64,
    /// Files on the server.
    pub uploaded: u64,
    /// Files waiting.
    pub pending: u64,
    /// Files going up now.
    pub uploading: u64,
    /// Files that failed for good.
    pub failed: u64,
    /// What its watcher is doing.
    pub watcher: WatcherState,
    /// Something the user should know (the watch limit was reached, ...).
    pub warning: Option<String>,
}

/// A folder to add.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewFolder {
    /// The local folder (absolute).
    pub path: String,
    /// The server (an account signed in there).
    pub server: String,
    /// The user there.
    pub user: String,
    /// Prepended to each file's path on the server; empty for none.
    pub remote_prefix: Option<String>,
    /// The protocol; `None`: tus when the server offers it.
    pub protocol: Option<Protocol>,
}

fn store_protocol(p: Protocol) -> ferry_store::Protocol {
    match p {
        Protocol::Tus => ferry_store::Protocol::Tus,
        Protocol::Galileo => ferry_store::Protocol::Galileo,
    }
}

fn view(journal: &Journal, folder: Folder) -> Result<FolderView, ServiceError> {
    let account = journal.account_by_id(folder.account)?.ok_or_else(|| {
        ServiceError::NotFound(format!(
            "The account of the folder {} is gone.",
            folder.path
        ))
    })?;
    let counts = journal.file_counts(folder.id)?;
    Ok(FolderView {
        watcher: if folder.paused {
            WatcherState::Paused
        } else {
            WatcherState::Stopped
        },
        path: folder.path,
        server: account.server_url,
        user: account.user,
        remote_prefix: folder.remote_prefix,
        protocol: folder.protocol.map(|p| match p {
            ferry_store::Protocol::Tus => Protocol::Tus,
            ferry_store::Protocol::Galileo => Protocol::Galileo,
        }),
        paused: folder.paused,
        files: counts.known(),
        uploaded: counts.uploaded,
        pending: counts.pending,
        uploading: counts.uploading,
        failed: counts.failed,
        warning: None,
    })
}

fn known(journal: &Journal, path: &str) -> Result<Folder, ServiceError> {
    journal
        .folder(path)?
        .ok_or_else(|| ServiceError::NotFound(format!("Ferry does not sync the folder {path}.")))
}

/// `prefix` as stored: no leading or trailing slashes, no `.`, `..` or empty components.
fn clean_prefix(prefix: &str) -> Result<String, ServiceError> {
    let parts: Vec<&str> = prefix.trim().split('/').filter(|p| !p.is_empty()).collect();
    if parts
        .iter()
        .any(|p| *p == "." || *p == ".." || p.contains('\\') || p.contains('\0'))
    {
        return Err(ServiceError::invalid(
            "remotePrefix",
            "The remote folder may not contain \".\", \"..\" or backslashes.",
        ));
    }
    Ok(parts.join("/"))
}

/// Every synced folder, by path, with its file counts.
pub fn folders(home: &Home) -> Result<Vec<FolderView>, ServiceError> {
    let journal = home.journal()?;
    journal
        .folders()?
        .into_iter()
        .map(|f| view(&journal, f))
        .collect()
}

/// Starts syncing a folder. Errors: invalid input (not an absolute path to a folder, a bad
/// remote prefix), not found (no such account: sign in first), already exists.
pub fn folder_add(home: &Home, new: &NewFolder) -> Result<FolderView, ServiceError> {
    let given = Path::new(new.path.trim());
    if !given.is_absolute() {
        return Err(ServiceError::invalid(
            "path",
            "Choose a folder (an absolute path).",
        ));
    }
    let path = given.canonicalize().map_err(|e| {
        ServiceError::invalid(
            "path",
            format!("{} cannot be opened: {e}.", given.display()),
        )
    })?;
    if !path.is_dir() {
        return Err(ServiceError::invalid(
            "path",
            format!("{} is not a folder.", path.display()),
        ));
    }
    let path = path.to_str().ok_or_else(|| {
        ServiceError::invalid(
            "path",
            "Ferry cannot sync a folder whose name is not valid Unicode.",
        )
    })?;
    let prefix = clean_prefix(new.remote_prefix.as_deref().unwrap_or(""))?;
    let journal = home.journal()?;
    let account = journal
        .accounts()?
        .into_iter()
        .find(|a| a.server_url == new.server && a.user == new.user)
        .ok_or_else(|| {
            ServiceError::NotFound(format!(
                "Sign in to {} first, then add the folder.",
                new.server
            ))
        })?;
    let folder = journal.add_folder(path, account.id, &prefix, new.protocol.map(store_protocol))?;
    view(&journal, folder)
}

/// Stops syncing the folder at `path` (its history stays).
pub fn folder_remove(home: &Home, path: &str) -> Result<(), ServiceError> {
    if home.journal()?.remove_folder(path)? {
        Ok(())
    } else {
        Err(ServiceError::NotFound(format!(
            "Ferry does not sync the folder {path}."
        )))
    }
}

/// Pauses or resumes the folder at `path`.
pub fn folder_pause(home: &Home, path: &str, paused: bool) -> Result<FolderView, ServiceError> {
    let journal = home.journal()?;
    let folder = known(&journal, path)?;
    journal.set_folder_paused(folder.id, paused)?;
    view(&journal, Folder { paused, ..folder })
}

fn ignore_path(home: &Home, path: &str) -> Result<PathBuf, ServiceError> {
    let folder = known(&home.journal()?, path)?;
    Ok(Path::new(&folder.path).join(IGNORE_FILE))
}

/// The ignore rules of the folder at `path` (its `.ferryignore`; empty when it has none).
pub fn ignore_get(home: &Home, path: &str) -> Result<String, ServiceError> {
    let file = ignore_path(home, path)?;
    match std::fs::read_to_string(&file) {
        Ok(rules) => Ok(rules),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(String::new()),
        Err(source) => Err(ServiceError::Io {
            action: "read",
            path: file,
            source,
        }),
    }
}

/// Replaces the ignore rules of the folder at `path`, atomically (temp file + rename).
pub fn ignore_set(home: &Home, path: &str, rules: &str) -> Result<(), ServiceError> {
    let file = ignore_path(home, path)?;
    let io = |source| ServiceError::Io {
        action: "write",
        path: file.clone(),
        source,
    };
    let mut text = rules.to_owned();
    if !text.is_empty() && !text.ends_with('\n') {
        text.push('\n');
    }
    let temp = file.with_file_name(format!("{IGNORE_FILE}.tmp"));
    let mut out = std::fs::File::create(&temp).map_err(io)?;
    out.write_all(text.as_bytes()).map_err(io)?;
    out.sync_all().map_err(io)?;
    drop(out);
    std::fs::rename(&temp, &file).map_err(io)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remote_prefixes_are_cleaned_or_refused() {
        let cases = [
            ("", Some("")),
            ("  /photos/2024/ ", Some("photos/2024")),
            ("a//b", Some("a/b")),
            ("../up", None),
            ("a/./b", None),
            ("a\\b", None),
        ];
        for (given, expected) in cases {
            match (clean_prefix(given), expected) {
                (Ok(p), Some(e)) => assert_eq!(p, e, "{given:?}"),
                (Err(ServiceError::InvalidInput { field, .. }), None) => {
                    assert_eq!(field, "remotePrefix");
                }
                (other, _) => panic!("{given:?}: expected {expected:?}, got {other:?}"),
            }
        }
    }

    #[test]
    fn watcher_states_serialise_in_lowercase() {
        let names: Vec<_> = [
            WatcherState::Watching,
            WatcherState::Rescanning,
            WatcherState::Paused,
            WatcherState::Stopped,
        ]
        .iter()
        .map(|s| serde_json::to_value(s).unwrap())
        .collect();
        assert_eq!(names, ["watching", "rescanning", "paused", "stopped"]);
    }
}
