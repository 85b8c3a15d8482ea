//! The test server and file helpers, shared with the other crates' tests (`ferry-tests`),
//! and the one-shot upload the fake-server tests send.

use std::path::PathBuf;
use std::time::Duration;

use ferry_engine::rate::RateLimit;
use ferry_engine::retry::RetryPolicy;
use ferry_engine::tls::Trust;
use ferry_engine::upload::UploadRequest;
use ferry_engine::{Token, TransferOptions, events};
pub(crate) use ferry_tests::server::*;

/// Failed attempts in a row before [`quick_upload`] gives up.
pub(crate) const QUICK_ATTEMPTS: u32 = 3;

/// A one-shot upload of `file` to `server` for tests against misbehaving servers: quick
/// retries ([`QUICK_ATTEMPTS`] in a row, 10-50 ms apart), `timeout`, one part, per-chunk
/// checksums, no rate limit, events discarded; with the HTTP client to send it.
pub(crate) fn quick_upload(
    file: PathBuf,
    server: &str,
    token: Option<Token>,
    chunk_size: Option<u64>,
    timeout: Duration,
    trust: Trust,
) -> (reqwest::Client, UploadRequest) {
    let http = ferry_engine::transport::tus::http_client(timeout, &trust);
    let request = UploadRequest {
        file,
        server: server.to_owned(),
        user: String::new(),
        token,
        remote: None,
        protocol: None,
        transfer: TransferOptions {
            chunk_size,
            parallel: 1,
            chunk_checksums: true,
            retry: RetryPolicy {
                base: Duration::from_millis(10),
                max: Duration::from_millis(50),
                max_attempts: QUICK_ATTEMPTS,
            },
            timeout,
        },
        limit: RateLimit::unlimited(),
        events: events::discard(),
        trust,
    };
    (http, request)
}
