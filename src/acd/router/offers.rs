//! Offers: ringing agents, answers, rejections, RONA (ring-no-answer) and withdrawal
//! when an agent disconnects, logs out or the caller hangs up.
use super::explain::{Explanation, Scored};
use super::io::{AcdError, Action, StopReason};
use super::select::Selection;
use super::state::{AState, CState};
use super::timers::Timer;
use super::Router;
use crate::acd::types::*;

impl Router {
    pub(super) fn explanation(
        &self,
        slot: u32,
        sel: &Selection,
        trigger: &'static str,
    ) -> Option<Explanation> {
        let c = self.calls.get(slot)?;
        let name = |a: u32| self.agents[a as usize].id.clone();
        Some(Explanation {
            call: c.id.clone(),
            at_ms: self.now,
            queue: self.queues[c.queue.0 as usize].def.name.clone(),
            trigger,
            rule: sel.rule.to_string(),
            requirement: self.cfg.describe(&c.reqs),
            relaxation_stage: c.stage,
            penalty: sel.penalty,
            considered: sel.considered,
            chosen: sel
                .agents
                .iter()
                .zip(&sel.scores)
                .map(|(a, s)| Scored {
                    agent: name(*a),
                    score: *s,
                })
                .collect(),
            runners_up: sel
                .runners
                .iter()
                .map(|(a, s)| Scored {
                    agent: name(*a),
                    score: *s,
                })
                .collect(),
        })
    }

    /// Offer, or reserve the agent when the call is a virtual callback.
    pub(super) fn dispatch(&mut self, slot: u32, sel: Selection, trigger: &'static str) {
        let Some(c) = self.calls.get(slot) else {
            return;
        };
        if c.callback.is_some() {
            if let Some(a) = sel.agents.first().copied() {
                let expl = self.explanation(slot, &sel, trigger);
                self.reserve_for_callback(slot, a, expl);
            }
            return;
        }
        self.offer(slot, sel, trigger);
    }

    pub(super) fn offer_to_owner(&mut self, slot: u32, owner: u32, trigger: &'static str) {
        let penalty = self
            .calls
            .get(slot)
            .and_then(|c| self.agents[owner as usize].penalty[c.queue.0 as usize]);
        let sel = Selection {
            agents: vec![owner],
            penalty: penalty.unwrap_or(0),
            considered: 1,
            rule: "ticket-owner: the agent owning the caller's open ticket, first for the queue's ticket_owner_first_s",
            scores: vec![0],
            runners: Vec::new(),
        };
        self.dispatch(slot, sel, trigger);
    }

    pub(super) fn offer_from_agent(
        &mut self,
        slot: u32,
        a: u32,
        considered: u32,
        trigger: &'static str,
    ) {
        let Some(c) = self.calls.get(slot) else {
            return;
        };
        let sel = Selection {
            agents: vec![a],
            penalty: self.agents[a as usize].penalty[c.queue.0 as usize].unwrap_or(0),
            considered,
            rule: "agent-available: the waiting call first in service order (emergency, priority, time of entry) among those the agent qualifies for; score = ms waited",
            scores: vec![self.now.saturating_sub(c.key.entered) as i64],
            runners: Vec::new(),
        };
        self.dispatch(slot, sel, trigger);
    }

    fn offer(&mut self, slot: u32, sel: Selection, trigger: &'static str) {
        let expl = self.explanation(slot, &sel, trigger);
        self.unqueue(slot);
        let Some(c) = self.calls.get_mut(slot) else {
            return;
        };
        c.state = CState::Ringing(sel.agents.clone());
        c.offer_epoch = c.offer_epoch.wrapping_add(1);
        let (id, uid, offer, q) = (c.id.clone(), c.uid, c.offer_epoch, c.queue);
        for a in &sel.agents {
            self.set_state(*a, AState::Ringing(slot), None);
        }
        let qr = &mut self.queues[q.0 as usize];
        if qr.def.strategy == Strategy::RoundRobin {
            if let Some(a) = sel.agents.first() {
                qr.rr_cursor = *a;
            }
        }
        let ring_ms = qr.def.rona_ms;
        self.timers
            .push(self.now + ring_ms, Timer::Rona { slot, uid, offer });
        let agents = sel
            .agents
            .iter()
            .map(|a| self.agents[*a as usize].id.clone())
            .collect();
        self.stats.offers += 1;
        if let Some(e) = expl {
            self.explain.record(e.clone());
            self.emit(Action::Offer {
                call: id,
                agents,
                ring_ms,
                explanation: e,
            });
        }
    }

    /// Check that `call` is ringing `agent`; returns (slot, agent index).
    fn ringing(&self, call: &CallId, agent: &AgentId) -> Result<(u32, u32), AcdError> {
        let slot = self.call_ix(call)?;
        let a = self.agent_ix(agent)?;
        match self.calls.get(slot).map(|c| &c.state) {
            Some(CState::Ringing(list)) if list.contains(&a) => Ok((slot, a)),
            _ => Err(AcdError::StaleOffer {
                call: call.clone(),
                agent: agent.clone(),
            }),
        }
    }

    pub(super) fn offer_answered(
        &mut self,
        call: &CallId,
        agent: &AgentId,
    ) -> Result<(), AcdError> {
        let (slot, a) = self.ringing(call, agent)?;
        let now = self.now;
        let Some(c) = self.calls.get_mut(slot) else {
            return Err(AcdError::UnknownCall(call.clone()));
        };
        let others: Vec<u32> = match &c.state {
            CState::Ringing(list) => list.iter().copied().filter(|x| *x != a).collect(),
            _ => Vec::new(),
        };
        c.state = CState::Connected(a);
        c.answered_at = Some(now);
        let q = c.queue;
        for o in &others {
            let id = self.agents[*o as usize].id.clone();
            self.emit(Action::StopRinging {
                call: call.clone(),
                agent: id,
                reason: StopReason::AnsweredElsewhere,
            });
        }
        let ag = &mut self.agents[a as usize];
        ag.answered += 1;
        ag.disposition_done = false;
        self.set_state(a, AState::OnCall(slot), None);
        self.queues[q.0 as usize].answered += 1;
        for o in others {
            self.make_available(o, "agent-available");
        }
        Ok(())
    }

    pub(super) fn offer_rejected(
        &mut self,
        call: &CallId,
        agent: &AgentId,
    ) -> Result<(), AcdError> {
        let (slot, a) = self.ringing(call, agent)?;
        if let Some(c) = self.calls.get_mut(slot) {
            c.declined.push(a);
        }
        self.withdraw_agent(slot, a, StopReason::Rejected);
        self.make_available(a, "agent-available");
        Ok(())
    }

    pub(super) fn offer_timed_out(
        &mut self,
        call: &CallId,
        agent: &AgentId,
    ) -> Result<(), AcdError> {
        let (slot, a) = self.ringing(call, agent)?;
        self.withdraw_agent(slot, a, StopReason::NoAnswer);
        self.set_state(a, AState::NotReady, Some(reasons::MISSED.into()));
        Ok(())
    }

    /// RONA: nobody answered in time; agents go not-ready ("missed"), the caller keeps
    /// their place.
    pub(super) fn rona(&mut self, slot: u32) {
        let Some(c) = self.calls.get_mut(slot) else {
            return;
        };
        let CState::Ringing(list) = std::mem::replace(&mut c.state, CState::Waiting) else {
            return;
        };
        let id = c.id.clone();
        for a in &list {
            let agent = self.agents[*a as usize].id.clone();
            self.emit(Action::StopRinging {
                call: id.clone(),
                agent,
                reason: StopReason::NoAnswer,
            });
            self.set_state(*a, AState::NotReady, Some(reasons::MISSED.into()));
        }
        self.requeue(slot, "requeued");
    }

    /// Stop ringing one agent; when nobody rings any more the caller goes back in line.
    pub(super) fn withdraw_agent(&mut self, slot: u32, a: u32, reason: StopReason) {
        let Some(c) = self.calls.get_mut(slot) else {
            return;
        };
        let CState::Ringing(list) = &mut c.state else {
            return;
        };
        list.retain(|x| *x != a);
        let empty = list.is_empty();
        let call = c.id.clone();
        let agent = self.agents[a as usize].id.clone();
        self.emit(Action::StopRinging {
            call,
            agent,
            reason,
        });
        if empty {
            self.requeue(slot, "requeued");
        }
    }
}
