//! Parsing and validation of the requests that carry tus headers: creation (POST) and
//! append (PATCH). Knows nothing of stored uploads; see the sibling `upload` module for those checks.

use http::header::{CONTENT_LENGTH, CONTENT_TYPE};
use http::{HeaderMap, StatusCode};

use super::{Rejection, ServerConfig, check_version};
use crate::checksum::Checksum;
use crate::tus::headers::{
    Concat, Extension, OFFSET_OCTET_STREAM, UPLOAD_CHECKSUM, UPLOAD_CONCAT, UPLOAD_DEFER_LENGTH,
    UPLOAD_LENGTH, UPLOAD_METADATA, UPLOAD_OFFSET, header_str, header_u64,
};
use crate::tus::metadata::Metadata;

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tus::headers::test_header_map as headers;

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
