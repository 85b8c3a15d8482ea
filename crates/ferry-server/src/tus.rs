//! tus 1.0.0 at `/files/`: placeholder while the tus endpoint is written.

use axum::Router;
use tower_http::cors::CorsLayer;

use crate::AppState;

/// The tus routes.
pub fn routes() -> Router<AppState> {
    Router::new()
}

/// CORS for browser clients.
pub fn cors() -> CorsLayer {
    CorsLayer::permissive()
}
