//! The watcher against the real OS notifications in temporary folders, and the mapping of
//! the debouncer's batches (events and errors) to [`WatchEvent`]s.

use std::time::Instant;

use notify::Event;
use notify::event::{CreateKind, DataChange, Flag, RemoveKind};
use tokio::sync::mpsc::{Receiver, channel};

use super::*;

/// How long a test waits for the OS to report a change before failing.
const PATIENCE: Duration = Duration::from_secs(10);

fn options() -> WatchOptions {
    WatchOptions {
        debounce: Duration::from_millis(200),
        simulate_limit: false,
    }
}

/// A temporary folder, spelled as the OS canonically does (so event paths compare equal).
fn folder() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = std::fs::canonicalize(dir.path()).unwrap();
    (dir, path)
}

/// Receives until an event satisfies `wanted`, failing loudly after [`PATIENCE`]; returns
/// it and everything received before it.
async fn wait_for(
    rx: &mut Receiver<WatchEvent>,
    what: &str,
    wanted: impl Fn(&WatchEvent) -> bool,
) -> (WatchEvent, Vec<WatchEvent>) {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    let mut seen = Vec::new();
    loop {
        match tokio::time::timeout_at(deadline, rx.recv()).await {
            Ok(Some(event)) if wanted(&event) => return (event, seen),
            Ok(Some(event)) => seen.push(event),
            Ok(None) => panic!("the watcher closed its channel while waiting for {what}"),
            Err(tokio::time::error::Elapsed { .. }) => {
                panic!("no {what} within {PATIENCE:?}; received instead: {seen:#?}")
            }
        }
    }
}

fn changed(root: &Path, path: &Path) -> impl Fn(&WatchEvent) -> bool {
    let expected = WatchEvent::Changed {
        root: root.to_path_buf(),
        path: path.to_path_buf(),
    };
    move |event| *event == expected
}

#[tokio::test]
async fn a_created_file_is_reported_as_changed() {
    let (_dir, root) = folder();
    let (tx, mut rx) = channel(1024);
    let mut watcher = Watcher::start(options(), tx).unwrap();
    watcher.watch(&root).unwrap();

    let file = root.join("new.txt");
    std::fs::write(&file, b"hello").unwrap();
    wait_for(&mut rx, "Changed for new.txt", changed(&root, &file)).await;
}

#[tokio::test]
async fn a_file_written_in_a_new_subfolder_is_reported() {
    let (_dir, root) = folder();
    let (tx, mut rx) = channel(1024);
    let mut watcher = Watcher::start(options(), tx).unwrap();
    watcher.watch(&root).unwrap();

    // The OS watch on a new folder is added when its creation is seen (and before the
    // debouncer reports it); files made in it before that are the engine's to find by
    // scanning the folder (see `Changed`).
    let sub = root.join("sub");
    std::fs::create_dir(&sub).unwrap();
    wait_for(&mut rx, "Changed for the new folder", changed(&root, &sub)).await;
    let file = sub.join("file.txt");
    std::fs::write(&file, b"in a new folder").unwrap();
    wait_for(&mut rx, "Changed for sub/file.txt", changed(&root, &file)).await;
}

#[tokio::test]
async fn a_rename_inside_the_folder_is_one_renamed_event() {
    let (_dir, root) = folder();
    let from = root.join("before.txt");
    let to = root.join("after.txt");
    std::fs::write(&from, b"content").unwrap();
    let (tx, mut rx) = channel(1024);
    let mut watcher = Watcher::start(options(), tx).unwrap();
    watcher.watch(&root).unwrap();

    std::fs::rename(&from, &to).unwrap();
    let expected = WatchEvent::Renamed {
        root: root.clone(),
        from,
        to,
    };
    // Linux pairs the halves by inotify's cookie, other systems by the file-id cache; a
    // platform that delivers only two `Changed` would fail here and need a documented case.
    let (_, before) = wait_for(&mut rx, "Renamed", |e| *e == expected).await;
    assert!(
        before.is_empty(),
        "nothing but the rename was expected: {before:#?}"
    );
}

#[tokio::test]
async fn moves_into_and_out_of_the_folder_are_changes() {
    // Both folders on one file system (one temporary folder), only one of them watched.
    let (_dir, base) = folder();
    let root = base.join("watched");
    let outside = base.join("outside");
    std::fs::create_dir(&root).unwrap();
    std::fs::create_dir(&outside).unwrap();
    std::fs::write(outside.join("in.txt"), b"in").unwrap();
    std::fs::write(root.join("out.txt"), b"out").unwrap();
    let (tx, mut rx) = channel(1024);
    let mut watcher = Watcher::start(options(), tx).unwrap();
    watcher.watch(&root).unwrap();

    std::fs::rename(outside.join("in.txt"), root.join("in.txt")).unwrap();
    wait_for(
        &mut rx,
        "Changed for the moved-in file",
        changed(&root, &root.join("in.txt")),
    )
    .await;
    std::fs::rename(root.join("out.txt"), outside.join("out.txt")).unwrap();
    let (_, before) = wait_for(
        &mut rx,
        "Changed for the moved-out file",
        changed(&root, &root.join("out.txt")),
    )
    .await;
    assert!(
        !before
            .iter()
            .any(|e| matches!(e, WatchEvent::Renamed { .. })),
        "a move across the folder's edge is no rename: {before:#?}"
    );
}

#[tokio::test]
async fn a_renamed_folder_is_one_event_and_stays_watched_under_its_new_name() {
    let (_dir, root) = folder();
    let from = root.join("old");
    let to = root.join("new");
    std::fs::create_dir(&from).unwrap();
    std::fs::write(from.join("kept.txt"), b"k").unwrap();
    let (tx, mut rx) = channel(1024);
    let mut watcher = Watcher::start(options(), tx).unwrap();
    watcher.watch(&root).unwrap();

    std::fs::rename(&from, &to).unwrap();
    let expected = WatchEvent::Renamed {
        root: root.clone(),
        from,
        to: to.clone(),
    };
    wait_for(&mut rx, "Renamed for the folder", |e| *e == expected).await;
    let file = to.join("later.txt");
    std::fs::write(&file, b"later").unwrap();
    wait_for(
        &mut rx,
        "Changed in the renamed folder",
        changed(&root, &file),
    )
    .await;
}

#[tokio::test]
async fn a_removed_file_is_reported_as_changed() {
    let (_dir, root) = folder();
    let file = root.join("doomed.txt");
    std::fs::write(&file, b"bye").unwrap();
    let (tx, mut rx) = channel(1024);
    let mut watcher = Watcher::start(options(), tx).unwrap();
    watcher.watch(&root).unwrap();

    std::fs::remove_file(&file).unwrap();
    wait_for(
        &mut rx,
        "Changed for the removed file",
        changed(&root, &file),
    )
    .await;
}

#[tokio::test]
async fn the_simulated_watch_limit_fails_loudly_with_the_fix() {
    let (_dir, root) = folder();
    let (tx, mut rx) = channel(1024);
    let mut watcher = Watcher::start(
        WatchOptions {
            simulate_limit: true,
            ..options()
        },
        tx,
    )
    .unwrap();

    let err = watcher.watch(&root).expect_err("the limit is simulated");
    let EngineError::Watch {
        root: err_root,
        message,
    } = &err
    else {
        panic!("expected EngineError::Watch, got {err:?}");
    };
    assert_eq!(err_root, &root);
    assert!(!err.is_retryable());
    let (event, _) = wait_for(&mut rx, "Failed", |e| {
        matches!(e, WatchEvent::Failed { .. })
    })
    .await;
    assert_eq!(
        event,
        WatchEvent::Failed {
            root: root.clone(),
            message: message.clone()
        }
    );
    assert!(message.contains(&root.display().to_string()), "{message}");
    assert!(
        message.contains("rescanning"),
        "says what Ferry does instead: {message}"
    );
    if cfg!(target_os = "linux") {
        assert!(
            message.contains("fs.inotify.max_user_watches"),
            "says the fix: {message}"
        );
    }
}

#[tokio::test]
async fn events_go_to_the_longest_watched_root_they_lie_in() {
    let (_dir, outer) = folder();
    let inner = outer.join("inner");
    let (_other_dir, other) = folder();
    std::fs::create_dir(&inner).unwrap();
    let (tx, mut rx) = channel(1024);
    let mut watcher = Watcher::start(options(), tx).unwrap();
    for root in [&outer, &inner, &other] {
        watcher.watch(root).unwrap();
    }

    let in_inner = inner.join("x.txt");
    let in_outer = outer.join("y.txt");
    let in_other = other.join("z.txt");
    for file in [&in_inner, &in_outer, &in_other] {
        std::fs::write(file, b"x").unwrap();
    }
    let (_, before) = wait_for(&mut rx, "Changed in inner", changed(&inner, &in_inner)).await;
    let mut seen = before;
    for (root, file) in [(&outer, &in_outer), (&other, &in_other)] {
        if !seen.iter().any(changed(root, file)) {
            seen.extend(wait_for(&mut rx, "Changed", changed(root, file)).await.1);
        }
    }
    let wrong = WatchEvent::Changed {
        root: outer.clone(),
        path: in_inner.clone(),
    };
    assert!(
        !seen.contains(&wrong),
        "inner's file went to outer: {seen:#?}"
    );

    // And once unwatched, a folder's changes stop coming.
    watcher.unwatch(&other);
    std::fs::write(other.join("late.txt"), b"x").unwrap();
    let after = inner.join("after.txt");
    std::fs::write(&after, b"x").unwrap();
    let (_, before) = wait_for(&mut rx, "Changed after unwatch", changed(&inner, &after)).await;
    assert!(
        !before
            .iter()
            .any(|e| matches!(e, WatchEvent::Changed { root, .. } if *root == other)),
        "an unwatched folder still reported: {before:#?}"
    );
}

#[tokio::test]
async fn a_dropped_receiver_does_not_break_the_watcher() {
    let (_dir, root) = folder();
    let (tx, rx) = channel(1024);
    let mut watcher = Watcher::start(options(), tx).unwrap();
    watcher.watch(&root).unwrap();
    drop(rx);
    std::fs::write(root.join("unheard.txt"), b"x").unwrap();
    // The debouncer thread's path, run here where a panic would fail the test.
    let event = Event::new(EventKind::Create(CreateKind::File)).add_path(root.join("unheard.txt"));
    deliver(
        &watcher.roots,
        &watcher.outbox,
        Ok(vec![DebouncedEvent::new(event, Instant::now())]),
    );
    // The caller's path: a failure is still returned.
    watcher.options.simulate_limit = true;
    let (_other_dir, other) = folder();
    assert!(watcher.watch(&other).is_err());
    watcher.unwatch(&root);
}

fn roots(paths: &[&Path]) -> Vec<Root> {
    paths
        .iter()
        .map(|p| Root {
            given: p.to_path_buf(),
            canonical: p.to_path_buf(),
        })
        .collect()
}

fn batch(events: Vec<Event>) -> Vec<DebouncedEvent> {
    events
        .into_iter()
        .map(|e| DebouncedEvent::new(e, Instant::now()))
        .collect()
}

#[test]
fn an_overflow_asks_every_root_for_a_rescan() {
    let roots = roots(&[Path::new("/a"), Path::new("/b")]);
    let overflow = Event::new(EventKind::Other).set_flag(Flag::Rescan);
    let out = map_result(&roots, Ok(batch(vec![overflow])));
    let rescanned: Vec<_> = out
        .iter()
        .map(|e| match e {
            WatchEvent::Rescan { root, .. } => root.clone(),
            other => panic!("expected Rescan, got {other:?}"),
        })
        .collect();
    assert_eq!(rescanned, [PathBuf::from("/a"), PathBuf::from("/b")]);
}

#[test]
fn a_runtime_error_on_a_subtree_rescans_its_root_and_the_limit_fails_it() {
    let roots = roots(&[Path::new("/a"), Path::new("/b")]);
    let io = NotifyError::io(std::io::Error::other("boom")).add_path(PathBuf::from("/b/sub"));
    let limit = NotifyError::new(ErrorKind::MaxFilesWatch).add_path(PathBuf::from("/a/new"));
    let out = map_result(&roots, Err(vec![io, limit]));
    assert!(
        matches!(&out[..], [
            WatchEvent::Rescan { root: r1, .. },
            WatchEvent::Failed { root: r2, message },
        ] if r1 == Path::new("/b") && r2 == Path::new("/a") && message.contains("limit")),
        "{out:#?}"
    );
}

#[test]
fn renames_across_roots_are_a_change_in_each_and_reads_are_nothing() {
    let roots = roots(&[Path::new("/a"), Path::new("/b")]);
    let across = Event::new(EventKind::Modify(ModifyKind::Name(RenameMode::Both)))
        .add_path(PathBuf::from("/a/f"))
        .add_path(PathBuf::from("/b/f"));
    let out_of_all = Event::new(EventKind::Modify(ModifyKind::Name(RenameMode::Both)))
        .add_path(PathBuf::from("/a/g"))
        .add_path(PathBuf::from("/elsewhere/g"));
    let read = Event::new(EventKind::Access(AccessKind::Open(AccessMode::Any)))
        .add_path(PathBuf::from("/a/f"));
    let write = Event::new(EventKind::Modify(ModifyKind::Data(DataChange::Any)))
        .add_path(PathBuf::from("/a/h"));
    let closed = Event::new(EventKind::Access(AccessKind::Close(AccessMode::Write)))
        .add_path(PathBuf::from("/a/h"));
    let removed = Event::new(EventKind::Remove(RemoveKind::File)).add_path(PathBuf::from("/x"));
    let out = map_result(
        &roots,
        Ok(batch(vec![
            across, out_of_all, read, write, closed, removed,
        ])),
    );
    let c = |root: &str, path: &str| WatchEvent::Changed {
        root: root.into(),
        path: path.into(),
    };
    assert_eq!(
        out,
        [
            c("/a", "/a/f"),
            c("/b", "/b/f"),
            c("/a", "/a/g"),
            c("/a", "/a/h")
        ],
        "the write and its close are one change; /x is in no root"
    );
}

#[test]
fn paths_the_os_spells_canonically_come_back_under_the_root_as_given() {
    let roots = vec![Root {
        given: PathBuf::from("/var/folders/t"),
        canonical: PathBuf::from("/private/var/folders/t"),
    }];
    let event = Event::new(EventKind::Create(CreateKind::File))
        .add_path(PathBuf::from("/private/var/folders/t/f"));
    assert_eq!(
        map_result(&roots, Ok(batch(vec![event]))),
        [WatchEvent::Changed {
            root: "/var/folders/t".into(),
            path: "/var/folders/t/f".into()
        }]
    );
}

#[tokio::test]
async fn reports_that_do_not_fit_in_the_queue_become_a_rescan_of_their_folder() {
    let (_dir, root) = folder();
    let (tx, mut rx) = channel(2);
    let mut watcher = Watcher::start(options(), tx).unwrap();
    watcher.watch(&root).unwrap();
    let events: Vec<DebouncedEvent> = (0..5)
        .map(|i| {
            let event = Event::new(EventKind::Create(CreateKind::File))
                .add_path(root.join(format!("f{i}.txt")));
            DebouncedEvent::new(event, Instant::now())
        })
        .collect();
    // The debouncer thread's path, with the engine not reading.
    deliver(&watcher.roots, &watcher.outbox, Ok(events));
    assert_eq!(
        watcher.take_overflowed(),
        vec![root.clone()],
        "the folder is named for a rescan"
    );
    assert!(watcher.take_overflowed().is_empty(), "once");
    let mut received = 0;
    while rx.try_recv().is_ok() {
        received += 1;
    }
    assert_eq!(received, 2, "what fitted was delivered");
    watcher.unwatch(&root);
}
