//! The CRM REST API (JSON, session cookie). Supervisors and admins read everything; an agent
//! reads the pop of the call offered to them, and contacts and tickets of callers they are
//! handling or have handled, or whose tickets they own — never another agent's current caller.
//!
//! - `GET /api/pop/{call_id}`
//! - `GET /api/contacts?q=&page=&per_page=` (supervisors) · `GET /api/contacts/{id}` ·
//!   `POST /api/contacts` (supervisors)
//! - `GET /api/tickets?contact=&status=&page=&per_page=` · `GET /api/tickets/{number}` (with its
//!   calls and FCR)
//! - `GET /api/interactions?ticket=&page=&per_page=` (supervisors)
//! - `GET /api/kb?q=` (knowledge-base search, everyone)

use super::auth::error;
use super::{AppState, AuthUser};
use crate::crm::model::{Contact, TicketStatus};
use crate::store::{Page, Role};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;

#[derive(Debug, Deserialize, Default)]
pub struct ListQuery {
    #[serde(default)]
    q: String,
    #[serde(default)]
    page: Option<i64>,
    #[serde(default)]
    per_page: Option<i64>,
    #[serde(default)]
    contact: Option<String>,
    #[serde(default)]
    status: Option<String>,
    #[serde(default)]
    ticket: Option<String>,
}

impl ListQuery {
    fn page(&self) -> Page {
        let per = self.per_page.unwrap_or(50).clamp(1, 500);
        let page = self.page.unwrap_or(1).max(1);
        Page {
            offset: (page - 1) * per,
            limit: per,
        }
    }
}

fn is_supervisor(u: &AuthUser) -> bool {
    matches!(u.role(), Role::Supervisor | Role::Admin)
}

fn store_error(e: crate::store::StoreError) -> Response {
    tracing::warn!(error = %e, "CRM API query failed");
    error(
        StatusCode::SERVICE_UNAVAILABLE,
        "the CRM database is not answering; try again",
    )
}

fn not_found() -> Response {
    error(StatusCode::NOT_FOUND, "not found (or not yours to see)")
}

fn page_json<T: serde::Serialize>(items: Vec<T>, page: Page) -> Response {
    Json(serde_json::json!({
        "items": items,
        "page": page.offset / page.limit + 1,
        "per_page": page.limit,
    }))
    .into_response()
}

pub async fn pop(
    State(s): State<AppState>,
    user: AuthUser,
    Path(call_id): Path<String>,
) -> Response {
    let Some(desk) = s.desk.as_ref() else {
        return not_found();
    };
    let pop = if is_supervisor(&user) {
        desk.pop_any(&call_id)
    } else {
        desk.pop_for(&user.0.username, &call_id)
    };
    match pop {
        Some(p) => Json(p).into_response(),
        None => not_found(),
    }
}

/// May this agent see this contact? Their current pop's contact, or one they have talked to, or
/// whose ticket they own.
async fn agent_may_see(s: &AppState, agent: &str, contact_id: &str) -> Result<bool, Response> {
    let store = &s.store;
    store
        .agent_knows_contact(agent, contact_id)
        .await
        .map_err(store_error)
        .map(|known| {
            known
                || s.desk
                    .as_ref()
                    .is_some_and(|d| d.current_contact(agent).as_deref() == Some(contact_id))
        })
}

pub async fn contacts(
    State(s): State<AppState>,
    user: AuthUser,
    Query(q): Query<ListQuery>,
) -> Response {
    if !is_supervisor(&user) {
        return error(StatusCode::FORBIDDEN, "listing contacts is for supervisors");
    }
    match s.store.list_contacts(&q.q, q.page()).await {
        Ok(items) => page_json(items, q.page()),
        Err(e) => store_error(e),
    }
}

pub async fn contact(
    State(s): State<AppState>,
    user: AuthUser,
    Path(id): Path<String>,
) -> Response {
    if !is_supervisor(&user) {
        match agent_may_see(&s, &user.0.username, &id).await {
            Ok(true) => {}
            Ok(false) => return not_found(),
            Err(r) => return r,
        }
    }
    match s.store.contact(&id).await {
        Ok(Some(c)) => Json(c).into_response(),
        Ok(None) => not_found(),
        Err(e) => store_error(e),
    }
}

#[derive(Debug, Deserialize)]
pub struct NewContact {
    name: String,
    #[serde(default)]
    organisation: Option<String>,
    #[serde(default)]
    phones: Vec<String>,
    #[serde(default)]
    email: Option<String>,
    #[serde(default)]
    language: Option<String>,
    #[serde(default)]
    account: Option<String>,
    #[serde(default)]
    notes: Option<String>,
}

pub async fn create_contact(
    State(s): State<AppState>,
    user: AuthUser,
    Json(new): Json<NewContact>,
) -> Response {
    // A contact claims phone numbers: an agent adding one with a real customer's number would
    // put a stranger's name on that customer's pops. Supervisors vet new contacts.
    if !is_supervisor(&user) {
        return error(
            StatusCode::FORBIDDEN,
            "creating contacts is for supervisors; ask a supervisor to add the caller",
        );
    }
    if new.name.trim().is_empty() {
        return error(StatusCode::UNPROCESSABLE_ENTITY, "name is empty");
    }
    let region = &s.settings.sip.default_region;
    let mut phones = Vec::new();
    for p in &new.phones {
        match crate::phone::normalise(p, region) {
            Some(n) => phones.push(n),
            None => {
                return error(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    &format!("phone `{p}` is not a number (read in region {region})"),
                )
            }
        }
    }
    let c = Contact {
        id: uuid::Uuid::now_v7().to_string(),
        name: new.name.trim().to_string(),
        organisation: new.organisation,
        phones,
        email: new.email,
        language: new.language,
        tier: 1,
        vip: false,
        notes: new.notes,
        account: new.account,
    };
    match s
        .store
        .insert_contacts(std::slice::from_ref(&c), crate::events::now_ms())
        .await
    {
        Ok(()) => (StatusCode::CREATED, Json(c)).into_response(),
        Err(crate::store::StoreError::Db(sqlx::Error::Database(d))) if d.is_unique_violation() => {
            error(
                StatusCode::CONFLICT,
                "a contact with that account already exists",
            )
        }
        Err(e) => store_error(e),
    }
}

pub async fn tickets(
    State(s): State<AppState>,
    user: AuthUser,
    Query(q): Query<ListQuery>,
) -> Response {
    if !is_supervisor(&user) {
        let Some(contact) = q.contact.as_deref() else {
            return error(
                StatusCode::FORBIDDEN,
                "agents list the tickets of one contact (?contact=)",
            );
        };
        match agent_may_see(&s, &user.0.username, contact).await {
            Ok(true) => {}
            Ok(false) => return not_found(),
            Err(r) => return r,
        }
    }
    let status = match q.status.as_deref().map(TicketStatus::parse) {
        None => None,
        Some(Some(st)) => Some(st),
        Some(None) => {
            return error(
                StatusCode::BAD_REQUEST,
                "status must be open, pending, resolved or closed",
            )
        }
    };
    match s
        .store
        .list_tickets(q.contact.as_deref(), status, q.page())
        .await
    {
        Ok(items) => page_json(items, q.page()),
        Err(e) => store_error(e),
    }
}

pub async fn ticket(
    State(s): State<AppState>,
    user: AuthUser,
    Path(number): Path<String>,
) -> Response {
    let t = match s.store.ticket_by_number(&number).await {
        Ok(Some(t)) => t,
        Ok(None) => return not_found(),
        Err(e) => return store_error(e),
    };
    if !is_supervisor(&user) && t.owner.as_deref() != Some(&user.0.username) {
        let contact = t.contact_id.clone().unwrap_or_default();
        match agent_may_see(&s, &user.0.username, &contact).await {
            Ok(true) => {}
            Ok(false) => return not_found(),
            Err(r) => return r,
        }
    }
    let calls = match s.store.ticket_interactions(&t.id).await {
        Ok(c) => c,
        Err(e) => return store_error(e),
    };
    let window = i64::from(s.settings.crm.fcr_days) * 86_400_000;
    let mut fcr = crate::crm::fcr::FcrTally::default();
    fcr.add_ticket(&crate::crm::fcr::ticket_calls(&calls), window);
    Json(serde_json::json!({
        "ticket": t,
        "interactions": calls,
        "first_contact_resolution": fcr.resolved_first_contact == 1,
        "repeat_contacts": fcr.repeat_contacts,
    }))
    .into_response()
}

pub async fn interactions(
    State(s): State<AppState>,
    user: AuthUser,
    Query(q): Query<ListQuery>,
) -> Response {
    if !is_supervisor(&user) {
        return error(StatusCode::FORBIDDEN, "listing calls is for supervisors");
    }
    let ticket_id = match q.ticket.as_deref() {
        None => None,
        Some(n) => match s.store.ticket_by_number(n).await {
            Ok(Some(t)) => Some(t.id),
            Ok(None) => return not_found(),
            Err(e) => return store_error(e),
        },
    };
    match s
        .store
        .list_interactions(ticket_id.as_deref(), q.page())
        .await
    {
        Ok(items) => page_json(items, q.page()),
        Err(e) => store_error(e),
    }
}

pub async fn kb(
    State(s): State<AppState>,
    _user: AuthUser,
    Query(q): Query<ListQuery>,
) -> Response {
    match s.store.search_articles(&q.q, 10).await {
        Ok(items) => Json(serde_json::json!({ "items": items })).into_response(),
        Err(e) => store_error(e),
    }
}
