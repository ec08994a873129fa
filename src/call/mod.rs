//! One call's orchestration: admits an incoming INVITE (number, capacity, codecs), answers it,
//! and runs a task per call that reacts to its leg's events and records the call's events.
//! This is the only module that knows the SIP endpoint, the store and (later) media, IVR and
//! routing together.

mod agent_io;
mod agent_side;
mod announcement;
mod bridge;
mod callback;
mod callback_dial;
mod driver;
mod env;
mod facts;
mod hold;
mod identity;
pub mod machine;
mod media_map;
mod monitor;
mod perform;
mod ports;
mod queue_side;
mod recording;
mod session;
mod transfer;
mod voicemail;

pub use env::{CallEnv, CallRecording, IvrParts};
pub use identity::{caller_identity, dialled_number};

use crate::config::Settings;
use crate::metrics::Metrics;
use crate::sip::endpoint::{Admission, CallSink, Command, Endpoint, IncomingCall, LegRef};
use crate::sip::sdp::SessionDescription;
use crate::sip::sdp_negotiate::{answer, LocalMedia};
use crate::store::StoreHandle;
use std::sync::Arc;
use std::time::Duration;

/// Admits calls: the SIP endpoint's [`CallSink`]. What every call's task shares (settings,
/// the store, the endpoint, the table of calls in progress) is its [`CallEnv`].
pub struct CallManager {
    env: Arc<CallEnv>,
}

impl std::ops::Deref for CallManager {
    type Target = CallEnv;
    fn deref(&self) -> &CallEnv {
        &self.env
    }
}

impl CallManager {
    /// `ivr`: None runs signalling only (every support number answered and held until BYE).
    pub fn new(
        settings: Arc<Settings>,
        metrics: Arc<Metrics>,
        events: StoreHandle,
        ivr: Option<IvrParts>,
        outbound: Arc<crate::outbound::OutboundGate>,
    ) -> Arc<CallManager> {
        Arc::new(CallManager {
            env: Arc::new(CallEnv::new(settings, metrics, events, ivr, outbound)),
        })
    }

    /// Give the manager the endpoint it commands (created after the manager).
    pub fn attach(&self, endpoint: Endpoint) {
        let _ = self.env.endpoint.set(endpoint);
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
}

impl CallSink for CallManager {
    fn incoming(&self, call: IncomingCall) -> Admission {
        let sip = &self.settings.sip;
        let source = call.from.addr.ip();
        // The number dialled is read by the trunk's country, the caller's by the line's.
        let called = dialled_number(&call.invite, sip.trunk_region(source)).unwrap_or_default();
        let (caller, asserted) = caller_identity(
            &call.invite,
            source,
            &sip.trusted_trunks,
            sip.line_region(source, &called),
        );
        let draining = self.endpoint.get().is_some_and(Endpoint::draining);
        if draining || self.active() >= sip.max_calls {
            return self.reject(&call, 503, caller, called);
        }
        let direct = sip.direct.iter().find(|d| d.number == called).cloned();
        if direct.is_none() && !sip.support_numbers.contains(&called) {
            return self.reject(&call, 404, caller, called);
        }
        if let Some(line) = direct {
            let requester = match &line.target {
                crate::config::DirectTarget::Trunk { .. } => {
                    match self.billable_requester(&call, &caller, asserted) {
                        Ok(r) => Some(r),
                        Err(refusal) => return refusal,
                    }
                }
                crate::config::DirectTarget::Agent(_) => None,
            };
            return self.direct_line(call, line, caller, called, asserted, requester);
        }
        if let Some(route) = self
            .ivr
            .as_ref()
            .and_then(|p| p.dialplans.current().route(&called))
        {
            return self.ivr_call(call, route, caller, called, asserted);
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
        tracing::info!(call_id = %call_id, %caller, %called, codec = media.codec.name(), "call arrived");
        self.admitted(&call, &call_id, caller, called, asserted);
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        if let Some(manager) = Some(self.env.clone()) {
            let ctx = session::Session {
                call_id,
                leg: call.leg,
                local,
                env: manager,
            };
            tokio::spawn(ctx.run(rx));
        }
        self.answer(call.leg, sdp.to_string().into(), tx)
    }
}

impl CallManager {
    /// Answer now, or ring for `answer_after_ms` first (a CANCEL meanwhile wins).
    fn answer(
        &self,
        leg: LegRef,
        sdp: bytes::Bytes,
        events: tokio::sync::mpsc::UnboundedSender<(LegRef, crate::sip::leg::LegEvent)>,
    ) -> Admission {
        let delay = Duration::from_millis(self.settings.sip.answer_after_ms);
        match (delay.is_zero(), self.endpoint.get()) {
            (false, Some(ep)) => {
                let ep = ep.clone();
                tokio::spawn(async move {
                    tokio::time::sleep(delay).await;
                    ep.command(leg.shard, Command::Answer(leg.leg, sdp));
                });
                Admission::Ring { events }
            }
            _ => Admission::Answer { sdp, events },
        }
    }
}

impl CallManager {
    /// Who asks for a billable leg with this INVITE: a trusted trunk's caller, or a user who
    /// passes digest (407 until they do; 403 when banned for failures).
    fn billable_requester(
        &self,
        call: &IncomingCall,
        caller: &str,
        asserted: bool,
    ) -> Result<crate::outbound::Requester, Admission> {
        use crate::outbound::Requester;
        use crate::sip::endpoint::InviteAuth;
        let ip = call.from.addr.ip();
        if asserted
            || self
                .settings
                .sip
                .trusted_trunks
                .iter()
                .any(|n| n.contains(ip))
        {
            return Ok(Requester::Asserted(caller.to_string()));
        }
        let Some(ep) = self.endpoint.get() else {
            return Err(Admission::Reject {
                status: 503,
                headers: vec![],
            });
        };
        match ep.authorize_invite(&call.invite, &call.from) {
            InviteAuth::Authorized(user) => Ok(Requester::User(user)),
            InviteAuth::Challenge(headers) => Err(Admission::Reject {
                status: 407,
                headers,
            }),
            InviteAuth::Forbidden => Err(Admission::Reject {
                status: 403,
                headers: vec![],
            }),
        }
    }

    /// Ring the caller and bridge to a direct line's target (see [`bridge`]); `requester`:
    /// who asks, for a target through a trunk.
    fn direct_line(
        &self,
        call: IncomingCall,
        line: crate::config::DirectLine,
        caller: String,
        called: String,
        asserted: bool,
        requester: Option<crate::outbound::Requester>,
    ) -> Admission {
        if call.invite.body.is_empty() {
            return self.reject(&call, 488, caller, called);
        }
        let (Ok(call_id), Some(manager)) = (
            call.invite.call_id().map(str::to_string),
            Some(self.env.clone()),
        ) else {
            return Admission::Reject {
                status: 500,
                headers: vec![],
            };
        };
        tracing::info!(call_id = %call_id, %caller, %called, "direct-line call arrived");
        self.admitted(&call, &call_id, caller.clone(), called, asserted);
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        let b = bridge::Bridge {
            call_id,
            caller: call.leg,
            caller_id: caller,
            offer: call.invite.body.clone(),
            line,
            requester,
            env: manager,
        };
        tokio::spawn(b.run(rx));
        Admission::Ring { events: tx }
    }
}

impl CallManager {
    /// Answer with our RTP session and run the caller through the dialplan (see [`ivr_call`]).
    fn ivr_call(
        &self,
        call: IncomingCall,
        route: crate::ivr::set::Route,
        caller: String,
        called: String,
        asserted: bool,
    ) -> Admission {
        use crate::ivr::engine::{CallContext, CrmState, Session as Ivr};
        let (Some(parts), Some(manager), Ok(call_id)) = (
            self.ivr.as_ref(),
            Some(self.env.clone()),
            call.invite.call_id().map(str::to_string),
        ) else {
            return Admission::Reject {
                status: 500,
                headers: vec![],
            };
        };
        let opts = crate::media::SessionOptions {
            label: call_id.clone(),
            inband_dtmf: self.settings.sip.inband_dtmf_numbers.contains(&called),
            ..Default::default()
        };
        let (media, media_rx) = match parts.media.open(opts) {
            Ok(m) => m,
            Err(e) => {
                tracing::warn!(call_id = %call_id, error = %e, "no RTP session for the call");
                return self.reject(&call, 503, caller, called);
            }
        };
        let local_addr = media.local_addr();
        let local = LocalMedia::new(local_addr.ip(), local_addr.port());
        let Some((sdp, mut neg)) = media_map::answer_offer(&call.invite.body, &local) else {
            media.close();
            return self.reject(&call, 488, caller, called);
        };
        // Audio only to where the INVITE came from, unless a trusted trunk sent it.
        let pin = media_map::media_pin(call.from.addr.ip(), &self.settings.sip.trusted_trunks);
        media_map::pin_to_source(&mut neg, pin);
        tracing::debug!(call_id = %call_id, media = ?neg, "negotiated");
        media.set_remote(neg);
        let ctx = CallContext {
            caller: caller.clone(),
            called: called.clone(),
            crm: CrmState::NotAsked,
        };
        let Some(ivr) = Ivr::from_route(route, ctx) else {
            media.close();
            return self.reject(&call, 500, caller, called);
        };
        tracing::info!(call_id = %call_id, %caller, %called, plan = ivr.plan_version(), "call arrived for the IVR");
        let caller_id = caller.clone();
        let called_number = called.clone();
        self.admitted(&call, &call_id, caller, called, asserted);
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        let facts = facts::Facts {
            arrived_ms: crate::events::now_ms(),
            region: self
                .settings
                .sip
                .line_region(call.from.addr.ip(), &called_number)
                .to_string(),
            called: called_number.clone(),
            asserted,
            ..Default::default()
        };
        let mut task = driver::CallTask::new(
            call_id, call.leg, local, media, ivr, manager, caller_id, facts,
        );
        task.media_pin = pin;
        tokio::spawn(task.run(rx, media_rx));
        self.answer(call.leg, sdp.into(), tx)
    }
}
