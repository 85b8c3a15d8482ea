//! What the service functions can fail with: the engine's errors, and the ones of what a
//! person typed or picked (a folder that is not one, a name that does not exist).

use std::path::PathBuf;

use ferry_store::StoreError;

use crate::error::EngineError;
use crate::settings::SettingsError;

/// An error of a service function.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// The engine (network, keyring, journal) failed.
    #[error(transparent)]
    Engine(#[from] EngineError),
    /// A folder, account or history row that does not exist.
    #[error("{0}")]
    NotFound(String),
    /// The thing exists already (a folder that is synced).
    #[error("{0}")]
    AlreadyExists(String),
    /// A field is wrong; `field` is its camelCase name, as the window names it.
    #[error("{message}")]
    InvalidInput {
        /// The field.
        field: &'static str,
        /// What is wrong, for people.
        message: String,
    },
    /// A local file or folder could not be read or written.
    #[error("cannot {action} {}: {source}", path.display())]
    Io {
        /// What was being done (read, write).
        action: &'static str,
        /// The file or folder.
        path: PathBuf,
        /// What the system said.
        source: std::io::Error,
    },
    /// The settings could not be used, read or saved.
    #[error(transparent)]
    Settings(#[from] SettingsError),
}

impl From<StoreError> for ServiceError {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::FolderExists(path) => {
                Self::AlreadyExists(format!("The folder {path} is synced already."))
            }
            other => Self::Engine(EngineError::Store(other)),
        }
    }
}

impl ServiceError {
    /// An [`ServiceError::InvalidInput`].
    pub fn invalid(field: &'static str, message: impl Into<String>) -> Self {
        Self::InvalidInput {
            field,
            message: message.into(),
        }
    }
}
