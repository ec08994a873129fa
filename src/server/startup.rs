//! Start-up reads of the database, retried for a bounded time (a database switching over or
//! still starting), after which the start stops with an error naming what could not be read
//! and why. Nothing read at start is ever replaced by an empty default.

use std::fmt::Display;
use std::future::Future;
use std::time::Duration;

/// When to try again: exponential backoff from `first` up to `max_delay`, for at most `budget`
/// after the first attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    pub first: Duration,
    pub max_delay: Duration,
    pub budget: Duration,
}

impl RetryPolicy {
    /// The policy of every start-up read: `budget` from `[server] startup_retry_secs`.
    pub fn startup(budget: Duration) -> RetryPolicy {
        RetryPolicy {
            first: Duration::from_millis(100),
            max_delay: Duration::from_secs(2),
            budget,
        }
    }

    /// How long to wait after the `failures`-th failed attempt (1 for the first), `elapsed`
    /// after the first attempt began; `None`: the budget is spent, give up. The last wait is cut
    /// so the final attempt happens when the budget ends, not after.
    pub fn next_delay(&self, failures: u32, elapsed: Duration) -> Option<Duration> {
        if elapsed >= self.budget {
            return None;
        }
        let doublings = failures.saturating_sub(1).min(30);
        let backoff = self.first.saturating_mul(1u32 << doublings);
        Some(backoff.min(self.max_delay).min(self.budget - elapsed))
    }
}

/// Run `attempt` until it succeeds or `policy` gives up; each failure is logged with `what`.
/// The final error reads "`what`: cause (gave up after N attempts over S s)".
pub async fn retry<T, E, F, Fut>(
    what: &str,
    policy: RetryPolicy,
    mut attempt: F,
) -> anyhow::Result<T>
where
    E: Display,
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, E>>,
{
    let started = tokio::time::Instant::now();
    let mut failures = 0u32;
    loop {
        match attempt().await {
            Ok(v) => {
                if failures > 0 {
                    tracing::info!(what, failures, "start-up read succeeded after retrying");
                }
                return Ok(v);
            }
            Err(e) => {
                failures += 1;
                let elapsed = started.elapsed();
                match policy.next_delay(failures, elapsed) {
                    Some(wait) => {
                        tracing::warn!(what, error = %e, attempt = failures, retry_in = ?wait,
                            "start-up read failed; retrying");
                        tokio::time::sleep(wait).await;
                    }
                    None => {
                        return Err(anyhow::anyhow!(
                            "{what}: {e} (gave up after {failures} attempts over {:.1} s; \
                             [server] startup_retry_secs = {})",
                            elapsed.as_secs_f64(),
                            policy.budget.as_secs()
                        ))
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;

    const MS: Duration = Duration::from_millis(1);

    fn policy(budget_ms: u32) -> RetryPolicy {
        RetryPolicy {
            first: 10 * MS,
            max_delay: 40 * MS,
            budget: budget_ms * MS,
        }
    }

    #[test]
    fn backoff_doubles_up_to_the_cap_and_stops_at_the_budget() {
        let p = policy(1000);
        let waits: Vec<_> = (1..=5).map(|n| p.next_delay(n, Duration::ZERO)).collect();
        assert_eq!(
            waits,
            [
                Some(10 * MS),
                Some(20 * MS),
                Some(40 * MS),
                Some(40 * MS),
                Some(40 * MS)
            ]
        );
        assert_eq!(
            p.next_delay(3, 990 * MS),
            Some(10 * MS),
            "cut to the budget"
        );
        assert_eq!(p.next_delay(3, 1000 * MS), None);
        assert_eq!(
            p.next_delay(u32::MAX, Duration::ZERO),
            Some(40 * MS),
            "no overflow"
        );
    }

    #[tokio::test]
    async fn a_read_that_recovers_within_the_budget_is_returned() {
        let calls = Cell::new(0);
        let got = retry("stored things", policy(1000), || {
            calls.set(calls.get() + 1);
            let n = calls.get();
            async move {
                if n < 3 {
                    Err("database is switching over")
                } else {
                    Ok(n)
                }
            }
        })
        .await
        .unwrap();
        assert_eq!(got, 3);
    }

    #[tokio::test]
    async fn a_read_that_keeps_failing_gives_up_after_the_budget_naming_what_and_why() {
        let started = std::time::Instant::now();
        let calls = Cell::new(0u32);
        let err = retry("stored registrations", policy(100), || {
            calls.set(calls.get() + 1);
            async { Err::<(), _>("no such table: registrations") }
        })
        .await
        .unwrap_err()
        .to_string();
        assert!(started.elapsed() >= 100 * MS, "kept trying for the budget");
        assert!(calls.get() >= 3, "retried: {} attempts", calls.get());
        assert!(
            err.starts_with("stored registrations: no such table: registrations (gave up after"),
            "{err}"
        );
    }
}
