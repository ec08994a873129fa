//! Identifiers and small value types shared by the router, the config and the simulator.
use serde::{Deserialize, Serialize};
use std::fmt;
use std::sync::Arc;

/// Milliseconds on the caller's monotonic clock (server: since start; simulator: virtual).
pub type Millis = u64;

/// Lowest and highest skill proficiency.
pub const MIN_LEVEL: u8 = 1;
pub const MAX_LEVEL: u8 = 5;

macro_rules! string_id {
    ($name:ident, $doc:literal) => {
        #[doc = $doc]
        #[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
        pub struct $name(pub Arc<str>);
        impl Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(&self.0)
            }
        }
        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                String::deserialize(d).map($name::from)
            }
        }
        impl $name {
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }
        impl From<&str> for $name {
            fn from(s: &str) -> Self {
                $name(Arc::from(s))
            }
        }
        impl From<String> for $name {
            fn from(s: String) -> Self {
                $name(Arc::from(s))
            }
        }
        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{:?}", &*self.0)
            }
        }
    };
}
string_id!(
    CallId,
    "A call's identifier, chosen by the call layer (unique while the call lives)."
);
string_id!(AgentId, "An agent's identifier as written in agents.toml.");

/// Index of a skill in the loaded configuration (languages are skills too).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
pub struct SkillId(pub u16);

/// Index of a queue in the loaded configuration.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
pub struct QueueId(pub u16);

/// "Needs skill `skill` at level `min_level` or better."
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
pub struct SkillReq {
    pub skill: SkillId,
    pub min_level: u8,
}

/// How a queue picks among several free, qualified agents.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Strategy {
    /// The agent idle the longest (since they last became available).
    LongestIdle,
    /// The next agent after the one last offered a call of this queue, in roster order.
    RoundRobin,
    /// The agent who answered the fewest calls since logging in, then longest idle.
    FewestCalls,
    /// Every qualified free agent in the best penalty tier rings; first to answer wins.
    RingAll,
    /// Highest summed proficiency on the call's required skills, then longest idle.
    BestSkill,
}

impl Strategy {
    pub const ALL: [Strategy; 5] = [
        Strategy::LongestIdle,
        Strategy::RoundRobin,
        Strategy::FewestCalls,
        Strategy::RingAll,
        Strategy::BestSkill,
    ];
    pub fn name(self) -> &'static str {
        match self {
            Strategy::LongestIdle => "longest-idle",
            Strategy::RoundRobin => "round-robin",
            Strategy::FewestCalls => "fewest-calls",
            Strategy::RingAll => "ring-all",
            Strategy::BestSkill => "best-skill",
        }
    }
    pub fn parse(s: &str) -> Option<Strategy> {
        Strategy::ALL.into_iter().find(|x| x.name() == s)
    }
}

/// Who may take a queue's calls.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Membership {
    /// Only agents listing the queue in agents.toml (and having the required skills).
    Explicit,
    /// Any agent with the required skills; a listed queue only sets the penalty.
    Skills,
}

/// What happens to a caller when a queue's limit is reached.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Outcome {
    Overflow(QueueId),
    Voicemail,
    Callback,
    Busy,
}

/// The outcome as reported to the call layer (queue names resolved).
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum OutcomeKind {
    Voicemail,
    Callback,
    Busy,
}

/// Agent state as seen outside the router and persisted as events.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AgentStatus {
    LoggedOut,
    Available,
    Ringing,
    OnCall,
    WrapUp,
    NotReady,
    /// Held for a callback while the server dials the customer.
    Reserved,
}

impl AgentStatus {
    /// All states, for parsing names back.
    pub const ALL: [AgentStatus; 7] = [
        AgentStatus::LoggedOut,
        AgentStatus::Available,
        AgentStatus::Ringing,
        AgentStatus::OnCall,
        AgentStatus::WrapUp,
        AgentStatus::NotReady,
        AgentStatus::Reserved,
    ];

    /// The state named by [`AgentStatus::name`].
    pub fn parse(name: &str) -> Option<AgentStatus> {
        Self::ALL.into_iter().find(|s| s.name() == name)
    }

    pub fn name(self) -> &'static str {
        match self {
            AgentStatus::LoggedOut => "logged-out",
            AgentStatus::Available => "available",
            AgentStatus::Ringing => "ringing",
            AgentStatus::OnCall => "on-call",
            AgentStatus::WrapUp => "wrap-up",
            AgentStatus::NotReady => "not-ready",
            AgentStatus::Reserved => "reserved",
        }
    }
    /// Counted as working time for occupancy (the rest of staffed time is idle).
    pub fn is_busy(self) -> bool {
        matches!(
            self,
            AgentStatus::Ringing
                | AgentStatus::OnCall
                | AgentStatus::WrapUp
                | AgentStatus::Reserved
        )
    }
}

/// Reason codes the router itself sets.
pub mod reasons {
    /// Offer not answered in time (RONA).
    pub const MISSED: &str = "missed";
    /// Phone registration or browser socket gone past the grace period.
    pub const DISCONNECTED: &str = "disconnected";
    /// Logged in without asking to be ready.
    pub const LOGIN: &str = "login";
    /// State restored after a server restart for an agent who was on a call.
    pub const RESTART: &str = "restart";
}
