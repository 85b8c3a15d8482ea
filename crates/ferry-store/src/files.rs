//! Files Ferry knows: where they are, the facts last seen (size, mtime, inode, content sha1)
//! and where each stands. A file belongs to a folder, or to no folder for `ferry upload`.

use rusqlite::{OptionalExtension, Row, params};

use crate::history::insert_removal;
use crate::{FolderId, HistoryEntry, Journal, Outcome, StoreError, from_sql, now_ms, to_sql};

/// A file's row id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FileId(pub i64);

/// What the filesystem says about a file; a change in any of them is a change of the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FileFacts {
    /// Size in bytes.
    pub size: u64,
    /// Modification time in nanoseconds since the epoch.
    pub mtime_ns: i64,
    /// Inode number (0 where the platform has none).
    pub inode: u64,
}

/// Where a file stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FileState {
    /// Waiting to be uploaded.
    Pending,
    /// An upload is under way (see its upload row).
    Uploading,
    /// The content with `uploaded_sha1` is on the server.
    Uploaded,
    /// The last upload failed for good; waits for the user or a change.
    Failed,
    /// Gone from disk (never deleted on the server).
    Deleted,
}

impl FileState {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Uploading => "uploading",
            Self::Uploaded => "uploaded",
            Self::Failed => "failed",
            Self::Deleted => "deleted",
        }
    }

    fn parse(text: &str) -> Option<Self> {
        [
            Self::Pending,
            Self::Uploading,
            Self::Uploaded,
            Self::Failed,
            Self::Deleted,
        ]
        .into_iter()
        .find(|s| s.as_str() == text)
    }
}

/// A file as the journal knows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileRecord {
    /// The row id.
    pub id: FileId,
    /// Its folder, or `None` for a one-shot upload.
    pub folder: Option<FolderId>,
    /// Relative to the folder, or absolute for a one-shot upload.
    pub local_path: String,
    /// The facts last seen.
    pub facts: FileFacts,
    /// The content's sha1 (hex) when it was last hashed.
    pub sha1: Option<String>,
    /// Where it stands.
    pub state: FileState,
    /// The sha1 of the content last uploaded, if any.
    pub uploaded_sha1: Option<String>,
    /// Failed attempts since the last success or change.
    pub attempts: u32,
    /// When to try again (unix milliseconds), after a failure that retrying can fix.
    pub next_retry_at_ms: Option<i64>,
    /// Why the last attempt failed.
    pub last_error: Option<String>,
    /// When the row last changed (unix milliseconds): for a failed file, when it failed.
    pub updated_at_ms: i64,
}

const COLUMNS: &str = "id, folder_id, local_path, size, mtime_ns, inode, sha1, state, uploaded_sha1, \
    attempts, next_retry_at, last_error, updated_at";

fn from_row(r: &Row<'_>) -> rusqlite::Result<(FileRecord, String)> {
    let state: String = r.get(7)?;
    Ok((
        FileRecord {
            id: FileId(r.get(0)?),
            folder: r.get::<_, Option<i64>>(1)?.map(FolderId),
            local_path: r.get(2)?,
            facts: FileFacts {
                size: from_sql(r.get(3)?),
                mtime_ns: r.get(4)?,
                inode: from_sql(r.get(5)?),
            },
            sha1: r.get(6)?,
            state: FileState::parse(&state).unwrap_or(FileState::Pending),
            uploaded_sha1: r.get(8)?,
            attempts: u32::try_from(r.get::<_, i64>(9)?).unwrap_or(u32::MAX),
            next_retry_at_ms: r.get(10)?,
            last_error: r.get(11)?,
            updated_at_ms: r.get(12)?,
        },
        state,
    ))
}

fn checked((record, raw): (FileRecord, String)) -> Result<FileRecord, StoreError> {
    match FileState::parse(&raw) {
        Some(_) => Ok(record),
        None => Err(StoreError::Unknown {
            what: "file state",
            value: raw,
        }),
    }
}

impl Journal {
    /// Records the facts (and content hash, if known) of a file and its state; creates the
    /// row if new. The content last uploaded is kept.
    pub fn upsert_file(
        &self,
        folder: Option<FolderId>,
        local_path: &str,
        facts: FileFacts,
        sha1: Option<&str>,
        state: FileState,
    ) -> Result<FileRecord, StoreError> {
        let existing = self.file(folder, local_path)?;
        let now = now_ms();
        match existing {
            Some(old) => {
                self.conn.execute(
                    "UPDATE files SET size = ?2, mtime_ns = ?3, inode = ?4, sha1 = ?5, state = ?6, updated_at = ?7 WHERE id = ?1",
                    params![old.id.0, to_sql(facts.size), facts.mtime_ns, to_sql(facts.inode), sha1, state.as_str(), now],
                )?;
            }
            None => {
                self.conn.execute(
                    "INSERT INTO files (folder_id, local_path, size, mtime_ns, inode, sha1, state, updated_at)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                    params![
                        folder.map(|f| f.0),
                        local_path,
                        to_sql(facts.size),
                        facts.mtime_ns,
                        to_sql(facts.inode),
                        sha1,
                        state.as_str(),
                        now
                    ],
                )?;
            }
        }
        self.file(folder, local_path)?
            .ok_or(StoreError::Sql(rusqlite::Error::QueryReturnedNoRows))
    }

    /// The file at `local_path` of `folder` (or the one-shot file at that absolute path).
    pub fn file(
        &self,
        folder: Option<FolderId>,
        local_path: &str,
    ) -> Result<Option<FileRecord>, StoreError> {
        // Two statements, so that each can use its index: `folder_id IS ?1` could use
        // neither partial index and read every file of the folder.
        let row = match folder {
            Some(folder) => self.conn.query_row(
                &format!("SELECT {COLUMNS} FROM files WHERE folder_id = ?1 AND local_path = ?2"),
                params![folder.0, local_path],
                from_row,
            ),
            None => self.conn.query_row(
                &format!("SELECT {COLUMNS} FROM files WHERE folder_id IS NULL AND local_path = ?1"),
                params![local_path],
                from_row,
            ),
        }
        .optional()?;
        row.map(checked).transpose()
    }

    /// The file with row id `id`.
    pub fn file_by_id(&self, id: FileId) -> Result<Option<FileRecord>, StoreError> {
        let row = self
            .conn
            .query_row(
                &format!("SELECT {COLUMNS} FROM files WHERE id = ?1"),
                [id.0],
                from_row,
            )
            .optional()?;
        row.map(checked).transpose()
    }

    /// Every file of `folder`, by path.
    pub fn files_in(&self, folder: FolderId) -> Result<Vec<FileRecord>, StoreError> {
        let mut stmt = self.conn.prepare(&format!(
            "SELECT {COLUMNS} FROM files WHERE folder_id = ?1 ORDER BY local_path"
        ))?;
        let rows = stmt
            .query_map([folder.0], from_row)?
            .collect::<Result<Vec<_>, _>>()?;
        rows.into_iter().map(checked).collect()
    }

    /// Records a failed attempt at `id`: retried at `next_retry_at_ms` (the file stays
    /// pending), or, with `None`, parked as failed until the user retries or the file changes.
    pub fn record_file_failure(
        &self,
        id: FileId,
        error: &str,
        next_retry_at_ms: Option<i64>,
    ) -> Result<(), StoreError> {
        let state = if next_retry_at_ms.is_some() {
            FileState::Pending
        } else {
            FileState::Failed
        };
        self.conn.execute(
            "UPDATE files SET attempts = attempts + 1, last_error = ?2, next_retry_at = ?3, state = ?4, updated_at = ?5
             WHERE id = ?1",
            params![id.0, error, next_retry_at_ms, state.as_str(), now_ms()],
        )?;
        Ok(())
    }

    /// Forgets the failures of `id` (it succeeded, or changed, or the user asked).
    pub fn clear_file_failure(&self, id: FileId) -> Result<(), StoreError> {
        self.conn.execute(
            "UPDATE files SET attempts = 0, last_error = NULL, next_retry_at = NULL, updated_at = ?2 WHERE id = ?1",
            params![id.0, now_ms()],
        )?;
        Ok(())
    }

    /// The user asks to try again: failed files (of `folder`, or everywhere) become pending
    /// with their failures forgotten, and files waiting for a retry are due now. Returns how
    /// many files changed.
    pub fn retry_files(&self, folder: Option<FolderId>) -> Result<usize, StoreError> {
        Ok(self.conn.execute(
            "UPDATE files SET state = CASE state WHEN 'failed' THEN 'pending' ELSE state END,
                              attempts = 0, last_error = NULL, next_retry_at = NULL, updated_at = ?2
             WHERE (?1 IS NULL OR folder_id = ?1) AND (state = 'failed' OR next_retry_at IS NOT NULL)",
            params![folder.map(|f| f.0), now_ms()],
        )?)
    }

    /// A synced file is gone from disk (`Deleted`) or moved (`Renamed`, with `note` saying
    /// where to): in one transaction it is marked deleted and, if some content of it had been
    /// uploaded, the history records what happened (it stays on the server: uploads are
    /// one-way). `remote_path` is where its content went. Returns the history row, if any.
    pub fn record_removal(
        &mut self,
        id: FileId,
        outcome: Outcome,
        remote_path: &str,
        note: Option<&str>,
    ) -> Result<Option<HistoryEntry>, StoreError> {
        let tx = self.conn.savepoint()?;
        let entry = insert_removal(&tx, id, outcome, remote_path, note)?;
        tx.execute(
            "UPDATE files SET state = 'deleted', attempts = 0, last_error = NULL, next_retry_at = NULL, updated_at = ?2
             WHERE id = ?1",
            params![id.0, now_ms()],
        )?;
        tx.commit()?;
        Ok(entry)
    }

    /// Every synced file in `state`, with its folder's path, by folder and path.
    pub fn synced_files_in_state(
        &self,
        state: FileState,
    ) -> Result<Vec<(String, FileRecord)>, StoreError> {
        let columns = COLUMNS
            .split(", ")
            .map(|c| format!("files.{c}"))
            .collect::<Vec<_>>()
            .join(", ");
        let mut stmt = self.conn.prepare(&format!(
            "SELECT {columns}, folders.path FROM files JOIN folders ON folders.id = files.folder_id
             WHERE files.state = ?1 ORDER BY folders.path, files.local_path"
        ))?;
        let rows = stmt
            .query_map([state.as_str()], |r| {
                Ok((r.get::<_, String>(13)?, from_row(r)?))
            })?
            .collect::<Result<Vec<_>, _>>()?;
        rows.into_iter()
            .map(|(folder, row)| checked(row).map(|record| (folder, record)))
            .collect()
    }
}

/// How many of a folder's files stand where.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FileCounts {
    /// Waiting to be uploaded.
    pub pending: u64,
    /// Being uploaded.
    pub uploading: u64,
    /// On the server.
    pub uploaded: u64,
    /// Failed for good.
    pub failed: u64,
    /// Gone from disk.
    pub deleted: u64,
}

impl FileCounts {
    /// Files the folder holds (every state but deleted).
    pub fn known(&self) -> u64 {
        self.pending + self.uploading + self.uploaded + self.failed
    }
}

impl Journal {
    /// How many of `folder`'s files stand in each state, counted in SQL.
    pub fn file_counts(&self, folder: FolderId) -> Result<FileCounts, StoreError> {
        let mut stmt = self
            .conn
            .prepare("SELECT state, COUNT(*) FROM files WHERE folder_id = ?1 GROUP BY state")?;
        let mut counts = FileCounts::default();
        let rows = stmt.query_map([folder.0], |r| {
            Ok((r.get::<_, String>(0)?, from_sql(r.get(1)?)))
        })?;
        for row in rows {
            let (state, n) = row?;
            match FileState::parse(&state) {
                Some(FileState::Pending) => counts.pending = n,
                Some(FileState::Uploading) => counts.uploading = n,
                Some(FileState::Uploaded) => counts.uploaded = n,
                Some(FileState::Failed) => counts.failed = n,
                Some(FileState::Deleted) => counts.deleted = n,
                None => {
                    return Err(StoreError::Unknown {
                        what: "file state",
                        value: state,
                    });
                }
            }
        }
        Ok(counts)
    }
}
