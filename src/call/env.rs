//! What every call's task shares: the settings, metrics, event store and SIP endpoint, the
//! table of calls in progress, and the IVR's parts; and the call layer's small shared rules
//! (in-dialog answers, end causes). The per-call tasks hold an `Arc<CallEnv>`, never the
//! [`super::CallManager`] that admits calls, so no module of the call layer imports its parent.

use super::ports;
use crate::config::Settings;
use crate::events::{now_ms, Event};
use crate::metrics::Metrics;
use crate::sip::endpoint::{Admission, Endpoint, IncomingCall, LegRef};
use crate::store::StoreHandle;
use dashmap::DashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};

/// What the IVR path needs: the RTP engine, prompts in memory, the live dialplans and a CRM.
pub struct IvrParts {
    pub media: crate::media::MediaEngine,
    pub prompts: Arc<crate::media::PromptLibrary>,
    pub dialplans: Arc<crate::ivr::set::LiveDialplans>,
    /// Contacts and tickets for IVR lookups, pops and outcomes (None: nobody is known).
    pub crm: Option<crate::crm::Crm>,
    /// Where queued calls go to be offered to agents.
    pub router: Option<crate::acd::service::RouterHandle>,
    /// The agents' pages: offers with their pop, calls, wrap-up.
    pub desk: Option<Arc<crate::desk::Desk>>,
    /// WebRTC legs for agents who answer in the browser.
    pub webrtc: Option<Arc<crate::webrtc::WebRtcGateway>>,
    /// Queues whose answered calls are recorded, and where.
    pub recording: CallRecording,
    /// Queues with their own maximum call length (`max_call_s` in queues.toml).
    pub max_call: std::collections::HashMap<String, std::time::Duration>,
}

/// Which queues record, and where the files go.
#[derive(Debug, Clone, Default)]
pub struct CallRecording {
    pub dir: std::path::PathBuf,
    /// Names of the queues with `record = true`.
    pub queues: std::collections::HashSet<String>,
}

impl CallRecording {
    pub fn records(&self, queue: &str) -> bool {
        self.queues.contains(queue)
    }
}

/// What every call's task shares: settings, metrics, the event store, the SIP endpoint, the
/// table of calls in progress (for shutdown) and the IVR's parts.
pub struct CallEnv {
    pub(super) settings: Arc<Settings>,
    pub(super) metrics: Arc<Metrics>,
    pub(super) events: StoreHandle,
    pub(super) endpoint: OnceLock<Endpoint>,
    pub(super) active: AtomicUsize,
    pub(super) calls: DashMap<String, LegRef>,
    pub(super) ports: ports::PortPool,
    pub(super) media_ip: IpAddr,
    pub(super) ivr: Option<IvrParts>,
    pub(super) prompts: Arc<crate::media::PromptLibrary>,
    /// The gate every billable leg passes (see [`crate::outbound`]).
    pub(super) outbound: Arc<crate::outbound::OutboundGate>,
}

impl CallEnv {
    /// The live dialplans (None when the IVR is not running), for supervisors.
    pub fn dialplans(&self) -> Option<&Arc<crate::ivr::set::LiveDialplans>> {
        self.ivr.as_ref().map(|p| &p.dialplans)
    }

    /// The RTP engine's figures (None when the IVR is not running), for `/metrics`.
    pub fn media_stats(&self) -> Option<crate::media::stats::MediaStatsSnapshot> {
        self.ivr.as_ref().map(|p| p.media.stats().snapshot())
    }

    /// `ivr`: None runs signalling only (every support number answered and held until BYE).
    pub fn new(
        settings: Arc<Settings>,
        metrics: Arc<Metrics>,
        events: StoreHandle,
        ivr: Option<IvrParts>,
        outbound: Arc<crate::outbound::OutboundGate>,
    ) -> CallEnv {
        let media_ip = settings
            .media
            .advertised_address
            .as_deref()
            .unwrap_or(&settings.sip.advertised_host)
            .parse()
            .unwrap_or(IpAddr::from([127, 0, 0, 1]));
        let prompts = ivr.as_ref().map_or_else(
            || Arc::new(crate::media::PromptLibrary::new("en")),
            |p| p.prompts.clone(),
        );
        CallEnv {
            ivr,
            prompts,
            ports: ports::PortPool::new(settings.media.rtp_port_min, settings.media.rtp_port_max),
            settings,
            metrics,
            events,
            endpoint: OnceLock::new(),
            active: AtomicUsize::new(0),
            calls: DashMap::new(),
            media_ip,
            outbound,
        }
    }

    pub fn active(&self) -> usize {
        self.active.load(Ordering::SeqCst)
    }

    pub(super) fn record(&self, call_id: &str, event: Event) {
        self.events.append(event.record(Some(call_id), now_ms()));
    }

    /// A call takes its place: counted, listed for shutdown, and its arrival recorded.
    pub(super) fn admitted(
        &self,
        call: &IncomingCall,
        call_id: &str,
        caller: String,
        called: String,
        asserted: bool,
    ) {
        self.active.fetch_add(1, Ordering::SeqCst);
        self.metrics.calls_active.inc();
        self.calls.insert(call_id.to_string(), call.leg);
        let transport = call.from.transport.via_token();
        self.record(
            call_id,
            Event::CallArrived {
                caller,
                called,
                transport,
                asserted,
            },
        );
    }

    /// A call is over: record why and release its place.
    pub(super) fn finish_call(&self, call_id: &str, cause: &str) {
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

    pub(super) fn reject(
        &self,
        call: &IncomingCall,
        status: u16,
        caller: String,
        called: String,
    ) -> Admission {
        if let Ok(cid) = call.invite.call_id() {
            self.record(
                cid,
                // Both come from the network: bounded before they are stored.
                Event::CallRejected {
                    status,
                    caller: super::identity::capped(caller),
                    called: super::identity::capped(called),
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

impl CallEnv {
    /// `helpline_callbacks_total{outcome}`.
    pub(super) fn count_callback(&self, outcome: &str) {
        self.metrics.callbacks.with_label_values(&[outcome]).inc();
    }

    /// A called-back customer's leg is a call in progress (counted, hung up at shutdown).
    pub(super) fn callback_admitted(&self, call_id: &str, leg: LegRef) {
        self.active
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        self.metrics.calls_active.inc();
        self.calls.insert(call_id.to_string(), leg);
    }
}

/// Our answer to a request inside a call: OPTIONS and INFO are acknowledged, an UPDATE with an
/// offer is refused with 488, anything else is not served here (405 with Allow).
pub(super) fn in_dialog_response(
    request: &crate::sip::message::Request,
) -> crate::sip::message::Response {
    use crate::sip::message::{Method, Response};
    match request.method {
        Method::Options | Method::Info => Response::for_request(request, 200, ""),
        // UPDATE is allowed (body-less refreshes are answered by the leg); an offer in one is
        // not taken mid-call (RFC 3311 §5.2: 488, the session unchanged).
        Method::Update => Response::for_request(request, 488, ""),
        _ => {
            let mut resp = Response::for_request(request, 405, "");
            resp.headers.set("allow", crate::sip::endpoint::ALLOW);
            resp
        }
    }
}

/// The stored end cause of a call whose caller leg ended on its own (not by our hangup).
pub(super) fn end_cause(
    by: crate::sip::leg::EndedBy,
    cause: crate::sip::leg::EndCause,
) -> &'static str {
    use crate::sip::leg::{EndCause, EndedBy};
    match (by, cause) {
        (EndedBy::Remote, EndCause::Bye) => "caller_hangup",
        (EndedBy::Local, EndCause::Bye) => "server_hangup",
        (_, EndCause::AckTimeout) => "no_ack",
        (_, EndCause::DialogGone) | (_, EndCause::TransportError) => "failed",
        (_, EndCause::SessionExpired) => "session_expired",
    }
}

pub(super) fn cause_label(cause: &str) -> &'static str {
    match cause {
        "caller_hangup" => "caller_hangup",
        "server_hangup" => "server_hangup",
        "agent_hangup" => "agent_hangup",
        "cancelled" => "cancelled",
        "no_answer" => "no_answer",
        "no_ack" => "no_ack",
        "queue_busy" => "queue_busy",
        "session_expired" => "session_expired",
        "voicemail" => "voicemail",
        "media_timeout" => "media_timeout",
        "max_call_length" => "max_call_length",
        "outbound_refused" => "outbound_refused",
        _ => "failed",
    }
}
