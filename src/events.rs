//! The one typed event stream every part of the server emits. Records, KPIs, metrics and
//! dashboards are derived from these; the store keeps them append-only as [`EventRecord`]s.

use crate::store::EventRecord;
use serde::Serialize;

/// Something that happened, with the facts reports need. The serde tag is the stored `kind`.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "kind")]
pub enum Event {
    /// A caller's INVITE was accepted for a support number.
    #[serde(rename = "call.arrived")]
    CallArrived {
        caller: String,
        called: String,
        transport: &'static str,
        /// Whether `caller` came from a trusted trunk's P-Asserted-Identity.
        asserted: bool,
    },
    /// We answered the caller (200 OK sent).
    #[serde(rename = "call.answered")]
    CallAnswered {},
    /// The call's media was put on hold or taken off hold by the caller.
    #[serde(rename = "call.hold")]
    CallHold { held: bool },
    /// The call ended; `cause` is one of: caller_hangup, server_hangup, cancelled,
    /// no_ack, media_timeout, shutdown, failed; server_lost is stored by the next start for
    /// calls a server run left open (see `store::ownership`).
    #[serde(rename = "call.ended")]
    CallEnded { cause: String },
    /// A call refused before answer (404 unknown number, 488 codecs, 503 overload…).
    #[serde(rename = "call.rejected")]
    CallRejected {
        status: u16,
        caller: String,
        called: String,
    },
    /// An outgoing leg (to an agent phone or a trunk) changed state.
    #[serde(rename = "leg.state")]
    LegState {
        leg: String,
        target: String,
        state: String,
        status: Option<u16>,
    },
    /// One step of the caller's path through the IVR (node entered, digits, choice, timeout…).
    #[serde(rename = "ivr.step")]
    IvrStep {
        node: String,
        #[serde(flatten)]
        step: crate::ivr::engine::IvrEventKind,
    },
    /// The IVR put the call in a queue.
    #[serde(rename = "call.queued")]
    CallQueued {
        queue: String,
        skills: std::collections::BTreeMap<String, u8>,
        priority: u8,
        language: String,
        ticket: Option<String>,
        tags: Vec<String>,
    },
    /// An agent's phone (and page) rang for the call.
    #[serde(rename = "call.offered")]
    CallOffered { agent: String, queue: String },
    /// The agent answered: caller and agent are talking. `wait_ms`: queued → answered.
    #[serde(rename = "call.connected")]
    CallConnected {
        agent: String,
        queue: String,
        wait_ms: i64,
    },
    /// The agent's part of the call ended (`by` agent or caller).
    #[serde(rename = "call.agent_ended")]
    CallAgentEnded {
        agent: String,
        queue: String,
        talk_ms: i64,
        hold_ms: i64,
        by: String,
    },
    /// A queued caller hung up before any agent answered.
    #[serde(rename = "call.abandoned")]
    CallAbandoned { queue: String, wait_ms: i64 },
    /// The router took the call out of its queue (`cause`: max_wait, queue_full) and the caller
    /// was given its `outcome` (voicemail, busy).
    #[serde(rename = "call.outcome")]
    CallOutcome {
        queue: String,
        outcome: String,
        cause: String,
    },
    /// The caller asked to be called back instead of waiting.
    #[serde(rename = "call.callback_requested")]
    CallbackRequested { queue: String, number: String },
    /// The caller's number may not be called back (`reason`); they stay queued.
    #[serde(rename = "call.callback_refused")]
    CallbackRefused { number: String, reason: String },
    /// An agent is reserved and the customer is being dialled back (`attempt` from 1).
    #[serde(rename = "call.callback_dialled")]
    CallbackDialled {
        number: String,
        attempt: u32,
        agent: String,
        trunk: String,
    },
    /// The customer answered the callback; the reserved agent is offered the call next.
    #[serde(rename = "call.callback_answered")]
    CallbackAnswered {
        number: String,
        attempt: u32,
        agent: String,
    },
    /// One attempt was not answered (`status`: the final SIP status, if any); the router retries
    /// per the queue's policy.
    #[serde(rename = "call.callback_no_answer")]
    CallbackNoAnswer {
        number: String,
        attempt: u32,
        status: Option<u16>,
    },
    /// Every attempt failed: the callback is dropped.
    #[serde(rename = "call.callback_failed")]
    CallbackFailed { number: String, attempts: u32 },
    /// The post-call survey score (1–5).
    #[serde(rename = "call.survey")]
    Survey { score: u8, ticket: Option<String> },
    /// The call is being recorded (its queue has `record = true`) to this file.
    #[serde(rename = "call.recording")]
    CallRecording {
        path: String,
        queue: String,
        agent: String,
    },
    /// A voicemail-style message was recorded.
    #[serde(rename = "call.voicemail")]
    Voicemail {
        path: String,
        ticket: Option<String>,
    },
    /// An agent's routing state changed (persisted so it survives a restart).
    #[serde(rename = "agent.state_changed")]
    AgentState {
        agent: String,
        state: String,
        reason: Option<String>,
        call: Option<String>,
    },
    /// A supervisor moved a waiting caller to another queue.
    #[serde(rename = "call.moved")]
    CallMoved {
        from: String,
        to: String,
        by: String,
    },
    /// The router moved a waiting caller to another queue (waited too long, no agents, full).
    #[serde(rename = "call.overflowed")]
    CallOverflowed {
        from: String,
        to: String,
        reason: crate::acd::router::OverflowReason,
    },
    /// The waiting caller heard their place in the queue (1 = next) and expected wait
    /// (None: no agent staffed, the caller was told it cannot be estimated).
    #[serde(rename = "call.announced")]
    CallAnnounced { position: u32, ewt_ms: Option<u64> },
    /// A supervisor acted (also kept in the `audit` table): who, what, on whom, and whether it
    /// was done (`result` = "ok" or why not).
    #[serde(rename = "supervisor.action")]
    SupervisorAction {
        actor: String,
        action: String,
        target: String,
        detail: serde_json::Value,
        result: String,
    },
    /// A SIP phone registered, refreshed or removed a binding.
    #[serde(rename = "sip.registration")]
    Registration {
        aor: String,
        contact: String,
        expires: u32,
    },
}

impl Event {
    /// The stored kind (the serde tag), independent of any field that happens to be named `kind`.
    pub fn kind(&self) -> &'static str {
        match self {
            Event::CallArrived { .. } => "call.arrived",
            Event::CallAnswered {} => "call.answered",
            Event::CallHold { .. } => "call.hold",
            Event::CallEnded { .. } => "call.ended",
            Event::CallRejected { .. } => "call.rejected",
            Event::LegState { .. } => "leg.state",
            Event::IvrStep { .. } => "ivr.step",
            Event::CallQueued { .. } => "call.queued",
            Event::CallOffered { .. } => "call.offered",
            Event::CallConnected { .. } => "call.connected",
            Event::CallAgentEnded { .. } => "call.agent_ended",
            Event::CallAbandoned { .. } => "call.abandoned",
            Event::CallOutcome { .. } => "call.outcome",
            Event::CallbackRequested { .. } => "call.callback_requested",
            Event::CallbackRefused { .. } => "call.callback_refused",
            Event::CallbackDialled { .. } => "call.callback_dialled",
            Event::CallbackAnswered { .. } => "call.callback_answered",
            Event::CallbackNoAnswer { .. } => "call.callback_no_answer",
            Event::CallbackFailed { .. } => "call.callback_failed",
            Event::Survey { .. } => "call.survey",
            Event::CallRecording { .. } => "call.recording",
            Event::Voicemail { .. } => "call.voicemail",
            Event::Registration { .. } => "sip.registration",
            Event::AgentState { .. } => "agent.state_changed",
            Event::CallMoved { .. } => "call.moved",
            Event::CallOverflowed { .. } => "call.overflowed",
            Event::CallAnnounced { .. } => "call.announced",
            Event::SupervisorAction { .. } => "supervisor.action",
        }
    }

    /// Stamp the event with a fresh unique id, its call and the wall-clock time.
    pub fn record(&self, call_id: Option<&str>, at_ms: i64) -> EventRecord {
        let payload = serde_json::to_value(self).unwrap_or(serde_json::Value::Null);
        let kind = self.kind().to_string();
        EventRecord {
            // Time-ordered (UUIDv7): the unique index on ids grows at its end instead of being
            // written at random places, which keeps inserts cheap at thousands of events/s.
            id: uuid::Uuid::now_v7().to_string(),
            call_id: call_id.map(str::to_string),
            kind,
            at_ms,
            payload: payload.to_string(),
        }
    }
}

/// Milliseconds since the Unix epoch (0 if the clock is before 1970).
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn record_carries_kind_and_fields() {
        let e = Event::CallEnded {
            cause: "caller_hangup".into(),
        };
        let r = e.record(Some("c1"), 42);
        assert_eq!(r.kind, "call.ended");
        assert_eq!(r.call_id.as_deref(), Some("c1"));
        assert_eq!(r.at_ms, 42);
        let v: serde_json::Value = serde_json::from_str(&r.payload).unwrap();
        assert_eq!(v["cause"], "caller_hangup");
        assert_ne!(e.record(None, 0).id, r.id, "ids are unique");
        let step = Event::IvrStep {
            node: "check_vip".into(),
            step: crate::ivr::engine::IvrEventKind::LookupNotFound {
                kind: crate::ivr::crm::LookupKind::Caller,
            },
        };
        let r = step.record(Some("c1"), 1);
        assert_eq!(r.kind, "ivr.step");
        let v: serde_json::Value = serde_json::from_str(&r.payload).unwrap();
        assert_eq!(
            (v["kind"].as_str(), v["lookup"].as_str()),
            (Some("ivr.step"), Some("caller"))
        );
    }
}
