//! HTTP edge (axum): login and sessions, health, Prometheus metrics; later the agent and
//! supervisor pages and sockets.

mod agent_ws;
mod auth;
mod crm_api;
mod health;
mod pages;
pub mod tls;

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
    /// The agent desktop hub (None when routing is not running).
    pub desk: Option<Arc<crate::desk::Desk>>,
}

pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/healthz", get(health::healthz))
        .route("/metrics", get(health::metrics))
        .route("/api/login", post(auth::login))
        .route("/api/logout", post(auth::logout))
        .route("/api/me", get(auth::me))
        .route("/ws/agent", get(agent_ws::agent_socket))
        .route("/api/pop/{call_id}", get(crm_api::pop))
        .route(
            "/api/contacts",
            get(crm_api::contacts).post(crm_api::create_contact),
        )
        .route("/api/contacts/{id}", get(crm_api::contact))
        .route("/api/tickets", get(crm_api::tickets))
        .route("/api/tickets/{number}", get(crm_api::ticket))
        .route("/api/interactions", get(crm_api::interactions))
        .route("/api/kb", get(crm_api::kb))
        .merge(pages::routes())
        .with_state(state)
}
