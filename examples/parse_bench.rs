//! Parse throughput: a typical INVITE with SDP and a 200 OK, N times each.
//! Run: cargo run --release --example parse_bench [N]

use std::hint::black_box;
use std::time::Instant;

use bytes::Bytes;
use helpline::sip::message::Message;

const INVITE: &[u8] = b"INVITE sip:+4930123456@helpline.example.com SIP/2.0\r\n\
Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK776asdhds;rport\r\n\
Max-Forwards: 70\r\n\
To: <sip:+4930123456@helpline.example.com>\r\n\
From: \"Alice Caller\" <sip:+4917612345678@trunk.example.net>;tag=1928301774\r\n\
Call-ID: a84b4c76e66710@pc33.example.net\r\n\
CSeq: 314159 INVITE\r\n\
Contact: <sip:+4917612345678@192.0.2.10:5060>\r\n\
Allow: INVITE, ACK, CANCEL, BYE, OPTIONS, INFO, UPDATE\r\n\
Supported: replaces, timer\r\n\
User-Agent: ExampleTrunk/1.0\r\n\
Content-Type: application/sdp\r\n\
Content-Length: 229\r\n\
\r\n\
v=0\r\n\
o=trunk 2890844526 2890844526 IN IP4 192.0.2.10\r\n\
s=-\r\n\
c=IN IP4 192.0.2.10\r\n\
t=0 0\r\n\
m=audio 49170 RTP/AVP 0 8 101\r\n\
a=rtpmap:0 PCMU/8000\r\n\
a=rtpmap:8 PCMA/8000\r\n\
a=rtpmap:101 telephone-event/8000\r\n\
a=fmtp:101 0-16\r\n\
a=ptime:20\r\n\
a=sendrecv\r\n";

const OK: &[u8] = b"SIP/2.0 200 OK\r\n\
Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK776asdhds;rport=5060;received=192.0.2.10\r\n\
To: <sip:+4930123456@helpline.example.com>;tag=a6c85cf\r\n\
From: \"Alice Caller\" <sip:+4917612345678@trunk.example.net>;tag=1928301774\r\n\
Call-ID: a84b4c76e66710@pc33.example.net\r\n\
CSeq: 314159 INVITE\r\n\
Contact: <sip:helpline@198.51.100.7:5060>\r\n\
Content-Length: 0\r\n\r\n";

fn run(label: &str, n: u32, f: impl Fn() -> usize) {
    let start = Instant::now();
    let mut acc = 0usize;
    for _ in 0..n {
        acc = acc.wrapping_add(f());
    }
    let secs = start.elapsed().as_secs_f64();
    black_box(acc);
    println!(
        "{label:<40} {:>10.0} msgs/s  ({:.2} µs/msg)",
        f64::from(2 * n) / secs,
        secs * 1e6 / f64::from(2 * n)
    );
}

fn main() {
    let n: u32 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(200_000);
    let inv = Bytes::from_static(INVITE);
    let ok = Bytes::from_static(OK);
    assert!(Message::parse(INVITE).is_ok() && Message::parse(OK).is_ok());
    println!("{n} x (INVITE with SDP + 200 OK), one core:");
    run("parse", n, || {
        let a = Message::parse_bytes(black_box(inv.clone())).map_or(0, |m| m.headers().len());
        let b = Message::parse_bytes(black_box(ok.clone())).map_or(0, |m| m.headers().len());
        a + b
    });
    run("parse + top Via, CSeq, Call-ID, tags", n, || {
        let mut total = 0;
        for data in [&inv, &ok] {
            if let Ok(m) = Message::parse_bytes(black_box(data.clone())) {
                let h = m.headers();
                total += h.top_via().map_or(0, |v| v.branch.map_or(0, |b| b.len()));
                total += h.cseq().map_or(0, |c| c.seq as usize);
                total += h.call_id().map_or(0, str::len);
                total += h.from().map_or(0, |f| f.tag().map_or(0, str::len));
                total += h.to().map_or(0, |t| t.tag().map_or(0, str::len));
            }
        }
        total
    });
    let parsed_inv = Message::parse(INVITE).unwrap_or_else(|e| panic!("{e}"));
    let parsed_ok = Message::parse(OK).unwrap_or_else(|e| panic!("{e}"));
    run("serialize", n, || {
        let mut buf = Vec::with_capacity(1024);
        parsed_inv.write_to(&mut buf);
        parsed_ok.write_to(&mut buf);
        buf.len()
    });
}
