//! Non-INVITE server transaction (RFC 3261 §17.2.2, Figure 8). Trying → Proceeding →
//! Completed. Retransmitted requests are absorbed in Trying and re-answered with the
//! last response afterwards; timer J (64*T1, zero on reliable) ends Completed.

use std::sync::Arc;

use super::ctx::{Ctx, Step};
use super::timers::TimerKind;
use super::TxError;
use crate::sip::message::{Message, Response};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum State {
    Trying,
    Proceeding,
    Completed,
}

#[derive(Debug)]
pub(crate) struct ServerNonInvite {
    pub state: State,
    last: Option<Arc<Message>>,
}

impl ServerNonInvite {
    pub fn start() -> ServerNonInvite {
        ServerNonInvite {
            state: State::Trying,
            last: None,
        }
    }

    /// A retransmission of the request arrived.
    pub fn on_retransmit(&mut self, ctx: &mut Ctx) {
        if let Some(last) = &self.last {
            let last = Arc::clone(last);
            ctx.resend(&last);
        }
    }

    pub fn on_tu_response(&mut self, ctx: &mut Ctx, resp: Response) -> Result<Step, TxError> {
        if self.state == State::Completed {
            return Err(TxError::InvalidState);
        }
        if resp.status < 100 {
            return Err(TxError::BadMessage("status below 100"));
        }
        let final_response = resp.status >= 200;
        let msg = Arc::new(Message::Response(resp));
        ctx.send(&msg);
        self.last = Some(msg);
        if !final_response {
            self.state = State::Proceeding;
            return Ok(Step::Stay);
        }
        self.state = State::Completed;
        if ctx.reliable() {
            return Ok(Step::Terminate);
        }
        ctx.arm(TimerKind::J, ctx.cfg.t1x64());
        Ok(Step::Stay)
    }

    pub fn on_timer(&mut self, kind: TimerKind) -> Step {
        match (self.state, kind) {
            (State::Completed, TimerKind::J) => Step::Terminate,
            _ => Step::Stay,
        }
    }
}
