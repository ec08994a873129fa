//! Sums of the fold's changes over a report period: per interval, queue, call type, source,
//! agent and IVR node. Every call figure is a [`CallTally`] and every agent-time figure an
//! [`AgentTime`] from `acd::kpi`; segment changes are followed with `remove(old)` + `add(new)`.

use super::fold::{Change, Seg};
use super::interval::Periods;
use crate::acd::kpi::{split_by_bounds, AgentTime, CallTally, KpiParams};
use std::collections::{BTreeMap, HashMap};

/// The KPI parameters of each queue (service-level threshold) and the centre's short abandon.
#[derive(Clone, Debug, PartialEq)]
pub struct KpiConfig {
    pub short_abandon_ms: u64,
    /// Threshold for queues not listed (a queue since removed from the config).
    pub default_sl_ms: u64,
    pub sl_ms: HashMap<String, u64>,
}

impl KpiConfig {
    pub fn params(&self, queue: &str) -> KpiParams {
        KpiParams {
            sl_threshold_ms: self.sl_ms.get(queue).copied().unwrap_or(self.default_sl_ms),
            short_abandon_ms: self.short_abandon_ms,
        }
    }
}

/// IVR node counts.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NodeCount {
    pub entered: u64,
    pub dropped: u64,
}

/// Survey scores.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Surveys {
    pub count: u64,
    pub sum: u64,
}

impl Surveys {
    pub fn average(&self) -> Option<f64> {
        (self.count > 0).then(|| self.sum as f64 / self.count as f64)
    }
}

/// Everything the reports show, summed over one period.
#[derive(Clone, Debug)]
pub struct RangeTally {
    pub periods: Periods,
    pub kpi: KpiConfig,
    /// Calls that reached the server, per interval.
    pub received: Vec<u64>,
    /// Queue segments per interval (all queues).
    pub calls: Vec<CallTally>,
    pub by_queue: BTreeMap<String, CallTally>,
    pub by_type: BTreeMap<String, CallTally>,
    pub by_source: BTreeMap<String, u64>,
    /// Segments answered by each agent.
    pub by_agent: BTreeMap<String, CallTally>,
    pub agent_time: BTreeMap<String, AgentTime>,
    pub surveys: Vec<Surveys>,
    pub ivr: BTreeMap<String, NodeCount>,
}

impl RangeTally {
    pub fn new(periods: Periods, kpi: KpiConfig) -> RangeTally {
        let n = periods.len();
        RangeTally {
            received: vec![0; n],
            calls: vec![CallTally::default(); n],
            surveys: vec![Surveys::default(); n],
            periods,
            kpi,
            by_queue: BTreeMap::new(),
            by_type: BTreeMap::new(),
            by_source: BTreeMap::new(),
            by_agent: BTreeMap::new(),
            agent_time: BTreeMap::new(),
            ivr: BTreeMap::new(),
        }
    }

    pub fn apply(&mut self, change: &Change) {
        match change {
            Change::Received { at_ms, source } => {
                if let Some(i) = self.periods.index(*at_ms) {
                    self.received[i] += 1;
                    *self.by_source.entry(source.clone()).or_default() += 1;
                }
            }
            Change::Segment { old, new } => {
                if let Some(old) = old {
                    self.segment(old, false);
                }
                self.segment(new, true);
            }
            Change::AgentSpan {
                agent,
                status,
                from_ms,
                to_ms,
            } => self.agent_span(agent, *status, *from_ms, *to_ms),
            Change::AgentState { .. } => {}
            Change::Survey { at_ms, score } => {
                if let Some(i) = self.periods.index(*at_ms) {
                    self.surveys[i].count += 1;
                    self.surveys[i].sum += u64::from(*score);
                }
            }
            Change::IvrEntered { node, call_ms } => {
                if self.periods.index(*call_ms).is_some() {
                    self.ivr.entry(node.clone()).or_default().entered += 1;
                }
            }
            Change::IvrDropped { node, call_ms } => {
                if self.periods.index(*call_ms).is_some() {
                    self.ivr.entry(node.clone()).or_default().dropped += 1;
                }
            }
        }
    }

    /// Agent time in `[from, to)`, clipped to the period.
    pub fn agent_span(
        &mut self,
        agent: &str,
        status: crate::acd::types::AgentStatus,
        from: u64,
        to: u64,
    ) {
        let to = to.min(self.periods.end);
        let t = self.agent_time.entry(agent.to_string()).or_default();
        for (_, ms) in split_by_bounds(from, to, &self.periods.starts) {
            t.add_status(status, ms);
        }
    }

    fn segment(&mut self, s: &Seg, add: bool) {
        let Some(i) = self.periods.index(s.fact.arrived_ms) else {
            return;
        };
        let p = self.kpi.params(&s.queue);
        let apply = |t: &mut CallTally| {
            if add {
                t.add(&s.fact, &p)
            } else {
                t.remove(&s.fact, &p)
            }
        };
        apply(&mut self.calls[i]);
        apply(self.by_queue.entry(s.queue.clone()).or_default());
        apply(self.by_type.entry(s.call_type.clone()).or_default());
        if let (Some(agent), Some(_)) = (&s.agent, s.fact.answered_ms) {
            apply(self.by_agent.entry(agent.clone()).or_default());
        }
    }

    /// Sum of all intervals.
    pub fn total(&self) -> CallTally {
        let mut t = CallTally::default();
        for c in &self.calls {
            t.merge(c);
        }
        t
    }
}
