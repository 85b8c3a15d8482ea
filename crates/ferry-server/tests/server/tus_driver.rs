//! A small driver that runs ferry-proto's real tus client machine (`ferry_proto::tus::Upload`)
//! over reqwest against the server, streaming every body range from a file and hashing it
//! first when the machine asks for a checksum; and helpers for raw tus requests.

use std::io::SeekFrom;
use std::path::Path;
use std::time::SystemTime;

use ferry_proto::checksum::ChecksumAlgorithm;
use ferry_proto::tus::metadata::Metadata;
use ferry_proto::tus::{Event, Request, RequestId, Response, TusError, Upload, UploadOptions};
use futures_util::StreamExt;
use futures_util::stream::FuturesUnordered;
use tokio::io::{AsyncReadExt, AsyncSeekExt};

use crate::support::TestServer;

/// Random bytes for a test file.
pub(crate) fn random_bytes(len: usize) -> Vec<u8> {
    let mut data = vec![0u8; len];
    rand::RngCore::fill_bytes(&mut rand::rng(), &mut data);
    data
}

/// The sha1 of `data` in hex.
pub(crate) fn sha1_hex(data: &[u8]) -> String {
    ChecksumAlgorithm::Sha1.digest(data).to_hex()
}

/// `Upload-Metadata` from text pairs.
pub(crate) fn metadata(pairs: &[(&str, &str)]) -> Metadata {
    let mut m = Metadata::new();
    for (key, value) in pairs {
        m.insert(*key, value).expect("valid test metadata");
    }
    m
}

/// How the driver runs an upload.
pub(crate) struct Drive<'a> {
    pub(crate) token: &'a str,
    pub(crate) file: &'a Path,
    pub(crate) metadata: Metadata,
    pub(crate) chunk_size: u64,
    pub(crate) parallel: usize,
    pub(crate) checksum: Option<ChecksumAlgorithm>,
    /// Create with a deferred length, send the first half, then declare the length.
    pub(crate) deferred: bool,
}

impl<'a> Drive<'a> {
    pub(crate) fn new(token: &'a str, file: &'a Path) -> Self {
        Self {
            token,
            file,
            metadata: Metadata::new(),
            chunk_size: 64 * 1024,
            parallel: 1,
            checksum: Some(ChecksumAlgorithm::Sha1),
            deferred: false,
        }
    }

    /// Runs the upload to its end; returns the final `Location` and the events seen.
    pub(crate) async fn run(self, server: &TestServer) -> Result<(String, Vec<Event>), TusError> {
        let length = std::fs::metadata(self.file).expect("test file").len();
        let endpoint = server.url("/files/").parse().expect("endpoint URL");
        let mut options = UploadOptions::new(endpoint, (!self.deferred).then_some(length));
        options.metadata = self.metadata;
        options.chunk_size = self.chunk_size;
        options.parallel = self.parallel;
        options.checksum = self.checksum;
        let mut upload = Upload::new(options, None, None)?;
        if self.deferred {
            upload.set_available(length / 2);
        }
        let http = TestServer::http();
        let mut events = Vec::new();
        let mut in_flight = FuturesUnordered::new();
        loop {
            while let Some(request) = upload.poll_request(SystemTime::now()) {
                in_flight.push(send(&http, self.token, self.file, request));
            }
            events.extend(std::iter::from_fn(|| upload.poll_event()));
            match in_flight.next().await {
                Some((id, Ok(response))) => upload.handle_response(id, &response)?,
                Some((id, Err(err))) => {
                    eprintln!("request {id} failed: {err}");
                    upload.handle_failure(id);
                }
                None if self.deferred && upload.length().is_none() => upload.set_length(length),
                None => break,
            }
        }
        events.extend(std::iter::from_fn(|| upload.poll_event()));
        assert!(
            upload.is_finished(),
            "the upload ended unfinished: {events:?}"
        );
        let location = upload.location().expect("a finished upload has a location");
        Ok((location.to_owned(), events))
    }
}

/// Sends one request of the machine: hashes its body range first if asked, then streams it.
async fn send(
    http: &reqwest::Client,
    token: &str,
    file: &Path,
    mut request: Request,
) -> (RequestId, Result<Response, reqwest::Error>) {
    let id = request.id;
    let range = request.body.as_ref().map(|b| b.range.clone());
    if let Some(algorithm) = request.body.as_ref().and_then(|b| b.checksum) {
        let range = range.clone().expect("a checksum needs a body");
        let mut hasher = algorithm.hasher();
        let mut pieces = std::pin::pin!(range_stream(file, range));
        while let Some(piece) = pieces.next().await {
            hasher.update(&piece.expect("reading the test file"));
        }
        request.set_checksum(&hasher.finish());
    }
    let mut builder = http
        .request(request.method.clone(), request.url.as_str())
        .headers(request.headers.clone())
        .bearer_auth(token);
    if let Some(range) = range {
        builder = builder.body(reqwest::Body::wrap_stream(range_stream(file, range)));
    }
    let result = async {
        let answer = builder.send().await?;
        let status = answer.status();
        let headers = answer.headers().clone();
        let body = answer.text().await.unwrap_or_default();
        Ok(Response {
            status,
            headers,
            body,
        })
    }
    .await;
    (id, result)
}

/// The bytes `range` of `file`, in pieces of at most 64 KiB, never the whole range at once.
fn range_stream(
    file: &Path,
    range: std::ops::Range<u64>,
) -> impl futures_util::Stream<Item = std::io::Result<Vec<u8>>> + Send + 'static {
    let path = file.to_path_buf();
    futures_util::stream::unfold(
        (None::<tokio::fs::File>, range.start, range.end),
        move |(file, at, end)| {
            let path = path.clone();
            async move {
                if at >= end {
                    return None;
                }
                let mut file = if let Some(f) = file {
                    f
                } else {
                    let mut f = match tokio::fs::File::open(&path).await {
                        Ok(f) => f,
                        Err(e) => return Some((Err(e), (None, end, end))),
                    };
                    if let Err(e) = f.seek(SeekFrom::Start(at)).await {
                        return Some((Err(e), (None, end, end)));
                    }
                    f
                };
                let want = usize::try_from((end - at).min(64 * 1024)).unwrap_or(64 * 1024);
                let mut buf = vec![0u8; want];
                match file.read_exact(&mut buf).await {
                    Ok(_) => Some((Ok(buf), (Some(file), at + want as u64, end))),
                    Err(e) => Some((Err(e), (None, end, end))),
                }
            }
        },
    )
}

/// A tus request with `Tus-Resumable` and ann's or bob's token.
pub(crate) fn tus(
    server: &TestServer,
    method: reqwest::Method,
    path: &str,
    token: &str,
) -> reqwest::RequestBuilder {
    TestServer::http()
        .request(method, server.url(path))
        .header("tus-resumable", "1.0.0")
        .bearer_auth(token)
}

/// Creates an upload of `length` bytes; returns its location (a path).
pub(crate) async fn create(
    server: &TestServer,
    token: &str,
    length: u64,
    metadata: &Metadata,
) -> String {
    let mut request = tus(server, reqwest::Method::POST, "/files/", token)
        .header("upload-length", length.to_string());
    if !metadata.is_empty() {
        request = request.header("upload-metadata", metadata.encode());
    }
    let reply = request.send().await.expect("POST");
    assert_eq!(reply.status(), 201, "{:?}", reply.text().await);
    reply.headers()["location"].to_str().unwrap().to_owned()
}

/// A PATCH of `bytes` at `offset`, with extra headers.
pub(crate) async fn patch(
    server: &TestServer,
    token: &str,
    location: &str,
    offset: u64,
    bytes: Vec<u8>,
    extra: &[(&str, &str)],
) -> reqwest::Response {
    let mut request = tus(server, reqwest::Method::PATCH, location, token)
        .header("upload-offset", offset.to_string())
        .header("content-type", "application/offset+octet-stream");
    for (name, value) in extra {
        request = request.header(*name, *value);
    }
    request.body(bytes).send().await.expect("PATCH")
}

/// A HEAD on `location`.
pub(crate) async fn head(server: &TestServer, token: &str, location: &str) -> reqwest::Response {
    tus(server, reqwest::Method::HEAD, location, token)
        .send()
        .await
        .expect("HEAD")
}

/// The `Upload-Offset` of a HEAD answer.
pub(crate) async fn offset(server: &TestServer, token: &str, location: &str) -> u64 {
    let reply = head(server, token, location).await;
    assert_eq!(reply.status(), 200, "HEAD {location}");
    reply.headers()["upload-offset"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap()
}
