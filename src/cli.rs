//! What each subcommand does. Every error is returned as text the operator can act on.

use crate::config;
use crate::diag;
use std::path::Path;

/// Errors a subcommand reports to the terminal (already formatted, one problem per line).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct CliError(pub String);

impl From<Vec<diag::Diagnostic>> for CliError {
    fn from(d: Vec<diag::Diagnostic>) -> Self {
        CliError(diag::render(&d))
    }
}

pub fn check(config_path: &Path) -> Result<(), CliError> {
    let settings = config::load(config_path)?;
    let diags = crate::server::check_files(&settings);
    if diags.is_empty() {
        println!("{}: ok", config_path.display());
        Ok(())
    } else {
        Err(diags.into())
    }
}

pub fn serve(config_path: &Path) -> Result<(), CliError> {
    let settings = config::load(config_path)?;
    let diags = crate::server::check_files(&settings);
    if !diags.is_empty() {
        return Err(diags.into());
    }
    runtime()?
        .block_on(crate::server::run(settings))
        .map_err(|e| CliError(format!("helpline: {e:#}")))
}

pub fn migrate(config_path: &Path) -> Result<(), CliError> {
    let settings = config::load(config_path)?;
    runtime()?.block_on(async {
        crate::store::migrate(&settings.database.url)
            .await
            .map_err(|e| CliError(format!("migrate {}: {e}", settings.database.url)))?;
        println!("{}: schema up to date", settings.database.url);
        Ok(())
    })
}

pub fn hash_password(config_path: &Path, username: &str, role: &str) -> Result<(), CliError> {
    let realm = config::load(config_path)
        .map(|s| s.sip.realm)
        .unwrap_or_else(|_| "helpline.local".into());
    let mut password = String::new();
    std::io::stdin()
        .read_line(&mut password)
        .map_err(|e| CliError(format!("reading password from stdin: {e}")))?;
    let password = password.trim_end_matches(['\r', '\n']);
    if password.is_empty() {
        return Err(CliError("empty password on stdin".into()));
    }
    print!(
        "{}",
        crate::users::entry_toml(username, role, password, &realm)
    );
    Ok(())
}

fn runtime() -> Result<tokio::runtime::Runtime, CliError> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| CliError(format!("cannot start the async runtime: {e}")))
}

pub fn simulate(scenario: &Path, json: bool) -> Result<(), CliError> {
    let report =
        crate::acd::sim::run_scenario_file(scenario).map_err(|e| CliError(e.to_string()))?;
    let text = if json {
        serde_json::to_string_pretty(&report).map_err(|e| CliError(e.to_string()))? + "\n"
    } else {
        report.to_string()
    };
    // A closed pipe (`| head`) is not an error worth a panic.
    let _ = std::io::Write::write_all(&mut std::io::stdout().lock(), text.as_bytes());
    Ok(())
}
