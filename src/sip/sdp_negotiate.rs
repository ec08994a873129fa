//! SDP offer/answer (RFC 3264) for G.711 telephony: answer an offer choosing PCMU or
//! PCMA in the offerer's order plus telephone-event (RFC 4733), build our own offer for
//! outgoing legs, and read the peer's answer to it. The result is a
//! [`NegotiatedMedia`] for the media layer; no SIP types involved.

use std::net::IpAddr;

use super::sdp::{Connection, Direction, MediaDescription, Origin, RtpMap, SessionDescription};

/// Our side of a media session.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LocalMedia {
    pub addr: IpAddr,
    pub port: u16,
    /// What we want to do (sendrecv normally; sendonly to put the peer on hold).
    pub direction: Direction,
    /// o= session id and version (bump the version on every new offer/answer).
    pub session_id: u64,
    pub session_version: u64,
    /// Payload type we use for telephone-event in our own offers.
    pub telephone_event_pt: u8,
    /// Packet time we want to receive, in ms.
    pub ptime: u32,
}

impl LocalMedia {
    pub fn new(addr: IpAddr, port: u16) -> LocalMedia {
        LocalMedia {
            addr,
            port,
            direction: Direction::SendRecv,
            session_id: 1,
            session_version: 1,
            telephone_event_pt: 101,
            ptime: 20,
        }
    }
}

/// What the media layer needs to run the stream.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NegotiatedMedia {
    /// Where to send RTP (0.0.0.0 / unspecified when the peer put us on hold).
    pub remote_addr: IpAddr,
    pub remote_port: u16,
    /// Payload type of the chosen codec on the wire (normally 0 or 8).
    pub codec_pt: u8,
    /// The chosen codec.
    pub codec: Codec,
    /// The peer's telephone-event payload type, if it supports RFC 4733.
    pub telephone_event_pt: Option<u8>,
    /// Our direction: whether we send and/or receive.
    pub direction: Direction,
    /// Packet time the peer asked for (ms), if any.
    pub ptime: Option<u32>,
}

/// The audio codecs we can negotiate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Codec {
    /// G.711 µ-law.
    Pcmu,
    /// G.711 A-law.
    Pcma,
}

impl Codec {
    pub fn name(self) -> &'static str {
        match self {
            Codec::Pcmu => "PCMU",
            Codec::Pcma => "PCMA",
        }
    }
}

/// The G.711 codec a payload type of this section maps to.
fn g711(m: &MediaDescription, pt: u8) -> Option<Codec> {
    let map = m.rtpmap(pt)?;
    if map.clock_rate != 8000 || map.channels.is_some_and(|c| c != 1) {
        return None;
    }
    if map.encoding.eq_ignore_ascii_case("PCMU") {
        Some(Codec::Pcmu)
    } else if map.encoding.eq_ignore_ascii_case("PCMA") {
        Some(Codec::Pcma)
    } else {
        None
    }
}

fn first_g711(m: &MediaDescription) -> Option<(u8, Codec)> {
    m.payload_types()
        .find_map(|pt| g711(m, pt).map(|c| (pt, c)))
}

fn telephone_event(m: &MediaDescription) -> Option<u8> {
    m.payload_types().find(|pt| {
        m.rtpmap(*pt).is_some_and(|r| {
            r.encoding.eq_ignore_ascii_case("telephone-event") && r.clock_rate == 8000
        })
    })
}

fn is_unspecified(addr: &str) -> bool {
    addr == "0.0.0.0" || addr == "::"
}

fn connection_for(addr: IpAddr) -> Connection {
    Connection {
        addr_type: if addr.is_ipv4() { "IP4" } else { "IP6" }.into(),
        address: addr.to_string(),
    }
}

fn origin(local: &LocalMedia) -> Origin {
    let c = connection_for(local.addr);
    Origin {
        username: "helpline".into(),
        session_id: local.session_id.to_string(),
        session_version: local.session_version.to_string(),
        addr_type: c.addr_type,
        address: c.address,
    }
}

fn audio_section(
    local: &LocalMedia,
    codecs: &[(u8, &str)],
    te: Option<u8>,
    dir: Direction,
) -> MediaDescription {
    let mut m = MediaDescription {
        kind: "audio".into(),
        port: local.port,
        proto: "RTP/AVP".into(),
        formats: Vec::new(),
        connection: None,
        rtpmaps: Vec::new(),
        fmtps: Vec::new(),
        direction: Some(dir),
        ptime: Some(local.ptime),
        attributes: Vec::new(),
    };
    for (pt, name) in codecs {
        m.formats.push(pt.to_string());
        m.rtpmaps.push(RtpMap {
            pt: *pt,
            encoding: (*name).into(),
            clock_rate: 8000,
            channels: None,
        });
    }
    if let Some(te) = te {
        m.formats.push(te.to_string());
        m.rtpmaps.push(RtpMap {
            pt: te,
            encoding: "telephone-event".into(),
            clock_rate: 8000,
            channels: None,
        });
        m.fmtps.push((te, "0-15".into()));
    }
    m
}

fn session(local: &LocalMedia, media: Vec<MediaDescription>) -> SessionDescription {
    SessionDescription {
        origin: origin(local),
        session_name: "helpline".into(),
        connection: Some(connection_for(local.addr)),
        timing: "0 0".into(),
        direction: None,
        attributes: Vec::new(),
        media,
    }
}

/// Answers `offer`. Returns None (→ 488 Not Acceptable Here) when no audio stream
/// offers PCMU or PCMA over RTP/AVP, or its address is not an IP address.
pub fn answer(
    offer: &SessionDescription,
    local: &LocalMedia,
) -> Option<(SessionDescription, NegotiatedMedia)> {
    let mut chosen: Option<NegotiatedMedia> = None;
    let mut sections = Vec::with_capacity(offer.media.len());
    for m in &offer.media {
        if chosen.is_none() && m.kind == "audio" && m.port != 0 && m.proto == "RTP/AVP" {
            if let Some(n) = negotiate_offered(offer, m, local) {
                sections.push(audio_section(
                    local,
                    &[(n.codec_pt, n.codec.name())],
                    n.telephone_event_pt,
                    n.direction,
                ));
                chosen = Some(n);
                continue;
            }
        }
        // RFC 3264 §6: reject the stream with port 0, echoing its formats.
        sections.push(MediaDescription {
            kind: m.kind.clone(),
            port: 0,
            proto: m.proto.clone(),
            formats: if m.formats.is_empty() {
                vec!["0".into()]
            } else {
                m.formats.clone()
            },
            connection: None,
            rtpmaps: Vec::new(),
            fmtps: Vec::new(),
            direction: None,
            ptime: None,
            attributes: Vec::new(),
        });
    }
    let n = chosen?;
    Some((session(local, sections), n))
}

fn negotiate_offered(
    offer: &SessionDescription,
    m: &MediaDescription,
    local: &LocalMedia,
) -> Option<NegotiatedMedia> {
    let (codec_pt, codec) = first_g711(m)?;
    let conn = offer.connection_for(m)?;
    let remote_addr: IpAddr = conn.address.parse().ok()?;
    let mut offered = offer.direction_for(m);
    // RFC 2543 hold: c=0.0.0.0 means "do not send to me".
    if is_unspecified(&conn.address) {
        offered = offered.intersect(Direction::SendOnly);
    }
    Some(NegotiatedMedia {
        remote_addr,
        remote_port: m.port,
        codec_pt,
        codec,
        telephone_event_pt: telephone_event(m),
        direction: offered.reversed().intersect(local.direction),
        ptime: m.ptime,
    })
}

/// Our offer for an outgoing leg: PCMU, PCMA and telephone-event.
pub fn offer(local: &LocalMedia) -> SessionDescription {
    let m = audio_section(
        local,
        &[(0, "PCMU"), (8, "PCMA")],
        Some(local.telephone_event_pt),
        local.direction,
    );
    session(local, vec![m])
}

/// Reads the peer's answer to our [`offer`]: the first G.711 codec it accepted on the
/// first audio stream. None if it rejected the stream or chose nothing we offered.
pub fn accept_answer(answer: &SessionDescription, local: &LocalMedia) -> Option<NegotiatedMedia> {
    let m = answer
        .media
        .iter()
        .find(|m| m.kind == "audio" && m.port != 0)?;
    let conn = answer.connection_for(m)?;
    let remote_addr: IpAddr = conn.address.parse().ok()?;
    let (codec_pt, codec) = first_g711(m)?;
    let mut theirs = answer.direction_for(m);
    if is_unspecified(&conn.address) {
        theirs = theirs.intersect(Direction::SendOnly);
    }
    Some(NegotiatedMedia {
        remote_addr,
        remote_port: m.port,
        codec_pt,
        codec,
        telephone_event_pt: telephone_event(m),
        direction: theirs.reversed().intersect(local.direction),
        ptime: m.ptime,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn local() -> LocalMedia {
        LocalMedia::new("198.51.100.7".parse().unwrap(), 20000)
    }

    fn offer_text(fmts: &str, extra: &str, addr: &str) -> SessionDescription {
        SessionDescription::parse(&format!(
            "v=0\r\no=a 1 1 IN IP4 {addr}\r\ns=-\r\nc=IN IP4 {addr}\r\nt=0 0\r\n\
m=audio 4000 RTP/AVP {fmts}\r\n{extra}"
        ))
        .unwrap()
    }

    #[test]
    fn answers_in_offerer_order_with_telephone_event() {
        let o = offer_text(
            "18 8 0 96",
            "a=rtpmap:18 G729/8000\r\na=rtpmap:96 telephone-event/8000\r\na=ptime:30\r\n",
            "192.0.2.1",
        );
        let (ans, n) = answer(&o, &local()).unwrap();
        assert_eq!((n.codec_pt, n.codec), (8, Codec::Pcma));
        assert_eq!(n.telephone_event_pt, Some(96));
        assert_eq!(n.remote_port, 4000);
        assert_eq!(n.remote_addr.to_string(), "192.0.2.1");
        assert_eq!(n.ptime, Some(30));
        assert_eq!(n.direction, Direction::SendRecv);
        let text = ans.to_string();
        assert!(text.contains("m=audio 20000 RTP/AVP 8 96\r\n"), "{text}");
        assert!(text.contains("a=rtpmap:96 telephone-event/8000\r\n"));
        assert!(text.contains("c=IN IP4 198.51.100.7\r\n"));
    }

    #[test]
    fn no_common_codec_is_none() {
        let o = offer_text("18 9", "", "192.0.2.1");
        assert!(answer(&o, &local()).is_none());
        // telephone-event at 48000 does not count.
        let o = offer_text("0 97", "a=rtpmap:97 telephone-event/48000\r\n", "192.0.2.1");
        assert_eq!(answer(&o, &local()).unwrap().1.telephone_event_pt, None);
    }

    #[test]
    fn hold_offers() {
        let o = offer_text("0", "a=sendonly\r\n", "192.0.2.1");
        assert_eq!(
            answer(&o, &local()).unwrap().1.direction,
            Direction::RecvOnly
        );
        let o = offer_text("0", "", "0.0.0.0");
        let (ans, n) = answer(&o, &local()).unwrap();
        assert_eq!(n.direction, Direction::RecvOnly);
        assert!(ans.to_string().contains("a=recvonly"));
        let o = offer_text("0", "a=inactive\r\n", "192.0.2.1");
        assert_eq!(
            answer(&o, &local()).unwrap().1.direction,
            Direction::Inactive
        );
    }

    #[test]
    fn extra_streams_are_rejected_with_port_zero() {
        let mut text = offer_text("0", "", "192.0.2.1").to_string();
        text.push_str("m=video 5000 RTP/AVP 31\r\n");
        let o = SessionDescription::parse(&text).unwrap();
        let (ans, _) = answer(&o, &local()).unwrap();
        assert_eq!(ans.media.len(), 2);
        assert_eq!(
            (ans.media[1].port, ans.media[1].formats[0].as_str()),
            (0, "31")
        );
    }

    #[test]
    fn offer_and_accept_answer() {
        let l = local();
        let o = offer(&l);
        let text = o.to_string();
        assert!(text.contains("m=audio 20000 RTP/AVP 0 8 101\r\n"), "{text}");
        // The peer answers from its side of the offer.
        let peer = LocalMedia::new("203.0.113.5".parse().unwrap(), 30000);
        let (ans, peer_n) = answer(&o, &peer).unwrap();
        assert_eq!(peer_n.codec_pt, 0);
        let n = accept_answer(&ans, &l).unwrap();
        assert_eq!((n.codec_pt, n.remote_port), (0, 30000));
        assert_eq!(n.telephone_event_pt, Some(101));
    }
}
