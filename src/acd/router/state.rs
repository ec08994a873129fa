//! The router's records: agents, calls (in a slab) and per-queue runtime data.
use super::rank::RankSet;
use crate::acd::config::QueueDef;
use crate::acd::ewt::HandleTimeEstimate;
use crate::acd::types::*;

/// Order of service: emergencies first, then higher priority, then order of entry.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug, Hash)]
pub(super) struct CallKey {
    /// 0 for emergencies, 1 otherwise.
    pub rank: u8,
    pub neg_priority: i64,
    /// When the caller first entered a queue (kept across overflow and RONA).
    pub entered: Millis,
    pub seq: u64,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(super) enum AState {
    LoggedOut,
    Available,
    Ringing(u32),
    OnCall(u32),
    WrapUp,
    NotReady,
    Reserved(u32),
}

pub(super) struct AgentRt {
    pub id: AgentId,
    pub name: String,
    /// Level per skill id (0 = lacks it).
    pub levels: Vec<u8>,
    pub skills: Vec<(SkillId, u8)>,
    /// Penalty per queue when listed in agents.toml.
    pub penalty: Vec<Option<u16>>,
    /// Can take some call of this queue (membership + most relaxed requirement).
    pub eligible: Vec<bool>,
    /// Queues whose fully relaxed ("any agent") callers this agent may take.
    pub any_queues: Vec<QueueId>,
    pub state: AState,
    pub reason: Option<String>,
    pub since: Millis,
    pub idle_since: Millis,
    pub answered: u32,
    pub connected: bool,
    pub conn_gen: u32,
    pub epoch: u32,
    pub pending_logout: bool,
    pub pending_not_ready: Option<String>,
    pub disposition_pending: bool,
    /// Disposition recorded during the call (none needed at wrap-up).
    pub disposition_done: bool,
    pub wrap_until: Option<Millis>,
    pub last_queue: Option<QueueId>,
    /// Key under which the agent sits in the availability index.
    pub indexed: Option<(Millis, u32)>,
}

impl AgentRt {
    pub fn status(&self) -> AgentStatus {
        match self.state {
            AState::LoggedOut => AgentStatus::LoggedOut,
            AState::Available => AgentStatus::Available,
            AState::Ringing(_) => AgentStatus::Ringing,
            AState::OnCall(_) => AgentStatus::OnCall,
            AState::WrapUp => AgentStatus::WrapUp,
            AState::NotReady => AgentStatus::NotReady,
            AState::Reserved(_) => AgentStatus::Reserved,
        }
    }
    pub fn logged_in(&self) -> bool {
        self.state != AState::LoggedOut
    }
    /// Counted as staff for expected-wait estimates.
    pub fn staffed(&self) -> bool {
        !matches!(self.state, AState::LoggedOut | AState::NotReady)
    }
    pub fn routable(&self) -> bool {
        self.state == AState::Available && self.connected
    }
    pub fn qualifies(&self, reqs: &[SkillReq]) -> bool {
        reqs.iter().all(|r| {
            self.levels
                .get(r.skill.0 as usize)
                .is_some_and(|l| *l >= r.min_level)
        })
    }
    /// Sum of the agent's levels on these skills (best-skill score).
    pub fn skill_score(&self, reqs: &[SkillReq]) -> i64 {
        reqs.iter()
            .map(|r| *self.levels.get(r.skill.0 as usize).unwrap_or(&0) as i64)
            .sum()
    }
}

/// An agent's skills packed in 32 bytes, kept in one dense array so that scanning
/// thousands of candidates stays in cache. Agents with more than 8 skills fall back to
/// their full record.
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct PackedSkills {
    len: u8,
    /// Listed in some queue (penalties to look up).
    pub listed: bool,
    skill: [u16; 8],
    level: [u8; 8],
}

const OVERFLOWED: u8 = u8::MAX;

impl PackedSkills {
    pub fn of(a: &AgentRt) -> Self {
        let mut p = PackedSkills {
            listed: a.penalty.iter().any(Option::is_some),
            ..Default::default()
        };
        if a.skills.len() > 8 {
            p.len = OVERFLOWED;
            return p;
        }
        for (i, (s, l)) in a.skills.iter().enumerate() {
            p.skill[i] = s.0;
            p.level[i] = *l;
        }
        p.len = a.skills.len() as u8;
        p
    }
    fn level(&self, s: SkillId) -> u8 {
        let n = self.len as usize;
        (0..n)
            .find(|i| self.skill[*i] == s.0)
            .map_or(0, |i| self.level[i])
    }
    /// `None` when the agent has too many skills to be packed.
    pub fn qualifies(&self, reqs: &[SkillReq]) -> Option<bool> {
        if self.len == OVERFLOWED {
            return None;
        }
        Some(reqs.iter().all(|r| self.level(r.skill) >= r.min_level))
    }
    pub fn skill_score(&self, reqs: &[SkillReq]) -> Option<i64> {
        if self.len == OVERFLOWED {
            return None;
        }
        Some(reqs.iter().map(|r| self.level(r.skill) as i64).sum())
    }
}

#[derive(Clone, Debug, PartialEq)]
pub(super) enum CState {
    /// In the routing index (also virtual callbacks waiting their turn).
    Waiting,
    /// Waiting for the ticket owner only.
    OwnerHold,
    Ringing(Vec<u32>),
    Connected(u32),
    /// Callback: waiting before the next dial attempt.
    CallbackRetry,
    /// Callback: agent reserved, customer being dialled.
    CallbackDialing(u32),
}

#[derive(Clone, Debug)]
pub(super) struct CallbackState {
    pub number: String,
    pub attempts: u32,
}

pub(super) struct CallRt {
    pub id: CallId,
    pub uid: u64,
    pub queue: QueueId,
    pub queue_entered: Millis,
    pub queue_epoch: u32,
    pub key: CallKey,
    /// Requirements brought by the call (extra skills, language).
    pub own_reqs: Vec<SkillReq>,
    /// Queue + call requirements after relaxation stage `stage`.
    pub reqs: Vec<SkillReq>,
    pub stage: u8,
    pub class: u32,
    pub priority: i32,
    pub emergency: bool,
    pub owner: Option<u32>,
    pub state: CState,
    pub offer_epoch: u32,
    pub declined: Vec<u32>,
    pub callback: Option<CallbackState>,
    pub callback_offered: bool,
    pub hops: u8,
    pub answered_at: Option<Millis>,
    pub max_wait_done: bool,
    /// Position in the queue's rank set while waiting.
    pub ranked: bool,
}

impl CallRt {
    pub fn waiting(&self) -> bool {
        matches!(self.state, CState::Waiting | CState::OwnerHold)
    }
}

pub(super) struct QueueRt {
    pub def: QueueDef,
    /// Waiting callers in service order, for positions.
    pub order: RankSet<(CallKey, u32)>,
    pub logged_in: u32,
    pub staffed: u32,
    pub aht: HandleTimeEstimate,
    pub rr_cursor: u32,
    pub min_penalty: u16,
    pub answered: u64,
    pub abandoned: u64,
}

/// Calls by slot; slots are reused, `uid` tells generations apart.
#[derive(Default)]
pub(super) struct Slab {
    pub items: Vec<Option<CallRt>>,
    free: Vec<u32>,
}

impl Slab {
    pub fn insert(&mut self, c: CallRt) -> u32 {
        match self.free.pop() {
            Some(i) => {
                self.items[i as usize] = Some(c);
                i
            }
            None => {
                self.items.push(Some(c));
                (self.items.len() - 1) as u32
            }
        }
    }
    pub fn remove(&mut self, i: u32) -> Option<CallRt> {
        let c = self.items.get_mut(i as usize)?.take();
        if c.is_some() {
            self.free.push(i);
        }
        c
    }
    pub fn get(&self, i: u32) -> Option<&CallRt> {
        self.items.get(i as usize)?.as_ref()
    }
    pub fn get_mut(&mut self, i: u32) -> Option<&mut CallRt> {
        self.items.get_mut(i as usize)?.as_mut()
    }
    pub fn iter(&self) -> impl Iterator<Item = (u32, &CallRt)> {
        self.items
            .iter()
            .enumerate()
            .filter_map(|(i, c)| c.as_ref().map(|c| (i as u32, c)))
    }
}
