//! Index of waiting calls for "an agent became free: which call?".
//!
//! Calls with the same queue and the same effective requirement form a *class*, kept in
//! service order. Each non-empty class is filed under its *primary* requirement — the
//! one fewest configured agents meet — as (head key, class), so an agent only looks at
//! classes filed under skills it has at a level it has, best head first, and stops at
//! the first class it fully qualifies for. Classes with no requirement (fully relaxed)
//! are filed per queue. Calls in a ticket-owner window wait in a per-agent set.
use super::state::CallKey;
use crate::acd::types::*;
use std::collections::{BTreeSet, HashMap};

pub(super) type Entry = (CallKey, u32);

pub(super) struct Class {
    pub queue: QueueId,
    pub reqs: Vec<SkillReq>,
    pub primary: Option<SkillReq>,
    pub calls: BTreeSet<Entry>,
}

pub(super) struct WaitIndex {
    pub classes: Vec<Class>,
    by_sig: HashMap<(QueueId, Vec<SkillReq>), u32>,
    /// Ids of classes that emptied, for reuse (requirement mixes come and go).
    free: Vec<u32>,
    /// Per skill, per minimum level (index level-1): heads of non-empty classes.
    pub by_skill: Vec<[BTreeSet<Entry>; 5]>,
    /// Per queue: heads of non-empty classes without requirement.
    pub by_queue: Vec<BTreeSet<Entry>>,
    /// Ticket-owner windows: agent → calls waiting for that agent only.
    pub owner: HashMap<u32, BTreeSet<Entry>>,
    /// Per skill, configured agents with level >= m (index m-1).
    popularity: Vec<[u32; 5]>,
}

impl WaitIndex {
    pub fn new(queues: usize, popularity: Vec<[u32; 5]>) -> Self {
        WaitIndex {
            classes: Vec::new(),
            by_sig: HashMap::new(),
            free: Vec::new(),
            by_skill: (0..popularity.len()).map(|_| Default::default()).collect(),
            by_queue: (0..queues).map(|_| BTreeSet::new()).collect(),
            owner: HashMap::new(),
            popularity,
        }
    }

    /// The class for this queue and requirement (created on first use).
    pub fn class_for(&mut self, queue: QueueId, reqs: &[SkillReq]) -> u32 {
        if let Some(c) = self.by_sig.get(&(queue, reqs.to_vec())) {
            return *c;
        }
        let pop = &self.popularity;
        let primary = reqs
            .iter()
            .min_by_key(|r| {
                pop.get(r.skill.0 as usize)
                    .and_then(|p| p.get(r.min_level.max(1) as usize - 1))
                    .copied()
                    .unwrap_or(0)
            })
            .copied();
        let class = Class {
            queue,
            reqs: reqs.to_vec(),
            primary,
            calls: BTreeSet::new(),
        };
        let id = match self.free.pop() {
            Some(id) => {
                self.classes[id as usize] = class;
                id
            }
            None => {
                self.classes.push(class);
                (self.classes.len() - 1) as u32
            }
        };
        self.by_sig.insert((queue, reqs.to_vec()), id);
        id
    }

    fn heads(&mut self, class: u32) -> Option<&mut BTreeSet<Entry>> {
        let c = self.classes.get(class as usize)?;
        match c.primary {
            Some(r) => self
                .by_skill
                .get_mut(r.skill.0 as usize)?
                .get_mut(r.min_level.max(1) as usize - 1),
            None => self.by_queue.get_mut(c.queue.0 as usize),
        }
    }

    fn head(&self, class: u32) -> Option<Entry> {
        self.classes.get(class as usize)?.calls.first().copied()
    }

    /// Keep the class's head entry in its bucket in step after a change.
    fn rehead(&mut self, class: u32, before: Option<Entry>) {
        let after = self.head(class);
        if before == after {
            return;
        }
        if let Some(set) = self.heads(class) {
            if let Some((k, _)) = before {
                set.remove(&(k, class));
            }
            if let Some((k, _)) = after {
                set.insert((k, class));
            }
        }
    }

    pub fn insert(&mut self, class: u32, key: CallKey, slot: u32) {
        let before = self.head(class);
        if let Some(c) = self.classes.get_mut(class as usize) {
            c.calls.insert((key, slot));
        }
        self.rehead(class, before);
    }

    pub fn remove(&mut self, class: u32, key: CallKey, slot: u32) {
        let before = self.head(class);
        let Some(c) = self.classes.get_mut(class as usize) else {
            return;
        };
        c.calls.remove(&(key, slot));
        let emptied = c.calls.is_empty();
        self.rehead(class, before);
        if emptied {
            let c = &mut self.classes[class as usize];
            let sig = (c.queue, std::mem::take(&mut c.reqs));
            self.by_sig.remove(&sig);
            self.free.push(class);
        }
    }

    pub fn insert_owner(&mut self, agent: u32, key: CallKey, slot: u32) {
        self.owner.entry(agent).or_default().insert((key, slot));
    }

    pub fn remove_owner(&mut self, agent: u32, key: CallKey, slot: u32) {
        if let Some(s) = self.owner.get_mut(&agent) {
            s.remove(&(key, slot));
            if s.is_empty() {
                self.owner.remove(&agent);
            }
        }
    }

    /// Classes with waiting callers.
    pub fn class_count(&self) -> usize {
        self.by_sig.len()
    }
}
