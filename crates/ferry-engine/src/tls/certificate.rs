//! A server certificate as a person checks it: its SHA-256 fingerprint (of the DER bytes,
//! shown as `AB:CD:…` the way browsers and `openssl x509 -fingerprint -sha256` show it) and
//! its subject. Parsing a fingerprint a person typed or pasted accepts hex with or without
//! colons, in any case.
//!
//! Pure: it knows nothing of connections, servers or where a fingerprint is kept.

use std::fmt;
use std::str::FromStr;

use sha2::{Digest, Sha256};

/// The SHA-256 fingerprint of a certificate (of its DER encoding).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Fingerprint([u8; 32]);

impl Fingerprint {
    /// The fingerprint of the certificate `der`.
    pub fn of(der: &[u8]) -> Self {
        Self(Sha256::digest(der).into())
    }

    /// Lowercase hex without colons: the form the journal keeps.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }
}

/// Shown as uppercase hex pairs joined by colons.
impl fmt::Display for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, byte) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(":")?;
            }
            write!(f, "{byte:02X}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Fingerprint({self})")
    }
}

/// A text that is not a SHA-256 fingerprint.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "{given:?} is not a SHA-256 fingerprint: give 64 hexadecimal digits, with or without colons (as `ferry login` shows it)"
)]
pub struct BadFingerprint {
    /// What was given.
    pub given: String,
}

impl FromStr for Fingerprint {
    type Err = BadFingerprint;

    /// 64 hex digits, in any case, with or without colons (spaces around them allowed); an
    /// `sha256:` or `SHA256=` prefix as some tools print it is taken off.
    fn from_str(given: &str) -> Result<Self, Self::Err> {
        let bad = || BadFingerprint {
            given: given.to_owned(),
        };
        let trimmed = given.trim();
        let lower = trimmed.to_ascii_lowercase();
        let body = ["sha256:", "sha256=", "sha-256:"]
            .iter()
            .find_map(|prefix| lower.strip_prefix(prefix))
            .unwrap_or(&lower);
        let digits: String = body
            .chars()
            .filter(|c| *c != ':' && !c.is_whitespace())
            .collect();
        let mut bytes = [0u8; 32];
        hex::decode_to_slice(&digits, &mut bytes).map_err(|_| bad())?;
        Ok(Self(bytes))
    }
}

/// A certificate a server presented, as a person checks it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertificateInfo {
    /// Its SHA-256 fingerprint.
    pub fingerprint: Fingerprint,
    /// Its subject (`CN=…, O=…`), or what it says it is for when its subject is empty.
    pub subject: String,
}

impl CertificateInfo {
    /// The fingerprint and subject of the certificate `der`; a certificate that cannot be
    /// parsed still has a fingerprint, and says so for a subject.
    pub fn of(der: &[u8]) -> Self {
        let subject = match x509_parser::parse_x509_certificate(der) {
            Ok((_, cert)) => {
                let subject = cert.subject().to_string();
                let names: Vec<String> = cert
                    .subject_alternative_name()
                    .ok()
                    .flatten()
                    .map(|san| san.value.general_names.iter().map(name_shown).collect())
                    .unwrap_or_default();
                match (subject.is_empty(), names.is_empty()) {
                    (false, true) => subject,
                    (false, false) => format!("{subject} (for {})", names.join(", ")),
                    (true, false) => format!("(no subject; for {})", names.join(", ")),
                    (true, true) => "(no subject)".to_owned(),
                }
            }
            Err(_) => "(a certificate Ferry cannot read)".to_owned(),
        };
        Self {
            fingerprint: Fingerprint::of(der),
            subject,
        }
    }
}

/// A subject alternative name as a person reads it: a host name or an IP address as
/// written in a URL, anything else as x509-parser spells it.
fn name_shown(name: &x509_parser::extensions::GeneralName<'_>) -> String {
    use x509_parser::extensions::GeneralName;
    match name {
        GeneralName::DNSName(host) => (*host).to_owned(),
        GeneralName::IPAddress(bytes) => match bytes.len() {
            4 => <[u8; 4]>::try_from(*bytes).map_or_else(
                |_| name.to_string(),
                |b| std::net::Ipv4Addr::from(b).to_string(),
            ),
            16 => <[u8; 16]>::try_from(*bytes).map_or_else(
                |_| name.to_string(),
                |b| std::net::Ipv6Addr::from(b).to_string(),
            ),
            _ => name.to_string(),
        },
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_subject_names_hosts_and_addresses_as_urls_write_them() {
        let certified = rcgen::generate_simple_self_signed(vec![
            "files.example.org".to_owned(),
            "127.0.0.1".to_owned(),
            "::1".to_owned(),
        ])
        .unwrap();
        let info = CertificateInfo::of(certified.cert.der());
        assert!(
            info.subject
                .ends_with("(for files.example.org, 127.0.0.1, ::1)"),
            "{}",
            info.subject
        );
    }

    #[test]
    fn a_fingerprint_is_read_with_or_without_colons_in_any_case() {
        let shown = Fingerprint::of(b"certificate");
        let text = shown.to_string();
        assert_eq!(text.len(), 32 * 3 - 1, "{text}");
        assert!(text.chars().all(|c| c == ':' || c.is_ascii_hexdigit()));
        for given in [
            text.clone(),
            text.to_lowercase(),
            text.replace(':', ""),
            shown.to_hex(),
            format!("  SHA256={text}\n"),
            format!("sha256:{}", shown.to_hex()),
        ] {
            assert_eq!(given.parse::<Fingerprint>(), Ok(shown), "{given:?}");
        }
        for wrong in [
            "",
            "AB:CD",
            &text[3..],
            &format!("{text}:00"),
            "zz".repeat(32).as_str(),
        ] {
            let err = wrong.parse::<Fingerprint>().expect_err(wrong);
            assert!(err.to_string().contains("64 hexadecimal digits"), "{err}");
        }
    }

    #[test]
    fn a_certificate_shows_its_subject_and_names() {
        let certified = rcgen::generate_simple_self_signed(vec!["files.example".to_owned()])
            .expect("a certificate");
        let der = certified.cert.der();
        let info = CertificateInfo::of(der);
        assert_eq!(info.fingerprint, Fingerprint::of(der));
        assert!(
            info.subject.contains("CN=rcgen self signed cert"),
            "{}",
            info.subject
        );
        assert!(info.subject.contains("files.example"), "{}", info.subject);
        assert_eq!(
            CertificateInfo::of(b"not DER").subject,
            "(a certificate Ferry cannot read)"
        );
    }
}
