//! What the call layer feeds the router ([`Input`]) and what it gets back ([`Action`]).
use super::explain::Explanation;
use crate::acd::types::*;
use serde::Serialize;

/// A ticket found for the caller (by the CRM screen-pop lookup) before queueing.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TicketInfo {
    /// Agent owning the ticket: offered the call first for the queue's
    /// `ticket_owner_first_s` if logged in.
    pub owner: Option<AgentId>,
    /// 0 (low) ..= 4 (critical); raises the call's priority by `ticket_priority_boost` each.
    pub priority: u8,
    /// The ticket's SLA is breached: priority += `sla_breach_boost`.
    pub sla_breached: bool,
}

/// A caller entering a queue.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct QueuedCall {
    pub call: CallId,
    pub queue: String,
    /// Extra skills this caller needs (skill name, minimum level), on top of the queue's.
    pub skills: Vec<(String, u8)>,
    /// Language the caller speaks: a language skill's name, or the IVR's language code (`en`,
    /// `es-MX`) matched to a language skill (see `acd::language`). Level 1 = basic is enough
    /// unless `skills` says more; a language no skill covers adds no requirement.
    pub language: Option<String>,
    /// Higher is served first; added to the queue's priority.
    pub priority: i32,
    /// Emergencies go before everything else.
    pub emergency: bool,
    pub ticket: Option<TicketInfo>,
    /// A callback request (e.g. from the web site): a virtual caller to be dialled back.
    pub callback_number: Option<String>,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Input {
    CallQueued(QueuedCall),
    /// The caller hung up (or a virtual callback was cancelled).
    CallAbandoned {
        call: CallId,
    },
    /// A connected call ended: the agent goes to wrap-up.
    CallEnded {
        call: CallId,
    },
    /// The caller pressed the callback key: they hang up, their place is kept.
    CallbackRequested {
        call: CallId,
        number: String,
    },
    /// Result of a [`Action::DialCallback`].
    CallbackResult {
        call: CallId,
        answered: bool,
    },
    AgentLogin {
        agent: AgentId,
        ready: bool,
    },
    /// Immediate when idle; after the current call and wrap-up otherwise.
    AgentLogout {
        agent: AgentId,
    },
    AgentReady {
        agent: AgentId,
    },
    /// Immediate unless on a call (then after wrap-up).
    AgentNotReady {
        agent: AgentId,
        reason: String,
    },
    Disposition {
        agent: AgentId,
        code: String,
    },
    OfferAnswered {
        call: CallId,
        agent: AgentId,
    },
    /// The agent declined: they stay available, the call is not offered to them again.
    OfferRejected {
        call: CallId,
        agent: AgentId,
    },
    /// The phone reported no answer (the router also runs its own RONA timer).
    OfferTimedOut {
        call: CallId,
        agent: AgentId,
    },
    /// Phone registration lapsed or browser socket closed.
    AgentDisconnected {
        agent: AgentId,
    },
    /// Registration or socket back (also needed after [`super::Router::restore`]).
    AgentConnected {
        agent: AgentId,
    },
    /// A supervisor sets a waiting caller's own priority (the queue's is added as usual).
    SetPriority {
        call: CallId,
        priority: i32,
    },
    /// A supervisor moves a waiting caller to another queue.
    MoveCall {
        call: CallId,
        queue: String,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum StopReason {
    CallerHungUp,
    AnsweredElsewhere,
    NoAnswer,
    Rejected,
    AgentDisconnected,
    AgentLoggedOut,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum OverflowReason {
    WaitedTooLong,
    NoAgents,
    MaxWait,
    QueueFull,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "action", rename_all = "kebab-case")]
pub enum Action {
    /// Ring these agents (several only for ring-all) for at most `ring_ms`.
    Offer {
        call: CallId,
        agents: Vec<AgentId>,
        ring_ms: Millis,
        explanation: Explanation,
    },
    StopRinging {
        call: CallId,
        agent: AgentId,
        reason: StopReason,
    },
    /// Tell the caller their position (1 = next) and expected wait.
    Announce {
        call: CallId,
        position: u32,
        ewt_ms: Option<Millis>,
    },
    Overflow {
        call: CallId,
        from: String,
        to: String,
        reason: OverflowReason,
    },
    /// The caller waited the queue's maximum: play voicemail / busy, or offer a callback
    /// (for `callback` the caller stays queued until they accept or hang up).
    MaxWaitOutcome { call: CallId, outcome: OutcomeKind },
    /// The queue is full: the caller was not queued (voicemail/busy), or was queued and
    /// should be offered a callback.
    QueueFull { call: CallId, outcome: OutcomeKind },
    /// Offer the caller to be called back (press a key) keeping their place.
    OfferCallback {
        call: CallId,
        ewt_ms: Option<Millis>,
    },
    /// The agent is reserved (see the `Reserved` state change): dial the customer back and
    /// report [`Input::CallbackResult`].
    DialCallback {
        call: CallId,
        agent: AgentId,
        number: String,
        attempt: u32,
        /// The router counts the attempt as unanswered after this long.
        ring_ms: Millis,
    },
    /// The callback is taken (the number is allowed): the caller may hang up, their place is
    /// kept by a virtual call.
    CallbackBooked { call: CallId, number: String },
    /// All dial attempts failed; the callback is dropped.
    CallbackFailed { call: CallId, attempts: u32 },
    /// The number is not permitted; the caller stays queued.
    CallbackRefused { call: CallId, reason: String },
    /// Persist this: it is what [`super::Router::restore`] needs after a restart.
    AgentStateChanged {
        agent: AgentId,
        state: AgentStatus,
        reason: Option<String>,
        call: Option<CallId>,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AcdError {
    #[error("unknown call `{0}`")]
    UnknownCall(CallId),
    #[error("call `{0}` is already queued")]
    DuplicateCall(CallId),
    #[error("unknown agent `{0}`; agents come from agents.toml")]
    UnknownAgent(AgentId),
    #[error("unknown queue `{0}`")]
    UnknownQueue(String),
    #[error("unknown skill `{0}`")]
    UnknownSkill(String),
    #[error("skill level {0} is out of range 1..=5")]
    BadLevel(u8),
    #[error("call `{call}` is not ringing agent `{agent}` (offer withdrawn or taken)")]
    StaleOffer { call: CallId, agent: AgentId },
    #[error("agent `{agent}` cannot do that while {state}")]
    BadState { agent: AgentId, state: &'static str },
    #[error("agent `{0}` must record a disposition before becoming ready")]
    DispositionRequired(AgentId),
    #[error("call `{0}` is not in a state that allows this")]
    BadCallState(CallId),
}
