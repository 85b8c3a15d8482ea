//! What every command does in an empty home, and how usage errors end.

use crate::support::{ferry, stdout};

#[test]
fn an_empty_home_has_no_history_and_nothing_open() {
    let home = tempfile::tempdir().unwrap();
    let history = ferry(home.path(), &["history"]);
    assert!(history.status.success());
    assert_eq!(stdout(&history).trim(), "No uploads yet.");
    let json = ferry(home.path(), &["--json", "history", "--limit", "5"]);
    assert_eq!(
        serde_json::from_slice::<serde_json::Value>(&json.stdout).unwrap(),
        serde_json::json!([])
    );
    let status = ferry(home.path(), &["status"]);
    assert!(status.status.success());
    assert!(stdout(&status).contains("Everything is uploaded"));
    assert!(
        home.path().join("journal.db").is_file(),
        "the journal lives in the home"
    );
}

#[test]
fn usage_errors_exit_with_2_and_say_why() {
    let home = tempfile::tempdir().unwrap();
    let wrong = ferry(home.path(), &["history", "--limit", "many"]);
    assert_eq!(wrong.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&wrong.stderr).contains("--limit"));
    let unknown = ferry(home.path(), &["fly"]);
    assert_eq!(unknown.status.code(), Some(2));
    let help = ferry(home.path(), &["--help"]);
    assert_eq!(help.status.code(), Some(0));
}
