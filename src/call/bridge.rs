//! A direct line: the caller is held ringing while we call one agent's registered phone or an
//! external number through a trunk (the B2BUA's client side), then the two legs are joined.
//!
//! Until the media engine anchors RTP, the legs exchange their SDP end to end (media flows
//! between the phones, as Asterisk's directmedia does): our offer to the agent is the caller's
//! offer, the caller's answer is the agent's. Everything else — ringing, answer, CANCEL when the
//! caller gives up, 401/407 challenges, BYE from either side, re-INVITEs — is ours.

use super::env::CallEnv;
use crate::config::{DirectLine, DirectTarget};
use crate::events::Event;
use crate::sip::auth::{Credentials, Secret};
use crate::sip::endpoint::{Command, Endpoint, LegRef};
use crate::sip::leg::{EndedBy, LegEvent, OutgoingCall};
use crate::sip::message::{NameAddr, Uri};
use crate::sip::transaction::Peer;
use bytes::Bytes;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc::{unbounded_channel, UnboundedReceiver};

pub(super) struct Bridge {
    pub call_id: String,
    pub caller: LegRef,
    pub caller_id: String,
    pub offer: Bytes,
    pub line: DirectLine,
    /// Who asked for the call, when it goes to a trunk (the outbound gate counts them).
    pub requester: Option<crate::outbound::Requester>,
    pub env: Arc<CallEnv>,
}

/// Where the outgoing leg goes and with which credentials.
struct Target {
    peer: Peer,
    uri: Uri,
    to: NameAddr,
    credentials: Option<Credentials>,
    label: String,
}

impl Bridge {
    pub async fn run(self, mut caller_rx: UnboundedReceiver<(LegRef, LegEvent)>) {
        let Some(ep) = self.env.endpoint.get().cloned() else {
            return;
        };
        let cause = match self.target(&ep) {
            Ok(t) => self.bridge(&ep, t, &mut caller_rx).await,
            Err(status) => {
                ep.command(self.caller.shard, Command::Reject(self.caller.leg, status));
                "failed"
            }
        };
        self.env.finish_call(&self.call_id, cause);
    }

    fn target(&self, ep: &Endpoint) -> Result<Target, u16> {
        let s = &self.env.settings.sip;
        match &self.line.target {
            DirectTarget::Agent(user) => {
                // The most recently refreshed phone; forking to all of them can come with the ACD.
                let b = ep.registered_phone(user).ok_or(480u16)?;
                let uri = Uri::parse(&b.contact).map_err(|_| 480u16)?;
                let to =
                    NameAddr::parse(&format!("<sip:{user}@{}>", s.domain)).map_err(|_| 500u16)?;
                Ok(Target {
                    peer: b.source,
                    uri,
                    to,
                    credentials: None,
                    label: format!("agent:{user}"),
                })
            }
            DirectTarget::Trunk { trunk, number } => {
                // A billable leg: the outbound gate decides (premium numbers, caps); a refusal
                // is logged and counted there, and the caller gets 403.
                let req = crate::outbound::Request {
                    path: crate::outbound::Path::DirectLine,
                    number: number.clone(),
                    requester: self.requester.clone().ok_or(403u16)?,
                    trunk: Some(trunk.clone()),
                };
                let route = self
                    .env
                    .outbound
                    .admit(&self.call_id, &req)
                    .map_err(|_| 403u16)?;
                let t = s
                    .trunks
                    .iter()
                    .find(|t| t.name == route.trunk)
                    .ok_or(503u16)?;
                let uri = Uri::parse(&format!("sip:{number}@{}", t.domain)).map_err(|_| 500u16)?;
                let to =
                    NameAddr::parse(&format!("<sip:{number}@{}>", t.domain)).map_err(|_| 500u16)?;
                let credentials = trunk_credentials(t);
                Ok(Target {
                    peer: Peer::udp(t.proxy),
                    uri,
                    to,
                    credentials,
                    label: format!("trunk:{trunk}"),
                })
            }
        }
    }

    async fn bridge(
        &self,
        ep: &Endpoint,
        target: Target,
        caller_rx: &mut UnboundedReceiver<(LegRef, LegEvent)>,
    ) -> &'static str {
        let s = &self.env.settings.sip;
        let from = NameAddr::parse(&format!("<sip:{}@{}>", self.caller_id, s.domain))
            .or_else(|_| NameAddr::parse(&format!("<sip:anonymous@{}>", s.domain)));
        let Ok(from) = from else { return "failed" };
        let (tx, mut callee_rx) = unbounded_channel();
        let call = OutgoingCall {
            target: target.peer,
            uri: target.uri.clone(),
            from,
            to: target.to.clone(),
            sdp: Some(self.offer.clone()),
            headers: vec![],
        };
        let callee = match ep.call(call, tx).await {
            Ok(l) => l,
            Err(e) => {
                tracing::warn!(call_id = %self.call_id, error = %e, "outgoing leg not placed");
                ep.command(self.caller.shard, Command::Reject(self.caller.leg, 503));
                return "failed";
            }
        };
        let leg_event = |state: &str, status: Option<u16>| Event::LegState {
            leg: format!("{}", callee.leg),
            target: target.label.clone(),
            state: state.to_string(),
            status,
        };
        self.env.record(&self.call_id, leg_event("calling", None));
        let ring_timeout = tokio::time::sleep(Duration::from_secs(self.line.ring_secs));
        tokio::pin!(ring_timeout);
        let mut answered = false;
        let mut auth_tries = 0;
        loop {
            tokio::select! {
                _ = &mut ring_timeout, if !answered => {
                    ep.hangup(callee);
                    ep.command(self.caller.shard, Command::Reject(self.caller.leg, 480));
                    self.env.record(&self.call_id, leg_event("no_answer", Some(480)));
                    return "no_answer";
                }
                ev = callee_rx.recv() => {
                    let Some((_, ev)) = ev else { return "failed" };
                    match ev {
                        LegEvent::Ringing { status, .. } => self.env.record(&self.call_id, leg_event("ringing", Some(status))),
                        LegEvent::Answered { sdp } => {
                            answered = true;
                            self.env.record(&self.call_id, leg_event("answered", Some(200)));
                            let answer = sdp.unwrap_or_default();
                            ep.command(self.caller.shard, Command::Answer(self.caller.leg, answer));
                        }
                        LegEvent::NeedsAuth { status, .. } => {
                            auth_tries += 1;
                            match (&target.credentials, auth_tries) {
                                (Some(c), 1..=2) => ep.command(callee.shard, Command::AuthorizeWith(callee.leg, c.clone())),
                                _ => {
                                    ep.hangup(callee);
                                    ep.command(self.caller.shard, Command::Reject(self.caller.leg, 503));
                                    self.env.record(&self.call_id, leg_event("auth_failed", Some(status)));
                                    return "failed";
                                }
                            }
                        }
                        LegEvent::Failed { status, .. } => {
                            self.env.record(&self.call_id, leg_event("failed", Some(status)));
                            let to_caller = if status == 486 || status == 600 { 486 } else { 480 };
                            ep.command(self.caller.shard, Command::Reject(self.caller.leg, to_caller));
                            return "no_answer";
                        }
                        LegEvent::ReInviteDone { status, sdp } => {
                            let _ = (status, sdp);
                        }
                        LegEvent::ReInvite { sdp } => {
                            // The callee re-offers (hold): answer it with the caller's last offer.
                            let _ = sdp;
                            ep.command(callee.shard, Command::AnswerReinvite(callee.leg, self.offer.clone()));
                        }
                        LegEvent::Ended { .. } | LegEvent::Cancelled => {
                            self.env.record(&self.call_id, leg_event("ended", None));
                            ep.hangup(self.caller);
                            return "agent_hangup";
                        }
                        _ => {}
                    }
                }
                ev = caller_rx.recv() => {
                    let Some((_, ev)) = ev else { return "failed" };
                    match ev {
                        LegEvent::Confirmed { .. } => self.env.record(&self.call_id, Event::CallAnswered {}),
                        LegEvent::Cancelled => {
                            // The caller gave up while the far end rang: stop its ringing at once.
                            ep.hangup(callee);
                            self.env.record(&self.call_id, leg_event("cancelled", None));
                            return "cancelled";
                        }
                        LegEvent::Ended { by, .. } => {
                            ep.hangup(callee);
                            return if by == EndedBy::Remote { "caller_hangup" } else { "server_hangup" };
                        }
                        LegEvent::ReInvite { sdp } => match sdp {
                            Some(sdp) if answered => {
                                ep.command(callee.shard, Command::Reinvite(callee.leg, sdp));
                                // Answer the caller with the callee's answer when it comes.
                                let answer = wait_reinvite_answer(&mut callee_rx).await;
                                ep.command(self.caller.shard, Command::AnswerReinvite(self.caller.leg, answer.unwrap_or_default()));
                            }
                            _ => ep.command(self.caller.shard, Command::RejectReinvite(self.caller.leg, 488)),
                        },
                        _ => {}
                    }
                }
            }
        }
    }
}

/// What we answer a trunk's 401/407 with, if it has a username and password.
pub(super) fn trunk_credentials(t: &crate::config::TrunkSettings) -> Option<Credentials> {
    match (&t.username, &t.password) {
        (Some(u), Some(p)) => Some(Credentials {
            username: u.clone(),
            secret: Secret::Password(p.clone()),
        }),
        _ => None,
    }
}

async fn wait_reinvite_answer(rx: &mut UnboundedReceiver<(LegRef, LegEvent)>) -> Option<Bytes> {
    let wait = async {
        while let Some((_, ev)) = rx.recv().await {
            if let LegEvent::ReInviteDone { sdp, .. } = ev {
                return sdp;
            }
        }
        None
    };
    tokio::time::timeout(Duration::from_secs(10), wait)
        .await
        .ok()
        .flatten()
}
