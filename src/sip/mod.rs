//! SIP: message layer (types, parser, serializer, URIs, SDP, digest auth, stream framing),
//! the sans-IO transaction/dialog/leg core, the registrar, and the transport edge.

pub mod abuse;
pub mod auth;
pub mod auth_server;
mod builders;
pub mod framing;
pub mod headers;
pub mod message;
pub mod name_addr;
pub mod params;
pub mod parse;
pub mod sdp;
pub mod sdp_negotiate;
pub mod serialize;
#[cfg(test)]
mod torture_tests;
mod typed;
pub mod uri;
pub mod validate;
pub mod via;

pub mod dialog;
pub mod leg;
pub mod transaction;

pub mod endpoint;
pub mod registrar;
pub mod transport;
