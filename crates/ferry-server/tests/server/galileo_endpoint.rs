//! GalileoSend at `/galileo` with raw frames: the original 2013 client's behaviour, and
//! every way a client can get it wrong (sizes, hashes, paths, tokens, JSON, frame sizes).

use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

use crate::galileo_client::{
    connect, data, expect_fatal, recv, send_binary, send_text, sha1_hex,
    upload_like_the_original_client, ws_url,
};
use crate::support::{TestServer, files_under};

#[tokio::test]
async fn the_original_client_uploads_in_250000_byte_chunks_and_never_sees_extension_keys() {
    // chunksize 0: the server names none, so the client uses its own 250000 bytes.
    let server = TestServer::start_with(|c| c.galileo_chunksize = 0).await;
    let file = data(600_000, 1);
    let mut ws = connect(&server, &server.ann).await;
    let frames = upload_like_the_original_client(&mut ws, "notes.bin", &file).await;
    assert_eq!(
        frames,
        [
            r#"{"ready":true}"#,
            r#"{"ready":true}"#,
            r#"{"ready":true}"#,
            r#"{"ready":true}"#,
            r#"{"close":true}"#
        ],
        "exactly the original protocol: three chunks, the ready before finished, close"
    );
    let stored = std::fs::read(server.file("ann", "notes.bin")).expect("the file is published");
    assert!(stored == file, "the stored file is byte-identical");
    assert_eq!(
        files_under(&server.data().join("uploads")),
        Vec::<std::path::PathBuf>::new(),
        "nothing stays behind in uploads/"
    );
    let listed: Value = TestServer::http()
        .get(server.url("/api/v1/files"))
        .bearer_auth(&server.ann)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(listed[0]["path"], "notes.bin");
    assert_eq!(listed[0]["size"], 600_000);
    assert_eq!(listed[0]["sha1"], sha1_hex(&file));
}

#[tokio::test]
async fn the_original_client_follows_the_chunksize_the_server_asks_for() {
    let server = TestServer::start_with(|c| c.galileo_chunksize = 100_000).await;
    let file = data(250_001, 2);
    let mut ws = connect(&server, &server.ann).await;
    let frames = upload_like_the_original_client(&mut ws, "a.bin", &file).await;
    assert_eq!(
        frames.len(),
        5,
        "readies for 3 chunks + finished, then close: {frames:?}"
    );
    assert!(
        frames[..4]
            .iter()
            .all(|f| f == r#"{"ready":true,"chunksize":100000}"#),
        "{frames:?}"
    );
    assert_eq!(frames[4], r#"{"close":true}"#);
    assert!(std::fs::read(server.file("ann", "a.bin")).unwrap() == file);
}

#[tokio::test]
async fn an_empty_file_with_an_empty_binary_frame_is_stored_empty() {
    let server = TestServer::start().await;
    let mut ws = connect(&server, &server.ann).await;
    let frames = upload_like_the_original_client(&mut ws, "empty.txt", &[]).await;
    assert_eq!(
        frames.last().map(String::as_str),
        Some(r#"{"close":true}"#),
        "{frames:?}"
    );
    assert_eq!(
        frames.len(),
        3,
        "ready, ready for the empty frame, close: {frames:?}"
    );
    let stored = std::fs::read(server.file("ann", "empty.txt")).expect("published");
    assert!(stored.is_empty());
}

#[tokio::test]
async fn more_bytes_than_announced_is_a_fatal_size_mismatch() {
    let server = TestServer::start().await;
    let mut ws = connect(&server, &server.ann).await;
    send_text(&mut ws, r#"{"name":"a.bin","size":10}"#).await;
    assert_eq!(recv(&mut ws).await["ready"], true);
    send_binary(&mut ws, &[7; 11]).await;
    expect_fatal(&mut ws, "size_mismatch").await;
    assert!(!server.file("ann", "a.bin").exists());
}

#[tokio::test]
async fn finished_before_all_bytes_arrived_is_a_fatal_size_mismatch() {
    let server = TestServer::start().await;
    let mut ws = connect(&server, &server.ann).await;
    send_text(&mut ws, r#"{"name":"a.bin","size":10}"#).await;
    assert_eq!(recv(&mut ws).await["ready"], true);
    send_binary(&mut ws, &[7; 4]).await;
    assert_eq!(recv(&mut ws).await["ready"], true);
    send_text(&mut ws, r#"{"finished":true}"#).await;
    expect_fatal(&mut ws, "size_mismatch").await;
    assert!(!server.file("ann", "a.bin").exists());
}

#[tokio::test]
async fn a_wrong_hash_in_finished_is_a_fatal_hash_mismatch_and_nothing_is_published() {
    let server = TestServer::start().await;
    let file = data(1000, 3);
    let mut ws = connect(&server, &server.ann).await;
    send_text(&mut ws, r#"{"name":"a.bin","size":1000}"#).await;
    recv(&mut ws).await;
    send_binary(&mut ws, &file).await;
    recv(&mut ws).await;
    let wrong = sha1_hex(b"something else");
    send_text(
        &mut ws,
        &json!({"finished": true, "hash": {"type": "sha1", "value": wrong}}).to_string(),
    )
    .await;
    expect_fatal(&mut ws, "hash_mismatch").await;
    assert!(!server.file("ann", "a.bin").exists(), "nothing published");
    assert_eq!(
        files_under(&server.data().join("files")),
        Vec::<std::path::PathBuf>::new()
    );
}

#[tokio::test]
async fn a_right_hash_in_finished_is_verified_and_accepted() {
    let server = TestServer::start().await;
    let file = data(1000, 4);
    let mut ws = connect(&server, &server.ann).await;
    send_text(&mut ws, r#"{"name":"a.bin","size":1000}"#).await;
    recv(&mut ws).await;
    send_binary(&mut ws, &file).await;
    recv(&mut ws).await;
    let finished = json!({"finished": true, "hash": {"type": "SHA1", "value": sha1_hex(&file).to_uppercase()}});
    send_text(&mut ws, &finished.to_string()).await;
    assert_eq!(recv(&mut ws).await, json!({"close": true}));
    assert!(std::fs::read(server.file("ann", "a.bin")).unwrap() == file);
}

#[tokio::test]
async fn a_file_above_max_size_is_a_fatal_too_large() {
    let server = TestServer::start_with(|c| c.max_size = Some(1000)).await;
    let mut ws = connect(&server, &server.ann).await;
    send_text(&mut ws, r#"{"name":"big.bin","size":1001}"#).await;
    expect_fatal(&mut ws, "too_large").await;
    let mut ws = connect(&server, &server.ann).await;
    let frames = upload_like_the_original_client(&mut ws, "ok.bin", &data(1000, 5)).await;
    assert_eq!(
        frames.last().unwrap(),
        r#"{"close":true}"#,
        "the limit itself is fine"
    );
}

#[tokio::test]
async fn hostile_paths_are_a_fatal_bad_path_and_nothing_lands_outside_the_users_folder() {
    let server = TestServer::start().await;
    let metas = [
        json!({"name": "../escape.txt", "size": 3}),
        json!({"name": "/etc/escape.txt", "size": 3}),
        json!({"name": "ok.txt", "size": 3, "path": "../../escape.txt"}),
        json!({"name": "ok.txt", "size": 3, "path": "a/../../escape.txt"}),
        json!({"name": "ok.txt", "size": 3, "path": "/tmp/escape.txt"}),
        json!({"name": "ok.txt", "size": 3, "path": "a\u{0}b"}),
        json!({"name": "ok.txt", "size": 3, "path": "a//b"}),
        json!({"name": "ok.txt", "size": 3, "path": "..\\escape.txt"}),
        json!({"name": "ok.txt", "size": 3, "path": "n".repeat(300)}),
    ];
    for meta in metas {
        let mut ws = connect(&server, &server.ann).await;
        send_text(&mut ws, &meta.to_string()).await;
        let signal = expect_fatal(&mut ws, "bad_path").await;
        assert!(signal["upload"].is_null(), "{meta}: {signal}");
    }
    let everything = files_under(&server.data());
    assert!(
        everything
            .iter()
            .all(|p| p.to_str().is_some_and(|s| s.starts_with("server.db"))),
        "no file but the database anywhere under DIR: {everything:?}"
    );
    assert!(!server.data().parent().unwrap().join("escape.txt").exists());
}

#[tokio::test]
async fn a_missing_wrong_or_revoked_token_is_refused_with_401_before_the_upgrade() {
    let server = TestServer::start().await;
    let status = |err: tokio_tungstenite::tungstenite::Error| match err {
        tokio_tungstenite::tungstenite::Error::Http(response) => response.status().as_u16(),
        other => panic!("an HTTP refusal, not {other}"),
    };
    let missing = format!("ws://{}/galileo", server.addr);
    let err = tokio_tungstenite::connect_async(missing).await.unwrap_err();
    assert_eq!(status(err), 401, "no token");
    let err = tokio_tungstenite::connect_async(ws_url(&server, "not-a-token"))
        .await
        .unwrap_err();
    assert_eq!(status(err), 401, "a wrong token");

    // The header works as well as the query.
    let mut request = format!("ws://{}/galileo", server.addr)
        .into_client_request()
        .unwrap();
    request.headers_mut().insert(
        "authorization",
        format!("Bearer {}", server.ann).parse().unwrap(),
    );
    assert!(
        tokio_tungstenite::connect_async(request).await.is_ok(),
        "Authorization header"
    );

    let logout = TestServer::http()
        .post(server.url("/api/v1/logout"))
        .bearer_auth(&server.ann)
        .send()
        .await
        .unwrap();
    assert!(logout.status().is_success());
    let err = tokio_tungstenite::connect_async(ws_url(&server, &server.ann))
        .await
        .unwrap_err();
    assert_eq!(status(err), 401, "a revoked token");
}

#[tokio::test]
async fn malformed_json_is_a_fatal_bad_message() {
    let server = TestServer::start().await;
    for text in ["{nope", "[1,2]", r#"{"hello":true}"#] {
        let mut ws = connect(&server, &server.ann).await;
        send_text(&mut ws, text).await;
        expect_fatal(&mut ws, "bad_message").await;
    }
}

#[tokio::test]
async fn data_before_the_metadata_is_a_fatal_protocol_error() {
    let server = TestServer::start().await;
    let mut ws = connect(&server, &server.ann).await;
    send_binary(&mut ws, &[1, 2, 3]).await;
    expect_fatal(&mut ws, "protocol").await;
}

#[tokio::test]
async fn a_frame_above_the_chunk_limit_is_a_fatal_chunk_too_large() {
    let server = TestServer::start_with(|c| c.galileo_chunksize = 300_000).await;
    // Just above the chunk size: the session refuses it.
    let mut ws = connect(&server, &server.ann).await;
    send_text(&mut ws, r#"{"name":"a.bin","size":5000000}"#).await;
    recv(&mut ws).await;
    send_binary(&mut ws, &vec![0; 300_001]).await;
    expect_fatal(&mut ws, "chunk_too_large").await;
    // Far above it: the WebSocket layer refuses it before buffering it.
    let mut ws = connect(&server, &server.ann).await;
    send_text(&mut ws, r#"{"name":"a.bin","size":5000000}"#).await;
    recv(&mut ws).await;
    send_binary(&mut ws, &vec![0; 2_000_000]).await;
    expect_fatal(&mut ws, "chunk_too_large").await;
}
