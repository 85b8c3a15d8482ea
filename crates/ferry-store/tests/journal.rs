//! The journal through its public API: lifecycles, persistence across reopening, searches,
//! and consistency after the process is killed at arbitrary moments.

use std::process::Command;
use std::time::Duration;

use ferry_proto::Protocol;
use ferry_store::{
    FileFacts, FileState, FinalUpload, HistoryQuery, Journal, NewUpload, Outcome, PartRecord,
    Progress, StoreError,
};

fn facts(size: u64) -> FileFacts {
    FileFacts {
        size,
        mtime_ns: 1_700_000_000_000_000_000,
        inode: 42,
    }
}

fn new_upload(journal: &Journal, path: &str, size: u64, parts: usize) -> NewUpload {
    let account = journal.account("http://127.0.0.1:8080", "ann").unwrap();
    let file = journal
        .upsert_file(None, path, facts(size), Some("ab12"), FileState::Pending)
        .unwrap();
    let each = size / parts as u64;
    NewUpload {
        file: file.id,
        account: account.id,
        protocol: Protocol::Tus,
        endpoint: "http://127.0.0.1:8080/files/".into(),
        remote_path: path.trim_start_matches('/').into(),
        facts: facts(size),
        sha1: "ab12".into(),
        chunk_size: 1024,
        concatenated: parts > 1,
        parts: (0..parts)
            .map(|i| PartRecord {
                idx: u32::try_from(i).unwrap(),
                start: each * i as u64,
                len: Some(if i + 1 == parts {
                    size - each * i as u64
                } else {
                    each
                }),
                location: None,
                confirmed: 0,
                expires_at: None,
            })
            .collect(),
        final_upload: ferry_store::FinalUpload::default(),
    }
}

/// What the server confirmed: `parts` of a concatenation, no final yet.
fn progress(parts: &[PartRecord]) -> Progress {
    Progress {
        concatenated: parts.len() > 1,
        parts: parts.to_vec(),
        final_upload: FinalUpload::default(),
    }
}

#[test]
fn an_upload_survives_reopening_and_finishing_moves_it_to_history() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("journal.db");
    let (file_id, upload_id) = {
        let mut journal = Journal::open(&path).unwrap();
        let upload = journal
            .start_upload(&new_upload(&journal, "/home/ann/k.bin", 3000, 3))
            .unwrap();
        let mut parts = upload.upload.parts.clone();
        for (i, part) in parts.iter_mut().enumerate() {
            part.location = Some(format!("http://127.0.0.1:8080/files/{i}"));
            part.confirmed = 500;
            part.expires_at = Some(1_700_000_100);
        }
        journal
            .record_progress(upload.id, &progress(&parts))
            .unwrap();
        // The final upload joining them was asked for, and the server answered.
        let asked = Progress {
            final_upload: FinalUpload {
                requested: true,
                location: Some("http://127.0.0.1:8080/files/final".into()),
            },
            ..progress(&parts)
        };
        journal.record_progress(upload.id, &asked).unwrap();
        assert_eq!(
            journal
                .file_by_id(upload.upload.file)
                .unwrap()
                .unwrap()
                .state,
            FileState::Uploading
        );
        (upload.upload.file, upload.id)
    };
    let mut journal = Journal::open(&path).unwrap();
    let resumed = journal
        .upload_for_file(file_id)
        .unwrap()
        .expect("the upload is still there");
    assert_eq!(resumed.id, upload_id);
    assert_eq!(resumed.confirmed, 1500);
    assert!(resumed.upload.concatenated);
    assert_eq!(resumed.upload.parts.len(), 3);
    assert_eq!(
        resumed.upload.final_upload,
        FinalUpload {
            requested: true,
            location: Some("http://127.0.0.1:8080/files/final".into())
        },
        "the final upload is part of the plan the journal keeps"
    );
    assert_eq!(
        resumed.upload.parts[2].location.as_deref(),
        Some("http://127.0.0.1:8080/files/2")
    );
    assert_eq!(resumed.upload.parts[2].len, Some(1000));

    journal
        .record_failure(upload_id, "server unavailable (503)", Some(123))
        .unwrap();
    let failed = journal.upload_for_file(file_id).unwrap().unwrap();
    assert_eq!((failed.attempts, failed.next_retry_at_ms), (1, Some(123)));

    let entry = journal
        .finish_upload(
            upload_id,
            Some("http://127.0.0.1:8080/files/9"),
            3100,
            ferry_store::Verification::ServerSha1,
        )
        .unwrap();
    assert_eq!(entry.outcome, Outcome::Uploaded);
    assert_eq!(
        entry.verification,
        Some(ferry_store::Verification::ServerSha1)
    );
    assert_eq!((entry.size, entry.bytes_sent), (3000, 3100));
    assert_eq!(entry.server_url, "http://127.0.0.1:8080");
    assert_eq!(entry.remote_path, "home/ann/k.bin");
    assert!(entry.finished_at_ms >= entry.started_at_ms);
    assert!(
        journal.upload_for_file(file_id).unwrap().is_none(),
        "a finished upload leaves the uploads table"
    );
    let file = journal.file_by_id(file_id).unwrap().unwrap();
    assert_eq!(
        (file.state, file.uploaded_sha1.as_deref()),
        (FileState::Uploaded, Some("ab12"))
    );
    assert_eq!(journal.history(&HistoryQuery::default()).unwrap(), [entry]);
}

#[test]
fn ending_an_upload_records_why_and_sets_the_file_state() {
    let mut journal = Journal::open_in_memory().unwrap();
    for (path, outcome, state) in [
        ("/a", Outcome::Abandoned, FileState::Pending),
        ("/b", Outcome::Failed, FileState::Failed),
    ] {
        let upload = journal
            .start_upload(&new_upload(&journal, path, 10, 1))
            .unwrap();
        let entry = journal
            .end_upload(upload.id, outcome, 4, "the file changed during its upload")
            .unwrap();
        assert_eq!(
            entry.error.as_deref(),
            Some("the file changed during its upload")
        );
        assert_eq!(
            journal
                .file_by_id(upload.upload.file)
                .unwrap()
                .unwrap()
                .state,
            state
        );
        assert_eq!(
            journal
                .file_by_id(upload.upload.file)
                .unwrap()
                .unwrap()
                .uploaded_sha1,
            None
        );
    }
}

#[test]
fn a_new_upload_of_a_file_replaces_its_unfinished_one() {
    let mut journal = Journal::open_in_memory().unwrap();
    let first = journal
        .start_upload(&new_upload(&journal, "/f", 10, 1))
        .unwrap();
    let second = journal
        .start_upload(&new_upload(&journal, "/f", 20, 1))
        .unwrap();
    assert_ne!(first.id, second.id);
    let current = journal.upload_for_file(first.upload.file).unwrap().unwrap();
    assert_eq!((current.id, current.upload.facts.size), (second.id, 20));
}

#[test]
fn folders_are_unique_pausable_and_removal_keeps_history() {
    let mut journal = Journal::open_in_memory().unwrap();
    let account = journal.account("http://s", "ann").unwrap();
    assert_eq!(
        journal.account("http://s", "ann").unwrap(),
        account,
        "accounts are found, not duplicated"
    );
    let folder = journal
        .add_folder(
            "/home/ann/Photos",
            account.id,
            "photos",
            Some(Protocol::Galileo),
        )
        .unwrap();
    assert!(matches!(
        journal.add_folder("/home/ann/Photos", account.id, "", None),
        Err(StoreError::FolderExists(_))
    ));
    journal.set_folder_paused(folder.id, true).unwrap();
    assert!(journal.folder("/home/ann/Photos").unwrap().unwrap().paused);

    let file = journal
        .upsert_file(
            Some(folder.id),
            "2024/a.jpg",
            facts(5),
            None,
            FileState::Pending,
        )
        .unwrap();
    assert_eq!(
        journal.files_in(folder.id).unwrap(),
        std::slice::from_ref(&file)
    );
    let mut upload = new_upload(&journal, "/x", 5, 1);
    upload.file = file.id;
    let upload = journal.start_upload(&upload).unwrap();
    let entry = journal
        .finish_upload(upload.id, None, 5, ferry_store::Verification::ServerSha1)
        .unwrap();
    assert_eq!(entry.folder.as_deref(), Some("/home/ann/Photos"));

    assert!(journal.remove_folder("/home/ann/Photos").unwrap());
    assert!(!journal.remove_folder("/home/ann/Photos").unwrap());
    assert!(journal.files_in(folder.id).unwrap().is_empty());
    let kept = journal.history(&HistoryQuery::default()).unwrap();
    assert_eq!(kept.len(), 1, "history outlives the folder");
    assert_eq!(kept[0].folder, None);
}

#[test]
fn history_is_searched_and_paged_in_sql() {
    let mut journal = Journal::open_in_memory().unwrap();
    for i in 0..120 {
        let name = if i % 3 == 0 {
            format!("/docs/Report-{i}.pdf")
        } else {
            format!("/pics/img-{i}.jpg")
        };
        let upload = journal
            .start_upload(&new_upload(&journal, &name, 1, 1))
            .unwrap();
        journal
            .finish_upload(upload.id, None, 1, ferry_store::Verification::ServerSha1)
            .unwrap();
    }
    let reports = HistoryQuery {
        search: Some("report".into()),
        limit: 15,
        ..HistoryQuery::default()
    };
    assert_eq!(journal.history_count(&reports).unwrap(), 40);
    let first = journal.history(&reports).unwrap();
    assert_eq!(first.len(), 15);
    assert_eq!(first[0].local_path, "/docs/Report-117.pdf", "newest first");
    let third = journal
        .history(&HistoryQuery {
            offset: 30,
            ..reports.clone()
        })
        .unwrap();
    assert_eq!(third.len(), 10, "the last page holds the rest");
    assert!(third.iter().all(|e| e.local_path.contains("Report")));
    assert_eq!(
        journal.history_count(&HistoryQuery::default()).unwrap(),
        120
    );
}

/// The child process of `a_kill_at_any_instant_leaves_the_journal_consistent` (that same
/// test, run again with `FERRY_STORE_CRASH_CHILD` set): works the journal at `path` until
/// killed.
fn work_the_journal_until_killed(path: &str) -> ! {
    let mut journal = Journal::open(std::path::Path::new(&path)).unwrap();
    // Go on from the last finished round: an upload left open by a kill is started again.
    let first = journal.history_count(&HistoryQuery::default()).unwrap();
    for round in first.. {
        let upload = journal
            .start_upload(&new_upload(&journal, &format!("/f{round}"), 4000, 4))
            .unwrap();
        let mut parts = upload.upload.parts.clone();
        for step in 1..=10 {
            for part in &mut parts {
                part.location = Some("loc".into());
                part.confirmed = part.len.unwrap() * step / 10;
            }
            journal
                .record_progress(upload.id, &progress(&parts))
                .unwrap();
        }
        journal
            .finish_upload(
                upload.id,
                Some("done"),
                4000,
                ferry_store::Verification::ServerSha1,
            )
            .unwrap();
    }
    unreachable!("the rounds go on until the parent kills this process")
}

/// How many history rows the journal at `path` has (0 before it exists).
fn history_len(path: &std::path::Path) -> u64 {
    if !path.exists() {
        return 0;
    }
    Journal::open(path)
        .and_then(|j| j.history_count(&HistoryQuery::default()))
        .unwrap_or(0)
}

#[test]
fn a_kill_at_any_instant_leaves_the_journal_consistent() {
    if let Ok(path) = std::env::var("FERRY_STORE_CRASH_CHILD") {
        work_the_journal_until_killed(&path);
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("journal.db");
    for (round, wait_ms) in [0u64, 20, 45, 70, 110].into_iter().enumerate() {
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "a_kill_at_any_instant_leaves_the_journal_consistent",
                "--nocapture",
            ])
            .env("FERRY_STORE_CRASH_CHILD", &path)
            .spawn()
            .unwrap();
        // Kill only after the child has finished an upload in this round (bounded wait), so
        // that a busy machine cannot turn every round into a kill before the first write.
        let before = history_len(&path);
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        while history_len(&path) <= before {
            assert!(
                std::time::Instant::now() < deadline,
                "round {round}: the child finished no upload in 30 s"
            );
            std::thread::sleep(Duration::from_millis(5));
        }
        std::thread::sleep(Duration::from_millis(wait_ms));
        child.kill().unwrap();
        child.wait().unwrap();

        let journal = Journal::open(&path).unwrap();
        let history = journal
            .history(&HistoryQuery {
                limit: u32::MAX,
                ..HistoryQuery::default()
            })
            .unwrap();
        assert!(
            history
                .iter()
                .all(|e| e.outcome == Outcome::Uploaded && e.bytes_sent == 4000)
        );
        let mut open_uploads = 0;
        for i in 0..10_000 {
            let Some(file) = journal.file(None, &format!("/f{i}")).unwrap() else {
                continue;
            };
            match journal.upload_for_file(file.id).unwrap() {
                Some(upload) => {
                    open_uploads += 1;
                    assert_eq!(
                        file.state,
                        FileState::Uploading,
                        "round {round}: an upload row means uploading"
                    );
                    let sum: u64 = upload.upload.parts.iter().map(|p| p.confirmed).sum();
                    assert_eq!(
                        upload.confirmed, sum,
                        "round {round}: the total matches its parts"
                    );
                    assert_eq!(
                        upload.upload.parts.len(),
                        4,
                        "round {round}: parts are written whole"
                    );
                }
                // Killed between noting the file and starting its upload: pending.
                None if file.state == FileState::Pending => open_uploads += 1,
                None => assert_eq!(
                    file.state,
                    FileState::Uploaded,
                    "round {round}: no upload row means finished or not started"
                ),
            }
        }
        assert!(
            open_uploads <= 1,
            "round {round}: at most the upload in progress is open"
        );
    }
}

/// Regression: `ferry upload` and `ferry status` opening a new journal at the same moment both
/// ran the first migration, and the second failed with "table accounts already exists".
#[test]
fn concurrent_first_opens_of_a_new_journal_all_succeed() {
    for round in 0..5 {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("journal.db");
        let barrier = std::sync::Arc::new(std::sync::Barrier::new(6));
        let openers: Vec<_> = (0..6)
            .map(|_| {
                let (path, barrier) = (path.clone(), std::sync::Arc::clone(&barrier));
                std::thread::spawn(move || {
                    barrier.wait();
                    Journal::open(&path).map(|_| ())
                })
            })
            .collect();
        for opener in openers {
            let result = opener.join().unwrap();
            assert!(result.is_ok(), "round {round}: {result:?}");
        }
    }
}

#[test]
fn file_failures_wait_for_their_retry_or_park_until_the_user_retries() {
    let journal = Journal::open_in_memory().unwrap();
    let account = journal.account("http://s", "ann").unwrap();
    let folder = journal.add_folder("/f", account.id, "", None).unwrap();
    let file = |name: &str| {
        journal
            .upsert_file(Some(folder.id), name, facts(1), None, FileState::Pending)
            .unwrap()
    };
    let (busy, broken) = (file("busy"), file("broken"));

    journal
        .record_file_failure(busy.id, "server unreachable", Some(123))
        .unwrap();
    journal
        .record_file_failure(broken.id, "file too large", None)
        .unwrap();
    let busy = journal.file_by_id(busy.id).unwrap().unwrap();
    assert_eq!(
        (busy.state, busy.attempts, busy.next_retry_at_ms),
        (FileState::Pending, 1, Some(123)),
        "a retryable failure keeps the file pending with its next retry time"
    );
    assert_eq!(busy.last_error.as_deref(), Some("server unreachable"));
    let broken = journal.file_by_id(broken.id).unwrap().unwrap();
    assert_eq!(
        broken.state,
        FileState::Failed,
        "a permanent failure parks the file"
    );

    assert_eq!(journal.retry_files(Some(folder.id)).unwrap(), 2);
    for id in [busy.id, broken.id] {
        let f = journal.file_by_id(id).unwrap().unwrap();
        assert_eq!(
            (f.state, f.attempts, f.next_retry_at_ms, f.last_error),
            (FileState::Pending, 0, None, None),
            "retrying on request makes every file due now with its failures forgotten"
        );
    }
    journal
        .record_file_failure(busy.id, "again", Some(5))
        .unwrap();
    journal.clear_file_failure(busy.id).unwrap();
    assert_eq!(journal.file_by_id(busy.id).unwrap().unwrap().attempts, 0);
}

#[test]
fn a_removed_file_is_recorded_in_history_only_if_it_had_been_uploaded() {
    let mut journal = Journal::open_in_memory().unwrap();
    let account = journal.account("http://s", "ann").unwrap();
    let folder = journal
        .add_folder("/f", account.id, "pre", Some(Protocol::Tus))
        .unwrap();
    let never = journal
        .upsert_file(Some(folder.id), "never", facts(3), None, FileState::Pending)
        .unwrap();
    assert_eq!(
        journal
            .record_removal(never.id, Outcome::Deleted, "pre/never", None)
            .unwrap(),
        None,
        "nothing of it reached the server, so there is nothing to record"
    );
    assert_eq!(
        journal.file_by_id(never.id).unwrap().unwrap().state,
        FileState::Deleted
    );

    let sent = journal
        .upsert_file(
            Some(folder.id),
            "old.txt",
            facts(7),
            Some("ab12"),
            FileState::Pending,
        )
        .unwrap();
    let mut upload = new_upload(&journal, "/x", 7, 1);
    upload.file = sent.id;
    let upload = journal.start_upload(&upload).unwrap();
    journal
        .finish_upload(upload.id, None, 7, ferry_store::Verification::ServerSha1)
        .unwrap();
    let entry = journal
        .record_removal(
            sent.id,
            Outcome::Renamed,
            "pre/old.txt",
            Some("renamed to new.txt"),
        )
        .unwrap()
        .expect("an uploaded file's rename is recorded");
    assert_eq!(entry.outcome, Outcome::Renamed);
    assert_eq!(entry.local_path, "old.txt");
    assert_eq!(entry.remote_path, "pre/old.txt");
    assert_eq!(entry.sha1.as_deref(), Some("ab12"));
    assert_eq!(entry.error.as_deref(), Some("renamed to new.txt"));
    assert_eq!(entry.folder.as_deref(), Some("/f"));
    assert_eq!(journal.history(&HistoryQuery::default()).unwrap().len(), 2);
}
