//! Ticket KPIs per interval: tickets created and resolved, time to resolve, and first-contact
//! resolution through `crm::fcr` (a ticket counts in the interval of its first answered call).

use super::interval::Periods;
use crate::crm::fcr::{FcrTally, TicketCall};
pub use crate::store::{TicketCallRow, TicketTimes as TicketRow};
use std::collections::HashMap;

#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct TicketInterval {
    pub created: u64,
    pub resolved: u64,
    pub resolution_sum_ms: u64,
    pub fcr: FcrTally,
}

impl TicketInterval {
    pub fn avg_resolution_ms(&self) -> Option<f64> {
        (self.resolved > 0).then(|| self.resolution_sum_ms as f64 / self.resolved as f64)
    }
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct TicketTally {
    pub intervals: Vec<TicketInterval>,
}

fn at(periods: &Periods, ms: i64) -> Option<usize> {
    periods.index(u64::try_from(ms).ok()?)
}

/// Tickets created or resolved in the period, and every call about tickets called about in it.
pub fn tally(
    periods: &Periods,
    tickets: &[TicketRow],
    calls: &[TicketCallRow],
    fcr_window_ms: i64,
) -> TicketTally {
    let mut out = vec![TicketInterval::default(); periods.len()];
    for t in tickets {
        if let Some(i) = at(periods, t.created_ms) {
            out[i].created += 1;
        }
        if let Some(r) = t.resolved_ms {
            if let Some(i) = at(periods, r) {
                out[i].resolved += 1;
                out[i].resolution_sum_ms += (r - t.created_ms).max(0) as u64;
            }
        }
    }
    let mut by_ticket: HashMap<&str, Vec<TicketCall>> = HashMap::new();
    for c in calls {
        by_ticket
            .entry(c.ticket_id.as_str())
            .or_default()
            .push(TicketCall {
                at_ms: c.at_ms,
                abandoned: c.abandoned,
                resolved: c.resolution.as_deref() == Some("resolved"),
            });
    }
    for list in by_ticket.values() {
        let first = list.iter().filter(|c| !c.abandoned).map(|c| c.at_ms).min();
        if let Some(i) = first.and_then(|f| at(periods, f)) {
            out[i].fcr.add_ticket(list, fcr_window_ms);
        }
    }
    TicketTally { intervals: out }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reports::interval::{Interval, Periods};
    use chrono::NaiveDate;

    const H: i64 = 3_600_000;

    #[test]
    fn created_resolved_resolution_time_and_fcr_per_day() {
        let d = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap_or_default();
        let p = Periods::new(
            chrono_tz::UTC,
            d("2025-01-06"),
            d("2025-01-07"),
            Interval::Day,
        );
        let day0 = p.starts[0] as i64;
        let day1 = p.starts[1] as i64;
        let t = |id: &str, created: i64, resolved: Option<i64>| TicketRow {
            id: id.into(),
            created_ms: created,
            resolved_ms: resolved,
        };
        let c = |id: &str, at: i64, abandoned: bool, res: &str| TicketCallRow {
            ticket_id: id.into(),
            at_ms: at,
            abandoned,
            resolution: Some(res.into()),
        };
        let tickets = [
            t("A", day0 + H, Some(day0 + 3 * H)), // resolved in 2 h on its first call
            t("B", day0 + 2 * H, Some(day1 + 2 * H)), // resolved the next day, after 24 h
            t("C", day0 - 48 * H, Some(day1 + H)), // created before the period
        ];
        let calls = [
            c("A", day0 + H, false, "resolved"),
            c("B", day0 + 2 * H, false, "open"),
            c("B", day1 + 2 * H, false, "resolved"),
            c("C", day1 + H, true, "open"), // an abandoned call is no first contact...
            c("C", day1 + H + 1, false, "resolved"), // ...this one is, and resolves it
        ];
        let k = tally(&p, &tickets, &calls, 7 * 24 * H);
        let (a, b) = (k.intervals[0], k.intervals[1]);
        assert_eq!((a.created, a.resolved), (2, 1));
        assert_eq!((b.created, b.resolved), (0, 2));
        assert_eq!(a.avg_resolution_ms(), Some((2 * H) as f64));
        // B: 24 h; C: from 48 h before day 0 to 1 h into day 1 = 73 h.
        assert_eq!(
            b.avg_resolution_ms(),
            Some(((24 * H) + (73 * H)) as f64 / 2.0)
        );
        // Day 0: A (first call resolved, no repeat) and B (first call left open): 1 of 2.
        assert_eq!(a.fcr.rate(), Some(0.5));
        // Day 1: C's first answered call resolved it.
        assert_eq!(b.fcr.rate(), Some(1.0));
    }
}
