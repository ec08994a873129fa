//! Routing configuration: skills, queues and agents, as loaded from `config/queues.toml`
//! and `config/agents.toml` (see `raw` for the file format), checked with positions
//! (`check`) and compiled into the id-based model the router runs on (`model`).
//!
//! Entry points: [`load_files`] and [`load_str`] return the compiled [`AcdConfig`] plus
//! warnings, or every problem found as `file:line:column: message` diagnostics.
mod check;
mod compile;
pub mod model;
pub mod raw;

pub(crate) use compile::{compile, parse_toml, Src};
pub use compile::{load_files, load_str, Loaded};
pub use model::*;

#[cfg(test)]
mod tests;
