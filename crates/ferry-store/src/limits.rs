//! What Ferry learnt of a server's limits: the largest request body (chunk) it takes, from
//! its 413 answers, keyed by upload endpoint and protocol, for a week: a server whose
//! operator raised the limit gets full-size chunks again, and one that did not costs a few
//! refused requests a week to learn it again. Not a secret; knows nothing of how the limit
//! was found.

use ferry_proto::Protocol;
use rusqlite::{OptionalExtension, params};

use crate::{Journal, StoreError, from_sql, now_ms, to_sql};

/// How long a learnt limit is kept (milliseconds): a week.
pub(crate) const CHUNK_LIMIT_KEPT_MS: i64 = 7 * 24 * 3600 * 1000;

impl Journal {
    /// The chunk size that works at `endpoint` over `protocol`, if a server's refusals
    /// taught one in the last [`CHUNK_LIMIT_KEPT_MS`].
    pub fn chunk_limit(
        &self,
        endpoint: &str,
        protocol: Protocol,
    ) -> Result<Option<u64>, StoreError> {
        Ok(self
            .conn
            .query_row(
                "SELECT max_chunk FROM server_limits
                 WHERE endpoint = ?1 AND protocol = ?2 AND updated_at > ?3",
                params![
                    endpoint,
                    protocol.as_str(),
                    now_ms().saturating_sub(CHUNK_LIMIT_KEPT_MS)
                ],
                |r| r.get::<_, i64>(0),
            )
            .optional()?
            .map(from_sql))
    }

    /// Remembers that `endpoint` takes chunks of at most `max_chunk` bytes over `protocol`.
    pub fn set_chunk_limit(
        &self,
        endpoint: &str,
        protocol: Protocol,
        max_chunk: u64,
    ) -> Result<(), StoreError> {
        self.conn.execute(
            "INSERT INTO server_limits (endpoint, protocol, max_chunk, updated_at)
             VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (endpoint, protocol) DO UPDATE SET max_chunk = ?3, updated_at = ?4",
            params![endpoint, protocol.as_str(), to_sql(max_chunk), now_ms()],
        )?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_learnt_chunk_limit_is_kept_per_endpoint_and_protocol() {
        let journal = Journal::open_in_memory().unwrap();
        let tus = "http://127.0.0.1:8080/files/";
        assert_eq!(journal.chunk_limit(tus, Protocol::Tus).unwrap(), None);
        journal
            .set_chunk_limit(tus, Protocol::Tus, 1 << 20)
            .unwrap();
        journal
            .set_chunk_limit(tus, Protocol::Tus, 512 << 10)
            .unwrap();
        assert_eq!(
            journal.chunk_limit(tus, Protocol::Tus).unwrap(),
            Some(512 << 10),
            "the newest lesson wins"
        );
        assert_eq!(journal.chunk_limit(tus, Protocol::Galileo).unwrap(), None);
        assert_eq!(
            journal
                .chunk_limit("http://127.0.0.1:9/files/", Protocol::Tus)
                .unwrap(),
            None
        );
    }

    #[test]
    fn a_limit_learnt_more_than_a_week_ago_is_forgotten() {
        let journal = Journal::open_in_memory().unwrap();
        let tus = "http://127.0.0.1:8080/files/";
        journal
            .set_chunk_limit(tus, Protocol::Tus, 1 << 20)
            .unwrap();
        let age = |ms: i64| {
            journal
                .conn
                .execute(
                    "UPDATE server_limits SET updated_at = ?1",
                    params![now_ms() - ms],
                )
                .unwrap();
        };
        age(CHUNK_LIMIT_KEPT_MS - 60_000);
        assert_eq!(
            journal.chunk_limit(tus, Protocol::Tus).unwrap(),
            Some(1 << 20),
            "kept for a week"
        );
        age(CHUNK_LIMIT_KEPT_MS + 60_000);
        assert_eq!(
            journal.chunk_limit(tus, Protocol::Tus).unwrap(),
            None,
            "then the full size is tried again"
        );
    }
}
