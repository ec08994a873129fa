//! Hold from either phone. A re-INVITE that stops the sender's receiving (sendonly, inactive or
//! c=0.0.0.0) from the caller or from the agent's desk phone holds the bridge: neither party
//! hears the other until the unhold (the held side's leg plays the engine's hold music, if any).
//! The agent's page hold (`DeskCommand::Hold`) is separate: it plays the queue music instead.

use super::agent_leg::AgentPath;
use super::ivr_call::IvrCall;
use super::media_map::{answer_offer, is_hold};
use crate::events::{now_ms, Event};
use crate::sip::endpoint::Command;

/// Which phone asked for hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Holder {
    Caller,
    Agent,
}

impl IvrCall {
    /// The agent's desk phone sent a re-INVITE: answer it for the agent's RTP session and follow
    /// its hold/unhold.
    pub(super) fn agent_reinvite(&mut self, sdp: Option<bytes::Bytes>) {
        let Some(a) = self.agent.as_mut() else { return };
        let AgentPath::Phone { leg, local, .. } = &mut a.path else {
            return;
        };
        local.session_version += 1;
        let leg = *leg;
        let cmd = match sdp.as_deref().and_then(|b| answer_offer(b, local)) {
            Some((answer, neg)) => {
                let held = is_hold(&neg);
                a.media.set_remote(neg);
                let answered = a.answered;
                self.command_on(leg.shard, Command::AnswerReinvite(leg.leg, answer.into()));
                if answered {
                    self.phone_hold(Holder::Agent, held);
                }
                return;
            }
            None => Command::RejectReinvite(leg.leg, 488),
        };
        self.command_on(leg.shard, cmd);
    }

    /// One phone held or resumed: when the call's hold state changes, hold or release both legs
    /// of the bridge and record it.
    pub(super) fn phone_hold(&mut self, who: Holder, on: bool) {
        let before = self.held || self.agent_held;
        match who {
            Holder::Caller => self.held = on,
            Holder::Agent => self.agent_held = on,
        }
        let now_on = self.held || self.agent_held;
        if now_on == before {
            return;
        }
        tracing::info!(call_id = %self.call_id, ?who, held = now_on, "hold from a phone");
        self.facts.hold(now_on, now_ms());
        self.record(Event::CallHold { held: now_on });
        self.apply_phone_hold();
    }

    /// Put the bridge's legs in the phones' hold state (called again when an agent answers).
    pub(super) fn apply_phone_hold(&mut self) {
        let on = self.held || self.agent_held;
        let Some(a) = self.agent.as_ref().filter(|a| a.answered) else {
            return;
        };
        self.media.set_hold(on);
        a.media.set_hold(on);
        let agent = a.id.clone();
        if let Some(d) = self.desk() {
            d.call_changed(&agent, &self.call_id, |c| c.held = on);
        }
    }
}
