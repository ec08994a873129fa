//! End-to-end over loopback UDP: real sockets, real worker threads, test "phones" made of plain
//! UDP sockets sending and receiving RTP.

use std::net::{SocketAddr, UdpSocket};
use std::path::PathBuf;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use helpline::media::goertzel::goertzel_power;
use helpline::media::rtp::{RtpHeader, RtpPacket};
use helpline::media::{
    Codec, EngineConfig, MediaEngine, MediaEvent, MediaSession, NegotiatedMedia, RecordingMode,
    SessionOptions,
};
use tokio::sync::mpsc::Receiver;

fn engine(port_min: u16, timeout_ms: u64, hold: Option<Vec<i16>>) -> MediaEngine {
    MediaEngine::start(EngineConfig {
        bind_ip: "127.0.0.1".parse().unwrap(),
        port_min,
        port_max: port_min + 40,
        workers: 2,
        media_timeout: Duration::from_millis(timeout_ms),
        hold_music: hold
            .map(|s| vec![helpline::media::Prompt::new("", "hold", s)])
            .unwrap_or_default(),
        ..EngineConfig::default()
    })
    .unwrap()
}

struct Phone {
    sock: Arc<UdpSocket>,
    /// Packets sent so far, so sequence numbers and timestamps continue across bursts.
    sent: Arc<std::sync::atomic::AtomicU64>,
}

impl Phone {
    fn new() -> Phone {
        let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
        sock.set_read_timeout(Some(Duration::from_millis(50)))
            .unwrap();
        Phone {
            sock: Arc::new(sock),
            sent: Arc::default(),
        }
    }

    fn addr(&self) -> SocketAddr {
        self.sock.local_addr().unwrap()
    }

    /// Sends `ms` of a sine as `codec` RTP every 20 ms from a thread.
    fn send_tone(&self, to: SocketAddr, codec: Codec, freq: f32, ms: u64) -> JoinHandle<()> {
        let sock = self.sock.clone();
        let base = self
            .sent
            .fetch_add(ms / 20, std::sync::atomic::Ordering::Relaxed);
        std::thread::spawn(move || {
            let start = Instant::now();
            for i in 0..ms / 20 {
                let n = base + i;
                let pcm: Vec<i16> = (0..160)
                    .map(|k| {
                        let n = (i * 160 + k) as f32;
                        (8000.0 * (2.0 * std::f32::consts::PI * freq * n / 8000.0).sin()) as i16
                    })
                    .collect();
                let mut payload = Vec::new();
                codec.encode(&pcm, &mut payload);
                let mut pkt = Vec::new();
                RtpHeader {
                    marker: i == 0,
                    payload_type: codec.static_payload_type(),
                    sequence: n as u16,
                    timestamp: n as u32 * 160,
                    ssrc: 0xCAFE,
                }
                .write(&payload, &mut pkt);
                let _ = sock.send_to(&pkt, to);
                let next = start + Duration::from_millis((i + 1) * 20);
                std::thread::sleep(next.saturating_duration_since(Instant::now()));
            }
        })
    }

    /// Receives for `dur` from a thread; returns the packets with arrival times.
    fn collect(&self, dur: Duration) -> JoinHandle<Vec<(Instant, Vec<u8>)>> {
        let sock = self.sock.clone();
        std::thread::spawn(move || {
            let end = Instant::now() + dur;
            let mut out = Vec::new();
            let mut buf = [0u8; 1500];
            while Instant::now() < end {
                if let Ok((n, _)) = sock.recv_from(&mut buf) {
                    out.push((Instant::now(), buf[..n].to_vec()));
                }
            }
            out
        })
    }
}

fn decode(pkts: &[(Instant, Vec<u8>)], codec: Codec, pt: u8) -> Vec<i16> {
    let mut pcm = Vec::new();
    for (_, d) in pkts {
        let p = RtpPacket::parse(d).unwrap();
        assert_eq!(p.payload_type, pt);
        codec.decode(p.payload, &mut pcm);
    }
    pcm
}

fn level(pcm: &[i16], f: f32) -> f32 {
    goertzel_power(pcm, f, 8000.0) / pcm.len().max(1) as f32
}

fn open(e: &MediaEngine, phone: &Phone, codec: Codec) -> (MediaSession, Receiver<MediaEvent>) {
    let media = NegotiatedMedia::new(phone.addr(), codec).with_telephone_event(101);
    e.open(SessionOptions {
        label: "test".into(),
        media: Some(media),
        ..SessionOptions::default()
    })
    .unwrap()
}

async fn next_event(
    rx: &mut Receiver<MediaEvent>,
    within: Duration,
    want: impl Fn(&MediaEvent) -> bool,
) -> Option<MediaEvent> {
    let end = tokio::time::Instant::now() + within;
    loop {
        match tokio::time::timeout_at(end, rx.recv()).await {
            Ok(Some(ev)) if want(&ev) => return Some(ev),
            Ok(Some(_)) => continue,
            _ => return None,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bridged_pcmu_tone_arrives_as_pcma_and_hold_stops_it() {
    let e = engine(42000, 30_000, Some(vec![3000; 800]));
    let (pa, pb) = (Phone::new(), Phone::new());
    let (a, _ea) = open(&e, &pa, Codec::Pcmu);
    let (b, _eb) = open(&e, &pb, Codec::Pcma);
    a.bridge(&b);
    tokio::time::sleep(Duration::from_millis(60)).await;

    let rx = pb.collect(Duration::from_millis(1200));
    pa.send_tone(a.local_addr(), Codec::Pcmu, 1000.0, 1000)
        .join()
        .unwrap();
    let got = rx.join().unwrap();
    assert!(got.len() >= 45, "B received {} packets of 50", got.len());
    let heads: Vec<RtpPacket> = got
        .iter()
        .map(|(_, d)| RtpPacket::parse(d).unwrap())
        .collect();
    assert!(heads
        .windows(2)
        .all(|w| w[1].sequence == w[0].sequence.wrapping_add(1)));
    assert!(heads.windows(2).all(|w| w[1].ssrc == w[0].ssrc));
    let pcm = decode(&got, Codec::Pcma, 8);
    let (on, off) = (level(&pcm, 1000.0), level(&pcm, 1500.0));
    assert!(
        on > 1000.0 * off,
        "1 kHz dominant after transcoding: {on} vs {off}"
    );

    // Hold the caller: the agent hears nothing, the caller hears hold music.
    a.set_hold(true);
    tokio::time::sleep(Duration::from_millis(60)).await;
    let rx_b = pb.collect(Duration::from_millis(500));
    let rx_a = pa.collect(Duration::from_millis(500));
    pa.send_tone(a.local_addr(), Codec::Pcmu, 1000.0, 400)
        .join()
        .unwrap();
    assert!(
        rx_b.join().unwrap().is_empty(),
        "hold stops the caller's audio"
    );
    let moh = decode(&rx_a.join().unwrap(), Codec::Pcmu, 0);
    assert!(
        moh.len() > 8 * 300 && moh.iter().all(|&s| (s - 3000).abs() < 200),
        "caller hears hold music"
    );

    a.set_hold(false);
    tokio::time::sleep(Duration::from_millis(60)).await;
    let rx = pb.collect(Duration::from_millis(500));
    pa.send_tone(a.local_addr(), Codec::Pcmu, 1000.0, 400)
        .join()
        .unwrap();
    let pcm = decode(&rx.join().unwrap(), Codec::Pcma, 8);
    assert!(
        pcm.len() > 8 * 300 && level(&pcm, 1000.0) > 1e6,
        "unhold resumes"
    );
}

fn event_packet(seq: u16, ts: u32, digit: u8, end: bool, dur: u16) -> Vec<u8> {
    let mut pkt = Vec::new();
    let d = dur.to_be_bytes();
    RtpHeader {
        marker: dur == 160 && !end,
        payload_type: 101,
        sequence: seq,
        timestamp: ts,
        ssrc: 0xBEEF,
    }
    .write(
        &[digit, if end { 0x8A } else { 0x0A }, d[0], d[1]],
        &mut pkt,
    );
    pkt
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rfc4733_repeated_digits_arrive_once_each_in_order() {
    let e = engine(42100, 30_000, None);
    let pa = Phone::new();
    let (a, mut ea) = open(&e, &pa, Codec::Pcmu);
    tokio::time::sleep(Duration::from_millis(40)).await;
    let mut seq = 0u16;
    for (i, digit) in [1u8, 1, 2, 2].into_iter().enumerate() {
        let ts = 10_000 + i as u32 * 8000;
        for dur in [160u16, 320, 480, 640] {
            for _ in 0..if dur == 320 { 2 } else { 1 } {
                pa.sock
                    .send_to(&event_packet(seq, ts, digit, false, dur), a.local_addr())
                    .unwrap();
                seq = seq.wrapping_add(1);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        for _ in 0..3 {
            pa.sock
                .send_to(&event_packet(seq, ts, digit, true, 800), a.local_addr())
                .unwrap();
            seq = seq.wrapping_add(1);
            std::thread::sleep(Duration::from_millis(5));
        }
        std::thread::sleep(Duration::from_millis(80));
    }
    // A late retransmission of the first event's end must not make a fifth digit.
    pa.sock
        .send_to(&event_packet(seq, 10_000, 1, true, 800), a.local_addr())
        .unwrap();
    let mut digits = String::new();
    while let Some(MediaEvent::Digit {
        digit, duration_ms, ..
    }) = next_event(&mut ea, Duration::from_millis(700), |e| {
        matches!(e, MediaEvent::Digit { .. })
    })
    .await
    {
        assert_eq!(duration_ms, 100);
        digits.push(digit);
    }
    assert_eq!(digits, "1122");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prompt_in_chosen_language_is_heard() {
    let e = engine(42200, 30_000, None);
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("dialplans/prompts");
    let (lib, errors) = e.load_prompts(&dir, "en").expect(
        "dialplans/prompts missing: run dialplans/prompts/generate.sh (needs espeak-ng and sox)",
    );
    assert!(errors.is_empty(), "{errors:?}");
    // The whole sample set is there in both languages, plus the hold music.
    for name in [
        "welcome",
        "main_menu",
        "enter_ticket",
        "invalid_option",
        "no_input",
        "goodbye",
        "closed",
        "leave_message",
        "callback_offer",
        "you-are-number",
        "in-the-queue",
        "expected-wait",
        "minutes",
        "seconds",
        "survey",
        "thank-you",
        "9",
    ] {
        for lang in ["en", "es"] {
            let p = lib
                .get(lang, name)
                .unwrap_or_else(|| panic!("{lang}/{name}"));
            assert_eq!(p.lang, lang, "{name} exists in {lang} itself");
            assert!(
                p.duration() > Duration::from_millis(150),
                "{lang}/{name} has audio"
            );
        }
    }
    assert!(lib.get("music", "hold").unwrap().duration() >= Duration::from_secs(10));
    let seq = lib
        .sequence(
            "es",
            &[
                helpline::media::Say::Prompt("you-are-number"),
                helpline::media::Say::Number(42),
                helpline::media::Say::Prompt("in-the-queue"),
            ],
        )
        .unwrap();
    assert_eq!(
        seq.iter().map(|p| p.name.as_str()).collect::<Vec<_>>(),
        ["you-are-number", "40", "y", "2", "in-the-queue"]
    );
    let es = lib.get("es", "welcome").unwrap();
    let en = lib.get("en", "welcome").unwrap();
    assert_ne!(es.samples, en.samples);
    let pa = Phone::new();
    let (a, mut ea) = open(&e, &pa, Codec::Pcmu);
    let rx = pa.collect(es.duration() + Duration::from_millis(600));
    let id = a.play(vec![es.clone()], true);
    let heard = decode(&rx.join().unwrap(), Codec::Pcmu, 0);
    let fin = next_event(&mut ea, Duration::from_secs(1), |e| {
        matches!(e, MediaEvent::PromptFinished { .. })
    })
    .await;
    assert_eq!(
        fin,
        Some(MediaEvent::PromptFinished {
            play_id: id,
            interrupted: false
        })
    );
    let best = |reference: &[i16]| -> f64 {
        // Normalised cross-correlation peak over lags of up to 300 ms.
        let n = reference.len().min(heard.len());
        let r = &reference[..n];
        let er: f64 = r.iter().map(|&x| (x as f64).powi(2)).sum();
        (0..2400usize.min(heard.len().saturating_sub(n) + 1))
            .step_by(2)
            .map(|lag| {
                let h = &heard[lag..lag + n];
                let eh: f64 = h.iter().map(|&x| (x as f64).powi(2)).sum();
                let dot: f64 = r.iter().zip(h).map(|(&a, &b)| a as f64 * b as f64).sum();
                dot / (er * eh).sqrt().max(1.0)
            })
            .fold(0.0, f64::max)
    };
    let (c_es, c_en) = (best(&es.samples), best(&en.samples));
    assert!(c_es > 0.9, "Spanish prompt found: {c_es}");
    assert!(c_en < 0.3, "English prompt not found: {c_en}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recording_holds_both_parties_and_bad_input_harms_nobody() {
    let e = engine(42300, 30_000, None);
    let (pa, pb, stranger) = (Phone::new(), Phone::new(), Phone::new());
    let (a, mut ea) = open(&e, &pa, Codec::Pcmu);
    let (b, _eb) = open(&e, &pb, Codec::Pcma);
    a.bridge(&b);
    let path = std::env::temp_dir().join(format!("media-rec-{}.wav", std::process::id()));
    a.start_recording(&path, RecordingMode::Stereo);
    tokio::time::sleep(Duration::from_millis(60)).await;
    let rx_b = pb.collect(Duration::from_millis(1100));
    let ta = pa.send_tone(a.local_addr(), Codec::Pcmu, 1000.0, 1000);
    let tb = pb.send_tone(b.local_addr(), Codec::Pcma, 1500.0, 1000);
    // Junk aimed at A while the call runs: truncated, wrong payload type, a stranger's RTP.
    for i in 0..50u16 {
        pa.sock.send_to(&[0x80, 0, 1], a.local_addr()).unwrap();
        let mut wrong = Vec::new();
        RtpHeader {
            payload_type: 96,
            sequence: 9000 + i,
            ..RtpHeader::default()
        }
        .write(&[0; 160], &mut wrong);
        pa.sock.send_to(&wrong, a.local_addr()).unwrap();
        stranger.sock.send_to(&wrong, a.local_addr()).unwrap();
    }
    ta.join().unwrap();
    tb.join().unwrap();
    let pcm = decode(&rx_b.join().unwrap(), Codec::Pcma, 8);
    assert!(level(&pcm, 1000.0) > 1e6 && level(&pcm, 1000.0) > 100.0 * level(&pcm, 1500.0));
    let stats = a.stats().await.unwrap();
    assert_eq!(
        (
            stats.malformed,
            stats.wrong_payload_type,
            stats.foreign_source
        ),
        (50, 50, 50)
    );
    let global = e.stats().snapshot();
    assert!(global.malformed_packets >= 50 && global.foreign_source_packets >= 50);

    a.stop_recording();
    let fin = next_event(&mut ea, Duration::from_secs(2), |e| {
        matches!(e, MediaEvent::RecordingFinished { .. })
    })
    .await;
    match fin {
        Some(MediaEvent::RecordingFinished {
            error: None,
            duration_ms,
            ..
        }) => assert!(duration_ms >= 900),
        other => panic!("{other:?}"),
    }
    let bytes = std::fs::read(&path).unwrap();
    assert_eq!(u16::from_le_bytes([bytes[22], bytes[23]]), 2, "stereo");
    let samples: Vec<i16> = bytes[44..]
        .chunks_exact(2)
        .map(|c| i16::from_le_bytes([c[0], c[1]]))
        .collect();
    let left: Vec<i16> = samples.iter().step_by(2).copied().collect();
    let right: Vec<i16> = samples.iter().skip(1).step_by(2).copied().collect();
    assert!(
        level(&left, 1000.0) > 100.0 * level(&left, 1500.0),
        "left: the caller"
    );
    assert!(
        level(&right, 1500.0) > 100.0 * level(&right, 1000.0),
        "right: the agent"
    );
    let _ = std::fs::remove_file(&path);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silent_peer_times_out_and_close_releases_ports() {
    let e = engine(42400, 300, None);
    let free = e.ports_available();
    let pa = Phone::new();
    let (a, mut ea) = open(&e, &pa, Codec::Pcmu);
    assert_eq!(e.ports_available(), free - 1);
    // Sessions spread over the workers; a leg opened near another shares its worker.
    let (other, _) = open(&e, &pa, Codec::Pcmu);
    assert_ne!(other.worker_index(), a.worker_index());
    let (near, _) = e.open_near(&other, SessionOptions::default()).unwrap();
    assert_eq!(near.worker_index(), other.worker_index());
    drop((other, near));
    let ev = next_event(&mut ea, Duration::from_secs(2), |e| {
        matches!(e, MediaEvent::MediaTimeout { .. })
    })
    .await;
    assert!(ev.is_some(), "media timeout reported");
    assert_eq!(e.stats().snapshot().media_timeouts, 1);
    drop(a);
    let closed = next_event(&mut ea, Duration::from_secs(1), |e| {
        matches!(e, MediaEvent::Closed(_))
    })
    .await;
    assert!(closed.is_some());
    assert_eq!(e.ports_available(), free);
    assert_eq!(e.stats().snapshot().active_sessions, 0);
}
