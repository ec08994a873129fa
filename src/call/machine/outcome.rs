//! The router's outcomes for a call it takes out of its queue (its `max_wait` passed, or the
//! queue was full): `voicemail` (the caller is asked to leave a message, which is recorded and
//! filed on their ticket as the IVR's voicemail is) and `busy` (a closing prompt, then the call
//! is hung up). `callback` outcomes are offers, handled with the other callback cues.

use super::{Action, CallMachine, Phase, PromptTag, Withdrawn};
use crate::acd::service::OutcomeCause;
use crate::acd::types::OutcomeKind;
use std::time::{Duration, Instant};

/// The longest message a caller may leave after a voicemail outcome.
pub const VOICEMAIL_MAX: Duration = Duration::from_secs(120);

/// Where the outcome stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutcomeStep {
    /// The opening prompt plays (leave a message / the lines are busy).
    Prompt,
    /// The caller's message is being recorded.
    Recording,
    /// The message is saved; the caller hears so, then is hung up.
    Saved,
}

impl CallMachine {
    pub(super) fn outcome(&mut self, kind: OutcomeKind, cause: OutcomeCause, _now: Instant) {
        if !matches!(self.phase, Phase::Queued | Phase::Joining) {
            return;
        }
        // The router has removed the call already: it is not told again.
        self.in_router = false;
        for leg in self.legs.offers() {
            self.cancel(leg, Withdrawn::Withdrawn);
        }
        self.emit(Action::OutcomeDecided { kind, cause });
        match kind {
            OutcomeKind::Busy => self.emit(Action::PlayPrompt(PromptTag::Busy)),
            OutcomeKind::Voicemail => self.emit(Action::PlayPrompt(PromptTag::LeaveMessage)),
            // A callback outcome is an offer (`CallbackCue::Offer`): never routed here.
            OutcomeKind::Callback => return,
        }
        self.phase = Phase::Outcome {
            kind,
            step: OutcomeStep::Prompt,
        };
    }

    pub(super) fn outcome_prompt_finished(&mut self, tag: PromptTag, now: Instant) {
        let Phase::Outcome { kind, step } = self.phase else {
            return;
        };
        match (kind, step, tag) {
            (OutcomeKind::Busy, OutcomeStep::Prompt, PromptTag::Busy) => {
                self.emit(Action::HangUpCaller {
                    cause: "queue_busy",
                })
            }
            (OutcomeKind::Voicemail, OutcomeStep::Prompt, PromptTag::LeaveMessage) => {
                self.phase = Phase::Outcome {
                    kind,
                    step: OutcomeStep::Recording,
                };
                self.recording_until = Some(now + VOICEMAIL_MAX);
                self.emit(Action::Record { max: VOICEMAIL_MAX });
            }
            (OutcomeKind::Voicemail, OutcomeStep::Saved, PromptTag::MessageSaved) => {
                self.emit(Action::HangUpCaller { cause: "voicemail" })
            }
            _ => {}
        }
    }

    pub(super) fn outcome_recorded(&mut self) {
        if self.phase
            == (Phase::Outcome {
                kind: OutcomeKind::Voicemail,
                step: OutcomeStep::Recording,
            })
        {
            self.recording_until = None;
            self.phase = Phase::Outcome {
                kind: OutcomeKind::Voicemail,
                step: OutcomeStep::Saved,
            };
            self.emit(Action::PlayPrompt(PromptTag::MessageSaved));
        }
    }

    /// Whether the caller is leaving a message for a voicemail outcome (the recording, when it
    /// closes, is this call's voicemail).
    pub fn recording_voicemail(&self) -> bool {
        matches!(
            self.phase,
            Phase::Outcome {
                kind: OutcomeKind::Voicemail,
                step: OutcomeStep::Recording
            }
        )
    }
}
