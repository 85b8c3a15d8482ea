//! Opening a GalileoSend WebSocket: the token in `Authorization`, frame limits for what the
//! server sends, the whole handshake within the timeout, and what a refused upgrade means.

use std::sync::Arc;

use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::{HeaderValue, StatusCode, header};
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use super::session::Failure;
use crate::error::{EngineError, NetworkFailure};
use crate::target::GalileoTarget;
use crate::transport::Transfer;
use crate::transport::watchdog::{Activity, Watched};

/// An open GalileoSend connection.
pub(super) type Socket = WebSocketStream<MaybeTlsStream<Watched<TcpStream>>>;

/// The largest message taken from the server: it only ever sends small JSON signals.
const MAX_SERVER_MESSAGE: usize = 1 << 20;

/// Opens the WebSocket within the timeout, with the token in `Authorization`. (It takes
/// no `Run`: that holds the caller's callback, which need not be `Sync`.)
pub(super) async fn connect(
    target: &GalileoTarget,
    transfer: &Transfer,
) -> Result<(Socket, Arc<Activity>), Failure> {
    let server = target.url.to_string();
    let bad_url = |reason: String| {
        Failure::fatal(EngineError::BadUrl {
            url: server.clone(),
            reason,
        })
    };
    let mut request = target
        .url
        .as_str()
        .into_client_request()
        .map_err(|e| bad_url(e.to_string()))?;
    if let Some(token) = &transfer.token {
        let mut value =
            HeaderValue::from_str(&format!("Bearer {}", token.expose())).map_err(|_| {
                Failure::fatal(EngineError::Unauthorized {
                    server: server.clone(),
                })
            })?;
        value.set_sensitive(true);
        request.headers_mut().insert(header::AUTHORIZATION, value);
    }
    let host = target
        .url
        .host_str()
        .ok_or_else(|| bad_url("it names no host".into()))?
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_owned();
    let port = target
        .url
        .port_or_known_default()
        .ok_or_else(|| bad_url("it names no port".into()))?;
    let config = WebSocketConfig::default()
        .max_message_size(Some(MAX_SERVER_MESSAGE))
        .max_frame_size(Some(MAX_SERVER_MESSAGE));
    let connector = transfer.trust.websocket();
    let activity = Activity::new();
    let watched = Arc::clone(&activity);
    let connecting = async move {
        let addrs = crate::transport::dns::lookup(&host, port)
            .await
            .map_err(tungstenite::Error::Io)?;
        let tcp = TcpStream::connect(addrs.as_slice())
            .await
            .map_err(tungstenite::Error::Io)?;
        // Frames are written whole; small signals should not wait for more.
        let _ = tcp.set_nodelay(true);
        tokio_tungstenite::client_async_tls_with_config(
            request,
            Watched::new(tcp, watched),
            Some(config),
            Some(connector),
        )
        .await
    };
    let timeout = transfer.options.timeout;
    match tokio::time::timeout(timeout, connecting).await {
        Ok(Ok((socket, _))) => Ok((socket, activity)),
        Ok(Err(err)) => Err(connect_error(&server, err)),
        Err(_) => Err(Failure::retry(EngineError::unreachable(
            &server,
            NetworkFailure::Timeout,
            format!("no connection within {timeout:?}"),
        ))),
    }
}

/// What a failed upgrade means: a refused token is not retried, nor is an endpoint that is
/// not a WebSocket; a busy or broken server and the network are.
fn connect_error(server: &str, err: tungstenite::Error) -> Failure {
    match err {
        tungstenite::Error::Http(response) => {
            let status = response.status();
            if status == StatusCode::UNAUTHORIZED {
                Failure::fatal(EngineError::Unauthorized {
                    server: server.to_owned(),
                })
            } else if status.is_server_error()
                || status == StatusCode::REQUEST_TIMEOUT
                || status == StatusCode::TOO_MANY_REQUESTS
            {
                Failure::retry(EngineError::unreachable(
                    server,
                    NetworkFailure::Status(status.as_u16()),
                    format!("the server answered {status}"),
                ))
            } else {
                Failure::fatal(EngineError::NoProtocol {
                    server: server.to_owned(),
                    reason: format!(
                        "it answered {status} instead of opening a GalileoSend WebSocket"
                    ),
                })
            }
        }
        tungstenite::Error::Url(e) => Failure::fatal(EngineError::BadUrl {
            url: server.to_owned(),
            reason: e.to_string(),
        }),
        other => Failure::retry(EngineError::network_ws(server, &other)),
    }
}

#[cfg(test)]
mod tests {
    use ferry_proto::galileo::Recovery;

    use super::*;

    #[test]
    fn only_a_refused_token_and_a_wrong_endpoint_are_not_retried() {
        let status = |code: u16| {
            let response = tungstenite::http::Response::builder()
                .status(code)
                .body(None)
                .unwrap();
            connect_error("ws://x/", tungstenite::Error::Http(response))
        };
        assert!(matches!(
            status(401).error,
            EngineError::Unauthorized { .. }
        ));
        assert_eq!(status(401).recovery, Recovery::Fatal);
        assert_eq!(status(404).recovery, Recovery::Fatal);
        assert_eq!(status(503).recovery, Recovery::Retry);
        assert_eq!(status(429).recovery, Recovery::Retry);
        assert_eq!(
            connect_error("ws://x/", tungstenite::Error::ConnectionClosed).recovery,
            Recovery::Retry
        );
    }
}
