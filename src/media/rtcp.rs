//! RTCP (RFC 3550 §6): building compound SR/RR + SDES CNAME packets, parsing compound packets
//! (SR, RR, SDES, BYE; others skipped), report blocks, and round-trip time from LSR/DLSR.

use std::time::Duration;

use thiserror::Error;

const PT_SR: u8 = 200;
const PT_RR: u8 = 201;
const PT_SDES: u8 = 202;
const PT_BYE: u8 = 203;

/// Why a datagram is not acceptable RTCP.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum RtcpError {
    /// Shorter than a header, or a length field runs past the end.
    #[error("RTCP packet truncated at byte {0}")]
    Truncated(usize),
    /// Version is not 2.
    #[error("RTCP version {0}, expected 2")]
    BadVersion(u8),
    /// The first packet of a compound must be SR or RR.
    #[error("RTCP compound starts with packet type {0}, expected SR or RR")]
    NotReport(u8),
}

/// One reception report block.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ReportBlock {
    /// Source the report is about.
    pub ssrc: u32,
    /// Fraction lost since the last report, in 1/256.
    pub fraction_lost: u8,
    /// Cumulative packets lost (24-bit signed).
    pub cumulative_lost: i32,
    /// Extended highest sequence number received.
    pub extended_max_seq: u32,
    /// Interarrival jitter (timestamp units).
    pub jitter: u32,
    /// Middle 32 bits of the NTP timestamp of the last SR received from that source.
    pub lsr: u32,
    /// Delay since that SR, in 1/65536 s.
    pub dlsr: u32,
}

/// Sender information of an SR.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SenderInfo {
    /// 64-bit NTP timestamp.
    pub ntp: u64,
    /// RTP timestamp matching `ntp`.
    pub rtp_ts: u32,
    /// Packets sent.
    pub packet_count: u32,
    /// Payload octets sent.
    pub octet_count: u32,
}

/// One packet of a compound.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RtcpPacket {
    /// Sender report.
    SenderReport {
        /// Sender SSRC.
        ssrc: u32,
        /// Sender info.
        info: SenderInfo,
        /// Report blocks.
        reports: Vec<ReportBlock>,
    },
    /// Receiver report.
    ReceiverReport {
        /// Reporter SSRC.
        ssrc: u32,
        /// Report blocks.
        reports: Vec<ReportBlock>,
    },
    /// Source description; only CNAME items are kept.
    Sdes(Vec<(u32, String)>),
    /// Goodbye.
    Bye(Vec<u32>),
    /// Anything else (APP, feedback …), skipped.
    Other(u8),
}

fn be32(b: &[u8], at: usize) -> Result<u32, RtcpError> {
    b.get(at..at + 4)
        .map(|s| u32::from_be_bytes([s[0], s[1], s[2], s[3]]))
        .ok_or(RtcpError::Truncated(at))
}

fn parse_block(b: &[u8], at: usize) -> Result<ReportBlock, RtcpError> {
    let lost_word = be32(b, at + 4)?;
    // Sign-extend the 24-bit cumulative loss.
    let cumulative_lost = ((lost_word << 8) as i32) >> 8;
    Ok(ReportBlock {
        ssrc: be32(b, at)?,
        fraction_lost: (lost_word >> 24) as u8,
        cumulative_lost,
        extended_max_seq: be32(b, at + 8)?,
        jitter: be32(b, at + 12)?,
        lsr: be32(b, at + 16)?,
        dlsr: be32(b, at + 20)?,
    })
}

fn parse_blocks(b: &[u8], at: usize, count: usize) -> Result<Vec<ReportBlock>, RtcpError> {
    (0..count).map(|i| parse_block(b, at + i * 24)).collect()
}

fn parse_sdes(body: &[u8], count: usize) -> Vec<(u32, String)> {
    let mut out = Vec::new();
    let mut at = 0;
    for _ in 0..count {
        let Ok(ssrc) = be32(body, at) else { break };
        at += 4;
        loop {
            let Some(&kind) = body.get(at) else {
                return out;
            };
            if kind == 0 {
                at = (at + 4) & !3; // end of chunk: skip to the next 32-bit boundary
                break;
            }
            let Some(&len) = body.get(at + 1) else {
                return out;
            };
            let Some(text) = body.get(at + 2..at + 2 + len as usize) else {
                return out;
            };
            if kind == 1 {
                out.push((ssrc, String::from_utf8_lossy(text).into_owned()));
            }
            at += 2 + len as usize;
        }
    }
    out
}

/// Parses a compound RTCP datagram.
pub fn parse_compound(data: &[u8]) -> Result<Vec<RtcpPacket>, RtcpError> {
    let mut out = Vec::new();
    let mut at = 0;
    while at < data.len() {
        let head = data.get(at..at + 4).ok_or(RtcpError::Truncated(at))?;
        let version = head[0] >> 6;
        if version != 2 {
            return Err(RtcpError::BadVersion(version));
        }
        let count = (head[0] & 0x1F) as usize;
        let pt = head[1];
        if out.is_empty() && pt != PT_SR && pt != PT_RR {
            return Err(RtcpError::NotReport(pt));
        }
        let len = (u16::from_be_bytes([head[2], head[3]]) as usize + 1) * 4;
        let pkt = data.get(at..at + len).ok_or(RtcpError::Truncated(at))?;
        let packet = match pt {
            PT_SR => {
                let ssrc = be32(pkt, 4)?;
                let ntp = ((be32(pkt, 8)? as u64) << 32) | be32(pkt, 12)? as u64;
                let info = SenderInfo {
                    ntp,
                    rtp_ts: be32(pkt, 16)?,
                    packet_count: be32(pkt, 20)?,
                    octet_count: be32(pkt, 24)?,
                };
                let reports = parse_blocks(pkt, 28, count)?;
                RtcpPacket::SenderReport {
                    ssrc,
                    info,
                    reports,
                }
            }
            PT_RR => RtcpPacket::ReceiverReport {
                ssrc: be32(pkt, 4)?,
                reports: parse_blocks(pkt, 8, count)?,
            },
            PT_SDES => RtcpPacket::Sdes(parse_sdes(&pkt[4..], count)),
            PT_BYE => RtcpPacket::Bye(
                (0..count)
                    .filter_map(|i| be32(pkt, 4 + i * 4).ok())
                    .collect(),
            ),
            other => RtcpPacket::Other(other),
        };
        out.push(packet);
        at += len;
    }
    if out.is_empty() {
        return Err(RtcpError::Truncated(0));
    }
    Ok(out)
}

fn write_block(b: &ReportBlock, out: &mut Vec<u8>) {
    out.extend_from_slice(&b.ssrc.to_be_bytes());
    let lost = (b.cumulative_lost.clamp(-0x80_0000, 0x7F_FFFF) as u32) & 0x00FF_FFFF;
    out.extend_from_slice(&(((b.fraction_lost as u32) << 24) | lost).to_be_bytes());
    out.extend_from_slice(&b.extended_max_seq.to_be_bytes());
    out.extend_from_slice(&b.jitter.to_be_bytes());
    out.extend_from_slice(&b.lsr.to_be_bytes());
    out.extend_from_slice(&b.dlsr.to_be_bytes());
}

/// Appends a compound report: SR when `sender` is given, else RR (at most 31 blocks), then an
/// SDES packet carrying `cname` (truncated to 255 bytes).
pub fn build_report(
    ssrc: u32,
    sender: Option<&SenderInfo>,
    blocks: &[ReportBlock],
    cname: &str,
    out: &mut Vec<u8>,
) {
    let blocks = &blocks[..blocks.len().min(31)];
    let start = out.len();
    let pt = if sender.is_some() { PT_SR } else { PT_RR };
    out.extend_from_slice(&[0x80 | blocks.len() as u8, pt, 0, 0]);
    out.extend_from_slice(&ssrc.to_be_bytes());
    if let Some(info) = sender {
        out.extend_from_slice(&info.ntp.to_be_bytes());
        out.extend_from_slice(&info.rtp_ts.to_be_bytes());
        out.extend_from_slice(&info.packet_count.to_be_bytes());
        out.extend_from_slice(&info.octet_count.to_be_bytes());
    }
    for b in blocks {
        write_block(b, out);
    }
    set_length(out, start);

    let start = out.len();
    out.extend_from_slice(&[0x81, PT_SDES, 0, 0]);
    out.extend_from_slice(&ssrc.to_be_bytes());
    let name = &cname.as_bytes()[..cname.len().min(255)];
    out.push(1);
    out.push(name.len() as u8);
    out.extend_from_slice(name);
    out.push(0);
    while !(out.len() - start).is_multiple_of(4) {
        out.push(0);
    }
    set_length(out, start);
}

fn set_length(out: &mut [u8], start: usize) {
    let words = ((out.len() - start) / 4 - 1) as u16;
    out[start + 2..start + 4].copy_from_slice(&words.to_be_bytes());
}

/// NTP timestamp (seconds since 1900 in the high word) from time since the Unix epoch.
pub fn ntp_from_unix(since_epoch: Duration) -> u64 {
    let secs = since_epoch.as_secs() + 2_208_988_800;
    let frac = ((since_epoch.subsec_nanos() as u64) << 32) / 1_000_000_000;
    (secs << 32) | frac
}

/// The middle 32 bits of an NTP timestamp, as carried in LSR.
pub fn ntp_middle(ntp: u64) -> u32 {
    (ntp >> 16) as u32
}

/// Delay in 1/65536 s units, as carried in DLSR.
pub fn to_dlsr(d: Duration) -> u32 {
    ((d.as_micros() as u64 * 65536) / 1_000_000).min(u32::MAX as u64) as u32
}

/// Round-trip time from a report block received at `now_ntp` (RFC 3550 §6.4.1).
pub fn round_trip(now_ntp: u64, block: &ReportBlock) -> Option<Duration> {
    if block.lsr == 0 {
        return None;
    }
    let rtt = ntp_middle(now_ntp)
        .checked_sub(block.lsr)?
        .checked_sub(block.dlsr)?;
    Some(Duration::from_micros(rtt as u64 * 1_000_000 / 65536))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn block() -> ReportBlock {
        ReportBlock {
            ssrc: 0xABCD,
            fraction_lost: 25,
            cumulative_lost: -3,
            extended_max_seq: 70000,
            jitter: 12,
            lsr: 0x1234_5678,
            dlsr: 65536,
        }
    }

    #[test]
    fn sender_report_round_trip_with_cname() {
        let info = SenderInfo {
            ntp: 0x0102_0304_0506_0708,
            rtp_ts: 160,
            packet_count: 50,
            octet_count: 8000,
        };
        let mut buf = Vec::new();
        build_report(7, Some(&info), &[block()], "helpline@media", &mut buf);
        assert_eq!(buf.len() % 4, 0);
        let parsed = parse_compound(&buf).unwrap();
        assert_eq!(
            parsed[0],
            RtcpPacket::SenderReport {
                ssrc: 7,
                info,
                reports: vec![block()]
            }
        );
        assert_eq!(
            parsed[1],
            RtcpPacket::Sdes(vec![(7, "helpline@media".into())])
        );
    }

    #[test]
    fn receiver_report_round_trip() {
        let mut buf = Vec::new();
        build_report(9, None, &[block(), block()], "x", &mut buf);
        match &parse_compound(&buf).unwrap()[0] {
            RtcpPacket::ReceiverReport { ssrc, reports } => {
                assert_eq!(*ssrc, 9);
                assert_eq!(reports.len(), 2);
                assert_eq!(reports[1].cumulative_lost, -3);
                assert_eq!(reports[1].fraction_lost, 25);
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn refuses_truncated_and_wrong_first_packet() {
        let mut buf = Vec::new();
        build_report(9, None, &[block()], "x", &mut buf);
        assert!(matches!(
            parse_compound(&buf[..20]),
            Err(RtcpError::Truncated(_))
        ));
        assert!(parse_compound(&[0x80, 201]).is_err());
        assert_eq!(
            parse_compound(&[0x81, 203, 0, 1, 0, 0, 0, 1]),
            Err(RtcpError::NotReport(203))
        );
        let mut bad = buf.clone();
        bad[0] = 0x41;
        assert_eq!(parse_compound(&bad), Err(RtcpError::BadVersion(1)));
    }

    #[test]
    fn rtt_from_lsr_and_dlsr() {
        let sent = ntp_from_unix(Duration::from_secs(1_000));
        let now = ntp_from_unix(Duration::from_millis(1_000_150));
        let b = ReportBlock {
            lsr: ntp_middle(sent),
            dlsr: to_dlsr(Duration::from_millis(100)),
            ..ReportBlock::default()
        };
        let rtt = round_trip(now, &b).unwrap();
        assert!((49..=51).contains(&rtt.as_millis()), "{rtt:?}");
        assert_eq!(round_trip(now, &ReportBlock::default()), None);
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
        for mut g in garbage(2, 20_000) {
            if g.len() > 1 {
                g[0] = 0x80 | (g[0] & 0x3F);
                g[1] = 200 + g[1] % 4;
            }
            let _ = parse_compound(&g);
        }
    }
}
