//! The sync core's failures on virtual time: retries and their growing waits, parked
//! files, files that change under their upload, refused sign-ins, "retry now".

use std::time::Duration;

use super::tests::*;
use super::*;

#[test]
fn a_retryable_failure_is_tried_again_later_and_its_waits_never_shrink() {
    let t0 = Instant::now();
    let mut core = core_with(Mode::Watch, &[(A, false)], t0);
    let mut job = queue(&mut core, t0, &[(key(A, "f"), 1)]).remove(0);
    let mut now = t0;
    let mut last = Duration::ZERO;
    for attempt in 1..=12u32 {
        core.handle_job_done(now, job.key.clone(), job.id, failed(true));
        let actions = drain(&mut core);
        let wait = actions
            .iter()
            .find_map(|a| match a {
                Action::RecordFailure { retry_in, .. } => *retry_in,
                _ => None,
            })
            .expect("recorded with a retry time");
        assert!(wait >= last, "attempt {attempt}: {wait:?} after {last:?}");
        assert!(wait <= secs(600), "capped");
        assert!(actions.iter().any(|a| matches!(a,
            Action::Notify(Notice::Retrying { attempt: n, .. }) if *n == attempt)));
        last = wait;
        assert_eq!(core.poll_timeout(), Some(now + wait));
        now += wait;
        core.handle_timeout(now);
        let again = examined(&drain(&mut core));
        assert_eq!(again, vec![key(A, "f")]);
        core.handle_examined(
            now,
            vec![(
                key(A, "f"),
                Examined::Send {
                    size: 1,
                    hash_first: false,
                    changed: false,
                    attempts: attempt,
                },
            )],
        );
        job = started(&drain(&mut core)).remove(0);
    }
    core.handle_job_done(now, job.key.clone(), job.id, JobEnd::Uploaded { bytes: 1 });
    let actions = drain(&mut core);
    assert!(
        actions.contains(&Action::ClearFailure(key(A, "f"))),
        "{actions:?}"
    );
}

#[test]
fn a_permanent_failure_is_parked_and_a_one_shot_run_leaves_retries_to_the_next_run() {
    for (mode, retryable, retry_in) in [
        (Mode::Watch, false, None),
        (Mode::Once, false, None),
        (Mode::Once, true, Some(handle::ONCE_RETRY)),
    ] {
        let t0 = Instant::now();
        let mut core = core_with(mode, &[(A, false)], t0);
        let job = queue(&mut core, t0, &[(key(A, "f"), 1)]).remove(0);
        core.handle_job_done(t0, job.key.clone(), job.id, failed(retryable));
        let actions = drain(&mut core);
        assert!(
            actions.contains(&Action::RecordFailure {
                key: key(A, "f"),
                message: "boom".into(),
                retry_in,
            }),
            "{mode:?} {retryable}: {actions:?}"
        );
        assert!(actions.contains(&Action::Notify(Notice::Left(key(A, "f")))));
        assert_eq!(core.poll_timeout().filter(|_| mode == Mode::Once), None);
        assert_eq!(core.take_tally().failed.len(), 1);
    }
}

#[test]
fn a_file_that_changed_under_its_upload_goes_again_once_quiet() {
    let t0 = Instant::now();
    let mut core = core_with(Mode::Watch, &[(A, false)], t0);
    let job = queue(&mut core, t0, &[(key(A, "f"), 1)]).remove(0);
    core.handle_job_done(t0, job.key, job.id, JobEnd::FileChanged);
    assert!(examined(&drain(&mut core)).is_empty());
    core.handle_timeout(t0 + QUIET);
    assert_eq!(examined(&drain(&mut core)), vec![key(A, "f")]);
}

#[test]
fn a_refused_sign_in_forgets_the_server() {
    let t0 = Instant::now();
    let mut core = core_with(Mode::Watch, &[(A, false)], t0);
    let job = queue(&mut core, t0, &[(key(A, "f"), 1)]).remove(0);
    let end = JobEnd::Failed {
        message: "refused".into(),
        retryable: false,
        unauthorized: true,
        server_full: false,
        unreachable: false,
    };
    core.handle_job_done(t0, job.key, job.id, end);
    let actions = drain(&mut core);
    assert!(actions.contains(&Action::ForgetServer(A)));
    assert!(actions.contains(&Action::Notify(Notice::SignedOut(A))));
}

#[test]
fn retry_now_examines_the_files_at_once_and_forgets_their_waits() {
    let t0 = Instant::now();
    let mut core = core_with(Mode::Watch, &[(A, false)], t0);
    let job = queue(&mut core, t0, &[(key(A, "f"), 1)]).remove(0);
    core.handle_job_done(t0, job.key, job.id, failed(true));
    drain(&mut core);
    assert_eq!(core.retrying().count(), 1);
    core.handle_retry(t0 + secs(1), vec![key(A, "f")]);
    assert_eq!(examined(&drain(&mut core)), vec![key(A, "f")]);
    assert_eq!(core.retrying().count(), 0);
}

#[test]
fn retry_now_restarts_a_running_upload_that_waits_out_its_own_backoff() {
    let t0 = Instant::now();
    let mut core = core_with(Mode::Watch, &[(A, false)], t0);
    let job = queue(&mut core, t0, &[(key(A, "f"), 1)]).remove(0);
    core.handle_restart(t0 + secs(1), vec![job.key.clone(), key(A, "not running")]);
    let actions = drain(&mut core);
    assert!(
        actions.contains(&Action::Stop(job.key.clone())),
        "{actions:?}"
    );
    assert_eq!(
        examined(&actions),
        vec![job.key],
        "examined again at once, and only the running one"
    );
}

#[test]
fn a_server_out_of_space_makes_the_file_wait_minutes_with_that_reason() {
    let t0 = Instant::now();
    let mut core = core_with(Mode::Watch, &[(A, false)], t0);
    let job = queue(&mut core, t0, &[(key(A, "f"), 1)]).remove(0);
    let end = JobEnd::Failed {
        message: "waiting: the server is out of space".into(),
        retryable: true,
        unauthorized: false,
        server_full: true,
        unreachable: false,
    };
    core.handle_job_done(t0, job.key, job.id, end);
    let actions = drain(&mut core);
    let (message, wait) = actions
        .iter()
        .find_map(|a| match a {
            Action::RecordFailure {
                message, retry_in, ..
            } => Some((message.clone(), *retry_in)),
            _ => None,
        })
        .expect("recorded");
    assert_eq!(message, "waiting: the server is out of space");
    let wait = wait.expect("tried again by itself, not parked");
    assert!(wait >= handle::SERVER_FULL_WAIT, "a long wait: {wait:?}");
    assert_eq!(core.poll_timeout(), Some(t0 + wait));
    assert!(
        !actions
            .iter()
            .any(|a| matches!(a, Action::Notify(Notice::SignedOut(_)))),
        "not a sign-in problem"
    );
}
