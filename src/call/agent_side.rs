//! What the agents' legs and pages report about a queued call, turned into inputs for the
//! call's machine: a phone rings, answers, refuses or hangs up; a browser connects, answers
//! or goes away; a page rejects, hangs up, holds, mutes, sends DTMF, transfers, or a
//! supervisor asks to monitor. Media-only requests (hold, mute, DTMF) are carried out here.

use super::agent_io::{self, AgentEvent, AgentPath, Done};
use super::driver::CallTask;
use super::machine::{self, LegGoneWhy, LegId, LegPhase};
use crate::desk::DeskCommand;
use crate::events::{now_ms, Event};
use crate::sip::leg::LegEvent;

impl CallTask {
    /// An event on an agent's or supervisor's leg.
    pub(super) fn agent_event(&mut self, leg: LegId, ev: AgentEvent) {
        if self.monitor.as_ref().is_some_and(|m| m.leg == leg) {
            return self.monitor_event(leg, ev);
        }
        let answered = self.machine.legs().phase(leg) == Some(LegPhase::Answered);
        let Some(a) = self.agents.get(&leg) else {
            // Already closed: only its answer matters (the machine hangs it up).
            if let AgentEvent::Sip(e) = &ev {
                if matches!(**e, LegEvent::Answered { .. }) {
                    self.feed(machine::Input::LegAnswered { leg });
                }
            }
            return;
        };
        let label = a.leg_label();
        match ev {
            AgentEvent::Sip(e) => match *e {
                LegEvent::Ringing { status, .. } => {
                    self.record_leg(a, label, "ringing", Some(status));
                }
                LegEvent::Answered { sdp } => {
                    if let AgentPath::Phone { local, .. } = &a.path {
                        agent_io::accept_phone_answer(sdp.as_deref(), local, &a.media);
                    }
                    self.feed(machine::Input::LegAnswered { leg });
                }
                LegEvent::ReInvite { sdp } => self.agent_reinvite(leg, sdp),
                LegEvent::Request { tx, request } => {
                    if let Some(phone) = a.phone() {
                        self.command_on(
                            phone.shard,
                            crate::sip::endpoint::Command::Respond(
                                tx,
                                super::env::in_dialog_response(&request),
                            ),
                        );
                    }
                }
                LegEvent::Failed { status, .. } => {
                    self.record_leg(a, label, "failed", Some(status));
                    self.feed(machine::Input::LegGone {
                        leg,
                        why: LegGoneWhy::Failed,
                    });
                }
                LegEvent::Ended { .. } | LegEvent::Cancelled => {
                    if !answered {
                        self.record_leg(a, label, "ended", None);
                    }
                    self.feed(machine::Input::LegGone {
                        leg,
                        why: LegGoneWhy::Ended,
                    });
                }
                // Our re-INVITEs' answers and auth need nothing here; a phone's ACK is `Confirmed`.
                LegEvent::Confirmed { .. }
                | LegEvent::NeedsAuth { .. }
                | LegEvent::ReInviteDone { .. } => {}
            },
            AgentEvent::BrowserConnected => {
                tracing::info!(call_id = %self.call_id, agent = %a.user, "browser audio connected");
            }
            AgentEvent::BrowserGone if !answered => {
                self.record_leg(a, label, "failed", None);
                self.feed(machine::Input::LegGone {
                    leg,
                    why: LegGoneWhy::Failed,
                });
            }
            AgentEvent::BrowserGone => {
                // A reload or a lost network: the call stays up; the page asks for a new
                // audio leg (`reoffer`) when it is back.
                tracing::info!(call_id = %self.call_id, agent = %a.user, "browser audio lost; waiting for the page to come back");
            }
        }
    }

    /// The leg of `agent`'s current offer or call, with whether it is answered.
    fn agent_leg(&self, agent: &str) -> Option<(LegId, bool)> {
        let leg = self
            .machine
            .legs()
            .find(&machine::Role::Agent(agent.to_string()))?;
        Some((
            leg,
            self.machine.legs().phase(leg) == Some(LegPhase::Answered),
        ))
    }

    /// A request from `agent`'s page about this call.
    pub(super) fn desk_command(&mut self, agent: String, cmd: DeskCommand) {
        let Some((leg, answered)) = self.agent_leg(&agent) else {
            tracing::info!(call_id = %self.call_id, %agent, ?cmd, "request from a page the call is not with");
            return;
        };
        let browser = self.agents.get(&leg).is_some_and(|a| a.is_browser());
        match cmd {
            DeskCommand::Answer { sdp: Some(sdp) } if browser => self.browser_answer(leg, sdp),
            DeskCommand::Reoffer if answered && browser => self.reoffer(leg),
            DeskCommand::Reject if !answered => {
                self.feed(machine::Input::DeskReject { agent });
            }
            DeskCommand::Hangup if answered => {
                // A phone's BYE comes back as the leg's end; a browser's call ends at once.
                match self.agents.get(&leg).and_then(|a| a.phone()) {
                    Some(phone) => {
                        if let Some(ep) = self.env.endpoint.get() {
                            ep.hangup(phone);
                        }
                    }
                    None => self.feed(machine::Input::DeskHangup { agent }),
                }
            }
            DeskCommand::Hold(on) if answered => self.page_hold(leg, &agent, on),
            DeskCommand::Mute(on) if answered => {
                if let Some(a) = self.agents.get_mut(&leg) {
                    a.media.set_mute(on);
                    a.muted = on;
                }
                if let Some(d) = self.desk() {
                    d.call_changed(&agent, &self.call_id, |c| c.muted = on);
                }
            }
            DeskCommand::Dtmf(digits) if answered => self.media.send_dtmf(&digits),
            DeskCommand::Transfer(to) if answered => self.transfer(&agent, to),
            DeskCommand::Monitor { supervisor, mode } if answered => self.monitor(supervisor, mode),
            other => {
                tracing::info!(call_id = %self.call_id, %agent, ?other, answered, "agent request not possible now");
            }
        }
    }

    /// The agent's page holds the caller (queue music) or takes them off hold.
    fn page_hold(&mut self, leg: LegId, agent: &str, on: bool) {
        let Some(a) = self.agents.get(&leg) else {
            return;
        };
        if on {
            self.media.unbridge();
            if let Some(m) = self.env.prompts.get("music", "hold") {
                self.media.start_music(vec![m]);
            }
        } else {
            self.media.stop_music();
            self.media.bridge(&a.media);
        }
        self.monitor_hold(on);
        self.facts.hold(on, now_ms());
        self.record(Event::CallHold { held: on });
        if let Some(d) = self.desk() {
            d.call_changed(agent, &self.call_id, |c| c.held = on);
        }
    }

    /// Blind transfer: the agent's part ends (they go to wrap-up) and the caller queues again
    /// — in another queue, or in the same one offered first to the named agent (the router's
    /// ticket-owner preference, for the queue's `ticket_owner_first_s`). External numbers ask
    /// the outbound gate; their legs are not built yet (see [`super::transfer`]).
    fn transfer(&mut self, agent: &str, to: crate::desk::protocol::TransferTarget) {
        use crate::desk::protocol::TransferTarget as T;
        let current = self.facts.queue.clone().unwrap_or_default();
        let (queue, owner) = match to {
            T::Queue(q) => (q, None),
            T::Agent(a) => (current, Some(a)),
            T::Number(n) => {
                self.agent_transfer_to_number(agent, n);
                return;
            }
        };
        let Some(router) = self.router().cloned() else {
            return;
        };
        if !self.machine.transfer() {
            return;
        }
        self.perform_machine();
        let now = now_ms();
        let f = &mut self.facts;
        f.queue = Some(queue.clone());
        f.queued_ms = Some(now);
        f.offered_ms = None;
        f.answered_ms = None;
        f.agent = None;
        f.hold_ms = 0;
        f.hold_since = None;
        self.interaction_saved = false;
        self.pop = None;
        self.record(Event::CallQueued {
            queue: queue.clone(),
            skills: Default::default(),
            priority: 0,
            language: self.facts.ivr.language.clone().unwrap_or_default(),
            ticket: self.facts.ticket.clone(),
            tags: vec!["transfer".into()],
        });
        if let Some(m) = self.env.prompts.get("music", "hold") {
            self.media.start_music(vec![m]);
        }
        self.cues = Some(router.queue(crate::acd::router::QueuedCall {
            call: crate::acd::types::CallId::from(self.call_id.as_str()),
            queue,
            language: self.facts.ivr.language.clone().filter(|l| !l.is_empty()),
            ticket: owner.map(|o| crate::acd::router::TicketInfo {
                owner: Some(crate::acd::types::AgentId::from(o.as_str())),
                ..Default::default()
            }),
            ..Default::default()
        }));
    }

    /// The page's SDP answer to the offer: accepted by the WebRTC leg in a task of its own.
    fn browser_answer(&mut self, leg: LegId, answer: String) {
        let Some(a) = self.agents.get(&leg) else {
            return;
        };
        let AgentPath::Browser {
            rtc, replacement, ..
        } = &a.path
        else {
            return;
        };
        let pcmu = agent_io::prefers_pcmu(&answer);
        let done = self.done_tx.clone();
        if self.machine.legs().phase(leg) == Some(LegPhase::Answered) {
            // The answer for a replacement leg after a reload.
            let Some((new, _)) = replacement.clone() else {
                return;
            };
            tokio::spawn(async move {
                let result = new.accept_answer(&answer).await.map(|()| pcmu);
                let _ = done.send(Done::Reattached {
                    leg,
                    result: result.map_err(|e| e.to_string()),
                });
            });
            return;
        }
        let rtc = rtc.clone();
        tokio::spawn(async move {
            let result = rtc.accept_answer(&answer).await.map(|()| pcmu);
            let _ = done.send(Done::BrowserAnswered {
                leg,
                result: result.map_err(|e| e.to_string()),
            });
        });
    }

    pub(super) fn browser_answered(&mut self, leg: LegId, result: Result<bool, String>) {
        match result {
            Ok(pcmu) => {
                if let Some(a) = self.agents.get(&leg) {
                    if let AgentPath::Browser { rtc, .. } = &a.path {
                        a.media
                            .set_remote(agent_io::browser_media(rtc.rtp_addr(), pcmu));
                    }
                }
                self.feed(machine::Input::LegAnswered { leg });
            }
            Err(e) => {
                tracing::warn!(call_id = %self.call_id, leg, error = %e, "browser answer refused");
                self.feed(machine::Input::LegGone {
                    leg,
                    why: LegGoneWhy::Failed,
                });
            }
        }
    }

    /// The page lost its audio during the call (reload): offer a fresh WebRTC leg toward the
    /// same RTP session; the bridge to the caller is untouched.
    fn reoffer(&mut self, leg: LegId) {
        let Some(gw) = self.env.ivr.as_ref().and_then(|p| p.webrtc.clone()) else {
            return;
        };
        let Some(a) = self.agents.get(&leg) else {
            return;
        };
        let label = format!("{}/{}/again", self.call_id, a.user);
        let addr = a.media.local_addr();
        let done = self.done_tx.clone();
        tokio::spawn(async move {
            let result = gw.open(&label, addr).await.map_err(|e| e.to_string());
            let _ = done.send(Done::Reoffered { leg, result });
        });
    }

    pub(super) fn reoffered(
        &mut self,
        leg: LegId,
        result: Result<(crate::webrtc::WebRtcLeg, String), String>,
    ) {
        let (new, sdp) = match result {
            Ok(x) => x,
            Err(e) => {
                tracing::warn!(call_id = %self.call_id, error = %e, "no replacement WebRTC leg");
                return;
            }
        };
        let Some(a) = self.agents.get_mut(&leg) else {
            tokio::spawn(async move { new.close().await });
            return;
        };
        if let AgentPath::Browser { replacement, .. } = &mut a.path {
            if let Some((old, _)) = replacement.replace((new, sdp.clone())) {
                tokio::spawn(async move { old.close().await });
            }
        }
        let agent = a.user.clone();
        if let Some(d) = self.desk() {
            d.call_changed(&agent, &self.call_id, |c| {
                c.webrtc = Some(crate::desk::protocol::WebRtcOffer { sdp })
            });
        }
    }

    /// The page answered the replacement leg: it carries the agent's audio from now on.
    pub(super) fn reattached(&mut self, leg: LegId, result: Result<bool, String>) {
        let forward = self.done_tx.clone();
        let Some(a) = self.agents.get_mut(&leg) else {
            return;
        };
        let AgentPath::Browser {
            rtc,
            sdp,
            replacement,
        } = &mut a.path
        else {
            return;
        };
        let Some((new, new_sdp)) = replacement.take() else {
            return;
        };
        match result {
            Ok(pcmu) => {
                a.media
                    .set_remote(agent_io::browser_media(new.rtp_addr(), pcmu));
                agent_io::forward_browser(leg, &new, forward);
                let old = std::mem::replace(rtc, new);
                *sdp = new_sdp;
                tokio::spawn(async move { old.close().await });
                tracing::info!(call_id = %self.call_id, agent = %a.user, "browser audio re-attached");
            }
            Err(e) => {
                tracing::warn!(call_id = %self.call_id, error = %e, "replacement answer refused");
                tokio::spawn(async move { new.close().await });
            }
        }
    }
}
