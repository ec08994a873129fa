//! The requests a load-generating UAC sends, built with the `sip` message API: INVITE
//! with a G.711 SDP offer, ACK (for 2xx as a new transaction, for non-2xx on the
//! INVITE's branch), and BYE within the dialog the 2xx created.

use std::net::SocketAddr;

use crate::sip::message::{Method, Request, Response, SipUri, Uri};

/// Where one UAC socket sends from and to, and whom it calls.
#[derive(Clone, Debug)]
pub struct Party {
    /// Our address as the server sees it (Via and Contact).
    pub local: SocketAddr,
    pub target: SocketAddr,
    /// User part of the Request-URI and To, e.g. `+442079460999`.
    pub number: String,
    /// User part of From and Contact.
    pub from_user: String,
}

/// The dialog state an answered call needs to send ACK and BYE.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Dialog {
    /// The To header of the 2xx, with the remote tag, as received.
    pub to: String,
    /// Remote target: the 2xx's Contact, else the original Request-URI.
    pub target: Uri,
    /// Route set: the 2xx's Record-Route values in reverse order.
    pub routes: Vec<String>,
}

impl Dialog {
    /// The dialog a 2xx establishes; None if it has no To header.
    pub fn from_response(resp: &Response, fallback: &Uri) -> Option<Dialog> {
        let to = resp.headers.get("to")?.to_string();
        let target = match resp.headers.contact() {
            Ok(Some(c)) => c.uri,
            _ => fallback.clone(),
        };
        let mut routes: Vec<String> = resp
            .headers
            .get_all("record-route")
            .map(str::to_string)
            .collect();
        routes.reverse();
        Some(Dialog { to, target, routes })
    }
}

/// `host` for a URI or Via: IPv6 addresses in brackets.
pub fn host_of(addr: &SocketAddr) -> String {
    match addr {
        SocketAddr::V4(a) => a.ip().to_string(),
        SocketAddr::V6(a) => format!("[{}]", a.ip()),
    }
}

impl Party {
    /// `sip:<number>@<target>` — the INVITE's Request-URI and To.
    pub fn request_uri(&self) -> Uri {
        Uri::Sip(SipUri::new(
            Some(&self.number),
            &host_of(&self.target),
            Some(self.target.port()),
        ))
    }

    fn via(&self, branch: &str) -> String {
        format!(
            "SIP/2.0/UDP {}:{};branch={branch};rport",
            host_of(&self.local),
            self.local.port()
        )
    }

    fn from(&self, tag: &str) -> String {
        format!(
            "<sip:{}@{}>;tag={tag}",
            self.from_user,
            host_of(&self.local)
        )
    }

    fn contact(&self) -> String {
        format!(
            "<sip:{}@{}:{}>",
            self.from_user,
            host_of(&self.local),
            self.local.port()
        )
    }

    /// The initial INVITE (CSeq 1) offering PCMU, PCMA and telephone-event.
    pub fn invite(&self, call_id: &str, from_tag: &str, branch: &str, rtp_port: u16) -> Request {
        let uri = self.request_uri();
        let mut req = Request::new(Method::Invite, uri.clone());
        let h = &mut req.headers;
        h.push("via", self.via(branch));
        h.push("max-forwards", "70");
        h.push("from", self.from(from_tag));
        h.push("to", format!("<{uri}>"));
        h.push("call-id", call_id);
        h.push("cseq", "1 INVITE");
        h.push("contact", self.contact());
        h.push("user-agent", "helpline-loadgen");
        let sdp = sdp_offer(
            &self.local,
            rtp_port,
            call_id.len() as u64 + u64::from(rtp_port),
        );
        req.set_body("application/sdp", sdp);
        req
    }

    /// BYE (CSeq 2) within `dialog`.
    pub fn bye(&self, call_id: &str, from_tag: &str, dialog: &Dialog, branch: &str) -> Request {
        let mut req = Request::new(Method::Bye, dialog.target.clone());
        let h = &mut req.headers;
        h.push("via", self.via(branch));
        h.push("max-forwards", "70");
        for r in &dialog.routes {
            h.push("route", r.as_str());
        }
        h.push("from", self.from(from_tag));
        h.push("to", dialog.to.as_str());
        h.push("call-id", call_id);
        h.push("cseq", "2 BYE");
        h.push("user-agent", "helpline-loadgen");
        req
    }

    /// The ACK for a final response to our INVITE. For a 2xx it is a new transaction
    /// (fresh `branch`) sent to the remote target along the route set; for a non-2xx
    /// it reuses the INVITE's Via (same branch) and `request_uri`. None when the
    /// response lacks the headers an ACK copies.
    pub fn ack(&self, resp: &Response, request_uri: &Uri, branch: &str) -> Option<Request> {
        let call_id = resp.headers.get("call-id")?;
        let from = resp.headers.get("from")?;
        let seq = resp.headers.cseq().ok()?.seq;
        let mut req;
        if resp.is_success() {
            let dialog = Dialog::from_response(resp, request_uri)?;
            req = Request::new(Method::Ack, dialog.target);
            req.headers.push("via", self.via(branch));
            for r in &dialog.routes {
                req.headers.push("route", r.as_str());
            }
        } else {
            req = Request::new(Method::Ack, request_uri.clone());
            req.headers.push("via", resp.headers.get("via")?);
        }
        let h = &mut req.headers;
        h.push("max-forwards", "70");
        h.push("from", from);
        h.push("to", resp.headers.get("to")?);
        h.push("call-id", call_id);
        h.push("cseq", format!("{seq} ACK"));
        Some(req)
    }
}

/// An SDP offer for one audio stream: PCMU, PCMA, telephone-event, 20 ms.
pub fn sdp_offer(local: &SocketAddr, rtp_port: u16, session: u64) -> String {
    let (net, ip) = match local {
        SocketAddr::V4(a) => ("IP4", a.ip().to_string()),
        SocketAddr::V6(a) => ("IP6", a.ip().to_string()),
    };
    format!(
        "v=0\r\no=loadgen {session} 1 IN {net} {ip}\r\ns=-\r\nc=IN {net} {ip}\r\nt=0 0\r\n\
         m=audio {rtp_port} RTP/AVP 0 8 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\n\
         a=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-16\r\na=ptime:20\r\na=sendrecv\r\n"
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sip::message::Message;
    use crate::sip::sdp::SessionDescription;

    fn party() -> Party {
        Party {
            local: "127.0.0.1:40000".parse().unwrap(),
            target: "127.0.0.1:5060".parse().unwrap(),
            number: "+442079460999".into(),
            from_user: "loadgen".into(),
        }
    }

    fn reparse(req: &Request) -> Request {
        match Message::parse(&req.to_bytes()).unwrap() {
            Message::Request(r) => r,
            Message::Response(_) => panic!("not a request"),
        }
    }

    #[test]
    fn invite_is_a_parsable_request_with_a_g711_offer() {
        let req = reparse(&party().invite("c1@x", "ft", "z9hG4bKa", 40002));
        assert_eq!(req.method, Method::Invite);
        assert_eq!(req.uri.to_string(), "sip:+442079460999@127.0.0.1:5060");
        assert_eq!(req.call_id().unwrap(), "c1@x");
        assert_eq!(req.from().unwrap().tag(), Some("ft"));
        let via = req.top_via().unwrap();
        assert_eq!(via.branch.as_deref(), Some("z9hG4bKa"));
        assert_eq!(via.port, Some(40000));
        let sdp = SessionDescription::parse(std::str::from_utf8(&req.body).unwrap()).unwrap();
        let m = &sdp.media[0];
        assert_eq!(m.port, 40002);
        assert_eq!(m.payload_types().collect::<Vec<_>>(), vec![0, 8, 101]);
    }

    fn ok_200() -> Response {
        let inv = party().invite("c1@x", "ft", "z9hG4bKa", 40002);
        let mut r = Response::for_request(&inv, 200, "").with_to_tag("tt");
        r.headers.push("contact", "<sip:uas@10.0.0.9:5070>");
        r.headers.push("record-route", "<sip:p1;lr>");
        r.headers.push("record-route", "<sip:p2;lr>");
        r
    }

    #[test]
    fn ack_and_bye_for_2xx_follow_the_dialog() {
        let p = party();
        let resp = ok_200();
        let ack = reparse(&p.ack(&resp, &p.request_uri(), "z9hG4bKack").unwrap());
        assert_eq!(ack.uri.to_string(), "sip:uas@10.0.0.9:5070");
        assert_eq!(ack.top_via().unwrap().branch.as_deref(), Some("z9hG4bKack"));
        assert_eq!(ack.cseq().unwrap().seq, 1);
        assert_eq!(ack.to().unwrap().tag(), Some("tt"));
        let routes: Vec<_> = ack.headers.get_all("route").collect();
        assert_eq!(routes, vec!["<sip:p2;lr>", "<sip:p1;lr>"]);

        let dialog = Dialog::from_response(&resp, &p.request_uri()).unwrap();
        let bye = reparse(&p.bye("c1@x", "ft", &dialog, "z9hG4bKbye"));
        assert_eq!(bye.method, Method::Bye);
        assert_eq!(bye.uri.to_string(), "sip:uas@10.0.0.9:5070");
        assert_eq!(bye.cseq().unwrap().seq, 2);
        assert_eq!(bye.from().unwrap().tag(), Some("ft"));
        assert_eq!(bye.to().unwrap().tag(), Some("tt"));
    }

    #[test]
    fn ack_for_a_rejection_reuses_the_invite_branch() {
        let p = party();
        let inv = p.invite("c1@x", "ft", "z9hG4bKinv", 40002);
        let resp = Response::for_request(&inv, 486, "").with_to_tag("tt");
        let ack = reparse(&p.ack(&resp, &p.request_uri(), "z9hG4bKnew").unwrap());
        assert_eq!(ack.top_via().unwrap().branch.as_deref(), Some("z9hG4bKinv"));
        assert_eq!(ack.uri.to_string(), "sip:+442079460999@127.0.0.1:5060");
        assert_eq!(ack.to().unwrap().tag(), Some("tt"));
    }
}
