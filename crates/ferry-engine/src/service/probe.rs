//! What a server is and offers, found out live before signing in: a ferry-server (through
//! `/api/v1/info`), a tus endpoint (through OPTIONS) or a GalileoSend endpoint (a `ws://`
//! URL, used as given).

use std::time::Duration;

use serde::Serialize;

use crate::target::{Protocol, Target};

use super::ServiceError;

/// How long a probe may wait for the server.
const PROBE_TIMEOUT: Duration = Duration::from_secs(15);

/// What kind of server answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum ServerKind {
    /// A ferry-server (accounts, tus and GalileoSend).
    #[serde(rename = "ferry-server")]
    FerryServer,
    /// A tus endpoint of any tus server.
    #[serde(rename = "tus")]
    Tus,
    /// A GalileoSend endpoint.
    #[serde(rename = "galileo")]
    Galileo,
}

/// What a probe found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ServerProbe {
    /// The URL as normalised (the form to sign in and add folders with).
    pub url: String,
    /// What kind of server it is.
    pub kind: ServerKind,
    /// The protocols it offers, tus first.
    pub protocols: Vec<Protocol>,
    /// Whether it signs users in (a ferry-server); other servers work without a token.
    pub needs_sign_in: bool,
    /// What Ferry could not use, in words.
    pub notes: Vec<String>,
}

/// `url` as Ferry keeps it: trimmed, with `https://` when no scheme was typed, in the URL
/// crate's normal form (`https://host/` for a bare host).
pub fn normalise_url(url: &str) -> Result<String, ServiceError> {
    let url = url.trim();
    if url.is_empty() {
        return Err(ServiceError::invalid("url", "Enter the server's address."));
    }
    let with_scheme = if url.contains("://") {
        url.to_owned()
    } else {
        format!("https://{url}")
    };
    let parsed = url::Url::parse(&with_scheme).map_err(|e| {
        ServiceError::invalid("url", format!("{url:?} is not a web address ({e})."))
    })?;
    if !matches!(parsed.scheme(), "http" | "https" | "ws" | "wss") {
        return Err(ServiceError::invalid(
            "url",
            format!(
                "The address must start with http://, https://, ws:// or wss://, not {}://.",
                parsed.scheme()
            ),
        ));
    }
    Ok(parsed.to_string())
}

/// Finds out what the server at `url` is and offers, trusting the certificates the
/// platform trusts (and no pinned one: [`super::Service::probe`] knows those). A `ws(s)://`
/// URL is taken as a GalileoSend endpoint without connecting (the first upload checks it).
pub async fn probe_server(url: &str) -> Result<ServerProbe, ServiceError> {
    probe_with(url, &crate::tls::Trust::load(Vec::new()).await).await
}

/// [`probe_server`] with what `trust` trusts.
pub(super) async fn probe_with(
    url: &str,
    trust: &crate::tls::Trust,
) -> Result<ServerProbe, ServiceError> {
    let url = normalise_url(url)?;
    let http = crate::transport::dns::client_builder(trust)
        .timeout(PROBE_TIMEOUT)
        .connect_timeout(PROBE_TIMEOUT)
        .build()
        .map_err(|e| crate::EngineError::network(&url, &e))?;
    let target = Target::discover(&http, &url, None).await?;
    let mut protocols = Vec::new();
    if target.tus.is_some() {
        protocols.push(Protocol::Tus);
    }
    if target.galileo.is_some() {
        protocols.push(Protocol::Galileo);
    }
    let kind = if target.ferry_server {
        ServerKind::FerryServer
    } else if target.tus.is_some() {
        ServerKind::Tus
    } else {
        ServerKind::Galileo
    };
    let mut notes = target.notes;
    if kind == ServerKind::Galileo {
        notes.push(
            "A GalileoSend address is used as given; Ferry checks it with the first upload."
                .to_owned(),
        );
    }
    Ok(ServerProbe {
        url,
        kind,
        protocols,
        needs_sign_in: target.ferry_server,
        notes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_trimmed_given_a_scheme_and_refused_when_unusable() {
        let cases = [
            (
                "  https://files.example.com  ",
                Some("https://files.example.com/"),
            ),
            ("files.example.com", Some("https://files.example.com/")),
            (
                "http://127.0.0.1:1080/files/",
                Some("http://127.0.0.1:1080/files/"),
            ),
            ("ws://127.0.0.1:3000/", Some("ws://127.0.0.1:3000/")),
            ("", None),
            ("   ", None),
            ("ftp://example.com/", None),
            ("http://", None),
        ];
        for (given, expected) in cases {
            match (normalise_url(given), expected) {
                (Ok(url), Some(expected)) => assert_eq!(url, expected, "{given:?}"),
                (Err(ServiceError::InvalidInput { field, .. }), None) => assert_eq!(field, "url"),
                (other, _) => panic!("{given:?}: expected {expected:?}, got {other:?}"),
            }
        }
    }

    #[test]
    fn a_probe_serialises_as_the_window_expects() {
        let probe = ServerProbe {
            url: "http://127.0.0.1:8080/".into(),
            kind: ServerKind::FerryServer,
            protocols: vec![Protocol::Tus, Protocol::Galileo],
            needs_sign_in: true,
            notes: vec![],
        };
        assert_eq!(
            serde_json::to_value(&probe).unwrap(),
            serde_json::json!({
                "url": "http://127.0.0.1:8080/", "kind": "ferry-server",
                "protocols": ["tus", "galileo"], "needsSignIn": true, "notes": []
            })
        );
    }
}
