//! [`Legs`]: the transaction layer plus every call leg, and the routing between them.
//!
//! Routing: responses and transaction failures go to the leg that owns the transaction;
//! in-dialog requests and ACKs go by (Call-ID, our tag) — our tags are unique per leg,
//! so early and forked dialogs land on the right leg; a CANCEL goes to the leg owning
//! the INVITE server transaction it names. Unknown dialogs get 481, merged INVITEs
//! (same Call-ID, From tag and CSeq, other branch) 482. A leg is freed once it is
//! finished and all its transactions have ended.

use std::collections::{HashMap, VecDeque};
use std::time::Instant;

use bytes::Bytes;

use super::ctx::LegCtx;
use super::dispatch::Leg;
use super::timer;
use super::uac::UacLeg;
use super::uas::UasLeg;
use super::{LegConfig, LegError, LegId, OutgoingCall, Output};
use crate::sip::auth::Credentials;
use crate::sip::dialog::Dialog;
use crate::sip::message::{Message, Method, Request, Response};
use crate::sip::transaction::{
    Action, Peer, TimerConfig, TimerQueue, TransactionLayer, TxError, TxId,
};

/// (Call-ID, our tag).
type DialogKey = (String, String);
/// (Call-ID, From tag, CSeq) of an incoming INVITE, for merged-request detection.
type MergeKey = (String, String, u32);

#[derive(Debug)]
struct Slot {
    leg: Leg,
    /// Live transactions registered to the leg.
    txs: u32,
    timer: Option<(Instant, u64)>,
    dialog_key: DialogKey,
    merge_key: Option<MergeKey>,
}

/// The SIP signalling core: transactions and call legs. See the module docs.
#[derive(Debug)]
pub struct Legs {
    layer: TransactionLayer,
    cfg: LegConfig,
    legs: HashMap<LegId, Slot>,
    by_tx: HashMap<TxId, LegId>,
    by_dialog: HashMap<DialogKey, LegId>,
    by_merge: HashMap<MergeKey, LegId>,
    timers: TimerQueue<LegId>,
    out: VecDeque<Output>,
    next_leg: u64,
}

impl Legs {
    /// `seed` makes branches, tags and Call-IDs unique (use a random value).
    pub fn new(timers: TimerConfig, cfg: LegConfig, seed: u64) -> Legs {
        Legs {
            layer: TransactionLayer::new(timers, seed),
            cfg,
            legs: HashMap::new(),
            by_tx: HashMap::new(),
            by_dialog: HashMap::new(),
            by_merge: HashMap::new(),
            timers: TimerQueue::default(),
            out: VecDeque::new(),
            next_leg: 1,
        }
    }

    pub fn layer(&self) -> &TransactionLayer {
        &self.layer
    }

    /// Live legs (incoming and outgoing; a call in progress counts once per leg).
    pub fn len(&self) -> usize {
        self.legs.len()
    }

    pub fn is_empty(&self) -> bool {
        self.legs.is_empty()
    }

    /// The dialog of a leg (early or confirmed), if it has one.
    pub fn dialog(&self, leg: LegId) -> Option<&Dialog> {
        self.legs.get(&leg)?.leg.dialog()
    }

    /// The INVITE a leg received or is sending (for credentials, logging, call data).
    pub fn invite(&self, leg: LegId) -> Option<&Request> {
        match &self.legs.get(&leg)?.leg {
            Leg::Uas(l) => Some(l.invite()),
            Leg::Uac(l) => Some(l.invite()),
        }
    }

    pub fn poll_output(&mut self) -> Option<Output> {
        self.out.pop_front()
    }

    pub fn drain_outputs(&mut self) -> impl Iterator<Item = Output> + '_ {
        self.out.drain(..)
    }

    /// When [`Legs::on_timer`] must be called next.
    pub fn poll_timeout(&mut self) -> Option<Instant> {
        let legs = &self.legs;
        self.timers.skip_stale(|id, generation| {
            legs.get(&id)
                .and_then(|s| s.timer)
                .is_some_and(|(_, g)| g == generation)
        });
        match (self.layer.poll_timeout(), self.timers.peek()) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// A message from the transport edge.
    pub fn on_message(&mut self, msg: Message, from: Peer, now: Instant) {
        self.layer.on_message(msg, from, now);
        self.pump(now);
    }

    /// The edge failed to send for `tx`.
    pub fn on_transport_error(&mut self, tx: TxId, now: Instant) {
        self.layer.on_transport_error(tx);
        self.pump(now);
    }

    /// Fires transaction and leg timers due at `now`.
    pub fn on_timer(&mut self, now: Instant) {
        self.layer.on_timer(now);
        self.pump(now);
        while let Some((id, generation, _)) = self.timers.pop_due(now) {
            let Some(slot) = self.legs.get_mut(&id) else {
                continue;
            };
            if slot.timer.map(|(_, g)| g) != Some(generation) {
                continue;
            }
            slot.timer = None;
            self.with_leg(id, now, |leg, ctx| leg.on_timer(ctx));
            self.pump(now);
        }
    }

    // ---- commands from the call layer -------------------------------------------

    /// Places an outgoing call; the INVITE is on its way when this returns.
    pub fn call(&mut self, call: OutgoingCall, now: Instant) -> Result<LegId, LegError> {
        let id = self.alloc_leg();
        let call_id = self.layer.ids().call_id(&self.cfg.local_host);
        let tag = self.layer.ids().tag();
        let mut new_txs = Vec::new();
        let mut ctx = LegCtx {
            leg: id,
            now,
            layer: &mut self.layer,
            cfg: &self.cfg,
            out: &mut self.out,
            new_txs: &mut new_txs,
        };
        let leg = UacLeg::start(&mut ctx, call, &call_id, &tag)?;
        let key = (call_id, tag);
        self.by_dialog.insert(key.clone(), id);
        self.legs.insert(id, slot(Leg::Uac(leg), key, None));
        self.register(id, new_txs);
        self.pump(now);
        Ok(id)
    }

    /// UAS: 180 Ringing (or 183 with early media SDP).
    pub fn ring(&mut self, leg: LegId, sdp: Option<Bytes>, now: Instant) -> Result<(), LegError> {
        self.command(leg, now, |l, ctx| match l {
            Leg::Uas(u) => u.ring(ctx, sdp),
            Leg::Uac(_) => Err(LegError::InvalidState("not an incoming leg")),
        })
    }

    /// UAS: 200 OK with the SDP answer (retransmitted until ACKed).
    pub fn answer(&mut self, leg: LegId, sdp: Bytes, now: Instant) -> Result<(), LegError> {
        self.command(leg, now, |l, ctx| match l {
            Leg::Uas(u) => u.answer(ctx, sdp),
            Leg::Uac(_) => Err(LegError::InvalidState("not an incoming leg")),
        })
    }

    /// UAS: final failure response with extra headers (Retry-After, Allow...).
    pub fn reject(
        &mut self,
        leg: LegId,
        status: u16,
        headers: &[(&str, &str)],
        now: Instant,
    ) -> Result<(), LegError> {
        self.command(leg, now, |l, ctx| match l {
            Leg::Uas(u) => u.reject(ctx, status, headers),
            Leg::Uac(_) => Err(LegError::InvalidState("not an incoming leg")),
        })
    }

    /// UAC: answer a 401/407 with credential header values.
    pub fn authorize(
        &mut self,
        leg: LegId,
        credentials: Vec<String>,
        now: Instant,
    ) -> Result<(), LegError> {
        self.command(leg, now, |l, ctx| match l {
            Leg::Uac(u) => u.authorize(ctx, credentials),
            Leg::Uas(_) => Err(LegError::InvalidState("not an outgoing leg")),
        })
    }

    /// UAC: CANCEL the call attempt (sent once a provisional response arrived, §9.1).
    /// After the answer this is a BYE.
    pub fn cancel(
        &mut self,
        leg: LegId,
        reason: Option<String>,
        now: Instant,
    ) -> Result<(), LegError> {
        self.command(leg, now, |l, ctx| match l {
            Leg::Uac(u) => {
                u.cancel_with_reason(ctx, reason);
                Ok(())
            }
            Leg::Uas(_) => Err(LegError::InvalidState("not an outgoing leg")),
        })
    }

    /// UAC: answer a 401/407 from `creds` (digest computed by `crate::sip::auth`).
    pub fn authorize_with(
        &mut self,
        leg: LegId,
        creds: &Credentials,
        now: Instant,
    ) -> Result<(), LegError> {
        let cnonce = self.layer.ids().tag();
        self.command(leg, now, |l, ctx| match l {
            Leg::Uac(u) => u.authorize_with(ctx, creds, &cnonce),
            Leg::Uas(_) => Err(LegError::InvalidState("not an outgoing leg")),
        })
    }

    /// Ends a leg whatever its state: UAS 480 before the answer, UAC CANCEL before the
    /// answer (deferred until a provisional arrived), BYE after.
    pub fn hangup(&mut self, leg: LegId, now: Instant) -> Result<(), LegError> {
        self.command(leg, now, |l, ctx| {
            l.hangup(ctx);
            Ok(())
        })
    }

    /// Sends a re-INVITE with a new offer (hold/unhold).
    pub fn reinvite(&mut self, leg: LegId, sdp: Bytes, now: Instant) -> Result<(), LegError> {
        self.command(leg, now, |l, ctx| l.session_mut()?.reinvite(ctx, sdp))
    }

    /// Answers the peer's re-INVITE ([`super::LegEvent::ReInvite`]) with our SDP.
    pub fn answer_reinvite(
        &mut self,
        leg: LegId,
        sdp: Bytes,
        now: Instant,
    ) -> Result<(), LegError> {
        self.command(leg, now, |l, ctx| {
            l.session_mut()?.answer_reinvite(ctx, sdp)
        })
    }

    /// Refuses the peer's re-INVITE (e.g. 488); the session is unchanged.
    pub fn reject_reinvite(
        &mut self,
        leg: LegId,
        status: u16,
        now: Instant,
    ) -> Result<(), LegError> {
        self.command(leg, now, |l, ctx| {
            l.session_mut()?.reject_reinvite(ctx, status)
        })
    }

    /// Responds on a server transaction ([`Output::Request`], [`super::LegEvent::Request`]).
    pub fn respond(&mut self, tx: TxId, resp: Response, now: Instant) -> Result<(), TxError> {
        let r = self.layer.send_response(tx, resp, now);
        self.pump(now);
        r
    }

    /// Sends a request outside any leg (outbound REGISTER, OPTIONS keep-alive); its
    /// responses come back as [`Output::Response`].
    pub fn send_request(&mut self, req: Request, to: Peer, now: Instant) -> Result<TxId, TxError> {
        let r = self.layer.send_request(req, to, now);
        self.pump(now);
        r
    }

    /// A fresh branch for requests built with [`Legs::send_request`].
    pub fn new_branch(&mut self) -> String {
        self.layer.new_branch()
    }

    // ---- routing --------------------------------------------------------------

    fn pump(&mut self, now: Instant) {
        while let Some(action) = self.layer.poll_action() {
            match action {
                Action::Send { to, msg, tx } => self.out.push_back(Output::Send { to, msg, tx }),
                Action::RequestReceived { tx, request, from } => {
                    self.on_request(tx, request, from, now)
                }
                Action::AckReceived { request, .. } => {
                    if let Some(id) = self.leg_for_request(&request) {
                        self.with_leg(id, now, |l, ctx| l.on_ack(ctx, &request));
                    }
                }
                Action::ResponseReceived { tx, response } => match self.by_tx.get(&tx) {
                    Some(&id) => {
                        self.with_leg(id, now, |l, ctx| l.on_response(ctx, tx, response));
                    }
                    None => self.out.push_back(Output::Response { tx, response }),
                },
                Action::StrayResponse { response, .. } => self.on_stray(response, now),
                Action::Timeout { tx } => self.on_tx_failure(tx, true, now),
                Action::TransportError { tx } => self.on_tx_failure(tx, false, now),
                Action::Terminated { tx } => {
                    if let Some(id) = self.by_tx.remove(&tx) {
                        if let Some(slot) = self.legs.get_mut(&id) {
                            slot.txs = slot.txs.saturating_sub(1);
                        }
                        self.maybe_free(id);
                    }
                }
            }
        }
    }

    fn on_request(&mut self, tx: TxId, req: Request, from: Peer, now: Instant) {
        if req.method == Method::Cancel {
            let invite = self.layer.invite_for_cancel(&req);
            match invite.and_then(|itx| self.by_tx.get(&itx).copied()) {
                Some(id) => {
                    self.with_leg(id, now, |l, ctx| {
                        ctx.new_txs.push(tx);
                        match l {
                            Leg::Uas(u) => u.on_cancel(ctx, tx, &req),
                            Leg::Uac(_) => ctx.respond_status(tx, &req, 481, None),
                        }
                    });
                }
                None => self.respond_status(tx, &req, 481, now),
            }
            return;
        }
        let to_tag = req.to().ok().and_then(|t| t.tag().map(str::to_string));
        if let Some(tag) = to_tag {
            let key = (req.call_id().unwrap_or_default().to_string(), tag);
            match self.by_dialog.get(&key).copied() {
                Some(id) => {
                    self.with_leg(id, now, |l, ctx| {
                        ctx.new_txs.push(tx);
                        l.on_request(ctx, tx, req);
                    });
                }
                None => self.respond_status(tx, &req, 481, now),
            }
            return;
        }
        if req.method != Method::Invite {
            self.out.push_back(Output::Request {
                tx,
                request: req,
                from,
            });
            return;
        }
        let merge = merge_key(&req);
        if merge
            .as_ref()
            .is_some_and(|k| self.by_merge.contains_key(k))
        {
            self.respond_status(tx, &req, 482, now);
            return;
        }
        if let Err(min_se) = timer::as_uas(&req.headers, &self.cfg) {
            // RFC 4028 §9: the interval asked for is below our minimum.
            let mut resp = Response::for_request(&req, 422, "");
            resp.set_to_tag(&self.layer.ids().tag());
            resp.headers.push("min-se", min_se.to_string());
            let _ = self.layer.send_response(tx, resp, now);
            return;
        }
        let id = self.alloc_leg();
        let tag = self.layer.ids().tag();
        let key = (req.call_id().unwrap_or_default().to_string(), tag.clone());
        self.by_dialog.insert(key.clone(), id);
        if let Some(m) = &merge {
            self.by_merge.insert(m.clone(), id);
        }
        let leg = UasLeg::new(tx, req.clone(), from, tag);
        self.legs.insert(id, slot(Leg::Uas(leg), key, merge));
        self.register(id, vec![tx]);
        self.out.push_back(Output::IncomingCall {
            leg: id,
            invite: req,
            from,
        });
    }

    fn on_stray(&mut self, resp: Response, now: Instant) {
        let invite_2xx = resp.is_success() && resp.cseq().is_ok_and(|c| c.method == Method::Invite);
        if !invite_2xx {
            return;
        }
        let key = resp
            .call_id()
            .ok()
            .zip(resp.from().ok().and_then(|f| f.tag().map(str::to_string)))
            .map(|(c, t)| (c.to_string(), t));
        if let Some(&id) = key.and_then(|k| self.by_dialog.get(&k)) {
            self.with_leg(id, now, |l, ctx| l.on_stray_2xx(ctx, &resp));
        }
    }

    fn on_tx_failure(&mut self, tx: TxId, timeout: bool, now: Instant) {
        match self.by_tx.get(&tx) {
            Some(&id) => {
                self.with_leg(id, now, |l, ctx| l.on_tx_failure(ctx, tx, timeout));
            }
            None => self.out.push_back(Output::RequestFailed { tx, timeout }),
        }
    }

    fn leg_for_request(&self, req: &Request) -> Option<LegId> {
        let call_id = req.call_id().ok()?;
        let to = req.to().ok()?;
        let key = (call_id.to_string(), to.tag()?.to_string());
        self.by_dialog.get(&key).copied()
    }

    fn respond_status(&mut self, tx: TxId, req: &Request, status: u16, now: Instant) {
        let resp = Response::for_request(req, status, "");
        // The transaction was created for this request a moment ago; it cannot refuse.
        let _ = self.layer.send_response(tx, resp, now);
    }

    fn command<R>(
        &mut self,
        id: LegId,
        now: Instant,
        f: impl FnOnce(&mut Leg, &mut LegCtx) -> Result<R, LegError>,
    ) -> Result<R, LegError> {
        let r = self.with_leg(id, now, f).ok_or(LegError::UnknownLeg)?;
        self.pump(now);
        r
    }

    /// Runs `f` on a leg, registers the transactions it started, re-arms its timer and
    /// frees it if it is done.
    fn with_leg<R>(
        &mut self,
        id: LegId,
        now: Instant,
        f: impl FnOnce(&mut Leg, &mut LegCtx) -> R,
    ) -> Option<R> {
        let slot = self.legs.get_mut(&id)?;
        let mut new_txs = Vec::new();
        let mut ctx = LegCtx {
            leg: id,
            now,
            layer: &mut self.layer,
            cfg: &self.cfg,
            out: &mut self.out,
            new_txs: &mut new_txs,
        };
        let r = f(&mut slot.leg, &mut ctx);
        let deadline = slot.leg.deadline();
        if deadline != slot.timer.map(|(at, _)| at) {
            slot.timer = deadline.map(|at| (at, self.timers.schedule(id, at)));
        }
        self.register(id, new_txs);
        self.maybe_free(id);
        Some(r)
    }

    fn register(&mut self, id: LegId, txs: Vec<TxId>) {
        if let Some(slot) = self.legs.get_mut(&id) {
            for tx in txs {
                if self.by_tx.insert(tx, id).is_none() {
                    slot.txs += 1;
                }
            }
        }
    }

    fn maybe_free(&mut self, id: LegId) {
        let done = self
            .legs
            .get(&id)
            .is_some_and(|s| s.txs == 0 && s.leg.finished());
        if !done {
            return;
        }
        if let Some(slot) = self.legs.remove(&id) {
            self.by_dialog.remove(&slot.dialog_key);
            if let Some(m) = slot.merge_key {
                self.by_merge.remove(&m);
            }
            self.out.push_back(Output::LegFreed { leg: id });
        }
    }

    fn alloc_leg(&mut self) -> LegId {
        let id = LegId(self.next_leg);
        self.next_leg += 1;
        id
    }
}

fn slot(leg: Leg, dialog_key: DialogKey, merge_key: Option<MergeKey>) -> Slot {
    Slot {
        leg,
        txs: 0,
        timer: None,
        dialog_key,
        merge_key,
    }
}

fn merge_key(req: &Request) -> Option<MergeKey> {
    Some((
        req.call_id().ok()?.to_string(),
        req.from().ok()?.tag()?.to_string(),
        req.cseq().ok()?.seq,
    ))
}
