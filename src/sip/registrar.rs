//! The registrar (RFC 3261 §10) with digest authentication (RFC 7616/8760), sans-IO.
//!
//! Fed a REGISTER, the source it came from and the time, it returns the response to send and
//! the bindings that changed (for the store, so bindings survive a restart). Several contacts
//! per address-of-record, expiry and refresh, `Contact: *` with `Expires: 0` to remove all,
//! Call-ID/CSeq ordering per §10.3 step 7. Each binding remembers the transport, source address
//! and connection the REGISTER came from, so calls to phones behind NAT go where the phone is.

use crate::sip::auth::DigestResponse;
use crate::sip::auth_server::{AuthOutcome, Authenticator};
use crate::sip::message::{Contact, Request, Response};
use crate::sip::transaction::Peer;
use std::collections::HashMap;

/// One registered contact of an address-of-record (`aor` is the user name, e.g. `alice`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Binding {
    pub aor: String,
    pub contact: String,
    pub source: Peer,
    /// Expiry as Unix seconds.
    pub expires_at: u64,
    pub call_id: String,
    pub cseq: u32,
}

/// What changed for the store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BindingChange {
    Upsert(Binding),
    Remove { aor: String, contact: String },
}

pub struct RegistrarConfig {
    pub min_expires: u32,
    pub max_expires: u32,
    pub default_expires: u32,
}

/// Looks up the stored HA1 for (user, algorithm `MD5`/`SHA-256`).
pub trait CredentialLookup {
    fn ha1(&self, username: &str, algorithm: &str) -> Option<String>;
}

pub struct Registrar {
    auth: Authenticator,
    config: RegistrarConfig,
    bindings: HashMap<String, Vec<Binding>>,
}

impl Registrar {
    pub fn new(auth: Authenticator, config: RegistrarConfig) -> Registrar {
        Registrar {
            auth,
            config,
            bindings: HashMap::new(),
        }
    }

    /// Restore bindings loaded from the store at start-up (expired ones are dropped).
    pub fn restore(&mut self, bindings: impl IntoIterator<Item = Binding>, now_secs: u64) {
        for b in bindings {
            if b.expires_at > now_secs {
                self.bindings.entry(b.aor.clone()).or_default().push(b);
            }
        }
    }

    /// Live contacts of `aor`, most recently refreshed last.
    pub fn lookup(&self, aor: &str, now_secs: u64) -> Vec<Binding> {
        self.bindings
            .get(aor)
            .map(|v| {
                v.iter()
                    .filter(|b| b.expires_at > now_secs)
                    .cloned()
                    .collect()
            })
            .unwrap_or_default()
    }

    pub fn binding_count(&self) -> usize {
        self.bindings.values().map(Vec::len).sum()
    }

    /// Drop expired bindings; returns what was removed.
    pub fn expire(&mut self, now_secs: u64) -> Vec<BindingChange> {
        let mut gone = Vec::new();
        self.bindings.retain(|_, v| {
            v.retain(|b| {
                let live = b.expires_at > now_secs;
                if !live {
                    gone.push(BindingChange::Remove {
                        aor: b.aor.clone(),
                        contact: b.contact.clone(),
                    });
                }
                live
            });
            !v.is_empty()
        });
        self.auth.prune(now_secs);
        gone
    }

    /// Handle one REGISTER. `to_tag` is used for the response's To tag.
    pub fn on_register(
        &mut self,
        req: &Request,
        source: Peer,
        now_secs: u64,
        creds: &dyn CredentialLookup,
        to_tag: &str,
    ) -> (Response, Vec<BindingChange>) {
        let reply = |status: u16, reason: &str| {
            let mut r = Response::for_request(req, status, reason);
            r.set_to_tag(to_tag);
            r
        };
        // Who is registering: the To user is the address-of-record.
        let aor = match req
            .to()
            .ok()
            .and_then(|to| to.uri.user().map(|u| u.into_owned()))
        {
            Some(u) if !u.is_empty() => u,
            _ => return (reply(400, "To has no user part"), vec![]),
        };
        // Authenticate: the credentials' user must be the AOR's user (no registering for others).
        let header = req.headers.get("authorization");
        let outcome = match header.map(DigestResponse::parse) {
            // No credentials, or credentials in a scheme we do not know: challenge.
            None | Some(Err(_)) => None,
            Some(Ok(dr)) => {
                let ha1 = creds.ha1(&dr.username, dr.algorithm.base().as_str());
                let o = self.auth.verify(
                    &dr,
                    req.method.as_str(),
                    &req.body,
                    ha1.as_deref(),
                    now_secs,
                );
                Some((dr.username.clone(), o))
            }
        };
        match outcome {
            Some((user, AuthOutcome::Authorized { .. })) if user == aor => {}
            Some((_, AuthOutcome::Authorized { .. })) => {
                return (
                    reply(403, "Credentials do not match the address-of-record"),
                    vec![],
                )
            }
            Some((_, AuthOutcome::Stale)) => {
                return (self.challenge(req, to_tag, now_secs, true), vec![])
            }
            Some((_, AuthOutcome::Rejected(_))) | None => {
                return (self.challenge(req, to_tag, now_secs, false), vec![])
            }
        }

        let (call_id, cseq) = match (req.call_id(), req.cseq()) {
            (Ok(c), Ok(s)) => (c.to_string(), s.seq),
            _ => return (reply(400, "Missing Call-ID or CSeq"), vec![]),
        };
        let contacts = match req.headers.contacts() {
            Ok(c) => c,
            Err(_) => return (reply(400, "Malformed Contact"), vec![]),
        };
        let header_expires = req.headers.expires().ok().flatten();
        let mut changes = Vec::new();

        if contacts.iter().any(|c| matches!(c, Contact::Wildcard)) {
            if contacts.len() != 1 || header_expires != Some(0) {
                return (
                    reply(400, "Contact: * needs Expires: 0 and no other contact"),
                    vec![],
                );
            }
            for b in self.bindings.remove(&aor).unwrap_or_default() {
                changes.push(BindingChange::Remove {
                    aor: b.aor,
                    contact: b.contact,
                });
            }
        }
        for c in &contacts {
            let Contact::Addr(na) = c else { continue };
            let contact = na.uri.to_string();
            let requested = na
                .params
                .value("expires")
                .and_then(|v| v.parse::<u32>().ok())
                .or(header_expires)
                .unwrap_or(self.config.default_expires);
            let list = self.bindings.entry(aor.clone()).or_default();
            let existing = list.iter().position(|b| b.contact == contact);
            if let Some(i) = existing {
                // §10.3 step 7: same Call-ID with a lower or equal CSeq is out of order.
                if list[i].call_id == call_id && cseq <= list[i].cseq {
                    return (reply(500, "Out-of-order REGISTER"), vec![]);
                }
            }
            if requested == 0 {
                if let Some(i) = existing {
                    let b = list.remove(i);
                    changes.push(BindingChange::Remove {
                        aor: b.aor,
                        contact: b.contact,
                    });
                }
                continue;
            }
            if requested < self.config.min_expires {
                let mut r = reply(423, "Interval Too Brief");
                r.headers
                    .set("min-expires", self.config.min_expires.to_string());
                return (r, vec![]);
            }
            let granted = requested.min(self.config.max_expires);
            let b = Binding {
                aor: aor.clone(),
                contact,
                source,
                expires_at: now_secs + u64::from(granted),
                call_id: call_id.clone(),
                cseq,
            };
            match existing {
                Some(i) => list[i] = b.clone(),
                None => list.push(b.clone()),
            }
            changes.push(BindingChange::Upsert(b));
        }
        if self.bindings.get(&aor).is_some_and(Vec::is_empty) {
            self.bindings.remove(&aor);
        }
        let mut r = reply(200, "OK");
        for b in self.lookup(&aor, now_secs) {
            let left = b.expires_at.saturating_sub(now_secs);
            r.headers
                .push("contact", format!("<{}>;expires={left}", b.contact));
        }
        (r, changes)
    }

    fn challenge(&self, req: &Request, to_tag: &str, now_secs: u64, stale: bool) -> Response {
        let mut r = Response::for_request(req, 401, "Unauthorized");
        r.set_to_tag(to_tag);
        for c in self.auth.challenges(now_secs, stale) {
            r.headers.push("www-authenticate", c.to_header_value());
        }
        r
    }
}

#[cfg(test)]
#[path = "registrar_tests.rs"]
mod tests;
