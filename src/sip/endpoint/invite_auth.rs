//! Digest authentication of an INVITE that would make us place a billable leg (a direct line
//! forwarding to a trunk): 407 with Proxy-Authenticate, checked against the registered users'
//! SIP credentials (those REGISTER uses). Wrong credentials count as failures in the same
//! (address, user) limiter as REGISTER, and a banned pair or address gets 403.

use super::{tu, Endpoint};
use crate::sip::abuse::Ban;
use crate::sip::auth::DigestResponse;
use crate::sip::auth_server::AuthOutcome;
use crate::sip::message::Request;
use crate::sip::transaction::Peer;

/// What to do with an INVITE that needs its caller authenticated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InviteAuth {
    /// The credentials are good: this user asked for the call.
    Authorized(String),
    /// Answer 407 with these headers (Proxy-Authenticate, strongest algorithm first).
    Challenge(Vec<(&'static str, String)>),
    /// The source (and user) is banned for repeated failures: answer 403.
    Forbidden,
}

impl Endpoint {
    /// Check an INVITE's Proxy-Authorization (see the module notes).
    pub fn authorize_invite(&self, invite: &Request, from: &Peer) -> InviteAuth {
        let shared = &self.shared;
        let now = tu::unix_secs();
        let ip = from.addr.ip();
        let creds = invite
            .headers
            .get("proxy-authorization")
            .and_then(|h| DigestResponse::parse(h).ok());
        let user = creds.as_ref().map_or_else(
            || {
                invite
                    .from()
                    .ok()
                    .and_then(|f| f.uri.user().map(|u| u.into_owned()))
                    .unwrap_or_default()
            },
            |c| c.username.clone(),
        );
        if shared
            .limiter
            .lock()
            .is_ok_and(|l| l.is_refused(ip, &user, now))
        {
            shared.metrics.sip_ban_refused.inc();
            return InviteAuth::Forbidden;
        }
        let Some(dr) = creds else {
            return self.challenge(now, false);
        };
        let ha1 = shared
            .credentials
            .ha1(&dr.username, dr.algorithm.base().as_str());
        let outcome = match shared.proxy_auth.lock() {
            Ok(mut a) => a.verify(&dr, "INVITE", &invite.body, ha1.as_deref(), now),
            Err(_) => AuthOutcome::Rejected("authenticator unavailable"),
        };
        match outcome {
            AuthOutcome::Authorized { username } => {
                if let Ok(mut l) = shared.limiter.lock() {
                    l.record_success(ip, &user, now);
                }
                InviteAuth::Authorized(username)
            }
            AuthOutcome::Stale => self.challenge(now, true),
            AuthOutcome::Rejected(why) => {
                tracing::info!(source = %ip, user = %user.chars().take(64).collect::<String>(), why, "INVITE authentication failed");
                if tu::auth_failed(shared, ip, &user, "invite", now) != Ban::None {
                    return InviteAuth::Forbidden;
                }
                self.challenge(now, false)
            }
        }
    }

    fn challenge(&self, now: u64, stale: bool) -> InviteAuth {
        let headers = match self.shared.proxy_auth.lock() {
            Ok(a) => a
                .challenges(now, stale)
                .into_iter()
                .map(|c| ("proxy-authenticate", c.to_header_value()))
                .collect(),
            Err(_) => vec![],
        };
        InviteAuth::Challenge(headers)
    }
}
