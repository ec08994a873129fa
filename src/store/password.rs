//! Password hashing for HTTP login: argon2id PHC strings, run off the async threads, at most
//! [`MAX_CONCURRENT_HASHES`] at a time.

use std::sync::OnceLock;
use std::time::Duration;

use tokio::sync::{Semaphore, SemaphorePermit};

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use rand::Rng;

use super::error::{Result, StoreError};

/// At most this many argon2 computations at once (each takes ~19 MiB and a core for tens of
/// milliseconds): a burst of logins queues here instead of exhausting memory and threads.
pub const MAX_CONCURRENT_HASHES: usize = 4;

/// How long an attempt waits for a hashing slot before it is turned away as busy.
pub const HASH_SLOT_WAIT: Duration = Duration::from_secs(2);

fn slots() -> &'static Semaphore {
    static SLOTS: Semaphore = Semaphore::const_new(MAX_CONCURRENT_HASHES);
    &SLOTS
}

/// A hashing slot, or `StoreError::Busy` after [`HASH_SLOT_WAIT`].
async fn slot() -> Result<SemaphorePermit<'static>> {
    acquire(slots(), HASH_SLOT_WAIT).await
}

async fn acquire(sem: &Semaphore, wait: Duration) -> Result<SemaphorePermit<'_>> {
    match tokio::time::timeout(wait, sem.acquire()).await {
        Ok(Ok(permit)) => Ok(permit),
        Ok(Err(_)) | Err(_) => Err(StoreError::Busy(
            "too many password checks at once; try again in a moment".into(),
        )),
    }
}

/// Hash `password` with argon2id (default parameters, random 16-byte salt).
pub(crate) async fn hash(password: &str) -> Result<String> {
    let password = password.to_string();
    let permit = slot().await?;
    let out = tokio::task::spawn_blocking(move || hash_now(&password))
        .await
        .map_err(|e| StoreError::Hash(e.to_string()))?;
    drop(permit);
    out
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
    let permit = slot().await?;
    let out = tokio::task::spawn_blocking(move || {
        let known = stored.is_some();
        let phc = match stored {
            Some(s) => s,
            None => dummy()?.to_string(),
        };
        Ok(verify_now(&phc, &password) && known)
    })
    .await
    .map_err(|e| StoreError::Hash(e.to_string()))?;
    drop(permit);
    out
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

    /// Issue 14 row 6: no cap on concurrent argon2 hashes. A check beyond the cap waits for a
    /// slot, and gives up as busy (503 at the web) if none frees in time.
    #[tokio::test]
    async fn a_check_beyond_the_cap_waits_then_is_turned_away_as_busy() {
        let sem = Semaphore::new(2);
        let a = acquire(&sem, Duration::from_millis(50)).await.unwrap();
        let _b = acquire(&sem, Duration::from_millis(50)).await.unwrap();
        let t = std::time::Instant::now();
        let err = acquire(&sem, Duration::from_millis(100)).await.unwrap_err();
        assert!(matches!(err, StoreError::Busy(_)), "{err}");
        assert!(t.elapsed() >= Duration::from_millis(100), "it waited first");
        // A slot freed while waiting is taken.
        let waiter = tokio::spawn(async move {
            let sem: &'static Semaphore = Box::leak(Box::new(Semaphore::new(1)));
            let held = sem.acquire().await.unwrap();
            let wait = tokio::spawn(acquire(sem, Duration::from_secs(5)));
            tokio::time::sleep(Duration::from_millis(50)).await;
            drop(held);
            wait.await.unwrap().is_ok()
        });
        assert!(waiter.await.unwrap());
        drop(a);
    }

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
