//! The `Upload-Metadata` header: comma-separated `key base64(value)` pairs.
//!
//! Keys are validated on both sides (non-empty, printable ASCII without spaces or commas,
//! unique); values are arbitrary bytes, carried in standard base64 with padding. A key may
//! stand alone without a value. Knows nothing of which keys Ferry uses; see DESIGN 4.1.

use std::collections::BTreeMap;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;

/// Metadata of one upload, ordered by key so that its encoding is deterministic.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Metadata {
    entries: BTreeMap<String, Option<Vec<u8>>>,
}

/// Why a metadata key or header value was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MetadataError {
    /// The key is empty or holds a space, a comma or a non-printable or non-ASCII character.
    #[error(
        "invalid metadata key {0:?}: keys must be non-empty printable ASCII without spaces or commas"
    )]
    InvalidKey(String),
    /// The same key appears twice in one header.
    #[error("metadata key {0:?} appears more than once")]
    DuplicateKey(String),
    /// A value is not valid base64.
    #[error("metadata value of key {0:?} is not valid base64")]
    InvalidValue(String),
    /// A pair has more than a key and a value.
    #[error("malformed metadata pair {0:?}: expected \"key base64value\"")]
    MalformedPair(String),
}

fn is_valid_key(key: &str) -> bool {
    !key.is_empty() && key.bytes().all(|b| b.is_ascii_graphic() && b != b',')
}

impl Metadata {
    /// Empty metadata.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets `key` to `value` (text or bytes), replacing an earlier value. An empty value is
    /// the same as no value on the wire, so it is stored as a bare key.
    pub fn insert(
        &mut self,
        key: impl Into<String>,
        value: impl AsRef<[u8]>,
    ) -> Result<&mut Self, MetadataError> {
        self.insert_raw(key.into(), Some(value.as_ref().to_vec()))
    }

    /// Sets `key` without a value (tus allows a bare key).
    pub fn insert_key(&mut self, key: impl Into<String>) -> Result<&mut Self, MetadataError> {
        self.insert_raw(key.into(), None)
    }

    fn insert_raw(
        &mut self,
        key: String,
        value: Option<Vec<u8>>,
    ) -> Result<&mut Self, MetadataError> {
        if !is_valid_key(&key) {
            return Err(MetadataError::InvalidKey(key));
        }
        self.entries.insert(key, value.filter(|v| !v.is_empty()));
        Ok(self)
    }

    /// The raw value of `key`: `None` if absent, `Some(None)` if present without a value.
    pub fn get(&self, key: &str) -> Option<Option<&[u8]>> {
        self.entries.get(key).map(Option::as_deref)
    }

    /// The value of `key` if it is present and valid UTF-8.
    pub fn get_str(&self, key: &str) -> Option<&str> {
        self.get(key)
            .flatten()
            .and_then(|v| std::str::from_utf8(v).ok())
    }

    /// Whether there are no entries.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The entries in key order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, Option<&[u8]>)> {
        self.entries.iter().map(|(k, v)| (k.as_str(), v.as_deref()))
    }

    /// The header value: `key base64,key2 base64,bare`.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        for (key, value) in &self.entries {
            if !out.is_empty() {
                out.push(',');
            }
            out.push_str(key);
            if let Some(value) = value {
                out.push(' ');
                BASE64.encode_string(value, &mut out);
            }
        }
        out
    }

    /// Parses a header value, tolerating spaces around pairs and empty pairs (`a x,,b y`).
    pub fn decode(header: &str) -> Result<Self, MetadataError> {
        let mut metadata = Self::new();
        for pair in header.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let mut parts = pair.split(' ').filter(|p| !p.is_empty());
            let key = parts.next().unwrap_or_default();
            let value = parts.next();
            if parts.next().is_some() {
                return Err(MetadataError::MalformedPair(pair.to_owned()));
            }
            if metadata.entries.contains_key(key) {
                return Err(MetadataError::DuplicateKey(key.to_owned()));
            }
            let value = value
                .map(|v| {
                    BASE64
                        .decode(v)
                        .map_err(|_| MetadataError::InvalidValue(key.to_owned()))
                })
                .transpose()?;
            metadata.insert_raw(key.to_owned(), value)?;
        }
        Ok(metadata)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_in_key_order_with_base64_values_and_bare_keys() {
        let mut m = Metadata::new();
        m.insert("filename", "world_domination_plan.pdf").unwrap();
        m.insert_key("is_confidential").unwrap();
        assert_eq!(
            m.encode(),
            "filename d29ybGRfZG9taW5hdGlvbl9wbGFuLnBkZg==,is_confidential"
        );
    }

    #[test]
    fn decodes_what_other_clients_send_with_spaces_and_bare_keys() {
        let m = Metadata::decode(" relativePath YS9iLnR4dA== , empty , filetype dGV4dC9wbGFpbg==")
            .unwrap();
        assert_eq!(m.get_str("relativePath"), Some("a/b.txt"));
        assert_eq!(m.get("empty"), Some(None));
        assert_eq!(m.get_str("filetype"), Some("text/plain"));
        assert_eq!(m.get("missing"), None);
    }

    #[test]
    fn an_empty_value_is_a_bare_key_both_ways() {
        let mut m = Metadata::new();
        m.insert("a", "").unwrap();
        assert_eq!(m.encode(), "a");
        assert_eq!(Metadata::decode("a "), Ok(m));
    }

    #[test]
    fn refuses_bad_keys_values_and_duplicates() {
        assert!(matches!(
            Metadata::new().insert("a b", "x"),
            Err(MetadataError::InvalidKey(_))
        ));
        assert!(matches!(
            Metadata::new().insert("a,b", "x"),
            Err(MetadataError::InvalidKey(_))
        ));
        assert!(matches!(
            Metadata::new().insert("", "x"),
            Err(MetadataError::InvalidKey(_))
        ));
        assert!(matches!(
            Metadata::new().insert("é", "x"),
            Err(MetadataError::InvalidKey(_))
        ));
        assert_eq!(
            Metadata::decode("a YQ==,a Yg=="),
            Err(MetadataError::DuplicateKey("a".into()))
        );
        assert_eq!(
            Metadata::decode("a !!!"),
            Err(MetadataError::InvalidValue("a".into()))
        );
        assert!(matches!(
            Metadata::decode("a YQ== Yg=="),
            Err(MetadataError::MalformedPair(_))
        ));
    }
}
