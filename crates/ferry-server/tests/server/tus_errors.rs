//! Every tus error status against a live server, each answered with `Tus-Resumable` and a
//! message, never a panic: 400, 403, 404, 409, 412, 413, 415, 460 (chunk and whole file).

use ferry_proto::checksum::ChecksumAlgorithm;
use reqwest::Method;

use crate::support::{TestServer, files_under};
use crate::tus_driver::{create, head, metadata, offset, patch, sha1_hex, tus};

fn assert_tus_error(reply: &reqwest::Response, status: u16, what: &str) {
    assert_eq!(reply.status(), status, "{what}");
    assert_eq!(
        reply.headers()["tus-resumable"],
        "1.0.0",
        "{what}: errors speak tus too"
    );
}

#[tokio::test]
async fn malformed_headers_are_400_with_a_message() {
    let server = TestServer::start().await;
    let post = |pairs: &[(&'static str, &'static str)]| {
        let mut request = tus(&server, Method::POST, "/files/", &server.ann);
        for (name, value) in pairs {
            request = request.header(*name, *value);
        }
        request.send()
    };
    for (pairs, what) in [
        (
            &[("upload-length", "ten")][..],
            "a length that is not a number",
        ),
        (&[("upload-length", "-1")], "a negative length"),
        (&[][..], "no length at all"),
        (
            &[("upload-length", "1"), ("upload-defer-length", "1")],
            "both lengths",
        ),
        (
            &[("upload-length", "1"), ("upload-metadata", "a b c")],
            "bad metadata",
        ),
        (
            &[("upload-length", "1"), ("upload-metadata", "sha1 eHl6")],
            "a sha1 that is not 40 hex digits",
        ),
        (
            &[("upload-concat", "whole;/files/x")],
            "a bad Upload-Concat",
        ),
        (
            &[("upload-concat", "final;/elsewhere/x")],
            "a final naming another endpoint",
        ),
    ] {
        let reply = post(pairs).await.unwrap();
        assert_tus_error(&reply, 400, what);
        assert!(
            !reply.text().await.unwrap().trim().is_empty(),
            "{what}: a message"
        );
    }
    let location = create(&server, &server.ann, 5, &metadata(&[("filename", "m")])).await;
    for (offset, checksum, what) in [
        ("x", None, "an offset that is not a number"),
        ("0", Some("sha1 !!!"), "a checksum that is not base64"),
        ("0", Some("crc32 AAAA"), "an unknown checksum algorithm"),
    ] {
        let mut request = tus(&server, Method::PATCH, &location, &server.ann)
            .header("upload-offset", offset)
            .header("content-type", "application/offset+octet-stream");
        if let Some(checksum) = checksum {
            request = request.header("upload-checksum", checksum);
        }
        let reply = request.body("ab").send().await.unwrap();
        assert_tus_error(&reply, 400, what);
    }
    let reply = patch(
        &server,
        &server.ann,
        &location,
        0,
        b"ab".to_vec(),
        &[("upload-length", "6")],
    )
    .await;
    assert_tus_error(&reply, 400, "a length that changes");
}

#[tokio::test]
async fn a_wrong_or_missing_tus_resumable_is_412_with_the_supported_version() {
    let server = TestServer::start().await;
    let location = create(&server, &server.ann, 5, &metadata(&[("filename", "v")])).await;
    for version in [None, Some("0.2.2")] {
        for (method, path) in [
            (Method::POST, "/files/"),
            (Method::HEAD, location.as_str()),
            (Method::PATCH, location.as_str()),
            (Method::DELETE, location.as_str()),
        ] {
            let mut request = TestServer::http()
                .request(method.clone(), server.url(path))
                .bearer_auth(&server.ann)
                .header("upload-length", "5")
                .header("upload-offset", "0")
                .header("content-type", "application/offset+octet-stream");
            if let Some(version) = version {
                request = request.header("tus-resumable", version);
            }
            let reply = request.send().await.unwrap();
            assert_tus_error(&reply, 412, &format!("{method} with {version:?}"));
            assert_eq!(reply.headers()["tus-version"], "1.0.0");
        }
    }
    assert_eq!(offset(&server, &server.ann, &location).await, 0);
}

#[tokio::test]
async fn a_patch_at_the_wrong_offset_is_409_and_without_the_content_type_415() {
    let server = TestServer::start().await;
    let location = create(&server, &server.ann, 5, &metadata(&[("filename", "o")])).await;
    let reply = patch(&server, &server.ann, &location, 2, b"cde".to_vec(), &[]).await;
    assert_tus_error(&reply, 409, "offset 2 of an empty upload");
    let reply = tus(&server, Method::PATCH, &location, &server.ann)
        .header("upload-offset", "0")
        .header("content-type", "application/octet-stream")
        .body("abc")
        .send()
        .await
        .unwrap();
    assert_tus_error(&reply, 415, "the wrong content type");
    assert_eq!(offset(&server, &server.ann, &location).await, 0);
}

#[tokio::test]
async fn too_large_is_413_at_creation_and_for_a_body_past_the_length() {
    let server = TestServer::start_with(|c| c.max_size = Some(1000)).await;
    let reply = tus(&server, Method::POST, "/files/", &server.ann)
        .header("upload-length", "1001")
        .send()
        .await
        .unwrap();
    assert_tus_error(&reply, 413, "past Tus-Max-Size");

    let location = create(&server, &server.ann, 5, &metadata(&[("filename", "l")])).await;
    let reply = patch(
        &server,
        &server.ann,
        &location,
        0,
        b"abcdefgh".to_vec(),
        &[],
    )
    .await;
    assert_tus_error(&reply, 413, "a Content-Length past the length");
    // Without Content-Length (chunked), the server counts as the bytes come.
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> =
        vec![Ok(b"abc".to_vec()), Ok(b"defgh".to_vec())];
    let reply = tus(&server, Method::PATCH, &location, &server.ann)
        .header("upload-offset", "0")
        .header("content-type", "application/offset+octet-stream")
        .body(reqwest::Body::wrap_stream(futures_util::stream::iter(
            chunks,
        )))
        .send()
        .await
        .unwrap();
    assert_tus_error(&reply, 413, "a chunked body past the length");
    assert_eq!(
        offset(&server, &server.ann, &location).await,
        0,
        "nothing of it was kept"
    );
    let id = location.trim_start_matches("/files/");
    assert_eq!(
        std::fs::metadata(server.data().join("uploads").join(id))
            .unwrap()
            .len(),
        0
    );

    let deferred = tus(&server, Method::POST, "/files/", &server.ann)
        .header("upload-defer-length", "1")
        .send()
        .await
        .unwrap();
    let deferred = deferred.headers()["location"].to_str().unwrap().to_owned();
    let reply = patch(&server, &server.ann, &deferred, 0, vec![0; 1001], &[]).await;
    assert_tus_error(&reply, 413, "a deferred upload past Tus-Max-Size");
}

#[tokio::test]
async fn a_patch_on_a_final_upload_is_403() {
    let server = TestServer::start().await;
    let part = tus(&server, Method::POST, "/files/", &server.ann)
        .header("upload-length", "2")
        .header("upload-concat", "partial")
        .send()
        .await
        .unwrap();
    let part = part.headers()["location"].to_str().unwrap().to_owned();
    let joined = tus(&server, Method::POST, "/files/", &server.ann)
        .header("upload-concat", format!("final;{part}"))
        .send()
        .await
        .unwrap();
    assert_eq!(joined.status(), 201);
    let joined = joined.headers()["location"].to_str().unwrap().to_owned();
    let reply = patch(&server, &server.ann, &joined, 0, b"ab".to_vec(), &[]).await;
    assert_tus_error(&reply, 403, "PATCH on a final upload");
    let not_partial = create(&server, &server.ann, 1, &metadata(&[("filename", "np")])).await;
    let reply = tus(&server, Method::POST, "/files/", &server.ann)
        .header("upload-concat", format!("final;{not_partial}"))
        .send()
        .await
        .unwrap();
    assert_tus_error(&reply, 400, "a final naming a plain upload");
}

#[tokio::test]
async fn unknown_uploads_are_404() {
    let server = TestServer::start().await;
    for path in [
        "/files/0123456789abcdef0123456789abcdef",
        "/files/not-an-id",
        "/files/..%2F..%2Fserver.db",
    ] {
        assert_tus_error(&head(&server, &server.ann, path).await, 404, path);
        let reply = patch(&server, &server.ann, path, 0, b"a".to_vec(), &[]).await;
        assert_tus_error(&reply, 404, path);
    }
}

#[tokio::test]
async fn a_whole_file_sha1_mismatch_is_460_and_resets_the_upload_to_zero() {
    let server = TestServer::start().await;
    let md = metadata(&[("filename", "h.txt"), ("sha1", &sha1_hex(b"expected"))]);
    let location = create(&server, &server.ann, 8, &md).await;
    let reply = patch(
        &server,
        &server.ann,
        &location,
        0,
        b"received".to_vec(),
        &[],
    )
    .await;
    assert_tus_error(&reply, 460, "the whole file's sha1 does not match");
    assert!(reply.text().await.unwrap().contains("sha1"));
    assert_eq!(
        offset(&server, &server.ann, &location).await,
        0,
        "starts again from 0"
    );
    assert!(!server.file("ann", "h.txt").exists(), "nothing published");
    let sum = ChecksumAlgorithm::Sha1
        .digest(b"expected")
        .to_header_value();
    let reply = patch(
        &server,
        &server.ann,
        &location,
        0,
        b"expected".to_vec(),
        &[("upload-checksum", &sum)],
    )
    .await;
    assert_eq!(reply.status(), 204);
    assert_eq!(
        std::fs::read(server.file("ann", "h.txt")).unwrap(),
        b"expected"
    );
}

#[tokio::test]
async fn hostile_paths_are_refused_and_nothing_lands_outside_the_users_folder() {
    let server = TestServer::start().await;
    let hostile = [
        ("relativePath", "../x"),
        ("relativePath", "/etc/x"),
        ("relativePath", "a/../../x"),
        ("relativePath", "a\0b"),
        ("relativePath", "a//b"),
        ("relativePath", "a/"),
        ("filename", ".."),
        ("filename", "../../escaped"),
    ];
    for (key, path) in hostile {
        let reply = tus(&server, Method::POST, "/files/", &server.ann)
            .header("upload-length", "1")
            .header("upload-metadata", metadata(&[(key, path)]).encode())
            .header("content-type", "application/offset+octet-stream")
            .body("x")
            .send()
            .await
            .unwrap();
        assert_tus_error(&reply, 400, &format!("{key} {path:?}"));
    }
    let long = "n".repeat(300);
    let reply = tus(&server, Method::POST, "/files/", &server.ann)
        .header("upload-length", "1")
        .header("upload-metadata", metadata(&[("filename", &long)]).encode())
        .send()
        .await
        .unwrap();
    assert_tus_error(&reply, 400, "an over-long name");
    let files = files_under(&server.data());
    assert!(
        files
            .iter()
            .all(|p| p.starts_with("server.db") || p.to_str().unwrap().starts_with("server.db")),
        "nothing but the database was written: {files:?}"
    );
    assert!(!server.data().parent().unwrap().join("x").exists());
}
