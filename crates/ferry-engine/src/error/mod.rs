//! The engine's errors: what went wrong, with the file, server and offset a person needs,
//! whether trying again can help ([`EngineError::is_retryable`]) and whether the file waits
//! on the person ([`EngineError::is_permanent`]).
//!
//! - [`network`]: what kind of network failure an error is, read from its source chain.
//!
//! It knows nothing of the UI or the CLI: they match the variants and kinds.

pub mod network;

use std::path::PathBuf;

use ferry_proto::galileo::GalileoError;
use ferry_proto::tus::TusError;

pub use self::network::{NetworkFailure, TlsProblem};

/// An error of the engine.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// The server URL is not one Ferry can use.
    #[error("cannot use server URL {url:?}: {reason}")]
    BadUrl {
        /// The URL as given.
        url: String,
        /// Why.
        reason: String,
    },
    /// The server offers nothing Ferry can upload with (or not what was asked for).
    #[error("{server} offers no usable upload protocol: {reason}")]
    NoProtocol {
        /// The server.
        server: String,
        /// What was found instead.
        reason: String,
    },
    /// The server could not be reached, or the connection broke.
    #[error("cannot reach {server}: {reason}")]
    Network {
        /// The server.
        server: String,
        /// What kind of failure it was, classified where it happened.
        kind: NetworkFailure,
        /// What the network said, with its causes, for people.
        reason: String,
    },
    /// The server refused the sign-in.
    #[error("the server {server} refused the sign-in: sign in again with `ferry login {server}`")]
    Unauthorized {
        /// The server.
        server: String,
    },
    /// The tus machine reported an error.
    #[error("tus upload of {path} to {server}: {source}")]
    Tus {
        /// The local file.
        path: PathBuf,
        /// The server.
        server: String,
        /// The protocol error.
        source: Box<TusError>,
    },
    /// The GalileoSend machine reported an error.
    #[error("GalileoSend upload of {path} to {server}: {source}")]
    Galileo {
        /// The local file.
        path: PathBuf,
        /// The server.
        server: String,
        /// The protocol error.
        source: Box<GalileoError>,
    },
    /// A tus server lost an upload it had created (it answered 404 or 410 to it): the
    /// upload starts over with a new one.
    #[error("{server} answered 404 or 410: it lost the upload of {} it had created; starting over", path.display())]
    LostUpload {
        /// The local file.
        path: PathBuf,
        /// The server.
        server: String,
    },
    /// The server has no room for the file's bytes (tus 507 Insufficient Storage,
    /// GalileoSend `disk_full`). Neither permanent nor worth a quick retry: what the server
    /// confirmed stays, a one-shot upload stops at once (run again, it resumes from the
    /// server's offset), folder sync waits minutes before trying again.
    #[error("the server is out of space; run the same command again once space is freed")]
    ServerFull {
        /// The local file.
        path: PathBuf,
        /// The server.
        server: String,
    },
    /// Ferry got itself into a state it should never be in.
    #[error("a bug in Ferry: {0}; please report it")]
    Bug(String),
    /// The file changed (size, modification time or inode) while it was being uploaded;
    /// the upload was abandoned and must start again with the new content.
    #[error("{} changed while it was being uploaded; it will be uploaded again from the start", path.display())]
    FileChanged {
        /// The local file.
        path: PathBuf,
    },
    /// A local file could not be read.
    #[error("cannot read {}: {source}", path.display())]
    File {
        /// The local file.
        path: PathBuf,
        /// What the system said.
        source: std::io::Error,
    },
    /// The OS keyring could not be used; the message says what to do instead.
    #[error("{0}")]
    Keyring(String),
    /// A sign-in with a user name and password was refused.
    #[error("wrong user name or password for {user:?} at {server}")]
    WrongPassword {
        /// The server.
        server: String,
        /// The user name as given.
        user: String,
    },
    /// The server refused a sign-in because of too many failed attempts lately.
    #[error("too many attempts at signing in to {server}; {}", match retry_after {
        Some(secs) => format!("try again in {secs} s"),
        None => "try again later".to_owned(),
    })]
    TooManyAttempts {
        /// The server.
        server: String,
        /// Seconds to wait, from the server's `Retry-After`.
        retry_after: Option<u64>,
    },
    /// A sign-in with a user name and password needs a ferry-server, and this is not one.
    #[error(
        "{server} is not a ferry-server ({reason}), so Ferry cannot sign in there with a user name and password; paste a token instead: `ferry login {server} --token-stdin`"
    )]
    NotFerryServer {
        /// The server.
        server: String,
        /// What it did instead.
        reason: String,
    },
    /// Another Ferry already holds this home's engine lock: one engine per home, so two
    /// never write the same journal.
    #[error("another Ferry{} is already syncing with home {}; stop it first, or use another --home", match pid {
        Some(pid) => format!(" (pid {pid})"),
        None => String::new(),
    }, home.display())]
    Busy {
        /// The home directory.
        home: PathBuf,
        /// The process holding the lock, when it could be read from the lock file.
        pid: Option<u32>,
    },
    /// The OS watcher cannot watch a folder; `message` says what happened and the fix.
    #[error("{message}")]
    Watch {
        /// The watched folder.
        root: PathBuf,
        /// A sentence for a person: what happened, what Ferry does instead, how to fix it.
        message: String,
    },
    /// The journal failed.
    #[error(transparent)]
    Store(#[from] ferry_store::StoreError),
    /// The server said an upload was complete but cannot show that it holds the file's
    /// exact bytes (it could not store it, or holds other bytes there): never recorded as
    /// uploaded.
    #[error(
        "{server} accepted every byte of {remote} but {reason}; it is not recorded as uploaded: run the same command again (or Retry) to send it again"
    )]
    NotStored {
        /// The remote path.
        remote: String,
        /// The server.
        server: String,
        /// What the server showed instead.
        reason: String,
    },
    /// A server pointed a request that would carry the token to another origin (another
    /// scheme, host or port): refused, the token goes only where it was issued.
    #[error(
        "{what} points to {url}, outside {origin}, the server the sign-in is for; Ferry sends the token only there and did not follow it: ask the server's operator to serve uploads from {origin}"
    )]
    ForeignOrigin {
        /// What pointed there (`the upload's Location`, `a redirect`, ...).
        what: String,
        /// Where it pointed (without user, password or query).
        url: String,
        /// The origin the token is for.
        origin: String,
    },
    /// A server's certificate was refused: this computer does not trust it, or it is not
    /// the one a person trusted for that server (it changed).
    #[error("{}", certificate_words(server, presented, pinned.as_ref(), *problem))]
    Certificate {
        /// The server.
        server: String,
        /// The certificate it presented.
        presented: crate::tls::CertificateInfo,
        /// The certificate trusted for it instead, when one is.
        pinned: Option<crate::tls::Fingerprint>,
        /// Why it was refused.
        problem: TlsProblem,
    },
    /// Gave up after retrying.
    #[error("gave up after {attempts} attempts: {last}")]
    GaveUp {
        /// How many attempts were made.
        attempts: u32,
        /// The last error.
        last: Box<EngineError>,
    },
}

/// An error and its causes, `a: b: c`, as one line for people: a connection error's
/// `Display` alone ("error sending request") hides what went wrong (refused, DNS, TLS).
pub fn with_causes(err: &(dyn std::error::Error + 'static)) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

/// What a refused certificate means and what to do: trust it deliberately, or, when it is
/// not the one trusted before, check why it changed. Both fingerprints are named.
fn certificate_words(
    server: &str,
    presented: &crate::tls::CertificateInfo,
    pinned: Option<&crate::tls::Fingerprint>,
    problem: TlsProblem,
) -> String {
    let crate::tls::CertificateInfo {
        fingerprint,
        subject,
    } = presented;
    match pinned {
        Some(pinned) => format!(
            "the certificate of {server} changed: Ferry trusts the certificate with SHA-256 fingerprint {pinned} there, but the server now presents SHA-256 {fingerprint} ({subject}), so it is refused. If the server's certificate was replaced on purpose, compare the new fingerprint with the server's and sign in again with `ferry login {server} --trust-fingerprint {fingerprint}`"
        ),
        None => format!(
            "{server} presented a certificate this computer does not trust ({}): SHA-256 fingerprint {fingerprint}, subject {subject}. If you trust it, compare the fingerprint with the server's and sign in with `ferry login {server} --trust-fingerprint {fingerprint}`, or install its certificate authority in the system's trusted certificates",
            problem.words()
        ),
    }
}

impl EngineError {
    /// A network failure of `err` (a reqwest or hyper error, or anything with one in its
    /// source chain) on the way to `server`: classified here, once.
    pub fn network(server: &str, err: &(dyn std::error::Error + 'static)) -> Self {
        let kind = network::classify(err);
        if let Some(refused) = network::refused_certificate(err) {
            return Self::refused(server, refused, kind);
        }
        Self::Network {
            server: server.to_owned(),
            kind,
            reason: with_causes(err),
        }
    }

    /// A WebSocket failure of `err` on the way to `server`.
    pub fn network_ws(server: &str, err: &tokio_tungstenite::tungstenite::Error) -> Self {
        let kind = network::classify_ws(err);
        if let Some(refused) = network::refused_certificate(err) {
            return Self::refused(server, refused, kind);
        }
        Self::Network {
            server: server.to_owned(),
            kind,
            reason: with_causes(err),
        }
    }

    fn refused(
        server: &str,
        refused: &crate::tls::CertificateRefused,
        kind: NetworkFailure,
    ) -> Self {
        Self::Certificate {
            server: server.to_owned(),
            presented: refused.presented.clone(),
            pinned: refused.pinned,
            problem: match kind {
                NetworkFailure::Tls(problem) => problem,
                _ => TlsProblem::BadCertificate,
            },
        }
    }

    /// A network failure of a kind Ferry saw itself (a timeout it kept, a status it read).
    pub fn unreachable(server: &str, kind: NetworkFailure, reason: impl Into<String>) -> Self {
        Self::Network {
            server: server.to_owned(),
            kind,
            reason: reason.into(),
        }
    }

    /// The kind of network failure, if this is one (or gave up after one).
    pub fn network_failure(&self) -> Option<NetworkFailure> {
        match self {
            Self::Network { kind, .. } => Some(*kind),
            Self::Certificate { problem, .. } => Some(NetworkFailure::Tls(*problem)),
            Self::GaveUp { last, .. } => last.network_failure(),
            _ => None,
        }
    }

    /// Whether the server could not be reached (nothing listening, no route, timeouts, a
    /// connection torn down, a name that does not resolve): the trouble is the connection,
    /// not this file. A certificate refused or a server answering 5xx is not this.
    pub fn is_unreachable(&self) -> bool {
        matches!(
            self.network_failure(),
            Some(
                NetworkFailure::Timeout
                    | NetworkFailure::Refused
                    | NetworkFailure::Reset
                    | NetworkFailure::Closed
                    | NetworkFailure::Dns
                    | NetworkFailure::Other
            )
        )
    }

    /// Whether the server is out of space (or gave up over that).
    pub fn is_server_full(&self) -> bool {
        match self {
            Self::ServerFull { .. } => true,
            Self::GaveUp { last, .. } => last.is_server_full(),
            _ => false,
        }
    }

    /// Whether this is a TLS certificate the connection did not trust (expired, self-signed,
    /// another host's), as opposed to a connection that could not be made at all.
    pub fn is_certificate(&self) -> bool {
        matches!(self.network_failure(), Some(NetworkFailure::Tls(problem)) if problem.is_certificate())
    }

    /// Whether trying again (after a pause) can help.
    pub fn is_retryable(&self) -> bool {
        match self {
            // Every kind, an untrusted certificate too: a captive portal's certificate goes
            // away once the person has signed in to the Wi-Fi.
            // ServerFull: once space is freed, the upload goes on from the server's offset.
            // A refused certificate too: a captive portal's goes away, and a changed one is
            // refused again every time (never accepted), shown each time.
            Self::Network { .. }
            | Self::Certificate { .. }
            | Self::FileChanged { .. }
            | Self::LostUpload { .. }
            | Self::ServerFull { .. } => true,
            Self::Tus { source, .. } => source.is_retryable(),
            Self::Galileo { source, .. } => source.is_retryable(),
            Self::BadUrl { .. }
            | Self::NoProtocol { .. }
            | Self::Unauthorized { .. }
            | Self::File { .. }
            | Self::Keyring(_)
            | Self::Bug(_)
            // A sign-in needs the person's password: when to try again is theirs to decide.
            | Self::WrongPassword { .. }
            | Self::TooManyAttempts { .. }
            | Self::NotFerryServer { .. }
            | Self::Store(_)
            // Both wait on the person: stopping the other Ferry, raising the watch limit.
            | Self::Busy { .. }
            | Self::Watch { .. }
            // Sending the same bytes again to the same place would end the same way.
            | Self::NotStored { .. }
            // The server's own answer: asking again gets the same one.
            | Self::ForeignOrigin { .. }
            | Self::GaveUp { .. } => false,
        }
    }

    /// Whether the file waits on the person (a fix, a sign-in, a Retry) rather than on
    /// Ferry trying again by itself: the inverse of "will be retried". What to alert the
    /// user about, and what a front end reports as failed for good.
    ///
    /// - Everything that [`is_retryable`](Self::is_retryable) is not permanent.
    /// - A [`GaveUp`](Self::GaveUp) is what its last error was: the transport stopped
    ///   trying, but a file given up on over a network failure is tried again later (the
    ///   sync core spaces those attempts; `ferry upload` run again continues it),
    ///   while one given up on over a failure that needs the person stays with the person.
    /// - Everything else is permanent: a [`NotStored`](Self::NotStored) (the same bytes to
    ///   the same place would end the same way), a refused sign-in, an unreadable file,
    ///   a bug. No network failure is, an untrusted certificate neither (see
    ///   [`is_retryable`](Self::is_retryable)).
    pub fn is_permanent(&self) -> bool {
        match self {
            Self::GaveUp { last, .. } => last.is_permanent(),
            other => !other.is_retryable(),
        }
    }
}

#[cfg(test)]
mod tests;
