//! SIP load generator: a UAC that places real calls over UDP (INVITE with a G.711 offer
//! → 100/180/200 → ACK → hold → BYE → 200) at a constant or stepped rate, or opens N
//! dialogs and holds them, and reports calls/s, failures by reason, retransmissions,
//! answer latency and the server's CPU time per call (from /proc).
//!
//! Layout: `uac` is the sans-IO engine (call table + RFC 3261 client timers), `shard`
//! runs one engine per UDP socket on tokio, `driver` sequences steps and measures CPU,
//! `report` formats the result. `fake_uas` is a minimal answering UAS for tests.
//! `caller_media` makes answered calls behave like IVR callers: RTP every 20 ms and RFC 4733
//! key presses on a schedule, counting what the server sends back.

pub mod caller_media;
mod cpu;
mod driver;
pub mod fake_uas;
mod msg;
mod pacer;
mod report;
mod shard;
pub mod stats;
mod timer;
pub mod uac;

#[cfg(test)]
mod driver_tests;
#[cfg(test)]
mod uac_tests;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

pub use driver::{run, run_blocking};
pub use msg::Party;
pub use report::{ConcurrentReport, Report, StepReport};

/// How calls are offered.
#[derive(Clone, Debug, PartialEq)]
pub enum Mode {
    /// `rate` new calls per second for `duration`.
    Constant { rate: f64, duration: Duration },
    /// `start`, `start + step`, … up to `max` calls/s, each for `step_duration`;
    /// stops after the first step with a failed (or not offered) call.
    Stepped {
        start: f64,
        step: f64,
        max: f64,
        step_duration: Duration,
    },
    /// Open `calls` dialogs at `rate` per second, hold them all for
    /// [`Options::hold`] once set up, then BYE them all at `rate` per second.
    Concurrent { calls: u64, rate: f64 },
}

/// Everything a load run needs (the CLI maps its flags onto this).
#[derive(Clone, Debug)]
pub struct Options {
    /// The server under test (UDP).
    pub target: SocketAddr,
    /// User part of the Request-URI and To: the dialled number.
    pub number: String,
    /// User part of From and Contact.
    pub from_user: String,
    /// Local address to bind the sockets to (port chosen by the system).
    /// Unspecified (0.0.0.0) picks the address that routes to `target`.
    pub bind: IpAddr,
    /// UDP sockets, each with its own receive task and share of the calls.
    pub sockets: usize,
    pub mode: Mode,
    /// Time between ACK and BYE (zero: BYE right after ACK). In concurrent mode, how
    /// long all dialogs are held once set up.
    pub hold: Duration,
    /// Calls in flight at most (over all sockets); the pacer skips (and counts as
    /// throttled) calls beyond it.
    pub max_in_flight: usize,
    /// Server process whose CPU time (with its child processes) is measured per step.
    pub server_pid: Option<u32>,
    /// RFC 3261 T1; timers A/E start at it, B/F are 64·T1.
    pub t1: Duration,
    /// Answered calls send RTP (20 ms PCMU silence) as IVR callers do.
    pub rtp: bool,
    /// …and press these keys as RFC 4733 events (implies `rtp`).
    pub digits: Option<caller_media::DigitPlan>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            target: SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 5060),
            number: "+442079460999".into(),
            from_user: "loadgen".into(),
            bind: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            sockets: 4,
            mode: Mode::Constant {
                rate: 100.0,
                duration: Duration::from_secs(10),
            },
            hold: Duration::ZERO,
            max_in_flight: 100_000,
            server_pid: None,
            t1: Duration::from_millis(500),
            rtp: false,
            digits: None,
        }
    }
}
