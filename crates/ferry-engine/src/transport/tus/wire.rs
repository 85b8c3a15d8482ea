//! One tus request on the wire: its body read from the file once into one buffer (at most
//! one chunk, up to [`HELD_MAX`]), hashed from that buffer when the server checks
//! checksums, then handed to reqwest in pieces; a larger chunk is hashed in a first pass and
//! then streamed from the file (never the whole file in memory). Watched for a dead link,
//! its answer cut down to what the machine needs. Makes no protocol decision.

use std::io::{Read, Seek, SeekFrom};
use std::ops::Range;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use bytes::Bytes;
use ferry_proto::checksum::{Checksum, ChecksumAlgorithm};
use ferry_proto::tus::{Request, RequestId, RequestKind, Response};

use crate::error::network::classify;
use crate::error::{EngineError, NetworkFailure, with_causes};
use crate::file::LocalFile;
use crate::origin::TokenOrigin;
use crate::rate::RateLimit;
use crate::secret::Token;
use crate::transport::watchdog::Activity;

/// The most bytes read, rate-limited and handed to the network at once.
pub(super) const PIECE: u64 = 256 * 1024;

/// The largest body read whole into memory (one chunk); larger bodies are streamed.
pub(super) const HELD_MAX: u64 = 64 * 1024 * 1024;

/// The most bytes of an answer's body kept (for error messages).
const ANSWER_KEPT: usize = 4 * 1024;

/// What became of one request.
pub(super) enum Outcome {
    /// The server answered.
    Answer(Response),
    /// No usable answer: connection refused or lost, the link went quiet, a broken reply;
    /// what kind of failure, and the words for people.
    Lost(NetworkFailure, String),
    /// Something local went wrong (the file changed or could not be read).
    Local(EngineError),
}

/// What every request of one upload shares.
pub(super) struct Wire<'a> {
    pub(super) http: &'a reqwest::Client,
    pub(super) file: &'a LocalFile,
    pub(super) token: Option<&'a Token>,
    /// Where the token may go (the endpoint's origin): a request elsewhere is refused.
    pub(super) origin: TokenOrigin,
    pub(super) limit: &'a RateLimit,
    /// How long the link may show no sign of life before the request counts as lost.
    pub(super) timeout: Duration,
    /// Body bytes handed to the network so far.
    pub(super) sent: Arc<AtomicU64>,
}

impl Wire<'_> {
    /// Sends `request` (hashing and streaming its body from the file) and waits for the
    /// answer, giving up when the link stays quiet for the timeout.
    pub(super) async fn exchange(&self, mut request: Request) -> (RequestId, Outcome) {
        let id = request.id;
        let url = request.url.clone();
        if let Some(refused) = self.off_origin(&request) {
            return (id, Outcome::Local(refused));
        }
        let body = request.body.clone();
        let mut held = None;
        if let Some(body) = &body {
            let checked = if body.range.end - body.range.start <= HELD_MAX {
                read_range(self.file, body.range.clone(), body.checksum)
                    .await
                    .map(|(bytes, checksum)| {
                        if let Some(checksum) = checksum {
                            request.set_checksum(&checksum);
                        }
                        held = Some(bytes);
                    })
            } else if let Some(algorithm) = body.checksum {
                hash_range(self.file, body.range.clone(), algorithm)
                    .await
                    .map(|checksum| request.set_checksum(&checksum))
            } else {
                self.file.check_unchanged_async().await
            };
            if let Err(err) = checked {
                return (id, Outcome::Local(err));
            }
        }
        let mut builder = self
            .http
            .request(request.method.clone(), request.url.as_str())
            .headers(request.headers);
        if let Some(token) = self.token {
            builder = builder.bearer_auth(token.expose());
        }
        let activity = Activity::new();
        let local: Arc<Mutex<Option<EngineError>>> = Arc::default();
        if let Some(bytes) = held {
            let stream = held_stream(
                bytes,
                self.limit.clone(),
                Arc::clone(&activity),
                Arc::clone(&self.sent),
            );
            builder = builder.body(reqwest::Body::wrap_stream(stream));
        } else if let Some(body) = body {
            let stream = body_stream(
                self.file.clone(),
                body.range,
                self.limit.clone(),
                Arc::clone(&activity),
                Arc::clone(&self.sent),
                Arc::clone(&local),
            );
            builder = builder.body(reqwest::Body::wrap_stream(stream));
        }
        let exchange = async {
            let mut reply = builder.send().await?;
            activity.touch();
            let mut answer = Response::new(reply.status());
            answer.headers = std::mem::take(reply.headers_mut());
            let mut kept = Vec::new();
            while kept.len() < ANSWER_KEPT {
                match reply.chunk().await? {
                    Some(piece) => {
                        activity.touch();
                        kept.extend_from_slice(&piece);
                    }
                    None => break,
                }
            }
            kept.truncate(ANSWER_KEPT);
            answer.body = String::from_utf8_lossy(&kept).into_owned();
            Ok::<_, reqwest::Error>(answer)
        };
        let outcome = match activity.within(self.timeout, exchange).await {
            Some(Ok(answer)) => match self.redirected_elsewhere(&url, &answer) {
                Some(refused) => Outcome::Local(refused),
                None => Outcome::Answer(answer),
            },
            Some(Err(err)) => match local.lock().unwrap_or_else(PoisonError::into_inner).take() {
                Some(local) => Outcome::Local(local),
                None => Outcome::Lost(classify(&err), with_causes(&err)),
            },
            None => Outcome::Lost(
                NetworkFailure::Timeout,
                format!(
                    "no sign of life from the server for {} s",
                    self.timeout.as_secs_f32()
                ),
            ),
        };
        (id, outcome)
    }
}

impl Wire<'_> {
    /// A request that would carry the token off its origin, as the error that refuses it.
    fn off_origin(&self, request: &Request) -> Option<EngineError> {
        self.token?;
        let what = match request.kind {
            RequestKind::Create => "the tus endpoint",
            RequestKind::Discover => "the tus server",
            _ => "the upload's Location",
        };
        self.origin.check(&request.url, what).err()
    }

    /// A redirect (not followed: see [`crate::origin::redirect_policy`]) to another origin,
    /// as the error that names it when the request carried the token.
    fn redirected_elsewhere(&self, url: &url::Url, answer: &Response) -> Option<EngineError> {
        if self.token.is_none() || !answer.status.is_redirection() {
            return None;
        }
        let target = answer
            .headers
            .get(http::header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|location| url.join(location).ok())?;
        self.origin.check(&target, "a redirect").err()
    }
}

fn file_error(path: &Path, source: std::io::Error) -> EngineError {
    if source.kind() == std::io::ErrorKind::UnexpectedEof {
        // Shorter than it was: it changed under us.
        EngineError::FileChanged {
            path: path.to_path_buf(),
        }
    } else {
        EngineError::File {
            path: path.to_path_buf(),
            source,
        }
    }
}

fn join_error(path: &Path, err: &tokio::task::JoinError) -> EngineError {
    EngineError::File {
        path: path.to_path_buf(),
        source: std::io::Error::other(err.to_string()),
    }
}

/// Reads `range` of the file into one buffer on a blocking thread and hashes it with
/// `algorithm` if given, checking before and after that the file did not change: the bytes
/// sent are then exactly the bytes hashed, read once.
async fn read_range(
    file: &LocalFile,
    range: Range<u64>,
    algorithm: Option<ChecksumAlgorithm>,
) -> Result<(Bytes, Option<Checksum>), EngineError> {
    let local = file.clone();
    tokio::task::spawn_blocking(move || {
        local.check_unchanged()?;
        let path = &local.path;
        let len = usize::try_from(range.end - range.start).map_err(|_| {
            file_error(
                path,
                std::io::Error::other("a chunk that does not fit in memory"),
            )
        })?;
        let mut buf = vec![0u8; len];
        let mut handle = local.open_checked()?;
        handle
            .seek(SeekFrom::Start(range.start))
            .map_err(|e| file_error(path, e))?;
        handle
            .read_exact(&mut buf)
            .map_err(|e| file_error(path, e))?;
        local.check_unchanged()?;
        let checksum = algorithm.map(|a| a.digest(&buf));
        Ok((Bytes::from(buf), checksum))
    })
    .await
    .map_err(|e| join_error(&file.path, &e))?
}

/// A body held in memory, handed out a piece at a time, each after the rate limit allowed it.
fn held_stream(
    bytes: Bytes,
    limit: RateLimit,
    activity: Arc<Activity>,
    sent: Arc<AtomicU64>,
) -> impl futures_util::Stream<Item = Result<Bytes, std::io::Error>> + Send + 'static {
    futures_util::stream::unfold(bytes, move |mut rest| {
        let (limit, activity, sent) = (limit.clone(), Arc::clone(&activity), Arc::clone(&sent));
        async move {
            if rest.is_empty() {
                return None;
            }
            let len = rest.len().min(usize::try_from(PIECE).unwrap_or(usize::MAX));
            let piece = rest.split_to(len);
            activity.pause();
            limit.take(len as u64).await;
            activity.touch();
            sent.fetch_add(len as u64, Ordering::Relaxed);
            Some((Ok(piece), rest))
        }
    })
}

/// Hashes `range` of the file, read in pieces on a blocking thread, checking before and
/// after that the file did not change.
async fn hash_range(
    file: &LocalFile,
    range: Range<u64>,
    algorithm: ChecksumAlgorithm,
) -> Result<Checksum, EngineError> {
    let local = file.clone();
    tokio::task::spawn_blocking(move || {
        local.check_unchanged()?;
        let path = &local.path;
        let mut handle = local.open_checked()?;
        handle
            .seek(SeekFrom::Start(range.start))
            .map_err(|e| file_error(path, e))?;
        let mut hasher = algorithm.hasher();
        let mut buf = vec![0u8; usize::try_from(PIECE).unwrap_or(usize::MAX)];
        let mut left = range.end - range.start;
        while left > 0 {
            let n = usize::try_from(left.min(PIECE)).unwrap_or(buf.len());
            handle
                .read_exact(&mut buf[..n])
                .map_err(|e| file_error(path, e))?;
            hasher.update(&buf[..n]);
            left -= n as u64;
        }
        local.check_unchanged()?;
        Ok(hasher.finish())
    })
    .await
    .map_err(|e| join_error(&file.path, &e))?
}

/// Where a body stream stands between pieces.
struct Reader {
    file: LocalFile,
    handle: Option<std::fs::File>,
    pos: u64,
    end: u64,
    limit: RateLimit,
    activity: Arc<Activity>,
    sent: Arc<AtomicU64>,
    local: Arc<Mutex<Option<EngineError>>>,
}

/// Reads the piece at `pos` (opening the file the first time); after the last piece checks
/// that the file did not change, so a body read across a change never ends well.
fn read_piece(
    file: &LocalFile,
    handle: Option<std::fs::File>,
    pos: u64,
    len: u64,
    last: bool,
) -> Result<(std::fs::File, Bytes), EngineError> {
    let path = &file.path;
    let mut handle = if let Some(handle) = handle {
        handle
    } else {
        let mut handle = file.open_checked()?;
        handle
            .seek(SeekFrom::Start(pos))
            .map_err(|e| file_error(path, e))?;
        handle
    };
    let mut buf = vec![0u8; usize::try_from(len).unwrap_or(usize::MAX)];
    handle
        .read_exact(&mut buf)
        .map_err(|e| file_error(path, e))?;
    if last {
        file.check_unchanged()?;
    }
    Ok((handle, Bytes::from(buf)))
}

/// The bytes of `range`, a piece at a time, each after the rate limit allowed it.
fn body_stream(
    file: LocalFile,
    range: Range<u64>,
    limit: RateLimit,
    activity: Arc<Activity>,
    sent: Arc<AtomicU64>,
    local: Arc<Mutex<Option<EngineError>>>,
) -> impl futures_util::Stream<Item = Result<Bytes, std::io::Error>> + Send + 'static {
    let reader = Reader {
        file,
        handle: None,
        pos: range.start,
        end: range.end,
        limit,
        activity,
        sent,
        local,
    };
    futures_util::stream::try_unfold(reader, |mut reader| async move {
        if reader.pos >= reader.end {
            return Ok(None);
        }
        let len = (reader.end - reader.pos).min(PIECE);
        reader.activity.pause();
        reader.limit.take(len).await;
        reader.activity.touch();
        let (file, handle, pos) = (reader.file.clone(), reader.handle.take(), reader.pos);
        let last = pos + len >= reader.end;
        let read = tokio::task::spawn_blocking(move || read_piece(&file, handle, pos, len, last))
            .await
            .map_err(|e| join_error(&reader.file.path, &e))
            .and_then(|r| r);
        match read {
            Ok((handle, piece)) => {
                reader.handle = Some(handle);
                reader.pos += len;
                reader.sent.fetch_add(len, Ordering::Relaxed);
                Ok(Some((piece, reader)))
            }
            Err(err) => {
                let message = err.to_string();
                *reader.local.lock().unwrap_or_else(PoisonError::into_inner) = Some(err);
                Err(std::io::Error::other(message))
            }
        }
    })
}
