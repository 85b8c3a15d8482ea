//! The server's error type: what went wrong, with the context a person needs, and how each
//! protocol answers it (HTTP status for tus and the API, error code for GalileoSend).

use std::io;

use ferry_proto::galileo::ErrorCode;
use http::StatusCode;

/// An error while serving a request or running a command.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// No valid token came with the request.
    #[error(
        "sign-in required: send a valid token as `Authorization: Bearer TOKEN` or `access_token=TOKEN`"
    )]
    Unauthorized,
    /// The user name or password is wrong.
    #[error("wrong user name or password")]
    WrongPassword,
    /// Too many failed sign-ins.
    #[error("too many failed sign-ins; try again in {retry_after} seconds")]
    RateLimited {
        /// Seconds until the next attempt is allowed.
        retry_after: u64,
    },
    /// The upload does not exist for this user (or another user owns it).
    #[error("no such upload")]
    NotFound,
    /// The request is malformed.
    #[error("{0}")]
    BadRequest(String),
    /// A remote path that Ferry will not store.
    #[error("refused path {path:?}: {reason}")]
    BadPath {
        /// The path as received.
        path: String,
        /// Why it is refused.
        reason: &'static str,
    },
    /// The upload is larger than this server accepts.
    #[error("the upload of {size} bytes exceeds this server's limit of {max} bytes")]
    TooLarge {
        /// The upload's size.
        size: u64,
        /// The limit.
        max: u64,
    },
    /// The request conflicts with the state of the upload or the files.
    #[error("{0}")]
    Conflict(String),
    /// A complete upload cannot be stored at its path while something is in the way (a
    /// file where a folder must be, a folder of the file's name). Permanent until someone
    /// moves it: the bytes are kept, and a later try publishes them.
    #[error("{0}")]
    CannotStore(String),
    /// The whole-file hash does not match; the upload was reset to byte 0.
    #[error(
        "the file's sha1 does not match (expected {expected}, received {actual}); the upload starts again from byte 0"
    )]
    HashMismatch {
        /// The hash the client announced.
        expected: String,
        /// The hash of the bytes received.
        actual: String,
    },
    /// The disk is full; what was received so far is kept.
    #[error("the server's disk is full while {context}; the upload can resume once space is freed")]
    DiskFull {
        /// What the server was doing.
        context: String,
    },
    /// Any other I/O failure.
    #[error("I/O error while {context}: {source}")]
    Io {
        /// What the server was doing.
        context: String,
        /// The failure.
        source: io::Error,
    },
    /// A database failure.
    #[error("database error: {0}")]
    Db(rusqlite::Error),
    /// A failed schema migration.
    #[error("database migration failed: {0}")]
    Migration(#[from] rusqlite_migration::Error),
    /// A bug or a broken invariant.
    #[error("internal error: {0}")]
    Internal(String),
    /// A limit of this server or of the user's account is reached (unfinished uploads,
    /// quota); nothing was changed.
    #[error("{0}")]
    Limit(String),
}

impl From<rusqlite::Error> for ServerError {
    /// A database that cannot grow because the disk is full is a full disk (507), not an
    /// internal error: nothing committed is lost and the request can be tried again.
    fn from(err: rusqlite::Error) -> Self {
        match err.sqlite_error_code() {
            Some(rusqlite::ErrorCode::DiskFull) => Self::DiskFull {
                context: "recording the upload in the database".into(),
            },
            _ => Self::Db(err),
        }
    }
}

impl ServerError {
    /// An I/O error with context; a full disk (or quota) becomes [`ServerError::DiskFull`].
    pub fn io(context: impl Into<String>, source: io::Error) -> Self {
        let context = context.into();
        let full = source.kind() == io::ErrorKind::StorageFull
            || source.kind() == io::ErrorKind::QuotaExceeded
            || matches!(source.raw_os_error(), Some(28 | 122));
        if full {
            Self::DiskFull { context }
        } else {
            Self::Io { context, source }
        }
    }

    /// The HTTP status that answers this error.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::Unauthorized | Self::WrongPassword => StatusCode::UNAUTHORIZED,
            Self::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::NotFound => StatusCode::NOT_FOUND,
            Self::BadRequest(_) | Self::BadPath { .. } => StatusCode::BAD_REQUEST,
            Self::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Self::Limit(_) => StatusCode::FORBIDDEN,
            Self::Conflict(_) => StatusCode::CONFLICT,
            // Not 409, which tus reserves for a wrong offset (clients resync and retry).
            Self::CannotStore(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Self::HashMismatch { .. } => ferry_proto::tus::server::CHECKSUM_MISMATCH,
            Self::DiskFull { .. } => StatusCode::INSUFFICIENT_STORAGE,
            Self::Io { .. } | Self::Db(_) | Self::Migration(_) | Self::Internal(_) => {
                StatusCode::INTERNAL_SERVER_ERROR
            }
        }
    }

    /// The GalileoSend error code that answers this error.
    pub fn galileo_code(&self) -> ErrorCode {
        match self {
            Self::Unauthorized | Self::WrongPassword | Self::RateLimited { .. } => {
                ErrorCode::Unauthorized
            }
            Self::NotFound => ErrorCode::UnknownUpload,
            Self::BadRequest(_) | Self::Conflict(_) => ErrorCode::BadMessage,
            Self::BadPath { .. } | Self::CannotStore(_) => ErrorCode::BadPath,
            Self::TooLarge { .. } | Self::Limit(_) => ErrorCode::TooLarge,
            Self::HashMismatch { .. } => ErrorCode::HashMismatch,
            Self::DiskFull { .. } => ErrorCode::DiskFull,
            Self::Io { .. } | Self::Db(_) | Self::Migration(_) | Self::Internal(_) => {
                ErrorCode::Internal
            }
        }
    }

    /// The message a client may see: internal details stay in the server's log.
    pub fn public_message(&self) -> String {
        match self {
            Self::Io { context, .. } => {
                format!("the server failed while {context}; try again later")
            }
            Self::Db(_) | Self::Migration(_) | Self::Internal(_) => {
                "internal server error; try again later".to_owned()
            }
            other => other.to_string(),
        }
    }
}

impl axum::response::IntoResponse for ServerError {
    /// A JSON body `{"error": message, "code": code}`. tus clients find `Tus-Resumable` on
    /// it as on every tus answer; 401 says how to authenticate, 429 when to come back.
    fn into_response(self) -> axum::response::Response {
        let status = self.status();
        if status.is_server_error() {
            tracing::error!(error = %self, "request failed");
        }
        let body = serde_json::json!({ "error": self.public_message(), "code": self.galileo_code().as_str() });
        let mut response = (status, axum::Json(body)).into_response();
        let headers = response.headers_mut();
        headers.insert("tus-resumable", http::HeaderValue::from_static("1.0.0"));
        match &self {
            Self::Unauthorized | Self::WrongPassword => {
                headers.insert(
                    http::header::WWW_AUTHENTICATE,
                    http::HeaderValue::from_static("Bearer"),
                );
            }
            Self::RateLimited { retry_after } => {
                headers.insert(
                    http::header::RETRY_AFTER,
                    http::HeaderValue::from(*retry_after),
                );
            }
            _ => {}
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_database_that_cannot_grow_is_a_full_disk() {
        let full = rusqlite::Error::SqliteFailure(
            rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_FULL),
            None,
        );
        let err = ServerError::from(full);
        assert!(matches!(err, ServerError::DiskFull { .. }), "{err:?}");
        assert_eq!(err.status(), StatusCode::INSUFFICIENT_STORAGE);
        assert_eq!(err.galileo_code(), ErrorCode::DiskFull);
        let busy = rusqlite::Error::SqliteFailure(
            rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_BUSY),
            None,
        );
        assert!(matches!(ServerError::from(busy), ServerError::Db(_)));
        let enospc = ServerError::io("writing", io::Error::from_raw_os_error(28));
        assert_eq!(enospc.status(), StatusCode::INSUFFICIENT_STORAGE);
    }
}
