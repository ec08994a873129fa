//! UDP: one socket, a couple of receive tasks, each datagram one message.

use super::{Peer, Transports};
use bytes::Bytes;
use std::net::SocketAddr;
use std::sync::Arc;

/// Largest datagram we accept; larger ones are truncated by the kernel and fail to parse.
const MAX_DATAGRAM: usize = 65_535;

pub(super) async fn bind(addr: SocketAddr) -> std::io::Result<tokio::net::UdpSocket> {
    let sock = socket2_bind(addr)
        .map_err(|e| std::io::Error::new(e.kind(), format!("SIP UDP {addr}: {e}")))?;
    tokio::net::UdpSocket::from_std(sock)
}

/// A non-blocking socket with large buffers (bursts of thousands of calls per second).
fn socket2_bind(addr: SocketAddr) -> std::io::Result<std::net::UdpSocket> {
    use socket2::{Domain, Protocol, Socket, Type};
    let sock = Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP))?;
    // Best effort: the kernel caps these at net.core.[rw]mem_max.
    let _ = sock.set_recv_buffer_size(4 * 1024 * 1024);
    let _ = sock.set_send_buffer_size(4 * 1024 * 1024);
    sock.bind(&addr.into())?;
    sock.set_nonblocking(true)?;
    Ok(sock.into())
}

pub fn spawn(t: Arc<Transports>) {
    for _ in 0..2 {
        let t = t.clone();
        let ingress = t.ingress.clone();
        tokio::spawn(async move {
            let mut buf = vec![0u8; MAX_DATAGRAM];
            loop {
                match t.udp.recv_from(&mut buf).await {
                    Ok((n, from)) => {
                        // Keepalives (CRLF) carry no message.
                        if buf[..n]
                            .iter()
                            .all(|b| matches!(b, b'\r' | b'\n' | b' ' | b'\0'))
                        {
                            continue;
                        }
                        ingress(Bytes::copy_from_slice(&buf[..n]), Peer::udp(from));
                    }
                    // ICMP port unreachable from an earlier send shows up here on Linux: ignore.
                    Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => {}
                    Err(e) => {
                        tracing::warn!(error = %e, "SIP UDP receive failed");
                        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                    }
                }
            }
        });
    }
}
