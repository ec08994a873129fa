//! Codecs and the negotiated media parameters the SIP (or WebRTC) layer hands to the media engine.
//! G.711 µ-law / A-law today; `Codec` is the seam for more (frame-based codecs would add an
//! encoder/decoder state instead of the sample-wise tables).

use std::net::SocketAddr;

use super::g711;

/// An audio codec the engine can send and receive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Codec {
    /// G.711 µ-law (static payload type 0).
    Pcmu,
    /// G.711 A-law (static payload type 8).
    Pcma,
}

impl Codec {
    /// RTP clock rate in Hz.
    pub fn clock_rate(self) -> u32 {
        8000
    }

    /// Static RTP payload type from RFC 3551.
    pub fn static_payload_type(self) -> u8 {
        match self {
            Codec::Pcmu => 0,
            Codec::Pcma => 8,
        }
    }

    /// SDP encoding name.
    pub fn name(self) -> &'static str {
        match self {
            Codec::Pcmu => "PCMU",
            Codec::Pcma => "PCMA",
        }
    }

    /// Samples in one packet of `ptime_ms`.
    pub fn samples_per_frame(self, ptime_ms: u32) -> usize {
        (self.clock_rate() * ptime_ms / 1000) as usize
    }

    /// Encoding of silence (one byte per sample for G.711).
    pub fn silence_byte(self) -> u8 {
        match self {
            Codec::Pcmu => 0xFF,
            Codec::Pcma => 0xD5,
        }
    }

    /// Decodes payload bytes, appending linear samples to `out`.
    pub fn decode(self, payload: &[u8], out: &mut Vec<i16>) {
        match self {
            Codec::Pcmu => g711::decode_ulaw(payload, out),
            Codec::Pcma => g711::decode_alaw(payload, out),
        }
    }

    /// Encodes linear samples, appending payload bytes to `out`.
    pub fn encode(self, pcm: &[i16], out: &mut Vec<u8>) {
        match self {
            Codec::Pcmu => g711::encode_ulaw(pcm, out),
            Codec::Pcma => g711::encode_alaw(pcm, out),
        }
    }

    /// Direct byte-to-byte table from `self` to `to`, when both are sample-wise and differ.
    pub fn transcode_table(self, to: Codec) -> Option<&'static [u8; 256]> {
        match (self, to) {
            (Codec::Pcmu, Codec::Pcma) => Some(&g711::ULAW_TO_ALAW),
            (Codec::Pcma, Codec::Pcmu) => Some(&g711::ALAW_TO_ULAW),
            _ => None,
        }
    }

    /// Converts payload bytes of `self` into `to`, appending to `out` (copy when equal).
    pub fn convert(self, payload: &[u8], to: Codec, out: &mut Vec<u8>) {
        match self.transcode_table(to) {
            Some(table) => out.extend(payload.iter().map(|&b| table[b as usize])),
            None => out.extend_from_slice(payload),
        }
    }
}

/// Media direction from the engine's own point of view (what we may do).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Direction {
    /// We send and receive.
    #[default]
    SendRecv,
    /// We only send (the remote put us on hold with `recvonly`, or announcements).
    SendOnly,
    /// We only receive.
    RecvOnly,
    /// Neither.
    Inactive,
}

impl Direction {
    /// Whether we may send RTP.
    pub fn sends(self) -> bool {
        matches!(self, Direction::SendRecv | Direction::SendOnly)
    }

    /// Whether we expect RTP from the remote (and so arm the media timeout).
    pub fn receives(self) -> bool {
        matches!(self, Direction::SendRecv | Direction::RecvOnly)
    }
}

/// What the signalling layer negotiated for one audio stream (SDP offer/answer or WebRTC).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NegotiatedMedia {
    /// Remote RTP address from the SDP (`c=` + `m=` port); latching may replace it.
    pub remote: SocketAddr,
    /// Remote RTCP address (`a=rtcp`); `None` means RTP port + 1.
    pub remote_rtcp: Option<SocketAddr>,
    /// Audio codec.
    pub codec: Codec,
    /// Payload type the remote uses for the codec (static 0/8, but honour what was negotiated).
    pub payload_type: u8,
    /// RFC 4733 telephone-event payload type, if negotiated.
    pub telephone_event_pt: Option<u8>,
    /// Packet time; the engine sends 20 ms and accepts any size on receive.
    pub ptime_ms: u32,
    /// Our direction.
    pub direction: Direction,
    /// When set, RTP and RTCP are accepted (and latched) only from this IP address: the
    /// signalling source of an untrusted caller, so an SDP cannot aim our audio elsewhere.
    pub peer_ip: Option<std::net::IpAddr>,
}

impl NegotiatedMedia {
    /// Defaults: static payload type, no telephone-event, 20 ms, sendrecv.
    pub fn new(remote: SocketAddr, codec: Codec) -> Self {
        NegotiatedMedia {
            remote,
            remote_rtcp: None,
            codec,
            payload_type: codec.static_payload_type(),
            telephone_event_pt: None,
            ptime_ms: 20,
            direction: Direction::SendRecv,
            peer_ip: None,
        }
    }

    /// With an RFC 4733 payload type.
    pub fn with_telephone_event(mut self, pt: u8) -> Self {
        self.telephone_event_pt = Some(pt);
        self
    }

    /// Where RTCP goes.
    pub fn rtcp_addr(&self) -> SocketAddr {
        self.remote_rtcp.unwrap_or_else(|| {
            let mut a = self.remote;
            a.set_port(a.port().wrapping_add(1));
            a
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn convert_maps_silence_between_laws() {
        let mut out = Vec::new();
        Codec::Pcmu.convert(&[0xFF, 0xFF], Codec::Pcma, &mut out);
        assert_eq!(out, vec![0xD5, 0xD5]);
        out.clear();
        Codec::Pcma.convert(&[0xD5], Codec::Pcma, &mut out);
        assert_eq!(out, vec![0xD5]);
    }

    #[test]
    fn rtcp_defaults_to_next_port() {
        let m = NegotiatedMedia::new("10.0.0.1:4000".parse().unwrap(), Codec::Pcma);
        assert_eq!(m.rtcp_addr().port(), 4001);
        assert_eq!(m.payload_type, 8);
        assert_eq!(Codec::Pcmu.samples_per_frame(20), 160);
    }

    #[test]
    fn direction_rules() {
        assert!(Direction::SendOnly.sends() && !Direction::SendOnly.receives());
        assert!(!Direction::Inactive.sends() && !Direction::Inactive.receives());
    }
}
