//! A synced folder's ignore rules: its `.ferryignore`, read and replaced whole (the window's
//! editor). The rules themselves are the sync engine's to apply (`sync::ignore`); here they
//! are only text in a file. The file work runs on tokio's blocking pool.

use std::io::Write;
use std::path::{Path, PathBuf};

use super::{Service, ServiceError, blocking_io};

pub use crate::sync::ignore::IGNORE_FILE;

#[expect(
    clippy::disallowed_methods,
    reason = "blocking by design: the service calls it through blocking_io"
)]
fn read(file: &Path) -> Result<String, ServiceError> {
    if std::fs::symlink_metadata(file).is_ok_and(|m| m.file_type().is_symlink()) {
        return Err(ServiceError::Io {
            action: "read",
            path: file.to_path_buf(),
            source: std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                "it is a symbolic link; Ferry edits only a real .ferryignore file",
            ),
        });
    }
    match std::fs::read_to_string(file) {
        Ok(rules) => Ok(rules),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(String::new()),
        Err(source) => Err(ServiceError::Io {
            action: "read",
            path: file.to_path_buf(),
            source,
        }),
    }
}

/// Writes `rules` (ending in a newline) to `file` atomically: a temp file beside it,
/// flushed, then renamed over it.
#[expect(
    clippy::disallowed_methods,
    reason = "blocking by design: the service calls it through blocking_io"
)]
fn write(file: &Path, rules: &str) -> Result<(), ServiceError> {
    let io = |source| ServiceError::Io {
        action: "write",
        path: file.to_path_buf(),
        source,
    };
    let mut text = rules.to_owned();
    if !text.is_empty() && !text.ends_with('\n') {
        text.push('\n');
    }
    let temp = file.with_file_name(format!("{IGNORE_FILE}.tmp"));
    // Never through a link: a leftover temp file (or a link planted in its place) is
    // removed, not followed, and the new one is created fresh (`create_new` does not follow
    // links). The rename replaces `.ferryignore` itself, even if it is a link.
    match std::fs::remove_file(&temp) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(io(e)),
        _ => {}
    }
    let mut out = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&temp)
        .map_err(io)?;
    out.write_all(text.as_bytes()).map_err(io)?;
    out.sync_all().map_err(io)?;
    drop(out);
    std::fs::rename(&temp, file).map_err(io)
}

impl Service {
    async fn ignore_file(&self, path: &str) -> Result<PathBuf, ServiceError> {
        let folder = self.synced_folder(path).await?;
        Ok(Path::new(&folder.path).join(IGNORE_FILE))
    }

    /// The ignore rules of the folder at `path` (its `.ferryignore`; empty when it has
    /// none). Errors: not found (not a synced folder), io.
    pub async fn ignore_rules(&self, path: &str) -> Result<String, ServiceError> {
        let file = self.ignore_file(path).await?;
        blocking_io("read", &file.clone(), move || read(&file)).await
    }

    /// Replaces the ignore rules of the folder at `path`, atomically. Errors: not found,
    /// io.
    pub async fn set_ignore_rules(&self, path: &str, rules: &str) -> Result<(), ServiceError> {
        let file = self.ignore_file(path).await?;
        let rules = rules.to_owned();
        blocking_io("write", &file.clone(), move || write(&file, &rules)).await
    }
}
