//! One outgoing RTP stream: SSRC, sequence and timestamp stay continuous whatever feeds it
//! (prompt → hold music → agent audio → DTMF). Timestamps follow the engine's 20 ms tick clock,
//! so a pause shows as a timestamp jump and the first packet after it carries the marker bit.

use super::dtmf::DtmfPacket;
use super::rtcp::SenderInfo;
use super::rtp::RtpHeader;

/// State of one outgoing stream.
#[derive(Debug, Clone)]
pub struct RtpStream {
    ssrc: u32,
    seq: u16,
    ts_base: u32,
    samples_per_tick: u32,
    last_audio_tick: Option<u64>,
    last_tick: Option<u64>,
    packets: u32,
    octets: u32,
}

impl RtpStream {
    /// A stream with random-looking starting values chosen by the caller.
    pub fn new(ssrc: u32, first_seq: u16, ts_base: u32, samples_per_tick: u32) -> Self {
        RtpStream {
            ssrc,
            seq: first_seq,
            ts_base,
            samples_per_tick,
            last_audio_tick: None,
            last_tick: None,
            packets: 0,
            octets: 0,
        }
    }

    /// Our SSRC.
    pub fn ssrc(&self) -> u32 {
        self.ssrc
    }

    /// Packets sent so far.
    pub fn packets(&self) -> u32 {
        self.packets
    }

    /// Whether anything was sent since `tick` (for choosing SR over RR).
    pub fn sent_since(&self, tick: u64) -> bool {
        self.last_tick.is_some_and(|t| t >= tick)
    }

    /// RTP timestamp of the start of `tick`.
    pub fn ts_at(&self, tick: u64) -> u32 {
        self.ts_base
            .wrapping_add((tick as u32).wrapping_mul(self.samples_per_tick))
    }

    fn header(&mut self, marker: bool, payload_type: u8, timestamp: u32) -> RtpHeader {
        let h = RtpHeader {
            marker,
            payload_type,
            sequence: self.seq,
            timestamp,
            ssrc: self.ssrc,
        };
        self.seq = self.seq.wrapping_add(1);
        h
    }

    /// Appends an audio packet for `tick` to `out`. The marker is set at a talkspurt start
    /// (nothing sent on the previous tick) or when `marker` asks for it.
    pub fn audio(
        &mut self,
        tick: u64,
        payload_type: u8,
        payload: &[u8],
        marker: bool,
        out: &mut Vec<u8>,
    ) {
        let talkspurt = self
            .last_audio_tick
            .is_none_or(|t| t.wrapping_add(1) != tick);
        let h = self.header(marker || talkspurt, payload_type, self.ts_at(tick));
        h.write(payload, out);
        self.last_audio_tick = Some(tick);
        self.last_tick = Some(tick);
        self.packets = self.packets.wrapping_add(1);
        self.octets = self.octets.wrapping_add(payload.len() as u32);
    }

    /// Appends a telephone-event packet of an event that began at `start_tick`.
    pub fn event(
        &mut self,
        tick: u64,
        start_tick: u64,
        payload_type: u8,
        p: &DtmfPacket,
        out: &mut Vec<u8>,
    ) {
        let h = self.header(p.marker, payload_type, self.ts_at(start_tick));
        h.write(&p.payload, out);
        // Audio after the event starts a new talkspurt.
        self.last_audio_tick = None;
        self.last_tick = Some(tick);
        self.packets = self.packets.wrapping_add(1);
        self.octets = self.octets.wrapping_add(4);
    }

    /// Sender info for an SR built at `tick` with wall clock `ntp`.
    pub fn sender_info(&self, tick: u64, ntp: u64) -> SenderInfo {
        SenderInfo {
            ntp,
            rtp_ts: self.ts_at(tick),
            packet_count: self.packets,
            octet_count: self.octets,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::media::rtp::RtpPacket;

    fn send(s: &mut RtpStream, tick: u64) -> (bool, u16, u32) {
        let mut buf = Vec::new();
        s.audio(tick, 0, &[0xFF; 160], false, &mut buf);
        let p = RtpPacket::parse(&buf).unwrap();
        (p.marker, p.sequence, p.timestamp)
    }

    #[test]
    fn continuous_across_sources_and_gaps() {
        let mut s = RtpStream::new(99, 65534, 1000, 160);
        // Prompt frames at ticks 10, 11, then hold music at 12 (source switch, no gap).
        assert_eq!(send(&mut s, 10), (true, 65534, 1000 + 1600));
        assert_eq!(send(&mut s, 11), (false, 65535, 1000 + 1760));
        assert_eq!(send(&mut s, 12), (false, 0, 1000 + 1920));
        // Silence for two ticks, then the agent talks: marker, ts jumps, seq does not.
        assert_eq!(send(&mut s, 15), (true, 1, 1000 + 2400));
        assert_eq!(s.packets(), 4);
        assert!(s.sent_since(15) && !s.sent_since(16));
    }

    #[test]
    fn dtmf_event_keeps_start_timestamp_and_sequence() {
        let mut s = RtpStream::new(5, 10, 0, 160);
        send(&mut s, 1);
        let mut buf = Vec::new();
        let p = DtmfPacket {
            marker: true,
            payload: [1, 0, 0, 160],
            end: false,
        };
        s.event(2, 2, 101, &p, &mut buf);
        buf.clear();
        s.event(3, 2, 101, &DtmfPacket { marker: false, ..p }, &mut buf);
        let pkt = RtpPacket::parse(&buf).unwrap();
        assert_eq!(
            (pkt.sequence, pkt.timestamp, pkt.payload_type),
            (12, 320, 101)
        );
        assert_eq!(send(&mut s, 4), (true, 13, 640));
        let info = s.sender_info(4, 77);
        assert_eq!(
            (info.packet_count, info.octet_count, info.rtp_ts),
            (4, 328, 640)
        );
    }
}
