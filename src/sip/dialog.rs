//! Dialog state (RFC 3261 §12): the dialog id (Call-ID, local tag, remote tag), local
//! and remote CSeq, remote target (Contact), route set (Record-Route) and secure flag;
//! creating UAS dialogs from an INVITE and UAC dialogs from a 1xx/2xx; building
//! in-dialog requests (§12.2.1.1, loose and strict routing) and the ACK for a 2xx
//! (§13.2.2.4); checking in-dialog requests (§12.2.2: out-of-order CSeq → 500).

use std::fmt;

use crate::sip::message::{Method, NameAddr, Request, Response, Uri, Via};

/// Identifies a dialog from our side.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct DialogId {
    pub call_id: String,
    pub local_tag: String,
    pub remote_tag: String,
}

impl DialogId {
    /// The id an incoming in-dialog request names (local = To tag, remote = From tag).
    /// None when either tag or the Call-ID is missing.
    pub fn of_incoming_request(req: &Request) -> Option<DialogId> {
        Some(DialogId {
            call_id: req.call_id().ok()?.to_string(),
            local_tag: req.to().ok()?.tag()?.to_string(),
            remote_tag: req.from().ok()?.tag()?.to_string(),
        })
    }

    /// The id a response to our request names (local = From tag, remote = To tag).
    pub fn of_response(resp: &Response) -> Option<DialogId> {
        Some(DialogId {
            call_id: resp.call_id().ok()?.to_string(),
            local_tag: resp.from().ok()?.tag()?.to_string(),
            remote_tag: resp.to().ok()?.tag()?.to_string(),
        })
    }
}

impl fmt::Display for DialogId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{};l={};r={}",
            self.call_id, self.local_tag, self.remote_tag
        )
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DialogState {
    Early,
    Confirmed,
    Terminated,
}

/// Why a dialog could not be created from a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DialogError(pub &'static str);

impl fmt::Display for DialogError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

impl std::error::Error for DialogError {}

/// One dialog (§12).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dialog {
    pub id: DialogId,
    pub state: DialogState,
    /// CSeq of the last request we sent in the dialog (0 = none yet, UAS side).
    pub local_seq: u32,
    /// CSeq of the last request the peer sent (None = none yet, UAC side).
    pub remote_seq: Option<u32>,
    /// Our address (with our tag): From on requests we send.
    pub local_uri: NameAddr,
    /// The peer's address (with its tag): To on requests we send.
    pub remote_uri: NameAddr,
    /// Request-URI target: the peer's Contact.
    pub remote_target: Uri,
    /// Route set, in the order the Route header of our requests lists it.
    pub route_set: Vec<NameAddr>,
    /// Our Contact for target refresh requests and 2xx responses.
    pub local_contact: NameAddr,
    /// `sips:` dialog over TLS.
    pub secure: bool,
}

impl Dialog {
    /// §12.1.1: UAS dialog from an INVITE and the To tag of our 1xx/2xx.
    pub fn uas(
        invite: &Request,
        local_tag: &str,
        local_contact: NameAddr,
        state: DialogState,
    ) -> Result<Dialog, DialogError> {
        let call_id = invite.call_id().map_err(|_| DialogError("no Call-ID"))?;
        let from = invite.from().map_err(|_| DialogError("no valid From"))?;
        let remote_tag = from
            .tag()
            .ok_or(DialogError("From has no tag"))?
            .to_string();
        let mut to = invite.to().map_err(|_| DialogError("no valid To"))?;
        to.set_tag(local_tag);
        let cseq = invite.cseq().map_err(|_| DialogError("no valid CSeq"))?;
        let remote_target = contact_uri(invite.headers.contact())?;
        let route_set = invite
            .headers
            .record_routes()
            .map_err(|_| DialogError("invalid Record-Route"))?;
        Ok(Dialog {
            id: DialogId {
                call_id: call_id.to_string(),
                local_tag: local_tag.to_string(),
                remote_tag,
            },
            state,
            local_seq: 0,
            remote_seq: Some(cseq.seq),
            local_uri: to,
            remote_uri: from,
            remote_target,
            route_set,
            local_contact,
            secure: invite.uri.is_sips(),
        })
    }

    /// §12.1.2: UAC dialog from our INVITE and a 1xx (early) or 2xx (confirmed) with a
    /// To tag. The route set is the response's Record-Route, reversed.
    pub fn uac(invite: &Request, resp: &Response) -> Result<Dialog, DialogError> {
        let id = DialogId::of_response(resp).ok_or(DialogError("response has no To tag"))?;
        let cseq = invite.cseq().map_err(|_| DialogError("no valid CSeq"))?;
        let local_uri = invite.from().map_err(|_| DialogError("no valid From"))?;
        let remote_uri = resp.to().map_err(|_| DialogError("no valid To"))?;
        let local_contact = invite
            .headers
            .contact()
            .ok()
            .flatten()
            .ok_or(DialogError("our INVITE has no Contact"))?;
        let mut dialog = Dialog {
            id,
            state: if resp.is_success() {
                DialogState::Confirmed
            } else {
                DialogState::Early
            },
            local_seq: cseq.seq,
            remote_seq: None,
            local_uri,
            remote_uri,
            remote_target: invite.uri.clone(),
            route_set: Vec::new(),
            local_contact,
            secure: invite.uri.is_sips(),
        };
        dialog.take_route_and_target(resp)?;
        Ok(dialog)
    }

    /// Route set (reversed Record-Route) and remote target (Contact) from a response.
    fn take_route_and_target(&mut self, resp: &Response) -> Result<(), DialogError> {
        let mut routes = resp
            .headers
            .record_routes()
            .map_err(|_| DialogError("invalid Record-Route"))?;
        routes.reverse();
        self.route_set = routes;
        if let Ok(Some(c)) = resp.headers.contact() {
            self.remote_target = c.uri;
        }
        Ok(())
    }

    /// §13.2.2.4: a 2xx for an early dialog confirms it and recomputes the route set.
    pub fn confirm(&mut self, resp: &Response) -> Result<(), DialogError> {
        if self.state == DialogState::Early {
            self.take_route_and_target(resp)?;
        }
        self.state = DialogState::Confirmed;
        Ok(())
    }

    /// Target refresh by a 2xx to our re-INVITE/UPDATE: new remote target if Contact given.
    pub fn refresh_target(&mut self, msg_contact: Option<NameAddr>) {
        if let Some(c) = msg_contact {
            self.remote_target = c.uri;
        }
    }

    /// §12.2.1.1: a new request in this dialog. `via` is the top Via with a fresh branch.
    /// CSeq is incremented except for ACK and CANCEL (which reuse the current one).
    pub fn new_request(&mut self, method: Method, via: &Via) -> Request {
        if !matches!(method, Method::Ack | Method::Cancel) {
            self.local_seq = self.local_seq.wrapping_add(1).max(1);
        }
        let seq = self.local_seq;
        self.build(method, seq, via)
    }

    /// §13.2.2.4: the ACK for a 2xx to the INVITE with CSeq `invite_seq`.
    pub fn ack_for_2xx(&self, invite_seq: u32, via: &Via) -> Request {
        self.build(Method::Ack, invite_seq, via)
    }

    fn build(&self, method: Method, seq: u32, via: &Via) -> Request {
        let (uri, routes) = self.request_target();
        let mut req = Request::new(method.clone(), uri);
        req.headers.push("via", via.to_string());
        req.headers.push("max-forwards", "70");
        for r in routes {
            req.headers.push("route", r.to_string());
        }
        req.headers.push("from", self.local_uri.to_string());
        req.headers.push("to", self.remote_uri.to_string());
        req.headers.push("call-id", self.id.call_id.clone());
        req.headers.push("cseq", format!("{seq} {method}"));
        if matches!(method, Method::Invite | Method::Update) {
            req.headers.push("contact", self.local_contact.to_string());
        }
        req
    }

    /// Request-URI and Route list: loose routing when the first route has `lr`, else
    /// strict routing (the first route becomes the Request-URI, the target goes last).
    fn request_target(&self) -> (Uri, Vec<NameAddr>) {
        let Some(first) = self.route_set.first() else {
            return (self.remote_target.clone(), Vec::new());
        };
        let loose = first.uri.params().is_some_and(|p| p.contains("lr"));
        if loose {
            return (self.remote_target.clone(), self.route_set.clone());
        }
        let mut uri = first.uri.clone();
        if let Some(sip) = uri.as_sip_mut() {
            sip.headers.clear();
            sip.params.remove("method");
        }
        let mut routes: Vec<NameAddr> = self.route_set[1..].to_vec();
        routes.push(NameAddr::new(self.remote_target.clone()));
        (uri, routes)
    }

    /// §12.2.2: checks an incoming in-dialog request. A CSeq lower than the last one is
    /// out of order (`Err(500)`); otherwise the remote CSeq advances and a target
    /// refresh (re-INVITE, UPDATE) with a Contact updates the remote target.
    /// ACK and CANCEL carry an earlier request's CSeq and are not checked.
    pub fn check_request(&mut self, req: &Request) -> Result<(), u16> {
        if matches!(req.method, Method::Ack | Method::Cancel) {
            return Ok(());
        }
        let seq = req.cseq().map_err(|_| 400u16)?.seq;
        if self.remote_seq.is_some_and(|r| seq < r) {
            return Err(500);
        }
        self.remote_seq = Some(seq);
        if matches!(req.method, Method::Invite | Method::Update) {
            if let Ok(Some(c)) = req.headers.contact() {
                self.remote_target = c.uri;
            }
        }
        Ok(())
    }

    /// Does an incoming request belong to this dialog?
    pub fn matches_request(&self, req: &Request) -> bool {
        DialogId::of_incoming_request(req).as_ref() == Some(&self.id)
    }

    pub fn terminate(&mut self) {
        self.state = DialogState::Terminated;
    }
}

fn contact_uri(
    c: Result<Option<NameAddr>, crate::sip::message::HeaderError>,
) -> Result<Uri, DialogError> {
    match c {
        Ok(Some(c)) => Ok(c.uri),
        Ok(None) => Err(DialogError("INVITE has no Contact")),
        Err(_) => Err(DialogError("invalid Contact")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sip::transaction::test_util::{invite, response};

    fn contact() -> NameAddr {
        NameAddr::parse("<sip:helpline@192.0.2.20:5060>").unwrap()
    }

    fn via() -> Via {
        Via::new("UDP", "192.0.2.20", Some(5060), "z9hG4bKnew")
    }

    fn uas_dialog() -> Dialog {
        let mut inv = invite("z9hG4bK1", 10);
        inv.headers.push("record-route", "<sip:p1.example;lr>");
        inv.headers.push("record-route", "<sip:p2.example;lr>");
        Dialog::uas(&inv, "ourtag", contact(), DialogState::Confirmed).unwrap()
    }

    #[test]
    fn uas_dialog_takes_ids_target_and_route_set_in_order() {
        let d = uas_dialog();
        assert_eq!(d.id.call_id, "call-1@192.0.2.10");
        assert_eq!(d.id.local_tag, "ourtag");
        assert_eq!(d.id.remote_tag, "from1");
        assert_eq!(d.remote_seq, Some(10));
        assert_eq!(d.remote_target.to_string(), "sip:alice@192.0.2.10:5060");
        let hosts: Vec<_> = d.route_set.iter().map(|r| r.uri.host().unwrap()).collect();
        assert_eq!(hosts, ["p1.example", "p2.example"]);
        assert!(!d.secure);
    }

    #[test]
    fn uas_bye_goes_to_contact_with_routes_tags_and_next_cseq() {
        let mut d = uas_dialog();
        let bye = d.new_request(Method::Bye, &via());
        assert_eq!(bye.uri.to_string(), "sip:alice@192.0.2.10:5060");
        assert_eq!(bye.headers.get_all("route").count(), 2);
        assert_eq!(bye.from().unwrap().tag(), Some("ourtag"));
        assert_eq!(bye.to().unwrap().tag(), Some("from1"));
        assert_eq!(bye.cseq().unwrap().seq, 1);
        let again = d.new_request(Method::Bye, &via());
        assert_eq!(again.cseq().unwrap().seq, 2);
        assert!(!bye.headers.contains("contact"));
    }

    #[test]
    fn uac_dialog_from_180_then_200_recomputes_reversed_route_set() {
        let inv = invite("z9hG4bK1", 5);
        let mut ringing = response(&inv, 180);
        ringing.headers.push("contact", "<sip:bob@198.51.100.1>");
        let mut d = Dialog::uac(&inv, &ringing).unwrap();
        assert_eq!(d.state, DialogState::Early);
        assert_eq!(d.id.local_tag, "from1");
        assert_eq!(d.id.remote_tag, "totag1");
        assert_eq!(d.local_seq, 5);
        let mut ok = response(&inv, 200);
        ok.headers.push("contact", "<sip:bob@198.51.100.2>");
        ok.headers.push("record-route", "<sip:near.example;lr>");
        ok.headers.push("record-route", "<sip:far.example;lr>");
        d.confirm(&ok).unwrap();
        assert_eq!(d.state, DialogState::Confirmed);
        assert_eq!(d.remote_target.to_string(), "sip:bob@198.51.100.2");
        let hosts: Vec<_> = d.route_set.iter().map(|r| r.uri.host().unwrap()).collect();
        assert_eq!(hosts, ["far.example", "near.example"]);
        let ack = d.ack_for_2xx(5, &via());
        assert_eq!(ack.cseq().unwrap().seq, 5);
        assert_eq!(ack.cseq().unwrap().method, Method::Ack);
        assert_eq!(d.new_request(Method::Bye, &via()).cseq().unwrap().seq, 6);
    }

    #[test]
    fn uac_dialog_needs_a_to_tag() {
        let inv = invite("z9hG4bK1", 5);
        let trying = Response::for_request(&inv, 100, "");
        assert!(Dialog::uac(&inv, &trying).is_err());
    }

    #[test]
    fn strict_route_becomes_the_request_uri() {
        let mut d = uas_dialog();
        d.route_set = vec![NameAddr::parse("<sip:strict.example>").unwrap()];
        let bye = d.new_request(Method::Bye, &via());
        assert_eq!(bye.uri.to_string(), "sip:strict.example");
        let routes: Vec<_> = bye.headers.get_all("route").collect();
        assert_eq!(routes, ["<sip:alice@192.0.2.10:5060>"]);
    }

    #[test]
    fn lower_cseq_is_rejected_with_500_ack_and_cancel_are_exempt() {
        let mut d = uas_dialog();
        let mut bye = invite("z9hG4bK2", 9);
        bye.method = Method::Bye;
        bye.headers.set("cseq", "9 BYE");
        assert_eq!(d.check_request(&bye), Err(500));
        assert_eq!(d.remote_seq, Some(10));
        let mut ack = bye.clone();
        ack.method = Method::Ack;
        ack.headers.set("cseq", "1 ACK");
        assert_eq!(d.check_request(&ack), Ok(()));
        bye.headers.set("cseq", "11 BYE");
        assert_eq!(d.check_request(&bye), Ok(()));
        assert_eq!(d.remote_seq, Some(11));
    }

    #[test]
    fn reinvite_refreshes_the_remote_target() {
        let mut d = uas_dialog();
        let mut re = invite("z9hG4bK3", 11);
        re.headers.set("contact", "<sip:alice@203.0.113.9:5062>");
        assert_eq!(d.check_request(&re), Ok(()));
        assert_eq!(d.remote_target.to_string(), "sip:alice@203.0.113.9:5062");
    }

    #[test]
    fn ids_of_incoming_requests_and_responses() {
        let mut req = invite("z9hG4bK1", 1);
        assert_eq!(DialogId::of_incoming_request(&req), None);
        req.headers.set("to", "<sip:bob@192.0.2.20>;tag=ourtag");
        let id = DialogId::of_incoming_request(&req).unwrap();
        assert_eq!(
            (id.local_tag.as_str(), id.remote_tag.as_str()),
            ("ourtag", "from1")
        );
        assert!(uas_dialog().matches_request(&req));
        let resp = response(&invite("z9hG4bK1", 1), 200);
        let rid = DialogId::of_response(&resp).unwrap();
        assert_eq!(
            (rid.local_tag.as_str(), rid.remote_tag.as_str()),
            ("from1", "totag1")
        );
    }
}
