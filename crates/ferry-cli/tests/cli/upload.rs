//! `ferry upload` as a user runs it, against a real ferry-server on 127.0.0.1: whole
//! uploads over both protocols, a process killed mid-upload and run again, refusals.

use std::process::{Command, Stdio};
use std::time::Duration;

use ferry_proto::checksum::ChecksumAlgorithm;
use ferry_tests::proxy::FaultProxy;
use ferry_tests::server::{TestServer, random_file};

use crate::support::stdout;

fn ferry_with_token(home: &std::path::Path, token: &str, args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_ferry"));
    command
        .arg("--home")
        .arg(home)
        .args(args)
        .env_remove("FERRY_HOME")
        .env("FERRY_TOKEN", token)
        .stdin(Stdio::null());
    command
}

async fn output(mut command: Command) -> std::process::Output {
    tokio::task::spawn_blocking(move || command.output().expect("ferry runs"))
        .await
        .unwrap()
}

fn sha1(bytes: &[u8]) -> String {
    ChecksumAlgorithm::Sha1.digest(bytes).to_hex()
}

#[tokio::test(flavor = "multi_thread")]
async fn uploads_over_tus_and_galileo_and_records_them_in_history() {
    let server = TestServer::start().await;
    let work = tempfile::tempdir().unwrap();
    let home = work.path().join("home");
    let (small, small_bytes) = random_file(work.path(), "small.txt", 3_000, 1);
    let (big, big_bytes) = random_file(work.path(), "big.bin", 5 << 20, 2);
    let tus = output(ferry_with_token(
        &home,
        &server.ann,
        &[
            "upload",
            small.to_str().unwrap(),
            big.to_str().unwrap(),
            "--server",
            &server.base,
            "--remote",
            "docs",
            "--chunk-size",
            "1048576",
        ],
    ))
    .await;
    assert!(
        tus.status.success(),
        "{}",
        String::from_utf8_lossy(&tus.stderr)
    );
    assert_eq!(
        std::fs::read(server.file("ann", "docs/small.txt")).unwrap(),
        small_bytes
    );
    assert_eq!(
        std::fs::read(server.file("ann", "docs/big.bin")).unwrap(),
        big_bytes
    );

    let galileo = output(ferry_with_token(
        &home,
        &server.ann,
        &[
            "upload",
            big.to_str().unwrap(),
            "--server",
            &server.base,
            "--protocol",
            "galileo",
            "--remote",
            "g/big.bin",
        ],
    ))
    .await;
    assert!(
        galileo.status.success(),
        "{}",
        String::from_utf8_lossy(&galileo.stderr)
    );
    assert_eq!(
        std::fs::read(server.file("ann", "g/big.bin")).unwrap(),
        big_bytes
    );

    let history = output(ferry_with_token(&home, "", &["--json", "history"])).await;
    let rows: serde_json::Value = serde_json::from_slice(&history.stdout).unwrap();
    let rows = rows.as_array().unwrap();
    assert_eq!(rows.len(), 3, "{rows:?}");
    assert!(rows.iter().all(|r| r["outcome"] == "uploaded"));
    assert_eq!(rows[0]["protocol"], "galileo", "newest first");
    assert_eq!(rows[0]["sha1"], sha1(&big_bytes));
    assert_eq!(rows[0]["remote_path"], "g/big.bin");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_killed_upload_continues_where_the_server_stands() {
    let server = TestServer::start().await;
    let work = tempfile::tempdir().unwrap();
    let home = work.path().join("home");
    let (file, bytes) = random_file(work.path(), "slow.bin", 3 << 20, 3);
    let args = [
        "upload",
        file.to_str().unwrap(),
        "--server",
        &server.base,
        "--chunk-size",
        "262144",
        "--limit-rate",
        "1048576",
    ];
    let log = work.path().join("first.log");
    let mut first = ferry_with_token(&home, &server.ann, &args)
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    // Kill it once the journal shows confirmed progress (read here through the engine's
    // front door, without spawning a process per look; bounded: 60 s at most).
    let service = ferry_engine::service::Service::open(
        ferry_engine::home::Home::locate(Some(&home)).unwrap(),
        ferry_engine::auth::Credentials::with_env_token(None),
    )
    .await
    .unwrap();
    for _ in 0..600 {
        let progress = service
            .status()
            .await
            .ok()
            .and_then(|status| status.uploads.first().map(|u| u.confirmed));
        if progress.is_some_and(|c| c > 0) || first.try_wait().unwrap().is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        first.try_wait().unwrap().is_none(),
        "the first run ended on its own: {}",
        std::fs::read_to_string(&log).unwrap_or_default()
    );
    first.kill().unwrap();
    first.wait().unwrap();
    assert!(
        !server.file("ann", "slow.bin").exists(),
        "killed before the end"
    );

    let status = output(ferry_with_token(&home, "", &["--json", "status"])).await;
    let open: serde_json::Value = serde_json::from_slice(&status.stdout).unwrap();
    let confirmed = open["uploads"][0]["confirmed"]
        .as_u64()
        .expect("the journal holds the unfinished upload");
    assert!(
        confirmed > 0 && confirmed < bytes.len() as u64,
        "confirmed {confirmed}"
    );

    let second = output(ferry_with_token(
        &home,
        &server.ann,
        &[
            "--json",
            "upload",
            file.to_str().unwrap(),
            "--server",
            &server.base,
        ],
    ))
    .await;
    assert!(
        second.status.success(),
        "{}",
        String::from_utf8_lossy(&second.stderr)
    );
    assert_eq!(
        std::fs::read(server.file("ann", "slow.bin")).unwrap(),
        bytes
    );
    let done: serde_json::Value =
        serde_json::from_str(stdout(&second).lines().next().unwrap()).unwrap();
    let resent = done["bytes_sent"].as_u64().unwrap();
    assert!(
        resent + confirmed <= bytes.len() as u64 + 262_144,
        "the second run sent {resent} bytes after {confirmed} were confirmed: at most one chunk again"
    );
    let history = output(ferry_with_token(&home, "", &["--json", "history"])).await;
    let rows: serde_json::Value = serde_json::from_slice(&history.stdout).unwrap();
    assert_eq!(
        rows.as_array().unwrap().len(),
        1,
        "one upload in the journal, not two"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_wrong_token_fails_with_a_sign_in_hint_and_exit_code_1() {
    let server = TestServer::start().await;
    let work = tempfile::tempdir().unwrap();
    let (file, _) = random_file(work.path(), "f.bin", 1000, 4);
    let out = output(ferry_with_token(
        &work.path().join("home"),
        "fry_wrong",
        &["upload", file.to_str().unwrap(), "--server", &server.base],
    ))
    .await;
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("sign in again"), "{stderr}");
    assert!(
        !stderr.contains("fry_wrong"),
        "the token never shows: {stderr}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn killed_five_times_it_finishes_resending_at_most_a_chunk_per_kill() {
    const CHUNK: u64 = 256 * 1024;
    let server = TestServer::start().await;
    let proxy = FaultProxy::start(server.addr).await.unwrap();
    let base = format!("http://{}", proxy.addr());
    let work = tempfile::tempdir().unwrap();
    let home = work.path().join("home");
    let (file, bytes) = random_file(work.path(), "big.bin", 6 << 20, 5);
    let chunk = CHUNK.to_string();
    let args = [
        "upload",
        file.to_str().unwrap(),
        "--server",
        &base,
        "--chunk-size",
        &chunk,
        "--limit-rate",
        "2097152",
    ];
    for wait_ms in [450, 700, 350, 900, 600] {
        let mut run = ferry_with_token(&home, &server.ann, &args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        tokio::time::sleep(Duration::from_millis(wait_ms)).await;
        run.kill().unwrap();
        run.wait().unwrap();
    }
    assert!(
        !server.file("ann", "big.bin").exists(),
        "five kills came before the end"
    );
    let last = output(ferry_with_token(&home, &server.ann, &args)).await;
    assert!(
        last.status.success(),
        "{}",
        String::from_utf8_lossy(&last.stderr)
    );
    assert_eq!(std::fs::read(server.file("ann", "big.bin")).unwrap(), bytes);
    let history = output(ferry_with_token(&home, "", &["--json", "history"])).await;
    let rows: serde_json::Value = serde_json::from_slice(&history.stdout).unwrap();
    assert_eq!(
        rows.as_array().unwrap().len(),
        1,
        "one upload in the journal"
    );
    // Everything that crossed the network: the file, at most one chunk again per kill, and
    // the requests' own headers and JSON.
    let waste = proxy.upstream_bytes() - bytes.len() as u64;
    assert!(
        waste <= 5 * CHUNK + 64 * 1024,
        "{waste} bytes beyond the file after 5 kills"
    );
}
