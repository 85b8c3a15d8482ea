//! `Journal::batch`: many writes in one transaction (folder sync plans many files at once),
//! seen by other connections only when the batch ends, with writes that are whole by
//! themselves (an upload's start or end) still whole inside it.

use ferry_proto::Protocol;
use ferry_store::{FileFacts, FileState, Journal, NewUpload, Outcome};

fn facts(size: u64) -> FileFacts {
    FileFacts {
        size,
        mtime_ns: 1_700_000_000_000_000_000,
        inode: 7,
    }
}

#[test]
fn a_batch_is_one_transaction_that_others_see_only_when_it_ends() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("journal.db");
    let mut journal = Journal::open(&path).unwrap();
    let other = Journal::open(&path).unwrap();
    let account = journal.account("http://127.0.0.1:8080", "ann").unwrap();
    let folder = journal
        .add_folder("/home/ann/photos", account.id, "", None)
        .unwrap();
    let seen_inside = journal
        .batch(|journal| {
            for i in 0..100 {
                journal
                    .upsert_file(
                        Some(folder.id),
                        &format!("f{i}"),
                        facts(i),
                        None,
                        FileState::Pending,
                    )
                    .unwrap();
            }
            // An upload's start and end (each a transaction of its own) inside the batch.
            let file = journal.file(Some(folder.id), "f1").unwrap().unwrap();
            let upload = journal
                .start_upload(&NewUpload {
                    file: file.id,
                    account: account.id,
                    protocol: Protocol::Tus,
                    endpoint: "http://127.0.0.1:8080/files/".into(),
                    remote_path: "f1".into(),
                    facts: facts(1),
                    sha1: "ab12".into(),
                    chunk_size: 1024,
                    concatenated: false,
                    parts: Vec::new(),
                    final_upload: ferry_store::FinalUpload::default(),
                })
                .unwrap();
            journal
                .end_upload(upload.id, Outcome::Abandoned, 0, "changed")
                .unwrap();
            other.files_in(folder.id).unwrap().len()
        })
        .unwrap();
    assert_eq!(
        seen_inside, 0,
        "another connection saw the batch before it ended"
    );
    let after = Journal::open(&path).unwrap();
    let files = after.files_in(folder.id).unwrap();
    assert_eq!(files.len(), 100);
    let f1 = after.file(Some(folder.id), "f1").unwrap().unwrap();
    assert_eq!(f1.state, FileState::Pending, "the upload's end was kept");
    assert_eq!(
        f1.sha1.as_deref(),
        None,
        "an abandoned upload's sha1 is forgotten with it: the next attempt hashes the file"
    );
    assert!(after.upload_for_file(f1.id).unwrap().is_none());
}

#[test]
fn a_failed_write_inside_a_batch_leaves_the_others() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("journal.db");
    let mut journal = Journal::open(&path).unwrap();
    let account = journal.account("http://127.0.0.1:8080", "ann").unwrap();
    let file = journal
        .upsert_file(None, "/home/ann/a.bin", facts(5), None, FileState::Pending)
        .unwrap();
    let failed = journal
        .batch(|journal| {
            journal
                .upsert_file(None, "/home/ann/b.bin", facts(6), None, FileState::Pending)
                .unwrap();
            // No such account: the upload's start fails and nothing of it stays.
            let start = journal.start_upload(&NewUpload {
                file: file.id,
                account: ferry_store::AccountId(account.id.0 + 1000),
                protocol: Protocol::Tus,
                endpoint: "http://127.0.0.1:8080/files/".into(),
                remote_path: "a.bin".into(),
                facts: facts(5),
                sha1: "cd34".into(),
                chunk_size: 1024,
                concatenated: false,
                parts: Vec::new(),
                final_upload: ferry_store::FinalUpload::default(),
            });
            start.is_err()
        })
        .unwrap();
    assert!(failed);
    let after = Journal::open(&path).unwrap();
    assert!(after.file(None, "/home/ann/b.bin").unwrap().is_some());
    let a = after.file(None, "/home/ann/a.bin").unwrap().unwrap();
    assert_eq!(a.state, FileState::Pending);
    assert_eq!(a.sha1, None);
    assert!(after.upload_for_file(a.id).unwrap().is_none());
}
