//! Failed-login throttling. Keyed by what the web layer chooses, e.g. `username|client-ip`, so
//! a stranger hammering one account from elsewhere slows down only themselves: a throttle, not
//! a lockout anyone could trigger. Success clears the key.

use super::backend::{with_pool, BeginWrite, RowExt};
use super::error::Result;
use super::Store;

/// When failures start to cost time.
#[derive(Debug, Clone)]
pub struct ThrottlePolicy {
    /// Failures allowed within `window_ms` before a delay applies.
    pub free_failures: u32,
    pub window_ms: i64,
    /// First delay; doubles with each further failure up to `max_block_ms`.
    pub block_ms: i64,
    pub max_block_ms: i64,
}

impl Default for ThrottlePolicy {
    fn default() -> Self {
        ThrottlePolicy {
            free_failures: 5,
            window_ms: 15 * 60_000,
            block_ms: 1_000,
            max_block_ms: 5 * 60_000,
        }
    }
}

impl ThrottlePolicy {
    /// Blocked-until time after `failures` failures ending at `now_ms` (0 = not blocked).
    fn blocked_until(&self, failures: i64, now_ms: i64) -> i64 {
        let over = failures - i64::from(self.free_failures);
        if over <= 0 {
            return 0;
        }
        let factor = 1i64
            .checked_shl((over - 1).min(30) as u32)
            .unwrap_or(i64::MAX);
        now_ms.saturating_add(self.block_ms.saturating_mul(factor).min(self.max_block_ms))
    }
}

impl Store {
    /// Until when `key` must wait before trying again, if it must.
    pub async fn login_blocked_until(&self, key: &str, now_ms: i64) -> Result<Option<i64>> {
        with_pool!(&self.db, |pool| {
            let row = sqlx::query("SELECT blocked_until_ms FROM login_throttle WHERE key = $1")
                .bind(key)
                .fetch_optional(pool)
                .await?;
            let until = match row {
                Some(r) => r.int("blocked_until_ms")?,
                None => 0,
            };
            Ok((until > now_ms).then_some(until))
        })
    }

    /// Count a failed login for `key`; returns until when it is now blocked, if it is.
    pub async fn record_login_failure(
        &self,
        key: &str,
        now_ms: i64,
        policy: &ThrottlePolicy,
    ) -> Result<Option<i64>> {
        with_pool!(&self.db, |pool| {
            let mut tx = pool.begin_write().await?;
            let row =
                sqlx::query("SELECT failures, window_start_ms FROM login_throttle WHERE key = $1")
                    .bind(key)
                    .fetch_optional(&mut *tx)
                    .await?;
            let (failures, start) = match row {
                Some(r) if now_ms - r.int("window_start_ms")? < policy.window_ms => {
                    (r.int("failures")? + 1, r.int("window_start_ms")?)
                }
                _ => (1, now_ms),
            };
            let until = policy.blocked_until(failures, now_ms);
            sqlx::query(
                "INSERT INTO login_throttle (key, failures, window_start_ms, blocked_until_ms) \
                 VALUES ($1, $2, $3, $4) ON CONFLICT (key) DO UPDATE SET \
                 failures = excluded.failures, window_start_ms = excluded.window_start_ms, \
                 blocked_until_ms = excluded.blocked_until_ms",
            )
            .bind(key)
            .bind(failures)
            .bind(start)
            .bind(until)
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            Ok((until > now_ms).then_some(until))
        })
    }

    /// Forget failures for `key` (after a successful login).
    pub async fn clear_login_failures(&self, key: &str) -> Result<()> {
        with_pool!(&self.db, |pool| {
            sqlx::query("DELETE FROM login_throttle WHERE key = $1")
                .bind(key)
                .execute(pool)
                .await?;
        });
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::test_stores;
    use super::*;

    #[tokio::test]
    async fn repeated_failures_slow_down_one_key_and_success_clears_it() {
        for t in test_stores("throttle").await {
            let s = &t.store;
            let p = ThrottlePolicy {
                free_failures: 3,
                window_ms: 60_000,
                block_ms: 1_000,
                max_block_ms: 4_000,
            };
            let key = "alice|203.0.113.9";
            for i in 0..3 {
                assert_eq!(
                    s.record_login_failure(key, 1_000 + i, &p).await.unwrap(),
                    None,
                    "{}",
                    t.label
                );
            }
            assert_eq!(
                s.record_login_failure(key, 2_000, &p).await.unwrap(),
                Some(3_000)
            );
            assert_eq!(
                s.record_login_failure(key, 3_000, &p).await.unwrap(),
                Some(5_000)
            );
            assert_eq!(
                s.record_login_failure(key, 5_000, &p).await.unwrap(),
                Some(9_000),
                "capped doubling"
            );
            assert_eq!(
                s.login_blocked_until(key, 6_000).await.unwrap(),
                Some(9_000)
            );
            assert_eq!(s.login_blocked_until(key, 9_000).await.unwrap(), None);
            // Another source for the same user is not blocked.
            assert_eq!(
                s.login_blocked_until("alice|198.51.100.1", 6_000)
                    .await
                    .unwrap(),
                None
            );
            // Window over: counting starts again.
            assert_eq!(
                s.record_login_failure(key, 200_000, &p).await.unwrap(),
                None,
                "{}",
                t.label
            );
            s.clear_login_failures(key).await.unwrap();
            assert_eq!(s.login_blocked_until(key, 0).await.unwrap(), None);
            t.finish().await;
        }
    }
}
