//! Login, logout and the session extractor. Passwords are checked against argon2id hashes;
//! the session cookie is random, HttpOnly, SameSite=Strict (and Secure behind TLS), and only its
//! SHA-256 is stored. Every login attempt is counted before its password is hashed (see
//! `store::throttle`): per (username, client address), per username (generously, so nobody can
//! lock another user out from elsewhere), and per address across usernames (password
//! spraying). At most a few hashes run at once; beyond that a login gets 503 with Retry-After.

use super::AppState;
use crate::events::now_ms;
use crate::store::{LoginKeys, LoginThrottle, Role, Store, StoreError, User};
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

/// Longest username accepted at login (bytes); longer ones are refused before anything is
/// looked up or stored.
pub const MAX_USERNAME_BYTES: usize = 64;
/// Longest password accepted at login (bytes).
pub const MAX_PASSWORD_BYTES: usize = 1024;

fn throttled(s: &AppState, until: i64, now: i64) -> Response {
    s.metrics
        .http_logins
        .with_label_values(&["throttled"])
        .inc();
    let secs = ((until - now + 999) / 1000).max(1);
    let mut r = error(
        StatusCode::TOO_MANY_REQUESTS,
        "too many failed logins; try again later",
    );
    if let Ok(v) = secs.to_string().parse() {
        r.headers_mut().insert(header::RETRY_AFTER, v);
    }
    r
}

fn busy(msg: &str) -> Response {
    let mut r = error(StatusCode::SERVICE_UNAVAILABLE, msg);
    r.headers_mut()
        .insert(header::RETRY_AFTER, header::HeaderValue::from_static("1"));
    r
}

pub async fn login(
    State(s): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Json(form): Json<LoginForm>,
) -> Response {
    let now = now_ms();
    if form.username.is_empty() || form.username.len() > MAX_USERNAME_BYTES {
        s.metrics.http_logins.with_label_values(&["refused"]).inc();
        return error(
            StatusCode::BAD_REQUEST,
            &format!("the username must be 1 to {MAX_USERNAME_BYTES} bytes"),
        );
    }
    if form.password.len() > MAX_PASSWORD_BYTES {
        s.metrics.http_logins.with_label_values(&["refused"]).inc();
        return error(
            StatusCode::BAD_REQUEST,
            &format!("the password is longer than {MAX_PASSWORD_BYTES} bytes"),
        );
    }
    // Counted before the slow hash, atomically: parallel guesses cannot all slip through while
    // the first ones are still hashing. A right password takes its attempt back afterwards.
    let keys = LoginKeys::new(&form.username, peer.ip());
    let policy = LoginThrottle::default();
    match s.store.record_login_attempt(&keys, &policy, now).await {
        Ok(Some(until)) => return throttled(&s, until, now),
        Ok(None) => {}
        Err(e) => {
            tracing::warn!(error = %e, "login throttle update failed");
            return busy("login unavailable: the database is not answering; try again");
        }
    }
    let user = match s
        .store
        .verify_password(&form.username, &form.password)
        .await
    {
        Ok(u) => u,
        Err(StoreError::Busy(why)) => {
            s.metrics.http_logins.with_label_values(&["busy"]).inc();
            return busy(&why);
        }
        Err(e) => {
            tracing::warn!(error = %e, "password check failed");
            return busy("login unavailable; try again");
        }
    };
    let Some(user) = user else {
        s.metrics.http_logins.with_label_values(&["refused"]).inc();
        return error(StatusCode::UNAUTHORIZED, "wrong username or password");
    };
    if let Err(e) = s.store.login_succeeded(&keys, &policy).await {
        tracing::warn!(error = %e, "clearing the login throttle failed");
    }
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
        check_session(&s.store, &parts.headers, now_ms())
            .await
            .map(AuthUser)
    }
}

/// The enabled user the request's session cookie belongs to; 401 when there is none, 503 when
/// the database does not answer (that says nothing about the session: the page keeps it and
/// retries, instead of every agent being sent to the login screen by a database outage).
async fn check_session(store: &Store, headers: &HeaderMap, now: i64) -> Result<User, Response> {
    let unauth = || error(StatusCode::UNAUTHORIZED, "log in first");
    let unavailable = |e: StoreError| {
        tracing::warn!(error = %e, "session check failed: database not answering");
        busy("the session store is not answering; try again")
    };
    let token = session_token(headers).ok_or_else(unauth)?;
    let session = store
        .session(&token, now)
        .await
        .map_err(unavailable)?
        .ok_or_else(unauth)?;
    let user = store
        .user_by_id(&session.user_id)
        .await
        .map_err(unavailable)?
        .ok_or_else(unauth)?;
    if user.disabled_ms.is_some() {
        return Err(unauth());
    }
    Ok(user)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::NewUser;

    fn cookie(token: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(
            header::COOKIE,
            format!("a=b; {SESSION_COOKIE}={token}").parse().unwrap(),
        );
        h
    }

    /// Issue 14 row 10: a database error during the session check answered 401, and the page
    /// went to the login screen: a database outage logged every agent out.
    #[tokio::test]
    async fn the_session_check_answers_503_not_401_when_the_database_is_down() {
        let dir = std::env::temp_dir().join(format!("helpline-auth-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        let store = crate::store::migrate(&format!("sqlite://{}/t.db", dir.display()))
            .await
            .unwrap();
        let user = store
            .create_user(
                &NewUser {
                    username: "ann",
                    display_name: "Ann",
                    role: Role::Agent,
                    password: "pw",
                    sip_realms: &[],
                },
                1,
            )
            .await
            .unwrap();
        let (token, _) = store.create_session(&user.id, 1, 60_000).await.unwrap();
        let ok = check_session(&store, &cookie(&token), 2).await;
        assert_eq!(ok.map(|u| u.username).ok().as_deref(), Some("ann"));
        let status = |r: Result<User, Response>| r.err().map(|r| r.status());
        assert_eq!(
            status(check_session(&store, &cookie("forged"), 2).await),
            Some(StatusCode::UNAUTHORIZED)
        );
        assert_eq!(
            status(check_session(&store, &HeaderMap::new(), 2).await),
            Some(StatusCode::UNAUTHORIZED)
        );
        // The database stops answering.
        store.close().await;
        let down = check_session(&store, &cookie(&token), 2).await;
        let r = down.err().unwrap();
        assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert!(r.headers().contains_key(header::RETRY_AFTER));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
