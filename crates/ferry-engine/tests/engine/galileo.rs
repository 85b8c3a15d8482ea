//! The GalileoSend transport against a real ferry-server (through the fault proxy where the
//! network misbehaves), and against a tiny server that speaks only the original 2013
//! protocol.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ferry_engine::TransferOptions;
use ferry_engine::events::{Event, EventSink};
use ferry_engine::file::LocalFile;
use ferry_engine::rate::RateLimit;
use ferry_engine::retry::RetryPolicy;
use ferry_engine::target::GalileoTarget;
use ferry_engine::transport::galileo::{resume_state, saved_upload, send};
use ferry_engine::transport::{ResumeState, Transfer, Transferred};
use ferry_engine::{EngineError, Token};
use ferry_tests::proxy::FaultProxy;
use futures_util::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::Message;

use crate::support::{TestServer, files_under, random_file};

/// ferry-server's `chunksize` by default.
const CHUNK: u64 = 1 << 20;
const MIB: usize = 1 << 20;

/// Room for one connection's upgrade request, metadata and `finished` above the file's bytes.
const PER_CONNECTION: u64 = 4096;

fn target(addr: SocketAddr) -> GalileoTarget {
    GalileoTarget {
        url: format!("ws://{addr}/galileo").parse().unwrap(),
        resume: None,
    }
}

/// Every event a transfer emitted.
#[derive(Clone, Default)]
struct Events(Arc<Mutex<Vec<Event>>>);

impl Events {
    fn sink(&self) -> EventSink {
        let events = Arc::clone(&self.0);
        Arc::new(move |event| events.lock().unwrap().push(event))
    }

    fn all(&self) -> Vec<Event> {
        self.0.lock().unwrap().clone()
    }

    fn retries(&self) -> usize {
        self.all()
            .iter()
            .filter(|e| matches!(e, Event::Retrying { .. }))
            .count()
    }

    fn started_from(&self) -> Vec<u64> {
        self.all()
            .iter()
            .filter_map(|e| match e {
                Event::Started { resumed_from, .. } => Some(*resumed_from),
                _ => None,
            })
            .collect()
    }
}

/// A transfer of `path` as ann, retrying quickly (tests must not sleep long).
async fn transfer(path: &Path, remote: &str, token: &str) -> (Transfer, Events) {
    let file = LocalFile::open(path).unwrap();
    let sha1 = file.sha1().await.unwrap();
    let events = Events::default();
    let transfer = Transfer {
        file,
        sha1,
        remote_path: remote.to_owned(),
        chunk_size: 8 << 20,
        options: TransferOptions {
            chunk_size: None,
            parallel: 1,
            chunk_checksums: true,
            retry: RetryPolicy {
                base: Duration::from_millis(5),
                max: Duration::from_millis(50),
                max_attempts: 10,
            },
            timeout: Duration::from_secs(5),
        },
        reduced_chunk: std::sync::Arc::default(),
        token: Some(Token::new(token)),
        limit: RateLimit::unlimited(),
        events: events.sink(),
        trust: ferry_engine::tls::Trust::load(Vec::new()).await,
    };
    (transfer, events)
}

/// The last state handed to `on_confirmed`, shared so a test can watch it from outside.
#[derive(Clone, Default)]
struct Saved(Arc<Mutex<Option<ResumeState>>>);

impl Saved {
    fn recorder(&self) -> impl FnMut(&ResumeState) -> ferry_engine::transport::Recorded + Send {
        let saved = Arc::clone(&self.0);
        move |state| {
            *saved.lock().unwrap() = Some(state.clone());
            ferry_engine::transport::recorded()
        }
    }

    fn get(&self) -> Option<ResumeState> {
        self.0.lock().unwrap().clone()
    }

    fn offset(&self) -> u64 {
        self.get().map_or(0, |s| s.parts[0].offset)
    }

    /// Waits until the server confirmed at least `bytes`.
    async fn wait_for(&self, bytes: u64) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while self.offset() < bytes {
            assert!(Instant::now() < deadline, "no progress past {bytes} bytes");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
}

async fn upload(
    target: &GalileoTarget,
    transfer: &Transfer,
    resume: Option<&ResumeState>,
    saved: &Saved,
) -> Result<Transferred, EngineError> {
    send(target, transfer, resume, &mut saved.recorder()).await
}

fn assert_stored(server: &TestServer, remote: &str, bytes: &[u8]) {
    let stored = std::fs::read(server.file("ann", remote)).expect("the finished file");
    assert!(
        stored == bytes,
        "the stored file differs from the local one ({} vs {} bytes)",
        stored.len(),
        bytes.len()
    );
}

/// Asserts that what went upstream beyond the file is at most one chunk per cut plus the
/// protocol's own bytes per connection.
fn assert_waste(proxy: &FaultProxy, size: u64, cuts: u64) {
    let forwarded = proxy.upstream_bytes();
    let allowed = cuts * CHUNK + proxy.connections() * PER_CONNECTION;
    assert!(
        forwarded >= size && forwarded - size <= allowed,
        "{forwarded} bytes forwarded for a {size}-byte file with {cuts} cuts over {} \
         connections: at most {allowed} extra allowed",
        proxy.connections()
    );
}

#[tokio::test]
async fn uploads_a_file_byte_identical_and_reports_progress() {
    let server = TestServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let (path, bytes) = random_file(dir.path(), "k.bin", 3 * MIB + 12_345, 1);
    let (transfer, events) = transfer(&path, "docs/k.bin", &server.ann).await;
    let saved = Saved::default();
    let done = upload(&target(server.addr), &transfer, None, &saved)
        .await
        .unwrap();
    assert_stored(&server, "docs/k.bin", &bytes);
    assert_eq!(done.bytes_sent, bytes.len() as u64, "each byte sent once");
    let id = done.location.expect("ferry-server names the upload");
    let state = saved.get().expect("confirmations were handed out");
    assert_eq!(saved_upload(&state, bytes.len() as u64), Some(id.as_str()));
    assert_eq!(state.parts[0].offset, bytes.len() as u64);
    assert_eq!(events.started_from(), [0]);
    let confirmed: Vec<u64> = events
        .all()
        .iter()
        .filter_map(|e| match e {
            Event::Progress { confirmed, .. } => Some(*confirmed),
            _ => None,
        })
        .collect();
    assert_eq!(
        confirmed,
        [CHUNK, 2 * CHUNK, 3 * CHUNK, bytes.len() as u64],
        "one confirmation per 1 MiB chunk the server asked for"
    );
}

#[tokio::test]
async fn uploads_an_empty_file() {
    let server = TestServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let (path, _) = random_file(dir.path(), "empty", 0, 2);
    let (transfer, _) = transfer(&path, "empty", &server.ann).await;
    let done = upload(&target(server.addr), &transfer, None, &Saved::default())
        .await
        .unwrap();
    assert_eq!(done.bytes_sent, 0);
    assert_stored(&server, "empty", b"");
}

#[tokio::test]
async fn resumes_from_the_servers_offset_after_a_connection_cut() {
    let server = TestServer::start().await;
    let proxy = FaultProxy::start(server.addr).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (path, bytes) = random_file(dir.path(), "k.bin", 5 * MIB, 3);
    proxy.cut_at([2 * CHUNK + CHUNK / 2]);
    let (transfer, events) = transfer(&path, "k.bin", &server.ann).await;
    let done = upload(&target(proxy.addr()), &transfer, None, &Saved::default())
        .await
        .unwrap();
    assert_stored(&server, "k.bin", &bytes);
    assert_eq!(proxy.cuts_done(), 1);
    assert_eq!(events.retries(), 1, "one reconnect after the cut");
    assert_eq!(events.started_from(), [0], "started once");
    assert_waste(&proxy, bytes.len() as u64, 1);
    assert!(done.bytes_sent <= bytes.len() as u64 + CHUNK);
}

/// Issue 4's acceptance: a 256 MiB file (`FERRY_BIG_MB` to change it) with 30 cuts at
/// random upstream offsets.
#[tokio::test]
async fn a_big_file_survives_thirty_cuts_at_random_offsets() {
    let mib: usize = std::env::var("FERRY_BIG_MB")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(256);
    let size = (mib << 20) as u64;
    let server = TestServer::start().await;
    let proxy = FaultProxy::start(server.addr).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (path, bytes) = random_file(dir.path(), "big.bin", mib << 20, 4);
    // Random but reproducible offsets (printed on failure through the assertion).
    let mut state = 0x9e37_79b9_7f4a_7c15_u64;
    let cuts: Vec<u64> = (0..30)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            1 + state % (size - 1)
        })
        .collect();
    proxy.cut_at(cuts.iter().copied());
    let (mut transfer, events) = transfer(&path, "big.bin", &server.ann).await;
    // Two cuts may land in the same chunk or handshake: a few attempts in a row may fail.
    transfer.options.retry.max_attempts = 30;
    let done = upload(&target(proxy.addr()), &transfer, None, &Saved::default())
        .await
        .unwrap();
    assert_stored(&server, "big.bin", &bytes);
    let made = proxy.cuts_done();
    let distinct = cuts.iter().collect::<std::collections::BTreeSet<_>>().len() as u64;
    assert_eq!(made, distinct, "every cut at {cuts:?} was crossed");
    assert_waste(&proxy, size, made);
    assert!(done.bytes_sent <= size + made * CHUNK);
    assert_eq!(events.started_from(), [0]);
}

#[tokio::test]
async fn a_saved_state_resumes_in_a_later_call_from_the_servers_offset() {
    let server = TestServer::start().await;
    let proxy = FaultProxy::start(server.addr).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (path, bytes) = random_file(dir.path(), "k.bin", 4 * MIB + 7, 5);
    proxy.cut_at([2 * CHUNK + 1000]);
    let (mut transfer, events) = transfer(&path, "k.bin", &server.ann).await;
    transfer.options.retry.max_attempts = 1;
    let saved = Saved::default();
    let err = upload(&target(proxy.addr()), &transfer, None, &saved)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, EngineError::GaveUp { attempts: 1, .. }),
        "{err}"
    );
    assert!(!server.file("ann", "k.bin").exists(), "nothing published");
    let state = saved.get().expect("the first call saved its progress");
    let confirmed = state.parts[0].offset;
    assert!(confirmed >= CHUNK, "some chunks were confirmed: {state:?}");

    let done = upload(&target(proxy.addr()), &transfer, Some(&state), &saved)
        .await
        .unwrap();
    assert_stored(&server, "k.bin", &bytes);
    let resumed_from = events.started_from()[1];
    assert!(
        resumed_from >= confirmed,
        "the second call continues from the server's offset {resumed_from}, not 0"
    );
    assert_eq!(
        done.location.as_deref(),
        saved_upload(&state, bytes.len() as u64),
        "the same upload"
    );
    assert_waste(&proxy, bytes.len() as u64, 1);
}

#[tokio::test]
async fn resumes_after_the_server_restarts_between_attempts() {
    let server = TestServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let (path, bytes) = random_file(dir.path(), "k.bin", 6 * MIB, 6);
    let (mut transfer, events) = transfer(&path, "k.bin", &server.ann).await;
    transfer.limit = RateLimit::new(8 * CHUNK);
    let saved = Saved::default();
    let first = {
        let (target, transfer, saved) = (target(server.addr), transfer.clone(), saved.clone());
        tokio::spawn(async move { upload(&target, &transfer, None, &saved).await })
    };
    saved.wait_for(2 * CHUNK).await;
    // The client goes away mid-upload, then the server restarts on the same data.
    first.abort();
    let _ = first.await;
    let server = server.restart().await;
    let state = saved.get().unwrap();
    transfer.limit = RateLimit::unlimited();
    let done = upload(&target(server.addr), &transfer, Some(&state), &saved)
        .await
        .unwrap();
    assert_stored(&server, "k.bin", &bytes);
    assert!(events.started_from()[1] >= state.parts[0].offset);
    assert!(done.bytes_sent <= bytes.len() as u64 - state.parts[0].offset);
}

#[tokio::test]
async fn a_stall_longer_than_the_timeout_is_noticed_and_resumed() {
    let server = TestServer::start().await;
    let proxy = FaultProxy::start(server.addr).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (path, bytes) = random_file(dir.path(), "k.bin", 4 * MIB, 7);
    let (mut transfer, events) = transfer(&path, "k.bin", &server.ann).await;
    transfer.options.timeout = Duration::from_millis(400);
    transfer.limit = RateLimit::new(8 * CHUNK);
    let saved = Saved::default();
    let task = {
        let (target, transfer, saved) = (target(proxy.addr()), transfer.clone(), saved.clone());
        tokio::spawn(async move { upload(&target, &transfer, None, &saved).await })
    };
    saved.wait_for(CHUNK).await;
    proxy.stall_for(Duration::from_millis(1200));
    tokio::time::timeout(Duration::from_secs(20), task)
        .await
        .expect("the upload goes on after the stall")
        .unwrap()
        .unwrap();
    assert_stored(&server, "k.bin", &bytes);
    assert!(events.retries() >= 1, "the dead link was noticed");
    assert_eq!(events.started_from(), [0]);
}

#[tokio::test]
async fn a_file_rewritten_mid_upload_fails_with_file_changed_and_nothing_is_published() {
    let server = TestServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let (path, _) = random_file(dir.path(), "k.bin", 4 * MIB, 8);
    let (mut transfer, _) = transfer(&path, "k.bin", &server.ann).await;
    transfer.limit = RateLimit::new(8 * CHUNK);
    let saved = Saved::default();
    let task = {
        let (target, transfer, saved) = (target(server.addr), transfer.clone(), saved.clone());
        tokio::spawn(async move { upload(&target, &transfer, None, &saved).await })
    };
    saved.wait_for(CHUNK).await;
    random_file(dir.path(), "k.bin", 3 * MIB, 9);
    let err = task.await.unwrap().unwrap_err();
    assert!(matches!(err, EngineError::FileChanged { .. }), "{err}");
    assert_eq!(
        files_under(&server.data().join("files")),
        Vec::<std::path::PathBuf>::new(),
        "nothing was published"
    );
}

#[tokio::test]
async fn a_wrong_token_is_unauthorized_and_not_retried() {
    let server = TestServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let (path, _) = random_file(dir.path(), "k.bin", 1000, 10);
    let (transfer, events) = transfer(&path, "k.bin", "fry_not_a_token").await;
    let err = upload(&target(server.addr), &transfer, None, &Saved::default())
        .await
        .unwrap_err();
    assert!(matches!(err, EngineError::Unauthorized { .. }), "{err}");
    assert_eq!(events.retries(), 0);
}

/// A GalileoSend server as the 2013 Perl receiver behaves: no extension (its readies carry
/// neither `upload` nor `offset`, nor a `chunksize`), one ready per chunk, close after
/// `finished`. Hands back the bytes received and the largest frame.
async fn original_server() -> (SocketAddr, tokio::task::JoinHandle<(Vec<u8>, usize)>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let task = tokio::spawn(async move {
        let (stream, _) = listener.accept().await.unwrap();
        let mut ws = tokio_tungstenite::accept_async(stream).await.unwrap();
        let (mut data, mut largest) = (Vec::new(), 0);
        while let Some(Ok(message)) = ws.next().await {
            match message {
                Message::Text(text) => {
                    let signal: serde_json::Value = serde_json::from_str(text.as_str()).unwrap();
                    if signal["finished"] == true {
                        ws.send(Message::text(r#"{"close":true}"#)).await.unwrap();
                        let _ = ws.close(None).await;
                        break;
                    }
                    assert!(signal["name"].is_string() && signal["size"].is_u64());
                    ws.send(Message::text(r#"{"ready":true}"#)).await.unwrap();
                }
                Message::Binary(bytes) => {
                    largest = largest.max(bytes.len());
                    data.extend_from_slice(&bytes);
                    ws.send(Message::text(r#"{"ready":true}"#)).await.unwrap();
                }
                _ => {}
            }
        }
        (data, largest)
    });
    (addr, task)
}

#[tokio::test]
async fn an_old_server_without_the_extension_gets_the_whole_file_from_byte_zero() {
    let (addr, received) = original_server().await;
    let dir = tempfile::tempdir().unwrap();
    let (path, bytes) = random_file(dir.path(), "k.bin", 600_000, 11);
    let (mut transfer, events) = transfer(&path, "k.bin", "").await;
    transfer.token = None;
    let target = GalileoTarget {
        url: format!("ws://{addr}/").parse().unwrap(),
        resume: None,
    };
    // A state saved against some other server is of no use here: it starts at 0 anyway.
    let stale = resume_state("up-1", bytes.len() as u64, 400_000);
    let saved = Saved::default();
    let done = upload(&target, &transfer, Some(&stale), &saved)
        .await
        .unwrap();
    let (data, largest) = received.await.unwrap();
    assert!(data == bytes, "the old server got the whole file");
    assert_eq!(largest, 250_000, "the original default chunk size");
    assert_eq!(done.location, None, "no upload id to resume with");
    assert_eq!(done.bytes_sent, bytes.len() as u64);
    assert_eq!(saved.get(), None, "nothing resumable to save");
    assert_eq!(events.started_from(), [0]);
}

#[tokio::test]
async fn an_upload_the_server_no_longer_knows_starts_over_from_byte_zero() {
    let server = TestServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let (path, bytes) = random_file(dir.path(), "k.bin", 2 * MIB + 3, 12);
    let (transfer, events) = transfer(&path, "k.bin", &server.ann).await;
    let forgotten = resume_state(
        "0123456789abcdef0123456789abcdef",
        bytes.len() as u64,
        CHUNK,
    );
    let saved = Saved::default();
    let done = upload(&target(server.addr), &transfer, Some(&forgotten), &saved)
        .await
        .unwrap();
    assert_stored(&server, "k.bin", &bytes);
    assert_eq!(events.retries(), 1, "one fresh start after unknown_upload");
    assert_eq!(events.started_from(), [0]);
    let id = done.location.expect("a new upload id");
    assert_ne!(
        Some(id.as_str()),
        saved_upload(&forgotten, bytes.len() as u64)
    );
    assert_eq!(
        saved_upload(&saved.get().unwrap(), bytes.len() as u64),
        Some(id.as_str())
    );
}
