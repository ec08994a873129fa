//! Stored events → per-call facts and agent time, one event at a time (sans-IO).
//!
//! Both the reports (over a date range read back from the store) and the live dashboard (fed as
//! events are appended) run this same fold, so a figure cannot differ between them: each event
//! yields [`Change`]s, and a segment's fact that changes is reported as old → new, which a
//! [`crate::acd::kpi::CallTally`] follows with `remove(old)` + `add(new)`.
//!
//! # Rules
//! * A **segment** is one visit of a call to a queue, counted in the interval of its queue entry
//!   (`call.queued`). A call queued again after an agent talked to it (a transfer) opens a new
//!   segment; queued again before any answer (re-queue, supervisor move) it stays the same
//!   segment with the new queue, its wait still counted from the first entry.
//! * A callback request (`call.callback_requested`) is a deflection of the segment (offered,
//!   neither answered nor abandoned); when the caller had not been queued yet it opens one.
//! * **Handle** = talk (`call.agent_ended.talk_ms`) + wrap-up, the time the agent then spends in
//!   `wrap-up`; it is final at the agent's first state change after the talk that is not the
//!   start of wrap-up. Until then the segment counts as answered but not handled.
//! * **Call type** = the `ivr_choice:<x>` tag of the call's first queueing (`other` without one).
//! * **IVR drop-out**: a call that ends by the caller (hang-up or cancel) without ever being
//!   queued or asking for a callback, while in a node that is not a designed end (hangup,
//!   voicemail, transfer), dropped out at that node.
//! * Agent time comes from `agent.state_changed`: each state lasts until the agent's next one.

use crate::acd::kpi::CallFact;
use crate::acd::types::AgentStatus;
use crate::store::EventRecord;
use serde_json::{Map, Value};
use std::collections::HashMap;

/// One visit of a call to a queue.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Seg {
    pub queue: String,
    pub call_type: String,
    /// The agent who answered it.
    pub agent: Option<String>,
    /// Epoch milliseconds; `arrived_ms` is the queue entry.
    pub fact: CallFact,
    /// How a deflected call left the queue: "callback", "voicemail" or "busy".
    pub deflection: Option<&'static str>,
}

impl Seg {
    fn open(&self) -> bool {
        self.fact.answered_ms.is_none() && self.fact.abandoned_ms.is_none() && !self.fact.deflected
    }
}

/// What one event changed.
#[derive(Clone, Debug, PartialEq)]
#[allow(clippy::large_enum_variant)] // short-lived, in a reused buffer; boxing would allocate
pub enum Change {
    /// A call reached the server (`source`: the number dialled).
    Received {
        at_ms: u64,
        source: String,
    },
    /// A segment appeared (`old: None`) or its fact changed.
    Segment {
        old: Option<Seg>,
        new: Seg,
    },
    /// An agent spent `[from_ms, to_ms)` in `status`.
    AgentSpan {
        agent: String,
        status: AgentStatus,
        from_ms: u64,
        to_ms: u64,
    },
    /// An agent's state now.
    AgentState {
        agent: String,
        status: AgentStatus,
        reason: Option<String>,
        since_ms: u64,
    },
    Survey {
        at_ms: u64,
        score: u8,
    },
    /// A caller entered an IVR node; `call_ms` is when the call arrived.
    IvrEntered {
        node: String,
        call_ms: u64,
    },
    IvrDropped {
        node: String,
        call_ms: u64,
    },
}

#[derive(Debug, Default)]
struct CallRec {
    arrived_ms: Option<u64>,
    /// Time of the call's latest event.
    last_ms: u64,
    segs: Vec<Seg>,
    node: Option<(String, String)>,
    callback: bool,
}

/// An answered segment whose handle time is not known yet.
#[derive(Debug, Clone)]
struct Pending {
    call_id: String,
    seg: usize,
    copy: Seg,
    talk_ms: u64,
    wrap_from: Option<u64>,
}

#[derive(Debug)]
struct AgentRec {
    status: AgentStatus,
    since_ms: u64,
    pending: Option<Pending>,
}

/// The fold's state: calls in progress and each agent's current state.
#[derive(Debug, Default)]
pub struct Fold {
    calls: HashMap<String, CallRec>,
    agents: HashMap<String, AgentRec>,
}

fn text(p: &Map<String, Value>, k: &str) -> Option<String> {
    p.get(k).and_then(Value::as_str).map(str::to_string)
}

fn num(p: &Map<String, Value>, k: &str) -> Option<u64> {
    p.get(k)
        .and_then(|v| v.as_u64().or_else(|| v.as_i64().map(|i| i.max(0) as u64)))
}

const DESIGNED_ENDS: [&str; 3] = ["hangup", "voicemail", "transfer"];

impl Fold {
    pub fn new() -> Fold {
        Fold::default()
    }

    /// Start an agent in a state (the last one stored before the events that follow).
    pub fn seed_agent(&mut self, agent: &str, status: AgentStatus, since_ms: u64) {
        self.agents.insert(
            agent.to_string(),
            AgentRec {
                status,
                since_ms,
                pending: None,
            },
        );
    }

    /// Every agent's current state and since when.
    pub fn agent_states(&self) -> impl Iterator<Item = (&str, AgentStatus, u64)> {
        self.agents
            .iter()
            .map(|(a, r)| (a.as_str(), r.status, r.since_ms))
    }

    /// Calls in progress (for housekeeping).
    pub fn open_calls(&self) -> usize {
        self.calls.len()
    }

    /// Ids of the calls not ended yet.
    pub fn open_call_ids(&self) -> Vec<String> {
        self.calls.keys().cloned().collect()
    }

    /// Agents whose last call's handle time is not final yet (talk over, wrap-up going on).
    pub fn pending_agents(&self) -> Vec<String> {
        self.agents
            .iter()
            .filter(|(_, a)| a.pending.is_some())
            .map(|(id, _)| id.clone())
            .collect()
    }

    /// Forget calls with no event since `before_ms` that never ended (lost to a crash).
    pub fn prune(&mut self, before_ms: u64) {
        self.calls.retain(|_, c| c.last_ms >= before_ms);
    }

    /// Fold one event, appending what it changed to `out`.
    pub fn apply(&mut self, ev: &EventRecord, out: &mut Vec<Change>) {
        let at = ev.at_ms.max(0) as u64;
        let Ok(Value::Object(p)) = serde_json::from_str::<Value>(&ev.payload) else {
            return;
        };
        if ev.kind == "agent.state_changed" {
            self.agent_state(&p, at, out);
            return;
        }
        if ev.kind == "call.survey" {
            if let Some(score) = num(&p, "score") {
                out.push(Change::Survey {
                    at_ms: at,
                    score: score.min(255) as u8,
                });
            }
            return;
        }
        let Some(call_id) = ev.call_id.as_deref() else {
            return;
        };
        if let Some(rec) = self.calls.get_mut(call_id) {
            rec.last_ms = rec.last_ms.max(at);
        }
        match ev.kind.as_str() {
            "call.arrived" => {
                let rec = self.calls.entry(call_id.to_string()).or_default();
                rec.arrived_ms.get_or_insert(at);
                rec.last_ms = rec.last_ms.max(at);
                out.push(Change::Received {
                    at_ms: at,
                    source: text(&p, "called").unwrap_or_default(),
                });
            }
            "ivr.step" => self.ivr_step(call_id, &p, at, out),
            "call.queued" => self.queued(call_id, &p, at, out),
            "call.moved" | "call.overflowed" => {
                if let Some(to) = text(&p, "to") {
                    self.update_open(call_id, out, |s| s.queue = to);
                }
            }
            "call.offered" => self.update_open(call_id, out, |s| {
                s.fact.first_offer_ms.get_or_insert(at);
            }),
            "call.connected" => {
                let agent = text(&p, "agent");
                self.update_open(call_id, out, |s| {
                    s.fact.first_offer_ms.get_or_insert(at);
                    s.fact.answered_ms = Some(at);
                    s.agent = agent;
                });
            }
            "call.abandoned" => self.update_open(call_id, out, |s| s.fact.abandoned_ms = Some(at)),
            "call.callback_requested" => self.callback(call_id, &p, at, out),
            // The router's max-wait or queue-full outcome (voicemail, busy) took the call out
            // of its queue: neither answered nor abandoned.
            "call.outcome" => {
                let how = match text(&p, "outcome").as_deref() {
                    Some("voicemail") => "voicemail",
                    Some("busy") => "busy",
                    _ => "callback",
                };
                self.update_open(call_id, out, |s| {
                    s.fact.deflected = true;
                    s.deflection = Some(how);
                })
            }
            "call.agent_ended" => self.agent_ended(call_id, &p),
            "call.ended" => self.ended(call_id, &p, out),
            _ => {}
        }
    }

    fn ivr_step(&mut self, call_id: &str, p: &Map<String, Value>, at: u64, out: &mut Vec<Change>) {
        if p.get("step").and_then(Value::as_str) != Some("node_entered") {
            return;
        }
        let (Some(node), kind) = (text(p, "node"), text(p, "node_kind").unwrap_or_default()) else {
            return;
        };
        let rec = self.calls.entry(call_id.to_string()).or_default();
        rec.last_ms = rec.last_ms.max(at);
        let call_ms = *rec.arrived_ms.get_or_insert(at);
        rec.node = Some((node.clone(), kind));
        out.push(Change::IvrEntered { node, call_ms });
    }

    fn queued(&mut self, call_id: &str, p: &Map<String, Value>, at: u64, out: &mut Vec<Change>) {
        let queue = text(p, "queue").unwrap_or_default();
        let tag_type = p.get("tags").and_then(Value::as_array).and_then(|tags| {
            tags.iter()
                .filter_map(Value::as_str)
                .find_map(|t| t.strip_prefix("ivr_choice:").map(str::to_string))
        });
        let rec = self.calls.entry(call_id.to_string()).or_default();
        rec.last_ms = rec.last_ms.max(at);
        if rec.segs.last().is_some_and(Seg::open) {
            self.update_open(call_id, out, |s| s.queue = queue);
            return;
        }
        let call_type = tag_type
            .or_else(|| rec.segs.first().map(|s| s.call_type.clone()))
            .unwrap_or_else(|| "other".into());
        let seg = Seg {
            queue,
            call_type,
            agent: None,
            fact: CallFact {
                arrived_ms: at,
                ..CallFact::default()
            },
            deflection: None,
        };
        rec.segs.push(seg.clone());
        out.push(Change::Segment {
            old: None,
            new: seg,
        });
    }

    fn callback(&mut self, call_id: &str, p: &Map<String, Value>, at: u64, out: &mut Vec<Change>) {
        let rec = self.calls.entry(call_id.to_string()).or_default();
        rec.last_ms = rec.last_ms.max(at);
        rec.callback = true;
        if rec.segs.last().is_some_and(Seg::open) {
            self.update_open(call_id, out, |s| {
                s.fact.deflected = true;
                s.deflection = Some("callback");
            });
            return;
        }
        let seg = Seg {
            queue: text(p, "queue").unwrap_or_default(),
            call_type: rec
                .segs
                .first()
                .map_or_else(|| "other".into(), |s| s.call_type.clone()),
            agent: None,
            fact: CallFact {
                arrived_ms: at,
                deflected: true,
                ..CallFact::default()
            },
            deflection: Some("callback"),
        };
        rec.segs.push(seg.clone());
        out.push(Change::Segment {
            old: None,
            new: seg,
        });
    }

    /// Change the call's current segment if it has not been answered or abandoned yet
    /// (a callback that is later answered still counts as answered).
    fn update_open(&mut self, call_id: &str, out: &mut Vec<Change>, f: impl FnOnce(&mut Seg)) {
        let Some(seg) = self.calls.get_mut(call_id).and_then(|r| r.segs.last_mut()) else {
            return;
        };
        if seg.fact.answered_ms.is_some() || seg.fact.abandoned_ms.is_some() {
            return;
        }
        let old = seg.clone();
        f(seg);
        if *seg != old {
            out.push(Change::Segment {
                old: Some(old),
                new: seg.clone(),
            });
        }
    }

    fn agent_ended(&mut self, call_id: &str, p: &Map<String, Value>) {
        let (Some(agent), Some(rec)) = (text(p, "agent"), self.calls.get(call_id)) else {
            return;
        };
        let Some((ix, seg)) = rec
            .segs
            .iter()
            .enumerate()
            .rev()
            .find(|(_, s)| s.fact.answered_ms.is_some() && s.fact.handle_ms.is_none())
        else {
            return;
        };
        let pending = Pending {
            call_id: call_id.to_string(),
            seg: ix,
            copy: seg.clone(),
            talk_ms: num(p, "talk_ms").unwrap_or(0),
            wrap_from: None,
        };
        let a = self.agents.entry(agent).or_insert(AgentRec {
            status: AgentStatus::OnCall,
            since_ms: seg.fact.answered_ms.unwrap_or(0),
            pending: None,
        });
        a.pending = Some(pending);
    }

    fn ended(&mut self, call_id: &str, p: &Map<String, Value>, out: &mut Vec<Change>) {
        let Some(rec) = self.calls.remove(call_id) else {
            return;
        };
        let by_caller = matches!(
            p.get("cause").and_then(Value::as_str),
            Some("caller_hangup" | "cancelled")
        );
        if let (true, true, false, Some((node, kind))) =
            (by_caller, rec.segs.is_empty(), rec.callback, rec.node)
        {
            if !DESIGNED_ENDS.contains(&kind.as_str()) {
                out.push(Change::IvrDropped {
                    node,
                    call_ms: rec.arrived_ms.unwrap_or(0),
                });
            }
        }
    }

    fn agent_state(&mut self, p: &Map<String, Value>, at: u64, out: &mut Vec<Change>) {
        let (Some(agent), Some(status)) = (
            text(p, "agent"),
            text(p, "state").and_then(|s| AgentStatus::parse(&s)),
        ) else {
            return;
        };
        let reason = text(p, "reason");
        let rec = self.agents.entry(agent.clone()).or_insert(AgentRec {
            status: AgentStatus::LoggedOut,
            since_ms: at,
            pending: None,
        });
        if at > rec.since_ms {
            out.push(Change::AgentSpan {
                agent: agent.clone(),
                status: rec.status,
                from_ms: rec.since_ms,
                to_ms: at,
            });
        }
        let was = rec.status;
        rec.status = status;
        rec.since_ms = rec.since_ms.max(at);
        let finished = match rec.pending.as_mut() {
            Some(pd) if status == AgentStatus::WrapUp && pd.wrap_from.is_none() => {
                pd.wrap_from = Some(at);
                None
            }
            Some(_) => {
                let pd = rec.pending.take();
                pd.map(|pd| {
                    let wrap = match (was, pd.wrap_from) {
                        (AgentStatus::WrapUp, Some(from)) => at.saturating_sub(from),
                        _ => 0,
                    };
                    (pd, wrap)
                })
            }
            None => None,
        };
        out.push(Change::AgentState {
            agent,
            status,
            reason,
            since_ms: at,
        });
        if let Some((pd, wrap)) = finished {
            let mut new = pd.copy.clone();
            new.fact.talk_ms = Some(pd.talk_ms);
            new.fact.handle_ms = Some(pd.talk_ms + wrap);
            if let Some(s) = self
                .calls
                .get_mut(&pd.call_id)
                .and_then(|r| r.segs.get_mut(pd.seg))
            {
                *s = new.clone();
            }
            out.push(Change::Segment {
                old: Some(pd.copy),
                new,
            });
        }
    }
}
