//! TLS the way the operating system does it, for every connection the engine makes: one
//! rustls [`ClientConfig`] (in a [`Trust`]) given to reqwest (`use_preconfigured_tls`) and to
//! the GalileoSend WebSocket (`Connector::Rustls`), so that both protocols trust the same
//! certificates: the platform's verifier (system store, Keychain, Windows store) and the
//! certificates a person trusted deliberately at sign-in, each for its server ([`Pin`]).
//!
//! - `certificate`: fingerprints and subjects, as a person checks them (pure).
//! - `verifier`: the pinned certificate or the platform's verdict (the decision is pure).
//! - [`check`]: one handshake, to see a server's certificate before signing in.
//!
//! It knows nothing of accounts, the journal or the keyring: pins come in from outside.

mod certificate;
mod verifier;

use std::sync::{Arc, PoisonError, RwLock};
use std::time::Duration;

use rustls::ClientConfig;
use rustls::pki_types::ServerName;
use url::Url;

pub use self::certificate::{BadFingerprint, CertificateInfo, Fingerprint};
pub use self::verifier::CertificateRefused;
use self::verifier::{PinningVerifier, Pins, Platform};
use crate::error::EngineError;

/// A certificate a person trusted for one server address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pin {
    /// The server's `host:port` ([`authority`]).
    pub authority: String,
    /// The fingerprint of the exact leaf certificate trusted there.
    pub fingerprint: Fingerprint,
}

/// The `host:port` of `url` (the port its scheme implies when none is given; an IPv6 host
/// in brackets): `https` and `wss` on one address share a certificate, so a pin is kept per
/// address, not per scheme.
pub fn authority(url: &Url) -> Option<String> {
    let host = url.host_str()?;
    let port = url.port_or_known_default()?;
    Some(format!("{host}:{port}"))
}

/// The host of an authority as rustls names it to a verifier (no brackets, lowercase).
fn host_of_authority(authority: &str) -> String {
    let host = authority
        .rsplit_once(':')
        .map_or(authority, |(host, _port)| host);
    host.trim_start_matches('[')
        .trim_end_matches(']')
        .to_ascii_lowercase()
}

fn pins_by_host(pins: impl IntoIterator<Item = Pin>) -> Pins {
    let mut by_host = Pins::new();
    for pin in pins {
        by_host
            .entry(host_of_authority(&pin.authority))
            .or_default()
            .push(pin.fingerprint);
    }
    by_host
}

/// What this machine trusts: the platform's verifier and the pinned certificates. Cheap to
/// clone; every clone shares the pins ([`Trust::set_pins`]).
#[derive(Clone)]
pub struct Trust {
    config: Arc<ClientConfig>,
    pins: Arc<RwLock<Pins>>,
}

impl std::fmt::Debug for Trust {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Trust").finish_non_exhaustive()
    }
}

impl Trust {
    /// The platform's verifier with `pins`. Reads the system's certificate store, which
    /// blocks: async code calls [`Trust::load`]. Without any system store, only pinned
    /// certificates are accepted (and a warning logged on every refusal).
    ///
    /// # Panics
    /// If ring offers no safe TLS version, which only a broken build can cause.
    pub fn new(pins: impl IntoIterator<Item = Pin>) -> Self {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let platform = match rustls_platform_verifier::Verifier::new(Arc::clone(&provider)) {
            Ok(verifier) => Platform::Verifier(Arc::new(verifier)),
            Err(err) => Platform::Missing(err.to_string()),
        };
        let pins = Arc::new(RwLock::new(pins_by_host(pins)));
        let verifier = PinningVerifier {
            platform,
            provider: Arc::clone(&provider),
            pins: Arc::clone(&pins),
        };
        let config = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("ring offers TLS 1.2 and 1.3")
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(verifier))
            .with_no_client_auth();
        Self {
            config: Arc::new(config),
            pins,
        }
    }

    /// [`Trust::new`] on the blocking pool.
    pub async fn load(pins: Vec<Pin>) -> Self {
        match tokio::task::spawn_blocking(move || Self::new(pins)).await {
            Ok(trust) => trust,
            Err(err) => std::panic::resume_unwind(err.into_panic()),
        }
    }

    /// Replaces the pinned certificates (after a sign-in trusted one), for every clone.
    pub fn set_pins(&self, pins: impl IntoIterator<Item = Pin>) {
        *self.pins.write().unwrap_or_else(PoisonError::into_inner) = pins_by_host(pins);
    }

    /// The rustls configuration every connection uses.
    pub fn config(&self) -> Arc<ClientConfig> {
        Arc::clone(&self.config)
    }

    /// The connector of a GalileoSend WebSocket.
    pub fn websocket(&self) -> tokio_tungstenite::Connector {
        tokio_tungstenite::Connector::Rustls(self.config())
    }
}

/// Words for why the platform refused a certificate.
fn problem_words(problem: &rustls::CertificateError) -> String {
    use rustls::CertificateError as C;
    match problem {
        C::UnknownIssuer => "it is signed by no authority this computer trusts".to_owned(),
        C::Expired | C::ExpiredContext { .. } => "it has expired".to_owned(),
        C::NotValidYet | C::NotValidYetContext { .. } => "it is not valid yet".to_owned(),
        C::NotValidForName | C::NotValidForNameContext { .. } => {
            "it is issued for another name".to_owned()
        }
        other => format!("{other:?}"),
    }
}

/// Connects to the TLS server of `url` (`https` or `wss`; any other scheme has nothing to
/// check: `None`) and completes one handshake with `trust`, sending nothing else, and
/// returns the certificate it presented. One that is not trusted comes back as
/// [`EngineError::Certificate`] with its fingerprint and subject, for a person to decide on
/// before anything (a password) is sent.
pub async fn check(
    trust: &Trust,
    url: &Url,
    timeout: Duration,
) -> Result<Option<CertificateInfo>, EngineError> {
    if !matches!(url.scheme(), "https" | "wss") {
        return Ok(None);
    }
    let server = url.as_str();
    let bad_url = |reason: &str| EngineError::BadUrl {
        url: server.to_owned(),
        reason: reason.to_owned(),
    };
    let host = url
        .host_str()
        .ok_or_else(|| bad_url("it names no host"))?
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_owned();
    let port = url
        .port_or_known_default()
        .ok_or_else(|| bad_url("it names no port"))?;
    let name = ServerName::try_from(host.clone()).map_err(|e| bad_url(&e.to_string()))?;
    let connector = tokio_rustls::TlsConnector::from(trust.config());
    let handshake = async {
        let addrs = crate::transport::dns::lookup(&host, port).await?;
        let tcp = tokio::net::TcpStream::connect(addrs.as_slice()).await?;
        connector.connect(name, tcp).await
    };
    match tokio::time::timeout(timeout, handshake).await {
        Ok(Ok(stream)) => Ok(stream
            .get_ref()
            .1
            .peer_certificates()
            .and_then(<[_]>::first)
            .map(|leaf| CertificateInfo::of(leaf))),
        Ok(Err(err)) => Err(EngineError::network(server, &err)),
        Err(_) => Err(EngineError::unreachable(
            server,
            crate::error::NetworkFailure::Timeout,
            format!("no TLS handshake within {timeout:?}"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pin_is_kept_per_address_and_checked_by_host() {
        let url = |u: &str| Url::parse(u).unwrap();
        assert_eq!(
            authority(&url("https://Files.Example/x")).as_deref(),
            Some("files.example:443")
        );
        assert_eq!(
            authority(&url("wss://127.0.0.1:8443/galileo")).as_deref(),
            Some("127.0.0.1:8443")
        );
        assert_eq!(
            authority(&url("https://[::1]:9000/")).as_deref(),
            Some("[::1]:9000")
        );
        assert_eq!(host_of_authority("[::1]:9000"), "::1");
        assert_eq!(host_of_authority("files.example:443"), "files.example");
        let fingerprint = Fingerprint::of(b"x");
        let pins = pins_by_host([Pin {
            authority: "127.0.0.1:8443".into(),
            fingerprint,
        }]);
        assert_eq!(pins.get("127.0.0.1"), Some(&vec![fingerprint]));
    }
}
