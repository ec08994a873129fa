//! Callbacks that keep the caller's place, at the call layer.
//!
//! While a caller waits, the router may offer them a callback (long expected wait, maximum
//! wait or queue full): the `callback_offer` prompt plays over the music and [`ACCEPT_DIGIT`]
//! accepts. The IVR's `callback_offer` node asks for the same before queueing. The router
//! books it (the number is the caller's identity, checked against its allow-list) or refuses
//! it (the caller is told and stays queued). Once booked the caller hears `callback_booked`
//! and is hung up; `callback_dial` then keeps the call's router cues. When the virtual call
//! reaches the front the router reserves an agent and asks for a dial: we call the customer
//! through the first `[[sip.trunks]]` route and report the result; once they answer, the
//! router offers the call to the reserved agent and it goes on as an ordinary queued call
//! ([`CallTask`]): ring with the pop, bridge, wrap-up, an interaction row marked `callback`.
//! If that agent does not answer, the customer waits on the line at the front of the queue.
//!
//! [`CallbackState`] is the sans-IO part: what a digit or a router answer means for the call.

use super::driver::CallTask;
use crate::acd::router::Input as RouterInput;
use crate::acd::service::{CallbackCue, Cue};
use crate::acd::types::CallId;
use crate::events::Event;
use crate::ivr::engine::QueueRequest;
use tokio::sync::mpsc::UnboundedReceiver;

/// The key that accepts a callback offered while waiting (the `callback_offer` prompt says so).
pub const ACCEPT_DIGIT: char = '1';
/// The key that declines it ("to keep waiting, press 2").
pub const DECLINE_DIGIT: char = '2';

/// Where one call stands with a callback.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CallbackState {
    phase: Phase,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
enum Phase {
    #[default]
    None,
    /// The offer was made while waiting; the next accept or decline key answers it.
    Offered,
    /// The caller declined, or their number was refused: not offered again.
    Declined,
    /// Asked of the router (`via_ivr`: by the IVR's node, before the call was queued).
    Requested { via_ivr: bool },
    /// Booked; `goodbye` is the media play id after which we hang up (queue path).
    Booked { goodbye: Option<u64> },
    /// The customer was called back and answered.
    CalledBack,
}

/// What a digit does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DigitUse {
    /// Ask the router for a callback.
    Accept,
    /// Keep waiting (stop the offer prompt).
    Decline,
    /// Not ours: the IVR gets it.
    Pass,
}

impl CallbackState {
    /// The router offers a callback: whether to play the offer (once per call, never after a
    /// request or a refusal).
    pub fn offer(&mut self) -> bool {
        if self.phase == Phase::None {
            self.phase = Phase::Offered;
            true
        } else {
            false
        }
    }

    pub fn digit(&mut self, d: char) -> DigitUse {
        match (&self.phase, d) {
            (Phase::Offered, ACCEPT_DIGIT) => {
                self.phase = Phase::Requested { via_ivr: false };
                DigitUse::Accept
            }
            (Phase::Offered, DECLINE_DIGIT) => {
                self.phase = Phase::Declined;
                DigitUse::Decline
            }
            _ => DigitUse::Pass,
        }
    }

    /// The IVR's `callback_offer` node was accepted.
    pub fn requested_in_ivr(&mut self) {
        self.phase = Phase::Requested { via_ivr: true };
    }

    /// The router booked it: `Some(via_ivr)` if we had asked (else the cue is stale).
    pub fn booked(&mut self) -> Option<bool> {
        let Phase::Requested { via_ivr } = self.phase else {
            return None;
        };
        self.phase = Phase::Booked { goodbye: None };
        Some(via_ivr)
    }

    /// The router refused it: `Some(via_ivr)` if we had asked.
    pub fn refused(&mut self) -> Option<bool> {
        let Phase::Requested { via_ivr } = self.phase else {
            return None;
        };
        self.phase = Phase::Declined;
        Some(via_ivr)
    }

    /// We play the goodbye ourselves (queue path); hang up when play `id` ends.
    pub fn goodbye(&mut self, id: u64) {
        if let Phase::Booked { goodbye } = &mut self.phase {
            *goodbye = Some(id);
        }
    }

    pub fn is_goodbye(&self, id: u64) -> bool {
        self.phase == Phase::Booked { goodbye: Some(id) }
    }

    pub fn is_booked(&self) -> bool {
        matches!(self.phase, Phase::Booked { .. })
    }

    pub fn called_back() -> Self {
        CallbackState {
            phase: Phase::CalledBack,
        }
    }
}

impl CallTask {
    fn router_call(&self) -> CallId {
        CallId::from(self.call_id.as_str())
    }

    fn count(&self, outcome: &str) {
        self.manager.count_callback(outcome);
    }

    /// Play one prompt in the caller's language; its media play id. Only the offer is
    /// `barge_in`: the tail of the key that answered it must not cut what follows.
    fn play_own(&mut self, name: &str, barge_in: bool) -> Option<u64> {
        let prompt = self.manager.prompts.get(self.ivr.language(), name);
        let Some(p) = prompt else {
            tracing::warn!(call_id = %self.call_id, prompt = name, "prompt missing");
            return None;
        };
        Some(self.media.play(vec![p], barge_in))
    }

    /// A key the caller pressed: the answer to a callback offer, else the IVR's.
    pub(super) fn digit(&mut self, d: char) {
        if !self.callback_digit(d) {
            self.step(crate::ivr::engine::Input::Digit(d));
        }
    }

    /// A digit while waiting: the answer to a callback offer, or not ours (false).
    fn callback_digit(&mut self, d: char) -> bool {
        match self.callback.digit(d) {
            DigitUse::Pass => false,
            DigitUse::Decline => {
                self.media.stop_playback();
                tracing::info!(call_id = %self.call_id, "callback declined; the caller keeps waiting");
                true
            }
            DigitUse::Accept => {
                self.media.stop_playback();
                tracing::info!(call_id = %self.call_id, number = %self.caller, "callback accepted while waiting");
                self.tell_router(RouterInput::CallbackRequested {
                    call: self.router_call(),
                    number: self.caller.clone(),
                });
                true
            }
        }
    }

    /// The IVR's `callback_offer` node was accepted: queue the call as a virtual caller to be
    /// dialled back (the IVR goes on to say goodbye).
    pub(super) fn callback_from_ivr(&mut self, q: QueueRequest) {
        tracing::info!(call_id = %self.call_id, number = %self.caller, queue = %q.queue, "callback accepted in the IVR");
        self.callback.requested_in_ivr();
        let number = self.caller.clone();
        self.enqueue(q, Some(number));
    }

    pub(super) fn callback_cue(&mut self, cue: CallbackCue) {
        let queue = self.facts.queue.clone().unwrap_or_default();
        match cue {
            CallbackCue::Offer => {
                let waiting = self.machine.phase() == &super::machine::Phase::Queued
                    && self.machine.legs().offers().is_empty();
                if waiting && self.callback.offer() {
                    tracing::info!(call_id = %self.call_id, "offering a callback");
                    self.play_own("callback_offer", true);
                }
            }
            CallbackCue::Booked { number } => {
                let Some(via_ivr) = self.callback.booked() else {
                    return;
                };
                tracing::info!(call_id = %self.call_id, %number, %queue, "callback booked");
                self.facts.callback = true;
                self.machine.callback_booked();
                self.perform_machine();
                self.count("booked");
                self.record(Event::CallbackRequested { queue, number });
                if !via_ivr {
                    self.media.stop_playback();
                    match self.play_own("callback_booked", false) {
                        Some(id) => self.callback.goodbye(id),
                        None => self.hangup("ivr_hangup"),
                    }
                }
            }
            CallbackCue::Refused { reason } => {
                let Some(via_ivr) = self.callback.refused() else {
                    return;
                };
                tracing::info!(call_id = %self.call_id, number = %self.caller, %reason, "callback refused; the caller stays queued");
                self.count("refused");
                self.record(Event::CallbackRefused {
                    number: self.caller.clone(),
                    reason,
                });
                self.media.stop_playback();
                self.play_own("invalid_option", false);
                if via_ivr {
                    // The IVR was saying goodbye: the caller waits in the queue instead.
                    self.ivr.resume_queued();
                    if let Some(q) = self.queued.clone() {
                        self.enqueue(q, None);
                    }
                }
            }
            other => {
                tracing::debug!(call_id = %self.call_id, cue = ?other, "callback cue for a live call ignored")
            }
        }
    }

    /// A prompt of ours ended: after the booking goodbye, hang up.
    pub(super) fn callback_prompt_finished(&mut self, play_id: u64) {
        if self.callback.is_goodbye(play_id) {
            self.hangup("ivr_hangup");
        }
    }

    /// The caller leaves with a booked callback: their router cues go on to
    /// [`super::callback_dial::Pending`], and
    /// the interaction is stored once the callback ends (not now).
    pub(super) fn take_booked_callback(&mut self) -> Option<UnboundedReceiver<Cue>> {
        if !self.callback.is_booked() {
            return None;
        }
        self.interaction_saved = true;
        self.cues.take()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_offer_is_made_once_and_answered_by_its_keys() {
        let mut s = CallbackState::default();
        assert_eq!(
            s.digit('1'),
            DigitUse::Pass,
            "no offer yet: the IVR's digit"
        );
        assert!(s.offer());
        assert!(!s.offer(), "not twice");
        assert_eq!(s.digit('5'), DigitUse::Pass);
        assert_eq!(s.digit(ACCEPT_DIGIT), DigitUse::Accept);
        assert_eq!(s.digit(ACCEPT_DIGIT), DigitUse::Pass, "asked once");
        assert_eq!(
            s.booked(),
            Some(false),
            "booked from the queue: we say goodbye"
        );
        assert!(s.is_booked());

        let mut s = CallbackState::default();
        s.offer();
        assert_eq!(s.digit(DECLINE_DIGIT), DigitUse::Decline);
        assert!(!s.offer(), "a caller who declined is not asked again");
        assert_eq!(s.digit(ACCEPT_DIGIT), DigitUse::Pass);
    }

    #[test]
    fn a_refused_number_leaves_the_caller_waiting_and_unasked() {
        let mut s = CallbackState::default();
        s.offer();
        s.digit(ACCEPT_DIGIT);
        assert_eq!(s.refused(), Some(false));
        assert!(!s.is_booked());
        assert!(!s.offer());
        assert_eq!(
            s.booked(),
            None,
            "a late booking for a refused request is stale"
        );

        let mut s = CallbackState::default();
        s.requested_in_ivr();
        assert_eq!(
            s.refused(),
            Some(true),
            "the IVR path must queue the caller"
        );
    }

    #[test]
    fn the_goodbye_prompt_ends_the_call_only_when_booked() {
        let mut s = CallbackState::default();
        s.goodbye(7);
        assert!(!s.is_goodbye(7));
        s.requested_in_ivr();
        assert_eq!(s.booked(), Some(true), "the IVR says goodbye itself");
        s.goodbye(7);
        assert!(s.is_goodbye(7));
        assert!(!s.is_goodbye(8));
        assert!(
            !CallbackState::called_back().offer(),
            "no offer once called back"
        );
    }
}
