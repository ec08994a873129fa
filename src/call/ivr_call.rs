//! The task that runs one answered call through its dialplan: it feeds the sans-IO IVR engine
//! the caller's digits, prompt ends, timeouts and CRM answers, and performs what the engine asks
//! (play prompts on the call's RTP session, queue the call with music on hold, record a
//! message, hang up), recording every step as an event.

use super::media_map::{answer_offer, is_hold};
use super::CallManager;
use crate::events::Event;
use crate::ivr::crm::LookupResult;
use crate::ivr::engine::{Action, Input, Now, PlayId, QueueRequest, Session as Ivr};
use crate::media::{MediaEvent, MediaSession, RecordingMode};
use crate::sip::endpoint::{Command, LegRef};
use crate::sip::leg::{EndCause, EndedBy, LegEvent};
use crate::sip::message::{Method, Response};
use crate::sip::sdp_negotiate::LocalMedia;
use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::mpsc::{Receiver, UnboundedReceiver};

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
                            let status = if matches!(request.method, Method::Options | Method::Info) { 200 } else { 405 };
                            let mut resp = Response::for_request(&request, status, "");
                            if status == 405 {
                                resp.headers.set("allow", crate::sip::endpoint::ALLOW);
                            }
                            self.command(Command::Respond(tx, resp));
                        }
                        LegEvent::Ended { by, cause } => {
                            if by == EndedBy::Remote {
                                self.step(Input::CallerHungUp);
                            }
                            break match (self.hung_up_by_us, by, cause) {
                                (Some(why), _, _) => why,
                                (None, EndedBy::Remote, EndCause::Bye) => "caller_hangup",
                                (None, EndedBy::Local, EndCause::Bye) => "server_hangup",
                                (None, _, EndCause::AckTimeout) => "no_ack",
                                _ => "failed",
                            };
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
                _ = tokio::time::sleep_until(recording_until), if self.recording_until.is_some() => {
                    self.recording_until = None;
                    self.media.stop_recording();
                }
            }
        };
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
            Action::Hangup { .. } => self.hangup("ivr_hangup"),
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
