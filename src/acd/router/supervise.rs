//! Supervisor changes to a waiting caller: a new priority (their place follows it at once) or
//! a move to another queue (service there by the new queue's rules and timers, their time of
//! first entry kept, so they do not lose their place to later callers).
use super::io::AcdError;
use super::state::CState;
use super::Router;
use crate::acd::types::*;

impl Router {
    /// The slot of a caller who is waiting (not ringing, not talking).
    fn waiting_slot(&self, call: &CallId) -> Result<u32, AcdError> {
        let slot = self.call_ix(call)?;
        match self.calls.get(slot) {
            Some(c) if c.waiting() => Ok(slot),
            _ => Err(AcdError::BadCallState(call.clone())),
        }
    }

    pub(super) fn set_priority(&mut self, call: &CallId, priority: i32) -> Result<(), AcdError> {
        let slot = self.waiting_slot(call)?;
        self.unqueue(slot);
        if let Some(c) = self.calls.get_mut(slot) {
            c.priority = priority;
        }
        self.refresh_call(slot);
        self.place(slot);
        self.route_call(slot, "priority-changed");
        Ok(())
    }

    pub(super) fn move_call(&mut self, call: &CallId, queue: &str) -> Result<(), AcdError> {
        let slot = self.waiting_slot(call)?;
        let q = *self
            .queue_ids
            .get(queue)
            .ok_or_else(|| AcdError::UnknownQueue(queue.to_string()))?;
        self.unqueue(slot);
        let now = self.now;
        if let Some(c) = self.calls.get_mut(slot) {
            c.queue = q;
            c.queue_entered = now;
            c.stage = 0;
            c.max_wait_done = false;
            c.owner = None;
            c.state = CState::Waiting;
        }
        self.refresh_call(slot);
        self.place(slot);
        self.arm_queue_timers(slot);
        self.maybe_offer_callback(slot);
        self.route_call(slot, "moved");
        Ok(())
    }
}
