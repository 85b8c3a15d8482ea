//! WebSocket helpers for the GalileoSend tests: raw frames (to behave exactly like the
//! original 2013 client, or like a hostile one) and a tiny driver for ferry-proto's real
//! [`Client`] machine.

use std::time::Duration;

use ferry_proto::checksum::ChecksumAlgorithm;
use ferry_proto::galileo::{Client, ClientFrame};
use futures_util::{SinkExt, StreamExt};
use serde_json::Value;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use crate::support::TestServer;

pub(crate) type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

const WAIT: Duration = Duration::from_secs(10);

/// `ws://127.0.0.1:PORT/galileo?access_token=TOKEN`.
pub(crate) fn ws_url(server: &TestServer, token: &str) -> String {
    format!("ws://{}/galileo?access_token={token}", server.addr)
}

/// Opens `/galileo` as a browser would, with the token in the query.
pub(crate) async fn connect(server: &TestServer, token: &str) -> Ws {
    let (ws, _) = tokio_tungstenite::connect_async(ws_url(server, token))
        .await
        .expect("the WebSocket upgrade succeeds with a valid token");
    ws
}

/// `len` bytes that differ from run to run of `seed` (so misplaced chunks show).
pub(crate) fn data(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x.to_le_bytes()[0]
        })
        .collect()
}

/// The sha1 of `bytes` in lower-case hex.
pub(crate) fn sha1_hex(bytes: &[u8]) -> String {
    ChecksumAlgorithm::Sha1.digest(bytes).to_hex()
}

pub(crate) async fn send_text(ws: &mut Ws, text: &str) {
    ws.send(Message::Text(text.into()))
        .await
        .expect("a text frame goes out");
}

pub(crate) async fn send_binary(ws: &mut Ws, bytes: &[u8]) {
    ws.send(Message::Binary(bytes.to_vec().into()))
        .await
        .expect("a binary frame goes out");
}

/// The next text frame from the server, as sent, or `None` once the connection closed.
pub(crate) async fn recv_raw(ws: &mut Ws) -> Option<String> {
    loop {
        let frame = tokio::time::timeout(WAIT, ws.next())
            .await
            .expect("the server answers within 10 s");
        match frame {
            Some(Ok(Message::Text(text))) => return Some(text.as_str().to_owned()),
            Some(Ok(Message::Binary(b))) => panic!("the server sent a binary frame of {}", b.len()),
            Some(Ok(Message::Ping(_) | Message::Pong(_) | Message::Frame(_))) => {}
            Some(Ok(Message::Close(_)) | Err(_)) | None => return None,
        }
    }
}

/// The next signal from the server, parsed; panics if the connection closed instead.
pub(crate) async fn recv(ws: &mut Ws) -> Value {
    let text = recv_raw(ws)
        .await
        .expect("a signal before the connection closes");
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{text:?} is JSON: {e}"))
}

/// Expects a fatal error signal with `code`, then the server closing the connection.
pub(crate) async fn expect_fatal(ws: &mut Ws, code: &str) -> Value {
    let signal = recv(ws).await;
    assert_eq!(signal["code"], code, "a fatal {code} error: {signal}");
    assert_eq!(signal["fatal"], true, "{signal}");
    assert!(signal["error"].is_string(), "{signal}");
    assert_eq!(
        recv_raw(ws).await,
        None,
        "the server closes after a fatal error"
    );
    signal
}

/// Uploads `data` exactly as the original 2013 JavaScript client does: `{name,size}`, one
/// chunk per ready (the ready's `chunksize` if it names one, else 250000 bytes; one empty
/// frame for an empty file), `{"finished":true}` without a hash. Returns every frame the
/// server sent.
pub(crate) async fn upload_like_the_original_client(
    ws: &mut Ws,
    name: &str,
    data: &[u8],
) -> Vec<String> {
    let meta = serde_json::json!({ "name": name, "size": data.len() });
    send_text(ws, &meta.to_string()).await;
    let mut received = Vec::new();
    let (mut sent, mut sent_empty) = (0, false);
    loop {
        let Some(text) = recv_raw(ws).await else {
            return received;
        };
        received.push(text.clone());
        let signal: Value = serde_json::from_str(&text).unwrap();
        if signal["error"].as_bool() == Some(true) || signal["error"].is_string() {
            continue;
        }
        if signal["close"] == true {
            ws.close(None).await.ok();
            return received;
        }
        assert_eq!(signal["ready"], true, "{text}");
        let chunk = match signal["chunksize"].as_u64() {
            Some(n) if n > 0 => usize::try_from(n).unwrap(),
            _ => 250_000,
        };
        if sent < data.len() || (data.is_empty() && !sent_empty) {
            let end = data.len().min(sent + chunk);
            send_binary(ws, &data[sent..end]).await;
            sent = end;
            sent_empty = true;
        } else {
            send_text(ws, r#"{"finished":true}"#).await;
        }
    }
}

/// Drives ferry-proto's [`Client`] over `ws` with the file `data` until the session is
/// over, or until `cut_after` chunks were acknowledged (then the connection is dropped
/// without a close, as by a network failure). Returns the server's frames.
pub(crate) async fn drive(
    mut ws: Ws,
    client: &mut Client,
    data: &[u8],
    cut_after: Option<usize>,
) -> Vec<String> {
    let mut received = Vec::new();
    let mut acknowledged = 0;
    loop {
        while let Some(event) = client.poll_event() {
            if matches!(event, ferry_proto::galileo::Event::Progress { .. }) {
                acknowledged += 1;
            }
        }
        if cut_after.is_some_and(|n| acknowledged >= n) {
            drop(ws);
            return received;
        }
        while let Some(frame) = client.poll_transmit() {
            match frame {
                ClientFrame::Text(text) => send_text(&mut ws, &text).await,
                ClientFrame::Binary(range) => {
                    let range =
                        usize::try_from(range.start).unwrap()..usize::try_from(range.end).unwrap();
                    send_binary(&mut ws, &data[range]).await;
                }
            }
        }
        if client.is_over() {
            ws.close(None).await.ok();
            return received;
        }
        match recv_raw(&mut ws).await {
            Some(text) => {
                received.push(text.clone());
                let _ = client.handle_text(&text);
            }
            None => client.handle_closed(),
        }
    }
}
