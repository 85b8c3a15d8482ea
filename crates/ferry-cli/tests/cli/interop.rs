//! `ferry upload` to a tus server that is not ours: the real @tus/server from npm (pinned in
//! `tests/peers/package-lock.json`, started by `tests/peers/tus-node-server.mjs`). It offers
//! neither checksums nor concatenation; Ferry must adapt, say so, and deliver the same bytes.
//!
//! Needs `node` (18 or later) and `tests/peers/node_modules` (`npm ci --prefix tests/peers`,
//! which `make test` runs); fails with that instruction otherwise.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use ferry_tests::peers::{node, peers_dir};
use ferry_tests::server::{files_under, random_file};

use crate::support::{Listening, assert_success, ferry_command, run_bounded, sha1};

/// The file @tus/file-store keeps for the upload of exactly `bytes` (found by size and sha1:
/// it names uploads by random ids, next to `ID.json` metadata).
fn stored_copy(store: &Path, bytes: &[u8]) -> Option<PathBuf> {
    let want = sha1(bytes);
    files_under(store)
        .into_iter()
        .map(|f| store.join(f))
        .find(|f| {
            f.metadata().is_ok_and(|m| m.len() == bytes.len() as u64)
                && std::fs::read(f).is_ok_and(|stored| sha1(&stored) == want)
        })
}

#[test]
fn uploads_to_tus_node_server_byte_identical_and_says_what_it_could_not_use() {
    let node = node(&["@tus/server", "@tus/file-store"]);
    let work = tempfile::tempdir().unwrap();
    let store = work.path().join("tus-store");
    let mut command = Command::new(node);
    command
        .arg(peers_dir().join("tus-node-server.mjs"))
        .args(["--port", "0", "--dir"])
        .arg(&store);
    let server = Listening::start("@tus/server", command, Duration::from_secs(30));
    let endpoint = format!("{}/files/", server.url);
    assert!(endpoint.starts_with("http://127.0.0.1:"), "{endpoint}");

    // A small file (one request where creation-with-upload is offered) and a larger one in
    // several chunks, asked for in 4 parallel parts, which needs concatenation.
    let (small, small_bytes) = random_file(work.path(), "small.txt", 2_000, 11);
    let (big, big_bytes) = random_file(work.path(), "big.bin", (3 << 20) + 12_345, 12);
    let out = run_bounded(
        "ferry upload",
        ferry_command(
            &work.path().join("home"),
            None,
            &[
                "upload",
                small.to_str().unwrap(),
                big.to_str().unwrap(),
                "--server",
                &endpoint,
                "--chunk-size",
                "1048576",
                "--parallel",
                "4",
            ],
        ),
        Duration::from_secs(60),
    );
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let server_log = server.kill();
    assert_success("ferry upload to @tus/server", &out);
    for (name, bytes) in [("small.txt", &small_bytes), ("big.bin", &big_bytes)] {
        assert!(
            stored_copy(&store, bytes).is_some(),
            "@tus/server holds no byte-identical copy of {name}; it has {:?}\n--- ferry\n{stderr}\n--- @tus/server\n{server_log}",
            files_under(&store)
        );
    }
    for adapted in [
        "does not check sha1 chunk checksums",
        "does not offer concatenation",
    ] {
        assert!(
            stderr.contains(adapted),
            "ferry should say that {adapted:?}:\n{stderr}"
        );
    }
}
