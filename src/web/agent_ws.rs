//! `GET /ws/agent`: the agent page's socket. Authenticated by the session cookie (agents only),
//! Origin checked against the page's own host (or `[http] allowed_origins`); messages are the
//! JSON of `desk::protocol`, relayed to and from the [`crate::desk::Desk`].

use super::{AppState, AuthUser};
use crate::desk::protocol::{ClientMsg, ServerMsg};
use crate::store::Role;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};

pub async fn agent_socket(
    State(s): State<AppState>,
    user: AuthUser,
    headers: HeaderMap,
    ws: WebSocketUpgrade,
) -> Response {
    if let Err(r) = origin_ok(&headers, &s.settings.http.allowed_origins) {
        return r;
    }
    if user.role() != Role::Agent {
        return (StatusCode::FORBIDDEN, "the agent socket is for agents").into_response();
    }
    let Some(desk) = s.desk.clone() else {
        return (StatusCode::SERVICE_UNAVAILABLE, "routing is not running").into_response();
    };
    let agent = user.0.username.clone();
    let name = user.0.display_name.clone();
    ws.max_message_size(MAX_WS_MESSAGE)
        .max_frame_size(MAX_WS_MESSAGE)
        .on_upgrade(move |socket| async move {
            let stats = desk.stats(&agent).await.unwrap_or_default();
            let device = if desk.has_phone(&agent) {
                "phone"
            } else {
                "browser"
            };
            let (id, rx) = desk.connect(&agent, &name, stats, device);
            tracing::info!(%agent, socket = id, "agent page connected");
            relay(socket, rx, &desk, &agent).await;
            tracing::info!(%agent, socket = id, "agent page disconnected");
            desk.disconnect(&agent, id);
        })
}

/// The largest message a page may send on the agent or supervisor socket (the biggest real one,
/// a wrap-up with notes or a WebRTC offer, is a few KiB). A larger one closes the socket.
pub(super) const MAX_WS_MESSAGE: usize = 64 * 1024;

/// Browsers always send Origin on WebSocket requests: refuse pages from other sites (CSWSH).
/// Clients that are not browsers send none and are judged by their cookie alone.
#[allow(clippy::result_large_err)] // the refusal is the handler's response, returned as is
pub(super) fn origin_ok(headers: &HeaderMap, allowed: &[String]) -> Result<(), Response> {
    let Some(origin) = headers.get("origin").and_then(|v| v.to_str().ok()) else {
        return Ok(());
    };
    let host = headers
        .get("host")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let origin_host = origin.split("://").nth(1).unwrap_or("");
    if origin_host == host || allowed.iter().any(|a| a == origin) {
        Ok(())
    } else {
        tracing::warn!(%origin, %host, "socket refused: foreign origin");
        Err((StatusCode::FORBIDDEN, "origin not allowed").into_response())
    }
}

async fn relay(
    mut socket: WebSocket,
    mut rx: tokio::sync::mpsc::UnboundedReceiver<ServerMsg>,
    desk: &std::sync::Arc<crate::desk::Desk>,
    agent: &str,
) {
    loop {
        tokio::select! {
            out = rx.recv() => {
                let Some(msg) = out else { break };
                if send(&mut socket, &msg).await.is_err() {
                    break;
                }
            }
            inc = socket.recv() => {
                let text = match inc {
                    Some(Ok(Message::Text(t))) => t,
                    Some(Ok(Message::Close(_))) | None | Some(Err(_)) => break,
                    Some(Ok(_)) => continue,
                };
                let reply = match serde_json::from_str::<ClientMsg>(&text) {
                    Ok(msg) => desk.handle(agent, msg).await,
                    Err(e) => Some(ServerMsg::Error {
                        request: "?".into(),
                        message: format!("unreadable message: {e}"),
                    }),
                };
                if let Some(r) = reply {
                    if send(&mut socket, &r).await.is_err() {
                        break;
                    }
                }
            }
        }
    }
}

async fn send(socket: &mut WebSocket, msg: &ServerMsg) -> Result<(), axum::Error> {
    let text = serde_json::to_string(msg).unwrap_or_else(|_| "{}".into());
    socket.send(Message::Text(text.into())).await
}
