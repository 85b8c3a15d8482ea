//! Whole tus uploads: the client machine against the in-memory server built from the
//! server helpers, through every extension and the failures a network brings.

use std::time::Duration;

use ferry_proto::checksum::ChecksumAlgorithm;
use ferry_proto::tus::client::RestartReason;
use ferry_proto::tus::server::ServerConfig;
use ferry_proto::tus::{
    Capabilities, Event, Extension, Recovery, RequestKind, TusError, Upload, UploadOptions,
};
use http::StatusCode;

use crate::tus_sim::{Fault, Sim, endpoint, file_of};

fn config_without(missing: &[Extension]) -> ServerConfig {
    let mut config = ServerConfig::complete(None);
    config.extensions.retain(|e| !missing.contains(e));
    config
}

fn assert_uploaded(sim: &Sim) -> String {
    let location = sim.finished_location().expect("the upload finished");
    let stored = sim
        .server
        .completed(&location)
        .expect("the server holds a complete upload");
    assert!(
        stored == sim.file.as_slice(),
        "the server's bytes equal the file's ({} bytes)",
        sim.file.len()
    );
    location
}

#[test]
fn uploads_in_checksummed_chunks_and_stores_metadata() {
    let mut sim = Sim::new(ServerConfig::complete(None), file_of(1_000_000, 1));
    let mut upload = Upload::new(sim.options(64 * 1024), None, None).unwrap();
    sim.run(&mut upload, |_| Fault::None).unwrap();
    let location = assert_uploaded(&sim);
    assert!(upload.is_finished() && upload.uses_checksums());
    assert_eq!(upload.confirmed_offset(), 1_000_000);
    assert_eq!(sim.count(RequestKind::Discover), 1);
    assert_eq!(sim.count(RequestKind::Create), 1);
    // 1_000_000 / 65_536 = 15.26: the POST carries the first chunk, 15 PATCHes the rest.
    assert_eq!(sim.count(RequestKind::Append), 15);
    assert_eq!(
        sim.server
            .info(&location)
            .unwrap()
            .metadata
            .get_str("filename"),
        Some("k.bin")
    );
    assert_eq!(
        sim.server.bytes_received(),
        1_000_000,
        "no byte was sent twice"
    );
}

#[test]
fn small_file_goes_up_in_one_request_with_creation_with_upload() {
    let mut sim = Sim::new(ServerConfig::complete(None), file_of(3000, 2));
    let caps = ServerConfig::complete(None).capabilities();
    let mut upload = Upload::new(sim.options(1 << 20), Some(caps), None).unwrap();
    sim.run(&mut upload, |_| Fault::None).unwrap();
    assert_uploaded(&sim);
    assert_eq!(
        sim.log.len(),
        1,
        "known capabilities and a small file: one POST and done"
    );
}

#[test]
fn without_creation_with_upload_the_bytes_follow_in_patches() {
    let config = config_without(&[Extension::CreationWithUpload, Extension::Checksum]);
    let mut sim = Sim::new(config, file_of(5000, 3));
    let mut upload = Upload::new(sim.options(2000), None, None).unwrap();
    sim.run(&mut upload, |_| Fault::None).unwrap();
    assert_uploaded(&sim);
    assert!(
        !upload.uses_checksums(),
        "no checksum extension, no checksums"
    );
    assert_eq!(sim.log[1], (RequestKind::Create, None));
    assert_eq!(sim.count(RequestKind::Append), 3);
}

#[test]
fn empty_file_is_created_complete() {
    let mut sim = Sim::new(ServerConfig::complete(None), Vec::new());
    let mut upload = Upload::new(sim.options(1000), None, None).unwrap();
    sim.run(&mut upload, |_| Fault::None).unwrap();
    assert_uploaded(&sim);
    assert_eq!(sim.count(RequestKind::Append), 0);
}

#[test]
fn deferred_length_is_declared_once_known() {
    let file = file_of(10_000, 4);
    let mut sim = Sim::new(ServerConfig::complete(None), file.clone());
    let mut opts = UploadOptions::new(endpoint(), None);
    opts.chunk_size = 3000;
    let mut upload = Upload::new(opts, None, None).unwrap();
    upload.set_available(4000);
    sim.run(&mut upload, |_| Fault::None).unwrap();
    assert_eq!(upload.confirmed_offset(), 4000, "only what exists is sent");
    assert!(!upload.is_finished());
    upload.set_length(10_000);
    sim.run(&mut upload, |_| Fault::None).unwrap();
    let location = assert_uploaded(&sim);
    assert_eq!(sim.server.info(&location).unwrap().length, Some(10_000));
}

#[test]
fn resumes_from_saved_state_after_a_crash_without_resending_what_the_server_holds() {
    let mut sim = Sim::new(ServerConfig::complete(None), file_of(100_000, 5));
    let opts = sim.options(10_000);
    let mut first = Upload::new(opts.clone(), None, None).unwrap();
    // OPTIONS, POST (10 000 bytes), 3 PATCHes; the answer to the third is lost, and the
    // process dies before its HEAD: the server holds 40 000 bytes, the journal says 30 000.
    let mut n = 0;
    sim.run(&mut first, |_| {
        n += 1;
        match n {
            5 => Fault::LoseAnswer,
            6 => Fault::Crash,
            _ => Fault::None,
        }
    })
    .unwrap();
    let saved = first.state();
    drop(first);
    assert_eq!(
        saved.parts[0].offset, 30_000,
        "only confirmed bytes are in the saved state"
    );
    let received_before = sim.server.bytes_received();
    assert_eq!(received_before, 40_000);

    let caps = ServerConfig::complete(None).capabilities();
    let mut second = Upload::new(opts, Some(caps), Some(&saved)).unwrap();
    let first_request = second.poll_request(sim.now).unwrap();
    assert_eq!(
        first_request.kind,
        RequestKind::Status,
        "a resumed upload asks the server first"
    );
    sim.exchange(&mut second, first_request, Fault::None)
        .unwrap();
    assert_eq!(
        second.confirmed_offset(),
        40_000,
        "the server's offset wins"
    );
    sim.run(&mut second, |_| Fault::None).unwrap();
    assert_uploaded(&sim);
    assert_eq!(
        sim.server.bytes_received() - received_before,
        60_000,
        "no byte the server held was sent again"
    );
}

#[test]
fn concatenation_uploads_parts_in_parallel_and_joins_them() {
    let mut sim = Sim::new(ServerConfig::complete(None), file_of(90_001, 6));
    let mut opts = sim.options(10_000);
    opts.parallel = 3;
    let mut upload = Upload::new(opts, None, None).unwrap();
    let _ = upload
        .poll_request(sim.now)
        .map(|r| sim.exchange(&mut upload, r, Fault::None));
    let in_flight: Vec<_> = std::iter::from_fn(|| upload.poll_request(sim.now)).collect();
    assert_eq!(
        in_flight.len(),
        3,
        "three partial uploads are created at once"
    );
    for request in in_flight {
        sim.exchange(&mut upload, request, Fault::None).unwrap();
    }
    sim.run(&mut upload, |_| Fault::None).unwrap();
    let location = assert_uploaded(&sim);
    assert!(upload.is_concatenated());
    assert_eq!(sim.count(RequestKind::Concatenate), 1);
    assert_eq!(
        sim.server
            .info(&location)
            .unwrap()
            .metadata
            .get_str("filename"),
        Some("k.bin")
    );
    assert_eq!(
        sim.server.upload_count(),
        4,
        "three partial uploads and the final one"
    );
}

#[test]
fn concatenation_is_not_used_when_the_server_lacks_it() {
    let mut sim = Sim::new(
        config_without(&[Extension::Concatenation]),
        file_of(50_000, 7),
    );
    let mut opts = sim.options(10_000);
    opts.parallel = 4;
    let mut upload = Upload::new(opts, None, None).unwrap();
    sim.run(&mut upload, |_| Fault::None).unwrap();
    assert_uploaded(&sim);
    assert!(!upload.is_concatenated());
    assert_eq!(sim.count(RequestKind::Concatenate), 0);
}

#[test]
fn checksum_mismatch_discards_the_chunk_and_sends_it_again() {
    let mut sim = Sim::new(ServerConfig::complete(None), file_of(30_000, 8));
    let mut upload = Upload::new(sim.options(10_000), None, None).unwrap();
    let mut patches = 0;
    sim.run(&mut upload, |r| {
        if r.kind == RequestKind::Append {
            patches += 1;
            if patches == 1 {
                return Fault::Corrupt;
            }
        }
        Fault::None
    })
    .unwrap();
    assert_uploaded(&sim);
    assert!(
        matches!(sim.errors[..], [TusError::ChecksumMismatch { offset: 10_000, status, completes: false }] if status.as_u16() == 460),
        "one mismatch reported, of a chunk in the middle: {:?}",
        sim.errors
    );
}

#[test]
fn a_mismatch_of_the_chunk_that_completes_a_plain_upload_says_so() {
    // A server that checks the whole file with its last byte may refuse the file, not the
    // chunk: the client is told, so it can look at its file before sending it again.
    let mut sim = Sim::new(ServerConfig::complete(None), file_of(30_000, 8));
    let mut upload = Upload::new(sim.options(10_000), None, None).unwrap();
    let mut patches = 0;
    sim.run(&mut upload, |r| {
        if r.kind == RequestKind::Append {
            patches += 1;
            // The first chunk goes with the creation: this PATCH carries the last one.
            if patches == 2 {
                return Fault::Corrupt;
            }
        }
        Fault::None
    })
    .unwrap();
    assert_uploaded(&sim);
    assert!(
        matches!(
            sim.errors[..],
            [TusError::ChecksumMismatch {
                offset: 20_000,
                completes: true,
                ..
            }]
        ),
        "the last chunk's mismatch is flagged: {:?}",
        sim.errors
    );
}

#[test]
fn without_checksums_corruption_is_caught_by_nobody_so_ferry_asks_for_sha1() {
    // The reason Ferry prefers servers that list sha1: without it a flipped byte lands.
    let mut sim = Sim::new(config_without(&[Extension::Checksum]), file_of(30_000, 9));
    let mut upload = Upload::new(sim.options(10_000), None, None).unwrap();
    sim.run(&mut upload, |r| {
        if r.kind == RequestKind::Append {
            Fault::Corrupt
        } else {
            Fault::None
        }
    })
    .unwrap();
    let location = sim.finished_location().unwrap();
    assert_ne!(
        sim.server.completed(&location).unwrap(),
        sim.file.as_slice()
    );
}

#[test]
fn expired_upload_starts_over_without_asking_the_server() {
    let config = ServerConfig::complete(None);
    let mut sim = Sim::new(config.clone(), file_of(50_000, 10));
    sim.server = sim.server.clone().with_expiry(Duration::from_secs(60));
    let opts = sim.options(10_000);
    let mut first = Upload::new(opts.clone(), None, None).unwrap();
    let mut n = 0;
    sim.run(&mut first, |_| {
        n += 1;
        if n > 3 { Fault::Crash } else { Fault::None }
    })
    .unwrap();
    let saved = first.state();
    assert!(
        saved.parts[0].expires_at.is_some(),
        "the server's Upload-Expires is kept"
    );
    sim.now += Duration::from_secs(3600);
    sim.events.clear();
    let mut second = Upload::new(opts, Some(config.capabilities()), Some(&saved)).unwrap();
    let request = second.poll_request(sim.now).unwrap();
    assert_eq!(
        request.kind,
        RequestKind::Create,
        "an expired upload is not asked about"
    );
    sim.exchange(&mut second, request, Fault::None).unwrap();
    sim.run(&mut second, |_| Fault::None).unwrap();
    sim.drain(&mut second);
    assert!(sim.events.contains(&Event::Restarted {
        part: 0,
        reason: RestartReason::Expired
    }));
    assert_uploaded(&sim);
}

#[test]
fn upload_that_vanished_from_the_server_starts_over() {
    let mut sim = Sim::new(ServerConfig::complete(None), file_of(40_000, 11));
    let opts = sim.options(10_000);
    let mut first = Upload::new(opts.clone(), None, None).unwrap();
    let mut n = 0;
    sim.run(&mut first, |_| {
        n += 1;
        if n > 3 { Fault::Crash } else { Fault::None }
    })
    .unwrap();
    let saved = first.state();
    sim.server
        .forget(saved.parts[0].location.as_deref().unwrap());
    let caps = ServerConfig::complete(None).capabilities();
    let mut again = Upload::new(opts, Some(caps), Some(&saved)).unwrap();
    sim.log.clear();
    sim.run(&mut again, |_| Fault::None).unwrap();
    assert_eq!(sim.log[0].0, RequestKind::Status);
    assert_eq!(
        sim.log[1].0,
        RequestKind::Create,
        "404 to HEAD: a new upload"
    );
    assert!(sim.events.contains(&Event::Restarted {
        part: 0,
        reason: RestartReason::Gone
    }));
    assert_uploaded(&sim);
}

#[test]
fn termination_deletes_what_was_created() {
    let mut sim = Sim::new(ServerConfig::complete(None), file_of(50_000, 12));
    let mut opts = sim.options(5_000);
    opts.parallel = 2;
    let mut upload = Upload::new(opts, None, None).unwrap();
    let mut n = 0;
    sim.run(&mut upload, |_| {
        n += 1;
        if n > 6 { Fault::Crash } else { Fault::None }
    })
    .unwrap();
    assert_eq!(sim.server.upload_count(), 2);
    upload.terminate();
    sim.run(&mut upload, |_| Fault::None).unwrap();
    assert_eq!(sim.count(RequestKind::Terminate), 2);
    assert_eq!(
        sim.server.upload_count(),
        0,
        "both partial uploads were deleted"
    );
    assert_eq!(
        sim.events.last(),
        Some(&Event::Terminated { deleted: true })
    );
}

#[test]
fn termination_without_the_extension_just_stops() {
    let config = config_without(&[Extension::Termination]);
    let mut upload = Upload::new(
        UploadOptions::new(endpoint(), Some(10)),
        Some(config.capabilities()),
        None,
    )
    .unwrap();
    upload.terminate();
    assert_eq!(
        upload.poll_event(),
        Some(Event::Terminated { deleted: false })
    );
    assert!(
        upload
            .poll_request(std::time::SystemTime::UNIX_EPOCH)
            .is_none()
    );
}

#[test]
fn a_file_larger_than_the_server_allows_fails_before_any_byte_is_sent() {
    let mut sim = Sim::new(ServerConfig::complete(Some(1000)), file_of(1001, 13));
    let mut upload = Upload::new(sim.options(100), None, None).unwrap();
    let err = sim.run(&mut upload, |_| Fault::None).unwrap_err();
    assert_eq!(
        err,
        TusError::TooLarge {
            length: 1001,
            max_size: Some(1000)
        }
    );
    assert!(!err.is_retryable());
    assert_eq!(sim.log.len(), 1, "only OPTIONS was sent");
    assert!(upload.is_failed() && upload.poll_request(sim.now).is_none());
}

#[test]
fn a_server_without_creation_cannot_start_uploads() {
    let caps = Capabilities::new(
        vec![Extension::Termination],
        vec![ChecksumAlgorithm::Sha1],
        None,
    );
    let err = Upload::new(UploadOptions::new(endpoint(), Some(1)), Some(caps), None).unwrap_err();
    assert!(matches!(err, TusError::Unsupported(_)), "{err}");
    assert_eq!(err.recovery(), Recovery::Fatal);
}

#[test]
fn cut_connections_cost_at_most_one_chunk_each() {
    let mut sim = Sim::new(config_without(&[Extension::Checksum]), file_of(200_000, 14));
    let mut upload = Upload::new(sim.options(16_384), None, None).unwrap();
    let mut n = 0u64;
    let mut cuts = 0u64;
    sim.run(&mut upload, |r| {
        n += 1;
        if r.body.is_some() && n.is_multiple_of(3) {
            cuts += 1;
            Fault::CutAfter(n * 977 % 16_384)
        } else {
            Fault::None
        }
    })
    .unwrap();
    assert_uploaded(&sim);
    assert!(cuts >= 5, "the test cut the connection {cuts} times");
    let waste = sim.server.bytes_received() - 200_000;
    assert!(
        waste <= cuts * 16_384,
        "{waste} bytes wasted over {cuts} cuts"
    );
}

#[test]
fn unauthorized_is_final_and_says_to_sign_in_again() {
    let mut upload = Upload::new(UploadOptions::new(endpoint(), Some(10)), None, None).unwrap();
    let request = upload
        .poll_request(std::time::SystemTime::UNIX_EPOCH)
        .unwrap();
    let response = ferry_proto::tus::Response::new(StatusCode::UNAUTHORIZED);
    let err = upload.handle_response(request.id, &response).unwrap_err();
    assert!(!err.is_retryable());
    assert!(err.to_string().contains("sign in again"), "{err}");
    assert!(upload.is_failed());
}

#[test]
fn saved_state_of_another_file_version_is_not_resumed() {
    let mut sim = Sim::new(ServerConfig::complete(None), file_of(20_000, 15));
    let opts = sim.options(5_000);
    let mut first = Upload::new(opts, None, None).unwrap();
    let mut n = 0;
    sim.run(&mut first, |_| {
        n += 1;
        if n > 3 { Fault::Crash } else { Fault::None }
    })
    .unwrap();
    let saved = first.state();
    // The file grew meanwhile: the saved upload has the old length.
    sim.file = file_of(25_000, 15);
    let mut second = Upload::new(sim.options(5_000), None, Some(&saved)).unwrap();
    assert_eq!(
        second.poll_event(),
        Some(Event::Restarted {
            part: 0,
            reason: RestartReason::Mismatch
        })
    );
    sim.log.clear();
    sim.run(&mut second, |_| Fault::None).unwrap();
    assert_eq!(
        sim.count(RequestKind::Status),
        0,
        "the old upload is not asked about"
    );
    assert_uploaded(&sim);
}
