//! The RTP port range: even ports for RTP, the odd port above for RTCP, handed out least
//! recently used first (so a late packet of an ended call rarely reaches a new one), skipping
//! ports another program holds.

use std::collections::VecDeque;
use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::sync::Mutex;

/// The pool of port pairs.
#[derive(Debug)]
pub struct PortPool {
    free: Mutex<VecDeque<u16>>,
}

/// A bound RTP/RTCP socket pair.
#[derive(Debug)]
pub struct PortPair {
    /// Even RTP port.
    pub port: u16,
    /// RTP socket (non-blocking).
    pub rtp: UdpSocket,
    /// RTCP socket (non-blocking), port + 1.
    pub rtcp: UdpSocket,
}

impl PortPool {
    /// Pairs for every even port in `min..=max` whose odd neighbour is also in range.
    pub fn new(min: u16, max: u16) -> Self {
        let first = min + (min % 2);
        let free = (first..max).step_by(2).collect();
        PortPool {
            free: Mutex::new(free),
        }
    }

    /// Pairs not in use.
    pub fn available(&self) -> usize {
        self.free.lock().map(|f| f.len()).unwrap_or(0)
    }

    /// Binds the next free pair on `ip`; ports held by others go to the back of the queue.
    pub fn bind(&self, ip: IpAddr) -> std::io::Result<PortPair> {
        let mut free = self.free.lock().unwrap_or_else(|e| e.into_inner());
        let mut last_err = None;
        for _ in 0..free.len() {
            let Some(port) = free.pop_front() else { break };
            match bind_pair(ip, port) {
                Ok((rtp, rtcp)) => return Ok(PortPair { port, rtp, rtcp }),
                Err(e) => {
                    last_err = Some(e);
                    free.push_back(port);
                }
            }
        }
        Err(last_err.unwrap_or_else(|| {
            std::io::Error::new(
                std::io::ErrorKind::AddrNotAvailable,
                "RTP port range exhausted; widen rtp_port_min..rtp_port_max",
            )
        }))
    }

    /// Returns a pair after its sockets are closed.
    pub fn release(&self, port: u16) {
        let mut free = self.free.lock().unwrap_or_else(|e| e.into_inner());
        free.push_back(port);
    }
}

fn bind_pair(ip: IpAddr, port: u16) -> std::io::Result<(UdpSocket, UdpSocket)> {
    let rtp = UdpSocket::bind(SocketAddr::new(ip, port))?;
    let rtcp = UdpSocket::bind(SocketAddr::new(ip, port + 1))?;
    rtp.set_nonblocking(true)?;
    rtcp.set_nonblocking(true)?;
    Ok((rtp, rtcp))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn even_pairs_lru_and_skips_busy_ports() {
        // Below Linux's ephemeral range (32768+), so no outgoing socket elsewhere takes them.
        let pool = PortPool::new(17001, 17008);
        assert_eq!(pool.available(), 3); // 17002, 17004, 17006
        let ip: IpAddr = "127.0.0.1".parse().unwrap();
        let blocker = UdpSocket::bind("127.0.0.1:17003").unwrap(); // RTCP of the first pair
        let a = pool.bind(ip).unwrap();
        assert_eq!(a.port, 17004);
        assert_eq!(a.rtcp.local_addr().unwrap().port(), 17005);
        drop(blocker);
        let b = pool.bind(ip).unwrap();
        assert_eq!(b.port, 17006);
        let c = pool.bind(ip).unwrap();
        assert_eq!(c.port, 17002);
        assert!(pool.bind(ip).is_err());
        drop(a);
        pool.release(17004);
        assert_eq!(pool.bind(ip).unwrap().port, 17004);
    }
}
