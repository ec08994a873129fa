//! Index of routable (available and connected) agents by (skill, level) and by queue
//! membership, each kept in the orders the strategies need, so finding an agent for a
//! call never scans the whole roster.
use super::state::AgentRt;
use crate::acd::types::*;
use std::collections::BTreeSet;

#[derive(Default, Debug)]
pub(super) struct Bucket {
    /// (idle since, agent): longest-idle, best-skill and ring-all order.
    pub idle: BTreeSet<(Millis, u32)>,
    /// Agent index: round-robin order.
    pub ix: BTreeSet<u32>,
    /// (calls answered, idle since, agent): fewest-calls order.
    pub calls: BTreeSet<(u32, Millis, u32)>,
}

impl Bucket {
    fn insert(&mut self, a: u32, idle: Millis, answered: u32) {
        self.idle.insert((idle, a));
        self.ix.insert(a);
        self.calls.insert((answered, idle, a));
    }
    fn remove(&mut self, a: u32, idle: Millis, answered: u32) {
        self.idle.remove(&(idle, a));
        self.ix.remove(&a);
        self.calls.remove(&(answered, idle, a));
    }
    pub fn len(&self) -> usize {
        self.ix.len()
    }
}

pub(super) struct AvailIndex {
    /// Per skill, per exact level (index level-1).
    pub skill: Vec<[Bucket; 5]>,
    /// Per queue the agent lists in agents.toml.
    pub queue: Vec<Bucket>,
    pub all: Bucket,
}

impl AvailIndex {
    pub fn new(skills: usize, queues: usize) -> Self {
        AvailIndex {
            skill: (0..skills).map(|_| Default::default()).collect(),
            queue: (0..queues).map(|_| Bucket::default()).collect(),
            all: Bucket::default(),
        }
    }

    pub fn insert(&mut self, ix: u32, a: &mut AgentRt) {
        if a.indexed.is_some() {
            return;
        }
        let (idle, n) = (a.idle_since, a.answered);
        for (s, l) in &a.skills {
            if let Some(b) = self.bucket(*s, *l) {
                b.insert(ix, idle, n);
            }
        }
        for (q, p) in a.penalty.iter().enumerate() {
            if p.is_some() {
                if let Some(b) = self.queue.get_mut(q) {
                    b.insert(ix, idle, n);
                }
            }
        }
        self.all.insert(ix, idle, n);
        a.indexed = Some((idle, n));
    }

    pub fn remove(&mut self, ix: u32, a: &mut AgentRt) {
        let Some((idle, n)) = a.indexed.take() else {
            return;
        };
        for (s, l) in &a.skills {
            if let Some(b) = self.bucket(*s, *l) {
                b.remove(ix, idle, n);
            }
        }
        for (q, p) in a.penalty.iter().enumerate() {
            if p.is_some() {
                if let Some(b) = self.queue.get_mut(q) {
                    b.remove(ix, idle, n);
                }
            }
        }
        self.all.remove(ix, idle, n);
    }

    fn bucket(&mut self, s: SkillId, level: u8) -> Option<&mut Bucket> {
        let l = level.checked_sub(1)? as usize;
        self.skill.get_mut(s.0 as usize)?.get_mut(l)
    }

    /// Routable agents having `r` (any level at or above the minimum).
    pub fn count(&self, r: &SkillReq) -> usize {
        let lo = r.min_level.max(1) as usize - 1;
        self.skill
            .get(r.skill.0 as usize)
            .map_or(0, |b| b[lo.min(5)..].iter().map(Bucket::len).sum())
    }
}
