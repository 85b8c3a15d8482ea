//! The storage side of one GalileoSend session: finding or creating the upload the metadata
//! names, writing each chunk and acknowledging it (`uploads::progress`: durable within a
//! bounded window), and finishing, durably.
//!
//! When an upload is opened its acknowledged offset is settled, and the database's
//! `received` is the truth: the data file is cut back to it, so a chunk counts only once
//! its bytes are written and acknowledged. Knows nothing of WebSockets or of the session
//! machine's state.

use std::fs;
use std::io::{Seek, SeekFrom, Write};
use std::time::SystemTime;

use bytes::Bytes;
use ferry_proto::checksum::{Checksum, ChecksumAlgorithm};
use ferry_proto::galileo::{ErrorCode, Hash, Meta};

use crate::AppState;
use crate::accounts::User;
use crate::error::ServerError;
use crate::locks::UploadGuard;
use crate::storage::RemotePath;
use crate::uploads::{self, Protocol, UploadRecord, unix};

/// Why the server refuses to go on: the code and message of a fatal error signal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Refusal {
    pub(super) code: ErrorCode,
    pub(super) message: String,
}

impl Refusal {
    fn unknown(id: &str) -> Self {
        Self {
            code: ErrorCode::UnknownUpload,
            message: format!(
                "no upload {id} of this file here (any more); start a new upload from byte 0"
            ),
        }
    }
}

impl From<ServerError> for Refusal {
    fn from(err: ServerError) -> Self {
        let code = match &err {
            // Publishing refuses a path that clashes with a folder or a file: for
            // GalileoSend that is a path that "cannot be stored".
            ServerError::Conflict(_) => ErrorCode::BadPath,
            other => other.galileo_code(),
        };
        if code == ErrorCode::Internal {
            tracing::error!(error = %err, "GalileoSend upload failed");
        } else {
            // The message may name the upload: only at debug.
            tracing::info!(code = code.as_str(), "GalileoSend upload refused");
            tracing::debug!(error = %err, "GalileoSend upload refused");
        }
        Self {
            code,
            message: err.public_message(),
        }
    }
}

/// An upload this connection holds: its record, its data file (opened once) and its lock.
#[derive(Debug)]
pub(super) struct OpenUpload {
    pub(super) record: UploadRecord,
    /// `None` only while a write is in flight on a blocking thread.
    file: Option<fs::File>,
    guard: UploadGuard,
}

/// The whole-file sha1 a hash names, lower-case hex, if it is a sha1.
fn sha1_of(hash: &Hash) -> Option<String> {
    match hash.kind.parse::<ChecksumAlgorithm>() {
        Ok(ChecksumAlgorithm::Sha1) => Some(hash.value.to_ascii_lowercase()),
        _ => None,
    }
}

/// When an upload touched now expires.
fn expiry(state: &AppState) -> i64 {
    unix(SystemTime::now() + state.config.expire_after)
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, ServerError> + Send + 'static,
) -> Result<T, ServerError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| ServerError::Internal(format!("a storage task failed: {e}")))?
}

impl OpenUpload {
    /// The upload `meta` asks for: the one named by `upload` (resume), or a new one.
    /// The stored path is `path` if given, else `name`.
    pub(super) async fn open(state: &AppState, user: &User, meta: &Meta) -> Result<Self, Refusal> {
        let path = RemotePath::parse(meta.path.as_deref().unwrap_or(&meta.name))?;
        match &meta.upload {
            Some(id) => Self::resume(state, user, meta, &path, id).await,
            None => Ok(Self::create(state, user, meta, &path).await?),
        }
    }

    /// Whether a newer connection asked for this upload (see [`UploadGuard::cancelled`]).
    pub(super) async fn cancelled(&self) {
        self.guard.cancelled().await;
    }

    async fn create(
        state: &AppState,
        user: &User,
        meta: &Meta,
        path: &RemotePath,
    ) -> Result<Self, ServerError> {
        state.storage.check_storable(&user.name, path)?;
        let mut record = UploadRecord::new(user, Protocol::Galileo);
        record.path = Some(path.as_str().to_owned());
        record.length = Some(meta.size);
        record.sha1 = meta.hash.as_ref().and_then(sha1_of);
        record.mtime = meta.mtime;
        record.expires_at = Some(expiry(state));
        let guard = state.locks.acquire(&record.id).await;
        let data = state.storage.upload_path(&record.id);
        let file = blocking(move || {
            fs::OpenOptions::new()
                .read(true)
                .write(true)
                .create_new(true)
                .open(&data)
                .map_err(|e| ServerError::io("creating an upload's data file", e))
        })
        .await?;
        let (stored, config) = (record.clone(), std::sync::Arc::clone(&state.config));
        let inserted = state
            .db
            .call(move |conn| {
                crate::limits::check_new_upload(conn, &config, stored.user_id, stored.length)?;
                stored.insert(conn)
            })
            .await;
        if let Err(err) = inserted {
            // Not under the writer: the data file goes after the refusal.
            let (storage, id) = (state.storage.clone(), record.id.clone());
            let _ = blocking(move || UploadRecord::remove_data(&storage, &id)).await;
            return Err(err);
        }
        state.metrics.started(Protocol::Galileo);
        tracing::debug!(upload = %record.id, path = %path.as_str(), size = meta.size, "GalileoSend upload created");
        Ok(Self {
            record,
            file: Some(file),
            guard,
        })
    }

    async fn resume(
        state: &AppState,
        user: &User,
        meta: &Meta,
        path: &RemotePath,
        id: &str,
    ) -> Result<Self, Refusal> {
        if !uploads::is_valid_id(id) {
            return Err(Refusal::unknown(id));
        }
        let lookup = |state: &AppState| {
            let (id, user_id) = (id.to_owned(), user.id);
            let db = state.db.clone();
            async move {
                db.read(move |conn| UploadRecord::get(conn, &id, user_id))
                    .await
            }
        };
        // Check before taking the lock, so a client cannot cancel an upload that is not its
        // own or not this file's; and again after, as the holder may have moved it on.
        match lookup(state).await? {
            Some(record) if resumable(&record, meta, path) => {}
            _ => return Err(Refusal::unknown(id)),
        }
        let guard = state.locks.acquire(id).await;
        // An earlier session's acknowledged offset becomes the database's; if it cannot be
        // made durable, the last checkpoint is where the upload goes on.
        if let Err(err) = state.progress.settle(&state.db, &state.storage, id).await {
            tracing::warn!(upload = %id, error = %err, "resuming from the last checkpoint");
        }
        let mut record = match lookup(state).await? {
            Some(record) if resumable(&record, meta, path) => record,
            _ => return Err(Refusal::unknown(id)),
        };
        let data = state.storage.upload_path(id);
        let received = record.received;
        let complete = record.is_complete();
        let opened = blocking(move || {
            let file = match fs::OpenOptions::new().read(true).write(true).open(&data) {
                Ok(file) => file,
                // Every byte was in and the file was moved into place when the server
                // stopped, before it was listed: `finished` lists it (uploads::finish).
                Err(e) if e.kind() == std::io::ErrorKind::NotFound && complete => {
                    return Ok(Some((None, received)));
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
                Err(e) => return Err(ServerError::io("opening an upload's data file", e)),
            };
            let len = file
                .metadata()
                .map_err(|e| ServerError::io("reading an upload's data file", e))?
                .len();
            // Bytes past `received` were never acknowledged: cut them off. A file shorter
            // than `received` (it should not be) is trusted only as far as it goes.
            let held = len.min(received);
            if len > held {
                file.set_len(held)
                    .map_err(|e| ServerError::io("truncating an upload's data file", e))?;
            }
            Ok(Some((Some(file), held)))
        })
        .await?;
        let Some((file, held)) = opened else {
            return Err(Refusal::unknown(id));
        };
        record.received = held;
        record.expires_at = Some(expiry(state));
        let stored = record.clone();
        state
            .db
            .call(move |conn| stored.save_progress(conn))
            .await?;
        tracing::debug!(upload = %id, offset = held, "GalileoSend upload resumed");
        Ok(Self {
            record,
            file,
            guard,
        })
    }

    /// Writes `bytes` at `offset` and acknowledges them (a checkpoint flushes them, then
    /// saves `received`, within the window). Only after this may the chunk be acknowledged
    /// to the client. On failure nothing is counted and the upload stays resumable at its
    /// last acknowledged offset.
    pub(super) async fn store_chunk(
        &mut self,
        state: &AppState,
        offset: u64,
        bytes: Bytes,
    ) -> Result<(), ServerError> {
        let mut file = self
            .file
            .take()
            .ok_or_else(|| ServerError::Internal("an upload's data file is gone".into()))?;
        let id = self.record.id.clone();
        // The whole-file sha1 goes along when it covers every byte before this chunk.
        let mut whole = state.hashes.take(&id, offset);
        if let Some(whole) = &mut whole {
            whole.update(&bytes);
        }
        let (file, written) = tokio::task::spawn_blocking(move || {
            let written = file
                .seek(SeekFrom::Start(offset))
                .and_then(|_| file.write_all(&bytes))
                .map_err(|e| ServerError::io(format!("writing upload {id} at byte {offset}"), e));
            (file, written.map(|()| offset + bytes.len() as u64))
        })
        .await
        .map_err(|e| ServerError::Internal(format!("a storage task failed: {e}")))?;
        self.file = Some(file);
        let mut record = self.record.clone();
        record.received = written?;
        state
            .metrics
            .received(Protocol::Galileo, record.received - offset);
        if let Some(whole) = whole {
            state.hashes.put(&record.id, record.received, whole);
        }
        record.expires_at = Some(expiry(state));
        state
            .progress
            .acknowledge(
                &state.db,
                &state.storage,
                &record,
                self.record.received,
                false,
            )
            .await?;
        self.record = record;
        Ok(())
    }

    /// Verifies the whole file against `hash` (from `finished`; else the metadata's sha1,
    /// if any) and publishes it. A mismatch resets the upload to byte 0
    /// ([`ServerError::HashMismatch`]). A hash of a type this server does not know cannot
    /// be verified: the upload completes on the size check, as the protocol allows.
    pub(super) async fn finish(
        mut self,
        state: &AppState,
        user: &User,
        hash: Option<Hash>,
    ) -> Result<(), ServerError> {
        drop(self.file.take());
        let mut also = None;
        if let Some(hash) = hash {
            match hash.kind.parse::<ChecksumAlgorithm>() {
                Ok(ChecksumAlgorithm::Sha1) => self.record.sha1 = sha1_of(&hash),
                // A digest that is not valid hex matches nothing: it fails like a wrong one.
                Ok(algorithm) => {
                    also = Some(
                        Checksum::from_hex(algorithm, &hash.value).unwrap_or(Checksum {
                            algorithm,
                            digest: Vec::new(),
                        }),
                    );
                }
                Err(_) => tracing::warn!(
                    upload = %self.record.id,
                    kind = %hash.kind,
                    "cannot verify a hash of this type; completing on the size check"
                ),
            }
        }
        state
            .progress
            .settle(&state.db, &state.storage, &self.record.id)
            .await?;
        let known = state.hashes.finished(&self.record.id, self.record.received);
        let finished =
            uploads::finish(&state.db, &state.storage, user, self.record, known, also).await;
        state.metrics.finished(Protocol::Galileo, finished.is_ok());
        let (_, entry) = finished?;
        tracing::info!(path = %entry.path, size = entry.size, "GalileoSend upload finished");
        drop(self.guard);
        Ok(())
    }
}

/// Whether `record` is an unfinished, unexpired GalileoSend upload of the file `meta`
/// describes (same size, same path, and no conflicting sha1).
fn resumable(record: &UploadRecord, meta: &Meta, path: &RemotePath) -> bool {
    let same_hash = match (&record.sha1, meta.hash.as_ref().and_then(sha1_of)) {
        (Some(known), Some(sent)) => known.eq_ignore_ascii_case(&sent),
        _ => true,
    };
    let expired = record
        .expires_at
        .is_some_and(|at| at < unix(SystemTime::now()));
    record.protocol == Protocol::Galileo
        && record.completed_at.is_none()
        && !expired
        && record.length == Some(meta.size)
        && record.path.as_deref() == Some(path.as_str())
        && same_hash
}
