//! UAC leg (outgoing call to an agent phone or a trunk): INVITE → 1xx (early dialog,
//! Ringing) → 2xx (ACK sent outside the transaction, §13.2.2.4; retransmitted 2xx are
//! re-ACKed; a 2xx from another fork is ACKed and BYEd) or 3xx–6xx (ACKed by the
//! transaction, Failed). 401/407 → `NeedsAuth`, then the INVITE is re-sent with the
//! credentials and CSeq + 1. CANCEL only once a provisional arrived (§9.1); without a
//! final response 64*T1 after the CANCEL the INVITE is abandoned.

use std::time::Instant;

use super::ctx::LegCtx;
use super::session::Session;
use super::timer;
use super::{sdp_of, LegError, LegEvent, OutgoingCall};
use crate::sip::auth::{pick_challenge, Credentials};
use crate::sip::dialog::Dialog;
use crate::sip::message::{Method, Request, Response};
use crate::sip::transaction::{Peer, TxId};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Calling,
    Early,
    AwaitingAuth,
    Answered,
    Failed,
    Cancelled,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cancel {
    No,
    /// Asked before any provisional: sent when one arrives.
    Wanted,
    /// Sent; give up on the INVITE at this deadline.
    Sent(Instant),
}

#[derive(Debug)]
pub(crate) struct UacLeg {
    invite: Request,
    invite_tx: Option<TxId>,
    peer: Peer,
    state: State,
    provisional: bool,
    cancel: Cancel,
    auth_attempts: u32,
    challenge_status: u16,
    challenges: Vec<String>,
    /// INVITEs re-sent after a 422 (a peer raising its Min-SE for ever is cut off).
    interval_retries: u32,
    early: Option<Dialog>,
    pub session: Option<Session>,
    /// The RFC 3326 `Reason` our CANCEL carries (e.g. "call completed elsewhere").
    cancel_reason: Option<String>,
}

impl UacLeg {
    /// Builds and sends the INVITE.
    pub fn start(
        ctx: &mut LegCtx,
        call: OutgoingCall,
        call_id: &str,
        local_tag: &str,
    ) -> Result<UacLeg, LegError> {
        let transport = call.target.transport;
        let mut from = call.from;
        from.set_tag(local_tag);
        let mut invite = Request::new(Method::Invite, call.uri);
        invite.headers.push("via", ctx.via(transport).to_string());
        invite.headers.push("max-forwards", "70");
        invite.headers.push("from", from.to_string());
        invite.headers.push("to", call.to.to_string());
        invite.headers.push("call-id", call_id);
        invite.headers.push("cseq", "1 INVITE");
        invite
            .headers
            .push("contact", ctx.contact(transport).to_string());
        invite.headers.push("allow", ctx.cfg.allow.clone());
        if timer::enabled(ctx.cfg) {
            let se = ctx.cfg.session_expires.to_string();
            for (name, value) in timer::request_headers(se, ctx.cfg.min_se) {
                invite.headers.push(name, value);
            }
        }
        for (name, value) in &call.headers {
            invite.headers.push(name, value.as_str());
        }
        if let Some(sdp) = call.sdp {
            invite.set_body("application/sdp", sdp);
        }
        let tx = ctx
            .send_request(invite.clone(), call.target)
            .ok_or(LegError::Send("transaction layer refused the INVITE"))?;
        Ok(UacLeg {
            invite,
            invite_tx: Some(tx),
            peer: call.target,
            state: State::Calling,
            provisional: false,
            cancel: Cancel::No,
            auth_attempts: 0,
            challenge_status: 0,
            challenges: Vec::new(),
            interval_retries: 0,
            early: None,
            session: None,
            cancel_reason: None,
        })
    }

    pub fn dialog(&self) -> Option<&Dialog> {
        self.session
            .as_ref()
            .map(|s| &s.dialog)
            .or(self.early.as_ref())
    }

    fn unanswered(&self) -> bool {
        matches!(
            self.state,
            State::Calling | State::Early | State::AwaitingAuth
        )
    }

    pub fn on_response(&mut self, ctx: &mut LegCtx, tx: TxId, resp: Response) {
        if Some(tx) != self.invite_tx {
            if let Some(s) = self.session.as_mut() {
                s.on_response(ctx, tx, &resp);
            }
            return;
        }
        match resp.status {
            100..=199 => self.on_provisional(ctx, &resp),
            200..=299 => self.on_2xx(ctx, &resp),
            401 | 407 => self.on_challenge(ctx, &resp),
            422 => self.on_interval_too_small(ctx, &resp),
            _ => self.on_failure(ctx, &resp),
        }
    }

    fn on_provisional(&mut self, ctx: &mut LegCtx, resp: &Response) {
        if !matches!(self.state, State::Calling | State::Early) {
            return;
        }
        self.provisional = true;
        if self.cancel == Cancel::Wanted {
            self.send_cancel(ctx);
            return;
        }
        if resp.status == 100 || self.cancel != Cancel::No {
            return;
        }
        if self.early.is_none() {
            self.early = Dialog::uac(&self.invite, resp).ok();
        }
        self.state = State::Early;
        ctx.emit(LegEvent::Ringing {
            status: resp.status,
            sdp: sdp_of(&resp.headers, &resp.body),
        });
    }

    /// A 2xx to our INVITE: from the transaction or a stray retransmission.
    pub fn on_2xx(&mut self, ctx: &mut LegCtx, resp: &Response) {
        let tag = resp.to_tag();
        if let Some(s) = self.session.as_mut() {
            if tag.as_deref() == Some(s.dialog.id.remote_tag.as_str()) {
                s.on_2xx_retransmission(ctx, resp);
            } else {
                self.ack_and_bye(ctx, resp);
            }
            return;
        }
        if !self.unanswered() || self.cancel != Cancel::No {
            // Answered after we gave up (CANCEL/200 race): take the call down.
            self.ack_and_bye(ctx, resp);
            self.set_cancelled(ctx);
            return;
        }
        let dialog = match self.early.take() {
            Some(mut d) if tag.as_deref() == Some(d.id.remote_tag.as_str()) => {
                d.confirm(resp).map(|()| d)
            }
            _ => Dialog::uac(&self.invite, resp),
        };
        let Ok(dialog) = dialog else {
            // A 2xx without a To tag cannot be ACKed in a dialog; treat as failure.
            self.state = State::Failed;
            ctx.emit(LegEvent::Failed {
                status: 502,
                reason: "2xx without To tag".into(),
            });
            return;
        };
        let seq = self.invite.cseq().map(|c| c.seq).unwrap_or(1);
        let mut session = Session::new(dialog, self.peer);
        session.ack_headers = self.credentials();
        session.send_ack(ctx, seq);
        session.local_sdp = sdp_of(&self.invite.headers, &self.invite.body);
        session.peer_allows_update = timer::allows_update(&resp.headers);
        let requested = timer::session_expires(&self.invite.headers)
            .map_or(ctx.cfg.session_expires, |se| se.secs);
        session.refreshed(ctx, timer::as_uac(&resp.headers, ctx.cfg, requested));
        self.session = Some(session);
        self.state = State::Answered;
        ctx.emit(LegEvent::Answered {
            sdp: sdp_of(&resp.headers, &resp.body),
        });
    }

    /// Our INVITE again for a new attempt (after a challenge or a 422): a new branch and the
    /// next CSeq.
    fn next_invite(&self, ctx: &mut LegCtx) -> Request {
        let mut invite = self.invite.clone();
        invite.headers.remove("via");
        invite
            .headers
            .push_front("via", ctx.via(self.peer.transport).to_string());
        let seq = invite.cseq().map(|c| c.seq).unwrap_or(1).wrapping_add(1);
        invite.headers.set("cseq", format!("{seq} INVITE"));
        invite
    }

    /// The INVITE's Authorization / Proxy-Authorization values (repeated in the ACK).
    fn credentials(&self) -> Vec<(&'static str, String)> {
        ["authorization", "proxy-authorization"]
            .into_iter()
            .flat_map(|n| {
                self.invite
                    .headers
                    .get_all(n)
                    .map(move |v| (n, v.to_string()))
            })
            .collect()
    }

    /// ACK a 2xx from a dialog we do not want, then BYE it.
    fn ack_and_bye(&mut self, ctx: &mut LegCtx, resp: &Response) {
        if let Ok(d) = Dialog::uac(&self.invite, resp) {
            let seq = self.invite.cseq().map(|c| c.seq).unwrap_or(1);
            let mut s = Session::new(d, self.peer);
            s.ack_headers = self.credentials();
            s.send_ack(ctx, seq);
            s.send_bye(ctx);
        }
    }

    fn on_challenge(&mut self, ctx: &mut LegCtx, resp: &Response) {
        let header = if resp.status == 401 {
            "www-authenticate"
        } else {
            "proxy-authenticate"
        };
        let challenges: Vec<String> = resp.headers.get_all(header).map(str::to_string).collect();
        self.auth_attempts += 1;
        if self.auth_attempts > ctx.cfg.max_auth_attempts
            || challenges.is_empty()
            || self.cancel != Cancel::No
            || !self.unanswered()
        {
            self.on_failure(ctx, resp);
            return;
        }
        self.state = State::AwaitingAuth;
        self.challenge_status = resp.status;
        self.challenges = challenges.clone();
        ctx.emit(LegEvent::NeedsAuth {
            status: resp.status,
            challenges,
        });
    }

    /// Re-sends the INVITE with credentials (`Authorization` after 401,
    /// `Proxy-Authorization` after 407), a new branch and CSeq + 1.
    pub fn authorize(
        &mut self,
        ctx: &mut LegCtx,
        credentials: Vec<String>,
    ) -> Result<(), LegError> {
        if self.state != State::AwaitingAuth {
            return Err(LegError::InvalidState("no challenge to answer"));
        }
        let name = if self.challenge_status == 401 {
            "authorization"
        } else {
            "proxy-authorization"
        };
        let mut invite = self.next_invite(ctx);
        invite.headers.remove(name);
        for value in credentials {
            invite.headers.push(name, value);
        }
        let tx = ctx
            .send_request(invite.clone(), self.peer)
            .ok_or(LegError::Send("transaction layer refused the INVITE"))?;
        self.invite = invite;
        self.invite_tx = Some(tx);
        self.state = State::Calling;
        self.provisional = false;
        Ok(())
    }

    /// Answers the pending challenge from `creds` with the digest code of the message
    /// layer (strongest algorithm offered; `cnonce` must be fresh and random).
    pub fn authorize_with(
        &mut self,
        ctx: &mut LegCtx,
        creds: &Credentials,
        cnonce: &str,
    ) -> Result<(), LegError> {
        if self.state != State::AwaitingAuth {
            return Err(LegError::InvalidState("no challenge to answer"));
        }
        let challenge = pick_challenge(self.challenges.iter().map(String::as_str))
            .ok_or(LegError::InvalidState("no challenge we can answer"))?;
        let uri = self.invite.uri.to_string();
        let answer = creds
            .authorize(&challenge, "INVITE", &uri, &self.invite.body, cnonce, 1)
            .map_err(|_| LegError::InvalidState("credentials do not fit the challenge"))?;
        self.authorize(ctx, vec![answer.to_header_value()])
    }

    /// 422 (RFC 4028 §7.3): re-send the INVITE (new branch, CSeq + 1) asking for the
    /// response's Min-SE, if that is more than we asked for (and at most a day, and at most
    /// twice per call); else the call fails.
    fn on_interval_too_small(&mut self, ctx: &mut LegCtx, resp: &Response) {
        let asked = timer::session_expires(&self.invite.headers).map(|se| se.secs);
        let retry = match (timer::min_se(&resp.headers), asked) {
            (Some(min), Some(asked)) if min > asked && min <= timer::MAX_INTERVAL => Some(min),
            _ => None,
        };
        let allowed = self.unanswered() && self.cancel == Cancel::No && self.interval_retries < 2;
        let Some(min) = retry.filter(|_| allowed) else {
            self.on_failure(ctx, resp);
            return;
        };
        let mut invite = self.next_invite(ctx);
        invite.headers.set("session-expires", min.to_string());
        invite.headers.set("min-se", min.to_string());
        let Some(tx) = ctx.send_request(invite.clone(), self.peer) else {
            self.on_failure(ctx, resp);
            return;
        };
        self.invite = invite;
        self.invite_tx = Some(tx);
        self.interval_retries += 1;
        self.state = State::Calling;
        self.provisional = false;
        self.early = None;
    }

    fn on_failure(&mut self, ctx: &mut LegCtx, resp: &Response) {
        if !self.unanswered() {
            return;
        }
        if self.cancel != Cancel::No {
            self.set_cancelled(ctx);
            return;
        }
        self.state = State::Failed;
        ctx.emit(LegEvent::Failed {
            status: resp.status,
            reason: resp.reason.clone(),
        });
    }

    fn set_cancelled(&mut self, ctx: &mut LegCtx) {
        if self.state != State::Cancelled {
            self.state = State::Cancelled;
            ctx.emit(LegEvent::Cancelled);
        }
    }

    /// Cancel the call attempt (the caller gave up). After the answer this is a BYE.
    pub fn cancel(&mut self, ctx: &mut LegCtx) {
        match self.state {
            State::Calling | State::Early if self.cancel == Cancel::No => {
                if self.provisional {
                    self.send_cancel(ctx);
                } else {
                    self.cancel = Cancel::Wanted;
                }
            }
            State::AwaitingAuth => self.set_cancelled(ctx),
            State::Answered => self.hangup(ctx),
            _ => {}
        }
    }

    /// Cancel the call attempt with an RFC 3326 `Reason` header on the CANCEL (after the
    /// answer this is a BYE, without it).
    pub fn cancel_with_reason(&mut self, ctx: &mut LegCtx, reason: Option<String>) {
        self.cancel_reason = reason;
        self.cancel(ctx);
    }

    fn send_cancel(&mut self, ctx: &mut LegCtx) {
        let mut cancel = self.invite.cancel();
        if let Some(r) = &self.cancel_reason {
            cancel.headers.push("reason", r.as_str());
        }
        ctx.send_request(cancel, self.peer);
        self.cancel = Cancel::Sent(ctx.now + ctx.t1() * 64);
    }

    /// Transaction failure: the INVITE (408 / 503) or an in-dialog request.
    pub fn on_tx_failure(&mut self, ctx: &mut LegCtx, tx: TxId, timeout: bool) {
        if Some(tx) != self.invite_tx {
            if let Some(s) = self.session.as_mut() {
                s.on_tx_failure(ctx, tx, timeout);
            }
            return;
        }
        if !self.unanswered() {
            return;
        }
        if self.cancel != Cancel::No {
            self.set_cancelled(ctx);
            return;
        }
        let (status, reason) = if timeout {
            (408, "Request Timeout")
        } else {
            (503, "Service Unavailable")
        };
        self.state = State::Failed;
        ctx.emit(LegEvent::Failed {
            status,
            reason: reason.into(),
        });
    }

    /// In-dialog request from the callee (BYE, re-INVITE, INFO...).
    pub fn on_request(&mut self, ctx: &mut LegCtx, tx: TxId, req: Request) {
        let from_tag = req.from().ok().and_then(|f| f.tag().map(str::to_string));
        match self.session.as_mut() {
            Some(s) if from_tag.as_deref() == Some(s.dialog.id.remote_tag.as_str()) => {
                s.on_request(ctx, tx, req)
            }
            _ => ctx.respond_status(tx, &req, 481, None),
        }
    }

    pub fn on_ack(&mut self, ctx: &mut LegCtx, ack: &Request) {
        if let Some(s) = self.session.as_mut() {
            s.on_ack(ctx, ack);
        }
    }

    /// Local hangup: CANCEL before the answer, BYE after.
    pub fn hangup(&mut self, ctx: &mut LegCtx) {
        match self.session.as_mut() {
            Some(s) => s.hangup(ctx),
            None => self.cancel(ctx),
        }
    }

    pub fn session_mut(&mut self) -> Result<&mut Session, LegError> {
        self.session
            .as_mut()
            .ok_or(LegError::InvalidState("call not answered"))
    }

    pub fn deadline(&self) -> Option<Instant> {
        let cancel = match self.cancel {
            Cancel::Sent(at) if self.unanswered() => Some(at),
            _ => None,
        };
        let session = self.session.as_ref().and_then(Session::deadline);
        cancel.into_iter().chain(session).min()
    }

    pub fn on_timer(&mut self, ctx: &mut LegCtx) {
        if let Cancel::Sent(at) = self.cancel {
            if self.unanswered() && ctx.now >= at {
                if let Some(tx) = self.invite_tx {
                    ctx.layer.abandon(tx);
                }
                self.set_cancelled(ctx);
            }
        }
        if let Some(s) = self.session.as_mut() {
            s.on_timer(ctx);
        }
    }

    pub fn finished(&self) -> bool {
        match self.state {
            State::Failed | State::Cancelled => true,
            State::Answered => self.session.as_ref().is_none_or(Session::idle),
            _ => false,
        }
    }

    /// The INVITE currently in flight (for computing credentials).
    pub fn invite(&self) -> &Request {
        &self.invite
    }
}
