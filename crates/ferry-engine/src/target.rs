//! Where uploads go: the three forms of server URL (DESIGN 4.2) and what each server offers.
//!
//! - `http(s)://host/` of a ferry-server: endpoints from `GET /api/v1/info`.
//! - `http(s)://host/path/` of any tus server: capabilities from `OPTIONS`.
//! - `ws(s)://host/path` of any GalileoSend server, used exactly as given.
//!
//! Ferry adapts to what a server offers and says what it could not use ([`Target::notes`]).

use ferry_proto::tus::Capabilities;
use ferry_proto::tus::capabilities::CapabilitiesError;
use ferry_proto::tus::headers::TUS_VERSION;
use serde::Deserialize;
use url::Url;

use crate::error::EngineError;
use crate::origin::TokenOrigin;
use crate::secret::Token;

/// The most bytes of `/api/v1/info` read: a real one is a few hundred.
const INFO_MAX: usize = 64 * 1024;

/// A tus endpoint and what it offers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TusTarget {
    /// The creation endpoint (with its trailing slash).
    pub endpoint: Url,
    /// What the server offers.
    pub caps: Capabilities,
}

/// A GalileoSend endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GalileoTarget {
    /// The WebSocket URL (without a token).
    pub url: Url,
    /// Whether the server is known to offer Ferry's resume extension (ferry-server says so;
    /// for a bare `ws://` URL it is found out from the first `ready`).
    pub resume: Option<bool>,
}

/// A server and what it offers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// The URL as the user gave it.
    pub server: String,
    /// Whether it is a ferry-server (signs in with `/api/v1/login`).
    pub ferry_server: bool,
    /// Whether it copies content it already holds for the user instead of an upload
    /// (`POST /api/v1/files/copy`, announced as `copy-by-content` in `/api/v1/info`).
    pub copy_by_content: bool,
    /// Its tus endpoint, if any.
    pub tus: Option<TusTarget>,
    /// Its GalileoSend endpoint, if any.
    pub galileo: Option<GalileoTarget>,
    /// What Ferry found it could not use, for the user.
    pub notes: Vec<String>,
}

/// The protocol to upload with (the one type every crate shares); `"tus"` or `"galileo"`
/// in JSON.
pub use ferry_proto::Protocol;

#[derive(Debug, Deserialize)]
struct Info {
    server: String,
    protocols: InfoProtocols,
    /// Ferry's own extensions of the API.
    #[serde(default)]
    extensions: Vec<String>,
}

#[derive(Debug, Deserialize)]
struct InfoProtocols {
    tus: Option<InfoTus>,
    galileo: Option<InfoGalileo>,
}

#[derive(Debug, Deserialize)]
struct InfoTus {
    endpoint: String,
    #[serde(default)]
    extensions: Vec<String>,
    #[serde(default)]
    checksum_algorithms: Vec<String>,
    max_size: Option<u64>,
}

#[derive(Debug, Deserialize)]
struct InfoGalileo {
    endpoint: String,
    #[serde(default)]
    resume: bool,
}

fn bad_url(url: &str, reason: impl Into<String>) -> EngineError {
    EngineError::BadUrl {
        url: url.to_owned(),
        reason: reason.into(),
    }
}

fn network(server: &str, err: &reqwest::Error) -> EngineError {
    EngineError::network(server, err)
}

impl Target {
    /// Finds out what the server at `url` offers. `token` is sent along where the server may
    /// want one (a tus server's OPTIONS needs none, but some proxies do).
    pub async fn discover(
        http: &reqwest::Client,
        url: &str,
        token: Option<&Token>,
    ) -> Result<Self, EngineError> {
        let parsed = Url::parse(url).map_err(|e| bad_url(url, e.to_string()))?;
        match parsed.scheme() {
            "ws" | "wss" => Ok(Self {
                server: url.to_owned(),
                ferry_server: false,
                copy_by_content: false,
                tus: None,
                galileo: Some(GalileoTarget {
                    url: parsed,
                    resume: None,
                }),
                notes: Vec::new(),
            }),
            "http" | "https" => {
                if let Some(target) = Self::ferry_server(http, url, &parsed).await? {
                    return Ok(target);
                }
                Self::tus_server(http, url, parsed, token).await
            }
            other => Err(bad_url(
                url,
                format!("the scheme {other:?} is not http, https, ws or wss"),
            )),
        }
    }

    /// Asks `/api/v1/info`; `None` if the server is not a ferry-server.
    async fn ferry_server(
        http: &reqwest::Client,
        url: &str,
        base: &Url,
    ) -> Result<Option<Self>, EngineError> {
        let info_url = base
            .join("/api/v1/info")
            .map_err(|e| bad_url(url, e.to_string()))?;
        let reply = http
            .get(info_url)
            .send()
            .await
            .map_err(|e| network(url, &e))?;
        if !reply.status().is_success() {
            return Ok(None);
        }
        let body = crate::transport::capped_body(reply, INFO_MAX)
            .await
            .map_err(|e| e.into_engine(url))?;
        let Ok(info) = serde_json::from_slice::<Info>(&body) else {
            return Ok(None);
        };
        if info.server != "ferry-server" {
            return Ok(None);
        }
        let tus = match info.protocols.tus {
            Some(tus) => Some(TusTarget {
                endpoint: base
                    .join(&tus.endpoint)
                    .map_err(|e| bad_url(url, e.to_string()))?,
                caps: Capabilities {
                    versions: vec![TUS_VERSION.to_owned()],
                    extensions: tus
                        .extensions
                        .iter()
                        .map(|e| ferry_proto::tus::Extension::from_name(e))
                        .collect(),
                    max_size: tus.max_size,
                    checksum_algorithms: tus
                        .checksum_algorithms
                        .iter()
                        .filter_map(|a| a.parse().ok())
                        .collect(),
                },
            }),
            None => None,
        };
        let galileo = match info.protocols.galileo {
            Some(g) => {
                let mut ws = base
                    .join(&g.endpoint)
                    .map_err(|e| bad_url(url, e.to_string()))?;
                let scheme = if base.scheme() == "https" {
                    "wss"
                } else {
                    "ws"
                };
                ws.set_scheme(scheme)
                    .map_err(|()| bad_url(url, "cannot make a WebSocket URL of it"))?;
                Some(GalileoTarget {
                    url: ws,
                    resume: Some(g.resume),
                })
            }
            None => None,
        };
        // The token signed in here goes only here: endpoints elsewhere are refused.
        let origin = TokenOrigin::of(base);
        if let Some(tus) = &tus {
            origin.check(&tus.endpoint, "the tus endpoint in /api/v1/info")?;
        }
        if let Some(galileo) = &galileo {
            origin.check(&galileo.url, "the GalileoSend endpoint in /api/v1/info")?;
        }
        Ok(Some(Self {
            server: url.to_owned(),
            ferry_server: true,
            copy_by_content: info.extensions.iter().any(|e| e == "copy-by-content"),
            tus,
            galileo,
            notes: Vec::new(),
        }))
    }

    /// Treats `url` as a tus endpoint and asks it with OPTIONS.
    async fn tus_server(
        http: &reqwest::Client,
        url: &str,
        mut endpoint: Url,
        token: Option<&Token>,
    ) -> Result<Self, EngineError> {
        // Some servers answer OPTIONS only on the endpoint with its trailing slash.
        if !endpoint.path().ends_with('/') {
            let path = format!("{}/", endpoint.path());
            endpoint.set_path(&path);
        }
        let mut request = http.request(reqwest::Method::OPTIONS, endpoint.clone());
        if let Some(token) = token {
            request = request.bearer_auth(token.expose());
        }
        let reply = request.send().await.map_err(|e| network(url, &e))?;
        let caps = Capabilities::from_headers(reply.headers()).map_err(|e| EngineError::NoProtocol {
            server: url.to_owned(),
            reason: match e {
                CapabilitiesError::NotTus => format!(
                    "it is neither a ferry-server (no /api/v1/info) nor a tus endpoint (OPTIONS answered {} without Tus-Version)",
                    reply.status()
                ),
                other => other.to_string(),
            },
        })?;
        let mut notes = Vec::new();
        if !caps.checksum(ferry_proto::checksum::ChecksumAlgorithm::Sha1) {
            notes.push(
                "the server does not check sha1 chunk checksums; the whole file is still hashed"
                    .to_owned(),
            );
        }
        if !caps.supports(&ferry_proto::tus::Extension::Concatenation) {
            notes.push(
                "the server does not offer concatenation; large files go up as one upload"
                    .to_owned(),
            );
        }
        if !caps.supports(&ferry_proto::tus::Extension::Termination) {
            notes.push("the server does not offer termination; abandoned uploads stay until it expires them".to_owned());
        }
        Ok(Self {
            server: url.to_owned(),
            ferry_server: false,
            copy_by_content: false,
            tus: Some(TusTarget { endpoint, caps }),
            galileo: None,
            notes,
        })
    }

    /// The protocol to use: `wanted` if the server offers it, else tus when offered, else
    /// GalileoSend.
    pub fn choose(&self, wanted: Option<Protocol>) -> Result<Protocol, EngineError> {
        let offered = |p: Protocol| match p {
            Protocol::Tus => self.tus.is_some(),
            Protocol::Galileo => self.galileo.is_some(),
        };
        match wanted {
            Some(p) if offered(p) => Ok(p),
            Some(p) => Err(EngineError::NoProtocol {
                server: self.server.clone(),
                reason: format!(
                    "{} was asked for but the server does not offer it",
                    p.as_str()
                ),
            }),
            None if offered(Protocol::Tus) => Ok(Protocol::Tus),
            None if offered(Protocol::Galileo) => Ok(Protocol::Galileo),
            None => Err(EngineError::NoProtocol {
                server: self.server.clone(),
                reason: "neither tus nor GalileoSend".into(),
            }),
        }
    }
}
