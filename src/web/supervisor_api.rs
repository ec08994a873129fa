//! Supervisor HTTP API (role supervisor or admin; agents get 403, anonymous users 401):
//!
//! - `POST /api/supervisor/agents/{agent}/state` {state, reason?} · `.../logout`
//! - `POST /api/supervisor/calls/{call_id}/priority` {priority} · `.../move` {queue} ·
//!   `.../monitor` {mode: listen|whisper|barge|stop} (rings the supervisor's registered phone)
//! - `GET /api/supervisor/audit?limit=` — the latest audited actions
//! - `GET /api/supervisor/dialplans` — the running dialplan version, refused reloads and the
//!   last refusal's `file:line:column` problems
//! - `GET /api/reports/{name}?from=&to=&interval=[&format=csv]` — the Report JSON or CSV
//! - `GET /supervisor`, `GET /reports` — the pages (anonymous users are sent to the login page)

use super::auth::error;
use super::{AppState, AuthUser};
use crate::reports::{tables, ReportError, ReportRequest};
use crate::store::Role;
use crate::supervisor::actions::ActionError;
use crate::supervisor::Supervisor;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use std::collections::HashMap;
use std::sync::Arc;

/// The supervisor side, for supervisors and admins only.
#[allow(clippy::result_large_err)] // the error is the handler's answer, returned at once
pub(super) fn supervisor(s: &AppState, user: &AuthUser) -> Result<Arc<Supervisor>, Response> {
    if !matches!(user.role(), Role::Supervisor | Role::Admin) {
        return Err(error(
            StatusCode::FORBIDDEN,
            "supervisors only: sign in with a supervisor account",
        ));
    }
    s.supervisor
        .clone()
        .ok_or_else(|| error(StatusCode::SERVICE_UNAVAILABLE, "routing is not running"))
}

#[allow(clippy::result_large_err)] // the error is the handler's answer, returned at once
fn body<T: for<'de> Deserialize<'de>>(bytes: &Bytes) -> Result<T, Response> {
    let text = if bytes.is_empty() {
        &b"{}"[..]
    } else {
        &bytes[..]
    };
    serde_json::from_slice(text)
        .map_err(|e| error(StatusCode::BAD_REQUEST, &format!("unreadable request: {e}")))
}

fn done(r: Result<(), ActionError>) -> Response {
    match r {
        Ok(()) => Json(serde_json::json!({"ok": true})).into_response(),
        Err(e) => {
            let status = match &e {
                ActionError::NotFound(_) => StatusCode::NOT_FOUND,
                ActionError::Invalid(_) => StatusCode::BAD_REQUEST,
                ActionError::Refused(_) => StatusCode::CONFLICT,
                ActionError::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            };
            error(status, &e.to_string())
        }
    }
}

/// The signed-in supervisor and the request's JSON body, or the response refusing either.
#[allow(clippy::result_large_err)] // as for `body`
fn supervisor_request<T: for<'de> Deserialize<'de>>(
    s: &AppState,
    user: &AuthUser,
    bytes: &Bytes,
) -> Result<(Arc<Supervisor>, T), Response> {
    let sup = supervisor(s, user)?;
    Ok((sup, body(bytes)?))
}

#[derive(Deserialize)]
struct StateBody {
    state: String,
    reason: Option<String>,
}

pub async fn agent_state(
    State(s): State<AppState>,
    user: AuthUser,
    Path(agent): Path<String>,
    bytes: Bytes,
) -> Response {
    match supervisor_request::<StateBody>(&s, &user, &bytes) {
        Ok((sup, b)) => done(
            sup.force_state(&user.0.username, &agent, &b.state, b.reason)
                .await,
        ),
        Err(r) => r,
    }
}

pub async fn agent_logout(
    State(s): State<AppState>,
    user: AuthUser,
    Path(agent): Path<String>,
) -> Response {
    match supervisor(&s, &user) {
        Ok(sup) => done(sup.logout(&user.0.username, &agent).await),
        Err(r) => r,
    }
}

#[derive(Deserialize)]
struct PriorityBody {
    priority: i64,
}

pub async fn call_priority(
    State(s): State<AppState>,
    user: AuthUser,
    Path(call): Path<String>,
    bytes: Bytes,
) -> Response {
    match supervisor_request::<PriorityBody>(&s, &user, &bytes) {
        Ok((sup, b)) => done(sup.set_priority(&user.0.username, &call, b.priority).await),
        Err(r) => r,
    }
}

#[derive(Deserialize)]
struct MoveBody {
    queue: String,
}

pub async fn call_move(
    State(s): State<AppState>,
    user: AuthUser,
    Path(call): Path<String>,
    bytes: Bytes,
) -> Response {
    match supervisor_request::<MoveBody>(&s, &user, &bytes) {
        Ok((sup, b)) => done(sup.move_call(&user.0.username, &call, &b.queue).await),
        Err(r) => r,
    }
}

#[derive(Deserialize)]
struct MonitorBody {
    mode: String,
}

pub async fn call_monitor(
    State(s): State<AppState>,
    user: AuthUser,
    Path(call): Path<String>,
    bytes: Bytes,
) -> Response {
    match supervisor_request::<MonitorBody>(&s, &user, &bytes) {
        Ok((sup, b)) => done(sup.monitor(&user.0.username, &call, &b.mode).await),
        Err(r) => r,
    }
}

pub async fn audit(
    State(s): State<AppState>,
    user: AuthUser,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let sup = match supervisor(&s, &user) {
        Ok(x) => x,
        Err(r) => return r,
    };
    let limit = q
        .get("limit")
        .and_then(|l| l.parse::<i64>().ok())
        .unwrap_or(100)
        .clamp(1, 1000);
    match sup.store.audit_log(limit).await {
        Ok(rows) => Json(serde_json::json!({ "items": rows })).into_response(),
        Err(e) => {
            tracing::warn!(error = %e, "audit log not read");
            error(
                StatusCode::SERVICE_UNAVAILABLE,
                "the database is not answering",
            )
        }
    }
}

pub async fn dialplans(State(s): State<AppState>, user: AuthUser) -> Response {
    if let Err(r) = supervisor(&s, &user) {
        return r;
    }
    let Some(live) = s.calls.dialplans() else {
        return error(StatusCode::SERVICE_UNAVAILABLE, "the IVR is not running");
    };
    let problems: Vec<String> = live.last_error().iter().map(ToString::to_string).collect();
    Json(serde_json::json!({
        "version": live.current().version(),
        "refused_reloads": live.refused_count(),
        "last_error": problems,
    }))
    .into_response()
}

pub async fn report(
    State(s): State<AppState>,
    user: AuthUser,
    Path(name): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let sup = match supervisor(&s, &user) {
        Ok(x) => x,
        Err(r) => return r,
    };
    let arg = |k: &str| q.get(k).map(String::as_str);
    let req = match ReportRequest::parse(&name, arg("from"), arg("to"), arg("interval")) {
        Ok(r) => r,
        Err(e) => return error(StatusCode::BAD_REQUEST, &e.to_string()),
    };
    let csv = match arg("format") {
        None | Some("json") => false,
        Some("csv") => true,
        Some(other) => {
            return error(
                StatusCode::BAD_REQUEST,
                &format!("format `{other}` is not json or csv"),
            )
        }
    };
    let table =
        match crate::reports::run(&sup.store, &sup.context, &req, crate::events::now_ms()).await {
            Ok(t) => t,
            Err(ReportError::Bad(m)) => return error(StatusCode::BAD_REQUEST, &m),
            Err(e) => {
                tracing::warn!(error = %e, report = %name, "report failed");
                return error(StatusCode::SERVICE_UNAVAILABLE, &e.to_string());
            }
        };
    if csv {
        let file = format!(
            "attachment; filename=\"{name}_{}_{}.csv\"",
            req.from, req.to
        );
        return (
            [
                (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
                (header::CONTENT_DISPOSITION, file),
            ],
            tables::to_csv(&table),
        )
            .into_response();
    }
    Json(table).into_response()
}

/// A supervisor page: anonymous users go to the login page, agents are refused.
pub(super) fn gated(user: Result<AuthUser, Response>, name: &'static str) -> Response {
    match user {
        Err(_) => (StatusCode::SEE_OTHER, [(header::LOCATION, "/")]).into_response(),
        Ok(u) if matches!(u.role(), Role::Supervisor | Role::Admin) => super::pages::page(name),
        Ok(_) => super::pages::forbidden_page(
            "This page is for supervisors. You are signed in as an agent.",
        ),
    }
}

pub async fn supervisor_page(user: Result<AuthUser, Response>) -> Response {
    gated(user, "supervisor.html")
}

pub async fn reports_page(user: Result<AuthUser, Response>) -> Response {
    gated(user, "reports.html")
}
