//! A real nginx (Debian's package) as a reverse proxy before a server under test: a child
//! process with its own config file and prefix in a temporary directory, `daemon off`, on
//! 127.0.0.1 and a free port, killed when dropped.
//!
//! Its configuration is what a self-hoster gets from Debian's default `nginx.conf` with a
//! `proxy_pass` site: nginx's own defaults for the request body (`client_max_body_size 1m`,
//! request buffering on), unless a test asks for another body limit. It knows nothing of
//! what runs behind it. Needs the `nginx` package (`scripts/setup-test-tools.sh`); without it
//! the test fails and says so.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use tempfile::TempDir;

use crate::process::Running;

/// What nginx logs once its listening socket is bound: the OS status it prints after the
/// configuration cycle (which opens the listeners) succeeded.
const READY: &str = "getrlimit(RLIMIT_NOFILE)";

/// A running nginx proxying to one upstream.
pub struct Nginx {
    /// `http://127.0.0.1:PORT`: where clients go.
    pub base: String,
    /// Its address.
    pub addr: SocketAddr,
    process: Running,
    _dir: TempDir,
}

impl Nginx {
    /// nginx before `upstream` with nginx's default body limit (1 MiB, as Debian ships it).
    pub fn start(upstream: SocketAddr) -> Self {
        Self::start_with(upstream, None)
    }

    /// nginx before `upstream`, with `client_max_body_size` set to `max_body` (nginx's own
    /// syntax: `256k`, `1m`) when given.
    pub fn start_with(upstream: SocketAddr, max_body: Option<&str>) -> Self {
        let binary = binary();
        let dir = tempfile::tempdir().expect("a directory for nginx");
        // nginx cannot listen on port 0 and say which port it got: take a free port and
        // hand it over; another process may grab it in between, so a few tries.
        let mut failures = Vec::new();
        for _ in 0..5 {
            let port = free_port();
            let config = write_config(dir.path(), port, upstream, max_body);
            let mut command = Command::new(&binary);
            command
                .arg("-p")
                .arg(dir.path())
                .arg("-c")
                .arg(&config)
                .arg("-e")
                .arg("stderr");
            let mut process = Running::spawn("nginx", command);
            if process.wait_for_stderr(READY, Duration::from_secs(20)) && process.running() {
                let addr = SocketAddr::from(([127, 0, 0, 1], port));
                return Self {
                    base: format!("http://{addr}"),
                    addr,
                    process,
                    _dir: dir,
                };
            }
            failures.push(process.stderr_so_far());
        }
        panic!("nginx did not start on a free port in 5 tries: {failures:#?}");
    }

    /// What nginx logged so far (its error log goes to standard error).
    pub fn log(&self) -> String {
        self.process.stderr_so_far()
    }
}

/// The nginx binary, or a failed test saying how to get it.
fn binary() -> PathBuf {
    let candidates = [PathBuf::from("/usr/sbin/nginx"), PathBuf::from("nginx")];
    candidates
        .into_iter()
        .find(|path| {
            Command::new(path)
                .arg("-v")
                .output()
                .is_ok_and(|o| o.status.success())
        })
        .unwrap_or_else(|| {
            panic!(
                "nginx is not installed: this test runs a real nginx before the server; \
                 install it with `bash scripts/setup-test-tools.sh` (or `make test`, which does)"
            )
        })
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port on 127.0.0.1")
        .port()
}

fn write_config(dir: &Path, port: u16, upstream: SocketAddr, max_body: Option<&str>) -> PathBuf {
    let temp = |name: &str| {
        let path = dir.join(name);
        std::fs::create_dir_all(&path).expect("an nginx temp directory");
        path.display().to_string()
    };
    let body_limit = max_body
        .map(|limit| format!("client_max_body_size {limit};"))
        .unwrap_or_default();
    // One process (no master): dropping it kills all of nginx, nothing is left behind.
    let config = format!(
        "daemon off;
master_process off;
worker_processes 1;
pid {pid};
error_log stderr notice;
events {{ worker_connections 256; }}
http {{
    access_log off;
    client_body_temp_path {body};
    proxy_temp_path {proxy};
    fastcgi_temp_path {fastcgi};
    uwsgi_temp_path {uwsgi};
    scgi_temp_path {scgi};
    {body_limit}
    server {{
        listen 127.0.0.1:{port};
        location / {{
            proxy_pass http://{upstream};
            proxy_set_header Host $http_host;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_set_header X-Forwarded-Proto $scheme;
        }}
    }}
}}
",
        pid = dir.join("nginx.pid").display(),
        body = temp("body"),
        proxy = temp("proxy"),
        fastcgi = temp("fastcgi"),
        uwsgi = temp("uwsgi"),
        scgi = temp("scgi"),
    );
    let path = dir.join("nginx.conf");
    std::fs::write(&path, config).expect("the nginx config");
    path
}
