//! Checksum algorithms shared by both protocols: names, incremental hashers, header values.
//!
//! tus names algorithms in lower case (`sha1`, `sha256`, `md5`) and carries digests in
//! base64 (`Upload-Checksum: sha1 Kq5sNclPz7QV2+lfQIuc6R7oRu0=`); GalileoSend carries the
//! whole-file sha1 in hex. Hashing is computation, not I/O: the caller feeds the bytes it
//! read or received, in pieces, so a chunk is hashed while it streams and never held whole.

use std::fmt;
use std::str::FromStr;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use md5::Digest as _;

/// A checksum algorithm that Ferry can compute.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ChecksumAlgorithm {
    /// SHA-1: the algorithm every tus checksum server must support, and GalileoSend's hash.
    Sha1,
    /// SHA-256.
    Sha256,
    /// MD5 (still offered by many servers; never used by Ferry's own client by choice).
    Md5,
}

impl ChecksumAlgorithm {
    /// Every algorithm, in Ferry's order of preference.
    pub const ALL: [Self; 3] = [Self::Sha1, Self::Sha256, Self::Md5];

    /// The algorithm's name as tus writes it (`sha1`, `sha256`, `md5`).
    pub fn name(self) -> &'static str {
        match self {
            Self::Sha1 => "sha1",
            Self::Sha256 => "sha256",
            Self::Md5 => "md5",
        }
    }

    /// The length of a digest in bytes.
    pub fn digest_len(self) -> usize {
        match self {
            Self::Sha1 => 20,
            Self::Sha256 => 32,
            Self::Md5 => 16,
        }
    }

    /// A fresh incremental hasher for this algorithm.
    pub fn hasher(self) -> Hasher {
        Hasher(match self {
            Self::Sha1 => HasherState::Sha1(sha1::Sha1::new()),
            Self::Sha256 => HasherState::Sha256(sha2::Sha256::new()),
            Self::Md5 => HasherState::Md5(md5::Md5::new()),
        })
    }

    /// The checksum of `data` in one call (for small inputs and tests).
    pub fn digest(self, data: &[u8]) -> Checksum {
        let mut hasher = self.hasher();
        hasher.update(data);
        hasher.finish()
    }
}

impl fmt::Display for ChecksumAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The name was not one of `sha1`, `sha256`, `md5`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unsupported checksum algorithm {0:?} (Ferry knows sha1, sha256 and md5)")]
pub struct UnknownAlgorithm(pub String);

impl FromStr for ChecksumAlgorithm {
    type Err = UnknownAlgorithm;

    /// Parses a tus algorithm name; case-insensitive, as some servers capitalise it.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|a| a.name().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| UnknownAlgorithm(s.to_owned()))
    }
}

/// `bytes` in lower-case hex.
pub fn to_hex(bytes: &[u8]) -> String {
    use fmt::Write as _;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

/// An incremental hasher for one [`ChecksumAlgorithm`].
#[derive(Clone)]
pub struct Hasher(HasherState);

#[derive(Clone)]
enum HasherState {
    Sha1(sha1::Sha1),
    Sha256(sha2::Sha256),
    Md5(md5::Md5),
}

impl Hasher {
    /// Feeds the next piece of data.
    pub fn update(&mut self, data: &[u8]) {
        match &mut self.0 {
            HasherState::Sha1(h) => h.update(data),
            HasherState::Sha256(h) => h.update(data),
            HasherState::Md5(h) => h.update(data),
        }
    }

    /// The algorithm this hasher computes.
    pub fn algorithm(&self) -> ChecksumAlgorithm {
        match self.0 {
            HasherState::Sha1(_) => ChecksumAlgorithm::Sha1,
            HasherState::Sha256(_) => ChecksumAlgorithm::Sha256,
            HasherState::Md5(_) => ChecksumAlgorithm::Md5,
        }
    }

    /// The checksum of everything fed so far.
    pub fn finish(self) -> Checksum {
        let algorithm = self.algorithm();
        let digest = match self.0 {
            HasherState::Sha1(h) => h.finalize().to_vec(),
            HasherState::Sha256(h) => h.finalize().to_vec(),
            HasherState::Md5(h) => h.finalize().to_vec(),
        };
        Checksum { algorithm, digest }
    }
}

impl fmt::Debug for Hasher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Hasher").field(&self.algorithm()).finish()
    }
}

/// A digest together with the algorithm that produced it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Checksum {
    /// The algorithm.
    pub algorithm: ChecksumAlgorithm,
    /// The raw digest bytes ([`ChecksumAlgorithm::digest_len`] of them).
    pub digest: Vec<u8>,
}

impl Checksum {
    /// The digest in lower-case hex, as GalileoSend and Ferry's `sha1` metadata carry it.
    pub fn to_hex(&self) -> String {
        to_hex(&self.digest)
    }

    /// Parses a hex digest (either case) of the given algorithm.
    pub fn from_hex(algorithm: ChecksumAlgorithm, hex: &str) -> Option<Self> {
        let hex = hex.trim();
        if hex.len() != algorithm.digest_len() * 2 || !hex.is_ascii() {
            return None;
        }
        let digest = (0..hex.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).ok())
            .collect::<Option<Vec<u8>>>()?;
        Some(Self { algorithm, digest })
    }

    /// The value of a tus `Upload-Checksum` header: `<algorithm> <base64 digest>`.
    pub fn to_header_value(&self) -> String {
        format!("{} {}", self.algorithm, BASE64.encode(&self.digest))
    }

    /// Parses a tus `Upload-Checksum` header value.
    ///
    /// An unknown algorithm is its own error because tus answers it differently (400)
    /// from a malformed value.
    pub fn from_header_value(value: &str) -> Result<Self, ChecksumHeaderError> {
        let (name, encoded) = value
            .trim()
            .split_once(' ')
            .ok_or(ChecksumHeaderError::Malformed)?;
        let algorithm: ChecksumAlgorithm = name.parse().map_err(ChecksumHeaderError::Unknown)?;
        let digest = BASE64
            .decode(encoded.trim())
            .map_err(|_| ChecksumHeaderError::Malformed)?;
        if digest.len() != algorithm.digest_len() {
            return Err(ChecksumHeaderError::Malformed);
        }
        Ok(Self { algorithm, digest })
    }
}

/// Why an `Upload-Checksum` header value could not be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChecksumHeaderError {
    /// Not of the form `<algorithm> <base64 digest of the right length>`.
    #[error("malformed Upload-Checksum header: expected \"<algorithm> <base64 digest>\"")]
    Malformed,
    /// The algorithm is not one Ferry computes.
    #[error(transparent)]
    Unknown(UnknownAlgorithm),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha1_of_known_input_matches_the_published_vector() {
        let sum = ChecksumAlgorithm::Sha1.digest(b"abc");
        assert_eq!(sum.to_hex(), "a9993e364706816aba3e25717850c26c9cd0d89d");
        assert_eq!(sum.to_header_value(), "sha1 qZk+NkcGgWq6PiVxeFDCbJzQ2J0=");
    }

    #[test]
    fn hashing_in_pieces_equals_hashing_at_once() {
        for algorithm in ChecksumAlgorithm::ALL {
            let mut hasher = algorithm.hasher();
            hasher.update(b"hello ");
            hasher.update(b"world");
            assert_eq!(
                hasher.finish(),
                algorithm.digest(b"hello world"),
                "{algorithm}"
            );
        }
    }

    #[test]
    fn header_value_round_trips_and_rejects_wrong_lengths() {
        let sum = ChecksumAlgorithm::Md5.digest(b"x");
        assert_eq!(Checksum::from_header_value(&sum.to_header_value()), Ok(sum));
        assert_eq!(
            Checksum::from_header_value("sha1 AAAA"),
            Err(ChecksumHeaderError::Malformed),
            "a 3-byte digest is not a sha1"
        );
        assert!(matches!(
            Checksum::from_header_value("crc32 AAAA"),
            Err(ChecksumHeaderError::Unknown(_))
        ));
        assert_eq!(
            Checksum::from_header_value("sha1"),
            Err(ChecksumHeaderError::Malformed)
        );
    }

    #[test]
    fn hex_round_trips_in_either_case() {
        let sum = ChecksumAlgorithm::Sha256.digest(b"ferry");
        let upper = sum.to_hex().to_uppercase();
        assert_eq!(
            Checksum::from_hex(ChecksumAlgorithm::Sha256, &upper),
            Some(sum)
        );
        assert_eq!(Checksum::from_hex(ChecksumAlgorithm::Sha1, "zz"), None);
    }
}
