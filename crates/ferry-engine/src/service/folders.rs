//! The folders Ferry keeps uploaded, and the rules for them, decided here for the CLI and
//! the desktop alike:
//! - a folder is an absolute path to a directory that exists, stored canonical (symlinks
//!   and `..` resolved) and in Unicode;
//! - folders never overlap: a file belongs to one folder only, so a folder inside a synced
//!   one, or around one, is refused;
//! - the remote prefix is a relative path on the server: slashes at either end are dropped,
//!   `.`, `..`, backslashes and NUL are refused;
//! - the account: the one named (server and user) must be known; with no user named, the
//!   one account known at that server, or a new account without a user (a server that
//!   needs no sign-in, or `FERRY_TOKEN`) when none is; several known and none named is
//!   refused (choose one).
//!
//! The running sync engine watches the journal's folders; after a change here the caller
//! tells it to reload. What the watcher is doing right now is the engine's to say: a listing
//! from the journal alone says `paused` or `stopped`.

use std::path::{Path, PathBuf};

use ferry_store::{Account, Folder, Journal};
use serde::Serialize;

use crate::target::Protocol;

use super::{Service, ServiceError, blocking_io};

pub use crate::sync::status::WatcherState;

/// A synced folder as the window (and `ferry folder list`) shows it.
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
    /// The server.
    pub server: String,
    /// The user there (`Some("")`: the account without a user); `None`: the one account
    /// known at the server, if there is just one (see the module's rules).
    pub user: Option<String>,
    /// Prepended to each file's path on the server; empty for none.
    pub remote_prefix: Option<String>,
    /// The protocol; `None`: tus when the server offers it.
    pub protocol: Option<Protocol>,
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
        protocol: folder.protocol,
        paused: folder.paused,
        files: counts.known(),
        uploaded: counts.uploaded,
        pending: counts.pending,
        uploading: counts.uploading,
        failed: counts.failed,
        warning: None,
    })
}

fn not_synced(path: &str) -> ServiceError {
    ServiceError::NotFound(format!("Ferry does not sync the folder {path}."))
}

/// `prefix` as stored: no leading or trailing slashes, no `.`, `..` or empty components.
pub(crate) fn clean_prefix(prefix: &str) -> Result<String, ServiceError> {
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

/// The synced folder that `path` overlaps (is inside of, or holds), if any; the folder
/// itself does not count (adding it again is refused as already synced).
fn overlapping<'a>(path: &Path, synced: &'a [Folder]) -> Option<&'a Folder> {
    synced.iter().find(|f| {
        let other = Path::new(&f.path);
        other != path && (path.starts_with(other) || other.starts_with(path))
    })
}

/// The account a new folder at `server` uses (the module's rules).
fn choose_account(
    journal: &Journal,
    server: &str,
    user: Option<&str>,
) -> Result<Account, ServiceError> {
    let mut known: Vec<Account> = journal
        .accounts()?
        .into_iter()
        .filter(|a| a.server_url == server)
        .collect();
    match user {
        Some(user) => known.into_iter().find(|a| a.user == user).ok_or_else(|| {
            ServiceError::NotFound(format!("Sign in to {server} first, then add the folder."))
        }),
        None if known.len() > 1 => {
            let users: Vec<String> = known
                .iter()
                .map(|a| {
                    if a.user.is_empty() {
                        "one without a user name".to_owned()
                    } else {
                        a.user.clone()
                    }
                })
                .collect();
            Err(ServiceError::invalid(
                "user",
                format!(
                    "Ferry knows several accounts at {server} ({}); choose the one the folder uses.",
                    users.join(", ")
                ),
            ))
        }
        None => match known.pop() {
            Some(account) => Ok(account),
            None => Ok(journal.account(server, "")?),
        },
    }
}

/// `given` canonical (see [`canonical_dir`]), if it is a place that may be synced (not the
/// root, the home directory itself, a system tree or a folder holding `ferry_home`).
#[expect(
    clippy::disallowed_methods,
    reason = "blocking by design: the service calls it through blocking_io"
)]
fn syncable_dir(given: &Path, ferry_home: &Path) -> Result<String, ServiceError> {
    let path = canonical_dir(given)?;
    let canonical = |dir: PathBuf| dir.canonicalize().unwrap_or(dir);
    let home = directories::BaseDirs::new().map(|dirs| canonical(dirs.home_dir().to_path_buf()));
    let ferry_home = canonical(ferry_home.to_path_buf());
    match super::places::refused(Path::new(&path), home.as_deref(), &ferry_home) {
        Some(why) => Err(ServiceError::invalid("path", why)),
        None => Ok(path),
    }
}

/// `given` canonical (it must be an absolute path to an existing directory), as text.
#[expect(
    clippy::disallowed_methods,
    reason = "blocking by design: the service calls it through blocking_io"
)]
fn canonical_dir(given: &Path) -> Result<String, ServiceError> {
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
    path.into_os_string().into_string().map_err(|_| {
        ServiceError::invalid(
            "path",
            "Ferry cannot sync a folder whose name is not valid Unicode.",
        )
    })
}

impl Service {
    /// Every synced folder, by path, with its file counts.
    pub async fn folders(&self) -> Result<Vec<FolderView>, ServiceError> {
        self.journal(|journal| {
            journal
                .folders()?
                .into_iter()
                .map(|f| view(journal, f))
                .collect()
        })
        .await
    }

    /// Starts syncing a folder, by the module's rules. Errors: invalid input (not an
    /// absolute path to a folder, a folder overlapping a synced one, a bad remote prefix,
    /// several accounts and none chosen), not found (no such account: sign in first),
    /// already exists (the folder is synced).
    pub async fn add_folder(&self, new: NewFolder) -> Result<FolderView, ServiceError> {
        let given = PathBuf::from(new.path.trim());
        let ferry_home = self.home.dir().to_path_buf();
        let path = blocking_io("open", &given.clone(), move || {
            syncable_dir(&given, &ferry_home)
        })
        .await?;
        let prefix = clean_prefix(new.remote_prefix.as_deref().unwrap_or(""))?;
        self.journal(move |journal| {
            let account = choose_account(journal, &new.server, new.user.as_deref())?;
            if let Some(clash) = overlapping(Path::new(&path), &journal.folders()?) {
                return Err(ServiceError::invalid(
                    "path",
                    format!(
                        "{path} overlaps the synced folder {}; a file must belong to one folder only.",
                        clash.path
                    ),
                ));
            }
            let folder = journal.add_folder(&path, account.id, &prefix, new.protocol)?;
            view(journal, folder)
        })
        .await
    }

    /// The synced folder at `path`: as given, or else as `path` resolves on disk (a
    /// symlink or `..` to a synced folder). Errors: not found.
    pub(crate) async fn synced_folder(&self, path: &str) -> Result<Folder, ServiceError> {
        let given = path.to_owned();
        if let Some(folder) = self.journal(move |j| Ok(j.folder(&given)?)).await? {
            return Ok(folder);
        }
        let canonical = tokio::fs::canonicalize(path)
            .await
            .ok()
            .and_then(|p| p.into_os_string().into_string().ok());
        let found = match canonical.filter(|c| c != path) {
            Some(canonical) => self.journal(move |j| Ok(j.folder(&canonical)?)).await?,
            None => None,
        };
        found.ok_or_else(|| not_synced(path))
    }

    /// Stops syncing the folder at `path` (its files stay, here and on the server; its
    /// history stays); returns the folder's path as it was synced. Errors: not found.
    pub async fn remove_folder(&self, path: &str) -> Result<String, ServiceError> {
        let folder = self.synced_folder(path).await?;
        self.journal(move |journal| {
            if journal.remove_folder(&folder.path)? {
                Ok(folder.path)
            } else {
                Err(not_synced(&folder.path))
            }
        })
        .await
    }

    /// Pauses or resumes the folder at `path`. Errors: not found.
    pub async fn pause_folder(&self, path: &str, paused: bool) -> Result<FolderView, ServiceError> {
        let folder = self.synced_folder(path).await?;
        self.journal(move |journal| {
            journal.set_folder_paused(folder.id, paused)?;
            view(journal, Folder { paused, ..folder })
        })
        .await
    }
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
            ("a/..", None),
            ("nul\0here", None),
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
    fn folders_overlap_when_one_holds_the_other_but_not_when_names_share_a_start() {
        let folder = |path: &str| Folder {
            id: ferry_store::FolderId(1),
            path: path.to_owned(),
            account: ferry_store::AccountId(1),
            remote_prefix: String::new(),
            protocol: None,
            paused: false,
        };
        let synced = [folder("/home/ann/Photos")];
        for (path, clash) in [
            ("/home/ann/Photos/2024", true),
            ("/home/ann", true),
            ("/", true),
            ("/home/ann/Photos", false),
            ("/home/ann/Photos2", false),
            ("/home/bob", false),
        ] {
            assert_eq!(
                overlapping(Path::new(path), &synced).is_some(),
                clash,
                "{path}"
            );
        }
    }

    #[test]
    fn watcher_states_serialise_in_lowercase() {
        let names: Vec<_> = [
            WatcherState::Watching,
            WatcherState::Rescanning,
            WatcherState::Paused,
            WatcherState::Stopped,
            WatcherState::Starting,
            WatcherState::Missing,
        ]
        .iter()
        .map(|s| serde_json::to_value(s).unwrap())
        .collect();
        assert_eq!(
            names,
            [
                "watching",
                "rescanning",
                "paused",
                "stopped",
                "starting",
                "missing"
            ]
        );
    }
}
