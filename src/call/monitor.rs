//! A supervisor on a connected call: their registered phone is rung, and once they answer the
//! caller, the agent and the supervisor meet in a conference (the media mixer) where the
//! supervisor's role says who hears them — nobody (listen), the agent only (whisper) or both
//! (barge). The caller ⇄ agent bridge stays underneath and carries the call again when the
//! supervisor leaves. Changing mode on the supervisor page changes the role at once, without
//! ringing again.

use super::agent_side::{accept_phone_answer, PhoneDial};
use super::ivr_call::IvrCall;
use crate::desk::MonitorMode;
use crate::events::Event;
use crate::media::{Conference, Role};
use crate::sip::leg::LegEvent;

/// The supervisor's leg on this call.
pub(super) struct MonitorLeg {
    pub supervisor: String,
    pub mode: MonitorMode,
    pub phone: PhoneDial,
    pub conference: Option<Conference>,
}

impl MonitorLeg {
    /// The next event on the supervisor's phone leg (pends once the leg is gone).
    pub async fn next_event(&mut self) -> LegEvent {
        match self.phone.events.recv().await {
            Some((_, ev)) => ev,
            None => std::future::pending().await,
        }
    }
}

/// Who hears the supervisor in `mode`; `agent` is the agent's media session id.
pub(super) fn role_for(mode: MonitorMode, agent: u64) -> Role {
    match mode {
        MonitorMode::Listen => Role::Listen,
        MonitorMode::Whisper => Role::Whisper { to: agent },
        MonitorMode::Barge | MonitorMode::Stop => Role::Participant,
    }
}

impl IvrCall {
    /// A supervisor asks to listen, whisper, barge in or stop on this (answered) call.
    pub(super) async fn monitor(&mut self, supervisor: String, mode: MonitorMode) {
        if mode == MonitorMode::Stop {
            if self
                .monitor
                .as_ref()
                .is_some_and(|m| m.supervisor == supervisor)
            {
                self.end_monitor("stopped");
            }
            return;
        }
        if let Some(m) = self.monitor.as_mut() {
            if m.supervisor != supervisor {
                tracing::info!(call_id = %self.call_id, %supervisor, busy = %m.supervisor, "call already monitored by another supervisor");
                return;
            }
            m.mode = mode;
            if let (Some(conf), Some(agent)) = (&m.conference, &self.agent) {
                conf.set_role(&m.phone.media, role_for(mode, agent.media.id()));
            }
            let leg = m.phone.leg.leg.to_string();
            self.record(Event::LegState {
                leg,
                target: format!("supervisor:{supervisor}"),
                state: mode.name().to_string(),
                status: None,
            });
            return;
        }
        let binding = self
            .manager
            .endpoint
            .get()
            .and_then(|ep| ep.registered_phone(&supervisor));
        let Some(b) = binding else {
            tracing::info!(call_id = %self.call_id, %supervisor, "supervisor has no registered phone to monitor with");
            return;
        };
        let Some(phone) = self.dial_phone(&supervisor, &b, "supervisor").await else {
            return;
        };
        self.record(Event::LegState {
            leg: phone.leg.leg.to_string(),
            target: format!("supervisor:{supervisor}"),
            state: "calling".into(),
            status: None,
        });
        self.monitor = Some(MonitorLeg {
            supervisor,
            mode,
            phone,
            conference: None,
        });
    }

    /// What the supervisor's phone did.
    pub(super) fn monitor_event(&mut self, ev: LegEvent) {
        let Some(m) = self.monitor.as_mut() else {
            return;
        };
        match ev {
            LegEvent::Answered { sdp } => {
                accept_phone_answer(sdp.as_deref(), &m.phone.local, &m.phone.media);
                let Some(agent) = self.agent.as_ref().filter(|a| a.answered) else {
                    return self.end_monitor("agent_gone");
                };
                let conf = Conference::new();
                self.media.join_conference(&conf, Role::Participant);
                agent.media.join_conference(&conf, Role::Participant);
                m.phone
                    .media
                    .join_conference(&conf, role_for(m.mode, agent.media.id()));
                m.conference = Some(conf);
                let (leg, who, mode) = (
                    m.phone.leg.leg.to_string(),
                    format!("supervisor:{}", m.supervisor),
                    m.mode.name(),
                );
                self.record(Event::LegState {
                    leg,
                    target: who,
                    state: mode.to_string(),
                    status: Some(200),
                });
            }
            LegEvent::Failed { .. } => self.end_monitor("no_answer"),
            LegEvent::Ended { .. } | LegEvent::Cancelled => self.end_monitor("ended"),
            _ => {}
        }
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
            if let Some(a) = &self.agent {
                a.media.leave_conference();
            }
        }
        if let Some(ep) = self.manager.endpoint.get() {
            ep.hangup(m.phone.leg);
        }
        m.phone.media.close();
        self.record(Event::LegState {
            leg: m.phone.leg.leg.to_string(),
            target: format!("supervisor:{}", m.supervisor),
            state: format!("ended:{why}"),
            status: None,
        });
    }
}
