//! Which protocol an upload travels with: the one name for it that every crate shares (the
//! journal stores it as text, the engine chooses it, the CLI and the window show and parse
//! it). `"tus"` or `"galileo"`, in JSON as on the command line.
//!
//! Only the name lives here; what each protocol does is in [`crate::tus`] and
//! [`crate::galileo`].

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// How an upload travels; `"tus"` or `"galileo"` in JSON.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    /// tus 1.0.0.
    Tus,
    /// GalileoSend.
    Galileo,
}

impl Protocol {
    /// Every protocol, in the order Ferry prefers them.
    pub const ALL: [Self; 2] = [Self::Tus, Self::Galileo];

    /// The name stored, shown and parsed: `tus` or `galileo`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Tus => "tus",
            Self::Galileo => "galileo",
        }
    }
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A name that is not a protocol's.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not a protocol Ferry knows; use tus or galileo")]
pub struct UnknownProtocol(pub String);

impl FromStr for Protocol {
    type Err = UnknownProtocol;

    /// Exactly `tus` or `galileo` (as stored and as typed).
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|p| p.as_str() == text)
            .ok_or_else(|| UnknownProtocol(text.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_parse_back_and_serialise_in_lowercase() {
        for p in Protocol::ALL {
            assert_eq!(p.as_str().parse::<Protocol>(), Ok(p));
            assert_eq!(
                serde_json::to_value(p).unwrap(),
                serde_json::json!(p.as_str())
            );
            assert_eq!(p.to_string(), p.as_str());
        }
        assert_eq!(
            "Tus".parse::<Protocol>(),
            Err(UnknownProtocol("Tus".into()))
        );
        let err = "ftp".parse::<Protocol>().unwrap_err().to_string();
        assert!(err.contains("tus or galileo"), "{err}");
    }
}
