//! What each subcommand does. Every error is returned as text the operator can act on.

use crate::config;
use crate::diag;
use std::path::{Path, PathBuf};

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
        let warnings = crate::roster::config_warnings(&settings);
        eprint!("{}", diag::render(&warnings));
        match warnings.len() {
            0 => println!("{}: ok", config_path.display()),
            n => println!("{}: ok ({n} warnings)", config_path.display()),
        }
        Ok(())
    } else {
        Err(diags.into())
    }
}

/// `helpline serve`; `node_id` (from `--node-id`) overrides `[server] node_id`.
pub fn serve(config_path: &Path, node_id: Option<u32>) -> Result<(), CliError> {
    let mut settings = config::load(config_path)?;
    if let Some(id) = node_id {
        if id == 0 {
            return Err(CliError("--node-id must be 1 or more".into()));
        }
        settings.server.node_id = id;
    }
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

/// `helpline import contacts|tickets FILE.csv`.
pub fn import(config_path: &Path, what: &str, file: &Path) -> Result<(), CliError> {
    let settings = config::load(config_path)?;
    let text =
        std::fs::read_to_string(file).map_err(|e| CliError(format!("{}: {e}", file.display())))?;
    runtime()?.block_on(async {
        let store = crate::store::migrate(&settings.database.url)
            .await
            .map_err(|e| CliError(format!("{}: {e}", settings.database.url)))?;
        let now = crate::events::now_ms();
        let bad = |errs: Vec<crate::crm::import::RowError>| {
            CliError(format!(
                "{}\n{}: {} bad rows; nothing imported",
                crate::crm::import::report(file, &errs),
                file.display(),
                errs.len()
            ))
        };
        let n = if what == "contacts" {
            let rows =
                crate::crm::import::contacts(&text, &settings.sip.default_region).map_err(bad)?;
            store
                .insert_contacts(&rows, now)
                .await
                .map_err(|e| CliError(format!("{}: nothing imported: {e}", file.display())))?;
            rows.len()
        } else {
            let accounts = store
                .account_index()
                .await
                .map_err(|e| CliError(format!("reading contacts: {e}")))?;
            let rows = crate::crm::import::tickets(&text, &accounts, now).map_err(bad)?;
            store
                .insert_tickets(&rows)
                .await
                .map_err(|e| CliError(format!("{}: nothing imported: {e}", file.display())))?;
            rows.len()
        };
        println!("{}: {n} {what} imported", file.display());
        Ok(())
    })
}

/// `helpline demo-data`.
pub fn demo_data(
    config_path: &Path,
    contacts: Option<usize>,
    per_contact: usize,
) -> Result<(), CliError> {
    let settings = config::load(config_path)?;
    runtime()?.block_on(async {
        let store = crate::store::migrate(&settings.database.url)
            .await
            .map_err(|e| CliError(format!("{}: {e}", settings.database.url)))?;
        let now = crate::events::now_ms();
        let fail = |e: crate::store::StoreError| CliError(format!("demo data: {e}"));
        match contacts {
            None => {
                let loaded = crate::crm::demo::load_if_empty(&store, now)
                    .await
                    .map_err(fail)?;
                println!(
                    "{}",
                    if loaded {
                        "demo data loaded"
                    } else {
                        "the CRM already has contacts; nothing loaded"
                    }
                );
            }
            Some(n) => {
                let step = 10_000;
                for start in (0..n).step_by(step) {
                    let k = step.min(n - start);
                    store
                        .insert_contacts(&crate::crm::demo::bulk_contacts(start, k), now)
                        .await
                        .map_err(fail)?;
                    store
                        .insert_tickets(&crate::crm::demo::bulk_tickets(start, k, per_contact, now))
                        .await
                        .map_err(fail)?;
                }
                crate::crm::demo::load_articles(&store)
                    .await
                    .map_err(fail)?;
                println!("{n} contacts and {} tickets generated", n * per_contact);
            }
        }
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

/// Options of `helpline loadgen`.
#[derive(clap::Args, Debug)]
pub struct LoadgenArgs {
    /// Server address, e.g. 127.0.0.1:5060.
    #[arg(long)]
    target: std::net::SocketAddr,
    /// Number dialled (Request-URI user).
    #[arg(long, default_value = "+442079460999")]
    number: String,
    #[arg(long, default_value = "4")]
    sockets: usize,
    /// Measure this process's CPU (utime+stime, with its children) per call.
    #[arg(long)]
    server_pid: Option<u32>,
    /// Seconds each call is held before BYE (concurrent mode: how long all are held).
    #[arg(long, default_value = "0")]
    hold: f64,
    /// Constant rate, calls/s.
    #[arg(long)]
    rate: Option<f64>,
    /// Duration of a constant-rate run, seconds.
    #[arg(long, default_value = "10")]
    duration: f64,
    /// Stepped rate START:STEP:MAX (stops at the first step with failures).
    #[arg(long)]
    step: Option<String>,
    #[arg(long, default_value = "10")]
    step_secs: f64,
    /// Open and hold this many dialogs at once.
    #[arg(long)]
    concurrent: Option<u64>,
    /// Write the JSON report here (the table still goes to stdout).
    #[arg(long)]
    json_file: Option<PathBuf>,
    /// Answered calls send RTP (20 ms PCMU frames) like IVR callers, counting what comes back.
    #[arg(long)]
    rtp: bool,
    /// Keys each caller presses in turn as RFC 4733 events, e.g. `123` (implies --rtp).
    #[arg(long)]
    digits: Option<String>,
    /// Seconds from the answer to the first key press.
    #[arg(long, default_value = "3")]
    first_digit: f64,
    /// Seconds between key presses.
    #[arg(long, default_value = "4")]
    digit_every: f64,
}

pub fn loadgen(a: LoadgenArgs) -> Result<(), CliError> {
    use crate::loadgen::{run_blocking, Mode, Options};
    let secs = |s: f64| {
        std::time::Duration::try_from_secs_f64(s)
            .map_err(|_| CliError(format!("`{s}` is not a duration")))
    };
    let mode = if let Some(spec) = &a.step {
        let parts: Vec<f64> = spec
            .split(':')
            .map(|p| {
                p.parse()
                    .map_err(|_| CliError(format!("--step: bad number `{p}`")))
            })
            .collect::<Result<_, _>>()?;
        let [start, step, max] = parts[..] else {
            return Err(CliError(
                "--step takes START:STEP:MAX, e.g. 1000:1000:10000".into(),
            ));
        };
        Mode::Stepped {
            start,
            step,
            max,
            step_duration: secs(a.step_secs)?,
        }
    } else if let Some(calls) = a.concurrent {
        Mode::Concurrent {
            calls,
            rate: a.rate.unwrap_or(1000.0),
        }
    } else {
        Mode::Constant {
            rate: a.rate.unwrap_or(100.0),
            duration: secs(a.duration)?,
        }
    };
    if let Some(d) = &a.digits {
        if d.is_empty()
            || !d
                .chars()
                .all(|c| c.is_ascii_digit() || c == '*' || c == '#')
        {
            return Err(CliError(format!(
                "--digits: `{d}` must be keys 0-9, * or #"
            )));
        }
    }
    let digits = match a.digits {
        Some(digits) => Some(crate::loadgen::caller_media::DigitPlan {
            digits,
            first_digit: secs(a.first_digit)?,
            digit_every: secs(a.digit_every)?,
        }),
        None => None,
    };
    let opts = Options {
        target: a.target,
        rtp: a.rtp,
        digits,
        number: a.number,
        sockets: a.sockets,
        server_pid: a.server_pid,
        hold: secs(a.hold)?,
        mode,
        ..Options::default()
    };
    let report = run_blocking(opts).map_err(|e| CliError(format!("loadgen: {e}")))?;
    if let Some(path) = a.json_file {
        let text = serde_json::to_string_pretty(&report).map_err(|e| CliError(e.to_string()))?;
        std::fs::write(&path, text).map_err(|e| CliError(format!("{}: {e}", path.display())))?;
    }
    let _ = std::io::Write::write_all(&mut std::io::stdout().lock(), report.to_string().as_bytes());
    Ok(())
}
