//! RFC 4028 session timers: the `Session-Expires` / `Min-SE` negotiation (pure functions of
//! the headers and [`LegConfig`]) and the per-dialog [`SessionTimer`] that says when we must
//! refresh (half the interval, §10) and when a session nobody refreshed is over (the
//! interval minus min(32 s, interval/3), §10). [`super::session::Session`] acts on them.
//!
//! Beyond the RFC's letter, toward a peer that does not support the extension (no `timer`
//! in Supported/Require) we keep the timer anyway with ourselves as refresher: the refresh
//! is a re-INVITE or UPDATE any UA answers, and one that gets 408/481 or times out ends a
//! call whose far end vanished (§3: the mechanism works with one supporting UA).

use std::time::{Duration, Instant};

use super::LegConfig;
use crate::sip::message::Headers;

/// The option tag (Supported / Require).
pub(crate) const TAG: &str = "timer";

/// The longest session interval we run, whatever a peer asks (one day; also the largest
/// `session_expires_s` the config accepts).
pub(crate) const MAX_INTERVAL: u32 = 86_400;

/// Who refreshes, as named in `Session-Expires;refresher=` (relative to the transaction
/// that carries it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refresher {
    Uac,
    Uas,
}

/// A parsed `Session-Expires` value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct SessionExpires {
    pub secs: u32,
    pub refresher: Option<Refresher>,
}

/// `Session-Expires` (or its compact form `x`); None when absent or not a number.
pub(crate) fn session_expires(h: &Headers) -> Option<SessionExpires> {
    let v = h.get("session-expires")?;
    let mut parts = v.split(';');
    let secs = parts.next()?.trim().parse().ok()?;
    let refresher = parts.find_map(|p| {
        let (name, value) = p.split_once('=')?;
        if !name.trim().eq_ignore_ascii_case("refresher") {
            return None;
        }
        match value.trim().to_ascii_lowercase().as_str() {
            "uac" => Some(Refresher::Uac),
            "uas" => Some(Refresher::Uas),
            _ => None,
        }
    });
    Some(SessionExpires { secs, refresher })
}

/// `Min-SE` delta-seconds; None when absent or not a number.
pub(crate) fn min_se(h: &Headers) -> Option<u32> {
    h.get("min-se")?.split(';').next()?.trim().parse().ok()
}

/// The peer lists `timer` in Supported or Require.
pub(crate) fn supports_timer(h: &Headers) -> bool {
    ["supported", "require"]
        .iter()
        .any(|n| h.tokens(n).iter().any(|t| t.eq_ignore_ascii_case(TAG)))
}

/// The peer's Allow lists UPDATE (then a refresh is a body-less UPDATE, RFC 4028 §9).
pub(crate) fn allows_update(h: &Headers) -> bool {
    h.tokens("allow")
        .iter()
        .any(|t| t.eq_ignore_ascii_case("update"))
}

/// The outcome of one negotiation: the interval and who refreshes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Negotiated {
    /// Session interval, seconds.
    pub interval: u32,
    pub we_refresh: bool,
    /// The peer supports the extension (`Require: timer` in our 2xx, §9).
    pub peer_supports: bool,
}

impl Negotiated {
    /// `Session-Expires` for a response we send as UAS of a refresh.
    pub fn uas_value(&self) -> String {
        let who = if self.we_refresh { "uas" } else { "uac" };
        format!("{};refresher={who}", self.interval)
    }

    /// `Session-Expires` for a refresh request we send (we are its UAC).
    pub fn uac_value(&self) -> String {
        let who = if self.we_refresh { "uac" } else { "uas" };
        format!("{};refresher={who}", self.interval)
    }
}

/// Session timers are on in this configuration.
pub(crate) fn enabled(cfg: &LegConfig) -> bool {
    cfg.session_expires > 0
}

/// As UAS of a session refresh request (the initial INVITE, a re-INVITE, an UPDATE), §9:
/// `Err(min_se)` when the request must get 422 with that Min-SE (its Session-Expires is
/// below our minimum and the UAC supports the extension); `Ok(None)` with timers off.
///
/// The interval is the request's, reduced to our `session_expires` but never below the
/// request's Min-SE or ours (never raised, §9), or ours when the request names none. The
/// refresher is the one the request names; when it names none, the UAC if it supports the
/// extension, else us. A UAC that does not support it cannot read a 422, so a too-small
/// interval from it (a proxy's) is raised to our minimum instead, with us refreshing.
pub(crate) fn as_uas(h: &Headers, cfg: &LegConfig) -> Result<Option<Negotiated>, u32> {
    if !enabled(cfg) {
        return Ok(None);
    }
    let peer_supports = supports_timer(h);
    let floor = min_se(h).unwrap_or(cfg.min_se).max(cfg.min_se);
    let n = match session_expires(h) {
        Some(se) if se.secs < cfg.min_se => {
            if peer_supports {
                return Err(cfg.min_se);
            }
            Negotiated {
                interval: cfg.min_se,
                we_refresh: true,
                peer_supports,
            }
        }
        Some(se) => Negotiated {
            interval: if se.secs > cfg.session_expires {
                cfg.session_expires.max(floor).min(se.secs)
            } else {
                se.secs
            },
            we_refresh: !peer_supports || se.refresher == Some(Refresher::Uas),
            peer_supports,
        },
        None => Negotiated {
            interval: cfg.session_expires.max(floor),
            we_refresh: !peer_supports,
            peer_supports,
        },
    };
    Ok(Some(Negotiated {
        interval: n.interval.min(MAX_INTERVAL),
        ..n
    }))
}

/// As UAC, from the 2xx to our INVITE, re-INVITE or UPDATE that asked for `requested`
/// seconds (§7.2): the 2xx's Session-Expires and refresher (absent refresher: us). A 2xx
/// without Session-Expires from a peer that supports the extension turns the timer off;
/// from one that does not, we keep `requested` and refresh ourselves (see the module docs).
pub(crate) fn as_uac(h: &Headers, cfg: &LegConfig, requested: u32) -> Option<Negotiated> {
    if !enabled(cfg) {
        return None;
    }
    let peer_supports = supports_timer(h);
    match session_expires(h) {
        Some(se) => Some(Negotiated {
            // A UAS may go neither below our Min-SE nor above what we asked (§9); one
            // that does is held to a floor that cannot flood it and a sane ceiling.
            interval: se.secs.clamp(cfg.min_se, MAX_INTERVAL),
            we_refresh: se.refresher != Some(Refresher::Uas),
            peer_supports,
        }),
        None if peer_supports => None,
        None => Some(Negotiated {
            interval: requested,
            we_refresh: true,
            peer_supports,
        }),
    }
}

/// The headers of a request we send as UAC of a refresh (the initial INVITE included).
pub(crate) fn request_headers(session_expires: String, min_se: u32) -> [(&'static str, String); 3] {
    [
        ("supported", TAG.to_string()),
        ("session-expires", session_expires),
        ("min-se", min_se.to_string()),
    ]
}

/// The timer of one confirmed dialog.
#[derive(Debug, Clone)]
pub(crate) struct SessionTimer {
    pub n: Negotiated,
    /// Min-SE we send in our refreshes (raised by a 422).
    pub min_se: u32,
    /// Refresh with a body-less UPDATE rather than a re-INVITE.
    pub use_update: bool,
    refreshed_at: Instant,
    /// Our next refresh; None when the peer refreshes or ours is in flight.
    next_refresh: Option<Instant>,
}

impl SessionTimer {
    pub fn new(n: Negotiated, min_se: u32, use_update: bool, now: Instant) -> SessionTimer {
        let mut t = SessionTimer {
            n,
            min_se,
            use_update,
            refreshed_at: now,
            next_refresh: None,
        };
        t.refreshed(n, now);
        t
    }

    fn interval(&self) -> Duration {
        Duration::from_secs(self.n.interval.into())
    }

    /// A refresh succeeded at `now` (2xx sent or received) with this outcome.
    pub fn refreshed(&mut self, n: Negotiated, now: Instant) {
        self.n = n;
        self.refreshed_at = now;
        self.next_refresh = n.we_refresh.then(|| now + self.interval() / 2);
    }

    /// When the session is over if nobody refreshed it: the interval minus
    /// min(32 s, interval/3) — §10's BYE time for the side that does not refresh, and the
    /// last moment for the refresher whose refreshes failed.
    pub fn expires_at(&self) -> Instant {
        let i = self.interval();
        self.refreshed_at + i - (i / 3).min(Duration::from_secs(32))
    }

    pub fn refresh_due(&self, now: Instant) -> bool {
        self.next_refresh.is_some_and(|at| now >= at)
    }

    /// Our refresh went out: wait for its answer (or the expiry).
    pub fn refresh_sent(&mut self) {
        self.next_refresh = None;
    }

    /// We refresh and wait for a refresh in flight (none is scheduled).
    pub fn refresh_in_flight(&self) -> bool {
        self.n.we_refresh && self.next_refresh.is_none()
    }

    /// Try again at `at` (a refresh that could not go now, or failed without ending the
    /// dialog), unless that is past the expiry.
    pub fn retry_at(&mut self, at: Instant) {
        self.next_refresh = (at < self.expires_at()).then_some(at);
    }

    pub fn deadline(&self) -> Instant {
        let expiry = self.expires_at();
        self.next_refresh.map_or(expiry, |r| r.min(expiry))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(se: u32, min: u32) -> LegConfig {
        LegConfig {
            session_expires: se,
            min_se: min,
            ..LegConfig::default()
        }
    }

    fn hdrs(list: &[(&str, &str)]) -> Headers {
        let mut h = Headers::new();
        for (n, v) in list {
            h.push(n, *v);
        }
        h
    }

    #[test]
    fn session_expires_parses_number_and_refresher_in_any_case_and_compact_form() {
        let h = hdrs(&[("x", "1800 ; Refresher = UAS")]);
        assert_eq!(
            session_expires(&h),
            Some(SessionExpires {
                secs: 1800,
                refresher: Some(Refresher::Uas)
            })
        );
        let h = hdrs(&[("Session-Expires", "90")]);
        assert_eq!(session_expires(&h).map(|s| s.refresher), Some(None));
        assert_eq!(session_expires(&hdrs(&[("Session-Expires", "soon")])), None);
        assert_eq!(min_se(&hdrs(&[("Min-SE", " 120 ")])), Some(120));
        assert!(supports_timer(&hdrs(&[("k", "100rel, Timer")])));
        assert!(!supports_timer(&hdrs(&[("Supported", "replaces")])));
        assert!(allows_update(&hdrs(&[("Allow", "INVITE, ACK, update")])));
    }

    #[test]
    fn uas_takes_the_request_interval_reduces_it_to_ours_but_not_below_min_se() {
        let c = cfg(1800, 90);
        let req = hdrs(&[("Supported", "timer"), ("Session-Expires", "600")]);
        let n = as_uas(&req, &c).unwrap().unwrap();
        assert_eq!(
            (n.interval, n.we_refresh, n.peer_supports),
            (600, false, true)
        );
        assert_eq!(n.uas_value(), "600;refresher=uac");
        let req = hdrs(&[
            ("Supported", "timer"),
            ("Session-Expires", "7200;refresher=uas"),
            ("Min-SE", "3600"),
        ]);
        let n = as_uas(&req, &c).unwrap().unwrap();
        assert_eq!(
            (n.interval, n.we_refresh),
            (3600, true),
            "reduced to Min-SE"
        );
        let req = hdrs(&[("Supported", "timer"), ("Session-Expires", "60")]);
        assert_eq!(as_uas(&req, &c), Err(90), "422 with our Min-SE");
        let req = hdrs(&[("Session-Expires", "60")]);
        let n = as_uas(&req, &c).unwrap().unwrap();
        assert_eq!(
            (n.interval, n.we_refresh),
            (90, true),
            "no 422 without support"
        );
        let n = as_uas(&hdrs(&[]), &c).unwrap().unwrap();
        assert_eq!(
            (n.interval, n.we_refresh, n.peer_supports),
            (1800, true, false)
        );
        assert_eq!(as_uas(&req, &cfg(0, 90)), Ok(None), "disabled");
    }

    #[test]
    fn uac_obeys_the_2xx_and_keeps_a_unilateral_timer_only_without_support() {
        let c = cfg(1800, 90);
        let ok = hdrs(&[
            ("Require", "timer"),
            ("Session-Expires", "900;refresher=uas"),
        ]);
        let n = as_uac(&ok, &c, 1800).unwrap();
        assert_eq!((n.interval, n.we_refresh), (900, false));
        let ok = hdrs(&[("Supported", "timer")]);
        assert_eq!(as_uac(&ok, &c, 1800), None, "peer declined");
        let n = as_uac(&hdrs(&[]), &c, 1800).unwrap();
        assert_eq!((n.interval, n.we_refresh), (1800, true));
    }

    #[test]
    fn refresh_at_half_and_expiry_at_interval_minus_a_third_capped_at_32_s() {
        let t0 = Instant::now();
        let n = Negotiated {
            interval: 90,
            we_refresh: true,
            peer_supports: true,
        };
        let t = SessionTimer::new(n, 90, false, t0);
        assert_eq!(t.deadline(), t0 + Duration::from_secs(45));
        assert_eq!(t.expires_at(), t0 + Duration::from_secs(60));
        let t = SessionTimer::new(
            Negotiated {
                interval: 1800,
                we_refresh: false,
                ..n
            },
            90,
            false,
            t0,
        );
        assert_eq!(t.deadline(), t0 + Duration::from_secs(1768));
    }
}
