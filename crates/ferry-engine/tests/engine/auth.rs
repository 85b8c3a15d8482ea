//! Signing in and out of a real ferry-server, and tokens in the real OS keyring.
//!
//! The keyring tests run this test binary again as a child process ([`ferry_tests::keyring`]),
//! so that the child gets an environment of its own (a scratch HOME and XDG_RUNTIME_DIR, a
//! private D-Bus session with gnome-keyring, or no D-Bus at all) without touching the keyring
//! of whoever runs the tests. Each such test is its own parent and child.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use ferry_engine::EngineError;
use ferry_engine::Token;
use ferry_engine::auth::{self, Credentials, Logout};
use ferry_tests::keyring::{self, Session};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::support::{TestServer, files_containing, files_under};

const ANN_PASSWORD: &str = "ann's password";

/// `GET /api/v1/files` with `token`: the status says whether the server accepts it.
async fn files_status(server: &TestServer, token: &Token) -> reqwest::StatusCode {
    TestServer::http()
        .get(server.url("/api/v1/files"))
        .bearer_auth(token.expose())
        .send()
        .await
        .expect("GET /api/v1/files")
        .status()
}

#[tokio::test]
async fn login_with_the_right_password_gets_a_token_the_server_accepts() {
    let server = TestServer::start().await;
    let token = auth::login(
        &TestServer::http(),
        &server.base,
        "ann",
        ANN_PASSWORD,
        "test laptop",
    )
    .await
    .expect("ann signs in");
    assert!(!token.is_empty());
    assert_ne!(token.expose(), server.ann, "a new token per sign-in");
    assert_eq!(files_status(&server, &token).await, reqwest::StatusCode::OK);
}

#[tokio::test]
async fn login_with_a_wrong_password_says_so() {
    let server = TestServer::start().await;
    let err = auth::login(
        &TestServer::http(),
        &server.base,
        "ann",
        "bob's password",
        "t",
    )
    .await
    .unwrap_err();
    assert!(
        matches!(&err, EngineError::WrongPassword { user, .. } if user == "ann"),
        "{err:?}"
    );
    assert!(
        err.to_string().contains("wrong user name or password"),
        "{err}"
    );
    let err = auth::login(&TestServer::http(), &server.base, "nobody", "x", "t")
        .await
        .unwrap_err();
    assert!(
        matches!(err, EngineError::WrongPassword { .. }),
        "an unknown user reads the same as a wrong password: {err:?}"
    );
}

#[tokio::test]
async fn five_failed_logins_make_the_server_ask_to_wait_even_with_the_right_password() {
    let server = TestServer::start().await;
    let http = TestServer::http();
    for attempt in 1..=5 {
        let err = auth::login(&http, &server.base, "ann", "guess", "t")
            .await
            .unwrap_err();
        assert!(
            matches!(err, EngineError::WrongPassword { .. }),
            "attempt {attempt}: {err:?}"
        );
    }
    let err = auth::login(&http, &server.base, "ann", ANN_PASSWORD, "t")
        .await
        .unwrap_err();
    let EngineError::TooManyAttempts {
        retry_after: Some(secs),
        ..
    } = err
    else {
        panic!("expected TooManyAttempts with Retry-After, got {err:?}");
    };
    assert!((1..=60).contains(&secs), "Retry-After {secs}");
    assert!(
        err.to_string().contains(&format!("try again in {secs} s")),
        "{err}"
    );
    assert!(!err.is_retryable(), "the person decides when to try again");
}

#[tokio::test]
async fn logout_revokes_the_token_and_a_second_logout_is_only_a_note() {
    let server = TestServer::start().await;
    let http = TestServer::http();
    let token = auth::login(&http, &server.base, "ann", ANN_PASSWORD, "t")
        .await
        .unwrap();
    assert_eq!(files_status(&server, &token).await, reqwest::StatusCode::OK);

    let out = auth::logout(&http, &server.base, &token).await.unwrap();
    assert_eq!(
        out,
        Logout {
            revoked: true,
            note: None
        }
    );
    assert_eq!(
        files_status(&server, &token).await,
        reqwest::StatusCode::UNAUTHORIZED,
        "a revoked token is refused"
    );
    assert_eq!(
        files_status(&server, &Token::new(server.ann.clone())).await,
        reqwest::StatusCode::OK,
        "ann's other tokens stay valid"
    );

    let again = auth::logout(&http, &server.base, &token).await.unwrap();
    assert!(!again.revoked);
    let note = again.note.expect("a note says why nothing was revoked");
    assert!(note.contains("does not know this token"), "{note}");
}

#[tokio::test]
async fn logout_of_a_server_that_is_down_is_a_network_error() {
    let server = TestServer::start().await;
    let base = server.base.clone();
    // Stopped and its listener closed: the port refuses from here on.
    server.stop().await;
    let err = auth::logout(&TestServer::http(), &base, &Token::new("t"))
        .await
        .unwrap_err();
    assert!(
        matches!(err, EngineError::Network { .. }),
        "the token may still be valid there: the caller must hear it, {err:?}"
    );
    assert_eq!(
        err.network_failure(),
        Some(ferry_engine::error::NetworkFailure::Refused),
        "{err}"
    );
    let err = auth::login(&TestServer::http(), &base, "ann", ANN_PASSWORD, "t")
        .await
        .unwrap_err();
    assert!(matches!(err, EngineError::Network { .. }), "{err:?}");
}

/// A server that answers every request with `response` (a whole HTTP/1.1 answer); its URL.
async fn fake_server(response: &'static str) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut conn, _)) = listener.accept().await {
            tokio::spawn(async move {
                // Read the request (head and Content-Length body) before answering.
                let mut seen = Vec::new();
                let mut buf = [0u8; 4096];
                loop {
                    let Ok(n) = conn.read(&mut buf).await else {
                        return;
                    };
                    if n == 0 {
                        return;
                    }
                    seen.extend_from_slice(&buf[..n]);
                    let text = String::from_utf8_lossy(&seen).to_ascii_lowercase();
                    if let Some(end) = text.find("\r\n\r\n") {
                        let length = text
                            .lines()
                            .find_map(|l| l.strip_prefix("content-length:"))
                            .and_then(|v| v.trim().parse::<usize>().ok())
                            .unwrap_or(0);
                        if seen.len() >= end + 4 + length {
                            break;
                        }
                    }
                }
                let _ = conn.write_all(response.as_bytes()).await;
                let _ = conn.shutdown().await;
            });
        }
    });
    format!("http://{addr}/files/")
}

#[tokio::test]
async fn a_server_that_is_not_a_ferry_server_is_told_to_take_a_pasted_token() {
    let http = TestServer::http();
    for response in [
        "HTTP/1.1 404 Not Found\r\ncontent-length: 9\r\nconnection: close\r\n\r\nnot found",
        "HTTP/1.1 200 OK\r\ncontent-type: text/html\r\ncontent-length: 13\r\nconnection: close\r\n\r\n<html></html>",
        "HTTP/1.1 401 Unauthorized\r\nwww-authenticate: Basic\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
    ] {
        let url = fake_server(response).await;
        let err = auth::login(&http, &url, "ann", ANN_PASSWORD, "t")
            .await
            .unwrap_err();
        assert!(
            matches!(err, EngineError::NotFerryServer { .. }),
            "{response:?}: {err:?}"
        );
        assert!(
            err.to_string().contains("paste a token"),
            "{response:?}: {err}"
        );

        let out = auth::logout(&http, &url, &Token::new("t")).await.unwrap();
        assert!(!out.revoked, "{response:?}");
        assert!(out.note.is_some(), "{response:?}");
    }

    let err = auth::login(&http, "ws://127.0.0.1:9/", "ann", "x", "t")
        .await
        .unwrap_err();
    assert!(matches!(err, EngineError::NotFerryServer { .. }), "{err:?}");
    let out = auth::logout(&http, "ws://127.0.0.1:9/", &Token::new("t"))
        .await
        .unwrap();
    assert!(
        !out.revoked && out.note.is_some(),
        "no request to a GalileoSend endpoint"
    );
}

#[tokio::test]
async fn a_failing_server_is_a_retryable_network_error() {
    let url = fake_server(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
    )
    .await;
    let err = auth::login(&TestServer::http(), &url, "ann", "x", "t")
        .await
        .unwrap_err();
    assert!(
        matches!(err, EngineError::Network { .. }) && err.is_retryable(),
        "{err:?}"
    );
}

// --- the real keyring, in child processes (ferry_tests::keyring) -------------------------

/// The writer of [`capture_tracing`].
struct LogBuffer(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for LogBuffer {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// A buffer that collects everything `tracing` says (at every level) on this thread while
/// the guard lives (a current-thread runtime runs the in-process server here too).
fn capture_tracing() -> (Arc<Mutex<Vec<u8>>>, tracing::subscriber::DefaultGuard) {
    let buffer = Arc::new(Mutex::new(Vec::new()));
    let writer = Arc::clone(&buffer);
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || LogBuffer(Arc::clone(&writer)))
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .finish();
    (buffer, tracing::subscriber::set_default(subscriber))
}

#[tokio::test]
async fn login_and_logout_round_trip_through_the_real_secret_service() {
    if !keyring::in_child(
        "auth::login_and_logout_round_trip_through_the_real_secret_service",
        Session::SecretService,
    ) {
        return;
    }
    let home = keyring::child_home();
    let (logs, _guard) = capture_tracing();
    let server = TestServer::start().await;
    let http = TestServer::http();
    let credentials = Credentials::from_env();
    assert!(!credentials.overridden());

    // A plain round trip under a unique account first.
    let unique = format!("http://round-trip-{}.invalid/", std::process::id());
    let plain = Token::new(format!("fry_plain_{}", std::process::id()));
    credentials.store(&unique, "", &plain).expect("store");
    assert_eq!(credentials.token(&unique, "").unwrap(), Some(plain.clone()));
    assert!(credentials.delete(&unique, "").unwrap());
    assert_eq!(credentials.token(&unique, "").unwrap(), None);

    // Sign in, keep the token in the keyring, read it back.
    let token = auth::login(&http, &server.base, "ann", ANN_PASSWORD, "keyring test")
        .await
        .expect("ann signs in");
    credentials
        .store(&server.base, "ann", &token)
        .expect("store");
    let again = credentials
        .token(&server.base, "ann")
        .unwrap()
        .expect("the keyring has it");
    assert_eq!(again, token);
    assert_eq!(files_status(&server, &again).await, reqwest::StatusCode::OK);

    // The secret is nowhere in plain text: not under HOME (where the journal, the config and
    // gnome-keyring's own encrypted file live) and not in the logs.
    assert!(
        files_under(&home)
            .iter()
            .any(|f| f.starts_with(".local/share/keyrings")),
        "the token went to gnome-keyring under the scratch HOME: {:?}",
        files_under(&home)
    );
    assert_eq!(
        files_containing(&home, token.expose()),
        Vec::<PathBuf>::new()
    );

    // Sign out: revoked on the server, gone from the keyring.
    let out = auth::logout(&http, &server.base, &again).await.unwrap();
    assert!(out.revoked, "{out:?}");
    assert!(credentials.delete(&server.base, "ann").unwrap());
    assert_eq!(credentials.token(&server.base, "ann").unwrap(), None);
    assert_eq!(
        files_status(&server, &token).await,
        reqwest::StatusCode::UNAUTHORIZED
    );

    let logs = String::from_utf8(logs.lock().unwrap().clone()).unwrap();
    assert!(
        logs.contains("signed in"),
        "the capture works (it saw the sign-in): {logs}"
    );
    for secret in [token.expose(), plain.expose(), ANN_PASSWORD] {
        assert!(!logs.contains(secret), "a secret in the logs:\n{logs}");
    }
    assert_eq!(
        files_containing(&home, token.expose()),
        Vec::<PathBuf>::new()
    );
}

#[test]
fn without_a_dbus_session_the_keyring_error_names_ferry_token() {
    if !keyring::in_child_with(
        "auth::without_a_dbus_session_the_keyring_error_names_ferry_token",
        Session::NoDbus,
        &[("FERRY_TOKEN", "fry_from_the_environment")],
    ) {
        return;
    }
    assert!(std::env::var_os("DBUS_SESSION_BUS_ADDRESS").is_none());
    let home = keyring::child_home();
    let server = "https://headless.example/";
    let keyring_only = Credentials::with_env_token(None);
    let token = Token::new("fry_must_not_land_in_a_file");

    for (what, result) in [
        ("store", keyring_only.store(server, "ann", &token).map(drop)),
        ("token", keyring_only.token(server, "ann").map(drop)),
        ("delete", keyring_only.delete(server, "ann").map(drop)),
    ] {
        match result {
            Err(EngineError::Keyring(message)) => {
                assert!(message.contains("FERRY_TOKEN"), "{what}: {message}");
                assert!(
                    message.contains("no keyring is reachable"),
                    "{what}: {message}"
                );
                println!("{what}: {message}");
            }
            other => panic!("{what}: expected EngineError::Keyring, got {other:?}"),
        }
    }
    assert_eq!(
        files_containing(&home, token.expose()),
        Vec::<PathBuf>::new(),
        "no plain-file fallback"
    );

    // The way out works: FERRY_TOKEN needs no keyring.
    let from_env = Credentials::from_env();
    assert!(from_env.overridden());
    assert_eq!(
        from_env.token(server, "ann").unwrap(),
        Some(Token::new("fry_from_the_environment"))
    );
}
