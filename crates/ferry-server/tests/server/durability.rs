//! The bounded volatility of acknowledged offsets (docs/reliability.md, "Acknowledged is
//! durable within a window"), attacked on the real binary: a chunk is acknowledged once
//! written, and checkpointed (flushed, then recorded) within 64 MiB or 1 s. SIGKILLed inside
//! the window, the server comes back at its last checkpoint, never past a byte it holds, at
//! most the window behind what it acknowledged; a clean stop and the background checkpoint
//! lose nothing; and the upload always finishes byte-identical.

use std::time::{Duration, Instant};

use crate::galileo_client::data;
use crate::hostile_support::{ServerProcess, create_upload, eventually, head};

const MIB: usize = 1 << 20;
/// `uploads::progress::WINDOW_BYTES`: at most this much acknowledged is volatile.
const WINDOW: u64 = 64 << 20;

/// PATCHes `bytes[from..to]` at `from` in chunks of `chunk`; every answer must be 204 with
/// the new offset. Returns the offset acknowledged last.
async fn patch_range(
    server: &ServerProcess,
    location: &str,
    bytes: &[u8],
    range: std::ops::Range<usize>,
    chunk: usize,
) -> u64 {
    let client = reqwest::Client::new();
    let mut offset = range.start;
    while offset < range.end {
        let end = (offset + chunk).min(range.end);
        let reply = client
            .patch(server.url(location))
            .header("tus-resumable", "1.0.0")
            .header("upload-offset", offset.to_string())
            .header("content-type", "application/offset+octet-stream")
            .bearer_auth(&server.token)
            .body(bytes[offset..end].to_vec())
            .send()
            .await
            .expect("PATCH");
        assert_eq!(reply.status(), 204, "PATCH at {offset}");
        let acknowledged: usize = reply.headers()["upload-offset"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        assert_eq!(acknowledged, end, "the offset acknowledged");
        offset = end;
    }
    offset as u64
}

/// The offset the server reports now (HEAD).
async fn offset_of(server: &ServerProcess, location: &str) -> u64 {
    let (status, offset) = head(&server.url(""), &server.token, location).await;
    assert_eq!(status, 200, "HEAD {location}");
    offset.expect("an Upload-Offset")
}

/// The offset the database holds for the upload at `location` (its last checkpoint).
fn checkpointed(server: &ServerProcess, location: &str) -> u64 {
    let id = location.rsplit('/').next().expect("an id");
    let db = rusqlite::Connection::open_with_flags(
        server.data.join("server.db"),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
    )
    .expect("the server's database");
    let received: i64 = db
        .query_row("SELECT received FROM uploads WHERE id = ?1", [id], |row| {
            row.get(0)
        })
        .expect("the upload's row");
    u64::try_from(received).expect("a non-negative offset")
}

/// The data file of the upload at `location` holds `bytes` up to `offset`.
fn holds_prefix(server: &ServerProcess, location: &str, bytes: &[u8], offset: u64) {
    let id = location.rsplit('/').next().expect("an id");
    let held = std::fs::read(server.data.join("uploads").join(id)).expect("the data file");
    let offset = usize::try_from(offset).unwrap();
    assert!(
        held.len() >= offset,
        "HEAD reports {offset} bytes; the data file holds {}",
        held.len()
    );
    assert!(
        held[..offset] == bytes[..offset],
        "the bytes the server reports are the bytes sent"
    );
}

/// Sends the rest from the reported offset and checks the stored file is `bytes`.
async fn finish_and_compare(server: &ServerProcess, location: &str, bytes: &[u8], name: &str) {
    let from = usize::try_from(offset_of(server, location).await).unwrap();
    patch_range(server, location, bytes, from..bytes.len(), 8 * MIB).await;
    let stored =
        std::fs::read(server.data.join("files").join("ann").join(name)).expect("the finished file");
    assert!(stored == bytes, "the finished file is byte-identical");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sigkill_inside_the_window_loses_at_most_the_window_and_the_upload_finishes_identical() {
    let server = ServerProcess::start(&[]);
    // 12 chunks of 8 MiB acknowledged: more than the window, so one checkpoint at least must
    // have come before an answer, whatever the background managed.
    let bytes = data(104 * MIB, 41);
    let location = create_upload(&server.url(""), &server.token, bytes.len() as u64, "w.bin").await;
    let acknowledged = patch_range(&server, &location, &bytes, 0..96 * MIB, 8 * MIB).await;
    let server = server.crash_and_restart(&[]);

    let reported = offset_of(&server, &location).await;
    assert!(
        reported <= acknowledged,
        "HEAD reports {reported}, more than was ever acknowledged ({acknowledged})"
    );
    assert!(
        acknowledged - reported <= WINDOW,
        "the crash lost {} acknowledged bytes, more than the {WINDOW}-byte window",
        acknowledged - reported
    );
    holds_prefix(&server, &location, &bytes, reported);
    finish_and_compare(&server, &location, &bytes, "w.bin").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_acknowledged_offset_is_checkpointed_without_another_request_and_survives_a_sigkill() {
    let server = ServerProcess::start(&[]);
    let bytes = data(6 * MIB, 42);
    let location = create_upload(&server.url(""), &server.token, bytes.len() as u64, "c.bin").await;
    let acknowledged = patch_range(&server, &location, &bytes, 0..3 * MIB, MIB).await;
    let began = Instant::now();
    // No request comes now: the background checkpoint alone must make it durable.
    eventually(
        Duration::from_secs(10),
        "the acknowledged offset checkpointed",
        || async { (checkpointed(&server, &location) == acknowledged).then_some(()) },
    )
    .await;
    eprintln!(
        "checkpointed {:?} after the last answer (the window is 1 s)",
        began.elapsed()
    );
    let server = server.crash_and_restart(&[]);
    assert_eq!(offset_of(&server, &location).await, acknowledged);
    holds_prefix(&server, &location, &bytes, acknowledged);
    finish_and_compare(&server, &location, &bytes, "c.bin").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_clean_stop_checkpoints_every_acknowledged_offset() {
    let server = ServerProcess::start(&[]);
    let bytes = data(4 * MIB, 43);
    let location = create_upload(&server.url(""), &server.token, bytes.len() as u64, "s.bin").await;
    let acknowledged = patch_range(&server, &location, &bytes, 0..2 * MIB, MIB).await;
    // Stopped at once, well inside the window: the stop itself checkpoints.
    let server = server.stop_and_restart(&[]);
    assert_eq!(
        offset_of(&server, &location).await,
        acknowledged,
        "a clean stop lost acknowledged bytes"
    );
    finish_and_compare(&server, &location, &bytes, "s.bin").await;
}
