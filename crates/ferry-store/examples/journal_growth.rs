//! How big the journal and its write-ahead log get: records `FERRY_JOURNAL_UPLOADS` (default
//! 100,000) uploads the way the engine does (file row, upload row, four progress writes, the
//! finish that moves it to the history), each write its own transaction, then prints the
//! sizes of the journal and its WAL, every 10,000 uploads and at the end. The journal goes in
//! a temporary directory under `FERRY_JOURNAL_DIR` (default: the system's; sizes do not
//! depend on the disk, only the time does). For `docs/benchmarks.md`; not a test.

use std::path::Path;

use ferry_proto::Protocol;
use ferry_store::{
    FileFacts, FileState, FinalUpload, Journal, NewUpload, PartRecord, Progress, Verification,
};

fn size(path: &Path) -> u64 {
    std::fs::metadata(path).map_or(0, |m| m.len())
}

#[expect(
    clippy::cast_precision_loss,
    reason = "sizes of a few MiB, shown to one decimal"
)]
fn mib(bytes: u64) -> f64 {
    bytes as f64 / 1_048_576.0
}

fn main() {
    let uploads: u64 = std::env::var("FERRY_JOURNAL_UPLOADS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    let dir = match std::env::var_os("FERRY_JOURNAL_DIR") {
        Some(base) => tempfile::tempdir_in(base),
        None => tempfile::tempdir(),
    }
    .expect("a temporary directory");
    let path = dir.path().join("journal.sqlite");
    let wal = dir.path().join("journal.sqlite-wal");
    let mut journal = Journal::open(&path).expect("the journal opens");
    let account = journal
        .account("https://files.example/", "ann")
        .expect("an account");
    let started = std::time::Instant::now();
    let mut wal_max = 0;
    for i in 0..uploads {
        let facts = FileFacts {
            size: 4096,
            mtime_ns: 1_700_000_000_000_000_000 + i64::try_from(i).unwrap_or(0),
            inode: i,
        };
        let local = format!("/home/ann/Documents/batch-{}/file-{i}.txt", i / 1000);
        let sha1 = format!("{i:040x}");
        let file = journal
            .upsert_file(None, &local, facts, Some(&sha1), FileState::Pending)
            .expect("a file row");
        let upload = journal
            .start_upload(&NewUpload {
                file: file.id,
                account: account.id,
                protocol: Protocol::Tus,
                endpoint: "https://files.example/files/".into(),
                remote_path: local.trim_start_matches('/').into(),
                facts,
                sha1,
                chunk_size: 1024,
                concatenated: false,
                parts: vec![PartRecord {
                    idx: 0,
                    start: 0,
                    len: Some(4096),
                    location: None,
                    confirmed: 0,
                    expires_at: None,
                }],
                final_upload: FinalUpload::default(),
            })
            .expect("an upload row");
        let location = format!("https://files.example/files/{i:032x}");
        for confirmed in [0, 1024, 2048, 3072] {
            let progress = Progress {
                concatenated: false,
                parts: vec![PartRecord {
                    idx: 0,
                    start: 0,
                    len: Some(4096),
                    location: Some(location.clone()),
                    confirmed,
                    expires_at: None,
                }],
                final_upload: FinalUpload::default(),
            };
            journal
                .record_progress(upload.id, &progress)
                .expect("progress");
        }
        journal
            .finish_upload(
                upload.id,
                Some(&location),
                4096,
                Verification::ChunkChecksums,
            )
            .expect("the finish");
        wal_max = wal_max.max(size(&wal));
        if (i + 1) % 10_000 == 0 || i + 1 == uploads {
            println!(
                "{:>7} uploads: journal {:>6.1} MiB, WAL {:>5.1} MiB (largest so far {:.1} MiB), {:.0} s",
                i + 1,
                mib(size(&path)),
                mib(size(&wal)),
                mib(wal_max),
                started.elapsed().as_secs_f64()
            );
        }
    }
}
