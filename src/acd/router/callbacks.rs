//! Callbacks that keep the caller's place: the caller hangs up, a virtual call waits in
//! their position; at the front an agent is reserved and the call layer dials the
//! customer back, retrying per the queue's policy.
use super::explain::{Explanation, Scored};
use super::io::{AcdError, Action};
use super::state::{AState, CState, CallbackState};
use super::timers::Timer;
use super::Router;
use crate::acd::types::Millis;
use std::collections::VecDeque;

/// The deny-list match is the outbound gate's (one rule for every outbound path).
pub use crate::outbound::gate::denied_prefix;

const HOUR_MS: u64 = 3_600_000;
const DAY_MS: u64 = 24 * HOUR_MS;

/// The per-number (24 h) and per-hour caps on callbacks booked: `Err` says which is reached.
/// `log` holds (when, number) of the bookings of the last 24 hours; old entries are dropped.
pub fn under_caps(
    log: &mut VecDeque<(Millis, String)>,
    now: Millis,
    n: &str,
    per_number: u32,
    per_hour: u32,
) -> Result<(), String> {
    while log
        .front()
        .is_some_and(|(t, _)| now.saturating_sub(*t) >= DAY_MS)
    {
        log.pop_front();
    }
    let same = log.iter().filter(|(_, m)| m == n).count();
    if same >= per_number as usize {
        return Err(format!(
            "`{n}` already has {same} callbacks booked in 24 hours (callback_max_per_number)"
        ));
    }
    let hour = log
        .iter()
        .filter(|(t, _)| now.saturating_sub(*t) < HOUR_MS)
        .count();
    if hour >= per_hour as usize {
        return Err(format!(
            "{hour} callbacks booked in the last hour (callback_max_per_hour)"
        ));
    }
    Ok(())
}

impl Router {
    /// Is this number allowed for callbacks? `Err` says why not.
    pub(super) fn number_allowed(&self, n: &str) -> Result<(), String> {
        if !crate::outbound::gate::is_number(n) {
            return Err(format!(
                "`{n}` is not a phone number (3 to 20 digits, optional leading +)"
            ));
        }
        let s = &self.cfg.settings;
        let prefixes = &s.callback_allowed_prefixes;
        if !prefixes.is_empty() && !prefixes.iter().any(|p| n.starts_with(p.as_str())) {
            return Err(format!("`{n}` is not in callback_allowed_prefixes"));
        }
        if let Some(p) = denied_prefix(n, &s.callback_denied_prefixes) {
            return Err(format!(
                "`{n}` is a premium-rate or toll-fraud range ({p} in callback_denied_prefixes)"
            ));
        }
        Ok(())
    }

    /// Whether a callback to `n` may be booked now (number rules and caps); when it may, the
    /// booking is counted.
    pub(super) fn book_callback(&mut self, n: &str) -> Result<(), String> {
        self.number_allowed(n)?;
        let s = &self.cfg.settings;
        let (per_number, per_hour) = (s.callback_max_per_number, s.callback_max_per_hour);
        under_caps(&mut self.callback_log, self.now, n, per_number, per_hour)?;
        self.callback_log.push_back((self.now, n.to_string()));
        Ok(())
    }

    pub(super) fn callback_requested(
        &mut self,
        id: &crate::acd::types::CallId,
        number: String,
    ) -> Result<(), AcdError> {
        let slot = self.call_ix(id)?;
        let Some(c) = self.calls.get(slot) else {
            return Err(AcdError::UnknownCall(id.clone()));
        };
        if !c.waiting() || c.callback.is_some() {
            return Err(AcdError::BadCallState(id.clone()));
        }
        if let Err(reason) = self.book_callback(&number) {
            self.emit(Action::CallbackRefused {
                call: id.clone(),
                reason,
            });
            return Ok(());
        }
        if let Some(c) = self.calls.get_mut(slot) {
            c.callback = Some(CallbackState {
                number: number.clone(),
                attempts: 0,
            });
        }
        self.emit(Action::CallbackBooked {
            call: id.clone(),
            number,
        });
        // Same key, same place; max-wait no longer applies (the caller is not on hold).
        self.arm_queue_timers(slot);
        Ok(())
    }

    pub(super) fn reserve_for_callback(&mut self, slot: u32, a: u32, expl: Option<Explanation>) {
        self.unqueue(slot);
        let Some(c) = self.calls.get_mut(slot) else {
            return;
        };
        let Some(cb) = c.callback.as_mut() else {
            return;
        };
        cb.attempts += 1;
        let (attempt, number) = (cb.attempts, cb.number.clone());
        c.state = CState::CallbackDialing(a);
        let (id, uid, q) = (c.id.clone(), c.uid, c.queue);
        self.set_state(a, AState::Reserved(slot), Some("callback".into()));
        let timeout = self.queues[q.0 as usize].def.callback.dial_timeout_ms;
        self.timers.push(
            self.now + timeout,
            Timer::CallbackDial { slot, uid, attempt },
        );
        if let Some(e) = expl {
            self.explain.record(e);
        }
        self.stats.offers += 1;
        let agent = self.agents[a as usize].id.clone();
        self.emit(Action::DialCallback {
            call: id,
            agent,
            number,
            attempt,
            ring_ms: timeout,
        });
    }

    pub(super) fn callback_result(
        &mut self,
        id: &crate::acd::types::CallId,
        answered: bool,
    ) -> Result<(), AcdError> {
        let slot = self.call_ix(id)?;
        let Some(c) = self.calls.get_mut(slot) else {
            return Err(AcdError::UnknownCall(id.clone()));
        };
        let CState::CallbackDialing(a) = c.state else {
            return Err(AcdError::BadCallState(id.clone()));
        };
        if !answered {
            self.callback_failed_attempt(slot);
            return Ok(());
        }
        // The customer is on the line: from here it is an ordinary offer to the reserved
        // agent (RONA and rejection apply; the customer then waits as a live caller, in front).
        c.callback = None;
        c.callback_offered = true;
        c.state = CState::Ringing(vec![a]);
        c.offer_epoch = c.offer_epoch.wrapping_add(1);
        let (call, uid, offer, q) = (c.id.clone(), c.uid, c.offer_epoch, c.queue);
        let requirement = self.cfg.describe(&c.reqs);
        let relaxation_stage = c.stage;
        self.set_state(a, AState::Ringing(slot), None);
        let qr = &self.queues[q.0 as usize];
        let ring_ms = qr.def.rona_ms;
        let agent = self.agents[a as usize].id.clone();
        let explanation = Explanation {
            call: call.clone(),
            at_ms: self.now,
            queue: qr.def.name.clone(),
            trigger: "callback-answered",
            rule: "the agent reserved for the callback".into(),
            requirement,
            relaxation_stage,
            penalty: 0,
            considered: 1,
            chosen: vec![Scored {
                agent: agent.clone(),
                score: 0,
            }],
            runners_up: Vec::new(),
        };
        self.timers
            .push(self.now + ring_ms, Timer::Rona { slot, uid, offer });
        self.explain.record(explanation.clone());
        self.emit(Action::Offer {
            call,
            agents: vec![agent],
            ring_ms,
            explanation,
        });
        Ok(())
    }

    /// No answer (or no result in time): free the agent, retry later or give up.
    pub(super) fn callback_failed_attempt(&mut self, slot: u32) {
        let Some(c) = self.calls.get_mut(slot) else {
            return;
        };
        let CState::CallbackDialing(a) = c.state else {
            return;
        };
        let attempts = c.callback.as_ref().map_or(0, |cb| cb.attempts);
        let policy = &self.queues[c.queue.0 as usize].def.callback;
        let (max, retry) = (policy.max_attempts, policy.retry_after_ms);
        let (id, uid) = (c.id.clone(), c.uid);
        if attempts >= max {
            self.emit(Action::CallbackFailed { call: id, attempts });
            self.remove_call(slot);
        } else {
            c.state = CState::CallbackRetry;
            self.timers.push(
                self.now + retry,
                Timer::CallbackRetry {
                    slot,
                    uid,
                    attempt: attempts,
                },
            );
        }
        self.make_available(a, "agent-available");
    }

    pub(super) fn callback_retry(&mut self, slot: u32) {
        let Some(c) = self.calls.get_mut(slot) else {
            return;
        };
        if c.state != CState::CallbackRetry {
            return;
        }
        c.state = CState::Waiting;
        self.place(slot);
        self.route_call(slot, "callback-retry");
    }
}
