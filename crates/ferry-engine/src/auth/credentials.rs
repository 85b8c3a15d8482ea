//! Tokens in the OS keyring (Secret Service, Keychain, Credential Manager) under service
//! [`KEYRING_SERVICE`], account `USER@SERVER`, with `FERRY_TOKEN` winning over it; keyring
//! failures turned into messages that name the way out. Knows nothing of HTTP or servers
//! beyond their URL as a name.

use keyring::Entry;

use super::{KEYRING_SERVICE, TOKEN_ENV};
use crate::error::EngineError;
use crate::secret::Token;

/// The keyring account of `user` at `server`: `USER@SERVER`, with the server URL exactly as
/// the user gave it, or `@SERVER` when there is no user (a pasted token).
pub fn keyring_account(server: &str, user: &str) -> String {
    format!("{user}@{server}")
}

/// Where tokens are found: `FERRY_TOKEN` if set, else the OS keyring.
#[derive(Debug, Clone, Default)]
pub struct Credentials {
    /// The token of `FERRY_TOKEN`, which wins over the keyring for every server.
    env_token: Option<Token>,
}

impl Credentials {
    /// Credentials as this process's environment says: `FERRY_TOKEN` overrides the keyring
    /// when it is set and not empty.
    pub fn from_env() -> Self {
        Self::with_env_token(std::env::var(TOKEN_ENV).ok().as_deref())
    }

    /// Credentials as if `FERRY_TOKEN` were `env_token` (`None` or empty: unset, so the
    /// keyring is used). For tests and for callers that read their settings elsewhere.
    pub fn with_env_token(env_token: Option<&str>) -> Self {
        Self {
            env_token: env_token.map(Token::new).filter(|t| !t.is_empty()),
        }
    }

    /// Whether `FERRY_TOKEN` overrides the keyring.
    pub fn overridden(&self) -> bool {
        self.env_token.is_some()
    }

    /// The token for `user` at `server`: `FERRY_TOKEN` when set, else the keyring's; `None`
    /// when there is none (not signed in). `user` may be empty (a pasted token).
    pub fn token(&self, server: &str, user: &str) -> Result<Option<Token>, EngineError> {
        if let Some(token) = &self.env_token {
            return Ok(Some(token.clone()));
        }
        let account = keyring_account(server, user);
        read(&entry(&account)?, &account)
    }

    /// Puts `token` into the keyring for `user` at `server`, replacing any earlier one.
    /// (`FERRY_TOKEN` does not matter here: it overrides reading, not storing.)
    pub fn store(&self, server: &str, user: &str, token: &Token) -> Result<(), EngineError> {
        let account = keyring_account(server, user);
        write(&entry(&account)?, &account, token)
    }

    /// Removes the keyring's token for `user` at `server`; `false` if there was none.
    pub fn delete(&self, server: &str, user: &str) -> Result<bool, EngineError> {
        let account = keyring_account(server, user);
        remove(&entry(&account)?, &account)
    }
}

fn entry(account: &str) -> Result<Entry, EngineError> {
    Entry::new(KEYRING_SERVICE, account).map_err(|e| keyring_error(e, "open", account))
}

fn read(entry: &Entry, account: &str) -> Result<Option<Token>, EngineError> {
    match entry.get_password() {
        Ok(secret) => Ok(Some(Token::new(secret)).filter(|t| !t.is_empty())),
        Err(keyring::Error::NoEntry) => Ok(None),
        Err(e) => Err(keyring_error(e, "read", account)),
    }
}

fn write(entry: &Entry, account: &str, token: &Token) -> Result<(), EngineError> {
    if token.is_empty() {
        return Err(EngineError::Keyring(format!(
            "refusing to store an empty token for {account} in the keyring"
        )));
    }
    entry
        .set_password(token.expose())
        .map_err(|e| keyring_error(e, "store", account))?;
    tracing::debug!(account, "token stored in the keyring");
    Ok(())
}

fn remove(entry: &Entry, account: &str) -> Result<bool, EngineError> {
    match entry.delete_credential() {
        Ok(()) => {
            tracing::debug!(account, "token deleted from the keyring");
            Ok(true)
        }
        Err(keyring::Error::NoEntry) => Ok(false),
        Err(e) => Err(keyring_error(e, "delete", account)),
    }
}

/// What a person needs to hear when the keyring failed: what, and what to do about it.
/// (`action`: open, read, store or delete.) Never shows secret bytes.
fn keyring_error(err: keyring::Error, action: &str, account: &str) -> EngineError {
    const WAY_OUT: &str = "A desktop session normally provides one (GNOME Keyring, KWallet); \
        scripts and headless machines can set FERRY_TOKEN to the token instead. \
        Ferry never keeps tokens in plain files.";
    let what = format!("cannot {action} the token for {account} in the OS keyring");
    EngineError::Keyring(match err {
        keyring::Error::PlatformFailure(detail) => {
            format!("{what}: no keyring is reachable ({detail}). {WAY_OUT}")
        }
        keyring::Error::NoStorageAccess(detail) => format!(
            "{what}: no usable keyring is reachable; it refused access, perhaps because it is locked ({detail}). {WAY_OUT}"
        ),
        keyring::Error::NoEntry => format!("{what}: there is no such entry"),
        // The bytes may be (part of) a secret: never show them.
        keyring::Error::BadEncoding(_) => format!(
            "{what}: the entry does not hold text; remove it with `ferry logout` and sign in again"
        ),
        keyring::Error::TooLong(attribute, limit) => {
            format!("{what}: its {attribute} is longer than the keyring allows ({limit})")
        }
        keyring::Error::Invalid(attribute, reason) => {
            format!("{what}: its {attribute} is invalid: {reason}")
        }
        keyring::Error::Ambiguous(found) => format!(
            "{what}: {} entries match it; remove the extra ones with your keyring manager (for example Seahorse)",
            found.len()
        ),
        other => format!("{what}: {other}"),
    })
}

#[cfg(test)]
mod tests {
    //! The keyring is swapped for an in-memory store shared by all entries (the keyring
    //! crate's own mock keeps each secret in its entry only, so a token stored through one
    //! entry could not be read through the next); errors are injected with its
    //! `MockCredential`.

    use std::any::Any;
    use std::collections::BTreeMap;
    use std::sync::{Mutex, Once};

    use keyring::credential::{Credential, CredentialApi, CredentialBuilderApi};
    use keyring::mock::MockCredential;

    use super::*;

    /// (service, account) -> secret, for every entry the tests make.
    static STORE: Mutex<BTreeMap<(String, String), Vec<u8>>> = Mutex::new(BTreeMap::new());

    #[derive(Debug)]
    struct MemoryCredential {
        key: (String, String),
    }

    impl CredentialApi for MemoryCredential {
        fn set_secret(&self, secret: &[u8]) -> keyring::Result<()> {
            STORE
                .lock()
                .unwrap()
                .insert(self.key.clone(), secret.to_vec());
            Ok(())
        }

        fn get_secret(&self) -> keyring::Result<Vec<u8>> {
            STORE
                .lock()
                .unwrap()
                .get(&self.key)
                .cloned()
                .ok_or(keyring::Error::NoEntry)
        }

        fn delete_credential(&self) -> keyring::Result<()> {
            STORE
                .lock()
                .unwrap()
                .remove(&self.key)
                .map(drop)
                .ok_or(keyring::Error::NoEntry)
        }

        fn as_any(&self) -> &dyn Any {
            self
        }
    }

    struct MemoryBuilder;

    impl CredentialBuilderApi for MemoryBuilder {
        fn build(
            &self,
            _target: Option<&str>,
            service: &str,
            user: &str,
        ) -> keyring::Result<Box<Credential>> {
            Ok(Box::new(MemoryCredential {
                key: (service.to_owned(), user.to_owned()),
            }))
        }

        fn as_any(&self) -> &dyn Any {
            self
        }
    }

    fn memory_keyring() {
        static SET: Once = Once::new();
        SET.call_once(|| keyring::set_default_credential_builder(Box::new(MemoryBuilder)));
    }

    fn stored(account: &str) -> Option<Vec<u8>> {
        STORE
            .lock()
            .unwrap()
            .get(&(KEYRING_SERVICE.to_owned(), account.to_owned()))
            .cloned()
    }

    /// A mock entry whose next call fails with `err`.
    fn failing_entry(err: keyring::Error) -> Entry {
        let entry = Entry::new_with_credential(Box::new(MockCredential::default()));
        let mock: &MockCredential = entry.get_credential().downcast_ref().unwrap();
        mock.set_error(err);
        entry
    }

    fn keyring_message(result: Result<impl std::fmt::Debug, EngineError>) -> String {
        match result {
            Err(EngineError::Keyring(message)) => message,
            other => panic!("expected EngineError::Keyring, got {other:?}"),
        }
    }

    #[test]
    fn store_get_delete_round_trip_under_service_ferry_and_account_user_at_server() {
        memory_keyring();
        let credentials = Credentials::with_env_token(None);
        let server = "https://files.example/round-trip/";
        let token = Token::new("fry_round_trip_secret");

        assert_eq!(credentials.token(server, "ann").unwrap(), None);
        credentials.store(server, "ann", &token).unwrap();
        assert_eq!(
            stored("ann@https://files.example/round-trip/").as_deref(),
            Some(&b"fry_round_trip_secret"[..]),
            "service `ferry`, account USER@SERVER with the URL as given"
        );
        assert_eq!(credentials.token(server, "ann").unwrap(), Some(token));
        assert_eq!(
            credentials.token(server, "bob").unwrap(),
            None,
            "another user's entry is another entry"
        );

        let newer = Token::new("fry_newer_secret");
        credentials.store(server, "ann", &newer).unwrap();
        assert_eq!(credentials.token(server, "ann").unwrap(), Some(newer));

        assert!(credentials.delete(server, "ann").unwrap());
        assert_eq!(credentials.token(server, "ann").unwrap(), None);
        assert!(
            !credentials.delete(server, "ann").unwrap(),
            "deleting what is not there is no error"
        );
    }

    #[test]
    fn a_pasted_token_without_user_is_stored_as_at_server() {
        memory_keyring();
        let credentials = Credentials::with_env_token(None);
        let server = "http://127.0.0.1:1080/files/";
        credentials
            .store(server, "", &Token::new("pasted"))
            .unwrap();
        assert_eq!(
            stored("@http://127.0.0.1:1080/files/").as_deref(),
            Some(&b"pasted"[..])
        );
        assert!(credentials.delete(server, "").unwrap());
    }

    #[test]
    fn ferry_token_overrides_the_keyring_and_empty_means_unset() {
        memory_keyring();
        let server = "https://override.example/";
        Credentials::with_env_token(None)
            .store(server, "ann", &Token::new("from-keyring"))
            .unwrap();

        let overridden = Credentials::with_env_token(Some(" from-env\n"));
        assert!(overridden.overridden());
        assert_eq!(
            overridden.token(server, "ann").unwrap(),
            Some(Token::new("from-env"))
        );
        assert_eq!(
            overridden.token("https://elsewhere.example/", "").unwrap(),
            Some(Token::new("from-env")),
            "FERRY_TOKEN is for whatever server the command names"
        );

        for unset in [None, Some(""), Some("  \n")] {
            let credentials = Credentials::with_env_token(unset);
            assert!(!credentials.overridden(), "{unset:?}");
            assert_eq!(
                credentials.token(server, "ann").unwrap(),
                Some(Token::new("from-keyring")),
                "{unset:?} leaves the keyring in charge"
            );
        }
        Credentials::with_env_token(None)
            .delete(server, "ann")
            .unwrap();
    }

    #[test]
    fn an_empty_token_is_not_stored() {
        memory_keyring();
        let message = keyring_message(Credentials::with_env_token(None).store(
            "https://empty.example/",
            "ann",
            &Token::new(" "),
        ));
        assert!(message.contains("empty token"), "{message}");
        assert_eq!(stored("ann@https://empty.example/"), None);
    }

    #[test]
    fn no_reachable_keyring_says_so_and_names_ferry_token() {
        let account = "ann@https://x.example/";
        let dbus = || {
            keyring::Error::PlatformFailure(
                "D-Bus error: Unable to autolaunch a dbus-daemon without a $DISPLAY for X11".into(),
            )
        };
        for (what, message) in [
            (
                "read",
                keyring_message(read(&failing_entry(dbus()), account)),
            ),
            (
                "store",
                keyring_message(write(&failing_entry(dbus()), account, &Token::new("t"))),
            ),
            (
                "delete",
                keyring_message(remove(&failing_entry(dbus()), account)),
            ),
            (
                "locked",
                keyring_message(read(
                    &failing_entry(keyring::Error::NoStorageAccess("locked".into())),
                    account,
                )),
            ),
        ] {
            for needed in [
                "no",
                "keyring is reachable",
                "GNOME Keyring",
                "KWallet",
                "FERRY_TOKEN",
                account,
            ] {
                assert!(message.contains(needed), "{what}: {needed:?} in {message}");
            }
        }
    }

    #[test]
    fn a_missing_entry_is_none_not_an_error() {
        assert_eq!(
            read(&failing_entry(keyring::Error::NoEntry), "a@b").unwrap(),
            None
        );
        assert!(!remove(&failing_entry(keyring::Error::NoEntry), "a@b").unwrap());
    }

    #[test]
    fn other_keyring_errors_are_keyring_errors_that_never_show_the_stored_bytes() {
        let message = keyring_message(read(
            &failing_entry(keyring::Error::BadEncoding(b"secret\xff".to_vec())),
            "a@b",
        ));
        assert!(!message.contains("secret"), "{message}");
        assert!(message.contains("ferry logout"), "{message}");

        let message = keyring_message(write(
            &failing_entry(keyring::Error::TooLong("user".into(), 255)),
            "a@b",
            &Token::new("t"),
        ));
        assert!(message.contains("255"), "{message}");
    }
}
