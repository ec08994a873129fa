//! First-contact resolution and repeat contacts, computed per ticket from its calls.
//!
//! A ticket is **resolved at first contact** when its first call ended with the ticket resolved
//! and no other call about it (linked to the same ticket) arrived within `window_ms` after that
//! first call. A **repeat contact** is any call about a ticket after its first, within the window.
//! Tickets whose first call was not answered (abandoned) have not had a first contact yet.

/// One call about a ticket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TicketCall {
    pub at_ms: i64,
    pub abandoned: bool,
    /// The wrap-up resolved the ticket on this call.
    pub resolved: bool,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FcrTally {
    /// Tickets with at least one answered call.
    pub contacted: u64,
    pub resolved_first_contact: u64,
    /// Calls about a ticket after its first answered one, within the window.
    pub repeat_contacts: u64,
}

impl FcrTally {
    /// FCR rate = resolved at first contact ÷ tickets contacted.
    pub fn rate(&self) -> Option<f64> {
        (self.contacted > 0).then(|| self.resolved_first_contact as f64 / self.contacted as f64)
    }

    /// Add one ticket's calls (any order).
    pub fn add_ticket(&mut self, calls: &[TicketCall], window_ms: i64) {
        let mut answered: Vec<&TicketCall> = calls.iter().filter(|c| !c.abandoned).collect();
        answered.sort_by_key(|c| c.at_ms);
        let Some(first) = answered.first() else {
            return;
        };
        self.contacted += 1;
        let repeats = calls
            .iter()
            .filter(|c| c.at_ms > first.at_ms && c.at_ms - first.at_ms <= window_ms)
            .count() as u64;
        self.repeat_contacts += repeats;
        if first.resolved && repeats == 0 {
            self.resolved_first_contact += 1;
        }
    }
}

/// A ticket's stored calls as FCR inputs.
pub fn ticket_calls(calls: &[super::model::InteractionSummary]) -> Vec<TicketCall> {
    calls
        .iter()
        .map(|c| TicketCall {
            at_ms: c.at_ms,
            abandoned: c.abandoned,
            resolved: c.resolution.as_deref() == Some("resolved"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: i64 = 86_400_000;

    fn call(day: i64, resolved: bool) -> TicketCall {
        TicketCall {
            at_ms: day * DAY,
            abandoned: false,
            resolved,
        }
    }

    /// Hand-computed fixture: five tickets, window 7 days.
    /// - A: one call, resolved → FCR.
    /// - B: resolved on day 0, called again day 3 → not FCR, 1 repeat.
    /// - C: resolved day 0, called again day 10 (outside window) → FCR, 0 repeats.
    /// - D: first call left open, resolved on the second (day 1) → not FCR, 1 repeat.
    /// - E: only an abandoned call → not contacted.
    #[test]
    fn fixture_with_known_answers() {
        let mut t = FcrTally::default();
        t.add_ticket(&[call(0, true)], 7 * DAY);
        t.add_ticket(&[call(3, false), call(0, true)], 7 * DAY);
        t.add_ticket(&[call(0, true), call(10, false)], 7 * DAY);
        t.add_ticket(&[call(0, false), call(1, true)], 7 * DAY);
        t.add_ticket(
            &[TicketCall {
                at_ms: 0,
                abandoned: true,
                resolved: false,
            }],
            7 * DAY,
        );
        assert_eq!(t.contacted, 4);
        assert_eq!(t.resolved_first_contact, 2);
        assert_eq!(t.repeat_contacts, 2);
        assert_eq!(t.rate(), Some(0.5));
    }

    #[test]
    fn an_abandoned_call_before_the_first_answer_does_not_count_as_first_contact() {
        let mut t = FcrTally::default();
        let abandoned = TicketCall {
            at_ms: 0,
            abandoned: true,
            resolved: false,
        };
        t.add_ticket(&[abandoned, call(1, true)], 7 * DAY);
        assert_eq!((t.contacted, t.resolved_first_contact), (1, 1));
    }
}
