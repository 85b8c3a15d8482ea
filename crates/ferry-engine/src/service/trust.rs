//! What this machine trusts for TLS, as the front door hands it out: the platform's
//! verifier and the certificates people trusted deliberately at sign-in (kept in the
//! journal, one per server address; not a secret). The CLI and the window check a server's
//! certificate here before they ask for a password, and show its fingerprint and subject
//! when it is not trusted.
//!
//! It knows nothing of terminals or windows: asking the person is the caller's.

use std::time::Duration;

use url::Url;

use crate::tls::{self, CertificateInfo, Fingerprint, Pin, Trust};

use super::{ServerProbe, Service, ServiceError};

/// How long the handshake that shows a server's certificate may take.
pub(super) const CHECK_TIMEOUT: Duration = Duration::from_secs(15);

/// `server` parsed, or the reason as the window shows it.
pub(super) fn parse_server(server: &str) -> Result<Url, ServiceError> {
    Url::parse(server.trim()).map_err(|e| {
        ServiceError::invalid("server", format!("{server:?} is not a web address ({e})."))
    })
}

impl Service {
    /// What TLS trusts now: the platform's verifier and every certificate trusted at
    /// sign-in. Every HTTP client and WebSocket of one command or run is built from one.
    pub async fn trust(&self) -> Result<Trust, ServiceError> {
        Ok(Trust::load(self.pins().await?).await)
    }

    async fn pins(&self) -> Result<Vec<Pin>, ServiceError> {
        Ok(self.journal.pins().await?)
    }

    /// [`Service::trust`], with `fingerprint` (when given) trusted for the address of
    /// `server` instead of the one trusted there before.
    pub(super) async fn trust_with(
        &self,
        server: &Url,
        fingerprint: Option<Fingerprint>,
    ) -> Result<Trust, ServiceError> {
        let mut pins = self.pins().await?;
        if let (Some(fingerprint), Some(authority)) = (fingerprint, tls::authority(server)) {
            pins.retain(|pin| pin.authority != authority);
            pins.push(Pin {
                authority,
                fingerprint,
            });
        }
        Ok(Trust::load(pins).await)
    }

    /// Shows the certificate of `server` (`https`/`wss`; `None` for others) after one TLS
    /// handshake that sends nothing, trusting what [`Service::trust`] trusts and `trusted`
    /// for this server. A certificate that is not trusted is an
    /// [`crate::EngineError::Certificate`] naming its fingerprint and subject (and the one
    /// trusted before, when it changed): the caller shows it and asks the person.
    pub async fn check_certificate(
        &self,
        server: &str,
        trusted: Option<Fingerprint>,
    ) -> Result<Option<CertificateInfo>, ServiceError> {
        let url = parse_server(server)?;
        let trust = self.trust_with(&url, trusted).await?;
        Ok(tls::check(&trust, &url, CHECK_TIMEOUT).await?)
    }

    /// What the server at `url` is and offers ([`super::probe_server`]), trusting what
    /// [`Service::trust`] trusts and `trusted` for this server.
    pub async fn probe(
        &self,
        url: &str,
        trusted: Option<Fingerprint>,
    ) -> Result<ServerProbe, ServiceError> {
        let normal = super::probe::normalise_url(url)?;
        let trust = self.trust_with(&parse_server(&normal)?, trusted).await?;
        super::probe::probe_with(&normal, &trust).await
    }

    /// Remembers that the person trusts `certificate` for the address of `server`.
    pub(super) async fn remember_trusted(
        &self,
        server: &Url,
        certificate: &CertificateInfo,
    ) -> Result<(), ServiceError> {
        let Some(authority) = tls::authority(server) else {
            return Ok(());
        };
        let (sha256, subject) = (
            certificate.fingerprint.to_hex(),
            certificate.subject.clone(),
        );
        tracing::info!(%authority, fingerprint = %certificate.fingerprint, "certificate trusted");
        self.journal(move |j| Ok(j.trust_certificate(&authority, &sha256, &subject)?))
            .await
    }
}
