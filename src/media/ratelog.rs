//! Rate limiting for log lines about bad input, so a flood of junk packets costs a counter
//! increment, not a log line each: the first occurrence is logged, then at most one line per
//! period saying how many were suppressed.

use std::time::{Duration, Instant};

/// One rate-limited log category.
#[derive(Debug, Clone, Default)]
pub struct RateLimit {
    last: Option<Instant>,
    suppressed: u64,
}

impl RateLimit {
    /// Returns `Some(suppressed_since_last_line)` when a line may be logged now.
    pub fn allow(&mut self, now: Instant, period: Duration) -> Option<u64> {
        match self.last {
            Some(t) if now.saturating_duration_since(t) < period => {
                self.suppressed += 1;
                None
            }
            _ => {
                self.last = Some(now);
                Some(std::mem::take(&mut self.suppressed))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_then_one_per_period_with_count() {
        let mut r = RateLimit::default();
        let t = Instant::now();
        let p = Duration::from_secs(10);
        assert_eq!(r.allow(t, p), Some(0));
        for i in 1..=5 {
            assert_eq!(r.allow(t + Duration::from_secs(i), p), None);
        }
        assert_eq!(r.allow(t + Duration::from_secs(11), p), Some(5));
        assert_eq!(r.allow(t + Duration::from_secs(12), p), None);
    }
}
