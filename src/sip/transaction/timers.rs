//! Timer values (RFC 3261 §17, Table 4) and a deadline queue with lazy deletion.
//!
//! [`TimerConfig`] holds T1/T2/T4 and derives timers A–K from them, so tests can shrink every
//! timer at once. [`TimerQueue`] is a `BinaryHeap` of `(deadline, owner, generation)` entries:
//! re-arming or cancelling a timer never searches the heap; stale entries are skipped when they
//! surface because their generation no longer matches what the owner holds.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::time::{Duration, Instant};

/// Base timer values. Everything else in §17 is derived from these.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimerConfig {
    /// RTT estimate (default 500 ms).
    pub t1: Duration,
    /// Maximum retransmit interval for non-INVITE requests and INVITE responses (default 4 s).
    pub t2: Duration,
    /// Maximum time a message stays in the network (default 5 s).
    pub t4: Duration,
    /// Timer D: wait time for response retransmits on unreliable transports (RFC: ≥ 32 s).
    pub timer_d: Duration,
    /// Delay before the INVITE server transaction sends `100 Trying` on its own (§17.2.1:
    /// "if the TU will not generate a provisional response within 200 ms"). Zero sends it at once.
    pub trying_delay: Duration,
}

impl Default for TimerConfig {
    fn default() -> Self {
        TimerConfig {
            t1: Duration::from_millis(500),
            t2: Duration::from_secs(4),
            t4: Duration::from_secs(5),
            timer_d: Duration::from_secs(32),
            trying_delay: Duration::from_millis(200),
        }
    }
}

impl TimerConfig {
    /// `64*T1`: timers B, F, H, J (unreliable), L and M.
    pub fn t1x64(&self) -> Duration {
        self.t1 * 64
    }

    /// Next retransmit interval: double `current`, capped at `cap`.
    pub fn backoff(current: Duration, cap: Duration) -> Duration {
        (current * 2).min(cap)
    }
}

/// The §17 timers (plus RFC 6026's L and M and the 200 ms `100 Trying` timer).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TimerKind {
    /// Client INVITE retransmit.
    A,
    /// Client INVITE timeout.
    B,
    /// Client INVITE: wait for response retransmits (Completed).
    D,
    /// Client non-INVITE retransmit.
    E,
    /// Client non-INVITE timeout.
    F,
    /// Server INVITE final response retransmit.
    G,
    /// Server INVITE: wait for ACK.
    H,
    /// Server INVITE: absorb ACK retransmits (Confirmed).
    I,
    /// Server non-INVITE: absorb request retransmits (Completed).
    J,
    /// Client non-INVITE: absorb response retransmits (Completed).
    K,
    /// RFC 6026 server INVITE Accepted state lifetime.
    L,
    /// RFC 6026 client INVITE Accepted state lifetime.
    M,
    /// Server INVITE: send `100 Trying` if the TU has not responded yet.
    Trying,
}

/// Number of distinct [`TimerKind`]s (size of per-owner slot arrays).
pub const TIMER_KINDS: usize = 13;

impl TimerKind {
    /// Slot index of this timer in a per-owner array.
    pub fn index(self) -> usize {
        self as usize
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Entry<K: Ord> {
    at: Instant,
    owner: K,
    generation: u64,
}

/// Min-heap of deadlines owned by `K`, with lazy deletion by generation number.
///
/// The owner remembers the generation returned by [`TimerQueue::schedule`]; an entry popped by
/// [`TimerQueue::pop_due`] is live only if the owner still holds that generation.
#[derive(Debug)]
pub struct TimerQueue<K: Ord + Copy> {
    heap: BinaryHeap<Reverse<Entry<K>>>,
    next_generation: u64,
}

impl<K: Ord + Copy> Default for TimerQueue<K> {
    fn default() -> Self {
        TimerQueue {
            heap: BinaryHeap::new(),
            next_generation: 1,
        }
    }
}

impl<K: Ord + Copy> TimerQueue<K> {
    /// Queue a deadline for `owner`; returns the generation the owner must keep to stay armed.
    pub fn schedule(&mut self, owner: K, at: Instant) -> u64 {
        let generation = self.next_generation;
        self.next_generation += 1;
        self.heap.push(Reverse(Entry {
            at,
            owner,
            generation,
        }));
        generation
    }

    /// Earliest queued deadline (possibly stale; a stale wake-up is harmless).
    pub fn peek(&self) -> Option<Instant> {
        self.heap.peek().map(|Reverse(e)| e.at)
    }

    /// Pop one entry due at or before `now`: `(owner, generation, deadline)`.
    pub fn pop_due(&mut self, now: Instant) -> Option<(K, u64, Instant)> {
        match self.heap.peek() {
            Some(Reverse(e)) if e.at <= now => {
                let Reverse(e) = self.heap.pop()?;
                Some((e.owner, e.generation, e.at))
            }
            _ => None,
        }
    }

    /// Drop stale entries from the top of the heap, given a liveness check.
    pub fn skip_stale(&mut self, mut live: impl FnMut(K, u64) -> bool) {
        while let Some(Reverse(e)) = self.heap.peek() {
            if live(e.owner, e.generation) {
                return;
            }
            self.heap.pop();
        }
    }

    /// Entries in the heap, live or stale.
    pub fn len(&self) -> usize {
        self.heap.len()
    }

    /// True when nothing is queued.
    pub fn is_empty(&self) -> bool {
        self.heap.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pops_in_deadline_order_and_only_when_due() {
        let t0 = Instant::now();
        let mut q = TimerQueue::default();
        q.schedule(2u32, t0 + Duration::from_millis(20));
        q.schedule(1u32, t0 + Duration::from_millis(10));
        assert_eq!(q.peek(), Some(t0 + Duration::from_millis(10)));
        assert!(q.pop_due(t0).is_none());
        let (owner, _, _) = q.pop_due(t0 + Duration::from_millis(25)).unwrap();
        assert_eq!(owner, 1);
        let (owner, _, _) = q.pop_due(t0 + Duration::from_millis(25)).unwrap();
        assert_eq!(owner, 2);
        assert!(q.is_empty());
    }

    #[test]
    fn stale_generations_are_skipped() {
        let t0 = Instant::now();
        let mut q = TimerQueue::default();
        let stale = q.schedule(7u32, t0);
        let live = q.schedule(7u32, t0 + Duration::from_millis(5));
        q.skip_stale(|_, g| g != stale);
        assert_eq!(q.len(), 1);
        assert_eq!(q.pop_due(t0 + Duration::from_millis(5)).unwrap().1, live);
    }

    #[test]
    fn backoff_doubles_up_to_cap() {
        let cap = Duration::from_millis(400);
        let mut d = Duration::from_millis(100);
        let mut seen = vec![];
        for _ in 0..4 {
            seen.push(d.as_millis());
            d = TimerConfig::backoff(d, cap);
        }
        assert_eq!(seen, vec![100, 200, 400, 400]);
    }
}
