//! Scripted scenarios for [`CallMachine`] in a few lines: a fake clock, inputs in, the actions
//! that came out, and short-hands for the usual steps (queue the call, offer it, answer).

use super::*;
use crate::acd::service::Cue;

pub struct Harness {
    pub m: CallMachine,
    pub now: Instant,
}

impl Harness {
    /// A call in the IVR.
    pub fn new() -> Harness {
        Harness {
            m: CallMachine::new(CallId::from("call-1")),
            now: Instant::now(),
        }
    }

    /// A call the IVR queued and the router took (the CRM found no ticket).
    pub fn queued() -> Harness {
        let mut h = Harness::new();
        assert_eq!(h.feed(Input::Queue), vec![Action::FindTicket]);
        assert_eq!(h.feed(Input::TicketKnown), vec![Action::EnterRouter]);
        h
    }

    /// Feed one input; the actions it produced.
    pub fn feed(&mut self, input: Input) -> Vec<Action> {
        self.m.handle(input, self.now);
        self.drain()
    }

    /// Let time pass; the actions the timers produced.
    pub fn advance(&mut self, by: Duration) -> Vec<Action> {
        self.now += by;
        if self.m.poll_timeout().is_some_and(|t| t <= self.now) {
            self.m.handle_timeout(self.now);
        }
        self.drain()
    }

    pub fn drain(&mut self) -> Vec<Action> {
        std::iter::from_fn(|| self.m.poll_action()).collect()
    }

    pub fn cue(&mut self, cue: Cue) -> Vec<Action> {
        self.feed(Input::Cue(cue))
    }

    /// The router offers the call to `agents` (one cue each, as for ring-all).
    pub fn offer(&mut self, agents: &[&str]) -> Vec<Action> {
        agents
            .iter()
            .flat_map(|a| {
                self.cue(Cue::Offer {
                    agent: a.to_string(),
                    ring: Duration::from_secs(15),
                })
            })
            .collect()
    }

    /// Offer the call to `agents` and let every one of their legs ring.
    pub fn ringing(&mut self, agents: &[&str]) -> Vec<LegId> {
        self.offer(agents);
        let mut legs = Vec::new();
        for a in self.feed(Input::PopReady) {
            if let Action::Ring { leg, .. } = a {
                legs.push(leg);
            }
        }
        for leg in &legs {
            self.feed(Input::RingStarted {
                leg: *leg,
                result: Ok(()),
            });
        }
        legs
    }

    pub fn leg_of(&self, agent: &str) -> LegId {
        self.m
            .legs()
            .find(&Role::Agent(agent.to_string()))
            .unwrap_or(LegId::MAX)
    }
}

/// The legs that `actions` ring.
pub fn rung(actions: &[Action]) -> Vec<LegId> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::Ring { leg, .. } => Some(*leg),
            _ => None,
        })
        .collect()
}

/// The legs that `actions` cancel, with why.
pub fn cancelled(actions: &[Action]) -> Vec<(LegId, Withdrawn)> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::Cancel { leg, why } => Some((*leg, *why)),
            _ => None,
        })
        .collect()
}

/// What `actions` tell the router.
pub fn told_router(actions: &[Action]) -> Vec<RouterInput> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::Router(i) => Some(i.clone()),
            _ => None,
        })
        .collect()
}
