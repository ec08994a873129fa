//! The agent side of a queued call: the router's offers ring the agent's phone (and show the
//! offer with its screen-pop on the agent's page), the answer bridges the two RTP sessions, the
//! agent's page controls the call (reject, hang up, hold, mute, DTMF), and when the agent's part
//! ends the call's interaction goes to the page for wrap-up.

use super::agent_leg::{AgentEvent, AgentLeg, AgentPath};
use super::ivr_call::IvrCall;
use crate::acd::router::Input as RouterInput;
use crate::acd::types::CallId;
use crate::desk::protocol::{CallView, OfferView, WebRtcOffer};
use crate::desk::DeskCommand;
use crate::events::{now_ms, Event};
use crate::ivr::engine::Input;
use crate::sip::leg::{LegEvent, OutgoingCall};
use crate::sip::message::{NameAddr, Uri};
use crate::sip::sdp_negotiate::LocalMedia;
use std::time::Duration;
use tokio::sync::mpsc::unbounded_channel;

impl IvrCall {
    pub(super) fn router(&self) -> Option<&super::routing::RouterHandle> {
        self.manager.ivr.as_ref().and_then(|p| p.router.as_ref())
    }

    pub(super) fn desk(&self) -> Option<&std::sync::Arc<crate::desk::Desk>> {
        self.manager.ivr.as_ref().and_then(|p| p.desk.as_ref())
    }

    pub(super) fn tell_router(&self, input: RouterInput) {
        if let Some(r) = self.router() {
            r.send(input);
        }
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
            wait_secs: self.facts.wait_secs(now),
            now_ms: now,
        }
    }

    /// The router offers this call to `agent`: build the screen-pop, ring the agent's registered
    /// phone with an offer for an RTP session beside the caller's, and show the offer on the
    /// agent's page.
    pub(super) async fn offer(&mut self, agent: String, ring: Duration) {
        let call = CallId::from(self.call_id.as_str());
        let reject = |me: &Self| {
            me.tell_router(RouterInput::OfferRejected {
                call: call.clone(),
                agent: super::routing::agent_id(&agent),
            })
        };
        let Some(ep) = self.manager.endpoint.get().cloned() else {
            return reject(self);
        };
        let binding = ep.registered_phone(&agent);
        let Some(parts) = self.manager.ivr.as_ref() else {
            return reject(self);
        };
        let browser = binding.is_none()
            && parts.webrtc.is_some()
            && self.desk().is_some_and(|d| d.has_page(&agent));
        if binding.is_none() && !browser {
            tracing::info!(call_id = %self.call_id, %agent, "offered agent has neither a registered phone nor an open page");
            return reject(self);
        }
        let pop = match parts.crm.as_ref() {
            Some(crm) => Some(crm.pop(&self.pop_request()).await),
            None => None,
        };
        if let Some(c) = pop.as_ref().and_then(|p| p.contact.as_ref()) {
            self.facts.contact_id = Some(c.id.clone());
        }
        let Some(b) = binding else {
            return self.offer_browser(agent, ring, pop).await;
        };
        let Some(phone) = self.dial_phone(&agent, &b, "agent").await else {
            return reject(self);
        };
        let offered = now_ms();
        self.offered(&agent, phone.leg.leg.to_string(), ring, pop.clone(), None);
        self.agent = Some(AgentLeg {
            id: agent,
            path: AgentPath::Phone {
                leg: phone.leg,
                local: phone.local,
                events: phone.events,
            },
            media: phone.media,
            answered: false,
            offered_ms: offered,
            pop,
            muted: false,
        });
    }

    /// Call `user`'s registered phone from the caller's number with an RTP session of its own
    /// beside the caller's (`role` names it in logs: agent, supervisor). None when the media or
    /// the SIP leg cannot be set up.
    pub(super) async fn dial_phone(
        &self,
        user: &str,
        b: &crate::sip::registrar::Binding,
        role: &str,
    ) -> Option<PhoneDial> {
        let ep = self.manager.endpoint.get()?;
        let parts = self.manager.ivr.as_ref()?;
        let opts = crate::media::SessionOptions {
            label: format!("{}/{role}", self.call_id),
            ..Default::default()
        };
        let (media, _media_rx) = parts.media.open_near(&self.media, opts).ok()?;
        let addr = media.local_addr();
        let local = LocalMedia::new(addr.ip(), addr.port());
        let sdp = crate::sip::sdp_negotiate::offer(&local).to_string();
        let domain = &self.manager.settings.sip.domain;
        let (Ok(uri), Ok(from), Ok(to)) = (
            Uri::parse(&b.contact),
            NameAddr::parse(&format!("<sip:{}@{domain}>", self.caller_user())),
            NameAddr::parse(&format!("<sip:{user}@{domain}>")),
        ) else {
            media.close();
            return None;
        };
        let (tx, events) = unbounded_channel();
        let out = OutgoingCall {
            target: b.source,
            uri,
            from,
            to,
            sdp: Some(sdp.into()),
            headers: vec![],
        };
        match ep.call(out, tx).await {
            Ok(leg) => Some(PhoneDial {
                leg,
                local,
                events,
                media,
            }),
            Err(e) => {
                tracing::info!(call_id = %self.call_id, %user, error = %e, "phone not called");
                media.close();
                None
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

    /// The agent's phone or browser is being offered the call: record it and show it on the
    /// agent's page.
    fn offered(
        &self,
        agent: &str,
        leg: String,
        ring: Duration,
        pop: Option<crate::crm::model::Pop>,
        webrtc: Option<WebRtcOffer>,
    ) {
        self.record(Event::LegState {
            leg,
            target: format!("agent:{agent}"),
            state: "calling".into(),
            status: None,
        });
        self.record(Event::CallOffered {
            agent: agent.to_string(),
            queue: self.facts.queue.clone().unwrap_or_default(),
        });
        self.show_offer(agent, ring, pop, webrtc);
    }

    /// Show the offer (with its pop) on the agent's page.
    fn show_offer(
        &self,
        agent: &str,
        ring: Duration,
        pop: Option<crate::crm::model::Pop>,
        webrtc: Option<WebRtcOffer>,
    ) {
        let (Some(desk), Some(pop)) = (self.desk().cloned(), pop) else {
            return;
        };
        desk.offer(
            agent,
            OfferView {
                call_id: self.call_id.clone(),
                caller: pop.caller.clone(),
                queue: self.facts.queue.clone().unwrap_or_default(),
                wait_secs: self.facts.wait_secs(now_ms()),
                ring_secs: ring.as_secs_f64(),
                pop,
                webrtc,
            },
            self.desk_tx.clone(),
        );
    }

    /// Offer the call to the agent's browser: a WebRTC leg of the gateway, bridged as plain RTP
    /// to an RTP session beside the caller's; the page answers with its SDP.
    async fn offer_browser(
        &mut self,
        agent: String,
        ring: Duration,
        pop: Option<crate::crm::model::Pop>,
    ) {
        let call = CallId::from(self.call_id.as_str());
        let reject = |me: &Self| {
            me.tell_router(RouterInput::OfferRejected {
                call: call.clone(),
                agent: super::routing::agent_id(&agent),
            })
        };
        let Some((gw, engine)) = self
            .manager
            .ivr
            .as_ref()
            .and_then(|p| p.webrtc.clone().map(|g| (g, p.media.clone())))
        else {
            return reject(self);
        };
        let opts = crate::media::SessionOptions {
            label: format!("{}/browser", self.call_id),
            ..Default::default()
        };
        let Ok((media, _rx)) = engine.open_near(&self.media, opts) else {
            return reject(self);
        };
        let (rtc, sdp) = match gw
            .open(&format!("{}/{agent}", self.call_id), media.local_addr())
            .await
        {
            Ok(x) => x,
            Err(e) => {
                tracing::warn!(call_id = %self.call_id, %agent, error = %e, "no WebRTC leg for the browser");
                media.close();
                return reject(self);
            }
        };
        media.set_remote(browser_media(rtc.rtp_addr(), true));
        let offered = now_ms();
        let webrtc = Some(WebRtcOffer { sdp: sdp.clone() });
        self.offered(
            &agent,
            format!("webrtc:{}", rtc.label()),
            ring,
            pop.clone(),
            webrtc,
        );
        let state = rtc.state();
        self.agent = Some(AgentLeg {
            id: agent,
            path: AgentPath::Browser {
                rtc,
                state,
                sdp,
                replacement: None,
            },
            media,
            answered: false,
            offered_ms: offered,
            pop,
            muted: false,
        });
    }

    pub(super) fn agent_event(&mut self, ev: AgentEvent) {
        let ev = match ev {
            AgentEvent::Sip(e) => Ok(*e),
            other => Err(other),
        };
        let Some(a) = self.agent.as_mut() else { return };
        let (label, leg) = (format!("agent:{}", a.id), a.leg_label());
        match ev {
            Ok(LegEvent::Ringing { status, .. }) => {
                self.record(Event::LegState {
                    leg,
                    target: label,
                    state: "ringing".into(),
                    status: Some(status),
                });
            }
            Ok(LegEvent::Answered { sdp }) => {
                if let AgentPath::Phone { local, .. } = &a.path {
                    accept_phone_answer(sdp.as_deref(), local, &a.media);
                }
                self.agent_answered(leg, label, 200);
            }
            Ok(LegEvent::ReInvite { sdp }) => self.agent_reinvite(sdp),
            Ok(LegEvent::Request { tx, request }) => {
                if let AgentPath::Phone { leg, .. } = &a.path {
                    let shard = leg.shard;
                    self.command_on(
                        shard,
                        crate::sip::endpoint::Command::Respond(
                            tx,
                            super::in_dialog_response(&request),
                        ),
                    );
                }
            }
            Ok(LegEvent::Failed { status, .. }) => {
                self.offer_failed("no-answer");
                self.record(Event::LegState {
                    leg,
                    target: label,
                    state: "failed".into(),
                    status: Some(status),
                });
            }
            Ok(LegEvent::Ended { .. } | LegEvent::Cancelled) => {
                let was_answered = a.answered;
                self.record(Event::LegState {
                    leg,
                    target: label,
                    state: "ended".into(),
                    status: None,
                });
                if was_answered {
                    self.agent_hung_up();
                } else {
                    self.offer_failed("no-answer");
                }
            }
            Err(AgentEvent::BrowserConnected) => {
                tracing::info!(call_id = %self.call_id, agent = %a.id, "browser audio connected");
            }
            Err(AgentEvent::BrowserGone) if !a.answered => {
                self.offer_failed("browser-gone");
                self.record(Event::LegState {
                    leg,
                    target: label,
                    state: "failed".into(),
                    status: None,
                });
            }
            Err(AgentEvent::BrowserGone) => {
                // A reload or a lost network: the call stays up; the page asks for a new
                // audio leg (`reoffer`) when it is back.
                tracing::info!(call_id = %self.call_id, agent = %a.id, "browser audio lost; waiting for the page to come back");
            }
            Ok(_) | Err(AgentEvent::Sip(_)) => {}
        }
    }

    /// The offer ended without an answer: free the agent's side, let the router go on.
    fn offer_failed(&mut self, reason: &str) {
        let Some(a) = self.agent.take() else { return };
        let agent = a.id.clone();
        a.close(self.manager.endpoint.get());
        if let Some(d) = self.desk() {
            d.withdraw(&agent, &self.call_id, reason);
        }
        self.tell_router(RouterInput::OfferRejected {
            call: CallId::from(self.call_id.as_str()),
            agent: super::routing::agent_id(&agent),
        });
    }

    /// The agent answered (phone 200 OK, or the browser's SDP answer accepted): bridge the
    /// caller to them and show the call on their page.
    fn agent_answered(&mut self, leg: String, label: String, status: u16) {
        let call = CallId::from(self.call_id.as_str());
        let Some(a) = self.agent.as_mut() else { return };
        a.answered = true;
        let now = now_ms();
        self.facts.answered_ms = Some(now);
        self.facts.offered_ms = Some(a.offered_ms);
        self.facts.agent = Some(a.id.clone());
        let agent_name = a.id.clone();
        let pop = a.pop.clone();
        let webrtc = match &a.path {
            AgentPath::Browser { sdp, .. } => Some(WebRtcOffer { sdp: sdp.clone() }),
            AgentPath::Phone { .. } => None,
        };
        self.media.stop_music();
        self.media.stop_playback();
        self.media.bridge(&a.media);
        self.start_call_recording(&agent_name);
        if self.held {
            self.apply_phone_hold();
        }
        self.tell_router(RouterInput::OfferAnswered {
            call,
            agent: super::routing::agent_id(&agent_name),
        });
        self.record(Event::LegState {
            leg,
            target: label,
            state: "answered".into(),
            status: Some(status),
        });
        let queue = self.facts.queue.clone().unwrap_or_default();
        self.record(Event::CallConnected {
            agent: agent_name.clone(),
            queue: queue.clone(),
            wait_ms: self.facts.queued_ms.map_or(0, |q| now - q),
        });
        if let (Some(desk), Some(pop)) = (self.desk().cloned(), pop) {
            desk.connected(
                &agent_name,
                CallView {
                    call_id: self.call_id.clone(),
                    caller: pop.caller.clone(),
                    queue,
                    answered_ms: now,
                    held: false,
                    muted: false,
                    pop,
                    webrtc,
                },
            );
        }
    }

    /// The agent hung up: the caller goes on to the survey, if the entry has one (the IVR hangs
    /// up otherwise).
    fn agent_hung_up(&mut self) {
        self.end_agent_part("agent");
        self.tell_router(RouterInput::CallEnded {
            call: CallId::from(self.call_id.as_str()),
        });
        self.cues = None;
        self.after_agent = true;
        self.step(Input::AgentHungUp);
    }

    /// The agent's part of an answered call is over (`by` the agent or the caller): close the
    /// agent's side, record it, and hand the interaction to the agent's page for wrap-up.
    fn end_agent_part(&mut self, by: &'static str) {
        self.end_monitor("agent_part_ended");
        let Some(a) = self.agent.take() else { return };
        self.media.unbridge();
        self.stop_call_recording();
        if std::mem::take(&mut self.agent_held) && !self.held {
            self.media.set_hold(false);
        }
        let agent = a.id.clone();
        a.close(self.manager.endpoint.get());
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

    /// Store an interaction without a wrap-up (abandoned calls, no agent pages).
    pub(super) fn save_interaction(&self, i: crate::crm::model::Interaction) {
        store_interaction(&self.manager, i);
    }

    /// Withdraw an offer: stop ringing the agent.
    pub(super) fn drop_agent(&mut self, agent: &str, reason: &str) {
        if self
            .agent
            .as_ref()
            .is_some_and(|a| a.id == agent && !a.answered)
        {
            if let Some(a) = self.agent.take() {
                a.close(self.manager.endpoint.get());
            }
        }
        if let Some(d) = self.desk() {
            d.withdraw(agent, &self.call_id, reason);
        }
    }

    /// A request from the agent's page about this call.
    pub(super) async fn desk_command(&mut self, cmd: DeskCommand) {
        let Some(a) = self.agent.as_mut() else { return };
        let answered = a.answered;
        let agent = a.id.clone();
        match cmd {
            DeskCommand::Answer { sdp: Some(sdp) } if a.is_browser() => {
                self.browser_answer(sdp).await;
            }
            DeskCommand::Reoffer if answered && a.is_browser() => self.reoffer().await,
            DeskCommand::Reject if !answered => {
                self.drop_agent(&agent, "rejected");
                self.tell_router(RouterInput::OfferRejected {
                    call: CallId::from(self.call_id.as_str()),
                    agent: super::routing::agent_id(&agent),
                });
            }
            DeskCommand::Hangup if answered => {
                if !a.hang_up_phone(self.manager.endpoint.get()) {
                    self.agent_hung_up();
                }
            }
            DeskCommand::Hold(on) if answered => {
                if on {
                    self.media.unbridge();
                    if let Some(m) = self.manager.prompts.get("music", "hold") {
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
                    d.call_changed(&agent, &self.call_id, |c| c.held = on);
                }
            }
            DeskCommand::Mute(on) if answered => {
                a.media.set_mute(on);
                a.muted = on;
                if let Some(d) = self.desk() {
                    d.call_changed(&agent, &self.call_id, |c| c.muted = on);
                }
            }
            DeskCommand::Dtmf(digits) if answered => self.media.send_dtmf(&digits),
            DeskCommand::Transfer(to) if answered => self.transfer(to),
            DeskCommand::Monitor { supervisor, mode } if answered => {
                self.monitor(supervisor, mode).await
            }
            other => {
                tracing::info!(call_id = %self.call_id, %agent, ?other, answered, "agent request not possible now");
            }
        }
    }

    /// Blind transfer: the agent's part ends (they go to wrap-up) and the caller queues again
    /// — in another queue, or in the same one offered first to the named agent (the router's
    /// ticket-owner preference, for the queue's `ticket_owner_first_s`). External numbers need
    /// an outbound trunk route, which is not wired yet.
    fn transfer(&mut self, to: crate::desk::protocol::TransferTarget) {
        use crate::desk::protocol::TransferTarget as T;
        let current = self.facts.queue.clone().unwrap_or_default();
        let (queue, owner) = match to {
            T::Queue(q) => (q, None),
            T::Agent(a) => (current, Some(a)),
            T::Number(n) => {
                tracing::info!(call_id = %self.call_id, number = %n, "transfer to a number refused: no outbound route");
                return;
            }
        };
        let Some(router) = self.router().cloned() else {
            return;
        };
        self.end_agent_part("transfer");
        router.send(RouterInput::CallEnded {
            call: CallId::from(self.call_id.as_str()),
        });
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
        self.record(Event::CallQueued {
            queue: queue.clone(),
            skills: Default::default(),
            priority: 0,
            language: self.facts.ivr.language.clone().unwrap_or_default(),
            ticket: self.facts.ticket.clone(),
            tags: vec!["transfer".into()],
        });
        if let Some(m) = self.manager.prompts.get("music", "hold") {
            self.media.start_music(vec![m]);
        }
        self.cues = Some(router.queue(crate::acd::router::QueuedCall {
            call: CallId::from(self.call_id.as_str()),
            queue,
            language: self.facts.ivr.language.clone().filter(|l| !l.is_empty()),
            ticket: owner.map(|o| crate::acd::router::TicketInfo {
                owner: Some(super::routing::agent_id(&o)),
                ..Default::default()
            }),
            ..Default::default()
        }));
    }

    /// The page's SDP answer: for the offer (the agent answers), or for a replacement leg after
    /// a reload (the audio comes back).
    async fn browser_answer(&mut self, answer: String) {
        let Some(a) = self.agent.as_mut() else { return };
        let AgentPath::Browser {
            rtc,
            sdp,
            replacement,
            state,
        } = &mut a.path
        else {
            return;
        };
        let pcmu = prefers_pcmu(&answer);
        if a.answered {
            let Some((new, new_sdp)) = replacement.take() else {
                return;
            };
            match new.accept_answer(&answer).await {
                Ok(()) => {
                    a.media.set_remote(browser_media(new.rtp_addr(), pcmu));
                    let old = std::mem::replace(rtc, new);
                    *state = rtc.state();
                    *sdp = new_sdp;
                    tokio::spawn(async move { old.close().await });
                    tracing::info!(call_id = %self.call_id, agent = %a.id, "browser audio re-attached");
                }
                Err(e) => {
                    tracing::warn!(call_id = %self.call_id, error = %e, "replacement answer refused");
                    tokio::spawn(async move { new.close().await });
                }
            }
            return;
        }
        match rtc.accept_answer(&answer).await {
            Ok(()) => {
                a.media.set_remote(browser_media(rtc.rtp_addr(), pcmu));
                let (leg, label) = (a.leg_label(), format!("agent:{}", a.id));
                self.agent_answered(leg, label, 200);
            }
            Err(e) => {
                tracing::warn!(call_id = %self.call_id, agent = %a.id, error = %e, "browser answer refused");
                self.offer_failed("bad-answer");
            }
        }
    }

    /// The page lost its audio during the call (reload): offer a fresh WebRTC leg toward the
    /// same RTP session; the bridge to the caller is untouched.
    async fn reoffer(&mut self) {
        let Some(gw) = self.manager.ivr.as_ref().and_then(|p| p.webrtc.clone()) else {
            return;
        };
        let Some(a) = self.agent.as_mut() else { return };
        let label = format!("{}/{}/again", self.call_id, a.id);
        let (new, sdp) = match gw.open(&label, a.media.local_addr()).await {
            Ok(x) => x,
            Err(e) => {
                tracing::warn!(call_id = %self.call_id, error = %e, "no replacement WebRTC leg");
                return;
            }
        };
        if let AgentPath::Browser { replacement, .. } = &mut a.path {
            if let Some((old, _)) = replacement.replace((new, sdp.clone())) {
                tokio::spawn(async move { old.close().await });
            }
        }
        let agent = a.id.clone();
        if let Some(d) = self.desk() {
            d.call_changed(&agent, &self.call_id, |c| {
                c.webrtc = Some(WebRtcOffer { sdp })
            });
        }
    }

    /// The caller is gone: tell the router, end any agent leg, and store the interaction.
    pub(super) fn leave_routing(&mut self) {
        let answered = self.agent.as_ref().is_some_and(|a| a.answered);
        if answered {
            self.end_agent_part("caller");
        } else if let Some(a) = self.agent.take() {
            let agent = a.id.clone();
            a.close(self.manager.endpoint.get());
            if let Some(d) = self.desk() {
                d.withdraw(&agent, &self.call_id, "caller-hung-up");
            }
        }
        let call = CallId::from(self.call_id.as_str());
        if self.cues.take().is_some() {
            self.tell_router(if answered {
                RouterInput::CallEnded { call }
            } else {
                RouterInput::CallAbandoned { call }
            });
        }
        if self.facts.queued_ms.is_some() && !self.interaction_saved {
            let now = now_ms();
            let i = self.facts.interaction(&self.call_id, &self.caller, now);
            if i.abandoned {
                self.record(Event::CallAbandoned {
                    queue: self.facts.queue.clone().unwrap_or_default(),
                    wait_ms: i.wait_ms,
                });
            }
            self.interaction_saved = true;
            self.save_interaction(i);
        }
    }
}

/// An outgoing call to a registered phone, with its RTP session.
pub(super) struct PhoneDial {
    pub leg: crate::sip::endpoint::LegRef,
    pub local: LocalMedia,
    pub events: tokio::sync::mpsc::UnboundedReceiver<(crate::sip::endpoint::LegRef, LegEvent)>,
    pub media: crate::media::MediaSession,
}

/// Point `media` at what the phone's 200 OK answered to our offer (`local`).
pub(super) fn accept_phone_answer(
    sdp: Option<&[u8]>,
    local: &LocalMedia,
    media: &crate::media::MediaSession,
) {
    let neg = sdp
        .and_then(|b| std::str::from_utf8(b).ok())
        .and_then(|t| crate::sip::sdp::SessionDescription::parse(t).ok())
        .and_then(|answer| crate::sip::sdp_negotiate::accept_answer(&answer, local));
    if let Some(n) = neg {
        media.set_remote(super::media_map::to_media(&n));
    }
}

/// Store an interaction without a wrap-up (abandoned calls, callbacks that failed, no agent
/// pages), off the call's path; a database outage only delays it.
pub(super) fn store_interaction(manager: &super::CallManager, i: crate::crm::model::Interaction) {
    let Some(crm) = manager.ivr.as_ref().and_then(|p| p.crm.clone()) else {
        return;
    };
    tokio::spawn(async move {
        let mut delay = Duration::from_millis(500);
        for _ in 0..8 {
            match crm.save(&i, None, now_ms()).await {
                Ok(_) => return,
                Err(e) => {
                    tracing::warn!(call_id = %i.call_id, error = %e, "interaction not stored yet; retrying");
                    tokio::time::sleep(delay).await;
                    delay = (delay * 2).min(Duration::from_secs(30));
                }
            }
        }
        tracing::error!(call_id = %i.call_id, "interaction given up after retries");
    });
}

/// The media engine's view of a browser leg: plain RTP to the gateway's socket, G.711 as the
/// browser chose, telephone-event 101.
fn browser_media(addr: std::net::SocketAddr, pcmu: bool) -> crate::media::NegotiatedMedia {
    use crate::media::{Codec, NegotiatedMedia};
    let mut m = NegotiatedMedia::new(addr, if pcmu { Codec::Pcmu } else { Codec::Pcma });
    m.telephone_event_pt = Some(crate::webrtc::PT_TELEPHONE_EVENT);
    m
}

/// Whether the browser's answer keeps PCMU (else it chose PCMA): the first payload type on its
/// `m=audio` line.
fn prefers_pcmu(answer: &str) -> bool {
    answer
        .lines()
        .find_map(|l| l.strip_prefix("m=audio "))
        .and_then(|l| l.split_whitespace().nth(2))
        .is_none_or(|pt| pt != "8")
}
