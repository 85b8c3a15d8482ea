//! The engine's errors: what went wrong, with the file, server and offset a person needs,
//! and whether trying again can help.

use std::path::PathBuf;

use ferry_proto::galileo::GalileoError;
use ferry_proto::tus::TusError;

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
        /// What the network said.
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

impl EngineError {
    /// Whether this is a TLS certificate the connection did not trust (expired, self-signed,
    /// another host's), as opposed to a connection that could not be made at all.
    pub fn is_certificate(&self) -> bool {
        match self {
            Self::Network { reason, .. } => {
                let reason = reason.to_ascii_lowercase();
                [
                    "certificate",
                    "unknownissuer",
                    "notvalidforname",
                    "badsignature",
                ]
                .iter()
                .any(|word| reason.contains(word))
            }
            Self::GaveUp { last, .. } => last.is_certificate(),
            _ => false,
        }
    }

    /// Whether trying again (after a pause) can help.
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::Network { .. } | Self::FileChanged { .. } => true,
            Self::Tus { source, .. } => source.is_retryable(),
            Self::Galileo { source, .. } => source.is_retryable(),
            Self::BadUrl { .. }
            | Self::NoProtocol { .. }
            | Self::Unauthorized { .. }
            | Self::File { .. }
            | Self::Keyring(_)
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
            | Self::GaveUp { .. } => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn causes_are_joined_without_repeating_themselves() {
        let inner = std::io::Error::other("invalid peer certificate: UnknownIssuer");
        let outer = EngineError::File {
            path: "/x".into(),
            source: inner,
        };
        let text = with_causes(&outer);
        assert_eq!(
            text,
            "cannot read /x: invalid peer certificate: UnknownIssuer"
        );
    }

    #[test]
    fn certificate_problems_are_told_apart_from_other_network_errors() {
        let net = |reason: &str| EngineError::Network {
            server: "https://s".into(),
            reason: reason.into(),
        };
        assert!(
            net("error sending request: invalid peer certificate: UnknownIssuer").is_certificate()
        );
        assert!(!net("error sending request: Connection refused (os error 111)").is_certificate());
        let gave_up = EngineError::GaveUp {
            attempts: 3,
            last: Box::new(net("invalid peer certificate: Expired")),
        };
        assert!(gave_up.is_certificate());
    }
}
