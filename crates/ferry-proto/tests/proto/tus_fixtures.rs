//! Byte-exact tus fixtures: what the client machine writes for each extension, how it reads
//! literal server replies, and what the server helpers answer, as HTTP/1.1 bytes.

use std::time::{Duration, SystemTime};

use ferry_proto::checksum::ChecksumAlgorithm;
use ferry_proto::tus::client::{Event, PartState, ResumeState};
use ferry_proto::tus::metadata::Metadata;
use ferry_proto::tus::server::{Rejection, ServerConfig, UploadInfo};
use ferry_proto::tus::{
    Capabilities, Concat, Extension, Recovery, Request, Response, TusError, Upload, UploadOptions,
};
use ferry_proto::wire::{Parsed, parse_response, write_request_head, write_response};
use http::StatusCode;

use crate::tus_sim::endpoint;

const NOW: Duration = Duration::from_secs(1_700_000_000);

fn now() -> SystemTime {
    SystemTime::UNIX_EPOCH + NOW
}

fn head(request: &Request) -> String {
    String::from_utf8(write_request_head(request)).unwrap()
}

fn reply(bytes: &str) -> Response {
    match parse_response(bytes.as_bytes()) {
        Ok(Parsed::Complete(response, used)) => {
            assert_eq!(used, bytes.len(), "the fixture is one whole response");
            response
        }
        other => panic!("fixture does not parse: {other:?}"),
    }
}

fn caps(extensions: &[Extension]) -> Capabilities {
    Capabilities::new(extensions.to_vec(), vec![ChecksumAlgorithm::Sha1], None)
}

fn options(length: Option<u64>) -> UploadOptions {
    let mut opts = UploadOptions::new(endpoint(), length);
    opts.metadata.insert("filename", "k.bin").unwrap();
    opts.chunk_size = 4;
    opts
}

fn events(upload: &mut Upload) -> Vec<Event> {
    std::iter::from_fn(|| upload.poll_event()).collect()
}

#[test]
fn discovery_reads_every_capability_header() {
    let mut upload = Upload::new(options(Some(10)), None, None).unwrap();
    let request = upload.poll_request(now()).unwrap();
    assert_eq!(
        head(&request),
        "OPTIONS /files/ HTTP/1.1\r\nHost: 127.0.0.1:1080\r\n\r\n"
    );
    assert!(
        upload.poll_request(now()).is_none(),
        "nothing else until the server answered"
    );
    let response = reply(
        "HTTP/1.1 204 No Content\r\nTus-Resumable: 1.0.0\r\nTus-Version: 1.0.0,0.2.2\r\n\
         Tus-Max-Size: 1073741824\r\nTus-Extension: creation,expiration,checksum\r\n\
         Tus-Checksum-Algorithm: md5,sha1\r\n\r\n",
    );
    upload.handle_response(request.id, &response).unwrap();
    let expected = Capabilities {
        versions: vec!["1.0.0".into(), "0.2.2".into()],
        extensions: vec![
            Extension::Creation,
            Extension::Expiration,
            Extension::Checksum,
        ],
        max_size: Some(1 << 30),
        checksum_algorithms: vec![ChecksumAlgorithm::Md5, ChecksumAlgorithm::Sha1],
    };
    assert_eq!(events(&mut upload), [Event::Discovered(expected)]);
    assert!(upload.uses_checksums());
}

#[test]
fn creation_posts_length_and_metadata_and_follows_location() {
    let mut upload =
        Upload::new(options(Some(10)), Some(caps(&[Extension::Creation])), None).unwrap();
    let request = upload.poll_request(now()).unwrap();
    assert_eq!(
        head(&request),
        "POST /files/ HTTP/1.1\r\nHost: 127.0.0.1:1080\r\nTus-Resumable: 1.0.0\r\nUpload-Length: 10\r\n\
         Upload-Metadata: filename ay5iaW4=\r\nContent-Length: 0\r\n\r\n"
    );
    assert_eq!(request.body, None);
    let response = reply(
        "HTTP/1.1 201 Created\r\nLocation: http://127.0.0.1:1080/files/24e533e0\r\nTus-Resumable: 1.0.0\r\n\r\n",
    );
    upload.handle_response(request.id, &response).unwrap();
    assert_eq!(
        events(&mut upload),
        [
            Event::Created {
                part: 0,
                location: "http://127.0.0.1:1080/files/24e533e0".into()
            },
            Event::Progress { confirmed: 0 },
        ]
    );
    let patch = upload.poll_request(now()).unwrap();
    assert_eq!(
        head(&patch),
        "PATCH /files/24e533e0 HTTP/1.1\r\nHost: 127.0.0.1:1080\r\nTus-Resumable: 1.0.0\r\nUpload-Offset: 0\r\n\
         Content-Type: application/offset+octet-stream\r\nContent-Length: 4\r\n\r\n"
    );
    assert_eq!(patch.body.unwrap().range, 0..4);
}

#[test]
fn creation_with_upload_carries_the_first_checksummed_chunk() {
    let extensions = [
        Extension::Creation,
        Extension::CreationWithUpload,
        Extension::Checksum,
    ];
    let mut upload = Upload::new(options(Some(10)), Some(caps(&extensions)), None).unwrap();
    let mut request = upload.poll_request(now()).unwrap();
    let body = request.body.clone().unwrap();
    assert_eq!(
        (body.range, body.checksum),
        (0..4, Some(ChecksumAlgorithm::Sha1))
    );
    request.set_checksum(&ChecksumAlgorithm::Sha1.digest(b"abcd"));
    assert_eq!(
        head(&request),
        "POST /files/ HTTP/1.1\r\nHost: 127.0.0.1:1080\r\nTus-Resumable: 1.0.0\r\nUpload-Length: 10\r\n\
         Upload-Metadata: filename ay5iaW4=\r\nContent-Type: application/offset+octet-stream\r\n\
         Content-Length: 4\r\nUpload-Checksum: sha1 gf6L/odXbD7LIkJvjleEc4KRes8=\r\n\r\n"
    );
    let response = reply(
        "HTTP/1.1 201 Created\r\nLocation: /files/a\r\nUpload-Offset: 4\r\nTus-Resumable: 1.0.0\r\n\r\n",
    );
    upload.handle_response(request.id, &response).unwrap();
    assert_eq!(upload.confirmed_offset(), 4);
    let patch = upload.poll_request(now()).unwrap();
    assert!(
        head(&patch).contains("Upload-Offset: 4\r\n"),
        "relative Location resolved: {}",
        head(&patch)
    );
    assert_eq!(patch.url.as_str(), "http://127.0.0.1:1080/files/a");
}

#[test]
fn deferred_length_is_announced_in_the_first_patch_after_it_is_known() {
    let extensions = [Extension::Creation, Extension::CreationDeferLength];
    let mut upload = Upload::new(options(None), Some(caps(&extensions)), None).unwrap();
    let request = upload.poll_request(now()).unwrap();
    assert_eq!(
        head(&request),
        "POST /files/ HTTP/1.1\r\nHost: 127.0.0.1:1080\r\nTus-Resumable: 1.0.0\r\nUpload-Defer-Length: 1\r\n\
         Upload-Metadata: filename ay5iaW4=\r\nContent-Length: 0\r\n\r\n"
    );
    upload
        .handle_response(
            request.id,
            &reply("HTTP/1.1 201 Created\r\nLocation: /files/d\r\n\r\n"),
        )
        .unwrap();
    assert!(upload.poll_request(now()).is_none(), "no bytes exist yet");
    upload.set_length(3);
    let patch = upload.poll_request(now()).unwrap();
    assert_eq!(
        head(&patch),
        "PATCH /files/d HTTP/1.1\r\nHost: 127.0.0.1:1080\r\nTus-Resumable: 1.0.0\r\nUpload-Offset: 0\r\n\
         Upload-Length: 3\r\nContent-Type: application/offset+octet-stream\r\nContent-Length: 3\r\n\r\n"
    );
    upload
        .handle_response(
            patch.id,
            &reply("HTTP/1.1 204 No Content\r\nUpload-Offset: 3\r\n\r\n"),
        )
        .unwrap();
    assert!(upload.is_finished());
}

fn resumed(extensions: &[Extension], offset: u64, expires_at: Option<u64>) -> Upload {
    let state = ResumeState {
        parts: vec![PartState {
            start: 0,
            len: Some(100),
            location: Some("/files/r".into()),
            offset,
            expires_at,
        }],
        concatenated: false,
        final_requested: false,
        final_location: None,
    };
    Upload::new(options(Some(100)), Some(caps(extensions)), Some(&state)).unwrap()
}

#[test]
fn resume_asks_with_head_and_continues_from_the_servers_offset() {
    let mut upload = resumed(&[Extension::Creation], 20, None);
    let request = upload.poll_request(now()).unwrap();
    assert_eq!(
        head(&request),
        "HEAD /files/r HTTP/1.1\r\nHost: 127.0.0.1:1080\r\nTus-Resumable: 1.0.0\r\n\r\n"
    );
    let response = reply(
        "HTTP/1.1 200 OK\r\nUpload-Offset: 70\r\nUpload-Length: 100\r\nCache-Control: no-store\r\n\
         Tus-Resumable: 1.0.0\r\n\r\n",
    );
    upload.handle_response(request.id, &response).unwrap();
    let patch = upload.poll_request(now()).unwrap();
    assert!(head(&patch).contains("Upload-Offset: 70\r\n"));
    assert_eq!(patch.body.unwrap().range, 70..74);
}

#[test]
fn expiration_is_remembered_and_an_expired_upload_is_recreated() {
    let mut upload = resumed(&[Extension::Creation, Extension::Expiration], 0, None);
    let request = upload.poll_request(now()).unwrap();
    let response = reply(
        "HTTP/1.1 200 OK\r\nUpload-Offset: 8\r\nUpload-Length: 100\r\n\
         Upload-Expires: Wed, 15 Nov 2023 00:00:00 GMT\r\n\r\n",
    );
    upload.handle_response(request.id, &response).unwrap();
    assert_eq!(upload.state().parts[0].expires_at, Some(1_700_006_400));
    let later = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_006_400);
    let next = upload.poll_request(later).unwrap();
    assert!(
        head(&next).starts_with("POST /files/ HTTP/1.1\r\n"),
        "expired at that instant: start over"
    );
    assert_eq!(upload.confirmed_offset(), 0);
}

#[test]
fn termination_sends_delete() {
    let mut upload = resumed(&[Extension::Creation, Extension::Termination], 5, None);
    upload.terminate();
    let request = upload.poll_request(now()).unwrap();
    assert_eq!(
        head(&request),
        "DELETE /files/r HTTP/1.1\r\nHost: 127.0.0.1:1080\r\nTus-Resumable: 1.0.0\r\n\r\n"
    );
    upload
        .handle_response(
            request.id,
            &reply("HTTP/1.1 204 No Content\r\nTus-Resumable: 1.0.0\r\n\r\n"),
        )
        .unwrap();
    assert_eq!(events(&mut upload), [Event::Terminated { deleted: true }]);
}

#[test]
fn concatenation_creates_partials_then_the_final_upload() {
    let extensions = [Extension::Creation, Extension::Concatenation];
    let mut opts = options(Some(10));
    opts.parallel = 2;
    let mut upload = Upload::new(opts, Some(caps(&extensions)), None).unwrap();
    let first = upload.poll_request(now()).unwrap();
    let second = upload.poll_request(now()).unwrap();
    assert_eq!(
        head(&first),
        "POST /files/ HTTP/1.1\r\nHost: 127.0.0.1:1080\r\nTus-Resumable: 1.0.0\r\nUpload-Length: 5\r\n\
         Upload-Concat: partial\r\nContent-Length: 0\r\n\r\n"
    );
    assert!(head(&second).contains("Upload-Length: 5\r\n"));
    upload
        .handle_response(
            second.id,
            &reply("HTTP/1.1 201 Created\r\nLocation: /files/b\r\n\r\n"),
        )
        .unwrap();
    upload
        .handle_response(
            first.id,
            &reply("HTTP/1.1 201 Created\r\nLocation: /files/a\r\n\r\n"),
        )
        .unwrap();
    let patches: Vec<Request> = std::iter::from_fn(|| upload.poll_request(now())).collect();
    let ranges: Vec<_> = patches
        .iter()
        .map(|p| p.body.clone().unwrap().range)
        .collect();
    assert_eq!(
        ranges,
        [0..4, 5..9],
        "both parts upload at once, each from its own start"
    );
    for (patch, offset) in patches.iter().zip([4, 4]) {
        let ok = reply(&format!(
            "HTTP/1.1 204 No Content\r\nUpload-Offset: {offset}\r\n\r\n"
        ));
        upload.handle_response(patch.id, &ok).unwrap();
    }
    let tails: Vec<Request> = std::iter::from_fn(|| upload.poll_request(now())).collect();
    for patch in &tails {
        upload
            .handle_response(
                patch.id,
                &reply("HTTP/1.1 204 No Content\r\nUpload-Offset: 5\r\n\r\n"),
            )
            .unwrap();
    }
    let last = upload.poll_request(now()).unwrap();
    assert_eq!(
        head(&last),
        "POST /files/ HTTP/1.1\r\nHost: 127.0.0.1:1080\r\nTus-Resumable: 1.0.0\r\n\
         Upload-Concat: final;/files/a /files/b\r\nUpload-Metadata: filename ay5iaW4=\r\nContent-Length: 0\r\n\r\n"
    );
    upload
        .handle_response(
            last.id,
            &reply("HTTP/1.1 201 Created\r\nLocation: /files/f\r\n\r\n"),
        )
        .unwrap();
    assert!(upload.is_finished());
    assert_eq!(upload.location(), Some("/files/f"));
    assert_eq!(upload.confirmed_offset(), 10);
}

/// Each refusal a PATCH can meet, the error it becomes, and what happens next.
#[test]
fn every_error_status_of_a_patch_is_typed_with_its_recovery() {
    type Case = (&'static str, fn(&TusError) -> bool, Recovery);
    let cases: &[Case] = &[
        (
            "409 Conflict",
            |e| matches!(e, TusError::OffsetConflict { offset: 20 }),
            Recovery::Resync,
        ),
        (
            "460 Checksum Mismatch",
            |e| matches!(e, TusError::ChecksumMismatch { .. }),
            Recovery::Resync,
        ),
        (
            "417 Expectation Failed",
            |e| matches!(e, TusError::ChecksumMismatch { .. }),
            Recovery::Resync,
        ),
        (
            "412 Precondition Failed",
            |e| matches!(e, TusError::Unsupported(_)),
            Recovery::Fatal,
        ),
        (
            "415 Unsupported Media Type",
            |e| matches!(e, TusError::UnexpectedStatus { .. }),
            Recovery::Fatal,
        ),
        (
            "400 Bad Request",
            |e| matches!(e, TusError::UnexpectedStatus { .. }),
            Recovery::Fatal,
        ),
        (
            "401 Unauthorized",
            |e| matches!(e, TusError::Unauthorized { .. }),
            Recovery::Fatal,
        ),
        (
            "403 Forbidden",
            |e| matches!(e, TusError::Forbidden { .. }),
            Recovery::Fatal,
        ),
        (
            // A 413 to a PATCH is about its body; a 4-byte body is below the 64 KiB floor.
            "413 Payload Too Large",
            |e| matches!(e, TusError::RequestTooLarge { sent: 4, .. }),
            Recovery::Fatal,
        ),
        (
            "507 Insufficient Storage",
            |e| matches!(e, TusError::ServerFull { .. }),
            Recovery::Retry,
        ),
        (
            "423 Locked",
            |e| matches!(e, TusError::ServerUnavailable { .. }),
            Recovery::Retry,
        ),
        (
            "429 Too Many Requests",
            |e| matches!(e, TusError::ServerUnavailable { .. }),
            Recovery::Retry,
        ),
        (
            "500 Internal Server Error",
            |e| matches!(e, TusError::ServerUnavailable { .. }),
            Recovery::Retry,
        ),
        (
            "503 Service Unavailable",
            |e| matches!(e, TusError::ServerUnavailable { .. }),
            Recovery::Retry,
        ),
        (
            "204 No Content",
            |e| {
                matches!(
                    e,
                    TusError::MissingHeader {
                        header: "Upload-Offset",
                        ..
                    }
                )
            },
            Recovery::Retry,
        ),
    ];
    for (status, is_expected, recovery) in cases {
        let mut upload = resumed(&[Extension::Creation], 20, None);
        let sync = upload.poll_request(now()).unwrap();
        let at_20 = reply("HTTP/1.1 200 OK\r\nUpload-Offset: 20\r\nUpload-Length: 100\r\n\r\n");
        upload.handle_response(sync.id, &at_20).unwrap();
        let patch = upload.poll_request(now()).unwrap();
        let err = upload
            .handle_response(patch.id, &reply(&format!("HTTP/1.1 {status}\r\n\r\n")))
            .unwrap_err();
        assert!(is_expected(&err), "{status} became {err:?}");
        assert_eq!(err.recovery(), *recovery, "{status}");
        assert_eq!(
            upload.confirmed_offset(),
            20,
            "{status} does not move the offset"
        );
        let next = upload.poll_request(now());
        match recovery {
            Recovery::Fatal => assert!(
                next.is_none() && upload.is_failed(),
                "{status} ends the upload"
            ),
            _ => assert!(
                head(&next.unwrap()).starts_with("HEAD /files/r"),
                "{status}: ask the server again"
            ),
        }
    }
}

#[test]
fn protocol_violations_in_offsets_are_caught() {
    // A PATCH answer claiming more bytes than were sent.
    let mut upload = resumed(&[Extension::Creation], 0, None);
    let sync = upload.poll_request(now()).unwrap();
    upload
        .handle_response(
            sync.id,
            &reply("HTTP/1.1 200 OK\r\nUpload-Offset: 0\r\n\r\n"),
        )
        .unwrap();
    let patch = upload.poll_request(now()).unwrap();
    let err = upload.handle_response(
        patch.id,
        &reply("HTTP/1.1 204 No Content\r\nUpload-Offset: 5\r\n\r\n"),
    );
    assert_eq!(
        err,
        Err(TusError::OffsetOutOfRange {
            request: ferry_proto::tus::RequestKind::Append,
            reported: 5,
            min: 0,
            max: 4
        })
    );
    assert_eq!(upload.confirmed_offset(), 0);

    // A HEAD answer going backwards is accepted as the truth, but reported.
    let mut upload = resumed(&[Extension::Creation], 50, None);
    let sync = upload.poll_request(now()).unwrap();
    let err = upload.handle_response(
        sync.id,
        &reply("HTTP/1.1 200 OK\r\nUpload-Offset: 30\r\n\r\n"),
    );
    assert_eq!(
        err,
        Err(TusError::OffsetWentBackwards {
            confirmed: 50,
            reported: 30
        })
    );
    assert_eq!(upload.confirmed_offset(), 30);

    // A HEAD answer past the length, or with another length, starts a new upload.
    for bad in [
        "Upload-Offset: 101\r\nUpload-Length: 100",
        "Upload-Offset: 1\r\nUpload-Length: 99",
    ] {
        let mut upload = resumed(&[Extension::Creation], 0, None);
        let sync = upload.poll_request(now()).unwrap();
        let err = upload.handle_response(
            sync.id,
            &reply(&format!("HTTP/1.1 200 OK\r\n{bad}\r\n\r\n")),
        );
        assert_eq!(err.unwrap_err().recovery(), Recovery::StartOver, "{bad}");
        assert!(
            head(&upload.poll_request(now()).unwrap()).starts_with("POST"),
            "{bad}"
        );
    }
}

#[test]
fn server_helpers_answer_options_head_and_refusals_byte_for_byte() {
    let mut config = ServerConfig::complete(Some(1000));
    config.checksum_algorithms = vec![ChecksumAlgorithm::Sha1, ChecksumAlgorithm::Md5];
    assert_eq!(
        String::from_utf8(write_response(&config.options_response())).unwrap(),
        "HTTP/1.1 204 No Content\r\nTus-Resumable: 1.0.0\r\nTus-Version: 1.0.0\r\n\
         Tus-Extension: creation,creation-with-upload,creation-defer-length,expiration,checksum,termination,\
         concatenation,concatenation-unfinished\r\nTus-Max-Size: 1000\r\nTus-Checksum-Algorithm: sha1,md5\r\n\r\n"
    );
    let mut metadata = Metadata::new();
    metadata.insert("relativePath", "a/b.txt").unwrap();
    let info = UploadInfo {
        offset: 7,
        length: Some(10),
        metadata,
        expires: Some(SystemTime::UNIX_EPOCH + Duration::from_secs(1_403_712_000)),
        concat: Some(Concat::Partial),
    };
    assert_eq!(
        String::from_utf8(write_response(&info.head_response())).unwrap(),
        "HTTP/1.1 200 OK\r\nCache-Control: no-store\r\nUpload-Offset: 7\r\nUpload-Length: 10\r\n\
         Upload-Metadata: relativePath YS9iLnR4dA==\r\nUpload-Concat: partial\r\nTus-Resumable: 1.0.0\r\n\
         Upload-Expires: Wed, 25 Jun 2014 16:00:00 GMT\r\n\r\n"
    );
    let refusal = Rejection::new(
        StatusCode::PRECONDITION_FAILED,
        "this server speaks tus 1.0.0",
    );
    assert_eq!(
        String::from_utf8(write_response(&refusal.into_response())).unwrap(),
        "HTTP/1.1 412 Precondition Failed\r\nTus-Resumable: 1.0.0\r\nTus-Version: 1.0.0\r\n\
         Content-Type: text/plain; charset=utf-8\r\nContent-Length: 29\r\n\r\nthis server speaks tus 1.0.0\n"
    );
    let created = UploadInfo {
        offset: 4,
        concat: None,
        expires: None,
        ..info
    };
    assert_eq!(
        String::from_utf8(write_response(&created.created_response("/files/9", true))).unwrap(),
        "HTTP/1.1 201 Created\r\nLocation: /files/9\r\nUpload-Offset: 4\r\nTus-Resumable: 1.0.0\r\n\r\n"
    );
}
