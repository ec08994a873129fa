//! Password hashing for HTTP login: argon2id PHC strings, run off the async threads.

use std::sync::OnceLock;

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use rand::Rng;

use super::error::{Result, StoreError};

/// Hash `password` with argon2id (default parameters, random 16-byte salt).
pub(crate) async fn hash(password: &str) -> Result<String> {
    let password = password.to_string();
    tokio::task::spawn_blocking(move || hash_now(&password))
        .await
        .map_err(|e| StoreError::Hash(e.to_string()))?
}

/// Hash on the calling thread (for the CLI; async code uses [`hash`]).
pub fn hash_blocking(password: &str) -> Result<String> {
    hash_now(password)
}

fn hash_now(password: &str) -> Result<String> {
    let mut salt = [0u8; 16];
    rand::rng().fill(&mut salt);
    let salt = SaltString::encode_b64(&salt).map_err(|e| StoreError::Hash(e.to_string()))?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| StoreError::Hash(e.to_string()))
}

/// Check `password` against a stored PHC string; `None` checks against a dummy hash so an
/// unknown username costs the same time as a wrong password.
pub(crate) async fn verify(stored: Option<String>, password: &str) -> Result<bool> {
    let password = password.to_string();
    tokio::task::spawn_blocking(move || {
        let known = stored.is_some();
        let phc = match stored {
            Some(s) => s,
            None => dummy()?.to_string(),
        };
        Ok(verify_now(&phc, &password) && known)
    })
    .await
    .map_err(|e| StoreError::Hash(e.to_string()))?
}

fn verify_now(phc: &str, password: &str) -> bool {
    match PasswordHash::new(phc) {
        Ok(parsed) => Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok(),
        Err(e) => {
            tracing::warn!(error = %e, "stored password hash is not a PHC string; login refused");
            false
        }
    }
}

fn dummy() -> Result<&'static str> {
    static DUMMY: OnceLock<String> = OnceLock::new();
    if let Some(d) = DUMMY.get() {
        return Ok(d);
    }
    let h = hash_now("helpline-timing-equaliser")?;
    Ok(DUMMY.get_or_init(|| h))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_right_password_verifies_and_a_wrong_one_does_not() {
        let phc = hash("correct horse").await.unwrap();
        assert!(phc.starts_with("$argon2id$"), "{phc}");
        assert!(!phc.contains("correct horse"));
        assert!(verify(Some(phc.clone()), "correct horse").await.unwrap());
        assert!(!verify(Some(phc), "Correct horse").await.unwrap());
        assert!(!verify(None, "helpline-timing-equaliser").await.unwrap());
        assert!(!verify(Some("garbage".into()), "x").await.unwrap());
    }
}
