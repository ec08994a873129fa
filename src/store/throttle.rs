//! Failed-login throttling. Keyed by what the web layer chooses, e.g. `username|client-ip`, so
//! a stranger hammering one account from elsewhere slows down only themselves: a throttle, not
//! a lockout anyone could trigger. Success clears the key.
//!
//! Web logins use [`Store::record_login_attempt`]: every attempt is counted *before* the
//! password hash is checked, on three counters ([`LoginKeys`]: user and address, user, address).

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

/// The three counters one web login attempt is charged to (keys of `login_throttle`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoginKeys {
    /// This user from this address: someone guessing one account's password.
    pub pair: String,
    /// This user from anywhere: guessing spread over many addresses.
    pub user: String,
    /// This address for any user: one password sprayed over many accounts.
    pub addr: String,
}

impl LoginKeys {
    /// Keys for `username` from `addr` (an IPv6 address counts as its /64: one subscriber).
    pub fn new(username: &str, addr: std::net::IpAddr) -> LoginKeys {
        let addr = match addr {
            std::net::IpAddr::V6(v6) if v6.to_ipv4_mapped().is_none() => {
                let s = v6.segments();
                format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
            }
            std::net::IpAddr::V6(v6) => v6.to_canonical().to_string(),
            a => a.to_string(),
        };
        // Distinct prefixes (and the free-form name last) so no key of one kind can spell
        // a key of another.
        LoginKeys {
            pair: format!("pair {addr} {username}"),
            user: format!("user {username}"),
            addr: format!("addr {addr}"),
        }
    }
}

/// The policies for [`LoginKeys`].
#[derive(Debug, Clone)]
pub struct LoginThrottle {
    pub pair: ThrottlePolicy,
    pub user: ThrottlePolicy,
    pub addr: ThrottlePolicy,
}

impl Default for LoginThrottle {
    fn default() -> Self {
        LoginThrottle {
            // One account from one place: a few typos, then 1 s, 2 s, 4 s ... up to 5 min.
            pair: ThrottlePolicy::default(),
            // One account from everywhere: generous (anyone can push it), short delays.
            user: ThrottlePolicy {
                free_failures: 50,
                window_ms: 15 * 60_000,
                block_ms: 1_000,
                max_block_ms: 60_000,
            },
            // One address over many accounts (an office behind one NAT shares it): only
            // attempts that passed their own account's counter count here.
            addr: ThrottlePolicy {
                free_failures: 20,
                window_ms: 15 * 60_000,
                block_ms: 1_000,
                max_block_ms: 5 * 60_000,
            },
        }
    }
}

/// Count one attempt on `$key` inside the open transaction `$tx`; evaluates to the blocked-until
/// time the key had *before* this attempt (0 when not blocked).
macro_rules! bump {
    ($tx:ident, $key:expr, $policy:expr, $now:expr) => {{
        let key: &str = $key;
        let policy: &ThrottlePolicy = $policy;
        let now: i64 = $now;
        let row = sqlx::query(
            "INSERT INTO login_throttle (key, failures, window_start_ms, blocked_until_ms) \
             VALUES ($1, 1, $2, 0) ON CONFLICT (key) DO UPDATE SET \
             failures = CASE WHEN $2 - login_throttle.window_start_ms < $3 \
                 THEN login_throttle.failures + 1 ELSE 1 END, \
             window_start_ms = CASE WHEN $2 - login_throttle.window_start_ms < $3 \
                 THEN login_throttle.window_start_ms ELSE $2 END \
             RETURNING failures, blocked_until_ms",
        )
        .bind(key)
        .bind(now)
        .bind(policy.window_ms)
        .fetch_one(&mut *$tx)
        .await?;
        let failures = row.int("failures")?;
        let before = row.int("blocked_until_ms")?;
        let until = policy.blocked_until(failures, now);
        if until > before {
            sqlx::query("UPDATE login_throttle SET blocked_until_ms = $2 WHERE key = $1")
                .bind(key)
                .bind(until)
                .execute(&mut *$tx)
                .await?;
        }
        if before > now {
            before
        } else {
            0
        }
    }};
}

impl Store {
    /// Charge a login attempt to its counters *before* the password is checked, atomically (one
    /// transaction; the rows stay locked until it commits), so parallel attempts are each
    /// counted and none slips past a limit while another is hashing. Counted as a failure
    /// until [`Store::login_succeeded`] forgives it.
    ///
    /// Returns until when the attempt must wait (refuse it without checking the password), if
    /// it must. An address already blocked is charged only on its own counter, so a blocked
    /// source cannot create rows for new names; the address counter is charged only by attempts
    /// its account counters let through (one user's retries do not block their office).
    pub async fn record_login_attempt(
        &self,
        keys: &LoginKeys,
        policy: &LoginThrottle,
        now_ms: i64,
    ) -> Result<Option<i64>> {
        let purge = rand::random::<u8>() == 0;
        with_pool!(&self.db, |pool| {
            let mut tx = pool.begin_write().await?;
            let addr_row =
                sqlx::query("SELECT blocked_until_ms FROM login_throttle WHERE key = $1")
                    .bind(&keys.addr)
                    .fetch_optional(&mut *tx)
                    .await?;
            let addr_until = match addr_row {
                Some(r) => r.int("blocked_until_ms")?,
                None => 0,
            };
            let blocked = if addr_until > now_ms {
                bump!(tx, &keys.addr, &policy.addr, now_ms)
            } else {
                let pair = bump!(tx, &keys.pair, &policy.pair, now_ms);
                let user = bump!(tx, &keys.user, &policy.user, now_ms);
                if pair.max(user) > now_ms {
                    pair.max(user)
                } else {
                    bump!(tx, &keys.addr, &policy.addr, now_ms)
                }
            };
            if purge {
                // Forget counters whose window ended and that block nothing any more.
                let horizon = now_ms
                    - policy
                        .pair
                        .window_ms
                        .max(policy.user.window_ms)
                        .max(policy.addr.window_ms);
                sqlx::query(
                    "DELETE FROM login_throttle WHERE window_start_ms < $1 AND blocked_until_ms < $2",
                )
                .bind(horizon)
                .bind(now_ms)
                .execute(&mut *tx)
                .await?;
            }
            tx.commit().await?;
            Ok((blocked > now_ms).then_some(blocked))
        })
    }

    /// The password was right: forget the account's counters and take this attempt back off the
    /// address's (which is not cleared: a sprayer who knows one password must not reset it).
    pub async fn login_succeeded(&self, keys: &LoginKeys, policy: &LoginThrottle) -> Result<()> {
        with_pool!(&self.db, |pool| {
            let mut tx = pool.begin_write().await?;
            sqlx::query("DELETE FROM login_throttle WHERE key = $1 OR key = $2")
                .bind(&keys.pair)
                .bind(&keys.user)
                .execute(&mut *tx)
                .await?;
            sqlx::query(
                "UPDATE login_throttle SET failures = failures - 1, blocked_until_ms = \
                 CASE WHEN failures - 1 <= $2 THEN 0 ELSE blocked_until_ms END \
                 WHERE key = $1 AND failures > 0",
            )
            .bind(&keys.addr)
            .bind(i64::from(policy.addr.free_failures))
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
        });
        Ok(())
    }

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

    async fn failures(s: &Store, key: &str) -> i64 {
        with_pool!(&s.db, |pool| {
            sqlx::query("SELECT failures FROM login_throttle WHERE key = $1")
                .bind(key)
                .fetch_optional(pool)
                .await
                .unwrap()
                .map(|r| r.int("failures").unwrap())
                .unwrap_or(0)
        })
    }

    /// Issue 14 row 6: the throttle was checked before the slow hash and recorded after it, so
    /// 40 parallel wrong logins were all let through to the password check.
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn parallel_attempts_are_each_counted_before_any_password_check() {
        for t in test_stores("throttle_parallel").await {
            let s = &t.store;
            let keys = LoginKeys::new("agent1", "203.0.113.9".parse().unwrap());
            let policy = LoginThrottle::default();
            let tasks: Vec<_> = (0..40)
                .map(|_| {
                    let (s, keys, policy) = (s.clone(), keys.clone(), policy.clone());
                    tokio::spawn(async move {
                        s.record_login_attempt(&keys, &policy, 10_000)
                            .await
                            .unwrap()
                    })
                })
                .collect();
            let mut let_through = 0;
            for task in tasks {
                if task.await.unwrap().is_none() {
                    let_through += 1;
                }
            }
            // 5 free failures, then the 6th (which sets the first delay); the rest wait.
            assert_eq!(let_through, 6, "{}", t.label);
            assert_eq!(
                failures(s, &keys.pair).await,
                40,
                "each counted: {}",
                t.label
            );
            // The 41st, even with the right password, waits.
            assert!(s
                .record_login_attempt(&keys, &policy, 10_001)
                .await
                .unwrap()
                .is_some());
            // Only attempts the account counters let through reach the address counter.
            assert_eq!(failures(s, &keys.addr).await, 6, "{}", t.label);
            t.finish().await;
        }
    }

    /// Issue 14 row 6: the throttle was keyed by user and address only, so one password tried
    /// on 30 users from one address was never slowed down.
    #[tokio::test]
    async fn one_password_sprayed_over_many_users_is_throttled_per_address() {
        for t in test_stores("throttle_spray").await {
            let s = &t.store;
            let policy = LoginThrottle::default();
            let addr: std::net::IpAddr = "198.51.100.7".parse().unwrap();
            let mut outcomes = Vec::new();
            for i in 0..30 {
                let keys = LoginKeys::new(&format!("user{i}"), addr);
                outcomes.push(
                    s.record_login_attempt(&keys, &policy, 1_000 + i)
                        .await
                        .unwrap(),
                );
            }
            let free = policy.addr.free_failures as usize + 1;
            assert!(outcomes[..free].iter().all(Option::is_none), "{}", t.label);
            assert!(
                outcomes[free..].iter().all(Option::is_some),
                "{}: {outcomes:?}",
                t.label
            );
            // A blocked address creates no rows for further names.
            let before = failures(s, "user user29").await;
            let keys = LoginKeys::new("brand-new-name", addr);
            assert!(s
                .record_login_attempt(&keys, &policy, 2_000)
                .await
                .unwrap()
                .is_some());
            assert_eq!(failures(s, &keys.user).await, 0, "{}", t.label);
            assert_eq!(before, 0, "user29 was refused at the address");
            // Another address is not affected.
            let other = LoginKeys::new("user1", "192.0.2.1".parse().unwrap());
            assert_eq!(
                s.record_login_attempt(&other, &policy, 2_000)
                    .await
                    .unwrap(),
                None
            );
            t.finish().await;
        }
    }

    #[tokio::test]
    async fn a_right_password_clears_the_account_and_takes_its_attempt_off_the_address() {
        for t in test_stores("throttle_success").await {
            let s = &t.store;
            let policy = LoginThrottle::default();
            let keys = LoginKeys::new("ann", "192.0.2.5".parse().unwrap());
            for i in 0..3 {
                s.record_login_attempt(&keys, &policy, 1_000 + i)
                    .await
                    .unwrap();
            }
            s.login_succeeded(&keys, &policy).await.unwrap();
            assert_eq!(failures(s, &keys.pair).await, 0, "{}", t.label);
            assert_eq!(failures(s, &keys.user).await, 0, "{}", t.label);
            assert_eq!(failures(s, &keys.addr).await, 2, "{}", t.label);
            // Successful logins never add up on the address (an office behind one NAT).
            for i in 0..100 {
                let k = LoginKeys::new(&format!("agent{i}"), "192.0.2.5".parse().unwrap());
                assert_eq!(
                    s.record_login_attempt(&k, &policy, 2_000 + i)
                        .await
                        .unwrap(),
                    None
                );
                s.login_succeeded(&k, &policy).await.unwrap();
            }
            assert_eq!(failures(s, &keys.addr).await, 2, "{}", t.label);
            t.finish().await;
        }
    }

    #[test]
    fn keys_of_different_kinds_never_collide_and_ipv6_counts_per_64() {
        let a = LoginKeys::new("addr 1.2.3.4", "1.2.3.4".parse().unwrap());
        assert_ne!(a.user, a.addr);
        let x = LoginKeys::new("u", "2001:db8:1:2:aaaa::1".parse().unwrap());
        let y = LoginKeys::new("u", "2001:db8:1:2:bbbb::9".parse().unwrap());
        assert_eq!(x, y);
        let m = LoginKeys::new("u", "::ffff:192.0.2.1".parse().unwrap());
        assert_eq!(m, LoginKeys::new("u", "192.0.2.1".parse().unwrap()));
    }

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
