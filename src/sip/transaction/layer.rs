//! [`TransactionLayer`]: the map of live transactions, message matching (§17.1.3,
//! §17.2.3), the shared timer queue and the action queue. Each message costs one or two
//! hash lookups; timers are a binary heap with lazy deletion, so nothing scans the
//! transaction set.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::Instant;

use super::client_invite::ClientInvite;
use super::client_non_invite::ClientNonInvite;
use super::ctx::{Ctx, Slots, Step};
use super::key::{IdGen, TxKey};
use super::peer::{response_peer, stamp_top_via};
use super::server_invite::ServerInvite;
use super::server_non_invite::ServerNonInvite;
use super::timers::{TimerConfig, TimerKind, TimerQueue, TIMER_KINDS};
use super::{Action, Peer, TxError, TxId, TxKind};
use crate::sip::message::{Message, Method, Request, Response};

/// Counters for metrics.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LayerStats {
    /// Transactions created (client and server).
    pub created: u64,
    /// Requests and responses we retransmitted (timers A, E, G, re-answers, re-ACKs).
    pub retransmissions: u64,
    /// Retransmitted requests and ACKs absorbed by a transaction.
    pub absorbed: u64,
    /// Responses matching no transaction.
    pub stray_responses: u64,
    /// Requests refused with a stateless 400 or dropped (no usable Via).
    pub bad_requests: u64,
    /// Timers B, F and H that fired.
    pub timeouts: u64,
}

#[derive(Debug)]
enum Machine {
    InviteClient(ClientInvite),
    NonInviteClient(ClientNonInvite),
    InviteServer(ServerInvite),
    NonInviteServer(ServerNonInvite),
}

#[derive(Debug)]
struct Entry {
    key: TxKey,
    peer: Peer,
    slots: Slots,
    machine: Machine,
}

/// All SIP transactions of one endpoint. See the module docs of
/// [`crate::sip::transaction`] for the driving loop.
#[derive(Debug)]
pub struct TransactionLayer {
    cfg: TimerConfig,
    ids: IdGen,
    next_id: u64,
    txs: HashMap<TxId, Entry>,
    by_key: HashMap<TxKey, TxId>,
    queue: TimerQueue<(TxId, TimerKind)>,
    actions: VecDeque<Action>,
    stats: LayerStats,
}

impl TransactionLayer {
    /// A layer with the given timers; `seed` makes branches unique (use a random value).
    pub fn new(cfg: TimerConfig, seed: u64) -> TransactionLayer {
        TransactionLayer {
            cfg,
            ids: IdGen::new(seed),
            next_id: 1,
            txs: HashMap::new(),
            by_key: HashMap::new(),
            queue: TimerQueue::default(),
            actions: VecDeque::new(),
            stats: LayerStats::default(),
        }
    }

    pub fn config(&self) -> &TimerConfig {
        &self.cfg
    }

    /// Generator for branches, tags and Call-IDs.
    pub fn ids(&mut self) -> &mut IdGen {
        &mut self.ids
    }

    /// A fresh `z9hG4bK` branch for a new client transaction (or a 2xx ACK).
    pub fn new_branch(&mut self) -> String {
        self.ids.branch()
    }

    /// Live transactions.
    pub fn len(&self) -> usize {
        self.txs.len()
    }

    pub fn is_empty(&self) -> bool {
        self.txs.is_empty()
    }

    pub fn stats(&self) -> &LayerStats {
        &self.stats
    }

    /// Next action for the edge or the TU.
    pub fn poll_action(&mut self) -> Option<Action> {
        self.actions.pop_front()
    }

    /// Takes every pending action.
    pub fn drain_actions(&mut self) -> impl Iterator<Item = Action> + '_ {
        self.actions.drain(..)
    }

    /// When [`TransactionLayer::on_timer`] must be called next.
    pub fn poll_timeout(&mut self) -> Option<Instant> {
        let txs = &self.txs;
        self.queue.skip_stale(|(id, kind), generation| {
            txs.get(&id)
                .is_some_and(|e| e.slots[kind.index()] == generation)
        });
        self.queue.peek()
    }

    /// Kind of a live transaction.
    pub fn kind(&self, tx: TxId) -> Option<TxKind> {
        Some(match self.txs.get(&tx)?.machine {
            Machine::InviteClient(_) => TxKind::ClientInvite,
            Machine::NonInviteClient(_) => TxKind::ClientNonInvite,
            Machine::InviteServer(_) => TxKind::ServerInvite,
            Machine::NonInviteServer(_) => TxKind::ServerNonInvite,
        })
    }

    /// State name of a live transaction (`"Calling"`, `"Accepted"`, ...), for tests and logs.
    pub fn state_name(&self, tx: TxId) -> Option<&'static str> {
        use super::{client_invite as ci, client_non_invite as cn};
        use super::{server_invite as si, server_non_invite as sn};
        Some(match &self.txs.get(&tx)?.machine {
            Machine::InviteClient(m) => match m.state {
                ci::State::Calling => "Calling",
                ci::State::Proceeding => "Proceeding",
                ci::State::Accepted => "Accepted",
                ci::State::Completed => "Completed",
            },
            Machine::NonInviteClient(m) => match m.state {
                cn::State::Trying => "Trying",
                cn::State::Proceeding => "Proceeding",
                cn::State::Completed => "Completed",
            },
            Machine::InviteServer(m) => match m.state {
                si::State::Proceeding => "Proceeding",
                si::State::Accepted => "Accepted",
                si::State::Completed => "Completed",
                si::State::Confirmed => "Confirmed",
            },
            Machine::NonInviteServer(m) => match m.state {
                sn::State::Trying => "Trying",
                sn::State::Proceeding => "Proceeding",
                sn::State::Completed => "Completed",
            },
        })
    }

    /// Where responses of a server transaction go (§18.2.2), or a client transaction's target.
    pub fn peer_of(&self, tx: TxId) -> Option<Peer> {
        self.txs.get(&tx).map(|e| e.peer)
    }

    /// The request a client transaction sends (e.g. to build a CANCEL).
    pub fn client_request(&self, tx: TxId) -> Option<&Request> {
        match &self.txs.get(&tx)?.machine {
            Machine::InviteClient(m) => m.request().as_request(),
            Machine::NonInviteClient(m) => m.request().as_request(),
            _ => None,
        }
    }

    /// The INVITE server transaction a CANCEL refers to (§9.2), if still alive.
    pub fn invite_for_cancel(&self, cancel: &Request) -> Option<TxId> {
        let via = cancel.top_via().ok()?;
        let key = TxKey::invite_for_cancel(cancel, &via).ok()?;
        let id = *self.by_key.get(&key)?;
        matches!(self.txs.get(&id)?.machine, Machine::InviteServer(_)).then_some(id)
    }

    /// A message from the transport edge.
    pub fn on_message(&mut self, msg: Message, from: Peer, now: Instant) {
        match msg {
            Message::Request(r) => self.on_request(r, from, now),
            Message::Response(r) => self.on_response(r, from, now),
        }
    }

    fn on_request(&mut self, mut req: Request, from: Peer, now: Instant) {
        let Ok(via) = req.top_via() else {
            self.stats.bad_requests += 1;
            return;
        };
        let key = match check_request(&req)
            .and_then(|()| TxKey::for_request(&req, &via).map_err(|e| e.0))
        {
            Ok(key) => key,
            Err(why) => {
                self.stats.bad_requests += 1;
                if req.method != Method::Ack {
                    let resp = Response::for_request(&req, 400, why);
                    let to = response_peer(&via, &from);
                    self.send_stateless(Message::Response(resp), to);
                }
                return;
            }
        };
        let via = stamp_top_via(&mut req.headers, via, &from);
        if let Some(&id) = self.by_key.get(&key) {
            self.on_matched_request(id, &key, req, from, now);
            return;
        }
        if req.method == Method::Ack {
            self.actions.push_back(Action::AckReceived {
                request: req,
                from,
                tx: None,
            });
            return;
        }
        let id = self.alloc_id();
        let peer = response_peer(&via, &from);
        let mut slots = [0; TIMER_KINDS];
        let machine = if req.method == Method::Invite {
            let trying = Response::for_request(&req, 100, "");
            let mut ctx = self.ctx(id, now, peer, &mut slots);
            Machine::InviteServer(ServerInvite::start(&mut ctx, trying))
        } else {
            Machine::NonInviteServer(ServerNonInvite::start())
        };
        self.insert(id, key, peer, slots, machine);
        self.actions.push_back(Action::RequestReceived {
            tx: id,
            request: req,
            from,
        });
    }

    fn on_matched_request(
        &mut self,
        id: TxId,
        key: &TxKey,
        req: Request,
        from: Peer,
        now: Instant,
    ) {
        let is_ack = req.method == Method::Ack;
        let step = self.run(id, now, |m, ctx| match m {
            Machine::InviteServer(si) if is_ack => {
                let tag = req.to().ok().and_then(|t| t.tag().map(str::to_string));
                if key.is_legacy() && tag.as_deref() != si.to_tag() {
                    // RFC 2543 ACK whose To tag is not ours: not this transaction.
                    ctx.emit(Action::AckReceived {
                        request: req,
                        from,
                        tx: None,
                    });
                    return Step::Stay;
                }
                si.on_ack(ctx, req, from)
            }
            Machine::InviteServer(si) => {
                si.on_retransmit(ctx);
                Step::Stay
            }
            Machine::NonInviteServer(sn) => {
                sn.on_retransmit(ctx);
                Step::Stay
            }
            _ => Step::Stay,
        });
        self.stats.absorbed += 1;
        if step == Some(Step::Terminate) {
            self.terminate(id);
        }
    }

    fn on_response(&mut self, resp: Response, from: Peer, now: Instant) {
        let key = resp
            .top_via()
            .ok()
            .and_then(|via| TxKey::for_response(&resp, &via).ok());
        let Some(id) = key.and_then(|k| self.by_key.get(&k).copied()) else {
            self.stats.stray_responses += 1;
            self.actions.push_back(Action::StrayResponse {
                response: resp,
                from,
            });
            return;
        };
        let step = self.run(id, now, |m, ctx| match m {
            Machine::InviteClient(ci) => ci.on_response(ctx, resp),
            Machine::NonInviteClient(cn) => cn.on_response(ctx, resp),
            _ => Step::Stay,
        });
        if step == Some(Step::Terminate) {
            self.terminate(id);
        }
    }

    /// Starts a client transaction for `req` (INVITE or non-INVITE, not ACK) towards
    /// `to`. The request must carry its top Via with a fresh branch
    /// ([`TransactionLayer::new_branch`]).
    pub fn send_request(&mut self, req: Request, to: Peer, now: Instant) -> Result<TxId, TxError> {
        if req.method == Method::Ack {
            return Err(TxError::AckNotAllowed);
        }
        let via = req.top_via().map_err(|_| TxError::NoBranch)?;
        let branch = via.branch.as_deref().ok_or(TxError::NoBranch)?;
        let key = TxKey::client(branch, req.method.clone());
        if self.by_key.contains_key(&key) {
            return Err(TxError::Duplicate);
        }
        let id = self.alloc_id();
        let invite = req.method == Method::Invite;
        let msg = Arc::new(Message::Request(req));
        let mut slots = [0; TIMER_KINDS];
        let mut ctx = self.ctx(id, now, to, &mut slots);
        let machine = if invite {
            Machine::InviteClient(ClientInvite::start(&mut ctx, msg))
        } else {
            Machine::NonInviteClient(ClientNonInvite::start(&mut ctx, msg))
        };
        self.insert(id, key, to, slots, machine);
        Ok(id)
    }

    /// Sends a response on a server transaction.
    pub fn send_response(&mut self, tx: TxId, resp: Response, now: Instant) -> Result<(), TxError> {
        let step = self
            .run(tx, now, |m, ctx| match m {
                Machine::InviteServer(si) => si.on_tu_response(ctx, resp),
                Machine::NonInviteServer(sn) => sn.on_tu_response(ctx, resp),
                _ => Err(TxError::WrongKind),
            })
            .ok_or(TxError::UnknownTransaction)??;
        if step == Step::Terminate {
            self.terminate(tx);
        }
        Ok(())
    }

    /// Sends a message outside any transaction (ACK for 2xx, 2xx retransmissions after
    /// the transaction ended, stateless responses).
    pub fn send_stateless(&mut self, msg: Message, to: Peer) {
        self.actions.push_back(Action::Send {
            to,
            msg: Arc::new(msg),
            tx: None,
        });
    }

    /// Counts a retransmission the TU made itself (2xx, re-ACK) in the stats.
    pub fn note_retransmission(&mut self) {
        self.stats.retransmissions += 1;
    }

    /// Fires every timer due at `now`.
    pub fn on_timer(&mut self, now: Instant) {
        while let Some(((id, kind), generation, _)) = self.queue.pop_due(now) {
            let Some(entry) = self.txs.get_mut(&id) else {
                continue;
            };
            if entry.slots[kind.index()] != generation {
                continue;
            }
            entry.slots[kind.index()] = 0;
            if matches!(kind, TimerKind::B | TimerKind::F | TimerKind::H) {
                self.stats.timeouts += 1;
            }
            let step = self.run(id, now, |m, ctx| match m {
                Machine::InviteClient(ci) => ci.on_timer(ctx, kind),
                Machine::NonInviteClient(cn) => cn.on_timer(ctx, kind),
                Machine::InviteServer(si) => si.on_timer(ctx, kind),
                Machine::NonInviteServer(sn) => sn.on_timer(kind),
            });
            if step == Some(Step::Terminate) {
                self.terminate(id);
            }
        }
    }

    /// The edge could not send for `tx` (connection refused/closed, ICMP error).
    pub fn on_transport_error(&mut self, tx: TxId) {
        if self.txs.contains_key(&tx) {
            self.actions.push_back(Action::TransportError { tx });
            self.terminate(tx);
        }
    }

    /// Destroys a transaction the TU has given up on (§9.1: an INVITE with no final
    /// response 64*T1 after its CANCEL). Emits `Terminated`.
    pub fn abandon(&mut self, tx: TxId) {
        self.terminate(tx);
    }

    fn alloc_id(&mut self) -> TxId {
        let id = TxId(self.next_id);
        self.next_id += 1;
        self.stats.created += 1;
        id
    }

    fn ctx<'a>(&'a mut self, id: TxId, now: Instant, peer: Peer, slots: &'a mut Slots) -> Ctx<'a> {
        Ctx {
            id,
            now,
            cfg: &self.cfg,
            peer,
            slots,
            queue: &mut self.queue,
            actions: &mut self.actions,
            retransmits: &mut self.stats.retransmissions,
        }
    }

    fn insert(&mut self, id: TxId, key: TxKey, peer: Peer, slots: Slots, machine: Machine) {
        self.by_key.insert(key.clone(), id);
        self.txs.insert(
            id,
            Entry {
                key,
                peer,
                slots,
                machine,
            },
        );
    }

    fn run<R>(
        &mut self,
        id: TxId,
        now: Instant,
        f: impl FnOnce(&mut Machine, &mut Ctx) -> R,
    ) -> Option<R> {
        let entry = self.txs.get_mut(&id)?;
        let mut ctx = Ctx {
            id,
            now,
            cfg: &self.cfg,
            peer: entry.peer,
            slots: &mut entry.slots,
            queue: &mut self.queue,
            actions: &mut self.actions,
            retransmits: &mut self.stats.retransmissions,
        };
        Some(f(&mut entry.machine, &mut ctx))
    }

    fn terminate(&mut self, id: TxId) {
        if let Some(entry) = self.txs.remove(&id) {
            if self.by_key.get(&entry.key) == Some(&id) {
                self.by_key.remove(&entry.key);
            }
            self.actions.push_back(Action::Terminated { tx: id });
        }
    }
}

/// §8.2 minimum for matching: Call-ID, CSeq (method equal to the request's), From, To.
fn check_request(req: &Request) -> Result<(), &'static str> {
    req.call_id().map_err(|_| "Missing or Invalid Call-ID")?;
    let cseq = req.cseq().map_err(|_| "Missing or Invalid CSeq")?;
    if cseq.method != req.method {
        return Err("CSeq Method Does Not Match Request");
    }
    req.from().map_err(|_| "Missing or Invalid From")?;
    req.to().map_err(|_| "Missing or Invalid To")?;
    Ok(())
}
