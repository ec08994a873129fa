//! The I/O edge of the load generator: one connected UDP socket and one tokio task per
//! shard, owning a [`Uac`] engine. The task receives (draining bursts without
//! yielding), ticks every millisecond to start paced calls and run timers, sends what
//! the engine produced, and obeys commands from the driver.

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use socket2::{Domain, Protocol, Socket, Type};
use tokio::net::UdpSocket;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use tokio::time::MissedTickBehavior;

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
}

pub struct Shard {
    tx: mpsc::UnboundedSender<Cmd>,
    task: JoinHandle<()>,
}

/// A UDP socket bound to `bind`:0 and connected to `target`, with large buffers.
fn open_socket(bind: IpAddr, target: SocketAddr) -> io::Result<UdpSocket> {
    let domain = if target.is_ipv4() {
        Domain::IPV4
    } else {
        Domain::IPV6
    };
    let sock = Socket::new(domain, Type::DGRAM, Some(Protocol::UDP))?;
    // Best effort: the kernel caps these at net.core.[rw]mem_max.
    let _ = sock.set_recv_buffer_size(SOCKET_BUFFER);
    let _ = sock.set_send_buffer_size(SOCKET_BUFFER);
    sock.bind(&SocketAddr::new(bind, 0).into())?;
    sock.connect(&target.into())?;
    sock.set_nonblocking(true)?;
    UdpSocket::from_std(sock.into())
}

impl Shard {
    /// Opens the socket and starts the task. `make_cfg` gets the socket's local
    /// address (for Via and Contact).
    pub fn spawn(
        bind: IpAddr,
        target: SocketAddr,
        max_in_flight: usize,
        make_cfg: impl FnOnce(SocketAddr) -> UacConfig,
    ) -> io::Result<Shard> {
        let sock = open_socket(bind, target)?;
        let cfg = make_cfg(sock.local_addr()?);
        let uac = Uac::new(cfg, Instant::now());
        let (tx, rx) = mpsc::unbounded_channel();
        let task = tokio::spawn(shard_loop(sock, uac, rx, max_in_flight));
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

async fn shard_loop(
    sock: UdpSocket,
    mut uac: Uac,
    mut rx: mpsc::UnboundedReceiver<Cmd>,
    max_in_flight: usize,
) {
    let mut buf = vec![0u8; 65_535];
    let mut out: Vec<Vec<u8>> = Vec::with_capacity(256);
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
            _ = tick.tick() => {
                let now = Instant::now();
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
                    let _ = reply.send(Status { pacing, load: uac.load() });
                }
                Some(Cmd::TakeStats(reply)) => {
                    let _ = reply.send(uac.take_stats());
                }
            },
        }
        flush(&sock, &mut uac, &mut out).await;
    }
}
