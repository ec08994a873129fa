//! Installing a configuration, and live reload: new queues, skills and agent skills take
//! effect at once; waiting callers keep their place (same service key), logged-in
//! agents keep their state, ringing and connected calls carry on.
use super::agents::build_agent;
use super::avail::AvailIndex;
use super::state::{AState, AgentRt, CState, PackedSkills, QueueRt};
use super::timers::Timer;
use super::waiting::WaitIndex;
use super::Router;
use crate::acd::config::AcdConfig;
use crate::acd::ewt::HandleTimeEstimate;
use crate::acd::types::Membership;
use crate::acd::types::*;

/// Why a new configuration was not taken; the old one keeps running.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("reload refused: {}", problems.join("; "))]
pub struct ReloadError {
    pub problems: Vec<String>,
}

fn queue_rt(cfg: &AcdConfig, i: usize) -> QueueRt {
    let def = cfg.queues[i].clone();
    let q = QueueId(i as u16);
    let min_penalty = match def.membership {
        Membership::Skills => 0,
        Membership::Explicit => cfg
            .agents
            .iter()
            .filter_map(|a| a.queues.iter().find(|(x, _)| *x == q).map(|(_, p)| *p))
            .min()
            .unwrap_or(0),
    };
    QueueRt {
        aht: HandleTimeEstimate::new(def.expected_aht_ms),
        def,
        order: Default::default(),
        logged_in: 0,
        staffed: 0,
        rr_cursor: 0,
        min_penalty,
        answered: 0,
        abandoned: 0,
    }
}

fn popularity(cfg: &AcdConfig) -> Vec<[u32; 5]> {
    let mut pop = vec![[0u32; 5]; cfg.skills.len()];
    for a in &cfg.agents {
        for (s, l) in &a.skills {
            if let Some(p) = pop.get_mut(s.0 as usize) {
                for c in p.iter_mut().take(*l as usize) {
                    *c += 1;
                }
            }
        }
    }
    pop
}

impl Router {
    /// Fresh tables for `cfg` (agents logged out, no calls).
    pub(super) fn install(&mut self, cfg: AcdConfig) {
        self.skill_ids = cfg.skill_map();
        self.queue_ids = cfg
            .queues
            .iter()
            .enumerate()
            .map(|(i, q)| (q.name.clone(), QueueId(i as u16)))
            .collect();
        self.agents = cfg.agents.iter().map(|d| build_agent(d, &cfg)).collect();
        self.packed = self.agents.iter().map(PackedSkills::of).collect();
        self.agent_ids = self
            .agents
            .iter()
            .enumerate()
            .map(|(i, a)| (a.id.clone(), i as u32))
            .collect();
        self.queues = (0..cfg.queues.len()).map(|i| queue_rt(&cfg, i)).collect();
        self.avail = AvailIndex::new(cfg.skills.len(), cfg.queues.len());
        self.waiting = WaitIndex::new(cfg.queues.len(), popularity(&cfg));
        self.cfg = cfg;
    }

    /// Swap in a new configuration (already checked by the loader).
    pub fn reload(&mut self, now: Millis, cfg: AcdConfig) -> Result<(), ReloadError> {
        self.advance(now);
        let problems = self.reload_problems(&cfg);
        if !problems.is_empty() {
            return Err(ReloadError { problems });
        }
        let old_cfg = std::mem::take(&mut self.cfg);
        let old_agents = std::mem::take(&mut self.agents);
        let old_queues = std::mem::take(&mut self.queues);
        self.install(cfg);
        // Map old indexes to new ones by name.
        let skill_map: Vec<Option<SkillId>> = old_cfg
            .skills
            .iter()
            .map(|s| self.skill_ids.get(&s.name).copied())
            .collect();
        let queue_map: Vec<QueueId> = old_queues
            .iter()
            .map(|q| {
                self.queue_ids
                    .get(&q.def.name)
                    .copied()
                    .unwrap_or(QueueId(0))
            })
            .collect();
        let agent_map: Vec<Option<u32>> = old_agents
            .iter()
            .map(|a| self.agent_ids.get(&a.id).copied())
            .collect();
        for (old, qr) in old_queues.into_iter().enumerate() {
            let nq = &mut self.queues[queue_map[old].0 as usize];
            nq.answered = qr.answered;
            nq.abandoned = qr.abandoned;
            nq.rr_cursor = agent_map
                .get(qr.rr_cursor as usize)
                .copied()
                .flatten()
                .unwrap_or(0);
            if qr.aht.observed() > 0 {
                nq.aht = qr.aht;
            }
        }
        for (old, oa) in old_agents.into_iter().enumerate() {
            let Some(na) = agent_map[old] else { continue };
            carry_agent(&mut self.agents[na as usize], oa);
        }
        // Calls: remap ids, recompute requirement and key, keep entry time and sequence.
        let slots: Vec<u32> = self.calls.iter().map(|(s, _)| s).collect();
        for &slot in &slots {
            let Some(c) = self.calls.get_mut(slot) else {
                continue;
            };
            c.queue = queue_map[c.queue.0 as usize];
            for r in &mut c.own_reqs {
                r.skill = skill_map[r.skill.0 as usize].unwrap_or(r.skill);
            }
            let remap = |a: u32| agent_map.get(a as usize).copied().flatten();
            c.declined = c.declined.iter().filter_map(|a| remap(*a)).collect();
            c.owner = c.owner.and_then(remap);
            c.state = match std::mem::replace(&mut c.state, CState::Waiting) {
                CState::Ringing(l) => CState::Ringing(l.into_iter().filter_map(remap).collect()),
                CState::Connected(a) => remap(a).map_or(CState::Waiting, CState::Connected),
                CState::CallbackDialing(a) => {
                    remap(a).map_or(CState::Waiting, CState::CallbackDialing)
                }
                CState::OwnerHold if c.owner.is_none() => CState::Waiting,
                s => s,
            };
            c.ranked = false;
            let steps = self.queues[c.queue.0 as usize].def.relax.len();
            c.stage = c.stage.min(steps as u8);
            self.refresh_call(slot);
        }
        self.rebuild_runtime(&slots);
        Ok(())
    }

    fn reload_problems(&self, cfg: &AcdConfig) -> Vec<String> {
        let mut problems = Vec::new();
        for (_, c) in self.calls.iter() {
            let qname = &self.queues[c.queue.0 as usize].def.name;
            if cfg.queue_id(qname).is_none() {
                problems.push(format!(
                    "queue `{qname}` still has callers (e.g. `{}`); keep it until they are served",
                    c.id
                ));
            }
            for r in &c.own_reqs {
                let s = self.cfg.skill_name(r.skill);
                if cfg.skill_id(s).is_none() {
                    problems.push(format!("skill `{s}` is needed by waiting caller `{}`; keep it until they are served", c.id));
                }
            }
        }
        for a in &self.agents {
            if a.logged_in() && !cfg.agents.iter().any(|d| d.id == a.id.as_str()) {
                problems.push(format!(
                    "agent `{}` is logged in; log them out before removing them",
                    a.id
                ));
            }
        }
        problems.sort();
        problems.dedup();
        problems
    }

    /// Counters, indexes and timers from the records, then route what now matches.
    fn rebuild_runtime(&mut self, slots: &[u32]) {
        let now = self.now;
        self.timers.clear();
        for i in 0..self.agents.len() {
            let a = &mut self.agents[i];
            a.indexed = None;
            for (q, el) in a.eligible.iter().enumerate() {
                if *el {
                    self.queues[q].logged_in += u32::from(a.logged_in());
                    self.queues[q].staffed += u32::from(a.staffed());
                }
            }
            if a.state == AState::WrapUp {
                let at = a.wrap_until.unwrap_or(now).max(now);
                self.timers.push(
                    at,
                    Timer::WrapEnd {
                        agent: i as u32,
                        epoch: a.epoch,
                    },
                );
            }
            if a.logged_in() && !a.connected {
                let at = now + self.cfg.settings.disconnect_grace_ms;
                self.timers.push(
                    at,
                    Timer::Grace {
                        agent: i as u32,
                        conn: a.conn_gen,
                    },
                );
            }
            if a.routable() {
                self.avail.insert(i as u32, a);
            }
        }
        let mut order = Vec::new();
        for &slot in slots {
            let Some(c) = self.calls.get(slot) else {
                continue;
            };
            let (uid, q) = (c.uid, c.queue);
            let def = &self.queues[q.0 as usize].def;
            match c.state {
                CState::Ringing(_) => self.timers.push(
                    now + def.rona_ms,
                    Timer::Rona {
                        slot,
                        uid,
                        offer: c.offer_epoch,
                    },
                ),
                CState::CallbackRetry => {
                    let attempt = c.callback.as_ref().map_or(0, |cb| cb.attempts);
                    self.timers.push(
                        now + def.callback.retry_after_ms,
                        Timer::CallbackRetry { slot, uid, attempt },
                    );
                }
                CState::CallbackDialing(_) => {
                    let attempt = c.callback.as_ref().map_or(0, |cb| cb.attempts);
                    self.timers.push(
                        now + def.callback.dial_timeout_ms,
                        Timer::CallbackDial { slot, uid, attempt },
                    );
                }
                _ => {}
            }
            if let (Some(every), false, false) = (
                def.announce_every_ms,
                c.callback.is_some(),
                matches!(c.state, CState::Connected(_)),
            ) {
                self.timers.push(now + every, Timer::Announce { slot, uid });
            }
            if c.waiting() {
                order.push((c.key, slot));
            }
            self.place(slot);
            if self.calls.get(slot).is_some_and(|c| c.waiting()) {
                self.arm_queue_timers(slot);
            }
        }
        order.sort_unstable();
        for (_, slot) in order {
            self.route_call(slot, "reload");
        }
    }
}

/// Keep the runtime state of an agent across a reload (skills and queues are new).
fn carry_agent(new: &mut AgentRt, old: AgentRt) {
    new.state = old.state;
    new.reason = old.reason;
    new.since = old.since;
    new.idle_since = old.idle_since;
    new.answered = old.answered;
    new.connected = old.connected;
    new.conn_gen = old.conn_gen;
    new.epoch = old.epoch;
    new.pending_logout = old.pending_logout;
    new.pending_not_ready = old.pending_not_ready;
    new.disposition_pending = old.disposition_pending;
    new.disposition_done = old.disposition_done;
    new.wrap_until = old.wrap_until;
    new.last_queue = None;
}
