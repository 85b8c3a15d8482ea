//! What can go wrong in a GalileoSend session, and what to do about it.
//!
//! [`ErrorCode`] is the machine-readable `code` that Ferry's resume extension puts beside
//! `error` in an error signal; [`GalileoError`] is the one error type of the GalileoSend
//! machines, carrying the context a person needs (offsets, sizes, the server's own words).
//! Both know their [`Recovery`]: whether to resume, to start the upload over from byte 0,
//! or to give up. This module knows nothing of sockets, storage or the state machines.

use std::fmt;

use super::frames::{FrameRefusal, MIN_FRAME_SIZE};
use super::message::ErrorSignal;

/// How a client can recover from a failed GalileoSend session.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Recovery {
    /// Reconnect later and resume the same upload from the server's offset.
    Retry,
    /// Reconnect without an upload id and send the whole file again from byte 0: the
    /// server no longer holds (or never held) data this file can continue from.
    StartOver,
    /// Reconnect and resume the same upload, sending binary frames of at most `max_frame`
    /// bytes: the server refused a larger one (see [`crate::galileo::frames`]).
    SmallerFrames {
        /// The largest frame the next session may send.
        max_frame: u64,
    },
    /// Trying again without a change (to the file, the settings or the account) will not help.
    Fatal,
}

/// The machine-readable `code` of an error signal (Ferry's extension; old clients ignore it).
///
/// Codes travel as snake_case strings. A code this version does not know is kept as
/// [`ErrorCode::Other`], so newer servers can add codes without breaking older clients.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    /// `bad_message`: a frame was not valid JSON, or a signal lacked a field it needs.
    BadMessage,
    /// `protocol`: a message or frame that is not valid in the session's current state.
    Protocol,
    /// `size_mismatch`: the data received does not add up to the announced size.
    SizeMismatch,
    /// `hash_mismatch`: the whole-file hash did not match; the server discarded the upload.
    HashMismatch,
    /// `too_large`: the file is larger than the server accepts.
    TooLarge,
    /// `chunk_too_large`: a binary frame was larger than the server accepts.
    ChunkTooLarge,
    /// `unauthorized`: no valid credentials, or no permission for this path.
    Unauthorized,
    /// `bad_path`: the remote path is absolute, climbs out with `..` or cannot be stored.
    BadPath,
    /// `unknown_upload`: the upload id to resume does not exist (any more) on the server.
    UnknownUpload,
    /// `disk_full`: the server has no room for the data right now.
    DiskFull,
    /// `internal`: the server failed for a reason of its own.
    Internal,
    /// Any other code, as received.
    Other(String),
}

impl ErrorCode {
    /// Every code this version knows, for tests and documentation tables.
    pub const KNOWN: [Self; 11] = [
        Self::BadMessage,
        Self::Protocol,
        Self::SizeMismatch,
        Self::HashMismatch,
        Self::TooLarge,
        Self::ChunkTooLarge,
        Self::Unauthorized,
        Self::BadPath,
        Self::UnknownUpload,
        Self::DiskFull,
        Self::Internal,
    ];

    /// The code as it travels on the wire (`size_mismatch`, ...).
    pub fn as_str(&self) -> &str {
        match self {
            Self::BadMessage => "bad_message",
            Self::Protocol => "protocol",
            Self::SizeMismatch => "size_mismatch",
            Self::HashMismatch => "hash_mismatch",
            Self::TooLarge => "too_large",
            Self::ChunkTooLarge => "chunk_too_large",
            Self::Unauthorized => "unauthorized",
            Self::BadPath => "bad_path",
            Self::UnknownUpload => "unknown_upload",
            Self::DiskFull => "disk_full",
            Self::Internal => "internal",
            Self::Other(code) => code,
        }
    }

    /// Parses a wire code; unknown codes become [`ErrorCode::Other`], never an error.
    pub fn parse(code: &str) -> Self {
        Self::KNOWN
            .into_iter()
            .find(|known| known.as_str() == code)
            .unwrap_or_else(|| Self::Other(code.to_owned()))
    }

    /// Whether reconnecting and trying again, with nothing changed, can help:
    /// true for `disk_full`, `internal` and `unknown_upload` (which is retried as a fresh
    /// upload, see [`ErrorCode::recovery`]); false for every other code.
    ///
    /// `hash_mismatch` is not retryable: the bytes the server got differ from the bytes the
    /// client hashed, so the file probably changed while it was read. Its recovery is
    /// [`Recovery::StartOver`], for when the caller decides to send the file again.
    pub fn is_retryable(&self) -> bool {
        matches!(self, Self::DiskFull | Self::Internal | Self::UnknownUpload)
    }

    /// How a client recovers from this code: `disk_full` and `internal` resume
    /// ([`Recovery::Retry`]), `unknown_upload` and `hash_mismatch` start over from byte 0
    /// ([`Recovery::StartOver`]), everything else (including unknown codes) is
    /// [`Recovery::Fatal`].
    pub fn recovery(&self) -> Recovery {
        match self {
            Self::DiskFull | Self::Internal => Recovery::Retry,
            Self::UnknownUpload | Self::HashMismatch => Recovery::StartOver,
            _ => Recovery::Fatal,
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl From<&str> for ErrorCode {
    fn from(code: &str) -> Self {
        Self::parse(code)
    }
}

/// Everything that can end or disturb a GalileoSend session, on either side.
///
/// Errors found by the server machine ([`crate::galileo::ServerSession`]) are also sent to
/// the client as a fatal error signal with [`GalileoError::code`]; errors the client
/// machine meets are reported through [`crate::galileo::Event::Failed`].
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum GalileoError {
    /// A text frame was not a GalileoSend message.
    #[error(
        "malformed GalileoSend message: {reason}; the other side does not speak GalileoSend \
         as expected, retrying will not help"
    )]
    BadMessage {
        /// What was wrong with it.
        reason: String,
    },

    /// A message or frame arrived that is not valid in the session's current state.
    #[error(
        "GalileoSend protocol violation: received {received} while {state}; one side does \
         not follow the protocol, retrying will not help"
    )]
    Protocol {
        /// What arrived (`a binary frame of 12 bytes`, `a second metadata message`, ...).
        received: String,
        /// What the session was doing.
        state: &'static str,
    },

    /// The server's first ready offered to resume past the end of the file.
    #[error(
        "the server offers to resume at byte {offset}, but the file has only {size} bytes; \
         the upload on the server does not belong to this version of the file: start a new \
         upload from the beginning"
    )]
    OffsetPastEnd {
        /// The offset the server announced.
        offset: u64,
        /// The size of the file.
        size: u64,
    },

    /// The data does not add up to the size announced in the metadata.
    #[error(
        "size mismatch: the file was announced as {expected} bytes, but the data adds up to \
         {received}; the file probably changed during the upload, upload it again"
    )]
    SizeMismatch {
        /// The size from the metadata.
        expected: u64,
        /// The bytes received, counting the frame that went past the size if there was one.
        received: u64,
    },

    /// A binary frame was larger than the server accepts.
    #[error(
        "a chunk of {len} bytes is larger than the {max} bytes this server accepts in one \
         frame; use a smaller chunk size"
    )]
    ChunkTooLarge {
        /// The frame's length.
        len: u64,
        /// The largest frame the server accepts.
        max: u64,
    },

    /// The server refused a binary frame the client sent as too large (close code 1009 or
    /// `chunk_too_large`); the upload resumes with frames of at most `retry_with` bytes.
    #[error(
        "the server refused a frame of {len} bytes as too large ({by}); resuming with frames \
         of at most {retry_with} bytes"
    )]
    FrameRefused {
        /// The refused frame's length.
        len: u64,
        /// How the server said so.
        by: FrameRefusal,
        /// The largest frame the next session sends.
        retry_with: u64,
        /// The bytes the server had confirmed when it refused.
        confirmed: u64,
    },

    /// The server refused a frame as too large although it was already as small as Ferry
    /// makes them ([`MIN_FRAME_SIZE`]): its limit is below that.
    #[error(
        "the server refuses WebSocket frames of {len} bytes as too large ({by}), and Ferry sends \
         no smaller ones than {} bytes: raise the message size limit of the server or of the \
         proxy before it",
        MIN_FRAME_SIZE
    )]
    FramesTooLarge {
        /// The refused frame's length.
        len: u64,
        /// How the server said so.
        by: FrameRefusal,
    },

    /// The file is larger than the server accepts.
    #[error("the file has {size} bytes, more than the {max} bytes this server accepts")]
    TooLarge {
        /// The announced size.
        size: u64,
        /// The server's limit.
        max: u64,
    },

    /// The server sent a fatal error signal.
    #[error("the server refused the upload{}: {}; {}", code_suffix(signal), signal_text(signal), advice(self.recovery()))]
    Rejected {
        /// The signal as received (message, code, other keys).
        signal: ErrorSignal,
        /// The bytes the server had confirmed when it refused.
        confirmed: u64,
    },

    /// The server sent its close signal before the client had sent all of the file.
    #[error("the server ended the upload after {sent} of {size} bytes were sent; resume it later")]
    ClosedEarly {
        /// Bytes the client had sent.
        sent: u64,
        /// The size of the file.
        size: u64,
    },

    /// The connection closed without a close signal.
    #[error(
        "the connection closed before the server confirmed the upload ({confirmed} of {size} \
         bytes confirmed); it resumes when the connection is back"
    )]
    ConnectionClosed {
        /// Bytes the server had confirmed.
        confirmed: u64,
        /// The size of the file.
        size: u64,
    },

    /// The driver called a method that is not valid in the machine's state (a bug in
    /// the code driving the machine, not in the peer).
    #[error("GalileoSend session misused: {call} {reason} (a bug in Ferry, please report it)")]
    Misuse {
        /// The method that was called.
        call: &'static str,
        /// Why it was not valid.
        reason: String,
    },
}

fn code_suffix(signal: &ErrorSignal) -> String {
    signal
        .code
        .as_ref()
        .map_or_else(String::new, |code| format!(" ({code})"))
}

fn signal_text(signal: &ErrorSignal) -> &str {
    if signal.message.is_empty() {
        "no reason given"
    } else {
        &signal.message
    }
}

fn advice(recovery: Recovery) -> &'static str {
    match recovery {
        Recovery::Retry => "trying again later resumes where it stopped",
        Recovery::StartOver => "the upload has to start again from the beginning",
        Recovery::SmallerFrames { .. } => {
            "trying again with smaller frames resumes where it stopped"
        }
        Recovery::Fatal => "retrying will not help",
    }
}

impl GalileoError {
    /// The machine-readable code for this error, as the server sends it in a fatal error
    /// signal; for [`GalileoError::Rejected`] the server's own code (if it sent one).
    /// Client-side transport outcomes ([`GalileoError::ConnectionClosed`],
    /// [`GalileoError::ClosedEarly`]) have none.
    pub fn code(&self) -> Option<ErrorCode> {
        match self {
            Self::BadMessage { .. } => Some(ErrorCode::BadMessage),
            Self::Protocol { .. } | Self::OffsetPastEnd { .. } => Some(ErrorCode::Protocol),
            Self::SizeMismatch { .. } => Some(ErrorCode::SizeMismatch),
            Self::ChunkTooLarge { .. }
            | Self::FrameRefused { .. }
            | Self::FramesTooLarge { .. } => Some(ErrorCode::ChunkTooLarge),
            Self::TooLarge { .. } => Some(ErrorCode::TooLarge),
            Self::Rejected { signal, .. } => signal.code.clone(),
            Self::Misuse { .. } => Some(ErrorCode::Internal),
            Self::ClosedEarly { .. } | Self::ConnectionClosed { .. } => None,
        }
    }

    /// How the client recovers: see [`Recovery`].
    ///
    /// A lost connection or an early close resumes; a resume offset past the end of the
    /// file starts over; a server error follows its code ([`ErrorCode::recovery`]; a
    /// signal without a code, as old servers send, is [`Recovery::Fatal`]); everything
    /// else is fatal.
    pub fn recovery(&self) -> Recovery {
        match self {
            Self::ConnectionClosed { .. } | Self::ClosedEarly { .. } => Recovery::Retry,
            Self::OffsetPastEnd { .. } => Recovery::StartOver,
            Self::FrameRefused { retry_with, .. } => Recovery::SmallerFrames {
                max_frame: *retry_with,
            },
            Self::Rejected { signal, .. } => signal
                .code
                .as_ref()
                .map_or(Recovery::Fatal, ErrorCode::recovery),
            Self::BadMessage { .. }
            | Self::Protocol { .. }
            | Self::SizeMismatch { .. }
            | Self::ChunkTooLarge { .. }
            | Self::FramesTooLarge { .. }
            | Self::TooLarge { .. }
            | Self::Misuse { .. } => Recovery::Fatal,
        }
    }

    /// Whether trying again automatically can help: a lost connection or early close, a
    /// frame refused above the floor (with smaller frames), or a server error whose code is retryable ([`ErrorCode::is_retryable`]).
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::ConnectionClosed { .. }
            | Self::ClosedEarly { .. }
            | Self::FrameRefused { .. } => true,
            Self::Rejected { signal, .. } => {
                signal.code.as_ref().is_some_and(ErrorCode::is_retryable)
            }
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_known_code_round_trips_through_its_wire_string() {
        for code in ErrorCode::KNOWN {
            assert_eq!(ErrorCode::parse(code.as_str()), code);
        }
        assert_eq!(
            ErrorCode::parse("quota_exceeded"),
            ErrorCode::Other("quota_exceeded".into()),
            "unknown codes are kept, not rejected"
        );
    }

    #[test]
    fn only_disk_full_internal_and_unknown_upload_are_retryable() {
        let retryable: Vec<_> = ErrorCode::KNOWN
            .into_iter()
            .filter(ErrorCode::is_retryable)
            .collect();
        assert_eq!(
            retryable,
            [
                ErrorCode::UnknownUpload,
                ErrorCode::DiskFull,
                ErrorCode::Internal
            ]
        );
        assert!(!ErrorCode::Other("x".into()).is_retryable());
    }

    #[test]
    fn hash_mismatch_and_unknown_upload_start_over_instead_of_resuming() {
        assert_eq!(ErrorCode::HashMismatch.recovery(), Recovery::StartOver);
        assert_eq!(ErrorCode::UnknownUpload.recovery(), Recovery::StartOver);
        assert_eq!(ErrorCode::DiskFull.recovery(), Recovery::Retry);
        assert_eq!(ErrorCode::Internal.recovery(), Recovery::Retry);
        assert_eq!(ErrorCode::BadPath.recovery(), Recovery::Fatal);
    }

    #[test]
    fn a_rejection_says_what_the_server_said_and_what_to_do() {
        let err = GalileoError::Rejected {
            signal: ErrorSignal::fatal(ErrorCode::DiskFull, "no space left"),
            confirmed: 10,
        };
        assert_eq!(
            err.to_string(),
            "the server refused the upload (disk_full): no space left; trying again later \
             resumes where it stopped"
        );
        assert!(err.is_retryable());
        assert_eq!(err.recovery(), Recovery::Retry);
        assert_eq!(err.code(), Some(ErrorCode::DiskFull));
    }

    #[test]
    fn a_fatal_signal_without_code_from_an_old_server_is_not_retried() {
        let mut signal = ErrorSignal::fatal(ErrorCode::Internal, "");
        signal.code = None;
        let err = GalileoError::Rejected {
            signal,
            confirmed: 0,
        };
        assert_eq!(err.recovery(), Recovery::Fatal);
        assert!(!err.is_retryable());
        assert!(err.to_string().contains("no reason given"), "{err}");
    }

    #[test]
    fn a_lost_connection_resumes() {
        let err = GalileoError::ConnectionClosed {
            confirmed: 5,
            size: 9,
        };
        assert!(err.is_retryable());
        assert_eq!(err.recovery(), Recovery::Retry);
        assert!(err.to_string().contains("5 of 9 bytes"), "{err}");
    }
}
