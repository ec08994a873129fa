//! Leg behaviour driven without sockets: packets in, ticks, packets out.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::mpsc;

use super::{Command, Leg, LegSetup, Transmit};
use crate::media::codec::{Codec, NegotiatedMedia};
use crate::media::events::{DigitSource, MediaEvent};
use crate::media::g711;
use crate::media::goertzel::goertzel_power;
use crate::media::mixer::{Mixer, Role};
use crate::media::prompts::Prompt;
use crate::media::recwriter::RecWriter;
use crate::media::rtcp::{self, ReportBlock, RtcpPacket};
use crate::media::rtp::{RtpHeader, RtpPacket};
use crate::media::stats::MediaStats;

#[derive(Default)]
struct FakeTx {
    rtp: Vec<(SocketAddr, Vec<u8>)>,
    rtcp: Vec<(SocketAddr, Vec<u8>)>,
}

impl Transmit for FakeTx {
    fn rtp(&mut self, to: SocketAddr, data: &[u8]) -> Instant {
        self.rtp.push((to, data.to_vec()));
        Instant::now()
    }
    fn rtcp(&mut self, to: SocketAddr, data: &[u8]) {
        self.rtcp.push((to, data.to_vec()));
    }
}

impl FakeTx {
    fn take(&mut self) -> Vec<(SocketAddr, Vec<u8>)> {
        std::mem::take(&mut self.rtp)
    }
}

const PHONE: &str = "10.0.0.5:4000";

fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

struct Rig {
    leg: Leg,
    events: mpsc::Receiver<MediaEvent>,
    stats: Arc<MediaStats>,
    t0: Instant,
}

fn rig(id: u64, codec: Codec, te: Option<u8>) -> Rig {
    let stats = Arc::new(MediaStats::default());
    let (writer, _thread) = RecWriter::spawn(stats.clone()).unwrap();
    let (tx, events) = mpsc::channel(64);
    let setup = LegSetup {
        id,
        label: format!("call-{id}"),
        ssrc: 0x1000 + id as u32,
        first_seq: 100,
        ts_base: 0,
        latch_packets: 3,
        media_timeout: Duration::from_secs(2),
        hold_timeout: Duration::from_secs(4),
        rtcp_interval: Duration::from_secs(5),
        cname: "test".into(),
        hold_music: Arc::new(vec![Prompt::new("", "moh", vec![1234; 1600])]),
        inband_dtmf: false,
    };
    let mut media = NegotiatedMedia::new(addr(PHONE), codec);
    media.telephone_event_pt = te;
    let t0 = Instant::now();
    let leg = Leg::new(setup, Some(media), stats.clone(), tx, writer, t0);
    Rig {
        leg,
        events,
        stats,
        t0,
    }
}

impl Rig {
    fn at(&self, tick: u64) -> Instant {
        self.t0 + Duration::from_millis(tick * 20)
    }
    fn tick(&mut self, tick: u64, tx: &mut FakeTx) {
        let now = self.at(tick);
        self.leg.on_tick(tick, now, 0, tx);
    }
    fn feed(&mut self, tick: u64, data: &[u8], from: &str) {
        let now = self.at(tick);
        self.leg.on_rtp(data, addr(from), now, 0);
    }
    fn events(&mut self) -> Vec<MediaEvent> {
        std::iter::from_fn(|| self.events.try_recv().ok()).collect()
    }
}

fn rtp(pt: u8, seq: u16, ts: u32, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    RtpHeader {
        marker: false,
        payload_type: pt,
        sequence: seq,
        timestamp: ts,
        ssrc: 77,
    }
    .write(payload, &mut out);
    out
}

fn tone(freq: f32, n: usize) -> Vec<i16> {
    (0..n)
        .map(|i| (8000.0 * (2.0 * std::f32::consts::PI * freq * i as f32 / 8000.0).sin()) as i16)
        .collect()
}

#[test]
fn prompt_then_music_keeps_one_continuous_stream() {
    let mut r = rig(1, Codec::Pcmu, None);
    let mut tx = FakeTx::default();
    r.leg.apply(
        Command::Play {
            play_id: 9,
            prompts: vec![Prompt::new("en", "hi", vec![500; 400])],
            barge_in: false,
        },
        r.at(0),
    );
    for t in 1..=4 {
        r.tick(t, &mut tx);
    }
    r.leg.apply(
        Command::StartMusic(vec![Prompt::new("", "m", vec![-500; 160])]),
        r.at(4),
    );
    for t in 5..=6 {
        r.tick(t, &mut tx);
    }
    let sent = tx.take();
    // 3 prompt frames (400 samples), tick 4 finishes the prompt and falls through to silence.
    let parsed: Vec<_> = sent
        .iter()
        .map(|(to, d)| (*to, RtpPacket::parse(d).unwrap()))
        .collect();
    assert_eq!(parsed.len(), 5);
    assert!(parsed
        .iter()
        .all(|(to, p)| *to == addr(PHONE) && p.ssrc == 0x1001));
    let seqs: Vec<u16> = parsed.iter().map(|(_, p)| p.sequence).collect();
    assert_eq!(seqs, vec![100, 101, 102, 103, 104]);
    let ts: Vec<u32> = parsed.iter().map(|(_, p)| p.timestamp).collect();
    assert_eq!(
        ts,
        vec![160, 320, 480, 800, 960],
        "timestamps follow the clock across the gap"
    );
    let markers: Vec<bool> = parsed.iter().map(|(_, p)| p.marker).collect();
    assert_eq!(markers, vec![true, false, false, true, false]);
    assert_eq!(parsed[0].1.payload[0], g711::linear_to_ulaw(500));
    assert_eq!(parsed[3].1.payload[0], g711::linear_to_ulaw(-500));
    assert_eq!(
        r.events(),
        vec![MediaEvent::PromptFinished {
            play_id: 9,
            interrupted: false
        }]
    );
}

#[test]
fn rfc4733_digit_barges_in_once() {
    let mut r = rig(2, Codec::Pcma, Some(101));
    let mut tx = FakeTx::default();
    r.leg.apply(
        Command::Play {
            play_id: 1,
            prompts: vec![Prompt::new("en", "menu", vec![700; 80_000])],
            barge_in: true,
        },
        r.at(0),
    );
    r.tick(1, &mut tx);
    assert_eq!(tx.take().len(), 1);
    let mut seq = 10;
    for (dur, end, repeats) in [(160u16, false, 1), (320, false, 2), (800, true, 3)] {
        for _ in 0..repeats {
            let d = dur.to_be_bytes();
            r.feed(
                2,
                &rtp(101, seq, 4000, &[7, if end { 0x80 } else { 0 }, d[0], d[1]]),
                PHONE,
            );
            seq += 1;
        }
    }
    r.tick(2, &mut tx);
    assert!(tx.take().is_empty(), "prompt stopped by the key press");
    assert_eq!(
        r.events(),
        vec![
            MediaEvent::PromptFinished {
                play_id: 1,
                interrupted: true
            },
            MediaEvent::Digit {
                digit: '7',
                duration_ms: 100,
                source: DigitSource::Rfc4733
            },
        ]
    );
}

#[test]
fn bridge_relays_and_transcodes_ulaw_to_alaw() {
    let mut a = rig(3, Codec::Pcmu, None);
    let mut b = rig(4, Codec::Pcma, None);
    a.leg.apply(Command::Bridge(b.leg.shared()), a.at(0));
    b.leg.apply(Command::Bridge(a.leg.shared()), b.at(0));
    let mut tx = FakeTx::default();
    let pcm = tone(1000.0, 160 * 10);
    for (i, chunk) in pcm.chunks(160).enumerate() {
        let mut payload = Vec::new();
        g711::encode_ulaw(chunk, &mut payload);
        a.feed(i as u64, &rtp(0, i as u16, i as u32 * 160, &payload), PHONE);
        b.tick(i as u64, &mut tx);
    }
    b.tick(10, &mut tx); // one frame of cushion plays out last
    let sent = tx.take();
    assert_eq!(sent.len(), 10);
    let mut heard = Vec::new();
    for (_, d) in &sent {
        let p = RtpPacket::parse(d).unwrap();
        assert_eq!(p.payload_type, 8);
        g711::decode_alaw(p.payload, &mut heard);
    }
    let on = goertzel_power(&heard, 1000.0, 8000.0);
    let off = goertzel_power(&heard, 1300.0, 8000.0);
    assert!(on > 1000.0 * off, "1 kHz survives the transcode");
    a.leg.flush_stats();
    assert_eq!(
        a.stats
            .transcoded_packets
            .load(std::sync::atomic::Ordering::Relaxed),
        10
    );
}

#[test]
fn latches_behind_nat_and_drops_strangers_afterwards() {
    let mut a = rig(5, Codec::Pcmu, None);
    let mut b = rig(6, Codec::Pcmu, None);
    a.leg.apply(Command::Bridge(b.leg.shared()), a.at(0));
    b.leg.apply(Command::Bridge(a.leg.shared()), b.at(0));
    let nat = "203.0.113.9:61000";
    let mut tx = FakeTx::default();
    for s in 0..3u16 {
        a.feed(s as u64, &rtp(0, s, s as u32 * 160, &[0x11; 160]), nat);
    }
    a.feed(3, &rtp(0, 3, 480, &[0x22; 160]), "198.51.100.7:5004"); // RTP Bleed attempt
    a.feed(3, &rtp(0, 4, 640, &[0x22; 160]), PHONE); // even the SDP address, once locked
    assert!(a
        .events()
        .contains(&MediaEvent::Latched { addr: addr(nat) }));
    let stats = a.leg.session_stats();
    assert_eq!((stats.rtp_in, stats.foreign_source), (3, 2));
    // B hears only the latched source; A now sends to the NAT address.
    for t in 0..6 {
        b.tick(t, &mut tx);
    }
    let to_b: Vec<_> = tx
        .take()
        .iter()
        .map(|(_, d)| RtpPacket::parse(d).unwrap().payload[0])
        .collect();
    assert_eq!(to_b.len(), 3, "{to_b:?}");
    assert!(to_b.iter().all(|&x| x == 0x11), "{to_b:?}");
    a.leg.apply(
        Command::Play {
            play_id: 1,
            prompts: vec![Prompt::new("", "x", vec![0; 160])],
            barge_in: false,
        },
        a.at(6),
    );
    a.tick(7, &mut tx);
    assert_eq!(tx.take()[0].0, addr(nat));
}

#[test]
fn bad_packets_are_counted_and_harmless() {
    let mut a = rig(7, Codec::Pcmu, None);
    let mut b = rig(8, Codec::Pcmu, None);
    a.leg.apply(Command::Bridge(b.leg.shared()), a.at(0));
    b.leg.apply(Command::Bridge(a.leg.shared()), b.at(0));
    let good = rtp(0, 1, 160, &[0x33; 160]);
    a.feed(0, &good[..7], PHONE);
    a.feed(0, &rtp(96, 2, 320, &[0x44; 160]), PHONE);
    let mut bad_pad = rtp(0, 3, 480, &[1, 2, 3]);
    bad_pad[0] |= 0x20;
    *bad_pad.last_mut().unwrap() = 50;
    a.feed(0, &bad_pad, PHONE);
    a.feed(0, &good, PHONE);
    a.feed(0, &rtp(0, 4, 640, &[0x33; 160]), PHONE);
    let s = a.leg.session_stats();
    assert_eq!((s.malformed, s.wrong_payload_type, s.rtp_in), (2, 1, 2));
    let mut tx = FakeTx::default();
    for t in 1..=4 {
        b.tick(t, &mut tx);
    }
    let sent = tx.take();
    assert_eq!(sent.len(), 2, "only the good packets are relayed");
    assert!(sent
        .iter()
        .all(|(_, d)| RtpPacket::parse(d).unwrap().payload == [0x33; 160]));
}

#[test]
fn media_timeout_fires_once_and_resume_is_reported() {
    let mut r = rig(9, Codec::Pcmu, None);
    let mut tx = FakeTx::default();
    r.feed(1, &rtp(0, 1, 160, &[0xFF; 160]), PHONE);
    for t in 1..=200 {
        r.tick(t, &mut tx);
    }
    let timeouts: Vec<_> = r
        .events()
        .into_iter()
        .filter(|e| matches!(e, MediaEvent::MediaTimeout { .. }))
        .collect();
    assert_eq!(timeouts.len(), 1);
    r.feed(201, &rtp(0, 2, 320, &[0xFF; 160]), PHONE);
    assert!(r.events().contains(&MediaEvent::MediaResumed));
}

#[test]
fn hold_plays_music_and_cuts_audio_both_ways() {
    let mut a = rig(10, Codec::Pcmu, None);
    let mut b = rig(11, Codec::Pcmu, None);
    a.leg.apply(Command::Bridge(b.leg.shared()), a.at(0));
    b.leg.apply(Command::Bridge(a.leg.shared()), b.at(0));
    a.leg.apply(Command::Hold(true), a.at(0));
    let (mut ta, mut tb) = (FakeTx::default(), FakeTx::default());
    for t in 1..5u64 {
        a.feed(t, &rtp(0, t as u16, t as u32 * 160, &[0x55; 160]), PHONE);
        b.feed(t, &rtp(0, t as u16, t as u32 * 160, &[0x66; 160]), PHONE);
        a.tick(t, &mut ta);
        b.tick(t, &mut tb);
    }
    assert!(
        tb.take().is_empty(),
        "the agent hears nothing from the held caller"
    );
    let to_a = ta.take();
    assert_eq!(to_a.len(), 4);
    let music = g711::linear_to_ulaw(1234);
    assert!(to_a
        .iter()
        .all(|(_, d)| RtpPacket::parse(d).unwrap().payload[0] == music));
    a.leg.apply(Command::Hold(false), a.at(5));
    for t in 5..8u64 {
        a.feed(t, &rtp(0, t as u16, t as u32 * 160, &[0x55; 160]), PHONE);
        b.tick(t, &mut tb);
    }
    assert!(!tb.take().is_empty(), "unhold resumes");
}

#[test]
fn sends_rfc4733_or_inband_tones() {
    let mut r = rig(12, Codec::Pcmu, Some(101));
    let mut tx = FakeTx::default();
    r.leg.apply(Command::SendDtmf("5x".into()), r.at(0));
    for t in 1..=12 {
        r.tick(t, &mut tx);
    }
    let pkts: Vec<_> = tx.take().into_iter().map(|(_, d)| d).collect();
    let parsed: Vec<_> = pkts.iter().map(|d| RtpPacket::parse(d).unwrap()).collect();
    assert_eq!(
        parsed.len(),
        7,
        "5 updates + 2 more end packets; the invalid `x` is skipped"
    );
    assert!(parsed
        .iter()
        .all(|p| p.payload_type == 101 && p.timestamp == parsed[0].timestamp));
    assert_eq!(
        parsed.iter().filter(|p| p.payload[1] & 0x80 != 0).count(),
        3
    );

    let mut r = rig(13, Codec::Pcmu, None);
    r.leg.apply(Command::SendDtmf("9".into()), r.at(0));
    for t in 1..=6 {
        r.tick(t, &mut tx);
    }
    let mut pcm = Vec::new();
    for (_, d) in tx.take() {
        g711::decode_ulaw(RtpPacket::parse(&d).unwrap().payload, &mut pcm);
    }
    let mut det = crate::media::goertzel::InbandDetector::new();
    let mut found = Vec::new();
    det.feed(&pcm, &mut found);
    det.feed(&[0; 800], &mut found);
    assert_eq!(found.iter().map(|d| d.digit).collect::<String>(), "9");
}

#[test]
fn inband_detection_reports_digits() {
    let mut r = rig(14, Codec::Pcmu, None);
    r.leg.apply(Command::InbandDtmf(true), r.at(0));
    let mut audio = crate::media::goertzel::dtmf_tone('4', 100, 6000.0);
    audio.extend(vec![0; 800]);
    for (i, chunk) in audio.chunks(160).enumerate() {
        let mut payload = Vec::new();
        g711::encode_ulaw(chunk, &mut payload);
        r.feed(i as u64, &rtp(0, i as u16, i as u32 * 160, &payload), PHONE);
    }
    let digits: Vec<_> = r
        .events()
        .into_iter()
        .filter_map(|e| match e {
            MediaEvent::Digit { digit, source, .. } => Some((digit, source)),
            _ => None,
        })
        .collect();
    assert_eq!(digits, vec![('4', DigitSource::InBand)]);
}

#[test]
fn rtcp_reports_loss_and_reads_peer_reports() {
    let mut r = rig(15, Codec::Pcmu, None);
    let mut tx = FakeTx::default();
    for s in (0..100u16).filter(|s| s % 4 != 0 || *s == 0) {
        r.feed(
            s as u64 / 5,
            &rtp(0, s, s as u32 * 160, &[0xFF; 160]),
            PHONE,
        );
    }
    for t in 1..=400 {
        r.tick(t, &mut tx);
    }
    let (to, report) = tx.rtcp.first().cloned().expect("an RTCP report within 8 s");
    assert_eq!(to, addr("10.0.0.5:4001"));
    let blocks = match &rtcp::parse_compound(&report).unwrap()[0] {
        RtcpPacket::ReceiverReport { reports, .. } | RtcpPacket::SenderReport { reports, .. } => {
            reports.clone()
        }
        other => panic!("{other:?}"),
    };
    assert_eq!(blocks[0].ssrc, 77);
    assert_eq!(blocks[0].cumulative_lost, 24);
    // The peer reports about us.
    let mut rr = Vec::new();
    let about_us = ReportBlock {
        ssrc: 0x1000 + 15,
        fraction_lost: 64,
        cumulative_lost: 12,
        jitter: 80,
        ..Default::default()
    };
    rtcp::build_report(77, None, &[about_us], "phone", &mut rr);
    r.leg.on_rtcp(&rr, addr("10.0.0.5:4001"), r.at(401), 0);
    let ev = r.events().into_iter().find_map(|e| match e {
        MediaEvent::Rtcp(s) => s.remote,
        _ => None,
    });
    let remote = ev.expect("Rtcp event");
    assert_eq!(
        (
            remote.fraction_lost,
            remote.cumulative_lost,
            remote.jitter_ms
        ),
        (64, 12, 10)
    );
}

#[test]
fn conference_supervisor_listens_then_whispers() {
    let mixer = Arc::new(Mutex::new(Mixer::new()));
    let mut caller = rig(20, Codec::Pcmu, None);
    let mut agent = rig(21, Codec::Pcma, None);
    let mut sup = rig(22, Codec::Pcmu, None);
    caller.leg.apply(
        Command::JoinMixer(mixer.clone(), Role::Participant),
        caller.at(0),
    );
    agent.leg.apply(
        Command::JoinMixer(mixer.clone(), Role::Participant),
        agent.at(0),
    );
    sup.leg
        .apply(Command::JoinMixer(mixer.clone(), Role::Listen), sup.at(0));
    let run = |tick: u64, caller: &mut Rig, agent: &mut Rig, sup: &mut Rig| {
        let (mut tc, mut ta, mut ts) = (FakeTx::default(), FakeTx::default(), FakeTx::default());
        let mut p = Vec::new();
        g711::encode_ulaw(&tone(500.0, 160), &mut p);
        caller.feed(tick, &rtp(0, tick as u16, 0, &p), PHONE);
        let mut p = Vec::new();
        g711::encode_alaw(&tone(1000.0, 160), &mut p);
        agent.feed(tick, &rtp(8, tick as u16, 0, &p), PHONE);
        let mut p = Vec::new();
        g711::encode_ulaw(&tone(2000.0, 160), &mut p);
        sup.feed(tick, &rtp(0, tick as u16, 0, &p), PHONE);
        caller.tick(tick, &mut tc);
        agent.tick(tick, &mut ta);
        sup.tick(tick, &mut ts);
        let pcm = |tx: FakeTx, alaw: bool| {
            let mut out = Vec::new();
            for (_, d) in tx.rtp {
                let p = RtpPacket::parse(&d).unwrap();
                if alaw {
                    g711::decode_alaw(p.payload, &mut out)
                } else {
                    g711::decode_ulaw(p.payload, &mut out)
                }
            }
            out
        };
        (pcm(tc, false), pcm(ta, true), pcm(ts, false))
    };
    let hears = |pcm: &[i16], f: f32| goertzel_power(pcm, f, 8000.0) > 1e8;
    let (c, a, s) = run(1, &mut caller, &mut agent, &mut sup);
    assert!(
        hears(&c, 1000.0) && !hears(&c, 2000.0),
        "caller hears agent only"
    );
    assert!(
        hears(&a, 500.0) && !hears(&a, 2000.0),
        "agent does not hear the listener"
    );
    assert!(
        hears(&s, 500.0) && hears(&s, 1000.0),
        "supervisor hears both"
    );
    mixer.lock().unwrap().set_role(22, Role::Whisper { to: 21 });
    let (c, a, _) = run(2, &mut caller, &mut agent, &mut sup);
    assert!(hears(&a, 2000.0), "agent hears the whisper");
    assert!(!hears(&c, 2000.0), "caller does not");
}

fn timeouts(r: &mut Rig) -> usize {
    r.events()
        .into_iter()
        .filter(|e| matches!(e, MediaEvent::MediaTimeout { .. }))
        .count()
}

fn rtcp_rr() -> Vec<u8> {
    let mut out = Vec::new();
    rtcp::build_report(77, None, &[], "phone", &mut out);
    out
}

#[test]
fn a_listen_only_peer_is_timed_out_when_silent_but_rtcp_keeps_it_alive() {
    use crate::media::codec::Direction;
    // The caller offered a=recvonly: we only send. Before, the timeout was off.
    let mut r = rig(20, Codec::Pcmu, None);
    let mut m = NegotiatedMedia::new(addr(PHONE), Codec::Pcmu);
    m.direction = Direction::SendOnly;
    r.leg.apply(Command::SetRemote(m.clone()), r.at(0));
    let mut tx = FakeTx::default();
    for t in 1..=101 {
        r.tick(t, &mut tx);
    }
    assert_eq!(timeouts(&mut r), 1, "2 s of nothing: timed out");

    let mut r = rig(21, Codec::Pcmu, None);
    r.leg.apply(Command::SetRemote(m), r.at(0));
    for t in 1..=300u64 {
        if t % 50 == 0 {
            // RTCP on the RTCP port (RTP port + 1), once a second.
            r.leg.on_rtcp(&rtcp_rr(), addr("10.0.0.5:4001"), r.at(t), 0);
        }
        r.tick(t, &mut tx);
    }
    assert_eq!(timeouts(&mut r), 0, "RTCP is life");
}

#[test]
fn an_inactive_stream_waits_the_hold_timeout_not_forever() {
    use crate::media::codec::Direction;
    let mut r = rig(22, Codec::Pcmu, None);
    let mut m = NegotiatedMedia::new(addr(PHONE), Codec::Pcmu);
    m.direction = Direction::Inactive;
    r.leg.apply(Command::SetRemote(m), r.at(0));
    let mut tx = FakeTx::default();
    for t in 1..=150 {
        r.tick(t, &mut tx);
    }
    assert_eq!(timeouts(&mut r), 0, "3 s: within the 4 s hold timeout");
    for t in 151..=201 {
        r.tick(t, &mut tx);
    }
    assert_eq!(timeouts(&mut r), 1, "past the hold timeout");
}

#[test]
fn a_pinned_leg_sends_only_to_the_pinned_ip_and_latches_from_it() {
    let mut r = rig(23, Codec::Pcmu, None);
    let mut m = NegotiatedMedia::new(addr("10.0.0.5:4000"), Codec::Pcmu);
    m.peer_ip = Some("10.0.0.5".parse().unwrap());
    r.leg.apply(Command::SetRemote(m), r.at(0));
    r.leg.apply(
        Command::StartMusic(vec![Prompt::new("", "m", vec![100; 1600])]),
        r.at(0),
    );
    // A stranger's packet neither latches nor redirects our audio.
    r.feed(1, &rtp(0, 1, 160, &[0xFF; 160]), "192.0.2.66:7000");
    let mut tx = FakeTx::default();
    r.tick(1, &mut tx);
    assert!(tx.take().iter().all(|(to, _)| *to == addr("10.0.0.5:4000")));
    // The caller's own packet (another port, same IP: NAT) does.
    r.feed(2, &rtp(0, 2, 320, &[0xFF; 160]), "10.0.0.5:6000");
    r.tick(2, &mut tx);
    let sent = tx.take();
    assert!(!sent.is_empty());
    assert!(sent.iter().all(|(to, _)| *to == addr("10.0.0.5:6000")));
}
