//! The shape of `helpline.toml`: raw (as written, with source spans) and validated.

use serde::Deserialize;
use std::net::SocketAddr;
use std::path::PathBuf;
use toml::Spanned;

/// Validated settings the server runs on.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The file these settings came from.
    pub source: PathBuf,
    pub sip: SipSettings,
    pub http: HttpSettings,
    pub database: DatabaseSettings,
    pub media: MediaSettings,
    pub paths: PathSettings,
    pub crm: CrmSettings,
    pub reports: ReportSettings,
    pub wallboard: WallboardSettings,
    pub server: ServerSettings,
    /// `[outbound]`: the gate every billable leg passes (deny-list, caps, daily ceiling).
    pub outbound: crate::outbound::GateSettings,
}

/// `[server]`: who this server is among the nodes sharing a database, and how long it waits
/// for the database at start.
#[derive(Debug, Clone)]
pub struct ServerSettings {
    /// This node's id (1 by default). Calls are stored with it; a start closes only the calls
    /// its own node's earlier runs left open. Each node sharing a database needs its own id.
    pub node_id: u32,
    /// How long a start keeps retrying the database (connect, migrate, start-up reads) before
    /// it gives up with an error naming what could not be read and why.
    pub startup_retry_secs: u64,
}

impl Default for ServerSettings {
    fn default() -> Self {
        ServerSettings {
            node_id: 1,
            startup_retry_secs: 30,
        }
    }
}

/// `[reports]`: how supervisor figures are cut and counted.
#[derive(Debug, Clone)]
pub struct ReportSettings {
    /// The centre's time zone: report intervals and "today" on the wallboard follow it.
    pub time_zone: chrono_tz::Tz,
    /// Callers who hang up within this many seconds of queueing are short abandons.
    pub short_abandon_secs: u64,
}

impl Default for ReportSettings {
    fn default() -> Self {
        ReportSettings {
            time_zone: chrono_tz::Europe::London,
            short_abandon_secs: 5,
        }
    }
}

/// `[wallboard]`: colour thresholds of the queue tiles, as defaults and per queue.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WallboardSettings {
    pub thresholds: Thresholds,
    pub queues: std::collections::BTreeMap<String, Thresholds>,
}

/// When a tile turns amber (warn) or red (alert). Unset waits default to the queue's
/// service-level threshold (warn) and twice it (alert).
#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, serde::Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Thresholds {
    pub warn_wait_secs: Option<u64>,
    pub alert_wait_secs: Option<u64>,
    /// Service level (0..1) below which the tile warns / alerts.
    pub sl_warn: Option<f64>,
    pub sl_alert: Option<f64>,
}

impl WallboardSettings {
    /// The thresholds of one queue: its own, else the defaults, else derived from `sl_secs`.
    pub fn for_queue(&self, queue: &str, sl_secs: u64) -> Thresholds {
        let own = self.queues.get(queue).copied().unwrap_or_default();
        let d = self.thresholds;
        Thresholds {
            warn_wait_secs: own.warn_wait_secs.or(d.warn_wait_secs).or(Some(sl_secs)),
            alert_wait_secs: own
                .alert_wait_secs
                .or(d.alert_wait_secs)
                .or(Some(sl_secs * 2)),
            sl_warn: own.sl_warn.or(d.sl_warn).or(Some(0.8)),
            sl_alert: own.sl_alert.or(d.sl_alert).or(Some(0.7)),
        }
    }
}

#[derive(Debug, Clone)]
pub struct SipSettings {
    pub udp: SocketAddr,
    pub tcp: SocketAddr,
    /// Host (name or address) we put in Via, Contact and as the digest realm default.
    pub domain: String,
    pub realm: String,
    /// Address written into our Via/Contact headers; defaults to the bound address or 127.0.0.1.
    pub advertised_host: String,
    /// E.164 numbers this server answers (normalised).
    pub support_numbers: Vec<String>,
    /// Support numbers whose callers' digits are also listened for as tones in the audio
    /// (Goertzel), for gateways that do not send RFC 4733 events. A subset of `support_numbers`.
    pub inband_dtmf_numbers: Vec<String>,
    /// ISO region used to normalise national numbers ("GB": 020… → +4420…) when neither the
    /// line called nor the trunk it came from has a region of its own.
    pub default_region: String,
    /// Regions of support numbers answered for other countries (`[sip.line_regions]`,
    /// E.164 → ISO region): their callers' numbers are read by that country's rules.
    pub line_regions: Vec<(String, String)>,
    /// Peers whose P-Asserted-Identity is believed.
    pub trusted_trunks: Vec<IpNet>,
    pub max_calls: usize,
    pub retry_after_secs: u32,
    /// Ring this long (180) before answering; 0 answers at once.
    pub answer_after_ms: u64,
    pub t1_ms: u64,
    pub drain_timeout_secs: u64,
    pub registration_min_expires: u32,
    pub registration_max_expires: u32,
    pub nonce_ttl_secs: u64,
    /// RFC 4028 session interval asked for / accepted, seconds; 0 = no session timers.
    pub session_expires_s: u32,
    /// Smallest session interval accepted (422 below it), seconds; 90 per RFC 4028.
    pub min_se_s: u32,
    pub trunks: Vec<TrunkSettings>,
    /// Direct lines: numbers that bypass the IVR and ring one agent or an external number.
    pub direct: Vec<DirectLine>,
    /// External numbers the IVR may transfer to (E.164 patterns, `X` = any digit). Anything
    /// else is refused at check time and at run time: toll fraud is the classic PBX breach.
    pub transfer_allow: Vec<String>,
    /// Worker shards for SIP processing (0 = number of CPUs).
    pub workers: usize,
    /// Abuse defences: failed-auth limiter, never-ban list (includes `trusted_trunks`),
    /// Via and header caps (`never_ban`, `auth_fail_*`, `auth_ban_s`, `max_vias`, `max_headers`).
    pub abuse: crate::sip::abuse::AbuseSettings,
}

/// A number that rings one place directly (an agent's own line, or a forward to a trunk).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirectLine {
    pub number: String,
    pub target: DirectTarget,
    /// Give up ringing after this long (then 480 to the caller).
    pub ring_secs: u64,
    /// The country whose rules read callers' numbers on this line (default: `default_region`).
    pub region: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DirectTarget {
    /// Ring the registered phones of this user.
    Agent(String),
    /// Dial `number` through the named trunk.
    Trunk { trunk: String, number: String },
}

#[derive(Debug, Clone)]
pub struct TrunkSettings {
    pub name: String,
    /// Where INVITEs for external numbers go, e.g. `sip:gw.example.net:5060`.
    pub proxy: SocketAddr,
    pub domain: String,
    pub username: Option<String>,
    pub password: Option<String>,
    pub register: bool,
    pub register_expires: u32,
    /// The country of the numbers this trunk sends (calls from its proxy address), when it
    /// is not `default_region`.
    pub region: Option<String>,
}

impl SipSettings {
    /// The region of the trunk whose proxy is `source`, else `default_region`: the rules the
    /// dialled number is read by.
    pub fn trunk_region(&self, source: std::net::IpAddr) -> &str {
        self.trunks
            .iter()
            .find(|t| t.proxy.ip() == source)
            .and_then(|t| t.region.as_deref())
            .unwrap_or(&self.default_region)
    }

    /// The region whose rules read the caller's number on a call from `source` to `called`
    /// (E.164): the line's own (`line_regions`, a direct line's `region`), else the trunk's,
    /// else `default_region`.
    pub fn line_region(&self, source: std::net::IpAddr, called: &str) -> &str {
        let line = self
            .line_regions
            .iter()
            .find(|(n, _)| n == called)
            .map(|(_, r)| r.as_str())
            .or_else(|| {
                self.direct
                    .iter()
                    .find(|d| d.number == called)
                    .and_then(|d| d.region.as_deref())
            });
        line.unwrap_or_else(|| self.trunk_region(source))
    }
}

#[derive(Debug, Clone)]
pub struct HttpSettings {
    pub listen: SocketAddr,
    pub session_ttl_secs: u64,
    /// Mark cookies `Secure`: by default when HTTPS is on (`tls_listen`), or as configured.
    pub secure_cookies: bool,
    /// Bearer token for `/metrics` from addresses other than loopback (which may scrape
    /// without one). Without a token, `/metrics` answers loopback only.
    pub metrics_token: Option<String>,
    /// Extra origins allowed to open the agent/supervisor sockets (besides same-origin).
    pub allowed_origins: Vec<String>,
    /// HTTPS/WSS (browsers give a page the microphone only in a secure context).
    pub tls: Option<TlsSettings>,
}

/// `[http] tls_listen` with a certificate: configured files, or self-signed on first run.
#[derive(Debug, Clone)]
pub struct TlsSettings {
    pub listen: SocketAddr,
    pub cert: PathBuf,
    pub key: PathBuf,
    /// Generate `cert`/`key` (self-signed) when they do not exist.
    pub self_signed: bool,
}

#[derive(Debug, Clone)]
pub struct DatabaseSettings {
    pub url: String,
    /// Events held in memory before spilling to `spill_dir`.
    pub queue_bound: usize,
    pub spill_dir: PathBuf,
}

#[derive(Debug, Clone)]
pub struct MediaSettings {
    pub rtp_port_min: u16,
    pub rtp_port_max: u16,
    pub advertised_address: Option<String>,
    /// No RTP and no RTCP from a caller for this long ends the call (always on).
    pub media_timeout_secs: u64,
    /// The same while the caller holds the call with an inactive stream (at least the above).
    pub hold_timeout_secs: u64,
    /// Longest a call may last; then it is hung up with the stored cause `max_call_length`.
    pub max_call_s: u64,
    /// Browser-facing (ICE/DTLS/SRTP) ports of the WebRTC gateway: one per browser call.
    pub webrtc_port_min: u16,
    pub webrtc_port_max: u16,
    /// Local address the WebRTC sockets bind to (default: the advertised media address).
    pub webrtc_bind: Option<std::net::IpAddr>,
    /// Where call recordings (queues with `record = true`) are written, one WAV per answered
    /// call: `<dir>/<yyyy-mm-dd>/<call id>-<n>.wav`.
    pub recordings_dir: PathBuf,
}

#[derive(Debug, Clone)]
pub struct PathSettings {
    pub dialplans: PathBuf,
    pub prompts: PathBuf,
    pub queues: PathBuf,
    pub agents: Option<PathBuf>,
    pub users: Option<PathBuf>,
}

/// An IPv4/IPv6 network in CIDR form, e.g. `10.0.0.0/8` or `::1/128`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IpNet {
    pub addr: std::net::IpAddr,
    pub prefix: u8,
}

impl IpNet {
    pub fn parse(s: &str) -> Option<IpNet> {
        let (addr, prefix) = match s.split_once('/') {
            Some((a, p)) => (a.parse().ok()?, p.parse().ok()?),
            None => {
                let a: std::net::IpAddr = s.parse().ok()?;
                (a, if a.is_ipv4() { 32 } else { 128 })
            }
        };
        let max = if matches!(addr, std::net::IpAddr::V4(_)) {
            32
        } else {
            128
        };
        (prefix <= max).then_some(IpNet { addr, prefix })
    }

    /// Whether `ip` lies in this network (IPv4-mapped IPv6 addresses count as IPv4).
    pub fn contains(&self, ip: std::net::IpAddr) -> bool {
        use std::net::IpAddr::{V4, V6};
        let ip = match ip {
            V6(v) => v.to_ipv4_mapped().map_or(ip, V4),
            v4 => v4,
        };
        match (self.addr, ip) {
            (V4(net), V4(ip)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(net) & mask == u32::from(ip) & mask
            }
            (V6(net), V6(ip)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(net) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }
}

// ---- raw, as written ----

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct RawSettings {
    pub sip: RawSip,
    pub http: RawHttp,
    pub database: RawDatabase,
    pub media: RawMedia,
    pub paths: RawPaths,
    pub crm: RawCrm,
    pub reports: RawReports,
    pub wallboard: WallboardSettings,
    pub server: RawServer,
    pub outbound: RawOutbound,
}

/// `[outbound]` as written: unset keys take [`crate::outbound::GateSettings::default`].
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct RawOutbound {
    /// Replaces the default premium-rate list when set.
    pub denied_prefixes: Option<Vec<Spanned<String>>>,
    pub max_per_number_per_day: Option<u32>,
    pub max_per_requester_per_hour: Option<u32>,
    pub max_per_hour: Option<u32>,
    pub max_per_day: Option<u32>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct RawServer {
    pub node_id: Spanned<u32>,
    pub startup_retry_secs: u64,
}

impl Default for RawServer {
    fn default() -> Self {
        let d = ServerSettings::default();
        RawServer {
            node_id: Spanned::new(0..0, d.node_id),
            startup_retry_secs: d.startup_retry_secs,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct RawReports {
    pub time_zone: Spanned<String>,
    pub short_abandon_secs: u64,
}

impl Default for RawReports {
    fn default() -> Self {
        RawReports {
            time_zone: Spanned::new(0..0, "Europe/London".into()),
            short_abandon_secs: 5,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct RawSip {
    pub udp: Spanned<String>,
    pub tcp: Spanned<String>,
    pub domain: String,
    pub realm: Option<String>,
    pub advertised_host: Option<String>,
    pub support_numbers: Vec<Spanned<String>>,
    pub inband_dtmf_numbers: Vec<Spanned<String>>,
    pub default_region: Spanned<String>,
    pub line_regions: std::collections::BTreeMap<String, Spanned<String>>,
    pub trusted_trunks: Vec<Spanned<String>>,
    pub max_calls: usize,
    pub retry_after_secs: u32,
    /// Ring this long (180) before answering; 0 answers at once.
    pub answer_after_ms: u64,
    pub t1_ms: u64,
    pub drain_timeout_secs: u64,
    pub registration_min_expires: u32,
    pub registration_max_expires: u32,
    pub nonce_ttl_secs: u64,
    pub session_expires_s: Spanned<u32>,
    pub min_se_s: Spanned<u32>,
    pub workers: usize,
    /// Addresses (CIDR) never banned by the failed-auth limiter; `trusted_trunks` are added.
    pub never_ban: Vec<Spanned<String>>,
    pub auth_fail_limit: Spanned<u32>,
    pub auth_fail_window_s: Spanned<u64>,
    pub auth_ban_s: Spanned<u64>,
    pub auth_fail_users_per_addr: Spanned<u32>,
    pub max_vias: Spanned<usize>,
    pub max_headers: Spanned<usize>,
    pub trunks: Vec<RawTrunk>,
    pub direct: Vec<RawDirect>,
    pub transfer_allow: Vec<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawDirect {
    pub number: Spanned<String>,
    pub agent: Option<String>,
    pub trunk: Option<Spanned<String>>,
    pub dial: Option<Spanned<String>>,
    #[serde(default = "default_ring_secs")]
    pub ring_secs: u64,
    pub region: Option<Spanned<String>>,
}

fn default_ring_secs() -> u64 {
    30
}

impl Default for RawSip {
    fn default() -> Self {
        RawSip {
            udp: Spanned::new(0..0, "0.0.0.0:5060".into()),
            tcp: Spanned::new(0..0, "0.0.0.0:5060".into()),
            domain: "helpline.local".into(),
            realm: None,
            advertised_host: None,
            support_numbers: Vec::new(),
            inband_dtmf_numbers: Vec::new(),
            default_region: Spanned::new(0..0, "GB".into()),
            line_regions: Default::default(),
            trusted_trunks: Vec::new(),
            max_calls: 20_000,
            retry_after_secs: 5,
            answer_after_ms: 0,
            t1_ms: 500,
            drain_timeout_secs: 30,
            registration_min_expires: 60,
            registration_max_expires: 3600,
            nonce_ttl_secs: 300,
            session_expires_s: Spanned::new(0..0, 1800),
            min_se_s: Spanned::new(0..0, 90),
            workers: 0,
            never_ban: Vec::new(),
            auth_fail_limit: Spanned::new(0..0, 10),
            auth_fail_window_s: Spanned::new(0..0, 300),
            auth_ban_s: Spanned::new(0..0, 900),
            auth_fail_users_per_addr: Spanned::new(0..0, 20),
            max_vias: Spanned::new(0..0, 70),
            max_headers: Spanned::new(0..0, 100),
            trunks: Vec::new(),
            direct: Vec::new(),
            transfer_allow: Vec::new(),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawTrunk {
    pub name: String,
    pub proxy: Spanned<String>,
    pub domain: Option<String>,
    pub username: Option<String>,
    /// Read from this environment variable instead of the file, e.g. `HELPLINE_TRUNK_PASSWORD`.
    pub password_env: Option<String>,
    pub password: Option<String>,
    #[serde(default)]
    pub register: bool,
    #[serde(default = "default_register_expires")]
    pub register_expires: u32,
    pub region: Option<Spanned<String>>,
}

fn default_register_expires() -> u32 {
    600
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct RawHttp {
    pub listen: Spanned<String>,
    pub session_ttl_secs: u64,
    /// Unset: `Secure` exactly when `tls_listen` is set.
    pub secure_cookies: Option<bool>,
    pub metrics_token: Option<String>,
    pub allowed_origins: Vec<String>,
    pub tls_listen: Option<Spanned<String>>,
    pub tls_cert: Option<String>,
    pub tls_key: Option<String>,
    pub tls_self_signed: bool,
}

impl Default for RawHttp {
    fn default() -> Self {
        RawHttp {
            listen: Spanned::new(0..0, "0.0.0.0:8080".into()),
            session_ttl_secs: 12 * 3600,
            secure_cookies: None,
            metrics_token: None,
            allowed_origins: Vec::new(),
            tls_listen: None,
            tls_cert: None,
            tls_key: None,
            tls_self_signed: false,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct RawDatabase {
    pub url: Spanned<String>,
    pub queue_bound: usize,
    pub spill_dir: String,
}

impl Default for RawDatabase {
    fn default() -> Self {
        RawDatabase {
            url: Spanned::new(0..0, "sqlite://data/helpline.db".into()),
            queue_bound: 100_000,
            spill_dir: "data/spill".into(),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct RawMedia {
    pub rtp_ports: Spanned<[u16; 2]>,
    pub advertised_address: Option<String>,
    pub media_timeout_secs: u64,
    pub hold_timeout_secs: u64,
    pub max_call_s: u64,
    pub webrtc_ports: Spanned<[u16; 2]>,
    pub webrtc_bind: Option<Spanned<String>>,
    pub recordings_dir: String,
}

impl Default for RawMedia {
    fn default() -> Self {
        RawMedia {
            rtp_ports: Spanned::new(0..0, [20000, 29999]),
            advertised_address: None,
            media_timeout_secs: 60,
            hold_timeout_secs: 600,
            max_call_s: 14_400,
            webrtc_ports: Spanned::new(0..0, [18000, 18999]),
            webrtc_bind: None,
            recordings_dir: "data/recordings".into(),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct RawPaths {
    pub dialplans: String,
    pub prompts: String,
    pub queues: String,
    pub agents: Option<String>,
    pub users: Option<String>,
}

impl Default for RawPaths {
    fn default() -> Self {
        RawPaths {
            dialplans: "dialplans".into(),
            prompts: "dialplans/prompts".into(),
            queues: "config/queues.toml".into(),
            agents: Some("config/agents.toml".into()),
            users: Some("config/users.toml".into()),
        }
    }
}

/// `[crm]` as written (the provider and base URL keep their position for error messages).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct RawCrm {
    pub provider: Spanned<String>,
    pub pop_timeout_ms: u64,
    pub repeat_days: u32,
    pub fcr_days: u32,
    pub dispositions: Vec<Disposition>,
    pub not_ready_reasons: Vec<String>,
    pub demo_data: bool,
    pub agent_grace_secs: u64,
    pub http: Option<RawCrmHttp>,
}

impl Default for RawCrm {
    fn default() -> Self {
        let d = CrmSettings::default();
        RawCrm {
            provider: Spanned::new(0..0, d.provider),
            pop_timeout_ms: d.pop_timeout_ms,
            repeat_days: d.repeat_days,
            fcr_days: d.fcr_days,
            dispositions: d.dispositions,
            not_ready_reasons: d.not_ready_reasons,
            demo_data: d.demo_data,
            agent_grace_secs: d.agent_grace_secs,
            http: None,
        }
    }
}

/// `[crm.http]` as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct RawCrmHttp {
    pub base_url: Option<Spanned<String>>,
    pub timeout_ms: u64,
    pub retries: u32,
    pub breaker_failures: u32,
    pub breaker_cooldown_ms: u64,
    pub token_env: Option<String>,
}

impl Default for RawCrmHttp {
    fn default() -> Self {
        let d = CrmHttpSettings::default();
        RawCrmHttp {
            base_url: None,
            timeout_ms: d.timeout_ms,
            retries: d.retries,
            breaker_failures: d.breaker_failures,
            breaker_cooldown_ms: d.breaker_cooldown_ms,
            token_env: d.token_env,
        }
    }
}

/// `[crm]`: where contacts and tickets come from, and the agent's wrap-up choices.
#[derive(Debug, Clone)]
pub struct CrmSettings {
    /// `builtin` (our database) or `http` (an external CRM, see `[crm.http]`).
    pub provider: String,
    /// A pop not ready within this long goes out marked "CRM unavailable".
    pub pop_timeout_ms: u64,
    /// Callers who called within this many days are flagged as repeat callers.
    pub repeat_days: u32,
    /// First-contact resolution: no repeat call about the ticket within this many days.
    pub fcr_days: u32,
    /// Wrap-up disposition codes the agent chooses from.
    pub dispositions: Vec<Disposition>,
    /// Reasons an agent may give for not-ready.
    pub not_ready_reasons: Vec<String>,
    /// Load the demo contacts, tickets and articles on start when the CRM is empty.
    pub demo_data: bool,
    /// An agent whose page closed (and who has no registered phone) leaves routing after this.
    pub agent_grace_secs: u64,
    pub http: Option<CrmHttpSettings>,
}

#[derive(Debug, Clone, Deserialize, serde::Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Disposition {
    pub code: String,
    pub label: String,
}

/// `[crm.http]`: an external CRM spoken to over HTTP/JSON (see `crate::crm::http`).
#[derive(Debug, Clone)]
pub struct CrmHttpSettings {
    /// e.g. `http://crm.internal:9000` (plain http only).
    pub base_url: String,
    pub timeout_ms: u64,
    /// Extra attempts after a failed lookup (outcomes are retried from the outbox forever).
    pub retries: u32,
    /// Consecutive failures that open the circuit breaker…
    pub breaker_failures: u32,
    /// …and how long it stays open before one trial request.
    pub breaker_cooldown_ms: u64,
    /// Environment variable holding a bearer token, if the CRM wants one.
    pub token_env: Option<String>,
}

impl Default for CrmHttpSettings {
    fn default() -> Self {
        CrmHttpSettings {
            base_url: String::new(),
            timeout_ms: 800,
            retries: 1,
            breaker_failures: 5,
            breaker_cooldown_ms: 10_000,
            token_env: None,
        }
    }
}

impl Default for CrmSettings {
    fn default() -> Self {
        let d = |code: &str, label: &str| Disposition {
            code: code.into(),
            label: label.into(),
        };
        CrmSettings {
            provider: "builtin".into(),
            pop_timeout_ms: 300,
            repeat_days: 7,
            fcr_days: 7,
            dispositions: vec![
                d("resolved", "Resolved"),
                d("information", "Information given"),
                d("follow-up", "Follow-up needed"),
                d("escalated", "Escalated"),
                d("wrong-number", "Wrong number"),
            ],
            not_ready_reasons: vec![
                "break".into(),
                "lunch".into(),
                "meeting".into(),
                "training".into(),
                "admin".into(),
            ],
            demo_data: false,
            agent_grace_secs: 10,
            http: None,
        }
    }
}
