//! GalileoSend against a server whose frame limit is below the frames Ferry sends: a fake
//! WebSocket server with the resume extension that refuses every binary frame above
//! 256 KiB (by closing with code 1009, Message Too Big, or with a fatal `chunk_too_large`
//! signal, as ferry-server does) and stores every frame it accepts. The whole one-shot
//! upload (`upload_file`, with its journal) must end with the file on the server byte for
//! byte after a bounded number of reconnects, and the journal must remember the size that
//! worked; a server that refuses even the smallest frame ends in a permanent error that
//! names the limit.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ferry_engine::EngineError;
use ferry_engine::home::Home;
use ferry_engine::upload::upload_file;
use ferry_proto::Protocol;
use ferry_proto::galileo::{GalileoError, MIN_FRAME_SIZE};
use ferry_store::{FileState, HistoryQuery, Outcome};
use futures_util::{SinkExt, StreamExt};
use tokio::net::TcpListener;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

use crate::support::{quick_upload, random_file};

/// The largest frame the fake server takes.
const LIMIT: usize = 256 * 1024;
/// What the fake server claims to take: more than it does, as a server behind a proxy
/// with a smaller limit would.
const CLAIMED: usize = 1 << 20;
/// Four frames of the limit and a short one.
const SIZE: usize = 4 * LIMIT + 1000;
/// Far more than the halvings from 1 MiB to 256 KiB (two) need: 8 halvings at most, and
/// one connection to finish.
const MAX_CONNECTIONS: usize = 10;

/// How the fake server says no.
#[derive(Debug, Clone, Copy)]
enum Refuse {
    CloseCode,
    ChunkTooLarge,
}

/// What the fake server holds: the bytes it accepted, in order, and how often a client
/// connected.
#[derive(Default)]
struct Held {
    data: Vec<u8>,
    connections: usize,
    finished: bool,
}

/// A GalileoSend server (with the resume extension, one upload `u1`) that refuses frames
/// above `limit` bytes as `how` says; returns its URL and what it holds.
async fn limited_server(limit: usize, how: Refuse) -> (String, Arc<Mutex<Held>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr: SocketAddr = listener.local_addr().unwrap();
    let held = Arc::new(Mutex::new(Held::default()));
    let state = Arc::clone(&held);
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            let held = Arc::clone(&state);
            tokio::spawn(async move {
                let Ok(mut ws) = tokio_tungstenite::accept_async(stream).await else {
                    return;
                };
                held.lock().unwrap().connections += 1;
                let Some(Ok(Message::Text(_))) = ws.next().await else {
                    return;
                };
                let ready = |offset: usize| {
                    Message::text(format!(
                        r#"{{"ready":true,"chunksize":{CLAIMED},"upload":"u1","offset":{offset}}}"#
                    ))
                };
                let offset = held.lock().unwrap().data.len();
                if ws.send(ready(offset)).await.is_err() {
                    return;
                }
                while let Some(Ok(message)) = ws.next().await {
                    match message {
                        Message::Binary(bytes) if bytes.len() > limit => {
                            let _ = match how {
                                Refuse::CloseCode => {
                                    ws.close(Some(CloseFrame {
                                        code: CloseCode::Size,
                                        reason: "message too big".into(),
                                    }))
                                    .await
                                }
                                Refuse::ChunkTooLarge => {
                                    ws.send(Message::text(
                                        r#"{"error":"a frame was larger than this server accepts","code":"chunk_too_large","fatal":true}"#,
                                    ))
                                    .await
                                }
                            };
                            break;
                        }
                        Message::Binary(bytes) => {
                            let offset = {
                                let mut held = held.lock().unwrap();
                                held.data.extend_from_slice(&bytes);
                                held.data.len()
                            };
                            let _ = ws.send(ready(offset)).await;
                        }
                        Message::Text(text) if text.contains("finished") => {
                            held.lock().unwrap().finished = true;
                            let _ = ws.send(Message::text(r#"{"close":true}"#)).await;
                            break;
                        }
                        _ => {}
                    }
                }
                // Hold the connection until the client leaves.
                while let Some(Ok(_)) = ws.next().await {}
            });
        }
    });
    (format!("ws://{addr}/galileo"), held)
}

/// Uploads a fresh file `name` (random bytes from `seed`) in `dir` to `server` in one
/// `upload_file`, with the default chunk size; returns the result, the home (in `dir`) whose
/// journal recorded it, and the file's content.
async fn upload(
    server: &str,
    dir: &std::path::Path,
    name: &str,
    seed: u64,
) -> (
    Result<ferry_store::HistoryEntry, EngineError>,
    Home,
    Vec<u8>,
) {
    let (file, content) = random_file(dir, name, SIZE, seed);
    let home = Home::locate(Some(&dir.join("home"))).unwrap();
    let trust = ferry_engine::tls::Trust::load(Vec::new()).await;
    let (http, request) = quick_upload(file, server, None, None, Duration::from_secs(5), trust);
    let result = upload_file(&home, &http, &request).await;
    (result, home, content)
}

async fn a_frame_limit_below_the_chunk_size_is_learnt_and_the_upload_completes(how: Refuse) {
    let dir = tempfile::tempdir().unwrap();
    let (server, held) = limited_server(LIMIT, how).await;
    let (result, home, content) = upload(&server, dir.path(), "f.bin", 12).await;
    let entry = result.unwrap_or_else(|err| panic!("{how:?}: the upload failed: {err}"));
    assert_eq!(entry.outcome, Outcome::Uploaded);
    let held = held.lock().unwrap();
    assert!(held.finished, "{how:?}: the client sent `finished`");
    assert!(
        held.data == content,
        "{how:?}: the server holds {} bytes, not the file's {} byte for byte",
        held.data.len(),
        content.len()
    );
    assert!(
        held.connections <= MAX_CONNECTIONS,
        "{how:?}: {} connections; halving from 1 MiB to 256 KiB takes three",
        held.connections
    );
    assert_eq!(
        held.connections, 3,
        "{how:?}: 1 MiB refused, 512 KiB refused, 256 KiB taken"
    );
    let journal = home.journal().unwrap();
    assert_eq!(
        journal.chunk_limit(&server, Protocol::Galileo).unwrap(),
        Some(LIMIT as u64),
        "{how:?}: the journal remembers the frame size that worked at {server}"
    );
}

#[tokio::test]
async fn galileo_a_close_with_1009_makes_frames_smaller_until_the_server_takes_them() {
    a_frame_limit_below_the_chunk_size_is_learnt_and_the_upload_completes(Refuse::CloseCode).await;
}

#[tokio::test]
async fn galileo_a_chunk_too_large_error_makes_frames_smaller_until_the_server_takes_them() {
    a_frame_limit_below_the_chunk_size_is_learnt_and_the_upload_completes(Refuse::ChunkTooLarge)
        .await;
}

#[tokio::test]
async fn galileo_the_next_upload_starts_with_the_frame_size_the_journal_learnt() {
    let dir = tempfile::tempdir().unwrap();
    let (server, held) = limited_server(LIMIT, Refuse::CloseCode).await;
    let (result, _, _) = upload(&server, dir.path(), "f.bin", 12).await;
    result.unwrap();
    *held.lock().unwrap() = Held::default();
    // Another file, the same home and server.
    let (result, _, content) = upload(&server, dir.path(), "g.bin", 13).await;
    result.unwrap();
    let held = held.lock().unwrap();
    assert!(
        held.data == content,
        "the second file arrived byte for byte"
    );
    assert_eq!(
        held.connections, 1,
        "the learnt 256 KiB frames go through on the first connection"
    );
}

#[tokio::test]
async fn galileo_a_server_that_refuses_even_the_smallest_frame_is_a_permanent_error_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let (server, held) = limited_server(1000, Refuse::CloseCode).await;
    let (result, home, _) = upload(&server, dir.path(), "f.bin", 12).await;
    let err = match result {
        Ok(entry) => panic!("a server that takes no frame got the upload finished: {entry:?}"),
        Err(err) => err,
    };
    let EngineError::Galileo { source, .. } = &err else {
        panic!("expected a GalileoSend error, got: {err}");
    };
    assert!(
        matches!(**source, GalileoError::FramesTooLarge { len, .. } if len == MIN_FRAME_SIZE),
        "{source:?}"
    );
    assert!(err.is_permanent(), "retrying the same cannot help: {err}");
    let text = err.to_string();
    for needle in ["65536 bytes", "1009", "raise the message size limit"] {
        assert!(text.contains(needle), "{needle:?} missing from: {text}");
    }
    // 1 MiB, 512, 256, 128 and 64 KiB: five connections, each refused.
    assert_eq!(held.lock().unwrap().connections, 5);
    let journal = home.journal().unwrap();
    let history = journal.history(&HistoryQuery::default()).unwrap();
    assert!(
        history.iter().all(|h| h.outcome != Outcome::Uploaded),
        "nothing recorded as uploaded: {history:?}"
    );
    let file = std::fs::canonicalize(dir.path().join("f.bin")).unwrap();
    if let Some(file) = journal.file(None, &file.to_string_lossy()).unwrap() {
        assert_ne!(file.state, FileState::Uploaded);
    }
}
