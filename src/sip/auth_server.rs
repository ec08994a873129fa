//! Server side of Digest authentication (registrar, trusted-user checks), sans-IO:
//! stateless nonces (timestamp + 64 random bits + truncated HMAC-SHA-256 of both under a
//! server secret) that expire, a nonce-count replay tracker keyed by (user, nonce), and
//! [`Authenticator`] tying them to HA1 verification. Every challenge gets its own nonce,
//! so phones challenged in the same second never share replay state. Time is passed in as `now_secs`: seconds on any clock that survives
//! as long as the secret (use UNIX time).

use std::collections::HashMap;

use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::auth::{ct_eq, hex, Algorithm, Challenge, DigestResponse};

/// Length of our nonces in hex digits: time (16), random (16), MAC (32).
const NONCE_LEN: usize = 64;

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

    fn mac(&self, ts: u64, random: &[u8; 8], realm: &str) -> [u8; 16] {
        let mut out = [0u8; 16];
        // HMAC accepts keys of any length, so this cannot fail.
        if let Ok(mut m) = Hmac::<Sha256>::new_from_slice(&self.secret) {
            m.update(&ts.to_be_bytes());
            m.update(random);
            m.update(realm.as_bytes());
            let full = m.finalize().into_bytes();
            out.copy_from_slice(&full[..16]);
        }
        out
    }

    /// A fresh nonce for `realm`: 16 hex digits of time, 16 of randomness (unique per
    /// challenge), 32 of MAC over both.
    pub fn issue(&self, realm: &str, now_secs: u64) -> String {
        self.issue_with(realm, now_secs, rand::random::<[u8; 8]>())
    }

    fn issue_with(&self, realm: &str, now_secs: u64, random: [u8; 8]) -> String {
        format!(
            "{now_secs:016x}{}{}",
            hex(&random),
            hex(&self.mac(now_secs, &random, realm))
        )
    }

    pub fn check(&self, nonce: &str, realm: &str, now_secs: u64) -> NonceCheck {
        if nonce.len() != NONCE_LEN || !nonce.bytes().all(|b| b.is_ascii_hexdigit()) {
            return NonceCheck::Invalid;
        }
        let Ok(ts) = u64::from_str_radix(&nonce[..16], 16) else {
            return NonceCheck::Invalid;
        };
        let Ok(r) = u64::from_str_radix(&nonce[16..32], 16) else {
            return NonceCheck::Invalid;
        };
        let expected = hex(&self.mac(ts, &r.to_be_bytes(), realm));
        if !ct_eq(
            expected.as_bytes(),
            nonce[32..].to_ascii_lowercase().as_bytes(),
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

/// Remembers the highest nonce-count each user used with each live nonce, so that a
/// captured Authorization cannot be replayed; one user's use of a nonce never counts
/// against another's. Entries expire with their nonce; the table is bounded.
#[derive(Debug, Default)]
pub struct NonceCounts {
    seen: HashMap<(String, String), (u32, u64)>,
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

    /// Records `nc` for (`user`, `nonce`) if it is higher than any seen; false means a
    /// replay (or the table is full of live nonces).
    pub fn check_and_record(
        &mut self,
        user: &str,
        nonce: &str,
        nc: u32,
        issued_at: u64,
        now_secs: u64,
    ) -> bool {
        let key = (user.to_string(), nonce.to_string());
        if let Some((last, _)) = self.seen.get_mut(&key) {
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
        self.seen.insert(key, (nc, issued_at));
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
    /// Right password, but the nonce expired, is unknown or was reused: send a new
    /// challenge with `stale=true`.
    Stale,
    /// Wrong password, unknown user or foreign realm: challenge again (or 403). A failed
    /// guess for the failure limiter.
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
            NonceCheck::Invalid | NonceCheck::Stale => {
                // Only call it stale if the password was right (RFC 7616 §3.3). A nonce we do
                // not know (from before a restart with a new secret) answered with the right
                // password is stale too: the phone re-registers at once and is not counted
                // as a failed guess.
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
            .check_and_record(&creds.username, &creds.nonce, nc, issued_at, now_secs)
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
        let mut other_random = n.clone();
        other_random.replace_range(16..32, "0123456789abcdef");
        assert_eq!(
            iss.check(&other_random, "helpline", T0),
            NonceCheck::Invalid,
            "the random part is covered by the MAC"
        );
        assert_eq!(n.len(), 64);
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
        assert!(c.check_and_record("u", "a", 1, T0, T0));
        assert!(c.check_and_record("u", "b", 1, T0, T0));
        assert!(!c.check_and_record("u", "c", 1, T0, T0));
        assert!(c.check_and_record("u", "c", 1, T0 + 20, T0 + 20));
        assert_eq!(c.len(), 1);
    }

    #[test]
    fn every_challenge_gets_its_own_nonce_even_in_the_same_second() {
        let a = Authenticator::new("helpline", b"secret-secret-secret-secret-1234", 60);
        let n1 = a.challenges(T0, false)[0].nonce.clone();
        let n2 = a.challenges(T0, false)[0].nonce.clone();
        assert_ne!(n1, n2);
        assert_eq!(&n1[..16], &n2[..16], "same second");
        for n in [&n1, &n2] {
            assert_eq!(
                a.issuer.check(n, "helpline", T0),
                NonceCheck::Valid { issued_at: T0 }
            );
        }
        // Both challenges share one timestamp yet both verify and differ in MAC too.
        let iss = NonceIssuer::new(b"k", 60);
        assert_ne!(
            iss.issue_with("r", T0, [1; 8]),
            iss.issue_with("r", T0, [2; 8])
        );
    }

    #[test]
    fn two_users_on_one_nonce_are_not_replays_of_each_other() {
        // Even if two users answered the very same nonce (as with the old per-second nonces),
        // the nonce-count of one does not refuse the other.
        let mut a = Authenticator::new("helpline", b"secret-secret-secret-secret-1234", 60);
        let ch = &a.challenges(T0, false)[0];
        for user in ["agent7", "agent8"] {
            let stored = ha1(&Algorithm::Sha256, user, "helpline", "pw").unwrap();
            let c = Credentials {
                username: user.into(),
                secret: Secret::Password("pw".into()),
            }
            .authorize(ch, "REGISTER", "sip:helpline", b"", "cn", 1)
            .unwrap();
            assert_eq!(
                a.verify(&c, "REGISTER", b"", Some(&stored), T0),
                AuthOutcome::Authorized {
                    username: user.into()
                }
            );
            assert_eq!(
                a.verify(&c, "REGISTER", b"", Some(&stored), T0),
                AuthOutcome::Stale,
                "but the same user's nc again is a replay"
            );
        }
    }

    #[test]
    fn unknown_nonce_is_stale_with_the_right_password_and_rejected_with_a_wrong_one() {
        let old = Authenticator::new("helpline", b"secret-before-the-restart-000000", 60);
        let mut a = Authenticator::new("helpline", b"secret-after-the-restart-1111111", 60);
        let ch = &old.challenges(T0, false)[0];
        let c = client()
            .authorize(ch, "REGISTER", "sip:helpline", b"", "cn", 1)
            .unwrap();
        let right = ha1(&Algorithm::Sha256, "agent7", "helpline", "pw").unwrap();
        let wrong = ha1(&Algorithm::Sha256, "agent7", "helpline", "x").unwrap();
        assert_eq!(
            a.verify(&c, "REGISTER", b"", Some(&right), T0),
            AuthOutcome::Stale
        );
        assert!(matches!(
            a.verify(&c, "REGISTER", b"", Some(&wrong), T0),
            AuthOutcome::Rejected(_)
        ));
    }
}
