//! IVR: dialplan files (`dialplans/*.toml`) loaded and checked into an immutable, versioned
//! `DialplanSet`, and a sans-IO per-call `engine::Session` that walks a caller through one.

pub mod build;
mod build_node;
pub mod check;
pub mod crm;
pub mod engine;
mod graph;
pub mod hours;
pub mod load;
pub mod model;
pub mod pattern;
pub mod prompts;
pub mod raw;
pub mod set;
