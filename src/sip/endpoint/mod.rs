//! The SIP endpoint: transports + sharded signalling cores + the transaction user for
//! out-of-dialog requests (OPTIONS, REGISTER, refusals). I/O lives here; the protocol logic is
//! the sans-IO [`Legs`](crate::sip::leg::Legs) core each shard owns.
//!
//! Messages are parsed on the transport tasks and dispatched to a shard by Call-ID, so every
//! message of a dialog meets the same state. Call-IDs we generate carry their shard's index (see
//! [`shard_seed`]) so responses and in-dialog requests for outgoing legs come back to the shard
//! that made them. The call layer plugs in through [`CallSink`].

mod ingress;
mod invite_auth;
mod outbound;
mod shard;
mod tu;

use crate::config::Settings;
use crate::metrics::Metrics;
use crate::sip::abuse::FailureLimiter;
use crate::sip::leg::{LegEvent, LegId, OutgoingCall};
use crate::sip::message::Request;
use crate::sip::registrar::Registrar;
use crate::sip::transaction::Peer;
use crate::sip::transport::Transports;
use bytes::Bytes;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;
use tokio::sync::{mpsc, oneshot};

pub use invite_auth::InviteAuth;
pub use shard::ShardInput;
pub use tu::{RegistrationSink, ALLOW};

/// One leg in one shard: what the call layer holds to command a leg.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct LegRef {
    pub shard: usize,
    pub leg: LegId,
}

/// A new incoming INVITE, for the call layer to admit or refuse.
pub struct IncomingCall {
    pub leg: LegRef,
    pub invite: Request,
    pub from: Peer,
    pub received: Instant,
}

/// The call layer's decision on an incoming call.
pub enum Admission {
    /// Refuse with this status (404, 488, 503…) and extra headers (Retry-After…).
    Reject {
        status: u16,
        headers: Vec<(&'static str, String)>,
    },
    /// Ring and answer at once with `sdp`; later events of the leg go to `events`.
    Answer {
        sdp: Bytes,
        events: mpsc::UnboundedSender<(LegRef, LegEvent)>,
    },
    /// Ring now (180); the call layer answers later with [`Command::Answer`].
    Ring {
        events: mpsc::UnboundedSender<(LegRef, LegEvent)>,
    },
}

/// The call layer, as the endpoint sees it.
pub trait CallSink: Send + Sync + 'static {
    fn incoming(&self, call: IncomingCall) -> Admission;
}

/// Commands from the call layer to a leg.
#[derive(Debug)]
#[allow(clippy::large_enum_variant)]
pub enum Command {
    Answer(LegId, Bytes),
    Reject(LegId, u16),
    AuthorizeWith(LegId, crate::sip::auth::Credentials),
    Respond(crate::sip::transaction::TxId, crate::sip::message::Response),
    Hangup(LegId),
    /// CANCEL an outgoing call attempt with an RFC 3326 `Reason` (BYE once answered).
    Cancel(LegId, Option<String>),
    Reinvite(LegId, Bytes),
    AnswerReinvite(LegId, Bytes),
    RejectReinvite(LegId, u16),
    Authorize(LegId, Vec<String>),
    /// Send a request outside any call (outbound REGISTER); responses (provisional and final),
    /// or `Err(timeout?)` when it fails, go to `responses`.
    SendRequest {
        request: Request,
        to: Peer,
        responses: mpsc::UnboundedSender<Result<crate::sip::message::Response, bool>>,
    },
    Call {
        call: OutgoingCall,
        events: mpsc::UnboundedSender<(LegRef, LegEvent)>,
        reply: oneshot::Sender<Result<LegRef, String>>,
    },
}

/// Shared by every shard.
pub struct Shared {
    pub settings: Arc<Settings>,
    pub metrics: Arc<Metrics>,
    pub transports: Arc<Transports>,
    pub registrar: Mutex<Registrar>,
    /// Failed-auth counters and bans (REGISTER password guessing).
    pub limiter: Mutex<FailureLimiter>,
    /// Digest for INVITEs that would place a billable leg (407), see [`InviteAuth`].
    pub proxy_auth: Mutex<crate::sip::auth_server::Authenticator>,
    pub credentials: Arc<dyn crate::sip::registrar::CredentialLookup + Send + Sync>,
    pub registrations: Arc<dyn RegistrationSink>,
    pub calls: Arc<dyn CallSink>,
    pub draining: AtomicBool,
}

/// Handle to the running endpoint.
#[derive(Clone)]
pub struct Endpoint {
    shards: Arc<Vec<mpsc::UnboundedSender<ShardInput>>>,
    pub shared: Arc<Shared>,
    next: Arc<std::sync::atomic::AtomicUsize>,
}

impl Endpoint {
    /// Send a command to a leg's shard.
    pub fn command(&self, shard: usize, cmd: Command) {
        if let Some(tx) = self.shards.get(shard) {
            let _ = tx.send(ShardInput::Command(cmd));
        }
    }

    pub fn hangup(&self, leg: LegRef) {
        self.command(leg.shard, Command::Hangup(leg.leg));
    }

    /// CANCEL an outgoing call attempt saying why (RFC 3326 `Reason`).
    pub fn cancel(&self, leg: LegRef, reason: Option<String>) {
        self.command(leg.shard, Command::Cancel(leg.leg, reason));
    }

    /// Place an outgoing call on some shard; events of the new leg go to `events`.
    pub async fn call(
        &self,
        call: OutgoingCall,
        events: mpsc::UnboundedSender<(LegRef, LegEvent)>,
    ) -> Result<LegRef, String> {
        let shard = self.next.fetch_add(1, Ordering::Relaxed) % self.shards.len();
        let (reply, rx) = oneshot::channel();
        self.command(
            shard,
            Command::Call {
                call,
                events,
                reply,
            },
        );
        rx.await.map_err(|_| "endpoint stopped".to_string())?
    }

    /// Send a request outside any call to the shard that will see its responses (by Call-ID).
    pub fn send_request(
        &self,
        request: Request,
        to: Peer,
    ) -> mpsc::UnboundedReceiver<Result<crate::sip::message::Response, bool>> {
        let (responses, rx) = mpsc::unbounded_channel();
        let shard = shard_of(request.call_id().unwrap_or(""), self.shards.len());
        self.command(
            shard,
            Command::SendRequest {
                request,
                to,
                responses,
            },
        );
        rx
    }

    /// The phone `aor` registered most recently, if its registration is still live (the one
    /// an agent's offer, a supervisor's monitoring or a direct line rings).
    pub fn registered_phone(&self, aor: &str) -> Option<crate::sip::registrar::Binding> {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        self.shared.registrar.lock().ok()?.lookup(aor, now).pop()
    }

    /// Stop admitting calls: new INVITEs get 503 with Retry-After.
    pub fn start_draining(&self) {
        self.shared.draining.store(true, Ordering::SeqCst);
    }

    pub fn draining(&self) -> bool {
        self.shared.draining.load(Ordering::SeqCst)
    }
}

/// The per-shard seed for ids: its low 32 bits (which end every Call-ID we generate) carry a
/// marker and the shard index, so [`shard_of`] can route our own Call-IDs home.
pub fn shard_seed(shard: usize) -> u64 {
    let high: u64 = rand::random::<u32>().into();
    (high << 32) | u64::from(CALL_ID_MARKER) << 16 | (shard as u64 & 0xffff)
}

const CALL_ID_MARKER: u32 = 0x484c; // "HL"

/// Which shard owns a Call-ID: ours by the embedded index, others by hash.
pub fn shard_of(call_id: &str, shards: usize) -> usize {
    let local = call_id.split('@').next().unwrap_or(call_id);
    if local.len() == 24 && local.is_char_boundary(16) && local.is_char_boundary(20) {
        if let (Some(m), Some(idx)) = (local.get(16..20), local.get(20..24)) {
            if u32::from_str_radix(m, 16).ok() == Some(CALL_ID_MARKER) {
                if let Ok(i) = usize::from_str_radix(idx, 16) {
                    return i % shards;
                }
            }
        }
    }
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in call_id.bytes() {
        h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
    }
    (h % shards as u64) as usize
}

/// Start transports and shards. Fails only if a socket cannot be bound.
pub async fn start(
    settings: Arc<Settings>,
    metrics: Arc<Metrics>,
    registrar: Registrar,
    credentials: Arc<dyn crate::sip::registrar::CredentialLookup + Send + Sync>,
    registrations: Arc<dyn RegistrationSink>,
    calls: Arc<dyn CallSink>,
) -> std::io::Result<Endpoint> {
    let n = if settings.sip.workers == 0 {
        std::thread::available_parallelism().map_or(2, |n| n.get())
    } else {
        settings.sip.workers
    };
    let mut senders = Vec::with_capacity(n);
    let mut receivers = Vec::with_capacity(n);
    for _ in 0..n {
        let (tx, rx) = mpsc::unbounded_channel();
        senders.push(tx);
        receivers.push(rx);
    }
    let senders = Arc::new(senders);
    let limits = ingress::Limits {
        max_vias: settings.sip.abuse.max_vias,
        max_headers: settings.sip.abuse.max_headers,
    };
    let ingress = ingress::ingress(senders.clone(), metrics.clone(), limits);
    let limiter = Mutex::new(FailureLimiter::new(settings.sip.abuse.clone()));
    let proxy_auth = Mutex::new(crate::sip::auth_server::Authenticator::new(
        &settings.sip.realm,
        &rand::random::<[u8; 32]>(),
        settings.sip.nonce_ttl_secs,
    ));
    let transports = Transports::bind(settings.sip.udp, settings.sip.tcp, ingress).await?;
    let shared = Arc::new(Shared {
        settings,
        metrics,
        transports,
        registrar: Mutex::new(registrar),
        limiter,
        proxy_auth,
        credentials,
        registrations,
        calls,
        draining: AtomicBool::new(false),
    });
    let endpoint = Endpoint {
        shards: senders,
        shared: shared.clone(),
        next: Arc::new(std::sync::atomic::AtomicUsize::new(0)),
    };
    for (i, rx) in receivers.into_iter().enumerate() {
        shard::spawn(i, shared.clone(), rx);
    }
    tu::spawn_registration_expiry(shared.clone());
    outbound::spawn_trunk_registrations(&endpoint);
    Ok(endpoint)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn our_call_ids_route_to_their_shard_and_others_hash_stably() {
        let mut ids = crate::sip::transaction::IdGen::new(shard_seed(3));
        let cid = ids.call_id("10.0.0.1");
        assert_eq!(shard_of(&cid, 4), 3, "{cid}");
        let foreign = "a84b4c76e66710@pc33.atlanta.com";
        assert_eq!(shard_of(foreign, 4), shard_of(foreign, 4));
        assert!(shard_of(foreign, 4) < 4);
    }
}
