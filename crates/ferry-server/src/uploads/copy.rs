//! Copy by content (a Ferry extension, `POST /api/v1/files/copy`): a client that is about to
//! upload a file whose sha1 and size one of the same user's stored files already has asks
//! for a copy instead, and sends nothing. Only the user's own files are looked at; the
//! source is read and hashed before anything is published, so a stored file that no longer
//! has its listed content is never copied; the copy shares the stored bytes (a hard link)
//! where the filesystem allows, and is a real copy otherwise. Published and listed like a
//! finished upload, under the target path's lock. Knows nothing of HTTP.

use std::fs;
use std::io::{Read, Write};
use std::time::SystemTime;

use ferry_proto::checksum::ChecksumAlgorithm;
use rusqlite::{OptionalExtension, params};

use super::{FileEntry, find_file, hash_file, new_id, to_i64, unix};
use crate::accounts::User;
use crate::config::Config;
use crate::db::Db;
use crate::error::ServerError;
use crate::storage::{RemotePath, Storage};

/// What a client asks to have copied: the content (sha1 and size) and where it goes.
#[derive(Debug, Clone, serde::Deserialize)]
pub struct CopyRequest {
    /// The whole-file sha1, hex.
    pub sha1: String,
    /// The size in bytes.
    pub size: u64,
    /// The path it goes to, as an upload's `relativePath` would say.
    pub path: String,
}

/// A sha1 as 40 hex digits, lower-cased; anything else is refused.
fn sha1_hex(text: &str) -> Result<String, ServerError> {
    if text.len() == 40 && text.bytes().all(|b| b.is_ascii_hexdigit()) {
        Ok(text.to_ascii_lowercase())
    } else {
        Err(ServerError::BadRequest(
            "sha1 must be 40 hexadecimal digits".to_owned(),
        ))
    }
}

/// Copies `user`'s stored file with the requested content to the requested path: the new
/// listing entry, or [`ServerError::NotFound`] when no file of the user's has that content
/// (the client then uploads it).
pub async fn copy_by_content(
    db: &Db,
    storage: &Storage,
    config: &Config,
    user: &User,
    request: CopyRequest,
) -> Result<FileEntry, ServerError> {
    let target = RemotePath::parse(&request.path)?;
    let sha1 = sha1_hex(&request.sha1)?;
    let size = request.size;
    let user_id = user.id;
    let (wanted, target_path) = (sha1.clone(), target.as_str().to_owned());
    let (source, existing) = db
        .read(move |conn| {
            let source: Option<String> = conn
                .query_row(
                    "SELECT path FROM files WHERE user_id = ?1 AND sha1 = ?2 AND size = ?3
                     ORDER BY uploaded_at DESC LIMIT 1",
                    params![user_id, wanted, to_i64(size)],
                    |r| r.get(0),
                )
                .optional()?;
            Ok((source, find_file(conn, user_id, &target_path)?))
        })
        .await?;
    let Some(source) = source else {
        return Err(ServerError::NotFound);
    };
    if let Some(entry) = existing.filter(|e| e.sha1 == sha1 && e.size == size) {
        // Already there with this content: nothing to do.
        return Ok(entry);
    }
    let source = RemotePath::parse(&source)?;
    let (quota_config, quota_user) = (config.clone(), user_id);
    db.read(move |conn| crate::limits::check_quota(conn, &quota_config, quota_user, "", size))
        .await?;
    let _publishing = storage.lock_path(&user.name, &target).await;
    let (storage2, name, to) = (storage.clone(), user.name.clone(), target.clone());
    let wanted = sha1.clone();
    tokio::task::spawn_blocking(move || place(&storage2, &name, &source, &to, &wanted, size))
        .await
        .map_err(|e| ServerError::Internal(format!("copying a stored file: {e}")))??;
    let path = target.as_str().to_owned();
    db.call(move |conn| {
        let now = unix(SystemTime::now());
        conn.execute(
            "INSERT INTO files (user_id, path, size, sha1, uploaded_at) VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT (user_id, path) DO UPDATE
             SET size = excluded.size, sha1 = excluded.sha1, uploaded_at = excluded.uploaded_at",
            params![user_id, path, to_i64(size), sha1, now],
        )?;
        Ok(FileEntry {
            path,
            size,
            sha1,
            uploaded_at: now,
        })
    })
    .await
}

/// Puts the bytes of `source` at `to` once they are shown to have `sha1` and `size`: a hard
/// link where the filesystem allows, else a copy hashed as it is written; then moved into
/// place as an upload is ([`Storage::publish`]).
fn place(
    storage: &Storage,
    user: &str,
    source: &RemotePath,
    to: &RemotePath,
    sha1: &str,
    size: u64,
) -> Result<(), ServerError> {
    let from = storage.file_path(user, source);
    let id = new_id();
    let temp = storage.upload_path(&id);
    let checked = match fs::hard_link(&from, &temp) {
        Ok(()) => {
            let sums = hash_file(&temp, &[ChecksumAlgorithm::Sha1]);
            let length = fs::metadata(&temp).map(|m| m.len());
            sums.and_then(|s| length.map(|l| (s[0].to_hex(), l)))
        }
        Err(_) => copy_hashed(&from, &temp),
    };
    let fail = |err: ServerError| {
        let _ = fs::remove_file(&temp);
        err
    };
    let (actual, length) = checked.map_err(|e| {
        fail(ServerError::io(
            format!("copying {} to {}", source.as_str(), to.as_str()),
            e,
        ))
    })?;
    if actual != sha1 || length != size {
        tracing::warn!(source = %source.as_str(), listed = %sha1, %actual, "a stored file no longer has its listed content; not copied");
        return Err(fail(ServerError::Conflict(format!(
            "the stored file {} no longer has the content it was listed with; upload the file",
            source.as_str()
        ))));
    }
    storage.publish(&id, user, to).map_err(fail)?;
    Ok(())
}

/// Copies `from` to `to`, hashing what it writes: the sha1 and length of the copy.
fn copy_hashed(from: &std::path::Path, to: &std::path::Path) -> std::io::Result<(String, u64)> {
    let mut reader = fs::File::open(from)?;
    let mut writer = fs::File::create_new(to)?;
    let mut hasher = ChecksumAlgorithm::Sha1.hasher();
    let mut buf = vec![0u8; 1 << 20];
    let mut length = 0u64;
    loop {
        let n = reader.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        writer.write_all(&buf[..n])?;
        length += u64::try_from(n).unwrap_or(u64::MAX);
    }
    Ok((hasher.finish().to_hex(), length))
}
