//! The task that drives one answered call: it feeds the call's two sans-IO cores — the IVR
//! engine (`crate::ivr::engine`: menus, prompts, digits) and the call's state machine
//! ([`super::machine`]: queue, offers, legs, outcomes) — with what happens on the call's legs,
//! media, router cues, agent pages and spawned work, and carries out what they decide
//! ([`super::perform`] for the machine's actions, [`CallTask::perform_ivr`] for the engine's).
//!
//! The loop's `select!` arms never await: slow work (the CRM, opening a WebRTC leg, dialling a
//! phone, accepting a browser's answer) is spawned and its result comes back on `done` as one
//! more input, so a BYE, a withdrawn offer or a timer is seen at once whatever is in flight.

use super::agent_io::{AgentLeg, Done};
use super::env::CallEnv;
use super::machine::{self, CallMachine, LegId, PromptTag};
use super::media_map::{answer_offer, is_hold};
use crate::acd::router::QueuedCall;
use crate::acd::service::Cue;
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
use tokio::sync::mpsc::{unbounded_channel, Receiver, UnboundedReceiver, UnboundedSender};

/// Next item of an optional channel; pends forever when there is none.
async fn next<T>(rx: &mut Option<UnboundedReceiver<T>>) -> Option<T> {
    match rx {
        Some(rx) => rx.recv().await,
        None => std::future::pending().await,
    }
}

/// What a page asks of this call, with the agent whose page it is.
pub type DeskTx = UnboundedSender<(String, crate::desk::DeskCommand)>;

pub(super) struct CallTask {
    pub call_id: String,
    pub leg: LegRef,
    pub local: LocalMedia,
    pub media: MediaSession,
    pub ivr: Ivr,
    pub env: Arc<CallEnv>,
    /// The call's state machine: phase, legs, who hears whom.
    pub machine: CallMachine,
    /// Media play ids → the IVR's, to report which prompt finished.
    pub plays: HashMap<u64, PlayId>,
    /// Media play ids → the machine's own prompts.
    pub own_plays: HashMap<u64, PromptTag>,
    /// Inputs produced while performing actions, fed before waiting again.
    pub pending: VecDeque<Input>,
    pub hung_up_by_us: Option<&'static str>,
    pub queued: Option<QueueRequest>,
    /// The call as the router will get it once the CRM has named the caller's ticket.
    pub joining: Option<QueuedCall>,
    /// The IVR's voicemail recording's deadline.
    pub recording_until: Option<tokio::time::Instant>,
    /// A voicemail recording is open (the IVR's or an outcome's): filed when it closes.
    pub voicemail_open: bool,
    /// Files of this call's recordings (queues with `record = true`), one per answer.
    pub call_recordings: Vec<std::path::PathBuf>,
    /// The caller's phone holds the call (re-INVITE).
    pub held: bool,
    /// The agent's desk phone holds the call (re-INVITE).
    pub agent_held: bool,
    /// The router's cues for this call once it is queued.
    pub cues: Option<UnboundedReceiver<Cue>>,
    /// The media play id of the position announcement being heard.
    pub announcing: Option<u64>,
    /// The I/O side of the agent legs the machine knows (offers, and the agent talking).
    pub agents: HashMap<LegId, AgentLeg>,
    /// Legs being set up in a spawned task (their `Done::Rung` is still to come).
    pub opening: std::collections::HashSet<LegId>,
    /// A supervisor listening, whispering or barging in.
    pub monitor: Option<super::agent_io::MonitorLeg>,
    /// The supervisor who asked to monitor and how, until their phone answers.
    pub monitor_request: Option<(String, crate::desk::MonitorMode)>,
    /// How long the router lets each offered agent ring (shown on their page).
    pub rings: HashMap<String, Duration>,
    /// The screen-pop for offers (built once per queueing).
    pub pop: Option<crate::crm::model::Pop>,
    /// The caller's identity, for the From of the agent leg (and the number a callback dials).
    pub caller: String,
    /// Where the call stands with a callback (offered, requested, booked, called back).
    pub callback: super::machine::callback::CallbackState,
    /// Milestones for the call's interaction row.
    pub facts: super::facts::Facts,
    /// The caller's media goes only to this IP (its signalling source; None: a trusted trunk,
    /// or a called-back customer reached through a trunk route), re-INVITEs included.
    pub media_pin: Option<std::net::IpAddr>,
    /// A callback the call layer refused during an IVR step (told to the caller after it).
    pub callback_refusal: Option<String>,
    /// The last prompt before we hang up (media play id), and the end cause to store.
    pub farewell: Option<(u64, &'static str)>,
    /// The call's interaction has been handed on (to wrap-up or the store).
    pub interaction_saved: bool,
    /// Requests from the agents' pages about this call.
    pub desk_tx: DeskTx,
    pub desk_rx: UnboundedReceiver<(String, crate::desk::DeskCommand)>,
    /// CRM answers to the IVR's lookups.
    pub lookup_tx: UnboundedSender<LookupResult>,
    pub lookup_rx: UnboundedReceiver<LookupResult>,
    /// Results of spawned work (CRM, leg set-up) and the events of the legs set up, by the
    /// machine's leg id.
    pub done_tx: UnboundedSender<Done>,
    pub done_rx: UnboundedReceiver<Done>,
}

impl CallTask {
    /// A call task for an answered caller leg and its RTP session, at the start of its IVR.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        call_id: String,
        leg: LegRef,
        local: LocalMedia,
        media: MediaSession,
        ivr: Ivr,
        env: Arc<CallEnv>,
        caller: String,
        facts: super::facts::Facts,
    ) -> CallTask {
        let (desk_tx, desk_rx) = unbounded_channel();
        let (lookup_tx, lookup_rx) = unbounded_channel();
        let (done_tx, done_rx) = unbounded_channel();
        let machine = CallMachine::new(crate::acd::types::CallId::from(call_id.as_str()));
        CallTask {
            call_id,
            leg,
            local,
            media,
            ivr,
            env,
            machine,
            plays: Default::default(),
            own_plays: Default::default(),
            pending: Default::default(),
            hung_up_by_us: None,
            queued: None,
            joining: None,
            recording_until: None,
            voicemail_open: false,
            call_recordings: Vec::new(),
            held: false,
            agent_held: false,
            cues: None,
            announcing: None,
            agents: HashMap::new(),
            opening: Default::default(),
            monitor: None,
            monitor_request: None,
            rings: HashMap::new(),
            pop: None,
            caller,
            callback: Default::default(),
            facts,
            media_pin: None,
            callback_refusal: None,
            farewell: None,
            interaction_saved: false,
            desk_tx,
            desk_rx,
            lookup_tx,
            lookup_rx,
            done_tx,
            done_rx,
        }
    }

    pub async fn run(
        mut self,
        mut leg_rx: UnboundedReceiver<(LegRef, LegEvent)>,
        mut media_rx: Receiver<MediaEvent>,
    ) {
        let mut started = false;
        let max_call = Duration::from_secs(self.env.settings.media.max_call_s);
        self.machine.limit_length(Instant::now() + max_call);
        let cause = loop {
            self.drain_pending();
            let far = tokio::time::Instant::now() + Duration::from_secs(3600);
            let ivr_deadline = self.ivr.next_deadline().map(tokio::time::Instant::from_std);
            let machine_deadline = self
                .machine
                .poll_timeout()
                .map(tokio::time::Instant::from_std);
            let recording_until = self.recording_until.unwrap_or(far);
            // Biased, legs' results first: an agent's answer that reached us before the
            // caller's BYE (it comes one hop later, through its leg's forwarder) is taken
            // first, so the call is stored answered, then ended, as it happened.
            tokio::select! {
                biased;
                done = self.done_rx.recv() => {
                    if let Some(d) = done {
                        self.done(d);
                    }
                }
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
                            self.command(Command::Respond(tx, super::env::in_dialog_response(&request)));
                        }
                        LegEvent::Ended { by, cause } => {
                            if by == EndedBy::Remote {
                                self.step(Input::CallerHungUp);
                            }
                            self.feed(machine::Input::CallerHungUp);
                            break self.hung_up_by_us.unwrap_or_else(|| super::env::end_cause(by, cause));
                        }
                        LegEvent::Cancelled => {
                            self.feed(machine::Input::CallerHungUp);
                            break "cancelled";
                        }
                        // Outgoing-leg events: never for the caller's answered incoming leg.
                        LegEvent::Ringing { .. }
                        | LegEvent::Answered { .. }
                        | LegEvent::Failed { .. }
                        | LegEvent::NeedsAuth { .. }
                        | LegEvent::ReInviteDone { .. } => {}
                    }
                }
                ev = media_rx.recv() => match ev {
                    Some(MediaEvent::Digit { digit, .. }) => self.digit(digit),
                    Some(MediaEvent::PromptFinished { play_id, .. }) => self.prompt_finished(play_id),
                    Some(MediaEvent::RecordingFinished { path, error, .. }) => {
                        self.recording_finished(&path, error.as_deref());
                    }
                    Some(MediaEvent::MediaTimeout { silent_for }) => {
                        tracing::info!(call_id = %self.call_id, ?silent_for, "no RTP from the caller: ending the call");
                        self.hangup("media_timeout");
                    }
                    Some(MediaEvent::MediaResumed | MediaEvent::Latched { .. } | MediaEvent::Rtcp(_) | MediaEvent::Closed(_)) | None => {}
                },
                _ = tokio::time::sleep_until(ivr_deadline.unwrap_or(far)), if ivr_deadline.is_some() => {
                    self.step(Input::Timeout);
                }
                _ = tokio::time::sleep_until(machine_deadline.unwrap_or(far)), if machine_deadline.is_some() => {
                    self.machine.handle_timeout(Instant::now());
                    self.perform_machine();
                }
                cue = next(&mut self.cues) => match cue {
                    Some(cue) => self.cue(cue),
                    None => self.cues = None,
                },
                cmd = self.desk_rx.recv() => {
                    if let Some((agent, cmd)) = cmd {
                        self.desk_command(agent, cmd);
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
        if let Some(st) = self.media.stats().await {
            tracing::info!(call_id = %self.call_id, stats = ?st, "call media");
        }
        self.media.close();
        self.env.finish_call(&self.call_id, cause);
        if let Some(cues) = booked {
            self.wait_for_callback(cues);
        } else {
            self.close_late_legs().await;
        }
    }

    /// Feed the call's state machine and carry out what it decides.
    pub(super) fn feed(&mut self, input: machine::Input) {
        self.machine.handle(input, Instant::now());
        self.perform_machine();
    }

    pub(super) fn perform_machine(&mut self) {
        while let Some(action) = self.machine.poll_action() {
            self.perform(action);
        }
    }

    /// After the caller is gone, legs whose set-up was still in flight are taken down when
    /// it finishes (for a bounded time), so no phone is left ringing.
    async fn close_late_legs(mut self) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        while !self.opening.is_empty() || !self.agents.is_empty() {
            tokio::select! {
                done = self.done_rx.recv() => match done {
                    Some(d) => self.done(d),
                    None => break,
                },
                _ = tokio::time::sleep_until(deadline) => break,
            }
        }
        for (_, a) in self.agents.drain() {
            a.close(self.env.endpoint.get(), None);
        }
        self.end_monitor("call_ended");
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
            self.perform_ivr(action);
        }
        self.refuse_pending_callback();
    }

    /// A prompt ended: the IVR's, the position announcement, one of the machine's, or the
    /// callback's.
    fn prompt_finished(&mut self, play_id: u64) {
        if let Some(id) = self.plays.remove(&play_id) {
            self.step(Input::PromptFinished(id));
        } else if self.announcing == Some(play_id) {
            self.announcing = None;
        } else if let Some(tag) = self.own_plays.remove(&play_id) {
            self.feed(machine::Input::PromptFinished { tag });
        } else if let Some((_, cause)) = self.farewell.filter(|(id, _)| *id == play_id) {
            self.hangup(cause);
        } else {
            self.callback_prompt_finished(play_id);
        }
    }

    fn recording_finished(&mut self, path: &std::path::Path, error: Option<&str>) {
        if self.call_recording_finished(path, error) {
            return;
        }
        self.voicemail_open = false;
        self.voicemail_recorded(path, error);
        if self.machine.recording_voicemail() {
            self.feed(machine::Input::RecordingFinished);
        } else {
            self.recording_until = None;
            self.step(Input::RecordingFinished);
        }
    }

    fn perform_ivr(&mut self, action: Action) {
        let m = &self.env;
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
                // The ticket the IVR identified, if any: the message is filed on it.
                self.facts.ticket = ticket;
                self.start_voicemail();
                self.recording_until =
                    Some(tokio::time::Instant::now() + Duration::from_secs(u64::from(max_secs)));
            }
            Action::StopRecording => {
                self.recording_until = None;
                self.media.stop_recording();
            }
            Action::Transfer { number } => self.ivr_transfer(number),
            Action::SurveyResult { score, ticket } => {
                if let Some(d) = self.desk() {
                    d.survey(&self.call_id, score);
                }
                self.record(Event::Survey { score, ticket })
            }
            Action::Hangup { .. } => {
                let after_agent = self.machine.phase() == &machine::Phase::AfterAgent;
                self.hangup(if after_agent {
                    "agent_hangup"
                } else {
                    "ivr_hangup"
                })
            }
            Action::Event(e) => {
                self.note_step(&e.node, &e.kind);
                self.record(Event::IvrStep {
                    node: e.node,
                    step: e.kind,
                })
            }
        }
    }

    /// Start recording the caller's message (the IVR's voicemail node, or a router outcome).
    pub(super) fn start_voicemail(&mut self) {
        let path = self
            .env
            .settings
            .database
            .spill_dir
            .with_file_name("voicemail")
            .join(format!("{}.wav", sanitize(&self.call_id)));
        if let Some(dir) = path.parent() {
            if let Err(e) = std::fs::create_dir_all(dir) {
                tracing::warn!(call_id = %self.call_id, dir = %dir.display(), error = %e, "voicemail directory cannot be created");
            }
        }
        self.voicemail_open = true;
        self.media.start_recording(path, RecordingMode::Mixed);
    }

    /// The call leaves the IVR for the router, with music on hold; with `callback_number` it
    /// waits as a virtual caller to be dialled back.
    pub(super) fn enqueue(&mut self, q: QueueRequest, callback_number: Option<String>) {
        let m = &self.env;
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
        self.limit_to_queue(&q.queue);
        self.queued = Some(q.clone());
        self.joining = Some(self.queued_call(&q, callback_number));
        self.pop = None;
        self.feed(machine::Input::Queue);
    }

    /// A queue with its own `max_call_s`: the call may last that long from its arrival.
    fn limit_to_queue(&mut self, queue: &str) {
        let limit = self.env.ivr.as_ref().and_then(|p| p.max_call.get(queue));
        if let Some(limit) = limit {
            let elapsed = crate::events::now_ms().saturating_sub(self.facts.arrived_ms);
            let left = limit.saturating_sub(Duration::from_millis(elapsed.max(0) as u64));
            tracing::debug!(call_id = %self.call_id, %queue, ?left, "the queue's maximum call length applies");
            self.machine.limit_length(Instant::now() + left);
        }
    }

    /// Keep the caller's path (nodes entered, the last menu choice) for the pop and the
    /// interaction row.
    fn note_step(&mut self, node: &str, kind: &crate::ivr::engine::IvrEventKind) {
        use crate::ivr::engine::IvrEventKind as K;
        match kind {
            K::NodeEntered { .. } => {
                self.facts.ivr.path.push(node.to_string());
                let plan = self.ivr.plan();
                if let Some(words) = plan
                    .node_index(node)
                    .and_then(|i| plan.nodes.get(i))
                    .and_then(|n| n.description.clone())
                {
                    self.facts.ivr.steps.push(words);
                }
            }
            K::Choice { next, .. } => self.facts.ivr.choice = Some(next.clone()),
            _ => {}
        }
    }

    fn reinvite(&mut self, leg: LegRef, sdp: Option<bytes::Bytes>) {
        self.local.session_version += 1;
        match sdp.as_deref().and_then(|b| answer_offer(b, &self.local)) {
            Some((answer, mut neg)) => {
                super::media_map::pin_to_source(&mut neg, self.media_pin);
                let held = is_hold(&neg);
                self.media.set_remote(neg);
                self.command(Command::AnswerReinvite(leg.leg, answer.into()));
                self.phone_hold(super::machine::Holder::Caller, held);
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
        if let Some(ep) = self.env.endpoint.get() {
            ep.command(shard, cmd);
        }
    }

    pub(super) fn record(&self, event: Event) {
        self.env.record(&self.call_id, event);
    }

    pub(super) fn router(&self) -> Option<&crate::acd::service::RouterHandle> {
        self.env.ivr.as_ref().and_then(|p| p.router.as_ref())
    }

    pub(super) fn desk(&self) -> Option<&std::sync::Arc<crate::desk::Desk>> {
        self.env.ivr.as_ref().and_then(|p| p.desk.as_ref())
    }

    pub(super) fn tell_router(&self, input: crate::acd::router::Input) {
        if let Some(r) = self.router() {
            r.send(input);
        }
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
