//! Between SDP (SIP side) and the media engine's negotiated parameters: the media engine knows
//! no SIP types, so the call layer maps one to the other here.

use crate::media::codec::{Codec as MCodec, Direction as MDirection, NegotiatedMedia as MNeg};
use crate::sip::sdp::{Direction, SessionDescription};
use crate::sip::sdp_negotiate::{answer, Codec, LocalMedia, NegotiatedMedia};
use std::net::SocketAddr;

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
    }
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
}
