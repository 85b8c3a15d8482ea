//! Property tests of the tus side: codecs round-trip, and the client machine neither panics
//! nor runs ahead of the server whatever the server (or the network) answers.

use std::collections::BTreeSet;
use std::time::{Duration, SystemTime};

use ferry_proto::checksum::{Checksum, ChecksumAlgorithm};
use ferry_proto::tus::headers::parse_u64;
use ferry_proto::tus::metadata::Metadata;
use ferry_proto::tus::server::ServerConfig;
use ferry_proto::tus::{Concat, Event, Extension, RequestKind, Response, Upload, UploadOptions};
use ferry_proto::wire::{Parsed, parse_response, write_response};
use http::{HeaderValue, StatusCode};
use proptest::prelude::*;

use crate::tus_sim::{Fault, Sim, endpoint, file_of};

fn metadata_strategy() -> impl Strategy<Value = Vec<(String, Option<Vec<u8>>)>> {
    // Printable ASCII without space (0x20) and comma (0x2c).
    let key = "[!-+\\--~]{1,12}";
    prop::collection::vec(
        (
            key,
            prop::option::of(prop::collection::vec(any::<u8>(), 0..24)),
        ),
        0..6,
    )
}

proptest! {
    #[test]
    fn metadata_round_trips(entries in metadata_strategy()) {
        let mut metadata = Metadata::new();
        for (key, value) in &entries {
            match value {
                Some(value) => metadata.insert(key.clone(), value).unwrap(),
                None => metadata.insert_key(key.clone()).unwrap(),
            };
        }
        let encoded = metadata.encode();
        prop_assert!(encoded.is_ascii() && !encoded.contains("  "));
        prop_assert_eq!(Metadata::decode(&encoded), Ok(metadata));
    }

    #[test]
    fn metadata_decoding_never_panics(text in "\\PC{0,64}") {
        let _ = Metadata::decode(&text);
    }

    #[test]
    fn concat_and_checksum_headers_round_trip(
        urls in prop::collection::vec("/files/[a-z0-9]{1,8}", 1..5),
        data in prop::collection::vec(any::<u8>(), 0..64),
    ) {
        let concat = Concat::Final(urls);
        prop_assert_eq!(Concat::decode(&concat.encode()), Some(concat));
        for algorithm in ChecksumAlgorithm::ALL {
            let sum = algorithm.digest(&data);
            prop_assert_eq!(Checksum::from_header_value(&sum.to_header_value()), Ok(sum));
        }
    }

    #[test]
    fn integers_parse_exactly_like_decimal_u64(n in any::<u64>(), junk in "[^0-9]{1,3}") {
        prop_assert_eq!(parse_u64(&n.to_string()), Some(n));
        let with_junk = format!("{n}{junk}");
        prop_assert_eq!(parse_u64(&with_junk), with_junk.trim().parse::<u64>().ok().filter(|_| with_junk.trim().bytes().all(|b| b.is_ascii_digit())));
    }
}

/// A server reply drawn from what real and broken servers send.
fn reply_strategy() -> impl Strategy<Value = Response> {
    let status = prop_oneof![
        4 => Just(200u16), 4 => Just(201), 6 => Just(204),
        1 => Just(400), 1 => Just(401), 1 => Just(403), 2 => Just(404), 2 => Just(409), 1 => Just(410),
        1 => Just(412), 1 => Just(413), 1 => Just(415), 1 => Just(423), 2 => Just(460), 2 => Just(500),
        1 => 100u16..600,
    ];
    let offset = prop_oneof![
        3 => (0u64..=120).prop_map(|n| n.to_string()),
        1 => any::<u64>().prop_map(|n| n.to_string()),
        1 => "[ -~]{0,6}",
    ];
    let location = prop_oneof![
        Just("/files/x".to_owned()),
        Just("http://127.0.0.1:1080/files/y".to_owned()),
        "[ -~]{0,8}"
    ];
    let length = prop_oneof![Just("100".to_owned()), Just("99".to_owned()), "[0-9]{1,3}"];
    (
        status,
        prop::option::of(offset),
        prop::option::of(location),
        prop::option::of(length),
        prop::option::of(Just("1.0.0")),
        any::<bool>(),
    )
        .prop_map(|(status, offset, location, length, version, expires)| {
            let mut response = Response::new(StatusCode::from_u16(status).unwrap());
            let mut set = |name: &'static str, value: Option<&str>| {
                if let Some(value) = value.and_then(|v| HeaderValue::from_str(v).ok()) {
                    response.headers.insert(name, value);
                }
            };
            set("upload-offset", offset.as_deref());
            set("location", location.as_deref());
            set("upload-length", length.as_deref());
            set("tus-version", version);
            set(
                "tus-extension",
                Some("creation,creation-with-upload,checksum,termination,expiration"),
            );
            set("tus-checksum-algorithm", Some("sha1"));
            set(
                "upload-expires",
                expires.then_some("Tue, 14 Nov 2023 22:13:20 GMT"),
            );
            response
        })
}

proptest! {
    /// Random and hostile replies: no panic, and the confirmed offset only ever takes a value
    /// the server stated, never past the length; no PATCH starts past it.
    #[test]
    fn random_replies_never_make_the_client_run_ahead_of_the_server(
        replies in prop::collection::vec(reply_strategy(), 1..40),
        resume in any::<bool>(),
    ) {
        let mut opts = UploadOptions::new(endpoint(), Some(100));
        opts.chunk_size = 7;
        let state = resume.then(|| ferry_proto::tus::ResumeState {
            parts: vec![ferry_proto::tus::client::PartState {
                start: 0, len: Some(100), location: Some("/files/r".into()), offset: 0, expires_at: None,
            }],
            concatenated: false,
            final_requested: false,
            final_location: None,
        });
        let mut upload = Upload::new(opts, None, state.as_ref()).unwrap();
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let mut stated: BTreeSet<u64> = BTreeSet::from([0]);
        let mut replies = replies.into_iter();
        'outer: for _ in 0..200 {
            let Some(request) = upload.poll_request(now) else { break };
            if request.kind == RequestKind::Append {
                let offset: u64 = request.headers["upload-offset"].to_str().unwrap().parse().unwrap();
                prop_assert!(stated.contains(&offset), "PATCH at {} which the server never stated", offset);
                prop_assert_eq!(request.body.as_ref().unwrap().range.start, offset);
            }
            let Some(reply) = replies.next() else { break 'outer };
            if reply.status.is_success()
                && let Some(n) = reply.headers.get("upload-offset").and_then(|v| parse_u64(v.to_str().ok()?)) {
                    stated.insert(n);
                }
            let _ = upload.handle_response(request.id, &reply);
            let confirmed = upload.confirmed_offset();
            prop_assert!(confirmed <= 100);
            prop_assert!(stated.contains(&confirmed), "confirmed {} was never stated", confirmed);
            while let Some(event) = upload.poll_event() {
                if let Event::Finished { .. } = event {
                    prop_assert!(stated.contains(&100), "finished without the server stating 100 bytes");
                }
            }
        }
    }

    /// Replies cut short on the way (or garbled) are lost requests: the upload still
    /// completes with identical bytes once the network behaves.
    #[test]
    fn truncated_replies_are_survived(
        len in 0usize..5000,
        chunk in 1u64..2000,
        cuts in prop::collection::vec(prop::option::of(0usize..200), 1..30),
    ) {
        let config = ServerConfig::complete(None);
        let mut sim = Sim::new(config, file_of(len, len as u64));
        let mut upload = Upload::new(sim.options(chunk), None, None).unwrap();
        let mut cuts = cuts.into_iter();
        for _ in 0..10_000 {
            let Some(mut request) = upload.poll_request(sim.now) else { break };
            let body = sim.body_of(&mut request);
            let bytes = write_response(&sim.server.handle(&request, &body, sim.now));
            let cut = cuts.next().flatten().map_or(bytes.len(), |c| c.min(bytes.len()));
            match parse_response(&bytes[..cut]) {
                Ok(Parsed::Complete(response, _)) => { let _ = upload.handle_response(request.id, &response); }
                Ok(Parsed::Incomplete) | Err(_) => upload.handle_failure(request.id),
            }
        }
        prop_assert!(upload.is_finished(), "the upload finished");
        let location = upload.location().unwrap().to_owned();
        prop_assert!(sim.server.completed(&location) == Some(sim.file.as_slice()));
    }

    /// Whole uploads with random sizes, chunk sizes, parallel parts, connection cuts and
    /// crashes with resume from the saved state: identical bytes, and each cut or crash
    /// costs at most one chunk of resent data.
    #[test]
    fn uploads_survive_random_cuts_and_crashes(
        len in 0usize..60_000,
        chunk in 512u64..8192,
        parallel in 1usize..4,
        checksums in any::<bool>(),
        faults in prop::collection::vec((0u8..10, 0u64..8192), 0..12),
    ) {
        let mut config = ServerConfig::complete(None);
        if !checksums {
            config.extensions.retain(|e| *e != Extension::Checksum);
        }
        let mut sim = Sim::new(config.clone(), file_of(len, 7 + len as u64));
        let mut opts = sim.options(chunk);
        opts.parallel = parallel;
        let mut upload = Upload::new(opts.clone(), None, None).unwrap();
        let mut faults = faults.into_iter();
        let mut incidents = 0u64;
        for _ in 0..50 {
            let mut crashed = false;
            let result = sim.run(&mut upload, |request| match faults.next() {
                Some((0..=2, at)) if request.body.is_some() => { incidents += 1; Fault::CutAfter(at) }
                Some((3, _)) => { incidents += 1; Fault::LoseAnswer }
                Some((4, _)) => { incidents += 1; crashed = true; Fault::Crash }
                _ => Fault::None,
            });
            prop_assert!(result.is_ok(), "{:?}", result);
            if !crashed {
                break;
            }
            let saved = upload.state();
            upload = Upload::new(opts.clone(), Some(config.capabilities()), Some(&saved)).unwrap();
        }
        prop_assert!(upload.is_finished());
        let location = upload.location().unwrap().to_owned();
        prop_assert!(sim.server.completed(&location) == Some(sim.file.as_slice()));
        let waste = sim.server.bytes_received() - len as u64;
        prop_assert!(waste <= incidents * chunk, "{} bytes resent over {} incidents", waste, incidents);
    }
}
