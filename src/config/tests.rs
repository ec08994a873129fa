use super::*;
use std::path::Path;

#[test]
fn empty_file_gives_documented_defaults() {
    let s = parse(Path::new("c.toml"), "").expect("defaults");
    assert_eq!(s.sip.udp.port(), 5060);
    assert_eq!(s.sip.tcp.port(), 5060);
    assert_eq!(s.http.listen.port(), 8080);
    assert_eq!(s.database.url, "sqlite://data/helpline.db");
}

#[test]
fn bad_values_point_at_their_line() {
    let text =
        "[sip]\nudp = \"0.0.0.0:5060\"\nsupport_numbers = [\"+442079460000\", \"help me\"]\n";
    let errs = parse(Path::new("c.toml"), text).unwrap_err();
    assert_eq!(errs.len(), 1);
    assert!(
        errs[0]
            .to_string()
            .starts_with("c.toml:3:37: support number `help me`"),
        "{}",
        errs[0]
    );
}

#[test]
fn inband_dtmf_numbers_must_be_support_numbers() {
    let ok =
        "[sip]\nsupport_numbers = [\"+442079460000\"]\ninband_dtmf_numbers = [\"020 7946 0000\"]\n";
    let s = parse(Path::new("c.toml"), ok).expect("a support number in national form");
    assert_eq!(s.sip.inband_dtmf_numbers, vec!["+442079460000".to_string()]);
    let bad =
        "[sip]\nsupport_numbers = [\"+442079460000\"]\ninband_dtmf_numbers = [\"+18005550100\"]\n";
    let errs = parse(Path::new("c.toml"), bad).unwrap_err();
    assert_eq!(errs.len(), 1);
    assert!(
        errs[0].to_string().starts_with(
            "c.toml:3:24: in-band DTMF number `+18005550100` is not one of support_numbers"
        ),
        "{}",
        errs[0]
    );
}

#[test]
fn unknown_keys_are_refused_with_position() {
    let errs = parse(Path::new("c.toml"), "[sip]\nudpp = \"x\"\n").unwrap_err();
    assert_eq!((errs[0].line, errs[0].column), (2, 1));
    assert!(errs[0].message.contains("udpp"), "{}", errs[0].message);
}

#[test]
fn syntax_error_has_position() {
    let errs = parse(Path::new("c.toml"), "[sip\n").unwrap_err();
    assert_eq!(errs[0].line, 1);
}

#[test]
fn environment_overrides_ports_and_database() {
    let dir = std::env::temp_dir().join(format!("helpline-cfg-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("h.toml");
    std::fs::write(&file, "").unwrap();
    let vars = vec![
        ("HELPLINE_SIP_PORT".to_string(), "5070".to_string()),
        ("HELPLINE_HTTP_PORT".to_string(), "8181".to_string()),
        (
            "HELPLINE_DATABASE_URL".to_string(),
            "postgres://u@h/db".to_string(),
        ),
        ("HELPLINE_NODE_ID".to_string(), "7".to_string()),
    ];
    let s = load_with_env(&file, &vars).unwrap();
    assert_eq!(
        (s.sip.udp.port(), s.sip.tcp.port(), s.http.listen.port()),
        (5070, 5070, 8181)
    );
    assert_eq!(s.database.url, "postgres://u@h/db");
    assert_eq!(s.server.node_id, 7);
    let zero = vec![("HELPLINE_NODE_ID".to_string(), "0".to_string())];
    assert!(load_with_env(&file, &zero).unwrap_err()[0]
        .message
        .contains("HELPLINE_NODE_ID=0"));
    let bad = vec![("HELPLINE_SIP_PORT".to_string(), "x".to_string())];
    assert!(load_with_env(&file, &bad).unwrap_err()[0]
        .message
        .contains("HELPLINE_SIP_PORT=x"));
}

#[test]
fn missing_file_is_a_diagnostic_not_a_panic() {
    let errs = load_with_env(Path::new("/nonexistent/h.toml"), &[]).unwrap_err();
    assert!(errs[0]
        .to_string()
        .starts_with("/nonexistent/h.toml:1:1: cannot read config"));
}

#[test]
fn trusted_networks_match() {
    let net = IpNet::parse("10.0.0.0/8").unwrap();
    assert!(net.contains("10.1.2.3".parse().unwrap()));
    assert!(!net.contains("11.0.0.1".parse().unwrap()));
    assert!(net.contains("::ffff:10.0.0.1".parse().unwrap()));
    assert!(IpNet::parse("0.0.0.0/0")
        .unwrap()
        .contains("1.2.3.4".parse().unwrap()));
    assert!(IpNet::parse("10.0.0.0/33").is_none());
}

#[test]
fn crm_provider_and_http_base_url_are_checked_where_written() {
    let ok = "[crm]\nprovider = \"http\"\n[crm.http]\nbase_url = \"http://127.0.0.1:9000/api\"\ntoken_env = \"CRM_TOKEN\"\n";
    let s = parse(Path::new("c.toml"), ok).expect("valid http CRM");
    let http = s.crm.http.expect("[crm.http]");
    assert_eq!(
        (
            s.crm.provider.as_str(),
            http.base_url.as_str(),
            http.timeout_ms
        ),
        ("http", "http://127.0.0.1:9000/api", 800)
    );
    assert_eq!(
        parse(Path::new("c.toml"), "").unwrap().crm.provider,
        "builtin"
    );

    let errs = parse(Path::new("c.toml"), "[crm]\nprovider = \"salesforce\"\n").unwrap_err();
    assert!(
        errs[0]
            .to_string()
            .starts_with("c.toml:2:12: unknown CRM provider `salesforce`"),
        "{}",
        errs[0]
    );
    let errs = parse(
        Path::new("c.toml"),
        "[crm]\npop_timeout_ms = 200\nprovider = \"http\"\n",
    )
    .unwrap_err();
    assert!(
        errs[0]
            .to_string()
            .starts_with("c.toml:3:12: provider \"http\" needs"),
        "{}",
        errs[0]
    );
    let text = "[crm]\nprovider = \"http\"\n\n[crm.http]\nbase_url = \"https://crm.example.com\"\n";
    let errs = parse(Path::new("c.toml"), text).unwrap_err();
    assert_eq!(errs.len(), 1, "{errs:?}");
    assert!(
        errs[0]
            .to_string()
            .starts_with("c.toml:5:12: [crm.http] base_url `https://crm.example.com` uses https"),
        "{}",
        errs[0]
    );
    let errs = parse(
        Path::new("c.toml"),
        "[crm]\nprovider = \"http\"\n[crm.http]\nbase_url = \"crm:9000\"\n",
    )
    .unwrap_err();
    assert!(
        errs[0].message.contains("must start with http://"),
        "{}",
        errs[0]
    );
}

#[test]
fn reports_time_zone_and_wallboard_thresholds() {
    let text = "[reports]\ntime_zone = \"America/New_York\"\nshort_abandon_secs = 8\n\
                [wallboard.thresholds]\nsl_warn = 0.9\n\
                [wallboard.queues.tier2]\nalert_wait_secs = 300\n";
    let s = parse(Path::new("c.toml"), text).expect("valid");
    assert_eq!(s.reports.time_zone, chrono_tz::America::New_York);
    assert_eq!(s.reports.short_abandon_secs, 8);
    let t = s.wallboard.for_queue("tier2", 60);
    assert_eq!(
        (t.warn_wait_secs, t.alert_wait_secs, t.sl_warn, t.sl_alert),
        (Some(60), Some(300), Some(0.9), Some(0.7))
    );
    let d = parse(Path::new("c.toml"), "").expect("defaults");
    assert_eq!(d.reports.time_zone, chrono_tz::Europe::London);
    let errs = parse(
        Path::new("c.toml"),
        "[reports]\ntime_zone = \"Mars/Olympus\"\n",
    )
    .unwrap_err();
    assert!(
        errs[0]
            .to_string()
            .starts_with("c.toml:2:13: reports.time_zone"),
        "{}",
        errs[0]
    );
}

#[test]
fn session_timer_settings_default_to_rfc_4028_and_are_checked() {
    let s = parse(Path::new("c.toml"), "").expect("defaults");
    assert_eq!((s.sip.session_expires_s, s.sip.min_se_s), (1800, 90));
    let s = parse(Path::new("c.toml"), "[sip]\nsession_expires_s = 0\n").expect("0 = off");
    assert_eq!(s.sip.session_expires_s, 0);
    let s = parse(
        Path::new("c.toml"),
        "[sip]\nsession_expires_s = 4\nmin_se_s = 2\n",
    )
    .expect("short test timers");
    assert_eq!((s.sip.session_expires_s, s.sip.min_se_s), (4, 2));
    let errs = parse(Path::new("c.toml"), "[sip]\nmin_se_s = 1\n").unwrap_err();
    assert!(
        errs[0].to_string().starts_with(
            "c.toml:2:12: sip.min_se_s = 1: the smallest session interval must be at least 2 s"
        ),
        "{}",
        errs[0]
    );
    let errs = parse(
        Path::new("c.toml"),
        "[sip]\nsession_expires_s = 60\nmin_se_s = 90\n",
    )
    .unwrap_err();
    assert!(
        errs[0]
            .to_string()
            .starts_with("c.toml:2:21: sip.session_expires_s = 60 is below sip.min_se_s = 90"),
        "{}",
        errs[0]
    );
    let errs = parse(Path::new("c.toml"), "[sip]\nmin_se_s = 3600\n").unwrap_err();
    assert!(
        errs[0]
            .to_string()
            .starts_with("c.toml:2:12: sip.session_expires_s = 1800 is below"),
        "{}",
        errs[0]
    );
    let errs = parse(Path::new("c.toml"), "[sip]\nsession_expires_s = 100000\n").unwrap_err();
    assert!(errs[0].message.contains("at most 86400"), "{}", errs[0]);
}

#[test]
fn server_section_node_id_and_startup_retry() {
    let s = parse(Path::new("c.toml"), "").expect("defaults");
    assert_eq!((s.server.node_id, s.server.startup_retry_secs), (1, 30));
    let s = parse(
        Path::new("c.toml"),
        "[server]\nnode_id = 3\nstartup_retry_secs = 5\n",
    )
    .expect("set");
    assert_eq!((s.server.node_id, s.server.startup_retry_secs), (3, 5));
    let errs = parse(Path::new("c.toml"), "[server]\nnode_id = 0\n").unwrap_err();
    assert_eq!(errs.len(), 1);
    assert!(
        errs[0]
            .to_string()
            .starts_with("c.toml:2:11: [server] node_id must be 1 or more"),
        "{}",
        errs[0]
    );
}

#[test]
fn abuse_defences_have_defaults_and_checked_values() {
    let s = parse(
        Path::new("c.toml"),
        "[sip]\ntrusted_trunks = [\"203.0.113.0/24\"]\n",
    )
    .expect("defaults");
    let a = &s.sip.abuse;
    assert_eq!(
        (
            a.fail_limit,
            a.fail_window_s,
            a.ban_s,
            a.fail_users_per_addr
        ),
        (10, 300, 900, 20)
    );
    assert_eq!((a.max_vias, a.max_headers), (70, 100));
    assert!(
        a.never_ban
            .iter()
            .any(|n| n.contains("203.0.113.9".parse().unwrap())),
        "trusted trunks are never banned"
    );
    let text =
        "[sip]\nnever_ban = [\"10.0.0.0/8\", \"office\"]\nauth_fail_limit = 0\nmax_vias = 1\n";
    let errs = parse(Path::new("c.toml"), text).unwrap_err();
    let all: Vec<String> = errs.iter().map(|e| e.to_string()).collect();
    assert_eq!(all.len(), 3, "{all:?}");
    assert!(
        all[0].starts_with("c.toml:2:28: never_ban: `office` is not an IP network"),
        "{all:?}"
    );
    assert!(
        all[1].contains("auth_fail_limit = 0 is too small: at least 1"),
        "{all:?}"
    );
    assert!(
        all[2].contains("max_vias = 1 is too small: at least 2"),
        "{all:?}"
    );
}

/// Issue 14 row 14: the session cookie was not `Secure` by default with HTTPS on.
#[test]
fn cookies_are_secure_by_default_when_https_is_on_and_metrics_token_is_read() {
    let tls = "[http]\ntls_listen = \"127.0.0.1:8443\"\ntls_self_signed = true\n";
    let s = parse(Path::new("c.toml"), tls).expect("tls");
    assert!(s.http.secure_cookies, "HTTPS on: Secure by default");
    assert_eq!(s.http.metrics_token, None);
    let s = parse(
        Path::new("c.toml"),
        &format!("{tls}secure_cookies = false\n"),
    )
    .expect("off");
    assert!(!s.http.secure_cookies, "explicitly off");
    let s = parse(Path::new("c.toml"), "").expect("plain");
    assert!(!s.http.secure_cookies, "plain HTTP only: not Secure");
    let s = parse(
        Path::new("c.toml"),
        "[http]\nsecure_cookies = true\nmetrics_token = \"s3cret\"\n",
    )
    .expect("on");
    assert!(s.http.secure_cookies);
    assert_eq!(s.http.metrics_token.as_deref(), Some("s3cret"));
}

#[test]
fn outbound_gate_defaults_and_a_bad_prefix_points_at_its_line() {
    let s = parse(Path::new("c.toml"), "").expect("defaults");
    assert_eq!(s.outbound, crate::outbound::GateSettings::default());
    assert!(s.outbound.denied_prefixes.contains(&"+1900".to_string()));
    let ok = "[outbound]\ndenied_prefixes = [\"+1900\", \"09\"]\nmax_per_day = 5\n";
    let s = parse(Path::new("c.toml"), ok).expect("valid");
    assert_eq!(s.outbound.denied_prefixes, vec!["+1900", "09"]);
    assert_eq!(s.outbound.max_per_day, 5);
    assert_eq!(
        s.outbound.max_per_hour, 100,
        "unset keys keep their defaults"
    );
    let bad = "[outbound]\ndenied_prefixes = [\"+1900\", \"premium\"]\n";
    let errs = parse(Path::new("c.toml"), bad).unwrap_err();
    assert_eq!(errs.len(), 1);
    assert!(
        errs[0]
            .to_string()
            .starts_with("c.toml:2:29: outbound.denied_prefixes: `premium`"),
        "{}",
        errs[0]
    );
}

/// Issue 19: a centre answering lines in several countries reads each caller's number by the
/// rules of the line called (`[sip.line_regions]`, a direct line's `region`), else of the trunk
/// the call came from, else `default_region`.
#[test]
fn the_region_of_a_call_comes_from_its_line_then_its_trunk() {
    let text = "[sip]\nsupport_numbers = [\"+442079460000\", \"+18005550100\"]\n\
                [sip.line_regions]\n\"+1 800 555 0100\" = \"us\"\n\
                [[sip.trunks]]\nname = \"dublin\"\nproxy = \"192.0.2.10:5060\"\nregion = \"IE\"\n\
                [[sip.direct]]\nnumber = \"+33142680000\"\nagent = \"ann\"\nregion = \"FR\"\n";
    let s = parse(Path::new("c.toml"), text).expect("valid");
    let trunk: std::net::IpAddr = "192.0.2.10".parse().unwrap();
    let other: std::net::IpAddr = "198.51.100.1".parse().unwrap();
    assert_eq!(s.sip.line_region(other, "+18005550100"), "US");
    assert_eq!(
        s.sip.line_region(trunk, "+18005550100"),
        "US",
        "the line wins"
    );
    assert_eq!(s.sip.line_region(other, "+33142680000"), "FR");
    assert_eq!(s.sip.line_region(trunk, "+442079460000"), "IE");
    assert_eq!(s.sip.line_region(other, "+442079460000"), "GB");
    assert_eq!(s.sip.trunk_region(trunk), "IE");
    // What that means for a caller who sends a national number:
    let read = |ip, line| crate::phone::normalise("(650) 253-0000", s.sip.line_region(ip, line));
    assert_eq!(read(other, "+18005550100").as_deref(), Some("+16502530000"));
    let read = |ip, line| crate::phone::normalise("01 234 5678", s.sip.line_region(ip, line));
    assert_eq!(
        read(trunk, "+442079460000").as_deref(),
        Some("+35312345678")
    );
}

#[test]
fn unknown_regions_are_refused_where_they_are_written() {
    let text = "[sip]\nsupport_numbers = [\"+18005550100\"]\n\
                [[sip.trunks]]\nname = \"t\"\nproxy = \"192.0.2.10:5060\"\nregion = \"Atlantis\"\n";
    let errs = parse(Path::new("c.toml"), text).unwrap_err();
    assert_eq!(errs.len(), 1, "{errs:?}");
    assert!(
        errs[0]
            .to_string()
            .starts_with("c.toml:6:10: unknown region `Atlantis`"),
        "{}",
        errs[0]
    );
}
