//! The `helpline` command: serve, check, migrate and the operator tools.

use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser)]
#[command(name = "helpline", version, about = "Call-centre routing server")]
struct Cli {
    /// Server config file.
    #[arg(long, short, global = true, default_value = helpline::config::DEFAULT_PATH)]
    config: PathBuf,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server (the default).
    Serve {
        /// This node's id among servers sharing one database (overrides `[server] node_id`).
        #[arg(long)]
        node_id: Option<u32>,
    },
    /// Validate the config, queues and dialplans; print `file:line:column: why` for each problem.
    Check,
    /// Create or upgrade the database schema and exit.
    Migrate,
    /// Run the routing engine over a synthetic day (scenario file) and print SL, ASA, abandon
    /// and occupancy per queue and interval.
    Simulate {
        scenario: PathBuf,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
    },
    /// SIP load generator (UDP): INVITE→200→ACK→BYE at a constant or stepped rate, or N
    /// concurrent dialogs held; reports calls/s, failures, retransmissions, answer latency and
    /// the server's CPU per call. See benches/sip-load.sh.
    Loadgen(helpline::cli::LoadgenArgs),
    /// Import contacts or tickets from CSV: every row checked first, all or nothing, bad rows
    /// reported as `file:line: why`.
    Import {
        #[arg(value_parser = ["contacts", "tickets"])]
        what: String,
        file: PathBuf,
    },
    /// Load the demo contacts, tickets and knowledge-base articles (if the CRM is empty), or
    /// with --contacts/--tickets-per-contact a generated data set for benchmarks.
    DemoData {
        #[arg(long)]
        contacts: Option<usize>,
        #[arg(long, default_value_t = 10)]
        tickets_per_contact: usize,
    },
    /// Print a users.toml entry (argon2 password hash and SIP digest HA1s); password on stdin.
    HashPassword {
        username: String,
        #[arg(long, default_value = "agent")]
        role: String,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    helpline::telemetry::init();
    let result = match cli.command.unwrap_or(Command::Serve { node_id: None }) {
        Command::Serve { node_id } => helpline::cli::serve(&cli.config, node_id),
        Command::Check => helpline::cli::check(&cli.config),
        Command::Migrate => helpline::cli::migrate(&cli.config),
        Command::Simulate { scenario, json } => helpline::cli::simulate(&scenario, json),
        Command::Loadgen(args) => helpline::cli::loadgen(args),
        Command::Import { what, file } => helpline::cli::import(&cli.config, &what, &file),
        Command::DemoData {
            contacts,
            tickets_per_contact,
        } => helpline::cli::demo_data(&cli.config, contacts, tickets_per_contact),
        Command::HashPassword { username, role } => {
            helpline::cli::hash_password(&cli.config, &username, &role)
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprint!("{e}");
            if !e.to_string().ends_with('\n') {
                eprintln!();
            }
            ExitCode::FAILURE
        }
    }
}
