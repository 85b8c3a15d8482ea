//! HTTP/1.1 heads as bytes: for byte-exact fixtures, for fuzzing the client with raw
//! (and truncated) server replies, and for readable logs.
//!
//! Real transports use their own HTTP stack (reqwest, axum) and never need this module; it
//! parses with `httparse` and writes headers in the order the [`HeaderMap`] holds them
//! (insertion order for distinct names). Knows nothing of sockets.

use http::{HeaderMap, HeaderName, HeaderValue, StatusCode};

use crate::tus::message::{Request, Response};

/// The most headers a parsed response may have.
const MAX_HEADERS: usize = 64;

/// Why bytes are not an HTTP/1.1 response.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    /// The head is not HTTP/1.1 syntax.
    #[error("malformed HTTP response head: {0}")]
    Malformed(String),
    /// The status code is not a valid status.
    #[error("invalid HTTP status code {0}")]
    BadStatus(u16),
}

/// The outcome of parsing bytes that may not all have arrived yet.
#[derive(Debug, Clone)]
pub enum Parsed {
    /// A whole response, and how many bytes it took.
    Complete(Response, usize),
    /// More bytes are needed; a connection that ends here lost the response.
    Incomplete,
}

fn write_headers(out: &mut Vec<u8>, headers: &HeaderMap) {
    for (name, value) in headers {
        out.extend_from_slice(canonical_name(name).as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"\r\n");
}

/// `upload-offset` -> `Upload-Offset`, the way people read headers in a transcript.
fn canonical_name(name: &HeaderName) -> String {
    name.as_str()
        .split('-')
        .map(|word| {
            let mut chars = word.chars();
            chars.next().map_or_else(String::new, |first| {
                first.to_ascii_uppercase().to_string() + chars.as_str()
            })
        })
        .collect::<Vec<_>>()
        .join("-")
}

/// The head of `request` as HTTP/1.1 bytes: request line, `Host`, then its headers. The
/// body (the file range it names) follows on the wire.
pub fn write_request_head(request: &Request) -> Vec<u8> {
    let url = &request.url;
    let mut target = url.path().to_owned();
    if let Some(query) = url.query() {
        target.push('?');
        target.push_str(query);
    }
    let host = match (url.host_str(), url.port()) {
        (Some(host), Some(port)) => format!("{host}:{port}"),
        (Some(host), None) => host.to_owned(),
        (None, _) => String::new(),
    };
    let mut out = format!("{} {target} HTTP/1.1\r\nHost: {host}\r\n", request.method).into_bytes();
    write_headers(&mut out, &request.headers);
    out
}

/// `response` as HTTP/1.1 bytes, with `Content-Length` added for its body when missing.
pub fn write_response(response: &Response) -> Vec<u8> {
    let reason = response.status.canonical_reason().unwrap_or("");
    let mut out = format!("HTTP/1.1 {} {reason}\r\n", response.status.as_u16()).into_bytes();
    let mut headers = response.headers.clone();
    if !response.body.is_empty() && !headers.contains_key(http::header::CONTENT_LENGTH) {
        headers.insert(
            http::header::CONTENT_LENGTH,
            HeaderValue::from(response.body.len()),
        );
    }
    write_headers(&mut out, &headers);
    out.extend_from_slice(response.body.as_bytes());
    out
}

/// Parses one response from the start of `bytes`. With `Content-Length` the body must be
/// complete; without it, the rest of `bytes` is the body (a connection that closes).
/// Header values that are not valid header text are an error, never a panic.
pub fn parse_response(bytes: &[u8]) -> Result<Parsed, WireError> {
    let mut slots = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut head = httparse::Response::new(&mut slots);
    let head_len = match head.parse(bytes) {
        Ok(httparse::Status::Complete(len)) => len,
        Ok(httparse::Status::Partial) => return Ok(Parsed::Incomplete),
        Err(e) => return Err(WireError::Malformed(e.to_string())),
    };
    let code = head.code.unwrap_or(0);
    let status = StatusCode::from_u16(code).map_err(|_| WireError::BadStatus(code))?;
    let mut headers = HeaderMap::new();
    for header in head.headers.iter() {
        let name = HeaderName::from_bytes(header.name.as_bytes())
            .map_err(|e| WireError::Malformed(e.to_string()))?;
        let value = HeaderValue::from_bytes(header.value)
            .map_err(|e| WireError::Malformed(e.to_string()))?;
        headers.append(name, value);
    }
    let rest = &bytes[head_len..];
    let body_len = match headers.get(http::header::CONTENT_LENGTH) {
        Some(value) => {
            let text = value
                .to_str()
                .map_err(|e| WireError::Malformed(e.to_string()))?;
            let len = crate::tus::headers::parse_u64(text)
                .and_then(|l| usize::try_from(l).ok())
                .ok_or_else(|| WireError::Malformed(format!("Content-Length {text:?}")))?;
            if rest.len() < len {
                return Ok(Parsed::Incomplete);
            }
            len
        }
        None => rest.len(),
    };
    let body = String::from_utf8_lossy(&rest[..body_len]).into_owned();
    Ok(Parsed::Complete(
        Response {
            status,
            headers,
            body,
        },
        head_len + body_len,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_response_and_reports_truncation() {
        let bytes = b"HTTP/1.1 204 No Content\r\nUpload-Offset: 5\r\nTus-Resumable: 1.0.0\r\n\r\n";
        let Ok(Parsed::Complete(response, used)) = parse_response(bytes) else {
            panic!("complete")
        };
        assert_eq!(used, bytes.len());
        assert_eq!(response.status, StatusCode::NO_CONTENT);
        assert_eq!(response.headers["upload-offset"], "5");
        for cut in 0..bytes.len() {
            assert!(
                matches!(parse_response(&bytes[..cut]), Ok(Parsed::Incomplete)),
                "a reply cut at {cut} bytes is incomplete"
            );
        }
    }

    #[test]
    fn body_must_be_complete_when_its_length_is_given() {
        let bytes = b"HTTP/1.1 500 Internal Server Error\r\nContent-Length: 9\r\n\r\ndisk full";
        assert!(matches!(
            parse_response(&bytes[..bytes.len() - 1]),
            Ok(Parsed::Incomplete)
        ));
        let Ok(Parsed::Complete(response, _)) = parse_response(bytes) else {
            panic!("complete")
        };
        assert_eq!(response.message().as_deref(), Some("disk full"));
        assert!(parse_response(b"HTTP/1.1 099 Odd\r\n\r\n").is_err());
        assert!(parse_response(b"garbage\r\n\r\n").is_err());
    }

    #[test]
    fn writes_responses_it_can_read_back() {
        let response = Response::new(StatusCode::CREATED)
            .with_header(http::header::LOCATION, "/files/1")
            .with_body("ok");
        let bytes = write_response(&response);
        assert_eq!(
            bytes,
            b"HTTP/1.1 201 Created\r\nLocation: /files/1\r\nContent-Length: 2\r\n\r\nok"
        );
        let Ok(Parsed::Complete(back, _)) = parse_response(&bytes) else {
            panic!("complete")
        };
        assert_eq!(back.headers["location"], "/files/1");
    }
}
