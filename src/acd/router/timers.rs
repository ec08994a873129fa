//! The router's timers: one heap, entries checked against the current state when they
//! fire (a timer whose call or agent moved on is simply dropped).
use super::state::{AState, CState};
use super::Router;
use crate::acd::types::*;
use std::cmp::Reverse;
use std::collections::BinaryHeap;

#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
pub(super) enum Timer {
    Rona {
        slot: u32,
        uid: u64,
        offer: u32,
    },
    Relax {
        slot: u32,
        uid: u64,
        epoch: u32,
        stage: u8,
    },
    Overflow {
        slot: u32,
        uid: u64,
        epoch: u32,
    },
    MaxWait {
        slot: u32,
        uid: u64,
        epoch: u32,
    },
    OwnerEnd {
        slot: u32,
        uid: u64,
        epoch: u32,
    },
    Announce {
        slot: u32,
        uid: u64,
    },
    CallbackRetry {
        slot: u32,
        uid: u64,
        attempt: u32,
    },
    CallbackDial {
        slot: u32,
        uid: u64,
        attempt: u32,
    },
    WrapEnd {
        agent: u32,
        epoch: u32,
    },
    Grace {
        agent: u32,
        conn: u32,
    },
}

#[derive(Default)]
pub(super) struct Timers {
    heap: BinaryHeap<Reverse<(Millis, u64, Timer)>>,
    seq: u64,
}

impl Timers {
    pub fn push(&mut self, at: Millis, t: Timer) {
        self.seq += 1;
        self.heap.push(Reverse((at, self.seq, t)));
    }
    pub fn pop_due(&mut self, now: Millis) -> Option<Timer> {
        match self.heap.peek() {
            Some(Reverse((at, _, _))) if *at <= now => self.heap.pop().map(|Reverse((_, _, t))| t),
            _ => None,
        }
    }
    pub fn peek(&self) -> Option<Timer> {
        self.heap.peek().map(|Reverse((_, _, t))| *t)
    }
    pub fn peek_at(&self) -> Option<Millis> {
        self.heap.peek().map(|Reverse((at, _, _))| *at)
    }
    pub fn discard_top(&mut self) {
        self.heap.pop();
    }
    pub fn clear(&mut self) {
        self.heap.clear();
    }
}

impl Router {
    /// Would this timer still do something if it fired?
    pub(super) fn timer_live(&self, t: &Timer) -> bool {
        let call = |slot: u32, uid: u64| self.calls.get(slot).filter(|c| c.uid == uid);
        match *t {
            Timer::Rona { slot, uid, offer } => call(slot, uid)
                .is_some_and(|c| c.offer_epoch == offer && matches!(c.state, CState::Ringing(_))),
            Timer::Relax {
                slot,
                uid,
                epoch,
                stage,
            } => call(slot, uid).is_some_and(|c| c.queue_epoch == epoch && c.stage == stage),
            Timer::Overflow { slot, uid, epoch }
            | Timer::MaxWait { slot, uid, epoch }
            | Timer::OwnerEnd { slot, uid, epoch } => {
                call(slot, uid).is_some_and(|c| c.queue_epoch == epoch)
            }
            Timer::Announce { slot, uid } => call(slot, uid).is_some_and(|c| c.callback.is_none()),
            Timer::CallbackRetry { slot, uid, attempt } => call(slot, uid).is_some_and(|c| {
                c.state == CState::CallbackRetry
                    && c.callback.as_ref().is_some_and(|cb| cb.attempts == attempt)
            }),
            Timer::CallbackDial { slot, uid, attempt } => call(slot, uid).is_some_and(|c| {
                matches!(c.state, CState::CallbackDialing(_))
                    && c.callback.as_ref().is_some_and(|cb| cb.attempts == attempt)
            }),
            Timer::WrapEnd { agent, epoch } => self
                .agents
                .get(agent as usize)
                .is_some_and(|a| a.epoch == epoch && a.state == AState::WrapUp),
            Timer::Grace { agent, conn } => self
                .agents
                .get(agent as usize)
                .is_some_and(|a| a.conn_gen == conn && !a.connected && a.logged_in()),
        }
    }

    pub(super) fn on_timer(&mut self, t: Timer) {
        if !self.timer_live(&t) {
            return;
        }
        match t {
            Timer::Rona { slot, .. } => self.rona(slot),
            Timer::Relax { slot, stage, .. } => self.relax(slot, stage + 1),
            Timer::Overflow { slot, .. } => self.overflow_after_wait(slot),
            Timer::MaxWait { slot, .. } => self.max_wait(slot),
            Timer::OwnerEnd { slot, .. } => self.owner_window_ended(slot),
            Timer::Announce { slot, .. } => self.announce(slot),
            Timer::CallbackRetry { slot, .. } => self.callback_retry(slot),
            Timer::CallbackDial { slot, .. } => self.callback_failed_attempt(slot),
            Timer::WrapEnd { agent, .. } => self.wrap_timer_ended(agent),
            Timer::Grace { agent, .. } => self.grace_expired(agent),
        }
    }
}
