//! A call's legs and who hears whom. Pure bookkeeping: the machine decides, these remember.

use std::collections::{BTreeMap, BTreeSet};

/// A leg's id within its call (the caller's is the first).
pub type LegId = u32;

/// Who is on the other end of a leg.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Role {
    Caller,
    /// An agent being offered the call, or talking (their username).
    Agent(String),
    /// A supervisor monitoring the call (their username).
    Supervisor(String),
}

/// Where one leg stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LegPhase {
    /// Waiting for the pop before it may ring.
    Waiting,
    /// Being set up (phone dialled, WebRTC leg opened).
    Opening,
    Ringing,
    Answered,
    /// Asked to end (CANCEL or BYE sent); its end is still to come.
    Ending,
    Ended,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Leg {
    pub role: Role,
    pub phase: LegPhase,
}

/// Every leg the call has had.
#[derive(Debug, Default)]
pub struct Legs {
    legs: BTreeMap<LegId, Leg>,
    next: LegId,
}

impl Legs {
    pub fn add(&mut self, role: Role, phase: LegPhase) -> LegId {
        let id = self.next;
        self.next += 1;
        self.legs.insert(id, Leg { role, phase });
        id
    }

    pub fn get(&self, leg: LegId) -> Option<&Leg> {
        self.legs.get(&leg)
    }

    pub fn role(&self, leg: LegId) -> Option<&Role> {
        self.legs.get(&leg).map(|l| &l.role)
    }

    pub fn phase(&self, leg: LegId) -> Option<LegPhase> {
        self.legs.get(&leg).map(|l| l.phase)
    }

    /// Move a leg on (an ended leg stays ended).
    pub fn set(&mut self, leg: LegId, phase: LegPhase) {
        if let Some(l) = self.legs.get_mut(&leg) {
            if l.phase != LegPhase::Ended {
                l.phase = phase;
            }
        }
    }

    pub fn agent_name(&self, leg: LegId) -> Option<&str> {
        match self.role(leg) {
            Some(Role::Agent(a)) => Some(a),
            _ => None,
        }
    }

    /// The leg of `role` that is not over yet.
    pub fn find(&self, role: &Role) -> Option<LegId> {
        self.legs
            .iter()
            .find(|(_, l)| {
                &l.role == role && !matches!(l.phase, LegPhase::Ended | LegPhase::Ending)
            })
            .map(|(id, _)| *id)
    }

    /// Agent legs being set up or ringing: the outstanding offers.
    pub fn offers(&self) -> Vec<LegId> {
        self.matching(|l| {
            matches!(l.role, Role::Agent(_))
                && matches!(l.phase, LegPhase::Opening | LegPhase::Ringing)
        })
    }

    /// Supervisor legs not over yet.
    pub fn supervisors(&self) -> Vec<LegId> {
        self.matching(|l| {
            matches!(l.role, Role::Supervisor(_))
                && !matches!(l.phase, LegPhase::Ended | LegPhase::Ending)
        })
    }

    pub fn in_phase(&self, phase: LegPhase) -> Vec<LegId> {
        self.matching(|l| l.phase == phase)
    }

    fn matching(&self, keep: impl Fn(&Leg) -> bool) -> Vec<LegId> {
        self.legs
            .iter()
            .filter(|(_, l)| keep(l))
            .map(|(id, _)| *id)
            .collect()
    }
}

/// Who hears whom: a set of (listener, speaker) pairs.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Hears {
    pairs: BTreeSet<(LegId, LegId)>,
}

impl Hears {
    pub fn hears(&self, listener: LegId, speaker: LegId) -> bool {
        self.pairs.contains(&(listener, speaker))
    }

    /// `a` and `b` hear each other.
    pub fn bridge(&mut self, a: LegId, b: LegId) {
        self.pairs.insert((a, b));
        self.pairs.insert((b, a));
    }

    /// A supervisor hears caller and agent (what they may say is the mode's: listen, whisper,
    /// barge is carried by the media conference's role).
    pub fn monitor(&mut self, supervisor: LegId, caller: LegId, agent: LegId) {
        self.pairs.insert((supervisor, caller));
        self.pairs.insert((supervisor, agent));
    }

    /// `leg` hears nobody and nobody hears it.
    pub fn remove(&mut self, leg: LegId) {
        self.pairs.retain(|(l, s)| *l != leg && *s != leg);
    }

    pub fn is_empty(&self) -> bool {
        self.pairs.is_empty()
    }
}
