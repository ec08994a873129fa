//! Between SDP (SIP side) and the media engine's negotiated parameters: the media engine knows
//! no SIP types, so the call layer maps one to the other here.

use crate::media::codec::{Codec as MCodec, Direction as MDirection, NegotiatedMedia as MNeg};
use crate::sip::sdp::{Direction, SessionDescription};
use crate::sip::sdp_negotiate::{answer, Codec, LocalMedia, NegotiatedMedia};
use std::net::{IpAddr, SocketAddr};

/// Answer an SDP offer for our RTP `local` address: the SDP text to send and what the media
/// engine needs, or None (488) when no codec matches.
pub fn answer_offer(offer: &[u8], local: &LocalMedia) -> Option<(String, MNeg)> {
    let offer = SessionDescription::parse(std::str::from_utf8(offer).ok()?).ok()?;
    let (sdp, neg) = answer(&offer, local)?;
    Some((sdp.to_string(), to_media(&neg)))
}

/// The media engine's view of a negotiation.
pub fn to_media(n: &NegotiatedMedia) -> MNeg {
    MNeg {
        remote: SocketAddr::new(n.remote_addr, n.remote_port),
        remote_rtcp: None,
        codec: match n.codec {
            Codec::Pcmu => MCodec::Pcmu,
            Codec::Pcma => MCodec::Pcma,
        },
        payload_type: n.codec_pt,
        telephone_event_pt: n.telephone_event_pt,
        ptime_ms: n.ptime.unwrap_or(20),
        direction: match n.direction {
            Direction::SendRecv => MDirection::SendRecv,
            Direction::SendOnly => MDirection::SendOnly,
            Direction::RecvOnly => MDirection::RecvOnly,
            Direction::Inactive => MDirection::Inactive,
        },
        peer_ip: None,
    }
}

/// Where an untrusted caller's audio may go: only to the IP its INVITE came from (the SDP's
/// port is kept; symmetric RTP then latches to the first packet from that IP). `source` None
/// (a trusted trunk) keeps the SDP's address. A hold's `0.0.0.0` stays unspecified.
pub fn pin_to_source(n: &mut MNeg, source: Option<IpAddr>) {
    let Some(ip) = source else {
        return;
    };
    if n.remote.ip() != ip && !n.remote.ip().is_unspecified() {
        tracing::debug!(sdp = %n.remote, source = %ip, "SDP names another address than the caller's: media goes to the caller's");
    }
    if !n.remote.ip().is_unspecified() {
        n.remote.set_ip(ip);
    }
    if let Some(r) = n.remote_rtcp.as_mut() {
        r.set_ip(ip);
    }
    n.peer_ip = Some(ip);
}

/// The IP an incoming call's media is pinned to: its signalling source, unless the INVITE came
/// from a trusted trunk (which may put media elsewhere, e.g. a media gateway).
pub fn media_pin(source: IpAddr, trusted: &[crate::config::IpNet]) -> Option<IpAddr> {
    (!trusted.iter().any(|n| n.contains(source))).then_some(source)
}

/// Whether the caller has put us on hold (we may not send, or they gave no address).
pub fn is_hold(n: &MNeg) -> bool {
    matches!(n.direction, MDirection::RecvOnly | MDirection::Inactive)
        || n.remote.ip().is_unspecified()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::IpAddr;

    const OFFER: &str = "v=0\r\no=- 1 1 IN IP4 192.0.2.5\r\ns=-\r\nc=IN IP4 192.0.2.5\r\nt=0 0\r\n\
        m=audio 4000 RTP/AVP 8 0 101\r\na=rtpmap:101 telephone-event/8000\r\na=sendonly\r\n";

    #[test]
    fn an_offer_maps_to_the_engine_with_hold_detected() {
        let local = LocalMedia::new(IpAddr::from([127, 0, 0, 1]), 20000);
        let (sdp, m) = answer_offer(OFFER.as_bytes(), &local).expect("answer");
        assert!(sdp.contains("m=audio 20000 RTP/AVP 8 101"), "{sdp}");
        assert_eq!(
            (m.codec, m.payload_type, m.telephone_event_pt),
            (MCodec::Pcma, 8, Some(101))
        );
        assert_eq!(
            m.remote,
            "192.0.2.5:4000".parse::<std::net::SocketAddr>().unwrap()
        );
        assert!(is_hold(&m), "a sendonly offer puts us on hold");
    }

    #[test]
    fn an_untrusted_callers_media_goes_to_its_signalling_address_only() {
        let local = LocalMedia::new(IpAddr::from([127, 0, 0, 1]), 20000);
        let (_, mut m) = answer_offer(OFFER.as_bytes(), &local).expect("answer");
        let trusted = [crate::config::IpNet::parse("10.0.0.0/8").unwrap()];
        let source: IpAddr = "198.51.100.7".parse().unwrap();
        assert_eq!(media_pin("10.2.3.4".parse().unwrap(), &trusted), None);
        let pin = media_pin(source, &trusted);
        assert_eq!(pin, Some(source));
        pin_to_source(&mut m, pin);
        assert_eq!(m.remote, "198.51.100.7:4000".parse::<SocketAddr>().unwrap());
        assert_eq!(m.peer_ip, Some(source));
        let mut held = m.clone();
        held.remote = "0.0.0.0:4000".parse().unwrap();
        pin_to_source(&mut held, pin);
        assert!(held.remote.ip().is_unspecified(), "a hold stays a hold");
    }
}
