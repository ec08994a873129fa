//! Leg test harness: a [`Legs`] driven by hand-set time, plus a scripted remote phone
//! that builds its requests with [`Dialog`] from its own side of the call.

use std::time::{Duration, Instant};

use bytes::Bytes;

use super::{LegConfig, LegEvent, LegId, Legs, OutgoingCall, Output};
use crate::sip::dialog::{Dialog, DialogState};
use crate::sip::message::{Message, Method, NameAddr, Request, Response, Uri, Via};
use crate::sip::transaction::test_util::short_timers;
use crate::sip::transaction::Peer;

pub const OFFER: &[u8] = b"v=0\r\no=- 1 1 IN IP4 192.0.2.10\r\ns=-\r\nc=IN IP4 192.0.2.10\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n";
pub const ANSWER: &[u8] = b"v=0\r\no=- 2 2 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 20000 RTP/AVP 0\r\n";

pub fn phone() -> Peer {
    Peer::udp("192.0.2.10:5060".parse().unwrap())
}

pub struct H {
    pub legs: Legs,
    pub t0: Instant,
    pub out: Vec<Output>,
}

impl H {
    pub fn new() -> H {
        H::with_config(LegConfig::default())
    }

    pub fn with_config(cfg: LegConfig) -> H {
        H {
            legs: Legs::new(short_timers(), cfg, 11),
            t0: Instant::now(),
            out: Vec::new(),
        }
    }

    pub fn at(&self, ms: u64) -> Instant {
        self.t0 + Duration::from_millis(ms)
    }

    /// Collects outputs; every message we send must survive serialize → parse.
    pub fn drain(&mut self) {
        let new: Vec<_> = self.legs.drain_outputs().collect();
        for o in &new {
            if let Output::Send { msg, .. } = o {
                let wire = msg.to_bytes();
                let back = Message::parse(&wire);
                assert!(
                    back.is_ok(),
                    "unparsable: {back:?}\n{}",
                    String::from_utf8_lossy(&wire)
                );
            }
        }
        self.out.extend(new);
    }

    pub fn receive(&mut self, msg: impl Into<Message>, ms: u64) {
        self.receive_from(msg, phone(), ms);
    }

    pub fn receive_from(&mut self, msg: impl Into<Message>, from: Peer, ms: u64) {
        let at = self.at(ms);
        self.legs.on_message(msg.into(), from, at);
        self.drain();
    }

    /// Runs every timer up to `ms`.
    pub fn advance(&mut self, ms: u64) {
        let end = self.at(ms);
        while let Some(due) = self.legs.poll_timeout() {
            if due > end {
                break;
            }
            self.legs.on_timer(due);
            self.drain();
        }
    }

    /// Every message sent, in order, with the time (ms) of the output batch.
    pub fn sent(&self) -> Vec<&Message> {
        self.out
            .iter()
            .filter_map(|o| match o {
                Output::Send { msg, .. } => Some(msg.as_ref()),
                _ => None,
            })
            .collect()
    }

    pub fn sent_requests(&self, method: Method) -> Vec<Request> {
        self.sent()
            .into_iter()
            .filter_map(|m| m.as_request())
            .filter(|r| r.method == method)
            .cloned()
            .collect()
    }

    /// Responses sent with this status.
    pub fn sent_responses(&self, status: u16) -> Vec<Response> {
        self.sent()
            .into_iter()
            .filter_map(|m| m.as_response())
            .filter(|r| r.status == status)
            .cloned()
            .collect()
    }

    /// (status, CSeq method) of every response sent.
    pub fn sent_statuses(&self) -> Vec<(u16, String)> {
        self.sent()
            .into_iter()
            .filter_map(|m| m.as_response())
            .map(|r| (r.status, r.cseq().unwrap().method.to_string()))
            .collect()
    }

    pub fn events(&self, leg: LegId) -> Vec<LegEvent> {
        self.out
            .iter()
            .filter_map(|o| match o {
                Output::Leg { leg: l, event } if *l == leg => Some(event.clone()),
                _ => None,
            })
            .collect()
    }

    pub fn incoming(&self) -> Vec<LegId> {
        self.out
            .iter()
            .filter_map(|o| match o {
                Output::IncomingCall { leg, .. } => Some(*leg),
                _ => None,
            })
            .collect()
    }

    pub fn freed(&self, leg: LegId) -> bool {
        self.out
            .iter()
            .any(|o| matches!(o, Output::LegFreed { leg: l } if *l == leg))
    }

    /// An outgoing call to the phone with our SDP offer.
    pub fn call(&mut self, ms: u64) -> LegId {
        let call = OutgoingCall {
            target: phone(),
            uri: Uri::parse("sip:agent7@192.0.2.10:5060").unwrap(),
            from: NameAddr::parse("<sip:+15551230000@helpline.example>").unwrap(),
            to: NameAddr::parse("<sip:agent7@helpline.example>").unwrap(),
            sdp: Some(Bytes::from_static(OFFER)),
            headers: vec![],
        };
        let at = self.at(ms);
        let leg = self.legs.call(call, at).unwrap();
        self.drain();
        leg
    }
}

/// The remote phone's INVITE to us (its branch and From tag fixed).
pub fn caller_invite(branch: &str) -> Request {
    let mut r = crate::sip::transaction::test_util::invite(branch, 1);
    r.set_body("application/sdp", Bytes::from_static(OFFER));
    r
}

/// The remote caller's side of the dialog, from our 2xx (it is the UAC).
pub fn caller_dialog(invite: &Request, ok: &Response) -> Dialog {
    Dialog::uac(invite, ok).unwrap()
}

/// The remote callee's side of the dialog for our INVITE (it is the UAS).
pub fn callee_dialog(invite: &Request) -> Dialog {
    let contact = NameAddr::parse("<sip:agent7@192.0.2.10:5060>").unwrap();
    Dialog::uas(invite, "callee1", contact, DialogState::Confirmed).unwrap()
}

/// The remote phone's response to our request (To tag `callee1`, Contact for 1xx/2xx).
pub fn answer_to(req: &Request, status: u16) -> Response {
    let mut r = Response::for_request(req, status, "");
    if status > 100 {
        r.set_to_tag("callee1");
    }
    if (101..300).contains(&status) {
        r.headers.push("contact", "<sip:agent7@192.0.2.10:5060>");
    }
    r
}

pub fn phone_via(branch: &str) -> Via {
    Via::new("UDP", "192.0.2.10", Some(5060), branch)
}
