//! The client journal of Ferry: the single source of truth for what is uploaded.
//!
//! One SQLite file (WAL, `synchronous=FULL`: a confirmed offset survives a power cut) with
//! accounts, folders, files, uploads (with the partial uploads of a concatenation) and
//! history. Every change that must be seen whole (an upload finishing: history row, file
//! state, upload row) happens in one transaction, so a crash at any instant leaves the
//! journal consistent. Offsets are written only when the engine says the server confirmed
//! them; the journal never invents one.
//!
//! # Layout
//! - [`Journal`]: opening, migrations ([`schema`]), and the typed queries, grouped by table
//!   in `accounts`, `folders`, `files`, `uploads`, `history` and `trusted` (certificates a
//!   person trusted deliberately); what is learnt of servers (the request size they take)
//!   in `limits`.
//! - [`StoreError`]: what can go wrong, with the path or name a person needs.
//!
//! This crate knows nothing of networks, protocols or user interfaces: it stores facts the
//! engine hands it and answers questions about them (a protocol only by its name,
//! [`ferry_proto::Protocol`], kept as text). Secrets never reach it.

mod accounts;
mod error;
mod files;
mod folders;
mod history;
mod limits;
mod schema;
mod trusted;
mod uploads;

use std::path::Path;
use std::time::{Duration, SystemTime};

use rusqlite::Connection;
use rusqlite_migration::Migrations;

pub use crate::accounts::{Account, AccountId};
pub use crate::error::StoreError;
pub use crate::files::{FileCounts, FileFacts, FileId, FileRecord, FileState};
pub use crate::folders::{Folder, FolderId};
pub use crate::history::{DayTotal, HistoryEntry, HistoryQuery, Outcome, Verification};
pub use crate::trusted::TrustedCertificate;
pub use crate::uploads::{FinalUpload, NewUpload, PartRecord, Progress, UploadId, UploadRecord};

/// The journal: one open SQLite connection.
#[derive(Debug)]
pub struct Journal {
    conn: Connection,
}

impl Journal {
    /// Opens (creating if needed) the journal at `path` and brings its schema up to date.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let conn = Connection::open(path).map_err(|source| StoreError::Open {
            path: path.to_path_buf(),
            source,
        })?;
        Self::prepare(conn, path)
    }

    /// A journal in memory, for tests.
    pub fn open_in_memory() -> Result<Self, StoreError> {
        let conn = Connection::open_in_memory().map_err(|source| StoreError::Open {
            path: ":memory:".into(),
            source,
        })?;
        Self::prepare(conn, Path::new(":memory:"))
    }

    fn prepare(mut conn: Connection, path: &Path) -> Result<Self, StoreError> {
        // Before anything is written (even the switch to WAL changes the file's header).
        conn.busy_timeout(Duration::from_secs(5))
            .map_err(|source| StoreError::Open {
                path: path.to_path_buf(),
                source,
            })?;
        Self::check_kind(&conn, path)?;
        let setup = |conn: &Connection| -> rusqlite::Result<()> {
            // First, so that the pragmas below wait for another process instead of failing.
            conn.busy_timeout(Duration::from_secs(5))?;
            conn.pragma_update(None, "journal_mode", "WAL")?;
            conn.pragma_update(None, "synchronous", "FULL")?;
            // The WAL is checkpointed every 1000 pages (SQLite's default) and cut back to
            // 4 MiB after each checkpoint, so it stays bounded however long Ferry runs.
            conn.pragma_update(None, "journal_size_limit", 4 * 1024 * 1024)?;
            conn.pragma_update(None, "foreign_keys", "ON")
        };
        // Switching a new database to WAL takes an exclusive lock, and SQLite may answer
        // "database is locked" at once (without waiting) while another process opens the
        // same new journal: try again for up to ~5 s, like the migrations below.
        let mut attempt = 0;
        while let Err(source) = setup(&conn) {
            if let Some(damaged) = damaged(path, &source) {
                return Err(damaged);
            }
            let busy = matches!(
                source.sqlite_error_code(),
                Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked)
            );
            if !busy || attempt >= 20 {
                return Err(StoreError::Open {
                    path: path.to_path_buf(),
                    source,
                });
            }
            attempt += 1;
            std::thread::sleep(Duration::from_millis(25 * attempt.min(10)));
        }
        // Two processes opening a new journal at once (`ferry upload` and `ferry status`) may
        // both start migrating; the loser fails on tables the winner just made. Once the
        // winner is done, migrating again finds nothing to do.
        let migrations = Migrations::from_slice(schema::MIGRATIONS);
        attempt = 0;
        loop {
            match migrations.to_latest(&mut conn) {
                Ok(()) => break,
                // Up to about 5 s in all: a busy disk can make the winner slow.
                Err(_) if attempt < 20 => {
                    attempt += 1;
                    std::thread::sleep(Duration::from_millis(25 * attempt.min(10)));
                }
                Err(source) => {
                    return Err(StoreError::Migrate {
                        path: path.to_path_buf(),
                        source,
                    });
                }
            }
        }
        Ok(Self { conn })
    }

    /// Refuses a database that is not a journal this Ferry can use, before anything is
    /// written to it: another program's (tables, but no schema version of ours) or a newer
    /// Ferry's (a schema version beyond ours).
    fn check_kind(conn: &Connection, path: &Path) -> Result<(), StoreError> {
        let open_error = |source: rusqlite::Error| {
            damaged(path, &source).unwrap_or_else(|| StoreError::Open {
                path: path.to_path_buf(),
                source,
            })
        };
        // One snapshot for both reads: another Ferry may be making the journal right now, and
        // a table count read after its first migration committed, beside a version read
        // before, took a new journal for another program's.
        let snapshot = conn.unchecked_transaction().map_err(open_error)?;
        let version: i64 = snapshot
            .pragma_query_value(None, "user_version", |row| row.get(0))
            .map_err(open_error)?;
        let known = schema::MIGRATIONS.len();
        if usize::try_from(version).is_ok_and(|v| v > known) {
            return Err(StoreError::TooNew {
                path: path.to_path_buf(),
                found: version,
                known,
            });
        }
        if version == 0 {
            let tables: i64 = snapshot
                .query_row(
                    "SELECT count(*) FROM sqlite_master WHERE type = 'table'",
                    [],
                    |row| row.get(0),
                )
                .map_err(open_error)?;
            if tables > 0 {
                return Err(StoreError::Foreign {
                    path: path.to_path_buf(),
                });
            }
        }
        Ok(())
    }

    /// Runs `f` with every write it makes in one transaction: one flush to disk at the end
    /// instead of one per write (the planning of many files at once). What `f` wrote is
    /// durable only when this returns `Ok`; a crash before leaves none of it, as if `f` had
    /// not run. Only for writes the caller can make again (nothing a server confirmed must
    /// wait on a batch). Writes that are whole by themselves stay whole inside it.
    pub fn batch<T>(&mut self, f: impl FnOnce(&mut Self) -> T) -> Result<T, StoreError> {
        self.conn.execute_batch("BEGIN IMMEDIATE")?;
        let out = f(self);
        if self.conn.is_autocommit() {
            // SQLite rolled it back itself (a full disk, an I/O error).
            return Err(StoreError::Sql(rusqlite::Error::SqliteFailure(
                rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_ABORT),
                Some("the batch of journal writes was rolled back".to_owned()),
            )));
        }
        if let Err(err) = self.conn.execute_batch("COMMIT") {
            let _ = self.conn.execute_batch("ROLLBACK");
            return Err(err.into());
        }
        Ok(out)
    }
}

/// The error for a file SQLite cannot read as a database, if `source` says so.
fn damaged(path: &Path, source: &rusqlite::Error) -> Option<StoreError> {
    matches!(
        source.sqlite_error_code(),
        Some(rusqlite::ErrorCode::NotADatabase | rusqlite::ErrorCode::DatabaseCorrupt)
    )
    .then(|| StoreError::Damaged {
        path: path.to_path_buf(),
        reason: source.to_string(),
    })
}

/// Milliseconds since the Unix epoch, now.
fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// A byte count or offset as SQLite stores it.
fn to_sql(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// A byte count or offset as the journal stored it.
fn from_sql(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}
