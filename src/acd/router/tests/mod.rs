//! Router behaviour tests, driven by hand-set time (milliseconds).
mod basics;
mod callback;
mod persist;
mod relax;
mod rona;
mod sample;
mod strategies;
mod supervise;
mod ticket;
mod wrap;

use super::{AcdError, Action, Input, QueuedCall, Router};
use crate::acd::config::load_str;
use crate::acd::types::*;
use std::path::Path;

/// A router plus a clock and the actions it produced.
pub(super) struct H {
    pub r: Router,
    pub now: Millis,
}

pub(super) fn call(id: &str, queue: &str) -> QueuedCall {
    QueuedCall {
        call: id.into(),
        queue: queue.into(),
        ..Default::default()
    }
}

impl H {
    pub fn new(queues: &str, agents: &str) -> H {
        let loaded = load_str(
            "queues.toml",
            queues,
            Some((Path::new("agents.toml"), agents)),
        )
        .unwrap_or_else(|e| panic!("test config: {e:?}"));
        H {
            r: Router::new(loaded.config),
            now: 0,
        }
    }
    /// Advance the clock to `ms`, firing due timers on the way.
    pub fn at(&mut self, ms: Millis) -> Vec<Action> {
        let mut out = Vec::new();
        while let Some(d) = self.r.next_deadline() {
            if d > ms {
                break;
            }
            self.r.tick(d);
            out.extend(self.r.drain_actions());
        }
        self.now = ms;
        self.r.tick(ms);
        out.extend(self.r.drain_actions());
        out
    }
    pub fn try_input(&mut self, i: Input) -> Result<Vec<Action>, super::AcdError> {
        self.r.handle(self.now, i)?;
        Ok(self.r.drain_actions().collect())
    }
    pub fn input(&mut self, i: Input) -> Vec<Action> {
        self.try_input(i).expect("input accepted")
    }
    pub fn login(&mut self, agent: &str) -> Vec<Action> {
        self.input(Input::AgentLogin {
            agent: agent.into(),
            ready: true,
        })
    }
    pub fn queue(&mut self, c: QueuedCall) -> Vec<Action> {
        self.input(Input::CallQueued(c))
    }
    pub fn enqueue(&mut self, id: &str, queue: &str) -> Vec<Action> {
        self.queue(call(id, queue))
    }
    pub fn answer(&mut self, c: &str, a: &str) -> Vec<Action> {
        self.input(Input::OfferAnswered {
            call: c.into(),
            agent: a.into(),
        })
    }
    pub fn end(&mut self, c: &str) -> Vec<Action> {
        self.input(Input::CallEnded { call: c.into() })
    }
    pub fn status(&self, agent: &str) -> (AgentStatus, Option<String>) {
        let s = self.r.snapshot(self.now);
        let a = s
            .agents
            .iter()
            .find(|a| a.id.as_str() == agent)
            .expect("agent");
        (a.state, a.reason.clone())
    }
}

/// (call, agents) of every offer in `acts`.
pub(super) fn offers(acts: &[Action]) -> Vec<(String, Vec<String>)> {
    acts.iter()
        .filter_map(|a| match a {
            Action::Offer { call, agents, .. } => Some((
                call.to_string(),
                agents.iter().map(|a| a.to_string()).collect(),
            )),
            _ => None,
        })
        .collect()
}

/// The single offer in `acts` as (call, agent).
pub(super) fn one_offer(acts: &[Action]) -> (String, String) {
    let o = offers(acts);
    assert_eq!(o.len(), 1, "expected one offer in {acts:#?}");
    (o[0].0.clone(), o[0].1[0].clone())
}

pub(super) fn stops(acts: &[Action]) -> Vec<(String, String)> {
    acts.iter()
        .filter_map(|a| match a {
            Action::StopRinging { call, agent, .. } => Some((call.to_string(), agent.to_string())),
            _ => None,
        })
        .collect()
}

pub(super) const SKILLS: &str = r#"
skills = ["network", "hardware", "accounts"]
languages = ["english", "spanish"]
"#;
