//! Names and value codecs of the tus 1.0.0 headers, shared by the client and the server.
//!
//! Parsing is strict where the protocol is (offsets and lengths are plain non-negative
//! decimal integers: no sign, no spaces inside, no overflow) and lenient where real servers
//! differ (list separators, case of extension names). Knows nothing of requests or state.

use std::time::SystemTime;

use http::HeaderMap;
use http::header::HeaderName;

/// The protocol version Ferry speaks.
pub const TUS_VERSION: &str = "1.0.0";
/// The content type of every PATCH body (and of a creation-with-upload POST body).
pub const OFFSET_OCTET_STREAM: &str = "application/offset+octet-stream";

/// `Tus-Resumable`: the version of the protocol a message speaks.
pub const TUS_RESUMABLE: HeaderName = HeaderName::from_static("tus-resumable");
/// `Tus-Version`: the versions a server supports, in its order of preference.
pub const TUS_VERSION_HEADER: HeaderName = HeaderName::from_static("tus-version");
/// `Tus-Extension`: the extensions a server supports.
pub const TUS_EXTENSION: HeaderName = HeaderName::from_static("tus-extension");
/// `Tus-Max-Size`: the largest upload a server accepts, in bytes.
pub const TUS_MAX_SIZE: HeaderName = HeaderName::from_static("tus-max-size");
/// `Tus-Checksum-Algorithm`: the checksum algorithms a server supports.
pub const TUS_CHECKSUM_ALGORITHM: HeaderName = HeaderName::from_static("tus-checksum-algorithm");
/// `Upload-Offset`: bytes the server holds (responses) or where a PATCH body starts (requests).
pub const UPLOAD_OFFSET: HeaderName = HeaderName::from_static("upload-offset");
/// `Upload-Length`: the size of the whole upload.
pub const UPLOAD_LENGTH: HeaderName = HeaderName::from_static("upload-length");
/// `Upload-Defer-Length: 1`: the size is not known yet.
pub const UPLOAD_DEFER_LENGTH: HeaderName = HeaderName::from_static("upload-defer-length");
/// `Upload-Metadata`: see [`super::metadata`].
pub const UPLOAD_METADATA: HeaderName = HeaderName::from_static("upload-metadata");
/// `Upload-Expires`: when an unfinished upload will be removed (an HTTP-date).
pub const UPLOAD_EXPIRES: HeaderName = HeaderName::from_static("upload-expires");
/// `Upload-Checksum`: `<algorithm> <base64 digest>` of a PATCH body.
pub const UPLOAD_CHECKSUM: HeaderName = HeaderName::from_static("upload-checksum");
/// `Upload-Concat`: `partial`, or `final;<url> <url>...`.
pub const UPLOAD_CONCAT: HeaderName = HeaderName::from_static("upload-concat");

/// A header value that could not be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the {header} header is {value:?}, which is not {expected}")]
pub struct HeaderError {
    /// The header's name.
    pub header: HeaderName,
    /// The value as received (lossy if it was not text).
    pub value: String,
    /// What a valid value looks like.
    pub expected: &'static str,
}

/// The text of a header, `Ok(None)` if absent. A value that is not visible ASCII is an error.
pub fn header_str<'a>(
    headers: &'a HeaderMap,
    name: &HeaderName,
) -> Result<Option<&'a str>, HeaderError> {
    match headers.get(name) {
        None => Ok(None),
        Some(value) => value
            .to_str()
            .map(|s| Some(s.trim()))
            .map_err(|_| HeaderError {
                header: name.clone(),
                value: String::from_utf8_lossy(value.as_bytes()).into_owned(),
                expected: "visible ASCII text",
            }),
    }
}

/// Parses a non-negative decimal integer as tus requires for offsets and sizes.
pub fn parse_u64(text: &str) -> Option<u64> {
    let text = text.trim();
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

/// A header holding a non-negative integer (`Upload-Offset`, `Upload-Length`, `Tus-Max-Size`).
pub fn header_u64(headers: &HeaderMap, name: &HeaderName) -> Result<Option<u64>, HeaderError> {
    let Some(text) = header_str(headers, name)? else {
        return Ok(None);
    };
    parse_u64(text).map(Some).ok_or_else(|| HeaderError {
        header: name.clone(),
        value: text.to_owned(),
        expected: "a non-negative decimal integer",
    })
}

/// The items of a comma-separated list header, trimmed, empty items dropped.
pub fn header_list(headers: &HeaderMap, name: &HeaderName) -> Result<Vec<String>, HeaderError> {
    // Several header lines are one list, as HTTP folds them.
    let mut items = Vec::new();
    for value in headers.get_all(name) {
        let text = value.to_str().map_err(|_| HeaderError {
            header: name.clone(),
            value: String::from_utf8_lossy(value.as_bytes()).into_owned(),
            expected: "a comma-separated list",
        })?;
        items.extend(
            text.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned),
        );
    }
    Ok(items)
}

/// `Upload-Expires` as a point in time; `Ok(None)` if absent.
pub fn header_expires(headers: &HeaderMap) -> Result<Option<SystemTime>, HeaderError> {
    let Some(text) = header_str(headers, &UPLOAD_EXPIRES)? else {
        return Ok(None);
    };
    httpdate::parse_http_date(text)
        .map(Some)
        .map_err(|_| HeaderError {
            header: UPLOAD_EXPIRES,
            value: text.to_owned(),
            expected: "an HTTP-date such as \"Wed, 25 Jun 2014 16:00:00 GMT\"",
        })
}

/// Formats a point in time as `Upload-Expires` wants it (IMF-fixdate, whole seconds).
pub fn format_expires(at: SystemTime) -> String {
    httpdate::fmt_http_date(at)
}

/// The value of `Upload-Concat`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Concat {
    /// `partial`: this upload is a piece of a later final upload.
    Partial,
    /// `final;<url> <url>...`: this upload is the concatenation of the partial uploads named,
    /// in order. URLs are kept as written (absolute or relative).
    Final(Vec<String>),
}

impl Concat {
    /// The header value.
    pub fn encode(&self) -> String {
        match self {
            Self::Partial => "partial".to_owned(),
            Self::Final(urls) => format!("final;{}", urls.join(" ")),
        }
    }

    /// Parses a header value. A final concatenation must name at least one upload.
    pub fn decode(value: &str) -> Option<Self> {
        let value = value.trim();
        if value.eq_ignore_ascii_case("partial") {
            return Some(Self::Partial);
        }
        let (kind, urls) = value.split_once(';')?;
        if !kind.trim().eq_ignore_ascii_case("final") {
            return None;
        }
        let urls: Vec<String> = urls.split_ascii_whitespace().map(str::to_owned).collect();
        (!urls.is_empty()).then_some(Self::Final(urls))
    }
}

/// A tus protocol extension as named in `Tus-Extension`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Extension {
    /// `creation`: POST creates an upload.
    Creation,
    /// `creation-with-upload`: the creating POST may carry the first bytes.
    CreationWithUpload,
    /// `creation-defer-length`: the size may be given later.
    CreationDeferLength,
    /// `expiration`: unfinished uploads expire (`Upload-Expires`).
    Expiration,
    /// `checksum`: PATCH bodies may carry `Upload-Checksum`.
    Checksum,
    /// `checksum-trailer`: the checksum may come as an HTTP trailer (Ferry does not use it).
    ChecksumTrailer,
    /// `termination`: DELETE removes an upload.
    Termination,
    /// `concatenation`: partial uploads joined by a final upload.
    Concatenation,
    /// `concatenation-unfinished`: the final upload may be created before its parts finish.
    ConcatenationUnfinished,
    /// Any extension Ferry does not know, kept as written.
    Other(String),
}

impl Extension {
    /// The extension's name in `Tus-Extension`.
    pub fn name(&self) -> &str {
        match self {
            Self::Creation => "creation",
            Self::CreationWithUpload => "creation-with-upload",
            Self::CreationDeferLength => "creation-defer-length",
            Self::Expiration => "expiration",
            Self::Checksum => "checksum",
            Self::ChecksumTrailer => "checksum-trailer",
            Self::Termination => "termination",
            Self::Concatenation => "concatenation",
            Self::ConcatenationUnfinished => "concatenation-unfinished",
            Self::Other(name) => name,
        }
    }

    /// Recognises a name (case-insensitively); unknown names become [`Extension::Other`].
    pub fn from_name(name: &str) -> Self {
        let known = [
            Self::Creation,
            Self::CreationWithUpload,
            Self::CreationDeferLength,
            Self::Expiration,
            Self::Checksum,
            Self::ChecksumTrailer,
            Self::Termination,
            Self::Concatenation,
            Self::ConcatenationUnfinished,
        ];
        known
            .into_iter()
            .find(|e| e.name().eq_ignore_ascii_case(name))
            .unwrap_or_else(|| Self::Other(name.to_owned()))
    }
}

/// A header map from literal pairs, for tests.
#[cfg(test)]
pub(crate) fn test_header_map(pairs: &[(&'static str, &str)]) -> HeaderMap {
    let mut map = HeaderMap::new();
    for (name, value) in pairs {
        map.append(*name, value.parse().expect("test header values are valid"));
    }
    map
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bad_header_reads_as_a_sentence_naming_header_value_and_what_was_expected() {
        let mut headers = HeaderMap::new();
        headers.insert(
            UPLOAD_OFFSET.clone(),
            http::HeaderValue::from_static("lots"),
        );
        let err = header_u64(&headers, &UPLOAD_OFFSET).unwrap_err();
        assert_eq!(
            err.to_string(),
            "the upload-offset header is \"lots\", which is not a non-negative decimal integer"
        );
    }

    #[test]
    fn integers_are_plain_decimal_only() {
        assert_eq!(parse_u64("0"), Some(0));
        assert_eq!(parse_u64(" 42 "), Some(42));
        assert_eq!(parse_u64("18446744073709551615"), Some(u64::MAX));
        for bad in [
            "",
            "-1",
            "+1",
            "1.0",
            "1e3",
            "0x10",
            "18446744073709551616",
            "1 2",
        ] {
            assert_eq!(parse_u64(bad), None, "{bad:?} must be refused");
        }
    }

    #[test]
    fn concat_values_round_trip_and_refuse_empty_finals() {
        let fin = Concat::Final(vec!["/files/a".into(), "http://h/files/b".into()]);
        assert_eq!(fin.encode(), "final;/files/a http://h/files/b");
        assert_eq!(Concat::decode(&fin.encode()), Some(fin));
        assert_eq!(Concat::decode("partial"), Some(Concat::Partial));
        assert_eq!(Concat::decode("final;"), None);
        assert_eq!(Concat::decode("final"), None);
        assert_eq!(Concat::decode("whole;/files/a"), None);
    }

    #[test]
    fn expires_uses_imf_fixdate() {
        let at = SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_403_712_000);
        assert_eq!(format_expires(at), "Wed, 25 Jun 2014 16:00:00 GMT");
        let mut headers = HeaderMap::new();
        headers.insert(
            UPLOAD_EXPIRES,
            "Wed, 25 Jun 2014 16:00:00 GMT".parse().unwrap(),
        );
        assert_eq!(header_expires(&headers), Ok(Some(at)));
        headers.insert(UPLOAD_EXPIRES, "tomorrow".parse().unwrap());
        assert!(header_expires(&headers).is_err());
    }

    #[test]
    fn list_headers_fold_several_lines() {
        let mut headers = HeaderMap::new();
        headers.append(TUS_EXTENSION, "creation, termination".parse().unwrap());
        headers.append(TUS_EXTENSION, "checksum,,".parse().unwrap());
        assert_eq!(
            header_list(&headers, &TUS_EXTENSION).unwrap(),
            ["creation", "termination", "checksum"]
        );
    }
}
