//! A complete tus 1.0.0 server in memory, assembled from [`super::server`]'s helpers.
//!
//! It exists so that the client machine can be run against a real protocol peer without
//! sockets: in tests, in property tests that cut connections at random bytes, and in the
//! demo. It is a reference for how ferry-server drives the helpers, not a store for real
//! data (everything lives in a `Vec<u8>`). Knows nothing of the client machine.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use http::{Method, StatusCode};

use super::headers::Concat;
use super::message::{Request, Response};
use super::server::{
    Rejection, ServerConfig, UploadInfo, parse_append, parse_creation, terminated_response,
    upload_id_from_url, verify_chunk,
};
use crate::checksum::Checksum;

/// The path of the creation endpoint.
pub const ENDPOINT_PATH: &str = "/files/";

#[derive(Debug, Clone)]
struct Stored {
    info: UploadInfo,
    data: Vec<u8>,
}

/// An in-memory tus server. Uploads are named `/files/1`, `/files/2`, ...
#[derive(Debug, Clone)]
pub struct MemoryServer {
    config: ServerConfig,
    expire_after: Option<Duration>,
    uploads: BTreeMap<String, Stored>,
    next_id: u64,
    bytes_received: u64,
}

impl MemoryServer {
    /// A server offering what `config` says.
    pub fn new(config: ServerConfig) -> Self {
        Self {
            config,
            expire_after: None,
            uploads: BTreeMap::new(),
            next_id: 1,
            bytes_received: 0,
        }
    }

    /// Unfinished uploads expire `after` their last change (the expiration extension).
    #[must_use]
    pub fn with_expiry(mut self, after: Duration) -> Self {
        self.expire_after = Some(after);
        self
    }

    /// Every body byte the server has taken in, kept or discarded: the network cost.
    pub fn bytes_received(&self) -> u64 {
        self.bytes_received
    }

    /// The bytes of a complete upload, by `Location`.
    pub fn completed(&self, location: &str) -> Option<&[u8]> {
        let stored = self
            .uploads
            .get(upload_id_from_url(location, ENDPOINT_PATH)?)?;
        stored.info.is_complete().then_some(stored.data.as_slice())
    }

    /// The protocol view of an upload, by `Location`.
    pub fn info(&self, location: &str) -> Option<&UploadInfo> {
        Some(
            &self
                .uploads
                .get(upload_id_from_url(location, ENDPOINT_PATH)?)?
                .info,
        )
    }

    /// How many uploads the server holds (complete or not).
    pub fn upload_count(&self) -> usize {
        self.uploads.len()
    }

    /// Forgets an upload, as a server that lost or cleaned it would.
    pub fn forget(&mut self, location: &str) {
        if let Some(id) = upload_id_from_url(location, ENDPOINT_PATH) {
            self.uploads.remove(id);
        }
    }

    /// Handles a request whose body (`body`, exactly the request's range) fully arrived.
    pub fn handle(&mut self, request: &Request, body: &[u8], now: SystemTime) -> Response {
        self.collect_expired(now);
        self.dispatch(request, body, true, now)
            .unwrap_or_else(Rejection::into_response)
    }

    /// Handles a request whose connection broke after `received` body bytes: like tusd and
    /// ferry-server, the server keeps bytes it cannot verify only when no checksum was sent.
    /// Nobody hears the answer.
    pub fn handle_cut(&mut self, request: &Request, received: &[u8], now: SystemTime) {
        self.collect_expired(now);
        let _ = self.dispatch(request, received, false, now);
    }

    fn collect_expired(&mut self, now: SystemTime) {
        self.uploads
            .retain(|_, s| s.info.is_complete() || s.info.expires.is_none_or(|at| now < at));
    }

    fn expiry(&self, now: SystemTime) -> Option<SystemTime> {
        self.expire_after.map(|after| now + after)
    }

    /// The id of the existing upload a request names (after checking its tus version).
    fn existing(&self, request: &Request) -> Result<String, Rejection> {
        super::server::check_version(&request.headers)?;
        upload_id_from_url(request.url.path(), ENDPOINT_PATH)
            .filter(|id| self.uploads.contains_key(*id))
            .map(str::to_owned)
            .ok_or_else(|| Rejection::new(StatusCode::NOT_FOUND, "no such upload"))
    }

    fn dispatch(
        &mut self,
        request: &Request,
        body: &[u8],
        complete: bool,
        now: SystemTime,
    ) -> Result<Response, Rejection> {
        self.bytes_received += body.len() as u64;
        let at_endpoint = request.url.path() == ENDPOINT_PATH;
        match request.method.clone() {
            Method::OPTIONS => Ok(self.config.options_response()),
            Method::POST if at_endpoint => self.create(request, body, complete, now),
            Method::HEAD => {
                let id = self.existing(request)?;
                Ok(self.uploads[&id].info.head_response())
            }
            Method::PATCH => self.append(request, body, complete, now),
            Method::DELETE => {
                let id = self.existing(request)?;
                self.uploads.remove(&id);
                Ok(terminated_response())
            }
            _ => Err(Rejection::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "method not allowed here",
            )),
        }
    }

    fn create(
        &mut self,
        request: &Request,
        body: &[u8],
        complete: bool,
        now: SystemTime,
    ) -> Result<Response, Rejection> {
        let creation = parse_creation(&request.headers, &self.config)?;
        let mut stored = Stored {
            info: UploadInfo {
                offset: 0,
                length: creation.length,
                metadata: creation.metadata,
                expires: self.expiry(now),
                concat: creation.concat.clone(),
            },
            data: Vec::new(),
        };
        if let Some(Concat::Final(urls)) = &creation.concat {
            for url in urls {
                let part = upload_id_from_url(url, ENDPOINT_PATH)
                    .and_then(|id| self.uploads.get(id))
                    .filter(|p| p.info.concat == Some(Concat::Partial))
                    .ok_or_else(|| {
                        Rejection::bad_request(format!("{url} is not a partial upload here"))
                    })?;
                if !part.info.is_complete() {
                    return Err(Rejection::bad_request(format!(
                        "partial upload {url} is not finished"
                    )));
                }
                stored.data.extend_from_slice(&part.data);
            }
            stored.info.offset = stored.data.len() as u64;
            stored.info.length = Some(stored.info.offset);
        }
        if creation.body_len.is_some() {
            let accepted = accepted_bytes(creation.checksum.as_ref(), body, complete)?;
            stored.data.extend_from_slice(accepted);
            stored.info.offset = stored.data.len() as u64;
        }
        let id = self.next_id.to_string();
        self.next_id += 1;
        let response = stored
            .info
            .created_response(&format!("{ENDPOINT_PATH}{id}"), creation.body_len.is_some());
        self.uploads.insert(id, stored);
        Ok(response)
    }

    fn append(
        &mut self,
        request: &Request,
        body: &[u8],
        complete: bool,
        now: SystemTime,
    ) -> Result<Response, Rejection> {
        let append = parse_append(&request.headers, &self.config)?;
        let id = self.existing(request)?;
        let expiry = self.expiry(now);
        let Some(stored) = self.uploads.get_mut(&id) else {
            return Err(Rejection::new(StatusCode::NOT_FOUND, "no such upload"));
        };
        let plan = stored.info.check_append(&append, &self.config)?;
        if let Some(length) = plan.new_length {
            stored.info.length = Some(length);
        }
        let body = match plan.max_bytes {
            Some(max) => &body[..body.len().min(usize::try_from(max).unwrap_or(usize::MAX))],
            None => body,
        };
        stored
            .data
            .extend_from_slice(accepted_bytes(append.checksum.as_ref(), body, complete)?);
        stored.info.offset = stored.data.len() as u64;
        stored.info.expires = expiry;
        Ok(stored.info.append_response())
    }
}

/// The bytes of a body the server keeps: all of them when no checksum was sent (even from a
/// cut connection), none from a cut connection whose checksum cannot be checked, and the
/// verified body otherwise (460 when it does not match).
fn accepted_bytes<'a>(
    checksum: Option<&Checksum>,
    body: &'a [u8],
    complete: bool,
) -> Result<&'a [u8], Rejection> {
    match checksum {
        Some(expected) if complete => {
            verify_chunk(expected, &expected.algorithm.digest(body))?;
            Ok(body)
        }
        Some(_) => Ok(&[]),
        None => Ok(body),
    }
}
