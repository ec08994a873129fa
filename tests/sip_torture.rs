//! Issue 3, must-show 2: every RFC 4475/5118 torture message sent to the running server over
//! UDP and over a fresh TCP connection gets the verdict in `../shared/sip-torture/index.tsv`;
//! then random and truncated messages; afterwards the server still answers OPTIONS and is alive.

mod common;

use common::Server;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::time::{Duration, Instant};

struct Case {
    file: String,
    verdict: String,
    why: String,
    bytes: Vec<u8>,
}

fn corpus() -> Option<Vec<Case>> {
    let dir = common::shared_dir()?.join("sip-torture");
    let index = std::fs::read_to_string(dir.join("index.tsv")).expect("index.tsv");
    let cases = index
        .lines()
        .skip(1)
        .filter_map(|l| {
            let f: Vec<&str> = l.splitn(4, '\t').collect();
            (f.len() == 4).then(|| Case {
                file: f[0].to_string(),
                verdict: f[2].to_string(),
                why: f[3].to_string(),
                bytes: std::fs::read(dir.join(f[0])).expect("corpus file"),
            })
        })
        .collect();
    Some(cases)
}

/// Status of the first final response in `reply` (provisional 1xx skipped), else of the first.
fn status(reply: &[u8]) -> Option<u16> {
    let text = String::from_utf8_lossy(reply);
    let codes: Vec<u16> = text
        .match_indices("SIP/2.0 ")
        .filter_map(|(i, _)| text.get(i + 8..i + 11)?.parse().ok())
        .collect();
    codes
        .iter()
        .copied()
        .find(|c| *c >= 200)
        .or(codes.first().copied())
}

fn is_final(reply: &[u8]) -> bool {
    status(reply).is_some_and(|c| c >= 200)
}

/// The port a UDP response to this message goes to: its top Via's sent-by port, else the
/// transport's default, 5060 or 5061 for TLS (RFC 3261 18.2.2; no corpus message asks for rport).
fn via_port(bytes: &[u8]) -> u16 {
    let text = String::from_utf8_lossy(bytes).to_ascii_lowercase();
    let via = text
        .lines()
        .find(|l| l.starts_with("via") || l.starts_with("v:") || l.starts_with("v "))
        .unwrap_or("");
    let Some((i, t)) = ["/udp", "/tcp", "/tls"]
        .iter()
        .find_map(|t| via.find(t).map(|i| (i, *t)))
    else {
        return 5060;
    };
    let default = if t == "/tls" { 5061 } else { 5060 };
    let sent_by = via[i + t.len()..]
        .trim_start()
        .split([';', ',', ' ', '\t'])
        .next()
        .unwrap_or("");
    let port = match sent_by.rfind(']') {
        Some(j) => sent_by[j + 1..].strip_prefix(':'),
        None => sent_by.rsplit_once(':').map(|(_, p)| p),
    };
    port.and_then(|p| p.parse().ok()).unwrap_or(default)
}

/// The Call-ID header value of a message (long or compact form).
fn call_id(bytes: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(bytes);
    text.lines()
        .take_while(|l| !l.trim().is_empty())
        .find_map(|l| {
            let (name, value) = l.split_once(':')?;
            let name = name.trim().to_ascii_lowercase();
            (name == "call-id" || name == "i").then(|| value.trim().to_string())
        })
}

/// Send from 127.0.0.1:`port` (where the server's response will go) and collect the responses
/// for this message's Call-ID (earlier messages' retransmitted responses are skipped) until a
/// final one or a quiet second.
fn send_udp_from(sock: &UdpSocket, to: SocketAddr, bytes: &[u8]) -> Option<Vec<u8>> {
    sock.set_read_timeout(Some(Duration::from_millis(1000)))
        .ok()?;
    sock.send_to(bytes, to).ok()?;
    let want = call_id(bytes);
    let mut buf = vec![0u8; 65536];
    let mut got = Vec::new();
    let deadline = Instant::now() + Duration::from_millis(1500);
    while Instant::now() < deadline {
        let Ok((n, _)) = sock.recv_from(&mut buf) else {
            break;
        };
        // Replies for this message carry its Call-ID; a message without one gets a reply
        // without one. Anything else is a late retransmission for an earlier message from this
        // socket (an unacknowledged INVITE's final response is resent until Timer H).
        if call_id(&buf[..n]) != want {
            continue;
        }
        got.extend_from_slice(&buf[..n]);
        if is_final(&got) {
            break;
        }
    }
    (!got.is_empty()).then_some(got)
}

fn send_udp(to: SocketAddr, bytes: &[u8]) -> Option<Vec<u8>> {
    let s = UdpSocket::bind("127.0.0.1:0").expect("bind");
    send_udp_from(&s, to, bytes)
}

/// Send on a fresh connection; the reply (if any) and whether the server closed the connection.
fn send_tcp(to: SocketAddr, bytes: &[u8]) -> (Option<Vec<u8>>, bool) {
    let mut s = TcpStream::connect(to).expect("connect");
    s.set_read_timeout(Some(Duration::from_millis(1500)))
        .expect("timeout");
    let _ = s.write_all(bytes);
    let mut buf = vec![0u8; 65536];
    let mut got = Vec::new();
    let deadline = Instant::now() + Duration::from_millis(1500);
    while Instant::now() < deadline {
        match s.read(&mut buf) {
            Ok(0) => return ((!got.is_empty()).then_some(got), true),
            Ok(n) => {
                got.extend_from_slice(&buf[..n]);
                if is_final(&got) {
                    break;
                }
            }
            Err(_) => break,
        }
    }
    ((!got.is_empty()).then_some(got), false)
}

/// Codes the `why` column names before its first colon (e.g. "501 … preferred, 400 also …").
fn named_codes(why: &str) -> Vec<u16> {
    let head = why.split(": ").next().unwrap_or("");
    head.split(|c: char| !c.is_ascii_digit())
        .filter(|t| t.len() == 3)
        .filter_map(|t| t.parse().ok())
        .filter(|c| (300..700).contains(c))
        .collect()
}

fn judge(case: &Case, reply: Option<&[u8]>, tcp: bool) -> Result<(), String> {
    let is_response = case.bytes.starts_with(b"SIP/2.0 ");
    let code = reply.and_then(status);
    let got = |c: Option<u16>| c.map_or("no reply".to_string(), |c| c.to_string());
    match case.verdict.as_str() {
        "accept" if is_response => match code {
            None => Ok(()),
            Some(c) => Err(format!("a response got a reply {c}")),
        },
        // inv2543 has no Content-Length: unframable on a stream, only its UDP run is meaningful.
        "accept" if tcp && case.why.contains("cannot be framed") => Ok(()),
        "accept" => match code {
            Some(c) if c != 400 && c >= 200 => Ok(()),
            other => Err(format!("expected normal processing, got {}", got(other))),
        },
        "reject" => {
            let silence_ok = is_response
                || case.why.contains("No reply")
                || case.why.contains("drop")
                || case.file == "test.dat"
                || (tcp && case.why.contains("TCP"));
            match code {
                Some(c) if (200..300).contains(&c) => Err(format!("a rejected message got {c}")),
                None if silence_ok => Ok(()),
                Some(c) if named_codes(&case.why).contains(&c) => Ok(()),
                other => Err(format!(
                    "expected {:?}, got {}",
                    named_codes(&case.why),
                    got(other)
                )),
            }
        }
        _ => match code {
            Some(c)
                if (200..300).contains(&c)
                    && case.why.contains("400")
                    && case.verdict == "reject" =>
            {
                Err(format!("got {c}"))
            }
            _ => Ok(()),
        },
    }
}

fn options(branch: &str) -> Vec<u8> {
    format!(
        "OPTIONS sip:helpline@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:9;branch=z9hG4bK{branch};rport\r\n\
         Max-Forwards: 70\r\nFrom: <sip:probe@127.0.0.1>;tag=p\r\nTo: <sip:helpline@127.0.0.1>\r\n\
         Call-ID: probe-{branch}\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n"
    )
    .into_bytes()
}

#[test]
fn torture_corpus_over_udp_and_tcp_gets_its_verdicts_and_server_survives() {
    let Some(cases) = corpus() else { return };
    // The same message over TCP right after UDP would match the UDP transaction (same branch
    // and sent-by) and be absorbed as a retransmission, as RFC 3261 says: use two servers.
    let mut server = Server::start("torture-udp", "");
    let mut server_tcp = Server::start("torture-tcp", "");
    let (addr, addr_tcp) = (server.sip, server_tcp.sip);
    let mut ports: Vec<u16> = cases.iter().map(|c| via_port(&c.bytes)).collect();
    ports.sort_unstable();
    ports.dedup();
    let failures: Vec<String> = std::thread::scope(|scope| {
        let mut handles = Vec::new();
        // UDP: one thread per Via port, sending that port's messages one after another.
        for port in ports {
            let cases = &cases;
            handles.push(scope.spawn(move || {
                let sock = UdpSocket::bind(("127.0.0.1", port))
                    .unwrap_or_else(|e| panic!("bind 127.0.0.1:{port} to receive responses: {e}"));
                let mut out = Vec::new();
                for case in cases.iter().filter(|c| via_port(&c.bytes) == port) {
                    let udp = send_udp_from(&sock, addr, &case.bytes);
                    if let Err(e) = judge(case, udp.as_deref(), false) {
                        out.push(format!("{} [UDP] {}: {e}", case.file, case.verdict));
                    }
                }
                out
            }));
        }
        // TCP: a fresh connection per message, all at once.
        for case in &cases {
            handles.push(scope.spawn(move || {
                let (tcp, _closed) = send_tcp(addr_tcp, &case.bytes);
                match judge(case, tcp.as_deref(), true) {
                    Err(e) => vec![format!("{} [TCP] {}: {e}", case.file, case.verdict)],
                    Ok(()) => vec![],
                }
            }));
        }
        handles
            .into_iter()
            .flat_map(|h| h.join().expect("thread"))
            .collect()
    });
    assert!(
        failures.is_empty(),
        "verdicts not met:\n{}",
        failures.join("\n")
    );
    assert!(server.alive() && server_tcp.alive(), "server died");
    for a in [addr, addr_tcp] {
        assert_eq!(
            send_udp(a, &options("after-udp"))
                .as_deref()
                .and_then(status),
            Some(200)
        );
        assert_eq!(
            send_tcp(a, &options("after-tcp"))
                .0
                .as_deref()
                .and_then(status),
            Some(200)
        );
    }
}

#[test]
fn random_and_truncated_messages_never_take_the_server_down() {
    let Some(cases) = corpus() else { return };
    let mut server = Server::start("fuzz", "");
    let sock = UdpSocket::bind("127.0.0.1:0").expect("bind");
    let mut seed: u64 = 0x5eed;
    let mut next = || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let mut sent = 0;
    for case in &cases {
        // Every 7th truncation point of every message, and a few byte-flipped copies.
        for cut in (1..case.bytes.len()).step_by(7) {
            let _ = sock.send_to(&case.bytes[..cut], server.sip);
            sent += 1;
        }
        for _ in 0..20 {
            let mut m = case.bytes.clone();
            for _ in 0..4 {
                let i = (next() as usize) % m.len().max(1);
                m[i] = next() as u8;
            }
            let _ = sock.send_to(&m, server.sip);
            sent += 1;
        }
        if sent % 500 == 0 {
            std::thread::sleep(Duration::from_millis(5));
        }
    }
    for _ in 0..2000 {
        let len = (next() % 1500) as usize;
        let junk: Vec<u8> = (0..len).map(|_| next() as u8).collect();
        let _ = sock.send_to(&junk, server.sip);
    }
    // Garbage on TCP too.
    for _ in 0..50 {
        if let Ok(mut s) = TcpStream::connect(server.sip) {
            let junk: Vec<u8> = (0..(next() % 3000)).map(|_| next() as u8).collect();
            let _ = s.write_all(&junk);
        }
    }
    std::thread::sleep(Duration::from_millis(300));
    assert!(
        server.alive(),
        "server died after {sent} malformed messages:\n{}",
        server.log_text()
    );
    assert_eq!(
        send_udp(server.sip, &options("after-fuzz"))
            .as_deref()
            .and_then(status),
        Some(200)
    );
    assert!(
        !server.log_text().contains("panicked"),
        "a task panicked:\n{}",
        server.log_text()
    );
}
