//! WebRTC ↔ plain-RTP gateway.
//!
//! The server makes the SDP offer (audio, PCMU/PCMA/telephone-event at 8 kHz, ICE-lite, DTLS-SRTP,
//! rtcp-mux, non-trickle); each browser leg is bridged to a local UDP socket that speaks plain
//! RTP to the media engine.
//!
//! Modules: `config` (GatewayConfig), `error` (GatewayError), `ports` (browser-facing port
//! pool), `media` (codecs, engine settings, answer validation), `gateway` (WebRtcGateway::open),
//! `leg` (WebRtcLeg lifecycle), `bridge` (the two RTP pumps).

mod bridge;
mod config;
mod error;
mod gateway;
mod leg;
mod media;
mod ports;

pub use bridge::LegStats;
pub use config::GatewayConfig;
pub use error::GatewayError;
pub use gateway::WebRtcGateway;
pub use leg::{LegState, WebRtcLeg};
pub use media::{media_engine, parse_answer, PT_PCMA, PT_PCMU, PT_TELEPHONE_EVENT};
