//! Login, logout and the session extractor. Passwords are checked against argon2id hashes;
//! the session cookie is random, HttpOnly, SameSite=Strict (and Secure behind TLS), and only its
//! SHA-256 is stored. Failed logins are throttled per (username, client address), so nobody can
//! lock another user out from elsewhere.

use super::AppState;
use crate::events::now_ms;
use crate::store::{Role, ThrottlePolicy, User};
use axum::extract::{ConnectInfo, FromRequestParts, State};
use axum::http::{header, request::Parts, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use std::net::SocketAddr;

pub const SESSION_COOKIE: &str = "helpline_session";

#[derive(Deserialize)]
pub struct LoginForm {
    username: String,
    password: String,
}

pub(super) fn error(status: StatusCode, msg: &str) -> Response {
    (status, Json(serde_json::json!({ "error": msg }))).into_response()
}

fn user_json(u: &User) -> serde_json::Value {
    serde_json::json!({ "username": u.username, "display_name": u.display_name, "role": u.role.as_str() })
}

pub async fn login(
    State(s): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Json(form): Json<LoginForm>,
) -> Response {
    let now = now_ms();
    let key = format!("{}|{}", form.username, peer.ip());
    match s.store.login_blocked_until(&key, now).await {
        Ok(Some(until)) => {
            s.metrics
                .http_logins
                .with_label_values(&["throttled"])
                .inc();
            let secs = ((until - now) / 1000).max(1);
            let mut r = error(
                StatusCode::TOO_MANY_REQUESTS,
                "too many failed logins; try again later",
            );
            if let Ok(v) = secs.to_string().parse() {
                r.headers_mut().insert(header::RETRY_AFTER, v);
            }
            return r;
        }
        Ok(None) => {}
        Err(e) => {
            tracing::warn!(error = %e, "login throttle lookup failed");
            return error(StatusCode::SERVICE_UNAVAILABLE, "login unavailable");
        }
    }
    let user = match s
        .store
        .verify_password(&form.username, &form.password)
        .await
    {
        Ok(u) => u,
        Err(e) => {
            tracing::warn!(error = %e, "password check failed");
            return error(StatusCode::SERVICE_UNAVAILABLE, "login unavailable");
        }
    };
    let Some(user) = user else {
        s.metrics.http_logins.with_label_values(&["refused"]).inc();
        let _ = s
            .store
            .record_login_failure(&key, now, &ThrottlePolicy::default())
            .await;
        return error(StatusCode::UNAUTHORIZED, "wrong username or password");
    };
    let _ = s.store.clear_login_failures(&key).await;
    let ttl = (s.settings.http.session_ttl_secs * 1000) as i64;
    let (token, _) = match s.store.create_session(&user.id, now, ttl).await {
        Ok(t) => t,
        Err(e) => {
            tracing::warn!(error = %e, "session creation failed");
            return error(StatusCode::SERVICE_UNAVAILABLE, "login unavailable");
        }
    };
    s.metrics.http_logins.with_label_values(&["ok"]).inc();
    let secure = if s.settings.http.secure_cookies {
        "; Secure"
    } else {
        ""
    };
    let cookie = format!(
        "{SESSION_COOKIE}={token}; Path=/; HttpOnly; SameSite=Strict; Max-Age={}{secure}",
        s.settings.http.session_ttl_secs
    );
    let mut r = Json(user_json(&user)).into_response();
    if let Ok(v) = cookie.parse() {
        r.headers_mut().insert(header::SET_COOKIE, v);
    }
    r
}

pub async fn logout(State(s): State<AppState>, headers: HeaderMap) -> Response {
    if let Some(token) = session_token(&headers) {
        let _ = s.store.delete_session(&token).await;
    }
    let mut r = StatusCode::NO_CONTENT.into_response();
    if let Ok(v) =
        format!("{SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0").parse()
    {
        r.headers_mut().insert(header::SET_COOKIE, v);
    }
    r
}

pub async fn me(user: AuthUser) -> Response {
    Json(user_json(&user.0)).into_response()
}

/// The session token from the Cookie header, if any.
pub fn session_token(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == SESSION_COOKIE)
        .map(|(_, v)| v.to_string())
}

/// A logged-in user; handlers taking it refuse anonymous requests with 401.
pub struct AuthUser(pub User);

impl AuthUser {
    pub fn role(&self) -> Role {
        self.0.role
    }
}

impl FromRequestParts<AppState> for AuthUser {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, s: &AppState) -> Result<Self, Self::Rejection> {
        let unauth = || error(StatusCode::UNAUTHORIZED, "log in first");
        let token = session_token(&parts.headers).ok_or_else(unauth)?;
        let session = s
            .store
            .session(&token, now_ms())
            .await
            .map_err(|_| unauth())?
            .ok_or_else(unauth)?;
        let user = s
            .store
            .user_by_id(&session.user_id)
            .await
            .map_err(|_| unauth())?
            .ok_or_else(unauth)?;
        if user.disabled_ms.is_some() {
            return Err(unauth());
        }
        Ok(AuthUser(user))
    }
}
