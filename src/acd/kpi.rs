//! KPI definitions — the one place where service level, ASA, abandonment, AHT and
//! occupancy are defined. The simulator and the supervisor reports both feed per-call
//! and per-agent facts into these tallies, so their figures cannot disagree.
//!
//! # Definitions
//! Calls count in the interval in which they *arrived* (were offered to the queue).
//! * **offered** — calls that entered the queue.
//! * **answered** — connected to an agent; **wait** = answer time − arrival time.
//! * **abandoned** — the caller hung up before an answer; **short abandoned** — abandoned
//!   within the short-abandon threshold (`short_abandon_ms`, e.g. 5 s): misdials and
//!   instant hang-ups, not counted as lost demand.
//! * **deflected** — left the queue by a configured outcome (voicemail, busy, failed
//!   callback): offered, but neither answered nor abandoned.
//! * **Service level** = answered with wait ≤ T ÷ (answered + abandoned − short abandoned),
//!   T = the queue's `sl_threshold_s`. Abandons after the threshold count against it,
//!   short abandons and deflections do not count at all.
//! * **ASA** (average speed of answer) = Σ wait of answered calls ÷ answered.
//! * **Abandon rate** = (abandoned − short abandoned) ÷ (offered − short abandoned).
//! * **Short abandon rate** = short abandoned ÷ offered.
//! * **P(wait)** (`waited_share`) = callers not offered to an agent the moment they
//!   arrived ÷ (answered + abandoned): the share who had to queue (Erlang C/A's P(wait));
//!   ring time alone does not make a caller "wait" here, but it is part of ASA.
//! * **AHT** (average handle time) = Σ (talk + wrap-up) ÷ handled calls (answered calls
//!   whose talk has ended).
//! * **Occupancy** = busy ÷ (busy + idle) agent time, busy = ringing, on a call, wrap-up or
//!   reserved for a callback; idle = available. Not-ready and logged-out time count in
//!   neither.
use crate::acd::types::Millis;
use serde::Serialize;

/// What happened to one call.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct CallFact {
    pub arrived_ms: Millis,
    pub answered_ms: Option<Millis>,
    pub abandoned_ms: Option<Millis>,
    /// First time an agent's phone rang for the call.
    pub first_offer_ms: Option<Millis>,
    pub deflected: bool,
    /// Talk and wrap-up of a handled call (`None` while the talk has not ended).
    pub handle_ms: Option<Millis>,
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct KpiParams {
    pub sl_threshold_ms: Millis,
    pub short_abandon_ms: Millis,
}

/// Sums over a set of calls (a queue × interval, a batch, a day).
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct CallTally {
    pub offered: u64,
    pub answered: u64,
    pub answered_in_sl: u64,
    pub waited: u64,
    pub abandoned: u64,
    pub short_abandoned: u64,
    pub deflected: u64,
    pub wait_sum_ms: u64,
    pub handled: u64,
    pub handle_sum_ms: u64,
}

impl CallTally {
    pub fn add(&mut self, f: &CallFact, p: &KpiParams) {
        self.offered += 1;
        if let Some(at) = f.answered_ms {
            let wait = at.saturating_sub(f.arrived_ms);
            self.answered += 1;
            self.wait_sum_ms += wait;
            self.answered_in_sl += u64::from(wait <= p.sl_threshold_ms);
            self.waited += u64::from(f.first_offer_ms.unwrap_or(at) > f.arrived_ms);
            if let Some(h) = f.handle_ms {
                self.handled += 1;
                self.handle_sum_ms += h;
            }
        } else if let Some(at) = f.abandoned_ms {
            self.abandoned += 1;
            self.waited += u64::from(f.first_offer_ms.is_none_or(|o| o > f.arrived_ms));
            self.short_abandoned += u64::from(at.saturating_sub(f.arrived_ms) < p.short_abandon_ms);
        } else if f.deflected {
            self.deflected += 1;
        }
    }

    pub fn merge(&mut self, o: &CallTally) {
        self.offered += o.offered;
        self.answered += o.answered;
        self.answered_in_sl += o.answered_in_sl;
        self.waited += o.waited;
        self.abandoned += o.abandoned;
        self.short_abandoned += o.short_abandoned;
        self.deflected += o.deflected;
        self.wait_sum_ms += o.wait_sum_ms;
        self.handled += o.handled;
        self.handle_sum_ms += o.handle_sum_ms;
    }

    pub fn service_level(&self) -> Option<f64> {
        ratio(
            self.answered_in_sl,
            (self.answered + self.abandoned).saturating_sub(self.short_abandoned),
        )
    }
    pub fn asa_ms(&self) -> Option<f64> {
        ratio(self.wait_sum_ms, self.answered)
    }
    pub fn abandon_rate(&self) -> Option<f64> {
        ratio(
            self.abandoned - self.short_abandoned.min(self.abandoned),
            self.offered.saturating_sub(self.short_abandoned),
        )
    }
    pub fn short_abandon_rate(&self) -> Option<f64> {
        ratio(self.short_abandoned, self.offered)
    }
    pub fn waited_share(&self) -> Option<f64> {
        ratio(self.waited, self.answered + self.abandoned)
    }
    pub fn aht_ms(&self) -> Option<f64> {
        ratio(self.handle_sum_ms, self.handled)
    }
    pub fn kpis(&self) -> Kpis {
        Kpis {
            offered: self.offered,
            answered: self.answered,
            abandoned: self.abandoned,
            deflected: self.deflected,
            service_level: self.service_level(),
            asa_s: self.asa_ms().map(|m| m / 1000.0),
            abandon_rate: self.abandon_rate(),
            short_abandon_rate: self.short_abandon_rate(),
            waited_share: self.waited_share(),
            aht_s: self.aht_ms().map(|m| m / 1000.0),
        }
    }
}

/// Agent time split for occupancy.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct AgentTime {
    pub busy_ms: u64,
    pub idle_ms: u64,
}

impl AgentTime {
    pub fn add(&mut self, busy: bool, ms: u64) {
        if busy {
            self.busy_ms += ms;
        } else {
            self.idle_ms += ms;
        }
    }
    pub fn merge(&mut self, o: &AgentTime) {
        self.busy_ms += o.busy_ms;
        self.idle_ms += o.idle_ms;
    }
    pub fn occupancy(&self) -> Option<f64> {
        ratio(self.busy_ms, self.busy_ms + self.idle_ms)
    }
}

/// Split `[from, to)` into pieces per interval of `len` ms: (interval index, ms).
pub fn split_by_interval(
    from: Millis,
    to: Millis,
    len: Millis,
) -> impl Iterator<Item = (u64, Millis)> {
    let len = len.max(1);
    let mut t = from;
    std::iter::from_fn(move || {
        if t >= to {
            return None;
        }
        let i = t / len;
        let end = ((i + 1) * len).min(to);
        let piece = (i, end - t);
        t = end;
        Some(piece)
    })
}

/// The KPI figures of a tally (None where the denominator is zero).
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct Kpis {
    pub offered: u64,
    pub answered: u64,
    pub abandoned: u64,
    pub deflected: u64,
    pub service_level: Option<f64>,
    pub asa_s: Option<f64>,
    pub abandon_rate: Option<f64>,
    pub short_abandon_rate: Option<f64>,
    pub waited_share: Option<f64>,
    pub aht_s: Option<f64>,
}

fn ratio(a: u64, b: u64) -> Option<f64> {
    (b > 0).then(|| a as f64 / b as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    const P: KpiParams = KpiParams {
        sl_threshold_ms: 20_000,
        short_abandon_ms: 5_000,
    };

    fn answered(wait: u64, handle: u64) -> CallFact {
        CallFact {
            arrived_ms: 1000,
            first_offer_ms: Some(1000 + wait.saturating_sub(3000)),
            answered_ms: Some(1000 + wait),
            handle_ms: Some(handle),
            ..Default::default()
        }
    }

    #[test]
    fn service_level_asa_and_abandonment_follow_the_documented_formulas() {
        let mut t = CallTally::default();
        t.add(&answered(0, 100_000), &P);
        t.add(&answered(3000, 100_000), &P); // rang 3 s, did not queue
        t.add(&answered(20_000, 200_000), &P);
        t.add(&answered(60_000, 300_000), &P);
        t.add(
            &CallFact {
                arrived_ms: 0,
                abandoned_ms: Some(3_000),
                ..Default::default()
            },
            &P,
        );
        t.add(
            &CallFact {
                arrived_ms: 0,
                abandoned_ms: Some(40_000),
                ..Default::default()
            },
            &P,
        );
        t.add(
            &CallFact {
                arrived_ms: 0,
                deflected: true,
                ..Default::default()
            },
            &P,
        );
        let k = t.kpis();
        assert_eq!(k.offered, 7);
        // 3 answered within 20 s / (4 answered + 2 abandoned - 1 short)
        assert_eq!(k.service_level, Some(0.6));
        assert_eq!(k.asa_s, Some(83.0 / 4.0));
        // (2 abandoned - 1 short) / (7 offered - 1 short)
        assert_eq!(k.abandon_rate, Some(1.0 / 6.0));
        assert_eq!(k.short_abandon_rate, Some(1.0 / 7.0));
        // queued: 2 answered after a wait + 2 abandoned, of 6
        assert_eq!(k.waited_share, Some(4.0 / 6.0));
        assert_eq!(k.aht_s, Some(175.0));
    }

    #[test]
    fn occupancy_and_interval_split() {
        let mut a = AgentTime::default();
        a.add(true, 850);
        a.add(false, 150);
        assert_eq!(a.occupancy(), Some(0.85));
        let parts: Vec<_> = split_by_interval(900, 2500, 1000).collect();
        assert_eq!(parts, vec![(0, 100), (1, 1000), (2, 500)]);
        assert_eq!(CallTally::default().service_level(), None);
    }
}
