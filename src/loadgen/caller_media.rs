//! The media side of simulated IVR callers (sans-IO): every answered call sends a 20 ms PCMU
//! silence frame to the RTP address of the server's answer, and from `first_digit` after the
//! answer presses one key every `digit_every` as RFC 4733 telephone-events (the media engine's
//! [`DtmfSender`]: a 60 ms press, one packet per frame, the end packet three times), walking the
//! keys of `digits` in turn.
//! Packets from the server are counted per call. Calls are spread over the 20 ms frame in 20
//! phase groups so the sends are even, not a burst. It is fed the time and appends
//! `(destination, datagram)` pairs; it owns no socket and reads no clock.

use crate::media::dtmf::DtmfSender;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// Frame length and its RTP timestamp step at 8 kHz.
const FRAME_MS: u64 = 20;
const FRAME_TS: u32 = 160;
/// How long a key is held.
const PRESS_MS: u32 = 60;
/// Payload types: PCMU and the telephone-event type of our offer.
const PT_PCMU: u8 = 0;
const PT_EVENT: u8 = 101;
const SILENCE: u8 = 0xFF;

/// When and what each caller presses.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DigitPlan {
    /// Keys pressed in turn ('0'–'9', '*', '#').
    pub digits: String,
    /// From the answer to the first key.
    pub first_digit: Duration,
    /// Between keys.
    pub digit_every: Duration,
}

/// Media for the calls of one socket: the local RTP port put in the offers, and the keys.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MediaConfig {
    pub rtp_port: u16,
    pub digits: Option<DigitPlan>,
}

/// What the callers' media did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct MediaCounts {
    pub rtp_sent: u64,
    pub rtp_received: u64,
    /// Key presses sent complete, end packets included (each one RFC 4733 event).
    pub digits_sent: u64,
    /// Calls that ended without having received a single packet from the server.
    pub calls_without_audio: u64,
    /// Calls that had media.
    pub calls: u64,
}

impl MediaCounts {
    /// Adds another socket's counts.
    pub fn merge(&mut self, o: &MediaCounts) {
        self.rtp_sent += o.rtp_sent;
        self.rtp_received += o.rtp_received;
        self.digits_sent += o.digits_sent;
        self.calls_without_audio += o.calls_without_audio;
        self.calls += o.calls;
    }
}

struct Caller {
    remote: SocketAddr,
    ssrc: u32,
    seq: u16,
    ts: u32,
    /// Frame number (since the engine's epoch) of the next key press.
    next_digit_frame: u64,
    digit_index: usize,
    /// A key being sent, with the RTP timestamp its packets share.
    pressing: Option<(DtmfSender, u32)>,
    received: u64,
}

/// Every answered call of one load-generator socket.
pub struct CallerMedia {
    plan: Option<DigitPlan>,
    epoch: Instant,
    /// The last millisecond whose phase group was served.
    served_ms: u64,
    callers: HashMap<u64, Caller>,
    /// Call serials by phase (serial % 20): the group served in each millisecond of a frame.
    groups: Vec<Vec<u64>>,
    by_remote: HashMap<SocketAddr, u64>,
    counts: MediaCounts,
}

impl CallerMedia {
    pub fn new(plan: Option<DigitPlan>, now: Instant) -> CallerMedia {
        CallerMedia {
            plan,
            epoch: now,
            served_ms: 0,
            callers: HashMap::new(),
            groups: vec![Vec::new(); FRAME_MS as usize],
            by_remote: HashMap::new(),
            counts: MediaCounts::default(),
        }
    }

    fn ms(&self, now: Instant) -> u64 {
        now.saturating_duration_since(self.epoch).as_millis() as u64
    }

    /// Call `serial` was answered with media at `remote`: start sending.
    pub fn start(&mut self, serial: u64, remote: SocketAddr, now: Instant) {
        let frame = self.ms(now) / FRAME_MS;
        let first = self.plan.as_ref().map_or(u64::MAX, |p| {
            frame + (p.first_digit.as_millis() as u64).div_ceil(FRAME_MS)
        });
        let caller = Caller {
            remote,
            ssrc: (serial as u32).wrapping_mul(2_654_435_761) | 1,
            seq: (serial as u16).wrapping_mul(7919),
            ts: (serial as u32).wrapping_mul(40_503),
            next_digit_frame: first,
            digit_index: 0,
            pressing: None,
            received: 0,
        };
        if let Some(old) = self.callers.insert(serial, caller) {
            self.by_remote.remove(&old.remote);
        } else if let Some(g) = self.groups.get_mut((serial % FRAME_MS) as usize) {
            g.push(serial);
        }
        self.by_remote.insert(remote, serial);
        self.counts.calls += 1;
    }

    /// Call `serial` ended (BYE sent or received): stop sending.
    pub fn stop(&mut self, serial: u64) {
        let Some(c) = self.callers.remove(&serial) else {
            return;
        };
        self.by_remote.remove(&c.remote);
        if c.received == 0 {
            self.counts.calls_without_audio += 1;
        }
        if let Some(g) = self.groups.get_mut((serial % FRAME_MS) as usize) {
            g.retain(|&s| s != serial);
        }
    }

    /// A datagram from the server's RTP port `from`.
    pub fn on_packet(&mut self, from: SocketAddr) {
        if let Some(c) = self
            .by_remote
            .get(&from)
            .and_then(|s| self.callers.get_mut(s))
        {
            c.received += 1;
            self.counts.rtp_received += 1;
        }
    }

    /// Sends every frame due up to `now`: each millisecond serves its phase group.
    pub fn tick(&mut self, now: Instant, out: &mut Vec<(SocketAddr, Vec<u8>)>) {
        let now_ms = self.ms(now);
        // After a long stall, skip rather than burst: at most one frame's worth of groups.
        let from = self.served_ms.max(now_ms.saturating_sub(FRAME_MS - 1));
        for ms in from..=now_ms {
            let frame = ms / FRAME_MS;
            let group = std::mem::take(&mut self.groups[(ms % FRAME_MS) as usize]);
            for &serial in &group {
                self.frame(serial, frame, out);
            }
            self.groups[(ms % FRAME_MS) as usize] = group;
        }
        self.served_ms = now_ms + 1;
    }

    fn frame(&mut self, serial: u64, frame: u64, out: &mut Vec<(SocketAddr, Vec<u8>)>) {
        let plan = self.plan.as_ref();
        let Some(c) = self.callers.get_mut(&serial) else {
            return;
        };
        if c.pressing.is_none() && frame >= c.next_digit_frame {
            let press = plan.and_then(|p| {
                let key = p
                    .digits
                    .chars()
                    .nth(c.digit_index % p.digits.chars().count().max(1))?;
                let sender = DtmfSender::new(key, PRESS_MS, 8000, FRAME_MS as u32).ok()?;
                Some((sender, p.digit_every))
            });
            match press {
                Some((sender, every)) => {
                    c.pressing = Some((sender, c.ts));
                    c.digit_index += 1;
                    c.next_digit_frame = frame + (every.as_millis() as u64 / FRAME_MS).max(1);
                }
                None => c.next_digit_frame = u64::MAX,
            }
        }
        let event = c
            .pressing
            .as_mut()
            .map(|(sender, start_ts)| (sender.next_packet(), *start_ts));
        match event {
            Some((Some(pkt), start_ts)) => {
                out.push((
                    c.remote,
                    rtp(c, PT_EVENT, pkt.marker, start_ts, &pkt.payload),
                ));
                self.counts.rtp_sent += 1;
                if pkt.end {
                    // The end packet goes three times; the sender yields them one per frame.
                    while let Some(Some(more)) = c.pressing.as_mut().map(|(s, _)| s.next_packet()) {
                        out.push((c.remote, rtp(c, PT_EVENT, false, start_ts, &more.payload)));
                        self.counts.rtp_sent += 1;
                    }
                    c.pressing = None;
                    // Counted once complete: a press cut short by the hang-up is not a key.
                    self.counts.digits_sent += 1;
                }
            }
            _ => {
                c.pressing = None;
                out.push((
                    c.remote,
                    rtp(c, PT_PCMU, false, c.ts, &[SILENCE; FRAME_TS as usize]),
                ));
                self.counts.rtp_sent += 1;
            }
        }
        c.ts = c.ts.wrapping_add(FRAME_TS);
    }

    /// The counts so far (calls still running count as having had audio if they had any).
    pub fn counts(&self) -> MediaCounts {
        let mut c = self.counts;
        c.calls_without_audio += self.callers.values().filter(|c| c.received == 0).count() as u64;
        c
    }

    /// Calls sending now.
    pub fn active(&self) -> usize {
        self.callers.len()
    }
}

/// One RTP packet for caller `c` (advancing its sequence number).
fn rtp(c: &mut Caller, pt: u8, marker: bool, ts: u32, payload: &[u8]) -> Vec<u8> {
    let mut p = Vec::with_capacity(12 + payload.len());
    p.push(0x80);
    p.push(pt | if marker { 0x80 } else { 0 });
    p.extend_from_slice(&c.seq.to_be_bytes());
    p.extend_from_slice(&ts.to_be_bytes());
    p.extend_from_slice(&c.ssrc.to_be_bytes());
    p.extend_from_slice(payload);
    c.seq = c.seq.wrapping_add(1);
    p
}

/// The audio address of an SDP answer: `c=` connection address and the `m=audio` port.
pub fn sdp_audio_addr(body: &[u8]) -> Option<SocketAddr> {
    let text = std::str::from_utf8(body).ok()?;
    let mut ip = None;
    let mut port = None;
    for line in text.lines() {
        let line = line.trim_end();
        if let Some(c) = line.strip_prefix("c=IN ") {
            ip = c
                .split_whitespace()
                .nth(1)
                .and_then(|a| a.parse().ok())
                .or(ip);
        } else if let Some(m) = line.strip_prefix("m=audio ") {
            port = m
                .split_whitespace()
                .next()
                .and_then(|p| p.parse::<u16>().ok());
        }
    }
    Some(SocketAddr::new(ip?, port.filter(|&p| p != 0)?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::media::dtmf;

    fn plan() -> DigitPlan {
        DigitPlan {
            digits: "31".into(),
            first_digit: Duration::from_millis(100),
            digit_every: Duration::from_millis(200),
        }
    }

    /// Runs `ms` milliseconds, one tick per millisecond; returns what was sent.
    fn run(m: &mut CallerMedia, t0: Instant, from_ms: u64, ms: u64) -> Vec<(SocketAddr, Vec<u8>)> {
        let mut out = Vec::new();
        for i in from_ms..from_ms + ms {
            m.tick(t0 + Duration::from_millis(i), &mut out);
        }
        out
    }

    #[test]
    fn each_call_sends_a_frame_every_20_ms_then_presses_its_keys_as_rfc4733_events() {
        let t0 = Instant::now();
        let mut m = CallerMedia::new(Some(plan()), t0);
        let server: SocketAddr = "127.0.0.1:40000".parse().unwrap();
        m.start(7, server, t0);
        let out = run(&mut m, t0, 0, 100);
        assert_eq!(out.len(), 5, "five 20 ms frames in 100 ms");
        assert!(out
            .iter()
            .all(|(to, p)| *to == server && p[1] == PT_PCMU && p.len() == 172));
        let seqs: Vec<u16> = out
            .iter()
            .map(|(_, p)| u16::from_be_bytes([p[2], p[3]]))
            .collect();
        assert!(
            seqs.windows(2).all(|w| w[1] == w[0].wrapping_add(1)),
            "{seqs:?}"
        );
        let out = run(&mut m, t0, 100, 400);
        let events: Vec<&Vec<u8>> = out
            .iter()
            .map(|(_, p)| p)
            .filter(|p| p[1] & 0x7F == PT_EVENT)
            .collect();
        // Two presses: 2 held packets + the end packet three times each.
        assert_eq!(events.len(), 10);
        assert_eq!(
            events[0][1] & 0x80,
            0x80,
            "marker on the first packet of a press"
        );
        assert_eq!(
            (events[0][12], events[5][12]),
            (3, 1),
            "keys in turn: 3 then 1"
        );
        assert!(
            events[2..5].iter().all(|p| p[13] & 0x80 == 0x80),
            "end bit on the last three"
        );
        assert_eq!(m.counts().digits_sent, 2);
    }

    #[test]
    fn the_server_media_engine_hears_each_press_once() {
        let t0 = Instant::now();
        let mut m = CallerMedia::new(Some(plan()), t0);
        m.start(1, "127.0.0.1:40000".parse().unwrap(), t0);
        let out = run(&mut m, t0, 0, 1000);
        let mut rx = dtmf::DtmfReceiver::new(8000);
        let mut heard = String::new();
        for (_, p) in &out {
            if p[1] & 0x7F == PT_EVENT {
                let ts = u32::from_be_bytes([p[4], p[5], p[6], p[7]]);
                rx.on_packet(ts, &p[12..], t0).unwrap();
                while let Some(d) = rx.next_digit() {
                    heard.push(d.digit);
                }
            }
        }
        assert_eq!(heard, "31313", "{} presses sent", m.counts().digits_sent);
    }

    #[test]
    fn calls_are_spread_over_the_frame_and_counted_when_they_stop() {
        let t0 = Instant::now();
        let mut m = CallerMedia::new(None, t0);
        for s in 0..40 {
            m.start(s, SocketAddr::from(([127, 0, 0, 1], 40_000 + s as u16)), t0);
        }
        let mut out = Vec::new();
        m.tick(t0, &mut out);
        assert_eq!(
            out.len(),
            2,
            "one phase group of 40 calls in one millisecond"
        );
        m.on_packet(SocketAddr::from(([127, 0, 0, 1], 40_000)));
        m.stop(0);
        m.stop(1);
        let c = m.counts();
        assert_eq!(
            (c.calls, c.rtp_received, c.calls_without_audio),
            (40, 1, 39)
        );
        assert_eq!(m.active(), 38);
    }

    #[test]
    fn the_answer_sdp_gives_the_audio_address() {
        let sdp = b"v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 30002 RTP/AVP 0 101\r\n";
        assert_eq!(
            sdp_audio_addr(sdp),
            Some("127.0.0.1:30002".parse().unwrap())
        );
        assert_eq!(
            sdp_audio_addr(b"v=0\r\nm=audio 0 RTP/AVP 0\r\nc=IN IP4 1.2.3.4\r\n"),
            None
        );
    }
}
