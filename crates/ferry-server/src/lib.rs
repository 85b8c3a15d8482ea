//! The Ferry reference server: tus 1.0.0 with every extension and GalileoSend with resume,
//! behind accounts and bearer tokens, storing finished uploads under `DIR/files/USER/PATH`.
//!
//! # Layout
//! - [`serve`] / [`App`]: the whole server. It takes its listener and shutdown signal from
//!   outside, so tests bind `127.0.0.1:0` and stop it when they are done.
//! - [`config`]: what an instance is told at start.
//! - [`api`]: `/healthz` and the JSON API under `/api/v1/`.
//! - [`tus`]: tus 1.0.0 at `/files/`, driving ferry-proto's server helpers.
//! - [`galileo`]: GalileoSend at `/galileo`, driving ferry-proto's session machine.
//! - [`uploads`]: upload records shared by both protocols, and finishing an upload.
//! - [`locks`]: one writer per upload; the newest request wins.
//! - [`storage`]: the disk layout and the rules for remote paths.
//! - [`accounts`], [`auth`]: users, passwords, tokens, and who is asking.
//! - [`db`]: `DIR/server.db` and its migrations.
//! - [`gc`]: the background task that removes expired uploads.
//!
//! It knows nothing of the Ferry client: any tus or GalileoSend client is a first-class peer.

pub mod accounts;
pub mod api;
pub mod auth;
pub mod config;
pub mod db;
pub mod error;
pub mod galileo;
pub mod gc;
pub mod locks;
pub mod storage;
pub mod tus;
pub mod uploads;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use ferry_proto::tus::server::ServerConfig;
use tokio::net::TcpListener;

pub use crate::config::{Config, TlsFiles};
pub use crate::error::ServerError;

/// What every handler shares.
#[derive(Debug, Clone)]
pub struct AppState {
    /// The configuration.
    pub config: Arc<Config>,
    /// The database.
    pub db: db::Db,
    /// The data directory.
    pub storage: storage::Storage,
    /// Per-upload locks.
    pub locks: Arc<locks::UploadLocks>,
    /// The brake on password guessing.
    pub limiter: Arc<accounts::LoginLimiter>,
    /// What the tus endpoint offers.
    pub tus: Arc<ServerConfig>,
    /// Whole-file hashes of uploads while they stream.
    pub hashes: Arc<uploads::RunningHashes>,
}

/// A server whose data directory is open and ready; [`App::serve`] runs it.
#[derive(Debug, Clone)]
pub struct App {
    state: AppState,
}

impl App {
    /// Opens (creating if needed) the data directory and its database.
    pub fn open(config: Config) -> Result<Self, ServerError> {
        let storage = storage::Storage::open(&config.data_dir)?;
        let db = db::Db::open(&config.data_dir.join("server.db"))?;
        let tus = ServerConfig::complete(config.max_size);
        Ok(Self {
            state: AppState {
                config: Arc::new(config),
                db,
                storage,
                locks: Arc::default(),
                limiter: Arc::default(),
                tus: Arc::new(tus),
                hashes: Arc::default(),
            },
        })
    }

    /// The shared state (for the command-line tools and tests).
    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Every route, with CORS for browser clients.
    pub fn router(&self) -> Router {
        Router::new()
            .merge(api::routes())
            .merge(tus::routes())
            .merge(galileo::routes())
            .layer(tus::cors())
            .layer(tower_http::trace::TraceLayer::new_for_http())
            .with_state(self.state.clone())
    }

    /// Serves on `listener` until `shutdown` completes, then finishes the requests in
    /// flight. Expired uploads are removed in the background meanwhile.
    pub async fn serve(
        self,
        listener: TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), ServerError> {
        let gc = tokio::spawn(gc::run(self.state.clone()));
        let router = self
            .router()
            .into_make_service_with_connect_info::<SocketAddr>();
        let result = match self.state.config.tls.clone() {
            None => axum::serve(listener, router)
                .with_graceful_shutdown(shutdown)
                .await
                .map_err(|e| ServerError::io("serving", e)),
            Some(tls) => serve_tls(listener, router, &tls, shutdown).await,
        };
        gc.abort();
        result
    }
}

async fn serve_tls(
    listener: TcpListener,
    router: axum::extract::connect_info::IntoMakeServiceWithConnectInfo<Router, SocketAddr>,
    tls: &TlsFiles,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServerError> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let rustls = axum_server::tls_rustls::RustlsConfig::from_pem_file(&tls.cert, &tls.key)
        .await
        .map_err(|e| {
            ServerError::io(
                format!(
                    "reading TLS files {} and {}",
                    tls.cert.display(),
                    tls.key.display()
                ),
                e,
            )
        })?;
    let handle = axum_server::Handle::new();
    let stopper = handle.clone();
    tokio::spawn(async move {
        shutdown.await;
        stopper.graceful_shutdown(Some(std::time::Duration::from_secs(10)));
    });
    let std_listener = listener
        .into_std()
        .map_err(|e| ServerError::io("preparing the listener", e))?;
    axum_server::from_tcp_rustls(std_listener, rustls)
        .handle(handle)
        .serve(router)
        .await
        .map_err(|e| ServerError::io("serving HTTPS", e))
}

/// Opens the data directory of `config` and serves on `listener` until `shutdown`.
pub async fn serve(
    listener: TcpListener,
    config: Config,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServerError> {
    App::open(config)?.serve(listener, shutdown).await
}
