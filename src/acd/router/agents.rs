//! Agent life cycle: login/logout, ready/not-ready, wrap-up with disposition,
//! disconnection grace, and the single place where agent state changes (and are emitted).
use super::io::{AcdError, Action, StopReason};
use super::state::{AState, AgentRt};
use super::timers::Timer;
use super::Router;
use crate::acd::config::{relaxed, AcdConfig, AgentDef};
use crate::acd::types::Membership;
use crate::acd::types::*;

/// Runtime record for an agent of the configuration (logged out).
pub(super) fn build_agent(def: &AgentDef, cfg: &AcdConfig) -> AgentRt {
    let mut levels = vec![0u8; cfg.skills.len()];
    for (s, l) in &def.skills {
        if let Some(x) = levels.get_mut(s.0 as usize) {
            *x = (*x).max(*l);
        }
    }
    let mut penalty = vec![None; cfg.queues.len()];
    for (q, p) in &def.queues {
        if let Some(x) = penalty.get_mut(q.0 as usize) {
            *x = Some(*p);
        }
    }
    let mut a = AgentRt {
        id: AgentId::from(def.id.as_str()),
        name: def.name.clone(),
        levels,
        skills: def.skills.clone(),
        penalty,
        eligible: Vec::new(),
        any_queues: Vec::new(),
        state: AState::LoggedOut,
        reason: None,
        since: 0,
        idle_since: 0,
        answered: 0,
        connected: false,
        conn_gen: 0,
        epoch: 0,
        pending_logout: false,
        pending_not_ready: None,
        disposition_pending: false,
        disposition_done: false,
        wrap_until: None,
        last_queue: None,
        indexed: None,
    };
    for (i, q) in cfg.queues.iter().enumerate() {
        let member = a.penalty[i].is_some() || q.membership == Membership::Skills;
        let finals = relaxed(&q.required, &q.relax, q.relax.len());
        a.eligible.push(member && a.qualifies(&finals));
        if member {
            a.any_queues.push(QueueId(i as u16));
        }
    }
    a
}

impl Router {
    pub(super) fn agent_ix(&self, id: &AgentId) -> Result<u32, AcdError> {
        self.agent_ids
            .get(id)
            .copied()
            .ok_or_else(|| AcdError::UnknownAgent(id.clone()))
    }

    fn bad_state(&self, a: u32) -> AcdError {
        let ag = &self.agents[a as usize];
        AcdError::BadState {
            agent: ag.id.clone(),
            state: ag.status().name(),
        }
    }

    /// The one place agent state changes: keeps indexes and counters, emits the event.
    pub(super) fn set_state(&mut self, a: u32, new: AState, reason: Option<String>) {
        let now = self.now;
        let ag = &mut self.agents[a as usize];
        if ag.state == AState::Available && new != AState::Available {
            self.avail.remove(a, ag);
        }
        let (old_status, old_reason) = (ag.status(), ag.reason.clone());
        let (was_in, was_staffed) = (ag.logged_in(), ag.staffed());
        ag.state = new;
        ag.reason = reason;
        ag.since = now;
        ag.epoch = ag.epoch.wrapping_add(1);
        let (is_in, is_staffed) = (ag.logged_in(), ag.staffed());
        let mut emptied = Vec::new();
        if was_in != is_in || was_staffed != is_staffed {
            for (q, el) in ag.eligible.iter().enumerate() {
                if !*el {
                    continue;
                }
                let qr = &mut self.queues[q];
                if was_in != is_in {
                    if is_in {
                        qr.logged_in += 1;
                    } else {
                        qr.logged_in = qr.logged_in.saturating_sub(1);
                        if qr.logged_in == 0 {
                            emptied.push(QueueId(q as u16));
                        }
                    }
                }
                if was_staffed != is_staffed {
                    if is_staffed {
                        qr.staffed += 1;
                    } else {
                        qr.staffed = qr.staffed.saturating_sub(1);
                    }
                }
            }
        }
        let ag = &self.agents[a as usize];
        if old_status != ag.status() || old_reason != ag.reason {
            let call = match ag.state {
                AState::Ringing(s) | AState::OnCall(s) | AState::Reserved(s) => {
                    self.calls.get(s).map(|c| c.id.clone())
                }
                _ => None,
            };
            let ev = Action::AgentStateChanged {
                agent: ag.id.clone(),
                state: ag.status(),
                reason: ag.reason.clone(),
                call,
            };
            self.emit(ev);
        }
        for q in emptied {
            self.queue_lost_agents(q);
        }
    }

    /// Available again: take the best waiting call, or wait in the index.
    pub(super) fn make_available(&mut self, a: u32, trigger: &'static str) {
        let now = self.now;
        let ag = &mut self.agents[a as usize];
        ag.pending_not_ready = None;
        ag.idle_since = now;
        self.set_state(a, AState::Available, None);
        self.agent_freed(a, trigger);
    }

    pub(super) fn agent_freed(&mut self, a: u32, trigger: &'static str) {
        if !self.agents[a as usize].routable() {
            return;
        }
        self.stats.agent_searches += 1;
        match self.pick_call(a) {
            Some((slot, considered)) => self.offer_from_agent(slot, a, considered, trigger),
            None => {
                let ag = &mut self.agents[a as usize];
                self.avail.insert(a, ag);
            }
        }
    }

    /// The call (and wrap-up) is over: apply what the agent asked for meanwhile.
    pub(super) fn finish_work(&mut self, a: u32) {
        let ag = &mut self.agents[a as usize];
        ag.wrap_until = None;
        ag.disposition_pending = false;
        ag.disposition_done = false;
        if ag.pending_logout {
            self.do_logout(a);
        } else if !ag.connected {
            self.set_state(a, AState::NotReady, Some(reasons::DISCONNECTED.into()));
        } else if let Some(r) = ag.pending_not_ready.take() {
            self.set_state(a, AState::NotReady, Some(r));
        } else {
            self.make_available(a, "agent-available");
        }
    }

    pub(super) fn begin_wrap(&mut self, a: u32, q: QueueId) {
        let def = &self.queues[q.0 as usize].def;
        let (wrap, required) = (def.wrap_up_ms, def.disposition_required);
        let pending = required && !self.agents[a as usize].disposition_done;
        if wrap == 0 && !pending {
            self.finish_work(a);
            return;
        }
        self.set_state(a, AState::WrapUp, None);
        let now = self.now;
        let ag = &mut self.agents[a as usize];
        ag.wrap_until = Some(now + wrap);
        ag.disposition_pending = pending;
        let epoch = ag.epoch;
        if wrap > 0 {
            self.timers
                .push(now + wrap, Timer::WrapEnd { agent: a, epoch });
        } else {
            ag.wrap_until = None;
        }
    }

    pub(super) fn wrap_timer_ended(&mut self, a: u32) {
        let ag = &mut self.agents[a as usize];
        ag.wrap_until = None;
        if !ag.disposition_pending {
            self.finish_work(a);
        }
    }

    pub(super) fn agent_login(&mut self, id: &AgentId, ready: bool) -> Result<(), AcdError> {
        let a = self.agent_ix(id)?;
        let ag = &mut self.agents[a as usize];
        if ag.logged_in() {
            return Ok(());
        }
        ag.connected = true;
        ag.conn_gen = ag.conn_gen.wrapping_add(1);
        ag.answered = 0;
        ag.pending_logout = false;
        if ready {
            self.make_available(a, "agent-login");
        } else {
            self.set_state(a, AState::NotReady, Some(reasons::LOGIN.into()));
        }
        Ok(())
    }

    pub(super) fn agent_logout(&mut self, id: &AgentId) -> Result<(), AcdError> {
        let a = self.agent_ix(id)?;
        match self.agents[a as usize].state {
            AState::LoggedOut => {}
            AState::Ringing(slot) => {
                self.withdraw_agent(slot, a, StopReason::AgentLoggedOut);
                self.do_logout(a);
            }
            AState::OnCall(_) | AState::Reserved(_) => {
                self.agents[a as usize].pending_logout = true
            }
            AState::WrapUp | AState::Available | AState::NotReady => self.do_logout(a),
        }
        Ok(())
    }

    pub(super) fn do_logout(&mut self, a: u32) {
        let ag = &mut self.agents[a as usize];
        ag.pending_logout = false;
        ag.pending_not_ready = None;
        ag.disposition_pending = false;
        ag.wrap_until = None;
        self.set_state(a, AState::LoggedOut, None);
        self.owner_release(a);
    }

    pub(super) fn agent_ready(&mut self, id: &AgentId) -> Result<(), AcdError> {
        let a = self.agent_ix(id)?;
        let ag = &mut self.agents[a as usize];
        match ag.state {
            AState::LoggedOut => return Err(self.bad_state(a)),
            AState::NotReady => self.make_available(a, "agent-ready"),
            AState::WrapUp if ag.disposition_pending => {
                return Err(AcdError::DispositionRequired(ag.id.clone()))
            }
            AState::WrapUp => self.make_available(a, "agent-ready"),
            AState::Available => {}
            AState::Ringing(_) | AState::OnCall(_) | AState::Reserved(_) => {
                ag.pending_not_ready = None
            }
        }
        Ok(())
    }

    pub(super) fn agent_not_ready(&mut self, id: &AgentId, reason: String) -> Result<(), AcdError> {
        let a = self.agent_ix(id)?;
        let ag = &mut self.agents[a as usize];
        match ag.state {
            AState::LoggedOut => return Err(self.bad_state(a)),
            AState::Available | AState::NotReady => {
                self.set_state(a, AState::NotReady, Some(reason))
            }
            AState::Ringing(slot) => {
                self.withdraw_agent(slot, a, StopReason::Rejected);
                self.set_state(a, AState::NotReady, Some(reason));
            }
            AState::WrapUp if ag.disposition_pending => ag.pending_not_ready = Some(reason),
            AState::WrapUp => {
                ag.wrap_until = None;
                self.set_state(a, AState::NotReady, Some(reason));
            }
            AState::OnCall(_) | AState::Reserved(_) => ag.pending_not_ready = Some(reason),
        }
        Ok(())
    }

    pub(super) fn disposition(&mut self, id: &AgentId, _code: String) -> Result<(), AcdError> {
        let a = self.agent_ix(id)?;
        let now = self.now;
        let ag = &mut self.agents[a as usize];
        match ag.state {
            AState::WrapUp => {
                ag.disposition_pending = false;
                if ag.wrap_until.is_none_or(|u| u <= now) {
                    self.finish_work(a);
                }
            }
            AState::OnCall(_) => ag.disposition_done = true,
            _ => return Err(self.bad_state(a)),
        }
        Ok(())
    }

    pub(super) fn agent_disconnected(&mut self, id: &AgentId) -> Result<(), AcdError> {
        let a = self.agent_ix(id)?;
        let grace = self.cfg.settings.disconnect_grace_ms;
        let ag = &mut self.agents[a as usize];
        if !ag.logged_in() || !ag.connected {
            return Ok(());
        }
        ag.connected = false;
        ag.conn_gen = ag.conn_gen.wrapping_add(1);
        let conn = ag.conn_gen;
        self.avail.remove(a, ag);
        if let AState::Ringing(slot) = ag.state {
            self.withdraw_agent(slot, a, StopReason::AgentDisconnected);
            self.set_state(a, AState::Available, None);
        }
        self.timers
            .push(self.now + grace, Timer::Grace { agent: a, conn });
        Ok(())
    }

    pub(super) fn grace_expired(&mut self, a: u32) {
        let ag = &mut self.agents[a as usize];
        match ag.state {
            AState::Available | AState::NotReady | AState::WrapUp => {
                ag.disposition_pending = false;
                ag.wrap_until = None;
                self.set_state(a, AState::NotReady, Some(reasons::DISCONNECTED.into()));
            }
            // A call in progress finishes; finish_work then sees the lost connection.
            _ => {}
        }
    }

    pub(super) fn agent_connected(&mut self, id: &AgentId) -> Result<(), AcdError> {
        let a = self.agent_ix(id)?;
        let ag = &mut self.agents[a as usize];
        if !ag.logged_in() || ag.connected {
            return Ok(());
        }
        ag.connected = true;
        ag.conn_gen = ag.conn_gen.wrapping_add(1);
        if ag.state == AState::Available {
            self.agent_freed(a, "agent-reconnected");
        }
        Ok(())
    }
}
