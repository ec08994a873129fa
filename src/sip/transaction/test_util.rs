//! Test helpers: request/response builders, short timers and a harness that drains the
//! layer's actions so tests can assert on what was sent and reported.

use std::time::{Duration, Instant};

use super::{Action, Peer, TimerConfig, TransactionLayer, TxId};
use crate::sip::message::{Message, Method, Request, Response, Uri};

/// T1 = 10 ms, T2 = 40 ms, T4 = 50 ms, D = 320 ms, 100 Trying at 20 ms.
pub fn short_timers() -> TimerConfig {
    TimerConfig {
        t1: Duration::from_millis(10),
        t2: Duration::from_millis(40),
        t4: Duration::from_millis(50),
        timer_d: Duration::from_millis(320),
        trying_delay: Duration::from_millis(20),
    }
}

pub fn udp_peer() -> Peer {
    Peer::udp("192.0.2.10:5060".parse().unwrap())
}

pub fn tcp_peer() -> Peer {
    Peer::tcp("192.0.2.10:5060".parse().unwrap(), 1)
}

/// A request from alice@192.0.2.10 to bob with the given branch and CSeq.
pub fn request(method: Method, branch: &str, cseq: u32) -> Request {
    let mut r = Request::new(method.clone(), Uri::parse("sip:bob@192.0.2.20").unwrap());
    r.headers.push(
        "via",
        format!("SIP/2.0/UDP 192.0.2.10:5060;branch={branch};rport"),
    );
    r.headers.push("max-forwards", "70");
    r.headers
        .push("from", "\"Alice\" <sip:alice@192.0.2.10>;tag=from1");
    r.headers.push("to", "<sip:bob@192.0.2.20>");
    r.headers.push("call-id", "call-1@192.0.2.10");
    r.headers.push("cseq", format!("{cseq} {method}"));
    r.headers.push("contact", "<sip:alice@192.0.2.10:5060>");
    r
}

pub fn invite(branch: &str, cseq: u32) -> Request {
    request(Method::Invite, branch, cseq)
}

/// A response to `req` (To tag added for non-100).
pub fn response(req: &Request, status: u16) -> Response {
    let r = Response::for_request(req, status, "");
    if status == 100 {
        r
    } else {
        r.with_to_tag("totag1")
    }
}

/// Drives a layer and records its actions.
pub struct Harness {
    pub layer: TransactionLayer,
    pub t0: Instant,
    pub actions: Vec<Action>,
}

impl Harness {
    pub fn new() -> Harness {
        Harness::with(short_timers())
    }

    pub fn with(cfg: TimerConfig) -> Harness {
        Harness {
            layer: TransactionLayer::new(cfg, 7),
            t0: Instant::now(),
            actions: Vec::new(),
        }
    }

    pub fn at(&self, ms: u64) -> Instant {
        self.t0 + Duration::from_millis(ms)
    }

    /// Collects actions; every message sent must survive serialize → parse.
    fn drain(&mut self) {
        for a in self.layer.drain_actions() {
            if let Action::Send { msg, .. } = &a {
                let wire = msg.to_bytes();
                let back = Message::parse(&wire);
                assert!(back.is_ok(), "unparsable: {back:?}");
            }
            self.actions.push(a);
        }
    }

    pub fn receive(&mut self, msg: impl Into<Message>, from: Peer, ms: u64) {
        self.layer.on_message(msg.into(), from, self.at(ms));
        self.drain();
    }

    pub fn send_request(&mut self, req: Request, to: Peer, ms: u64) -> TxId {
        let id = self.layer.send_request(req, to, self.at(ms)).unwrap();
        self.drain();
        id
    }

    pub fn respond(&mut self, tx: TxId, resp: Response, ms: u64) {
        self.layer.send_response(tx, resp, self.at(ms)).unwrap();
        self.drain();
    }

    /// Runs every timer up to `ms`, one deadline at a time (as an edge would), and
    /// returns the deadlines (ms after t0) at which something was sent.
    pub fn advance(&mut self, ms: u64) -> Vec<u64> {
        let end = self.at(ms);
        let mut sent_at = Vec::new();
        while let Some(due) = self.layer.poll_timeout() {
            if due > end {
                break;
            }
            let before = self.sends().len();
            self.layer.on_timer(due);
            self.drain();
            if self.sends().len() > before {
                sent_at.push(due.duration_since(self.t0).as_millis() as u64);
            }
        }
        sent_at
    }

    /// Messages sent so far.
    pub fn sends(&self) -> Vec<&Message> {
        self.actions
            .iter()
            .filter_map(|a| match a {
                Action::Send { msg, .. } => Some(msg.as_ref()),
                _ => None,
            })
            .collect()
    }

    /// Status codes of the responses sent so far.
    pub fn sent_statuses(&self) -> Vec<u16> {
        self.sends()
            .iter()
            .filter_map(|m| m.as_response().map(|r| r.status))
            .collect()
    }

    /// Methods of the requests sent so far.
    pub fn sent_methods(&self) -> Vec<Method> {
        self.sends()
            .iter()
            .filter_map(|m| m.as_request().map(|r| r.method.clone()))
            .collect()
    }

    /// Requests passed to the TU (RequestReceived).
    pub fn received_requests(&self) -> Vec<(TxId, &Request)> {
        self.actions
            .iter()
            .filter_map(|a| match a {
                Action::RequestReceived { tx, request, .. } => Some((*tx, request)),
                _ => None,
            })
            .collect()
    }

    pub fn count(&self, pred: impl Fn(&Action) -> bool) -> usize {
        self.actions.iter().filter(|a| pred(a)).count()
    }

    pub fn terminated(&self, tx: TxId) -> bool {
        self.count(|a| matches!(a, Action::Terminated { tx: t } if *t == tx)) == 1
    }

    pub fn timed_out(&self, tx: TxId) -> bool {
        self.count(|a| matches!(a, Action::Timeout { tx: t } if *t == tx)) == 1
    }
}
