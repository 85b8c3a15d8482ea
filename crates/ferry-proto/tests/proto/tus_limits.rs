//! How the tus client machine reads 413 Payload Too Large: smaller chunks after a refused
//! body (a proxy's body limit), "the file is too large" only when no body was refused, and
//! a clear end below the 64 KiB floor. Against the in-memory server behind a fake proxy
//! that refuses bodies over a limit, as nginx does before the server sees the request.

use std::time::{Duration, SystemTime};

use ferry_proto::tus::client::{MIN_CHUNK_SIZE, UploadOptions};
use ferry_proto::tus::memory::MemoryServer;
use ferry_proto::tus::server::ServerConfig;
use ferry_proto::tus::{Event, Request, RequestKind, Response, TusError, Upload};
use http::StatusCode;

use crate::tus_sim::{endpoint, file_of};

const KIB: u64 = 1024;
const MIB: u64 = 1024 * KIB;

/// What the fake proxy before the server refuses with 413, without passing it on.
#[derive(Clone, Copy)]
enum Proxy {
    /// Bodies longer than this many bytes (nginx's `client_max_body_size`).
    BodyOver(u64),
    /// Every creating POST (a server whose uploads are all too large).
    EveryCreate,
}

struct Run {
    result: Result<(), TusError>,
    events: Vec<Event>,
    requests: Vec<(RequestKind, u64)>,
    server: MemoryServer,
}

fn drive(file: &[u8], chunk_size: u64, creation_with_upload: bool, proxy: Proxy) -> Run {
    let mut server = MemoryServer::new(ServerConfig::complete(None));
    let mut options = UploadOptions::new(endpoint(), Some(file.len() as u64));
    options.chunk_size = chunk_size;
    options.creation_with_upload = creation_with_upload;
    options.metadata.insert("filename", "k.bin").unwrap();
    let mut upload = Upload::new(options, None, None).unwrap();
    let mut now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
    let mut run = Run {
        result: Ok(()),
        events: Vec::new(),
        requests: Vec::new(),
        server: MemoryServer::new(ServerConfig::complete(None)),
    };
    // Bounded: the machine needs far fewer requests than this for these files.
    for _ in 0..1_000 {
        let Some(mut request) = upload.poll_request(now) else {
            break;
        };
        now += Duration::from_millis(10);
        let body = body_of(file, &mut request);
        run.requests.push((request.kind, body.len() as u64));
        let refused = match proxy {
            Proxy::BodyOver(limit) => body.len() as u64 > limit,
            Proxy::EveryCreate => request.kind == RequestKind::Create,
        };
        let response = if refused {
            let mut response = Response::new(StatusCode::PAYLOAD_TOO_LARGE);
            response.body = "413 Request Entity Too Large".into();
            response
        } else {
            server.handle(&request, &body, now)
        };
        let result = upload.handle_response(request.id, &response);
        run.events
            .extend(std::iter::from_fn(|| upload.poll_event()));
        if let Err(err) = result {
            assert!(!err.is_retryable(), "no retryable error here: {err}");
            run.result = Err(err);
            break;
        }
    }
    assert!(
        upload.is_finished() || run.result.is_err(),
        "the machine ended"
    );
    run.server = server;
    run
}

fn body_of(file: &[u8], request: &mut Request) -> Vec<u8> {
    let Some(body) = &request.body else {
        return Vec::new();
    };
    let bytes = file[body.range.start as usize..body.range.end as usize].to_vec();
    if let Some(algorithm) = body.checksum {
        request.set_checksum(&algorithm.digest(&bytes));
    }
    bytes
}

fn reductions(run: &Run) -> Vec<(u64, u64)> {
    run.events
        .iter()
        .filter_map(|e| match e {
            Event::ChunkSizeReduced { from, to } => Some((*from, *to)),
            _ => None,
        })
        .collect()
}

fn completed(run: &Run) -> Option<&[u8]> {
    let location = run.events.iter().find_map(|e| match e {
        Event::Finished { location } => Some(location.clone()),
        _ => None,
    })?;
    run.server.completed(&location)
}

#[test]
fn a_413_to_bodies_behind_a_256_kib_limit_halves_the_chunks_until_they_pass() {
    let file = file_of(3 * MIB as usize, 7);
    let run = drive(&file, 8 * MIB, true, Proxy::BodyOver(256 * KIB));
    run.result.as_ref().expect("the upload completes");
    assert_eq!(
        completed(&run),
        Some(&file[..]),
        "the server holds the file"
    );
    assert_eq!(
        reductions(&run),
        [
            (8 * MIB, 3 * MIB / 2),
            (3 * MIB / 2, 768 * KIB),
            (768 * KIB, 384 * KIB),
            (384 * KIB, 192 * KIB),
        ],
        "the first refused body was the whole 3 MiB file, then each halving"
    );
    let first_creates: Vec<_> = run
        .requests
        .iter()
        .filter(|(k, _)| *k == RequestKind::Create)
        .collect();
    assert_eq!(
        first_creates,
        [&(RequestKind::Create, 3 * MIB), &(RequestKind::Create, 0)],
        "the refused creation with upload is made again without a body"
    );
    let over = run
        .requests
        .iter()
        .filter(|(_, len)| *len > 256 * KIB)
        .count();
    assert_eq!(over, 4, "one refused request per halving, no more");
}

#[test]
fn a_413_to_nginx_default_limit_settles_at_half_a_mebibyte() {
    let file = file_of(5 * MIB as usize, 3);
    let run = drive(&file, 8 * MIB, false, Proxy::BodyOver(MIB));
    run.result.as_ref().expect("the upload completes");
    assert_eq!(completed(&run), Some(&file[..]));
    // 5 MiB -> 2.5 MiB -> 1.25 MiB -> 640 KiB, which passes under 1 MiB.
    assert_eq!(reductions(&run).last(), Some(&(1280 * KIB, 640 * KIB)));
}

#[test]
fn a_413_to_a_body_at_the_floor_is_a_permanent_error_naming_the_limit() {
    let file = file_of(300 * KIB as usize, 5);
    let run = drive(&file, 8 * MIB, true, Proxy::BodyOver(32 * KIB));
    let err = run.result.clone().unwrap_err();
    assert_eq!(
        err,
        TusError::RequestTooLarge {
            request: RequestKind::Append,
            sent: MIN_CHUNK_SIZE,
            message: Some("413 Request Entity Too Large".into()),
        }
    );
    let text = err.to_string();
    assert!(
        text.contains("65536 bytes") && text.contains("client_max_body_size"),
        "{text}"
    );
    assert!(
        run.requests.len() < 20,
        "bounded: {} requests",
        run.requests.len()
    );
    assert!(completed(&run).is_none());
}

#[test]
fn a_413_to_a_creation_without_a_body_means_the_file_is_too_large() {
    let file = file_of(100 * KIB as usize, 9);
    let run = drive(&file, 8 * MIB, false, Proxy::EveryCreate);
    assert_eq!(
        run.result.clone().unwrap_err(),
        TusError::TooLarge {
            length: 100 * KIB,
            max_size: None
        }
    );
    assert_eq!(
        run.requests,
        [(RequestKind::Discover, 0), (RequestKind::Create, 0)]
    );
    assert!(reductions(&run).is_empty());
}

#[test]
fn a_413_to_a_creation_with_upload_is_tried_without_a_body_before_calling_the_file_too_large() {
    let file = file_of(100 * KIB as usize, 11);
    let run = drive(&file, 8 * MIB, true, Proxy::EveryCreate);
    assert!(matches!(run.result, Err(TusError::TooLarge { .. })));
    assert_eq!(
        run.requests,
        [
            (RequestKind::Discover, 0),
            (RequestKind::Create, 100 * KIB),
            (RequestKind::Create, 0)
        ]
    );
}

#[test]
fn a_chunk_below_the_floor_refused_at_once_is_not_made_smaller() {
    let file = file_of(10 * KIB as usize, 13);
    let run = drive(&file, 4 * KIB, false, Proxy::BodyOver(KIB));
    assert!(matches!(
        run.result,
        Err(TusError::RequestTooLarge { sent: 4096, .. })
    ));
    assert!(reductions(&run).is_empty());
}
