//! Callbacks that keep the caller's place, at the call layer.
//!
//! While a caller waits, the router may offer them a callback (long expected wait, maximum
//! wait or queue full): the `callback_offer` prompt plays over the music and `1`
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
//! `machine::callback::CallbackState` is the sans-IO part: what a digit or a router answer means for the call.

use super::driver::CallTask;
use super::machine::callback::DigitUse;
use crate::acd::router::Input as RouterInput;
use crate::acd::service::{CallbackCue, Cue};
use crate::acd::types::CallId;
use crate::events::Event;
use crate::ivr::engine::QueueRequest;
use tokio::sync::mpsc::UnboundedReceiver;

impl CallTask {
    fn router_call(&self) -> CallId {
        CallId::from(self.call_id.as_str())
    }

    fn count(&self, outcome: &str) {
        self.env.count_callback(outcome);
    }

    /// Play one prompt in the caller's language; its media play id. Only the offer is
    /// `barge_in`: the tail of the key that answered it must not cut what follows.
    pub(super) fn play_own(&mut self, name: &str, barge_in: bool) -> Option<u64> {
        let prompt = self.env.prompts.get(self.ivr.language(), name);
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
                if let Some(reason) = self.callback_not_allowed() {
                    self.callback_cue(CallbackCue::Refused { reason });
                    return true;
                }
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
        if let Some(reason) = self.callback_not_allowed() {
            // Refused once the IVR has finished this step (it is saying goodbye): the caller
            // is told and waits in the queue instead, as when the router refuses.
            self.queued = Some(q);
            self.callback_refusal = Some(reason);
            return;
        }
        let number = self.caller.clone();
        self.enqueue(q, Some(number));
    }

    /// Why this caller may not be called back, if they may not: the outbound gate's answer
    /// for a callback to their number (counted when it is dialled, not now). Only a number
    /// asserted by a trusted trunk (P-Asserted-Identity from `[sip] trusted_trunks`) is
    /// dialled; a `From` anyone can write would make the centre call any number (toll fraud).
    fn callback_not_allowed(&self) -> Option<String> {
        let req = crate::outbound::Request {
            path: crate::outbound::Path::Callback,
            number: self.caller.clone(),
            requester: super::facts::requester(&self.facts, &self.caller),
            trunk: None,
        };
        let refusal = self.env.outbound.check(&self.call_id, &req).err()?;
        Some(match refusal {
            crate::outbound::Refusal::Unauthenticated => {
                "the caller's number is not asserted by a trusted trunk".to_string()
            }
            other => other.reason(),
        })
    }

    /// A refusal decided while the IVR was stepping, carried out after its step.
    pub(super) fn refuse_pending_callback(&mut self) {
        if let Some(reason) = self.callback_refusal.take() {
            self.callback_cue(CallbackCue::Refused { reason });
        }
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
            // Dialling is for a caller who has left (`callback_dial`).
            other @ (CallbackCue::Dial { .. } | CallbackCue::Failed { .. }) => {
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
