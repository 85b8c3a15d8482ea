//! A laptop that sleeps mid-upload: the `ferry upload` process is frozen with SIGSTOP for
//! longer than its connect and read timeout (shortened with `FERRY_TIMEOUT_SECS`), then woken
//! with SIGCONT. Its link is dead meanwhile and for a while after the wake (the proxy between
//! it and the server moves no byte, connections stay open: a Wi-Fi still reconnecting). Every
//! timer it had has expired; it must notice the dead link, try again, and finish with the
//! same bytes, not give up and not send mixed bytes.

use std::time::{Duration, Instant};

use ferry_tests::proxy::FaultProxy;
use ferry_tests::server::{TestServer, random_file};

use crate::support::{Running, assert_success, ferry_command, signal, wait_mid_upload};

/// The timeout given to `ferry upload`, and how long it sleeps: well past it.
const TIMEOUT_SECS: u64 = 1;
const SLEEP: Duration = Duration::from_secs(3);
/// How long the link stays dead after the wake: several timeouts, so that whatever ferry
/// does first after waking meets the dead link and must time out.
const DEAD_AFTER_WAKE: Duration = Duration::from_secs(3);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upload_paused_past_its_timeout_resumes_and_finishes_byte_identical() {
    let server = TestServer::start().await;
    let proxy = FaultProxy::start(server.addr).await.unwrap();
    let base = format!("http://{}", proxy.addr());
    let work = tempfile::tempdir().unwrap();
    let home = work.path().join("home");
    let size = 1536 * 1024;
    let (file, bytes) = random_file(work.path(), "sleepy.bin", size, 31);
    let mut upload = ferry_command(
        &home,
        Some(&server.ann),
        &[
            "upload",
            file.to_str().unwrap(),
            "--server",
            &base,
            "--chunk-size",
            "131072",
            "--limit-rate",
            "393216",
        ],
    );
    upload.env("FERRY_TIMEOUT_SECS", TIMEOUT_SECS.to_string());
    let mut upload = Running::spawn("ferry upload", upload);
    let before = wait_mid_upload(&home, size as u64, &mut upload);

    signal("STOP", upload.id());
    proxy.stall_for(SLEEP + DEAD_AFTER_WAKE);
    let slept = Instant::now();
    std::thread::sleep(SLEEP);
    assert!(upload.running(), "stopped, not ended");
    let landed = server.file("ann", "sleepy.bin");
    assert!(
        !landed.exists(),
        "not finished before the sleep ({before} of {size} confirmed)"
    );
    signal("CONT", upload.id());
    assert!(slept.elapsed() > Duration::from_secs(TIMEOUT_SECS * 2));

    let out = upload.finish(Duration::from_secs(30));
    assert_success("ferry upload after SIGSTOP and SIGCONT", &out);
    assert_eq!(std::fs::read(&landed).unwrap(), bytes, "byte-identical");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("trying again"),
        "ferry noticed the dead link after the wake and tried again:\n{stderr}"
    );
}
