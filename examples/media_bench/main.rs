//! Media benchmark: N bridged calls (2N RTP streams through the engine) on loopback, driven by
//! a load generator inside this program that sends real RTP every 20 ms and receives what the
//! engine relays. Half the calls transcode µ-law ⇄ A-law, a tenth are recorded.
//!
//!   cargo run --release --example media_bench -- [--calls 1000] [--seconds 20] [--workers 2]
//!                                                 [--gen-threads 2] [--port-base 10000]
//!                                                 [--rt PRIO]   (SCHED_FIFO for the engine workers)
//!                                                 [--supervised K] [--colocate 1|0]
//!                                                 [--transcode 1|0] [--record 1|0]
//!                                                 [--rtpengine HOST:PORT --rtpengine-pid PID]
//!
//! `--transcode 0` makes every call µ-law both ways (relay only); `--record 0` records none.
//!
//! `--rtpengine` drives rtpengine instead of our engine with the same load: per call an ng
//! `offer` and `answer` (module `ng`), then the same phones send and receive RTP through it; its
//! CPU comes from /proc/PID/stat. `benches/media-rtpengine.sh` starts one and runs both.
//!
//! `--colocate 1` (default) opens each agent leg with `open_near(caller)`, so both legs of a
//! call share a worker; `0` spreads legs over workers independently.
//!
//! With `--supervised K`, the last K calls get a supervisor leg in a conference: it listens for
//! the first half of the window and whispers to the agent for the second; the report shows the
//! supervisor's 2 kHz tone level heard by callers and agents in each half.
//!
//! Reports: frame loss end to end (timestamp gaps at the receiving phones) and packet loss
//! (sequence gaps), the engine's send-interval deviation (histogram, p50/p99), the inter-arrival
//! deviation seen by a sample of receiving phones on their own threads, and CPU per stream from
//! /proc/self/task/*/stat (engine workers, recorder, load generator, whole process).

use std::net::{SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

mod ng;
mod rtpengine;

use helpline::media::rtp::{looks_like_rtcp, RtpHeader, RtpPacket};
use helpline::media::{
    Codec, Conference, EngineConfig, MediaEngine, NegotiatedMedia, RecordingMode, Role,
    SessionOptions,
};

struct Args {
    calls: usize,
    seconds: u64,
    workers: usize,
    gen_threads: usize,
    port_base: u16,
    sampled: usize,
    rt: Option<i32>,
    supervised: usize,
    colocate: bool,
    transcode: bool,
    record: bool,
    rtpengine: Option<SocketAddr>,
    rtpengine_pid: Option<u32>,
}

fn args() -> Args {
    let mut a = Args {
        calls: 1000,
        seconds: 20,
        workers: 2,
        gen_threads: 2,
        port_base: 10000,
        sampled: 20,
        rt: None,
        supervised: 0,
        colocate: true,
        transcode: true,
        record: true,
        rtpengine: None,
        rtpengine_pid: None,
    };
    let v: Vec<String> = std::env::args().skip(1).collect();
    for pair in v.chunks(2) {
        let val = pair.get(1).and_then(|s| s.parse::<u64>().ok()).unwrap_or(0);
        match pair[0].as_str() {
            "--calls" => a.calls = val as usize,
            "--seconds" => a.seconds = val,
            "--workers" => a.workers = val as usize,
            "--gen-threads" => a.gen_threads = val.max(1) as usize,
            "--port-base" => a.port_base = val as u16,
            "--sampled" => a.sampled = val as usize,
            "--rt" => a.rt = Some(val as i32),
            "--supervised" => a.supervised = val as usize,
            "--colocate" => a.colocate = val != 0,
            "--transcode" => a.transcode = val != 0,
            "--record" => a.record = val != 0,
            "--rtpengine" => {
                a.rtpengine = pair.get(1).and_then(|s| s.parse().ok());
                if a.rtpengine.is_none() {
                    eprintln!("--rtpengine wants HOST:PORT (its listen-ng address)");
                    std::process::exit(2);
                }
            }
            "--rtpengine-pid" => a.rtpengine_pid = Some(val as u32),
            other => {
                eprintln!("unknown option {other}");
                std::process::exit(2);
            }
        }
    }
    a
}

/// One simulated phone: sends RTP to its session, checks what comes back.
struct Phone {
    sock: UdpSocket,
    to: SocketAddr,
    pt: u8,
    payload: Vec<u8>,
    seq: u16,
    ssrc: u32,
    sent: u64,
    /// False for the sampled phones, read by their own threads.
    poll: bool,
    rx: RxCheck,
    probe: Option<Probe>,
}

/// Measures the 2 kHz (supervisor) tone level a phone hears before and after `switch`.
struct Probe {
    codec: Codec,
    switch: Instant,
    power: [f64; 2],
    frames: [u64; 2],
    pcm: Vec<i16>,
}

impl Probe {
    fn on_payload(&mut self, payload: &[u8], now: Instant, freq: f32) {
        let guard = Duration::from_millis(200);
        let half = if now + guard < self.switch {
            0
        } else if now > self.switch + guard {
            1
        } else {
            return;
        };
        self.pcm.clear();
        self.codec.decode(payload, &mut self.pcm);
        let p = helpline::media::goertzel::goertzel_power(&self.pcm, freq, 8000.0)
            / self.pcm.len().max(1) as f32;
        self.power[half] += p as f64;
        self.frames[half] += 1;
    }

    /// Mean tone level per half in dB relative to full scale.
    fn levels(&self) -> [f64; 2] {
        [0, 1].map(|h| {
            let mean = self.power[h] / self.frames[h].max(1) as f64;
            10.0 * (mean.max(1e-3) / (32768.0f64 * 32768.0 / 2.0)).log10()
        })
    }
}

/// Receive-side accounting from sequence numbers and timestamps (runs shorter than 20 min).
#[derive(Default, Clone)]
struct RxCheck {
    received: u64,
    first: Option<(u16, u32)>,
    seq_span: (i64, i64),
    frame_span: (i64, i64),
}

impl RxCheck {
    fn on_packet(&mut self, seq: u16, ts: u32) {
        let (s0, t0) = *self.first.get_or_insert((seq, ts));
        let s = seq.wrapping_sub(s0) as i16 as i64;
        let f = (ts.wrapping_sub(t0) as i32 as i64).div_euclid(160);
        self.seq_span = (self.seq_span.0.min(s), self.seq_span.1.max(s));
        self.frame_span = (self.frame_span.0.min(f), self.frame_span.1.max(f));
        self.received += 1;
    }

    fn expected_packets(&self) -> u64 {
        self.first
            .map_or(0, |_| (self.seq_span.1 - self.seq_span.0 + 1) as u64)
    }

    fn expected_frames(&self) -> u64 {
        self.first
            .map_or(0, |_| (self.frame_span.1 - self.frame_span.0 + 1) as u64)
    }
}

impl Phone {
    /// A phone on `sock` sending `codec` (a 1 kHz tone) to `to`, read by the generator.
    fn new(sock: UdpSocket, to: SocketAddr, codec: Codec, first_seq: u16, ssrc: u32) -> Phone {
        sock.set_nonblocking(true).expect("non-blocking socket");
        Phone {
            sock,
            to,
            pt: codec.static_payload_type(),
            payload: tone(codec, 1000.0),
            seq: first_seq,
            ssrc,
            sent: 0,
            poll: true,
            rx: RxCheck::default(),
            probe: None,
        }
    }
}

fn tone(codec: Codec, freq: f32) -> Vec<u8> {
    let pcm: Vec<i16> = (0..160)
        .map(|i| (6000.0 * (2.0 * std::f32::consts::PI * freq * i as f32 / 8000.0).sin()) as i16)
        .collect();
    let mut out = Vec::new();
    codec.encode(&pcm, &mut out);
    out
}

/// (user, system) CPU seconds from a /proc `stat` file (a process or one of its threads).
fn stat_split(path: &str) -> (f64, f64) {
    let ticks_per_sec = 100.0; // USER_HZ on Linux
    let Ok(stat) = std::fs::read_to_string(path) else {
        return (0.0, 0.0);
    };
    let after = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let f: Vec<&str> = after.split_whitespace().collect();
    let u: f64 = f.get(11).and_then(|s| s.parse().ok()).unwrap_or(0.0);
    let s: f64 = f.get(12).and_then(|s| s.parse().ok()).unwrap_or(0.0);
    (u / ticks_per_sec, s / ticks_per_sec)
}

/// CPU seconds (utime + stime) of threads whose name starts with `prefix` ("" = process).
fn cpu_seconds(prefix: &str) -> f64 {
    let (u, s) = cpu_split(prefix);
    u + s
}

/// (user, system) CPU seconds of threads whose name starts with `prefix` ("" = process).
fn cpu_split(prefix: &str) -> (f64, f64) {
    if prefix.is_empty() {
        return stat_split("/proc/self/stat");
    }
    let mut total = (0.0, 0.0);
    if let Ok(dir) = std::fs::read_dir("/proc/self/task") {
        for t in dir.flatten() {
            let comm = std::fs::read_to_string(t.path().join("comm")).unwrap_or_default();
            if comm.trim().starts_with(prefix) {
                let (u, s) = stat_split(&t.path().join("stat").to_string_lossy());
                total = (total.0 + u, total.1 + s);
            }
        }
    }
    total
}

/// CPU (user, system) of the relay: our engine's worker threads, or the rtpengine process.
fn relay_split(a: &Args) -> (f64, f64) {
    match (a.rtpengine, a.rtpengine_pid) {
        (Some(_), Some(pid)) => stat_split(&format!("/proc/{pid}/stat")),
        (Some(_), None) => (f64::NAN, f64::NAN),
        (None, _) => cpu_split("media-worker"),
    }
}

fn relay_cpu(a: &Args) -> f64 {
    let (u, s) = relay_split(a);
    u + s
}

fn snapshot(engine: Option<&MediaEngine>) -> helpline::media::MediaStatsSnapshot {
    engine.map(|e| e.stats().snapshot()).unwrap_or_default()
}

fn percentile(v: &mut [f64], p: f64) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(|a, b| a.total_cmp(b));
    v[((v.len() as f64 - 1.0) * p).round() as usize]
}

fn run_generator(mut phones: Vec<Phone>, stop: Arc<AtomicBool>, warm: Instant) -> Vec<Phone> {
    let start = Instant::now();
    let mut buf = [0u8; 1500];
    let mut k: u64 = 0;
    loop {
        let deadline = start + Duration::from_millis(20 * k);
        let now = Instant::now();
        if deadline > now {
            std::thread::sleep(deadline - now);
        }
        k += 1;
        let sending = !stop.load(Ordering::Relaxed);
        let measuring = Instant::now() >= warm;
        let mut pkt = Vec::with_capacity(200);
        for p in &mut phones {
            if sending {
                pkt.clear();
                RtpHeader {
                    marker: p.sent == 0,
                    payload_type: p.pt,
                    sequence: p.seq,
                    timestamp: (p.seq as u32).wrapping_mul(160),
                    ssrc: p.ssrc,
                }
                .write(&p.payload, &mut pkt);
                if p.sock.send_to(&pkt, p.to).is_ok() {
                    p.sent += 1;
                }
                p.seq = p.seq.wrapping_add(1);
            }
            while p.poll {
                let Ok((n, _)) = p.sock.recv_from(&mut buf) else {
                    break;
                };
                // RTCP for a neighbour's port+1 can land here on loopback: not media.
                if !measuring || looks_like_rtcp(&buf[..n]) {
                    continue;
                }
                if let Ok(r) = RtpPacket::parse(&buf[..n]) {
                    p.rx.on_packet(r.sequence, r.timestamp);
                    if let Some(probe) = p.probe.as_mut() {
                        probe.on_payload(r.payload, Instant::now(), 2000.0);
                    }
                }
            }
        }
        if !sending {
            return phones;
        }
    }
}

fn main() {
    let a = args();
    let n = a.calls;
    let engine = a.rtpengine.is_none().then(|| {
        MediaEngine::start(EngineConfig {
            bind_ip: "127.0.0.1".parse().unwrap(),
            port_min: a.port_base,
            port_max: a.port_base.saturating_add((n * 4 + 400).min(20_000) as u16),
            workers: a.workers,
            media_timeout: Duration::from_secs(3600),
            worker_rt_priority: a.rt,
            ..EngineConfig::default()
        })
        .expect("engine")
    });
    let rec_dir = std::env::temp_dir().join(format!("media-bench-{}", std::process::id()));
    let mut sessions = Vec::new();
    let mut phones = Vec::new();
    let mut sampled = Vec::new();
    let mut supervisors = Vec::new();
    let mut relayed = None;
    match (&engine, a.rtpengine) {
        (_, Some(addr)) => {
            let (p, calls) = rtpengine::setup(&a, addr)
                .unwrap_or_else(|e| panic!("setting up calls on rtpengine at {addr}: {e}"));
            phones = p;
            relayed = Some(calls);
        }
        (None, None) => unreachable!("no engine"),
        (Some(engine), None) => {
            for i in 0..n {
                let transcode = a.transcode && i % 2 == 0;
                let (ca, cb) = (
                    Codec::Pcmu,
                    if transcode { Codec::Pcma } else { Codec::Pcmu },
                );
                let sa = UdpSocket::bind("127.0.0.1:0").expect("phone socket");
                let sb = UdpSocket::bind("127.0.0.1:0").expect("phone socket");
                let open =
                    |sock: &UdpSocket,
                     codec: Codec,
                     near: Option<&helpline::media::MediaSession>| {
                        let opts = SessionOptions {
                            label: format!("bench-{i}"),
                            media: Some(NegotiatedMedia::new(sock.local_addr().unwrap(), codec)),
                            event_capacity: 8,
                            ..SessionOptions::default()
                        };
                        match near {
                            Some(peer) if a.colocate => engine.open_near(peer, opts),
                            _ => engine.open(opts),
                        }
                        .expect("open session (raise ulimit -n or the port range?)")
                    };
                let (a_sess, a_ev) = open(&sa, ca, None);
                let (b_sess, b_ev) = open(&sb, cb, Some(&a_sess));
                a_sess.bridge(&b_sess);
                if a.record && i % 10 == 0 {
                    a_sess.start_recording(
                        rec_dir.join(format!("call-{i}.wav")),
                        RecordingMode::Stereo,
                    );
                }
                let supervised = i + a.supervised >= n;
                let mut legs = vec![
                    (sa, &a_sess, ca, 1000.0, Role::Participant),
                    (sb, &b_sess, cb, 1000.0, Role::Participant),
                ];
                let sup = supervised.then(|| {
                    let ss = UdpSocket::bind("127.0.0.1:0").expect("phone socket");
                    let (s_sess, s_ev) = open(&ss, Codec::Pcmu, Some(&a_sess));
                    (ss, s_sess, s_ev)
                });
                if let Some((ss, s_sess, _)) = sup.as_ref() {
                    legs.push((
                        ss.try_clone().unwrap(),
                        s_sess,
                        Codec::Pcmu,
                        2000.0,
                        Role::Listen,
                    ));
                }
                let conf = supervised.then(Conference::new);
                for (sock, sess, codec, freq, role) in legs {
                    sock.set_nonblocking(true).unwrap();
                    if let Some(c) = conf.as_ref() {
                        sess.join_conference(c, role);
                    }
                    phones.push(Phone {
                        to: sess.local_addr(),
                        pt: codec.static_payload_type(),
                        payload: tone(codec, freq),
                        seq: (i * 7) as u16,
                        ssrc: 0xB000_0000 | phones.len() as u32,
                        sent: 0,
                        poll: true,
                        rx: RxCheck::default(),
                        probe: supervised.then(|| Probe {
                            codec,
                            switch: Instant::now(),
                            power: [0.0; 2],
                            frames: [0; 2],
                            pcm: Vec::new(),
                        }),
                        sock,
                    });
                }
                if let (Some(c), Some((_, s_sess, s_ev))) = (conf, sup) {
                    supervisors.push((c, s_sess, b_sess.id(), s_ev));
                }
                sessions.push((a_sess, b_sess, a_ev, b_ev));
            }
        }
    }
    // A sample of receiving phones read on their own threads to time arrivals precisely;
    // the generator still sends for them.
    for p in phones.iter_mut().take(a.sampled) {
        p.poll = false;
        let s = p.sock.try_clone().unwrap();
        s.set_nonblocking(false).unwrap();
        s.set_read_timeout(Some(Duration::from_millis(100)))
            .unwrap();
        sampled.push(s);
    }
    let sampled_count = sampled.len();
    std::thread::sleep(Duration::from_millis(200));
    let relay = match a.rtpengine {
        Some(addr) => format!("rtpengine at {addr} (pid {:?})", a.rtpengine_pid),
        None => format!(
            "our engine, {} workers (scheduling: {}, legs of a call {})",
            a.workers,
            a.rt.map_or("normal".to_string(), |p| format!("SCHED_FIFO {p}")),
            if a.colocate {
                "on one worker"
            } else {
                "spread"
            },
        ),
    };
    println!(
        "media_bench: {n} bridged calls = {} streams, {} transcoding, {} recorded, through {relay}, {} generator threads, {} s",
        2 * n,
        if a.transcode { n.div_ceil(2) } else { 0 },
        if a.record && a.rtpengine.is_none() { n.div_ceil(10) } else { 0 },
        a.gen_threads,
        a.seconds
    );

    let warmup = Duration::from_secs(3.min(a.seconds / 4).max(1));
    let t0 = Instant::now();
    let warm = t0 + warmup;
    let stop = Arc::new(AtomicBool::new(false));
    let measure_end = t0 + Duration::from_secs(a.seconds);
    let switch = warm + (measure_end - warm) / 2;
    for p in &mut phones {
        if let Some(probe) = p.probe.as_mut() {
            probe.switch = switch;
        }
    }
    // Sampled receivers.
    let mut sample_threads = Vec::new();
    for s in sampled {
        let stop = stop.clone();
        sample_threads.push(
            std::thread::Builder::new()
                .name("loadgen-sample".into())
                .spawn(move || {
                    let mut devs = Vec::new();
                    let mut last: Option<Instant> = None;
                    let mut buf = [0u8; 1500];
                    while !stop.load(Ordering::Relaxed) {
                        if let Ok((n, _)) = s.recv_from(&mut buf) {
                            if looks_like_rtcp(&buf[..n]) {
                                continue;
                            }
                            let now = Instant::now();
                            if now >= warm {
                                if let Some(l) = last {
                                    devs.push(((now - l).as_secs_f64() * 1000.0 - 20.0).abs());
                                }
                                last = Some(now);
                            }
                        }
                    }
                    devs
                })
                .unwrap(),
        );
    }
    // Generators: each sends for its share of phones every 20 ms and drains their sockets.
    let per = phones.len().div_ceil(a.gen_threads);
    let mut gens = Vec::new();
    let mut rest = phones;
    while !rest.is_empty() {
        let tail = rest.split_off(per.min(rest.len()));
        let chunk = std::mem::replace(&mut rest, tail);
        let stop = stop.clone();
        gens.push(
            std::thread::Builder::new()
                .name("loadgen".into())
                .spawn(move || run_generator(chunk, stop, warm))
                .unwrap(),
        );
    }
    std::thread::sleep(warm.saturating_duration_since(Instant::now()));
    let stats0 = snapshot(engine.as_ref());
    let ws0 = relay_split(&a);
    let (w0, r0, g0, p0) = (
        relay_cpu(&a),
        cpu_seconds("media-recorder"),
        cpu_seconds("loadgen"),
        cpu_seconds(""),
    );
    let m0 = Instant::now();
    std::thread::sleep(switch.saturating_duration_since(Instant::now()));
    for (conf, s_sess, agent, _) in &supervisors {
        conf.set_role(s_sess, Role::Whisper { to: *agent });
    }
    std::thread::sleep(measure_end.saturating_duration_since(Instant::now()));
    let wall = m0.elapsed().as_secs_f64();
    let ws1 = relay_split(&a);
    let (w1, r1, g1, p1) = (
        relay_cpu(&a),
        cpu_seconds("media-recorder"),
        cpu_seconds("loadgen"),
        cpu_seconds(""),
    );
    let stats1 = snapshot(engine.as_ref());
    stop.store(true, Ordering::Relaxed);
    let receive_window = warm.elapsed().as_secs_f64();
    std::thread::sleep(Duration::from_millis(150));
    let mut phones: Vec<Phone> = gens.into_iter().flat_map(|g| g.join().unwrap()).collect();
    let mut devs: Vec<f64> = sample_threads
        .into_iter()
        .flat_map(|t| t.join().unwrap())
        .collect();

    // Loss over the phones not shared with a sampling thread.
    let (mut exp_p, mut exp_f, mut got, mut silent) = (0u64, 0u64, 0u64, 0usize);
    for p in phones.iter_mut().skip(sampled_count) {
        if p.rx.received == 0 {
            silent += 1;
        }
        exp_p += p.rx.expected_packets();
        exp_f += p.rx.expected_frames();
        got += p.rx.received;
    }
    let sent: u64 = phones.iter().map(|p| p.sent).sum();
    let streams = (2 * n + a.supervised.min(n)) as f64;
    let d_hist: Vec<u64> = stats1
        .send_jitter_buckets
        .iter()
        .zip(&stats0.send_jitter_buckets)
        .map(|(a, b)| a - b)
        .collect();
    let window = helpline::media::MediaStatsSnapshot {
        send_jitter_buckets: d_hist.clone(),
        ..Default::default()
    };
    let q = |x: f64| match window.send_jitter_quantile_us(x) {
        Some(u64::MAX) => "> 50 ms".to_string(),
        Some(us) => format!("≤ {:.2} ms", us as f64 / 1000.0),
        None => "n/a".into(),
    };
    let pct = |lost: u64, of: u64| {
        if of == 0 {
            0.0
        } else {
            100.0 * lost as f64 / of as f64
        }
    };
    println!(
        "measured window: {wall:.1} s after {} s warm-up",
        warmup.as_secs()
    );
    let ours = engine.is_some();
    let relay_name = if ours { "engine workers" } else { "rtpengine" };
    // Packets the relay sent in the window: its own count, or (rtpengine) what the phones
    // received, scaled up for the sampled phones.
    let relayed_packets = if ours {
        stats1.packets_out - stats0.packets_out
    } else {
        let polled = phones.len().saturating_sub(sampled_count).max(1) as f64;
        (got as f64 * phones.len() as f64 / polled) as u64
    };
    if ours {
        println!(
            "generator sent {sent} packets in total; engine in/out in window: {} / {}",
            stats1.packets_in - stats0.packets_in,
            stats1.packets_out - stats0.packets_out
        );
    } else {
        println!("generator sent {sent} packets in total; phones received ≈ {relayed_packets}");
    }
    println!(
        "frame loss (timestamp gaps at receiving phones): {:.4}% ({} of {} frames); packet loss (sequence gaps): {:.4}%; phones that heard nothing: {silent}",
        pct(exp_f.saturating_sub(got), exp_f),
        exp_f.saturating_sub(got),
        exp_f,
        pct(exp_p.saturating_sub(got), exp_p)
    );
    // A relay that falls behind (backlog in its socket buffers, drops before a transcoder that
    // renumbers) shows no timestamp or sequence gap, but delivers fewer frames than were due.
    let polled = phones.len().saturating_sub(sampled_count);
    let due = (polled as f64 * receive_window * 50.0) as u64;
    println!(
        "delivered: {:.2}% of the frames due at the polled phones in the {receive_window:.1} s receive window ({got} of {due})",
        100.0 * got as f64 / due.max(1) as f64
    );
    if ours {
        println!(
        "engine send-interval deviation: p50 {}  p99 {}  p99.9 {}  (buckets µs ≤250,500,1k,2k,3k,4k,5k,10k,20k,50k,+inf: {:?})",
        q(0.5),
        q(0.99),
        q(0.999),
        d_hist
    );
    }
    println!(
        "sampled receive inter-arrival deviation ({} phones on own threads): p50 {:.2} ms  p99 {:.2} ms  max {:.2} ms",
        sampled_count,
        percentile(&mut devs, 0.5),
        percentile(&mut devs, 0.99),
        devs.last().copied().unwrap_or(f64::NAN)
    );
    let per_stream = |cpu: f64| 100.0 * cpu / wall / streams;
    println!(
        "CPU: {relay_name} {:.1}% of a core ({:.4}% per stream, {:.1} µs per packet relayed), recorder {:.1}%, load generator {:.1}%, whole process {:.1}%",
        100.0 * (w1 - w0) / wall,
        per_stream(w1 - w0),
        1e6 * (w1 - w0) / (relayed_packets.max(1) as f64),
        100.0 * (r1 - r0) / wall,
        100.0 * (g1 - g0) / wall,
        100.0 * (p1 - p0) / wall
    );
    println!(
        "{relay_name} user/system split: {:.1}% / {:.1}% of a core",
        100.0 * (ws1.0 - ws0.0) / wall,
        100.0 * (ws1.1 - ws0.1) / wall
    );
    if ours {
        println!(
        "engine counters in window: transcoded {}, buffer overflows {}, trims {}, late {}, worker overruns {}, ticks caught up {}, send errors {}, recording chunks dropped {}",
        stats1.transcoded_packets - stats0.transcoded_packets,
        stats1.buffer_overflows - stats0.buffer_overflows,
        stats1.buffer_trims - stats0.buffer_trims,
        stats1.late_packets - stats0.late_packets,
        stats1.worker_overruns - stats0.worker_overruns,
        stats1.ticks_caught_up - stats0.ticks_caught_up,
        stats1.send_errors - stats0.send_errors,
        stats1.recording_chunks_dropped - stats0.recording_chunks_dropped,
    );
    }
    if !supervisors.is_empty() {
        // Phones of a supervised call are pushed caller, agent, supervisor.
        let probes: Vec<[f64; 2]> = phones
            .iter()
            .filter_map(|p| p.probe.as_ref().map(Probe::levels))
            .collect();
        let mean = |role: usize, half: usize| {
            let v: Vec<f64> = probes
                .iter()
                .skip(role)
                .step_by(3)
                .map(|l| l[half])
                .collect();
            v.iter().sum::<f64>() / v.len().max(1) as f64
        };
        println!(
            "mixer, {} supervised calls — supervisor's 2 kHz tone heard (dBFS), listen half → whisper half: caller {:.1} → {:.1}, agent {:.1} → {:.1}",
            supervisors.len(),
            mean(0, 0),
            mean(0, 1),
            mean(1, 0),
            mean(1, 1)
        );
    }
    if let Ok(l) = std::fs::read_to_string("/proc/loadavg") {
        println!(
            "load average during run (2 cores shared with other jobs): {}",
            l.trim()
        );
    }
    drop(supervisors);
    drop(sessions);
    drop(engine);
    if let (Some(calls), Some(addr)) = (relayed, a.rtpengine) {
        rtpengine::teardown(addr, &calls);
    }
    let _ = std::fs::remove_dir_all(&rec_dir);
}
