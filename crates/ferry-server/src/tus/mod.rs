//! tus 1.0.0 at `/files/`: core, creation (with upload, deferred length), expiration,
//! checksum, termination, concatenation (also unfinished), and CORS for browser clients.
//!
//! The handlers drive ferry-proto's server helpers (`ferry_proto::tus::server`) for every
//! protocol decision and keep only what a real server adds: accounts, the database, files
//! on disk, the per-upload locks. Knows nothing of GalileoSend.
//!
//! # Layout
//! - this module: routes, CORS, and what every handler shares (answers, loading records).
//! - `create`: POST, creation and creation-with-upload.
//! - `append`: PATCH, streaming a body to disk and committing it; finishing an upload.
//! - `concat`: partial and final uploads, and assembling a final one.
//! - `status`: OPTIONS, HEAD, DELETE, and `X-HTTP-Method-Override`.
//! - `cors`: CORS that leaves tus discovery (OPTIONS) to the routes.

mod append;
mod concat;
mod cors;
mod create;
mod status;

use std::time::SystemTime;

use axum::Router;
use axum::response::{IntoResponse, Response};
use axum::routing::{head, options};
use ferry_proto::tus::Concat;
use ferry_proto::tus::headers::{TUS_RESUMABLE, TUS_VERSION, UPLOAD_METADATA};
use ferry_proto::tus::metadata::Metadata;
use ferry_proto::tus::server::{Rejection, UploadInfo};
use http::{HeaderValue, StatusCode};

pub use self::cors::{TusCors, TusCorsService};

use crate::AppState;
use crate::error::ServerError;
use crate::uploads::{ConcatRole, UploadRecord, from_unix, is_valid_id};

/// Where the endpoint lives.
pub const ENDPOINT_PATH: &str = "/files/";

/// The tus routes. Every answer carries `Tus-Resumable`, errors and 405s included.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/files/", options(status::discover).post(create::create))
        .route("/files", options(status::discover).post(create::create))
        .route(
            "/files/{id}",
            head(status::head)
                .patch(append::patch)
                .delete(status::terminate)
                .options(status::discover)
                .post(status::method_override),
        )
        .layer(axum::middleware::map_response(with_tus_resumable))
}

async fn with_tus_resumable(mut response: Response) -> Response {
    response
        .headers_mut()
        .entry(TUS_RESUMABLE)
        .or_insert(HeaderValue::from_static(TUS_VERSION));
    response
}

/// CORS for browser clients (tus-js-client, Uppy): any origin, the tus methods and
/// headers, and the tus answer headers exposed to scripts; OPTIONS without a preflight's
/// headers still reaches tus discovery.
pub fn cors() -> TusCors {
    TusCors::default()
}

/// Why a tus request failed: a refusal the protocol prescribes, or a server-side error.
#[derive(Debug)]
pub(crate) enum Failure {
    /// Refused by the protocol helpers (4xx with a message).
    Rejected(Rejection),
    /// A server error (its status and message come from [`ServerError`]).
    Server(ServerError),
}

impl From<Rejection> for Failure {
    fn from(rejection: Rejection) -> Self {
        Self::Rejected(rejection)
    }
}

impl From<ServerError> for Failure {
    fn from(error: ServerError) -> Self {
        Self::Server(error)
    }
}

impl IntoResponse for Failure {
    fn into_response(self) -> Response {
        match self {
            Self::Rejected(rejection) => {
                tracing::debug!(status = %rejection.status, message = %rejection.message, "tus request refused");
                answer(rejection.into_response())
            }
            Self::Server(error) => error.into_response(),
        }
    }
}

/// An axum answer from one of ferry-proto's.
pub(crate) fn answer(response: ferry_proto::tus::Response) -> Response {
    let mut out = (response.status, response.body).into_response();
    if out.status() == StatusCode::NO_CONTENT || out.status() == StatusCode::CREATED {
        // Body-less answers; axum would still say text/plain for the empty string.
        out.headers_mut().remove(http::header::CONTENT_TYPE);
    }
    out.headers_mut().extend(response.headers);
    out
}

/// The URL of upload `id`, as `Location` and `Upload-Concat` carry it (relative, which
/// tus allows and which survives proxies that change the scheme or host).
pub(crate) fn location(id: &str) -> String {
    format!("{ENDPOINT_PATH}{id}")
}

/// A refusal for an upload that does not exist for this user.
pub(crate) fn not_found() -> Failure {
    Failure::Rejected(Rejection::new(StatusCode::NOT_FOUND, "no such upload"))
}

/// Checks the shape of an id from the URL before it gets near the database or the disk.
pub(crate) fn checked_id(id: &str) -> Result<&str, Failure> {
    if is_valid_id(id) {
        Ok(id)
    } else {
        Err(not_found())
    }
}

/// Upload `id` of user `user_id` as acknowledged (its offset may be ahead of the last
/// checkpoint); another user's upload is "not found".
pub(crate) async fn load(
    state: &AppState,
    id: &str,
    user_id: i64,
) -> Result<UploadRecord, Failure> {
    let id = id.to_owned();
    let record = state
        .db
        .read(move |conn| UploadRecord::get(conn, &id, user_id))
        .await?
        .ok_or_else(not_found)?;
    Ok(state.progress.overlay(record))
}

/// The protocol's view of a stored upload.
pub(crate) fn info_of(record: &UploadRecord) -> UploadInfo {
    UploadInfo {
        offset: record.received,
        length: record.length,
        metadata: Metadata::decode(&record.metadata).unwrap_or_default(),
        expires: record
            .expires_at
            .filter(|_| record.completed_at.is_none())
            .map(from_unix),
        concat: record.concat.as_ref().map(|role| match role {
            ConcatRole::Partial => Concat::Partial,
            ConcatRole::Final(ids) => Concat::Final(ids.iter().map(|id| location(id)).collect()),
        }),
    }
}

/// Puts the `Upload-Metadata` exactly as the client sent it on an answer.
pub(crate) fn with_raw_metadata(mut response: Response, record: &UploadRecord) -> Response {
    if let Ok(value) = HeaderValue::from_str(&record.metadata)
        && !record.metadata.is_empty()
    {
        response.headers_mut().insert(UPLOAD_METADATA, value);
    }
    response
}

/// When an upload changed now expires (unix seconds).
pub(crate) fn expiry(state: &AppState) -> i64 {
    crate::uploads::unix(SystemTime::now() + state.config.expire_after)
}
