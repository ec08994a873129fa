//! The outbound gate's core, sans-IO: may this billable leg be placed, and through which trunk?
//!
//! Every leg the server sends to a trunk (a callback, a direct line that forwards, an IVR or
//! agent transfer, later click to call) asks [`Gate::check`] first and, once the leg is really
//! being placed, [`Gate::admit`] (check and count). A leg is refused when whoever caused it is
//! not vouched for (a trusted trunk's assertion or a digest login), when the number is not a
//! phone number or falls under a premium-rate prefix, when no trunk routes it, or when a cap is
//! reached: per number per day, per requester per hour, all legs per hour, and the daily
//! ceiling. Counts are over rolling windows of the legs placed ([`Placed`]), which the I/O side
//! stores so a restart does not reset them ([`Gate::restore`]). Time is passed in (epoch ms).

use std::collections::VecDeque;

/// Which path asks for the leg (stored with each leg, and in logs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Path {
    /// A booked callback dialling the customer back.
    Callback,
    /// A `[[sip.direct]]` line forwarding to a trunk.
    DirectLine,
    /// The IVR's `transfer` node.
    IvrTransfer,
    /// An agent's blind transfer to a number.
    AgentTransfer,
}

impl Path {
    pub fn as_str(self) -> &'static str {
        match self {
            Path::Callback => "callback",
            Path::DirectLine => "direct_line",
            Path::IvrTransfer => "ivr_transfer",
            Path::AgentTransfer => "agent_transfer",
        }
    }
}

/// Who caused the leg, and how we know.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Requester {
    /// A caller whose number a trusted trunk asserted (P-Asserted-Identity).
    Asserted(String),
    /// A user who passed digest authentication (407 on INVITE), or an agent logged in.
    User(String),
    /// Nobody vouches for this identity (a `From` anyone can write): never billable.
    Unverified(String),
}

impl Requester {
    /// The key the per-requester cap counts under.
    pub fn key(&self) -> &str {
        match self {
            Requester::Asserted(n) | Requester::User(n) | Requester::Unverified(n) => n,
        }
    }
}

/// A leg some path wants to place.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub path: Path,
    /// The number dialled (E.164 or national digits).
    pub number: String,
    pub requester: Requester,
    /// The trunk the path names (a direct line's `trunk`), else the gate's route.
    pub trunk: Option<String>,
}

/// Where the leg goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    pub trunk: String,
}

/// Why a leg is refused. [`Refusal::label`] is the metric label, [`Refusal::reason`] the text
/// logged and stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    Unauthenticated,
    NotANumber,
    DeniedPrefix(String),
    NoRoute,
    NumberCap(u32),
    RequesterCap(u32),
    HourCap(u32),
    DailyCeiling(u32),
}

impl Refusal {
    pub fn label(&self) -> &'static str {
        match self {
            Refusal::Unauthenticated => "unauthenticated",
            Refusal::NotANumber => "not_a_number",
            Refusal::DeniedPrefix(_) => "denied_prefix",
            Refusal::NoRoute => "no_route",
            Refusal::NumberCap(_) => "number_cap",
            Refusal::RequesterCap(_) => "requester_cap",
            Refusal::HourCap(_) => "hour_cap",
            Refusal::DailyCeiling(_) => "daily_ceiling",
        }
    }

    pub fn reason(&self) -> String {
        match self {
            Refusal::Unauthenticated => "the requester is not asserted by a trusted trunk nor \
                                         authenticated: no billable call for them"
                .into(),
            Refusal::NotANumber => "not a phone number (3 to 20 digits, optional leading +)".into(),
            Refusal::DeniedPrefix(p) => {
                format!("a premium-rate or toll-fraud range ({p} in [outbound] denied_prefixes)")
            }
            Refusal::NoRoute => "no [[sip.trunks]] route for the number".into(),
            Refusal::NumberCap(n) => {
                format!("{n} calls to this number in 24 hours ([outbound] max_per_number_per_day)")
            }
            Refusal::RequesterCap(n) => {
                format!("{n} calls caused by this requester in the last hour ([outbound] max_per_requester_per_hour)")
            }
            Refusal::HourCap(n) => {
                format!("{n} outbound calls in the last hour ([outbound] max_per_hour)")
            }
            Refusal::DailyCeiling(n) => {
                format!(
                    "{n} outbound calls in 24 hours: the daily ceiling ([outbound] max_per_day)"
                )
            }
        }
    }
}

/// The gate's rules (`[outbound]` in helpline.toml).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GateSettings {
    /// Numbers starting with one of these are never dialled (`+` optional on both sides).
    pub denied_prefixes: Vec<String>,
    pub max_per_number_per_day: u32,
    pub max_per_requester_per_hour: u32,
    pub max_per_hour: u32,
    /// The daily spend ceiling, in legs placed within 24 hours.
    pub max_per_day: u32,
}

impl Default for GateSettings {
    fn default() -> Self {
        GateSettings {
            denied_prefixes: DEFAULT_DENIED.iter().map(|p| p.to_string()).collect(),
            max_per_number_per_day: 10,
            max_per_requester_per_hour: 10,
            max_per_hour: 100,
            max_per_day: 1000,
        }
    }
}

/// Premium-rate and toll-fraud ranges never dialled unless `[outbound] denied_prefixes` says
/// otherwise: NANP 900/976 and the Caribbean (and Bermuda) area codes that dial like US
/// numbers under +1 but are international; UK premium (09), personal (070) and revenue-share
/// (0871-0873) numbers; international premium and satellite ranges (+870, +881-883, +979);
/// premium ranges of Germany (0900), France (089), Italy (899), Australia (190).
pub const DEFAULT_DENIED: &[&str] = crate::acd::config::DEFAULT_CALLBACK_DENIED;

/// One leg placed (what the store keeps).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Placed {
    pub at_ms: u64,
    pub number: String,
    pub requester: String,
}

const HOUR_MS: u64 = 3_600_000;
const DAY_MS: u64 = 24 * HOUR_MS;

/// The deny-list prefix `n` falls under, if any. `+` is optional on both sides ("+1900" also
/// denies "1900…"); a prefix without `+` that starts with 0 is a national form ("09").
pub fn denied_prefix<'a>(n: &str, denied: &'a [String]) -> Option<&'a str> {
    let digits = n.strip_prefix('+').unwrap_or(n);
    denied
        .iter()
        .find(|p| digits.starts_with(p.strip_prefix('+').unwrap_or(p)))
        .map(String::as_str)
}

/// Whether `n` is a phone number we would dial: 3 to 20 digits, an optional leading `+`.
pub fn is_number(n: &str) -> bool {
    let digits = n.strip_prefix('+').unwrap_or(n);
    (3..=20).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit())
}

/// The gate: rules, trunk names, and the legs of the last 24 hours.
#[derive(Debug, Clone)]
pub struct Gate {
    cfg: GateSettings,
    /// `[[sip.trunks]]` names in order; the first is the default route.
    trunks: Vec<String>,
    log: VecDeque<Placed>,
}

impl Gate {
    pub fn new(cfg: GateSettings, trunks: Vec<String>) -> Gate {
        Gate {
            cfg,
            trunks,
            log: VecDeque::new(),
        }
    }

    /// Legs placed before a restart (any order; those older than 24 hours are ignored).
    pub fn restore(&mut self, placed: impl IntoIterator<Item = Placed>, now_ms: u64) {
        let mut all: Vec<Placed> = self.log.drain(..).chain(placed).collect();
        all.retain(|p| now_ms.saturating_sub(p.at_ms) < DAY_MS);
        all.sort_by_key(|p| p.at_ms);
        self.log = all.into();
    }

    /// The trunk for `number`: the one the path names, else the first trunk. (Prefix routes,
    /// `[[sip.routes]]`, plug in here.)
    fn route(&self, req: &Request) -> Option<Route> {
        let trunk = match &req.trunk {
            Some(t) => self.trunks.iter().find(|n| *n == t)?,
            None => self.trunks.first()?,
        };
        Some(Route {
            trunk: trunk.clone(),
        })
    }

    /// May `req` be placed now? Counts nothing (see [`Gate::admit`]).
    pub fn check(&mut self, req: &Request, now_ms: u64) -> Result<Route, Refusal> {
        if matches!(req.requester, Requester::Unverified(_)) {
            return Err(Refusal::Unauthenticated);
        }
        if !is_number(&req.number) {
            return Err(Refusal::NotANumber);
        }
        if let Some(p) = denied_prefix(&req.number, &self.cfg.denied_prefixes) {
            return Err(Refusal::DeniedPrefix(p.to_string()));
        }
        let route = self.route(req).ok_or(Refusal::NoRoute)?;
        self.forget_older_than_a_day(now_ms);
        let c = &self.cfg;
        let day = self.log.len();
        if day >= c.max_per_day as usize {
            return Err(Refusal::DailyCeiling(c.max_per_day));
        }
        let digits = |n: &str| n.strip_prefix('+').unwrap_or(n).to_string();
        let number = digits(&req.number);
        let same_number = self
            .log
            .iter()
            .filter(|p| digits(&p.number) == number)
            .count();
        if same_number >= c.max_per_number_per_day as usize {
            return Err(Refusal::NumberCap(c.max_per_number_per_day));
        }
        let hour: Vec<&Placed> = self
            .log
            .iter()
            .filter(|p| now_ms.saturating_sub(p.at_ms) < HOUR_MS)
            .collect();
        if hour.len() >= c.max_per_hour as usize {
            return Err(Refusal::HourCap(c.max_per_hour));
        }
        let key = req.requester.key();
        if hour.iter().filter(|p| p.requester == key).count()
            >= c.max_per_requester_per_hour as usize
        {
            return Err(Refusal::RequesterCap(c.max_per_requester_per_hour));
        }
        Ok(route)
    }

    /// Check `req` and, when it may go, count it as placed: the [`Placed`] to store.
    pub fn admit(&mut self, req: &Request, now_ms: u64) -> Result<(Route, Placed), Refusal> {
        let route = self.check(req, now_ms)?;
        let placed = Placed {
            at_ms: now_ms,
            number: req.number.clone(),
            requester: req.requester.key().to_string(),
        };
        self.log.push_back(placed.clone());
        Ok((route, placed))
    }

    fn forget_older_than_a_day(&mut self, now_ms: u64) {
        while self
            .log
            .front()
            .is_some_and(|p| now_ms.saturating_sub(p.at_ms) >= DAY_MS)
        {
            self.log.pop_front();
        }
    }

    /// Legs counted (the last 24 hours).
    pub fn len(&self) -> usize {
        self.log.len()
    }

    pub fn is_empty(&self) -> bool {
        self.log.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gate(cfg: GateSettings) -> Gate {
        Gate::new(cfg, vec!["pstn".into(), "backup".into()])
    }

    fn req(number: &str, who: Requester) -> Request {
        Request {
            path: Path::Callback,
            number: number.into(),
            requester: who,
            trunk: None,
        }
    }

    fn caller(n: &str) -> Requester {
        Requester::Asserted(n.into())
    }

    const T: u64 = 1_700_000_000_000;

    #[test]
    fn premium_rate_numbers_are_refused_on_every_path_with_the_default_list() {
        let mut g = gate(GateSettings::default());
        for path in [
            Path::Callback,
            Path::DirectLine,
            Path::IvrTransfer,
            Path::AgentTransfer,
        ] {
            for n in [
                "+19005550100",
                "+18765550100",
                "+449090000001",
                "09090000001",
            ] {
                let r = Request {
                    path,
                    ..req(n, Requester::User("alice".into()))
                };
                assert!(
                    matches!(g.admit(&r, T), Err(Refusal::DeniedPrefix(_))),
                    "{n} on {path:?}"
                );
            }
        }
        assert!(g.is_empty(), "refused legs are not counted");
        let ok = g.admit(&req("+15551230000", caller("+15551230000")), T);
        assert_eq!(ok.map(|(r, _)| r.trunk), Ok("pstn".to_string()));
    }

    #[test]
    fn nobody_unverified_gets_a_billable_call() {
        let mut g = gate(GateSettings::default());
        let r = req("+15551230000", Requester::Unverified("+15551230000".into()));
        assert_eq!(g.check(&r, T), Err(Refusal::Unauthenticated));
        assert_eq!(
            g.check(&req("12ab", caller("x")), T),
            Err(Refusal::NotANumber)
        );
    }

    #[test]
    fn the_route_is_the_named_trunk_or_the_first_and_none_without_trunks() {
        let mut g = gate(GateSettings::default());
        let named = Request {
            trunk: Some("backup".into()),
            ..req("+15551230000", caller("a"))
        };
        assert_eq!(g.check(&named, T).map(|r| r.trunk), Ok("backup".into()));
        let unknown = Request {
            trunk: Some("nope".into()),
            ..req("+15551230000", caller("a"))
        };
        assert_eq!(g.check(&unknown, T), Err(Refusal::NoRoute));
        let mut none = Gate::new(GateSettings::default(), vec![]);
        assert_eq!(
            none.check(&req("+15551230000", caller("a")), T),
            Err(Refusal::NoRoute)
        );
    }

    #[test]
    fn caps_per_number_per_requester_per_hour_and_per_day() {
        let cfg = GateSettings {
            max_per_number_per_day: 2,
            max_per_requester_per_hour: 3,
            max_per_hour: 5,
            max_per_day: 7,
            ..GateSettings::default()
        };
        let mut g = gate(cfg);
        // Per number: 2 within 24 h, whoever asks; "+" or not is the same number.
        assert!(g.admit(&req("+15550000001", caller("a")), T).is_ok());
        assert!(g.admit(&req("15550000001", caller("b")), T + 1).is_ok());
        assert_eq!(
            g.check(&req("+15550000001", caller("c")), T + 2),
            Err(Refusal::NumberCap(2))
        );
        // Per requester: "a" has 1; two more, then refused for other numbers too.
        assert!(g.admit(&req("+15550000002", caller("a")), T + 3).is_ok());
        assert!(g.admit(&req("+15550000003", caller("a")), T + 4).is_ok());
        assert_eq!(
            g.check(&req("+15550000004", caller("a")), T + 5),
            Err(Refusal::RequesterCap(3))
        );
        // All legs per hour: 4 so far, one more, then refused for anyone.
        assert!(g.admit(&req("+15550000005", caller("d")), T + 6).is_ok());
        assert_eq!(
            g.check(&req("+15550000006", caller("e")), T + 7),
            Err(Refusal::HourCap(5))
        );
        // An hour later the hourly caps are free again, the per-number one is not.
        let later = T + HOUR_MS + 10;
        assert!(g.admit(&req("+15550000004", caller("a")), later).is_ok());
        assert_eq!(
            g.check(&req("+15550000001", caller("z")), later),
            Err(Refusal::NumberCap(2))
        );
        // The daily ceiling: 6 placed, one more, then nothing until a day has passed.
        assert!(g
            .admit(&req("+15550000007", caller("f")), later + 1)
            .is_ok());
        assert_eq!(
            g.check(&req("+15550000008", caller("g")), later + 2),
            Err(Refusal::DailyCeiling(7))
        );
        assert!(g
            .check(&req("+15550000008", caller("g")), T + DAY_MS)
            .is_ok());
        assert!(g
            .check(&req("+15550000001", caller("z")), T + DAY_MS)
            .is_ok());
    }

    #[test]
    fn restored_legs_count_as_if_the_server_had_not_restarted() {
        let cfg = GateSettings {
            max_per_number_per_day: 1,
            ..GateSettings::default()
        };
        let mut before = gate(cfg.clone());
        let (_, placed) = before
            .admit(&req("+15550000001", caller("a")), T)
            .expect("first");
        let mut after = gate(cfg);
        let stale = Placed {
            at_ms: T - DAY_MS,
            number: "+15550000002".into(),
            requester: "a".into(),
        };
        after.restore([placed, stale], T + 10);
        assert_eq!(after.len(), 1, "legs older than a day are dropped");
        assert_eq!(
            after.check(&req("+15550000001", caller("b")), T + 10),
            Err(Refusal::NumberCap(1))
        );
        assert!(after
            .check(&req("+15550000002", caller("b")), T + 10)
            .is_ok());
    }
}
