//! `helpline simulate <scenario>`: a synthetic day (or a million calls) through the real
//! router in virtual time, reporting service level, ASA, abandonment and occupancy per
//! queue and interval — and, for textbook scenarios, the Erlang C/A figures beside them.
pub mod dist;
mod engine;
pub mod erlang;
pub mod report;
pub mod scenario;

#[cfg(test)]
mod tests;

pub use report::{Report, RunReport};
pub use scenario::Scenario;

use crate::diag::Diagnostic;
use std::path::Path;

#[derive(Debug, thiserror::Error)]
pub enum SimError {
    #[error("cannot read {path}: {err}")]
    Read { path: String, err: std::io::Error },
    #[error("{}", .0.iter().map(|d| d.to_string()).collect::<Vec<_>>().join("\n"))]
    Scenario(Vec<Diagnostic>),
}

/// Run one scenario variant.
pub fn run(sc: &Scenario) -> RunReport {
    engine::Engine::new(sc).run()
}

/// Parse and run a scenario given as text (baseline, then each what-if).
pub fn run_scenario_str(path: &Path, text: &str) -> Result<Report, SimError> {
    let variants = scenario::parse(path, text).map_err(SimError::Scenario)?;
    Ok(Report {
        scenario: path.display().to_string(),
        runs: variants.iter().map(run).collect(),
    })
}

/// What `helpline simulate <scenario>` calls.
pub fn run_scenario_file(path: &Path) -> Result<Report, SimError> {
    let text = std::fs::read_to_string(path).map_err(|err| SimError::Read {
        path: path.display().to_string(),
        err,
    })?;
    run_scenario_str(path, &text)
}
