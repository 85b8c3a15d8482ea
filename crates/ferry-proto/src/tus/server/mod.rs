//! Server-side tus 1.0.0: request validation and the answers a server gives.
//!
//! The same header codecs as the client, used the other way round. A server parses a
//! request with [`parse_creation`] or [`parse_append`], checks it against the stored upload
//! with [`UploadInfo::check_append`], streams the body itself (hashing it while it streams
//! when `Upload-Checksum` is present, see [`verify_chunk`]), and answers with the
//! [`Response`] these helpers build. Every refusal is a [`Rejection`] with the status the
//! protocol prescribes and a message for the person reading logs.
//!
//! Knows nothing of storage, locking, accounts or the HTTP framework.
//!
//! # Layout
//! - this module: what the server offers ([`ServerConfig`]), refusals ([`Rejection`]) and
//!   the version check every request but OPTIONS passes.
//! - `request`: parsing and validating creation (POST) and append (PATCH) requests.
//! - `upload`: a stored upload as the protocol sees it, checks against it, and answers.

mod request;
mod upload;

use http::header::CONTENT_TYPE;
use http::{HeaderMap, StatusCode};

pub use self::request::{Append, Creation, parse_append, parse_creation};
pub use self::upload::{
    AppendPlan, UploadInfo, terminated_response, upload_id_from_url, verify_chunk,
};
use super::capabilities::Capabilities;
use super::headers::{
    Extension, TUS_CHECKSUM_ALGORITHM, TUS_EXTENSION, TUS_MAX_SIZE, TUS_RESUMABLE, TUS_VERSION,
    TUS_VERSION_HEADER, header_str,
};
use super::message::Response;
use crate::checksum::ChecksumAlgorithm;

/// The status tus prescribes for a checksum mismatch.
pub const CHECKSUM_MISMATCH: StatusCode = match StatusCode::from_u16(460) {
    Ok(status) => status,
    Err(_) => panic!("460 is a valid status code"),
};

/// What a server offers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerConfig {
    /// Extensions announced and accepted.
    pub extensions: Vec<Extension>,
    /// Checksum algorithms accepted in `Upload-Checksum`.
    pub checksum_algorithms: Vec<ChecksumAlgorithm>,
    /// The largest upload accepted, if limited.
    pub max_size: Option<u64>,
}

impl ServerConfig {
    /// Every extension ferry-server implements, with sha1, sha256 and md5 checksums.
    pub fn complete(max_size: Option<u64>) -> Self {
        Self {
            extensions: vec![
                Extension::Creation,
                Extension::CreationWithUpload,
                Extension::CreationDeferLength,
                Extension::Expiration,
                Extension::Checksum,
                Extension::Termination,
                Extension::Concatenation,
                Extension::ConcatenationUnfinished,
            ],
            checksum_algorithms: ChecksumAlgorithm::ALL.to_vec(),
            max_size,
        }
    }

    /// Whether `extension` is offered.
    pub fn supports(&self, extension: &Extension) -> bool {
        self.extensions.contains(extension)
    }

    /// The same offer as a client sees it.
    pub fn capabilities(&self) -> Capabilities {
        Capabilities::new(
            self.extensions.clone(),
            self.checksum_algorithms.clone(),
            self.max_size,
        )
    }

    /// The answer to OPTIONS (204 with the discovery headers).
    pub fn options_response(&self) -> Response {
        let mut response = Response::new(StatusCode::NO_CONTENT)
            .with_header(TUS_RESUMABLE, TUS_VERSION)
            .with_header(TUS_VERSION_HEADER, TUS_VERSION);
        if !self.extensions.is_empty() {
            let names: Vec<&str> = self.extensions.iter().map(Extension::name).collect();
            response = response.with_header(TUS_EXTENSION, names.join(","));
        }
        if let Some(max) = self.max_size {
            response = response.with_header(TUS_MAX_SIZE, max.to_string());
        }
        if self.supports(&Extension::Checksum) && !self.checksum_algorithms.is_empty() {
            let names: Vec<&str> = self.checksum_algorithms.iter().map(|a| a.name()).collect();
            response = response.with_header(TUS_CHECKSUM_ALGORITHM, names.join(","));
        }
        response
    }
}

/// A request the server refuses, with the status tus prescribes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{status}: {message}")]
pub struct Rejection {
    /// The status to answer with.
    pub status: StatusCode,
    /// What was wrong, for the client's user and the server's log.
    pub message: String,
}

impl Rejection {
    /// A rejection with `status` and `message`.
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
        }
    }

    /// A 400 Bad Request with `message`.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }

    /// The answer: the status, `Tus-Resumable` (and `Tus-Version` for 412), the message as
    /// a plain-text body.
    pub fn into_response(self) -> Response {
        let mut response = Response::new(self.status).with_header(TUS_RESUMABLE, TUS_VERSION);
        if self.status == StatusCode::PRECONDITION_FAILED {
            response = response.with_header(TUS_VERSION_HEADER, TUS_VERSION);
        }
        response
            .with_header(CONTENT_TYPE, "text/plain; charset=utf-8")
            .with_body(self.message + "\n")
    }
}

/// Checks `Tus-Resumable`: absent or another version is 412.
pub fn check_version(headers: &HeaderMap) -> Result<(), Rejection> {
    match header_str(headers, &TUS_RESUMABLE) {
        Ok(Some(TUS_VERSION)) => Ok(()),
        Ok(Some(other)) => Err(Rejection::new(
            StatusCode::PRECONDITION_FAILED,
            format!("this server speaks tus {TUS_VERSION}, not {other:?}"),
        )),
        _ => Err(Rejection::new(
            StatusCode::PRECONDITION_FAILED,
            format!("missing Tus-Resumable header; this server speaks tus {TUS_VERSION}"),
        )),
    }
}
