//! Contact-centre Prometheus metrics, driven by the same fold changes as the wallboard: a
//! segment's outcome is counted once, when it first has one (answered, abandoned, short
//! abandoned, callback), and its handle time when that becomes final. Gauges (waiting callers,
//! agents by state) follow the router's board. Queue labels are the configured queue names
//! only (anything else is `other`), so label values stay bounded.

use crate::acd::service::Board;
use crate::acd::types::AgentStatus;
use crate::metrics::Metrics;
use crate::reports::fold::{Change, Seg};
use crate::reports::KpiConfig;
use std::collections::HashSet;
use std::sync::Arc;

pub struct PromSink {
    metrics: Arc<Metrics>,
    queues: HashSet<String>,
    kpi: KpiConfig,
}

impl PromSink {
    pub fn new(
        metrics: Arc<Metrics>,
        queues: impl IntoIterator<Item = String>,
        kpi: KpiConfig,
    ) -> PromSink {
        PromSink {
            metrics,
            queues: queues.into_iter().collect(),
            kpi,
        }
    }

    fn label<'a>(&self, q: &'a str) -> &'a str {
        if self.queues.contains(q) {
            q
        } else {
            "other"
        }
    }

    pub fn change(&self, c: &Change) {
        let Change::Segment { old, new } = c else {
            return;
        };
        let old = old.clone().unwrap_or_default();
        self.outcome(&old, new);
        if old.fact.handle_ms.is_none() {
            if let Some(h) = new.fact.handle_ms {
                self.metrics
                    .queue_handle
                    .with_label_values(&[self.label(&new.queue)])
                    .observe(h as f64 / 1000.0);
            }
        }
    }

    fn outcome(&self, old: &Seg, new: &Seg) {
        let (o, n) = (&old.fact, &new.fact);
        let q = self.label(&new.queue);
        let m = &self.metrics;
        let p = self.kpi.params(&new.queue);
        if o.answered_ms.is_none() {
            if let Some(at) = n.answered_ms {
                let wait = at.saturating_sub(n.arrived_ms);
                m.queue_calls.with_label_values(&[q, "answered"]).inc();
                m.queue_answered.with_label_values(&[q]).inc();
                if wait <= p.sl_threshold_ms {
                    m.queue_answered_in_sl.with_label_values(&[q]).inc();
                }
                m.queue_wait
                    .with_label_values(&[q, "answered"])
                    .observe(wait as f64 / 1000.0);
                return;
            }
        }
        if o.abandoned_ms.is_none() && n.answered_ms.is_none() {
            if let Some(at) = n.abandoned_ms {
                let wait = at.saturating_sub(n.arrived_ms);
                let outcome = if wait < p.short_abandon_ms {
                    "short_abandoned"
                } else {
                    "abandoned"
                };
                m.queue_calls.with_label_values(&[q, outcome]).inc();
                m.queue_wait
                    .with_label_values(&[q, "abandoned"])
                    .observe(wait as f64 / 1000.0);
                return;
            }
        }
        if !o.deflected && n.deflected && n.answered_ms.is_none() && n.abandoned_ms.is_none() {
            let how = new.deflection.unwrap_or("callback");
            m.queue_calls.with_label_values(&[q, how]).inc();
        }
    }

    /// Gauges from the router's view: callers waiting per queue, agents by state.
    pub fn board(&self, b: &Board) {
        let m = &self.metrics;
        for q in &b.snapshot.queues {
            m.queue_waiting
                .with_label_values(&[self.label(&q.name)])
                .set(q.waiting as i64);
        }
        let mut counts = [0i64; 7];
        for a in &b.snapshot.agents {
            if let Some(i) = AgentStatus::ALL.iter().position(|s| *s == a.state) {
                counts[i] += 1;
            }
        }
        for (s, n) in AgentStatus::ALL.iter().zip(counts) {
            m.agents_by_state.with_label_values(&[s.name()]).set(n);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reports::fold::Fold;

    /// Runs `promtool check <what>` on `input` (stdin) or a file; None when promtool is absent.
    pub(crate) fn promtool(args: &[&str], input: Option<&str>) -> Option<(bool, String)> {
        use std::io::Write;
        let Ok(mut child) = std::process::Command::new("promtool")
            .args(args)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
        else {
            eprintln!(
                "SKIP: promtool not found (Debian package `prometheus`; tests/setup/install-deps.sh installs it)"
            );
            return None;
        };
        if let (Some(text), Some(mut stdin)) = (input, child.stdin.take()) {
            let _ = stdin.write_all(text.as_bytes());
        }
        let out = child.wait_with_output().ok()?;
        let text = String::from_utf8_lossy(&out.stdout).to_string()
            + &String::from_utf8_lossy(&out.stderr);
        Some((out.status.success(), text))
    }

    fn value(text: &str, series: &str) -> f64 {
        text.lines()
            .find_map(|l| l.strip_prefix(series)?.trim().parse().ok())
            .unwrap_or(0.0)
    }

    #[test]
    fn the_fixture_day_counted_once_per_outcome_and_linted_by_promtool() {
        let m = Metrics::new();
        let sink = PromSink::new(
            m.clone(),
            ["sales".to_string(), "support".to_string()],
            crate::reports::tests::kpi(),
        );
        let mut fold = Fold::new();
        let mut buf = Vec::new();
        for ev in crate::reports::tests::fixture() {
            fold.apply(&ev, &mut buf);
            for c in buf.drain(..) {
                sink.change(&c);
            }
        }
        let text = m.render();
        // sales: G, A, D1, H answered (G the day before: counters do not reset at midnight),
        // B a short abandon, E a callback; support: D2 answered, C abandoned.
        let v = |s: &str| value(&text, s);
        assert_eq!(v("helpline_queue_answered_total{queue=\"sales\"}"), 4.0);
        assert_eq!(
            v("helpline_queue_answered_within_threshold_total{queue=\"sales\"}"),
            1.0,
            "only D1 within 20 s"
        );
        assert_eq!(
            v("helpline_queue_calls_total{outcome=\"short_abandoned\",queue=\"sales\"}"),
            1.0
        );
        assert_eq!(
            v("helpline_queue_calls_total{outcome=\"callback\",queue=\"sales\"}"),
            1.0
        );
        assert_eq!(
            v("helpline_queue_calls_total{outcome=\"abandoned\",queue=\"support\"}"),
            1.0
        );
        assert_eq!(
            v("helpline_queue_handle_seconds_count{queue=\"sales\"}"),
            4.0,
            "handles become final once each"
        );
        assert_eq!(
            v("helpline_queue_handle_seconds_sum{queue=\"support\"}"),
            100.0
        );
        if let Some((ok, out)) = promtool(&["check", "metrics"], Some(&text)) {
            assert!(ok, "promtool check metrics:\n{out}\n{text}");
        }
    }

    #[test]
    fn the_recording_rules_pass_promtool() {
        let rules = concat!(env!("CARGO_MANIFEST_DIR"), "/deploy/prometheus-rules.yml");
        if let Some((ok, out)) = promtool(&["check", "rules", rules], None) {
            assert!(ok, "promtool check rules:\n{out}");
        }
    }
}
