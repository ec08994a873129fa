//! The I/O edge of the load generator: one connected UDP socket and one tokio task per
//! shard, owning a [`Uac`] engine. The task receives (draining bursts without
//! yielding), ticks every millisecond to start paced calls and run timers, sends what
//! the engine produced, and obeys commands from the driver. With caller media it also owns an
//! unconnected RTP socket: the engine's frames go out from it and the server's come back to it.

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use socket2::{Domain, Protocol, Socket, Type};
use tokio::net::UdpSocket;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use tokio::time::MissedTickBehavior;

use super::caller_media::MediaCounts;
use super::pacer::Pacer;
use super::stats::Stats;
use super::uac::{Load, Uac, UacConfig};

/// Socket buffers we ask for, so bursts are not dropped on our side.
const SOCKET_BUFFER: usize = 4 << 20;
/// Datagrams handled per wake-up before giving the tick a chance.
const RECV_BURST: usize = 128;

pub enum Cmd {
    /// Start calls at `rate`/s, `total` in all.
    Generate {
        rate: f64,
        total: u64,
    },
    /// BYE the held calls at `rate`/s.
    Release {
        rate: f64,
    },
    /// Hold time for calls answered from now on (None: until released).
    SetHold(Option<Duration>),
    Status(oneshot::Sender<Status>),
    TakeStats(oneshot::Sender<Stats>),
}

#[derive(Clone, Copy, Debug, Default)]
pub struct Status {
    /// Still starting or releasing calls.
    pub pacing: bool,
    pub load: Load,
    /// What the callers' media did (None without media).
    pub media: Option<MediaCounts>,
}

pub struct Shard {
    tx: mpsc::UnboundedSender<Cmd>,
    task: JoinHandle<()>,
}

/// A UDP socket bound to `bind`:0 and connected to `target` (if any), with large buffers.
fn open_socket(bind: IpAddr, target: Option<SocketAddr>) -> io::Result<UdpSocket> {
    let domain = if bind.is_ipv4() {
        Domain::IPV4
    } else {
        Domain::IPV6
    };
    let sock = Socket::new(domain, Type::DGRAM, Some(Protocol::UDP))?;
    // Best effort: the kernel caps these at net.core.[rw]mem_max.
    let _ = sock.set_recv_buffer_size(SOCKET_BUFFER);
    let _ = sock.set_send_buffer_size(SOCKET_BUFFER);
    sock.bind(&SocketAddr::new(bind, 0).into())?;
    if let Some(target) = target {
        sock.connect(&target.into())?;
    }
    sock.set_nonblocking(true)?;
    UdpSocket::from_std(sock.into())
}

impl Shard {
    /// Opens the socket (and with `media` an RTP socket on the same address) and starts the
    /// task. `make_cfg` gets the socket's local address (for Via and Contact) and the RTP port.
    pub fn spawn(
        bind: IpAddr,
        target: SocketAddr,
        max_in_flight: usize,
        media: bool,
        make_cfg: impl FnOnce(SocketAddr, Option<u16>) -> UacConfig,
    ) -> io::Result<Shard> {
        let sock = open_socket(bind, Some(target))?;
        let local = sock.local_addr()?;
        let rtp = match media {
            true => Some(open_socket(local.ip(), None)?),
            false => None,
        };
        let rtp_port = match &rtp {
            Some(r) => Some(r.local_addr()?.port()),
            None => None,
        };
        let cfg = make_cfg(local, rtp_port);
        let uac = Uac::new(cfg, Instant::now());
        let (tx, rx) = mpsc::unbounded_channel();
        let task = tokio::spawn(shard_loop(sock, rtp, uac, rx, max_in_flight));
        Ok(Shard { tx, task })
    }

    pub fn send(&self, cmd: Cmd) {
        let _ = self.tx.send(cmd);
    }

    /// The shard's state, or None if its task has ended.
    pub async fn status(&self) -> Option<Status> {
        let (tx, rx) = oneshot::channel();
        self.send(Cmd::Status(tx));
        rx.await.ok()
    }

    pub async fn take_stats(&self) -> Stats {
        let (tx, rx) = oneshot::channel();
        self.send(Cmd::TakeStats(tx));
        rx.await.unwrap_or_default()
    }
}

impl Drop for Shard {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn flush(sock: &UdpSocket, uac: &mut Uac, out: &mut Vec<Vec<u8>>) {
    for d in out.drain(..) {
        let sent = match sock.try_send(&d) {
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => sock.send(&d).await,
            other => other,
        };
        if sent.is_err() {
            uac.note_send_error();
        }
    }
}

/// Sends the media frames; a full socket buffer drops the frame (as a network would).
fn flush_rtp(rtp: Option<&UdpSocket>, uac: &mut Uac, out: &mut Vec<(SocketAddr, Vec<u8>)>) {
    let Some(rtp) = rtp else {
        out.clear();
        return;
    };
    for (to, d) in out.drain(..) {
        if rtp.try_send_to(&d, to).is_err() {
            uac.note_send_error();
        }
    }
}

/// Receives on the RTP socket, or pends forever without one.
async fn recv_rtp(rtp: Option<&UdpSocket>, buf: &mut [u8]) -> io::Result<SocketAddr> {
    match rtp {
        Some(r) => r.recv_from(buf).await.map(|(_, from)| from),
        None => std::future::pending().await,
    }
}

async fn shard_loop(
    sock: UdpSocket,
    rtp: Option<UdpSocket>,
    mut uac: Uac,
    mut rx: mpsc::UnboundedReceiver<Cmd>,
    max_in_flight: usize,
) {
    let mut buf = vec![0u8; 65_535];
    let mut rtp_buf = vec![0u8; 2048];
    let mut out: Vec<Vec<u8>> = Vec::with_capacity(256);
    let mut rtp_out: Vec<(SocketAddr, Vec<u8>)> = Vec::with_capacity(256);
    let mut generate: Option<Pacer> = None;
    let mut release: Option<Pacer> = None;
    let mut tick = tokio::time::interval(Duration::from_millis(1));
    tick.set_missed_tick_behavior(MissedTickBehavior::Skip);
    loop {
        tokio::select! {
            r = sock.recv(&mut buf) => {
                // Errors here are ICMP unreachables on the connected socket: the
                // lost requests show up as retransmissions and timeouts.
                if let Ok(n) = r {
                    uac.on_datagram(buf.get(..n).unwrap_or(&[]), Instant::now(), &mut out);
                }
                for _ in 0..RECV_BURST {
                    match sock.try_recv(&mut buf) {
                        Ok(n) => uac.on_datagram(buf.get(..n).unwrap_or(&[]), Instant::now(), &mut out),
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                        Err(_) => {}
                    }
                }
            }
            r = recv_rtp(rtp.as_ref(), &mut rtp_buf) => {
                if let Ok(from) = r {
                    uac.on_rtp(from);
                }
                if let Some(rtp) = rtp.as_ref() {
                    for _ in 0..RECV_BURST {
                        match rtp.try_recv_from(&mut rtp_buf) {
                            Ok((_, from)) => uac.on_rtp(from),
                            Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                            Err(_) => {}
                        }
                    }
                }
            }
            _ = tick.tick() => {
                let now = Instant::now();
                uac.media_tick(now, &mut rtp_out);
                flush_rtp(rtp.as_ref(), &mut uac, &mut rtp_out);
                if let Some(p) = &mut generate {
                    for _ in 0..p.due(now) {
                        if uac.load().in_flight >= max_in_flight {
                            uac.note_throttled(1);
                        } else {
                            uac.start_call(now, &mut out);
                        }
                    }
                    if p.finished() {
                        generate = None;
                    }
                }
                if let Some(p) = &mut release {
                    let due = p.due(now) as usize;
                    if uac.release(due, now, &mut out) < due {
                        release = None;
                    }
                }
                uac.on_timers(now, &mut out);
            }
            cmd = rx.recv() => match cmd {
                None => break,
                Some(Cmd::Generate { rate, total }) => {
                    generate = Some(Pacer::new(Instant::now(), rate, Some(total)));
                }
                Some(Cmd::Release { rate }) => {
                    release = Some(Pacer::new(Instant::now(), rate, None));
                }
                Some(Cmd::SetHold(hold)) => uac.set_hold(hold),
                Some(Cmd::Status(reply)) => {
                    let pacing = generate.is_some() || release.is_some();
                    let _ = reply.send(Status { pacing, load: uac.load(), media: uac.media_counts() });
                }
                Some(Cmd::TakeStats(reply)) => {
                    let _ = reply.send(uac.take_stats());
                }
            },
        }
        flush(&sock, &mut uac, &mut out).await;
    }
}
