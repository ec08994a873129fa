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
//!   whose talk and wrap-up have ended). **Average talk** = Σ talk ÷ handled calls.
//! * **Occupancy** = busy ÷ (busy + idle) agent time, busy = ringing, on a call, wrap-up or
//!   reserved for a callback; idle = available. Not-ready and logged-out time count in
//!   neither (not-ready time is reported on its own).
//!
//! Live figures update a tally as a call's fact changes: [`CallTally::remove`] the old fact,
//! [`CallTally::add`] the new one; the sums then equal adding the final facts once.
use crate::acd::types::{AgentStatus, Millis};
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
    /// Talk alone (answer to hang-up, hold included), known with `handle_ms`.
    pub talk_ms: Option<Millis>,
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
    pub talk_sum_ms: u64,
}

/// What one call adds to a tally (a tally is the sum of these).
fn contribution(f: &CallFact, p: &KpiParams) -> CallTally {
    let mut t = CallTally {
        offered: 1,
        ..CallTally::default()
    };
    if let Some(at) = f.answered_ms {
        let wait = at.saturating_sub(f.arrived_ms);
        t.answered = 1;
        t.wait_sum_ms = wait;
        t.answered_in_sl = u64::from(wait <= p.sl_threshold_ms);
        t.waited = u64::from(f.first_offer_ms.unwrap_or(at) > f.arrived_ms);
        if let Some(h) = f.handle_ms {
            t.handled = 1;
            t.handle_sum_ms = h;
            t.talk_sum_ms = f.talk_ms.unwrap_or(h);
        }
    } else if let Some(at) = f.abandoned_ms {
        t.abandoned = 1;
        t.waited = u64::from(f.first_offer_ms.is_none_or(|o| o > f.arrived_ms));
        t.short_abandoned = u64::from(at.saturating_sub(f.arrived_ms) < p.short_abandon_ms);
    } else if f.deflected {
        t.deflected = 1;
    }
    t
}

impl CallTally {
    pub fn add(&mut self, f: &CallFact, p: &KpiParams) {
        self.merge(&contribution(f, p));
    }

    /// Take back what [`CallTally::add`] added for this fact (same params).
    pub fn remove(&mut self, f: &CallFact, p: &KpiParams) {
        let c = contribution(f, p);
        let sub = |a: &mut u64, b: u64| *a = a.saturating_sub(b);
        sub(&mut self.offered, c.offered);
        sub(&mut self.answered, c.answered);
        sub(&mut self.answered_in_sl, c.answered_in_sl);
        sub(&mut self.waited, c.waited);
        sub(&mut self.abandoned, c.abandoned);
        sub(&mut self.short_abandoned, c.short_abandoned);
        sub(&mut self.deflected, c.deflected);
        sub(&mut self.wait_sum_ms, c.wait_sum_ms);
        sub(&mut self.handled, c.handled);
        sub(&mut self.handle_sum_ms, c.handle_sum_ms);
        sub(&mut self.talk_sum_ms, c.talk_sum_ms);
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
        self.talk_sum_ms += o.talk_sum_ms;
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
    pub fn avg_talk_ms(&self) -> Option<f64> {
        ratio(self.talk_sum_ms, self.handled)
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
    /// Not-ready time (in neither busy nor idle).
    pub not_ready_ms: u64,
}

impl AgentTime {
    pub fn add(&mut self, busy: bool, ms: u64) {
        if busy {
            self.busy_ms += ms;
        } else {
            self.idle_ms += ms;
        }
    }
    /// Time spent in `status`: busy, idle (available), not ready, or nothing (logged out).
    pub fn add_status(&mut self, status: AgentStatus, ms: u64) {
        match status {
            AgentStatus::Available => self.idle_ms += ms,
            AgentStatus::NotReady => self.not_ready_ms += ms,
            AgentStatus::LoggedOut => {}
            s => self.add(s.is_busy(), ms),
        }
    }
    pub fn merge(&mut self, o: &AgentTime) {
        self.busy_ms += o.busy_ms;
        self.idle_ms += o.idle_ms;
        self.not_ready_ms += o.not_ready_ms;
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

/// Split `[from, to)` at the interval starts `bounds` (ascending): (index of the interval
/// holding the piece, ms). Time before `bounds[0]` is left out; the last interval is open-ended
/// (clip `to` to the range's end). Intervals of unequal length (days across a daylight-saving
/// change, months) are why this exists next to [`split_by_interval`].
pub fn split_by_bounds(
    from: Millis,
    to: Millis,
    bounds: &[Millis],
) -> impl Iterator<Item = (usize, Millis)> + '_ {
    let first = bounds.partition_point(|b| *b <= from).saturating_sub(1);
    let mut t = from.max(bounds.first().copied().unwrap_or(Millis::MAX));
    let mut i = first;
    std::iter::from_fn(move || {
        while t < to && i < bounds.len() {
            let end = bounds.get(i + 1).copied().unwrap_or(Millis::MAX).min(to);
            if end <= t {
                i += 1;
                continue;
            }
            let piece = (i, end - t);
            t = end;
            i += 1;
            return Some(piece);
        }
        None
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

    #[test]
    fn remove_takes_back_exactly_what_add_added() {
        let facts = [
            answered(0, 100_000),
            answered(60_000, 300_000),
            CallFact {
                arrived_ms: 0,
                abandoned_ms: Some(3_000),
                ..Default::default()
            },
            CallFact {
                arrived_ms: 0,
                deflected: true,
                ..Default::default()
            },
        ];
        let mut all = CallTally::default();
        for f in &facts {
            all.add(f, &P);
        }
        let mut t = all;
        t.remove(&facts[1], &P);
        let mut want = CallTally::default();
        for f in [&facts[0], &facts[2], &facts[3]] {
            want.add(f, &P);
        }
        assert_eq!(t, want);
        // A call's fact changing (answered, then its handle known): remove old, add new.
        let mut live = CallTally::default();
        let mut f = CallFact {
            arrived_ms: 0,
            answered_ms: Some(5_000),
            ..Default::default()
        };
        live.add(&f, &P);
        live.remove(&f, &P);
        f.handle_ms = Some(90_000);
        f.talk_ms = Some(60_000);
        live.add(&f, &P);
        assert_eq!((live.offered, live.handled), (1, 1));
        assert_eq!(live.avg_talk_ms(), Some(60_000.0));
        assert_eq!(live.aht_ms(), Some(90_000.0));
    }

    #[test]
    fn split_by_bounds_follows_unequal_intervals() {
        let b = [100, 200, 350];
        let parts: Vec<_> = split_by_bounds(50, 400, &b).collect();
        assert_eq!(parts, vec![(0, 100), (1, 150), (2, 50)]);
        let parts: Vec<_> = split_by_bounds(150, 160, &b).collect();
        assert_eq!(parts, vec![(0, 10)]);
        assert_eq!(split_by_bounds(10, 90, &b).count(), 0);
        let mut a = AgentTime::default();
        a.add_status(AgentStatus::NotReady, 5);
        a.add_status(AgentStatus::OnCall, 3);
        a.add_status(AgentStatus::Available, 1);
        a.add_status(AgentStatus::LoggedOut, 100);
        assert_eq!((a.busy_ms, a.idle_ms, a.not_ready_ms), (3, 1, 5));
    }
}
