//! The classification against real failures on 127.0.0.1: a closed port, a listener that
//! never answers, one that closes or resets, a self-signed certificate, plain HTTP where
//! TLS was expected, and a name that cannot resolve.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use super::*;
use crate::error::EngineError;

/// A client as the engine builds them, with a short total timeout so that a listener that
/// never answers fails quickly.
fn client() -> reqwest::Client {
    crate::transport::dns::client_builder(&crate::tls::Trust::new([]))
        .timeout(Duration::from_millis(300))
        .build()
        .expect("a client")
}

/// What a GET of `url` fails with, classified.
async fn get_fails_with(url: &str) -> (NetworkFailure, String) {
    let err = client()
        .get(url)
        .send()
        .await
        .expect_err("the request must fail");
    (classify(&err), EngineError::network(url, &err).to_string())
}

/// A port on 127.0.0.1 where nothing listens: bound, then let go.
fn closed_port() -> SocketAddr {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    listener.local_addr().expect("its address")
}

/// A listener that accepts each connection, reads the request's first bytes and then does
/// `then` with the connection.
async fn listener(then: fn(TcpStream) -> Option<TcpStream>) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("its address");
    tokio::spawn(async move {
        while let Ok((mut conn, _)) = listener.accept().await {
            let mut buf = [0u8; 1024];
            let _ = conn.read(&mut buf).await;
            if let Some(mut kept) = then(conn) {
                // Held open without a word until the client gives up.
                tokio::spawn(async move {
                    let _ = kept.read(&mut buf).await;
                });
            }
        }
    });
    addr
}

#[tokio::test]
async fn a_closed_port_is_refused() {
    let addr = closed_port();
    let (kind, text) = get_fails_with(&format!("http://{addr}/")).await;
    assert_eq!(kind, NetworkFailure::Refused, "{text}");
    assert!(
        text.contains("refused"),
        "the words stay for people: {text}"
    );
}

#[tokio::test]
async fn a_listener_that_never_answers_is_a_timeout() {
    let addr = listener(Some).await;
    let (kind, text) = get_fails_with(&format!("http://{addr}/")).await;
    assert_eq!(kind, NetworkFailure::Timeout, "{text}");
}

#[tokio::test]
async fn a_listener_that_closes_without_answering_is_closed() {
    let addr = listener(|conn| {
        drop(conn);
        None
    })
    .await;
    let (kind, text) = get_fails_with(&format!("http://{addr}/")).await;
    assert_eq!(kind, NetworkFailure::Closed, "{text}");
}

#[tokio::test]
async fn a_listener_that_resets_the_connection_is_a_reset() {
    let addr = listener(|conn| {
        // SO_LINGER 0: the close sends a RST instead of a FIN.
        conn.set_zero_linger().expect("SO_LINGER");
        drop(conn);
        None
    })
    .await;
    let (kind, text) = get_fails_with(&format!("http://{addr}/")).await;
    assert_eq!(kind, NetworkFailure::Reset, "{text}");
}

#[tokio::test]
async fn a_self_signed_certificate_is_a_certificate_problem() {
    let certified = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()])
        .expect("a self-signed certificate");
    let pem = tempfile::tempdir().expect("a directory for the PEM files");
    let (cert, key) = (pem.path().join("cert.pem"), pem.path().join("key.pem"));
    std::fs::write(&cert, certified.cert.pem()).expect("cert.pem");
    std::fs::write(&key, certified.key_pair.serialize_pem()).expect("key.pem");
    let server = ferry_tests::server::TestServer::start_with(|c| {
        c.tls = Some(ferry_server::TlsFiles { cert, key });
    })
    .await;
    let url = format!("https://localhost:{}/healthz", server.addr.port());
    let (kind, text) = get_fails_with(&url).await;
    assert_eq!(
        kind,
        NetworkFailure::Tls(TlsProblem::UnknownIssuer),
        "{text}"
    );
    let err = EngineError::network(&url, &client().get(&url).send().await.unwrap_err());
    assert!(err.is_certificate(), "{err}");
    assert!(err.is_retryable() && !err.is_permanent(), "{err}");
    let fingerprint = crate::tls::Fingerprint::of(certified.cert.der());
    assert!(
        matches!(&err, EngineError::Certificate { presented, pinned: None, .. } if presented.fingerprint == fingerprint),
        "the refusal carries the certificate a person would check: {err:?}"
    );
    let text = err.to_string();
    assert!(
        text.contains(&fingerprint.to_string()) && text.contains("--trust-fingerprint"),
        "the message names the fingerprint and the way to trust it: {text}"
    );

    // Pinned, exactly that certificate is accepted; another pinned one is a changed one.
    let pinned = |fingerprint| {
        let trust = crate::tls::Trust::new([crate::tls::Pin {
            authority: format!("localhost:{}", server.addr.port()),
            fingerprint,
        }]);
        crate::transport::dns::client_builder(&trust)
            .timeout(Duration::from_secs(5))
            .build()
            .expect("a client")
    };
    let reply = pinned(fingerprint)
        .get(&url)
        .send()
        .await
        .expect("the pinned certificate is trusted");
    assert!(reply.status().is_success(), "{}", reply.status());
    let other = crate::tls::Fingerprint::of(b"another certificate");
    let err = pinned(other).get(&url).send().await.unwrap_err();
    assert_eq!(classify(&err), NetworkFailure::Tls(TlsProblem::Changed));
    let text = EngineError::network(&url, &err).to_string();
    assert!(
        text.contains(&fingerprint.to_string()) && text.contains(&other.to_string()),
        "a changed certificate names both fingerprints: {text}"
    );
}

#[tokio::test]
async fn plain_http_where_tls_was_expected_is_a_handshake_failure_not_a_certificate() {
    let addr = listener(|mut conn| {
        tokio::spawn(async move {
            let _ = conn
                .write_all(b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\r\n")
                .await;
        });
        None
    })
    .await;
    let url = format!("https://{addr}/");
    let (kind, text) = get_fails_with(&url).await;
    assert_eq!(kind, NetworkFailure::Tls(TlsProblem::Handshake), "{text}");
    let err = EngineError::unreachable(&url, kind, text);
    assert!(!err.is_certificate());
}

#[tokio::test]
async fn a_name_that_does_not_resolve_is_dns() {
    let (kind, text) = get_fails_with("http://nonexistent.invalid/").await;
    assert_eq!(kind, NetworkFailure::Dns, "{text}");
    assert!(text.contains("nonexistent.invalid"), "{text}");

    // The WebSocket path resolves through the same lookup.
    let err = crate::transport::dns::lookup("nonexistent.invalid", 80)
        .await
        .expect_err("no such name");
    let ws = tokio_tungstenite::tungstenite::Error::Io(err);
    assert_eq!(classify_ws(&ws), NetworkFailure::Dns);
}

#[tokio::test]
async fn a_websocket_to_a_closed_port_is_refused_and_a_server_error_is_a_status() {
    let addr = closed_port();
    let err = tokio_tungstenite::connect_async(format!("ws://{addr}/"))
        .await
        .expect_err("nothing listens");
    assert_eq!(classify_ws(&err), NetworkFailure::Refused, "{err}");

    let addr = listener(|mut conn| {
        tokio::spawn(async move {
            let _ = conn
                .write_all(b"HTTP/1.1 503 Service Unavailable\r\ncontent-length: 0\r\n\r\n")
                .await;
        });
        None
    })
    .await;
    let err = tokio_tungstenite::connect_async(format!("ws://{addr}/"))
        .await
        .expect_err("no upgrade");
    assert_eq!(classify_ws(&err), NetworkFailure::Status(503), "{err}");
}
