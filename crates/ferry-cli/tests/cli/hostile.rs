//! Hostile servers as a user meets them: `ferry upload` (the real binary, with a token in
//! `FERRY_TOKEN`) against raw listeners on 127.0.0.1 that lie, stall or point elsewhere
//! (`ferry_tests::fake_http`, recording every byte they receive). For every case the command
//! exits with code 1 within its bound, says the cause, shows the token nowhere (not in its
//! output, not on a listener that is not its origin) and records nothing as uploaded.
//!
//! The engine's own suite (`ferry-engine/tests/engine/hostile.rs`) checks the error types
//! and request counts of the same cases; this one checks what the person at the terminal
//! sees and what the journal keeps.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use ferry_tests::fake_http::{
    Answer, Head, Heard, every_patch, http, huge_header, listener, location_at, offset_never_moves,
    offset_reply, plain_tus, redirect_to,
};
use ferry_tests::server::random_file;

use crate::support::{ferry, ferry_command, run_bounded};

/// The token: grepped for wherever it must not be.
const CANARY: &str = "tok-CANARY-cli-7e21a0";
/// `--retries`: failed attempts in a row before `ferry upload` gives up.
const RETRIES: u32 = 3;
/// Far more than three quick retries need (waits of at most 0.5 + 1 + 2 s, and a 2 s
/// timeout per request); a hang or an endless loop fails here.
const BOUND: Duration = Duration::from_secs(60);

/// What one `ferry upload` run left behind.
struct Run {
    code: Option<i32>,
    stderr: String,
    heard: Heard,
}

/// `ferry -v upload` of a 4096-byte file to `server` (1 KiB chunks, `--retries 3`, a 2 s
/// timeout) with the canary token, to its end; checks the invariants every hostile case
/// shares: exit code 1, the token in no output, nothing recorded as uploaded.
async fn upload_to(server: String, heard: Heard) -> Run {
    let work = tempfile::tempdir().unwrap();
    let home = work.path().join("home");
    let (file, _) = random_file(work.path(), "f.bin", 4096, 5);
    let retries = RETRIES.to_string();
    let (home2, file2) = (home.clone(), file.clone());
    let out = tokio::task::spawn_blocking(move || {
        let mut command = ferry_command(
            &home2,
            Some(CANARY),
            &[
                "-v",
                "upload",
                file2.to_str().unwrap(),
                "--server",
                &server,
                "--chunk-size",
                "1024",
                "--retries",
                &retries,
            ],
        );
        command.env("FERRY_TIMEOUT_SECS", "2");
        run_bounded("ferry upload", command, BOUND)
    })
    .await
    .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        !stderr.contains(CANARY) && !stdout.contains(CANARY),
        "the token is in the output:\n{stdout}\n{stderr}"
    );
    assert_nothing_uploaded(&home);
    Run {
        code: out.status.code(),
        stderr,
        heard,
    }
}

/// `ferry --json history` lists no upload as done.
fn assert_nothing_uploaded(home: &Path) {
    let out = ferry(home, &["--json", "history"]);
    let rows: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "ferry history --json: {e}\n{}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    assert!(
        rows.iter().all(|row| row["outcome"] != "uploaded"),
        "a hostile server got an upload recorded as done: {rows:?}"
    );
}

impl Run {
    /// Exit code 1 and every one of `needles` in stderr.
    fn failed_saying(&self, needles: &[&str]) {
        assert_eq!(
            self.code,
            Some(1),
            "a hostile server fails the upload with exit code 1:\n{}",
            self.stderr
        );
        for needle in needles {
            assert!(
                self.stderr.contains(needle),
                "stderr should say {needle:?}:\n{}",
                self.stderr
            );
        }
    }

    /// At most one PATCH per attempt.
    fn patches_bounded(&self) {
        let patches = self.heard.count("PATCH");
        assert!(
            (1..=RETRIES as usize).contains(&patches),
            "{patches} PATCHes for {RETRIES} attempts\n{}",
            self.stderr
        );
    }
}

/// A fake tus server at `http://ADDR/files/` that answers `answer`.
async fn server(answer: Answer) -> (String, Heard) {
    let (addr, heard) = listener(answer).await;
    (format!("http://{addr}/files/"), heard)
}

/// A second origin (another port) that plays a willing tus server and records everything.
async fn elsewhere() -> (SocketAddr, Heard) {
    listener(Arc::new(plain_tus)).await
}

fn assert_never_heard_the_token(heard: &Heard, who: &str) {
    let text = heard.text();
    assert!(
        !text.contains(CANARY),
        "{who} received the token, which is not for it:\n{text}"
    );
}

#[tokio::test]
async fn a_location_on_another_port_fails_naming_it_and_the_token_stays_home() {
    let (other, other_heard) = elsewhere().await;
    let location = format!("http://{other}/files/f1");
    let shown = location.clone();
    let (url, heard) = server(location_at(location)).await;
    let run = upload_to(url, heard).await;
    run.failed_saying(&["outside", &shown]);
    assert_never_heard_the_token(&other_heard, "the other port");
    assert!(
        other_heard.requests.lock().unwrap().is_empty(),
        "nothing went to the other port"
    );
}

#[tokio::test]
async fn a_redirect_to_another_origin_fails_and_is_not_followed() {
    let (other, other_heard) = elsewhere().await;
    let target = format!("http://{other}/files/");
    let shown = target.clone();
    let (url, heard) = server(redirect_to(target)).await;
    let run = upload_to(url, heard).await;
    run.failed_saying(&["redirect", &shown]);
    assert_never_heard_the_token(&other_heard, "the redirect's target");
    assert!(other_heard.requests.lock().unwrap().is_empty());
}

#[tokio::test]
async fn an_offset_that_never_moves_fails_after_the_retries() {
    let (url, heard) = server(offset_never_moves()).await;
    let run = upload_to(url, heard).await;
    run.failed_saying(&["gave up after 3 attempts", "kept none of them"]);
    run.patches_bounded();
}

#[tokio::test]
async fn an_offset_past_what_was_sent_fails_after_the_retries() {
    let (url, heard) = server(Arc::new(|head: &Head| match head.method.as_str() {
        "PATCH" => offset_reply(head.offset.unwrap_or(0) + head.body_len + 7),
        _ => plain_tus(head),
    }))
    .await;
    let run = upload_to(url, heard).await;
    run.failed_saying(&[
        "gave up after 3 attempts",
        "reports offset 1031",
        "outside the possible",
    ]);
    run.patches_bounded();
}

#[tokio::test]
async fn the_same_5xx_forever_fails_after_the_retries_with_the_servers_words() {
    let (url, heard) = server(every_patch(http(
        "503 Service Unavailable",
        &[],
        "down for maintenance",
    )))
    .await;
    let run = upload_to(url, heard).await;
    run.failed_saying(&["gave up after 3 attempts", "503", "down for maintenance"]);
    run.patches_bounded();
}

#[tokio::test]
async fn endless_409s_fail_after_the_retries() {
    let (url, heard) = server(every_patch(http("409 Conflict", &[], ""))).await;
    let run = upload_to(url, heard).await;
    run.failed_saying(&["gave up after 3 attempts", "409"]);
    run.patches_bounded();
}

#[tokio::test]
async fn huge_headers_fail_as_a_network_error_not_a_hang() {
    let (url, heard) = server(huge_header()).await;
    let run = upload_to(url, heard).await;
    run.failed_saying(&["gave up after 3 attempts"]);
    assert!(
        run.heard.count("POST") <= RETRIES as usize + 1,
        "{} POSTs",
        run.heard.count("POST")
    );
}
