//! RTP port pairs from the configured range, handed out in turn (even RTP, odd RTCP).
//! The media engine binds them; until a call's media runs, this only reserves numbers.

use std::sync::atomic::{AtomicU32, Ordering};

pub struct PortPool {
    min: u16,
    pairs: u32,
    next: AtomicU32,
}

impl PortPool {
    pub fn new(min: u16, max: u16) -> PortPool {
        let min = min + (min % 2);
        // Pairs (even RTP, odd RTCP) that fit entirely inside [min, max].
        let pairs = u32::from(max.saturating_sub(min)).div_ceil(2);
        PortPool {
            min,
            pairs: pairs.max(1),
            next: AtomicU32::new(0),
        }
    }

    /// The next even port of the range (wrapping around).
    pub fn next(&self) -> u16 {
        let i = self.next.fetch_add(1, Ordering::Relaxed) % self.pairs;
        self.min + (i * 2) as u16
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn even_ports_with_their_rtcp_port_inside_the_range_wrapping() {
        let p = PortPool::new(20001, 20006);
        let got: Vec<u16> = (0..3).map(|_| p.next()).collect();
        assert_eq!(
            got,
            vec![20002, 20004, 20002],
            "20006 would need RTCP on 20007"
        );
    }
}
