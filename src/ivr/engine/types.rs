//! What goes into and comes out of an IVR session: inputs from the call layer, actions for it to
//! perform, and the `IvrEvent`s that record each step of the caller's path.

use crate::ivr::crm::{CallerFacts, LookupKind, LookupResult};
use chrono::{DateTime, Utc};
use std::collections::BTreeMap;
use std::time::Instant;

/// The two clocks a step needs: monotonic for deadlines, wall (UTC) for business hours.
#[derive(Debug, Clone, Copy)]
pub struct Now {
    pub at: Instant,
    pub wall: DateTime<Utc>,
}

/// Identifies one `Play` action, so a late `PromptFinished` for an old prompt is ignored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PlayId(pub u32);

/// A prompt resolved to a language: the file is `prompts/<lang>/<name>.wav`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PromptRef {
    pub name: String,
    pub lang: String,
}

/// Fed to `Session::handle`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    /// The call was answered and media is up.
    Started,
    /// The prompts of that `Play` finished (not sent after `StopPlayback`, ignored if stale).
    PromptFinished(PlayId),
    /// A keypad digit (RFC 4733 or in-band): 0-9, *, #.
    Digit(char),
    /// `next_deadline()` has passed (ignored if it has not).
    Timeout,
    LookupResult(LookupResult),
    RecordingFinished,
    /// The agent left the call after an `Enqueue`: the survey starts, if the entry has one.
    AgentHungUp,
    /// The caller hung up.
    CallerHungUp,
}

/// What the caller waits in the queue (or gets called back) with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueRequest {
    pub queue: String,
    /// Skill name → minimum level.
    pub skills: BTreeMap<String, u8>,
    /// 0 normal … 10 most urgent.
    pub priority: u8,
    pub language: String,
    pub caller: String,
    pub called: String,
    pub vars: BTreeMap<String, String>,
    pub tags: Vec<String>,
    pub ticket: Option<String>,
}

/// Why the session asks for a hangup.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HangupCause {
    /// A hangup node was reached (its `reason`, if any, e.g. "closed").
    Dialplan {
        reason: Option<String>,
    },
    AfterVoicemail,
    AfterSurvey,
    /// The agent call ended and there is no survey.
    CallEnded,
    /// A transfer was refused and no `on_refused` node was given.
    TransferRefused,
    /// The plan led nowhere (cannot happen with a checked plan).
    PlanError,
}

/// Performed by the call layer, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Play prompts in sequence; if `barge_in`, a digit stops them (the session says `StopPlayback`).
    Play {
        id: PlayId,
        prompts: Vec<PromptRef>,
        barge_in: bool,
    },
    StopPlayback,
    /// Ask the CRM; answer with `Input::LookupResult`.
    Lookup {
        kind: LookupKind,
        value: String,
    },
    /// The call leaves the IVR for the router.
    Enqueue(QueueRequest),
    /// The caller accepted a callback to their own number (`caller`); the call goes on in the plan.
    CallbackRequested(QueueRequest),
    /// Record the caller, stored with the ticket; answer with `Input::RecordingFinished`.
    RecordVoicemail {
        max_secs: u32,
        ticket: Option<String>,
    },
    StopRecording,
    /// Blind transfer to an allow-listed E.164 number; the call leaves the IVR.
    Transfer {
        number: String,
    },
    SurveyResult {
        score: u8,
        ticket: Option<String>,
    },
    Hangup {
        cause: HangupCause,
    },
    Event(IvrEvent),
}

/// One step of a caller's path, for drop-out reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IvrEvent {
    pub node: String,
    pub kind: IvrEventKind,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "step", rename_all = "snake_case")]
pub enum IvrEventKind {
    NodeEntered {
        #[serde(rename = "node_kind")]
        kind: &'static str,
    },
    /// A menu choice that leads on.
    Choice {
        digit: char,
        next: String,
    },
    /// Digits collected (before validation).
    Digits {
        digits: String,
    },
    Invalid {
        input: String,
    },
    Timeout,
    /// A re-prompt; `attempt` counts from 2.
    Retry {
        attempt: u32,
    },
    /// Retries ran out.
    Fallback {
        to: String,
    },
    /// A branch rule matched (`rule` is its index) or the default was taken (`None`).
    Branch {
        rule: Option<usize>,
        to: String,
    },
    VarSet {
        name: String,
        value: String,
    },
    LanguageSet {
        lang: String,
    },
    LookupFound {
        #[serde(rename = "lookup")]
        kind: LookupKind,
    },
    LookupNotFound {
        #[serde(rename = "lookup")]
        kind: LookupKind,
    },
    LookupUnavailable {
        #[serde(rename = "lookup")]
        kind: LookupKind,
    },
    TicketTagged {
        ticket: String,
    },
    Enqueued {
        queue: String,
        priority: u8,
    },
    CallbackOffered,
    CallbackAccepted,
    CallbackDeclined,
    VoicemailRecorded,
    Transferred {
        number: String,
    },
    TransferRefused {
        number: String,
    },
    SurveyScore {
        score: u8,
    },
    SurveySkipped,
    /// The caller hung up while in the IVR (a drop-out at `node`).
    CallerHungUp,
    Hangup,
}

/// Who is calling and what is known about them when the session starts.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CallContext {
    pub caller: String,
    pub called: String,
    /// Facts from a screen-pop lookup the call layer may already have done.
    pub crm: CrmState,
}

/// What the session knows about the caller from the CRM.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum CrmState {
    /// Not asked yet: a branch that needs caller facts makes the session ask
    /// (`Lookup { kind: Caller }`) and wait for the answer.
    #[default]
    NotAsked,
    Found(CallerFacts),
    NotFound,
    /// The CRM did not answer; conditions on caller facts are false.
    Unavailable,
}
