//! Read-only views for the HTTP side, and agent-state save/restore across restarts.
use super::state::{AState, CState};
use super::timers::Timer;
use super::Router;
use crate::acd::types::*;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct QueueSnapshot {
    pub name: String,
    pub strategy: Strategy,
    pub waiting: usize,
    /// How long the next caller to be served has waited.
    pub head_wait_ms: Option<Millis>,
    pub logged_in: u32,
    pub staffed: u32,
    pub available: u32,
    pub answered: u64,
    pub abandoned: u64,
    pub aht_ms: Millis,
    /// Expected wait of a caller joining now.
    pub ewt_next_ms: Option<Millis>,
    /// Agents who may take this queue's calls, by state.
    pub agents: StateCounts,
}

/// Agents by state (the wallboard's per-queue bar).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct StateCounts {
    pub available: u32,
    pub ringing: u32,
    pub on_call: u32,
    pub wrap_up: u32,
    pub not_ready: u32,
    pub logged_out: u32,
    pub reserved: u32,
}

impl StateCounts {
    pub fn add(&mut self, s: AgentStatus) {
        let n = match s {
            AgentStatus::Available => &mut self.available,
            AgentStatus::Ringing => &mut self.ringing,
            AgentStatus::OnCall => &mut self.on_call,
            AgentStatus::WrapUp => &mut self.wrap_up,
            AgentStatus::NotReady => &mut self.not_ready,
            AgentStatus::LoggedOut => &mut self.logged_out,
            AgentStatus::Reserved => &mut self.reserved,
        };
        *n += 1;
    }
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct AgentSnapshot {
    pub id: AgentId,
    pub name: String,
    pub state: AgentStatus,
    pub reason: Option<String>,
    pub since_ms: Millis,
    pub call: Option<CallId>,
    pub connected: bool,
    pub answered: u32,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CallSnapshot {
    pub id: CallId,
    pub queue: String,
    pub state: &'static str,
    pub position: Option<u32>,
    pub waited_ms: Millis,
    pub priority: i32,
    pub emergency: bool,
    pub relaxation_stage: u8,
    pub requirement: String,
    pub agents: Vec<AgentId>,
    pub callback: bool,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Snapshot {
    pub at_ms: Millis,
    pub queues: Vec<QueueSnapshot>,
    pub agents: Vec<AgentSnapshot>,
}

/// An agent's last known state, as persisted from [`super::Action::AgentStateChanged`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AgentStateRecord {
    pub agent: AgentId,
    pub state: AgentStatus,
    pub reason: Option<String>,
}

impl Router {
    /// State of every queue and agent as of `now` (wait times are measured to `now`).
    pub fn snapshot(&self, now: Millis) -> Snapshot {
        let now = now.max(self.now);
        let mut available = vec![0u32; self.queues.len()];
        let mut states = vec![StateCounts::default(); self.queues.len()];
        for ag in &self.agents {
            for (q, el) in ag.eligible.iter().enumerate() {
                if *el {
                    available[q] += u32::from(ag.routable());
                    if let Some(s) = states.get_mut(q) {
                        s.add(ag.status());
                    }
                }
            }
        }
        let queues = self
            .queues
            .iter()
            .zip(available)
            .zip(states)
            .map(|((qr, available), agents)| QueueSnapshot {
                name: qr.def.name.clone(),
                strategy: qr.def.strategy,
                waiting: qr.order.len(),
                head_wait_ms: qr.order.first().map(|(k, _)| now.saturating_sub(k.entered)),
                logged_in: qr.logged_in,
                staffed: qr.staffed,
                available,
                answered: qr.answered,
                abandoned: qr.abandoned,
                aht_ms: qr.aht.aht_ms(),
                ewt_next_ms: crate::acd::ewt::expected_wait(
                    qr.order.len() as u32 + 1,
                    qr.aht.aht_ms(),
                    qr.staffed,
                ),
                agents,
            })
            .collect();
        let agents = self
            .agents
            .iter()
            .map(|ag| AgentSnapshot {
                id: ag.id.clone(),
                name: ag.name.clone(),
                state: ag.status(),
                reason: ag.reason.clone(),
                since_ms: ag.since,
                call: match ag.state {
                    AState::Ringing(s) | AState::OnCall(s) | AState::Reserved(s) => {
                        self.calls.get(s).map(|c| c.id.clone())
                    }
                    _ => None,
                },
                connected: ag.connected,
                answered: ag.answered,
            })
            .collect();
        Snapshot {
            at_ms: now,
            queues,
            agents,
        }
    }

    /// Calls known to the router (optionally of one queue), in service order first.
    pub fn calls_snapshot(
        &self,
        now: Millis,
        queue: Option<&str>,
        limit: usize,
    ) -> Vec<CallSnapshot> {
        let now = now.max(self.now);
        let mut out: Vec<(u8, super::state::CallKey, CallSnapshot)> = self
            .calls
            .iter()
            .filter(|(_, c)| queue.is_none_or(|q| self.queues[c.queue.0 as usize].def.name == q))
            .map(|(slot, c)| {
                let (state, agents, order) = match &c.state {
                    CState::Waiting => ("waiting", vec![], 0),
                    CState::OwnerHold => ("waiting-for-owner", vec![], 0),
                    CState::Ringing(l) => ("ringing", l.clone(), 1),
                    CState::Connected(a) => ("connected", vec![*a], 2),
                    CState::CallbackRetry => ("callback-retry", vec![], 1),
                    CState::CallbackDialing(a) => ("callback-dialing", vec![*a], 1),
                };
                let snap = CallSnapshot {
                    id: c.id.clone(),
                    queue: self.queues[c.queue.0 as usize].def.name.clone(),
                    state,
                    position: self.position(slot).map(|p| p.0),
                    waited_ms: now.saturating_sub(c.key.entered),
                    priority: c.priority,
                    emergency: c.key.rank == 0,
                    relaxation_stage: c.stage,
                    requirement: self.cfg.describe(&c.reqs),
                    agents: agents
                        .iter()
                        .map(|a| self.agents[*a as usize].id.clone())
                        .collect(),
                    callback: c.callback.is_some(),
                };
                (order, c.key, snap)
            })
            .collect();
        out.sort_by_key(|a| (a.0, a.1));
        out.into_iter().take(limit).map(|x| x.2).collect()
    }

    /// Every agent's state, for persisting (e.g. at shutdown).
    pub fn agent_states(&self) -> Vec<AgentStateRecord> {
        self.agents
            .iter()
            .map(|ag| AgentStateRecord {
                agent: ag.id.clone(),
                state: ag.status(),
                reason: ag.reason.clone(),
            })
            .collect()
    }

    /// After a restart: put agents back in their persisted states. Logged-in agents are
    /// considered disconnected until the call layer reports [`super::Input::AgentConnected`]
    /// (registration or socket seen); past the grace period they become not-ready
    /// ("disconnected"). Agents who were ringing or reserved come back available; those
    /// on a call or in wrap-up (their call died with the server) come back not-ready
    /// ("restart"). Returns the ids that are no longer configured.
    pub fn restore(&mut self, now: Millis, records: &[AgentStateRecord]) -> Vec<AgentId> {
        self.advance(now);
        let grace = self.cfg.settings.disconnect_grace_ms;
        let mut unknown = Vec::new();
        for r in records {
            let Ok(a) = self.agent_ix(&r.agent) else {
                unknown.push(r.agent.clone());
                continue;
            };
            if self.agents[a as usize].logged_in() || r.state == AgentStatus::LoggedOut {
                continue;
            }
            let ag = &mut self.agents[a as usize];
            ag.connected = false;
            ag.conn_gen = ag.conn_gen.wrapping_add(1);
            ag.idle_since = now;
            let conn = ag.conn_gen;
            match r.state {
                AgentStatus::Available | AgentStatus::Ringing | AgentStatus::Reserved => {
                    self.set_state(a, AState::Available, None)
                }
                AgentStatus::NotReady => self.set_state(a, AState::NotReady, r.reason.clone()),
                AgentStatus::OnCall | AgentStatus::WrapUp => {
                    self.set_state(a, AState::NotReady, Some(reasons::RESTART.into()))
                }
                AgentStatus::LoggedOut => {}
            }
            self.timers
                .push(now + grace, Timer::Grace { agent: a, conn });
        }
        unknown
    }
}
