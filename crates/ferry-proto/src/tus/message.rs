//! Requests and responses as plain data: what a driver sends and what it hands back.
//!
//! A [`Request`] names the byte range of the file it carries instead of holding the bytes,
//! so the driver streams them from disk. A [`Response`] is the status, the headers and at
//! most the first few KiB of the body (for error messages). Knows nothing of sockets.

use std::fmt;
use std::ops::Range;

use http::{HeaderMap, HeaderValue, Method, StatusCode};
use url::Url;

use super::headers::UPLOAD_CHECKSUM;
use crate::checksum::{Checksum, ChecksumAlgorithm};

/// Identifies a request so that its response can be matched to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RequestId(pub u64);

impl fmt::Display for RequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{}", self.0)
    }
}

/// What a request is for; used in errors and logs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RequestKind {
    /// OPTIONS on the endpoint: discover the server's capabilities.
    Discover,
    /// POST on the endpoint: create an upload (maybe with its first bytes).
    Create,
    /// HEAD on an upload: ask how many bytes the server holds.
    Status,
    /// PATCH on an upload: send bytes.
    Append,
    /// POST with `Upload-Concat: final;...`: join partial uploads.
    Concatenate,
    /// HEAD on a final upload made earlier: is the concatenation complete?
    FinalStatus,
    /// DELETE on an upload: abandon it.
    Terminate,
}

impl RequestKind {
    /// A short name for messages ("PATCH", "HEAD", ...).
    pub fn method_name(self) -> &'static str {
        match self {
            Self::Discover => "OPTIONS",
            Self::Create | Self::Concatenate => "POST",
            Self::Status | Self::FinalStatus => "HEAD",
            Self::Append => "PATCH",
            Self::Terminate => "DELETE",
        }
    }
}

impl fmt::Display for RequestKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let what = match self {
            Self::Discover => "OPTIONS (discovery)",
            Self::Create => "POST (creation)",
            Self::Status => "HEAD (offset)",
            Self::Append => "PATCH (upload)",
            Self::Concatenate => "POST (concatenation)",
            Self::FinalStatus => "HEAD (final upload)",
            Self::Terminate => "DELETE (termination)",
        };
        f.write_str(what)
    }
}

/// The body of a request: a range of the file, never the bytes themselves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Body {
    /// The bytes of the file to send, as offsets into the whole file.
    pub range: Range<u64>,
    /// When set, the driver hashes `range` with this algorithm and calls
    /// [`Request::set_checksum`] before sending (the header must precede the body).
    pub checksum: Option<ChecksumAlgorithm>,
}

impl Body {
    /// The number of bytes in the body.
    pub fn len(&self) -> u64 {
        self.range.end - self.range.start
    }

    /// Whether the body carries no bytes.
    pub fn is_empty(&self) -> bool {
        self.range.is_empty()
    }
}

/// A request for the driver to send.
#[derive(Debug, Clone)]
pub struct Request {
    /// Matches the response to this request.
    pub id: RequestId,
    /// What the request is for.
    pub kind: RequestKind,
    /// The HTTP method.
    pub method: Method,
    /// The absolute URL to send it to.
    pub url: Url,
    /// Headers, in the order they should be written. The driver adds its own (Host,
    /// Authorization, User-Agent) and never removes these.
    pub headers: HeaderMap,
    /// The part of the file to send as the body, if any.
    pub body: Option<Body>,
}

impl Request {
    /// Adds the `Upload-Checksum` header for the body the driver has hashed.
    pub fn set_checksum(&mut self, checksum: &Checksum) {
        // An algorithm name, a space and base64 are always valid header text.
        if let Ok(value) = HeaderValue::from_str(&checksum.to_header_value()) {
            self.headers.insert(UPLOAD_CHECKSUM, value);
        }
    }
}

/// A response as the driver received it.
#[derive(Debug, Clone, Default)]
pub struct Response {
    /// The HTTP status.
    pub status: StatusCode,
    /// The response headers.
    pub headers: HeaderMap,
    /// The start of the body as text (drivers keep at most a few KiB), for error messages.
    pub body: String,
}

impl Response {
    /// A response with a status and no headers.
    pub fn new(status: StatusCode) -> Self {
        Self {
            status,
            headers: HeaderMap::new(),
            body: String::new(),
        }
    }

    /// Adds a header (builder style).
    ///
    /// # Panics
    /// On a value that is not valid header text (control characters), which only a bug in
    /// the calling code, never a peer, can produce.
    #[must_use]
    pub fn with_header(mut self, name: http::header::HeaderName, value: impl AsRef<str>) -> Self {
        let value =
            HeaderValue::from_str(value.as_ref()).expect("header values built by code are valid");
        self.headers.append(name, value);
        self
    }

    /// Sets the body text (builder style).
    #[must_use]
    pub fn with_body(mut self, body: impl Into<String>) -> Self {
        self.body = body.into();
        self
    }

    /// The body trimmed to one short line for an error message, if there is any text.
    pub fn message(&self) -> Option<String> {
        let line = self.body.lines().map(str::trim).find(|l| !l.is_empty())?;
        Some(line.chars().take(200).collect())
    }
}
