//! An established dialog's behaviour, shared by UAS and UAC legs: 2xx retransmission
//! until the ACK (§13.3.1.4: T1 doubling to T2, unreliable transports only; BYE after
//! 64*T1 without ACK), re-ACKing retransmitted 2xx (§13.2.2.4), BYE in either direction
//! (§15), re-INVITE in either direction with 491 on glare and 500 + Retry-After for an
//! overlapping INVITE (§14.2), other in-dialog requests handed to the call layer.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;

use super::ctx::LegCtx;
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
}

#[derive(Debug)]
pub(crate) struct Session {
    pub dialog: Dialog,
    /// The flow in-dialog requests go to (the peer the dialog was set up with).
    pub peer: Peer,
    pending_2xx: Option<Pending2xx>,
    incoming_reinvite: Option<IncomingReinvite>,
    outgoing_reinvite: Option<(TxId, u32)>,
    bye_tx: Option<TxId>,
    /// Our ACK for the latest 2xx we received, by INVITE CSeq (re-sent on retransmits).
    last_ack: Option<(u32, Arc<Message>)>,
    bye_after_ack: bool,
    /// Headers copied into every ACK for 2xx (the INVITE's credentials, §13.2.2.4).
    pub ack_headers: Vec<(&'static str, String)>,
    pub ended: bool,
}

impl Session {
    pub fn new(dialog: Dialog, peer: Peer) -> Session {
        Session {
            dialog,
            peer,
            pending_2xx: None,
            incoming_reinvite: None,
            outgoing_reinvite: None,
            bye_tx: None,
            last_ack: None,
            bye_after_ack: false,
            ack_headers: Vec::new(),
            ended: false,
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
            _ => ctx.emit(LegEvent::Request { tx, request: req }),
        }
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
            let sdp = sdp_of(&req.headers, &req.body);
            self.incoming_reinvite = Some(IncomingReinvite { tx, request: req });
            ctx.emit(LegEvent::ReInvite { sdp });
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
        resp.set_body("application/sdp", sdp);
        let cseq = re.request.cseq().map(|c| c.seq).unwrap_or(0);
        let to = ctx.layer.peer_of(re.tx).unwrap_or(self.peer);
        ctx.respond(re.tx, resp.clone());
        self.await_ack(ctx, cseq, resp, to, false);
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
        req.set_body("application/sdp", sdp);
        let seq = self.dialog.local_seq;
        let tx = ctx
            .send_request(req, self.peer)
            .ok_or(LegError::Send("transaction layer refused the re-INVITE"))?;
        self.outgoing_reinvite = Some((tx, seq));
        Ok(())
    }

    /// A response to one of this dialog's client transactions (BYE, re-INVITE, INFO...).
    pub fn on_response(&mut self, ctx: &mut LegCtx, tx: TxId, resp: &Response) {
        let seq = match self.outgoing_reinvite {
            Some((re_tx, seq)) if re_tx == tx => seq,
            _ => {
                let invite = resp.cseq().is_ok_and(|c| c.method == Method::Invite);
                if invite && resp.is_success() {
                    self.on_2xx_retransmission(ctx, resp);
                }
                // BYE responses need nothing: the dialog ended when we sent it.
                return;
            }
        };
        if resp.is_provisional() {
            return;
        }
        self.outgoing_reinvite = None;
        if resp.is_success() {
            self.dialog
                .refresh_target(resp.headers.contact().ok().flatten());
            self.send_ack(ctx, seq);
            ctx.emit(LegEvent::ReInviteDone {
                status: resp.status,
                sdp: sdp_of(&resp.headers, &resp.body),
            });
        } else if matches!(resp.status, 408 | 481) {
            self.end(ctx, EndedBy::Remote, EndCause::DialogGone);
        } else {
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
        let cause = if timeout {
            EndCause::DialogGone
        } else {
            EndCause::TransportError
        };
        if self.outgoing_reinvite.is_some_and(|(t, _)| t == tx) {
            self.outgoing_reinvite = None;
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
        if !self.ended {
            self.ended = true;
            self.dialog.terminate();
            ctx.emit(LegEvent::Ended { by, cause });
        }
    }

    /// Next 2xx retransmission or ACK give-up.
    pub fn deadline(&self) -> Option<Instant> {
        let p = self.pending_2xx.as_ref()?;
        Some(p.next.map_or(p.give_up, |n| n.min(p.give_up)))
    }

    pub fn on_timer(&mut self, ctx: &mut LegCtx) {
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
