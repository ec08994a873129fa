//! Carrying out what the call's machine decided ([`machine::Action`]): media (music, prompts,
//! bridge, recording), the SIP endpoint (ring, cancel, hang up), the router, the agents'
//! pages and the store. Nothing here waits: set-ups that must are spawned (see
//! [`super::agent_io`]) and report back on the call's `done` channel.

use super::agent_io::{self, AgentLeg, Done, PhoneDial};
use super::driver::CallTask;
use super::machine::{self, Action, LegId, Role, Withdrawn};
use crate::acd::service::OutcomeCause;
use crate::acd::types::OutcomeKind;
use crate::desk::protocol::{CallView, OfferView, WebRtcOffer};
use crate::events::{now_ms, Event};

/// RFC 3326: a CANCEL because another phone took the call, so phones log no missed call.
pub const COMPLETED_ELSEWHERE: &str = "SIP;cause=200;text=\"Call completed elsewhere\"";

impl CallTask {
    pub(super) fn perform(&mut self, action: Action) {
        match action {
            Action::FindTicket => self.find_ticket(),
            Action::EnterRouter => self.enter_router(),
            Action::Pop => self.build_pop(),
            Action::Ring { leg, role } => self.ring(leg, role),
            Action::ShowOffer { leg, agent } => self.show_offer(leg, &agent),
            Action::Cancel { leg, why } => self.cancel_leg(leg, why),
            Action::HangUpLeg { leg } => self.hang_up_leg(leg),
            Action::Connect { leg, agent } => self.connect(leg, &agent),
            Action::EndAgentPart { leg, by } => self.end_agent_part(leg, by),
            Action::JoinMonitor { leg } => self.join_monitor(leg),
            Action::Router(input) => self.tell_router(input),
            Action::IvrAgentHungUp => {
                self.cues = None;
                self.step(crate::ivr::engine::Input::AgentHungUp);
            }
            Action::PlayPrompt(tag) => self.play_outcome_prompt(tag),
            Action::Record { .. } => self.start_voicemail(),
            Action::StopRecording => self.media.stop_recording(),
            Action::OutcomeDecided { kind, cause } => self.outcome_decided(kind, cause),
            Action::HangUpCaller { cause } => self.hangup(cause),
            Action::Abandoned => self.abandoned(),
        }
    }

    /// Work spawned earlier has finished.
    pub(super) fn done(&mut self, done: Done) {
        match done {
            Done::Ticket(ticket) => {
                if let (Some(j), Some(t)) = (self.joining.as_mut(), ticket) {
                    tracing::info!(call_id = %self.call_id, owner = ?t.owner, priority = t.priority, sla_breached = t.sla_breached, "queued with the caller's ticket");
                    j.ticket = Some(t);
                }
                self.feed(machine::Input::TicketKnown);
            }
            Done::Pop(pop) => {
                if let Some(c) = pop.as_ref().and_then(|p| p.contact.as_ref()) {
                    self.facts.contact_id = Some(c.id.clone());
                }
                self.pop = pop.map(|p| *p);
                self.feed(machine::Input::PopReady);
            }
            Done::Rung { leg, result } => {
                self.opening.remove(&leg);
                let supervisor = matches!(self.machine.legs().role(leg), Some(Role::Supervisor(_)));
                let result = match result {
                    Ok(a) if supervisor => {
                        self.monitor_rung(leg, a);
                        Ok(())
                    }
                    Ok(a) => {
                        if let Some(phone) = a.phone() {
                            self.record_leg(&a, phone.leg.to_string(), "calling", None);
                        }
                        self.agents.insert(leg, a);
                        Ok(())
                    }
                    Err(e) => {
                        tracing::info!(call_id = %self.call_id, leg, error = %e, "leg not set up");
                        Err(e)
                    }
                };
                self.feed(machine::Input::RingStarted { leg, result });
            }
            Done::BrowserAnswered { leg, result } => self.browser_answered(leg, result),
            Done::Reoffered { leg, result } => self.reoffered(leg, result),
            Done::Reattached { leg, result } => self.reattached(leg, result),
            Done::Leg(leg, ev) => self.agent_event(leg, ev),
        }
    }

    fn find_ticket(&mut self) {
        let crm = self.env.ivr.as_ref().and_then(|p| p.crm.clone());
        let (Some(crm), Some(q)) = (crm, self.queued.as_ref()) else {
            let _ = self.done_tx.send(Done::Ticket(None));
            return;
        };
        let caller = self.caller.clone();
        let typed = q.ticket.clone();
        let done = self.done_tx.clone();
        tokio::spawn(async move {
            let ticket = crm.routing_ticket(&caller, typed.as_deref()).await;
            let now = now_ms();
            let _ = done.send(Done::Ticket(
                ticket.map(|t| super::queue_side::ticket_info(&t, now)),
            ));
        });
    }

    fn enter_router(&mut self) {
        let (Some(call), Some(router)) = (self.joining.take(), self.router().cloned()) else {
            return;
        };
        self.cues = Some(router.queue(call));
    }

    fn build_pop(&mut self) {
        let Some(crm) = self.env.ivr.as_ref().and_then(|p| p.crm.clone()) else {
            let _ = self.done_tx.send(Done::Pop(None));
            return;
        };
        let req = self.pop_request();
        let done = self.done_tx.clone();
        tokio::spawn(async move {
            let pop = crm.pop(&req).await;
            let _ = done.send(Done::Pop(Some(Box::new(pop))));
        });
    }

    /// The pop request for this call as it stands.
    fn pop_request(&self) -> crate::crm::PopRequest {
        let q = self.queued.as_ref();
        let now = now_ms();
        crate::crm::PopRequest {
            caller: self.caller.clone(),
            account: q.and_then(|q| q.vars.get("account").cloned()),
            ticket: q.and_then(|q| q.ticket.clone()),
            ivr: self.facts.ivr.clone(),
            wait_secs: self.facts.since_arrival_secs(now),
            now_ms: now,
            region: self.facts.region.clone(),
        }
    }

    /// Ring an agent's phone (or page) or a supervisor's phone: the media is opened here, the
    /// dial or the WebRTC leg in a task of its own.
    fn ring(&mut self, leg: LegId, role: Role) {
        self.opening.insert(leg);
        let done = self.done_tx.clone();
        let fail = |e: &str| {
            let _ = done.send(Done::Rung {
                leg,
                result: Err(e.to_string()),
            });
        };
        let (user, kind) = match role {
            Role::Agent(a) => (a, "agent"),
            Role::Supervisor(s) => (s, "supervisor"),
            Role::Caller => return fail("the caller is not rung"),
        };
        let (Some(ep), Some(parts)) = (self.env.endpoint.get().cloned(), self.env.ivr.as_ref())
        else {
            return fail("no endpoint");
        };
        let binding = ep.registered_phone(&user);
        let browser = kind == "agent"
            && binding.is_none()
            && parts.webrtc.is_some()
            && self.desk().is_some_and(|d| d.has_page(&user));
        if binding.is_none() && !browser {
            tracing::info!(call_id = %self.call_id, %user, kind, "neither a registered phone nor an open page");
            return fail("neither a registered phone nor an open page");
        }
        let label = if browser { "browser" } else { kind };
        let opts = crate::media::SessionOptions {
            label: format!("{}/{label}", self.call_id),
            ..Default::default()
        };
        let media = match parts.media.open_near(&self.media, opts) {
            Ok((m, _rx)) => m,
            Err(e) => return fail(&format!("no RTP session: {e}")),
        };
        let offered_ms = now_ms();
        match (binding, parts.webrtc.clone()) {
            (Some(b), _) => {
                let dial = PhoneDial {
                    ep,
                    user,
                    contact: b.contact.clone(),
                    source: b.source,
                    from_user: self.caller_user(),
                    domain: self.env.settings.sip.domain.clone(),
                    media,
                    offered_ms,
                };
                tokio::spawn(async move {
                    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
                    let result = dial.dial(tx).await;
                    let ok = result.is_ok();
                    let _ = done.send(Done::Rung { leg, result });
                    if ok {
                        // After `Rung`, on the same channel: the leg is known by then.
                        agent_io::forward_phone(leg, rx, done);
                    }
                });
            }
            (None, Some(gw)) => {
                let label = format!("{}/{user}", self.call_id);
                tokio::spawn(async move {
                    let result = agent_io::open_browser(gw, label, user, media, offered_ms).await;
                    let rtc = match &result {
                        Ok(AgentLeg {
                            path: agent_io::AgentPath::Browser { rtc, .. },
                            ..
                        }) => Some(rtc.clone()),
                        _ => None,
                    };
                    let _ = done.send(Done::Rung { leg, result });
                    if let Some(rtc) = rtc {
                        agent_io::forward_browser(leg, &rtc, done);
                    }
                });
            }
            (None, None) => {
                media.close();
                fail("no WebRTC gateway");
            }
        }
    }

    fn caller_user(&self) -> String {
        if self.caller.is_empty() {
            "anonymous".into()
        } else {
            self.caller.clone()
        }
    }

    /// The agent's phone or page rings: record it and show the offer with its pop.
    fn show_offer(&mut self, leg: LegId, agent: &str) {
        let Some(a) = self.agents.get(&leg) else {
            return;
        };
        let webrtc = match &a.path {
            agent_io::AgentPath::Browser { sdp, rtc, .. } => {
                let label = format!("webrtc:{}", rtc.label());
                self.record(Event::LegState {
                    leg: label,
                    target: format!("agent:{agent}"),
                    state: "calling".into(),
                    status: None,
                });
                Some(WebRtcOffer { sdp: sdp.clone() })
            }
            agent_io::AgentPath::Phone { .. } => None,
        };
        self.record(Event::CallOffered {
            agent: agent.to_string(),
            queue: self.facts.queue.clone().unwrap_or_default(),
        });
        let (Some(desk), Some(pop)) = (self.desk().cloned(), self.pop.clone()) else {
            return;
        };
        let ring_secs = self.rings.get(agent).map_or(0.0, |d| d.as_secs_f64());
        desk.offer(
            agent,
            OfferView {
                call_id: self.call_id.clone(),
                caller: pop.caller.clone(),
                queue: self.facts.queue.clone().unwrap_or_default(),
                wait_secs: self.facts.since_arrival_secs(now_ms()),
                ring_secs,
                pop,
                webrtc,
            },
            self.desk_tx.clone(),
        );
    }

    pub(super) fn record_leg(&self, a: &AgentLeg, leg: String, state: &str, status: Option<u16>) {
        let who = match self.machine.legs().find(&Role::Supervisor(a.user.clone())) {
            Some(_) => format!("supervisor:{}", a.user),
            None => format!("agent:{}", a.user),
        };
        self.record(Event::LegState {
            leg,
            target: who,
            state: state.to_string(),
            status,
        });
    }

    /// Take an unanswered leg down and withdraw its offer from the page.
    fn cancel_leg(&mut self, leg: LegId, why: Withdrawn) {
        let role = self.machine.legs().role(leg).cloned();
        if let Some(Role::Supervisor(_)) = role {
            return self.hang_up_leg(leg);
        }
        if let Some(a) = self.agents.remove(&leg) {
            let reason = (why == Withdrawn::AnsweredElsewhere).then(|| COMPLETED_ELSEWHERE.into());
            a.close(self.env.endpoint.get(), reason);
        }
        if let (Some(Role::Agent(agent)), Some(d)) = (role, self.desk()) {
            d.withdraw(&agent, &self.call_id, why.name(), why.words());
        }
    }

    /// Take an answered (or unwanted) leg down.
    fn hang_up_leg(&mut self, leg: LegId) {
        if self.monitor.as_ref().is_some_and(|m| m.leg == leg) {
            self.end_monitor("ended");
            return;
        }
        if let Some(a) = self.agents.remove(&leg) {
            a.close(self.env.endpoint.get(), None);
        }
    }

    /// The agent answered (phone 200 OK, or the browser's SDP answer accepted): bridge the
    /// caller to them and show the call on their page.
    fn connect(&mut self, leg: LegId, agent: &str) {
        let Some(a) = self.agents.get(&leg) else {
            return;
        };
        let now = now_ms();
        self.facts.answered_ms = Some(now);
        self.facts.offered_ms = Some(a.offered_ms);
        self.facts.agent = Some(agent.to_string());
        let label = a.leg_label();
        let webrtc = match &a.path {
            agent_io::AgentPath::Browser { sdp, .. } => Some(WebRtcOffer { sdp: sdp.clone() }),
            agent_io::AgentPath::Phone { .. } => None,
        };
        self.media.stop_music();
        self.media.stop_playback();
        self.media.bridge(&a.media);
        self.start_call_recording(agent);
        if self.held {
            self.apply_phone_hold();
        }
        self.record(Event::LegState {
            leg: label,
            target: format!("agent:{agent}"),
            state: "answered".into(),
            status: Some(200),
        });
        let queue = self.facts.queue.clone().unwrap_or_default();
        self.record(Event::CallConnected {
            agent: agent.to_string(),
            queue: queue.clone(),
            wait_ms: self.facts.queued_ms.map_or(0, |q| now - q),
        });
        if let (Some(desk), Some(pop)) = (self.desk().cloned(), self.pop.clone()) {
            desk.connected(
                agent,
                CallView {
                    call_id: self.call_id.clone(),
                    caller: pop.caller.clone(),
                    queue,
                    arrived_ms: self.facts.arrived_ms,
                    answered_ms: now,
                    held: false,
                    muted: false,
                    pop,
                    webrtc,
                },
            );
        }
    }

    /// The agent's part of an answered call is over (`by` the agent, the caller, a transfer):
    /// close the agent's side, record it, and hand the interaction to the agent's page for
    /// wrap-up.
    fn end_agent_part(&mut self, leg: LegId, by: &'static str) {
        let Some(a) = self.agents.remove(&leg) else {
            return;
        };
        self.media.unbridge();
        self.stop_call_recording();
        if std::mem::take(&mut self.agent_held) && !self.held {
            self.media.set_hold(false);
        }
        let agent = a.user.clone();
        self.record(Event::LegState {
            leg: a.leg_label(),
            target: format!("agent:{agent}"),
            state: "ended".into(),
            status: None,
        });
        a.close(self.env.endpoint.get(), None);
        let now = now_ms();
        let interaction = self.facts.interaction(&self.call_id, &self.caller, now);
        self.record(Event::CallAgentEnded {
            agent: agent.clone(),
            queue: self.facts.queue.clone().unwrap_or_default(),
            talk_ms: interaction.talk_ms,
            hold_ms: interaction.hold_ms,
            by: by.to_string(),
        });
        self.interaction_saved = true;
        match self.desk().cloned() {
            Some(desk) => desk.call_ended(&agent, by, interaction),
            None => self.save_interaction(interaction),
        }
    }

    /// The caller left before an agent answered: store the abandoned call's interaction.
    fn abandoned(&mut self) {
        if self.facts.queued_ms.is_none() || self.interaction_saved || self.callback.is_booked() {
            return;
        }
        let i = self
            .facts
            .interaction(&self.call_id, &self.caller, now_ms());
        if i.abandoned {
            self.record(Event::CallAbandoned {
                queue: self.facts.queue.clone().unwrap_or_default(),
                wait_ms: i.wait_ms,
            });
        }
        self.interaction_saved = true;
        self.save_interaction(i);
    }

    /// Store an interaction without a wrap-up (abandoned calls, no agent pages).
    pub(super) fn save_interaction(&self, i: crate::crm::model::Interaction) {
        store_interaction(&self.env, i);
    }

    fn play_outcome_prompt(&mut self, tag: machine::PromptTag) {
        self.media.stop_music();
        self.media.stop_playback();
        let lang = self
            .queued
            .as_ref()
            .map(|q| q.language.clone())
            .unwrap_or_else(|| self.ivr.language().to_string());
        let prompt = self
            .env
            .prompts
            .get(&lang, tag.prompt())
            .or_else(|| self.env.prompts.get(self.ivr.language(), tag.prompt()));
        let list: Vec<_> = prompt.into_iter().collect();
        if list.is_empty() {
            tracing::warn!(call_id = %self.call_id, prompt = tag.prompt(), %lang, "prompt missing");
        }
        // An empty list ends at once, so the machine goes on.
        let id = self.media.play(list, false);
        self.own_plays.insert(id, tag);
    }

    fn outcome_decided(&mut self, kind: OutcomeKind, cause: OutcomeCause) {
        let queue = self.facts.queue.clone().unwrap_or_default();
        let outcome = match kind {
            OutcomeKind::Voicemail => "voicemail",
            OutcomeKind::Busy => "busy",
            OutcomeKind::Callback => "callback",
        };
        tracing::info!(call_id = %self.call_id, %queue, outcome, cause = cause.name(), "the router decided the call's outcome");
        self.cues = None;
        self.record(Event::CallOutcome {
            queue,
            outcome: outcome.to_string(),
            cause: cause.name().to_string(),
        });
    }
}

/// Store an interaction without a wrap-up (abandoned calls, callbacks that failed, no agent
/// pages), off the call's path; a database outage only delays it.
pub(super) fn store_interaction(manager: &super::env::CallEnv, i: crate::crm::model::Interaction) {
    let Some(crm) = manager.ivr.as_ref().and_then(|p| p.crm.clone()) else {
        return;
    };
    tokio::spawn(async move {
        let mut delay = std::time::Duration::from_millis(500);
        for _ in 0..8 {
            match crm.save(&i, None, now_ms()).await {
                Ok(_) => return,
                Err(e) => {
                    tracing::warn!(call_id = %i.call_id, error = %e, "interaction not stored yet; retrying");
                    tokio::time::sleep(delay).await;
                    delay = (delay * 2).min(std::time::Duration::from_secs(30));
                }
            }
        }
        tracing::error!(call_id = %i.call_id, "interaction given up after retries");
    });
}
