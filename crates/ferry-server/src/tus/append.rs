//! PATCH: a body streamed to `DIR/uploads/ID` at the acknowledged offset, hashed on the way
//! when `Upload-Checksum` came, then acknowledged (written; flushed and recorded by the next
//! checkpoint, within a bounded window: `uploads::progress`), and the upload finished, durably,
//! when its last byte arrived. Creation-with-upload streams its body the same way.
//!
//! The acknowledged offset is the truth while the server runs, the database's after a
//! restart: the data file is cut back to it before a write and after any refused or
//! unverifiable body, so bytes are never counted that were not written whole, nor kept when
//! their checksum could not be checked. Knows nothing of routes.

use std::io::SeekFrom;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Path, State};
use axum::response::Response;
use ferry_proto::checksum::Checksum;
use ferry_proto::tus::server::{AppendPlan, Rejection, parse_append, verify_chunk};
use futures_util::StreamExt;
use http::{HeaderMap, StatusCode};
use tokio::fs::File;
use tokio::io::{AsyncSeekExt, AsyncWriteExt};

use super::{Failure, answer, checked_id, concat, expiry, info_of, load};
use crate::AppState;
use crate::accounts::{Token, User, user_for_token};
use crate::auth::Authenticated;
use crate::error::ServerError;
use crate::limits;
use crate::locks::UploadGuard;
use crate::metrics::Protocol;
use crate::sessions::SessionGuard;
use crate::uploads::{ConcatRole, UploadRecord};

/// PATCH on an upload. Ownership is checked before the upload's lock is taken (taking it
/// stops the request holding it), so another user's PATCH cannot cut a running one.
pub(super) async fn patch(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, Failure> {
    let append = parse_append(&headers, &state.tus)?;
    let id = checked_id(&id)?.to_owned();
    let owned = load(&state, &id, auth.user.id).await?;
    if let Some(length) = append.length {
        let (config, user_id, id) = (Arc::clone(&state.config), auth.user.id, id.clone());
        if owned.length.is_none() {
            state
                .db
                .read(move |conn| limits::check_quota(conn, &config, user_id, &id, length))
                .await?;
        }
    }
    let session = state.sessions.register(&auth.token);
    let guard = state.locks.acquire(&id).await;
    let record = load(&state, &id, auth.user.id).await?;
    let mut plan = info_of(&record).check_append(&append, &state.tus)?;
    cap_to_quota(&state, &record, &mut plan).await?;
    if record.completed_at.is_some() {
        // Finished and moved into place: only an empty PATCH at the end passes the checks
        // above, and there is nothing left to do for it.
        return Ok(answer(info_of(&record).append_response()));
    }
    if record.is_complete() {
        // Every byte is in but the upload is not published yet (it failed, or the server
        // stopped in between): an empty PATCH at the end publishes it. Its data file is
        // never opened for writing here, so it cannot be re-created or zero-filled.
        let record = completed(&state, &auth.user, record).await?;
        drop(guard);
        return Ok(answer(info_of(&record).append_response()));
    }
    // The body is read by a task of its own: when the client's connection drops, the
    // server may drop this handler, but the bytes received must still be committed.
    let user = auth.user;
    let token = auth.token;
    let task = tokio::spawn(async move {
        let mut record = record;
        let received = receive(
            &state,
            &mut record,
            plan,
            append.checksum,
            body,
            &guard,
            &session,
        )
        .await?;
        if !still_signed_in(&state, &session, &token).await? {
            return Err(signed_out());
        }
        if received == Received::Interrupted {
            return Err(Failure::Rejected(Rejection::new(
                StatusCode::CONFLICT,
                "the body did not arrive whole or a newer request took over this upload; \
                 ask HEAD for the offset",
            )));
        }
        if record.is_complete() {
            record = completed(&state, &user, record).await?;
        }
        drop(guard);
        Ok(answer(info_of(&record).append_response()))
    });
    task.await
        .map_err(|e| ServerError::Internal(format!("the upload task failed: {e}")))?
}

/// With a quota, a body of an upload whose length is still deferred may carry only what
/// is left of it (the declared lengths of other uploads were checked when declared).
pub(super) async fn cap_to_quota(
    state: &AppState,
    record: &UploadRecord,
    plan: &mut AppendPlan,
) -> Result<(), ServerError> {
    if state.config.quota.is_none() || record.length.is_some() || plan.new_length.is_some() {
        return Ok(());
    }
    let (config, user_id, id) = (Arc::clone(&state.config), record.user_id, record.id.clone());
    let used = state
        .db
        .read(move |conn| limits::usage(conn, user_id, &id))
        .await?;
    let left = config
        .quota
        .unwrap_or(u64::MAX)
        .saturating_sub(used)
        .saturating_sub(record.received);
    plan.max_bytes = Some(plan.max_bytes.map_or(left, |max| max.min(left)));
    Ok(())
}

/// Whether the token of a running upload is still valid: revoked here (the session says so
/// at once) or by another process (the database says so before the session watcher does).
pub(super) async fn still_signed_in(
    state: &AppState,
    session: &SessionGuard,
    token: &Token,
) -> Result<bool, ServerError> {
    if session.is_revoked() {
        return Ok(false);
    }
    let token = token.clone();
    let user = state
        .db
        .read(move |conn| user_for_token(conn, &token))
        .await?;
    Ok(user.is_some())
}

/// The answer to a request whose token was revoked while it ran.
pub(super) fn signed_out() -> Failure {
    ServerError::Unauthorized.into()
}

/// How a body ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Received {
    /// Every byte arrived (and matched its checksum); they are committed.
    Whole,
    /// The connection broke or a newer request took over: bytes are committed only when no
    /// checksum came (they cannot be verified otherwise).
    Interrupted,
}

enum End {
    Whole,
    Interrupted,
    TooLong,
}

/// Streams `body` into the upload at its committed offset and commits what may be kept.
/// Refusals (460, 413) and write failures (507 for a full disk) leave the upload at the
/// offset it had.
pub(super) async fn receive(
    state: &AppState,
    record: &mut UploadRecord,
    plan: AppendPlan,
    checksum: Option<Checksum>,
    body: Body,
    guard: &UploadGuard,
    session: &SessionGuard,
) -> Result<Received, Failure> {
    let mut file = open_at_committed(state, record).await?;
    let _receiving = state.metrics.session(Protocol::Tus);
    let start = record.received;
    let io = |what: &str, e| ServerError::io(format!("{what} upload {}", record.id), e);

    let mut hasher = checksum.as_ref().map(|c| c.algorithm.hasher());
    // The whole-file sha1, kept up while the bytes stream when it covers all before them.
    let mut whole = state.hashes.take(&record.id, start);
    let mut written = 0u64;
    let mut flusher = Flusher::new(&file).await;
    let mut stream = body.into_data_stream();
    let idle = state.config.idle_timeout;
    let end = loop {
        let Some(next) = next_piece(&mut stream, guard, session, idle).await else {
            tracing::debug!(upload = %record.id, "request body stopped or idle too long; cut");
            break End::Interrupted;
        };
        let bytes = match next {
            None => break End::Whole,
            Some(Err(err)) => {
                tracing::debug!(upload = %record.id, error = %err, "request body broke off");
                break End::Interrupted;
            }
            Some(Ok(bytes)) => bytes,
        };
        let len = bytes.len() as u64;
        if plan.max_bytes.is_some_and(|max| written + len > max) {
            break End::TooLong;
        }
        if let Err(e) = file.write_all(&bytes).await {
            cut_back(&file, start, &record.id).await;
            return Err(io("writing", e).into());
        }
        if let Some(hasher) = &mut hasher {
            hasher.update(&bytes);
        }
        if let Some(whole) = &mut whole {
            whole.update(&bytes);
        }
        written += len;
        state.metrics.received(Protocol::Tus, len);
        flusher.wrote(len);
    };
    if let Err(e) = file.flush().await {
        cut_back(&file, start, &record.id).await;
        return Err(io("writing", e).into());
    }
    let keep = match (&end, checksum) {
        (End::TooLong, _) => {
            cut_back(&file, start, &record.id).await;
            return Err(Rejection::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!(
                    "the body is longer than the {} bytes the upload can take at offset {start}; nothing was kept",
                    plan.max_bytes.unwrap_or_default()
                ),
            )
            .into());
        }
        (End::Whole, Some(expected)) => {
            let computed = hasher.map(ferry_proto::checksum::Hasher::finish);
            if let Err(rejection) = computed
                .as_ref()
                .map_or(Ok(()), |c| verify_chunk(&expected, c))
            {
                cut_back(&file, start, &record.id).await;
                return Err(rejection.into());
            }
            true
        }
        (End::Interrupted, Some(_)) => false,
        (End::Whole | End::Interrupted, None) => true,
    };
    if keep {
        commit(state, record, start + written, plan.new_length).await?;
        if let Some(whole) = whole {
            state.hashes.put(&record.id, record.received, whole);
        }
    } else {
        cut_back(&file, start, &record.id).await;
    }
    Ok(match end {
        End::Whole => Received::Whole,
        _ => Received::Interrupted,
    })
}

/// The next piece of a body; `None` when the request must stop here: a newer request took
/// the upload over, its token was revoked, or nothing arrived for `idle`.
async fn next_piece(
    stream: &mut axum::body::BodyDataStream,
    guard: &UploadGuard,
    session: &SessionGuard,
    idle: std::time::Duration,
) -> Option<Option<Result<bytes::Bytes, axum::Error>>> {
    tokio::select! {
        biased;
        () = guard.cancelled() => None,
        () = session.revoked() => None,
        next = tokio::time::timeout(idle, stream.next()) => next.ok(),
    }
}

/// Flushes written data to disk in the background while a body streams, so that the next
/// checkpoint finds little left to write: the disk works while the network does. Only an
/// accelerator; the checkpoint's own flush is what makes bytes durable.
struct Flusher {
    file: Option<std::fs::File>,
    since: u64,
    running: Option<tokio::task::JoinHandle<()>>,
}

impl Flusher {
    /// Start a background flush after this many new bytes.
    const EVERY: u64 = 4 << 20;

    async fn new(file: &File) -> Self {
        let file = match file.try_clone().await {
            Ok(clone) => Some(clone.into_std().await),
            Err(_) => None,
        };
        Self {
            file,
            since: 0,
            running: None,
        }
    }

    fn wrote(&mut self, bytes: u64) {
        self.since += bytes;
        if self.since < Self::EVERY || self.running.as_ref().is_some_and(|t| !t.is_finished()) {
            return;
        }
        let Some(file) = self.file.as_ref().and_then(|f| f.try_clone().ok()) else {
            return;
        };
        self.since = 0;
        self.running = Some(tokio::task::spawn_blocking(move || {
            // An error here shows again, and is reported, at the commit's own flush.
            let _ = file.sync_data();
        }));
    }
}

/// Acknowledges the new offset (and a length declared now) and the new expiry: the bytes
/// are written, and the next checkpoint flushes them, then records the offset, in that
/// order, so a recorded offset never names bytes a crash can lose.
async fn commit(
    state: &AppState,
    record: &mut UploadRecord,
    received: u64,
    new_length: Option<u64>,
) -> Result<(), Failure> {
    if received == record.received && new_length.is_none() {
        return Ok(());
    }
    let mut updated = record.clone();
    updated.received = received;
    updated.length = new_length.or(record.length);
    updated.expires_at = Some(expiry(state));
    state
        .progress
        .acknowledge(
            &state.db,
            &state.storage,
            &updated,
            record.received,
            new_length.is_some(),
        )
        .await?;
    *record = updated;
    Ok(())
}

/// The upload's data file, cut back to and positioned at the committed offset (bytes past
/// it were never committed: a crash between write and commit). Only an upload with no byte
/// yet may have its data file created: a missing file past byte 0 would come back as zeros.
async fn open_at_committed(state: &AppState, record: &mut UploadRecord) -> Result<File, Failure> {
    let start = record.received;
    let id = record.id.clone();
    let io = |what: &str, e| ServerError::io(format!("{what} upload {id}"), e);
    let opened = tokio::fs::OpenOptions::new()
        .write(true)
        .create(start == 0)
        .truncate(false)
        .open(state.storage.upload_path(&record.id))
        .await;
    let mut file = match opened {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            lost_bytes(state, record).await?;
            return Err(Rejection::new(
                StatusCode::CONFLICT,
                "the server no longer has this upload's bytes; it starts again at offset 0 (ask HEAD)",
            )
            .into());
        }
        Err(e) => return Err(io("opening", e).into()),
    };
    file.set_len(start).await.map_err(|e| io("preparing", e))?;
    file.seek(SeekFrom::Start(start))
        .await
        .map_err(|e| io("preparing", e))?;
    Ok(file)
}

/// The data file of an upload that had bytes is gone (removed by hand, or a disk that lost
/// it): the upload starts again at byte 0, with an empty data file, rather than look
/// complete or be filled with zeros.
async fn lost_bytes(state: &AppState, record: &mut UploadRecord) -> Result<(), Failure> {
    tracing::warn!(upload = %record.id, received = record.received, "an upload's data file is missing; it starts again at 0");
    state.progress.discard(&record.id).await;
    let path = state.storage.upload_path(&record.id);
    tokio::fs::File::create(&path)
        .await
        .map_err(|e| ServerError::io(format!("re-creating upload {}", record.id), e))?;
    state.hashes.forget(&record.id);
    record.received = 0;
    let saved = record.clone();
    state.db.call(move |conn| saved.save_progress(conn)).await?;
    Ok(())
}

/// Cuts the data file back to the committed offset (bytes that must not be kept).
async fn cut_back(file: &File, offset: u64, id: &str) {
    if let Err(err) = file.set_len(offset).await {
        // The next write cuts it back again before appending.
        tracing::warn!(upload = %id, error = %err, "could not discard uncommitted bytes");
    }
}

/// What happens when an upload's last byte arrived: a partial one may complete a final
/// upload waiting for it; any other is verified and moved into place.
pub(super) async fn completed(
    state: &AppState,
    user: &User,
    record: UploadRecord,
) -> Result<UploadRecord, Failure> {
    // Joining and finishing read and write the database's offset: it must be this one.
    state
        .progress
        .settle(&state.db, &state.storage, &record.id)
        .await?;
    match record.concat {
        Some(ConcatRole::Partial) => {
            concat::partial_completed(state, user, &record.id).await;
            Ok(record)
        }
        _ => finish(state, user, record).await,
    }
}

/// Verifies the announced sha1, moves the file to `DIR/files/USER/PATH` and lists it. A
/// sha1 mismatch resets the upload to byte 0 and answers 460.
pub(super) async fn finish(
    state: &AppState,
    user: &User,
    record: UploadRecord,
) -> Result<UploadRecord, Failure> {
    let known = state.hashes.finished(&record.id, record.received);
    let finished =
        crate::uploads::finish(&state.db, &state.storage, user, record, known, None).await;
    state.metrics.finished(Protocol::Tus, finished.is_ok());
    let (record, entry) = finished?;
    tracing::info!(path = %entry.path, size = entry.size, "upload finished");
    tracing::debug!(upload = %record.id, "upload finished");
    Ok(record)
}
