//! `ferry upload FILE... --server URL`: resumable one-shot uploads. Run it again after any
//! interruption and it continues where the server stands (the journal remembers).

use std::sync::Arc;
use std::time::Duration;

use anyhow::bail;
use ferry_engine::EngineError;
use ferry_engine::TransferOptions;
use ferry_engine::rate::RateLimit;
use ferry_engine::retry::RetryPolicy;
use ferry_engine::service::Service;
use ferry_engine::upload::{UploadRequest, upload_file};

use crate::cli::UploadArgs;
use crate::progress::Progress;

/// How long a silent link may stay silent before it counts as dead (a laptop that slept).
const TIMEOUT: Duration = Duration::from_secs(15);

/// The connect and read timeout: [`TIMEOUT`], or `FERRY_TIMEOUT_SECS` (whole seconds, at
/// least 1) when set. Not a flag on purpose: it is for tests that pause the process longer
/// than its timeout and should not wait 15 s for it, and for links slower than we know.
fn timeout() -> Duration {
    std::env::var("FERRY_TIMEOUT_SECS")
        .ok()
        .and_then(|v| v.trim().parse::<u64>().ok())
        .filter(|&secs| secs > 0)
        .map_or(TIMEOUT, Duration::from_secs)
}

/// Whether tus chunks carry an sha1 `Upload-Checksum` when the server checks them: yes,
/// unless `FERRY_CHUNK_CHECKSUMS=off`. Not a flag on purpose: it is a diagnostic setting for
/// the benchmark's "tus without checksums" row (scripts/bench.sh) and for telling a slow
/// hash from a slow link; the whole-file sha1 is checked either way.
fn chunk_checksums() -> bool {
    std::env::var("FERRY_CHUNK_CHECKSUMS").map_or(true, |v| v.trim() != "off")
}

/// The sending options both `ferry upload` and `ferry sync` start from: the defaults, with
/// the timeout and chunk checksums the environment asks for.
pub(crate) fn transfer_options() -> TransferOptions {
    TransferOptions {
        chunk_checksums: chunk_checksums(),
        timeout: timeout(),
        ..TransferOptions::default()
    }
}

pub(crate) async fn run(
    service: &Service,
    args: &UploadArgs,
    json: bool,
    quiet: bool,
) -> anyhow::Result<()> {
    // The user signed in to this server, if any; its token from FERRY_TOKEN or the keyring.
    let user = service.users_at(&args.server).await?.into_iter().next();
    let home = service.home();
    let credentials = service.credentials().clone();
    let token = match &user {
        _ if credentials.overridden() => {
            credentials.token(&args.server, user.as_deref().unwrap_or(""))?
        }
        Some(user) => {
            let (lookup, server, user) = (credentials.clone(), args.server.clone(), user.clone());
            tokio::task::spawn_blocking(move || lookup.token(&server, &user)).await??
        }
        // Never signed in and no FERRY_TOKEN: no token, and no keyring asked (servers
        // without sign-in need none, and a headless machine may have no keyring at all).
        None => None,
    };
    let progress = Arc::new(Progress::new(json || quiet));
    let sink = Arc::clone(&progress);
    let events: ferry_engine::EventSink = Arc::new(move |event| sink.show(&event));
    let options = TransferOptions {
        chunk_size: args.chunk_size,
        parallel: args.parallel,
        retry: RetryPolicy {
            max_attempts: args.retries,
            ..RetryPolicy::default()
        },
        ..transfer_options()
    };
    let trust = service.trust().await?;
    let http = ferry_engine::transport::tus::http_client(options.timeout, &trust);
    let limit = RateLimit::new(args.limit_rate.unwrap_or(0));
    let mut failed = Vec::new();
    for file in &args.files {
        let remote = match (&args.remote, args.files.len()) {
            (Some(remote), 1) => Some(remote.clone()),
            (Some(prefix), _) => file
                .file_name()
                .map(|n| format!("{}/{}", prefix.trim_end_matches('/'), n.to_string_lossy())),
            (None, _) => None,
        };
        let request = UploadRequest {
            file: file.clone(),
            server: args.server.clone(),
            user: user.clone().unwrap_or_default(),
            token: token.clone(),
            remote,
            protocol: args.protocol,
            transfer: options,
            limit: limit.clone(),
            events: Arc::clone(&events),
            trust: trust.clone(),
        };
        match upload_file(home, &http, &request).await {
            Ok(entry) if json => println!(
                "{}",
                serde_json::json!({
                    "file": entry.local_path,
                    "remote_path": entry.remote_path,
                    "size": entry.size,
                    "sha1": entry.sha1,
                    "location": entry.location,
                    "bytes_sent": entry.bytes_sent,
                })
            ),
            Ok(_) => {}
            Err(err) => failed.push((file.display().to_string(), err)),
        }
    }
    progress.finish();
    if !failed.is_empty() {
        bail!("{}", failure_summary(&failed, args.files.len()));
    }
    Ok(())
}

/// What `ferry upload` says when some files did not finish: which ones continue when the
/// same command runs again, and which wait on the person first
/// ([`EngineError::is_permanent`]: a refused sign-in, a server that cannot store it, ...).
fn failure_summary(failed: &[(String, EngineError)], total: usize) -> String {
    let line = |(path, err): &(String, EngineError)| format!("\n  {path}: {err}");
    let (waiting, resumable): (Vec<_>, Vec<_>) = failed.iter().partition(|(_, e)| e.is_permanent());
    let mut text = format!("{} of {total} uploads did not finish:", failed.len());
    if !resumable.is_empty() {
        text.extend(resumable.into_iter().map(line));
        text.push_str("\nRun the same command again to continue them.");
    }
    if !waiting.is_empty() {
        text.push_str("\nThese need you to act first (see each message):");
        text.extend(waiting.into_iter().map(line));
    }
    text
}

#[cfg(test)]
mod tests {
    use ferry_engine::error::NetworkFailure;

    use super::*;

    #[test]
    fn the_summary_says_which_uploads_continue_and_which_wait_on_the_person() {
        let failed = vec![
            (
                "a.bin".to_owned(),
                EngineError::GaveUp {
                    attempts: 5,
                    last: Box::new(EngineError::unreachable(
                        "http://s",
                        NetworkFailure::Refused,
                        "connection refused",
                    )),
                },
            ),
            (
                "b.bin".to_owned(),
                EngineError::Unauthorized {
                    server: "http://s".to_owned(),
                },
            ),
        ];
        let text = failure_summary(&failed, 3);
        let again = text.find("Run the same command again").expect(&text);
        let act = text.find("need you to act").expect(&text);
        assert!(text.starts_with("2 of 3 uploads did not finish:"), "{text}");
        assert!(
            text.find("a.bin").unwrap() < again,
            "a.bin continues: {text}"
        );
        assert!(text.find("b.bin").unwrap() > act, "b.bin waits: {text}");
    }
}
