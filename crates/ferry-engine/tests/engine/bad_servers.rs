//! Bad replies from fake servers: the whole one-shot upload (`upload_file`, with its
//! journal) against servers that misbehave on purpose, written here in a few lines each.
//!
//! - a raw HTTP server (`fake_http`: a listener that reads just enough of each request and answers
//!   with scripted bytes, closing the connection after every answer) that plays a tus
//!   server and then lies about offsets, leaves out headers, answers garbage or a web page;
//! - a WebSocket server that plays GalileoSend and then sends garbage JSON, binary frames
//!   where JSON belongs, impossible offsets, early closes and fatal errors, or resets the
//!   connection in the middle of a frame.
//!
//! Each case asserts the same four things: a typed error whose message names the problem,
//! no panic, an end within seconds (retries are bounded), and a journal that shows nothing
//! done (no `uploaded` history row, the file not marked uploaded).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ferry_engine::EngineError;
use ferry_engine::home::Home;
use ferry_engine::upload::upload_file;
use ferry_proto::galileo::GalileoError;
use ferry_proto::tus::TusError;
use ferry_store::{FileState, HistoryQuery, Outcome};
use futures_util::{SinkExt, StreamExt};
use tokio::io::AsyncReadExt;
use tokio::net::TcpListener;
use tokio_tungstenite::tungstenite::Message;

use crate::support::{quick_upload, random_file};
use ferry_tests::fake_http::{Head, SIZE, http, listener, offset_reply, plain_tus};

/// Bytes per PATCH or frame.
const CHUNK: u64 = 1024;
/// Far more than three quick retries need; a hang or an endless loop fails here.
const BOUND: Duration = Duration::from_secs(10);

// ---------------------------------------------------------------------------------------
// A raw HTTP server

/// Answers a request with `Some(bytes)` to misbehave, `None` to behave.
type Script = Arc<dyn Fn(&Head) -> Option<Vec<u8>> + Send + Sync>;

/// A tus server on 127.0.0.1 that answers as `script` says, else as [`plain_tus`];
/// returns the URL of its endpoint.
async fn tus_server(script: Script) -> String {
    let (addr, _) = listener(Arc::new(move |head: &Head| {
        script(head).unwrap_or_else(|| plain_tus(head))
    }))
    .await;
    format!("http://{addr}/files/")
}

// ---------------------------------------------------------------------------------------
// A WebSocket server

/// How the fake GalileoSend server misbehaves after the client's metadata.
#[derive(Debug, Clone, Copy)]
enum Galileo {
    GarbageJson,
    BinaryFrame,
    OffsetPastEnd,
    CloseEarly,
    /// Confirms one chunk, then closes early; the next connection starts again at 0.
    ForgetsAndCloses,
    FatalError,
    /// Takes the first hundred bytes of the first chunk's frame, then resets the
    /// connection (RST, not a close): an error it might have meant to send is never read.
    ResetsMidFrame,
}

/// A GalileoSend server on 127.0.0.1 that misbehaves as `how` says on every connection;
/// returns its URL.
async fn galileo_server(how: Galileo) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr: SocketAddr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            tokio::spawn(async move {
                let Ok(mut ws) = tokio_tungstenite::accept_async(stream).await else {
                    return;
                };
                // The metadata.
                let Some(Ok(Message::Text(_))) = ws.next().await else {
                    return;
                };
                let ready = |offset: u64| {
                    Message::text(format!(
                        r#"{{"ready":true,"chunksize":{CHUNK},"upload":"u1","offset":{offset}}}"#
                    ))
                };
                let _ = match how {
                    Galileo::GarbageJson => ws.send(Message::text(r#"{"ready":tru"#)).await,
                    Galileo::BinaryFrame => ws.send(Message::binary(vec![1u8, 2, 3])).await,
                    Galileo::OffsetPastEnd => ws.send(ready(SIZE + 100)).await,
                    Galileo::CloseEarly => {
                        let _ = ws.send(ready(0)).await;
                        // One chunk arrives; the server says goodbye instead of ready.
                        let _ = ws.next().await;
                        ws.send(Message::text(r#"{"close":true}"#)).await
                    }
                    Galileo::ForgetsAndCloses => {
                        let _ = ws.send(ready(0)).await;
                        let _ = ws.next().await;
                        let _ = ws.send(ready(CHUNK)).await;
                        let _ = ws.next().await;
                        ws.send(Message::text(r#"{"close":true}"#)).await
                    }
                    Galileo::ResetsMidFrame => {
                        let _ = ws.send(ready(0)).await;
                        let tcp = ws.get_mut();
                        let mut some = [0u8; 100];
                        let _ = tcp.read_exact(&mut some).await;
                        // Linger 0: closing the socket sends RST, dropping what is unsent.
                        let _ = tcp.set_zero_linger();
                        return;
                    }
                    Galileo::FatalError => {
                        ws.send(Message::text(
                            r#"{"error":"the disk is on fire","fatal":true}"#,
                        ))
                        .await
                    }
                };
                // Hold the connection until the client leaves.
                while let Some(Ok(_)) = ws.next().await {}
            });
        }
    });
    format!("ws://{addr}/galileo")
}

// ---------------------------------------------------------------------------------------
// The upload and the checks

/// The upload's file, home and result, and how long it took.
struct Attempt {
    result: Result<ferry_store::HistoryEntry, EngineError>,
    home: Home,
    file: PathBuf,
    took: Duration,
    _dir: tempfile::TempDir,
}

/// Uploads a fresh file to `server` with quick retries (three attempts) and a short timeout.
async fn upload_to(server: &str) -> Attempt {
    let dir = tempfile::tempdir().unwrap();
    let (file, _) = random_file(dir.path(), "f.bin", usize::try_from(SIZE).unwrap(), 7);
    let home = Home::locate(Some(&dir.path().join("home"))).unwrap();
    let trust = ferry_engine::tls::Trust::load(Vec::new()).await;
    let (http, request) = quick_upload(
        file.clone(),
        server,
        None,
        Some(CHUNK),
        Duration::from_secs(2),
        trust,
    );
    let started = Instant::now();
    let result = tokio::time::timeout(BOUND, upload_file(&home, &http, &request))
        .await
        .unwrap_or_else(|_| panic!("the upload to {server} did not end within {BOUND:?}"));
    Attempt {
        result,
        home,
        file: std::fs::canonicalize(&file).unwrap(),
        took: started.elapsed(),
        _dir: dir,
    }
}

impl Attempt {
    /// The error, after checking the journal shows nothing done and the call was quick.
    fn failed(self) -> EngineError {
        let journal = self.home.journal().unwrap();
        let history = journal.history(&HistoryQuery::default()).unwrap();
        assert!(
            history.iter().all(|h| h.outcome != Outcome::Uploaded),
            "a bad server must not get an upload recorded as done: {history:?}"
        );
        if let Some(file) = journal.file(None, &self.file.to_string_lossy()).unwrap() {
            assert_ne!(file.state, FileState::Uploaded, "the file is not uploaded");
            assert_eq!(file.uploaded_sha1, None, "no content is on the server");
        }
        assert!(
            self.took < BOUND / 2,
            "three quick retries take well under {BOUND:?}, not {:?}",
            self.took
        );
        match self.result {
            Ok(entry) => panic!("a bad server got the upload finished: {entry:?}"),
            Err(err) => err,
        }
    }
}

/// The error behind a [`EngineError::GaveUp`], with the attempts it took.
fn gave_up(err: &EngineError) -> (u32, &EngineError) {
    match err {
        EngineError::GaveUp { attempts, last } => (*attempts, last),
        other => panic!("expected the engine to give up after retrying, got: {other}"),
    }
}

fn tus_source(err: &EngineError) -> &TusError {
    match err {
        EngineError::Tus { source, .. } => source,
        other => panic!("expected a tus error, got: {other}"),
    }
}

fn galileo_source(err: &EngineError) -> &GalileoError {
    match err {
        EngineError::Galileo { source, .. } => source,
        other => panic!("expected a GalileoSend error, got: {other}"),
    }
}

/// Asserts the message names the problem in words (`needles`), as a person reads it.
fn says(err: &EngineError, needles: &[&str]) {
    let text = err.to_string();
    for needle in needles {
        assert!(
            text.contains(needle),
            "the message should say {needle:?}: {text}"
        );
    }
    assert!(!text.contains("panicked"), "{text}");
}

// ---------------------------------------------------------------------------------------
// tus

#[tokio::test]
async fn tus_an_offset_past_what_was_sent_is_refused_and_retries_end() {
    let server = tus_server(Arc::new(|r: &Head| {
        (r.method == "PATCH").then(|| offset_reply(r.offset.unwrap_or(0) + r.body_len + 100))
    }))
    .await;
    let err = upload_to(&server).await.failed();
    let (attempts, last) = gave_up(&err);
    assert_eq!(attempts, 3);
    assert!(
        matches!(
            tus_source(last),
            TusError::OffsetOutOfRange { reported, min: 0, max: CHUNK, .. } if *reported == CHUNK + 100
        ),
        "{err}"
    );
    says(
        &err,
        &["gave up after 3 attempts", "offset 1124", "0..=1024"],
    );
}

#[tokio::test]
async fn tus_an_offset_that_goes_backwards_is_refused_and_retries_end() {
    // The first chunk is taken; then every PATCH is answered with an offset below where it
    // started, and HEAD says the server lost everything: a server that keeps losing data.
    let server = tus_server(Arc::new(|r: &Head| {
        let offset = r.offset.unwrap_or(0);
        (r.method == "PATCH" && offset > 0).then(|| offset_reply(offset - 512))
    }))
    .await;
    let err = upload_to(&server).await.failed();
    let (_, last) = gave_up(&err);
    assert!(
        matches!(
            tus_source(last),
            TusError::OffsetOutOfRange { .. } | TusError::OffsetWentBackwards { .. }
        ),
        "{err}"
    );
    says(&err, &["gave up after", "offset"]);
}

#[tokio::test]
async fn tus_a_server_that_keeps_losing_the_upload_is_given_up() {
    // Takes the first chunk, then answers 410 Gone to the next PATCH: the upload starts
    // over with a new POST, again and again.
    let server = tus_server(Arc::new(|r: &Head| {
        (r.method == "PATCH" && r.offset.unwrap_or(0) > 0).then(|| http("410 Gone", &[], ""))
    }))
    .await;
    let err = upload_to(&server).await.failed();
    let (attempts, last) = gave_up(&err);
    assert_eq!(attempts, 3);
    assert!(matches!(last, EngineError::LostUpload { .. }), "{err}");
    assert!(
        !err.is_permanent(),
        "a server that loses uploads may keep the next one: tried again later"
    );
    says(&err, &["gave up after 3 attempts", "it lost the upload"]);
}

#[tokio::test]
async fn tus_a_patch_answer_without_upload_offset_is_a_missing_header() {
    let server = tus_server(Arc::new(|r: &Head| {
        (r.method == "PATCH").then(|| http("204 No Content", &[], ""))
    }))
    .await;
    let err = upload_to(&server).await.failed();
    let (_, last) = gave_up(&err);
    assert!(
        matches!(
            tus_source(last),
            TusError::MissingHeader {
                header: "Upload-Offset",
                ..
            }
        ),
        "{err}"
    );
    says(&err, &["lacks the Upload-Offset header"]);
}

#[tokio::test]
async fn tus_a_non_numeric_upload_offset_is_a_bad_header() {
    let server = tus_server(Arc::new(|r: &Head| {
        (r.method == "PATCH")
            .then(|| http("204 No Content", &[("Upload-Offset", "lots".into())], ""))
    }))
    .await;
    let err = upload_to(&server).await.failed();
    let (_, last) = gave_up(&err);
    assert!(
        matches!(tus_source(last), TusError::BadHeader { .. }),
        "{err}"
    );
    says(
        &err,
        &["the upload-offset header is \"lots\", which is not a non-negative decimal integer"],
    );
}

#[tokio::test]
async fn tus_a_creation_without_location_is_a_missing_header() {
    let server = tus_server(Arc::new(|r: &Head| {
        (r.method == "POST").then(|| http("201 Created", &[], ""))
    }))
    .await;
    let err = upload_to(&server).await.failed();
    let (_, last) = gave_up(&err);
    assert!(
        matches!(
            tus_source(last),
            TusError::MissingHeader {
                header: "Location",
                ..
            }
        ),
        "{err}"
    );
    says(&err, &["lacks the Location header"]);
}

#[tokio::test]
async fn tus_garbage_instead_of_http_is_a_network_error() {
    let server = tus_server(Arc::new(|r: &Head| {
        (r.method == "POST").then(|| b"\x00\x01garbage, not HTTP at all\r\n\r\n".to_vec())
    }))
    .await;
    let err = upload_to(&server).await.failed();
    let (_, last) = gave_up(&err);
    assert!(matches!(last, EngineError::Network { .. }), "{err}");
    says(&err, &["gave up after 3 attempts", "cannot reach"]);
}

#[tokio::test]
async fn tus_a_connection_closed_mid_reply_is_a_network_error() {
    let server = tus_server(Arc::new(|r: &Head| {
        (r.method == "PATCH").then(|| b"HTTP/1.1 204 No Content\r\nUpload-Offs".to_vec())
    }))
    .await;
    let err = upload_to(&server).await.failed();
    let (_, last) = gave_up(&err);
    assert!(matches!(last, EngineError::Network { .. }), "{err}");
    assert_eq!(
        err.network_failure(),
        Some(ferry_engine::error::NetworkFailure::Closed),
        "classified where it happened: {err}"
    );
    says(&err, &["gave up after 3 attempts", "cannot reach"]);
}

#[tokio::test]
async fn tus_options_without_tus_version_is_no_protocol() {
    let server = tus_server(Arc::new(|r: &Head| {
        (r.method == "OPTIONS").then(|| http("204 No Content", &[], ""))
    }))
    .await;
    let err = upload_to(&server).await.failed();
    assert!(matches!(err, EngineError::NoProtocol { .. }), "{err}");
    says(
        &err,
        &["offers no usable upload protocol", "without Tus-Version"],
    );
}

#[tokio::test]
async fn tus_a_web_page_for_every_request_is_no_protocol() {
    let page = "<!doctype html><html><body><h1>Welcome to nginx!</h1></body></html>";
    let server = tus_server(Arc::new(move |_: &Head| {
        Some(http(
            "200 OK",
            &[("Content-Type", "text/html".into())],
            page,
        ))
    }))
    .await;
    let err = upload_to(&server).await.failed();
    assert!(matches!(err, EngineError::NoProtocol { .. }), "{err}");
    says(
        &err,
        &["neither a ferry-server", "200 OK without Tus-Version"],
    );
}

#[tokio::test]
async fn tus_a_web_page_as_the_answer_to_a_patch_is_a_missing_header() {
    let server = tus_server(Arc::new(|r: &Head| {
        (r.method == "PATCH").then(|| {
            http(
                "200 OK",
                &[("Content-Type", "text/html".into())],
                "<html>hello</html>",
            )
        })
    }))
    .await;
    let err = upload_to(&server).await.failed();
    let (_, last) = gave_up(&err);
    assert!(
        matches!(tus_source(last), TusError::MissingHeader { .. }),
        "{err}"
    );
    says(&err, &["lacks the Upload-Offset header"]);
}

// ---------------------------------------------------------------------------------------
// GalileoSend

#[tokio::test]
async fn galileo_garbage_json_is_a_bad_message() {
    let err = upload_to(&galileo_server(Galileo::GarbageJson).await)
        .await
        .failed();
    assert!(
        matches!(galileo_source(&err), GalileoError::BadMessage { .. }),
        "{err}"
    );
    says(&err, &["malformed GalileoSend message"]);
}

#[tokio::test]
async fn galileo_a_binary_frame_where_json_belongs_is_a_protocol_violation() {
    let err = upload_to(&galileo_server(Galileo::BinaryFrame).await)
        .await
        .failed();
    assert!(
        matches!(galileo_source(&err), GalileoError::Protocol { .. }),
        "{err}"
    );
    says(&err, &["protocol violation", "binary frame"]);
}

#[tokio::test]
async fn galileo_a_ready_past_the_end_of_the_file_starts_over_once_then_gives_up() {
    let err = upload_to(&galileo_server(Galileo::OffsetPastEnd).await)
        .await
        .failed();
    let last = match &err {
        EngineError::GaveUp { last, .. } => last.as_ref(),
        other => other,
    };
    assert!(
        matches!(
            galileo_source(last),
            GalileoError::OffsetPastEnd { offset, size: SIZE } if *offset == SIZE + 100
        ),
        "{err}"
    );
    says(&err, &["resume at byte 4196", "only 4096 bytes"]);
}

#[tokio::test]
async fn galileo_a_close_before_all_data_was_sent_is_retried_then_given_up() {
    let err = upload_to(&galileo_server(Galileo::CloseEarly).await)
        .await
        .failed();
    let (attempts, last) = gave_up(&err);
    assert_eq!(attempts, 3);
    assert!(
        matches!(
            galileo_source(last),
            GalileoError::ClosedEarly { size: SIZE, .. }
        ),
        "{err}"
    );
    says(&err, &["ended the upload after", "of 4096 bytes"]);
}

#[tokio::test]
async fn galileo_a_server_that_keeps_forgetting_what_it_confirmed_is_given_up() {
    let err = upload_to(&galileo_server(Galileo::ForgetsAndCloses).await)
        .await
        .failed();
    let (_, last) = gave_up(&err);
    assert!(
        matches!(galileo_source(last), GalileoError::ClosedEarly { .. }),
        "{err}"
    );
    says(&err, &["gave up after", "ended the upload after"]);
}

#[tokio::test]
async fn galileo_a_fatal_error_signal_ends_the_upload_at_once() {
    let err = upload_to(&galileo_server(Galileo::FatalError).await)
        .await
        .failed();
    assert!(
        matches!(galileo_source(&err), GalileoError::Rejected { .. }),
        "{err}"
    );
    says(&err, &["refused the upload", "the disk is on fire"]);
}

#[tokio::test]
async fn galileo_a_connection_reset_mid_frame_is_retried_then_given_up() {
    let err = upload_to(&galileo_server(Galileo::ResetsMidFrame).await)
        .await
        .failed();
    let (attempts, last) = gave_up(&err);
    assert_eq!(attempts, 3);
    assert!(matches!(last, EngineError::Network { .. }), "{err}");
    says(&err, &["gave up after 3 attempts", "reset"]);
}
