//! From bytes to a shard: parse on the transport task, count, and dispatch by Call-ID.
//! Unparsable requests get their stateless error response (400, 505…) when one can be built;
//! everything else malformed is dropped and counted. Nothing here can panic on input.

use super::shard::ShardInput;
use super::shard_of;
use crate::metrics::{method_label, Metrics};
use crate::sip::message::Message;
use crate::sip::transaction::{response_peer, stamp_top_via, Peer};
use crate::sip::transport::Ingress;
use bytes::Bytes;
use std::sync::Arc;
use std::time::Instant;
use tokio::sync::mpsc::UnboundedSender;

pub(super) fn ingress(
    shards: Arc<Vec<UnboundedSender<ShardInput>>>,
    metrics: Arc<Metrics>,
) -> Ingress {
    Arc::new(move |bytes: Bytes, peer: Peer| {
        let now = Instant::now();
        match Message::parse_bytes(bytes) {
            Ok(msg) => {
                if let Message::Request(r) = &msg {
                    metrics
                        .sip_requests
                        .with_label_values(&[method_label(r.method.as_str())])
                        .inc();
                }
                let shard = shard_of(msg.call_id().unwrap_or(""), shards.len());
                if let Some(tx) = shards.get(shard) {
                    let _ = tx.send(ShardInput::Inbound { msg, peer, now });
                }
            }
            Err(e) => {
                metrics.sip_parse_errors.inc();
                tracing::debug!(from = %peer.addr, status = e.status, reason = e.reason, "malformed SIP message");
                let Some(mut resp) = e.error_response(&super::tu::stateless_tag()) else {
                    return;
                };
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
            }
        }
    })
}
