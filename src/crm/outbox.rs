//! Delivering call outcomes to the external CRM.
//!
//! [`super::Crm::save`] writes the interaction and, with `provider = "http"`, an outbox row in
//! the same transaction, so an outcome is never lost to a CRM outage or a restart. The task
//! started by [`spawn_outbox`] posts due rows (`POST /interactions`, `Idempotency-Key:
//! <interaction id>`) one at a time, oldest first, and marks each delivered once the CRM
//! accepted it:
//!
//! - a failed row is retried after 1 s, doubling per attempt up to 60 s (`attempts` and
//!   `next_attempt_ms` are kept in the row, so the backoff survives a restart);
//! - while the CRM is failing (no answer, 5xx) the rest of the batch waits too, and while the
//!   circuit breaker is open nothing is sent until it lets a trial through;
//! - a row the CRM refuses (e.g. 400) waits its own backoff without holding up the others.
//!
//! Exactly once from our side: one task, one row at a time, and a row is posted again only if
//! no acceptance was recorded. If the CRM's answer is lost (timeout) or recording it fails, the
//! retry carries the same Idempotency-Key, so the CRM must treat it as the same outcome.

use super::http::HttpCrm;
use super::Crm;
use crate::events::now_ms;
use std::future::Future;
use std::time::{Duration, Instant};
use tokio::task::JoinHandle;

/// Timing of the outbox task; [`OutboxConfig::default`] is what the server uses.
#[derive(Debug, Clone)]
pub struct OutboxConfig {
    /// Delay after a row's first failed attempt; doubles per attempt…
    pub first_retry: Duration,
    /// …up to this.
    pub max_retry: Duration,
    /// How often to look for due rows when nothing wakes the task.
    pub poll: Duration,
    /// Rows fetched per pass.
    pub batch: i64,
}

impl Default for OutboxConfig {
    fn default() -> Self {
        OutboxConfig {
            first_retry: Duration::from_secs(1),
            max_retry: Duration::from_secs(60),
            poll: Duration::from_secs(1),
            batch: 50,
        }
    }
}

impl OutboxConfig {
    /// Wait before the next attempt of a row that has failed `attempts` times so far
    /// (`first_retry` after the first failure, doubling, at most `max_retry`).
    pub fn retry_delay(&self, attempts: i64) -> Duration {
        let doublings = u32::try_from(attempts.saturating_sub(1).max(0))
            .unwrap_or(u32::MAX)
            .min(30);
        self.first_retry
            .saturating_mul(1u32 << doublings)
            .min(self.max_retry)
    }
}

/// Start delivering the outbox of `crm` until `shutdown` completes (a row being posted at that
/// moment is finished first). Returns at once when the provider is not `http`.
pub fn spawn_outbox<F>(crm: Crm, shutdown: F) -> JoinHandle<()>
where
    F: Future<Output = ()> + Send + 'static,
{
    spawn_outbox_with(crm, OutboxConfig::default(), shutdown)
}

/// [`spawn_outbox`] with explicit timing (tests use short delays).
pub fn spawn_outbox_with<F>(crm: Crm, cfg: OutboxConfig, shutdown: F) -> JoinHandle<()>
where
    F: Future<Output = ()> + Send + 'static,
{
    tokio::spawn(async move {
        let Some(http) = crm.http().cloned() else {
            return;
        };
        let wake = crm.outbox_wake();
        tokio::pin!(shutdown);
        let mut pause = Duration::ZERO;
        let mut failing_passes: i64 = 0;
        loop {
            let healthy = failing_passes == 0;
            tokio::select! {
                _ = &mut shutdown => break,
                _ = tokio::time::sleep(pause) => {}
                // A new outcome: deliver it now, unless the CRM is failing anyway.
                _ = wake.notified(), if healthy => {}
            }
            pause = match pass(&crm, &http, &cfg).await {
                Pass::More => Duration::ZERO,
                Pass::Idle => {
                    failing_passes = 0;
                    cfg.poll
                }
                Pass::Failing => {
                    failing_passes += 1;
                    cfg.retry_delay(failing_passes)
                }
                Pass::BreakerOpen(wait) => {
                    failing_passes = failing_passes.max(1);
                    wait.max(Duration::from_millis(10))
                }
            };
        }
        tracing::debug!("CRM outbox stopped");
    })
}

enum Pass {
    /// A full batch went out: there may be more due.
    More,
    /// Nothing (more) due.
    Idle,
    /// The CRM (or our database) is failing; wait before the next pass.
    Failing,
    /// The breaker is open for this long.
    BreakerOpen(Duration),
}

async fn pass(crm: &Crm, http: &HttpCrm, cfg: &OutboxConfig) -> Pass {
    let wait = http.breaker_wait(Instant::now());
    if !wait.is_zero() {
        return Pass::BreakerOpen(wait);
    }
    let store = crm.store();
    let due = match store.outbox_due(now_ms(), cfg.batch).await {
        Ok(d) => d,
        Err(e) => {
            tracing::warn!(error = %e, "CRM outbox: cannot read due outcomes");
            return Pass::Failing;
        }
    };
    let full = i64::try_from(due.len()).unwrap_or(i64::MAX) >= cfg.batch;
    for item in due {
        match http
            .post_interaction(&item.interaction_id, &item.payload)
            .await
        {
            Ok(()) => {
                if let Err(e) = store.outbox_delivered(&item.interaction_id, now_ms()).await {
                    // It will be posted again; the Idempotency-Key makes that harmless.
                    tracing::warn!(error = %e, interaction = %item.interaction_id,
                        "CRM outbox: delivered, but recording it failed");
                    return Pass::Failing;
                }
                tracing::debug!(interaction = %item.interaction_id, "CRM outbox: delivered");
            }
            Err(e) if e.is_breaker_open() => {
                return Pass::BreakerOpen(http.breaker_wait(Instant::now()));
            }
            Err(e) => {
                let attempts = item.attempts + 1;
                let delay = cfg.retry_delay(attempts);
                let next = now_ms() + i64::try_from(delay.as_millis()).unwrap_or(i64::MAX / 2);
                tracing::warn!(error = %e, interaction = %item.interaction_id, attempts,
                    retry_in = ?delay, "CRM outbox: delivery failed");
                if let Err(e) = store
                    .outbox_failed(&item.interaction_id, next, &e.to_string())
                    .await
                {
                    tracing::warn!(error = %e, "CRM outbox: cannot record the failure");
                    return Pass::Failing;
                }
                if e.is_outage() {
                    return Pass::Failing;
                }
            }
        }
    }
    if full {
        Pass::More
    } else {
        Pass::Idle
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_delay_doubles_from_one_second_to_a_minute() {
        let c = OutboxConfig::default();
        let secs: Vec<u64> = (1..=8).map(|a| c.retry_delay(a).as_secs()).collect();
        assert_eq!(secs, [1, 2, 4, 8, 16, 32, 60, 60]);
        assert_eq!(c.retry_delay(0), Duration::from_secs(1));
        assert_eq!(c.retry_delay(i64::MAX), Duration::from_secs(60));
    }
}
