//! The transports: thin async drivers of ferry-proto's machines over real sockets.
//!
//! - `tus`: tus 1.0.0 over reqwest, bodies streamed from the file.
//! - `galileo`: GalileoSend over tokio-tungstenite.
//! - `capped`: answers read with a size cap.
//! - `dns`: the name lookups of both, whose failures can be told apart by type.
//! - `watchdog`: the one rule of both for a dead link: nothing moved for the timeout.
//! - `gauge`: how far the bytes got between confirmations, for smooth progress.
//!
//! Both take a [`Transfer`] (what to send and how), continue from a saved
//! [`ResumeState`], report every confirmation to the caller (who records it in the journal)
//! and retry what can be retried themselves. They know nothing of the journal or the UI.

mod capped;
pub mod dns;
pub mod galileo;
mod gauge;
pub mod tus;
mod watchdog;

use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::Duration;

use ferry_proto::checksum::Checksum;
pub use ferry_proto::tus::ResumeState;

pub use self::capped::{CappedError, capped_body};

use crate::error::EngineError;

/// A confirmation being recorded: the transport awaits it before it sends more.
pub type Recorded = futures_util::future::BoxFuture<'static, Result<(), EngineError>>;

/// A confirmation recorded at once (nothing to wait for).
pub fn recorded() -> Recorded {
    Box::pin(std::future::ready(Ok(())))
}

/// What a transport calls with the machine's state after every confirmation by the server.
pub type OnConfirmed<'a> = dyn FnMut(&ResumeState) -> Recorded + Send + 'a;

use crate::events::EventSink;
use crate::file::LocalFile;
use crate::rate::RateLimit;
use crate::retry::RetryPolicy;
use crate::secret::Token;

/// How files are sent: the one set of sending options, from the CLI's flags and the user's
/// settings through folder sync and one-shot uploads down to the transports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TransferOptions {
    /// Bytes per request or frame wanted (`None`: the protocol's default, 8 MiB for tus; for
    /// GalileoSend the server's `chunksize`, at most 16 MiB). What a transport uses is
    /// settled per server: [`Transfer::chunk_size`].
    pub chunk_size: Option<u64>,
    /// Parallel partial uploads for large files on tus servers with concatenation (1: none).
    pub parallel: usize,
    /// Per-chunk checksums (tus `Upload-Checksum`) when the server checks them; `false`
    /// only to measure or diagnose (the benchmark's "tus without checksums" row), never a
    /// user setting.
    pub chunk_checksums: bool,
    /// Retries within one attempt at a file: their spacing and when to give up.
    pub retry: RetryPolicy,
    /// How long to wait for a connection, and for any byte of an answer, before counting
    /// the link as dead (a laptop that slept).
    pub timeout: Duration,
}

impl Default for TransferOptions {
    fn default() -> Self {
        Self {
            chunk_size: None,
            parallel: 3,
            chunk_checksums: true,
            retry: RetryPolicy::default(),
            timeout: Duration::from_secs(15),
        }
    }
}

/// What to upload and how.
#[derive(Clone)]
pub struct Transfer {
    /// The local file and its facts when the upload started.
    pub file: LocalFile,
    /// Its whole-file sha1 (metadata `sha1` for tus, `hash` for GalileoSend).
    pub sha1: Checksum,
    /// Where it goes on the server (`relativePath` / `path`).
    pub remote_path: String,
    /// The most bytes one request or frame carries, settled for this server from
    /// `options.chunk_size` (which transports do not read).
    pub chunk_size: u64,
    /// How to send it.
    pub options: TransferOptions,
    /// Set by the transport when the server refused a request body as too large and the
    /// chunks became smaller (0: they did not): the size to remember for this server.
    pub reduced_chunk: Arc<AtomicU64>,
    /// The bearer token, if the server wants one.
    pub token: Option<Token>,
    /// The shared rate limit.
    pub limit: RateLimit,
    /// Where progress and retries are reported.
    pub events: EventSink,
    /// What TLS trusts (the WebSocket's connector; reqwest's client has it already).
    pub trust: crate::tls::Trust,
}

/// How an upload ended well.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transferred {
    /// Where the server keeps it, if it said.
    pub location: Option<String>,
    /// Bytes put on the wire for it.
    pub bytes_sent: u64,
    /// tus: every chunk carried a checksum that the server checks.
    pub checksummed: bool,
    /// GalileoSend: the server checked the whole-file sha1 sent with the upload (it has
    /// Ferry's resume extension, which checks it).
    pub server_checked_sha1: bool,
}

impl std::fmt::Debug for Transfer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Transfer")
            .field("file", &self.file)
            .field("remote_path", &self.remote_path)
            .field("chunk_size", &self.chunk_size)
            .field("options", &self.options)
            .field("token", &self.token)
            .finish_non_exhaustive()
    }
}
