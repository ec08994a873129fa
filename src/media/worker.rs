//! Pacing worker: one OS thread wakes every 20 ms on an absolute schedule and serves all of its
//! sessions in one pass — applies commands, drains every socket without blocking, then sends one
//! frame per stream. A few workers serve thousands of streams; no task or timer per call.

use std::collections::HashMap;
use std::io::ErrorKind;
use std::net::{SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use super::events::SessionId;
use super::leg::{Command, Leg, Transmit};
use super::ports::{PortPair, PortPool};
use super::rtcp;
use super::stats::{MediaStats, PendingStats};

/// The frame clock.
pub const TICK: Duration = Duration::from_millis(20);
/// A late wake-up sends at most this many ticks at once; older ones are skipped.
const MAX_CATCH_UP: u64 = 5;
/// Datagrams taken from one socket per tick, so a flood on one call cannot starve the others.
const MAX_DRAIN: usize = 32;

/// A session and its sockets, owned by one worker.
pub struct Slot {
    /// The media state.
    pub leg: Leg,
    /// Its sockets.
    pub ports: PortPair,
}

/// Messages to a worker.
pub enum WorkerMsg {
    /// Take over a new session.
    Add(Box<Slot>),
    /// A control request for one session.
    Cmd(SessionId, Command),
    /// Close a session and release its ports.
    Close(SessionId),
    /// Close everything and stop.
    Shutdown,
}

/// One pacing worker.
pub struct Worker {
    rx: mpsc::Receiver<WorkerMsg>,
    slots: Vec<Slot>,
    index: HashMap<SessionId, usize>,
    epoch: Instant,
    stats: Arc<MediaStats>,
    pool: Arc<PortPool>,
    load: Arc<AtomicUsize>,
}

struct SocketTx<'a> {
    rtp: &'a UdpSocket,
    rtcp: &'a UdpSocket,
    stats: &'a MediaStats,
}

impl Transmit for SocketTx<'_> {
    fn rtp(&mut self, to: SocketAddr, data: &[u8]) -> Instant {
        if self.rtp.send_to(data, to).is_err() {
            MediaStats::add(&self.stats.send_errors, 1);
        }
        Instant::now()
    }

    fn rtcp(&mut self, to: SocketAddr, data: &[u8]) {
        if self.rtcp.send_to(data, to).is_err() {
            MediaStats::add(&self.stats.send_errors, 1);
        }
    }
}

fn ntp_now() -> u64 {
    rtcp::ntp_from_unix(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default(),
    )
}

/// Tick number of `now` since `epoch`.
pub fn tick_of(epoch: Instant, now: Instant) -> u64 {
    (now.saturating_duration_since(epoch).as_micros() / TICK.as_micros()) as u64
}

impl Worker {
    /// A worker reading `rx`; `load` counts its sessions (raised by the engine when it hands one
    /// over, lowered here when one closes).
    pub fn new(
        rx: mpsc::Receiver<WorkerMsg>,
        epoch: Instant,
        stats: Arc<MediaStats>,
        pool: Arc<PortPool>,
        load: Arc<AtomicUsize>,
    ) -> Self {
        Worker {
            rx,
            slots: Vec::new(),
            index: HashMap::new(),
            epoch,
            stats,
            pool,
            load,
        }
    }

    /// Runs until shut down.
    pub fn run(mut self) {
        let mut next = tick_of(self.epoch, Instant::now()) + 1;
        let mut buf = vec![0u8; 2048];
        loop {
            let deadline = self.epoch + Duration::from_millis(20 * next);
            let now = Instant::now();
            if deadline > now {
                std::thread::sleep(deadline - now);
            }
            let now = Instant::now();
            let current = tick_of(self.epoch, now).max(next);
            if !self.commands(now) {
                break;
            }
            let ntp = ntp_now();
            self.receive(now, ntp, current, &mut buf);
            let first = next.max(current.saturating_sub(MAX_CATCH_UP - 1));
            if current > next {
                MediaStats::add(&self.stats.ticks_caught_up, current - next);
            }
            for tick in first..=current {
                for slot in &mut self.slots {
                    let mut tx = SocketTx {
                        rtp: &slot.ports.rtp,
                        rtcp: &slot.ports.rtcp,
                        stats: &self.stats,
                    };
                    slot.leg.on_tick(tick, now, ntp, &mut tx);
                }
            }
            for slot in self
                .slots
                .iter_mut()
                .filter(|s| (current + s.leg.id()).is_multiple_of(50))
            {
                slot.leg.flush_stats();
            }
            next = current + 1;
            if now.elapsed() > TICK {
                MediaStats::add(&self.stats.worker_overruns, 1);
            }
        }
        let ids: Vec<SessionId> = self.slots.iter().map(|s| s.leg.id()).collect();
        for id in ids {
            self.remove(id);
        }
    }

    fn commands(&mut self, now: Instant) -> bool {
        loop {
            match self.rx.try_recv() {
                Ok(WorkerMsg::Add(slot)) => {
                    self.index.insert(slot.leg.id(), self.slots.len());
                    self.slots.push(*slot);
                }
                Ok(WorkerMsg::Cmd(id, cmd)) => {
                    if let Some(&i) = self.index.get(&id) {
                        if let Some(slot) = self.slots.get_mut(i) {
                            slot.leg.apply(cmd, now);
                        }
                    }
                }
                Ok(WorkerMsg::Close(id)) => self.remove(id),
                Ok(WorkerMsg::Shutdown) | Err(mpsc::TryRecvError::Disconnected) => return false,
                Err(mpsc::TryRecvError::Empty) => return true,
            }
        }
    }

    fn remove(&mut self, id: SessionId) {
        let Some(i) = self.index.remove(&id) else {
            return;
        };
        if i >= self.slots.len() {
            return;
        }
        let Slot { mut leg, ports } = self.slots.swap_remove(i);
        if let Some(moved) = self.slots.get(i) {
            self.index.insert(moved.leg.id(), i);
        }
        // Sockets closed and ports back in the pool before `Closed` is reported.
        let port = ports.port;
        drop(ports);
        self.pool.release(port);
        self.load.fetch_sub(1, Ordering::Relaxed);
        self.stats.active_sessions.fetch_sub(1, Ordering::Relaxed);
        leg.close();
    }

    fn receive(&mut self, now: Instant, ntp: u64, tick: u64, buf: &mut [u8]) {
        let mut counts = PendingStats::default();
        for slot in &mut self.slots {
            drain(&slot.ports.rtp, buf, &mut counts, |data, from| {
                slot.leg.on_rtp(data, from, now, ntp)
            });
            // RTCP is not urgent: each session's RTCP socket is read every fifth tick.
            if (tick + slot.leg.id()).is_multiple_of(5) {
                drain(&slot.ports.rtcp, buf, &mut counts, |data, from| {
                    slot.leg.on_rtcp(data, from, now, ntp)
                });
            }
        }
        counts.flush(&self.stats);
    }
}

fn drain(
    sock: &UdpSocket,
    buf: &mut [u8],
    counts: &mut PendingStats,
    mut f: impl FnMut(&[u8], SocketAddr),
) {
    for _ in 0..MAX_DRAIN {
        match sock.recv_from(buf) {
            Ok((n, from)) => {
                counts.packets_in += 1;
                counts.bytes_in += n as u64;
                if let Some(data) = buf.get(..n) {
                    f(data, from);
                }
            }
            Err(e) if e.kind() == ErrorKind::WouldBlock => return,
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            // ICMP errors reported on the socket and the like: nothing to read now.
            Err(_) => return,
        }
    }
}
