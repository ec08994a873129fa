//! Browser-facing UDP port allocation.
//!
//! Ports are handed out least-recently-used first, so a port freed by a finished call is the
//! last to be reused (stray packets from the old browser hit a closed port, not a new call).

use std::collections::VecDeque;
use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::sync::{Arc, Mutex};

use super::error::GatewayError;

#[derive(Debug)]
pub(crate) struct PortPool {
    ip: IpAddr,
    min: u16,
    max: u16,
    free: Mutex<VecDeque<u16>>,
}

/// A port taken from the pool; goes back to the end of the free list when dropped.
#[derive(Debug)]
pub(crate) struct PortLease {
    pool: Arc<PortPool>,
    port: u16,
}

impl PortPool {
    pub(crate) fn new(ip: IpAddr, min: u16, max: u16) -> Arc<Self> {
        Arc::new(Self {
            ip,
            min,
            max,
            free: Mutex::new((min..=max).collect()),
        })
    }

    /// Takes the least recently used port that can actually be bound right now.
    ///
    /// A port held by another process is skipped (and put back at the end).
    pub(crate) fn acquire(self: &Arc<Self>) -> Result<PortLease, GatewayError> {
        let mut free = self.free.lock().unwrap_or_else(|p| p.into_inner());
        for _ in 0..free.len() {
            let Some(port) = free.pop_front() else { break };
            // Probe: the webrtc driver binds this port itself a moment later.
            match UdpSocket::bind(SocketAddr::new(self.ip, port)) {
                Ok(_probe) => {
                    return Ok(PortLease {
                        pool: Arc::clone(self),
                        port,
                    });
                }
                Err(err) => {
                    tracing::debug!(port, %err, "webrtc port busy, skipping");
                    free.push_back(port);
                }
            }
        }
        Err(GatewayError::NoFreePort {
            ip: self.ip,
            min: self.min,
            max: self.max,
        })
    }

    pub(crate) fn free_count(&self) -> usize {
        self.free.lock().map(|f| f.len()).unwrap_or(0)
    }
}

impl PortLease {
    pub(crate) fn port(&self) -> u16 {
        self.port
    }
}

impl Drop for PortLease {
    fn drop(&mut self) {
        if let Ok(mut free) = self.pool.free.lock() {
            free.push_back(self.port);
        }
    }
}
