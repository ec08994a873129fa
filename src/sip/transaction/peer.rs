//! Where a message came from or goes to: transport, socket address and (for
//! connection-oriented transports) the edge's connection id. Also the two §18.2 rules
//! that need the source address: stamping `received`/`rport` on an incoming request's
//! top Via (§18.2.1, RFC 3581) and choosing where a response goes (§18.2.2).

use std::fmt;
use std::net::{IpAddr, SocketAddr};

use crate::sip::message::{Headers, Via};

/// A SIP transport.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Transport {
    Udp,
    Tcp,
    Tls,
    Ws,
    Wss,
}

impl Transport {
    /// Reliable transports get no retransmission timers and zero-length wait timers.
    pub fn is_reliable(self) -> bool {
        !matches!(self, Transport::Udp)
    }

    /// The token used in Via (`UDP`, `TCP`, ...).
    pub fn via_token(self) -> &'static str {
        match self {
            Transport::Udp => "UDP",
            Transport::Tcp => "TCP",
            Transport::Tls => "TLS",
            Transport::Ws => "WS",
            Transport::Wss => "WSS",
        }
    }

    /// Parses a Via transport token (case-insensitive).
    pub fn from_via_token(token: &str) -> Option<Transport> {
        [
            Transport::Udp,
            Transport::Tcp,
            Transport::Tls,
            Transport::Ws,
            Transport::Wss,
        ]
        .into_iter()
        .find(|t| t.via_token().eq_ignore_ascii_case(token))
    }
}

impl fmt::Display for Transport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.via_token())
    }
}

/// The far end of a message: how to reach it (or where it came from).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Peer {
    pub transport: Transport,
    pub addr: SocketAddr,
    /// Connection (TCP/TLS/WS) or local socket id chosen by the edge; responses to a
    /// request carry the id the request came in on.
    pub conn: Option<u64>,
}

impl Peer {
    /// A peer reached over UDP (no connection id).
    pub fn udp(addr: SocketAddr) -> Peer {
        Peer {
            transport: Transport::Udp,
            addr,
            conn: None,
        }
    }

    /// A peer on a given stream connection.
    pub fn tcp(addr: SocketAddr, conn: u64) -> Peer {
        Peer {
            transport: Transport::Tcp,
            addr,
            conn: Some(conn),
        }
    }

    pub fn is_reliable(&self) -> bool {
        self.transport.is_reliable()
    }
}

/// §18.2.1 / RFC 3581: add `received` when the sent-by host differs from the source IP (or
/// rport is present), fill in `rport`. Rewrites only the top Via entry. Returns the updated Via.
///
/// `received` and `rport` always come from the packet's real source: whatever the client
/// wrote there itself is replaced (or removed), so a request cannot steer its responses to
/// another host or port (reflection).
pub fn stamp_top_via(headers: &mut Headers, mut via: Via, from: &Peer) -> Via {
    let src_ip = from.addr.ip();
    let host_ip = parse_host_ip(&via.host);
    let before = (via.received.clone(), via.rport);
    via.received = (host_ip != Some(src_ip) || via.rport.is_some()).then(|| src_ip.to_string());
    if via.rport.is_some() {
        via.rport = Some(Some(from.addr.port()));
    }
    if (via.received.as_ref(), via.rport) != (before.0.as_ref(), before.1) {
        replace_top_via(headers, &via);
    }
    via
}

/// Replaces the first Via value (which may be the head of a comma list) with `via`.
pub fn replace_top_via(headers: &mut Headers, via: &Via) {
    let Some(first) = headers.remove_first("via") else {
        return;
    };
    let rest = split_first_via(&first).1;
    if let Some(rest) = rest {
        headers.push_front("via", rest.to_string());
    }
    headers.push_front("via", via.to_string());
}

/// Splits `a, b, c` into `a` and `Some("b, c")` (commas inside quotes are kept).
fn split_first_via(value: &str) -> (&str, Option<&str>) {
    let mut in_quote = false;
    for (i, c) in value.char_indices() {
        match c {
            '"' => in_quote = !in_quote,
            ',' if !in_quote => {
                let rest = value[i + 1..].trim();
                return (&value[..i], (!rest.is_empty()).then_some(rest));
            }
            _ => {}
        }
    }
    (value, None)
}

/// Where to send responses to a request (§18.2.2, RFC 3581). Reliable transports answer
/// on the connection the request came in on; unreliable ones go to the source address of
/// the request (what [`stamp_top_via`] wrote as `received`) at `rport`, else the sent-by
/// port, else 5060. Never to another host: a forged Via cannot aim responses at a third
/// party. `maddr` is not supported (multicast is not used by telephony peers).
pub fn response_peer(via: &Via, from: &Peer) -> Peer {
    if from.is_reliable() {
        return *from;
    }
    let (_, port) = via.response_target();
    Peer {
        addr: SocketAddr::new(from.addr.ip(), port),
        ..*from
    }
}

/// An IP literal host (IPv6 with or without brackets).
pub fn parse_host_ip(host: &str) -> Option<IpAddr> {
    let bare = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    bare.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn src() -> Peer {
        Peer::udp("198.51.100.7:40000".parse().unwrap())
    }

    #[test]
    fn rport_and_received_are_filled_and_used_for_responses() {
        let mut h = Headers::new();
        h.push("via", "SIP/2.0/UDP 10.0.0.5:5060;branch=z9hG4bKa;rport");
        h.push("via", "SIP/2.0/UDP proxy.example;branch=z9hG4bKb");
        let via = h.top_via().unwrap();
        let via = stamp_top_via(&mut h, via, &src());
        assert_eq!(via.received.as_deref(), Some("198.51.100.7"));
        assert_eq!(via.rport, Some(Some(40000)));
        let vias = h.vias().unwrap();
        assert_eq!(vias.len(), 2);
        assert_eq!(vias[0], via);
        assert_eq!(response_peer(&via, &src()).addr, src().addr);
    }

    #[test]
    fn without_rport_responses_go_to_sent_by_port() {
        let mut h = Headers::new();
        h.push(
            "via",
            "SIP/2.0/UDP 10.0.0.5:5070;branch=z9hG4bKa, SIP/2.0/UDP b",
        );
        let top = h.top_via().unwrap();
        let via = stamp_top_via(&mut h, top, &src());
        assert_eq!(h.vias().unwrap().len(), 2);
        let to = response_peer(&via, &src());
        assert_eq!(
            to.addr,
            "198.51.100.7:5070".parse::<std::net::SocketAddr>().unwrap()
        );
    }

    #[test]
    fn matching_host_is_left_alone_and_tcp_uses_the_connection() {
        let mut h = Headers::new();
        h.push("via", "SIP/2.0/TCP 198.51.100.7:5060;branch=z9hG4bKa");
        let tcp = Peer::tcp("198.51.100.7:40001".parse().unwrap(), 9);
        let top = h.top_via().unwrap();
        let via = stamp_top_via(&mut h, top, &tcp);
        assert_eq!(via.received, None);
        assert_eq!(
            h.get("via"),
            Some("SIP/2.0/TCP 198.51.100.7:5060;branch=z9hG4bKa")
        );
        assert_eq!(response_peer(&via, &tcp), tcp);
    }

    #[test]
    fn client_written_received_and_rport_never_steer_responses() {
        let mut h = Headers::new();
        h.push(
            "via",
            "SIP/2.0/UDP 198.51.100.7:40000;branch=z9hG4bKa;received=127.0.0.5;rport=9",
        );
        let top = h.top_via().unwrap();
        let via = stamp_top_via(&mut h, top, &src());
        assert_eq!(via.received.as_deref(), Some("198.51.100.7"));
        assert_eq!(via.rport, Some(Some(40000)));
        assert_eq!(response_peer(&via, &src()).addr, src().addr);
        // A received= without rport, on a host matching the source: dropped, and the
        // response still goes to the source IP.
        let mut h = Headers::new();
        h.push(
            "via",
            "SIP/2.0/UDP 198.51.100.7:5070;branch=z9hG4bKb;received=192.0.2.99",
        );
        let top = h.top_via().unwrap();
        let via = stamp_top_via(&mut h, top, &src());
        assert_eq!(via.received, None);
        assert!(!h.get("via").unwrap_or("").contains("192.0.2.99"));
        assert_eq!(
            response_peer(&via, &src()).addr,
            "198.51.100.7:5070".parse::<SocketAddr>().unwrap()
        );
        // A sent-by naming another host still gets its answer at the source.
        let mut h = Headers::new();
        h.push("via", "SIP/2.0/UDP 192.0.2.99:5060;branch=z9hG4bKc");
        let top = h.top_via().unwrap();
        let via = stamp_top_via(&mut h, top, &src());
        assert_eq!(response_peer(&via, &src()).addr.ip(), src().addr.ip());
    }
}
