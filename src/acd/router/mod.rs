//! The skill-based router: one owner of the state of queues × agents × skills, fed inputs
//! with the current time and answering with actions. No I/O, no clocks, no locks.
//!
//! # Driving it (the call layer's loop)
//! ```text
//! router.handle(now, Input::CallQueued(..))?;   // any input, with the time it happened
//! while let Some(a) = router.poll_action() { .. }  // offers, stop-ringing, announcements ..
//! // and when nothing happens:
//! sleep_until(router.next_deadline());  router.tick(now);  // RONA, relaxation, overflow ..
//! ```
//! Every [`Action::AgentStateChanged`] should be persisted; after a restart
//! [`Router::restore`] puts agents back as they were. [`Router::snapshot`] is the
//! read-only view for the HTTP side; [`Router::reload`] swaps in a new configuration
//! keeping waiting callers' places and agents' states.
//!
//! # Rules
//! * Service order: emergencies first, then higher priority (call + queue + ticket
//!   boosts), then strictly by time of first entry (kept across overflow and RONA).
//! * An agent takes only calls of queues it may serve (membership) whose requirement
//!   (queue's + the call's own, relaxed by wait time) it meets.
//! * When an agent frees up it takes the best waiting call it qualifies for, whatever the
//!   queue; when a call arrives and several agents qualify, the queue's strategy picks
//!   among those in the best (lowest) penalty tier.
//! * Never two calls offered to one agent; one call rings one agent except in ring-all.
mod agents;
mod announce;
mod avail;
mod callbacks;
mod calls;
mod explain;
mod io;
mod offers;
mod pick;
mod rank;
mod reload;
mod select;
mod snapshot;
mod state;
mod supervise;
mod timers;
mod waiting;
mod waits;

#[cfg(test)]
mod tests;

pub use explain::{Explanation, Scored};
pub use io::{AcdError, Action, Input, OverflowReason, QueuedCall, StopReason, TicketInfo};
pub use reload::ReloadError;
pub use snapshot::{
    AgentSnapshot, AgentStateRecord, CallSnapshot, QueueSnapshot, Snapshot, StateCounts,
};

use crate::acd::config::AcdConfig;
use crate::acd::types::*;
use avail::AvailIndex;
use explain::ExplainLog;
use state::{AgentRt, QueueRt, Slab};
use std::collections::{HashMap, VecDeque};
use timers::Timers;
use waiting::WaitIndex;

/// Counters for benchmarks and metrics.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RouterStats {
    pub offers: u64,
    pub call_searches: u64,
    pub agent_searches: u64,
    pub classes: usize,
}

pub struct Router {
    cfg: AcdConfig,
    skill_ids: HashMap<String, SkillId>,
    queue_ids: HashMap<String, QueueId>,
    queues: Vec<QueueRt>,
    agents: Vec<AgentRt>,
    /// Skills of each agent packed densely for candidate scans.
    packed: Vec<state::PackedSkills>,
    agent_ids: HashMap<AgentId, u32>,
    calls: Slab,
    call_ids: HashMap<CallId, u32>,
    avail: AvailIndex,
    waiting: WaitIndex,
    timers: Timers,
    actions: VecDeque<Action>,
    explain: ExplainLog,
    next_seq: u64,
    next_uid: u64,
    now: Millis,
    stats: RouterStats,
    /// Callbacks booked in the last 24 hours (when, number), for the per-number and per-hour
    /// caps.
    callback_log: VecDeque<(Millis, String)>,
}

impl Router {
    /// A router with every agent of `cfg` logged out and no call.
    pub fn new(cfg: AcdConfig) -> Router {
        let mut r = Router {
            skill_ids: HashMap::new(),
            queue_ids: HashMap::new(),
            queues: Vec::new(),
            agents: Vec::new(),
            packed: Vec::new(),
            agent_ids: HashMap::new(),
            calls: Slab::default(),
            call_ids: HashMap::new(),
            avail: AvailIndex::new(0, 0),
            waiting: WaitIndex::new(0, Vec::new()),
            timers: Timers::default(),
            actions: VecDeque::new(),
            explain: ExplainLog::new(cfg.settings.explain_keep),
            next_seq: 0,
            next_uid: 0,
            now: 0,
            stats: RouterStats::default(),
            callback_log: VecDeque::new(),
            cfg: AcdConfig::default(),
        };
        r.install(cfg);
        r
    }

    /// Feed one input that happened at `now`. Errors leave the state unchanged and mean
    /// the input did not apply (unknown id, stale offer, state that forbids it).
    pub fn handle(&mut self, now: Millis, input: Input) -> Result<(), AcdError> {
        self.advance(now);
        match input {
            Input::CallQueued(c) => self.call_queued(c),
            Input::CallAbandoned { call } => self.call_abandoned(&call),
            Input::CallEnded { call } => self.call_ended(&call),
            Input::CallbackRequested { call, number } => self.callback_requested(&call, number),
            Input::CallbackResult { call, answered } => self.callback_result(&call, answered),
            Input::AgentLogin { agent, ready } => self.agent_login(&agent, ready),
            Input::AgentLogout { agent } => self.agent_logout(&agent),
            Input::AgentReady { agent } => self.agent_ready(&agent),
            Input::AgentNotReady { agent, reason } => self.agent_not_ready(&agent, reason),
            Input::Disposition { agent, code } => self.disposition(&agent, code),
            Input::OfferAnswered { call, agent } => self.offer_answered(&call, &agent),
            Input::OfferRejected { call, agent } => self.offer_rejected(&call, &agent),
            Input::OfferTimedOut { call, agent } => self.offer_timed_out(&call, &agent),
            Input::AgentDisconnected { agent } => self.agent_disconnected(&agent),
            Input::AgentConnected { agent } => self.agent_connected(&agent),
            Input::SetPriority { call, priority } => self.set_priority(&call, priority),
            Input::MoveCall { call, queue } => self.move_call(&call, &queue),
        }
    }

    /// Run every timer due at or before `now`.
    pub fn tick(&mut self, now: Millis) {
        self.advance(now);
        while let Some(t) = self.timers.pop_due(self.now) {
            self.on_timer(t);
        }
    }

    /// When [`Router::tick`] must be called next (`None`: only inputs can change anything).
    pub fn next_deadline(&mut self) -> Option<Millis> {
        while let Some(t) = self.timers.peek() {
            if self.timer_live(&t) {
                break;
            }
            self.timers.discard_top();
        }
        self.timers.peek_at()
    }

    pub fn poll_action(&mut self) -> Option<Action> {
        self.actions.pop_front()
    }

    pub fn drain_actions(&mut self) -> std::collections::vec_deque::Drain<'_, Action> {
        self.actions.drain(..)
    }

    /// Why each offer of this call went where it went (kept a while after the call ends).
    pub fn explain(&self, call: &CallId) -> &[Explanation] {
        self.explain.get(call)
    }

    pub fn config(&self) -> &AcdConfig {
        &self.cfg
    }

    pub fn stats(&self) -> RouterStats {
        RouterStats {
            classes: self.waiting.class_count(),
            ..self.stats
        }
    }

    /// Callers currently waiting (not ringing, not connected) in all queues.
    pub fn waiting_count(&self) -> usize {
        self.queues.iter().map(|q| q.order.len()).sum()
    }

    fn advance(&mut self, now: Millis) {
        // Time never goes backwards inside the router.
        self.now = self.now.max(now);
    }

    fn emit(&mut self, a: Action) {
        self.actions.push_back(a);
    }
}
