//! The `ferry-server` binary: the exact start line, accounts and tokens from the command line.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_ferry-server");

use crate::hostile_support::cli as ferry_server;

#[tokio::test]
async fn serve_prints_the_listening_line_and_accounts_work_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().to_str().unwrap();
    let added = ferry_server(
        &["user", "add", "ann", "--password-stdin", "--data", data],
        "secret\n",
    );
    assert!(
        added.status.success(),
        "{}",
        String::from_utf8_lossy(&added.stderr)
    );
    let issued = ferry_server(&["token", "issue", "ann", "--data", data], "");
    assert!(issued.status.success());
    let token = String::from_utf8(issued.stdout).unwrap().trim().to_owned();
    assert!(
        token.starts_with("fry_") && token.len() > 40,
        "a token on stdout"
    );

    let mut server = Command::new(BIN)
        .args(["serve", "--listen", "127.0.0.1:0", "--data", data])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(server.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let addr = line
        .strip_prefix("listening on http://")
        .and_then(|a| a.strip_suffix('\n'));
    let addr = addr.unwrap_or_else(|| panic!("exactly `listening on http://ADDR`, got {line:?}"));
    assert!(
        addr.starts_with("127.0.0.1:") && !addr.ends_with(":0"),
        "the real port: {addr}"
    );
    let http = reqwest::Client::new();
    let files = http
        .get(format!("http://{addr}/api/v1/files"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(files.status(), 200);

    let revoked = ferry_server(&["token", "revoke", &token, "--data", data], "");
    assert!(revoked.status.success());
    let again = ferry_server(&["token", "revoke", &token, "--data", data], "");
    assert!(!again.status.success(), "revoking twice says so");
    let refused = http
        .get(format!("http://{addr}/api/v1/files"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 401);
    server.kill().unwrap();
    server.wait().unwrap();

    let duplicate = ferry_server(
        &["user", "add", "ann", "--password-stdin", "--data", data],
        "x\n",
    );
    assert!(!duplicate.status.success());
    assert!(String::from_utf8_lossy(&duplicate.stderr).contains("exists already"));
}
