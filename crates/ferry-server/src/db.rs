//! The server's SQLite database (`DIR/server.db`, WAL): opening, migrations, and a way to run
//! blocking queries from async handlers. Knows nothing of HTTP.
//!
//! One writer connection ([`Db::call`]) and a small pool of read-only connections
//! ([`Db::read`]): in WAL mode readers see the last commit and never wait for the writer,
//! so token lookups, HEAD and listings do not queue behind other users' commits. Whatever
//! runs under [`Db::call`] holds the only writer: it must not hash passwords or touch
//! files (do those before or after).

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use rusqlite::Connection;
use rusqlite_migration::{M, Migrations};

use crate::error::ServerError;

/// The schema, one migration per change; applied in order at open.
const MIGRATIONS: &[M<'static>] = &[
    M::up(
        "CREATE TABLE users (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL UNIQUE,
        password_hash TEXT NOT NULL,
        created_at INTEGER NOT NULL
    );
    CREATE TABLE tokens (
        hash TEXT PRIMARY KEY,
        user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
        device TEXT NOT NULL DEFAULT '',
        created_at INTEGER NOT NULL,
        revoked_at INTEGER
    );
    CREATE TABLE uploads (
        id TEXT PRIMARY KEY,
        user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
        protocol TEXT NOT NULL CHECK (protocol IN ('tus', 'galileo')),
        path TEXT,
        length INTEGER,
        received INTEGER NOT NULL DEFAULT 0,
        metadata TEXT NOT NULL DEFAULT '',
        sha1 TEXT,
        mtime INTEGER,
        concat TEXT CHECK (concat IN ('partial', 'final')),
        parts TEXT,
        expires_at INTEGER,
        created_at INTEGER NOT NULL,
        completed_at INTEGER
    );
    CREATE INDEX uploads_expiry ON uploads (expires_at) WHERE completed_at IS NULL;
    CREATE TABLE files (
        user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
        path TEXT NOT NULL,
        size INTEGER NOT NULL,
        sha1 TEXT NOT NULL,
        uploaded_at INTEGER NOT NULL,
        PRIMARY KEY (user_id, path)
    );",
    ),
    // Copy by content (`POST /api/v1/files/copy`) finds a user's file by its sha1 and size.
    M::up("CREATE INDEX files_by_content ON files (user_id, sha1, size);"),
];

/// Read-only connections kept open beside the writer.
const READERS: usize = 4;

/// A shared handle on the database.
#[derive(Clone)]
pub struct Db {
    conn: Arc<Mutex<Connection>>,
    readers: Arc<Vec<Mutex<Connection>>>,
    next_reader: Arc<AtomicUsize>,
}

impl std::fmt::Debug for Db {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Db")
    }
}

impl Db {
    /// Opens (creating if needed) `path` and brings its schema up to date.
    pub fn open(path: &Path) -> Result<Self, ServerError> {
        let mut conn = Connection::open(path)?;
        // WAL with synchronous=FULL: a confirmed offset survives a power cut.
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        Migrations::from_slice(MIGRATIONS).to_latest(&mut conn)?;
        let readers = (0..READERS)
            .map(|_| {
                let reader = Connection::open_with_flags(
                    path,
                    rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY
                        | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
                )?;
                reader.busy_timeout(std::time::Duration::from_secs(5))?;
                Ok(Mutex::new(reader))
            })
            .collect::<Result<Vec<_>, ServerError>>()?;
        Ok(Self {
            conn: Arc::new(Mutex::new(conn)),
            readers: Arc::new(readers),
            next_reader: Arc::default(),
        })
    }

    /// Runs `f` with a read-only connection on a blocking thread: it sees the last commit
    /// and does not wait for the writer. Writes fail there (`SQLITE_READONLY`).
    pub async fn read<T, F>(&self, f: F) -> Result<T, ServerError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, ServerError> + Send + 'static,
    {
        let (readers, next) = (Arc::clone(&self.readers), Arc::clone(&self.next_reader));
        tokio::task::spawn_blocking(move || {
            // Take a free reader if there is one; else wait for the next in turn.
            let start = next.fetch_add(1, Ordering::Relaxed);
            let free = (0..readers.len())
                .find_map(|i| readers[(start + i) % readers.len()].try_lock().ok());
            let guard = match free {
                Some(guard) => guard,
                None => readers[start % readers.len()]
                    .lock()
                    .map_err(|_| ServerError::Internal("database lock poisoned".into()))?,
            };
            f(&guard)
        })
        .await
        .map_err(|e| ServerError::Internal(format!("database task failed: {e}")))?
    }

    /// Runs `f` with the connection on a blocking thread.
    pub async fn call<T, F>(&self, f: F) -> Result<T, ServerError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T, ServerError> + Send + 'static,
    {
        let conn = Arc::clone(&self.conn);
        tokio::task::spawn_blocking(move || {
            let mut guard = conn
                .lock()
                .map_err(|_| ServerError::Internal("database lock poisoned".into()))?;
            f(&mut guard)
        })
        .await
        .map_err(|e| ServerError::Internal(format!("database task failed: {e}")))?
    }

    /// Runs `f` with the connection on this thread (for the command-line tools).
    pub fn call_blocking<T>(
        &self,
        f: impl FnOnce(&mut Connection) -> Result<T, ServerError>,
    ) -> Result<T, ServerError> {
        let mut guard = self
            .conn
            .lock()
            .map_err(|_| ServerError::Internal("database lock poisoned".into()))?;
        f(&mut guard)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migrations_are_valid() {
        Migrations::from_slice(MIGRATIONS).validate().unwrap();
    }

    #[test]
    fn opening_twice_keeps_the_data() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("server.db");
        let db = Db::open(&path).unwrap();
        db.call_blocking(|c| {
            c.execute(
                "INSERT INTO users (name, password_hash, created_at) VALUES ('a', 'x', 0)",
                [],
            )?;
            Ok(())
        })
        .unwrap();
        drop(db);
        let db = Db::open(&path).unwrap();
        let n: i64 = db
            .call_blocking(|c| Ok(c.query_row("SELECT COUNT(*) FROM users", [], |r| r.get(0))?))
            .unwrap();
        assert_eq!(n, 1);
    }

    #[tokio::test]
    async fn readers_see_commits_and_do_not_wait_for_the_writer() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(&dir.path().join("server.db")).unwrap();
        db.call(|c| {
            c.execute(
                "INSERT INTO users (name, password_hash, created_at) VALUES ('a', 'x', 0)",
                [],
            )?;
            Ok(())
        })
        .await
        .unwrap();
        // Hold the writer inside an open write transaction on another thread.
        let (held, release) = (
            std::sync::Arc::new(std::sync::Barrier::new(2)),
            std::sync::Arc::new(std::sync::Barrier::new(2)),
        );
        let writer = {
            let (db, held, release) = (db.clone(), held.clone(), release.clone());
            std::thread::spawn(move || {
                db.call_blocking(|c| {
                    let tx = c.transaction()?;
                    tx.execute("UPDATE users SET name = 'b'", [])?;
                    held.wait();
                    release.wait();
                    tx.commit()?;
                    Ok(())
                })
                .unwrap();
            })
        };
        held.wait();
        let name: String = tokio::time::timeout(
            std::time::Duration::from_secs(2),
            db.read(|c| Ok(c.query_row("SELECT name FROM users", [], |r| r.get(0))?)),
        )
        .await
        .expect("a reader does not wait for the writer's transaction")
        .unwrap();
        assert_eq!(name, "a", "the reader sees the last commit");
        assert!(
            db.read(|c| Ok(c.execute("DELETE FROM users", [])?))
                .await
                .is_err(),
            "readers cannot write"
        );
        release.wait();
        writer.join().unwrap();
    }
}
