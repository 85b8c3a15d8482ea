//! Holds (the system's state, the schedule) and the network's return, on virtual time.

use std::time::Instant;

use super::tests::{A, B, MIB, core_with, drain, examined, failed, key, queue, secs, started};
use super::*;

#[test]
fn a_hold_on_one_folder_stops_its_jobs_and_lets_the_others_go_on() {
    let t0 = Instant::now();
    let mut core = core_with(Mode::Watch, &[(A, false), (B, false)], t0);
    let jobs = queue(&mut core, t0, &[(key(A, "a"), MIB), (key(B, "b"), 2 * MIB)]);
    assert_eq!(jobs.len(), 2);
    core.handle_held(t0, Some(A), true);
    let actions = drain(&mut core);
    assert_eq!(
        actions,
        vec![Action::Stop(key(A, "a"))],
        "no notice: a hold is not a pause"
    );
    assert!(core.is_running(&key(B, "b")));
    // While held, its stopped file is not examined again.
    core.handle_timeout(t0 + secs(10));
    assert!(examined(&drain(&mut core)).is_empty());
    core.handle_held(t0 + secs(10), Some(A), false);
    assert_eq!(examined(&drain(&mut core)), vec![key(A, "a")], "it goes on");
    // Holding twice or releasing a folder not held changes nothing.
    core.handle_held(t0 + secs(10), Some(B), false);
    assert!(drain(&mut core).is_empty());
}

#[test]
fn holding_everything_starts_nothing_until_it_ends_and_keeps_the_users_pause() {
    let t0 = Instant::now();
    let mut core = core_with(Mode::Watch, &[(A, false)], t0);
    let jobs = queue(&mut core, t0, &[(key(A, "a"), MIB)]);
    core.handle_held(t0, None, true);
    assert_eq!(drain(&mut core), vec![Action::Stop(jobs[0].key.clone())]);
    assert_eq!(core.poll_timeout(), None, "nothing is due while held");
    assert!(!core.is_paused(), "the user's pause is another thing");
    core.handle_changed(t0, key(A, "b"), Some(secs(5)));
    core.handle_timeout(t0 + secs(100));
    let actions = drain(&mut core);
    assert!(examined(&actions).is_empty() && started(&actions).is_empty());
    // The user pauses during the hold; the hold ends: still paused.
    core.handle_pause_all(t0 + secs(100), true);
    drain(&mut core);
    core.handle_held(t0 + secs(100), None, false);
    assert!(examined(&drain(&mut core)).is_empty(), "paused by the user");
    core.handle_pause_all(t0 + secs(101), false);
    let mut again = examined(&drain(&mut core));
    again.sort();
    assert_eq!(again, vec![key(A, "a"), key(A, "b")]);
}

#[test]
fn when_the_network_is_back_waiting_files_go_at_once_keeping_their_count() {
    let t0 = Instant::now();
    let mut core = core_with(Mode::Watch, &[(A, false)], t0);
    let job = queue(&mut core, t0, &[(key(A, "f"), 1)]).remove(0);
    core.handle_job_done(t0, job.key.clone(), job.id, failed(true));
    drain(&mut core);
    let due = core.poll_timeout().expect("a retry time");
    assert!(due > t0, "it waits");
    core.handle_network_back(t0);
    let actions = drain(&mut core);
    assert_eq!(examined(&actions), vec![key(A, "f")], "tried at once");
    core.handle_examined(
        t0,
        vec![(
            key(A, "f"),
            Examined::Send {
                size: 1,
                hash_first: false,
                changed: false,
                attempts: 1,
            },
        )],
    );
    let job = started(&drain(&mut core)).remove(0);
    core.handle_job_done(t0, job.key.clone(), job.id, failed(true));
    let attempt = drain(&mut core).into_iter().find_map(|a| match a {
        Action::Notify(Notice::Retrying { attempt, .. }) => Some(attempt),
        _ => None,
    });
    assert_eq!(attempt, Some(2), "the second failure in a row");
}
