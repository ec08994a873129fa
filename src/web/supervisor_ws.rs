//! `GET /ws/supervisor`: the wallboard's socket (supervisors and admins; Origin checked as for
//! the agent socket). Sends the latest `snapshot` at once, then each new one; a slow socket
//! skips to the newest rather than queueing old ones. Answers `ping` with `pong`.

use super::agent_ws::{origin_ok, MAX_WS_MESSAGE};
use super::supervisor_api::supervisor;
use super::{AppState, AuthUser};
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;
use std::sync::Arc;
use tokio::sync::watch;

pub async fn supervisor_socket(
    State(s): State<AppState>,
    user: AuthUser,
    headers: HeaderMap,
    ws: WebSocketUpgrade,
) -> Response {
    if let Err(r) = origin_ok(&headers, &s.settings.http.allowed_origins) {
        return r;
    }
    let sup = match supervisor(&s, &user) {
        Ok(x) => x,
        Err(r) => return r,
    };
    let who = user.0.username.clone();
    let rx = sup.subscribe();
    let metrics = s.metrics.clone();
    ws.max_message_size(MAX_WS_MESSAGE)
        .max_frame_size(MAX_WS_MESSAGE)
        .on_upgrade(move |socket| async move {
            metrics.supervisor_sockets.inc();
            tracing::info!(supervisor = %who, "wallboard connected");
            relay(socket, rx).await;
            metrics.supervisor_sockets.dec();
            tracing::info!(supervisor = %who, "wallboard disconnected");
        })
}

async fn relay(mut socket: WebSocket, mut rx: watch::Receiver<Arc<str>>) {
    let first = rx.borrow_and_update().clone();
    if !first.is_empty() && send(&mut socket, &first).await.is_err() {
        return;
    }
    loop {
        tokio::select! {
            changed = rx.changed() => {
                if changed.is_err() {
                    break;
                }
                let text = rx.borrow_and_update().clone();
                if send(&mut socket, &text).await.is_err() {
                    break;
                }
            }
            inc = socket.recv() => match inc {
                Some(Ok(Message::Text(t))) => {
                    let ping = serde_json::from_str::<serde_json::Value>(&t)
                        .ok()
                        .is_some_and(|v| v.get("type").and_then(|t| t.as_str()) == Some("ping"));
                    if ping && send(&mut socket, r#"{"type":"pong"}"#).await.is_err() {
                        break;
                    }
                }
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => break,
                Some(Ok(_)) => {}
            }
        }
    }
}

async fn send(socket: &mut WebSocket, text: &str) -> Result<(), axum::Error> {
    socket.send(Message::Text(text.into())).await
}
