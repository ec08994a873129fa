//! The context a leg runs in: the transaction layer, `now`, local identity, the output
//! queue, and the list of client transactions the leg started (so [`super::Legs`]
//! routes their responses back to it).

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use super::{LegConfig, LegEvent, LegId, Output};
use crate::sip::message::{Message, NameAddr, Request, Response, SipUri, Uri, Via};
use crate::sip::transaction::{Peer, TransactionLayer, Transport, TxId};

pub(crate) struct LegCtx<'a> {
    pub leg: LegId,
    pub now: Instant,
    pub layer: &'a mut TransactionLayer,
    pub cfg: &'a LegConfig,
    pub out: &'a mut VecDeque<Output>,
    /// Transactions started or adopted during this call, registered to the leg afterwards.
    pub new_txs: &'a mut Vec<TxId>,
}

impl LegCtx<'_> {
    pub fn emit(&mut self, event: LegEvent) {
        self.out.push_back(Output::Leg {
            leg: self.leg,
            event,
        });
    }

    pub fn t1(&self) -> Duration {
        self.layer.config().t1
    }

    pub fn t2(&self) -> Duration {
        self.layer.config().t2
    }

    /// A top Via for a new request over `transport`, with a fresh branch.
    pub fn via(&mut self, transport: Transport) -> Via {
        let branch = self.layer.new_branch();
        Via::new(
            transport.via_token(),
            &self.cfg.local_host,
            Some(self.cfg.local_port),
            &branch,
        )
    }

    /// Our Contact for dialogs over `transport`.
    pub fn contact(&self, transport: Transport) -> NameAddr {
        let mut uri = SipUri::new(
            Some(&self.cfg.contact_user),
            &self.cfg.local_host,
            Some(self.cfg.local_port),
        );
        if transport != Transport::Udp {
            let t = transport.via_token().to_ascii_lowercase();
            uri.params.set("transport", Some(t));
        }
        NameAddr::new(Uri::Sip(uri))
    }

    /// Starts a client transaction owned by this leg. None if the layer refused it.
    pub fn send_request(&mut self, req: Request, to: Peer) -> Option<TxId> {
        let tx = self.layer.send_request(req, to, self.now).ok()?;
        self.new_txs.push(tx);
        Some(tx)
    }

    /// Responds on a server transaction; false if it is gone or in the wrong state.
    pub fn respond(&mut self, tx: TxId, resp: Response) -> bool {
        self.layer.send_response(tx, resp, self.now).is_ok()
    }

    /// Responds with a bare status (To tag added when given).
    pub fn respond_status(&mut self, tx: TxId, req: &Request, status: u16, tag: Option<&str>) {
        let mut resp = Response::for_request(req, status, "");
        if let Some(tag) = tag {
            resp.set_to_tag(tag);
        }
        self.respond(tx, resp);
    }

    pub fn send_stateless(&mut self, msg: Message, to: Peer) {
        self.layer.send_stateless(msg, to);
    }
}
