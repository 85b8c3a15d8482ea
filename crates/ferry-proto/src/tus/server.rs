//! Server-side tus 1.0.0: request validation and the answers a server gives.
//!
//! The same header codecs as the client, used the other way round. A server parses a
//! request with [`parse_creation`] or [`parse_append`], checks it against the stored upload
//! with [`UploadInfo::check_append`], streams the body itself (hashing it while it streams
//! when `Upload-Checksum` is present, see [`verify_chunk`]), and answers with the
//! [`Response`] these helpers build. Every refusal is a [`Rejection`] with the status the
//! protocol prescribes and a message for the person reading logs.
//!
//! Knows nothing of storage, locking, accounts or the HTTP framework.

use std::time::SystemTime;

use http::header::{CACHE_CONTROL, CONTENT_LENGTH, CONTENT_TYPE, LOCATION};
use http::{HeaderMap, StatusCode};

use super::capabilities::Capabilities;
use super::headers::{
    Concat, Extension, OFFSET_OCTET_STREAM, TUS_CHECKSUM_ALGORITHM, TUS_EXTENSION, TUS_MAX_SIZE,
    TUS_RESUMABLE, TUS_VERSION, TUS_VERSION_HEADER, UPLOAD_CHECKSUM, UPLOAD_CONCAT,
    UPLOAD_DEFER_LENGTH, UPLOAD_EXPIRES, UPLOAD_LENGTH, UPLOAD_METADATA, UPLOAD_OFFSET,
    format_expires, header_str, header_u64,
};
use super::message::Response;
use super::metadata::Metadata;
use crate::checksum::{Checksum, ChecksumAlgorithm};

/// The status tus prescribes for a checksum mismatch.
pub const CHECKSUM_MISMATCH: StatusCode = match StatusCode::from_u16(460) {
    Ok(status) => status,
    Err(_) => panic!("460 is a valid status code"),
};

/// What a server offers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerConfig {
    /// Extensions announced and accepted.
    pub extensions: Vec<Extension>,
    /// Checksum algorithms accepted in `Upload-Checksum`.
    pub checksum_algorithms: Vec<ChecksumAlgorithm>,
    /// The largest upload accepted, if limited.
    pub max_size: Option<u64>,
}

impl ServerConfig {
    /// Every extension ferry-server implements, with sha1, sha256 and md5 checksums.
    pub fn complete(max_size: Option<u64>) -> Self {
        Self {
            extensions: vec![
                Extension::Creation,
                Extension::CreationWithUpload,
                Extension::CreationDeferLength,
                Extension::Expiration,
                Extension::Checksum,
                Extension::Termination,
                Extension::Concatenation,
                Extension::ConcatenationUnfinished,
            ],
            checksum_algorithms: ChecksumAlgorithm::ALL.to_vec(),
            max_size,
        }
    }

    /// Whether `extension` is offered.
    pub fn supports(&self, extension: &Extension) -> bool {
        self.extensions.contains(extension)
    }

    /// The same offer as a client sees it.
    pub fn capabilities(&self) -> Capabilities {
        Capabilities::new(
            self.extensions.clone(),
            self.checksum_algorithms.clone(),
            self.max_size,
        )
    }

    /// The answer to OPTIONS (204 with the discovery headers).
    pub fn options_response(&self) -> Response {
        let mut response = Response::new(StatusCode::NO_CONTENT)
            .with_header(TUS_RESUMABLE, TUS_VERSION)
            .with_header(TUS_VERSION_HEADER, TUS_VERSION);
        if !self.extensions.is_empty() {
            let names: Vec<&str> = self.extensions.iter().map(Extension::name).collect();
            response = response.with_header(TUS_EXTENSION, names.join(","));
        }
        if let Some(max) = self.max_size {
            response = response.with_header(TUS_MAX_SIZE, max.to_string());
        }
        if self.supports(&Extension::Checksum) && !self.checksum_algorithms.is_empty() {
            let names: Vec<&str> = self.checksum_algorithms.iter().map(|a| a.name()).collect();
            response = response.with_header(TUS_CHECKSUM_ALGORITHM, names.join(","));
        }
        response
    }
}

/// A request the server refuses, with the status tus prescribes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{status}: {message}")]
pub struct Rejection {
    /// The status to answer with.
    pub status: StatusCode,
    /// What was wrong, for the client's user and the server's log.
    pub message: String,
}

impl Rejection {
    /// A rejection with `status` and `message`.
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
        }
    }

    /// A 400 Bad Request with `message`.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }

    /// The answer: the status, `Tus-Resumable` (and `Tus-Version` for 412), the message as
    /// a plain-text body.
    pub fn into_response(self) -> Response {
        let mut response = Response::new(self.status).with_header(TUS_RESUMABLE, TUS_VERSION);
        if self.status == StatusCode::PRECONDITION_FAILED {
            response = response.with_header(TUS_VERSION_HEADER, TUS_VERSION);
        }
        response
            .with_header(CONTENT_TYPE, "text/plain; charset=utf-8")
            .with_body(self.message + "\n")
    }
}

/// Checks `Tus-Resumable`: absent or another version is 412.
pub fn check_version(headers: &HeaderMap) -> Result<(), Rejection> {
    match header_str(headers, &TUS_RESUMABLE) {
        Ok(Some(TUS_VERSION)) => Ok(()),
        Ok(Some(other)) => Err(Rejection::new(
            StatusCode::PRECONDITION_FAILED,
            format!("this server speaks tus {TUS_VERSION}, not {other:?}"),
        )),
        _ => Err(Rejection::new(
            StatusCode::PRECONDITION_FAILED,
            format!("missing Tus-Resumable header; this server speaks tus {TUS_VERSION}"),
        )),
    }
}

/// A parsed creation request (POST).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Creation {
    /// The upload's length; `None` when deferred or for a final concatenation.
    pub length: Option<u64>,
    /// The upload's metadata.
    pub metadata: Metadata,
    /// `Upload-Concat`, when the upload is partial or final.
    pub concat: Option<Concat>,
    /// Bytes carried in the body (creation-with-upload); `Some(0)` never occurs.
    pub body_len: Option<u64>,
    /// `Upload-Checksum` of the body.
    pub checksum: Option<Checksum>,
}

/// A parsed append request (PATCH).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Append {
    /// Where the body starts.
    pub offset: u64,
    /// `Upload-Length` declared now (an upload created with a deferred length).
    pub length: Option<u64>,
    /// `Upload-Checksum` of the body.
    pub checksum: Option<Checksum>,
    /// `Content-Length`, if given (absent with chunked transfer).
    pub content_length: Option<u64>,
}

fn number(headers: &HeaderMap, name: &http::header::HeaderName) -> Result<Option<u64>, Rejection> {
    header_u64(headers, name).map_err(|e| Rejection::bad_request(e.to_string()))
}

fn checksum(headers: &HeaderMap, config: &ServerConfig) -> Result<Option<Checksum>, Rejection> {
    let Some(text) =
        header_str(headers, &UPLOAD_CHECKSUM).map_err(|e| Rejection::bad_request(e.to_string()))?
    else {
        return Ok(None);
    };
    if !config.supports(&Extension::Checksum) {
        return Err(Rejection::bad_request(
            "this server does not offer the checksum extension",
        ));
    }
    let checksum =
        Checksum::from_header_value(text).map_err(|e| Rejection::bad_request(e.to_string()))?;
    if !config.checksum_algorithms.contains(&checksum.algorithm) {
        return Err(Rejection::bad_request(format!(
            "checksum algorithm {} is not accepted here",
            checksum.algorithm
        )));
    }
    Ok(Some(checksum))
}

fn has_offset_body(headers: &HeaderMap) -> Result<bool, Rejection> {
    let content_type =
        header_str(headers, &CONTENT_TYPE).map_err(|e| Rejection::bad_request(e.to_string()))?;
    Ok(content_type.is_some_and(|t| t.eq_ignore_ascii_case(OFFSET_OCTET_STREAM)))
}

fn check_size(length: u64, config: &ServerConfig) -> Result<(), Rejection> {
    match config.max_size {
        Some(max) if length > max => Err(Rejection::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("the upload of {length} bytes exceeds this server's limit of {max} bytes"),
        )),
        _ => Ok(()),
    }
}

/// Parses and validates a creation request.
pub fn parse_creation(headers: &HeaderMap, config: &ServerConfig) -> Result<Creation, Rejection> {
    check_version(headers)?;
    if !config.supports(&Extension::Creation) {
        return Err(Rejection::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "this server does not create uploads",
        ));
    }
    let concat = match header_str(headers, &UPLOAD_CONCAT)
        .map_err(|e| Rejection::bad_request(e.to_string()))?
    {
        None => None,
        Some(_) if !config.supports(&Extension::Concatenation) => {
            return Err(Rejection::bad_request(
                "this server does not offer the concatenation extension",
            ));
        }
        Some(text) => Some(Concat::decode(text).ok_or_else(|| {
            Rejection::bad_request(format!(
                "invalid Upload-Concat {text:?}: expected \"partial\" or \"final;<url> <url>...\""
            ))
        })?),
    };
    let length = creation_length(headers, config, concat.as_ref())?;
    let metadata = match header_str(headers, &UPLOAD_METADATA)
        .map_err(|e| Rejection::bad_request(e.to_string()))?
    {
        Some(text) => Metadata::decode(text).map_err(|e| Rejection::bad_request(e.to_string()))?,
        None => Metadata::new(),
    };
    let body_len = creation_body(headers, config, length, concat.as_ref())?;
    let checksum = if body_len.is_some() {
        checksum(headers, config)?
    } else {
        None
    };
    Ok(Creation {
        length,
        metadata,
        concat,
        body_len,
        checksum,
    })
}

/// `Upload-Length` or `Upload-Defer-Length` of a creation, as the kind of upload allows.
fn creation_length(
    headers: &HeaderMap,
    config: &ServerConfig,
    concat: Option<&Concat>,
) -> Result<Option<u64>, Rejection> {
    let length = number(headers, &UPLOAD_LENGTH)?;
    let defer = header_str(headers, &UPLOAD_DEFER_LENGTH)
        .map_err(|e| Rejection::bad_request(e.to_string()))?;
    match (concat, length, defer) {
        (Some(Concat::Final(_)), None, None) => Ok(None),
        (Some(Concat::Final(_)), _, _) => Err(Rejection::bad_request(
            "a final concatenation must not carry Upload-Length or Upload-Defer-Length",
        )),
        (_, Some(_), Some(_)) => Err(Rejection::bad_request(
            "Upload-Length and Upload-Defer-Length exclude each other",
        )),
        (_, Some(length), None) => check_size(length, config).map(|()| Some(length)),
        (_, None, Some("1")) if config.supports(&Extension::CreationDeferLength) => Ok(None),
        (_, None, Some("1")) => Err(Rejection::bad_request(
            "this server does not offer creation-defer-length",
        )),
        (_, None, Some(other)) => Err(Rejection::bad_request(format!(
            "Upload-Defer-Length must be 1, not {other:?}"
        ))),
        (_, None, None) => Err(Rejection::bad_request(
            "missing Upload-Length (or Upload-Defer-Length: 1)",
        )),
    }
}

/// The number of bytes a creation carries (creation-with-upload), if any.
fn creation_body(
    headers: &HeaderMap,
    config: &ServerConfig,
    length: Option<u64>,
    concat: Option<&Concat>,
) -> Result<Option<u64>, Rejection> {
    let content_length = number(headers, &CONTENT_LENGTH)?;
    if !has_offset_body(headers)? || content_length == Some(0) {
        return Ok(None);
    }
    if !config.supports(&Extension::CreationWithUpload) {
        return Err(Rejection::bad_request(
            "this server does not offer creation-with-upload",
        ));
    }
    if matches!(concat, Some(Concat::Final(_))) {
        return Err(Rejection::new(
            StatusCode::FORBIDDEN,
            "a final concatenation takes no bytes",
        ));
    }
    let body_len = content_length.ok_or_else(|| {
        Rejection::new(
            StatusCode::LENGTH_REQUIRED,
            "creation-with-upload needs a Content-Length",
        )
    })?;
    if let Some(length) = length.filter(|&l| body_len > l) {
        return Err(Rejection::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("the body of {body_len} bytes is longer than the upload's {length}"),
        ));
    }
    Ok(Some(body_len))
}

/// Parses and validates a PATCH request (before looking at the stored upload).
pub fn parse_append(headers: &HeaderMap, config: &ServerConfig) -> Result<Append, Rejection> {
    check_version(headers)?;
    if !has_offset_body(headers)? {
        return Err(Rejection::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            format!("PATCH bodies must have Content-Type: {OFFSET_OCTET_STREAM}"),
        ));
    }
    let offset = number(headers, &UPLOAD_OFFSET)?
        .ok_or_else(|| Rejection::bad_request("missing Upload-Offset"))?;
    let length = number(headers, &UPLOAD_LENGTH)?;
    if let Some(length) = length {
        check_size(length, config)?;
    }
    Ok(Append {
        offset,
        length,
        checksum: checksum(headers, config)?,
        content_length: number(headers, &CONTENT_LENGTH)?,
    })
}

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
        if let (Some(max), Some(sent)) = (max_bytes, append.content_length) {
            if sent > max {
                return Err(Rejection::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    format!(
                        "{sent} bytes at offset {} would exceed the upload's length",
                        self.offset
                    ),
                ));
            }
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
    /// the length or `Upload-Defer-Length: 1`, metadata, concatenation and `no-store`.
    pub fn head_response(&self) -> Response {
        let mut response = Response::new(StatusCode::OK).with_header(CACHE_CONTROL, "no-store");
        let unfinished_final = matches!(self.concat, Some(Concat::Final(_))) && !self.is_complete();
        if !unfinished_final {
            response = response.with_header(UPLOAD_OFFSET, self.offset.to_string());
        }
        response = match self.length {
            Some(length) => response.with_header(UPLOAD_LENGTH, length.to_string()),
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
    use crate::tus::headers::test_header_map as headers;

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
    fn creation_refuses_what_the_protocol_forbids() {
        let config = ServerConfig::complete(Some(100));
        let status = |pairs: &[(&'static str, &str)]| {
            parse_creation(&headers(pairs), &config).unwrap_err().status
        };
        assert_eq!(
            status(&[("upload-length", "5")]),
            StatusCode::PRECONDITION_FAILED
        );
        assert_eq!(
            status(&[("tus-resumable", "0.2.2"), ("upload-length", "5")]),
            StatusCode::PRECONDITION_FAILED
        );
        assert_eq!(
            status(&[("tus-resumable", "1.0.0")]),
            StatusCode::BAD_REQUEST
        );
        assert_eq!(
            status(&[("tus-resumable", "1.0.0"), ("upload-length", "101")]),
            StatusCode::PAYLOAD_TOO_LARGE
        );
        assert_eq!(
            status(&[("tus-resumable", "1.0.0"), ("upload-length", "-1")]),
            StatusCode::BAD_REQUEST
        );
        assert_eq!(
            status(&[
                ("tus-resumable", "1.0.0"),
                ("upload-length", "5"),
                ("upload-defer-length", "1")
            ]),
            StatusCode::BAD_REQUEST
        );
        assert_eq!(
            status(&[
                ("tus-resumable", "1.0.0"),
                ("upload-concat", "final;/files/a"),
                ("upload-length", "5")
            ]),
            StatusCode::BAD_REQUEST
        );
        assert_eq!(
            status(&[
                ("tus-resumable", "1.0.0"),
                ("upload-length", "5"),
                ("upload-metadata", "a b c")
            ]),
            StatusCode::BAD_REQUEST
        );
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
    fn patch_needs_the_offset_content_type() {
        let config = ServerConfig::complete(None);
        let err = parse_append(
            &headers(&[("tus-resumable", "1.0.0"), ("upload-offset", "0")]),
            &config,
        )
        .unwrap_err();
        assert_eq!(err.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
        let err = parse_append(
            &headers(&[
                ("tus-resumable", "1.0.0"),
                ("upload-offset", "0"),
                ("content-type", OFFSET_OCTET_STREAM),
                ("upload-checksum", "crc32 AAAA"),
            ]),
            &config,
        )
        .unwrap_err();
        assert_eq!(
            err.status,
            StatusCode::BAD_REQUEST,
            "unknown algorithms are 400 per the checksum extension"
        );
    }
}
