//! `/healthz` for load balancers and `/metrics` for Prometheus.

use super::AppState;
use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;

pub async fn healthz(State(s): State<AppState>) -> impl IntoResponse {
    let body = serde_json::json!({
        "status": "ok",
        "calls_active": s.calls.active(),
        "store_queue": s.events.pending(),
    });
    axum::Json(body)
}

pub async fn metrics(State(s): State<AppState>) -> impl IntoResponse {
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
}
