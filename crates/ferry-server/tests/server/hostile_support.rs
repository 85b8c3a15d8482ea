//! Tools of the hostile-client suite: the real `ferry-server` binary as a child process
//! (for what only a process shows: its memory, its log), raw HTTP/1.1 over a bare socket
//! (half-sent requests, stalled bodies), and bounded polling instead of sleeps.

use std::net::SocketAddr;
use std::process::Command;

use ferry_tests::process::Listening;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

pub(crate) const BIN: &str = env!("CARGO_BIN_EXE_ferry-server");

/// Runs `ferry-server ARGS` to completion with `stdin`.
pub(crate) fn cli(args: &[&str], stdin: &str) -> std::process::Output {
    ferry_tests::process::run_with_stdin(std::path::Path::new(BIN), args, stdin)
}

/// A `ferry-server serve` child process with a user ann (and her token) on its own data
/// directory; killed when dropped.
pub(crate) struct ServerProcess {
    pub(crate) addr: SocketAddr,
    pub(crate) token: String,
    /// The data directory.
    pub(crate) data: std::path::PathBuf,
    /// Dropped (killed) before the directory below.
    server: Listening,
    owned_dir: Option<tempfile::TempDir>,
}

impl ServerProcess {
    /// Starts `ferry-server serve --listen 127.0.0.1:0 --data DIR EXTRA...` on a new
    /// temporary directory.
    pub(crate) fn start(extra: &[&str]) -> Self {
        let dir = tempfile::tempdir().expect("a data directory");
        let mut server = Self::start_in(dir.path(), extra);
        server.owned_dir = Some(dir);
        server
    }

    /// Starts the server on the data directory `dir`.
    pub(crate) fn start_in(dir: &std::path::Path, extra: &[&str]) -> Self {
        let data = dir.to_str().expect("a UTF-8 path").to_owned();
        let added = cli(
            &["user", "add", "ann", "--password-stdin", "--data", &data],
            "ann's password\n",
        );
        assert!(added.status.success(), "{added:?}");
        let issued = cli(&["token", "issue", "ann", "--data", &data], "");
        assert!(issued.status.success(), "{issued:?}");
        let token = String::from_utf8(issued.stdout)
            .expect("UTF-8")
            .trim()
            .to_owned();
        Self::serve(dir, token, extra)
    }

    /// Serves the data directory `dir`, whose user ann has `token`.
    fn serve(dir: &std::path::Path, token: String, extra: &[&str]) -> Self {
        let data = dir.to_str().expect("a UTF-8 path").to_owned();
        let mut command = Command::new(BIN);
        command
            .args(["serve", "--listen", "127.0.0.1:0", "--data", &data])
            .args(extra)
            .env("RUST_LOG", "ferry_server=info");
        let server = Listening::start("ferry-server serve", command, Duration::from_secs(20));
        let addr = server
            .url
            .strip_prefix("http://")
            .unwrap_or_else(|| panic!("`listening on http://ADDR`, got {:?}", server.url))
            .parse()
            .expect("an address");
        Self {
            addr,
            token,
            data: dir.to_path_buf(),
            server,
            owned_dir: None,
        }
    }

    /// SIGKILLs the server (a crash at this instant) and starts it again on its data
    /// directory (on a new port).
    pub(crate) fn crash_and_restart(mut self, extra: &[&str]) -> Self {
        let owned_dir = self.owned_dir.take();
        let (data, token) = (self.data.clone(), self.token.clone());
        self.server.kill();
        let mut again = Self::serve(&data, token, extra);
        again.owned_dir = owned_dir;
        again
    }

    /// Stops the server as a service manager would (SIGTERM, then waits for it to end) and
    /// starts it again on its data directory (on a new port).
    pub(crate) fn stop_and_restart(mut self, extra: &[&str]) -> Self {
        let owned_dir = self.owned_dir.take();
        let (data, token) = (self.data.clone(), self.token.clone());
        let stopped = self.server.terminate(Duration::from_secs(20));
        ferry_tests::process::assert_success("ferry-server stopping on SIGTERM", &stopped);
        let mut again = Self::serve(&data, token, extra);
        again.owned_dir = owned_dir;
        again
    }

    /// `http://ADDR/PATH`.
    pub(crate) fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// What the server logged so far (its stderr).
    pub(crate) fn log(&self) -> String {
        self.server.stderr_so_far()
    }

    /// The server's resident memory in KiB, from `/proc/PID/status`.
    pub(crate) fn rss_kib(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.server.id()))
            .expect("/proc/PID/status of the server");
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .expect("a VmRSS line")
    }
}

/// Polls `check` until it gives a value or `within` passes (then panics with `what`).
pub(crate) async fn eventually<T, F, Fut>(within: Duration, what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = Instant::now() + within;
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(Instant::now() < deadline, "not within {within:?}: {what}");
        tokio::task::yield_now().await;
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A raw HTTP/1.1 request head for `method path` with `headers`, ready to write.
pub(crate) fn head_of(method: &str, path: &str, headers: &[(&str, String)]) -> Vec<u8> {
    let mut text = format!("{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n");
    for (name, value) in headers {
        text.push_str(name);
        text.push_str(": ");
        text.push_str(value);
        text.push_str("\r\n");
    }
    text.push_str("\r\n");
    text.into_bytes()
}

/// Reads what the server sends on `stream` until it closes, a whole answer with a body of
/// Content-Length arrived, or `within` passes; returns it as text (empty on a bare close).
/// `None` if nothing ended within the time.
pub(crate) async fn read_answer(stream: &mut TcpStream, within: Duration) -> Option<String> {
    let mut got = Vec::new();
    let deadline = tokio::time::Instant::now() + within;
    loop {
        let mut buf = [0u8; 8192];
        let read = tokio::time::timeout_at(deadline, stream.read(&mut buf)).await;
        match read {
            Err(_) => return None,
            Ok(Ok(0) | Err(_)) => return Some(String::from_utf8_lossy(&got).into_owned()),
            Ok(Ok(n)) => got.extend_from_slice(&buf[..n]),
        }
        let text = String::from_utf8_lossy(&got).into_owned();
        if let Some(end) = text.find("\r\n\r\n") {
            let length = text[..end]
                .lines()
                .find_map(|l| {
                    let (k, v) = l.split_once(':')?;
                    k.eq_ignore_ascii_case("content-length")
                        .then(|| v.trim().parse::<usize>().ok())?
                })
                .unwrap_or(0);
            if got.len() >= end + 4 + length {
                return Some(text);
            }
        }
    }
}

/// Opens a raw connection to `addr` and writes `bytes`.
pub(crate) async fn send_raw(addr: SocketAddr, bytes: &[u8]) -> TcpStream {
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    stream.write_all(bytes).await.expect("write");
    stream
}

/// The status code of a raw answer (`HTTP/1.1 204 ...` -> 204).
pub(crate) fn status_of(answer: &str) -> Option<u16> {
    answer.split(' ').nth(1)?.parse().ok()
}

/// Creates a tus upload of `length` bytes named `name` with `token`; returns its path.
pub(crate) async fn create_upload(base: &str, token: &str, length: u64, name: &str) -> String {
    let metadata = format!("filename {}", ferry_proto_base64(name.as_bytes()));
    let reply = reqwest::Client::new()
        .post(format!("{base}/files/"))
        .header("tus-resumable", "1.0.0")
        .header("upload-length", length.to_string())
        .header("upload-metadata", metadata)
        .bearer_auth(token)
        .send()
        .await
        .expect("POST /files/");
    assert_eq!(reply.status(), 201, "{:?}", reply.text().await);
    reply.headers()["location"]
        .to_str()
        .expect("a location")
        .to_owned()
}

/// Standard base64 of `bytes` (tus metadata values).
fn ferry_proto_base64(bytes: &[u8]) -> String {
    let mut metadata = ferry_proto::tus::metadata::Metadata::new();
    metadata.insert("x", bytes).expect("a metadata value");
    metadata
        .encode()
        .strip_prefix("x ")
        .expect("an encoded pair")
        .to_owned()
}

/// A HEAD of `location` with `token`: (status, Upload-Offset if any).
pub(crate) async fn head(base: &str, token: &str, location: &str) -> (u16, Option<u64>) {
    let reply = reqwest::Client::new()
        .head(format!("{base}{location}"))
        .header("tus-resumable", "1.0.0")
        .bearer_auth(token)
        .send()
        .await
        .expect("HEAD");
    let offset = reply
        .headers()
        .get("upload-offset")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok());
    (reply.status().as_u16(), offset)
}

/// The head of a PATCH of `length` bytes at `offset` with `token`.
pub(crate) fn patch_head(location: &str, token: &str, offset: u64, length: usize) -> Vec<u8> {
    head_of(
        "PATCH",
        location,
        &[
            ("Tus-Resumable", "1.0.0".into()),
            ("Authorization", format!("Bearer {token}")),
            ("Upload-Offset", offset.to_string()),
            ("Content-Type", "application/offset+octet-stream".into()),
            ("Content-Length", length.to_string()),
        ],
    )
}

/// Signs in as `user` with `password` on device `device`; returns the token.
pub(crate) async fn login(base: &str, user: &str, password: &str, device: &str) -> String {
    let reply = reqwest::Client::new()
        .post(format!("{base}/api/v1/login"))
        .json(&serde_json::json!({"username": user, "password": password, "device": device}))
        .send()
        .await
        .expect("POST /api/v1/login");
    assert_eq!(reply.status(), 200, "sign-in of {user}");
    let body: serde_json::Value = reply.json().await.expect("JSON");
    body["token"].as_str().expect("a token").to_owned()
}
