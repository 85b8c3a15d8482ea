//! `ferry login`, `ferry upload` and `ferry logout` against the real Secret Service
//! (gnome-keyring in a private D-Bus session), as a user runs them: the token goes to the
//! keyring and nowhere else (not the journal, not any file under HOME, not the output with
//! logs on), uploads need no `FERRY_TOKEN`, and after logout the server refuses the token.
//!
//! The parent runs this test binary again as a child under `dbus-run-session` with a scratch
//! HOME and XDG_RUNTIME_DIR, so it never touches the keyring of whoever runs the tests. The
//! child is an `#[ignore]`d test that does nothing unless started by its parent.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use ferry_engine::auth::Credentials;
use ferry_tests::server::{TestServer, files_containing, files_under, random_file};

use crate::support::{Running, assert_success, ferry_command, run_bounded};

/// Set by the parent; without it the child returns at once.
const CHILD_MARK: &str = "FERRY_TEST_CLI_KEYRING_CHILD";
/// Printed by a child that did all its checks, so the parent knows it really ran.
const CHILD_DONE: &str = "cli keyring child: all checks done";
const ANN_PASSWORD: &str = "ann's password";

fn on_path(program: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|paths| std::env::split_paths(&paths).any(|dir| dir.join(program).is_file()))
}

#[test]
fn login_upload_logout_through_the_real_secret_service_leaves_the_token_nowhere_else() {
    let missing: Vec<&str> = ["dbus-run-session", "gnome-keyring-daemon"]
        .into_iter()
        .filter(|p| !on_path(p))
        .collect();
    assert!(
        missing.is_empty(),
        "{} not installed: this test runs the real Secret Service (gnome-keyring in a private \
         D-Bus session). `make test` installs them; or run `bash scripts/setup-test-tools.sh`",
        missing.join(" and ")
    );
    let home = tempfile::tempdir().unwrap();
    let runtime = tempfile::tempdir().unwrap();
    let mut command = Command::new("dbus-run-session");
    command
        .args([
            "--",
            "bash",
            "-c",
            r#"echo -n pass | gnome-keyring-daemon --unlock --components=secrets >/dev/null; exec "$0" "$@""#,
        ])
        .arg(std::env::current_exe().unwrap())
        .args([
            "keyring::keyring_child",
            "--exact",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("HOME", home.path())
        .env("XDG_RUNTIME_DIR", runtime.path())
        .env(CHILD_MARK, "1")
        .env_remove("DBUS_SESSION_BUS_ADDRESS")
        .env_remove("DISPLAY")
        .env_remove("WAYLAND_DISPLAY")
        .env_remove("XDG_DATA_HOME")
        .env_remove("XDG_CONFIG_HOME")
        .env_remove("XDG_CACHE_HOME")
        .env_remove("FERRY_TOKEN")
        .env_remove("RUST_LOG")
        .stdin(Stdio::null());
    let out = Running::spawn("the keyring child test", command).finish(Duration::from_secs(120));
    let text = format!(
        "--- stdout\n{}\n--- stderr\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success() && text.contains(CHILD_DONE),
        "the child test failed or did not run its checks:\n{text}"
    );
}

/// Runs ferry with logs on (`-vv`: debug), at most 30 s.
fn ferry_logged(home: &Path, args: &[&str], stdin: Option<&Path>) -> Output {
    let mut all = vec!["-vv"];
    all.extend_from_slice(args);
    let mut command = ferry_command(home, None, &all);
    if let Some(stdin) = stdin {
        command.stdin(std::fs::File::open(stdin).unwrap());
    }
    run_bounded(&format!("ferry {args:?}"), command, Duration::from_secs(30))
}

#[ignore = "a child of login_upload_logout_through_the_real_secret_service_leaves_the_token_nowhere_else"]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keyring_child() {
    if std::env::var_os(CHILD_MARK).is_none() {
        eprintln!(
            "run by login_upload_logout_through_the_real_secret_service_leaves_the_token_nowhere_else only"
        );
        return;
    }
    let scratch = PathBuf::from(std::env::var_os("HOME").unwrap());
    let home = scratch.join("ferry-home");
    let server = TestServer::start().await;
    let password = scratch.join("password.txt");
    std::fs::write(&password, format!("{ANN_PASSWORD}\n")).unwrap();

    let login = ferry_logged(
        &home,
        &["login", &server.base, "--user", "ann", "--password-stdin"],
        Some(&password),
    );
    std::fs::remove_file(&password).unwrap();
    assert_success("ferry login", &login);
    let credentials = Credentials::with_env_token(None);
    let token = credentials
        .token(&server.base, "ann")
        .expect("the keyring answers")
        .expect("ferry login put the token in the keyring");
    assert!(!token.is_empty());

    // No FERRY_TOKEN: the upload finds the token in the keyring.
    let (file, bytes) = random_file(&scratch, "keyring.bin", 300_000, 51);
    let upload = ferry_logged(
        &home,
        &[
            "upload",
            file.to_str().unwrap(),
            "--server",
            &server.base,
            "--chunk-size",
            "65536",
        ],
        None,
    );
    assert_success("ferry upload with the keyring's token", &upload);
    assert_eq!(
        std::fs::read(server.file("ann", "keyring.bin")).unwrap(),
        bytes
    );

    let logout = ferry_logged(&home, &["logout", &server.base], None);
    assert_success("ferry logout", &logout);
    assert_eq!(
        credentials.token(&server.base, "ann").unwrap(),
        None,
        "gone from the keyring"
    );
    let status = TestServer::http()
        .get(server.url("/api/v1/files"))
        .bearer_auth(token.expose())
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status, 401, "the server refuses the token after logout");

    // The logs were on (the check below would pass vacuously on empty output) ...
    let logs = String::from_utf8_lossy(&upload.stderr);
    assert!(logs.contains("DEBUG"), "-vv logs at debug:\n{logs}");
    // ... and no secret is in any output or any file under HOME, the journal included
    // (gnome-keyring's own file is encrypted).
    assert!(
        files_under(&home)
            .iter()
            .any(|f| f.to_string_lossy().contains("journal")),
        "the journal is under the ferry home: {:?}",
        files_under(&home)
    );
    for secret in [token.expose(), ANN_PASSWORD] {
        for (what, out) in [("login", &login), ("upload", &upload), ("logout", &logout)] {
            for stream in [&out.stdout, &out.stderr] {
                assert!(
                    !String::from_utf8_lossy(stream).contains(secret),
                    "a secret in the output of ferry {what}"
                );
            }
        }
        assert_eq!(
            files_containing(&scratch, secret),
            Vec::<PathBuf>::new(),
            "files under HOME holding a secret"
        );
    }
    println!("{CHILD_DONE}");
}
