//! A booked callback after its caller hung up: waits for the router's dial requests, calls
//! the customer through the first `[[sip.trunks]]` route (retries are the router's), and once
//! they answer hands the call to an ordinary [`CallTask`] under the same call id, where the
//! router's offer to the reserved agent is waiting. See [`super::callback`] for the rest.

use super::driver::CallTask;
use super::env::CallEnv;
use super::machine::callback::CallbackState;
use crate::acd::router::Input as RouterInput;
use crate::acd::service::CallbackCue;
use crate::acd::service::Cue;
use crate::acd::types::CallId;
use crate::events::{now_ms, Event};
use crate::ivr::engine::{QueueRequest, Session as Ivr};
use crate::media::{MediaEvent, MediaSession};
use crate::sip::endpoint::{Command, LegRef};
use crate::sip::leg::{LegEvent, OutgoingCall};
use crate::sip::message::{NameAddr, Uri};
use crate::sip::sdp_negotiate::LocalMedia;
use crate::sip::transaction::Peer;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc::{unbounded_channel, Receiver, UnboundedReceiver};

/// A booked callback whose caller has hung up: waits for the router's dial requests.
pub(super) struct Pending {
    call_id: String,
    caller: String,
    env: Arc<CallEnv>,
    ivr: Ivr,
    facts: super::facts::Facts,
    queued: Option<QueueRequest>,
    cues: UnboundedReceiver<Cue>,
    /// The call's machine, in `CallbackPending` or `Dialling`.
    machine: super::machine::CallMachine,
}

/// The customer's answered leg.
struct Answered {
    leg: LegRef,
    events: UnboundedReceiver<(LegRef, LegEvent)>,
    media: MediaSession,
    media_rx: Receiver<MediaEvent>,
    local: LocalMedia,
}

impl CallTask {
    /// The caller left with a booked callback: a [`Pending`] takes over the call's cues (see
    /// [`CallTask::take_booked_callback`]).
    pub(super) fn wait_for_callback(self, cues: UnboundedReceiver<Cue>) {
        Pending::wait(self, cues);
    }
}

impl Pending {
    /// Take over the finished call's cues.
    fn wait(call: CallTask, cues: UnboundedReceiver<Cue>) {
        let p = Pending {
            call_id: call.call_id,
            caller: call.caller,
            env: call.env,
            ivr: call.ivr,
            facts: call.facts,
            queued: call.queued,
            cues,
            machine: call.machine,
        };
        tokio::spawn(p.run());
    }

    fn record(&self, event: Event) {
        self.env.record(&self.call_id, event);
    }

    fn count(&self, outcome: &str) {
        self.env.count_callback(outcome);
    }

    fn router(&self) -> Option<&crate::acd::service::RouterHandle> {
        self.env.ivr.as_ref().and_then(|p| p.router.as_ref())
    }

    async fn run(mut self) {
        tracing::info!(call_id = %self.call_id, number = %self.caller, "callback waiting for its turn");
        while let Some(cue) = self.cues.recv().await {
            match cue {
                Cue::Callback(CallbackCue::Dial {
                    agent,
                    number,
                    attempt,
                    ring,
                }) => {
                    self.machine.dialling(attempt);
                    match self.dial(&agent, &number, attempt, ring).await {
                        Some(a) => match self.connect(a, agent, number, attempt).await {
                            Some(mut back) => {
                                back.machine.dial_failed();
                                self = back;
                            }
                            None => return,
                        },
                        None => self.machine.dial_failed(),
                    }
                }
                Cue::Callback(CallbackCue::Failed { attempts }) => {
                    self.machine.callback_failed();
                    tracing::info!(call_id = %self.call_id, attempts, "callback failed: no answer on any attempt");
                    self.count("failed");
                    self.record(Event::CallbackFailed {
                        number: self.caller.clone(),
                        attempts,
                    });
                    let i = self
                        .facts
                        .interaction(&self.call_id, &self.caller, now_ms());
                    super::perform::store_interaction(&self.env, i);
                    // Lets the routing task forget the call's cue channel.
                    if let Some(r) = self.router() {
                        r.send(RouterInput::CallAbandoned {
                            call: CallId::from(self.call_id.as_str()),
                        });
                    }
                    return;
                }
                // Nothing to do for a caller who is not on the line.
                other @ (Cue::Offer { .. }
                | Cue::StopRinging { .. }
                | Cue::Announce { .. }
                | Cue::QueueChanged { .. }
                | Cue::Outcome { .. }
                | Cue::Callback(
                    CallbackCue::Offer | CallbackCue::Booked { .. } | CallbackCue::Refused { .. },
                )) => {
                    tracing::debug!(call_id = %self.call_id, cue = ?other, "cue for a waiting callback ignored")
                }
            }
        }
    }

    /// One attempt: `Some` once the customer answers; otherwise the router is told.
    async fn dial(
        &mut self,
        agent: &str,
        number: &str,
        attempt: u32,
        ring: Duration,
    ) -> Option<Answered> {
        let trunk = self.env.settings.sip.trunks.first().map(|t| t.name.clone());
        tracing::info!(call_id = %self.call_id, %number, attempt, %agent, trunk = ?trunk, "dialling the customer back");
        self.count("dialled");
        self.record(Event::CallbackDialled {
            number: number.to_string(),
            attempt,
            agent: agent.to_string(),
            trunk: trunk.unwrap_or_default(),
        });
        match self.place(number, ring).await {
            Ok(a) => Some(a),
            Err(status) => {
                tracing::info!(call_id = %self.call_id, %number, attempt, ?status, "callback not answered");
                self.count("no_answer");
                self.record(Event::CallbackNoAnswer {
                    number: number.to_string(),
                    attempt,
                    status,
                });
                if let Some(r) = self.router() {
                    r.send(RouterInput::CallbackResult {
                        call: CallId::from(self.call_id.as_str()),
                        answered: false,
                    });
                }
                None
            }
        }
    }

    /// Call `number` through the first trunk with an RTP session of ours; `Err(status)` when it
    /// is not answered within `ring` (or cannot be placed).
    async fn place(&self, number: &str, ring: Duration) -> Result<Answered, Option<u16>> {
        let m = &self.env;
        let s = &m.settings.sip;
        // Every attempt passes the outbound gate (and is counted there): a refusal is logged
        // and counted by the gate, and the attempt fails like an unanswered one.
        let req = crate::outbound::Request {
            path: crate::outbound::Path::Callback,
            number: number.to_string(),
            requester: super::facts::requester(&self.facts, &self.caller),
            trunk: None,
        };
        let route = m.outbound.admit(&self.call_id, &req).map_err(|_| None)?;
        let Some(trunk) = s.trunks.iter().find(|t| t.name == route.trunk) else {
            tracing::warn!(call_id = %self.call_id, "no [[sip.trunks]] route to call the customer back on");
            return Err(None);
        };
        let (Some(ep), Some(parts)) = (m.endpoint.get().cloned(), m.ivr.as_ref()) else {
            return Err(None);
        };
        let from_user = if self.facts.called.is_empty() {
            "helpline"
        } else {
            self.facts.called.as_str()
        };
        let (Ok(uri), Ok(from), Ok(to)) = (
            Uri::parse(&format!("sip:{number}@{}", trunk.domain)),
            NameAddr::parse(&format!("<sip:{from_user}@{}>", s.domain)),
            NameAddr::parse(&format!("<sip:{number}@{}>", trunk.domain)),
        ) else {
            tracing::warn!(call_id = %self.call_id, %number, "callback number does not make a SIP URI");
            return Err(None);
        };
        let opts = crate::media::SessionOptions {
            label: format!("{}/callback", self.call_id),
            ..Default::default()
        };
        let (media, media_rx) = parts.media.open(opts).map_err(|e| {
            tracing::warn!(call_id = %self.call_id, error = %e, "no RTP session for the callback");
            None
        })?;
        let addr = media.local_addr();
        let local = LocalMedia::new(addr.ip(), addr.port());
        let sdp = crate::sip::sdp_negotiate::offer(&local).to_string();
        let (tx, mut events) = unbounded_channel();
        let out = OutgoingCall {
            target: Peer::udp(trunk.proxy),
            uri,
            from,
            to,
            sdp: Some(sdp.into()),
            headers: vec![],
        };
        let leg = match ep.call(out, tx).await {
            Ok(l) => l,
            Err(e) => {
                tracing::warn!(call_id = %self.call_id, error = %e, "callback leg not placed");
                media.close();
                return Err(None);
            }
        };
        let label = format!("callback:{}", trunk.name);
        let leg_state = |state: &str, status: Option<u16>| Event::LegState {
            leg: leg.leg.to_string(),
            target: label.clone(),
            state: state.to_string(),
            status,
        };
        self.record(leg_state("calling", None));
        let credentials = super::bridge::trunk_credentials(trunk);
        let deadline = tokio::time::sleep(ring);
        tokio::pin!(deadline);
        let mut auth_tries = 0;
        let failed = loop {
            tokio::select! {
                _ = &mut deadline => {
                    ep.hangup(leg);
                    self.record(leg_state("no_answer", None));
                    break None;
                }
                ev = events.recv() => {
                    let Some((_, ev)) = ev else { break None };
                    match ev {
                        LegEvent::Ringing { status, .. } => self.record(leg_state("ringing", Some(status))),
                        LegEvent::NeedsAuth { status, .. } => {
                            auth_tries += 1;
                            match (&credentials, auth_tries) {
                                (Some(c), 1..=2) => ep.command(leg.shard, Command::AuthorizeWith(leg.leg, c.clone())),
                                _ => {
                                    ep.hangup(leg);
                                    self.record(leg_state("auth_failed", Some(status)));
                                    break Some(status);
                                }
                            }
                        }
                        LegEvent::Answered { sdp } => {
                            let neg = sdp
                                .as_deref()
                                .and_then(|b| std::str::from_utf8(b).ok())
                                .and_then(|t| crate::sip::sdp::SessionDescription::parse(t).ok())
                                .and_then(|a| crate::sip::sdp_negotiate::accept_answer(&a, &local));
                            let Some(n) = neg else {
                                tracing::warn!(call_id = %self.call_id, "customer's answer has no usable audio");
                                ep.hangup(leg);
                                self.record(leg_state("failed", Some(488)));
                                break Some(488);
                            };
                            media.set_remote(super::media_map::to_media(&n));
                            self.record(leg_state("answered", Some(200)));
                            return Ok(Answered { leg, events, media, media_rx, local });
                        }
                        LegEvent::Failed { status, .. } => {
                            self.record(leg_state("failed", Some(status)));
                            break Some(status);
                        }
                        LegEvent::Ended { .. } | LegEvent::Cancelled => {
                            self.record(leg_state("ended", None));
                            break None;
                        }
                        _ => {}
                    }
                }
            }
        };
        media.close();
        Err(failed)
    }

    /// The customer answered: tell the router (which offers the call to the reserved agent),
    /// then run it as an ordinary queued call. `Some(self)`: the router had given the attempt
    /// up already; keep waiting for its next request.
    async fn connect(
        mut self,
        a: Answered,
        agent: String,
        number: String,
        attempt: u32,
    ) -> Option<Self> {
        let call = CallId::from(self.call_id.as_str());
        let taken = match self.router() {
            Some(r) => {
                r.request(RouterInput::CallbackResult {
                    call,
                    answered: true,
                })
                .await
            }
            None => None,
        };
        let ep = self.env.endpoint.get().cloned();
        if !matches!(taken, Some(Ok(()))) {
            // The router gave the attempt up meanwhile (its dial timer): the next attempt or
            // the failure follows from it.
            tracing::warn!(call_id = %self.call_id, result = ?taken, "callback answered too late for the router; hanging up");
            if let Some(ep) = ep {
                ep.hangup(a.leg);
            }
            a.media.close();
            return Some(self);
        }
        tracing::info!(call_id = %self.call_id, %number, attempt, %agent, "customer answered the callback");
        self.count("answered");
        self.record(Event::CallbackAnswered {
            number,
            attempt,
            agent: agent.clone(),
        });
        self.record(Event::CallAnswered {});
        self.env.callback_admitted(&self.call_id, a.leg);
        self.ivr.resume_queued();
        self.facts.callback = true;
        if let Some(music) = self.env.prompts.get("music", "hold") {
            a.media.start_music(vec![music]);
        }
        let mut task = CallTask::new(
            self.call_id,
            a.leg,
            a.local,
            a.media,
            self.ivr,
            self.env,
            self.caller,
            self.facts,
        );
        task.queued = self.queued;
        task.cues = Some(self.cues);
        self.machine.called_back();
        task.machine = self.machine;
        task.callback = CallbackState::called_back();
        // The router's offer to the reserved agent is waiting in the cues: the ordinary
        // offer, bridge and wrap-up path takes it from here.
        task.run(a.events, a.media_rx).await;
        None
    }
}
