//! GalileoSend's resume extension at `/galileo`, driven by ferry-proto's real client machine:
//! cut connections, server restarts, competing connections, other users' upload ids.

use ferry_proto::checksum::ChecksumAlgorithm;
use ferry_proto::galileo::{Client, ClientOptions, ErrorCode, GalileoError, Recovery};
use serde_json::Value;

use crate::galileo_client::{connect, data, drive, expect_fatal, recv, send_binary, send_text};
use crate::support::TestServer;

const CHUNK: u64 = 100_000;

fn small_chunks(config: &mut ferry_server::Config) {
    config.galileo_chunksize = CHUNK;
}

/// Options of a Ferry client with the extension: a path in a folder, mtime and sha1.
fn options(path: &str, file: &[u8], resume: Option<String>) -> ClientOptions {
    let mut options = ClientOptions::new("k.bin", file.len() as u64);
    options.path = Some(path.to_owned());
    options.mtime = Some(1_700_000_000);
    options.hash = Some(ChecksumAlgorithm::Sha1.digest(file));
    options.resume_upload = resume;
    options
}

/// Sends the first `chunks` chunks of `file` as a new upload, then drops the connection;
/// returns the upload id.
async fn start_and_cut(server: &TestServer, path: &str, file: &[u8], chunks: usize) -> String {
    let mut client = Client::new(options(path, file, None));
    let frames = drive(
        connect(server, &server.ann).await,
        &mut client,
        file,
        Some(chunks),
    )
    .await;
    let first: Value = serde_json::from_str(&frames[0]).unwrap();
    assert_eq!(first["offset"], 0, "a new upload starts at 0: {first}");
    assert_eq!(client.confirmed_offset(), chunks as u64 * CHUNK);
    client
        .upload_id()
        .expect("the first ready names the upload")
        .to_owned()
}

/// Resumes upload `id` of `file` as far as the server lets it; returns the client.
async fn resume(server: &TestServer, token: &str, path: &str, file: &[u8], id: &str) -> Client {
    let mut client = Client::new(options(path, file, Some(id.to_owned())));
    drive(connect(server, token).await, &mut client, file, None).await;
    client
}

#[tokio::test]
async fn resumes_from_the_server_offset_after_a_connection_cut() {
    let server = TestServer::start_with(small_chunks).await;
    let file = data(350_000, 10);
    let id = start_and_cut(&server, "2024/k.bin", &file, 2).await;
    assert!(
        !server.file("ann", "2024/k.bin").exists(),
        "not published while partial"
    );

    let mut client = Client::new(options("2024/k.bin", &file, Some(id.clone())));
    let frames = drive(
        connect(&server, &server.ann).await,
        &mut client,
        &file,
        None,
    )
    .await;
    let first: Value = serde_json::from_str(&frames[0]).unwrap();
    assert_eq!(first["upload"], id.as_str());
    assert_eq!(
        first["offset"],
        2 * CHUNK,
        "the server holds the two committed chunks"
    );
    assert!(
        frames[1..]
            .iter()
            .all(|f| !f.contains("upload") && !f.contains("offset")),
        "later readies are plain: {frames:?}"
    );
    assert!(client.is_finished(), "{:?}", client.errors());
    assert!(std::fs::read(server.file("ann", "2024/k.bin")).unwrap() == file);
}

#[tokio::test]
async fn a_server_restart_between_two_connections_keeps_the_upload_resumable() {
    let server = TestServer::start_with(small_chunks).await;
    let file = data(250_000, 11);
    let id = start_and_cut(&server, "k.bin", &file, 1).await;
    let server = server.restart().await;

    let mut client = Client::new(options("k.bin", &file, Some(id)));
    let frames = drive(
        connect(&server, &server.ann).await,
        &mut client,
        &file,
        None,
    )
    .await;
    let first: Value = serde_json::from_str(&frames[0]).unwrap();
    assert_eq!(first["offset"], CHUNK, "the offset survived the restart");
    assert!(client.is_finished(), "{:?}", client.errors());
    assert!(std::fs::read(server.file("ann", "k.bin")).unwrap() == file);
}

#[tokio::test]
async fn bob_cannot_resume_anns_upload() {
    let server = TestServer::start_with(small_chunks).await;
    let file = data(250_000, 12);
    let id = start_and_cut(&server, "k.bin", &file, 1).await;

    let bobs = resume(&server, &server.bob, "k.bin", &file, &id).await;
    match bobs.errors() {
        [signal] => assert_eq!(signal.code, Some(ErrorCode::UnknownUpload), "{signal:?}"),
        other => panic!("one unknown_upload error, not {other:?}"),
    }
    assert!(!server.file("bob", "k.bin").exists());

    let anns = resume(&server, &server.ann, "k.bin", &file, &id).await;
    assert!(
        anns.is_finished(),
        "ann's upload was left alone: {:?}",
        anns.errors()
    );
}

#[tokio::test]
async fn a_resume_of_another_file_or_an_unknown_id_is_unknown_upload() {
    let server = TestServer::start_with(small_chunks).await;
    let file = data(250_000, 13);
    let id = start_and_cut(&server, "k.bin", &file, 1).await;
    let other_size = data(250_001, 13);
    let cases = [
        ("another size", "k.bin", &other_size[..], id.clone()),
        ("another path", "other.bin", &file[..], id.clone()),
        ("an unknown id", "k.bin", &file[..], "0".repeat(32)),
        (
            "a hostile id",
            "k.bin",
            &file[..],
            "../../server.db".to_owned(),
        ),
    ];
    for (case, path, bytes, id) in cases {
        let client = resume(&server, &server.ann, path, bytes, &id).await;
        let rejected = client.errors().first().and_then(|s| s.code.clone());
        assert_eq!(rejected, Some(ErrorCode::UnknownUpload), "{case}");
    }
}

#[tokio::test]
async fn a_second_connection_resuming_the_same_upload_wins_over_the_first() {
    let server = TestServer::start_with(small_chunks).await;
    let file = data(300_000, 14);
    let hash = ChecksumAlgorithm::Sha1.digest(&file).to_hex();
    let mut first = connect(&server, &server.ann).await;
    let meta = serde_json::json!({"name": "k.bin", "size": 300_000, "hash": {"type": "sha1", "value": hash}});
    send_text(&mut first, &meta.to_string()).await;
    let ready = recv(&mut first).await;
    let id = ready["upload"].as_str().expect("an upload id").to_owned();
    send_binary(&mut first, &file[..100_000]).await;
    assert_eq!(recv(&mut first).await["ready"], true);

    // The first connection is still open and idle; the second resumes the upload.
    let second = tokio::spawn({
        let file = file.clone();
        let url = crate::galileo_client::ws_url(&server, &server.ann);
        async move {
            let (ws, _) = tokio_tungstenite::connect_async(url).await.unwrap();
            let mut options = ClientOptions::new("k.bin", 300_000);
            options.hash = Some(ChecksumAlgorithm::Sha1.digest(&file));
            options.resume_upload = Some(id);
            let mut client = Client::new(options);
            let frames = drive(ws, &mut client, &file, None).await;
            (client, frames)
        }
    });
    let superseded = expect_fatal(&mut first, "internal").await;
    assert!(
        superseded["error"]
            .as_str()
            .unwrap()
            .contains("another connection took over"),
        "{superseded}"
    );
    let (client, frames) = second.await.unwrap();
    assert!(client.is_finished(), "{:?}", client.errors());
    let first_ready: Value = serde_json::from_str(&frames[0]).unwrap();
    assert_eq!(
        first_ready["offset"], CHUNK,
        "continues after the first connection's chunk"
    );
    assert!(std::fs::read(server.file("ann", "k.bin")).unwrap() == file);
}

#[tokio::test]
async fn a_sha1_announced_in_the_metadata_is_verified_even_without_one_in_finished() {
    let server = TestServer::start().await;
    let file = data(1000, 15);
    let mut ws = connect(&server, &server.ann).await;
    let wrong = ChecksumAlgorithm::Sha1.digest(b"another file").to_hex();
    let meta = serde_json::json!({"name": "k.bin", "size": 1000, "hash": {"type": "sha1", "value": wrong}});
    send_text(&mut ws, &meta.to_string()).await;
    recv(&mut ws).await;
    send_binary(&mut ws, &file).await;
    recv(&mut ws).await;
    send_text(&mut ws, r#"{"finished":true}"#).await;
    expect_fatal(&mut ws, "hash_mismatch").await;
    assert!(!server.file("ann", "k.bin").exists());
}

#[tokio::test]
async fn a_hash_mismatch_of_the_ferry_client_is_reported_as_start_over() {
    let server = TestServer::start().await;
    let file = data(1000, 16);
    let mut options = ClientOptions::new("k.bin", 1000);
    options.hash = Some(ChecksumAlgorithm::Sha1.digest(b"not this file"));
    let mut client = Client::new(options);
    drive(
        connect(&server, &server.ann).await,
        &mut client,
        &file,
        None,
    )
    .await;
    assert!(!client.is_finished());
    let signal = client.errors().last().expect("an error signal").clone();
    assert_eq!(signal.code, Some(ErrorCode::HashMismatch), "{signal:?}");
    let err = GalileoError::Rejected {
        signal,
        confirmed: 0,
    };
    assert_eq!(
        err.recovery(),
        Recovery::StartOver,
        "the client starts over"
    );
    assert!(!server.file("ann", "k.bin").exists());
}

#[tokio::test]
async fn a_resume_when_the_server_holds_everything_finishes_at_once() {
    let server = TestServer::start_with(small_chunks).await;
    let file = data(200_000, 17);
    let id = start_and_cut(&server, "k.bin", &file, 2).await;
    let mut client = Client::new(options("k.bin", &file, Some(id)));
    let frames = drive(
        connect(&server, &server.ann).await,
        &mut client,
        &file,
        None,
    )
    .await;
    let first: Value = serde_json::from_str(&frames[0]).unwrap();
    assert_eq!(first["offset"], 200_000);
    assert_eq!(frames.len(), 2, "the first ready, then close: {frames:?}");
    assert!(client.is_finished(), "{:?}", client.errors());
    assert!(std::fs::read(server.file("ann", "k.bin")).unwrap() == file);
}

#[tokio::test]
async fn a_full_disk_is_a_fatal_disk_full_and_the_upload_stays_resumable() {
    let server = TestServer::start_with(small_chunks).await;
    let file = data(150_000, 18);
    let id = start_and_cut(&server, "k.bin", &file, 1).await;
    // Writes to /dev/full fail with ENOSPC, as on a full disk.
    let stored = server.data().join("uploads").join(&id);
    std::fs::remove_file(&stored).unwrap();
    std::os::unix::fs::symlink("/dev/full", &stored).unwrap();
    let full = resume(&server, &server.ann, "k.bin", &file, &id).await;
    let signal = full.errors().last().expect("an error signal").clone();
    assert_eq!(signal.code, Some(ErrorCode::DiskFull), "{signal:?}");
    assert!(signal.fatal);

    // Space is back (the data file as the disk left it: the symlinked device held nothing).
    std::fs::remove_file(&stored).unwrap();
    std::fs::write(&stored, b"").unwrap();
    let client = resume(&server, &server.ann, "k.bin", &file, &id).await;
    assert!(client.is_finished(), "{:?}", client.errors());
    assert!(std::fs::read(server.file("ann", "k.bin")).unwrap() == file);
}

#[tokio::test]
async fn an_abandoned_upload_expires_and_is_then_unknown() {
    let server = TestServer::start_with(|c| {
        small_chunks(c);
        // One second: long enough that the upload is not collected while it is sent.
        c.expire_after = std::time::Duration::from_secs(1);
        c.gc_interval = std::time::Duration::from_millis(100);
    })
    .await;
    let file = data(150_000, 19);
    let id = start_and_cut(&server, "k.bin", &file, 1).await;
    let stored = server.data().join("uploads").join(&id);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while stored.exists() {
        assert!(
            std::time::Instant::now() < deadline,
            "the expired upload's data is removed within 5 s"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let client = resume(&server, &server.ann, "k.bin", &file, &id).await;
    let rejected = client.errors().first().and_then(|s| s.code.clone());
    assert_eq!(rejected, Some(ErrorCode::UnknownUpload));
}
