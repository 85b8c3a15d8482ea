//! What a tus server offers, as learned from its OPTIONS answer (or from ferry-server's
//! `/api/v1/info`). Knows nothing of how the answer was fetched.

use http::HeaderMap;

use super::headers::{
    Extension, HeaderError, TUS_CHECKSUM_ALGORITHM, TUS_EXTENSION, TUS_MAX_SIZE, TUS_VERSION,
    TUS_VERSION_HEADER, header_list, header_u64,
};
use crate::checksum::ChecksumAlgorithm;

/// A tus server's capabilities.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Capabilities {
    /// Protocol versions, in the server's order of preference.
    pub versions: Vec<String>,
    /// Extensions the server announces.
    pub extensions: Vec<Extension>,
    /// The largest upload the server accepts, if it says.
    pub max_size: Option<u64>,
    /// Checksum algorithms the server lists in `Tus-Checksum-Algorithm` that Ferry can
    /// compute. Unknown names are dropped.
    pub checksum_algorithms: Vec<ChecksumAlgorithm>,
}

/// Why an OPTIONS answer does not describe a usable tus 1.0.0 server.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CapabilitiesError {
    /// No `Tus-Version` header: this is probably not a tus endpoint.
    #[error("the server's OPTIONS answer has no Tus-Version header; is this URL a tus endpoint?")]
    NotTus,
    /// The server speaks only other versions.
    #[error("the server speaks tus {offered} but not {TUS_VERSION}")]
    UnsupportedVersion {
        /// What the server offered, comma-separated.
        offered: String,
    },
    /// A header is malformed.
    #[error(transparent)]
    Header(#[from] HeaderError),
}

impl Capabilities {
    /// Capabilities of a server that offers `extensions` and every checksum algorithm given.
    pub fn new(
        extensions: Vec<Extension>,
        checksum_algorithms: Vec<ChecksumAlgorithm>,
        max_size: Option<u64>,
    ) -> Self {
        Self {
            versions: vec![TUS_VERSION.to_owned()],
            extensions,
            max_size,
            checksum_algorithms,
        }
    }

    /// Reads the headers of an OPTIONS answer.
    pub fn from_headers(headers: &HeaderMap) -> Result<Self, CapabilitiesError> {
        let versions = header_list(headers, &TUS_VERSION_HEADER)?;
        if versions.is_empty() {
            return Err(CapabilitiesError::NotTus);
        }
        if !versions.iter().any(|v| v == TUS_VERSION) {
            return Err(CapabilitiesError::UnsupportedVersion {
                offered: versions.join(","),
            });
        }
        let extensions = header_list(headers, &TUS_EXTENSION)?
            .iter()
            .map(|name| Extension::from_name(name))
            .collect();
        let checksum_algorithms = header_list(headers, &TUS_CHECKSUM_ALGORITHM)?
            .iter()
            .filter_map(|name| name.parse().ok())
            .collect();
        let max_size = header_u64(headers, &TUS_MAX_SIZE)?;
        Ok(Self {
            versions,
            extensions,
            max_size,
            checksum_algorithms,
        })
    }

    /// Whether the server announces `extension`.
    pub fn supports(&self, extension: &Extension) -> bool {
        self.extensions.contains(extension)
    }

    /// Whether per-chunk checksums with `algorithm` can be trusted: the server must announce
    /// the `checksum` extension *and* list the algorithm (some servers announce the
    /// extension while ignoring checksums; see DESIGN 5).
    pub fn checksum(&self, algorithm: ChecksumAlgorithm) -> bool {
        self.supports(&Extension::Checksum) && self.checksum_algorithms.contains(&algorithm)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tus::headers::test_header_map as headers;

    #[test]
    fn reads_a_full_options_answer() {
        let caps = Capabilities::from_headers(&headers(&[
            ("tus-version", "1.0.0,0.2.2"),
            ("tus-extension", "creation,expiration,checksum,fancy"),
            ("tus-max-size", "1073741824"),
            ("tus-checksum-algorithm", "md5,sha1,crc32"),
        ]))
        .unwrap();
        assert_eq!(caps.versions, ["1.0.0", "0.2.2"]);
        assert!(caps.supports(&Extension::Expiration));
        assert!(caps.supports(&Extension::Other("fancy".into())));
        assert_eq!(caps.max_size, Some(1 << 30));
        assert_eq!(
            caps.checksum_algorithms,
            [ChecksumAlgorithm::Md5, ChecksumAlgorithm::Sha1]
        );
        assert!(caps.checksum(ChecksumAlgorithm::Sha1));
        assert!(!caps.checksum(ChecksumAlgorithm::Sha256));
    }

    #[test]
    fn checksum_without_algorithm_list_is_not_trusted() {
        let caps = Capabilities::from_headers(&headers(&[
            ("tus-version", "1.0.0"),
            ("tus-extension", "checksum"),
        ]))
        .unwrap();
        assert!(
            !caps.checksum(ChecksumAlgorithm::Sha1),
            "rustus-style servers ignore checksums"
        );
    }

    #[test]
    fn refuses_non_tus_and_other_versions() {
        assert_eq!(
            Capabilities::from_headers(&HeaderMap::new()),
            Err(CapabilitiesError::NotTus)
        );
        assert_eq!(
            Capabilities::from_headers(&headers(&[("tus-version", "0.2.2")])),
            Err(CapabilitiesError::UnsupportedVersion {
                offered: "0.2.2".into()
            })
        );
        assert!(matches!(
            Capabilities::from_headers(&headers(&[
                ("tus-version", "1.0.0"),
                ("tus-max-size", "-5")
            ])),
            Err(CapabilitiesError::Header(_))
        ));
    }
}
