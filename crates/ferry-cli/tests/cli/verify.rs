//! A file is recorded as uploaded only when the server provably holds its exact bytes:
//! a real ferry-server that cannot publish makes `ferry upload` fail with the cause and
//! record nothing, and the history says how each upload was verified, for each kind of
//! server (ferry-server's listing, @tus/server's offsets only; a tus server with checksums
//! but no listing is the `verify` module's unit test: no such peer installs here).

use std::process::Command;
use std::time::Duration;

use ferry_tests::peers::{node, peers_dir};
use ferry_tests::server::{TestServer, random_file};

use crate::support::{
    Listening, Running, assert_success, ferry_command, run_bounded, stdout, wait_mid_upload,
};

/// `ferry --json history` of `home`, newest first.
fn history(home: &std::path::Path) -> Vec<serde_json::Value> {
    let out = ferry_command(home, None, &["--json", "history"])
        .output()
        .unwrap();
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("history is JSON ({e}): {}", stdout(&out)))
}

fn upload(
    home: &std::path::Path,
    token: Option<&str>,
    file: &std::path::Path,
    server: &str,
) -> Command {
    ferry_command(
        home,
        token,
        &["upload", file.to_str().unwrap(), "--server", server],
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn a_folder_in_the_way_on_the_server_fails_the_upload_with_the_cause_and_records_nothing() {
    let server = TestServer::start().await;
    let work = tempfile::tempdir().unwrap();
    let home = work.path().join("home");
    let (file, _) = random_file(work.path(), "report.pdf", 200_000, 3);
    std::fs::create_dir_all(server.file("ann", "report.pdf")).unwrap();

    let command = upload(&home, Some(&server.ann), &file, &server.base);
    let out = tokio::task::spawn_blocking(move || {
        run_bounded("ferry upload", command, Duration::from_secs(60))
    })
    .await
    .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "a failure: {stderr}");
    assert!(
        stderr.contains("report.pdf") && stderr.contains("folder of that name"),
        "the message names the cause: {stderr}"
    );
    assert!(
        history(&home).iter().all(|h| h["outcome"] != "uploaded"),
        "nothing recorded as uploaded: {:#?}",
        history(&home)
    );
    assert!(
        server.file("ann", "report.pdf").is_dir(),
        "the folder is untouched"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_upload_the_server_cannot_publish_at_its_last_byte_is_not_recorded_and_resumes_once_the_way_is_clear()
 {
    let server = TestServer::start().await;
    let work = tempfile::tempdir().unwrap();
    let home = work.path().join("home");
    let size = 3 << 20;
    let (file, bytes) = random_file(work.path(), "late.bin", size, 4);
    let mut command = ferry_command(
        &home,
        Some(&server.ann),
        &[
            "upload",
            file.to_str().unwrap(),
            "--server",
            &server.base,
            "--chunk-size",
            "262144",
            "--limit-rate",
            "2000000",
        ],
    );
    command.env("FERRY_TIMEOUT_SECS", "5");
    let blocker = server.file("ann", "late.bin");
    let (home2, blocker2) = (home.clone(), blocker.clone());
    let out = tokio::task::spawn_blocking(move || {
        let mut running = Running::spawn("ferry upload", command);
        wait_mid_upload(&home2, size as u64, &mut running);
        // Something gets in the way after the upload was created.
        std::fs::create_dir_all(&blocker2).unwrap();
        running.finish(Duration::from_secs(60))
    })
    .await
    .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "a failure: {stderr}");
    assert!(
        stderr.contains("late.bin") && stderr.contains("folder of that name"),
        "the message names the cause: {stderr}"
    );
    assert!(
        history(&home).iter().all(|h| h["outcome"] != "uploaded"),
        "nothing recorded as uploaded: {:#?}",
        history(&home)
    );

    // The way cleared, the same command uploads it.
    std::fs::remove_dir(&blocker).unwrap();
    let command = upload(&home, Some(&server.ann), &file, &server.base);
    let out = tokio::task::spawn_blocking(move || {
        run_bounded("ferry upload again", command, Duration::from_secs(60))
    })
    .await
    .unwrap();
    assert_success("ferry upload once the way is clear", &out);
    assert_eq!(std::fs::read(&blocker).unwrap(), bytes);
    let latest = &history(&home)[0];
    assert_eq!(latest["outcome"], "uploaded");
    assert_eq!(latest["verification"], "sha1-by-server");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_history_says_how_each_upload_was_verified() {
    let server = TestServer::start().await;
    let work = tempfile::tempdir().unwrap();
    let home = work.path().join("home");
    let (a, _) = random_file(work.path(), "a.bin", 300_000, 5);
    let (b, _) = random_file(work.path(), "b.bin", 300_000, 6);
    let (c, _) = random_file(work.path(), "c.bin", 300_000, 7);

    // A ferry-server by its base URL: its listing shows size and sha1.
    let base = server.base.clone();
    // The same server's tus endpoint given as if it were any tus server's: Ferry finds the
    // ferry-server behind it and still verifies by its listing.
    let tus = server.url("/files/");
    // @tus/server from npm: no checksum at all.
    let node = node(&["@tus/server", "@tus/file-store"]);
    let mut peer = Command::new(node);
    peer.arg(peers_dir().join("tus-node-server.mjs"))
        .args(["--port", "0", "--dir"])
        .arg(work.path().join("tus-store"));
    let peer = Listening::start("@tus/server", peer, Duration::from_secs(30));
    let plain = format!("{}/files/", peer.url);

    let token = server.ann.clone();
    let home2 = home.clone();
    tokio::task::spawn_blocking(move || {
        for (file, url, token) in [
            (&a, &base, Some(token.as_str())),
            (&b, &tus, Some(token.as_str())),
            (&c, &plain, None),
        ] {
            let out = run_bounded(
                "ferry upload",
                upload(&home2, token, file, url),
                Duration::from_secs(60),
            );
            assert_success(&format!("ferry upload to {url}"), &out);
        }
    })
    .await
    .unwrap();

    let by_file = |name: &str| {
        history(&home)
            .into_iter()
            .find(|h| h["local_path"].as_str().is_some_and(|p| p.ends_with(name)))
            .unwrap_or_else(|| panic!("{name} is in the history"))
    };
    for (name, code, text) in [
        ("a.bin", "sha1-by-server", "verified: sha1 by server"),
        ("b.bin", "sha1-by-server", "verified: sha1 by server"),
        (
            "c.bin",
            "unverified",
            "unverified: the server offers no checksum",
        ),
    ] {
        let entry = by_file(name);
        assert_eq!(entry["outcome"], "uploaded", "{entry:#?}");
        assert_eq!(entry["verification"], code, "{name}: {entry:#?}");
        assert_eq!(entry["verified"], text, "{name}: {entry:#?}");
    }
    let table = ferry_command(&home, None, &["history"]).output().unwrap();
    let table = stdout(&table);
    for (name, text) in [
        ("a.bin", "verified: sha1 by server"),
        ("b.bin", "verified: sha1 by server"),
        ("c.bin", "unverified: the server offers no checksum"),
    ] {
        assert!(
            table.lines().any(|l| l.contains(name) && l.contains(text)),
            "`ferry history` says {text:?} for {name}:\n{table}"
        );
    }
}
