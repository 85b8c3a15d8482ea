//! Findings 3 and 5 of the hostile review: an upload that cannot be published never looks
//! complete, and concatenation can be neither abused (a part twice, another user's part, a
//! total past the limit) nor doubled (a final asked for again is the same final).

use reqwest::Method;

use crate::support::TestServer;
use crate::tus_driver::{create, head, metadata, patch, random_bytes, sha1_hex, tus};

/// A created upload of `bytes` to `path` with its sha1, every byte but the last sent.
async fn all_but_the_last_byte(server: &TestServer, path: &str, bytes: &[u8]) -> String {
    let meta = metadata(&[("relativePath", path), ("sha1", &sha1_hex(bytes))]);
    let location = create(server, &server.ann, bytes.len() as u64, &meta).await;
    let last = bytes.len() - 1;
    let reply = patch(
        server,
        &server.ann,
        &location,
        0,
        bytes[..last].to_vec(),
        &[],
    )
    .await;
    assert_eq!(reply.status(), 204);
    location
}

#[tokio::test]
async fn what_is_in_the_way_at_creation_is_refused_before_a_byte_is_sent() {
    let server = TestServer::start().await;
    std::fs::create_dir_all(server.file("ann", "docs")).unwrap();
    std::fs::write(server.file("ann", "docs/notes"), b"a file").unwrap();
    std::fs::create_dir_all(server.file("ann", "photos/2026")).unwrap();
    for (path, why) in [
        ("docs/notes/today.txt", "is a file, not a folder"),
        ("photos/2026", "a folder of that name"),
    ] {
        let reply = tus(&server, Method::POST, "/files/", &server.ann)
            .header("upload-length", "5")
            .header(
                "upload-metadata",
                metadata(&[("relativePath", path)]).encode(),
            )
            .send()
            .await
            .unwrap();
        assert_eq!(reply.status(), 422, "{path}");
        let text = reply.text().await.unwrap();
        assert!(text.contains(why), "{path}: the reason is said: {text}");
    }
    assert_eq!(
        std::fs::read(server.file("ann", "docs/notes")).unwrap(),
        b"a file",
        "what was in the way is untouched"
    );
}

#[tokio::test]
async fn an_upload_that_cannot_be_published_never_reports_its_whole_length_until_it_is() {
    let server = TestServer::start().await;
    let bytes = random_bytes(100_000);
    let location = all_but_the_last_byte(&server, "late/report.pdf", &bytes).await;
    // Something gets in the way after creation.
    let blocker = server.file("ann", "late/report.pdf");
    std::fs::create_dir_all(&blocker).unwrap();

    let last = bytes.len() - 1;
    let reply = patch(
        &server,
        &server.ann,
        &location,
        last as u64,
        bytes[last..].to_vec(),
        &[],
    )
    .await;
    assert_eq!(
        reply.status(),
        422,
        "the last byte is in, the file cannot be stored"
    );
    assert!(
        reply.text().await.unwrap().contains("folder of that name"),
        "with the reason"
    );
    let reply = head(&server, &server.ann, &location).await;
    assert_eq!(reply.status(), 422, "HEAD says the same, and no offset");
    assert!(reply.headers().get("upload-offset").is_none());
    let empty = patch(
        &server,
        &server.ann,
        &location,
        bytes.len() as u64,
        Vec::new(),
        &[],
    )
    .await;
    assert_eq!(empty.status(), 422, "an empty PATCH at the end too");
    assert!(blocker.is_dir(), "nothing was written over the folder");
    let listed: Vec<serde_json::Value> = tus(
        &server,
        Method::GET,
        "/api/v1/files?path=late/report.pdf",
        &server.ann,
    )
    .send()
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    assert!(listed.is_empty(), "not listed: {listed:?}");

    // The way cleared, HEAD publishes it: complete only now.
    std::fs::remove_dir(&blocker).unwrap();
    let reply = head(&server, &server.ann, &location).await;
    assert_eq!(reply.status(), 200);
    assert_eq!(
        reply.headers()["upload-offset"],
        bytes.len().to_string().as_str()
    );
    assert_eq!(std::fs::read(&blocker).unwrap(), bytes);
    let listed: Vec<serde_json::Value> = tus(
        &server,
        Method::GET,
        "/api/v1/files?path=late/report.pdf",
        &server.ann,
    )
    .send()
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0]["sha1"], sha1_hex(&bytes));
}

/// Creates a complete partial upload of `bytes` for `token`; its location.
async fn partial(server: &TestServer, token: &str, bytes: &[u8]) -> String {
    let reply = tus(server, Method::POST, "/files/", token)
        .header("upload-length", bytes.len().to_string())
        .header("upload-concat", "partial")
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), 201);
    let location = reply.headers()["location"].to_str().unwrap().to_owned();
    let reply = patch(server, token, &location, 0, bytes.to_vec(), &[]).await;
    assert_eq!(reply.status(), 204);
    location
}

async fn final_of(
    server: &TestServer,
    token: &str,
    parts: &[&str],
    path: &str,
) -> reqwest::Response {
    tus(server, Method::POST, "/files/", token)
        .header("upload-concat", format!("final;{}", parts.join(" ")))
        .header(
            "upload-metadata",
            metadata(&[("relativePath", path)]).encode(),
        )
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_final_may_name_a_part_once_and_only_its_own_users_parts() {
    let server = TestServer::start().await;
    let a = partial(&server, &server.ann, b"hello ").await;
    let twice = final_of(&server, &server.ann, &[&a, &a], "twice.txt").await;
    assert_eq!(
        twice.status(),
        400,
        "one part twice would amplify what was sent"
    );
    let bobs = partial(&server, &server.bob, b"world").await;
    let stolen = final_of(&server, &server.ann, &[&a, &bobs], "stolen.txt").await;
    assert_eq!(stolen.status(), 404, "another user's part is not found");
    assert!(!server.file("ann", "stolen.txt").exists());
    assert!(!server.file("ann", "twice.txt").exists());
}

#[tokio::test]
async fn a_final_asked_for_again_is_the_same_final_even_after_its_parts_were_removed() {
    let server = TestServer::start().await;
    let a = partial(&server, &server.ann, b"hello ").await;
    let b = partial(&server, &server.ann, b"world").await;
    let first = final_of(&server, &server.ann, &[&a, &b], "joined.txt").await;
    assert_eq!(first.status(), 201);
    assert_eq!(
        first.headers()["upload-offset"],
        "11",
        "joined and published"
    );
    let location = first.headers()["location"].to_str().unwrap().to_owned();
    assert_eq!(
        std::fs::read(server.file("ann", "joined.txt")).unwrap(),
        b"hello world"
    );
    // The client lost that answer and asks again: the parts are gone by now.
    assert_eq!(head(&server, &server.ann, &a).await.status(), 404);
    let again = final_of(&server, &server.ann, &[&a, &b], "joined.txt").await;
    assert_eq!(again.status(), 201);
    assert_eq!(
        again.headers()["location"],
        location.as_str(),
        "the same final"
    );
    assert_eq!(again.headers()["upload-offset"], "11");
}

#[tokio::test]
async fn parts_of_deferred_length_cannot_join_past_the_size_limit() {
    let server = TestServer::start_with(|config| config.max_size = Some(10)).await;
    let mut parts = Vec::new();
    for _ in 0..2 {
        let reply = tus(&server, Method::POST, "/files/", &server.ann)
            .header("upload-defer-length", "1")
            .header("upload-concat", "partial")
            .send()
            .await
            .unwrap();
        assert_eq!(reply.status(), 201);
        parts.push(reply.headers()["location"].to_str().unwrap().to_owned());
    }
    // The final comes first (concatenation-unfinished): no length is known to check yet.
    let names: Vec<&str> = parts.iter().map(String::as_str).collect();
    let early = final_of(&server, &server.ann, &names, "big.bin").await;
    assert_eq!(early.status(), 201);
    let final_location = early.headers()["location"].to_str().unwrap().to_owned();
    for (location, bytes) in parts.iter().zip([b"123456", b"789012"]) {
        let reply = patch(
            &server,
            &server.ann,
            location,
            0,
            bytes.to_vec(),
            &[("upload-length", "6")],
        )
        .await;
        assert_eq!(reply.status(), 204);
    }
    // Joined, they would be 12 bytes, past the limit of 10: the final is dropped.
    assert_eq!(
        head(&server, &server.ann, &final_location).await.status(),
        404
    );
    assert!(!server.file("ann", "big.bin").exists());
}

#[tokio::test]
async fn a_galileo_upload_to_a_path_with_something_in_the_way_is_refused_at_its_first_message() {
    use crate::galileo_client::{connect, expect_fatal, send_text};
    let server = TestServer::start().await;
    std::fs::create_dir_all(server.file("ann", "clip.mp4")).unwrap();
    let mut ws = connect(&server, &server.ann).await;
    send_text(&mut ws, r#"{"name":"clip.mp4","size":10}"#).await;
    let signal = expect_fatal(&mut ws, "bad_path").await;
    assert!(
        signal["error"]
            .as_str()
            .is_some_and(|e| e.contains("folder of that name")),
        "the reason is said: {signal}"
    );
    assert!(server.file("ann", "clip.mp4").is_dir());
}
