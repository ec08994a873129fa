//! Defences against SIP abuse that need no I/O (issue 14): the failed-authentication limiter
//! (password guessing, the Kamailio `pike`/fail2ban way without banning an office behind one
//! NAT address), scanner user agents, and header/Via caps. Time is passed in as seconds.
//!
//! The limiter counts *failures*, never requests, keyed by (source address, user): after
//! `fail_limit` failures for one pair within `fail_window_s`, that pair is refused for
//! `ban_s` while other users from the same address keep registering. An address is refused
//! as a whole only when failures there span `fail_users_per_addr` different users within the
//! window. Addresses in `never_ban` (trusted trunks, the office's own proxy) are never refused.

use crate::config::IpNet;
use std::collections::{HashMap, HashSet};
use std::net::IpAddr;

/// Limiter settings (from `[sip]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AbuseSettings {
    /// Failures for one (address, user) within the window that ban the pair.
    pub fail_limit: u32,
    pub fail_window_s: u64,
    /// How long a ban lasts.
    pub ban_s: u64,
    /// Different users failing from one address within the window that ban the address.
    pub fail_users_per_addr: u32,
    /// Never banned (CIDR).
    pub never_ban: Vec<IpNet>,
    /// Requests with more Via entries are refused with a small 400.
    pub max_vias: usize,
    /// Requests with more header fields are refused with a small 400.
    pub max_headers: usize,
}

impl Default for AbuseSettings {
    fn default() -> Self {
        AbuseSettings {
            fail_limit: 10,
            fail_window_s: 300,
            ban_s: 900,
            fail_users_per_addr: 20,
            never_ban: Vec::new(),
            max_vias: 70,
            max_headers: 100,
        }
    }
}

/// What a new failure did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ban {
    /// Counted; no new ban.
    None,
    /// This (address, user) pair is now refused.
    Pair,
    /// The whole address is now refused (failures across many users).
    Address,
}

#[derive(Debug, Default)]
struct PairEntry {
    window_start: u64,
    failures: u32,
    banned_until: u64,
}

#[derive(Debug, Default)]
struct AddrEntry {
    window_start: u64,
    users: HashSet<String>,
    banned_until: u64,
}

/// Bounded failure counters and bans. Not thread-safe; wrap it in a mutex.
#[derive(Debug)]
pub struct FailureLimiter {
    cfg: AbuseSettings,
    pairs: HashMap<(IpAddr, String), PairEntry>,
    addrs: HashMap<IpAddr, AddrEntry>,
    max_entries: usize,
}

/// User names longer than this are counted under their first 128 bytes (memory bound).
const MAX_USER_KEY: usize = 128;

fn user_key(user: &str) -> String {
    let mut end = user.len().min(MAX_USER_KEY);
    while !user.is_char_boundary(end) {
        end -= 1;
    }
    user[..end].to_string()
}

impl FailureLimiter {
    pub fn new(cfg: AbuseSettings) -> FailureLimiter {
        FailureLimiter {
            cfg,
            pairs: HashMap::new(),
            addrs: HashMap::new(),
            max_entries: 100_000,
        }
    }

    #[cfg(test)]
    fn with_max_entries(mut self, n: usize) -> FailureLimiter {
        self.max_entries = n;
        self
    }

    pub fn settings(&self) -> &AbuseSettings {
        &self.cfg
    }

    /// True if `ip` is on the never-ban list.
    pub fn never_banned(&self, ip: IpAddr) -> bool {
        self.cfg.never_ban.iter().any(|n| n.contains(ip))
    }

    /// True if requests from `ip` for `user` are to be refused now.
    pub fn is_refused(&self, ip: IpAddr, user: &str, now: u64) -> bool {
        if self.never_banned(ip) {
            return false;
        }
        if self.addrs.get(&ip).is_some_and(|a| a.banned_until > now) {
            return true;
        }
        self.pairs
            .get(&(ip, user_key(user)))
            .is_some_and(|p| p.banned_until > now)
    }

    /// Records one failed authentication of `user` from `ip`; says whether it started a ban.
    pub fn record_failure(&mut self, ip: IpAddr, user: &str, now: u64) -> Ban {
        if self.never_banned(ip) {
            return Ban::None;
        }
        if self.pairs.len() >= self.max_entries || self.addrs.len() >= self.max_entries {
            self.prune(now);
        }
        let window = self.cfg.fail_window_s;
        let key = (ip, user_key(user));
        let mut ban = Ban::None;
        if self.pairs.len() < self.max_entries || self.pairs.contains_key(&key) {
            let p = self.pairs.entry(key.clone()).or_default();
            if now.saturating_sub(p.window_start) >= window {
                p.window_start = now;
                p.failures = 0;
            }
            p.failures = p.failures.saturating_add(1);
            if p.failures >= self.cfg.fail_limit && p.banned_until <= now {
                p.banned_until = now + self.cfg.ban_s;
                p.failures = 0;
                p.window_start = now;
                ban = Ban::Pair;
            }
        }
        if self.addrs.len() < self.max_entries || self.addrs.contains_key(&ip) {
            let a = self.addrs.entry(ip).or_default();
            if now.saturating_sub(a.window_start) >= window {
                a.window_start = now;
                a.users.clear();
            }
            a.users.insert(key.1);
            if a.users.len() >= self.cfg.fail_users_per_addr as usize && a.banned_until <= now {
                a.banned_until = now + self.cfg.ban_s;
                a.users.clear();
                a.window_start = now;
                ban = Ban::Address;
            }
        }
        ban
    }

    /// A successful authentication clears the pair's failure count (not a running ban).
    pub fn record_success(&mut self, ip: IpAddr, user: &str, now: u64) {
        let key = (ip, user_key(user));
        if self.pairs.get(&key).is_some_and(|p| p.banned_until <= now) {
            self.pairs.remove(&key);
        }
    }

    /// Forgets entries whose window and ban are over.
    pub fn prune(&mut self, now: u64) {
        let window = self.cfg.fail_window_s;
        self.pairs
            .retain(|_, p| p.banned_until > now || now.saturating_sub(p.window_start) < window);
        self.addrs
            .retain(|_, a| a.banned_until > now || now.saturating_sub(a.window_start) < window);
    }

    pub fn len(&self) -> usize {
        self.pairs.len() + self.addrs.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Scanner user agents (SIPVicious and friends), matched case-insensitively anywhere.
const SCANNERS: &[&str] = &["friendly-scanner", "sipvicious", "sipcli"];

/// True if a `User-Agent` value names a known scanner.
pub fn is_scanner(user_agent: &str) -> bool {
    let ua = user_agent.to_ascii_lowercase();
    SCANNERS.iter().any(|s| ua.contains(s))
}

/// Number of Via entries across all Via header fields (comma lists counted; an upper bound
/// when a quoted parameter holds a comma, which no real Via does).
pub fn via_count(headers: &crate::sip::message::Headers) -> usize {
    headers
        .get_all("via")
        .map(|v| v.bytes().filter(|b| *b == b',').count() + 1)
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg() -> AbuseSettings {
        AbuseSettings {
            fail_limit: 5,
            fail_window_s: 60,
            ban_s: 600,
            fail_users_per_addr: 4,
            never_ban: vec![IpNet::parse("10.9.0.0/16").unwrap()],
            ..AbuseSettings::default()
        }
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn a_pair_is_banned_after_the_limit_and_others_from_the_address_are_not() {
        let mut l = FailureLimiter::new(cfg());
        let nat = ip("198.51.100.1");
        let t = 1_000;
        for i in 0..4 {
            assert_eq!(l.record_failure(nat, "alice", t + i), Ban::None);
            assert!(!l.is_refused(nat, "alice", t + i));
        }
        assert_eq!(l.record_failure(nat, "alice", t + 4), Ban::Pair);
        assert!(l.is_refused(nat, "alice", t + 5));
        assert!(
            !l.is_refused(nat, "bob", t + 5),
            "other users keep registering"
        );
        assert!(
            !l.is_refused(ip("198.51.100.2"), "alice", t + 5),
            "alice from elsewhere too"
        );
        // Further failures during the ban do not start another one.
        assert_eq!(l.record_failure(nat, "alice", t + 6), Ban::None);
        // The ban ends.
        assert!(l.is_refused(nat, "alice", t + 4 + 599));
        assert!(!l.is_refused(nat, "alice", t + 4 + 600));
    }

    #[test]
    fn failures_outside_the_window_do_not_add_up_and_success_resets() {
        let mut l = FailureLimiter::new(cfg());
        let a = ip("198.51.100.1");
        for i in 0..4 {
            l.record_failure(a, "alice", 1_000 + i);
        }
        // 60 s later the window restarts.
        assert_eq!(l.record_failure(a, "alice", 1_070), Ban::None);
        for i in 0..3 {
            l.record_failure(a, "alice", 1_071 + i);
        }
        l.record_success(a, "alice", 1_075);
        assert_eq!(l.record_failure(a, "alice", 1_080), Ban::None);
        assert!(!l.is_refused(a, "alice", 1_080));
    }

    #[test]
    fn an_address_is_banned_only_for_failures_across_many_users() {
        let mut l = FailureLimiter::new(cfg());
        let a = ip("203.0.113.9");
        for (i, u) in ["u1", "u2", "u3"].iter().enumerate() {
            assert_eq!(l.record_failure(a, u, 100 + i as u64), Ban::None);
        }
        assert!(!l.is_refused(a, "u9", 103));
        assert_eq!(l.record_failure(a, "u4", 104), Ban::Address);
        assert!(l.is_refused(a, "u9", 105), "every user from the address");
        assert!(!l.is_refused(ip("203.0.113.10"), "u9", 105));
    }

    #[test]
    fn the_allow_list_is_never_banned() {
        let mut l = FailureLimiter::new(cfg());
        let trunk = ip("10.9.1.1");
        for i in 0..100 {
            assert_eq!(l.record_failure(trunk, &format!("u{i}"), 10), Ban::None);
        }
        assert!(!l.is_refused(trunk, "u1", 11));
        assert!(l.is_empty(), "nothing is even tracked");
    }

    #[test]
    fn the_tables_are_bounded() {
        let mut l = FailureLimiter::new(cfg()).with_max_entries(10);
        for i in 0..1_000u32 {
            let a = IpAddr::from(std::net::Ipv4Addr::from(0xC633_6400 + i));
            l.record_failure(a, &"x".repeat(10_000), 10);
        }
        assert!(l.len() <= 20);
        // After the window the old entries give way to new ones.
        let a = ip("192.0.2.1");
        for i in 0..5 {
            l.record_failure(a, "alice", 100 + i);
        }
        assert!(l.is_refused(a, "alice", 105));
    }

    #[test]
    fn scanners_are_recognised() {
        assert!(is_scanner("friendly-scanner"));
        assert!(is_scanner("SIPVicious 0.3.4"));
        assert!(is_scanner("sipcli/v1.8"));
        assert!(!is_scanner("Linphone/5.2 (belle-sip/5.2)"));
    }
}
