//! Every tus extension against a live server: creation-with-upload, creation-defer-length,
//! checksum (sha1, sha256, md5), termination, expiration, concatenation (also unfinished),
//! `X-HTTP-Method-Override` and CORS.

use std::time::Duration;

use ferry_proto::checksum::ChecksumAlgorithm;
use ferry_proto::tus::Event;
use reqwest::Method;

use crate::support::{TestServer, files_under};
use crate::tus_driver::{
    Drive, create, head, metadata, offset, patch, random_bytes, sha1_hex, tus,
};

#[tokio::test]
async fn creation_with_upload_takes_the_first_bytes_in_the_post() {
    let server = TestServer::start().await;
    let reply = tus(&server, Method::POST, "/files/", &server.ann)
        .header("upload-length", "11")
        .header(
            "upload-metadata",
            metadata(&[("filename", "w.txt")]).encode(),
        )
        .header("content-type", "application/offset+octet-stream")
        .header(
            "upload-checksum",
            ChecksumAlgorithm::Sha256.digest(b"hello").to_header_value(),
        )
        .body("hello")
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), 201);
    assert_eq!(reply.headers()["upload-offset"], "5");
    let location = reply.headers()["location"].to_str().unwrap().to_owned();
    let reply = patch(&server, &server.ann, &location, 5, b" world".to_vec(), &[]).await;
    assert_eq!(reply.status(), 204);
    assert_eq!(
        std::fs::read(server.file("ann", "w.txt")).unwrap(),
        b"hello world"
    );

    let whole = tus(&server, Method::POST, "/files/", &server.ann)
        .header("upload-length", "3")
        .header(
            "upload-metadata",
            metadata(&[("filename", "one.txt")]).encode(),
        )
        .header("content-type", "application/offset+octet-stream")
        .body("abc")
        .send()
        .await
        .unwrap();
    assert_eq!(whole.status(), 201);
    assert_eq!(whole.headers()["upload-offset"], "3");
    assert_eq!(
        std::fs::read(server.file("ann", "one.txt")).unwrap(),
        b"abc"
    );
}

#[tokio::test]
async fn a_deferred_length_is_declared_later_and_the_client_machine_finishes() {
    let server = TestServer::start().await;
    let reply = tus(&server, Method::POST, "/files/", &server.ann)
        .header("upload-defer-length", "1")
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), 201);
    let location = reply.headers()["location"].to_str().unwrap().to_owned();
    let reply = head(&server, &server.ann, &location).await;
    assert_eq!(reply.headers()["upload-defer-length"], "1");
    assert!(!reply.headers().contains_key("upload-length"));
    let reply = patch(&server, &server.ann, &location, 0, b"ab".to_vec(), &[]).await;
    assert_eq!(reply.status(), 204);
    let reply = patch(
        &server,
        &server.ann,
        &location,
        2,
        b"c".to_vec(),
        &[("upload-length", "3")],
    )
    .await;
    assert_eq!(reply.status(), 204);
    let id = location.trim_start_matches("/files/");
    assert_eq!(
        std::fs::read(server.file("ann", id)).unwrap(),
        b"abc",
        "no name: stored as its id"
    );

    let data = random_bytes(150_000);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("d.bin");
    std::fs::write(&file, &data).unwrap();
    let mut drive = Drive::new(&server.ann, &file);
    drive.deferred = true;
    drive.metadata = metadata(&[("filename", "deferred.bin"), ("sha1", &sha1_hex(&data))]);
    drive.run(&server).await.expect("deferred upload");
    assert_eq!(
        std::fs::read(server.file("ann", "deferred.bin")).unwrap(),
        data
    );
}

#[tokio::test]
async fn every_checksum_algorithm_is_verified_and_a_mismatch_discards_the_chunk() {
    let server = TestServer::start().await;
    let location = create(&server, &server.ann, 9, &metadata(&[("filename", "c.txt")])).await;
    let mut at = 0;
    for (algorithm, piece) in [
        (ChecksumAlgorithm::Sha1, b"abc"),
        (ChecksumAlgorithm::Md5, b"def"),
    ] {
        let sum = algorithm.digest(piece).to_header_value();
        let reply = patch(
            &server,
            &server.ann,
            &location,
            at,
            piece.to_vec(),
            &[("upload-checksum", &sum)],
        )
        .await;
        assert_eq!(reply.status(), 204, "{algorithm}");
        at += 3;
    }
    let wrong = ChecksumAlgorithm::Sha256.digest(b"xyz").to_header_value();
    let reply = patch(
        &server,
        &server.ann,
        &location,
        6,
        b"ghi".to_vec(),
        &[("upload-checksum", &wrong)],
    )
    .await;
    assert_eq!(reply.status(), 460);
    assert!(reply.text().await.unwrap().contains("mismatch"));
    assert_eq!(
        offset(&server, &server.ann, &location).await,
        6,
        "the chunk was discarded"
    );
    let id = location.trim_start_matches("/files/");
    assert_eq!(
        std::fs::metadata(server.data().join("uploads").join(id))
            .unwrap()
            .len(),
        6,
        "not a byte of it stays on disk"
    );
    let right = ChecksumAlgorithm::Sha256.digest(b"ghi").to_header_value();
    let reply = patch(
        &server,
        &server.ann,
        &location,
        6,
        b"ghi".to_vec(),
        &[("upload-checksum", &right)],
    )
    .await;
    assert_eq!(reply.status(), 204);
    assert_eq!(
        std::fs::read(server.file("ann", "c.txt")).unwrap(),
        b"abcdefghi"
    );
}

#[tokio::test]
async fn termination_removes_the_upload_and_its_bytes() {
    let server = TestServer::start().await;
    let location = create(&server, &server.ann, 10, &metadata(&[("filename", "t")])).await;
    patch(&server, &server.ann, &location, 0, b"12345".to_vec(), &[]).await;
    let reply = tus(&server, Method::DELETE, &location, &server.ann)
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), 204);
    assert_eq!(reply.headers()["tus-resumable"], "1.0.0");
    assert_eq!(head(&server, &server.ann, &location).await.status(), 404);
    assert!(files_under(&server.data().join("uploads")).is_empty());
    let again = tus(&server, Method::DELETE, &location, &server.ann)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 404);
}

#[tokio::test]
async fn expired_uploads_are_collected_in_the_background() {
    let server = TestServer::start_with(|c| {
        c.expire_after = Duration::ZERO;
        c.gc_interval = Duration::from_millis(50);
    })
    .await;
    let location = create(&server, &server.ann, 10, &metadata(&[("filename", "e")])).await;
    let done = create(&server, &server.ann, 0, &metadata(&[("filename", "kept")])).await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while head(&server, &server.ann, &location).await.status() != 404 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the expired upload is removed"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(files_under(&server.data().join("uploads")).is_empty());
    assert_eq!(
        head(&server, &server.ann, &done).await.status(),
        200,
        "finished uploads stay"
    );
    assert!(server.file("ann", "kept").is_file());
}

#[tokio::test]
async fn the_client_machine_sends_three_partial_uploads_in_parallel_and_joins_them() {
    let server = TestServer::start().await;
    let data = random_bytes(400_000);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("p.bin");
    std::fs::write(&file, &data).unwrap();
    let mut drive = Drive::new(&server.ann, &file);
    drive.parallel = 3;
    drive.metadata = metadata(&[("relativePath", "joined/p.bin"), ("sha1", &sha1_hex(&data))]);
    let (location, events) = drive.run(&server).await.expect("concatenated upload");
    let parts = events
        .iter()
        .filter(|e| matches!(e, Event::Created { .. }))
        .count();
    assert_eq!(parts, 3, "three partial uploads: {events:?}");
    assert_eq!(
        std::fs::read(server.file("ann", "joined/p.bin")).unwrap(),
        data
    );
    let reply = head(&server, &server.ann, &location).await;
    assert_eq!(reply.headers()["upload-offset"], "400000");
    assert!(
        reply.headers()["upload-concat"]
            .to_str()
            .unwrap()
            .starts_with("final;")
    );
    assert!(
        files_under(&server.data().join("uploads")).is_empty(),
        "the partial uploads are gone once joined"
    );
}

#[tokio::test]
async fn a_final_upload_created_before_its_parts_finish_is_joined_when_the_last_one_does() {
    let server = TestServer::start().await;
    let partial = |length: u64| {
        tus(&server, Method::POST, "/files/", &server.ann)
            .header("upload-length", length.to_string())
            .header("upload-concat", "partial")
            .send()
    };
    let a = partial(3).await.unwrap().headers()["location"]
        .to_str()
        .unwrap()
        .to_owned();
    let b = partial(4).await.unwrap().headers()["location"]
        .to_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        patch(&server, &server.ann, &a, 0, b"abc".to_vec(), &[])
            .await
            .status(),
        204
    );
    let absolute_b = server.url(&b);
    let reply = tus(&server, Method::POST, "/files/", &server.ann)
        .header("upload-concat", format!("final;{a} {absolute_b}"))
        .header(
            "upload-metadata",
            metadata(&[("filename", "late.txt")]).encode(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), 201);
    let joined = reply.headers()["location"].to_str().unwrap().to_owned();
    let reply = head(&server, &server.ann, &joined).await;
    assert_eq!(reply.status(), 200);
    assert!(
        !reply.headers().contains_key("upload-offset"),
        "unfinished final: no offset"
    );
    assert!(!reply.headers().contains_key("upload-defer-length"));
    assert_eq!(reply.headers()["upload-concat"], format!("final;{a} {b}"));
    let refused = patch(&server, &server.ann, &joined, 0, b"x".to_vec(), &[]).await;
    assert_eq!(refused.status(), 403, "a final upload takes no PATCH");
    assert!(!server.file("ann", "late.txt").exists());

    assert_eq!(
        patch(&server, &server.ann, &b, 0, b"defg".to_vec(), &[])
            .await
            .status(),
        204
    );
    assert_eq!(
        std::fs::read(server.file("ann", "late.txt")).unwrap(),
        b"abcdefg"
    );
    let reply = head(&server, &server.ann, &joined).await;
    assert_eq!(reply.headers()["upload-offset"], "7");
    assert_eq!(reply.headers()["upload-length"], "7");
}

#[tokio::test]
async fn post_with_method_override_acts_as_patch_head_and_delete() {
    let server = TestServer::start().await;
    let location = create(&server, &server.ann, 4, &metadata(&[("filename", "o")])).await;
    let reply = tus(&server, Method::POST, &location, &server.ann)
        .header("x-http-method-override", "PATCH")
        .header("upload-offset", "0")
        .header("content-type", "application/offset+octet-stream")
        .body("ab")
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), 204);
    let reply = tus(&server, Method::POST, &location, &server.ann)
        .header("x-http-method-override", "HEAD")
        .send()
        .await
        .unwrap();
    assert_eq!(reply.headers()["upload-offset"], "2");
    let reply = tus(&server, Method::POST, &location, &server.ann)
        .header("x-http-method-override", "DELETE")
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), 204);
    assert_eq!(head(&server, &server.ann, &location).await.status(), 404);
    let plain = tus(&server, Method::POST, &location, &server.ann)
        .send()
        .await
        .unwrap();
    assert_eq!(plain.status(), 405);
    assert_eq!(plain.headers()["tus-resumable"], "1.0.0");
}

#[tokio::test]
async fn browsers_get_a_preflight_answer_and_may_read_the_tus_headers() {
    let server = TestServer::start().await;
    let reply = TestServer::http()
        .request(Method::OPTIONS, server.url("/files/"))
        .header("origin", "http://app.example")
        .header("access-control-request-method", "PATCH")
        .header(
            "access-control-request-headers",
            "authorization,tus-resumable,upload-offset,upload-checksum,content-type",
        )
        .send()
        .await
        .unwrap();
    assert!(reply.status().is_success());
    let h = reply.headers();
    assert_eq!(h["access-control-allow-origin"], "*");
    let methods = h["access-control-allow-methods"]
        .to_str()
        .unwrap()
        .to_ascii_uppercase();
    for m in ["POST", "PATCH", "HEAD", "DELETE"] {
        assert!(methods.contains(m), "{m} allowed: {methods}");
    }
    let allowed = h["access-control-allow-headers"]
        .to_str()
        .unwrap()
        .to_ascii_lowercase();
    for name in [
        "authorization",
        "upload-offset",
        "upload-checksum",
        "x-http-method-override",
    ] {
        assert!(allowed.contains(name), "{name} allowed: {allowed}");
    }
    let exposed = h["access-control-expose-headers"]
        .to_str()
        .unwrap()
        .to_ascii_lowercase();
    for name in [
        "location",
        "upload-offset",
        "upload-expires",
        "tus-resumable",
        "upload-concat",
    ] {
        assert!(exposed.contains(name), "{name} exposed: {exposed}");
    }

    let location = create(&server, &server.ann, 4, &metadata(&[("filename", "b")])).await;
    let reply = tus(&server, Method::HEAD, &location, &server.ann)
        .header("origin", "http://app.example")
        .send()
        .await
        .unwrap();
    assert_eq!(reply.headers()["access-control-allow-origin"], "*");
    assert!(
        reply.headers()["access-control-expose-headers"]
            .to_str()
            .unwrap()
            .to_ascii_lowercase()
            .contains("upload-offset")
    );
}
