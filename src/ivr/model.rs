//! The typed dialplan: entry points by called number, named business-hours schedules and a graph
//! of named nodes. Built by `build` from one file; references keep their source span for `check`.

use crate::ivr::crm::{LookupKind, TicketPriority};
use crate::ivr::hours::Schedule;
use crate::ivr::pattern::{AllowList, DigitPattern};
use std::collections::{BTreeMap, HashMap};
use std::ops::Range;
use std::path::PathBuf;
use std::sync::Arc;

/// Byte range in the source file.
pub type Span = Range<usize>;

/// A value with the place it was written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Located<T> {
    pub value: T,
    pub span: Span,
}

/// A reference to another node by name.
pub type NodeRef = Located<String>;

/// A prompt name, played in the call's language unless pinned (`"name@es"`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PromptSpec {
    pub name: String,
    pub lang: Option<String>,
    pub span: Span,
}

/// One dialplan file.
#[derive(Debug, Clone)]
pub struct Dialplan {
    pub file: PathBuf,
    /// The file text, kept for diagnostics.
    pub source: Arc<str>,
    /// Version of the `DialplanSet` this plan belongs to (0 until the set is built).
    pub version: u64,
    pub languages: Vec<Located<String>>,
    pub default_language: String,
    pub entries: Vec<EntryPoint>,
    pub hours: BTreeMap<String, Schedule>,
    /// Nodes in file order.
    pub nodes: Vec<Node>,
    pub index: HashMap<String, usize>,
    /// Transfer destinations allowed at run time (copied from the server config by the set).
    pub transfer_allow: AllowList,
}

impl Dialplan {
    pub fn node_index(&self, name: &str) -> Option<usize> {
        self.index.get(name).copied()
    }

    pub fn node(&self, name: &str) -> Option<&Node> {
        self.node_index(name).and_then(|i| self.nodes.get(i))
    }

    pub fn entry(&self, number: &str) -> Option<&EntryPoint> {
        self.entries.iter().find(|e| e.number.value == number)
    }
}

/// `[[entry]]`: calls to `number` start at `start`; after an agent call they reach `survey`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntryPoint {
    pub number: Located<String>,
    pub start: NodeRef,
    pub survey: Option<NodeRef>,
    pub language: Option<Located<String>>,
}

/// A named node.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    pub name: String,
    /// Span of the node's name in `[nodes.NAME]`.
    pub span: Span,
    pub kind: NodeKind,
    /// What passing this node means, in words (`description = "…"`): the caller's journey
    /// as the agent's pop shows it. Nodes without one are not shown.
    pub description: Option<String>,
}

/// Shared re-prompt policy of input nodes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Retry {
    pub timeout_secs: u32,
    /// Extra attempts after the first (invalid input and timeouts count alike).
    pub retries: u32,
    pub invalid_prompt: Vec<PromptSpec>,
    pub timeout_prompt: Vec<PromptSpec>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum NodeKind {
    Play(Play),
    Menu(Menu),
    Collect(Collect),
    Set(SetNode),
    Branch(Branch),
    Enqueue(Enqueue),
    CallbackOffer(CallbackOffer),
    Voicemail(Voicemail),
    Transfer(Transfer),
    Hangup(Hangup),
    Survey(Survey),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Play {
    pub prompts: Vec<PromptSpec>,
    pub barge_in: bool,
    pub next: NodeRef,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Menu {
    pub prompts: Vec<PromptSpec>,
    pub choices: Vec<(char, NodeRef)>,
    pub retry: Retry,
    pub fallback: NodeRef,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Collect {
    pub prompts: Vec<PromptSpec>,
    pub min_len: usize,
    pub max_len: usize,
    pub terminator: Option<char>,
    pub inter_digit_timeout_secs: u32,
    pub retry: Retry,
    pub patterns: Vec<DigitPattern>,
    pub lookup: Option<LookupKind>,
    pub var: String,
    pub next: NodeRef,
    pub on_invalid: NodeRef,
    pub on_not_found: Option<NodeRef>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetNode {
    pub vars: Vec<(String, String)>,
    pub language: Option<Located<String>>,
    pub skills: Vec<(Located<String>, u8)>,
    pub priority: Option<u8>,
    pub tags: Vec<String>,
    pub next: NodeRef,
}

/// A test on a variable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VarTest {
    Equals(String),
    IsSet(bool),
}

/// All present conditions must hold.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Condition {
    pub in_hours: Option<Located<String>>,
    pub holiday: Option<Located<String>>,
    pub caller_known: Option<bool>,
    pub vip: Option<bool>,
    pub open_ticket: Option<bool>,
    /// Open ticket of at least this priority.
    pub ticket_priority: Option<TicketPriority>,
    pub language: Option<Located<String>>,
    pub var: Option<(String, VarTest)>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct When {
    pub cond: Condition,
    pub goto: NodeRef,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Branch {
    pub whens: Vec<When>,
    pub default: NodeRef,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Enqueue {
    pub queue: Located<String>,
    pub skills: Vec<(Located<String>, u8)>,
    pub priority: Option<u8>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallbackOffer {
    pub prompts: Vec<PromptSpec>,
    pub accept_digit: char,
    pub timeout_secs: u32,
    pub queue: Located<String>,
    pub on_accept: NodeRef,
    pub next: NodeRef,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Voicemail {
    pub prompts: Vec<PromptSpec>,
    pub max_secs: u32,
    pub next: Option<NodeRef>,
}

/// Where a transfer goes: a literal number or a variable holding one (`"$name"`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TransferTarget {
    Number(String),
    Var(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transfer {
    pub target: Located<TransferTarget>,
    pub on_refused: Option<NodeRef>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hangup {
    pub prompts: Vec<PromptSpec>,
    pub reason: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Survey {
    pub prompts: Vec<PromptSpec>,
    pub retry: Retry,
    pub next: Option<NodeRef>,
}

impl NodeKind {
    /// The `kind = "…"` spelling.
    pub fn name(&self) -> &'static str {
        match self {
            NodeKind::Play(_) => "play",
            NodeKind::Menu(_) => "menu",
            NodeKind::Collect(_) => "collect",
            NodeKind::Set(_) => "set",
            NodeKind::Branch(_) => "branch",
            NodeKind::Enqueue(_) => "enqueue",
            NodeKind::CallbackOffer(_) => "callback_offer",
            NodeKind::Voicemail(_) => "voicemail",
            NodeKind::Transfer(_) => "transfer",
            NodeKind::Hangup(_) => "hangup",
            NodeKind::Survey(_) => "survey",
        }
    }

    /// Whether leaving this node never waits for the caller (play, set, branch, a refused transfer).
    pub fn takes_no_input(&self) -> bool {
        matches!(
            self,
            NodeKind::Play(_) | NodeKind::Set(_) | NodeKind::Branch(_) | NodeKind::Transfer(_)
        )
    }

    /// Every node this one can lead to.
    pub fn successors(&self) -> Vec<&NodeRef> {
        match self {
            NodeKind::Play(p) => vec![&p.next],
            NodeKind::Menu(m) => m
                .choices
                .iter()
                .map(|(_, n)| n)
                .chain([&m.fallback])
                .collect(),
            NodeKind::Collect(c) => [&c.next, &c.on_invalid]
                .into_iter()
                .chain(c.on_not_found.as_ref())
                .collect(),
            NodeKind::Set(s) => vec![&s.next],
            NodeKind::Branch(b) => b
                .whens
                .iter()
                .map(|w| &w.goto)
                .chain([&b.default])
                .collect(),
            NodeKind::Enqueue(_) | NodeKind::Hangup(_) => vec![],
            NodeKind::CallbackOffer(c) => vec![&c.on_accept, &c.next],
            NodeKind::Voicemail(v) => v.next.iter().collect(),
            NodeKind::Transfer(t) => t.on_refused.iter().collect(),
            NodeKind::Survey(s) => s.next.iter().collect(),
        }
    }

    /// Every prompt the node may play.
    pub fn prompts(&self) -> Vec<&PromptSpec> {
        fn retry(r: &Retry) -> impl Iterator<Item = &PromptSpec> {
            r.invalid_prompt.iter().chain(&r.timeout_prompt)
        }
        match self {
            NodeKind::Play(p) => p.prompts.iter().collect(),
            NodeKind::Menu(m) => m.prompts.iter().chain(retry(&m.retry)).collect(),
            NodeKind::Collect(c) => c.prompts.iter().chain(retry(&c.retry)).collect(),
            NodeKind::CallbackOffer(c) => c.prompts.iter().collect(),
            NodeKind::Voicemail(v) => v.prompts.iter().collect(),
            NodeKind::Hangup(h) => h.prompts.iter().collect(),
            NodeKind::Survey(s) => s.prompts.iter().chain(retry(&s.retry)).collect(),
            NodeKind::Set(_)
            | NodeKind::Branch(_)
            | NodeKind::Enqueue(_)
            | NodeKind::Transfer(_) => {
                vec![]
            }
        }
    }
}
