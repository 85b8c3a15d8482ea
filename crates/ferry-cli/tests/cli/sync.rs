//! Folder sync as a user runs it: `ferry folder add`, then `ferry sync` in the background or
//! `ferry sync --once`, against a real ferry-server; the server's tree is compared with the
//! disk, file by file and sha1 by sha1.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use ferry_tests::server::{TestServer, files_under, random_file};

use crate::support::{
    Running, assert_success, ferry_command, run_bounded, sha1, signal, wait_until,
};

/// A scratch home with `dir` synced to `server` for ann.
pub(crate) struct Synced {
    _work: tempfile::TempDir,
    pub(crate) home: PathBuf,
    pub(crate) dir: PathBuf,
    token: String,
}

impl Synced {
    pub(crate) fn new(server: &TestServer, remote: Option<&str>) -> Self {
        let work = tempfile::tempdir().unwrap();
        let home = work.path().join("home");
        let dir = work.path().join("Documents");
        std::fs::create_dir_all(&dir).unwrap();
        let mut args = vec![
            "folder",
            "add",
            dir.to_str().unwrap(),
            "--server",
            &server.base,
        ];
        if let Some(remote) = remote {
            args.extend(["--remote", remote]);
        }
        let out = run_bounded(
            "ferry folder add",
            ferry_command(&home, None, &args),
            Duration::from_secs(30),
        );
        assert_success("ferry folder add", &out);
        Self {
            _work: work,
            home,
            dir: std::fs::canonicalize(&dir).unwrap(),
            token: server.ann.clone(),
        }
    }

    pub(crate) fn command(&self, args: &[&str]) -> std::process::Command {
        ferry_command(&self.home, Some(&self.token), args)
    }

    /// Runs `ferry --json sync --once` and returns its summary (its last line).
    fn once(&self) -> serde_json::Value {
        let out = run_bounded(
            "ferry sync --once",
            self.command(&["--json", "sync", "--once"]),
            Duration::from_secs(120),
        );
        assert_success("ferry sync --once", &out);
        let text = String::from_utf8_lossy(&out.stdout);
        let last = text.lines().last().unwrap_or_default();
        serde_json::from_str(last).unwrap_or_else(|e| panic!("no summary ({e}) in:\n{text}"))
    }

    /// Starts `ferry sync` with a short quiet period.
    pub(crate) fn start(&self, quiet_ms: u64, env: &[(&str, &str)]) -> Running {
        let quiet = quiet_ms.to_string();
        let mut command = self.command(&["sync", "--quiet-ms", &quiet]);
        for (k, v) in env {
            command.env(k, v);
        }
        Running::spawn("ferry sync", command)
    }

    pub(crate) fn write(&self, rel: &str, bytes: &[u8]) {
        let path = self.dir.join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, bytes).unwrap();
    }

    /// `ferry --json status`.
    pub(crate) fn status(&self) -> serde_json::Value {
        let out = run_bounded(
            "ferry status",
            self.command(&["--json", "status"]),
            Duration::from_secs(30),
        );
        assert_success("ferry status", &out);
        serde_json::from_slice(&out.stdout).unwrap()
    }
}

/// Relative path -> sha1 of every file under `root`, except those `skip` says to.
fn tree(root: &Path, skip: impl Fn(&Path) -> bool) -> BTreeMap<String, String> {
    files_under(root)
        .into_iter()
        .filter(|p| !skip(p))
        .map(|p| {
            let bytes = std::fs::read(root.join(&p)).unwrap_or_default();
            (p.to_string_lossy().into_owned(), sha1(&bytes))
        })
        .collect()
}

fn server_tree(server: &TestServer, prefix: &str) -> BTreeMap<String, String> {
    tree(&server.file("ann", prefix), |_| false)
}

/// Stops a `ferry sync` with SIGTERM and checks that it ended well.
pub(crate) fn stop(sync: Running) {
    signal("TERM", sync.id());
    let out = sync.finish(Duration::from_secs(30));
    assert_success("ferry sync, stopped with SIGTERM", &out);
}

/// Waits until the server holds exactly what is on disk under the synced folder.
fn await_same(server: &TestServer, synced: &Synced, sync: &mut Running, prefix: &str) {
    let mut last = (BTreeMap::new(), BTreeMap::new());
    let same = wait_until(Duration::from_secs(60), || {
        last = (tree(&synced.dir, |_| false), server_tree(server, prefix));
        last.0 == last.1
    });
    assert!(
        same,
        "the server never matched the disk.\ndisk:   {:?}\nserver: {:?}\n{}",
        last.0,
        last.1,
        sync.dump()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sync_keeps_the_server_tree_equal_to_the_folder_through_every_kind_of_change() {
    let server = TestServer::start().await;
    let synced = Synced::new(&server, Some("docs"));
    synced.write("a.txt", b"first version");
    synced.write("old-name.txt", b"to be renamed");
    synced.write("doomed.txt", b"to be deleted locally");
    let mut sync = synced.start(700, &[]);
    await_same(&server, &synced, &mut sync, "docs");

    // A file written bit by bit, more often than the quiet period: never sent half-done.
    let growing = synced.dir.join("growing.log");
    let mut content = Vec::new();
    for i in 0..12u8 {
        content.extend(std::iter::repeat_n(b'a' + i, 4096));
        std::fs::write(&growing, &content).unwrap();
        std::thread::sleep(Duration::from_millis(150));
    }
    synced.write("a.txt", b"second version, longer than the first");
    std::fs::rename(
        synced.dir.join("old-name.txt"),
        synced.dir.join("new-name.txt"),
    )
    .unwrap();
    std::fs::remove_file(synced.dir.join("doomed.txt")).unwrap();
    synced.write("new/deeper/inside.bin", &[7u8; 10_000]);
    synced.write("new/beside.txt", b"beside");

    // Deleted and renamed-away files stay on the server (uploads are one-way).
    let wanted = || {
        let mut disk = tree(&synced.dir, |_| false);
        disk.insert("doomed.txt".into(), sha1(b"to be deleted locally"));
        disk.insert("old-name.txt".into(), sha1(b"to be renamed"));
        disk
    };
    let same = wait_until(Duration::from_secs(60), || {
        server_tree(&server, "docs") == wanted()
    });
    assert!(
        same,
        "the server never matched.\nwanted: {:?}\nserver: {:?}\n{}",
        wanted(),
        server_tree(&server, "docs"),
        sync.dump()
    );
    stop(sync);

    let history = run_bounded(
        "ferry history",
        synced.command(&["--json", "history", "--limit", "100"]),
        Duration::from_secs(30),
    );
    assert_success("ferry history", &history);
    let rows: Vec<serde_json::Value> = serde_json::from_slice(&history.stdout).unwrap();
    let outcomes = |name: &str| -> Vec<String> {
        rows.iter()
            .filter(|r| r["local_path"].as_str().is_some_and(|p| p.ends_with(name)))
            .map(|r| r["outcome"].as_str().unwrap_or("").to_owned())
            .collect()
    };
    assert_eq!(
        outcomes("growing.log"),
        ["uploaded"],
        "the file written bit by bit was uploaded once, whole (history: {rows:?})"
    );
    let growing_row = rows
        .iter()
        .find(|r| {
            r["local_path"]
                .as_str()
                .is_some_and(|p| p.ends_with("growing.log"))
        })
        .unwrap();
    assert_eq!(growing_row["sha1"].as_str(), Some(sha1(&content).as_str()));
    assert!(
        outcomes("old-name.txt").contains(&"renamed".to_owned()),
        "{rows:?}"
    );
    assert!(
        outcomes("doomed.txt").contains(&"deleted".to_owned()),
        "{rows:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sync_once_after_changes_made_while_stopped_uploads_exactly_the_changed_files() {
    let server = TestServer::start().await;
    let synced = Synced::new(&server, None);
    for i in 0..6 {
        synced.write(&format!("f{i}.txt"), format!("file {i}").as_bytes());
    }
    let first = synced.once();
    assert_eq!(first["uploaded"], 6, "{first}");
    assert_eq!(server_tree(&server, ""), tree(&synced.dir, |_| false));

    synced.write("f1.txt", b"file 1, changed while Ferry was not running");
    synced.write("f4.txt", b"file 4, changed too");
    synced.write("sub/new.txt", b"a new file");
    let second = synced.once();
    assert_eq!(
        (second["uploaded"].as_u64(), second["unchanged"].as_u64()),
        (Some(3), Some(0)),
        "exactly the two changed files and the new one: {second}"
    );
    assert_eq!(server_tree(&server, ""), tree(&synced.dir, |_| false));
    let third = synced.once();
    assert_eq!(third["uploaded"], 0, "nothing changed since: {third}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn touching_a_thousand_unchanged_files_uploads_nothing() {
    let server = TestServer::start().await;
    let synced = Synced::new(&server, None);
    for i in 0..1000 {
        synced.write(
            &format!("d{}/f{i}.txt", i % 10),
            format!("content {i}").as_bytes(),
        );
    }
    let first = synced.once();
    assert_eq!(first["uploaded"], 1000, "{}", first["failed"]);
    let later = std::time::SystemTime::now() + Duration::from_secs(5);
    for path in files_under(&synced.dir) {
        let file = std::fs::File::options()
            .write(true)
            .open(synced.dir.join(path))
            .unwrap();
        file.set_modified(later).unwrap();
    }
    let second = synced.once();
    assert_eq!(
        (
            second["uploaded"].as_u64(),
            second["bytes_sent"].as_u64(),
            second["unchanged"].as_u64()
        ),
        (Some(0), Some(0), Some(1000)),
        "a touch costs nothing on the network: {second}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_sync_on_the_same_home_is_refused_with_a_clear_message() {
    let server = TestServer::start().await;
    let synced = Synced::new(&server, None);
    let mut first = synced.start(500, &[]);
    let running = wait_until(Duration::from_secs(20), || {
        !synced.status()["sync"].is_null()
    });
    assert!(
        running,
        "the first sync never reported itself running\n{}",
        first.dump()
    );
    let second = run_bounded(
        "second ferry sync",
        synced.command(&["sync"]),
        Duration::from_secs(30),
    );
    assert_eq!(second.status.code(), Some(1), "the second sync must fail");
    let said = String::from_utf8_lossy(&second.stderr);
    assert!(
        said.contains("already syncing") && said.contains(&first.id().to_string()),
        "the message names the other Ferry: {said}"
    );
    let once = run_bounded(
        "ferry sync --once beside it",
        synced.command(&["sync", "--once"]),
        Duration::from_secs(30),
    );
    assert_eq!(once.status.code(), Some(1), "--once is refused too");
    stop(first);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn when_the_watcher_fails_a_warning_shows_and_rescans_still_pick_up_changes() {
    let server = TestServer::start().await;
    let synced = Synced::new(&server, None);
    let mut sync = synced.start(
        300,
        &[
            ("FERRY_SIMULATE_WATCH_LIMIT", "1"),
            ("FERRY_RESCAN_SECS", "1"),
        ],
    );
    let mut status = serde_json::Value::Null;
    let warned = wait_until(Duration::from_secs(20), || {
        status = synced.status();
        status["folders"][0]["watcher"] == "rescanning"
    });
    assert!(
        warned,
        "ferry status never showed the fallback: {status}\n{}",
        sync.dump()
    );
    let warning = status["folders"][0]["warning"].as_str().unwrap_or_default();
    assert!(
        warning.contains("max_user_watches"),
        "the warning names the fix: {warning}"
    );

    synced.write("found-by-rescan.txt", b"no watcher told anyone about me");
    await_same(&server, &synced, &mut sync, "");
    stop(sync);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ignore_rules_and_defaults_are_honoured_and_ignoring_later_deletes_nothing() {
    let server = TestServer::start().await;
    let synced = Synced::new(&server, None);
    synced.write(".ferryignore", b"*.log\nbuild/\n");
    synced.write("keep.txt", b"kept, version 1");
    synced.write("debug.log", b"ignored by the user's rule");
    synced.write("build/out.o", b"ignored folder");
    synced.write(".DS_Store", b"ignored by default");
    synced.write("notes.txt.swp", b"vim swap file");
    synced.write("~$report.docx", b"office lock file");
    synced.write("movie.mkv.part", b"partial download");
    let first = synced.once();
    assert_eq!(first["uploaded"], 1, "only keep.txt: {first}");
    assert_eq!(
        server_tree(&server, "").into_keys().collect::<Vec<_>>(),
        ["keep.txt"]
    );

    synced.write(".ferryignore", b"*.log\nbuild/\nkeep.txt\n");
    synced.write("keep.txt", b"kept, version 2, now ignored");
    let second = synced.once();
    assert_eq!(second["uploaded"], 0, "{second}");
    assert_eq!(
        server_tree(&server, "").get("keep.txt"),
        Some(&sha1(b"kept, version 1")),
        "a file ignored later stays on the server as it was"
    );
}

/// Tried as a new user would: renaming a 5 MB file (and a folder of them) in a synced
/// folder sent all of it again. ferry-server copies content it already holds for the user
/// (`POST /api/v1/files/copy`): the renamed and the copied files land byte-identical, and
/// almost nothing goes over the wire. New content is still uploaded.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn renamed_moved_and_copied_files_are_not_sent_again() {
    let server = TestServer::start().await;
    let synced = Synced::new(&server, None);
    std::fs::create_dir_all(synced.dir.join("Photos")).unwrap();
    let (_, photo) = random_file(&synced.dir.join("Photos"), "IMG_0001.jpg", 5_000_000, 61);
    for i in 0..3u8 {
        synced.write(&format!("Videos/clip{i}.mp4"), &vec![i; 2_000_000]);
    }
    let first = synced.once();
    assert_eq!(first["uploaded"], 4, "{first}");

    std::fs::rename(
        synced.dir.join("Photos/IMG_0001.jpg"),
        synced.dir.join("Photos/Holiday.jpg"),
    )
    .unwrap();
    std::fs::rename(synced.dir.join("Videos"), synced.dir.join("Videos 2026")).unwrap();
    std::fs::copy(
        synced.dir.join("Photos/Holiday.jpg"),
        synced.dir.join("Backup of Holiday.jpg"),
    )
    .unwrap();
    synced.write("new.bin", &vec![7u8; 400_000]);
    let second = synced.once();
    assert_eq!(
        second["uploaded"], 6,
        "five copies and one new file: {second}"
    );
    let sent = second["bytes_sent"].as_u64().unwrap();
    assert!(
        (400_000..500_000).contains(&sent),
        "only the new file's bytes went up, not {sent} (11 MB of copies): {second}"
    );
    let on_server = server_tree(&server, "");
    for (path, bytes) in [
        ("Photos/Holiday.jpg", &photo),
        ("Backup of Holiday.jpg", &photo),
        ("Videos 2026/clip1.mp4", &vec![1u8; 2_000_000]),
    ] {
        assert_eq!(
            on_server.get(path),
            Some(&sha1(bytes)),
            "{path} on the server: {on_server:?}"
        );
    }
    assert_eq!(on_server.get("new.bin"), Some(&sha1(&vec![7u8; 400_000])));
    // Nothing is deleted on the server (uploads are one-way): the old names stay.
    assert!(on_server.contains_key("Photos/IMG_0001.jpg"));
    let history = run_bounded(
        "ferry history",
        synced.command(&["--json", "history", "--search", "Holiday"]),
        Duration::from_secs(30),
    );
    assert_success("ferry history", &history);
    let said = String::from_utf8_lossy(&history.stdout);
    assert!(
        said.contains("sha1-by-server") || said.contains("sha1 by server"),
        "verified by the server's listing: {said}"
    );
}
