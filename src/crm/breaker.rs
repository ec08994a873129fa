//! A circuit breaker for the external CRM, sans I/O: the caller asks before each request
//! ([`Breaker::admit`]) and reports how it went ([`Breaker::success`], [`Breaker::failure`]),
//! always passing the current `Instant`, so the rules are tested without clocks or sockets.
//!
//! - **Closed**: requests go through; `failures` consecutive failures open it.
//! - **Open**: requests fail fast until `cooldown` has passed since it opened.
//! - **Half-open**: the first request after the cooldown is a trial; others keep failing fast
//!   while it runs. Its success closes the breaker, its failure opens it for another cooldown.
//!   A trial that never reports (its caller gave up) lets another trial in after one cooldown.
//!
//! Any success closes the breaker: a late answer to a request sent while it was closed proves
//! the CRM is back as well as a trial does.

use std::time::{Duration, Instant};

/// Where the breaker stands (for logs and metrics).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BreakerState {
    Closed,
    Open,
    HalfOpen,
}

impl BreakerState {
    pub fn as_str(self) -> &'static str {
        match self {
            BreakerState::Closed => "closed",
            BreakerState::Open => "open",
            BreakerState::HalfOpen => "half_open",
        }
    }
}

/// The breaker's answer to "may I send a request now?".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admit {
    /// Closed: go ahead.
    Yes,
    /// Half-open: go ahead, this request decides whether the breaker closes.
    Trial,
    /// Open (or a trial is running): fail fast; the next trial is possible in `retry_in`.
    No { retry_in: Duration },
}

impl Admit {
    pub fn allowed(self) -> bool {
        !matches!(self, Admit::No { .. })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Closed { failures: u32 },
    Open { since: Instant },
    HalfOpen { trial_since: Instant },
}

/// See the module documentation.
#[derive(Debug, Clone)]
pub struct Breaker {
    threshold: u32,
    cooldown: Duration,
    state: State,
}

impl Breaker {
    /// Opens after `failures` consecutive failures (at least 1), for `cooldown`.
    pub fn new(failures: u32, cooldown: Duration) -> Breaker {
        Breaker {
            threshold: failures.max(1),
            cooldown,
            state: State::Closed { failures: 0 },
        }
    }

    /// May a request be sent at `now`? (An open breaker whose cooldown is over turns half-open
    /// and admits this request as its trial.)
    pub fn admit(&mut self, now: Instant) -> Admit {
        match self.state {
            State::Closed { .. } => Admit::Yes,
            State::Open { since } | State::HalfOpen { trial_since: since } => {
                let elapsed = now.saturating_duration_since(since);
                if elapsed >= self.cooldown {
                    self.state = State::HalfOpen { trial_since: now };
                    Admit::Trial
                } else {
                    Admit::No {
                        retry_in: self.cooldown - elapsed,
                    }
                }
            }
        }
    }

    /// How long until a request would be admitted (zero when it would be now). Does not
    /// change the state, unlike [`Breaker::admit`].
    pub fn wait(&self, now: Instant) -> Duration {
        match self.state {
            State::Closed { .. } => Duration::ZERO,
            State::Open { since } | State::HalfOpen { trial_since: since } => self
                .cooldown
                .saturating_sub(now.saturating_duration_since(since)),
        }
    }

    /// A request got an answer from a healthy CRM.
    pub fn success(&mut self) {
        self.state = State::Closed { failures: 0 };
    }

    /// A request failed (no answer, timeout, server error).
    pub fn failure(&mut self, now: Instant) {
        self.state = match self.state {
            State::Closed { failures } if failures + 1 < self.threshold => State::Closed {
                failures: failures + 1,
            },
            State::Closed { .. } | State::HalfOpen { .. } => State::Open { since: now },
            // A late failure of a request admitted before the breaker opened: the cooldown
            // already running stands.
            open @ State::Open { .. } => open,
        };
    }

    pub fn state(&self) -> BreakerState {
        match self.state {
            State::Closed { .. } => BreakerState::Closed,
            State::Open { .. } => BreakerState::Open,
            State::HalfOpen { .. } => BreakerState::HalfOpen,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const COOL: Duration = Duration::from_secs(10);

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn opens_after_n_consecutive_failures_only() {
        let t0 = Instant::now();
        let mut b = Breaker::new(3, COOL);
        b.failure(t0);
        b.failure(t0);
        b.success();
        b.failure(t0);
        b.failure(t0);
        assert_eq!(
            b.state(),
            BreakerState::Closed,
            "a success resets the count"
        );
        assert_eq!(b.admit(t0), Admit::Yes);
        b.failure(t0);
        assert_eq!(b.state(), BreakerState::Open);
    }

    #[test]
    fn open_fails_fast_until_the_cooldown_then_admits_one_trial() {
        let t0 = Instant::now();
        let mut b = Breaker::new(1, COOL);
        b.failure(t0);
        assert_eq!(b.admit(t0 + ms(4000)), Admit::No { retry_in: ms(6000) });
        assert_eq!(b.wait(t0 + ms(9000)), ms(1000));
        assert_eq!(b.state(), BreakerState::Open, "asking does not move it");
        assert_eq!(b.admit(t0 + COOL), Admit::Trial);
        assert_eq!(b.state(), BreakerState::HalfOpen);
        assert!(
            !b.admit(t0 + COOL + ms(1)).allowed(),
            "only one trial at a time"
        );
    }

    #[test]
    fn a_successful_trial_closes() {
        let t0 = Instant::now();
        let mut b = Breaker::new(2, COOL);
        b.failure(t0);
        b.failure(t0);
        assert_eq!(b.admit(t0 + COOL), Admit::Trial);
        b.success();
        assert_eq!(b.state(), BreakerState::Closed);
        assert_eq!(b.admit(t0 + COOL), Admit::Yes);
        b.failure(t0 + COOL);
        assert_eq!(
            b.state(),
            BreakerState::Closed,
            "the failure count starts again from zero"
        );
    }

    #[test]
    fn a_failed_trial_opens_for_a_whole_new_cooldown() {
        let t0 = Instant::now();
        let mut b = Breaker::new(5, COOL);
        for _ in 0..5 {
            b.failure(t0);
        }
        let t1 = t0 + COOL + ms(500);
        assert_eq!(b.admit(t1), Admit::Trial);
        b.failure(t1 + ms(100));
        assert_eq!(b.state(), BreakerState::Open);
        assert_eq!(
            b.admit(t1 + ms(100) + ms(9999)),
            Admit::No { retry_in: ms(1) }
        );
        assert_eq!(b.admit(t1 + ms(100) + COOL), Admit::Trial);
    }

    #[test]
    fn an_abandoned_trial_is_replaced_after_a_cooldown() {
        let t0 = Instant::now();
        let mut b = Breaker::new(1, COOL);
        b.failure(t0);
        assert_eq!(b.admit(t0 + COOL), Admit::Trial);
        // The trial's caller never reports back.
        assert!(!b.admit(t0 + COOL + ms(9999)).allowed());
        assert_eq!(b.admit(t0 + COOL + COOL), Admit::Trial);
    }

    #[test]
    fn late_failures_do_not_extend_the_cooldown() {
        let t0 = Instant::now();
        let mut b = Breaker::new(1, COOL);
        b.failure(t0);
        b.failure(t0 + ms(9000));
        assert_eq!(b.admit(t0 + COOL), Admit::Trial);
    }

    #[test]
    fn zero_threshold_means_one() {
        let t0 = Instant::now();
        let mut b = Breaker::new(0, COOL);
        assert_eq!(b.admit(t0), Admit::Yes);
        b.failure(t0);
        assert_eq!(b.state(), BreakerState::Open);
    }
}
