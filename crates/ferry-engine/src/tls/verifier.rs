//! The one certificate verifier of every connection Ferry makes (reqwest's and the
//! GalileoSend WebSocket's): the certificate a person trusted deliberately for that host,
//! exactly (its SHA-256 fingerprint), or else whatever the platform's verifier trusts (the
//! system store on Linux, the Keychain on macOS, the Windows store). A refusal carries the
//! presented certificate, and the trusted one when they differ, as a [`CertificateRefused`]
//! inside rustls's error, so that the classification (`error::network`) and the messages
//! can name both fingerprints.
//!
//! A pin is kept per `host:port`, but rustls names only the host to a verifier: a pin is
//! honoured at every port of its host. That trusts nothing new: only a server holding that
//! exact certificate's key can present it.
//!
//! It knows nothing of accounts, the journal or how pins were chosen.

use std::collections::HashMap;
use std::sync::{Arc, PoisonError, RwLock};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, DigitallySignedStruct, OtherError, SignatureScheme};

use super::certificate::{CertificateInfo, Fingerprint};

/// The pinned fingerprints by host name (lowercase; an IP address as `IpAddr` shows it).
pub(super) type Pins = HashMap<String, Vec<Fingerprint>>;

/// What the verifier decided about one certificate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Verdict {
    /// It is the certificate trusted for this host.
    Pinned,
    /// The platform trusts it.
    Trusted,
    /// Refused; `pinned` is the certificate trusted for this host instead, if one is.
    Refused { pinned: Option<Fingerprint> },
}

/// The decision: the pinned certificate, else the platform's verdict (asked only when the
/// presented certificate is not the pinned one: `platform_trusts` is called at most once).
pub(super) fn decide(
    pinned: &[Fingerprint],
    presented: Fingerprint,
    platform_trusts: impl FnOnce() -> bool,
) -> Verdict {
    if pinned.contains(&presented) {
        Verdict::Pinned
    } else if platform_trusts() {
        Verdict::Trusted
    } else {
        Verdict::Refused {
            pinned: pinned.first().copied(),
        }
    }
}

/// A server certificate refused: travels inside
/// `rustls::Error::InvalidCertificate(CertificateError::Other(..))`.
#[derive(Debug, Clone)]
pub struct CertificateRefused {
    /// The certificate the server presented.
    pub presented: CertificateInfo,
    /// The certificate trusted for this host instead, when one is (the server's certificate
    /// changed, or someone else answers).
    pub pinned: Option<Fingerprint>,
    /// Why the platform did not trust it.
    pub problem: CertificateError,
}

impl std::fmt::Display for CertificateRefused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let CertificateInfo {
            fingerprint,
            subject,
        } = &self.presented;
        match &self.pinned {
            Some(pinned) => write!(
                f,
                "the server's certificate is not the one trusted for it: it presents SHA-256 {fingerprint} ({subject}), the one trusted is SHA-256 {pinned}"
            ),
            None => write!(
                f,
                "the server's certificate (SHA-256 {fingerprint}, {subject}) is not trusted by this computer: {}",
                super::problem_words(&self.problem)
            ),
        }
    }
}

impl std::error::Error for CertificateRefused {}

/// The platform's verifier, or why there is none (no system store at all: then only
/// pinned certificates are accepted).
pub(super) enum Platform {
    Verifier(Arc<rustls_platform_verifier::Verifier>),
    Missing(String),
}

pub(super) struct PinningVerifier {
    pub(super) platform: Platform,
    pub(super) provider: Arc<CryptoProvider>,
    pub(super) pins: Arc<RwLock<Pins>>,
}

impl std::fmt::Debug for PinningVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PinningVerifier").finish_non_exhaustive()
    }
}

/// The host name rustls connects to, as pins are keyed.
pub(super) fn host_of(name: &ServerName<'_>) -> String {
    match name {
        ServerName::DnsName(dns) => dns.as_ref().to_ascii_lowercase(),
        ServerName::IpAddress(ip) => std::net::IpAddr::from(*ip).to_string(),
        other => format!("{other:?}"),
    }
}

impl ServerCertVerifier for PinningVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let pinned = self
            .pins
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&host_of(server_name))
            .cloned()
            .unwrap_or_default();
        let mut problem = CertificateError::UnknownIssuer;
        let verdict = decide(&pinned, Fingerprint::of(end_entity), || {
            match &self.platform {
                Platform::Verifier(platform) => match platform.verify_server_cert(
                    end_entity,
                    intermediates,
                    server_name,
                    ocsp_response,
                    now,
                ) {
                    Ok(_) => return true,
                    Err(rustls::Error::InvalidCertificate(why)) => problem = why,
                    Err(other) => problem = CertificateError::Other(OtherError(Arc::new(other))),
                },
                Platform::Missing(why) => {
                    tracing::warn!(%why, "no system certificate store: only certificates trusted with `ferry login --trust-fingerprint` are accepted");
                }
            }
            false
        });
        match verdict {
            Verdict::Pinned | Verdict::Trusted => Ok(ServerCertVerified::assertion()),
            Verdict::Refused { pinned } => Err(rustls::Error::InvalidCertificate(
                CertificateError::Other(OtherError(Arc::new(CertificateRefused {
                    presented: CertificateInfo::of(end_entity),
                    pinned,
                    problem,
                }))),
            )),
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pinned_certificate_wins_and_otherwise_the_platform_decides() {
        let (a, b) = (Fingerprint::of(b"a"), Fingerprint::of(b"b"));
        let never = || -> bool { panic!("the platform is not asked about the pinned certificate") };
        assert_eq!(decide(&[a], a, never), Verdict::Pinned);
        assert_eq!(decide(&[], a, || true), Verdict::Trusted);
        assert_eq!(
            decide(&[b], a, || true),
            Verdict::Trusted,
            "a certificate the platform trusts needs no pin"
        );
        assert_eq!(decide(&[], a, || false), Verdict::Refused { pinned: None });
        assert_eq!(
            decide(&[b], a, || false),
            Verdict::Refused { pinned: Some(b) },
            "a changed certificate is refused naming the trusted one"
        );
    }
}
