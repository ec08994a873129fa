//! Errors returned by the gateway.

use std::net::IpAddr;

/// Everything that can go wrong opening, negotiating or running a WebRTC leg.
#[derive(Debug, thiserror::Error)]
pub enum GatewayError {
    /// The [`GatewayConfig`](super::GatewayConfig) is unusable.
    #[error("invalid gateway config: {0}")]
    Config(String),
    /// Every port of the configured range is in use (or could not be bound).
    #[error("no free UDP port in {ip}:{min}-{max}")]
    NoFreePort { ip: IpAddr, min: u16, max: u16 },
    /// The browser's SDP answer is malformed, not an answer, or shares no codec with our offer.
    #[error("invalid SDP answer: {0}")]
    InvalidAnswer(String),
    /// `accept_answer` was called twice, or after `close`.
    #[error("leg {label}: {what}")]
    BadState { label: String, what: &'static str },
    /// A step of the WebRTC stack failed.
    #[error("webrtc {op}: {source}")]
    WebRtc {
        op: &'static str,
        #[source]
        source: webrtc::error::Error,
    },
    /// A step did not finish in time (e.g. ICE gathering).
    #[error("timed out waiting for {0}")]
    Timeout(&'static str),
    /// Local socket error.
    #[error("io: {0}")]
    Io(#[from] std::io::Error),
}

impl GatewayError {
    pub(crate) fn webrtc(op: &'static str) -> impl FnOnce(webrtc::error::Error) -> Self {
        move |source| GatewayError::WebRtc { op, source }
    }
}
