//! INVITE server transaction (RFC 3261 §17.2.1, Figure 7, as updated by RFC 6026).
//!
//! Proceeding → Accepted (TU sent 2xx) or Completed (3xx–6xx) → Confirmed (ACK).
//! - `100 Trying` is sent by this transaction if the TU has not sent a provisional
//!   response within `trying_delay` (default 200 ms, §17.2.1); zero sends it at once.
//! - Retransmitted INVITEs get the last provisional (Proceeding; `100 Trying` at once if
//!   nothing was sent yet) or final (Completed) response again; in Accepted and
//!   Confirmed they are absorbed, never passed up.
//! - 2xx: Accepted state (timer L = 64*T1). The TU (dialog) retransmits the 2xx itself;
//!   each one it sends passes through. An ACK matching this transaction in Accepted is
//!   passed to the TU.
//! - 3xx–6xx: timer G retransmits (unreliable), H waits for the ACK, I absorbs ACK
//!   retransmits (zero on reliable).
//! - A 3xx–6xx sent before any provisional response is *not* retransmitted by timer G: the
//!   client has had no response yet, so it is still retransmitting its INVITE (timer A) and
//!   each retransmission is answered with the final again. Reliability is kept and a forged
//!   source draws one response per request, not a dozen (no amplification, issue 14 row 2).

use std::sync::Arc;
use std::time::Duration;

use super::ctx::{Ctx, Step};
use super::timers::{TimerConfig, TimerKind};
use super::{Action, Peer, TxError};
use crate::sip::message::{Message, Request, Response};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum State {
    Proceeding,
    Accepted,
    Completed,
    Confirmed,
}

#[derive(Debug)]
pub(crate) struct ServerInvite {
    pub state: State,
    /// `100 Trying`, prepared up front, until the TU sends its first response.
    trying: Option<Arc<Message>>,
    last: Option<Arc<Message>>,
    to_tag: Option<String>,
    g_interval: Duration,
}

impl ServerInvite {
    /// Starts the transaction; `trying` is the `100 Trying` for the INVITE.
    pub fn start(ctx: &mut Ctx, trying: Response) -> ServerInvite {
        let mut tx = ServerInvite {
            state: State::Proceeding,
            trying: Some(Arc::new(Message::Response(trying))),
            last: None,
            to_tag: None,
            g_interval: ctx.cfg.t1,
        };
        if ctx.cfg.trying_delay.is_zero() {
            tx.send_trying(ctx);
        } else {
            ctx.arm(TimerKind::Trying, ctx.cfg.trying_delay);
        }
        tx
    }

    fn send_trying(&mut self, ctx: &mut Ctx) {
        if let Some(trying) = self.trying.take() {
            ctx.send(&trying);
            self.last = Some(trying);
        }
    }

    /// The To tag of the last response we sent (for RFC 2543 ACK matching).
    pub fn to_tag(&self) -> Option<&str> {
        self.to_tag.as_deref()
    }

    /// A retransmission of the INVITE arrived. Before any response it gets the
    /// `100 Trying` at once (the client is clearly waiting for one).
    pub fn on_retransmit(&mut self, ctx: &mut Ctx) {
        if self.state == State::Proceeding && self.last.is_none() {
            ctx.disarm(TimerKind::Trying);
            self.send_trying(ctx);
            return;
        }
        if let (State::Proceeding | State::Completed, Some(last)) = (self.state, &self.last) {
            let last = Arc::clone(last);
            ctx.resend(&last);
        }
    }

    /// An ACK matched this transaction.
    pub fn on_ack(&mut self, ctx: &mut Ctx, ack: Request, from: Peer) -> Step {
        match self.state {
            State::Completed => {
                self.state = State::Confirmed;
                ctx.disarm(TimerKind::G);
                ctx.disarm(TimerKind::H);
                if ctx.reliable() {
                    return Step::Terminate;
                }
                ctx.arm(TimerKind::I, ctx.cfg.t4);
                Step::Stay
            }
            State::Accepted => {
                ctx.emit(Action::AckReceived {
                    request: ack,
                    from,
                    tx: Some(ctx.id),
                });
                Step::Stay
            }
            State::Proceeding | State::Confirmed => Step::Stay,
        }
    }

    /// The TU sends a response on this transaction.
    pub fn on_tu_response(&mut self, ctx: &mut Ctx, resp: Response) -> Result<Step, TxError> {
        if resp.status < 100 {
            return Err(TxError::BadMessage("status below 100"));
        }
        let status = resp.status;
        match self.state {
            State::Proceeding => {}
            State::Accepted if (200..300).contains(&status) => {
                // The TU's 2xx retransmission (§13.3.1.4) or a 2xx for another fork.
                ctx.send(&Arc::new(Message::Response(resp)));
                return Ok(Step::Stay);
            }
            _ => return Err(TxError::InvalidState),
        }
        // Nothing sent yet: the client is still in Calling and retransmits the INVITE itself.
        let first_response = self.last.is_none();
        self.trying = None;
        ctx.disarm(TimerKind::Trying);
        if let Some(tag) = resp.to_tag() {
            self.to_tag = Some(tag);
        }
        let msg = Arc::new(Message::Response(resp));
        ctx.send(&msg);
        self.last = Some(msg);
        if status >= 300 {
            self.state = State::Completed;
            if !ctx.reliable() && !first_response {
                ctx.arm(TimerKind::G, self.g_interval);
            }
            ctx.arm(TimerKind::H, ctx.cfg.t1x64());
        } else if status >= 200 {
            self.state = State::Accepted;
            ctx.arm(TimerKind::L, ctx.cfg.t1x64());
        }
        Ok(Step::Stay)
    }

    pub fn on_timer(&mut self, ctx: &mut Ctx, kind: TimerKind) -> Step {
        match (self.state, kind) {
            (State::Proceeding, TimerKind::Trying) => {
                self.send_trying(ctx);
                Step::Stay
            }
            (State::Completed, TimerKind::G) => {
                if let Some(last) = &self.last {
                    let last = Arc::clone(last);
                    ctx.resend(&last);
                }
                self.g_interval = TimerConfig::backoff(self.g_interval, ctx.cfg.t2);
                ctx.arm(TimerKind::G, self.g_interval);
                Step::Stay
            }
            (State::Completed, TimerKind::H) => {
                ctx.emit(Action::Timeout { tx: ctx.id });
                Step::Terminate
            }
            (State::Confirmed, TimerKind::I) | (State::Accepted, TimerKind::L) => Step::Terminate,
            _ => Step::Stay,
        }
    }
}
