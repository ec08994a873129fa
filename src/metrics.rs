//! Prometheus metrics, all named `helpline_*`, with bounded label values only
//! (SIP methods, status codes, queue names from config; never caller numbers).
//!
//! We use the `prometheus` crate (the one the product card names): its registry and text
//! encoder are stable, and hot paths hold pre-resolved counters, so a scrape never slows calls.

use prometheus::{
    Encoder, Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge,
    IntGaugeVec, Opts, Registry, TextEncoder,
};
use std::sync::Arc;

/// Every metric the server exports.
pub struct Metrics {
    pub registry: Registry,
    pub sip_requests: IntCounterVec,
    pub sip_responses: IntCounterVec,
    pub sip_parse_errors: IntCounter,
    pub sip_retransmissions: IntCounter,
    pub sip_dialogs_active: IntGauge,
    pub sip_transactions_active: IntGauge,
    pub sip_rejected_overload: IntCounter,
    pub sip_registrations_active: IntGauge,
    pub tcp_connections_active: IntGauge,
    pub calls_total: IntCounterVec,
    pub calls_active: IntGauge,
    pub answer_latency: Histogram,
    pub store_queue_depth: IntGauge,
    pub store_events_written: IntGauge,
    pub store_events_spilled: IntGauge,
    pub store_batches_failed: IntGauge,
    pub http_logins: IntCounterVec,
    pub config_reload_errors: IntCounterVec,
    pub agents_by_state: IntGaugeVec,
    /// Queue segments by final outcome: answered, abandoned (after the short-abandon time),
    /// short_abandoned, callback. Labels: configured queue names only.
    pub queue_calls: IntCounterVec,
    pub queue_answered: IntCounterVec,
    pub queue_answered_in_sl: IntCounterVec,
    pub queue_waiting: IntGaugeVec,
    pub queue_wait: HistogramVec,
    pub queue_handle: HistogramVec,
    pub supervisor_sockets: IntGauge,
    pub supervisor_actions: IntCounterVec,
    /// Callbacks by outcome: booked, refused, dialled, answered, no_answer, failed.
    pub callbacks: IntCounterVec,
    /// Billable legs the outbound gate refused, by reason (see `crate::outbound::Refusal`).
    pub outbound_refused: IntCounterVec,
    /// Billable legs the outbound gate let through, by path.
    pub outbound_legs: IntCounterVec,
    /// Failed authentications by kind (`register`, `invite`; web logins may add `web`).
    pub auth_failures: IntCounterVec,
    /// Bans started by the failed-auth limiter (an address/user pair or a whole address).
    pub sip_banned: IntCounter,
    /// Requests refused because their (address, user) or address is banned.
    pub sip_ban_refused: IntCounter,
    /// Requests from scanner user agents, dropped without an answer.
    pub sip_scanners_dropped: IntCounter,
    /// Requests over the Via or header-count cap (answered with a small 400 or dropped).
    pub sip_oversized: IntCounter,
}

/// Outcomes of `helpline_queue_calls_total`.
pub const QUEUE_OUTCOMES: &[&str] = &[
    "answered",
    "abandoned",
    "short_abandoned",
    "callback",
    "voicemail",
    "busy",
];

/// The SIP methods we count by name; anything else is counted as `other`.
pub const METHODS: &[&str] = &[
    "INVITE",
    "ACK",
    "BYE",
    "CANCEL",
    "OPTIONS",
    "REGISTER",
    "INFO",
    "UPDATE",
    "PRACK",
    "SUBSCRIBE",
    "NOTIFY",
    "REFER",
    "MESSAGE",
    "PUBLISH",
];

pub fn method_label(method: &str) -> &'static str {
    METHODS
        .iter()
        .find(|m| **m == method)
        .copied()
        .unwrap_or("other")
}

impl Metrics {
    pub fn new() -> Arc<Metrics> {
        let r = Registry::new();
        let m = Metrics {
            sip_requests: counter_vec(
                &r,
                "helpline_sip_requests_total",
                "SIP requests received, by method",
                &["method"],
            ),
            sip_responses: counter_vec(
                &r,
                "helpline_sip_responses_total",
                "SIP responses sent, by status code",
                &["code"],
            ),
            sip_parse_errors: counter(
                &r,
                "helpline_sip_parse_errors_total",
                "SIP messages refused as malformed",
            ),
            sip_retransmissions: counter(
                &r,
                "helpline_sip_retransmissions_total",
                "SIP messages retransmitted by our timers",
            ),
            sip_dialogs_active: gauge(
                &r,
                "helpline_sip_dialogs_active",
                "SIP dialogs (call legs) in progress",
            ),
            sip_transactions_active: gauge(
                &r,
                "helpline_sip_transactions_active",
                "SIP transactions in progress",
            ),
            sip_rejected_overload: counter(
                &r,
                "helpline_sip_rejected_overload_total",
                "INVITEs answered 503 because of capacity or shutdown",
            ),
            sip_registrations_active: gauge(
                &r,
                "helpline_sip_registrations_active",
                "Registered contact bindings",
            ),
            tcp_connections_active: gauge(
                &r,
                "helpline_sip_tcp_connections_active",
                "Open SIP TCP connections",
            ),
            calls_total: counter_vec(
                &r,
                "helpline_calls_total",
                "Calls ended, by outcome",
                &["outcome"],
            ),
            calls_active: gauge(&r, "helpline_calls_active", "Calls in progress"),
            answer_latency: histogram(
                &r,
                "helpline_sip_answer_latency_seconds",
                "INVITE received to 200 OK sent",
                vec![
                    0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0,
                ],
            ),
            store_queue_depth: gauge(
                &r,
                "helpline_store_queue_depth",
                "Events waiting to be written to the database",
            ),
            store_events_written: gauge(
                &r,
                "helpline_store_events_written",
                "Events written to the database since start",
            ),
            store_events_spilled: gauge(
                &r,
                "helpline_store_events_spilled",
                "Events spilled to the local file since start",
            ),
            store_batches_failed: gauge(
                &r,
                "helpline_store_batches_failed",
                "Event batches that failed and were retried",
            ),
            http_logins: counter_vec(
                &r,
                "helpline_http_logins_total",
                "Login attempts, by result",
                &["result"],
            ),
            config_reload_errors: counter_vec(
                &r,
                "helpline_config_reload_errors_total",
                "Refused reloads, by kind of file",
                &["kind"],
            ),
            agents_by_state: gauge_vec(&r, "helpline_agents", "Agents by state", &["state"]),
            queue_calls: counter_vec(
                &r,
                "helpline_queue_calls_total",
                "Queued calls by queue and outcome (answered, abandoned, short_abandoned, callback, voicemail, busy)",
                &["queue", "outcome"],
            ),
            queue_answered: counter_vec(
                &r,
                "helpline_queue_answered_total",
                "Queued calls answered by an agent",
                &["queue"],
            ),
            queue_answered_in_sl: counter_vec(
                &r,
                "helpline_queue_answered_within_threshold_total",
                "Queued calls answered within the queue's service-level threshold",
                &["queue"],
            ),
            queue_waiting: gauge_vec(
                &r,
                "helpline_queue_waiting_callers",
                "Callers waiting in the queue now",
                &["queue"],
            ),
            queue_wait: histogram_vec(
                &r,
                "helpline_queue_wait_seconds",
                "Time from queueing to answer (answered) or hang-up (abandoned)",
                &["queue", "outcome"],
                vec![
                    5.0, 10.0, 15.0, 20.0, 30.0, 45.0, 60.0, 90.0, 120.0, 180.0, 300.0, 600.0,
                ],
            ),
            queue_handle: histogram_vec(
                &r,
                "helpline_queue_handle_seconds",
                "Handle time of answered calls: talk plus wrap-up",
                &["queue"],
                vec![
                    30.0, 60.0, 120.0, 180.0, 300.0, 420.0, 600.0, 900.0, 1200.0, 1800.0, 3600.0,
                ],
            ),
            supervisor_sockets: gauge(
                &r,
                "helpline_supervisor_sockets",
                "Wallboard sockets connected",
            ),
            supervisor_actions: counter_vec(
                &r,
                "helpline_supervisor_actions_total",
                "Supervisor actions by kind and result (ok, refused)",
                &["action", "result"],
            ),
            callbacks: counter_vec(
                &r,
                "helpline_callbacks_total",
                "Callbacks by outcome (booked, refused, dialled, answered, no_answer, failed)",
                &["outcome"],
            ),
            outbound_refused: counter_vec(
                &r,
                "helpline_outbound_refused_total",
                "Billable outbound legs refused by the outbound gate, by reason",
                &["reason"],
            ),
            outbound_legs: counter_vec(
                &r,
                "helpline_outbound_legs_total",
                "Billable outbound legs the outbound gate let through, by path",
                &["path"],
            ),
            auth_failures: counter_vec(
                &r,
                "helpline_auth_failures_total",
                "Failed authentications by kind (register, invite)",
                &["kind"],
            ),
            sip_banned: counter(
                &r,
                "helpline_sip_banned_total",
                "Bans started for repeated authentication failures (address/user pair or address)",
            ),
            sip_ban_refused: counter(
                &r,
                "helpline_sip_ban_refused_total",
                "SIP requests refused because their source (and user) is banned",
            ),
            sip_scanners_dropped: counter(
                &r,
                "helpline_sip_scanners_dropped_total",
                "SIP requests from scanner user agents dropped without an answer",
            ),
            sip_oversized: counter(
                &r,
                "helpline_sip_oversized_total",
                "SIP requests over the Via or header-count cap",
            ),
            registry: r,
        };
        for kind in ["register", "invite"] {
            m.auth_failures.with_label_values(&[kind]);
        }
        Arc::new(m)
    }

    /// The Prometheus text exposition of every metric.
    pub fn render(&self) -> String {
        let mut buf = Vec::new();
        if TextEncoder::new()
            .encode(&self.registry.gather(), &mut buf)
            .is_err()
        {
            return String::new();
        }
        String::from_utf8(buf).unwrap_or_default()
    }
}

fn counter(r: &Registry, name: &str, help: &str) -> IntCounter {
    let c = IntCounter::new(name, help).unwrap_or_else(|e| panic!("metric {name}: {e}"));
    register(r, Box::new(c.clone()));
    c
}

fn counter_vec(r: &Registry, name: &str, help: &str, labels: &[&str]) -> IntCounterVec {
    let c = IntCounterVec::new(Opts::new(name, help), labels)
        .unwrap_or_else(|e| panic!("metric {name}: {e}"));
    register(r, Box::new(c.clone()));
    c
}

fn gauge(r: &Registry, name: &str, help: &str) -> IntGauge {
    let g = IntGauge::new(name, help).unwrap_or_else(|e| panic!("metric {name}: {e}"));
    register(r, Box::new(g.clone()));
    g
}

fn gauge_vec(r: &Registry, name: &str, help: &str, labels: &[&str]) -> IntGaugeVec {
    let g = IntGaugeVec::new(Opts::new(name, help), labels)
        .unwrap_or_else(|e| panic!("metric {name}: {e}"));
    register(r, Box::new(g.clone()));
    g
}

fn histogram_vec(
    r: &Registry,
    name: &str,
    help: &str,
    labels: &[&str],
    buckets: Vec<f64>,
) -> HistogramVec {
    let h = HistogramVec::new(HistogramOpts::new(name, help).buckets(buckets), labels)
        .unwrap_or_else(|e| panic!("metric {name}: {e}"));
    register(r, Box::new(h.clone()));
    h
}

fn histogram(r: &Registry, name: &str, help: &str, buckets: Vec<f64>) -> Histogram {
    let h = Histogram::with_opts(HistogramOpts::new(name, help).buckets(buckets))
        .unwrap_or_else(|e| panic!("metric {name}: {e}"));
    register(r, Box::new(h.clone()));
    h
}

/// Registration fails only for a duplicate or malformed name: a programming error found by tests.
fn register(r: &Registry, c: Box<dyn prometheus::core::Collector>) {
    if let Err(e) = r.register(c) {
        panic!("metric registration: {e}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exposition_has_helpline_names_and_labels() {
        let m = Metrics::new();
        m.sip_requests.with_label_values(&["INVITE"]).inc();
        m.sip_responses.with_label_values(&["200"]).inc_by(2);
        let text = m.render();
        assert!(
            text.contains("helpline_sip_requests_total{method=\"INVITE\"} 1"),
            "{text}"
        );
        assert!(text.contains("helpline_sip_responses_total{code=\"200\"} 2"));
        assert!(text
            .lines()
            .filter(|l| !l.starts_with('#'))
            .all(|l| l.starts_with("helpline_")));
    }

    #[test]
    fn unknown_methods_share_one_label() {
        assert_eq!(method_label("FOO"), "other");
        assert_eq!(method_label("BYE"), "BYE");
    }
}
