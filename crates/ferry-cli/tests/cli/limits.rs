//! Servers that limit request bodies: `ferry upload` through a real nginx from Debian with its
//! default `client_max_body_size 1m`, and behind a 256 KiB body limit. A 413 to a chunk
//! means smaller chunks, never "the file is too large"; the size that works is remembered.

use std::path::Path;
use std::time::Duration;

use ferry_tests::nginx::Nginx;
use ferry_tests::server::{TestServer, random_file};

use crate::support::{assert_success, ferry_command, run_bounded};

/// `ferry -v upload FILE --server URL` with ann's token, to its end (at most 3 minutes).
fn upload(home: &Path, token: &str, file: &Path, server: &str) -> std::process::Output {
    let command = ferry_command(
        home,
        Some(token),
        &["-v", "upload", file.to_str().unwrap(), "--server", server],
    );
    run_bounded("ferry upload", command, Duration::from_secs(180))
}

/// The chunk size the journal remembers for a server's tus endpoint, if any.
fn remembered_chunk(home: &Path) -> Option<u64> {
    let journal = rusqlite::Connection::open(home.join("journal.db")).unwrap();
    journal
        .query_row(
            "SELECT max_chunk FROM server_limits WHERE protocol = 'tus'",
            [],
            |r| r.get::<_, i64>(0),
        )
        .ok()
        .map(|n| u64::try_from(n).unwrap())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_30_mb_upload_through_debian_nginx_with_its_default_body_limit_succeeds() {
    let server = TestServer::start().await;
    let nginx = Nginx::start(server.addr);
    let work = tempfile::tempdir().unwrap();
    let home = work.path().join("home");
    let (file, bytes) = random_file(work.path(), "big.bin", 30_000_000, 41);
    let (home2, token, base) = (home.clone(), server.ann.clone(), nginx.base.clone());
    let out = tokio::task::spawn_blocking(move || upload(&home2, &token, &file, &base))
        .await
        .unwrap();
    assert_success("ferry upload through nginx", &out);
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(
        said.contains("the server refuses requests of 8388608 bytes (413); sending 4 MiB chunks"),
        "verbose output says the chunks became smaller: {said}"
    );
    assert!(!said.contains("larger than the server accepts"), "{said}");
    assert_eq!(
        std::fs::read(server.file("ann", "big.bin")).unwrap(),
        bytes,
        "the server holds the file byte for byte"
    );
    let learnt = remembered_chunk(&home).expect("the journal remembers the size that works");
    assert!(learnt <= 1 << 20, "below nginx's 1 MiB limit: {learnt}");

    // The next upload starts at the size that works: no 413 again.
    let (again, again_bytes) = random_file(work.path(), "again.bin", 3_000_000, 42);
    let (home2, token, base) = (home.clone(), server.ann.clone(), nginx.base.clone());
    let out = tokio::task::spawn_blocking(move || upload(&home2, &token, &again, &base))
        .await
        .unwrap();
    assert_success("a second ferry upload through nginx", &out);
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(
        said.contains("refused larger requests before") && !said.contains("(413)"),
        "starts at the remembered size: {said}\nnginx: {}",
        nginx.log()
    );
    assert_eq!(
        std::fs::read(server.file("ann", "again.bin")).unwrap(),
        again_bytes
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_upload_behind_a_256_kib_body_limit_goes_up_in_smaller_chunks() {
    let server = TestServer::start().await;
    let nginx = Nginx::start_with(server.addr, Some("256k"));
    let work = tempfile::tempdir().unwrap();
    let home = work.path().join("home");
    let (file, bytes) = random_file(work.path(), "k.bin", 3 << 20, 43);
    let (home2, token, base) = (home.clone(), server.ann.clone(), nginx.base.clone());
    let out = tokio::task::spawn_blocking(move || upload(&home2, &token, &file, &base))
        .await
        .unwrap();
    assert_success("ferry upload behind a 256 KiB limit", &out);
    assert_eq!(std::fs::read(server.file("ann", "k.bin")).unwrap(), bytes);
    let learnt = remembered_chunk(&home).expect("remembered");
    assert!(
        (64 << 10..=256 << 10).contains(&learnt),
        "a size that passes: {learnt}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_limit_below_the_smallest_chunk_fails_with_a_message_naming_it() {
    let server = TestServer::start().await;
    let nginx = Nginx::start_with(server.addr, Some("16k"));
    let work = tempfile::tempdir().unwrap();
    let home = work.path().join("home");
    let (file, _) = random_file(work.path(), "k.bin", 1 << 20, 44);
    let (home2, token, base) = (home.clone(), server.ann.clone(), nginx.base.clone());
    let out = tokio::task::spawn_blocking(move || upload(&home2, &token, &file, &base))
        .await
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "a failure");
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(
        said.contains("refuses requests of 65536 bytes") && said.contains("client_max_body_size"),
        "{said}"
    );
    assert!(!server.file("ann", "k.bin").exists(), "nothing stored");
}
