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
}

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
    /// chunks of 1 MiB, plain HTTP.
    pub fn new(data_dir: impl Into<PathBuf>) -> Self {
        Self {
            data_dir: data_dir.into(),
            max_size: None,
            expire_after: Duration::from_secs(24 * 60 * 60),
            gc_interval: Duration::from_secs(60),
            galileo_chunksize: 1 << 20,
            tls: None,
        }
    }
}
