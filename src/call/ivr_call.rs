//! The task that runs one answered call through its dialplan: it feeds the sans-IO IVR engine
//! the caller's digits, prompt ends, timeouts and CRM answers, and performs what the engine asks
//! (play prompts on the call's RTP session, queue the call with music on hold, record a
//! message, hang up), recording every step as an event.

use super::media_map::{answer_offer, is_hold};
use super::routing::Cue;
use super::CallManager;
use crate::acd::router::{Input as RouterInput, QueuedCall};
use crate::acd::types::CallId;
use crate::events::Event;
use crate::ivr::crm::LookupResult;
use crate::ivr::engine::{Action, Input, Now, PlayId, QueueRequest, Session as Ivr};
use crate::media::{MediaEvent, MediaSession, RecordingMode};
use crate::sip::endpoint::{Command, LegRef};
use crate::sip::leg::OutgoingCall;
use crate::sip::leg::{EndedBy, LegEvent};
use crate::sip::message::{NameAddr, Uri};
use crate::sip::sdp_negotiate::LocalMedia;
use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::mpsc::{unbounded_channel, Receiver, UnboundedReceiver};

/// Next item of an optional channel; pends forever when there is none.
async fn next<T>(rx: &mut Option<UnboundedReceiver<T>>) -> Option<T> {
    match rx {
        Some(rx) => rx.recv().await,
        None => std::future::pending().await,
    }
}

pub(super) struct IvrCall {
    pub call_id: String,
    pub leg: LegRef,
    pub local: LocalMedia,
    pub media: MediaSession,
    pub ivr: Ivr,
    pub manager: Arc<CallManager>,
    /// Media play ids → the IVR's, to report which prompt finished.
    pub plays: HashMap<u64, PlayId>,
    /// Inputs produced while performing actions (CRM answers), fed before waiting again.
    pub pending: VecDeque<Input>,
    pub hung_up_by_us: Option<&'static str>,
    pub queued: Option<QueueRequest>,
    pub recording_until: Option<tokio::time::Instant>,
    pub held: bool,
    /// The router's cues for this call once it is queued.
    pub cues: Option<UnboundedReceiver<Cue>>,
    /// The agent leg being rung or talking, if any.
    pub agent: Option<AgentLeg>,
    /// The caller's identity, for the From of the agent leg.
    pub caller: String,
    /// The agent has hung up (what follows is the survey).
    pub after_agent: bool,
}

/// The outgoing leg to an agent's phone, with its own RTP session next to the caller's.
pub(super) struct AgentLeg {
    id: String,
    leg: LegRef,
    media: MediaSession,
    local: LocalMedia,
    events: UnboundedReceiver<(LegRef, LegEvent)>,
    answered: bool,
}

impl IvrCall {
    pub async fn run(
        mut self,
        mut leg_rx: UnboundedReceiver<(LegRef, LegEvent)>,
        mut media_rx: Receiver<MediaEvent>,
    ) {
        let mut started = false;
        let cause = loop {
            self.drain_pending();
            let deadline = self.ivr.next_deadline().map(tokio::time::Instant::from_std);
            let far = tokio::time::Instant::now() + Duration::from_secs(3600);
            let recording_until = self.recording_until.unwrap_or(far);
            tokio::select! {
                ev = leg_rx.recv() => {
                    let Some((leg, ev)) = ev else { break "failed" };
                    match ev {
                        LegEvent::Confirmed { .. } => {
                            self.record(Event::CallAnswered {});
                            if !started {
                                started = true;
                                self.step(Input::Started);
                            }
                        }
                        LegEvent::ReInvite { sdp } => self.reinvite(leg, sdp),
                        LegEvent::Request { tx, request } => {
                            self.command(Command::Respond(tx, super::in_dialog_response(&request)));
                        }
                        LegEvent::Ended { by, cause } => {
                            if by == EndedBy::Remote {
                                self.step(Input::CallerHungUp);
                            }
                            break self.hung_up_by_us.unwrap_or_else(|| super::end_cause(by, cause));
                        }
                        LegEvent::Cancelled => break "cancelled",
                        _ => {}
                    }
                }
                ev = media_rx.recv() => match ev {
                    Some(MediaEvent::Digit { digit, .. }) => self.step(Input::Digit(digit)),
                    Some(MediaEvent::PromptFinished { play_id, .. }) => {
                        if let Some(id) = self.plays.remove(&play_id) {
                            self.step(Input::PromptFinished(id));
                        }
                    }
                    Some(MediaEvent::RecordingFinished { path, .. }) => {
                        self.recording_until = None;
                        self.record(Event::Voicemail { path: path.display().to_string(), ticket: None });
                        self.step(Input::RecordingFinished);
                    }
                    Some(MediaEvent::MediaTimeout { silent_for }) => {
                        tracing::info!(call_id = %self.call_id, ?silent_for, "no RTP from the caller: ending the call");
                        self.hangup("media_timeout");
                    }
                    Some(_) => {}
                    None => {}
                },
                _ = tokio::time::sleep_until(deadline.unwrap_or(far)), if deadline.is_some() => {
                    self.step(Input::Timeout);
                }
                cue = next(&mut self.cues) => match cue {
                    Some(Cue::Offer { agent, .. }) => self.offer(agent).await,
                    Some(Cue::StopRinging { agent }) => self.drop_agent(&agent),
                    None => self.cues = None,
                },
                ev = async { match self.agent.as_mut() { Some(a) => a.events.recv().await, None => std::future::pending().await } } => {
                    if let Some((_, ev)) = ev {
                        self.agent_event(ev);
                    }
                }
                _ = tokio::time::sleep_until(recording_until), if self.recording_until.is_some() => {
                    self.recording_until = None;
                    self.media.stop_recording();
                }
            }
        };
        self.leave_routing();
        if let Some(st) = self.media.stats().await {
            tracing::info!(call_id = %self.call_id, stats = ?st, "call media");
        }
        self.media.close();
        self.manager.finish_call(&self.call_id, cause);
    }

    fn drain_pending(&mut self) {
        while let Some(input) = self.pending.pop_front() {
            self.step(input);
        }
    }

    fn step(&mut self, input: Input) {
        let now = Now {
            at: Instant::now(),
            wall: chrono::Utc::now(),
        };
        for action in self.ivr.handle(input, now) {
            self.perform(action);
        }
    }

    fn perform(&mut self, action: Action) {
        let m = &self.manager;
        match action {
            Action::Play {
                id,
                prompts,
                barge_in,
            } => {
                let mut list = Vec::with_capacity(prompts.len());
                for p in &prompts {
                    match m.prompts.get(&p.lang, &p.name) {
                        Some(w) => list.push(w),
                        None => {
                            tracing::warn!(call_id = %self.call_id, prompt = %p.name, lang = %p.lang, "prompt missing")
                        }
                    }
                }
                let media_id = self.media.play(list, barge_in);
                self.plays.insert(media_id, id);
            }
            Action::StopPlayback => self.media.stop_playback(),
            Action::Lookup { kind, value } => {
                let answer = m.crm.lookup(kind, &value);
                self.pending.push_back(Input::LookupResult(LookupResult {
                    kind,
                    value,
                    answer,
                }));
            }
            Action::Enqueue(q) => {
                self.record(Event::CallQueued {
                    queue: q.queue.clone(),
                    skills: q.skills.clone(),
                    priority: q.priority,
                    language: q.language.clone(),
                    ticket: q.ticket.clone(),
                    tags: q.tags.clone(),
                });
                if let Some(music) = m.prompts.get("music", "hold") {
                    self.media.start_music(vec![music]);
                }
                if let Some(router) = m.ivr.as_ref().and_then(|p| p.router.as_ref()) {
                    self.cues = Some(router.queue(QueuedCall {
                        call: CallId::from(self.call_id.as_str()),
                        queue: q.queue.clone(),
                        skills: q.skills.iter().map(|(k, v)| (k.clone(), *v)).collect(),
                        language: None,
                        priority: i32::from(q.priority),
                        ..Default::default()
                    }));
                }
                self.queued = Some(q);
            }
            Action::CallbackRequested(q) => {
                self.record(Event::CallbackRequested {
                    queue: q.queue.clone(),
                    number: q.caller.clone(),
                });
            }
            Action::RecordVoicemail { max_secs, ticket } => {
                let path = m
                    .settings
                    .database
                    .spill_dir
                    .with_file_name("voicemail")
                    .join(format!("{}.wav", sanitize(&self.call_id)));
                if let Some(dir) = path.parent() {
                    let _ = std::fs::create_dir_all(dir);
                }
                let _ = ticket;
                self.media.start_recording(path, RecordingMode::Mixed);
                self.recording_until =
                    Some(tokio::time::Instant::now() + Duration::from_secs(u64::from(max_secs)));
            }
            Action::StopRecording => {
                self.recording_until = None;
                self.media.stop_recording();
            }
            Action::Transfer { number } => {
                // Transfers to allow-listed numbers go out through a trunk once the call layer
                // has an outbound route for them; until then the caller is told goodbye.
                tracing::warn!(call_id = %self.call_id, %number, "IVR transfer requested but no outbound route is wired yet");
                self.hangup("transfer_unavailable");
            }
            Action::SurveyResult { score, ticket } => self.record(Event::Survey { score, ticket }),
            Action::Hangup { .. } => self.hangup(if self.after_agent {
                "agent_hangup"
            } else {
                "ivr_hangup"
            }),
            Action::Event(e) => self.record(Event::IvrStep {
                node: e.node,
                step: e.kind,
            }),
        }
    }

    fn reinvite(&mut self, leg: LegRef, sdp: Option<bytes::Bytes>) {
        self.local.session_version += 1;
        match sdp.as_deref().and_then(|b| answer_offer(b, &self.local)) {
            Some((answer, neg)) => {
                let held = is_hold(&neg);
                self.media.set_remote(neg);
                if held != self.held {
                    self.held = held;
                    self.record(Event::CallHold { held });
                }
                self.command(Command::AnswerReinvite(leg.leg, answer.into()));
            }
            None => self.command(Command::RejectReinvite(leg.leg, 488)),
        }
    }

    fn hangup(&mut self, why: &'static str) {
        if self.hung_up_by_us.is_none() {
            self.hung_up_by_us = Some(why);
            self.command(Command::Hangup(self.leg.leg));
        }
    }

    fn command(&self, cmd: Command) {
        if let Some(ep) = self.manager.endpoint.get() {
            ep.command(self.leg.shard, cmd);
        }
    }

    fn record(&self, event: Event) {
        self.manager.record(&self.call_id, event);
    }
}

/// A Call-ID made safe for a file name.
fn sanitize(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

impl IvrCall {
    fn router(&self) -> Option<&super::routing::RouterHandle> {
        self.manager.ivr.as_ref().and_then(|p| p.router.as_ref())
    }

    fn tell_router(&self, input: RouterInput) {
        if let Some(r) = self.router() {
            r.send(input);
        }
    }

    /// The router offers this call to `agent`: ring the agent's registered phone with an offer
    /// for an RTP session beside the caller's.
    async fn offer(&mut self, agent: String) {
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
        let binding = ep
            .shared
            .registrar
            .lock()
            .ok()
            .and_then(|r| r.lookup(&agent, super::unix_secs()).pop());
        let Some(b) = binding else {
            tracing::info!(call_id = %self.call_id, %agent, "offered agent has no registered phone");
            return reject(self);
        };
        let Some(parts) = self.manager.ivr.as_ref() else {
            return reject(self);
        };
        let opts = crate::media::SessionOptions {
            label: format!("{}/agent", self.call_id),
            ..Default::default()
        };
        let Ok((media, _media_rx)) = parts.media.open_near(&self.media, opts) else {
            return reject(self);
        };
        let addr = media.local_addr();
        let local = LocalMedia::new(addr.ip(), addr.port());
        let sdp = crate::sip::sdp_negotiate::offer(&local).to_string();
        let domain = &self.manager.settings.sip.domain;
        let (Ok(uri), Ok(from), Ok(to)) = (
            Uri::parse(&b.contact),
            NameAddr::parse(&format!("<sip:{}@{domain}>", self.caller_user())),
            NameAddr::parse(&format!("<sip:{agent}@{domain}>")),
        ) else {
            media.close();
            return reject(self);
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
            Ok(leg) => {
                self.record(Event::LegState {
                    leg: leg.leg.to_string(),
                    target: format!("agent:{agent}"),
                    state: "calling".into(),
                    status: None,
                });
                self.agent = Some(AgentLeg {
                    id: agent,
                    leg,
                    media,
                    local,
                    events,
                    answered: false,
                });
            }
            Err(_) => {
                media.close();
                reject(self);
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

    fn agent_event(&mut self, ev: LegEvent) {
        let Some(a) = self.agent.as_mut() else { return };
        let call = CallId::from(self.call_id.as_str());
        let agent = super::routing::agent_id(&a.id);
        let (label, leg) = (format!("agent:{}", a.id), a.leg.leg.to_string());
        match ev {
            LegEvent::Ringing { status, .. } => {
                self.record(Event::LegState {
                    leg,
                    target: label,
                    state: "ringing".into(),
                    status: Some(status),
                });
            }
            LegEvent::Answered { sdp } => {
                let neg = sdp
                    .as_deref()
                    .and_then(|b| std::str::from_utf8(b).ok())
                    .and_then(|t| crate::sip::sdp::SessionDescription::parse(t).ok())
                    .and_then(|answer| crate::sip::sdp_negotiate::accept_answer(&answer, &a.local));
                if let Some(n) = neg {
                    a.media.set_remote(super::media_map::to_media(&n));
                }
                a.answered = true;
                self.media.stop_music();
                self.media.stop_playback();
                self.media.bridge(&a.media);
                self.tell_router(RouterInput::OfferAnswered { call, agent });
                self.record(Event::LegState {
                    leg,
                    target: label,
                    state: "answered".into(),
                    status: Some(200),
                });
            }
            LegEvent::Failed { status, .. } => {
                let a = self.agent.take();
                if let Some(a) = a {
                    a.media.close();
                }
                self.tell_router(RouterInput::OfferRejected { call, agent });
                self.record(Event::LegState {
                    leg,
                    target: label,
                    state: "failed".into(),
                    status: Some(status),
                });
            }
            LegEvent::Ended { .. } | LegEvent::Cancelled => {
                let was_answered = a.answered;
                if let Some(a) = self.agent.take() {
                    a.media.close();
                }
                self.record(Event::LegState {
                    leg,
                    target: label,
                    state: "ended".into(),
                    status: None,
                });
                if was_answered {
                    // The agent hung up: the caller goes on to the survey, if the entry has one
                    // (the IVR hangs up otherwise).
                    self.tell_router(RouterInput::CallEnded { call });
                    self.cues = None;
                    self.media.unbridge();
                    self.after_agent = true;
                    self.step(Input::AgentHungUp);
                }
            }
            _ => {}
        }
    }

    /// Withdraw an offer: stop ringing the agent's phone.
    fn drop_agent(&mut self, agent: &str) {
        if self
            .agent
            .as_ref()
            .is_some_and(|a| a.id == agent && !a.answered)
        {
            if let Some(a) = self.agent.take() {
                if let Some(ep) = self.manager.endpoint.get() {
                    ep.hangup(a.leg);
                }
                a.media.close();
            }
        }
    }

    /// The caller is gone: tell the router and end any agent leg.
    fn leave_routing(&mut self) {
        if self.cues.is_none() && self.agent.is_none() {
            return;
        }
        let call = CallId::from(self.call_id.as_str());
        let answered = self.agent.as_ref().is_some_and(|a| a.answered);
        if let Some(a) = self.agent.take() {
            if let Some(ep) = self.manager.endpoint.get() {
                ep.hangup(a.leg);
            }
            a.media.close();
        }
        if self.cues.take().is_some() {
            self.tell_router(if answered {
                RouterInput::CallEnded { call }
            } else {
                RouterInput::CallAbandoned { call }
            });
        }
    }
}
