//! SIP transports, the I/O edge: UDP datagrams and TCP streams in, bytes out.
//!
//! Transports know nothing of SIP beyond stream framing. Every received message is handed as
//! bytes plus its [`Peer`] to one [`Ingress`] callback (the endpoint parses and dispatches it).
//! Responses go back per Via by the endpoint; over TCP, to the connection the request came in
//! on. TLS and WebSocket transports plug in here later as more `Transport` kinds.

mod tcp;
mod udp;

use bytes::Bytes;
use dashmap::DashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use tokio::sync::mpsc;

pub use tcp::spawn_listener as spawn_tcp;
pub use udp::spawn as spawn_udp;

pub use crate::sip::transaction::{Peer, Transport};

/// Identifies one accepted or opened TCP connection (`Peer::conn`).
pub type ConnId = u64;

/// Receives every message a transport reads: raw bytes of one whole message and its peer.
pub type Ingress = Arc<dyn Fn(Bytes, Peer) + Send + Sync>;

/// Handles to send through the running transports.
pub struct Transports {
    udp: Arc<tokio::net::UdpSocket>,
    tcp_local: SocketAddr,
    conns: DashMap<ConnId, Connection>,
    next_conn: AtomicU64,
    ingress: Ingress,
    pub stats: TransportStats,
}

struct Connection {
    remote: SocketAddr,
    tx: mpsc::UnboundedSender<Bytes>,
}

#[derive(Default)]
pub struct TransportStats {
    pub udp_send_errors: AtomicU64,
    pub tcp_send_errors: AtomicU64,
    pub tcp_open: AtomicU64,
}

impl Transports {
    /// Bind the UDP socket and the TCP listener. Fails with a readable error if a port is taken.
    pub async fn bind(
        udp_addr: SocketAddr,
        tcp_addr: SocketAddr,
        ingress: Ingress,
    ) -> std::io::Result<Arc<Transports>> {
        let udp = udp::bind(udp_addr).await?;
        let listener = tokio::net::TcpListener::bind(tcp_addr)
            .await
            .map_err(|e| std::io::Error::new(e.kind(), format!("SIP TCP {tcp_addr}: {e}")))?;
        let t = Arc::new(Transports {
            udp: Arc::new(udp),
            tcp_local: listener.local_addr()?,
            conns: DashMap::new(),
            next_conn: AtomicU64::new(1),
            ingress,
            stats: TransportStats::default(),
        });
        spawn_udp(t.clone());
        spawn_tcp(t.clone(), listener);
        Ok(t)
    }

    pub fn udp_local(&self) -> std::io::Result<SocketAddr> {
        self.udp.local_addr()
    }

    pub fn tcp_local(&self) -> SocketAddr {
        self.tcp_local
    }

    /// Send one whole message. Never blocks the caller: UDP sends are tried at once (a full
    /// socket buffer drops the datagram, as the network might, and SIP retransmits); TCP
    /// data is queued to the connection's writer task, opening a connection when needed.
    pub fn send(self: &Arc<Self>, peer: &Peer, data: Bytes) {
        match peer.transport {
            Transport::Udp => {
                if self.udp.try_send_to(&data, peer.addr).is_err() {
                    self.stats.udp_send_errors.fetch_add(1, Ordering::Relaxed);
                }
            }
            Transport::Tcp => {
                let conn = peer
                    .conn
                    .filter(|c| self.conns.contains_key(c))
                    .or_else(|| {
                        self.conns
                            .iter()
                            .find(|e| e.value().remote == peer.addr)
                            .map(|e| *e.key())
                    });
                match conn {
                    Some(id) => {
                        let sent = self.conns.get(&id).map(|c| c.tx.send(data).is_ok());
                        if sent != Some(true) {
                            self.stats.tcp_send_errors.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                    None => tcp::connect_and_send(self.clone(), peer.addr, data),
                }
            }
            // TLS and WebSocket transports plug in here (later issue); nothing listens for them yet.
            Transport::Tls | Transport::Ws | Transport::Wss => {
                tracing::debug!(transport = %peer.transport, "no such transport running; message dropped");
            }
        }
    }

    /// Whether a TCP connection is still open (for registrations bound to a connection).
    pub fn connection_open(&self, id: ConnId) -> bool {
        self.conns.contains_key(&id)
    }

    fn register_conn(&self, remote: SocketAddr, tx: mpsc::UnboundedSender<Bytes>) -> ConnId {
        let id = self.next_conn.fetch_add(1, Ordering::Relaxed);
        self.conns.insert(id, Connection { remote, tx });
        self.stats.tcp_open.fetch_add(1, Ordering::Relaxed);
        id
    }

    fn unregister_conn(&self, id: ConnId) {
        if self.conns.remove(&id).is_some() {
            self.stats.tcp_open.fetch_sub(1, Ordering::Relaxed);
        }
    }
}
