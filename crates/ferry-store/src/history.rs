//! The history: one row per finished, abandoned or failed upload, searchable and paged in
//! SQL (the desktop app shows 100,000 rows without loading them).

use ferry_proto::Protocol;
use rusqlite::{Connection, Row, params};
use serde::{Deserialize, Serialize};

use crate::{FileId, Journal, StoreError, UploadId, from_sql, now_ms, to_sql};

/// How an upload ended; in JSON its stored name (`uploaded`, `failed`, ...).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    /// Complete on the server.
    Uploaded,
    /// Given up because the file changed or went away (it will be uploaded anew if it exists).
    Abandoned,
    /// Given up because of a permanent error.
    Failed,
    /// A synced file was renamed or moved (its content stays on the server under the old
    /// path; the new path is uploaded anew).
    Renamed,
    /// A synced file was deleted locally (never deleted on the server).
    Deleted,
}

impl Outcome {
    /// The name stored and shown.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Uploaded => "uploaded",
            Self::Abandoned => "abandoned",
            Self::Failed => "failed",
            Self::Renamed => "renamed",
            Self::Deleted => "deleted",
        }
    }

    /// The outcome named `text` (as stored), if any.
    pub fn parse(text: &str) -> Option<Self> {
        [
            Self::Uploaded,
            Self::Abandoned,
            Self::Failed,
            Self::Renamed,
            Self::Deleted,
        ]
        .into_iter()
        .find(|o| o.as_str() == text)
    }
}

/// How Ferry knows that the server holds the exact bytes of an uploaded file: the
/// strongest check the server offered, recorded with the upload. In JSON its stored name
/// ([`Verification::as_str`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Verification {
    /// The server listed the stored file with the local content's size and sha1
    /// (ferry-server), or checked the whole-file sha1 itself and said so (GalileoSend with
    /// Ferry's extension).
    #[serde(rename = "sha1-by-server")]
    ServerSha1,
    /// Every chunk was checked by the server against its checksum, and the server agreed on
    /// the final offset and length.
    #[serde(rename = "chunks-checksummed")]
    ChunkChecksums,
    /// The server agreed on the final offset and length, but offers no checksum to check
    /// the bytes with.
    #[serde(rename = "unverified")]
    Unverified,
}

impl Verification {
    /// The name stored and used in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ServerSha1 => "sha1-by-server",
            Self::ChunkChecksums => "chunks-checksummed",
            Self::Unverified => "unverified",
        }
    }

    /// The level named `text` (as stored), if any.
    pub fn parse(text: &str) -> Option<Self> {
        [Self::ServerSha1, Self::ChunkChecksums, Self::Unverified]
            .into_iter()
            .find(|v| v.as_str() == text)
    }

    /// What a person reads in the history.
    pub fn describe(self) -> &'static str {
        match self {
            Self::ServerSha1 => "verified: sha1 by server",
            Self::ChunkChecksums => "verified: chunks checksummed",
            Self::Unverified => "unverified: the server offers no checksum",
        }
    }
}

impl std::fmt::Display for Verification {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.describe())
    }
}

/// One ended upload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryEntry {
    /// The row id.
    pub id: i64,
    /// The local file (absolute, or relative to `folder`).
    pub local_path: String,
    /// The synced folder it belongs to, if any.
    pub folder: Option<String>,
    /// Where it went on the server.
    pub remote_path: String,
    /// The server.
    pub server_url: String,
    /// The protocol it went with (`None` for a deletion or rename recorded in a folder
    /// that leaves the protocol to the server).
    pub protocol: Option<Protocol>,
    /// Its size in bytes.
    pub size: u64,
    /// The sha1 (hex) of the content sent.
    pub sha1: Option<String>,
    /// How it ended.
    pub outcome: Outcome,
    /// The server's location of the finished upload.
    pub location: Option<String>,
    /// Bytes this client put on the wire for it (more than `size` after retries).
    pub bytes_sent: u64,
    /// When it started and ended (unix milliseconds).
    pub started_at_ms: i64,
    /// When it ended (unix milliseconds).
    pub finished_at_ms: i64,
    /// Why it failed or was abandoned.
    pub error: Option<String>,
    /// How an uploaded file was checked to be on the server (`None` for other outcomes,
    /// and for uploads recorded before Ferry verified them).
    pub verification: Option<Verification>,
}

const COLUMNS: &str = "history.id, history.local_path, folders.path, history.remote_path, history.server_url, \
    history.protocol, history.size, history.sha1, history.outcome, history.location, history.bytes_sent, \
    history.started_at_ms, history.finished_at_ms, history.error, history.verification";

fn from_row(r: &Row<'_>) -> rusqlite::Result<HistoryEntry> {
    let outcome: String = r.get(8)?;
    Ok(HistoryEntry {
        id: r.get(0)?,
        local_path: r.get(1)?,
        folder: r.get(2)?,
        remote_path: r.get(3)?,
        server_url: r.get(4)?,
        protocol: r.get::<_, Option<String>>(5)?.and_then(|p| p.parse().ok()),
        size: from_sql(r.get(6)?),
        sha1: r.get(7)?,
        outcome: Outcome::parse(&outcome).unwrap_or(Outcome::Failed),
        location: r.get(9)?,
        bytes_sent: from_sql(r.get(10)?),
        started_at_ms: r.get(11)?,
        finished_at_ms: r.get(12)?,
        error: r.get(13)?,
        verification: r
            .get::<_, Option<String>>(14)?
            .as_deref()
            .and_then(Verification::parse),
    })
}

/// Writes the history row of upload `id` (which must still exist) and returns it.
pub(crate) fn insert_history(
    tx: &Connection,
    id: UploadId,
    outcome: Outcome,
    location: Option<&str>,
    bytes_sent: u64,
    error: Option<&str>,
    verification: Option<Verification>,
) -> Result<HistoryEntry, StoreError> {
    tx.execute(
        "INSERT INTO history (account_id, folder_id, local_path, remote_path, server_url, protocol, size, sha1,
                              outcome, location, bytes_sent, started_at_ms, finished_at_ms, error, verification)
         SELECT uploads.account_id, files.folder_id, files.local_path, uploads.remote_path, accounts.server_url,
                uploads.protocol, uploads.size, uploads.sha1, ?2, ?3, ?4, uploads.started_at, ?5, ?6, ?7
         FROM uploads JOIN files ON files.id = uploads.file_id JOIN accounts ON accounts.id = uploads.account_id
         WHERE uploads.id = ?1",
        params![
            id.0,
            outcome.as_str(),
            location,
            to_sql(bytes_sent),
            now_ms(),
            error,
            verification.map(Verification::as_str)
        ],
    )?;
    let row = tx.last_insert_rowid();
    Ok(tx.query_row(
        &format!("SELECT {COLUMNS} FROM history LEFT JOIN folders ON folders.id = history.folder_id WHERE history.id = ?1"),
        [row],
        from_row,
    )?)
}

/// Writes the history row of a synced file that was deleted or renamed, if some content of
/// it had been uploaded (nothing to record otherwise), and returns it.
pub(crate) fn insert_removal(
    tx: &Connection,
    file: FileId,
    outcome: Outcome,
    remote_path: &str,
    note: Option<&str>,
) -> Result<Option<HistoryEntry>, StoreError> {
    let now = now_ms();
    let inserted = tx.execute(
        "INSERT INTO history (account_id, folder_id, local_path, remote_path, server_url, protocol, size, sha1,
                              outcome, location, bytes_sent, started_at_ms, finished_at_ms, error)
         SELECT folders.account_id, files.folder_id, files.local_path, ?3, accounts.server_url,
                COALESCE(folders.protocol, ''), files.size, files.uploaded_sha1, ?2, NULL, 0, ?4, ?4, ?5
         FROM files JOIN folders ON folders.id = files.folder_id JOIN accounts ON accounts.id = folders.account_id
         WHERE files.id = ?1 AND files.uploaded_sha1 IS NOT NULL",
        params![file.0, outcome.as_str(), remote_path, now, note],
    )?;
    if inserted == 0 {
        return Ok(None);
    }
    let row = tx.last_insert_rowid();
    Ok(Some(tx.query_row(
        &format!("SELECT {COLUMNS} FROM history LEFT JOIN folders ON folders.id = history.folder_id WHERE history.id = ?1"),
        [row],
        from_row,
    )?))
}

/// Which history rows to read: every filter the CLI and the desktop app offer, paged in
/// SQL. In JSON (the window's `HistoryQuery`) `offset` and `limit` are required, the
/// filters optional.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct HistoryQuery {
    /// Only rows whose local or remote path contains this text (case-insensitive for ASCII).
    #[serde(default)]
    pub search: Option<String>,
    /// Only rows with this outcome.
    #[serde(default)]
    pub outcome: Option<Outcome>,
    /// Only rows of the synced folder at this path.
    #[serde(default)]
    pub folder: Option<String>,
    /// At most this many rows, newest first.
    pub limit: u32,
    /// Skip this many rows first (for pages).
    pub offset: u32,
}

impl Default for HistoryQuery {
    /// Every row, the newest 50.
    fn default() -> Self {
        Self {
            search: None,
            outcome: None,
            folder: None,
            limit: 50,
            offset: 0,
        }
    }
}

/// Bytes and files uploaded on one local day.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DayTotal {
    /// The day, `YYYY-MM-DD` in local time.
    pub day: String,
    /// Bytes of the files uploaded that day.
    pub bytes: u64,
    /// Files uploaded that day.
    pub files: u64,
}

/// The WHERE clause of [`HistoryQuery`], over `history` joined with `folders`; parameters
/// ?1 search, ?2 outcome, ?3 folder.
const FILTER: &str = "(?1 IS NULL OR instr(lower(history.local_path), lower(?1)) > 0
                          OR instr(lower(history.remote_path), lower(?1)) > 0)
     AND (?2 IS NULL OR history.outcome = ?2)
     AND (?3 IS NULL OR folders.path = ?3)";

impl Journal {
    /// History rows matching `query`, newest first, one page of them.
    pub fn history(&self, query: &HistoryQuery) -> Result<Vec<HistoryEntry>, StoreError> {
        let mut stmt = self.conn.prepare(&format!(
            "SELECT {COLUMNS} FROM history LEFT JOIN folders ON folders.id = history.folder_id
             WHERE {FILTER}
             ORDER BY history.finished_at_ms DESC, history.id DESC LIMIT ?4 OFFSET ?5"
        ))?;
        let rows = stmt
            .query_map(
                params![
                    query.search,
                    query.outcome.map(Outcome::as_str),
                    query.folder,
                    query.limit,
                    query.offset
                ],
                from_row,
            )?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(rows)
    }

    /// How many history rows match `query` (ignoring its page), for page counts.
    pub fn history_count(&self, query: &HistoryQuery) -> Result<u64, StoreError> {
        let n: i64 = self.conn.query_row(
            &format!(
                "SELECT COUNT(*) FROM history LEFT JOIN folders ON folders.id = history.folder_id
                 WHERE {FILTER}"
            ),
            params![
                query.search,
                query.outcome.map(Outcome::as_str),
                query.folder
            ],
            |r| r.get(0),
        )?;
        Ok(from_sql(n))
    }

    /// Bytes and files uploaded per local day over the `days` days ending with the day of
    /// `now_ms` (unix milliseconds), oldest first; days without uploads are there with 0.
    /// Days are cut in the process's local time zone (SQLite's `localtime`, which follows
    /// `TZ`).
    pub fn history_per_day(&self, days: u32, now_ms: i64) -> Result<Vec<DayTotal>, StoreError> {
        if days == 0 {
            return Ok(Vec::new());
        }
        let mut stmt = self.conn.prepare(
            "WITH RECURSIVE span(day, n) AS (
                 SELECT date(?1 / 1000, 'unixepoch', 'localtime', printf('-%d days', ?2 - 1)), 1
                 UNION ALL SELECT date(day, '+1 day'), n + 1 FROM span WHERE n < ?2
             ),
             totals AS (
                 SELECT date(finished_at_ms / 1000, 'unixepoch', 'localtime') AS day,
                        SUM(size) AS bytes, COUNT(*) AS files
                 FROM history
                 WHERE outcome = 'uploaded' AND finished_at_ms >= ?1 - (?2 + 1) * 86400000
                 GROUP BY 1
             )
             SELECT span.day, COALESCE(totals.bytes, 0), COALESCE(totals.files, 0)
             FROM span LEFT JOIN totals ON totals.day = span.day ORDER BY span.day",
        )?;
        let rows = stmt
            .query_map(params![now_ms, days], |r| {
                Ok(DayTotal {
                    day: r.get(0)?,
                    bytes: from_sql(r.get(1)?),
                    files: from_sql(r.get(2)?),
                })
            })?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(rows)
    }
}
