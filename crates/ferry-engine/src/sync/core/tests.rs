//! The sync core driven directly, on virtual time: no sockets, no files, no sleeps.

use std::time::{Duration, Instant};

use ferry_store::FolderId;

use super::*;

pub(super) const A: FolderId = FolderId(1);
pub(super) const B: FolderId = FolderId(2);
pub(super) const QUIET: Duration = Duration::from_secs(2);
pub(super) const MIB: u64 = 1024 * 1024;

pub(super) fn options() -> CoreOptions {
    CoreOptions {
        concurrency: 2,
        quiet_period: QUIET,
        rescan_every: Duration::from_secs(3600),
        fallback_rescan_every: Duration::from_secs(60),
        file_retry: RetryPolicy {
            base: Duration::from_secs(5),
            max: Duration::from_secs(600),
            max_attempts: 0,
        },
        parallel_from: 64 * MIB,
    }
}

pub(super) fn key(folder: FolderId, rel: &str) -> Key {
    (folder, rel.to_owned())
}

pub(super) fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

/// A core with folders already scanned (the scan reported nothing).
pub(super) fn core_with(mode: Mode, folders: &[(FolderId, bool)], t0: Instant) -> SyncCore {
    let mut core = SyncCore::new(options(), mode, 7);
    for &(id, paused) in folders {
        core.handle_folder_added(t0, id, paused, false);
    }
    for action in drain(&mut core) {
        if let Action::Scan(id) = action {
            core.handle_scanned(t0, id, Some(ScanFound::default()));
        }
    }
    drain(&mut core);
    core
}

pub(super) fn drain(core: &mut SyncCore) -> Vec<Action> {
    std::iter::from_fn(|| core.poll_action()).collect()
}

pub(super) fn examined(actions: &[Action]) -> Vec<Key> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::Examine(batch) => Some(batch.iter().map(|(k, _)| k.clone())),
            _ => None,
        })
        .flatten()
        .collect()
}

pub(super) fn started(actions: &[Action]) -> Vec<StartJob> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::Start(s) => Some(s.clone()),
            _ => None,
        })
        .collect()
}

pub(super) fn send(size: u64) -> Examined {
    Examined::Send {
        size,
        hash_first: false,
        changed: true,
        attempts: 0,
    }
}

pub(super) fn failed(retryable: bool) -> JobEnd {
    JobEnd::Failed {
        message: "boom".into(),
        retryable,
        unauthorized: false,
        server_full: false,
        unreachable: false,
    }
}

/// Queues `keys` (examined as to send) and returns the jobs that started.
pub(super) fn queue(core: &mut SyncCore, now: Instant, keys: &[(Key, u64)]) -> Vec<StartJob> {
    for (k, _) in keys {
        core.handle_changed(now, k.clone(), Some(QUIET));
    }
    let actions = drain(core);
    assert_eq!(examined(&actions).len(), keys.len(), "{actions:?}");
    let results = keys
        .iter()
        .map(|(k, size)| (k.clone(), send(*size)))
        .collect();
    core.handle_examined(now, results);
    started(&drain(core))
}

#[test]
fn an_active_folder_is_scanned_when_added_and_a_paused_one_is_not() {
    let t0 = Instant::now();
    let mut core = SyncCore::new(options(), Mode::Watch, 1);
    core.handle_folder_added(t0, A, false, false);
    core.handle_folder_added(t0, B, true, false);
    assert_eq!(drain(&mut core), vec![Action::Scan(A)]);
    core.handle_folder_paused(t0, B, false);
    let actions = drain(&mut core);
    assert!(
        actions.contains(&Action::Scan(B)),
        "resuming scans: {actions:?}"
    );
}

#[test]
fn a_changed_file_waits_out_its_quiet_period_counted_from_its_last_change() {
    // (how long ago it last changed, when it is examined after the report)
    let cases = [
        (Some(Duration::ZERO), QUIET),
        (
            Some(Duration::from_millis(500)),
            Duration::from_millis(1500),
        ),
        (Some(QUIET), Duration::ZERO),
        (Some(secs(3600)), Duration::ZERO),
        // Unknown (the file could not be looked at): a whole period.
        (None, QUIET),
    ];
    for (age, wait) in cases {
        let t0 = Instant::now();
        let mut core = core_with(Mode::Watch, &[(A, false)], t0);
        core.handle_changed(t0, key(A, "f"), age);
        let now = drain(&mut core);
        if wait.is_zero() {
            assert_eq!(examined(&now), vec![key(A, "f")], "age {age:?}");
            continue;
        }
        assert!(
            examined(&now).is_empty(),
            "not before its time: age {age:?}"
        );
        assert_eq!(core.poll_timeout(), Some(t0 + wait), "age {age:?}");
        core.handle_timeout(t0 + wait.saturating_sub(Duration::from_millis(1)));
        assert!(examined(&drain(&mut core)).is_empty(), "age {age:?}");
        core.handle_timeout(t0 + wait);
        assert_eq!(
            examined(&drain(&mut core)),
            vec![key(A, "f")],
            "age {age:?}"
        );
    }
}

#[test]
fn a_file_still_being_written_is_examined_only_once_it_has_been_quiet() {
    let t0 = Instant::now();
    let mut core = core_with(Mode::Watch, &[(A, false)], t0);
    for i in 0..10 {
        core.handle_changed(t0 + secs(i), key(A, "log"), Some(Duration::ZERO));
        assert!(examined(&drain(&mut core)).is_empty());
    }
    assert_eq!(core.poll_timeout(), Some(t0 + secs(9) + QUIET));
    core.handle_timeout(t0 + secs(9) + QUIET);
    assert_eq!(examined(&drain(&mut core)), vec![key(A, "log")]);
}

#[test]
fn small_files_go_first_and_at_most_concurrency_jobs_run() {
    let t0 = Instant::now();
    let mut core = core_with(Mode::Watch, &[(A, false)], t0);
    let jobs = queue(
        &mut core,
        t0,
        &[
            (key(A, "big"), 100 * MIB),
            (key(A, "small"), MIB),
            (key(A, "mid"), 2 * MIB),
        ],
    );
    let names: Vec<&str> = jobs.iter().map(|j| j.key.1.as_str()).collect();
    assert_eq!(names, ["small", "mid"], "two at once, small first");
    core.handle_job_done(
        t0,
        jobs[0].key.clone(),
        jobs[0].id,
        JobEnd::Uploaded { bytes: MIB },
    );
    let next = started(&drain(&mut core));
    assert_eq!(next.len(), 1);
    assert_eq!(next[0].key, key(A, "big"));
    assert!(next[0].parallel, "a large file goes as parallel parts");
    assert!(!jobs[0].parallel);
}

#[test]
fn tiny_files_run_four_per_slot_and_never_hold_back_the_slots_of_larger_ones() {
    let t0 = Instant::now();
    let mut core = core_with(Mode::Watch, &[(A, false)], t0);
    let mut files: Vec<(Key, u64)> = (0..10).map(|i| (key(A, &format!("t{i}")), 4096)).collect();
    files.push((key(A, "mid"), 2 * MIB));
    let jobs = queue(&mut core, t0, &files);
    let names: Vec<&str> = jobs.iter().map(|j| j.key.1.as_str()).collect();
    // Concurrency 2: eight tiny files at once, and the 2 MiB file waits (the slots are taken).
    assert_eq!(names, ["t0", "t1", "t2", "t3", "t4", "t5", "t6", "t7"]);
    for job in &jobs {
        core.handle_job_done(
            t0,
            job.key.clone(),
            job.id,
            JobEnd::Uploaded { bytes: 4096 },
        );
    }
    let next = started(&drain(&mut core));
    let names: Vec<&str> = next.iter().map(|j| j.key.1.as_str()).collect();
    assert_eq!(names, ["t8", "t9", "mid"], "the rest, tiny first");
}

#[test]
fn a_small_file_does_not_wait_behind_large_ones() {
    let t0 = Instant::now();
    let mut core = core_with(Mode::Watch, &[(A, false)], t0);
    let jobs = queue(
        &mut core,
        t0,
        &[(key(A, "video1"), 80 * MIB), (key(A, "video2"), 90 * MIB)],
    );
    assert_eq!(jobs.len(), 2, "both slots taken by large files");
    // A photo and a large file arrive while both run: the photo goes at once, beside them.
    let more = queue(
        &mut core,
        t0,
        &[(key(A, "photo"), 3 * MIB), (key(A, "video3"), 70 * MIB)],
    );
    let names: Vec<&str> = more.iter().map(|j| j.key.1.as_str()).collect();
    assert_eq!(
        names,
        ["photo"],
        "one small file beside the large ones, not the large one"
    );
    // While it runs, another small file waits its turn like any other.
    assert!(queue(&mut core, t0, &[(key(A, "photo2"), MIB)]).is_empty());
    core.handle_job_done(
        t0,
        more[0].key.clone(),
        more[0].id,
        JobEnd::Uploaded { bytes: 3 * MIB },
    );
    let next = started(&drain(&mut core));
    let names: Vec<&str> = next.iter().map(|j| j.key.1.as_str()).collect();
    assert_eq!(names, ["photo2"]);
    // A large file ends: the small one running now holds a slot of its own, so the large
    // file waiting starts only when that one is done (never more than one above the setting).
    core.handle_job_done(
        t0,
        jobs[0].key.clone(),
        jobs[0].id,
        JobEnd::Uploaded { bytes: 80 * MIB },
    );
    assert!(started(&drain(&mut core)).is_empty());
    core.handle_job_done(
        t0,
        next[0].key.clone(),
        next[0].id,
        JobEnd::Uploaded { bytes: MIB },
    );
    let last = started(&drain(&mut core));
    let names: Vec<&str> = last.iter().map(|j| j.key.1.as_str()).collect();
    assert_eq!(names, ["video3"]);
}

#[test]
fn a_job_whose_file_is_settled_or_whose_folder_goes_is_stopped() {
    let t0 = Instant::now();
    let mut core = core_with(Mode::Watch, &[(A, false), (B, false)], t0);
    let jobs = queue(&mut core, t0, &[(key(A, "a"), 1), (key(B, "b"), 1)]);
    assert_eq!(jobs.len(), 2);
    core.handle_changed(t0, key(A, "a"), Some(QUIET));
    drain(&mut core);
    // The driver stopped the job (the file changed under it) and the planner settled it.
    core.handle_examined(t0, vec![(key(A, "a"), Examined::Settled)]);
    let actions = drain(&mut core);
    assert!(actions.contains(&Action::Notify(Notice::Left(key(A, "a")))));
    assert!(!core.is_running(&key(A, "a")));
    core.handle_folder_removed(t0, B);
    let actions = drain(&mut core);
    assert!(actions.contains(&Action::Stop(key(B, "b"))), "{actions:?}");
    // Their ends, if they still come, change nothing.
    core.handle_job_done(t0, key(A, "a"), jobs[0].id, JobEnd::Uploaded { bytes: 1 });
    core.handle_job_done(t0, key(B, "b"), jobs[1].id, JobEnd::Uploaded { bytes: 1 });
    assert_eq!(core.take_tally().uploaded, 0);
}

#[test]
fn pausing_everything_stops_jobs_starts_nothing_and_resuming_goes_on() {
    let t0 = Instant::now();
    let mut core = core_with(Mode::Watch, &[(A, false)], t0);
    let jobs = queue(
        &mut core,
        t0,
        &[
            (key(A, "a"), MIB),
            (key(A, "b"), 2 * MIB),
            (key(A, "c"), 3 * MIB),
        ],
    );
    assert_eq!(jobs.len(), 2);
    core.handle_pause_all(t0, true);
    let actions = drain(&mut core);
    assert!(actions.contains(&Action::Stop(key(A, "a"))));
    assert!(actions.contains(&Action::Stop(key(A, "b"))));
    assert!(actions.contains(&Action::Notify(Notice::Paused(None))));
    assert_eq!(core.poll_timeout(), None, "nothing is due while paused");
    core.handle_changed(t0, key(A, "d"), Some(QUIET));
    core.handle_timeout(t0 + secs(100));
    let actions = drain(&mut core);
    assert!(
        examined(&actions).is_empty() && started(&actions).is_empty(),
        "{actions:?}"
    );
    core.handle_pause_all(t0 + secs(100), false);
    let actions = drain(&mut core);
    let mut again = examined(&actions);
    again.sort();
    assert_eq!(
        again,
        vec![key(A, "a"), key(A, "b"), key(A, "d")],
        "stopped and changed files"
    );
    let jobs = started(&actions);
    assert_eq!(jobs.len(), 1, "the one still queued starts: {actions:?}");
    assert_eq!(jobs[0].key, key(A, "c"));
}

#[test]
fn a_paused_folder_starts_nothing_while_the_others_go_on() {
    let t0 = Instant::now();
    let mut core = core_with(Mode::Watch, &[(A, false), (B, false)], t0);
    core.handle_folder_paused(t0, A, true);
    drain(&mut core);
    core.handle_changed(t0, key(A, "a"), Some(QUIET));
    core.handle_changed(t0, key(B, "b"), Some(QUIET));
    let actions = drain(&mut core);
    assert_eq!(examined(&actions), vec![key(B, "b")]);
    core.handle_examined(t0, vec![(key(B, "b"), send(5))]);
    assert_eq!(started(&drain(&mut core))[0].key, key(B, "b"));
    core.handle_folder_paused(t0, A, false);
    let actions = drain(&mut core);
    assert_eq!(
        examined(&actions),
        vec![key(A, "a")],
        "examined once resumed"
    );
}

#[test]
fn scans_find_changes_deletions_and_unfinished_work_with_their_retry_times() {
    let t0 = Instant::now();
    let mut core = SyncCore::new(options(), Mode::Watch, 3);
    core.handle_folder_added(t0, A, false, false);
    assert_eq!(drain(&mut core), vec![Action::Scan(A)]);
    let found = ScanFound {
        changed: vec![
            ("old".into(), Some(secs(100))),
            ("new".into(), Some(Duration::ZERO)),
        ],
        gone: vec!["gone".into()],
        unfinished: vec![("later".into(), Some(secs(30))), ("crashed".into(), None)],
    };
    core.handle_scanned(t0, A, Some(found));
    let mut now = examined(&drain(&mut core));
    now.sort();
    assert_eq!(now, vec![key(A, "crashed"), key(A, "gone"), key(A, "old")]);
    core.handle_timeout(t0 + QUIET);
    assert_eq!(examined(&drain(&mut core)), vec![key(A, "new")]);
    core.handle_timeout(t0 + secs(30));
    assert_eq!(examined(&drain(&mut core)), vec![key(A, "later")]);
    // The next full scan is due after the interval.
    assert_eq!(core.poll_timeout(), Some(t0 + secs(3600)));
    core.handle_timeout(t0 + secs(3600));
    assert_eq!(drain(&mut core), vec![Action::Scan(A)]);
}

#[test]
fn a_folder_the_os_cannot_watch_is_scanned_on_the_fallback_interval() {
    let t0 = Instant::now();
    let mut core = core_with(Mode::Watch, &[(A, false)], t0);
    core.handle_watch_failed(t0, A);
    assert_eq!(core.poll_timeout(), Some(t0 + secs(60)));
    core.handle_timeout(t0 + secs(60));
    assert_eq!(drain(&mut core), vec![Action::Scan(A)]);
    core.handle_scanned(t0 + secs(60), A, Some(ScanFound::default()));
    assert_eq!(core.poll_timeout(), Some(t0 + secs(120)));
}

#[test]
fn a_one_shot_run_examines_at_once_and_is_idle_when_done() {
    let t0 = Instant::now();
    let mut core = SyncCore::new(options(), Mode::Once, 3);
    core.handle_folder_added(t0, A, false, false);
    assert!(!core.is_idle(), "scanning");
    drain(&mut core);
    let found = ScanFound {
        changed: vec![("f".into(), Some(Duration::ZERO))],
        gone: vec![],
        unfinished: vec![("g".into(), Some(secs(30)))],
    };
    core.handle_scanned(t0, A, Some(found));
    let actions = drain(&mut core);
    assert_eq!(
        examined(&actions).len(),
        2,
        "no quiet period, no retry wait: {actions:?}"
    );
    core.handle_examined(
        t0,
        vec![(key(A, "f"), send(1)), (key(A, "g"), Examined::Settled)],
    );
    let job = started(&drain(&mut core)).remove(0);
    assert!(!core.is_idle());
    core.handle_job_done(t0, job.key, job.id, JobEnd::Uploaded { bytes: 7 });
    drain(&mut core);
    assert!(core.is_idle());
    let tally = core.take_tally();
    assert_eq!((tally.uploaded, tally.bytes_sent), (1, 7));
}

#[test]
fn what_the_planner_and_the_watcher_said_reaches_the_job_and_the_examination() {
    let t0 = Instant::now();
    let mut core = core_with(Mode::Watch, &[(A, false)], t0);
    core.handle_renamed(key(A, "old"), "new".into());
    core.handle_changed(t0, key(A, "old"), Some(QUIET));
    let actions = drain(&mut core);
    assert_eq!(
        actions,
        vec![Action::Examine(vec![(key(A, "old"), Some("new".into()))])]
    );
    core.handle_changed(t0, key(A, "touched"), Some(QUIET));
    drain(&mut core);
    let hash = Examined::Send {
        size: 3,
        hash_first: true,
        changed: true,
        attempts: 0,
    };
    core.handle_examined(t0, vec![(key(A, "touched"), hash)]);
    let job = started(&drain(&mut core)).remove(0);
    assert!(job.hash_first, "the job hashes first");
}
