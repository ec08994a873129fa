//! Agent side of routing: an agent became free — which waiting call does it take?
//!
//! The best call in service order among: calls waiting for this agent as ticket owner,
//! classes filed under a (skill, level) the agent has, and fully relaxed classes of the
//! queues the agent serves. Each bucket lists class heads best first, so the walk stops
//! as soon as a head cannot beat the best call found so far.
use super::state::CallKey;
use super::waiting::Entry;
use super::Router;
use crate::acd::types::Membership;
use std::collections::BTreeSet;

impl Router {
    /// (slot, classes examined) of the call this agent should take, if any.
    pub(super) fn pick_call(&self, a: u32) -> Option<(u32, u32)> {
        let ag = self.agents.get(a as usize)?;
        let mut best: Option<(CallKey, u32)> = None;
        let mut considered = 0u32;
        let declined = |slot: u32| self.calls.get(slot).is_none_or(|c| c.declined.contains(&a));
        if let Some(set) = self.waiting.owner.get(&a) {
            considered += 1;
            best = set.iter().find(|(_, s)| !declined(*s)).copied();
        }
        let mut walk = |heads: &BTreeSet<Entry>, best: &mut Option<(CallKey, u32)>| {
            for (head, class) in heads {
                if best.is_some_and(|b| *head >= b.0) {
                    break;
                }
                considered += 1;
                let Some(cl) = self.waiting.classes.get(*class as usize) else {
                    continue;
                };
                let q = cl.queue.0 as usize;
                if self.queues[q].def.membership == Membership::Explicit && ag.penalty[q].is_none()
                {
                    continue;
                }
                if !ag.qualifies(&cl.reqs) {
                    continue;
                }
                let took_head = match cl.calls.iter().find(|(_, s)| !declined(*s)) {
                    Some((k, s)) if best.is_none_or(|b| *k < b.0) => {
                        *best = Some((*k, *s));
                        k == head
                    }
                    _ => false,
                };
                if took_head {
                    break; // later classes in this bucket have worse heads
                }
            }
        };
        for (s, level) in &ag.skills {
            let Some(levels) = self.waiting.by_skill.get(s.0 as usize) else {
                continue;
            };
            for heads in levels.iter().take(*level as usize) {
                walk(heads, &mut best);
            }
        }
        for q in &ag.any_queues {
            if let Some(heads) = self.waiting.by_queue.get(q.0 as usize) {
                walk(heads, &mut best);
            }
        }
        best.map(|(_, slot)| (slot, considered))
    }
}
