//! Call side of routing: which free agent(s) get this call, per the queue's strategy.
//!
//! Candidates come from the smallest index bucket that must contain every qualified
//! agent: the agents having the call's scarcest required skill at a sufficient level,
//! or (explicit membership) the queue's free members. Buckets are already sorted in the
//! strategy's order, so the scan stops at the first qualified agent of the best penalty
//! tier (best-skill is the exception: it must see the whole bucket).
use super::avail::Bucket;
use super::Router;
use crate::acd::types::Membership;
use crate::acd::types::*;

pub(super) struct Selection {
    pub agents: Vec<u32>,
    pub penalty: u16,
    pub considered: u32,
    pub rule: &'static str,
    /// Score of each chosen agent (higher won; meaning in `rule`).
    pub scores: Vec<i64>,
    pub runners: Vec<(u32, i64)>,
}

type Key = (i64, i64);
/// Index buckets to scan, with the level of the scanned skill each stands for.
type Buckets<'a> = Vec<(Option<u8>, &'a Bucket)>;
type Cand = (u16, Key, u32);

struct Scan {
    min_pen: u16,
    best: Option<Cand>,
    runners: Vec<Cand>,
    considered: u32,
}

impl Scan {
    fn add(&mut self, c: Cand) {
        match self.best {
            Some(b) if c >= b => self.runners.push(c),
            Some(b) => {
                self.runners.push(b);
                self.best = Some(c);
            }
            None => self.best = Some(c),
        }
        if self.runners.len() > 3 {
            self.runners.sort_unstable();
            self.runners.truncate(3);
        }
    }
    /// Scan an iterator already in key order; stop once nothing better can follow.
    fn sorted(
        &mut self,
        it: impl Iterator<Item = (u32, Key)>,
        filter: &impl Fn(u32) -> Option<u16>,
    ) {
        for (a, key) in it {
            if let Some(b) = self.best {
                if b.0 <= self.min_pen && key > b.1 {
                    break;
                }
            }
            self.considered += 1;
            if let Some(p) = filter(a) {
                self.add((p, key, a));
                if p <= self.min_pen {
                    break;
                }
            }
        }
    }
    fn all(&mut self, it: impl Iterator<Item = (u32, Key)>, filter: &impl Fn(u32) -> Option<u16>) {
        for (a, key) in it {
            self.considered += 1;
            if let Some(p) = filter(a) {
                self.add((p, key, a));
            }
        }
    }
}

impl Router {
    /// Index buckets holding every free agent that could qualify for this call, with
    /// the level of the scanned skill each bucket stands for (None: any level).
    fn candidate_buckets(
        &self,
        q: QueueId,
        reqs: &[SkillReq],
        explicit: bool,
    ) -> (usize, Buckets<'_>) {
        let mut best: Option<(usize, Buckets<'_>)> = None;
        if explicit {
            if let Some(b) = self.avail.queue.get(q.0 as usize) {
                best = Some((b.len(), vec![(None, b)]));
            }
        }
        for r in reqs {
            let n = self.avail.count(r);
            if best.as_ref().is_none_or(|(m, _)| n < *m) {
                let lo = r.min_level.max(1) as usize - 1;
                let v = self
                    .avail
                    .skill
                    .get(r.skill.0 as usize)
                    .map_or(Vec::new(), |b| {
                        (lo.min(5)..5).map(|l| (Some(l as u8 + 1), &b[l])).collect()
                    });
                best = Some((n, v));
            }
        }
        best.unwrap_or_else(|| (self.avail.all.len(), vec![(None, &self.avail.all)]))
    }

    pub(super) fn select_agents(&self, slot: u32) -> Option<Selection> {
        let c = self.calls.get(slot)?;
        let q = c.queue;
        let qr = &self.queues[q.0 as usize];
        let def = &qr.def;
        let explicit = def.membership == Membership::Explicit;
        let (n, buckets) = self.candidate_buckets(q, &c.reqs, explicit);
        if n == 0 {
            return None;
        }
        // The index only holds routable agents; check requirement, membership, declines.
        let filter = |a: u32| -> Option<u16> {
            let p = self.packed.get(a as usize)?;
            let ok = match p.qualifies(&c.reqs) {
                Some(ok) => ok,
                None => self.agents.get(a as usize)?.qualifies(&c.reqs),
            };
            if !ok || (!c.declined.is_empty() && c.declined.contains(&a)) {
                return None;
            }
            let pen = if p.listed {
                self.agents
                    .get(a as usize)?
                    .penalty
                    .get(q.0 as usize)
                    .copied()
                    .flatten()
            } else {
                None
            };
            match (explicit, pen) {
                (true, None) => None,
                (_, p) => Some(p.unwrap_or(0)),
            }
        };
        let mut scan = Scan {
            min_pen: qr.min_penalty,
            best: None,
            runners: Vec::new(),
            considered: 0,
        };
        let now = self.now as i64;
        let (rule, score): (&'static str, fn(Key, i64) -> i64) = match def.strategy {
            Strategy::LongestIdle => {
                for (_, b) in &buckets {
                    scan.sorted(b.idle.iter().map(|(t, a)| (*a, (*t as i64, 0))), &filter);
                }
                (
                    "longest-idle: lowest penalty, then idle the longest; score = ms idle",
                    |k, now| now - k.0,
                )
            }
            Strategy::FewestCalls => {
                for (_, b) in &buckets {
                    scan.sorted(
                        b.calls.iter().map(|(n, t, a)| (*a, (*n as i64, *t as i64))),
                        &filter,
                    );
                }
                ("fewest-calls: lowest penalty, then fewest calls answered since login, then idle the longest; score = -calls", |k, _| -k.0)
            }
            Strategy::RoundRobin => {
                let cur = qr.rr_cursor;
                let size = self.agents.len().max(1) as i64;
                let dist = move |a: u32| (a as i64 - cur as i64 - 1).rem_euclid(size);
                for (_, b) in &buckets {
                    let it =
                        b.ix.range(cur.saturating_add(1)..)
                            .chain(b.ix.range(..=cur));
                    scan.sorted(it.map(|a| (*a, (dist(*a), 0))), &filter);
                }
                ("round-robin: lowest penalty, then the next agent after the one last offered; score = -distance", |k, _| -k.0)
            }
            Strategy::BestSkill => {
                // Highest level of the scanned skill first; stop once no lower level can
                // reach the best sum (the other skills add at most 5 each).
                let others = 5 * (c.reqs.len() as i64 - 1).max(0);
                for (level, b) in buckets.iter().rev() {
                    if let (Some(l), Some(best)) = (level, scan.best) {
                        if best.0 <= scan.min_pen && -best.1 .0 >= *l as i64 + others {
                            break;
                        }
                    }
                    let it = b.idle.iter().map(|(t, a)| {
                        let packed = self
                            .packed
                            .get(*a as usize)
                            .and_then(|p| p.skill_score(&c.reqs));
                        let s = packed.unwrap_or_else(|| {
                            self.agents
                                .get(*a as usize)
                                .map_or(0, |ag| ag.skill_score(&c.reqs))
                        });
                        (*a, (-s, *t as i64))
                    });
                    scan.all(it, &filter);
                }
                ("best-skill: lowest penalty, then highest summed proficiency on the required skills, then idle the longest; score = proficiency sum", |k, _| -k.0)
            }
            Strategy::RingAll => {
                let bs: Vec<&Bucket> = buckets.iter().map(|(_, b)| *b).collect();
                return self.select_ring_all(&bs, &filter, def.ring_all_max);
            }
        };
        let (pen, key, a) = scan.best?;
        scan.runners.sort_unstable();
        Some(Selection {
            agents: vec![a],
            penalty: pen,
            considered: scan.considered,
            rule,
            scores: vec![score(key, now)],
            runners: scan
                .runners
                .iter()
                .map(|(_, k, a)| (*a, score(*k, now)))
                .collect(),
        })
    }

    fn select_ring_all(
        &self,
        buckets: &[&Bucket],
        filter: &impl Fn(u32) -> Option<u16>,
        max: usize,
    ) -> Option<Selection> {
        let mut found: Vec<(u16, Millis, u32)> = Vec::new();
        let mut considered = 0;
        for b in buckets {
            for (t, a) in &b.idle {
                considered += 1;
                if let Some(p) = filter(*a) {
                    found.push((p, *t, *a));
                }
            }
        }
        let pen = found.iter().map(|f| f.0).min()?;
        found.retain(|f| f.0 == pen);
        found.sort_unstable();
        found.truncate(max.max(1));
        Some(Selection {
            agents: found.iter().map(|f| f.2).collect(),
            penalty: pen,
            considered,
            rule: "ring-all: every qualified free agent of the lowest penalty tier rings (at most ring_all_max, longest idle first); score = ms idle",
            scores: found.iter().map(|f| self.now.saturating_sub(f.1) as i64).collect(),
            runners: Vec::new(),
        })
    }
}
