//! The transaction user for requests outside any call: OPTIONS, REGISTER, and the refusals
//! (405 with Allow for methods we know but do not serve here, 501 for methods we do not know).

use super::shard::Shard;
use super::Shared;
use crate::sip::abuse::Ban;
use crate::sip::message::{Method, Request, Response};
use crate::sip::registrar::BindingChange;
use crate::sip::transaction::{Peer, TxId};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Methods we serve, as sent in Allow (UPDATE: RFC 4028 session refreshes in a dialog).
pub const ALLOW: &str = "INVITE, ACK, CANCEL, BYE, OPTIONS, REGISTER, UPDATE";

/// The option tags we list in Supported and accept in Require.
pub(super) fn supported(settings: &crate::config::Settings) -> &'static str {
    if settings.sip.session_expires_s > 0 {
        "timer"
    } else {
        ""
    }
}

/// Request validation: the default policy, plus `timer` when session timers are on.
pub(super) fn policy(settings: &crate::config::Settings) -> crate::sip::validate::Policy {
    let mut p = crate::sip::validate::Policy::default();
    if settings.sip.session_expires_s > 0 {
        p.supported.push("timer".into());
    }
    p
}

/// Persists registration changes (store, events, metrics); implemented by the server.
pub trait RegistrationSink: Send + Sync {
    fn changed(&self, changes: Vec<BindingChange>);
}

/// A fresh random To tag for responses outside any dialog.
pub fn stateless_tag() -> String {
    format!("{:016x}", rand::random::<u64>())
}

pub(super) fn unix_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

pub(super) fn out_of_dialog(shard: &mut Shard, tx: TxId, req: Request, from: Peer) {
    let now = Instant::now();
    let resp = match &req.method {
        Method::Options => options(&req, supported(&shard.shared.settings)),
        Method::Register => register(&shard.shared, &req, from),
        Method::Bye | Method::Ack | Method::Cancel | Method::Update => {
            with_tag(&req, 481, "Call/Transaction Does Not Exist")
        }
        Method::Info
        | Method::Prack
        | Method::Subscribe
        | Method::Notify
        | Method::Refer
        | Method::Message
        | Method::Publish => {
            let mut r = with_tag(&req, 405, "Method Not Allowed");
            r.headers.set("allow", ALLOW);
            r
        }
        Method::Invite => with_tag(&req, 500, "Unexpected INVITE"),
        Method::Other(_) => {
            let mut r = with_tag(&req, 501, "Not Implemented");
            r.headers.set("allow", ALLOW);
            r
        }
    };
    if let Err(e) = shard.legs.respond(tx, resp, now) {
        tracing::debug!(error = %e, "could not respond");
    }
}

fn with_tag(req: &Request, status: u16, reason: &str) -> Response {
    let mut r = Response::for_request(req, status, reason);
    r.set_to_tag(&stateless_tag());
    r
}

fn options(req: &Request, supported: &str) -> Response {
    let mut r = with_tag(req, 200, "OK");
    r.headers.set("allow", ALLOW);
    r.headers.set("accept", "application/sdp");
    r.headers.set("accept-language", "en, es");
    r.headers.set("supported", supported);
    r
}

/// The account a REGISTER tries: the Authorization username, else the To user.
fn register_user(req: &Request) -> String {
    req.headers
        .get("authorization")
        .and_then(|h| crate::sip::auth::DigestResponse::parse(h).ok())
        .map(|d| d.username)
        .or_else(|| {
            req.to()
                .ok()
                .and_then(|to| to.uri.user().map(|u| u.into_owned()))
        })
        .unwrap_or_default()
}

fn register(shared: &Arc<Shared>, req: &Request, from: Peer) -> Response {
    let now = unix_secs();
    let ip = from.addr.ip();
    let user = register_user(req);
    if shared
        .limiter
        .lock()
        .is_ok_and(|l| l.is_refused(ip, &user, now))
    {
        shared.metrics.sip_ban_refused.inc();
        return with_tag(req, 403, "Forbidden");
    }
    let resp = register_checked(shared, req, from, now);
    // A failure is credentials presented and refused (a 401 that is not `stale`); a bare
    // REGISTER drawing its first challenge is not one.
    let stale = || {
        resp.headers
            .get_all("www-authenticate")
            .any(|v| v.to_ascii_lowercase().contains("stale=true"))
    };
    let failed = resp.status == 401 && req.headers.contains("authorization") && !stale();
    if failed {
        auth_failed(shared, ip, &user, "register", now);
    } else if resp.status == 200 {
        if let Ok(mut l) = shared.limiter.lock() {
            l.record_success(ip, &user, now);
        }
    }
    resp
}

/// One failed authentication (`kind`: `register`, `invite`) of `user` from `ip`: counted in
/// `helpline_auth_failures_total{kind}` and in the limiter; a ban it starts is counted and
/// logged. What it did.
pub(super) fn auth_failed(
    shared: &Shared,
    ip: std::net::IpAddr,
    user: &str,
    kind: &str,
    now: u64,
) -> Ban {
    shared
        .metrics
        .auth_failures
        .with_label_values(&[kind])
        .inc();
    let ban = match shared.limiter.lock() {
        Ok(mut l) => l.record_failure(ip, user, now),
        Err(_) => Ban::None,
    };
    if ban != Ban::None {
        shared.metrics.sip_banned.inc();
        tracing::warn!(
            source = %ip,
            user = %user.chars().take(64).collect::<String>(),
            kind,
            scope = if ban == Ban::Address { "address" } else { "address+user" },
            "refused for repeated authentication failures"
        );
    }
    ban
}

fn register_checked(shared: &Arc<Shared>, req: &Request, from: Peer, now: u64) -> Response {
    let tag = stateless_tag();
    let (resp, changes) = match shared.registrar.lock() {
        Ok(mut reg) => {
            let out = reg.on_register(req, from, now, shared.credentials.as_ref(), &tag);
            shared
                .metrics
                .sip_registrations_active
                .set(reg.binding_count() as i64);
            out
        }
        Err(_) => (with_tag(req, 500, "Registrar unavailable"), vec![]),
    };
    if !changes.is_empty() {
        shared.registrations.changed(changes);
    }
    resp
}

/// Expire lapsed bindings every few seconds.
pub(super) fn spawn_registration_expiry(shared: Arc<Shared>) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(5));
        loop {
            tick.tick().await;
            if let Ok(mut l) = shared.limiter.lock() {
                l.prune(unix_secs());
            }
            let changes = match shared.registrar.lock() {
                Ok(mut reg) => {
                    let c = reg.expire(unix_secs());
                    shared
                        .metrics
                        .sip_registrations_active
                        .set(reg.binding_count() as i64);
                    c
                }
                Err(_) => continue,
            };
            if !changes.is_empty() {
                shared.registrations.changed(changes);
            }
        }
    });
}
