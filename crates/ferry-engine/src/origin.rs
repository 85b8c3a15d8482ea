//! Where a bearer token may go: only to the origin (scheme, host and port) it was issued
//! for. Every request that carries a token asks [`check`] first, so a `Location`, an
//! endpoint named by `/api/v1/info`, or a redirect that points elsewhere is refused with a
//! clear error instead of handing the token to a stranger; `https` never falls to `http`.
//!
//! A WebSocket URL counts as the origin of its HTTP twin (`wss` as `https`, `ws` as `http`),
//! as browsers count it for the same purpose. Knows nothing of protocols or requests.

use url::Url;

use crate::error::EngineError;

/// The origin a token was issued for, from the URL of the server it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenOrigin(url::Origin);

impl TokenOrigin {
    /// The origin of `server` (its WebSocket form counts as its HTTP form).
    pub fn of(server: &Url) -> Self {
        Self(http_origin(server))
    }

    /// The origin as people write it (`https://files.example:8443`).
    pub fn shown(&self) -> String {
        self.0.ascii_serialization()
    }

    /// Whether `url` is on this origin.
    pub fn covers(&self, url: &Url) -> bool {
        http_origin(url) == self.0
    }

    /// `Ok` if `url` is on this origin; else [`EngineError::ForeignOrigin`] naming `what`
    /// pointed there (`"the upload's Location"`, `"the tus endpoint in /api/v1/info"`, ...).
    pub fn check(&self, url: &Url, what: &str) -> Result<(), EngineError> {
        if self.covers(url) {
            return Ok(());
        }
        Err(EngineError::ForeignOrigin {
            what: what.to_owned(),
            url: without_secrets(url),
            origin: self.shown(),
        })
    }
}

/// `url`'s origin, a WebSocket URL's as its HTTP twin's.
fn http_origin(url: &Url) -> url::Origin {
    let twin = match url.scheme() {
        "ws" => "http",
        "wss" => "https",
        _ => return url.origin(),
    };
    let mut http = url.clone();
    // Never fails: ws/wss and http/https are all "special" schemes with a host.
    if http.set_scheme(twin).is_err() {
        return url.origin();
    }
    http.origin()
}

/// `url` without user, password, query or fragment: what an error may show.
fn without_secrets(url: &Url) -> String {
    let mut shown = url.clone();
    let _ = shown.set_username("");
    let _ = shown.set_password(None);
    shown.set_query(None);
    shown.set_fragment(None);
    shown.to_string()
}

/// A redirect policy for every HTTP client of the engine: redirects are followed only
/// within the origin of the request they answer (and at most five), so a token or a body
/// never follows a server's answer to another host, port or scheme; the redirect answer
/// itself comes back to the caller, whose error names where it pointed.
pub(crate) fn redirect_policy() -> reqwest::redirect::Policy {
    reqwest::redirect::Policy::custom(|attempt| {
        let same = attempt
            .previous()
            .first()
            .is_some_and(|first| TokenOrigin::of(first).covers(attempt.url()));
        if same && attempt.previous().len() <= 5 {
            attempt.follow()
        } else {
            attempt.stop()
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(text: &str) -> Url {
        Url::parse(text).unwrap()
    }

    #[test]
    fn only_the_same_scheme_host_and_port_are_covered() {
        let origin = TokenOrigin::of(&url("https://files.example/"));
        assert!(origin.covers(&url("https://files.example/files/abc")));
        assert!(origin.covers(&url("https://files.example:443/x")));
        assert!(origin.covers(&url("wss://files.example/api/v1/galileo")));
        for elsewhere in [
            "http://files.example/files/abc",
            "ws://files.example/api/v1/galileo",
            "https://files.example:8443/files/abc",
            "https://evil.example/files/abc",
            "https://files.example.evil.example/",
        ] {
            assert!(!origin.covers(&url(elsewhere)), "{elsewhere}");
        }
    }

    #[test]
    fn a_websocket_server_issues_for_its_http_twin() {
        let origin = TokenOrigin::of(&url("ws://127.0.0.1:7000/api/v1/galileo"));
        assert!(origin.covers(&url("http://127.0.0.1:7000/files/")));
        assert!(!origin.covers(&url("http://127.0.0.1:7001/files/")));
        assert_eq!(origin.shown(), "http://127.0.0.1:7000");
    }

    #[test]
    fn the_refusal_names_both_origins_and_no_secret() {
        let origin = TokenOrigin::of(&url("https://files.example/"));
        let err = origin
            .check(
                &url("https://user:pw@evil.example/up?token=abc#x"),
                "the upload's Location",
            )
            .unwrap_err();
        let shown = err.to_string();
        assert!(shown.contains("https://evil.example/up"), "{shown}");
        assert!(shown.contains("https://files.example"), "{shown}");
        assert!(shown.contains("the upload's Location"), "{shown}");
        assert!(!shown.contains("pw") && !shown.contains("abc"), "{shown}");
        assert!(err.is_permanent());
    }
}
