//! A minimal client of rtpengine's "ng" control protocol (bencoded dictionaries over UDP, each
//! message prefixed by a cookie), enough to set up and tear down relayed calls for the
//! benchmark: `offer`, `answer`, `delete`.

use std::collections::BTreeMap;
use std::net::{SocketAddr, UdpSocket};
use std::time::Duration;

/// A bencode value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Int(i64),
    Bytes(Vec<u8>),
    List(Vec<Value>),
    Dict(BTreeMap<Vec<u8>, Value>),
}

impl Value {
    pub fn str(s: &str) -> Value {
        Value::Bytes(s.as_bytes().to_vec())
    }

    pub fn dict<'a>(pairs: impl IntoIterator<Item = (&'a str, Value)>) -> Value {
        Value::Dict(
            pairs
                .into_iter()
                .map(|(k, v)| (k.as_bytes().to_vec(), v))
                .collect(),
        )
    }

    pub fn get(&self, key: &str) -> Option<&Value> {
        match self {
            Value::Dict(d) => d.get(key.as_bytes()),
            _ => None,
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Bytes(b) => std::str::from_utf8(b).ok(),
            _ => None,
        }
    }

    pub fn encode(&self, out: &mut Vec<u8>) {
        match self {
            Value::Int(i) => out.extend_from_slice(format!("i{i}e").as_bytes()),
            Value::Bytes(b) => {
                out.extend_from_slice(format!("{}:", b.len()).as_bytes());
                out.extend_from_slice(b);
            }
            Value::List(l) => {
                out.push(b'l');
                l.iter().for_each(|v| v.encode(out));
                out.push(b'e');
            }
            Value::Dict(d) => {
                out.push(b'd');
                for (k, v) in d {
                    Value::Bytes(k.clone()).encode(out);
                    v.encode(out);
                }
                out.push(b'e');
            }
        }
    }

    /// Decodes one value from the front of `b`; returns it and the rest.
    pub fn decode(b: &[u8]) -> Result<(Value, &[u8]), String> {
        let bad = |why: &str| Err(format!("bencode: {why}"));
        match b.first() {
            Some(b'i') => {
                let end = b
                    .iter()
                    .position(|&c| c == b'e')
                    .ok_or("bencode: open int")?;
                let n = std::str::from_utf8(&b[1..end])
                    .ok()
                    .and_then(|s| s.parse().ok())
                    .ok_or("bencode: bad int")?;
                Ok((Value::Int(n), &b[end + 1..]))
            }
            Some(b'l') => {
                let mut rest = &b[1..];
                let mut items = Vec::new();
                while rest.first() != Some(&b'e') {
                    let (v, r) = Value::decode(rest)?;
                    items.push(v);
                    rest = r;
                }
                Ok((Value::List(items), &rest[1..]))
            }
            Some(b'd') => {
                let mut rest = &b[1..];
                let mut map = BTreeMap::new();
                while rest.first() != Some(&b'e') {
                    let (Value::Bytes(k), r) = Value::decode(rest)? else {
                        return bad("dict key is not a string");
                    };
                    let (v, r) = Value::decode(r)?;
                    map.insert(k, v);
                    rest = r;
                }
                Ok((Value::Dict(map), &rest[1..]))
            }
            Some(c) if c.is_ascii_digit() => {
                let colon = b
                    .iter()
                    .position(|&c| c == b':')
                    .ok_or("bencode: no colon")?;
                let len: usize = std::str::from_utf8(&b[..colon])
                    .ok()
                    .and_then(|s| s.parse().ok())
                    .ok_or("bencode: bad length")?;
                let body = b
                    .get(colon + 1..colon + 1 + len)
                    .ok_or("bencode: string past the end")?;
                Ok((Value::Bytes(body.to_vec()), &b[colon + 1 + len..]))
            }
            _ => bad("unexpected byte"),
        }
    }
}

/// One ng control connection (a UDP socket to rtpengine's `listen-ng` port).
pub struct NgClient {
    sock: UdpSocket,
    to: SocketAddr,
    next_cookie: u64,
}

impl NgClient {
    pub fn new(to: SocketAddr) -> std::io::Result<NgClient> {
        let sock = UdpSocket::bind("127.0.0.1:0")?;
        sock.set_read_timeout(Some(Duration::from_secs(2)))?;
        Ok(NgClient {
            sock,
            to,
            next_cookie: 1,
        })
    }

    /// Sends `request` and returns rtpengine's reply dictionary (an error for `result` ≠ ok).
    pub fn request(&mut self, request: &Value) -> Result<Value, String> {
        let cookie = format!("{}_{}", std::process::id(), self.next_cookie);
        self.next_cookie += 1;
        let mut msg = format!("{cookie} ").into_bytes();
        request.encode(&mut msg);
        let mut buf = vec![0u8; 65536];
        for _attempt in 0..3 {
            self.sock
                .send_to(&msg, self.to)
                .map_err(|e| e.to_string())?;
            loop {
                let n = match self.sock.recv(&mut buf) {
                    Ok(n) => n,
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
                    Err(e) if e.kind() == std::io::ErrorKind::TimedOut => break,
                    Err(e) => return Err(e.to_string()),
                };
                let Some(body) = buf[..n].strip_prefix(format!("{cookie} ").as_bytes()) else {
                    continue; // a late reply to an earlier attempt
                };
                let (reply, _) = Value::decode(body)?;
                return match reply.get("result").and_then(Value::as_str) {
                    Some("ok") => Ok(reply),
                    other => Err(format!(
                        "rtpengine: {} ({})",
                        other.unwrap_or("no result"),
                        reply
                            .get("error-reason")
                            .and_then(Value::as_str)
                            .unwrap_or("")
                    )),
                };
            }
        }
        Err("rtpengine: no reply to the ng request".into())
    }

    /// `offer` of the caller's SDP; returns the SDP rtpengine offers the callee.
    pub fn offer(
        &mut self,
        call_id: &str,
        from_tag: &str,
        sdp: &str,
        transcode_to: Option<&str>,
    ) -> Result<String, String> {
        let mut fields = vec![
            ("command", Value::str("offer")),
            ("call-id", Value::str(call_id)),
            ("from-tag", Value::str(from_tag)),
            ("sdp", Value::str(sdp)),
            ("ICE", Value::str("remove")),
            (
                "replace",
                Value::List(vec![Value::str("origin"), Value::str("session-connection")]),
            ),
        ];
        if let Some(codec) = transcode_to {
            fields.push((
                "codec",
                Value::dict([("transcode", Value::List(vec![Value::str(codec)]))]),
            ));
        }
        self.sdp_of(&Value::dict(fields))
    }

    /// `answer` of the callee's SDP; returns the SDP rtpengine answers the caller with.
    pub fn answer(
        &mut self,
        call_id: &str,
        from_tag: &str,
        to_tag: &str,
        sdp: &str,
    ) -> Result<String, String> {
        self.sdp_of(&Value::dict([
            ("command", Value::str("answer")),
            ("call-id", Value::str(call_id)),
            ("from-tag", Value::str(from_tag)),
            ("to-tag", Value::str(to_tag)),
            ("sdp", Value::str(sdp)),
            ("ICE", Value::str("remove")),
            (
                "replace",
                Value::List(vec![Value::str("origin"), Value::str("session-connection")]),
            ),
        ]))
    }

    pub fn delete(&mut self, call_id: &str, from_tag: &str) -> Result<(), String> {
        self.request(&Value::dict([
            ("command", Value::str("delete")),
            ("call-id", Value::str(call_id)),
            ("from-tag", Value::str(from_tag)),
        ]))
        .map(|_| ())
    }

    fn sdp_of(&mut self, request: &Value) -> Result<String, String> {
        let reply = self.request(request)?;
        reply
            .get("sdp")
            .and_then(Value::as_str)
            .map(str::to_string)
            .ok_or_else(|| "rtpengine: reply without SDP".into())
    }
}

/// A one-stream G.711 SDP for a phone at `addr` offering `payload_types` (0 = PCMU, 8 = PCMA).
pub fn phone_sdp(addr: SocketAddr, payload_types: &[u8]) -> String {
    let pts: Vec<String> = payload_types.iter().map(u8::to_string).collect();
    let mut s = format!(
        "v=0\r\no=- 1 1 IN IP4 {ip}\r\ns=-\r\nc=IN IP4 {ip}\r\nt=0 0\r\nm=audio {port} RTP/AVP {pts}\r\n",
        ip = addr.ip(),
        port = addr.port(),
        pts = pts.join(" ")
    );
    for pt in payload_types {
        let name = if *pt == 8 { "PCMA" } else { "PCMU" };
        s.push_str(&format!("a=rtpmap:{pt} {name}/8000\r\n"));
    }
    s.push_str("a=ptime:20\r\na=sendrecv\r\n");
    s
}

/// The media address and first payload type an SDP gives (`c=` and `m=audio`).
pub fn sdp_target(sdp: &str) -> Option<(SocketAddr, u8)> {
    let ip = sdp
        .lines()
        .find_map(|l| l.trim().strip_prefix("c=IN IP4 "))?
        .trim()
        .parse::<std::net::IpAddr>()
        .ok()?;
    let mut m = sdp
        .lines()
        .find_map(|l| l.trim().strip_prefix("m=audio "))?
        .split_whitespace();
    let port: u16 = m.next()?.parse().ok()?;
    let pt: u8 = m.nth(1)?.parse().ok()?;
    Some((SocketAddr::new(ip, port), pt))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bencode_round_trip() {
        let v = Value::dict([
            ("command", Value::str("offer")),
            ("n", Value::Int(-3)),
            ("l", Value::List(vec![Value::str("a"), Value::Int(1)])),
        ]);
        let mut out = Vec::new();
        v.encode(&mut out);
        assert_eq!(
            out,
            b"d7:command5:offer1:ll1:ai1ee1:ni-3ee".as_slice().to_vec()
        );
        assert_eq!(Value::decode(&out).unwrap().0, v);
    }
}
