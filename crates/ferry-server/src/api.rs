//! The JSON API: `/healthz`, `/api/v1/info`, `/api/v1/login`, `/api/v1/logout`,
//! `/api/v1/files` (`?prefix=` lists, `?path=` finds one file: how clients verify) and
//! `POST /api/v1/files/copy` (copy by content, a Ferry extension). Knows nothing of the
//! upload protocols beyond what `info` announces.

use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, DefaultBodyLimit, Query, State};
use axum::routing::{get, post};
use axum::{Json, Router};
use ferry_proto::tus::Extension;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::AppState;
use crate::accounts::{
    MAX_PASSWORD_BYTES, MAX_SIGN_IN_NAME_BYTES, issue_token, password_hash_of, revoke_token,
    validate_user_name,
};
use crate::auth::Authenticated;
use crate::config::MAX_JSON_BYTES;
use crate::error::ServerError;
use crate::uploads::{CopyRequest, FileEntry, copy_by_content, find_file, list_files};

/// The API's routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/api/v1/info", get(info))
        .route("/api/v1/login", post(login))
        .route("/api/v1/logout", post(logout))
        .route("/api/v1/files", get(files))
        .route("/api/v1/files/copy", post(copy))
        .layer(DefaultBodyLimit::max(MAX_JSON_BYTES))
}

async fn info(State(state): State<AppState>) -> Json<Value> {
    let tus = &state.tus;
    Json(json!({
        "server": "ferry-server",
        "version": env!("CARGO_PKG_VERSION"),
        // Ferry's own extensions of this API (docs/protocol/api.md).
        "extensions": ["copy-by-content"],
        "protocols": {
            "tus": {
                "endpoint": "/files/",
                "extensions": tus.extensions.iter().map(Extension::name).collect::<Vec<_>>(),
                "checksum_algorithms": tus.checksum_algorithms.iter().map(|a| a.name()).collect::<Vec<_>>(),
                "max_size": tus.max_size,
            },
            "galileo": {
                "endpoint": "/galileo",
                "chunksize": state.config.galileo_chunksize,
                "resume": true,
            },
        },
    }))
}

#[derive(Debug, Deserialize)]
struct Login {
    username: String,
    password: String,
    #[serde(default)]
    device: String,
}

#[derive(Serialize)]
struct Issued {
    token: String,
}

/// The address the sign-in limiter counts: the TCP peer, or with `--trust-proxy` the
/// right-most `X-Forwarded-For` entry, the address the trusted proxy itself saw (entries
/// left of it were written by the client and prove nothing). Without a parseable entry,
/// the peer.
pub fn client_addr(peer: SocketAddr, headers: &http::HeaderMap, trust_proxy: bool) -> IpAddr {
    if !trust_proxy {
        return peer.ip();
    }
    headers
        .get_all("x-forwarded-for")
        .iter()
        .next_back()
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.rsplit(',').next())
        .and_then(|v| v.trim().parse::<IpAddr>().ok())
        .unwrap_or_else(|| peer.ip())
}

/// `POST /api/v1/login`. Bounded whatever is sent: the body is at most `MAX_JSON_BYTES`,
/// names longer than `MAX_SIGN_IN_NAME_BYTES` are refused (400) before anything is looked
/// up or remembered, names no account can have fail at once without touching the limiter.
/// The limiter counts the attempt before the password is checked; the hash is read on a
/// reader and verified on a blocking thread (two at a time), never under the database
/// lock, and unknown users cost the same work as known ones.
async fn login(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: http::HeaderMap,
    body: Result<Json<Login>, axum::extract::rejection::JsonRejection>,
) -> Result<Json<Issued>, ServerError> {
    let Json(login) = body.map_err(|e| {
        ServerError::BadRequest(format!("expected {{username, password, device}}: {e}"))
    })?;
    if login.username.len() > MAX_SIGN_IN_NAME_BYTES || login.password.len() > MAX_PASSWORD_BYTES {
        return Err(ServerError::BadRequest(format!(
            "user names are at most {MAX_SIGN_IN_NAME_BYTES} bytes and passwords at most \
             {MAX_PASSWORD_BYTES}"
        )));
    }
    if validate_user_name(&login.username).is_err() {
        // No account has such a name: nothing to guess, nothing to remember.
        return Err(ServerError::WrongPassword);
    }
    let addr = client_addr(peer, &headers, state.config.trust_proxy);
    let reservation = state.limiter.reserve(&login.username, addr)?;
    let name = login.username.clone();
    let found = state
        .db
        .read(move |conn| password_hash_of(conn, &name))
        .await?;
    let stored = found.as_ref().map(|(_, hash)| hash.clone());
    let matches = state.limiter.verify(stored, login.password).await?;
    let user = match found {
        Some((user, _)) if matches => user,
        _ => {
            reservation.failed();
            tracing::warn!(user = %login.username, %addr, "failed sign-in");
            return Err(ServerError::WrongPassword);
        }
    };
    let device = login.device;
    let issued = user.clone();
    let token = state
        .db
        .call(move |conn| issue_token(conn, &issued, &device))
        .await?;
    reservation.succeeded();
    tracing::info!(user = %user.name, "signed in");
    Ok(Json(Issued {
        token: token.expose().to_owned(),
    }))
}

/// `POST /api/v1/logout`: revokes the token of the request, and stops its running uploads.
async fn logout(
    State(state): State<AppState>,
    auth: Authenticated,
) -> Result<Json<Value>, ServerError> {
    let token = auth.token.clone();
    state
        .db
        .call(move |conn| revoke_token(conn, &token))
        .await?;
    state.sessions.revoke(&auth.token);
    Ok(Json(json!({ "revoked": true })))
}

#[derive(Debug, Deserialize)]
struct FilesQuery {
    #[serde(default)]
    prefix: String,
    /// Exactly this path (at most one entry): how a client verifies one upload cheaply.
    path: Option<String>,
}

async fn files(
    State(state): State<AppState>,
    auth: Authenticated,
    Query(query): Query<FilesQuery>,
) -> Result<Json<Vec<FileEntry>>, ServerError> {
    let user_id = auth.user.id;
    Ok(Json(
        state
            .db
            .read(move |conn| match &query.path {
                Some(path) => Ok(find_file(conn, user_id, path)?.into_iter().collect()),
                None => list_files(conn, user_id, &query.prefix),
            })
            .await?,
    ))
}

/// `POST /api/v1/files/copy {sha1, size, path}`: copies the user's own stored file with that
/// content to `path` instead of an upload (201 with the listing entry; 404 when none of the
/// user's files has that content, so the client uploads it).
async fn copy(
    State(state): State<AppState>,
    auth: Authenticated,
    body: Result<Json<CopyRequest>, axum::extract::rejection::JsonRejection>,
) -> Result<(http::StatusCode, Json<FileEntry>), ServerError> {
    let Json(request) =
        body.map_err(|e| ServerError::BadRequest(format!("expected {{sha1, size, path}}: {e}")))?;
    let entry = copy_by_content(
        &state.db,
        &state.storage,
        &state.config,
        &auth.user,
        request,
    )
    .await?;
    tracing::info!(user = %auth.user.name, path = %entry.path, size = entry.size, "copied by content");
    Ok((http::StatusCode::CREATED, Json(entry)))
}
