//! The compiled routing model: names resolved to ids, seconds turned into milliseconds.
use crate::acd::types::*;
use std::collections::HashMap;

/// A skill or a language (languages are skills whose level is fluency).
#[derive(Clone, Debug, PartialEq)]
pub struct SkillDef {
    pub name: String,
    pub language: bool,
}

/// One step of skill relaxation, applied once a caller has waited `after_ms` in the queue.
/// Steps are cumulative.
#[derive(Clone, Debug, PartialEq)]
pub struct RelaxStep {
    pub after_ms: Millis,
    /// Cap every required minimum level at this value ("accept level >= 2").
    pub max_level: Option<u8>,
    /// Stop requiring these skills.
    pub drop: Vec<SkillId>,
    /// Stop requiring any skill: any agent of the queue will do.
    pub any: bool,
}

#[derive(Clone, Debug, PartialEq)]
pub struct OverflowDef {
    pub to: QueueId,
    /// Move callers who waited this long in the queue.
    pub after_ms: Option<Millis>,
    /// Move callers at once while no eligible agent is logged in.
    pub when_no_agents: bool,
}

#[derive(Clone, Debug, PartialEq)]
pub struct CallbackDef {
    /// Dial attempts before giving up.
    pub max_attempts: u32,
    pub retry_after_ms: Millis,
    /// No result from the call layer in this time counts as "no answer".
    pub dial_timeout_ms: Millis,
    /// Offer a callback to callers whose expected wait is above this.
    pub offer_when_ewt_over_ms: Option<Millis>,
}

impl Default for CallbackDef {
    fn default() -> Self {
        CallbackDef {
            max_attempts: 3,
            retry_after_ms: 300_000,
            dial_timeout_ms: 45_000,
            offer_when_ewt_over_ms: None,
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct QueueDef {
    pub name: String,
    pub strategy: Strategy,
    pub membership: Membership,
    pub required: Vec<SkillReq>,
    /// Added to every call's priority (higher is served first).
    pub priority: i32,
    /// Emergency calls go before every non-emergency call, whatever the priority.
    pub emergency: bool,
    pub relax: Vec<RelaxStep>,
    pub overflow: Option<OverflowDef>,
    pub max_wait: Option<(Millis, Outcome)>,
    pub max_size: Option<(usize, Outcome)>,
    pub sl_threshold_ms: Millis,
    pub wrap_up_ms: Millis,
    pub disposition_required: bool,
    pub rona_ms: Millis,
    pub announce_every_ms: Option<Millis>,
    /// How long a caller whose ticket is owned by a logged-in agent waits for that agent only.
    pub ticket_owner_first_ms: Millis,
    /// Seed of the handle-time estimate used for expected wait.
    pub expected_aht_ms: Millis,
    /// At most this many phones ring at once in ring-all.
    pub ring_all_max: usize,
    pub callback: CallbackDef,
    /// Answered calls of this queue are recorded (caller left, agent right).
    pub record: bool,
    /// Longest a call that joined this queue may last, from its start (None: `[media]
    /// max_call_s` of helpline.toml); then the caller is hung up (`max_call_length`).
    pub max_call_ms: Option<Millis>,
}

impl QueueDef {
    /// A queue with the defaults of queues.toml.
    pub fn new(name: &str) -> QueueDef {
        QueueDef {
            name: name.to_string(),
            strategy: Strategy::LongestIdle,
            membership: Membership::Skills,
            required: Vec::new(),
            priority: 0,
            emergency: false,
            relax: Vec::new(),
            overflow: None,
            max_wait: None,
            max_size: None,
            sl_threshold_ms: 20_000,
            wrap_up_ms: 0,
            disposition_required: false,
            rona_ms: 15_000,
            announce_every_ms: None,
            ticket_owner_first_ms: 0,
            expected_aht_ms: 300_000,
            ring_all_max: 20,
            callback: CallbackDef::default(),
            record: false,
            max_call_ms: None,
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct AgentDef {
    pub id: String,
    pub name: String,
    pub skills: Vec<(SkillId, u8)>,
    /// Queue memberships with penalty (lower is offered first).
    pub queues: Vec<(QueueId, u16)>,
}

/// Premium-rate and toll-fraud ranges never called back unless `callback_denied_prefixes`
/// says otherwise: NANP 900/976 and the Caribbean (and Bermuda) area codes that dial like US
/// numbers under +1 but are international; UK premium (09), personal (070) and revenue-share
/// (0871-0873) numbers; international premium and satellite ranges (+870, +881-883, +979);
/// premium ranges of Germany (0900), France (089), Italy (899), Australia (190).
pub const DEFAULT_CALLBACK_DENIED: &[&str] = &[
    "+1900", "+1976", // NANP premium
    "+1242", "+1246", "+1264", "+1268", "+1284", "+1345", "+1441", "+1473", "+1649", "+1658",
    "+1664", "+1721", "+1758", "+1767", "+1784", "+1809", "+1829", "+1849", "+1868", "+1869",
    "+1876", // Caribbean and Bermuda
    "+449", "+4470", "+44871", "+44872", "+44873", "09", "070", "0871", "0872", "0873", // UK
    "+870", "+881", "+882", "+883", "+979", // satellite, international networks, premium
    "+49900", "+3389", "+39899", "+61190",
];

#[derive(Clone, Debug, PartialEq)]
pub struct Settings {
    pub disconnect_grace_ms: Millis,
    /// Added to a call's priority per ticket priority step (ticket priority 0..=4).
    pub ticket_priority_boost: i32,
    /// Added to a call's priority when its ticket's SLA is breached.
    pub sla_breach_boost: i32,
    /// Callback numbers must start with one of these (empty: any number of 3-20 digits).
    pub callback_allowed_prefixes: Vec<String>,
    /// Callback numbers starting with one of these are refused even when allowed above
    /// (premium-rate and look-alike international ranges; `+` optional on both sides).
    /// Default [`DEFAULT_CALLBACK_DENIED`]; a configured list replaces it.
    pub callback_denied_prefixes: Vec<String>,
    /// Callbacks booked for one number within 24 hours, at most.
    pub callback_max_per_number: u32,
    /// Callbacks booked (all numbers) within one hour, at most.
    pub callback_max_per_hour: u32,
    /// Offer explanations kept for calls that have ended.
    pub explain_keep: usize,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            disconnect_grace_ms: 20_000,
            ticket_priority_boost: 1,
            sla_breach_boost: 5,
            callback_allowed_prefixes: Vec::new(),
            callback_denied_prefixes: DEFAULT_CALLBACK_DENIED
                .iter()
                .map(|p| p.to_string())
                .collect(),
            callback_max_per_number: 3,
            callback_max_per_hour: 60,
            explain_keep: 1000,
        }
    }
}

/// Everything the router needs to run.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct AcdConfig {
    pub skills: Vec<SkillDef>,
    pub queues: Vec<QueueDef>,
    pub agents: Vec<AgentDef>,
    pub settings: Settings,
}

impl AcdConfig {
    pub fn skill_id(&self, name: &str) -> Option<SkillId> {
        self.skills
            .iter()
            .position(|s| s.name == name)
            .map(|i| SkillId(i as u16))
    }
    pub fn queue_id(&self, name: &str) -> Option<QueueId> {
        self.queues
            .iter()
            .position(|q| q.name == name)
            .map(|i| QueueId(i as u16))
    }
    pub fn skill_name(&self, id: SkillId) -> &str {
        self.skills
            .get(id.0 as usize)
            .map_or("?", |s| s.name.as_str())
    }
    pub fn queue_name(&self, id: QueueId) -> &str {
        self.queues
            .get(id.0 as usize)
            .map_or("?", |q| q.name.as_str())
    }
    /// Name → id maps, for callers resolving many names.
    pub fn skill_map(&self) -> HashMap<String, SkillId> {
        self.skills
            .iter()
            .enumerate()
            .map(|(i, s)| (s.name.clone(), SkillId(i as u16)))
            .collect()
    }
    /// "network>=3, spanish>=2" for messages and explanations.
    pub fn describe(&self, reqs: &[SkillReq]) -> String {
        if reqs.is_empty() {
            return "any agent of the queue".to_string();
        }
        reqs.iter()
            .map(|r| format!("{}>={}", self.skill_name(r.skill), r.min_level))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// Requirement after `stage` relaxation steps: levels capped, skills dropped.
pub fn relaxed(reqs: &[SkillReq], steps: &[RelaxStep], stage: usize) -> Vec<SkillReq> {
    let mut out: Vec<SkillReq> = reqs.to_vec();
    for step in steps.iter().take(stage) {
        if step.any {
            out.clear();
        }
        out.retain(|r| !step.drop.contains(&r.skill));
        if let Some(cap) = step.max_level {
            for r in &mut out {
                r.min_level = r.min_level.min(cap);
            }
        }
    }
    out
}

/// Merge requirements, keeping the highest minimum per skill; sorted by skill.
pub fn merge_reqs(a: &[SkillReq], b: &[SkillReq]) -> Vec<SkillReq> {
    let mut out: Vec<SkillReq> = Vec::with_capacity(a.len() + b.len());
    for r in a.iter().chain(b) {
        match out.iter_mut().find(|x| x.skill == r.skill) {
            Some(x) => x.min_level = x.min_level.max(r.min_level),
            None => out.push(*r),
        }
    }
    out.sort();
    out
}
