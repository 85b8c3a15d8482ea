//! The kill matrix: `ferry upload --parallel 3` and `ferry sync --once` of files of 64 MiB
//! and more (parallel partial uploads joined by a final one), SIGKILLed at each step of the
//! plan, then run again. A fault proxy between Ferry and a real `ferry-server` freezes the
//! traffic at the chosen step (a byte count while the partial uploads stream, the final
//! upload's POST before or after the server got it, the verification's listing), so the
//! kill lands exactly there.
//!
//! After every re-run: it succeeded; the history says uploaded and verified by the
//! server's sha1; the server lists the file with the right size and sha1 and holds those
//! bytes; one final upload was made for it, never two; and the bytes sent over both runs
//! exceed the file by at most one chunk per partial upload in flight at the kill.

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use ferry_tests::proxy::{FaultProxy, Freeze};
use ferry_tests::server::random_file;

use crate::restart::{ferry_server, serve};
use crate::support::{
    Listening, Running, assert_success, ferry_command, run_bounded, sha1, stdout, wait_until,
};

const SIZE: usize = 64 << 20;
/// `ferry upload`'s chunk size here; folder sync uses the default, 8 MiB.
const CHUNK: u64 = 1 << 20;
const SYNC_CHUNK: u64 = 8 << 20;
const PARALLEL: u64 = 3;

/// Where the kill lands.
#[derive(Debug, Clone, Copy)]
enum Step {
    /// After this share (in percent) of the file went upstream: partial uploads in flight.
    Streaming(u64),
    /// The final upload's POST is about to go out: every partial upload is complete.
    FinalRequested,
    /// The server got the final upload's POST (and publishes the file); its answer is held.
    FinalAnswered,
    /// The verification's listing is about to go out.
    VerificationAsked,
    /// The server answered the verification's listing; the answer is held.
    VerificationAnswered,
}

const STEPS: [Step; 8] = [
    Step::Streaming(5),
    Step::Streaming(40),
    Step::Streaming(80),
    Step::Streaming(99),
    Step::FinalRequested,
    Step::FinalAnswered,
    Step::VerificationAsked,
    Step::VerificationAnswered,
];

/// A real ferry-server process with user ann, behind a fault proxy.
struct Rig {
    work: tempfile::TempDir,
    data: PathBuf,
    token: String,
    server: Listening,
    proxy: FaultProxy,
    /// `http://127.0.0.1:PORT` of the proxy: what Ferry is told the server is.
    url: String,
    runtime: tokio::runtime::Runtime,
}

impl Rig {
    fn start() -> Self {
        let work = tempfile::tempdir().unwrap();
        let data = work.path().join("server-data");
        ferry_server(&["user", "add", "ann", "--password-stdin"], &data, "pw\n");
        let token = ferry_server(&["token", "issue", "ann"], &data, "")
            .trim()
            .to_owned();
        let port = ferry_tests::server::free_port();
        let server = serve(&data, port);
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let target = format!("127.0.0.1:{port}").parse().unwrap();
        let proxy = runtime.block_on(FaultProxy::start(target)).unwrap();
        let url = format!("http://{}", proxy.addr());
        Self {
            work,
            data,
            token,
            server,
            proxy,
            url,
            runtime,
        }
    }

    /// Arms the proxy to freeze at `step` (counting from now).
    fn arm(&self, step: Step) {
        match step {
            Step::Streaming(percent) => self
                .proxy
                .freeze_at(self.proxy.upstream_bytes() + SIZE as u64 * percent / 100),
            Step::FinalRequested => self
                .proxy
                .freeze_on(b"Upload-Concat: final", Freeze::Before),
            Step::FinalAnswered => self.proxy.freeze_on(b"Upload-Concat: final", Freeze::After),
            Step::VerificationAsked => self
                .proxy
                .freeze_on(b"GET /api/v1/files?path=", Freeze::Before),
            Step::VerificationAnswered => self
                .proxy
                .freeze_on(b"GET /api/v1/files?path=", Freeze::After),
        }
    }

    /// What the server lists at `path` (asked directly, not through the proxy).
    fn listed(&self, path: &str) -> Option<serde_json::Value> {
        let url = format!("{}/api/v1/files", self.server.url);
        let token = self.token.clone();
        let path = path.to_owned();
        self.runtime.block_on(async move {
            let reply = reqwest::Client::new()
                .get(url)
                .query(&[("path", path.as_str())])
                .bearer_auth(token)
                .send()
                .await
                .ok()?;
            let files: Vec<serde_json::Value> = reply.json().await.ok()?;
            files.into_iter().find(|f| f["path"] == path.as_str())
        })
    }

    /// Final uploads the server made for `path`.
    fn finals(&self, path: &str) -> i64 {
        let db = rusqlite::Connection::open_with_flags(
            self.data.join("server.db"),
            rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
        )
        .unwrap();
        db.query_row(
            "SELECT COUNT(*) FROM uploads WHERE concat = 'final' AND path = ?1",
            [path],
            |r| r.get(0),
        )
        .unwrap()
    }
}

/// What is run, killed and run again.
#[derive(Debug, Clone, Copy)]
enum Mode {
    Upload,
    SyncOnce,
}

/// One cell of the matrix: a scratch home and a file of its own.
struct Cell {
    home: PathBuf,
    file: PathBuf,
    remote: String,
    bytes: Vec<u8>,
}

impl Cell {
    fn new(rig: &Rig, mode: Mode, index: usize) -> Self {
        let root = rig.work.path().join(format!("cell-{index}"));
        let folder = root.join("Videos");
        std::fs::create_dir_all(&folder).unwrap();
        let name = format!("clip-{index}.bin");
        let (file, bytes) = random_file(&folder, &name, SIZE, 1000 + index as u64);
        let home = root.join("home");
        let remote = match mode {
            Mode::Upload => name,
            Mode::SyncOnce => {
                let folder = folder.to_str().unwrap();
                let out = run_bounded(
                    "ferry folder add",
                    ferry_command(
                        &home,
                        Some(&rig.token),
                        &[
                            "folder", "add", folder, "--server", &rig.url, "--remote", "videos",
                        ],
                    ),
                    Duration::from_secs(30),
                );
                assert_success("ferry folder add", &out);
                format!("videos/{name}")
            }
        };
        Self {
            home,
            file,
            remote,
            bytes,
        }
    }

    fn command(&self, rig: &Rig, mode: Mode) -> Command {
        let chunk = CHUNK.to_string();
        match mode {
            Mode::Upload => ferry_command(
                &self.home,
                Some(&rig.token),
                &[
                    "upload",
                    self.file.to_str().unwrap(),
                    "--server",
                    &rig.url,
                    "--parallel",
                    "3",
                    "--chunk-size",
                    &chunk,
                ],
            ),
            Mode::SyncOnce => ferry_command(
                &self.home,
                Some(&rig.token),
                &["sync", "--once", "--quiet-ms", "0"],
            ),
        }
    }

    /// The bytes the journal records as confirmed by the server: those of its open upload,
    /// or the whole file once it is recorded as uploaded.
    fn journal_confirmed(&self) -> u64 {
        let journal = self.home.join("journal.db");
        if self.history().iter().any(|h| h["outcome"] == "uploaded") {
            return SIZE as u64;
        }
        if !journal.exists() {
            return 0;
        }
        let db = rusqlite::Connection::open_with_flags(
            journal,
            rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
        )
        .unwrap();
        db.query_row("SELECT COALESCE(SUM(confirmed), 0) FROM uploads", [], |r| {
            r.get::<_, i64>(0)
        })
        .map_or(0, |n| u64::try_from(n).unwrap_or(0))
    }

    /// `ferry --json history`, newest first.
    fn history(&self) -> Vec<serde_json::Value> {
        let out = ferry_command(&self.home, None, &["--json", "history"])
            .output()
            .unwrap();
        serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("history is JSON ({e}): {}", stdout(&out)))
    }
}

fn run_matrix(mode: Mode) {
    let rig = Rig::start();
    for (index, step) in STEPS.into_iter().enumerate() {
        let cell = Cell::new(&rig, mode, index);
        rig.arm(step);
        let mut first = Running::spawn("the run that is killed", cell.command(&rig, mode));
        // Generous: a 64 MiB upload of a debug build on a loaded 2-core machine (CI runs
        // it beside the other tests) can take minutes to reach the later steps.
        let reached = wait_until(Duration::from_secs(240), || {
            rig.proxy.frozen() || !first.running()
        });
        assert!(
            reached && rig.proxy.frozen(),
            "{mode:?} never reached {step:?}\n{}",
            first.dump()
        );
        if matches!(step, Step::FinalAnswered) {
            // The server finishes what it was asked while the answer is held.
            assert!(
                wait_until(Duration::from_secs(30), || rig
                    .listed(&cell.remote)
                    .is_some()),
                "the server published {} after the final upload's POST",
                cell.remote
            );
        }
        // SIGKILL: the journal is left exactly as this instant left it.
        let killed = first.dump();
        let confirmed = cell.journal_confirmed();
        rig.proxy.thaw();
        let before = rig.proxy.upstream_bytes();
        let history = cell.history();
        let claimed = history.iter().any(|h| h["outcome"] == "uploaded");
        if claimed {
            assert!(
                rig.listed(&cell.remote).is_some(),
                "{mode:?} killed at {step:?}: the history says uploaded, the server lists nothing"
            );
        }

        let again = run_bounded(
            "the run after the kill",
            cell.command(&rig, mode),
            Duration::from_secs(120),
        );
        assert_success(
            &format!("{mode:?} run again after a kill at {step:?}"),
            &again,
        );

        let history = cell.history();
        let entry = history
            .iter()
            .find(|h| h["outcome"] == "uploaded")
            .unwrap_or_else(|| panic!("{mode:?} at {step:?}: no uploaded entry in {history:#?}"));
        assert_eq!(
            entry["verification"], "sha1-by-server",
            "{mode:?} at {step:?}: verified by the server's listing: {entry:#?}"
        );
        let listed = rig.listed(&cell.remote).unwrap_or_else(|| {
            panic!("{mode:?} at {step:?}: the history says uploaded, the server lists nothing")
        });
        assert_eq!(listed["size"], SIZE, "{mode:?} at {step:?}");
        assert_eq!(listed["sha1"], sha1(&cell.bytes), "{mode:?} at {step:?}");
        assert_eq!(
            std::fs::read(rig.data.join("files/ann").join(&cell.remote)).unwrap(),
            cell.bytes,
            "{mode:?} at {step:?}: the stored bytes are the file's"
        );
        assert_eq!(
            rig.finals(&cell.remote),
            1,
            "{mode:?} at {step:?}: one final upload, never a second one"
        );
        // The run after the kill sends what the journal had not seen confirmed, and at most
        // one chunk per partial upload in flight at the kill besides (its answer was lost),
        // plus room for headers. Once every part was confirmed, no file byte goes again.
        let sent = rig.proxy.upstream_bytes() - before;
        let chunk = match mode {
            Mode::Upload => CHUNK,
            Mode::SyncOnce => SYNC_CHUNK,
        };
        let in_flight = if confirmed == SIZE as u64 {
            0
        } else {
            PARALLEL * chunk
        };
        let allowed = SIZE as u64 - confirmed + in_flight + (256 << 10);
        assert!(
            sent <= allowed,
            "{mode:?} at {step:?}: {sent} bytes went up after the kill, with {confirmed} of {SIZE} \
             confirmed in the journal (at most {allowed}): confirmed bytes were sent again\n\
             --- the killed run\n{killed}\n--- the run after it\n{}",
            String::from_utf8_lossy(&again.stderr)
        );
    }
}

#[test]
fn ferry_upload_parallel_killed_at_every_step_of_the_plan_records_only_what_the_server_holds() {
    run_matrix(Mode::Upload);
}

#[test]
fn ferry_sync_once_killed_at_every_step_of_a_large_file_records_only_what_the_server_holds() {
    run_matrix(Mode::SyncOnce);
}

impl Rig {
    /// Partial uploads the server holds (of any file).
    fn partials(&self) -> i64 {
        let db = rusqlite::Connection::open_with_flags(
            self.data.join("server.db"),
            rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
        )
        .unwrap();
        db.query_row(
            "SELECT COUNT(*) FROM uploads WHERE concat = 'partial'",
            [],
            |r| r.get(0),
        )
        .unwrap()
    }
}

#[test]
fn partial_uploads_of_a_plan_that_will_not_be_continued_are_terminated() {
    let rig = Rig::start();
    let cell = Cell::new(&rig, Mode::Upload, 0);
    rig.arm(Step::Streaming(40));
    let mut first = Running::spawn("the run that is killed", cell.command(&rig, Mode::Upload));
    let reached = wait_until(Duration::from_secs(60), || {
        rig.proxy.frozen() || !first.running()
    });
    assert!(reached && rig.proxy.frozen(), "{}", first.dump());
    first.dump();
    rig.proxy.thaw();
    assert!(rig.partials() > 0, "the killed run left partial uploads");

    // The file changes before the next run: the plan for the old content is given up.
    let (_, bytes) = random_file(
        cell.file.parent().unwrap(),
        cell.file.file_name().unwrap().to_str().unwrap(),
        SIZE,
        4242,
    );
    let again = run_bounded(
        "the run after the change",
        cell.command(&rig, Mode::Upload),
        Duration::from_secs(120),
    );
    assert_success("ferry upload of the changed file", &again);
    assert_eq!(
        std::fs::read(rig.data.join("files/ann").join(&cell.remote)).unwrap(),
        bytes,
        "the new content is stored"
    );
    assert_eq!(
        rig.partials(),
        0,
        "the old content's partial uploads were terminated, the new ones joined"
    );
}
