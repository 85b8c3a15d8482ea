//! Errors as they cross to the window: `{code, message}`, where `code` is one of the strings
//! of docs/desktop.md (mirrored in `ui/src/lib/errors.ts`) and `message` one sentence a
//! person can act on. The mapping from the engine's errors is here and nowhere else.

use ferry_engine::EngineError;
use ferry_engine::service::ServiceError;
use ferry_engine::settings::SettingsError;
use serde::Serialize;

/// What kind of failure, for the window to decide what to show or do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// The server refused the user name or password.
    WrongPassword,
    /// The token was refused (401, revoked or expired): sign in again.
    SignedOut,
    /// No connection, DNS failure, timeout.
    Unreachable,
    /// The server's TLS certificate is not trusted.
    Certificate,
    /// No Secret Service or keychain.
    NoKeyring,
    /// The URL answered but is not a server Ferry can upload to.
    NotAServer,
    /// A folder, account or history row that does not exist.
    NotFound,
    /// The folder is synced already.
    AlreadyExists,
    /// A field is wrong.
    InvalidInput,
    /// A local file or folder problem.
    Io,
    /// Anything else.
    Internal,
}

/// A command's failure as the window receives it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CommandError {
    /// What kind.
    pub code: ErrorCode,
    /// One sentence for people.
    pub message: String,
    /// With `certificate`: the certificate the server presented, for the window to show and
    /// ask whether to trust it (absent otherwise).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub certificate: Option<CertificateView>,
}

/// A refused server certificate as the window shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CertificateView {
    /// Its SHA-256 fingerprint, `AB:CD:…`.
    pub fingerprint: String,
    /// Its subject.
    pub subject: String,
    /// The fingerprint trusted for this server instead, when the certificate changed (then
    /// the window does not offer to trust it: the person signs in again on purpose).
    pub trusted: Option<String>,
}

/// The certificate of a refusal, if `err` is one (or gave up after one).
fn certificate_of(err: &EngineError) -> Option<CertificateView> {
    match err {
        EngineError::Certificate {
            presented, pinned, ..
        } => Some(CertificateView {
            fingerprint: presented.fingerprint.to_string(),
            subject: presented.subject.clone(),
            trusted: pinned.map(|p| p.to_string()),
        }),
        EngineError::GaveUp { last, .. } => certificate_of(last),
        _ => None,
    }
}

impl CommandError {
    /// An error with `code` and `message`.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            certificate: None,
        }
    }
}

impl std::fmt::Display for CommandError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}: {}", self.code, self.message)
    }
}

/// The code of an engine error.
fn code_of(err: &EngineError) -> ErrorCode {
    match err {
        EngineError::WrongPassword { .. } => ErrorCode::WrongPassword,
        EngineError::Unauthorized { .. } => ErrorCode::SignedOut,
        e if e.is_certificate() => ErrorCode::Certificate,
        EngineError::Network { .. } => ErrorCode::Unreachable,
        EngineError::Certificate { .. } => ErrorCode::Certificate,
        EngineError::Keyring(_) => ErrorCode::NoKeyring,
        EngineError::NoProtocol { .. } | EngineError::NotFerryServer { .. } => ErrorCode::NotAServer,
        EngineError::BadUrl { .. } => ErrorCode::InvalidInput,
        EngineError::File { .. } | EngineError::Watch { .. } => ErrorCode::Io,
        EngineError::GaveUp { last, .. } => code_of(last),
        EngineError::Tus { .. }
        | EngineError::Galileo { .. }
        | EngineError::FileChanged { .. }
        | EngineError::LostUpload { .. }
        | EngineError::Bug(_)
        // The server's own words say what it showed instead.
        | EngineError::NotStored { .. }
        | EngineError::ForeignOrigin { .. }
        // "waiting: the server is out of space" says it all.
        | EngineError::ServerFull { .. }
        // Another Ferry syncs this home: its message says which and what to do.
        | EngineError::Busy { .. }
        // Its message says when to try again: the window shows it as it is.
        | EngineError::TooManyAttempts { .. }
        | EngineError::Store(_) => ErrorCode::Internal,
    }
}

/// The words for an engine error: the engine's own message, which names what to do, except
/// where the window has better words (no CLI commands in a window).
fn message_of(err: &EngineError) -> String {
    match err {
        EngineError::WrongPassword { .. } => "The user name or password is wrong.".to_owned(),
        EngineError::Unauthorized { server } => {
            format!("{server} no longer accepts Ferry's sign-in; sign in again.")
        }
        EngineError::Certificate {
            server,
            presented,
            pinned: Some(pinned),
            ..
        } => format!(
            "The certificate of {server} changed: Ferry trusts the one with fingerprint {pinned}, but the server now presents {} ({}). Ferry does not connect. If the certificate was replaced on purpose, sign in again and trust the new one.",
            presented.fingerprint, presented.subject
        ),
        EngineError::Certificate {
            server,
            presented,
            problem,
            ..
        } => format!(
            "The certificate of {server} is not trusted by this computer ({}). Its SHA-256 fingerprint is {} ({}). If this is your server, compare the fingerprint with the one its administrator gives you before you trust it.",
            problem.words(),
            presented.fingerprint,
            presented.subject
        ),
        EngineError::Network { server, reason, .. } if err.is_certificate() => format!(
            "The certificate of {server} is not trusted ({reason}). Check the address; if the server uses its own certificate, install it in the system's trusted certificates."
        ),
        EngineError::Network { server, .. } => {
            format!("Cannot reach {server}. Check the address and your connection.")
        }
        EngineError::NotFerryServer { server, .. } => format!(
            "{server} is not a ferry-server, so it cannot check a user name and password; paste a token instead, or leave both empty if it needs none."
        ),
        EngineError::NotStored {
            remote,
            server,
            reason,
        } => format!(
            "{server} accepted every byte of {remote} but {reason}. It is not counted as uploaded; Retry sends it again."
        ),
        EngineError::GaveUp { last, .. } => message_of(last),
        other => other.to_string(),
    }
}

impl From<EngineError> for CommandError {
    fn from(err: EngineError) -> Self {
        Self {
            certificate: certificate_of(&err),
            ..Self::new(code_of(&err), message_of(&err))
        }
    }
}

impl From<SettingsError> for CommandError {
    fn from(err: SettingsError) -> Self {
        let code = match &err {
            SettingsError::Invalid { .. } => ErrorCode::InvalidInput,
            SettingsError::Damaged { .. } | SettingsError::Io { .. } => ErrorCode::Io,
        };
        Self::new(code, err.to_string())
    }
}

impl From<ServiceError> for CommandError {
    fn from(err: ServiceError) -> Self {
        match err {
            ServiceError::Engine(e) => e.into(),
            ServiceError::Settings(e) => e.into(),
            ServiceError::NotFound(message) => Self::new(ErrorCode::NotFound, message),
            ServiceError::AlreadyExists(message) => Self::new(ErrorCode::AlreadyExists, message),
            ServiceError::InvalidInput { message, .. } => {
                Self::new(ErrorCode::InvalidInput, message)
            }
            e @ ServiceError::Io { .. } => Self::new(ErrorCode::Io, e.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use ferry_engine::error::{NetworkFailure, TlsProblem};

    use super::*;

    fn network(kind: NetworkFailure, reason: &str) -> EngineError {
        EngineError::unreachable("https://files.example", kind, reason)
    }

    /// Sign-in and network failures, with the codes the window gets for them.
    fn sign_in_and_network_cases() -> Vec<(EngineError, ErrorCode)> {
        vec![
            (
                EngineError::WrongPassword {
                    server: "s".into(),
                    user: "ann".into(),
                },
                ErrorCode::WrongPassword,
            ),
            (
                EngineError::Unauthorized { server: "s".into() },
                ErrorCode::SignedOut,
            ),
            (
                network(
                    NetworkFailure::Refused,
                    "error sending request: Connection refused (os error 111)",
                ),
                ErrorCode::Unreachable,
            ),
            (
                network(NetworkFailure::Timeout, "operation timed out"),
                ErrorCode::Unreachable,
            ),
            (
                network(
                    NetworkFailure::Dns,
                    "dns error: failed to lookup address information",
                ),
                ErrorCode::Unreachable,
            ),
            (
                network(
                    NetworkFailure::Tls(TlsProblem::UnknownIssuer),
                    "invalid peer certificate: UnknownIssuer",
                ),
                ErrorCode::Certificate,
            ),
            (
                network(
                    NetworkFailure::Tls(TlsProblem::Handshake),
                    "received corrupt message",
                ),
                ErrorCode::Unreachable,
            ),
        ]
    }

    /// The other failures, with their codes.
    fn other_cases() -> Vec<(EngineError, ErrorCode)> {
        vec![
            (
                EngineError::TooManyAttempts {
                    server: "s".into(),
                    retry_after: Some(30),
                },
                ErrorCode::Internal,
            ),
            (
                EngineError::Keyring("no Secret Service".into()),
                ErrorCode::NoKeyring,
            ),
            (
                EngineError::NoProtocol {
                    server: "s".into(),
                    reason: "neither".into(),
                },
                ErrorCode::NotAServer,
            ),
            (
                EngineError::NotFerryServer {
                    server: "s".into(),
                    reason: "404".into(),
                },
                ErrorCode::NotAServer,
            ),
            (
                EngineError::BadUrl {
                    url: "x".into(),
                    reason: "no scheme".into(),
                },
                ErrorCode::InvalidInput,
            ),
            (
                EngineError::File {
                    path: "/a".into(),
                    source: std::io::Error::other("denied"),
                },
                ErrorCode::Io,
            ),
            (
                EngineError::GaveUp {
                    attempts: 5,
                    last: Box::new(network(NetworkFailure::Reset, "reset by peer")),
                },
                ErrorCode::Unreachable,
            ),
            (
                EngineError::FileChanged { path: "/a".into() },
                ErrorCode::Internal,
            ),
        ]
    }

    #[test]
    fn engine_errors_map_to_the_codes_of_the_contract() {
        for (err, code) in sign_in_and_network_cases().into_iter().chain(other_cases()) {
            let shown = format!("{err:?}");
            let crossed = CommandError::from(err);
            assert_eq!(crossed.code, code, "{shown}");
            assert!(!crossed.message.is_empty(), "{shown}");
        }
    }

    #[test]
    fn the_window_gets_plain_words_for_the_common_failures() {
        let wrong = CommandError::from(EngineError::WrongPassword {
            server: "s".into(),
            user: "ann".into(),
        });
        assert_eq!(wrong.message, "The user name or password is wrong.");
        let away = CommandError::from(network(NetworkFailure::Refused, "connection refused"));
        assert_eq!(
            away.message,
            "Cannot reach https://files.example. Check the address and your connection."
        );
    }

    #[test]
    fn service_errors_keep_their_own_codes() {
        let cases = [
            (
                ServiceError::NotFound("no such folder".into()),
                ErrorCode::NotFound,
            ),
            (
                ServiceError::AlreadyExists("synced already".into()),
                ErrorCode::AlreadyExists,
            ),
            (
                ServiceError::invalid("path", "not a folder"),
                ErrorCode::InvalidInput,
            ),
            (
                ServiceError::Io {
                    action: "write",
                    path: "/a".into(),
                    source: std::io::Error::other("full"),
                },
                ErrorCode::Io,
            ),
            (
                ServiceError::Engine(EngineError::Keyring("locked".into())),
                ErrorCode::NoKeyring,
            ),
            (
                ServiceError::Settings(SettingsError::Invalid {
                    field: "concurrency",
                    message: "1 to 16".into(),
                }),
                ErrorCode::InvalidInput,
            ),
        ];
        for (err, code) in cases {
            assert_eq!(CommandError::from(err).code, code);
        }
    }

    #[test]
    fn errors_serialise_as_code_and_message_in_snake_case() {
        let json = serde_json::to_value(CommandError::new(ErrorCode::NotAServer, "x")).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"code": "not_a_server", "message": "x"})
        );
        let every = [
            (ErrorCode::WrongPassword, "wrong_password"),
            (ErrorCode::SignedOut, "signed_out"),
            (ErrorCode::Unreachable, "unreachable"),
            (ErrorCode::Certificate, "certificate"),
            (ErrorCode::NoKeyring, "no_keyring"),
            (ErrorCode::NotAServer, "not_a_server"),
            (ErrorCode::NotFound, "not_found"),
            (ErrorCode::AlreadyExists, "already_exists"),
            (ErrorCode::InvalidInput, "invalid_input"),
            (ErrorCode::Io, "io"),
            (ErrorCode::Internal, "internal"),
        ];
        for (code, name) in every {
            assert_eq!(serde_json::to_value(code).unwrap(), serde_json::json!(name));
        }
    }
}
