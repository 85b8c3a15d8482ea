//! Host names to addresses for every connection the engine makes (reqwest's and the
//! GalileoSend WebSocket's), through the system resolver; a name that does not resolve
//! comes back as [`NameNotResolved`] inside the error, so that a DNS failure is told apart
//! by its type ([`crate::error::network::classify`]) rather than by the resolver's words.
//!
//! It knows nothing of HTTP, WebSockets or servers (what TLS trusts is `crate::tls`'s).

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;

use crate::error::network::NameNotResolved;

/// The addresses of `host` (an IP literal comes back as itself) with `port`.
pub(crate) async fn lookup(host: &str, port: u16) -> io::Result<Vec<SocketAddr>> {
    match tokio::net::lookup_host((host, port)).await {
        Ok(addrs) => Ok(addrs.collect()),
        Err(source) => Err(io::Error::new(
            source.kind(),
            NameNotResolved {
                host: host.to_owned(),
                source,
            },
        )),
    }
}

/// reqwest's resolver: [`lookup`].
#[derive(Debug, Clone, Copy)]
struct Resolver;

impl reqwest::dns::Resolve for Resolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let addrs = lookup(&host, 0).await?;
            Ok(Box::new(addrs.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

/// A reqwest client builder that resolves names through [`lookup`] and verifies
/// certificates as `trust` says (the platform's verifier and the pinned certificates, the
/// same as the GalileoSend WebSocket's); every client of the engine starts from it.
pub fn client_builder(trust: &crate::tls::Trust) -> reqwest::ClientBuilder {
    reqwest::Client::builder()
        .dns_resolver(Arc::new(Resolver))
        .redirect(crate::origin::redirect_policy())
        .use_preconfigured_tls((*trust.config()).clone())
}
