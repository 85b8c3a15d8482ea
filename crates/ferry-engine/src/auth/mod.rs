//! Sign-in: asking a ferry-server for a token, and keeping tokens in the OS keyring.
//!
//! # Layout
//! - [`sign_in`]: [`login`] and [`logout`] over HTTP, and the client they use.
//! - [`credentials`]: [`Credentials`], the OS keyring and the `FERRY_TOKEN` override.
//!
//! - [`login`] and [`logout`] talk to a ferry-server's `/api/v1/login` and `/api/v1/logout`
//!   (DESIGN 4.1). Any other server takes a pasted token, or none.
//! - [`Credentials`] keeps tokens in the OS keyring (Secret Service on Linux, Keychain on macOS,
//!   Credential Manager on Windows) under service `ferry`, account `USER@SERVER`, and lets the
//!   `FERRY_TOKEN` environment variable override it for scripts and headless machines.
//!
//! Secrets stay secret: passwords come in as `&str` and go only into the login request body;
//! tokens travel as [`Token`], which never shows itself and cannot be serialised; neither is
//! ever logged. When no keyring is reachable the error says so and names the way out
//! (`FERRY_TOKEN`): there is no fallback to a plain file.
//!
//! The keyring calls block (on Linux they are D-Bus round trips): async callers run them in
//! `tokio::task::spawn_blocking`.
//!
//! This module knows nothing of terminals, prompts or where the password comes from.

mod credentials;
mod sign_in;

pub use self::credentials::{Credentials, keyring_account};
pub use self::sign_in::{Logout, login, logout, sign_in_client};

/// The keyring service every Ferry token is stored under.
pub const KEYRING_SERVICE: &str = "ferry";

/// The environment variable whose token overrides the keyring (empty means unset).
pub const TOKEN_ENV: &str = "FERRY_TOKEN";
