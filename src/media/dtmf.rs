//! RFC 4733 telephone-events: receiving (one digit per event whatever the retransmissions and
//! the three end packets, events told apart by RTP timestamp, durations reported) and sending
//! (begin packet with marker, continuation updates every frame, the end packet three times).

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use thiserror::Error;

use super::rtp::ts_newer;

/// Problems with telephone-event input.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum DtmfError {
    /// Payload shorter than the 4-byte event.
    #[error("telephone-event payload truncated: {0} bytes, need 4")]
    Truncated(usize),
    /// Not a digit we can send.
    #[error("`{0}` is not a DTMF digit (0-9, *, #, A-D)")]
    NotADigit(char),
}

/// A digit received, once per key press.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DtmfDigit {
    /// '0'–'9', '*', '#', 'A'–'D'.
    pub digit: char,
    /// How long the key was held, from the event's duration field.
    pub duration_ms: u32,
}

/// Event code → digit.
pub fn event_to_digit(event: u8) -> Option<char> {
    match event {
        0..=9 => Some((b'0' + event) as char),
        10 => Some('*'),
        11 => Some('#'),
        12..=15 => Some((b'A' + event - 12) as char),
        _ => None,
    }
}

/// Digit → event code.
pub fn digit_to_event(digit: char) -> Option<u8> {
    match digit.to_ascii_uppercase() {
        c @ '0'..='9' => Some(c as u8 - b'0'),
        '*' => Some(10),
        '#' => Some(11),
        c @ 'A'..='D' => Some(c as u8 - b'A' + 12),
        _ => None,
    }
}

#[derive(Debug, Clone, Copy)]
struct Current {
    ts: u32,
    event: u8,
    /// Duration of earlier segments of a long event plus this segment's latest.
    base: u32,
    duration: u32,
    ended: bool,
    last_seen: Instant,
}

/// How long without packets before an event whose end packets were all lost is reported.
const END_LOST_AFTER: Duration = Duration::from_millis(500);

/// Receiving state for one stream.
#[derive(Debug)]
pub struct DtmfReceiver {
    clock_rate: u32,
    current: Option<Current>,
    ready: VecDeque<DtmfDigit>,
}

impl DtmfReceiver {
    /// New receiver at a clock rate (8000 for telephone-event/8000).
    pub fn new(clock_rate: u32) -> Self {
        DtmfReceiver {
            clock_rate: clock_rate.max(1),
            current: None,
            ready: VecDeque::new(),
        }
    }

    fn report(&mut self, cur: &Current) {
        if let Some(digit) = event_to_digit(cur.event) {
            let total = cur.base + cur.duration;
            self.ready.push_back(DtmfDigit {
                digit,
                duration_ms: (total as u64 * 1000 / self.clock_rate as u64) as u32,
            });
        }
    }

    /// Feeds one telephone-event packet (its RTP timestamp and payload). Returns true when the
    /// packet starts a new key press (for barge-in before the key is released).
    pub fn on_packet(
        &mut self,
        rtp_ts: u32,
        payload: &[u8],
        now: Instant,
    ) -> Result<bool, DtmfError> {
        let [event, flags, d0, d1] = match payload.get(..4) {
            Some(&[a, b, c, d]) => [a, b, c, d],
            _ => return Err(DtmfError::Truncated(payload.len())),
        };
        let end = flags & 0x80 != 0;
        let duration = u16::from_be_bytes([d0, d1]) as u32;
        match self.current {
            Some(mut cur) if cur.ts == rtp_ts && cur.event == event => {
                cur.last_seen = now;
                if !cur.ended {
                    cur.duration = cur.duration.max(duration);
                    if end {
                        cur.ended = true;
                        self.report(&cur);
                    }
                }
                self.current = Some(cur);
            }
            Some(cur) if ts_newer(cur.ts, rtp_ts) => {} // stale retransmission of an older event
            Some(mut cur)
                if !cur.ended
                    && cur.event == event
                    && rtp_ts == cur.ts.wrapping_add(cur.duration)
                    && cur.duration >= 0xFFFF =>
            {
                // Long event continued in a new segment (RFC 4733 §2.5.1.3).
                cur.base += cur.duration;
                cur.ts = rtp_ts;
                cur.duration = duration;
                cur.last_seen = now;
                if end {
                    cur.ended = true;
                    self.report(&cur);
                }
                self.current = Some(cur);
            }
            previous => {
                if let Some(prev) = previous.filter(|p| !p.ended) {
                    self.report(&prev); // its end packets were lost
                }
                let cur = Current {
                    ts: rtp_ts,
                    event,
                    base: 0,
                    duration,
                    ended: end,
                    last_seen: now,
                };
                if end {
                    self.report(&cur);
                }
                self.current = Some(cur);
                return Ok(event_to_digit(event).is_some());
            }
        }
        Ok(false)
    }

    /// Reports an event whose end packets never came, once the stream went quiet.
    pub fn poll(&mut self, now: Instant) {
        if let Some(mut cur) = self.current {
            if !cur.ended && now.saturating_duration_since(cur.last_seen) >= END_LOST_AFTER {
                cur.ended = true;
                self.report(&cur);
                self.current = Some(cur);
            }
        }
    }

    /// Next completed digit, in order.
    pub fn next_digit(&mut self) -> Option<DtmfDigit> {
        self.ready.pop_front()
    }
}

/// One telephone-event packet to send; all packets of an event share the RTP timestamp.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DtmfPacket {
    /// Marker bit (first packet of the event).
    pub marker: bool,
    /// The 4-byte payload.
    pub payload: [u8; 4],
    /// This is one of the end packets.
    pub end: bool,
}

/// Sends one digit: call [`DtmfSender::next_packet`] once per frame until it returns `None`.
#[derive(Debug, Clone)]
pub struct DtmfSender {
    event: u8,
    volume: u8,
    total: u32,
    step: u32,
    elapsed: u32,
    ends_sent: u8,
}

impl DtmfSender {
    /// A digit held for `duration_ms` (at least one frame, at most 8 s), frames of `ptime_ms`.
    pub fn new(
        digit: char,
        duration_ms: u32,
        clock_rate: u32,
        ptime_ms: u32,
    ) -> Result<Self, DtmfError> {
        let event = digit_to_event(digit).ok_or(DtmfError::NotADigit(digit))?;
        let step = (clock_rate * ptime_ms / 1000).max(1);
        let total = (clock_rate as u64 * duration_ms.min(8000) as u64 / 1000) as u32;
        Ok(DtmfSender {
            event,
            volume: 10,
            total: total.clamp(step, 0xFFFF),
            step,
            elapsed: 0,
            ends_sent: 0,
        })
    }

    fn payload(&self, end: bool, duration: u32) -> [u8; 4] {
        let d = (duration.min(0xFFFF) as u16).to_be_bytes();
        [
            self.event,
            ((end as u8) << 7) | (self.volume & 0x3F),
            d[0],
            d[1],
        ]
    }

    /// The packet for the next frame, or `None` when the event is complete.
    pub fn next_packet(&mut self) -> Option<DtmfPacket> {
        if self.elapsed < self.total {
            let marker = self.elapsed == 0;
            self.elapsed = (self.elapsed + self.step).min(self.total);
            let end = self.elapsed >= self.total;
            if end {
                self.ends_sent = 1;
            }
            return Some(DtmfPacket {
                marker,
                payload: self.payload(end, self.elapsed),
                end,
            });
        }
        if self.ends_sent < 3 {
            self.ends_sent += 1;
            return Some(DtmfPacket {
                marker: false,
                payload: self.payload(true, self.total),
                end: true,
            });
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pkt(event: u8, end: bool, duration: u16) -> [u8; 4] {
        let d = duration.to_be_bytes();
        [event, if end { 0x8A } else { 0x0A }, d[0], d[1]]
    }

    fn digits(rx: &mut DtmfReceiver) -> Vec<(char, u32)> {
        std::iter::from_fn(|| rx.next_digit())
            .map(|d| (d.digit, d.duration_ms))
            .collect()
    }

    #[test]
    fn one_digit_per_event_despite_three_ends_and_retransmits() {
        let t = Instant::now();
        let mut rx = DtmfReceiver::new(8000);
        for ts in [1000u32, 5000, 9000, 13000] {
            let ev = if ts < 9000 { 1 } else { 2 };
            for d in [160u16, 320, 320, 480] {
                rx.on_packet(ts, &pkt(ev, false, d), t).unwrap();
            }
            for _ in 0..3 {
                rx.on_packet(ts, &pkt(ev, true, 800), t).unwrap();
            }
        }
        // A late duplicate of the first event must not come back.
        rx.on_packet(1000, &pkt(1, true, 800), t).unwrap();
        assert_eq!(
            digits(&mut rx),
            vec![('1', 100), ('1', 100), ('2', 100), ('2', 100)]
        );
    }

    #[test]
    fn lost_end_packets_still_give_the_digit() {
        let t = Instant::now();
        let mut rx = DtmfReceiver::new(8000);
        assert!(
            rx.on_packet(0, &pkt(5, false, 160), t).unwrap(),
            "new press"
        );
        assert!(
            !rx.on_packet(0, &pkt(5, false, 480), t).unwrap(),
            "same press"
        );
        assert!(rx.next_digit().is_none());
        // Next event starts: the unfinished one is reported with what we saw.
        rx.on_packet(4000, &pkt(11, false, 160), t).unwrap();
        assert_eq!(digits(&mut rx), vec![('5', 60)]);
        // The stream goes quiet: the second is reported after the timeout.
        rx.poll(t + Duration::from_millis(100));
        assert!(rx.next_digit().is_none());
        rx.poll(t + Duration::from_millis(600));
        assert_eq!(digits(&mut rx), vec![('#', 20)]);
        rx.poll(t + Duration::from_secs(5));
        assert!(rx.next_digit().is_none());
    }

    #[test]
    fn long_event_segments_join() {
        let t = Instant::now();
        let mut rx = DtmfReceiver::new(8000);
        rx.on_packet(100, &pkt(3, false, 0xFFFF), t).unwrap();
        rx.on_packet(100 + 0xFFFF, &pkt(3, true, 8000), t).unwrap();
        let got = digits(&mut rx);
        assert_eq!(got, vec![('3', (0xFFFF + 8000) * 1000 / 8000)]);
    }

    #[test]
    fn rejects_truncated_and_ignores_non_digit_events() {
        let mut rx = DtmfReceiver::new(8000);
        let t = Instant::now();
        assert_eq!(rx.on_packet(0, &[1, 2], t), Err(DtmfError::Truncated(2)));
        rx.on_packet(0, &pkt(16, true, 800), t).unwrap(); // flash hook
        assert!(rx.next_digit().is_none());
    }

    #[test]
    fn sender_emits_begin_updates_and_three_ends() {
        let mut tx = DtmfSender::new('#', 100, 8000, 20).unwrap();
        let pkts: Vec<DtmfPacket> = std::iter::from_fn(|| tx.next_packet()).collect();
        assert_eq!(pkts.len(), 5 + 2);
        assert!(pkts[0].marker && !pkts[0].end);
        assert!(pkts[1..].iter().all(|p| !p.marker));
        assert_eq!(pkts.iter().filter(|p| p.end).count(), 3);
        assert_eq!(pkts[0].payload, [11, 0x0A, 0, 160]);
        assert_eq!(pkts[6].payload, [11, 0x8A, 3, 32]);
        assert!(DtmfSender::new('x', 100, 8000, 20).is_err());
    }

    #[test]
    fn sender_output_decodes_to_one_digit() {
        let t = Instant::now();
        let mut rx = DtmfReceiver::new(8000);
        for (i, d) in "12*".chars().enumerate() {
            let mut tx = DtmfSender::new(d, 120, 8000, 20).unwrap();
            while let Some(p) = tx.next_packet() {
                rx.on_packet(i as u32 * 4000, &p.payload, t).unwrap();
            }
        }
        assert_eq!(digits(&mut rx), vec![('1', 120), ('2', 120), ('*', 120)]);
    }

    #[test]
    fn random_events_never_panic_and_stay_bounded() {
        let mut rx = DtmfReceiver::new(8000);
        let t = Instant::now();
        let mut x = 7u64;
        for _ in 0..50_000 {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let b = x.to_be_bytes();
            let _ = rx.on_packet((x >> 40) as u32 & 0xFFFF, &b[..(b[7] % 6) as usize], t);
            while rx.next_digit().is_some() {}
        }
    }
}
