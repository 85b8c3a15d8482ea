//! Tests of the real OS keyring that never touch the keyring of whoever runs them: the test
//! runs its own test binary again as a child process with a scratch HOME and
//! XDG_RUNTIME_DIR and no desktop session, either in a private D-Bus session with
//! gnome-keyring unlocked (the real Secret Service, [`Session::SecretService`]) or with no
//! D-Bus session at all ([`Session::NoDbus`]).
//!
//! One test is both parent and child, so nothing is `#[ignore]`d and nothing can pass by
//! doing nothing:
//!
//! ```text
//! #[test]
//! fn tokens_round_trip_through_the_real_secret_service() {
//!     if !ferry_tests::keyring::in_child("auth::tokens_round_trip_through_the_real_secret_service", Session::SecretService) {
//!         return; // the parent: the child ran this test and it passed
//!     }
//!     // the checks, in the child
//! }
//! ```
//!
//! The parent fails the test unless the child ran exactly that test and libtest reported
//! it passed; when `dbus-run-session` or `gnome-keyring-daemon` is missing or does not
//! start, it fails with the way to install them. It knows nothing of Ferry.

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use crate::process::Running;

/// Names the test a child process was started to run.
const CHILD: &str = "FERRY_TEST_CHILD";

/// How long a child test may take.
const LIMIT: Duration = Duration::from_secs(120);

/// The environment of the child.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Session {
    /// A private D-Bus session with gnome-keyring's Secret Service, unlocked.
    SecretService,
    /// No D-Bus session at all (a headless server).
    NoDbus,
}

/// In the child started for `test`: true, go on with the checks. Anywhere else: runs this
/// test binary's test `test` (its full name, `module::name`) as that child in `session`,
/// fails unless it passed, and returns false (the parent has nothing more to check).
pub fn in_child(test: &str, session: Session) -> bool {
    in_child_with(test, session, &[])
}

/// [`in_child`], with `env` set in the child.
pub fn in_child_with(test: &str, session: Session, env: &[(&str, &str)]) -> bool {
    if std::env::var(CHILD).is_ok_and(|t| t == test) {
        return true;
    }
    run_child(test, session, env);
    false
}

/// Whether `program` is on PATH.
pub fn on_path(program: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|paths| std::env::split_paths(&paths).any(|dir| dir.join(program).is_file()))
}

fn run_child(test: &str, session: Session, env: &[(&str, &str)]) {
    let exe = std::env::current_exe().expect("the test binary's path");
    let mut command = match session {
        Session::SecretService => {
            let missing: Vec<&str> = ["dbus-run-session", "gnome-keyring-daemon"]
                .into_iter()
                .filter(|p| !on_path(p))
                .collect();
            assert!(
                missing.is_empty(),
                "{} not installed: this test runs the real Secret Service (gnome-keyring in a \
                 private D-Bus session). `make test` installs them (scripts/setup-test-tools.sh); \
                 or run `make test-tools`",
                missing.join(" and ")
            );
            let mut command = Command::new("dbus-run-session");
            command.args([
                "--",
                "bash",
                "-c",
                r#"echo -n pass | gnome-keyring-daemon --unlock --components=secrets >/dev/null \
                   || { echo "gnome-keyring-daemon did not start" >&2; exit 1; }
                   exec "$0" "$@""#,
            ]);
            command.arg(exe);
            command
        }
        Session::NoDbus => Command::new(exe),
    };
    command.args([test, "--exact", "--nocapture", "--test-threads=1"]);
    let home = tempfile::tempdir().expect("a scratch HOME");
    // tempfile makes it 0700, as XDG_RUNTIME_DIR must be.
    let runtime = tempfile::tempdir().expect("a scratch XDG_RUNTIME_DIR");
    command
        .env(CHILD, test)
        .env("HOME", home.path())
        .env("XDG_RUNTIME_DIR", runtime.path())
        .env_remove("DBUS_SESSION_BUS_ADDRESS")
        .env_remove("DISPLAY")
        .env_remove("WAYLAND_DISPLAY")
        .env_remove("XDG_DATA_HOME")
        .env_remove("XDG_CONFIG_HOME")
        .env_remove("XDG_CACHE_HOME")
        .env_remove("FERRY_TOKEN")
        .env_remove("RUST_LOG")
        .stdin(std::process::Stdio::null());
    for (name, value) in env {
        command.env(name, value);
    }
    let out = Running::spawn(&format!("the child test {test}"), command).finish(LIMIT);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let shown = format!(
        "--- stdout\n{stdout}\n--- stderr\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success()
            // `--exact`: the one test that passed is this one (its own output may stand
            // between its name and the `ok`).
            && stdout.contains(&format!("test {test} ... "))
            && stdout.contains("test result: ok. 1 passed"),
        "the child test {test} failed or did not run:\n{shown}"
    );
}

/// The scratch HOME of the child (where the keyring keeps its files).
///
/// # Panics
/// Outside a child, which has no scratch HOME.
pub fn child_home() -> PathBuf {
    assert!(
        std::env::var_os(CHILD).is_some(),
        "child_home() is for the child test"
    );
    PathBuf::from(std::env::var_os("HOME").expect("the child's HOME"))
}
