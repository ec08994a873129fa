//! Rows derived from events: the `calls` row of each call and each agent's current state.
//!
//! Pure functions: the writer feeds the events it has just inserted (never a duplicate) and
//! upserts the patches in the same transaction, so each event is applied exactly once. Within a
//! batch events are applied in time order; across batches the SQL keeps the first arrival,
//! answer and end times and takes text fields from the newest event (see `events.rs`).

use std::collections::HashMap;

use serde_json::Value;

use super::EventRecord;

/// A call reached us. Payload: `caller`, `called`, optionally `queue`.
pub const CALL_ARRIVED: &str = "call.arrived";
/// An agent answered. Payload: `agent`, optionally `queue`.
pub const CALL_ANSWERED: &str = "call.answered";
/// The call is over. Payload: `cause`.
pub const CALL_ENDED: &str = "call.ended";
/// An agent changed state. Payload: `agent`, `state`, optionally `reason`.
pub const AGENT_STATE_CHANGED: &str = "agent.state_changed";
/// A supervisor acted (audited). Payload: `actor`, `action`, `target`, `detail`, `result`.
pub const SUPERVISOR_ACTION: &str = "supervisor.action";

/// The change one batch makes to one `calls` row.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct CallPatch {
    pub call_id: String,
    pub arrived_ms: Option<i64>,
    pub answered_ms: Option<i64>,
    pub ended_ms: Option<i64>,
    pub cause: Option<String>,
    pub caller: Option<String>,
    pub called: Option<String>,
    pub queue: Option<String>,
    pub agent: Option<String>,
    /// Time of the newest event in the patch.
    pub updated_ms: i64,
}

/// The newest state of one agent within a batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct AgentPatch {
    pub agent_id: String,
    pub state: String,
    pub reason: Option<String>,
    pub since_ms: i64,
    pub event_id: String,
    /// The call the state refers to (the event's `call`), if any.
    pub call_id: Option<String>,
}

/// One row of the audit log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct AuditPatch {
    pub event_id: String,
    pub at_ms: i64,
    pub actor: String,
    pub action: String,
    pub target: String,
    pub detail: String,
    pub result: String,
}

/// Everything a batch of fresh events changes besides the `events` table.
#[derive(Debug, Default)]
pub(crate) struct Derived {
    pub calls: Vec<CallPatch>,
    pub agents: Vec<AgentPatch>,
    pub audit: Vec<AuditPatch>,
}

/// Fold freshly inserted events into per-call and per-agent patches (one per key).
pub(crate) fn derive(events: &[&EventRecord]) -> Derived {
    let mut sorted: Vec<&EventRecord> = events.to_vec();
    sorted.sort_by_key(|e| e.at_ms); // stable: equal times keep batch order
    let mut calls: HashMap<&str, CallPatch> = HashMap::new();
    let mut call_order = Vec::new();
    let mut agents: HashMap<String, AgentPatch> = HashMap::new();
    let mut agent_order = Vec::new();
    let mut audit = Vec::new();
    for ev in sorted {
        if ev.kind == SUPERVISOR_ACTION {
            audit.extend(audit_patch(ev));
            continue;
        }
        if ev.kind == AGENT_STATE_CHANGED {
            if let Some(p) = agent_patch(ev) {
                if !agents.contains_key(&p.agent_id) {
                    agent_order.push(p.agent_id.clone());
                }
                agents.insert(p.agent_id.clone(), p);
            }
            continue;
        }
        let Some(call_id) = ev.call_id.as_deref() else {
            continue;
        };
        if !ev.kind.starts_with("call.") {
            continue;
        }
        let patch = calls.entry(call_id).or_insert_with(|| {
            call_order.push(call_id);
            CallPatch {
                call_id: call_id.to_string(),
                ..CallPatch::default()
            }
        });
        apply_call_event(patch, ev);
    }
    Derived {
        calls: call_order
            .into_iter()
            .filter_map(|k| calls.remove(k))
            .collect(),
        agents: agent_order
            .into_iter()
            .filter_map(|k| agents.remove(&k))
            .collect(),
        audit,
    }
}

fn audit_patch(ev: &EventRecord) -> Option<AuditPatch> {
    let p = parse_object(ev)?;
    let detail = p
        .get("detail")
        .map_or_else(|| "null".into(), Value::to_string);
    Some(AuditPatch {
        event_id: ev.id.clone(),
        at_ms: ev.at_ms,
        actor: text_field(&p, "actor").unwrap_or_default(),
        action: text_field(&p, "action").unwrap_or_default(),
        target: text_field(&p, "target").unwrap_or_default(),
        detail,
        result: text_field(&p, "result").unwrap_or_default(),
    })
}

fn apply_call_event(patch: &mut CallPatch, ev: &EventRecord) {
    let at = Some(ev.at_ms);
    match ev.kind.as_str() {
        CALL_ARRIVED => patch.arrived_ms = patch.arrived_ms.or(at),
        CALL_ANSWERED => patch.answered_ms = patch.answered_ms.or(at),
        CALL_ENDED => patch.ended_ms = patch.ended_ms.or(at),
        _ => {}
    }
    patch.updated_ms = patch.updated_ms.max(ev.at_ms);
    let Some(payload) = parse_object(ev) else {
        return;
    };
    for (field, slot) in [
        ("cause", &mut patch.cause),
        ("caller", &mut patch.caller),
        ("called", &mut patch.called),
        ("queue", &mut patch.queue),
        ("agent", &mut patch.agent),
    ] {
        if let Some(v) = text_field(&payload, field) {
            *slot = Some(v);
        }
    }
}

fn agent_patch(ev: &EventRecord) -> Option<AgentPatch> {
    let payload = parse_object(ev)?;
    let (Some(agent_id), Some(state)) =
        (text_field(&payload, "agent"), text_field(&payload, "state"))
    else {
        tracing::warn!(event = %ev.id, "agent.state_changed without `agent` and `state`; not applied to agent_state");
        return None;
    };
    Some(AgentPatch {
        agent_id,
        state,
        reason: text_field(&payload, "reason"),
        since_ms: ev.at_ms,
        event_id: ev.id.clone(),
        call_id: text_field(&payload, "call"),
    })
}

fn parse_object(ev: &EventRecord) -> Option<serde_json::Map<String, Value>> {
    match serde_json::from_str::<Value>(&ev.payload) {
        Ok(Value::Object(map)) => Some(map),
        _ => {
            tracing::warn!(event = %ev.id, kind = %ev.kind, "payload is not a JSON object; stored as is, nothing derived");
            None
        }
    }
}

fn text_field(map: &serde_json::Map<String, Value>, key: &str) -> Option<String> {
    map.get(key).and_then(Value::as_str).map(clean_text)
}

/// PostgreSQL TEXT cannot hold NUL; replace it so one bad byte never blocks the writer.
pub(crate) fn clean_text(s: &str) -> String {
    if s.contains('\0') {
        s.replace('\0', "\u{FFFD}")
    } else {
        s.to_string()
    }
}

/// Build the event that records an agent's state change (and, once stored, sets `agent_state`).
pub fn agent_state_event(
    id: impl Into<String>,
    agent_id: &str,
    state: &str,
    reason: Option<&str>,
    at_ms: i64,
) -> EventRecord {
    let payload = serde_json::json!({ "agent": agent_id, "state": state, "reason": reason });
    EventRecord {
        id: id.into(),
        call_id: None,
        kind: AGENT_STATE_CHANGED.to_string(),
        at_ms,
        payload: payload.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(id: &str, call: &str, kind: &str, at: i64, payload: &str) -> EventRecord {
        EventRecord {
            id: id.into(),
            call_id: Some(call.into()),
            kind: kind.into(),
            at_ms: at,
            payload: payload.into(),
        }
    }

    #[test]
    fn a_call_lifecycle_folds_into_one_patch_whatever_the_batch_order() {
        let evs = [
            ev("3", "c1", CALL_ENDED, 300, r#"{"cause":"normal"}"#),
            ev(
                "1",
                "c1",
                CALL_ARRIVED,
                100,
                r#"{"caller":"+441","called":"+442","queue":"q1"}"#,
            ),
            ev(
                "2",
                "c1",
                CALL_ANSWERED,
                200,
                r#"{"agent":"a7","queue":"q2"}"#,
            ),
        ];
        let refs: Vec<&EventRecord> = evs.iter().collect();
        let d = derive(&refs);
        assert_eq!(d.calls.len(), 1);
        let p = &d.calls[0];
        assert_eq!(
            (p.arrived_ms, p.answered_ms, p.ended_ms),
            (Some(100), Some(200), Some(300))
        );
        assert_eq!(p.queue.as_deref(), Some("q2"), "newest queue wins");
        assert_eq!(p.agent.as_deref(), Some("a7"));
        assert_eq!(p.cause.as_deref(), Some("normal"));
        assert_eq!(p.caller.as_deref(), Some("+441"));
        assert_eq!(p.updated_ms, 300);
    }

    #[test]
    fn bad_payloads_and_foreign_kinds_derive_nothing_but_do_not_fail() {
        let evs = [
            ev("1", "c1", CALL_ARRIVED, 100, "not json"),
            ev("2", "c2", "ivr.digits", 100, r#"{"caller":"x"}"#),
        ];
        let refs: Vec<&EventRecord> = evs.iter().collect();
        let d = derive(&refs);
        assert_eq!(d.calls.len(), 1);
        assert_eq!(d.calls[0].arrived_ms, Some(100));
        assert_eq!(d.calls[0].caller, None);
    }

    #[test]
    fn the_newest_agent_state_in_a_batch_wins() {
        let a = agent_state_event("e1", "a1", "not-ready", Some("lunch"), 50);
        let b = agent_state_event("e2", "a1", "available", None, 40);
        let d = derive(&[&a, &b]);
        assert_eq!(d.agents.len(), 1);
        assert_eq!(d.agents[0].state, "not-ready");
        assert_eq!(d.agents[0].reason.as_deref(), Some("lunch"));
        assert_eq!(d.agents[0].since_ms, 50);
        assert_eq!(d.agents[0].call_id, None);
    }

    #[test]
    fn an_agent_state_keeps_the_call_it_refers_to() {
        let mut e = agent_state_event("e1", "a1", "on-call", None, 50);
        e.payload = r#"{"agent":"a1","state":"on-call","reason":null,"call":"c7"}"#.into();
        let d = derive(&[&e]);
        assert_eq!(d.agents[0].call_id.as_deref(), Some("c7"));
    }

    #[test]
    fn nul_bytes_are_replaced() {
        assert_eq!(clean_text("a\0b"), "a\u{FFFD}b");
    }
}
