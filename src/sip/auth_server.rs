//! Server side of Digest authentication (registrar, trusted-user checks), sans-IO:
//! stateless nonces (timestamp + truncated HMAC-SHA-256 under a server secret) that
//! expire, a nonce-count replay tracker, and [`Authenticator`] tying them to HA1
//! verification. Time is passed in as `now_secs`: seconds on any clock that survives
//! as long as the secret (use UNIX time).

use std::collections::HashMap;

use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::auth::{ct_eq, hex, Algorithm, Challenge, DigestResponse};

/// Issues and checks nonces without storing them.
#[derive(Clone)]
pub struct NonceIssuer {
    secret: Vec<u8>,
    ttl_secs: u64,
}

/// Result of checking a nonce.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NonceCheck {
    /// Ours and unexpired; issued at this time.
    Valid { issued_at: u64 },
    /// Ours but expired: re-challenge with `stale=true` (the password was right).
    Stale,
    /// Not one of ours (forged, other realm, from before a secret change, or from the future).
    Invalid,
}

impl NonceIssuer {
    /// `secret` should be at least 32 random bytes; `ttl_secs` is how long a nonce is usable.
    pub fn new(secret: &[u8], ttl_secs: u64) -> NonceIssuer {
        NonceIssuer {
            secret: secret.to_vec(),
            ttl_secs,
        }
    }

    fn mac(&self, ts: u64, realm: &str) -> [u8; 16] {
        let mut out = [0u8; 16];
        // HMAC accepts keys of any length, so this cannot fail.
        if let Ok(mut m) = Hmac::<Sha256>::new_from_slice(&self.secret) {
            m.update(&ts.to_be_bytes());
            m.update(realm.as_bytes());
            let full = m.finalize().into_bytes();
            out.copy_from_slice(&full[..16]);
        }
        out
    }

    /// A fresh nonce for `realm`: 16 hex digits of time, 32 of MAC.
    pub fn issue(&self, realm: &str, now_secs: u64) -> String {
        format!("{now_secs:016x}{}", hex(&self.mac(now_secs, realm)))
    }

    pub fn check(&self, nonce: &str, realm: &str, now_secs: u64) -> NonceCheck {
        if nonce.len() != 48 || !nonce.bytes().all(|b| b.is_ascii_hexdigit()) {
            return NonceCheck::Invalid;
        }
        let Ok(ts) = u64::from_str_radix(&nonce[..16], 16) else {
            return NonceCheck::Invalid;
        };
        let expected = hex(&self.mac(ts, realm));
        if !ct_eq(
            expected.as_bytes(),
            nonce[16..].to_ascii_lowercase().as_bytes(),
        ) {
            return NonceCheck::Invalid;
        }
        if ts > now_secs.saturating_add(5) {
            return NonceCheck::Invalid;
        }
        if now_secs.saturating_sub(ts) > self.ttl_secs {
            return NonceCheck::Stale;
        }
        NonceCheck::Valid { issued_at: ts }
    }
}

/// Remembers the highest nonce-count used with each live nonce, so that a captured
/// Authorization cannot be replayed. Entries expire with their nonce.
#[derive(Debug, Default)]
pub struct NonceCounts {
    seen: HashMap<String, (u32, u64)>,
    ttl_secs: u64,
    max_entries: usize,
}

impl NonceCounts {
    pub fn new(ttl_secs: u64, max_entries: usize) -> NonceCounts {
        NonceCounts {
            seen: HashMap::new(),
            ttl_secs,
            max_entries,
        }
    }

    /// Records `nc` for `nonce` if it is higher than any seen; false means a replay
    /// (or the table is full of live nonces).
    pub fn check_and_record(
        &mut self,
        nonce: &str,
        nc: u32,
        issued_at: u64,
        now_secs: u64,
    ) -> bool {
        if let Some((last, _)) = self.seen.get_mut(nonce) {
            if nc <= *last {
                return false;
            }
            *last = nc;
            return true;
        }
        if self.seen.len() >= self.max_entries {
            self.prune(now_secs);
            if self.seen.len() >= self.max_entries {
                return false;
            }
        }
        self.seen.insert(nonce.to_string(), (nc, issued_at));
        true
    }

    /// Forgets nonces that have expired.
    pub fn prune(&mut self, now_secs: u64) {
        let ttl = self.ttl_secs;
        self.seen
            .retain(|_, (_, issued)| now_secs.saturating_sub(*issued) <= ttl);
    }

    pub fn len(&self) -> usize {
        self.seen.len()
    }

    pub fn is_empty(&self) -> bool {
        self.seen.is_empty()
    }
}

/// Outcome of checking an Authorization header.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AuthOutcome {
    /// Credentials are valid for this request.
    Authorized { username: String },
    /// Right password, but the nonce expired or was reused: send a new challenge
    /// with `stale=true`.
    Stale,
    /// Wrong password, unknown user, foreign nonce or realm: challenge again (or 403).
    Rejected(&'static str),
}

/// One realm's digest authenticator.
pub struct Authenticator {
    pub realm: String,
    issuer: NonceIssuer,
    counts: NonceCounts,
}

impl Authenticator {
    pub fn new(realm: &str, secret: &[u8], nonce_ttl_secs: u64) -> Authenticator {
        Authenticator {
            realm: realm.to_string(),
            issuer: NonceIssuer::new(secret, nonce_ttl_secs),
            counts: NonceCounts::new(nonce_ttl_secs, 100_000),
        }
    }

    /// Challenges to send in a 401/407, strongest first (RFC 8760 §2.4): SHA-256, MD5.
    pub fn challenges(&self, now_secs: u64, stale: bool) -> Vec<Challenge> {
        let nonce = self.issuer.issue(&self.realm, now_secs);
        [Algorithm::Sha256, Algorithm::Md5]
            .into_iter()
            .map(|algorithm| Challenge {
                realm: self.realm.clone(),
                nonce: nonce.clone(),
                algorithm,
                qop: vec!["auth".into()],
                opaque: None,
                stale,
            })
            .collect()
    }

    /// Checks `creds` for a request `method` (with `body`, for auth-int). `ha1` is the
    /// stored HA1 for (creds.username, creds.realm, creds.algorithm.base()), or None if
    /// the user has none. The caller should also check that `creds.uri` names the
    /// Request-URI.
    pub fn verify(
        &mut self,
        creds: &DigestResponse,
        method: &str,
        body: &[u8],
        ha1: Option<&str>,
        now_secs: u64,
    ) -> AuthOutcome {
        if creds.realm != self.realm {
            return AuthOutcome::Rejected("wrong realm");
        }
        let issued_at = match self.issuer.check(&creds.nonce, &self.realm, now_secs) {
            NonceCheck::Invalid => return AuthOutcome::Rejected("unknown nonce"),
            NonceCheck::Stale => {
                // Only call it stale if the password was right (RFC 7616 §3.3).
                return match ha1 {
                    Some(h) if creds.verify(method, h, body) => AuthOutcome::Stale,
                    _ => AuthOutcome::Rejected("wrong credentials"),
                };
            }
            NonceCheck::Valid { issued_at } => issued_at,
        };
        let Some(ha1) = ha1 else {
            return AuthOutcome::Rejected("unknown user");
        };
        if !creds.verify(method, ha1, body) {
            return AuthOutcome::Rejected("wrong credentials");
        }
        // Without qop there is no nc: such a nonce is good for one request only.
        let nc = creds.nc.unwrap_or(1);
        if !self
            .counts
            .check_and_record(&creds.nonce, nc, issued_at, now_secs)
        {
            return AuthOutcome::Stale;
        }
        AuthOutcome::Authorized {
            username: creds.username.clone(),
        }
    }

    /// Forgets expired nonce counts; call now and then.
    pub fn prune(&mut self, now_secs: u64) {
        self.counts.prune(now_secs);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sip::auth::{ha1, Credentials, Secret};

    const T0: u64 = 1_700_000_000;

    fn client() -> Credentials {
        Credentials {
            username: "agent7".into(),
            secret: Secret::Password("pw".into()),
        }
    }

    #[test]
    fn nonces_verify_expire_and_resist_forgery() {
        let iss = NonceIssuer::new(b"0123456789abcdef0123456789abcdef", 300);
        let n = iss.issue("helpline", T0);
        assert_eq!(
            iss.check(&n, "helpline", T0 + 10),
            NonceCheck::Valid { issued_at: T0 }
        );
        assert_eq!(iss.check(&n, "helpline", T0 + 301), NonceCheck::Stale);
        assert_eq!(iss.check(&n, "other", T0), NonceCheck::Invalid);
        let mut forged = n.clone();
        forged.replace_range(..16, &format!("{:016x}", T0 + 200));
        assert_eq!(
            iss.check(&forged, "helpline", T0 + 250),
            NonceCheck::Invalid
        );
        let other = NonceIssuer::new(b"another secret", 300);
        assert_eq!(other.check(&n, "helpline", T0), NonceCheck::Invalid);
        assert_eq!(iss.check("short", "helpline", T0), NonceCheck::Invalid);
    }

    #[test]
    fn register_flow_with_replay_and_stale() {
        let mut a = Authenticator::new("helpline", b"secret-secret-secret-secret-1234", 60);
        let ch = &a.challenges(T0, false)[0];
        assert_eq!(ch.algorithm, Algorithm::Sha256);
        let stored = ha1(&Algorithm::Sha256, "agent7", "helpline", "pw").unwrap();
        let c1 = client()
            .authorize(ch, "REGISTER", "sip:helpline", b"", "cn", 1)
            .unwrap();
        let ok = AuthOutcome::Authorized {
            username: "agent7".into(),
        };
        assert_eq!(a.verify(&c1, "REGISTER", b"", Some(&stored), T0 + 1), ok);
        // The same nc again is a replay.
        assert_eq!(
            a.verify(&c1, "REGISTER", b"", Some(&stored), T0 + 2),
            AuthOutcome::Stale
        );
        let c2 = client()
            .authorize(ch, "REGISTER", "sip:helpline", b"", "cn", 2)
            .unwrap();
        assert_eq!(a.verify(&c2, "REGISTER", b"", Some(&stored), T0 + 3), ok);
        // After expiry: stale with the right password, rejected with a wrong one.
        let c3 = client()
            .authorize(ch, "REGISTER", "sip:helpline", b"", "cn", 3)
            .unwrap();
        assert_eq!(
            a.verify(&c3, "REGISTER", b"", Some(&stored), T0 + 61),
            AuthOutcome::Stale
        );
        let wrong = ha1(&Algorithm::Sha256, "agent7", "helpline", "nope").unwrap();
        assert!(matches!(
            a.verify(&c3, "REGISTER", b"", Some(&wrong), T0 + 61),
            AuthOutcome::Rejected(_)
        ));
        assert!(matches!(
            a.verify(&c2, "REGISTER", b"", None, T0 + 4),
            AuthOutcome::Rejected("unknown user")
        ));
        a.prune(T0 + 1000);
        assert!(a.counts.is_empty());
    }

    #[test]
    fn md5_challenge_also_accepted() {
        let mut a = Authenticator::new("helpline", b"k", 60);
        let chs = a.challenges(T0, true);
        assert!(chs[1].to_header_value().contains("stale=true"));
        let stored = ha1(&Algorithm::Md5, "agent7", "helpline", "pw").unwrap();
        let c = client()
            .authorize(&chs[1], "REGISTER", "sip:helpline", b"", "x", 1)
            .unwrap();
        assert!(matches!(
            a.verify(&c, "REGISTER", b"", Some(&stored), T0),
            AuthOutcome::Authorized { .. }
        ));
    }

    #[test]
    fn counts_table_is_bounded() {
        let mut c = NonceCounts::new(10, 2);
        assert!(c.check_and_record("a", 1, T0, T0));
        assert!(c.check_and_record("b", 1, T0, T0));
        assert!(!c.check_and_record("c", 1, T0, T0));
        assert!(c.check_and_record("c", 1, T0 + 20, T0 + 20));
        assert_eq!(c.len(), 1);
    }
}
