//! One call's orchestration: admits an incoming INVITE (number, capacity, codecs), answers it,
//! and runs a task per call that reacts to its leg's events and records the call's events.
//! This is the only module that knows the SIP endpoint, the store and (later) media, IVR and
//! routing together.

mod bridge;
mod identity;
mod ports;
mod session;

pub use identity::{caller_identity, dialled_number};

use crate::config::Settings;
use crate::events::{now_ms, Event};
use crate::metrics::Metrics;
use crate::sip::endpoint::{Admission, CallSink, Command, Endpoint, IncomingCall, LegRef};
use crate::sip::sdp::SessionDescription;
use crate::sip::sdp_negotiate::{answer, LocalMedia};
use crate::store::StoreHandle;
use dashmap::DashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock, Weak};
use std::time::Duration;

/// Admits calls and owns the table of calls in progress.
pub struct CallManager {
    settings: Arc<Settings>,
    metrics: Arc<Metrics>,
    events: StoreHandle,
    endpoint: OnceLock<Endpoint>,
    active: AtomicUsize,
    calls: DashMap<String, LegRef>,
    ports: ports::PortPool,
    media_ip: IpAddr,
    /// A handle to ourselves for the per-call tasks.
    this: Weak<CallManager>,
}

impl CallManager {
    pub fn new(
        settings: Arc<Settings>,
        metrics: Arc<Metrics>,
        events: StoreHandle,
    ) -> Arc<CallManager> {
        let media_ip = settings
            .media
            .advertised_address
            .as_deref()
            .unwrap_or(&settings.sip.advertised_host)
            .parse()
            .unwrap_or(IpAddr::from([127, 0, 0, 1]));
        Arc::new_cyclic(|this| CallManager {
            this: this.clone(),
            ports: ports::PortPool::new(settings.media.rtp_port_min, settings.media.rtp_port_max),
            settings,
            metrics,
            events,
            endpoint: OnceLock::new(),
            active: AtomicUsize::new(0),
            calls: DashMap::new(),
            media_ip,
        })
    }

    /// Give the manager the endpoint it commands (created after the manager).
    pub fn attach(&self, endpoint: Endpoint) {
        let _ = self.endpoint.set(endpoint);
    }

    pub fn active(&self) -> usize {
        self.active.load(Ordering::SeqCst)
    }

    /// Graceful shutdown: wait up to `timeout` for calls to end, then hang up the rest.
    pub async fn drain(&self, timeout: Duration) {
        let deadline = tokio::time::Instant::now() + timeout;
        while self.active() > 0 && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        if let Some(ep) = self.endpoint.get() {
            for entry in self.calls.iter() {
                ep.hangup(*entry.value());
            }
        }
        let grace = tokio::time::Instant::now() + Duration::from_secs(2);
        while self.active() > 0 && tokio::time::Instant::now() < grace {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    fn record(&self, call_id: &str, event: Event) {
        self.events.append(event.record(Some(call_id), now_ms()));
    }

    /// A call is over: record why and release its place.
    fn finish_call(&self, call_id: &str, cause: &str) {
        tracing::info!(call_id = %call_id, cause, "call ended");
        self.record(
            call_id,
            Event::CallEnded {
                cause: cause.to_string(),
            },
        );
        self.calls.remove(call_id);
        self.metrics.calls_active.dec();
        self.metrics
            .calls_total
            .with_label_values(&[cause_label(cause)])
            .inc();
        self.active.fetch_sub(1, Ordering::SeqCst);
    }

    fn reject(
        &self,
        call: &IncomingCall,
        status: u16,
        caller: String,
        called: String,
    ) -> Admission {
        if let Ok(cid) = call.invite.call_id() {
            self.record(
                cid,
                Event::CallRejected {
                    status,
                    caller,
                    called,
                },
            );
        }
        let headers = if status == 503 {
            vec![(
                "retry-after",
                self.settings.sip.retry_after_secs.to_string(),
            )]
        } else {
            vec![]
        };
        Admission::Reject { status, headers }
    }
}

impl CallSink for CallManager {
    fn incoming(&self, call: IncomingCall) -> Admission {
        let sip = &self.settings.sip;
        let (caller, asserted) = caller_identity(
            &call.invite,
            call.from.addr.ip(),
            &sip.trusted_trunks,
            &sip.default_region,
        );
        let called = dialled_number(&call.invite, &sip.default_region).unwrap_or_default();
        let draining = self.endpoint.get().is_some_and(Endpoint::draining);
        if draining || self.active() >= sip.max_calls {
            return self.reject(&call, 503, caller, called);
        }
        let direct = sip.direct.iter().find(|d| d.number == called).cloned();
        if direct.is_none() && !sip.support_numbers.contains(&called) {
            return self.reject(&call, 404, caller, called);
        }
        if let Some(line) = direct {
            return self.direct_line(call, line, caller, called, asserted);
        }
        let offer = std::str::from_utf8(&call.invite.body)
            .ok()
            .and_then(|t| SessionDescription::parse(t).ok());
        let Some(offer) = offer else {
            // No (or unreadable) SDP offer: we answer only offers in the INVITE.
            return self.reject(&call, 488, caller, called);
        };
        let port = self.ports.next();
        let local = LocalMedia::new(self.media_ip, port);
        let Some((sdp, media)) = answer(&offer, &local) else {
            return self.reject(&call, 488, caller, called);
        };
        let Ok(call_id) = call.invite.call_id().map(str::to_string) else {
            return Admission::Reject {
                status: 400,
                headers: vec![],
            };
        };
        self.active.fetch_add(1, Ordering::SeqCst);
        self.metrics.calls_active.inc();
        self.calls.insert(call_id.clone(), call.leg);
        tracing::info!(call_id = %call_id, %caller, %called, codec = media.codec.name(), "call arrived");
        self.record(
            &call_id,
            Event::CallArrived {
                caller,
                called,
                transport: call.from.transport.via_token(),
                asserted,
            },
        );
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        if let Some(manager) = self.this.upgrade() {
            let ctx = session::Session {
                call_id,
                leg: call.leg,
                local,
                manager,
            };
            tokio::spawn(ctx.run(rx));
        }
        let sdp: bytes::Bytes = sdp.to_string().into();
        let delay = Duration::from_millis(sip.answer_after_ms);
        match (delay.is_zero(), self.endpoint.get()) {
            (false, Some(ep)) => {
                let (ep, leg) = (ep.clone(), call.leg);
                tokio::spawn(async move {
                    tokio::time::sleep(delay).await;
                    ep.command(leg.shard, Command::Answer(leg.leg, sdp));
                });
                Admission::Ring { events: tx }
            }
            _ => Admission::Answer { sdp, events: tx },
        }
    }
}

impl CallManager {
    /// Ring the caller and bridge to a direct line's target (see [`bridge`]).
    fn direct_line(
        &self,
        call: IncomingCall,
        line: crate::config::DirectLine,
        caller: String,
        called: String,
        asserted: bool,
    ) -> Admission {
        if call.invite.body.is_empty() {
            return self.reject(&call, 488, caller, called);
        }
        let (Ok(call_id), Some(manager)) = (
            call.invite.call_id().map(str::to_string),
            self.this.upgrade(),
        ) else {
            return Admission::Reject {
                status: 500,
                headers: vec![],
            };
        };
        self.active.fetch_add(1, Ordering::SeqCst);
        self.metrics.calls_active.inc();
        self.calls.insert(call_id.clone(), call.leg);
        tracing::info!(call_id = %call_id, %caller, %called, "direct-line call arrived");
        self.record(
            &call_id,
            Event::CallArrived {
                caller: caller.clone(),
                called,
                transport: call.from.transport.via_token(),
                asserted,
            },
        );
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        let b = bridge::Bridge {
            call_id,
            caller: call.leg,
            caller_id: caller,
            offer: call.invite.body.clone(),
            line,
            manager,
        };
        tokio::spawn(b.run(rx));
        Admission::Ring { events: tx }
    }
}

/// Unix time in seconds.
fn unix_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn cause_label(cause: &str) -> &'static str {
    match cause {
        "caller_hangup" => "caller_hangup",
        "server_hangup" => "server_hangup",
        "agent_hangup" => "agent_hangup",
        "cancelled" => "cancelled",
        "no_answer" => "no_answer",
        "no_ack" => "no_ack",
        _ => "failed",
    }
}
