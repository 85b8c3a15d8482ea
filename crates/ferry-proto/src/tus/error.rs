//! Errors of the tus client machine, each knowing whether trying again can help.
//!
//! Every server answer that breaks the protocol or refuses the upload becomes a [`TusError`]
//! with the context a person needs (request, status, offsets, the server's own message).
//! The machine has already put itself in the state from which a retry continues
//! (see [`Recovery`]); the driver only decides *when* to poll again.

use http::StatusCode;

use super::capabilities::CapabilitiesError;
use super::headers::HeaderError;
use super::message::{RequestId, RequestKind};

/// What the machine will do when polled again after an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recovery {
    /// Repeat the step after a pause (network trouble, server busy or failing).
    Retry,
    /// Ask the server how many bytes it holds (HEAD) and continue from there.
    Resync,
    /// The server's copy is unusable: start a new upload from byte 0.
    StartOver,
    /// Nothing the client can do changes the answer; the upload has failed.
    Fatal,
}

/// An error of the tus client machine.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TusError {
    /// The server refused the credentials (401).
    #[error("the server refused the sign-in for {request} (401 Unauthorized): sign in again")]
    Unauthorized {
        /// The request that was refused.
        request: RequestKind,
    },
    /// The server forbids the request (403).
    #[error("the server forbids {request} (403 Forbidden){}", detail(.message))]
    Forbidden {
        /// The request that was refused.
        request: RequestKind,
        /// The server's message, if any.
        message: Option<String>,
    },
    /// A request body was refused as too large (413) although it was already as small as
    /// Ferry makes them ([`crate::tus::client::MIN_CHUNK_SIZE`]): a body limit below that on
    /// the server or a proxy before it.
    #[error(
        "the server refuses requests of {sent} bytes (413 to {request}){}, and Ferry sends no smaller ones than {} bytes: raise the request body limit of the server or of the proxy before it (nginx: client_max_body_size)",
        detail(.message),
        crate::tus::client::MIN_CHUNK_SIZE
    )]
    RequestTooLarge {
        /// The request that was refused.
        request: RequestKind,
        /// The bytes its body carried.
        sent: u64,
        /// The server's message, if any.
        message: Option<String>,
    },
    /// The server has no room for the upload's bytes (507 Insufficient Storage). Neither
    /// permanent nor a quick retry: the bytes it confirmed stay, and the upload continues
    /// from them once space is freed.
    #[error("the server is out of space (507 to {request}){}", detail(.message))]
    ServerFull {
        /// The request that was refused.
        request: RequestKind,
        /// The server's message, if any.
        message: Option<String>,
    },
    /// The upload is larger than the server accepts (413 to a request without a body, or
    /// `Tus-Max-Size` exceeded).
    #[error("the file ({length} bytes) is larger than the server accepts{}", limit(*.max_size))]
    TooLarge {
        /// The size of the upload, if known.
        length: u64,
        /// The server's limit, if it said.
        max_size: Option<u64>,
    },
    /// The server cannot use what Ferry needs (version, extension).
    #[error("the server cannot take this upload: {0}")]
    Unsupported(String),
    /// The OPTIONS answer was unusable.
    #[error(transparent)]
    Discovery(#[from] CapabilitiesError),
    /// The server's offset differs from the request's (409 Conflict).
    #[error(
        "the server holds a different offset than the PATCH at {offset} assumed (409 Conflict); asking it again"
    )]
    OffsetConflict {
        /// The offset the request was sent at.
        offset: u64,
    },
    /// The server found that a chunk's checksum does not match (460, or 417 from some
    /// servers) and discarded the chunk.
    #[error(
        "the server found a checksum mismatch in the chunk at {offset} ({status}) and discarded it; sending it again"
    )]
    ChecksumMismatch {
        /// The offset of the refused chunk.
        offset: u64,
        /// The status the server used.
        status: StatusCode,
        /// The chunk would have completed a plain upload: a server that checks the whole
        /// file when its last byte arrives (ferry-server, with the `sha1` metadata) may
        /// have refused the file, not the chunk. Sending the same content under the same
        /// checksum again cannot pass then; the client should look at its file first.
        completes: bool,
    },
    /// The server is busy, locked or failing (423, 429, 5xx) and asks us to come back later.
    #[error("the server could not handle {request} ({status}){}; trying again later", detail(.message))]
    ServerUnavailable {
        /// The request.
        request: RequestKind,
        /// The status.
        status: StatusCode,
        /// The server's message, if any.
        message: Option<String>,
    },
    /// The server answered with a status this request cannot have.
    #[error("unexpected answer {status} to {request}{}", detail(.message))]
    UnexpectedStatus {
        /// The request.
        request: RequestKind,
        /// The status.
        status: StatusCode,
        /// The server's message, if any.
        message: Option<String>,
    },
    /// A header the protocol requires is missing from the answer.
    #[error("the server's answer to {request} lacks the {header} header")]
    MissingHeader {
        /// The request.
        request: RequestKind,
        /// The missing header.
        header: &'static str,
    },
    /// A header of the answer is malformed.
    #[error("the server's answer to {request} is malformed: {source}")]
    BadHeader {
        /// The request.
        request: RequestKind,
        /// What was wrong.
        source: HeaderError,
    },
    /// The `Location` of a new upload is not a URL.
    #[error("the server named the new upload {location:?}, which is not a URL")]
    BadLocation {
        /// The location as received.
        location: String,
    },
    /// The server reports fewer bytes than it had confirmed before.
    #[error(
        "the server now holds {reported} bytes of an upload it had confirmed up to {confirmed}; continuing from {reported}"
    )]
    OffsetWentBackwards {
        /// The offset it had confirmed.
        confirmed: u64,
        /// The offset it reports now.
        reported: u64,
    },
    /// The server acknowledged a PATCH with a body but kept none of its bytes: counted as a
    /// failed attempt, so a server that never moves its offset is given up on.
    #[error(
        "the server acknowledged {sent} bytes at offset {offset} but kept none of them (Upload-Offset stayed at {offset}); asking it again"
    )]
    NoProgress {
        /// The offset the PATCH started at, which the server reported again.
        offset: u64,
        /// The bytes the PATCH carried.
        sent: u64,
    },
    /// Every partial upload is complete, but the final upload joining them is not (yet).
    #[error(
        "the server holds {reported} bytes of the final upload joining the partial uploads, not the {length} of the file; asking again"
    )]
    FinalIncomplete {
        /// The final upload's offset.
        reported: u64,
        /// The file's length.
        length: u64,
    },
    /// The server reports an offset outside what this request could have produced.
    #[error(
        "the server reports offset {reported} after {request}, outside the possible {min}..={max}"
    )]
    OffsetOutOfRange {
        /// The request.
        request: RequestKind,
        /// The reported offset.
        reported: u64,
        /// The smallest possible offset.
        min: u64,
        /// The largest possible offset.
        max: u64,
    },
    /// The server describes the upload with another length than the file has.
    #[error(
        "the server's upload has length {server} but the file has {local}; starting a new upload"
    )]
    LengthMismatch {
        /// The file's length.
        local: u64,
        /// The length the server reports.
        server: u64,
    },
    /// The server reports holding more bytes than the upload has.
    #[error("the server reports {reported} bytes of an upload of {length}; starting a new upload")]
    OffsetBeyondLength {
        /// The reported offset.
        reported: u64,
        /// The upload's length.
        length: u64,
    },
    /// The driver reported a response for a request the machine never sent.
    #[error("no request {0} is waiting for an answer (driver bug)")]
    UnknownRequest(RequestId),
}

#[expect(
    clippy::ref_option,
    reason = "thiserror hands fields to formatters by reference"
)]
fn detail(message: &Option<String>) -> String {
    message
        .as_ref()
        .map(|m| format!(": {m}"))
        .unwrap_or_default()
}

fn limit(max_size: Option<u64>) -> String {
    max_size
        .map(|m| format!(" ({m} bytes at most)"))
        .unwrap_or_default()
}

impl TusError {
    /// What the machine does when polled again.
    pub fn recovery(&self) -> Recovery {
        match self {
            Self::Unauthorized { .. }
            | Self::Forbidden { .. }
            | Self::TooLarge { .. }
            | Self::RequestTooLarge { .. }
            | Self::Unsupported(_)
            | Self::Discovery(_)
            | Self::UnexpectedStatus { .. }
            | Self::BadLocation { .. }
            | Self::UnknownRequest(_) => Recovery::Fatal,
            Self::OffsetConflict { .. }
            | Self::ChecksumMismatch { .. }
            | Self::OffsetOutOfRange { .. } => Recovery::Resync,
            Self::LengthMismatch { .. } | Self::OffsetBeyondLength { .. } => Recovery::StartOver,
            Self::ServerUnavailable { .. }
            | Self::ServerFull { .. }
            | Self::MissingHeader { .. }
            | Self::BadHeader { .. }
            | Self::OffsetWentBackwards { .. }
            | Self::NoProgress { .. }
            | Self::FinalIncomplete { .. } => Recovery::Retry,
        }
    }

    /// Whether polling again (after a pause) can make progress.
    pub fn is_retryable(&self) -> bool {
        self.recovery() != Recovery::Fatal
    }
}
