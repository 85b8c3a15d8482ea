//! Accounts and tokens: argon2 password hashes, bearer tokens kept only as sha256 hashes,
//! and the brake on password guessing ([`limiter`]). Knows nothing of HTTP.

use std::time::SystemTime;

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, SaltString};
use ferry_proto::checksum::to_hex;
use rand::RngCore;
use rusqlite::{Connection, OptionalExtension, params};
use sha2::{Digest, Sha256};

use crate::error::ServerError;

mod limiter;
pub use limiter::{LoginLimiter, Reservation};

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
pub(crate) fn token_hash(token: &Token) -> String {
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

/// The longest user name a sign-in may send, in bytes; longer ones are refused (400) before
/// anything is looked up or remembered. Generous: names that can exist are at most 64.
pub const MAX_SIGN_IN_NAME_BYTES: usize = 256;
/// The longest password a sign-in may send, in bytes.
pub const MAX_PASSWORD_BYTES: usize = 4096;

/// User `name` and their stored password hash, if the user exists. Read-only: run it on a
/// reader ([`crate::db::Db::read`]) and verify the hash off the database.
pub fn password_hash_of(
    conn: &Connection,
    name: &str,
) -> Result<Option<(User, String)>, ServerError> {
    Ok(conn
        .query_row(
            "SELECT id, password_hash FROM users WHERE name = ?1",
            [name],
            |r| {
                Ok((
                    User {
                        id: r.get(0)?,
                        name: name.to_owned(),
                    },
                    r.get(1)?,
                ))
            },
        )
        .optional()?)
}

/// A hash of no one's password, made with the same parameters as real ones: an unknown
/// user's sign-in is verified against it, so it costs what a known user's costs and its
/// timing does not tell whether the name exists.
fn dummy_hash() -> &'static str {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DUMMY.get_or_init(|| {
        let mut salt = [0u8; 16];
        rand::rng().fill_bytes(&mut salt);
        SaltString::encode_b64(&salt)
            .ok()
            .and_then(|salt| {
                let mut secret = [0u8; 32];
                rand::rng().fill_bytes(&mut secret);
                Argon2::default()
                    .hash_password(&secret, &salt)
                    .ok()
                    .map(|h| h.to_string())
            })
            .unwrap_or_default()
    })
}

/// Whether `password` matches `stored` (a PHC argon2 hash); with `None` (no such user) the
/// same work is done against a dummy hash and the answer is false. Blocking and slow by
/// design: run it on a blocking thread, never under the database lock.
pub fn verify_password(stored: Option<&str>, password: &str) -> Result<bool, ServerError> {
    verify_with_memory(stored, password, &mut Vec::new())
}

/// [`verify_password`] with argon2's working memory (about 19 MiB) in `blocks`, kept by
/// the caller from one check to the next: the allocator does not always give such blocks
/// back, and a sign-in flood must not grow the server by 19 MiB per guess.
fn verify_with_memory(
    stored: Option<&str>,
    password: &str,
    blocks: &mut Vec<argon2::Block>,
) -> Result<bool, ServerError> {
    let bad =
        |e: &dyn std::fmt::Display| ServerError::Internal(format!("stored password hash: {e}"));
    let parsed = PasswordHash::new(stored.unwrap_or_else(|| dummy_hash())).map_err(|e| bad(&e))?;
    let algorithm = argon2::Algorithm::try_from(parsed.algorithm).map_err(|e| bad(&e))?;
    let version = match parsed.version {
        Some(v) => argon2::Version::try_from(v).map_err(|e| bad(&e))?,
        None => argon2::Version::default(),
    };
    let params = argon2::Params::try_from(&parsed).map_err(|e| bad(&e))?;
    let (Some(salt), Some(expected)) = (parsed.salt, parsed.hash) else {
        return Err(bad(&"no salt or no hash"));
    };
    let mut salt_bytes = [0u8; 64];
    let salt = salt.decode_b64(&mut salt_bytes).map_err(|e| bad(&e))?;
    if blocks.len() != params.block_count() {
        blocks.resize(params.block_count(), argon2::Block::default());
    }
    let mut out = vec![0u8; expected.len()];
    Argon2::new(algorithm, version, params)
        .hash_password_into_with_memory(password.as_bytes(), salt, &mut out, &mut blocks[..])
        .map_err(|e| bad(&e))?;
    let computed = argon2::password_hash::Output::new(&out).map_err(|e| bad(&e))?;
    // Output's equality is constant-time.
    Ok(computed == expected && stored.is_some())
}

/// The user whose password this is, or [`ServerError::WrongPassword`] (for the command-line
/// tools and tests; the server reads the hash and verifies it apart, see `api::login`).
pub fn check_password(conn: &Connection, name: &str, password: &str) -> Result<User, ServerError> {
    let found = password_hash_of(conn, name)?;
    let stored = found.as_ref().map(|(_, hash)| hash.as_str());
    match (verify_password(stored, password)?, found) {
        (true, Some((user, _))) => Ok(user),
        _ => Err(ServerError::WrongPassword),
    }
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

/// How many hex digits of a token's hash name it in `token list` and `token revoke --id`.
pub const TOKEN_ID_LEN: usize = 16;

/// What an operator may see of a token: never its value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenInfo {
    /// The first [`TOKEN_ID_LEN`] hex digits of the token's sha256.
    pub id: String,
    /// The device it was issued for.
    pub device: String,
    /// When it was issued (unix seconds).
    pub created_at: i64,
    /// When it was revoked, if it was.
    pub revoked_at: Option<i64>,
}

/// The tokens of `user`, oldest first.
pub fn list_tokens(conn: &Connection, user: &User) -> Result<Vec<TokenInfo>, ServerError> {
    let mut stmt = conn.prepare(
        "SELECT substr(hash, 1, ?2), device, created_at, revoked_at FROM tokens
         WHERE user_id = ?1 ORDER BY created_at, rowid",
    )?;
    let rows = stmt
        .query_map(params![user.id, TOKEN_ID_LEN], |r| {
            Ok(TokenInfo {
                id: r.get(0)?,
                device: r.get(1)?,
                created_at: r.get(2)?,
                revoked_at: r.get(3)?,
            })
        })?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(rows)
}

/// Revokes the token named `id` (from [`list_tokens`]); false if none is valid by that id.
pub fn revoke_token_id(conn: &Connection, id: &str) -> Result<bool, ServerError> {
    if id.len() != TOKEN_ID_LEN || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(ServerError::BadRequest(format!(
            "a token id is {TOKEN_ID_LEN} hex digits, as `token list` shows"
        )));
    }
    let changed = conn.execute(
        "UPDATE tokens SET revoked_at = ?2 WHERE substr(hash, 1, ?3) = ?1 AND revoked_at IS NULL",
        params![id.to_ascii_lowercase(), now_secs(), TOKEN_ID_LEN],
    )?;
    Ok(changed > 0)
}

/// Revokes every valid token of `user`; returns how many.
pub fn revoke_all_tokens(conn: &Connection, user: &User) -> Result<usize, ServerError> {
    Ok(conn.execute(
        "UPDATE tokens SET revoked_at = ?2 WHERE user_id = ?1 AND revoked_at IS NULL",
        params![user.id, now_secs()],
    )?)
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

    #[test]
    fn unknown_users_are_verified_against_a_dummy_hash() {
        assert!(!verify_password(None, "anything").unwrap());
        assert!(dummy_hash().starts_with("$argon2"));
    }
}
