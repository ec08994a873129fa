//! What a simulation run reports: KPIs per queue, per interval and overall, occupancy,
//! batch-means confidence intervals and, for textbook scenarios, the Erlang C/A figures.
use super::erlang::{erlang_a, erlang_c, ErlangFigures};
use super::scenario::Scenario;
use crate::acd::kpi::{CallTally, Kpis};
use serde::Serialize;
use std::fmt;

/// A mean with the half-width of its 95% confidence interval (batch means, Student t).
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Ci {
    pub mean: f64,
    pub half_width: f64,
}

impl Ci {
    pub fn contains(&self, x: f64) -> bool {
        (x - self.mean).abs() <= self.half_width
    }
    fn from(values: &[f64]) -> Option<Ci> {
        let k = values.len();
        if k < 2 {
            return None;
        }
        let mean = values.iter().sum::<f64>() / k as f64;
        let var = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (k - 1) as f64;
        Some(Ci {
            mean,
            half_width: t975(k - 1) * (var / k as f64).sqrt(),
        })
    }
}

/// Two-sided 95% Student t quantile.
fn t975(df: usize) -> f64 {
    const T: [f64; 30] = [
        12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160,
        2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056,
        2.052, 2.048, 2.045, 2.042,
    ];
    T.get(df.saturating_sub(1)).copied().unwrap_or(1.96)
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct BatchStats {
    pub batches: usize,
    pub p_wait: Option<Ci>,
    pub asa_s: Option<Ci>,
    pub service_level: Option<Ci>,
    pub abandon_rate: Option<Ci>,
}

impl BatchStats {
    pub fn from_batches(b: &[CallTally]) -> BatchStats {
        let metric = |f: &dyn Fn(&CallTally) -> Option<f64>| {
            let v: Option<Vec<f64>> = b.iter().map(f).collect();
            v.and_then(|v| Ci::from(&v))
        };
        BatchStats {
            batches: b.len(),
            p_wait: metric(&|t| t.waited_share()),
            asa_s: metric(&|t| t.asa_ms().map(|m| m / 1000.0)),
            service_level: metric(&|t| t.service_level()),
            abandon_rate: metric(&|t| t.abandon_rate()),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct QueueRow {
    pub name: String,
    pub kpis: Kpis,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct IntervalRow {
    pub start_s: u64,
    pub queue: String,
    pub kpis: Kpis,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct GroupRow {
    pub name: String,
    pub agents: usize,
    pub occupancy: Option<f64>,
}

/// The textbook model matching a scenario, when there is one.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ErlangCheck {
    pub model: &'static str,
    pub figures: ErlangFigures,
}

impl Serialize for ErlangCheck {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut st = s.serialize_struct("ErlangCheck", 5)?;
        st.serialize_field("model", self.model)?;
        st.serialize_field("p_wait", &self.figures.p_wait)?;
        st.serialize_field("asa_s", &self.figures.asa_s)?;
        st.serialize_field("service_level", &self.figures.service_level)?;
        st.serialize_field("p_abandon", &self.figures.p_abandon)?;
        st.end()
    }
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RunReport {
    pub label: String,
    pub counted_calls: u64,
    pub agents: usize,
    pub queues: Vec<QueueRow>,
    pub overall: Kpis,
    pub occupancy: Option<f64>,
    pub groups: Vec<GroupRow>,
    pub intervals: Vec<IntervalRow>,
    pub interval_occupancy: Vec<(u64, Option<f64>)>,
    pub batch: BatchStats,
    pub erlang: Option<ErlangCheck>,
    pub offers: u64,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Report {
    pub scenario: String,
    pub runs: Vec<RunReport>,
}

/// Erlang C (no patience) or Erlang A (exponential patience) when the scenario is one
/// FIFO queue, one stationary Poisson stream with exponential handle times, one fixed
/// group of agents, no ring time and no wrap-up.
pub fn erlang_check(sc: &Scenario) -> Option<ErlangCheck> {
    let [stream] = sc.streams.as_slice() else {
        return None;
    };
    let [queue] = sc.config.queues.as_slice() else {
        return None;
    };
    let [group] = sc.groups.as_slice() else {
        return None;
    };
    let [rate] = stream.per_hour.as_slice() else {
        return None;
    };
    if !stream.handle.is_exponential()
        || sc.ring_ms != 0
        || queue.wrap_up_ms != 0
        || group.shift.is_some()
    {
        return None;
    }
    if !queue.relax.is_empty()
        || queue.overflow.is_some()
        || queue.max_wait.is_some()
        || queue.max_size.is_some()
    {
        return None;
    }
    let (n, lambda, aht, t) = (
        group.agents.len() as u32,
        rate / 3600.0,
        stream.handle.mean_s(),
        queue.sl_threshold_ms as f64 / 1000.0,
    );
    match stream.patience {
        None => erlang_c(n, lambda, aht, t).map(|figures| ErlangCheck {
            model: "Erlang C",
            figures,
        }),
        Some(p) if p.is_exponential() => {
            erlang_a(n, lambda, aht, p.mean_s(), t).map(|figures| ErlangCheck {
                model: "Erlang A",
                figures,
            })
        }
        Some(_) => None,
    }
}

fn pct(x: Option<f64>) -> String {
    x.map_or("-".into(), |v| format!("{:.1}%", v * 100.0))
}
fn secs(x: Option<f64>) -> String {
    x.map_or("-".into(), |v| format!("{v:.1}s"))
}
fn ci(c: Option<Ci>, scale: f64, unit: &str) -> String {
    c.map_or("-".into(), |c| {
        format!("{:.3}{unit} ± {:.3}", c.mean * scale, c.half_width * scale)
    })
}

fn kpi_line(f: &mut fmt::Formatter<'_>, name: &str, k: &Kpis) -> fmt::Result {
    writeln!(
        f,
        "  {name:<16} {:>8} {:>8} {:>7} {:>7} {:>8} {:>7} {:>7}",
        k.offered,
        k.answered,
        pct(k.service_level),
        secs(k.asa_s),
        pct(k.abandon_rate),
        pct(k.waited_share),
        secs(k.aht_s)
    )
}

impl fmt::Display for RunReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "== {} — {} agents, {} calls counted, {} offers",
            self.label, self.agents, self.counted_calls, self.offers
        )?;
        writeln!(
            f,
            "  {:<16} {:>8} {:>8} {:>7} {:>7} {:>8} {:>7} {:>7}",
            "queue", "offered", "answered", "SL", "ASA", "abandon", "P(wait)", "AHT"
        )?;
        for q in &self.queues {
            kpi_line(f, &q.name, &q.kpis)?;
        }
        kpi_line(f, "all", &self.overall)?;
        write!(f, "  occupancy {}", pct(self.occupancy))?;
        for g in &self.groups {
            write!(f, "; {} ({}) {}", g.name, g.agents, pct(g.occupancy))?;
        }
        writeln!(f)?;
        if self.intervals.len() <= 200 && self.interval_occupancy.len() > 1 {
            writeln!(f, "  per interval:")?;
            for row in &self.intervals {
                let t = format!(
                    "{:02}:{:02} {}",
                    row.start_s / 3600,
                    row.start_s % 3600 / 60,
                    row.queue
                );
                kpi_line(f, &t, &row.kpis)?;
            }
            let occ: Vec<String> = self
                .interval_occupancy
                .iter()
                .map(|(s, o)| format!("{:02}:{:02} {}", s / 3600, s % 3600 / 60, pct(*o)))
                .collect();
            writeln!(f, "  occupancy per interval: {}", occ.join(", "))?;
        }
        let b = &self.batch;
        writeln!(
            f,
            "  batch means ({} batches, 95% CI): P(wait) {}  ASA {}  SL {}  abandon {}",
            b.batches,
            ci(b.p_wait, 1.0, ""),
            ci(b.asa_s, 1.0, "s"),
            ci(b.service_level, 1.0, ""),
            ci(b.abandon_rate, 1.0, "")
        )?;
        if let Some(e) = &self.erlang {
            let row = |name: &str, formula: f64, sim: Option<Ci>| -> String {
                match sim {
                    Some(c) => format!(
                        "{name} formula {formula:.4} sim {:.4} ± {:.4} ({:+.2}%, {})",
                        c.mean,
                        c.half_width,
                        (c.mean - formula) / formula * 100.0,
                        if c.contains(formula) {
                            "inside CI"
                        } else {
                            "OUTSIDE CI"
                        }
                    ),
                    None => format!("{name} formula {formula:.4}"),
                }
            };
            writeln!(f, "  {}:", e.model)?;
            writeln!(f, "    {}", row("P(wait)", e.figures.p_wait, b.p_wait))?;
            writeln!(f, "    {}", row("ASA (s)", e.figures.asa_s, b.asa_s))?;
            writeln!(
                f,
                "    {}",
                row("SL     ", e.figures.service_level, b.service_level)
            )?;
            if e.model == "Erlang A" {
                writeln!(
                    f,
                    "    {}",
                    row("abandon", e.figures.p_abandon, b.abandon_rate)
                )?;
            }
        }
        Ok(())
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "scenario {}", self.scenario)?;
        for r in &self.runs {
            write!(f, "{r}")?;
        }
        Ok(())
    }
}
