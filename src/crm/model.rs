//! The CRM's records as the agent socket, the REST API and the store exchange them (JSON shapes
//! documented in the README, "Agent socket").

use serde::{Deserialize, Serialize};

/// A customer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Contact {
    pub id: String,
    pub name: String,
    pub organisation: Option<String>,
    /// E.164.
    pub phones: Vec<String>,
    pub email: Option<String>,
    pub language: Option<String>,
    /// Support tier: 1 standard, 2 priority, 3 premium.
    pub tier: i64,
    pub vip: bool,
    pub notes: Option<String>,
    pub account: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TicketStatus {
    Open,
    Pending,
    Resolved,
    Closed,
}

impl TicketStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            TicketStatus::Open => "open",
            TicketStatus::Pending => "pending",
            TicketStatus::Resolved => "resolved",
            TicketStatus::Closed => "closed",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "open" => TicketStatus::Open,
            "pending" => TicketStatus::Pending,
            "resolved" => TicketStatus::Resolved,
            "closed" => TicketStatus::Closed,
            _ => return None,
        })
    }

    /// Open or pending: still needs work.
    pub fn is_open(self) -> bool {
        matches!(self, TicketStatus::Open | TicketStatus::Pending)
    }
}

/// Ticket priority, least to most urgent (stored as 0..=3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Priority {
    Low,
    Normal,
    High,
    Urgent,
}

impl Priority {
    pub fn from_level(n: i64) -> Priority {
        match n {
            i64::MIN..=0 => Priority::Low,
            1 => Priority::Normal,
            2 => Priority::High,
            _ => Priority::Urgent,
        }
    }

    pub fn level(self) -> i64 {
        self as i64
    }

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "low" => Priority::Low,
            "normal" => Priority::Normal,
            "high" => Priority::High,
            "urgent" => Priority::Urgent,
            _ => return None,
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ticket {
    pub id: String,
    pub number: String,
    pub contact_id: Option<String>,
    pub subject: String,
    pub category: Option<String>,
    pub status: TicketStatus,
    pub priority: Priority,
    /// Escalation tier 1..=3.
    pub tier: i64,
    pub owner: Option<String>,
    pub sla_due_ms: Option<i64>,
    pub created_ms: i64,
    pub updated_ms: i64,
}

/// One past call, as the pop and the ticket view list it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InteractionSummary {
    pub id: String,
    pub call_id: String,
    pub at_ms: i64,
    pub queue: Option<String>,
    pub agent: Option<String>,
    /// The agent's display name (users.toml), for people; `agent` is the id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent_name: Option<String>,
    pub disposition: Option<String>,
    /// The disposition's label (`[crm] dispositions`), for people; `disposition` is the code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disposition_label: Option<String>,
    pub resolution: Option<String>,
    pub wait_secs: f64,
    pub talk_secs: f64,
    pub abandoned: bool,
    pub ticket_number: Option<String>,
    pub survey_score: Option<i64>,
    /// The recorded message or call, when there is one (a voicemail left in the IVR).
    #[serde(default)]
    pub recording: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Article {
    pub id: String,
    pub title: String,
    pub snippet: String,
}

/// What happened to one call, written as its interaction row (figures in milliseconds).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Interaction {
    pub id: String,
    pub call_id: String,
    pub contact_id: Option<String>,
    pub caller: Option<String>,
    pub called: Option<String>,
    pub queue: Option<String>,
    pub agent: Option<String>,
    pub ivr_path: Vec<String>,
    pub arrived_ms: i64,
    pub wait_ms: i64,
    pub ring_ms: i64,
    pub talk_ms: i64,
    pub hold_ms: i64,
    pub wrap_ms: i64,
    pub abandoned: bool,
    pub callback: bool,
    pub recording: Option<String>,
    pub survey_score: Option<i64>,
    pub ended_ms: Option<i64>,
    /// Ticket to link (by number) when known from the IVR or the agent.
    pub ticket_number: Option<String>,
    pub disposition: Option<String>,
    pub resolution: Option<Resolution>,
    pub notes: Option<String>,
}

/// What the agent did with the ticket at wrap-up. Nothing said means still open: a ticket is
/// closed only when the agent says so.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Resolution {
    /// Solved: the ticket becomes resolved.
    Resolved,
    /// Needs a higher tier: tier + 1, owner cleared, back to open.
    Escalated,
    /// Still being worked on.
    #[default]
    Open,
}

impl Resolution {
    pub fn as_str(self) -> &'static str {
        match self {
            Resolution::Resolved => "resolved",
            Resolution::Escalated => "escalated",
            Resolution::Open => "open",
        }
    }
}

/// A ticket to create at wrap-up.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewTicket {
    pub subject: String,
    #[serde(default)]
    pub category: Option<String>,
    #[serde(default = "normal")]
    pub priority: Priority,
}

fn normal() -> Priority {
    Priority::Normal
}

/// Link the call to a ticket at wrap-up.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TicketChoice {
    Link(String),
    Create(NewTicket),
}

/// The agent's wrap-up.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WrapUp {
    pub disposition: String,
    #[serde(default)]
    pub notes: String,
    #[serde(default)]
    pub ticket: Option<TicketChoice>,
    /// What happens to the ticket; `open` when not given.
    #[serde(default)]
    pub resolution: Resolution,
}

/// How the pop found (or failed to find) the caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PopStatus {
    Ok,
    NotFound,
    Unavailable,
}

/// The caller's IVR path as the pop shows it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct IvrSummary {
    /// Node names entered, in order (for reports and the interaction row).
    pub path: Vec<String>,
    /// The same journey in words: the `description` of each node entered that has one.
    #[serde(default)]
    pub steps: Vec<String>,
    pub digits: std::collections::BTreeMap<String, String>,
    pub choice: Option<String>,
    pub language: Option<String>,
}

/// What the caller id is, for the pop: a number (valid or not), withheld, or not a number.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CallerKind {
    Number,
    #[default]
    Withheld,
    NotANumber,
}

/// The caller's number as people read it: both display forms, whether it is a valid number,
/// and whether it is from the region of the line it called (then the national form is the
/// natural one, else the international).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallerView {
    pub kind: CallerKind,
    /// What the caller id said (`anonymous`, `+442079460000`, a SIP user name…).
    pub raw: String,
    pub e164: Option<String>,
    /// `020 7946 0000`.
    pub national: Option<String>,
    /// `+44 20 7946 0000`.
    pub international: Option<String>,
    /// libphonenumber's rules hold for it (false for an unassigned range).
    pub valid: bool,
    /// The number's region is the region of the line called.
    pub local: bool,
}

/// The screen-pop an agent gets with a call offer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Pop {
    pub status: PopStatus,
    pub caller: String,
    /// The caller's number in both display forms, flagged invalid or withheld.
    #[serde(default)]
    pub number: CallerView,
    pub matches: Vec<Contact>,
    pub contact: Option<Contact>,
    pub tickets: Vec<Ticket>,
    pub interactions: Vec<InteractionSummary>,
    pub ivr: IvrSummary,
    pub wait_secs: f64,
    pub articles: Vec<Article>,
    pub repeat_caller: bool,
}
