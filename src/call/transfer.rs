//! Transfers to external numbers, at the call layer: every one asks the outbound gate first
//! ([`crate::outbound`]). A refused caller hears `call_not_allowed` and is hung up (cause
//! `outbound_refused`); the gate logs and counts the reason. Placing the transfer leg itself
//! through the trunk is for a later issue: an allowed transfer still ends with
//! `transfer_unavailable`.

use super::driver::CallTask;
use crate::outbound::{Path, Request};

impl CallTask {
    /// The IVR's `transfer` node chose `number` (already on `[sip] transfer_allow`).
    pub(super) fn ivr_transfer(&mut self, number: String) {
        // A caller whose call came from a trusted trunk is vouched for by it (their media is
        // not pinned to the signalling source for the same reason).
        let requester = if self.media_pin.is_none() {
            crate::outbound::Requester::Asserted(self.caller.clone())
        } else {
            super::facts::requester(&self.facts, &self.caller)
        };
        let req = Request {
            path: Path::IvrTransfer,
            number,
            requester,
            trunk: None,
        };
        if self.env.outbound.check(&self.call_id, &req).is_err() {
            self.media.stop_playback();
            match self.play_own("call_not_allowed", false) {
                Some(id) => self.farewell = Some((id, "outbound_refused")),
                None => self.hangup("outbound_refused"),
            }
            return;
        }
        tracing::warn!(call_id = %self.call_id, number = %req.number, "IVR transfer allowed by the outbound gate, but transfer legs are not built yet");
        self.hangup("transfer_unavailable");
    }
}

impl CallTask {
    /// An agent's blind transfer to `number`: the gate's answer (logged and counted there when
    /// it refuses). Either way no leg is placed yet (see the module notes).
    pub(super) fn agent_transfer_to_number(&mut self, agent: &str, number: String) {
        let req = Request {
            path: Path::AgentTransfer,
            number,
            requester: crate::outbound::Requester::User(agent.to_string()),
            trunk: None,
        };
        if self.env.outbound.check(&self.call_id, &req).is_ok() {
            tracing::info!(call_id = %self.call_id, number = %req.number, "transfer to a number refused: transfer legs are not built yet");
        }
    }
}
