//! Servers that try to fool, leak from or hang Ferry (issue "No server can fool, leak from or
//! hang Ferry"): the whole one-shot upload (`upload_file`, with its journal and a token)
//! against raw listeners on 127.0.0.1 that record every byte they receive.
//!
//! - The token stays with its origin: a `Location`, a redirect or an `/api/v1/info` endpoint
//!   on another port is refused, and the other listener never hears the token (it is
//!   grepped for in everything that listener received).
//! - Every loop is bounded: offsets that never move, the same 5xx forever, endless 409s end
//!   in a given-up error after the retry policy's attempts, with the PATCHes counted; an
//!   outage that fails every parallel part's request at once is one attempt, not one per part.
//! - Answers are read with caps: huge headers and endless bodies end in a clear error.
//!
//! Each case also checks that the journal records nothing as uploaded.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use ferry_engine::home::Home;
use ferry_engine::retry::RetryPolicy;
use ferry_engine::upload::upload_file;
use ferry_engine::{EngineError, Token, TransferOptions, events};
use ferry_proto::tus::TusError;
use ferry_store::{HistoryQuery, Outcome};
use tokio::io::{AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

use crate::support::{quick_upload, random_file};
use ferry_tests::fake_http::{
    Head, Heard, SIZE, every_patch, http, huge_header, listener, location_at, offset_never_moves,
    plain_tus, read_request, redirect_to,
};

/// The token the uploads carry: grepped for on listeners that must never see it.
pub(super) const CANARY: &str = "tok-CANARY-4f1d9b";
/// Bytes per PATCH.
const CHUNK: u64 = 1024;
/// Failed attempts in a row before giving up (the quick upload's).
const ATTEMPTS: u32 = crate::support::QUICK_ATTEMPTS;
/// Far more than three quick retries need; a hang or an endless loop fails here.
const BOUND: Duration = Duration::from_secs(20);

/// Fails if `heard` holds the token anywhere in what it received.
pub(super) fn assert_never_heard_the_token(heard: &Heard, who: &str) {
    let text = heard.text();
    assert!(
        !text.contains(CANARY),
        "{who} received the token, which is not for it:\n{text}"
    );
}

/// A second origin (another port) that plays a willing tus server and records everything.
pub(super) async fn elsewhere() -> (SocketAddr, Heard) {
    listener(Arc::new(plain_tus)).await
}

/// The result of one upload with the token, after checking the journal shows nothing done.
async fn upload_with_token(server: &str) -> EngineError {
    upload_with_token_trusting(server, ferry_engine::tls::Trust::load(Vec::new()).await).await
}

/// [`upload_with_token`] with the certificates `trust` trusts (a pinned test server).
pub(super) async fn upload_with_token_trusting(
    server: &str,
    trust: ferry_engine::tls::Trust,
) -> EngineError {
    let dir = tempfile::tempdir().unwrap();
    let (file, _) = random_file(dir.path(), "f.bin", usize::try_from(SIZE).unwrap(), 9);
    let home = Home::locate(Some(&dir.path().join("home"))).unwrap();
    let (http, request) = quick_upload(
        file,
        server,
        Some(Token::new(CANARY)),
        Some(CHUNK),
        Duration::from_secs(2),
        trust,
    );
    let result = tokio::time::timeout(BOUND, upload_file(&home, &http, &request))
        .await
        .unwrap_or_else(|_| panic!("the upload to {server} did not end within {BOUND:?}"));
    let history = home
        .journal()
        .unwrap()
        .history(&HistoryQuery::default())
        .unwrap();
    assert!(
        history.iter().all(|h| h.outcome != Outcome::Uploaded),
        "a hostile server must not get an upload recorded as done: {history:?}"
    );
    let err = result.expect_err("a hostile server got the upload finished");
    let shown = err.to_string();
    assert!(
        !shown.contains(CANARY),
        "the token is in the error: {shown}"
    );
    err
}

pub(super) fn says(err: &EngineError, needles: &[&str]) {
    let text = err.to_string();
    for needle in needles {
        assert!(
            text.contains(needle),
            "the message should say {needle:?}: {text}"
        );
    }
}

// ---------------------------------------------------------------------------------------
// The token stays with its origin

#[tokio::test]
async fn a_location_on_another_port_is_refused_and_the_token_stays_home() {
    let (other, heard) = elsewhere().await;
    let location = format!("http://{other}/files/f1");
    let (home, _) = listener(location_at(location)).await;
    let err = upload_with_token(&format!("http://{home}/files/")).await;
    assert!(matches!(err, EngineError::ForeignOrigin { .. }), "{err}");
    assert!(err.is_permanent(), "asking again gets the same Location");
    says(
        &err,
        &[
            "the upload's Location",
            &format!("http://{other}/files/f1"),
            &format!("http://{home}"),
        ],
    );
    assert_never_heard_the_token(&heard, "the other origin");
    assert_eq!(
        heard.count("PATCH") + heard.count("HEAD"),
        0,
        "nothing went there"
    );
}

#[tokio::test]
async fn a_redirect_to_another_origin_is_not_followed() {
    let (other, heard) = elsewhere().await;
    let target = format!("http://{other}/files/");
    let (home, _) = listener(redirect_to(target)).await;
    let err = upload_with_token(&format!("http://{home}/files/")).await;
    assert!(matches!(err, EngineError::ForeignOrigin { .. }), "{err}");
    says(&err, &["a redirect", &format!("http://{other}/files/")]);
    assert_never_heard_the_token(&heard, "the redirect's target");
    assert!(
        heard.requests.lock().unwrap().is_empty(),
        "nothing followed the redirect"
    );
}

#[tokio::test]
async fn an_info_endpoint_on_another_origin_is_refused() {
    let (other, heard) = elsewhere().await;
    let info = format!(
        r#"{{"server":"ferry-server","protocols":{{"tus":{{"endpoint":"http://{other}/files/","extensions":["creation"]}}}}}}"#
    );
    let (home, _) = listener(Arc::new(move |head: &Head| {
        if head.method == "GET" && head.path == "/api/v1/info" {
            http(
                "200 OK",
                &[("Content-Type", "application/json".into())],
                &info,
            )
        } else {
            http("404 Not Found", &[], "")
        }
    }))
    .await;
    let err = upload_with_token(&format!("http://{home}/")).await;
    assert!(matches!(err, EngineError::ForeignOrigin { .. }), "{err}");
    says(
        &err,
        &[
            "the tus endpoint in /api/v1/info",
            &format!("http://{home}"),
        ],
    );
    assert_never_heard_the_token(&heard, "the endpoint /api/v1/info named");
    assert!(heard.requests.lock().unwrap().is_empty());
}

// ---------------------------------------------------------------------------------------
// Every loop bounded

/// The error behind a given-up upload, with the attempts it took.
fn gave_up(err: &EngineError) -> (u32, &TusError) {
    match err {
        EngineError::GaveUp { attempts, last } => match last.as_ref() {
            EngineError::Tus { source, .. } => (*attempts, source),
            other => panic!("expected a tus error behind the give-up, got: {other}"),
        },
        other => panic!("expected the engine to give up after retrying, got: {other}"),
    }
}

#[tokio::test]
async fn an_offset_that_never_moves_is_given_up_after_the_attempts() {
    let (home, heard) = listener(offset_never_moves()).await;
    let err = upload_with_token(&format!("http://{home}/files/")).await;
    let (attempts, last) = gave_up(&err);
    assert_eq!(attempts, ATTEMPTS);
    assert!(
        matches!(last, TusError::NoProgress { offset: 0, .. }),
        "{err}"
    );
    says(&err, &["kept none of them"]);
    assert_eq!(
        heard.count("PATCH"),
        ATTEMPTS as usize,
        "one PATCH per attempt"
    );
}

#[tokio::test]
async fn the_same_5xx_forever_is_given_up_after_the_attempts() {
    let (home, heard) = listener(every_patch(http(
        "503 Service Unavailable",
        &[],
        "down for maintenance",
    )))
    .await;
    let err = upload_with_token(&format!("http://{home}/files/")).await;
    let (attempts, last) = gave_up(&err);
    assert_eq!(attempts, ATTEMPTS);
    assert!(matches!(last, TusError::ServerUnavailable { .. }), "{err}");
    says(&err, &["503", "down for maintenance"]);
    assert!(
        heard.count("PATCH") <= ATTEMPTS as usize,
        "{}",
        heard.count("PATCH")
    );
}

#[tokio::test]
async fn endless_409s_are_given_up_after_the_attempts() {
    let (home, heard) = listener(every_patch(http("409 Conflict", &[], ""))).await;
    let err = upload_with_token(&format!("http://{home}/files/")).await;
    let (attempts, last) = gave_up(&err);
    assert_eq!(attempts, ATTEMPTS);
    assert!(matches!(last, TusError::OffsetConflict { .. }), "{err}");
    assert!(
        heard.count("PATCH") <= ATTEMPTS as usize,
        "{}",
        heard.count("PATCH")
    );
}

// ---------------------------------------------------------------------------------------
// Answers read with caps

#[tokio::test]
async fn huge_headers_end_in_a_network_error_not_a_hang() {
    let (home, heard) = listener(huge_header()).await;
    let err = upload_with_token(&format!("http://{home}/files/")).await;
    assert!(
        matches!(&err, EngineError::GaveUp { last, .. } if matches!(last.as_ref(), EngineError::Network { .. })),
        "{err}"
    );
    assert!(heard.count("POST") <= ATTEMPTS as usize + 1);
}

#[tokio::test]
async fn an_endless_info_body_is_cut_off_at_its_cap() {
    // `/api/v1/info` answered with a body that never ends: Ferry reads its cap and stops.
    let socket = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = socket.local_addr().unwrap();
    let written = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let counter = Arc::clone(&written);
    tokio::spawn(async move {
        while let Ok((stream, _)) = socket.accept().await {
            let counter = Arc::clone(&counter);
            tokio::spawn(async move {
                let mut stream = BufReader::new(stream);
                let Some(_) = read_request(&mut stream, &Heard::default()).await else {
                    return;
                };
                let head = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n";
                if stream.get_mut().write_all(head.as_bytes()).await.is_err() {
                    return;
                }
                let piece = format!("{:x}\r\n{}\r\n", 64 * 1024, " ".repeat(64 * 1024));
                // Until the client hangs up (bounded by the test's own timeout).
                while stream.get_mut().write_all(piece.as_bytes()).await.is_ok() {
                    counter.fetch_add(64 * 1024, std::sync::atomic::Ordering::Relaxed);
                }
            });
        }
    });
    let err = upload_with_token(&format!("http://{addr}/")).await;
    says(&err, &["larger than the 65536 bytes Ferry reads"]);
    let sent = written.load(std::sync::atomic::Ordering::Relaxed);
    assert!(
        sent < 64 << 20,
        "Ferry stopped reading early, not after {sent} bytes"
    );
}

// ---------------------------------------------------------------------------------------
// Folder sync: parked or retried, never a tight loop

/// Folder sync of one new file to the tus server at `server` with the token, until `done`
/// holds of its activity (at most 30 s); the engine's activity then.
async fn sync_one_file(
    server: &str,
    done: impl Fn(&ferry_engine::sync::status::Activity) -> bool,
) -> ferry_engine::sync::status::Activity {
    use ferry_engine::auth::Credentials;
    use ferry_engine::sync::{Engine, SyncOptions};
    let work = tempfile::tempdir().unwrap();
    let home = Home::locate(Some(&work.path().join("home"))).unwrap();
    let dir = work.path().join("synced");
    std::fs::create_dir_all(&dir).unwrap();
    let dir = std::fs::canonicalize(dir).unwrap();
    {
        let journal = home.journal().unwrap();
        let account = journal.account(server, "").unwrap();
        journal
            .add_folder(dir.to_str().unwrap(), account.id, "", None)
            .unwrap();
    }
    let options = SyncOptions {
        quiet_period: Duration::from_millis(100),
        transfer: TransferOptions {
            chunk_size: Some(CHUNK),
            timeout: Duration::from_secs(2),
            retry: RetryPolicy {
                base: Duration::from_millis(10),
                max: Duration::from_millis(50),
                max_attempts: ATTEMPTS,
            },
            ..TransferOptions::default()
        },
        ..SyncOptions::default()
    };
    let engine = Engine::start(
        &home,
        options,
        Credentials::with_env_token(Some(CANARY)),
        events::discard(),
    )
    .await
    .unwrap();
    random_file(&dir, "f.bin", usize::try_from(SIZE).unwrap(), 11);
    let deadline = tokio::time::Instant::now() + BOUND;
    let mut changes = engine.changes();
    while !done(&engine.activity()) {
        let waited = tokio::time::timeout_at(deadline, changes.changed()).await;
        assert!(
            matches!(waited, Ok(true)),
            "folder sync never got there: {:?}",
            engine.activity()
        );
    }
    let history = home
        .journal()
        .unwrap()
        .history(&HistoryQuery::default())
        .unwrap();
    assert!(
        history.iter().all(|h| h.outcome != Outcome::Uploaded),
        "{history:?}"
    );
    engine.activity()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn folder_sync_parks_a_file_whose_location_points_elsewhere() {
    let (other, heard) = elsewhere().await;
    let location = format!("http://{other}/files/f1");
    let (home, _) = listener(location_at(location)).await;
    let activity = sync_one_file(&format!("http://{home}/files/"), |a| !a.failed.is_empty()).await;
    let parked = &activity.failed[0];
    assert!(parked.permanent, "{parked:?}");
    assert!(parked.error.contains("outside"), "{parked:?}");
    assert!(!parked.error.contains(CANARY), "{parked:?}");
    assert_never_heard_the_token(&heard, "the other origin");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn folder_sync_retries_an_offset_that_never_moves_with_a_backoff() {
    let (home, heard) = listener(offset_never_moves()).await;
    // Given up within one attempt's bound, then waiting for its next try (not parked).
    let activity = sync_one_file(&format!("http://{home}/files/"), |a| {
        a.queue
            .iter()
            .any(|q| q.state == ferry_engine::sync::status::QueueState::Retrying)
    })
    .await;
    assert!(activity.failed.is_empty(), "not parked: {activity:?}");
    let waiting = &activity.queue[0];
    assert!(
        waiting
            .error
            .as_deref()
            .is_some_and(|e| e.contains("kept none")),
        "the reason is shown: {waiting:?}"
    );
    assert!(
        heard.count("PATCH") <= ATTEMPTS as usize,
        "one attempt's PATCHes, then a pause: {}",
        heard.count("PATCH")
    );
}

// ---------------------------------------------------------------------------------------
// Parallel parts: one outage is one failed attempt

#[tokio::test]
async fn an_outage_that_fails_every_parts_request_at_once_counts_as_one_attempt() {
    // A tus server with concatenation whose every PATCH fails (as all of them do while a
    // server restarts): each round of three parts' PATCHes is one failed attempt, so the
    // upload is given up after three rounds, not after the first.
    let created = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let (home, heard) = listener(Arc::new(move |head: &Head| match head.method.as_str() {
        "OPTIONS" => http(
            "204 No Content",
            &[
                ("Tus-Version", "1.0.0".into()),
                ("Tus-Extension", "creation,concatenation".into()),
            ],
            "",
        ),
        "POST" => {
            let n = created.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            http("201 Created", &[("Location", format!("/files/p{n}"))], "")
        }
        "HEAD" => http(
            "200 OK",
            &[
                ("Upload-Offset", "0".into()),
                ("Cache-Control", "no-store".into()),
            ],
            "",
        ),
        "PATCH" => http("503 Service Unavailable", &[], "restarting"),
        _ => plain_tus(head),
    }))
    .await;
    let dir = tempfile::tempdir().unwrap();
    let (file, _) = random_file(dir.path(), "f.bin", usize::try_from(SIZE).unwrap(), 9);
    let ferry_home = Home::locate(Some(&dir.path().join("home"))).unwrap();
    let trust = ferry_engine::tls::Trust::load(Vec::new()).await;
    let server = format!("http://{home}/files/");
    let (http_client, mut request) =
        quick_upload(file, &server, None, None, Duration::from_secs(2), trust);
    request.transfer.parallel = 3;
    let err = tokio::time::timeout(BOUND, upload_file(&ferry_home, &http_client, &request))
        .await
        .expect("bounded")
        .expect_err("every PATCH fails");
    let (attempts, last) = gave_up(&err);
    assert_eq!(attempts, ATTEMPTS, "{err}");
    assert!(matches!(last, TusError::ServerUnavailable { .. }), "{err}");
    assert_eq!(heard.count("POST"), 3, "three partial uploads, made once");
    let patches = heard.count("PATCH");
    assert!(
        (2 * 3..=3 * ATTEMPTS as usize).contains(&patches),
        "every part is tried again after the first failed round: {patches} PATCHes"
    );
}
