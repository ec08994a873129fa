//! A raw-UDP SIP caller for tests against the running server: INVITE (optionally with digest
//! proxy credentials), ACK, BYE handling and RTP counting, with nothing of ours in between.

use std::net::{SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

/// The value of the first `name` header field of a message (case-insensitive).
pub fn header<'a>(msg: &'a str, name: &str) -> Option<&'a str> {
    msg.split("\r\n\r\n").next()?.lines().skip(1).find_map(|l| {
        let (n, v) = l.split_once(':')?;
        n.trim().eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

/// A response's status code (0 for anything else).
pub fn status(msg: &str) -> u16 {
    msg.strip_prefix("SIP/2.0 ")
        .and_then(|s| s.get(..3))
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

/// A PCMU + telephone-event offer for `addr:port` with the given direction attribute.
pub fn sdp(addr: &str, port: u16, direction: &str) -> String {
    format!(
        "v=0\r\no=- 1 1 IN IP4 {addr}\r\ns=-\r\nc=IN IP4 {addr}\r\nt=0 0\r\n\
         m=audio {port} RTP/AVP 0 101\r\na=rtpmap:0 PCMU/8000\r\n\
         a=rtpmap:101 telephone-event/8000\r\na={direction}\r\n"
    )
}

/// RTP packets (not RTCP) that reach `sock` within `d`.
pub fn count_rtp(sock: &UdpSocket, d: Duration) -> usize {
    sock.set_read_timeout(Some(Duration::from_millis(50)))
        .expect("timeout");
    let end = Instant::now() + d;
    let mut buf = [0u8; 2048];
    let mut n = 0;
    while Instant::now() < end {
        if let Ok((len, _)) = sock.recv_from(&mut buf) {
            if len >= 12 && !(200..=207).contains(&buf[1]) {
                n += 1;
            }
        }
    }
    n
}

/// One call's caller side on its own socket.
pub struct Caller {
    pub sock: UdpSocket,
    pub server: SocketAddr,
    pub call_id: String,
    cseq: std::cell::Cell<u32>,
}

impl Caller {
    /// A caller on 127.0.0.1.
    pub fn new(server: SocketAddr, call_id: &str) -> Caller {
        Caller::bind("127.0.0.1", server, call_id)
    }

    /// A caller on `ip` (e.g. 127.0.0.2, a trusted trunk in the tests' config).
    pub fn bind(ip: &str, server: SocketAddr, call_id: &str) -> Caller {
        let sock = UdpSocket::bind((ip, 0)).expect("bind");
        sock.set_read_timeout(Some(Duration::from_millis(100)))
            .expect("timeout");
        Caller {
            sock,
            server,
            call_id: call_id.into(),
            cseq: std::cell::Cell::new(0),
        }
    }

    pub fn recv(&self) -> Option<String> {
        let mut buf = [0u8; 65535];
        let (n, _) = self.sock.recv_from(&mut buf).ok()?;
        Some(String::from_utf8_lossy(&buf[..n]).into_owned())
    }

    fn local(&self) -> SocketAddr {
        self.sock.local_addr().expect("addr")
    }

    fn common(&self) -> String {
        let cid = &self.call_id;
        let ip = self.local().ip();
        format!(
            "Max-Forwards: 70\r\nFrom: <sip:+447700900123@{ip}>;tag=caller-{cid}\r\n\
             Call-ID: {cid}\r\n"
        )
    }

    /// Send an INVITE to `number` with `body` and `extra` header lines (each ending in CRLF);
    /// the final response, ACKed when it is not a 2xx (None: none within 5 s).
    pub fn invite(&self, number: &str, body: &str, extra: &str) -> Option<String> {
        let seq = self.cseq.get() + 1;
        self.cseq.set(seq);
        let local = self.local();
        let (cid, server) = (&self.call_id, self.server);
        let via = format!("Via: SIP/2.0/UDP {local};branch=z9hG4bK-{cid}-{seq}\r\n");
        let invite = format!(
            "INVITE sip:{number}@{server} SIP/2.0\r\n{via}{common}\
             To: <sip:{number}@helpline.test>\r\nCSeq: {seq} INVITE\r\n\
             Contact: <sip:caller@{local}>\r\n{extra}Content-Type: application/sdp\r\n\
             Content-Length: {len}\r\n\r\n{body}",
            common = self.common(),
            len = body.len()
        );
        self.sock.send_to(invite.as_bytes(), server).expect("send");
        let end = Instant::now() + Duration::from_secs(5);
        let fin = loop {
            if Instant::now() >= end {
                return None;
            }
            let Some(m) = self.recv() else { continue };
            if m.starts_with("SIP/2.0 1") || !m.starts_with("SIP/2.0") {
                continue;
            }
            break m;
        };
        if status(&fin) >= 300 {
            let to = header(&fin, "to").unwrap_or("");
            let ack = format!(
                "ACK sip:{number}@{server} SIP/2.0\r\n{via}{common}To: {to}\r\n\
                 CSeq: {seq} ACK\r\nContent-Length: 0\r\n\r\n",
                common = self.common()
            );
            self.sock.send_to(ack.as_bytes(), server).expect("send");
        }
        Some(fin)
    }

    /// INVITE the UK support number with `body`; the 200's SDP media address (ACKed).
    pub fn call(&self, body: &str) -> SocketAddr {
        self.call_to("+442079460000", body)
    }

    /// INVITE `number` with `body`, which must be answered 200; its SDP media address (ACKed).
    pub fn call_to(&self, number: &str, body: &str) -> SocketAddr {
        let ok = self
            .invite(number, body, "")
            .expect("no answer to the INVITE");
        assert!(
            ok.starts_with("SIP/2.0 200"),
            "{}",
            ok.lines().next().unwrap_or("")
        );
        let to = header(&ok, "to").expect("To");
        let contact = header(&ok, "contact").expect("Contact");
        let target = contact
            .trim_start_matches('<')
            .split('>')
            .next()
            .unwrap_or("");
        let (local, cid, seq) = (self.local(), &self.call_id, self.cseq.get());
        let ack = format!(
            "ACK {target} SIP/2.0\r\nVia: SIP/2.0/UDP {local};branch=z9hG4bK-{cid}-ack{seq}\r\n\
             {common}To: {to}\r\nCSeq: {seq} ACK\r\nContent-Length: 0\r\n\r\n",
            common = self.common()
        );
        self.sock
            .send_to(ack.as_bytes(), self.server)
            .expect("send");
        let body = ok.split("\r\n\r\n").nth(1).unwrap_or("");
        let ip = body
            .lines()
            .find_map(|l| l.strip_prefix("c=IN IP4 "))
            .expect("c= in answer")
            .trim();
        let rtp_port = body
            .lines()
            .find_map(|l| l.strip_prefix("m=audio "))
            .and_then(|l| l.split_whitespace().next())
            .expect("m= in answer");
        format!("{ip}:{rtp_port}").parse().expect("media address")
    }

    /// Waits for the server's BYE and answers it; when it came.
    pub fn await_bye(&self, within: Duration) -> Option<Instant> {
        let end = Instant::now() + within;
        while Instant::now() < end {
            let Some(m) = self.recv() else { continue };
            if !m.starts_with("BYE ") {
                continue;
            }
            let at = Instant::now();
            let mut ok = String::from("SIP/2.0 200 OK\r\n");
            for name in ["via", "from", "to", "call-id", "cseq"] {
                ok.push_str(&format!("{name}: {}\r\n", header(&m, name).unwrap_or("")));
            }
            ok.push_str("Content-Length: 0\r\n\r\n");
            self.sock.send_to(ok.as_bytes(), self.server).expect("send");
            return Some(at);
        }
        None
    }
}
