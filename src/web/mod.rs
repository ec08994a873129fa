//! HTTP edge (axum): login and sessions, health, Prometheus metrics; later the agent and
//! supervisor pages and sockets.

mod auth;
mod health;

pub use auth::{AuthUser, SESSION_COOKIE};

use crate::config::Settings;
use crate::metrics::Metrics;
use crate::store::{Store, StoreHandle};
use axum::routing::{get, post};
use axum::Router;
use std::sync::Arc;

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    pub settings: Arc<Settings>,
    pub metrics: Arc<Metrics>,
    pub store: Store,
    pub events: StoreHandle,
    pub calls: Arc<crate::call::CallManager>,
}

pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/healthz", get(health::healthz))
        .route("/metrics", get(health::metrics))
        .route("/api/login", post(auth::login))
        .route("/api/logout", post(auth::logout))
        .route("/api/me", get(auth::me))
        .with_state(state)
}
