//! Accounts: signing in (a password exchanged for a token, or a pasted token) and out (the
//! token revoked on the server and removed from the keyring), and the list of accounts with
//! whether each is signed in. The journal keeps the account (server and user), the keyring
//! the token; nothing else ever sees it.
//!
//! The keyring calls block (D-Bus round trips), so they run on tokio's blocking pool.

use serde::Serialize;

use crate::Token;
use crate::auth::{self, Credentials, Logout};
use crate::target::Target;
use crate::tls::{self, Fingerprint};

use super::{Service, ServiceError};

/// An account as the window shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AccountView {
    /// The server URL.
    pub server: String,
    /// The user name; empty for a pasted token or a server without accounts.
    pub user: String,
    /// Whether Ferry has what it needs to upload there: a token (keyring or `FERRY_TOKEN`),
    /// or nothing to need (no user: a server without accounts).
    pub signed_in: bool,
}

/// How to sign in. Not `Debug`: it may hold the password.
pub enum Secret<'a> {
    /// A user name's password, exchanged for a token at a ferry-server.
    Password(&'a str),
    /// A token made elsewhere (`ferry-server token issue`, another client).
    Token(Token),
    /// Nothing: a server without accounts (a tus or GalileoSend endpoint).
    Nothing,
}

/// What signing out did about the token on the server (it is deleted here in every case).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Revocation {
    /// The keyring held no token for the account: nothing to revoke.
    NoToken,
    /// The server answered: it revoked the token, or had nothing to revoke
    /// ([`Logout::note`] says why).
    Answered(Logout),
    /// The server could not be reached or failed: the token may still be valid there.
    Failed(String),
}

async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, crate::EngineError> + Send + 'static,
) -> Result<T, ServiceError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| {
            ServiceError::Engine(crate::EngineError::Keyring(format!(
                "the keyring call did not finish: {e}"
            )))
        })?
        .map_err(ServiceError::from)
}

impl Service {
    /// Signs in to `server` as `user` with `secret`, keeps the token in the keyring and the
    /// account in the journal. `device` names this machine in the server's list of tokens
    /// ([`super::device_name`]).
    ///
    /// Errors: the engine's (wrong password, unreachable, not a ferry-server, no keyring), or
    /// invalid input (no server, a password without a user, nothing for a server that needs
    /// a sign-in).
    pub async fn sign_in(
        &self,
        server: &str,
        user: &str,
        secret: Secret<'_>,
        device: &str,
    ) -> Result<AccountView, ServiceError> {
        self.sign_in_trusting(server, user, secret, device, None)
            .await
    }

    /// [`Service::sign_in`], trusting the server's certificate when its SHA-256 fingerprint
    /// is `trusted` (a self-signed server the person decided to trust, having seen the
    /// fingerprint: [`Service::check_certificate`]); the fingerprint is remembered for the
    /// server's address and every later connection there accepts exactly that certificate
    /// (or one the platform trusts). Before anything is sent, the certificate is checked:
    /// one that is not trusted is an [`crate::EngineError::Certificate`] naming it.
    pub async fn sign_in_trusting(
        &self,
        server: &str,
        user: &str,
        secret: Secret<'_>,
        device: &str,
        trusted: Option<Fingerprint>,
    ) -> Result<AccountView, ServiceError> {
        let server = server.trim().to_owned();
        let user = user.trim().to_owned();
        if server.is_empty() {
            return Err(ServiceError::invalid(
                "server",
                "Enter the server's address.",
            ));
        }
        let url = super::trust::parse_server(&server)?;
        let trust = self.trust_with(&url, trusted).await?;
        let presented = match tls::check(&trust, &url, super::trust::CHECK_TIMEOUT).await {
            Ok(presented) => presented,
            // A pasted token needs no connection: an unreachable server is not a reason to
            // refuse it (an untrusted certificate is, and so is a fingerprint to check).
            Err(err)
                if matches!(secret, Secret::Token(_))
                    && trusted.is_none()
                    && !err.is_certificate() =>
            {
                tracing::warn!(%err, "the server's certificate could not be checked");
                None
            }
            Err(err) => return Err(err.into()),
        };
        let token = match secret {
            Secret::Password(password) => {
                if user.is_empty() {
                    return Err(ServiceError::invalid("user", "Enter your user name."));
                }
                if password.is_empty() {
                    return Err(ServiceError::invalid("password", "Enter your password."));
                }
                let http = auth::sign_in_client(&trust);
                Some(auth::login(&http, &server, &user, password, device).await?)
            }
            Secret::Token(token) if token.is_empty() => {
                return Err(ServiceError::invalid("token", "Paste the token."));
            }
            Secret::Token(token) => Some(token),
            Secret::Nothing => {
                let http = auth::sign_in_client(&trust);
                if Target::discover(&http, &server, None).await?.ferry_server {
                    return Err(ServiceError::invalid(
                        "password",
                        "This server needs a user name and password, or a token.",
                    ));
                }
                if !user.is_empty() {
                    return Err(ServiceError::invalid(
                        "password",
                        "Enter the password for this user, or leave the user name empty.",
                    ));
                }
                None
            }
        };
        if let Some(token) = token {
            let (store, at, who) = (self.credentials.clone(), server.clone(), user.clone());
            blocking(move || store.store(&at, &who, &token)).await?;
        }
        let (at, who) = (server.clone(), user.clone());
        self.journal(move |j| Ok(j.account(&at, &who)?)).await?;
        if let (Some(trusted), Some(presented)) = (trusted, presented)
            && presented.fingerprint == trusted
        {
            self.remember_trusted(&url, &presented).await?;
        }
        Ok(AccountView {
            server,
            user,
            signed_in: true,
        })
    }

    /// Signs `user` out of `server`: revokes the keyring's token there (a server that cannot
    /// be reached does not stop the sign-out; the token is still removed here) and deletes it
    /// from the keyring; says what happened on the server. The account stays in the journal
    /// (its folders and history refer to it). `FERRY_TOKEN` is the caller's and is left
    /// alone. Errors: not found (no such account), the keyring's.
    pub async fn sign_out(&self, server: &str, user: &str) -> Result<Revocation, ServiceError> {
        if !self.users_at(server).await?.iter().any(|u| u == user) {
            return Err(ServiceError::NotFound(format!(
                "Ferry has no account {} at {server}.",
                if user.is_empty() {
                    "without a user name"
                } else {
                    user
                }
            )));
        }
        let keyring = Credentials::with_env_token(None);
        let (lookup, at, who) = (keyring.clone(), server.to_owned(), user.to_owned());
        let trust = self.trust().await?;
        let revocation = match blocking(move || lookup.token(&at, &who)).await? {
            None => Revocation::NoToken,
            Some(token) => {
                match auth::logout(&auth::sign_in_client(&trust), server, &token).await {
                    Ok(done) => {
                        tracing::info!(revoked = done.revoked, "signed out");
                        Revocation::Answered(done)
                    }
                    Err(err) => {
                        tracing::warn!(%err, "could not revoke the token on the server; deleting it here anyway");
                        Revocation::Failed(err.to_string())
                    }
                }
            }
        };
        let (at, who) = (server.to_owned(), user.to_owned());
        blocking(move || keyring.delete(&at, &who)).await?;
        Ok(revocation)
    }

    /// Every account in the journal, oldest first, with whether it is signed in.
    pub async fn accounts(&self) -> Result<Vec<AccountView>, ServiceError> {
        let accounts = self.journal(|j| Ok(j.accounts()?)).await?;
        let credentials = self.credentials.clone();
        blocking(move || {
            accounts
                .into_iter()
                .map(|a| {
                    let signed_in =
                        a.user.is_empty() || credentials.token(&a.server_url, &a.user)?.is_some();
                    Ok(AccountView {
                        server: a.server_url,
                        user: a.user,
                        signed_in,
                    })
                })
                .collect()
        })
        .await
    }

    /// The user names of the accounts known at `server` (exactly as given), oldest first;
    /// empty when none is (the journal only: no keyring asked).
    pub async fn users_at(&self, server: &str) -> Result<Vec<String>, ServiceError> {
        let server = server.to_owned();
        self.journal(move |j| {
            Ok(j.accounts()?
                .into_iter()
                .filter(|a| a.server_url == server)
                .map(|a| a.user)
                .collect())
        })
        .await
    }
}
