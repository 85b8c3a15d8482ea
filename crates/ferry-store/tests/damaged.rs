//! A journal file that is not Ferry's to use: damaged, another program's database, or a
//! newer Ferry's. Each is refused with words that say what happened and the way out, and
//! the file is left byte for byte as it was (never reset, never migrated, no panic). And
//! the write-ahead log stays bounded however many uploads pass through.

use ferry_store::{Journal, StoreError};

fn refused(path: &std::path::Path) -> (StoreError, String) {
    let before = std::fs::read(path).unwrap();
    let err = Journal::open(path).expect_err("the file must be refused");
    assert_eq!(std::fs::read(path).unwrap(), before, "the file was changed");
    let shown = err.to_string();
    (err, shown)
}

#[test]
fn a_file_that_is_not_a_database_is_damaged_and_left_alone() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("journal.sqlite");
    std::fs::write(&path, vec![0x5a_u8; 8192]).unwrap();
    let (err, shown) = refused(&path);
    assert!(matches!(err, StoreError::Damaged { .. }), "{err:?}");
    assert!(shown.contains("is damaged"), "{shown}");
    assert!(shown.contains(".damaged"), "the way out is named: {shown}");
    // The way out works: moved aside, a new journal opens.
    std::fs::rename(&path, dir.path().join("journal.sqlite.damaged")).unwrap();
    Journal::open(&path).unwrap();
}

#[test]
fn a_truncated_journal_is_damaged_and_left_alone() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("journal.sqlite");
    {
        let journal = Journal::open(&path).unwrap();
        journal.account("http://127.0.0.1:9/", "ann").unwrap();
    }
    // Only the first half of the header survives (a disk that lost the rest).
    let bytes = std::fs::read(&path).unwrap();
    std::fs::write(&path, &bytes[..50]).unwrap();
    let _ = std::fs::remove_file(dir.path().join("journal.sqlite-wal"));
    let _ = std::fs::remove_file(dir.path().join("journal.sqlite-shm"));
    let (err, shown) = refused(&path);
    assert!(
        matches!(err, StoreError::Damaged { .. }),
        "{err:?}: {shown}"
    );
}

#[test]
fn another_programs_database_is_foreign_and_never_migrated() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("journal.sqlite");
    {
        let other = rusqlite::Connection::open(&path).unwrap();
        other
            .execute_batch("CREATE TABLE recipes (name TEXT); INSERT INTO recipes VALUES ('soup');")
            .unwrap();
    }
    let (err, shown) = refused(&path);
    assert!(matches!(err, StoreError::Foreign { .. }), "{err:?}");
    assert!(shown.contains("not Ferry's journal"), "{shown}");
    assert!(shown.contains("FERRY_HOME"), "{shown}");
}

#[test]
fn a_newer_ferrys_journal_asks_for_an_update() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("journal.sqlite");
    drop(Journal::open(&path).unwrap());
    {
        let newer = rusqlite::Connection::open(&path).unwrap();
        newer.pragma_update(None, "user_version", 999).unwrap();
    }
    let (err, shown) = refused(&path);
    assert!(
        matches!(err, StoreError::TooNew { found: 999, .. }),
        "{err:?}"
    );
    assert!(shown.contains("update Ferry"), "{shown}");
}
