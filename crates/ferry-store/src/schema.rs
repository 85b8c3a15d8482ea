//! The journal's schema, as migrations applied in order. A change to the schema is a new
//! migration at the end, never an edit of an old one; `tests` check that every prefix of
//! the list migrates and that data survives the newest one.

use rusqlite_migration::M;

/// Every migration, oldest first. Upload and history ids are never reused (AUTOINCREMENT),
/// so an id held by a running task can never name a newer row.
pub(crate) const MIGRATIONS: &[M<'static>] = &[M::up(
    "CREATE TABLE accounts (
        id INTEGER PRIMARY KEY,
        server_url TEXT NOT NULL,
        user TEXT NOT NULL DEFAULT '',
        created_at INTEGER NOT NULL,
        UNIQUE (server_url, user)
    );
    CREATE TABLE folders (
        id INTEGER PRIMARY KEY,
        path TEXT NOT NULL UNIQUE,
        account_id INTEGER NOT NULL REFERENCES accounts(id),
        remote_prefix TEXT NOT NULL DEFAULT '',
        protocol TEXT CHECK (protocol IN ('tus', 'galileo')),
        paused INTEGER NOT NULL DEFAULT 0,
        created_at INTEGER NOT NULL
    );
    CREATE TABLE files (
        id INTEGER PRIMARY KEY,
        folder_id INTEGER REFERENCES folders(id) ON DELETE CASCADE,
        local_path TEXT NOT NULL,
        size INTEGER NOT NULL,
        mtime_ns INTEGER NOT NULL,
        inode INTEGER NOT NULL,
        sha1 TEXT,
        state TEXT NOT NULL CHECK (state IN ('pending', 'uploading', 'uploaded', 'failed', 'deleted')),
        uploaded_sha1 TEXT,
        updated_at INTEGER NOT NULL
    );
    CREATE UNIQUE INDEX files_in_folder ON files (folder_id, local_path) WHERE folder_id IS NOT NULL;
    CREATE UNIQUE INDEX files_one_shot ON files (local_path) WHERE folder_id IS NULL;
    CREATE TABLE uploads (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        file_id INTEGER NOT NULL UNIQUE REFERENCES files(id) ON DELETE CASCADE,
        account_id INTEGER NOT NULL REFERENCES accounts(id),
        protocol TEXT NOT NULL CHECK (protocol IN ('tus', 'galileo')),
        endpoint TEXT NOT NULL,
        remote_path TEXT NOT NULL,
        size INTEGER NOT NULL,
        mtime_ns INTEGER NOT NULL,
        inode INTEGER NOT NULL,
        sha1 TEXT NOT NULL,
        chunk_size INTEGER NOT NULL,
        concatenated INTEGER NOT NULL DEFAULT 0,
        confirmed INTEGER NOT NULL DEFAULT 0,
        attempts INTEGER NOT NULL DEFAULT 0,
        next_retry_at INTEGER,
        last_error TEXT,
        started_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL
    );
    CREATE TABLE upload_parts (
        upload_id INTEGER NOT NULL REFERENCES uploads(id) ON DELETE CASCADE,
        idx INTEGER NOT NULL,
        start INTEGER NOT NULL,
        len INTEGER,
        location TEXT,
        confirmed INTEGER NOT NULL DEFAULT 0,
        expires_at INTEGER,
        PRIMARY KEY (upload_id, idx)
    );
    CREATE TABLE history (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        account_id INTEGER REFERENCES accounts(id) ON DELETE SET NULL,
        folder_id INTEGER REFERENCES folders(id) ON DELETE SET NULL,
        local_path TEXT NOT NULL,
        remote_path TEXT NOT NULL,
        server_url TEXT NOT NULL,
        protocol TEXT NOT NULL,
        size INTEGER NOT NULL,
        sha1 TEXT,
        outcome TEXT NOT NULL CHECK (outcome IN ('uploaded', 'abandoned', 'failed')),
        location TEXT,
        bytes_sent INTEGER NOT NULL,
        started_at_ms INTEGER NOT NULL,
        finished_at_ms INTEGER NOT NULL,
        error TEXT
    );
    CREATE INDEX history_by_time ON history (finished_at_ms);",
)];

#[cfg(test)]
mod tests {
    use rusqlite::Connection;
    use rusqlite_migration::Migrations;

    use super::MIGRATIONS;

    #[test]
    fn every_prefix_of_the_migrations_applies_to_an_empty_database() {
        Migrations::from_slice(MIGRATIONS).validate().unwrap();
        for n in 1..=MIGRATIONS.len() {
            let mut conn = Connection::open_in_memory().unwrap();
            Migrations::from_slice(&MIGRATIONS[..n])
                .to_latest(&mut conn)
                .unwrap();
        }
    }
}
