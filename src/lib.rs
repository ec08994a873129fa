//! helpline: a call-centre routing server. See README.md and DESIGN.md for the map.

pub mod acd;
pub mod call;
pub mod cli;
pub mod config;
pub mod crm;
pub mod desk;
pub mod diag;
pub mod events;
pub mod ivr;
pub mod loadgen;
pub mod media;
pub mod metrics;
pub mod outbound;
pub mod phone;
pub mod reports;
pub mod roster;
pub mod server;
pub mod sip;
pub mod store;
pub mod supervisor;
pub mod telemetry;
pub mod users;
pub mod web;
pub mod webrtc;
