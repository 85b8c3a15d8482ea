//! A raw HTTP/1.1 listener on 127.0.0.1 for tests that play a misbehaving server: it reads
//! just enough of each request (head, and a plain or chunked body), records every byte it
//! received, answers with the bytes a script returns and closes the connection. Plus the
//! answers of a plain, well-behaved tus server to script around, and the hostile scripts
//! the engine's and the CLI's suites both play (`location_at`, `redirect_to`,
//! `offset_never_moves`, `every_patch`, `huge_header`).

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

/// The size of the file the tests upload to these servers (the length a HEAD reports).
pub const SIZE: u64 = 4096;

/// One request as a fake listener read it.
#[derive(Debug, Clone)]
pub struct Head {
    /// The request method.
    pub method: String,
    /// The request target (path and query).
    pub path: String,
    /// `Upload-Offset`, if sent and numeric.
    pub offset: Option<u64>,
    /// Bytes of body read (after de-chunking).
    pub body_len: u64,
}

/// What a listener answers: bytes to write, then the connection closes.
pub type Answer = Arc<dyn Fn(&Head) -> Vec<u8> + Send + Sync>;

/// Everything a listener received, raw, and the requests it read.
#[derive(Clone, Default)]
pub struct Heard {
    /// Every byte received, heads and bodies.
    pub bytes: Arc<Mutex<Vec<u8>>>,
    /// The requests read, in order.
    pub requests: Arc<Mutex<Vec<Head>>>,
}

impl Heard {
    /// Everything received, as (lossy) text.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.bytes.lock().unwrap()).into_owned()
    }

    /// How many requests of `method` arrived.
    pub fn count(&self, method: &str) -> usize {
        let requests = self.requests.lock().unwrap();
        requests.iter().filter(|r| r.method == method).count()
    }
}

/// An HTTP/1.1 answer with `Connection: close`, `Tus-Resumable`, `headers` and `body`.
pub fn http(status: &str, headers: &[(&str, String)], body: &str) -> Vec<u8> {
    let mut out = format!("HTTP/1.1 {status}\r\nConnection: close\r\nTus-Resumable: 1.0.0\r\n");
    for (name, value) in headers {
        let _ = write!(out, "{name}: {value}\r\n");
    }
    let _ = write!(out, "Content-Length: {}\r\n\r\n{body}", body.len());
    out.into_bytes()
}

/// A 204 with `Upload-Offset: offset`.
pub fn offset_reply(offset: u64) -> Vec<u8> {
    http(
        "204 No Content",
        &[("Upload-Offset", offset.to_string())],
        "",
    )
}

/// A plain tus server's answers (creation, no checksums), its uploads at `/files/f1`.
pub fn plain_tus(head: &Head) -> Vec<u8> {
    match head.method.as_str() {
        "GET" => http("404 Not Found", &[], "not found"),
        "OPTIONS" => http(
            "204 No Content",
            &[
                ("Tus-Version", "1.0.0".into()),
                ("Tus-Extension", "creation".into()),
            ],
            "",
        ),
        "POST" => http("201 Created", &[("Location", "/files/f1".into())], ""),
        "HEAD" => http(
            "200 OK",
            &[
                ("Upload-Offset", "0".into()),
                ("Upload-Length", SIZE.to_string()),
                ("Cache-Control", "no-store".into()),
            ],
            "",
        ),
        "PATCH" => offset_reply(head.offset.unwrap_or(0) + head.body_len),
        _ => http("405 Method Not Allowed", &[], ""),
    }
}

/// Reads one request, recording its bytes; `None` if the client went away.
pub async fn read_request<S: AsyncRead + Unpin>(
    stream: &mut BufReader<S>,
    log: &Heard,
) -> Option<Head> {
    let mut line = String::new();
    stream.read_line(&mut line).await.ok()?;
    log.bytes.lock().unwrap().extend_from_slice(line.as_bytes());
    let mut words = line.split_whitespace();
    let method = words.next()?.to_owned();
    let path = words.next()?.to_owned();
    let (mut offset, mut length, mut chunked) = (None, 0u64, false);
    loop {
        line.clear();
        stream.read_line(&mut line).await.ok()?;
        log.bytes.lock().unwrap().extend_from_slice(line.as_bytes());
        let header = line.trim_end();
        if header.is_empty() {
            break;
        }
        let (name, value) = header.split_once(':')?;
        let value = value.trim();
        match name.to_ascii_lowercase().as_str() {
            "upload-offset" => offset = value.parse().ok(),
            "content-length" => length = value.parse().ok()?,
            "transfer-encoding" => chunked = value.eq_ignore_ascii_case("chunked"),
            _ => {}
        }
    }
    let body_len = if chunked {
        let mut total = 0;
        loop {
            line.clear();
            stream.read_line(&mut line).await.ok()?;
            let len = u64::from_str_radix(line.trim(), 16).ok()?;
            let mut piece = vec![0u8; usize::try_from(len + 2).ok()?];
            stream.read_exact(&mut piece).await.ok()?;
            log.bytes.lock().unwrap().extend_from_slice(&piece);
            if len == 0 {
                break total;
            }
            total += len;
        }
    } else {
        let mut body = vec![0u8; usize::try_from(length).ok()?];
        stream.read_exact(&mut body).await.ok()?;
        log.bytes.lock().unwrap().extend_from_slice(&body);
        length
    };
    let head = Head {
        method,
        path,
        offset,
        body_len,
    };
    log.requests.lock().unwrap().push(head.clone());
    Some(head)
}

/// A listener on 127.0.0.1 port 0 that records what it receives and answers with `answer`.
pub async fn listener(answer: Answer) -> (SocketAddr, Heard) {
    let socket = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = socket.local_addr().unwrap();
    let heard = Heard::default();
    let kept = heard.clone();
    tokio::spawn(async move {
        while let Ok((stream, _)) = socket.accept().await {
            let (answer, heard) = (Arc::clone(&answer), kept.clone());
            tokio::spawn(async move {
                let mut stream = BufReader::new(stream);
                let Some(request) = read_request(&mut stream, &heard).await else {
                    return;
                };
                let _ = stream.get_mut().write_all(&answer(&request)).await;
                let _ = stream.get_mut().shutdown().await;
            });
        }
    });
    (addr, heard)
}

/// A willing tus server ([`plain_tus`]) whose creating POST names `location`, wherever it
/// points (a `Location` on another origin).
pub fn location_at(location: String) -> Answer {
    Arc::new(move |head: &Head| match head.method.as_str() {
        "POST" => http("201 Created", &[("Location", location.clone())], ""),
        _ => plain_tus(head),
    })
}

/// A tus server whose creating POST answers with a redirect to `target`.
pub fn redirect_to(target: String) -> Answer {
    Arc::new(move |head: &Head| match head.method.as_str() {
        "POST" => http(
            "307 Temporary Redirect",
            &[("Location", target.clone())],
            "",
        ),
        _ => plain_tus(head),
    })
}

/// A tus server that acknowledges every PATCH without moving its offset.
pub fn offset_never_moves() -> Answer {
    Arc::new(|head: &Head| match head.method.as_str() {
        "PATCH" => offset_reply(head.offset.unwrap_or(0)),
        _ => plain_tus(head),
    })
}

/// A tus server that answers every PATCH with `answer` (the same 5xx, 409, ... forever).
pub fn every_patch(answer: Vec<u8>) -> Answer {
    Arc::new(move |head: &Head| match head.method.as_str() {
        "PATCH" => answer.clone(),
        _ => plain_tus(head),
    })
}

/// A tus server whose creating POST carries a 2 MiB header.
pub fn huge_header() -> Answer {
    let huge = "x".repeat(2 << 20);
    Arc::new(move |head: &Head| match head.method.as_str() {
        "POST" => http(
            "201 Created",
            &[
                ("Location", "/files/f1".into()),
                ("X-Padding", huge.clone()),
            ],
            "",
        ),
        _ => plain_tus(head),
    })
}
