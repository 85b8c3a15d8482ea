//! `ferry-server serve`'s options. One struct is both the command line's flags and the TOML
//! configuration file's keys (`--config FILE`; each key is a flag's name without `--`), so
//! every flag can be written in the file. Flags override the file; what neither sets takes
//! the documented default. Relative paths in the file are relative to the file's directory.
//!
//! Pure: parsing and merging only. It knows nothing of sockets or of a running server.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::config::{Config, TlsFiles};

/// Where `serve` listens when neither a flag nor the file says: 127.0.0.1 on this port.
pub const DEFAULT_PORT: u16 = 8080;

/// Everything `serve` can be told, each unset until a flag or the file sets it.
#[derive(Debug, Default, Clone, PartialEq, Eq, clap::Args, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct ServeOptions {
    /// A TOML file with these options (keys as the flags without `--`, e.g. `max-size =
    /// 1000000`); flags given as well override it.
    #[arg(long, value_name = "FILE")]
    #[serde(skip)]
    pub config: Option<PathBuf>,
    /// Address to listen on; port 0 picks a free port (printed on start) [default:
    /// 127.0.0.1:8080].
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<SocketAddr>,
    /// The data directory (required here or in the file).
    #[arg(long, value_name = "DIR")]
    pub data: Option<PathBuf>,
    /// The largest upload accepted, in bytes [default: no limit].
    #[arg(long, value_name = "BYTES")]
    pub max_size: Option<u64>,
    /// Seconds an unfinished upload is kept after its last change [default: 86400].
    #[arg(long, value_name = "SECS")]
    pub expire_after: Option<u64>,
    /// TLS certificate chain (PEM); serves HTTPS with --tls-key.
    #[arg(long, value_name = "FILE")]
    pub tls_cert: Option<PathBuf>,
    /// TLS private key (PEM).
    #[arg(long, value_name = "FILE")]
    pub tls_key: Option<PathBuf>,
    /// Trust the proxy in front: count failed sign-ins by the right-most X-Forwarded-For
    /// address (the one that proxy saw) instead of the TCP peer. Only with a proxy that
    /// appends to X-Forwarded-For, and no direct access. `--trust-proxy=false` undoes the
    /// file's `true`.
    #[arg(long, value_name = "BOOL", num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    pub trust_proxy: Option<bool>,
    /// Seconds a request's headers may take to arrive (also how long an idle keep-alive
    /// connection stays open, and the TLS handshake limit) [default: 30].
    #[arg(long, value_name = "SECS")]
    pub header_timeout: Option<u64>,
    /// Seconds a request body or a GalileoSend WebSocket may go without receiving a byte
    /// before it is cut (what arrived is kept as for any broken connection) [default: 60].
    #[arg(long, value_name = "SECS")]
    pub idle_timeout: Option<u64>,
    /// Connections served at once; more wait until one closes [default: 1024].
    #[arg(long, value_name = "N")]
    pub max_connections: Option<usize>,
    /// Unfinished uploads one user may have at once [default: 1000].
    #[arg(long, value_name = "N")]
    pub max_unfinished: Option<usize>,
    /// Bytes one user may store: finished files plus unfinished uploads [default: no quota].
    #[arg(long, value_name = "BYTES")]
    pub quota: Option<u64>,
    /// Serve `GET /metrics` (Prometheus) on this address of its own, without sign-in
    /// [default: no metrics listener].
    #[arg(long, value_name = "ADDR")]
    pub metrics_listen: Option<SocketAddr>,
}

/// What `serve` runs with once flags, file and defaults are merged.
#[derive(Debug, Clone)]
pub struct Serve {
    /// The upload listener's address.
    pub listen: SocketAddr,
    /// The metrics listener's address, if any.
    pub metrics_listen: Option<SocketAddr>,
    /// The server's configuration.
    pub config: Config,
}

/// Options that cannot run, in words a person can act on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OptionsError {
    /// The configuration file is not valid TOML or has a key or value `serve` does not take.
    #[error("{file}: {message}")]
    File {
        /// The file.
        file: String,
        /// What is wrong, with its line and column.
        message: String,
    },
    /// Something required is missing or two options contradict each other.
    #[error("{0}")]
    Invalid(String),
}

impl ServeOptions {
    /// Parses a configuration file's text; `file` is where it was read from (for messages
    /// and for resolving relative paths).
    pub fn from_toml(text: &str, file: &Path) -> Result<Self, OptionsError> {
        let mut options: Self = toml::from_str(text).map_err(|err| OptionsError::File {
            file: file.display().to_string(),
            message: err.to_string().trim_end().to_owned(),
        })?;
        let base = file.parent().unwrap_or_else(|| Path::new(""));
        for path in [
            &mut options.data,
            &mut options.tls_cert,
            &mut options.tls_key,
        ]
        .into_iter()
        .flatten()
        {
            if path.is_relative() {
                *path = base.join(&*path);
            }
        }
        Ok(options)
    }

    /// These options, with what they leave unset taken from `file`'s.
    #[must_use]
    pub fn over(self, file: Self) -> Self {
        Self {
            config: self.config.or(file.config),
            listen: self.listen.or(file.listen),
            data: self.data.or(file.data),
            max_size: self.max_size.or(file.max_size),
            expire_after: self.expire_after.or(file.expire_after),
            tls_cert: self.tls_cert.or(file.tls_cert),
            tls_key: self.tls_key.or(file.tls_key),
            trust_proxy: self.trust_proxy.or(file.trust_proxy),
            header_timeout: self.header_timeout.or(file.header_timeout),
            idle_timeout: self.idle_timeout.or(file.idle_timeout),
            max_connections: self.max_connections.or(file.max_connections),
            max_unfinished: self.max_unfinished.or(file.max_unfinished),
            quota: self.quota.or(file.quota),
            metrics_listen: self.metrics_listen.or(file.metrics_listen),
        }
    }

    /// The merged options with their defaults filled in.
    pub fn resolve(self) -> Result<Serve, OptionsError> {
        let data = self.data.ok_or_else(|| {
            OptionsError::Invalid(
                "no data directory: give --data DIR, or `data = \"DIR\"` in the --config file"
                    .to_owned(),
            )
        })?;
        let tls = match (self.tls_cert, self.tls_key) {
            (Some(cert), Some(key)) => Some(TlsFiles { cert, key }),
            (None, None) => None,
            (Some(_), None) => return Err(half_tls("tls-cert", "tls-key")),
            (None, Some(_)) => return Err(half_tls("tls-key", "tls-cert")),
        };
        let listen = self
            .listen
            .unwrap_or(SocketAddr::from(([127, 0, 0, 1], DEFAULT_PORT)));
        if self
            .metrics_listen
            .is_some_and(|m| m == listen && m.port() != 0)
        {
            return Err(OptionsError::Invalid(format!(
                "metrics-listen and listen are both {listen}: metrics need an address of their own"
            )));
        }
        let mut config = Config::new(data);
        config.max_size = self.max_size;
        if let Some(secs) = self.expire_after {
            config.expire_after = Duration::from_secs(secs);
        }
        config.tls = tls;
        config.trust_proxy = self.trust_proxy.unwrap_or(false);
        if let Some(secs) = self.header_timeout {
            config.header_timeout = Duration::from_secs(secs.max(1));
        }
        if let Some(secs) = self.idle_timeout {
            config.idle_timeout = Duration::from_secs(secs.max(1));
        }
        if let Some(n) = self.max_connections {
            config.max_connections = n.max(1);
        }
        if let Some(n) = self.max_unfinished {
            config.max_unfinished = n;
        }
        config.quota = self.quota;
        Ok(Serve {
            listen,
            metrics_listen: self.metrics_listen,
            config,
        })
    }
}

fn half_tls(given: &str, missing: &str) -> OptionsError {
    OptionsError::Invalid(format!(
        "{given} is set but {missing} is not: HTTPS needs both (as flags or in the --config file)"
    ))
}

#[cfg(test)]
mod tests;
