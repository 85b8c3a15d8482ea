//! Where Ferry keeps its state: the home directory (`--home`, `FERRY_HOME`, or the
//! platform's data directory) holding the journal. Secrets never go here: tokens live in
//! the OS keyring (or `FERRY_TOKEN`).

use std::path::{Path, PathBuf};

use crate::error::EngineError;

/// The name of the journal file in the home directory.
pub const JOURNAL_FILE: &str = "journal.db";

/// Ferry's home directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Home {
    dir: PathBuf,
}

impl Home {
    /// The home at `dir` if given, else `FERRY_HOME`, else the platform's data directory
    /// (`~/.local/share/ferry` on Linux, per the `directories` crate). Creates it if missing.
    #[expect(
        clippy::disallowed_methods,
        reason = "blocking by design: once at start-up, before or beside the runtime (Service::open runs it on the blocking pool)"
    )]
    pub fn locate(dir: Option<&Path>) -> Result<Self, EngineError> {
        let dir = match dir {
            Some(dir) => dir.to_path_buf(),
            None => match std::env::var_os("FERRY_HOME").filter(|v| !v.is_empty()) {
                Some(dir) => PathBuf::from(dir),
                None => default_dir()?,
            },
        };
        std::fs::create_dir_all(&dir).map_err(|source| EngineError::File {
            path: dir.clone(),
            source,
        })?;
        Ok(Self { dir })
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The journal's path.
    pub fn journal_path(&self) -> PathBuf {
        self.dir.join(JOURNAL_FILE)
    }

    /// Opens the journal behind its door (its own thread): what async code uses.
    pub async fn open_journal(&self) -> Result<crate::journal::JournalDoor, EngineError> {
        crate::journal::JournalDoor::open(self.journal_path()).await
    }

    /// Opens the journal on this thread (for blocking code and tests only; async code goes
    /// through [`Home::open_journal`]).
    #[expect(
        clippy::disallowed_methods,
        reason = "the blocking journal, for blocking code and tests; async code uses open_journal"
    )]
    pub fn journal(&self) -> Result<ferry_store::Journal, EngineError> {
        Ok(ferry_store::Journal::open(&self.journal_path())?)
    }
}

fn default_dir() -> Result<PathBuf, EngineError> {
    directories::ProjectDirs::from("", "", "ferry")
        .map(|d| d.data_dir().to_path_buf())
        .ok_or_else(|| EngineError::File {
            path: PathBuf::from("ferry"),
            source: std::io::Error::new(
                std::io::ErrorKind::NotFound,
                "no home directory is known for this user; pass --home DIR or set FERRY_HOME",
            ),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_explicit_home_wins_and_is_created_with_its_journal() {
        let dir = tempfile::tempdir().unwrap();
        let home = Home::locate(Some(&dir.path().join("h"))).unwrap();
        assert!(home.dir().is_dir());
        home.journal().unwrap();
        assert!(home.journal_path().is_file());
    }
}
