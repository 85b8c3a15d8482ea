//! A real ferry-server for tests, in the test's own process: its own data directory, two
//! users (ann and bob) with tokens, bound to 127.0.0.1 port 0, stopped when dropped or
//! restarted on the same data; and files of random bytes to upload.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use ferry_server::accounts::{add_user, issue_token};
use ferry_server::{App, Config};
use tempfile::TempDir;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// A running server.
pub struct TestServer {
    /// The address it listens on.
    pub addr: SocketAddr,
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    /// ann's token.
    pub ann: String,
    /// bob's token.
    pub bob: String,
    /// Its configuration (kept for restarts).
    pub config: Config,
    dir: Arc<TempDir>,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl TestServer {
    /// A server with the default configuration.
    pub async fn start() -> Self {
        Self::start_with(|_| {}).await
    }

    /// A server whose configuration `adjust` changes first.
    pub async fn start_with(adjust: impl FnOnce(&mut Config)) -> Self {
        let dir = Arc::new(tempfile::tempdir().expect("a temporary data directory"));
        let mut config = Config::new(dir.path());
        adjust(&mut config);
        let app = App::open(config.clone()).expect("the server opens its data directory");
        let (ann, bob) = app
            .state()
            .db
            .call_blocking(|conn| {
                let ann = add_user(conn, "ann", "ann's password")?;
                let bob = add_user(conn, "bob", "bob's password")?;
                Ok((
                    issue_token(conn, &ann, "test")?,
                    issue_token(conn, &bob, "test")?,
                ))
            })
            .expect("test users");
        Self::launch(
            app,
            config,
            dir,
            ann.expose().to_owned(),
            bob.expose().to_owned(),
        )
        .await
    }

    async fn launch(app: App, config: Config, dir: Arc<TempDir>, ann: String, bob: String) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind 127.0.0.1:0");
        let addr = listener.local_addr().expect("bound address");
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            app.serve(listener, async {
                let _ = stopped.await;
            })
            .await
            .expect("the server runs until stopped");
        });
        Self {
            addr,
            base: format!("http://{addr}"),
            ann,
            bob,
            config,
            dir,
            stop: Some(stop),
            task: Some(task),
        }
    }

    /// Stops the server (waiting for requests in flight) and starts it again on the same
    /// data directory, as after a crash-free restart. Tokens stay valid.
    pub async fn restart(mut self) -> Self {
        self.stop_now().await;
        let app = App::open(self.config.clone()).expect("the server reopens its data directory");
        let (dir, ann, bob, config) = (
            Arc::clone(&self.dir),
            self.ann.clone(),
            self.bob.clone(),
            self.config.clone(),
        );
        Self::launch(app, config, dir, ann, bob).await
    }

    /// Stops the server and waits until it has ended (its listener closed: the port
    /// refuses connections from then on).
    pub async fn stop(mut self) {
        self.stop_now().await;
    }

    async fn stop_now(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            let ended = tokio::time::timeout(std::time::Duration::from_secs(10), task).await;
            assert!(
                matches!(ended, Ok(Ok(()))),
                "the test server did not stop within 10 s: {ended:?}"
            );
        }
    }

    /// A URL on this server.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// The data directory.
    pub fn data(&self) -> PathBuf {
        self.dir.path().to_path_buf()
    }

    /// Where user `user`'s finished file `path` must end up.
    pub fn file(&self, user: &str, path: &str) -> PathBuf {
        self.dir.path().join("files").join(user).join(path)
    }

    /// An HTTP client for this server.
    pub fn http() -> reqwest::Client {
        reqwest::Client::builder().build().expect("an HTTP client")
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// Every regular file under `root`, relative, sorted: to check nothing landed elsewhere.
pub fn files_under(root: &std::path::Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else {
                found.push(path.strip_prefix(root).unwrap_or(&path).to_path_buf());
            }
        }
    }
    found.sort();
    found
}

/// A file of `len` pseudo-random bytes (differing per `seed`) in `dir`, and its bytes.
pub fn random_file(dir: &std::path::Path, name: &str, len: usize, seed: u64) -> (PathBuf, Vec<u8>) {
    let mut state = seed
        .wrapping_mul(6_364_136_223_846_793_005)
        .wrapping_add(1_442_695_040_888_963_407);
    let bytes: Vec<u8> = (0..len)
        .map(|_| {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            (state >> 56) as u8
        })
        .collect();
    let path = dir.join(name);
    std::fs::write(&path, &bytes).expect("a test file");
    (path, bytes)
}

/// Every file under `root` (relative, sorted) whose bytes contain `needle`: to show that a
/// secret was written nowhere.
pub fn files_containing(root: &std::path::Path, needle: &str) -> Vec<PathBuf> {
    files_under(root)
        .into_iter()
        .filter(|rel| {
            std::fs::read(root.join(rel))
                .is_ok_and(|bytes| bytes.windows(needle.len()).any(|w| w == needle.as_bytes()))
        })
        .collect()
}

/// A port on 127.0.0.1 that was free a moment ago, for a server process that must come back
/// on the same port after a restart (a server of this process takes port 0 instead).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port on 127.0.0.1")
        .port()
}
