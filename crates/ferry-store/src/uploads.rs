//! Unfinished uploads: what is being sent (the content's facts and sha1, so a changed file
//! is noticed), where to (protocol, endpoint, remote path), and how far the server confirmed
//! it, per server-side upload (one, or the partial uploads of a concatenation). Finishing
//! or abandoning one moves it to the history in the same transaction.

use ferry_proto::Protocol;
use rusqlite::{Connection, OptionalExtension, Row, params};

use crate::history::{HistoryEntry, Outcome, Verification, insert_history};
use crate::{
    AccountId, FileFacts, FileId, FileState, Journal, StoreError, from_sql, now_ms, to_sql,
};

/// An upload's row id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct UploadId(pub i64);

/// One server-side upload of an upload: a tus upload (or partial upload), or a GalileoSend
/// upload id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartRecord {
    /// Its position (0 unless concatenating).
    pub idx: u32,
    /// Offset in the file where its bytes begin.
    pub start: u64,
    /// Its length; `None` while deferred.
    pub len: Option<u64>,
    /// Where it lives on the server (tus `Location`, GalileoSend upload id), once created.
    pub location: Option<String>,
    /// Bytes the server confirmed.
    pub confirmed: u64,
    /// When the server said it expires (unix seconds).
    pub expires_at: Option<i64>,
}

/// What a new upload is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewUpload {
    /// The file being uploaded.
    pub file: FileId,
    /// The account it goes to.
    pub account: AccountId,
    /// The protocol.
    pub protocol: Protocol,
    /// The tus creation URL or the GalileoSend WebSocket URL.
    pub endpoint: String,
    /// Where the file goes on the server.
    pub remote_path: String,
    /// The facts of the content being sent.
    pub facts: FileFacts,
    /// The sha1 (hex) of the content being sent.
    pub sha1: String,
    /// The most bytes per request or frame.
    pub chunk_size: u64,
    /// Whether the parts are partial uploads to be joined.
    pub concatenated: bool,
    /// The parts, as planned.
    pub parts: Vec<PartRecord>,
    /// The final upload joining the parts of a concatenation, as far as it got.
    pub final_upload: FinalUpload,
}

/// The final upload of a concatenation, as far as the client knows it. A final that was
/// requested but has no location may exist on the server: the next run looks for it before
/// it makes another.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FinalUpload {
    /// Its creating POST was (about to be) sent.
    pub requested: bool,
    /// Its URL as the server gave it, once the server answered.
    pub location: Option<String>,
}

/// Everything an upload's server confirmed so far, as [`Journal::record_progress`] keeps it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Progress {
    /// Whether the parts are partial uploads to be joined.
    pub concatenated: bool,
    /// The server-side uploads and their confirmed offsets.
    pub parts: Vec<PartRecord>,
    /// The final upload of a concatenation.
    pub final_upload: FinalUpload,
}

/// An unfinished upload as the journal keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadRecord {
    /// The row id.
    pub id: UploadId,
    /// What was asked for.
    pub upload: NewUpload,
    /// Bytes of the file the server confirmed, over all parts.
    pub confirmed: u64,
    /// Failed attempts so far.
    pub attempts: u32,
    /// When to try again (unix milliseconds), after a failure.
    pub next_retry_at_ms: Option<i64>,
    /// The last failure, as shown to the user.
    pub last_error: Option<String>,
    /// When it started (unix milliseconds).
    pub started_at_ms: i64,
}

const COLUMNS: &str = "id, file_id, account_id, protocol, endpoint, remote_path, size, mtime_ns, inode, sha1, \
                       chunk_size, concatenated, confirmed, attempts, next_retry_at, last_error, started_at, \
                       final_requested, final_location";

fn from_row(r: &Row<'_>) -> rusqlite::Result<(UploadRecord, String)> {
    let protocol: String = r.get(3)?;
    Ok((
        UploadRecord {
            id: UploadId(r.get(0)?),
            upload: NewUpload {
                file: FileId(r.get(1)?),
                account: AccountId(r.get(2)?),
                protocol: protocol.parse().unwrap_or(Protocol::Tus),
                endpoint: r.get(4)?,
                remote_path: r.get(5)?,
                facts: FileFacts {
                    size: from_sql(r.get(6)?),
                    mtime_ns: r.get(7)?,
                    inode: from_sql(r.get(8)?),
                },
                sha1: r.get(9)?,
                chunk_size: from_sql(r.get(10)?),
                concatenated: r.get(11)?,
                parts: Vec::new(),
                final_upload: FinalUpload {
                    requested: r.get(17)?,
                    location: r.get(18)?,
                },
            },
            confirmed: from_sql(r.get(12)?),
            attempts: r.get(13)?,
            next_retry_at_ms: r.get(14)?,
            last_error: r.get(15)?,
            started_at_ms: r.get(16)?,
        },
        protocol,
    ))
}

fn write_parts(tx: &Connection, id: UploadId, parts: &[PartRecord]) -> Result<(), StoreError> {
    tx.execute("DELETE FROM upload_parts WHERE upload_id = ?1", [id.0])?;
    let mut insert = tx.prepare(
        "INSERT INTO upload_parts (upload_id, idx, start, len, location, confirmed, expires_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?;
    for part in parts {
        insert.execute(params![
            id.0,
            part.idx,
            to_sql(part.start),
            part.len.map(to_sql),
            part.location,
            to_sql(part.confirmed),
            part.expires_at
        ])?;
    }
    Ok(())
}

impl Journal {
    /// Records a new upload of a file (replacing an unfinished one of an older content of
    /// that file) and marks the file as uploading, with the sha1 of the content sent.
    pub fn start_upload(&mut self, upload: &NewUpload) -> Result<UploadRecord, StoreError> {
        let tx = self.conn.savepoint()?;
        let now = now_ms();
        tx.execute("DELETE FROM uploads WHERE file_id = ?1", [upload.file.0])?;
        tx.execute(
            "INSERT INTO uploads (file_id, account_id, protocol, endpoint, remote_path, size, mtime_ns, inode, sha1,
                                  chunk_size, concatenated, started_at, updated_at, final_requested, final_location)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?12, ?13, ?14)",
            params![
                upload.file.0,
                upload.account.0,
                upload.protocol.as_str(),
                upload.endpoint,
                upload.remote_path,
                to_sql(upload.facts.size),
                upload.facts.mtime_ns,
                to_sql(upload.facts.inode),
                upload.sha1,
                to_sql(upload.chunk_size),
                upload.concatenated,
                now,
                upload.final_upload.requested,
                upload.final_upload.location,
            ],
        )?;
        let id = UploadId(tx.last_insert_rowid());
        write_parts(&tx, id, &upload.parts)?;
        tx.execute(
            "UPDATE files SET state = 'uploading', sha1 = ?3, updated_at = ?2 WHERE id = ?1",
            params![upload.file.0, now, upload.sha1],
        )?;
        tx.commit()?;
        Ok(UploadRecord {
            id,
            upload: upload.clone(),
            confirmed: upload.parts.iter().map(|p| p.confirmed).sum(),
            attempts: 0,
            next_retry_at_ms: None,
            last_error: None,
            started_at_ms: now,
        })
    }

    /// The unfinished upload of a file, with its parts.
    pub fn upload_for_file(&self, file: FileId) -> Result<Option<UploadRecord>, StoreError> {
        let row = self
            .conn
            .query_row(
                &format!("SELECT {COLUMNS} FROM uploads WHERE file_id = ?1"),
                [file.0],
                from_row,
            )
            .optional()?;
        let Some((mut record, protocol)) = row else {
            return Ok(None);
        };
        if protocol.parse::<Protocol>().is_err() {
            return Err(StoreError::Unknown {
                what: "protocol",
                value: protocol,
            });
        }
        let mut stmt = self.conn.prepare(
            "SELECT idx, start, len, location, confirmed, expires_at FROM upload_parts WHERE upload_id = ?1 ORDER BY idx",
        )?;
        record.upload.parts = stmt
            .query_map([record.id.0], |r| {
                Ok(PartRecord {
                    idx: r.get(0)?,
                    start: from_sql(r.get(1)?),
                    len: r.get::<_, Option<i64>>(2)?.map(from_sql),
                    location: r.get(3)?,
                    confirmed: from_sql(r.get(4)?),
                    expires_at: r.get(5)?,
                })
            })?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Some(record))
    }

    /// Every unfinished upload with its file's local path, oldest first.
    pub fn open_uploads(&self) -> Result<Vec<(String, UploadRecord)>, StoreError> {
        let mut stmt = self.conn.prepare(
            "SELECT files.local_path, uploads.file_id FROM uploads JOIN files ON files.id = uploads.file_id
             ORDER BY uploads.id",
        )?;
        let rows = stmt
            .query_map([], |r| Ok((r.get::<_, String>(0)?, FileId(r.get(1)?))))?
            .collect::<Result<Vec<_>, _>>()?;
        let mut open = Vec::with_capacity(rows.len());
        for (path, file) in rows {
            if let Some(upload) = self.upload_for_file(file)? {
                open.push((path, upload));
            }
        }
        Ok(open)
    }

    /// Records what the server confirmed: the parts as they stand now and, for a
    /// concatenation, its final upload. Call it only with offsets and locations the server
    /// stated (a final is marked `requested` before its POST is sent). Clears the failure
    /// count: progress is progress.
    pub fn record_progress(&mut self, id: UploadId, progress: &Progress) -> Result<(), StoreError> {
        let tx = self.conn.savepoint()?;
        write_parts(&tx, id, &progress.parts)?;
        tx.execute(
            "UPDATE uploads SET confirmed = ?2, concatenated = ?3, final_requested = ?4, final_location = ?5,
                                attempts = 0, next_retry_at = NULL, last_error = NULL, updated_at = ?6
             WHERE id = ?1",
            params![
                id.0,
                to_sql(progress.parts.iter().map(|p| p.confirmed).sum()),
                progress.concatenated,
                progress.final_upload.requested,
                progress.final_upload.location,
                now_ms()
            ],
        )?;
        tx.commit()?;
        Ok(())
    }

    /// Records a failed attempt and when to try again.
    pub fn record_failure(
        &self,
        id: UploadId,
        error: &str,
        next_retry_at_ms: Option<i64>,
    ) -> Result<(), StoreError> {
        self.conn.execute(
            "UPDATE uploads SET attempts = attempts + 1, last_error = ?2, next_retry_at = ?3, updated_at = ?4 WHERE id = ?1",
            params![id.0, error, next_retry_at_ms, now_ms()],
        )?;
        Ok(())
    }

    /// The upload is complete on the server at `location`, checked as `verification`
    /// says: in one transaction, the history gains a row, the file is marked uploaded with
    /// this content, the upload row goes.
    pub fn finish_upload(
        &mut self,
        id: UploadId,
        location: Option<&str>,
        bytes_sent: u64,
        verification: Verification,
    ) -> Result<HistoryEntry, StoreError> {
        self.close_upload(
            id,
            Outcome::Uploaded,
            location,
            bytes_sent,
            None,
            Some(verification),
        )
    }

    /// The upload is given up (`Abandoned`: the file changed or went; `Failed`: a permanent
    /// error): it moves to the history with `error`, the file is marked accordingly.
    pub fn end_upload(
        &mut self,
        id: UploadId,
        outcome: Outcome,
        bytes_sent: u64,
        error: &str,
    ) -> Result<HistoryEntry, StoreError> {
        self.close_upload(id, outcome, None, bytes_sent, Some(error), None)
    }

    fn close_upload(
        &mut self,
        id: UploadId,
        outcome: Outcome,
        location: Option<&str>,
        bytes_sent: u64,
        error: Option<&str>,
        verification: Option<Verification>,
    ) -> Result<HistoryEntry, StoreError> {
        let tx = self.conn.savepoint()?;
        let entry = insert_history(&tx, id, outcome, location, bytes_sent, error, verification)?;
        let (state, uploaded) = match outcome {
            Outcome::Uploaded => (FileState::Uploaded, entry.sha1.clone()),
            Outcome::Abandoned => (FileState::Pending, None),
            Outcome::Failed => (FileState::Failed, None),
            Outcome::Renamed | Outcome::Deleted => (FileState::Deleted, None),
        };
        tx.execute(
            "UPDATE files SET state = ?2, uploaded_sha1 = COALESCE(?3, uploaded_sha1), updated_at = ?4
             WHERE id = (SELECT file_id FROM uploads WHERE id = ?1)",
            params![id.0, state.as_str(), uploaded, now_ms()],
        )?;
        if outcome == Outcome::Abandoned {
            // The content recorded is not the file's any more (the sha1 is kept only for
            // the facts it was taken with, and a rewrite can keep those): the next attempt
            // hashes the file again.
            tx.execute(
                "UPDATE files SET sha1 = NULL WHERE id = (SELECT file_id FROM uploads WHERE id = ?1)",
                [id.0],
            )?;
        }
        if outcome == Outcome::Uploaded {
            // Success forgets earlier failures, in the same transaction.
            tx.execute(
                "UPDATE files SET attempts = 0, last_error = NULL, next_retry_at = NULL
                 WHERE id = (SELECT file_id FROM uploads WHERE id = ?1)",
                [id.0],
            )?;
        }
        tx.execute("DELETE FROM uploads WHERE id = ?1", [id.0])?;
        tx.commit()?;
        Ok(entry)
    }
}
