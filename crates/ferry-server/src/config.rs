//! What a ferry-server instance is told at start: where its data lives, its limits, TLS.
//! Knows nothing of how the values were obtained (command line, tests).

use std::path::PathBuf;
use std::time::Duration;

/// The whole configuration of one server.
#[derive(Debug, Clone)]
pub struct Config {
    /// The data directory: `server.db`, `uploads/`, `files/`.
    pub data_dir: PathBuf,
    /// The largest upload accepted, in bytes; `None` for no limit.
    pub max_size: Option<u64>,
    /// How long an unfinished upload is kept after its last change.
    pub expire_after: Duration,
    /// How often expired uploads are looked for.
    pub gc_interval: Duration,
    /// The `chunksize` GalileoSend clients are asked for.
    pub galileo_chunksize: u64,
    /// Certificate and key (PEM) to serve HTTPS instead of HTTP.
    pub tls: Option<TlsFiles>,
    /// Whether a proxy in front of the server is trusted: the client address for the
    /// sign-in limiter is then the right-most `X-Forwarded-For` entry (the one that proxy
    /// appended), not the TCP peer.
    pub trust_proxy: bool,
    /// How long a request's headers may take to arrive (and an idle keep-alive connection
    /// may wait for the next request), and a TLS handshake may take.
    pub header_timeout: Duration,
    /// How long a request body (PATCH, creation-with-upload) or a WebSocket session may go
    /// without receiving a byte before it is cut.
    pub idle_timeout: Duration,
    /// Connections served at once; more wait in the listen queue.
    pub max_connections: usize,
    /// Unfinished uploads a user may have at once.
    pub max_unfinished: usize,
    /// Bytes a user may store (finished files plus unfinished uploads); `None` for no quota.
    pub quota: Option<u64>,
}

/// The largest request head (request line and headers) accepted, in bytes.
pub const MAX_HEADER_BYTES: usize = 64 << 10;
/// The largest JSON body accepted by the API, in bytes.
pub const MAX_JSON_BYTES: usize = 64 << 10;

/// PEM files for TLS.
#[derive(Debug, Clone)]
pub struct TlsFiles {
    /// The certificate chain.
    pub cert: PathBuf,
    /// The private key.
    pub key: PathBuf,
}

impl Config {
    /// Defaults for `data_dir`: no size limit, unfinished uploads kept for a day, GalileoSend
    /// chunks of 1 MiB, plain HTTP, no proxy trusted, 30 s for headers, 60 s of silence
    /// cuts a body or a WebSocket, 1024 connections, 1000 unfinished uploads per user, no
    /// quota.
    pub fn new(data_dir: impl Into<PathBuf>) -> Self {
        Self {
            data_dir: data_dir.into(),
            max_size: None,
            expire_after: Duration::from_secs(24 * 60 * 60),
            gc_interval: Duration::from_secs(60),
            galileo_chunksize: 1 << 20,
            tls: None,
            trust_proxy: false,
            header_timeout: Duration::from_secs(30),
            idle_timeout: Duration::from_secs(60),
            max_connections: 1024,
            max_unfinished: 1000,
            quota: None,
        }
    }
}
