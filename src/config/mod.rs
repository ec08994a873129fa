//! Server settings: `config/helpline.toml` plus `HELPLINE_*` environment overrides.
//!
//! Loading never panics: a missing file, a TOML error or a bad value becomes a [`Diagnostic`]
//! pointing at `file:line:column`, and the caller (serve, check, reload) decides what to do.

mod env;
mod model;
mod validate;

pub use model::*;

use crate::diag::Diagnostic;
use std::path::Path;

/// The default config path, relative to the working directory.
pub const DEFAULT_PATH: &str = "config/helpline.toml";

/// Read, parse, apply environment overrides and validate the server config.
pub fn load(path: &Path) -> Result<Settings, Vec<Diagnostic>> {
    load_with_env(path, &env::process_env())
}

/// As [`load`], with an explicit environment (for tests).
pub fn load_with_env(path: &Path, vars: &[(String, String)]) -> Result<Settings, Vec<Diagnostic>> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        vec![Diagnostic::file(
            path,
            format!("cannot read config: {e}; pass --config <file> or create {DEFAULT_PATH}"),
        )]
    })?;
    let mut settings = parse(path, &text)?;
    env::apply(&mut settings, vars).map_err(|m| vec![Diagnostic::file(path, m)])?;
    settings.source = path.to_path_buf();
    Ok(settings)
}

/// Parse and validate the text of a config file.
pub fn parse(path: &Path, text: &str) -> Result<Settings, Vec<Diagnostic>> {
    let raw: model::RawSettings =
        toml::from_str(text).map_err(|e| vec![Diagnostic::from_toml(path, text, &e)])?;
    validate::settings(path, text, raw)
}

#[cfg(test)]
mod tests;
