//! The scanner on real folders in a temporary directory.

use std::collections::HashMap;
use std::path::Path;

use super::{diff, facts_of, scan, scan_under, scan_with};
use crate::sync::ignore::{IGNORE_FILE, Rules};

fn write(root: &Path, rel: &str, text: &str) {
    let path = root.join(rel);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

fn paths(scanned: &super::Scanned) -> Vec<&str> {
    scanned.files.iter().map(|(p, _)| p.as_str()).collect()
}

#[test]
fn finds_nested_files_with_their_facts_and_leaves_out_ignored_ones() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    write(root, "a.txt", "hello");
    write(root, "photos/2024/img.jpg", "jpeg!");
    write(root, "photos/2024/.img.jpg.swp", "swap");
    write(root, "photos/.DS_Store", "");
    write(root, "build/out.o", "obj");
    write(root, "src/build/out.o", "obj");
    write(root, "notes/draft.log", "log");
    write(root, "notes/keep.log", "log");
    write(root, "notes/.ferryignore", "!keep.log\n");
    write(root, IGNORE_FILE, "build/\n*.log\n");
    std::fs::create_dir_all(root.join("empty/deeper")).unwrap();
    let rules = Rules::load(root).unwrap();
    let scanned = scan(root, &rules).unwrap();
    assert_eq!(
        paths(&scanned),
        ["a.txt", "notes/keep.log", "photos/2024/img.jpg"],
        "sorted, '/' separated, ignored files and folders left out"
    );
    assert!(scanned.problems.is_empty(), "{:?}", scanned.problems);
    let (_, facts) = &scanned.files[0];
    assert_eq!(facts.size, 5);
    assert_eq!(
        Some(*facts),
        facts_of(&root.join("a.txt")).unwrap(),
        "the scan and a single look agree"
    );
    assert_eq!(
        *facts,
        crate::file::facts_of(&root.join("a.txt")).unwrap(),
        "and agree with the upload path's facts"
    );
}

#[cfg(unix)]
#[test]
fn symbolic_links_are_skipped_and_reported_not_followed() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("root");
    let outside = dir.path().join("outside");
    write(&outside, "secret.txt", "not in the folder");
    write(&root, "real.txt", "x");
    std::os::unix::fs::symlink(&outside, root.join("linked-dir")).unwrap();
    std::os::unix::fs::symlink(root.join("real.txt"), root.join("linked-file")).unwrap();
    std::os::unix::fs::symlink(root.join("missing"), root.join("dangling.swp")).unwrap();
    let scanned = scan(&root, &Rules::defaults()).unwrap();
    assert_eq!(paths(&scanned), ["real.txt"]);
    assert_eq!(scanned.problems.len(), 2, "{:?}", scanned.problems);
    for name in ["linked-dir", "linked-file"] {
        assert!(
            scanned
                .problems
                .iter()
                .any(|p| p.contains(name) && p.contains("symbolic link")),
            "{name} reported: {:?}",
            scanned.problems
        );
    }
    assert_eq!(
        facts_of(&root.join("linked-file")).unwrap(),
        None,
        "a link is not a regular file"
    );
    assert_eq!(facts_of(&root.join("missing")).unwrap(), None, "gone");
    assert_eq!(
        facts_of(&root.join("real.txt/below")).unwrap(),
        None,
        "gone"
    );
}

#[cfg(target_os = "linux")]
#[test]
fn names_that_are_not_utf8_are_reported_and_skipped() {
    use std::os::unix::ffi::OsStrExt;
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    write(root, "ok.txt", "x");
    let bad = std::ffi::OsStr::from_bytes(b"caf\xe9.txt");
    std::fs::write(root.join(bad), "latin-1 name").unwrap();
    std::fs::create_dir(root.join(std::ffi::OsStr::from_bytes(b"dir\xff"))).unwrap();
    write(
        &root.join(std::ffi::OsStr::from_bytes(b"dir\xff")),
        "inner.txt",
        "x",
    );
    let scanned = scan(root, &Rules::defaults()).unwrap();
    assert_eq!(paths(&scanned), ["ok.txt"]);
    assert_eq!(scanned.problems.len(), 2, "{:?}", scanned.problems);
    assert!(
        scanned
            .problems
            .iter()
            .all(|p| p.contains("not valid UTF-8")),
        "{:?}",
        scanned.problems
    );
}

#[test]
fn a_file_or_folder_vanishing_mid_scan_is_not_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().to_path_buf();
    write(&root, "a/one.txt", "1");
    write(&root, "a/two.txt", "2");
    write(&root, "b/three.txt", "3");
    let mut removed = Vec::new();
    let scanned = scan_with(&root, "", &Rules::defaults(), &mut |rel| {
        if removed.is_empty() {
            // The first file about to be looked at vanishes, and so does the other folder.
            std::fs::remove_file(root.join(rel)).unwrap();
            let other = if rel.starts_with("a/") { "b" } else { "a" };
            std::fs::remove_dir_all(root.join(other)).unwrap();
            removed.push(rel.to_owned());
        }
    })
    .unwrap();
    assert_eq!(removed.len(), 1, "the hook ran");
    assert!(scanned.problems.is_empty(), "{:?}", scanned.problems);
    assert!(
        !paths(&scanned).contains(&removed[0].as_str()),
        "{removed:?} vanished yet was found: {:?}",
        scanned.files
    );
    assert!(scanned.files.len() <= 1, "{:?}", scanned.files);
}

#[test]
fn a_missing_root_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    assert!(scan(&dir.path().join("missing"), &Rules::defaults()).is_err());
    write(dir.path(), "file", "x");
    assert!(
        scan(&dir.path().join("file"), &Rules::defaults()).is_err(),
        "a file is not a folder"
    );
}

#[test]
fn diff_reports_changed_gone_and_unchanged() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    write(root, "same.txt", "same");
    write(root, "grew.txt", "before");
    write(root, "new.txt", "new");
    let before = scan(root, &Rules::defaults()).unwrap();
    let mut known: HashMap<String, _> = before.files.iter().cloned().collect();
    known.remove("new.txt");
    known.insert("deleted.txt".to_owned(), known["same.txt"]);
    std::fs::write(root.join("grew.txt"), "before and after").unwrap();
    let now = scan(root, &Rules::defaults()).unwrap();
    let d = diff(&now, &known);
    assert_eq!(d.changed, ["grew.txt", "new.txt"]);
    assert_eq!(d.gone, ["deleted.txt"]);
    assert_eq!(d.unchanged, 1);
}

#[test]
fn a_scan_under_a_new_directory_walks_only_it_and_keeps_paths_relative_to_the_folder() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    write(root, "elsewhere/big.bin", "not walked");
    write(root, "new/a.txt", "a");
    write(root, "new/deeper/b.txt", "b");
    write(root, "new/deeper/skip.log", "ignored");
    write(root, "new/.ferryignore", "*.log\n");
    let rules = Rules::load(root).unwrap();
    let scanned = scan_under(root, "new", &rules).unwrap();
    assert_eq!(paths(&scanned), ["new/a.txt", "new/deeper/b.txt"]);
    assert!(
        scan_under(root, "gone", &rules).is_err(),
        "a missing start says so"
    );
}
