//! Signing in and out of a ferry-server over HTTP (`POST /api/v1/login`, `/api/v1/logout`,
//! DESIGN 4.1): a password goes only into the login request's body, to the address the user
//! named (no redirects). Knows nothing of the keyring or where the password comes from.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use url::Url;

use crate::error::EngineError;
use crate::secret::Token;
use crate::transport::capped_body;

/// The most bytes of a sign-in or sign-out answer read (a real one is a few hundred).
const ANSWER_MAX: usize = 64 * 1024;

/// How long a sign-in or sign-out request may take before Ferry gives up on the server.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// The request body of `POST /api/v1/login`. Not `Debug`: it holds the password.
#[derive(Serialize)]
struct LoginRequest<'a> {
    username: &'a str,
    password: &'a str,
    device: &'a str,
}

/// The answer of `POST /api/v1/login`. Not `Debug`: it holds the token.
#[derive(Deserialize)]
struct Issued {
    token: String,
}

/// A ferry-server's error body, `{error, code}`.
#[derive(Deserialize)]
struct ServerError {
    error: String,
    code: String,
}

/// The URL of a ferry-server API `path` on the host of `server`.
fn api_url(server: &str, path: &str) -> Result<Url, EngineError> {
    let bad_url = |reason: String| EngineError::BadUrl {
        url: server.to_owned(),
        reason,
    };
    let base = Url::parse(server).map_err(|e| bad_url(e.to_string()))?;
    match base.scheme() {
        "http" | "https" => base.join(path).map_err(|e| bad_url(e.to_string())),
        "ws" | "wss" => Err(EngineError::NotFerryServer {
            server: server.to_owned(),
            reason: "a ws:// URL is a GalileoSend endpoint, which has no sign-in".to_owned(),
        }),
        other => Err(bad_url(format!(
            "the scheme {other:?} is not http, https, ws or wss"
        ))),
    }
}

fn network(server: &str, err: &reqwest::Error) -> EngineError {
    EngineError::network(server, err)
}

fn server_failed(server: &str, status: reqwest::StatusCode) -> EngineError {
    EngineError::unreachable(
        server,
        crate::error::NetworkFailure::Status(status.as_u16()),
        format!("the server failed ({status}); try again later"),
    )
}

/// An HTTP client for signing in and out: it follows no redirects, so a password is never
/// sent on to another address than the one the user named.
///
/// # Panics
/// If the TLS backend cannot start, which only a broken build can cause.
pub fn sign_in_client(trust: &crate::tls::Trust) -> reqwest::Client {
    crate::transport::dns::client_builder(trust)
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(REQUEST_TIMEOUT)
        .build()
        .expect("the HTTP client builds with rustls")
}

/// Signs `user` in at the ferry-server `server` with `password`, naming this `device` (the
/// server lists tokens by device), and returns the new token. The caller stores it
/// ([`Credentials::store`]).
///
/// Errors: [`EngineError::WrongPassword`], [`EngineError::TooManyAttempts`] (with the
/// server's `Retry-After`), [`EngineError::NotFerryServer`] (the server cannot sign in with a
/// password: paste a token instead), [`EngineError::Network`].
#[tracing::instrument(skip_all, fields(server = %server, user = %user, device = %device), err)]
pub async fn login(
    http: &reqwest::Client,
    server: &str,
    user: &str,
    password: &str,
    device: &str,
) -> Result<Token, EngineError> {
    let url = api_url(server, "/api/v1/login")?;
    let reply = http
        .post(url)
        .timeout(REQUEST_TIMEOUT)
        .json(&LoginRequest {
            username: user,
            password,
            device,
        })
        .send()
        .await
        .map_err(|e| network(server, &e))?;
    let status = reply.status();
    let not_ferry = |reason: String| EngineError::NotFerryServer {
        server: server.to_owned(),
        reason,
    };
    if status.is_success() {
        let body = capped_body(reply, ANSWER_MAX)
            .await
            .map_err(|e| e.into_engine(server))?;
        // The parse error is not shown: it may quote the body, and the body is the token.
        let token = serde_json::from_slice::<Issued>(&body)
            .ok()
            .map(|issued| Token::new(issued.token))
            .filter(|token| !token.is_empty())
            .ok_or_else(|| {
                not_ferry(format!(
                    "it answered {status} to POST /api/v1/login without a token"
                ))
            })?;
        tracing::info!("signed in");
        return Ok(token);
    }
    match status {
        reqwest::StatusCode::UNAUTHORIZED => {
            // Only a ferry-server's own refusal means the password was wrong; a 401 without
            // its `{error, code}` comes from something else in front of or instead of one.
            let body = capped_body(reply, ANSWER_MAX)
                .await
                .map_err(|e| e.into_engine(server))?;
            match serde_json::from_slice::<ServerError>(&body) {
                Ok(refusal) => {
                    tracing::debug!(code = %refusal.code, error = %refusal.error, "sign-in refused");
                    Err(EngineError::WrongPassword {
                        server: server.to_owned(),
                        user: user.to_owned(),
                    })
                }
                Err(_) => Err(not_ferry(format!(
                    "it answered {status} to POST /api/v1/login, without a ferry-server's error"
                ))),
            }
        }
        reqwest::StatusCode::TOO_MANY_REQUESTS => Err(EngineError::TooManyAttempts {
            server: server.to_owned(),
            retry_after: reply
                .headers()
                .get(reqwest::header::RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse().ok()),
        }),
        s if s.is_server_error() => Err(server_failed(server, s)),
        s => Err(not_ferry(format!("it answered {s} to POST /api/v1/login"))),
    }
}

/// How a sign-out went on the server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Logout {
    /// Whether the server revoked the token.
    pub revoked: bool,
    /// Why not, for the user, when it did not: the server did not know the token, or is not
    /// a ferry-server. Neither stops the token from being deleted locally.
    pub note: Option<String>,
}

/// Revokes `token` at the ferry-server `server`. A server that does not know the token
/// (revoked or expired already) or is not a ferry-server is not an error: nothing is left to
/// revoke there, and [`Logout::note`] says so. An error ([`EngineError::Network`]) means the
/// token may still be valid on the server; the caller decides whether to delete it locally
/// anyway, and tells the user.
#[tracing::instrument(skip_all, fields(server = %server), err)]
pub async fn logout(
    http: &reqwest::Client,
    server: &str,
    token: &Token,
) -> Result<Logout, EngineError> {
    let nothing_to_revoke = |note: String| {
        tracing::info!(%note, "nothing revoked on the server");
        Ok(Logout {
            revoked: false,
            note: Some(note),
        })
    };
    let url = match api_url(server, "/api/v1/logout") {
        Ok(url) => url,
        Err(EngineError::NotFerryServer { reason, .. }) => {
            return nothing_to_revoke(format!(
                "{server} is not a ferry-server ({reason}), so there was nothing to revoke there"
            ));
        }
        Err(e) => return Err(e),
    };
    let reply = http
        .post(url)
        .timeout(REQUEST_TIMEOUT)
        .bearer_auth(token.expose())
        .send()
        .await
        .map_err(|e| network(server, &e))?;
    let status = reply.status();
    if status.is_success() {
        let body = capped_body(reply, ANSWER_MAX)
            .await
            .map_err(|e| e.into_engine(server))?;
        if serde_json::from_slice::<serde_json::Value>(&body).is_ok_and(|v| v.is_object()) {
            tracing::info!("token revoked");
            return Ok(Logout {
                revoked: true,
                note: None,
            });
        }
        return nothing_to_revoke(format!(
            "{server} is not a ferry-server (it answered POST /api/v1/logout with something else than JSON), so there was nothing to revoke there"
        ));
    }
    match status {
        reqwest::StatusCode::UNAUTHORIZED => nothing_to_revoke(format!(
            "{server} does not know this token (it was revoked or expired already)"
        )),
        s if s.is_server_error() => Err(server_failed(server, s)),
        s => nothing_to_revoke(format!(
            "{server} is not a ferry-server (it answered {s} to POST /api/v1/logout), so there was nothing to revoke there"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn login_and_logout_refuse_urls_they_cannot_use() {
        assert!(matches!(
            api_url("ws://127.0.0.1:3000/", "/api/v1/login"),
            Err(EngineError::NotFerryServer { .. })
        ));
        assert!(matches!(
            api_url("ftp://x/", "/api/v1/login"),
            Err(EngineError::BadUrl { .. })
        ));
        assert_eq!(
            api_url("https://h.example/some/path/", "/api/v1/login")
                .unwrap()
                .as_str(),
            "https://h.example/api/v1/login",
            "the API is at the host's root, as /api/v1/info"
        );
    }

    #[test]
    fn sign_in_errors_read_as_sentences() {
        let rate = EngineError::TooManyAttempts {
            server: "http://s".into(),
            retry_after: Some(42),
        };
        assert!(rate.to_string().contains("try again in 42 s"), "{rate}");
        let wrong = EngineError::WrongPassword {
            server: "http://s".into(),
            user: "ann".into(),
        };
        assert!(
            wrong.to_string().contains("wrong user name or password"),
            "{wrong}"
        );
        let other = EngineError::NotFerryServer {
            server: "http://s".into(),
            reason: "404".into(),
        };
        assert!(other.to_string().contains("--token-stdin"), "{other}");
    }
}
