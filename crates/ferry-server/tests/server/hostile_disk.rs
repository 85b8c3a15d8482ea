//! A full disk on tus (issue 10, finding 9), on a real small filesystem: the test mounts a
//! 32 MiB tmpfs itself (the tests run as root, here and in CI; it fails, never skips, when
//! it cannot), fills it with an upload, checks 507 and the committed offset, grows the
//! filesystem and resumes to completion. The server runs as a child process so it has
//! certainly stopped (and closed its files) before the guard unmounts.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use tokio::io::AsyncWriteExt;

use crate::galileo_client::data;
use crate::hostile_support::{ServerProcess, create_upload, head, patch_head, send_raw, status_of};

const MIB: usize = 1 << 20;
const WITHIN: Duration = Duration::from_secs(30);

/// A tmpfs mounted on a temporary directory; unmounted when dropped.
struct Tmpfs {
    dir: tempfile::TempDir,
}

impl Tmpfs {
    fn mount(size: &str) -> Self {
        let dir = tempfile::tempdir().expect("a mount point");
        let mounted = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir.path())
            .output()
            .expect("mount runs");
        assert!(
            mounted.status.success(),
            "this test needs a small filesystem and mounts a tmpfs for it (as root, as in CI): \
             `mount -t tmpfs` failed: {}",
            String::from_utf8_lossy(&mounted.stderr)
        );
        Self { dir }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn grow(&self, size: &str) {
        let grown = Command::new("mount")
            .args(["-o", &format!("remount,size={size}")])
            .arg(self.path())
            .output()
            .expect("mount runs");
        assert!(
            grown.status.success(),
            "remounting the tmpfs bigger failed: {}",
            String::from_utf8_lossy(&grown.stderr)
        );
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let done = Command::new("umount").arg(self.dir.path()).status();
        if !done.is_ok_and(|s| s.success()) {
            // Never leave a mount behind, even when something still holds it.
            let _ = Command::new("umount")
                .arg("-l")
                .arg(self.dir.path())
                .status();
        }
    }
}

/// PATCHes `bytes` at `offset` over a raw socket, writing while the answer is read, so an
/// early answer (507 mid-body) is seen even though the rest of the body is refused.
async fn patch(server: &ServerProcess, location: &str, offset: u64, bytes: &[u8]) -> String {
    let stream = send_raw(
        server.addr,
        &patch_head(location, &server.token, offset, bytes.len()),
    )
    .await;
    let (mut reader, mut writer) = stream.into_split();
    let body = bytes.to_vec();
    let writing = tokio::spawn(async move {
        let _ = writer.write_all(&body).await;
        writer
    });
    let mut got = Vec::new();
    let answer = tokio::time::timeout(WITHIN, async {
        use tokio::io::AsyncReadExt;
        let mut buf = [0u8; 4096];
        loop {
            match reader.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => got.extend_from_slice(&buf[..n]),
            }
            let text = String::from_utf8_lossy(&got);
            if let Some(end) = text.find("\r\n\r\n") {
                let length: usize = text[..end]
                    .lines()
                    .find_map(|l| {
                        l.to_ascii_lowercase()
                            .strip_prefix("content-length:")
                            .map(|v| v.trim().parse().unwrap_or(0))
                    })
                    .unwrap_or(0);
                if got.len() >= end + 4 + length {
                    break;
                }
            }
        }
        String::from_utf8_lossy(&got).into_owned()
    })
    .await
    .expect("the PATCH is answered");
    writing.abort();
    answer
}

fn upload_file(data: &Path, location: &str) -> PathBuf {
    data.join("uploads")
        .join(location.trim_start_matches("/files/"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_answers_507_keeps_every_committed_byte_and_resumes_once_space_is_back() {
    // Declared first, dropped last: the server stops before the filesystem goes.
    let disk = Tmpfs::mount("32M");
    let server = ServerProcess::start_in(disk.path(), &[]);
    let base = server.url("");
    let bytes = data(48 * MIB, 11);
    let location = create_upload(&base, &server.token, bytes.len() as u64, "big.bin").await;

    let first = patch(&server, &location, 0, &bytes[..8 * MIB]).await;
    assert_eq!(status_of(&first), Some(204), "{first}");

    // 40 MiB more do not fit in what is left of 32 MiB.
    let full = patch(&server, &location, 8 * MIB as u64, &bytes[8 * MIB..]).await;
    assert_eq!(
        status_of(&full),
        Some(507),
        "a full disk is 507 Insufficient Storage: {full}"
    );
    assert!(full.contains("disk is full"), "{full}");
    assert_eq!(
        head(&base, &server.token, &location).await,
        (200, Some(8 * MIB as u64)),
        "the committed offset stays where it was"
    );
    let held = std::fs::read(upload_file(&server.data, &location)).expect("the upload's bytes");
    assert!(
        held.len() >= 8 * MIB && held[..8 * MIB] == bytes[..8 * MIB],
        "every committed byte is kept ({} on disk)",
        held.len()
    );
    drop(held);

    // Space comes back: the client resumes from the server's offset to the end.
    disk.grow("128M");
    let offset = head(&base, &server.token, &location).await.1.unwrap();
    let start = usize::try_from(offset).unwrap();
    let rest = patch(&server, &location, offset, &bytes[start..]).await;
    assert_eq!(status_of(&rest), Some(204), "{rest}");
    let stored = std::fs::read(server.data.join("files/ann/big.bin")).expect("published");
    assert!(stored == bytes, "the published file is byte-identical");
    drop(server);
    drop(disk);
}
