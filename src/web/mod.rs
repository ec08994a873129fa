//! HTTP edge (axum): login and sessions, health, Prometheus metrics, the agent and supervisor
//! pages and sockets, the CRM API, supervisor actions and reports.

mod agent_ws;
mod auth;
mod crm_api;
mod health;
mod pages;
mod supervisor_api;
mod supervisor_ws;
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
    /// The wallboard, supervisor actions and reports (None when routing is not running).
    pub supervisor: Option<Arc<crate::supervisor::Supervisor>>,
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
        .route("/ws/supervisor", get(supervisor_ws::supervisor_socket))
        .route(
            "/api/supervisor/agents/{agent}/state",
            post(supervisor_api::agent_state),
        )
        .route(
            "/api/supervisor/agents/{agent}/logout",
            post(supervisor_api::agent_logout),
        )
        .route(
            "/api/supervisor/calls/{call_id}/priority",
            post(supervisor_api::call_priority),
        )
        .route(
            "/api/supervisor/calls/{call_id}/move",
            post(supervisor_api::call_move),
        )
        .route(
            "/api/supervisor/calls/{call_id}/monitor",
            post(supervisor_api::call_monitor),
        )
        .route("/api/supervisor/audit", get(supervisor_api::audit))
        .route("/api/supervisor/dialplans", get(supervisor_api::dialplans))
        .route("/api/reports/{name}", get(supervisor_api::report))
        .route("/supervisor", get(supervisor_api::supervisor_page))
        .route("/reports", get(supervisor_api::reports_page))
        .merge(pages::routes())
        .with_state(state)
}
