//! Upload records, shared by tus and GalileoSend: creating, reading and advancing them, and
//! finishing one ([`finish`]: verify the whole-file sha1, move it into place, list it under
//! `files`).
//!
//! The database's `received` is the truth about how many bytes an upload holds durably: the
//! data file may hold more after a crash, and is cut back to `received` before the next
//! write. Offsets acknowledged since the last checkpoint are held by [`progress`].
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
use crate::error::ServerError;
use crate::storage::Storage;

mod copy;
mod finish;
pub mod progress;
pub use copy::{CopyRequest, copy_by_content};
pub use finish::finish;

/// Which protocol an upload came in by (tus at `/files/`, GalileoSend at `/galileo`): the
/// one protocol name every Ferry crate shares.
pub use ferry_proto::Protocol;

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
        protocol: protocol.parse().unwrap_or(Protocol::Tus),
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
