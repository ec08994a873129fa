//! `/healthz` for load balancers and `/metrics` for Prometheus. `/metrics` answers loopback
//! freely; from any other address it needs `Authorization: Bearer <[http] metrics_token>`, and
//! without a configured token it is loopback only.

use super::auth::error;
use super::AppState;
use axum::extract::{ConnectInfo, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use std::net::SocketAddr;

pub async fn healthz(State(s): State<AppState>) -> impl IntoResponse {
    let body = serde_json::json!({
        "status": "ok",
        "calls_active": s.calls.active(),
        "store_queue": s.events.pending(),
    });
    axum::Json(body)
}

/// Equal in time whatever the first difference (the token is a secret).
fn same_secret(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |d, (x, y)| d | (x ^ y)) == 0
}

/// May this request read `/metrics`?
#[allow(clippy::result_large_err)] // the refusal is the handler's response, returned as is
pub(super) fn metrics_allowed(
    peer: SocketAddr,
    headers: &HeaderMap,
    token: Option<&str>,
) -> Result<(), Response> {
    if peer.ip().to_canonical().is_loopback() {
        return Ok(());
    }
    let Some(token) = token else {
        return Err(error(
            StatusCode::FORBIDDEN,
            "/metrics answers loopback only; set [http] metrics_token to scrape from elsewhere",
        ));
    };
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim);
    match given {
        Some(g) if same_secret(g.as_bytes(), token.as_bytes()) => Ok(()),
        _ => {
            let mut r = error(
                StatusCode::UNAUTHORIZED,
                "/metrics needs Authorization: Bearer <metrics_token>",
            );
            r.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                header::HeaderValue::from_static("Bearer"),
            );
            Err(r)
        }
    }
}

pub async fn metrics(
    State(s): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
) -> Response {
    if let Err(r) = metrics_allowed(peer, &headers, s.settings.http.metrics_token.as_deref()) {
        return r;
    }
    let w = s.events.metrics();
    let m = &s.metrics;
    m.store_queue_depth.set(s.events.pending() as i64);
    let get =
        |a: &std::sync::atomic::AtomicU64| a.load(std::sync::atomic::Ordering::Relaxed) as i64;
    m.store_events_written.set(get(&w.written));
    m.store_events_spilled.set(get(&w.spilled));
    m.store_batches_failed.set(get(&w.failed_batches));
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        m.render()
            + &s.calls
                .media_stats()
                .map(|m| m.prometheus())
                .unwrap_or_default(),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bearer(t: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(
            header::AUTHORIZATION,
            format!("Bearer {t}").parse().unwrap(),
        );
        h
    }

    /// Issue 14 row 14: `/metrics` was open to anyone.
    #[test]
    fn metrics_need_the_token_except_from_loopback() {
        let lo: SocketAddr = "127.0.0.1:5000".parse().unwrap();
        let lo6: SocketAddr = "[::1]:5000".parse().unwrap();
        let mapped: SocketAddr = "[::ffff:127.0.0.1]:5000".parse().unwrap();
        let far: SocketAddr = "203.0.113.9:5000".parse().unwrap();
        let none = HeaderMap::new();
        for p in [lo, lo6, mapped] {
            assert!(metrics_allowed(p, &none, None).is_ok());
            assert!(metrics_allowed(p, &none, Some("tok")).is_ok());
        }
        let status = |r: Result<(), Response>| r.err().map(|r| r.status());
        assert_eq!(
            status(metrics_allowed(far, &none, None)),
            Some(StatusCode::FORBIDDEN)
        );
        assert_eq!(
            status(metrics_allowed(far, &bearer("tok"), None)),
            Some(StatusCode::FORBIDDEN),
            "no token configured: loopback only"
        );
        assert_eq!(
            status(metrics_allowed(far, &none, Some("tok"))),
            Some(StatusCode::UNAUTHORIZED)
        );
        assert_eq!(
            status(metrics_allowed(far, &bearer("tox"), Some("tok"))),
            Some(StatusCode::UNAUTHORIZED)
        );
        assert_eq!(
            status(metrics_allowed(far, &bearer("to"), Some("tok"))),
            Some(StatusCode::UNAUTHORIZED)
        );
        assert!(metrics_allowed(far, &bearer("tok"), Some("tok")).is_ok());
    }
}
