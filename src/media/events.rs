//! What a media session tells the call layer, through its event channel, and the per-session
//! statistics it reports (RTCP figures kept per call).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use super::jitter::ReceiveSnapshot;

/// Identifies a session within the engine.
pub type SessionId = u64;

/// Where a digit came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DigitSource {
    /// RFC 4733 telephone-event.
    Rfc4733,
    /// Goertzel detection on the audio.
    InBand,
}

/// What the remote told us about our stream in its last RTCP report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RemoteReport {
    /// Fraction of our packets it lost over its last interval, in 1/256.
    pub fraction_lost: u8,
    /// Packets of ours it lost in total.
    pub cumulative_lost: i32,
    /// Interarrival jitter it sees, in milliseconds.
    pub jitter_ms: u32,
    /// Round-trip time, when its report referred to one of our SRs.
    pub rtt: Option<Duration>,
}

/// Per-session counters and RTCP figures.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SessionStats {
    /// RTP packets accepted from the peer.
    pub rtp_in: u64,
    /// RTP packets sent.
    pub rtp_out: u64,
    /// RTCP packets received / sent.
    pub rtcp_in: u64,
    /// RTCP packets sent.
    pub rtcp_out: u64,
    /// What we received from the peer (loss, jitter in timestamp units, sequence).
    pub receive: ReceiveSnapshot,
    /// Receive jitter in milliseconds.
    pub jitter_ms: u32,
    /// Packets arriving after newer ones were passed on, or duplicates.
    pub late: u64,
    /// Undecodable datagrams.
    pub malformed: u64,
    /// RTP with an unexpected payload type.
    pub wrong_payload_type: u64,
    /// Packets from addresses other than the latched peer.
    pub foreign_source: u64,
    /// The peer's view of our stream.
    pub remote: Option<RemoteReport>,
    /// Address we send to (latched or from SDP).
    pub peer: Option<SocketAddr>,
}

/// Something the call layer should know about one session.
#[derive(Debug, Clone, PartialEq)]
pub enum MediaEvent {
    /// A key press, once per press.
    Digit {
        /// '0'–'9', '*', '#', 'A'–'D'.
        digit: char,
        /// How long it was held.
        duration_ms: u32,
        /// RFC 4733 or in-band.
        source: DigitSource,
    },
    /// A `play` ended (all prompts played, or stopped by barge-in / replacement / stop).
    PromptFinished {
        /// The id `play` returned.
        play_id: u64,
        /// True when it did not play to the end.
        interrupted: bool,
    },
    /// No RTP from the peer for the configured time; the call layer ends the call.
    MediaTimeout {
        /// How long it has been silent.
        silent_for: Duration,
    },
    /// RTP came back after a timeout.
    MediaResumed,
    /// Symmetric RTP latched onto this address (differs from the SDP one behind NAT).
    Latched {
        /// The address the peer's packets come from.
        addr: SocketAddr,
    },
    /// An RTCP report arrived; figures for both directions.
    Rtcp(SessionStats),
    /// A recording file is complete (or failed).
    RecordingFinished {
        /// File written.
        path: PathBuf,
        /// Audio length.
        duration_ms: u64,
        /// What went wrong, if anything (the file may be partial).
        error: Option<String>,
    },
    /// The session is closed and its ports released; final figures.
    Closed(SessionStats),
}
