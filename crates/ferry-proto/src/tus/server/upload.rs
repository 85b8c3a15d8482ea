//! A stored upload as the protocol sees it: the checks a PATCH must pass against it and
//! the answers (HEAD, PATCH, POST, DELETE) that describe it. Knows nothing of where the
//! bytes are kept.

use std::time::SystemTime;

use http::StatusCode;
use http::header::{CACHE_CONTROL, LOCATION};

use super::request::Append;
use super::{CHECKSUM_MISMATCH, Rejection, ServerConfig};
use crate::checksum::Checksum;
use crate::tus::headers::{
    Concat, TUS_RESUMABLE, TUS_VERSION, UPLOAD_CONCAT, UPLOAD_DEFER_LENGTH, UPLOAD_EXPIRES,
    UPLOAD_LENGTH, UPLOAD_METADATA, UPLOAD_OFFSET, format_expires,
};
use crate::tus::message::Response;
use crate::tus::metadata::Metadata;

/// What a stored upload looks like to the protocol.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadInfo {
    /// Bytes received.
    pub offset: u64,
    /// Total length; `None` while deferred.
    pub length: Option<u64>,
    /// Metadata given at creation.
    pub metadata: Metadata,
    /// When the unfinished upload will be removed.
    pub expires: Option<SystemTime>,
    /// Whether it is a partial or final upload of a concatenation.
    pub concat: Option<Concat>,
}

/// What an accepted PATCH may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AppendPlan {
    /// Where the body's bytes go.
    pub offset: u64,
    /// The most bytes the body may carry (past this the upload would exceed its length or
    /// the server's limit); `None` when unlimited.
    pub max_bytes: Option<u64>,
    /// The length to record now, when the request declares a deferred length.
    pub new_length: Option<u64>,
}

impl UploadInfo {
    /// Whether every byte has arrived.
    pub fn is_complete(&self) -> bool {
        self.length == Some(self.offset)
    }

    /// Checks a PATCH against this upload: 403 for a final upload, 409 for a wrong offset,
    /// 400 for a changed length, 413 for a body that cannot fit.
    pub fn check_append(
        &self,
        append: &Append,
        config: &ServerConfig,
    ) -> Result<AppendPlan, Rejection> {
        if matches!(self.concat, Some(Concat::Final(_))) {
            return Err(Rejection::new(
                StatusCode::FORBIDDEN,
                "a final concatenation cannot be appended to",
            ));
        }
        if append.offset != self.offset {
            return Err(Rejection::new(
                StatusCode::CONFLICT,
                format!(
                    "Upload-Offset {} does not match the {} bytes received",
                    append.offset, self.offset
                ),
            ));
        }
        let new_length = match (self.length, append.length) {
            (Some(have), Some(declared)) if have != declared => {
                return Err(Rejection::bad_request(format!(
                    "the upload's length is {have}; it cannot change to {declared}"
                )));
            }
            (None, Some(declared)) if declared < self.offset => {
                return Err(Rejection::bad_request(format!(
                    "Upload-Length {declared} is less than the {} bytes already received",
                    self.offset
                )));
            }
            (None, Some(declared)) => Some(declared),
            _ => None,
        };
        let length = self.length.or(new_length);
        let max_bytes = length
            .or(config.max_size)
            .map(|limit| limit.saturating_sub(self.offset));
        if let (Some(max), Some(sent)) = (max_bytes, append.content_length)
            && sent > max
        {
            return Err(Rejection::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!(
                    "{sent} bytes at offset {} would exceed the upload's length",
                    self.offset
                ),
            ));
        }
        Ok(AppendPlan {
            offset: self.offset,
            max_bytes,
            new_length,
        })
    }

    fn with_common(&self, mut response: Response) -> Response {
        response = response.with_header(TUS_RESUMABLE, TUS_VERSION);
        if let Some(expires) = self.expires.filter(|_| !self.is_complete()) {
            response = response.with_header(UPLOAD_EXPIRES, format_expires(expires));
        }
        response
    }

    /// The answer to HEAD: 200 with the offset (omitted for an unfinished final upload),
    /// the length or `Upload-Defer-Length: 1` (neither for an unfinished final upload whose
    /// length is not known yet), metadata, concatenation and `no-store`.
    pub fn head_response(&self) -> Response {
        let mut response = Response::new(StatusCode::OK).with_header(CACHE_CONTROL, "no-store");
        let unfinished_final = matches!(self.concat, Some(Concat::Final(_))) && !self.is_complete();
        if !unfinished_final {
            response = response.with_header(UPLOAD_OFFSET, self.offset.to_string());
        }
        response = match self.length {
            Some(length) => response.with_header(UPLOAD_LENGTH, length.to_string()),
            // A final upload whose parts are unfinished has no length yet, but nothing is
            // deferred: the client must not send one (concatenation-unfinished).
            None if unfinished_final => response,
            None => response.with_header(UPLOAD_DEFER_LENGTH, "1"),
        };
        if !self.metadata.is_empty() {
            response = response.with_header(UPLOAD_METADATA, self.metadata.encode());
        }
        if let Some(concat) = &self.concat {
            response = response.with_header(UPLOAD_CONCAT, concat.encode());
        }
        self.with_common(response)
    }

    /// The answer to an accepted PATCH: 204 with the new offset.
    pub fn append_response(&self) -> Response {
        self.with_common(
            Response::new(StatusCode::NO_CONTENT)
                .with_header(UPLOAD_OFFSET, self.offset.to_string()),
        )
    }

    /// The answer to a creation: 201 with `Location`, and the offset when the request
    /// carried bytes.
    pub fn created_response(&self, location: &str, carried_body: bool) -> Response {
        let mut response = Response::new(StatusCode::CREATED).with_header(LOCATION, location);
        if carried_body {
            response = response.with_header(UPLOAD_OFFSET, self.offset.to_string());
        }
        self.with_common(response)
    }
}

/// The answer to a successful DELETE.
pub fn terminated_response() -> Response {
    Response::new(StatusCode::NO_CONTENT).with_header(TUS_RESUMABLE, TUS_VERSION)
}

/// Compares the checksum the client sent with the one computed over the body as it
/// streamed in: 460 on mismatch, after which the server discards the chunk.
pub fn verify_chunk(expected: &Checksum, computed: &Checksum) -> Result<(), Rejection> {
    if expected == computed {
        Ok(())
    } else {
        Err(Rejection::new(
            CHECKSUM_MISMATCH,
            format!(
                "{} checksum mismatch: the chunk was discarded, send it again",
                expected.algorithm
            ),
        ))
    }
}

/// The upload id in a URL naming an upload under `endpoint_path` (`/files/`), as found in
/// `Upload-Concat: final;...`: absolute (`http://host/files/ID`) or a path (`/files/ID`).
pub fn upload_id_from_url<'a>(url: &'a str, endpoint_path: &str) -> Option<&'a str> {
    let path = match url.find("://") {
        Some(scheme_end) => {
            let rest = &url[scheme_end + 3..];
            &rest[rest.find('/')?..]
        }
        None => url,
    };
    let path = path.split(['?', '#']).next()?;
    let id = path
        .strip_prefix(endpoint_path.trim_end_matches('/'))?
        .strip_prefix('/')?;
    (!id.is_empty() && !id.contains('/')).then_some(id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upload_ids_come_from_absolute_and_relative_urls() {
        assert_eq!(
            upload_id_from_url("http://h:1/files/abc", "/files/"),
            Some("abc")
        );
        assert_eq!(upload_id_from_url("/files/abc", "/files"), Some("abc"));
        assert_eq!(upload_id_from_url("/files/abc?x=1", "/files/"), Some("abc"));
        assert_eq!(upload_id_from_url("/other/abc", "/files/"), None);
        assert_eq!(upload_id_from_url("/files/a/b", "/files/"), None);
        assert_eq!(upload_id_from_url("/files/", "/files/"), None);
    }

    #[test]
    fn append_checks_offset_length_and_kind() {
        let config = ServerConfig::complete(None);
        let info = UploadInfo {
            offset: 10,
            length: Some(20),
            metadata: Metadata::new(),
            expires: None,
            concat: None,
        };
        let append = |offset, content_length| Append {
            offset,
            length: None,
            checksum: None,
            content_length,
        };
        assert_eq!(
            info.check_append(&append(9, Some(1)), &config)
                .unwrap_err()
                .status,
            StatusCode::CONFLICT
        );
        assert_eq!(
            info.check_append(&append(10, Some(11)), &config)
                .unwrap_err()
                .status,
            StatusCode::PAYLOAD_TOO_LARGE
        );
        let plan = info.check_append(&append(10, Some(10)), &config).unwrap();
        assert_eq!(plan.max_bytes, Some(10));
        let changed = Append {
            length: Some(21),
            ..append(10, None)
        };
        assert_eq!(
            info.check_append(&changed, &config).unwrap_err().status,
            StatusCode::BAD_REQUEST
        );
        let final_upload = UploadInfo {
            concat: Some(Concat::Final(vec!["/files/a".into()])),
            ..info
        };
        assert_eq!(
            final_upload
                .check_append(&append(10, None), &config)
                .unwrap_err()
                .status,
            StatusCode::FORBIDDEN
        );
    }

    #[test]
    fn an_unfinished_final_upload_shows_neither_offset_nor_deferred_length() {
        let info = UploadInfo {
            offset: 0,
            length: None,
            metadata: Metadata::new(),
            expires: None,
            concat: Some(Concat::Final(vec!["/files/a".into(), "/files/b".into()])),
        };
        let head = info.head_response();
        assert!(!head.headers.contains_key(UPLOAD_OFFSET));
        assert!(
            !head.headers.contains_key(UPLOAD_DEFER_LENGTH),
            "the client must not think it may declare a length"
        );
        assert_eq!(head.headers[UPLOAD_CONCAT], "final;/files/a /files/b");
        let deferred = UploadInfo {
            concat: None,
            ..info
        };
        assert_eq!(deferred.head_response().headers[UPLOAD_DEFER_LENGTH], "1");
    }
}
