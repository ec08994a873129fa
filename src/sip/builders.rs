//! Derived requests and response helpers from RFC 3261: CANCEL (§9.1), the ACK for a
//! non-2xx final response (§17.1.1.3), and Record-Route copying into dialog-creating
//! responses (§12.1.1).

use super::message::{CSeq, Method, Request, Response};

impl Request {
    /// The CANCEL for this (INVITE) request: same Request-URI, top Via, From, To,
    /// Call-ID, Route set and CSeq number, method CANCEL, no body.
    pub fn cancel(&self) -> Request {
        self.derived(Method::Cancel, None)
    }

    /// The ACK for a non-2xx final `resp` to this INVITE: like CANCEL, but with the
    /// To header of the response (it carries the tag).
    pub fn ack_for_failure(&self, resp: &Response) -> Request {
        self.derived(Method::Ack, resp.headers.get("to"))
    }

    fn derived(&self, method: Method, to: Option<&str>) -> Request {
        let mut r = Request::new(method.clone(), self.uri.clone());
        if let Some(v) = self.headers.get("via") {
            r.headers.push("via", v);
        }
        for name in ["max-forwards", "from"] {
            if let Some(v) = self.headers.get(name) {
                r.headers.push(name, v);
            }
        }
        if let Some(v) = to.or_else(|| self.headers.get("to")) {
            r.headers.push("to", v);
        }
        if let Some(v) = self.headers.get("call-id") {
            r.headers.push("call-id", v);
        }
        let seq = self.headers.cseq().map_or(1, |c| c.seq);
        r.headers.push("cseq", CSeq { seq, method }.to_string());
        for v in self.headers.get_all("route") {
            r.headers.push("route", v);
        }
        r
    }
}

impl Response {
    /// Copies the request's Record-Route values (in order) into this response, as a
    /// UAS must for dialog-creating 1xx/2xx responses.
    pub fn copy_record_route(&mut self, req: &Request) {
        for v in req.headers.get_all("record-route") {
            self.headers.push("record-route", v);
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::sip::message::{Message, Method, Request, Response};

    fn invite() -> Request {
        let text = "INVITE sip:bob@example.com SIP/2.0\r\n\
Via: SIP/2.0/UDP 10.0.0.1;branch=z9hG4bKa\r\nVia: SIP/2.0/UDP 10.0.0.9;branch=z9hG4bKb\r\n\
Max-Forwards: 70\r\nFrom: <sip:a@x>;tag=1\r\nTo: <sip:bob@example.com>\r\nCall-ID: c\r\n\
CSeq: 7 INVITE\r\nRoute: <sip:p1;lr>\r\nRecord-Route: <sip:rr1;lr>, <sip:rr2;lr>\r\n\
Content-Type: application/sdp\r\nContent-Length: 3\r\n\r\nv=0";
        match Message::parse(text.as_bytes()) {
            Ok(Message::Request(r)) => r,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn cancel_copies_the_right_headers() {
        let c = invite().cancel();
        assert_eq!(c.method, Method::Cancel);
        assert_eq!(c.headers.get_all("via").count(), 1);
        assert_eq!(c.cseq().unwrap().to_string(), "7 CANCEL");
        assert_eq!(c.headers.get("route"), Some("<sip:p1;lr>"));
        assert!(c.body.is_empty());
        assert_eq!(c.to().unwrap().tag(), None);
    }

    #[test]
    fn ack_takes_to_tag_from_response() {
        let inv = invite();
        let resp = Response::for_request(&inv, 486, "").with_to_tag("xyz");
        let ack = inv.ack_for_failure(&resp);
        assert_eq!(ack.cseq().unwrap().to_string(), "7 ACK");
        assert_eq!(ack.to().unwrap().tag(), Some("xyz"));
        assert_eq!(ack.top_via().unwrap().branch.as_deref(), Some("z9hG4bKa"));
    }

    #[test]
    fn record_route_copied_in_order() {
        let inv = invite();
        let mut ok = Response::for_request(&inv, 200, "");
        ok.copy_record_route(&inv);
        assert_eq!(
            ok.headers.get_all("record-route").collect::<Vec<_>>(),
            ["<sip:rr1;lr>", "<sip:rr2;lr>"]
        );
        assert_eq!(ok.reason, "OK");
        assert_eq!(ok.headers.get_all("via").count(), 2);
    }
}
