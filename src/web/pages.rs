//! The browser front-end (login, agent softphone, supervisor wallboard, reports): static files
//! compiled into the binary from src/web/assets/.
use axum::extract::Path;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

macro_rules! asset {
    ($name:literal) => {
        ($name, include_str!(concat!("assets/", $name)))
    };
}

const HTML: &str = "text/html; charset=utf-8";
const CSS: &str = "text/css; charset=utf-8";
const JS: &str = "text/javascript; charset=utf-8";
/// Strict: the pages have no inline script or style attribute.
const CSP: &str =
    "default-src 'self'; img-src 'self' data:; connect-src 'self'; media-src 'self' blob:; \
                   frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

static FILES: &[(&str, &str)] = &[
    asset!("common.css"),
    asset!("agent.css"),
    asset!("supervisor.css"),
    asset!("reports.css"),
    asset!("common.js"),
    asset!("login.js"),
    asset!("agent.js"),
    asset!("pop.js"),
    asset!("webrtc.js"),
    asset!("supervisor.js"),
    asset!("reports.js"),
    asset!("chart.js"),
];
static PAGES: &[(&str, &str)] = &[
    asset!("login.html"),
    asset!("agent.html"),
    asset!("supervisor.html"),
    asset!("reports.html"),
];

pub(super) fn page(name: &'static str) -> Response {
    let body = PAGES
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, b)| *b)
        .unwrap_or("");
    (
        [
            (header::CONTENT_TYPE, HTML),
            (header::CONTENT_SECURITY_POLICY, CSP),
            (header::CACHE_CONTROL, "no-cache"),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        ],
        body,
    )
        .into_response()
}

/// A plain refusal page (403) with a way back.
pub(super) fn forbidden_page(message: &str) -> Response {
    let body = format!(
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Not allowed \
         &middot; helpline</title><link rel=\"stylesheet\" href=\"/assets/common.css\"></head>\
         <body><main class=\"card\"><h1>Not allowed</h1><p>{message}</p>\
         <p><a href=\"/agent\">Agent page</a> &middot; <a href=\"/\">Sign in as someone else</a></p>\
         </main></body></html>"
    );
    (
        StatusCode::FORBIDDEN,
        [
            (header::CONTENT_TYPE, HTML),
            (header::CONTENT_SECURITY_POLICY, CSP),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        body,
    )
        .into_response()
}

async fn asset(Path(name): Path<String>) -> Response {
    let Some((_, body)) = FILES.iter().find(|(n, _)| *n == name) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let ctype = if name.ends_with(".css") { CSS } else { JS };
    (
        [
            (header::CONTENT_TYPE, ctype),
            (header::CACHE_CONTROL, "no-cache"),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        ],
        *body,
    )
        .into_response()
}

/// Routes for the pages anyone may load; merge into the main router (no state needed). The
/// supervisor pages are gated in `supervisor_api`.
pub fn routes<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new()
        .route("/", get(|| async { page("login.html") }))
        .route("/agent", get(|| async { page("agent.html") }))
        .route("/assets/{name}", get(asset))
}
