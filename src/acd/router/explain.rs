//! Explanations of offers: for every offer, which candidates were considered and which
//! rule and score won. Kept per call while it lives, and for a bounded number of calls
//! after, so "why did this call go to Bob?" can be answered.
use crate::acd::types::*;
use serde::Serialize;
use std::collections::{HashMap, VecDeque};

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Scored {
    pub agent: AgentId,
    /// Meaning depends on `rule` (e.g. ms idle for longest-idle); higher won.
    pub score: i64,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Explanation {
    pub call: CallId,
    pub at_ms: Millis,
    pub queue: String,
    /// What made the router look: call-queued, agent-available, relaxed, requeued,
    /// owner-window-ended, overflow, reload, callback-retry.
    pub trigger: &'static str,
    /// The rule that decided, with the meaning of the score.
    pub rule: String,
    /// The call's requirement when offered (after relaxation).
    pub requirement: String,
    pub relaxation_stage: u8,
    /// Penalty tier of the winner in this queue.
    pub penalty: u16,
    /// Agents (call side) or waiting-call classes (agent side) examined.
    pub considered: u32,
    pub chosen: Vec<Scored>,
    /// Next best candidates seen, best first (at most 3).
    pub runners_up: Vec<Scored>,
}

pub(super) struct ExplainLog {
    live: HashMap<CallId, Vec<Explanation>>,
    done: VecDeque<CallId>,
    keep: usize,
}

impl ExplainLog {
    pub fn new(keep: usize) -> Self {
        ExplainLog {
            live: HashMap::new(),
            done: VecDeque::new(),
            keep,
        }
    }
    pub fn record(&mut self, e: Explanation) {
        self.live.entry(e.call.clone()).or_default().push(e);
    }
    /// The call is gone from the router: keep its record among the last `keep`.
    pub fn finish(&mut self, call: &CallId) {
        if !self.live.contains_key(call) {
            return;
        }
        if self.keep == 0 {
            self.live.remove(call);
            return;
        }
        self.done.push_back(call.clone());
        while self.done.len() > self.keep {
            if let Some(old) = self.done.pop_front() {
                self.live.remove(&old);
            }
        }
    }
    pub fn get(&self, call: &CallId) -> &[Explanation] {
        self.live.get(call).map_or(&[], |v| v.as_slice())
    }
}
