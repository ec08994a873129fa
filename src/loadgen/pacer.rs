//! Paces new calls (or releases) at a target rate from a start instant: asked at any
//! tick, it says how many are due so that the count so far tracks `rate × elapsed`
//! (the first one goes at once), however late or irregular the ticks are.

use std::time::Instant;

#[derive(Clone, Debug)]
pub struct Pacer {
    start: Instant,
    rate: f64,
    /// How many in all; None: until stopped.
    total: Option<u64>,
    issued: u64,
}

impl Pacer {
    /// `rate` per second, `total` in all (None: no end).
    pub fn new(start: Instant, rate: f64, total: Option<u64>) -> Pacer {
        Pacer {
            start,
            rate: rate.max(0.0),
            total,
            issued: 0,
        }
    }

    /// How many are due now (and counts them as issued).
    pub fn due(&mut self, now: Instant) -> u64 {
        let elapsed = now.saturating_duration_since(self.start).as_secs_f64();
        let mut target = (self.rate * elapsed).floor() as u64 + 1;
        if let Some(total) = self.total {
            target = target.min(total);
        }
        let n = target.saturating_sub(self.issued);
        self.issued += n;
        n
    }

    pub fn finished(&self) -> bool {
        self.total.is_some_and(|t| self.issued >= t)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn tracks_the_rate_whatever_the_ticks() {
        let t0 = Instant::now();
        let mut p = Pacer::new(t0, 1000.0, Some(2000));
        assert_eq!(p.due(t0), 1);
        assert_eq!(p.due(t0 + Duration::from_micros(500)), 0);
        assert_eq!(p.due(t0 + Duration::from_millis(10)), 10);
        // A late tick catches up, never beyond the total.
        assert_eq!(p.due(t0 + Duration::from_millis(1500)), 1490);
        assert!(!p.finished());
        assert_eq!(p.due(t0 + Duration::from_secs(5)), 499);
        assert!(p.finished());
        assert_eq!(p.due(t0 + Duration::from_secs(6)), 0);
    }

    #[test]
    fn an_open_ended_pacer_never_finishes() {
        let t0 = Instant::now();
        let mut p = Pacer::new(t0, 10.0, None);
        assert_eq!(p.due(t0 + Duration::from_secs(100)), 1001);
        assert!(!p.finished());
    }

    #[test]
    fn a_limit_stops_it() {
        let t0 = Instant::now();
        let mut p = Pacer::new(t0, 100.0, Some(3));
        assert_eq!(p.due(t0 + Duration::from_secs(1)), 3);
        assert!(p.finished());
    }
}
