//! The requests that change no bytes: OPTIONS (discovery, no sign-in needed), HEAD (how
//! much the server holds) and DELETE (termination); and `X-HTTP-Method-Override`, with which
//! clients behind restrictive proxies send PATCH, HEAD and DELETE as POST.

use axum::extract::{Path, Request, State};
use axum::response::{IntoResponse, Response};
use ferry_proto::tus::server::{Rejection, check_version, terminated_response};
use http::{HeaderMap, Method, StatusCode};

use super::{Failure, answer, checked_id, info_of, load, with_raw_metadata};
use crate::AppState;
use crate::auth::Authenticated;
use crate::uploads::{ConcatRole, UploadRecord};

/// OPTIONS: what the server offers. Answered to anyone, as discovery and CORS need.
pub(super) async fn discover(State(state): State<AppState>) -> Response {
    answer(state.tus.options_response())
}

/// HEAD: the committed offset, length, metadata, concatenation and expiry of an upload.
pub(super) async fn head(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, Failure> {
    check_version(&headers)?;
    let id = checked_id(&id)?;
    // Another user's upload is not found, before its lock is touched: taking the lock stops
    // the request holding it.
    let owned = load(&state, id, auth.user.id).await?;
    if matches!(owned.concat, Some(ConcatRole::Final(_))) && owned.length.is_none() {
        // A final not joined yet (its parts are not all complete, or it is being joined
        // right now, holding its lock): how far it got, without waiting for the joining.
        return Ok(with_raw_metadata(
            answer(info_of(&owned).head_response()),
            &owned,
        ));
    }
    // Newest wins: a stale PATCH still streaming stops and commits first, so the offset
    // reported here is the one a resume must start from.
    let _guard = state.locks.acquire(id).await;
    let mut record = load(&state, id, auth.user.id).await?;
    if record.is_complete() && record.completed_at.is_none() {
        // Every byte is in but the upload was not published (something was in the way, the
        // disk was full): try again now. It never looks complete before it is published;
        // a failure answers with its status (422 in the way, 507 disk full).
        record = super::append::completed(&state, &auth.user, record).await?;
    }
    Ok(with_raw_metadata(
        answer(info_of(&record).head_response()),
        &record,
    ))
}

/// DELETE: removes an upload and its bytes (termination).
pub(super) async fn terminate(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, Failure> {
    check_version(&headers)?;
    let id = checked_id(&id)?.to_owned();
    // Ownership first, as for HEAD: nobody stops another user's upload.
    load(&state, &id, auth.user.id).await?;
    let _guard = state.locks.acquire(&id).await;
    load(&state, &id, auth.user.id).await?;
    state.hashes.forget(&id);
    state.progress.discard(&id).await;
    let removed = id.clone();
    state
        .db
        .call(move |conn| UploadRecord::delete_record(conn, &removed))
        .await?;
    let storage = state.storage.clone();
    tokio::task::spawn_blocking(move || UploadRecord::remove_data(&storage, &id))
        .await
        .map_err(|e| crate::ServerError::Internal(format!("removing an upload failed: {e}")))??;
    Ok(answer(terminated_response()))
}

/// POST on an upload: a PATCH, HEAD or DELETE in disguise (`X-HTTP-Method-Override`).
pub(super) async fn method_override(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(id): Path<String>,
    request: Request,
) -> Result<Response, Failure> {
    let method = request
        .headers()
        .get("x-http-method-override")
        .and_then(|v| v.to_str().ok())
        .map(|m| m.trim().to_ascii_uppercase());
    let headers = request.headers().clone();
    match method.as_deref() {
        Some("PATCH") => {
            Ok(
                super::append::patch(State(state), auth, Path(id), headers, request.into_body())
                    .await
                    .into_response(),
            )
        }
        Some("HEAD") => head(State(state), auth, Path(id), headers).await,
        Some("DELETE") => terminate(State(state), auth, Path(id), headers).await,
        _ => Err(Rejection::new(
            StatusCode::METHOD_NOT_ALLOWED,
            format!(
                "POST is not allowed on an upload; use {} (or X-HTTP-Method-Override)",
                [Method::PATCH, Method::HEAD, Method::DELETE]
                    .map(|m| m.to_string())
                    .join(", ")
            ),
        )
        .into()),
    }
}
