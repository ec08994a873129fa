//! The user directory: agents, supervisors and admins, loaded from `config/users.toml` into the
//! database and kept in memory for fast login and SIP digest checks.
//!
//! Secrets are never stored in the clear: the file holds an argon2id PHC string for the HTTP
//! password and SIP digest HA1 values (MD5 and SHA-256, RFC 8760) for the configured realm.
//! `helpline hash-password USER` prints a ready entry.

use crate::diag::Diagnostic;
use dashmap::DashMap;
use serde::Deserialize;
use std::path::Path;
use toml::Spanned;

pub use crate::store::Role;

/// One user as the server needs it in memory.
#[derive(Debug, Clone)]
pub struct UserEntry {
    pub username: String,
    pub display_name: String,
    pub role: Role,
    pub password_hash: String,
    pub ha1_md5: Option<String>,
    pub ha1_sha256: Option<String>,
}

/// Usernames → entries. Cheap concurrent reads for REGISTER and login.
#[derive(Default)]
pub struct Directory {
    users: DashMap<String, UserEntry>,
}

impl Directory {
    pub fn insert(&self, u: UserEntry) {
        self.users.insert(u.username.clone(), u);
    }
    pub fn get(&self, username: &str) -> Option<UserEntry> {
        self.users.get(username).map(|e| e.value().clone())
    }
    pub fn len(&self) -> usize {
        self.users.len()
    }
    pub fn is_empty(&self) -> bool {
        self.users.is_empty()
    }
    /// The HA1 for `username` and digest algorithm (`MD5` or `SHA-256`).
    pub fn ha1(&self, username: &str, algorithm: &str) -> Option<String> {
        let u = self.users.get(username)?;
        if algorithm.eq_ignore_ascii_case("SHA-256") {
            u.ha1_sha256.clone()
        } else {
            u.ha1_md5.clone()
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    #[serde(default)]
    user: Vec<RawUser>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawUser {
    username: Spanned<String>,
    display_name: Option<String>,
    role: Spanned<String>,
    password_hash: Spanned<String>,
    sip_realm: Option<Spanned<String>>,
    sip_ha1_md5: Option<String>,
    sip_ha1_sha256: Option<String>,
}

impl UserEntry {
    /// The row the store keeps for this user.
    pub fn to_stored(&self, realm: &str) -> crate::store::HashedUser {
        let mut sip_ha1 = Vec::new();
        if let Some(h) = &self.ha1_md5 {
            sip_ha1.push((realm.to_string(), "MD5", h.clone()));
        }
        if let Some(h) = &self.ha1_sha256 {
            sip_ha1.push((realm.to_string(), "SHA-256", h.clone()));
        }
        crate::store::HashedUser {
            username: self.username.clone(),
            display_name: self.display_name.clone(),
            role: self.role,
            password_hash: self.password_hash.clone(),
            sip_ha1,
        }
    }
}

/// Load and check a users file against the server's digest `realm`.
pub fn load(path: &Path, realm: &str) -> Result<Vec<UserEntry>, Vec<Diagnostic>> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        vec![Diagnostic::file(
            path,
            format!("cannot read users file: {e}"),
        )]
    })?;
    let raw: RawFile =
        toml::from_str(&text).map_err(|e| vec![Diagnostic::from_toml(path, &text, &e)])?;
    let mut diags = Vec::new();
    let mut out = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for u in raw.user {
        let at = |s: &Spanned<String>, m: String| Diagnostic::at(path, &text, s.span().start, m);
        let name = u.username.get_ref().clone();
        if name.is_empty()
            || !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
        {
            diags.push(at(
                &u.username,
                format!("username `{name}` must be letters, digits, `.`, `_` or `-`"),
            ));
        }
        if !seen.insert(name.clone()) {
            diags.push(at(
                &u.username,
                format!("user `{name}` is defined twice; keep one entry"),
            ));
        }
        let role: Option<Role> = u.role.get_ref().parse().ok();
        if role.is_none() {
            diags.push(at(
                &u.role,
                format!(
                    "role `{}` unknown; use agent, supervisor or admin",
                    u.role.get_ref()
                ),
            ));
        }
        if !u.password_hash.get_ref().starts_with("$argon2") {
            diags.push(at(&u.password_hash, "password_hash must be an argon2 PHC string; generate one with `helpline hash-password USER`".into()));
        }
        if let Some(r) = &u.sip_realm {
            if r.get_ref() != realm && (u.sip_ha1_md5.is_some() || u.sip_ha1_sha256.is_some()) {
                diags.push(at(r, format!("SIP HA1 was made for realm `{}` but the server's realm is `{realm}`; regenerate with `helpline hash-password`", r.get_ref())));
            }
        }
        if let Some(role) = role {
            out.push(UserEntry {
                display_name: u.display_name.unwrap_or_else(|| name.clone()),
                username: name,
                role,
                password_hash: u.password_hash.into_inner(),
                ha1_md5: u.sip_ha1_md5,
                ha1_sha256: u.sip_ha1_sha256,
            });
        }
    }
    if diags.is_empty() {
        Ok(out)
    } else {
        Err(diags)
    }
}

/// A users.toml entry for `username` with `password` hashed (argon2id) and SIP HA1s for `realm`.
pub fn entry_toml(username: &str, role: &str, password: &str, realm: &str) -> String {
    use crate::sip::auth::{ha1, Algorithm};
    let hash =
        crate::store::hash_password_blocking(password).unwrap_or_else(|e| format!("<error: {e}>"));
    let md5 = ha1(&Algorithm::Md5, username, realm, password).unwrap_or_default();
    let sha = ha1(&Algorithm::Sha256, username, realm, password).unwrap_or_default();
    format!(
        "[[user]]\nusername = \"{username}\"\nrole = \"{role}\"\npassword_hash = \"{hash}\"\nsip_realm = \"{realm}\"\nsip_ha1_md5 = \"{md5}\"\nsip_ha1_sha256 = \"{sha}\"\n"
    )
}
