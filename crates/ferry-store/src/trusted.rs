//! Certificates a person trusted deliberately (a self-signed or private server's), one per
//! server address (`host:port`): the SHA-256 fingerprint of the exact leaf certificate and
//! its subject, for showing. A certificate pin is not a secret.
//!
//! It stores what the engine hands it; it knows nothing of TLS or how a pin is checked.

use rusqlite::params;

use crate::{Journal, StoreError, now_ms};

/// A certificate trusted for one server address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrustedCertificate {
    /// The server's `host:port` (an IPv6 host in brackets), the same for `https` and `wss`.
    pub authority: String,
    /// The SHA-256 fingerprint of the leaf certificate, lowercase hex without colons.
    pub sha256: String,
    /// The certificate's subject as shown when it was trusted.
    pub subject: String,
    /// When it was trusted (ms since the Unix epoch).
    pub trusted_at_ms: i64,
}

impl Journal {
    /// Trusts the certificate with fingerprint `sha256` for `authority`, replacing the one
    /// trusted there before, if any.
    pub fn trust_certificate(
        &self,
        authority: &str,
        sha256: &str,
        subject: &str,
    ) -> Result<(), StoreError> {
        self.conn.execute(
            "INSERT INTO trusted_certificates (authority, sha256, subject, trusted_at_ms)
             VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (authority) DO UPDATE
             SET sha256 = excluded.sha256, subject = excluded.subject,
                 trusted_at_ms = excluded.trusted_at_ms",
            params![authority, sha256, subject, now_ms()],
        )?;
        Ok(())
    }

    /// Every certificate trusted, by authority.
    pub fn trusted_certificates(&self) -> Result<Vec<TrustedCertificate>, StoreError> {
        let mut stmt = self.conn.prepare(
            "SELECT authority, sha256, subject, trusted_at_ms
             FROM trusted_certificates ORDER BY authority",
        )?;
        let rows = stmt
            .query_map([], |r| {
                Ok(TrustedCertificate {
                    authority: r.get(0)?,
                    sha256: r.get(1)?,
                    subject: r.get(2)?,
                    trusted_at_ms: r.get(3)?,
                })
            })?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(rows)
    }
}

#[cfg(test)]
mod tests {
    use crate::Journal;

    #[test]
    fn a_trusted_certificate_replaces_the_one_before_at_the_same_address() {
        let journal = Journal::open_in_memory().unwrap();
        journal
            .trust_certificate("127.0.0.1:8443", "aa", "CN=old")
            .unwrap();
        journal
            .trust_certificate("files.example:443", "bb", "CN=files")
            .unwrap();
        journal
            .trust_certificate("127.0.0.1:8443", "cc", "CN=new")
            .unwrap();
        let kept: Vec<_> = journal
            .trusted_certificates()
            .unwrap()
            .into_iter()
            .map(|t| (t.authority, t.sha256, t.subject))
            .collect();
        assert_eq!(
            kept,
            [
                ("127.0.0.1:8443".into(), "cc".into(), "CN=new".into()),
                ("files.example:443".into(), "bb".into(), "CN=files".into()),
            ]
        );
    }
}
