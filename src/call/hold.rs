//! Hold from either phone. A re-INVITE that stops the sender's receiving (sendonly, inactive or
//! c=0.0.0.0) from the caller or from the agent's desk phone holds the bridge: neither party
//! hears the other until the unhold (the held side's leg plays the engine's hold music, if any).
//! The agent's page hold (`DeskCommand::Hold`) is separate: it plays the queue music instead.

use super::agent_io::AgentPath;
use super::driver::CallTask;
use super::machine::{Holder, LegId, LegPhase};
use super::media_map::{answer_offer, is_hold};
use crate::events::{now_ms, Event};
use crate::sip::endpoint::Command;

impl CallTask {
    /// The agent's desk phone sent a re-INVITE: answer it for the agent's RTP session and follow
    /// its hold/unhold.
    pub(super) fn agent_reinvite(&mut self, leg: LegId, sdp: Option<bytes::Bytes>) {
        let answered = self.machine.legs().phase(leg) == Some(LegPhase::Answered);
        let Some(a) = self.agents.get_mut(&leg) else {
            return;
        };
        let AgentPath::Phone { leg: phone, local } = &mut a.path else {
            return;
        };
        local.session_version += 1;
        let phone = *phone;
        match sdp.as_deref().and_then(|b| answer_offer(b, local)) {
            Some((answer, neg)) => {
                let held = is_hold(&neg);
                a.media.set_remote(neg);
                self.command_on(
                    phone.shard,
                    Command::AnswerReinvite(phone.leg, answer.into()),
                );
                if answered {
                    self.phone_hold(Holder::Agent, held);
                }
            }
            None => self.command_on(phone.shard, Command::RejectReinvite(phone.leg, 488)),
        }
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
        let Some((leg, agent)) = self.machine.talking() else {
            return;
        };
        let agent = agent.to_string();
        let Some(a) = self.agents.get(&leg) else {
            return;
        };
        self.media.set_hold(on);
        a.media.set_hold(on);
        if let Some(d) = self.desk() {
            d.call_changed(&agent, &self.call_id, |c| c.held = on);
        }
    }
}
