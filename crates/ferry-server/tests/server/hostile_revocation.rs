//! Revocation reaches open connections (issue 10, finding 8): a token signed out
//! (`POST /api/v1/logout`) or revoked by the operator (`ferry-server token revoke`, another
//! process on the same data directory) stops its running tus PATCH and its GalileoSend
//! session within a second or two, and nothing more of theirs is published.

use std::time::{Duration, Instant};

use tokio::io::AsyncWriteExt;

use crate::galileo_client::{data, expect_fatal, recv, send_binary, send_text};
use crate::hostile_support::{
    cli, create_upload, head, login, patch_head, read_answer, send_raw, status_of,
};
use crate::support::TestServer;

/// A generous bound on "within a second" (the session watcher polls every 250 ms).
const SOON: Duration = Duration::from_secs(3);

fn small_chunks(config: &mut ferry_server::Config) {
    config.galileo_chunksize = 1000;
}

/// The id `token list ann` shows for the token of `device`.
fn token_id(server: &TestServer, device: &str, secret: &str) -> String {
    let data = server.data();
    let listed = cli(
        &["token", "list", "ann", "--data", data.to_str().unwrap()],
        "",
    );
    assert!(listed.status.success(), "{listed:?}");
    let text = String::from_utf8(listed.stdout).unwrap();
    assert!(
        !text.contains(secret),
        "token list never shows a token's value"
    );
    text.lines()
        .find(|l| l.ends_with(&format!("\t{device}")))
        .and_then(|l| l.split('\t').next())
        .unwrap_or_else(|| panic!("a token for {device} in:\n{text}"))
        .to_owned()
}

/// Starts a PATCH of a 1 MiB upload with `token` and sends its first 64 KiB; returns the
/// connection, the upload's location and its bytes.
async fn running_patch(
    server: &TestServer,
    token: &str,
    name: &str,
) -> (tokio::net::TcpStream, String, Vec<u8>) {
    let bytes = data(1 << 20, 9);
    let location = create_upload(&server.base, token, bytes.len() as u64, name).await;
    let mut stream = send_raw(server.addr, &patch_head(&location, token, 0, bytes.len())).await;
    stream.write_all(&bytes[..64 << 10]).await.unwrap();
    (stream, location, bytes)
}

/// Expects the running PATCH on `stream` to be answered 401 within [`SOON`], and the
/// upload to be unpublished and incomplete.
async fn expect_stopped(
    server: &TestServer,
    stream: &mut tokio::net::TcpStream,
    location: &str,
    name: &str,
    total: usize,
) {
    let started = Instant::now();
    let answer = read_answer(stream, SOON)
        .await
        .unwrap_or_else(|| panic!("the revoked token's PATCH is still running after {SOON:?}"));
    assert_eq!(status_of(&answer), Some(401), "{answer}");
    assert!(started.elapsed() < SOON);
    // The rest of the body cannot go anywhere now.
    let _ = stream.write_all(&vec![0u8; total]).await;
    let (status, offset) = head(&server.base, &server.ann, location).await;
    assert_eq!(status, 200);
    assert!(
        offset.is_some_and(|o| o < total as u64),
        "the upload did not complete: {offset:?}"
    );
    assert!(
        !server.file("ann", name).exists(),
        "nothing of a revoked token is published"
    );
}

#[tokio::test]
async fn signing_out_stops_the_tokens_running_patch() {
    let server = TestServer::start().await;
    let phone = login(&server.base, "ann", "ann's password", "phone").await;
    let (mut stream, location, bytes) = running_patch(&server, &phone, "phone.bin").await;
    let out = TestServer::http()
        .post(server.url("/api/v1/logout"))
        .bearer_auth(&phone)
        .send()
        .await
        .unwrap();
    assert_eq!(out.status(), 200);
    expect_stopped(&server, &mut stream, &location, "phone.bin", bytes.len()).await;
}

#[tokio::test]
async fn revoking_a_token_by_id_from_the_command_line_stops_its_running_patch() {
    let server = TestServer::start().await;
    let laptop = login(&server.base, "ann", "ann's password", "laptop").await;
    let (mut stream, location, bytes) = running_patch(&server, &laptop, "laptop.bin").await;
    let id = token_id(&server, "laptop", &laptop);
    let data = server.data();
    let revoked = cli(
        &[
            "token",
            "revoke",
            "--id",
            &id,
            "--data",
            data.to_str().unwrap(),
        ],
        "",
    );
    assert!(revoked.status.success(), "{revoked:?}");
    expect_stopped(&server, &mut stream, &location, "laptop.bin", bytes.len()).await;
    let files = TestServer::http()
        .get(server.url("/api/v1/files"))
        .bearer_auth(&server.ann)
        .send()
        .await
        .unwrap();
    assert_eq!(files.status(), 200, "ann's other tokens still work");
}

#[tokio::test]
async fn revoking_a_token_stops_its_galileo_session_and_nothing_is_published() {
    let server = TestServer::start_with(small_chunks).await;
    for how in ["logout", "token-stdin"] {
        let name = format!("{how}.bin");
        let tablet = login(&server.base, "ann", "ann's password", how).await;
        let mut ws = crate::galileo_client::connect(&server, &tablet).await;
        let meta = serde_json::json!({"name": name, "path": name, "size": 3000});
        send_text(&mut ws, &meta.to_string()).await;
        assert_eq!(recv(&mut ws).await["ready"], true);
        send_binary(&mut ws, &data(1000, 2)).await;
        assert_eq!(recv(&mut ws).await["ready"], true);
        let started = Instant::now();
        if how == "logout" {
            let out = TestServer::http()
                .post(server.url("/api/v1/logout"))
                .bearer_auth(&tablet)
                .send()
                .await
                .unwrap();
            assert_eq!(out.status(), 200);
        } else {
            let data_dir = server.data();
            let revoked = cli(
                &[
                    "token",
                    "revoke",
                    "--token-stdin",
                    "--data",
                    data_dir.to_str().unwrap(),
                ],
                &format!("{tablet}\n"),
            );
            assert!(revoked.status.success(), "{revoked:?}");
        }
        let signal = expect_fatal(&mut ws, "unauthorized").await;
        assert!(
            started.elapsed() < SOON,
            "{how}: the session stopped after {:?}: {signal}",
            started.elapsed()
        );
        assert!(
            !server.file("ann", &name).exists(),
            "{how}: nothing published"
        );
    }
}

#[tokio::test]
async fn operators_revoke_all_of_a_users_tokens_without_their_values() {
    let server = TestServer::start().await;
    let data = server.data();
    let data = data.to_str().unwrap();
    let desk = login(&server.base, "ann", "ann's password", "desk").await;
    let refused = cli(&["token", "revoke", "--all", "--data", data], "");
    assert!(!refused.status.success(), "--all needs --user");
    let revoked = cli(
        &["token", "revoke", "--user", "ann", "--all", "--data", data],
        "",
    );
    assert!(revoked.status.success(), "{revoked:?}");
    let http = TestServer::http();
    for token in [&desk, &server.ann] {
        let reply = http
            .get(server.url("/api/v1/files"))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        assert_eq!(reply.status(), 401, "every token of ann is revoked");
    }
    let bob = http
        .get(server.url("/api/v1/files"))
        .bearer_auth(&server.bob)
        .send()
        .await
        .unwrap();
    assert_eq!(bob.status(), 200, "bob's token is not ann's");
    let listed = cli(&["token", "list", "ann", "--data", data], "");
    let text = String::from_utf8(listed.stdout).unwrap();
    assert!(
        text.lines().skip(1).all(|l| l.contains("revoked@")),
        "{text}"
    );
    let stale = cli(&["token", "revoke", &desk, "--data", data], "");
    assert!(!stale.status.success(), "revoking a revoked token says so");
}
