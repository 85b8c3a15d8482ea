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
//! - [`db`]: `DIR/server.db` and its migrations; one writer, a few readers.
//! - [`gc`]: the background task that removes expired uploads.
//! - [`sessions`]: running uploads by token, so that revoking a token stops them.
//! - [`limits`]: per-user limits (unfinished uploads, quota).
//! - [`metrics`]: the numbers `GET /metrics` serves on its own listener.
//! - [`options`]: `serve`'s options from flags and the TOML configuration file.
//! - `net`: accepting connections: the connection cap, header and handshake deadlines.
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
pub mod limits;
pub mod locks;
pub mod metrics;
mod net;
pub mod options;
pub mod sessions;
pub mod storage;
pub mod tus;
pub mod uploads;

use std::future::Future;
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
    /// Running uploads by token, for revocation.
    pub sessions: Arc<sessions::Sessions>,
    /// Offsets acknowledged and not yet checkpointed.
    pub progress: Arc<uploads::progress::Progress>,
    /// What `GET /metrics` reports.
    pub metrics: Arc<metrics::Metrics>,
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
                sessions: Arc::default(),
                progress: Arc::default(),
                metrics: Arc::default(),
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
            .layer(axum::middleware::from_fn_with_state(
                Arc::clone(&self.state.metrics),
                metrics::time_requests,
            ))
            .layer(tower_http::trace::TraceLayer::new_for_http())
            .with_state(self.state.clone())
    }

    /// Serves `GET /metrics` on a listener of its own (with the upload listener's TLS and
    /// connection limits) until the returned future is dropped.
    pub async fn serve_metrics(&self, listener: TcpListener) -> Result<(), ServerError> {
        let router = metrics::router(Arc::clone(&self.state.metrics));
        net::serve(
            listener,
            router,
            &self.state.config,
            std::future::pending::<()>(),
        )
        .await
    }

    /// Serves on `listener` until `shutdown` completes, then finishes the requests in
    /// flight (for a few seconds at most) and checkpoints every acknowledged offset. Expired
    /// uploads are removed, revoked tokens' uploads stopped, and acknowledged offsets
    /// checkpointed, in the background meanwhile.
    pub async fn serve(
        self,
        listener: TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), ServerError> {
        let gc = tokio::spawn(gc::run(self.state.clone()));
        let watch = tokio::spawn(sessions::watch(
            Arc::clone(&self.state.sessions),
            self.state.db.clone(),
        ));
        let checkpoints = tokio::spawn(uploads::progress::run(
            Arc::clone(&self.state.progress),
            self.state.db.clone(),
            self.state.storage.clone(),
        ));
        let result = net::serve(listener, self.router(), &self.state.config, shutdown).await;
        gc.abort();
        watch.abort();
        checkpoints.abort();
        let _ = checkpoints.await;
        self.state
            .progress
            .settle_all(&self.state.db, &self.state.storage)
            .await;
        result
    }
}

/// Opens the data directory of `config` and serves on `listener` until `shutdown`.
pub async fn serve(
    listener: TcpListener,
    config: Config,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServerError> {
    App::open(config)?.serve(listener, shutdown).await
}
