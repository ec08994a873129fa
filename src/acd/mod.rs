//! Automatic call distribution: the skill-based router (sans-IO), its configuration
//! (`config`), the KPI definitions (`kpi`), the expected-wait estimator (`ewt`) and
//! the day simulator (`sim`) that drives the very same router in virtual time.
//!
//! Time everywhere in this module is a `u64` count of milliseconds ([`Millis`]) on a
//! monotonic clock chosen by the caller: the server passes milliseconds since its own
//! start (derived from `Instant`), the simulator passes virtual time.
pub mod config;
pub mod ewt;
pub mod kpi;
pub mod language;
pub mod router;
pub mod service;
pub mod sim;
pub mod types;

pub use router::{Action, Input, Router};
pub use types::*;
