//! The JSON API: `/healthz`, `/api/v1/info`, `/api/v1/login`, `/api/v1/logout`,
//! `/api/v1/files` (`?prefix=` lists, `?path=` finds one file: how clients verify). Knows nothing of the upload protocols beyond what `info` announces.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, Query, State};
use axum::routing::{get, post};
use axum::{Json, Router};
use ferry_proto::tus::Extension;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::AppState;
use crate::accounts::{check_password, issue_token, revoke_token};
use crate::auth::Authenticated;
use crate::error::ServerError;
use crate::uploads::{FileEntry, find_file, list_files};

/// The API's routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/api/v1/info", get(info))
        .route("/api/v1/login", post(login))
        .route("/api/v1/logout", post(logout))
        .route("/api/v1/files", get(files))
}

async fn info(State(state): State<AppState>) -> Json<Value> {
    let tus = &state.tus;
    Json(json!({
        "server": "ferry-server",
        "version": env!("CARGO_PKG_VERSION"),
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

async fn login(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    body: Result<Json<Login>, axum::extract::rejection::JsonRejection>,
) -> Result<Json<Issued>, ServerError> {
    let Json(login) = body.map_err(|e| {
        ServerError::BadRequest(format!("expected {{username, password, device}}: {e}"))
    })?;
    let addr = peer.ip();
    state.limiter.check(&login.username, addr)?;
    let name = login.username.clone();
    let result = state
        .db
        .call(move |conn| {
            let user = check_password(conn, &login.username, &login.password)?;
            issue_token(conn, &user, &login.device)
        })
        .await;
    match result {
        Ok(token) => {
            state.limiter.succeeded(&name, addr);
            tracing::info!(user = %name, "signed in");
            Ok(Json(Issued {
                token: token.expose().to_owned(),
            }))
        }
        Err(err @ ServerError::WrongPassword) => {
            state.limiter.failed(&name, addr);
            tracing::warn!(user = %name, %addr, "failed sign-in");
            Err(err)
        }
        Err(err) => Err(err),
    }
}

async fn logout(
    State(state): State<AppState>,
    auth: Authenticated,
) -> Result<Json<Value>, ServerError> {
    state
        .db
        .call(move |conn| revoke_token(conn, &auth.token))
        .await?;
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
            .call(move |conn| match &query.path {
                Some(path) => Ok(find_file(conn, user_id, path)?.into_iter().collect()),
                None => list_files(conn, user_id, &query.prefix),
            })
            .await?,
    ))
}
