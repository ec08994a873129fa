//! Checks on a parsed config, each problem pointing at the offending value.

use super::model::*;
use crate::diag::Diagnostic;
use crate::phone;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use toml::Spanned;

/// Smallest `min_se_s` accepted (RFC 4028 says 90; lower values only make tests fast).
const MIN_SE_FLOOR: u32 = 2;
/// Largest `session_expires_s` accepted.
const MAX_SESSION_EXPIRES: u32 = 86_400;

struct Checker<'a> {
    path: &'a Path,
    text: &'a str,
    diags: Vec<Diagnostic>,
}

impl Checker<'_> {
    fn err<T>(&mut self, at: &Spanned<T>, msg: impl Into<String>) {
        self.diags
            .push(Diagnostic::at(self.path, self.text, at.span().start, msg));
    }

    fn addr(&mut self, v: &Spanned<String>, what: &str) -> SocketAddr {
        match v.get_ref().parse() {
            Ok(a) => a,
            Err(_) => {
                self.err(
                    v,
                    format!(
                        "{what}: `{}` is not an address:port; write e.g. \"0.0.0.0:5060\"",
                        v.get_ref()
                    ),
                );
                SocketAddr::from(([0, 0, 0, 0], 0))
            }
        }
    }
}

impl Checker<'_> {
    /// `[outbound]`: each denied prefix is digits with an optional leading `+`.
    fn outbound(&mut self, raw: RawOutbound) -> crate::outbound::GateSettings {
        let d = crate::outbound::GateSettings::default();
        let denied_prefixes = match raw.denied_prefixes {
            None => d.denied_prefixes,
            Some(list) => {
                for p in &list {
                    let digits = p.get_ref().strip_prefix('+').unwrap_or(p.get_ref());
                    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
                        self.err(
                            p,
                            format!(
                                "outbound.denied_prefixes: `{}` is not a number prefix; write digits with an optional leading +, e.g. \"+1900\" or \"09\"",
                                p.get_ref()
                            ),
                        );
                    }
                }
                list.into_iter().map(Spanned::into_inner).collect()
            }
        };
        crate::outbound::GateSettings {
            denied_prefixes,
            max_per_number_per_day: raw
                .max_per_number_per_day
                .unwrap_or(d.max_per_number_per_day),
            max_per_requester_per_hour: raw
                .max_per_requester_per_hour
                .unwrap_or(d.max_per_requester_per_hour),
            max_per_hour: raw.max_per_hour.unwrap_or(d.max_per_hour),
            max_per_day: raw.max_per_day.unwrap_or(d.max_per_day),
        }
    }

    /// `[sip]` abuse defences: `never_ban` (CIDR; `trusted_trunks` are added), the failed-auth
    /// limiter and the Via/header caps. Every number must be positive.
    fn abuse(&mut self, sip: &RawSip, trusted: &[IpNet]) -> crate::sip::abuse::AbuseSettings {
        let mut never_ban = trusted.to_vec();
        for n in &sip.never_ban {
            match IpNet::parse(n.get_ref()) {
                Some(net) => never_ban.push(net),
                None => self.err(
                    n,
                    format!(
                        "never_ban: `{}` is not an IP network; write e.g. \"192.0.2.0/24\" or \"192.0.2.7/32\"",
                        n.get_ref()
                    ),
                ),
            }
        }
        let mut at_least = |v: u64, min: u64, at: &Spanned<()>, key: &str, hint: &str| {
            if v < min {
                self.err(
                    at,
                    format!("{key} = {v} is too small: at least {min} ({hint})"),
                );
            }
        };
        let span = |s: std::ops::Range<usize>| Spanned::new(s, ());
        at_least(
            sip.auth_fail_limit.get_ref().to_owned().into(),
            1,
            &span(sip.auth_fail_limit.span()),
            "auth_fail_limit",
            "failed authentications of one user from one address before it is refused",
        );
        at_least(
            *sip.auth_fail_window_s.get_ref(),
            1,
            &span(sip.auth_fail_window_s.span()),
            "auth_fail_window_s",
            "seconds over which failures are counted",
        );
        at_least(
            *sip.auth_ban_s.get_ref(),
            1,
            &span(sip.auth_ban_s.span()),
            "auth_ban_s",
            "seconds a refusal lasts",
        );
        at_least(
            sip.auth_fail_users_per_addr.get_ref().to_owned().into(),
            2,
            &span(sip.auth_fail_users_per_addr.span()),
            "auth_fail_users_per_addr",
            "different users failing from one address before the whole address is refused",
        );
        at_least(
            *sip.max_vias.get_ref() as u64,
            2,
            &span(sip.max_vias.span()),
            "max_vias",
            "Via entries a request may carry",
        );
        at_least(
            *sip.max_headers.get_ref() as u64,
            20,
            &span(sip.max_headers.span()),
            "max_headers",
            "header fields a request may carry",
        );
        crate::sip::abuse::AbuseSettings {
            fail_limit: *sip.auth_fail_limit.get_ref(),
            fail_window_s: *sip.auth_fail_window_s.get_ref(),
            ban_s: *sip.auth_ban_s.get_ref(),
            fail_users_per_addr: *sip.auth_fail_users_per_addr.get_ref(),
            never_ban,
            max_vias: *sip.max_vias.get_ref(),
            max_headers: *sip.max_headers.get_ref(),
        }
    }

    /// `[sip] session_expires_s` / `min_se_s` (RFC 4028 session timers).
    /// An ISO region code (`region = "US"`), upper-cased; `None` (and an error) when
    /// libphonenumber has no rules for it.
    fn region(&mut self, r: &Spanned<String>) -> Option<String> {
        if phone::known_region(r.get_ref()) {
            Some(r.get_ref().trim().to_ascii_uppercase())
        } else {
            self.err(
                r,
                format!(
                    "unknown region `{}`; use an ISO 3166 code such as {}",
                    r.get_ref(),
                    phone::region_codes().join(", ")
                ),
            );
            None
        }
    }

    fn session_timers(&mut self, se: &Spanned<u32>, min: &Spanned<u32>) {
        let (s, m) = (*se.get_ref(), *min.get_ref());
        if m < MIN_SE_FLOOR {
            self.err(min, format!("sip.min_se_s = {m}: the smallest session interval must be at least {MIN_SE_FLOOR} s (RFC 4028 says 90; below 90 is for tests only)"));
        } else if m > MAX_SESSION_EXPIRES {
            self.err(
                min,
                format!("sip.min_se_s = {m}: at most {MAX_SESSION_EXPIRES} s (one day)"),
            );
        }
        if s > MAX_SESSION_EXPIRES {
            self.err(se, format!("sip.session_expires_s = {s}: at most {MAX_SESSION_EXPIRES} s (one day); 0 turns session timers off"));
        } else if s != 0 && s < m {
            // Point at whichever of the two the file sets.
            let at = if se.span().is_empty() { min } else { se };
            self.err(at, format!("sip.session_expires_s = {s} is below sip.min_se_s = {m}: write 0 (session timers off) or at least {m}"));
        }
    }

    /// `[crm]`: the provider is `builtin` or `http`; `http` needs `[crm.http] base_url`, a
    /// plain `http://` URL.
    fn crm(&mut self, raw: RawCrm) -> CrmSettings {
        let provider = raw.provider.get_ref().clone();
        if provider != "builtin" && provider != "http" {
            self.err(
                &raw.provider,
                format!("unknown CRM provider `{provider}`; use \"builtin\" (our database) or \"http\" (an external CRM, with [crm.http] base_url)"),
            );
        }
        let http = raw.http.map(|h| {
            if let Some(url) = &h.base_url {
                if let Err(why) = check_crm_url(url.get_ref()) {
                    self.err(
                        url,
                        format!("[crm.http] base_url `{}` {why}", url.get_ref()),
                    );
                }
            }
            CrmHttpSettings {
                base_url: h.base_url.map(Spanned::into_inner).unwrap_or_default(),
                timeout_ms: h.timeout_ms,
                retries: h.retries,
                breaker_failures: h.breaker_failures,
                breaker_cooldown_ms: h.breaker_cooldown_ms,
                token_env: h.token_env,
            }
        });
        if provider == "http" && http.as_ref().is_none_or(|h| h.base_url.is_empty()) {
            self.err(
                &raw.provider,
                "provider \"http\" needs the CRM's address: add [crm.http] with base_url = \"http://crm.internal:9000\"",
            );
        }
        CrmSettings {
            provider,
            pop_timeout_ms: raw.pop_timeout_ms,
            repeat_days: raw.repeat_days,
            fcr_days: raw.fcr_days,
            dispositions: raw.dispositions,
            not_ready_reasons: raw.not_ready_reasons,
            demo_data: raw.demo_data,
            agent_grace_secs: raw.agent_grace_secs,
            http,
        }
    }
}

/// Why a CRM base URL is unusable, if it is.
fn check_crm_url(url: &str) -> Result<(), &'static str> {
    if url.starts_with("https://") {
        return Err("uses https, which the HTTP CRM connector does not speak; use plain http:// (put a TLS-terminating proxy next to helpline if the CRM is remote)");
    }
    if !url.starts_with("http://") {
        return Err("must start with http://, e.g. \"http://crm.internal:9000\"");
    }
    match url.parse::<hyper::Uri>() {
        Ok(u) if u.host().is_some_and(|h| !h.is_empty()) && u.query().is_none() => Ok(()),
        Ok(_) => Err("needs a host and no ?query, e.g. \"http://crm.internal:9000/api\""),
        Err(_) => Err("is not a valid URL, e.g. \"http://crm.internal:9000\""),
    }
}

pub(super) fn settings(
    path: &Path,
    text: &str,
    raw: RawSettings,
) -> Result<Settings, Vec<Diagnostic>> {
    let mut c = Checker {
        path,
        text,
        diags: Vec::new(),
    };
    let RawSettings {
        sip,
        http,
        database,
        media,
        paths,
        crm,
        reports,
        wallboard,
        server,
        outbound,
    } = raw;
    let outbound = c.outbound(outbound);
    if *server.node_id.get_ref() == 0 {
        c.err(
            &server.node_id,
            "[server] node_id must be 1 or more (each node sharing a database needs its own id)"
                .to_string(),
        );
    }

    let udp = c.addr(&sip.udp, "sip.udp");
    let tcp = c.addr(&sip.tcp, "sip.tcp");
    let region = sip.default_region.get_ref().clone();
    if !phone::known_region(&region) {
        c.err(
            &sip.default_region,
            format!(
                "unknown region `{region}`; use one of {}",
                phone::region_codes().join(", ")
            ),
        );
    }
    let mut support_numbers = Vec::new();
    for n in &sip.support_numbers {
        match phone::normalise(n.get_ref(), &region) {
            Some(e164) => support_numbers.push(e164),
            None => c.err(
                n,
                format!("support number `{}` is not a phone number; write it in E.164, e.g. \"+442079460000\"", n.get_ref()),
            ),
        }
    }
    let mut inband_dtmf_numbers = Vec::new();
    for n in &sip.inband_dtmf_numbers {
        match phone::normalise(n.get_ref(), &region) {
            Some(e164) if support_numbers.contains(&e164) => inband_dtmf_numbers.push(e164),
            Some(e164) => c.err(
                n,
                format!("in-band DTMF number `{e164}` is not one of support_numbers; list it there too"),
            ),
            None => c.err(
                n,
                format!("in-band DTMF number `{}` is not a phone number; write it in E.164, e.g. \"+442079460000\"", n.get_ref()),
            ),
        }
    }
    let mut trusted_trunks = Vec::new();
    for t in &sip.trusted_trunks {
        match IpNet::parse(t.get_ref()) {
            Some(net) => trusted_trunks.push(net),
            None => c.err(
                t,
                format!(
                    "`{}` is not an IP network; write e.g. \"203.0.113.0/24\"",
                    t.get_ref()
                ),
            ),
        }
    }
    let abuse = c.abuse(&sip, &trusted_trunks);
    let mut trunks = Vec::new();
    for t in sip.trunks {
        let proxy = c.addr(&t.proxy, "trunk proxy");
        let password = match (&t.password_env, t.password) {
            (Some(var), _) => std::env::var(var).ok(),
            (None, p) => p,
        };
        trunks.push(TrunkSettings {
            domain: t.domain.unwrap_or_else(|| proxy.ip().to_string()),
            name: t.name,
            proxy,
            username: t.username,
            password,
            register: t.register,
            register_expires: t.register_expires,
            region: t.region.as_ref().and_then(|r| c.region(r)),
        });
    }
    let mut direct = Vec::new();
    for d in sip.direct {
        let Some(number) = phone::normalise(d.number.get_ref(), &region) else {
            c.err(
                &d.number,
                format!(
                    "direct number `{}` is not a phone number",
                    d.number.get_ref()
                ),
            );
            continue;
        };
        let target = match (d.agent, d.trunk, d.dial) {
            (Some(agent), None, None) => DirectTarget::Agent(agent),
            (None, Some(trunk), Some(dial)) => {
                if !trunks
                    .iter()
                    .any(|t: &TrunkSettings| &t.name == trunk.get_ref())
                {
                    c.err(
                        &trunk,
                        format!(
                            "unknown trunk `{}`; define it under [[sip.trunks]]",
                            trunk.get_ref()
                        ),
                    );
                }
                match phone::normalise(dial.get_ref(), &region) {
                    Some(n) => DirectTarget::Trunk {
                        trunk: trunk.into_inner(),
                        number: n,
                    },
                    None => {
                        c.err(&dial, format!("`{}` is not a phone number", dial.get_ref()));
                        continue;
                    }
                }
            }
            _ => {
                c.err(&d.number, "a direct line needs either `agent = \"user\"` or `trunk = \"name\"` with `dial = \"+E164\"`");
                continue;
            }
        };
        direct.push(DirectLine {
            number,
            target,
            ring_secs: d.ring_secs,
            region: d.region.as_ref().and_then(|r| c.region(r)),
        });
    }
    let mut line_regions = Vec::new();
    for (number, r) in &sip.line_regions {
        let Some(region) = c.region(r) else { continue };
        match phone::normalise(number, &region) {
            Some(e164) if support_numbers.contains(&e164) => line_regions.push((e164, region)),
            Some(e164) => c.err(
                r,
                format!("[sip.line_regions] `{number}` ({e164}) is not one of support_numbers; list it there too"),
            ),
            None => c.err(r, format!("[sip.line_regions] `{number}` is not a phone number; write it in E.164")),
        }
    }
    for p in &sip.transfer_allow {
        if let Err(e) = crate::ivr::pattern::AllowList::parse(&[p.get_ref()]) {
            c.err(p, format!("transfer_allow pattern `{}`: {e}", p.get_ref()));
        }
    }
    c.session_timers(&sip.session_expires_s, &sip.min_se_s);
    let transfer_allow = sip
        .transfer_allow
        .into_iter()
        .map(|p| p.into_inner())
        .collect();
    let listen = c.addr(&http.listen, "http.listen");
    let tls = http.tls_listen.as_ref().map(|l| {
        let listen = c.addr(l, "http.tls_listen");
        let (cert, key, self_signed) = match (&http.tls_cert, &http.tls_key) {
            (Some(cert), Some(key)) => (cert.clone(), key.clone(), http.tls_self_signed),
            (None, None) if http.tls_self_signed => {
                ("data/tls/cert.pem".into(), "data/tls/key.pem".into(), true)
            }
            _ => {
                c.err(
                    l,
                    "http.tls_listen needs tls_cert and tls_key (PEM files), or tls_self_signed = true for a trial certificate",
                );
                (String::new(), String::new(), false)
            }
        };
        TlsSettings {
            listen,
            cert: PathBuf::from(cert),
            key: PathBuf::from(key),
            self_signed,
        }
    });

    let url = database.url.get_ref().clone();
    if !(url.starts_with("sqlite:")
        || url.starts_with("postgres://")
        || url.starts_with("postgresql://"))
    {
        c.err(&database.url, format!("database url `{url}` is neither sqlite: nor postgres://; e.g. \"sqlite://data/helpline.db\""));
    }
    let [wlo, whi] = *media.webrtc_ports.get_ref();
    if wlo < 1024 || wlo > whi {
        c.err(&media.webrtc_ports, format!("webrtc_ports [{wlo}, {whi}] must be an increasing range above 1023 (one port per browser call)"));
    }
    let webrtc_bind = media
        .webrtc_bind
        .as_ref()
        .and_then(|b| match b.get_ref().parse() {
            Ok(ip) => Some(ip),
            Err(_) => {
                c.err(
                    b,
                    format!("media.webrtc_bind: `{}` is not an IP address", b.get_ref()),
                );
                None
            }
        });
    let [lo, hi] = *media.rtp_ports.get_ref();
    if lo >= hi || lo < 1024 || hi - lo < 2 {
        c.err(&media.rtp_ports, format!("rtp_ports [{lo}, {hi}] must be an increasing range above 1023 with room for at least one port pair"));
    }

    let crm = c.crm(crm);
    let time_zone = match reports.time_zone.get_ref().parse::<chrono_tz::Tz>() {
        Ok(tz) => tz,
        Err(_) => {
            c.err(
                &reports.time_zone,
                format!(
                    "reports.time_zone `{}` is not a time zone; write an IANA name, e.g. \"Europe/London\"",
                    reports.time_zone.get_ref()
                ),
            );
            chrono_tz::UTC
        }
    };

    if !c.diags.is_empty() {
        return Err(c.diags);
    }
    let realm = sip.realm.unwrap_or_else(|| sip.domain.clone());
    Ok(Settings {
        source: path.to_path_buf(),
        sip: SipSettings {
            udp,
            tcp,
            advertised_host: sip.advertised_host.unwrap_or_else(|| default_host(udp)),
            domain: sip.domain,
            realm,
            support_numbers,
            inband_dtmf_numbers,
            default_region: region,
            line_regions,
            trusted_trunks,
            max_calls: sip.max_calls,
            retry_after_secs: sip.retry_after_secs,
            answer_after_ms: sip.answer_after_ms,
            t1_ms: sip.t1_ms.max(1),
            drain_timeout_secs: sip.drain_timeout_secs,
            registration_min_expires: sip.registration_min_expires,
            registration_max_expires: sip.registration_max_expires,
            nonce_ttl_secs: sip.nonce_ttl_secs,
            session_expires_s: sip.session_expires_s.into_inner(),
            min_se_s: sip.min_se_s.into_inner(),
            trunks,
            direct,
            transfer_allow,
            workers: sip.workers,
            abuse,
        },
        http: HttpSettings {
            listen,
            session_ttl_secs: http.session_ttl_secs,
            secure_cookies: http.secure_cookies.unwrap_or(tls.is_some()),
            metrics_token: http.metrics_token.filter(|t| !t.is_empty()),
            allowed_origins: http.allowed_origins,
            tls,
        },
        database: DatabaseSettings {
            url,
            queue_bound: database.queue_bound.max(1),
            spill_dir: PathBuf::from(database.spill_dir),
        },
        media: MediaSettings {
            rtp_port_min: lo,
            rtp_port_max: hi,
            advertised_address: media.advertised_address,
            media_timeout_secs: media.media_timeout_secs.max(1),
            hold_timeout_secs: media.hold_timeout_secs.max(media.media_timeout_secs.max(1)),
            max_call_s: media.max_call_s.max(1),
            webrtc_port_min: wlo,
            webrtc_port_max: whi,
            webrtc_bind,
            recordings_dir: PathBuf::from(media.recordings_dir),
        },
        paths: PathSettings {
            dialplans: PathBuf::from(paths.dialplans),
            prompts: PathBuf::from(paths.prompts),
            queues: PathBuf::from(paths.queues),
            agents: paths.agents.map(PathBuf::from),
            users: paths.users.map(PathBuf::from),
        },
        crm,
        reports: ReportSettings {
            time_zone,
            short_abandon_secs: reports.short_abandon_secs,
        },
        wallboard,
        server: ServerSettings {
            node_id: server.node_id.into_inner(),
            startup_retry_secs: server.startup_retry_secs,
        },
        outbound,
    })
}

fn default_host(bound: SocketAddr) -> String {
    if bound.ip().is_unspecified() {
        "127.0.0.1".to_string()
    } else {
        bound.ip().to_string()
    }
}
