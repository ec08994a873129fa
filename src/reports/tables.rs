//! The named reports as tables (the "Report JSON" of CONTRACTS.md): columns, rows, a chart hint,
//! and the same table as CSV. Column suffixes carry units: `_secs` seconds, `_ratio` 0..1.

use super::tally::RangeTally;
use super::tickets::TicketTally;
use crate::acd::kpi::CallTally;
use serde::Serialize;
use serde_json::{json, Value};
use std::collections::HashMap;

/// Every report name, in the order the page lists them.
pub const NAMES: [&str; 8] = [
    "volume",
    "by_queue",
    "by_call_type",
    "by_source",
    "service_level",
    "agents",
    "tickets",
    "ivr_dropout",
];

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Chart {
    pub kind: &'static str,
    pub x: &'static str,
    pub series: Vec<&'static str>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Table {
    pub columns: Vec<&'static str>,
    pub rows: Vec<Vec<Value>>,
    pub chart: Option<Chart>,
}

fn chart(kind: &'static str, x: &'static str, series: &[&'static str]) -> Option<Chart> {
    Some(Chart {
        kind,
        x,
        series: series.to_vec(),
    })
}

/// Milliseconds as seconds with one decimal.
fn secs(ms: Option<f64>) -> Value {
    ms.map_or(Value::Null, |m| json!((m / 100.0).round() / 10.0))
}

fn ratio(r: Option<f64>) -> Value {
    r.map_or(Value::Null, |r| json!((r * 10_000.0).round() / 10_000.0))
}

/// What the reports need besides the call tally.
pub struct Extras<'a> {
    /// Agent id → display name.
    pub agent_names: &'a HashMap<String, String>,
    pub tickets: &'a TicketTally,
}

/// The report `name`, or None for an unknown name.
pub fn build(name: &str, t: &RangeTally, x: &Extras) -> Option<Table> {
    let labels = &t.periods.labels;
    let table = match name {
        "volume" => Table {
            columns: vec!["interval", "received", "answered", "abandoned"],
            rows: labels
                .iter()
                .enumerate()
                .map(|(i, l)| {
                    let c = &t.calls[i];
                    vec![
                        json!(l),
                        json!(t.received[i]),
                        json!(c.answered),
                        json!(c.abandoned),
                    ]
                })
                .collect(),
            chart: chart("line", "interval", &["received", "answered", "abandoned"]),
        },
        "by_queue" => Table {
            columns: vec![
                "queue",
                "offered",
                "answered",
                "abandoned",
                "short_abandoned",
                "asa_secs",
                "aht_secs",
                "service_level_ratio",
                "abandon_ratio",
            ],
            rows: t
                .by_queue
                .iter()
                .filter(|(_, c)| **c != CallTally::default())
                .map(|(q, c)| {
                    vec![
                        json!(q),
                        json!(c.offered),
                        json!(c.answered),
                        json!(c.abandoned),
                        json!(c.short_abandoned),
                        secs(c.asa_ms()),
                        secs(c.aht_ms()),
                        ratio(c.service_level()),
                        ratio(c.abandon_rate()),
                    ]
                })
                .collect(),
            chart: chart("bar", "queue", &["asa_secs", "aht_secs"]),
        },
        "by_call_type" => Table {
            columns: vec!["call_type", "offered", "answered", "asa_secs", "aht_secs"],
            rows: t
                .by_type
                .iter()
                .filter(|(_, c)| **c != CallTally::default())
                .map(|(k, c)| {
                    vec![
                        json!(k),
                        json!(c.offered),
                        json!(c.answered),
                        secs(c.asa_ms()),
                        secs(c.aht_ms()),
                    ]
                })
                .collect(),
            chart: chart("bar", "call_type", &["asa_secs", "aht_secs"]),
        },
        "by_source" => Table {
            columns: vec!["source", "calls"],
            rows: t
                .by_source
                .iter()
                .map(|(s, n)| {
                    let label = if s.is_empty() { "(unknown)" } else { s };
                    vec![json!(label), json!(n)]
                })
                .collect(),
            chart: chart("pie", "source", &["calls"]),
        },
        "service_level" => Table {
            columns: vec![
                "interval",
                "offered",
                "answered_in_sl",
                "service_level_ratio",
            ],
            rows: labels
                .iter()
                .zip(&t.calls)
                .map(|(l, c)| {
                    vec![
                        json!(l),
                        json!(c.offered),
                        json!(c.answered_in_sl),
                        ratio(c.service_level()),
                    ]
                })
                .collect(),
            chart: chart("line", "interval", &["service_level_ratio"]),
        },
        "agents" => agents(t, x),
        "tickets" => Table {
            columns: vec![
                "interval",
                "created",
                "resolved",
                "fcr_ratio",
                "avg_resolution_secs",
                "survey_avg",
                "surveys",
            ],
            rows: labels
                .iter()
                .enumerate()
                .map(|(i, l)| {
                    let k = x.tickets.intervals.get(i).copied().unwrap_or_default();
                    let s = t.surveys[i];
                    vec![
                        json!(l),
                        json!(k.created),
                        json!(k.resolved),
                        ratio(k.fcr.rate()),
                        secs(k.avg_resolution_ms()),
                        s.average()
                            .map_or(Value::Null, |a| json!((a * 100.0).round() / 100.0)),
                        json!(s.count),
                    ]
                })
                .collect(),
            chart: chart("line", "interval", &["fcr_ratio"]),
        },
        "ivr_dropout" => Table {
            columns: vec!["node", "entered", "dropped", "dropout_ratio"],
            rows: t
                .ivr
                .iter()
                .map(|(node, n)| {
                    let r = (n.entered > 0).then(|| n.dropped as f64 / n.entered as f64);
                    vec![json!(node), json!(n.entered), json!(n.dropped), ratio(r)]
                })
                .collect(),
            chart: chart("bar", "node", &["dropped"]),
        },
        _ => return None,
    };
    Some(table)
}

fn agents(t: &RangeTally, x: &Extras) -> Table {
    let mut ids: Vec<&String> = t.by_agent.keys().chain(t.agent_time.keys()).collect();
    ids.sort();
    ids.dedup();
    let none = CallTally::default();
    Table {
        columns: vec![
            "agent",
            "name",
            "answered",
            "avg_talk_secs",
            "aht_secs",
            "occupancy_ratio",
            "not_ready_secs",
        ],
        rows: ids
            .into_iter()
            .map(|id| {
                let c = t.by_agent.get(id).unwrap_or(&none);
                let time = t.agent_time.get(id).copied().unwrap_or_default();
                vec![
                    json!(id),
                    json!(x.agent_names.get(id).unwrap_or(id)),
                    json!(c.answered),
                    secs(c.avg_talk_ms()),
                    secs(c.aht_ms()),
                    ratio(time.occupancy()),
                    secs(Some(time.not_ready_ms as f64)),
                ]
            })
            .collect(),
        chart: None,
    }
}

/// A text cell a spreadsheet would run as a formula (`=`, `+`, `-`, `@`, or a tab or carriage
/// return first) gets a leading `'` so it stays text (CSV injection, OWASP). Numbers are
/// numbers, never text, and are written as they are.
fn csv_text(s: &str) -> String {
    if s.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{s}")
    } else {
        s.to_string()
    }
}

/// The table as CSV: a header of column names, then the rows (null → empty; text that could
/// start a formula prefixed with `'`).
pub fn to_csv(t: &Table) -> String {
    let mut w = csv::Writer::from_writer(Vec::new());
    let _ = w.write_record(&t.columns);
    for row in &t.rows {
        let cells: Vec<String> = row
            .iter()
            .map(|v| match v {
                Value::Null => String::new(),
                Value::String(s) => csv_text(s),
                other => other.to_string(),
            })
            .collect();
        let _ = w.write_record(&cells);
    }
    w.into_inner()
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .unwrap_or_default()
}
