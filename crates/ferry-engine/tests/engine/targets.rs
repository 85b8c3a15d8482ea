//! Discovering what a server offers, for each form of server URL.

use ferry_engine::target::{Protocol, Target};

use crate::support::TestServer;

#[tokio::test]
async fn a_ferry_server_base_url_finds_both_protocols_through_info() {
    let server = TestServer::start().await;
    let target = Target::discover(&TestServer::http(), &server.base, None)
        .await
        .unwrap();
    assert!(target.ferry_server);
    let tus = target.tus.as_ref().expect("tus is offered");
    assert_eq!(tus.endpoint.as_str(), format!("{}/files/", server.base));
    assert!(
        tus.caps
            .checksum(ferry_proto::checksum::ChecksumAlgorithm::Sha1)
    );
    let galileo = target.galileo.as_ref().expect("GalileoSend is offered");
    assert_eq!(
        galileo.url.as_str(),
        format!("ws://{}/galileo", server.addr)
    );
    assert_eq!(galileo.resume, Some(true));
    assert_eq!(
        target.choose(None).unwrap(),
        Protocol::Tus,
        "tus when offered"
    );
    assert_eq!(
        target.choose(Some(Protocol::Galileo)).unwrap(),
        Protocol::Galileo
    );
}

#[tokio::test]
async fn any_url_on_a_ferry_server_host_uses_its_info() {
    let server = TestServer::start().await;
    let url = format!("{}/files", server.base);
    let target = Target::discover(&TestServer::http(), &url, None)
        .await
        .unwrap();
    assert!(
        target.ferry_server,
        "/api/v1/info is found at the host's root"
    );
    assert_eq!(
        target.tus.unwrap().endpoint.as_str(),
        format!("{}/files/", server.base)
    );
}

#[tokio::test]
async fn ws_urls_are_galileo_endpoints_as_given_and_other_schemes_are_refused() {
    let target = Target::discover(&TestServer::http(), "ws://127.0.0.1:9/upload", None)
        .await
        .unwrap();
    assert_eq!(
        target.galileo.unwrap().url.as_str(),
        "ws://127.0.0.1:9/upload"
    );
    assert!(target.tus.is_none());
    let err = Target::discover(&TestServer::http(), "ftp://127.0.0.1/", None)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("ftp"), "{err}");
    assert!(!err.is_retryable());
}

#[tokio::test]
async fn an_unreachable_server_is_a_retryable_network_error() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let err = Target::discover(&TestServer::http(), &format!("http://{addr}/"), None)
        .await
        .unwrap_err();
    assert!(err.is_retryable(), "{err}");
}
