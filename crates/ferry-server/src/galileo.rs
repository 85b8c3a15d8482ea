//! GalileoSend at `/galileo`: placeholder while the endpoint is written.

use axum::Router;

use crate::AppState;

/// The GalileoSend route.
pub fn routes() -> Router<AppState> {
    Router::new()
}
