//! The context a transaction state machine runs in: its id, `now`, the timer values,
//! its timer slots in the shared queue and the layer's action queue. Keeps the four
//! machines free of map lookups and bookkeeping.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::timers::{TimerConfig, TimerKind, TimerQueue, TIMER_KINDS};
use super::{Action, Peer, TxId};
use crate::sip::message::Message;

/// Per-transaction timer slots: the live generation of each timer kind (0 = disarmed).
pub(crate) type Slots = [u64; TIMER_KINDS];

/// What a state machine wants the layer to do with it afterwards.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Step {
    Stay,
    Terminate,
}

/// Borrowed view of the layer for one transaction.
pub(crate) struct Ctx<'a> {
    pub id: TxId,
    pub now: Instant,
    pub cfg: &'a TimerConfig,
    /// Where this transaction sends (request target, or response destination).
    pub peer: Peer,
    pub slots: &'a mut Slots,
    pub queue: &'a mut TimerQueue<(TxId, TimerKind)>,
    pub actions: &'a mut VecDeque<Action>,
    /// Retransmissions sent (for metrics).
    pub retransmits: &'a mut u64,
}

impl Ctx<'_> {
    /// True on TCP/TLS/WS: no retransmissions, zero wait timers.
    pub fn reliable(&self) -> bool {
        self.peer.is_reliable()
    }

    /// Queue a message for the transport.
    pub fn send(&mut self, msg: &Arc<Message>) {
        self.actions.push_back(Action::Send {
            to: self.peer,
            msg: Arc::clone(msg),
            tx: Some(self.id),
        });
    }

    /// Queue a retransmission (counted in the layer's stats).
    pub fn resend(&mut self, msg: &Arc<Message>) {
        *self.retransmits += 1;
        self.send(msg);
    }

    /// Arm (or re-arm) a timer to fire `after` from now.
    pub fn arm(&mut self, kind: TimerKind, after: Duration) {
        let generation = self.queue.schedule((self.id, kind), self.now + after);
        self.slots[kind.index()] = generation;
    }

    pub fn disarm(&mut self, kind: TimerKind) {
        self.slots[kind.index()] = 0;
    }

    pub fn emit(&mut self, action: Action) {
        self.actions.push_back(action);
    }
}
