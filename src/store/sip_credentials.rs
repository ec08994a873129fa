//! SIP digest credentials: HA1 per user, realm and algorithm (MD5, SHA-256 per RFC 8760).
//! Only HA1 = H(username:realm:password) is stored, never the password.

use std::fmt;
use std::str::FromStr;

use md5::Md5;
use sha2::{Digest, Sha256};

use super::backend::{with_pool, RowExt};
use super::crypto::hex;
use super::error::Result;
use super::Store;

/// Digest algorithms we keep HA1s for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DigestAlgorithm {
    Md5,
    Sha256,
}

impl DigestAlgorithm {
    pub const ALL: [DigestAlgorithm; 2] = [DigestAlgorithm::Md5, DigestAlgorithm::Sha256];

    /// The token used in `algorithm=` and in the database.
    pub fn as_str(self) -> &'static str {
        match self {
            DigestAlgorithm::Md5 => "MD5",
            DigestAlgorithm::Sha256 => "SHA-256",
        }
    }
}

impl fmt::Display for DigestAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for DigestAlgorithm {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        if s.eq_ignore_ascii_case("MD5") {
            Ok(DigestAlgorithm::Md5)
        } else if s.eq_ignore_ascii_case("SHA-256") {
            Ok(DigestAlgorithm::Sha256)
        } else {
            Err(format!(
                "unknown digest algorithm `{s}`; known: MD5, SHA-256"
            ))
        }
    }
}

/// HA1 = hex(H(username ":" realm ":" password)).
pub fn ha1(algorithm: DigestAlgorithm, username: &str, realm: &str, password: &str) -> String {
    let input = format!("{username}:{realm}:{password}");
    match algorithm {
        DigestAlgorithm::Md5 => hex(&Md5::digest(input.as_bytes())),
        DigestAlgorithm::Sha256 => hex(&Sha256::digest(input.as_bytes())),
    }
}

/// (realm, algorithm, ha1) rows for every realm and algorithm.
pub(crate) fn credential_rows(
    username: &str,
    password: &str,
    realms: &[&str],
) -> Vec<(String, DigestAlgorithm, String)> {
    let mut rows = Vec::with_capacity(realms.len() * 2);
    for realm in realms {
        for alg in DigestAlgorithm::ALL {
            rows.push((realm.to_string(), alg, ha1(alg, username, realm, password)));
        }
    }
    rows
}

impl Store {
    /// The stored HA1 of an enabled user for `realm` and `algorithm`, if any.
    pub async fn sip_ha1(
        &self,
        username: &str,
        realm: &str,
        algorithm: DigestAlgorithm,
    ) -> Result<Option<String>> {
        with_pool!(&self.db, |pool| {
            let row = sqlx::query(
                "SELECT c.ha1 FROM sip_credentials c JOIN users u ON u.id = c.user_id \
                 WHERE u.username = $1 AND c.realm = $2 AND c.algorithm = $3 \
                 AND u.disabled_ms IS NULL",
            )
            .bind(username)
            .bind(realm)
            .bind(algorithm.as_str())
            .fetch_optional(pool)
            .await?;
            row.map(|r| r.text("ha1")).transpose()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ha1_matches_rfc_examples() {
        // RFC 2617 §3.5 and RFC 7616 §3.9.1 (Mufasa / Circle Of Life).
        assert_eq!(
            ha1(
                DigestAlgorithm::Md5,
                "Mufasa",
                "testrealm@host.com",
                "Circle Of Life"
            ),
            "939e7578ed9e3c518a452acee763bce9"
        );
        assert_eq!(
            ha1(
                DigestAlgorithm::Sha256,
                "Mufasa",
                "http-auth@example.org",
                "Circle of Life"
            ),
            "7987c64c30e25f1b74be53f966b49b90f2808aa92faf9a00262392d7b4794232"
        );
    }

    #[test]
    fn algorithm_names_parse_case_insensitively() {
        assert_eq!("sha-256".parse(), Ok(DigestAlgorithm::Sha256));
        assert_eq!("MD5".parse(), Ok(DigestAlgorithm::Md5));
        assert!("SHA-512-256".parse::<DigestAlgorithm>().is_err());
    }
}
