//! Accounts and tokens: argon2 password hashes, bearer tokens kept only as sha256 hashes,
//! and the brake on password guessing. Knows nothing of HTTP.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use ferry_proto::checksum::to_hex;
use rand::RngCore;
use rusqlite::{Connection, OptionalExtension, params};
use sha2::{Digest, Sha256};
use tokio::time::Instant;

use crate::error::ServerError;

/// A user of this server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    /// The row id.
    pub id: i64,
    /// The name, also the name of the user's folder under `DIR/files/`.
    pub name: String,
}

pub use ferry_proto::token::Token;

/// A new random token: `fry_` and 256 random bits in hex.
fn generate_token() -> Token {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    Token::new(format!("fry_{}", to_hex(&bytes)))
}

/// What the database keeps of a token: its sha256, in hex.
fn token_hash(token: &Token) -> String {
    to_hex(&Sha256::digest(token.expose().as_bytes()))
}

fn now_secs() -> i64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// Checks a user name: it becomes a folder name, so 1 to 64 of `A-Z a-z 0-9 . _ -`, not
/// starting with a dot.
pub fn validate_user_name(name: &str) -> Result<(), ServerError> {
    let ok = (1..=64).contains(&name.len())
        && !name.starts_with('.')
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(ServerError::BadRequest(format!(
            "invalid user name {name:?}: use 1 to 64 letters, digits, `.`, `_` or `-`, not starting with `.`"
        )))
    }
}

/// Creates a user with `password`.
pub fn add_user(conn: &Connection, name: &str, password: &str) -> Result<User, ServerError> {
    validate_user_name(name)?;
    if password.is_empty() {
        return Err(ServerError::BadRequest("the password is empty".into()));
    }
    let mut salt = [0u8; 16];
    rand::rng().fill_bytes(&mut salt);
    let salt =
        SaltString::encode_b64(&salt).map_err(|e| ServerError::Internal(format!("salt: {e}")))?;
    let hash = Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map_err(|e| ServerError::Internal(format!("hashing the password: {e}")))?
        .to_string();
    let inserted = conn.execute(
        "INSERT INTO users (name, password_hash, created_at) VALUES (?1, ?2, ?3) ON CONFLICT (name) DO NOTHING",
        params![name, hash, now_secs()],
    )?;
    if inserted == 0 {
        return Err(ServerError::Conflict(format!(
            "user {name:?} exists already"
        )));
    }
    Ok(User {
        id: conn.last_insert_rowid(),
        name: name.to_owned(),
    })
}

/// The user `name`, if it exists.
pub fn find_user(conn: &Connection, name: &str) -> Result<Option<User>, ServerError> {
    Ok(conn
        .query_row("SELECT id, name FROM users WHERE name = ?1", [name], |r| {
            Ok(User {
                id: r.get(0)?,
                name: r.get(1)?,
            })
        })
        .optional()?)
}

/// The user whose password this is, or [`ServerError::WrongPassword`].
pub fn check_password(conn: &Connection, name: &str, password: &str) -> Result<User, ServerError> {
    let row: Option<(i64, String)> = conn
        .query_row(
            "SELECT id, password_hash FROM users WHERE name = ?1",
            [name],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?;
    let Some((id, stored)) = row else {
        return Err(ServerError::WrongPassword);
    };
    let parsed = PasswordHash::new(&stored)
        .map_err(|e| ServerError::Internal(format!("stored password hash: {e}")))?;
    Argon2::default()
        .verify_password(password.as_bytes(), &parsed)
        .map_err(|_| ServerError::WrongPassword)?;
    Ok(User {
        id,
        name: name.to_owned(),
    })
}

/// Issues a new token for `user`, naming the device it is for.
pub fn issue_token(conn: &Connection, user: &User, device: &str) -> Result<Token, ServerError> {
    let token = generate_token();
    conn.execute(
        "INSERT INTO tokens (hash, user_id, device, created_at) VALUES (?1, ?2, ?3, ?4)",
        params![
            token_hash(&token),
            user.id,
            device.chars().take(200).collect::<String>(),
            now_secs()
        ],
    )?;
    Ok(token)
}

/// Revokes `token`; false if it was unknown or revoked already.
pub fn revoke_token(conn: &Connection, token: &Token) -> Result<bool, ServerError> {
    let changed = conn.execute(
        "UPDATE tokens SET revoked_at = ?2 WHERE hash = ?1 AND revoked_at IS NULL",
        params![token_hash(token), now_secs()],
    )?;
    Ok(changed > 0)
}

/// The user a valid (known, unrevoked) token belongs to.
pub fn user_for_token(conn: &Connection, token: &Token) -> Result<Option<User>, ServerError> {
    Ok(conn
        .query_row(
            "SELECT users.id, users.name FROM tokens JOIN users ON users.id = tokens.user_id
             WHERE tokens.hash = ?1 AND tokens.revoked_at IS NULL",
            [token_hash(token)],
            |r| {
                Ok(User {
                    id: r.get(0)?,
                    name: r.get(1)?,
                })
            },
        )
        .optional()?)
}

/// Limits failed sign-ins per user name and address: after [`LoginLimiter::MAX_FAILURES`]
/// failures within [`LoginLimiter::WINDOW`], further attempts are refused until the
/// oldest failure leaves the window.
#[derive(Debug, Default)]
pub struct LoginLimiter {
    failures: Mutex<HashMap<(String, IpAddr), Vec<Instant>>>,
}

impl LoginLimiter {
    /// Failures allowed within the window.
    pub const MAX_FAILURES: usize = 5;
    /// The window.
    pub const WINDOW: Duration = Duration::from_secs(60);

    /// Refuses the attempt if this user and address failed too often lately.
    pub fn check(&self, user: &str, addr: IpAddr) -> Result<(), ServerError> {
        let now = Instant::now();
        let mut failures = self
            .failures
            .lock()
            .map_err(|_| ServerError::Internal("limiter lock".into()))?;
        let Some(times) = failures.get_mut(&(user.to_owned(), addr)) else {
            return Ok(());
        };
        times.retain(|t| now.duration_since(*t) < Self::WINDOW);
        if times.len() < Self::MAX_FAILURES {
            return Ok(());
        }
        let wait = Self::WINDOW.saturating_sub(now.duration_since(times[0]));
        Err(ServerError::RateLimited {
            retry_after: wait.as_secs().max(1),
        })
    }

    /// Records a failed attempt.
    pub fn failed(&self, user: &str, addr: IpAddr) {
        if let Ok(mut failures) = self.failures.lock() {
            // Forget stale entries now and then so guessing many names cannot grow the map.
            if failures.len() > 10_000 {
                let now = Instant::now();
                failures
                    .retain(|_, times| times.iter().any(|t| now.duration_since(*t) < Self::WINDOW));
            }
            failures
                .entry((user.to_owned(), addr))
                .or_default()
                .push(Instant::now());
        }
    }

    /// Forgets the failures of a user and address after a successful sign-in.
    pub fn succeeded(&self, user: &str, addr: IpAddr) {
        if let Ok(mut failures) = self.failures.lock() {
            failures.remove(&(user.to_owned(), addr));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::Db;

    #[test]
    fn passwords_and_tokens_work_and_are_stored_hashed() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(&dir.path().join("server.db")).unwrap();
        db.call_blocking(|c| {
            let ann = add_user(c, "ann", "correct horse")?;
            assert!(matches!(
                add_user(c, "ann", "x"),
                Err(ServerError::Conflict(_))
            ));
            assert!(matches!(
                check_password(c, "ann", "wrong"),
                Err(ServerError::WrongPassword)
            ));
            assert!(matches!(
                check_password(c, "bob", "x"),
                Err(ServerError::WrongPassword)
            ));
            assert_eq!(check_password(c, "ann", "correct horse")?, ann);
            let token = issue_token(c, &ann, "laptop")?;
            assert_eq!(user_for_token(c, &token)?, Some(ann.clone()));
            let stored: String = c.query_row("SELECT hash FROM tokens", [], |r| r.get(0))?;
            assert!(
                !stored.contains(token.expose()),
                "the token itself is never stored"
            );
            let hash: String = c.query_row("SELECT password_hash FROM users", [], |r| r.get(0))?;
            assert!(hash.starts_with("$argon2"), "{hash}");
            assert!(revoke_token(c, &token)?);
            assert!(!revoke_token(c, &token)?);
            assert_eq!(
                user_for_token(c, &token)?,
                None,
                "a revoked token signs nobody in"
            );
            Ok(())
        })
        .unwrap();
    }

    #[test]
    fn tokens_never_show_in_debug_or_display() {
        let token = generate_token();
        assert!(!format!("{token:?} {token}").contains(token.expose()));
    }

    #[test]
    fn user_names_must_be_safe_folder_names() {
        for ok in ["ann", "a.b-c_d", "X9"] {
            validate_user_name(ok).unwrap();
        }
        for bad in ["", ".ann", "a/b", "..", "a b", "é", &"a".repeat(65)] {
            assert!(validate_user_name(bad).is_err(), "{bad:?}");
        }
    }

    #[tokio::test(start_paused = true)]
    async fn sign_in_failures_are_limited_per_user_and_address() {
        let limiter = LoginLimiter::default();
        let addr: IpAddr = "127.0.0.1".parse().unwrap();
        for _ in 0..LoginLimiter::MAX_FAILURES {
            limiter.check("ann", addr).unwrap();
            limiter.failed("ann", addr);
        }
        assert!(matches!(
            limiter.check("ann", addr),
            Err(ServerError::RateLimited { .. })
        ));
        limiter.check("bob", addr).unwrap();
        limiter.check("ann", "127.0.0.2".parse().unwrap()).unwrap();
        tokio::time::advance(LoginLimiter::WINDOW).await;
        limiter.check("ann", addr).unwrap();
    }
}
