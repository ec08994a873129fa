//! Users defined in `config/users.toml` (already hashed) written into the database, so that
//! sessions and audit rows can refer to them. The file is authoritative for the users it names.

use super::backend::{with_pool, BeginWrite};
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
    /// Insert or update a user by username; their SIP credentials are replaced.
    pub async fn upsert_user_hashed(&self, u: &HashedUser, now_ms: i64) -> Result<()> {
        let id = format!("u-{}", u.username);
        with_pool!(&self.db, |pool| {
            let mut tx = pool.begin_write().await?;
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
}
