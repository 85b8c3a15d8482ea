//! Finishing a complete upload: verifying its whole-file sha1, moving it into place under
//! the path's lock and listing it, and what a crash between those steps leaves to repair.
//! Knows nothing of HTTP or WebSockets.

use std::fs;
use std::time::SystemTime;

use ferry_proto::checksum::{Checksum, ChecksumAlgorithm};
use rusqlite::params;

use super::{FileEntry, UploadRecord, hash_file, to_i64, unix};
use crate::accounts::User;
use crate::db::Db;
use crate::error::ServerError;
use crate::storage::{RemotePath, Storage};

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
