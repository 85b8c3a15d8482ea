//! Folders the user keeps uploaded: where they are, which account, the remote prefix, the
//! protocol (or none, to take tus when offered) and whether they are paused.

use ferry_proto::Protocol;
use rusqlite::{OptionalExtension, Row, params};

use crate::{AccountId, Journal, StoreError, now_ms};

/// A folder's row id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct FolderId(pub i64);

/// A synced folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Folder {
    /// The row id.
    pub id: FolderId,
    /// The local folder, absolute.
    pub path: String,
    /// The account files go to.
    pub account: AccountId,
    /// Prepended to each file's relative path on the server.
    pub remote_prefix: String,
    /// The protocol chosen; `None` to use tus when the server offers it.
    pub protocol: Option<Protocol>,
    /// Whether syncing is paused.
    pub paused: bool,
}

fn from_row(r: &Row<'_>) -> rusqlite::Result<(Folder, Option<String>)> {
    let protocol: Option<String> = r.get(4)?;
    Ok((
        Folder {
            id: FolderId(r.get(0)?),
            path: r.get(1)?,
            account: AccountId(r.get(2)?),
            remote_prefix: r.get(3)?,
            protocol: protocol.as_deref().and_then(|p| p.parse().ok()),
            paused: r.get(5)?,
        },
        protocol,
    ))
}

fn checked((folder, raw): (Folder, Option<String>)) -> Result<Folder, StoreError> {
    match (raw, folder.protocol) {
        (Some(value), None) => Err(StoreError::Unknown {
            what: "protocol",
            value,
        }),
        _ => Ok(folder),
    }
}

const COLUMNS: &str = "id, path, account_id, remote_prefix, protocol, paused";

impl Journal {
    /// Starts syncing `path`; refuses a folder that is synced already.
    pub fn add_folder(
        &self,
        path: &str,
        account: AccountId,
        remote_prefix: &str,
        protocol: Option<Protocol>,
    ) -> Result<Folder, StoreError> {
        let inserted = self.conn.execute(
            "INSERT INTO folders (path, account_id, remote_prefix, protocol, created_at) VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT (path) DO NOTHING",
            params![path, account.0, remote_prefix, protocol.map(Protocol::as_str), now_ms()],
        )?;
        if inserted == 0 {
            return Err(StoreError::FolderExists(path.to_owned()));
        }
        let id = FolderId(self.conn.last_insert_rowid());
        Ok(Folder {
            id,
            path: path.to_owned(),
            account,
            remote_prefix: remote_prefix.to_owned(),
            protocol,
            paused: false,
        })
    }

    /// Every synced folder, by path.
    pub fn folders(&self) -> Result<Vec<Folder>, StoreError> {
        let mut stmt = self
            .conn
            .prepare(&format!("SELECT {COLUMNS} FROM folders ORDER BY path"))?;
        let rows = stmt
            .query_map([], from_row)?
            .collect::<Result<Vec<_>, _>>()?;
        rows.into_iter().map(checked).collect()
    }

    /// The synced folder at `path`.
    pub fn folder(&self, path: &str) -> Result<Option<Folder>, StoreError> {
        let row = self
            .conn
            .query_row(
                &format!("SELECT {COLUMNS} FROM folders WHERE path = ?1"),
                [path],
                from_row,
            )
            .optional()?;
        row.map(checked).transpose()
    }

    /// Stops syncing `path` (its files and unfinished uploads are forgotten; history stays).
    /// False if it was not synced.
    pub fn remove_folder(&self, path: &str) -> Result<bool, StoreError> {
        Ok(self
            .conn
            .execute("DELETE FROM folders WHERE path = ?1", [path])?
            > 0)
    }

    /// Pauses or resumes a folder.
    pub fn set_folder_paused(&self, id: FolderId, paused: bool) -> Result<(), StoreError> {
        self.conn.execute(
            "UPDATE folders SET paused = ?2 WHERE id = ?1",
            params![id.0, paused],
        )?;
        Ok(())
    }
}
