//! The server restarts while `ferry upload` runs: a separate `ferry-server` process, killed
//! mid-upload and started again on the same data directory and the same port. The upload,
//! still running, reconnects and finishes with the same bytes.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use ferry_tests::process::run_with_stdin;
use ferry_tests::server::random_file;

use crate::support::{Listening, Running, assert_success, ferry_command, wait_mid_upload};

/// The `ferry-server` binary of this build: next to `ferry` in the same target directory
/// (`cargo test --workspace` builds both). Fails with the fix when it is missing.
pub(crate) fn ferry_server_bin() -> PathBuf {
    let ferry = Path::new(env!("CARGO_BIN_EXE_ferry"));
    let bin = ferry.with_file_name(format!("ferry-server{}", std::env::consts::EXE_SUFFIX));
    assert!(
        bin.is_file(),
        "{} is missing: this test runs the real ferry-server binary. Build it first with \
         `cargo build -p ferry-server` (same CARGO_TARGET_DIR), or run `cargo test --workspace` \
         (make test does)",
        bin.display()
    );
    bin
}

/// Runs `ferry-server ARGS --data DATA` to its end with `stdin`; its stdout.
pub(crate) fn ferry_server(args: &[&str], data: &Path, stdin: &str) -> String {
    let data = data.to_str().expect("a UTF-8 path");
    let mut all = args.to_vec();
    all.extend(["--data", data]);
    let out = run_with_stdin(&ferry_server_bin(), &all, stdin);
    assert_success(&format!("ferry-server {args:?}"), &out);
    String::from_utf8(out.stdout).expect("UTF-8 on stdout")
}

/// `ferry-server serve` on 127.0.0.1:`port` over `data`, once it listens.
pub(crate) fn serve(data: &Path, port: u16) -> Listening {
    let mut command = Command::new(ferry_server_bin());
    command
        .args(["serve", "--listen", &format!("127.0.0.1:{port}"), "--data"])
        .arg(data);
    let server = Listening::start("ferry-server", command, Duration::from_secs(20));
    assert_eq!(server.url, format!("http://127.0.0.1:{port}"));
    server
}

/// User ann (and a token for her) on `data`, and `ferry-server serve` on a free port over it
/// (released for the server to take, and to take again after a restart).
pub(crate) fn serve_for_ann(data: &Path) -> (String, u16, Listening) {
    ferry_server(
        &["user", "add", "ann", "--password-stdin"],
        data,
        "ann's password\n",
    );
    let token = ferry_server(&["token", "issue", "ann"], data, "")
        .trim()
        .to_owned();
    let port = ferry_tests::server::free_port();
    let server = serve(data, port);
    (token, port, server)
}

#[test]
fn a_server_killed_and_restarted_mid_upload_on_the_same_port_and_data_lets_it_finish() {
    killed_and_restarted_mid_upload("restart.bin", 2 << 20, &[]);
}

/// Parallel partial uploads whose length is no multiple of the chunk size (the last chunk
/// of each part is short), the server killed while all of them are under way: the upload
/// goes on from what each part holds and the joined file is byte-identical.
#[test]
fn a_server_killed_and_restarted_mid_parallel_upload_lets_every_part_finish() {
    killed_and_restarted_mid_upload("parts.bin", (3 << 20) + 12_345, &["--parallel", "3"]);
}

fn killed_and_restarted_mid_upload(name: &str, size: usize, extra: &[&str]) {
    let work = tempfile::tempdir().unwrap();
    let data = work.path().join("server-data");
    let home = work.path().join("home");
    let (token, port, server) = serve_for_ann(&data);

    let (file, bytes) = random_file(work.path(), name, size, 21);
    let mut args = vec![
        "upload",
        file.to_str().unwrap(),
        "--server",
        &server.url,
        "--chunk-size",
        "131072",
        // About 8 s for 2 MiB: a window wide enough to see it mid-way on a loaded machine
        // (each look is a `ferry status` process).
        "--limit-rate",
        "262144",
    ];
    args.extend_from_slice(extra);
    let mut upload = ferry_command(&home, Some(&token), &args);
    upload.env("FERRY_TIMEOUT_SECS", "3");
    let mut upload = Running::spawn("ferry upload", upload);
    let before = wait_mid_upload(&home, size as u64, &mut upload);

    // A crash: SIGKILL, no goodbye to the connection in flight; `kill` returns once the
    // process is gone.
    server.kill();
    let noticed = upload.wait_for_stderr("trying again", Duration::from_secs(20));
    assert!(
        noticed,
        "ferry upload noticed the server was gone\n{}",
        upload.dump()
    );
    assert!(
        upload.running(),
        "ferry upload waits for the server to come back"
    );
    let landed = data.join("files/ann").join(name);
    assert!(
        !landed.exists(),
        "not finished before the restart ({before} confirmed)"
    );
    let _server = serve(&data, port);

    let out = upload.finish(Duration::from_secs(60));
    assert_success("ferry upload across a server restart", &out);
    assert!(
        std::fs::read(&landed).unwrap() == bytes,
        "byte-identical after the restart"
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("trying again"),
        "ferry noticed the server was gone and retried:\n{stderr}"
    );
}
