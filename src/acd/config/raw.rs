//! The TOML file format, as written by operators. Every field that can be wrong keeps
//! its position (`toml::Spanned`) so problems are reported as `file:line:column`.
//!
//! `config/queues.toml`:
//! ```toml
//! skills = ["accounts", "hardware", "network"]   # proficiency 1 (basic) .. 5 (expert)
//! languages = ["english", "spanish"]              # languages are skills too
//!
//! [settings]                      # all optional
//! disconnect_grace_s = 20         # agent socket/registration gone this long -> not-ready
//! ticket_priority_boost = 1       # call priority += ticket priority (0..4) * this
//! sla_breach_boost = 5            # call priority += this when the ticket's SLA is breached
//! callback_allowed_prefixes = ["+1555"]
//! # callback_denied_prefixes = ["+1900", ...]   # default: premium-rate ranges (model.rs)
//! callback_max_per_number = 3     # callbacks booked per number within 24 h
//! callback_max_per_hour = 60      # callbacks booked within one hour, all numbers
//!
//! [[queues]]
//! name = "password"
//! strategy = "longest-idle"       # round-robin | fewest-calls | ring-all | best-skill
//! membership = "skills"           # or "explicit": only agents listing the queue
//! required = { accounts = 2, english = 1 }
//! priority = 0                    # added to each call's priority; higher first
//! emergency = false               # emergency queues are served before all others
//! relax = [{ after_s = 30, max_level = 2 }, { after_s = 90, any = true }]
//! overflow = { to = "tier2", after_s = 300, when_no_agents = true }
//! max_wait = { after_s = 900, outcome = "voicemail" }   # overflow | voicemail | callback | busy
//! max_size = { calls = 40, outcome = "callback" }
//! sl_threshold_s = 20
//! wrap_up_s = 30
//! disposition_required = true
//! rona_s = 15
//! announce_every_s = 45
//! ticket_owner_first_s = 60
//! expected_aht_s = 300
//! callback = { max_attempts = 3, retry_after_s = 300, dial_timeout_s = 45, offer_when_ewt_over_s = 240 }
//! record = true                   # record answered calls (stereo WAV under [media] recordings_dir)
//! max_call_s = 14400              # longest call once queued here (default: [media] max_call_s)
//! ```
//! `config/agents.toml`:
//! ```toml
//! [[agents]]
//! id = "alice"
//! name = "Alice Martin"
//! skills = { accounts = 5, english = 5, spanish = 3 }
//! queues = { password = 0, tier2 = 1 }   # queue = penalty (lower is offered first)
//! ```
use serde::Deserialize;
use std::collections::BTreeMap;
use toml::Spanned;

pub type SkillMap = BTreeMap<Spanned<String>, Spanned<i64>>;

#[derive(Deserialize, Debug, Default, Clone)]
#[serde(deny_unknown_fields)]
pub struct RawQueuesFile {
    #[serde(default)]
    pub skills: Vec<Spanned<String>>,
    #[serde(default)]
    pub languages: Vec<Spanned<String>>,
    #[serde(default)]
    pub settings: Option<RawSettings>,
    #[serde(default)]
    pub queues: Vec<RawQueue>,
}

#[derive(Deserialize, Debug, Default, Clone)]
#[serde(deny_unknown_fields)]
pub struct RawSettings {
    pub disconnect_grace_s: Option<u64>,
    pub ticket_priority_boost: Option<i32>,
    pub sla_breach_boost: Option<i32>,
    pub callback_allowed_prefixes: Option<Vec<String>>,
    pub callback_denied_prefixes: Option<Vec<String>>,
    pub callback_max_per_number: Option<u32>,
    pub callback_max_per_hour: Option<u32>,
    pub explain_keep: Option<usize>,
}

#[derive(Deserialize, Debug, Clone)]
#[serde(deny_unknown_fields)]
pub struct RawQueue {
    pub name: Spanned<String>,
    pub strategy: Option<Spanned<String>>,
    pub membership: Option<Spanned<String>>,
    #[serde(default)]
    pub required: SkillMap,
    pub priority: Option<i32>,
    pub emergency: Option<bool>,
    #[serde(default)]
    pub relax: Vec<Spanned<RawRelax>>,
    pub overflow: Option<Spanned<RawOverflow>>,
    pub max_wait: Option<Spanned<RawLimit>>,
    pub max_size: Option<Spanned<RawSize>>,
    pub sl_threshold_s: Option<u64>,
    pub wrap_up_s: Option<u64>,
    pub disposition_required: Option<bool>,
    pub rona_s: Option<Spanned<u64>>,
    pub announce_every_s: Option<Spanned<u64>>,
    pub ticket_owner_first_s: Option<u64>,
    pub expected_aht_s: Option<Spanned<u64>>,
    pub ring_all_max: Option<Spanned<u64>>,
    pub callback: Option<RawCallback>,
    pub record: Option<bool>,
    pub max_call_s: Option<Spanned<u64>>,
}

#[derive(Deserialize, Debug, Clone)]
#[serde(deny_unknown_fields)]
pub struct RawRelax {
    pub after_s: Spanned<u64>,
    pub max_level: Option<Spanned<i64>>,
    #[serde(default)]
    pub drop: Vec<Spanned<String>>,
    #[serde(default)]
    pub any: bool,
}

#[derive(Deserialize, Debug, Clone)]
#[serde(deny_unknown_fields)]
pub struct RawOverflow {
    pub to: Spanned<String>,
    pub after_s: Option<u64>,
    #[serde(default)]
    pub when_no_agents: bool,
}

#[derive(Deserialize, Debug, Clone)]
#[serde(deny_unknown_fields)]
pub struct RawLimit {
    pub after_s: u64,
    pub outcome: Spanned<String>,
    pub to: Option<Spanned<String>>,
}

#[derive(Deserialize, Debug, Clone)]
#[serde(deny_unknown_fields)]
pub struct RawSize {
    pub calls: u64,
    pub outcome: Spanned<String>,
    pub to: Option<Spanned<String>>,
}

#[derive(Deserialize, Debug, Clone)]
#[serde(deny_unknown_fields)]
pub struct RawCallback {
    pub max_attempts: Option<u32>,
    pub retry_after_s: Option<u64>,
    pub dial_timeout_s: Option<u64>,
    pub offer_when_ewt_over_s: Option<u64>,
}

#[derive(Deserialize, Debug, Default, Clone)]
#[serde(deny_unknown_fields)]
pub struct RawAgentsFile {
    #[serde(default)]
    pub agents: Vec<RawAgent>,
}

#[derive(Deserialize, Debug, Clone)]
#[serde(deny_unknown_fields)]
pub struct RawAgent {
    pub id: Spanned<String>,
    pub name: Option<String>,
    #[serde(default)]
    pub skills: SkillMap,
    #[serde(default)]
    pub queues: SkillMap,
}
