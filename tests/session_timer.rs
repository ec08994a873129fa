//! RFC 4028 session timers against the real server: a raw-UDP caller asks for a 3 s session
//! (the server runs with `session_expires_s = 3`, `min_se_s = 2`, test-only values) and lets
//! the caller refresh. A caller that never refreshes gets BYE when the session expires
//! (3 s − min(32, 3/3) = 2 s after the 200); one that refreshes (UPDATE or SDP-less re-INVITE) every second is
//! left alone until it stops. An interval below Min-SE gets 422.

mod common;

use common::Server;
use std::net::{SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

const SDP: &str = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 9 RTP/AVP 0 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\n";

/// First value of a header (full name, case-insensitive).
fn header<'a>(msg: &'a str, name: &str) -> Option<&'a str> {
    msg.split("\r\n\r\n").next()?.lines().skip(1).find_map(|l| {
        let (n, v) = l.split_once(':')?;
        n.trim().eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

fn start_line(msg: &str) -> &str {
    msg.lines().next().unwrap_or("")
}

struct Caller {
    sock: UdpSocket,
    server: SocketAddr,
    call_id: String,
    /// To with the server's tag, once answered.
    to: String,
    /// The server's Contact URI (where in-dialog requests go).
    target: String,
    cseq: u32,
    branch: u32,
}

impl Caller {
    fn new(server: SocketAddr, call_id: &str) -> Caller {
        let sock = UdpSocket::bind("127.0.0.1:0").expect("bind");
        sock.set_read_timeout(Some(Duration::from_millis(100)))
            .expect("timeout");
        Caller {
            sock,
            server,
            call_id: call_id.into(),
            to: "<sip:+442079460000@helpline.test>".into(),
            target: format!("sip:+442079460000@{server}"),
            cseq: 0,
            branch: 0,
        }
    }

    fn port(&self) -> u16 {
        self.sock.local_addr().expect("addr").port()
    }

    fn send(&self, text: &str) {
        self.sock
            .send_to(text.as_bytes(), self.server)
            .expect("send");
    }

    /// A request in our dialog (or the INVITE), CSeq and branch fresh.
    fn request(&mut self, method: &str, extra: &str, body: &str) -> String {
        self.cseq += 1;
        self.branch += 1;
        let req = format!(
            "{method} {target} SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:{port};branch=z9hG4bK-{cid}-{b}\r\n\
             Max-Forwards: 70\r\nFrom: <sip:+447700900123@127.0.0.1>;tag=caller-{cid}\r\nTo: {to}\r\n\
             Call-ID: {cid}\r\nCSeq: {seq} {method}\r\nContact: <sip:caller@127.0.0.1:{port}>\r\n\
             {extra}Content-Length: {len}\r\n\r\n{body}",
            target = self.target,
            port = self.port(),
            cid = self.call_id,
            b = self.branch,
            to = self.to,
            seq = self.cseq,
            len = body.len(),
        );
        self.send(&req);
        req
    }

    fn recv(&self) -> Option<String> {
        let mut buf = [0u8; 65535];
        let (n, _) = self.sock.recv_from(&mut buf).ok()?;
        Some(String::from_utf8_lossy(&buf[..n]).into_owned())
    }

    /// The next final response to `method`, skipping provisionals and retransmissions.
    fn final_response(&self, method: &str, within: Duration) -> String {
        let end = Instant::now() + within;
        while Instant::now() < end {
            let Some(m) = self.recv() else { continue };
            let cseq = header(&m, "cseq").unwrap_or("");
            if m.starts_with("SIP/2.0 ")
                && !m.starts_with("SIP/2.0 1")
                && cseq == format!("{} {method}", self.cseq)
            {
                return m;
            }
        }
        panic!("no final response to {method} within {within:?}");
    }

    /// INVITE asking for `session_expires`, returns the final response (ACKed if 2xx).
    fn invite(&mut self, session_expires: &str) -> String {
        let extra = format!(
            "Supported: timer\r\nSession-Expires: {session_expires}\r\nContent-Type: application/sdp\r\n"
        );
        self.request("INVITE", &extra, SDP);
        let resp = self.final_response("INVITE", Duration::from_secs(5));
        if resp.starts_with("SIP/2.0 2") {
            self.to = header(&resp, "to").expect("To").to_string();
            let contact = header(&resp, "contact").expect("Contact in 200");
            self.target = contact
                .trim_start_matches('<')
                .split('>')
                .next()
                .unwrap_or(contact)
                .to_string();
            self.ack("");
        }
        resp
    }

    /// ACK for a 2xx (new branch, same CSeq number), with an SDP answer when the 2xx offered.
    fn ack(&mut self, answer: &str) {
        self.branch += 1;
        let ct = if answer.is_empty() {
            ""
        } else {
            "Content-Type: application/sdp\r\n"
        };
        let ack = format!(
            "ACK {target} SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:{port};branch=z9hG4bK-{cid}-{b}\r\n\
             Max-Forwards: 70\r\nFrom: <sip:+447700900123@127.0.0.1>;tag=caller-{cid}\r\nTo: {to}\r\n\
             Call-ID: {cid}\r\nCSeq: {seq} ACK\r\n{ct}Content-Length: {len}\r\n\r\n{answer}",
            target = self.target,
            port = self.port(),
            cid = self.call_id,
            b = self.branch,
            to = self.to,
            seq = self.cseq,
            len = answer.len(),
        );
        self.send(&ack);
    }

    /// Waits for the server's BYE (answering it 200); any other request from the server
    /// (a refresh: the caller was named refresher) fails the test.
    fn await_bye(&self, within: Duration) -> Instant {
        let end = Instant::now() + within;
        while Instant::now() < end {
            let Some(m) = self.recv() else { continue };
            if m.starts_with("SIP/2.0") {
                continue;
            }
            assert!(
                m.starts_with("BYE "),
                "unexpected request from the server: {}",
                start_line(&m)
            );
            let at = Instant::now();
            let mut ok = String::from("SIP/2.0 200 OK\r\n");
            for name in ["via", "from", "to", "call-id", "cseq"] {
                let v = header(&m, name).expect("header in BYE");
                ok.push_str(&format!("{name}: {v}\r\n"));
            }
            ok.push_str("Content-Length: 0\r\n\r\n");
            self.send(&ok);
            return at;
        }
        panic!("no BYE within {within:?}");
    }

    /// No request from the server for `d` (responses are skipped).
    fn quiet_for(&self, d: Duration) {
        let end = Instant::now() + d;
        while Instant::now() < end {
            if let Some(m) = self.recv() {
                assert!(
                    m.starts_with("SIP/2.0"),
                    "the server sent {} while the caller refreshed",
                    start_line(&m)
                );
            }
        }
    }
}

#[test]
fn the_server_ends_a_call_whose_caller_stops_refreshing_the_session() {
    let server = Server::start("session-timer", "session_expires_s = 3\nmin_se_s = 2\n");

    // Below Min-SE: 422 naming ours.
    let mut small = Caller::new(server.sip, "st-small");
    let r = small.invite("1");
    assert!(r.starts_with("SIP/2.0 422"), "{}", start_line(&r));
    assert_eq!(header(&r, "min-se"), Some("2"));

    // A caller that never refreshes: BYE 2 s after the 200.
    let mut silent = Caller::new(server.sip, "st-silent");
    let ok = silent.invite("3");
    let answered = Instant::now();
    assert!(ok.starts_with("SIP/2.0 200"), "{}", start_line(&ok));
    assert_eq!(header(&ok, "session-expires"), Some("3;refresher=uac"));
    assert_eq!(header(&ok, "require"), Some("timer"));
    let bye_at = silent.await_bye(Duration::from_secs(6));
    let after = bye_at - answered;
    assert!(
        after >= Duration::from_millis(1500) && after <= Duration::from_millis(3500),
        "BYE {after:?} after the 200; expected about 2 s"
    );

    // A caller that refreshes every second, by body-less UPDATE or by re-INVITE without SDP
    // (answered with our SDP as the offer, the answer in its ACK), is left alone, then expires
    // 2 s after its last refresh.
    let mut lively = Caller::new(server.sip, "st-lively");
    let ok = lively.invite("3");
    assert!(ok.starts_with("SIP/2.0 200"), "{}", start_line(&ok));
    let our_sdp = ok.split("\r\n\r\n").nth(1).unwrap_or("").to_string();
    assert!(our_sdp.contains("m=audio"), "the 200 carries our SDP");
    let mut last_refresh = Instant::now();
    for method in ["UPDATE", "INVITE", "UPDATE", "INVITE"] {
        lively.quiet_for(Duration::from_secs(1));
        lively.request(
            method,
            "Supported: timer\r\nSession-Expires: 3;refresher=uac\r\n",
            "",
        );
        let r = lively.final_response(method, Duration::from_secs(2));
        last_refresh = Instant::now();
        assert!(r.starts_with("SIP/2.0 200"), "{method}: {}", start_line(&r));
        assert_eq!(header(&r, "session-expires"), Some("3;refresher=uac"));
        if method == "INVITE" {
            let offer = r.split("\r\n\r\n").nth(1).unwrap_or("");
            assert_eq!(offer, our_sdp, "the refresh offers the session unchanged");
            lively.ack(SDP);
        }
    }
    let bye_at = lively.await_bye(Duration::from_secs(6));
    let after = bye_at - last_refresh;
    assert!(
        after >= Duration::from_millis(1500) && after <= Duration::from_millis(3500),
        "BYE {after:?} after the last refresh; expected about 2 s"
    );
}
