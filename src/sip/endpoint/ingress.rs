//! From bytes to a shard: parse on the transport task, count, and dispatch by Call-ID.
//! Unparsable requests get their stateless error response (400, 505…) when one can be built;
//! everything else malformed is dropped and counted. Nothing here can panic on input.
//!
//! Abuse defences that need no state run here, before a shard sees the message: requests from
//! scanner user agents are dropped without an answer; requests with more Via entries or header
//! fields than configured get a small 400 (top Via and short identifying headers only), so a
//! long Via list cannot draw a large reply.

use super::shard::ShardInput;
use super::shard_of;
use crate::metrics::{method_label, Metrics};
use crate::sip::abuse::{is_scanner, via_count};
use crate::sip::message::{Headers, Message, Method, Response};
use crate::sip::transaction::{response_peer, stamp_top_via, Peer};
use crate::sip::transport::Ingress;
use bytes::Bytes;
use std::sync::Arc;
use std::time::Instant;
use tokio::sync::mpsc::UnboundedSender;

/// Caps on a request's shape (`[sip] max_vias`, `max_headers`).
#[derive(Clone, Copy)]
pub(super) struct Limits {
    pub max_vias: usize,
    pub max_headers: usize,
}

impl Limits {
    fn exceeded(&self, h: &Headers) -> bool {
        h.len() > self.max_headers || via_count(h) > self.max_vias
    }
}

/// Headers echoed in a small error longer than this are left out.
const MAX_ECHOED: usize = 256;

/// A stateless error response bounded in size whatever the request held: only the top Via
/// and From/To/Call-ID/CSeq when each is short. None for ACK or without a usable top Via.
fn small_error(
    method: Option<&Method>,
    h: &Headers,
    status: u16,
    reason: &str,
) -> Option<Response> {
    if method.is_none_or(|m| *m == Method::Ack) {
        return None;
    }
    let via = h.top_via().ok()?.to_string();
    if via.len() > MAX_ECHOED * 2 {
        return None;
    }
    let mut resp = Response::new(status, reason);
    resp.headers.push("via", via);
    for name in ["from", "to", "call-id", "cseq"] {
        if let Some(v) = h.get(name).filter(|v| v.len() <= MAX_ECHOED) {
            resp.headers.push(name, v);
        }
    }
    resp.set_to_tag(&super::tu::stateless_tag());
    Some(resp)
}

pub(super) fn ingress(
    shards: Arc<Vec<UnboundedSender<ShardInput>>>,
    metrics: Arc<Metrics>,
    limits: Limits,
) -> Ingress {
    Arc::new(move |bytes: Bytes, peer: Peer| {
        let now = Instant::now();
        let reply = |mut resp: Response| {
            let Ok(via) = resp.headers.top_via() else {
                return;
            };
            // As for any request: answer where it came from (RFC 3261 18.2.1, 18.2.2).
            let via = stamp_top_via(&mut resp.headers, via, &peer);
            let to = response_peer(&via, &peer);
            if let Some(tx) = shards.first() {
                let _ = tx.send(ShardInput::SendStateless {
                    msg: Message::Response(resp),
                    to,
                });
            }
        };
        match Message::parse_bytes(bytes) {
            Ok(msg) => {
                if let Message::Request(r) = &msg {
                    metrics
                        .sip_requests
                        .with_label_values(&[method_label(r.method.as_str())])
                        .inc();
                    if r.headers.get_all("user-agent").any(is_scanner) {
                        metrics.sip_scanners_dropped.inc();
                        tracing::debug!(from = %peer.addr, "scanner user agent: dropped");
                        return;
                    }
                    if limits.exceeded(&r.headers) {
                        metrics.sip_oversized.inc();
                        tracing::debug!(from = %peer.addr, "too many Via or header fields");
                        if let Some(resp) =
                            small_error(Some(&r.method), &r.headers, 400, "Too Many Headers")
                        {
                            reply(resp);
                        }
                        return;
                    }
                } else if limits.exceeded(msg.headers()) {
                    metrics.sip_oversized.inc();
                    return;
                }
                let shard = shard_of(msg.call_id().unwrap_or(""), shards.len());
                if let Some(tx) = shards.get(shard) {
                    let _ = tx.send(ShardInput::Inbound { msg, peer, now });
                }
            }
            Err(e) => {
                metrics.sip_parse_errors.inc();
                tracing::debug!(from = %peer.addr, status = e.status, reason = e.reason, "malformed SIP message");
                if e.headers.get_all("user-agent").any(is_scanner) {
                    metrics.sip_scanners_dropped.inc();
                    return;
                }
                let resp = if limits.exceeded(&e.headers) {
                    metrics.sip_oversized.inc();
                    small_error(e.method.as_ref(), &e.headers, e.status, e.reason)
                } else {
                    e.error_response(&super::tu::stateless_tag())
                };
                if let Some(resp) = resp {
                    reply(resp);
                }
            }
        }
    })
}
