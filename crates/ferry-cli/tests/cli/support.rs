//! Running the real `ferry` binary in a scratch home.

use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

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

/// A child process whose stdout and stderr are collected by threads, killed if dropped
/// unfinished: a test that fails midway leaves nothing running.
pub(crate) struct Running {
    child: Child,
    name: String,
    stdout: Option<std::thread::JoinHandle<Vec<u8>>>,
    stderr: Option<std::thread::JoinHandle<Vec<u8>>>,
}

impl Running {
    /// Starts `command` with piped stdout and stderr.
    pub(crate) fn spawn(name: &str, mut command: Command) -> Self {
        let mut child = command
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {name}: {e}"));
        let collect = |mut from: Box<dyn Read + Send>| {
            std::thread::spawn(move || {
                let mut bytes = Vec::new();
                let _ = from.read_to_end(&mut bytes);
                bytes
            })
        };
        let stdout = collect(Box::new(child.stdout.take().unwrap()));
        let stderr = collect(Box::new(child.stderr.take().unwrap()));
        Self {
            child,
            name: name.to_owned(),
            stdout: Some(stdout),
            stderr: Some(stderr),
        }
    }

    /// Waits at most `limit` for it to end (killing it and failing the test after that);
    /// its exit status and output.
    pub(crate) fn finish(mut self, limit: Duration) -> Output {
        let started = Instant::now();
        let status = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break status;
            }
            if started.elapsed() > limit {
                let _ = self.child.kill();
                let _ = self.child.wait();
                let (stdout, stderr) = self.outputs();
                panic!(
                    "{} did not finish within {limit:?}; killed.\n--- stdout\n{}\n--- stderr\n{}",
                    self.name,
                    String::from_utf8_lossy(&stdout),
                    String::from_utf8_lossy(&stderr)
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        let (stdout, stderr) = self.outputs();
        Output {
            status,
            stdout,
            stderr,
        }
    }

    fn outputs(&mut self) -> (Vec<u8>, Vec<u8>) {
        let join = |h: Option<std::thread::JoinHandle<Vec<u8>>>| {
            h.map(|h| h.join().unwrap()).unwrap_or_default()
        };
        (join(self.stdout.take()), join(self.stderr.take()))
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if self.stdout.is_some() {
            // Not finished: resume it if stopped, then end it.
            signal("CONT", self.child.id());
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Runs `command` to its end, for at most `limit`.
pub(crate) fn run_bounded(name: &str, command: Command, limit: Duration) -> Output {
    Running::spawn(name, command).finish(limit)
}

/// Asserts that `output` is a success, showing its stderr otherwise.
pub(crate) fn assert_success(what: &str, output: &Output) {
    assert!(
        output.status.success(),
        "{what} failed ({}):\n--- stdout\n{}\n--- stderr\n{}",
        output.status,
        stdout(output),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// A server process that printed `listening on http://127.0.0.1:PORT`; killed when dropped.
pub(crate) struct Listening {
    pub(crate) child: Child,
    /// `http://127.0.0.1:PORT`.
    pub(crate) url: String,
    stderr: Option<std::thread::JoinHandle<String>>,
}

impl Listening {
    /// Starts `command` and waits at most `limit` for its `listening on URL` line.
    pub(crate) fn start(name: &str, mut command: Command, limit: Duration) -> Self {
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {name}: {e}"));
        let mut stderr_pipe = child.stderr.take().unwrap();
        let stderr = std::thread::spawn(move || {
            let mut text = String::new();
            let _ = stderr_pipe.read_to_string(&mut text);
            text
        });
        let stdout = child.stdout.take().unwrap();
        let (lines, line) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for text in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(url) = text.strip_prefix("listening on ") {
                    let _ = lines.send(url.trim().to_owned());
                }
            }
        });
        let Ok(url) = line.recv_timeout(limit) else {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "{name} printed no `listening on` line within {limit:?}:\n{}",
                stderr.join().unwrap()
            );
        };
        Self {
            child,
            url,
            stderr: Some(stderr),
        }
    }

    /// Kills it at once (SIGKILL, as a crash) and returns what it said on stderr.
    pub(crate) fn kill(mut self) -> String {
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.stderr
            .take()
            .and_then(|h| h.join().ok())
            .unwrap_or_default()
    }
}

impl Drop for Listening {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Sends `SIG<name>` to process `pid` with kill(1).
pub(crate) fn signal(name: &str, pid: u32) {
    let _ = Command::new("kill")
        .arg(format!("-{name}"))
        .arg(pid.to_string())
        .status();
}

/// For tests that act on an upload while it runs.
impl Running {
    /// The process id, for `kill -STOP`.
    pub(crate) fn id(&self) -> u32 {
        self.child.id()
    }

    /// Whether it is still running.
    pub(crate) fn running(&mut self) -> bool {
        self.child.try_wait().unwrap().is_none()
    }

    /// Ends it (if still running) and returns its status and output as text, for a
    /// failure message.
    pub(crate) fn dump(&mut self) -> String {
        signal("CONT", self.child.id());
        let _ = self.child.kill();
        let status = self.child.wait();
        let (stdout, stderr) = self.outputs();
        format!(
            "{} ended: {status:?}\n--- stdout\n{}\n--- stderr\n{}",
            self.name,
            String::from_utf8_lossy(&stdout),
            String::from_utf8_lossy(&stderr)
        )
    }
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
