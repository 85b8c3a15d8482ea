//! `https` never falls to `http`: a fake tus server on TLS (a self-signed certificate the
//! client trusts deliberately, its fingerprint pinned as a person would at sign-in) whose
//! POST answers with a `Location` on plain `http` at another port, where a listener records
//! everything it receives. The upload must be refused naming both origins, the token must
//! never reach the plain listener, and the journal must record nothing as uploaded.

use std::net::SocketAddr;
use std::sync::Arc;

use ferry_engine::EngineError;
use ferry_engine::tls::{Fingerprint, Pin, Trust};
use rustls::ServerConfig;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio::io::{AsyncWriteExt, BufReader};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

use crate::hostile::{
    CANARY, assert_never_heard_the_token, elsewhere, says, upload_with_token_trusting,
};
use ferry_tests::fake_http::{Answer, Head, Heard, http, plain_tus, read_request};

/// A tus listener on TLS at 127.0.0.1 port 0 with a fresh self-signed certificate, answering
/// with `answer` and recording what it receives (decrypted); returns its address, what it
/// heard and the certificate's fingerprint.
async fn tls_listener(answer: Answer) -> (SocketAddr, Heard, Fingerprint) {
    let certified = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_owned()])
        .expect("rcgen makes a self-signed certificate");
    let fingerprint = Fingerprint::of(certified.cert.der());
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(certified.key_pair.serialize_der()));
    let config =
        ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .expect("ring offers TLS 1.2 and 1.3")
            .with_no_client_auth()
            .with_single_cert(
                vec![CertificateDer::from(certified.cert.der().to_vec())],
                key,
            )
            .expect("the certificate and its key fit");
    let acceptor = TlsAcceptor::from(Arc::new(config));
    let socket = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = socket.local_addr().unwrap();
    let heard = Heard::default();
    let kept = heard.clone();
    tokio::spawn(async move {
        while let Ok((stream, _)) = socket.accept().await {
            let (answer, heard, acceptor) = (Arc::clone(&answer), kept.clone(), acceptor.clone());
            tokio::spawn(async move {
                let Ok(tls) = acceptor.accept(stream).await else {
                    return;
                };
                let mut stream = BufReader::new(tls);
                let Some(request) = read_request(&mut stream, &heard).await else {
                    return;
                };
                let _ = stream.get_mut().write_all(&answer(&request)).await;
                let _ = stream.get_mut().shutdown().await;
            });
        }
    });
    (addr, heard, fingerprint)
}

#[tokio::test]
async fn https_to_http_a_location_on_plain_http_is_refused_and_the_token_stays_on_tls() {
    let (other, plain) = elsewhere().await;
    let location = format!("http://{other}/files/x");
    let (home, secure, fingerprint) =
        tls_listener(Arc::new(move |head: &Head| match head.method.as_str() {
            "POST" => http("201 Created", &[("Location", location.clone())], ""),
            _ => plain_tus(head),
        }))
        .await;
    let trust = Trust::load(vec![Pin {
        authority: home.to_string(),
        fingerprint,
    }])
    .await;
    let err = upload_with_token_trusting(&format!("https://{home}/files/"), trust).await;
    assert!(matches!(err, EngineError::ForeignOrigin { .. }), "{err}");
    assert!(err.is_permanent(), "asking again gets the same Location");
    says(
        &err,
        &[
            "outside",
            &format!("http://{other}/files/x"),
            &format!("https://{home}"),
        ],
    );
    assert!(
        secure.count("POST") >= 1 && secure.text().contains(CANARY),
        "the upload was created on the TLS server, with the token (the pinned certificate \
         was trusted)"
    );
    assert_never_heard_the_token(&plain, "the plain http listener");
    assert!(
        plain.bytes.lock().unwrap().is_empty(),
        "nothing at all went to the plain http listener:\n{}",
        plain.text()
    );
}
