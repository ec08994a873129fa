//! The agent desktop: the agent socket's protocol ([`protocol`]) and the hub between pages,
//! calls and the router ([`Desk`]). The socket I/O itself is in `web::agent_ws`.

mod hub;
pub mod protocol;

pub use hub::{Desk, DeskCommand, DeskRules, MonitorMode};
