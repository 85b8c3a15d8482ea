//! What can go wrong with the journal, said so that a person knows where to look.

use std::path::PathBuf;

/// An error of the journal.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The journal file cannot be opened or set up.
    #[error("cannot open the journal {}: {source}", path.display())]
    Open {
        /// The journal file.
        path: PathBuf,
        /// What SQLite said.
        source: rusqlite::Error,
    },
    /// The journal's schema cannot be brought up to date (a newer Ferry wrote it?).
    #[error("cannot update the journal {} to this version of Ferry: {source}", path.display())]
    Migrate {
        /// The journal file.
        path: PathBuf,
        /// What went wrong.
        source: rusqlite_migration::Error,
    },
    /// The journal file is not a readable SQLite database (damaged, or not a database at
    /// all): left untouched, with the way out.
    #[error(
        "the journal {shown} is damaged ({reason}); Ferry left it untouched. Move it aside (mv '{shown}' '{shown}.damaged') and start Ferry again: it begins a new journal, checks each synced file against the server again, and the old history stays in the moved file", shown = path.display()
    )]
    Damaged {
        /// The journal file.
        path: PathBuf,
        /// What SQLite said.
        reason: String,
    },
    /// The file is another program's SQLite database: never migrated into a journal.
    #[error(
        "{} is not Ferry's journal (it holds another program's tables); Ferry left it untouched. Set FERRY_HOME to another directory, or move the file aside", path.display()
    )]
    Foreign {
        /// The file.
        path: PathBuf,
    },
    /// A newer Ferry wrote the journal.
    #[error(
        "the journal {} was written by a newer Ferry (schema {found}; this one knows up to {known}); update Ferry to use it", path.display()
    )]
    TooNew {
        /// The journal file.
        path: PathBuf,
        /// Its schema version.
        found: i64,
        /// The newest this Ferry knows.
        known: usize,
    },
    /// The folder is synced already.
    #[error("the folder {0} is synced already")]
    FolderExists(String),
    /// A stored value is not one this version understands.
    #[error("the journal holds an unknown {what} {value:?}; was it written by a newer Ferry?")]
    Unknown {
        /// What kind of value.
        what: &'static str,
        /// The value.
        value: String,
    },
    /// The journal's thread is gone (Ferry is stopping, or a bug ended it).
    #[error("the journal is closed; Ferry is stopping")]
    Closed,
    /// The transaction a write was part of could not be committed: the write was not kept.
    #[error("the journal could not save a write: {0}")]
    NotCommitted(String),
    /// Any other SQLite failure.
    #[error("journal query failed: {0}")]
    Sql(#[from] rusqlite::Error),
}
