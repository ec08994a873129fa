//! INVITE client transaction (RFC 3261 §17.1.1, Figure 5, with RFC 6026's Accepted
//! state). Calling → Proceeding → Accepted (2xx) or Completed (3xx–6xx, ACKed here).
//! Timer A retransmits the INVITE (unreliable only), B gives up, D absorbs final
//! response retransmits, M ends Accepted. Every 2xx is passed to the TU, which ACKs it.

use std::sync::Arc;
use std::time::Duration;

use super::ctx::{Ctx, Step};
use super::timers::TimerKind;
use super::Action;
use crate::sip::message::{Message, Response};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum State {
    Calling,
    Proceeding,
    Accepted,
    Completed,
}

#[derive(Debug)]
pub(crate) struct ClientInvite {
    pub state: State,
    request: Arc<Message>,
    ack: Option<Arc<Message>>,
    a_interval: Duration,
}

impl ClientInvite {
    /// Sends the INVITE and starts timers A (unreliable) and B.
    pub fn start(ctx: &mut Ctx, request: Arc<Message>) -> ClientInvite {
        ctx.send(&request);
        let t1 = ctx.cfg.t1;
        if !ctx.reliable() {
            ctx.arm(TimerKind::A, t1);
        }
        ctx.arm(TimerKind::B, ctx.cfg.t1x64());
        ClientInvite {
            state: State::Calling,
            request,
            ack: None,
            a_interval: t1,
        }
    }

    /// The INVITE this transaction sends.
    pub fn request(&self) -> &Arc<Message> {
        &self.request
    }

    pub fn on_response(&mut self, ctx: &mut Ctx, resp: Response) -> Step {
        match (self.state, resp.status) {
            (State::Calling | State::Proceeding, 100..=199) => {
                self.state = State::Proceeding;
                ctx.disarm(TimerKind::A);
                ctx.disarm(TimerKind::B);
                self.pass_up(ctx, resp);
                Step::Stay
            }
            (State::Calling | State::Proceeding, 200..=299) => {
                self.state = State::Accepted;
                ctx.disarm(TimerKind::A);
                ctx.disarm(TimerKind::B);
                ctx.arm(TimerKind::M, ctx.cfg.t1x64());
                self.pass_up(ctx, resp);
                Step::Stay
            }
            (State::Calling | State::Proceeding, 300..) => {
                self.state = State::Completed;
                ctx.disarm(TimerKind::A);
                ctx.disarm(TimerKind::B);
                if let Some(invite) = self.request.as_request() {
                    let ack = Arc::new(Message::Request(invite.ack_for_failure(&resp)));
                    ctx.send(&ack);
                    self.ack = Some(ack);
                }
                self.pass_up(ctx, resp);
                if ctx.reliable() {
                    return Step::Terminate;
                }
                ctx.arm(TimerKind::D, ctx.cfg.timer_d);
                Step::Stay
            }
            // RFC 6026 §8.4: every 2xx in Accepted goes to the TU (forks, retransmits).
            (State::Accepted, 200..=299) => {
                self.pass_up(ctx, resp);
                Step::Stay
            }
            (State::Completed, 300..) => {
                if let Some(ack) = &self.ack {
                    let ack = Arc::clone(ack);
                    ctx.resend(&ack);
                }
                Step::Stay
            }
            _ => Step::Stay,
        }
    }

    pub fn on_timer(&mut self, ctx: &mut Ctx, kind: TimerKind) -> Step {
        match (self.state, kind) {
            (State::Calling, TimerKind::A) => {
                let req = Arc::clone(&self.request);
                ctx.resend(&req);
                self.a_interval *= 2;
                ctx.arm(TimerKind::A, self.a_interval);
                Step::Stay
            }
            (State::Calling, TimerKind::B) => {
                ctx.emit(Action::Timeout { tx: ctx.id });
                Step::Terminate
            }
            (State::Completed, TimerKind::D) | (State::Accepted, TimerKind::M) => Step::Terminate,
            _ => Step::Stay,
        }
    }

    fn pass_up(&self, ctx: &mut Ctx, response: Response) {
        ctx.emit(Action::ResponseReceived {
            tx: ctx.id,
            response,
        });
    }
}
