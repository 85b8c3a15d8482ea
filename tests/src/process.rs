//! Real programs as child processes in tests (`ferry`, `ferry-server`, a test binary run
//! again as a child): run to their end within a bound, or kept running until they print
//! their `listening on URL` line, and never left behind when a test fails midway.
//!
//! Waiting is on the real event (the child's exit, its line on stdout), never a sleep or a
//! polling loop. It knows nothing of what the programs do.

use std::io::{BufRead, BufReader, Read, Write};
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::{Arc, Condvar, Mutex, PoisonError, mpsc};
use std::thread::JoinHandle;
use std::time::Duration;

/// A child process whose stdout and stderr are collected by threads, killed if dropped
/// unfinished: a test that fails midway leaves nothing running.
pub struct Running {
    name: String,
    pid: u32,
    /// The child's exit status, sent by the thread that waits for it.
    exited: mpsc::Receiver<std::io::Result<ExitStatus>>,
    status: Option<ExitStatus>,
    waiter: Option<JoinHandle<()>>,
    stdout: Option<JoinHandle<Vec<u8>>>,
    stderr: Option<JoinHandle<Vec<u8>>>,
    /// Standard error so far, as it arrives.
    stderr_seen: Arc<Seen>,
}

/// Output as it arrives, and a way to wait for some of it.
#[derive(Default)]
struct Seen {
    bytes: Mutex<Vec<u8>>,
    grew: Condvar,
}

fn collect(from: impl Read + Send + 'static) -> JoinHandle<Vec<u8>> {
    collect_into(from, Arc::default())
}

fn collect_into(mut from: impl Read + Send + 'static, seen: Arc<Seen>) -> JoinHandle<Vec<u8>> {
    std::thread::spawn(move || {
        let mut buf = [0u8; 8192];
        loop {
            match from.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    seen.bytes
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .extend_from_slice(&buf[..n]);
                    seen.grew.notify_all();
                }
            }
        }
        seen.bytes
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    })
}

impl Running {
    /// Starts `command` with piped stdout and stderr (stdin as the command says).
    pub fn spawn(name: &str, mut command: Command) -> Self {
        let mut child = command
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {name}: {e}"));
        let stdout = collect(child.stdout.take().expect("piped stdout"));
        let seen = Arc::<Seen>::default();
        let stderr = collect_into(
            child.stderr.take().expect("piped stderr"),
            Arc::clone(&seen),
        );
        Self::waiting(name, child, Some(stdout), Some(stderr), seen)
    }

    fn waiting(
        name: &str,
        mut child: Child,
        stdout: Option<JoinHandle<Vec<u8>>>,
        stderr: Option<JoinHandle<Vec<u8>>>,
        stderr_seen: Arc<Seen>,
    ) -> Self {
        let pid = child.id();
        let (tx, exited) = mpsc::channel();
        let waiter = std::thread::spawn(move || {
            let _ = tx.send(child.wait());
        });
        Self {
            name: name.to_owned(),
            pid,
            exited,
            status: None,
            waiter: Some(waiter),
            stdout,
            stderr,
            stderr_seen,
        }
    }

    /// Waits at most `limit` until its standard error contains `needle`; whether it did.
    pub fn wait_for_stderr(&self, needle: &str, limit: Duration) -> bool {
        let seen = &self.stderr_seen;
        let bytes = seen.bytes.lock().unwrap_or_else(PoisonError::into_inner);
        let (bytes, _) = seen
            .grew
            .wait_timeout_while(bytes, limit, |b| {
                !String::from_utf8_lossy(b).contains(needle)
            })
            .unwrap_or_else(PoisonError::into_inner);
        String::from_utf8_lossy(&bytes).contains(needle)
    }

    /// Its standard error so far.
    pub fn stderr_so_far(&self) -> String {
        let bytes = self
            .stderr_seen
            .bytes
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        String::from_utf8_lossy(&bytes).into_owned()
    }

    /// The process id (for `kill -STOP`).
    pub fn id(&self) -> u32 {
        self.pid
    }

    /// Whether it is still running.
    pub fn running(&mut self) -> bool {
        self.wait_for(Duration::ZERO).is_none()
    }

    /// Its exit status if it ends within `limit`.
    fn wait_for(&mut self, limit: Duration) -> Option<ExitStatus> {
        if self.status.is_none() {
            match self.exited.recv_timeout(limit) {
                Ok(status) => self.status = Some(status.expect("waiting for the child")),
                Err(mpsc::RecvTimeoutError::Timeout) => {}
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    panic!("{}: lost its waiter", self.name)
                }
            }
        }
        self.status
    }

    /// Waits at most `limit` for it to end (killing it and failing the test after that);
    /// its exit status and output.
    pub fn finish(mut self, limit: Duration) -> Output {
        let Some(status) = self.wait_for(limit) else {
            let dump = self.dump();
            panic!(
                "{} did not finish within {limit:?}; killed.\n{dump}",
                self.name
            );
        };
        let (stdout, stderr) = self.outputs();
        Output {
            status,
            stdout,
            stderr,
        }
    }

    /// Ends it (if still running: resumed if stopped, then killed) and returns its status
    /// and output as text, for a failure message.
    pub fn dump(&mut self) -> String {
        self.end();
        let (stdout, stderr) = self.outputs();
        format!(
            "{} ended: {:?}\n--- stdout\n{}\n--- stderr\n{}",
            self.name,
            self.status,
            String::from_utf8_lossy(&stdout),
            String::from_utf8_lossy(&stderr)
        )
    }

    fn end(&mut self) {
        if self.status.is_none() {
            signal("CONT", self.pid);
            signal("KILL", self.pid);
            // Killed: it ends now; the bound only guards against a wedged kernel.
            let _ = self.wait_for(Duration::from_secs(10));
        }
        if let Some(waiter) = self.waiter.take() {
            let _ = waiter.join();
        }
    }

    fn outputs(&mut self) -> (Vec<u8>, Vec<u8>) {
        let join =
            |h: Option<JoinHandle<Vec<u8>>>| h.map(|h| h.join().unwrap()).unwrap_or_default();
        (join(self.stdout.take()), join(self.stderr.take()))
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.end();
    }
}

/// Runs `command` to its end, for at most `limit`.
pub fn run_bounded(name: &str, command: Command, limit: Duration) -> Output {
    Running::spawn(name, command).finish(limit)
}

/// Runs `program ARGS` to its end (at most a minute) with `stdin` written to it.
pub fn run_with_stdin(program: &Path, args: &[&str], stdin: &str) -> Output {
    let name = format!("{} {args:?}", program.display());
    let mut command = Command::new(program);
    command.args(args).stdin(Stdio::piped());
    let mut child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {name}: {e}"));
    child
        .stdin
        .take()
        .expect("piped stdin")
        .write_all(stdin.as_bytes())
        .expect("stdin written");
    let stdout = collect(child.stdout.take().expect("piped stdout"));
    let stderr = collect(child.stderr.take().expect("piped stderr"));
    Running::waiting(&name, child, Some(stdout), Some(stderr), Arc::default())
        .finish(Duration::from_secs(60))
}

/// Asserts that `output` is a success, showing its output otherwise.
pub fn assert_success(what: &str, output: &Output) {
    assert!(
        output.status.success(),
        "{what} failed ({}):\n--- stdout\n{}\n--- stderr\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// A server process that printed `listening on URL` on stdout; killed when dropped.
pub struct Listening {
    /// The URL it printed, e.g. `http://127.0.0.1:PORT`.
    pub url: String,
    /// The URL of a `metrics on URL` line printed before it, if any.
    pub metrics: Option<String>,
    running: Running,
}

impl Listening {
    /// Starts `command` and waits at most `limit` for its `listening on URL` line.
    pub fn start(name: &str, mut command: Command, limit: Duration) -> Self {
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {name}: {e}"));
        let seen = Arc::<Seen>::default();
        let stderr = collect_into(
            child.stderr.take().expect("piped stderr"),
            Arc::clone(&seen),
        );
        let stdout = child.stdout.take().expect("piped stdout");
        let (lines, line) = mpsc::channel();
        let stdout = std::thread::spawn(move || {
            let mut rest = Vec::new();
            let mut metrics = None;
            for text in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(url) = text.strip_prefix("metrics on ") {
                    metrics = Some(url.trim().to_owned());
                }
                if let Some(url) = text.strip_prefix("listening on ") {
                    let _ = lines.send((url.trim().to_owned(), metrics.take()));
                }
                rest.extend_from_slice(text.as_bytes());
                rest.push(b'\n');
            }
            rest
        });
        let mut running = Running::waiting(name, child, Some(stdout), Some(stderr), seen);
        match line.recv_timeout(limit) {
            Ok((url, metrics)) => Self {
                url,
                metrics,
                running,
            },
            Err(mpsc::RecvTimeoutError::Timeout | mpsc::RecvTimeoutError::Disconnected) => panic!(
                "{name} printed no `listening on` line within {limit:?}:\n{}",
                running.dump()
            ),
        }
    }

    /// The process id.
    pub fn id(&self) -> u32 {
        self.running.id()
    }

    /// What it said on stderr so far (its log).
    pub fn stderr_so_far(&self) -> String {
        self.running.stderr_so_far()
    }

    /// Asks it to stop (SIGTERM, as systemd or Ctrl-C would) and waits at most `limit` for
    /// it to end (then kills it and panics).
    pub fn terminate(self, limit: Duration) -> Output {
        signal("TERM", self.running.id());
        self.running.finish(limit)
    }

    /// Kills it at once (SIGKILL, as a crash), waits until it is gone, and returns what it
    /// said on stderr.
    pub fn kill(mut self) -> String {
        self.running.end();
        let (_, stderr) = self.running.outputs();
        String::from_utf8_lossy(&stderr).into_owned()
    }
}

/// Sends `SIG<name>` to process `pid` with kill(1).
pub fn signal(name: &str, pid: u32) {
    let _ = Command::new("kill")
        .arg(format!("-{name}"))
        .arg(pid.to_string())
        .stderr(Stdio::null())
        .status();
}
