//! A supervisor on a connected call: their registered phone is rung (a supervisor leg of the
//! call's machine), and once they answer the caller, the agent and the supervisor meet in a
//! conference (the media mixer) where the supervisor's role says who hears them — nobody
//! (listen), the agent only (whisper) or both (barge). The caller ⇄ agent bridge stays
//! underneath and carries the call again when the supervisor leaves. Changing mode on the
//! supervisor page changes the role at once, without ringing again.

use super::agent_io::{self, AgentEvent, AgentLeg, AgentPath, MonitorLeg};
use super::driver::CallTask;
use super::machine::{self, LegGoneWhy, LegId};
use crate::desk::MonitorMode;
use crate::events::Event;
use crate::media::{Conference, Role};
use crate::sip::leg::LegEvent;

/// Who hears the supervisor in `mode`; `agent` is the agent's media session id.
pub(super) fn role_for(mode: MonitorMode, agent: u64) -> Role {
    match mode {
        MonitorMode::Listen => Role::Listen,
        MonitorMode::Whisper => Role::Whisper { to: agent },
        MonitorMode::Barge | MonitorMode::Stop => Role::Participant,
    }
}

impl CallTask {
    /// The media session of the agent talking to the caller.
    fn talking_media(&self) -> Option<&crate::media::MediaSession> {
        let (leg, _) = self.machine.talking()?;
        self.agents.get(&leg).map(|a| &a.media)
    }

    /// A supervisor asks to listen, whisper, barge in or stop on this (answered) call.
    pub(super) fn monitor(&mut self, supervisor: String, mode: MonitorMode) {
        if mode == MonitorMode::Stop {
            return self.feed(machine::Input::MonitorStop { supervisor });
        }
        if let Some(m) = self.monitor.as_ref() {
            if m.supervisor != supervisor {
                tracing::info!(call_id = %self.call_id, %supervisor, busy = %m.supervisor, "call already monitored by another supervisor");
                return;
            }
            let agent = self.talking_media().map(|a| a.id());
            if let Some(m) = self.monitor.as_mut() {
                m.mode = mode;
                if let (Some(conf), Some(agent)) = (&m.conference, agent) {
                    conf.set_role(&m.phone.media, role_for(mode, agent));
                }
            }
            if let Some(m) = self.monitor.as_ref() {
                self.record(Event::LegState {
                    leg: m.phone.leg_label(),
                    target: format!("supervisor:{supervisor}"),
                    state: mode.name().to_string(),
                    status: None,
                });
            }
            return;
        }
        self.monitor_request = Some((supervisor.clone(), mode));
        self.feed(machine::Input::MonitorStart { supervisor });
    }

    /// The supervisor's phone rings: keep its leg.
    pub(super) fn monitor_rung(&mut self, leg: LegId, phone: AgentLeg) {
        let mode = match self.monitor_request.take() {
            Some((s, mode)) if s == phone.user => mode,
            _ => MonitorMode::Listen,
        };
        self.record(Event::LegState {
            leg: phone.leg_label(),
            target: format!("supervisor:{}", phone.user),
            state: "calling".into(),
            status: None,
        });
        self.monitor = Some(MonitorLeg {
            leg,
            supervisor: phone.user.clone(),
            mode,
            phone,
            conference: None,
        });
    }

    /// What the supervisor's phone did.
    pub(super) fn monitor_event(&mut self, leg: LegId, ev: AgentEvent) {
        let AgentEvent::Sip(ev) = ev else { return };
        match *ev {
            LegEvent::Answered { sdp } => {
                if let Some(m) = self.monitor.as_ref() {
                    if let AgentPath::Phone { local, .. } = &m.phone.path {
                        agent_io::accept_phone_answer(sdp.as_deref(), local, &m.phone.media);
                    }
                }
                self.feed(machine::Input::LegAnswered { leg });
            }
            LegEvent::Failed { .. } => self.feed(machine::Input::LegGone {
                leg,
                why: LegGoneWhy::Failed,
            }),
            LegEvent::Ended { .. } | LegEvent::Cancelled => self.feed(machine::Input::LegGone {
                leg,
                why: LegGoneWhy::Ended,
            }),
            LegEvent::Request { tx, request } => {
                if let Some(phone) = self.monitor.as_ref().and_then(|m| m.phone.phone()) {
                    self.command_on(
                        phone.shard,
                        crate::sip::endpoint::Command::Respond(
                            tx,
                            super::env::in_dialog_response(&request),
                        ),
                    );
                }
            }
            // The supervisor's phone rings, is ACKed, or renegotiates: the conference does
            // not change (a re-INVITE is refused; the supervisor only listens or talks).
            LegEvent::ReInvite { .. } => {
                if let Some(phone) = self.monitor.as_ref().and_then(|m| m.phone.phone()) {
                    self.command_on(
                        phone.shard,
                        crate::sip::endpoint::Command::RejectReinvite(phone.leg, 488),
                    );
                }
            }
            LegEvent::Ringing { .. }
            | LegEvent::Confirmed { .. }
            | LegEvent::NeedsAuth { .. }
            | LegEvent::ReInviteDone { .. } => {}
        }
    }

    /// The supervisor answered while the agent talks: caller, agent and supervisor meet in a
    /// conference, the supervisor with the role of their mode.
    pub(super) fn join_monitor(&mut self, leg: LegId) {
        let Some(agent) = self.talking_media() else {
            return self.end_monitor("agent_gone");
        };
        let Some(m) = self.monitor.as_ref().filter(|m| m.leg == leg) else {
            return;
        };
        let conf = Conference::new();
        self.media.join_conference(&conf, Role::Participant);
        agent.join_conference(&conf, Role::Participant);
        m.phone
            .media
            .join_conference(&conf, role_for(m.mode, agent.id()));
        let (label, who, mode) = (
            m.phone.leg_label(),
            format!("supervisor:{}", m.supervisor),
            m.mode.name(),
        );
        if let Some(m) = self.monitor.as_mut() {
            m.conference = Some(conf);
        }
        self.record(Event::LegState {
            leg: label,
            target: who,
            state: mode.to_string(),
            status: Some(200),
        });
    }

    /// The agent put the caller on hold (or took them off it): a held caller hears the hold
    /// music, not the conference, and is heard by nobody.
    pub(super) fn monitor_hold(&self, on: bool) {
        if let Some(conf) = self.monitor.as_ref().and_then(|m| m.conference.as_ref()) {
            if on {
                self.media.leave_conference();
            } else {
                self.media.join_conference(conf, Role::Participant);
            }
        }
    }

    /// The supervisor leaves (hung up, stopped, or the agent's part ended): the caller and the
    /// agent go back to their plain bridge.
    pub(super) fn end_monitor(&mut self, why: &str) {
        let Some(m) = self.monitor.take() else { return };
        if m.conference.is_some() {
            self.media.leave_conference();
            if let Some(a) = self.talking_media() {
                a.leave_conference();
            }
        }
        let label = m.phone.leg_label();
        m.phone.close(self.env.endpoint.get(), None);
        self.record(Event::LegState {
            leg: label,
            target: format!("supervisor:{}", m.supervisor),
            state: format!("ended:{why}"),
            status: None,
        });
    }
}
