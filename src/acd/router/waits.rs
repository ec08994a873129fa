//! While a caller waits: relaxation steps, overflow (after a wait, or when the queue
//! loses its last agent), maximum wait, and the end of a ticket-owner window.
use super::io::{Action, OverflowReason};
use super::state::CState;
use super::timers::Timer;
use super::Router;
use crate::acd::types::*;

impl Router {
    pub(super) fn relax(&mut self, slot: u32, stage: u8) {
        let Some(c) = self.calls.get(slot) else {
            return;
        };
        let (ranked, uid, epoch, q) = (c.ranked, c.uid, c.queue_epoch, c.queue);
        self.unqueue(slot);
        if let Some(c) = self.calls.get_mut(slot) {
            c.stage = stage;
        }
        self.refresh_call(slot);
        if ranked {
            self.place(slot);
        }
        let def = &self.queues[q.0 as usize].def;
        if let Some(step) = def.relax.get(stage as usize) {
            let at = self.calls.get(slot).map_or(0, |c| c.queue_entered) + step.after_ms;
            self.timers.push(
                at.max(self.now),
                Timer::Relax {
                    slot,
                    uid,
                    epoch,
                    stage,
                },
            );
        }
        self.route_call(slot, "relaxed");
    }

    pub(super) fn overflow(&mut self, slot: u32, to: QueueId, reason: OverflowReason) {
        let Some(c) = self.calls.get(slot) else {
            return;
        };
        if c.hops as usize >= self.queues.len() {
            return;
        }
        let (id, from) = (
            c.id.clone(),
            self.queues[c.queue.0 as usize].def.name.clone(),
        );
        self.unqueue(slot);
        let to_name = self.queues[to.0 as usize].def.name.clone();
        self.emit(Action::Overflow {
            call: id,
            from,
            to: to_name,
            reason,
        });
        if let Some(c) = self.calls.get_mut(slot) {
            c.hops += 1;
            if c.state == CState::OwnerHold {
                c.state = CState::Waiting;
            }
            c.owner = None;
        }
        self.enter_queue(slot, to, "overflow");
    }

    pub(super) fn overflow_after_wait(&mut self, slot: u32) {
        let Some(c) = self.calls.get(slot) else {
            return;
        };
        if !c.waiting() {
            return; // ringing: a failed offer re-arms the timers
        }
        if let Some(o) = &self.queues[c.queue.0 as usize].def.overflow {
            self.overflow(slot, o.to, OverflowReason::WaitedTooLong);
        }
    }

    pub(super) fn max_wait(&mut self, slot: u32) {
        let Some(c) = self.calls.get_mut(slot) else {
            return;
        };
        if !c.waiting() || c.callback.is_some() {
            return;
        }
        c.max_wait_done = true;
        let id = c.id.clone();
        let Some((_, out)) = self.queues[c.queue.0 as usize].def.max_wait else {
            return;
        };
        match out {
            Outcome::Overflow(t) => self.overflow(slot, t, OverflowReason::MaxWait),
            Outcome::Callback => {
                c.callback_offered = true;
                self.emit(Action::MaxWaitOutcome {
                    call: id,
                    outcome: OutcomeKind::Callback,
                });
            }
            Outcome::Voicemail | Outcome::Busy => {
                let outcome = if out == Outcome::Voicemail {
                    OutcomeKind::Voicemail
                } else {
                    OutcomeKind::Busy
                };
                self.emit(Action::MaxWaitOutcome { call: id, outcome });
                self.remove_call(slot);
            }
        }
    }

    pub(super) fn owner_window_ended(&mut self, slot: u32) {
        let Some(c) = self.calls.get(slot) else {
            return;
        };
        if c.state != CState::OwnerHold {
            return;
        }
        self.unqueue(slot);
        if let Some(c) = self.calls.get_mut(slot) {
            c.state = CState::Waiting;
            c.owner = None;
        }
        self.place(slot);
        self.route_call(slot, "owner-window-ended");
    }

    /// The owner logged out: their ticket callers go to everyone at once.
    pub(super) fn owner_release(&mut self, a: u32) {
        let slots: Vec<u32> = self
            .waiting
            .owner
            .get(&a)
            .map(|s| s.iter().map(|(_, slot)| *slot).collect())
            .unwrap_or_default();
        for slot in slots {
            self.owner_window_ended(slot);
        }
    }

    /// The last eligible agent logged out: overflow waiting callers if configured.
    pub(super) fn queue_lost_agents(&mut self, q: QueueId) {
        let Some(to) = self.queues[q.0 as usize]
            .def
            .overflow
            .as_ref()
            .filter(|o| o.when_no_agents)
            .map(|o| o.to)
        else {
            return;
        };
        let slots: Vec<u32> = self.queues[q.0 as usize]
            .order
            .iter()
            .map(|(_, s)| *s)
            .collect();
        for slot in slots {
            self.overflow(slot, to, OverflowReason::NoAgents);
        }
    }
}
