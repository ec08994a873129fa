//! Shared helpers for integration tests: start the real `helpline` binary on free ports with a
//! temporary config and database, and stop it when the test ends.
#![allow(dead_code)]

pub mod sip_caller;

use std::io::Read;
use std::net::{SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct Server {
    pub child: Child,
    pub dir: PathBuf,
    pub sip: SocketAddr,
    pub http: SocketAddr,
    pub db_url: String,
    log: PathBuf,
    cfg: PathBuf,
}

/// A port free on loopback for both UDP and TCP (best effort; the OS may still race us).
pub fn free_port() -> u16 {
    loop {
        let tcp = TcpListener::bind("127.0.0.1:0").expect("bind tcp");
        let port = tcp.local_addr().expect("addr").port();
        if UdpSocket::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
}

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The shared folder beside the project (torture corpus), or None with the reason printed.
pub fn shared_dir() -> Option<PathBuf> {
    let p = repo().join("../shared");
    if p.join("sip-torture/index.tsv").exists() {
        Some(p)
    } else {
        eprintln!(
            "SKIP: ../shared/sip-torture not found beside the project; the corpus test needs it"
        );
        None
    }
}

pub fn binary() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_helpline"))
}

/// Database URL for a test: a fresh PostgreSQL database when `HELPLINE_TEST_DB=postgres` and
/// `HELPLINE_TEST_PG_URL` are set, else a SQLite file in `dir`.
pub fn test_db_url(dir: &Path, name: &str) -> String {
    if std::env::var("HELPLINE_TEST_DB").as_deref() == Ok("postgres") {
        if let Ok(admin) = std::env::var("HELPLINE_TEST_PG_URL") {
            let db = format!(
                "t_{}_{}",
                name.replace(|c: char| !c.is_ascii_alphanumeric(), "_"),
                std::process::id()
            );
            let _ = Command::new("psql")
                .arg(&admin)
                .arg("-qc")
                .arg(format!("DROP DATABASE IF EXISTS {db}"))
                .status();
            let ok = Command::new("psql")
                .arg(&admin)
                .arg("-qc")
                .arg(format!("CREATE DATABASE {db}"))
                .status();
            assert!(
                ok.map(|s| s.success()).unwrap_or(false),
                "could not create database {db}"
            );
            let base = admin.rsplit_once('/').map_or(admin.as_str(), |(b, _)| b);
            return format!("{base}/{db}");
        }
    }
    format!("sqlite://{}/helpline.db", dir.display())
}

impl Server {
    /// Start the server with the repository's sample config and `extra` TOML appended to the
    /// `[sip]` table (e.g. `t1_ms = 50`).
    pub fn start(name: &str, extra_sip: &str) -> Server {
        let server = Server::spawn(name, extra_sip);
        server.wait_ready();
        server
    }

    /// Like [`Server::start`] but without waiting for it to be ready (for starts that must fail).
    pub fn spawn(name: &str, extra_sip: &str) -> Server {
        Server::spawn_with(name, extra_sip, "")
    }

    /// Like [`Server::start`], with `extra_media` TOML appended to the `[media]` table too
    /// (e.g. `media_timeout_secs = 2`).
    pub fn start_with(name: &str, extra_sip: &str, extra_media: &str) -> Server {
        let server = Server::spawn_with(name, extra_sip, extra_media);
        server.wait_ready();
        server
    }

    pub fn spawn_with(name: &str, extra_sip: &str, extra_media: &str) -> Server {
        Server::spawn_edited(name, extra_sip, extra_media, |c| c)
    }

    /// Like [`Server::start_with`], with the whole config text passed through `edit` first
    /// (to change a key the test config already sets, e.g. `transfer_allow` or `dialplans`).
    pub fn start_edited(
        name: &str,
        extra_sip: &str,
        extra_media: &str,
        edit: impl FnOnce(String) -> String,
    ) -> Server {
        let server = Server::spawn_edited(name, extra_sip, extra_media, edit);
        server.wait_ready();
        server
    }

    fn spawn_edited(
        name: &str,
        extra_sip: &str,
        extra_media: &str,
        edit: impl FnOnce(String) -> String,
    ) -> Server {
        let dir = std::env::temp_dir().join(format!("helpline-test-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("temp dir");
        let port = free_port();
        let http_port = free_port();
        let db_url = test_db_url(&dir, name);
        let rtp_lo = 40000 + (port % 100) * 200;
        let cfg = format!(
            "[sip]\nudp = \"127.0.0.1:{port}\"\ntcp = \"127.0.0.1:{port}\"\ndomain = \"helpline.test\"\n\
             support_numbers = [\"+442079460000\", \"+18005550100\", \"+442079460999\"]\n\
             trusted_trunks = [\"127.0.0.2/32\"]\ntransfer_allow = [\"+4420794609XX\"]\nt1_ms = 100\ndrain_timeout_secs = 2\n{extra_sip}\n\
             [http]\nlisten = \"127.0.0.1:{http_port}\"\n\
             [database]\nurl = \"{db_url}\"\nspill_dir = \"{spill}\"\n\
             [media]\nrtp_ports = [{rtp_lo}, {rtp_hi}]\n{extra_media}\n\
             [paths]\ndialplans = \"{repo}/dialplans\"\nprompts = \"{repo}/dialplans/prompts\"\nqueues = \"{repo}/config/queues.toml\"\nagents = \"{repo}/tests/fixtures/agents.toml\"\nusers = \"{repo}/tests/fixtures/users.toml\"\n",
            spill = dir.join("spill").display(),
            rtp_hi = rtp_lo + 199,
            repo = repo().display(),
        );
        let cfg_path = dir.join("helpline.toml");
        std::fs::write(&cfg_path, edit(cfg)).expect("write config");
        let log = dir.join("server.log");
        let child = spawn_binary(&cfg_path, &log);
        Server {
            child,
            dir,
            sip: SocketAddr::from(([127, 0, 0, 1], port)),
            http: SocketAddr::from(([127, 0, 0, 1], http_port)),
            db_url,
            log,
            cfg: cfg_path,
        }
    }

    /// `kill -9`: the process dies at once, nothing is flushed or closed.
    pub fn kill9(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Start the binary again on the same config, database and log (appended); wait until ready.
    pub fn restart(&mut self) {
        self.respawn();
        self.wait_ready();
    }

    /// Start the binary again without waiting for it to be ready.
    pub fn respawn(&mut self) {
        assert!(!self.alive(), "restart while the server still runs");
        self.child = spawn_binary(&self.cfg, &self.log);
    }

    /// The exit status if the process ends within `timeout`.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<std::process::ExitStatus> {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }

    pub fn wait_ready(&self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if let Ok((200, _)) = http_get(self.http, "/healthz") {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("server did not become ready; log:\n{}", self.log_text());
    }

    /// The config file the server runs on (edit it, then restart).
    pub fn config_path(&self) -> &Path {
        &self.cfg
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Whether the process is still running.
    pub fn alive(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    pub fn terminate(&mut self) -> std::process::ExitStatus {
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status();
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return status;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        self.child.wait().expect("wait")
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            eprintln!("---- server log ----\n{}", self.log_text());
        }
    }
}

fn spawn_binary(cfg: &Path, log: &Path) -> Child {
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .expect("log file");
    Command::new(binary())
        .arg("--config")
        .arg(cfg)
        .arg("serve")
        .env(
            "RUST_LOG",
            std::env::var("RUST_LOG").unwrap_or_else(|_| "info".into()),
        )
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("start helpline")
}

/// Minimal HTTP/1.1 GET over loopback: (status, body).
pub fn http_get(addr: SocketAddr, path: &str) -> std::io::Result<(u16, String)> {
    use std::io::Write;
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(2))?;
    s.set_read_timeout(Some(Duration::from_secs(5)))?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )?;
    let mut out = String::new();
    s.read_to_string(&mut out)?;
    let status = out
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = out
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    Ok((status, body))
}
