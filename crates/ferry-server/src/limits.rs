//! Per-user limits, checked when an upload is created or declares its length: at most
//! `max_unfinished` unfinished uploads, and with `--quota` at most that many bytes held
//! (finished files plus the declared or received size of unfinished uploads).
//!
//! The checks run on the writer connection in the same call that inserts the upload, so
//! simultaneous creations cannot all slip under a limit. Knows nothing of HTTP.

use rusqlite::{Connection, params};

use crate::config::Config;
use crate::error::ServerError;

fn to_u64(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}

/// Bytes `user_id` holds now: finished files plus unfinished uploads (their length when
/// known, else what they received), leaving out upload `except`.
pub fn usage(conn: &Connection, user_id: i64, except: &str) -> Result<u64, ServerError> {
    let files: i64 = conn.query_row(
        "SELECT COALESCE(SUM(size), 0) FROM files WHERE user_id = ?1",
        [user_id],
        |r| r.get(0),
    )?;
    let uploads: i64 = conn.query_row(
        "SELECT COALESCE(SUM(COALESCE(length, received)), 0) FROM uploads
         WHERE user_id = ?1 AND completed_at IS NULL AND id != ?2",
        params![user_id, except],
        |r| r.get(0),
    )?;
    Ok(to_u64(files).saturating_add(to_u64(uploads)))
}

/// Refuses ([`ServerError::Limit`]) a new upload of `user_id` of `length` bytes (if known)
/// when the user has `max_unfinished` unfinished uploads already or it would pass the quota.
pub fn check_new_upload(
    conn: &Connection,
    config: &Config,
    user_id: i64,
    length: Option<u64>,
) -> Result<(), ServerError> {
    let unfinished: i64 = conn.query_row(
        "SELECT COUNT(*) FROM uploads WHERE user_id = ?1 AND completed_at IS NULL",
        [user_id],
        |r| r.get(0),
    )?;
    let max = config.max_unfinished;
    if usize::try_from(unfinished).unwrap_or(usize::MAX) >= max {
        return Err(ServerError::Limit(format!(
            "you have {max} unfinished uploads, the most this server keeps per user; finish or \
             delete some first"
        )));
    }
    check_quota(conn, config, user_id, "", length.unwrap_or(0))
}

/// Refuses ([`ServerError::Limit`]) `extra` bytes for upload `id` of `user_id` if they pass
/// the quota.
pub fn check_quota(
    conn: &Connection,
    config: &Config,
    user_id: i64,
    id: &str,
    extra: u64,
) -> Result<(), ServerError> {
    let Some(quota) = config.quota else {
        return Ok(());
    };
    let used = usage(conn, user_id, id)?;
    if used.saturating_add(extra) > quota {
        return Err(ServerError::Limit(format!(
            "this upload of {extra} bytes does not fit your quota of {quota} bytes ({used} in \
             use); delete files or unfinished uploads first"
        )));
    }
    Ok(())
}
