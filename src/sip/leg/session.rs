//! An established dialog's behaviour, shared by UAS and UAC legs: 2xx retransmission
//! until the ACK (§13.3.1.4: T1 doubling to T2, unreliable transports only; BYE after
//! 64*T1 without ACK), re-ACKing retransmitted 2xx (§13.2.2.4), BYE in either direction
//! (§15), re-INVITE in either direction with 491 on glare and 500 + Retry-After for an
//! overlapping INVITE (§14.2), other in-dialog requests handed to the call layer.
//!
//! RFC 4028 session timers ([`super::timer`]): every re-INVITE and body-less UPDATE is a
//! session refresh (422 when its interval is too small; our 2xx names the interval and
//! refresher); when we refresh, a body-less UPDATE (peer allows it) or a re-INVITE with our
//! last SDP goes out at half the interval, unseen by the call layer; a refresh answered
//! 408/481 or timed out, or a session nobody refreshed in time, ends with BYE and
//! [`EndCause::SessionExpired`]. A body-less UPDATE is answered here; one with an offer
//! goes to the call layer like other requests. A re-INVITE without an offer is answered here
//! with our current SDP (the session unchanged); one with an offer goes to the call layer.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;

use super::ctx::LegCtx;
use super::timer::{self, Negotiated, SessionTimer};
use super::{sdp_of, EndCause, EndedBy, LegError, LegEvent};
use crate::sip::dialog::{Dialog, DialogState};
use crate::sip::message::{Message, Method, Request, Response};
use crate::sip::transaction::{Peer, TxId};

/// Our 2xx to an INVITE, waiting for its ACK.
#[derive(Debug)]
struct Pending2xx {
    cseq: u32,
    msg: Message,
    to: Peer,
    /// Next retransmission (None on reliable transports).
    next: Option<Instant>,
    interval: Duration,
    give_up: Instant,
    /// The dialog-creating INVITE (vs a re-INVITE).
    initial: bool,
}

#[derive(Debug)]
struct IncomingReinvite {
    tx: TxId,
    request: Request,
    /// The session timer our 2xx will set (None: timers off).
    timer: Option<Negotiated>,
}

/// Our re-INVITE in flight: the call layer's (hold/unhold) or our own session refresh.
#[derive(Debug)]
struct OutgoingReinvite {
    tx: TxId,
    seq: u32,
    /// The offer; our SDP once a 2xx accepts it.
    sdp: Bytes,
    /// A session refresh (its outcome is not reported to the call layer).
    refresh: bool,
    /// The session interval it asked for.
    requested: u32,
}

#[derive(Debug)]
pub(crate) struct Session {
    pub dialog: Dialog,
    /// The flow in-dialog requests go to (the peer the dialog was set up with).
    pub peer: Peer,
    pending_2xx: Option<Pending2xx>,
    incoming_reinvite: Option<IncomingReinvite>,
    outgoing_reinvite: Option<OutgoingReinvite>,
    /// Our body-less UPDATE refresh in flight, and the interval it asked for.
    refresh_update: Option<(TxId, u32)>,
    bye_tx: Option<TxId>,
    /// Our ACK for the latest 2xx we received, by INVITE CSeq (re-sent on retransmits).
    last_ack: Option<(u32, Arc<Message>)>,
    bye_after_ack: bool,
    /// Headers copied into every ACK for 2xx (the INVITE's credentials, §13.2.2.4).
    pub ack_headers: Vec<(&'static str, String)>,
    pub ended: bool,
    /// RFC 4028 timer (None: no session expiry).
    timer: Option<SessionTimer>,
    /// The SDP we last sent that the peer accepted (a refresh re-INVITE offers it again).
    pub local_sdp: Option<Bytes>,
    /// The peer's Allow lists UPDATE: refresh with a body-less UPDATE.
    pub peer_allows_update: bool,
}

impl Session {
    pub fn new(dialog: Dialog, peer: Peer) -> Session {
        Session {
            dialog,
            peer,
            pending_2xx: None,
            incoming_reinvite: None,
            outgoing_reinvite: None,
            refresh_update: None,
            bye_tx: None,
            last_ack: None,
            bye_after_ack: false,
            ack_headers: Vec::new(),
            ended: false,
            timer: None,
            local_sdp: None,
            peer_allows_update: false,
        }
    }

    /// A session refresh succeeded now (our 2xx sent, or a 2xx to ours received) with this
    /// outcome; None turns the timer off.
    pub fn refreshed(&mut self, ctx: &LegCtx, n: Option<Negotiated>) {
        match (n, self.timer.as_mut()) {
            (None, _) => self.timer = None,
            (Some(n), Some(t)) => t.refreshed(n, ctx.now),
            (Some(n), None) => {
                let t = SessionTimer::new(n, ctx.cfg.min_se, self.peer_allows_update, ctx.now);
                self.timer = Some(t);
            }
        }
    }

    /// Starts retransmitting a 2xx we just sent on an INVITE transaction until ACKed.
    pub fn await_ack(
        &mut self,
        ctx: &mut LegCtx,
        cseq: u32,
        resp: Response,
        to: Peer,
        initial: bool,
    ) {
        let t1 = ctx.t1();
        self.pending_2xx = Some(Pending2xx {
            cseq,
            msg: Message::Response(resp),
            to,
            next: (!to.is_reliable()).then(|| ctx.now + t1),
            interval: t1,
            give_up: ctx.now + t1 * 64,
            initial,
        });
    }

    /// True while our 2xx for the dialog-creating INVITE is not ACKed yet.
    pub fn awaiting_initial_ack(&self) -> bool {
        self.pending_2xx.as_ref().is_some_and(|p| p.initial)
    }

    /// An ACK for a 2xx arrived (already matched to this dialog).
    pub fn on_ack(&mut self, ctx: &mut LegCtx, ack: &Request) {
        let seq = ack.cseq().map(|c| c.seq).ok();
        let Some(p) = self.pending_2xx.take_if(|p| Some(p.cseq) == seq) else {
            return;
        };
        if p.initial && !self.ended {
            ctx.emit(LegEvent::Confirmed {
                sdp: sdp_of(&ack.headers, &ack.body),
            });
        }
        if self.bye_after_ack {
            self.bye_after_ack = false;
            self.send_bye(ctx);
        }
    }

    /// A request inside this (early or confirmed) dialog.
    pub fn on_request(&mut self, ctx: &mut LegCtx, tx: TxId, req: Request) {
        if let Err(status) = self.dialog.check_request(&req) {
            ctx.respond_status(tx, &req, status, None);
            return;
        }
        match req.method {
            Method::Bye => {
                ctx.respond_status(tx, &req, 200, None);
                if let Some(re) = self.incoming_reinvite.take() {
                    ctx.respond_status(re.tx, &re.request, 487, None);
                }
                self.pending_2xx = None;
                self.bye_after_ack = false;
                self.end(ctx, EndedBy::Remote, EndCause::Bye);
            }
            _ if self.ended => ctx.respond_status(tx, &req, 481, None),
            Method::Invite => self.on_reinvite(ctx, tx, req),
            Method::Update if req.body.is_empty() => self.on_update_refresh(ctx, tx, &req),
            _ => ctx.emit(LegEvent::Request { tx, request: req }),
        }
    }

    /// A body-less UPDATE: a session refresh (RFC 4028 §9), answered here.
    fn on_update_refresh(&mut self, ctx: &mut LegCtx, tx: TxId, req: &Request) {
        let n = match timer::as_uas(&req.headers, ctx.cfg) {
            Ok(n) => n,
            Err(min_se) => return respond_422(ctx, tx, req, min_se),
        };
        let mut resp = Response::for_request(req, 200, "");
        resp.headers
            .push("contact", self.dialog.local_contact.to_string());
        add_timer_headers(ctx, &mut resp, n);
        ctx.respond(tx, resp);
        self.refreshed(ctx, n);
    }

    fn on_reinvite(&mut self, ctx: &mut LegCtx, tx: TxId, req: Request) {
        if self.ended {
            ctx.respond_status(tx, &req, 481, None);
        } else if self.outgoing_reinvite.is_some() {
            ctx.respond_status(tx, &req, 491, None);
        } else if self.incoming_reinvite.is_some() || self.pending_2xx.is_some() {
            let mut resp = Response::for_request(&req, 500, "");
            let secs = ctx.layer.ids().tag().bytes().map(u32::from).sum::<u32>() % 11;
            resp.headers.push("retry-after", secs.to_string());
            ctx.respond(tx, resp);
        } else {
            let timer = match timer::as_uas(&req.headers, ctx.cfg) {
                Ok(n) => n,
                Err(min_se) => return respond_422(ctx, tx, &req, min_se),
            };
            let sdp = sdp_of(&req.headers, &req.body);
            let refresh_offer = self.local_sdp.clone().filter(|_| sdp.is_none());
            self.incoming_reinvite = Some(IncomingReinvite {
                tx,
                request: req,
                timer,
            });
            match refresh_offer {
                // A re-INVITE without an offer (a session refresh, or a delayed offer, §14.2):
                // our 2xx offers the session unchanged, so the call layer has nothing to decide;
                // the answer in the ACK keeps the media as it is.
                Some(ours) => {
                    let _ = self.answer_reinvite(ctx, ours);
                }
                None => ctx.emit(LegEvent::ReInvite { sdp }),
            }
        }
    }

    /// Answers the pending remote re-INVITE with 200 and our SDP.
    pub fn answer_reinvite(&mut self, ctx: &mut LegCtx, sdp: Bytes) -> Result<(), LegError> {
        let re = self
            .incoming_reinvite
            .take()
            .ok_or(LegError::InvalidState("no re-INVITE to answer"))?;
        let mut resp = Response::for_request(&re.request, 200, "");
        resp.headers
            .push("contact", self.dialog.local_contact.to_string());
        resp.headers.push("allow", ctx.cfg.allow.clone());
        add_timer_headers(ctx, &mut resp, re.timer);
        resp.set_body("application/sdp", sdp.clone());
        let cseq = re.request.cseq().map(|c| c.seq).unwrap_or(0);
        let to = ctx.layer.peer_of(re.tx).unwrap_or(self.peer);
        ctx.respond(re.tx, resp.clone());
        self.await_ack(ctx, cseq, resp, to, false);
        self.local_sdp = Some(sdp);
        self.refreshed(ctx, re.timer);
        Ok(())
    }

    /// Refuses the pending remote re-INVITE (e.g. 488); the dialog stays as it was.
    pub fn reject_reinvite(&mut self, ctx: &mut LegCtx, status: u16) -> Result<(), LegError> {
        let re = self
            .incoming_reinvite
            .take()
            .ok_or(LegError::InvalidState("no re-INVITE to reject"))?;
        ctx.respond_status(re.tx, &re.request, status.max(300), None);
        Ok(())
    }

    /// Sends our own re-INVITE (hold/unhold) with a new SDP offer.
    pub fn reinvite(&mut self, ctx: &mut LegCtx, sdp: Bytes) -> Result<(), LegError> {
        self.send_reinvite(ctx, sdp, false)
    }

    fn send_reinvite(
        &mut self,
        ctx: &mut LegCtx,
        sdp: Bytes,
        refresh: bool,
    ) -> Result<(), LegError> {
        if self.ended || self.dialog.state != DialogState::Confirmed {
            return Err(LegError::InvalidState("dialog not confirmed"));
        }
        if self.outgoing_reinvite.is_some()
            || self.incoming_reinvite.is_some()
            || self.pending_2xx.is_some()
        {
            return Err(LegError::Pending);
        }
        let via = ctx.via(self.peer.transport);
        let mut req = self.dialog.new_request(Method::Invite, &via);
        let requested = self.add_refresh_headers(ctx, &mut req);
        req.set_body("application/sdp", sdp.clone());
        let seq = self.dialog.local_seq;
        let tx = ctx
            .send_request(req, self.peer)
            .ok_or(LegError::Send("transaction layer refused the re-INVITE"))?;
        self.outgoing_reinvite = Some(OutgoingReinvite {
            tx,
            seq,
            sdp,
            refresh,
            requested,
        });
        Ok(())
    }

    /// Supported / Session-Expires / Min-SE on a re-INVITE or UPDATE we send (every one
    /// is a session refresh, §7.4): the current interval and refresher, or our
    /// configured interval when no timer runs. Returns the interval asked for.
    fn add_refresh_headers(&self, ctx: &LegCtx, req: &mut Request) -> u32 {
        if !timer::enabled(ctx.cfg) {
            return 0;
        }
        let (interval, value, min_se) = match &self.timer {
            Some(t) => (t.n.interval, t.n.uac_value(), t.min_se),
            None => {
                let se = ctx.cfg.session_expires;
                (se, se.to_string(), ctx.cfg.min_se)
            }
        };
        for (name, v) in timer::request_headers(value, min_se) {
            req.headers.push(name, v);
        }
        interval
    }

    /// Our session refresh is due: a body-less UPDATE when the peer allows it, else a
    /// re-INVITE offering our last SDP again (once no other INVITE exchange is pending).
    fn send_refresh(&mut self, ctx: &mut LegCtx) {
        let Some(t) = self.timer.as_mut() else {
            return;
        };
        if self.refresh_update.is_some() || self.outgoing_reinvite.is_some() {
            // The request in flight refreshes the session when its 2xx comes.
            t.refresh_sent();
            return;
        }
        if t.use_update {
            t.refresh_sent();
            let via = ctx.via(self.peer.transport);
            let mut req = self.dialog.new_request(Method::Update, &via);
            let requested = self.add_refresh_headers(ctx, &mut req);
            match ctx.send_request(req, self.peer) {
                Some(tx) => self.refresh_update = Some((tx, requested)),
                None => self.retry_refresh_later(ctx),
            }
            return;
        }
        if self.incoming_reinvite.is_some() || self.pending_2xx.is_some() {
            t.retry_at(ctx.now + ctx.t2());
            return;
        }
        let Some(sdp) = self.local_sdp.clone() else {
            // No SDP of ours to offer again and no UPDATE: we cannot refresh.
            self.timer = None;
            return;
        };
        t.refresh_sent();
        if self.send_reinvite(ctx, sdp, true).is_err() {
            self.retry_refresh_later(ctx);
        }
    }

    /// A refresh failed without ending the dialog (491, 5xx...): try again halfway to the
    /// expiry, if at least a second is left for it.
    fn retry_refresh_later(&mut self, ctx: &LegCtx) {
        if let Some(t) = self.timer.as_mut() {
            let half = t.expires_at().saturating_duration_since(ctx.now) / 2;
            if half >= Duration::from_secs(1) {
                t.retry_at(ctx.now + half);
            }
        }
    }

    /// A 422 to our refresh: take its Min-SE as our interval. False if it raises nothing.
    fn on_422(&mut self, resp: &Response) -> bool {
        let min = timer::min_se(&resp.headers).map(|m| m.min(timer::MAX_INTERVAL));
        match (self.timer.as_mut(), min) {
            (Some(t), Some(min)) if min > t.n.interval => {
                t.n.interval = min;
                t.min_se = t.min_se.max(min);
                true
            }
            _ => false,
        }
    }

    /// The response to our body-less UPDATE refresh.
    fn on_update_response(&mut self, ctx: &mut LegCtx, resp: &Response) {
        let Some((_, requested)) = self.refresh_update else {
            return;
        };
        if resp.is_provisional() {
            return;
        }
        self.refresh_update = None;
        match resp.status {
            200..=299 => {
                self.dialog
                    .refresh_target(resp.headers.contact().ok().flatten());
                self.refreshed(ctx, timer::as_uac(&resp.headers, ctx.cfg, requested));
            }
            408 | 481 => self.expire(ctx),
            422 if self.on_422(resp) => self.send_refresh(ctx),
            405 | 501 => {
                // It does not take UPDATE after all: refresh with re-INVITE from now on.
                if let Some(t) = self.timer.as_mut() {
                    t.use_update = false;
                }
                self.send_refresh(ctx);
            }
            _ => self.retry_refresh_later(ctx),
        }
    }

    /// A response to one of this dialog's client transactions (BYE, re-INVITE, INFO...).
    pub fn on_response(&mut self, ctx: &mut LegCtx, tx: TxId, resp: &Response) {
        if self.refresh_update.is_some_and(|(t, _)| t == tx) {
            return self.on_update_response(ctx, resp);
        }
        let Some(out) = self.outgoing_reinvite.take_if(|o| o.tx == tx) else {
            let invite = resp.cseq().is_ok_and(|c| c.method == Method::Invite);
            if invite && resp.is_success() {
                self.on_2xx_retransmission(ctx, resp);
            }
            // BYE responses need nothing: the dialog ended when we sent it.
            return;
        };
        if resp.is_provisional() {
            self.outgoing_reinvite = Some(out);
            return;
        }
        if resp.is_success() {
            self.dialog
                .refresh_target(resp.headers.contact().ok().flatten());
            self.send_ack(ctx, out.seq);
            self.local_sdp = Some(out.sdp);
            self.refreshed(ctx, timer::as_uac(&resp.headers, ctx.cfg, out.requested));
            if !out.refresh {
                ctx.emit(LegEvent::ReInviteDone {
                    status: resp.status,
                    sdp: sdp_of(&resp.headers, &resp.body),
                });
            }
        } else if matches!(resp.status, 408 | 481) && out.refresh {
            self.expire(ctx);
        } else if matches!(resp.status, 408 | 481) {
            self.end(ctx, EndedBy::Remote, EndCause::DialogGone);
        } else if out.refresh {
            if resp.status == 422 && self.on_422(resp) {
                self.send_refresh(ctx);
            } else {
                self.retry_refresh_later(ctx);
            }
        } else {
            if resp.status == 422 {
                self.on_422(resp);
            }
            if self
                .timer
                .as_ref()
                .is_some_and(SessionTimer::refresh_in_flight)
            {
                // Our refresh was left to this re-INVITE, which failed: ours is still due.
                self.retry_refresh_later(ctx);
            }
            ctx.emit(LegEvent::ReInviteDone {
                status: resp.status,
                sdp: None,
            });
        }
    }

    /// Sends (and remembers) the ACK for the 2xx to our INVITE with CSeq `seq`.
    pub fn send_ack(&mut self, ctx: &mut LegCtx, seq: u32) {
        let via = ctx.via(self.peer.transport);
        let mut ack = self.dialog.ack_for_2xx(seq, &via);
        for (name, value) in &self.ack_headers {
            ack.headers.push(name, value.as_str());
        }
        let ack = Arc::new(Message::Request(ack));
        ctx.send_stateless((*ack).clone(), self.peer);
        self.last_ack = Some((seq, ack));
    }

    /// A 2xx retransmission for this dialog: re-send the same ACK (§13.2.2.4).
    pub fn on_2xx_retransmission(&mut self, ctx: &mut LegCtx, resp: &Response) {
        let seq = resp.cseq().map(|c| c.seq).ok();
        if let Some((ack_seq, ack)) = &self.last_ack {
            if Some(*ack_seq) == seq {
                let ack = (**ack).clone();
                ctx.layer.note_retransmission();
                ctx.send_stateless(ack, self.peer);
            }
        }
    }

    /// One of our in-dialog client transactions timed out or hit a transport error.
    pub fn on_tx_failure(&mut self, ctx: &mut LegCtx, tx: TxId, timeout: bool) {
        if self.bye_tx == Some(tx) {
            return;
        }
        let update = self.refresh_update.take_if(|(t, _)| *t == tx).is_some();
        let reinvite = self.outgoing_reinvite.take_if(|o| o.tx == tx);
        let refresh = update || reinvite.as_ref().is_some_and(|o| o.refresh);
        if refresh && timeout {
            // The far end is gone: a refresh nobody answers ends the session (RFC 4028 §10).
            return self.expire(ctx);
        }
        let cause = if timeout {
            EndCause::DialogGone
        } else {
            EndCause::TransportError
        };
        if update || reinvite.is_some() {
            self.send_bye(ctx);
        }
        self.end(ctx, EndedBy::Remote, cause);
    }

    /// Local hangup: BYE now, or right after the ACK if our 2xx is not ACKed yet (§15).
    pub fn hangup(&mut self, ctx: &mut LegCtx) {
        if self.ended {
            return;
        }
        if let Some(re) = self.incoming_reinvite.take() {
            ctx.respond_status(re.tx, &re.request, 487, None);
        }
        if self.awaiting_initial_ack() {
            self.bye_after_ack = true;
        } else {
            self.pending_2xx = None;
            self.send_bye(ctx);
        }
        self.end(ctx, EndedBy::Local, EndCause::Bye);
    }

    pub fn send_bye(&mut self, ctx: &mut LegCtx) {
        let via = ctx.via(self.peer.transport);
        let bye = self.dialog.new_request(Method::Bye, &via);
        self.bye_tx = ctx.send_request(bye, self.peer);
    }

    fn end(&mut self, ctx: &mut LegCtx, by: EndedBy, cause: EndCause) {
        self.timer = None;
        if !self.ended {
            self.ended = true;
            self.dialog.terminate();
            ctx.emit(LegEvent::Ended { by, cause });
        }
    }

    /// The session expired (nobody refreshed it, or our refresh got 408/481 or no answer):
    /// BYE and [`EndCause::SessionExpired`].
    fn expire(&mut self, ctx: &mut LegCtx) {
        if self.ended {
            return;
        }
        if let Some(re) = self.incoming_reinvite.take() {
            ctx.respond_status(re.tx, &re.request, 487, None);
        }
        self.pending_2xx = None;
        self.bye_after_ack = false;
        self.send_bye(ctx);
        self.end(ctx, EndedBy::Local, EndCause::SessionExpired);
    }

    /// Next 2xx retransmission or ACK give-up, session refresh or session expiry.
    pub fn deadline(&self) -> Option<Instant> {
        let ack = self
            .pending_2xx
            .as_ref()
            .map(|p| p.next.map_or(p.give_up, |n| n.min(p.give_up)));
        let session = self.timer.as_ref().map(SessionTimer::deadline);
        ack.into_iter().chain(session).min()
    }

    pub fn on_timer(&mut self, ctx: &mut LegCtx) {
        self.on_ack_timer(ctx);
        if self.ended {
            return;
        }
        let Some(t) = self.timer.as_ref() else {
            return;
        };
        if ctx.now >= t.expires_at() {
            self.expire(ctx);
        } else if t.refresh_due(ctx.now) {
            self.send_refresh(ctx);
        }
    }

    fn on_ack_timer(&mut self, ctx: &mut LegCtx) {
        let Some(p) = self.pending_2xx.as_mut() else {
            return;
        };
        if ctx.now >= p.give_up {
            self.pending_2xx = None;
            self.bye_after_ack = false;
            self.send_bye(ctx);
            self.end(ctx, EndedBy::Local, EndCause::AckTimeout);
            return;
        }
        if p.next.is_some_and(|n| ctx.now >= n) {
            let (msg, to) = (p.msg.clone(), p.to);
            p.interval = (p.interval * 2).min(ctx.t2());
            p.next = Some(ctx.now + p.interval);
            ctx.layer.note_retransmission();
            ctx.send_stateless(msg, to);
        }
    }

    /// Nothing left to do: ended and no 2xx or BYE still pending.
    pub fn idle(&self) -> bool {
        self.ended && self.pending_2xx.is_none() && !self.bye_after_ack
    }
}

/// Supported (with timers on), Session-Expires and, when the peer supports the extension,
/// Require: timer, on a 2xx we send to a session refresh request (RFC 4028 §9).
pub(crate) fn add_timer_headers(ctx: &LegCtx, resp: &mut Response, n: Option<Negotiated>) {
    if !timer::enabled(ctx.cfg) {
        return;
    }
    resp.headers.push("supported", timer::TAG);
    if let Some(n) = n {
        resp.headers.push("session-expires", n.uas_value());
        if n.peer_supports {
            resp.headers.push("require", timer::TAG);
        }
    }
}

/// 422 Session Interval Too Small with our Min-SE (RFC 4028 §6).
pub(crate) fn respond_422(ctx: &mut LegCtx, tx: TxId, req: &Request, min_se: u32) {
    let mut resp = Response::for_request(req, 422, "");
    resp.headers.push("min-se", min_se.to_string());
    ctx.respond(tx, resp);
}
