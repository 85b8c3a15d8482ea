//! The journal's read queries for the desktop app: history filtered by outcome and folder,
//! bytes per day with empty days filled in, and file counts per state, all in SQL.

use ferry_proto::Protocol;
use ferry_store::{DayTotal, FileFacts, FileState, HistoryQuery, Journal, NewUpload, Outcome};

const DAY_MS: i64 = 86_400_000;

fn facts(size: u64) -> FileFacts {
    FileFacts {
        size,
        mtime_ns: 1_700_000_000_000_000_000,
        inode: 7,
    }
}

/// Uploads `local_path` (in `folder`, if any) through the journal and ends it with `outcome`.
fn ended(
    journal: &mut Journal,
    folder: Option<&str>,
    local_path: &str,
    size: u64,
    outcome: Outcome,
) {
    let account = journal.account("http://127.0.0.1:8080", "ann").unwrap();
    let folder_id = folder.map(|f| match journal.folder(f).unwrap() {
        Some(existing) => existing.id,
        None => journal.add_folder(f, account.id, "", None).unwrap().id,
    });
    let file = journal
        .upsert_file(
            folder_id,
            local_path,
            facts(size),
            Some("ab"),
            FileState::Pending,
        )
        .unwrap();
    let upload = journal
        .start_upload(&NewUpload {
            file: file.id,
            account: account.id,
            protocol: Protocol::Tus,
            endpoint: "http://127.0.0.1:8080/files/".into(),
            remote_path: local_path.into(),
            facts: facts(size),
            sha1: "ab".into(),
            chunk_size: 1024,
            concatenated: false,
            parts: Vec::new(),
            final_upload: ferry_store::FinalUpload::default(),
        })
        .unwrap();
    match outcome {
        Outcome::Uploaded => {
            journal
                .finish_upload(upload.id, None, size, ferry_store::Verification::ServerSha1)
                .unwrap();
        }
        other => {
            journal.end_upload(upload.id, other, size, "gone").unwrap();
        }
    }
}

#[test]
fn history_pages_filter_by_outcome_folder_and_search_together() {
    let mut journal = Journal::open_in_memory().unwrap();
    for i in 0..30 {
        let (folder, outcome) = match i % 3 {
            0 => (Some("/home/ann/Photos"), Outcome::Uploaded),
            1 => (Some("/home/ann/Docs"), Outcome::Uploaded),
            _ => (Some("/home/ann/Docs"), Outcome::Failed),
        };
        ended(&mut journal, folder, &format!("file-{i}.bin"), 10, outcome);
    }
    ended(
        &mut journal,
        None,
        "/tmp/one-shot.bin",
        10,
        Outcome::Uploaded,
    );

    let docs_failed = HistoryQuery {
        outcome: Some(Outcome::Failed),
        folder: Some("/home/ann/Docs".into()),
        limit: 4,
        ..HistoryQuery::default()
    };
    assert_eq!(journal.history_count(&docs_failed).unwrap(), 10);
    let page = journal.history(&docs_failed).unwrap();
    assert_eq!(page.len(), 4, "the page is cut at its limit");
    assert!(
        page.iter()
            .all(|e| e.outcome == Outcome::Failed && e.folder.as_deref() == Some("/home/ann/Docs")),
        "only failed rows of Docs: {page:?}"
    );
    assert_eq!(page[0].local_path, "file-29.bin", "newest first");

    let last = journal
        .history(&HistoryQuery {
            offset: 8,
            ..docs_failed.clone()
        })
        .unwrap();
    assert_eq!(last.len(), 2, "the last page holds the rest");

    let searched = HistoryQuery {
        search: Some("FILE-2".into()),
        folder: Some("/home/ann/Photos".into()),
        limit: 50,
        ..HistoryQuery::default()
    };
    // file-21, file-24, file-27 are in Photos; file-2* of other folders are not.
    assert_eq!(journal.history_count(&searched).unwrap(), 3);

    let everything = HistoryQuery {
        limit: 100,
        ..HistoryQuery::default()
    };
    assert_eq!(journal.history_count(&everything).unwrap(), 31);
    assert_eq!(journal.history(&everything).unwrap().len(), 31);
}

#[test]
fn bytes_per_day_count_uploads_only_and_fill_empty_days() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("journal.db");
    let mut journal = Journal::open(&path).unwrap();
    ended(&mut journal, None, "/a", 100, Outcome::Uploaded);
    ended(&mut journal, None, "/b", 20, Outcome::Uploaded);
    ended(&mut journal, None, "/c", 3, Outcome::Uploaded);
    ended(&mut journal, None, "/d", 5000, Outcome::Failed);

    // Noon UTC, so that the day is the same in every time zone from UTC-12 to UTC+11.
    let now = 1_767_268_800_000; // 2026-01-01T12:00:00Z
    let at = |local_path: &str, when: i64| {
        let conn = rusqlite::Connection::open(path.as_path()).unwrap();
        let changed = conn
            .execute(
                "UPDATE history SET finished_at_ms = ?2 WHERE local_path = ?1",
                rusqlite::params![local_path, when],
            )
            .unwrap();
        assert_eq!(changed, 1, "one history row for {local_path}");
    };
    at("/a", now);
    at("/b", now);
    at("/c", now - 3 * DAY_MS);
    at("/d", now);

    let days = journal.history_per_day(5, now).unwrap();
    let day = |day: &str, bytes, files| DayTotal {
        day: day.into(),
        bytes,
        files,
    };
    assert_eq!(
        days,
        vec![
            day("2025-12-28", 0, 0),
            day("2025-12-29", 3, 1),
            day("2025-12-30", 0, 0),
            day("2025-12-31", 0, 0),
            day("2026-01-01", 120, 2),
        ],
        "oldest first, one row a day, the failed upload not counted"
    );
    assert!(journal.history_per_day(0, now).unwrap().is_empty());
    assert_eq!(
        journal.history_per_day(1, now).unwrap(),
        vec![day("2026-01-01", 120, 2)]
    );
}

#[test]
fn file_counts_group_a_folders_files_by_state() {
    let journal = Journal::open_in_memory().unwrap();
    let account = journal.account("http://127.0.0.1:8080", "ann").unwrap();
    let folder = journal
        .add_folder("/home/ann/Docs", account.id, "", None)
        .unwrap();
    let other = journal
        .add_folder("/home/ann/Other", account.id, "", None)
        .unwrap();
    let states = [
        FileState::Pending,
        FileState::Pending,
        FileState::Uploading,
        FileState::Uploaded,
        FileState::Uploaded,
        FileState::Uploaded,
        FileState::Failed,
        FileState::Deleted,
    ];
    for (i, state) in states.into_iter().enumerate() {
        journal
            .upsert_file(Some(folder.id), &format!("f{i}"), facts(1), None, state)
            .unwrap();
    }
    journal
        .upsert_file(
            Some(other.id),
            "elsewhere",
            facts(1),
            None,
            FileState::Pending,
        )
        .unwrap();
    let counts = journal.file_counts(folder.id).unwrap();
    assert_eq!(
        (
            counts.pending,
            counts.uploading,
            counts.uploaded,
            counts.failed,
            counts.deleted
        ),
        (2, 1, 3, 1, 1)
    );
    assert_eq!(counts.known(), 7, "deleted files are not counted as known");
}
