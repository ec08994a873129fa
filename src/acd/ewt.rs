//! Expected wait time (EWT) for position announcements and callback offers.
//!
//! # Estimator
//! For a caller at position `p` (1 = next) in queue `q`:
//!
//! ```text
//! EWT(p) = p × AHT_q / N_q
//! ```
//! * `AHT_q` — average handle time of the queue: an exponentially weighted moving average
//!   (weight α = 0.05 per call, i.e. roughly the last 20–40 calls) of talk time plus the
//!   queue's wrap-up time of calls that ended, seeded with the queue's `expected_aht_s`
//!   until calls have been observed.
//! * `N_q` — staffed agents eligible for the queue: logged in, not in not-ready, able to
//!   take some call of the queue (membership and most relaxed requirement).
//!
//! Why: when all `N` agents are busy and handle times are exponential, agents free up as
//! a Poisson process of rate `N / AHT`, so the expected time until the `p`-th release —
//! the moment this caller reaches an agent — is exactly `p × AHT / N` (the same argument
//! behind Erlang C's conditional wait `AHT / (N − A)` once arrivals behind are ignored,
//! since they queue behind this caller). With no staffed agent the wait is unknown and
//! `None` is returned (the prompt then says so instead of inventing a figure).
//!
//! Limits: agents shared between queues are counted fully in each, so the estimate is
//! optimistic for queues that share staff with busier ones; skill-restricted callers
//! (rare language) may wait longer than their position suggests.
use crate::acd::types::Millis;

const ALPHA: f64 = 0.05;

/// Moving average of handle times (talk + wrap-up) in ms.
#[derive(Clone, Debug, PartialEq)]
pub struct HandleTimeEstimate {
    ewma_ms: f64,
    observed: u64,
}

impl HandleTimeEstimate {
    pub fn new(seed_ms: Millis) -> Self {
        HandleTimeEstimate {
            ewma_ms: seed_ms.max(1) as f64,
            observed: 0,
        }
    }
    pub fn observe(&mut self, handle_ms: Millis) {
        // The first observations get more weight so a wrong seed fades quickly.
        let a = ALPHA.max(1.0 / (self.observed as f64 + 2.0));
        self.ewma_ms += a * (handle_ms as f64 - self.ewma_ms);
        self.observed += 1;
    }
    pub fn aht_ms(&self) -> Millis {
        self.ewma_ms.round() as Millis
    }
    pub fn observed(&self) -> u64 {
        self.observed
    }
}

/// `p × AHT / N`, or `None` when nobody is staffed.
pub fn expected_wait(position: u32, aht_ms: Millis, staffed: u32) -> Option<Millis> {
    if staffed == 0 {
        return None;
    }
    Some(position as u64 * aht_ms / staffed as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ewt_is_position_times_aht_over_staff() {
        assert_eq!(expected_wait(3, 300_000, 10), Some(90_000));
        assert_eq!(expected_wait(1, 300_000, 0), None);
    }

    #[test]
    fn handle_time_estimate_moves_toward_observations() {
        let mut e = HandleTimeEstimate::new(300_000);
        for _ in 0..200 {
            e.observe(120_000);
        }
        assert!(
            (e.aht_ms() as i64 - 120_000).abs() < 1_000,
            "{}",
            e.aht_ms()
        );
    }
}
