//! A server whose disk is full: ferry-server with its data directory on a small tmpfs the
//! test mounts. `ferry upload` stops at once with exit code 1 and says so, the journal does
//! not call the file uploaded, and once there is room the same command resumes from the
//! server's offset; folder sync shows the file as waiting for space.

use std::path::Path;
use std::time::Duration;

use ferry_tests::server::{TestServer, random_file};
use ferry_tests::tmpfs::Tmpfs;

use crate::support::{
    Running, assert_success, ferry_command, run_bounded, signal, stdout, wait_until,
};

const FULL: &str = "the server is out of space; run the same command again once space is freed";

async fn run(home: &Path, token: &str, args: &[&str]) -> std::process::Output {
    let command = ferry_command(home, Some(token), args);
    tokio::task::spawn_blocking(move || run_bounded("ferry", command, Duration::from_secs(120)))
        .await
        .unwrap()
}

/// How many uploads the journal in `home` records as uploaded.
fn uploaded_in_history(home: &Path) -> i64 {
    let journal = rusqlite::Connection::open(home.join("journal.db")).unwrap();
    journal
        .query_row(
            "SELECT COUNT(*) FROM history WHERE outcome = 'uploaded'",
            [],
            |r| r.get(0),
        )
        .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_full_disk_on_the_server_stops_the_upload_and_the_same_command_resumes_once_there_is_room()
 {
    let disk = Tmpfs::mount("4m");
    let data = disk.path().join("data");
    let server = TestServer::start_with(|c| c.data_dir.clone_from(&data)).await;
    let work = tempfile::tempdir().unwrap();
    let home = work.path().join("home");
    let (file, bytes) = random_file(work.path(), "k.bin", 8 << 20, 51);
    let args = [
        "upload",
        file.to_str().unwrap(),
        "--server",
        &server.base,
        "--chunk-size",
        "1048576",
    ];
    let out = run(&home, &server.ann, &args).await;
    let said = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(1), "exit code 1: {said}");
    assert!(said.contains(FULL), "says why and what to do: {said}");
    assert!(
        !said.contains("trying again in"),
        "stops at once, no retries: {said}"
    );
    assert_eq!(uploaded_in_history(&home), 0, "not recorded as uploaded");
    let stored = data.join("files/ann/k.bin");
    assert!(!stored.exists(), "not stored");

    disk.resize("64m");
    let again = run(&home, &server.ann, &args).await;
    assert_success("ferry upload once there is room", &again);
    let said = String::from_utf8_lossy(&again.stderr);
    assert!(
        said.contains("resuming"),
        "continues from the server's offset: {said}"
    );
    assert_eq!(std::fs::read(&stored).unwrap(), bytes, "byte for byte");
    assert_eq!(uploaded_in_history(&home), 1);
    server.stop().await;
}

/// A ferry-server on a 3 MiB tmpfs and a home syncing a folder with a 6 MiB file: the file
/// cannot fit.
struct FullServer {
    server: TestServer,
    home: std::path::PathBuf,
    _disk: Tmpfs,
    _work: tempfile::TempDir,
}

impl FullServer {
    async fn with_a_synced_file(seed: u64) -> Self {
        let disk = Tmpfs::mount("3m");
        let data = disk.path().join("data");
        let server = TestServer::start_with(|c| c.data_dir.clone_from(&data)).await;
        let work = tempfile::tempdir().unwrap();
        let home = work.path().join("home");
        let folder = work.path().join("synced");
        std::fs::create_dir(&folder).unwrap();
        random_file(&folder, "big.bin", 6 << 20, seed);
        let args = [
            "folder",
            "add",
            folder.to_str().unwrap(),
            "--server",
            &server.base,
        ];
        assert_success("ferry folder add", &run(&home, &server.ann, &args).await);
        Self {
            server,
            home,
            _disk: disk,
            _work: work,
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn folder_sync_shows_a_file_waiting_for_space_on_a_full_server() {
    let FullServer {
        server,
        home,
        _disk,
        _work,
    } = FullServer::with_a_synced_file(52).await;
    let synced = run(&home, &server.ann, &["sync", "--once", "--quiet-ms", "0"]).await;
    assert!(!synced.status.success(), "the file did not go up");
    let status = run(&home, &server.ann, &["status"]).await;
    let shown = format!(
        "{}{}",
        stdout(&status),
        String::from_utf8_lossy(&synced.stderr)
    );
    assert!(
        shown.contains("waiting: the server is out of space"),
        "status shows why the file waits: {shown}"
    );
    assert_eq!(uploaded_in_history(&home), 0);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_running_sync_says_once_that_the_server_is_out_of_space_and_the_file_waits_for_it() {
    let FullServer {
        server,
        home,
        _disk,
        _work,
    } = FullServer::with_a_synced_file(53).await;
    let mut sync = Running::spawn(
        "ferry sync",
        ferry_command(&home, Some(&server.ann), &["sync", "--quiet-ms", "0"]),
    );
    let mut said = String::new();
    let shown = wait_until(Duration::from_secs(60), || {
        let out = run_bounded(
            "ferry status",
            ferry_command(&home, Some(&server.ann), &["status"]),
            Duration::from_secs(30),
        );
        said = stdout(&out);
        said.contains("is out of space: 1 file waiting, tried again every few minutes")
            && said.contains("waiting for space on the server")
    });
    assert!(
        shown,
        "ferry status should say it once and on the row:\n{said}\n{}",
        sync.dump()
    );
    assert_eq!(uploaded_in_history(&home), 0);
    signal("TERM", sync.id());
    assert_success(
        "ferry sync, stopped with SIGTERM",
        &sync.finish(Duration::from_secs(30)),
    );
    server.stop().await;
}
