//! Concatenation: partial uploads (never published on their own) joined by a final upload.
//!
//! A final upload names partial uploads of the same user. When all of them are complete
//! (at its creation, or later when the last one completes: concatenation-unfinished) their
//! bytes are copied in order into the final upload's data file, which is then finished
//! like any other upload (sha1 check, moved into place); the partial uploads are removed
//! after that. Knows nothing of HTTP bodies.

use std::fs;
use std::io;
use std::time::Duration;

use ferry_proto::tus::server::{Rejection, upload_id_from_url};
use http::StatusCode;

use super::append::finish;
use super::{ENDPOINT_PATH, Failure, checked_id, load};
use crate::AppState;
use crate::accounts::User;
use crate::error::ServerError;
use crate::storage::Storage;
use crate::uploads::{ConcatRole, UploadRecord};

/// The ids of the partial uploads that `urls` (from `Upload-Concat: final;...`) name:
/// 400 for what is not a partial upload here, 404 for what this user does not have,
/// 413 when the sum of their lengths passes the server's limit.
pub(super) async fn resolve_parts(
    state: &AppState,
    user: &User,
    urls: &[String],
) -> Result<Vec<String>, Failure> {
    let mut ids: Vec<String> = Vec::with_capacity(urls.len());
    let mut total = Some(0u64);
    for url in urls {
        let id = upload_id_from_url(url, ENDPOINT_PATH).ok_or_else(|| {
            Rejection::bad_request(format!("{url:?} does not name an upload of this endpoint"))
        })?;
        if ids.iter().any(|known| known == id) {
            return Err(Rejection::bad_request(format!(
                "{url} is named twice: a final upload joins each partial upload once"
            ))
            .into());
        }
        let part = load(state, checked_id(id)?, user.id).await?;
        if part.concat != Some(ConcatRole::Partial) {
            return Err(Rejection::bad_request(format!(
                "{url} is not a partial upload (create it with Upload-Concat: partial)"
            ))
            .into());
        }
        total = total
            .zip(part.length)
            .map(|(sum, len)| sum.saturating_add(len));
        ids.push(part.id);
    }
    if let (Some(total), Some(max)) = (total, state.tus.max_size)
        && total > max
    {
        return Err(Rejection::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!(
                "the joined upload of {total} bytes exceeds this server's limit of {max} bytes"
            ),
        )
        .into());
    }
    Ok(ids)
}

/// The final upload of `user` that joins exactly the partial uploads `urls` name to `path`,
/// if one was made already (whether or not it is assembled, and even after its partial
/// uploads were removed): a final asked for again is that one.
pub(super) async fn existing_final(
    state: &AppState,
    user: &User,
    urls: &[String],
    path: Option<&str>,
) -> Result<Option<String>, Failure> {
    let mut ids = Vec::with_capacity(urls.len());
    for url in urls {
        match upload_id_from_url(url, ENDPOINT_PATH) {
            Some(id) if crate::uploads::is_valid_id(id) => ids.push(id.to_owned()),
            _ => return Ok(None),
        }
    }
    let (user_id, parts, path) = (user.id, ids.join(" "), path.map(str::to_owned));
    Ok(state
        .db
        .read(move |conn| UploadRecord::final_joining(conn, user_id, &parts, path.as_deref()))
        .await?)
}

/// How long a final's POST waits for the joining before it answers that the final is not
/// complete yet (`Upload-Offset: 0`; the client asks HEAD until it is).
const JOIN_WAIT: Duration = Duration::from_secs(2);

/// [`assemble_if_ready`] in a task of its own: a client that hangs up (or times out and
/// asks again) never leaves a final half assembled. Waits for it at most [`JOIN_WAIT`], so
/// the POST of a final of any size answers within seconds: with the final as it is then
/// (joined and published, or still being joined).
pub(super) async fn assemble_in_background(
    state: &AppState,
    user: &User,
    final_id: &str,
) -> Result<UploadRecord, Failure> {
    let (state2, user2, id) = (state.clone(), user.clone(), final_id.to_owned());
    let task = tokio::spawn(async move { assemble_if_ready(&state2, &user2, &id).await });
    match tokio::time::timeout(JOIN_WAIT, task).await {
        Ok(joined) => joined
            .map_err(|e| ServerError::Internal(format!("assembling a final upload failed: {e}")))?,
        // Still joining: it goes on in its task.
        Err(_) => load(state, final_id, user.id).await,
    }
}

/// Assembles and finishes final upload `final_id` if all its partial uploads are
/// complete; returns it as it is now (still waiting, or finished).
pub(super) async fn assemble_if_ready(
    state: &AppState,
    user: &User,
    final_id: &str,
) -> Result<UploadRecord, Failure> {
    let _guard = state.locks.acquire(final_id).await;
    let mut record = load(state, final_id, user.id).await?;
    let Some(ConcatRole::Final(part_ids)) = record.concat.clone() else {
        return Ok(record);
    };
    if record.completed_at.is_some() {
        return Ok(record);
    }
    if record.length.is_some() {
        if !record.is_complete() {
            return Ok(record);
        }
        // Joined before, but not finished (the server stopped in between): finish it now.
        return finish_joined(state, user, record, &part_ids).await;
    }
    let mut parts = Vec::with_capacity(part_ids.len());
    for id in &part_ids {
        let part = load(state, id, user.id)
            .await
            .map_err(|_| Rejection::bad_request(format!("partial upload {id} no longer exists")))?;
        if !part.is_complete() {
            return Ok(record);
        }
        parts.push(part);
    }
    let total = parts
        .iter()
        .fold(0u64, |sum, p| sum.saturating_add(p.received));
    if let Some(max) = state.tus.max_size
        && total > max
    {
        // Partial uploads of deferred length are only now known to be too large together:
        // the final is dropped (its HEAD answers 404), the parts stay.
        remove_upload(state, final_id).await?;
        return Err(ServerError::TooLarge { size: total, max }.into());
    }
    let storage = state.storage.clone();
    let (target, sources) = (record.id.clone(), part_ids.clone());
    let length = tokio::task::spawn_blocking(move || join_files(&storage, &target, &sources))
        .await
        .map_err(|e| ServerError::Internal(format!("joining partial uploads failed: {e}")))?
        .map_err(|e| ServerError::io(format!("joining partial uploads into {final_id}"), e))?;
    record.length = Some(length);
    record.received = length;
    let saved = record.clone();
    state.db.call(move |conn| saved.save_progress(conn)).await?;
    finish_joined(state, user, record, &part_ids).await
}

/// Finishes a joined final upload like any other (sha1 check, moved into place), then
/// removes its partial uploads; a failure drops the final and keeps the parts.
async fn finish_joined(
    state: &AppState,
    user: &User,
    record: UploadRecord,
    part_ids: &[String],
) -> Result<UploadRecord, Failure> {
    let final_id = record.id.clone();
    match finish(state, user, record).await {
        Ok(record) => {
            remove_parts(state, part_ids).await;
            Ok(record)
        }
        Err(err) => {
            // A final upload cannot be sent again byte by byte: drop it, keep the parts,
            // so the client can try another final upload (or start over).
            remove_upload(state, &final_id).await?;
            Err(err)
        }
    }
}

/// Copies the partial uploads' bytes, in order, into the final upload's data file and
/// flushes it; returns its length. Blocking.
fn join_files(storage: &Storage, target: &str, sources: &[String]) -> io::Result<u64> {
    let mut out = fs::File::create(storage.upload_path(target))?;
    let mut total = 0;
    for source in sources {
        let mut input = fs::File::open(storage.upload_path(source))?;
        // std::io::copy streams in pieces (and uses copy_file_range where it can).
        total += io::copy(&mut input, &mut out)?;
    }
    out.sync_data()?;
    Ok(total)
}

async fn remove_parts(state: &AppState, ids: &[String]) {
    for id in ids {
        state.hashes.forget(id);
        if let Err(err) = remove_upload(state, id).await {
            tracing::warn!(upload = %id, error = %err, "could not remove a joined partial upload");
        }
    }
}

/// Removes an upload: its record under the database writer, then its data file without it.
async fn remove_upload(state: &AppState, id: &str) -> Result<(), ServerError> {
    let id2 = id.to_owned();
    state
        .db
        .call(move |conn| UploadRecord::delete_record(conn, &id2))
        .await?;
    let (storage, id) = (state.storage.clone(), id.to_owned());
    tokio::task::spawn_blocking(move || UploadRecord::remove_data(&storage, &id))
        .await
        .map_err(|e| ServerError::Internal(format!("removing an upload's data failed: {e}")))?
}

/// A partial upload of `user` just completed: assembles the final uploads that were
/// waiting for it (concatenation-unfinished). Failures are the final upload's, not this
/// request's: they are logged, and the final upload's HEAD tells the client.
pub(super) async fn partial_completed(state: &AppState, user: &User, partial_id: &str) {
    let (user_id, id) = (user.id, partial_id.to_owned());
    let waiting = match state
        .db
        .call(move |conn| UploadRecord::finals_waiting_for(conn, user_id, &id))
        .await
    {
        Ok(waiting) => waiting,
        Err(err) => {
            tracing::warn!(upload = %partial_id, error = %err, "could not look for final uploads");
            return;
        }
    };
    for final_id in waiting {
        if let Err(err) = assemble_if_ready(state, user, &final_id).await {
            tracing::warn!(upload = %final_id, error = ?err, "could not assemble a final upload");
        }
    }
}
