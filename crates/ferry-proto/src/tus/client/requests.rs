//! How the client machine builds its requests: which headers each one carries, and which
//! range of the file goes in its body. Knows nothing of how answers are judged.

use std::time::SystemTime;

use http::{HeaderMap, HeaderValue, Method};
use url::Url;

use super::part::Stage;
use super::{Pending, RestartReason, Upload};
use crate::checksum::ChecksumAlgorithm;
use crate::tus::headers::{
    Concat, Extension, OFFSET_OCTET_STREAM, TUS_RESUMABLE, TUS_VERSION, UPLOAD_CONCAT,
    UPLOAD_DEFER_LENGTH, UPLOAD_LENGTH, UPLOAD_METADATA, UPLOAD_OFFSET,
};
use crate::tus::message::{Body, Request, RequestId, RequestKind};
use crate::tus::metadata::Metadata;

impl Upload {
    pub(super) fn checksum_algorithm(&self) -> Option<ChecksumAlgorithm> {
        let algorithm = self.opts.checksum?;
        self.caps
            .as_ref()
            .filter(|c| c.checksum(algorithm))
            .map(|_| algorithm)
    }

    pub(super) fn request(
        &mut self,
        kind: RequestKind,
        method: Method,
        url: Url,
        part: usize,
        body: Option<Body>,
    ) -> Request {
        let id = RequestId(self.next_id);
        self.next_id += 1;
        let body_len = body.as_ref().map_or(0, Body::len);
        let offset = self.parts.get(part).map_or(0, |p| p.offset);
        self.pending.insert(
            id,
            Pending {
                kind,
                part,
                offset,
                body_len,
                announces_length: false,
            },
        );
        Request {
            id,
            kind,
            method,
            url,
            headers: HeaderMap::new(),
            body,
        }
    }

    /// The next request of one part, if it has one to make now.
    pub(super) fn part_request(&mut self, index: usize, now: SystemTime) -> Option<Request> {
        if self.parts[index].busy {
            return None;
        }
        if self.parts[index].is_expired(now) {
            self.restart_part(index, RestartReason::Expired);
        }
        let request = match self.parts[index].stage {
            Stage::Done => return None,
            Stage::Create => self.create_request(index),
            Stage::Sync => {
                let url = self.parts[index].url.clone()?;
                let mut req = self.request(RequestKind::Status, Method::HEAD, url, index, None);
                req.headers
                    .insert(TUS_RESUMABLE, HeaderValue::from_static(TUS_VERSION));
                req
            }
            Stage::Transfer => self.append_request(index)?,
        };
        self.parts[index].busy = true;
        Some(request)
    }

    /// The first body of a part: the next chunk, bounded by what exists.
    fn chunk(&self, index: usize) -> Option<Body> {
        let part = &self.parts[index];
        let begin = part.start + part.offset;
        let part_end = part
            .len
            .map_or(self.available, |len| part.start + len)
            .min(self.available.max(begin));
        let end = part_end.min(begin.saturating_add(self.opts.chunk_size.max(1)));
        (end > begin).then(|| Body {
            range: begin..end,
            checksum: self.checksum_algorithm(),
        })
    }

    fn create_request(&mut self, index: usize) -> Request {
        let with_upload = self.opts.creation_with_upload
            && self
                .caps
                .as_ref()
                .is_some_and(|c| c.supports(&Extension::CreationWithUpload));
        let body = if with_upload { self.chunk(index) } else { None };
        let len = self.parts[index].len;
        let concatenated = self.concatenated;
        let endpoint = self.opts.endpoint.clone();
        let mut req = self.request(RequestKind::Create, Method::POST, endpoint, index, body);
        let h = &mut req.headers;
        h.insert(TUS_RESUMABLE, HeaderValue::from_static(TUS_VERSION));
        match len {
            Some(len) => {
                h.insert(UPLOAD_LENGTH, HeaderValue::from(len));
            }
            None => {
                h.insert(UPLOAD_DEFER_LENGTH, HeaderValue::from_static("1"));
            }
        }
        if concatenated {
            h.insert(UPLOAD_CONCAT, HeaderValue::from_static("partial"));
        } else if !self.opts.metadata.is_empty() {
            h.insert(UPLOAD_METADATA, metadata_value(&self.opts.metadata));
        }
        set_body_headers(h, req.body.as_ref());
        if let Some(pending) = self.pending.get_mut(&req.id) {
            pending.announces_length = len.is_some();
        }
        req
    }

    fn append_request(&mut self, index: usize) -> Option<Request> {
        let part = &self.parts[index];
        let announce = part.len.filter(|_| !part.length_announced);
        let body = self.chunk(index);
        if body.is_none() && announce.is_none() {
            // Deferred length and no new bytes yet: nothing to send until set_available.
            return None;
        }
        let url = part.url.clone()?;
        let offset = part.offset;
        let mut req = self.request(RequestKind::Append, Method::PATCH, url, index, body);
        let h = &mut req.headers;
        h.insert(TUS_RESUMABLE, HeaderValue::from_static(TUS_VERSION));
        h.insert(UPLOAD_OFFSET, HeaderValue::from(offset));
        if let Some(len) = announce {
            h.insert(UPLOAD_LENGTH, HeaderValue::from(len));
        }
        h.insert(
            http::header::CONTENT_TYPE,
            HeaderValue::from_static(OFFSET_OCTET_STREAM),
        );
        h.insert(
            http::header::CONTENT_LENGTH,
            HeaderValue::from(req.body.as_ref().map_or(0, Body::len)),
        );
        if let Some(pending) = self.pending.get_mut(&req.id) {
            pending.announces_length = announce.is_some();
        }
        Some(req)
    }

    pub(super) fn concatenate_request(&mut self) -> Request {
        let locations: Vec<String> = self
            .parts
            .iter()
            .filter_map(|p| p.location.clone())
            .collect();
        let endpoint = self.opts.endpoint.clone();
        self.final_requested = true;
        let mut req = self.request(RequestKind::Concatenate, Method::POST, endpoint, 0, None);
        let h = &mut req.headers;
        h.insert(TUS_RESUMABLE, HeaderValue::from_static(TUS_VERSION));
        h.insert(
            UPLOAD_CONCAT,
            header_text(&Concat::Final(locations).encode()),
        );
        if !self.opts.metadata.is_empty() {
            h.insert(UPLOAD_METADATA, metadata_value(&self.opts.metadata));
        }
        h.insert(http::header::CONTENT_LENGTH, HeaderValue::from(0));
        req
    }
}

fn set_body_headers(headers: &mut HeaderMap, body: Option<&Body>) {
    match body {
        Some(body) => {
            headers.insert(
                http::header::CONTENT_TYPE,
                HeaderValue::from_static(OFFSET_OCTET_STREAM),
            );
            headers.insert(http::header::CONTENT_LENGTH, HeaderValue::from(body.len()));
        }
        None => {
            headers.insert(http::header::CONTENT_LENGTH, HeaderValue::from(0));
        }
    }
}

fn metadata_value(metadata: &Metadata) -> HeaderValue {
    header_text(&metadata.encode())
}

/// A header value from text that the machine built itself. Such text is base64, digits,
/// ASCII names and URLs that arrived as header values, so it is always valid; should that
/// ever break, an empty value (which the server refuses loudly) beats a panic.
fn header_text(text: &str) -> HeaderValue {
    HeaderValue::from_str(text).unwrap_or_else(|_| HeaderValue::from_static(""))
}
