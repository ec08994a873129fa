//! A hashed timing wheel on a millisecond virtual clock: O(1) insert, expiry cost
//! proportional to the slots passed. Entries are never cancelled; their owner checks
//! on expiry whether they still apply (cheaper than removal for 10k+ calls).

/// Timers keyed by deadline in milliseconds of the owner's clock.
pub struct TimerWheel<T> {
    slots: Vec<Vec<(u64, T)>>,
    now_ms: u64,
    len: usize,
}

impl<T> TimerWheel<T> {
    /// A wheel with `slots` one-millisecond slots (deadlines further out wait for
    /// later turns of the wheel).
    pub fn new(slots: usize) -> Self {
        let slots = slots.max(1);
        TimerWheel {
            slots: (0..slots).map(|_| Vec::new()).collect(),
            now_ms: 0,
            len: 0,
        }
    }

    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.len
    }

    #[cfg(test)]
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Schedules `item` at `at_ms`; a deadline not after the wheel's clock fires on the
    /// next [`TimerWheel::advance`].
    pub fn insert(&mut self, at_ms: u64, item: T) {
        let slot_time = at_ms.max(self.now_ms + 1);
        let n = self.slots.len() as u64;
        if let Some(slot) = self.slots.get_mut((slot_time % n) as usize) {
            slot.push((at_ms, item));
            self.len += 1;
        }
    }

    /// Moves the clock to `to_ms` and appends every entry due by then to `fired`.
    pub fn advance(&mut self, to_ms: u64, fired: &mut Vec<T>) {
        if to_ms <= self.now_ms {
            return;
        }
        let n = self.slots.len() as u64;
        let steps = (to_ms - self.now_ms).min(n);
        for step in 1..=steps {
            let idx = ((self.now_ms + step) % n) as usize;
            let Some(slot) = self.slots.get_mut(idx) else {
                continue;
            };
            let mut k = 0;
            while k < slot.len() {
                if slot[k].0 <= to_ms {
                    fired.push(slot.swap_remove(k).1);
                    self.len -= 1;
                } else {
                    k += 1;
                }
            }
        }
        self.now_ms = to_ms;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fire(w: &mut TimerWheel<u32>, to: u64) -> Vec<u32> {
        let mut out = Vec::new();
        w.advance(to, &mut out);
        out.sort();
        out
    }

    #[test]
    fn fires_each_entry_once_at_its_deadline() {
        let mut w = TimerWheel::new(8);
        w.insert(3, 1);
        w.insert(5, 2);
        w.insert(5, 3);
        assert_eq!(fire(&mut w, 2), Vec::<u32>::new());
        assert_eq!(fire(&mut w, 3), vec![1]);
        assert_eq!(fire(&mut w, 10), vec![2, 3]);
        assert_eq!(fire(&mut w, 20), Vec::<u32>::new());
        assert!(w.is_empty());
    }

    #[test]
    fn deadlines_beyond_one_turn_wait_for_their_turn() {
        let mut w = TimerWheel::new(8);
        w.insert(20, 7); // same slot as 4 and 12
        assert_eq!(fire(&mut w, 4), Vec::<u32>::new());
        assert_eq!(fire(&mut w, 12), Vec::<u32>::new());
        assert_eq!(w.len(), 1);
        assert_eq!(fire(&mut w, 20), vec![7]);
    }

    #[test]
    fn a_big_jump_fires_everything_due() {
        let mut w = TimerWheel::new(4);
        for (i, t) in [1u64, 2, 3, 9, 17, 100].iter().enumerate() {
            w.insert(*t, i as u32);
        }
        assert_eq!(fire(&mut w, 50), vec![0, 1, 2, 3, 4]);
        assert_eq!(fire(&mut w, 100), vec![5]);
    }

    #[test]
    fn past_deadline_fires_on_next_advance() {
        let mut w = TimerWheel::new(8);
        assert!(fire(&mut w, 10).is_empty());
        w.insert(5, 9);
        assert_eq!(fire(&mut w, 11), vec![9]);
    }
}
