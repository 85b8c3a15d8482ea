//! What kind of network failure an error is, decided once where it comes out of reqwest,
//! tokio-tungstenite or a name lookup, from the error values in its source chain (the
//! `std::io::Error` kind, rustls's certificate verdict, hyper's "closed before the answer"),
//! never from its words. The rest of the engine and its front ends match the
//! [`NetworkFailure`]; the words are kept beside it only for people.
//!
//! It knows nothing of servers, files or retries: it only names what the network did.

use std::error::Error as StdError;
use std::io;

/// What went wrong on the way to a server, as far as the error values show.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NetworkFailure {
    /// Nothing came back within the time allowed (connecting, or any sign of life after).
    Timeout,
    /// Nothing listens at that address and port (connection refused).
    Refused,
    /// The connection was torn down by the other side or the network (reset, aborted,
    /// broken pipe).
    Reset,
    /// The other side closed the connection before its answer was complete.
    Closed,
    /// The host name could not be resolved.
    Dns,
    /// The TLS handshake failed, for the reason given.
    Tls(TlsProblem),
    /// The server answered, with a status that says it cannot serve now (5xx, 408, 429).
    Status(u16),
    /// The server answered with something Ferry cannot use (a broken or oversized reply).
    BadAnswer,
    /// Anything else the network or the HTTP stack reported.
    Other,
}

/// Why a TLS handshake failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TlsProblem {
    /// The certificate is signed by no authority this machine trusts (self-signed, a
    /// private certificate authority).
    UnknownIssuer,
    /// The certificate has expired or is not valid yet.
    Expired,
    /// The certificate is for another host name.
    WrongHost,
    /// Another fault of the certificate (bad signature, revoked, badly encoded, ...).
    BadCertificate,
    /// The certificate is not the one a person trusted for this server (it changed, or
    /// another server answers).
    Changed,
    /// The handshake failed for a reason other than the certificate (not TLS at all, no
    /// common protocol version or cipher).
    Handshake,
}

impl TlsProblem {
    /// Whether the certificate itself was not trusted.
    pub fn is_certificate(self) -> bool {
        !matches!(self, Self::Handshake)
    }

    /// What it means, in words for people.
    pub fn words(self) -> &'static str {
        match self {
            Self::UnknownIssuer => "it is signed by no authority this computer trusts",
            Self::Expired => "it has expired or is not valid yet",
            Self::WrongHost => "it is issued for another name",
            Self::BadCertificate => "it is faulty",
            Self::Changed => "it is not the certificate trusted for this server",
            Self::Handshake => "the secure connection could not be set up",
        }
    }
}

/// A host name that did not resolve: put into the source chain by Ferry's own resolver
/// ([`crate::transport::dns`]) so that [`classify`] can tell DNS failures apart without
/// reading words.
#[derive(Debug, thiserror::Error)]
#[error("cannot resolve {host}: {source}")]
pub struct NameNotResolved {
    /// The host name.
    pub host: String,
    /// What the resolver said.
    pub source: io::Error,
}

/// The kind of failure `err` is, from the values in its source chain; the first telling
/// value wins, from the outermost error inwards.
pub fn classify(err: &(dyn StdError + 'static)) -> NetworkFailure {
    let mut next = Some(err);
    let mut timed_out = false;
    while let Some(current) = next {
        if let Some(kind) = telling(current) {
            return kind;
        }
        if let Some(reqwest) = current.downcast_ref::<reqwest::Error>() {
            timed_out |= reqwest.is_timeout();
        }
        if let Some(hyper) = current.downcast_ref::<hyper::Error>() {
            timed_out |= hyper.is_timeout();
        }
        next = current.source();
    }
    if timed_out {
        NetworkFailure::Timeout
    } else {
        NetworkFailure::Other
    }
}

/// The kind of a WebSocket failure (connecting, reading or writing).
pub fn classify_ws(err: &tokio_tungstenite::tungstenite::Error) -> NetworkFailure {
    use tokio_tungstenite::tungstenite::error::{Error, ProtocolError};
    match err {
        Error::ConnectionClosed | Error::AlreadyClosed => NetworkFailure::Closed,
        Error::Protocol(ProtocolError::ResetWithoutClosingHandshake) => NetworkFailure::Reset,
        Error::Http(response) => NetworkFailure::Status(response.status().as_u16()),
        other => classify(other),
    }
}

/// What one error of a chain says by itself, if anything.
fn telling(err: &(dyn StdError + 'static)) -> Option<NetworkFailure> {
    if let Some(tls) = err.downcast_ref::<rustls::Error>() {
        return Some(NetworkFailure::Tls(tls_problem(tls)));
    }
    if err.downcast_ref::<NameNotResolved>().is_some() {
        return Some(NetworkFailure::Dns);
    }
    if let Some(hyper) = err.downcast_ref::<hyper::Error>()
        && hyper.is_incomplete_message()
    {
        return Some(NetworkFailure::Closed);
    }
    let io = err.downcast_ref::<io::Error>()?;
    // An io::Error's `source()` skips the error it wraps; look at it here (rustls's and
    // the resolver's errors travel inside io::Errors).
    if let Some(inner) = io.get_ref()
        && let Some(kind) = telling(inner)
    {
        return Some(kind);
    }
    match io.kind() {
        io::ErrorKind::ConnectionRefused => Some(NetworkFailure::Refused),
        io::ErrorKind::ConnectionReset
        | io::ErrorKind::ConnectionAborted
        | io::ErrorKind::BrokenPipe => Some(NetworkFailure::Reset),
        io::ErrorKind::TimedOut => Some(NetworkFailure::Timeout),
        io::ErrorKind::UnexpectedEof => Some(NetworkFailure::Closed),
        _ => None,
    }
}

/// The certificate Ferry's verifier refused (`crate::tls`), if `err`'s chain holds one.
pub fn refused_certificate<'e>(
    err: &'e (dyn StdError + 'static),
) -> Option<&'e crate::tls::CertificateRefused> {
    let mut next = Some(err);
    while let Some(current) = next {
        if let Some(refused) = refused_in(current) {
            return Some(refused);
        }
        next = current.source();
    }
    None
}

fn refused_in<'e>(err: &'e (dyn StdError + 'static)) -> Option<&'e crate::tls::CertificateRefused> {
    if let Some(rustls::Error::InvalidCertificate(rustls::CertificateError::Other(other))) =
        err.downcast_ref::<rustls::Error>()
    {
        return other.0.downcast_ref();
    }
    // An io::Error's `source()` skips the error it wraps (rustls's travels inside one).
    let inner: &(dyn StdError + 'static) = err.downcast_ref::<io::Error>()?.get_ref()?;
    refused_in(inner)
}

fn tls_problem(err: &rustls::Error) -> TlsProblem {
    use rustls::CertificateError as C;
    match err {
        rustls::Error::InvalidCertificate(C::Other(other)) => {
            match other.0.downcast_ref::<crate::tls::CertificateRefused>() {
                Some(refused) if refused.pinned.is_some() => TlsProblem::Changed,
                Some(refused) => certificate_problem(&refused.problem),
                None => TlsProblem::BadCertificate,
            }
        }
        rustls::Error::InvalidCertificate(cert) => certificate_problem(cert),
        _ => TlsProblem::Handshake,
    }
}

fn certificate_problem(cert: &rustls::CertificateError) -> TlsProblem {
    use rustls::CertificateError as C;
    match cert {
        C::UnknownIssuer => TlsProblem::UnknownIssuer,
        C::Expired | C::ExpiredContext { .. } | C::NotValidYet | C::NotValidYetContext { .. } => {
            TlsProblem::Expired
        }
        C::NotValidForName | C::NotValidForNameContext { .. } => TlsProblem::WrongHost,
        _ => TlsProblem::BadCertificate,
    }
}

#[cfg(test)]
#[path = "network_tests.rs"]
mod tests;
