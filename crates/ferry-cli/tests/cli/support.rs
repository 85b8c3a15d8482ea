//! Running the real `ferry` binary in a scratch home (the process tools themselves are
//! `ferry_tests::process`, shared with the other crates' tests).

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

pub(crate) use ferry_tests::process::{Listening, Running, assert_success, run_bounded, signal};

/// Runs `ferry ARGS` with `--home HOME` and no inherited FERRY_* settings.
pub(crate) fn ferry(home: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ferry"))
        .arg("--home")
        .arg(home)
        .args(args)
        .env_remove("FERRY_HOME")
        .env_remove("FERRY_TOKEN")
        .output()
        .expect("ferry runs")
}

/// Standard output as text.
pub(crate) fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// `ferry --home HOME ARGS`, with no inherited FERRY_* settings except `FERRY_TOKEN` when
/// `token` is given, and no standard input.
pub(crate) fn ferry_command(home: &Path, token: Option<&str>, args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_ferry"));
    command
        .arg("--home")
        .arg(home)
        .args(args)
        .env_remove("FERRY_HOME")
        .env_remove("FERRY_TOKEN")
        .env_remove("FERRY_TIMEOUT_SECS")
        .stdin(Stdio::null());
    if let Some(token) = token {
        command.env("FERRY_TOKEN", token);
    }
    command
}

/// The sha1 of `bytes`, in hex.
pub(crate) fn sha1(bytes: &[u8]) -> String {
    ferry_proto::checksum::ChecksumAlgorithm::Sha1
        .digest(bytes)
        .to_hex()
}

/// Waits at most `limit` for `ready`, polling; whether it became true.
pub(crate) fn wait_until(limit: Duration, mut ready: impl FnMut() -> bool) -> bool {
    let started = Instant::now();
    while started.elapsed() < limit {
        if ready() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    ready()
}

/// The bytes the journal in `home` records as confirmed for its first unfinished upload
/// (`ferry --json status`), if any; and what `ferry status` said.
pub(crate) fn confirmed(home: &Path) -> (Option<u64>, String) {
    let out = ferry_command(home, None, &["--json", "status"])
        .output()
        .expect("ferry status runs");
    let said = format!("{}{}", stdout(&out), String::from_utf8_lossy(&out.stderr));
    let open: Option<serde_json::Value> = serde_json::from_slice(&out.stdout).ok();
    let confirmed = open
        .as_ref()
        .and_then(|o| o.get("uploads")?.get(0)?.get("confirmed")?.as_u64());
    (confirmed, said)
}

/// Waits (at most 20 s) until the upload running with journal `home` has between 1 and
/// `size - 1` bytes confirmed by the server: really mid-upload. Fails the test otherwise.
pub(crate) fn wait_mid_upload(home: &Path, size: u64, upload: &mut Running) -> u64 {
    let mut seen = (None, String::new());
    let mid = wait_until(Duration::from_secs(20), || {
        seen = confirmed(home);
        seen.0.is_some_and(|c| c > 0 && c < size)
    });
    assert!(
        mid,
        "the upload never stood mid-way (last seen {:?} of {size}; ferry status said {})\n{}",
        seen.0,
        seen.1,
        upload.dump()
    );
    seen.0.unwrap()
}
