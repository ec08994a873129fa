//! Position and expected-wait announcements (see `acd::ewt` for the estimator) and
//! callback offers to callers facing a long wait.
use super::io::Action;
use super::state::CState;
use super::timers::Timer;
use super::Router;
use crate::acd::ewt::expected_wait;
use crate::acd::types::*;

impl Router {
    /// Position (1 = next) and expected wait of a waiting caller.
    pub(super) fn position(&self, slot: u32) -> Option<(u32, Option<Millis>)> {
        let c = self.calls.get(slot)?;
        if !c.ranked {
            return None;
        }
        let qr = &self.queues[c.queue.0 as usize];
        let pos = qr.order.rank(&(c.key, slot)) as u32 + 1;
        Some((pos, expected_wait(pos, qr.aht.aht_ms(), qr.staffed)))
    }

    pub(super) fn announce(&mut self, slot: u32) {
        let Some(c) = self.calls.get(slot) else {
            return;
        };
        let (id, uid, q) = (c.id.clone(), c.uid, c.queue);
        if matches!(c.state, CState::Connected(_)) {
            return;
        }
        if let Some((position, ewt_ms)) = self.position(slot) {
            self.emit(Action::Announce {
                call: id,
                position,
                ewt_ms,
            });
            self.maybe_offer_callback(slot);
        }
        if let Some(every) = self.queues[q.0 as usize].def.announce_every_ms {
            self.timers
                .push(self.now + every, Timer::Announce { slot, uid });
        }
    }

    pub(super) fn maybe_offer_callback(&mut self, slot: u32) {
        let Some(c) = self.calls.get(slot) else {
            return;
        };
        let Some(th) = self.queues[c.queue.0 as usize]
            .def
            .callback
            .offer_when_ewt_over_ms
        else {
            return;
        };
        if c.callback_offered || c.callback.is_some() {
            return;
        }
        if let Some((_, Some(ewt))) = self.position(slot) {
            if ewt > th {
                let id = c.id.clone();
                if let Some(c) = self.calls.get_mut(slot) {
                    c.callback_offered = true;
                }
                self.emit(Action::OfferCallback {
                    call: id,
                    ewt_ms: Some(ewt),
                });
            }
        }
    }
}
