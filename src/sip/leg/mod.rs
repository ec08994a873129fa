//! B2BUA call legs as sans-IO state machines on top of the transaction layer.
//!
//! A [`Legs`] owns the [`TransactionLayer`](crate::sip::transaction::TransactionLayer)
//! and every call leg: UAS legs (incoming calls) and UAC legs (outgoing calls to agent
//! phones or trunks). The transport edge feeds it messages and the clock; the call layer
//! drives legs with high-level commands (ring, answer, reject, call, cancel, hangup,
//! re-INVITE) and reads [`Output`]s: bytes to send, new incoming calls, out-of-dialog
//! requests and [`LegEvent`]s (Ringing, Answered, Failed, Cancelled, Ended, ReInvite...).
//!
//! The edge's loop, in outline (sockets and the clock stay outside):
//!
//! ```
//! use std::time::Instant;
//! use helpline::sip::leg::{LegConfig, LegEvent, Legs, Output};
//! use helpline::sip::message::Message;
//! use helpline::sip::transaction::{Peer, TimerConfig};
//!
//! let mut legs = Legs::new(TimerConfig::default(), LegConfig::default(), 0x5eed);
//! # let datagram = b"OPTIONS sip:x@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK1\r\nFrom: <sip:a@b>;tag=1\r\nTo: <sip:x@127.0.0.1>\r\nCall-ID: c\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n";
//! # let src = Peer::udp("127.0.0.1:5070".parse().unwrap());
//! // on a datagram or a framed TCP message:
//! if let Ok(msg) = Message::parse(datagram) {
//!     legs.on_message(msg, src, Instant::now());
//! }
//! // when the earliest deadline passes:
//! if legs.poll_timeout().is_some_and(|t| t <= Instant::now()) {
//!     legs.on_timer(Instant::now());
//! }
//! while let Some(out) = legs.poll_output() {
//!     match out {
//!         Output::Send { to, msg, .. } => { /* write msg.to_bytes() to `to` */ }
//!         Output::IncomingCall { leg, .. } => { /* legs.ring / answer / reject */ }
//!         Output::Leg { leg, event: LegEvent::Ended { .. } } => { /* call over */ }
//!         Output::Request { tx, request, .. } => { /* OPTIONS, REGISTER: legs.respond */ }
//!         _ => {}
//!     }
//! }
//! ```
//!
//! Session timers (RFC 4028, `timer.rs`): legs negotiate `Session-Expires` per
//! [`LegConfig::session_expires`] / [`LegConfig::min_se`], refresh on their own when they
//! are the refresher, and end with [`EndCause::SessionExpired`] (after sending BYE) when a
//! session is not refreshed in time; [`Legs::poll_timeout`] covers those deadlines too.
//!
//! `100 Trying` is left to the INVITE server transaction (sent after
//! `TimerConfig::trying_delay`, 200 ms by default, unless the call layer rings or
//! answers first), which saves one message per quickly answered call.

mod ctx;
mod dispatch;
mod session;
mod set;
mod timer;
mod uac;
mod uas;

#[cfg(test)]
mod bench;
#[cfg(test)]
mod test_util;
#[cfg(test)]
mod tests_session;
#[cfg(test)]
mod tests_timer;
#[cfg(test)]
mod tests_uac;
#[cfg(test)]
mod tests_uas;

use std::fmt;
use std::sync::Arc;

use bytes::Bytes;

use crate::sip::message::{Message, NameAddr, Request, Response, Uri};
use crate::sip::transaction::{Peer, TxId};

pub use set::Legs;

/// Handle of one call leg. Never reused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct LegId(pub u64);

impl fmt::Display for LegId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "leg{}", self.0)
    }
}

/// Who ended a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EndedBy {
    Local,
    Remote,
}

/// Why a call ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EndCause {
    /// A BYE (sent or received).
    Bye,
    /// No ACK for our 2xx within 64*T1 (we sent BYE).
    AckTimeout,
    /// An in-dialog request got 481/408 or timed out: the peer lost the dialog.
    DialogGone,
    /// The transport failed for an in-dialog request.
    TransportError,
    /// RFC 4028 session timer: the peer did not refresh the session in time, or our
    /// refresh got 408/481 or timed out (we sent BYE). The far end is gone.
    SessionExpired,
}

/// What happened on a leg, for the call layer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LegEvent {
    /// UAC: 180/183 (with the early SDP answer, if any).
    Ringing { status: u16, sdp: Option<Bytes> },
    /// UAC: a 2xx arrived and was ACKed; `sdp` is the answer.
    Answered { sdp: Option<Bytes> },
    /// UAS: the ACK for our 2xx arrived (with SDP when the offer was in our 2xx).
    Confirmed { sdp: Option<Bytes> },
    /// UAC: final failure (3xx–6xx; 408 on timeout, 503 on transport error).
    Failed { status: u16, reason: String },
    /// UAS: the caller cancelled (200 to CANCEL and 487 sent). UAC: our CANCEL took effect.
    Cancelled,
    /// UAC: 401/407. Answer with [`Legs::authorize`] or give up with [`Legs::hangup`].
    /// `challenges` are the WWW-Authenticate / Proxy-Authenticate values.
    NeedsAuth {
        status: u16,
        challenges: Vec<String>,
    },
    /// The peer sent a re-INVITE (hold/unhold, or an RFC 4028 session refresh, usually
    /// with its SDP unchanged). Answer with [`Legs::answer_reinvite`] (which also refreshes
    /// the session timer) or [`Legs::reject_reinvite`]. The session refreshes we send
    /// ourselves are never reported.
    ReInvite { sdp: Option<Bytes> },
    /// Our re-INVITE got its final response (`sdp` with a 2xx).
    ReInviteDone { status: u16, sdp: Option<Bytes> },
    /// Another in-dialog request (INFO, OPTIONS, UPDATE, NOTIFY, REFER...). Answer with
    /// [`Legs::respond`].
    Request { tx: TxId, request: Request },
    /// The dialog is over.
    Ended { by: EndedBy, cause: EndCause },
}

/// What [`Legs`] asks the edge or the call layer to do.
#[derive(Debug, Clone)]
pub enum Output {
    /// Transmit (see [`crate::sip::transaction::Action::Send`]).
    Send {
        to: Peer,
        msg: Arc<Message>,
        tx: Option<TxId>,
    },
    /// A new INVITE outside any dialog: a UAS leg exists in state Incoming. Ring,
    /// answer or reject it.
    IncomingCall {
        leg: LegId,
        invite: Request,
        from: Peer,
    },
    /// An event on a leg.
    Leg { leg: LegId, event: LegEvent },
    /// An out-of-dialog request that is not INVITE/CANCEL/ACK (OPTIONS, REGISTER,
    /// MESSAGE, unknown methods): answer with [`Legs::respond`].
    Request {
        tx: TxId,
        request: Request,
        from: Peer,
    },
    /// A response to a request sent with [`Legs::send_request`].
    Response { tx: TxId, response: Response },
    /// A request sent with [`Legs::send_request`] timed out (`timeout`) or hit a
    /// transport error.
    RequestFailed { tx: TxId, timeout: bool },
    /// The leg's state is gone (all its transactions ended); its id is dead.
    LegFreed { leg: LegId },
}

/// Why a command on a leg was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LegError {
    UnknownLeg,
    /// The command does not fit the leg's state (e.g. answer after CANCEL).
    InvalidState(&'static str),
    /// A re-INVITE is already in progress on this dialog.
    Pending,
    /// Building or sending the request failed.
    Send(&'static str),
}

impl fmt::Display for LegError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LegError::UnknownLeg => f.write_str("unknown or freed leg"),
            LegError::InvalidState(why) => write!(f, "leg state does not allow this: {why}"),
            LegError::Pending => f.write_str("a re-INVITE is already in progress"),
            LegError::Send(why) => write!(f, "cannot send: {why}"),
        }
    }
}

impl std::error::Error for LegError {}

/// Local identity of this server in Via and Contact.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LegConfig {
    /// Host (IP) written in Via sent-by and Contact (IPv6 in brackets: `[2001:db8::1]`).
    pub local_host: String,
    pub local_port: u16,
    /// User part of our Contact.
    pub contact_user: String,
    /// `Allow` sent in 2xx to INVITE.
    pub allow: String,
    /// UAC: how many 401/407 challenges in a row are answered before failing.
    pub max_auth_attempts: u32,
    /// RFC 4028 session interval we ask for (UAC) or reduce to (UAS), seconds; 0 turns
    /// session timers off (no `Supported: timer`, no refreshes, no expiry).
    pub session_expires: u32,
    /// Smallest session interval we accept (422 with this Min-SE below it), seconds.
    pub min_se: u32,
}

impl Default for LegConfig {
    fn default() -> Self {
        LegConfig {
            local_host: "127.0.0.1".into(),
            local_port: 5060,
            contact_user: "helpline".into(),
            allow: "INVITE, ACK, CANCEL, BYE, OPTIONS, UPDATE".into(),
            max_auth_attempts: 2,
            session_expires: 1800,
            min_se: 90,
        }
    }
}

/// An outgoing call (UAC leg) to place with [`Legs::call`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutgoingCall {
    /// Where to send the INVITE (the agent's registered flow, or the trunk).
    pub target: Peer,
    /// Request-URI (the agent's Contact or `sip:<number>@trunk`).
    pub uri: Uri,
    /// From (our identity towards the callee; a tag is added).
    pub from: NameAddr,
    /// To.
    pub to: NameAddr,
    /// SDP offer.
    pub sdp: Option<Bytes>,
    /// Extra headers (P-Asserted-Identity, Route to an outbound proxy, ...).
    pub headers: Vec<(String, String)>,
}

/// The SDP body of a message, if it has one.
pub(crate) fn sdp_of(headers: &crate::sip::message::Headers, body: &Bytes) -> Option<Bytes> {
    let is_sdp = headers.mime_type().is_some_and(|m| m == "application/sdp");
    (is_sdp && !body.is_empty()).then(|| body.clone())
}
