//! Timeouts and limits (issue 10, finding 6): silent and half-sent request heads, bodies
//! and WebSockets that stop arriving, more connections than the cap, too many unfinished
//! uploads, a quota, oversized headers and bodies. Timeouts are set to a second here so the
//! tests end fast; every wait is a bounded poll or a bounded read.

use std::time::Duration;

use tokio::io::AsyncWriteExt;

use crate::galileo_client::{connect, data, expect_fatal, recv, send_binary, send_text};
use crate::hostile_support::{
    create_upload, head, head_of, patch_head, read_answer, send_raw, status_of,
};
use crate::support::TestServer;

/// Generous: ten times the one-second timeouts these tests configure.
const WITHIN: Duration = Duration::from_secs(10);

fn short_timeouts(config: &mut ferry_server::Config) {
    config.header_timeout = Duration::from_secs(1);
    config.idle_timeout = Duration::from_secs(1);
    config.galileo_chunksize = 1000;
}

#[tokio::test]
async fn silent_and_half_sent_request_heads_are_closed_after_the_header_timeout() {
    let server = TestServer::start_with(short_timeouts).await;
    let mut silent = send_raw(server.addr, b"").await;
    let mut half = send_raw(
        server.addr,
        b"POST /files/ HTTP/1.1\r\nHost: 127.0.0.1\r\nUpload-Length: 10\r\n",
    )
    .await;
    for (what, stream) in [("silent", &mut silent), ("half-sent", &mut half)] {
        let answer = read_answer(stream, WITHIN).await;
        assert!(
            answer.is_some(),
            "a {what} connection is closed within {WITHIN:?} (header timeout 1 s)"
        );
    }
    // A keep-alive connection that goes quiet after a request is closed the same way.
    let mut kept = send_raw(server.addr, &head_of("GET", "/healthz", &[])).await;
    let first = read_answer(&mut kept, WITHIN).await.expect("an answer");
    assert_eq!(status_of(&first), Some(200));
    assert!(
        read_answer(&mut kept, WITHIN).await.is_some(),
        "an idle keep-alive connection is closed"
    );
}

#[tokio::test]
async fn a_patch_body_that_stops_arriving_is_cut_and_what_arrived_is_committed() {
    let server = TestServer::start_with(short_timeouts).await;
    let location = create_upload(&server.base, &server.ann, 1000, "stalled.bin").await;
    let bytes = data(1000, 3);
    let mut stream = send_raw(server.addr, &patch_head(&location, &server.ann, 0, 1000)).await;
    stream.write_all(&bytes[..400]).await.unwrap();
    // No HEAD meanwhile: a HEAD would take the upload over and end the PATCH itself.
    let answer = read_answer(&mut stream, WITHIN).await;
    assert!(
        answer.is_some(),
        "a PATCH body silent for the idle timeout (1 s) is cut within {WITHIN:?}"
    );
    assert_eq!(
        head(&server.base, &server.ann, &location).await,
        (200, Some(400)),
        "the 400 bytes that arrived are committed (no checksum came)"
    );
    let mut rest = send_raw(server.addr, &patch_head(&location, &server.ann, 400, 600)).await;
    rest.write_all(&bytes[400..]).await.unwrap();
    let answer = read_answer(&mut rest, WITHIN).await.expect("an answer");
    assert_eq!(status_of(&answer), Some(204), "{answer}");
    assert!(std::fs::read(server.file("ann", "stalled.bin")).unwrap() == bytes);
}

#[tokio::test]
async fn idle_websockets_are_closed_with_and_without_an_upload() {
    let server = TestServer::start_with(short_timeouts).await;
    let mut silent = connect(&server, &server.ann).await;
    expect_fatal(&mut silent, "protocol").await;

    let bytes = data(2000, 5);
    let mut ws = connect(&server, &server.ann).await;
    let meta = serde_json::json!({"name": "idle.bin", "path": "idle.bin", "size": 2000});
    send_text(&mut ws, &meta.to_string()).await;
    let ready = recv(&mut ws).await;
    let id = ready["upload"].as_str().expect("an upload id").to_owned();
    send_binary(&mut ws, &bytes[..1000]).await;
    assert_eq!(recv(&mut ws).await["ready"], true);
    // Now silent mid-upload.
    expect_fatal(&mut ws, "protocol").await;

    let mut again = connect(&server, &server.ann).await;
    let resume =
        serde_json::json!({"name": "idle.bin", "path": "idle.bin", "size": 2000, "upload": id});
    send_text(&mut again, &resume.to_string()).await;
    let ready = recv(&mut again).await;
    assert_eq!(
        ready["offset"], 1000,
        "the committed chunk survived: {ready}"
    );
}

#[tokio::test]
async fn connections_beyond_the_cap_wait_until_one_closes() {
    let server = TestServer::start_with(|c| c.max_connections = 2).await;
    let first = send_raw(server.addr, b"").await;
    let _second = send_raw(server.addr, b"").await;
    let mut third = send_raw(server.addr, &head_of("GET", "/healthz", &[])).await;
    assert_eq!(
        read_answer(&mut third, Duration::from_secs(1)).await,
        None,
        "a third connection is not served while two are open (cap: 2)"
    );
    drop(first);
    let answer = read_answer(&mut third, WITHIN)
        .await
        .expect("served once a place is free");
    assert_eq!(status_of(&answer), Some(200), "{answer}");
}

#[tokio::test]
async fn unfinished_uploads_per_user_are_capped() {
    let server = TestServer::start_with(|c| c.max_unfinished = 3).await;
    let mut made = Vec::new();
    for i in 0..3 {
        made.push(create_upload(&server.base, &server.ann, 10, &format!("u{i}")).await);
    }
    let http = TestServer::http();
    let fourth = http
        .post(server.url("/files/"))
        .header("tus-resumable", "1.0.0")
        .header("upload-length", "10")
        .bearer_auth(&server.ann)
        .send()
        .await
        .unwrap();
    assert_eq!(
        fourth.status(),
        403,
        "a fourth unfinished upload is refused"
    );
    let mut ws = connect(&server, &server.ann).await;
    send_text(&mut ws, r#"{"name": "g.bin", "size": 10}"#).await;
    expect_fatal(&mut ws, "too_large").await;
    create_upload(&server.base, &server.bob, 10, "bob's").await;
    let deleted = http
        .delete(server.url(&made[0]))
        .header("tus-resumable", "1.0.0")
        .bearer_auth(&server.ann)
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), 204);
    create_upload(&server.base, &server.ann, 10, "u3").await;
}

#[tokio::test]
async fn the_quota_counts_finished_files_and_unfinished_uploads() {
    let server = TestServer::start_with(|c| c.quota = Some(1000)).await;
    let http = TestServer::http();
    let post = |length: &'static str, deferred: bool| {
        let mut request = http
            .post(server.url("/files/"))
            .header("tus-resumable", "1.0.0")
            .bearer_auth(&server.ann);
        request = if deferred {
            request.header("upload-defer-length", "1")
        } else {
            request.header("upload-length", length)
        };
        request.send()
    };
    let first = create_upload(&server.base, &server.ann, 600, "first.bin").await;
    assert_eq!(
        post("500", false).await.unwrap().status(),
        403,
        "600 + 500 > 1000"
    );
    let mut stream = send_raw(server.addr, &patch_head(&first, &server.ann, 0, 600)).await;
    stream.write_all(&data(600, 1)).await.unwrap();
    let answer = read_answer(&mut stream, WITHIN).await.expect("an answer");
    assert_eq!(status_of(&answer), Some(204), "{answer}");
    assert!(server.file("ann", "first.bin").is_file());
    create_upload(&server.base, &server.ann, 400, "second.bin").await;
    assert_eq!(
        post("1", false).await.unwrap().status(),
        403,
        "the quota is full"
    );

    // A deferred length is checked when it is declared.
    let roomy = TestServer::start_with(|c| c.quota = Some(1000)).await;
    let deferred = TestServer::http()
        .post(roomy.url("/files/"))
        .header("tus-resumable", "1.0.0")
        .header("upload-defer-length", "1")
        .bearer_auth(&roomy.ann)
        .send()
        .await
        .unwrap();
    assert_eq!(deferred.status(), 201);
    let location = deferred.headers()["location"].to_str().unwrap().to_owned();
    let declared = TestServer::http()
        .patch(roomy.url(&location))
        .header("tus-resumable", "1.0.0")
        .header("upload-offset", "0")
        .header("upload-length", "5000")
        .header("content-type", "application/offset+octet-stream")
        .bearer_auth(&roomy.ann)
        .body(Vec::new())
        .send()
        .await
        .unwrap();
    assert_eq!(
        declared.status(),
        403,
        "5000 bytes do not fit a 1000-byte quota"
    );
    // Nor can a deferred-length upload stream past the quota before it declares a length.
    let stream_body = |len: usize| {
        TestServer::http()
            .patch(roomy.url(&location))
            .header("tus-resumable", "1.0.0")
            .header("upload-offset", "0")
            .header("content-type", "application/offset+octet-stream")
            .bearer_auth(&roomy.ann)
            .body(vec![7u8; len])
            .send()
    };
    assert_eq!(stream_body(1200).await.unwrap().status(), 413);
    assert_eq!(stream_body(600).await.unwrap().status(), 204);
}

#[tokio::test]
async fn oversized_headers_metadata_and_json_bodies_are_refused() {
    let server = TestServer::start().await;
    let big = "x".repeat(100_000);
    for (name, value) in [
        ("X-Padding", big.clone()),
        ("Upload-Metadata", format!("filename {big}")),
    ] {
        let mut stream = send_raw(
            server.addr,
            &head_of(
                "POST",
                "/files/",
                &[
                    ("Tus-Resumable", "1.0.0".into()),
                    ("Authorization", format!("Bearer {}", server.ann)),
                    ("Upload-Length", "10".into()),
                    (name, value),
                ],
            ),
        )
        .await;
        let answer = read_answer(&mut stream, WITHIN).await.expect("an answer");
        assert_eq!(
            status_of(&answer),
            Some(431),
            "a 100 KB {name} header: {answer}"
        );
    }
    let many: Vec<(String, String)> = (0..200).map(|i| (format!("X-H{i}"), "v".into())).collect();
    let many: Vec<(&str, String)> = many.iter().map(|(k, v)| (k.as_str(), v.clone())).collect();
    let mut stream = send_raw(server.addr, &head_of("GET", "/healthz", &many)).await;
    let answer = read_answer(&mut stream, WITHIN).await.expect("an answer");
    assert_eq!(status_of(&answer), Some(431), "200 headers: {answer}");

    let huge_json = serde_json::json!({"username": "ann", "password": "x".repeat(1 << 20)});
    let reply = TestServer::http()
        .post(server.url("/api/v1/login"))
        .json(&huge_json)
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), 400, "a 1 MiB sign-in body is refused");
}

#[tokio::test]
async fn a_tls_handshake_that_never_comes_is_cut_after_the_header_timeout() {
    let certified = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    let pem_dir = tempfile::tempdir().unwrap();
    let (cert, key) = (
        pem_dir.path().join("cert.pem"),
        pem_dir.path().join("key.pem"),
    );
    std::fs::write(&cert, certified.cert.pem()).unwrap();
    std::fs::write(&key, certified.key_pair.serialize_pem()).unwrap();
    let server = TestServer::start_with(|c| {
        c.tls = Some(ferry_server::TlsFiles { cert, key });
        c.header_timeout = Duration::from_secs(1);
    })
    .await;
    let started = std::time::Instant::now();
    let mut silent = send_raw(server.addr, b"").await;
    assert!(
        read_answer(&mut silent, WITHIN).await.is_some(),
        "a connection that never starts its TLS handshake is closed"
    );
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "closed after {:?}, not after the 1 s header timeout",
        started.elapsed()
    );
}
