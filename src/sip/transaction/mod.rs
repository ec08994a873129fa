//! SIP transactions (RFC 3261 §17, updated by RFC 6026) as a sans-IO state machine.
//!
//! One [`TransactionLayer`] holds every client and server transaction. The transport
//! edge feeds it parsed messages ([`TransactionLayer::on_message`]) and the clock
//! ([`TransactionLayer::on_timer`] when [`TransactionLayer::poll_timeout`] is due); the
//! transaction user (dialogs, legs, registrar) sends requests and responses through it.
//! Everything it wants done comes out as [`Action`]s from
//! [`TransactionLayer::poll_action`]: bytes to send, requests and responses for the TU,
//! timeouts and terminations. No sockets, no clocks: `now` is always passed in.

mod client_invite;
mod client_non_invite;
mod ctx;
mod key;
mod layer;
mod peer;
mod server_invite;
mod server_non_invite;
mod timers;

#[cfg(test)]
pub(crate) mod test_util;
#[cfg(test)]
mod tests_client;
#[cfg(test)]
mod tests_load;
#[cfg(test)]
mod tests_server;

use std::fmt;
use std::sync::Arc;

use crate::sip::message::{Message, Request, Response};

pub use key::{IdGen, KeyError, LegacyKey, TxKey};
pub use layer::{LayerStats, TransactionLayer};
pub use peer::{parse_host_ip, response_peer, stamp_top_via, Peer, Transport};
pub use timers::{TimerConfig, TimerKind, TimerQueue};

/// Handle of one transaction inside a [`TransactionLayer`]. Never reused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TxId(pub u64);

impl fmt::Display for TxId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "tx{}", self.0)
    }
}

/// The four §17 transaction machines.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TxKind {
    ClientInvite,
    ClientNonInvite,
    ServerInvite,
    ServerNonInvite,
}

/// What the layer asks the edge or the TU to do.
#[derive(Debug, Clone)]
pub enum Action {
    /// Transmit `msg` to `to` (on connection `to.conn` when set). `tx` is the transaction
    /// that sent it, for [`TransactionLayer::on_transport_error`].
    Send {
        to: Peer,
        msg: Arc<Message>,
        tx: Option<TxId>,
    },
    /// A new request for the TU; answer it with [`TransactionLayer::send_response`].
    RequestReceived {
        tx: TxId,
        request: Request,
        from: Peer,
    },
    /// An ACK that no transaction absorbed: the ACK for a 2xx (RFC 6026: passed through
    /// when it matches an INVITE server transaction in Accepted state, then `tx` is set).
    AckReceived {
        request: Request,
        from: Peer,
        tx: Option<TxId>,
    },
    /// A response to one of our client transactions (each 2xx retransmission to an
    /// INVITE is passed up too, so the dialog layer can re-send its ACK).
    ResponseReceived { tx: TxId, response: Response },
    /// A response matching no transaction (e.g. a 2xx retransmission after timer M).
    StrayResponse { response: Response, from: Peer },
    /// Timer B, F or H fired: no response (client) or no ACK (server).
    Timeout { tx: TxId },
    /// The edge reported that sending for this transaction failed.
    TransportError { tx: TxId },
    /// The transaction is gone; its id will not be seen again.
    Terminated { tx: TxId },
}

/// Why the TU's call into the layer was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TxError {
    /// No live transaction with that id.
    UnknownTransaction,
    /// A response was sent on a client transaction (or similar misuse).
    WrongKind,
    /// The transaction already sent a final response (or cannot take this one).
    InvalidState,
    /// The request has no top Via with a branch.
    NoBranch,
    /// A client transaction with that branch and method already exists.
    Duplicate,
    /// ACK is never sent through a client transaction; use `send_stateless`.
    AckNotAllowed,
    /// A header the layer needs is missing or malformed.
    BadMessage(&'static str),
}

impl fmt::Display for TxError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TxError::UnknownTransaction => f.write_str("unknown or terminated transaction"),
            TxError::WrongKind => f.write_str("operation does not fit this transaction kind"),
            TxError::InvalidState => f.write_str("transaction state does not allow this"),
            TxError::NoBranch => f.write_str("request has no top Via with a branch"),
            TxError::Duplicate => f.write_str("a transaction with this branch already exists"),
            TxError::AckNotAllowed => f.write_str("send ACK for 2xx with send_stateless"),
            TxError::BadMessage(why) => write!(f, "bad message: {why}"),
        }
    }
}

impl std::error::Error for TxError {}
