//! `ferry login`, `ferry upload` and `ferry logout` against the real Secret Service
//! (gnome-keyring in a private D-Bus session), as a user runs them: the token goes to the
//! keyring and nowhere else (not the journal, not any file under HOME, not the output with
//! logs on), uploads need no `FERRY_TOKEN`, and after logout the server refuses the token.
//!
//! The test runs this test binary again as a child under `dbus-run-session` with a scratch
//! HOME and XDG_RUNTIME_DIR ([`ferry_tests::keyring`]), so it never touches the keyring of
//! whoever runs the tests; the child is the same test.

use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::Duration;

use ferry_engine::auth::Credentials;
use ferry_tests::keyring::{self, Session};
use ferry_tests::server::{TestServer, files_containing, files_under, random_file};

use crate::support::{assert_success, ferry_command, run_bounded};

const ANN_PASSWORD: &str = "ann's password";

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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_upload_logout_through_the_real_secret_service_leaves_the_token_nowhere_else() {
    if !keyring::in_child(
        "keyring::login_upload_logout_through_the_real_secret_service_leaves_the_token_nowhere_else",
        Session::SecretService,
    ) {
        return;
    }
    let scratch = keyring::child_home();
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
}
