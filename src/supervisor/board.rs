//! The wallboard's `snapshot` message (CONTRACTS.md, "Supervisor socket"): the router's view
//! now (waiting callers, agents by state) joined with today's figures from [`LiveKpi`].

use super::live::LiveKpi;
use crate::acd::service::Board;
use crate::acd::types::AgentStatus;
use crate::config::Thresholds;
use serde_json::{json, Value};
use std::collections::HashMap;

/// Per-queue settings the board shows.
#[derive(Clone, Debug)]
pub struct QueueInfo {
    pub name: String,
    pub sl_secs: u64,
    pub thresholds: Thresholds,
}

/// The events folded since the previous snapshot: how many, and the times of the oldest and
/// newest (a client measures update latency as its receive time minus these).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct EventWindow {
    pub count: u64,
    pub first_at_ms: Option<i64>,
    pub last_at_ms: Option<i64>,
}

impl EventWindow {
    pub fn note(&mut self, at_ms: i64) {
        self.count += 1;
        self.first_at_ms = Some(self.first_at_ms.map_or(at_ms, |f| f.min(at_ms)));
        self.last_at_ms = Some(self.last_at_ms.map_or(at_ms, |l| l.max(at_ms)));
    }
}

fn secs(ms: Option<f64>) -> Value {
    ms.map_or(Value::Null, |m| json!((m / 100.0).round() / 10.0))
}

fn ratio(r: Option<f64>) -> Value {
    r.map_or(Value::Null, |r| json!((r * 10_000.0).round() / 10_000.0))
}

/// Is this router call state a caller waiting in queue?
fn is_waiting(state: &str) -> bool {
    state == "waiting" || state == "waiting-for-owner"
}

/// The snapshot as JSON.
pub fn snapshot(
    live: &LiveKpi,
    board: &Board,
    queues: &[QueueInfo],
    now_ms: i64,
    window: EventWindow,
) -> Value {
    let epoch = |router_ms: u64| board.epoch_at_zero_ms + router_ms as i64;
    let mut longest: HashMap<&str, u64> = HashMap::new();
    let mut call_queue: HashMap<&str, &str> = HashMap::new();
    let mut callers = Vec::new();
    for c in &board.calls {
        call_queue.insert(c.id.as_str(), c.queue.as_str());
        if is_waiting(c.state) {
            let l = longest.entry(c.queue.as_str()).or_default();
            *l = (*l).max(c.waited_ms);
            callers.push(json!({
                "call_id": c.id.as_str(),
                "queue": c.queue,
                "waited_secs": (c.waited_ms as f64 / 100.0).round() / 10.0,
                "priority": c.priority,
            }));
        }
    }
    let info: HashMap<&str, &QueueInfo> = queues.iter().map(|q| (q.name.as_str(), q)).collect();
    let queues_json: Vec<Value> = board
        .snapshot
        .queues
        .iter()
        .map(|q| {
            let t = live.queue(&q.name);
            let qi = info.get(q.name.as_str());
            let a = q.agents;
            json!({
                "name": q.name,
                "waiting": q.waiting,
                "longest_wait_secs": longest.get(q.name.as_str()).map_or(0.0, |ms| (*ms as f64 / 100.0).round() / 10.0),
                "agents": {
                    "available": a.available,
                    "ringing": a.ringing,
                    "on_call": a.on_call + a.reserved,
                    "wrap_up": a.wrap_up,
                    "not_ready": a.not_ready,
                    "logged_out": a.logged_out,
                },
                "offered": t.offered,
                "answered": t.answered,
                "abandoned": t.abandoned,
                "short_abandoned": t.short_abandoned,
                "service_level": ratio(t.service_level()),
                "asa_secs": secs(t.asa_ms()),
                "aht_secs": secs(t.aht_ms()),
                "abandon_rate": ratio(t.abandon_rate()),
                "sl_threshold_secs": qi.map_or(0, |q| q.sl_secs),
                "thresholds": qi.map_or(json!({}), |q| json!(q.thresholds)),
            })
        })
        .collect();
    let agents: Vec<Value> = board
        .snapshot
        .agents
        .iter()
        .map(|a| {
            let t = live.agent(a.id.as_str());
            let call = a.call.as_ref().map(|c| c.as_str());
            json!({
                "agent": a.id.as_str(),
                "name": a.name,
                "state": a.state.name(),
                "reason": a.reason,
                "since_ms": if a.state == AgentStatus::LoggedOut && a.since_ms == 0 { Value::Null } else { json!(epoch(a.since_ms)) },
                "call_id": call,
                "queue": call.and_then(|c| call_queue.get(c)),
                "answered": t.answered,
                "aht_secs": secs(t.aht_ms()),
            })
        })
        .collect();
    json!({
        "type": "snapshot",
        "at_ms": now_ms,
        "queues": queues_json,
        "agents": agents,
        "callers": callers,
        "received_today": live.received(),
        "events": {
            "count": window.count,
            "first_at_ms": window.first_at_ms,
            "last_at_ms": window.last_at_ms,
        },
    })
}
