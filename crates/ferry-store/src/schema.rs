//! The journal's schema, as migrations applied in order. A change to the schema is a new
//! migration at the end, never an edit of an old one; `tests` check that every prefix of
//! the list migrates and that data survives the newest one.

use rusqlite_migration::M;

/// Every migration, oldest first. Upload and history ids are never reused (AUTOINCREMENT),
/// so an id held by a running task can never name a newer row.
pub(crate) const MIGRATIONS: &[M<'static>] = &[
    M::up(
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
    ),
    // Folder sync: a file's failures and next retry survive restarts (a file can fail before
    // it has an upload row, e.g. while its server is unreachable), and the history records
    // renames and deletions too (a CHECK constraint cannot be altered: the table is rebuilt).
    M::up(
        "ALTER TABLE files ADD COLUMN attempts INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE files ADD COLUMN next_retry_at INTEGER;
    ALTER TABLE files ADD COLUMN last_error TEXT;
    CREATE INDEX files_by_state ON files (folder_id, state);
    CREATE TABLE history_v2 (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        account_id INTEGER REFERENCES accounts(id) ON DELETE SET NULL,
        folder_id INTEGER REFERENCES folders(id) ON DELETE SET NULL,
        local_path TEXT NOT NULL,
        remote_path TEXT NOT NULL,
        server_url TEXT NOT NULL,
        protocol TEXT NOT NULL,
        size INTEGER NOT NULL,
        sha1 TEXT,
        outcome TEXT NOT NULL
            CHECK (outcome IN ('uploaded', 'abandoned', 'failed', 'renamed', 'deleted')),
        location TEXT,
        bytes_sent INTEGER NOT NULL,
        started_at_ms INTEGER NOT NULL,
        finished_at_ms INTEGER NOT NULL,
        error TEXT
    );
    INSERT INTO history_v2 SELECT * FROM history;
    DROP TABLE history;
    ALTER TABLE history_v2 RENAME TO history;
    CREATE INDEX history_by_time ON history (finished_at_ms);",
    ),
    // A concatenation is one plan: its partial uploads and its final upload, which may have
    // been asked for (its POST sent) before its location is known; and the history says how
    // each upload was verified.
    M::up(
        "ALTER TABLE uploads ADD COLUMN final_requested INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE uploads ADD COLUMN final_location TEXT;
    ALTER TABLE history ADD COLUMN verification TEXT;",
    ),
    // The largest request body a server (or the proxy before it) took, learnt from its 413
    // answers: uploads there start at that chunk size instead of being refused again.
    M::up(
        "CREATE TABLE server_limits (
        endpoint TEXT NOT NULL,
        protocol TEXT NOT NULL CHECK (protocol IN ('tus', 'galileo')),
        max_chunk INTEGER NOT NULL,
        updated_at INTEGER NOT NULL,
        PRIMARY KEY (endpoint, protocol)
    );",
    ),
    // Certificates a person trusted deliberately (self-signed servers), one per `host:port`.
    M::up(
        "CREATE TABLE trusted_certificates (
        authority TEXT PRIMARY KEY,
        sha256 TEXT NOT NULL,
        subject TEXT NOT NULL,
        trusted_at_ms INTEGER NOT NULL
    );",
    ),
];

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

    #[test]
    fn history_rows_survive_the_rebuild_that_allows_renamed_and_deleted() {
        let mut conn = Connection::open_in_memory().unwrap();
        Migrations::from_slice(&MIGRATIONS[..1])
            .to_latest(&mut conn)
            .unwrap();
        conn.execute_batch(
            "INSERT INTO accounts (id, server_url, user, created_at) VALUES (1, 'http://s', 'ann', 0);
             INSERT INTO history (account_id, local_path, remote_path, server_url, protocol, size, outcome,
                                  bytes_sent, started_at_ms, finished_at_ms)
             VALUES (1, '/a', 'a', 'http://s', 'tus', 5, 'uploaded', 5, 1, 2);",
        )
        .unwrap();
        Migrations::from_slice(MIGRATIONS)
            .to_latest(&mut conn)
            .unwrap();
        let kept: (String, i64) = conn
            .query_row("SELECT local_path, size FROM history", [], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .unwrap();
        assert_eq!(kept, ("/a".to_owned(), 5));
        conn.execute(
            "INSERT INTO history (local_path, remote_path, server_url, protocol, size, outcome, bytes_sent,
                                  started_at_ms, finished_at_ms) VALUES ('/b', 'b', 's', 'tus', 1, 'renamed', 0, 3, 3)",
            [],
        )
        .expect("the new outcomes are allowed");
        let attempts: i64 = conn
            .query_row(
                "SELECT COUNT(*) FROM pragma_table_info('files') WHERE name = 'attempts'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(attempts, 1, "files gained their retry columns");
    }
}
