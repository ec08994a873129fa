//! Users (agents, supervisors, admins): create with an argon2 password hash and SIP HA1s,
//! look up, verify a login password, change a password, disable.

use std::fmt;
use std::str::FromStr;

use super::backend::{values_list, with_pool, BeginWrite, RowExt};
use super::crypto::random_hex;
use super::error::{Result, StoreError};
use super::password;
use super::sip_credentials::credential_rows;
use super::Store;

/// What a user may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    Agent,
    Supervisor,
    Admin,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Agent => "agent",
            Role::Supervisor => "supervisor",
            Role::Admin => "admin",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "agent" => Ok(Role::Agent),
            "supervisor" => Ok(Role::Supervisor),
            "admin" => Ok(Role::Admin),
            _ => Err(format!(
                "unknown role `{s}`; known roles: agent, supervisor, admin"
            )),
        }
    }
}

/// A stored user (the password hash stays in the database).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub id: String,
    pub username: String,
    pub display_name: String,
    pub role: Role,
    pub created_ms: i64,
    /// Set when the account was disabled; a disabled user can neither log in nor register.
    pub disabled_ms: Option<i64>,
}

/// What [`Store::create_user`] needs. The password is hashed (argon2id) and turned into SIP HA1s
/// for every realm in `sip_realms`; it is never stored.
#[derive(Debug, Clone)]
pub struct NewUser<'a> {
    pub username: &'a str,
    pub display_name: &'a str,
    pub role: Role,
    pub password: &'a str,
    pub sip_realms: &'a [&'a str],
}

const USER_COLUMNS: &str = "id, username, display_name, role, created_ms, disabled_ms";

fn user_row(row: &impl RowExt) -> Result<User> {
    let role = row.text("role")?;
    Ok(User {
        id: row.text("id")?,
        username: row.text("username")?,
        display_name: row.text("display_name")?,
        role: role.parse().map_err(StoreError::Corrupt)?,
        created_ms: row.int("created_ms")?,
        disabled_ms: row.opt_int("disabled_ms")?,
    })
}

fn credentials_insert_sql(rows: usize) -> String {
    format!(
        "INSERT INTO sip_credentials (user_id, realm, algorithm, ha1) VALUES {}",
        values_list(rows, 4)
    )
}

impl Store {
    /// Create a user; `StoreError::Duplicate` when the username is taken.
    pub async fn create_user(&self, new: &NewUser<'_>, now_ms: i64) -> Result<User> {
        let user = User {
            id: random_hex(16),
            username: new.username.to_string(),
            display_name: new.display_name.to_string(),
            role: new.role,
            created_ms: now_ms,
            disabled_ms: None,
        };
        let phc = password::hash(new.password).await?;
        let creds = credential_rows(new.username, new.password, new.sip_realms);
        let dup = || format!("user `{}`", new.username);
        with_pool!(&self.db, |pool| {
            let mut tx = pool.begin_write().await?;
            sqlx::query(
                "INSERT INTO users (id, username, display_name, role, password_hash, created_ms) \
                 VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(&user.id)
            .bind(&user.username)
            .bind(&user.display_name)
            .bind(user.role.as_str())
            .bind(&phc)
            .bind(now_ms)
            .execute(&mut *tx)
            .await
            .map_err(|e| StoreError::duplicate_as(e, dup()))?;
            if !creds.is_empty() {
                let sql = credentials_insert_sql(creds.len());
                let mut q = sqlx::query(&sql);
                for (realm, alg, ha1) in &creds {
                    q = q.bind(&user.id).bind(realm).bind(alg.as_str()).bind(ha1);
                }
                q.execute(&mut *tx).await?;
            }
            tx.commit().await?;
        });
        Ok(user)
    }

    pub async fn user_by_username(&self, username: &str) -> Result<Option<User>> {
        let sql = format!("SELECT {USER_COLUMNS} FROM users WHERE username = $1");
        self.one_user(&sql, username).await
    }

    pub async fn user_by_id(&self, id: &str) -> Result<Option<User>> {
        let sql = format!("SELECT {USER_COLUMNS} FROM users WHERE id = $1");
        self.one_user(&sql, id).await
    }

    async fn one_user(&self, sql: &str, key: &str) -> Result<Option<User>> {
        with_pool!(&self.db, |pool| {
            let row = sqlx::query(sql).bind(key).fetch_optional(pool).await?;
            row.as_ref().map(user_row).transpose()
        })
    }

    /// Every user, by username.
    pub async fn users(&self) -> Result<Vec<User>> {
        let sql = format!("SELECT {USER_COLUMNS} FROM users ORDER BY username");
        with_pool!(&self.db, |pool| {
            let rows = sqlx::query(&sql).fetch_all(pool).await?;
            rows.iter().map(user_row).collect()
        })
    }

    /// The user when `password` is theirs and the account is enabled; `None` otherwise (unknown
    /// users take as long as wrong passwords).
    pub async fn verify_password(&self, username: &str, password: &str) -> Result<Option<User>> {
        let found = with_pool!(&self.db, |pool| {
            let row = sqlx::query(&format!(
                "SELECT {USER_COLUMNS}, password_hash FROM users WHERE username = $1"
            ))
            .bind(username)
            .fetch_optional(pool)
            .await?;
            match row {
                Some(r) => Some((user_row(&r)?, r.text("password_hash")?)),
                None => None,
            }
        });
        let (user, phc) = match found {
            Some((u, h)) => (Some(u), Some(h)),
            None => (None, None),
        };
        let ok = password::verify(phc, password).await?;
        Ok(user.filter(|u| ok && u.disabled_ms.is_none()))
    }

    /// Replace a user's password hash and SIP HA1s (for `sip_realms`). False if no such user.
    pub async fn set_password(
        &self,
        user_id: &str,
        password: &str,
        sip_realms: &[&str],
    ) -> Result<bool> {
        let Some(user) = self.user_by_id(user_id).await? else {
            return Ok(false);
        };
        let phc = password::hash(password).await?;
        let creds = credential_rows(&user.username, password, sip_realms);
        with_pool!(&self.db, |pool| {
            let mut tx = pool.begin_write().await?;
            sqlx::query("UPDATE users SET password_hash = $1 WHERE id = $2")
                .bind(&phc)
                .bind(user_id)
                .execute(&mut *tx)
                .await?;
            sqlx::query("DELETE FROM sip_credentials WHERE user_id = $1")
                .bind(user_id)
                .execute(&mut *tx)
                .await?;
            if !creds.is_empty() {
                let sql = credentials_insert_sql(creds.len());
                let mut q = sqlx::query(&sql);
                for (realm, alg, ha1) in &creds {
                    q = q.bind(user_id).bind(realm).bind(alg.as_str()).bind(ha1);
                }
                q.execute(&mut *tx).await?;
            }
            tx.commit().await?;
        });
        Ok(true)
    }

    /// Disable (`Some(now_ms)`) or re-enable (`None`) an account. False if no such user.
    pub async fn set_user_disabled(&self, user_id: &str, disabled_ms: Option<i64>) -> Result<bool> {
        with_pool!(&self.db, |pool| {
            let done = sqlx::query("UPDATE users SET disabled_ms = $1 WHERE id = $2")
                .bind(disabled_ms)
                .bind(user_id)
                .execute(pool)
                .await?;
            Ok(done.rows_affected() == 1)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::super::sip_credentials::{ha1, DigestAlgorithm};
    use super::super::test_support::test_stores;
    use super::*;

    fn alice<'a>(realms: &'a [&'a str]) -> NewUser<'a> {
        NewUser {
            username: "alice",
            display_name: "Alice Agent",
            role: Role::Agent,
            password: "s3cret!",
            sip_realms: realms,
        }
    }

    #[tokio::test]
    async fn a_user_logs_in_with_the_right_password_only() {
        for t in test_stores("users_login").await {
            let s = &t.store;
            let created = s.create_user(&alice(&["helpline"]), 1_000).await.unwrap();
            let found = s.user_by_username("alice").await.unwrap();
            assert_eq!(found.as_ref(), Some(&created), "{}", t.label);
            assert_eq!(
                s.user_by_id(&created.id).await.unwrap(),
                Some(created.clone())
            );
            assert_eq!(
                s.verify_password("alice", "s3cret!").await.unwrap(),
                Some(created.clone()),
                "{}",
                t.label
            );
            assert_eq!(
                s.verify_password("alice", "wrong").await.unwrap(),
                None,
                "{}",
                t.label
            );
            assert_eq!(
                s.verify_password("mallory", "s3cret!").await.unwrap(),
                None,
                "{}",
                t.label
            );
            // Disabled accounts cannot log in or register.
            assert!(s.set_user_disabled(&created.id, Some(2_000)).await.unwrap());
            assert_eq!(
                s.verify_password("alice", "s3cret!").await.unwrap(),
                None,
                "{}",
                t.label
            );
            assert_eq!(
                s.sip_ha1("alice", "helpline", DigestAlgorithm::Md5)
                    .await
                    .unwrap(),
                None
            );
            t.finish().await;
        }
    }

    #[tokio::test]
    async fn a_taken_username_is_refused_by_name() {
        for t in test_stores("users_dup").await {
            let s = &t.store;
            s.create_user(&alice(&[]), 1).await.unwrap();
            let err = s.create_user(&alice(&[]), 2).await.unwrap_err();
            assert!(
                matches!(err, StoreError::Duplicate(ref w) if w.contains("alice")),
                "{}: {err}",
                t.label
            );
            assert_eq!(s.users().await.unwrap().len(), 1);
            t.finish().await;
        }
    }

    #[tokio::test]
    async fn sip_ha1_is_stored_per_realm_and_algorithm_never_the_password() {
        for t in test_stores("users_ha1").await {
            let s = &t.store;
            let u = s
                .create_user(&alice(&["helpline", "pbx.example"]), 1)
                .await
                .unwrap();
            for realm in ["helpline", "pbx.example"] {
                for alg in DigestAlgorithm::ALL {
                    let got = s.sip_ha1("alice", realm, alg).await.unwrap();
                    assert_eq!(
                        got,
                        Some(ha1(alg, "alice", realm, "s3cret!")),
                        "{} {realm} {alg}",
                        t.label
                    );
                }
            }
            assert_eq!(
                s.sip_ha1("alice", "other", DigestAlgorithm::Md5)
                    .await
                    .unwrap(),
                None
            );
            // A new password replaces hash and HA1s.
            assert!(s.set_password(&u.id, "n3w", &["helpline"]).await.unwrap());
            assert_eq!(
                s.sip_ha1("alice", "helpline", DigestAlgorithm::Sha256)
                    .await
                    .unwrap(),
                Some(ha1(DigestAlgorithm::Sha256, "alice", "helpline", "n3w"))
            );
            assert_eq!(
                s.sip_ha1("alice", "pbx.example", DigestAlgorithm::Md5)
                    .await
                    .unwrap(),
                None
            );
            assert!(s.verify_password("alice", "n3w").await.unwrap().is_some());
            assert!(s
                .verify_password("alice", "s3cret!")
                .await
                .unwrap()
                .is_none());
            assert!(!s.set_password("nobody", "x", &[]).await.unwrap());
            t.finish().await;
        }
    }
}
