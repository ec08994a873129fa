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
