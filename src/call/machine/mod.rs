//! One call as a sans-IO state machine, in the style of the protocol cores (quinn-proto's
//! `Connection`, str0m's `Rtc`): the driver feeds it what happened ([`Input`]) with the time,
//! takes the decisions it made ([`Action`], with [`CallMachine::poll_action`]) and wakes it at
//! [`CallMachine::poll_timeout`]. It does no I/O and never waits: a CRM pop, a WebRTC leg being
//! opened, a phone being dialled are actions whose results come back as inputs, so a hang-up is
//! seen at once whatever is in flight.
//!
//! The call has an explicit [`Phase`] and any number of legs ([`legs::Legs`]: the caller, the
//! agents being offered the call — several at once for ring-all — the agent talking, a
//! supervisor), each with its own [`LegPhase`], and a map of who hears whom
//! ([`legs::Hears`]).
//!
//! What this machine decides: joining the queue, offers (one leg per offered agent; the first
//! to answer wins, the others are cancelled "completed elsewhere"; a late answer is hung up),
//! the agent's part and its end, the router's outcomes (voicemail, busy), supervisor legs, and
//! the caller's hang-up in any phase. The IVR itself is the IVR engine's (`crate::ivr::engine`,
//! also sans-IO); the driver performs the engine's actions and tells this machine when the
//! engine queues the call or finishes.

pub mod callback;
pub mod legs;
mod outcome;
#[cfg(test)]
mod tests;

use crate::acd::router::{Input as RouterInput, StopReason};
use crate::acd::service::{Cue, OutcomeCause};
use crate::acd::types::{AgentId, CallId, OutcomeKind};
pub use legs::{Hears, Leg, LegId, LegPhase, Legs, Role};
pub use outcome::{OutcomeStep, VOICEMAIL_MAX};
use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// Which phone asked for hold (a re-INVITE holding its side).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Holder {
    Caller,
    Agent,
}

/// Where the call stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Phase {
    /// In the dialplan (the IVR engine drives the caller).
    Ivr,
    /// Queued by the IVR, waiting for the CRM's ticket before joining the router's queue.
    Joining,
    /// In the router's queue; the outstanding offers are the ringing agent legs.
    Queued,
    /// An agent answered: caller and agent hear each other.
    Talking { agent: LegId },
    /// The agent's part is over; the IVR goes on (survey) or hangs up.
    AfterAgent,
    /// The router took the call out of its queue and the caller hears its outcome.
    Outcome {
        kind: OutcomeKind,
        step: OutcomeStep,
    },
    /// A callback was booked: the caller hears goodbye, the booking keeps their place.
    CallbackBooked,
    /// The caller has left; the booking waits in the queue for an agent to be reserved.
    CallbackPending,
    /// An agent is reserved and the customer is being dialled back (`attempt` from 1).
    Dialling { attempt: u32 },
    /// The caller is gone (or we hung up); only clean-up remains.
    Ended,
}

/// What happened, as the driver saw it.
#[derive(Debug, Clone, PartialEq)]
pub enum Input {
    /// The IVR engine queued the call (music has started).
    Queue,
    /// The CRM said which ticket routes the call (or gave up): the call joins the router.
    TicketKnown,
    /// A decision of the router about this call.
    Cue(Cue),
    /// The CRM pop asked for by [`Action::Pop`] is ready (or gave up).
    PopReady,
    /// The agent or supervisor leg asked for by [`Action::Ring`] rings (`Ok`), or could not be
    /// set up (no phone, no page, no media).
    RingStarted {
        leg: LegId,
        result: Result<(), String>,
    },
    /// The phone answered (200 OK), or the page's answer was accepted.
    LegAnswered { leg: LegId },
    /// The leg failed or ended (`answered` the leg was up before).
    LegGone { leg: LegId, why: LegGoneWhy },
    /// The agent's page rejected the offer.
    DeskReject { agent: String },
    /// The agent's page hangs up an answered call.
    DeskHangup { agent: String },
    /// A supervisor asks to monitor (listen, whisper, barge) the answered call.
    MonitorStart { supervisor: String },
    /// A supervisor stops monitoring.
    MonitorStop { supervisor: String },
    /// A prompt this machine asked for ([`Action::PlayPrompt`]) ended.
    PromptFinished { tag: PromptTag },
    /// The message the caller left ([`Action::Record`]) is closed.
    RecordingFinished,
    /// A digit from the caller (only digits this machine wants are passed here).
    Digit(char),
    /// The caller hung up.
    CallerHungUp,
    /// The IVR engine ended the call (its hangup node, or after the survey).
    IvrHungUp,
}

/// Why an agent or supervisor leg went away.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LegGoneWhy {
    /// The phone refused or did not answer (a final non-2xx), or the page went away unanswered.
    Failed,
    /// The leg ended (BYE), answered or not.
    Ended,
}

/// The prompts this machine plays itself (the IVR's own are the engine's).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PromptTag {
    /// Before the message is recorded (router outcome voicemail).
    LeaveMessage,
    /// After the message is saved.
    MessageSaved,
    /// The queue is full or the wait too long, outcome busy.
    Busy,
}

impl PromptTag {
    /// The prompt's name in the prompt library.
    pub fn prompt(self) -> &'static str {
        match self {
            PromptTag::LeaveMessage => "leave_message",
            PromptTag::MessageSaved => "message_saved",
            PromptTag::Busy => "queue_busy",
        }
    }
}

/// How an offer ends for the agent's phone and page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Withdrawn {
    /// Another agent answered (ring-all): CANCEL carries RFC 3326
    /// `Reason: SIP;cause=200;text="Call completed elsewhere"` so phones log no missed call.
    AnsweredElsewhere,
    CallerHungUp,
    NoAnswer,
    Rejected,
    /// The router took the offer back for another reason (agent logged out, disconnected).
    Withdrawn,
}

impl Withdrawn {
    /// The name the agent's page is told.
    pub fn name(self) -> &'static str {
        match self {
            Withdrawn::AnsweredElsewhere => "answered-elsewhere",
            Withdrawn::CallerHungUp => "caller-hung-up",
            Withdrawn::NoAnswer => "no-answer",
            Withdrawn::Rejected => "rejected",
            Withdrawn::Withdrawn => "withdrawn",
        }
    }

    /// What the name means, as the agent's page shows it ("Call withdrawn: …").
    pub fn words(self) -> &'static str {
        match self {
            Withdrawn::AnsweredElsewhere => "answered by another agent",
            Withdrawn::CallerHungUp => "the caller hung up",
            Withdrawn::NoAnswer => "not answered in time",
            Withdrawn::Rejected => "you rejected it",
            Withdrawn::Withdrawn => {
                "taken back by routing (you logged out or your page disconnected)"
            }
        }
    }

    fn from_router(r: StopReason) -> Withdrawn {
        match r {
            StopReason::AnsweredElsewhere => Withdrawn::AnsweredElsewhere,
            StopReason::CallerHungUp => Withdrawn::CallerHungUp,
            StopReason::NoAnswer => Withdrawn::NoAnswer,
            StopReason::Rejected => Withdrawn::Rejected,
            StopReason::AgentDisconnected | StopReason::AgentLoggedOut => Withdrawn::Withdrawn,
        }
    }
}

/// What the machine decided; the driver carries each out in order.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// Ask the CRM which ticket routes the call; answer with [`Input::TicketKnown`].
    FindTicket,
    /// Put the call in the router's queue (with the ticket found, if any).
    EnterRouter,
    /// Build the screen-pop; answer with [`Input::PopReady`].
    Pop,
    /// Ring this agent's phone or page (or the supervisor's phone) on a new leg; answer with
    /// [`Input::RingStarted`], then the leg's events.
    Ring { leg: LegId, role: Role },
    /// Show the offer (with the pop) on the agent's page.
    ShowOffer { leg: LegId, agent: String },
    /// Take an unanswered leg down (CANCEL; a crossing 200 gets ACK and BYE from the SIP leg)
    /// and withdraw the offer from the agent's page.
    Cancel { leg: LegId, why: Withdrawn },
    /// Take an answered leg down (BYE) and release its media.
    HangUpLeg { leg: LegId },
    /// The agent answered: stop the music, bridge caller and agent, start recording if the
    /// queue records, show the call on the agent's page.
    Connect { leg: LegId, agent: String },
    /// The agent's part is over (`by`: agent, caller, transfer): unbridge, stop recording, hand
    /// the interaction to the agent's page for wrap-up.
    EndAgentPart { leg: LegId, by: &'static str },
    /// The supervisor's leg answered: join the conference with their role.
    JoinMonitor { leg: LegId },
    /// Tell the router.
    Router(RouterInput),
    /// Tell the IVR engine the agent hung up (the survey, if any, follows).
    IvrAgentHungUp,
    /// Play one of this machine's prompts (stops the music first).
    PlayPrompt(PromptTag),
    /// Record the caller's message for at most this long.
    Record { max: Duration },
    /// Stop the recording (the caller pressed `#`, or the time is up).
    StopRecording,
    /// The router decided the call's outcome: store `call.outcome` and count it.
    OutcomeDecided {
        kind: OutcomeKind,
        cause: OutcomeCause,
    },
    /// Hang the caller up, stored with this end cause.
    HangUpCaller { cause: &'static str },
    /// Store the abandoned call's interaction (the caller left before an agent answered).
    Abandoned,
}

/// One call's state machine (see the module docs).
pub struct CallMachine {
    call: CallId,
    phase: Phase,
    legs: Legs,
    caller: LegId,
    hears: Hears,
    actions: VecDeque<Action>,
    /// The pop is being built: offers wait for it before ringing.
    pop_pending: bool,
    /// A pop is ready for offers made after it.
    pop_ready: bool,
    /// The caller was in the router's queue (it must hear of the end).
    in_router: bool,
    /// The voicemail recording's deadline.
    recording_until: Option<Instant>,
    /// The call's maximum length runs out: the caller is hung up (`max_call_length`).
    max_until: Option<Instant>,
}

impl CallMachine {
    /// A call whose caller leg is answered and in the IVR.
    pub fn new(call: CallId) -> CallMachine {
        let mut legs = Legs::default();
        let caller = legs.add(Role::Caller, LegPhase::Answered);
        CallMachine {
            call,
            phase: Phase::Ivr,
            legs,
            caller,
            hears: Hears::default(),
            actions: VecDeque::new(),
            pop_pending: false,
            pop_ready: false,
            in_router: false,
            recording_until: None,
            max_until: None,
        }
    }

    /// The router asks for the customer of a pending callback to be dialled.
    pub fn dialling(&mut self, attempt: u32) {
        if matches!(self.phase, Phase::CallbackPending | Phase::Dialling { .. }) {
            self.phase = Phase::Dialling { attempt };
        }
    }

    /// The attempt was not answered: the booking waits for the router's next try.
    pub fn dial_failed(&mut self) {
        if matches!(self.phase, Phase::Dialling { .. }) {
            self.phase = Phase::CallbackPending;
        }
    }

    /// The customer answered the callback: their new leg is the call's caller, already in the
    /// router's queue, where the offer to the reserved agent is waiting.
    pub fn called_back(&mut self) {
        if matches!(self.phase, Phase::Dialling { .. }) {
            self.legs.set(self.caller, LegPhase::Ended);
            self.caller = self.legs.add(Role::Caller, LegPhase::Answered);
            self.phase = Phase::Queued;
            self.in_router = true;
            self.pop_ready = false;
            self.pop_pending = false;
        }
    }

    /// Every attempt failed: the callback is over.
    pub fn callback_failed(&mut self) {
        if matches!(self.phase, Phase::CallbackPending | Phase::Dialling { .. }) {
            self.phase = Phase::Ended;
        }
    }

    pub fn phase(&self) -> &Phase {
        &self.phase
    }

    pub fn legs(&self) -> &Legs {
        &self.legs
    }

    pub fn hears(&self) -> &Hears {
        &self.hears
    }

    pub fn caller_leg(&self) -> LegId {
        self.caller
    }

    /// The agent talking to the caller, if any.
    pub fn talking(&self) -> Option<(LegId, &str)> {
        match self.phase {
            Phase::Talking { agent } => self.legs.agent_name(agent).map(|n| (agent, n)),
            _ => None,
        }
    }

    /// The leg of `role` that is not over, if any.
    pub fn leg_of(&self, role: &Role) -> Option<LegId> {
        self.legs.find(role)
    }

    /// The next decision to carry out.
    pub fn poll_action(&mut self) -> Option<Action> {
        self.actions.pop_front()
    }

    /// The call may last until `until` (`[media] max_call_s` after it started); then the
    /// caller is hung up with the end cause `max_call_length`, whatever the phase.
    pub fn limit_length(&mut self, until: Instant) {
        self.max_until = Some(until);
    }

    /// When to call [`CallMachine::handle_timeout`].
    pub fn poll_timeout(&self) -> Option<Instant> {
        match (self.recording_until, self.max_until) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    pub fn handle_timeout(&mut self, now: Instant) {
        if self.recording_until.is_some_and(|t| t <= now) {
            self.recording_until = None;
            self.emit(Action::StopRecording);
        }
        if self.max_until.is_some_and(|t| t <= now) {
            self.max_until = None;
            if self.phase != Phase::Ended {
                self.emit(Action::HangUpCaller {
                    cause: "max_call_length",
                });
            }
        }
    }

    fn emit(&mut self, a: Action) {
        self.actions.push_back(a);
    }

    fn router(&mut self, input: RouterInput) {
        self.emit(Action::Router(input));
    }

    fn agent_id(name: &str) -> AgentId {
        AgentId::from(name)
    }

    pub fn handle(&mut self, input: Input, now: Instant) {
        if self.phase == Phase::Ended {
            self.after_end(input);
            return;
        }
        match input {
            Input::Queue => self.queue(),
            Input::TicketKnown => {
                if self.phase == Phase::Joining {
                    self.phase = Phase::Queued;
                    self.in_router = true;
                    self.emit(Action::EnterRouter);
                }
            }
            Input::Cue(cue) => self.cue(cue, now),
            Input::PopReady => self.pop_ready(),
            Input::RingStarted { leg, result } => self.ring_started(leg, result),
            Input::LegAnswered { leg } => self.leg_answered(leg),
            Input::LegGone { leg, why } => self.leg_gone(leg, why),
            Input::DeskReject { agent } => {
                if let Some(leg) = self.unanswered_offer(&agent) {
                    self.cancel(leg, Withdrawn::Rejected);
                    self.router(RouterInput::OfferRejected {
                        call: self.call.clone(),
                        agent: Self::agent_id(&agent),
                    });
                }
            }
            Input::DeskHangup { agent } => {
                if let Some((leg, name)) = self.talking() {
                    if name == agent {
                        self.end_agent_part(leg, "agent");
                        self.after_agent();
                    }
                }
            }
            Input::MonitorStart { supervisor } => self.monitor_start(supervisor),
            Input::MonitorStop { supervisor } => {
                if let Some(leg) = self.legs.find(&Role::Supervisor(supervisor)) {
                    self.drop_leg(leg);
                }
            }
            Input::PromptFinished { tag } => self.outcome_prompt_finished(tag, now),
            Input::RecordingFinished => self.outcome_recorded(),
            Input::Digit(d) => {
                if d == '#' && self.recording_until.is_some() {
                    self.recording_until = None;
                    self.emit(Action::StopRecording);
                }
            }
            Input::CallerHungUp => self.caller_gone(),
            Input::IvrHungUp => {
                self.caller_gone();
            }
        }
    }

    /// The call is over: only late results need answering (a leg that started ringing after
    /// the caller left is taken down at once).
    fn after_end(&mut self, input: Input) {
        match input {
            Input::RingStarted {
                leg,
                result: Ok(()),
            } => {
                self.legs.set(leg, LegPhase::Ending);
                self.emit(Action::Cancel {
                    leg,
                    why: Withdrawn::CallerHungUp,
                });
            }
            Input::LegAnswered { leg } => {
                self.legs.set(leg, LegPhase::Ending);
                self.emit(Action::HangUpLeg { leg });
            }
            Input::RingStarted {
                leg,
                result: Err(_),
            }
            | Input::LegGone { leg, .. } => self.legs.set(leg, LegPhase::Ended),
            _ => {}
        }
    }

    fn queue(&mut self) {
        // Queued again after a callback refused in the IVR (the router dropped the request).
        let requeue = self.phase == Phase::Queued && self.legs.offers().is_empty();
        if requeue || matches!(self.phase, Phase::Ivr | Phase::AfterAgent) {
            self.phase = Phase::Joining;
            self.emit(Action::FindTicket);
        }
    }

    fn cue(&mut self, cue: Cue, now: Instant) {
        match cue {
            Cue::Offer { agent, .. } => self.offer(agent),
            Cue::StopRinging { agent, reason } => {
                if let Some(leg) = self.unanswered_offer(&agent) {
                    self.cancel(leg, Withdrawn::from_router(reason));
                }
            }
            Cue::Outcome { outcome, cause } => self.outcome(outcome, cause, now),
            // These are about what the caller hears while waiting, and the callback flow:
            // the driver carries them out with the call's media (see `crate::call`).
            Cue::Announce { .. } | Cue::QueueChanged { .. } | Cue::Callback(_) => {}
        }
    }

    /// The router offers the call to `agent`: a new leg, rung once the pop is ready.
    fn offer(&mut self, agent: String) {
        if self.phase != Phase::Queued {
            // Answered already (the router's offer crossed the answer) or leaving: refuse.
            self.router(RouterInput::OfferRejected {
                call: self.call.clone(),
                agent: Self::agent_id(&agent),
            });
            return;
        }
        let role = Role::Agent(agent);
        if self.legs.find(&role).is_some() {
            return;
        }
        let leg = self.legs.add(role.clone(), LegPhase::Waiting);
        if self.pop_ready {
            self.ring(leg);
        } else if !self.pop_pending {
            self.pop_pending = true;
            self.emit(Action::Pop);
        }
    }

    fn pop_ready(&mut self) {
        self.pop_pending = false;
        self.pop_ready = true;
        for leg in self.legs.in_phase(LegPhase::Waiting) {
            self.ring(leg);
        }
    }

    fn ring(&mut self, leg: LegId) {
        let Some(role) = self.legs.role(leg).cloned() else {
            return;
        };
        self.legs.set(leg, LegPhase::Opening);
        self.emit(Action::Ring { leg, role });
    }

    fn ring_started(&mut self, leg: LegId, result: Result<(), String>) {
        let Some(role) = self.legs.role(leg).cloned() else {
            return;
        };
        if self.legs.phase(leg) != Some(LegPhase::Opening) {
            // Cancelled while it was being set up: take it down now that it exists.
            if result.is_ok() {
                self.emit(Action::Cancel {
                    leg,
                    why: Withdrawn::Withdrawn,
                });
            }
            return;
        }
        match (result, role) {
            (Ok(()), Role::Agent(agent)) => {
                self.legs.set(leg, LegPhase::Ringing);
                self.emit(Action::ShowOffer { leg, agent });
            }
            (Ok(()), _) => self.legs.set(leg, LegPhase::Ringing),
            (Err(_), Role::Agent(agent)) => {
                self.legs.set(leg, LegPhase::Ended);
                self.router(RouterInput::OfferRejected {
                    call: self.call.clone(),
                    agent: Self::agent_id(&agent),
                });
            }
            (Err(_), _) => self.legs.set(leg, LegPhase::Ended),
        }
    }

    fn leg_answered(&mut self, leg: LegId) {
        let live = matches!(
            self.legs.phase(leg),
            Some(LegPhase::Ringing | LegPhase::Opening)
        );
        match self.legs.role(leg).cloned() {
            Some(Role::Agent(agent)) if live && self.phase == Phase::Queued => self.win(leg, agent),
            Some(Role::Supervisor(_)) if live && matches!(self.phase, Phase::Talking { .. }) => {
                self.legs.set(leg, LegPhase::Answered);
                if let Phase::Talking { agent } = self.phase {
                    self.hears.monitor(leg, self.caller, agent);
                }
                self.emit(Action::JoinMonitor { leg });
            }
            // A second answer (glare: its 200 crossed the winner's), or an answer after the
            // offer was taken back: never a second bridge.
            _ => {
                self.legs.set(leg, LegPhase::Ending);
                self.emit(Action::HangUpLeg { leg });
            }
        }
    }

    /// `leg` answered first: it is bridged, every other offer is cancelled.
    fn win(&mut self, leg: LegId, agent: String) {
        self.legs.set(leg, LegPhase::Answered);
        self.phase = Phase::Talking { agent: leg };
        for other in self.legs.offers() {
            if other != leg {
                self.legs.set(other, LegPhase::Ending);
                self.emit(Action::Cancel {
                    leg: other,
                    why: Withdrawn::AnsweredElsewhere,
                });
            }
        }
        self.hears.bridge(self.caller, leg);
        self.emit(Action::Connect {
            leg,
            agent: agent.clone(),
        });
        self.router(RouterInput::OfferAnswered {
            call: self.call.clone(),
            agent: Self::agent_id(&agent),
        });
    }

    fn leg_gone(&mut self, leg: LegId, _why: LegGoneWhy) {
        let before = self.legs.phase(leg);
        self.legs.set(leg, LegPhase::Ended);
        self.hears.remove(leg);
        match (self.legs.role(leg).cloned(), before) {
            (Some(Role::Agent(agent)), Some(LegPhase::Answered)) => {
                if self.phase == (Phase::Talking { agent: leg }) {
                    self.end_agent_part(leg, "agent");
                    self.after_agent();
                }
                let _ = agent;
            }
            (Some(Role::Agent(agent)), Some(LegPhase::Ringing | LegPhase::Opening)) => {
                // The phone refused, or stopped ringing by itself: the router goes on.
                self.emit(Action::Cancel {
                    leg,
                    why: Withdrawn::NoAnswer,
                });
                self.router(RouterInput::OfferRejected {
                    call: self.call.clone(),
                    agent: Self::agent_id(&agent),
                });
            }
            (Some(Role::Supervisor(_)), Some(LegPhase::Answered | LegPhase::Ringing)) => {
                self.emit(Action::HangUpLeg { leg });
            }
            _ => {}
        }
    }

    fn unanswered_offer(&self, agent: &str) -> Option<LegId> {
        self.legs
            .find(&Role::Agent(agent.to_string()))
            .filter(|l| self.legs.phase(*l) != Some(LegPhase::Answered))
    }

    fn cancel(&mut self, leg: LegId, why: Withdrawn) {
        let phase = self.legs.phase(leg);
        self.legs.set(leg, LegPhase::Ending);
        match phase {
            // Nothing rings yet: the leg is simply forgotten (a late RingStarted takes it down).
            Some(LegPhase::Waiting) => self.legs.set(leg, LegPhase::Ended),
            Some(LegPhase::Opening | LegPhase::Ringing) => {
                self.emit(Action::Cancel { leg, why });
            }
            _ => {}
        }
    }

    /// Take a leg down whatever its phase.
    fn drop_leg(&mut self, leg: LegId) {
        match self.legs.phase(leg) {
            Some(LegPhase::Answered) => {
                self.legs.set(leg, LegPhase::Ending);
                self.hears.remove(leg);
                self.emit(Action::HangUpLeg { leg });
            }
            Some(LegPhase::Waiting | LegPhase::Opening | LegPhase::Ringing) => {
                self.cancel(leg, Withdrawn::Withdrawn)
            }
            _ => {}
        }
    }

    fn end_agent_part(&mut self, leg: LegId, by: &'static str) {
        for s in self.legs.supervisors() {
            self.drop_leg(s);
        }
        self.hears.remove(leg);
        if self.legs.phase(leg) == Some(LegPhase::Answered) {
            self.legs.set(leg, LegPhase::Ending);
        }
        self.emit(Action::EndAgentPart { leg, by });
        if std::mem::take(&mut self.in_router) {
            self.router(RouterInput::CallEnded {
                call: self.call.clone(),
            });
        }
    }

    fn after_agent(&mut self) {
        self.phase = Phase::AfterAgent;
        self.emit(Action::IvrAgentHungUp);
    }

    fn monitor_start(&mut self, supervisor: String) {
        if !matches!(self.phase, Phase::Talking { .. }) {
            return;
        }
        let role = Role::Supervisor(supervisor);
        if self.legs.find(&role).is_some() || !self.legs.supervisors().is_empty() {
            return;
        }
        let leg = self.legs.add(role.clone(), LegPhase::Opening);
        self.emit(Action::Ring { leg, role });
    }

    /// The caller is gone (hung up, or the IVR or an outcome ended the call).
    fn caller_gone(&mut self) {
        self.max_until = None;
        let was = std::mem::replace(&mut self.phase, Phase::Ended);
        self.legs.set(self.caller, LegPhase::Ended);
        match was {
            Phase::Talking { agent } => self.end_agent_part(agent, "caller"),
            Phase::Queued | Phase::Joining => {
                for leg in self.legs.offers() {
                    self.cancel(leg, Withdrawn::CallerHungUp);
                }
                for leg in self.legs.in_phase(LegPhase::Waiting) {
                    self.legs.set(leg, LegPhase::Ended);
                }
                if std::mem::take(&mut self.in_router) {
                    self.router(RouterInput::CallAbandoned {
                        call: self.call.clone(),
                    });
                }
                self.emit(Action::Abandoned);
            }
            Phase::Outcome { .. } => {
                if self.recording_until.take().is_some() {
                    self.emit(Action::StopRecording);
                }
            }
            Phase::CallbackBooked => {
                // The booking outlives the caller's leg: the call waits to be dialled back.
                self.phase = Phase::CallbackPending;
            }
            Phase::Ivr
            | Phase::AfterAgent
            | Phase::CallbackPending
            | Phase::Dialling { .. }
            | Phase::Ended => {}
        }
        for s in self.legs.supervisors() {
            self.drop_leg(s);
        }
    }

    /// The callback is booked: the caller hears goodbye and leaves; the router keeps the
    /// booking (it is not told the call ended).
    pub fn callback_booked(&mut self) {
        if matches!(self.phase, Phase::Queued | Phase::Joining | Phase::Ivr) {
            for leg in self.legs.offers() {
                self.cancel(leg, Withdrawn::Withdrawn);
            }
            self.in_router = false;
            self.phase = Phase::CallbackBooked;
            // The caller leaves after the goodbye; the call dialled back has its own limit.
            self.max_until = None;
        }
    }

    /// The agent transfers the caller back to a queue: the agent's part ends (wrap-up) and the
    /// call waits again.
    pub fn transfer(&mut self) -> bool {
        let Phase::Talking { agent } = self.phase else {
            return false;
        };
        self.end_agent_part(agent, "transfer");
        self.phase = Phase::Queued;
        self.in_router = true;
        self.pop_ready = false;
        true
    }
}

#[cfg(test)]
pub(crate) mod harness;
