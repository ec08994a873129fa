//! The task that runs one answered call through its dialplan: it feeds the sans-IO IVR engine
//! the caller's digits, prompt ends, timeouts and CRM answers, and performs what the engine asks
//! (play prompts on the call's RTP session, queue the call with music on hold, record a
//! message, hang up), recording every step as an event.

use super::media_map::{answer_offer, is_hold};
use super::routing::Cue;
use super::CallManager;
use crate::events::Event;
use crate::ivr::crm::LookupResult;
use crate::ivr::engine::{Action, Input, Now, PlayId, QueueRequest, Session as Ivr};
use crate::media::{MediaEvent, MediaSession, RecordingMode};
use crate::sip::endpoint::{Command, LegRef};
use crate::sip::leg::{EndedBy, LegEvent};
use crate::sip::sdp_negotiate::LocalMedia;
use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::mpsc::{Receiver, UnboundedReceiver, UnboundedSender};

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
    /// Files of this call's recordings (queues with `record = true`), one per answer.
    pub call_recordings: Vec<std::path::PathBuf>,
    /// The caller's phone holds the call (re-INVITE).
    pub held: bool,
    /// The agent's desk phone holds the call (re-INVITE).
    pub agent_held: bool,
    /// The router's cues for this call once it is queued.
    pub cues: Option<UnboundedReceiver<Cue>>,
    /// Queued by the IVR, waiting for the CRM's ticket before joining the router's queue.
    pub joining: Option<super::queue_side::Joining>,
    /// The media play id of the position announcement being heard.
    pub announcing: Option<u64>,
    /// The agent leg being rung or talking, if any.
    pub agent: Option<super::agent_leg::AgentLeg>,
    /// A supervisor listening, whispering or barging in.
    pub monitor: Option<super::monitor::MonitorLeg>,
    /// The caller's identity, for the From of the agent leg (and the number a callback dials).
    pub caller: String,
    /// Where the call stands with a callback (offered, requested, booked, called back).
    pub callback: super::callback::CallbackState,
    /// The agent has hung up (what follows is the survey).
    pub after_agent: bool,
    /// Milestones for the call's interaction row.
    pub facts: super::facts::Facts,
    /// The call's interaction has been handed on (to wrap-up or the store).
    pub interaction_saved: bool,
    /// Requests from the agent's page about this call.
    pub desk_tx: UnboundedSender<crate::desk::DeskCommand>,
    pub desk_rx: UnboundedReceiver<crate::desk::DeskCommand>,
    /// CRM answers to the IVR's lookups.
    pub lookup_tx: UnboundedSender<LookupResult>,
    pub lookup_rx: UnboundedReceiver<LookupResult>,
}

impl IvrCall {
    /// A call task for an answered caller leg and its RTP session, at the start of its IVR.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        call_id: String,
        leg: LegRef,
        local: LocalMedia,
        media: MediaSession,
        ivr: Ivr,
        manager: Arc<CallManager>,
        caller: String,
        facts: super::facts::Facts,
    ) -> IvrCall {
        let (desk_tx, desk_rx) = tokio::sync::mpsc::unbounded_channel();
        let (lookup_tx, lookup_rx) = tokio::sync::mpsc::unbounded_channel();
        IvrCall {
            call_id,
            leg,
            local,
            media,
            ivr,
            manager,
            plays: Default::default(),
            pending: Default::default(),
            hung_up_by_us: None,
            queued: None,
            recording_until: None,
            call_recordings: Vec::new(),
            held: false,
            agent_held: false,
            cues: None,
            joining: None,
            announcing: None,
            agent: None,
            monitor: None,
            caller,
            callback: Default::default(),
            after_agent: false,
            facts,
            interaction_saved: false,
            desk_tx,
            desk_rx,
            lookup_tx,
            lookup_rx,
        }
    }

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
                    Some(MediaEvent::Digit { digit, .. }) => self.digit(digit),
                    Some(MediaEvent::PromptFinished { play_id, .. }) => {
                        if let Some(id) = self.plays.remove(&play_id) {
                            self.step(Input::PromptFinished(id));
                        } else if self.announcing == Some(play_id) {
                            self.announcing = None;
                        } else {
                            self.callback_prompt_finished(play_id);
                        }
                    }
                    Some(MediaEvent::RecordingFinished { path, error, .. }) => {
                        if self.call_recording_finished(&path, error.as_deref()) {
                            continue;
                        }
                        self.recording_until = None;
                        self.voicemail_recorded(&path, error.as_deref());
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
                    Some(Cue::Offer { agent, ring }) => self.offer(agent, ring).await,
                    Some(Cue::StopRinging { agent }) => self.drop_agent(&agent, "withdrawn"),
                    Some(Cue::Announce { position, ewt_ms }) => self.announce(position, ewt_ms),
                    Some(Cue::QueueChanged { queue }) => self.queue_changed(queue),
                    Some(Cue::Callback(c)) => self.callback_cue(c),
                    None => self.cues = None,
                },
                ticket = async { match self.joining.as_mut() { Some(j) => (&mut j.ticket).await.ok().flatten(), None => std::future::pending().await } } => {
                    self.joined(ticket);
                },
                ev = async { match self.agent.as_mut() { Some(a) => a.next_event().await, None => std::future::pending().await } } => {
                    self.agent_event(ev);
                }
                ev = async { match self.monitor.as_mut() { Some(m) => m.next_event().await, None => std::future::pending().await } } => {
                    self.monitor_event(ev);
                }
                cmd = self.desk_rx.recv() => {
                    if let Some(cmd) = cmd {
                        self.desk_command(cmd).await;
                    }
                }
                answer = self.lookup_rx.recv() => {
                    if let Some(a) = answer {
                        self.step(Input::LookupResult(a));
                    }
                }
                _ = tokio::time::sleep_until(recording_until), if self.recording_until.is_some() => {
                    self.recording_until = None;
                    self.media.stop_recording();
                }
            }
        };
        self.voicemail_on_hangup(&mut media_rx).await;
        let booked = self.take_booked_callback();
        self.leave_routing();
        if let Some(st) = self.media.stats().await {
            tracing::info!(call_id = %self.call_id, stats = ?st, "call media");
        }
        self.media.close();
        self.manager.finish_call(&self.call_id, cause);
        if let Some(cues) = booked {
            super::callback_dial::Pending::wait(self, cues);
        }
    }

    fn drain_pending(&mut self) {
        while let Some(input) = self.pending.pop_front() {
            self.step(input);
        }
    }

    pub(super) fn step(&mut self, input: Input) {
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
            Action::Lookup { kind, value } => match m.ivr.as_ref().and_then(|p| p.crm.clone()) {
                Some(crm) => {
                    let tx = self.lookup_tx.clone();
                    tokio::spawn(async move {
                        let answer = crm.lookup(kind, &value).await;
                        let _ = tx.send(LookupResult {
                            kind,
                            value,
                            answer,
                        });
                    });
                }
                None => self.pending.push_back(Input::LookupResult(LookupResult {
                    kind,
                    value,
                    answer: crate::ivr::crm::LookupAnswer::NotFound,
                })),
            },
            Action::Enqueue(q) => self.enqueue(q, None),
            Action::CallbackRequested(q) => self.callback_from_ivr(q),
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
                // The ticket the IVR identified, if any: the message is filed on it.
                self.facts.ticket = ticket;
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
            Action::SurveyResult { score, ticket } => {
                if let Some(d) = self.desk() {
                    d.survey(&self.call_id, score);
                }
                self.record(Event::Survey { score, ticket })
            }
            Action::Hangup { .. } => self.hangup(if self.after_agent {
                "agent_hangup"
            } else {
                "ivr_hangup"
            }),
            Action::Event(e) => {
                self.note_step(&e.node, &e.kind);
                self.record(Event::IvrStep {
                    node: e.node,
                    step: e.kind,
                })
            }
        }
    }

    /// The call leaves the IVR for the router, with music on hold; with `callback_number` it
    /// waits as a virtual caller to be dialled back.
    pub(super) fn enqueue(&mut self, q: QueueRequest, callback_number: Option<String>) {
        let m = &self.manager;
        self.facts.queued_ms.get_or_insert(crate::events::now_ms());
        self.facts.queue = Some(q.queue.clone());
        self.facts.ticket = q.ticket.clone();
        self.facts.ivr.digits = q.vars.clone();
        self.facts.ivr.language = Some(q.language.clone());
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
        self.queued = Some(q.clone());
        self.join_queue(&q, callback_number);
    }

    /// Keep the caller's path (nodes entered, the last menu choice) for the pop and the
    /// interaction row.
    fn note_step(&mut self, node: &str, kind: &crate::ivr::engine::IvrEventKind) {
        use crate::ivr::engine::IvrEventKind as K;
        match kind {
            K::NodeEntered { .. } => self.facts.ivr.path.push(node.to_string()),
            K::Choice { next, .. } => self.facts.ivr.choice = Some(next.clone()),
            _ => {}
        }
    }

    fn reinvite(&mut self, leg: LegRef, sdp: Option<bytes::Bytes>) {
        self.local.session_version += 1;
        match sdp.as_deref().and_then(|b| answer_offer(b, &self.local)) {
            Some((answer, neg)) => {
                let held = is_hold(&neg);
                self.media.set_remote(neg);
                self.command(Command::AnswerReinvite(leg.leg, answer.into()));
                self.phone_hold(super::hold::Holder::Caller, held);
            }
            None => self.command(Command::RejectReinvite(leg.leg, 488)),
        }
    }

    pub(super) fn hangup(&mut self, why: &'static str) {
        if self.hung_up_by_us.is_none() {
            self.hung_up_by_us = Some(why);
            self.command(Command::Hangup(self.leg.leg));
        }
    }

    fn command(&self, cmd: Command) {
        self.command_on(self.leg.shard, cmd);
    }

    /// A command for a leg on `shard` (the caller's, or the agent phone's).
    pub(super) fn command_on(&self, shard: usize, cmd: Command) {
        if let Some(ep) = self.manager.endpoint.get() {
            ep.command(shard, cmd);
        }
    }

    pub(super) fn record(&self, event: Event) {
        self.manager.record(&self.call_id, event);
    }
}

/// A Call-ID made safe for a file name.
pub(super) fn sanitize(s: &str) -> String {
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
