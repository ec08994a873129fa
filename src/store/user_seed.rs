//! Users defined in `config/users.toml` (already hashed) written into the database, so that
//! sessions and audit rows can refer to them. The file is authoritative: a user removed from it
//! is disabled at the next start (row kept for the audit trail) and logged out everywhere, and a
//! changed password hash ends every session of that user.

use super::backend::{with_pool, BeginWrite, RowExt};
use super::error::Result;
use super::users::Role;
use super::Store;

/// A user as read from the users file: hashes only, never a password.
#[derive(Debug, Clone)]
pub struct HashedUser {
    pub username: String,
    pub display_name: String,
    pub role: Role,
    pub password_hash: String,
    /// (realm, algorithm `MD5`/`SHA-256`, HA1)
    pub sip_ha1: Vec<(String, &'static str, String)>,
}

impl Store {
    /// Insert or update a user by username; their SIP credentials are replaced. A new password
    /// hash logs the user out everywhere.
    pub async fn upsert_user_hashed(&self, u: &HashedUser, now_ms: i64) -> Result<()> {
        let id = format!("u-{}", u.username);
        with_pool!(&self.db, |pool| {
            let mut tx = pool.begin_write().await?;
            let before = sqlx::query("SELECT id, password_hash FROM users WHERE username = $1")
                .bind(&u.username)
                .fetch_optional(&mut *tx)
                .await?;
            if let Some(row) = before {
                if row.text("password_hash")? != u.password_hash {
                    let ended = sqlx::query("DELETE FROM sessions WHERE user_id = $1")
                        .bind(row.text("id")?)
                        .execute(&mut *tx)
                        .await?
                        .rows_affected();
                    tracing::info!(user = %u.username, sessions = ended,
                        "password changed in the users file: sessions ended");
                }
            }
            sqlx::query(
                "INSERT INTO users (id, username, display_name, role, password_hash, created_ms) \
                 VALUES ($1, $2, $3, $4, $5, $6) \
                 ON CONFLICT (username) DO UPDATE SET display_name = excluded.display_name, \
                 role = excluded.role, password_hash = excluded.password_hash, disabled_ms = NULL",
            )
            .bind(&id)
            .bind(&u.username)
            .bind(&u.display_name)
            .bind(u.role.as_str())
            .bind(&u.password_hash)
            .bind(now_ms)
            .execute(&mut *tx)
            .await?;
            sqlx::query(
                "DELETE FROM sip_credentials WHERE user_id = (SELECT id FROM users WHERE username = $1)",
            )
            .bind(&u.username)
            .execute(&mut *tx)
            .await?;
            for (realm, alg, ha1) in &u.sip_ha1 {
                sqlx::query(
                    "INSERT INTO sip_credentials (user_id, realm, algorithm, ha1) \
                     SELECT id, $2, $3, $4 FROM users WHERE username = $1",
                )
                .bind(&u.username)
                .bind(realm)
                .bind(*alg)
                .bind(ha1)
                .execute(&mut *tx)
                .await?;
            }
            tx.commit().await?;
        });
        Ok(())
    }

    /// After seeding from the users file: disable every user the file once named (id `u-…`)
    /// but names no more, and end their sessions. Returns the usernames disabled now. Re-adding
    /// a user to the file enables them again ([`Store::upsert_user_hashed`]).
    pub async fn retire_unlisted_users(&self, listed: &[&str], now_ms: i64) -> Result<Vec<String>> {
        let listed: std::collections::HashSet<&str> = listed.iter().copied().collect();
        with_pool!(&self.db, |pool| {
            let mut tx = pool.begin_write().await?;
            let rows = sqlx::query(
                "SELECT id, username, disabled_ms FROM users WHERE id LIKE 'u-%' ORDER BY username",
            )
            .fetch_all(&mut *tx)
            .await?;
            let mut retired = Vec::new();
            for r in &rows {
                let username = r.text("username")?;
                if listed.contains(username.as_str()) {
                    continue;
                }
                let id = r.text("id")?;
                // Sessions go even when already disabled (nothing should have survived).
                sqlx::query("DELETE FROM sessions WHERE user_id = $1")
                    .bind(&id)
                    .execute(&mut *tx)
                    .await?;
                if r.opt_int("disabled_ms")?.is_none() {
                    sqlx::query("UPDATE users SET disabled_ms = $2 WHERE id = $1")
                        .bind(&id)
                        .bind(now_ms)
                        .execute(&mut *tx)
                        .await?;
                    retired.push(username);
                }
            }
            tx.commit().await?;
            Ok(retired)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::test_stores;
    use super::*;

    fn seeded(name: &str, hash: &str) -> HashedUser {
        HashedUser {
            username: name.into(),
            display_name: name.into(),
            role: Role::Agent,
            password_hash: hash.into(),
            sip_ha1: vec![],
        }
    }

    /// Issue 14 row 11: a user removed from users.toml kept web login and sessions, and a
    /// password change ended no session.
    #[tokio::test]
    async fn removed_users_are_disabled_and_a_new_password_ends_sessions() {
        for t in test_stores("user_seed_retire").await {
            let s = &t.store;
            for u in ["ann", "bob", "cat"] {
                s.upsert_user_hashed(&seeded(u, "$argon2id$old"), 1)
                    .await
                    .unwrap();
            }
            let mut tokens = std::collections::HashMap::new();
            for u in ["ann", "bob", "cat"] {
                let (tok, _) = s
                    .create_session(&format!("u-{u}"), 1, 60_000)
                    .await
                    .unwrap();
                tokens.insert(u, tok);
            }
            // Restart with the same file: nothing changes.
            s.upsert_user_hashed(&seeded("ann", "$argon2id$old"), 2)
                .await
                .unwrap();
            assert!(
                s.session(&tokens["ann"], 3).await.unwrap().is_some(),
                "{}",
                t.label
            );
            // Restart: bob's password changed, cat removed from the file.
            s.upsert_user_hashed(&seeded("bob", "$argon2id$new"), 2)
                .await
                .unwrap();
            let gone = s.retire_unlisted_users(&["ann", "bob"], 2).await.unwrap();
            assert_eq!(gone, ["cat"], "{}", t.label);
            assert!(s.session(&tokens["ann"], 3).await.unwrap().is_some());
            assert_eq!(
                s.session(&tokens["bob"], 3).await.unwrap(),
                None,
                "{}",
                t.label
            );
            assert_eq!(
                s.session(&tokens["cat"], 3).await.unwrap(),
                None,
                "{}",
                t.label
            );
            let cat = s.user_by_username("cat").await.unwrap().unwrap();
            assert_eq!(cat.disabled_ms, Some(2), "{}", t.label);
            // Users not from the file (created otherwise) are left alone.
            let other = s
                .create_user(
                    &super::super::users::NewUser {
                        username: "ops",
                        display_name: "Ops",
                        role: Role::Admin,
                        password: "pw",
                        sip_realms: &[],
                    },
                    1,
                )
                .await
                .unwrap();
            assert!(s
                .retire_unlisted_users(&["ann", "bob"], 4)
                .await
                .unwrap()
                .is_empty());
            assert_eq!(
                s.user_by_id(&other.id).await.unwrap().unwrap().disabled_ms,
                None
            );
            // Back in the file: enabled again.
            s.upsert_user_hashed(&seeded("cat", "$argon2id$old"), 5)
                .await
                .unwrap();
            let cat = s.user_by_username("cat").await.unwrap().unwrap();
            assert_eq!(cat.disabled_ms, None, "{}", t.label);
            t.finish().await;
        }
    }
}
