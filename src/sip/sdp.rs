//! SDP session descriptions (RFC 4566): parse and serialize the parts a telephony
//! endpoint needs (o=, s=, c=, t=, m=, rtpmap, fmtp, ptime, direction), keeping every
//! other attribute. Free of SIP types. Offer/answer lives in `sdp_negotiate`.

use std::fmt;

/// Media direction attribute (RFC 3264 §5.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    SendRecv,
    SendOnly,
    RecvOnly,
    Inactive,
}

impl Direction {
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::SendRecv => "sendrecv",
            Direction::SendOnly => "sendonly",
            Direction::RecvOnly => "recvonly",
            Direction::Inactive => "inactive",
        }
    }

    fn parse(s: &str) -> Option<Direction> {
        Some(match s {
            "sendrecv" => Direction::SendRecv,
            "sendonly" => Direction::SendOnly,
            "recvonly" => Direction::RecvOnly,
            "inactive" => Direction::Inactive,
            _ => return None,
        })
    }

    /// The direction seen from the other side (sendonly ↔ recvonly).
    pub fn reversed(self) -> Direction {
        match self {
            Direction::SendOnly => Direction::RecvOnly,
            Direction::RecvOnly => Direction::SendOnly,
            d => d,
        }
    }

    /// Whether this side sends / receives.
    pub fn sends(self) -> bool {
        matches!(self, Direction::SendRecv | Direction::SendOnly)
    }
    pub fn receives(self) -> bool {
        matches!(self, Direction::SendRecv | Direction::RecvOnly)
    }

    /// Direction allowing only what both allow.
    pub fn intersect(self, other: Direction) -> Direction {
        match (
            self.sends() && other.sends(),
            self.receives() && other.receives(),
        ) {
            (true, true) => Direction::SendRecv,
            (true, false) => Direction::SendOnly,
            (false, true) => Direction::RecvOnly,
            (false, false) => Direction::Inactive,
        }
    }
}

/// `c=IN IP4 192.0.2.1` (address kept as written; IPv6 without brackets).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Connection {
    /// `IP4` or `IP6`.
    pub addr_type: String,
    pub address: String,
}

/// `a=rtpmap:<pt> <encoding>/<rate>[/<channels>]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RtpMap {
    pub pt: u8,
    pub encoding: String,
    pub clock_rate: u32,
    pub channels: Option<u8>,
}

/// One `m=` section.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MediaDescription {
    /// `audio`, `video`, ...
    pub kind: String,
    pub port: u16,
    /// `RTP/AVP`, `RTP/SAVP`, ...
    pub proto: String,
    /// Format list as written (payload type numbers for RTP).
    pub formats: Vec<String>,
    pub connection: Option<Connection>,
    pub rtpmaps: Vec<RtpMap>,
    /// `a=fmtp:<pt> <params>`.
    pub fmtps: Vec<(u8, String)>,
    pub direction: Option<Direction>,
    pub ptime: Option<u32>,
    /// Every other `a=` line: (name, value).
    pub attributes: Vec<(String, Option<String>)>,
}

/// A session description.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionDescription {
    /// o= fields: username, session id, version, nettype, addrtype, address.
    pub origin: Origin,
    pub session_name: String,
    pub connection: Option<Connection>,
    /// t= line as written (`0 0` by default).
    pub timing: String,
    pub direction: Option<Direction>,
    /// Other session-level `a=` lines.
    pub attributes: Vec<(String, Option<String>)>,
    pub media: Vec<MediaDescription>,
}

/// The o= line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Origin {
    pub username: String,
    pub session_id: String,
    pub session_version: String,
    pub addr_type: String,
    pub address: String,
}

/// Why an SDP body was refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SdpError(pub &'static str);

impl fmt::Display for SdpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

impl std::error::Error for SdpError {}

impl MediaDescription {
    /// rtpmap for a payload type, with RFC 3551 static defaults for 0 (PCMU), 8 (PCMA),
    /// 9 (G722), 18 (G729) and 13 (CN).
    pub fn rtpmap(&self, pt: u8) -> Option<RtpMap> {
        if let Some(m) = self.rtpmaps.iter().find(|m| m.pt == pt) {
            return Some(m.clone());
        }
        let (enc, rate) = match pt {
            0 => ("PCMU", 8000),
            8 => ("PCMA", 8000),
            9 => ("G722", 8000),
            13 => ("CN", 8000),
            18 => ("G729", 8000),
            _ => return None,
        };
        Some(RtpMap {
            pt,
            encoding: enc.into(),
            clock_rate: rate,
            channels: None,
        })
    }

    /// Payload type numbers of the format list (non-numeric formats skipped).
    pub fn payload_types(&self) -> impl Iterator<Item = u8> + '_ {
        self.formats.iter().filter_map(|f| f.parse().ok())
    }

    pub fn fmtp(&self, pt: u8) -> Option<&str> {
        self.fmtps
            .iter()
            .find(|(p, _)| *p == pt)
            .map(|(_, s)| s.as_str())
    }
}

fn parse_connection(v: &str) -> Result<Connection, SdpError> {
    let mut it = v.split_ascii_whitespace();
    let (Some("IN"), Some(t), Some(addr)) = (it.next(), it.next(), it.next()) else {
        return Err(SdpError("c= must be: IN IP4|IP6 address"));
    };
    // Multicast TTL/count suffixes ("/127") are dropped.
    let address = addr.split('/').next().unwrap_or(addr);
    Ok(Connection {
        addr_type: t.to_string(),
        address: address.to_string(),
    })
}

impl SessionDescription {
    /// Parses SDP text (CRLF or LF line ends). Unknown lines are ignored.
    pub fn parse(text: &str) -> Result<SessionDescription, SdpError> {
        let mut sd = SessionDescription {
            origin: Origin {
                username: "-".into(),
                session_id: "0".into(),
                session_version: "0".into(),
                addr_type: "IP4".into(),
                address: "0.0.0.0".into(),
            },
            session_name: "-".into(),
            connection: None,
            timing: "0 0".into(),
            direction: None,
            attributes: Vec::new(),
            media: Vec::new(),
        };
        let mut seen_v = false;
        for line in text.lines() {
            let line = line.trim_end_matches('\r');
            if line.is_empty() {
                continue;
            }
            let (kind, value) = match line.as_bytes() {
                [k, b'=', ..] => (*k, &line[2..]),
                _ => return Err(SdpError("SDP line is not <type>=<value>")),
            };
            match kind {
                b'v' => {
                    if value.trim() != "0" {
                        return Err(SdpError("unsupported SDP version"));
                    }
                    seen_v = true;
                }
                b'o' => {
                    let f: Vec<&str> = value.split_ascii_whitespace().collect();
                    let [u, id, ver, "IN", at, addr] = f[..] else {
                        return Err(SdpError("o= must have six fields"));
                    };
                    sd.origin = Origin {
                        username: u.into(),
                        session_id: id.into(),
                        session_version: ver.into(),
                        addr_type: at.into(),
                        address: addr.into(),
                    };
                }
                b's' => sd.session_name = value.to_string(),
                b't' => sd.timing = value.to_string(),
                b'c' => {
                    let c = parse_connection(value)?;
                    match sd.media.last_mut() {
                        Some(m) => m.connection = Some(c),
                        None => sd.connection = Some(c),
                    }
                }
                b'm' => sd.media.push(parse_media_line(value)?),
                b'a' => {
                    let (name, val) = match value.split_once(':') {
                        Some((n, v)) => (n, Some(v)),
                        None => (value, None),
                    };
                    match sd.media.last_mut() {
                        Some(m) => parse_media_attr(m, name, val),
                        None => match Direction::parse(name) {
                            Some(d) => sd.direction = Some(d),
                            None => sd
                                .attributes
                                .push((name.to_string(), val.map(str::to_string))),
                        },
                    }
                }
                _ => {}
            }
        }
        if !seen_v {
            return Err(SdpError("SDP has no v= line"));
        }
        Ok(sd)
    }

    /// The effective connection of a media section (media-level, else session-level).
    pub fn connection_for<'a>(&'a self, m: &'a MediaDescription) -> Option<&'a Connection> {
        m.connection.as_ref().or(self.connection.as_ref())
    }

    /// The effective direction of a media section (default sendrecv).
    pub fn direction_for(&self, m: &MediaDescription) -> Direction {
        m.direction
            .or(self.direction)
            .unwrap_or(Direction::SendRecv)
    }
}

fn parse_media_line(value: &str) -> Result<MediaDescription, SdpError> {
    let mut it = value.split_ascii_whitespace();
    let (Some(kind), Some(port), Some(proto)) = (it.next(), it.next(), it.next()) else {
        return Err(SdpError("m= must be: media port proto formats"));
    };
    let port = port.split('/').next().unwrap_or(port);
    let port: u16 = port.parse().map_err(|_| SdpError("invalid m= port"))?;
    Ok(MediaDescription {
        kind: kind.to_string(),
        port,
        proto: proto.to_string(),
        formats: it.map(str::to_string).collect(),
        connection: None,
        rtpmaps: Vec::new(),
        fmtps: Vec::new(),
        direction: None,
        ptime: None,
        attributes: Vec::new(),
    })
}

fn parse_rtpmap(v: &str) -> Option<RtpMap> {
    let (pt, rest) = v.split_once(' ')?;
    let mut parts = rest.trim().split('/');
    Some(RtpMap {
        pt: pt.trim().parse().ok()?,
        encoding: parts.next()?.to_string(),
        clock_rate: parts.next()?.trim().parse().ok()?,
        channels: parts.next().and_then(|c| c.trim().parse().ok()),
    })
}

/// Media-level attribute; malformed rtpmap/fmtp/ptime lines are kept as plain
/// attributes rather than failing the whole description.
fn parse_media_attr(m: &mut MediaDescription, name: &str, val: Option<&str>) {
    if let Some(d) = Direction::parse(name) {
        m.direction = Some(d);
        return;
    }
    match (name, val) {
        ("rtpmap", Some(v)) => {
            if let Some(map) = parse_rtpmap(v) {
                m.rtpmaps.push(map);
                return;
            }
        }
        ("fmtp", Some(v)) => {
            let (pt, rest) = v.split_once(' ').unwrap_or((v, ""));
            if let Ok(pt) = pt.trim().parse() {
                m.fmtps.push((pt, rest.trim().to_string()));
                return;
            }
        }
        ("ptime", Some(v)) => {
            if let Ok(p) = v.trim().parse() {
                m.ptime = Some(p);
                return;
            }
        }
        _ => {}
    }
    m.attributes
        .push((name.to_string(), val.map(str::to_string)));
}

fn write_attrs(f: &mut fmt::Formatter<'_>, attrs: &[(String, Option<String>)]) -> fmt::Result {
    for (n, v) in attrs {
        match v {
            Some(v) => write!(f, "a={n}:{v}\r\n")?,
            None => write!(f, "a={n}\r\n")?,
        }
    }
    Ok(())
}

impl fmt::Display for SessionDescription {
    /// Serializes with CRLF line ends.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let o = &self.origin;
        write!(
            f,
            "v=0\r\no={} {} {} IN {} {}\r\ns={}\r\n",
            o.username, o.session_id, o.session_version, o.addr_type, o.address, self.session_name
        )?;
        if let Some(c) = &self.connection {
            write!(f, "c=IN {} {}\r\n", c.addr_type, c.address)?;
        }
        write!(f, "t={}\r\n", self.timing)?;
        if let Some(d) = self.direction {
            write!(f, "a={}\r\n", d.as_str())?;
        }
        write_attrs(f, &self.attributes)?;
        for m in &self.media {
            write!(f, "m={} {} {}", m.kind, m.port, m.proto)?;
            for fmt_ in &m.formats {
                write!(f, " {fmt_}")?;
            }
            f.write_str("\r\n")?;
            if let Some(c) = &m.connection {
                write!(f, "c=IN {} {}\r\n", c.addr_type, c.address)?;
            }
            for r in &m.rtpmaps {
                write!(f, "a=rtpmap:{} {}/{}", r.pt, r.encoding, r.clock_rate)?;
                if let Some(ch) = r.channels {
                    write!(f, "/{ch}")?;
                }
                f.write_str("\r\n")?;
            }
            for (pt, p) in &m.fmtps {
                write!(f, "a=fmtp:{pt} {p}\r\n")?;
            }
            if let Some(p) = m.ptime {
                write!(f, "a=ptime:{p}\r\n")?;
            }
            if let Some(d) = m.direction {
                write!(f, "a={}\r\n", d.as_str())?;
            }
            write_attrs(f, &m.attributes)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) const OFFER: &str = "v=0\r\no=alice 2890844526 2890844526 IN IP4 192.0.2.10\r\n\
s=-\r\nc=IN IP4 192.0.2.10\r\nt=0 0\r\nm=audio 49170 RTP/AVP 8 0 101\r\n\
a=rtpmap:8 PCMA/8000\r\na=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-16\r\n\
a=ptime:30\r\na=sendonly\r\na=x-custom:1\r\nm=video 0 RTP/AVP 31\r\n";

    #[test]
    fn parses_audio_offer() {
        let sd = SessionDescription::parse(OFFER).unwrap();
        assert_eq!(sd.origin.username, "alice");
        let m = &sd.media[0];
        assert_eq!((m.kind.as_str(), m.port), ("audio", 49170));
        assert_eq!(m.payload_types().collect::<Vec<_>>(), [8, 0, 101]);
        assert_eq!(m.rtpmap(0).unwrap().encoding, "PCMU");
        assert_eq!(m.rtpmap(101).unwrap().encoding, "telephone-event");
        assert_eq!(m.fmtp(101), Some("0-16"));
        assert_eq!(m.ptime, Some(30));
        assert_eq!(sd.direction_for(m), Direction::SendOnly);
        assert_eq!(sd.connection_for(m).unwrap().address, "192.0.2.10");
        assert_eq!(sd.media[1].port, 0);
    }

    #[test]
    fn round_trips() {
        let sd = SessionDescription::parse(OFFER).unwrap();
        let again = SessionDescription::parse(&sd.to_string()).unwrap();
        assert_eq!(again, sd);
    }

    #[test]
    fn ipv6_media_connection_and_errors() {
        let sd = SessionDescription::parse(
            "v=0\no=- 1 1 IN IP6 2001:db8::1\ns=-\nt=0 0\nm=audio 3456 RTP/AVP 0\nc=IN IP6 2001:db8::2\n",
        )
        .unwrap();
        assert_eq!(
            sd.connection_for(&sd.media[0]).unwrap().address,
            "2001:db8::2"
        );
        assert!(SessionDescription::parse("o=x\r\n").is_err());
        assert!(SessionDescription::parse("v=0\r\nm=audio x RTP/AVP 0\r\n").is_err());
        assert!(SessionDescription::parse("v=0\r\ngarbage\r\n").is_err());
        // A malformed rtpmap is kept as an attribute, not fatal.
        let sd = SessionDescription::parse("v=0\r\nm=audio 1 RTP/AVP 31\r\na=rtpmap:31 LPC\r\n")
            .unwrap();
        assert!(sd.media[0].rtpmaps.is_empty());
        assert_eq!(sd.media[0].attributes[0].1.as_deref(), Some("31 LPC"));
    }

    #[test]
    fn direction_algebra() {
        assert_eq!(Direction::SendOnly.reversed(), Direction::RecvOnly);
        assert_eq!(
            Direction::SendRecv.intersect(Direction::RecvOnly),
            Direction::RecvOnly
        );
        assert_eq!(
            Direction::SendOnly.intersect(Direction::RecvOnly),
            Direction::Inactive
        );
    }
}
