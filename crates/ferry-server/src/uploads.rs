//! Upload records, shared by tus and GalileoSend: creating, reading and advancing them, and
//! finishing one (verify the whole-file sha1, move it into place, list it under `files`).
//!
//! The database's `received` is the truth about how many bytes an upload holds: the data
//! file may hold more after a crash, and is cut back to `received` before the next write.
//! Knows nothing of HTTP or WebSockets.

use std::collections::HashMap;
use std::fs;
use std::io::Read;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, SystemTime};

use ferry_proto::checksum::{Checksum, ChecksumAlgorithm, Hasher};
use rand::RngCore;
use rusqlite::{Connection, OptionalExtension, Row, params};

use crate::accounts::User;
use crate::db::Db;
use crate::error::ServerError;
use crate::storage::{RemotePath, Storage};

/// Which protocol an upload came in by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// tus 1.0.0 at `/files/`.
    Tus,
    /// GalileoSend at `/galileo`.
    Galileo,
}

impl Protocol {
    fn as_str(self) -> &'static str {
        match self {
            Self::Tus => "tus",
            Self::Galileo => "galileo",
        }
    }
}

/// A tus concatenation role.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConcatRole {
    /// A partial upload, to be joined later.
    Partial,
    /// A final upload joining these partial uploads (by id), in order.
    Final(Vec<String>),
}

/// One upload as the database keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadRecord {
    /// Random 128-bit id in hex.
    pub id: String,
    /// The owner.
    pub user_id: i64,
    /// The protocol it came in by.
    pub protocol: Protocol,
    /// Where it will be stored (validated); `None` for partial uploads.
    pub path: Option<String>,
    /// Its length; `None` while deferred, or for a final upload not yet assembled.
    pub length: Option<u64>,
    /// Bytes received and committed.
    pub received: u64,
    /// tus `Upload-Metadata` as received (empty for GalileoSend).
    pub metadata: String,
    /// The whole-file sha1 the client announced, lower-case hex.
    pub sha1: Option<String>,
    /// The file's modification time (unix seconds), if the client said.
    pub mtime: Option<i64>,
    /// Its concatenation role, if any.
    pub concat: Option<ConcatRole>,
    /// When it expires unless it changes (unix seconds).
    pub expires_at: Option<i64>,
    /// When it was finished (unix seconds).
    pub completed_at: Option<i64>,
}

/// Seconds since the epoch of `at`.
pub fn unix(at: SystemTime) -> i64 {
    at.duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// The point in time of unix seconds `secs`.
pub fn from_unix(secs: i64) -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(u64::try_from(secs).unwrap_or(0))
}

fn to_i64(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

fn to_u64(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}

/// A fresh upload id: 128 random bits in hex.
pub fn new_id() -> String {
    let mut bytes = [0u8; 16];
    rand::rng().fill_bytes(&mut bytes);
    ferry_proto::checksum::to_hex(&bytes)
}

/// Whether `id` has the shape of an id this server makes (so it is safe as a file name).
pub fn is_valid_id(id: &str) -> bool {
    id.len() == 32
        && id
            .bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
}

const COLUMNS: &str = "id, user_id, protocol, path, length, received, metadata, sha1, mtime, concat, parts, expires_at, completed_at";

fn from_row(row: &Row<'_>) -> rusqlite::Result<UploadRecord> {
    let protocol: String = row.get(2)?;
    let concat: Option<String> = row.get(9)?;
    let parts: Option<String> = row.get(10)?;
    Ok(UploadRecord {
        id: row.get(0)?,
        user_id: row.get(1)?,
        protocol: if protocol == "galileo" {
            Protocol::Galileo
        } else {
            Protocol::Tus
        },
        path: row.get(3)?,
        length: row.get::<_, Option<i64>>(4)?.map(to_u64),
        received: to_u64(row.get(5)?),
        metadata: row.get(6)?,
        sha1: row.get(7)?,
        mtime: row.get(8)?,
        concat: match concat.as_deref() {
            Some("partial") => Some(ConcatRole::Partial),
            Some(_) => Some(ConcatRole::Final(
                parts
                    .unwrap_or_default()
                    .split(' ')
                    .filter(|p| !p.is_empty())
                    .map(str::to_owned)
                    .collect(),
            )),
            None => None,
        },
        expires_at: row.get(11)?,
        completed_at: row.get(12)?,
    })
}

impl UploadRecord {
    /// A new, empty upload record of `user` (not yet stored).
    pub fn new(user: &User, protocol: Protocol) -> Self {
        Self {
            id: new_id(),
            user_id: user.id,
            protocol,
            path: None,
            length: None,
            received: 0,
            metadata: String::new(),
            sha1: None,
            mtime: None,
            concat: None,
            expires_at: None,
            completed_at: None,
        }
    }

    /// Whether every byte has arrived.
    pub fn is_complete(&self) -> bool {
        self.length == Some(self.received)
    }

    /// Stores a new record.
    pub fn insert(&self, conn: &Connection) -> Result<(), ServerError> {
        let (concat, parts) = match &self.concat {
            None => (None, None),
            Some(ConcatRole::Partial) => (Some("partial"), None),
            Some(ConcatRole::Final(ids)) => (Some("final"), Some(ids.join(" "))),
        };
        conn.execute(
            &format!("INSERT INTO uploads ({COLUMNS}, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)"),
            params![
                self.id,
                self.user_id,
                self.protocol.as_str(),
                self.path,
                self.length.map(to_i64),
                to_i64(self.received),
                self.metadata,
                self.sha1,
                self.mtime,
                concat,
                parts,
                self.expires_at,
                self.completed_at,
                unix(SystemTime::now()),
            ],
        )?;
        Ok(())
    }

    /// Upload `id` if it belongs to `user_id` (another user's upload is "not found").
    pub fn get(conn: &Connection, id: &str, user_id: i64) -> Result<Option<Self>, ServerError> {
        Ok(conn
            .query_row(
                &format!("SELECT {COLUMNS} FROM uploads WHERE id = ?1 AND user_id = ?2"),
                params![id, user_id],
                from_row,
            )
            .optional()?)
    }

    /// Records that the upload now holds `received` bytes (and its length, once known),
    /// and when it expires.
    pub fn save_progress(&self, conn: &Connection) -> Result<(), ServerError> {
        conn.execute(
            "UPDATE uploads SET received = ?2, length = ?3, expires_at = ?4 WHERE id = ?1",
            params![
                self.id,
                to_i64(self.received),
                self.length.map(to_i64),
                self.expires_at
            ],
        )?;
        Ok(())
    }

    /// Removes the record only; remove its data file with [`UploadRecord::remove_data`]
    /// after the writer is released (never file I/O while it is held). In that order: a
    /// record without its file could be resumed into a zero-filled one.
    pub fn delete_record(conn: &Connection, id: &str) -> Result<(), ServerError> {
        conn.execute("DELETE FROM uploads WHERE id = ?1", [id])?;
        Ok(())
    }

    /// Removes the data file of an upload whose record is gone (blocking; small).
    pub fn remove_data(storage: &Storage, id: &str) -> Result<(), ServerError> {
        match fs::remove_file(storage.upload_path(id)) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(ServerError::io(format!("removing upload {id}"), e)),
        }
    }

    /// The final upload of `user_id` joining exactly partial uploads `parts` (ids separated
    /// by single spaces, in order) to `path`, if there is one.
    pub fn final_joining(
        conn: &Connection,
        user_id: i64,
        parts: &str,
        path: Option<&str>,
    ) -> Result<Option<String>, ServerError> {
        Ok(conn
            .query_row(
                "SELECT id FROM uploads WHERE user_id = ?1 AND concat = 'final' AND parts = ?2
                 AND path IS ?3 ORDER BY created_at DESC LIMIT 1",
                params![user_id, parts, path],
                |r| r.get(0),
            )
            .optional()?)
    }

    /// Final uploads of `user_id` not yet assembled that name partial upload `partial_id`
    /// (concatenation-unfinished).
    pub fn finals_waiting_for(
        conn: &Connection,
        user_id: i64,
        partial_id: &str,
    ) -> Result<Vec<String>, ServerError> {
        let mut stmt = conn.prepare(
            "SELECT id FROM uploads WHERE user_id = ?1 AND concat = 'final' AND length IS NULL
             AND completed_at IS NULL AND instr(' ' || parts || ' ', ' ' || ?2 || ' ') > 0",
        )?;
        let ids = stmt
            .query_map(params![user_id, partial_id], |r| r.get(0))?
            .collect::<Result<Vec<String>, _>>()?;
        Ok(ids)
    }

    /// Whether upload `id` is unfinished and its expiry has passed at `now`.
    pub fn is_expired(conn: &Connection, id: &str, now: SystemTime) -> Result<bool, ServerError> {
        Ok(conn
            .query_row(
                "SELECT 1 FROM uploads WHERE id = ?1 AND completed_at IS NULL AND expires_at < ?2",
                params![id, unix(now)],
                |_| Ok(()),
            )
            .optional()?
            .is_some())
    }

    /// Unfinished uploads whose expiry has passed at `now`.
    pub fn expired(conn: &Connection, now: SystemTime) -> Result<Vec<String>, ServerError> {
        let mut stmt =
            conn.prepare("SELECT id FROM uploads WHERE completed_at IS NULL AND expires_at < ?1")?;
        let ids = stmt
            .query_map([unix(now)], |r| r.get(0))?
            .collect::<Result<Vec<String>, _>>()?;
        Ok(ids)
    }
}

/// The checksums of a file with each of `algorithms`, in one pass over it.
pub fn hash_file(
    path: &std::path::Path,
    algorithms: &[ChecksumAlgorithm],
) -> std::io::Result<Vec<Checksum>> {
    let mut file = fs::File::open(path)?;
    let mut hashers: Vec<_> = algorithms.iter().map(|a| a.hasher()).collect();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        match file.read(&mut buf)? {
            0 => break,
            n => hashers.iter_mut().for_each(|h| h.update(&buf[..n])),
        }
    }
    Ok(hashers
        .into_iter()
        .map(ferry_proto::checksum::Hasher::finish)
        .collect())
}

/// A finished file as `GET /api/v1/files` lists it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct FileEntry {
    /// Its path under the user's folder.
    pub path: String,
    /// Its size in bytes.
    pub size: u64,
    /// Its sha1, lower-case hex.
    pub sha1: String,
    /// When it was finished (unix seconds).
    pub uploaded_at: i64,
}

/// The whole-file sha1 of uploads written from their first byte, kept while they stream so
/// that finishing one needs no second read of the file. Only in memory: after a restart (or
/// a discarded chunk) the file is read once at the end instead.
#[derive(Debug, Default)]
pub struct RunningHashes {
    by_upload: Mutex<HashMap<String, (u64, Hasher)>>,
}

impl RunningHashes {
    /// The hasher of upload `id` if it covers exactly its first `offset` bytes (a fresh one
    /// at offset 0); `None` when the bytes before `offset` were not seen.
    pub fn take(&self, id: &str, offset: u64) -> Option<Hasher> {
        let kept = self
            .by_upload
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(id);
        match kept {
            Some((covered, hasher)) if covered == offset => Some(hasher),
            _ if offset == 0 => Some(ChecksumAlgorithm::Sha1.hasher()),
            _ => None,
        }
    }

    /// Keeps `hasher`, which covers the first `offset` bytes of upload `id`.
    pub fn put(&self, id: &str, offset: u64, hasher: Hasher) {
        self.by_upload
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(id.to_owned(), (offset, hasher));
    }

    /// The sha1 of the first `length` bytes of upload `id`, if they were all seen; forgets it.
    pub fn finished(&self, id: &str, length: u64) -> Option<Checksum> {
        self.take(id, length)
            .filter(|_| length > 0)
            .map(Hasher::finish)
    }

    /// Forgets upload `id` (deleted or expired).
    pub fn forget(&self, id: &str) {
        self.by_upload
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(id);
    }
}

/// What reading a complete upload found.
enum Verdict {
    /// The bytes match what the client announced and are in place.
    Published { sha1: String },
    /// They do not; the data file was emptied.
    Mismatch { expected: String, actual: String },
    /// The data file is gone and the stored file is not known to be it.
    Lost,
}

/// A complete upload whose data file is gone: a crash came after it was moved into place and
/// before the database said so. It is published if the stored file has the sha1 the client
/// announced; otherwise (no sha1 to tell, or another file) it cannot be finished.
fn published_before(
    storage: &Storage,
    user: &str,
    path: &RemotePath,
    id: &str,
    announced: Option<&str>,
) -> Result<Verdict, ServerError> {
    let stored = storage.file_path(user, path);
    let sums = match hash_file(&stored, &[ChecksumAlgorithm::Sha1]) {
        Ok(sums) => sums,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Verdict::Lost),
        Err(e) => return Err(ServerError::io(format!("reading {}", path.as_str()), e)),
    };
    let actual = sums[0].to_hex();
    match announced {
        Some(expected) if expected.eq_ignore_ascii_case(&actual) => {
            Ok(Verdict::Published { sha1: actual })
        }
        // No sha1 to tell whether the stored file is this upload: sent again.
        _ => {
            tracing::warn!(upload = %id, path = %path.as_str(), "a complete upload lost its data file; it starts again at 0");
            Ok(Verdict::Lost)
        }
    }
}

/// Finishes a complete upload: checks the sha1 the client announced (and `also`, another
/// checksum a protocol brought), moves the bytes to `DIR/files/USER/PATH` and lists the
/// file. On a mismatch the upload is reset to byte 0 and [`ServerError::HashMismatch`]
/// returned, so the client can send it again.
///
/// `known_sha1` is the sha1 computed while the bytes streamed in ([`RunningHashes`]); without
/// it the file is read once. Moving into place and listing happen under the path's lock
/// ([`Storage::lock_path`]): the last of two uploads finishing to one path wins on disk and
/// in the listing alike. A crash between the move and the listing leaves a complete upload
/// without its data file; finishing it again lists the stored file when its sha1 is the one
/// announced, and otherwise starts the upload again at byte 0. Reading and moving the file run on a blocking thread without
/// the database: only the bookkeeping at the end takes it, so finishing a large file never
/// stalls other requests.
pub async fn finish(
    db: &Db,
    storage: &Storage,
    user: &User,
    mut record: UploadRecord,
    known_sha1: Option<Checksum>,
    also: Option<Checksum>,
) -> Result<(UploadRecord, FileEntry), ServerError> {
    let path = RemotePath::parse(record.path.as_deref().unwrap_or(&record.id))?;
    let data_path = storage.upload_path(&record.id);
    let (storage, user_name, id, announced) = (
        storage.clone(),
        user.name.clone(),
        record.id.clone(),
        record.sha1.clone(),
    );
    let target = path.clone();
    // Held until the listing is written: the file on disk and its listing are one fact.
    let _publishing = storage.lock_path(&user_name, &path).await;
    let verdict = tokio::task::spawn_blocking(move || -> Result<Verdict, ServerError> {
        let data = storage.upload_path(&id);
        if !data.exists() {
            return published_before(&storage, &user_name, &target, &id, announced.as_deref());
        }
        // Read the file only for what was not hashed while it streamed.
        let mut algorithms = Vec::new();
        algorithms.extend(known_sha1.is_none().then_some(ChecksumAlgorithm::Sha1));
        algorithms.extend(also.as_ref().map(|c| c.algorithm));
        let mut sums = if algorithms.is_empty() {
            Vec::new()
        } else {
            hash_file(&data, &algorithms)
                .map_err(|e| ServerError::io(format!("reading upload {id}"), e))?
        };
        if let Some(sha1) = known_sha1 {
            sums.insert(0, sha1);
        }
        let actual = sums[0].to_hex();
        let mismatch = match (announced, also) {
            (Some(expected), _) if !expected.eq_ignore_ascii_case(&actual) => {
                Some((expected, actual.clone()))
            }
            (_, Some(other)) if sums.get(1) != Some(&other) => Some((
                other.to_hex(),
                sums.get(1).map(Checksum::to_hex).unwrap_or_default(),
            )),
            _ => None,
        };
        if let Some((expected, actual)) = mismatch {
            fs::File::create(&data)
                .map_err(|e| ServerError::io(format!("resetting upload {id}"), e))?;
            return Ok(Verdict::Mismatch { expected, actual });
        }
        storage.publish(&id, &user_name, &target)?;
        Ok(Verdict::Published { sha1: actual })
    })
    .await
    .map_err(|e| ServerError::Internal(format!("finishing an upload: {e}")))??;
    let sha1 = match verdict {
        Verdict::Lost => {
            fs::File::create(&data_path)
                .map_err(|e| ServerError::io(format!("re-creating upload {}", record.id), e))?;
            record.received = 0;
            let reset = record.clone();
            db.call(move |conn| reset.save_progress(conn)).await?;
            return Err(ServerError::Conflict(
                "the server lost this upload's bytes before it stored them; it starts again at offset 0 (ask HEAD)"
                    .to_owned(),
            ));
        }
        Verdict::Mismatch { expected, actual } => {
            record.received = 0;
            let reset = record.clone();
            db.call(move |conn| reset.save_progress(conn)).await?;
            return Err(ServerError::HashMismatch { expected, actual });
        }
        Verdict::Published { sha1 } => sha1,
    };
    let user_id = user.id;
    db.call(move |conn| {
        let now = unix(SystemTime::now());
        let size = record.received;
        // The file row and the upload's completion are one fact: one transaction (one
        // flush to disk instead of two).
        let tx = conn.transaction()?;
        tx.execute(
            "INSERT INTO files (user_id, path, size, sha1, uploaded_at) VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT (user_id, path) DO UPDATE
             SET size = excluded.size, sha1 = excluded.sha1, uploaded_at = excluded.uploaded_at",
            params![user_id, path.as_str(), to_i64(size), sha1, now],
        )?;
        tx.execute(
            "UPDATE uploads SET completed_at = ?2, received = ?3, expires_at = NULL WHERE id = ?1",
            params![record.id, now, to_i64(size)],
        )?;
        tx.commit()?;
        record.completed_at = Some(now);
        record.expires_at = None;
        let entry = FileEntry {
            path: path.as_str().to_owned(),
            size,
            sha1,
            uploaded_at: now,
        };
        Ok((record, entry))
    })
    .await
}

/// The finished file of `user_id` at exactly `path`, if any.
pub fn find_file(
    conn: &Connection,
    user_id: i64,
    path: &str,
) -> Result<Option<FileEntry>, ServerError> {
    Ok(conn
        .query_row(
            "SELECT path, size, sha1, uploaded_at FROM files WHERE user_id = ?1 AND path = ?2",
            params![user_id, path],
            |r| {
                Ok(FileEntry {
                    path: r.get(0)?,
                    size: to_u64(r.get(1)?),
                    sha1: r.get(2)?,
                    uploaded_at: r.get(3)?,
                })
            },
        )
        .optional()?)
}

/// The finished files of `user_id` whose path starts with `prefix`.
pub fn list_files(
    conn: &Connection,
    user_id: i64,
    prefix: &str,
) -> Result<Vec<FileEntry>, ServerError> {
    let mut stmt = conn.prepare(
        "SELECT path, size, sha1, uploaded_at FROM files WHERE user_id = ?1 AND substr(path, 1, length(?2)) = ?2 ORDER BY path",
    )?;
    let rows = stmt
        .query_map(params![user_id, prefix], |r| {
            Ok(FileEntry {
                path: r.get(0)?,
                size: to_u64(r.get(1)?),
                sha1: r.get(2)?,
                uploaded_at: r.get(3)?,
            })
        })?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn running_hashes_continue_only_from_the_offset_they_cover() {
        let hashes = RunningHashes::default();
        let mut first = hashes.take("u", 0).expect("a fresh hasher at byte 0");
        first.update(b"hello ");
        hashes.put("u", 6, first);
        assert!(hashes.take("u", 3).is_none(), "a gap cannot be hashed over");
        assert!(
            hashes.finished("u", 6).is_none(),
            "taking it at the wrong offset dropped it"
        );

        let mut again = hashes.take("v", 0).unwrap();
        again.update(b"hello ");
        hashes.put("v", 6, again);
        let mut more = hashes.take("v", 6).unwrap();
        more.update(b"world");
        hashes.put("v", 11, more);
        assert_eq!(
            hashes.finished("v", 11),
            Some(ChecksumAlgorithm::Sha1.digest(b"hello world"))
        );
        assert!(hashes.finished("v", 11).is_none(), "finishing forgets it");
        hashes.put("w", 1, ChecksumAlgorithm::Sha1.hasher());
        hashes.forget("w");
        assert!(hashes.take("w", 1).is_none());
    }
}
