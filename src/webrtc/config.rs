//! Gateway configuration.

use std::net::IpAddr;

use super::error::GatewayError;

/// Where the browser-facing (ICE/DTLS/SRTP) sockets live.
///
/// Each leg gets its own UDP port from `udp_port_min..=udp_port_max` (one socket per leg,
/// rtcp-mux + BUNDLE, so one port per call). webrtc 0.21 has no UDP mux: its driver binds its
/// own socket(s) per peer connection. One port per leg also lets the kernel demultiplex by
/// 5-tuple for free and keeps every leg's receive loop independent, so legs spread over all
/// tokio workers; 300 legs need a 300-port range to open on the firewall.
#[derive(Debug, Clone)]
pub struct GatewayConfig {
    /// Local address the browser-facing sockets bind to (a concrete interface address, or
    /// `0.0.0.0` to let webrtc bind every non-loopback interface).
    pub bind_ip: IpAddr,
    /// Address advertised in the host candidates (1:1 NAT). Equal to `bind_ip` when not NATed.
    pub public_ip: IpAddr,
    /// First port of the browser-facing range (inclusive).
    pub udp_port_min: u16,
    /// Last port of the browser-facing range (inclusive).
    pub udp_port_max: u16,
    /// Offer as an ICE-lite agent (`a=ice-lite`: only answer the browser's checks).
    ///
    /// Measured against headless Chromium 156 on loopback, ICE-lite costs ~1.6 s of call setup
    /// (answer → first media ≈ 1.68 s vs ≈ 0.08 s with full ICE): Chrome, controlling against
    /// a lite peer, nominates on a later ping and starts DTLS late. Full ICE here still gathers
    /// host candidates only and learns the browser's address from its checks (peer-reflexive),
    /// so it needs no STUN/TURN either. Default (see [`GatewayConfig::new`]): `false`.
    pub ice_lite: bool,
}

impl GatewayConfig {
    /// Config with full ICE (see [`GatewayConfig::ice_lite`]).
    pub fn new(bind_ip: IpAddr, public_ip: IpAddr, udp_port_min: u16, udp_port_max: u16) -> Self {
        Self {
            bind_ip,
            public_ip,
            udp_port_min,
            udp_port_max,
            ice_lite: false,
        }
    }

    /// Checks the config; called by [`WebRtcGateway::new`](super::WebRtcGateway::new).
    pub fn validate(&self) -> Result<(), GatewayError> {
        if self.udp_port_min == 0 || self.udp_port_min > self.udp_port_max {
            return Err(GatewayError::Config(format!(
                "udp port range {}-{} is empty or starts at 0",
                self.udp_port_min, self.udp_port_max
            )));
        }
        if self.public_ip.is_unspecified() {
            return Err(GatewayError::Config(
                "public_ip must be an address browsers can reach, not unspecified".into(),
            ));
        }
        if self.bind_ip.is_ipv4() != self.public_ip.is_ipv4() {
            return Err(GatewayError::Config(
                "bind_ip and public_ip must be the same address family".into(),
            ));
        }
        Ok(())
    }

    /// Number of legs the port range can hold at once.
    pub fn capacity(&self) -> usize {
        usize::from(self.udp_port_max.saturating_sub(self.udp_port_min)) + 1
    }
}
