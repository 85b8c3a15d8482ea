//! The server SIGKILLed at moments spread over many uploads finishing at once (tus single
//! uploads, tus concatenations, GalileoSend), restarted on the same data directory, and the
//! invariant checked every time:
//! - every listed file's size and sha1 match its bytes on disk, and are those of the content
//!   sent to that path (never zero-filled, never mixed);
//! - every upload the client had learned of is resumable to completion (then listed, with
//!   its bytes), and a final upload asked for again is the same final.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ferry_proto::galileo::{Client, ClientFrame, ClientOptions};
use futures_util::{SinkExt as _, StreamExt as _};
use tokio_tungstenite::tungstenite::Message;

use crate::galileo_client::{data, sha1_hex};
use crate::hostile_support::{BIN, cli};
const CHUNK: usize = 256 * 1024;
const ROUNDS: u64 = 8;

/// A `ferry-server serve` process on a fixed port; SIGKILLed when dropped.
struct Process(Child);

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn serve(data_dir: &Path, port: u16) -> Process {
    let mut child = Command::new(BIN)
        .args(["serve", "--listen", &format!("127.0.0.1:{port}"), "--data"])
        .arg(data_dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("ferry-server starts");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert_eq!(
        line.trim(),
        format!("listening on http://127.0.0.1:{port}"),
        "the server started"
    );
    Process(child)
}

/// `ferry-server ARGS --data DIR` (an account command) with `stdin`; its standard output.
fn command(args: &[&str], data_dir: &Path, stdin: &str) -> String {
    let data = data_dir.to_str().expect("a UTF-8 path");
    let args: Vec<&str> = args.iter().copied().chain(["--data", data]).collect();
    let out = cli(&args, stdin);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// What the clients learned before the crash, per remote path.
#[derive(Debug, Clone)]
enum Learned {
    /// A tus upload at this URL.
    Tus(String),
    /// A concatenation: its partial uploads (by byte range), and whether the final's POST
    /// was sent.
    Concat(Vec<(std::ops::Range<usize>, String)>),
    /// A GalileoSend upload id.
    Galileo(String),
}

#[derive(Clone)]
struct Ctx {
    base: String,
    token: String,
    http: reqwest::Client,
    learned: Arc<Mutex<BTreeMap<String, Learned>>>,
}

impl Ctx {
    fn tus(&self, method: reqwest::Method, url: &str) -> reqwest::RequestBuilder {
        self.http
            .request(method, url)
            .bearer_auth(&self.token)
            .header("Tus-Resumable", "1.0.0")
    }

    fn learn(&self, path: &str, what: Learned) {
        self.learned.lock().unwrap().insert(path.to_owned(), what);
    }

    async fn create(
        &self,
        len: usize,
        metadata: Option<(&str, &[u8])>,
        partial: bool,
    ) -> Option<String> {
        let mut request = self
            .tus(reqwest::Method::POST, &format!("{}/files/", self.base))
            .header("Upload-Length", len.to_string());
        if partial {
            request = request.header("Upload-Concat", "partial");
        }
        if let Some((path, bytes)) = metadata {
            request = request.header("Upload-Metadata", metadata_of(path, bytes));
        }
        let reply = request.send().await.ok()?;
        let location = reply.headers().get("location")?.to_str().ok()?;
        Some(format!("{}{location}", self.base))
    }

    /// Sends `bytes` to the tus upload at `url` from the server's offset on.
    async fn patch_rest(&self, url: &str, bytes: &[u8]) -> Option<()> {
        let reply = self.tus(reqwest::Method::HEAD, url).send().await.ok()?;
        if !reply.status().is_success() {
            eprintln!("HEAD {url}: {}", reply.status());
        }
        let mut offset: usize = reply
            .headers()
            .get("upload-offset")?
            .to_str()
            .ok()?
            .parse()
            .ok()?;
        while offset < bytes.len() {
            let end = bytes.len().min(offset + CHUNK);
            let reply = self
                .tus(reqwest::Method::PATCH, url)
                .header("Upload-Offset", offset.to_string())
                .header("Content-Type", "application/offset+octet-stream")
                .body(bytes[offset..end].to_vec())
                .send()
                .await
                .ok()?;
            offset = reply
                .headers()
                .get("upload-offset")?
                .to_str()
                .ok()?
                .parse()
                .ok()?;
        }
        Some(())
    }

    async fn tus_single(&self, path: &str, bytes: &[u8]) -> Option<()> {
        let url = self.create(bytes.len(), Some((path, bytes)), false).await?;
        self.learn(path, Learned::Tus(url.clone()));
        self.patch_rest(&url, bytes).await
    }

    async fn concat(&self, path: &str, bytes: &[u8]) -> Option<()> {
        let half = bytes.len() / 2;
        let mut parts = Vec::new();
        for range in [0..half, half..bytes.len()] {
            let url = self.create(range.len(), None, true).await?;
            parts.push((range, url));
            self.learn(path, Learned::Concat(parts.clone()));
        }
        for (range, url) in &parts {
            self.patch_rest(url, &bytes[range.clone()]).await?;
        }
        self.final_post(path, bytes, &parts).await.map(|_| ())
    }

    async fn final_post(
        &self,
        path: &str,
        bytes: &[u8],
        parts: &[(std::ops::Range<usize>, String)],
    ) -> Option<String> {
        let urls: Vec<&str> = parts
            .iter()
            .map(|(_, url)| url.strip_prefix(&self.base).unwrap_or(url))
            .collect();
        let reply = self
            .tus(reqwest::Method::POST, &format!("{}/files/", self.base))
            .header("Upload-Concat", format!("final;{}", urls.join(" ")))
            .header("Upload-Metadata", metadata_of(path, bytes))
            .send()
            .await
            .ok()?;
        if !reply.status().is_success() {
            eprintln!("final POST {path}: {}", reply.status());
        }
        reply
            .headers()
            .get("location")
            .and_then(|l| l.to_str().ok())
            .map(str::to_owned)
    }

    async fn galileo(&self, path: &str, bytes: &[u8], resume: Option<String>) -> Option<()> {
        let ws_base = self.base.replacen("http://", "ws://", 1);
        let url = format!("{ws_base}/galileo?access_token={}", self.token);
        let (mut ws, _) = tokio_tungstenite::connect_async(url).await.ok()?;
        let mut options = ClientOptions::new("g.bin", bytes.len() as u64);
        options.path = Some(path.to_owned());
        options.hash = Some(ferry_proto::checksum::ChecksumAlgorithm::Sha1.digest(bytes));
        options.resume_upload = resume;
        let mut client = Client::new(options);
        let mut events = Vec::new();
        for _ in 0..10_000 {
            events.extend(std::iter::from_fn(|| client.poll_event()));
            if let Some(id) = client.upload_id() {
                self.learn(path, Learned::Galileo(id.to_owned()));
            }
            while let Some(frame) = client.poll_transmit() {
                let message = match frame {
                    ClientFrame::Text(text) => Message::text(text),
                    ClientFrame::Binary(range) => Message::binary(
                        bytes[usize::try_from(range.start).unwrap()
                            ..usize::try_from(range.end).unwrap()]
                            .to_vec(),
                    ),
                };
                ws.send(message).await.ok()?;
            }
            if client.is_over() {
                if !client.is_finished() {
                    eprintln!("GalileoSend {path}: over, not finished: {events:?}");
                }
                return client.is_finished().then_some(());
            }
            match ws.next().await {
                Some(Ok(Message::Text(text))) => {
                    if let Err(err) = client.handle_text(&text) {
                        eprintln!("GalileoSend {path}: {err} after {text}");
                    }
                }
                Some(Ok(_)) => {}
                other => {
                    eprintln!(
                        "GalileoSend {path}: the connection ended ({other:?}); over: {}",
                        client.is_over()
                    );
                    client.handle_closed();
                    return None;
                }
            }
        }
        None
    }

    /// Whether `path` is listed.
    async fn is_listed(&self, path: &str) -> bool {
        self.listed().await.iter().any(|e| e["path"] == path)
    }

    /// The finished files, as listed.
    async fn listed(&self) -> Vec<serde_json::Value> {
        self.http
            .get(format!("{}/api/v1/files", self.base))
            .bearer_auth(&self.token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }
}

fn metadata_of(path: &str, bytes: &[u8]) -> String {
    let mut metadata = ferry_proto::tus::Metadata::new();
    metadata
        .insert("filename", "f.bin")
        .and_then(|m| m.insert("relativePath", path))
        .and_then(|m| m.insert("sha1", sha1_hex(bytes)))
        .unwrap();
    metadata.encode()
}

/// Bytes the server holds of round `round`: unfinished uploads and the round's stored files.
fn held_bytes(data_dir: &Path, round: u64) -> u64 {
    let size_of = |dir: PathBuf| -> u64 {
        std::fs::read_dir(dir).map_or(0, |entries| {
            entries
                .filter_map(Result::ok)
                .filter_map(|e| e.metadata().ok())
                .filter(std::fs::Metadata::is_file)
                .map(|m| m.len())
                .sum()
        })
    };
    size_of(data_dir.join("uploads")) + size_of(data_dir.join(format!("files/ann/r{round}")))
}

/// Every listed file matches its bytes on disk and the content sent to its path.
async fn check_listing(ctx: &Ctx, root: &Path, contents: &BTreeMap<String, Vec<u8>>, when: &str) {
    for entry in ctx.listed().await {
        let path = entry["path"].as_str().unwrap();
        let on_disk = std::fs::read(root.join(path))
            .unwrap_or_else(|e| panic!("{when}: {path} is listed but not on disk: {e}"));
        assert_eq!(entry["size"], on_disk.len(), "{when}: {path}'s listed size");
        assert_eq!(
            entry["sha1"],
            sha1_hex(&on_disk),
            "{when}: {path}'s listed sha1 is its bytes'"
        );
        let sent = contents
            .get(path)
            .unwrap_or_else(|| panic!("{when}: {path} was never sent"));
        assert!(
            on_disk == *sent,
            "{when}: {path} holds exactly what was sent"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_killed_at_any_moment_while_uploads_finish_keeps_disk_and_listing_agreeing() {
    let work = tempfile::tempdir().unwrap();
    let data_dir = work.path().join("data");
    command(
        &["user", "add", "ann", "--password-stdin"],
        &data_dir,
        "pw\n",
    );
    let token = command(&["token", "issue", "ann"], &data_dir, "")
        .trim()
        .to_owned();
    let port = ferry_tests::server::free_port();
    let ctx = Ctx {
        base: format!("http://127.0.0.1:{port}"),
        token,
        http: reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()
            .unwrap(),
        learned: Arc::default(),
    };
    let root: PathBuf = data_dir.join("files/ann");
    let mut contents = BTreeMap::new();
    for round in 0..ROUNDS {
        let server = serve(&data_dir, port);
        let mut jobs = Vec::new();
        let sizes = [1_500_000, 600_000, 2_200_000, 1_400_001, 900_000];
        for (i, size) in sizes.into_iter().enumerate() {
            let path = format!("r{round}/f{i}.bin");
            let bytes = data(size, round * 10 + i as u64);
            contents.insert(path.clone(), bytes.clone());
            let ctx = ctx.clone();
            jobs.push(tokio::spawn(async move {
                match i {
                    0..=2 => ctx.tus_single(&path, &bytes).await,
                    3 => ctx.concat(&path, &bytes).await,
                    _ => ctx.galileo(&path, &bytes, None).await,
                }
            }));
        }
        // Moments spread from early in the bodies to the finishing of the uploads: the kill
        // comes once the server holds this share of the round's bytes (or all is done).
        let total: u64 = sizes.iter().map(|&n| n as u64).sum();
        let share = (2 * round + 1) * 100 / (2 * ROUNDS);
        let at = total * share / 100;
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        while held_bytes(&data_dir, round) < at
            && !jobs.iter().all(tokio::task::JoinHandle::is_finished)
        {
            assert!(
                std::time::Instant::now() < deadline,
                "round {round}: the uploads never got to {at} bytes"
            );
            // A poll of the data directory, paced so the server keeps the cores.
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        drop(server); // SIGKILL
        for job in jobs {
            let _ = job.await;
        }

        let server = serve(&data_dir, port);
        let when = format!("round {round}, killed at {share}% of its bytes");
        check_listing(
            &ctx,
            &root,
            &contents,
            &format!("{when}, after the restart"),
        )
        .await;
        // Every upload the client learned of goes on to completion.
        resume_round(&ctx, &data_dir, round, &contents, &when).await;
        check_listing(&ctx, &root, &contents, &format!("{when}, after resuming")).await;
        drop(server);
    }
}

/// Resumes every upload of round `round` that the client had learned of and that is not
/// listed yet, to completion; then each is listed.
async fn resume_round(
    ctx: &Ctx,
    data_dir: &Path,
    round: u64,
    contents: &BTreeMap<String, Vec<u8>>,
    when: &str,
) {
    let learned = ctx.learned.lock().unwrap().clone();
    let listed_now = ctx.listed().await;
    for (path, what) in learned
        .iter()
        .filter(|(p, _)| p.starts_with(&format!("r{round}/")))
    {
        let bytes = &contents[path];
        if listed_now.iter().any(|e| e["path"] == path.as_str()) {
            // Finished before the crash (and checked above).
            continue;
        }
        let done = match what {
            Learned::Tus(url) => ctx.patch_rest(url, bytes).await,
            Learned::Concat(parts) if parts.len() == 2 => {
                // A final asked for before the crash is joined once its parts are all
                // complete: a HEAD on the last one may finish it (and remove the parts).
                let mut ok = Some(());
                for (range, url) in parts {
                    ok = ok.and(ctx.patch_rest(url, &bytes[range.clone()]).await);
                    if ok.is_none() && ctx.is_listed(path).await {
                        break;
                    }
                }
                match ok {
                    Some(()) => ctx.final_post(path, bytes, parts).await.map(|_| ()),
                    None if ctx.is_listed(path).await => Some(()),
                    None => None,
                }
            }
            Learned::Concat(_) => continue,
            Learned::Galileo(id) => ctx.galileo(path, bytes, Some(id.clone())).await,
        };
        if done.is_none() {
            eprintln!("uploads:\n{}", dump_uploads(data_dir));
        }
        assert!(
            done.is_some(),
            "{when}: {path} ({what:?}) resumes to completion"
        );
    }
    let listed = ctx.listed().await;
    for path in learned
        .keys()
        .filter(|p| p.starts_with(&format!("r{round}/")))
    {
        if matches!(learned[path], Learned::Concat(ref parts) if parts.len() < 2) {
            continue;
        }
        assert!(
            listed.iter().any(|e| e["path"] == path.as_str()),
            "{when}: {path} is listed once resumed"
        );
    }
}

/// The server's upload rows, for a failure message.
fn dump_uploads(data_dir: &Path) -> String {
    let db = rusqlite::Connection::open(data_dir.join("server.db")).unwrap();
    let mut stmt = db
        .prepare("SELECT id, concat, received, length, completed_at, path FROM uploads")
        .unwrap();
    stmt.query_map([], |r| {
        Ok(format!(
            "{} {:?} {} {:?} {:?} {:?}",
            r.get::<_, String>(0)?,
            r.get::<_, Option<String>>(1)?,
            r.get::<_, i64>(2)?,
            r.get::<_, Option<i64>>(3)?,
            r.get::<_, Option<i64>>(4)?,
            r.get::<_, Option<String>>(5)?
        ))
    })
    .unwrap()
    .map(Result::unwrap)
    .collect::<Vec<_>>()
    .join("\n")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_uploads_finishing_to_one_path_at_once_leave_disk_and_listing_agreeing() {
    let server = crate::support::TestServer::start().await;
    let ctx = Ctx {
        base: server.base.clone(),
        token: server.ann.clone(),
        http: reqwest::Client::new(),
        learned: Arc::default(),
    };
    for round in 0..20u64 {
        let path = "same/place.bin";
        let contents = [data(300_000, round * 2), data(300_000, round * 2 + 1)];
        // Both uploads hold every byte but the last; then both last bytes go at once.
        let mut urls = Vec::new();
        for bytes in &contents {
            let url = ctx
                .create(bytes.len(), Some((path, bytes)), false)
                .await
                .unwrap();
            ctx.patch_rest(&url, &bytes[..bytes.len() - 1]).await;
            urls.push(url);
        }
        let last = |i: usize| {
            let (ctx, url, bytes) = (ctx.clone(), urls[i].clone(), contents[i].clone());
            async move {
                ctx.tus(reqwest::Method::PATCH, &url)
                    .header("Upload-Offset", (bytes.len() - 1).to_string())
                    .header("Content-Type", "application/offset+octet-stream")
                    .body(bytes[bytes.len() - 1..].to_vec())
                    .send()
                    .await
                    .unwrap()
                    .status()
            }
        };
        let (a, b) = tokio::join!(last(0), last(1));
        assert!(a.is_success() && b.is_success(), "both finish: {a}, {b}");
        let on_disk = std::fs::read(server.file("ann", path)).unwrap();
        let entry = ctx
            .listed()
            .await
            .into_iter()
            .find(|e| e["path"] == path)
            .expect("listed");
        assert_eq!(
            entry["sha1"],
            sha1_hex(&on_disk),
            "round {round}: the listing names the bytes on disk"
        );
        assert!(
            contents.contains(&on_disk),
            "round {round}: one of the two, never a mix"
        );
    }
}
