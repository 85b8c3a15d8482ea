//! Copy by content (`POST /api/v1/files/copy`) against a live server: a user's own stored
//! content is copied to a new path and listed, byte-identical; nobody reaches another user's
//! files through it; a stored file that lost its content is not copied; bad requests are
//! refused; the quota holds.

use ferry_proto::tus::metadata::Metadata;
use serde_json::{Value, json};

use crate::galileo_client::sha1_hex;
use crate::support::TestServer;

/// Stores `bytes` at `path` for the owner of `token`, in one tus request.
async fn store(server: &TestServer, token: &str, path: &str, bytes: &[u8]) {
    let mut metadata = Metadata::new();
    metadata.insert("relativePath", path.as_bytes()).unwrap();
    metadata.insert("sha1", sha1_hex(bytes).as_bytes()).unwrap();
    let reply = TestServer::http()
        .post(server.url("/files/"))
        .header("tus-resumable", "1.0.0")
        .header("upload-length", bytes.len().to_string())
        .header("upload-metadata", metadata.encode())
        .header("content-type", "application/offset+octet-stream")
        .bearer_auth(token)
        .body(bytes.to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), 201, "{:?}", reply.text().await);
}

async fn copy(server: &TestServer, token: &str, body: Value) -> (u16, Value) {
    let reply = TestServer::http()
        .post(server.url("/api/v1/files/copy"))
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = reply.status().as_u16();
    (status, reply.json().await.unwrap_or(Value::Null))
}

async fn listed(server: &TestServer, token: &str, path: &str) -> Value {
    TestServer::http()
        .get(server.url(&format!("/api/v1/files?path={path}")))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

#[tokio::test]
async fn info_announces_copy_by_content() {
    let server = TestServer::start().await;
    let info: Value = TestServer::http()
        .get(server.url("/api/v1/info"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(info["extensions"], json!(["copy-by-content"]));
}

#[tokio::test]
async fn a_users_own_content_is_copied_to_a_new_path_and_listed() {
    let server = TestServer::start().await;
    let bytes: Vec<u8> = (0..300_000u32)
        .map(|i| u8::try_from(i * 7 % 251).unwrap())
        .collect();
    store(&server, &server.ann, "Photos/2024/a.jpg", &bytes).await;
    let sha1 = sha1_hex(&bytes);
    let (status, entry) = copy(
        &server,
        &server.ann,
        json!({"sha1": sha1.to_uppercase(), "size": bytes.len(), "path": "Photos/renamed/a.jpg"}),
    )
    .await;
    assert_eq!(status, 201, "{entry}");
    assert_eq!(
        (&entry["path"], &entry["size"], &entry["sha1"]),
        (
            &json!("Photos/renamed/a.jpg"),
            &json!(bytes.len()),
            &json!(sha1)
        )
    );
    assert_eq!(
        std::fs::read(server.file("ann", "Photos/renamed/a.jpg")).unwrap(),
        bytes,
        "byte-identical"
    );
    assert_eq!(
        std::fs::read(server.file("ann", "Photos/2024/a.jpg")).unwrap(),
        bytes,
        "the source stays"
    );
    assert_eq!(
        listed(&server, &server.ann, "Photos/renamed/a.jpg").await[0]["sha1"],
        sha1
    );
    // Asked again: already there, the same entry.
    let (again, _) = copy(
        &server,
        &server.ann,
        json!({"sha1": sha1, "size": bytes.len(), "path": "Photos/renamed/a.jpg"}),
    )
    .await;
    assert_eq!(again, 201);
    // A later upload to the copy replaces it there only (the source keeps its bytes).
    store(&server, &server.ann, "Photos/renamed/a.jpg", b"new bytes").await;
    assert_eq!(
        std::fs::read(server.file("ann", "Photos/2024/a.jpg")).unwrap(),
        bytes
    );
}

#[tokio::test]
async fn nobody_copies_another_users_content_or_learns_it_exists() {
    let server = TestServer::start().await;
    let secret = b"ann's tax return, 2025".repeat(1000);
    store(&server, &server.ann, "private/tax.pdf", &secret).await;
    let ask = json!({"sha1": sha1_hex(&secret), "size": secret.len(), "path": "stolen.pdf"});
    let (status, body) = copy(&server, &server.bob, ask.clone()).await;
    assert_eq!(
        status, 404,
        "bob is told what any unknown content gets: {body}"
    );
    assert!(!server.file("bob", "stolen.pdf").exists());
    assert_eq!(listed(&server, &server.bob, "stolen.pdf").await, json!([]));
    // The same answer as for content nobody has.
    let (unknown, _) = copy(
        &server,
        &server.bob,
        json!({"sha1": "0".repeat(40), "size": 5, "path": "x"}),
    )
    .await;
    assert_eq!(unknown, 404);
    let unsigned = TestServer::http()
        .post(server.url("/api/v1/files/copy"))
        .json(&ask)
        .send()
        .await
        .unwrap();
    assert_eq!(unsigned.status(), 401);
}

#[tokio::test]
async fn a_stored_file_that_lost_its_content_is_not_copied() {
    let server = TestServer::start().await;
    let bytes = b"original".repeat(5000);
    store(&server, &server.ann, "a.bin", &bytes).await;
    // The disk changed under the server (bit rot, a hand edit): the listing still says sha1.
    std::fs::write(server.file("ann", "a.bin"), b"something else entirely").unwrap();
    let (status, body) = copy(
        &server,
        &server.ann,
        json!({"sha1": sha1_hex(&bytes), "size": bytes.len(), "path": "b.bin"}),
    )
    .await;
    assert_eq!(status, 409, "{body}");
    assert!(
        body["error"].as_str().unwrap().contains("upload the file"),
        "{body}"
    );
    assert!(!server.file("ann", "b.bin").exists());
    assert_eq!(listed(&server, &server.ann, "b.bin").await, json!([]));
    let leftovers: Vec<_> = std::fs::read_dir(server.data().join("uploads"))
        .unwrap()
        .collect();
    assert!(leftovers.is_empty(), "nothing left behind: {leftovers:?}");
}

#[tokio::test]
async fn bad_requests_are_refused_with_a_reason() {
    let server = TestServer::start().await;
    let bytes = b"x".repeat(100);
    store(&server, &server.ann, "a.bin", &bytes).await;
    let sha1 = sha1_hex(&bytes);
    for (body, why) in [
        (
            json!({"sha1": "abc", "size": 100, "path": "b"}),
            "a short sha1",
        ),
        (
            json!({"sha1": "z".repeat(40), "size": 100, "path": "b"}),
            "not hex",
        ),
        (
            json!({"sha1": sha1, "size": 100, "path": "../bob/b"}),
            "a path out of the folder",
        ),
        (
            json!({"sha1": sha1, "size": 100, "path": "/etc/passwd"}),
            "an absolute path",
        ),
        (
            json!({"sha1": sha1, "size": -1, "path": "b"}),
            "a negative size",
        ),
        (json!({"size": 100, "path": "b"}), "no sha1"),
    ] {
        let (status, reply) = copy(&server, &server.ann, body).await;
        assert_eq!(status, 400, "{why}: {reply}");
        assert!(reply["error"].is_string(), "{why}: {reply}");
    }
    // The right sha1 with another size is other content.
    let (status, _) = copy(
        &server,
        &server.ann,
        json!({"sha1": sha1, "size": 99, "path": "b"}),
    )
    .await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn a_copy_counts_against_the_quota() {
    let server = TestServer::start_with(|c| c.quota = Some(150_000)).await;
    let bytes = b"q".repeat(100_000);
    store(&server, &server.ann, "a.bin", &bytes).await;
    let (status, body) = copy(
        &server,
        &server.ann,
        json!({"sha1": sha1_hex(&bytes), "size": bytes.len(), "path": "b.bin"}),
    )
    .await;
    assert_eq!(status, 403, "{body}");
    assert!(body["error"].as_str().unwrap().contains("quota"), "{body}");
    assert!(!server.file("ann", "b.bin").exists());
}
