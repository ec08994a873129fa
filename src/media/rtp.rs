//! RTP (RFC 3550 §5.1) header parsing and building: CSRC list, header extension, padding and
//! marker bit. Parsing borrows the datagram and refuses anything truncated or inconsistent.

use thiserror::Error;

/// Why a datagram is not an acceptable RTP packet.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum RtpError {
    /// Shorter than the 12-byte fixed header.
    #[error("RTP packet truncated: {0} bytes, need at least 12")]
    TooShort(usize),
    /// Version field is not 2.
    #[error("RTP version {0}, expected 2")]
    BadVersion(u8),
    /// CSRC list runs past the end.
    #[error("RTP CSRC list truncated")]
    TruncatedCsrc,
    /// Header extension runs past the end.
    #[error("RTP header extension truncated")]
    TruncatedExtension,
    /// Padding count is zero or larger than the payload.
    #[error("RTP padding length {0} invalid")]
    BadPadding(u8),
}

/// A parsed RTP packet borrowing its datagram.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RtpPacket<'a> {
    /// Marker bit (start of talkspurt / start of a DTMF event).
    pub marker: bool,
    /// Payload type.
    pub payload_type: u8,
    /// Sequence number.
    pub sequence: u16,
    /// Media timestamp.
    pub timestamp: u32,
    /// Synchronisation source.
    pub ssrc: u32,
    /// Contributing sources.
    pub csrc: Vec<u32>,
    /// Header extension (profile, data) if present.
    pub extension: Option<(u16, &'a [u8])>,
    /// Payload without padding.
    pub payload: &'a [u8],
}

fn be16(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes([*b.get(at)?, *b.get(at + 1)?]))
}

fn be32(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_be_bytes([
        *b.get(at)?,
        *b.get(at + 1)?,
        *b.get(at + 2)?,
        *b.get(at + 3)?,
    ]))
}

/// Whether a datagram looks like RTCP rather than RTP (RFC 5761 §4: PT 64–95 after the marker).
pub fn looks_like_rtcp(data: &[u8]) -> bool {
    data.get(1).is_some_and(|b| (192..=223).contains(b))
}

impl<'a> RtpPacket<'a> {
    /// Parses one datagram.
    pub fn parse(data: &'a [u8]) -> Result<Self, RtpError> {
        if data.len() < 12 {
            return Err(RtpError::TooShort(data.len()));
        }
        let b0 = data[0];
        let version = b0 >> 6;
        if version != 2 {
            return Err(RtpError::BadVersion(version));
        }
        let padding = b0 & 0x20 != 0;
        let has_ext = b0 & 0x10 != 0;
        let cc = (b0 & 0x0F) as usize;
        let b1 = data[1];
        let sequence = be16(data, 2).ok_or(RtpError::TooShort(data.len()))?;
        let timestamp = be32(data, 4).ok_or(RtpError::TooShort(data.len()))?;
        let ssrc = be32(data, 8).ok_or(RtpError::TooShort(data.len()))?;
        let mut at = 12;
        let mut csrc = Vec::with_capacity(cc);
        for _ in 0..cc {
            csrc.push(be32(data, at).ok_or(RtpError::TruncatedCsrc)?);
            at += 4;
        }
        let mut extension = None;
        if has_ext {
            let profile = be16(data, at).ok_or(RtpError::TruncatedExtension)?;
            let words = be16(data, at + 2).ok_or(RtpError::TruncatedExtension)? as usize;
            let start = at + 4;
            let end = start + words * 4;
            let ext = data.get(start..end).ok_or(RtpError::TruncatedExtension)?;
            extension = Some((profile, ext));
            at = end;
        }
        let mut end = data.len();
        if padding {
            let pad = data[end - 1];
            if pad == 0 || (pad as usize) > end - at {
                return Err(RtpError::BadPadding(pad));
            }
            end -= pad as usize;
        }
        Ok(RtpPacket {
            marker: b1 & 0x80 != 0,
            payload_type: b1 & 0x7F,
            sequence,
            timestamp,
            ssrc,
            csrc,
            extension,
            payload: &data[at..end],
        })
    }
}

/// Fields of an RTP header to build.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RtpHeader {
    /// Marker bit.
    pub marker: bool,
    /// Payload type (7 bits).
    pub payload_type: u8,
    /// Sequence number.
    pub sequence: u16,
    /// Timestamp.
    pub timestamp: u32,
    /// SSRC.
    pub ssrc: u32,
}

impl RtpHeader {
    /// Appends a 12-byte header (no CSRC, no extension) and the payload to `out`.
    pub fn write(&self, payload: &[u8], out: &mut Vec<u8>) {
        self.write_full(&[], None, payload, 0, out);
    }

    /// Appends a full packet: CSRCs (max 15 used), optional extension (data padded to 32-bit
    /// words), payload and `padding` bytes of padding (0 = none).
    pub fn write_full(
        &self,
        csrc: &[u32],
        extension: Option<(u16, &[u8])>,
        payload: &[u8],
        padding: u8,
        out: &mut Vec<u8>,
    ) {
        let cc = csrc.len().min(15);
        let mut b0 = 0x80 | cc as u8;
        if padding > 0 {
            b0 |= 0x20;
        }
        if extension.is_some() {
            b0 |= 0x10;
        }
        out.push(b0);
        out.push(((self.marker as u8) << 7) | (self.payload_type & 0x7F));
        out.extend_from_slice(&self.sequence.to_be_bytes());
        out.extend_from_slice(&self.timestamp.to_be_bytes());
        out.extend_from_slice(&self.ssrc.to_be_bytes());
        for c in &csrc[..cc] {
            out.extend_from_slice(&c.to_be_bytes());
        }
        if let Some((profile, data)) = extension {
            let words = data.len().div_ceil(4).min(u16::MAX as usize);
            out.extend_from_slice(&profile.to_be_bytes());
            out.extend_from_slice(&(words as u16).to_be_bytes());
            let take = data.len().min(words * 4);
            out.extend_from_slice(&data[..take]);
            out.resize(out.len() + words * 4 - take, 0);
        }
        out.extend_from_slice(payload);
        if padding > 0 {
            out.resize(out.len() + padding as usize - 1, 0);
            out.push(padding);
        }
    }
}

/// `a` is later than `b` in 16-bit sequence space (RFC 1982 serial arithmetic).
pub fn seq_newer(a: u16, b: u16) -> bool {
    a != b && a.wrapping_sub(b) < 0x8000
}

/// `a` is later than `b` in 32-bit timestamp space.
pub fn ts_newer(a: u32, b: u32) -> bool {
    a != b && a.wrapping_sub(b) < 0x8000_0000
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header() -> RtpHeader {
        RtpHeader {
            marker: true,
            payload_type: 8,
            sequence: 65535,
            timestamp: 0xDEADBEEF,
            ssrc: 0x01020304,
        }
    }

    #[test]
    fn round_trip_plain() {
        let mut buf = Vec::new();
        header().write(&[1, 2, 3], &mut buf);
        assert_eq!(buf.len(), 15);
        let p = RtpPacket::parse(&buf).unwrap();
        assert!(p.marker);
        assert_eq!(p.payload_type, 8);
        assert_eq!(p.sequence, 65535);
        assert_eq!(p.timestamp, 0xDEADBEEF);
        assert_eq!(p.ssrc, 0x01020304);
        assert_eq!(p.payload, &[1, 2, 3]);
        assert!(p.csrc.is_empty() && p.extension.is_none());
    }

    #[test]
    fn round_trip_csrc_extension_padding() {
        let mut buf = Vec::new();
        header().write_full(
            &[7, 9],
            Some((0xBEDE, &[1, 2, 3, 4, 5])),
            &[0xAA; 4],
            3,
            &mut buf,
        );
        let p = RtpPacket::parse(&buf).unwrap();
        assert_eq!(p.csrc, vec![7, 9]);
        assert_eq!(p.extension, Some((0xBEDE, &[1, 2, 3, 4, 5, 0, 0, 0][..])));
        assert_eq!(p.payload, &[0xAA; 4]);
    }

    #[test]
    fn rejects_truncated_and_malformed() {
        assert_eq!(RtpPacket::parse(&[0x80; 11]), Err(RtpError::TooShort(11)));
        let mut buf = Vec::new();
        header().write(&[], &mut buf);
        buf[0] = 0x40;
        assert_eq!(RtpPacket::parse(&buf), Err(RtpError::BadVersion(1)));
        buf[0] = 0x82; // two CSRCs announced, none present
        assert_eq!(RtpPacket::parse(&buf), Err(RtpError::TruncatedCsrc));
        buf[0] = 0x90; // extension announced, none present
        assert_eq!(RtpPacket::parse(&buf), Err(RtpError::TruncatedExtension));
        let mut buf = Vec::new();
        header().write(&[1, 2, 3, 200], &mut buf);
        buf[0] |= 0x20; // padding count 200 > payload
        assert_eq!(RtpPacket::parse(&buf), Err(RtpError::BadPadding(200)));
        let last = buf.len() - 1;
        buf[last] = 0;
        assert_eq!(RtpPacket::parse(&buf), Err(RtpError::BadPadding(0)));
    }

    #[test]
    fn extension_length_past_end_is_refused() {
        let mut buf = Vec::new();
        header().write_full(&[], Some((1, &[0; 8])), &[], 0, &mut buf);
        buf[15] = 50; // claim 50 words
        assert_eq!(RtpPacket::parse(&buf), Err(RtpError::TruncatedExtension));
    }

    #[test]
    fn serial_comparisons_wrap() {
        assert!(seq_newer(0, 65535));
        assert!(!seq_newer(65535, 0));
        assert!(ts_newer(5, u32::MAX - 5));
        assert!(!ts_newer(7, 7));
        assert!(looks_like_rtcp(&[0x80, 200]));
        assert!(!looks_like_rtcp(&[0x80, 0]));
    }

    fn garbage(seed: u64, n: usize) -> Vec<Vec<u8>> {
        let mut x = seed;
        (0..n)
            .map(|_| {
                x = x
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                let len = (x >> 54) as usize;
                (0..len)
                    .map(|_| {
                        x = x
                            .wrapping_mul(6364136223846793005)
                            .wrapping_add(1442695040888963407);
                        (x >> 56) as u8
                    })
                    .collect()
            })
            .collect()
    }

    #[test]
    fn random_bytes_never_panic() {
        for mut g in garbage(1, 20_000) {
            let _ = RtpPacket::parse(&g);
            if let Some(b) = g.first_mut() {
                *b = 0x80 | (*b & 0x3F); // version 2 to reach the deeper checks
            }
            let _ = RtpPacket::parse(&g);
        }
    }
}
