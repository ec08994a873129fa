//! UAS leg (incoming call): INVITE → 180/183 (early dialog) → 200 with the SDP answer
//! → ACK (Confirmed). CANCEL before the answer → 200 to CANCEL and 487 to the INVITE;
//! BYE in the early dialog does the same. After the answer everything is [`Session`].

use bytes::Bytes;

use super::ctx::LegCtx;
use super::session::{add_timer_headers, Session};
use super::timer;
use super::{LegError, LegEvent};
use crate::sip::dialog::{Dialog, DialogState};
use crate::sip::message::{Method, Request, Response};
use crate::sip::transaction::{Peer, TxId};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Incoming,
    Early,
    Answered,
    Rejected,
    Cancelled,
}

#[derive(Debug)]
pub(crate) struct UasLeg {
    pub invite_tx: TxId,
    invite: Request,
    /// The flow the INVITE came in on; in-dialog requests go back the same way.
    peer: Peer,
    pub local_tag: String,
    /// The INVITE's To value with our tag, for every response.
    to_with_tag: String,
    state: State,
    early: Option<Dialog>,
    pub session: Option<Session>,
}

impl UasLeg {
    pub fn new(invite_tx: TxId, invite: Request, peer: Peer, local_tag: String) -> UasLeg {
        let to_with_tag = match invite.to() {
            Ok(mut to) if to.tag().is_none() => {
                to.set_tag(&local_tag);
                to.to_string()
            }
            _ => invite.headers.get("to").unwrap_or_default().to_string(),
        };
        UasLeg {
            to_with_tag,
            invite_tx,
            invite,
            peer,
            local_tag,
            state: State::Incoming,
            early: None,
            session: None,
        }
    }

    pub fn invite(&self) -> &Request {
        &self.invite
    }

    pub fn dialog(&self) -> Option<&Dialog> {
        self.session
            .as_ref()
            .map(|s| &s.dialog)
            .or(self.early.as_ref())
    }

    fn unanswered(&self) -> bool {
        matches!(self.state, State::Incoming | State::Early)
    }

    fn response(&self, ctx: &LegCtx, status: u16) -> Response {
        let mut resp = Response::for_request(&self.invite, status, "");
        resp.headers.set("to", self.to_with_tag.as_str());
        if status < 300 {
            // §12.1.1: dialog-creating responses carry Contact and the Record-Route set.
            resp.copy_record_route(&self.invite);
            resp.headers
                .push("contact", ctx.contact(self.peer.transport).to_string());
        }
        resp
    }

    fn dialog_for(&mut self, ctx: &LegCtx, state: DialogState) -> Result<Dialog, LegError> {
        if let Some(mut d) = self.early.take() {
            d.state = state;
            return Ok(d);
        }
        let contact = ctx.contact(self.peer.transport);
        Dialog::uas(&self.invite, &self.local_tag, contact, state)
            .map_err(|e| LegError::InvalidState(e.0))
    }

    /// 180 Ringing, or 183 Session Progress with early media SDP.
    pub fn ring(&mut self, ctx: &mut LegCtx, sdp: Option<Bytes>) -> Result<(), LegError> {
        if !self.unanswered() {
            return Err(LegError::InvalidState("call already answered or ended"));
        }
        let status = if sdp.is_some() { 183 } else { 180 };
        let mut resp = self.response(ctx, status);
        if let Some(sdp) = sdp {
            resp.set_body("application/sdp", sdp);
        }
        if !ctx.respond(self.invite_tx, resp) {
            return Err(LegError::InvalidState("INVITE transaction is gone"));
        }
        if self.early.is_none() {
            self.early = self.dialog_for(ctx, DialogState::Early).ok();
        }
        self.state = State::Early;
        Ok(())
    }

    /// 200 OK with the SDP answer; retransmitted until the ACK arrives.
    pub fn answer(&mut self, ctx: &mut LegCtx, sdp: Bytes) -> Result<(), LegError> {
        if !self.unanswered() {
            return Err(LegError::InvalidState("call already answered or ended"));
        }
        let dialog = self.dialog_for(ctx, DialogState::Confirmed)?;
        let mut resp = self.response(ctx, 200);
        resp.headers.push("allow", ctx.cfg.allow.clone());
        // A too-small interval was refused with 422 before the leg existed.
        let timer = timer::as_uas(&self.invite.headers, ctx.cfg).unwrap_or(None);
        add_timer_headers(ctx, &mut resp, timer);
        resp.set_body("application/sdp", sdp.clone());
        let to = ctx.layer.peer_of(self.invite_tx).unwrap_or(self.peer);
        if !ctx.respond(self.invite_tx, resp.clone()) {
            return Err(LegError::InvalidState("INVITE transaction is gone"));
        }
        let cseq = self.invite.cseq().map(|c| c.seq).unwrap_or(0);
        let mut session = Session::new(dialog, self.peer);
        session.await_ack(ctx, cseq, resp, to, true);
        session.local_sdp = Some(sdp);
        session.peer_allows_update = timer::allows_update(&self.invite.headers);
        session.refreshed(ctx, timer);
        self.session = Some(session);
        self.state = State::Answered;
        Ok(())
    }

    /// A final failure response (404, 486, 488, 503 + Retry-After...).
    pub fn reject(
        &mut self,
        ctx: &mut LegCtx,
        status: u16,
        headers: &[(&str, &str)],
    ) -> Result<(), LegError> {
        if !self.unanswered() {
            return Err(LegError::InvalidState("call already answered or ended"));
        }
        let mut resp = self.response(ctx, status.max(300));
        for (name, value) in headers {
            resp.headers.push(name, *value);
        }
        ctx.respond(self.invite_tx, resp);
        self.state = State::Rejected;
        Ok(())
    }

    /// The caller's CANCEL (already matched to our INVITE transaction).
    pub fn on_cancel(&mut self, ctx: &mut LegCtx, cancel_tx: TxId, cancel: &Request) {
        ctx.respond_status(cancel_tx, cancel, 200, Some(&self.local_tag));
        if self.unanswered() {
            self.terminate_unanswered(ctx);
        }
    }

    fn terminate_unanswered(&mut self, ctx: &mut LegCtx) {
        let resp = self.response(ctx, 487);
        ctx.respond(self.invite_tx, resp);
        self.state = State::Cancelled;
        ctx.emit(LegEvent::Cancelled);
    }

    /// A request carrying our tag (in-dialog).
    pub fn on_request(&mut self, ctx: &mut LegCtx, tx: TxId, req: Request) {
        if let Some(session) = self.session.as_mut() {
            session.on_request(ctx, tx, req);
        } else if self.state == State::Early && req.method == Method::Bye {
            ctx.respond_status(tx, &req, 200, None);
            self.terminate_unanswered(ctx);
        } else if self.state == State::Early && req.method == Method::Update && req.body.is_empty()
        {
            // Nothing to refresh before the answer; the early dialog is alive.
            ctx.respond_status(tx, &req, 200, None);
        } else if self.state == State::Early {
            ctx.emit(LegEvent::Request { tx, request: req });
        } else {
            ctx.respond_status(tx, &req, 481, None);
        }
    }

    pub fn on_ack(&mut self, ctx: &mut LegCtx, ack: &Request) {
        if let Some(s) = self.session.as_mut() {
            s.on_ack(ctx, ack);
        }
    }

    pub fn on_response(&mut self, ctx: &mut LegCtx, tx: TxId, resp: &Response) {
        if let Some(s) = self.session.as_mut() {
            s.on_response(ctx, tx, resp);
        }
    }

    /// A transaction of ours timed out or failed in transport.
    pub fn on_tx_failure(&mut self, ctx: &mut LegCtx, tx: TxId, timeout: bool) {
        if tx == self.invite_tx {
            // Timer H (no ACK for our failure response) needs nothing more; a transport
            // error before the answer means the caller is gone.
            if !timeout && self.unanswered() {
                self.state = State::Cancelled;
                ctx.emit(LegEvent::Cancelled);
            }
            return;
        }
        if let Some(s) = self.session.as_mut() {
            s.on_tx_failure(ctx, tx, timeout);
        }
    }

    /// Local hangup: 480 before the answer, BYE after.
    pub fn hangup(&mut self, ctx: &mut LegCtx) {
        if self.unanswered() {
            let _ = self.reject(ctx, 480, &[]);
        } else if let Some(s) = self.session.as_mut() {
            s.hangup(ctx);
        }
    }

    pub fn session_mut(&mut self) -> Result<&mut Session, LegError> {
        self.session
            .as_mut()
            .ok_or(LegError::InvalidState("call not answered"))
    }

    pub fn deadline(&self) -> Option<std::time::Instant> {
        self.session.as_ref().and_then(Session::deadline)
    }

    pub fn on_timer(&mut self, ctx: &mut LegCtx) {
        if let Some(s) = self.session.as_mut() {
            s.on_timer(ctx);
        }
    }

    /// Nothing left for this leg to do (its transactions may still be draining).
    pub fn finished(&self) -> bool {
        match self.state {
            State::Rejected | State::Cancelled => true,
            State::Answered => self.session.as_ref().is_none_or(Session::idle),
            State::Incoming | State::Early => false,
        }
    }
}
