//! What the IVR can learn about a caller from the CRM, and the `CrmLookup` trait the call layer
//! answers the engine's `Lookup` actions with (plus `FixtureCrm` for tests until the CRM lands).

use std::collections::HashMap;

/// What a lookup searches by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LookupKind {
    /// The caller's own number (caller ID) → contact.
    Caller,
    /// An account number the caller typed → contact.
    Account,
    /// A ticket number the caller typed → open ticket.
    Ticket,
}

impl LookupKind {
    /// Name used in dialplan files.
    pub fn as_str(self) -> &'static str {
        match self {
            LookupKind::Caller => "caller",
            LookupKind::Account => "account",
            LookupKind::Ticket => "ticket",
        }
    }
}

/// Ticket priority, ordered from least to most urgent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum TicketPriority {
    Low,
    Normal,
    High,
    Urgent,
}

impl TicketPriority {
    /// Parses the dialplan spelling (`low`, `normal`, `high`, `urgent`).
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "low" => Some(TicketPriority::Low),
            "normal" => Some(TicketPriority::Normal),
            "high" => Some(TicketPriority::High),
            "urgent" => Some(TicketPriority::Urgent),
            _ => None,
        }
    }
}

/// An open ticket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TicketFact {
    pub id: String,
    pub priority: TicketPriority,
}

/// A known contact.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallerFacts {
    pub contact_id: String,
    pub vip: bool,
    pub open_ticket: Option<TicketFact>,
}

/// The CRM's answer to one lookup.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LookupAnswer {
    /// A contact (for `Caller` and `Account` lookups).
    Contact(CallerFacts),
    /// An open ticket (for `Ticket` lookups).
    Ticket(TicketFact),
    NotFound,
    /// The CRM could not answer (down, slow): the IVR carries on without the fact.
    Unavailable,
}

/// A lookup answer fed back to the engine, naming what was asked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LookupResult {
    pub kind: LookupKind,
    pub value: String,
    pub answer: LookupAnswer,
}

/// The CRM as the IVR sees it. The real provider is async; the call layer adapts it.
pub trait CrmLookup {
    fn lookup(&self, kind: LookupKind, value: &str) -> LookupAnswer;
}

/// In-memory CRM for tests and the sample setup.
#[derive(Debug, Clone, Default)]
pub struct FixtureCrm {
    pub callers: HashMap<String, CallerFacts>,
    pub accounts: HashMap<String, CallerFacts>,
    pub tickets: HashMap<String, TicketFact>,
    /// When set every lookup answers `Unavailable`.
    pub down: bool,
}

impl CrmLookup for FixtureCrm {
    fn lookup(&self, kind: LookupKind, value: &str) -> LookupAnswer {
        if self.down {
            return LookupAnswer::Unavailable;
        }
        let found = match kind {
            LookupKind::Caller => self.callers.get(value).cloned().map(LookupAnswer::Contact),
            LookupKind::Account => self.accounts.get(value).cloned().map(LookupAnswer::Contact),
            LookupKind::Ticket => self.tickets.get(value).cloned().map(LookupAnswer::Ticket),
        };
        found.unwrap_or(LookupAnswer::NotFound)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixture_answers_by_kind() {
        let mut crm = FixtureCrm::default();
        crm.tickets.insert(
            "123456".into(),
            TicketFact {
                id: "123456".into(),
                priority: TicketPriority::High,
            },
        );
        assert!(matches!(
            crm.lookup(LookupKind::Ticket, "123456"),
            LookupAnswer::Ticket(_)
        ));
        assert_eq!(
            crm.lookup(LookupKind::Account, "123456"),
            LookupAnswer::NotFound
        );
        crm.down = true;
        assert_eq!(
            crm.lookup(LookupKind::Ticket, "123456"),
            LookupAnswer::Unavailable
        );
    }

    #[test]
    fn priorities_order_by_urgency() {
        assert!(TicketPriority::Urgent > TicketPriority::High);
        assert_eq!(
            TicketPriority::parse("normal"),
            Some(TicketPriority::Normal)
        );
        assert_eq!(TicketPriority::parse("p1"), None);
    }
}
