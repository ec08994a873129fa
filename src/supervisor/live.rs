//! Today's figures for the wallboard, kept up to date event by event (sans-IO): the reports'
//! fold and tally over the single interval "today" in the centre's time zone. Rebuilt at start
//! from today's stored events, so a restart changes nothing on the board.

use crate::acd::kpi::CallTally;
use crate::reports::fold::{Change, Fold};
use crate::reports::interval::{local_date, Interval, Periods};
use crate::reports::{KpiConfig, RangeTally};
use crate::store::EventRecord;
use chrono_tz::Tz;

pub struct LiveKpi {
    tz: Tz,
    fold: Fold,
    today: RangeTally,
    buf: Vec<Change>,
}

/// Calls with no event for this long are forgotten at midnight (lost to a crash).
const STALE_MS: u64 = 24 * 3_600_000;

impl LiveKpi {
    /// An empty board for the day holding `now_ms`.
    pub fn new(tz: Tz, kpi: KpiConfig, now_ms: u64) -> LiveKpi {
        LiveKpi {
            tz,
            fold: Fold::new(),
            today: RangeTally::new(day_of(tz, now_ms), kpi),
            buf: Vec::new(),
        }
    }

    /// Continue from a fold and tally built over today's stored events.
    pub fn resume(tz: Tz, fold: Fold, today: RangeTally) -> LiveKpi {
        LiveKpi {
            tz,
            fold,
            today,
            buf: Vec::new(),
        }
    }

    /// The period "today" (one interval).
    pub fn today(tz: Tz, now_ms: u64) -> Periods {
        day_of(tz, now_ms)
    }

    /// Fold one appended event; returns what it changed.
    pub fn apply(&mut self, ev: &EventRecord) -> &[Change] {
        self.roll(ev.at_ms.max(0) as u64);
        self.buf.clear();
        self.fold.apply(ev, &mut self.buf);
        for c in &self.buf {
            self.today.apply(c);
        }
        &self.buf
    }

    /// Start a new day once `now_ms` is past midnight.
    pub fn roll(&mut self, now_ms: u64) {
        if now_ms < self.today.periods.end {
            return;
        }
        let kpi = self.today.kpi.clone();
        self.today = RangeTally::new(day_of(self.tz, now_ms), kpi);
        self.fold.prune(now_ms.saturating_sub(STALE_MS));
    }

    pub fn queue(&self, name: &str) -> CallTally {
        self.today.by_queue.get(name).copied().unwrap_or_default()
    }

    pub fn agent(&self, id: &str) -> CallTally {
        self.today.by_agent.get(id).copied().unwrap_or_default()
    }

    /// Calls that reached the server today.
    pub fn received(&self) -> u64 {
        self.today.received.iter().sum()
    }

    pub fn tally(&self) -> &RangeTally {
        &self.today
    }

    pub fn kpi(&self) -> &KpiConfig {
        &self.today.kpi
    }

    pub fn open_calls(&self) -> usize {
        self.fold.open_calls()
    }
}

fn day_of(tz: Tz, now_ms: u64) -> Periods {
    let d = local_date(tz, now_ms);
    Periods::new(tz, d, d, Interval::Day)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reports::tables::{build, Extras};
    use crate::reports::tickets::TicketTally;

    const LONDON: Tz = chrono_tz::Europe::London;

    /// The reports' fixture day fed event by event gives the reports' by-queue figures, and
    /// the board rebuilt from the stored events (a restart) gives them again.
    #[tokio::test]
    async fn live_figures_equal_the_report_and_survive_a_rebuild() {
        let events = crate::reports::tests::fixture();
        let noon = chrono::DateTime::parse_from_rfc3339("2025-10-26T12:00:00Z")
            .map_or(0, |t| t.timestamp_millis() as u64);
        let mut live = LiveKpi::new(LONDON, crate::reports::tests::kpi(), noon);
        let today: Vec<&EventRecord> = events
            .iter()
            .filter(|e| (e.at_ms as u64) < live.tally().periods.end)
            .collect();
        for ev in &today {
            live.apply(ev);
        }
        let names = Default::default();
        let tickets = TicketTally::default();
        let x = Extras {
            agent_names: &names,
            tickets: &tickets,
        };
        let from_live = build("by_queue", live.tally(), &x).map(|t| t.rows);
        for ts in crate::store::test_support::test_stores("live_rebuild").await {
            let stored: Vec<EventRecord> = today.iter().map(|e| (*e).clone()).collect();
            ts.store.insert_events(&stored).await.expect("insert");
            let cx = crate::reports::ReportContext {
                tz: LONDON,
                kpi: crate::reports::tests::kpi(),
                agent_names: Default::default(),
                fcr_window_ms: 0,
            };
            let (rebuilt, seen) = super::super::rebuild(&ts.store, &cx, noon)
                .await
                .expect("rebuild");
            assert_eq!(
                seen.len(),
                stored.len() - 5,
                "events of the day before are not read"
            );
            assert_eq!(
                build("by_queue", rebuilt.tally(), &x).map(|t| t.rows),
                from_live
            );
            let req = crate::reports::ReportRequest {
                name: "by_queue".into(),
                from: chrono::NaiveDate::from_ymd_opt(2025, 10, 26).unwrap_or_default(),
                to: chrono::NaiveDate::from_ymd_opt(2025, 10, 26).unwrap_or_default(),
                interval: Interval::Hour,
            };
            let report = crate::reports::run(&ts.store, &cx, &req, noon as i64 + 86_400_000)
                .await
                .expect("report");
            assert_eq!(Some(report.rows), from_live, "{}", ts.label);
            ts.finish().await;
        }
        let sales = live.queue("sales");
        // H is answered after midnight: not yet, as of the end of the day.
        assert_eq!((sales.offered, sales.answered, sales.abandoned), (5, 2, 1));
        assert_eq!(live.received(), 7);
        assert_eq!(live.agent("alice").answered, 2);
    }

    #[test]
    fn midnight_starts_a_new_day() {
        let ten_pm = chrono::DateTime::parse_from_rfc3339("2025-10-26T22:00:00Z")
            .map_or(0, |t| t.timestamp_millis() as u64);
        let mut live = LiveKpi::new(LONDON, crate::reports::tests::kpi(), ten_pm);
        let ev = |id: &str, kind: &str, at: u64, p: &str| EventRecord {
            id: id.into(),
            call_id: Some("c".into()),
            kind: kind.into(),
            at_ms: at as i64,
            payload: p.into(),
        };
        live.apply(&ev("1", "call.arrived", ten_pm, r#"{"called":"+1"}"#));
        assert_eq!(live.received(), 1);
        live.roll(ten_pm + 2 * 3_600_000);
        assert_eq!(live.received(), 0);
        live.apply(&ev(
            "2",
            "call.queued",
            ten_pm + 2 * 3_600_000 + 1,
            r#"{"queue":"sales"}"#,
        ));
        assert_eq!(live.queue("sales").offered, 1);
    }
}
