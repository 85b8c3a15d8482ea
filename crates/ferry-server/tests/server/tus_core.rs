//! tus core against a live server: discovery, whole uploads by ferry-proto's client machine,
//! HEAD, restarts and broken connections in the middle of an upload, replacing a file, and
//! the file list.

use std::time::Duration;

use serde_json::Value;
use tokio::io::AsyncWriteExt;

use crate::hostile_support::eventually;
use crate::support::{TestServer, files_under};
use crate::tus_driver::{Drive, create, head, metadata, offset, patch, random_bytes, sha1_hex};

#[tokio::test]
async fn options_announces_every_extension_without_sign_in_with_and_without_slash() {
    let server = TestServer::start_with(|c| c.max_size = Some(1 << 30)).await;
    for path in ["/files/", "/files"] {
        let reply = TestServer::http()
            .request(reqwest::Method::OPTIONS, server.url(path))
            .send()
            .await
            .unwrap();
        assert_eq!(reply.status(), 204, "OPTIONS {path}");
        let h = reply.headers();
        assert_eq!(h["tus-resumable"], "1.0.0");
        assert_eq!(h["tus-version"], "1.0.0");
        assert_eq!(h["tus-max-size"], "1073741824");
        assert_eq!(h["tus-checksum-algorithm"], "sha1,sha256,md5");
        assert_eq!(
            h["tus-extension"],
            "creation,creation-with-upload,creation-defer-length,expiration,checksum,termination,concatenation,concatenation-unfinished"
        );
    }
}

#[tokio::test]
async fn the_client_machine_uploads_in_checksummed_chunks_to_a_byte_identical_file() {
    let server = TestServer::start().await;
    let data = random_bytes(300_000);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("a.bin");
    std::fs::write(&file, &data).unwrap();
    let mut drive = Drive::new(&server.ann, &file);
    drive.metadata = metadata(&[
        ("filename", "ignored.bin"),
        ("relativePath", "docs/a.bin"),
        ("sha1", &sha1_hex(&data)),
        ("mtime", "1700000000"),
    ]);
    let (location, _) = drive.run(&server).await.expect("the upload succeeds");
    assert!(
        location.starts_with("/files/"),
        "relative Location: {location}"
    );
    assert_eq!(
        std::fs::read(server.file("ann", "docs/a.bin")).unwrap(),
        data,
        "relativePath wins over filename and the bytes are identical"
    );
    let reply = head(&server, &server.ann, &location).await;
    assert_eq!(reply.headers()["upload-offset"], "300000");
    assert!(
        !reply.headers().contains_key("upload-expires"),
        "a finished upload does not expire"
    );
    assert!(
        files_under(&server.data().join("uploads")).is_empty(),
        "the bytes moved out of uploads/"
    );
}

#[tokio::test]
async fn head_reports_the_committed_offset_length_raw_metadata_and_expiry() {
    let server = TestServer::start().await;
    let raw = "filename YS50eHQ=,flag";
    let reply = crate::tus_driver::tus(&server, reqwest::Method::POST, "/files/", &server.ann)
        .header("upload-length", "10")
        .header("upload-metadata", raw)
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), 201);
    assert!(reply.headers().contains_key("upload-expires"));
    assert!(
        !reply.headers().contains_key("upload-offset"),
        "no body, no offset"
    );
    let location = reply.headers()["location"].to_str().unwrap().to_owned();
    let id = location.strip_prefix("/files/").expect("relative location");
    assert!(
        id.len() == 32 && id.bytes().all(|b| b.is_ascii_hexdigit()),
        "{id}"
    );

    let reply = patch(&server, &server.ann, &location, 0, b"hello".to_vec(), &[]).await;
    assert_eq!(reply.status(), 204);
    assert_eq!(reply.headers()["upload-offset"], "5");
    assert_eq!(reply.headers()["tus-resumable"], "1.0.0");
    assert!(reply.headers().contains_key("upload-expires"));

    let reply = head(&server, &server.ann, &location).await;
    assert_eq!(reply.status(), 200);
    let h = reply.headers();
    assert_eq!(h["upload-offset"], "5");
    assert_eq!(h["upload-length"], "10");
    assert_eq!(h["upload-metadata"], raw, "metadata exactly as sent");
    assert_eq!(h["cache-control"], "no-store");
    assert_eq!(h["tus-resumable"], "1.0.0");
    assert!(h.contains_key("upload-expires"));

    let reply = patch(&server, &server.ann, &location, 5, b"world".to_vec(), &[]).await;
    assert_eq!(reply.status(), 204);
    assert_eq!(
        std::fs::read(server.file("ann", "a.txt")).unwrap(),
        b"helloworld"
    );
}

#[tokio::test]
async fn an_empty_file_is_finished_at_creation() {
    let server = TestServer::start().await;
    create(&server, &server.ann, 0, &metadata(&[("filename", "empty")])).await;
    let stored = server.file("ann", "empty");
    assert!(stored.is_file(), "published without any PATCH");
    assert_eq!(std::fs::metadata(stored).unwrap().len(), 0);
}

#[tokio::test]
async fn a_restart_in_the_middle_keeps_the_committed_offset_and_the_upload_resumes() {
    let server = TestServer::start().await;
    let data = random_bytes(200_000);
    let md = metadata(&[("filename", "r.bin"), ("sha1", &sha1_hex(&data))]);
    let location = create(&server, &server.ann, 200_000, &md).await;
    let reply = patch(
        &server,
        &server.ann,
        &location,
        0,
        data[..120_000].to_vec(),
        &[],
    )
    .await;
    assert_eq!(reply.status(), 204);

    let server = server.restart().await;
    assert_eq!(offset(&server, &server.ann, &location).await, 120_000);
    let reply = patch(
        &server,
        &server.ann,
        &location,
        120_000,
        data[120_000..].to_vec(),
        &[],
    )
    .await;
    assert_eq!(reply.status(), 204);
    assert_eq!(std::fs::read(server.file("ann", "r.bin")).unwrap(), data);
}

/// Writes a PATCH head promising `promised` body bytes and then only `body`.
async fn partial_patch(
    server: &TestServer,
    location: &str,
    promised: usize,
    body: &[u8],
    extra: &str,
) -> tokio::net::TcpStream {
    let mut stream = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    let head = format!(
        "PATCH {location} HTTP/1.1\r\nHost: {}\r\nAuthorization: Bearer {}\r\nTus-Resumable: 1.0.0\r\n\
         Upload-Offset: 0\r\nContent-Type: application/offset+octet-stream\r\nContent-Length: {promised}\r\n{extra}\r\n",
        server.addr, server.ann
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.write_all(body).await.unwrap();
    stream.flush().await.unwrap();
    stream
}

/// Waits (at most 5 s) until the server has written `len` bytes of the upload at
/// `location` to its data file: the PATCH sending them is in its handler, holding the
/// upload, and has read them all.
async fn server_wrote(server: &TestServer, location: &str, len: u64) {
    let data = server
        .data()
        .join("uploads")
        .join(location.trim_start_matches("/files/"));
    eventually(
        Duration::from_secs(5),
        &format!("the server wrote {len} bytes to {}", data.display()),
        || {
            let data = data.clone();
            async move {
                std::fs::metadata(&data)
                    .is_ok_and(|m| m.len() == len)
                    .then_some(())
            }
        },
    )
    .await;
}

#[tokio::test]
async fn a_patch_whose_connection_drops_keeps_the_bytes_received_and_does_not_block_a_resume() {
    let server = TestServer::start().await;
    let data = random_bytes(100_000);
    let location = create(
        &server,
        &server.ann,
        100_000,
        &metadata(&[("filename", "cut.bin")]),
    )
    .await;
    let stream = partial_patch(&server, &location, 100_000, &data[..40_000], "").await;
    // Everything sent has reached the handler; then the connection breaks. The HEAD below
    // takes the upload only once that PATCH has let go of it.
    server_wrote(&server, &location, 40_000).await;
    drop(stream);
    let at = tokio::time::timeout(
        Duration::from_secs(5),
        offset(&server, &server.ann, &location),
    )
    .await
    .expect("HEAD is not blocked by the dead request");
    assert_eq!(at, 40_000, "without a checksum the received bytes are kept");
    let reply = tokio::time::timeout(
        Duration::from_secs(5),
        patch(
            &server,
            &server.ann,
            &location,
            at,
            data[40_000..].to_vec(),
            &[],
        ),
    )
    .await
    .expect("the resume is not blocked");
    assert_eq!(reply.status(), 204);
    assert_eq!(std::fs::read(server.file("ann", "cut.bin")).unwrap(), data);
}

#[tokio::test]
async fn a_stale_patch_on_a_live_connection_gives_way_to_the_newer_request() {
    let server = TestServer::start().await;
    let data = random_bytes(100_000);
    let location = create(
        &server,
        &server.ann,
        100_000,
        &metadata(&[("filename", "s.bin")]),
    )
    .await;
    // The connection stays open: the server would wait for the rest of this body forever.
    let _stale = partial_patch(&server, &location, 100_000, &data[..30_000], "").await;
    // The stale PATCH holds the upload and is waiting for more.
    server_wrote(&server, &location, 30_000).await;
    let at = tokio::time::timeout(
        Duration::from_secs(5),
        offset(&server, &server.ann, &location),
    )
    .await
    .expect("the newer HEAD takes over");
    assert!(at <= 30_000, "only bytes that arrived can count: {at}");
    let reply = tokio::time::timeout(
        Duration::from_secs(5),
        patch(
            &server,
            &server.ann,
            &location,
            at,
            data[usize::try_from(at).unwrap()..].to_vec(),
            &[],
        ),
    )
    .await
    .expect("the newer PATCH takes over");
    assert_eq!(reply.status(), 204);
    assert_eq!(std::fs::read(server.file("ann", "s.bin")).unwrap(), data);
}

#[tokio::test]
async fn a_second_upload_of_a_path_replaces_the_file_and_the_list_shows_it_once() {
    let server = TestServer::start().await;
    for content in [&b"first version"[..], b"second"] {
        let md = metadata(&[("relativePath", "notes/n.txt")]);
        let location = create(&server, &server.ann, content.len() as u64, &md).await;
        let reply = patch(&server, &server.ann, &location, 0, content.to_vec(), &[]).await;
        assert_eq!(reply.status(), 204);
    }
    let other = create(
        &server,
        &server.ann,
        1,
        &metadata(&[("relativePath", "x.txt")]),
    )
    .await;
    patch(&server, &server.ann, &other, 0, b"x".to_vec(), &[]).await;
    assert_eq!(
        std::fs::read(server.file("ann", "notes/n.txt")).unwrap(),
        b"second"
    );

    let list = |prefix: &'static str| {
        TestServer::http()
            .get(server.url(&format!("/api/v1/files?prefix={prefix}")))
            .bearer_auth(&server.ann)
            .send()
    };
    let all: Value = list("").await.unwrap().json().await.unwrap();
    assert_eq!(all.as_array().unwrap().len(), 2, "{all}");
    let notes: Value = list("notes/").await.unwrap().json().await.unwrap();
    let notes = notes.as_array().unwrap();
    assert_eq!(notes.len(), 1, "prefix filters: {notes:?}");
    assert_eq!(notes[0]["path"], "notes/n.txt");
    assert_eq!(notes[0]["size"], 6);
    assert_eq!(notes[0]["sha1"], sha1_hex(b"second"));
    let bobs: Value = TestServer::http()
        .get(server.url("/api/v1/files"))
        .bearer_auth(&server.bob)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(bobs, serde_json::json!([]), "bob sees only his own files");
}

#[tokio::test]
async fn a_twenty_megabyte_upload_streams_through_one_patch() {
    let server = TestServer::start().await;
    let data = random_bytes(20 << 20);
    let md = metadata(&[("filename", "big.bin"), ("sha1", &sha1_hex(&data))]);
    let location = create(&server, &server.ann, data.len() as u64, &md).await;
    let reply = patch(
        &server,
        &server.ann,
        &location,
        0,
        data.clone(),
        &[(
            "upload-checksum",
            &ferry_proto::checksum::ChecksumAlgorithm::Sha1
                .digest(&data)
                .to_header_value(),
        )],
    )
    .await;
    assert_eq!(reply.status(), 204, "{:?}", reply.text().await);
    assert_eq!(std::fs::read(server.file("ann", "big.bin")).unwrap(), data);
}

#[tokio::test]
async fn a_checksummed_patch_whose_connection_drops_keeps_nothing() {
    let server = TestServer::start().await;
    let data = random_bytes(100_000);
    let location = create(
        &server,
        &server.ann,
        100_000,
        &metadata(&[("filename", "k.bin")]),
    )
    .await;
    let sum = ferry_proto::checksum::ChecksumAlgorithm::Sha1
        .digest(&data)
        .to_header_value();
    let stream = partial_patch(
        &server,
        &location,
        100_000,
        &data[..40_000],
        &format!("Upload-Checksum: {sum}\r\n"),
    )
    .await;
    // Written while it streams, then the connection breaks: the HEAD below waits for the
    // PATCH to let go, after it has thrown away what it could not check.
    server_wrote(&server, &location, 40_000).await;
    drop(stream);
    assert_eq!(
        offset(&server, &server.ann, &location).await,
        0,
        "bytes whose checksum cannot be checked are discarded"
    );
    let id = location.trim_start_matches("/files/");
    assert_eq!(
        std::fs::metadata(server.data().join("uploads").join(id))
            .unwrap()
            .len(),
        0
    );
}
