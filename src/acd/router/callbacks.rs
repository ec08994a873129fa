//! Callbacks that keep the caller's place: the caller hangs up, a virtual call waits in
//! their position; at the front an agent is reserved and the call layer dials the
//! customer back, retrying per the queue's policy.
use super::explain::Explanation;
use super::io::{AcdError, Action};
use super::state::{AState, CState, CallbackState};
use super::timers::Timer;
use super::Router;

impl Router {
    /// Is this number allowed for callbacks? `Err` says why not.
    pub(super) fn number_allowed(&self, n: &str) -> Result<(), String> {
        let digits = n.strip_prefix('+').unwrap_or(n);
        if !(3..=20).contains(&digits.len()) || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(format!(
                "`{n}` is not a phone number (3 to 20 digits, optional leading +)"
            ));
        }
        let prefixes = &self.cfg.settings.callback_allowed_prefixes;
        if !prefixes.is_empty() && !prefixes.iter().any(|p| n.starts_with(p.as_str())) {
            return Err(format!("`{n}` is not in callback_allowed_prefixes"));
        }
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
        if let Err(reason) = self.number_allowed(&number) {
            self.emit(Action::CallbackRefused {
                call: id.clone(),
                reason,
            });
            return Ok(());
        }
        if let Some(c) = self.calls.get_mut(slot) {
            c.callback = Some(CallbackState {
                number,
                attempts: 0,
            });
        }
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
        c.state = CState::Connected(a);
        c.answered_at = Some(self.now);
        let q = c.queue;
        let ag = &mut self.agents[a as usize];
        ag.answered += 1;
        ag.disposition_done = false;
        self.set_state(a, AState::OnCall(slot), None);
        self.queues[q.0 as usize].answered += 1;
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
