//! Issue 14, row 3, against the real server: a caller's SDP cannot aim our audio at a third
//! address (media goes only to the INVITE's source IP, latched to the first RTP from it); a
//! caller that offers `a=recvonly` and sends nothing is hung up after the media timeout; every
//! call ends at `[media] max_call_s` with the cause `max_call_length`. The test config trusts
//! only 127.0.0.2, so callers on 127.0.0.1 are untrusted.

mod common;

use common::Server;
use std::net::{SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

fn header<'a>(msg: &'a str, name: &str) -> Option<&'a str> {
    msg.split("\r\n\r\n").next()?.lines().skip(1).find_map(|l| {
        let (n, v) = l.split_once(':')?;
        n.trim().eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

fn sdp(addr: &str, port: u16, direction: &str) -> String {
    format!(
        "v=0\r\no=- 1 1 IN IP4 {addr}\r\ns=-\r\nc=IN IP4 {addr}\r\nt=0 0\r\n\
         m=audio {port} RTP/AVP 0 101\r\na=rtpmap:0 PCMU/8000\r\n\
         a=rtpmap:101 telephone-event/8000\r\na={direction}\r\n"
    )
}

struct Caller {
    sock: UdpSocket,
    server: SocketAddr,
    call_id: String,
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
        }
    }

    fn recv(&self) -> Option<String> {
        let mut buf = [0u8; 65535];
        let (n, _) = self.sock.recv_from(&mut buf).ok()?;
        Some(String::from_utf8_lossy(&buf[..n]).into_owned())
    }

    /// INVITE with `body`; the 200's SDP media address (ACKed).
    fn call(&self, body: &str) -> SocketAddr {
        let port = self.sock.local_addr().expect("addr").port();
        let cid = &self.call_id;
        let server = self.server;
        let common = format!(
            "Max-Forwards: 70\r\nFrom: <sip:+447700900123@127.0.0.1>;tag=caller-{cid}\r\n\
             Call-ID: {cid}\r\n"
        );
        let invite = format!(
            "INVITE sip:+442079460000@{server} SIP/2.0\r\n\
             Via: SIP/2.0/UDP 127.0.0.1:{port};branch=z9hG4bK-{cid}-1\r\n{common}\
             To: <sip:+442079460000@helpline.test>\r\nCSeq: 1 INVITE\r\n\
             Contact: <sip:caller@127.0.0.1:{port}>\r\nContent-Type: application/sdp\r\n\
             Content-Length: {len}\r\n\r\n{body}",
            len = body.len()
        );
        self.sock.send_to(invite.as_bytes(), server).expect("send");
        let end = Instant::now() + Duration::from_secs(5);
        let ok = loop {
            assert!(Instant::now() < end, "no 200 to the INVITE");
            let Some(m) = self.recv() else { continue };
            if m.starts_with("SIP/2.0 1") || !m.starts_with("SIP/2.0") {
                continue;
            }
            assert!(
                m.starts_with("SIP/2.0 200"),
                "{}",
                m.lines().next().unwrap_or("")
            );
            break m;
        };
        let to = header(&ok, "to").expect("To");
        let contact = header(&ok, "contact").expect("Contact");
        let target = contact
            .trim_start_matches('<')
            .split('>')
            .next()
            .unwrap_or("");
        let ack = format!(
            "ACK {target} SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:{port};branch=z9hG4bK-{cid}-2\r\n\
             {common}To: {to}\r\nCSeq: 1 ACK\r\nContent-Length: 0\r\n\r\n"
        );
        self.sock.send_to(ack.as_bytes(), server).expect("send");
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
    fn await_bye(&self, within: Duration) -> Option<Instant> {
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

fn rtp(seq: u16) -> Vec<u8> {
    let mut p = vec![0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x12, 0x34];
    p[2..4].copy_from_slice(&seq.to_be_bytes());
    p[4..8].copy_from_slice(&(u32::from(seq) * 160).to_be_bytes());
    p.extend_from_slice(&[0xFF; 160]);
    p
}

/// RTP packets (not RTCP) that reach `sock` within `d`.
fn count_rtp(sock: &UdpSocket, d: Duration) -> usize {
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

#[test]
fn an_sdp_naming_a_third_address_gets_no_audio_there_and_the_caller_gets_it() {
    let server = Server::start("media-third-address", "");
    // The "victim": 127.0.0.9 (loopback 127/8 needs no set-up on Linux).
    let victim = UdpSocket::bind("127.0.0.9:0").expect("bind 127.0.0.9");
    let victim_port = victim.local_addr().expect("addr").port();
    let caller = Caller::new(server.sip, "ms-third");
    let media = caller.call(&sdp("127.0.0.9", victim_port, "sendrecv"));
    assert_eq!(
        count_rtp(&victim, Duration::from_millis(1500)),
        0,
        "the IVR's greeting went to the address the SDP named"
    );
    // The caller's real RTP socket, on the INVITE's source IP: once it sends, audio flows back.
    let phone = UdpSocket::bind("127.0.0.1:0").expect("bind");
    for seq in 0..5u16 {
        phone.send_to(&rtp(seq), media).expect("send rtp");
        std::thread::sleep(Duration::from_millis(20));
    }
    let back = count_rtp(&phone, Duration::from_millis(1000));
    assert!(back > 10, "only {back} RTP packets reached the caller");
    assert_eq!(count_rtp(&victim, Duration::from_millis(300)), 0);
    // A stranger's packets to our port change nothing: still no audio at the victim.
    let stranger = UdpSocket::bind("127.0.0.9:0").expect("bind");
    for seq in 10..20u16 {
        stranger.send_to(&rtp(seq), media).expect("send rtp");
    }
    assert_eq!(count_rtp(&victim, Duration::from_millis(500)), 0);
    assert_eq!(count_rtp(&stranger, Duration::from_millis(300)), 0);
}

#[test]
fn a_recvonly_caller_that_sends_nothing_is_hung_up_after_the_media_timeout() {
    let server = Server::start_with("media-recvonly", "", "media_timeout_secs = 2");
    let caller = Caller::new(server.sip, "ms-recvonly");
    let answered = Instant::now();
    caller.call(&sdp("127.0.0.1", 9, "recvonly"));
    let bye = caller
        .await_bye(Duration::from_secs(8))
        .expect("no BYE: the recvonly call was never timed out");
    let after = bye - answered;
    assert!(
        after >= Duration::from_millis(1500) && after <= Duration::from_secs(6),
        "BYE {after:?} after the answer; the timeout is 2 s"
    );
    std::thread::sleep(Duration::from_millis(300));
    let log = server.log_text();
    assert!(
        log.contains("ms-recvonly") && log.contains("media_timeout"),
        "cause media_timeout not logged"
    );
}

#[test]
fn a_call_longer_than_max_call_s_is_hung_up_with_cause_max_call_length() {
    let server = Server::start_with("media-max-call", "", "max_call_s = 2");
    let caller = Caller::new(server.sip, "ms-maxcall");
    let answered = Instant::now();
    caller.call(&sdp("127.0.0.1", 9, "sendrecv"));
    let bye = caller
        .await_bye(Duration::from_secs(8))
        .expect("no BYE at the maximum call length");
    let after = bye - answered;
    assert!(
        after >= Duration::from_millis(1500) && after <= Duration::from_secs(5),
        "BYE {after:?} after the answer; the limit is 2 s"
    );
    std::thread::sleep(Duration::from_millis(300));
    assert!(
        server.log_text().contains("max_call_length"),
        "cause max_call_length not logged"
    );
}
