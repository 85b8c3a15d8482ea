//! The server's SQLite database (`DIR/server.db`, WAL): opening, migrations, and a way to run
//! blocking queries from async handlers. Knows nothing of HTTP.

use std::path::Path;
use std::sync::{Arc, Mutex};

use rusqlite::Connection;
use rusqlite_migration::{M, Migrations};

use crate::error::ServerError;

/// The schema, one migration per change; applied in order at open.
const MIGRATIONS: &[M<'static>] = &[M::up(
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
)];

/// A shared handle on the database.
#[derive(Clone)]
pub struct Db {
    conn: Arc<Mutex<Connection>>,
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
        Ok(Self {
            conn: Arc::new(Mutex::new(conn)),
        })
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
}
