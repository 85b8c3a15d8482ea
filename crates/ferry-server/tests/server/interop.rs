//! Interop with real third-party peers: tus-js-client (from npm, pinned in
//! `tests/peers/package-lock.json`) and a harness that behaves like the original 2013
//! GalileoSend JavaScript client, both run by Node against a live ferry-server.
//!
//! The peers are the driver scripts in `tests/peers/`; each prints one JSON line of results.
//! These tests need `node` (18 or later) and `tests/peers/node_modules` (`npm ci --prefix
//! tests/peers`, which `make test` runs). Without them they fail with that instruction:
//! interop that silently does not run is worse than none.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use ferry_proto::checksum::ChecksumAlgorithm;
use rand::RngCore;
use serde_json::Value;
use tokio::process::Command;

use crate::support::TestServer;
use ferry_tests::peers::{node, peers_dir};

/// How long one peer run may take before the test fails (the scripts stop themselves a
/// little earlier).
const PEER_TIMEOUT: Duration = Duration::from_secs(120);

const MIB: usize = 1024 * 1024;

/// Runs `tests/peers/SCRIPT` with `args` and returns the JSON line it printed. Panics with
/// the script's own output if it fails, does not finish in time or prints no JSON.
async fn run_peer(script: &str, args: &[&str]) -> Value {
    let node = node(&["tus-js-client", "ws"]);
    let child = Command::new(&node)
        .arg(peers_dir().join(script))
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start `{node} {script}`: {e}"));
    let output = tokio::time::timeout(PEER_TIMEOUT, child.wait_with_output())
        .await
        .unwrap_or_else(|_| panic!("{script} {args:?} did not finish within {PEER_TIMEOUT:?}"))
        .unwrap_or_else(|e| panic!("waiting for {script}: {e}"));
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "{script} {args:?} failed ({}):\nstderr: {stderr}\nstdout: {stdout}",
        output.status
    );
    let line = stdout.lines().last().unwrap_or_default();
    serde_json::from_str(line).unwrap_or_else(|e| {
        panic!("{script} printed no JSON result line ({e}):\nstdout: {stdout}\nstderr: {stderr}")
    })
}

/// A file of `len` random bytes in `dir`.
fn random_file(dir: &Path, name: &str, len: usize) -> PathBuf {
    let mut bytes = vec![0; len];
    rand::rng().fill_bytes(&mut bytes);
    let path = dir.join(name);
    std::fs::write(&path, bytes).expect("write the test file");
    path
}

/// Panics unless the server stored exactly the bytes of `local` for `user` at `remote`.
fn assert_stored_identically(server: &TestServer, user: &str, remote: &str, local: &Path) {
    let sent = std::fs::read(local).expect("read the sent file");
    let stored_path = server.file(user, remote);
    let stored = std::fs::read(&stored_path).unwrap_or_else(|e| {
        panic!(
            "the finished upload must be at {}: {e}",
            stored_path.display()
        )
    });
    assert_eq!(
        (
            stored.len(),
            ChecksumAlgorithm::Sha1.digest(&stored).to_hex()
        ),
        (sent.len(), ChecksumAlgorithm::Sha1.digest(&sent).to_hex()),
        "the stored file (size, sha1) must equal the sent one"
    );
}

/// tus-upload.mjs's arguments for an upload as ann.
fn tus_args<'a>(server: &'a TestServer, endpoint: &'a str, file: &'a Path) -> Vec<&'a str> {
    vec![
        "--endpoint",
        endpoint,
        "--token",
        &server.ann,
        "--file",
        file.to_str().expect("a UTF-8 temp path"),
        "--timeout",
        "100",
    ]
}

#[tokio::test]
async fn tus_js_client_uploads_in_1_mib_chunks_byte_identically() {
    let server = TestServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    // Not a multiple of the chunk size: the last PATCH is a short one.
    let file = random_file(dir.path(), "chunked.bin", 8 * MIB + 12_345);
    let endpoint = server.url("/files/");
    let mut args = tus_args(&server, &endpoint, &file);
    args.extend([
        "--chunk-size",
        "1048576",
        "--name",
        "peers/tus/chunked.bin",
        "--metadata-sha1",
    ]);
    let result = run_peer("tus-upload.mjs", &args).await;
    assert_eq!(result["bytes"], 8 * MIB + 12_345, "{result}");
    assert!(
        result["url"]
            .as_str()
            .is_some_and(|u| u.starts_with(&endpoint)),
        "the upload URL is under the endpoint: {result}"
    );
    assert_stored_identically(&server, "ann", "peers/tus/chunked.bin", &file);
}

#[tokio::test]
async fn tus_js_client_parallel_uploads_are_concatenated_byte_identically() {
    let server = TestServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let file = random_file(dir.path(), "parallel.bin", 8 * MIB + 1);
    let endpoint = server.url("/files/");
    let mut args = tus_args(&server, &endpoint, &file);
    args.extend(["--parallel", "3", "--chunk-size", "1048576"]);
    let result = run_peer("tus-upload.mjs", &args).await;
    assert_eq!(result["bytes"], 8 * MIB + 1, "{result}");
    assert_stored_identically(&server, "ann", "parallel.bin", &file);
}

#[tokio::test]
async fn tus_js_client_resumes_an_interrupted_upload_from_the_server_offset() {
    let server = TestServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let size = 8 * MIB + 7;
    let file = random_file(dir.path(), "resumed.bin", size);
    let endpoint = server.url("/files/");
    let mut first = tus_args(&server, &endpoint, &file);
    first.extend(["--chunk-size", "1048576", "--interrupt-after", "3145728"]);
    let interrupted = run_peer("tus-upload.mjs", &first).await;
    assert_eq!(interrupted["interrupted"], true, "{interrupted}");
    let confirmed = interrupted["bytes"].as_u64().expect("confirmed bytes");
    assert!(
        (3 * MIB as u64..size as u64).contains(&confirmed),
        "the first run stops after 3 MiB confirmed, before the end: {interrupted}"
    );
    let url = interrupted["url"]
        .as_str()
        .expect("the interrupted run prints the upload URL")
        .to_owned();
    assert!(
        !server.file("ann", "resumed.bin").exists(),
        "an unfinished upload must not appear among the finished files"
    );

    let mut second = tus_args(&server, &endpoint, &file);
    second.extend(["--chunk-size", "1048576", "--resume-url", &url]);
    let resumed = run_peer("tus-upload.mjs", &second).await;
    assert_eq!(resumed["url"], url.as_str(), "the same upload goes on");
    assert_eq!(
        resumed["resumed_from"], confirmed,
        "tus-js-client goes on from the offset the server confirmed: {resumed}"
    );
    assert_stored_identically(&server, "ann", "resumed.bin", &file);
}

async fn galileo_original_upload(server: &TestServer, file: &Path) -> Value {
    let url = format!("ws://{}/galileo?access_token={}", server.addr, server.ann);
    let path = file.to_str().expect("a UTF-8 temp path");
    run_peer(
        "galileo-original.mjs",
        &["--url", &url, "--file", path, "--timeout", "100"],
    )
    .await
}

#[tokio::test]
async fn original_galileo_client_uploads_a_file_byte_identically() {
    let server = TestServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let size = 2 * MIB + 3;
    let file = random_file(dir.path(), "galileo.bin", size);
    let result = galileo_original_upload(&server, &file).await;
    assert_eq!(result["bytes"], size, "{result}");
    assert_eq!(
        result["errors"],
        serde_json::json!([]),
        "a clean upload gets no error signal"
    );
    // The harness itself fails if a server message carried `upload` or `offset`.
    assert_eq!(result["extension_keys"], serde_json::json!([]), "{result}");
    assert_stored_identically(&server, "ann", "galileo.bin", &file);
}

#[tokio::test]
async fn original_galileo_client_uploads_an_empty_file_with_an_empty_frame() {
    let server = TestServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let file = random_file(dir.path(), "empty.bin", 0);
    let result = galileo_original_upload(&server, &file).await;
    assert_eq!(
        (result["bytes"].as_u64(), result["chunks"].as_u64()),
        (Some(0), Some(1)),
        "the original client sends one empty binary frame for an empty file: {result}"
    );
    assert_eq!(result["errors"], serde_json::json!([]), "{result}");
    assert_stored_identically(&server, "ann", "empty.bin", &file);
}
