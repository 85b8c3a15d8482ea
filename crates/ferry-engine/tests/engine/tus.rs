//! The tus transport against a real ferry-server, directly and through the fault-injection
//! proxy: chunking, checksums, concatenation, resuming, and the faults of issue 4's
//! acceptance list that show at the transport level.

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ferry_engine::TransferOptions;
use ferry_engine::events::{Event, EventSink};
use ferry_engine::file::LocalFile;
use ferry_engine::rate::RateLimit;
use ferry_engine::retry::RetryPolicy;
use ferry_engine::target::{Target, TusTarget};
use ferry_engine::transport::tus::{http_client, send};
use ferry_engine::transport::{ResumeState, Transfer, Transferred};
use ferry_engine::{EngineError, Token};
use ferry_tests::proxy::FaultProxy;
use tokio::sync::watch;
use tokio::time::Instant;

use crate::support::{TestServer, files_under, random_file};

const MIB: u64 = 1024 * 1024;
/// A MiB as a buffer length.
const MIB_LEN: usize = 1024 * 1024;

/// The tus endpoint of `server`, reached through `proxy` when given.
async fn tus_target(server: &TestServer, proxy: Option<&FaultProxy>) -> TusTarget {
    let target = Target::discover(&TestServer::http(), &server.base, None)
        .await
        .expect("the test server is discovered");
    let mut tus = target.tus.expect("the test server offers tus");
    if let Some(proxy) = proxy {
        tus.endpoint
            .set_port(Some(proxy.addr().port()))
            .expect("an http URL has a port");
    }
    tus
}

/// Everything the engine reported, with when.
#[derive(Clone, Default)]
struct Recorded(Arc<Mutex<Vec<(Instant, Event)>>>);

impl Recorded {
    fn sink(&self) -> EventSink {
        let events = Arc::clone(&self.0);
        Arc::new(move |event| events.lock().unwrap().push((Instant::now(), event)))
    }

    fn retries(&self) -> Vec<(Instant, String)> {
        self.0
            .lock()
            .unwrap()
            .iter()
            .filter_map(|(at, e)| match e {
                Event::Retrying { error, .. } => Some((*at, error.clone())),
                _ => None,
            })
            .collect()
    }

    fn resumed_from(&self) -> Vec<u64> {
        self.0
            .lock()
            .unwrap()
            .iter()
            .filter_map(|(_, e)| match e {
                Event::Started { resumed_from, .. } => Some(*resumed_from),
                _ => None,
            })
            .collect()
    }
}

/// A transfer of `path` to `remote` as ann: 1 MiB chunks, quick retries, 2 s timeout.
async fn transfer_of(path: &Path, remote: &str, token: &str, events: &Recorded) -> Transfer {
    let file = LocalFile::open(path).expect("the test file exists");
    let sha1 = file.sha1().await.expect("the test file hashes");
    Transfer {
        file,
        sha1,
        remote_path: remote.to_owned(),
        chunk_size: MIB,
        options: TransferOptions {
            chunk_size: None,
            parallel: 1,
            chunk_checksums: true,
            retry: RetryPolicy {
                base: Duration::from_millis(10),
                max: Duration::from_millis(200),
                max_attempts: 10,
            },
            timeout: Duration::from_secs(2),
        },
        reduced_chunk: std::sync::Arc::default(),
        token: Some(Token::new(token)),
        limit: RateLimit::unlimited(),
        events: events.sink(),
        trust: ferry_engine::tls::Trust::load(Vec::new()).await,
    }
}

fn confirmed(state: &ResumeState) -> u64 {
    state.parts.iter().map(|p| p.offset).sum()
}

/// Sends to the end, keeping every state `on_confirmed` saw.
async fn send_all(
    target: &TusTarget,
    transfer: &Transfer,
    resume: Option<&ResumeState>,
) -> (Result<Transferred, EngineError>, Vec<ResumeState>) {
    let mut states = Vec::new();
    let result = send(
        &http_client(transfer.options.timeout, &transfer.trust),
        target,
        transfer,
        resume,
        &mut |s: &ResumeState| {
            states.push(s.clone());
            ferry_engine::transport::recorded()
        },
    )
    .await;
    (result, states)
}

/// Sends in a task; the receiver always holds the latest confirmed state.
fn spawn_send(
    target: &TusTarget,
    transfer: &Transfer,
) -> (
    tokio::task::JoinHandle<Result<Transferred, EngineError>>,
    watch::Receiver<Option<ResumeState>>,
) {
    let (tx, rx) = watch::channel(None);
    let (target, transfer) = (target.clone(), transfer.clone());
    let task = tokio::spawn(async move {
        send(
            &http_client(transfer.options.timeout, &transfer.trust),
            &target,
            &transfer,
            None,
            &mut |s: &ResumeState| {
                tx.send_replace(Some(s.clone()));
                ferry_engine::transport::recorded()
            },
        )
        .await
    });
    (task, rx)
}

/// Waits until the server confirmed at least `offset` bytes; returns that state.
async fn confirmed_past(rx: &mut watch::Receiver<Option<ResumeState>>, offset: u64) -> ResumeState {
    let state = tokio::time::timeout(
        Duration::from_secs(20),
        rx.wait_for(|s| s.as_ref().is_some_and(|s| confirmed(s) >= offset)),
    )
    .await
    .expect("the upload makes progress")
    .expect("the upload is still running");
    state.clone().expect("a state")
}

fn assert_published(server: &TestServer, remote: &str, bytes: &[u8]) {
    let stored = std::fs::read(server.file("ann", remote)).expect("the file is published");
    assert!(
        stored == bytes,
        "the published file differs from the local one ({} vs {} bytes)",
        stored.len(),
        bytes.len()
    );
}

#[tokio::test]
async fn a_small_file_goes_up_in_its_creating_request() {
    let server = TestServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let (path, bytes) = random_file(dir.path(), "small.bin", 10_000, 1);
    let events = Recorded::default();
    let transfer = transfer_of(&path, "notes/small.bin", &server.ann, &events).await;
    let (result, states) = send_all(&tus_target(&server, None).await, &transfer, None).await;
    let done = result.expect("the upload finishes");
    assert_eq!(done.bytes_sent, 10_000, "every byte sent once");
    assert!(done.location.unwrap().contains("/files/"));
    assert_eq!(
        confirmed(&states[0]),
        10_000,
        "the first confirmation (creation) already holds every byte: one request"
    );
    assert_published(&server, "notes/small.bin", &bytes);
    assert_eq!(events.resumed_from(), [0]);
}

#[tokio::test]
async fn a_file_of_several_chunks_arrives_byte_identical_with_checksums() {
    let server = TestServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let (path, bytes) = random_file(dir.path(), "five.bin", 5 * MIB_LEN + 123, 2);
    let events = Recorded::default();
    let transfer = transfer_of(&path, "five.bin", &server.ann, &events).await;
    let target = tus_target(&server, None).await;
    assert!(
        target
            .caps
            .checksum(ferry_proto::checksum::ChecksumAlgorithm::Sha1),
        "ferry-server checks sha1 chunk checksums"
    );
    let (result, states) = send_all(&target, &transfer, None).await;
    assert_eq!(result.unwrap().bytes_sent, bytes.len() as u64);
    let offsets: Vec<u64> = states.iter().map(confirmed).collect();
    assert!(
        offsets.windows(2).all(|w| w[0] <= w[1]) && offsets.len() >= 6,
        "one confirmation per chunk, never backwards: {offsets:?}"
    );
    assert_published(&server, "five.bin", &bytes);
    assert!(events.retries().is_empty());
}

#[tokio::test]
async fn bytes_on_their_way_are_reported_between_confirmations() {
    let server = TestServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let (path, bytes) = random_file(dir.path(), "slow.bin", 4 * MIB_LEN, 4);
    let events = Recorded::default();
    let mut transfer = transfer_of(&path, "slow.bin", &server.ann, &events).await;
    // Two chunks of 2 MiB at 2 MiB/s: about a second each, confirmed only at their end.
    transfer.chunk_size = 2 * MIB;
    transfer.limit = RateLimit::new(2 * MIB);
    let (result, _) = send_all(&tus_target(&server, None).await, &transfer, None).await;
    result.unwrap();
    assert_published(&server, "slow.bin", &bytes);
    let mut confirmed = 0;
    let mut last_sent = 0;
    let mut between = 0;
    for (_, event) in events.0.lock().unwrap().iter() {
        match event {
            Event::Progress { confirmed: c, .. } => confirmed = *c,
            Event::Sent { sent, size, .. } => {
                assert!(
                    *sent >= confirmed,
                    "{sent} is below the confirmed {confirmed}"
                );
                assert!(*sent >= last_sent, "went back from {last_sent} to {sent}");
                assert!(*sent <= *size, "{sent} past the end");
                if *sent % (2 * MIB) != 0 {
                    between += 1;
                }
                last_sent = *sent;
            }
            _ => {}
        }
    }
    assert!(
        between >= 2,
        "the bar should move inside each chunk, saw {between} reports between confirmations"
    );
}

#[tokio::test]
async fn a_large_file_goes_up_as_three_parallel_partial_uploads() {
    let server = TestServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let (path, bytes) = random_file(dir.path(), "big.bin", 3 * MIB_LEN + 7, 3);
    let events = Recorded::default();
    let mut transfer = transfer_of(&path, "deep/big.bin", &server.ann, &events).await;
    transfer.options.parallel = 3;
    transfer.chunk_size = MIB / 2;
    let (result, states) = send_all(&tus_target(&server, None).await, &transfer, None).await;
    assert_eq!(result.unwrap().bytes_sent, bytes.len() as u64);
    let last = states.last().unwrap();
    assert!(last.concatenated && last.parts.len() == 3, "{last:?}");
    assert_published(&server, "deep/big.bin", &bytes);
    assert_eq!(
        files_under(&server.data().join("files")),
        [Path::new("ann/deep/big.bin")],
        "only the final file is published, not its parts"
    );
}

#[tokio::test]
async fn resumes_from_a_saved_state_after_giving_up_on_a_cut() {
    let server = TestServer::start().await;
    let proxy = FaultProxy::start(server.addr).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (path, bytes) = random_file(dir.path(), "r.bin", 4 * MIB_LEN, 4);
    let events = Recorded::default();
    let mut transfer = transfer_of(&path, "r.bin", &server.ann, &events).await;
    transfer.options.retry.max_attempts = 1;
    let target = tus_target(&server, Some(&proxy)).await;
    proxy.cut_at([2 * MIB + MIB / 2]);
    let (result, states) = send_all(&target, &transfer, None).await;
    assert!(
        matches!(result, Err(EngineError::GaveUp { attempts: 1, .. })),
        "{result:?}"
    );
    let saved = states
        .last()
        .expect("progress was confirmed before the cut")
        .clone();
    assert_eq!(
        confirmed(&saved),
        2 * MIB,
        "two whole chunks were confirmed"
    );

    transfer.options.retry.max_attempts = 10;
    let (result, _) = send_all(&target, &transfer, Some(&saved)).await;
    let done = result.unwrap();
    assert_eq!(
        done.bytes_sent,
        2 * MIB,
        "only what the server lacked is sent again"
    );
    assert_eq!(events.resumed_from(), [0, 2 * MIB]);
    let waste = proxy.upstream_bytes() - bytes.len() as u64;
    assert!(
        waste <= MIB + 16 * 1024,
        "at most the cut chunk (and headers) goes twice: {waste} extra bytes"
    );
    assert_published(&server, "r.bin", &bytes);
}

/// Issue 4's acceptance test: 256 MiB (`FERRY_BIG_MB` to change it), 30 random cuts.
#[tokio::test]
async fn survives_thirty_cuts_at_random_offsets_resending_at_most_a_chunk_per_cut() {
    let megabytes: u64 = std::env::var("FERRY_BIG_MB")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(256);
    let size = megabytes * MIB;
    let server = TestServer::start().await;
    let proxy = FaultProxy::start(server.addr).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (path, bytes) = random_file(dir.path(), "huge.bin", usize::try_from(size).unwrap(), 5);
    let events = Recorded::default();
    let transfer = transfer_of(&path, "huge.bin", &server.ann, &events).await;
    let target = tus_target(&server, Some(&proxy)).await;
    let mut seed = 0x5eed_u64 ^ size;
    let cuts: Vec<u64> = (0..30)
        .map(|_| {
            seed = seed
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            1 + (seed >> 11) % (size - 1)
        })
        .collect();
    proxy.cut_at(cuts.iter().copied());
    let (result, _) = send_all(&target, &transfer, None).await;
    result.unwrap_or_else(|e| panic!("the upload survives cuts at {cuts:?}: {e}"));
    assert_eq!(proxy.cuts_done(), 30, "every cut happened");
    assert_published(&server, "huge.bin", &bytes);
    let waste = proxy.upstream_bytes() - size;
    assert!(
        waste <= 30 * MIB,
        "at most one 1 MiB chunk per cut is sent again: {waste} extra bytes (cuts at {cuts:?})"
    );
}

#[tokio::test]
async fn parallel_partial_uploads_survive_cuts_and_resend_at_most_a_chunk_per_cut() {
    let server = TestServer::start().await;
    let proxy = FaultProxy::start(server.addr).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (path, bytes) = random_file(dir.path(), "parts.bin", 12 * MIB_LEN, 13);
    let events = Recorded::default();
    let mut transfer = transfer_of(&path, "parts.bin", &server.ann, &events).await;
    transfer.options.parallel = 3;
    let target = tus_target(&server, Some(&proxy)).await;
    let cuts = [
        MIB / 3,
        3 * MIB + 5,
        6 * MIB + MIB / 2,
        9 * MIB - 7,
        11 * MIB,
    ];
    proxy.cut_at(cuts);
    let (result, states) = send_all(&target, &transfer, None).await;
    result.unwrap();
    assert_eq!(proxy.cuts_done(), 5, "every cut happened");
    assert!(states.last().unwrap().concatenated);
    assert_published(&server, "parts.bin", &bytes);
    let waste = proxy.upstream_bytes() - bytes.len() as u64;
    assert!(
        waste <= 5 * MIB,
        "at most one chunk per cut is sent again: {waste} extra bytes"
    );
}

#[tokio::test]
async fn a_flipped_bit_is_refused_by_its_checksum_and_the_chunk_resent() {
    let server = TestServer::start().await;
    let proxy = FaultProxy::start(server.addr).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (path, bytes) = random_file(dir.path(), "flip.bin", 3 * MIB_LEN, 6);
    let events = Recorded::default();
    let transfer = transfer_of(&path, "flip.bin", &server.ann, &events).await;
    let target = tus_target(&server, Some(&proxy)).await;
    proxy.flip_bit_at(MIB + MIB / 2);
    let (result, _) = send_all(&target, &transfer, None).await;
    assert_eq!(
        result.unwrap().bytes_sent,
        4 * MIB,
        "the damaged chunk went twice"
    );
    let retries = events.retries();
    assert!(
        retries.len() == 1 && retries[0].1.contains("checksum mismatch"),
        "{retries:?}"
    );
    assert_published(&server, "flip.bin", &bytes);
}

#[tokio::test]
async fn resumes_on_a_restarted_server_from_the_saved_state() {
    let server = TestServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let (path, bytes) = random_file(dir.path(), "restart.bin", 4 * MIB_LEN, 7);
    let events = Recorded::default();
    let mut transfer = transfer_of(&path, "restart.bin", &server.ann, &events).await;
    transfer.chunk_size = MIB / 2;
    transfer.limit = RateLimit::new(8 * MIB);
    let (task, mut rx) = spawn_send(&tus_target(&server, None).await, &transfer);
    let saved = confirmed_past(&mut rx, MIB).await;
    task.abort();
    let _ = task.await;
    let server = server.restart().await;

    transfer.limit = RateLimit::unlimited();
    let (result, _) = send_all(&tus_target(&server, None).await, &transfer, Some(&saved)).await;
    let done = result.unwrap();
    assert!(
        done.bytes_sent <= bytes.len() as u64 - confirmed(&saved),
        "the restarted server keeps what it confirmed: sent {} after {} were saved",
        done.bytes_sent,
        confirmed(&saved)
    );
    assert_published(&server, "restart.bin", &bytes);
}

#[tokio::test]
async fn a_stalled_link_is_noticed_within_the_timeout_and_the_upload_completes() {
    let server = TestServer::start().await;
    let proxy = FaultProxy::start(server.addr).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (path, bytes) = random_file(dir.path(), "stall.bin", 6 * MIB_LEN, 8);
    let events = Recorded::default();
    let mut transfer = transfer_of(&path, "stall.bin", &server.ann, &events).await;
    transfer.options.timeout = Duration::from_secs(1);
    let target = tus_target(&server, Some(&proxy)).await;
    proxy.throttle(Some(4 * MIB));
    let (task, mut rx) = spawn_send(&target, &transfer);
    confirmed_past(&mut rx, MIB).await;
    let stalled = Instant::now();
    proxy.stall_for(Duration::from_secs(4));
    let done = tokio::time::timeout(Duration::from_secs(30), task)
        .await
        .expect("the upload completes after the stall")
        .unwrap();
    done.unwrap();
    let retries = events.retries();
    let noticed = retries.first().expect("the stall was noticed").0 - stalled;
    assert!(
        noticed < Duration::from_secs(3),
        "a 1 s timeout notices a dead link before it comes back: {noticed:?}"
    );
    assert_published(&server, "stall.bin", &bytes);
}

#[tokio::test]
async fn a_file_rewritten_during_its_upload_is_abandoned_and_never_published_mixed() {
    let server = TestServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let (path, _) = random_file(dir.path(), "changing.bin", 4 * MIB_LEN, 9);
    let events = Recorded::default();
    let mut transfer = transfer_of(&path, "changing.bin", &server.ann, &events).await;
    transfer.chunk_size = MIB / 4;
    transfer.limit = RateLimit::new(2 * MIB);
    let target = tus_target(&server, None).await;
    let (task, mut rx) = spawn_send(&target, &transfer);
    confirmed_past(&mut rx, MIB).await;
    let (_, new_bytes) = random_file(dir.path(), "changing.bin", 4 * MIB_LEN + 1, 10);
    let result = task.await.unwrap();
    assert!(
        matches!(result, Err(EngineError::FileChanged { .. })),
        "{result:?}"
    );
    assert!(
        files_under(&server.data().join("files")).is_empty(),
        "nothing is published"
    );
    assert!(
        files_under(&server.data().join("uploads")).is_empty(),
        "the abandoned upload was terminated (DELETE)"
    );

    let transfer = transfer_of(&path, "changing.bin", &server.ann, &events).await;
    let (result, _) = send_all(&target, &transfer, None).await;
    result.expect("the new content uploads");
    assert_published(&server, "changing.bin", &new_bytes);
}

#[tokio::test]
async fn a_refused_token_asks_to_sign_in_again_without_retrying() {
    let server = TestServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let (path, _) = random_file(dir.path(), "secret.bin", 1000, 11);
    let events = Recorded::default();
    let transfer = transfer_of(&path, "secret.bin", "fry_not_a_real_token", &events).await;
    let (result, states) = send_all(&tus_target(&server, None).await, &transfer, None).await;
    assert!(
        matches!(result, Err(EngineError::Unauthorized { .. })),
        "{result:?}"
    );
    assert!(
        events.retries().is_empty(),
        "a refused sign-in is not retried"
    );
    assert!(states.is_empty());
    assert!(files_under(&server.data().join("files")).is_empty());
}

#[tokio::test]
async fn a_chunk_slower_than_the_timeout_is_not_a_dead_link() {
    let server = TestServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let (path, bytes) = random_file(dir.path(), "slow.bin", 2 * MIB_LEN, 12);
    let events = Recorded::default();
    let mut transfer = transfer_of(&path, "slow.bin", &server.ann, &events).await;
    // Each 1 MiB chunk takes 2 s at 512 KiB/s, longer than the 1.5 s timeout; 1.5 s also
    // leaves a busy machine time to answer once the last byte is in.
    transfer.options.timeout = Duration::from_millis(1500);
    transfer.limit = RateLimit::new(MIB / 2);
    transfer.options.retry.max_attempts = 2;
    let (result, _) = send_all(&tus_target(&server, None).await, &transfer, None).await;
    result.expect("a chunk that takes 2 s to send is not cut off by a 1.5 s timeout");
    assert!(events.retries().is_empty(), "{:?}", events.retries());
    assert_published(&server, "slow.bin", &bytes);
}
