//! Symmetric RTP latching with RTP Bleed protection. After an answer or re-INVITE the stream
//! latches onto the address its first packet comes from (phones behind NAT); during the first
//! `window` packets the address from the SDP may still take over (a spoofed first packet does not
//! win against the real phone); after that, packets from any other address are dropped.
//! A latch may be pinned to one IP (the caller's signalling source): packets from any other IP
//! are dropped and never latched, whatever the window.

use std::net::{IpAddr, SocketAddr};

/// What to do with a packet from a given source.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// From the current peer.
    Accept,
    /// Accepted, and the peer address changed to this one.
    Latched(SocketAddr),
    /// From somewhere else: drop and count.
    Reject,
}

/// Latching state of one socket (RTP or RTCP).
#[derive(Debug, Clone)]
pub struct Latch {
    signalled: SocketAddr,
    latched: Option<SocketAddr>,
    window: u32,
    left: u32,
    pin: Option<IpAddr>,
}

impl Latch {
    /// Latch state for the SDP address; `window` packets of learning (0 = strict: SDP only).
    pub fn new(signalled: SocketAddr, window: u32) -> Self {
        Latch {
            signalled,
            latched: None,
            window,
            left: window,
            pin: None,
        }
    }

    /// Accept packets only from `ip` (None: from anywhere the latching rules allow).
    pub fn pin(&mut self, ip: Option<IpAddr>) {
        self.pin = ip;
    }

    /// New offer/answer: learn again, from a possibly new SDP address.
    pub fn restart(&mut self, signalled: SocketAddr) {
        self.signalled = signalled;
        self.latched = None;
        self.left = self.window;
    }

    /// Where packets for the peer go.
    pub fn destination(&self) -> SocketAddr {
        self.latched.unwrap_or(self.signalled)
    }

    /// Whether learning is over.
    pub fn is_locked(&self) -> bool {
        self.left == 0
    }

    /// Judges one packet from `from`.
    pub fn check(&mut self, from: SocketAddr) -> Verdict {
        if self.pin.is_some_and(|ip| ip != from.ip()) {
            return Verdict::Reject;
        }
        if self.window == 0 {
            return if from == self.signalled {
                Verdict::Accept
            } else {
                Verdict::Reject
            };
        }
        if self.left == 0 {
            return if Some(from) == self.latched {
                Verdict::Accept
            } else {
                Verdict::Reject
            };
        }
        match self.latched {
            Some(current) if current == from => {
                self.left -= 1;
                Verdict::Accept
            }
            Some(_) if from != self.signalled => Verdict::Reject,
            previous => {
                // First packet, or the SDP address showing up after a stranger latched first.
                self.latched = Some(from);
                self.left -= 1;
                if previous.is_none() && from == self.signalled {
                    Verdict::Accept // nothing changes for the sender
                } else {
                    Verdict::Latched(from)
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn a(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    #[test]
    fn latches_to_nat_address_then_locks() {
        let mut l = Latch::new(a("192.168.1.10:4000"), 3);
        assert_eq!(
            l.check(a("203.0.113.5:61000")),
            Verdict::Latched(a("203.0.113.5:61000"))
        );
        assert_eq!(l.destination(), a("203.0.113.5:61000"));
        assert_eq!(l.check(a("203.0.113.5:61000")), Verdict::Accept);
        assert_eq!(l.check(a("198.51.100.1:9")), Verdict::Reject);
        assert_eq!(l.check(a("203.0.113.5:61000")), Verdict::Accept);
        assert!(l.is_locked());
        // RTP Bleed: a stranger after the window never takes over, nor does the SDP address.
        assert_eq!(l.check(a("198.51.100.1:9")), Verdict::Reject);
        assert_eq!(l.check(a("192.168.1.10:4000")), Verdict::Reject);
        assert_eq!(l.destination(), a("203.0.113.5:61000"));
    }

    #[test]
    fn signalled_address_beats_a_racing_stranger() {
        let mut l = Latch::new(a("10.1.1.1:5000"), 5);
        assert_eq!(
            l.check(a("198.51.100.1:9")),
            Verdict::Latched(a("198.51.100.1:9"))
        );
        assert_eq!(
            l.check(a("10.1.1.1:5000")),
            Verdict::Latched(a("10.1.1.1:5000"))
        );
        assert_eq!(l.check(a("198.51.100.1:9")), Verdict::Reject);
        assert_eq!(l.destination(), a("10.1.1.1:5000"));
    }

    #[test]
    fn reinvite_reopens_learning() {
        let mut l = Latch::new(a("10.1.1.1:5000"), 1);
        l.check(a("10.1.1.1:5000"));
        assert_eq!(l.check(a("10.9.9.9:7000")), Verdict::Reject);
        l.restart(a("10.9.9.9:7000"));
        assert_eq!(l.check(a("10.9.9.9:7000")), Verdict::Accept);
        assert_eq!(l.destination(), a("10.9.9.9:7000"));
    }

    #[test]
    fn a_pinned_latch_ignores_other_addresses_and_latches_to_the_pinned_ip() {
        let mut l = Latch::new(a("127.0.0.1:4000"), 5);
        l.pin(Some("127.0.0.1".parse().unwrap()));
        assert_eq!(l.check(a("127.0.0.9:4000")), Verdict::Reject);
        assert_eq!(l.destination(), a("127.0.0.1:4000"));
        assert_eq!(
            l.check(a("127.0.0.1:5000")),
            Verdict::Latched(a("127.0.0.1:5000"))
        );
        assert_eq!(l.destination(), a("127.0.0.1:5000"));
        for _ in 0..10 {
            assert_eq!(l.check(a("192.0.2.1:5000")), Verdict::Reject);
        }
        assert_eq!(l.destination(), a("127.0.0.1:5000"));
    }

    #[test]
    fn strict_mode_accepts_only_sdp_address() {
        let mut l = Latch::new(a("10.1.1.1:5000"), 0);
        assert_eq!(l.check(a("10.1.1.1:5000")), Verdict::Accept);
        assert_eq!(l.check(a("10.1.1.1:5001")), Verdict::Reject);
    }
}
