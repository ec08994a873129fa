//! HTTP login sessions. The cookie carries a random token; only its SHA-256 is stored, so a
//! leaked database does not log anyone in.

use super::backend::{with_pool, RowExt};
use super::crypto::{random_hex, sha256_hex};
use super::error::Result;
use super::Store;

/// A live login session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    pub user_id: String,
    pub created_ms: i64,
    pub expires_ms: i64,
}

fn token_hash(token: &str) -> String {
    sha256_hex(token.as_bytes())
}

impl Store {
    /// Start a session for `user_id` lasting `ttl_ms`. Returns the token for the cookie (shown
    /// once, never stored) and the session.
    pub async fn create_session(
        &self,
        user_id: &str,
        now_ms: i64,
        ttl_ms: i64,
    ) -> Result<(String, Session)> {
        let token = random_hex(32);
        let session = Session {
            user_id: user_id.to_string(),
            created_ms: now_ms,
            expires_ms: now_ms.saturating_add(ttl_ms),
        };
        with_pool!(&self.db, |pool| {
            sqlx::query(
                "INSERT INTO sessions (token_hash, user_id, created_ms, expires_ms) \
                 VALUES ($1, $2, $3, $4)",
            )
            .bind(token_hash(&token))
            .bind(&session.user_id)
            .bind(session.created_ms)
            .bind(session.expires_ms)
            .execute(pool)
            .await?;
        });
        Ok((token, session))
    }

    /// The session a cookie token names, if it exists and has not expired at `now_ms`.
    pub async fn session(&self, token: &str, now_ms: i64) -> Result<Option<Session>> {
        with_pool!(&self.db, |pool| {
            let row = sqlx::query(
                "SELECT user_id, created_ms, expires_ms FROM sessions \
                 WHERE token_hash = $1 AND expires_ms > $2",
            )
            .bind(token_hash(token))
            .bind(now_ms)
            .fetch_optional(pool)
            .await?;
            match row {
                Some(r) => Ok(Some(Session {
                    user_id: r.text("user_id")?,
                    created_ms: r.int("created_ms")?,
                    expires_ms: r.int("expires_ms")?,
                })),
                None => Ok(None),
            }
        })
    }

    /// Log out one session. True if it existed.
    pub async fn delete_session(&self, token: &str) -> Result<bool> {
        with_pool!(&self.db, |pool| {
            let done = sqlx::query("DELETE FROM sessions WHERE token_hash = $1")
                .bind(token_hash(token))
                .execute(pool)
                .await?;
            Ok(done.rows_affected() > 0)
        })
    }

    /// Log a user out everywhere (e.g. after a password change). Returns how many sessions.
    pub async fn delete_user_sessions(&self, user_id: &str) -> Result<u64> {
        with_pool!(&self.db, |pool| {
            let done = sqlx::query("DELETE FROM sessions WHERE user_id = $1")
                .bind(user_id)
                .execute(pool)
                .await?;
            Ok(done.rows_affected())
        })
    }

    /// Delete sessions expired at `now_ms`. Returns how many.
    pub async fn purge_expired_sessions(&self, now_ms: i64) -> Result<u64> {
        with_pool!(&self.db, |pool| {
            let done = sqlx::query("DELETE FROM sessions WHERE expires_ms <= $1")
                .bind(now_ms)
                .execute(pool)
                .await?;
            Ok(done.rows_affected())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::test_stores;
    use super::super::users::{NewUser, Role};

    #[tokio::test]
    async fn a_session_works_until_it_expires_or_is_deleted() {
        for t in test_stores("sessions").await {
            let s = &t.store;
            let new = NewUser {
                username: "sup",
                display_name: "Sue",
                role: Role::Supervisor,
                password: "pw",
                sip_realms: &[],
            };
            let user = s.create_user(&new, 0).await.unwrap();
            let (token, session) = s.create_session(&user.id, 1_000, 60_000).await.unwrap();
            let (other, _) = s.create_session(&user.id, 1_000, 1_000).await.unwrap();
            assert_ne!(token, other);
            assert_eq!(
                s.session(&token, 30_000).await.unwrap(),
                Some(session.clone()),
                "{}",
                t.label
            );
            assert_eq!(s.session("forged", 30_000).await.unwrap(), None);
            assert_eq!(
                s.session(&token, 61_000).await.unwrap(),
                None,
                "expired: {}",
                t.label
            );
            assert_eq!(
                s.purge_expired_sessions(30_000).await.unwrap(),
                1,
                "only the short one: {}",
                t.label
            );
            assert!(s.delete_session(&token).await.unwrap());
            assert_eq!(s.session(&token, 2_000).await.unwrap(), None);
            s.create_session(&user.id, 1_000, 60_000).await.unwrap();
            assert_eq!(s.delete_user_sessions(&user.id).await.unwrap(), 1);
            t.finish().await;
        }
    }
}
