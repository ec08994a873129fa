//! Load test: N webrtc-rs "browsers" ↔ gateway legs ↔ UDP echoes acting as the media engine
//! (one echo socket per leg, like one RTP session per call).
//!
//!   gw-bench --legs 300 --secs 20                      # everything in one process
//!   gw-bench --role gateway --legs 300 --secs 20 --listen 127.0.0.1:7700 &
//!   gw-bench --role client  --legs 300 --secs 20 --connect 127.0.0.1:7700
//!
//! Each client sends 20 ms PCMU packets (50/s) as soon as it is connected; the echo bounces
//! them back through the gateway. The measuring window (CPU, packets) starts once every leg is
//! connected and lasts --secs.

#[path = "client.rs"]
mod client;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use helpline::webrtc::{GatewayConfig, LegState, LegStats, WebRtcGateway, WebRtcLeg};
use rtc::rtp;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio::sync::{watch, Mutex, Semaphore};

type BoxErr = Box<dyn std::error::Error + Send + Sync>;

#[derive(Debug, Clone)]
struct Args {
    role: String,
    legs: usize,
    secs: u64,
    concurrency: usize,
    listen: SocketAddr,
    connect: SocketAddr,
    port_min: u16,
    ice_lite: bool,
}

fn parse_args() -> Result<Args, BoxErr> {
    let mut a = Args {
        role: "all".into(),
        legs: 50,
        secs: 20,
        concurrency: 20,
        listen: "127.0.0.1:7700".parse()?,
        connect: "127.0.0.1:7700".parse()?,
        port_min: 20000,
        ice_lite: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(k) = it.next() {
        let mut v = || it.next().ok_or_else(|| format!("{k} needs a value"));
        match k.as_str() {
            "--role" => a.role = v()?,
            "--legs" => a.legs = v()?.parse()?,
            "--secs" => a.secs = v()?.parse()?,
            "--concurrency" => a.concurrency = v()?.parse()?,
            "--listen" => a.listen = v()?.parse()?,
            "--connect" => a.connect = v()?.parse()?,
            "--port-min" => a.port_min = v()?.parse()?,
            "--ice-lite" => a.ice_lite = true,
            "-h" | "--help" => {
                println!(
                    "gw-bench [--role all|gateway|client] [--legs N] [--secs S] [--concurrency C] [--listen A] [--connect A] [--port-min P] [--ice-lite]"
                );
                std::process::exit(0);
            }
            other => return Err(format!("unknown argument {other}").into()),
        }
    }
    Ok(a)
}

// ---------------------------------------------------------------------------------------------
// measurements

fn cpu_secs() -> f64 {
    // SAFETY: getrusage only writes the struct we pass.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) };
    let tv = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    tv(ru.ru_utime) + tv(ru.ru_stime)
}

/// (busy, total) jiffies of the whole machine, to show how much CPU other processes took.
fn machine_jiffies() -> (u64, u64) {
    let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let v: Vec<u64> = stat
        .lines()
        .next()
        .unwrap_or("")
        .split_whitespace()
        .skip(1)
        .filter_map(|x| x.parse().ok())
        .collect();
    let total: u64 = v.iter().take(8).sum();
    let idle = v.get(3).copied().unwrap_or(0) + v.get(4).copied().unwrap_or(0);
    (total.saturating_sub(idle), total)
}

/// Cores' worth of CPU used by *other* processes between two `machine_jiffies` samples.
fn others_cores(a: (u64, u64), b: (u64, u64), ours_cpu: f64, window: f64) -> f64 {
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1) as f64;
    let dt = (b.1 - a.1).max(1) as f64;
    let busy_cores = (b.0 - a.0) as f64 / dt * cores;
    (busy_cores - ours_cpu / window).max(0.0)
}

fn max_rss_mib() -> f64 {
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) };
    ru.ru_maxrss as f64 / 1024.0
}

fn pct(v: &mut [u64], p: f64) -> u64 {
    if v.is_empty() {
        return 0;
    }
    v.sort_unstable();
    let idx = ((p * v.len() as f64).ceil() as usize).clamp(1, v.len()) - 1;
    v[idx]
}

#[derive(Default)]
struct ClientStats {
    sent: AtomicU64,
    received: AtomicU64,
    connected: AtomicU64,
    failed: AtomicU64,
    setup_ms: std::sync::Mutex<Vec<u64>>,
}

#[derive(Default)]
struct EchoStats {
    received: AtomicU64,
    sent: AtomicU64,
}

struct AbortOnDrop(tokio::task::JoinHandle<()>);
impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// The "media engine": bounces every datagram back to where it came from.
async fn echo(sock: Arc<UdpSocket>, st: Arc<EchoStats>) {
    let mut buf = vec![0u8; 1500];
    loop {
        let Ok((n, from)) = sock.recv_from(&mut buf).await else {
            continue;
        };
        st.received.fetch_add(1, Relaxed);
        if sock.send_to(&buf[..n], from).await.is_ok() {
            st.sent.fetch_add(1, Relaxed);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// client side: answer, connect, then send 50 pps until `stop`

/// How a client gets its offer and delivers its answer.
enum Signal {
    Local {
        gw: Arc<WebRtcGateway>,
        legs: Arc<Mutex<Vec<WebRtcLeg>>>,
    },
    Remote {
        addr: SocketAddr,
    },
}

async fn write_frame(s: &mut TcpStream, data: &[u8]) -> Result<(), BoxErr> {
    s.write_u32(data.len() as u32).await?;
    s.write_all(data).await?;
    Ok(())
}

async fn read_frame(s: &mut TcpStream) -> Result<String, BoxErr> {
    let n = s.read_u32().await? as usize;
    if n > 1 << 20 {
        return Err("frame too large".into());
    }
    let mut b = vec![0u8; n];
    s.read_exact(&mut b).await?;
    Ok(String::from_utf8(b)?)
}

async fn run_client(
    i: usize,
    signal: Arc<Signal>,
    sem: Arc<Semaphore>,
    st: Arc<ClientStats>,
    echo_st: Arc<EchoStats>,
    mut stop: watch::Receiver<bool>,
) -> Result<(), BoxErr> {
    let permit = sem.acquire_owned().await?;
    // This call's "media engine" RTP session: one echo socket per leg, like the real engine.
    let echo_sock = Arc::new(UdpSocket::bind("127.0.0.1:0").await?);
    let media_peer = echo_sock.local_addr()?;
    let echo_task = tokio::spawn(echo(echo_sock, echo_st));
    let _echo_guard = AbortOnDrop(echo_task);
    let t0 = Instant::now();
    let ssrc = 0x1000_0000 + i as u32;
    let first = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let on_rtp: client::OnRtp = {
        let st = Arc::clone(&st);
        let first = Arc::clone(&first);
        Arc::new(move |_p: &rtp::Packet| {
            st.received.fetch_add(1, Relaxed);
            if !first.swap(true, Relaxed) {
                if let Ok(mut v) = st.setup_ms.lock() {
                    v.push(t0.elapsed().as_millis() as u64);
                }
            }
        })
    };
    let label = format!("leg{i}");
    // Keep the TCP stream alive for the whole call in remote mode (EOF = hang up).
    let (cl, _tcp) = match &*signal {
        Signal::Local { gw, legs } => {
            let (leg, offer) = gw.open(&label, media_peer).await?;
            let (cl, answer) = client::answer(&offer, ssrc, on_rtp).await?;
            leg.accept_answer(&answer).await?;
            legs.lock().await.push(leg);
            (cl, None)
        }
        Signal::Remote { addr } => {
            let mut s = TcpStream::connect(addr).await?;
            s.set_nodelay(true)?;
            write_frame(&mut s, format!("OPEN {label} {media_peer}").as_bytes()).await?;
            let offer = read_frame(&mut s).await?;
            let (cl, answer) = client::answer(&offer, ssrc, on_rtp).await?;
            write_frame(&mut s, answer.as_bytes()).await?;
            let ok = read_frame(&mut s).await?;
            if ok != "OK" {
                return Err(format!("gateway: {ok}").into());
            }
            (cl, Some(s))
        }
    };
    cl.wait_connected(Duration::from_secs(30)).await?;
    drop(permit);
    st.connected.fetch_add(1, Relaxed);

    let payload = Bytes::from(vec![0xFFu8; 160]); // PCMU silence
    let mut tick = tokio::time::interval(Duration::from_millis(20));
    let (mut seq, mut ts) = (0u16, 0u32);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = stop.wait_for(|s| *s) => break,
        }
        if cl.send(0, seq, ts, payload.clone()).await.is_ok() {
            st.sent.fetch_add(1, Relaxed);
        }
        seq = seq.wrapping_add(1);
        ts = ts.wrapping_add(160);
    }
    tokio::time::sleep(Duration::from_secs(1)).await; // let the last echoes arrive
    let _ = cl.pc.close().await;
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// gateway side (remote mode): one TCP connection per leg

async fn serve_leg(
    mut s: TcpStream,
    gw: Arc<WebRtcGateway>,
    legs: Arc<Mutex<Vec<WebRtcLeg>>>,
) -> Result<(), BoxErr> {
    s.set_nodelay(true)?;
    let open = read_frame(&mut s).await?;
    let mut parts = open.split_whitespace();
    let (Some("OPEN"), Some(label), Some(peer)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(format!("bad request {open:?}").into());
    };
    let (leg, offer) = gw.open(label, peer.parse()?).await?;
    write_frame(&mut s, offer.as_bytes()).await?;
    let answer = read_frame(&mut s).await?;
    match leg.accept_answer(&answer).await {
        Ok(()) => write_frame(&mut s, b"OK").await?,
        Err(e) => {
            write_frame(&mut s, format!("ERR {e}").as_bytes()).await?;
            return Err(e.into());
        }
    }
    legs.lock().await.push(leg.clone());
    let mut b = [0u8; 1];
    let _ = s.read(&mut b).await; // EOF: client hung up
    leg.close().await;
    Ok(())
}

// ---------------------------------------------------------------------------------------------

fn gateway_for(a: &Args) -> Result<Arc<WebRtcGateway>, BoxErr> {
    let lo = IpAddr::V4(Ipv4Addr::LOCALHOST);
    let max = a.port_min.saturating_add(a.legs as u16 + 50);
    Ok(Arc::new(WebRtcGateway::new(GatewayConfig {
        ice_lite: a.ice_lite,
        ..GatewayConfig::new(lo, lo, a.port_min, max)
    })?))
}

async fn sum_legs(legs: &Mutex<Vec<WebRtcLeg>>) -> (LegStats, usize, Vec<u64>) {
    let legs = legs.lock().await;
    let mut t = LegStats::default();
    let mut connected = 0;
    let mut first = Vec::new();
    for l in legs.iter() {
        let s = l.stats();
        t.to_engine += s.to_engine;
        t.to_browser += s.to_browser;
        t.dropped_from_engine += s.dropped_from_engine;
        if *l.state().borrow() == LegState::Connected {
            connected += 1;
        }
        if let Some(ms) = l.first_media_ms() {
            first.push(ms);
        }
    }
    (t, connected, first)
}

fn print_gateway(legs_n: usize, st: LegStats, connected: usize, mut first: Vec<u64>) {
    println!(
        "gateway: legs connected {connected}/{legs_n}; answer->first browser RTP p50 {} ms p99 {} ms (n={})",
        pct(&mut first, 0.50),
        pct(&mut first, 0.99),
        first.len()
    );
    println!(
        "gateway: forwarded browser->engine {}  engine->browser {}  dropped-from-engine {}",
        st.to_engine, st.to_browser, st.dropped_from_engine
    );
}

fn print_cpu(who: &str, cpu: f64, window: f64, legs: usize, cpu_total: f64, others: f64) {
    let leg_secs = legs.max(1) as f64 * window;
    println!(
        "{who}: CPU {cpu:.2} s in {window:.1} s window = {:.1}% of one core; {:.3} ms CPU per leg-second; process total {cpu_total:.2} s; max RSS {:.0} MiB; other processes used {others:.2} cores meanwhile",
        100.0 * cpu / window,
        1000.0 * cpu / leg_secs,
        max_rss_mib()
    );
}

async fn wait_all(
    connected: impl Fn() -> usize,
    failed: impl Fn() -> usize,
    n: usize,
    limit: Duration,
) {
    let t = Instant::now();
    while connected() + failed() < n && t.elapsed() < limit {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::main]
async fn main() -> Result<(), BoxErr> {
    let a = parse_args()?;
    println!(
        "gw-bench role={} legs={} secs={} concurrency={} ice_lite={} cores={}",
        a.role,
        a.legs,
        a.secs,
        a.concurrency,
        a.ice_lite,
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(0)
    );
    match a.role.as_str() {
        "all" | "client" => run_clients(&a).await,
        "gateway" => run_gateway(&a).await,
        r => Err(format!("unknown role {r}").into()),
    }
}

async fn run_clients(a: &Args) -> Result<(), BoxErr> {
    let echo_st = Arc::new(EchoStats::default());

    let legs = Arc::new(Mutex::new(Vec::new()));
    let (gw, signal) = if a.role == "all" {
        let gw = gateway_for(a)?;
        (
            Some(Arc::clone(&gw)),
            Signal::Local {
                gw,
                legs: Arc::clone(&legs),
            },
        )
    } else {
        (None, Signal::Remote { addr: a.connect })
    };
    let signal = Arc::new(signal);
    let st = Arc::new(ClientStats::default());
    let sem = Arc::new(Semaphore::new(a.concurrency.max(1)));
    let (stop_tx, stop_rx) = watch::channel(false);
    let cpu0 = cpu_secs();
    let t_setup = Instant::now();
    let mut tasks = Vec::new();
    for i in 0..a.legs {
        let (signal, sem, st, echo_st, stop) = (
            Arc::clone(&signal),
            Arc::clone(&sem),
            Arc::clone(&st),
            Arc::clone(&echo_st),
            stop_rx.clone(),
        );
        tasks.push(tokio::spawn(async move {
            if let Err(e) = run_client(i, signal, sem, Arc::clone(&st), echo_st, stop).await {
                st.failed.fetch_add(1, Relaxed);
                eprintln!("leg{i}: {e}");
            }
        }));
    }
    let n = a.legs;
    wait_all(
        || st.connected.load(Relaxed) as usize,
        || st.failed.load(Relaxed) as usize,
        n,
        Duration::from_secs(120),
    )
    .await;
    let setup_secs = t_setup.elapsed().as_secs_f64();
    let cpu_setup = cpu_secs() - cpu0;
    // Steady-state window.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let (c1, e1) = (st.sent.load(Relaxed), echo_st.received.load(Relaxed));
    let cpu1 = cpu_secs();
    let m1 = machine_jiffies();
    let t1 = Instant::now();
    tokio::time::sleep(Duration::from_secs(a.secs)).await;
    let cpu_win = cpu_secs() - cpu1;
    let window = t1.elapsed().as_secs_f64();
    let others = others_cores(m1, machine_jiffies(), cpu_win, window);
    let gw_snapshot = match &gw {
        Some(_) => Some(sum_legs(&legs).await),
        None => None,
    };
    // In remote mode keep sending 2 s longer so the gateway's window is fully loaded.
    if gw.is_none() {
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
    let _ = stop_tx.send(true);
    for t in tasks {
        let _ = t.await;
    }
    let (c2, e2) = (st.sent.load(Relaxed), echo_st.received.load(Relaxed));

    let connected = st.connected.load(Relaxed) as usize;
    let mut setup = st.setup_ms.lock().map(|v| v.clone()).unwrap_or_default();
    let sent = st.sent.load(Relaxed);
    let recv = st.received.load(Relaxed);
    let (er, es) = (echo_st.received.load(Relaxed), echo_st.sent.load(Relaxed));
    println!("--- results ({} mode) ---", a.role);
    println!(
        "legs connected {connected}/{n} (failed {}); all connected after {setup_secs:.1} s (setup CPU {cpu_setup:.2} s)",
        st.failed.load(Relaxed)
    );
    println!(
        "setup offer->first echoed media at client: p50 {} ms  p99 {} ms  max {} ms (n={})",
        pct(&mut setup, 0.50),
        pct(&mut setup, 0.99),
        pct(&mut setup, 1.0),
        setup.len()
    );
    println!(
        "browser->engine: client sent {sent}, engine received {er}, lost {} ({:.3}%)",
        sent as i64 - er as i64,
        100.0 * (sent as f64 - er as f64) / sent.max(1) as f64
    );
    println!(
        "engine->browser: engine sent {es}, client received {recv}, lost {} ({:.3}%)",
        es as i64 - recv as i64,
        100.0 * (es as f64 - recv as f64) / es.max(1) as f64
    );
    println!(
        "window: {:.0} pkt/s per direction (client sent {} / engine got {} in window)",
        (c2 - c1) as f64 / window.max(1e-9),
        c2 - c1,
        e2 - e1
    );
    if let Some((gst, gconn, first)) = gw_snapshot {
        print_gateway(n, gst, gconn, first);
    }
    let who = if a.role == "all" {
        "process (gateway+clients+echo)"
    } else {
        "client process (clients+echo)"
    };
    print_cpu(who, cpu_win, window, connected, cpu_secs(), others);
    Ok(())
}

async fn run_gateway(a: &Args) -> Result<(), BoxErr> {
    let gw = gateway_for(a)?;
    let legs = Arc::new(Mutex::new(Vec::new()));
    let failed = Arc::new(AtomicU64::new(0));
    let listener = TcpListener::bind(a.listen).await?;
    println!("gateway listening on {}", a.listen);
    {
        let (gw, legs, failed) = (Arc::clone(&gw), Arc::clone(&legs), Arc::clone(&failed));
        tokio::spawn(async move {
            while let Ok((s, _)) = listener.accept().await {
                let (gw, legs, failed) = (Arc::clone(&gw), Arc::clone(&legs), Arc::clone(&failed));
                tokio::spawn(async move {
                    if let Err(e) = serve_leg(s, gw, legs).await {
                        failed.fetch_add(1, Relaxed);
                        eprintln!("serve_leg: {e}");
                    }
                });
            }
        });
    }
    // Wait for the first leg, then for all of them to connect.
    while legs.lock().await.is_empty() {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let cpu0 = cpu_secs();
    let t0 = Instant::now();
    loop {
        let (_, connected, _) = sum_legs(&legs).await;
        let failed_legs = legs
            .lock()
            .await
            .iter()
            .filter(|l| *l.state().borrow() == LegState::Failed)
            .count();
        let done = connected + failed_legs + failed.load(Relaxed) as usize;
        if done >= a.legs || t0.elapsed() > Duration::from_secs(120) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    println!(
        "gateway: all connected after {:.1} s, setup CPU {:.2} s",
        t0.elapsed().as_secs_f64(),
        cpu_secs() - cpu0
    );
    tokio::time::sleep(Duration::from_secs(1)).await;
    let (s1, _, _) = sum_legs(&legs).await;
    let cpu1 = cpu_secs();
    let m1 = machine_jiffies();
    let t1 = Instant::now();
    tokio::time::sleep(Duration::from_secs(a.secs)).await;
    let cpu_win = cpu_secs() - cpu1;
    let window = t1.elapsed().as_secs_f64();
    let others = others_cores(m1, machine_jiffies(), cpu_win, window);
    let (s2, connected, first) = sum_legs(&legs).await;
    println!("--- results (gateway mode) ---");
    print_gateway(a.legs, s2, connected, first);
    println!(
        "gateway window: {:.0} pkt/s browser->engine, {:.0} pkt/s engine->browser",
        (s2.to_engine - s1.to_engine) as f64 / window,
        (s2.to_browser - s1.to_browser) as f64 / window
    );
    print_cpu(
        "gateway process (gateway only)",
        cpu_win,
        window,
        connected,
        cpu_secs(),
        others,
    );
    // Keep serving until the clients hang up, so their loss counts are not cut short.
    let t = Instant::now();
    while t.elapsed() < Duration::from_secs(60) {
        let legs = legs.lock().await;
        if legs.iter().all(|l| *l.state().borrow() == LegState::Closed) {
            break;
        }
        drop(legs);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (s3, _, _) = sum_legs(&legs).await;
    println!(
        "gateway totals at hang-up: browser->engine {}  engine->browser {}  dropped-from-engine {}",
        s3.to_engine, s3.to_browser, s3.dropped_from_engine
    );
    Ok(())
}
